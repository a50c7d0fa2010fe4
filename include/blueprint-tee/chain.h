/**
 * @file chain.h
 * The Tangle chain (DESIGN.md §12): Keccak-256, Ethereum addresses, operator keys, a JSON-RPC
 * client for an EVM node, signed EIP-1559 transactions with nonce management, and the Tangle
 * and blueprint-service-manager (BSM) calls a job service needs: the blueprint's execution
 * profile (confidentiality), a service's facts, submitResult, and the attestation hash of the
 * dual-path check (getAttestationHash / reportProvisioned).
 *
 *   bpt_chain_opts o = BPT_CHAIN_OPTS_INIT;
 *   o.rpc_url = "http://127.0.0.1:8545";
 *   bpt_chain *c = NULL;
 *   bpt_chain_new(&c, &o);
 *   bpt_execution_profile p;
 *   bpt_chain_blueprint_profile(&p, c, &tangle, 7);   // p.confidentiality: tee_required, ...
 *
 * Errors: BPT_EFETCH (the node could not be reached, timed out, or answered 5xx/429 after the
 * retries: retrying later may help); BPT_EPROTOCOL (the node answered a JSON-RPC error — the
 * message names the method, the node's code and message — or a transaction reverted — the
 * message carries the decoded reason — or an answer that is not JSON-RPC); BPT_EMALFORMED (ABI
 * data that does not decode); BPT_ELIMIT (an answer over the size limit).
 *
 * Secrets: an operator key lives in secure memory (secret.h), is never logged nor put in an
 * error message, and is cleansed when freed.
 *
 * Threads: a bpt_chain is safe from any thread (each call its own HTTP exchange); a signer is
 * safe from any thread (its nonce is taken under a lock, so many transactions may be in flight
 * from one sender); a key is immutable once loaded. Everything else is reentrant.
 */
#ifndef BPT_CHAIN_H
#define BPT_CHAIN_H

#include "attestation.h"
#include "common.h"

BPT_BEGIN_DECLS

/* ---- Keccak-256 and addresses ------------------------------------------------------------ */

/** Keccak-256 (Ethereum's, padding 0x01: not SHA3-256) of @p n bytes at @p p. */
BPT_API void bpt_keccak256(uint8_t out[32], const void *p, size_t n);

/** A 20-byte Ethereum address. */
typedef struct bpt_eth_address {
    uint8_t bytes[20];
} bpt_eth_address;

/**
 * Parse "0x" followed by 40 hex digits. All-lower or all-upper case is taken as it is; mixed
 * case must be a valid EIP-55 checksum (a typo in a mixed-case address is refused).
 * @return 0; BPT_EINVAL naming what is wrong.
 */
BPT_API BPT_MUST_USE int bpt_eth_address_parse(bpt_eth_address *out, const char *text);
/** The EIP-55 checksummed text ("0x" + 40 digits, NUL) into @p out. */
BPT_API void bpt_eth_address_format(char out[43], const bpt_eth_address *a);

/* ---- operator keys ------------------------------------------------------------------------ */

typedef struct bpt_eth_key bpt_eth_key;

/**
 * Load an operator's secp256k1 key from @p path: either a hex key file (64 hex digits, an
 * optional 0x and surrounding white space; refused unless its mode is 0600 or stricter and it
 * is a regular file), or an Ethereum keystore v3 JSON file (kdf scrypt or pbkdf2 with
 * hmac-sha256, cipher aes-128-ctr, the MAC checked before decrypting) opened with
 * @p password. The key is held in secure memory and never logged.
 * @param password for a keystore; NULL for a hex key file (a keystore without one is refused).
 * @return 0; BPT_ENOTFOUND (no such file); BPT_EIO (unreadable); BPT_EINVAL (a hex file whose
 *         mode lets others read it, not a key, the key 0 or past the curve order, a keystore
 *         without a password or with an unsupported kdf/cipher, kdf parameters out of range);
 *         BPT_EDECRYPT (the keystore's MAC does not match: wrong password or damaged file).
 */
BPT_API BPT_MUST_USE int bpt_eth_key_load(bpt_eth_key **out, const char *path,
                                          const char *password);
/** A key from its 32 secret bytes (copied into secure memory). @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_eth_key_from_bytes(bpt_eth_key **out, const uint8_t secret[32]);
/** The key's address (borrowed). */
BPT_API const bpt_eth_address *bpt_eth_key_address(const bpt_eth_key *k);
/** Cleanse and free; NULL does nothing. */
BPT_API void bpt_eth_key_free(bpt_eth_key *k);

