#include "attester/sim/sev_snp.h"
#include "attester/sim/x509.h"

#include <blueprint-tee/buf.h>
#include <blueprint-tee/sev_snp.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

struct vek_ext_args {
    uint8_t hwid[64];
};

static int add_raw_ext(X509 *cert, const char *oid, const unsigned char *der, int der_len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int rc = 0;
    if (!obj || !os || ASN1_OCTET_STRING_set(os, der, der_len) != 1 ||
        !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) || !X509_add_ext(cert, ext, -1)) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: VCEK extension %s", oid);
    }
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return rc;
}

static int add_int_ext(X509 *cert, const char *oid, long v)
{
    ASN1_INTEGER *ai = ASN1_INTEGER_new();
    unsigned char *der = NULL;
    int n, rc;
    if (!ai || ASN1_INTEGER_set(ai, v) != 1 || (n = i2d_ASN1_INTEGER(ai, &der)) <= 0) {
        ASN1_INTEGER_free(ai);
        return bpt_err_ossl(BPT_ERROR, "sim: integer extension");
    }
    rc = add_raw_ext(cert, oid, der, n);
    OPENSSL_free(der);
    ASN1_INTEGER_free(ai);
    return rc;
}

static int add_vek_ext(X509 *cert, void *ud)
{
    struct vek_ext_args *a = ud;
    ASN1_IA5STRING *name = ASN1_IA5STRING_new();
    unsigned char *der = NULL;
    int n, rc;

    if (!name || ASN1_STRING_set(name, "Milan-B0", 8) != 1 ||
        (n = i2d_ASN1_IA5STRING(name, &der)) <= 0) {
        ASN1_IA5STRING_free(name);
        return bpt_err_ossl(BPT_ERROR, "sim: productName");
    }
    rc = add_raw_ext(cert, "1.3.6.1.4.1.3704.1.2", der, n);
    OPENSSL_free(der);
    ASN1_IA5STRING_free(name);
    if (rc == 0) {
        rc = add_int_ext(cert, "1.3.6.1.4.1.3704.1.3.1", BPT_SIM_SNP_BOOTLOADER);
    }
    if (rc == 0) {
        rc = add_int_ext(cert, "1.3.6.1.4.1.3704.1.3.2", BPT_SIM_SNP_TEE);
    }
    if (rc == 0) {
        rc = add_int_ext(cert, "1.3.6.1.4.1.3704.1.3.3", BPT_SIM_SNP_SNP);
    }
    if (rc == 0) {
        rc = add_int_ext(cert, "1.3.6.1.4.1.3704.1.3.8", BPT_SIM_SNP_MICROCODE);
    }
    if (rc == 0) {
        rc = add_raw_ext(cert, "1.3.6.1.4.1.3704.1.4", a->hwid, 64);
    }
    return rc;
}

/* Sign @p crl as AMD's ARK signs: RSASSA-PSS, SHA-384, MGF1 SHA-384, 48-byte salt (with
 * @p pkcs1, PKCS#1 v1.5 SHA-384 instead: a CRL the verifier must refuse). */
static int sign_crl_pss(X509_CRL *crl, EVP_PKEY *key, bool pkcs1)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = 0;
    if (!md || EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) != 1 ||
        (!pkcs1 && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1)) ||
        X509_CRL_sign_ctx(crl, md) <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: signing the CRL");
    }
    EVP_MD_CTX_free(md);
    return rc;
}

/* An entry for @p serial; with @p issuer, a certificateIssuer extension naming it (the entry
 * is then about a certificate that CA issued: an indirect entry). */
static int add_revoked(X509_CRL *crl, long serial, const X509_NAME *issuer)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_TIME *when = ASN1_TIME_new();
    GENERAL_NAMES *gens = NULL;
    GENERAL_NAME *gen = NULL;
    int rc = BPT_ERROR;

    if (!rev || !sn || !when || ASN1_INTEGER_set(sn, serial) != 1 ||
        X509_REVOKED_set_serialNumber(rev, sn) != 1 || !ASN1_TIME_set(when, BPT_SIM_NOT_BEFORE) ||
        X509_REVOKED_set_revocationDate(rev, when) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL entry");
        goto out;
    }
    if (issuer) {
        if (!(gens = GENERAL_NAMES_new()) || !(gen = GENERAL_NAME_new()) ||
            !(gen->d.directoryName = X509_NAME_dup(issuer))) {
            rc = bpt_err_nomem("sim: CRL entry issuer");
            goto out;
        }
        gen->type = GEN_DIRNAME;
        if (!sk_GENERAL_NAME_push(gens, gen)) {
            rc = bpt_err_nomem("sim: CRL entry issuer");
            goto out;
        }
        gen = NULL;
        if (X509_REVOKED_add1_ext_i2d(rev, NID_certificate_issuer, gens, 1, 0) != 1) {
            rc = bpt_err_ossl(BPT_ERROR, "sim: CRL entry issuer");
            goto out;
        }
    }
    if (X509_CRL_add0_revoked(crl, rev) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL entry");
        goto out;
    }
    rev = NULL;
    rc = 0;
