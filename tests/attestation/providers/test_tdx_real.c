/*
 * TDX verification of the public quotes in ../shared/testdata/tdx with their collateral at the
 * manifest's verify_at and the pinned Intel SGX Root CA; the SGX quote must be refused cleanly.
 */
#include "helpers/test.h"

#include <jansson.h>

#define V4_AT 1750464000 /* 2025-06-21 */
#define V5_AT 1771545600 /* 2026-02-20 */

struct sample {
    uint8_t *quote, *coll, *v5, *v5_coll, *sgx, *sgx_coll;
    size_t quote_len, coll_len, v5_len, v5_coll_len, sgx_len, sgx_coll_len;
};

static int load(void **state)
{
    struct sample *s = calloc(1, sizeof(*s));
    s->quote = bpt_test_data_read("tdx/phala-v4-uptodate/quote.bin", &s->quote_len);
    s->coll = bpt_test_data_read("tdx/phala-v4-uptodate/collateral.json", &s->coll_len);
    s->v5 = bpt_test_data_read("tdx/phala-v5-tcb-not-supported/quote.bin", &s->v5_len);
    s->v5_coll =
        bpt_test_data_read("tdx/phala-v5-tcb-not-supported/collateral.json", &s->v5_coll_len);
    s->sgx = bpt_test_data_read("sgx/phala-v3/quote.bin", &s->sgx_len);
    s->sgx_coll = bpt_test_data_read("sgx/phala-v3/collateral.json", &s->sgx_coll_len);
    *state = s;
    return 0;
}

static int unload(void **state)
{
    struct sample *s = *state;
    free(s->quote);
    free(s->coll);
    free(s->v5);
    free(s->v5_coll);
    free(s->sgx);
    free(s->sgx_coll);
    free(s);
    return 0;
}

/* An offline context at @p at with the pinned roots and @p coll as collateral (may be NULL). */
static bpt_verify_ctx *ctx_at(int64_t at, const uint8_t *coll, size_t len)
{
    bpt_verify_ctx *c = NULL;
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_ok(bpt_verify_ctx_set_at(c, at));
    if (coll) {
        assert_ok(bpt_verify_ctx_set_collateral_json(c, (const char *)coll, len));
    }
    assert_ok(bpt_verify_ctx_set_offline(c, true));
    return c;
}

static void test_v4_up_to_date_with_manifest_values(void **state)
{
    struct sample *s = *state;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    char *text = NULL;
    if (!s->quote || !s->coll) {
        skip();
    }
    ctx = ctx_at(V4_AT, s->coll, s->coll_len);
    assert_ok(bpt_verify(&v, ctx, NULL, s->quote, s->quote_len, BPT_PROVIDER_UNKNOWN));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_INTEL_TDX);
    const bpt_report *r = bpt_verified_report(v);
    assert_string_equal(bpt_report_measurement(r)->digest,
                        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407"
                        "de03ae6dc5f87f27428b2538873118b7");
    assert_false(bpt_claims_debug_mode(bpt_report_claims(r)));
    assert_string_equal(bpt_claims_boot_measurement(bpt_report_claims(r), 0),
                        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c"
                        "48aca29b220b80b6a540cf994b9bc9c0");
    size_t n = 0;
    const uint8_t *rd = bpt_verified_report_data(v, &n);
    assert_int_equal(n, 64);
    assert_int_equal(rd[0], 0x9a);
    assert_int_equal(rd[63], 0x20);
    assert_ok(bpt_verified_to_json(&text, v));
    json_t *o = json_loads(text, 0, NULL), *tcb = json_object_get(o, "tcb");
    assert_string_equal(json_string_value(json_object_get(tcb, "status")), "up_to_date");
    assert_string_equal(json_string_value(json_object_get(tcb, "module_identity")), "TDX_01");
    assert_string_equal(json_string_value(json_object_get(tcb, "fmspc")), "b0c06f000000");
    assert_string_equal(json_string_value(json_object_get(tcb, "tcb_date")),
                        "2024-03-13T00:00:00Z");
    assert_int_equal(json_array_size(json_object_get(tcb, "advisory_ids")), 0);
    assert_int_equal(json_integer_value(json_object_get(tcb, "tcb_evaluation_data_number")), 17);
    json_decref(o);
    bpt_free(text);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
}

static void test_v5_no_tcb_level_matches(void **state)
{
    struct sample *s = *state;
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    bpt_verify_ctx *ctx;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    if (!s->v5 || !s->v5_coll) {
        skip();
    }
    assert_ok(bpt_tdx_parse(&q, s->v5, s->v5_len));
    assert_int_equal(q.version, 5);
    assert_int_equal(q.body_type, 3);
    assert_int_equal(q.signed_len, 702);
    assert_int_equal(q.body.tee_tcb_svn2[0], 0x0d);
    assert_int_equal(q.qe_report.isv_svn, 7);
    ctx = ctx_at(V5_AT, s->v5_coll, s->v5_coll_len);
    assert_ok(bpt_policy_new(&p));
    assert_rc_msg(bpt_verify(&v, ctx, p, s->v5, s->v5_len, BPT_PROVIDER_INTEL_TDX), BPT_ECLAIM,
                  "tdx: TCB level not supported: no TCB level of TCB Info matches");
    assert_null(v);
    /* Accepting every status changes nothing: no level matched at all. */
    assert_ok(bpt_policy_set_tdx_accepted_tcb(p, (1u << BPT_TCB_STATUS_COUNT) - 1));
    assert_rc_msg(bpt_verify(&v, ctx, p, s->v5, s->v5_len, BPT_PROVIDER_INTEL_TDX), BPT_ECLAIM,
                  "TCB level not supported");
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
}

