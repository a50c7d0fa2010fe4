#include "core/reader.h"
#include "core/err.h"

#include <string.h>

void bpt_reader_init(struct bpt_reader *r, const uint8_t *p, size_t len, const char *ctx)
{
    r->p = p;
    r->len = p ? len : 0;
    r->off = 0;
    r->base = 0;
    r->ctx = ctx;
}

size_t bpt_reader_remaining(const struct bpt_reader *r)
{
    return r->len - r->off;
}

size_t bpt_reader_offset(const struct bpt_reader *r)
{
    return r->off;
}

static int need(const struct bpt_reader *r, size_t n, const char *field)
{
    if (r->len - r->off >= n) {
        return 0;
    }
    return bpt_err(BPT_EMALFORMED, "%s%s%s needs %zu bytes at offset %zu, %zu left",
                   r->ctx ? r->ctx : "", r->ctx ? ": " : "", field, n, r->base + r->off,
                   r->len - r->off);
}

int bpt_reader_view(struct bpt_reader *r, const uint8_t **v, size_t n, const char *field)
{
    int rc = need(r, n, field);
    if (rc < 0) {
        return rc;
    }
    *v = r->p + r->off;
    r->off += n;
    return 0;
}

int bpt_reader_copy(struct bpt_reader *r, uint8_t *dst, size_t n, const char *field)
{
    const uint8_t *v;
    int rc = bpt_reader_view(r, &v, n, field);
    if (rc == 0 && n) {
        memcpy(dst, v, n);
    }
    return rc;
}

int bpt_reader_skip(struct bpt_reader *r, size_t n, const char *field)
{
    const uint8_t *v;
    return bpt_reader_view(r, &v, n, field);
}

int bpt_reader_zeros(struct bpt_reader *r, size_t n, const char *field)
{
    const uint8_t *v;
    size_t start = r->base + r->off;
    int rc = bpt_reader_view(r, &v, n, field);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0) {
            return bpt_err(BPT_EMALFORMED, "%s%sreserved field %s is not zero at offset %zu",
                           r->ctx ? r->ctx : "", r->ctx ? ": " : "", field, start + i);
        }
    }
    return 0;
}

int bpt_reader_sub(struct bpt_reader *r, struct bpt_reader *sub, size_t n, const char *field)
{
    size_t start = r->base + r->off;
    const uint8_t *v;
    int rc = bpt_reader_view(r, &v, n, field);
    if (rc < 0) {
        return rc;
    }
    sub->p = v;
    sub->len = n;
    sub->off = 0;
    sub->base = start;
    sub->ctx = r->ctx;
    return 0;
}

int bpt_reader_u8(struct bpt_reader *r, uint8_t *v, const char *field)
{
    return bpt_reader_copy(r, v, 1, field);
}

int bpt_reader_u16le(struct bpt_reader *r, uint16_t *v, const char *field)
{
    const uint8_t *b;
    int rc = bpt_reader_view(r, &b, 2, field);
    if (rc == 0) {
        *v = (uint16_t)(b[0] | b[1] << 8);
    }
    return rc;
}

int bpt_reader_u32le(struct bpt_reader *r, uint32_t *v, const char *field)
{
    const uint8_t *b;
    int rc = bpt_reader_view(r, &b, 4, field);
    if (rc == 0) {
        *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    }
    return rc;
}

int bpt_reader_u64le(struct bpt_reader *r, uint64_t *v, const char *field)
{
    const uint8_t *b;
    int rc = bpt_reader_view(r, &b, 8, field);
    if (rc == 0) {
        uint64_t x = 0;
        for (int i = 7; i >= 0; i--) {
            x = x << 8 | b[i];
        }
        *v = x;
    }
    return rc;
}

int bpt_reader_u16be(struct bpt_reader *r, uint16_t *v, const char *field)
{
    const uint8_t *b;
    int rc = bpt_reader_view(r, &b, 2, field);
    if (rc == 0) {
        *v = (uint16_t)(b[0] << 8 | b[1]);
    }
    return rc;
}

int bpt_reader_u32be(struct bpt_reader *r, uint32_t *v, const char *field)
{
    const uint8_t *b;
    int rc = bpt_reader_view(r, &b, 4, field);
    if (rc == 0) {
        *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
    }
    return rc;
}

int bpt_reader_end(const struct bpt_reader *r, const char *what)
{
    if (r->off == r->len) {
        return 0;
    }
    return bpt_err(BPT_EMALFORMED, "%s: %zu trailing bytes at offset %zu", what, r->len - r->off,
                   r->base + r->off);
}

bool bpt_bytes_peek_le(const uint8_t *p, size_t len, size_t off, size_t width, uint64_t *out)
{
    uint64_t v = 0;
    if (!p || width == 0 || width > 8 || off > len || len - off < width) {
        return false;
    }
    for (size_t i = 0; i < width; i++) {
        v |= (uint64_t)p[off + i] << (8 * i);
    }
    *out = v;
    return true;
}
