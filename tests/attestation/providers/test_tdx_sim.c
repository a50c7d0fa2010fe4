/*
 * TDX checks against the simulated Intel PKI: each case builds a quote and collateral with one
 * fault (or edits one field) and must be refused by exactly that check, code and message.
 */
#include "helpers/test.h"
#include "helpers/sim_fixture.h"

#include "attester/sim/tdx.h"

#include "attestation/collateral/tdx_collateral.h"
#include "attestation/context_internal.h"
#include "attestation/pki/cert_cache.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>

#define AT 1750000000 /* inside the simulated certificates' validity */
#define DAY 86400

/* The policy of @p json; NULL for production() (what a NULL policy means to bpt_verify). */
static bpt_policy *sim_policy(const char *json)
{
    bpt_policy *p = NULL;
    if (json) {
        assert_ok(bpt_policy_load_json(&p, json, strlen(json)));
    }
    return p;
}

/* A context at @p at trusting the simulated roots, with @p coll as collateral (may be NULL),
 * made with @p opts (NULL: the defaults). */
static bpt_verify_ctx *sim_ctx_at(struct bpt_sim_fixture *f, int64_t at, const char *coll,
                                  const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx *c = bpt_sim_fixture_ctx(f, at, opts);
    assert_non_null(c);
    if (coll) {
        assert_ok(bpt_verify_ctx_set_collateral_json(c, coll, strlen(coll)));
    }
    return c;
}

/* The same at AT with the default options. */
static bpt_verify_ctx *sim_ctx(struct bpt_sim_fixture *f, const char *coll)
{
    return sim_ctx_at(f, AT, coll, NULL);
}

/* Build the quote and collateral for @p o (at AT unless o->now) and verify under @p json. */
static int run(struct bpt_sim_fixture *f, struct bpt_sim_tdx_opts o, const char *json,
               bpt_verified **out)
{
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_policy *p;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    int rc;
    if (!o.now) {
        o.now = AT;
    }
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    ctx = sim_ctx(f, coll);
    p = sim_policy(json);
    rc = bpt_verify(&v, ctx, p, q, n, BPT_PROVIDER_INTEL_TDX);
    if (out) {
        *out = v;
    } else {
        bpt_verified_free(v);
    }
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
    return rc;
}

/* The result's "tcb" object as JSON (caller json_decref's it). */
static json_t *tcb_of(const bpt_verified *v)
{
    char *text = NULL;
    json_t *o, *tcb;
    assert_ok(bpt_verified_to_json(&text, v));
    o = json_loads(text, 0, NULL);
    bpt_free(text);
    assert_non_null(o);
    tcb = json_incref(json_object_get(o, "tcb"));
    json_decref(o);
    assert_non_null(tcb);
    return tcb;
}

static void test_round_trip_v4_v5(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts v4 = {.version = 4}, v5 = {.version = 5}, v15 = {.body15 = true};
    bpt_verified *v = NULL;
    char *claim = NULL;
    for (int i = 0; i < 64; i++) {
        v4.report_data[i] = (uint8_t)i;
    }
    assert_ok(run(f, v4, NULL, &v));
    size_t n = 0;
    const uint8_t *rd = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_int_equal(rd[63], 63);
    json_t *tcb = tcb_of(v);
    assert_string_equal(json_string_value(json_object_get(tcb, "status")), "up_to_date");
    assert_string_equal(json_string_value(json_object_get(tcb, "module_identity")), "TDX_01");
    assert_string_equal(json_string_value(json_object_get(tcb, "fmspc")), "00906ed50000");
    json_decref(tcb);
    const bpt_report *r = bpt_verified_report(v);
    assert_string_equal(bpt_report_measurement(r)->digest,
                        "919191919191919191919191919191919191919191919191"
                        "919191919191919191919191919191919191919191919191");
    assert_int_equal(bpt_claims_boot_measurement_count(bpt_report_claims(r)), 4);
    assert_ok(bpt_claims_custom_json(&claim, bpt_report_claims(r), "xfam"));
    assert_string_equal(claim, "\"e702060000000000\"");
    bpt_free(claim);
    bpt_verified_free(v);

    assert_ok(run(f, v5, NULL, NULL));
    assert_ok(run(f, v15, NULL, &v));
    assert_ok(
        bpt_claims_custom_json(&claim, bpt_report_claims(bpt_verified_report(v)), "mr_servicetd"));
    bpt_free(claim);
    assert_ok(
        bpt_claims_custom_json(&claim, bpt_report_claims(bpt_verified_report(v)), "quote_version"));
    assert_string_equal(claim, "5");
    bpt_free(claim);
    bpt_verified_free(v);
}

/* A module with major version 0 is judged by tdxModule, and all of TEE_TCB_SVN counts. */
static void test_module_major_version_zero(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.module_major0 = true};
    bpt_verified *v = NULL;
    assert_ok(run(f, o, NULL, &v));
    json_t *tcb = tcb_of(v);
    assert_null(json_object_get(tcb, "module_identity")); /* no module TCB level applies */
    assert_string_equal(json_string_value(json_object_get(tcb, "status")), "up_to_date");
    json_decref(tcb);
    bpt_verified_free(v);
}

/* A valid chain of four (an extra CA under another root) is not the PCK chain's shape. */
static void test_pck_chain_of_another_length(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT, .extra_intermediate = true};
    uint8_t *q = NULL, *root2;
    size_t n = 0, r2 = 0;
    char *coll = NULL, path[4096];
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    snprintf(path, sizeof(path), "%s/tdx/root2.pem", f->dir);
    root2 = bpt_test_read_file(path, &r2);
    assert_non_null(root2);
    ctx = sim_ctx(f, coll);
    assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, (const char *)root2, r2));
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "tdx: PCK chain has 4 certificates (expected the PCK certificate, its CA and "
                  "the root)");
    bpt_verify_ctx_free(ctx);
    free(root2);
    bpt_free(coll);
    bpt_free(q);
}

static void test_pinned_root_refuses_simulated_quote(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, AT));
    assert_ok(bpt_verify_ctx_set_collateral_json(ctx, coll, strlen(coll)));
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "tdx: PCK chain");
    assert_null(v);
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

struct fault {
    const char *name;
    struct bpt_sim_tdx_opts o;
    const char *policy;
    int code;
    const char *msg;
};

