/*
 * The runner: start-up by mode and requirement (disabled, direct on a simulated TEE, auto on a
 * host without one, required refusing, preferred warning), results stamped through the runner
 * with the caller's layers inside the TeeLayer, back-pressure when the queue is full, an orderly
 * stop that drains, re-attestation, the metrics text.
 */
/* bpt-test-labels: unit */
#include "helpers/test.h"
#include "helpers/sim_fixture.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

struct fixture {
    struct bpt_sim_fixture sim;
    char *empty_root; /* a filesystem root with no TEE device in it */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    *state = f;
    if (!f || bpt_sim_fixture_init(&f->sim) != 0 || !(f->empty_root = bpt_test_tmpdir())) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        bpt_sim_fixture_dispose(&f->sim);
        if (f->empty_root) {
            bpt_test_rmtree(f->empty_root);
            free(f->empty_root);
        }
        free(f);
    }
    return 0;
}

static bpt_config *config_of(bpt_tee_mode mode, bpt_tee_requirement req)
{
    bpt_config_builder *b = NULL;
    bpt_config *c = NULL;
    assert_ok(bpt_config_builder_new(&b));
    bpt_config_builder_set_mode(b, mode);
    bpt_config_builder_set_requirement(b, req);
    assert_ok(bpt_config_builder_build(&c, b));
    bpt_config_builder_free(b);
    return c;
}

/* A runner for @p c with @p o and @p rt (not started). */
static bpt_runner *runner_of(const bpt_config *c, const bpt_runner_opts *o, bpt_router *rt)
{
    bpt_runner *r = NULL;
    assert_ok(bpt_runner_new(&r, c));
    assert_ok(bpt_runner_set_options(r, o));
    assert_ok(bpt_runner_set_router(r, rt));
    return r;
}

/* What the tests' handlers and done callbacks see. */
struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t done, ok;
    char digest[65], provider[32], layer[16], error[64];
    atomic_int gate; /* handlers wait while 0 */
    atomic_int started;
};

static int echo(const bpt_job_call *call, bpt_job_result *result, const bpt_tee_context *tee,
                void *userdata)
{
    struct seen *s = userdata;
    size_t n = 0;
    const uint8_t *body = bpt_job_call_body(call, &n);
    (void)tee;
    atomic_fetch_add(&s->started, 1);
    while (!atomic_load(&s->gate)) {
        usleep(1000);
    }
    if (bpt_job_result_meta_set(result, "tee.provider", "forged") == 0) {
        /* a handler cannot speak for the TEE: the TeeLayer drops this */
    }
    return bpt_job_result_set_body(result, body, n);
}

/* A layer of the caller's: marks the result; it must run inside the TeeLayer. */
static int mark(const bpt_job_call *call, bpt_job_result *result, const bpt_tee_context *tee,
                const bpt_job_next *next, void *state)
{
    (void)state;
    int rc = bpt_job_next_call(next, call, result, tee);
    if (rc == 0 && bpt_job_result_is_ok(result)) {
        rc = bpt_job_result_meta_set(result, "layer", "mark");
    }
    return rc;
}

