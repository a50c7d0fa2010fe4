/**
 * @file exchange.h
 * Sealed-secret key exchange, protocol v1 (DESIGN.md §6): one-time sessions holding an X25519
 * key bound into attestation evidence, secrets sealed to it with HPKE base mode
 * (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305), and the TeeAuthService that
 * owns the sessions.
 *
 * Threads: a bpt_kx_session is used by one thread at a time. A bpt_kx_service is safe from
 * any thread; its attester callback runs on the thread calling bpt_kx_service_create(),
 * without the service's lock held. The helpers bpt_kx_report_data() and bpt_kx_seal() are
 * reentrant.
 */
#ifndef BPT_EXCHANGE_H
#define BPT_EXCHANGE_H

#include "common.h"
#include "attestation.h"
#include "buf.h"
#include "clock.h"
#include "secret.h"

BPT_BEGIN_DECLS

/** Raw length of a session id (its text form is 32 lower-case hex digits). */
#define BPT_KX_SESSION_ID_LEN 16
/** Raw length of an X25519 public key and of HPKE's `enc`. */
#define BPT_KX_PUBLIC_KEY_LEN 32
/** The v1 suite name carried in session responses. */
#define BPT_KX_SUITE "hpke-base-x25519-sha256-chacha20poly1305"
/** The HPKE info prefix; info = prefix || session id (16 raw bytes). */
#define BPT_KX_INFO_PREFIX "blueprint-tee/v1 sealed-secret"
/** The report_data domain separator. */
#define BPT_KX_REPORT_DATA_LABEL "bpt-kx-v1"
/** Client nonce bounds in bytes (DESIGN.md §6). */
#define BPT_KX_NONCE_MIN 16
#define BPT_KX_NONCE_MAX 64
/** Rust defaults: TTL 300 s, 64 sessions. */
#define BPT_KX_DEFAULT_TTL_SECS 300
#define BPT_KX_DEFAULT_MAX_SESSIONS 64
/** The most live sessions a service takes (bpt_kx_service_options.max_sessions). */
#define BPT_KX_MAX_SESSIONS_LIMIT 1000000
/** Live sessions one client address may hold by default (see bpt_kx_service_options). */
#define BPT_KX_DEFAULT_MAX_SESSIONS_PER_CLIENT 16
/** Seconds a session may stay unused before a full table may reclaim it (default). */
#define BPT_KX_DEFAULT_FIRST_USE_SECS 30
/** Secret names: 1..BPT_KX_NAME_MAX bytes of [A-Za-z0-9._-] (DESIGN.md §6). */
#define BPT_KX_NAME_MAX 128

/**
 * true when @p name is a valid secret name: 1..BPT_KX_NAME_MAX bytes, each one of A-Z a-z 0-9
 * '.' '_' '-'. Names travel in logs and file names, so nothing else is accepted.
 */
BPT_API bool bpt_kx_name_is_valid(const char *name);

/**
 * report_data = SHA-256("bpt-kx-v1" || public_key || session_id) || SHA-256(nonce), the second
 * half all zero when @p nonce_len is 0.
 * @return 0; BPT_EINVAL (NULL arguments, nonce length outside 16..64 when present).
 */
BPT_API BPT_MUST_USE int bpt_kx_report_data(uint8_t out[64],
                                            const uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN],
                                            const uint8_t session_id[BPT_KX_SESSION_ID_LEN],
                                            const uint8_t *nonce, size_t nonce_len);

/**
 * Seal one secret for a session (the client side of step 3): HPKE base to @p public_key with
 * info = BPT_KX_INFO_PREFIX || session_id and aad = @p name.
 * @param[out] enc    the 32-byte encapsulated key.
 * @param ct_out      receives ciphertext || tag (appended).
 * @return 0; BPT_EINVAL (bad key, empty name); BPT_ELIMIT (ct_out's maximum); BPT_ERROR.
 */
BPT_API BPT_MUST_USE int bpt_kx_seal(uint8_t enc[BPT_KX_PUBLIC_KEY_LEN], bpt_buf *ct_out,
                                     const uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN],
                                     const uint8_t session_id[BPT_KX_SESSION_ID_LEN],
                                     const char *name, const uint8_t *secret, size_t secret_len);

