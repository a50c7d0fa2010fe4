/*
 * The one bounds-checked reader for untrusted binary input. Every call checks that enough
 * bytes are left before touching memory and fails with BPT_EMALFORMED naming the field and
 * the offset. Parsers read like a schema:
 *
 *   bpt_reader_init(&r, buf, len);
 *   BPT_CHECK(bpt_reader_u32le(&r, &rep->version, "version"));
 *   BPT_CHECK(bpt_reader_copy(&r, rep->measurement, 48, "measurement"));
 *   BPT_CHECK(bpt_reader_end(&r, "sev_snp report"));
 *
 * Error messages are prefixed with the reader's context name when one was set.
 */
#ifndef BPT_CORE_READER_H
#define BPT_CORE_READER_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpt_reader {
    const uint8_t *p; /* borrowed */
    size_t len;
    size_t off;
    size_t base;     /* offset of p within the outermost input, for messages */
    const char *ctx; /* static name used as the message prefix, may be NULL */
};

void bpt_reader_init(struct bpt_reader *r, const uint8_t *p, size_t len, const char *ctx);
size_t bpt_reader_remaining(const struct bpt_reader *r);
size_t bpt_reader_offset(const struct bpt_reader *r);

BPT_MUST_USE int bpt_reader_u8(struct bpt_reader *r, uint8_t *v, const char *field);
BPT_MUST_USE int bpt_reader_u16le(struct bpt_reader *r, uint16_t *v, const char *field);
BPT_MUST_USE int bpt_reader_u32le(struct bpt_reader *r, uint32_t *v, const char *field);
BPT_MUST_USE int bpt_reader_u64le(struct bpt_reader *r, uint64_t *v, const char *field);
BPT_MUST_USE int bpt_reader_u16be(struct bpt_reader *r, uint16_t *v, const char *field);
BPT_MUST_USE int bpt_reader_u32be(struct bpt_reader *r, uint32_t *v, const char *field);
/** Copy @p n bytes into @p dst. */
BPT_MUST_USE int bpt_reader_copy(struct bpt_reader *r, uint8_t *dst, size_t n, const char *field);
/** Borrow a pointer to the next @p n bytes (valid as long as the input) and advance. */
BPT_MUST_USE int bpt_reader_view(struct bpt_reader *r, const uint8_t **v, size_t n,
                                 const char *field);
/** Skip @p n bytes. */
BPT_MUST_USE int bpt_reader_skip(struct bpt_reader *r, size_t n, const char *field);
/** Skip @p n bytes that must all be zero (reserved fields). */
BPT_MUST_USE int bpt_reader_zeros(struct bpt_reader *r, size_t n, const char *field);
/** A sub-reader over the next @p n bytes, and advance past them. */
BPT_MUST_USE int bpt_reader_sub(struct bpt_reader *r, struct bpt_reader *sub, size_t n,
                                const char *field);
/** Fail if any bytes are left (trailing data). */
BPT_MUST_USE int bpt_reader_end(const struct bpt_reader *r, const char *what);

/**
 * Peek at a little-endian unsigned integer of @p width bytes (1..8) at @p off of @p p without
 * a reader and without touching the error message: for recognising formats, where not
 * matching is an answer, not an error. @return false when the bytes are not there.
 */
bool bpt_bytes_peek_le(const uint8_t *p, size_t len, size_t off, size_t width, uint64_t *out);

#endif
