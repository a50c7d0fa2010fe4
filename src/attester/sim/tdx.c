/* Simulated Intel TDX: PKI, quotes and collateral in Intel's real formats (see sim_tdx.h). */
#include "attester/sim/tdx.h"
#include "attester/sim/x509.h"

#include <blueprint-tee/clock.h>
#include <blueprint-tee/tdx.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define SGX_OID "1.2.840.113741.1.13.1"
#define QE_ISVSVN 6
#define MODULE_SVN 6
#define DAY 86400

/* The platform's SGX TCB components, as the PCK certificate states them. */
static const uint8_t pck_comps[16] = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t qe_mrsigner[32] = {
    0xdc, 0x9e, 0x2a, 0x7c, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51,
    0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0xa8, 0xc5};

/* ---- a little DER, for the SGX extension ---------------------------------------------- */

static int der_tlv(bpt_buf *out, uint8_t tag, const uint8_t *p, size_t n)
{
    uint8_t hdr[4] = {tag};
    size_t h = 2;
    if (n < 128) {
        hdr[1] = (uint8_t)n;
    } else if (n < 256) {
        hdr[1] = 0x81;
        hdr[2] = (uint8_t)n;
        h = 3;
    } else {
        hdr[1] = 0x82;
        hdr[2] = (uint8_t)(n >> 8);
        hdr[3] = (uint8_t)n;
        h = 4;
    }
    return bpt_buf_append(out, hdr, h) == 0 && bpt_buf_append(out, p, n) == 0
               ? 0
               : bpt_err_nomem("sim: DER");
}

/* SEQUENCE { OID SGX_OID.arc, value } where value is DER already. */
static int der_item(bpt_buf *out, const char *arc, const uint8_t *value, size_t n)
{
    bpt_buf inner = BPT_BUF_INIT(4096);
    char oid[64];
    ASN1_OBJECT *o;
    unsigned char *der = NULL;
    int len, rc;
    snprintf(oid, sizeof(oid), "%s.%s", SGX_OID, arc);
    o = OBJ_txt2obj(oid, 1);
    len = o ? i2d_ASN1_OBJECT(o, &der) : -1;
    ASN1_OBJECT_free(o);
    if (len <= 0) {
        return bpt_err_ossl(BPT_ERROR, "sim: OID");
    }
    rc = bpt_buf_append(&inner, der, (size_t)len) == 0 && bpt_buf_append(&inner, value, n) == 0
             ? der_tlv(out, 0x30, inner.data, inner.len)
             : bpt_err_nomem("sim: DER");
    OPENSSL_free(der);
    bpt_buf_dispose(&inner);
    return rc;
}

static int der_small(bpt_buf *out, const char *arc, uint8_t tag, unsigned v)
{
    uint8_t val[4] = {tag, 0};
    size_t n;
    if (v < 128) {
        val[1] = 1;
        val[2] = (uint8_t)v;
        n = 3;
    } else if (v < 32768) {
        val[1] = 2;
        val[2] = (uint8_t)(v >> 8);
        val[3] = (uint8_t)v;
        n = 4;
    } else {
        return bpt_err(BPT_EINVAL, "sim: integer too large");
    }
    return der_item(out, arc, val, n);
}

static int der_octets(bpt_buf *out, const char *arc, const uint8_t *p, size_t n)
{
    bpt_buf v = BPT_BUF_INIT(256);
    int rc = der_tlv(&v, 0x04, p, n);
    if (rc == 0) {
        rc = der_item(out, arc, v.data, v.len);
    }
    bpt_buf_dispose(&v);
    return rc;
}

struct pck_args {
    uint8_t fmspc[6];
};

