/*
 * Inspection (bpt_evidence_inspect_json, `bpt inspect`): every supported evidence decoded
 * field by field and labelled as not verified; tampered or untrusted evidence decodes all the
 * same (nothing is checked); what is not evidence is refused. Library and CLI.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/aws_nitro.h"
#include "attester/sim/jwt.h"
#include "attester/sim/tdx.h"

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <stdio.h>

/* Inspect @p ev; the document, checked for the not-verified label (json_decref it). */
static json_t *inspect(const uint8_t *ev, size_t len)
{
    char *text = NULL;
    json_t *o;
    assert_ok(bpt_evidence_inspect_json(&text, ev, len));
    o = json_loads(text, 0, NULL);
    assert_non_null(o);
    assert_true(json_is_false(json_object_get(o, "verified")));
    assert_non_null(strstr(json_string_value(json_object_get(o, "note")), "decoded only"));
    bpt_free(text);
    return o;
}

/* The string at @p path ("fields.body.mr_td", "fields.pcrs.0"), or NULL. */
static const char *at(const json_t *o, const char *path)
{
    char buf[256], *save = NULL;
    const json_t *v = o;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save)) {
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
    }
    return json_string_value(v);
}

static void test_snp_report(void **state)
{
    struct bpt_sim_fixture *f = *state;
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT;
    uint8_t rd[64];
    bpt_report *r = NULL;
    size_t n = 0;
    char want[129];
    for (int i = 0; i < 64; i++) {
        rd[i] = (uint8_t)(0xA0 + i % 16);
        snprintf(want + 2 * i, 3, "%02x", rd[i]);
    }
    o.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    o.sim_dir = f->dir;
    assert_ok(bpt_attest(&r, rd, &o));
    uint8_t *ev = (uint8_t *)bpt_report_evidence(r, &n);
    json_t *j = inspect(ev, n);
    assert_string_equal(at(j, "kind"), "sev_snp_report");
    assert_string_equal(at(j, "provider"), "amd_sev_snp");
    assert_string_equal(at(j, "fields.report_data"), want);
    assert_string_equal(at(j, "fields.signing_key"), "vcek");
    assert_string_equal(at(j, "fields.cpuid.product"), "Milan");
    assert_non_null(at(j, "fields.measurement"));
    assert_non_null(at(j, "fields.reported_tcb.raw"));
    assert_null(json_object_get(json_object_get(j, "fields"), "launch_mit_vector")); /* v3 */
    json_decref(j);
    /* Version 5: its mitigation vectors (little-endian at 0x1F8 and 0x200) are shown. */
    {
        uint8_t v5[1184];
        assert_int_equal(n, sizeof(v5));
        memcpy(v5, ev, n);
        v5[0] = 5;
        v5[0x1F8] = 0x03;
        v5[0x200] = 0x01;
        v5[0x207] = 0x80;
        j = inspect(v5, n);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(j, "fields"), "version")), 5);
        assert_string_equal(at(j, "fields.launch_mit_vector"), "0x0000000000000003");
        assert_string_equal(at(j, "fields.current_mit_vector"), "0x8000000000000001");
        json_decref(j);
    }
    /* A changed signed byte still decodes: nothing was verified. */
    ev[0x50] ^= 0xFF;
    j = inspect(ev, n);
    assert_string_not_equal(at(j, "fields.report_data"), want);
    json_decref(j);
    bpt_report_free(r);
}

