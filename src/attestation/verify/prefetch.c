/*
 * Prefetching (verify.h, bpt_verify_prefetch): everything a verification of some evidence
 * would fetch, fetched now into the context's cache directory, so that a later verification
 * with that directory and no network (bpt_verify_ctx_set_offline) finds it: an SEV-SNP VCEK
 * (AMD KDS), TDX collateral (Intel PCS or a PCCS), a JWK set (Azure MAA, GCP). Each piece is
 * looked up in the cache first and, after a fetch, looked up again the way an offline
 * verification will: what this reports as stored, such a verification finds.
 *
 * The cache layout is the collateral modules' own (kds.c, pcs.c, jwks.c). Nothing fetched is
 * verified here: verification does that, as it does with anything from the cache.
 */
#include <blueprint-tee/sev_snp.h>
#include <blueprint-tee/tdx.h>
#include <blueprint-tee/verify.h>

#include "attestation/collateral/jwks.h"
#include "attestation/collateral/kds.h"
#include "attestation/collateral/pcs.h"
#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/policy_internal.h"
#include "attestation/pki/pki.h"
#include "attestation/providers/jwt_internal.h"
#include "attestation/providers/sev_snp_internal.h"
#include "attestation/providers/tdx_internal.h"
#include "attestation/verify/verify_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <string.h>

#include <openssl/objects.h>

/* One line of the summary: what, for which provider, and what became of it. */
static int item(json_t *items, bpt_provider p, const char *what, const char *state,
                const char *detail)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "provider", bpt_provider_name(p), "what", what,
                          "state", state, "detail", detail);
    if (!o || json_array_append_new(items, o) != 0) {
        return bpt_err_nomem("prefetch");
    }
    return 0;
}

/*
 * The three steps every piece takes, through its collateral module's lookup @p get (offline
 * true: the cache only): the cache; else a fetch (which stores it); then the cache again.
 * *state says which answered.
 */
struct lookup {
    int (*get)(const struct lookup *l, bool offline);
    const bpt_verify_ctx *ctx;
    const char *what;
    /* per piece */
    const bpt_snp_report *snp;
    bpt_snp_product product;
    const struct bpt_pck_ext *pck;
    const char *url;
    bool vlek; /* the SEV-SNP CRL: the VLEK path's (ASVKs) */
};

static int fetch_piece(const char **state, const struct lookup *l)
{
    char why[512];
    int rc;
    if (l->get(l, true) == 0) {
        *state = "cached";
        return 0;
    }
    if (l->ctx->offline) {
        /* missing, damaged or out of date: the lookup's own words say which */
        snprintf(why, sizeof(why), "%s", bpt_error_last());
        return bpt_err(BPT_EKEYS,
                       "prefetch: %s is not usable from the cache directory and the context is "
                       "offline (%s)",
                       l->what, why);
    }
    BPT_CHECK(l->get(l, false));
    if (l->get(l, true) < 0) {
        return bpt_err(BPT_EIO,
                       "prefetch: %s was fetched, but an offline lookup in the cache directory "
                       "%.200s does not find it (is the directory writable, and the collateral "
                       "current at the verification time?)",
                       l->what, l->ctx->cache_dir);
    }
    *state = "fetched";
out:
    return rc;
}

/* ---- SEV-SNP: the VCEK ---------------------------------------------------------------------- */

static int vcek_get(const struct lookup *l, bool offline)
{
    bpt_buf der = BPT_BUF_INIT(BPT_KDS_MAX_CERT_BYTES);
    bpt_snp_tcb t = bpt_sev_snp_tcb_decode(l->snp->reported_tcb, l->product);
    int rc = bpt_kds_vcek(&der, l->ctx->kds_url, l->ctx->cache_dir, offline,
                          bpt_snp_product_name(l->product), l->snp->chip_id,
                          (struct bpt_kds_tcb){t.fmc, t.bootloader, t.tee, t.snp, t.microcode});
    bpt_buf_dispose(&der);
    return rc;
}

/* The VCEK or VLEK among the certificates given (the context's, the evidence's), and the CRLs
 * given; *vek NULL when none is given (free it with X509_free()). */
