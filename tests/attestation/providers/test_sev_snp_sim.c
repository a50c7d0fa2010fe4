/*
 * SEV-SNP checks against the simulated TEE: each case edits one field of a valid report,
 * re-signs it with the simulated VCEK when the check is not the signature itself, and must be
 * refused by exactly that check (code and message).
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/sev_snp.h"
#include "attester/sim/x509.h"

#include <stdio.h>

#define AT 1750000000 /* 2025-06-15: inside the simulated certificates' validity */

/* A context trusting the simulator's roots, at @p at (0: AT), with the simulated VCEK chain. */
static bpt_verify_ctx *sim_ctx(struct bpt_sim_snp_fixture *f, int64_t at,
                               const bpt_verify_ctx_opts *o)
{
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, at ? at : AT, o);
    assert_non_null(ctx);
    assert_ok(bpt_verify_ctx_add_certs(ctx, (const uint8_t *)f->certs, strlen(f->certs)));
    return ctx;
}

/* @p json, or production() when NULL. */
static bpt_policy *load_policy(const char *json)
{
    bpt_policy *p = NULL;
    assert_ok(json ? bpt_policy_load_json(&p, json, strlen(json)) : bpt_policy_new(&p));
    return p;
}

static void test_round_trip_verifies(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *ctx = sim_ctx(f, AT, NULL);
    bpt_verified *v = NULL;
    size_t n = 0;
    assert_ok(bpt_verify(&v, ctx, NULL, f->report, f->len, BPT_PROVIDER_AMD_SEV_SNP));
    const uint8_t *rd = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_int_equal(rd[63], 63);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
}

static void test_pinned_roots_refuse_simulated_evidence(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, AT));
    assert_ok(bpt_verify_ctx_add_certs(ctx, (const uint8_t *)f->certs, strlen(f->certs)));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_ESIGNATURE,
                  "VCEK chain");
    assert_null(v);
    bpt_verify_ctx_free(ctx);
}

