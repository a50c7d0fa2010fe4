/*
 * SEV-SNP verification of the public reports in ../shared/testdata/sev-snp at the manifest's
 * verify_at with the pinned AMD roots, and the refusals the issue lists for them.
 *
 * The test data has no AMD CRL (and one fetched today is not valid in 2022-2023), so these
 * contexts turn revocation checking off: the documented opt-out, whose result carries a
 * warning. test_revocation_is_on_by_default shows what happens without it.
 */
#include "helpers/test.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define VIRTEE_AT 1680652800
#define GOSEV_AT 1664150400

struct sample {
    uint8_t *report;
    size_t report_len;
    uint8_t *vcek;
    size_t vcek_len;
    uint8_t *other_vcek;
    size_t other_len;
};

static int load(void **state)
{
    struct sample *s = calloc(1, sizeof(*s));
    s->report = bpt_test_data_read("sev-snp/milan-virtee/report.bin", &s->report_len);
    s->vcek = bpt_test_data_read("sev-snp/milan-virtee/vcek.der", &s->vcek_len);
    s->other_vcek = bpt_test_data_read("sev-snp/milan-go-sev-guest/vcek.der", &s->other_len);
    *state = s;
    return 0;
}

static int unload(void **state)
{
    struct sample *s = *state;
    free(s->report);
    free(s->vcek);
    free(s->other_vcek);
    free(s);
    return 0;
}

/* A context with the pinned roots at @p at, with @p vcek when not NULL, and no caches. */
static bpt_verify_ctx *ctx_at(int64_t at, const uint8_t *vcek, size_t vcek_len)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *ctx = NULL;
    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    o.jwks_cache = false;
    assert_ok(bpt_verify_ctx_new(&ctx, &o));
    assert_ok(bpt_verify_ctx_set_at(ctx, at));
    assert_ok(bpt_verify_ctx_set_revocation_check(ctx, false));
    if (vcek) {
        assert_ok(bpt_verify_ctx_add_certs(ctx, vcek, vcek_len));
    }
    return ctx;
}

static void test_virtee_report_verifies_with_manifest_values(void **state)
{
    struct sample *s = *state;
    bpt_verified *v = NULL;
    char *json = NULL, *cj = NULL;
    if (!s->report || !s->vcek) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(VIRTEE_AT, s->vcek, s->vcek_len);
    assert_ok(bpt_verify(&v, ctx, NULL, s->report, s->report_len, BPT_PROVIDER_UNKNOWN));
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AMD_SEV_SNP);
    assert_int_equal(bpt_verified_level(v), BPT_VERIFICATION_CRYPTOGRAPHIC);
    const bpt_report *r = bpt_verified_report(v);
    assert_string_equal(bpt_report_measurement(r)->digest,
                        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc3"
                        "9b2c60bd95b9c480cd81841f");
    assert_false(bpt_claims_debug_mode(bpt_report_claims(r)));
    assert_ok(bpt_verified_to_json(&json, v));
    assert_non_null(strstr(json, "\"report_data\":\"d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4"
                                 "f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fec"
                                 "b3d1cd82bd6a93ebfd\""));
    assert_non_null(strstr(json, "\"chip_id\":\"d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf466"
                                 "03f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b08"
                                 "2e2f87a44d541eb6\""));
    assert_non_null(strstr(json, "\"reported\":{\"bootloader\":3,\"microcode\":115,\"snp\":8,"
                                 "\"tee\":0}"));
    assert_non_null(strstr(json, "\"verified\":true"));
    assert_ok(bpt_claims_custom_json(&cj, bpt_report_claims(r), "product"));
    assert_string_equal(cj, "\"Milan\"");
    bpt_free(cj);
    bpt_free(json);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
}

static void test_go_sev_guest_report_is_debug(void **state)
{
    size_t rl = 0, vl = 0;
    uint8_t *report = bpt_test_data_read("sev-snp/milan-go-sev-guest/report.bin", &rl);
    uint8_t *vcek = bpt_test_data_read("sev-snp/milan-go-sev-guest/vcek.der", &vl);
    bpt_verified *v = NULL;
    (void)state;
    if (!report || !vcek) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(GOSEV_AT, vcek, vl);
    bpt_policy *p = NULL;
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, report, rl), BPT_ECLAIM, "debug");
    assert_null(v);
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_allow_debug(p, true);
    assert_ok(bpt_sev_snp_verify(&v, ctx, p, report, rl));
    assert_true(bpt_claims_debug_mode(bpt_report_claims(bpt_verified_report(v))));
    assert_string_equal(bpt_report_measurement(bpt_verified_report(v))->digest,
                        "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9e"
                        "ce31a5a608eb0cf2e4872b01");
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    free(report);
    free(vcek);
}

