/**
 * @file middleware.h
 * Jobs (the Blueprint SDK's JobCall / JobResult), the router that sends a call to its handler,
 * layers that wrap the router, the TeeLayer that stamps results with the TEE's attestation, and
 * the TeeContext a handler sees (DESIGN.md §10).
 *
 *   bpt_router *r = NULL;
 *   bpt_router_new(&r);
 *   bpt_router_route(r, 0, square, NULL);         // job 0 -> square(call, result, tee, NULL)
 *   bpt_router_add_layer(r, bpt_tee_layer_as_layer(tee_layer));
 *   bpt_router_dispatch(r, call, result, tee);    // what a runner does for every call
 *
 * Metadata is an ordered map of text to text. Keys are 1..128 bytes of [A-Za-z0-9._-] (they
 * travel as HTTP headers `X-Bpt-Meta-<key>` and as JSON); values are at most 4096 bytes of
 * printable text (no control characters). `tee.*` keys are reserved for the TeeLayer: a handler's
 * own `tee.*` entries are dropped from an ok result before it is stamped, never duplicated.
 *
 * Threads: a call and a result are one object, one thread. A router is configured on one thread;
 * after that bpt_router_dispatch() may run on any number of threads at once (handlers and layers
 * must then be reentrant). A TeeLayer and a snapshot are safe from any thread; a TeeContext is
 * immutable once made.
 */
#ifndef BPT_MIDDLEWARE_H
#define BPT_MIDDLEWARE_H

#include "common.h"
#include "config.h"
#include "exchange.h"
#include "secret.h"
#include "verified.h"

BPT_BEGIN_DECLS

#define BPT_JOB_META_MAX_ENTRIES 64
#define BPT_JOB_META_KEY_MAX 128
#define BPT_JOB_META_VALUE_MAX 4096
/** Longest error message a result keeps (longer ones are cut). */
#define BPT_JOB_ERROR_MESSAGE_MAX 512
/** Largest job body a call or result holds (the local HTTP source's default limit is lower). */
#define BPT_JOB_BODY_MAX (16u * 1024u * 1024u)

/* ---- calls ------------------------------------------------------------------------------- */

typedef struct bpt_job_call bpt_job_call;

/**
 * A job call: which service and call, the job index, and a copy of @p body.
 * @param[out] out free with bpt_job_call_free().
 * @return 0; BPT_EINVAL (NULL out, NULL body with a length); BPT_ELIMIT (body over
 *         BPT_JOB_BODY_MAX); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_job_call_new(bpt_job_call **out, uint64_t service_id, uint64_t call_id,
                                          uint8_t job_index, const uint8_t *body, size_t body_len);
/** Free; NULL does nothing. */
BPT_API void bpt_job_call_free(bpt_job_call *c);

BPT_API uint64_t bpt_job_call_service_id(const bpt_job_call *c);
BPT_API uint64_t bpt_job_call_id(const bpt_job_call *c);
BPT_API uint8_t bpt_job_call_index(const bpt_job_call *c);
/** The body (borrowed until the call is freed); *len_out gets its length. */
BPT_API const uint8_t *bpt_job_call_body(const bpt_job_call *c, size_t *len_out);

/** The caller's 20-byte address, or NULL when the call has none (a local call). */
BPT_API const uint8_t *bpt_job_call_caller(const bpt_job_call *c);
/** Set the caller (20 bytes, copied). @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_job_call_set_caller(bpt_job_call *c, const uint8_t caller[20]);

/**
 * Set a metadata entry (replacing one of the same key, else appended in order).
 * @return 0; BPT_EINVAL (a key or value outside the rules above, named); BPT_ELIMIT (65th
 *         entry); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_job_call_meta_set(bpt_job_call *c, const char *key, const char *value);
/** A metadata value (borrowed), or NULL. */
BPT_API const char *bpt_job_call_meta_get(const bpt_job_call *c, const char *key);
BPT_API size_t bpt_job_call_meta_count(const bpt_job_call *c);
/** Entry @p i in order (borrowed); false past the end. */
BPT_API bool bpt_job_call_meta_at(const bpt_job_call *c, size_t i, const char **key,
                                  const char **value);

/* ---- results ----------------------------------------------------------------------------- */

typedef struct bpt_job_result bpt_job_result;

/** An empty ok result (no body, no metadata). Free with bpt_job_result_free(). */
BPT_API BPT_MUST_USE int bpt_job_result_new(bpt_job_result **out);
/** Free; NULL does nothing. */
BPT_API void bpt_job_result_free(bpt_job_result *r);

/** Make the result ok with a copy of @p body (metadata kept). @return 0; BPT_ELIMIT; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_job_result_set_body(bpt_job_result *r, const uint8_t *body,
                                                 size_t len);
/**
 * Make the result an error: @p code (1..64 bytes of [a-z0-9_], e.g. "invalid_input") and a
 * message (printf-style, cut at 512 bytes); body and metadata are dropped. Returns 0, or
 * BPT_EINVAL for a bad code (the result then carries code "internal").
 */
