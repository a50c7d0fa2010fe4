/*
 * What a relying party expects, meeting the evidence (issue 12): the measurement as `bpt verify`
 * prints it, fed back (alg: prefix, lengths per provider, refused when no evidence of the
 * provider can match); the nonce rule shared by attester and verifiers, per simulated provider;
 * a report JSON's public_key_binding checked against the evidence. Library and CLI.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/aws_nitro.h"

#include <openssl/evp.h>

#include <stdio.h>

#define HEX48 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677"
#define M48 HEX48 "8899aabbccddeeff" /* 48 bytes as hex */
#define M32 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* A simulated report of @p provider binding @p nonce (or report data 0x01.. when NULL). */
static bpt_report *attest(const struct bpt_sim_fixture *f, bpt_provider provider, const char *nonce)
{
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT;
    bpt_report *r = NULL;
    uint8_t rd[64];
    o.simulate = provider;
    o.sim_dir = f->dir;
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(i + 1);
    }
    if (nonce) {
        assert_ok(bpt_attest_nonce(&r, (const uint8_t *)nonce, strlen(nonce), &o));
    } else {
        assert_ok(bpt_attest(&r, rd, &o));
    }
    return r;
}

/* Verify @p r at the present with the simulator's roots under the policy of @p json. */
static int verify_report(const struct bpt_sim_fixture *f, const bpt_report *r, const char *json,
                         bpt_verified **out)
{
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(f, 0, NULL);
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    int rc;
    assert_non_null(ctx);
    assert_ok(json ? bpt_policy_load_json(&p, json, strlen(json)) : bpt_policy_new(&p));
    rc = bpt_verify_report(&v, ctx, p, r);
    if (out) {
        *out = v;
    } else {
        bpt_verified_free(v);
    }
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    return rc;
}

/* ---- the measurement, as printed and fed back ------------------------------------------- */

static void test_measurement_input(void **state)
{
    static const struct {
        const char *value;
        const char *msg; /* NULL: accepted */
    } cases[] = {
        {"sha384:" M48, NULL},
        {"SHA384:" M48, NULL},
        {"sha256:" M32, NULL},
        {M48, NULL},
        {M32, NULL},
        {"00", "expected_measurement has 1 byte: measurements are sha384 (48 bytes"},
        {"", "expected_measurement has 0 bytes"},
        {"md5:" M32, "algorithm 'md5' (expected sha256, sha384 or sha512"},
        {":" M48, "algorithm '' (expected"},
        {"sha384:" M32, "a sha384 digest is 48 bytes, this one is 32"},
        {"sha256:" M48, "a sha256 digest is 32 bytes, this one is 48"},
        {"sha384:zz", "not hex"},
        {"sha384:" M48 "0", "odd length"},
    };
    bpt_policy *p = NULL;
    char *j = NULL;
    (void)state;
    assert_ok(bpt_policy_new(&p));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = bpt_policy_set_expected_measurement(p, cases[i].value);
        if (cases[i].msg ? rc != BPT_EINVAL || !strstr(bpt_error_last(), cases[i].msg) : rc != 0) {
            fail_msg("'%s': got %d (%s), want %s", cases[i].value, rc, bpt_error_last(),
                     cases[i].msg ? cases[i].msg : "success");
        }
    }
    /* Written back as read: with its algorithm (lowered) when it had one. */
    assert_ok(bpt_policy_set_expected_measurement(p, "SHA384:" M48));
    assert_ok(bpt_policy_to_json(&j, p));
    assert_non_null(strstr(j, "\"expected_measurement\":\"sha384:" M48 "\""));
    bpt_free(j);
    assert_ok(bpt_policy_set_expected_measurement(p, NULL));
    assert_ok(bpt_policy_to_json(&j, p));
    assert_null(strstr(j, "expected_measurement"));
    bpt_free(j);
    assert_rc_msg(bpt_policy_set_expected_measurement(NULL, M48), BPT_EINVAL, "NULL policy");
    bpt_policy_free(p);
}

