/*
 * Verifier plugins (sys/verifier.h) through verification contexts: a plugin with a provider of
 * its own verifies its evidence and its report JSON round-trips; refusals, made-up codes and
 * broken contracts; provider enforcement; priority against a built-in; the registration rules;
 * the result setters.
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/sev_snp.h"

#include <blueprint-tee/sys/verifier.h>

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>

#define AT 1750000000 /* 2025-06-15: inside the simulated certificates' validity */
#define ACME_RD 0x5a
#define TAKEOVER_RD 0xa5

/* What the plugins record: calls, and what the result setters answered (one thread here). */
struct plugin_state {
    atomic_int calls;
    int rd_rc, tcb_rc, warn_rc, warnings_ok;
    char rd_msg[512], tcb_msg[512], warn_msg[512];
};

static bool accepts_acme(const bpt_evidence *ev, void *state)
{
    size_t len = 0;
    const uint8_t *p = bpt_evidence_bytes(ev, &len);
    (void)state;
    return len >= 4 && memcmp(p, "ACME", 4) == 0;
}

/* The setters past their limits, each answer recorded; the result keeps what was accepted. */
static int try_the_setters(bpt_verify_result *res, struct plugin_state *st)
{
    uint8_t big[BPT_VERIFIED_REPORT_DATA_MAX + 1];
    char text[32];
    memset(big, 1, sizeof(big));
    st->rd_rc = bpt_verify_result_set_report_data(res, big, sizeof(big));
    snprintf(st->rd_msg, sizeof(st->rd_msg), "%s", bpt_error_last());
    st->tcb_rc = bpt_verify_result_set_tcb_json(res, "[1,2]");
    snprintf(st->tcb_msg, sizeof(st->tcb_msg), "%s", bpt_error_last());
    for (int i = 0; i < 33; i++) {
        snprintf(text, sizeof(text), "warning %d", i);
        st->warn_rc = bpt_verify_result_add_warning(res, text);
        if (st->warn_rc < 0) {
            snprintf(st->warn_msg, sizeof(st->warn_msg), "%s", bpt_error_last());
            break;
        }
        st->warnings_ok++;
    }
    return 0;
}

/*
 * The acme.tee verifier. Its evidence is "ACME" and a verdict letter: none verifies; '!'
 * refuses (ECLAIM); '+' and '-' fail with made-up codes; '0' succeeds without a report, '1'
 * with a report of a built-in provider, '2' with a report of another custom provider, '3'
 * returns a positive code after setting a good report; 'g' tries the setters past their limits.
 */
static int verify_acme(bpt_verify_result *res, const bpt_evidence *ev, const bpt_verify_ctx *ctx,
                       const bpt_policy *policy, void *state)
{
    struct plugin_state *st = state;
    size_t len = 0;
    const uint8_t *p = bpt_evidence_bytes(ev, &len);
    char verdict = len > 4 ? (char)p[4] : '\0';
    bpt_report *r = NULL;
    uint8_t rd[64];
    int rc;
    (void)ctx;
    (void)policy;

    atomic_fetch_add(&st->calls, 1);
    switch (verdict) {
    case '!':
        return bpt_error_set(BPT_ECLAIM, "firmware 2 < policy minimum 3");
    case '+':
        return bpt_error_set(42, "a positive code");
    case '-':
        return bpt_error_set(-99, "a code below the range");
    case '~':
        bpt_error_set(BPT_ECLAIM, "a raw code below the range");
        return -99;
    case '0':
        return 0;
    case '1':
        rc = bpt_report_new(&r, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT);
        break;
    case '2':
        rc = bpt_report_new_custom(&r, "other.tee", "other.quote");
        break;
    default:
        rc = bpt_report_new_custom(&r, "acme.tee", "acme.quote");
    }
    if (rc < 0) {
        return rc;
    }
    memset(rd, ACME_RD, sizeof(rd));
    if ((rc = bpt_verify_result_set_report(res, r)) < 0) {
        bpt_report_free(r);
        return rc;
    }
    if ((rc = bpt_verify_result_set_report_data(res, rd, sizeof(rd))) < 0 ||
        (rc = bpt_verify_result_set_tcb_json(res, "{\"svn\":3}")) < 0 ||
        (rc = bpt_verify_result_add_warning(res, "acme firmware 2 is old")) < 0) {
        return rc;
    }
    if (verdict == 'g') {
        return try_the_setters(res, st);
    }
    return verdict == '3' ? 7 : 0;
}