static const struct fault faults[] = {
    /* Each link of each chain, each signature. */
    {"PCK certificate signature",
     {.bad_pck_sig = true},
     NULL,
     BPT_ESIGNATURE,
     "PCK chain: certificate chain invalid at depth 0"},
    {"PCK CA signature",
     {.bad_pck_ca_sig = true},
     NULL,
     BPT_ESIGNATURE,
     "PCK chain: certificate chain invalid at depth 1"},
    {"TCB signing certificate signature",
     {.bad_tcb_signer_sig = true},
     NULL,
     BPT_ESIGNATURE,
     "TCB Info issuer chain: certificate chain invalid at depth 0"},
    {"root CA CRL signature",
     {.bad_root_crl_sig = true},
     NULL,
     BPT_ESIGNATURE,
     "root CA CRL: signature does not verify"},
    {"PCK CRL signature",
     {.bad_pck_crl_sig = true},
     NULL,
     BPT_ESIGNATURE,
     "PCK CRL: signature does not verify"},
    {"QE report signature",
     {.bad_qe_report_sig = true},
     NULL,
     BPT_ESIGNATURE,
     "QE report signature does not verify"},
    {"QE report data binding",
     {.bad_qe_binding = true},
     NULL,
     BPT_ESIGNATURE,
     "QE report data is not SHA-256(attestation key"},
    {"PCK certificate issued by a CA that is no PCK CA",
     {.pck_ca_cn = "Intel SGX Other CA"},
     NULL,
     BPT_EMALFORMED,
     "PCK certificate's issuer is neither the Intel SGX PCK Platform CA nor the Processor CA"},
    {"attestation key not on the curve",
     {.att_key_off_curve = true},
     NULL,
     BPT_EMALFORMED,
     "tdx: attestation key: not a P-256 public key"},
    {"PCK CRL without nextUpdate",
     {.pck_crl_no_next_update = true},
     NULL,
     BPT_ESIGNATURE,
     "PCK CRL: has no nextUpdate"},
    {"TDX module (major version 0) MRSIGNER",
     {.module_major0 = true, .wrong_module_mrsigner = true},
     NULL,
     BPT_ESIGNATURE,
     "MRSIGNER_SEAM is not the TDX module identity's"},
    /* Revocation. */
    {"PCK certificate revoked",
     {.revoke_pck = true},
     NULL,
     BPT_ESIGNATURE,
     "tdx: PCK CRL: O = bpt simulator, CN = Intel SGX PCK Certificate is revoked"},
    {"PCK CA revoked",
     {.revoke_pck_ca = true},
     NULL,
     BPT_ESIGNATURE,
     "PCK CRL issuer chain: root CA CRL: O = bpt simulator, CN = Intel SGX PCK Platform CA is "
     "revoked"},
    {"TCB signing certificate revoked",
     {.revoke_tcb_signer = true},
     NULL,
     BPT_ESIGNATURE,
     "TCB Info issuer chain: root CA CRL: O = bpt simulator, CN = Intel SGX TCB Signing is "
     "revoked"},
    /* Date windows. */
    {"TCB Info expired", {.tcb_next = AT - 1}, NULL, BPT_ESIGNATURE, "TCB Info: expired"},
    {"TCB Info not yet issued",
     {.tcb_issue = AT + 1},
     NULL,
     BPT_ESIGNATURE,
     "TCB Info: issued 2025-06-15T15:06:41Z, after the verification time "
     "2025-06-15T15:06:40Z"},
    {"QE Identity expired", {.qe_next = AT - 1}, NULL, BPT_ESIGNATURE, "QE Identity: expired"},
    {"QE Identity not yet issued",
     {.qe_issue = AT + 1},
     NULL,
     BPT_ESIGNATURE,
     "QE Identity: issued"},
    {"root CA CRL expired",
     {.root_crl_next = AT - 1},
     NULL,
     BPT_ESIGNATURE,
     "root CA CRL: expired"},
    {"root CA CRL not yet valid",
     {.root_crl_this = AT + 1},
     NULL,
     BPT_ESIGNATURE,
     "root CA CRL: not yet valid"},
    {"PCK CRL expired", {.pck_crl_next = AT - 1}, NULL, BPT_ESIGNATURE, "PCK CRL: expired"},
    {"PCK CRL not yet valid",
     {.pck_crl_this = AT + 1},
     NULL,
     BPT_ESIGNATURE,
     "PCK CRL: not yet valid"},
    /* Identity of the collateral. */
    {"FMSPC mismatch",
     {.wrong_fmspc = true},
     NULL,
     BPT_ESIGNATURE,
     "TCB Info is for FMSPC 00906ed50001, the PCK certificate's is 00906ed50000"},
    {"PCE-ID mismatch", {.wrong_pceid = true}, NULL, BPT_ESIGNATURE, "TCB Info is for PCE-ID 0001"},
    {"QE MRSIGNER",
     {.wrong_qe_mrsigner = true},
     NULL,
     BPT_ESIGNATURE,
     "QE report's MRSIGNER is not the QE Identity's"},
    {"TDX module MRSIGNER",
     {.wrong_module_mrsigner = true},
     NULL,
     BPT_ESIGNATURE,
     "MRSIGNER_SEAM is not the TDX module identity's"},
    {"no TDX module identity",
     {.no_module_identity = true},
     NULL,
     BPT_ESIGNATURE,
     "TCB Info has no identity TDX_01"},
    /* TCB levels and statuses. */
    {"no TCB level matches",
     {.platform_no_match = true},
     NULL,
     BPT_ECLAIM,
     "TCB level not supported: no TCB level of TCB Info matches"},
    {"module below every level",
     {.module_no_match = true},
     NULL,
     BPT_ECLAIM,
     "TCB level not supported: the TDX module SVN 6 is below every level of TDX_01"},
    {"sw_hardening_needed refused",
     {.platform_status = "SWHardeningNeeded"},
     NULL,
     BPT_ECLAIM,
     "TCB status sw_hardening_needed is not accepted by the policy (accepts up_to_date); "
     "advisories [\"INTEL-SA-00000\"]"},
    {"configuration_needed refused",
     {.platform_status = "ConfigurationNeeded"},
     NULL,
     BPT_ECLAIM,
     "TCB status configuration_needed is not accepted"},
    {"configuration_and_sw_hardening_needed refused",
     {.platform_status = "ConfigurationAndSWHardeningNeeded"},
     NULL,
     BPT_ECLAIM,
     "TCB status configuration_and_sw_hardening_needed is not accepted"},
    {"out_of_date refused",
     {.platform_status = "OutOfDate"},
     NULL,
     BPT_ECLAIM,
     "TCB status out_of_date is not accepted"},
    {"out_of_date_configuration_needed refused",
     {.platform_status = "OutOfDateConfigurationNeeded"},
     NULL,
     BPT_ECLAIM,
     "TCB status out_of_date_configuration_needed is not accepted"},
    {"revoked refused",
     {.platform_status = "Revoked"},
     NULL,
     BPT_ECLAIM,
     "TCB status revoked is not accepted"},
    {"revoked refused even when out_of_date is accepted",
     {.platform_status = "Revoked"},
     "{\"tdx\":{\"accepted_tcb_status\":[\"up_to_date\",\"out_of_date\"]}}",
     BPT_ECLAIM,
     "TCB status revoked is not accepted by the policy (accepts up_to_date, out_of_date)"},
    {"QE out of date lowers the status",
     {.qe_status = "OutOfDate"},
     NULL,
     BPT_ECLAIM,
     "TCB status out_of_date is not accepted"},
    {"QE below every level is out of date",
     {.qe_below_levels = true},
     NULL,
     BPT_ECLAIM,
     "TCB status out_of_date is not accepted"},
    {"QE revoked", {.qe_status = "Revoked"}, NULL, BPT_ECLAIM, "TCB status revoked"},
    {"QE out of date with configuration needed",
     {.qe_status = "OutOfDate", .platform_status = "ConfigurationNeeded"},
     NULL,
     BPT_ECLAIM,
     "TCB status out_of_date_configuration_needed"},
    {"module out of date lowers the status",
     {.module_status = "OutOfDate"},
     NULL,
     BPT_ECLAIM,
     "TCB status out_of_date is not accepted"},
    /* The TD itself. */
    {"debug TD", {.td_attributes = 1 | (1ull << 28)}, NULL, BPT_ECLAIM, "TD is debuggable"},
    {"expected measurement",
     {.version = 4},
     "{\"expected_measurement\":"
     "\"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000\"}",
     BPT_ECLAIM,
     "measurement (MRTD) 9191"},
    {"expected report_data",
     {.version = 4},
     "{\"expected_report_data\":\"01\"}",
     BPT_ECLAIM,
     "report_data differs"},
    /* The nonce rule (issue 12): report_data must be SHA-512 of the expected nonce. */
    {"report_data is not the nonce's binding",
     {.version = 4},
     "{\"expected_nonce\":\"abc\"}",
     BPT_ECLAIM,
     "tdx: report_data is not SHA-512 of the expected nonce"},
};

