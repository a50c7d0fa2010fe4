/*
 * The key exchange's HTTP transport over libmicrohttpd (DESIGN.md §6): it listens, routes,
 * collects bodies up to max_body_bytes (413 beyond, checked from Content-Length first and
 * again while reading), passes every /v1 request through a per-client token bucket (429), and
 * serves /healthz and /metrics. What a request means and how it is answered is protocol.c's
 * job: each handler hands the body to a bpt_kx_answer_* function and sends back the status
 * and JSON of the outcome it returns, with Retry-After on 503 capacity and 429.
 *
 * Against clients that hold connections (slowloris): every connection is registered when
 * libmicrohttpd accepts it; one address may hold max_connections_per_client of them and all
 * together max_connections, and a connection whose request head and body have not fully
 * arrived request_deadline_ms after it opened (or after its previous answer) is shut down by
 * a watchdog thread, however steadily it trickles bytes. libmicrohttpd's own idle time-out is
 * reset by every byte; this deadline is not. A socket is shut down only while it is in the
 * registry, and libmicrohttpd reports a connection closed before it closes the descriptor, so
 * the watchdog never touches a descriptor that was reused. Every refusal is counted by reason
 * for /metrics.
 */
#include "exchange/protocol.h"
#include "exchange/server_hooks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/logging.h"

#define RL_CLIENTS 256
/* headers looked at per request; libmicrohttpd's 64 KiB connection memory bounds them too */
#define MAX_HEADERS 128
/* libmicrohttpd's own limit sits above ours, so that our refusals are the ones counted */
#define MHD_LIMIT_SLACK 64

/* Refusals the transport makes before a request reaches the protocol. */
enum transport_refusal {
    REFUSE_CONNECTIONS,            /* max_connections open */
    REFUSE_CONNECTIONS_PER_CLIENT, /* the address holds max_connections_per_client */
    REFUSE_REQUEST_DEADLINE,       /* head and body did not arrive within the deadline */
    REFUSE_COUNT
};

static const char *const TRANSPORT_REASONS[REFUSE_COUNT] = {
    "connection_limit", "client_connection_limit", "request_deadline"};

/* One open connection, from libmicrohttpd's accept to its close notification. */
struct conn {
    int fd;
    uint8_t addr[16];
    int64_t deadline_ms; /* monotonic; 0 while a request is being answered */
    bool shut;
    struct conn *prev, *next;
};

static const double BUCKETS[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0};
#define NBUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

struct rl_client {
    uint8_t addr[16];
    bool used;
    double tokens;
    int64_t last;
    uint64_t seen; /* for LRU replacement */
};

struct bpt_kx_server {
    bpt_kx_service *svc;
    bpt_kx_server_options opts;
    bpt_kx_delivery delivery; /* from opts: where opened secrets go */
    char host[64];
    struct MHD_Daemon *daemon;
    uint16_t port;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" on TCP */
    dev_t unix_dev;                                              /* the socket file we made */
    ino_t unix_ino;
    pthread_mutex_t rl_mu;
    struct rl_client clients[RL_CLIENTS];
    uint64_t rl_tick;
    uint8_t *senders; /* n_authorized_senders x 32 bytes, owned */
    /* the connection registry and its watchdog */
    pthread_mutex_t conn_mu;
    pthread_cond_t conn_cond;
    struct conn *conns;
    size_t n_conns;
    pthread_t watchdog;
    bool watchdog_running, stopping;
    atomic_uint_fast64_t refusals[BPT_KX_OUTCOME_COUNT];
    atomic_uint_fast64_t transport_refusals[REFUSE_COUNT];
    atomic_uint_fast64_t decrypt_failures, rate_limited, too_large, bad_requests, secrets_stored;
    atomic_uint_fast64_t hist[NBUCKETS + 1];
    atomic_uint_fast64_t hist_count;
    atomic_uint_fast64_t hist_sum_us;
    /* a host's paths (server_hooks.h) and its deferred requests */
    bool hooked;
    bpt_kx_server_hooks hooks;
    pthread_mutex_t pend_mu;
    pthread_cond_t pend_cond;       /* signalled when a deferred request completes */
    struct bpt_kx_pending *pending; /* suspended, not yet answered */
    size_t deferred;                /* deferred requests whose connection has not completed */
};

/* A host's request answered later: one reference for the request, one for the host. */
struct bpt_kx_pending {
    bpt_kx_server *srv;
    struct MHD_Connection *c;
    int refs;      /* under srv->pend_mu */
    bool answered; /* ans holds the answer; the connection was resumed */
    bool listed;   /* in srv->pending */
    bpt_kx_http_answer ans;
    struct bpt_kx_pending *prev, *next;
};

struct req {
    struct timespec start;
    char *body;
    size_t len;
    bpt_kx_outcome refused;         /* BPT_KX_OK, or why the head or body is refused */
    const char *why;                /* static text for the refusal */
    bool answered;                  /* a refusal was queued before the upload ended */
    size_t dropped;                 /* bytes of an oversized chunked body read and dropped */
    bool host;                      /* a path of the host's (server_hooks.h) */
    unsigned host_status;           /* the host's head check refused with this status */
    struct bpt_kx_pending *pending; /* deferred by the host */
};

/* What a host's hook sees of a request. */
struct bpt_kx_http_request {
    bpt_kx_server *srv;
    struct MHD_Connection *c;
    const char *url, *method;
    struct req *rq;
};

/* ---- responses --------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const char *text, unsigned retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Send a protocol answer with the status of its outcome, count a refusal, dispose of it. */
static enum MHD_Result send_answer(bpt_kx_server *srv, struct MHD_Connection *c, bpt_kx_outcome o,
                                   bpt_kx_answer *a, unsigned retry_after)
{
    if (o != BPT_KX_OK && o != BPT_KX_CREATED && (unsigned)o < BPT_KX_OUTCOME_COUNT) {
        atomic_fetch_add(&srv->refusals[o], 1);
    }
    enum MHD_Result ret = send_text(c, bpt_kx_outcome_status(o), "application/json",
                                    bpt_kx_answer_body(a), retry_after);
    bpt_kx_answer_dispose(a);
    return ret;
}