static void on_done(const bpt_job_call *call, const bpt_job_result *result, void *userdata)
{
    struct seen *s = userdata;
    const char *v;
    (void)call;
    pthread_mutex_lock(&s->mu);
    s->done++;
    if (bpt_job_result_is_ok(result)) {
        s->ok++;
    } else {
        snprintf(s->error, sizeof(s->error), "%s", bpt_job_result_error_code(result));
    }
    if ((v = bpt_job_result_meta_get(result, "tee.attestation.digest"))) {
        snprintf(s->digest, sizeof(s->digest), "%s", v);
    }
    if ((v = bpt_job_result_meta_get(result, "tee.provider"))) {
        snprintf(s->provider, sizeof(s->provider), "%s", v);
    }
    if ((v = bpt_job_result_meta_get(result, "layer"))) {
        snprintf(s->layer, sizeof(s->layer), "%s", v);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void seen_init(struct seen *s, int gate)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    atomic_init(&s->gate, gate);
    atomic_init(&s->started, 0);
}

static void seen_wait(struct seen *s, size_t n)
{
    pthread_mutex_lock(&s->mu);
    while (s->done < n) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

static void seen_dispose(struct seen *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void submit_one(bpt_runner *r, struct seen *s, uint8_t index, const char *body)
{
    bpt_job_call *c = NULL;
    assert_ok(bpt_job_call_new(&c, 1, 7, index, (const uint8_t *)body, strlen(body)));
    assert_ok(bpt_runner_submit(r, c, on_done, s));
}

static bpt_router *router_for(struct seen *s, bool with_layer)
{
    bpt_router *rt = NULL;
    bpt_layer l = {BPT_LAYER_VERSION, "mark", mark, NULL};
    assert_ok(bpt_router_new(&rt));
    assert_ok(bpt_router_route(rt, 0, echo, s));
    if (with_layer) {
        assert_ok(bpt_router_add_layer(rt, &l));
    }
    return rt;
}

/* Capture warnings the runner logs. */
static char logged[1024];
static void log_sink(bpt_log_level level, const char *module, const char *msg, void *ud)
{
    (void)ud;
    if (level >= BPT_LOG_WARN && strcmp(module, "runner") == 0) {
        snprintf(logged, sizeof(logged), "%s", msg);
    }
}

static void test_disabled_runs_unstamped(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DISABLED, BPT_REQUIREMENT_PREFERRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    struct seen s;
    seen_init(&s, 1);
    bpt_router *rt = router_for(&s, false);
    o.root = f->empty_root;
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_start(r));
    assert_null(bpt_runner_snapshot(r));
    submit_one(r, &s, 0, "hi");
    seen_wait(&s, 1);
    assert_int_equal(s.ok, 1);
    assert_string_equal(s.digest, "");
    assert_string_equal(s.provider, ""); /* the handler's forged entry is not there either */
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
    seen_dispose(&s);
}

static void test_direct_simulated_stamps(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DIRECT, BPT_REQUIREMENT_REQUIRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    bpt_tee_snapshot *snap;
    struct seen s;
    char *metrics = NULL;
    seen_init(&s, 1);
    bpt_router *rt = router_for(&s, true);
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    o.root = f->empty_root;
    o.workers = 2;
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_start(r));
    assert_rc_msg(bpt_runner_start(r), BPT_EBUSY, "already started");
    snap = bpt_runner_snapshot(r);
    assert_non_null(snap);
    assert_int_equal(bpt_tee_snapshot_provider(snap), BPT_PROVIDER_AMD_SEV_SNP);
    submit_one(r, &s, 0, "hello");
    seen_wait(&s, 1);
    assert_int_equal(s.ok, 1);
    /* Stamped with the snapshot's digest; the handler's forged entry dropped; the caller's
     * layer ran inside the TeeLayer (its entry kept, the stamp added after it). */
    assert_string_equal(s.digest, bpt_tee_snapshot_digest(snap));
    assert_string_equal(s.provider, "amd_sev_snp");
    assert_string_equal(s.layer, "mark");
    /* A job index with no route is an error result, not stamped. */
    submit_one(r, &s, 9, "x");
    seen_wait(&s, 2);
    assert_string_equal(s.error, "unknown_job");

    assert_ok(bpt_runner_metrics(&metrics, r));
    assert_non_null(strstr(metrics, "bpt_jobs_total{job=\"0\",outcome=\"ok\"} 1\n"));
    assert_non_null(strstr(metrics, "bpt_jobs_total{job=\"9\",outcome=\"error\"} 1\n"));
    assert_non_null(strstr(metrics, "bpt_job_duration_seconds_count 2\n"));
    {
        const char *age = strstr(metrics, "\nbpt_attestation_age_seconds ");
        assert_non_null(age);
        long secs = strtol(age + strlen("\nbpt_attestation_age_seconds "), NULL, 10);
        assert_true(secs >= 0 && secs < 120); /* made at start: not "-1" (none) */
    }
    bpt_free(metrics);

    /* Re-attesting swaps in a new snapshot (a fresh nonce: a new digest). */
    assert_ok(bpt_runner_reattest(r));
    bpt_tee_snapshot *snap2 = bpt_runner_snapshot(r);
    assert_string_not_equal(bpt_tee_snapshot_digest(snap2), bpt_tee_snapshot_digest(snap));
    bpt_tee_snapshot_free(snap2);
    bpt_tee_snapshot_free(snap);
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
    seen_dispose(&s);
}

static void test_auto_without_tee(void **state)
{
    struct fixture *f = *state;
    bpt_config *req = config_of(BPT_MODE_AUTO, BPT_REQUIREMENT_REQUIRED);
    bpt_config *pref = config_of(BPT_MODE_AUTO, BPT_REQUIREMENT_PREFERRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    struct seen s;
    seen_init(&s, 1);
    bpt_router *rt = router_for(&s, false);
    o.root = f->empty_root;

    /* Required: refuses to start, and says why. */
    r = runner_of(req, &o, rt);
    assert_rc_msg(bpt_runner_start(r), BPT_EUNSATISFIABLE, "no TEE found on this host");
    assert_rc_msg(bpt_runner_start(r), BPT_EUNSATISFIABLE, "'required'");
    {
        bpt_job_call *c = NULL;
        assert_ok(bpt_job_call_new(&c, 1, 1, 0, NULL, 0));
        assert_rc_msg(bpt_runner_submit(r, c, on_done, &s), BPT_EINVAL, "not running");
        bpt_job_call_free(c);
    }
    bpt_runner_free(r);

    /* Preferred: starts, warns, runs unstamped. */
    bpt_log_set_sink(log_sink, NULL, BPT_LOG_WARN);
    logged[0] = 0;
    r = runner_of(pref, &o, rt);
    assert_ok(bpt_runner_start(r));
    assert_non_null(strstr(logged, "running without a TEE"));
    assert_null(bpt_runner_snapshot(r));
    submit_one(r, &s, 0, "plain");
    seen_wait(&s, 1);
    assert_int_equal(s.ok, 1);
    assert_string_equal(s.digest, "");
    bpt_log_set_sink(NULL, NULL, BPT_LOG_WARN);
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(req);
    bpt_config_free(pref);
    seen_dispose(&s);
}

/* Evidence that does not verify (the simulator's roots not trusted): required refuses. */
static void test_required_unverified_refuses(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DIRECT, BPT_REQUIREMENT_REQUIRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_verify_ctx *pinned = NULL;
    bpt_runner *r = NULL;
    bpt_router *rt = NULL;
    assert_ok(bpt_verify_ctx_new(&pinned, NULL)); /* the vendor roots only */
    assert_ok(bpt_router_new(&rt));
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    o.verify_ctx = pinned;
    r = runner_of(c, &o, rt);
    assert_rc_msg(bpt_runner_start(r), BPT_EUNSATISFIABLE, "own evidence did not verify");
    bpt_runner_free(r);
    bpt_verify_ctx_free(pinned);
    bpt_router_free(rt);
    bpt_config_free(c);
}

/* attestation_freshness periodic: the snapshot is replaced on the schedule (a fresh nonce, a
 * new digest) while jobs run; provision_time_only (the default) keeps the one made at start. */
static void test_periodic_reattestation(void **state)
{
    struct fixture *f = *state;
    bpt_config_builder *b = NULL;
    bpt_config *c = NULL;
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    bpt_router *rt = NULL;
    bpt_tee_snapshot *first, *now = NULL;
    char d1[65];
    bool changed = false;
    assert_ok(bpt_config_builder_new(&b));
    bpt_config_builder_set_mode(b, BPT_MODE_DIRECT);
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_REQUIRED);
    bpt_config_builder_set_attestation_freshness(b, BPT_FRESHNESS_PERIODIC, 1);
    assert_ok(bpt_config_builder_build(&c, b));
    bpt_config_builder_free(b);
    assert_ok(bpt_router_new(&rt));
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_start(r));
    first = bpt_runner_snapshot(r);
    assert_non_null(first);
    snprintf(d1, sizeof(d1), "%s", bpt_tee_snapshot_digest(first));
    for (int i = 0; i < 100 && !changed; i++) { /* within 10 s (valgrind is slow) */
        usleep(100 * 1000);
        now = bpt_runner_snapshot(r);
        changed = now && strcmp(bpt_tee_snapshot_digest(now), d1) != 0;
        bpt_tee_snapshot_free(now);
    }
    assert_true(changed);
    bpt_tee_snapshot_free(first);
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
}

