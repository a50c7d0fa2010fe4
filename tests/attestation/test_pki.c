/* The shared X.509 layer: pinned roots, certificate parsing, chain verification at a time. */
#include "helpers/test.h"

#include "attestation/pki/pki.h"

#include "helpers/sim_fixture.h"

#include <openssl/x509.h>

static void test_pinned_roots_load_and_match_fingerprints(void **state)
{
    (void)state;
    for (int id = 0; id < BPT_ROOT_COUNT; id++) {
        X509 *c = NULL;
        assert_ok(bpt_pki_pinned_load(&c, (enum bpt_pinned_root)id));
        assert_non_null(c);
        X509_free(c);
    }
    X509 *c = NULL;
    assert_rc_msg(bpt_pki_pinned_load(&c, BPT_ROOT_COUNT), BPT_EINVAL, "no pinned root");
    assert_null(c);
}

static void test_pinned_roots_equal_testdata_files(void **state)
{
    static const struct {
        enum bpt_pinned_root id;
        const char *file;
    } files[] = {
        {BPT_ROOT_AMD_MILAN_ARK, "roots/amd-milan-ark.pem"},
        {BPT_ROOT_AMD_GENOA_ASK, "roots/amd-genoa-ask.pem"},
        {BPT_ROOT_AMD_TURIN_ASVK, "roots/amd-turin-asvk.pem"},
        {BPT_ROOT_INTEL_SGX_ROOT_CA, "roots/intel-sgx-root-ca.pem"},
        {BPT_ROOT_AWS_NITRO_G1, "roots/aws-nitro-enclaves-root-g1.pem"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len;
        uint8_t *pem = bpt_test_data_read(files[i].file, &len);
        STACK_OF(X509) *st = NULL;
        X509 *pinned = NULL;
        if (!pem) {
            skip();
        }
        assert_ok(bpt_pki_parse_certs(&st, pem, len, files[i].file));
        assert_int_equal(sk_X509_num(st), 1);
        assert_ok(bpt_pki_pinned_load(&pinned, files[i].id));
        assert_int_equal(X509_cmp(pinned, sk_X509_value(st, 0)), 0);
        X509_free(pinned);
        sk_X509_pop_free(st, X509_free);
        free(pem);
    }
}

/* The milan-virtee VCEK chains to the pinned Milan ASK and ARK inside its validity window. */
static void test_vcek_chain_verifies_at_time_and_not_outside(void **state)
{
    size_t len;
    uint8_t *der = bpt_test_data_read("sev-snp/milan-virtee/vcek.der", &len);
    X509 *vcek = NULL, *ask = NULL, *ark = NULL;
    STACK_OF(X509) *untrusted = sk_X509_new_null(), *roots = sk_X509_new_null(), *chain = NULL;
    struct bpt_pki_verify_opts opts = {.at = 1680652800};
    (void)state;
    if (!der) {
        skip();
    }
    assert_ok(bpt_pki_parse_der(&vcek, der, len, "vcek"));
    assert_ok(bpt_pki_pinned_load(&ask, BPT_ROOT_AMD_MILAN_ASK));
    assert_ok(bpt_pki_pinned_load(&ark, BPT_ROOT_AMD_MILAN_ARK));
    sk_X509_push(untrusted, ask);
    sk_X509_push(roots, ark);
    assert_ok(bpt_pki_verify_chain(&chain, vcek, untrusted, roots, &opts, "vcek"));
    assert_int_equal(sk_X509_num(chain), 3);
    sk_X509_pop_free(chain, X509_free);

    opts.at = 2524608000; /* 2050-01-01: after the VCEK's notAfter */
    assert_rc_msg(bpt_pki_verify_chain(NULL, vcek, untrusted, roots, &opts, "vcek"), BPT_ESIGNATURE,
                  "expired");
    opts.at = 1500000000; /* 2017: before the ARK existed */
    assert_rc_msg(bpt_pki_verify_chain(NULL, vcek, untrusted, roots, &opts, "vcek"), BPT_ESIGNATURE,
                  "not yet valid");

    /* Another vendor's root does not anchor it. */
    X509 *nitro = NULL;
    STACK_OF(X509) *other = sk_X509_new_null();
    assert_ok(bpt_pki_pinned_load(&nitro, BPT_ROOT_AWS_NITRO_G1));
    sk_X509_push(other, nitro);
    opts.at = 1680652800;
    assert_rc_msg(bpt_pki_verify_chain(NULL, vcek, untrusted, other, &opts, "vcek"), BPT_ESIGNATURE,
                  "issuer");
    assert_rc_msg(bpt_pki_verify_chain(NULL, vcek, untrusted, NULL, &opts, "vcek"), BPT_EKEYS,
                  "no trust roots");
    sk_X509_pop_free(other, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(roots, X509_free);
    X509_free(vcek);
    free(der);
}

static void test_parse_rejects_garbage_and_trailing_bytes(void **state)
{
    size_t len;
    uint8_t *der = bpt_test_data_read("sev-snp/milan-virtee/vcek.der", &len);
    X509 *c = NULL;
    STACK_OF(X509) *st = NULL;
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    static const char pem_junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    (void)state;
    assert_rc_msg(bpt_pki_parse_der(&c, junk, sizeof(junk), "x"), BPT_EMALFORMED, "x: not a DER");
    assert_rc_msg(bpt_pki_parse_certs(&st, (const uint8_t *)pem_junk, sizeof(pem_junk) - 1, "p"),
                  BPT_EMALFORMED, "p:");
    sk_X509_pop_free(st, X509_free);
    if (!der) {
        skip();
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_rc_msg(bpt_pki_parse_der(&c, longer, len + 1, "vcek"), BPT_EMALFORMED, "trailing");
    assert_null(c);
    free(longer);
    free(der);
}

/* Bundles of certificates and CRLs, DER or PEM (the simulator's ASK and ARK CRL). */
static void test_parse_bundle(void **state)
{
    struct bpt_sim_fixture f;
    char path[4200];
    size_t ask_len = 0, crl_len = 0, crl_pem_len = 0, der_len = 0;
    uint8_t *ask, *crl, *crl_pem, *ask_der = NULL, *both;
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    X509 *c = NULL;
    (void)state;

    assert_int_equal(bpt_sim_fixture_init(&f), 0);
    snprintf(path, sizeof(path), "%s/sev-snp/ask.pem", f.dir);
    ask = bpt_test_read_file(path, &ask_len);
    snprintf(path, sizeof(path), "%s/sev-snp/crl.der", f.dir);
    crl = bpt_test_read_file(path, &crl_len);
    snprintf(path, sizeof(path), "%s/sev-snp/crl.pem", f.dir);
    crl_pem = bpt_test_read_file(path, &crl_pem_len);
    assert_non_null(ask);
    assert_non_null(crl);
    assert_non_null(crl_pem);

    /* PEM: a certificate and a CRL in one text. */
    both = malloc(ask_len + crl_pem_len);
    memcpy(both, ask, ask_len);
    memcpy(both + ask_len, crl_pem, crl_pem_len);
    assert_ok(bpt_pki_parse_bundle(&certs, &crls, both, ask_len + crl_pem_len, "bundle"));
    assert_int_equal(sk_X509_num(certs), 1);
    assert_int_equal(sk_X509_CRL_num(crls), 1);
    /* The certificate reader still reads only the certificate of it. */
    sk_X509_pop_free(certs, X509_free);
    certs = NULL;
    assert_ok(bpt_pki_parse_certs(&certs, both, ask_len + crl_pem_len, "bundle"));
    assert_int_equal(sk_X509_num(certs), 1);
    /* DER: one CRL; one certificate; CRLs dropped when not asked for. */
    assert_ok(bpt_pki_parse_bundle(&certs, &crls, crl, crl_len, "crl"));
    assert_int_equal(sk_X509_CRL_num(crls), 2);
    c = sk_X509_value(certs, 0);
    der_len = (size_t)i2d_X509(c, &ask_der);
    assert_ok(bpt_pki_parse_bundle(&certs, &crls, ask_der, der_len, "ask"));
    assert_int_equal(sk_X509_num(certs), 2);
    assert_ok(bpt_pki_parse_bundle(&certs, NULL, crl_pem, crl_pem_len, "crl"));
    assert_int_equal(sk_X509_num(certs), 2);
    assert_int_equal(sk_X509_CRL_num(crls), 2);
    /* Refusals: nothing in it; a DER object that is neither; a damaged PEM CRL. */
    assert_rc_msg(
        bpt_pki_parse_bundle(&certs, &crls, (const uint8_t *)"-----BEGIN X-----\n", 18, "x"),
        BPT_EMALFORMED, "x: no PEM certificate or CRL found");
    assert_rc_msg(bpt_pki_parse_bundle(&certs, &crls, crl, crl_len - 1, "cut"), BPT_EMALFORMED,
                  "cut: not a DER certificate or CRL");
    crl_pem[40] ^= 0x01;
    assert_rc_msg(bpt_pki_parse_bundle(&certs, &crls, crl_pem, crl_pem_len, "bad"), BPT_EMALFORMED,
                  "bad: damaged PEM CRL");
    /* The CRL's signature algorithm name, for messages. */
    assert_string_equal(bpt_pki_crl_sig_name(sk_X509_CRL_value(crls, 0)), "rsassaPss");

    OPENSSL_free(ask_der);
    sk_X509_pop_free(certs, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    free(both);
    free(ask);
    free(crl);
    free(crl_pem);
    bpt_sim_fixture_dispose(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_roots_load_and_match_fingerprints),
        cmocka_unit_test(test_pinned_roots_equal_testdata_files),
        cmocka_unit_test(test_vcek_chain_verifies_at_time_and_not_outside),
        cmocka_unit_test(test_parse_rejects_garbage_and_trailing_bytes),
        cmocka_unit_test(test_parse_bundle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
