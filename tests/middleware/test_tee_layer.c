/*
 * The TeeLayer and the TeeContext: stamping from one snapshot, reserved keys, the requirement
 * without a snapshot, snapshot swaps under 8 threads x 10k jobs (run under TSan too), and the
 * sealed secrets a handler reads by name.
 */
#include "helpers/test.h"
#include "helpers/sim_fixture.h"

#include "attester/sim/aws_nitro.h"
#include "attester/sim/sev_snp.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>

struct fixture {
    struct bpt_sim_fixture sim;
    bpt_tee_snapshot *snp, *nitro;
    char snp_digest[65];
};

/* Verify simulated evidence (with @p certs when given) into a snapshot; its evidence digest. */
static bpt_tee_snapshot *snapshot_of(const struct fixture *f, const uint8_t *ev, size_t len,
                                     int64_t at, const char *certs, char digest_out[65])
{
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, at, NULL);
    bpt_verified *v = NULL;
    bpt_tee_snapshot *s = NULL;
    uint8_t md[32];
    if (!ctx || (certs && bpt_verify_ctx_add_certs(ctx, (const uint8_t *)certs, strlen(certs))) ||
        bpt_verify(&v, ctx, NULL, ev, len, BPT_PROVIDER_UNKNOWN) != 0 ||
        bpt_tee_snapshot_new(&s, v) != 0) {
        fprintf(stderr, "snapshot: %s\n", bpt_error_last());
        bpt_verified_free(v);
        s = NULL;
    }
    SHA256(ev, len, md);
    for (int i = 0; i < 32; i++) {
        snprintf(digest_out + 2 * i, 3, "%02x", md[i]);
    }
    bpt_verify_ctx_free(ctx);
    return s;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t rd[64] = {1}, *ev = NULL;
    size_t len = 0;
    struct bpt_sim_nitro_opts o = {0};
    char *certs = NULL, nitro_digest[65];
    *state = f;
    if (!f || bpt_sim_fixture_init(&f->sim) != 0 ||
        bpt_sim_sev_snp_attest(&ev, &len, f->sim.dir, rd) != 0 ||
        bpt_sim_sev_snp_certs_pem(&certs, f->sim.dir) != 0 ||
        !(f->snp = snapshot_of(f, ev, len, 1750000000, certs, f->snp_digest))) {
        return -1;
    }
    bpt_free(ev);
    bpt_free(certs);
    if (bpt_sim_aws_nitro_build(&ev, &len, f->sim.dir, &o) != 0 ||
        !(f->nitro = snapshot_of(f, ev, len, BPT_SIM_NITRO_TIME + 30, NULL, nitro_digest))) {
        return -1;
    }
    bpt_free(ev);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        bpt_tee_snapshot_free(f->snp);
        bpt_tee_snapshot_free(f->nitro);
        bpt_sim_fixture_dispose(&f->sim);
        free(f);
    }
    return 0;
}

/* A handler that also tries to write the reserved keys. */
static int forging(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                   void *ud)
{
    (void)call, (void)tee, (void)ud;
    if (bpt_job_result_set_body(res, (const uint8_t *)"ok", 2) != 0 ||
        bpt_job_result_meta_set(res, "app.key", "v") != 0 ||
        bpt_job_result_meta_set(res, "tee.provider", "intel_tdx") != 0 ||
        bpt_job_result_meta_set(res, "tee.forged", "1") != 0) {
        return BPT_ERROR;
    }
    return 0;
}

static int erroring(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                    void *ud)
{
    (void)call, (void)tee, (void)ud;
    return bpt_job_result_set_error(res, "bad_input", "no");
}

/* Fills the metadata to the limit: stamping then cannot add three entries. */
static int stuffing(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                    void *ud)
{
    (void)call, (void)tee, (void)ud;
    for (int i = 0; i < BPT_JOB_META_MAX_ENTRIES - 1; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        if (bpt_job_result_meta_set(res, k, "v") != 0) {
            return BPT_ERROR;
        }
    }
    return 0;
}

