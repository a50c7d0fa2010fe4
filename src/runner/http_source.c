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

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"
#include "exchange/server_hooks.h"
#include "runner/runner_internal.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JOBS_PREFIX "/v1/jobs/"
#define META_HEADER "X-Bpt-Meta-"
#define DEFAULT_MAX_BODY (1024u * 1024u)
#define SERVER_THREADS 4
#define RETRY_AFTER_SECS 1

struct http_source {
    char host[64];
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

/* ---- answers ------------------------------------------------------------------------------ */

static void answer_json(bpt_kx_http_answer *a, unsigned status, json_t *doc, unsigned retry_after)
{
    char *text = NULL;
    memset(a, 0, sizeof(*a));
    a->status = status;
    a->content_type = "application/json";
    a->retry_after = retry_after;
    if (!doc || bpt_json_dump(&text, doc) < 0) {
        a->status = 500;
        text = NULL;
    }
    json_decref(doc);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        a->body = (uint8_t *)strdup(oom);
        a->len = a->body ? sizeof(oom) - 1 : 0;
        return;
    }
    a->body = (uint8_t *)text;
    a->len = strlen(text);
}

/* DESIGN.md §6's error shape. */
static void answer_error(bpt_kx_http_answer *a, unsigned status, const char *code,
                         const char *message, unsigned retry_after)
{
    answer_json(a, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message),
                retry_after);
}

/* A job's result as the HTTP answer. */
static void answer_result(bpt_kx_http_answer *a, const bpt_job_call *call,
                          const bpt_job_result *res, bool json)
{
    size_t n = 0;
    const uint8_t *body;
    const char *k, *v;
    bpt_buf h = BPT_BUF_INIT(256 * 1024);
    char line[64];

    if (!bpt_job_result_is_ok(res)) {
        const char *code = bpt_job_result_error_code(res);
        bool stopping = strcmp(code, "shutting_down") == 0;
        answer_error(a, stopping ? 503 : 422, code, bpt_job_result_error_message(res),
                     stopping ? RETRY_AFTER_SECS : 0);
        return;
    }
    body = bpt_job_result_body(res, &n);
    if (json) {
        json_t *meta = json_object();
        char *b64 = NULL;
        for (size_t i = 0; meta && bpt_job_result_meta_at(res, i, &k, &v); i++) {
            json_object_set_new(meta, k, json_string(v));
        }
        if (bpt_base64_encode(&b64, body, n) < 0) {
            json_decref(meta);
            answer_error(a, 500, "internal", "out of memory", 0);
            return;
        }
        answer_json(a, 200, json_pack("{s:s,s:o*}", "body_b64", b64, "metadata", meta), 0);
        bpt_free(b64);
    } else {
        memset(a, 0, sizeof(*a));
        a->status = 200;
        a->content_type = "application/octet-stream";
        if (n && !(a->body = malloc(n))) {
            answer_error(a, 500, "internal", "out of memory", 0);
            return;
        }
        if (n) {
            memcpy(a->body, body, n);
        }
        a->len = n;
        /* Keys and values were checked when set (middleware.h): no CR, LF or colon in a key. */
        for (size_t i = 0; bpt_job_result_meta_at(res, i, &k, &v); i++) {
            if (bpt_buf_appendf(&h, META_HEADER "%s: %s\n", k, v) < 0) {
                break;
            }
        }
    }
    snprintf(line, sizeof(line), "X-Bpt-Call-Id: %llu\n",
             (unsigned long long)bpt_job_call_id(call));
    if (bpt_buf_append(&h, line, strlen(line)) == 0 && bpt_buf_append(&h, "", 1) == 0) {
        size_t len;
        if (bpt_buf_detach((uint8_t **)&a->headers, &len, &h) < 0) {
            a->headers = NULL;
        }
    }
    bpt_buf_dispose(&h);
}

