/*
 * Inspection (verify.h, bpt_evidence_inspect_json): evidence decoded field by field for a
 * person to read, as `snpguest display report` or `step crypto jwt inspect` show it, with
 * nothing verified: no signature, certificate chain, collateral or policy is looked at. Every
 * document says so in "verified": false and "note". Parsing goes through the providers' own
 * parsers (the same bounds-checked readers verification uses), except a JWT, which is only
 * split and decoded here so that tokens the verifiers refuse to parse (alg none, no kid) can
 * still be shown.
 */
#include <blueprint-tee/sev_snp.h>
#include <blueprint-tee/tdx.h>
#include <blueprint-tee/verify.h>

#include "attestation/model_internal.h"
#include "attestation/pki/pki.h"
#include "attestation/providers/aws_nitro_internal.h"
#include "attestation/providers/jwt_internal.h"
#include "attestation/verify/verify_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <stdio.h>
#include <string.h>

#define NOTE "decoded only: no signature, certificate chain, collateral or policy was checked"

/* A JSON string of the lowercase hex of @p n bytes, any length; NULL on allocation failure. */
static json_t *hexv(const uint8_t *p, size_t n)
{
    char *h = NULL;
    json_t *s;
    if (bpt_hex_encode(&h, p, n) < 0) {
        return NULL;
    }
    s = json_string(h);
    bpt_free(h);
    return s;
}

/* Set @p key to @p v (taking it); an allocation failure (v NULL) is remembered in *bad. */
static void put(json_t *o, const char *key, json_t *v, bool *bad)
{
    if (!v || json_object_set_new(o, key, v) != 0) {
        *bad = true;
    }
}

static json_t *u64hex(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "0x%016llx", (unsigned long long)v);
    return json_string(s);
}

static json_t *snp_tcb(uint64_t raw, bpt_snp_product product)
{
    bpt_snp_tcb t = bpt_sev_snp_tcb_decode(raw, product);
    json_t *o = json_pack("{s:o,s:i,s:i,s:i,s:i}", "raw", u64hex(raw), "bootloader", t.bootloader,
                          "tee", t.tee, "snp", t.snp, "microcode", t.microcode);
    if (o && product == BPT_SNP_TURIN) {
        json_object_set_new(o, "fmc", json_integer(t.fmc));
    }
    return o;
}