static bpt_router *router_with(bpt_tee_layer *t)
{
    bpt_router *r = NULL;
    bpt_layer l = bpt_tee_layer_as_layer(t);
    assert_ok(bpt_router_new(&r));
    assert_ok(bpt_router_route(r, 0, forging, NULL));
    assert_ok(bpt_router_route(r, 1, erroring, NULL));
    assert_ok(bpt_router_route(r, 2, stuffing, NULL));
    assert_ok(bpt_router_add_layer(r, &l));
    return r;
}

static bpt_job_result *run(bpt_router *r, uint8_t job, const bpt_tee_context *tee)
{
    bpt_job_call *c = NULL;
    bpt_job_result *res = NULL;
    assert_ok(bpt_job_call_new(&c, 1, 1, job, NULL, 0));
    assert_ok(bpt_job_result_new(&res));
    assert_ok(bpt_router_dispatch(r, c, res, tee));
    bpt_job_call_free(c);
    return res;
}

static size_t tee_keys(const bpt_job_result *res)
{
    size_t n = 0;
    const char *k;
    for (size_t i = 0; bpt_job_result_meta_at(res, i, &k, NULL); i++) {
        n += strncmp(k, "tee.", 4) == 0;
    }
    return n;
}

static void test_stamps_from_the_snapshot(void **state)
{
    struct fixture *f = *state;
    bpt_tee_layer *t = NULL;
    bpt_router *r;
    bpt_job_result *res;
    char want[160];
    const bpt_measurement *m =
        bpt_report_measurement(bpt_verified_report(bpt_tee_snapshot_attestation(f->snp)));
    assert_ok(bpt_tee_layer_new(&t, BPT_REQUIREMENT_REQUIRED));
    bpt_tee_layer_set_snapshot(t, f->snp);
    r = router_with(t);
    res = run(r, 0, NULL);
    assert_true(bpt_job_result_is_ok(res));
    assert_string_equal(bpt_job_result_meta_get(res, "tee.attestation.digest"), f->snp_digest);
    assert_string_equal(bpt_job_result_meta_get(res, "tee.provider"), "amd_sev_snp");
    snprintf(want, sizeof(want), "sha384:%s", m->digest);
    assert_string_equal(bpt_job_result_meta_get(res, "tee.measurement"), want);
    /* The handler's own tee.* entries are gone, not duplicated; its other keys stay. */
    assert_null(bpt_job_result_meta_get(res, "tee.forged"));
    assert_int_equal(tee_keys(res), 3);
    assert_string_equal(bpt_job_result_meta_get(res, "app.key"), "v");
    bpt_job_result_free(res);

    /* Error results are not stamped. */
    res = run(r, 1, NULL);
    assert_string_equal(bpt_job_result_error_code(res), "bad_input");
    assert_int_equal(bpt_job_result_meta_count(res), 0);
    bpt_job_result_free(res);

    /* A handler that fills its metadata to the limit still gets all three stamped. */
    res = run(r, 2, NULL);
    assert_true(bpt_job_result_is_ok(res));
    assert_int_equal(bpt_job_result_meta_count(res), BPT_JOB_META_MAX_ENTRIES - 1 + 3);
    assert_int_equal(tee_keys(res), 3);
    assert_string_equal(bpt_job_result_meta_get(res, "tee.attestation.digest"), f->snp_digest);
    bpt_job_result_free(res);
    assert_int_equal(bpt_tee_layer_refused(t), 0);
    bpt_router_free(r);
    bpt_tee_layer_free(t);
}

static void test_without_a_snapshot(void **state)
{
    bpt_tee_layer *req = NULL, *pref = NULL;
    bpt_router *r;
    bpt_job_result *res;
    (void)state;
    /* required: an ok result that cannot be stamped becomes an error (fail closed). */
    assert_ok(bpt_tee_layer_new(&req, BPT_REQUIREMENT_REQUIRED));
    r = router_with(req);
    res = run(r, 0, NULL);
    assert_string_equal(bpt_job_result_error_code(res), "tee_unavailable");
    assert_non_null(strstr(bpt_job_result_error_message(res), "'required'"));
    bpt_job_result_free(res);
    assert_int_equal(bpt_tee_layer_refused(req), 1);
    bpt_router_free(r);
    bpt_tee_layer_free(req);
    /* preferred: left unstamped, and the handler's tee.* entries still dropped. */
    assert_ok(bpt_tee_layer_new(&pref, BPT_REQUIREMENT_PREFERRED));
    r = router_with(pref);
    res = run(r, 0, NULL);
    assert_true(bpt_job_result_is_ok(res));
    assert_int_equal(tee_keys(res), 0);
    assert_string_equal(bpt_job_result_meta_get(res, "app.key"), "v");
    bpt_job_result_free(res);
    bpt_router_free(r);
    bpt_tee_layer_free(pref);
}

