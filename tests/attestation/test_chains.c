/*
 * Certificate chains as a user meets them (issue 12): a missing certificate is named, with
 * where it would come from and how to supply it, in the library's words (no CLI flags; the CLI
 * adds its own); certificates are taken as DER or PEM wherever one is taken: trust roots,
 * certificates, a report JSON's "certificates".
 */
#include "helpers/test.h"

#include "helpers/sim_fixture.h"

#include "attestation/pki/pki.h"
#include "attester/sim/aws_nitro.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdio.h>

/* The simulator's certificate @p rel (PEM) under its directory. */
static X509 *sim_cert(const struct bpt_sim_fixture *f, const char *rel)
{
    char path[4096];
    size_t len = 0;
    uint8_t *pem;
    STACK_OF(X509) *st = NULL;
    X509 *c;
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    pem = bpt_test_read_file(path, &len);
    assert_non_null(pem);
    assert_ok(bpt_pki_parse_certs(&st, pem, len, rel));
    c = sk_X509_shift(st);
    sk_X509_pop_free(st, X509_free);
    free(pem);
    return c;
}

/* Its DER encoding (free()). */
static uint8_t *der_of(X509 *c, size_t *len)
{
    unsigned char *der = NULL, *copy;
    int n = i2d_X509(c, &der);
    assert_true(n > 0);
    copy = malloc((size_t)n);
    memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return copy;
}

/* A context at the present trusting only @p root (DER), without caches. */
static bpt_verify_ctx *ctx_trusting(X509 *root)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    bpt_verify_ctx *c = NULL;
    size_t len = 0;
    uint8_t *der = der_of(root, &len);
    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    assert_ok(bpt_verify_ctx_new(&c, &o));
    assert_ok(bpt_verify_ctx_add_trust_roots(c, der, len));
    free(der);
    return c;
}

static bpt_report *sim_report(const struct bpt_sim_fixture *f, bpt_provider p)
{
    bpt_attester_opts o = BPT_ATTESTER_OPTS_INIT;
    uint8_t rd[64] = {1};
    bpt_report *r = NULL;
    o.simulate = p;
    o.sim_dir = f->dir;
    assert_ok(bpt_attest(&r, rd, &o));
    return r;
}

/* The library never names bpt's flags. */
static void assert_no_cli_words(void)
{
    if (strstr(bpt_error_last(), "--")) {
        fail_msg("a library message names a CLI flag: %s", bpt_error_last());
    }
}

/* ---- what a missing certificate says ------------------------------------------------------ */

static void test_pki_names_the_missing_certificate(void **state)
{
    struct bpt_sim_fixture *f = *state;
    X509 *vcek = sim_cert(f, "sev-snp/vcek.pem"), *ask = sim_cert(f, "sev-snp/ask.pem"),
         *ark = sim_cert(f, "sev-snp/ark.pem"), *nitro = sim_cert(f, "aws-nitro/root.pem");
    STACK_OF(X509) *untrusted = sk_X509_new_null(), *roots = sk_X509_new_null();
    struct bpt_pki_verify_opts opts = {.at = bpt_time_now(), .where = "supply it like so"};
    char want[1024], subj[256], issuer[256];

    /* The ASK is neither given nor a root: the VCEK's issuer, named, is missing. */
    sk_X509_push(roots, ark);
    bpt_pki_subject(vcek, subj, sizeof(subj));
    bpt_pki_subject(ask, issuer, sizeof(issuer));
    snprintf(want, sizeof(want),
             "vcek: certificate chain incomplete at depth 0: the issuer of %s (%s) is missing: "
             "it is neither a trust root nor among the certificates given; supply it like so",
             subj, issuer);
    assert_rc_msg(bpt_pki_verify_chain(NULL, vcek, untrusted, roots, &opts, "vcek"), BPT_ESIGNATURE,
                  want);
    /* Given, it verifies. */
    sk_X509_push(untrusted, ask);
    assert_ok(bpt_pki_verify_chain(NULL, vcek, untrusted, roots, &opts, "vcek"));
    /* The chain's own root given, but another trusted: it ends at a root that is not one. */
    X509_up_ref(ark);
    sk_X509_push(untrusted, ark);
    sk_X509_pop_free(roots, X509_free);
    roots = sk_X509_new_null();
    sk_X509_push(roots, nitro);
    opts.where = NULL;
    bpt_pki_subject(ark, subj, sizeof(subj));
    snprintf(want, sizeof(want),
             "vcek: certificate chain ends at depth 2 in the self-signed %s, which is not a trust "
             "root",
             subj);
    assert_rc_msg(bpt_pki_verify_chain(NULL, vcek, untrusted, roots, &opts, "vcek"), BPT_ESIGNATURE,
                  want);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(roots, X509_free);
    X509_free(vcek);
}