/* A provider the config does not allow: refused like evidence that does not verify. */
static void test_provider_not_allowed(void **state)
{
    struct fixture *f = *state;
    bpt_config_builder *b = NULL;
    bpt_config *c = NULL;
    const bpt_provider tdx = BPT_PROVIDER_INTEL_TDX;
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    bpt_router *rt = NULL;
    assert_ok(bpt_config_builder_new(&b));
    bpt_config_builder_set_mode(b, BPT_MODE_DIRECT);
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_REQUIRED);
    assert_ok(bpt_config_builder_allow_providers(b, &tdx, 1));
    assert_ok(bpt_config_builder_build(&c, b));
    bpt_config_builder_free(b);
    assert_ok(bpt_router_new(&rt));
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    r = runner_of(c, &o, rt);
    assert_rc_msg(bpt_runner_start(r), BPT_EUNSATISFIABLE, "do not allow");
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
}

/* One worker held, a queue of two: the fourth submission is back-pressure; stop drains the
 * rest once the handler is let go. */
static void test_queue_full_and_drain(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DISABLED, BPT_REQUIREMENT_PREFERRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    bpt_job_call *extra = NULL;
    struct seen s;
    char *metrics = NULL;
    seen_init(&s, 0);
    bpt_router *rt = router_for(&s, false);
    o.root = f->empty_root;
    o.workers = 1;
    o.queue_depth = 2;
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_start(r));
    submit_one(r, &s, 0, "1");
    while (atomic_load(&s.started) == 0) { /* the worker holds job 1 */
        usleep(1000);
    }
    submit_one(r, &s, 0, "2");
    submit_one(r, &s, 0, "3");
    assert_ok(bpt_job_call_new(&extra, 1, 1, 0, NULL, 0));
    assert_rc_msg(bpt_runner_submit(r, extra, on_done, &s), BPT_EBUSY, "retry later");
    assert_ok(bpt_runner_metrics(&metrics, r));
    assert_non_null(strstr(metrics, "bpt_job_queue_depth 2\n"));
    assert_non_null(strstr(metrics, "bpt_jobs_in_flight 1\n"));
    assert_non_null(strstr(metrics, "bpt_jobs_rejected_total 1\n"));
    assert_non_null(strstr(metrics, "bpt_attestation_age_seconds -1\n"));
    bpt_free(metrics);
    bpt_job_call_free(extra);
    atomic_store(&s.gate, 1);
    bpt_runner_stop(r); /* drains: all three run */
    assert_int_equal(s.done, 3);
    assert_int_equal(s.ok, 3);
    assert_ok(bpt_job_call_new(&extra, 1, 1, 0, NULL, 0));
    assert_rc_msg(bpt_runner_submit(r, extra, on_done, &s), BPT_EINVAL, "not running");
    bpt_job_call_free(extra);
    bpt_runner_stop(r); /* idempotent */
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
    seen_dispose(&s);
}