static enum MHD_Result send_error(bpt_kx_server *srv, struct MHD_Connection *c, bpt_kx_outcome o,
                                  const char *message, unsigned retry_after)
{
    bpt_kx_answer a;
    bpt_kx_outcome got = bpt_kx_answer_error(&a, o, message);
    return send_answer(srv, c, got, &a, got == o ? retry_after : 0);
}

/* ---- rate limiting ----------------------------------------------------------------------- */

/* The peer's address as 16 bytes (IPv4 in the first 4) and, when @p text, as text. */
static void client_key(uint8_t key[16], char *text, size_t text_len, struct MHD_Connection *c)
{
    memset(key, 0, 16);
    if (text != NULL) {
        snprintf(text, text_len, "unknown");
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_UNIX) {
        /* every client of a unix socket is one address: key 0, named "unix" */
        if (text != NULL) {
            snprintf(text, text_len, "unix");
        }
    } else if (sa->sa_family == AF_INET) {
        const struct in_addr *a4 = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        memcpy(key, a4, 4);
        if (text != NULL && inet_ntop(AF_INET, a4, text, (socklen_t)text_len) == NULL) {
            snprintf(text, text_len, "unknown");
        }
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        memcpy(key, a6, 16);
        if (text != NULL && inet_ntop(AF_INET6, a6, text, (socklen_t)text_len) == NULL) {
            snprintf(text, text_len, "unknown");
        }
    }
}

/* true when the client may proceed; takes one token. */
static bool rate_allow(bpt_kx_server *srv, struct MHD_Connection *c)
{
    if (srv->opts.rate_limit_burst == 0) {
        return true;
    }
    uint8_t key[16];
    client_key(key, NULL, 0, c);
    int64_t now = bpt_clock_now(&srv->opts.clock);
    bool allow = false;
    pthread_mutex_lock(&srv->rl_mu);
    struct rl_client *slot = NULL, *oldest = &srv->clients[0];
    for (size_t i = 0; i < RL_CLIENTS; i++) {
        struct rl_client *rc = &srv->clients[i];
        if (rc->used && memcmp(rc->addr, key, 16) == 0) {
            slot = rc;
            break;
        }
        if (!rc->used || (oldest->used && rc->seen < oldest->seen)) {
            oldest = rc;
        }
    }
    if (slot == NULL) {
        slot = oldest;
        memcpy(slot->addr, key, 16);
        slot->used = true;
        slot->tokens = srv->opts.rate_limit_burst;
        slot->last = now;
    }
    if (now > slot->last) {
        slot->tokens += (double)(now - slot->last) * srv->opts.rate_limit_per_minute / 60.0;
        if (slot->tokens > srv->opts.rate_limit_burst) {
            slot->tokens = srv->opts.rate_limit_burst;
        }
    }
    slot->last = now;
    slot->seen = ++srv->rl_tick;
    if (slot->tokens >= 1.0) {
        slot->tokens -= 1.0;
        allow = true;
    }
    pthread_mutex_unlock(&srv->rl_mu);
    return allow;
}

/* ---- handlers: the protocol answers, the server counts and sends ------------------------ */

static enum MHD_Result create_session(bpt_kx_server *srv, struct MHD_Connection *c,
                                      const struct req *rq)
{
    bpt_kx_answer a;
    uint8_t key[16];
    char addr[INET6_ADDRSTRLEN];
    client_key(key, addr, sizeof(addr), c);
    bpt_kx_outcome o = bpt_kx_answer_create_session(&a, srv->svc, addr, rq->body, rq->len);
    if (o == BPT_KX_BAD_REQUEST) {
        atomic_fetch_add(&srv->bad_requests, 1);
    }
    return send_answer(srv, c, o, &a,
                       o == BPT_KX_CAPACITY || o == BPT_KX_CLIENT_LIMIT ? srv->opts.retry_after_secs
                                                                        : 0);
}

static enum MHD_Result submit_secrets(bpt_kx_server *srv, struct MHD_Connection *c,
                                      const struct req *rq, const char *id_hex)
{
    bpt_kx_answer a;
    bpt_kx_outcome o =
        bpt_kx_answer_submit_secrets(&a, srv->svc, id_hex, rq->body, rq->len, &srv->delivery);
    if (o == BPT_KX_DECRYPT_FAILED) {
        atomic_fetch_add(&srv->decrypt_failures, 1);
    } else if (o == BPT_KX_BAD_REQUEST) {
        atomic_fetch_add(&srv->bad_requests, 1);
    }
    atomic_fetch_add(&srv->secrets_stored, a.delivered);
    return send_answer(srv, c, o, &a, 0);
}

static enum MHD_Result get_attestation(bpt_kx_server *srv, struct MHD_Connection *c)
{
    bpt_kx_answer a;
    const char *nonce_hex = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "nonce");
    if (nonce_hex == NULL && srv->hooked && srv->hooks.attestation != NULL) {
        /* the host's current attestation: the one its answers are stamped with */
        char *json = NULL;
        if (srv->hooks.attestation(&json, srv->hooks.userdata) < 0) {
            return send_error(srv, c, BPT_KX_CAPACITY, "no attestation now: retry later", 5);
        }
        enum MHD_Result ret = send_text(c, 200, "application/json", json, 0);
        bpt_free(json);
        return ret;
    }
    bpt_kx_outcome o = bpt_kx_answer_attestation(&a, srv->svc, nonce_hex);
    return send_answer(srv, c, o, &a, 0);
}