/* A 48-byte digest no report of the simulator carries. */
#define ID_KEY_22                                                                                  \
    "22222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222" \
    "2222"

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
    /* The guest policy (the simulator's: ABI 1.51, SMT allowed, no migration agent, any
     * socket). */
    {"guest policy SMT",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"allow_smt\":false}}",
     0,
     BPT_ECLAIM,
     "guest policy allows SMT (bit 16)"},
    {"guest policy migration agent",
     {{0x0A, 0x07}},
     1,
     true,
     "{\"sev_snp\":{\"allow_migration_agent\":false}}",
     0,
     BPT_ECLAIM,
     "allows a migration agent (MIGRATE_MA, bit 18)"},
    {"guest policy single socket",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"require_single_socket\":true}}",
     0,
     BPT_ECLAIM,
     "single socket (bit 20 clear)"},
    {"guest policy ABI minor",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_abi\":\"1.52\"}}",
     0,
     BPT_ECLAIM,
     "guest policy ABI 1.51 < policy min_abi 1.52"},
    {"guest policy ABI major",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_abi\":\"2.0\"}}",
     0,
     BPT_ECLAIM,
     "guest policy ABI 1.51 < policy min_abi 2.0"},
    /* The ID block. */
    {"family_id",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"family_id\":\"0102030405060708090a0b0c0d0e0f10\"}}",
     0,
     BPT_ECLAIM,
     "family_id 00000000000000000000000000000000 differs from the policy's family_id"},
    {"image_id",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"image_id\":\"0102030405060708090a0b0c0d0e0f10\"}}",
     0,
     BPT_ECLAIM,
     "image_id 00000000000000000000000000000000 differs"},
    {"ID key digest not trusted",
     {{0xE0, 0x11}},
     1,
     true,
     "{\"sev_snp\":{\"id_key_digests\":[\"" ID_KEY_22 "\"]}}",
     0,
     BPT_ECLAIM,
     "id_key_digest 11000000"},
    {"author key required, none in the report",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"require_author_key\":true,\"author_key_digests\":[\"" ID_KEY_22 "\"]}}",
     0,
     BPT_ECLAIM,
     "no author key (AUTHOR_KEY_EN clear)"},
    {"author key digest not trusted",
     {{0x48, 0x01}, {0x110, 0x33}},
     2,
     true,
     "{\"sev_snp\":{\"require_author_key\":true,\"author_key_digests\":[\"" ID_KEY_22 "\"]}}",
     0,
     BPT_ECLAIM,
     "author_key_digest 33000000"},
    /* Firmware (the simulator's: 1.55 build 21, current and committed). */
    {"current firmware build",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_build\":22}}",
     0,
     BPT_ECLAIM,
     "current firmware build 21 < policy min_build 22"},
    {"committed firmware build",
     {{0x1EC, 20}},
     1,
     true,
     "{\"sev_snp\":{\"min_build\":21}}",
     0,
     BPT_ECLAIM,
     "committed firmware build 20 < policy min_build 21"},
    {"current firmware version",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_firmware_version\":\"1.56\"}}",
     0,
     BPT_ECLAIM,
     "current firmware version 1.55 < policy min_firmware_version 1.56"},
    {"committed firmware version",
     {{0x1ED, 54}},
     1,
     true,
     "{\"sev_snp\":{\"min_firmware_version\":\"1.55\"}}",
     0,
     BPT_ECLAIM,
     "committed firmware version 1.54 < policy min_firmware_version 1.55"},
    {"launch TCB",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"min_launch_tcb\":{\"snp\":9}}}",
     0,
     BPT_ECLAIM,
     "launch_tcb snp 8 < policy minimum 9"},
    {"launch TCB below the reported one",
     {{0x1F0, 2}},
     1,
     true,
     "{\"sev_snp\":{\"min_launch_tcb\":{\"bootloader\":3}}}",
     0,
     BPT_ECLAIM,
     "launch_tcb bootloader 2 < policy minimum 3"},
    /* Platform info (the simulator's: SMT enabled, TSME disabled). */
    {"platform SMT enabled",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"platform_smt_enabled\":false}}",
     0,
     BPT_ECLAIM,
     "the platform has SMT enabled (platform_info bit 0)"},
    {"platform TSME disabled",
     {{0}},
     0,
     true,
     "{\"sev_snp\":{\"platform_tsme_enabled\":true}}",
     0,
     BPT_ECLAIM,
     "the platform has TSME disabled (platform_info bit 1)"},
    /* The nonce rule (issue 12): report_data must be SHA-512 of the expected nonce. */
    {"report_data is not the nonce's binding",
     {{0}},
     0,
     false,
     "{\"expected_nonce\":\"abc\"}",
     0,
     BPT_ECLAIM,
     "sev_snp: report_data is not SHA-512 of the expected nonce"},
};

static void test_each_check_fails_alone(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct check_case *c = &cases[i];
        uint8_t rep[BPT_SNP_REPORT_SIZE];
        bpt_verified *v = NULL;
        bpt_verify_ctx *ctx = sim_ctx(f, c->at, NULL);
        bpt_policy *p = load_policy(c->policy);
        int rc;

        memcpy(rep, f->report, sizeof(rep));
        for (int k = 0; k < c->n_edits; k++) {
            rep[c->e[k].off] = c->e[k].value;
        }
        if (c->resign) {
            assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
        }
        rc = bpt_sev_snp_verify(&v, ctx, p, rep, sizeof(rep));
        if (rc != c->want || !strstr(bpt_error_last(), c->msg)) {
            fail_msg("case '%s': got %d '%s', want %d with '%s'", c->name, rc, bpt_error_last(),
                     c->want, c->msg);
        }
        assert_null(v);
        bpt_policy_free(p);
        bpt_verify_ctx_free(ctx);

        /* The same report passes once the one check is relaxed (when a policy caused it). */
        if (c->policy && c->n_edits == 0 && c->want == BPT_ECLAIM) {
            ctx = sim_ctx(f, AT, NULL);
            assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, rep, sizeof(rep)));
            bpt_verified_free(v);
            v = NULL;
            bpt_verify_ctx_free(ctx);
        }
    }
}

/* Every region the SEV-SNP ABI reserves, one case each: a byte there is refused as malformed
 * before anything is verified (no re-signing needed: parsing comes first). */