static const char *const registers[][2] = {
    {"mr_config_id", "MR_CONFIG_ID"},
    {"mr_owner", "MR_OWNER"},
    {"mr_owner_config", "MR_OWNER_CONFIG"},
    {"mr_seam", "MR_SEAM"},
    {"xfam", "XFAM"},
    {"seam_attributes", "SEAM attributes"},
};

static void test_each_fault_is_refused_by_its_check(void **state)
{
    struct bpt_sim_fixture *f = *state;
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        int rc = run(f, faults[i].o, faults[i].policy, NULL);
        if (rc != faults[i].code || !strstr(bpt_error_last(), faults[i].msg)) {
            fail_msg("%s: got %d (%s), want %d with '%s'", faults[i].name, rc, bpt_error_last(),
                     faults[i].code, faults[i].msg);
        }
    }
}

static void test_each_expected_register(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    char json[512], ff48[97];
    memset(ff48, 'f', 96);
    ff48[96] = '\0';
    for (size_t i = 0; i < sizeof(registers) / sizeof(registers[0]); i++) {
        bool eight =
            strcmp(registers[i][0], "xfam") == 0 || strcmp(registers[i][0], "seam_attributes") == 0;
        snprintf(json, sizeof(json), "{\"tdx\":{\"%s\":\"%s\"}}", registers[i][0],
                 eight ? "ffffffffffffffff" : ff48);
        int rc = run(f, o, json, NULL);
        if (rc != BPT_ECLAIM || !strstr(bpt_error_last(), registers[i][1])) {
            fail_msg("%s: got %d (%s)", registers[i][0], rc, bpt_error_last());
        }
    }
    for (int i = 0; i < 4; i++) {
        char want[16];
        snprintf(json, sizeof(json), "{\"tdx\":{\"rtmr\":[%s%s%s\"%s\"]}}", i > 0 ? "null," : "",
                 i > 1 ? "null," : "", i > 2 ? "null," : "",
                 "000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "000000000000000000");
        snprintf(want, sizeof(want), "RTMR%d", i);
        assert_rc_msg(run(f, o, json, NULL), BPT_ECLAIM, want);
    }
    /* And the right values are accepted. */
    assert_ok(
        run(f, o,
            "{\"tdx\":{\"xfam\":\"e702060000000000\",\"seam_attributes\":\"0000000000000000\","
            "\"rtmr\":[null,\"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
            "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\"]}}",
            NULL));
}

static void test_debug_accepted_when_allowed(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.td_attributes = 1 | (1ull << 28)};
    bpt_verified *v = NULL;
    assert_ok(run(f, o, "{\"allow_debug\":true}", &v));
    assert_true(bpt_claims_debug_mode(bpt_report_claims(bpt_verified_report(v))));
    bpt_verified_free(v);
}

static void test_accepted_statuses_and_advisories(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.platform_status = "SWHardeningNeeded"};
    bpt_verified *v = NULL;
    assert_ok(run(f, o, "{\"tdx\":{\"accepted_tcb_status\":[\"SWHardeningNeeded\"]}}", &v));
    json_t *tcb = tcb_of(v);
    assert_string_equal(json_string_value(json_object_get(tcb, "status")), "sw_hardening_needed");
    assert_string_equal(json_string_value(json_array_get(json_object_get(tcb, "advisory_ids"), 0)),
                        "INTEL-SA-00000");
    json_decref(tcb);
    bpt_verified_free(v);

    struct bpt_sim_tdx_opts q = {.qe_status = "OutOfDate",
                                 .platform_status = "ConfigurationNeeded"};
    assert_ok(run(
        f, q, "{\"tdx\":{\"accepted_tcb_status\":[\"out_of_date_configuration_needed\"]}}", &v));
    tcb = tcb_of(v);
    assert_string_equal(json_string_value(json_object_get(tcb, "platform_status")),
                        "configuration_needed");
    assert_string_equal(json_string_value(json_object_get(tcb, "qe_status")), "out_of_date");
    json_decref(tcb);
    bpt_verified_free(v);
}