static enum MHD_Result get_metrics(bpt_kx_server *srv, struct MHD_Connection *c)
{
    bpt_kx_service_stats st = BPT_KX_SERVICE_STATS_INIT;
    bpt_secret_counters sc = BPT_SECRET_COUNTERS_INIT;
    bpt_buf b;
    enum MHD_Result ret;
    int rc = 0;

    bpt_kx_service_get_stats(&st, srv->svc);
    bpt_secret_stats(&sc);
    pthread_mutex_lock(&srv->conn_mu);
    size_t open_conns = srv->n_conns;
    pthread_mutex_unlock(&srv->conn_mu);
    bpt_buf_init(&b, 64 * 1024);
#define M(name, type, help, fmt, val)                                                              \
    if (rc == 0)                                                                                   \
    rc = bpt_buf_appendf(                                                                          \
        &b, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " " fmt "\n", val)
    M("bpt_kx_sessions_created_total", "counter", "Sessions created.", "%llu",
      (unsigned long long)st.created);
    M("bpt_kx_sessions_consumed_total", "counter", "Sessions consumed by a secrets call.", "%llu",
      (unsigned long long)st.consumed);
    M("bpt_kx_sessions_expired_total", "counter", "Sessions removed after their TTL.", "%llu",
      (unsigned long long)st.expired);
    M("bpt_kx_sessions_refused_total", "counter", "Session creations refused at capacity.", "%llu",
      (unsigned long long)st.refused);
    M("bpt_kx_sessions_active", "gauge", "Live sessions.", "%zu", st.active);
    M("bpt_kx_decrypt_failures_total", "counter", "Secrets calls whose secrets did not open.",
      "%llu", (unsigned long long)atomic_load(&srv->decrypt_failures));
    M("bpt_kx_secrets_stored_total", "counter", "Secrets opened and stored.", "%llu",
      (unsigned long long)atomic_load(&srv->secrets_stored));
    M("bpt_http_rate_limited_total", "counter", "Requests refused by the rate limit.", "%llu",
      (unsigned long long)atomic_load(&srv->rate_limited));
    M("bpt_http_payload_too_large_total", "counter", "Requests refused for their body size.",
      "%llu", (unsigned long long)atomic_load(&srv->too_large));
    M("bpt_http_bad_requests_total", "counter", "Requests refused as malformed.", "%llu",
      (unsigned long long)atomic_load(&srv->bad_requests));
    M("bpt_secret_lock_failures_total", "counter", "Secure allocations whose mlock failed.", "%llu",
      (unsigned long long)sc.lock_failures);
    M("bpt_kx_sessions_reclaimed_total", "counter",
      "Unused sessions past first_use_secs removed to make room.", "%llu",
      (unsigned long long)st.reclaimed);
    M("bpt_http_connections_open", "gauge", "Connections open now.", "%zu", open_conns);
#undef M
    if (rc == 0) {
        rc = bpt_buf_append_str(&b, "# HELP bpt_kx_refusals_total Requests and connections "
                                    "refused, by reason.\n"
                                    "# TYPE bpt_kx_refusals_total counter\n");
    }
    for (size_t i = 0; i < BPT_KX_OUTCOME_COUNT && rc == 0; i++) {
        if (i == BPT_KX_OK || i == BPT_KX_CREATED) {
            continue;
        }
        rc = bpt_buf_appendf(&b, "bpt_kx_refusals_total{reason=\"%s\"} %llu\n",
                             bpt_kx_outcome_code((bpt_kx_outcome)i),
                             (unsigned long long)atomic_load(&srv->refusals[i]));
    }
    for (size_t i = 0; i < REFUSE_COUNT && rc == 0; i++) {
        rc =
            bpt_buf_appendf(&b, "bpt_kx_refusals_total{reason=\"%s\"} %llu\n", TRANSPORT_REASONS[i],
                            (unsigned long long)atomic_load(&srv->transport_refusals[i]));
    }
    if (rc == 0) {
        rc = bpt_buf_append_str(&b, "# HELP bpt_http_request_duration_seconds Request latency.\n"
                                    "# TYPE bpt_http_request_duration_seconds histogram\n");
    }
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKETS && rc == 0; i++) {
        cum += atomic_load(&srv->hist[i]);
        rc = bpt_buf_appendf(&b, "bpt_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                             BUCKETS[i], (unsigned long long)cum);
    }
    if (rc == 0) {
        uint64_t count = atomic_load(&srv->hist_count);
        rc =
            bpt_buf_appendf(&b,
                            "bpt_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                            "bpt_http_request_duration_seconds_sum %.6f\n"
                            "bpt_http_request_duration_seconds_count %llu\n",
                            (unsigned long long)count, (double)atomic_load(&srv->hist_sum_us) / 1e6,
                            (unsigned long long)count);
    }
    if (rc == 0 && srv->hooked && srv->hooks.metrics != NULL) {
        char *more = NULL;
        if ((rc = srv->hooks.metrics(&more, srv->hooks.userdata)) == 0) {
            rc = bpt_buf_append_str(&b, more);
        }
        bpt_free(more);
    }
    if (rc == 0) {
        rc = bpt_buf_append(&b, "", 1);
    }
    ret = rc == 0 ? send_text(c, 200, "text/plain; version=0.0.4", (const char *)b.data, 0)
                  : send_error(srv, c, BPT_KX_INTERNAL, "metrics", 0);
    bpt_buf_dispose(&b);
    return ret;
}

/* ---- a host's paths (server_hooks.h) ----------------------------------------------------- */

const char *bpt_kx_http_method(const bpt_kx_http_request *q)
{
    return q->method;
}

const char *bpt_kx_http_path(const bpt_kx_http_request *q)
{
    return q->url;
}

const char *bpt_kx_http_query(const bpt_kx_http_request *q, const char *key)
{
    return MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, key);
}

const char *bpt_kx_http_header(const bpt_kx_http_request *q, const char *name)
{
    return MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, name);
}

