/*
 * For the exchange tests: a fake attester, and request bodies as clients write them (a v1
 * secrets body through bpt_kx_seal(), a legacy v0 payload built step by step with raw OpenSSL
 * as the Rust crate's client does). The body builders assert on failure and return malloc'd
 * JSON (free()).
 */
#ifndef BPT_TEST_KX_H
#define BPT_TEST_KX_H

#include <stdbool.h>
#include <stdint.h>

#include <blueprint-tee/attestation.h>
#include <blueprint-tee/exchange.h>

/** State of bpt_test_kx_attest(), its userdata. */
struct bpt_test_kx_attester {
    uint8_t last_rd[64]; /**< the report_data it was last asked to bind */
    int calls;
    int fail; /**< return this code (with a message) when non-zero */
};

/**
 * A bpt_kx_attest_fn without a TEE: a SEV-SNP-labelled report whose evidence is the 64
 * report_data bytes themselves. @p userdata is a struct bpt_test_kx_attester.
 */
int bpt_test_kx_attest(bpt_report **out, const uint8_t report_data[64], void *userdata);

/** What bpt_test_kx_on_secret() saw last, its userdata. */
struct bpt_test_kx_seen {
    char sid[33];
    char name[32];
    char value[32];
    int calls;
};

/** A bpt_kx_secret_fn that asserts a 32-digit session id and records the call. */
void bpt_test_kx_on_secret(const char *sid, const char *name, const bpt_secret *secret, void *u);

/**
 * A service for the exchange tests: the fixed clock *@p now, a 60-second TTL, @p max_sessions,
 * @p binding, and bpt_test_kx_attest() on @p att (NULL: no attester). @p now and @p att must
 * outlive it. Asserts on failure; free with bpt_kx_service_free().
 */
bpt_kx_service *bpt_test_kx_service(int64_t *now, size_t max_sessions, bpt_kx_binding binding,
                                    struct bpt_test_kx_attester *att);

/** A service (bpt_test_kx_service() on @c now, the test attester), a store and a server. */
struct bpt_test_kx_server {
    int64_t now;
    bpt_kx_service *svc;
    bpt_kx_store *store;
    bpt_kx_server *srv;
    uint16_t port;
    char base[64]; /**< "http://127.0.0.1:PORT" */
    struct bpt_test_kx_attester att;
};

/**
 * Start a server on 127.0.0.1, an ephemeral port, with options @p o (copied; its store and
 * rate-limit clock are set to the fixture's) over a service of @p max_sessions. Asserts on failure;
 * stop with bpt_test_kx_server_stop().
 */
struct bpt_test_kx_server *bpt_test_kx_server_start(size_t max_sessions,
                                                    const bpt_kx_server_options *o);

/** Stop the server, free the store and the service. */
void bpt_test_kx_server_stop(struct bpt_test_kx_server *f);

/**
 * `{"secrets":[{"name":@p name,"enc":..,"ciphertext":..}]}` with @p value sealed to the
 * session (@p pk, @p id) under aad @p aad_name (pass @p name for a body that opens).
 */
char *bpt_test_kx_secrets_body(const uint8_t pk[32], const uint8_t id[16], const char *name,
                               const char *aad_name, const char *value);

/**
 * The Rust crate's v0 SealedSecretPayload for @p session_id: a fresh client X25519 key,
 * SHA-256 of the shared secret with @p server_pk as the ChaCha20-Poly1305 key, a random
 * 12-byte nonce, byte arrays in JSON. @p break_tag flips a bit of the tag.
 */
char *bpt_test_kx_v0_body(const char *session_id, const uint8_t server_pk[32], const char *msg,
                          bool break_tag);

#endif