static int add_sgx_ext(X509 *cert, void *ud)
{
    struct pck_args *a = ud;
    bpt_buf items = BPT_BUF_INIT(8192), tcb = BPT_BUF_INIT(4096), seq = BPT_BUF_INIT(8192);
    static const uint8_t ppid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t pceid[2] = {0, 0};
    ASN1_OBJECT *obj = NULL;
    ASN1_OCTET_STRING *os = NULL;
    X509_EXTENSION *ext = NULL;
    int rc;

    for (int i = 0; i < 16; i++) {
        char arc[8];
        snprintf(arc, sizeof(arc), "2.%d", i + 1);
        BPT_CHECK(der_small(&tcb, arc, 0x02, pck_comps[i]));
    }
    BPT_CHECK(der_small(&tcb, "2.17", 0x02, BPT_SIM_TDX_PCESVN));
    BPT_CHECK(der_octets(&tcb, "2.18", pck_comps, 16));
    BPT_CHECK(der_tlv(&seq, 0x30, tcb.data, tcb.len));
    BPT_CHECK(der_octets(&items, "1", ppid, 16));
    BPT_CHECK(der_item(&items, "2", seq.data, seq.len));
    BPT_CHECK(der_octets(&items, "3", pceid, 2));
    BPT_CHECK(der_octets(&items, "4", a->fmspc, 6));
    BPT_CHECK(der_small(&items, "5", 0x0a, 1)); /* SGX Type: ENUMERATED scalable */
    bpt_buf_reset(&seq);
    BPT_CHECK(der_tlv(&seq, 0x30, items.data, items.len));
    obj = OBJ_txt2obj(SGX_OID, 1);
    os = ASN1_OCTET_STRING_new();
    if (!obj || !os || ASN1_OCTET_STRING_set(os, seq.data, (int)seq.len) != 1 ||
        !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) || !X509_add_ext(cert, ext, -1)) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: SGX extension");
        goto out;
    }
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    bpt_buf_dispose(&items);
    bpt_buf_dispose(&tcb);
    bpt_buf_dispose(&seq);
    return rc;
}

/* ---- the PKI ---------------------------------------------------------------------------- */

struct pki {
    EVP_PKEY *root_key, *ca_key, *pck_key, *tcb_key;
    X509 *root, *ca, *pck, *tcb;
};

static void pki_dispose(struct pki *k)
{
    EVP_PKEY_free(k->root_key);
    EVP_PKEY_free(k->ca_key);
    EVP_PKEY_free(k->pck_key);
    EVP_PKEY_free(k->tcb_key);
    X509_free(k->root);
    X509_free(k->ca);
    X509_free(k->pck);
    X509_free(k->tcb);
    memset(k, 0, sizeof(*k));
}

static const char *const pki_files[] = {"root", "pck-ca", "pck", "tcb-signing"};

static int pki_load(struct pki *k, const char *dir)
{
    EVP_PKEY **keys[] = {&k->root_key, &k->ca_key, &k->pck_key, &k->tcb_key};
    X509 **certs[] = {&k->root, &k->ca, &k->pck, &k->tcb};
    char path[4096], rel[64];
    int rc;
    memset(k, 0, sizeof(*k));
    for (int i = 0; i < 4; i++) {
        snprintf(rel, sizeof(rel), "tdx/%s.pem", pki_files[i]);
        BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, rel));
        BPT_CHECK(bpt_sim_read_cert(certs[i], path));
        snprintf(rel, sizeof(rel), "tdx/%s-key.pem", pki_files[i]);
        BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, rel));
        BPT_CHECK(bpt_sim_read_key(keys[i], path));
    }
out:
    if (rc < 0) {
        pki_dispose(k);
    }
    return rc;
}