struct header_walk {
    bool (*fn)(const char *name, const char *value, void *ud);
    void *ud;
};

static enum MHD_Result walk_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct header_walk *w = cls;
    (void)kind;
    return w->fn(key, value ? value : "", w->ud) ? MHD_YES : MHD_NO;
}

void bpt_kx_http_headers(const bpt_kx_http_request *q,
                         bool (*fn)(const char *name, const char *value, void *ud), void *ud)
{
    struct header_walk w = {fn, ud};
    MHD_get_connection_values(q->c, MHD_HEADER_KIND, walk_header, &w);
}

const uint8_t *bpt_kx_http_body(const bpt_kx_http_request *q, size_t *len_out)
{
    *len_out = q->rq->len;
    return (const uint8_t *)(q->rq->body ? q->rq->body : "");
}

void bpt_kx_http_answer_dispose(bpt_kx_http_answer *a)
{
    if (a) {
        free(a->body);
        free(a->headers);
        a->body = NULL;
        a->headers = NULL;
    }
}

/* Send a host's answer (its buffers taken). */
static enum MHD_Result send_host(struct MHD_Connection *c, bpt_kx_http_answer *a)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    if (a->len) {
        r = MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
        if (r) {
            a->body = NULL; /* MHD frees it */
        }
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (r == NULL) {
        bpt_kx_http_answer_dispose(a);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            a->content_type ? a->content_type : "application/octet-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (a->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", a->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    for (char *line = a->headers, *nl; line && *line; line = nl + 1) {
        char *colon = strchr(line, ':');
        if (!(nl = strchr(line, '\n'))) {
            break;
        }
        *nl = '\0';
        if (colon && colon < nl) {
            *colon = '\0';
            MHD_add_response_header(r, line, colon[1] == ' ' ? colon + 2 : colon + 1);
        }
    }
    ret = MHD_queue_response(c, a->status ? a->status : 500, r);
    MHD_destroy_response(r);
    bpt_kx_http_answer_dispose(a);
    return ret;
}

/* Drop one reference (lock not held); the last frees the pending request. */
static void pending_unref(struct bpt_kx_pending *p)
{
    bpt_kx_server *srv = p->srv;
    bool last;
    pthread_mutex_lock(&srv->pend_mu);
    last = --p->refs == 0;
    pthread_mutex_unlock(&srv->pend_mu);
    if (last) {
        bpt_kx_http_answer_dispose(&p->ans);
        free(p);
    }
}

/* Lock held: unlist, keep @p ans as the answer, wake the connection. */
static void pending_answer_locked(struct bpt_kx_pending *p, bpt_kx_http_answer *ans)
{
    bpt_kx_server *srv = p->srv;
    if (p->listed) {
        if (p->prev) {
            p->prev->next = p->next;
        } else {
            srv->pending = p->next;
        }
        if (p->next) {
            p->next->prev = p->prev;
        }
        p->listed = false;
    }
    p->ans = *ans;
    memset(ans, 0, sizeof(*ans));
    p->answered = true;
    MHD_resume_connection(p->c);
}

bpt_kx_pending *bpt_kx_http_defer(bpt_kx_http_request *q)
{
    bpt_kx_server *srv = q->srv;
    struct bpt_kx_pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->srv = srv;
    p->c = q->c;
    p->refs = 2;
    q->rq->pending = p;
    MHD_suspend_connection(q->c);
    pthread_mutex_lock(&srv->pend_mu);
    srv->deferred++;
    p->listed = true;
    p->next = srv->pending;
    if (srv->pending) {
        srv->pending->prev = p;
    }
    srv->pending = p;
    pthread_mutex_unlock(&srv->pend_mu);
    return p;
}

void bpt_kx_http_complete(bpt_kx_pending *p, bpt_kx_http_answer *ans)
{
    pthread_mutex_lock(&p->srv->pend_mu);
    if (p->answered) { /* the server stopped and answered it already */
        bpt_kx_http_answer_dispose(ans);
    } else {
        pending_answer_locked(p, ans);
    }
    pthread_mutex_unlock(&p->srv->pend_mu);
    pending_unref(p);
}

/* The resumed connection of a deferred request: send what the host answered. */
static enum MHD_Result send_pending(bpt_kx_server *srv, struct MHD_Connection *c, struct req *rq)
{
    bpt_kx_http_answer a;
    pthread_mutex_lock(&srv->pend_mu);
    if (!rq->pending->answered) {
        pthread_mutex_unlock(&srv->pend_mu);
        return MHD_YES; /* not yet */
    }
    a = rq->pending->ans;
    memset(&rq->pending->ans, 0, sizeof(rq->pending->ans));
    pthread_mutex_unlock(&srv->pend_mu);
    return send_host(c, &a);
}

/* A whole request on a host's path. */
static enum MHD_Result route_host(bpt_kx_server *srv, struct MHD_Connection *c, const char *url,
                                  const char *method, struct req *rq)
{
    bpt_kx_http_request q = {srv, c, url, method, rq};
    bpt_kx_http_answer a;
    memset(&a, 0, sizeof(a));
    if (srv->hooks.route(&q, &a, srv->hooks.userdata) == BPT_KX_HOOK_DEFERRED && rq->pending) {
        return MHD_YES; /* answered when the host completes it */
    }
    return send_host(c, &a);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void observe(bpt_kx_server *srv, const struct req *rq)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs =
        (double)(now.tv_sec - rq->start.tv_sec) + (double)(now.tv_nsec - rq->start.tv_nsec) / 1e9;
    size_t i = 0;
    while (i < NBUCKETS && secs > BUCKETS[i]) {
        i++;
    }
    atomic_fetch_add(&srv->hist[i], 1);
    atomic_fetch_add(&srv->hist_count, 1);
    atomic_fetch_add(&srv->hist_sum_us, (uint64_t)(secs * 1e6));
}

static enum MHD_Result route(bpt_kx_server *srv, struct MHD_Connection *c, const char *url,
                             const char *method, const struct req *rq)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char id[2 * BPT_KX_SESSION_ID_LEN + 1];
    bpt_kx_route r = bpt_kx_route_parse(url, id);