static int inspect_snp(json_t *f, const uint8_t *ev, size_t len)
{
    bpt_snp_report r = BPT_SNP_REPORT_INIT;
    bool bad = false;
    int rc;

    BPT_CHECK(bpt_sev_snp_parse(&r, ev, len));
    put(f, "version", json_integer(r.version), &bad);
    put(f, "guest_svn", json_integer(r.guest_svn), &bad);
    put(f, "policy",
        json_pack("{s:o,s:i,s:i,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "raw", u64hex(r.policy),
                  "abi_major", r.abi_major, "abi_minor", r.abi_minor, "smt", r.policy_smt,
                  "migrate_ma", r.policy_migrate_ma, "debug", r.policy_debug, "single_socket",
                  r.policy_single_socket, "cxl_allow", r.policy_cxl, "mem_aes_256_xts",
                  r.policy_aes_256_xts, "rapl_dis", r.policy_rapl_dis, "ciphertext_hiding",
                  r.policy_ciphertext_hiding, "page_swap_disable", r.policy_page_swap_disable),
        &bad);
    put(f, "family_id", hexv(r.family_id, 16), &bad);
    put(f, "image_id", hexv(r.image_id, 16), &bad);
    put(f, "vmpl", json_integer(r.vmpl), &bad);
    put(f, "signature_algo", json_integer(r.signature_algo), &bad);
    put(f, "current_tcb", snp_tcb(r.current_tcb, r.cpuid_product), &bad);
    put(f, "platform_info", u64hex(r.platform_info), &bad);
    put(f, "author_key_en", json_boolean(r.author_key_en), &bad);
    put(f, "mask_chip_key", json_boolean(r.mask_chip_key), &bad);
    put(f, "signing_key",
        json_string(r.signing_key == BPT_SNP_KEY_VCEK   ? "vcek"
                    : r.signing_key == BPT_SNP_KEY_VLEK ? "vlek"
                    : r.signing_key == BPT_SNP_KEY_NONE ? "none"
                                                        : "reserved"),
        &bad);
    put(f, "report_data", hexv(r.report_data, 64), &bad);
    put(f, "measurement", hexv(r.measurement, 48), &bad);
    put(f, "host_data", hexv(r.host_data, 32), &bad);
    put(f, "id_key_digest", hexv(r.id_key_digest, 48), &bad);
    put(f, "author_key_digest", hexv(r.author_key_digest, 48), &bad);
    put(f, "report_id", hexv(r.report_id, 32), &bad);
    put(f, "report_id_ma", hexv(r.report_id_ma, 32), &bad);
    put(f, "reported_tcb", snp_tcb(r.reported_tcb, r.cpuid_product), &bad);
    put(f, "cpuid",
        json_pack("{s:i,s:i,s:i,s:s}", "family", r.cpuid_fam_id, "model", r.cpuid_mod_id,
                  "stepping", r.cpuid_step, "product", bpt_snp_product_name(r.cpuid_product)),
        &bad);
    put(f, "chip_id", hexv(r.chip_id, 64), &bad);
    put(f, "committed_tcb", snp_tcb(r.committed_tcb, r.cpuid_product), &bad);
    put(f, "current_version",
        json_pack("{s:i,s:i,s:i}", "major", r.current_major, "minor", r.current_minor, "build",
                  r.current_build),
        &bad);
    put(f, "committed_version",
        json_pack("{s:i,s:i,s:i}", "major", r.committed_major, "minor", r.committed_minor, "build",
                  r.committed_build),
        &bad);
    put(f, "launch_tcb", snp_tcb(r.launch_tcb, r.cpuid_product), &bad);
    if (r.version >= 5) { /* the mitigation vectors (0x1F8, 0x200), reserved before */
        put(f, "launch_mit_vector", u64hex(r.launch_mit_vector), &bad);
        put(f, "current_mit_vector", u64hex(r.current_mit_vector), &bad);
    }
    put(f, "signature", json_pack("{s:o,s:o}", "r", hexv(r.sig_r, 72), "s", hexv(r.sig_s, 72)),
        &bad);
    rc = bad ? bpt_err_nomem("inspect") : 0;
out:
    return rc;
}

/* The PEM certificates of a quote or document, by subject and issuer. */
static json_t *cert_list(const uint8_t *p, size_t len, const char *what)
{
    STACK_OF(X509) *st = NULL;
    json_t *a = json_array();
    char s[256], i[256];
    if (!a || bpt_pki_parse_certs(&st, p, len, what) < 0) {
        json_decref(a);
        sk_X509_pop_free(st, X509_free);
        return NULL;
    }
    for (int k = 0; k < sk_X509_num(st); k++) {
        X509 *c = sk_X509_value(st, k);
        json_array_append_new(a, json_pack("{s:s,s:s}", "subject", bpt_pki_subject(c, s, sizeof(s)),
                                           "issuer",
                                           bpt_pki_name(X509_get_issuer_name(c), i, sizeof(i))));
    }
    sk_X509_pop_free(st, X509_free);
    return a;
}