static const struct reserved_case {
    const char *name;
    uint32_t version; /* 0: keep the simulator's (3) */
    size_t off;
    uint8_t value;
    bool at_parse; /* false: a TCB_VERSION's reserved byte, checked once the product is known */
    const char *msg;
} reserved_cases[] = {
    {"key_info bit 5", 0, 0x48, 0x20, true, "reserved bits 31:5 of key_info"},
    {"key_info bit 31", 0, 0x4B, 0x80, true, "reserved bits 31:5 of key_info"},
    {"0x04C", 0, 0x4C, 0x01, true, "reserved field 0x04C-0x04F is not zero at offset 76"},
    {"0x04F", 0, 0x4F, 0x01, true, "reserved field 0x04C-0x04F is not zero at offset 79"},
    {"0x188 in a version 2 report (its CPUID bytes)", 2, 0, 0, true, "0x188-0x19F"},
    {"0x18B", 0, 0x18B, 0x01, true, "reserved field 0x18B-0x19F is not zero at offset 395"},
    {"0x19F", 0, 0x19F, 0x80, true, "0x18B-0x19F is not zero at offset 415"},
    {"0x1EB", 0, 0x1EB, 0x01, true, "reserved field 0x1EB is not zero at offset 491"},
    {"0x1EF", 0, 0x1EF, 0x01, true, "reserved field 0x1EF is not zero at offset 495"},
    {"0x1F8 before version 5", 0, 0x1F8, 0x01, true, "0x1F8-0x29F (a version 2-4 report)"},
    {"0x200 before version 5", 4, 0x200, 0x01, true, "0x1F8-0x29F"},
    {"0x29F before version 5", 0, 0x29F, 0x01, true, "0x1F8-0x29F"},
    {"0x208 in version 5", 5, 0x208, 0x01, true, "reserved field 0x208-0x29F is not zero"},
    {"0x29F in a version 6 (read as 5)", 6, 0x29F, 0x01, true, "0x208-0x29F"},
    {"signature 0x330 (first after r and s)", 0, 0x330, 0x01, true,
     "0x330-0x49F (signature, after r and s) is not zero at offset 816"},
    {"signature 0x49F (last)", 0, 0x49F, 0xFF, true, "0x330-0x49F"},
    {"current_tcb byte 2", 0, 0x03A, 0x01, false, "reserved bytes 2-5 of current_tcb (0x038)"},
    {"reported_tcb byte 5", 0, 0x185, 0x01, false, "reserved bytes 2-5 of reported_tcb"},
    {"committed_tcb byte 3", 0, 0x1E3, 0x01, false, "reserved bytes 2-5 of committed_tcb"},
    {"launch_tcb byte 4", 0, 0x1F4, 0x01, false, "reserved bytes 2-5 of launch_tcb"},
};

static void test_each_reserved_region_is_refused(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    for (size_t i = 0; i < sizeof(reserved_cases) / sizeof(reserved_cases[0]); i++) {
        const struct reserved_case *c = &reserved_cases[i];
        uint8_t rep[BPT_SNP_REPORT_SIZE];
        bpt_snp_report parsed = BPT_SNP_REPORT_INIT;
        bpt_verified *v = NULL;
        bpt_verify_ctx *ctx = sim_ctx(f, AT, NULL);
        int rc;

        memcpy(rep, f->report, sizeof(rep));
        if (c->version) {
            rep[0] = (uint8_t)c->version;
        }
        rep[c->off] ^= c->value;
        rc = bpt_sev_snp_verify(&v, ctx, NULL, rep, sizeof(rep));
        if (rc != BPT_EMALFORMED || !strstr(bpt_error_last(), c->msg)) {
            fail_msg("case '%s': got %d '%s', want malformed with '%s'", c->name, rc,
                     bpt_error_last(), c->msg);
        }
        assert_null(v);
        rc = bpt_sev_snp_parse(&parsed, rep, sizeof(rep));
        if (c->at_parse ? rc != BPT_EMALFORMED : rc != 0) {
            fail_msg("case '%s': parse gave %d '%s'", c->name, rc, bpt_error_last());
        }
        bpt_verify_ctx_free(ctx);
    }
}

/* Version 5 gives 0x1F8-0x207 to the mitigation vectors: they parse, and a signed report
 * carrying them verifies. */