/**
 * Open a legacy v0 payload (the Rust crate's SealedSecretPayload): the AEAD key is SHA-256 of
 * the X25519 shared secret between the session key and @p client_public_key, ChaCha20-Poly1305
 * with @p nonce (12 bytes) and no associated data, the tag at the end of @p ct. Exists so
 * Rust clients can talk to a C service; the HTTP server accepts it only with legacy_v0 on.
 * @param[out] out the plaintext in secure memory; free with bpt_secret_free().
 * @return 0; BPT_EDECRYPT (all-zero shared secret, bad tag); BPT_EEXPIRED; BPT_EINVAL.
 */
struct bpt_kx_session;
BPT_API BPT_MUST_USE int bpt_kx_session_open_v0(bpt_secret **out, struct bpt_kx_session *s,
                                                const uint8_t client_public_key[32],
                                                const uint8_t nonce[12], const uint8_t *ct,
                                                size_t ct_len);

/* ---- sessions (the Rust KeyExchangeSession) ---------------------------------------------- */

typedef struct bpt_kx_session bpt_kx_session;

/**
 * A new session: a random 16-byte id, a fresh X25519 key pair (the private key only inside
 * OpenSSL's EVP_PKEY), created_at read from @p clock.
 * @param ttl_secs lifetime; 0 means BPT_KX_DEFAULT_TTL_SECS.
 * @param clock    copied; NULL means the system clock.
 * @return 0; BPT_ERROR (randomness or key generation failed); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_kx_session_new(bpt_kx_session **out, uint64_t ttl_secs,
                                            const bpt_clock *clock);

/** Cleanse the key and free; NULL does nothing. */
BPT_API void bpt_kx_session_free(bpt_kx_session *s);

/** The raw 16-byte id (borrowed). */
BPT_API const uint8_t *bpt_kx_session_id(const bpt_kx_session *s);
/** The id as 32 lower-case hex digits (borrowed). */
BPT_API const char *bpt_kx_session_id_hex(const bpt_kx_session *s);
/** The raw 32-byte X25519 public key (borrowed). */
BPT_API const uint8_t *bpt_kx_session_public_key(const bpt_kx_session *s);
/** Hex SHA-256 of the public key (the key fingerprint) into @p out (65 bytes with NUL). */
BPT_API void bpt_kx_session_public_key_digest(char out[65], const bpt_kx_session *s);
/** Creation time (unix seconds). */
BPT_API int64_t bpt_kx_session_created_at(const bpt_kx_session *s);
/** Lifetime in seconds. */
BPT_API uint64_t bpt_kx_session_ttl(const bpt_kx_session *s);
/** created_at + ttl. */
BPT_API int64_t bpt_kx_session_expires_at(const bpt_kx_session *s);
/** true when more than ttl seconds have passed since created_at (the Rust rule). */
BPT_API bool bpt_kx_session_is_expired(const bpt_kx_session *s);
/** Seconds left before expiry, 0 once expired. */
BPT_API uint64_t bpt_kx_session_remaining_ttl(const bpt_kx_session *s);
/** true once bpt_kx_session_consume() ran (the private key is gone). */
BPT_API bool bpt_kx_session_is_consumed(const bpt_kx_session *s);

/**
 * Open one sealed secret: HPKE base recipient with info = BPT_KX_INFO_PREFIX || id and
 * aad = @p name. Several secrets may be opened before bpt_kx_session_consume().
 * @param[out] out the plaintext; free with bpt_secret_free(). NULL on failure.
 * @param name NUL-terminated, non-empty.
 * @param enc, enc_len the 32-byte encapsulated key; ct, ct_len ciphertext || tag.
 * @return 0; BPT_EDECRYPT (bad enc, tag mismatch, all-zero shared secret); BPT_EEXPIRED;
 *         BPT_EINVAL (consumed session, empty name); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_kx_session_open(bpt_secret **out, bpt_kx_session *s, const char *name,
                                             const uint8_t *enc, size_t enc_len, const uint8_t *ct,
                                             size_t ct_len);

/**
 * Hex SHA-256 of the evidence of the report bound to this session when the service created
 * it (the "attestation_digest" of DESIGN.md §6), "" when the service has no attester.
 */
