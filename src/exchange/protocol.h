/*
 * The key-exchange protocol of DESIGN.md §6 without its transport: request bodies in, an
 * outcome and the JSON answer out. src/exchange/server.c carries it over libmicrohttpd; tests
 * and the fuzzer call it directly. Nothing here knows HTTP beyond the status numbers of the
 * outcome table.
 *
 * Threads: each function is reentrant; the service is safe from any thread, a session is used
 * by one thread at a time, and the delivery callback runs on the calling thread with no
 * library lock held.
 */
#ifndef BPT_EXCHANGE_PROTOCOL_H
#define BPT_EXCHANGE_PROTOCOL_H

#include <jansson.h>

#include <blueprint-tee/exchange.h>

/**
 * Every way a key-exchange request can end. Each value has one HTTP status and one wire code
 * (the "error.code" of DESIGN.md §6) in the table behind bpt_kx_outcome_status() and
 * bpt_kx_outcome_code(); the codes of the two successes never go on the wire (logs only).
 */
typedef enum bpt_kx_outcome {
    BPT_KX_OK = 0,             /**< 200: secrets stored, attestation answered */
    BPT_KX_CREATED,            /**< 201: session created */
    BPT_KX_BAD_REQUEST,        /**< 400 bad_request: malformed body, nonce or entry */
    BPT_KX_DECRYPT_FAILED,     /**< 400 decrypt_failed: a secret did not open */
    BPT_KX_SENDER_REFUSED,     /**< 403 sender_not_authorized: unsigned or unknown sender */
    BPT_KX_SESSION_NOT_FOUND,  /**< 404 session_not_found: unknown or used id */
    BPT_KX_NOT_FOUND,          /**< 404 not_found: no such endpoint */
    BPT_KX_METHOD_NOT_ALLOWED, /**< 405 method_not_allowed */
    BPT_KX_CONFLICT,           /**< 409 conflict: a name is stored already (first writer) */
    BPT_KX_SESSION_EXPIRED,    /**< 410 session_expired */
    BPT_KX_PAYLOAD_TOO_LARGE,  /**< 413 payload_too_large */
    BPT_KX_UNSUPPORTED_MEDIA,  /**< 415 unsupported_media_type: body not application/json */
    BPT_KX_RATE_LIMITED,       /**< 429 rate_limited (Retry-After) */
    BPT_KX_CLIENT_LIMIT,       /**< 429 too_many_sessions: the address holds its share */
    BPT_KX_INTERNAL,           /**< 500 internal */
    BPT_KX_NOT_SUPPORTED,      /**< 501 not_supported: no attester */
    BPT_KX_CAPACITY,           /**< 503 capacity (Retry-After) */
    BPT_KX_STORE_FULL,         /**< 507 store_full: the secret store holds its maximum */
    BPT_KX_OUTCOME_COUNT
} bpt_kx_outcome;

/** The HTTP status of @p o (500 for a value outside the enum). */
unsigned bpt_kx_outcome_status(bpt_kx_outcome o);

/** The wire code of @p o, e.g. "decrypt_failed" ("internal" outside the enum). Static. */
const char *bpt_kx_outcome_code(bpt_kx_outcome o);

/**
 * A protocol answer: the body that goes with the outcome a bpt_kx_answer_* function returns.
 * Each of those functions sets every field (no init needed); free with bpt_kx_answer_dispose().
 * When the body cannot be allocated the function returns BPT_KX_INTERNAL with json NULL.
 */
typedef struct bpt_kx_answer {
    char *json;       /**< the body, compact with sorted keys; NULL only when out of memory */
    size_t delivered; /**< secrets handed to the store / callback (for metrics) */
} bpt_kx_answer;

/** The body to send: json, or a static `internal` / "out of memory" error when json is NULL. */
const char *bpt_kx_answer_body(const bpt_kx_answer *a);

/** Free the body; the answer can be reused. */
void bpt_kx_answer_dispose(bpt_kx_answer *a);

/**
 * An error answer `{"error":{"code":<code of o>,"message":@p message}}`; @p message names
 * inputs, never secret values.
 * @return @p o, or BPT_KX_INTERNAL when the answer could not be allocated.
 */
BPT_MUST_USE bpt_kx_outcome bpt_kx_answer_error(bpt_kx_answer *out, bpt_kx_outcome o,
                                                const char *message);

/**
 * POST /v1/sessions: @p body (@p len bytes, may be empty) is `{}` or `{"nonce":"<hex>"}`;
 * a session is created in @p svc for @p client (the peer address; NULL: none) and answered
 * with its id, key, suite, expiry and attestation (plus binding, service_key and signature in
 * the service_key mode).
 * @return BPT_KX_CREATED; BPT_KX_BAD_REQUEST; BPT_KX_CAPACITY; BPT_KX_CLIENT_LIMIT;
 *         BPT_KX_INTERNAL.
 */
BPT_MUST_USE bpt_kx_outcome bpt_kx_answer_create_session(bpt_kx_answer *out, bpt_kx_service *svc,
                                                         const char *client, const char *body,
                                                         size_t len);

/** Where the secrets of a secrets call go, and which payloads it accepts. */
typedef struct bpt_kx_delivery {
    bool legacy_v0;             /**< also accept the Rust crate's v0 payload */
    bpt_kx_store *store;        /**< borrowed; NULL: only the callback sees the secrets */
    bpt_kx_secret_fn on_secret; /**< optional, called once the store holds the delivery */
    void *on_secret_userdata;
    const uint8_t *senders; /**< n_senders x 32-byte Ed25519 keys; n_senders 0: anyone */
    size_t n_senders;
} bpt_kx_delivery;

/** The context of the sender signature: session id (16 raw bytes) || SHA-256 of the body. */
#define BPT_KX_SENDER_MESSAGE_LEN (16 + 32)