int bpt_sim_tdx_init(const char *dir)
{
    struct pki k = {0};
    struct pck_args args;
    char sub[4096], path[4096], rel[64];
    int rc;

    BPT_CHECK(bpt_sim_path(sub, sizeof(sub), dir, "tdx"));
    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        rc = bpt_err(BPT_EIO, "sim: cannot create %s: %s", sub, strerror(errno));
        goto out;
    }
    BPT_CHECK(bpt_hex_decode_exact(args.fmspc, 6, BPT_SIM_TDX_FMSPC, 12, "fmspc"));
    BPT_CHECK(bpt_sim_keygen(&k.root_key, "P-256"));
    BPT_CHECK(bpt_sim_keygen(&k.ca_key, "P-256"));
    BPT_CHECK(bpt_sim_keygen(&k.pck_key, "P-256"));
    BPT_CHECK(bpt_sim_keygen(&k.tcb_key, "P-256"));
    BPT_CHECK(bpt_sim_make_cert(&k.root, k.root_key, "Simulated Intel SGX Root CA", NULL, NULL, 1,
                                BPT_SIM_SIG_ECDSA_SHA256, 1, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&k.ca, k.ca_key, "Intel SGX PCK Platform CA", k.root, k.root_key, 0,
                                BPT_SIM_SIG_ECDSA_SHA256, 2, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&k.pck, k.pck_key, "Intel SGX PCK Certificate", k.ca, k.ca_key, -1,
                                BPT_SIM_SIG_ECDSA_SHA256, 3, add_sgx_ext, &args));
    BPT_CHECK(bpt_sim_make_cert(&k.tcb, k.tcb_key, "Intel SGX TCB Signing", k.root, k.root_key, -1,
                                BPT_SIM_SIG_ECDSA_SHA256, 4, NULL, NULL));
    {
        EVP_PKEY *keys[] = {k.root_key, k.ca_key, k.pck_key, k.tcb_key};
        X509 *certs[] = {k.root, k.ca, k.pck, k.tcb};
        for (int i = 0; i < 4; i++) {
            snprintf(rel, sizeof(rel), "%s.pem", pki_files[i]);
            BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, rel));
            BPT_CHECK(bpt_sim_write_cert(path, certs[i]));
            snprintf(rel, sizeof(rel), "%s-key.pem", pki_files[i]);
            BPT_CHECK(bpt_sim_path(path, sizeof(path), sub, rel));
            BPT_CHECK(bpt_sim_write_key(path, keys[i]));
        }
    }
    /* Collateral valid for 30 days, for `bpt verify --collateral DIR/tdx/collateral.json`. */
    {
        struct bpt_sim_tdx_opts o = {.now = 0};
        char *coll = NULL;
        BPT_CHECK(bpt_sim_tdx_collateral(&coll, dir, &o));
        rc = bpt_sim_path(path, sizeof(path), sub, "collateral.json");
        if (rc == 0) {
            rc = bpt_file_write(path, coll, strlen(coll), false);
        }
        bpt_free(coll);
        BPT_CHECK(rc);
    }
    rc = 0;
out:
    pki_dispose(&k);
    return rc;
}