out:
    GENERAL_NAME_free(gen);
    GENERAL_NAMES_free(gens);
    ASN1_TIME_free(when);
    ASN1_INTEGER_free(sn);
    X509_REVOKED_free(rev);
    return rc;
}

/* The CRL @p o describes, issued by @p ark (or another CA, whose key is @p other_key), as DER
 * (malloc'd). */
static int make_crl(uint8_t **der, size_t *len, X509 *ark, EVP_PKEY *ark_key, EVP_PKEY *other_key,
                    X509 *ask, X509 *vcek, const struct bpt_sim_snp_crl *o)
{
    X509_CRL *crl = X509_CRL_new();
    X509_NAME *other = NULL;
    ASN1_TIME *t = ASN1_TIME_new();
    unsigned char *p = NULL;
    int n, rc = BPT_ERROR;

    *der = NULL;
    if (!crl || !t || X509_CRL_set_version(crl, 1) != 1) {
        rc = bpt_err_nomem("sim: CRL");
        goto out;
    }
    if (o->foreign_issuer) {
        if (!(other = X509_NAME_new()) ||
            X509_NAME_add_entry_by_txt(other, "O", MBSTRING_ASC,
                                       (const unsigned char *)"bpt simulator", -1, -1, 0) != 1 ||
            X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_ASC,
                                       (const unsigned char *)"ARK-Other", -1, -1, 0) != 1) {
            rc = bpt_err_nomem("sim: CRL issuer");
            goto out;
        }
    }
    if (X509_CRL_set_issuer_name(crl, other ? other : X509_get_subject_name(ark)) != 1 ||
        !ASN1_TIME_set(t, o->this_update ? o->this_update : BPT_SIM_NOT_BEFORE) ||
        X509_CRL_set1_lastUpdate(crl, t) != 1 ||
        !ASN1_TIME_set(t, o->next_update ? o->next_update : BPT_SIM_NOT_AFTER) ||
        X509_CRL_set1_nextUpdate(crl, t) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL fields");
        goto out;
    }
    if (o->revoke_ask) {
        BPT_CHECK(add_revoked(crl, ASN1_INTEGER_get(X509_get0_serialNumber(ask)), NULL));
    }
    if (o->revoke_vcek) {
        BPT_CHECK(add_revoked(crl, ASN1_INTEGER_get(X509_get0_serialNumber(vcek)),
                              X509_get_subject_name(ask)));
    }
    if (X509_CRL_sort(crl) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL");
        goto out;
    }
    BPT_CHECK(
        sign_crl_pss(crl, o->foreign_issuer || o->foreign_key ? other_key : ark_key, o->pkcs1));
    if ((n = i2d_X509_CRL(crl, &p)) <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL DER");
        goto out;
    }
    if (!(*der = malloc((size_t)n))) {
        rc = bpt_err_nomem("sim: CRL");
        goto out;
    }
    memcpy(*der, p, (size_t)n);
    *len = (size_t)n;
    rc = 0;
out:
    OPENSSL_free(p);
    X509_NAME_free(other);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return rc;
}

/* DER CRL -> PEM text (malloc'd, NUL-terminated). */
static int crl_pem(char **out, const uint8_t *der, size_t len)
{
    const unsigned char *q = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    int rc = 0;

    *out = NULL;
    if (!crl || !bio || PEM_write_bio_X509_CRL(bio, crl) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0 || !(*out = malloc((size_t)n + 1))) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL PEM");
    } else {
        memcpy(*out, data, (size_t)n);
        (*out)[n] = '\0';
    }
    BIO_free(bio);
    X509_CRL_free(crl);
    return rc;
}