static void given_snp(X509 **vek, STACK_OF(X509_CRL) * *crls, const bpt_verify_ctx *ctx,
                      const struct bpt_evidence *ev)
{
    STACK_OF(X509) *all = NULL;

    *vek = NULL;
    if (bpt_verify_ctx_given(&all, crls, ctx, ev, "prefetch: certificates") < 0) {
        /* Unreadable ones are verification's to refuse; here they give nothing. */
        sk_X509_CRL_pop_free(*crls, X509_CRL_free);
        *crls = NULL;
        sk_X509_pop_free(all, X509_free);
        all = NULL;
    }
    for (int i = 0; !*vek && all && i < sk_X509_num(all); i++) {
        char cn[128] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(all, i)), NID_commonName, cn,
                                  sizeof(cn));
        if (strstr(cn, "VCEK") || strstr(cn, "VLEK")) {
            *vek = sk_X509_value(all, i);
            X509_up_ref(*vek);
        }
    }
    sk_X509_pop_free(all, X509_free);
}

/* The product a VCEK or CRL is fetched for: the report's CPUID, else the policy's only product,
 * else (for the CRL) the productName of the VCEK/VLEK given, as verification resolves it. */
static bpt_snp_product snp_product(const bpt_snp_report *rep, const bpt_policy *p, X509 *vek)
{
    unsigned ps = p->sev_snp.products;
    struct bpt_snp_vek_ext ext;
    if (rep->cpuid_product != BPT_SNP_PRODUCT_UNKNOWN) {
        return rep->cpuid_product;
    }
    if (ps == BPT_SNP_PRODUCT_MILAN || ps == BPT_SNP_PRODUCT_GENOA || ps == BPT_SNP_PRODUCT_TURIN) {
        return ps == BPT_SNP_PRODUCT_MILAN   ? BPT_SNP_MILAN
               : ps == BPT_SNP_PRODUCT_GENOA ? BPT_SNP_GENOA
                                             : BPT_SNP_TURIN;
    }
    if (vek && bpt_snp_vek_extensions(&ext, vek) == 0) {
        return bpt_snp_product_from_name(ext.product_name);
    }
    return BPT_SNP_PRODUCT_UNKNOWN;
}

/* ---- SEV-SNP: AMD's CRL --------------------------------------------------------------------- */

/*
 * The ARK's CRL for the product and path (VCEK: the ASKs', VLEK: the ASVKs') in the cache file
 * the revocation check reads (bpt_kds_crl_cache_path()): offline, it must be there as one CRL
 * valid at the verification time; else it is fetched from KDS (bpt_kds_crl_fetch()) and stored.
 * Its issuer and signature are checked by the verification that reads it, as for everything
 * prefetched (a cached CRL that does not verify is passed over there, never used).
 */
