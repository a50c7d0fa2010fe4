/* bpt-test-labels: runtime */
/*
 * Placing TEE jobs in a runtime deployment, on the real runc (skipped, saying why, where runc
 * cannot run a container, as runtime/direct is): a deployment whose workload is
 * `bpt run --simulate sev-snp --listen unix:/run/bpt/kx.sock`, and a runner without a TEE of
 * its own (hybrid mode, routing file: job 0 tee, job 1 standard):
 * - job 0 goes to the workload and comes back stamped with the attestation the runner verified
 *   (its digest is the evidence digest the store recorded for that attestation); job 1 and job
 *   2 (any) run here, plainly, never in the deployment; after the re-attestation interval (1 s)
 *   a fresh attestation stamps the next job;
 * - the same through `bpt run --deployment ID` over HTTP;
 * - the deployment stopped: job 0 refused, naming the rule and "is stopped", never run here;
 * - a runner whose config allows only intel_tdx: job 0 refused, naming the provider;
 * - a runner whose verifier trusts other roots (the pinned vendor roots): job 0 refused ("did not
 * verify"), and the workload never saw it (it counts the jobs it runs in its /run/bpt).
 */
#include "helpers/test.h"

#include "helpers/http_client.h"
#include "helpers/proc.h"
#include "helpers/runner_job.h"
#include "helpers/runtime_fixture.h"
#include "helpers/sim_fixture.h"

#include <blueprint-tee/runtime.h>
#include <blueprint-tee/verify.h>

#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char skipped_why[1024];

struct env {
    struct bpt_sim_fixture sim;
    struct bpt_runtime_fixture rtf;
    char state[4300], tmp[4300], empty[4300], routing[4400];
};

static void write_text(const char *path, const char *text)
{
    bpt_test_write_file(path, text, strlen(text));
}

static int group_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char p[4400];
    *state = e;
    if (e == NULL || bpt_sim_fixture_init(&e->sim) != 0 ||
        bpt_runtime_fixture_init(&e->rtf, getenv("BPT_BIN"), e->sim.dir) != 0) {
        return -1;
    }
    if (!e->rtf.usable) {
        snprintf(skipped_why, sizeof(skipped_why), "%s", e->rtf.why);
        return 0;
    }
    snprintf(e->state, sizeof(e->state), "%s/state", e->rtf.dir);
    snprintf(e->tmp, sizeof(e->tmp), "%s/tmp", e->rtf.dir);
    snprintf(e->empty, sizeof(e->empty), "%s/empty", e->rtf.dir); /* a host with no TEE */
    mkdir(e->tmp, 0700);
    mkdir(e->empty, 0700);
    /* the workload's config and job (the image is ours: a directory) */
    snprintf(p, sizeof(p), "%s/etc/bpt/run.json", e->rtf.image);
    write_text(p, "{\"mode\":\"direct\",\"requirement\":\"required\"}");
    snprintf(p, sizeof(p), "%s/etc/bpt/job.sh", e->rtf.image);
    write_text(p, "echo ran >> /run/bpt/ran\nprintf 'in-tee:'\ncat\n");
    snprintf(e->routing, sizeof(e->routing), "%s/routing.json", e->tmp);
    write_text(e->routing, "{\"jobs\":{\"0\":\"tee\",\"1\":\"standard\"}}");
    return 0;
}

static int group_teardown(void **state)
{
    struct env *e = *state;
    bpt_runtime_fixture_remove_containers(&e->rtf, e->state); /* what a failed test left */
    bpt_runtime_fixture_dispose(&e->rtf);
    bpt_sim_fixture_dispose(&e->sim);
    free(e);
    return 0;
}

/* A runtime over the test's store whose verifier trusts @p sim_dir's roots (NULL: the pinned
 * vendor roots, which the simulator's evidence does not chain to). */
static bpt_runtime *open_runtime(const struct env *e, const char *sim_dir, bpt_verifier **vout)
{
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *pol = NULL;
    bpt_runtime *rt = NULL;
    char roots[4400];
    size_t n = 0;
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    if (sim_dir) {
        snprintf(roots, sizeof(roots), "%s/trust-roots.pem", sim_dir);
        uint8_t *pem = bpt_test_read_file(roots, &n);
        assert_non_null(pem);
        assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, (const char *)pem, n));
        free(pem);
    }
    assert_ok(bpt_policy_new(&pol));
    assert_ok(bpt_verifier_new(vout, ctx, pol));
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(pol);
    bpt_runtime_options o = BPT_RUNTIME_OPTIONS_INIT;
    o.state_dir = e->state;
    o.verifier = *vout;
    o.oci_runtime = e->rtf.runc;
    o.host_root = e->empty;
    assert_ok(bpt_runtime_new(&rt, &o));
    return rt;
}

