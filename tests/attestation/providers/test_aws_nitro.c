/*
 * AWS Nitro: the public evervault document at its verify_at, and one test per check with the
 * simulator (each document is built wrong in exactly one way, or tampered after signing).
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attester/sim/aws_nitro.h"

#include <openssl/x509.h>

#define REAL_AT 1695049470
#define SIM_AT (BPT_SIM_NITRO_TIME + 30)

/* A context with the pinned roots at @p at and no caches. */
static bpt_verify_ctx *pinned_ctx(int64_t at)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *ctx = NULL;
    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    o.jwks_cache = false;
    assert_ok(bpt_verify_ctx_new(&ctx, &o));
    assert_ok(bpt_verify_ctx_set_at(ctx, at));
    return ctx;
}

static void test_real_document(void **state)
{
    size_t n = 0, cl = 0, ul = 0;
    uint8_t *doc = bpt_test_data_read("nitro/evervault-ga/attestation-doc.cbor", &n);
    uint8_t *cert = bpt_test_data_read("nitro/evervault-ga/certificate.der", &cl);
    bpt_policy *p = NULL;
    bpt_verify_ctx *ctx = NULL, *later = NULL;
    bpt_verified *v = NULL;
    char *cj = NULL;
    (void)state;
    if (!doc || !cert) {
        skip();
    }
    assert_ok(bpt_policy_new(&p));
    ctx = pinned_ctx(REAL_AT);
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, p, doc, n), BPT_ECLAIM, "debug-mode enclave");
    bpt_policy_set_allow_debug(p, true);
    assert_ok(bpt_verify(&v, ctx, p, doc, n, BPT_PROVIDER_UNKNOWN));
    const bpt_report *r = bpt_verified_report(v);
    assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_AWS_NITRO);
    assert_true(bpt_claims_debug_mode(bpt_report_claims(r)));
    assert_ok(bpt_claims_custom_json(&cj, bpt_report_claims(r), "module_id"));
    assert_string_equal(cj, "\"i-0918f6c55e3b61d89-enc018aa8b8e2285d13\"");
    bpt_free(cj);
    /* user_data is the SubjectPublicKeyInfo of the certificate beside the document. */
    const uint8_t *ud = bpt_claims_user_data(bpt_report_claims(r), &ul);
    const unsigned char *q = cert;
    X509 *x = d2i_X509(NULL, &q, (long)cl);
    unsigned char *spki = NULL;
    int sl = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
    assert_int_equal(ul, (size_t)sl);
    assert_memory_equal(ud, spki, ul);
    OPENSSL_free(spki);
    X509_free(x);
    bpt_verified_free(v);
    v = NULL;

    /* The leaf certificate lives about three hours. */
    later = pinned_ctx(REAL_AT + 4 * 3600);
    bpt_policy_set_max_age(p, 0);
    assert_rc_msg(bpt_aws_nitro_verify(&v, later, p, doc, n), BPT_ESIGNATURE, "expired");
    bpt_verify_ctx_free(later);
    /* One signature byte flipped; then one payload byte inside a PCR value. */
    doc[n - 1] ^= 1;
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, p, doc, n), BPT_ESIGNATURE, "COSE signature");
    doc[n - 1] ^= 1;
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, p, doc, n - 1), BPT_EMALFORMED, "aws_nitro");
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    free(doc);
    free(cert);
}

struct fixture {
    struct bpt_sim_fixture sim;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    *state = f;
    return f && bpt_sim_fixture_init(&f->sim) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f) {
        bpt_sim_fixture_dispose(&f->sim);
        free(f);
    }
    return 0;
}

static int verify_sim(struct fixture *f, const struct bpt_sim_nitro_opts *o, const char *policy,
                      int64_t at)
{
    uint8_t *ev = NULL;
    size_t n = 0;
    bpt_policy *p = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    int rc;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->sim.dir, o));
    assert_ok(policy ? bpt_policy_load_json(&p, policy, strlen(policy)) : bpt_policy_new(&p));
    ctx = bpt_sim_fixture_ctx(&f->sim, at ? at : SIM_AT, NULL);
    assert_non_null(ctx);
    rc = bpt_aws_nitro_verify(&v, ctx, p, ev, n);
    if (rc == 0) {
        assert_non_null(v);
    } else {
        assert_null(v);
    }
    bpt_verified_free(v);
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
    return rc;
}