BPT_API const char *bpt_kx_session_attestation_digest(const bpt_kx_session *s);

/** Consume: free (and so cleanse) the private key; later opens fail. Idempotent. */
BPT_API void bpt_kx_session_consume(bpt_kx_session *s);

/* ---- TeeAuthService ---------------------------------------------------------------------- */

/**
 * Attester callback: produce a report binding @p report_data (64 bytes). Return 0 and set
 * *out (the service takes ownership), or a negative BPT_E* code with a message set.
 * Runs on the thread that called bpt_kx_service_create(), without the service lock held.
 */
typedef int (*bpt_kx_attest_fn)(bpt_report **out, const uint8_t report_data[64], void *userdata);

/**
 * How each session key is bound into evidence.
 * - BPT_KX_BINDING_SESSION (default): fresh evidence per session whose report_data is
 *   bpt_kx_report_data() of the session key, id and nonce (DESIGN.md §6).
 * - BPT_KX_BINDING_SERVICE_KEY: one Ed25519 service key is attested once, with report_data
 *   SHA-256("bpt-kx-v1 service-key" || ed25519 public key) || 32 zero bytes; each session answer
 *   carries "binding":"service_key", "service_key" (hex) and "signature" (hex Ed25519 over
 *   "bpt-kx-v1 session-key" || bpt_kx_report_data(session key, id, nonce)). For throughput:
 *   the evidence cost is paid once, each session costs one signature.
 */
typedef enum bpt_kx_binding {
    BPT_KX_BINDING_SESSION = 0,
    BPT_KX_BINDING_SERVICE_KEY
} bpt_kx_binding;

#define BPT_KX_SERVICE_KEY_CONTEXT "bpt-kx-v1 service-key"
#define BPT_KX_SESSION_KEY_CONTEXT "bpt-kx-v1 session-key"

/** Service options; initialise with BPT_KX_SERVICE_OPTIONS_INIT. */
typedef struct bpt_kx_service_options {
    unsigned version;               /**< BPT_KX_SERVICE_OPTIONS_VERSION */
    uint64_t ttl_secs;              /**< session lifetime (default 300) */
    size_t max_sessions;            /**< live sessions at most (default 64) */
    uint64_t cleanup_interval_secs; /**< sweep period; 0: max(ttl_secs, 30) as in Rust */
    bpt_clock clock;                /**< {NULL, NULL}: system time */
    bpt_kx_attest_fn attest;        /**< NULL: sessions carry no attestation */
    void *attest_userdata;
    bpt_kx_binding binding; /**< default BPT_KX_BINDING_SESSION */
    /* version 2 */
    size_t max_sessions_per_client; /**< live sessions one client may hold (default 16; 0: no
                                         cap); only bpt_kx_service_create_for() counts */
    uint64_t first_use_secs;        /**< a session unused this long may be reclaimed when the table
                                         or its client's share is full (default 30; 0: never) */
} bpt_kx_service_options;

/** Version 1 (without the per-client fields) is still accepted: they take their defaults. */
#define BPT_KX_SERVICE_OPTIONS_VERSION 2
#define BPT_KX_SERVICE_OPTIONS_INIT                                                                \
    {                                                                                              \
        BPT_KX_SERVICE_OPTIONS_VERSION, BPT_KX_DEFAULT_TTL_SECS, BPT_KX_DEFAULT_MAX_SESSIONS, 0,   \
            {NULL, NULL}, NULL, NULL, BPT_KX_BINDING_SESSION,                                      \
            BPT_KX_DEFAULT_MAX_SESSIONS_PER_CLIENT, BPT_KX_DEFAULT_FIRST_USE_SECS                  \
    }

typedef struct bpt_kx_service bpt_kx_service;

/**
 * What bpt_kx_service_create() returns about the new session. Size-prefixed: initialise with
 * BPT_KX_SESSION_INFO_INIT; a later library fills only the fields a caller's size covers.
 */
