/*
 * Strict codecs for untrusted text. Hex: even length, [0-9a-fA-F] only. Base64 (RFC 4648 §4):
 * padding required, canonical (unused bits zero), no whitespace. Base64url (§5): no padding.
 * Decoders append to a bpt_buf whose maximum bounds the output; encoders return NUL-terminated
 * text to free with bpt_free().
 * On failure a decoder leaves the output buffer as it was (what it appended is cleansed and
 * dropped).
 */
#ifndef BPT_CORE_CODEC_H
#define BPT_CORE_CODEC_H

#include <blueprint-tee/buf.h>

/** Decode hex into @p out (appended). @p what names the field in errors. */
BPT_MUST_USE int bpt_hex_decode(bpt_buf *out, const char *s, size_t len, const char *what);

/** Decode hex that must be exactly @p out_len bytes. */
BPT_MUST_USE int bpt_hex_decode_exact(uint8_t *out, size_t out_len, const char *s, size_t len,
                                      const char *what);

/** Lowercase hex of @p n bytes. */
BPT_MUST_USE int bpt_hex_encode(char **out, const uint8_t *p, size_t n);

/** Lowercase hex into a caller buffer of at least 2*n+1 bytes; cannot fail. */
void bpt_hex_encode_to(char *dst, const uint8_t *p, size_t n);

BPT_MUST_USE int bpt_base64_decode(bpt_buf *out, const char *s, size_t len, const char *what);
BPT_MUST_USE int bpt_base64url_decode(bpt_buf *out, const char *s, size_t len, const char *what);
BPT_MUST_USE int bpt_base64_encode(char **out, const uint8_t *p, size_t n);
BPT_MUST_USE int bpt_base64url_encode(char **out, const uint8_t *p, size_t n);

#endif
