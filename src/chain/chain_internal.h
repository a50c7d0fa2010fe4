/* What the chain module's files share (chain.h is the public side). */
#ifndef BPT_CHAIN_INTERNAL_H
#define BPT_CHAIN_INTERNAL_H

#include <blueprint-tee/chain.h>
#include <blueprint-tee/buf.h>
#include <blueprint-tee/secret.h>

#include <jansson.h>

#include "core/limits.h"

struct secp256k1_context_struct;

struct bpt_eth_key {
    bpt_secret *secret;                   /* 32 bytes */
    struct secp256k1_context_struct *ctx; /* randomized; signing only reads it */
    bpt_eth_address addr;
};

/** Derive the address of a secret key (verified to be a valid secp256k1 scalar).
 *  @return 0; BPT_EINVAL (0 or past the curve order). */
BPT_MUST_USE int bpt_eth_key_address_of(bpt_eth_address *out, const uint8_t secret[32]);

/* ---- JSON-RPC ---- */

/** What the node said when it answered with a JSON-RPC error. */
struct bpt_chain_node_error {
    bool set;
    long long code;
    char message[256];
    uint8_t revert[1024]; /* revert data (selector + ABI) when the error carried it */
    size_t revert_len;
    bool has_revert;
};

/**
 * One call: @p params (a JSON array, stolen) to @p method; *result gets a new reference to the
 * answer's "result". With a JSON-RPC error the return is BPT_EPROTOCOL and @p ne (may be NULL)
 * is filled.
 */
BPT_MUST_USE int bpt_chain_rpc(json_t **result, struct bpt_chain_node_error *ne, bpt_chain *c,
                               const char *method, json_t *params);

/** "0x..." quantity (no leading zeros required of the node, at most 64 bits). */
BPT_MUST_USE int bpt_chain_quantity(uint64_t *out, const json_t *v, const char *what);
/** "0x..." quantity of up to 256 bits into a 32-byte big-endian word. */
BPT_MUST_USE int bpt_chain_quantity256(uint8_t out[32], const json_t *v, const char *what);
/** "0x..." data into @p out (appended). */
BPT_MUST_USE int bpt_chain_data(bpt_buf *out, const json_t *v, const char *what);
/** "0x..." data of exactly @p n bytes. */
BPT_MUST_USE int bpt_chain_data_exact(uint8_t *out, size_t n, const json_t *v, const char *what);
/** New JSON strings: "0x" + hex of the bytes; a quantity; an address. NULL when out of memory. */
json_t *bpt_chain_json_data(const uint8_t *p, size_t n);
json_t *bpt_chain_json_quantity(uint64_t v);
json_t *bpt_chain_json_address(const bpt_eth_address *a);

/**
 * eth_call of @p data to @p to (from @p from when not NULL) at @p block ("latest" or a
 * quantity text): the return data into @p ret. A revert is BPT_EPROTOCOL with its decoded
 * reason in @p reason (may be NULL; 256 bytes) and the message.
 */
BPT_MUST_USE int bpt_chain_eth_call(bpt_buf *ret, char *reason, bpt_chain *c,
                                    const bpt_eth_address *from, const bpt_eth_address *to,
                                    const uint8_t *data, size_t len, const char *block);

/** A revert's data as text: Error(string), Panic(uint256), a known Tangle custom error with
 *  its arguments, or "custom error 0x<selector>". */
void bpt_chain_revert_reason(char *out, size_t n, const uint8_t *data, size_t len);

/* ---- transactions ---- */

/** An EIP-1559 transaction (value is always 0 here: the contracts are not paid by us). */
struct bpt_eth_tx {
    uint64_t chain_id, nonce, max_priority_fee, max_fee, gas;
    bpt_eth_address to;
    uint8_t value[32];
    const uint8_t *data; /* borrowed */
    size_t len;
};

/** 0x02 || rlp([...fields, y_parity, r, s]) signed by @p k (RFC 6979, low s), and its hash. */
BPT_MUST_USE int bpt_eth_tx_sign(bpt_buf *raw, uint8_t hash[32], const struct bpt_eth_tx *tx,
                                 const bpt_eth_key *k);
/**
 * Decode a signed type-2 transaction (strict RLP, every field canonical, an empty access list,
 * low s) and recover its sender. tx->data borrows from @p raw.
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE (no sender recovers).
 */
BPT_MUST_USE int bpt_eth_tx_decode(struct bpt_eth_tx *tx, bpt_eth_address *from, const uint8_t *raw,
                                   size_t len);

#endif
