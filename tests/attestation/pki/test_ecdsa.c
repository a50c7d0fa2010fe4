/*
 * ECDSA verification on two backends (src/attestation/pki/ecdsa.c): every Wycheproof ECDSA
 * P-384/SHA-384 vector of ../shared/testdata (the P1363 file, r || s, and the DER file) through
 * OpenSSL and nettle, each required to give the vector's verdict; which backend the library picks
 * per curve; keys that are not the curve asked for.
 */
#include "helpers/test.h"

#include "attestation/pki/ecdsa.h"
#include "attestation/pki/pki.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

struct tally {
    size_t vectors, both_backends, refused_by_form, valid;
};

/* One vector: the signature as (r, s) or refused by its form; both backends' verdicts. */
static void run_vector(struct tally *t, EVP_PKEY *key, const json_t *tc, bool der)
{
    const char *msg_hex = json_string_value(json_object_get(tc, "msg"));
    const char *sig_hex = json_string_value(json_object_get(tc, "sig"));
    const char *result = json_string_value(json_object_get(tc, "result"));
    int id = (int)json_integer_value(json_object_get(tc, "tcId"));
    size_t msg_len = 0, sig_len = 0;
    uint8_t *msg = bpt_test_hex_bytes(msg_hex, &msg_len);
    uint8_t *sig = bpt_test_hex_bytes(sig_hex, &sig_len);
    uint8_t r[96], s[96];
    size_t r_len = 0, s_len = 0;
    bool formed, want = strcmp(result, "valid") == 0;

    assert_true(strcmp(result, "valid") == 0 || strcmp(result, "invalid") == 0);
    assert_non_null(msg);
    assert_non_null(sig);
    if (der) {
        /* Strict DER, as OpenSSL's own ECDSA verify requires: decode, re-encode, compare. */
        const unsigned char *q = sig;
        unsigned char *again = NULL;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sig_len);
        int n = es ? i2d_ECDSA_SIG(es, &again) : -1;
        const BIGNUM *br = NULL, *bs = NULL;
        formed = es && q == sig + sig_len && n == (int)sig_len && memcmp(again, sig, sig_len) == 0;
        if (formed) {
            ECDSA_SIG_get0(es, &br, &bs);
            formed = BN_num_bytes(br) <= 96 && BN_num_bytes(bs) <= 96;
        }
        if (formed) {
            r_len = (size_t)BN_bn2bin(br, r);
            s_len = (size_t)BN_bn2bin(bs, s);
            /* zero is one byte of zero, as a signature's r or s would be sent */
            r_len = r_len ? r_len : (r[0] = 0, 1);
            s_len = s_len ? s_len : (s[0] = 0, 1);
        }
        OPENSSL_free(again);
        ECDSA_SIG_free(es);
    } else {
        /* IEEE P1363: exactly r || s of 48 bytes each, as COSE, JWS and SEV-SNP carry it. */
        formed = sig_len == 96;
        if (formed) {
            memcpy(r, sig, 48);
            memcpy(s, sig + 48, 48);
            r_len = s_len = 48;
        }
    }
    t->vectors++;
    t->valid += want;
    if (!formed) {
        t->refused_by_form++;
        if (want) {
            fail_msg("tcId %d: a valid vector's signature is refused by its form", id);
        }
    } else {
        int o = bpt_ecdsa_verify(key, 384, r, r_len, s, s_len, msg, msg_len, BPT_ECDSA_OPENSSL,
                                 "wycheproof");
        int n = bpt_ecdsa_verify(key, 384, r, r_len, s, s_len, msg, msg_len, BPT_ECDSA_NETTLE,
                                 "wycheproof");
        t->both_backends++;
        if ((o == 0) != (n == 0)) {
            fail_msg("tcId %d: OpenSSL says %s, nettle says %s", id, o == 0 ? "valid" : "invalid",
                     n == 0 ? "valid" : "invalid");
        }
        if ((o == 0) != want) {
            fail_msg("tcId %d (%s): both backends say %s, Wycheproof says %s", id,
                     json_string_value(json_object_get(tc, "comment")),
                     o == 0 ? "valid" : "invalid", result);
        }
        if (o != 0) {
            assert_int_equal(o, BPT_ESIGNATURE);
            assert_int_equal(n, BPT_ESIGNATURE);
        }
    }
    free(msg);
    free(sig);
}