BPT_API int bpt_job_result_set_error(bpt_job_result *r, const char *code, const char *fmt, ...)
    BPT_PRINTF(3, 4);

BPT_API bool bpt_job_result_is_ok(const bpt_job_result *r);
/** The body (borrowed), for an ok result; *len_out gets its length. */
BPT_API const uint8_t *bpt_job_result_body(const bpt_job_result *r, size_t *len_out);
/** The error code and message (borrowed), or NULL for an ok result. */
BPT_API const char *bpt_job_result_error_code(const bpt_job_result *r);
BPT_API const char *bpt_job_result_error_message(const bpt_job_result *r);

/** Metadata of an ok result, as for calls. @return 0; BPT_EINVAL (on an error result too). */
BPT_API BPT_MUST_USE int bpt_job_result_meta_set(bpt_job_result *r, const char *key,
                                                 const char *value);
BPT_API const char *bpt_job_result_meta_get(const bpt_job_result *r, const char *key);
BPT_API size_t bpt_job_result_meta_count(const bpt_job_result *r);
BPT_API bool bpt_job_result_meta_at(const bpt_job_result *r, size_t i, const char **key,
                                    const char **value);

/* ---- the TEE context a handler sees ------------------------------------------------------ */

/**
 * An attestation snapshot: a verified attestation and what results are stamped with, made
 * once, immutable, reference-counted. A refresh makes a new one and swaps it in.
 */
typedef struct bpt_tee_snapshot bpt_tee_snapshot;

/**
 * A snapshot of @p verified (taken over on success: the caller no longer frees it).
 * @return 0; BPT_EINVAL (NULL); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_tee_snapshot_new(bpt_tee_snapshot **out, bpt_verified *verified);
/** Take a reference; returns @p s. Threads: any. */
BPT_API bpt_tee_snapshot *bpt_tee_snapshot_ref(bpt_tee_snapshot *s);
/** Drop a reference; the last frees it. NULL does nothing. Threads: any. */
BPT_API void bpt_tee_snapshot_free(bpt_tee_snapshot *s);
/** The verified attestation (borrowed for the snapshot's life). */
BPT_API const bpt_verified *bpt_tee_snapshot_attestation(const bpt_tee_snapshot *s);
/** What results are stamped with: lowercase hex SHA-256 of the evidence, "<alg>:<hex>". */
BPT_API const char *bpt_tee_snapshot_digest(const bpt_tee_snapshot *s);
BPT_API const char *bpt_tee_snapshot_measurement(const bpt_tee_snapshot *s);
BPT_API bpt_provider bpt_tee_snapshot_provider(const bpt_tee_snapshot *s);

/**
 * What a handler sees of the TEE: the provider and verified attestation (when the service runs
 * in one), the deployment id, and the secrets the key exchange delivered, by name.
 */
typedef struct bpt_tee_context bpt_tee_context;

/**
 * A context for calls: @p snapshot (a reference is taken; NULL: no TEE), @p store (the sealed
 * secrets; borrowed, must outlive the context; NULL: none), @p deployment_id (copied; NULL).
 * @return 0; BPT_EINVAL; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_tee_context_new(bpt_tee_context **out, bpt_tee_snapshot *snapshot,
                                             bpt_kx_store *store, const char *deployment_id);
/** Free; NULL does nothing. */
BPT_API void bpt_tee_context_free(bpt_tee_context *c);

/** The TEE provider, or BPT_PROVIDER_UNKNOWN when the service runs in none. */
BPT_API bpt_provider bpt_tee_context_provider(const bpt_tee_context *c);
/** The snapshot (borrowed), or NULL. */
BPT_API const bpt_tee_snapshot *bpt_tee_context_snapshot(const bpt_tee_context *c);
/** The verified attestation (borrowed), or NULL. */
BPT_API const bpt_verified *bpt_tee_context_attestation(const bpt_tee_context *c);
/** The deployment id (borrowed), or NULL. */
BPT_API const char *bpt_tee_context_deployment_id(const bpt_tee_context *c);
/**
 * A copy of the sealed secret @p name in the caller's own secure memory (free it with
 * bpt_secret_free(), which cleanses it).
 * @return 0; BPT_ENOTFOUND (no secret of that name was delivered, or no store);
 *         BPT_EINVAL; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_tee_context_secret(bpt_secret **out, const bpt_tee_context *c,
                                                const char *name);

/* ---- router and layers ------------------------------------------------------------------- */

/**
 * A job handler: fill @p result (bpt_job_result_set_body(), _meta_set(), or _set_error()).
 * Return 0; a negative BPT_E* code turns the result into an error with the code's name and
 * this thread's message. Runs on the dispatching thread.
 */