static int crl_get(const struct lookup *l, bool offline)
{
    bpt_buf der = BPT_BUF_INIT(BPT_KDS_MAX_CRL_BYTES);
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    const char *product = bpt_snp_product_name(l->product);
    char path[BPT_KDS_PATH_MAX];
    int64_t nb = 0, na = 0, at = bpt_verify_ctx_at(l->ctx);
    int rc;

    BPT_CHECK(bpt_kds_crl_cache_path(path, sizeof(path), l->ctx->cache_dir, l->vlek, product));
    if (!offline) {
        BPT_CHECK(bpt_kds_crl_fetch(&der, l->ctx->kds_url, l->vlek, product));
        bpt_kds_cache_store(l->ctx->cache_dir, path, der.data, der.len);
        rc = 0;
        goto out;
    }
    if (bpt_file_read(&der, path) != 0 || der.len == 0) {
        rc = bpt_err(BPT_ENOTFOUND, "prefetch: %s is not in the cache directory", l->what);
        goto out;
    }
    if (bpt_pki_parse_bundle(&certs, &crls, der.data, der.len, "prefetch: cached CRL") < 0 ||
        sk_X509_num(certs) > 0 || sk_X509_CRL_num(crls) != 1) {
        rc = bpt_err(BPT_EMALFORMED, "prefetch: the cached %s is not one CRL", l->what);
        goto out;
    }
    if (!bpt_pki_crl_window(sk_X509_CRL_value(crls, 0), &nb, &na) || at < nb || at > na) {
        rc = bpt_err(BPT_EKEYS, "prefetch: the cached %s is not valid at the verification time",
                     l->what);
        goto out;
    }
    rc = 0;
out:
    sk_X509_pop_free(certs, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    bpt_buf_dispose(&der);
    return rc;
}

/* A CRL given that the product's ARK ("ARK-Milan", ...) issued: verification takes it, and
 * looks in the cache only when none is given. */
static bool crl_given(STACK_OF(X509_CRL) * crls, bpt_snp_product product)
{
    char want[32], cn[64];
    snprintf(want, sizeof(want), "ARK-%s", bpt_snp_product_name(product));
    for (int i = 0; crls && i < sk_X509_CRL_num(crls); i++) {
        cn[0] = '\0';
        X509_NAME_get_text_by_NID(X509_CRL_get_issuer(sk_X509_CRL_value(crls, i)), NID_commonName,
                                  cn, sizeof(cn));
        if (strcmp(cn, want) == 0) {
            return true;
        }
    }
    return false;
}

static int prefetch_snp_crl(json_t *items, const bpt_verify_ctx *ctx, bpt_snp_product product,
                            bool vlek, STACK_OF(X509_CRL) * given, unsigned version)
{
    struct lookup l = {.get = crl_get, .ctx = ctx, .product = product, .vlek = vlek};
    char detail[64];
    const char *state = NULL;
    int rc;

    if (ctx->no_revocation) {
        return item(items, BPT_PROVIDER_AMD_SEV_SNP, "crl", "not_needed",
                    "revocation checking is off in the context");
    }
    if (product == BPT_SNP_PRODUCT_UNKNOWN) {
        return bpt_err(BPT_EKEYS,
                       "prefetch: a version %u report does not name its product, so AMD's CRL "
                       "cannot be fetched for it: name one product in the policy's "
                       "sev_snp.products",
                       version);
    }
    snprintf(detail, sizeof(detail), "%s, %s path", bpt_snp_product_name(product),
             vlek ? "VLEK" : "VCEK");
    if (crl_given(given, product)) {
        return item(items, BPT_PROVIDER_AMD_SEV_SNP, "crl", "given", detail);
    }
    l.what = vlek ? "AMD's CRL of ASVKs" : "AMD's CRL of ASKs";
    BPT_CHECK(fetch_piece(&state, &l));
    BPT_CHECK(item(items, BPT_PROVIDER_AMD_SEV_SNP, "crl", state, detail));
out:
    return rc;
}

static int prefetch_snp(json_t *items, const bpt_verify_ctx *ctx, const bpt_policy *p,
                        const struct bpt_evidence *ev)
{
    bpt_snp_report rep = BPT_SNP_REPORT_INIT;
    struct lookup l = {.get = vcek_get, .ctx = ctx, .what = "the VCEK", .snp = &rep};
    STACK_OF(X509_CRL) *crls = NULL;
    X509 *vek = NULL;
    const char *state = NULL;
    int rc;

    BPT_CHECK(bpt_sev_snp_parse(&rep, ev->bytes, ev->len));
    given_snp(&vek, &crls, ctx, ev);
    l.product = snp_product(&rep, p, vek);
    if (vek) {
        BPT_CHECK(item(items, BPT_PROVIDER_AMD_SEV_SNP, "vcek", "given",
                       "the VCEK/VLEK comes with the evidence or the context"));
    } else if (rep.signing_key == BPT_SNP_KEY_VLEK) {
        rc = bpt_err(BPT_EKEYS, "prefetch: the report is signed by a VLEK, which AMD KDS does "
                                "not publish: give the VLEK certificate with the evidence or "
                                "to the context's certificates");
        goto out;
    } else if (bpt_all_zero(rep.chip_id, 64)) {
        rc = bpt_err(BPT_EKEYS, "prefetch: the report masks its chip_id, so its VCEK cannot "
                                "be fetched: give it with the evidence or to the context's "
                                "certificates");
        goto out;
    } else if (l.product == BPT_SNP_PRODUCT_UNKNOWN) {
        rc = bpt_err(BPT_EKEYS,
                     "prefetch: a version %u report does not name its product, so its VCEK "
                     "cannot be fetched: name one product in the policy's sev_snp.products",
                     rep.version);
        goto out;
    } else {
        BPT_CHECK(fetch_piece(&state, &l));
        BPT_CHECK(
            item(items, BPT_PROVIDER_AMD_SEV_SNP, "vcek", state, bpt_snp_product_name(l.product)));
    }
    /* The revocation check's CRL (the ASK's, or the ASVK's for a VLEK). */
    BPT_CHECK(prefetch_snp_crl(items, ctx, l.product, rep.signing_key == BPT_SNP_KEY_VLEK, crls,
                               rep.version));
out:
    X509_free(vek);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return rc;
}

/* ---- TDX: the collateral -------------------------------------------------------------------- */

static int tdx_get(const struct lookup *l, bool offline)
{
    char *json = NULL;
    int rc = bpt_tdx_pcs_collateral(&json, l->ctx->pccs_url, l->ctx->cache_dir, offline,
                                    l->pck->fmspc, l->pck->platform_ca, bpt_verify_ctx_at(l->ctx));
    bpt_free(json);
    return rc;
}

static int prefetch_tdx(json_t *items, const bpt_verify_ctx *ctx, const struct bpt_evidence *ev)
{
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    struct bpt_pck_ext ext;
    STACK_OF(X509) *certs = NULL;
    struct lookup l = {.get = tdx_get, .ctx = ctx, .what = "the TDX collateral", .pck = &ext};
    const char *state = NULL;
    char fmspc[13];
    int rc;

    BPT_CHECK(bpt_tdx_parse(&q, ev->bytes, ev->len));
    if (bpt_verify_ctx_collateral(ctx, ev)) {
        rc = item(items, BPT_PROVIDER_INTEL_TDX, "tdx_collateral", "given",
                  "the collateral comes with the evidence or the context");
        goto out;
    }
    BPT_CHECK(bpt_pki_parse_certs(&certs, ev->bytes + q.pck_chain_off, q.pck_chain_len,
                                  "tdx: PCK certificate chain"));
    BPT_CHECK(bpt_pck_extensions(&ext, sk_X509_value(certs, 0)));
    BPT_CHECK(fetch_piece(&state, &l));
    bpt_hex_encode_to(fmspc, ext.fmspc, 6);
    BPT_CHECK(item(items, BPT_PROVIDER_INTEL_TDX, "tdx_collateral", state, fmspc));
out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* ---- JWT providers: the JWK set ------------------------------------------------------------- */

static int jwks_get(const struct lookup *l, bool offline)
{
    struct bpt_jwks *set = NULL;
    bpt_buf text = BPT_BUF_INIT(BPT_LIMIT_JWKS_BYTES);
    long max_age = 0;
    int rc;
    if (offline) {
        rc = bpt_jwks_disk_load(&set, l->ctx->cache_dir, l->url);
    } else if ((rc = bpt_jwks_fetch_text(&text, &max_age, l->url, BPT_JWKS_DEFAULT_TIMEOUT_MS)) ==
                   0 &&
               (rc = bpt_jwks_parse(&set, (const char *)text.data, text.len, "jwks")) == 0) {
        rc = bpt_jwks_disk_store(l->ctx->cache_dir, l->url, text.data, text.len);
    }
    bpt_jwks_free(set);
    bpt_buf_dispose(&text);
    return rc;
}

static int prefetch_jwt(json_t *items, const bpt_verify_ctx *ctx, const bpt_policy *p,
                        const struct bpt_evidence *ev)
{
    struct bpt_jwt t;
    char own[1100];
    bpt_provider prov;
    struct lookup l = {.get = jwks_get, .ctx = ctx, .what = "the JWK set"};
    const char *state = NULL;
    int rc;

    memset(&t, 0, sizeof(t));
    BPT_CHECK(bpt_jwt_parse(&t, ev->bytes, ev->len, "jwt"));
    prov = bpt_jwt_is_gcp(&t) ? BPT_PROVIDER_GCP_CONFIDENTIAL : BPT_PROVIDER_AZURE_SNP;
    BPT_CHECK(bpt_jwt_provider_keys_url(own, sizeof(own), &t, p));
    if (ctx->jwks || (!ctx->jwks_url && p->jwt.jwks_file)) {
        rc = item(items, prov, "jwks", "given", "a JWKS document of the context or the policy");
        goto out;
    }
    if (!(l.url = bpt_jwt_key_url(ctx, p, own[0] ? own : NULL))) {
        rc = bpt_err(BPT_EUNSATISFIABLE,
                     "prefetch: no URL to take this token's keys from: name its issuer (the MAA "
                     "instance) in the policy's jwt.issuers, or give a JWKS URL");
        goto out;
    }
    BPT_CHECK(fetch_piece(&state, &l));
    BPT_CHECK(item(items, prov, "jwks", state, l.url));
out:
    bpt_jwt_dispose(&t);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static int prefetch_evidence(json_t *items, const bpt_verify_ctx *ctx, const bpt_policy *p,
                             const struct bpt_evidence *ev)
{
    switch (ev->kind) {
    case BPT_EVIDENCE_SEV_SNP_REPORT:
        return prefetch_snp(items, ctx, p, ev);
    case BPT_EVIDENCE_TDX_QUOTE:
        return prefetch_tdx(items, ctx, ev);
    case BPT_EVIDENCE_JWT:
        return prefetch_jwt(items, ctx, p, ev);
    case BPT_EVIDENCE_NITRO_COSE:
        return item(items, BPT_PROVIDER_AWS_NITRO, "nothing", "not_needed",
                    "a Nitro document carries its certificates and the root is pinned");
    case BPT_EVIDENCE_SGX_QUOTE:
        return bpt_err(BPT_EUNSATISFIABLE, "prefetch: SGX quotes are not verified, so nothing is "
                                           "fetched for them");
    default:
        return bpt_err(BPT_EMALFORMED,
                       "prefetch: %zu bytes are not a recognised evidence format (expected an "
                       "SEV-SNP report, a TDX quote, a Nitro COSE document, a JWT or report JSON)",
                       ev->len);
    }
}

int bpt_verify_prefetch(char **out_json, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                        const uint8_t *bytes, size_t len)
{
    struct bpt_evidence ev;
    json_t *items = NULL, *doc = NULL;
    bpt_policy *owned = NULL;
    bpt_report *r = NULL;
    int rc;

    if (out_json) {
        *out_json = NULL;
    }
    if (!ctx || !ctx->cache_dir) {
        return bpt_err(BPT_EINVAL, "prefetch: %s",
                       ctx ? "the context has no cache directory" : "no verification context");
    }
    if (!bytes || len == 0 || len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_EMALFORMED, "prefetch: evidence of %zu bytes (1..%u)", bytes ? len : 0,
                       BPT_LIMIT_EVIDENCE_BYTES);
    }
    bpt_verify_ctx_freeze(ctx);
    bpt_evidence_init(&ev, bytes, len, bpt_evidence_recognise(bytes, len), bpt_verify_ctx_at(ctx));
    if (!policy) {
        BPT_CHECK(bpt_policy_new(&owned));
        policy = owned;
    }
    if (!(items = json_array())) {
        rc = bpt_err_nomem("prefetch");
        goto out;
    }
    if (ev.kind == BPT_EVIDENCE_REPORT_JSON) {
        /* A report: its evidence, with what it carries (certificates, collateral). */
        size_t n = 0;
        const uint8_t *inner;
        BPT_CHECK(bpt_report_json_evidence(&r, bytes, len, "prefetch"));
        inner = bpt_report_evidence(r, &n);
        bpt_evidence_dispose(&ev);
        bpt_evidence_init(&ev, inner, n, bpt_evidence_recognise(inner, n), bpt_verify_ctx_at(ctx));
        BPT_CHECK(bpt_evidence_set_collateral(&ev, bpt_report_collateralv(r)));
    }
    BPT_CHECK(prefetch_evidence(items, ctx, policy, &ev));
    if (out_json) {
        if (!(doc = json_pack("{s:s,s:O}", "cache_dir", ctx->cache_dir, "items", items))) {
            rc = bpt_err_nomem("prefetch");
            goto out;
        }
        BPT_CHECK(bpt_json_dump(out_json, doc));
    }
    rc = 0;
out:
    json_decref(doc);
    json_decref(items);
    bpt_evidence_dispose(&ev);
    bpt_report_free(r);
    bpt_policy_free(owned);
    return rc;
}