    if (r == BPT_KX_ROUTE_HEALTHZ) {
        return get ? send_text(c, 200, "application/json", "{\"status\":\"ok\"}", 0)
                   : send_error(srv, c, BPT_KX_METHOD_NOT_ALLOWED, "use GET", 0);
    }
    if (r == BPT_KX_ROUTE_METRICS) {
        return get ? get_metrics(srv, c)
                   : send_error(srv, c, BPT_KX_METHOD_NOT_ALLOWED, "use GET", 0);
    }
    if (r == BPT_KX_ROUTE_NOT_FOUND) {
        return send_error(srv, c, BPT_KX_NOT_FOUND, "no such endpoint", 0);
    }
    if (!rate_allow(srv, c)) {
        atomic_fetch_add(&srv->rate_limited, 1);
        /* one token comes back every 60 / per_minute seconds */
        unsigned pm = srv->opts.rate_limit_per_minute;
        unsigned wait = pm == 0 ? 60 : (60 + pm - 1) / pm;
        return send_error(srv, c, BPT_KX_RATE_LIMITED, "too many requests", wait);
    }
    if (rq->refused != BPT_KX_OK) {
        if (rq->refused == BPT_KX_PAYLOAD_TOO_LARGE) {
            atomic_fetch_add(&srv->too_large, 1);
        } else if (rq->refused == BPT_KX_BAD_REQUEST) {
            atomic_fetch_add(&srv->bad_requests, 1);
        }
        return send_error(srv, c, rq->refused, rq->why, 0);
    }
    switch (r) {
    case BPT_KX_ROUTE_SESSIONS:
        return post ? create_session(srv, c, rq)
                    : send_error(srv, c, BPT_KX_METHOD_NOT_ALLOWED, "use POST", 0);
    case BPT_KX_ROUTE_ATTESTATION:
        return get ? get_attestation(srv, c)
                   : send_error(srv, c, BPT_KX_METHOD_NOT_ALLOWED, "use GET", 0);
    case BPT_KX_ROUTE_SECRETS:
        return post ? submit_secrets(srv, c, rq, id)
                    : send_error(srv, c, BPT_KX_METHOD_NOT_ALLOWED, "use POST", 0);
    case BPT_KX_ROUTE_BAD_SESSION_ID:
        atomic_fetch_add(&srv->bad_requests, 1);
        return send_error(srv, c, BPT_KX_BAD_REQUEST, "a session id is 32 lower-case hex digits",
                          0);
    case BPT_KX_ROUTE_NO_SUCH_SESSION:
        return send_error(srv, c, BPT_KX_SESSION_NOT_FOUND, "no such session", 0);
    default:
        return send_error(srv, c, BPT_KX_NOT_FOUND, "no such endpoint", 0);
    }
}

/* ---- the connection registry and its watchdog -------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The registry entry of @p c (NULL when it has none). */
static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

/* Disarm (@p arm false: a request is being answered) or re-arm the deadline of @p c. */
static void conn_deadline(bpt_kx_server *srv, struct MHD_Connection *c, bool arm)
{
    struct conn *k = conn_of(c);
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&srv->conn_mu);
    k->deadline_ms = arm ? mono_ms() + srv->opts.request_deadline_ms : 0;
    pthread_mutex_unlock(&srv->conn_mu);
}