/* A copy of @p cert signed by a stranger key (a broken chain link). */
static int forge(X509 **out, X509 *cert)
{
    EVP_PKEY *stranger = NULL;
    int rc;
    *out = X509_dup(cert);
    BPT_CHECK(bpt_sim_keygen(&stranger, "P-256"));
    if (!*out || X509_sign(*out, stranger, EVP_sha256()) <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: forging a certificate");
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(stranger);
    return rc;
}

static int append_pem(bpt_buf *b, X509 *cert)
{
    char *pem = NULL;
    int rc = bpt_sim_cert_pem(&pem, cert);
    if (rc == 0) {
        rc = bpt_buf_append_str(b, pem);
    }
    free(pem);
    return rc;
}

/* ---- the quote -------------------------------------------------------------------------- */

static int put16(bpt_buf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return bpt_buf_append(b, p, 2);
}

static int put32(bpt_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return bpt_buf_append(b, p, 4);
}

static int put64(bpt_buf *b, uint64_t v)
{
    int rc = put32(b, (uint32_t)v);
    return rc < 0 ? rc : put32(b, (uint32_t)(v >> 32));
}

static int fill(bpt_buf *b, uint8_t byte, size_t n)
{
    uint8_t z[64];
    int rc = 0;
    memset(z, byte, sizeof(z));
    while (n && rc == 0) {
        size_t k = n < sizeof(z) ? n : sizeof(z);
        rc = bpt_buf_append(b, z, k);
        n -= k;
    }
    return rc;
}

static int td_body(bpt_buf *b, const struct bpt_sim_tdx_opts *o, bool v15)
{
    uint8_t svn[16] = {MODULE_SVN, o->module_major0 ? 0 : 1, 3};
    int rc;
    BPT_CHECK(bpt_buf_append(b, svn, 16));
    BPT_CHECK(fill(b, 0x5b, 48)); /* mr_seam */
    BPT_CHECK(fill(b, o->wrong_module_mrsigner ? 0x01 : 0x00, 48));
    BPT_CHECK(put64(b, 0));                                                  /* seam_attributes */
    BPT_CHECK(put64(b, o->td_attributes ? o->td_attributes : (1ull << 28))); /* SEPT_VE_DISABLE */
    BPT_CHECK(put64(b, 0x00000000000602e7ull));                              /* xfam */
    BPT_CHECK(fill(b, 0x91, 48));                                            /* mr_td */
    BPT_CHECK(fill(b, 0, 48 * 3)); /* mr_config_id, mr_owner, mr_owner_config */
    for (uint8_t i = 0; i < 4; i++) {
        BPT_CHECK(fill(b, (uint8_t)(0xa0 + i), 48)); /* rtmr0..3 */
    }
    BPT_CHECK(bpt_buf_append(b, o->report_data, 64));
    if (v15) {
        BPT_CHECK(fill(b, 0, 16 + 48)); /* tee_tcb_svn2, mr_servicetd */
    }
out:
    return rc;
}

/* The QE report (384 bytes): Intel's QE shape, report data binding the attestation key. */
static void qe_report(uint8_t out[384], const uint8_t att_key[64], const uint8_t *auth,
                      size_t auth_len, bool bad_binding)
{
    uint8_t buf[64 + 64];
    memset(out, 0, 384);
    out[48] = 0x15; /* attributes */
    out[56] = 0xe7;
    memcpy(out + 128, qe_mrsigner, 32);
    out[256] = 2; /* isv_prod_id */
    out[258] = QE_ISVSVN;
    memcpy(buf, att_key, 64);
    memcpy(buf + 64, auth, auth_len);
    if (bpt_sha256(out + 320, buf, 64 + auth_len) != 0) {
        memset(out + 320, 0, 32); /* no digest: a binding no verifier accepts */
    }
    if (bad_binding) {
        out[320] ^= 1;
    }
}

/*
 * A PCK chain made now: leaf with the SGX extensions under a CA named o->pck_ca_cn, and with
 * o->extra_intermediate one more CA under a fresh root (pathlen 2, written to DIR/tdx/root2.pem).
 * The PEM chain goes to @p chain, the leaf's key (for the QE report) to @p leaf_key.
 */
static int fresh_chain(bpt_buf *chain, EVP_PKEY **leaf_key, const char *dir, const struct pki *k,
                       const struct bpt_sim_tdx_opts *o)
{
    struct pck_args args;
    EVP_PKEY *rk = NULL, *ik = NULL, *ck = NULL;
    X509 *root = k->root, *inter = NULL, *ca = NULL, *leaf = NULL, *issuer;
    EVP_PKEY *issuer_key = k->root_key;
    char path[4096];
    int rc;

    BPT_CHECK(bpt_hex_decode_exact(args.fmspc, 6, BPT_SIM_TDX_FMSPC, 12, "fmspc"));
    if (o->extra_intermediate) {
        BPT_CHECK(bpt_sim_keygen(&rk, "P-256"));
        BPT_CHECK(bpt_sim_keygen(&ik, "P-256"));
        BPT_CHECK(bpt_sim_make_cert(&root, rk, "Simulated Intel SGX Root CA 2", NULL, NULL, 2,
                                    BPT_SIM_SIG_ECDSA_SHA256, 11, NULL, NULL));
        BPT_CHECK(bpt_sim_make_cert(&inter, ik, "Intel SGX Intermediate CA", root, rk, 1,
                                    BPT_SIM_SIG_ECDSA_SHA256, 12, NULL, NULL));
        BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "tdx/root2.pem"));
        BPT_CHECK(bpt_sim_write_cert(path, root));
    }
    issuer = inter ? inter : root;
    issuer_key = inter ? ik : issuer_key;
    BPT_CHECK(bpt_sim_keygen(&ck, "P-256"));
    BPT_CHECK(bpt_sim_keygen(leaf_key, "P-256"));
    BPT_CHECK(bpt_sim_make_cert(&ca, ck, o->pck_ca_cn ? o->pck_ca_cn : "Intel SGX PCK Platform CA",
                                issuer, issuer_key, 0, BPT_SIM_SIG_ECDSA_SHA256, 13, NULL, NULL));
    BPT_CHECK(bpt_sim_make_cert(&leaf, *leaf_key, "Intel SGX PCK Certificate", ca, ck, -1,
                                BPT_SIM_SIG_ECDSA_SHA256, 14, add_sgx_ext, &args));
    BPT_CHECK(append_pem(chain, leaf));
    BPT_CHECK(append_pem(chain, ca));
    if (inter) {
        BPT_CHECK(append_pem(chain, inter));
    }
    BPT_CHECK(append_pem(chain, root));
