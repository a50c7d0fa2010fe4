/**
 * @file buf.h
 * A growable byte buffer with a maximum size fixed at init (curl's dynbuf idea).
 *
 * The struct is caller-owned: bpt_buf_init() it (or assign BPT_BUF_INIT(max)), and
 * bpt_buf_dispose() it when done. The bytes are always followed by a NUL that is not counted
 * in len, so text can be read as a C string.
 *
 * Threads: one buffer, one thread at a time.
 */
#ifndef BPT_BUF_H
#define BPT_BUF_H

#include "common.h"

BPT_BEGIN_DECLS

typedef struct bpt_buf {
    uint8_t *data; /**< NULL until something is appended */
    size_t len;    /**< bytes in use */
    size_t cap;    /**< bytes allocated (internal) */
    size_t max;    /**< appending past this many bytes fails with BPT_ELIMIT */
} bpt_buf;

/** Static initializer: an empty buffer that may grow to @p max_bytes. */
#define BPT_BUF_INIT(max_bytes)                                                                    \
    {                                                                                              \
        NULL, 0, 0, (max_bytes)                                                                    \
    }

/** Make @p buf empty, allowed to grow to @p max_bytes. Does not allocate. */
BPT_API void bpt_buf_init(bpt_buf *buf, size_t max_bytes);

/** Free the bytes (cleansed first) and make @p buf empty; NULL does nothing. */
BPT_API void bpt_buf_dispose(bpt_buf *buf);

/** Drop the contents but keep the allocation (cleansed). */
BPT_API void bpt_buf_reset(bpt_buf *buf);

/**
 * Append @p n bytes.
 * @return 0; BPT_ELIMIT past the buffer's maximum; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_buf_append(bpt_buf *buf, const void *p, size_t n);

/** Append a NUL-terminated string (without its NUL). Errors as bpt_buf_append(). */
BPT_API BPT_MUST_USE int bpt_buf_append_str(bpt_buf *buf, const char *s);

/** Append printf-formatted text. Errors as bpt_buf_append(). */
BPT_API BPT_MUST_USE int bpt_buf_appendf(bpt_buf *buf, const char *fmt, ...) BPT_PRINTF(2, 3);

/**
 * Take the bytes out of @p buf: *out receives them (free with bpt_free()), the buffer is left
 * empty. An empty buffer yields an allocated empty string, never NULL.
 * @return 0; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_buf_detach(uint8_t **out, size_t *len_out, bpt_buf *buf);

BPT_END_DECLS

#endif
