/*
 * Intel TDX: DCAP quote v4/v5 parsing and verification (see tdx.h for the order of checks).
 * Layout facts: Intel TDX DCAP Quoting Library API, "Quote Format" (header 48 bytes, TD report
 * body 584 / 648 bytes, ECDSA quote signature data with certification data type 6 -> 5).
 */
#include <blueprint-tee/tdx.h>

#include "attestation/collateral/collateral_cache.h"
#include "attestation/collateral/pcs.h"
#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"
#include "attestation/policy_internal.h"
#include "attestation/providers/providers.h"
#include "attestation/providers/tdx_internal.h"
#include "attestation/verified_internal.h"

#include <blueprint-tee/secret.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/reader.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* Intel's Quoting Enclave vendor id. */
static const uint8_t intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                            0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/*
 * A reserved field: @p n bytes that must be zero. A set bit there would change the quote's
 * bytes, and so its evidence hash, without changing what it attests (issue 13).
 */
static int reserved(struct bpt_reader *r, size_t n, const char *field)
{
    const uint8_t *p = NULL;
    size_t off = bpt_reader_offset(r);
    int rc;
    BPT_CHECK(bpt_reader_view(r, &p, n, field));
    if (!bpt_all_zero(p, n)) {
        return bpt_err(BPT_EMALFORMED,
                       "tdx: quote: reserved field %s (%zu bytes at offset %zu) is "
                       "not zero",
                       field, n, off);
    }
out:
    return rc;
}

static int parse_sgx_report(struct bpt_reader *r, bpt_sgx_report_body *b)
{
    int rc;
    BPT_CHECK(bpt_reader_copy(r, b->cpu_svn, 16, "qe_report.cpu_svn"));
    BPT_CHECK(bpt_reader_u32le(r, &b->misc_select, "qe_report.misc_select"));
    BPT_CHECK(reserved(r, 12, "qe_report.reserved1"));
    BPT_CHECK(bpt_reader_copy(r, b->isv_ext_prod_id, 16, "qe_report.isv_ext_prod_id"));
    BPT_CHECK(bpt_reader_copy(r, b->attributes, 16, "qe_report.attributes"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_enclave, 32, "qe_report.mr_enclave"));
    BPT_CHECK(reserved(r, 32, "qe_report.reserved2"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_signer, 32, "qe_report.mr_signer"));
    BPT_CHECK(reserved(r, 32, "qe_report.reserved3"));
    BPT_CHECK(bpt_reader_copy(r, b->config_id, 64, "qe_report.config_id"));
    BPT_CHECK(bpt_reader_u16le(r, &b->isv_prod_id, "qe_report.isv_prod_id"));
    BPT_CHECK(bpt_reader_u16le(r, &b->isv_svn, "qe_report.isv_svn"));
    BPT_CHECK(bpt_reader_u16le(r, &b->config_svn, "qe_report.config_svn"));
    BPT_CHECK(reserved(r, 42, "qe_report.reserved4"));
    BPT_CHECK(bpt_reader_copy(r, b->isv_family_id, 16, "qe_report.isv_family_id"));
    BPT_CHECK(bpt_reader_copy(r, b->report_data, 64, "qe_report.report_data"));
out:
    return rc;
}

static int parse_td_body(struct bpt_reader *r, bpt_tdx_td_report *b, bool v15)
{
    int rc;
    BPT_CHECK(bpt_reader_copy(r, b->tee_tcb_svn, 16, "body.tee_tcb_svn"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_seam, 48, "body.mr_seam"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_signer_seam, 48, "body.mr_signer_seam"));
    BPT_CHECK(bpt_reader_u64le(r, &b->seam_attributes, "body.seam_attributes"));
    BPT_CHECK(bpt_reader_u64le(r, &b->td_attributes, "body.td_attributes"));
    BPT_CHECK(bpt_reader_u64le(r, &b->xfam, "body.xfam"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_td, 48, "body.mr_td"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_config_id, 48, "body.mr_config_id"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_owner, 48, "body.mr_owner"));
    BPT_CHECK(bpt_reader_copy(r, b->mr_owner_config, 48, "body.mr_owner_config"));
    for (int i = 0; i < 4; i++) {
        BPT_CHECK(bpt_reader_copy(r, b->rtmr[i], 48, "body.rtmr"));
    }
    BPT_CHECK(bpt_reader_copy(r, b->report_data, 64, "body.report_data"));
    if (v15) {
        BPT_CHECK(bpt_reader_copy(r, b->tee_tcb_svn2, 16, "body.tee_tcb_svn2"));
        BPT_CHECK(bpt_reader_copy(r, b->mr_servicetd, 48, "body.mr_servicetd"));
    }
out:
    return rc;
}