static const char WORKLOAD[] =
    "{\"name\":\"placed\",\"image\":\"%s\",\"devices\":[],\"args\":[\"/usr/bin/bpt\",\"run\","
    "\"--config\",\"/etc/bpt/run.json\",\"--simulate\",\"sev-snp\",\"--sim-dir\",\"/etc/bpt/sim\","
    "\"--listen\",\"unix:/run/bpt/kx.sock\",\"--workers\",\"2\",\"--job\",\"0=/bin/sh "
    "/etc/bpt/job.sh\"]}";

static bpt_deployment *deploy(const struct env *e, bpt_runtime *rt)
{
    char text[8192];
    bpt_deploy_spec *spec = NULL;
    bpt_deployment *d = NULL;
    snprintf(text, sizeof(text), WORKLOAD, e->rtf.image);
    assert_ok(bpt_deploy_spec_load_json(&spec, text, strlen(text)));
    assert_ok(bpt_runtime_deploy(&d, rt, spec, NULL));
    bpt_deploy_spec_free(spec);
    assert_int_equal(bpt_deployment_state(d), BPT_DEPLOY_RUNNING);
    return d;
}

static int echo(const bpt_job_call *call, bpt_job_result *result, const bpt_tee_context *tee,
                void *ud)
{
    size_t n;
    const uint8_t *b = bpt_job_call_body(call, &n);
    (void)ud;
    if (bpt_tee_context_snapshot(tee)) {
        return bpt_job_result_set_error(result, "wrong_place", "a local job saw a TEE");
    }
    return bpt_job_result_set_body(result, b, n);
}

static void has(const struct bpt_test_job *r, const char *sub)
{
    if (!strstr(r->message, sub)) {
        fail_msg("'%s' not in the message: %s: %s", sub, r->code, r->message);
    }
}

/* A runner with no TEE (hybrid, the routing file), its jobs 0..2 echoing here, placing TEE jobs
 * in deployment @p id of @p rt. */
static bpt_runner *runner(const struct env *e, bpt_config **cfg, bpt_router **router,
                          bpt_runtime *rt, const char *id, uint64_t reattest_secs,
                          const char *selector)
{
    char text[8400];
    bpt_runner *r = NULL;
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    snprintf(text, sizeof(text),
             "{\"mode\":\"hybrid\",\"requirement\":\"preferred\",\"hybrid_routing_source\":{"
             "\"policy_file\":\"%s\"},\"provider_selector\":%s}",
             e->routing, selector ? selector : "\"any\"");
    assert_ok(bpt_config_load_json(cfg, text, strlen(text)));
    assert_ok(bpt_router_new(router));
    for (uint8_t i = 0; i < 3; i++) {
        assert_ok(bpt_router_route(*router, i, echo, NULL));
    }
    o.root = e->empty;
    o.workers = 2;
    o.reattest_secs = reattest_secs;
    assert_ok(bpt_runner_new(&r, *cfg));
    assert_ok(bpt_runner_set_options(r, &o));
    assert_ok(bpt_runner_set_router(r, *router));
    assert_ok(bpt_runner_set_deployment(r, rt, id));
    assert_ok(bpt_runner_start(r));
    assert_null(bpt_runner_snapshot(r)); /* no TEE of its own */
    return r;
}

/* How many jobs the workload ran (lines of its /run/bpt/ran). */
static int ran(const bpt_deployment *d)
{
    char p[4400];
    size_t n = 0;
    int lines = 0;
    snprintf(p, sizeof(p), "%s/ran", bpt_deployment_host_dir(d));
    char *s = (char *)bpt_test_read_file(p, &n);
    for (size_t i = 0; s && i < n; i++) {
        lines += s[i] == '\n';
    }
    free(s);
    return lines;
}

