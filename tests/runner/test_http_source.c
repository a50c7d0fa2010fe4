/* bpt-test-labels: loopback */
/*
 * The local HTTP job source on 127.0.0.1 against a runner on the simulated SEV-SNP: every
 * answer of DESIGN.md §10 (200 raw and ?format=json with the stamp, 422 error result, 404
 * unknown job and no such path, 405, 400 bad metadata or format, 413, 415, 503 capacity with
 * Retry-After), GET /v1/attestation (the stamped evidence, or fresh with a nonce), a secret
 * sealed with the key-exchange client reaching a handler's TeeContext, /metrics and /healthz
 * on the same listener, a stop that answers the job in flight, and a port in use.
 */
#include "helpers/http_client.h"
#include "helpers/sim_fixture.h"
#include "helpers/test.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/codec.h"

struct fixture {
    struct bpt_sim_fixture sim;
    char *empty_root;
    bpt_config *config;
    bpt_router *router;
    atomic_int gate;    /* the "hold" handler waits while 0 */
    atomic_int holding; /* handlers waiting on the gate */
};

static struct fixture *F;

static int echo(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee, void *ud)
{
    size_t n = 0;
    const uint8_t *body = bpt_job_call_body(call, &n);
    const char *m = bpt_job_call_meta_get(call, "who");
    (void)tee;
    (void)ud;
    if (m && bpt_job_result_meta_set(res, "who", m) < 0) {
        return BPT_EINVAL;
    }
    return bpt_job_result_set_body(res, body, n);
}

static int refuse(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                  void *ud)
{
    (void)call;
    (void)tee;
    (void)ud;
    return bpt_job_result_set_error(res, "bad_input", "the number is odd");
}

static int hold(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee, void *ud)
{
    (void)tee;
    (void)ud;
    atomic_fetch_add(&F->holding, 1);
    while (!atomic_load(&F->gate)) {
        usleep(1000);
    }
    atomic_fetch_sub(&F->holding, 1);
    return echo(call, res, NULL, NULL);
}

/* Answers with the length of the sealed secret "api_key" (never its bytes). */
static int use_secret(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                      void *ud)
{
    bpt_secret *s = NULL;
    char text[32];
    int rc;
    (void)call;
    (void)ud;
    if ((rc = bpt_tee_context_secret(&s, tee, "api_key")) < 0) {
        return rc;
    }
    snprintf(text, sizeof(text), "%zu", bpt_secret_len(s));
    bpt_secret_free(s);
    return bpt_job_result_set_body(res, (const uint8_t *)text, strlen(text));
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    bpt_config_builder *b = NULL;
    *state = F = f;
    if (!f || bpt_sim_fixture_init(&f->sim) != 0 || !(f->empty_root = bpt_test_tmpdir()) ||
        bpt_config_builder_new(&b) != 0) {
        return -1;
    }
    bpt_config_builder_set_mode(b, BPT_MODE_DIRECT);
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_REQUIRED);
    if (bpt_config_builder_build(&f->config, b) != 0 || bpt_router_new(&f->router) != 0 ||
        bpt_router_route(f->router, 0, echo, NULL) != 0 ||
        bpt_router_route(f->router, 1, refuse, NULL) != 0 ||
        bpt_router_route(f->router, 2, hold, NULL) != 0 ||
        bpt_router_route(f->router, 3, use_secret, NULL) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        bpt_config_builder_free(b);
        return -1;
    }
    bpt_config_builder_free(b);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        bpt_router_free(f->router);
        bpt_config_free(f->config);
        bpt_sim_fixture_dispose(&f->sim);
        if (f->empty_root) {
            bpt_test_rmtree(f->empty_root);
            free(f->empty_root);
        }
        free(f);
    }
    return 0;
}