static void on_done(const bpt_job_call *call, const bpt_job_result *res, void *ud)
{
    struct waiting *w = ud;
    bpt_kx_http_answer a;
    answer_result(&a, call, res, w->json);
    bpt_kx_http_complete(w->pending, &a);
    free(w);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* "/v1/jobs/<0..255>" (decimal, no sign, no leading zero): the index; -1 otherwise. */
static int job_index(const char *path)
{
    const char *p = path + strlen(JOBS_PREFIX);
    int v = 0;
    if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 3) {
        return -1;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v <= 255 ? v : -1;
}

struct meta_walk {
    bpt_job_call *call;
    int rc;
    char bad[160];
};

static bool take_meta(const char *name, const char *value, void *ud)
{
    struct meta_walk *w = ud;
    size_t pl = strlen(META_HEADER);
    if (strncasecmp(name, META_HEADER, pl) != 0) {
        return true;
    }
    if (strncmp(name + pl, "tee.", 4) == 0) {
        w->rc = BPT_EINVAL;
        snprintf(w->bad, sizeof(w->bad), "tee.* metadata is the service's to set");
        return false;
    }
    if ((w->rc = bpt_job_call_meta_set(w->call, name + pl, value)) < 0) {
        snprintf(w->bad, sizeof(w->bad), "%s", bpt_error_last());
        return false;
    }
    return true;
}

/* The call a request makes, or a 400 answer. */
static bool make_call(bpt_job_call **out, struct http_source *hs, bpt_kx_http_request *q,
                      uint8_t index, bpt_kx_http_answer *ans)
{
    size_t len = 0;
    const uint8_t *body = bpt_kx_http_body(q, &len);
    const char *id_text = bpt_kx_http_header(q, "X-Bpt-Call-Id");
    uint64_t call_id;
    struct meta_walk w = {NULL, 0, ""};

    if (id_text) {
        char *end = NULL;
        unsigned long long v = strtoull(id_text, &end, 10);
        if (!*id_text || *end || id_text[0] == '-' || id_text[0] == '+') {
            answer_error(ans, 400, "bad_request", "X-Bpt-Call-Id is a decimal number", 0);
            return false;
        }
        call_id = v;
    } else {
        call_id = atomic_fetch_add(&hs->next_call_id, 1);
    }
    if (bpt_job_call_new(&w.call, 0, call_id, index, body, len) < 0) {
        answer_error(ans, 500, "internal", "cannot make the call", 0);
        return false;
    }
    bpt_kx_http_headers(q, take_meta, &w);
    if (w.rc < 0) {
        bpt_job_call_free(w.call);
        answer_error(ans, 400, "bad_request", w.bad, 0);
        return false;
    }
    *out = w.call;
    return true;
}

static bpt_kx_hook_route route(bpt_kx_http_request *q, bpt_kx_http_answer *ans, void *ud)
{
    struct http_source *hs = ud;
    const char *fmt = bpt_kx_http_query(q, "format");
    int index = job_index(bpt_kx_http_path(q));
    struct waiting *w;
    bpt_job_call *call = NULL;
    int rc;

    if (index < 0) {
        answer_error(ans, 404, "not_found", "no such endpoint (POST /v1/jobs/{0..255})", 0);
        return BPT_KX_HOOK_ANSWERED;
    }
    if (strcmp(bpt_kx_http_method(q), "POST") != 0) {
        answer_error(ans, 405, "method_not_allowed", "use POST", 0);
        return BPT_KX_HOOK_ANSWERED;
    }
    if (fmt && strcmp(fmt, "json") != 0) {
        answer_error(ans, 400, "bad_request", "format: json, or no format for the raw body", 0);
        return BPT_KX_HOOK_ANSWERED;
    }
    if (!bpt_runner_has_job(hs->runner, (uint8_t)index)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "no handler for job %d", index);
        answer_error(ans, 404, "unknown_job", msg, 0);
        return BPT_KX_HOOK_ANSWERED;
    }
    if (!make_call(&call, hs, q, (uint8_t)index, ans)) {
        return BPT_KX_HOOK_ANSWERED;
    }
    if (!(w = calloc(1, sizeof(*w))) || !(w->pending = bpt_kx_http_defer(q))) {
        free(w);
        bpt_job_call_free(call);
        answer_error(ans, 500, "internal", "out of memory", 0);
        return BPT_KX_HOOK_ANSWERED;
    }
    w->json = fmt != NULL;
    /* From here the answer goes through the pending request, also when submitting fails. */
    if ((rc = bpt_runner_submit(hs->runner, call, on_done, w)) < 0) {
        bpt_kx_http_answer a;
        bpt_job_call_free(call);
        if (rc == BPT_EBUSY) {
            answer_error(&a, 503, "capacity", "the job queue is full: retry later",
                         RETRY_AFTER_SECS);
        } else {
            answer_error(&a, 503, "shutting_down", "the service is stopping", RETRY_AFTER_SECS);
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
    bpt_kx_server_hooks hooks = {JOBS_PREFIX, DEFAULT_MAX_BODY, check_head, route,
                                 attestation, metrics,          hs};
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
    o.listen_host = hs->host;
    o.port = hs->port;
    o.store = bpt_runner_store(runner);
    o.threads = SERVER_THREADS;
    if ((rc = bpt_kx_service_new(&hs->svc, &so)) < 0 ||
        (rc = bpt_kx_service_start_cleanup(hs->svc)) < 0 ||
        (rc = bpt_kx_server_start_hooked(&hs->srv, hs->svc, &o, &hooks)) < 0) {
        source_stop(hs);
        return rc;
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