/* Shut a registered socket down (lock held): libmicrohttpd sees its end and closes it. */
static void conn_shut_locked(bpt_kx_server *srv, struct conn *k, enum transport_refusal why)
{
    if (!k->shut) {
        shutdown(k->fd, SHUT_RDWR);
        k->shut = true;
        atomic_fetch_add(&srv->transport_refusals[why], 1);
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    bpt_kx_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn *k = *socket_context;
        if (k == NULL) {
            return;
        }
        pthread_mutex_lock(&srv->conn_mu);
        if (k->prev != NULL) {
            k->prev->next = k->next;
        } else {
            srv->conns = k->next;
        }
        if (k->next != NULL) {
            k->next->prev = k->prev;
        }
        srv->n_conns--;
        pthread_mutex_unlock(&srv->conn_mu);
        free(k);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct conn *k = calloc(1, sizeof(*k));
    if (fi == NULL || k == NULL) {
        free(k);
        return; /* unregistered: libmicrohttpd's own limits and time-out still apply */
    }
    k->fd = fi->connect_fd;
    client_key(k->addr, NULL, 0, c);
    k->deadline_ms = mono_ms() + srv->opts.request_deadline_ms;
    pthread_mutex_lock(&srv->conn_mu);
    /* connections already shut down and not yet closed by libmicrohttpd do not count */
    size_t same = 0, open = 0;
    for (const struct conn *o = srv->conns; o != NULL; o = o->next) {
        open += !o->shut;
        same += !o->shut && memcmp(o->addr, k->addr, 16) == 0;
    }
    k->next = srv->conns;
    if (srv->conns != NULL) {
        srv->conns->prev = k;
    }
    srv->conns = k;
    srv->n_conns++;
    if (open >= srv->opts.max_connections) {
        conn_shut_locked(srv, k, REFUSE_CONNECTIONS);
    } else if (same >= srv->opts.max_connections_per_client) {
        conn_shut_locked(srv, k, REFUSE_CONNECTIONS_PER_CLIENT);
    }
    pthread_mutex_unlock(&srv->conn_mu);
    *socket_context = k;
}

static void *watchdog_main(void *arg)
{
    bpt_kx_server *srv = arg;
    pthread_mutex_lock(&srv->conn_mu);
    /* a tick of a quarter deadline (at most 1 s): no connection outlives its deadline by
     * more, and nothing needs to wake the watchdog when a deadline is armed */
    int64_t tick =
        srv->opts.request_deadline_ms / 4 < 1000 ? srv->opts.request_deadline_ms / 4 : 1000;
    while (!srv->stopping) {
        int64_t now = mono_ms(), next = now + tick;
        for (struct conn *k = srv->conns; k != NULL; k = k->next) {
            if (k->shut || k->deadline_ms == 0) {
                continue;
            }
            if (k->deadline_ms <= now) {
                conn_shut_locked(srv, k, REFUSE_REQUEST_DEADLINE);
            } else if (k->deadline_ms < next) {
                next = k->deadline_ms;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait_ms = next - now;
        ts.tv_sec += (time_t)(wait_ms / 1000);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&srv->conn_cond, &srv->conn_mu, &ts);
    }
    pthread_mutex_unlock(&srv->conn_mu);
    return NULL;
}

/* ---- requests ---------------------------------------------------------------------------- */

struct head_walk {
    struct bpt_kx_header h[MAX_HEADERS];
    size_t n;
    bool overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct head_walk *w = cls;
    (void)kind;
    if (w->n == MAX_HEADERS) {
        w->overflow = true;
        return MHD_NO;
    }
    w->h[w->n].name = key;
    w->h[w->n].value = value;
    w->n++;
    return MHD_YES;
}

/* The body limit of a request's path. */
static size_t body_limit(const bpt_kx_server *srv, const struct req *rq)
{
    return rq->host ? srv->hooks.max_body_bytes : srv->opts.max_body_bytes;
}

/* The first call of a request (its head is complete): the framing checks. */
static void check_head(bpt_kx_server *srv, struct MHD_Connection *c, const char *url,
                       const char *method, struct req *rq)
{
    struct head_walk w;
    long long cl = -1;
    w.n = 0;
    w.overflow = false;
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &w);
    if (w.overflow) {
        rq->refused = BPT_KX_BAD_REQUEST;
        rq->why = "too many header fields";
        return;
    }
    /* The framing rules hold on every path; the JSON body type only on the key exchange's. */
    rq->refused = bpt_kx_check_head(&cl, &rq->why, rq->host ? NULL : method, w.h, w.n);
    if (rq->refused == BPT_KX_OK && cl >= 0 && (unsigned long long)cl > body_limit(srv, rq)) {
        rq->refused = BPT_KX_PAYLOAD_TOO_LARGE;
        rq->why = "request body exceeds the limit";
    }
    if (rq->refused == BPT_KX_OK && rq->host && srv->hooks.check_head != NULL) {
        bpt_kx_http_request q = {srv, c, url, method, rq};
        unsigned status = 400;
        const char *why = srv->hooks.check_head(&q, &status, srv->hooks.userdata);
        if (why != NULL) {
            rq->refused = status == 415 ? BPT_KX_UNSUPPORTED_MEDIA : BPT_KX_BAD_REQUEST;
            rq->why = why;
        }
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    bpt_kx_server *srv = cls;
    struct req *rq = *con_cls;
    (void)version;

    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL) {
            return MHD_NO;
        }
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        *con_cls = rq;
        rq->host = srv->hooked && strncmp(url, srv->hooks.prefix, strlen(srv->hooks.prefix)) == 0;
        check_head(srv, c, url, method, rq);
        if (rq->refused != BPT_KX_OK) {
            /* answer at once; libmicrohttpd skips the body and closes the connection */
            rq->answered = true;
            conn_deadline(srv, c, false);
            enum MHD_Result ret = rq->host ? send_error(srv, c, rq->refused, rq->why, 0)
                                           : route(srv, c, url, method, rq);
            observe(srv, rq);
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->refused != BPT_KX_OK || n > body_limit(srv, rq) - rq->len) {
            rq->refused = BPT_KX_PAYLOAD_TOO_LARGE;
            rq->why = "request body exceeds the limit";
            if (rq->body != NULL) {
                OPENSSL_cleanse(rq->body, rq->len);
            }
            free(rq->body);
            rq->body = NULL;
            rq->len = 0;
            /* libmicrohttpd 0.9.75 cannot answer mid-upload: the rest of the body is read
             * and dropped, and 413 goes out when it ends; a sender that keeps going past
             * BPT_LIMIT_JSON_BYTES is cut off */
            rq->dropped += n;
            return rq->dropped > BPT_LIMIT_JSON_BYTES + body_limit(srv, rq) ? MHD_NO : MHD_YES;
        }
        char *nb = realloc(rq->body, rq->len + n + 1);
        if (nb == NULL) {
            return MHD_NO;
        }
        memcpy(nb + rq->len, upload_data, n);
        rq->body = nb;
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }
    if (rq->pending != NULL) { /* resumed: the host has answered */
        enum MHD_Result ret = send_pending(srv, c, rq);
        observe(srv, rq);
        return ret;
    }
    if (rq->answered) {
        return MHD_YES;
    }
    conn_deadline(srv, c, false); /* the whole request is in: answering is not the client's time */
    if (rq->host) {
        enum MHD_Result ret = rq->refused != BPT_KX_OK ? send_error(srv, c, rq->refused, rq->why, 0)
                                                       : route_host(srv, c, url, method, rq);
        if (rq->pending == NULL) {
            observe(srv, rq);
        }
        return ret;
    }
    enum MHD_Result ret = route(srv, c, url, method, rq);
    observe(srv, rq);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    /* a kept-alive connection has until the deadline for its next request, head and body */
    conn_deadline(cls, c, true);
    struct req *rq = *con_cls;
    if (rq != NULL) {
        if (rq->pending != NULL) {
            bpt_kx_server *srv = cls;
            pthread_mutex_lock(&srv->pend_mu);
            srv->deferred--;
            pthread_cond_broadcast(&srv->pend_cond);
            pthread_mutex_unlock(&srv->pend_mu);
            pending_unref(rq->pending);
        }
        if (rq->body != NULL) {
            OPENSSL_cleanse(rq->body, rq->len);
        }
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/*
 * The unix socket at @p path, bound and listening, mode 0600: a socket file left by an earlier
 * server is replaced (nothing else is). The mode is set before listen(), so no client can
 * connect while the file still has the umask's mode. srv remembers the file, to remove exactly
 * it when stopping.
 */
static int unix_listen(int *fd_out, bpt_kx_server *srv, const char *path)
{
    struct sockaddr_un su;
    struct stat st;
    int fd = -1;

    memset(&su, 0, sizeof(su));
    su.sun_family = AF_UNIX;
    memcpy(su.sun_path, path, strlen(path) + 1); /* length checked by the caller */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return bpt_err(BPT_EINVAL, "kx: %s exists and is not a socket: not replaced", path);
        }
        if (unlink(path) != 0) {
            return bpt_err(BPT_EIO, "kx: cannot remove the old socket %s: %s", path,
                           strerror(errno));
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&su, sizeof(su)) != 0 || chmod(path, 0600) != 0 ||
        lstat(path, &st) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return bpt_err(BPT_EIO, "kx: cannot listen on unix socket %s: %s", path, strerror(e));
    }
    snprintf(srv->unix_path, sizeof(srv->unix_path), "%s", path);
    srv->unix_dev = st.st_dev;
    srv->unix_ino = st.st_ino;
    *fd_out = fd;
    return 0;
}