static void run_file(const char *rel, bool der)
{
    char path[4096];
    json_error_t jerr;
    json_t *doc, *groups, *g;
    struct tally t = {0};
    size_t i;

    if (!bpt_test_data_path(path, sizeof(path), rel)) {
        skip();
    }
    doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    groups = json_object_get(doc, "testGroups");
    json_array_foreach(groups, i, g)
    {
        const json_t *k = json_object_get(g, "publicKey");
        size_t pt_len = 0, j;
        uint8_t *pt =
            bpt_test_hex_bytes(json_string_value(json_object_get(k, "uncompressed")), &pt_len);
        EVP_PKEY *key = NULL;
        json_t *tc;
        assert_string_equal(json_string_value(json_object_get(k, "curve")), "secp384r1");
        assert_string_equal(json_string_value(json_object_get(g, "sha")), "SHA-384");
        assert_int_equal(pt_len, 97);
        assert_ok(bpt_pki_ec_pub_from_xy(&key, 384, pt + 1, "wycheproof key"));
        json_array_foreach(json_object_get(g, "tests"), j, tc)
        {
            run_vector(&t, key, tc, der);
        }
        EVP_PKEY_free(key);
        free(pt);
    }
    /* every vector of the file ran; say how many reached both backends */
    assert_int_equal(t.vectors, (size_t)json_integer_value(json_object_get(doc, "numberOfTests")));
    assert_true(t.both_backends > t.vectors / 2);
    print_message("%s: %zu vectors (%zu valid), %zu through both backends with the same verdict, "
                  "%zu refused by their encoding first\n",
                  rel, t.vectors, t.valid, t.both_backends, t.refused_by_form);
    json_decref(doc);
}

static void test_wycheproof_p384_p1363(void **state)
{
    (void)state;
    run_file("wycheproof/ecdsa_secp384r1_sha384_p1363_test.json", false);
}

static void test_wycheproof_p384_der(void **state)
{
    (void)state;
    run_file("wycheproof/ecdsa_secp384r1_sha384_test.json", true);
}

static void test_backend_per_curve(void **state)
{
    (void)state;
    assert_int_equal(bpt_ecdsa_backend_for(384), BPT_ECDSA_NETTLE);
    assert_int_equal(bpt_ecdsa_backend_for(256), BPT_ECDSA_OPENSSL);
    assert_string_equal(bpt_ecdsa_backend_name(BPT_ECDSA_NETTLE), "nettle");
    assert_string_equal(bpt_ecdsa_backend_name(BPT_ECDSA_OPENSSL), "openssl");
    assert_string_equal(bpt_ecdsa_backend_name(BPT_ECDSA_AUTO), "auto");
}

/* Sign @p msg with a fresh key on @p curve; r and s big-endian, @p n bytes each. */
static EVP_PKEY *sign(const char *curve, const EVP_MD *alg, const uint8_t *msg, size_t len,
                      uint8_t *r, uint8_t *s, int n)
{
    EVP_PKEY *key = EVP_EC_gen(curve);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[160];
    size_t der_len = sizeof(der);
    const unsigned char *q = der;
    ECDSA_SIG *sig;
    assert_non_null(key);
    assert_int_equal(EVP_DigestSignInit(md, NULL, alg, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, der, &der_len, msg, len), 1);
    sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
    assert_non_null(sig);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), r, n), n);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), s, n), n);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return key;
}

static void test_both_backends_both_curves(void **state)
{
    static const uint8_t msg[] = "attested bytes";
    static const struct {
        const char *curve;
        int bits;
    } curves[] = {{"P-256", 256}, {"P-384", 384}};
    (void)state;
    for (size_t c = 0; c < 2; c++) {
        int n = curves[c].bits / 8;
        uint8_t r[48], s[48];
        EVP_PKEY *key = sign(curves[c].curve, curves[c].bits == 384 ? EVP_sha384() : EVP_sha256(),
                             msg, sizeof(msg), r, s, n);
        for (int b = BPT_ECDSA_AUTO; b <= BPT_ECDSA_NETTLE; b++) {
            assert_ok(bpt_ecdsa_verify(key, curves[c].bits, r, (size_t)n, s, (size_t)n, msg,
                                       sizeof(msg), (enum bpt_ecdsa_backend)b, "sig"));
            assert_rc_msg(bpt_ecdsa_verify(key, curves[c].bits, r, (size_t)n, s, (size_t)n, msg,
                                           sizeof(msg) - 1, (enum bpt_ecdsa_backend)b, "sig"),
                          BPT_ESIGNATURE, "sig does not verify");
            /* the other curve's size is another key type, on every backend */
            assert_rc_msg(bpt_ecdsa_verify(key, 640 - curves[c].bits, r, (size_t)n, s, (size_t)n,
                                           msg, sizeof(msg), (enum bpt_ecdsa_backend)b, "sig"),
                          BPT_ESIGNATURE, "not ECDSA P-");
        }
        EVP_PKEY_free(key);
    }
}