/* DIR/sev-snp/crl.der and crl.pem: the ARK's CRL, empty, valid as long as the certificates. */
static int write_crl(const char *sub, X509 *ark, EVP_PKEY *ark_key)
{
    static const struct bpt_sim_snp_crl none = {0};
    char path[4096];
    uint8_t *der = NULL;
    size_t len = 0;
    char *pem = NULL;
    int rc;

    BPT_CHECK(make_crl(&der, &len, ark, ark_key, NULL, NULL, NULL, &none));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "crl.der"));
    BPT_CHECK(bpt_file_write(path, der, len, false));
    BPT_CHECK(crl_pem(&pem, der, len));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "crl.pem"));
    BPT_CHECK(bpt_file_write(path, pem, strlen(pem), false));
out:
    bpt_free(pem);
    bpt_free(der);
    return rc;
}

int bpt_sim_sev_snp_init(const char *dir)
{
    char sub[4096], path[4096];
    EVP_PKEY *ark_key = NULL, *ask_key = NULL, *vcek_key = NULL;
    X509 *ark = NULL, *ask = NULL, *vcek = NULL;
    struct vek_ext_args args;
    unsigned char *der = NULL;
    int der_len, rc;

    BPT_CHECK(bpt_sim_path(sub, sizeof(sub), dir, "sev-snp"));
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        rc = bpt_err(BPT_EIO, "sim: cannot create %s: %s", sub, strerror(errno));
        goto out;
    }
    if (RAND_bytes(args.hwid, sizeof(args.hwid)) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: chip id");
        goto out;
    }
    BPT_CHECK(bpt_sim_keygen(&ark_key, "rsa"));
    BPT_CHECK(bpt_sim_keygen(&ask_key, "rsa"));
    BPT_CHECK(bpt_sim_keygen(&vcek_key, "P-384"));
    BPT_CHECK(bpt_sim_make_cert(&ark, ark_key, "ARK-Milan", NULL, NULL, 1,
                                BPT_SIM_SIG_RSA_PSS_SHA384, 1, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&ask, ask_key, "SEV-Milan", ark, ark_key, 0,
                                BPT_SIM_SIG_RSA_PSS_SHA384, 2, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&vcek, vcek_key, "SEV-VCEK", ask, ask_key, -1,
                                BPT_SIM_SIG_RSA_PSS_SHA384, 3, add_vek_ext, &args));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "ark.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, ark));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "root.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, ark));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "ask.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, ask));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "vcek.pem"));
    BPT_CHECK(bpt_sim_write_cert(path, vcek));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "vcek-key.pem"));
    BPT_CHECK(bpt_sim_write_key(path, vcek_key));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "ark-key.pem"));
    BPT_CHECK(bpt_sim_write_key(path, ark_key));
    der_len = i2d_X509(vcek, &der);
    if (der_len <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: VCEK DER");
        goto out;
    }
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "vcek.der"));
    BPT_CHECK(bpt_file_write(path, der, (size_t)der_len, false));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, "chip_id.bin"));
    BPT_CHECK(bpt_file_write(path, args.hwid, sizeof(args.hwid), false));
    BPT_CHECK(write_crl(sub, ark, ark_key));
    rc = 0;
out:
    OPENSSL_free(der);
    X509_free(ark);
    X509_free(ask);
    X509_free(vcek);
    EVP_PKEY_free(ark_key);
    EVP_PKEY_free(ask_key);
    EVP_PKEY_free(vcek_key);
    return rc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

int bpt_sim_sev_snp_sign(uint8_t report[1184], const char *dir)
{
    char path[4096];
    EVP_PKEY *key = NULL;
    int rc;

    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/vcek-key.pem"));
    BPT_CHECK(bpt_sim_read_key(&key, path));
    memset(report + BPT_SNP_SIGNED_SIZE, 0, BPT_SNP_REPORT_SIZE - BPT_SNP_SIGNED_SIZE);
    /* SEV-SNP: r and s little-endian, 72 bytes each, at 0x2A0. */
    BPT_CHECK(bpt_sim_sign_rs(report + 0x2A0, 72, true, key, report, BPT_SNP_SIGNED_SIZE));
out:
    EVP_PKEY_free(key);
    return rc;
}