/* One byte changed after signing: the quote signature, or the signed TCB Info / QE Identity. */
static void test_tampering_after_signing(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL, *text = NULL;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));

    q[48 + 520] ^= 1; /* report_data */
    ctx = sim_ctx(f, coll);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "tdx: quote signature does not verify");
    bpt_verify_ctx_free(ctx);
    q[48 + 520] ^= 1;

    static const char *const docs[][3] = {
        {"tcb_info", "\"tcbEvaluationDataNumber\":17", "TCB Info signature does not verify"},
        {"qe_identity", "\"isvprodid\":2", "QE Identity signature does not verify"},
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *c = json_loads(coll, 0, NULL);
        const char *body = json_string_value(json_object_get(c, docs[i][0]));
        char *edited = strdup(body), *at = strstr(edited, docs[i][1]);
        assert_non_null(at);
        at[strlen(docs[i][1]) - 1] = '8'; /* 17 -> 18, 2 -> 8 */
        json_object_set_new(c, docs[i][0], json_string(edited));
        text = json_dumps(c, 0);
        ctx = sim_ctx(f, text);
        assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                      docs[i][2]);
        bpt_verify_ctx_free(ctx);
        free(text);
        free(edited);
        json_decref(c);
    }
    bpt_free(coll);
    bpt_free(q);
}

/* Replace every @p from with @p to in the collateral's @p field (a signed text, or not). */
static char *edit(const char *coll, const char *field, const char *from, const char *to)
{
    json_t *c = json_loads(coll, 0, NULL);
    const char *body = json_string_value(json_object_get(c, field));
    char *out = calloc(1, strlen(body) * 2 + strlen(to) + 1), *text;
    const char *p = body, *hit;
    assert_non_null(strstr(body, from));
    while ((hit = strstr(p, from)) != NULL) {
        strncat(out, p, (size_t)(hit - p));
        strcat(out, to);
        p = hit + strlen(from);
    }
    strcat(out, p);
    json_object_set_new(c, field, json_string(out));
    text = json_dumps(c, 0);
    free(out);
    json_decref(c);
    return text;
}

/* TCB Info and QE Identity edited, then signed again by the (simulated) TCB Signing key. */
static void test_identity_fields_after_resigning(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    static const struct {
        const char *field, *from, *to;
        int code;
        const char *msg;
    } cases[] = {
        {"qe_identity", "\"isvprodid\":2", "\"isvprodid\":3", BPT_ESIGNATURE,
         "QE report's ISVPRODID 2 is not the QE Identity's 3"},
        {"qe_identity", "\"miscselect\":\"00000000\"", "\"miscselect\":\"00000001\"",
         BPT_ESIGNATURE, "QE report's MISCSELECT does not match"},
        {"qe_identity", "\"attributes\":\"11", "\"attributes\":\"31", BPT_ESIGNATURE,
         "QE report's ATTRIBUTES do not match"},
        {"qe_identity", "\"id\":\"TD_QE\"", "\"id\":\"QE\"", BPT_EMALFORMED,
         "qeIdentity: id 'QE' (expected TD_QE)"},
        {"qe_identity", "\"version\":2", "\"version\":3", BPT_EMALFORMED,
         "qeIdentity: version 3 (expected 2)"},
        {"tcb_info", "\"attributes\":\"0000000000000000\"", "\"attributes\":\"0100000000000000\"",
         BPT_ESIGNATURE, "SEAM attributes do not match the TDX module identity"},
        {"tcb_info", "\"id\":\"TDX\"", "\"id\":\"SGX\"", BPT_EMALFORMED,
         "tcbInfo: id 'SGX' (expected TDX)"},
        {"tcb_info", "\"version\":3", "\"version\":2", BPT_EMALFORMED,
         "tcbInfo: version 2 (expected 3)"},
        {"tcb_info", "\"tcbType\":0", "\"tcbType\":1", BPT_EMALFORMED, "tcbType 1"},
        {"tcb_info", "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"Fine\"", BPT_EMALFORMED,
         "unknown tcbStatus 'Fine'"},
    };
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = edit(coll, cases[i].field, cases[i].from, cases[i].to), *signed_text;
        signed_text = strdup(text);
        free(text);
        assert_ok(bpt_sim_tdx_resign(&signed_text, f->dir));
        bpt_verify_ctx *ctx = sim_ctx(f, signed_text);
        int rc = bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX);
        if (rc != cases[i].code || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s -> %s: got %d (%s), want '%s'", cases[i].from, cases[i].to, rc,
                     bpt_error_last(), cases[i].msg);
        }
        bpt_verify_ctx_free(ctx);
        free(signed_text);
    }
    /* A root CA CRL that the root did not issue. */
    json_t *c = json_loads(coll, 0, NULL);
    json_object_set(c, "root_ca_crl", json_object_get(c, "pck_crl"));
    char *text = json_dumps(c, 0);
    bpt_verify_ctx *ctx = sim_ctx(f, text);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "root CA CRL: not issued by a trusted root");
    bpt_verify_ctx_free(ctx);
    free(text);
    json_decref(c);
    bpt_free(coll);
    bpt_free(q);
}

static void test_certificates_outside_validity(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = 1500000000}; /* 2017: before the simulated PKI */
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    ctx = sim_ctx_at(f, 1500000000, coll, NULL);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "PCK chain: certificate chain invalid at depth 2 (O = bpt simulator, CN = "
                  "Simulated Intel SGX Root CA): certificate is not yet valid");
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

static void test_collateral_cache(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    bpt_verify_ctx_opts co = BPT_VERIFY_CTX_OPTS_INIT;
    int64_t now = AT; /* the context's clock reads it: time moves under the frozen context */
    bpt_clock clock = bpt_clock_fixed(&now);
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    uint64_t hits = 0, misses = 0;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    co.collateral_cache_entries = 4;
    co.chain_cache_entries = 4;
    ctx = sim_ctx_at(f, AT, coll, &co);
    assert_ok(bpt_verify_ctx_set_clock(ctx, &clock));
    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX));
        bpt_verified_free(v);
    }
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_COLLATERAL, &hits, &misses);
    assert_int_equal(hits + misses, 3);
    assert_int_equal(hits, 2);
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_CHAIN, &hits, &misses);
    assert_int_equal(hits, 2);

    /* A hit still checks the quote: a changed byte is refused. */
    q[48 + 520] ^= 1;
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "quote signature");
    q[48 + 520] ^= 1;

    /* Outside the collateral's window the cache does not answer: the failing check does. */
    now = AT + 40 * DAY;
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "TCB Info: expired");
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_COLLATERAL, &hits, &misses);
    assert_int_equal(hits, 3);
    assert_int_equal(hits + misses, 5);
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

