/*
 * The runner (runner.h): start-up by mode and requirement, a bounded queue in front of a fixed
 * pool of workers, the attestation snapshot the TeeLayer stamps with (and its refresh), the
 * sealed-secret store, metrics, and an orderly stop.
 *
 * Locks: `mu` guards the queue and the state flags; workers wait on `work`, stop() waits on
 * `idle`. A job runs with no lock held. The snapshot is owned by the TeeLayer (its own lock-free
 * swap); the runner only keeps the time it was made.
 */
#include <blueprint-tee/attester.h>
#include <blueprint-tee/detect.h>
#include <blueprint-tee/runner.h>
#include <blueprint-tee/verify.h>

#include "attester/sim/tokens.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/logging.h"
#include "core/util.h"
#include "runner/placement.h"
#include "runner/routing.h"
#include "runner/runner_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define DEFAULT_WORKERS 4
#define DEFAULT_QUEUE 256
#define DEFAULT_DRAIN_MS 10000L

static const double LATENCY_BUCKETS[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
#define N_BUCKETS (sizeof(LATENCY_BUCKETS) / sizeof(LATENCY_BUCKETS[0]))

struct job {
    bpt_job_call *call;
    bpt_runner_done_fn done;
    void *userdata;
};

#define MAX_SOURCES 8

struct bpt_source {
    const bpt_source_vtable *vt;
    void *state;
    bool started;
};

struct bpt_runner {
    const bpt_config *config;
    bpt_runner_opts opts;
    bpt_verify_ctx *ctx; /* a reference */
    bpt_policy *policy;  /* a copy */
    bpt_router *router;  /* borrowed: the caller's handlers and layers */
    bpt_router *outer;   /* ours: the TeeLayer around the caller's router, which stays as given */
    bpt_tee_layer *tee;  /* stamps results; NULL when the mode is disabled */
    bpt_kx_store *store;

    pthread_mutex_t mu;
    pthread_cond_t work, idle, tick;
    struct job *queue;
    size_t head, count;
    size_t in_flight;
    bool started, stopping;
    pthread_t *threads;
    size_t n_threads;
    pthread_t refresher;
    bool refresher_running;
    int64_t attested_at; /* the current snapshot's time (0: none) */
    char *report_json;   /* the report the current snapshot was verified from (NULL: none) */
    _Atomic uint16_t http_port;
    uint64_t schedule_secs; /* re-attest this often (0: never), set at start */
    bpt_source *sources[MAX_SOURCES];
    size_t n_sources;
    atomic_bool shutdown;       /* bpt_runner_shutdown(): run() returns */
    struct bpt_routing routing; /* which jobs may run here (hybrid routing, the chain's rule) */
    struct bpt_placement *placement; /* the runtime deployment TEE jobs go to, or NULL */
    bpt_router *deploy;              /* the TeeLayer around the deployment's handler */

    atomic_uint_fast64_t jobs[256][2]; /* [index][0 ok, 1 error] */
    atomic_uint_fast64_t latency[N_BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us, rejected;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The outer router's one handler: the caller's router, with its own layers, inside the
 * TeeLayer (outermost, so it stamps what every other layer left). */
static int to_caller_router(const bpt_job_call *call, bpt_job_result *result,
                            const bpt_tee_context *tee, void *state)
{
    bpt_runner *r = state;
    return bpt_router_dispatch(r->router, call, result, tee);
}

static int check_opts(const bpt_runner_opts *o)
{
    if (o->version != BPT_RUNNER_OPTS_VERSION || o->workers > 256 || o->queue_depth > 65536 ||
        o->drain_timeout_ms < 0 || (o->simulate != BPT_PROVIDER_UNKNOWN && !o->sim_dir)) {
        return bpt_err(BPT_EINVAL, "runner: options (from BPT_RUNNER_OPTS_INIT): workers 0..256, "
                                   "queue_depth 0..65536, a sim_dir with simulate");
    }
    return 0;
}

/* The options with their defaults filled in; the context is referenced by the caller. */
static void take_opts(bpt_runner *r, const bpt_runner_opts *o)
{
    r->opts = *o;
    r->opts.workers = o->workers ? o->workers : DEFAULT_WORKERS;
    r->opts.queue_depth = o->queue_depth ? o->queue_depth : DEFAULT_QUEUE;
    r->opts.drain_timeout_ms = o->drain_timeout_ms ? o->drain_timeout_ms : DEFAULT_DRAIN_MS;
}

int bpt_runner_new(bpt_runner **out, const bpt_config *config)
{
    static const bpt_runner_opts defaults = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    int rc;

    if (!out || !config) {
        return bpt_err(BPT_EINVAL, "runner: %s", out ? "no config" : "no out pointer");
    }
    *out = NULL;
    if (bpt_config_mode(config) == BPT_MODE_REMOTE) {
        return bpt_err(BPT_ENOTSUP,
                       "runner: mode remote is not built yet (direct, auto, hybrid and disabled "
                       "are)");
    }
    if (!(r = calloc(1, sizeof(*r)))) {
        return bpt_err_nomem("runner");
    }
    bpt_routing_init(&r->routing);
    r->config = config;
    take_opts(r, &defaults);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->idle, NULL);
    pthread_cond_init(&r->tick, NULL);
    BPT_CHECK(bpt_kx_store_new(&r->store));
    BPT_CHECK(bpt_policy_new(&r->policy));
    /* The TeeLayer in every mode: with no snapshot (disabled, or preferred without a TEE) it
     * stamps nothing but still drops any tee.* entry a handler wrote. */
    BPT_CHECK(bpt_router_new(&r->outer));
    BPT_CHECK(bpt_tee_layer_new(&r->tee, bpt_config_mode(config) == BPT_MODE_DISABLED
                                             ? BPT_REQUIREMENT_PREFERRED
                                             : bpt_config_requirement(config)));
    {
        bpt_layer l = bpt_tee_layer_as_layer(r->tee);
        BPT_CHECK(bpt_router_add_layer(r->outer, &l));
    }
    for (unsigned i = 0; i < 256; i++) {
        BPT_CHECK(bpt_router_route(r->outer, (uint8_t)i, to_caller_router, r));
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_runner_free(r);
    return rc;
}

int bpt_runner_set_options(bpt_runner *r, const bpt_runner_opts *opts)
{
    bpt_policy *p = NULL;
    int rc;
    if (!r || !opts) {
        return bpt_err(BPT_EINVAL, "runner: set_options: NULL argument");
    }
    if (r->started) {
        return bpt_err(BPT_EBUSY, "runner: options are set before the runner starts");
    }
    BPT_CHECK(check_opts(opts));
    BPT_CHECK(opts->policy ? bpt_policy_clone(&p, opts->policy) : bpt_policy_new(&p));
    bpt_policy_free(r->policy);
    r->policy = p;
    bpt_verify_ctx_free(r->ctx);
    r->ctx = bpt_verify_ctx_ref(opts->verify_ctx);
    take_opts(r, opts);
    r->opts.policy = NULL; /* ours is r->policy */
    r->opts.verify_ctx = NULL;
    rc = 0;
out:
    return rc;
}

int bpt_runner_set_deployment(bpt_runner *r, bpt_runtime *rt, const char *id)
{
    struct bpt_placement *p = NULL;
    bpt_router *deploy = NULL;
    int rc;
    if (!r || !rt || !id) {
        return bpt_err(BPT_EINVAL, "runner: set_deployment: NULL argument");
    }
    if (r->started || r->placement) {
        return bpt_err(BPT_EBUSY, "runner: %s",
                       r->started ? "the deployment is set before the runner starts"
                                  : "a deployment is set already");
    }
    BPT_CHECK(bpt_placement_new(&p, rt, id, r->config, 0));
    BPT_CHECK(bpt_router_new(&deploy));
    {
        bpt_layer l = bpt_tee_layer_as_layer(r->tee); /* stamps with the deployment's snapshot */
        BPT_CHECK(bpt_router_add_layer(deploy, &l));
    }
    for (unsigned i = 0; i < 256; i++) {
        BPT_CHECK(bpt_router_route(deploy, (uint8_t)i, bpt_placement_handler, p));
    }
    r->placement = p;
    r->deploy = deploy;
    p = NULL;
    deploy = NULL;
    rc = 0;
out:
    bpt_router_free(deploy);
    bpt_placement_free(p);
    return rc;
}

int bpt_runner_set_router(bpt_runner *r, bpt_router *router)
{
    if (!r || !router) {
        return bpt_err(BPT_EINVAL, "runner: NULL router");
    }
    if (r->started) {
        return bpt_err(BPT_EBUSY, "runner: the router is set before the runner starts");
    }
    r->router = router;
    return 0;
}

bpt_kx_store *bpt_runner_store(bpt_runner *r)
{
    return r ? r->store : NULL;
}

bpt_tee_snapshot *bpt_runner_snapshot(bpt_runner *r)
{
    return r ? bpt_tee_layer_snapshot(r->tee) : NULL;
}

/* ---- attestation -------------------------------------------------------------------------- */

/* The context that verifies our own evidence: the caller's, else one trusting the simulator's
 * roots (simulated TEE) or the pinned roots. */
static int own_ctx(bpt_verify_ctx **out, const bpt_runner *r)
{
    char path[4200];
    bpt_buf roots = BPT_BUF_INIT(1024 * 1024);
    bpt_verify_ctx *c = NULL;
    int rc;

    if (r->ctx) {
        *out = bpt_verify_ctx_ref(r->ctx);
        return 0;
    }
    BPT_CHECK(bpt_verify_ctx_new(&c, NULL));
    if (r->opts.simulate != BPT_PROVIDER_UNKNOWN) {
        snprintf(path, sizeof(path), "%s/trust-roots.pem", r->opts.sim_dir);
        BPT_CHECK(bpt_file_read(&roots, path));
        BPT_CHECK(bpt_verify_ctx_add_trust_root_pem(c, (const char *)roots.data, roots.len));
        if (r->opts.simulate == BPT_PROVIDER_GCP_CONFIDENTIAL ||
            r->opts.simulate == BPT_PROVIDER_AZURE_SNP) {
            /* a simulated token service: its keys, as the simulator publishes them */
            snprintf(path, sizeof(path), "%s/%s/jwks.json", r->opts.sim_dir,
                     r->opts.simulate == BPT_PROVIDER_AZURE_SNP ? "azure-maa" : "gcp-confidential");
            bpt_buf_reset(&roots);
            BPT_CHECK(bpt_file_read(&roots, path));
            BPT_CHECK(bpt_verify_ctx_set_jwks_json(c, (const char *)roots.data, roots.len));
        }
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    bpt_buf_dispose(&roots);
    bpt_verify_ctx_free(c);
    return rc;
}

/* Evidence of this TEE binding a fresh nonce, verified and held to the nonce: a snapshot, and
 * the report (JSON) it was made from, for GET /v1/attestation. */
static int attest_self(bpt_tee_snapshot **out, char **report_json, bpt_runner *r)
{
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    uint8_t nonce[32];
    char hex[65];
    bpt_report *rep = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    int rc;

    *out = NULL;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return bpt_err(BPT_ERROR, "runner: no randomness for the attestation nonce");
    }
    bpt_hex_encode_to(hex, nonce, sizeof(nonce)); /* the nonce is this text (the nonce rule) */
    ao.simulate = r->opts.simulate;
    ao.sim_dir = r->opts.sim_dir;
    ao.root = r->opts.root;
    if ((rc = bpt_attest_nonce(&rep, (const uint8_t *)hex, strlen(hex), &ao)) < 0) {
        goto out; /* the attester's message names what is missing */
    }
    BPT_CHECK(own_ctx(&ctx, r));
    BPT_CHECK(bpt_policy_clone(&p, r->policy));
    BPT_CHECK(bpt_policy_set_expected_nonce(p, hex)); /* fresh: this nonce, bound */
    if (r->opts.simulate == BPT_PROVIDER_GCP_CONFIDENTIAL) {
        /* the audience the simulated launcher names when none is asked for */
        BPT_CHECK(bpt_policy_set_expected_audience(p, BPT_SIM_GCP_AUDIENCE));
    }
    if ((rc = bpt_verify_report(&v, ctx, p, rep)) < 0) {
        rc = bpt_err_prefix(rc, "this TEE's own evidence did not verify");
        goto out;
    }
    if (!bpt_config_accepts_provider(r->config, bpt_verified_provider(v))) {
        rc = bpt_err(BPT_EUNSATISFIABLE,
                     "runner: this TEE is %s, which the config's providers "
                     "do not allow",
                     bpt_provider_name(bpt_verified_provider(v)));
        goto out;
    }
    BPT_CHECK(bpt_report_to_json(report_json, rep));
    if ((rc = bpt_tee_snapshot_new(out, v)) < 0) {
        bpt_free(*report_json);
        *report_json = NULL;
        goto out;
    }
    v = NULL;
    rc = 0;
out:
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    bpt_report_free(rep);
    return rc;
}

int bpt_runner_reattest(bpt_runner *r)
{
    bpt_tee_snapshot *s = NULL;
    char *json = NULL;
    int rc;
    if (!r || bpt_config_mode(r->config) == BPT_MODE_DISABLED) {
        return bpt_err(BPT_EINVAL, "runner: %s", r ? "the mode is disabled" : "NULL");
    }
    if ((rc = attest_self(&s, &json, r)) < 0) {
        return rc;
    }
    BPT_LOG(BPT_LOG_INFO, "runner", "attested provider=%s digest=%s",
            bpt_provider_name(bpt_tee_snapshot_provider(s)), bpt_tee_snapshot_digest(s));
    bpt_tee_layer_set_snapshot(r->tee, s);
    bpt_tee_snapshot_free(s);
    pthread_mutex_lock(&r->mu);
    r->attested_at = bpt_time_now();
    bpt_free(r->report_json);
    r->report_json = json;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* Does this host have a TEE to attest with? (auto mode) */
static bool tee_present(const bpt_runner *r, char *why, size_t why_len)
{
    bpt_detection d = BPT_DETECTION_INIT;
    if (r->opts.simulate != BPT_PROVIDER_UNKNOWN) {
        return true;
    }
    if (bpt_detect(&d, r->opts.root, NULL, NULL) < 0) {
        snprintf(why, why_len, "TEE detection failed: %s", bpt_error_last());
        return false;
    }
    if (d.provider == BPT_PROVIDER_UNKNOWN) {
        snprintf(why, why_len,
                 "no TEE found on this host (a test service can use the "
                 "simulated TEE)");
        return false;
    }
    return true;
}

/* The re-attestation schedule: every reattest_secs; a failure keeps the old snapshot while it
 * is younger than the config's maximum age, then drops it (required: results fail closed). */
static void *refresh_loop(void *arg)
{
    bpt_runner *r = arg;
    uint64_t max_age = bpt_config_max_attestation_age_secs(r->config);
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)r->schedule_secs;
        while (!r->stopping && pthread_cond_timedwait(&r->tick, &r->mu, &until) == 0) {
        }
        if (r->stopping) {
            break;
        }
        pthread_mutex_unlock(&r->mu);
        if (bpt_runner_reattest(r) < 0) {
            int64_t age;
            BPT_LOG(BPT_LOG_ERROR, "runner", "re-attestation failed: %s", bpt_error_last());
            pthread_mutex_lock(&r->mu);
            age = r->attested_at ? bpt_time_now() - r->attested_at : 0;
            if (max_age && r->attested_at && age > (int64_t)max_age) {
                r->attested_at = 0;
                bpt_free(r->report_json);
                r->report_json = NULL;
                pthread_mutex_unlock(&r->mu);
                bpt_tee_layer_set_snapshot(r->tee, NULL);
                BPT_LOG(BPT_LOG_ERROR, "runner", "attestation older than max_age=%llus dropped",
                        (unsigned long long)max_age);
            } else {
                pthread_mutex_unlock(&r->mu);
            }
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- workers ------------------------------------------------------------------------------ */

static void observe(bpt_runner *r, const bpt_job_call *call, const bpt_job_result *res, int64_t us)
{
    double secs = (double)us / 1e6;
    size_t b = 0;
    atomic_fetch_add(&r->jobs[bpt_job_call_index(call)][bpt_job_result_is_ok(res) ? 0 : 1], 1);
    while (b < N_BUCKETS && secs > LATENCY_BUCKETS[b]) {
        b++;
    }
    atomic_fetch_add(&r->latency[b], 1);
    atomic_fetch_add(&r->latency_sum_us, (uint64_t)(us > 0 ? us : 0));
}

/* A TEE job in the runtime deployment: 0 when it was sent (or refused: *@p res says so); 1 when
 * a tee_preferred job is to run here after all (*@p res then a fresh result). */
static int run_in_deployment(bpt_runner *r, struct job *j, bpt_job_result **res, int place,
                             const char *rule_why)
{
    uint8_t index = bpt_job_call_index(j->call);
    bpt_job_result *fresh = NULL;
    if (bpt_placement_run(r->placement, r->deploy, j->call, *res, r->store) == 0) {
        return 0;
    }
    if (place == BPT_PLACE_DEPLOYMENT_PREFERRED && bpt_job_result_new(&fresh) == 0) {
        BPT_LOG(BPT_LOG_WARN, "runner", "job %u (tee_preferred) runs here, without a TEE: %s",
                index, bpt_error_last());
        bpt_job_result_free(*res);
        *res = fresh;
        return 1;
    }
    (void)bpt_job_result_set_error(*res, "routing_refused",
                                   "job %u is tee_required (%s): %s; it never runs plainly", index,
                                   rule_why, bpt_error_last());
    return 0;
}

static void run_job(bpt_runner *r, struct job *j)
{
    bpt_job_result *res = NULL;
    bpt_tee_context *tee = NULL;
    bpt_tee_snapshot *snap = bpt_runner_snapshot(r);
    int64_t t0 = mono_us();
    char why[320];
    int place;

    if (bpt_job_result_new(&res) < 0) {
        BPT_LOG(BPT_LOG_ERROR, "runner", "job dropped: out of memory");
        goto out;
    }
    place = bpt_routing_decide(&r->routing, bpt_job_call_index(j->call), snap != NULL,
                               r->placement != NULL, why, sizeof(why));
    if (place < 0) {
        (void)bpt_job_result_set_error(res, "routing_refused", "%s", bpt_error_last());
    } else if (place != BPT_PLACE_HERE && run_in_deployment(r, j, &res, place, why) == 0) {
        /* sent to the deployment, or refused */
    } else if (bpt_tee_context_new(&tee, snap, r->store, NULL) < 0) {
        (void)bpt_job_result_set_error(res, "internal", "tee context: %s", bpt_error_last());
    } else if (bpt_router_dispatch(r->outer, j->call, res, tee) < 0) {
        (void)bpt_job_result_set_error(res, "internal", "%s", bpt_error_last());
    }
    observe(r, j->call, res, mono_us() - t0);
    if (j->done) {
        j->done(j->call, res, j->userdata);
    }
out:
    bpt_tee_context_free(tee);
    bpt_tee_snapshot_free(snap);
    bpt_job_result_free(res);
    bpt_job_call_free(j->call);
}

static void *worker(void *arg)
{
    bpt_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        struct job j;
        while (r->count == 0 && !r->stopping) {
            pthread_cond_wait(&r->work, &r->mu);
        }
        if (r->count == 0) { /* stopping, and nothing left */
            break;
        }
        j = r->queue[r->head];
        r->head = (r->head + 1) % r->opts.queue_depth;
        r->count--;
        r->in_flight++;
        pthread_mutex_unlock(&r->mu);
        run_job(r, &j);
        pthread_mutex_lock(&r->mu);
        r->in_flight--;
        if (r->count == 0 && r->in_flight == 0) {
            pthread_cond_broadcast(&r->idle);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Start the workers (queue and threads sized by the options). */
static int start_workers(bpt_runner *r)
{
    free(r->queue);
    free(r->threads);
    r->queue = calloc(r->opts.queue_depth, sizeof(*r->queue));
    r->threads = calloc(r->opts.workers, sizeof(*r->threads));
    if (!r->queue || !r->threads) {
        return bpt_err_nomem("runner");
    }
    r->head = r->count = r->in_flight = 0;
    pthread_mutex_lock(&r->mu);
    r->started = true;
    r->stopping = false;
    for (size_t i = 0; i < r->opts.workers; i++) {
        if (pthread_create(&r->threads[i], NULL, worker, r) != 0) {
            pthread_mutex_unlock(&r->mu);
            return bpt_err(BPT_ERROR, "runner: cannot start worker %zu", i);
        }
        r->n_threads++;
    }
    if (r->schedule_secs && pthread_create(&r->refresher, NULL, refresh_loop, r) == 0) {
        r->refresher_running = true;
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* The re-attestation schedule: the options' interval, else the config's periodic freshness;
 * logged either way, with why there is none. */
static void schedule(bpt_runner *r, bool attested)
{
    uint64_t every = r->opts.reattest_secs ? r->opts.reattest_secs
                                           : bpt_config_attestation_interval_secs(r->config);
    r->schedule_secs = 0;
    if (!every) {
        BPT_LOG(BPT_LOG_INFO, "runner",
                "attestation_freshness is provision_time_only: attested once, at start");
    } else if (!attested && bpt_config_mode(r->config) == BPT_MODE_AUTO) {
        BPT_LOG(BPT_LOG_WARN, "runner", "not re-attesting every %llus: there is no TEE to attest",
                (unsigned long long)every);
    } else {
        r->schedule_secs = every; /* direct: a failed attestation is retried on the schedule */
        BPT_LOG(BPT_LOG_INFO, "runner", "re-attesting every %llus", (unsigned long long)every);
    }
}

int bpt_runner_start(bpt_runner *r)
{
    char why[512] = "";
    bpt_tee_mode mode;
    bool required;
    int rc = 0;

    if (!r || !r->router) {
        return bpt_err(BPT_EINVAL, "runner: %s", r ? "no router (bpt_runner_set_router)" : "NULL");
    }
    if (r->started) {
        return bpt_err(BPT_EBUSY, "runner: already started");
    }
    mode = bpt_config_mode(r->config);
    required = bpt_config_requirement(r->config) == BPT_REQUIREMENT_REQUIRED;
    if (mode == BPT_MODE_HYBRID) {
        const char *file = NULL;
        if (bpt_config_hybrid_routing(r->config, &file) == BPT_ROUTING_POLICY_FILE &&
            (rc = bpt_routing_load_file(&r->routing, file)) < 0) {
            return rc;
        }
    }
    if (mode != BPT_MODE_DISABLED) {
        /* hybrid probes as auto does: the TEE it finds is where TEE jobs run */
        if ((mode == BPT_MODE_AUTO || mode == BPT_MODE_HYBRID) &&
            !tee_present(r, why, sizeof(why))) {
            rc = BPT_EUNSATISFIABLE;
        } else if ((rc = bpt_runner_reattest(r)) < 0) {
            snprintf(why, sizeof(why), "%s", bpt_error_last());
        }
        if (rc < 0 && required) {
            return bpt_err(BPT_EUNSATISFIABLE,
                           "runner: refusing to start: the TEE requirement is 'required' and %s",
                           why);
        }
        if (rc < 0) {
            BPT_LOG(BPT_LOG_WARN, "runner", "running without a TEE (results unstamped): %s", why);
        }
        schedule(r, rc == 0);
    }
    if (r->placement) { /* the deployment: the options' interval, else the config's */
        bpt_placement_set_interval(
            r->placement, r->opts.reattest_secs ? r->opts.reattest_secs
                                                : bpt_config_attestation_interval_secs(r->config));
    }
    if ((rc = start_workers(r)) < 0) {
        bpt_runner_stop(r);
        return rc;
    }
    for (size_t i = 0; i < r->n_sources; i++) {
        bpt_source *src = r->sources[i];
        if ((rc = src->vt->start(src->state, r)) < 0) {
            rc = bpt_err_prefix(rc, "runner: source %s", src->vt->name ? src->vt->name : "?");
            bpt_runner_stop(r);
            return rc;
        }
        src->started = true;
    }
    if (mode == BPT_MODE_HYBRID &&
        bpt_config_hybrid_routing(r->config, NULL) == BPT_ROUTING_CONTRACT_DRIVEN &&
        !r->routing.chain_set) {
        bpt_runner_stop(r);
        return bpt_err(BPT_EINVAL, "runner: hybrid_routing_source is contract_driven but no chain "
                                   "source told the runner the chain's rule (add the Tangle "
                                   "source)");
    }
    BPT_LOG(BPT_LOG_INFO, "runner", "started mode=%s workers=%zu queue=%zu sources=%zu",
            bpt_tee_mode_name(mode), r->opts.workers, r->opts.queue_depth, r->n_sources);
    return 0;
}

int bpt_runner_submit(bpt_runner *r, bpt_job_call *call, bpt_runner_done_fn done, void *userdata)
{
    if (!r || !call) {
        return bpt_err(BPT_EINVAL, "runner: submit: NULL argument");
    }
    pthread_mutex_lock(&r->mu);
    if (!r->started || r->stopping) {
        pthread_mutex_unlock(&r->mu);
        return bpt_err(BPT_EINVAL, "runner: not taking jobs (%s)",
                       r->stopping ? "stopping" : "not running: start it first");
    }
    if (r->count == r->opts.queue_depth) {
        pthread_mutex_unlock(&r->mu);
        atomic_fetch_add(&r->rejected, 1);
        return bpt_err(BPT_EBUSY, "runner: %zu jobs queued: retry later", r->opts.queue_depth);
    }
    r->queue[(r->head + r->count) % r->opts.queue_depth] = (struct job){call, done, userdata};
    r->count++;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void bpt_runner_stop(bpt_runner *r)
{
    struct timespec until;
    if (!r) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (!r->started || r->stopping) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    /* No new jobs from here on (a source's submit is refused: it answers "try later"); let the
     * workers finish what is queued and in flight, within the deadline; then answer what is
     * still queued. */
    r->stopping = true;
    pthread_cond_broadcast(&r->tick);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += r->opts.drain_timeout_ms / 1000;
    until.tv_nsec += (r->opts.drain_timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while ((r->count || r->in_flight) && pthread_cond_timedwait(&r->idle, &r->mu, &until) == 0) {
    }
    while (r->count) {
        struct job j = r->queue[r->head];
        bpt_job_result *res = NULL;
        r->head = (r->head + 1) % r->opts.queue_depth;
        r->count--;
        if (j.done && bpt_job_result_new(&res) == 0) {
            (void)bpt_job_result_set_error(res, "shutting_down",
                                           "the service stopped before the job ran");
            j.done(j.call, res, j.userdata);
        }
        bpt_job_result_free(res);
        bpt_job_call_free(j.call);
    }
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < r->n_threads; i++) {
        pthread_join(r->threads[i], NULL); /* a job past the deadline is still waited for */
    }
    if (r->refresher_running) {
        pthread_join(r->refresher, NULL);
        r->refresher_running = false;
    }
    r->n_threads = 0;
    /* Every job a source submitted has had its done call: the sources can close. */
    for (size_t i = 0; i < r->n_sources; i++) {
        if (r->sources[i]->started) {
            r->sources[i]->vt->stop(r->sources[i]->state);
            r->sources[i]->started = false;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->started = false;
    r->stopping = false;
    pthread_mutex_unlock(&r->mu);
    BPT_LOG(BPT_LOG_INFO, "runner", "stopped");
}

void bpt_runner_free(bpt_runner *r)
{
    if (!r) {
        return;
    }
    bpt_runner_stop(r);
    for (size_t i = 0; i < r->n_sources; i++) {
        bpt_source_free(r->sources[i]);
    }
    bpt_kx_store_free(r->store); /* cleanses every secret */
    bpt_router_free(r->outer);
    bpt_router_free(r->deploy);
    bpt_placement_free(r->placement);
    bpt_tee_layer_free(r->tee);
    bpt_policy_free(r->policy);
    bpt_verify_ctx_free(r->ctx);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->idle);
    pthread_cond_destroy(&r->tick);
    pthread_mutex_destroy(&r->mu);
    bpt_routing_dispose(&r->routing);
    bpt_free(r->report_json);
    free(r->queue);
    free(r->threads);
    free(r);
}

/* ---- for the sources (runner_internal.h) ---------------------------------------------------- */

const bpt_config *bpt_runner_config(const bpt_runner *r)
{
    return r->config;
}

void bpt_runner_attester(const bpt_runner *r, bpt_attester_opts *ao)
{
    bpt_attester_opts d = BPT_ATTESTER_OPTS_INIT;
    *ao = d;
    ao->simulate = r->opts.simulate;
    ao->sim_dir = r->opts.sim_dir;
    ao->root = r->opts.root;
}

bool bpt_runner_has_job(const bpt_runner *r, uint8_t index)
{
    /* with a deployment, any index may be the workload's: it answers unknown_job itself */
    return r->placement != NULL || bpt_router_has_route(r->router, index);
}

int bpt_runner_report_json(char **out, bpt_runner *r)
{
    int rc = 0;
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    if (!r->report_json) {
        rc = bpt_err(BPT_ENOTFOUND, "runner: no attestation (results are unstamped)");
    } else {
        rc = bpt_strdup(out, r->report_json);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int bpt_runner_require(bpt_runner *r, bpt_confidentiality rule, const char *why)
{
    bpt_tee_snapshot *snap = bpt_runner_snapshot(r);
    bool in_tee = snap != NULL;
    int rc;
    bpt_tee_snapshot_free(snap);
    if (rule == BPT_CONFIDENTIALITY_TEE_REQUIRED && !in_tee && !r->placement) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "runner: refusing to serve: %s says tee_required and this runner has no "
                       "attested TEE and no runtime deployment (--deployment) to place its jobs "
                       "in (tee_required jobs never run plainly)",
                       why);
    }
    if (rule == BPT_CONFIDENTIALITY_STANDARD_REQUIRED && in_tee) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "runner: refusing to serve: %s says standard_required and this runner "
                       "runs in a TEE",
                       why);
    }
    if ((rc = bpt_routing_set_chain(&r->routing, rule, why)) < 0) {
        return rc;
    }
    BPT_LOG(BPT_LOG_INFO, "runner", "routing rule=%s from=%s tee=%s deployment=%s",
            bpt_confidentiality_name(rule), why, in_tee ? "yes" : "no",
            r->placement ? bpt_placement_id(r->placement) : "none");
    return 0;
}

void bpt_runner_set_http_port(bpt_runner *r, uint16_t port)
{
    atomic_store(&r->http_port, port);
}

uint16_t bpt_runner_http_port(const bpt_runner *r)
{
    return r ? atomic_load(&((bpt_runner *)r)->http_port) : 0;
}

/* ---- sources ------------------------------------------------------------------------------ */

bpt_source *bpt_source_new(const bpt_source_vtable *vt, void *state)
{
    bpt_source *s;
    if (!vt || vt->version != BPT_SOURCE_VERSION || !vt->start || !vt->stop) {
        (void)bpt_err(BPT_EINVAL, "source: a vtable of version %d with start() and stop()",
                      BPT_SOURCE_VERSION);
        if (vt && vt->free) {
            vt->free(state);
        }
        return NULL;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        (void)bpt_err_nomem("source");
        if (vt->free) {
            vt->free(state);
        }
        return NULL;
    }
    s->vt = vt;
    s->state = state;
    return s;
}

void bpt_source_free(bpt_source *s)
{
    if (!s) {
        return;
    }
    if (s->vt->free) {
        s->vt->free(s->state);
    }
    free(s);
}

int bpt_runner_add_source(bpt_runner *r, bpt_source *source)
{
    if (!source) {
        /* The constructor's own message says why it gave nothing. */
        return bpt_err(BPT_EINVAL, "runner: no source (%s)",
                       *bpt_error_last() ? bpt_error_last() : "NULL");
    }
    if (!r || r->started) {
        bpt_source_free(source);
        return bpt_err(r ? BPT_EBUSY : BPT_EINVAL, "runner: %s",
                       r ? "sources are added before the runner starts" : "NULL");
    }
    if (r->n_sources == MAX_SOURCES) {
        bpt_source_free(source);
        return bpt_err(BPT_ELIMIT, "runner: at most %d sources", MAX_SOURCES);
    }
    r->sources[r->n_sources++] = source;
    return 0;
}

/* ---- run until a signal ------------------------------------------------------------------- */

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

void bpt_runner_wait(bpt_runner *r)
{
    sigset_t set, old;
    if (!r) {
        return;
    }
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (;;) {
        struct timespec tick = {0, 200 * 1000000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            BPT_LOG(BPT_LOG_INFO, "runner", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (atomic_load(&r->shutdown)) {
            break;
        }
    }
    bpt_runner_stop(r);
    /* The secrets go with the run that received them: cleansed now, not at free. */
    {
        bpt_kx_store *fresh = NULL;
        if (bpt_kx_store_new(&fresh) == 0) {
            bpt_kx_store_free(r->store);
            r->store = fresh;
        }
    }
    atomic_store(&r->shutdown, false); /* a later run runs until its own signal */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int bpt_runner_run(bpt_runner *r)
{
    sigset_t set, old;
    int rc;
    if (!r) {
        return bpt_err(BPT_EINVAL, "runner: NULL");
    }
    /* Blocked before any thread starts: they inherit the mask, so the signal waits for us. */
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    if ((rc = bpt_runner_start(r)) == 0) {
        bpt_runner_wait(r);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void bpt_runner_shutdown(bpt_runner *r)
{
    if (r) {
        atomic_store(&r->shutdown, true);
    }
}

/* ---- metrics ------------------------------------------------------------------------------ */

int bpt_runner_metrics(char **out, bpt_runner *r)
{
    bpt_buf b = BPT_BUF_INIT(1024 * 1024);
    char line[256];
    uint64_t cum = 0;
    size_t queued, in_flight;
    int64_t attested_at;
    int rc = 0;

#define EMIT(...)                                                                                  \
    do {                                                                                           \
        int n_ = snprintf(line, sizeof(line), __VA_ARGS__);                                        \
        if (rc == 0 && n_ > 0) {                                                                   \
            rc = bpt_buf_append(&b, line,                                                          \
                                (size_t)n_ < sizeof(line) ? (size_t)n_ : sizeof(line) - 1);        \
        }                                                                                          \
    } while (0)

    if (!out || !r) {
        return bpt_err(BPT_EINVAL, "runner: metrics: NULL argument");
    }
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    queued = r->count;
    in_flight = r->in_flight;
    attested_at = r->attested_at;
    pthread_mutex_unlock(&r->mu);
    EMIT("# HELP bpt_jobs_total Jobs run, by job index and outcome.\n# TYPE bpt_jobs_total "
         "counter\n");
    for (int i = 0; i < 256; i++) {
        for (int o = 0; o < 2; o++) {
            uint64_t n = atomic_load(&r->jobs[i][o]);
            if (n) {
                EMIT("bpt_jobs_total{job=\"%d\",outcome=\"%s\"} %llu\n", i, o ? "error" : "ok",
                     (unsigned long long)n);
            }
        }
    }
    EMIT("# HELP bpt_job_duration_seconds Job latency.\n# TYPE bpt_job_duration_seconds "
         "histogram\n");
    for (size_t i = 0; i <= N_BUCKETS; i++) {
        cum += atomic_load(&r->latency[i]);
        if (i < N_BUCKETS) {
            EMIT("bpt_job_duration_seconds_bucket{le=\"%g\"} %llu\n", LATENCY_BUCKETS[i],
                 (unsigned long long)cum);
        } else {
            EMIT("bpt_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
    }
    EMIT("bpt_job_duration_seconds_sum %.6f\nbpt_job_duration_seconds_count %llu\n",
         (double)atomic_load(&r->latency_sum_us) / 1e6, (unsigned long long)cum);
    EMIT("# TYPE bpt_job_queue_depth gauge\nbpt_job_queue_depth %zu\n", queued);
    EMIT("# TYPE bpt_jobs_in_flight gauge\nbpt_jobs_in_flight %zu\n", in_flight);
    EMIT("# TYPE bpt_jobs_rejected_total counter\nbpt_jobs_rejected_total %llu\n",
         (unsigned long long)atomic_load(&r->rejected));
    EMIT("# HELP bpt_attestation_age_seconds Age of the attestation results are stamped with "
         "(-1: none).\n# TYPE bpt_attestation_age_seconds gauge\nbpt_attestation_age_seconds "
         "%lld\n",
         attested_at ? (long long)(bpt_time_now() - attested_at) : -1LL);
    EMIT("# TYPE bpt_tee_stamp_refused_total counter\nbpt_tee_stamp_refused_total %llu\n",
         (unsigned long long)bpt_tee_layer_refused(r->tee));
    if (r->placement) {
        uint64_t sent, refused;
        int64_t age;
        bpt_placement_stats(r->placement, &sent, &refused, &age);
        EMIT("# HELP bpt_deployment_jobs_total TEE jobs for the runtime deployment: sent, or "
             "refused (not running, not verified).\n");
        EMIT("# TYPE bpt_deployment_jobs_total counter\nbpt_deployment_jobs_total{outcome="
             "\"sent\"} %llu\nbpt_deployment_jobs_total{outcome=\"refused\"} %llu\n",
             (unsigned long long)sent, (unsigned long long)refused);
        EMIT("# TYPE bpt_deployment_attestation_age_seconds gauge\n"
             "bpt_deployment_attestation_age_seconds %lld\n",
             (long long)age);
    }
#undef EMIT
    if (rc == 0) {
        rc = bpt_buf_append(&b, "", 1);
    }
    if (rc == 0) {
        size_t n;
        rc = bpt_buf_detach((uint8_t **)out, &n, &b);
    }
    bpt_buf_dispose(&b);
    return rc;
}