/* A started runner with the HTTP source on an ephemeral port; its base URL in @p base. */
static bpt_runner *start_runner(struct fixture *f, size_t workers, size_t queue, char base[64])
{
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    bpt_runner *r = NULL;
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    o.root = f->empty_root;
    o.workers = workers;
    o.queue_depth = queue;
    assert_ok(bpt_runner_new(&r, f->config));
    assert_ok(bpt_runner_set_options(r, &o));
    assert_ok(bpt_runner_set_router(r, f->router));
    assert_ok(bpt_runner_add_source(r, bpt_source_http_local("127.0.0.1:0")));
    assert_ok(bpt_runner_start(r));
    assert_true(bpt_runner_http_port(r) > 0);
    snprintf(base, 64, "http://127.0.0.1:%u", bpt_runner_http_port(r));
    return r;
}

static const char *const OCTETS[] = {"Content-Type: application/octet-stream", NULL};

static void post(struct bpt_test_http_answer *a, const char *base, const char *path,
                 const char *const *headers, const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    bpt_test_http(a, "POST", url, headers ? headers : OCTETS, body, body ? strlen(body) : 0);
    if (a->status == 0) {
        fail_msg("%s", a->curl_error);
    }
}

static void get(struct bpt_test_http_answer *a, const char *base, const char *path)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", base, path);
    bpt_test_http(a, "GET", url, NULL, NULL, 0);
    if (a->status == 0) {
        fail_msg("%s", a->curl_error);
    }
}

