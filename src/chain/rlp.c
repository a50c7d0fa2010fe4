/* RLP encoding and strict decoding (rlp.h). */
#include "chain/rlp.h"

#include "core/err.h"

#include <string.h>

static int put_header(bpt_buf *out, uint8_t short_base, size_t n)
{
    uint8_t h[9];
    size_t k = 0;
    if (n < 56) {
        h[0] = (uint8_t)(short_base + n);
        return bpt_buf_append(out, h, 1);
    }
    for (size_t v = n; v; v >>= 8) {
        k++;
    }
    h[0] = (uint8_t)(short_base + 55 + k);
    for (size_t i = 0; i < k; i++) {
        h[k - i] = (uint8_t)(n >> (8 * i));
    }
    return bpt_buf_append(out, h, k + 1);
}

int bpt_rlp_bytes(bpt_buf *out, const uint8_t *p, size_t n)
{
    int rc;
    if (n == 1 && p[0] < 0x80) {
        return bpt_buf_append(out, p, 1);
    }
    if ((rc = put_header(out, 0x80, n)) < 0) {
        return rc;
    }
    return bpt_buf_append(out, p, n);
}

int bpt_rlp_uint(bpt_buf *out, uint64_t v)
{
    uint8_t be[8];
    size_t k = 0;
    for (uint64_t x = v; x; x >>= 8) {
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        be[k - 1 - i] = (uint8_t)(v >> (8 * i));
    }
    return bpt_rlp_bytes(out, be, k);
}

int bpt_rlp_uint256(bpt_buf *out, const uint8_t be[32])
{
    size_t z = 0;
    while (z < 32 && be[z] == 0) {
        z++;
    }
    return bpt_rlp_bytes(out, be + z, 32 - z);
}

int bpt_rlp_list(bpt_buf *out, const uint8_t *payload, size_t n)
{
    int rc;
    if ((rc = put_header(out, 0xc0, n)) < 0) {
        return rc;
    }
    return bpt_buf_append(out, payload, n);
}

int bpt_rlp_next(struct bpt_rlp_item *out, struct bpt_reader *r, const char *what)
{
    const uint8_t *first;
    uint8_t b, lb;
    size_t n = 0, k, at = bpt_reader_offset(r);
    int rc;
    BPT_CHECK(bpt_reader_view(r, &first, 1, what));
    b = first[0];
    if (b < 0x80) {
        out->list = false;
        out->p = first; /* the byte is its own encoding */
        out->len = 1;
        return 0;
    }
    out->list = b >= 0xc0;
    lb = out->list ? 0xc0 : 0x80;
    if (b < lb + 56) {
        n = (size_t)(b - lb);
    } else {
        k = (size_t)(b - lb - 55);
        if (k > 4) {
            return bpt_err(BPT_EMALFORMED, "rlp: %s at %zu: a %zu-byte length", what, at, k);
        }
        for (size_t i = 0; i < k; i++) {
            uint8_t x;
            BPT_CHECK(bpt_reader_u8(r, &x, what));
            if (i == 0 && x == 0) {
                return bpt_err(BPT_EMALFORMED, "rlp: %s at %zu: length with a leading zero", what,
                               at);
            }
            n = (n << 8) | x;
        }
        if (n < 56) {
            return bpt_err(BPT_EMALFORMED, "rlp: %s at %zu: long form for %zu bytes", what, at, n);
        }
    }
    BPT_CHECK(bpt_reader_view(r, &out->p, n, what));
    out->len = n;
    if (!out->list && n == 1 && out->p[0] < 0x80) {
        return bpt_err(BPT_EMALFORMED, "rlp: %s at %zu: byte 0x%02x wrapped", what, at, out->p[0]);
    }
    rc = 0;
out:
    return rc;
}

int bpt_rlp_item_u64(uint64_t *out, const struct bpt_rlp_item *it, const char *what)
{
    uint64_t v = 0;
    if (it->list || it->len > 8 || (it->len && it->p[0] == 0)) {
        return bpt_err(BPT_EMALFORMED, "rlp: %s is not a canonical integer", what);
    }
    for (size_t i = 0; i < it->len; i++) {
        v = (v << 8) | it->p[i];
    }
    *out = v;
    return 0;
}
