/*
 * The local HTTP job source (DESIGN.md §10): the key-exchange server's listener with the job
 * paths added (server_hooks.h). POST /v1/jobs/{index} submits a call to the runner and the
 * connection waits, suspended, for the worker's result: no server thread is held by a job.
 *
 *   200  the result's body (application/octet-stream) and one X-Bpt-Meta-<key> header per
 *        metadata entry; with ?format=json {"body_b64":..,"metadata":{..}}
 *   422  an error result: {"error":{"code":..,"message":..}}
 *   404  no handler for the index (unknown_job), or a path that is no job
 *   405  not POST;  400  a bad X-Bpt-Meta-* header or ?format;  413  body over the limit;
 *   415  a content type other than application/octet-stream
 *   503  the queue is full (capacity) or the runner is stopping (shutting_down), Retry-After
 *
 * X-Bpt-Meta-<key> request headers become the call's metadata (tee.* ones are refused: 400);
 * X-Bpt-Call-Id (decimal) names the call, else the source numbers calls from 1; the answer
 * carries X-Bpt-Call-Id.
 */
#include <blueprint-tee/runner.h>

#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"
#include "exchange/server_hooks.h"
#include "runner/http_job.h"
#include "runner/runner_internal.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_HEADERS 128
#define DEFAULT_MAX_BODY (1024u * 1024u)
#define RETRY_AFTER_SECS 1

struct http_source {
    char host[64];
    char unix_path[108]; /* "unix:PATH": listen there instead (host empty) */
    uint16_t port;
    bpt_runner *runner; /* while started */
    bpt_attester_opts ao;
    bpt_kx_service *svc;
    bpt_kx_server *srv;
    atomic_uint_fast64_t next_call_id;
};

/* One job on its way: where its answer goes. */
struct waiting {
    bpt_kx_pending *pending;
    bool json;
};

static void on_done(const bpt_job_call *call, const bpt_job_result *res, void *ud)
{
    struct waiting *w = ud;
    bpt_kx_http_answer a;
    bpt_http_job_answer(&a, call, res, w->json);
    bpt_kx_http_complete(w->pending, &a);
    free(w);
}

struct header_list {
    struct bpt_kx_header h[MAX_HEADERS];
    size_t n;
};

static bool collect(const char *name, const char *value, void *ud)
{
    struct header_list *l = ud;
    if (l->n == MAX_HEADERS) {
        return false; /* the server refuses more than this before we are called */
    }
    l->h[l->n].name = name;
    l->h[l->n++].value = value;
    return true;
}

static bool has_job(uint8_t index, void *ud)
{
    struct http_source *hs = ud;
    return bpt_runner_has_job(hs->runner, index);
}

static bpt_kx_hook_route route(bpt_kx_http_request *q, bpt_kx_http_answer *ans, void *ud)
{
    struct http_source *hs = ud;
    struct header_list hl;
    struct bpt_http_job_request jq;
    struct waiting *w;
    bpt_job_call *call = NULL;
    bool json = false;
    int rc;

    hl.n = 0;
    bpt_kx_http_headers(q, collect, &hl);
    jq.method = bpt_kx_http_method(q);
    jq.path = bpt_kx_http_path(q);
    jq.format = bpt_kx_http_query(q, "format");
    jq.headers = hl.h;
    jq.n_headers = hl.n;
    jq.body = bpt_kx_http_body(q, &jq.len);
    bpt_http_job_call(&call, &json, ans, &jq, has_job, hs, atomic_fetch_add(&hs->next_call_id, 1));
    if (!call) {
        return BPT_KX_HOOK_ANSWERED;
    }
    if (!(w = calloc(1, sizeof(*w))) || !(w->pending = bpt_kx_http_defer(q))) {
        free(w);
        bpt_job_call_free(call);
        bpt_http_job_error(ans, 500, "internal", "out of memory", 0);
        return BPT_KX_HOOK_ANSWERED;
    }
    w->json = json;
    /* From here the answer goes through the pending request, also when submitting fails. */
    if ((rc = bpt_runner_submit(hs->runner, call, on_done, w)) < 0) {
        bpt_kx_http_answer a;
        bpt_job_call_free(call);
        if (rc == BPT_EBUSY) {
            bpt_http_job_error(&a, 503, "capacity", "the job queue is full: retry later",
                               RETRY_AFTER_SECS);
        } else {
            bpt_http_job_error(&a, 503, "shutting_down", "the service is stopping",
                               RETRY_AFTER_SECS);
        }
        bpt_kx_http_complete(w->pending, &a);
        free(w);
    }
    return BPT_KX_HOOK_DEFERRED;
}

static const char *check_head(const bpt_kx_http_request *q, unsigned *status, void *ud)
{
    const char *ct = bpt_kx_http_header(q, "Content-Type");
    size_t n = strlen("application/octet-stream");
    (void)ud;
    if (ct && !(strncasecmp(ct, "application/octet-stream", n) == 0 &&
                (ct[n] == 0 || ct[n] == ';' || ct[n] == ' '))) {
        *status = 415;
        return "a job's body is application/octet-stream";
    }
    return NULL;
}

/* {"attestation": <report JSON>}, the shape of the key exchange's answer with a nonce. */
static int attestation(char **json, void *ud)
{
    struct http_source *hs = ud;
    bpt_buf b = BPT_BUF_INIT(BPT_LIMIT_JSON_BYTES);
    char *report = NULL;
    size_t len;
    int rc;
    *json = NULL;
    BPT_CHECK(bpt_runner_report_json(&report, hs->runner));
    BPT_CHECK(bpt_buf_appendf(&b, "{\"attestation\":%s}", report));
    BPT_CHECK(bpt_buf_append(&b, "", 1));
    BPT_CHECK(bpt_buf_detach((uint8_t **)json, &len, &b));
out:
    bpt_free(report);
    bpt_buf_dispose(&b);
    return rc;
}

