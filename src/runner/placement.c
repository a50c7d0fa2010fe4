/* A runtime deployment as the runner's TEE placement (placement.h). */
#include "runner/placement.h"

#include <blueprint-tee/clock.h>
#include <blueprint-tee/verified.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/logging.h"
#include "core/util.h"
#include "runtime/runtime_internal.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long one job may take in the workload, sending and answering included. */
#define FORWARD_TIMEOUT_MS 300000L
/* How long a just-started workload may take to open its socket (the runtime's default). */
#define READY_TIMEOUT_MS 10000L
/* The answer: a body of up to BPT_JOB_BODY_MAX in base64, and its metadata. */
#define ANSWER_MAX (BPT_JOB_BODY_MAX / 3 * 4 + 1024u * 1024u)

/* One verified attestation of the deployment and the socket it was reached by. */
struct placed {
    atomic_int refs;
    bpt_tee_snapshot *snap;
    int fd; /* an O_PATH descriptor of the workload's socket; `via` names it */
    char via[BPT_RUNTIME_VIA_MAX];
    int64_t at; /* when it verified (bpt_time_now) */
};

struct bpt_placement {
    bpt_runtime *rt;
    const bpt_config *config;
    char id[BPT_DEPLOY_NAME_MAX + 1]; /* as given: an id or a live deployment's name */
    uint64_t every_secs;
    pthread_mutex_t mu; /* current, and one attestation at a time */
    struct placed *current;
    atomic_uint_fast64_t sent, refused;
};

/* What bpt_placement_run() hands its handler on this thread, and what comes back. */
struct attempt {
    struct bpt_placement *p;
    struct placed *pl;
    bool undelivered; /* no connection: the job never reached the workload */
    char why[384];
};

static _Thread_local struct attempt *tls_attempt;

static void placed_unref(struct placed *pl)
{
    if (pl && atomic_fetch_sub(&pl->refs, 1) == 1) {
        bpt_tee_snapshot_free(pl->snap);
        if (pl->fd >= 0) {
            close(pl->fd);
        }
        free(pl);
    }
}

int bpt_placement_new(struct bpt_placement **out, bpt_runtime *rt, const char *id,
                      const bpt_config *config, uint64_t every_secs)
{
    struct bpt_placement *p;
    *out = NULL;
    if (!rt || !config || !id || !*id || strlen(id) > BPT_DEPLOY_NAME_MAX ||
        strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(id)) {
        return bpt_err(BPT_EINVAL, "runner: deployment '%.70s': a deployment id or name",
                       id ? id : "(null)");
    }
    if (!(p = calloc(1, sizeof(*p)))) {
        return bpt_err_nomem("runner");
    }
    p->rt = rt;
    p->config = config;
    p->every_secs = every_secs;
    snprintf(p->id, sizeof(p->id), "%s", id);
    pthread_mutex_init(&p->mu, NULL);
    atomic_init(&p->sent, 0);
    atomic_init(&p->refused, 0);
    *out = p;
    return 0;
}