typedef struct bpt_kx_session_info {
    uint32_t size; /**< sizeof(bpt_kx_session_info) as the caller was compiled */
    uint8_t id[BPT_KX_SESSION_ID_LEN];
    char id_hex[2 * BPT_KX_SESSION_ID_LEN + 1];
    uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN];
    int64_t created_at;
    int64_t expires_at;
    uint8_t report_data[64];
    bool service_key;               /**< BPT_KX_BINDING_SERVICE_KEY: the two fields below */
    uint8_t service_public_key[32]; /**< the attested Ed25519 key */
    uint8_t signature[64];          /**< its signature binding this session (see bpt_kx_binding) */
} bpt_kx_session_info;

#define BPT_KX_SESSION_INFO_INIT                                                                   \
    {                                                                                              \
        .size = sizeof(bpt_kx_session_info)                                                        \
    }

/**
 * Counters for /metrics (monotonic since bpt_kx_service_new()); active = sessions held, including
 * expired ones not yet swept. Size-prefixed (BPT_KX_SERVICE_STATS_INIT), so counters can be
 * added.
 */
typedef struct bpt_kx_service_stats {
    uint32_t size; /**< sizeof(bpt_kx_service_stats) as the caller was compiled */
    uint64_t created, consumed, expired, refused;
    size_t active;
    /* added later: present when size covers them */
    uint64_t refused_client; /**< creations refused: the client held its share */
    uint64_t reclaimed;      /**< unused sessions past first_use_secs removed to make room */
} bpt_kx_service_stats;

#define BPT_KX_SERVICE_STATS_INIT                                                                  \
    {                                                                                              \
        .size = sizeof(bpt_kx_service_stats)                                                       \
    }

/**
 * Make a service. Options are copied (NULL: defaults). Sessions sit in a hash table by id and
 * a min-heap by expiry: create, consume and expiry cost O(1)/O(log n) whatever the number of
 * live sessions, and the lock is never held for a pass over the table.
 * first_use_secs above ttl_secs is taken as ttl_secs.
 * @return 0; BPT_EINVAL (unknown version, max_sessions outside 1..BPT_KX_MAX_SESSIONS_LIMIT);
 *         BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_kx_service_new(bpt_kx_service **out,
                                            const bpt_kx_service_options *opts);

/** Stop the cleanup thread (if started), cleanse and free every session; NULL does nothing. */
BPT_API void bpt_kx_service_free(bpt_kx_service *svc);

/**
 * Start the background thread that removes expired sessions every cleanup_interval_secs
 * (by default max(ttl_secs, 30) seconds, as the Rust crate).
 * It waits on a condition variable, so bpt_kx_service_stop_cleanup()/free stop it at once.
 * @return 0; BPT_EBUSY (already running); BPT_ERROR (thread creation failed).
 */
BPT_API BPT_MUST_USE int bpt_kx_service_start_cleanup(bpt_kx_service *svc);

/** Stop and join the cleanup thread; does nothing when it is not running. */
BPT_API void bpt_kx_service_stop_cleanup(bpt_kx_service *svc);

/** Remove expired sessions now; returns how many were removed. */
BPT_API size_t bpt_kx_service_cleanup(bpt_kx_service *svc);

/**
 * Create a session: expired sessions are evicted first; at max_sessions the call is refused.
 * With an attester, report_data (bpt_kx_report_data()) is bound into a new report whose
 * public_key_binding carries the key (key_type "x25519", binding_digest = hex report_data).
 * @param[out] info        the session's public facts.
 * @param[out] report_out  the report (free with bpt_report_free()); NULL when no attester is
 *                         configured. May be NULL to discard it.
 * @param nonce, nonce_len optional client nonce (16..64 bytes) or NULL/0.
 * @return 0; BPT_EBUSY (at capacity); BPT_EINVAL (nonce length); the attester's code.
 */
BPT_API BPT_MUST_USE int bpt_kx_service_create(bpt_kx_session_info *info, bpt_report **report_out,
                                               bpt_kx_service *svc, const uint8_t *nonce,
                                               size_t nonce_len);

