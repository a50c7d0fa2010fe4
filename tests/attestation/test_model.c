/* The attestation model: measurements, reports and their JSON, policies, recognition, CLI. */
#include "helpers/test.h"

/* Zero bytes as hex: 30 and 46 of them, to make 32- and 48-byte measurements. */
#define Z30 "000000000000000000000000000000000000000000000000000000000000"
#define Z46 Z30 "00000000000000000000000000000000"

static void test_measurement_normalises_and_compares(void **state)
{
    bpt_measurement a, b;
    (void)state;
    assert_ok(bpt_measurement_set(&a, "sha384", "ABCDEF01"));
    assert_string_equal(a.digest, "abcdef01");
    assert_ok(bpt_measurement_set_bytes(&b, "sha384", (const uint8_t *)"\xab\xcd\xef\x01", 4));
    assert_true(bpt_measurement_equal(&a, &b));
    assert_ok(bpt_measurement_set(&b, "sha256", "abcdef01"));
    assert_false(bpt_measurement_equal(&a, &b));
    assert_rc_msg(bpt_measurement_set(&a, "sha384", "abc"), BPT_EINVAL, "3 hex digits");
    assert_rc_msg(bpt_measurement_set(&a, "sha384", "zz"), BPT_EINVAL, "not hex at offset 0");
    assert_rc_msg(bpt_measurement_set(&a, "", "00"), BPT_EINVAL, "algorithm");
}