static void *release_later(void *arg)
{
    struct seen *s = arg;
    usleep(300 * 1000);
    atomic_store(&s->gate, 1);
    return NULL;
}

/* A drain deadline shorter than the held job: what is still queued is answered
 * "shutting_down", the job in flight is waited for. */
static void test_stop_deadline_answers_queued(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DISABLED, BPT_REQUIREMENT_PREFERRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    struct seen s;
    pthread_t releaser;
    seen_init(&s, 0);
    bpt_router *rt = router_for(&s, false);
    o.root = f->empty_root;
    o.workers = 1;
    o.drain_timeout_ms = 50;
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_start(r));
    submit_one(r, &s, 0, "held");
    while (atomic_load(&s.started) == 0) {
        usleep(1000);
    }
    submit_one(r, &s, 0, "queued");
    /* Let the held job go only well after the deadline has passed. */
    assert_int_equal(pthread_create(&releaser, NULL, release_later, &s), 0);
    bpt_runner_stop(r); /* the queued job is answered; then the held one is waited for */
    pthread_join(releaser, NULL);
    assert_int_equal(s.done, 2);
    assert_int_equal(s.ok, 1);
    assert_string_equal(s.error, "shutting_down");
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
    seen_dispose(&s);
}

/* A source of ours: on start, a thread submits `n` jobs; stop joins it. */
struct feeder {
    struct seen *seen;
    size_t n;
    int fail_start;
    bpt_runner *runner;
    pthread_t thread;
    bool running;
    atomic_int *stopped;
};