/**
 * bpt_kx_service_create() on behalf of @p client (the HTTP server passes the peer address as
 * text; any stable key of at most 63 bytes works, NULL counts no client). A client holds at
 * most max_sessions_per_client live sessions. When the table or the client's share is full,
 * the oldest session left unused for first_use_secs (the client's own, for its share) is
 * removed, its key cleansed, to make room (counted as reclaimed); only when none qualifies is
 * the call refused.
 * @return 0; BPT_EBUSY (the table is full: "capacity"); BPT_ELIMIT (@p client holds its share);
 *         BPT_EINVAL (nonce length, client key longer than 63 bytes); the attester's code.
 */
BPT_API BPT_MUST_USE int bpt_kx_service_create_for(bpt_kx_session_info *info,
                                                   bpt_report **report_out, bpt_kx_service *svc,
                                                   const char *client, const uint8_t *nonce,
                                                   size_t nonce_len);

/**
 * Take the session @p id_hex out of the service (one-time: of concurrent callers exactly one
 * gets it). The caller opens its secrets, then frees it (bpt_kx_session_free()).
 * @param[out] out the session, owned by the caller.
 * @return 0; BPT_ENOTFOUND (unknown or already consumed); BPT_EEXPIRED (expired: it is
 *         removed and its key cleansed); BPT_EINVAL (not 32 hex digits).
 */
BPT_API BPT_MUST_USE int bpt_kx_service_consume(bpt_kx_session **out, bpt_kx_service *svc,
                                                const char *id_hex);

/**
 * Copy the public key of a live session.
 * @return 0; BPT_ENOTFOUND; BPT_EEXPIRED.
 */
BPT_API BPT_MUST_USE int bpt_kx_service_public_key(uint8_t out[BPT_KX_PUBLIC_KEY_LEN],
                                                   bpt_kx_service *svc, const char *id_hex);

/** Sessions neither consumed nor expired (expired ones not yet swept are not counted). */
BPT_API size_t bpt_kx_service_active_count(bpt_kx_service *svc);

/** Counters snapshot. */
BPT_API void bpt_kx_service_get_stats(bpt_kx_service_stats *out, bpt_kx_service *svc);

/* ---- secret store --------------------------------------------------------------------- */

/** Named secrets opened by the service, each in secure memory. Safe from any thread. */
typedef struct bpt_kx_store bpt_kx_store;

/** What a second delivery of a stored name does. */
typedef enum bpt_kx_store_policy {
    BPT_KX_STORE_FIRST_WRITER = 0, /**< default: the first value stays; BPT_EEXISTS */
    BPT_KX_STORE_REPLACE           /**< the new value replaces (and cleanses) the old */
} bpt_kx_store_policy;

/** An empty store. @return 0; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_kx_store_new(bpt_kx_store **out);

/** Cleanse and free every entry; NULL does nothing. */
BPT_API void bpt_kx_store_free(bpt_kx_store *st);

/** Set the policy for names already stored (default BPT_KX_STORE_FIRST_WRITER). */
BPT_API void bpt_kx_store_set_policy(bpt_kx_store *st, bpt_kx_store_policy policy);

/** The number of names a store holds at most. */
#define BPT_KX_STORE_MAX_NAMES 256

/**
 * Store @p secret under @p name. A name already stored is refused (first writer wins) unless
 * the policy is BPT_KX_STORE_REPLACE, which cleanses the old value. Takes ownership of
 * @p secret on success only.
 * @return 0; BPT_EINVAL (NULL, or not a valid name: bpt_kx_name_is_valid()); BPT_EEXISTS
 *         (stored already, first-writer policy); BPT_ELIMIT (BPT_KX_STORE_MAX_NAMES names
 *         held); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_kx_store_put(bpt_kx_store *st, const char *name, bpt_secret *secret);

/**
 * Store @p n secrets at once, all or nothing: every name is checked (valid, distinct, not
 * stored under the first-writer policy, room for the new ones) before any is stored. Takes
 * ownership of every secrets[i] on success only (the array entries are set to NULL).
 * @return 0; the codes of bpt_kx_store_put(), nothing stored.
 */
BPT_API BPT_MUST_USE int bpt_kx_store_put_all(bpt_kx_store *st, const char *const *names,
                                              bpt_secret **secrets, size_t n);

/**
 * A copy of the secret named @p name.
 * @param[out] out free with bpt_secret_free().
 * @return 0; BPT_ENOTFOUND; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_kx_store_get(bpt_secret **out, bpt_kx_store *st, const char *name);

/** Number of entries. */
BPT_API size_t bpt_kx_store_count(bpt_kx_store *st);