static void test_v4_parse_fields(void **state)
{
    struct sample *s = *state;
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    if (!s->quote) {
        skip();
    }
    assert_ok(bpt_tdx_parse(&q, s->quote, s->quote_len));
    assert_int_equal(q.version, 4);
    assert_int_equal(q.att_key_type, 2);
    assert_int_equal(q.tee_type, 0x81);
    assert_int_equal(q.signed_len, 632);
    assert_int_equal(q.trailing_zeros, 70);
    assert_int_equal(q.body.tee_tcb_svn[0], 6);
    assert_int_equal(q.body.tee_tcb_svn[1], 1);
    assert_int_equal(q.body.xfam, 0x00000000000602e7ull);
    assert_int_equal(q.body.td_attributes, 0x0000000010000000ull);
    assert_int_equal(q.qe_report.isv_prod_id, 2);
    assert_int_equal(q.qe_report.isv_svn, 6);
    assert_int_equal(q.qe_auth_len, 32);
    assert_int_equal(q.qe_report.mr_signer[0], 0xdc);
}

static void test_sgx_quote_is_refused_cleanly(void **state)
{
    struct sample *s = *state;
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    bpt_verify_ctx *ctx;
    bpt_verified *v = NULL;
    if (!s->sgx || !s->sgx_coll) {
        skip();
    }
    assert_rc_msg(bpt_tdx_parse(&q, s->sgx, s->sgx_len), BPT_EMALFORMED, "SGX");
    ctx = ctx_at(V4_AT, s->sgx_coll, s->sgx_coll_len);
    assert_rc_msg(bpt_tdx_verify(&v, ctx, NULL, s->sgx, s->sgx_len), BPT_EMALFORMED, "SGX");
    assert_int_equal(bpt_verify(&v, ctx, NULL, s->sgx, s->sgx_len, BPT_PROVIDER_UNKNOWN),
                     BPT_EUNSATISFIABLE);
    assert_null(v);
    bpt_verify_ctx_free(ctx);
}

/* The real collateral's own windows: before issue and after nextUpdate are refused. */
static void test_real_collateral_dates(void **state)
{
    struct sample *s = *state;
    bpt_verified *v = NULL;
    if (!s->quote || !s->coll) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(1750300000, s->coll, s->coll_len);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, s->quote, s->quote_len, BPT_PROVIDER_INTEL_TDX),
                  BPT_ESIGNATURE, "tdx: TCB Info: issued 2025-06-19T10:16:03Z");
    bpt_verify_ctx_free(ctx);
    ctx = ctx_at(1752920164, s->coll, s->coll_len); /* a second after TCB Info's nextUpdate */
    assert_rc_msg(bpt_verify(&v, ctx, NULL, s->quote, s->quote_len, BPT_PROVIDER_INTEL_TDX),
                  BPT_ESIGNATURE, "tdx: TCB Info: expired at nextUpdate 2025-07-19T10:16:03Z");
    bpt_verify_ctx_free(ctx);
}

static void test_real_tampering(void **state)
{
    struct sample *s = *state;
    bpt_verified *v = NULL;
    uint8_t *q;
    if (!s->quote || !s->coll) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(V4_AT, s->coll, s->coll_len);
    q = malloc(s->quote_len);
    memcpy(q, s->quote, s->quote_len);
    q[48 + 136] ^= 1; /* MRTD */
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, s->quote_len, BPT_PROVIDER_INTEL_TDX),
                  BPT_ESIGNATURE, "tdx: quote signature does not verify");
    memcpy(q, s->quote, s->quote_len);
    q[632 + 4 + 128 + 6 + 32] ^= 1; /* QE report: isv_ext_prod_id */
    assert_rc_msg(bpt_verify(&v, ctx, NULL, q, s->quote_len, BPT_PROVIDER_INTEL_TDX),
                  BPT_ESIGNATURE, "tdx: QE report signature does not verify");
    free(q);
    bpt_verify_ctx_free(ctx);
}

/* The v5 platform's collateral does not describe the v4 platform. */
static void test_collateral_of_another_platform(void **state)
{
    struct sample *s = *state;
    bpt_verified *v = NULL;
    if (!s->quote || !s->v5_coll) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(V5_AT, s->v5_coll, s->v5_coll_len);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, s->quote, s->quote_len, BPT_PROVIDER_INTEL_TDX),
                  BPT_ESIGNATURE,
                  "TCB Info is for FMSPC 90c06f000000, the PCK certificate's is b0c06f000000");
    bpt_verify_ctx_free(ctx);
}

static void test_offline_without_collateral_fails_closed(void **state)
{
    struct sample *s = *state;
    bpt_verified *v = NULL;
    if (!s->quote) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(V4_AT, NULL, 0);
    assert_rc_msg(bpt_verify(&v, ctx, NULL, s->quote, s->quote_len, BPT_PROVIDER_INTEL_TDX),
                  BPT_EKEYS, "FMSPC b0c06f000000");
    bpt_verify_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_up_to_date_with_manifest_values),
        cmocka_unit_test(test_v5_no_tcb_level_matches),
        cmocka_unit_test(test_v4_parse_fields),
        cmocka_unit_test(test_sgx_quote_is_refused_cleanly),
        cmocka_unit_test(test_real_collateral_dates),
        cmocka_unit_test(test_real_tampering),
        cmocka_unit_test(test_collateral_of_another_platform),
        cmocka_unit_test(test_offline_without_collateral_fails_closed),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