static void test_context_snapshot_wins(void **state)
{
    struct fixture *f = *state;
    bpt_tee_layer *t = NULL;
    bpt_tee_context *ctx = NULL;
    bpt_router *r;
    bpt_job_result *res;
    assert_ok(bpt_tee_layer_new(&t, BPT_REQUIREMENT_REQUIRED));
    bpt_tee_layer_set_snapshot(t, f->nitro);
    assert_ok(bpt_tee_context_new(&ctx, f->snp, NULL, "dep-1"));
    r = router_with(t);
    res = run(r, 0, ctx);
    /* The handler saw the SNP attestation: the result is stamped with it too. */
    assert_string_equal(bpt_job_result_meta_get(res, "tee.provider"), "amd_sev_snp");
    bpt_job_result_free(res);
    assert_int_equal(bpt_tee_context_provider(ctx), BPT_PROVIDER_AMD_SEV_SNP);
    assert_string_equal(bpt_tee_context_deployment_id(ctx), "dep-1");
    assert_ptr_equal(bpt_tee_context_attestation(ctx), bpt_tee_snapshot_attestation(f->snp));
    bpt_tee_context_free(ctx);
    /* Clearing the layer's snapshot: now nothing to stamp with. */
    bpt_tee_layer_set_snapshot(t, NULL);
    assert_null(bpt_tee_layer_snapshot(t));
    res = run(r, 0, NULL);
    assert_string_equal(bpt_job_result_error_code(res), "tee_unavailable");
    bpt_job_result_free(res);
    bpt_router_free(r);
    bpt_tee_layer_free(t);
}

/* ---- 8 threads x 10k jobs while another thread swaps snapshots ------------------------------ */

struct race {
    bpt_router *r;
    struct fixture *f;
    atomic_int mixed, unstamped, done_workers;
    atomic_bool stop;
    bpt_tee_layer *t;
};

static int trivial(const bpt_job_call *call, bpt_job_result *res, const bpt_tee_context *tee,
                   void *ud)
{
    (void)call, (void)tee, (void)ud;
    return bpt_job_result_set_body(res, NULL, 0);
}

static void *worker(void *arg)
{
    struct race *x = arg;
    const char *snp_m = bpt_tee_snapshot_measurement(x->f->snp);
    const char *nit_m = bpt_tee_snapshot_measurement(x->f->nitro);
    const char *snp_d = bpt_tee_snapshot_digest(x->f->snp);
    const char *nit_d = bpt_tee_snapshot_digest(x->f->nitro);
    bpt_job_call *c = NULL;
    if (bpt_job_call_new(&c, 1, 1, 0, NULL, 0) != 0) {
        atomic_fetch_add(&x->unstamped, 1);
        return NULL;
    }
    for (int i = 0; i < 10000; i++) {
        bpt_job_result *res = NULL;
        if (bpt_job_result_new(&res) != 0 || bpt_router_dispatch(x->r, c, res, NULL) != 0 ||
            !bpt_job_result_is_ok(res)) {
            atomic_fetch_add(&x->unstamped, 1);
        } else {
            const char *p = bpt_job_result_meta_get(res, "tee.provider");
            const char *d = bpt_job_result_meta_get(res, "tee.attestation.digest");
            const char *m = bpt_job_result_meta_get(res, "tee.measurement");
            bool is_snp = p && strcmp(p, "amd_sev_snp") == 0 && d && strcmp(d, snp_d) == 0 && m &&
                          strcmp(m, snp_m) == 0;
            bool is_nitro = p && strcmp(p, "aws_nitro") == 0 && d && strcmp(d, nit_d) == 0 && m &&
                            strcmp(m, nit_m) == 0;
            if (!is_snp && !is_nitro) {
                atomic_fetch_add(&x->mixed, 1);
            }
        }
        bpt_job_result_free(res);
    }
    bpt_job_call_free(c);
    atomic_fetch_add(&x->done_workers, 1);
    return NULL;
}