/* Certification data type 6: QE report, its signature, QE auth data, then type 5 (PCK chain). */
static int parse_qe_cert_data(struct bpt_reader *r, bpt_tdx_quote *q, size_t base)
{
    struct bpt_reader inner;
    uint16_t auth_len = 0, type = 0;
    uint32_t size = 0;
    const uint8_t *view;
    int rc;

    BPT_CHECK(bpt_reader_copy(r, q->qe_report_raw, BPT_SGX_REPORT_BODY_SIZE, "qe_report"));
    bpt_reader_init(&inner, q->qe_report_raw, BPT_SGX_REPORT_BODY_SIZE, "tdx: quote");
    BPT_CHECK(parse_sgx_report(&inner, &q->qe_report));
    BPT_CHECK(bpt_reader_copy(r, q->qe_report_signature, 64, "qe_report_signature"));
    BPT_CHECK(bpt_reader_u16le(r, &auth_len, "qe_auth_data.size"));
    q->qe_auth_off = base + bpt_reader_offset(r);
    q->qe_auth_len = auth_len;
    BPT_CHECK(bpt_reader_skip(r, auth_len, "qe_auth_data"));
    BPT_CHECK(bpt_reader_u16le(r, &type, "pck_cert_data.type"));
    if (type != 5) {
        return bpt_err(BPT_EMALFORMED,
                       "tdx: quote: QE certification data type %u (expected 5, the PCK chain)",
                       type);
    }
    BPT_CHECK(bpt_reader_u32le(r, &size, "pck_cert_data.size"));
    q->pck_chain_off = base + bpt_reader_offset(r);
    q->pck_chain_len = size;
    BPT_CHECK(bpt_reader_view(r, &view, size, "pck_cert_data"));
    BPT_CHECK(bpt_reader_end(r, "tdx: quote: QE certification data"));
out:
    return rc;
}

/* The first version of bpt_tdx_quote: a caller's size may never be smaller. */
#define TDX_QUOTE_V1_SIZE sizeof(bpt_tdx_quote)

static int tdx_parse(bpt_tdx_quote *q, const uint8_t *ev, size_t len);

int bpt_tdx_parse(bpt_tdx_quote *out, const uint8_t *ev, size_t len)
{
    bpt_tdx_quote full = BPT_TDX_QUOTE_INIT;
    int rc = bpt_sized_check(out, TDX_QUOTE_V1_SIZE, "bpt_tdx_quote");
    if (rc == 0) {
        rc = tdx_parse(&full, ev, len);
        bpt_sized_out(out, &full, sizeof(full));
    }
    return rc;
}