/* A context's collateral is parsed once, when set, and every check of it still runs on each
 * verification (no caches here); collateral that does not parse is verified from its text. */
static void test_prepared_collateral_checked_every_call(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    bpt_verify_ctx_opts co = BPT_VERIFY_CTX_OPTS_INIT;
    int64_t now = AT;
    bpt_clock clock = bpt_clock_fixed(&now);
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL, *broken;
    uint64_t hits = 0, lookups = 0, before;
    json_t *doc;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    co.collateral_cache_entries = 0;
    co.chain_cache_entries = 0;
    ctx = sim_ctx_at(f, AT, coll, &co);
    assert_ok(bpt_verify_ctx_set_clock(ctx, &clock));
    assert_non_null(bpt_verify_ctx_collateral_prepared(ctx, ctx->collateral_json));
    assert_ok(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX));
    bpt_verified_free(v);
    /* the second call parses the quote's PCK chain (3 certificates), none of the collateral's
     * three issuer chains */
    bpt_cert_cache_stats(ctx->cert_cache, &hits, &before);
    assert_ok(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX));
    bpt_verified_free(v);
    bpt_cert_cache_stats(ctx->cert_cache, &hits, &lookups);
    assert_int_equal(lookups - before, 3);
    /* each call checks the collateral at its own time (the faults of
     * test_each_fault_is_refused_by_its_check also take this path: their context has the
     * collateral) */
    now = AT + 40 * DAY;
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "tdx: TCB Info: expired at nextUpdate");
    now = AT;
    assert_ok(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX));
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);

    /* collateral that does not parse: not prepared, refused as before */
    doc = json_loads(coll, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_object_del(doc, "qe_identity"), 0);
    broken = json_dumps(doc, 0);
    json_decref(doc);
    ctx = sim_ctx_at(f, AT, broken, &co);
    assert_null(bpt_verify_ctx_collateral_prepared(ctx, ctx->collateral_json));
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_EMALFORMED,
                  "tdx: collateral: field 'qe_identity' is missing");
    assert_null(v);
    bpt_verify_ctx_free(ctx);
    free(broken);
    bpt_free(coll);
    bpt_free(q);
}

static void test_collateral_cache_revocation_still_checked(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT}, revoked = {.now = AT, .revoke_pck = true};
    bpt_verify_ctx_opts co = BPT_VERIFY_CTX_OPTS_INIT;
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    co.collateral_cache_entries = 4;
    co.chain_cache_entries = 4;
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &revoked));
    ctx = sim_ctx_at(f, AT, coll, &co);
    for (int i = 0; i < 2; i++) { /* cold, then both caches warm */
        assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                      "is revoked");
    }
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

struct worker {
    const uint8_t *q;
    size_t n;
    const bpt_verify_ctx *ctx;
    const bpt_policy *p;
    int failures;
};

static void *verify_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        bpt_verified *v = NULL;
        if (bpt_verify(&v, w->ctx, w->p, w->q, w->n, BPT_PROVIDER_INTEL_TDX) != 0) {
            w->failures++;
        }
        bpt_verified_free(v);
    }
    return NULL;
}

/* Threads sharing one policy and one context with both caches (also run under TSan). */
static void test_concurrent_verification_with_shared_caches(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT, .platform_status = "SWHardeningNeeded"};
    bpt_verify_ctx_opts co = BPT_VERIFY_CTX_OPTS_INIT;
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    struct worker w[4];
    pthread_t t[4];
    bpt_verify_ctx *ctx;
    bpt_verifier *vf = NULL;
    bpt_policy *p;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    co.collateral_cache_entries = 2;
    co.chain_cache_entries = 2;
    ctx = sim_ctx_at(f, AT, coll, &co);
    p = sim_policy("{\"tdx\":{\"accepted_tcb_status\":[\"sw_hardening_needed\"]}}");
    /* Frozen before the threads start, as a context shared by threads is. */
    assert_ok(bpt_verifier_new(&vf, ctx, p));
    assert_true(bpt_verify_ctx_is_frozen(ctx));
    bpt_verifier_free(vf);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){q, n, ctx, p, 0};
        assert_int_equal(pthread_create(&t[i], NULL, verify_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    uint64_t hits = 0, misses = 0;
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_COLLATERAL, &hits, &misses);
    assert_int_equal(hits + misses, 200);
    assert_true(hits >= 196); /* at most one miss per thread before the first put */
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

static void test_offline_without_collateral(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    bpt_verify_ctx *ctx = sim_ctx(f, NULL);
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_EKEYS,
                  "no collateral given, none current in the cache for FMSPC 00906ed50000, and "
                  "the context is offline");
    /* Library messages speak of the context, not of the CLI's flags (issue 12). */
    assert_null(strstr(bpt_error_last(), "--"));
    bpt_verify_ctx_free(ctx);
    bpt_free(q);
}

static void test_malformed_collateral(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_verified *v = NULL;
    static const char *const cases[][2] = {
        {"[]", "not a JSON object"},
        {"{\"root_ca_crl\":\"00\"}", "field 'pck_crl_issuer_chain' is missing"},
    };
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    for (size_t i = 0; i < 2; i++) {
        bpt_verify_ctx *ctx = sim_ctx(f, cases[i][0]);
        assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_EMALFORMED,
                      cases[i][1]);
        bpt_verify_ctx_free(ctx);
    }
    /* A CRL that is not one. */
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    json_t *c = json_loads(coll, 0, NULL);
    json_object_set_new(c, "pck_crl", json_string("3003020100"));
    char *text = json_dumps(c, 0);
    bpt_verify_ctx *ctx = sim_ctx(f, text);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_EMALFORMED,
                  "PCK CRL: not a DER CRL");
    bpt_verify_ctx_free(ctx);
    free(text);
    /* A CRL that is not hex (nor DER or PEM): malformed, not "unsatisfiable" (issue 12). */
    json_object_set_new(c, "pck_crl", json_string("zz-not-hex"));
    text = json_dumps(c, 0);
    ctx = sim_ctx(f, text);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_EMALFORMED,
                  "PCK CRL: not a CRL (neither DER, PEM nor hex of DER)");
    bpt_verify_ctx_free(ctx);
    free(text);
    json_decref(c);
    bpt_free(coll);
    bpt_free(q);
}

