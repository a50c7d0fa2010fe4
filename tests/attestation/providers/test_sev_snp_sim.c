/*
 * SEV-SNP checks against the simulated TEE: each case edits one field of a valid report,
 * re-signs it with the simulated VCEK when the check is not the signature itself, and must be
 * refused by exactly that check (code and message).
 */
#include "helpers/test.h"

#include "attester/sim/sev_snp.h"

#include <stdio.h>

#define AT 1750000000 /* 2025-06-15: inside the simulated certificates' validity */

struct fixture {
    char *dir;
    uint8_t *report;
    size_t len;
    char *roots;
    size_t roots_len;
    char *certs;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t rd[64];
    char path[4096];
    f->dir = bpt_test_tmpdir();
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)i;
    }
    if (bpt_sim_init(f->dir) != 0 || bpt_sim_sev_snp_attest(&f->report, &f->len, f->dir, rd) != 0 ||
        bpt_sim_sev_snp_certs_pem(&f->certs, f->dir) != 0) {
        fprintf(stderr, "simulator: %s\n", bpt_error_last());
        return -1;
    }
    snprintf(path, sizeof(path), "%s/trust-roots.pem", f->dir);
    f->roots = (char *)bpt_test_read_file(path, &f->roots_len);
    *state = f;
    return f->roots ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    bpt_test_rmtree(f->dir);
    free(f->dir);
    bpt_free(f->report);
    bpt_free(f->certs);
    free(f->roots);
    free(f);
    return 0;
}

static bpt_policy *sim_policy(struct fixture *f, const char *json)
{
    bpt_policy *p = NULL;
    assert_ok(json ? bpt_policy_load_json(&p, json, strlen(json)) : bpt_policy_new(&p));
    bpt_policy_set_at(p, AT);
    assert_ok(bpt_policy_add_trust_root_pem(p, f->roots, f->roots_len));
    assert_ok(bpt_policy_add_certs(p, (const uint8_t *)f->certs, strlen(f->certs)));
    return p;
}

static void test_round_trip_verifies(void **state)
{
    struct fixture *f = *state;
    bpt_policy *p = sim_policy(f, NULL);
    bpt_verified *v = NULL;
    size_t n = 0;
    assert_ok(bpt_verify(&v, f->report, f->len, BPT_PROVIDER_AMD_SEV_SNP, p));
    const uint8_t *rd = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_int_equal(rd[63], 63);
    bpt_verified_free(v);
    bpt_policy_free(p);
}

static void test_pinned_roots_refuse_simulated_evidence(void **state)
{
    struct fixture *f = *state;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, AT);
    assert_ok(bpt_policy_add_certs(p, (const uint8_t *)f->certs, strlen(f->certs)));
    assert_rc_msg(bpt_sev_snp_verify(&v, f->report, f->len, p), BPT_ESIGNATURE, "VCEK chain");
    assert_null(v);
    bpt_policy_free(p);
}

struct edit {
    size_t off;
    uint8_t value; /* written at off */
};

