#include "attestation/pki/pki.h"
#include "attestation/pki/cert_cache.h"
#include "attestation/pki/ecdsa.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/limits.h"

#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/core_names.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

int bpt_pki_parse_der(X509 **out, const uint8_t *p, size_t len, const char *what)
{
    return bpt_cert_cache_der(out, NULL, p, len, what);
}

static bool looks_pem(const uint8_t *p, size_t len)
{
    static const char tag[] = "-----BEGIN ";
    for (size_t i = 0; i + sizeof(tag) - 1 <= len && i < 256; i++) {
        if (memcmp(p + i, tag, sizeof(tag) - 1) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Sort a CRL's revoked entries now: OpenSSL sorts them on the first revocation lookup, under the
 * CRL's lock but after reading whether they are sorted without it, and a CRL that threads share
 * (a context's prepared or cached collateral) must not be written then.
 */
static X509_CRL *settle_crl(X509_CRL *crl)
{
    sk_X509_REVOKED_sort(X509_CRL_get_REVOKED(crl));
    return crl;
}

/* Append @p c (taking it on success) to the stack, within the chain-length limit. */
static int push_cert(STACK_OF(X509) * stack, X509 *c, const char *what)
{
    if (sk_X509_num(stack) >= BPT_LIMIT_CERTS_IN_CHAIN) {
        return bpt_err(BPT_ELIMIT, "%s: more than %d certificates", what, BPT_LIMIT_CERTS_IN_CHAIN);
    }
    return sk_X509_push(stack, c) ? 0 : bpt_err_nomem("certificate stack");
}

static bool is_cert_block(const char *name)
{
    return strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0;
}

int bpt_pki_parse_certs_cached(STACK_OF(X509) * *stack, struct bpt_cert_cache *cache,
                               const uint8_t *p, size_t len, const char *what)
{
    BIO *bio = NULL;
    X509 *c = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long n_data;
    int rc = BPT_ERROR, n = 0;

    if (len > BPT_LIMIT_CERT_CHAIN_BYTES) {
        return bpt_err(BPT_ELIMIT, "%s: %zu bytes of certificates exceed the limit of %u", what,
                       len, BPT_LIMIT_CERT_CHAIN_BYTES);
    }
    if (!*stack && !(*stack = sk_X509_new_null())) {
        return bpt_err_nomem("certificate stack");
    }
    if (!looks_pem(p, len)) {
        BPT_CHECK(bpt_cert_cache_der(&c, cache, p, len, what));
        BPT_CHECK(push_cert(*stack, c, what));
        c = NULL;
        rc = 0;
        goto out;
    }
    bio = BIO_new_mem_buf(p, (int)len);
    if (!bio) {
        rc = bpt_err_nomem("BIO");
        goto out;
    }
    /* Certificate blocks only (others are passed over), each decoded from its DER. */
    while (PEM_read_bio(bio, &name, &header, &data, &n_data) == 1) {
        if (is_cert_block(name)) {
            if (bpt_cert_cache_der(&c, cache, data, (size_t)n_data, what) < 0) {
                rc = bpt_err(BPT_EMALFORMED, "%s: damaged PEM certificate", what);
                goto out;
            }
            BPT_CHECK(push_cert(*stack, c, what));
            c = NULL;
            n++;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    /* End of input reads as "no start line"; anything else is a damaged PEM block. */
    unsigned long e = ERR_peek_last_error();
    if (n == 0 || (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "%s: %s", what,
                          n == 0 ? "no PEM certificate found" : "damaged PEM certificate");
        goto out;
    }
    ERR_clear_error();
    rc = 0;
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    X509_free(c);
    BIO_free(bio);
    return rc;
}

int bpt_pki_parse_certs(STACK_OF(X509) * *stack, const uint8_t *p, size_t len, const char *what)
{
    return bpt_pki_parse_certs_cached(stack, NULL, p, len, what);
}

/* Take @p x into *st (created when NULL) within the count limit; frees @p x on failure. */
static int push_bundle_item(OPENSSL_STACK **st, void *x, void (*free_fn)(void *), const char *kind,
                            const char *what)
{
    if (!*st && !(*st = OPENSSL_sk_new_null())) {
        free_fn(x);
        return bpt_err_nomem("bundle");
    }
    if (OPENSSL_sk_num(*st) >= BPT_LIMIT_CERTS_IN_CHAIN) {
        free_fn(x);
        return bpt_err(BPT_ELIMIT, "%s: more than %d %s", what, BPT_LIMIT_CERTS_IN_CHAIN, kind);
    }
    if (!OPENSSL_sk_push(*st, x)) {
        free_fn(x);
        return bpt_err_nomem("bundle");
    }
    return 0;
}

static void free_x509(void *x)
{
    X509_free(x);
}

static void free_crl(void *x)
{
    X509_CRL_free(x);
}

/* One DER object, the whole input: a certificate, else a CRL. */
static int parse_bundle_der(OPENSSL_STACK **certs, OPENSSL_STACK **crls,
                            struct bpt_cert_cache *cache, const uint8_t *p, size_t len,
                            const char *what)
{
    const unsigned char *q = p;
    X509 *c = NULL;
    X509_CRL *crl;

    if (len == 0 || len > LONG_MAX) {
        return bpt_err(BPT_EMALFORMED, "%s: empty", what);
    }
    if (bpt_cert_cache_der(&c, cache, p, len, what) == 0) {
        ERR_clear_error();
        return push_bundle_item(certs, c, free_x509, "certificates", what);
    }
    q = p;
    if ((crl = d2i_X509_CRL(NULL, &q, (long)len)) != NULL && (size_t)(q - p) == len) {
        ERR_clear_error();
        return push_bundle_item(crls, settle_crl(crl), free_crl, "CRLs", what);
    }
    X509_CRL_free(crl);
    return bpt_err_ossl(BPT_EMALFORMED, "%s: not a DER certificate or CRL", what);
}

int bpt_pki_parse_bundle(STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls, const uint8_t *p,
                         size_t len, const char *what)
{
    return bpt_pki_parse_bundle_cached(certs, crls, NULL, p, len, what);
}

int bpt_pki_parse_bundle_cached(STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls,
                                struct bpt_cert_cache *cache, const uint8_t *p, size_t len,
                                const char *what)
{
    STACK_OF(X509_CRL) *dropped = NULL, **crl_out = crls ? crls : &dropped;
    BIO *bio = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long n;
    int rc = BPT_ERROR, found = 0;

    if (!p || len > BPT_LIMIT_CERT_CHAIN_BYTES) {
        return bpt_err(BPT_ELIMIT, "%s: %zu bytes exceed the limit of %u", what, p ? len : 0,
                       BPT_LIMIT_CERT_CHAIN_BYTES);
    }
    if (!looks_pem(p, len)) {
        rc = parse_bundle_der((OPENSSL_STACK **)certs, (OPENSSL_STACK **)crl_out, cache, p, len,
                              what);
        goto out;
    }
    if (!(bio = BIO_new_mem_buf(p, (int)len))) {
        rc = bpt_err_nomem("BIO");
        goto out;
    }
    while (PEM_read_bio(bio, &name, &header, &data, &n) == 1) {
        const unsigned char *q = data;
        bool cert = is_cert_block(name);
        if (cert || strcmp(name, PEM_STRING_X509_CRL) == 0) {
            void *x;
            if (cert) {
                X509 *xc = NULL;
                x = bpt_cert_cache_der(&xc, cache, data, (size_t)n, what) == 0 ? xc : NULL;
                q = data + n;
            } else {
                X509_CRL *xl = d2i_X509_CRL(NULL, &q, n);
                x = xl ? settle_crl(xl) : NULL;
            }
            if (!x || q != data + n) {
                cert ? X509_free(x) : X509_CRL_free(x);
                rc = bpt_err_ossl(BPT_EMALFORMED, "%s: damaged PEM %s", what,
                                  cert ? "certificate" : "CRL");
                goto out;
            }
            BPT_CHECK(push_bundle_item(cert ? (OPENSSL_STACK **)certs : (OPENSSL_STACK **)crl_out,
                                       x, cert ? free_x509 : free_crl,
                                       cert ? "certificates" : "CRLs", what));
            found++;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    /* End of input reads as "no start line"; anything else is a damaged PEM block. */
    unsigned long e = ERR_peek_last_error();
    if (found == 0 || (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE)) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "%s: %s", what,
                          found == 0 ? "no PEM certificate or CRL found" : "damaged PEM block");
        goto out;
    }
    ERR_clear_error();
    rc = 0;
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    sk_X509_CRL_pop_free(dropped, X509_CRL_free);
    return rc;
}

const char *bpt_pki_crl_sig_name(const X509_CRL *crl)
{
    const char *sn = OBJ_nid2ln(X509_CRL_get_signature_nid(crl));
    return sn ? sn : "an unknown algorithm";
}

int bpt_pki_verify_ecdsa_rs(EVP_PKEY *key, int bits, const uint8_t *r, const uint8_t *s, size_t n,
                            const void *msg, size_t msg_len, const char *what)
{
    return bpt_ecdsa_verify(key, bits, r, n, s, n, msg, msg_len, BPT_ECDSA_AUTO, what);
}

int bpt_pki_verify_p384_rs(EVP_PKEY *key, const uint8_t *r, const uint8_t *s, size_t n,
                           const void *msg, size_t msg_len, const char *what)
{
    return bpt_pki_verify_ecdsa_rs(key, 384, r, s, n, msg, msg_len, what);
}

int bpt_pki_ec_pub_from_xy(EVP_PKEY **out, int bits, const uint8_t *xy, const char *what)
{
    size_t n = (size_t)bits / 8;
    uint8_t point[1 + 2 * 66];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL;
    int rc = BPT_ERROR;

    *out = NULL;
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, xy, 2 * n);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 bits == 384 ? "P-384" : "P-256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * n);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "%s: not a P-%d public key", what, bits);
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int bpt_pki_parse_crl(X509_CRL **out, const uint8_t *p, size_t len, const char *what)
{
    bpt_buf der = BPT_BUF_INIT(BPT_LIMIT_COLLATERAL_BYTES);
    const unsigned char *q;
    X509_CRL *crl = NULL;
    int rc;

    *out = NULL;
    if (len == 0 || len > BPT_LIMIT_COLLATERAL_BYTES) {
        return bpt_err(BPT_EMALFORMED, "%s: CRL of %zu bytes (limit %u)", what, len,
                       BPT_LIMIT_COLLATERAL_BYTES);
    }
    if (looks_pem(p, len)) {
        BIO *bio = BIO_new_mem_buf(p, (int)len);
        crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!crl) {
            return bpt_err_ossl(BPT_EMALFORMED, "%s: not a PEM CRL", what);
        }
        *out = settle_crl(crl);
        return 0;
    }
    if (p[0] == 0x30) {
        BPT_CHECK(bpt_buf_append(&der, p, len));
    } else {
        /* Intel's collateral JSON and PCCS carry CRLs as hex text of the DER: text that is
         * not hex is a malformed CRL, not a bad argument. */
        if ((rc = bpt_hex_decode(&der, (const char *)p, len, what)) < 0) {
            rc = rc == BPT_EINVAL ? bpt_err(BPT_EMALFORMED,
                                            "%s: not a CRL (neither DER, PEM nor hex of DER)", what)
                                  : rc;
            goto out;
        }
    }
    q = der.data;
    crl = der.len <= LONG_MAX ? d2i_X509_CRL(NULL, &q, (long)der.len) : NULL;
    if (!crl) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "%s: not a DER CRL", what);
        goto out;
    }
    if ((size_t)(q - der.data) != der.len) {
        X509_CRL_free(crl);
        rc = bpt_err(BPT_EMALFORMED, "%s: trailing bytes after the CRL", what);
        goto out;
    }
    *out = settle_crl(crl);
    rc = 0;
out:
    bpt_buf_dispose(&der);
    return rc;
}

int bpt_pki_check_crl(X509_CRL *crl, X509 *issuer, int64_t at, const char *what)
{
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    time_t t = (time_t)at;
    char subj[256];

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
        return bpt_err(BPT_ESIGNATURE, "%s: issued by someone other than %s", what,
                       bpt_pki_subject(issuer, subj, sizeof(subj)));
    }
    if (!key || X509_CRL_verify(crl, key) != 1) {
        ERR_clear_error();
        return bpt_err(BPT_ESIGNATURE, "%s: signature does not verify with the key of %s", what,
                       bpt_pki_subject(issuer, subj, sizeof(subj)));
    }
    if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &t) > 0) {
        return bpt_err(BPT_ESIGNATURE, "%s: not yet valid at the verification time (thisUpdate)",
                       what);
    }
    if (!next) {
        return bpt_err(BPT_ESIGNATURE, "%s: has no nextUpdate, so its validity cannot be judged",
                       what);
    }
    if (X509_cmp_time(next, &t) < 0) {
        return bpt_err(BPT_ESIGNATURE, "%s: expired at the verification time (nextUpdate)", what);
    }
    return 0;
}