/* TDX: the PCK chain ends at a root the context does not trust; said with where roots come
 * from, for replaced trust roots and for the pinned one. */
static void test_tdx_chain_says_where_the_root_comes_from(void **state)
{
    struct bpt_sim_fixture *f = *state;
    X509 *nitro = sim_cert(f, "aws-nitro/root.pem");
    bpt_report *r = sim_report(f, BPT_PROVIDER_INTEL_TDX);
    bpt_verify_ctx *c = ctx_trusting(nitro), *pinned = NULL;
    bpt_verified *v = NULL;

    assert_rc_msg(
        bpt_verify_report(&v, c, NULL, r), BPT_ESIGNATURE,
        "tdx: PCK chain: certificate chain ends at depth 2 in the self-signed O = bpt "
        "simulator, CN = Simulated Intel SGX Root CA, which is not a trust root; the quote's "
        "certification data carries the PCK certificate and its CA; the root must be "
        "one of the context's trust roots (they replace the pinned Intel SGX Root CA): "
        "add this chain's root to them (DER or PEM)");
    assert_no_cli_words();
    assert_ok(bpt_verify_ctx_new(&pinned, NULL));
    assert_rc_msg(bpt_verify_report(&v, pinned, NULL, r), BPT_ESIGNATURE,
                  "and the root is the pinned Intel SGX Root CA: a chain to another root (a "
                  "simulator's) needs that root in the context's trust roots (DER or PEM)");
    assert_no_cli_words();
    bpt_verify_ctx_free(pinned);
    bpt_verify_ctx_free(c);
    bpt_report_free(r);
    X509_free(nitro);
}

/* Nitro: the document's own root, named, is not trusted. */
static void test_nitro_chain_names_its_root(void **state)
{
    struct bpt_sim_fixture *f = *state;
    X509 *tdx = sim_cert(f, "tdx/root.pem");
    bpt_report *r = sim_report(f, BPT_PROVIDER_AWS_NITRO);
    bpt_verify_ctx *c = ctx_trusting(tdx), *pinned = NULL;
    bpt_verified *v = NULL;

    assert_rc_msg(bpt_verify_report(&v, c, NULL, r), BPT_ESIGNATURE,
                  "aws_nitro: cabundle[0] (O = bpt simulator, CN = aws.nitro-enclaves), the root "
                  "the document's chain starts at, is not one of the context's trust roots (they "
                  "replace the pinned AWS Nitro Enclaves root): add it to them (DER or PEM)");
    assert_no_cli_words();
    assert_ok(bpt_verify_ctx_new(&pinned, NULL));
    assert_rc_msg(bpt_verify_report(&v, pinned, NULL, r), BPT_ESIGNATURE,
                  "is not the pinned AWS Nitro Enclaves root: documents from AWS start there; "
                  "another root (a simulator's) must be one of the context's trust roots");
    assert_no_cli_words();
    bpt_verify_ctx_free(pinned);
    bpt_verify_ctx_free(c);
    bpt_report_free(r);
    X509_free(tdx);
}