static void *feed(void *arg)
{
    struct feeder *fd = arg;
    for (size_t i = 0; i < fd->n; i++) {
        bpt_job_call *c = NULL;
        if (bpt_job_call_new(&c, 1, i, 0, (const uint8_t *)"fed", 3) != 0) {
            break;
        }
        if (bpt_runner_submit(fd->runner, c, on_done, fd->seen) != 0) {
            bpt_job_call_free(c);
        }
    }
    return NULL;
}

static int feeder_start(void *state, bpt_runner *runner)
{
    struct feeder *fd = state;
    if (fd->fail_start) {
        return bpt_error_set(BPT_EIO, "feeder: port in use");
    }
    fd->runner = runner;
    fd->running = pthread_create(&fd->thread, NULL, feed, fd) == 0;
    return fd->running ? 0 : BPT_ERROR;
}

static void feeder_stop(void *state)
{
    struct feeder *fd = state;
    if (fd->running) {
        pthread_join(fd->thread, NULL);
        fd->running = false;
    }
    atomic_fetch_add(fd->stopped, 1);
}

static void feeder_free(void *state)
{
    free(state);
}

static const bpt_source_vtable FEEDER = {BPT_SOURCE_VERSION, "feeder", feeder_start, feeder_stop,
                                         feeder_free};

static bpt_source *feeder_new(struct seen *s, size_t n, int fail_start, atomic_int *stopped)
{
    struct feeder *fd = calloc(1, sizeof(*fd));
    assert_non_null(fd);
    fd->seen = s;
    fd->n = n;
    fd->fail_start = fail_start;
    fd->stopped = stopped;
    return bpt_source_new(&FEEDER, fd);
}

/* Sources start after the workers, feed jobs, and are stopped before the drain; a source
 * that fails to start stops everything and its error comes back. */
static void test_sources(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DISABLED, BPT_REQUIREMENT_PREFERRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    atomic_int stopped;
    struct seen s;
    atomic_init(&stopped, 0);
    seen_init(&s, 1);
    bpt_router *rt = router_for(&s, false);
    o.root = f->empty_root;
    o.queue_depth = 100;
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_add_source(r, feeder_new(&s, 50, 0, &stopped)));
    assert_ok(bpt_runner_start(r));
    assert_rc_msg(bpt_runner_add_source(r, feeder_new(&s, 1, 0, &stopped)), BPT_EBUSY,
                  "before the runner starts");
    seen_wait(&s, 50);
    assert_int_equal(s.ok, 50);
    bpt_runner_stop(r);
    assert_int_equal(atomic_load(&stopped), 1);
    bpt_runner_free(r);

    /* The second source fails: the first is stopped again, start returns its error. */
    atomic_store(&stopped, 0);
    r = runner_of(c, &o, rt);
    assert_ok(bpt_runner_add_source(r, feeder_new(&s, 0, 0, &stopped)));
    assert_ok(bpt_runner_add_source(r, feeder_new(&s, 0, 1, &stopped)));
    assert_rc_msg(bpt_runner_start(r), BPT_EIO, "source feeder: feeder: port in use");
    assert_int_equal(atomic_load(&stopped), 1);
    bpt_runner_free(r);
    bpt_router_free(rt);
    bpt_config_free(c);
    seen_dispose(&s);
}

struct run_args {
    bpt_runner *r;
    int rc;
};

static void *run_thread(void *arg)
{
    struct run_args *a = arg;
    a->rc = bpt_runner_run(a->r);
    return NULL;
}

/* bpt_runner_run() until SIGTERM: the job in flight when the signal comes still completes (the
 * drain), and run returns 0. Then bpt_runner_shutdown() ends a second run. */