static int metrics(char **text, void *ud)
{
    struct http_source *hs = ud;
    return bpt_runner_metrics(text, hs->runner);
}

/* Session evidence: the TEE the runner attested with (or its simulator). */
static int attest_session(bpt_report **out, const uint8_t report_data[64], void *ud)
{
    struct http_source *hs = ud;
    return bpt_attest(out, report_data, &hs->ao);
}

/* ---- the source --------------------------------------------------------------------------- */

static void source_stop(void *state)
{
    struct http_source *hs = state;
    if (hs->srv) {
        bpt_runner_set_http_port(hs->runner, 0);
    }
    bpt_kx_server_stop(hs->srv); /* every job it submitted has been answered (runner.h) */
    hs->srv = NULL;
    bpt_kx_service_free(hs->svc);
    hs->svc = NULL;
    hs->runner = NULL;
}

static int source_start(void *state, bpt_runner *runner)
{
    struct http_source *hs = state;
    const bpt_config *cfg = bpt_runner_config(runner);
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    bpt_kx_server_hooks hooks = {BPT_HTTP_JOBS_PREFIX, DEFAULT_MAX_BODY, check_head, route,
                                 attestation,          metrics,          hs};
    bpt_tee_snapshot *snap = bpt_runner_snapshot(runner);
    int rc;

    hs->runner = runner;
    bpt_runner_attester(runner, &hs->ao);
    so.ttl_secs = bpt_config_session_ttl_secs(cfg);
    so.max_sessions = (size_t)bpt_config_max_sessions(cfg);
    if (snap) { /* sessions are attested by the TEE results are stamped with; else none */
        so.attest = attest_session;
        so.attest_userdata = hs;
    }
    bpt_tee_snapshot_free(snap);
    o.listen_host = hs->unix_path[0] ? "127.0.0.1" : hs->host;
    o.port = hs->port;
    o.listen_unix = hs->unix_path[0] ? hs->unix_path : NULL;
    o.store = bpt_runner_store(runner);
    { /* one server thread per core (2..8): jobs run on the runner's workers, not here */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = cores < 2 ? 2 : cores > 8 ? 8 : (unsigned)cores;
    }
    if ((rc = bpt_kx_service_new(&hs->svc, &so)) < 0 ||
        (rc = bpt_kx_service_start_cleanup(hs->svc)) < 0 ||
        (rc = bpt_kx_server_start_hooked(&hs->srv, hs->svc, &o, &hooks)) < 0) {
        source_stop(hs);
        return rc;
    }
    if (hs->unix_path[0]) {
        BPT_LOG(BPT_LOG_INFO, "http", "listening on unix:%s", hs->unix_path);
        return 0;
    }
    bpt_runner_set_http_port(runner, bpt_kx_server_port(hs->srv));
    BPT_LOG(BPT_LOG_INFO, "http", "listening on %s:%u", hs->host, bpt_kx_server_port(hs->srv));
    return 0;
}

static void source_free(void *state)
{
    free(state);
}

static const bpt_source_vtable HTTP_SOURCE = {BPT_SOURCE_VERSION, "http", source_start, source_stop,
                                              source_free};

bpt_source *bpt_source_http_local(const char *listen)
{
    struct http_source *hs;
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    uint8_t addr[16];
    size_t hl = colon ? (size_t)(colon - listen) : 0;

    if (listen && strncmp(listen, "unix:", 5) == 0) { /* a unix socket (a deployment's plane) */
        if (listen[5] != '/' || strlen(listen + 5) >= sizeof(hs->unix_path)) {
            (void)bpt_err(BPT_EINVAL,
                          "http source: listen '%.80s': expected unix:/ABSOLUTE/PATH (under %zu "
                          "bytes)",
                          listen, sizeof(hs->unix_path));
            return NULL;
        }
        if (!(hs = calloc(1, sizeof(*hs)))) {
            (void)bpt_err_nomem("http source");
            return NULL;
        }
        snprintf(hs->unix_path, sizeof(hs->unix_path), "%s", listen + 5);
        atomic_init(&hs->next_call_id, 1);
        return bpt_source_new(&HTTP_SOURCE, hs);
    }
    if (!colon || !hl || hl >= sizeof(hs->host) || !end || end == colon + 1 || *end ||
        port > 65535) {
        (void)bpt_err(BPT_EINVAL, "http source: listen '%.80s': expected HOST:PORT",
                      listen ? listen : "(null)");
        return NULL;
    }
    if (!(hs = calloc(1, sizeof(*hs)))) {
        (void)bpt_err_nomem("http source");
        return NULL;
    }
    /* "[::1]:8788" or "::1:8788" for IPv6 */
    if (listen[0] == '[' && listen[hl - 1] == ']') {
        memcpy(hs->host, listen + 1, hl - 2);
    } else {
        memcpy(hs->host, listen, hl);
    }
    if (inet_pton(AF_INET, hs->host, addr) != 1 && inet_pton(AF_INET6, hs->host, addr) != 1) {
        (void)bpt_err(BPT_EINVAL, "http source: listen '%.80s': the host is a numeric address",
                      listen);
        free(hs);
        return NULL;
    }
    hs->port = (uint16_t)port;
    atomic_init(&hs->next_call_id, 1);
    return bpt_source_new(&HTTP_SOURCE, hs);
}