static void test_jobs_over_http(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_http_answer a;
    char base[64], v[256];
    bpt_runner *r = start_runner(f, 2, 16, base);
    bpt_tee_snapshot *snap = bpt_runner_snapshot(r);
    const char *const with_meta[] = {"Content-Type: application/octet-stream",
                                     "X-Bpt-Meta-who: alice", "X-Bpt-Call-Id: 42", NULL};

    /* 200: the body, the stamp as X-Bpt-Meta-* headers, the call's id; request metadata in. */
    post(&a, base, "/v1/jobs/0", with_meta, "hello");
    assert_int_equal(a.status, 200);
    assert_string_equal((const char *)a.body.data, "hello");
    assert_true(bpt_test_http_header(&a, "X-Bpt-Meta-tee.attestation.digest", v, sizeof(v)));
    assert_string_equal(v, bpt_tee_snapshot_digest(snap));
    assert_true(bpt_test_http_header(&a, "X-Bpt-Meta-tee.provider", v, sizeof(v)));
    assert_string_equal(v, "amd_sev_snp");
    assert_true(bpt_test_http_header(&a, "X-Bpt-Meta-tee.measurement", v, sizeof(v)));
    assert_string_equal(v, bpt_tee_snapshot_measurement(snap));
    assert_true(bpt_test_http_header(&a, "X-Bpt-Meta-who", v, sizeof(v)));
    assert_string_equal(v, "alice");
    assert_true(bpt_test_http_header(&a, "X-Bpt-Call-Id", v, sizeof(v)));
    assert_string_equal(v, "42");
    assert_true(bpt_test_http_header(&a, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/octet-stream");
    bpt_test_http_dispose(&a);

    /* An empty body is a body too. */
    post(&a, base, "/v1/jobs/0", NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.body.len, 0);
    bpt_test_http_dispose(&a);

    /* ?format=json */
    post(&a, base, "/v1/jobs/0?format=json", NULL, "hi");
    assert_int_equal(a.status, 200);
    assert_non_null(a.json);
    assert_string_equal(json_string_value(json_object_get(a.json, "body_b64")), "aGk=");
    assert_string_equal(json_string_value(json_object_get(json_object_get(a.json, "metadata"),
                                                          "tee.attestation.digest")),
                        bpt_tee_snapshot_digest(snap));
    bpt_test_http_dispose(&a);

    /* 422: an error result, DESIGN §6's shape, no stamp. */
    post(&a, base, "/v1/jobs/1", NULL, "3");
    assert_int_equal(a.status, 422);
    assert_string_equal(bpt_test_http_error_code(&a), "bad_input");
    assert_false(bpt_test_http_header(&a, "X-Bpt-Meta-tee.provider", v, sizeof(v)));
    bpt_test_http_dispose(&a);

    /* 404: no handler; a path that is no job. 405: not POST. */
    post(&a, base, "/v1/jobs/7", NULL, "x");
    assert_int_equal(a.status, 404);
    assert_string_equal(bpt_test_http_error_code(&a), "unknown_job");
    bpt_test_http_dispose(&a);
    post(&a, base, "/v1/jobs/256", NULL, "x");
    assert_int_equal(a.status, 404);
    assert_string_equal(bpt_test_http_error_code(&a), "not_found");
    bpt_test_http_dispose(&a);
    post(&a, base, "/v1/jobs/07", NULL, "x");
    assert_int_equal(a.status, 404);
    bpt_test_http_dispose(&a);
    get(&a, base, "/v1/jobs/0");
    assert_int_equal(a.status, 405);
    bpt_test_http_dispose(&a);

    /* 400: tee.* metadata from a client, a key the metadata rules refuse, a bad format. */
    {
        const char *const tee_meta[] = {"Content-Type: application/octet-stream",
                                        "X-Bpt-Meta-tee.provider: forged", NULL};
        const char *const bad_key[] = {"Content-Type: application/octet-stream",
                                       "X-Bpt-Meta-a*b: 1", NULL};
        const char *const bad_id[] = {"Content-Type: application/octet-stream", "X-Bpt-Call-Id: -1",
                                      NULL};
        post(&a, base, "/v1/jobs/0", tee_meta, "x");
        assert_int_equal(a.status, 400);
        assert_non_null(strstr((const char *)a.body.data, "tee.*"));
        bpt_test_http_dispose(&a);
        post(&a, base, "/v1/jobs/0", bad_key, "x");
        assert_int_equal(a.status, 400);
        bpt_test_http_dispose(&a);
        post(&a, base, "/v1/jobs/0", bad_id, "x");
        assert_int_equal(a.status, 400);
        bpt_test_http_dispose(&a);
        post(&a, base, "/v1/jobs/0?format=xml", NULL, "x");
        assert_int_equal(a.status, 400);
        bpt_test_http_dispose(&a);
    }
    /* 415: another content type. 413: a body over 1 MiB. */
    {
        const char *const text[] = {"Content-Type: text/plain", NULL};
        size_t big = 1024 * 1024 + 1;
        char *body = malloc(big + 1);
        assert_non_null(body);
        memset(body, 'a', big);
        body[big] = 0;
        post(&a, base, "/v1/jobs/0", text, "x");
        assert_int_equal(a.status, 415);
        bpt_test_http_dispose(&a);
        post(&a, base, "/v1/jobs/0", NULL, body);
        assert_int_equal(a.status, 413);
        assert_string_equal(bpt_test_http_error_code(&a), "payload_too_large");
        bpt_test_http_dispose(&a);
        body[big - 1] = 0; /* exactly the limit: taken */
        post(&a, base, "/v1/jobs/0", NULL, body);
        assert_int_equal(a.status, 200);
        assert_int_equal(a.body.len, big - 1);
        bpt_test_http_dispose(&a);
        free(body);
    }
    /* The same listener: /healthz, /metrics with the runner's lines and the key exchange's. */
    get(&a, base, "/healthz");
    assert_int_equal(a.status, 200);
    bpt_test_http_dispose(&a);
    get(&a, base, "/metrics");
    assert_int_equal(a.status, 200);
    assert_non_null(
        strstr((const char *)a.body.data, "bpt_jobs_total{job=\"0\",outcome=\"ok\"} 4"));
    assert_non_null(
        strstr((const char *)a.body.data, "bpt_jobs_total{job=\"1\",outcome=\"error\"}"));
    assert_non_null(strstr((const char *)a.body.data, "bpt_kx_sessions_created_total"));
    bpt_test_http_dispose(&a);

    bpt_tee_snapshot_free(snap);
    bpt_runner_free(r);
}

/* The report of an answer {"attestation": <report>}. */
static int report_of(bpt_report **out, const struct bpt_test_http_answer *a)
{
    char *text = json_dumps(json_object_get(a->json, "attestation"), JSON_COMPACT);
    int rc = text ? bpt_report_from_json(out, text, strlen(text)) : BPT_EMALFORMED;
    free(text);
    return rc;
}

/* GET /v1/attestation: the report results are stamped with (its evidence's SHA-256 is the
 * stamp, and it verifies); with ?nonce= fresh evidence instead. */
static void test_attestation(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_http_answer a;
    char base[64], digest[65];
    bpt_runner *r = start_runner(f, 1, 4, base);
    bpt_tee_snapshot *snap = bpt_runner_snapshot(r);
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL);
    bpt_report *rep = NULL;
    bpt_verified *v = NULL;

    get(&a, base, "/v1/attestation");
    assert_int_equal(a.status, 200);
    assert_ok(report_of(&rep, &a));
    bpt_report_evidence_digest(digest, rep);
    assert_string_equal(digest, bpt_tee_snapshot_digest(snap));
    assert_non_null(ctx);
    assert_ok(bpt_verify_report(&v, ctx, NULL, rep));
    bpt_verified_free(v);
    bpt_report_free(rep);
    rep = NULL;
    bpt_test_http_dispose(&a);

    get(&a, base, "/v1/attestation?nonce=000102030405060708090a0b0c0d0e0f");
    assert_int_equal(a.status, 200);
    assert_ok(report_of(&rep, &a));
    bpt_report_evidence_digest(digest, rep);
    assert_string_not_equal(digest, bpt_tee_snapshot_digest(snap));
    bpt_report_free(rep);
    bpt_test_http_dispose(&a);

    bpt_verify_ctx_free(ctx);
    bpt_tee_snapshot_free(snap);
    bpt_runner_free(r);
}

/* A secret sealed to the runner with the key-exchange client reaches a handler by name. */
static void test_sealed_secret_reaches_handler(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_http_answer a;
    char base[64];
    bpt_runner *r = start_runner(f, 1, 4, base);
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, 0, NULL);
    bpt_verifier *vf = NULL;
    bpt_kx_client_result res = BPT_KX_CLIENT_RESULT_INIT;
    bpt_kx_client_secret sec = {"api_key", (const uint8_t *)"0123456789abcdef", 16};

    post(&a, base, "/v1/jobs/3", NULL, "");
    assert_int_equal(a.status, 422);
    assert_string_equal(bpt_test_http_error_code(&a), "not_found");
    assert_non_null(strstr((const char *)a.body.data, "api_key"));
    bpt_test_http_dispose(&a);

    assert_ok(bpt_verifier_new(&vf, ctx, NULL));
    assert_ok(bpt_kx_client_send(&res, base, vf, &sec, 1));
    post(&a, base, "/v1/jobs/3", NULL, "");
    assert_int_equal(a.status, 200);
    assert_string_equal((const char *)a.body.data, "16");
    bpt_test_http_dispose(&a);

    /* The metrics never carry a secret's bytes. */
    get(&a, base, "/metrics");
    assert_null(strstr((const char *)a.body.data, "0123456789abcdef"));
    bpt_test_http_dispose(&a);

    bpt_verifier_free(vf);
    bpt_verify_ctx_free(ctx);
    bpt_runner_free(r);
}

