/*
 * The key-exchange server shared with a host (the runner's local HTTP source): the host adds
 * its own paths to the same listener, the attestation GET /v1/attestation answers without a
 * nonce, and lines for /metrics. The server keeps its transport defences for every path
 * (connection caps, the request deadline, the body limit); the key exchange's rate limit and
 * its JSON framing rules stay with its own endpoints.
 *
 * A host's request is answered at once or deferred: the connection is then suspended (no
 * server thread waits) until bpt_kx_http_complete() is called from any thread, exactly once.
 * The host must complete every deferred request before bpt_kx_server_stop().
 */
#ifndef BPT_EXCHANGE_SERVER_HOOKS_H
#define BPT_EXCHANGE_SERVER_HOOKS_H

#include <blueprint-tee/exchange.h>

/** A request on one of the host's paths, valid for the route() call that gets it. */
typedef struct bpt_kx_http_request bpt_kx_http_request;

const char *bpt_kx_http_method(const bpt_kx_http_request *q);
/** The path, without the query string. */
const char *bpt_kx_http_path(const bpt_kx_http_request *q);
/** A query argument (decoded), NULL when absent. */
const char *bpt_kx_http_query(const bpt_kx_http_request *q, const char *key);
/** A request header (case-insensitive name), NULL when absent. */
const char *bpt_kx_http_header(const bpt_kx_http_request *q, const char *name);
/** Each request header in order; @p fn returns false to stop. */
void bpt_kx_http_headers(const bpt_kx_http_request *q,
                         bool (*fn)(const char *name, const char *value, void *ud), void *ud);
/** The whole body (at most the hooks' max_body_bytes). */
const uint8_t *bpt_kx_http_body(const bpt_kx_http_request *q, size_t *len_out);

/** What the host answers. The server takes body and headers (malloc'd) and frees them. */
typedef struct bpt_kx_http_answer {
    unsigned status;
    const char *content_type; /**< static text */
    uint8_t *body;
    size_t len;
    char *headers;        /**< "Name: value\n" lines, or NULL; names and values already checked */
    unsigned retry_after; /**< > 0: a Retry-After header */
} bpt_kx_http_answer;

/** Free an answer's buffers (for a host that gives up on one). */
void bpt_kx_http_answer_dispose(bpt_kx_http_answer *a);

/** The outcome of the host's route(). */
typedef enum bpt_kx_hook_route {
    BPT_KX_HOOK_ANSWERED, /**< *ans is filled: sent now */
    BPT_KX_HOOK_DEFERRED  /**< bpt_kx_http_defer() was called: answered later */
} bpt_kx_hook_route;

/** A request whose answer comes later. */
typedef struct bpt_kx_pending bpt_kx_pending;

/** In route(): take @p q to answer later (its connection waits, suspended). NULL: out of
 * memory (answer at once instead). */
bpt_kx_pending *bpt_kx_http_defer(bpt_kx_http_request *q);
/** Answer a deferred request (takes @p ans's buffers); any thread, exactly once. */
void bpt_kx_http_complete(bpt_kx_pending *p, bpt_kx_http_answer *ans);

typedef struct bpt_kx_server_hooks {
    /** Paths starting with this are the host's ("/v1/jobs/"). */
    const char *prefix;
    /** Request bodies on the host's paths above this get 413. */
    size_t max_body_bytes;
    /** The request head's framing on the host's paths: NULL to take it, else the reason for a
     * 415 (its content type) or 400. Called before the body is read. */
    const char *(*check_head)(const bpt_kx_http_request *q, unsigned *status, void *ud);
    /** A whole request on the host's paths. */
    bpt_kx_hook_route (*route)(bpt_kx_http_request *q, bpt_kx_http_answer *ans, void *ud);
    /** GET /v1/attestation without a nonce: the host's current attestation, in the answer's
     * shape {"attestation": <report JSON>} (malloc'd). A negative code answers 503 with the
     * thread's message. NULL: as without hooks (fresh evidence binding no nonce). */
    int (*attestation)(char **json, void *ud);
    /** Text appended to /metrics (malloc'd); NULL: nothing. */
    int (*metrics)(char **text, void *ud);
    void *userdata;
} bpt_kx_server_hooks;

/** bpt_kx_server_start() with @p hooks (copied; userdata borrowed, outliving the server). */
BPT_MUST_USE int bpt_kx_server_start_hooked(bpt_kx_server **out, bpt_kx_service *svc,
                                            const bpt_kx_server_options *opts,
                                            const bpt_kx_server_hooks *hooks);

#endif