static const struct check_case {
    const char *name;
    struct edit e[2];
    int n_edits;
    bool resign;
    const char *policy;
    int64_t at; /* 0: AT */
    int want;
    const char *msg;
} cases[] = {
    {"debug policy bit", {{0x0A, 0x0B}}, 1, true, NULL, 0, BPT_ECLAIM, "debug"},
    {"measurement",
     {{0}},
     0,
     true,
     "{\"expected_measurement\":"
     "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011"
     "2233445566778899aabbccddeeff\"}",
     0,
     BPT_ECLAIM,
     "measurement"},
    {"report_data",
     {{0}},
     0,
     true,
     "{\"expected_report_data\":\"ff\"}",
     0,
     BPT_ECLAIM,
     "report_data"},
    {"host_data",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"host_data\":\"11111111111111111111111111111111111111111111111111111111111111"
     "11\"}}",
     0,
     BPT_ECLAIM,
     "host_data"},
    {"vmpl", {{0x30, 2}}, 1, true, "{\"sev_snp\":{\"vmpl\":0}}", 0, BPT_ECLAIM, "vmpl 2"},
    {"min bootloader",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_tcb\":{\"bootloader\":4}}}",
     0,
     BPT_ECLAIM,
     "bootloader 3 < policy minimum 4"},
    {"min tee",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_tcb\":{\"tee\":1}}}",
     0,
     BPT_ECLAIM,
     "tee 0 < policy minimum 1"},
    {"min snp",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_tcb\":{\"snp\":9}}}",
     0,
     BPT_ECLAIM,
     "snp 8 < policy minimum 9"},
    {"min microcode",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_tcb\":{\"microcode\":116}}}",
     0,
     BPT_ECLAIM,
     "microcode 115 < policy minimum 116"},
    {"product allow-list",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"products\":[\"Genoa\",\"Turin\"]}}",
     0,
     BPT_ECLAIM,
     "product Milan"},
    {"product mismatch CPUID vs VCEK",
     {{0x189, 0x11}},
     1,
     true,
     NULL,
     0,
     BPT_ESIGNATURE,
     "CPUID says Genoa"},
    {"chip id", {{0x1A0, 0x00}, {0x1A1, 0x01}}, 2, true, NULL, 0, BPT_ESIGNATURE, "chip_id"},
    {"reported TCB", {{0x186, 9}}, 1, true, NULL, 0, BPT_ESIGNATURE, "snpSPL 8 != reported_tcb"},
    {"VLEK path with a VCEK", {{0x48, 0x04}}, 1, true, NULL, 0, BPT_ESIGNATURE, "signed by a VLEK"},
    {"expired certificate",
     {{0}},
     0,
     false,
     NULL,
     4102444800 /* 2100 */,
     BPT_ESIGNATURE,
     "expired"},
    {"wrong signature algorithm",
     {{0x34, 2}},
     1,
     true,
     NULL,
     0,
     BPT_ESIGNATURE,
     "signature algorithm 2"},
    {"signed byte changed, not re-signed",
     {{0x50, 0xEE}},
     1,
     false,
     NULL,
     0,
     BPT_ESIGNATURE,
     "report signature"},
    {"nonce cannot be checked",
     {{0}},
     0,
     false,
     "{\"expected_nonce\":\"abc\"}",
     0,
     BPT_EUNSATISFIABLE,
     "no nonce"},
};

static void test_each_check_fails_alone(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct check_case *c = &cases[i];
        uint8_t rep[BPT_SNP_REPORT_SIZE];
        bpt_verified *v = NULL;
        bpt_policy *p = sim_policy(f, c->policy);
        int rc;

        memcpy(rep, f->report, sizeof(rep));
        for (int k = 0; k < c->n_edits; k++) {
            rep[c->e[k].off] = c->e[k].value;
        }
        if (c->resign) {
            assert_ok(bpt_sim_sev_snp_sign(rep, f->dir));
        }
        if (c->at) {
            bpt_policy_set_at(p, c->at);
        }
        rc = bpt_sev_snp_verify(&v, rep, sizeof(rep), p);
        if (rc != c->want || !strstr(bpt_error_last(), c->msg)) {
            fail_msg("case '%s': got %d '%s', want %d with '%s'", c->name, rc, bpt_error_last(),
                     c->want, c->msg);
        }
        assert_null(v);
        bpt_policy_free(p);

        /* The same report passes once the one check is relaxed (when a policy caused it). */
        if (c->policy && c->n_edits == 0 && c->want == BPT_ECLAIM) {
            p = sim_policy(f, NULL);
            assert_ok(bpt_sev_snp_verify(&v, rep, sizeof(rep), p));
            bpt_verified_free(v);
            v = NULL;
            bpt_policy_free(p);
        }
    }
}

static void test_debug_report_accepted_when_allowed(void **state)
{
    struct fixture *f = *state;
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    bpt_verified *v = NULL;
    bpt_policy *p = sim_policy(f, "{\"allow_debug\":true}");
    memcpy(rep, f->report, sizeof(rep));
    rep[0x0A] = 0x0B;
    assert_ok(bpt_sim_sev_snp_sign(rep, f->dir));
    assert_ok(bpt_sev_snp_verify(&v, rep, sizeof(rep), p));
    assert_true(bpt_claims_debug_mode(bpt_report_claims(bpt_verified_report(v))));
    bpt_verified_free(v);
    bpt_policy_free(p);
}