static void test_version_5_mitigation_vectors(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    bpt_snp_report parsed = BPT_SNP_REPORT_INIT;
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx = sim_ctx(f, AT, NULL);

    memcpy(rep, f->report, sizeof(rep));
    rep[0] = 5;
    rep[0x1F8] = 0x05;
    rep[0x207] = 0x80;
    assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
    assert_ok(bpt_sev_snp_parse(&parsed, rep, sizeof(rep)));
    assert_int_equal(parsed.launch_mit_vector, 5);
    assert_int_equal(parsed.current_mit_vector, 0x8000000000000000ull);
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, rep, sizeof(rep)));
    bpt_verified_free(v);
    /* The same bytes in a version 4 report are reserved. */
    rep[0] = 4;
    assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, rep, sizeof(rep)), BPT_EMALFORMED,
                  "0x1F8-0x29F (a version 2-4 report) is not zero at offset 504");
    bpt_verify_ctx_free(ctx);
}

/* The rules pass when the report meets them: a trusted ID key, or an untrusted ID key signed
 * by a trusted author key; the exact firmware minimums; the platform as it is. */
static void test_snp_rules_met(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    static const char *const policies[] = {
        "{\"sev_snp\":{\"id_key_digests\":[\"" ID_KEY_22 "\"]}}",
        "{\"sev_snp\":{\"id_key_digests\":[\"" ID_KEY_22 "\"],\"author_key_digests\":[\"" ID_KEY_22
        "\"],\"require_author_key\":true}}",
        "{\"sev_snp\":{\"min_abi\":\"1.51\",\"min_build\":21,\"min_firmware_version\":"
        "\"1.55\",\"min_launch_tcb\":{\"bootloader\":3,\"snp\":8,\"microcode\":115},"
        "\"platform_smt_enabled\":true,\"platform_tsme_enabled\":false,"
        "\"allow_migration_agent\":false,\"family_id\":\"00000000000000000000000000000000\"}}",
    };
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    memcpy(rep, f->report, sizeof(rep));
    memset(rep + 0xE0, 0x22, 48);  /* ID key digest */
    memset(rep + 0x110, 0x22, 48); /* author key digest */
    rep[0x48] |= 0x01;             /* AUTHOR_KEY_EN */
    assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        bpt_verify_ctx *ctx = sim_ctx(f, AT, NULL);
        bpt_policy *p = load_policy(policies[i]);
        bpt_verified *v = NULL;
        if (bpt_sev_snp_verify(&v, ctx, p, rep, sizeof(rep)) != 0) {
            fail_msg("policy %zu: %s", i, bpt_error_last());
        }
        bpt_verified_free(v);
        bpt_policy_free(p);
        bpt_verify_ctx_free(ctx);
    }
}