bool bpt_pki_crl_window(X509_CRL *crl, int64_t *not_before, int64_t *not_after)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    struct tm tm;
    if (!next || ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl), &tm) != 1) {
        return false;
    }
    *not_before = (int64_t)timegm(&tm);
    if (ASN1_TIME_to_tm(next, &tm) != 1) {
        return false;
    }
    *not_after = (int64_t)timegm(&tm);
    return true;
}

int bpt_pki_check_not_revoked(X509_CRL *crl, X509 *cert, const char *what)
{
    X509_REVOKED *rev = NULL;
    char subj[256];
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0) {
        return bpt_err(BPT_ESIGNATURE, "%s: the CRL's issuer is not the issuer of %s", what,
                       bpt_pki_subject(cert, subj, sizeof(subj)));
    }
    if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1) {
        return bpt_err(BPT_ESIGNATURE, "%s: %s is revoked", what,
                       bpt_pki_subject(cert, subj, sizeof(subj)));
    }
    return 0;
}

int bpt_pki_fingerprint(uint8_t out[32], X509 *cert)
{
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != 32) {
        return bpt_err_ossl(BPT_ERROR, "certificate fingerprint");
    }
    return 0;
}

int bpt_pki_check_root_copy(STACK_OF(X509) * carried, STACK_OF(X509) * chain, const char *what)
{
    int n = sk_X509_num(chain), m = sk_X509_num(carried), rc;
    X509 *root = n > 0 ? sk_X509_value(chain, n - 1) : NULL;
    uint8_t a[32], b[32];
    char ha[65], hb[65], subj[256];

    if (root == NULL) {
        return bpt_err(BPT_ESIGNATURE, "%s: no verified chain to compare the root copy with", what);
    }
    if (m < n) {
        return bpt_err(BPT_ESIGNATURE,
                       "%s: carries no copy of the root CA (%d of %d certificates; the chain "
                       "must end with %s)",
                       what, m, n, bpt_pki_subject(root, subj, sizeof(subj)));
    }
    X509 *copy = sk_X509_value(carried, n - 1);
    if (X509_cmp(copy, root) == 0) {
        return 0;
    }
    BPT_CHECK(bpt_pki_fingerprint(a, copy));
    BPT_CHECK(bpt_pki_fingerprint(b, root));
    bpt_hex_encode_to(ha, a, 32);
    bpt_hex_encode_to(hb, b, 32);
    rc = bpt_err(BPT_ESIGNATURE,
                 "%s: the root CA it carries differs from the trusted root (sha256 %s, trusted "
                 "%s)",
                 what, ha, hb);
out:
    return rc;
}