static void test_short_report(void **state)
{
    struct fixture *f = *state;
    bpt_verified *v = NULL;
    bpt_policy *p = sim_policy(f, NULL);
    assert_rc_msg(bpt_sev_snp_verify(&v, f->report, f->len - 1, p), BPT_EMALFORMED,
                  "1183 bytes, expected 1184");
    assert_rc_msg(bpt_sev_snp_verify(&v, f->report, 0, p), BPT_EMALFORMED, "0 bytes");
    bpt_policy_free(p);
}

static void test_attest_report_json_verifies_through_the_dispatcher(void **state)
{
    struct fixture *f = *state;
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    uint8_t rd[64] = {1, 2, 3};
    bpt_report *r = NULL;
    char *json = NULL;
    bpt_verified *v = NULL;
    bpt_policy *p = NULL;

    ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    ao.sim_dir = f->dir;
    assert_ok(bpt_attest(&r, rd, &ao));
    assert_ok(bpt_report_to_json(&json, r));
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, AT);
    assert_ok(bpt_policy_add_trust_root_pem(p, f->roots, f->roots_len));
    /* Certificates travel in the report's collateral: no --certs needed. */
    assert_ok(bpt_verify(&v, (const uint8_t *)json, strlen(json), BPT_PROVIDER_UNKNOWN, p));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AMD_SEV_SNP);
    bpt_verified_free(v);
    v = NULL;
    /* Naming another provider is refused, with no fallback. */
    assert_rc_msg(bpt_verify(&v, (const uint8_t *)json, strlen(json), BPT_PROVIDER_INTEL_TDX, p),
                  BPT_EMALFORMED, "provider intel_tdx was named");
    bpt_report_free(r);
    ao.simulate = BPT_PROVIDER_UNKNOWN;
    ao.root = f->dir; /* a root without configfs-tsm */
    assert_rc_msg(bpt_attest(&r, rd, &ao), BPT_ENOTSUP, "no configfs-tsm");
    assert_null(r);
    bpt_policy_free(p);
    bpt_free(json);
    bpt_report_free(r);
}

static void test_chain_cache_hits_but_still_checks(void **state)
{
    struct fixture *f = *state;
    bpt_chain_cache *cache = NULL;
    bpt_verified *v = NULL;
    uint64_t hits = 0, lookups = 0;
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    bpt_policy *p = sim_policy(f, NULL);

    assert_rc_msg(bpt_chain_cache_new(&cache, 0), BPT_EINVAL, "0 entries");
    assert_ok(bpt_chain_cache_new(&cache, 4));
    bpt_policy_set_chain_cache(p, cache);
    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_sev_snp_verify(&v, f->report, f->len, p));
        bpt_verified_free(v);
        v = NULL;
    }
    bpt_chain_cache_stats(cache, &hits, &lookups);
    assert_int_equal(lookups, 3);
    assert_int_equal(hits, 2);
    /* A hit still verifies the report signature... */
    memcpy(rep, f->report, sizeof(rep));
    rep[0x90] ^= 1;
    assert_rc_msg(bpt_sev_snp_verify(&v, rep, sizeof(rep), p), BPT_ESIGNATURE, "report signature");
    /* ...and the certificates' validity at the verification time. */
    bpt_policy_set_at(p, 4102444800);
    assert_rc_msg(bpt_sev_snp_verify(&v, f->report, f->len, p), BPT_ESIGNATURE, "expired");
    bpt_chain_cache_stats(cache, &hits, &lookups);
    assert_int_equal(hits, 3); /* the tampered report hit; the expired lookup did not */
    assert_null(v);
    bpt_policy_free(p);
    bpt_chain_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_verifies),
        cmocka_unit_test(test_pinned_roots_refuse_simulated_evidence),
        cmocka_unit_test(test_each_check_fails_alone),
        cmocka_unit_test(test_debug_report_accepted_when_allowed),
        cmocka_unit_test(test_short_report),
        cmocka_unit_test(test_attest_report_json_verifies_through_the_dispatcher),
        cmocka_unit_test(test_chain_cache_hits_but_still_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