static void test_report_json_round_trip(void **state)
{
    bpt_report *r = NULL, *r2 = NULL;
    bpt_measurement m;
    char *a = NULL, *b = NULL, *cj = NULL;
    static const uint8_t ev[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    static const uint8_t pk[32] = {1, 2, 3};
    size_t n = 0;
    const char *type = NULL, *dg = NULL;
    (void)state;
    assert_ok(bpt_report_new(&r, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT));
    bpt_report_set_issued_at(r, 1695049470);
    assert_ok(bpt_measurement_set(&m, "sha384", "00ff"));
    bpt_report_set_measurement(r, &m);
    assert_ok(bpt_report_set_evidence(r, ev, sizeof(ev)));
    assert_ok(bpt_report_set_key_binding(r, pk, sizeof(pk), "x25519", "aa55"));
    bpt_claims *c = bpt_report_claims_mut(r);
    bpt_claims_set_debug_mode(c, true);
    assert_ok(bpt_claims_set_platform_version(c, "v1"));
    assert_ok(bpt_claims_add_boot_measurement(c, "pcr0:00"));
    assert_ok(bpt_claims_set_user_data(c, (const uint8_t *)"\x01\x02", 2));
    assert_ok(bpt_claims_set_custom_json(c, "module_id", "\"i-123\""));
    assert_ok(bpt_report_to_json(&a, r));
    assert_non_null(strstr(a, "\"evidence\":\"3q2+7wA=\""));
    assert_non_null(strstr(a, "\"provider\":\"aws_nitro\""));
    assert_ok(bpt_report_from_json(&r2, a, strlen(a)));
    assert_ok(bpt_report_to_json(&b, r2));
    assert_string_equal(a, b);
    assert_non_null(bpt_report_key_binding(r2, &n, &type, &dg));
    assert_int_equal(n, 32);
    assert_string_equal(type, "x25519");
    assert_string_equal(dg, "aa55");
    assert_ok(bpt_claims_custom_json(&cj, bpt_report_claims(r2), "module_id"));
    assert_string_equal(cj, "\"i-123\"");
    bpt_free(cj);
    assert_rc_msg(bpt_claims_custom_json(&cj, bpt_report_claims(r2), "nope"), BPT_ENOTFOUND,
                  "nope");
    char digest[65];
    bpt_report_evidence_digest(digest, r2);
    assert_string_equal(digest, "e2867e538491f86ac5906b12ac667abf7761171d1ae94d867c231df82b0c7c90");
    assert_true(bpt_report_is_expired(r2, 600, 1695049470 + 601));
    assert_false(bpt_report_is_expired(r2, 600, 1695049470 + 600));
    bpt_free(a);
    bpt_free(b);
    bpt_report_free(r);
    bpt_report_free(r2);
}

static void test_report_json_accepts_rust_byte_arrays(void **state)
{
    /* What serde emits for Vec<u8>: arrays of integers. */
    static const char j[] =
        "{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"issued_at_unix\":7,"
        "\"measurement\":{\"algorithm\":\"sha384\",\"digest\":\"AB\"},"
        "\"public_key_binding\":{\"public_key\":[9,8,7],\"key_type\":\"x25519\","
        "\"binding_digest\":\"CAFE\"},\"claims\":{\"debug_mode\":false,\"user_data\":[1,2,3],"
        "\"custom\":{\"k\":{\"n\":[1]}}},\"evidence\":[222,173,190,239]}";
    bpt_report *r = NULL;
    size_t n = 0;
    const char *dg = NULL;
    (void)state;
    assert_ok(bpt_report_from_json(&r, j, sizeof(j) - 1));
    const uint8_t *ev = bpt_report_evidence(r, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(ev, "\xde\xad\xbe\xef", 4);
    const uint8_t *pk = bpt_report_key_binding(r, &n, NULL, &dg);
    assert_int_equal(n, 3);
    assert_int_equal(pk[0], 9);
    assert_string_equal(dg, "cafe");
    assert_string_equal(bpt_report_measurement(r)->digest, "ab");
    const uint8_t *ud = bpt_claims_user_data(bpt_report_claims(r), &n);
    assert_int_equal(n, 3);
    assert_int_equal(ud[2], 3);
    bpt_report_free(r);
}

static void test_report_json_refusals(void **state)
{
    static const struct {
        const char *json;
        int want;
        const char *msg;
    } cases[] = {
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":\"AA==\","
         "\"extra\":1}",
         BPT_EINVAL, "unknown key 'extra'"},
        {"{\"provider\":\"sgx\",\"format\":\"sev_snp_report\",\"evidence\":\"AA==\"}", BPT_EINVAL,
         "provider 'sgx'"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"quote\",\"evidence\":\"AA==\"}", BPT_EINVAL,
         "format 'quote'"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\"}", BPT_EINVAL,
         "missing field 'evidence'"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":\"A\"}",
         BPT_EINVAL, "evidence"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":[256]}",
         BPT_EINVAL, "element 0"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":\"AA==\","
         "\"claims\":{\"debug\":true}}",
         BPT_EINVAL, "claims: unknown key 'debug'"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":\"AA==\","
         "\"public_key_binding\":{\"public_key\":\"zz\",\"key_type\":\"x\",\"binding_digest\":"
         "\"00\"}}",
         BPT_EINVAL, "public_key"},
        {"not json", BPT_EMALFORMED, "invalid JSON"},
        /* what `bpt attest --json` writes carries schema_version 1; another is refused */
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":\"AA==\","
         "\"schema_version\":2}",
         BPT_EINVAL, "report: schema_version 2 is not one this version reads (1)"},
        {"{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\",\"evidence\":\"AA==\","
         "\"schema_version\":\"1\"}",
         BPT_EINVAL, "field 'schema_version' must be an integer"},
    };
    (void)state;
    {
        static const char v1[] = "{\"provider\":\"amd_sev_snp\",\"format\":\"sev_snp_report\","
                                 "\"evidence\":\"AA==\",\"schema_version\":1}";
        bpt_report *r = NULL;
        assert_ok(bpt_report_from_json(&r, v1, sizeof(v1) - 1));
        bpt_report_free(r);
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_report *r = NULL;
        int rc = bpt_report_from_json(&r, cases[i].json, strlen(cases[i].json));
        if (rc != cases[i].want || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s: got %d '%s'", cases[i].json, rc, bpt_error_last());
        }
        assert_null(r);
    }
}