struct bg_post {
    const char *base;
    struct bpt_test_http_answer a;
    pthread_t t;
};

static void *bg_post_main(void *arg)
{
    struct bg_post *p = arg;
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/jobs/2", p->base);
    bpt_test_http(&p->a, "POST", url, OCTETS, "held", 4);
    return NULL;
}

static void wait_holding(int n)
{
    for (int i = 0; i < 5000 && atomic_load(&F->holding) < n; i++) {
        usleep(1000);
    }
    assert_int_equal(atomic_load(&F->holding), n);
}

/* One worker held, a queue of one: the third job is 503 capacity with Retry-After. Stopping
 * then answers the held job (200) and the queued one (it runs in the drain). */
static void test_back_pressure_and_stop(void **state)
{
    struct fixture *f = *state;
    struct bpt_test_http_answer a;
    struct bg_post held = {0}, queued = {0};
    char base[64], v[32];
    bpt_runner *r;

    atomic_store(&f->gate, 0);
    r = start_runner(f, 1, 1, base);
    held.base = queued.base = base;
    assert_int_equal(pthread_create(&held.t, NULL, bg_post_main, &held), 0);
    wait_holding(1);
    assert_int_equal(pthread_create(&queued.t, NULL, bg_post_main, &queued), 0);
    /* wait for the second to sit in the queue */
    for (int i = 0; i < 5000; i++) {
        char *m = NULL;
        assert_ok(bpt_runner_metrics(&m, r));
        bool in = strstr(m, "bpt_job_queue_depth 1\n") != NULL;
        bpt_free(m);
        if (in) {
            break;
        }
        usleep(1000);
    }
    post(&a, base, "/v1/jobs/0", NULL, "x");
    assert_int_equal(a.status, 503);
    assert_string_equal(bpt_test_http_error_code(&a), "capacity");
    assert_true(bpt_test_http_header(&a, "Retry-After", v, sizeof(v)));
    assert_string_equal(v, "1");
    bpt_test_http_dispose(&a);

    atomic_store(&f->gate, 1);
    bpt_runner_stop(r); /* drains: both waiting requests are answered before the listener closes */
    pthread_join(held.t, NULL);
    pthread_join(queued.t, NULL);
    assert_int_equal(held.a.status, 200);
    assert_int_equal(queued.a.status, 200);
    assert_string_equal((const char *)held.a.body.data, "held");
    bpt_test_http_dispose(&held.a);
    bpt_test_http_dispose(&queued.a);
    assert_int_equal(bpt_runner_http_port(r), 0);
    bpt_runner_free(r);
}