static void test_tdx_quote_and_report_json(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.version = 5, .body15 = true};
    uint8_t *q = NULL;
    size_t n = 0;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    json_t *j = inspect(q, n);
    assert_string_equal(at(j, "kind"), "tdx_quote");
    assert_string_equal(at(j, "fields.body.type"), "td_report_1.5");
    assert_non_null(at(j, "fields.body.mr_td"));
    assert_non_null(at(j, "fields.body.rtmr.3"));
    assert_non_null(at(j, "fields.body.mr_servicetd"));
    assert_string_equal(at(j, "fields.signature.pck_chain.0.subject"),
                        "O = bpt simulator, CN = Intel SGX PCK Certificate");
    json_decref(j);
    bpt_free(q);

    /* Report JSON: what it claims, and its evidence decoded (its collateral summarised). */
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *r = NULL;
    char *text = NULL;
    ao.simulate = BPT_PROVIDER_INTEL_TDX;
    ao.sim_dir = f->dir;
    assert_ok(bpt_attest_nonce(&r, (const uint8_t *)"n", 1, &ao));
    assert_ok(bpt_report_to_json(&text, r));
    j = inspect((const uint8_t *)text, strlen(text));
    assert_string_equal(at(j, "kind"), "report_json");
    assert_string_equal(at(j, "provider"), "intel_tdx");
    assert_string_equal(at(j, "report.format"), "tdx_quote");
    assert_null(json_object_get(json_object_get(j, "report"), "evidence"));
    assert_string_equal(at(j, "report.collateral.tcb_info"), "(present)");
    assert_string_equal(at(j, "evidence.kind"), "tdx_quote");
    assert_non_null(at(j, "evidence.fields.body.report_data"));
    json_decref(j);
    bpt_free(text);
    bpt_report_free(r);
}

static void test_nitro_document(void **state)
{
    struct bpt_sim_fixture *f = *state;
    static const uint8_t ud[100] = {1, 2, 3};
    struct bpt_sim_nitro_opts o = {
        .nonce = (const uint8_t *)"n-1", .nonce_len = 3, .user_data = ud, .user_data_len = 100};
    uint8_t *ev = NULL;
    size_t n = 0;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->dir, &o));
    json_t *j = inspect(ev, n);
    assert_string_equal(at(j, "kind"), "nitro_cose");
    assert_string_equal(at(j, "fields.nonce"), "6e2d31");
    assert_int_equal(strlen(at(j, "fields.user_data")), 200); /* all of it */
    assert_int_equal(strlen(at(j, "fields.pcrs.0")), 96);
    assert_string_equal(at(j, "fields.module_id"), "i-sim-enc");
    assert_string_equal(at(j, "fields.cabundle.1.subject"),
                        "O = bpt simulator, CN = sim.zonal.aws.nitro-enclaves");
    assert_true(json_is_null(json_object_get(json_object_get(j, "fields"), "public_key")));
    json_decref(j);
    bpt_free(ev);
}

/* A JWT decodes whatever its alg or signature: even one no verifier would parse. */
static void test_jwt(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char *tok = NULL;
    (void)state;
    assert_non_null(key);
    assert_ok(bpt_sim_jwt_make(&tok, "{\"alg\":\"ES256\",\"kid\":\"k1\"}",
                               "{\"iss\":\"https://confidentialcomputing.googleapis.com\","
                               "\"aud\":\"rp\",\"eat_nonce\":\"abc\"}",
                               key));
    json_t *j = inspect((const uint8_t *)tok, strlen(tok));
    assert_string_equal(at(j, "kind"), "jwt");
    assert_string_equal(at(j, "provider"), "gcp_confidential");
    assert_string_equal(at(j, "fields.header.kid"), "k1");
    assert_string_equal(at(j, "fields.claims.eat_nonce"), "abc");
    assert_true(
        json_integer_value(json_object_get(json_object_get(j, "fields"), "signature_bytes")) >= 64);
    json_decref(j);
    bpt_free(tok);
    assert_ok(bpt_sim_jwt_make(&tok, "{\"alg\":\"none\"}", "{\"iss\":\"x\"}", NULL));
    j = inspect((const uint8_t *)tok, strlen(tok));
    assert_string_equal(at(j, "fields.header.alg"), "none");
    assert_string_equal(at(j, "provider"), "azure_snp");
    json_decref(j);
    bpt_free(tok);
    EVP_PKEY_free(key);
}