static void test_policy_json_round_trip_and_clamp(void **state)
{
    static const char j[] =
        "{\"allow_debug\":true,\"max_age_secs\":7200,\"expected_measurement\":\"SHA384:AABB" Z46
        "\","
        "\"expected_nonce\":\"n1\",\"expected_audience\":\"aud\",\"expected_image_digest\":"
        "\"sha256:00\",\"expected_report_data\":\"0102\",\"sev_snp\":{\"min_tcb\":{\"bootloader\":"
        "1,\"tee\":0,\"snp\":2,\"microcode\":3},\"host_data\":\"000000000000000000000000000000000"
        "0000000000000000000000000000000\",\"vmpl\":1,\"products\":[\"Milan\",\"Turin\"]},\"tdx\":"
        "{\"accepted_tcb_status\":[\"UpToDate\",\"sw_hardening_needed\"]},\"aws_nitro\":{\"pcrs\":"
        "{\"8\":\"00000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000\"}},\"jwt\":{\"issuers\":[\"https://a\"],\"jwks_file\":\"/k.json\"}}";
    bpt_policy *p = NULL, *p2 = NULL;
    char *a = NULL, *b = NULL;
    (void)state;
    assert_ok(bpt_policy_load_json(&p, j, sizeof(j) - 1));
    assert_int_equal(bpt_policy_max_age(p), 3600); /* clamped to the ceiling */
    assert_true(bpt_policy_allow_debug(p));
    assert_true(bpt_policy_is_workload_bound(p));
    assert_ok(bpt_policy_to_json(&a, p));
    assert_non_null(strstr(a, "\"expected_measurement\":\"sha384:aabb" Z46 "\""));
    assert_non_null(strstr(a, "\"accepted_tcb_status\":[\"up_to_date\",\"sw_hardening_needed\"]"));
    assert_ok(bpt_policy_load_json(&p2, a, strlen(a)));
    assert_ok(bpt_policy_to_json(&b, p2));
    assert_string_equal(a, b);
    assert_int_equal(bpt_policy_set_max_age(p2, 99999), 3600);
    assert_int_equal(bpt_policy_set_max_age(p2, 10), 10);
    bpt_free(a);
    bpt_free(b);
    bpt_policy_free(p);
    bpt_policy_free(p2);
}

static void test_policy_production_defaults(void **state)
{
    bpt_policy *p = NULL;
    bpt_verify_ctx *ctx = NULL;
    char *j = NULL;
    (void)state;
    assert_ok(bpt_policy_new(&p));
    assert_false(bpt_policy_allow_debug(p));
    assert_int_equal(bpt_policy_max_age(p), 600);
    assert_false(bpt_policy_is_workload_bound(p));
    assert_ok(bpt_policy_to_json(&j, p));
    assert_non_null(strstr(j, "\"accepted_tcb_status\":[\"up_to_date\"]"));
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, 42));
    assert_int_equal(bpt_verify_ctx_at(ctx), 42);
    bpt_verify_ctx_free(ctx);
    bpt_free(j);
    bpt_policy_free(p);
}