static void test_measurement_suits_the_provider(void **state)
{
    static const struct {
        const char *value;
        bpt_provider provider;
        const char *msg; /* NULL: suits it */
    } cases[] = {
        {"sha384:" M48, BPT_PROVIDER_AMD_SEV_SNP, NULL},
        {M48, BPT_PROVIDER_INTEL_TDX, NULL},
        {M48, BPT_PROVIDER_AWS_NITRO, NULL},
        {M48, BPT_PROVIDER_AZURE_SNP, NULL},
        {"sha256:" M32, BPT_PROVIDER_GCP_CONFIDENTIAL, NULL},
        {M48, BPT_PROVIDER_UNKNOWN, NULL},
        {M32, BPT_PROVIDER_CUSTOM, NULL},
        {"sha256:" M32, BPT_PROVIDER_AMD_SEV_SNP,
         "amd_sev_snp: measurement: the policy expects a sha256 measurement, and these are "
         "sha384 (48 bytes)"},
        {M32, BPT_PROVIDER_INTEL_TDX,
         "intel_tdx: measurement (MRTD): the policy expects a measurement of 32 bytes, and these "
         "are 48 bytes (sha384)"},
        {M32, BPT_PROVIDER_AWS_NITRO, "aws_nitro: measurement (PCR0): the policy expects"},
        {"sha384:" M48, BPT_PROVIDER_GCP_CONFIDENTIAL,
         "gcp_confidential: measurement (image digest): the policy expects a sha384 measurement, "
         "and these are sha256 (32 bytes)"},
        {M48, BPT_PROVIDER_GCP_CONFIDENTIAL, "of 48 bytes, and these are 32 bytes (sha256)"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_policy *p = NULL;
        int rc;
        assert_ok(bpt_policy_new(&p));
        assert_ok(bpt_policy_set_expected_measurement(p, cases[i].value));
        rc = bpt_policy_check_provider(p, cases[i].provider);
        if (cases[i].msg ? rc != BPT_EUNSATISFIABLE || !strstr(bpt_error_last(), cases[i].msg)
                         : rc != 0) {
            fail_msg("case %zu: got %d (%s), want %s", i, rc, bpt_error_last(),
                     cases[i].msg ? cases[i].msg : "success");
        }
        bpt_policy_free(p);
    }
    assert_rc_msg(bpt_policy_check_provider(NULL, BPT_PROVIDER_AMD_SEV_SNP), BPT_EINVAL,
                  "NULL policy");
}

/* What a verification prints as the measurement verifies when expected; another provider's
 * kind of measurement is unsatisfiable, not a claim mismatch. */
static void test_measurement_round_trip(void **state)
{
    struct bpt_sim_fixture *f = *state;
    const bpt_provider providers[] = {BPT_PROVIDER_AMD_SEV_SNP, BPT_PROVIDER_INTEL_TDX,
                                      BPT_PROVIDER_AWS_NITRO};
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
        bpt_report *r = attest(f, providers[i], NULL);
        bpt_verified *v = NULL;
        char json[256];
        const bpt_measurement *m;
        assert_ok(verify_report(f, r, NULL, &v));
        m = bpt_report_measurement(bpt_verified_report(v));
        assert_string_equal(m->algorithm, "sha384");
        snprintf(json, sizeof(json), "{\"expected_measurement\":\"%s:%s\"}", m->algorithm,
                 m->digest);
        bpt_verified_free(v);
        assert_ok(verify_report(f, r, json, NULL));
        json[strlen("{\"expected_measurement\":\"sha384:")] ^= 1; /* another digest */
        assert_rc_msg(verify_report(f, r, json, NULL), BPT_ECLAIM, "!= expected");
        assert_rc_msg(verify_report(f, r, "{\"expected_measurement\":\"sha256:" M32 "\"}", NULL),
                      BPT_EUNSATISFIABLE, "the policy expects a sha256 measurement");
        bpt_report_free(r);
    }
}

/* ---- the nonce rule --------------------------------------------------------------------- */