static void test_placed_stamped_refused(void **state)
{
    struct env *e = *state;
    if (!e->rtf.usable) {
        skip();
    }
    bpt_verifier *v = NULL, *v2 = NULL;
    bpt_runtime *rt = open_runtime(e, e->sim.dir, &v);
    bpt_deployment *d = deploy(e, rt), *now = NULL;
    const char *id = bpt_deployment_id(d);
    bpt_config *cfg = NULL, *cfg2 = NULL;
    bpt_router *router = NULL, *router2 = NULL;
    struct bpt_test_job res;

    /* a verifier that trusts other roots: refused before anything is sent */
    bpt_runtime *rt2 = open_runtime(e, NULL, &v2);
    bpt_runner *r2 = runner(e, &cfg2, &router2, rt2, id, 0, NULL);
    bpt_test_runner_job(r2, 0, "secret", &res);
    assert_string_equal(res.code, "routing_refused");
    has(&res, "job 0 is tee_required (the routing file");
    has(&res, "its attestation did not verify");
    has(&res, "never runs plainly");
    assert_int_equal(ran(d), 0);
    bpt_runner_free(r2);
    bpt_runtime_free(rt2);
    bpt_verifier_free(v2);
    bpt_router_free(router2);
    bpt_config_free(cfg2);

    /* verified, but a provider the runner's config does not allow: refused, not sent */
    r2 = runner(e, &cfg2, &router2, rt, id, 0, "{\"allow_list\":[\"intel_tdx\"]}");
    bpt_test_runner_job(r2, 0, "secret", &res);
    assert_string_equal(res.code, "routing_refused");
    has(&res, "runs in amd_sev_snp, which the config's providers do not allow");
    assert_int_equal(ran(d), 0);
    bpt_runner_free(r2);
    bpt_router_free(router2);
    bpt_config_free(cfg2);

    /* placed: run in the workload, stamped with what the runner verified */
    bpt_runner *r = runner(e, &cfg, &router, rt, id, 1, NULL);
    bpt_test_runner_job(r, 0, "hello", &res);
    if (strcmp(res.code, "ok") != 0) {
        fail_msg("job 0: %s %s", res.code, res.message);
    }
    assert_string_equal(res.body, "in-tee:hello");
    assert_string_equal(res.provider, "amd_sev_snp");
    assert_int_equal(ran(d), 1);
    assert_ok(bpt_runtime_status(&now, rt, id));
    assert_non_null(bpt_deployment_attestation_digest(now));
    assert_string_equal(res.digest, bpt_deployment_attestation_digest(now));
    bpt_deployment_free(now);
    /* standard and any: here, plainly (echo refuses a TEE context) */
    bpt_test_runner_job(r, 1, "std", &res);
    assert_string_equal(res.code, "ok");
    assert_string_equal(res.body, "std");
    assert_string_equal(res.digest, "");
    bpt_test_runner_job(r, 2, "any", &res);
    assert_string_equal(res.code, "ok");
    assert_string_equal(res.digest, "");
    assert_int_equal(ran(d), 1);
    /* a second job reuses the verified attestation (no re-attestation interval passed) */
    bpt_test_runner_job(r, 0, "again", &res);
    assert_string_equal(res.code, "ok");
    assert_string_equal(res.body, "in-tee:again");
    assert_int_equal(ran(d), 2);

    /* a rough figure for docs/runner.md: jobs/s placed (each one /bin/sh in the container) */
    {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 20; i++) {
            bpt_test_runner_job(r, 0, "x", &res);
            assert_string_equal(res.code, "ok");
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "runner/placement: 20 placed jobs in %.1f ms (%.2f ms each)\n",
                (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
                ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) /
                    20);
    }
    assert_int_equal(ran(d), 22);
    /* the re-attestation interval (1 s here) passed: a fresh attestation, a new digest */
    {
        char first[160];
        snprintf(first, sizeof(first), "%s", res.digest);
        usleep(1100 * 1000);
        bpt_test_runner_job(r, 0, "later", &res);
        assert_string_equal(res.code, "ok");
        assert_string_not_equal(res.digest, first);
        assert_ok(bpt_runtime_status(&now, rt, id));
        assert_string_equal(res.digest, bpt_deployment_attestation_digest(now));
        bpt_deployment_free(now);
    }

    /* stopped: the job cannot reach it, the runner attests again and refuses, naming why */
    assert_ok(bpt_runtime_stop(rt, id));
    bpt_test_runner_job(r, 0, "late", &res);
    assert_string_equal(res.code, "routing_refused");
    has(&res, "job 0 is tee_required");
    has(&res, "is stopped");
    assert_int_equal(ran(d), 23);
    bpt_test_runner_job(r, 1, "std", &res); /* standard jobs still run */
    assert_string_equal(res.code, "ok");
    {
        char *m = NULL;
        assert_ok(bpt_runner_metrics(&m, r));
        assert_non_null(strstr(m, "bpt_deployment_jobs_total{outcome=\"sent\"} 23\n"));
        assert_non_null(strstr(m, "bpt_deployment_jobs_total{outcome=\"refused\"} 1\n"));
        assert_non_null(strstr(m, "bpt_deployment_attestation_age_seconds -1\n"));
        bpt_free(m);
    }

    bpt_runner_free(r);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deployment_free(d);
    bpt_runtime_free(rt);
    bpt_verifier_free(v);
    bpt_router_free(router);
    bpt_config_free(cfg);
}