static void test_quote_parse_errors(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL, *big;
    size_t n = 0;
    char *coll = NULL;
    bpt_tdx_quote pq = BPT_TDX_QUOTE_INIT;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    assert_ok(bpt_tdx_parse(&pq, q, n));
    assert_int_equal(pq.version, 4);
    assert_int_equal(pq.signed_len, 48 + 584);
    assert_int_equal(pq.qe_auth_len, 32);
    for (size_t cut = 0; cut < n; cut += 97) {
        assert_rc_msg(bpt_tdx_parse(&pq, q, cut), BPT_EMALFORMED, "tdx: quote");
    }
    big = calloc(1, n + 8);
    memcpy(big, q, n);
    assert_ok(bpt_tdx_parse(&pq, big, n + 8)); /* zero padding is tolerated */
    assert_int_equal(pq.trailing_zeros, 8);
    big[n + 3] = 1;
    assert_rc_msg(bpt_tdx_parse(&pq, big, n + 8), BPT_EMALFORMED, "are not zero padding");
    free(big);
    q[0] = 3;
    assert_rc_msg(bpt_tdx_parse(&pq, q, n), BPT_EMALFORMED, "quote version 3");
    q[0] = 4;
    q[2] = 3;
    assert_rc_msg(bpt_tdx_parse(&pq, q, n), BPT_EMALFORMED, "attestation key type 3");
    q[2] = 2;
    q[4] = 0;
    assert_rc_msg(bpt_tdx_parse(&pq, q, n), BPT_EMALFORMED, "this is an SGX quote");
    q[4] = 0x81;
    q[48 + 584 + 4 + 128] = 5; /* certification data type */
    assert_rc_msg(bpt_tdx_parse(&pq, q, n), BPT_EMALFORMED, "certification data type 5");
    q[48 + 584 + 4 + 128] = 6;
    q[12] ^= 1; /* QE vendor id */
    bpt_verify_ctx *ctx = sim_ctx(f, coll);
    bpt_verified *v = NULL;
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "QE vendor id is not Intel's");
    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

/* bpt_tdx_quote is size-prefixed: a size of 0 (a struct not initialised with
 * BPT_TDX_QUOTE_INIT) is refused before anything is read or written; the macro works. */
static void test_quote_struct_size(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    bpt_tdx_quote zero, pq = BPT_TDX_QUOTE_INIT;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    memset(&zero, 0, sizeof(zero));
    assert_rc_msg(bpt_tdx_parse(&zero, q, n), BPT_EINVAL,
                  "bpt_tdx_quote: the struct's size is smaller than its first version");
    assert_int_equal(zero.size, 0);
    assert_int_equal(zero.version, 0); /* nothing was filled in */
    assert_int_equal(zero.signed_len, 0);
    assert_rc_msg(bpt_tdx_parse(NULL, q, n), BPT_EINVAL, "bpt_tdx_quote: NULL");

    assert_int_equal(pq.size, sizeof(bpt_tdx_quote));
    assert_ok(bpt_tdx_parse(&pq, q, n));
    assert_int_equal(pq.size, sizeof(bpt_tdx_quote));
    assert_int_equal(pq.version, 4);
    assert_int_equal(pq.signed_len, 48 + 584);
    bpt_free(q);
}

/*
 * bpt_verify_explain: a refusal says what was known when it came. A quote refused by the policy
 * for its TCB status, or for a register, still reports the status it had reached, with the
 * provider, format and evidence digest (the digest a success reports); bytes that are no
 * evidence carry their digest and nothing else; a success hands back no refusal.
 */
static void test_refusal_says_what_was_known(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.version = 4, .now = AT};
    static const char *const policies[] = {
        "{\"tdx\":{\"accepted_tcb_status\":[\"revoked\"]}}",
        "{\"tdx\":{\"mr_config_id\":\"" /* 48 bytes of 0x11 */
        "111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
        "111111111111\"}}",
    };
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL, *refusal = NULL, digest[65];
    bpt_verified *v = NULL;

    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    bpt_verify_ctx *ctx = sim_ctx(f, coll);

    assert_ok(bpt_verify_explain(&v, &refusal, ctx, NULL, q, n, BPT_PROVIDER_UNKNOWN));
    assert_null(refusal);
    bpt_report_evidence_digest(digest, bpt_verified_report(v));
    bpt_verified_free(v);
    v = NULL;

    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        bpt_policy *p = sim_policy(policies[i]);
        assert_rc_msg(bpt_verify_explain(&v, &refusal, ctx, p, q, n, BPT_PROVIDER_UNKNOWN),
                      BPT_ECLAIM,
                      i == 0 ? "TCB status up_to_date is not accepted" : "MR_CONFIG_ID");
        assert_null(v);
        assert_non_null(refusal);
        json_t *j = json_loads(refusal, 0, NULL);
        assert_non_null(j);
        assert_false(json_boolean_value(json_object_get(j, "verified")));
        assert_string_equal(json_string_value(json_object_get(j, "provider")), "intel_tdx");
        assert_string_equal(json_string_value(json_object_get(j, "format")), "tdx_quote");
        assert_string_equal(json_string_value(json_object_get(j, "evidence_sha256")), digest);
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "tcb"), "status")),
                            "up_to_date");
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "kind")),
                            "claim");
        /* the message is the one bpt_error_last() still holds */
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(j, "error"), "message")),
            bpt_error_last());
        json_decref(j);
        bpt_free(refusal);
        bpt_policy_free(p);
    }

    /* Refused before any TCB was reached (the quote's signature): no "tcb". */
    q[48 + 584 + 4 + 10] ^= 1; /* in the quote's ECDSA signature */
    assert_true(bpt_verify_explain(&v, &refusal, ctx, NULL, q, n, BPT_PROVIDER_UNKNOWN) < 0);
    assert_non_null(refusal);
    assert_null(strstr(refusal, "\"tcb\""));
    assert_non_null(strstr(refusal, "\"format\":\"tdx_quote\""));
    bpt_free(refusal);

    /* Bytes that are no evidence: unknown provider and format, their digest, kind malformed. */
    static const uint8_t junk[] = "not evidence at all";
    assert_rc_msg(
        bpt_verify_explain(&v, &refusal, ctx, NULL, junk, sizeof(junk) - 1, BPT_PROVIDER_UNKNOWN),
        BPT_EMALFORMED, "not a recognised evidence format");
    assert_non_null(strstr(refusal, "\"provider\":\"unknown\",\"verified\":false"));
    assert_non_null(strstr(refusal, "\"kind\":\"malformed\""));
    assert_non_null(strstr(refusal, "\"evidence_sha256\":\""));
    bpt_free(refusal);

    /* A named provider is reported as named; no out pointer for the refusal is EINVAL. */
    assert_rc_msg(
        bpt_verify_explain(&v, &refusal, ctx, NULL, junk, sizeof(junk) - 1, BPT_PROVIDER_AWS_NITRO),
        BPT_EMALFORMED, "not aws_nitro evidence");
    assert_non_null(strstr(refusal, "\"format\":\"nitro_document\""));
    bpt_free(refusal);
    assert_rc_msg(bpt_verify_explain(&v, NULL, ctx, NULL, q, n, BPT_PROVIDER_UNKNOWN), BPT_EINVAL,
                  "no refusal pointer");

    bpt_verify_ctx_free(ctx);
    bpt_free(coll);
    bpt_free(q);
}