static int inspect_tdx(json_t *f, const uint8_t *ev, size_t len)
{
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    const bpt_tdx_td_report *b = &q.body;
    json_t *body, *rtmr, *certs;
    bool bad = false;
    int rc;

    BPT_CHECK(bpt_tdx_parse(&q, ev, len));
    put(f, "header",
        json_pack("{s:i,s:i,s:o,s:o,s:o}", "version", q.version, "att_key_type", q.att_key_type,
                  "tee_type", json_integer(q.tee_type), "qe_vendor_id", hexv(q.qe_vendor_id, 16),
                  "user_data", hexv(q.user_data, 20)),
        &bad);
    rtmr = json_pack("[o,o,o,o]", hexv(b->rtmr[0], 48), hexv(b->rtmr[1], 48), hexv(b->rtmr[2], 48),
                     hexv(b->rtmr[3], 48));
    body = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "type",
                     q.body_type == 3 ? "td_report_1.5" : "td_report_1.0", "tee_tcb_svn",
                     hexv(b->tee_tcb_svn, 16), "mr_seam", hexv(b->mr_seam, 48), "mr_signer_seam",
                     hexv(b->mr_signer_seam, 48), "seam_attributes", u64hex(b->seam_attributes),
                     "td_attributes", u64hex(b->td_attributes), "debug",
                     (b->td_attributes & BPT_TDX_ATTR_DEBUG) != 0, "xfam", u64hex(b->xfam), "mr_td",
                     hexv(b->mr_td, 48), "mr_config_id", hexv(b->mr_config_id, 48), "mr_owner",
                     hexv(b->mr_owner, 48), "mr_owner_config", hexv(b->mr_owner_config, 48), "rtmr",
                     rtmr, "report_data", hexv(b->report_data, 64));
    if (body && q.body_type == 3) {
        put(body, "tee_tcb_svn2", hexv(b->tee_tcb_svn2, 16), &bad);
        put(body, "mr_servicetd", hexv(b->mr_servicetd, 48), &bad);
    }
    put(f, "body", body, &bad);
    certs = cert_list(ev + q.pck_chain_off, q.pck_chain_len, "tdx: PCK certificate chain");
    put(f, "signature",
        json_pack("{s:o,s:o,s:{s:o,s:o,s:i,s:i,s:o},s:o}", "attestation_key",
                  hexv(q.attestation_key, 64), "signature", hexv(q.signature, 64), "qe_report",
                  "mr_enclave", hexv(q.qe_report.mr_enclave, 32), "mr_signer",
                  hexv(q.qe_report.mr_signer, 32), "isv_prod_id", q.qe_report.isv_prod_id,
                  "isv_svn", q.qe_report.isv_svn, "report_data", hexv(q.qe_report.report_data, 64),
                  "pck_chain", certs ? certs : json_string("(does not parse)")),
        &bad);
    rc = bad ? bpt_err_nomem("inspect") : 0;
out:
    return rc;
}

/* A Nitro document's certificate (DER) by subject and issuer, or why it does not parse. */
static json_t *der_cert(const uint8_t *p, size_t n)
{
    X509 *c = NULL;
    char s[256], i[256];
    json_t *o;
    if (bpt_pki_parse_der(&c, p, n, "certificate") < 0) {
        return json_string("(does not parse)");
    }
    o = json_pack("{s:s,s:s}", "subject", bpt_pki_subject(c, s, sizeof(s)), "issuer",
                  bpt_pki_name(X509_get_issuer_name(c), i, sizeof(i)));
    X509_free(c);
    return o;
}

static int inspect_nitro(json_t *f, const uint8_t *ev, size_t len)
{
    struct bpt_nitro_doc d;
    json_t *pcrs = json_object(), *bundle = json_array();
    char t[32], k[8];
    bool bad = !pcrs || !bundle;
    int rc;

    memset(&d, 0, sizeof(d));
    BPT_CHECK(bpt_nitro_parse(&d, ev, len));
    put(f, "module_id", json_string(d.module_id), &bad);
    put(f, "timestamp_ms", json_integer((json_int_t)d.timestamp_ms), &bad);
    put(f, "timestamp", json_string(bpt_time_format(t, (int64_t)(d.timestamp_ms / 1000))), &bad);
    for (int i = 0; pcrs && i < BPT_NITRO_MAX_PCRS; i++) {
        if (d.has_pcr[i]) {
            snprintf(k, sizeof(k), "%d", i);
            put(pcrs, k, hexv(d.pcr[i], d.pcr_len[i]), &bad);
        }
    }
    put(f, "pcrs", pcrs, &bad);
    pcrs = NULL;
    put(f, "certificate", der_cert(d.certificate, d.certificate_len), &bad);
    for (size_t i = 0; bundle && i < d.n_cabundle; i++) {
        json_array_append_new(bundle, der_cert(d.cabundle[i], d.cabundle_len[i]));
    }
    put(f, "cabundle", bundle, &bad);
    bundle = NULL;
    put(f, "public_key", d.public_key ? hexv(d.public_key, d.public_key_len) : json_null(), &bad);
    put(f, "user_data", d.user_data ? hexv(d.user_data, d.user_data_len) : json_null(), &bad);
    put(f, "nonce", d.nonce ? hexv(d.nonce, d.nonce_len) : json_null(), &bad);
    rc = bad ? bpt_err_nomem("inspect") : 0;
out:
    json_decref(pcrs);
    json_decref(bundle);
    bpt_nitro_doc_dispose(&d);
    return rc;
}