/* ---- the node (JSON-RPC over HTTP) -------------------------------------------------------- */

/** Client options; initialise with BPT_CHAIN_OPTS_INIT. */
typedef struct bpt_chain_opts {
    unsigned version;          /**< BPT_CHAIN_OPTS_VERSION */
    const char *rpc_url;       /**< https://, or http:// to loopback (core/http's rule) */
    long timeout_ms;           /**< one request, connecting included; 0: 10000 */
    unsigned retries;          /**< more attempts after a transport failure, 5xx or 429;
                                    0: 3 (BPT_CHAIN_NO_RETRY: none) */
    long backoff_ms;           /**< the wait before retry n is n * backoff_ms (the SDK's
                                    250 ms × attempt); 0: 250 */
    long backoff_max_ms;       /**< capped at this; 0: 5000 (the SDK's cap) */
    size_t max_response_bytes; /**< an answer's body at most; 0: 16 MiB */
} bpt_chain_opts;

#define BPT_CHAIN_OPTS_VERSION 1
#define BPT_CHAIN_NO_RETRY ((unsigned)-1)
#define BPT_CHAIN_OPTS_INIT                                                                        \
    {                                                                                              \
        BPT_CHAIN_OPTS_VERSION, NULL, 0, 0, 0, 0, 0                                                \
    }

typedef struct bpt_chain bpt_chain;

/**
 * A client for the node at o->rpc_url (options copied). Nothing is sent yet.
 * @return 0; BPT_EINVAL (no URL, a URL core/http refuses, options out of range); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_chain_new(bpt_chain **out, const bpt_chain_opts *o);
/** Free; NULL does nothing. */
BPT_API void bpt_chain_free(bpt_chain *c);

/**
 * One JSON-RPC call: @p method with @p params_json (a JSON array text), the answer's "result"
 * as JSON text into *@p result_json (free with bpt_free()). Retried with back-off on transport
 * failures, 5xx and 429; a JSON-RPC error object is not retried.
 * @return 0; BPT_EFETCH; BPT_EPROTOCOL ("chain: eth_call: node error 3: execution reverted");
 *         BPT_ELIMIT; BPT_EINVAL (params not a JSON array).
 */
BPT_API BPT_MUST_USE int bpt_chain_call(char **result_json, bpt_chain *c, const char *method,
                                        const char *params_json);
/** eth_chainId. */
BPT_API BPT_MUST_USE int bpt_chain_chain_id(uint64_t *out, bpt_chain *c);
/** eth_blockNumber. */
BPT_API BPT_MUST_USE int bpt_chain_block_number(uint64_t *out, bpt_chain *c);

/* ---- transactions ------------------------------------------------------------------------- */

/** What a mined transaction did. */
typedef struct bpt_chain_receipt {
    uint8_t tx_hash[32];
    uint64_t block_number;
    uint64_t gas_used;
    bool success;     /**< status 1 */
    char reason[256]; /**< a revert's decoded reason ("Error(string)" text, a custom error's
                           name and arguments, or "panic 0x11"), else "" */
} bpt_chain_receipt;

/** Sending options; initialise with BPT_CHAIN_TX_OPTS_INIT. */
typedef struct bpt_chain_tx_opts {
    unsigned version;        /**< BPT_CHAIN_TX_OPTS_VERSION */
    uint64_t gas_floor;      /**< gas = max(estimate × 1.3, floor); 0: the SDK's 8,000,000 */
    uint64_t gas_limit;      /**< a fixed gas limit instead of the estimate; 0: estimate */
    long receipt_timeout_ms; /**< how long to wait for the receipt; 0: 120000 */
    long poll_ms;            /**< receipt polling interval; 0: 200 */
} bpt_chain_tx_opts;

#define BPT_CHAIN_TX_OPTS_VERSION 1
#define BPT_CHAIN_TX_OPTS_INIT                                                                     \
    {                                                                                              \
        BPT_CHAIN_TX_OPTS_VERSION, 0, 0, 0, 0                                                      \
    }
/** The SDK's gas floor for submitResult (crates/clients/tangle client.rs). */
#define BPT_CHAIN_DEFAULT_GAS_FLOOR 8000000u

typedef struct bpt_chain_signer bpt_chain_signer;