/* A 384-bit curve that is not P-384 is refused as a key type, not verified on its own curve
 * by one backend and refused as off-curve by the other. */
static void test_brainpool_384_is_not_p384(void **state)
{
    static const uint8_t msg[] = "attested bytes";
    uint8_t r[48], s[48];
    EVP_PKEY *key = sign("brainpoolP384r1", EVP_sha384(), msg, sizeof(msg), r, s, 48);
    (void)state;
    for (int b = BPT_ECDSA_AUTO; b <= BPT_ECDSA_NETTLE; b++) {
        assert_rc_msg(bpt_ecdsa_verify(key, 384, r, 48, s, 48, msg, sizeof(msg),
                                       (enum bpt_ecdsa_backend)b, "sig"),
                      BPT_ESIGNATURE, "sig: the signing key is not ECDSA P-384");
    }
    EVP_PKEY_free(key);
}

/* A key OpenSSL keeps in compressed form still reaches nettle as its affine point. */
static void test_compressed_key_on_nettle(void **state)
{
    static const uint8_t msg[] = "attested bytes";
    uint8_t r[48], s[48];
    EVP_PKEY *key = sign("P-384", EVP_sha384(), msg, sizeof(msg), r, s, 48);
    (void)state;
    assert_int_equal(EVP_PKEY_set_utf8_string_param(key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                    "compressed"),
                     1);
    assert_ok(bpt_ecdsa_verify(key, 384, r, 48, s, 48, msg, sizeof(msg), BPT_ECDSA_NETTLE, "sig"));
    EVP_PKEY_free(key);
}

static void test_scalar_sizes(void **state)
{
    static const uint8_t msg[] = "attested bytes";
    uint8_t r[72] = {0}, s[72] = {0}, wide_r[72] = {0}, wide_s[72] = {0};
    EVP_PKEY *key = sign("P-384", EVP_sha384(), msg, sizeof(msg), r, s, 48);
    (void)state;
    /* SEV-SNP's fields: 72 bytes, the scalar in the last 48 */
    memcpy(wide_r + 24, r, 48);
    memcpy(wide_s + 24, s, 48);
    for (int b = BPT_ECDSA_AUTO; b <= BPT_ECDSA_NETTLE; b++) {
        assert_ok(bpt_ecdsa_verify(key, 384, wide_r, 72, wide_s, 72, msg, sizeof(msg),
                                   (enum bpt_ecdsa_backend)b, "sig"));
    }
    r[0] = 1;     /* 67 significant bytes: more than any NIST scalar */
    s[0] |= 0x80; /* 48 significant bytes (a random s starts with a zero byte once in 256) */
    assert_rc_msg(bpt_ecdsa_verify(key, 384, r, 0, s, 48, msg, sizeof(msg), BPT_ECDSA_AUTO, "sig"),
                  BPT_ESIGNATURE, "r or s of 0/48 bytes");
    assert_rc_msg(bpt_ecdsa_verify(key, 384, r, 67, s, 48, msg, sizeof(msg), BPT_ECDSA_AUTO, "sig"),
                  BPT_ESIGNATURE, "r or s of 67/48 bytes");
    memset(r, 0, sizeof(r)); /* zero: one significant byte, and no signature */
    assert_rc_msg(
        bpt_ecdsa_verify(key, 384, r, 48, s, 48, msg, sizeof(msg), BPT_ECDSA_NETTLE, "sig"),
        BPT_ESIGNATURE, "sig does not verify");
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wycheproof_p384_p1363),
        cmocka_unit_test(test_wycheproof_p384_der),
        cmocka_unit_test(test_backend_per_curve),
        cmocka_unit_test(test_both_backends_both_curves),
        cmocka_unit_test(test_brainpool_384_is_not_p384),
        cmocka_unit_test(test_compressed_key_on_nettle),
        cmocka_unit_test(test_scalar_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