static int tdx_parse(bpt_tdx_quote *q, const uint8_t *ev, size_t len)
{
    struct bpt_reader r, sig, cert;
    uint32_t sig_len = 0, cert_size = 0, body_size = BPT_TDX_BODY10_SIZE;
    uint16_t cert_type = 0;
    size_t sig_base, cert_base, rest;
    const uint8_t *tail;
    int rc;

    if (!ev) {
        return bpt_err(BPT_EMALFORMED, "tdx: no quote");
    }
    bpt_reader_init(&r, ev, len, "tdx: quote");
    BPT_CHECK(bpt_reader_u16le(&r, &q->version, "header.version"));
    BPT_CHECK(bpt_reader_u16le(&r, &q->att_key_type, "header.att_key_type"));
    BPT_CHECK(bpt_reader_u32le(&r, &q->tee_type, "header.tee_type"));
    if (q->version != 4 && q->version != 5) {
        return bpt_err(BPT_EMALFORMED, "tdx: quote version %u (expected 4 or 5)%s", q->version,
                       q->version == 3 ? "; version 3 quotes are SGX" : "");
    }
    if (q->tee_type != BPT_TDX_TEE_TYPE) {
        return bpt_err(BPT_EMALFORMED, "tdx: quote TEE type 0x%x (expected 0x81, TDX)%s",
                       q->tee_type, q->tee_type == 0 ? "; this is an SGX quote" : "");
    }
    if (q->att_key_type != BPT_TDX_ATT_KEY_ECDSA_P256) {
        return bpt_err(BPT_EMALFORMED,
                       "tdx: quote attestation key type %u (expected 2, ECDSA-256-with-P-256)",
                       q->att_key_type);
    }
    BPT_CHECK(reserved(&r, 4, "header.reserved"));
    BPT_CHECK(bpt_reader_copy(&r, q->qe_vendor_id, 16, "header.qe_vendor_id"));
    BPT_CHECK(bpt_reader_copy(&r, q->user_data, 20, "header.user_data"));
    q->body_type = 2;
    if (q->version == 5) {
        BPT_CHECK(bpt_reader_u16le(&r, &q->body_type, "body_descriptor.type"));
        BPT_CHECK(bpt_reader_u32le(&r, &body_size, "body_descriptor.size"));
        if (!((q->body_type == 2 && body_size == BPT_TDX_BODY10_SIZE) ||
              (q->body_type == 3 && body_size == BPT_TDX_BODY15_SIZE))) {
            return bpt_err(BPT_EMALFORMED,
                           "tdx: quote body type %u of %u bytes (expected type 2 of 584 or "
                           "type 3 of 648 bytes)%s",
                           q->body_type, body_size,
                           q->body_type == 1 ? "; type 1 is an SGX enclave report" : "");
        }
    }
    BPT_CHECK(parse_td_body(&r, &q->body, q->body_type == 3));
    q->signed_len = bpt_reader_offset(&r);

    BPT_CHECK(bpt_reader_u32le(&r, &sig_len, "signature_data.size"));
    sig_base = bpt_reader_offset(&r);
    BPT_CHECK(bpt_reader_sub(&r, &sig, sig_len, "signature_data"));
    BPT_CHECK(bpt_reader_copy(&sig, q->signature, 64, "signature"));
    BPT_CHECK(bpt_reader_copy(&sig, q->attestation_key, 64, "attestation_key"));
    BPT_CHECK(bpt_reader_u16le(&sig, &cert_type, "certification_data.type"));
    if (cert_type != 6) {
        return bpt_err(BPT_EMALFORMED,
                       "tdx: quote certification data type %u (expected 6, QE report "
                       "certification data)",
                       cert_type);
    }
    BPT_CHECK(bpt_reader_u32le(&sig, &cert_size, "certification_data.size"));
    cert_base = sig_base + bpt_reader_offset(&sig);
    BPT_CHECK(bpt_reader_sub(&sig, &cert, cert_size, "certification_data"));
    BPT_CHECK(parse_qe_cert_data(&cert, q, cert_base));
    BPT_CHECK(bpt_reader_end(&sig, "tdx: quote: signature data"));

    /* Some quote generators pad the quote; only zeros may follow. */
    rest = bpt_reader_remaining(&r);
    BPT_CHECK(bpt_reader_view(&r, &tail, rest, "padding"));
    if (!bpt_all_zero(tail, rest)) {
        return bpt_err(BPT_EMALFORMED,
                       "tdx: quote: %zu bytes after the signature data are not "
                       "zero padding",
                       rest);
    }
    q->trailing_zeros = rest;
    rc = 0;
out:
    return rc;
}

/* SHA-256 over a label and the parts that chose a cached item. */
static int cache_key(uint8_t out[32], const char *label, const bpt_verify_ctx *ctx, const void *a,
                     size_t a_len, const void *b, size_t b_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int rc = BPT_ERROR;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, label, strlen(label) + 1) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "tdx: cache key");
        goto out;
    }
    BPT_CHECK(bpt_verify_ctx_digest_roots(md, ctx));
    if (EVP_DigestUpdate(md, &a_len, sizeof(a_len)) != 1 || EVP_DigestUpdate(md, a, a_len) != 1 ||
        EVP_DigestUpdate(md, b, b_len) != 1 || EVP_DigestFinal_ex(md, out, &n) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "tdx: cache key");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

/* The trust roots, loaded on first use: with both caches warm they are never needed. */
struct roots {
    const bpt_verify_ctx *ctx;
    STACK_OF(X509) * st;
};