/**
 * A sender: @p key's transactions to @p chain (both borrowed; they must outlive the signer).
 * Reads the chain id once (eth_chainId: every transaction carries it, EIP-155).
 * @return 0; the errors of bpt_chain_chain_id(); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_chain_signer_new(bpt_chain_signer **out, bpt_chain *chain,
                                              const bpt_eth_key *key);
/** Free; NULL does nothing. */
BPT_API void bpt_chain_signer_free(bpt_chain_signer *s);

/**
 * Send @p data to @p to as a signed EIP-1559 (type 2) transaction and wait for its receipt.
 * Nonce: the pending count from the node the first time, then counted here, so many
 * transactions may be in flight from one sender; a node that says the nonce is too low or
 * already known makes the signer re-read it and try once more. Gas: eth_estimateGas × 1.3,
 * at least the floor (the floor alone when estimating fails, as the SDK does). Fees:
 * eth_maxPriorityFeePerGas and the latest base fee (max fee = 2 × base + priority).
 * A revert (estimate or receipt) fills @p out->reason.
 * @return 0 (mined with status 1); BPT_EPROTOCOL (reverted: the message and out->reason carry
 *         the reason; or the node refused the transaction); BPT_EEXPIRED (no receipt within the
 *         time-out: the transaction may still be mined); BPT_EFETCH.
 */
BPT_API BPT_MUST_USE int bpt_chain_transact(bpt_chain_receipt *out, bpt_chain_signer *s,
                                            const bpt_eth_address *to, const uint8_t *data,
                                            size_t len, const bpt_chain_tx_opts *o);

/* ---- Tangle: confidentiality and services -------------------------------------------------- */

/** tnt-core's ConfidentialityPolicy, with its on-chain numbering. */
typedef enum bpt_confidentiality {
    BPT_CONFIDENTIALITY_ANY = 0,               /**< "any" */
    BPT_CONFIDENTIALITY_TEE_REQUIRED = 1,      /**< "tee_required": only ever in a TEE */
    BPT_CONFIDENTIALITY_STANDARD_REQUIRED = 2, /**< "standard_required": never in a TEE */
    BPT_CONFIDENTIALITY_TEE_PREFERRED = 3      /**< "tee_preferred": a TEE when there is one */
} bpt_confidentiality;

/** "any", "tee_required", "standard_required", "tee_preferred". */
BPT_API const char *bpt_confidentiality_name(bpt_confidentiality c);

typedef enum bpt_gpu_policy {
    BPT_GPU_NONE = 0,  /**< "none" */
    BPT_GPU_REQUIRED,  /**< "required" */
    BPT_GPU_PREFERRED, /**< "preferred" */
} bpt_gpu_policy;

/** The blueprint's execution profile (metadata.profilingData's "execution_profile"). */
typedef struct bpt_execution_profile {
    bool present; /**< false: no profile (empty data, or no execution_profile): any */
    bpt_confidentiality confidentiality;
    bpt_gpu_policy gpu;
    uint32_t gpu_min_count; /**< 1 at least when gpu is not none */
    bool has_gpu_min_vram;
    uint32_t gpu_min_vram_gb;
} bpt_execution_profile;

/**
 * Parse profilingData exactly as the SDK (blueprint_metadata.rs): empty or white space: no
 * profile; otherwise a JSON object whose "execution_profile" (absent: no profile) is an object
 * with only "confidentiality" (default any) and "gpu" ({"policy","min_count","min_vram_gb"}
 * only; policy default none; min_count 0 becomes 1 when the policy is not none). Other root
 * keys ("schema", "job_profiles_b64_gzip") are ignored.
 * @return 0; BPT_EMALFORMED (not JSON, the root not an object); BPT_EINVAL (an unknown key in
 *         execution_profile or gpu, a value of the wrong type or unknown text).
 */
BPT_API BPT_MUST_USE int bpt_execution_profile_parse(bpt_execution_profile *out, const char *data,
                                                     size_t len);

/**
 * The execution profile of blueprint @p blueprint_id: getBlueprintDefinition(uint64) on the
 * Tangle contract @p tangle, its metadata.profilingData parsed by bpt_execution_profile_parse().
 * @p name_out (may be NULL) gets metadata.name, cut to 127 bytes.
 * @return 0; the chain's errors; BPT_EMALFORMED (the answer does not decode); the parser's.
 */
BPT_API BPT_MUST_USE int bpt_chain_blueprint_profile(bpt_execution_profile *out, char name_out[128],
                                                     bpt_chain *c, const bpt_eth_address *tangle,
                                                     uint64_t blueprint_id);

