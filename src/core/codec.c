#include "core/codec.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* A failed decode leaves @p out as it was: drop (and cleanse) what this call appended. */
static int undo(bpt_buf *out, size_t start, int rc)
{
    if (out->data && out->len > start) {
        OPENSSL_cleanse(out->data + start, out->len - start);
        out->data[start] = 0;
    }
    out->len = start;
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int bpt_hex_decode(bpt_buf *out, const char *s, size_t len, const char *what)
{
    uint8_t chunk[256];
    size_t fill = 0, start = out->len;
    int rc;

    if (len % 2 != 0) {
        return bpt_err(BPT_EINVAL, "%s: hex has odd length %zu", what, len);
    }
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(chunk, sizeof(chunk));
            return undo(out, start,
                        bpt_err(BPT_EINVAL, "%s: not hex at offset %zu", what, hi < 0 ? i : i + 1));
        }
        chunk[fill++] = (uint8_t)(hi << 4 | lo);
        if (fill == sizeof(chunk) || i + 2 == len) {
            rc = bpt_buf_append(out, chunk, fill);
            if (rc < 0) {
                OPENSSL_cleanse(chunk, sizeof(chunk));
                return undo(out, start, bpt_err_prefix(rc, "%s", what));
            }
            fill = 0;
        }
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    return 0;
}

int bpt_hex_decode_exact(uint8_t *out, size_t out_len, const char *s, size_t len, const char *what)
{
    if (len != out_len * 2) {
        return bpt_err(BPT_EINVAL, "%s: expected %zu hex digits (%zu bytes), got %zu", what,
                       out_len * 2, out_len, len);
    }
    for (size_t i = 0; i < out_len; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return bpt_err(BPT_EINVAL, "%s: not hex at offset %zu", what,
                           hi < 0 ? 2 * i : 2 * i + 1);
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void bpt_hex_encode_to(char *dst, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * n] = '\0';
}

int bpt_hex_encode(char **out, const uint8_t *p, size_t n)
{
    size_t sz;
    *out = NULL;
    if (__builtin_mul_overflow(n, 2, &sz) || __builtin_add_overflow(sz, 1, &sz)) {
        return bpt_err(BPT_ELIMIT, "hex: %zu bytes too large", n);
    }
    *out = malloc(sz);
    if (!*out) {
        return bpt_err_nomem("hex");
    }
    bpt_hex_encode_to(*out, p, n);
    return 0;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == (url ? '-' : '+')) {
        return 62;
    }
    if (c == (url ? '_' : '/')) {
        return 63;
    }
    return -1;
}

static int b64_decode(bpt_buf *out, const char *s, size_t len, bool url, const char *what)
{
    size_t data_len = len, i;
    uint32_t acc = 0;
    int bits = 0, rc;
    uint8_t chunk[192];
    size_t fill = 0, start = out->len;
    const char *name = url ? "base64url" : "base64";

    if (!url) {
        if (len % 4 != 0) {
            return bpt_err(BPT_EINVAL, "%s: %s length %zu is not a multiple of 4", what, name, len);
        }
        if (len >= 1 && s[len - 1] == '=') {
            data_len--;
            if (len >= 2 && s[len - 2] == '=') {
                data_len--;
            }
        }
    } else if (len % 4 == 1) {
        return bpt_err(BPT_EINVAL, "%s: %s length %zu is impossible", what, name, len);
    }
    for (i = 0; i < data_len; i++) {
        int v = b64val(s[i], url);
        if (v < 0) {
            rc = bpt_err(BPT_EINVAL, "%s: invalid %s character at offset %zu", what, name, i);
            goto fail;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            chunk[fill++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
            if (fill == sizeof(chunk)) {
                rc = bpt_buf_append(out, chunk, fill);
                if (rc < 0) {
                    rc = bpt_err_prefix(rc, "%s", what);
                    goto fail;
                }
                fill = 0;
            }
        }
    }
    if (acc != 0) {
        rc = bpt_err(BPT_EINVAL, "%s: non-canonical %s (unused bits set)", what, name);
        goto fail;
    }
    rc = bpt_buf_append(out, chunk, fill);
    if (rc < 0) {
        rc = bpt_err_prefix(rc, "%s", what);
        goto fail;
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    return 0;
fail:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    return undo(out, start, rc);
}

int bpt_base64_decode(bpt_buf *out, const char *s, size_t len, const char *what)
{
    return b64_decode(out, s, len, false, what);
}

int bpt_base64url_decode(bpt_buf *out, const char *s, size_t len, const char *what)
{
    return b64_decode(out, s, len, true, what);
}

static int b64_encode(char **out, const uint8_t *p, size_t n, bool url)
{
    const char *tbl = url ? b64url : b64std;
    size_t groups = n / 3 + (n % 3 != 0), sz, o = 0;
    char *s;

    *out = NULL;
    if (__builtin_mul_overflow(groups, 4, &sz) || __builtin_add_overflow(sz, 1, &sz)) {
        return bpt_err(BPT_ELIMIT, "base64: %zu bytes too large", n);
    }
    s = malloc(sz);
    if (!s) {
        return bpt_err_nomem("base64");
    }
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t rem = n - i;
        if (rem > 1) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (rem > 2) {
            v |= p[i + 2];
        }
        s[o++] = tbl[v >> 18 & 63];
        s[o++] = tbl[v >> 12 & 63];
        if (rem > 1) {
            s[o++] = tbl[v >> 6 & 63];
        } else if (!url) {
            s[o++] = '=';
        }
        if (rem > 2) {
            s[o++] = tbl[v & 63];
        } else if (!url) {
            s[o++] = '=';
        }
    }
    s[o] = '\0';
    *out = s;
    return 0;
}

int bpt_base64_encode(char **out, const uint8_t *p, size_t n)
{
    return b64_encode(out, p, n, false);
}

int bpt_base64url_encode(char **out, const uint8_t *p, size_t n)
{
    return b64_encode(out, p, n, true);
}
