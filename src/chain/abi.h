/*
 * A strict Solidity ABI encoder and decoder for the types the Tangle contracts use: uint8..256
 * (uintN), address, bool, bytesN, bytes, string, T[] and T[k], tuples. Types are written as in
 * a signature: "(uint64,address,bytes)", "(uint8,(string,bytes)[])", "uint256[2]".
 *
 * Decoding reads only through core/reader and is strict: a uintN with high bits set, a bool
 * other than 0/1, an address or bytesN with dirty padding, non-zero padding after bytes or
 * string, a string that is not UTF-8, an offset into the head or past the end, a length that
 * cannot fit the bytes left — each is BPT_EMALFORMED naming the field path and offset. Counts
 * are checked against the bytes left before anything is allocated; nesting is at most
 * BPT_ABI_MAX_DEPTH and a decode makes at most BPT_ABI_MAX_VALUES values.
 *
 * Values borrow their bytes: a decoded value's data points into the input, an encoded one's
 * into the caller's buffers.
 */
#ifndef BPT_CHAIN_ABI_H
#define BPT_CHAIN_ABI_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/common.h>

#define BPT_ABI_MAX_DEPTH 16
#define BPT_ABI_MAX_VALUES 65536
#define BPT_ABI_MAX_TYPE_TEXT 1024

enum bpt_abi_kind {
    BPT_ABI_UINT,
    BPT_ABI_ADDRESS,
    BPT_ABI_BOOL,
    BPT_ABI_FIXED_BYTES, /* bytesN */
    BPT_ABI_BYTES,
    BPT_ABI_STRING,
    BPT_ABI_ARRAY,       /* T[] */
    BPT_ABI_FIXED_ARRAY, /* T[k] */
    BPT_ABI_TUPLE,
};

struct bpt_abi_type {
    enum bpt_abi_kind kind;
    size_t size;                 /* uintN: N bits; bytesN: N; T[k]: k; tuple: item count */
    struct bpt_abi_type *elem;   /* arrays */
    struct bpt_abi_type **items; /* tuple */
};

struct bpt_abi_value {
    uint8_t word[32];    /* uintN (big-endian), address (last 20), bool, bytesN (first N) */
    const uint8_t *data; /* bytes, string: borrowed */
    size_t len;
    struct bpt_abi_value *items; /* arrays and tuples: n values */
    size_t n;
};

/** Parse a type. @return 0; BPT_EINVAL naming the position; BPT_ENOMEM. */
BPT_MUST_USE int bpt_abi_type_parse(struct bpt_abi_type **out, const char *text);
void bpt_abi_type_free(struct bpt_abi_type *t);
/** true when the type's encoding has a dynamic part (bytes, string, T[], or containing them). */
bool bpt_abi_type_is_dynamic(const struct bpt_abi_type *t);

/**
 * Decode @p p (@p len bytes) as the encoding of @p t (for a function's arguments or return
 * values, or an event's data: a tuple type). Bytes past the last item the encoding reaches
 * are refused for static types; dynamic encodings must end where their last tail ends.
 * @param[out] out free with bpt_abi_value_free(); borrows from @p p.
 * @return 0; BPT_EMALFORMED; BPT_ELIMIT (more than BPT_ABI_MAX_VALUES values); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_abi_decode(struct bpt_abi_value **out, const struct bpt_abi_type *t,
                                const uint8_t *p, size_t len);
void bpt_abi_value_free(struct bpt_abi_value *v);

/** Append the encoding of @p v as type @p t to @p out. @return 0; BPT_EINVAL (a value that
 *  does not fit its type: a fixed array or tuple of the wrong size, uintN too large); BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_abi_encode(bpt_buf *out, const struct bpt_abi_type *t,
                                const struct bpt_abi_value *v);

/* Value constructors for encoding (no allocation; items arrays belong to the caller). */
void bpt_abi_set_uint(struct bpt_abi_value *v, uint64_t x);
void bpt_abi_set_address(struct bpt_abi_value *v, const uint8_t addr[20]);
void bpt_abi_set_bool(struct bpt_abi_value *v, bool b);
void bpt_abi_set_bytes(struct bpt_abi_value *v, const void *p, size_t n);
void bpt_abi_set_list(struct bpt_abi_value *v, struct bpt_abi_value *items, size_t n);

/* Readers of decoded values. */
/** A 32-byte big-endian word as 64 bits: false (out untouched) when a higher byte is set. The one
 *  narrowing the ABI reader, the RPC quantities and the event topics share. */
BPT_MUST_USE bool bpt_abi_word_u64(uint64_t *out, const uint8_t w[32]);
/** A uint that fits 64 bits. @return 0; BPT_EMALFORMED naming @p what. */
BPT_MUST_USE int bpt_abi_get_u64(uint64_t *out, const struct bpt_abi_value *v, const char *what);
void bpt_abi_get_address(uint8_t out[20], const struct bpt_abi_value *v);

/** The 4-byte selector of a function signature ("submitResult(uint64,uint64,bytes)"). */
void bpt_abi_selector(uint8_t out[4], const char *signature);

/**
 * Calldata: the selector of @p signature, then the encoding of @p args (n values) as the
 * tuple of the signature's argument types.
 * @return 0; the encoder's codes; BPT_EINVAL (a signature that does not parse).
 */
BPT_MUST_USE int bpt_abi_calldata(bpt_buf *out, const char *signature, struct bpt_abi_value *args,
                                  size_t n);

/**
 * Decode @p p as the tuple type @p types ("(uint64,bytes)") in one call; out as bpt_abi_decode.
 */
BPT_MUST_USE int bpt_abi_decode_text(struct bpt_abi_value **out, const char *types,
                                     const uint8_t *p, size_t len);

#endif