/* One refusal per case, each on a fresh copy of the accepted report. */
static void test_refusals(void **state)
{
    struct sample *s = *state;
    static const struct {
        const char *name;
        long flip_off; /* -1: none */
        uint8_t flip;
        int64_t at;
        int vcek; /* 0 own, 1 other chip's VCEK, 2 none */
        const char *expect_measurement;
        int want;
        const char *msg;
    } cases[] = {
        {"after the VCEK expires", -1, 0, 1901474624 + 86400, 0, NULL, BPT_ESIGNATURE, "expired"},
        {"before the VCEK existed", -1, 0, 1680549823 - 86400, 0, NULL, BPT_ESIGNATURE,
         "not yet valid"},
        {"signed part byte flipped (measurement)", 0x90, 0x01, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE,
         "report signature"},
        {"signature r byte flipped", 0x2A0, 0x01, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE,
         "report signature"},
        {"signature s byte flipped", 0x2A0 + 72, 0x80, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE,
         "report signature"},
        /* Issue 13 point 7: the unsigned bytes after r and s no longer give a second valid
         * encoding of the same report. */
        {"signature reserved byte after s flipped", 0x2A0 + 144, 0x01, VIRTEE_AT, 0, NULL,
         BPT_EMALFORMED, "0x330-0x49F (signature, after r and s)"},
        {"signature reserved last byte flipped", 0x49F, 0x40, VIRTEE_AT, 0, NULL, BPT_EMALFORMED,
         "0x330-0x49F"},
        {"reserved 0x1F8 of a version 2 report", 0x1F8, 0x01, VIRTEE_AT, 0, NULL, BPT_EMALFORMED,
         "0x1F8-0x29F"},
        {"another chip's VCEK", -1, 0, VIRTEE_AT, 1, NULL, BPT_ESIGNATURE, "VCEK"},
        {"reported_tcb snp changed", 0x186, 0x01, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE, "snpSPL"},
        {"reported_tcb bootloader changed", 0x180, 0x04, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE,
         "blSPL"},
        {"chip_id changed", 0x1A0, 0x01, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE, "chip_id"},
        {"signature algorithm 2", 0x34, 0x03, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE,
         "signature algorithm"},
        {"signing key none", 0x48, 0x1C, VIRTEE_AT, 0, NULL, BPT_ESIGNATURE, "unsigned"},
        {"version 1", 0x00, 0x03, VIRTEE_AT, 0, NULL, BPT_EMALFORMED, "version 1"},
        /* Issue 12 point 5: what is missing and how to give it (test_missing_vcek_url: the
         * URL, once the product is known). */
        {"no VCEK, offline", -1, 0, VIRTEE_AT, 2, NULL, BPT_EKEYS,
         "sev_snp: VCEK missing: not given, and a version 2 report does not say which product "
         "to fetch it for; give it (DER or PEM) with the verification context's certificates, "
         "or name one product in the policy"},
        {"other measurement expected", -1, 0, VIRTEE_AT, 0,
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000",
         BPT_ECLAIM, "measurement"},
    };
    if (!s->report || !s->vcek || !s->other_vcek) {
        skip();
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *rep = malloc(s->report_len);
        bpt_verified *v = NULL;
        int rc;
        memcpy(rep, s->report, s->report_len);
        if (cases[i].flip_off >= 0) {
            rep[cases[i].flip_off] ^= cases[i].flip;
        }
        bpt_verify_ctx *ctx = ctx_at(cases[i].at,
                                     cases[i].vcek == 0   ? s->vcek
                                     : cases[i].vcek == 1 ? s->other_vcek
                                                          : NULL,
                                     cases[i].vcek == 0 ? s->vcek_len : s->other_len);
        bpt_policy *p = NULL;
        assert_ok(bpt_verify_ctx_set_offline(ctx, true));
        assert_ok(bpt_policy_new(&p));
        if (cases[i].expect_measurement) {
            assert_ok(bpt_policy_set_expected_measurement(p, cases[i].expect_measurement));
        }
        rc = bpt_sev_snp_verify(&v, ctx, p, rep, s->report_len);
        if (rc != cases[i].want || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("case '%s': got %d (%s), want %d with '%s'", cases[i].name, rc,
                     bpt_error_last(), cases[i].want, cases[i].msg);
        }
        assert_null(v);
        bpt_policy_free(p);
        bpt_verify_ctx_free(ctx);
        free(rep);
    }
}