/* ---- DER or PEM wherever a certificate is taken ------------------------------------------- */

/* Trust roots as DER: each simulated provider verifies with only its root, given as DER. */
static void test_trust_roots_as_der(void **state)
{
    struct bpt_sim_fixture *f = *state;
    static const struct {
        bpt_provider p;
        const char *root;
    } cases[] = {
        {BPT_PROVIDER_AMD_SEV_SNP, "sev-snp/ark.pem"},
        {BPT_PROVIDER_INTEL_TDX, "tdx/root.pem"},
        {BPT_PROVIDER_AWS_NITRO, "aws-nitro/root.pem"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        X509 *root = sim_cert(f, cases[i].root);
        bpt_report *r = sim_report(f, cases[i].p);
        bpt_verify_ctx *c = ctx_trusting(root);
        bpt_verified *v = NULL;
        assert_true(bpt_verify_ctx_has_trust_roots(c));
        assert_ok(bpt_verify_report(&v, c, NULL, r));
        bpt_verified_free(v);
        bpt_verify_ctx_free(c);
        bpt_report_free(r);
        X509_free(root);
    }
    /* Neither DER nor PEM; the earlier name takes DER too. */
    bpt_verify_ctx *c = NULL;
    X509 *root = sim_cert(f, "tdx/root.pem");
    size_t len = 0;
    uint8_t *der = der_of(root, &len);
    assert_ok(bpt_verify_ctx_new(&c, NULL));
    assert_rc_msg(bpt_verify_ctx_add_trust_roots(c, (const uint8_t *)"junk", 4), BPT_EINVAL,
                  "verify context: trust root is not a PEM or DER certificate");
    assert_rc_msg(bpt_verify_ctx_add_trust_roots(c, NULL, 4), BPT_EINVAL,
                  "not a PEM or DER certificate (none given)");
    assert_false(bpt_verify_ctx_has_trust_roots(c));
    assert_ok(bpt_verify_ctx_add_trust_root_pem(c, (const char *)der, len));
    assert_ok(bpt_verify_ctx_add_trust_roots(c, der, len));
    assert_true(bpt_verify_ctx_has_trust_roots(c));
    bpt_verify_ctx_free(c);
    free(der);
    X509_free(root);
}

/* A report JSON's "certificates" may hold base64 DER as well as PEM text. */
static void test_report_certificates_as_base64_der(void **state)
{
    struct bpt_sim_fixture *f = *state;
    bpt_report *r = sim_report(f, BPT_PROVIDER_AMD_SEV_SNP), *r2 = NULL;
    char *text = NULL, *edited;
    json_t *o, *certs, *e;
    size_t i;
    bpt_verify_ctx *c = bpt_sim_fixture_ctx(f, 0, NULL);
    bpt_verified *v = NULL;
    assert_non_null(c);
    assert_ok(bpt_report_to_json(&text, r));
    o = json_loads(text, 0, NULL);
    certs = json_object_get(json_object_get(o, "collateral"), "certificates");
    /* The VCEK, the ASK and the simulated ARK's CRL (revocation is checked): each as DER. */
    assert_int_equal(json_array_size(certs), 3);
    json_array_foreach(certs, i, e)
    {
        STACK_OF(X509) *st = NULL;
        STACK_OF(X509_CRL) *crls = NULL;
        unsigned char *der = NULL;
        int n;
        char b64[8192];
        assert_ok(bpt_pki_parse_bundle(&st, &crls, (const uint8_t *)json_string_value(e),
                                       json_string_length(e), "cert"));
        n = sk_X509_num(st) > 0 ? i2d_X509(sk_X509_value(st, 0), &der)
                                : i2d_X509_CRL(sk_X509_CRL_value(crls, 0), &der);
        assert_true(n > 0 && EVP_EncodeBlock((unsigned char *)b64, der, n) > 0);
        json_array_set_new(certs, i, json_string(b64));
        OPENSSL_free(der);
        sk_X509_pop_free(st, X509_free);
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
    }
    edited = json_dumps(o, JSON_COMPACT);
    assert_ok(
        bpt_verify(&v, c, NULL, (const uint8_t *)edited, strlen(edited), BPT_PROVIDER_UNKNOWN));
    bpt_verified_free(v);
    free(edited);
    json_array_set_new(certs, 0, json_string("not base64!"));
    edited = json_dumps(o, JSON_COMPACT);
    assert_ok(bpt_report_from_json(&r2, edited, strlen(edited)));
    assert_rc_msg(bpt_verify_report(&v, c, NULL, r2), BPT_EMALFORMED,
                  "report collateral certificates[0] must be PEM text or base64 of DER");
    bpt_report_free(r2);
    free(edited);
    json_decref(o);
    bpt_free(text);
    bpt_verify_ctx_free(c);
    bpt_report_free(r);
}

/* The CLI: --trust-root and --certs take DER files; a refusal the library words as "the
 * context's trust roots" gets the flag that supplies them. */
static void test_cli_der_and_hints(void **state)
{
    struct bpt_sim_fixture *f = *state;
    X509 *ark = sim_cert(f, "sev-snp/ark.pem"), *tdx = sim_cert(f, "tdx/root.pem");
    char ark_path[4096], tdx_path[4096], rep_path[4096], *out = NULL, *text = NULL;
    bpt_report *r = sim_report(f, BPT_PROVIDER_AMD_SEV_SNP);
    size_t len = 0;
    uint8_t *der = der_of(ark, &len);
    snprintf(ark_path, sizeof(ark_path), "%s/ark.der", f->dir);
    bpt_test_write_file(ark_path, der, len);
    free(der);
    der = der_of(tdx, &len);
    snprintf(tdx_path, sizeof(tdx_path), "%s/tdx-root.der", f->dir);
    bpt_test_write_file(tdx_path, der, len);
    free(der);
    assert_ok(bpt_report_to_json(&text, r));
    snprintf(rep_path, sizeof(rep_path), "%s/snp.json", f->dir);
    bpt_test_write_file(rep_path, text, strlen(text));
    const char *ok[] = {"verify", "--trust-root", ark_path, rep_path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, ok), 0);
    free(out);
    /* A TDX quote whose root is not trusted: the hint names --trust-root. */
    bpt_report *q = sim_report(f, BPT_PROVIDER_INTEL_TDX);
    bpt_free(text);
    assert_ok(bpt_report_to_json(&text, q));
    snprintf(rep_path, sizeof(rep_path), "%s/tdx.json", f->dir);
    bpt_test_write_file(rep_path, text, strlen(text));
    const char *wrong[] = {"verify", "--trust-root", ark_path, rep_path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, wrong), 1);
    assert_non_null(strstr(out, "refused: signature: tdx: PCK chain"));
    assert_non_null(strstr(out, "[bpt verify: --trust-root FILE (DER or PEM)]"));
    free(out);
    const char *right[] = {"verify", "--trust-root", tdx_path, rep_path, NULL};
    assert_int_equal(bpt_test_run_cli(&out, right), 0);
    free(out);
    bpt_report_free(q);
    bpt_free(text);
    bpt_report_free(r);
    X509_free(ark);
    X509_free(tdx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pki_names_the_missing_certificate),
        cmocka_unit_test(test_tdx_chain_says_where_the_root_comes_from),
        cmocka_unit_test(test_nitro_chain_names_its_root),
        cmocka_unit_test(test_trust_roots_as_der),
        cmocka_unit_test(test_report_certificates_as_base64_der),
        cmocka_unit_test(test_cli_der_and_hints),
    };
    return cmocka_run_group_tests(tests, bpt_sim_fixture_setup, bpt_sim_fixture_teardown);
}
