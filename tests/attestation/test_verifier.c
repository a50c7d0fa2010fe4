/* Verifier plugins: registration rules, priority, provider enforcement, wrapping. */
#include "helpers/test.h"

#include <blueprint-tee/sys/verifier.h>

static bool accepts_acme(const uint8_t *ev, size_t len, void *state)
{
    (void)state;
    return len >= 4 && memcmp(ev, "ACME", 4) == 0;
}

static int verify_acme(bpt_report **out, uint8_t rd[64], size_t *rd_len, const uint8_t *ev,
                       size_t len, const bpt_policy *policy, void *state)
{
    int *calls = state;
    (void)policy;
    (*calls)++;
    if (len > 4 && ev[4] == '!') {
        *out = NULL;
        return BPT_ECLAIM; /* a plugin that forgot to set a message */
    }
    if (bpt_report_new(out, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT) != 0 ||
        bpt_report_set_evidence(*out, ev, len) != 0) {
        return BPT_ENOMEM;
    }
    memset(rd, 0x5a, 64);
    *rd_len = 64;
    return 0;
}

static void test_plugin_verifies_its_evidence(void **state)
{
    bpt_verifier_registry *r = NULL;
    bpt_verified *v = NULL;
    int calls = 0;
    size_t n = 0;
    bpt_verifier_vtable vt = {BPT_VERIFIER_API_VERSION,
                              "acme",
                              BPT_PROVIDER_AWS_NITRO,
                              BPT_VERIFICATION_STRUCTURAL,
                              10,
                              accepts_acme,
                              verify_acme,
                              &calls};
    (void)state;
    assert_ok(bpt_verifier_registry_new(&r));
    assert_ok(bpt_verifier_registry_add(r, &vt));
    assert_ok(bpt_verifier_registry_verify(&v, r, (const uint8_t *)"ACME", 4, BPT_PROVIDER_UNKNOWN,
                                           NULL));
    assert_int_equal(calls, 1);
    assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_STRUCTURAL);
    assert_int_equal(bpt_verified_report_data(v, &n)[0], 0x5a);
    bpt_verified_free(v);
    v = NULL;
    /* A refusal comes back with the plugin's name in the message. */
    assert_rc_msg(bpt_verifier_registry_verify(&v, r, (const uint8_t *)"ACME!", 5,
                                               BPT_PROVIDER_UNKNOWN, NULL),
                  BPT_ECLAIM, "acme");
    assert_null(v);
    /* Another provider named: the plugin is not asked; the built-ins refuse. */
    assert_rc_msg(bpt_verifier_registry_verify(&v, r, (const uint8_t *)"ACME", 4,
                                               BPT_PROVIDER_INTEL_TDX, NULL),
                  BPT_EMALFORMED, "not intel_tdx evidence");
    assert_int_equal(calls, 2);
    /* Evidence no plugin accepts goes to the built-in dispatcher. */
    assert_rc_msg(
        bpt_verifier_registry_verify(&v, r, (const uint8_t *)"XXXX", 4, BPT_PROVIDER_UNKNOWN, NULL),
        BPT_EMALFORMED, "not a recognised evidence format");
    bpt_verifier_registry_free(r);
}

static void test_registration_rules(void **state)
{
    bpt_verifier_registry *r = NULL;
    int calls = 0;
    bpt_verifier_vtable vt = {BPT_VERIFIER_API_VERSION,
                              "acme",
                              BPT_PROVIDER_AWS_NITRO,
                              BPT_VERIFICATION_STRUCTURAL,
                              10,
                              accepts_acme,
                              verify_acme,
                              &calls};
    bpt_verifier_vtable bad;
    (void)state;
    assert_ok(bpt_verifier_registry_new(&r));
    bad = vt;
    bad.api_version = BPT_VERIFIER_API_VERSION + 1;
    assert_rc_msg(bpt_verifier_registry_add(r, &bad), BPT_ENOTSUP, "interface version 2");
    bad = vt;
    bad.verify = NULL;
    assert_rc_msg(bpt_verifier_registry_add(r, &bad), BPT_EINVAL, "verify()");
    bad = vt;
    bad.provider = BPT_PROVIDER_UNKNOWN;
    assert_rc_msg(bpt_verifier_registry_add(r, &bad), BPT_EINVAL, "no known provider");
    assert_ok(bpt_verifier_registry_add(r, &vt));
    assert_rc_msg(bpt_verifier_registry_add(r, &vt), BPT_EINVAL, "already registered");
    bpt_verifier_registry_free(r);
    bpt_verifier_registry_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_verifies_its_evidence),
        cmocka_unit_test(test_registration_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
