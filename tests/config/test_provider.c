/* Provider and format names: every spelling the CLI and the JSON documents take. */
#include "helpers/test.h"

static void test_every_spelling_parses(void **state)
{
    static const struct {
        const char *name;
        bpt_provider want;
    } cases[] = {
        /* the serialized names */
        {"intel_tdx", BPT_PROVIDER_INTEL_TDX},
        {"amd_sev_snp", BPT_PROVIDER_AMD_SEV_SNP},
        {"aws_nitro", BPT_PROVIDER_AWS_NITRO},
        {"azure_snp", BPT_PROVIDER_AZURE_SNP},
        {"gcp_confidential", BPT_PROVIDER_GCP_CONFIDENTIAL},
        /* the CLI's kebab-case spellings */
        {"tdx", BPT_PROVIDER_INTEL_TDX},
        {"sev-snp", BPT_PROVIDER_AMD_SEV_SNP},
        {"aws-nitro", BPT_PROVIDER_AWS_NITRO},
        {"azure-maa", BPT_PROVIDER_AZURE_SNP},
        {"azure-snp", BPT_PROVIDER_AZURE_SNP},
        {"gcp-confidential", BPT_PROVIDER_GCP_CONFIDENTIAL},
        /* the snake_case short names they stand for */
        {"sev_snp", BPT_PROVIDER_AMD_SEV_SNP},
        {"azure_maa", BPT_PROVIDER_AZURE_SNP},
        {"auto", BPT_PROVIDER_UNKNOWN},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_provider p = BPT_PROVIDER_CUSTOM;
        if (bpt_provider_parse(&p, cases[i].name) != 0 || p != cases[i].want) {
            fail_msg("%s: got %d (%s), want %d", cases[i].name, (int)p, bpt_error_last(),
                     (int)cases[i].want);
        }
    }
}

static void test_unknown_names_are_refused(void **state)
{
    bpt_provider p = BPT_PROVIDER_AWS_NITRO;
    (void)state;
    assert_rc_msg(bpt_provider_parse(&p, "sev"), BPT_EINVAL, "provider 'sev' unknown");
    assert_rc_msg(bpt_provider_parse(&p, "SEV_SNP"), BPT_EINVAL, "sev-snp/sev_snp");
    assert_rc_msg(bpt_provider_parse(&p, NULL), BPT_EINVAL, "missing name");
    assert_int_equal(p, BPT_PROVIDER_AWS_NITRO); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_spelling_parses),
        cmocka_unit_test(test_unknown_names_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
