/*
 * The execution profile parsed exactly as the SDK's blueprint_metadata.rs (one case per rule),
 * and the rule a service follows when the blueprint and the service both speak.
 */
#include "helpers/test.h"

static void test_profile_rules(void **state)
{
    static const struct {
        const char *text;
        int code;
        const char *msg;
        bool present;
        bpt_confidentiality conf;
        bpt_gpu_policy gpu;
        uint32_t min_count;
    } cases[] = {
        {"", 0, NULL, false, BPT_CONFIDENTIALITY_ANY, BPT_GPU_NONE, 0},
        {"  \n\t", 0, NULL, false, BPT_CONFIDENTIALITY_ANY, BPT_GPU_NONE, 0},
        {"{\"schema\":\"tangle.blueprint.metadata.v1\"}", 0, NULL, false, BPT_CONFIDENTIALITY_ANY,
         BPT_GPU_NONE, 0},
        {"{\"execution_profile\":null}", 0, NULL, false, BPT_CONFIDENTIALITY_ANY, BPT_GPU_NONE, 0},
        {"{\"execution_profile\":{}}", 0, NULL, true, BPT_CONFIDENTIALITY_ANY, BPT_GPU_NONE, 0},
        {"{\"execution_profile\":{\"confidentiality\":\"tee_required\"},\"extra\":1}", 0, NULL,
         true, BPT_CONFIDENTIALITY_TEE_REQUIRED, BPT_GPU_NONE, 0},
        {"{\"execution_profile\":{\"confidentiality\":\"standard_required\"}}", 0, NULL, true,
         BPT_CONFIDENTIALITY_STANDARD_REQUIRED, BPT_GPU_NONE, 0},
        {"{\"execution_profile\":{\"gpu\":{\"policy\":\"required\",\"min_count\":0}}}", 0, NULL,
         true, BPT_CONFIDENTIALITY_ANY, BPT_GPU_REQUIRED, 1},
        {"{\"execution_profile\":{\"gpu\":{\"policy\":\"none\"}}}", 0, NULL, true,
         BPT_CONFIDENTIALITY_ANY, BPT_GPU_NONE, 0},
        {"{\"execution_profile\":{\"gpu\":{\"policy\":\"preferred\",\"min_count\":2}}}", 0, NULL,
         true, BPT_CONFIDENTIALITY_ANY, BPT_GPU_PREFERRED, 2},
        {"not json", BPT_EMALFORMED, "not JSON", false, 0, 0, 0},
        {"[1]", BPT_EMALFORMED, "not a JSON object", false, 0, 0, 0},
        {"{\"execution_profile\":\"tee\"}", BPT_EINVAL, "not an object", false, 0, 0, 0},
        {"{\"execution_profile\":{\"confidentiality\":\"any\",\"region\":\"eu\"}}", BPT_EINVAL,
         "region", false, 0, 0, 0},
        {"{\"execution_profile\":{\"gpu\":{\"policy\":\"none\",\"vendor\":\"x\"}}}", BPT_EINVAL,
         "vendor", false, 0, 0, 0},
        {"{\"execution_profile\":{\"confidentiality\":\"secret\"}}", BPT_EINVAL,
         "confidentiality 'secret'", false, 0, 0, 0},
        {"{\"execution_profile\":{\"gpu\":{\"policy\":\"always\"}}}", BPT_EINVAL,
         "gpu.policy 'always'", false, 0, 0, 0},
        {"{\"execution_profile\":{\"gpu\":{\"min_count\":-1}}}", BPT_EINVAL, "min_count", false, 0,
         0, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_execution_profile p;
        int rc = bpt_execution_profile_parse(&p, cases[i].text, strlen(cases[i].text));
        if (rc != cases[i].code || (cases[i].msg && !strstr(bpt_error_last(), cases[i].msg))) {
            fail_msg("'%s': rc %d '%s', want %d '%s'", cases[i].text, rc, bpt_error_last(),
                     cases[i].code, cases[i].msg ? cases[i].msg : "");
        }
        if (rc == 0 && (p.present != cases[i].present || p.confidentiality != cases[i].conf ||
                        p.gpu != cases[i].gpu || p.gpu_min_count != cases[i].min_count)) {
            fail_msg("'%s': present %d conf %d gpu %d min %u", cases[i].text, p.present,
                     p.confidentiality, p.gpu, p.gpu_min_count);
        }
    }
}

static void test_combine(void **state)
{
    bpt_confidentiality out;
    const bpt_confidentiality A = BPT_CONFIDENTIALITY_ANY, T = BPT_CONFIDENTIALITY_TEE_REQUIRED,
                              S = BPT_CONFIDENTIALITY_STANDARD_REQUIRED,
                              P = BPT_CONFIDENTIALITY_TEE_PREFERRED;
    (void)state;
    assert_ok(bpt_confidentiality_combine(&out, A, A));
    assert_int_equal(out, A);
    assert_ok(bpt_confidentiality_combine(&out, A, P));
    assert_int_equal(out, P);
    assert_ok(bpt_confidentiality_combine(&out, P, T));
    assert_int_equal(out, T);
    assert_ok(bpt_confidentiality_combine(&out, S, P));
    assert_int_equal(out, S);
    assert_rc_msg(bpt_confidentiality_combine(&out, T, S), BPT_EUNSATISFIABLE,
                  "the blueprint says tee_required and the service standard_required");
    assert_rc_msg(bpt_confidentiality_combine(&out, A, (bpt_confidentiality)4), BPT_EINVAL,
                  "past 3");
    assert_string_equal(bpt_confidentiality_name(P), "tee_preferred");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_rules),
        cmocka_unit_test(test_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