static bpt_verifier_vtable acme_vtable(struct plugin_state *st)
{
    bpt_verifier_vtable vt = {BPT_VERIFIER_API_VERSION,
                              "acme.tee",
                              BPT_PROVIDER_CUSTOM,
                              "acme.tee",
                              BPT_EVIDENCE_UNKNOWN,
                              BPT_VERIFICATION_STRUCTURAL,
                              10,
                              accepts_acme,
                              verify_acme,
                              st};
    return vt;
}

/* A context (no caches needed) with the acme.tee plugin. */
static bpt_verify_ctx *acme_ctx(struct plugin_state *st)
{
    bpt_verify_ctx *c = NULL;
    bpt_verifier_vtable vt = acme_vtable(st);
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verify_ctx_set_at(c, AT));
    assert_ok(bpt_verify_ctx_add_verifier(c, &vt));
    return c;
}

static int verify_text(bpt_verified **out, const bpt_verify_ctx *c, const char *ev,
                       bpt_provider prov)
{
    int rc = bpt_verify(out, c, NULL, (const uint8_t *)ev, strlen(ev), prov);
    if (rc == 0) {
        assert_non_null(*out);
    } else {
        assert_null(*out);
    }
    return rc;
}

static void assert_acme_verified(const bpt_verified *v)
{
    size_t n = 0;
    const uint8_t *rd;
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_CUSTOM);
    assert_string_equal(bpt_report_provider_name(bpt_verified_report(v)), "acme.tee");
    assert_string_equal(bpt_report_format_name(bpt_verified_report(v)), "acme.quote");
    assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_STRUCTURAL);
    assert_int_equal(bpt_verified_at(v), AT);
    rd = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_non_null(rd);
    assert_int_equal(rd[0], ACME_RD);
    assert_int_equal(rd[63], ACME_RD);
}

/* (a) a plugin with a provider of its own, and its report JSON round-trip */
static void test_plugin_verifies_its_evidence(void **state)
{
    struct plugin_state st = {0};
    bpt_verify_ctx *c = acme_ctx(&st);
    bpt_verified *v = NULL, *again = NULL;
    bpt_report *parsed = NULL;
    char *json = NULL;
    size_t n = 0;
    const uint8_t *ev;
    (void)state;

    assert_ok(verify_text(&v, c, "ACME", BPT_PROVIDER_UNKNOWN));
    assert_int_equal(atomic_load(&st.calls), 1);
    assert_acme_verified(v);
    /* The library kept the evidence the plugin left empty. */
    ev = bpt_report_evidence(bpt_verified_report(v), &n);
    assert_int_equal(n, 4);
    assert_memory_equal(ev, "ACME", 4);

    /* The report JSON names the custom provider, and verifying it dispatches by that name. */
    assert_ok(bpt_report_to_json(&json, bpt_verified_report(v)));
    assert_non_null(strstr(json, "\"acme.tee\""));
    assert_ok(verify_text(&again, c, json, BPT_PROVIDER_UNKNOWN));
    assert_int_equal(atomic_load(&st.calls), 2);
    assert_acme_verified(again);
    bpt_verified_free(again);
    again = NULL;
    assert_ok(verify_text(&again, c, json, BPT_PROVIDER_CUSTOM));
    assert_int_equal(atomic_load(&st.calls), 3);
    assert_acme_verified(again);
    bpt_verified_free(again);
    again = NULL;
    assert_ok(bpt_report_from_json(&parsed, json, strlen(json)));
    assert_int_equal(bpt_report_provider(parsed), BPT_PROVIDER_CUSTOM);
    assert_ok(bpt_verify_report(&again, c, NULL, parsed));
    assert_int_equal(atomic_load(&st.calls), 4);
    assert_acme_verified(again);

    bpt_verified_free(again);
    bpt_report_free(parsed);
    bpt_free(json);
    bpt_verified_free(v);
    bpt_verify_ctx_free(c);
}