out:
    if (root != k->root) {
        X509_free(root);
    }
    X509_free(inter);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(ck);
    return rc;
}

int bpt_sim_tdx_quote(uint8_t **ev, size_t *ev_len, const char *dir,
                      const struct bpt_sim_tdx_opts *o)
{
    bpt_buf q = BPT_BUF_INIT(64 * 1024), chain = BPT_BUF_INIT(32 * 1024);
    struct pki k = {0};
    EVP_PKEY *att = NULL, *qe_key, *fresh_key = NULL;
    X509 *pck = NULL, *ca = NULL;
    uint8_t att_xy[65], auth[32], rep[384], rs[64];
    size_t xy_len = sizeof(att_xy), sig_len_at, signed_len;
    bool v5 = o->version == 5 || o->body15;
    int rc;

    *ev = NULL;
    BPT_CHECK(pki_load(&k, dir));
    BPT_CHECK(bpt_sim_keygen(&att, "P-256"));
    if (EVP_PKEY_get_octet_string_param(att, "encoded-pub-key", att_xy, sizeof(att_xy), &xy_len) !=
            1 ||
        xy_len != 65) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: attestation key");
        goto out;
    }
    if (o->att_key_off_curve) {
        memset(att_xy + 1, 0x01, 64); /* no point of P-256; the QE still binds these bytes */
    }
    for (size_t i = 0; i < sizeof(auth); i++) {
        auth[i] = (uint8_t)i;
    }
    /* Header: version, key type 2, TEE type TDX, reserved, Intel's QE vendor id, user data. */
    BPT_CHECK(put16(&q, v5 ? 5 : 4));
    BPT_CHECK(put16(&q, BPT_TDX_ATT_KEY_ECDSA_P256));
    BPT_CHECK(put32(&q, BPT_TDX_TEE_TYPE));
    BPT_CHECK(put32(&q, 0));
    {
        static const uint8_t vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                           0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
        BPT_CHECK(bpt_buf_append(&q, vendor, 16));
    }
    BPT_CHECK(fill(&q, 0, 20));
    if (v5) {
        BPT_CHECK(put16(&q, o->body15 ? 3 : 2));
        BPT_CHECK(put32(&q, o->body15 ? BPT_TDX_BODY15_SIZE : BPT_TDX_BODY10_SIZE));
    }
    BPT_CHECK(td_body(&q, o, o->body15));
    signed_len = q.len;
    BPT_CHECK(bpt_sim_sign_rs(rs, 32, false, att, q.data, signed_len));

    /* The PCK chain (possibly with a forged link, or a fresh one of another shape). */
    pck = k.pck;
    ca = k.ca;
    qe_key = k.pck_key;
    if (o->pck_ca_cn || o->extra_intermediate) {
        BPT_CHECK(fresh_chain(&chain, &fresh_key, dir, &k, o));
        qe_key = fresh_key;
    } else {
        if (o->bad_pck_sig) {
            BPT_CHECK(forge(&pck, k.pck));
        }
        if (o->bad_pck_ca_sig) {
            BPT_CHECK(forge(&ca, k.ca));
        }
        BPT_CHECK(append_pem(&chain, pck));
        BPT_CHECK(append_pem(&chain, ca));
        BPT_CHECK(append_pem(&chain, k.root));
    }
    qe_report(rep, att_xy + 1, auth, sizeof(auth), o->bad_qe_binding);

    sig_len_at = q.len;
    BPT_CHECK(put32(&q, 0)); /* signature data length, patched below */
    BPT_CHECK(bpt_buf_append(&q, rs, 64));
    BPT_CHECK(bpt_buf_append(&q, att_xy + 1, 64));
    BPT_CHECK(put16(&q, 6));
    BPT_CHECK(put32(&q, (uint32_t)(384 + 64 + 2 + sizeof(auth) + 2 + 4 + chain.len)));
    BPT_CHECK(bpt_buf_append(&q, rep, 384));
    BPT_CHECK(bpt_sim_sign_rs(rs, 32, false, qe_key, rep, 384));
    if (o->bad_qe_report_sig) {
        rs[5] ^= 1;
    }
    BPT_CHECK(bpt_buf_append(&q, rs, 64));
    BPT_CHECK(put16(&q, (uint16_t)sizeof(auth)));
    BPT_CHECK(bpt_buf_append(&q, auth, sizeof(auth)));
    BPT_CHECK(put16(&q, 5));
    BPT_CHECK(put32(&q, (uint32_t)chain.len));
    BPT_CHECK(bpt_buf_append(&q, chain.data, chain.len));
    {
        uint32_t n = (uint32_t)(q.len - sig_len_at - 4);
        uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
        memcpy(q.data + sig_len_at, le, 4);
    }
    BPT_CHECK(bpt_buf_detach(ev, ev_len, &q));
