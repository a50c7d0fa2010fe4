/*
 * AWS Nitro: the public evervault document at its verify_at, and one test per check with the
 * simulator (each document is built wrong in exactly one way, or tampered after signing).
 */
#include "helpers/test.h"

#include "attester/sim/aws_nitro.h"

#include <openssl/x509.h>

#define REAL_AT 1695049470
#define SIM_AT (BPT_SIM_NITRO_TIME + 30)

static void test_real_document(void **state)
{
    size_t n = 0, cl = 0, ul = 0;
    uint8_t *doc = bpt_test_data_read("nitro/evervault-ga/attestation-doc.cbor", &n);
    uint8_t *cert = bpt_test_data_read("nitro/evervault-ga/certificate.der", &cl);
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    char *cj = NULL;
    (void)state;
    if (!doc || !cert) {
        skip();
    }
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, REAL_AT);
    assert_rc_msg(bpt_aws_nitro_verify(&v, doc, n, p), BPT_ECLAIM, "debug-mode enclave");
    bpt_policy_set_allow_debug(p, true);
    assert_ok(bpt_verify(&v, doc, n, BPT_PROVIDER_UNKNOWN, p));
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
    bpt_policy_set_at(p, REAL_AT + 4 * 3600);
    bpt_policy_set_max_age(p, 0);
    assert_rc_msg(bpt_aws_nitro_verify(&v, doc, n, p), BPT_ESIGNATURE, "expired");
    bpt_policy_set_at(p, REAL_AT);
    /* One signature byte flipped; then one payload byte inside a PCR value. */
    doc[n - 1] ^= 1;
    assert_rc_msg(bpt_aws_nitro_verify(&v, doc, n, p), BPT_ESIGNATURE, "COSE signature");
    doc[n - 1] ^= 1;
    assert_rc_msg(bpt_aws_nitro_verify(&v, doc, n - 1, p), BPT_EMALFORMED, "aws_nitro");
    bpt_policy_free(p);
    free(doc);
    free(cert);
}

struct fixture {
    char *dir;
    char *roots;
    size_t roots_len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[4096];
    f->dir = bpt_test_tmpdir();
    if (bpt_sim_init(f->dir) != 0) {
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
    free(f->roots);
    free(f);
    return 0;
}

static int verify_sim(struct fixture *f, const struct bpt_sim_nitro_opts *o, const char *policy,
                      int64_t at)
{
    uint8_t *ev = NULL;
    size_t n = 0;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    int rc;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->dir, o));
    assert_ok(policy ? bpt_policy_load_json(&p, policy, strlen(policy)) : bpt_policy_new(&p));
    bpt_policy_set_at(p, at ? at : SIM_AT);
    assert_ok(bpt_policy_add_trust_root_pem(p, f->roots, f->roots_len));
    rc = bpt_aws_nitro_verify(&v, ev, n, p);
    if (rc == 0) {
        assert_non_null(v);
    } else {
        assert_null(v);
    }
    bpt_verified_free(v);
    bpt_policy_free(p);
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
        {"PCR0 mismatch", {0}, "{\"expected_measurement\":\"%s\"}", 0, BPT_ECLAIM, "PCR0 differs"},
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
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->dir, &o));
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, SIM_AT);
    assert_rc_msg(bpt_aws_nitro_verify(&v, ev, n, p), BPT_ESIGNATURE, "not the pinned");
    assert_ok(bpt_policy_add_trust_root_pem(p, f->roots, f->roots_len));
    /* Truncated, trailing byte, garbage, not a tag-18 array. */
    assert_rc_msg(bpt_aws_nitro_verify(&v, ev, n / 2, p), BPT_EMALFORMED, " left");
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, ev, n);
    longer[n] = 0;
    assert_rc_msg(bpt_aws_nitro_verify(&v, longer, n + 1, p), BPT_EMALFORMED, "trailing");
    /* Nine bytes declaring an array of 2^64-1 items: refused before libcbor allocates. */
    static const uint8_t huge[] = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_rc_msg(bpt_aws_nitro_verify(&v, huge, sizeof(huge), p), BPT_EMALFORMED, "declares");
    static const uint8_t indefinite[] = {0x9f, 0x01, 0xff};
    assert_rc_msg(bpt_aws_nitro_verify(&v, indefinite, sizeof(indefinite), p), BPT_EMALFORMED,
                  "indefinite");
    static const uint8_t three[] = {0x83, 0x01, 0x02, 0x03};
    assert_rc_msg(bpt_aws_nitro_verify(&v, three, sizeof(three), p), BPT_EMALFORMED, "array of 4");
    /* A payload byte changed after signing (inside the module_id text). */
    uint8_t *mod = memmem(ev, n, "i-sim-enc", 9);
    assert_non_null(mod);
    mod[0] = 'j';
    assert_rc_msg(bpt_aws_nitro_verify(&v, ev, n, p), BPT_ESIGNATURE, "COSE signature");
    assert_null(v);
    free(longer);
    bpt_policy_free(p);
    bpt_free(ev);
}

static void test_chain_cache(void **state)
{
    struct fixture *f = *state;
    struct bpt_sim_nitro_opts o = {0};
    uint8_t *ev = NULL;
    size_t n = 0;
    uint64_t hits = 0, lookups = 0;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    bpt_chain_cache *cache = NULL;
    assert_ok(bpt_sim_aws_nitro_build(&ev, &n, f->dir, &o));
    assert_ok(bpt_chain_cache_new(&cache, 2));
    assert_ok(bpt_policy_new(&p));
    bpt_policy_set_at(p, SIM_AT);
    assert_ok(bpt_policy_add_trust_root_pem(p, f->roots, f->roots_len));
    bpt_policy_set_chain_cache(p, cache);
    for (int i = 0; i < 3; i++) {
        assert_ok(bpt_aws_nitro_verify(&v, ev, n, p));
        bpt_verified_free(v);
        v = NULL;
    }
    bpt_chain_cache_stats(cache, &hits, &lookups);
    assert_int_equal(hits, 2);
    /* A cache hit still verifies the signature. */
    uint8_t *mod = memmem(ev, n, "i-sim-enc", 9);
    mod[0] = 'j';
    assert_rc_msg(bpt_aws_nitro_verify(&v, ev, n, p), BPT_ESIGNATURE, "COSE signature");
    bpt_policy_free(p);
    bpt_chain_cache_free(cache);
    bpt_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_document),
        cmocka_unit_test(test_sim_accepts_a_correct_document),
        cmocka_unit_test(test_each_check_fails_alone),
        cmocka_unit_test(test_pinned_root_refuses_and_bytes_are_checked),
        cmocka_unit_test(test_chain_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