/* ---- HTTP control plane (libmicrohttpd) -------------------------------------------------- */

/**
 * Called for each opened secret once the store holds the whole delivery (or, without a store,
 * once every secret opened), on a server thread, with no library lock held. @p secret is a
 * copy borrowed for the duration of the call. Never called for a delivery that was refused.
 */
typedef void (*bpt_kx_secret_fn)(const char *session_id_hex, const char *name,
                                 const bpt_secret *secret, void *userdata);

/** Server options; initialise with BPT_KX_SERVER_OPTIONS_INIT. */
typedef struct bpt_kx_server_options {
    unsigned version;               /**< BPT_KX_SERVER_OPTIONS_VERSION */
    const char *listen_host;        /**< numeric IPv4/IPv6 address; default "127.0.0.1" */
    uint16_t port;                  /**< 0: an ephemeral port (see bpt_kx_server_port()) */
    size_t max_body_bytes;          /**< request bodies above this get 413 (default 64 KiB) */
    unsigned rate_limit_burst;      /**< per-client burst; 0 disables rate limiting */
    unsigned rate_limit_per_minute; /**< per-client refill rate */
    unsigned retry_after_secs;      /**< Retry-After on 503 capacity */
    unsigned threads;               /**< server threads (default 2) */
    bpt_clock clock;                /**< rate-limit clock; {NULL, NULL}: system time */
    bpt_kx_store *store;            /**< borrowed; NULL: secrets only go to on_secret */
    bpt_kx_secret_fn on_secret;     /**< optional embedder callback */
    void *on_secret_userdata;
    bool legacy_v0; /**< also accept the Rust crate's v0 SealedSecretPayload (off by default);
                         its one secret is stored as "sealed_secret" */
    /* version 2 */
    unsigned max_connections;            /**< open connections at most (default 512) */
    unsigned max_connections_per_client; /**< per client address (default 32) */
    unsigned request_deadline_ms;      /**< the whole request head and body must arrive within this
                                            from the connection's start or the previous answer
                                            (default 10000); the connection is closed otherwise */
    const uint8_t *authorized_senders; /**< n x 32-byte Ed25519 public keys (copied); when
                                            set, every delivery must be signed by one */
    size_t n_authorized_senders;
    /* version 3 */
    /** Listen on this unix socket instead of listen_host:port (NULL: TCP). The path (shorter
     *  than sun_path) is created with mode 0600; a socket left there by an earlier server is
     *  replaced, anything else at the path is refused; stopping removes it. Every client of a
     *  unix socket counts as one address for the per-client limits: the socket's permissions
     *  (and its directory's) decide who may connect. */
    const char *listen_unix;
} bpt_kx_server_options;

/** Versions 1 and 2 (without the fields after legacy_v0, resp. n_authorized_senders) are still
 *  accepted with those fields at their defaults. */
#define BPT_KX_SERVER_OPTIONS_VERSION 3
#define BPT_KX_DEFAULT_MAX_CONNECTIONS 512
#define BPT_KX_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 32
#define BPT_KX_DEFAULT_REQUEST_DEADLINE_MS 10000
/** Authorized sender keys a server takes at most. */
#define BPT_KX_MAX_AUTHORIZED_SENDERS 64
#define BPT_KX_SERVER_OPTIONS_INIT                                                                 \
    {                                                                                              \
        BPT_KX_SERVER_OPTIONS_VERSION, "127.0.0.1", 0, 64u * 1024u, 60, 600, 5, 2, {NULL, NULL},   \
            NULL, NULL, NULL, false, BPT_KX_DEFAULT_MAX_CONNECTIONS,                               \
            BPT_KX_DEFAULT_MAX_CONNECTIONS_PER_CLIENT, BPT_KX_DEFAULT_REQUEST_DEADLINE_MS, NULL,   \
            0, NULL                                                                                \
    }

typedef struct bpt_kx_server bpt_kx_server;