static void test_policy_refusals(void **state)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{\"allow_debg\":true}", "unknown key 'allow_debg'"},
        {"{\"sev_snp\":{\"vmpl\":0,\"min_tbc\":{}}}", "sev_snp: unknown key 'min_tbc'"},
        {"{\"sev_snp\":{\"min_tcb\":{\"bootlader\":1}}}", "min_tcb: unknown key 'bootlader'"},
        {"{\"sev_snp\":{\"vmpl\":4}}", "vmpl 4 out of range"},
        {"{\"sev_snp\":{\"products\":[\"Rome\"]}}", "products[0]"},
        {"{\"sev_snp\":{\"host_data\":\"00\"}}", "host_data: expected 64 hex digits"},
        {"{\"tdx\":{\"accepted_tcb_status\":[\"fine\"]}}", "accepted_tcb_status[0]"},
        {"{\"tdx\":{\"rtmr\":[null,null,null,null,null]}}", "rtmr has 5 entries"},
        {"{\"aws_nitro\":{\"pcrs\":{\"x\":\"00\"}}}", "pcrs key 'x'"},
        {"{\"aws_nitro\":{\"pcrs\":{\"0\":\"00\"}}}", "pcrs.0: expected 96 hex digits"},
        {"{\"jwt\":{\"issuers\":[1]}}", "issuers[0]"},
        {"{\"expected_measurement\":\"xyz\"}", "expected_measurement"},
        {"{\"max_age_secs\":-1}", "max_age_secs"},
        {"{\"sev_snp\":{\"allow_smt\":1}}", "allow_smt"},
        {"{\"sev_snp\":{\"min_abi\":\"1.256\"}}", "min_abi '1.256': expected MAJOR.MINOR"},
        {"{\"sev_snp\":{\"min_abi\":\"1\"}}", "min_abi '1': expected MAJOR.MINOR"},
        {"{\"sev_snp\":{\"min_firmware_version\":\"1.5x\"}}", "min_firmware_version '1.5x'"},
        {"{\"sev_snp\":{\"min_build\":256}}", "min_build 256 out of range"},
        {"{\"sev_snp\":{\"family_id\":\"00\"}}", "family_id: expected 32 hex digits"},
        {"{\"sev_snp\":{\"id_key_digests\":[\"00\"]}}", "id_key_digests[0]: expected a 48-byte"},
        {"{\"sev_snp\":{\"author_key_digests\":[1]}}", "author_key_digests[0] must be hex"},
        {"{\"sev_snp\":{\"require_author_key\":true}}", "require_author_key needs"},
        {"{\"sev_snp\":{\"min_launch_tcb\":{\"snp\":300}}}", "min_launch_tcb: snp must be 0..255"},
        {"{\"sev_snp\":{\"platform_tsme\":true}}", "unknown key 'platform_tsme'"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_policy *p = NULL;
        int rc = bpt_policy_load_json(&p, cases[i].json, strlen(cases[i].json));
        if (rc != BPT_EINVAL || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s: got %d '%s', want '%s'", cases[i].json, rc, bpt_error_last(),
                     cases[i].msg);
        }
        assert_null(p);
    }
}

#define D48                                                                                        \
    "abababababababababababababababababababababababab"                                             \
    "abababababababababababababababababababababababab"