static int get_roots(STACK_OF(X509) * *out, struct roots *r)
{
    static const enum bpt_pinned_root intel = BPT_ROOT_INTEL_SGX_ROOT_CA;
    int rc = 0;
    if (!r->st) {
        rc = bpt_verify_ctx_roots(&r->st, r->ctx, &intel, 1);
    }
    *out = r->st;
    return rc;
}

/* The PCK chain: PCK certificate -> PCK Platform/Processor CA -> root, at the policy time. */
static int verify_pck(STACK_OF(X509) * *chain, EVP_PKEY **key, struct bpt_pck_ext *ext,
                      const uint8_t *ev, const bpt_tdx_quote *q, const bpt_verify_ctx *ctx,
                      struct roots *lazy, int64_t at)
{
    struct bpt_pki_verify_opts opts = {
        .at = at,
        .max_depth = 3,
        .strict = true,
        .where = bpt_verify_ctx_has_trust_roots(ctx)
                     ? "the quote's certification data carries the PCK certificate and its CA; "
                       "the root must be one of the context's trust roots (they replace the "
                       "pinned Intel SGX Root CA): add this chain's root to them (DER or PEM)"
                     : "the quote's certification data carries the PCK certificate and its CA, "
                       "and the root is the pinned Intel SGX Root CA: a chain to another root "
                       "(a simulator's) needs that root in the context's trust roots (DER or "
                       "PEM)"};
    STACK_OF(X509) *certs = NULL, *roots = NULL;
    uint8_t ckey[32];
    X509 *leaf;
    int rc;

    *chain = NULL;
    *key = NULL;
    if (ctx->chain_cache) {
        BPT_CHECK(cache_key(ckey, "tdx/pck", ctx, ev + q->pck_chain_off, q->pck_chain_len, "", 0));
        if (bpt_chain_cache_get(ctx->chain_cache, ckey, at, key, ext, sizeof(*ext), chain) == 1) {
            return 0;
        }
    }
    BPT_CHECK(bpt_pki_parse_certs_cached(&certs, ctx->cert_cache, ev + q->pck_chain_off,
                                         q->pck_chain_len, "tdx: PCK certificate chain"));
    leaf = sk_X509_value(certs, 0);
    BPT_CHECK(bpt_pck_extensions(ext, leaf));
    BPT_CHECK(get_roots(&roots, lazy));
    BPT_CHECK(bpt_pki_verify_chain(chain, leaf, certs, roots, &opts, "tdx: PCK chain"));
    if (sk_X509_num(*chain) != 3) {
        rc = bpt_err(BPT_ESIGNATURE,
                     "tdx: PCK chain has %d certificates (expected the PCK certificate, its CA "
                     "and the root)",
                     sk_X509_num(*chain));
        goto out;
    }
    /* as Intel's QVL: the quote's copy of the root must be the trusted root itself */
    BPT_CHECK(bpt_pki_check_root_copy(certs, *chain, "tdx: PCK chain"));
    if (!(*key = X509_get_pubkey(leaf))) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "tdx: PCK public key");
        goto out;
    }
    if (ctx->chain_cache) {
        BPT_CHECK(
            bpt_chain_cache_put(ctx->chain_cache, ckey, *chain, true, *key, ext, sizeof(*ext)));
    }
    rc = 0;
out:
    if (rc < 0) {
        sk_X509_pop_free(*chain, X509_free);
        *chain = NULL;
        EVP_PKEY_free(*key);
        *key = NULL;
    }
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* Collateral: the context's or the evidence's, else cached on disk or fetched; verified, or
 * taken verified from the cache. */
static int get_collateral(struct bpt_tdx_collateral **out, const bpt_verify_ctx *ctx,
                          const struct bpt_evidence *ev, const struct bpt_pck_ext *ext,
                          struct roots *lazy, int64_t at)
{
    STACK_OF(X509) *roots = NULL;
    const struct bpt_tdx_collateral_prepared *prepared;
    char *fetched = NULL;
    const char *json = bpt_verify_ctx_collateral(ctx, ev);
    uint8_t ckey[32], digest[32];
    int rc;