/* One base64url segment of a token, decoded and parsed as a JSON object. */
static int jwt_segment(json_t **out, const char *s, size_t n, const char *what)
{
    bpt_buf b = BPT_BUF_INIT(BPT_JWT_MAX_BYTES);
    int rc;
    *out = NULL;
    if (bpt_base64url_decode(&b, s, n, what) < 0) {
        rc = bpt_err(BPT_EMALFORMED, "jwt: the %s is not base64url", what);
        goto out;
    }
    BPT_CHECK(bpt_json_parse(out, (const char *)b.data, b.len, what));
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = bpt_err(BPT_EMALFORMED, "jwt: the %s is not a JSON object", what);
        goto out;
    }
    rc = 0;
out:
    bpt_buf_dispose(&b);
    return rc;
}

static int inspect_jwt(json_t *f, const uint8_t *ev, size_t len)
{
    const char *tok = (const char *)ev, *d1, *d2;
    json_t *header = NULL, *claims = NULL;
    bool bad = false;
    int rc;

    d1 = len ? memchr(tok, '.', len) : NULL;
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d1 || !d2 || len > BPT_JWT_MAX_BYTES) {
        return bpt_err(BPT_EMALFORMED, "jwt: not a compact JWS (header.claims.signature, at most "
                                       "64 KiB)");
    }
    BPT_CHECK(jwt_segment(&header, tok, (size_t)(d1 - tok), "header"));
    BPT_CHECK(jwt_segment(&claims, d1 + 1, (size_t)(d2 - d1 - 1), "claims"));
    put(f, "header", header, &bad);
    header = NULL;
    put(f, "claims", claims, &bad);
    claims = NULL;
    put(f, "signature_bytes", json_integer((json_int_t)((len - (size_t)(d2 + 1 - tok)) * 3 / 4)),
        &bad);
    rc = bad ? bpt_err_nomem("inspect") : 0;
out:
    json_decref(header);
    json_decref(claims);
    return rc;
}

/*
 * A report's collateral, summarised: each certificate by subject and issuer, every other field
 * (TDX collateral documents, CRLs) by name only.
 */
static json_t *collateral_summary(const json_t *coll)
{
    json_t *o = json_object(), *v, *e;
    const char *k;
    size_t i;
    json_object_foreach((json_t *)coll, k, v)
    {
        if (strcmp(k, "certificates") == 0 && json_is_array(v)) {
            json_t *a = json_array();
            json_array_foreach(v, i, e)
            {
                json_t *c = json_is_string(e) ? cert_list((const uint8_t *)json_string_value(e),
                                                          json_string_length(e), "certificate")
                                              : NULL;
                json_array_append_new(a, c ? json_incref(json_array_get(c, 0))
                                           : json_string("(does not parse)"));
                json_decref(c);
            }
            json_object_set_new(o, k, a);
        } else {
            json_object_set_new(o, k, json_string("(present)"));
        }
    }
    return o;
}