/**
 * Start serving DESIGN.md §6 over HTTP on its own threads: POST /v1/sessions,
 * POST /v1/sessions/{id}/secrets, GET /v1/attestation, GET /healthz, GET /metrics.
 * @param svc borrowed; must outlive the server. Options are copied (the store and callback
 *            are borrowed and must outlive the server).
 * @return 0; BPT_EINVAL (bad options or address; neither store nor on_secret); BPT_EIO (bind
 *         or listen failed, e.g. the port is in use).
 */
BPT_API BPT_MUST_USE int bpt_kx_server_start(bpt_kx_server **out, bpt_kx_service *svc,
                                             const bpt_kx_server_options *opts);

/** The port the server listens on (the real one when 0 was asked for; 0 on a unix socket). */
BPT_API uint16_t bpt_kx_server_port(const bpt_kx_server *srv);

/** Stop accepting, finish the requests in progress, join the threads and free; NULL: no-op. */
BPT_API void bpt_kx_server_stop(bpt_kx_server *srv);

/* ---- client (libcurl, through the library's one HTTP transport) ------------------------ */

struct bpt_verifier;

/** One secret to send (borrowed by bpt_kx_client_send()). */
typedef struct bpt_kx_client_secret {
    const char *name;     /**< non-empty; the HPKE aad */
    const uint8_t *value; /**< may be NULL when len is 0 */
    size_t len;
} bpt_kx_client_secret;

/** What the service answered. */
typedef struct bpt_kx_client_result {
    uint32_t size; /**< sizeof(bpt_kx_client_result) as the caller was compiled (_INIT) */
    char session_id[2 * BPT_KX_SESSION_ID_LEN + 1];
    char key_fingerprint[65];    /**< hex SHA-256 of the session public key */
    char attestation_digest[65]; /**< hex SHA-256 of the verified evidence */
    size_t stored;               /**< secrets the service reported as stored */
} bpt_kx_client_result;

#define BPT_KX_CLIENT_RESULT_INIT                                                                  \
    {                                                                                              \
        .size = sizeof(bpt_kx_client_result)                                                       \
    }

/**
 * The whole client side of DESIGN.md §6: POST /v1/sessions with a fresh 32-byte nonce, verify
 * the returned attestation with @p verifier (bpt_verifier_verify_report()), check that the report's
 * public_key_binding is the session key, recompute report_data from the key, the session id
 * and the nonce and refuse on mismatch, seal each secret (bpt_kx_seal()), and POST them to
 * /v1/sessions/{id}/secrets.
 * Each POST has one 30 s time-out (connecting included); an answer is capped at 1 MiB.
 * @param[out] out     filled on success.
 * @param base_url     https://..., or plain http:// only to a loopback address (127.0.0.0/8,
 *                     localhost, [::1]), e.g. "http://127.0.0.1:8787" (no trailing slash
 *                     needed). Redirects are not followed.
 * @param verifier     borrowed: the verification context (trust roots, collateral sources) and
 *                     the policy (expected measurement, ...) the service must satisfy.
 * @param secrets, n   1..64 secrets.
 * @return 0; BPT_EFETCH (connection failed or timed out, or the service is unavailable:
 *         HTTP 5xx or 429; retrying may help); BPT_EPROTOCOL (any other error status, or an
 *         answer that is not the protocol's: not JSON, a field missing or of the wrong type; the
 *         message carries the server's error code); BPT_ECLAIM
 *         (report_data or key binding mismatch); any attestation kind from verification;
 *         BPT_ELIMIT (an answer over 1 MiB); BPT_EINVAL (arguments, or a URL refused).
 * Threads: reentrant (one libcurl easy handle per call; libcurl's global initialisation is
 * done once by the library, safely from any thread).
 */
BPT_API BPT_MUST_USE int bpt_kx_client_send(bpt_kx_client_result *out, const char *base_url,
                                            const struct bpt_verifier *verifier,
                                            const bpt_kx_client_secret *secrets, size_t n);