/* The SEV-SNP rules of the policy file round-trip, and the setters say what they refuse. */
static void test_policy_sev_snp_rules(void **state)
{
    static const char j[] =
        "{\"sev_snp\":{\"allow_smt\":false,\"allow_migration_agent\":false,"
        "\"require_single_socket\":true,\"min_abi\":\"1.51\",\"family_id\":"
        "\"000102030405060708090a0b0c0d0e0f\",\"image_id\":\"0f0e0d0c0b0a09080706050403020100\","
        "\"id_key_digests\":[\"" D48 "\"],\"author_key_digests\":[\"" D48 "\",\"" D48 "\"],"
        "\"require_author_key\":true,\"min_build\":7,\"min_firmware_version\":\"1.55\","
        "\"min_launch_tcb\":{\"bootloader\":1,\"tee\":2,\"snp\":3,\"microcode\":4,"
        "\"fmc\":5},\"platform_smt_enabled\":false,\"platform_tsme_enabled\":true}}";
    bpt_policy *p = NULL, *p2 = NULL, *c = NULL;
    char *a = NULL, *b = NULL, *e = NULL;
    bpt_snp_tcb t = {.bootloader = 1, .tee = 2, .snp = 3, .microcode = 4, .fmc = 5};
    (void)state;
    assert_ok(bpt_policy_load_json(&p, j, sizeof(j) - 1));
    assert_ok(bpt_policy_to_json(&a, p));
    assert_non_null(strstr(a, "\"min_abi\":\"1.51\""));
    assert_non_null(strstr(a, "\"platform_smt_enabled\":false"));
    assert_non_null(strstr(a, "\"author_key_digests\":[\"" D48 "\",\"" D48 "\"]"));
    assert_ok(bpt_policy_load_json(&p2, a, strlen(a)));
    assert_ok(bpt_policy_to_json(&b, p2));
    assert_string_equal(a, b);
    assert_ok(bpt_policy_clone(&c, p2));
    bpt_free(b);
    assert_ok(bpt_policy_to_json(&b, c));
    assert_string_equal(a, b);

    /* The same policy from the setters. */
    bpt_policy_free(c);
    assert_ok(bpt_policy_new(&c));
    assert_ok(bpt_policy_set_sev_snp_rule(c, "allow_smt", false));
    assert_ok(bpt_policy_set_sev_snp_rule(c, "allow_migration_agent", false));
    assert_ok(bpt_policy_set_sev_snp_rule(c, "require_single_socket", true));
    assert_ok(bpt_policy_set_sev_snp_min_version(c, "min_abi", "1.51"));
    assert_ok(bpt_policy_set_sev_snp_expected(c, "family_id", "000102030405060708090a0b0c0d0e0f"));
    assert_ok(bpt_policy_set_sev_snp_expected(c, "image_id", "0f0e0d0c0b0a09080706050403020100"));
    assert_ok(bpt_policy_add_sev_snp_key_digest(c, "id_key_digests", D48));
    assert_ok(bpt_policy_add_sev_snp_key_digest(c, "author_key_digests", D48));
    assert_ok(bpt_policy_add_sev_snp_key_digest(c, "author_key_digests", D48));
    assert_ok(bpt_policy_set_sev_snp_rule(c, "require_author_key", true));
    assert_ok(bpt_policy_set_sev_snp_min_build(c, 7));
    assert_ok(bpt_policy_set_sev_snp_min_version(c, "min_firmware_version", "1.55"));
    assert_ok(bpt_policy_set_sev_snp_min_tcb(c, "min_launch_tcb", &t));
    assert_ok(bpt_policy_set_sev_snp_rule(c, "platform_smt_enabled", false));
    assert_ok(bpt_policy_set_sev_snp_rule(c, "platform_tsme_enabled", true));
    assert_ok(bpt_policy_to_json(&e, c));
    assert_string_equal(a, e);

    /* Clearing, and what the setters refuse. */
    assert_ok(bpt_policy_set_sev_snp_min_build(c, -1));
    assert_ok(bpt_policy_set_sev_snp_min_version(c, "min_abi", NULL));
    assert_ok(bpt_policy_set_sev_snp_expected(c, "image_id", NULL));
    assert_ok(bpt_policy_set_sev_snp_min_tcb(c, "min_launch_tcb", NULL));
    bpt_free(e);
    assert_ok(bpt_policy_to_json(&e, c));
    assert_null(strstr(e, "min_build"));
    assert_null(strstr(e, "min_abi"));
    assert_null(strstr(e, "image_id"));
    assert_null(strstr(e, "min_launch_tcb"));
    assert_rc_msg(bpt_policy_set_sev_snp_rule(c, "allow_debug", true), BPT_EINVAL,
                  "unknown SEV-SNP rule 'allow_debug'");
    assert_rc_msg(bpt_policy_set_sev_snp_expected(c, "chip_id", "00"), BPT_EINVAL,
                  "unknown SEV-SNP field 'chip_id'");
    assert_rc_msg(bpt_policy_set_sev_snp_expected(c, "family_id", "00"), BPT_EINVAL,
                  "expected 16 bytes of hex");
    assert_rc_msg(bpt_policy_set_sev_snp_min_build(c, 256), BPT_EINVAL, "0..255");
    assert_rc_msg(bpt_policy_set_sev_snp_min_version(c, "min_tcb", "1.0"), BPT_EINVAL,
                  "unknown SEV-SNP version 'min_tcb'");
    assert_rc_msg(bpt_policy_set_sev_snp_min_tcb(c, "launch_tcb", &t), BPT_EINVAL,
                  "unknown SEV-SNP TCB 'launch_tcb'");
    assert_rc_msg(bpt_policy_add_sev_snp_key_digest(c, "id_keys", D48), BPT_EINVAL,
                  "unknown SEV-SNP key list 'id_keys'");
    for (int i = 1; i < BPT_POLICY_MAX_SNP_KEYS; i++) {
        assert_ok(bpt_policy_add_sev_snp_key_digest(c, "id_key_digests", D48));
    }
    assert_rc_msg(bpt_policy_add_sev_snp_key_digest(c, "id_key_digests", D48), BPT_ELIMIT,
                  "at most 16 digests");
    bpt_free(a);
    bpt_free(b);
    bpt_free(e);
    bpt_policy_free(p);
    bpt_policy_free(p2);
    bpt_policy_free(c);
}