static void *swapper(void *arg)
{
    struct race *x = arg;
    for (unsigned i = 0; !atomic_load(&x->stop); i++) {
        bpt_tee_layer_set_snapshot(x->t, (i & 1) ? x->f->snp : x->f->nitro);
    }
    return NULL;
}

static void test_swaps_never_half_stamp(void **state)
{
    struct fixture *f = *state;
    struct race x = {.f = f};
    pthread_t w[8], s;
    bpt_layer l;
    assert_ok(bpt_tee_layer_new(&x.t, BPT_REQUIREMENT_REQUIRED));
    bpt_tee_layer_set_snapshot(x.t, f->snp);
    l = bpt_tee_layer_as_layer(x.t);
    assert_ok(bpt_router_new(&x.r));
    assert_ok(bpt_router_route(x.r, 0, trivial, NULL));
    assert_ok(bpt_router_add_layer(x.r, &l));
    assert_int_equal(pthread_create(&s, NULL, swapper, &x), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_create(&w[i], NULL, worker, &x), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(w[i], NULL);
    }
    atomic_store(&x.stop, true);
    pthread_join(s, NULL);
    assert_int_equal(atomic_load(&x.done_workers), 8);
    assert_int_equal(atomic_load(&x.unstamped), 0);
    assert_int_equal(atomic_load(&x.mixed), 0);
    assert_int_equal(bpt_tee_layer_refused(x.t), 0);
    bpt_router_free(x.r);
    bpt_tee_layer_free(x.t);
}

/* ---- sealed secrets ---------------------------------------------------------------------- */

static void test_context_secrets(void **state)
{
    bpt_kx_store *st = NULL;
    bpt_secret *s = NULL, *copy = NULL;
    bpt_tee_context *ctx = NULL, *bare = NULL;
    (void)state;
    assert_ok(bpt_kx_store_new(&st));
    assert_ok(bpt_secret_from(&s, (const uint8_t *)"hunter2", 7));
    assert_ok(bpt_kx_store_put(st, "db_password", s));
    assert_ok(bpt_tee_context_new(&ctx, NULL, st, NULL));
    assert_int_equal(bpt_tee_context_provider(ctx), BPT_PROVIDER_UNKNOWN);
    assert_null(bpt_tee_context_attestation(ctx));
    assert_ok(bpt_tee_context_secret(&copy, ctx, "db_password"));
    assert_int_equal(bpt_secret_len(copy), 7);
    assert_memory_equal(bpt_secret_data(copy), "hunter2", 7);
    /* A copy: changing it leaves the store's secret as it was. */
    bpt_secret_data_mut(copy)[0] = 'X';
    bpt_secret_free(copy);
    assert_ok(bpt_tee_context_secret(&copy, ctx, "db_password"));
    assert_memory_equal(bpt_secret_data(copy), "hunter2", 7);
    bpt_secret_free(copy);
    copy = NULL;
    assert_rc_msg(bpt_tee_context_secret(&copy, ctx, "api_key"), BPT_ENOTFOUND,
                  "no sealed secret named 'api_key' was delivered");
    assert_null(copy);
    assert_ok(bpt_tee_context_new(&bare, NULL, NULL, NULL));
    assert_rc_msg(bpt_tee_context_secret(&copy, bare, "db_password"), BPT_ENOTFOUND,
                  "takes no sealed secrets");
    assert_rc_msg(bpt_tee_context_secret(&copy, bare, NULL), BPT_EINVAL, "NULL");
    bpt_tee_context_free(bare);
    bpt_tee_context_free(ctx);
    bpt_tee_context_free(NULL);
    bpt_kx_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamps_from_the_snapshot),
        cmocka_unit_test(test_without_a_snapshot),
        cmocka_unit_test(test_context_snapshot_wins),
        cmocka_unit_test(test_swaps_never_half_stamp),
        cmocka_unit_test(test_context_secrets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