/* Every --snp-* flag of bpt verify makes its check fail, through the real CLI. */
static void test_cli_snp_flags(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    static const struct {
        const char *flag, *value;
        struct edit e;
        int want;
        const char *msg;
    } flag_cases[] = {
        {"--snp-no-smt", NULL, {0}, 1, "guest policy allows SMT"},
        {"--snp-no-migration-agent", NULL, {0x0A, 0x07}, 1, "migration agent"},
        {"--snp-single-socket", NULL, {0}, 1, "single socket"},
        {"--snp-min-abi", "1.52", {0}, 1, "guest policy ABI 1.51 < policy min_abi 1.52"},
        {"--snp-family-id", "0102030405060708090a0b0c0d0e0f10", {0}, 1, "family_id"},
        {"--snp-image-id", "0102030405060708090a0b0c0d0e0f10", {0}, 1, "image_id"},
        {"--snp-host-data",
         "1111111111111111111111111111111111111111111111111111111111111111",
         {0},
         1,
         "host_data"},
        {"--snp-id-key-digest", ID_KEY_22, {0}, 1, "id_key_digest 000000"},
        {"--snp-author-key-digest", ID_KEY_22, {0}, 1, "no trusted author key signed it"},
        {"--snp-min-build", "22", {0}, 1, "current firmware build 21 < policy min_build 22"},
        {"--snp-min-firmware", "1.56", {0}, 1, "current firmware version 1.55"},
        {"--snp-min-tcb", "bootloader=3,snp=9", {0}, 1, "reported_tcb snp 8 < policy minimum 9"},
        {"--snp-min-launch-tcb", "microcode=116", {0}, 1, "launch_tcb microcode 115"},
        {"--snp-platform-smt", "disabled", {0}, 1, "the platform has SMT enabled"},
        {"--snp-platform-tsme", "enabled", {0}, 1, "the platform has TSME disabled"},
        /* Values a flag refuses are usage errors. */
        {"--snp-min-abi", "1", {0}, 2, NULL},
        {"--snp-min-build", "256", {0}, 2, NULL},
        {"--snp-min-tcb", "snp=9,sev=1", {0}, 2, NULL},
        {"--snp-platform-tsme", "on", {0}, 2, NULL},
        {"--snp-family-id", "00", {0}, 2, NULL},
    };
    char roots[4200], certs[4200], report[4200];
    uint8_t rep[BPT_SNP_REPORT_SIZE];

    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->sim.dir);
    snprintf(certs, sizeof(certs), "%s/snp-certs.pem", f->sim.dir);
    snprintf(report, sizeof(report), "%s/snp-cli-report.bin", f->sim.dir);
    bpt_test_write_file(certs, f->certs, strlen(f->certs));
    bpt_test_write_file(report, f->report, f->len);
    {
        const char *ok[] = {"verify", "--at", "1750000000", "--trust-root", roots, "--certs",
                            certs,    report, NULL};
        assert_int_equal(bpt_test_run_cli(NULL, ok), 0);
    }
    for (size_t i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
        char *out = NULL;
        const char *argv[] = {"verify",  "--at", "1750000000",       "--trust-root",      roots,
                              "--certs", certs,  flag_cases[i].flag, flag_cases[i].value, report,
                              NULL};
        int ex;
        if (!flag_cases[i].value) { /* a flag without a value: the report comes next */
            argv[8] = report;
            argv[9] = NULL;
        }
        memcpy(rep, f->report, sizeof(rep));
        if (flag_cases[i].e.off) {
            rep[flag_cases[i].e.off] = flag_cases[i].e.value;
            assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
        }
        bpt_test_write_file(report, rep, sizeof(rep));
        ex = bpt_test_run_cli(&out, argv);
        if (ex != flag_cases[i].want || (flag_cases[i].msg && !strstr(out, flag_cases[i].msg))) {
            fail_msg("%s %s: exit %d, output '%s'; want %d with '%s'", flag_cases[i].flag,
                     flag_cases[i].value ? flag_cases[i].value : "", ex, out, flag_cases[i].want,
                     flag_cases[i].msg ? flag_cases[i].msg : "");
        }
        free(out);
    }
}

/* The simulator's certificate @p name (sev-snp/NAME.pem) written as DER next to it; the path
 * into @p out. */
static void pem_to_der(char *out, size_t len, const struct bpt_sim_snp_fixture *f, const char *name)
{
    char path[4200];
    X509 *c = NULL;
    unsigned char *der = NULL;
    int n;
    snprintf(path, sizeof(path), "%s/sev-snp/%s.pem", f->sim.dir, name);
    assert_ok(bpt_sim_read_cert(&c, path));
    n = i2d_X509(c, &der);
    assert_true(n > 0);
    snprintf(out, len, "%s/sev-snp/%s-test.der", f->sim.dir, name);
    bpt_test_write_file(out, der, (size_t)n);
    OPENSSL_free(der);
    X509_free(c);
}

/* Issue 12 point 5: a missing certificate is named, with where it would come from and how to
 * give it; trust roots and certificates are taken as DER or PEM. */