static void test_run_until_sigterm(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DISABLED, BPT_REQUIREMENT_PREFERRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    struct run_args a = {NULL, -1};
    atomic_int stopped;
    sigset_t set, old;
    pthread_t t, releaser;
    struct seen s;
    atomic_init(&stopped, 0);
    seen_init(&s, 0);
    bpt_router *rt = router_for(&s, false);
    o.root = f->empty_root;
    /* Every thread of this process blocks the signal, so it waits for run()'s sigtimedwait. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    assert_ok(bpt_runner_new(&a.r, c));
    assert_ok(bpt_runner_set_options(a.r, &o));
    assert_ok(bpt_runner_set_router(a.r, rt));
    assert_ok(bpt_runner_add_source(a.r, feeder_new(&s, 1, 0, &stopped)));
    {
        bpt_secret *sec = NULL;
        assert_ok(bpt_secret_from(&sec, (const uint8_t *)"k3y", 3));
        assert_ok(bpt_kx_store_put(bpt_runner_store(a.r), "api_key", sec));
    }
    assert_int_equal(pthread_create(&t, NULL, run_thread, &a), 0);
    while (atomic_load(&s.started) == 0) { /* the fed job is in its handler, held */
        usleep(1000);
    }
    assert_int_equal(kill(getpid(), SIGTERM), 0);
    assert_int_equal(pthread_create(&releaser, NULL, release_later, &s), 0);
    pthread_join(t, NULL);
    pthread_join(releaser, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.ok, 1); /* drained, not "shutting_down" */
    assert_int_equal(atomic_load(&stopped), 1);
    assert_int_equal(bpt_kx_store_count(bpt_runner_store(a.r)), 0); /* cleansed with the run */

    /* A second run of the same runner, ended by bpt_runner_shutdown(). */
    a.rc = -1;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &a), 0);
    bpt_runner_shutdown(a.r);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    bpt_runner_free(a.r);
    bpt_router_free(rt);
    bpt_config_free(c);
    seen_dispose(&s);
}

static void test_bad_arguments(void **state)
{
    struct fixture *f = *state;
    bpt_config *c = config_of(BPT_MODE_DIRECT, BPT_REQUIREMENT_REQUIRED);
    bpt_config *remote = config_of(BPT_MODE_REMOTE, BPT_REQUIREMENT_REQUIRED);
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    (void)f;
    assert_rc_msg(bpt_runner_new(&r, remote), BPT_ENOTSUP, "remote");
    assert_null(r);
    assert_ok(bpt_runner_new(&r, c));
    o.workers = 257;
    assert_rc_msg(bpt_runner_set_options(r, &o), BPT_EINVAL, "workers");
    o.workers = 0;
    o.simulate = BPT_PROVIDER_INTEL_TDX; /* no sim_dir */
    assert_rc_msg(bpt_runner_set_options(r, &o), BPT_EINVAL, "sim_dir");
    o.simulate = BPT_PROVIDER_UNKNOWN;
    o.version = 99;
    assert_rc_msg(bpt_runner_set_options(r, &o), BPT_EINVAL, "BPT_RUNNER_OPTS_INIT");
    /* A source constructor's failure reaches add_source's message. */
    assert_null(bpt_source_new(NULL, NULL));
    assert_rc_msg(bpt_runner_add_source(r, bpt_source_new(NULL, NULL)), BPT_EINVAL,
                  "no source (source: a vtable");
    assert_rc_msg(bpt_runner_start(r), BPT_EINVAL, "no router");
    bpt_runner_free(r);
    bpt_config_free(c);
    bpt_config_free(remote);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_runs_unstamped),
        cmocka_unit_test(test_direct_simulated_stamps),
        cmocka_unit_test(test_auto_without_tee),
        cmocka_unit_test(test_required_unverified_refuses),
        cmocka_unit_test(test_provider_not_allowed),
        cmocka_unit_test(test_periodic_reattestation),
        cmocka_unit_test(test_queue_full_and_drain),
        cmocka_unit_test(test_stop_deadline_answers_queued),
        cmocka_unit_test(test_sources),
        cmocka_unit_test(test_run_until_sigterm),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