static void test_short_and_long_reports_are_malformed(void **state)
{
    struct sample *s = *state;
    bpt_snp_report rep = BPT_SNP_REPORT_INIT;
    uint8_t big[BPT_SNP_REPORT_SIZE + 1] = {0};
    if (!s->report) {
        skip();
    }
    assert_rc_msg(bpt_sev_snp_parse(&rep, s->report, s->report_len - 1), BPT_EMALFORMED,
                  "1183 bytes");
    memcpy(big, s->report, s->report_len);
    assert_rc_msg(bpt_sev_snp_parse(&rep, big, sizeof(big)), BPT_EMALFORMED, "1185 bytes");
    assert_ok(bpt_sev_snp_parse(&rep, s->report, s->report_len));
    assert_int_equal(rep.version, 2);
    assert_int_equal(rep.vmpl, 0);
    assert_int_equal(rep.signing_key, BPT_SNP_KEY_VCEK);
    assert_true(rep.policy_smt);
    assert_false(rep.policy_debug);
    bpt_snp_tcb t = bpt_sev_snp_tcb_decode(rep.reported_tcb, BPT_SNP_MILAN);
    assert_int_equal(t.bootloader, 3);
    assert_int_equal(t.snp, 8);
    assert_int_equal(t.microcode, 115);
}

/* Trust roots replace the pinned roots, the pinned ASK included: without the ASK given, the
 * message says the ASK is missing and where AMD publishes it (before issue 12 it said "unable to
 * get local issuer certificate"); with it, that the ARK is not among the roots. */
static void test_pinned_roots_refuse_a_foreign_root(void **state)
{
    struct sample *s = *state;
    size_t len = 0, chain_len = 0;
    char *nitro = (char *)bpt_test_data_read("roots/aws-nitro-enclaves-root-g1.pem", &len);
    uint8_t *chain = bpt_test_data_read("sev-snp/milan-virtee/cert_chain.pem", &chain_len);
    bpt_verified *v = NULL;
    if (!s->report || !nitro || !chain) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(VIRTEE_AT, s->vcek, s->vcek_len);
    assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, nitro, len));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, s->report, s->report_len), BPT_EKEYS,
                  "sev_snp: ASK missing: the trust roots given replace the pinned AMD roots, so "
                  "the intermediates must come with the certificates, and none is the VCEK's "
                  "issuer /OU=Engineering/C=US/L=Santa Clara/ST=CA/O=Advanced Micro "
                  "Devices/CN=SEV-Milan; AMD publishes it at "
                  "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain; give it (DER or PEM)");
    bpt_verify_ctx_free(ctx);
    ctx = ctx_at(VIRTEE_AT, s->vcek, s->vcek_len);
    assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, nitro, len));
    assert_ok(bpt_verify_ctx_add_certs(ctx, chain, chain_len)); /* the ASK (and the ARK) */
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, s->report, s->report_len), BPT_ESIGNATURE,
                  "VCEK chain: ARK missing: no trust root given is the ASK's issuer");
    bpt_verify_ctx_free(ctx);
    /* The pinned ARK given as a trust root, in DER, with the ASK: verifies. */
    ctx = ctx_at(VIRTEE_AT, s->vcek, s->vcek_len);
    {
        size_t ark_len = 0;
        uint8_t *ark_pem = bpt_test_data_read("roots/amd-milan-ark.pem", &ark_len);
        BIO *bio = BIO_new_mem_buf(ark_pem, (int)ark_len);
        X509 *ark = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        unsigned char *der = NULL;
        int der_len = i2d_X509(ark, &der);
        assert_true(der_len > 0);
        assert_ok(bpt_verify_ctx_add_trust_root_pem(ctx, (const char *)der, (size_t)der_len));
        OPENSSL_free(der);
        X509_free(ark);
        BIO_free(bio);
        free(ark_pem);
    }
    assert_ok(bpt_verify_ctx_add_certs(ctx, chain, chain_len));
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, s->report, s->report_len));
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    free(nitro);
    free(chain);
}