    *out = NULL;
    if (!json) {
        BPT_CHECK(bpt_tdx_pcs_collateral(&fetched, ctx->pccs_url, ctx->cache_dir, ctx->offline,
                                         ext->fmspc, ext->platform_ca, at));
        json = fetched;
    }
    if (ctx->collateral_cache) {
        BPT_CHECK(bpt_verify_ctx_collateral_digest(digest, ctx, json));
        BPT_CHECK(cache_key(ckey, "tdx/collateral", ctx, ext->fmspc, 6, digest, 32));
        if (bpt_collateral_cache_get(ctx->collateral_cache, ckey, at, out) == 1) {
            rc = 0;
            goto out;
        }
    }
    BPT_CHECK(get_roots(&roots, lazy));
    /* The context's collateral was parsed when set: every check of it, without parsing it. */
    if ((prepared = bpt_verify_ctx_collateral_prepared(ctx, json)) != NULL) {
        BPT_CHECK(bpt_tdx_collateral_check(out, prepared, roots, at));
    }
    if (!*out) {
        BPT_CHECK(
            bpt_tdx_collateral_verify_cached(out, json, strlen(json), roots, at, ctx->cert_cache));
    }
    if (ctx->collateral_cache) {
        bpt_collateral_cache_put(ctx->collateral_cache, ckey, *out);
    }
    rc = 0;
out:
    bpt_free(fetched);
    return rc;
}

/* QE report signature (PCK key), its binding of the attestation key, the quote signature. */
static int verify_signatures(const uint8_t *ev, const bpt_tdx_quote *q, EVP_PKEY *pck_key,
                             const bpt_verify_ctx *ctx)
{
    EVP_PKEY *att = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t digest[32];
    unsigned int n = 0;
    int rc;

    if (memcmp(q->qe_vendor_id, intel_qe_vendor, 16) != 0) {
        return bpt_err(BPT_ESIGNATURE, "tdx: the quote's QE vendor id is not Intel's");
    }
    BPT_CHECK(bpt_pki_verify_ecdsa_rs(pck_key, 256, q->qe_report_signature,
                                      q->qe_report_signature + 32, 32, q->qe_report_raw,
                                      BPT_SGX_REPORT_BODY_SIZE, "tdx: QE report signature"));
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, q->attestation_key, 64) != 1 ||
        EVP_DigestUpdate(md, ev + q->qe_auth_off, q->qe_auth_len) != 1 ||
        EVP_DigestFinal_ex(md, digest, &n) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "tdx: QE report data digest");
        goto out;
    }
    if (memcmp(digest, q->qe_report.report_data, 32) != 0 ||
        !bpt_all_zero(q->qe_report.report_data + 32, 32)) {
        rc = bpt_err(BPT_ESIGNATURE, "tdx: QE report data is not SHA-256(attestation key || QE "
                                     "authentication data) followed by zeros");
        goto out;
    }
    BPT_CHECK(bpt_verify_ctx_ec_key(&att, ctx, 256, q->attestation_key, "tdx: attestation key"));
    BPT_CHECK(bpt_pki_verify_ecdsa_rs(att, 256, q->signature, q->signature + 32, 32, ev,
                                      q->signed_len, "tdx: quote signature"));
out:
    EVP_PKEY_free(att);
    EVP_MD_CTX_free(md);
    return rc;
}

static void status_list(char *buf, size_t len, unsigned mask)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < BPT_TCB_STATUS_COUNT; i++) {
        if (mask & (1u << i)) {
            int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                             bpt_tcb_status_name((bpt_tdx_tcb_status)i));
            used += n > 0 && (size_t)n < len - used ? (size_t)n : 0;
        }
    }
}

static int expect_bytes(bool has, const uint8_t *want, const uint8_t *got, size_t n,
                        const char *name)
{
    char g[97], w[97];
    if (!has || memcmp(want, got, n) == 0) {
        return 0;
    }
    bpt_hex_encode_to(g, got, n);
    bpt_hex_encode_to(w, want, n);
    return bpt_err(BPT_ECLAIM, "tdx: %s %s != expected %s", name, g, w);
}