int bpt_pki_pinned_load(X509 **out, enum bpt_pinned_root id)
{
    const char *pem = bpt_pki_pinned_pem(id);
    BIO *bio;
    X509 *c;
    uint8_t fp[32], want[32];

    *out = NULL;
    if (!pem) {
        return bpt_err(BPT_EINVAL, "pki: no pinned root %d", (int)id);
    }
    bio = BIO_new_mem_buf(pem, -1);
    c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!c) {
        return bpt_err_ossl(BPT_ERROR, "pki: pinned %s does not parse", bpt_pki_pinned_name(id));
    }
    if (bpt_pki_fingerprint(fp, c) != 0 ||
        bpt_hex_decode_exact(want, 32, bpt_pki_pinned_fingerprint(id), 64, "fingerprint") != 0 ||
        memcmp(fp, want, 32) != 0) {
        X509_free(c);
        return bpt_err(BPT_ERROR, "pki: pinned %s does not match its fingerprint",
                       bpt_pki_pinned_name(id));
    }
    bpt_cert_settle(c);
    *out = c;
    return 0;
}

bool bpt_pki_valid_at(X509 *cert, int64_t at)
{
    time_t t = (time_t)at;
    return X509_cmp_time(X509_get0_notBefore(cert), &t) <= 0 &&
           X509_cmp_time(X509_get0_notAfter(cert), &t) >= 0;
}

