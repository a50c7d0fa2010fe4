/*
 * Parsed certificates kept by their DER's digest: the same bytes give the same object, other
 * bytes another; bytes that are no certificate are refused with the parser's message and not
 * kept; PEM bundles parsed through the cache share their certificates and pass over other blocks.
 */
#include "helpers/test.h"

#include "attestation/pki/cert_cache.h"
#include "attestation/pki/pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static X509 *make_cert(long serial)
{
    X509 *x = X509_new();
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(x);
    assert_non_null(key);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), 1700000000));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), 1800000000));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    EVP_PKEY_free(key);
    return x;
}

static void test_same_bytes_same_object(void **state)
{
    struct bpt_cert_cache *c = NULL;
    X509 *x = make_cert(1), *y = make_cert(2), *a = NULL, *b = NULL, *d = NULL, *e = NULL;
    unsigned char *der = NULL, *der2 = NULL;
    int len = i2d_X509(x, &der), len2 = i2d_X509(y, &der2);
    uint8_t junk[64] = {0x30, 0x03, 0x02, 0x01, 0x01}, long_der[4096] = {0};
    uint64_t hits = 0, lookups = 0;
    (void)state;

    assert_rc_msg(bpt_cert_cache_new(&c, 0), BPT_EINVAL, "certificate cache: cache: 0 entries");
    assert_true(len > 0 && (size_t)len < sizeof(long_der));
    memcpy(long_der, der, (size_t)len);
    assert_ok(bpt_cert_cache_new(&c, 2));
    assert_ok(bpt_cert_cache_der(&a, c, der, (size_t)len, "x"));
    assert_ok(bpt_cert_cache_der(&b, c, der, (size_t)len, "x"));
    assert_ptr_equal(a, b);
    assert_int_equal(X509_cmp(a, x), 0);
    assert_ok(bpt_cert_cache_der(&d, c, der2, (size_t)len2, "y"));
    assert_ptr_not_equal(d, a);
    /* not a certificate, or one with bytes after it: refused, nothing kept */
    assert_rc_msg(bpt_cert_cache_der(&e, c, junk, 5, "j"), BPT_EMALFORMED,
                  "j: not a DER certificate");
    assert_null(e);
    assert_rc_msg(bpt_cert_cache_der(&e, c, long_der, (size_t)len + 1, "t"), BPT_EMALFORMED,
                  "t: 1 trailing bytes after the DER certificate");
    assert_rc_msg(bpt_cert_cache_der(&e, c, long_der, (size_t)len + 1, "t"), BPT_EMALFORMED,
                  "trailing bytes");
    bpt_cert_cache_stats(c, &hits, &lookups);
    assert_int_equal(hits, 1);
    assert_int_equal(lookups, 6);
    X509_free(a);
    X509_free(b);
    X509_free(d);
    /* without a cache: parsed each time */
    assert_ok(bpt_cert_cache_der(&a, NULL, der, (size_t)len, "x"));
    assert_ok(bpt_cert_cache_der(&b, NULL, der, (size_t)len, "x"));
    assert_ptr_not_equal(a, b);
    X509_free(a);
    X509_free(b);
    bpt_cert_cache_free(c);
    bpt_cert_cache_free(NULL);
    OPENSSL_free(der);
    OPENSSL_free(der2);
    X509_free(x);
    X509_free(y);
}

static char *pem_of(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out;
    long n;
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

/* A bundle parsed twice through one cache gives the same objects; other PEM blocks are passed
 * over; a damaged certificate block is refused. */
static void test_bundles_share_certificates(void **state)
{
    struct bpt_cert_cache *c = NULL;
    X509 *x = make_cert(3), *y = make_cert(4);
    char *px = pem_of(x), *py = pem_of(y), *bundle = NULL, *damaged = NULL;
    STACK_OF(X509) *s1 = NULL, *s2 = NULL, *s3 = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    (void)state;
    assert_ok(bpt_cert_cache_new(&c, 8));
    assert_true(
        asprintf(&bundle, "%s-----BEGIN OTHER-----\nAAAA\n-----END OTHER-----\n%s", px, py) > 0);
    assert_ok(bpt_pki_parse_certs_cached(&s1, c, (const uint8_t *)bundle, strlen(bundle), "b"));
    assert_ok(
        bpt_pki_parse_bundle_cached(&s2, &crls, c, (const uint8_t *)bundle, strlen(bundle), "b"));
    assert_int_equal(sk_X509_num(s1), 2);
    assert_int_equal(sk_X509_num(s2), 2);
    assert_ptr_equal(sk_X509_value(s1, 0), sk_X509_value(s2, 0));
    assert_ptr_equal(sk_X509_value(s1, 1), sk_X509_value(s2, 1));
    assert_int_equal(X509_cmp(sk_X509_value(s1, 1), y), 0);
    assert_null(crls);
    /* the second certificate's first bytes (its DER header) zeroed: it no longer parses */
    damaged = strdup(bundle);
    memcpy(strstr(strstr(damaged, "-----END OTHER-----") + 20, "-----\n") + 6, "AAAA", 4);
    assert_rc_msg(
        bpt_pki_parse_certs_cached(&s3, c, (const uint8_t *)damaged, strlen(damaged), "d"),
        BPT_EMALFORMED, "d: damaged PEM certificate");
    sk_X509_pop_free(s1, X509_free);
    sk_X509_pop_free(s2, X509_free);
    sk_X509_pop_free(s3, X509_free);
    bpt_cert_cache_free(c);
    free(px);
    free(py);
    free(bundle);
    free(damaged);
    X509_free(x);
    X509_free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_same_object),
        cmocka_unit_test(test_bundles_share_certificates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
