#include "attester/sim/x509.h"

#include "core/err.h"
#include "core/limits.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

int bpt_sim_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_EINVAL, "sim: path %s/%s too long", dir, name);
    }
    return 0;
}

int bpt_sim_keygen(EVP_PKEY **out, const char *kind)
{
    *out = strcmp(kind, "rsa") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                    : EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
    if (!*out) {
        return bpt_err_ossl(BPT_ERROR, "sim: generating a %s key", kind);
    }
    return 0;
}

static int add_ext_v3(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext || !X509_add_ext(cert, ext, -1)) {
        X509_EXTENSION_free(ext);
        return bpt_err_ossl(BPT_ERROR, "sim: extension %s", value);
    }
    X509_EXTENSION_free(ext);
    return 0;
}

int bpt_sim_make_cert(X509 **out, EVP_PKEY *key, const char *cn, X509 *issuer_cert,
                      EVP_PKEY *issuer_key, int pathlen, enum bpt_sim_sig sig, long serial,
                      int (*add_ext)(X509 *cert, void *ud), void *ud)
{
    X509 *c = X509_new();
    X509_NAME *name = NULL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *signer = issuer_key ? issuer_key : key;
    char bc[48];
    int rc = BPT_ERROR;

    *out = NULL;
    if (!c || !(name = X509_NAME_new())) {
        rc = bpt_err_nomem("certificate");
        goto out;
    }
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"bpt simulator", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, name);
    X509_set_issuer_name(c, issuer_cert ? X509_get_subject_name(issuer_cert) : name);
    ASN1_TIME_set(X509_getm_notBefore(c), BPT_SIM_NOT_BEFORE);
    ASN1_TIME_set(X509_getm_notAfter(c), BPT_SIM_NOT_AFTER);
    if (X509_set_pubkey(c, key) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: public key");
        goto out;
    }
    if (pathlen >= 0) {
        snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", pathlen);
        BPT_CHECK(add_ext_v3(c, issuer_cert, NID_basic_constraints, bc));
        BPT_CHECK(add_ext_v3(c, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
    } else {
        BPT_CHECK(add_ext_v3(c, issuer_cert, NID_key_usage, "critical,digitalSignature"));
    }
    BPT_CHECK(add_ext_v3(c, issuer_cert, NID_subject_key_identifier, "hash"));
    if (issuer_cert) {
        BPT_CHECK(add_ext_v3(c, issuer_cert, NID_authority_key_identifier, "keyid:always"));
    }
    if (add_ext) {
        BPT_CHECK(add_ext(c, ud));
    }
    md = EVP_MD_CTX_new();
    if (!md ||
        EVP_DigestSignInit(md, &pctx, sig == BPT_SIM_SIG_ECDSA_SHA256 ? EVP_sha256() : EVP_sha384(),
                           NULL, signer) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: signing setup");
        goto out;
    }
    if (sig == BPT_SIM_SIG_RSA_PSS_SHA384 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1)) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: RSA-PSS");
        goto out;
    }
    if (X509_sign_ctx(c, md) <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: signing %s", cn);
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    X509_NAME_free(name);
    X509_free(c);
    return rc;
}

static int write_bio_file(const char *path, BIO *bio, bool private_file)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0) {
        return bpt_err_ossl(BPT_ERROR, "sim: encoding %s", path);
    }
    return bpt_file_write(path, data, (size_t)n, private_file);
}

int bpt_sim_write_cert(const char *path, X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc;
    if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
        BIO_free(bio);
        return bpt_err_ossl(BPT_ERROR, "sim: PEM of %s", path);
    }
    rc = write_bio_file(path, bio, false);
    BIO_free(bio);
    return rc;
}

int bpt_sim_write_key(const char *path, EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    int rc;
    if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(bio);
        return bpt_err_ossl(BPT_ERROR, "sim: PEM of %s", path);
    }
    rc = write_bio_file(path, bio, true);
    BIO_free(bio);
    return rc;
}

static int read_pem(bpt_buf *b, const char *path)
{
    int rc = bpt_file_read(b, path);
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ENOTFOUND ? BPT_ENOTFOUND : rc,
                              "sim: run 'bpt sim init' first");
    }
    return 0;
}

int bpt_sim_read_cert(X509 **out, const char *path)
{
    bpt_buf b = BPT_BUF_INIT(BPT_LIMIT_CERT_CHAIN_BYTES);
    BIO *bio;
    int rc = read_pem(&b, path);
    *out = NULL;
    if (rc == 0) {
        bio = BIO_new_mem_buf(b.data, (int)b.len);
        *out = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        rc = *out ? 0 : bpt_err_ossl(BPT_EMALFORMED, "sim: %s is not a PEM certificate", path);
    }
    bpt_buf_dispose(&b);
    return rc;
}

int bpt_sim_read_key(EVP_PKEY **out, const char *path)
{
    bpt_buf b = BPT_BUF_INIT(64 * 1024);
    BIO *bio;
    int rc = read_pem(&b, path);
    *out = NULL;
    if (rc == 0) {
        bio = BIO_new_mem_buf(b.data, (int)b.len);
        *out = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        rc = *out ? 0 : bpt_err_ossl(BPT_EMALFORMED, "sim: %s is not a PEM private key", path);
    }
    bpt_buf_dispose(&b);
    return rc;
}

int bpt_sim_sign_rs(uint8_t *rs, size_t n, bool little_endian, EVP_PKEY *key, const void *msg,
                    size_t msg_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[160];
    size_t der_len = sizeof(der);
    const unsigned char *q = der;
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r, *s;
    int rc;

    if (!md ||
        EVP_DigestSignInit(md, NULL, EVP_PKEY_get_bits(key) > 256 ? EVP_sha384() : EVP_sha256(),
                           NULL, key) != 1 ||
        EVP_DigestSign(md, der, &der_len, msg, msg_len) != 1 ||
        !(sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len))) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: signing");
        goto out;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    if (little_endian ? (BN_bn2lebinpad(r, rs, (int)n) != (int)n ||
                         BN_bn2lebinpad(s, rs + n, (int)n) != (int)n)
                      : (BN_bn2binpad(r, rs, (int)n) != (int)n ||
                         BN_bn2binpad(s, rs + n, (int)n) != (int)n)) {
        rc = bpt_err(BPT_ERROR, "sim: signature encoding");
        goto out;
    }
    rc = 0;
out:
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return rc;
}

int bpt_sim_cert_pem(char **out, X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    *out = NULL;
    if (!bio || PEM_write_bio_X509(bio, cert) != 1 || (n = BIO_get_mem_data(bio, &data)) <= 0 ||
        !(*out = malloc((size_t)n + 1))) {
        BIO_free(bio);
        return bpt_err_ossl(BPT_ERROR, "sim: certificate PEM");
    }
    memcpy(*out, data, (size_t)n);
    (*out)[n] = '\0';
    BIO_free(bio);
    return 0;
}