static void test_nonce_rule(void **state)
{
    static const char nonce[] = "n-42";
    uint8_t rd[64], want[64], big[BPT_NONCE_MAX_BYTES + 1];
    unsigned int n = 0;
    bpt_nonce_binding where;
    (void)state;
    assert_int_equal(EVP_Digest(nonce, 4, want, &n, EVP_sha512(), NULL), 1);
    assert_ok(bpt_nonce_bind(&where, rd, BPT_PROVIDER_AMD_SEV_SNP, (const uint8_t *)nonce, 4));
    assert_int_equal(where, BPT_NONCE_IN_REPORT_DATA);
    assert_memory_equal(rd, want, 64);
    assert_ok(bpt_nonce_bind(&where, rd, BPT_PROVIDER_INTEL_TDX, (const uint8_t *)nonce, 4));
    assert_int_equal(where, BPT_NONCE_IN_REPORT_DATA);
    assert_memory_equal(rd, want, 64);
    const bpt_provider in_field[] = {BPT_PROVIDER_AWS_NITRO, BPT_PROVIDER_GCP_CONFIDENTIAL,
                                     BPT_PROVIDER_AZURE_SNP};
    for (size_t i = 0; i < 3; i++) {
        assert_ok(bpt_nonce_bind(&where, rd, in_field[i], (const uint8_t *)nonce, 4));
        assert_int_equal(where, BPT_NONCE_IN_NONCE_FIELD);
    }
    memset(big, 'x', sizeof(big));
    assert_ok(bpt_nonce_bind(&where, rd, BPT_PROVIDER_AWS_NITRO, big, BPT_NONCE_MAX_BYTES));
    assert_rc_msg(bpt_nonce_bind(&where, rd, BPT_PROVIDER_AWS_NITRO, big, sizeof(big)), BPT_EINVAL,
                  "513 bytes (a nonce is 1..512 bytes)");
    assert_rc_msg(bpt_nonce_bind(&where, rd, BPT_PROVIDER_AMD_SEV_SNP, big, 0), BPT_EINVAL,
                  "0 bytes");
    assert_rc_msg(bpt_nonce_bind(&where, rd, BPT_PROVIDER_CUSTOM, big, 4), BPT_EINVAL,
                  "no binding rule for provider custom");
    /* The policy takes nonces the rule can bind. */
    bpt_policy *p = NULL;
    assert_ok(bpt_policy_new(&p));
    assert_rc_msg(bpt_policy_set_expected_nonce(p, ""), BPT_EINVAL, "expected_nonce of 0 bytes");
    big[BPT_NONCE_MAX_BYTES] = '\0';
    assert_ok(bpt_policy_set_expected_nonce(p, (const char *)big));
    bpt_policy_free(p);
}

static void test_attest_nonce_arguments(void **state)
{
    struct bpt_sim_fixture *f = *state;
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT, old = {0};
    bpt_report *r = NULL;
    uint8_t big[BPT_NONCE_MAX_BYTES + 1] = {0};
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->dir;
    assert_rc_msg(bpt_attest_nonce(NULL, (const uint8_t *)"n", 1, &o), BPT_EINVAL, "no out");
    assert_rc_msg(bpt_attest_nonce(&r, (const uint8_t *)"n", 0, &o), BPT_EINVAL,
                  "a nonce of 0 bytes (1..512)");
    assert_rc_msg(bpt_attest_nonce(&r, big, sizeof(big), &o), BPT_EINVAL, "a nonce of 513 bytes");
    assert_rc_msg(bpt_attest_nonce(&r, (const uint8_t *)"n", 1, &old), BPT_EINVAL,
                  "BPT_ATTESTER_OPTS_INIT");
    assert_null(r);
    assert_ok(bpt_attest_nonce(&r, big, BPT_NONCE_MAX_BYTES, &o));
    bpt_report_free(r);
}

/* bpt_attest_nonce and expected_nonce pair for every simulated provider; another nonce is a
 * claim refusal naming where the rule looked. */