static void le_bytes(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

static int check_policy(const bpt_tdx_quote *q, const struct bpt_tdx_tcb_result *tcb,
                        const bpt_policy *p)
{
    const bpt_tdx_td_report *b = &q->body;
    uint8_t xfam[8], seam[8];
    char names[256];
    int rc;

    if (!(p->tdx.accepted_tcb & (1u << tcb->final))) {
        char *adv = json_dumps(tcb->advisories, JSON_COMPACT);
        status_list(names, sizeof(names), p->tdx.accepted_tcb);
        rc = bpt_err(BPT_ECLAIM,
                     "tdx: TCB status %s is not accepted by the policy (accepts %s)%s%.200s",
                     bpt_tcb_status_name(tcb->final), names,
                     adv && strcmp(adv, "[]") != 0 ? "; advisories " : "",
                     adv && strcmp(adv, "[]") != 0 ? adv : "");
        free(adv);
        return rc;
    }
    if ((b->td_attributes & BPT_TDX_ATTR_DEBUG) && !p->allow_debug) {
        return bpt_err(BPT_ECLAIM, "tdx: the TD is debuggable (TD attribute DEBUG set) and the "
                                   "policy refuses debug-mode TEEs");
    }
    BPT_CHECK(bpt_policy_check_measurement(p, b->mr_td, 48, "tdx: measurement (MRTD)"));
    for (int i = 0; i < BPT_POLICY_MAX_RTMRS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "RTMR%d", i);
        BPT_CHECK(expect_bytes(p->tdx.has_rtmr[i], p->tdx.rtmr[i], b->rtmr[i], 48, name));
    }
    BPT_CHECK(expect_bytes(p->tdx.has_mr_config_id, p->tdx.mr_config_id, b->mr_config_id, 48,
                           "MR_CONFIG_ID"));
    BPT_CHECK(expect_bytes(p->tdx.has_mr_owner, p->tdx.mr_owner, b->mr_owner, 48, "MR_OWNER"));
    BPT_CHECK(expect_bytes(p->tdx.has_mr_owner_config, p->tdx.mr_owner_config, b->mr_owner_config,
                           48, "MR_OWNER_CONFIG"));
    BPT_CHECK(expect_bytes(p->tdx.has_mr_seam, p->tdx.mr_seam, b->mr_seam, 48, "MR_SEAM"));
    le_bytes(xfam, b->xfam);
    le_bytes(seam, b->seam_attributes);
    BPT_CHECK(expect_bytes(p->tdx.has_xfam, p->tdx.xfam, xfam, 8, "XFAM"));
    BPT_CHECK(expect_bytes(p->tdx.has_seam_attributes, p->tdx.seam_attributes, seam, 8,
                           "SEAM attributes"));
    BPT_CHECK(bpt_policy_check_report_data(p, b->report_data, "tdx: report_data"));
    rc = 0;
out:
    return rc;
}

static json_t *tcb_json(const struct bpt_tdx_tcb_result *t, const struct bpt_tdx_collateral *c,
                        const struct bpt_pck_ext *ext)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:O,s:o,s:i,s:I}", "status", bpt_tcb_status_name(t->final),
                  "platform_status", bpt_tcb_status_name(t->platform), "qe_status",
                  bpt_tcb_status_name(t->qe), "tcb_date", t->tcb_date, "advisory_ids",
                  t->advisories, "fmspc", bpt_json_hex(ext->fmspc, 6), "pce_svn", ext->pcesvn,
                  "tcb_evaluation_data_number", (json_int_t)c->tcb.eval_number);
    if (o && t->has_module_status) {
        json_object_set_new(o, "module_status", json_string(bpt_tcb_status_name(t->module)));
        json_object_set_new(o, "module_identity", json_string(t->module_id));
    }
    return o;
}