/* A missing VCEK names the whole KDS URL it comes from (not cut) and how to give it. */
static void test_missing_vcek_url(void **state)
{
    struct sample *s = *state;
    bpt_verified *v = NULL;
    bpt_policy *p = NULL;
    if (!s->report) {
        skip();
    }
    bpt_verify_ctx *ctx = ctx_at(VIRTEE_AT, NULL, 0);
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    static const char milan[] = "{\"sev_snp\":{\"products\":[\"Milan\"]}}";
    assert_ok(bpt_policy_load_json(&p, milan, sizeof(milan) - 1));
    assert_rc_msg(
        bpt_sev_snp_verify(&v, ctx, p, s->report, s->report_len), BPT_EKEYS,
        "sev_snp: VCEK missing: not given; it comes from https://kdsintf.amd.com/vcek/v1/Milan/"
        "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0e"
        "facfd08e244324884738c72b082e2f87a44d541eb6?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115; give "
        "it (DER or PEM) with the verification context's certificates: kds: the VCEK is not "
        "cached (no cache directory) and fetching is off (offline)");
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
}

/* Without the opt-out, a real report needs AMD's CRL: offline and with nothing cached it fails
 * closed (kind keys) naming the CRL's URL; with the opt-out the result says it was not checked. */
static void test_revocation_is_on_by_default(void **state)
{
    struct sample *s = *state;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    char *json = NULL;
    if (!s->report || !s->vcek) {
        skip();
    }
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_true(bpt_verify_ctx_revocation_check(ctx));
    assert_ok(bpt_verify_ctx_set_at(ctx, VIRTEE_AT));
    assert_ok(bpt_verify_ctx_add_certs(ctx, s->vcek, s->vcek_len));
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    assert_rc_msg(bpt_sev_snp_verify(&v, ctx, NULL, s->report, s->report_len), BPT_EKEYS,
                  "sev_snp: CRL missing: none of the ARK-Milan (VCEK path) was given, there is no "
                  "cache directory, and fetching is off (offline); it comes from "
                  "https://kdsintf.amd.com/vcek/v1/Milan/crl; give it to the verification context");
    assert_null(v);
    bpt_verify_ctx_free(ctx);
    ctx = ctx_at(VIRTEE_AT, s->vcek, s->vcek_len);
    assert_false(bpt_verify_ctx_revocation_check(ctx));
    assert_ok(bpt_sev_snp_verify(&v, ctx, NULL, s->report, s->report_len));
    assert_ok(bpt_verified_to_json(&json, v));
    assert_non_null(strstr(json, "revocation not checked"));
    bpt_free(json);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
}

static void test_tcb_decode_turin_layout(void **state)
{
    /* bytes: fmc=1 bl=2 tee=3 snp=4 ... microcode=9 */
    uint64_t raw = 0x0900000004030201ull;
    bpt_snp_tcb t = bpt_sev_snp_tcb_decode(raw, BPT_SNP_TURIN);
    (void)state;
    assert_int_equal(t.fmc, 1);
    assert_int_equal(t.bootloader, 2);
    assert_int_equal(t.tee, 3);
    assert_int_equal(t.snp, 4);
    assert_int_equal(t.microcode, 9);
    t = bpt_sev_snp_tcb_decode(raw, BPT_SNP_GENOA);
    assert_int_equal(t.bootloader, 1);
    assert_int_equal(t.tee, 2);
    assert_int_equal(t.snp, 0);
    assert_int_equal(t.fmc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_virtee_report_verifies_with_manifest_values),
        cmocka_unit_test(test_go_sev_guest_report_is_debug),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_short_and_long_reports_are_malformed),
        cmocka_unit_test(test_pinned_roots_refuse_a_foreign_root),
        cmocka_unit_test(test_revocation_is_on_by_default),
        cmocka_unit_test(test_missing_vcek_url),
        cmocka_unit_test(test_tcb_decode_turin_layout),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