static void test_missing_certificates_are_named(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    char vcek[4200], ask[4200], ark[4200], crl[4200], url[512];
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx;
    size_t n = 0;
    uint8_t *b;
    X509 *other = NULL;
    EVP_PKEY *key = NULL;
    char *other_pem = NULL;

    pem_to_der(vcek, sizeof(vcek), f, "vcek");
    pem_to_der(ask, sizeof(ask), f, "ask");
    pem_to_der(ark, sizeof(ark), f, "ark");
    snprintf(crl, sizeof(crl), "%s/sev-snp/crl.der", f->sim.dir);

    /* Trust roots replace the pinned ASK too: the VCEK alone is not enough. */
    ctx = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    b = bpt_test_read_file(vcek, &n);
    assert_ok(bpt_verify_ctx_add_certs(ctx, b, n));
    free(b);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "sev_snp: ASK missing: the trust roots given replace the pinned AMD roots, so "
                  "the intermediates must come with the certificates, and none is the VCEK's "
                  "issuer /O=bpt simulator/CN=SEV-Milan; AMD publishes it at "
                  "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain; give it (DER or PEM) with "
                  "the verification context's certificates");
    bpt_verify_ctx_free(ctx);

    /* A trust root that did not issue the ASK: the ARK is missing. */
    assert_ok(bpt_sim_keygen(&key, "P-256"));
    assert_ok(bpt_sim_make_cert(&other, key, "Some Root", NULL, NULL, 1, BPT_SIM_SIG_ECDSA_SHA256,
                                9, NULL, NULL));
    assert_ok(bpt_sim_cert_pem(&other_pem, other));
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, AT));
    assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, other_pem, strlen(other_pem)));
    assert_ok(bpt_verify_ctx_add_certs(ctx, (const uint8_t *)f->certs, strlen(f->certs)));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_ESIGNATURE,
                  "sev_snp: VCEK chain: ARK missing: no trust root given is the ASK's issuer "
                  "/O=bpt simulator/CN=ARK-Milan; add it to the trust roots");
    bpt_verify_ctx_free(ctx);

    /* A trust root with the ARK's name but another key: the chain cannot reach a root, and the
     * message says where the ASK and ARK come from (bpt_pki_verify_chain's where). */
    X509_free(other);
    bpt_free(other_pem);
    other = NULL;
    other_pem = NULL;
    assert_ok(bpt_sim_make_cert(&other, key, "ARK-Milan", NULL, NULL, 1, BPT_SIM_SIG_ECDSA_SHA256,
                                9, NULL, NULL));
    assert_ok(bpt_sim_cert_pem(&other_pem, other));
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, AT));
    assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, other_pem, strlen(other_pem)));
    assert_ok(bpt_verify_ctx_add_certs(ctx, (const uint8_t *)f->certs, strlen(f->certs)));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_ESIGNATURE,
                  "; AMD publishes the ASK and the ARK at "
                  "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain; give the ASK (DER or PEM) "
                  "with the verification context's certificates and trust the ARK (pinned, or "
                  "one of the context's trust roots)");
    bpt_verify_ctx_free(ctx);

    /* No VCEK at all, offline: its full KDS URL, and how to give it. */
    ctx = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    n = (size_t)snprintf(url, sizeof(url), "it comes from https://kdsintf.amd.com/vcek/v1/Milan/");
    for (int i = 0; i < 64; i++) {
        n += (size_t)snprintf(url + n, sizeof(url) - n, "%02x", f->report[0x1A0 + i]);
    }
    snprintf(url + n, sizeof(url) - n, "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115; give it");
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS, url);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_EKEYS,
                  "sev_snp: VCEK missing: not given; ");
    bpt_verify_ctx_free(ctx);

    /* DER everywhere: the ARK as the trust root, the VCEK and ASK, the CRL. */
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, AT));
    b = bpt_test_read_file(ark, &n);
    assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, (const char *)b, n));
    free(b);
    b = bpt_test_read_file(vcek, &n);
    assert_ok(bpt_verify_ctx_add_certs(ctx, b, n));
    free(b);
    b = bpt_test_read_file(ask, &n);
    assert_ok(bpt_verify_ctx_add_certs(ctx, b, n));
    free(b);
    b = bpt_test_read_file(crl, &n);
    assert_ok(bpt_verify_ctx_add_crl(ctx, b, n));
    free(b);
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);

    bpt_free(other_pem);
    X509_free(other);
    EVP_PKEY_free(key);
}