static int build_report(bpt_report **out, const uint8_t *ev, size_t ev_len, const bpt_tdx_quote *q,
                        const struct bpt_tdx_tcb_result *tcb, const struct bpt_pck_ext *ext,
                        int64_t at)
{
    const bpt_tdx_td_report *b = &q->body;
    bpt_report *r = NULL;
    struct bpt_claims *c;
    bpt_measurement m;
    json_t *rtmrs = json_array();
    uint8_t raw[8];
    char text[160];
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_report_new(&r, BPT_PROVIDER_INTEL_TDX, BPT_FORMAT_TDX_QUOTE));
    BPT_CHECK(bpt_report_set_evidence(r, ev, ev_len));
    bpt_report_set_issued_at(r, at > 0 ? (uint64_t)at : 0);
    BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", b->mr_td, 48));
    bpt_report_set_measurement(r, &m);
    c = bpt_report_claims_mut(r);
    c->debug_mode = (b->td_attributes & BPT_TDX_ATTR_DEBUG) != 0;
    snprintf(text, sizeof(text), "TDX module %u.x svn %u, quote v%u, TCB %s", b->tee_tcb_svn[1],
             b->tee_tcb_svn[0], q->version, bpt_tcb_status_name(tcb->final));
    BPT_CHECK(bpt_claims_set_platform_version(c, text));
    for (int i = 0; i < 4; i++) {
        bpt_hex_encode_to(text, b->rtmr[i], 48);
        BPT_CHECK(bpt_claims_add_boot_measurement(c, text));
        json_array_append_new(rtmrs, json_string(text));
    }
    bpt_hex_encode_to(text, b->mr_signer_seam, 48);
    BPT_CHECK(bpt_claims_set_signer_id(c, text));
    BPT_CHECK(bpt_claims_set_user_data(c, b->report_data, 64));
    BPT_CHECK(bpt_claims_set_customv(c, "rtmr", json_incref(rtmrs)));
    BPT_CHECK(bpt_claims_set_customv(c, "mr_seam", bpt_json_hex(b->mr_seam, 48)));
    BPT_CHECK(bpt_claims_set_customv(c, "mr_signer_seam", bpt_json_hex(b->mr_signer_seam, 48)));
    BPT_CHECK(bpt_claims_set_customv(c, "mr_config_id", bpt_json_hex(b->mr_config_id, 48)));
    BPT_CHECK(bpt_claims_set_customv(c, "mr_owner", bpt_json_hex(b->mr_owner, 48)));
    BPT_CHECK(bpt_claims_set_customv(c, "mr_owner_config", bpt_json_hex(b->mr_owner_config, 48)));
    /* 64-bit fields as hex of their bytes in the quote's order, as the policy takes them. */
    le_bytes(raw, b->td_attributes);
    BPT_CHECK(bpt_claims_set_customv(c, "td_attributes", bpt_json_hex(raw, 8)));
    le_bytes(raw, b->seam_attributes);
    BPT_CHECK(bpt_claims_set_customv(c, "seam_attributes", bpt_json_hex(raw, 8)));
    le_bytes(raw, b->xfam);
    BPT_CHECK(bpt_claims_set_customv(c, "xfam", bpt_json_hex(raw, 8)));
    BPT_CHECK(bpt_claims_set_customv(c, "tee_tcb_svn", bpt_json_hex(b->tee_tcb_svn, 16)));
    if (q->body_type == 3) {
        BPT_CHECK(bpt_claims_set_customv(c, "tee_tcb_svn2", bpt_json_hex(b->tee_tcb_svn2, 16)));
        BPT_CHECK(bpt_claims_set_customv(c, "mr_servicetd", bpt_json_hex(b->mr_servicetd, 48)));
    }
    BPT_CHECK(bpt_claims_set_customv(c, "quote_version", json_integer(q->version)));
    BPT_CHECK(bpt_claims_set_customv(c, "fmspc", bpt_json_hex(ext->fmspc, 6)));
    BPT_CHECK(
        bpt_claims_set_customv(c, "tcb_status", json_string(bpt_tcb_status_name(tcb->final))));
    *out = r;
    r = NULL;
    rc = 0;
out:
    json_decref(rtmrs);
    bpt_report_free(r);
    return rc;
}

/* TCB Info must describe the PCK certificate's platform: its FMSPC and PCE-ID. */
static int same_platform(const uint8_t *tcb, const uint8_t *pck, size_t n, const char *name)
{
    char a[13], b[13];
    if (memcmp(tcb, pck, n) == 0) {
        return 0;
    }
    bpt_hex_encode_to(a, tcb, n);
    bpt_hex_encode_to(b, pck, n);
    return bpt_err(BPT_ESIGNATURE, "tdx: TCB Info is for %s %s, the PCK certificate's is %s", name,
                   a, b);
}