int bpt_kx_server_start(bpt_kx_server **out, bpt_kx_service *svc, const bpt_kx_server_options *opts)
{
    return bpt_kx_server_start_hooked(out, svc, opts, NULL);
}

int bpt_kx_server_start_hooked(bpt_kx_server **out, bpt_kx_service *svc,
                               const bpt_kx_server_options *opts, const bpt_kx_server_hooks *hooks)
{
    bpt_kx_server *srv = NULL;
    bpt_kx_server_options defaults = BPT_KX_SERVER_OPTIONS_INIT, o = BPT_KX_SERVER_OPTIONS_INIT;
    struct sockaddr_storage ss;
    socklen_t sl = 0;

    if (out == NULL || svc == NULL) {
        return bpt_err(BPT_EINVAL, "kx: server_start: NULL argument");
    }
    *out = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    if (opts->version == 1) {
        /* the first version ends with legacy_v0: the connection limits keep their defaults */
        memcpy(&o, opts, offsetof(bpt_kx_server_options, max_connections));
    } else if (opts->version == 2) {
        /* the second ends with the authorized senders: TCP only */
        memcpy(&o, opts, offsetof(bpt_kx_server_options, listen_unix));
    } else if (opts->version == BPT_KX_SERVER_OPTIONS_VERSION) {
        o = *opts;
    } else {
        return bpt_err(BPT_EINVAL, "kx: server options version %u, want %u", opts->version,
                       BPT_KX_SERVER_OPTIONS_VERSION);
    }
    opts = &o;
    o.version = BPT_KX_SERVER_OPTIONS_VERSION;
    if (o.max_connections == 0 || o.max_connections > 65536 || o.max_connections_per_client == 0 ||
        o.max_connections_per_client > o.max_connections) {
        return bpt_err(BPT_EINVAL,
                       "kx: max_connections %u outside 1..65536 or max_connections_per_client "
                       "%u outside 1..max_connections",
                       o.max_connections, o.max_connections_per_client);
    }
    if (o.request_deadline_ms < 100 || o.request_deadline_ms > 3600u * 1000u) {
        return bpt_err(BPT_EINVAL, "kx: request_deadline_ms %u outside 100..3600000",
                       o.request_deadline_ms);
    }
    if (o.n_authorized_senders > BPT_KX_MAX_AUTHORIZED_SENDERS ||
        (o.n_authorized_senders > 0 && o.authorized_senders == NULL)) {
        return bpt_err(BPT_EINVAL, "kx: %zu authorized senders (at most %d, with their keys)",
                       o.n_authorized_senders, BPT_KX_MAX_AUTHORIZED_SENDERS);
    }
    if (hooks != NULL &&
        (hooks->prefix == NULL || strncmp(hooks->prefix, "/v1/", 4) != 0 ||
         strncmp(hooks->prefix, "/v1/sessions", 12) == 0 ||
         strncmp(hooks->prefix, "/v1/attestation", 15) == 0 || hooks->route == NULL ||
         hooks->max_body_bytes == 0 || hooks->max_body_bytes > BPT_LIMIT_JSON_BYTES * 16u)) {
        return bpt_err(BPT_EINVAL, "kx: hooks need route() and a prefix under /v1/ that is not "
                                   "the key exchange's, and a body limit");
    }
    if (opts->store == NULL && opts->on_secret == NULL) {
        return bpt_err(BPT_EINVAL, "kx: server needs a secret store or an on_secret callback");
    }
    if (opts->max_body_bytes == 0 || opts->max_body_bytes > BPT_LIMIT_JSON_BYTES) {
        return bpt_err(BPT_EINVAL, "kx: max_body_bytes %zu outside 1..%u", opts->max_body_bytes,
                       BPT_LIMIT_JSON_BYTES);
    }
    const char *host = opts->listen_host != NULL ? opts->listen_host : "127.0.0.1";
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (o.listen_unix != NULL) {
        struct sockaddr_un su;
        size_t n = strlen(o.listen_unix);
        if (n == 0 || n >= sizeof(su.sun_path)) {
            return bpt_err(BPT_EINVAL, "kx: unix socket path of %zu bytes (1..%zu)", n,
                           sizeof(su.sun_path) - 1);
        }
        host = "unix";
    } else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(opts->port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(opts->port);
        sl = sizeof(*s6);
        flags |= MHD_USE_IPv6;
    } else {
        return bpt_err(BPT_EINVAL, "kx: listen address '%s' is not a numeric IPv4/IPv6 address",
                       host);
    }
    (void)sl;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return bpt_err_nomem("kx: server");
    }
    srv->svc = svc;
    srv->opts = *opts;
    snprintf(srv->host, sizeof(srv->host), "%s", host);
    srv->opts.listen_host = srv->host;
    srv->delivery.legacy_v0 = opts->legacy_v0;
    srv->delivery.store = opts->store;
    srv->delivery.on_secret = opts->on_secret;
    srv->delivery.on_secret_userdata = opts->on_secret_userdata;
    if (o.n_authorized_senders > 0) {
        srv->senders = malloc(32 * o.n_authorized_senders);
        if (srv->senders == NULL) {
            free(srv);
            return bpt_err_nomem("kx: server");
        }
        memcpy(srv->senders, o.authorized_senders, 32 * o.n_authorized_senders);
        srv->delivery.senders = srv->senders;
        srv->delivery.n_senders = o.n_authorized_senders;
    }
    srv->opts.authorized_senders = srv->senders;
    if (hooks != NULL) {
        srv->hooked = true;
        srv->hooks = *hooks;
        flags |= MHD_ALLOW_SUSPEND_RESUME; /* a host's requests wait for their answer suspended */
    }
    pthread_mutex_init(&srv->pend_mu, NULL);
    pthread_mutex_init(&srv->rl_mu, NULL);
    pthread_mutex_init(&srv->conn_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->conn_cond, &ca);
    pthread_cond_init(&srv->pend_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) != 0) {
        bpt_kx_server_stop(srv);
        return bpt_err(BPT_ERROR, "kx: cannot start the connection watchdog");
    }
    srv->watchdog_running = true;
    unsigned threads = opts->threads == 0 ? 2 : opts->threads;
    /* where to listen: an address libmicrohttpd binds, or our unix socket */
    struct MHD_OptionItem where[2] = {{MHD_OPTION_SOCK_ADDR, 0, &ss}, {MHD_OPTION_END, 0, NULL}};
    int lfd = -1;
    if (o.listen_unix != NULL) {
        int rc = unix_listen(&lfd, srv, o.listen_unix);
        if (rc < 0) {
            bpt_kx_server_stop(srv);
            return rc;
        }
        where[0].option = MHD_OPTION_LISTEN_SOCKET;
        where[0].value = lfd;
        where[0].ptr_value = NULL;
    }
    /* the idle time-out stays as a backstop for answers the client does not read */
    srv->daemon = MHD_start_daemon(
        flags, opts->port, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, where,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        srv, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o.max_connections + MHD_LIMIT_SLACK),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
    if (srv->daemon == NULL) {
        if (lfd >= 0) {
            close(lfd); /* libmicrohttpd closes it only once it runs */
        }
        bpt_kx_server_stop(srv);
        if (o.listen_unix != NULL) {
            return bpt_err(BPT_EIO, "kx: cannot serve on unix socket %s", o.listen_unix);
        }
        return bpt_err(BPT_EIO, "kx: cannot listen on %s port %u", host, (unsigned)opts->port);
    }
    if (o.listen_unix != NULL) {
        srv->port = 0;
        BPT_LOG(BPT_LOG_INFO, "kx", "listening unix=%s", srv->unix_path);
    } else {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        srv->port = di != NULL ? di->port : opts->port;
        BPT_LOG(BPT_LOG_INFO, "kx", "listening host=%s port=%u", host, (unsigned)srv->port);
    }
    srv->opts.listen_unix = srv->unix_path[0] ? srv->unix_path : NULL;
    *out = srv;
    return 0;
}