/* The CLI: DER files, --crl, the revocation opt-out, a missing ASK. */
static void test_cli_certificates_and_revocation(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    char vcek[4200], ask[4200], ark[4200], crl[4200], report[4200], roots[4200];
    char *out = NULL;

    pem_to_der(vcek, sizeof(vcek), f, "vcek");
    pem_to_der(ask, sizeof(ask), f, "ask");
    pem_to_der(ark, sizeof(ark), f, "ark");
    snprintf(crl, sizeof(crl), "%s/sev-snp/crl.der", f->sim.dir);
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->sim.dir);
    snprintf(report, sizeof(report), "%s/snp-cli-rev.bin", f->sim.dir);
    bpt_test_write_file(report, f->report, f->len);
    {
        const char *ok[] = {"verify", "--at",    "1750000000", "--offline", "--trust-root",
                            ark,      "--certs", vcek,         "--certs",   ask,
                            "--crl",  crl,       report,       NULL};
        assert_int_equal(bpt_test_run_cli(NULL, ok), 0);
    }
    {
        const char *no_crl[] = {"verify",  "--at", "1750000000", "--offline", "--trust-root", ark,
                                "--certs", vcek,   "--certs",    ask,         report,         NULL};
        assert_int_equal(bpt_test_run_cli(&out, no_crl), 1);
        assert_non_null(strstr(out, "CRL missing: none of the ARK-Milan (VCEK path) was given"));
        free(out);
    }
    {
        const char *opt_out[] = {
            "verify",  "--at", "1750000000", "--offline", "--trust-root",          ark,
            "--certs", vcek,   "--certs",    ask,         "--no-revocation-check", "--json",
            report,    NULL};
        assert_int_equal(bpt_test_run_cli(&out, opt_out), 0);
        assert_non_null(strstr(out, "revocation not checked"));
        free(out);
    }
    {
        /* A --crl file that holds no CRL is local input (exit 3, the CLI contract's class). */
        const char *not_crl[] = {"verify", "--trust-root", ark, "--crl", ask, report, NULL};
        assert_int_equal(bpt_test_run_cli(NULL, not_crl), 3);
    }
    {
        const char *no_ask[] = {"verify", "--at", "1750000000", "--trust-root", roots, "--certs",
                                vcek,     report, NULL};
        assert_int_equal(bpt_test_run_cli(&out, no_ask), 1);
        assert_non_null(strstr(out, "ASK missing"));
        assert_non_null(strstr(out, "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain"));
        free(out);
    }
}

static void test_debug_report_accepted_when_allowed(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx = sim_ctx(f, AT, NULL);
    bpt_policy *p = load_policy("{\"allow_debug\":true}");
    memcpy(rep, f->report, sizeof(rep));
    rep[0x0A] = 0x0B;
    assert_ok(bpt_sim_sev_snp_sign(rep, f->sim.dir));
    assert_ok(bpt_sev_snp_verify(&v, ctx, p, rep, sizeof(rep)));
    assert_true(bpt_claims_debug_mode(bpt_report_claims(bpt_verified_report(v))));
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
}

static void test_short_report(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx = sim_ctx(f, AT, NULL);
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len - 1), BPT_EMALFORMED,
                  "1183 bytes, expected 1184");
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, 0), BPT_EMALFORMED, "0 bytes");
    bpt_verify_ctx_free(ctx);
}

/* The report struct is size-prefixed: a caller that did not set the size is refused. */
static void test_parse_needs_the_struct_size(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    bpt_snp_report zero = {0};
    bpt_snp_report rep = BPT_SNP_REPORT_INIT;
    assert_int_equal(rep.size, sizeof(bpt_snp_report));
    assert_rc_msg(bpt_sev_snp_parse(&zero, f->report, f->len), BPT_EINVAL,
                  "bpt_snp_report: the struct's size is smaller than its first version");
    assert_int_equal(zero.size, 0);
    assert_int_equal(zero.version, 0);
    assert_rc_msg(bpt_sev_snp_parse(NULL, f->report, f->len), BPT_EINVAL, "bpt_snp_report: NULL");
    assert_ok(bpt_sev_snp_parse(&rep, f->report, f->len));
    assert_int_equal(rep.size, sizeof(bpt_snp_report));
    assert_true(rep.version >= 2);
    assert_memory_equal(rep.chip_id, f->report + 0x1A0, sizeof(rep.chip_id));
}