/* A port in use: start fails with the source's error and nothing keeps running. */
static void test_port_in_use(void **state)
{
    struct fixture *f = *state;
    char base[64], listen[64];
    bpt_runner *r1 = start_runner(f, 1, 4, base), *r2 = NULL;
    bpt_runner_opts o = BPT_RUNNER_OPTS_INIT;
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->sim.dir;
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", bpt_runner_http_port(r1));
    assert_ok(bpt_runner_new(&r2, f->config));
    assert_ok(bpt_runner_set_options(r2, &o));
    assert_ok(bpt_runner_set_router(r2, f->router));
    assert_ok(bpt_runner_add_source(r2, bpt_source_http_local(listen)));
    assert_rc_msg(bpt_runner_start(r2), BPT_EIO, "source http");
    assert_int_equal(bpt_runner_http_port(r2), 0);
    bpt_runner_free(r2);
    bpt_runner_free(r1);
}

static void test_listen_addresses(void **state)
{
    bpt_source *s;
    (void)state;
    assert_null(bpt_source_http_local("localhost:80"));
    assert_non_null(strstr(bpt_error_last(), "numeric address"));
    assert_null(bpt_source_http_local("127.0.0.1"));
    assert_non_null(strstr(bpt_error_last(), "HOST:PORT"));
    assert_null(bpt_source_http_local("127.0.0.1:65536"));
    assert_null(bpt_source_http_local("127.0.0.1:"));
    assert_null(bpt_source_http_local(NULL));
    assert_non_null(s = bpt_source_http_local("[::1]:0"));
    bpt_source_free(s);
    assert_non_null(s = bpt_source_http_local("0.0.0.0:8788"));
    bpt_source_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_over_http),
        cmocka_unit_test(test_attestation),
        cmocka_unit_test(test_sealed_secret_reaches_handler),
        cmocka_unit_test(test_back_pressure_and_stop),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_listen_addresses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