uint16_t bpt_kx_server_port(const bpt_kx_server *srv)
{
    return srv->port;
}

void bpt_kx_server_stop(bpt_kx_server *srv)
{
    if (srv == NULL) {
        return;
    }
    if (srv->watchdog_running) {
        pthread_mutex_lock(&srv->conn_mu);
        srv->stopping = true;
        pthread_cond_broadcast(&srv->conn_cond);
        pthread_mutex_unlock(&srv->conn_mu);
        pthread_join(srv->watchdog, NULL);
    }
    if (srv->daemon != NULL) {
        /* A host completes what it deferred before stopping us; should it not have, those
         * connections are answered 503 now (libmicrohttpd must not stop with suspended ones)
         * and the host's late completion is dropped. */
        pthread_mutex_lock(&srv->pend_mu);
        while (srv->pending != NULL) {
            bpt_kx_http_answer a;
            memset(&a, 0, sizeof(a));
            a.status = 503;
            a.content_type = "application/json";
            a.retry_after = 1;
            BPT_LOG(BPT_LOG_ERROR, "kx", "stopping with a request not answered by its host");
            pending_answer_locked(srv->pending, &a);
        }
        /* Answers of deferred requests go out on libmicrohttpd's threads once their connection
         * is resumed: let them be sent (a few seconds at most) before the connections close. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 5;
        while (srv->deferred > 0 &&
               pthread_cond_timedwait(&srv->pend_cond, &srv->pend_mu, &until) == 0) {
        }
        pthread_mutex_unlock(&srv->pend_mu);
        MHD_stop_daemon(srv->daemon); /* closes the connections: the registry empties */
    }
    if (srv->unix_path[0]) {
        /* remove our socket file, not one another server has put there since */
        struct stat st;
        if (lstat(srv->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == srv->unix_dev &&
            st.st_ino == srv->unix_ino) {
            (void)unlink(srv->unix_path);
        }
    }
    pthread_cond_destroy(&srv->pend_cond);
    pthread_mutex_destroy(&srv->pend_mu);
    pthread_cond_destroy(&srv->conn_cond);
    pthread_mutex_destroy(&srv->conn_mu);
    pthread_mutex_destroy(&srv->rl_mu);
    free(srv->senders);
    free(srv);
}