static void test_refusals(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.version = 4};
    char *out = NULL;
    uint8_t junk[300] = {0x42}, *q = NULL;
    size_t n = 0;
    static const char bad_jwt[] = "eyJhbGciOiJub25lIn0.WzEsMl0.eA"; /* claims: [1,2] */
    assert_rc_msg(bpt_evidence_inspect_json(NULL, junk, sizeof(junk)), BPT_EINVAL, "no out");
    assert_rc_msg(bpt_evidence_inspect_json(&out, junk, sizeof(junk)), BPT_EMALFORMED,
                  "300 bytes are not a recognised evidence format");
    assert_null(out);
    assert_rc_msg(bpt_evidence_inspect_json(&out, NULL, 0), BPT_EMALFORMED, "0 bytes");
    assert_rc_msg(bpt_evidence_inspect_json(&out, (const uint8_t *)bad_jwt, strlen(bad_jwt)),
                  BPT_EMALFORMED, "jwt: the claims is not a JSON object");
    static const char bad_report[] = "{\"provider\":1,\"evidence\":\"\"}";
    assert_rc_msg(bpt_evidence_inspect_json(&out, (const uint8_t *)bad_report, strlen(bad_report)),
                  BPT_EMALFORMED, "inspect: report JSON");
    /* A truncated quote: the parser's field and offset. */
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_rc_msg(bpt_evidence_inspect_json(&out, q, n - 200), BPT_EMALFORMED, "tdx: quote");
    /* An SGX quote is recognised but not decoded. */
    q[4] = 0;
    assert_rc_msg(bpt_evidence_inspect_json(&out, q, n), BPT_ENOTSUP, "SGX DCAP quotes");
    bpt_free(q);
}

static void test_cli(void **state)
{
    struct bpt_sim_fixture *f = *state;
    char path[4096], junk[4096], *out = NULL, *err = NULL;
    snprintf(path, sizeof(path), "%s/inspect.json", f->dir);
    snprintf(junk, sizeof(junk), "%s/junk.bin", f->dir);
    bpt_test_write_file(junk, "not evidence at all", 19);
    const char *attest[] = {"attest", "--simulate", "sev-snp", "--sim-dir", f->dir, "--nonce",
                            "n-7",    "--json",     "-o",      path,        NULL};
    assert_int_equal(bpt_test_run_cli(NULL, attest), 0);
    const char *text[] = {"inspect", path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, text), 0);
    assert_int_equal(strncmp(out, "NOT VERIFIED: decoded only", 26), 0);
    assert_non_null(strstr(out, "kind: report_json"));
    assert_non_null(strstr(out, "evidence.kind: sev_snp_report"));
    assert_non_null(strstr(out, "evidence.report_data: "));
    assert_non_null(strstr(out, "report.collateral.certificates[0].subject: "));
    free(out);
    const char *json[] = {"inspect", "--json", path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, json), 0);
    assert_non_null(strstr(out, "\"verified\":false"));
    free(out);
    /* Exit classes: usage 2, a file that is missing or not evidence 3. */
    const char *usage[] = {"inspect", NULL};
    assert_int_equal(bpt_test_run_cli_err(NULL, &err, usage), 2);
    assert_non_null(strstr(err, "EVIDENCE is required"));
    free(err);
    const char *flag[] = {"inspect", "--verify", path, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, flag), 2);
    const char *missing[] = {"inspect", "/no/such/evidence", NULL};
    assert_int_equal(bpt_test_run_cli(NULL, missing), 3);
    const char *notev[] = {"inspect", junk, NULL};
    assert_int_equal(bpt_test_run_cli_err(NULL, &err, notev), 3);
    assert_non_null(strstr(err, "not a recognised evidence format"));
    free(err);
    const char *help[] = {"inspect", "--help", NULL};
    assert_int_equal(bpt_test_run_cli(&out, help), 0);
    assert_non_null(strstr(out, "WITHOUT VERIFYING ANYTHING"));
    free(out);
    const char *top[] = {"--help", NULL};
    assert_int_equal(bpt_test_run_cli(&out, top), 0);
    assert_non_null(strstr(out, "inspect"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snp_report),     cmocka_unit_test(test_tdx_quote_and_report_json),
        cmocka_unit_test(test_nitro_document), cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_refusals),       cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, bpt_sim_fixture_setup, bpt_sim_fixture_teardown);
}