/**
 * The bytes a sender signs for a secrets call on session @p id: the id (16 raw bytes) followed
 * by SHA-256 of the body without its "sender" member, written compact with sorted keys:
 * `{"secrets":[{"ciphertext":..,"enc":..,"name":..},..]}` (docs/exchange.md).
 * @return 0; BPT_EINVAL (secrets not serialisable); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_kx_sender_message(uint8_t out[BPT_KX_SENDER_MESSAGE_LEN],
                                       const uint8_t id[BPT_KX_SESSION_ID_LEN],
                                       const json_t *secrets);

/** The routes of DESIGN.md §6, as bpt_kx_route_parse() sees a request path. */
typedef enum bpt_kx_route {
    BPT_KX_ROUTE_NOT_FOUND = 0,   /**< no such endpoint */
    BPT_KX_ROUTE_HEALTHZ,         /**< /healthz */
    BPT_KX_ROUTE_METRICS,         /**< /metrics */
    BPT_KX_ROUTE_SESSIONS,        /**< /v1/sessions */
    BPT_KX_ROUTE_SECRETS,         /**< /v1/sessions/{id}/secrets with a well-formed id */
    BPT_KX_ROUTE_ATTESTATION,     /**< /v1/attestation */
    BPT_KX_ROUTE_BAD_SESSION_ID,  /**< /v1/sessions/{32 chars}/secrets, not lower-case hex: 400 */
    BPT_KX_ROUTE_NO_SUCH_SESSION, /**< another path under /v1/sessions/: 404 session_not_found */
    BPT_KX_ROUTE_OTHER_V1         /**< another path under /v1/: 404 not_found */
} bpt_kx_route;

/** Route @p path (without query); for BPT_KX_ROUTE_SECRETS, @p id_out gets the id. */
bpt_kx_route bpt_kx_route_parse(const char *path, char id_out[2 * BPT_KX_SESSION_ID_LEN + 1]);

/** One request header as the transport received it. */
struct bpt_kx_header {
    const char *name, *value;
};

/**
 * The framing checks on a request head (RFC 9112 §6.3 for the first two): two Content-Length
 * headers that differ, a Content-Length that is not a decimal number, or Content-Length beside
 * Transfer-Encoding -> 400; a POST that carries a body (Content-Length above 0 or
 * Transfer-Encoding) without Content-Type application/json (parameters allowed) -> 415.
 * *content_length gets the declared length (or -1 without one).
 * @return BPT_KX_OK when the head is acceptable; else the outcome, with *why a static reason.
 */
bpt_kx_outcome bpt_kx_check_head(long long *content_length, const char **why, const char *method,
                                 const struct bpt_kx_header *headers, size_t n);

/**
 * POST /v1/sessions/{id}/secrets: take session @p id_hex out of @p svc (one-time, whatever the
 * outcome), check the sender's signature when @p d names senders (before anything is opened),
 * open every secret of @p body all or nothing, consume the key, store the whole delivery at
 * once in d->store, then call d->on_secret for each, answer with the attestation digest, key
 * fingerprint and stored names. out->delivered counts the secrets stored (0 when refused).
 * @return BPT_KX_OK; BPT_KX_SESSION_NOT_FOUND; BPT_KX_SESSION_EXPIRED; BPT_KX_BAD_REQUEST
 *         (also an id that is not 32 lower-case hex digits); BPT_KX_SENDER_REFUSED;
 *         BPT_KX_DECRYPT_FAILED (the message names no secret); BPT_KX_CONFLICT (a name is stored,
 *         first-writer store); BPT_KX_STORE_FULL; BPT_KX_INTERNAL.
 */
BPT_MUST_USE bpt_kx_outcome bpt_kx_answer_submit_secrets(bpt_kx_answer *out, bpt_kx_service *svc,
                                                         const char *id_hex, const char *body,
                                                         size_t len, const bpt_kx_delivery *d);

/**
 * GET /v1/attestation?nonce=<hex>: a report whose report_data is 32 zero bytes then
 * SHA-256(nonce) (all zero without @p nonce_hex, which may be NULL).
 * @return BPT_KX_OK; BPT_KX_BAD_REQUEST; BPT_KX_NOT_SUPPORTED (no attester); BPT_KX_INTERNAL.
 */
BPT_MUST_USE bpt_kx_outcome bpt_kx_answer_attestation(bpt_kx_answer *out, bpt_kx_service *svc,
                                                      const char *nonce_hex);

#define BPT_KX_MAX_SECRETS_PER_REQUEST 64

/** One opened secret of a secrets call; name points into the parsed body. */
struct bpt_kx_opened {
    const char *name;
    bpt_secret *value;
};

/**
 * Parse a secrets-call body and open every secret with @p s, all or nothing (v1, or the v0
 * payload when d->legacy_v0 and no senders are set). With d->n_senders, the body's "sender"
 * must be one of d->senders and its signature must verify (bpt_kx_sender_message()) before
 * anything is opened. On return *body_out (free with json_decref()) owns the names; the caller
 * frees out[i].value whatever the outcome.
 * @return BPT_KX_OK; BPT_KX_BAD_REQUEST; BPT_KX_SENDER_REFUSED; BPT_KX_DECRYPT_FAILED;
 *         BPT_KX_SESSION_EXPIRED, with bpt_error_last() saying why.
 */
BPT_MUST_USE bpt_kx_outcome bpt_kx_open_secrets_body(
    struct bpt_kx_opened out[BPT_KX_MAX_SECRETS_PER_REQUEST], size_t *n_out, json_t **body_out,
    bpt_kx_session *s, const char *text, size_t len, const bpt_kx_delivery *d);

#endif