/* Evidence of @p kind into a new {"kind":..,"provider":..,"fields":{..}} object. */
static int inspect_kind(json_t **out, bpt_evidence_kind kind, const uint8_t *ev, size_t len)
{
    json_t *o = NULL, *f = json_object();
    int rc;

    *out = NULL;
    if (!f) {
        return bpt_err_nomem("inspect");
    }
    switch (kind) {
    case BPT_EVIDENCE_SEV_SNP_REPORT:
        rc = inspect_snp(f, ev, len);
        break;
    case BPT_EVIDENCE_TDX_QUOTE:
        rc = inspect_tdx(f, ev, len);
        break;
    case BPT_EVIDENCE_NITRO_COSE:
        rc = inspect_nitro(f, ev, len);
        break;
    case BPT_EVIDENCE_JWT:
        rc = inspect_jwt(f, ev, len);
        break;
    case BPT_EVIDENCE_SGX_QUOTE:
        rc = bpt_err(BPT_ENOTSUP, "inspect: SGX DCAP quotes are recognised but not decoded");
        break;
    default:
        rc = bpt_err(BPT_EMALFORMED,
                     "inspect: %zu bytes are not a recognised evidence format (expected an "
                     "SEV-SNP report, a TDX quote, a Nitro COSE document, a JWT or report JSON)",
                     len);
        break;
    }
    if (rc < 0) {
        goto out;
    }
    o = json_pack("{s:s,s:s,s:O}", "kind", bpt_evidence_kind_name(kind), "provider",
                  bpt_provider_name(bpt_evidence_provider(ev, len)), "fields", f);
    if (!o) {
        rc = bpt_err_nomem("inspect");
        goto out;
    }
    *out = o;
    rc = 0;
out:
    json_decref(f);
    return rc;
}

int bpt_evidence_inspect_json(char **out, const uint8_t *ev, size_t len)
{
    bpt_evidence_kind kind;
    json_t *doc = NULL, *inner = NULL, *claimed = NULL;
    bpt_report *r = NULL;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "inspect: no out pointer");
    }
    *out = NULL;
    if (!ev || len == 0 || len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_EMALFORMED, "inspect: evidence of %zu bytes (1..%u)", ev ? len : 0,
                       BPT_LIMIT_EVIDENCE_BYTES);
    }
    kind = bpt_evidence_recognise(ev, len);
    if (kind != BPT_EVIDENCE_REPORT_JSON) {
        BPT_CHECK(inspect_kind(&doc, kind, ev, len));
    } else {
        /* A report: what it claims (never trusted), and its evidence decoded. */
        size_t n = 0;
        const uint8_t *inner_ev;
        BPT_CHECK(bpt_report_json_evidence(&r, ev, len, "inspect"));
        inner_ev = bpt_report_evidence(r, &n);
        BPT_CHECK(inspect_kind(&inner, bpt_evidence_recognise(inner_ev, n), inner_ev, n));
        if (!(claimed = bpt_report_to_jsonv(r))) {
            rc = bpt_err_nomem("inspect");
            goto out;
        }
        json_object_del(claimed, "evidence");
        if (json_is_object(json_object_get(claimed, "collateral"))) {
            json_object_set_new(claimed, "collateral",
                                collateral_summary(json_object_get(claimed, "collateral")));
        }
        doc = json_pack("{s:s,s:s,s:O,s:O}", "kind", "report_json", "provider",
                        bpt_report_provider_name(r), "report", claimed, "evidence", inner);
        if (!doc) {
            rc = bpt_err_nomem("inspect");
            goto out;
        }
    }
    if (json_object_set_new(doc, "verified", json_false()) != 0 ||
        json_object_set_new(doc, "note", json_string(NOTE)) != 0) {
        rc = bpt_err_nomem("inspect");
        goto out;
    }
    BPT_CHECK(bpt_json_dump(out, doc));
    rc = 0;
out:
    json_decref(claimed);
    json_decref(inner);
    json_decref(doc);
    bpt_report_free(r);
    return rc;
}