/* bpt run --deployment: over HTTP, job 0 stamped by what the runner verified; the store's
 * digest is the one in the answer's header. */
static void test_cli_run_deployment(void **state)
{
    struct env *e = *state;
    if (!e->rtf.usable) {
        skip();
    }
    bpt_verifier *v = NULL;
    bpt_runtime *rt = open_runtime(e, e->sim.dir, &v);
    bpt_deployment *d = deploy(e, rt), *now = NULL;
    char id[32], cfg[4400], roots[4400], line[8192], url[128], digest[160];
    struct bpt_test_proc proc = {0};
    struct bpt_test_http_answer a;
    unsigned port = 0;
    const char *hdr[] = {"Content-Type: application/octet-stream", NULL};
    snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
    snprintf(cfg, sizeof(cfg), "%s/hybrid.json", e->tmp);
    snprintf(line, sizeof(line),
             "{\"mode\":\"hybrid\",\"requirement\":\"preferred\",\"hybrid_routing_source\":{"
             "\"policy_file\":\"%s\"}}",
             e->routing);
    write_text(cfg, line);
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", e->sim.dir);
    const char *argv[] = {"run",         "--config",     cfg,      "--listen",
                          "127.0.0.1:0", "--root",       e->empty, "--job",
                          "1=/bin/cat",  "--deployment", id,       "--state-dir",
                          e->state,      "--trust-root", roots,    NULL};
    bpt_test_proc_start(&proc, argv);
    if (!bpt_test_proc_line(&proc, "run: listening on", line, sizeof(line)) ||
        sscanf(line, "run: listening on http://127.0.0.1:%u", &port) != 1) {
        char *err = bpt_test_proc_stderr(&proc);
        fail_msg("bpt run did not start: %s", err);
    }
    assert_non_null(strstr(line, "provider=none"));
    assert_non_null(strstr(line, id));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/jobs/0", port);
    bpt_test_http(&a, "POST", url, hdr, "cli", 3);
    if (a.status != 200) {
        fail_msg("job 0: HTTP %ld %s", a.status, a.body.len ? (const char *)a.body.data : "");
    }
    assert_memory_equal(a.body.data, "in-tee:cli", 10);
    assert_true(
        bpt_test_http_header(&a, "X-Bpt-Meta-tee.attestation.digest", digest, sizeof(digest)));
    bpt_test_http_dispose(&a);
    assert_ok(bpt_runtime_status(&now, rt, id));
    assert_string_equal(digest, bpt_deployment_attestation_digest(now));
    bpt_deployment_free(now);
    /* job 1 (standard) runs in the runner itself, unstamped */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/jobs/1", port);
    bpt_test_http(&a, "POST", url, hdr, "std", 3);
    assert_int_equal(a.status, 200);
    assert_false(
        bpt_test_http_header(&a, "X-Bpt-Meta-tee.attestation.digest", digest, sizeof(digest)));
    bpt_test_http_dispose(&a);
    assert_int_equal(bpt_test_proc_wait(&proc, SIGTERM), 0);
    bpt_test_proc_kill(&proc);
    assert_ok(bpt_runtime_destroy(rt, id));
    bpt_deployment_free(d);
    bpt_runtime_free(rt);
    bpt_verifier_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placed_stamped_refused),
        cmocka_unit_test(test_cli_run_deployment),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    if (failed == 0 && skipped_why[0] != '\0') {
        fprintf(stderr, "runner/placement: SKIPPED, containers cannot run here: %s\n", skipped_why);
        return 77;
    }
    return failed;
}