out:
    if (pck != k.pck) {
        X509_free(pck);
    }
    if (ca != k.ca) {
        X509_free(ca);
    }
    EVP_PKEY_free(att);
    EVP_PKEY_free(fresh_key);
    pki_dispose(&k);
    bpt_buf_dispose(&q);
    bpt_buf_dispose(&chain);
    return rc;
}

/* ---- collateral ------------------------------------------------------------------------- */

/* An issuer chain (signer, root) as PEM text under @p field, the signer forged if asked. */
static int add_chain(json_t *coll, const char *field, bool forged, X509 *signer, X509 *root)
{
    bpt_buf chain = BPT_BUF_INIT(32 * 1024);
    X509 *s = signer;
    int rc;
    if (forged) {
        BPT_CHECK(forge(&s, signer));
    }
    BPT_CHECK(append_pem(&chain, s));
    BPT_CHECK(append_pem(&chain, root));
    if (json_object_set_new(coll, field, json_stringn((char *)chain.data, chain.len)) != 0) {
        rc = bpt_err_nomem("sim: collateral");
    }
out:
    if (s != signer) {
        X509_free(s);
    }
    bpt_buf_dispose(&chain);
    return rc;
}

static int64_t or_default(int64_t v, int64_t d)
{
    return v ? v : d;
}

/* A CRL by @p issuer (signed by @p key), listing @p revoked (may be NULL), as hex DER;
 * @p next_update 0 leaves nextUpdate out. */
static int make_crl(json_t *coll, const char *field, X509 *issuer, EVP_PKEY *key, X509 *revoked,
                    int64_t this_update, int64_t next_update, bool forge_sig)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *t2 = next_update ? ASN1_TIME_set(NULL, (time_t)next_update) : NULL;
    EVP_PKEY *stranger = NULL;
    unsigned char *der = NULL;
    char *hex = NULL;
    int n, rc;

    if (!crl || !t1 || (next_update && !t2) || X509_CRL_set_version(crl, 1) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, t1) != 1 || (t2 && X509_CRL_set1_nextUpdate(crl, t2) != 1)) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: CRL");
        goto out;
    }
    if (revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        if (!r || X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) != 1 ||
            X509_REVOKED_set_revocationDate(r, t1) != 1 || X509_CRL_add0_revoked(crl, r) != 1) {
            X509_REVOKED_free(r);
            rc = bpt_err_ossl(BPT_ERROR, "sim: CRL entry");
            goto out;
        }
    }
    if (forge_sig) {
        BPT_CHECK(bpt_sim_keygen(&stranger, "P-256"));
    }
    if (X509_CRL_sort(crl) != 1 ||
        X509_CRL_sign(crl, stranger ? stranger : key, EVP_sha256()) <= 0 ||
        (n = i2d_X509_CRL(crl, &der)) <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "sim: signing a CRL");
        goto out;
    }
    BPT_CHECK(bpt_hex_encode(&hex, der, (size_t)n));
    json_object_set_new(coll, field, json_string(hex));
    rc = 0;