/* (b) refusals and made-up codes */
static void test_plugin_refusals_and_codes(void **state)
{
    struct plugin_state st = {0};
    bpt_verify_ctx *c = acme_ctx(&st);
    bpt_verified *v = NULL;
    (void)state;

    /* A refusal comes back with its kind, the plugin's name and its message. */
    assert_rc_msg(verify_text(&v, c, "ACME!", BPT_PROVIDER_UNKNOWN), BPT_ECLAIM,
                  "acme.tee: firmware 2 < policy minimum 3");
    /* Codes outside the defined range fail closed, as BPT_ERROR. */
    assert_int_equal(bpt_error_set(42, "x"), BPT_ERROR);
    assert_int_equal(bpt_error_set(BPT_ERROR_CODE_MIN - 1, "x"), BPT_ERROR);
    assert_int_equal(bpt_error_set(BPT_ECLAIM, "x"), BPT_ECLAIM);
    assert_rc_msg(verify_text(&v, c, "ACME+", BPT_PROVIDER_UNKNOWN), BPT_ERROR,
                  "acme.tee: a positive code");
    assert_rc_msg(verify_text(&v, c, "ACME-", BPT_PROVIDER_UNKNOWN), BPT_ERROR,
                  "acme.tee: a code below the range");
    assert_rc_msg(verify_text(&v, c, "ACME~", BPT_PROVIDER_UNKNOWN), BPT_ERROR,
                  "acme.tee: a raw code below the range");
    assert_int_equal(atomic_load(&st.calls), 4);
    bpt_verify_ctx_free(c);
}

/* (b) a made-up positive code is not success, even with a good report set: BPT_ERROR */
static void test_plugin_positive_return_fails_closed(void **state)
{
    struct plugin_state st = {0};
    bpt_verify_ctx *c = acme_ctx(&st);
    bpt_verified *v = NULL;
    (void)state;

    assert_rc_msg(verify_text(&v, c, "ACME3", BPT_PROVIDER_UNKNOWN), BPT_ERROR, "acme.tee");
    assert_int_equal(atomic_load(&st.calls), 1);
    bpt_verified_free(v);
    bpt_verify_ctx_free(c);
}

/* (c) a plugin that "succeeds" without keeping the contract */
static void test_plugin_contract(void **state)
{
    static const char *const cases[][2] = {
        {"ACME0", "no report"},
        {"ACME1", "aws_nitro"},
        {"ACME2", "other.tee"},
    };
    struct plugin_state st = {0};
    bpt_verify_ctx *c = acme_ctx(&st);
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_verified *v = NULL;
        int rc = verify_text(&v, c, cases[i][0], BPT_PROVIDER_UNKNOWN);
        if (rc != BPT_ERROR || !strstr(bpt_error_last(), "broke its contract") ||
            !strstr(bpt_error_last(), "acme.tee") || !strstr(bpt_error_last(), cases[i][1])) {
            fail_msg("%s: got %d (%s), want BPT_ERROR 'broke its contract' with '%s'", cases[i][0],
                     rc, bpt_error_last(), cases[i][1]);
        }
    }
    assert_int_equal(atomic_load(&st.calls), 3);
    bpt_verify_ctx_free(c);
}

/* (d) provider enforcement and evidence nobody takes */
static void test_named_provider_never_asks_the_plugin(void **state)
{
    struct plugin_state st = {0};
    bpt_verify_ctx *c = acme_ctx(&st);
    bpt_verified *v = NULL;
    (void)state;

    assert_rc_msg(verify_text(&v, c, "ACME", BPT_PROVIDER_INTEL_TDX), BPT_EMALFORMED,
                  "not intel_tdx evidence");
    assert_rc_msg(verify_text(&v, c, "ACME", BPT_PROVIDER_AMD_SEV_SNP), BPT_EMALFORMED,
                  "not amd_sev_snp evidence");
    assert_int_equal(atomic_load(&st.calls), 0);
    assert_rc_msg(verify_text(&v, c, "XXXX", BPT_PROVIDER_UNKNOWN), BPT_EMALFORMED,
                  "not a recognised evidence format");
    assert_int_equal(atomic_load(&st.calls), 0);
    bpt_verify_ctx_free(c);
}

/* (e) a plugin for a built-in kind: the higher priority wins, the first registered on a tie */
static bool accepts_snp(const bpt_evidence *ev, void *state)
{
    (void)state;
    return bpt_evidence_get_kind(ev) == BPT_EVIDENCE_SEV_SNP_REPORT;
}