const char *bpt_pki_name(const X509_NAME *name, char *buf, size_t len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int n = 0;
    buf[0] = '\0';
    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_read(bio, buf, (int)len - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    BIO_free(bio);
    return buf;
}

const char *bpt_pki_subject(X509 *cert, char *buf, size_t len)
{
    return bpt_pki_name(X509_get_subject_name(cert), buf, len);
}

/* Why X509_verify_cert() said no: a missing certificate is named as such, with where it would
 * come from; anything else with OpenSSL's reason. */
static int chain_error(X509_STORE_CTX *ctx, const struct bpt_pki_verify_opts *opts,
                       const char *what)
{
    int err = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    const char *sep = opts->where ? "; " : "", *where = opts->where ? opts->where : "";
    char subj[256] = "", issuer[256] = "";

    if (bad) {
        bpt_pki_subject(bad, subj, sizeof(subj));
        bpt_pki_name(X509_get_issuer_name(bad), issuer, sizeof(issuer));
    }
    ERR_clear_error();
    switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return bpt_err(BPT_ESIGNATURE,
                       "%s: certificate chain incomplete at depth %d: the issuer of %s (%s) is "
                       "missing: it is neither a trust root nor among the certificates given%s%s",
                       what, depth, subj[0] ? subj : "?", issuer[0] ? issuer : "?", sep, where);
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return bpt_err(BPT_ESIGNATURE,
                       "%s: certificate chain ends at depth %d in the self-signed %s, which is "
                       "not a trust root%s%s",
                       what, depth, subj[0] ? subj : "?", sep, where);
    default:
        return bpt_err(BPT_ESIGNATURE, "%s: certificate chain invalid at depth %d (%s): %s", what,
                       depth, subj[0] ? subj : "?", X509_verify_cert_error_string(err));
    }
}