static void test_from_custom_config(void **state)
{
    const char *keys[] = {"tee_expected_audience", "tee_allow_debug", "tee_max_age_secs",
                          "tee_expected_measurement", "unrelated"};
    const char *vals[] = {"aud-1", "true", "86400", "AB01" Z30, "x"};
    bpt_policy *p = NULL;
    char *j = NULL, nonce[33];
    (void)state;
    assert_ok(bpt_policy_from_custom_config(&p, keys, vals, 5, "n-1"));
    assert_int_equal(bpt_policy_max_age(p), 3600);
#ifdef BPT_TESTING
    assert_true(bpt_policy_allow_debug(p));
#else
    assert_false(bpt_policy_allow_debug(p)); /* refused outside testing builds */
#endif
    assert_ok(bpt_policy_to_json(&j, p));
    assert_non_null(strstr(j, "\"expected_audience\":\"aud-1\""));
    assert_non_null(strstr(j, "\"expected_nonce\":\"n-1\""));
    assert_non_null(strstr(j, "\"expected_measurement\":\"ab01" Z30 "\""));
    bpt_free(j);
    bpt_policy_free(p);
    assert_ok(bpt_policy_fresh_nonce(nonce));
    assert_int_equal(strlen(nonce), 32);
}

static void test_recognises_each_evidence_kind(void **state)
{
    static const struct {
        const char *file;
        bpt_evidence_kind kind;
    } files[] = {
        {"sev-snp/milan-virtee/report.bin", BPT_EVIDENCE_SEV_SNP_REPORT},
        {"sev-snp/milan-go-sev-guest/report.bin", BPT_EVIDENCE_SEV_SNP_REPORT},
        {"tdx/phala-v4-uptodate/quote.bin", BPT_EVIDENCE_TDX_QUOTE},
        {"tdx/phala-v5-tcb-not-supported/quote.bin", BPT_EVIDENCE_TDX_QUOTE},
        {"sgx/phala-v3/quote.bin", BPT_EVIDENCE_SGX_QUOTE},
        {"nitro/evervault-ga/attestation-doc.cbor", BPT_EVIDENCE_NITRO_COSE},
    };
    static const char jwt[] = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln";
    static const char json[] = "{\"provider\":\"aws_nitro\",\"evidence\":\"AA==\"}";
    uint8_t junk[64] = {0x42};
    (void)state;
    assert_int_equal(bpt_evidence_recognise((const uint8_t *)jwt, strlen(jwt)), BPT_EVIDENCE_JWT);
    assert_int_equal(bpt_evidence_provider((const uint8_t *)jwt, strlen(jwt)),
                     BPT_PROVIDER_AZURE_SNP);
    assert_int_equal(bpt_evidence_recognise((const uint8_t *)json, strlen(json)),
                     BPT_EVIDENCE_REPORT_JSON);
    assert_int_equal(bpt_evidence_recognise(junk, sizeof(junk)), BPT_EVIDENCE_UNKNOWN);
    assert_int_equal(bpt_evidence_recognise(NULL, 0), BPT_EVIDENCE_UNKNOWN);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t n = 0;
        uint8_t *b = bpt_test_data_read(files[i].file, &n);
        if (!b) {
            skip();
        }
        if (bpt_evidence_recognise(b, n) != files[i].kind) {
            fail_msg("%s: recognised as %s", files[i].file,
                     bpt_evidence_kind_name(bpt_evidence_recognise(b, n)));
        }
        /* base64 and hex text of the same bytes decode back to them. */
        uint8_t *dec = NULL;
        size_t dn = 0;
        char *hex = malloc(2 * n + 1);
        for (size_t k = 0; k < n; k++) {
            snprintf(hex + 2 * k, 3, "%02x", b[k]);
        }
        assert_ok(bpt_evidence_decode(&dec, &dn, (const uint8_t *)hex, 2 * n));
        assert_int_equal(dn, n);
        assert_memory_equal(dec, b, n);
        bpt_free(dec);
        free(hex);
        free(b);
    }
}