typedef int (*bpt_job_handler)(const bpt_job_call *call, bpt_job_result *result,
                               const bpt_tee_context *tee, void *userdata);

typedef struct bpt_router bpt_router;

/** What a layer calls to run the rest of the chain (the next layer, or the handler). */
typedef struct bpt_job_next bpt_job_next;
BPT_API int bpt_job_next_call(const bpt_job_next *next, const bpt_job_call *call,
                              bpt_job_result *result, const bpt_tee_context *tee);

/**
 * A layer: wraps the router (timeout, concurrency limit, logging, the TeeLayer...). call() runs
 * around the rest of the chain: it may look at or change the result after bpt_job_next_call(),
 * or answer without calling it. It returns as a handler does.
 */
typedef struct bpt_layer {
    unsigned version; /**< BPT_LAYER_VERSION */
    const char *name; /**< static, for messages */
    int (*call)(const bpt_job_call *call, bpt_job_result *result, const bpt_tee_context *tee,
                const bpt_job_next *next, void *state);
    void *state; /**< owned by whoever made the layer; outlives the router */
} bpt_layer;

#define BPT_LAYER_VERSION 1

/** An empty router. @return 0; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_router_new(bpt_router **out);
/** Free; NULL does nothing (layers' states are not freed: their makers own them). */
BPT_API void bpt_router_free(bpt_router *r);
/**
 * Route @p job_index to @p handler (replacing an earlier route of that index).
 * @return 0; BPT_EINVAL (NULL handler); BPT_EBUSY (the router has dispatched already).
 */
BPT_API BPT_MUST_USE int bpt_router_route(bpt_router *r, uint8_t job_index, bpt_job_handler handler,
                                          void *userdata);
/**
 * Add a layer (copied). Layers run in the order added: the first added is the outermost.
 * @return 0; BPT_EINVAL (wrong version, no call); BPT_ELIMIT (16 layers); BPT_EBUSY.
 */
BPT_API BPT_MUST_USE int bpt_router_add_layer(bpt_router *r, const bpt_layer *layer);
/** true when a handler is routed at @p job_index. */
BPT_API bool bpt_router_has_route(const bpt_router *r, uint8_t job_index);

/**
 * Run @p call through the layers to its handler, filling @p result. An unknown job index, a
 * handler's failure or a layer's failure becomes an error result (code "unknown_job", or the
 * failure's name): the call itself then still returns 0. Freezes the router.
 * @return 0 (the result says what happened); BPT_EINVAL (NULL call or result).
 * Threads: any number at once.
 */
BPT_API BPT_MUST_USE int bpt_router_dispatch(bpt_router *r, const bpt_job_call *call,
                                             bpt_job_result *result, const bpt_tee_context *tee);

/* ---- the TeeLayer ------------------------------------------------------------------------ */

/**
 * Stamps every ok result with `tee.attestation.digest` (lowercase hex SHA-256 of the evidence),
 * `tee.provider` (snake_case) and `tee.measurement` (`<alg>:<lowercase hex>`), all three from
 * one snapshot: the call's TeeContext's when it has one (what the handler saw), else the
 * layer's current one, taken once when the handler has answered. A call takes no lock
 * and allocates nothing: a snapshot swap never blocks a call and never mixes two snapshots in
 * one result. Without a snapshot: under `required` an ok result becomes
 * an error ("tee_unavailable"); under `preferred` it is left unstamped (a handler's `tee.*`
 * entries are still dropped: they are never the TEE's word).
 * Threads: safe from any thread.
 */
typedef struct bpt_tee_layer bpt_tee_layer;

/** @return 0; BPT_ENOMEM. Free with bpt_tee_layer_free() after the routers using it. */
BPT_API BPT_MUST_USE int bpt_tee_layer_new(bpt_tee_layer **out, bpt_tee_requirement requirement);
BPT_API void bpt_tee_layer_free(bpt_tee_layer *t);
/** Swap in @p snapshot (a reference is taken; NULL clears). Threads: any. */
BPT_API void bpt_tee_layer_set_snapshot(bpt_tee_layer *t, bpt_tee_snapshot *snapshot);
/** The current snapshot (a new reference: bpt_tee_snapshot_free() it), or NULL. */
BPT_API bpt_tee_snapshot *bpt_tee_layer_snapshot(bpt_tee_layer *t);
/** The layer to add to a router (its state is @p t). */
BPT_API bpt_layer bpt_tee_layer_as_layer(bpt_tee_layer *t);
/** Ok results turned into errors for want of a snapshot (under `required`). Threads: any. */
BPT_API uint64_t bpt_tee_layer_refused(const bpt_tee_layer *t);

BPT_END_DECLS

#endif