int bpt_pki_verify_chain(STACK_OF(X509) * *chain_out, X509 *leaf, STACK_OF(X509) * untrusted,
                         STACK_OF(X509) * roots, const struct bpt_pki_verify_opts *opts,
                         const char *what)
{
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_VERIFY_PARAM *param;
    unsigned long flags = X509_V_FLAG_USE_CHECK_TIME;
    int rc = BPT_ERROR;

    if (chain_out) {
        *chain_out = NULL;
    }
    if (!roots || sk_X509_num(roots) == 0) {
        return bpt_err(BPT_EKEYS, "%s: no trust roots", what);
    }
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    if (!store || !ctx) {
        rc = bpt_err_nomem("X509 store");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(roots); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(roots, i)) != 1) {
            rc = bpt_err_ossl(BPT_ERROR, "%s: adding a trust root", what);
            goto out;
        }
    }
    if (opts->strict) {
        flags |= X509_V_FLAG_X509_STRICT;
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "%s: chain context", what);
        goto out;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, flags);
    X509_VERIFY_PARAM_set_time(param, (time_t)opts->at);
    if (opts->max_depth > 0) {
        X509_VERIFY_PARAM_set_depth(param, opts->max_depth);
    }
    if (X509_verify_cert(ctx) != 1) {
        rc = chain_error(ctx, opts, what);
        goto out;
    }
    if (chain_out) {
        *chain_out = X509_STORE_CTX_get1_chain(ctx);
        if (!*chain_out) {
            rc = bpt_err_nomem("chain");
            goto out;
        }
    }
    rc = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int bpt_pki_pinned_roots(STACK_OF(X509) * *out, const enum bpt_pinned_root *ids, size_t n_ids)
{
    STACK_OF(X509) *st = NULL;
    X509 *c = NULL;
    int rc = BPT_ERROR;

    *out = NULL;
    st = sk_X509_new_null();
    if (!st) {
        return bpt_err_nomem("root stack");
    }
    for (size_t i = 0; i < n_ids; i++) {
        BPT_CHECK(bpt_pki_pinned_load(&c, ids[i]));
        if (!sk_X509_push(st, c)) {
            rc = bpt_err_nomem("root stack");
            goto out;
        }
        c = NULL;
    }
    *out = st;
    st = NULL;
    rc = 0;
out:
    X509_free(c);
    sk_X509_pop_free(st, X509_free);
    return rc;
}