/* The CLI: a raw simulated quote verifies with the collateral `bpt sim init` wrote. */
static void test_cli_attest_and_verify(void **state)
{
    struct bpt_sim_fixture *f = *state;
    char quote[4096], roots[4096], coll[4096], *out = NULL;
    snprintf(quote, sizeof(quote), "%s/quote.bin", f->dir);
    snprintf(roots, sizeof(roots), "%s/trust-roots.pem", f->dir);
    snprintf(coll, sizeof(coll), "%s/tdx/collateral.json", f->dir);
    const char *attest[] = {"attest",  "--simulate", "tdx", "--sim-dir", f->dir,
                            "--nonce", "n",          "-o",  quote,       NULL};
    assert_int_equal(bpt_test_run_cli(NULL, attest), 0);
    const char *ok[] = {"verify", "--trust-root", roots, "--collateral",
                        coll,     "--json",       quote, NULL};
    assert_int_equal(bpt_test_run_cli(&out, ok), 0);
    assert_non_null(strstr(out, "\"status\":\"up_to_date\""));
    free(out);
    const char *pinned[] = {"verify", "--collateral", coll, quote, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, pinned), 1);
    const char *offline[] = {"verify", "--trust-root", roots, "--offline", "--json", quote, NULL};
    assert_int_equal(bpt_test_run_cli(&out, offline), 1);
    assert_non_null(strstr(out, "\"kind\":\"keys\""));
    free(out);
    const char *status[] = {"verify",  "--trust-root", roots, "--collateral", coll, "--accept-tcb",
                            "revoked", quote,          NULL};
    assert_int_equal(bpt_test_run_cli(NULL, status), 1);
}

/* ---- issue 13: reserved fields and the root copies ---------------------------------------- */

/* Every reserved region of a v4/v5 quote: header.reserved and the QE report's four. A set
 * bit in any byte of them is refused as malformed, naming the field. */
static void test_reserved_fields(void **state)
{
    struct bpt_sim_fixture *f = *state;
    for (int version = 4; version <= 5; version++) {
        struct bpt_sim_tdx_opts o = {.now = AT, .version = version};
        uint8_t *q = NULL;
        size_t n = 0;
        char *coll = NULL;
        assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
        assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
        bpt_tdx_quote pq = BPT_TDX_QUOTE_INIT;
        assert_ok(bpt_tdx_parse(&pq, q, n));
        /* signature data: size(4), signature(64), attestation key(64), type(2), size(4) */
        size_t qe = pq.signed_len + 4 + 64 + 64 + 2 + 4;
        static const struct {
            const char *field;
            size_t off, len;
            bool in_qe_report;
        } regions[] = {
            {"header.reserved", 8, 4, false},       {"qe_report.reserved1", 20, 12, true},
            {"qe_report.reserved2", 96, 32, true},  {"qe_report.reserved3", 160, 32, true},
            {"qe_report.reserved4", 262, 42, true},
        };
        bpt_verify_ctx *ctx = sim_ctx(f, coll);
        bpt_verified *v = NULL;
        assert_ok(bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX)); /* as built */
        bpt_verified_free(v);
        for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
            size_t base = (regions[i].in_qe_report ? qe : 0) + regions[i].off;
            size_t at[] = {0, regions[i].len / 2, regions[i].len - 1};
            for (size_t k = 0; k < 3; k++) {
                char msg[96];
                q[base + at[k]] ^= 0x80;
                snprintf(msg, sizeof(msg), "reserved field %s (%zu bytes", regions[i].field,
                         regions[i].len);
                int rc = bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX);
                if (rc != BPT_EMALFORMED || strstr(bpt_error_last(), msg) == NULL) {
                    fail_msg("v%d %s byte %zu: got %d '%s'", version, regions[i].field, at[k], rc,
                             bpt_error_last());
                }
                assert_null(v);
                q[base + at[k]] ^= 0x80;
            }
        }
        bpt_verify_ctx_free(ctx);
        bpt_free(coll);
        bpt_free(q);
    }
}

/* The last PEM certificate of @p p (@p n bytes): its start and length through its END line. */
static size_t last_pem(const uint8_t *p, size_t n, size_t *start)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const uint8_t *b = NULL, *e = NULL;
    for (size_t i = 0; i + sizeof(begin) - 1 <= n; i++) {
        if (memcmp(p + i, begin, sizeof(begin) - 1) == 0) {
            b = p + i;
        }
    }
    assert_non_null(b);
    for (size_t i = (size_t)(b - p); i + sizeof(end) - 1 <= n; i++) {
        if (memcmp(p + i, end, sizeof(end) - 1) == 0) {
            e = p + i + sizeof(end) - 1;
            break;
        }
    }
    assert_non_null(e);
    if ((size_t)(e - p) < n && *e == '\n') {
        e++;
    }
    *start = (size_t)(b - p);
    return (size_t)(e - b);
}

/* Change one base64 digit in the signature at the end of the last certificate of @p p: it
 * still parses, its bytes (and its own signature) differ from the root's. */
static void corrupt_last_pem(uint8_t *p, size_t n)
{
    size_t start = 0, len = last_pem(p, n, &start);
    size_t i = start + len - 1;
    while (p[i] == '\n' || p[i] == '-' || (p[i] >= 'A' && p[i] <= 'Z' && p[i - 1] == '-') ||
           p[i] == ' ' || p[i] == 'E' || p[i] == 'N' || p[i] == 'D') {
        i--;
    }
    /* now inside "-----END": step back over the markers' line to the base64 body */
    while (p[i] != '\n') {
        i--;
    }
    i -= 6; /* a few digits before the last line's end, away from '=' padding */
    p[i] = p[i] == 'A' ? 'B' : 'A';
}