/* 48 bytes of one repeated byte, as hex. */
static const char *hex48(char buf[97], const char *pair)
{
    for (int i = 0; i < 48; i++) {
        memcpy(buf + 2 * i, pair, 2);
    }
    buf[96] = '\0';
    return buf;
}

static void test_sim_accepts_a_correct_document(void **state)
{
    struct fixture *f = *state;
    static const uint8_t nonce[] = "n-123";
    struct bpt_sim_nitro_opts o = {.nonce = nonce, .nonce_len = 5};
    assert_ok(verify_sim(f, &o, NULL, 0));
    /* Expected values that match also pass: PCR0, PCR8 image digest, a PCR map, the nonce. */
    char pol[1024], a[97], b[97], c[97];
    snprintf(pol, sizeof(pol),
             "{\"expected_measurement\":\"%s\",\"expected_image_digest\":\"sha384:%s\","
             "\"aws_nitro\":{\"pcrs\":{\"4\":\"%s\"}},\"expected_nonce\":\"n-123\"}",
             hex48(a, "10"), hex48(b, "18"), hex48(c, "14"));
    assert_ok(verify_sim(f, &o, pol, 0));
}

/* user_data longer than 64 bytes is kept whole (issue 12): the result and its JSON carry all
 * 300 bytes, up to the NSM API's 512. */
static void test_long_user_data_is_not_cut(void **state)
{
    struct fixture *f = *state;
    uint8_t ud[300], *ev = NULL;
    size_t n = 0, rd_len = 0;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    char *json = NULL, hex[2 * sizeof(ud) + 1];
    const uint8_t *rd;
    for (size_t i = 0; i < sizeof(ud); i++) {
        ud[i] = (uint8_t)(i * 7 + 1);
        snprintf(hex + 2 * i, 3, "%02x", ud[i]);
    }
    struct bpt_sim_nitro_opts o = {.user_data = ud, .user_data_len = sizeof(ud)};
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->sim.dir, &o));
    ctx = bpt_sim_fixture_ctx(&f->sim, SIM_AT, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n));
    rd = bpt_verified_report_data(v, &rd_len);
    assert_int_equal(rd_len, sizeof(ud));
    assert_memory_equal(rd, ud, sizeof(ud));
    assert_ok(bpt_verified_to_json(&json, v));
    assert_non_null(strstr(json, hex));
    bpt_free(json);
    bpt_verified_free(v);
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
}