static int tdx_verify(bpt_verify_result *res, const struct bpt_evidence *evidence,
                      const bpt_verify_ctx *ctx, const bpt_policy *policy, void *state)
{
    const uint8_t *ev = evidence->bytes;
    int64_t at = evidence->at;
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    struct bpt_pck_ext ext;
    struct bpt_tdx_tcb_result tcb = {0};
    struct bpt_tdx_collateral *col = NULL;
    struct roots roots = {.ctx = ctx};
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *pck_key = NULL;
    int rc;

    (void)state;
    BPT_CHECK(bpt_tdx_parse(&q, ev, evidence->len));
    BPT_CHECK(verify_pck(&chain, &pck_key, &ext, ev, &q, ctx, &roots, at));
    BPT_CHECK(get_collateral(&col, ctx, evidence, &ext, &roots, at));

    /* Revocation: the PCK certificate on the PCK CRL, its CA on the root CA CRL. */
    BPT_CHECK(bpt_pki_check_not_revoked(col->pck_crl, sk_X509_value(chain, 0), "tdx: PCK CRL"));
    BPT_CHECK(
        bpt_pki_check_not_revoked(col->root_crl, sk_X509_value(chain, 1), "tdx: root CA CRL"));

    BPT_CHECK(verify_signatures(ev, &q, pck_key, ctx));

    BPT_CHECK(same_platform(col->tcb.fmspc, ext.fmspc, 6, "FMSPC"));
    BPT_CHECK(same_platform(col->tcb.pceid, ext.pceid, 2, "PCE-ID"));
    BPT_CHECK(bpt_tdx_tcb_evaluate(&tcb, col, &ext, &q));
    /* The TCB is known from here on: a refusal by the policy still reports it (the refusal
     * JSON of bpt_verify_explain() carries the status). */
    if (!(res->d.tcb = tcb_json(&tcb, col, &ext))) {
        rc = bpt_err_nomem("tcb");
        goto out;
    }

    /* Only now, with the quote authenticated and its TCB known, judge its claims. */
    BPT_CHECK(check_policy(&q, &tcb, policy));
    BPT_CHECK(build_report(&res->report, ev, evidence->len, &q, &tcb, &ext, at));
    memcpy(res->d.report_data, q.body.report_data, 64);
    res->d.report_data_len = 64;
    if (json_array_size(tcb.advisories) > 0) {
        res->d.warnings = json_pack("[s]", "the TCB level carries security advisories (see "
                                           "tcb.advisory_ids)");
    }
    rc = 0;
out:
    json_decref(tcb.advisories);
    bpt_tdx_collateral_release(col);
    EVP_PKEY_free(pck_key);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(roots.st, X509_free);
    return rc;
}

const bpt_verifier_vtable bpt_tdx_verifier = {
    .api_version = BPT_VERIFIER_API_VERSION,
    .name = "intel_tdx",
    .provider = BPT_PROVIDER_INTEL_TDX,
    .kind = BPT_EVIDENCE_TDX_QUOTE,
    .level = BPT_VERIFICATION_CRYPTOGRAPHIC,
    .verify = tdx_verify,
};

int bpt_tdx_verify(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                   const uint8_t *ev, size_t ev_len)
{
    return bpt_verifier_run_direct(out, &bpt_tdx_verifier, ctx, policy, ev, ev_len);
}

int bpt_tdx_fetch_collateral(char **out_json, const bpt_verify_ctx *ctx, const uint8_t *quote,
                             size_t len)
{
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    struct bpt_pck_ext ext;
    STACK_OF(X509) *certs = NULL;
    int rc;

    if (!out_json) {
        return bpt_err(BPT_EINVAL, "tdx: no out pointer");
    }
    *out_json = NULL;
    BPT_CHECK(bpt_tdx_parse(&q, quote, len));
    BPT_CHECK(bpt_pki_parse_certs(&certs, quote + q.pck_chain_off, q.pck_chain_len,
                                  "tdx: PCK certificate chain"));
    BPT_CHECK(bpt_pck_extensions(&ext, sk_X509_value(certs, 0)));
    BPT_CHECK(bpt_tdx_pcs_collateral(out_json, ctx ? ctx->pccs_url : NULL,
                                     ctx ? ctx->cache_dir : NULL, bpt_verify_ctx_offline(ctx),
                                     ext.fmspc, ext.platform_ca, bpt_verify_ctx_at(ctx)));
out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}