/* A collateral issuer chain's root copy changed (@p how 0) or dropped (1), through edit(). */
static char *edit_chain(const char *coll, const char *field, int how)
{
    json_t *c = json_loads(coll, 0, NULL);
    assert_non_null(c);
    const char *pem = json_string_value(json_object_get(c, field));
    assert_non_null(pem);
    size_t start = 0, len = last_pem((const uint8_t *)pem, strlen(pem), &start);
    char *root = strndup(pem + start, len), *changed = strndup(pem + start, len);
    json_decref(c);
    corrupt_last_pem((uint8_t *)changed, len);
    char *text = edit(coll, field, root, how == 0 ? changed : "");
    free(root);
    free(changed);
    return text;
}

/* The root copies carried in the quote's PCK chain and in the collateral's three issuer chains
 * are compared with the trusted root, as Intel's QVL does: a different or missing copy is
 * refused with a message, although the chain itself verifies to the trusted root. */
static void test_root_copies(void **state)
{
    struct bpt_sim_fixture *f = *state;
    struct bpt_sim_tdx_opts o = {.now = AT};
    uint8_t *q = NULL;
    size_t n = 0;
    char *coll = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_tdx_quote(&q, &n, f->dir, &o));
    assert_ok(bpt_sim_tdx_collateral(&coll, f->dir, &o));
    bpt_tdx_quote pq = BPT_TDX_QUOTE_INIT;
    assert_ok(bpt_tdx_parse(&pq, q, n));

    /* 1. the quote's copy changed in one digit of its signature */
    uint8_t *bad = malloc(n);
    assert_non_null(bad);
    memcpy(bad, q, n);
    corrupt_last_pem(bad + pq.pck_chain_off, pq.pck_chain_len);
    bpt_verify_ctx *ctx = sim_ctx(f, coll);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, bad, n, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "tdx: PCK chain: the root CA it carries differs from the trusted root");
    bpt_verify_ctx_free(ctx);

    /* 2. the quote without its copy: the three sizes around the PEM shrink with it */
    size_t start = 0, len = last_pem(q + pq.pck_chain_off, pq.pck_chain_len, &start);
    size_t m = n - len, cut = pq.pck_chain_off + start;
    memcpy(bad, q, cut);
    memcpy(bad + cut, q + cut + len, n - cut - len);
    size_t size_fields[] = {pq.signed_len, pq.signed_len + 4 + 128 + 2, pq.pck_chain_off - 4};
    for (size_t i = 0; i < 3; i++) {
        uint32_t v32 = (uint32_t)bad[size_fields[i]] | (uint32_t)bad[size_fields[i] + 1] << 8 |
                       (uint32_t)bad[size_fields[i] + 2] << 16 |
                       (uint32_t)bad[size_fields[i] + 3] << 24;
        v32 -= (uint32_t)len;
        for (int b = 0; b < 4; b++) {
            bad[size_fields[i] + (size_t)b] = (uint8_t)(v32 >> (8 * b));
        }
    }
    ctx = sim_ctx(f, coll);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, bad, m, BPT_PROVIDER_INTEL_TDX), BPT_ESIGNATURE,
                  "tdx: PCK chain: carries no copy of the root CA (2 of 3 certificates");
    bpt_verify_ctx_free(ctx);
    free(bad);

    /* 3. each collateral issuer chain with a different, then without a, root copy */
    static const char *const chains[][2] = {
        {"tcb_info_issuer_chain", "tdx: TCB Info issuer chain"},
        {"qe_identity_issuer_chain", "tdx: QE Identity issuer chain"},
        {"pck_crl_issuer_chain", "tdx: PCK CRL issuer chain"},
    };
    for (size_t i = 0; i < 3; i++) {
        for (int how = 0; how < 2; how++) {
            char *edited = edit_chain(coll, chains[i][0], how), msg[160];
            snprintf(msg, sizeof(msg), "%s: %s", chains[i][1],
                     how == 0 ? "the root CA it carries differs from the trusted root"
                              : "carries no copy of the root CA");
            ctx = sim_ctx_at(f, AT, NULL, NULL);
            int rc = bpt_verify_ctx_set_collateral_json(ctx, edited, strlen(edited));
            if (rc == 0) {
                rc = bpt_verify(&v, ctx, NULL, q, n, BPT_PROVIDER_INTEL_TDX);
            }
            if (rc != BPT_ESIGNATURE || strstr(bpt_error_last(), msg) == NULL) {
                fail_msg("%s %s: got %d '%s'", chains[i][0], how ? "dropped" : "changed", rc,
                         bpt_error_last());
            }
            assert_null(v);
            bpt_verify_ctx_free(ctx);
            free(edited);
        }
    }
    bpt_free(coll);
    bpt_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_v4_v5),
        cmocka_unit_test(test_pinned_root_refuses_simulated_quote),
        cmocka_unit_test(test_module_major_version_zero),
        cmocka_unit_test(test_pck_chain_of_another_length),
        cmocka_unit_test(test_each_fault_is_refused_by_its_check),
        cmocka_unit_test(test_each_expected_register),
        cmocka_unit_test(test_debug_accepted_when_allowed),
        cmocka_unit_test(test_accepted_statuses_and_advisories),
        cmocka_unit_test(test_tampering_after_signing),
        cmocka_unit_test(test_identity_fields_after_resigning),
        cmocka_unit_test(test_certificates_outside_validity),
        cmocka_unit_test(test_collateral_cache),
        cmocka_unit_test(test_collateral_cache_revocation_still_checked),
        cmocka_unit_test(test_prepared_collateral_checked_every_call),
        cmocka_unit_test(test_concurrent_verification_with_shared_caches),
        cmocka_unit_test(test_offline_without_collateral),
        cmocka_unit_test(test_refusal_says_what_was_known),
        cmocka_unit_test(test_malformed_collateral),
        cmocka_unit_test(test_quote_parse_errors),
        cmocka_unit_test(test_quote_struct_size),
        cmocka_unit_test(test_cli_attest_and_verify),
        cmocka_unit_test(test_reserved_fields),
        cmocka_unit_test(test_root_copies),
    };
    return cmocka_run_group_tests(tests, bpt_sim_fixture_setup, bpt_sim_fixture_teardown);
}