/** Client options (size-prefixed: BPT_KX_CLIENT_OPTIONS_INIT). */
typedef struct bpt_kx_client_options {
    uint32_t size; /**< sizeof(bpt_kx_client_options) as the caller was compiled */
    /** An Ed25519 private key in PEM (PKCS#8, as `openssl genpkey -algorithm ed25519` writes),
     *  borrowed: the delivery carries "sender" signed with it (docs/exchange.md). NULL: none. */
    const char *sign_key_pem;
    size_t sign_key_pem_len;
    /** Since 0.1 (runtime): connect to the service's unix socket at this path (shorter than
     *  sun_path; borrowed) instead of the URL's host; the URL then only names the paths, e.g.
     *  "http://localhost". NULL: the URL's host. A caller compiled without this field has a
     *  smaller size and gets NULL. */
    const char *unix_socket;
} bpt_kx_client_options;

#define BPT_KX_CLIENT_OPTIONS_INIT                                                                 \
    {                                                                                              \
        .size = sizeof(bpt_kx_client_options)                                                      \
    }

/**
 * Check client options before anything is sent: the signing key, when set, must be an Ed25519
 * private key in PEM (a CLI checks its --sign-key file with this before it connects).
 * @return 0; BPT_EINVAL (NULL or too small options, not a PEM private key, not Ed25519).
 */
BPT_API BPT_MUST_USE int bpt_kx_client_options_check(const bpt_kx_client_options *opts);

/**
 * bpt_kx_client_send() with options: with a signing key, the secrets body carries
 * `"sender":{"key_type":"ed25519","public_key":..,"signature":..}`, the signature over the
 * session id (16 raw bytes) || SHA-256 of the body without its sender member (docs/exchange.md).
 * The key is loaded into an OpenSSL EVP_PKEY, used once and freed.
 * @return the codes of bpt_kx_client_send(); BPT_EINVAL (not an Ed25519 private key PEM).
 */
BPT_API BPT_MUST_USE int bpt_kx_client_send_with(bpt_kx_client_result *out, const char *base_url,
                                                 const struct bpt_verifier *verifier,
                                                 const bpt_kx_client_secret *secrets, size_t n,
                                                 const bpt_kx_client_options *opts);

/** What bpt_kx_client_session_key() learned (size-prefixed: BPT_KX_CLIENT_KEY_INIT). */
typedef struct bpt_kx_client_key {
    uint32_t size;                                  /**< sizeof(bpt_kx_client_key) (_INIT) */
    char key_type[16];                              /**< "x25519" */
    uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN];      /**< the session's X25519 public key */
    char session_id[2 * BPT_KX_SESSION_ID_LEN + 1]; /**< the session it belongs to (hex) */
    char attestation_digest[65];                    /**< hex SHA-256 of the verified evidence */
    bool has_service_key;    /**< the service binds sessions with its attested service key */
    uint8_t service_key[32]; /**< that Ed25519 key, when has_service_key */
} bpt_kx_client_key;

#define BPT_KX_CLIENT_KEY_INIT                                                                     \
    {                                                                                              \
        .size = sizeof(bpt_kx_client_key)                                                          \
    }

/**
 * The service's real key-exchange key, verified: create a session with a fresh 32-byte nonce
 * and check its answer exactly as bpt_kx_client_send() does before it seals (the evidence under
 * @p verifier, the key binding, report_data over the key, the session id and the nonce; with
 * the service_key binding, the service key's evidence and its signature over the session).
 * Nothing is sealed or sent; the session is left to expire on the service.
 * @param opts NULL, or options whose unix_socket is used (the signing key is not).
 * @return the codes of bpt_kx_client_send().
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_kx_client_session_key(bpt_kx_client_key *out, const char *base_url,
                                                   const struct bpt_verifier *verifier,
                                                   const bpt_kx_client_options *opts);

/**
 * The report_data that `GET /v1/attestation?nonce=HEX` binds (DESIGN.md §6, docs/exchange.md):
 * 32 zero bytes followed by SHA-256(nonce), all 64 zero without a nonce. The server answers
 * with it and a verifier expects exactly it; one function for both, so they cannot drift.
 * @param nonce, nonce_len the decoded nonce: NULL with 0, or BPT_KX_NONCE_MIN..MAX bytes.
 * @return 0; BPT_EINVAL (a nonce of another length).
 */
BPT_API BPT_MUST_USE int bpt_kx_attestation_report_data(uint8_t out[64], const uint8_t *nonce,
                                                        size_t nonce_len);

BPT_END_DECLS

#endif