static void test_each_check_fails_alone(void **state)
{
    struct fixture *f = *state;
    static const uint8_t nonce[] = "n-123";
    static const struct {
        const char *name;
        struct bpt_sim_nitro_opts o;
        const char *policy;
        int64_t at;
        int want;
        const char *msg;
    } cases[] = {
        {"debug (PCR0 zero)", {.debug = true}, NULL, 0, BPT_ECLAIM, "debug-mode"},
        {"wrong alg (ES256)", {.alg = -7}, NULL, 0, BPT_EMALFORMED, "not ES384"},
        {"duplicate key", {.duplicate_key = true}, NULL, 0, BPT_EMALFORMED, "duplicate key"},
        {"oversized user_data",
         {.oversized_user_data = 513},
         NULL,
         0,
         BPT_EMALFORMED,
         "user_data is 513 bytes"},
        {"broken link (bundle order)",
         {.bundle_reversed = true},
         NULL,
         0,
         BPT_ESIGNATURE,
         "cabundle[0]"},
        {"broken link (leaf not under the intermediate)",
         {.leaf_from_root = true},
         NULL,
         0,
         BPT_ESIGNATURE,
         "chain uses 2 certificates"},
        {"non-CA issuer",
         {.non_ca_intermediate = true},
         NULL,
         0,
         BPT_ESIGNATURE,
         "invalid CA certificate"},
        {"expired link", {0}, NULL, 4102444800 + 86400, BPT_ESIGNATURE, "expired"},
        {"PCR0 mismatch",
         {0},
         "{\"expected_measurement\":\"%s\"}",
         0,
         BPT_ECLAIM,
         "aws_nitro: measurement (PCR0) 1010"},
        {"PCR map mismatch",
         {0},
         "{\"aws_nitro\":{\"pcrs\":{\"3\":\"%s\"}}}",
         0,
         BPT_ECLAIM,
         "PCR3 differs"},
        {"image digest mismatch",
         {0},
         "{\"expected_image_digest\":\"sha384:00\"}",
         0,
         BPT_ECLAIM,
         "PCR8"},
        {"nonce mismatch",
         {.nonce = nonce, .nonce_len = 5},
         "{\"expected_nonce\":\"n-124\"}",
         0,
         BPT_ECLAIM,
         "nonce differs"},
        {"nonce absent", {0}, "{\"expected_nonce\":\"n-123\"}", 0, BPT_ECLAIM, "nonce is absent"},
        {"stale document", {0}, NULL, BPT_SIM_NITRO_TIME + 601, BPT_ECLAIM, "s old"},
        {"document from the future",
         {0},
         NULL,
         BPT_SIM_NITRO_TIME - 120,
         BPT_ECLAIM,
         "after the verification time"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char pol[512], h[97];
        /* A policy's %s is 48 bytes that match no simulated PCR (0x14 sits in PCR4, not 3). */
        if (cases[i].policy) {
            const char *at = strstr(cases[i].policy, "%s");
            if (at) {
                snprintf(pol, sizeof(pol), "%.*s%s%s", (int)(at - cases[i].policy), cases[i].policy,
                         hex48(h, "14"), at + 2);
            } else {
                snprintf(pol, sizeof(pol), "%s", cases[i].policy);
            }
        }
        int rc = verify_sim(f, &cases[i].o, cases[i].policy ? pol : NULL, cases[i].at);
        if (rc != cases[i].want || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("case '%s': got %d '%s', want %d with '%s'", cases[i].name, rc,
                     bpt_error_last(), cases[i].want, cases[i].msg);
        }
    }
}

static void test_pinned_root_refuses_and_bytes_are_checked(void **state)
{
    struct fixture *f = *state;
    struct bpt_sim_nitro_opts o = {0};
    uint8_t *ev = NULL;
    size_t n = 0;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->sim.dir, &o));
    ctx = pinned_ctx(SIM_AT);
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n), BPT_ESIGNATURE, "not the pinned");
    bpt_verify_ctx_free(ctx);
    ctx = bpt_sim_fixture_ctx(&f->sim, SIM_AT, NULL);
    assert_non_null(ctx);
    /* Truncated, trailing byte, garbage, not a tag-18 array. */
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n / 2), BPT_EMALFORMED, " left");
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, ev, n);
    longer[n] = 0;
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, longer, n + 1), BPT_EMALFORMED, "trailing");
    /* Nine bytes declaring an array of 2^64-1 items: refused before libcbor allocates. */
    static const uint8_t huge[] = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, huge, sizeof(huge)), BPT_EMALFORMED,
                  "declares");
    static const uint8_t indefinite[] = {0x9f, 0x01, 0xff};
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, indefinite, sizeof(indefinite)),
                  BPT_EMALFORMED, "indefinite");
    static const uint8_t three[] = {0x83, 0x01, 0x02, 0x03};
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, three, sizeof(three)), BPT_EMALFORMED,
                  "array of 4");
    /* A payload byte changed after signing (inside the module_id text). */
    uint8_t *mod = memmem(ev, n, "i-sim-enc", 9);
    assert_non_null(mod);
    mod[0] = 'j';
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n), BPT_ESIGNATURE, "COSE signature");
    assert_null(v);
    free(longer);
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
}

static void test_chain_cache(void **state)
{
    struct fixture *f = *state;
    struct bpt_sim_nitro_opts o = {0};
    uint8_t *ev = NULL;
    size_t n = 0;
    uint64_t hits = 0, misses = 0;
    bpt_verify_ctx_opts co = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->sim.dir, &o));
    co.chain_cache_entries = 2;
    ctx = bpt_sim_fixture_ctx(&f->sim, SIM_AT, &co);
    assert_non_null(ctx);
    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n));
        bpt_verified_free(v);
        v = NULL;
    }
    bpt_verify_ctx_cache_stats(ctx, BPT_CACHE_CHAIN, &hits, &misses);
    assert_int_equal(hits, 2);
    /* A cache hit still verifies the signature. */
    uint8_t *mod = memmem(ev, n, "i-sim-enc", 9);
    mod[0] = 'j';
    assert_rc_msg(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n), BPT_ESIGNATURE, "COSE signature");
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
}