static void test_attest_report_json_verifies_through_the_dispatcher(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    uint8_t rd[64] = {1, 2, 3};
    bpt_report *r = NULL;
    char *json = NULL;
    bpt_verified *v = NULL;
    bpt_verify_ctx *ctx = NULL;

    ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    ao.sim_dir = f->sim.dir;
    assert_ok(bpt_attest(&r, rd, &ao));
    assert_ok(bpt_report_to_json(&json, r));
    ctx = bpt_sim_fixture_ctx(&f->sim, AT, NULL);
    assert_non_null(ctx);
    /* Certificates travel in the report's collateral: no --certs needed. */
    assert_ok(bpt_verify(&v, ctx, NULL, (const uint8_t *)json, strlen(json), BPT_PROVIDER_UNKNOWN));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AMD_SEV_SNP);
    bpt_verified_free(v);
    v = NULL;
    /* Naming another provider is refused, with no fallback. */
    assert_rc_msg(
        bpt_verify(&v, ctx, NULL, (const uint8_t *)json, strlen(json), BPT_PROVIDER_INTEL_TDX),
        BPT_EMALFORMED, "provider intel_tdx was named");
    bpt_report_free(r);
    ao.simulate = BPT_PROVIDER_UNKNOWN;
    ao.root = f->sim.dir; /* a root without configfs-tsm */
    assert_rc_msg(bpt_attest(&r, rd, &ao), BPT_ENOTSUP, "no configfs-tsm");
    assert_null(r);
    bpt_verify_ctx_free(ctx);
    bpt_free(json);
    bpt_report_free(r);
}

static void test_chain_cache_hits_but_still_checks(void **state)
{
    struct bpt_sim_snp_fixture *f = *state;
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    uint64_t hits = 0, misses = 0;
    uint8_t rep[BPT_SNP_REPORT_SIZE];
    int64_t now = AT; /* the context's clock reads it: time moves under the frozen context */
    bpt_clock clock = bpt_clock_fixed(&now);

    o.chain_cache_entries = 16777217;
    assert_rc_msg(bpt_verify_ctx_new(&ctx, &o), BPT_EINVAL, "16777217 chains");
    assert_null(ctx);
    o.chain_cache_entries = 4;
    ctx = sim_ctx(f, AT, &o);
    assert_ok(bpt_verify_ctx_set_clock(ctx, &clock));
    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len));
        bpt_verified_free(v);
        v = NULL;
    }
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_CHAIN, &hits, &misses);
    assert_int_equal(hits + misses, 3);
    assert_int_equal(hits, 2);
    /* A hit still verifies the report signature... */
    memcpy(rep, f->report, sizeof(rep));
    rep[0x90] ^= 1;
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, rep, sizeof(rep)), BPT_ESIGNATURE,
                  "report signature");
    /* ...and the certificates' validity at the verification time. */
    now = 4102444800;
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, f->report, f->len), BPT_ESIGNATURE, "expired");
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_CHAIN, &hits, &misses);
    assert_int_equal(hits, 3); /* the tampered report hit; the expired lookup did not */
    assert_null(v);
    bpt_verify_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_verifies),
        cmocka_unit_test(test_pinned_roots_refuse_simulated_evidence),
        cmocka_unit_test(test_each_check_fails_alone),
        cmocka_unit_test(test_each_reserved_region_is_refused),
        cmocka_unit_test(test_snp_rules_met),
        cmocka_unit_test(test_cli_snp_flags),
        cmocka_unit_test(test_missing_certificates_are_named),
        cmocka_unit_test(test_cli_certificates_and_revocation),
        cmocka_unit_test(test_version_5_mitigation_vectors),
        cmocka_unit_test(test_debug_report_accepted_when_allowed),
        cmocka_unit_test(test_short_report),
        cmocka_unit_test(test_parse_needs_the_struct_size),
        cmocka_unit_test(test_attest_report_json_verifies_through_the_dispatcher),
        cmocka_unit_test(test_chain_cache_hits_but_still_checks),
    };
    return cmocka_run_group_tests(tests, bpt_sim_snp_fixture_setup, bpt_sim_snp_fixture_teardown);
}
