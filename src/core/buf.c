#include <blueprint-tee/buf.h>

#include "core/err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void bpt_free(void *p)
{
    free(p);
}

void bpt_buf_init(bpt_buf *buf, size_t max_bytes)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max_bytes;
}

void bpt_buf_dispose(bpt_buf *buf)
{
    if (!buf) {
        return;
    }
    if (buf->data) {
        OPENSSL_cleanse(buf->data, buf->cap);
        free(buf->data);
    }
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void bpt_buf_reset(bpt_buf *buf)
{
    if (buf->data) {
        OPENSSL_cleanse(buf->data, buf->cap);
        buf->data[0] = 0;
    }
    buf->len = 0;
}

/* Make room for @p extra more bytes plus the trailing NUL. */
static int buf_reserve(bpt_buf *buf, size_t extra)
{
    size_t need, ncap;
    uint8_t *nd;

    /* need + 1 (the NUL) must not overflow either, whatever max is. */
    if (__builtin_add_overflow(buf->len, extra, &need) || need > buf->max || need == SIZE_MAX) {
        return bpt_err(BPT_ELIMIT, "buffer: %zu + %zu bytes exceeds the limit of %zu", buf->len,
                       extra, buf->max);
    }
    if (need + 1 <= buf->cap) {
        return 0;
    }
    ncap = buf->cap ? buf->cap : 64;
    while (ncap < need + 1) {
        if (__builtin_mul_overflow(ncap, 2, &ncap)) {
            ncap = need + 1;
            break;
        }
    }
    /* Never allocate more than max + 1; max may be SIZE_MAX ("no limit"), where + 1 wraps. */
    if (buf->max < SIZE_MAX && ncap > buf->max + 1) {
        ncap = buf->max + 1;
    }
    nd = malloc(ncap);
    if (!nd) {
        return bpt_err_nomem("buffer");
    }
    if (buf->data) {
        memcpy(nd, buf->data, buf->len);
        OPENSSL_cleanse(buf->data, buf->cap);
        free(buf->data);
    }
    buf->data = nd;
    buf->cap = ncap;
    return 0;
}

int bpt_buf_append(bpt_buf *buf, const void *p, size_t n)
{
    int rc = buf_reserve(buf, n);
    if (rc < 0) {
        return rc;
    }
    if (n) {
        memcpy(buf->data + buf->len, p, n);
    }
    buf->len += n;
    buf->data[buf->len] = 0;
    return 0;
}

int bpt_buf_append_str(bpt_buf *buf, const char *s)
{
    return bpt_buf_append(buf, s, strlen(s));
}

int bpt_buf_appendf(bpt_buf *buf, const char *fmt, ...)
{
    va_list ap, ap2;
    int n, rc;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return bpt_err(BPT_EINVAL, "buffer: bad format");
    }
    rc = buf_reserve(buf, (size_t)n);
    if (rc < 0) {
        va_end(ap2);
        return rc;
    }
    vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    buf->len += (size_t)n;
    return 0;
}

int bpt_buf_detach(uint8_t **out, size_t *len_out, bpt_buf *buf)
{
    *out = NULL;
    if (!buf->data) {
        int rc = buf_reserve(buf, 0);
        if (rc < 0) {
            return rc;
        }
        buf->data[0] = 0;
    }
    *out = buf->data;
    if (len_out) {
        *len_out = buf->len;
    }
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    return 0;
}