static int verify_takeover(bpt_verify_result *res, const bpt_evidence *ev,
                           const bpt_verify_ctx *ctx, const bpt_policy *policy, void *state)
{
    struct plugin_state *st = state;
    bpt_report *r = NULL;
    uint8_t rd[64];
    int rc;
    (void)ev;
    (void)ctx;
    (void)policy;
    atomic_fetch_add(&st->calls, 1);
    memset(rd, TAKEOVER_RD, sizeof(rd));
    if ((rc = bpt_report_new(&r, BPT_PROVIDER_AMD_SEV_SNP, BPT_FORMAT_SEV_SNP_REPORT)) < 0) {
        return rc;
    }
    if ((rc = bpt_verify_result_set_report(res, r)) < 0) {
        bpt_report_free(r);
        return rc;
    }
    return bpt_verify_result_set_report_data(res, rd, sizeof(rd));
}

static void test_priority_against_a_builtin(void **state)
{
    struct bpt_sim_fixture fx;
    struct plugin_state st = {0};
    bpt_verifier_vtable vt = {BPT_VERIFIER_API_VERSION,
                              "acme.snp",
                              BPT_PROVIDER_AMD_SEV_SNP,
                              NULL,
                              BPT_EVIDENCE_SEV_SNP_REPORT,
                              BPT_VERIFICATION_STRUCTURAL,
                              1,
                              accepts_snp,
                              verify_takeover,
                              &st};
    uint8_t rd_in[64], *ev = NULL;
    char *certs = NULL;
    size_t ev_len = 0;
    (void)state;

    for (int i = 0; i < 64; i++) {
        rd_in[i] = (uint8_t)i;
    }
    assert_int_equal(bpt_sim_fixture_init(&fx), 0);
    assert_ok(bpt_sim_sev_snp_attest(&ev, &ev_len, fx.dir, rd_in));
    assert_ok(bpt_sim_sev_snp_certs_pem(&certs, fx.dir));
    for (int round = 0; round < 4; round++) {
        /* rounds 0, 1: priority 1 (auto, named); rounds 2, 3: priority 0 (auto, named) */
        bool plugin_wins = round < 2;
        bpt_provider prov = round % 2 ? BPT_PROVIDER_AMD_SEV_SNP : BPT_PROVIDER_UNKNOWN;
        bpt_verify_ctx *c = bpt_sim_fixture_ctx(&fx, AT, NULL);
        bpt_verified *v = NULL;
        const uint8_t *rd;
        size_t n = 0;
        int before = atomic_load(&st.calls);

        assert_non_null(c);
        assert_ok(bpt_verify_ctx_add_certs(c, (const uint8_t *)certs, strlen(certs)));
        vt.priority = plugin_wins ? 1 : 0;
        assert_ok(bpt_verify_ctx_add_verifier(c, &vt));
        assert_ok(bpt_verify(&v, c, NULL, ev, ev_len, prov));
        rd = bpt_verified_report_data(v, &n);
        assert_int_equal(n, 64);
        assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AMD_SEV_SNP);
        if (plugin_wins) {
            assert_int_equal(atomic_load(&st.calls), before + 1);
            assert_int_equal(rd[0], TAKEOVER_RD);
            assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_STRUCTURAL);
        } else {
            assert_int_equal(atomic_load(&st.calls), before);
            assert_memory_equal(rd, rd_in, 64);
            assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_CRYPTOGRAPHIC);
        }
        bpt_verified_free(v);
        bpt_verify_ctx_free(c);
    }
    bpt_free(certs);
    bpt_free(ev);
    bpt_sim_fixture_dispose(&fx);
}

