/*
 * The runner's checks on a deployment workload's answer (placement.h), without a container:
 * a snapshot of simulated SEV-SNP evidence the "runner" verified, and answers whose stamp names
 * it, names another measurement or provider, or is missing, or that are not a job result. The
 * placement itself runs on runc: runner/placement.
 */
#include "helpers/sim_fixture.h"
#include "helpers/test.h"

#include "runner/placement.h"

static struct bpt_sim_fixture sim;
static bpt_tee_snapshot *snap;

static int setup(void **state)
{
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *rep = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *pol = NULL;
    bpt_verified *v = NULL;
    uint8_t rd[64] = {0};
    (void)state;
    if (bpt_sim_fixture_init(&sim) != 0) {
        return -1;
    }
    ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    ao.sim_dir = sim.dir;
    if (bpt_attest(&rep, rd, &ao) < 0 || !(ctx = bpt_sim_fixture_ctx(&sim, 0, NULL)) ||
        bpt_policy_new(&pol) < 0 || bpt_verify_report(&v, ctx, pol, rep) < 0 ||
        bpt_tee_snapshot_new(&snap, v) < 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return -1;
    }
    bpt_policy_free(pol);
    bpt_verify_ctx_free(ctx);
    bpt_report_free(rep);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bpt_tee_snapshot_free(snap);
    bpt_sim_fixture_dispose(&sim);
    return 0;
}

/* The answer @p text as a result. */
static bpt_job_result *answer(const char *text)
{
    bpt_job_result *r = NULL;
    assert_ok(bpt_job_result_new(&r));
    bpt_placement_take_answer(r, "0123456789abcdef", snap, (const uint8_t *)text, strlen(text));
    return r;
}

static void assert_error(bpt_job_result *r, const char *code, const char *sub)
{
    assert_false(bpt_job_result_is_ok(r));
    assert_string_equal(bpt_job_result_error_code(r), code);
    if (!strstr(bpt_job_result_error_message(r), sub)) {
        fail_msg("'%s' not in: %s", sub, bpt_job_result_error_message(r));
    }
    bpt_job_result_free(r);
}

/* An answer stamped with @p provider and @p measurement, its body @p b64 and one more
 * metadata entry @p more ("" or ,"key":value). */
static bpt_job_result *stamped(const char *provider, const char *measurement, const char *b64,
                               const char *more)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"body_b64\":\"%s\",\"metadata\":{\"tee.provider\":\"%s\",\"tee.measurement\":"
             "\"%s\",\"tee.attestation.digest\":\"00\"%s}}",
             b64, provider, measurement, more);
    return answer(text);
}

static void test_stamp_checked(void **state)
{
    const char *meas = bpt_tee_snapshot_measurement(snap);
    size_t n = 0;
    bpt_job_result *r;
    (void)state;
    /* the verified provider and measurement: the body and the other metadata kept, tee.* not */
    r = stamped("amd_sev_snp", meas, "aGk=", ",\"k\":\"v\"");
    assert_true(bpt_job_result_is_ok(r));
    assert_memory_equal(bpt_job_result_body(r, &n), "hi", 2);
    assert_int_equal(n, 2);
    assert_string_equal(bpt_job_result_meta_get(r, "k"), "v");
    assert_null(bpt_job_result_meta_get(r, "tee.attestation.digest"));
    bpt_job_result_free(r);
    /* another measurement, another provider: not what the runner verified */
    assert_error(stamped("amd_sev_snp", "sha384:00", "aGk=", ""), "deployment_mismatch",
                 "not the attestation the runner verified");
    assert_error(stamped("intel_tdx", meas, "aGk=", ""), "deployment_mismatch", "intel_tdx");
    assert_error(stamped("no-such-tee", meas, "aGk=", ""), "deployment_mismatch", "no-such-tee");
    /* no stamp: the workload did not run it under its attestation */
    assert_error(answer("{\"body_b64\":\"aGk=\",\"metadata\":{\"k\":\"v\"}}"),
                 "deployment_unstamped", "without a TEE stamp");
    /* not a job result */
    assert_error(answer("{\"x\":1}"), "deployment_protocol", "no body_b64");
    assert_error(answer("not json"), "deployment_protocol", "not a job result");
    assert_error(stamped("amd_sev_snp", meas, "*", ""), "deployment_protocol", "0123456789abcdef");
    assert_error(stamped("amd_sev_snp", meas, "", ",\"n\":1"), "deployment_protocol",
                 "metadata 'n' refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