/* @p ev with @p del bytes at @p at replaced by the @p ins_len bytes of @p ins (malloc'd). */
static uint8_t *splice(const uint8_t *ev, size_t n, size_t at, size_t del, const uint8_t *ins,
                       size_t ins_len, size_t *out_len)
{
    uint8_t *o = malloc(n - del + ins_len);
    assert_non_null(o);
    memcpy(o, ev, at);
    memcpy(o + at, ins, ins_len);
    memcpy(o + at + ins_len, ev + at + del, n - at - del);
    *out_len = n - del + ins_len;
    return o;
}

/* The unsigned envelope (issue 13): the unprotected header AWS reserves as {} must be empty,
 * and the envelope must be in its one shortest encoding. Each of these documents has the same
 * signed content as a valid one, and so verified before; each is now refused. */
static void test_envelope_is_not_malleable(void **state)
{
    struct fixture *f = *state;
    struct bpt_sim_nitro_opts o = {0};
    uint8_t *ev = NULL;
    size_t n = 0;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->sim.dir, &o));
    bpt_verify_ctx *ctx = bpt_sim_fixture_ctx(&f->sim, SIM_AT, NULL);
    assert_non_null(ctx);
    assert_ok(bpt_aws_nitro_verify(&v, ctx, NULL, ev, n));
    bpt_verified_free(v);
    v = NULL;

    size_t a = ev[0] == 0xd2 ? 1 : 0; /* the array header */
    assert_int_equal(ev[a], 0x84);
    size_t p = a + 1, plen = ev[p] & 31, phl = 1;
    assert_true(plen < 24); /* a short protected header, as AWS writes it */
    size_t u = p + phl + plen;
    assert_int_equal(ev[u], 0xa0);
    size_t pay = u + 1;
    assert_int_equal(ev[pay], 0x59); /* a payload of 256..65535 bytes */
    size_t paylen = (size_t)ev[pay + 1] << 8 | ev[pay + 2];
    size_t sig = pay + 3 + paylen;
    assert_int_equal(ev[sig], 0x58);

    static const uint8_t one_entry[] = {0xa1, 0x04, 0x41, 0x00}; /* {4: h'00'} (a kid) */
    static const uint8_t arr_long[] = {0x98, 0x04};
    uint8_t pay_long[5] = {0x5a, 0, 0, ev[pay + 1], ev[pay + 2]};
    static const uint8_t sig_long[] = {0x59, 0x00, 0x60};
    static const uint8_t tag_long[] = {0xd8, 0x12, 0x84};
    const struct {
        const char *name;
        size_t at, del;
        const uint8_t *ins;
        size_t ins_len;
        const char *msg;
    } cases[] = {
        {"unprotected header with an entry", u, 1, one_entry, sizeof(one_entry),
         "unprotected header is not empty"},
        {"array header in two bytes", a, 1, arr_long, sizeof(arr_long), "shortest encoding"},
        {"payload length in four bytes", pay, 3, pay_long, sizeof(pay_long),
         "shortest encoding (a byte string length)"},
        {"signature length in two bytes", sig, 2, sig_long, sizeof(sig_long),
         "shortest encoding (a byte string length)"},
        {"tag 18 in two bytes", 0, a + 1, tag_long, sizeof(tag_long), "aws_nitro"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t m = 0;
        uint8_t *bad = splice(ev, n, cases[i].at, cases[i].del, cases[i].ins, cases[i].ins_len, &m);
        int rc = bpt_aws_nitro_verify(&v, ctx, NULL, bad, m);
        if (rc != BPT_EMALFORMED || strstr(bpt_error_last(), cases[i].msg) == NULL) {
            fail_msg("%s: got %d '%s'", cases[i].name, rc, bpt_error_last());
        }
        assert_null(v);
        free(bad);
    }
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_document),
        cmocka_unit_test(test_sim_accepts_a_correct_document),
        cmocka_unit_test(test_long_user_data_is_not_cut),
        cmocka_unit_test(test_each_check_fails_alone),
        cmocka_unit_test(test_pinned_root_refuses_and_bytes_are_checked),
        cmocka_unit_test(test_chain_cache),
        cmocka_unit_test(test_envelope_is_not_malleable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