out:
    bpt_free(hex);
    OPENSSL_free(der);
    EVP_PKEY_free(stranger);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
    return rc;
}

static json_t *svn_list(const uint8_t svn[16])
{
    json_t *a = json_array();
    for (int i = 0; i < 16; i++) {
        json_array_append_new(a, json_pack("{s:i}", "svn", svn[i]));
    }
    return a;
}

static json_t *level(json_t *tcb, const char *status, int64_t date)
{
    char d[32];
    json_t *l = json_pack("{s:o,s:s,s:s}", "tcb", tcb, "tcbDate", bpt_time_format(d, date),
                          "tcbStatus", status ? status : "UpToDate");
    if (l && status && strcmp(status, "UpToDate") != 0) {
        json_object_set_new(l, "advisoryIDs", json_pack("[s]", "INTEL-SA-00000"));
    }
    return l;
}

/* Sign a JSON document: the exact text and its raw r||s signature in hex. */
static int signed_doc(json_t *coll, const char *field, const char *sig_field, json_t *doc,
                      EVP_PKEY *key)
{
    char *text = NULL, hex[129];
    uint8_t rs[64];
    int rc;
    BPT_CHECK(bpt_json_dump(&text, doc));
    BPT_CHECK(bpt_sim_sign_rs(rs, 32, false, key, text, strlen(text)));
    bpt_hex_encode_to(hex, rs, 64);
    json_object_set_new(coll, field, json_string(text));
    json_object_set_new(coll, sig_field, json_string(hex));
out:
    bpt_free(text);
    return rc;
}

static json_t *tcb_info(const struct bpt_sim_tdx_opts *o, int64_t now)
{
    uint8_t sgx[16], tdx[16] = {0, 0, 3};
    char issue[32], next[32];
    json_t *levels, *mods;

    memcpy(sgx, pck_comps, 16);
    if (o->platform_no_match) {
        sgx[7]++; /* one component above the platform's */
    }
    levels = json_pack("[o]",
                       level(json_pack("{s:o,s:i,s:o}", "sgxtcbcomponents", svn_list(sgx), "pcesvn",
                                       BPT_SIM_TDX_PCESVN, "tdxtcbcomponents", svn_list(tdx)),
                             o->platform_status, now - 30 * DAY));
    mods = json_pack(
        "[{s:s,s:s,s:s,s:s,s:[o]}]", "id", o->no_module_identity ? "TDX_02" : "TDX_01", "mrsigner",
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000",
        "attributes", "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF", "tcbLevels",
        level(json_pack("{s:i}", "isvsvn", o->module_no_match ? MODULE_SVN + 1 : 4),
              o->module_status, now - 30 * DAY));
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:i,s:{s:s,s:s,s:s},s:o,s:o}", "id", "TDX",
                     "version", 3, "issueDate",
                     bpt_time_format(issue, or_default(o->tcb_issue, now - 3600)), "nextUpdate",
                     bpt_time_format(next, or_default(o->tcb_next, now + 30 * DAY)), "fmspc",
                     o->wrong_fmspc ? "00906ED50001" : BPT_SIM_TDX_FMSPC, "pceId",
                     o->wrong_pceid ? "0001" : "0000", "tcbType", 0, "tcbEvaluationDataNumber", 17,
                     "tdxModule", "mrsigner",
                     "00000000000000000000000000000000000000000000000000000000000000000000000000000"
                     "0000000000000000000",
                     "attributes", "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF",
                     "tdxModuleIdentities", mods, "tcbLevels", levels);
}

static json_t *qe_identity(const struct bpt_sim_tdx_opts *o, int64_t now)
{
    char issue[32], next[32], mrsigner[65];
    uint8_t m[32];
    memcpy(m, qe_mrsigner, 32);
    if (o->wrong_qe_mrsigner) {
        m[0] ^= 1;
    }
    bpt_hex_encode_to(mrsigner, m, 32);
    return json_pack(
        "{s:s,s:i,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:[o]}", "id", "TD_QE", "version", 2,
        "issueDate", bpt_time_format(issue, or_default(o->qe_issue, now - 3600)), "nextUpdate",
        bpt_time_format(next, or_default(o->qe_next, now + 30 * DAY)), "tcbEvaluationDataNumber",
        17, "miscselect", "00000000", "miscselectMask", "FFFFFFFF", "attributes",
        "11000000000000000000000000000000", "attributesMask", "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner", mrsigner, "isvprodid", 2, "tcbLevels",
        level(json_pack("{s:i}", "isvsvn", o->qe_below_levels ? QE_ISVSVN + 1 : QE_ISVSVN),
              o->qe_status, now - 30 * DAY));
}