/** What getService(uint64) says about a service (the fields a job service needs). */
typedef struct bpt_chain_service {
    uint64_t blueprint_id;
    bpt_eth_address owner;
    uint64_t created_at, ttl;
    uint32_t operator_count;
    uint8_t status;
    bpt_confidentiality confidentiality;
} bpt_chain_service;

/**
 * getService(@p service_id) on @p tangle.
 * @return 0; the chain's errors (a service that does not exist reverts: BPT_EPROTOCOL);
 *         BPT_EMALFORMED (a confidentiality byte past 3).
 */
BPT_API BPT_MUST_USE int bpt_chain_service_get(bpt_chain_service *out, bpt_chain *c,
                                               const bpt_eth_address *tangle, uint64_t service_id);

/**
 * The rule a job service follows: the blueprint's profile and the service's confidentiality
 * together, the stricter of the two (tee_required or standard_required over tee_preferred over
 * any). One says tee_required and the other standard_required: BPT_EUNSATISFIABLE.
 */
BPT_API BPT_MUST_USE int bpt_confidentiality_combine(bpt_confidentiality *out,
                                                     bpt_confidentiality blueprint,
                                                     bpt_confidentiality service);

/**
 * submitResult(@p service_id, @p call_id, @p body) to @p tangle, signed by @p s.
 * @return bpt_chain_transact()'s codes; BPT_EEXISTS when the contract says this operator has
 *         already submitted a result for the call (a result sent twice).
 */
BPT_API BPT_MUST_USE int bpt_chain_submit_result(bpt_chain_receipt *out, bpt_chain_signer *s,
                                                 const bpt_eth_address *tangle, uint64_t service_id,
                                                 uint64_t call_id, const uint8_t *body,
                                                 size_t body_len, const bpt_chain_tx_opts *o);

/* ---- the dual-path attestation check -------------------------------------------------------- */

/**
 * getAttestationHash(@p service_id, @p operator) on the blueprint's service manager @p bsm:
 * keccak256 of the attestation JSON the operator published (all zero: none).
 */
BPT_API BPT_MUST_USE int bpt_chain_attestation_hash(uint8_t out[32], bpt_chain *c,
                                                    const bpt_eth_address *bsm, uint64_t service_id,
                                                    const bpt_eth_address *operator_addr);

/**
 * The attestation JSON bytes the hash is taken over: bpt_report_to_json() of @p report (the
 * form GET /v1/attestation serves and `bpt attest` writes; parsing and writing it again gives
 * the same bytes), and their keccak256 into @p digest.
 * @param[out] json_out may be NULL; else the bytes (free with bpt_free()).
 */
BPT_API BPT_MUST_USE int bpt_chain_attestation_digest(uint8_t digest[32], char **json_out,
                                                      const bpt_report *report);

/**
 * The on-chain half of the dual-path check, to run after the report verified locally:
 * keccak256 of @p report's attestation JSON (bpt_chain_attestation_digest()) against
 * getAttestationHash(@p service_id, @p operator). Fails closed.
 * @return 0 (equal); BPT_ECLAIM (different: the message names both hashes); BPT_ENOTFOUND
 *         (nothing published: the hash is zero); BPT_EFETCH (the chain could not be reached:
 *         "unreachable"); BPT_EPROTOCOL (the call reverted: no such contract or function).
 */
BPT_API BPT_MUST_USE int bpt_chain_attestation_check(bpt_chain *c, const bpt_eth_address *bsm,
                                                     uint64_t service_id,
                                                     const bpt_eth_address *operator_addr,
                                                     const bpt_report *report);

/**
 * The operator side: reportProvisioned(@p service_id, @p sandbox_id, @p sidecar_url,
 * @p ssh_port, attestation JSON of @p report) to @p bsm, signed by @p s, so that
 * getAttestationHash(service_id, signer's address) becomes keccak256 of those bytes.
 * @return bpt_chain_transact()'s codes.
 */
BPT_API BPT_MUST_USE int bpt_chain_report_provisioned(bpt_chain_receipt *out, bpt_chain_signer *s,
                                                      const bpt_eth_address *bsm,
                                                      uint64_t service_id, const char *sandbox_id,
                                                      const char *sidecar_url, uint32_t ssh_port,
                                                      const bpt_report *report,
                                                      const bpt_chain_tx_opts *o);

BPT_END_DECLS

#endif