void bpt_placement_free(struct bpt_placement *p)
{
    if (!p) {
        return;
    }
    placed_unref(p->current);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

const char *bpt_placement_id(const struct bpt_placement *p)
{
    return p->id;
}

void bpt_placement_set_interval(struct bpt_placement *p, uint64_t every_secs)
{
    pthread_mutex_lock(&p->mu);
    p->every_secs = every_secs;
    pthread_mutex_unlock(&p->mu);
}

void bpt_placement_stats(struct bpt_placement *p, uint64_t *sent, uint64_t *refused,
                         int64_t *age_secs)
{
    *sent = atomic_load(&p->sent);
    *refused = atomic_load(&p->refused);
    pthread_mutex_lock(&p->mu);
    *age_secs = p->current ? bpt_time_now() - p->current->at : -1;
    pthread_mutex_unlock(&p->mu);
}

void bpt_placement_digest(struct bpt_placement *p, char *out, size_t len)
{
    pthread_mutex_lock(&p->mu);
    snprintf(out, len, "%s", p->current ? bpt_tee_snapshot_digest(p->current->snap) : "");
    pthread_mutex_unlock(&p->mu);
}

/* Attest the deployment now: running, its socket opened the runtime's way, its evidence over a
 * fresh nonce verified, its provider allowed. Under p->mu. */
static int attest(struct placed **out, struct bpt_placement *p)
{
    bpt_deployment *d = NULL;
    bpt_verified *v = NULL;
    struct placed *pl = NULL;
    int rc;

    *out = NULL;
    if ((rc = bpt_runtime_status(&d, p->rt, p->id)) < 0) {
        rc = bpt_err(BPT_EUNSATISFIABLE, "deployment %s: %s", p->id, bpt_error_last());
        goto out;
    }
    if (bpt_deployment_state(d) != BPT_DEPLOY_RUNNING) {
        const char *detail = bpt_deployment_detail(d);
        rc = bpt_err(BPT_EUNSATISFIABLE, "deployment %s is %s%s%s", p->id,
                     bpt_deploy_state_name(bpt_deployment_state(d)), *detail ? ": " : "", detail);
        goto out;
    }
    if (!(pl = calloc(1, sizeof(*pl)))) {
        rc = bpt_err_nomem("runner");
        goto out;
    }
    atomic_init(&pl->refs, 1);
    pl->fd = -1;
    /* the socket first: the attestation below then speaks for this socket or a later one */
    if ((rc = bpt_runtime_wait_socket(bpt_deployment_kx_socket(d), READY_TIMEOUT_MS)) < 0 ||
        (rc = bpt_runtime_socket_open(&pl->fd, pl->via, bpt_deployment_kx_socket(d))) < 0) {
        rc = bpt_err(BPT_EUNSATISFIABLE, "deployment %s: its socket: %s", p->id, bpt_error_last());
        goto out;
    }
    if ((rc = bpt_runtime_attestation(&v, p->rt, bpt_deployment_id(d), NULL, 0)) < 0) {
        rc = bpt_err(BPT_EUNSATISFIABLE, "deployment %s: its attestation did not verify: %s", p->id,
                     bpt_error_last());
        goto out;
    }
    if (!bpt_config_accepts_provider(p->config, bpt_verified_provider(v))) {
        rc = bpt_err(BPT_EUNSATISFIABLE,
                     "deployment %s runs in %s, which the config's providers do not allow", p->id,
                     bpt_provider_name(bpt_verified_provider(v)));
        goto out;
    }
    if ((rc = bpt_tee_snapshot_new(&pl->snap, v)) < 0) {
        goto out;
    }
    v = NULL;
    pl->at = bpt_time_now();
    BPT_LOG(BPT_LOG_INFO, "runner", "deployment %s attested provider=%s digest=%s", p->id,
            bpt_provider_name(bpt_tee_snapshot_provider(pl->snap)),
            bpt_tee_snapshot_digest(pl->snap));
    *out = pl;
    pl = NULL;
    rc = 0;
out:
    placed_unref(pl);
    bpt_verified_free(v);
    bpt_deployment_free(d);
    return rc;
}

/* The attestation to send a job with (a new reference): the current one while it is younger
 * than the interval and not @p stale, else a new one. */
static int acquire(struct placed **out, struct bpt_placement *p, struct placed *stale)
{
    struct placed *pl = NULL;
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (p->current && (p->current == stale || (p->every_secs && bpt_time_now() - p->current->at >=
                                                                    (int64_t)p->every_secs))) {
        placed_unref(p->current);
        p->current = NULL;
    }
    if (!p->current && (rc = attest(&pl, p)) == 0) {
        p->current = pl;
    }
    if (p->current) {
        atomic_fetch_add(&p->current->refs, 1);
        *out = p->current;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int bpt_placement_run(struct bpt_placement *p, bpt_router *router, const bpt_job_call *call,
                      bpt_job_result *result, bpt_kx_store *store)
{
    struct attempt a;
    struct placed *stale = NULL;
    int rc = 0;

    for (int tries = 0; tries < 2; tries++) {
        bpt_tee_context *tee = NULL;
        memset(&a, 0, sizeof(a));
        a.p = p;
        if ((rc = acquire(&a.pl, p, stale)) < 0) {
            break; /* not running, or not verified: the message says which */
        }
        placed_unref(stale);
        stale = NULL;
        if ((rc = bpt_tee_context_new(&tee, a.pl->snap, store, p->id)) < 0) {
            placed_unref(a.pl);
            break;
        }
        tls_attempt = &a;
        rc = bpt_router_dispatch(router, call, result, tee);
        tls_attempt = NULL;
        bpt_tee_context_free(tee);
        if (!a.undelivered) {
            placed_unref(a.pl);
            break;
        }
        /* Nothing reached the workload: attest again (it may have stopped or restarted), once. */
        stale = a.pl;
        rc = bpt_err(BPT_EUNSATISFIABLE, "deployment %s does not accept the job: %s", p->id, a.why);
    }
    placed_unref(stale);
    atomic_fetch_add(rc == 0 ? &p->sent : &p->refused, 1);
    return rc;
}

void bpt_placement_take_answer(bpt_job_result *result, const char *id, const bpt_tee_snapshot *snap,
                               const uint8_t *body, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *b64 = json_object_get(root, "body_b64"), *meta = json_object_get(root, "metadata");
    const char *prov = NULL, *meas = NULL, *k;
    bpt_provider wp = BPT_PROVIDER_UNKNOWN;
    bpt_buf out = BPT_BUF_INIT(BPT_JOB_BODY_MAX);
    json_t *v;

    if (!json_is_string(b64) || !json_is_object(meta)) {
        (void)bpt_job_result_set_error(result, "deployment_protocol",
                                       "deployment %s: its answer is not a job result (%s)", id,
                                       root ? "no body_b64 or metadata" : jerr.text);
        goto out;
    }
    prov = json_string_value(json_object_get(meta, "tee.provider"));
    meas = json_string_value(json_object_get(meta, "tee.measurement"));
    if (!prov || !meas) {
        (void)bpt_job_result_set_error(result, "deployment_unstamped",
                                       "deployment %s answered without a TEE stamp: the workload "
                                       "did not run the job under its attestation",
                                       id);
        goto out;
    }
    if (bpt_provider_parse(&wp, prov) < 0 || wp != bpt_tee_snapshot_provider(snap) ||
        strcmp(meas, bpt_tee_snapshot_measurement(snap)) != 0) {
        (void)bpt_job_result_set_error(result, "deployment_mismatch",
                                       "deployment %s: the workload's stamp (%.40s %.140s) is "
                                       "not the attestation the runner verified (%s %s)",
                                       id, prov, meas,
                                       bpt_provider_name(bpt_tee_snapshot_provider(snap)),
                                       bpt_tee_snapshot_measurement(snap));
        goto out;
    }
    if (bpt_base64_decode(&out, json_string_value(b64), json_string_length(b64), "body_b64") < 0 ||
        bpt_job_result_set_body(result, out.data, out.len) < 0) {
        (void)bpt_job_result_set_error(result, "deployment_protocol", "deployment %s: %s", id,
                                       bpt_error_last());
        goto out;
    }
    json_object_foreach(meta, k, v)
    {
        if (strncmp(k, "tee.", 4) == 0) {
            continue; /* the runner stamps with what it verified (its TeeLayer) */
        }
        if (!json_is_string(v) || bpt_job_result_meta_set(result, k, json_string_value(v)) < 0) {
            (void)bpt_job_result_set_error(result, "deployment_protocol",
                                           "deployment %s: metadata '%.60s' refused", id, k);
            goto out;
        }
    }
out:
    bpt_buf_dispose(&out);
    json_decref(root);
}

/* An error answer (422, 503, ...): {"error":{"code","message"}} as the result's error. */
static void take_error(bpt_job_result *result, const struct attempt *a, long status,
                       const bpt_buf *body)
{
    json_t *root = json_loadb((const char *)body->data, body->len, 0, NULL);
    json_t *err = json_object_get(root, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (code && msg && strlen(code) < 64) {
        (void)bpt_job_result_set_error(result, code, "deployment %s: %.400s", a->p->id, msg);
    } else {
        (void)bpt_job_result_set_error(result, "deployment_protocol",
                                       "deployment %s answered HTTP %ld", a->p->id, status);
    }
    json_decref(root);
}

int bpt_placement_handler(const bpt_job_call *call, bpt_job_result *result,
                          const bpt_tee_context *tee, void *placement)
{
    struct attempt *a = tls_attempt;
    struct bpt_http_request q = {0};
    struct bpt_http_response resp = {0};
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX), hdrs = BPT_BUF_INIT(64 * 1024);
    const char *lines[1 + BPT_JOB_META_MAX_ENTRIES]; /* the call id, then one per entry */
    size_t n_lines = 0, len = 0;
    char url[64];
    const char *k, *v;
    int rc;

    (void)tee;
    if (!a || a->p != placement) {
        return bpt_job_result_set_error(result, "internal",
                                        "the deployment handler runs under bpt_placement_run()");
    }
    /* headers: the call id and the metadata (tee.* is the runner's, never sent) */
    rc = bpt_buf_appendf(&hdrs, "X-Bpt-Call-Id: %llu", (unsigned long long)bpt_job_call_id(call));
    rc = rc < 0 ? rc : bpt_buf_append(&hdrs, "", 1);
    for (size_t i = 0; rc == 0 && bpt_job_call_meta_at(call, i, &k, &v); i++) {
        if (strncmp(k, "tee.", 4) != 0) {
            rc = bpt_buf_appendf(&hdrs, "X-Bpt-Meta-%s: %s", k, v);
            rc = rc < 0 ? rc : bpt_buf_append(&hdrs, "", 1);
        }
    }
    if (rc < 0) {
        bpt_buf_dispose(&hdrs);
        return bpt_job_result_set_error(result, "internal", "%s", bpt_error_last());
    }
    for (size_t off = 0; off < hdrs.len && n_lines < sizeof(lines) / sizeof(lines[0]);
         off += strlen(lines[n_lines++]) + 1) {
        lines[n_lines] = (const char *)hdrs.data + off;
    }
    snprintf(url, sizeof(url), "http://localhost/v1/jobs/%u?format=json", bpt_job_call_index(call));
    q.method = BPT_HTTP_POST;
    q.url = url;
    q.unix_socket = a->pl->via;
    q.headers = lines;
    q.n_headers = n_lines;
    q.body = bpt_job_call_body(call, &len);
    q.body_len = len;
    q.timeout_ms = FORWARD_TIMEOUT_MS;
    resp.body = &body;
    rc = bpt_http_send(&resp, &q);
    if (rc < 0 && resp.failure == BPT_HTTP_FAIL_CONNECT) {
        a->undelivered = true; /* bpt_placement_run() attests again, or refuses */
        snprintf(a->why, sizeof(a->why), "%s", bpt_error_last());
        rc = bpt_job_result_set_error(result, "deployment_unreachable", "deployment %s: %s",
                                      a->p->id, a->why);
    } else if (rc < 0) {
        rc = bpt_job_result_set_error(result, "deployment_unreachable",
                                      "deployment %s: the job was sent but no answer came: %s",
                                      a->p->id, bpt_error_last());
    } else if (resp.status == 200) {
        bpt_placement_take_answer(result, a->p->id, a->pl->snap, body.data, body.len);
    } else {
        take_error(result, a, resp.status, &body);
    }
    bpt_buf_dispose(&body);
    bpt_buf_dispose(&hdrs);
    return 0;
}