int bpt_sim_tdx_collateral(char **json, const char *dir, const struct bpt_sim_tdx_opts *o)
{
    struct pki k = {0};
    int64_t now = o->now ? o->now : bpt_time_now();
    json_t *coll = json_object(), *doc = NULL;
    int rc;

    *json = NULL;
    BPT_CHECK(pki_load(&k, dir));
    BPT_CHECK(add_chain(coll, "pck_crl_issuer_chain", o->bad_pck_crl_issuer_sig, k.ca, k.root));
    BPT_CHECK(add_chain(coll, "tcb_info_issuer_chain", o->bad_tcb_signer_sig, k.tcb, k.root));
    BPT_CHECK(add_chain(coll, "qe_identity_issuer_chain", o->bad_qe_signer_sig, k.tcb, k.root));
    BPT_CHECK(make_crl(coll, "root_ca_crl", k.root, k.root_key,
                       o->revoke_pck_ca       ? k.ca
                       : o->revoke_tcb_signer ? k.tcb
                                              : NULL,
                       or_default(o->root_crl_this, now - 3600),
                       or_default(o->root_crl_next, now + 365 * DAY), o->bad_root_crl_sig));
    BPT_CHECK(make_crl(coll, "pck_crl", k.ca, k.ca_key, o->revoke_pck ? k.pck : NULL,
                       or_default(o->pck_crl_this, now - 3600),
                       o->pck_crl_no_next_update ? 0 : or_default(o->pck_crl_next, now + 30 * DAY),
                       o->bad_pck_crl_sig));
    if (!(doc = tcb_info(o, now))) {
        rc = bpt_err_nomem("sim: tcbInfo");
        goto out;
    }
    BPT_CHECK(signed_doc(coll, "tcb_info", "tcb_info_signature", doc, k.tcb_key));
    json_decref(doc);
    if (!(doc = qe_identity(o, now))) {
        rc = bpt_err_nomem("sim: qeIdentity");
        goto out;
    }
    BPT_CHECK(signed_doc(coll, "qe_identity", "qe_identity_signature", doc, k.tcb_key));
    BPT_CHECK(bpt_json_dump(json, coll));
out:
    json_decref(doc);
    json_decref(coll);
    pki_dispose(&k);
    return rc;
}

int bpt_sim_tdx_resign(char **json, const char *dir)
{
    char path[4096], *text = NULL, hex[129];
    static const char *const docs[][2] = {{"tcb_info", "tcb_info_signature"},
                                          {"qe_identity", "qe_identity_signature"}};
    EVP_PKEY *key = NULL;
    json_t *coll = NULL;
    uint8_t rs[64];
    int rc;

    BPT_CHECK(bpt_sim_path(path, sizeof(path), dir, "tdx/tcb-signing-key.pem"));
    BPT_CHECK(bpt_sim_read_key(&key, path));
    BPT_CHECK(bpt_json_parse(&coll, *json, strlen(*json), "sim: collateral"));
    for (size_t i = 0; i < 2; i++) {
        const char *body = json_string_value(json_object_get(coll, docs[i][0]));
        if (!body) {
            rc = bpt_err(BPT_EINVAL, "sim: collateral lacks %s", docs[i][0]);
            goto out;
        }
        BPT_CHECK(bpt_sim_sign_rs(rs, 32, false, key, body, strlen(body)));
        bpt_hex_encode_to(hex, rs, 64);
        json_object_set_new(coll, docs[i][1], json_string(hex));
    }
    BPT_CHECK(bpt_json_dump(&text, coll));
    bpt_free(*json);
    *json = text;
out:
    json_decref(coll);
    EVP_PKEY_free(key);
    return rc;
}
