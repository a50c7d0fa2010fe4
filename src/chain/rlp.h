/*
 * RLP (Ethereum's recursive length prefix): the encoder signed transactions are built with,
 * and a strict decoder (canonical forms only: a single byte below 0x80 is never wrapped,
 * lengths are minimal with no leading zero bytes, and a long form is never used for a short
 * length) that reads only through core/reader.
 */
#ifndef BPT_CHAIN_RLP_H
#define BPT_CHAIN_RLP_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/common.h>

#include "core/reader.h"

/** Append a byte string. */
BPT_MUST_USE int bpt_rlp_bytes(bpt_buf *out, const uint8_t *p, size_t n);
/** Append an unsigned integer (minimal big-endian; 0 is the empty string). */
BPT_MUST_USE int bpt_rlp_uint(bpt_buf *out, uint64_t v);
/** Append a 32-byte big-endian integer, minimal (leading zeros dropped). */
BPT_MUST_USE int bpt_rlp_uint256(bpt_buf *out, const uint8_t be[32]);
/** Append a list whose items' encodings are @p payload. */
BPT_MUST_USE int bpt_rlp_list(bpt_buf *out, const uint8_t *payload, size_t n);

/** One decoded item: a string (its bytes) or a list (its payload, to read with a sub-reader). */
struct bpt_rlp_item {
    bool list;
    const uint8_t *p; /* borrowed from the input */
    size_t len;
};

/** Read the next item of @p r. @return 0; BPT_EMALFORMED (truncated, non-canonical). */
BPT_MUST_USE int bpt_rlp_next(struct bpt_rlp_item *out, struct bpt_reader *r, const char *what);
/** A string item as an unsigned integer of at most 8 bytes, canonical (no leading zero). */
BPT_MUST_USE int bpt_rlp_item_u64(uint64_t *out, const struct bpt_rlp_item *it, const char *what);

#endif