static void test_dispatcher_refusals(void **state)
{
    bpt_verified *v = NULL;
    uint8_t junk[100] = {7};
    static const char jwt[] = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln";
    (void)state;
    assert_rc_msg(bpt_verify(&v, NULL, NULL, junk, sizeof(junk), BPT_PROVIDER_UNKNOWN),
                  BPT_EMALFORMED, "not a recognised evidence format");
    assert_rc_msg(bpt_verify(&v, NULL, NULL, NULL, 0, BPT_PROVIDER_UNKNOWN), BPT_EMALFORMED,
                  "no evidence");
    assert_rc_msg(
        bpt_verify(&v, NULL, NULL, (const uint8_t *)jwt, strlen(jwt), BPT_PROVIDER_UNKNOWN),
        BPT_EMALFORMED, "azure_maa: the header has no usable kid");
    assert_rc_msg(
        bpt_verify(&v, NULL, NULL, (const uint8_t *)jwt, strlen(jwt), BPT_PROVIDER_AMD_SEV_SNP),
        BPT_EMALFORMED, "provider amd_sev_snp was named but the evidence is jwt");
    assert_null(v);
}

static void test_cli_verify_exit_codes(void **state)
{
    char *dir = bpt_test_tmpdir(), path[4096], *out = NULL;
    uint8_t junk[3000];
    (void)state;
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t)(i * 131 + 7);
    }
    snprintf(path, sizeof(path), "%s/random.bin", dir);
    bpt_test_write_file(path, junk, sizeof(junk));
    const char *a1[] = {"verify", "--json", path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, a1), 1);
    assert_non_null(strstr(out, "\"verified\":false"));
    assert_non_null(strstr(out, "\"kind\":\"malformed\""));
    bpt_free(out);
    const char *a2[] = {"verify", "--no-such-flag", path, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, a2), 2);
    const char *a3[] = {"verify", "--at", "yesterday", path, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, a3), 2);
    /* A missing evidence file is local input (exit 3), no longer "usage or I/O" (2). */
    const char *a4[] = {"verify", "/no/such/file", NULL};
    assert_int_equal(bpt_test_run_cli(NULL, a4), 3);
    const char *a5[] = {"verify", "--help", NULL};
    assert_int_equal(bpt_test_run_cli(&out, a5), 0);
    assert_non_null(strstr(out, "--trust-root"));
    bpt_free(out);
    bpt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measurement_normalises_and_compares),
        cmocka_unit_test(test_report_json_round_trip),
        cmocka_unit_test(test_report_json_accepts_rust_byte_arrays),
        cmocka_unit_test(test_report_json_refusals),
        cmocka_unit_test(test_policy_json_round_trip_and_clamp),
        cmocka_unit_test(test_policy_production_defaults),
        cmocka_unit_test(test_policy_refusals),
        cmocka_unit_test(test_policy_sev_snp_rules),
        cmocka_unit_test(test_from_custom_config),
        cmocka_unit_test(test_recognises_each_evidence_kind),
        cmocka_unit_test(test_dispatcher_refusals),
        cmocka_unit_test(test_cli_verify_exit_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