static void test_nonce_pairs_per_provider(void **state)
{
    struct bpt_sim_fixture *f = *state;
    static const struct {
        bpt_provider provider;
        const char *refusal;
    } cases[] = {
        {BPT_PROVIDER_AMD_SEV_SNP, "sev_snp: report_data is not SHA-512 of the expected nonce"},
        {BPT_PROVIDER_INTEL_TDX, "tdx: report_data is not SHA-512 of the expected nonce"},
        {BPT_PROVIDER_AWS_NITRO, "aws_nitro: nonce differs from the expected nonce"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_report *r = attest(f, cases[i].provider, "n-42");
        assert_ok(verify_report(f, r, "{\"expected_nonce\":\"n-42\"}", NULL));
        assert_rc_msg(verify_report(f, r, "{\"expected_nonce\":\"n-43\"}", NULL), BPT_ECLAIM,
                      cases[i].refusal);
        bpt_report_free(r);
    }
    /* Nitro: the nonce's bytes, never its hex ("n-42" is 6e2d3432). */
    bpt_report *r = attest(f, BPT_PROVIDER_AWS_NITRO, "n-42");
    assert_rc_msg(verify_report(f, r, "{\"expected_nonce\":\"6e2d3432\"}", NULL), BPT_ECLAIM,
                  "nonce differs");
    bpt_report_free(r);
    /* Evidence made for report data, not for a nonce: the nonce is absent. */
    r = attest(f, BPT_PROVIDER_AWS_NITRO, NULL);
    assert_rc_msg(verify_report(f, r, "{\"expected_nonce\":\"n-42\"}", NULL), BPT_ECLAIM,
                  "nonce is absent");
    bpt_report_free(r);
    /* With report data expected as well, both must hold. */
    r = attest(f, BPT_PROVIDER_AMD_SEV_SNP, "n-42");
    assert_rc_msg(
        verify_report(f, r, "{\"expected_nonce\":\"n-42\",\"expected_report_data\":\"01\"}", NULL),
        BPT_ECLAIM, "report_data differs from the expected 1 bytes");
    bpt_report_free(r);
}

/* `bpt attest --nonce S` and `bpt verify --expect-nonce S` pair for each simulated provider. */
static void test_cli_nonce_pairs(void **state)
{
    struct bpt_sim_fixture *f = *state;
    static const char *const providers[] = {"sev-snp", "tdx", "aws-nitro"};
    char roots[4096], path[4096], *out = NULL;
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->dir);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/nonce-%s.json", f->dir, providers[i]);
        const char *attest_argv[] = {"attest", "--simulate", providers[i], "--sim-dir",
                                     f->dir,   "--nonce",    "n-42",       "--json",
                                     "-o",     path,         NULL};
        assert_int_equal(bpt_test_run_cli(NULL, attest_argv), 0);
        const char *ok[] = {"verify", "--trust-root", roots, "--expect-nonce", "n-42", path, NULL};
        assert_int_equal(bpt_test_run_cli(&out, ok), 0);
        assert_non_null(strstr(out, "verified:"));
        free(out);
        const char *other[] = {"verify", "--trust-root", roots, "--expect-nonce",
                               "n-43",   "--json",       path,  NULL};
        assert_int_equal(bpt_test_run_cli(&out, other), 1);
        assert_non_null(strstr(out, "\"kind\":\"claim\""));
        assert_non_null(strstr(out, "nonce"));
        free(out);
    }
}

/* ---- the measurement through the CLI ---------------------------------------------------- */

/* What `bpt verify` prints as the measurement is accepted back by --expect-measurement; a
 * value that cannot suit the named provider is a usage error before anything is read. */
static void test_cli_measurement_fed_back(void **state)
{
    struct bpt_sim_fixture *f = *state;
    char roots[4096], path[4096], meas[160], *out = NULL, *err = NULL, *line;
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->dir);
    snprintf(path, sizeof(path), "%s/measured.json", f->dir);
    const char *attest_argv[] = {"attest", "--simulate", "sev-snp", "--sim-dir", f->dir,
                                 "--json", "-o",         path,      NULL};
    assert_int_equal(bpt_test_run_cli(NULL, attest_argv), 0);
    const char *plain[] = {"verify", "--trust-root", roots, path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, plain), 0);
    line = strstr(out, "measurement: ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "measurement: %159s", meas), 1);
    assert_int_equal(strncmp(meas, "sha384:", 7), 0);
    free(out);
    const char *back[] = {"verify", "--trust-root", roots, "--expect-measurement",
                          meas,     path,           NULL};
    assert_int_equal(bpt_test_run_cli(NULL, back), 0);
    const char *named[] = {"verify",       "--provider", "sev-snp",
                           "--trust-root", roots,        "--expect-measurement",
                           meas,           path,         NULL};
    assert_int_equal(bpt_test_run_cli(NULL, named), 0);

    /* Refused while reading the flags: a length no digest has, another provider's kind. */
    const char *tiny[] = {"verify", "--expect-measurement", "00", path, NULL};
    assert_int_equal(bpt_test_run_cli_err(NULL, &err, tiny), 2);
    assert_non_null(strstr(err, "--expect-measurement: policy: expected_measurement has 1 byte"));
    free(err);
    const char *wrong[] = {"verify",      "--provider", "sev-snp", "--expect-measurement",
                           "sha256:" M32, path,         NULL};
    assert_int_equal(bpt_test_run_cli_err(NULL, &err, wrong), 2);
    assert_non_null(strstr(err, "amd_sev_snp: measurement: the policy expects a sha256 "
                                "measurement, and these are sha384 (48 bytes)"));
    free(err);
    /* Without a named provider, the same is refused at verification, as unsatisfiable. */
    const char *late[] = {"verify",      "--trust-root", roots, "--expect-measurement",
                          "sha256:" M32, "--json",       path,  NULL};
    assert_int_equal(bpt_test_run_cli(&out, late), 1);
    assert_non_null(strstr(out, "\"kind\":\"unsatisfiable\""));
    assert_non_null(strstr(out, "the policy expects a sha256 measurement"));
    free(out);
}

/* ---- a report JSON's public_key_binding ------------------------------------------------- */