int bpt_sim_sev_snp_attest(uint8_t **ev, size_t *ev_len, const char *dir,
                           const uint8_t report_data[64])
{
    char path[4096];
    bpt_buf chip = BPT_BUF_INIT(64);
    uint8_t *rep = NULL;
    static const uint8_t tcb[8] = {BPT_SIM_SNP_BOOTLOADER, BPT_SIM_SNP_TEE,      0, 0, 0, 0,
                                   BPT_SIM_SNP_SNP,        BPT_SIM_SNP_MICROCODE};
    int rc;

    *ev = NULL;
    *ev_len = 0;
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/chip_id.bin"));
    rc = bpt_file_read(&chip, path);
    if (rc < 0 || chip.len != 64) {
        rc = bpt_err(rc < 0 ? rc : BPT_EMALFORMED, "sim: %s: run 'bpt sim init' first", path);
        goto out;
    }
    rep = calloc(1, BPT_SNP_REPORT_SIZE);
    if (!rep) {
        rc = bpt_err_nomem("report");
        goto out;
    }
    put_le32(rep + 0x00, 3);       /* version */
    put_le32(rep + 0x08, 0x30133); /* policy: ABI 1.51, SMT allowed, reserved bit 17 */
    put_le32(rep + 0x30, 0);       /* vmpl */
    put_le32(rep + 0x34, 1);       /* ECDSA P-384 with SHA-384 */
    memcpy(rep + 0x38, tcb, 8);    /* current_tcb */
    rep[0x40] = 0x01;              /* platform_info: SMT enabled, TSME disabled */
    put_le32(rep + 0x48, 0);       /* signed by the VCEK */
    memcpy(rep + 0x50, report_data, 64);
    /* A fixed measurement: SHA-384 of the simulator's name. */
    BPT_CHECK(bpt_sha384(rep + 0x90, "bpt simulated SEV-SNP guest", 27));
    memcpy(rep + 0x180, tcb, 8); /* reported_tcb */
    rep[0x188] = 0x19;           /* CPUID family: Milan */
    rep[0x189] = 0x01;
    rep[0x18A] = 0x01;
    memcpy(rep + 0x1A0, chip.data, 64);
    memcpy(rep + 0x1E0, tcb, 8);       /* committed_tcb */
    rep[0x1E8] = BPT_SIM_SNP_FW_BUILD; /* current firmware: build, minor, major */
    rep[0x1E9] = BPT_SIM_SNP_FW_MINOR;
    rep[0x1EA] = BPT_SIM_SNP_FW_MAJOR;
    rep[0x1EC] = BPT_SIM_SNP_FW_BUILD; /* committed firmware: the same */
    rep[0x1ED] = BPT_SIM_SNP_FW_MINOR;
    rep[0x1EE] = BPT_SIM_SNP_FW_MAJOR;
    memcpy(rep + 0x1F0, tcb, 8); /* launch_tcb */
    BPT_CHECK(bpt_sim_sev_snp_sign(rep, dir));
    *ev = rep;
    *ev_len = BPT_SNP_REPORT_SIZE;
    rep = NULL;
    rc = 0;
out:
    free(rep);
    bpt_buf_dispose(&chip);
    return rc;
}

int bpt_sim_sev_snp_crl(uint8_t **der, size_t *len, const char *dir,
                        const struct bpt_sim_snp_crl *o)
{
    char path[4096];
    X509 *ark = NULL, *ask = NULL, *vcek = NULL;
    EVP_PKEY *ark_key = NULL, *other_key = NULL;
    int rc;

    *der = NULL;
    *len = 0;
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/ark.pem"));
    BPT_CHECK(bpt_sim_read_cert(&ark, path));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/ask.pem"));
    BPT_CHECK(bpt_sim_read_cert(&ask, path));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/vcek.pem"));
    BPT_CHECK(bpt_sim_read_cert(&vcek, path));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/ark-key.pem"));
    BPT_CHECK(bpt_sim_read_key(&ark_key, path));
    if (o->foreign_issuer || o->foreign_key) {
        /* Another CA's key: made once, kept beside the simulator's (RSA keys are slow to make). */
        BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/other-ca-key.pem"));
        if (bpt_sim_read_key(&other_key, path) != 0) {
            BPT_CHECK(bpt_sim_keygen(&other_key, "rsa"));
            BPT_CHECK(bpt_sim_write_key(path, other_key));
        }
    }
    rc = make_crl(der, len, ark, ark_key, other_key, ask, vcek, o);
out:
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(ark_key);
    X509_free(vcek);
    X509_free(ask);
    X509_free(ark);
    return rc;
}

int bpt_sim_sev_snp_certs_pem(char **out, const char *dir)
{
    char path[4096];
    bpt_buf b = BPT_BUF_INIT(BPT_LIMIT_CERT_CHAIN_BYTES);
    size_t n;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/vcek.pem"));
    BPT_CHECK(bpt_file_read(&b, path));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/ask.pem"));
    BPT_CHECK(bpt_file_read(&b, path));
    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "sev-snp/crl.pem"));
    BPT_CHECK(bpt_file_read(&b, path));
    rc = bpt_buf_detach((uint8_t **)out, &n, &b);
out:
    bpt_buf_dispose(&b);
    return rc;
}