/* (f) registration rules */
static void test_registration_rules(void **state)
{
    static char names[33][16];
    struct plugin_state st = {0};
    bpt_verifier_vtable vt = acme_vtable(&st), bad;
    bpt_verify_ctx *c = NULL;
    bpt_verifier *vf = NULL;
    bpt_verified *v = NULL;
    char want[64];
    (void)state;

    assert_ok(bpt_verify_ctx_new(&c, NULL));
    bad = vt;
    bad.api_version = BPT_VERIFIER_API_VERSION + 1;
    snprintf(want, sizeof(want), "interface version %d", BPT_VERIFIER_API_VERSION + 1);
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_ENOTSUP, want);
    bad.api_version = 1;
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_ENOTSUP, "rebuild");
    bad = vt;
    bad.verify = NULL;
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "verify()");
    bad = vt;
    bad.accepts = NULL;
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "accepts()");
    bad = vt;
    bad.provider_name = "acme";
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "<vendor>.<name>");
    bad.provider_name = "Acme.TEE";
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "<vendor>.<name>");
    bad.provider_name = NULL;
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "<vendor>.<name>");
    bad = vt;
    bad.provider = BPT_PROVIDER_UNKNOWN;
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "no known provider");
    bad.provider = (bpt_provider)BPT_PROVIDER_COUNT;
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EINVAL, "no known provider");
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, NULL), BPT_EINVAL, "vtable");
    assert_rc_msg(bpt_verify_ctx_add_verifier(NULL, &vt), BPT_EINVAL, "NULL context");
    assert_ok(bpt_verify_ctx_add_verifier(c, &vt));
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &vt), BPT_EINVAL, "already registered");
    bpt_verify_ctx_free(c);

    /* 32 plugins, and no more. */
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    for (int i = 0; i < 33; i++) {
        snprintf(names[i], sizeof(names[i]), "acme.%d", i);
        bad = vt;
        bad.name = names[i];
        if (i < 32) {
            assert_ok(bpt_verify_ctx_add_verifier(c, &bad));
        } else {
            assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_ELIMIT, "32 plugins");
        }
    }
    bpt_verify_ctx_free(c);

    /* A frozen context takes no verifier: after a verification, and after a verifier. */
    c = acme_ctx(&st);
    assert_false(bpt_verify_ctx_is_frozen(c));
    assert_ok(verify_text(&v, c, "ACME", BPT_PROVIDER_UNKNOWN));
    bpt_verified_free(v);
    assert_true(bpt_verify_ctx_is_frozen(c));
    bad = vt;
    bad.name = "acme.late";
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &bad), BPT_EBUSY, "in use");
    bpt_verify_ctx_free(c);
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verifier_new(&vf, c, NULL));
    assert_rc_msg(bpt_verify_ctx_add_verifier(c, &vt), BPT_EBUSY, "in use");
    bpt_verifier_free(vf);
    bpt_verify_ctx_free(c);
}

/* (g) the result setters, and what reaches the result JSON */
static void test_result_setters(void **state)
{
    struct plugin_state st = {0};
    bpt_verify_ctx *c = acme_ctx(&st);
    bpt_verified *v = NULL;
    char *out = NULL;
    json_t *j, *w;
    (void)state;

    assert_ok(verify_text(&v, c, "ACMEg", BPT_PROVIDER_UNKNOWN));
    assert_int_equal(st.rd_rc, BPT_EINVAL);
    assert_non_null(strstr(st.rd_msg, "513 bytes (at most 512)"));
    assert_int_equal(st.tcb_rc, BPT_EMALFORMED);
    assert_non_null(strstr(st.tcb_msg, "object"));
    assert_int_equal(st.warn_rc, BPT_ELIMIT);
    assert_non_null(strstr(st.warn_msg, "32 warnings"));
    assert_int_equal(st.warnings_ok, 31); /* one was added before: 32 in all */
    /* What was refused did not replace what was accepted. */
    assert_acme_verified(v);

    assert_ok(bpt_verified_to_json(&out, v));
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "verified")));
    assert_string_equal(json_string_value(json_object_get(j, "provider")), "acme.tee");
    assert_string_equal(json_string_value(json_object_get(j, "verification_level")), "structural");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "tcb"), "svn")), 3);
    w = json_object_get(j, "warnings");
    assert_int_equal(json_array_size(w), 32);
    assert_string_equal(json_string_value(json_array_get(w, 0)), "acme firmware 2 is old");
    assert_string_equal(json_string_value(json_array_get(w, 31)), "warning 30");
    json_decref(j);
    bpt_free(out);
    bpt_verified_free(v);
    bpt_verify_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_verifies_its_evidence),
        cmocka_unit_test(test_plugin_refusals_and_codes),
        cmocka_unit_test(test_plugin_positive_return_fails_closed),
        cmocka_unit_test(test_plugin_contract),
        cmocka_unit_test(test_named_provider_never_asks_the_plugin),
        cmocka_unit_test(test_priority_against_a_builtin),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_result_setters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