static void test_key_binding_checked_against_the_evidence(void **state)
{
    struct bpt_sim_fixture *f = *state;
    static const uint8_t key[32] = {7, 7, 7};
    char rd_hex[129], *text = NULL, path[4096], roots[4096], *out = NULL;
    bpt_report *r = attest(f, BPT_PROVIDER_AMD_SEV_SNP, NULL), *parsed = NULL;
    bpt_verified *v = NULL;
    size_t klen = 0;
    const char *type = NULL;
    for (int i = 0; i < 64; i++) {
        snprintf(rd_hex + 2 * i, 3, "%02x", i + 1);
    }
    /* The digest is the report data the evidence authenticates: verified, binding kept. */
    assert_ok(bpt_report_set_key_binding(r, key, sizeof(key), "x25519", rd_hex));
    assert_ok(verify_report(f, r, NULL, &v));
    assert_non_null(bpt_report_key_binding(bpt_verified_report(v), &klen, &type, NULL));
    assert_int_equal(klen, 32);
    assert_string_equal(type, "x25519");
    bpt_verified_free(v);
    /* Another digest: refused, where it was silently dropped before. */
    rd_hex[0] = 'f';
    assert_ok(bpt_report_set_key_binding(r, key, sizeof(key), "x25519", rd_hex));
    assert_rc_msg(verify_report(f, r, NULL, NULL), BPT_ECLAIM,
                  "report JSON: public_key_binding does not match the evidence: its "
                  "binding_digest is not the report data the evidence authenticates (64 bytes)");
    /* The same through report JSON bytes and the CLI. */
    assert_ok(bpt_report_to_json(&text, r));
    snprintf(path, sizeof(path), "%s/bound.json", f->dir);
    bpt_test_write_file(path, text, strlen(text));
    assert_ok(bpt_report_from_json(&parsed, text, strlen(text)));
    assert_rc_msg(verify_report(f, parsed, NULL, NULL), BPT_ECLAIM, "public_key_binding");
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->dir);
    const char *argv[] = {"verify", "--trust-root", roots, "--json", path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, argv), 1);
    assert_non_null(strstr(out, "public_key_binding does not match the evidence"));
    free(out);
    bpt_free(text);
    bpt_report_free(parsed);
    bpt_report_free(r);
}

/* A Nitro document carries a public_key of its own: a binding must name that key. */
static void test_key_binding_of_a_key_the_evidence_carries(void **state)
{
    struct bpt_sim_fixture *f = *state;
    static const uint8_t pk[32] = {9, 8, 7}, other[32] = {1, 2, 3};
    struct bpt_sim_nitro_opts o = {.public_key = pk, .public_key_len = sizeof(pk)};
    uint8_t *ev = NULL;
    size_t n = 0, klen = 0;
    bpt_report *r = NULL;
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(f, BPT_SIM_NITRO_TIME + 5, NULL);
    bpt_verified *v = NULL;
    assert_non_null(ctx);
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->dir, &o));
    assert_ok(bpt_report_new(&r, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT));
    assert_ok(bpt_report_set_evidence(r, ev, n));
    assert_ok(bpt_report_set_key_binding(r, pk, sizeof(pk), "x25519", "00"));
    assert_ok(bpt_verify_report(&v, ctx, NULL, r));
    assert_memory_equal(bpt_report_key_binding(bpt_verified_report(v), &klen, NULL, NULL), pk,
                        sizeof(pk));
    bpt_verified_free(v);
    assert_ok(bpt_report_set_key_binding(r, other, sizeof(other), "x25519", "00"));
    assert_rc_msg(bpt_verify_report(&v, ctx, NULL, r), BPT_ECLAIM,
                  "public_key_binding names another key than the one the evidence carries");
    assert_null(v);
    bpt_report_free(r);
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measurement_input),
        cmocka_unit_test(test_measurement_suits_the_provider),
        cmocka_unit_test(test_measurement_round_trip),
        cmocka_unit_test(test_nonce_rule),
        cmocka_unit_test(test_attest_nonce_arguments),
        cmocka_unit_test(test_nonce_pairs_per_provider),
        cmocka_unit_test(test_cli_nonce_pairs),
        cmocka_unit_test(test_cli_measurement_fed_back),
        cmocka_unit_test(test_key_binding_checked_against_the_evidence),
        cmocka_unit_test(test_key_binding_of_a_key_the_evidence_carries),
    };
    return cmocka_run_group_tests(tests, bpt_sim_fixture_setup, bpt_sim_fixture_teardown);
}
