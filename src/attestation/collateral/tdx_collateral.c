/*
 * TDX collateral: TCB Info and QE Identity parsed from their signed JSON, and the whole
 * collateral verified (issuer chains, CRLs, signatures, ids, versions, dates) into an immutable,
 * reference-counted object that verifications share.
 */
#include "attestation/collateral/tdx_collateral.h"
#include "attestation/pki/pki.h"

#include <blueprint-tee/clock.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const tcb_names[BPT_TCB_STATUS_COUNT] = {
    "up_to_date",
    "sw_hardening_needed",
    "configuration_needed",
    "configuration_and_sw_hardening_needed",
    "out_of_date",
    "out_of_date_configuration_needed",
    "revoked",
};
static const char *const tcb_intel[BPT_TCB_STATUS_COUNT] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};

const char *bpt_tcb_status_name(bpt_tdx_tcb_status s)
{
    return (unsigned)s < BPT_TCB_STATUS_COUNT ? tcb_names[s] : "unknown";
}

int bpt_tcb_status_parse(bpt_tdx_tcb_status *out, const char *name)
{
    for (int i = 0; name && i < BPT_TCB_STATUS_COUNT; i++) {
        if (strcmp(name, tcb_names[i]) == 0 || strcmp(name, tcb_intel[i]) == 0) {
            *out = (bpt_tdx_tcb_status)i;
            return 0;
        }
    }
    return bpt_err(BPT_EINVAL,
                   "TCB status '%.64s' unknown (expected up_to_date, sw_hardening_needed, "
                   "configuration_needed, configuration_and_sw_hardening_needed, out_of_date, "
                   "out_of_date_configuration_needed or revoked)",
                   name ? name : "(null)");
}

enum level_kind { LEVEL_PLATFORM, LEVEL_ISVSVN };

static int get_hex(const json_t *o, const char *key, uint8_t *dst, size_t n, const char *ctx)
{
    const char *s = NULL;
    char what[96];
    int rc = bpt_json_get_str(o, key, &s, true, ctx);
    if (rc < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "%s.%s", ctx, key);
    rc = bpt_hex_decode_exact(dst, n, s, strlen(s), what);
    return rc < 0 ? bpt_err_prefix(BPT_EMALFORMED, "%s", what) : 0;
}

static int get_time(const json_t *o, const char *key, int64_t *out, const char *ctx)
{
    const char *s = NULL;
    int rc = bpt_json_get_str(o, key, &s, true, ctx);
    if (rc < 0) {
        return rc;
    }
    if (bpt_time_parse(out, s) < 0) {
        return bpt_err(BPT_EMALFORMED, "%s.%s: not an RFC 3339 time", ctx, key);
    }
    return 0;
}

static int get_small(const json_t *o, const char *key, long max, long *out, const char *ctx)
{
    int64_t v = 0;
    int rc = bpt_json_get_i64(o, key, &v, true, ctx);
    if (rc < 0) {
        return rc;
    }
    if (v < 0 || v > max) {
        return bpt_err(BPT_EMALFORMED, "%s.%s: %lld is outside 0..%ld", ctx, key, (long long)v,
                       max);
    }
    *out = (long)v;
    return 0;
}

/* 16 objects {"svn": 0..255, ...}. */
static int get_components(const json_t *tcb, const char *key, uint8_t out[16], const char *ctx)
{
    json_t *arr = NULL, *e;
    size_t i;
    int rc = bpt_json_get_arr(tcb, key, &arr, true, ctx);
    if (rc < 0) {
        return rc;
    }
    if (json_array_size(arr) != 16) {
        return bpt_err(BPT_EMALFORMED, "%s.%s: %zu components (expected 16)", ctx, key,
                       json_array_size(arr));
    }
    json_array_foreach(arr, i, e)
    {
        long v = 0;
        if (!json_is_object(e) || get_small(e, "svn", 255, &v, ctx) < 0) {
            return bpt_err(BPT_EMALFORMED, "%s.%s[%zu]: expected {\"svn\": 0..255}", ctx, key, i);
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int parse_level(struct bpt_tdx_tcb_level *l, const json_t *o, enum level_kind kind, bool tdx,
                       const char *ctx)
{
    json_t *tcb = NULL, *adv = NULL;
    const char *status = NULL, *date = NULL;
    long v = 0;
    int rc;

    memset(l, 0, sizeof(*l));
    if (!json_is_object(o)) {
        return bpt_err(BPT_EMALFORMED, "%s: a TCB level is not an object", ctx);
    }
    BPT_CHECK(bpt_json_get_obj(o, "tcb", &tcb, true, ctx));
    if (kind == LEVEL_ISVSVN) {
        BPT_CHECK(get_small(tcb, "isvsvn", 65535, &v, ctx));
        l->isvsvn = (uint16_t)v;
    } else {
        BPT_CHECK(get_components(tcb, "sgxtcbcomponents", l->sgx, ctx));
        BPT_CHECK(get_small(tcb, "pcesvn", 65535, &v, ctx));
        l->pcesvn = (uint16_t)v;
        if (tdx) {
            BPT_CHECK(get_components(tcb, "tdxtcbcomponents", l->tdx, ctx));
        }
    }
    BPT_CHECK(bpt_json_get_str(o, "tcbStatus", &status, true, ctx));
    if (bpt_tcb_status_parse(&l->status, status) < 0) {
        return bpt_err(BPT_EMALFORMED, "%s: unknown tcbStatus '%.40s'", ctx, status);
    }
    BPT_CHECK(bpt_json_get_str(o, "tcbDate", &date, true, ctx));
    snprintf(l->date, sizeof(l->date), "%s", date);
    if ((rc = bpt_json_get_arr(o, "advisoryIDs", &adv, false, ctx)) < 0) {
        return rc;
    }
    if (rc == 1) {
        size_t i;
        json_t *e;
        json_array_foreach(adv, i, e)
        {
            if (!json_is_string(e)) {
                return bpt_err(BPT_EMALFORMED, "%s: advisoryIDs[%zu] is not a string", ctx, i);
            }
        }
        l->advisories = json_incref(adv);
    }
    rc = 0;
out:
    return rc;
}

static void levels_dispose(struct bpt_tdx_tcb_level *levels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(levels[i].advisories);
        levels[i].advisories = NULL;
    }
}

static int parse_levels(struct bpt_tdx_tcb_level *levels, size_t *n, const json_t *o,
                        enum level_kind kind, bool tdx, const char *ctx)
{
    json_t *arr = NULL, *e;
    size_t i;
    int rc;

    BPT_CHECK(bpt_json_get_arr(o, "tcbLevels", &arr, true, ctx));
    if (json_array_size(arr) == 0 || json_array_size(arr) > BPT_TDX_MAX_TCB_LEVELS) {
        return bpt_err(BPT_EMALFORMED, "%s: %zu TCB levels (expected 1..%d)", ctx,
                       json_array_size(arr), BPT_TDX_MAX_TCB_LEVELS);
    }
    json_array_foreach(arr, i, e)
    {
        BPT_CHECK(parse_level(&levels[i], e, kind, tdx, ctx));
        *n = i + 1;
    }
    rc = 0;
out:
    return rc;
}

static int parse_module(struct bpt_tdx_module_identity *m, const json_t *o, bool with_levels,
                        const char *ctx)
{
    const char *id = NULL;
    int rc;

    if (!json_is_object(o)) {
        return bpt_err(BPT_EMALFORMED, "%s is not an object", ctx);
    }
    if (with_levels) {
        BPT_CHECK(bpt_tdx_json_text(o, "id", &id, ctx));
        if (strlen(id) >= sizeof(m->id)) {
            return bpt_err(BPT_EMALFORMED, "%s.id is too long", ctx);
        }
        snprintf(m->id, sizeof(m->id), "%s", id);
    }
    BPT_CHECK(get_hex(o, "mrsigner", m->mrsigner, 48, ctx));
    BPT_CHECK(get_hex(o, "attributes", m->attributes, 8, ctx));
    BPT_CHECK(get_hex(o, "attributesMask", m->attributes_mask, 8, ctx));
    if (with_levels) {
        BPT_CHECK(parse_levels(m->levels, &m->n_levels, o, LEVEL_ISVSVN, false, ctx));
    }
    rc = 0;
out:
    return rc;
}

/* id, version, dates, evaluation number: the header both documents share. */
static int parse_header(const json_t *o, const char *want_id, int64_t want_version, int64_t *issue,
                        int64_t *next, int64_t *eval, const char *ctx)
{
    const char *id = NULL;
    int64_t version = 0;
    int rc;

    BPT_CHECK(bpt_tdx_json_text(o, "id", &id, ctx));
    if (strcmp(id, want_id) != 0) {
        return bpt_err(BPT_EMALFORMED, "%s: id '%.16s' (expected %s)", ctx, id, want_id);
    }
    BPT_CHECK(bpt_json_get_i64(o, "version", &version, true, ctx));
    if (version != want_version) {
        return bpt_err(BPT_EMALFORMED, "%s: version %lld (expected %lld)", ctx, (long long)version,
                       (long long)want_version);
    }
    BPT_CHECK(get_time(o, "issueDate", issue, ctx));
    BPT_CHECK(get_time(o, "nextUpdate", next, ctx));
    BPT_CHECK(bpt_json_get_i64(o, "tcbEvaluationDataNumber", eval, true, ctx));
    rc = 0;
out:
    return rc;
}

void bpt_tdx_tcb_info_dispose(struct bpt_tdx_tcb_info *t)
{
    levels_dispose(t->levels, t->n_levels);
    for (size_t i = 0; i < t->n_modules; i++) {
        levels_dispose(t->modules[i].levels, t->modules[i].n_levels);
    }
    memset(t, 0, sizeof(*t));
}

void bpt_tdx_qe_identity_dispose(struct bpt_tdx_qe_identity *q)
{
    levels_dispose(q->levels, q->n_levels);
    memset(q, 0, sizeof(*q));
}

int bpt_tdx_tcb_info_parse(struct bpt_tdx_tcb_info *t, const char *json, size_t len)
{
    static const char ctx[] = "tdx: tcbInfo";
    json_t *o = NULL, *mod = NULL, *mods = NULL, *e;
    int64_t tcb_type = 0;
    int rc;

    memset(t, 0, sizeof(*t));
    BPT_CHECK(bpt_json_parse(&o, json, len, ctx));
    if (!json_is_object(o)) {
        rc = bpt_err(BPT_EMALFORMED, "%s is not an object", ctx);
        goto out;
    }
    BPT_CHECK(parse_header(o, "TDX", 3, &t->issue_date, &t->next_update, &t->eval_number, ctx));
    t->version = 3;
    BPT_CHECK(get_hex(o, "fmspc", t->fmspc, 6, ctx));
    BPT_CHECK(get_hex(o, "pceId", t->pceid, 2, ctx));
    BPT_CHECK(bpt_json_get_i64(o, "tcbType", &tcb_type, true, ctx));
    if (tcb_type != 0) {
        rc = bpt_err(BPT_EMALFORMED, "%s: tcbType %lld (expected 0)", ctx, (long long)tcb_type);
        goto out;
    }
    if ((rc = bpt_json_get_obj(o, "tdxModule", &mod, false, ctx)) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(parse_module(&t->module, mod, false, "tdx: tcbInfo.tdxModule"));
        t->has_module = true;
    }
    if ((rc = bpt_json_get_arr(o, "tdxModuleIdentities", &mods, false, ctx)) < 0) {
        goto out;
    }
    if (rc == 1) {
        size_t i;
        if (json_array_size(mods) > BPT_TDX_MAX_MODULES) {
            rc = bpt_err(BPT_EMALFORMED, "%s: more than %d TDX module identities", ctx,
                         BPT_TDX_MAX_MODULES);
            goto out;
        }
        json_array_foreach(mods, i, e)
        {
            t->n_modules = i + 1;
            BPT_CHECK(parse_module(&t->modules[i], e, true, "tdx: tcbInfo.tdxModuleIdentities"));
        }
    }
    BPT_CHECK(parse_levels(t->levels, &t->n_levels, o, LEVEL_PLATFORM, true, ctx));
    rc = 0;
out:
    json_decref(o);
    if (rc < 0) {
        bpt_tdx_tcb_info_dispose(t);
    }
    return rc;
}

int bpt_tdx_qe_identity_parse(struct bpt_tdx_qe_identity *q, const char *json, size_t len)
{
    static const char ctx[] = "tdx: qeIdentity";
    json_t *o = NULL;
    uint8_t b[4];
    long v = 0;
    int rc;

    memset(q, 0, sizeof(*q));
    BPT_CHECK(bpt_json_parse(&o, json, len, ctx));
    if (!json_is_object(o)) {
        rc = bpt_err(BPT_EMALFORMED, "%s is not an object", ctx);
        goto out;
    }
    BPT_CHECK(parse_header(o, "TD_QE", 2, &q->issue_date, &q->next_update, &q->eval_number, ctx));
    q->version = 2;
    /* miscselect is written as a big-endian number ("0000000F"). */
    BPT_CHECK(get_hex(o, "miscselect", b, 4, ctx));
    q->miscselect = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    BPT_CHECK(get_hex(o, "miscselectMask", b, 4, ctx));
    q->miscselect_mask = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    BPT_CHECK(get_hex(o, "attributes", q->attributes, 16, ctx));
    BPT_CHECK(get_hex(o, "attributesMask", q->attributes_mask, 16, ctx));
    BPT_CHECK(get_hex(o, "mrsigner", q->mrsigner, 32, ctx));
    BPT_CHECK(get_small(o, "isvprodid", 65535, &v, ctx));
    q->isvprodid = (uint16_t)v;
    BPT_CHECK(parse_levels(q->levels, &q->n_levels, o, LEVEL_ISVSVN, false, ctx));
    rc = 0;
out:
    json_decref(o);
    if (rc < 0) {
        bpt_tdx_qe_identity_dispose(q);
    }
    return rc;
}

struct bpt_tdx_collateral *bpt_tdx_collateral_retain(struct bpt_tdx_collateral *c)
{
    if (c) {
        atomic_fetch_add(&c->refs, 1);
    }
    return c;
}

void bpt_tdx_collateral_release(struct bpt_tdx_collateral *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) {
        return;
    }
    bpt_tdx_tcb_info_dispose(&c->tcb);
    bpt_tdx_qe_identity_dispose(&c->qe);
    X509_CRL_free(c->root_crl);
    X509_CRL_free(c->pck_crl);
    free(c);
}

int bpt_tdx_json_text(const json_t *o, const char *key, const char **out, const char *ctx)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        return bpt_err(BPT_EMALFORMED, "%s: field '%s' is missing", ctx, key);
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return bpt_err(BPT_EMALFORMED, "%s: field '%s' must be a non-empty string", ctx, key);
    }
    *out = json_string_value(v);
    return 0;
}

static void narrow(struct bpt_tdx_collateral *c, int64_t nb, int64_t na)
{
    if (nb > c->not_before) {
        c->not_before = nb;
    }
    if (na < c->not_after) {
        c->not_after = na;
    }
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    return t && ASN1_TIME_to_tm(t, &tm) == 1 ? (int64_t)timegm(&tm) : 0;
}

/*
 * An issuer chain of the collateral (@p certs: signer first, then the root), verified to one of
 * @p roots at @p at, every certificate the root issued checked against @p root_crl. Returns the
 * signer (a new reference). The verified chain's windows narrow @p c's (when not NULL); with
 * @p bound (prepared collateral, whose window is already narrowed by every certificate it
 * carries), *beyond is set when a certificate of the chain would narrow it further (one the
 * collateral does not carry, taken from the trust roots).
 */
static int check_issuer_chain(X509 **signer, struct bpt_tdx_collateral *c,
                              const struct bpt_tdx_collateral *bound, bool *beyond,
                              STACK_OF(X509) * certs, X509_CRL *root_crl, STACK_OF(X509) * roots,
                              int64_t at, const char *what)
{
    STACK_OF(X509) *chain = NULL;
    struct bpt_pki_verify_opts opts = {
        .at = at,
        .max_depth = 3,
        .strict = true,
        .where = "the collateral carries each issuer chain (signer, then root), and its root "
                 "must be a trust root: the pinned Intel SGX Root CA, or one of the context's "
                 "trust roots, which replace it"};
    int rc;

    *signer = NULL;
    BPT_CHECK(bpt_pki_verify_chain(&chain, sk_X509_value(certs, 0), certs, roots, &opts, what));
    /* as Intel's QVL: the chain's copy of the root must be the trusted root itself */
    BPT_CHECK(bpt_pki_check_root_copy(certs, chain, what));
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        int64_t nb = asn1_unix(X509_get0_notBefore(x)), na = asn1_unix(X509_get0_notAfter(x));
        if (c) {
            narrow(c, nb, na);
        }
        if (bound && (nb > bound->not_before || na < bound->not_after)) {
            *beyond = true;
        }
        if (i + 1 < sk_X509_num(chain)) {
            char ctx[96];
            snprintf(ctx, sizeof(ctx), "%s: root CA CRL", what);
            BPT_CHECK(bpt_pki_check_not_revoked(root_crl, x, ctx));
        }
    }
    *signer = sk_X509_value(chain, 0);
    X509_up_ref(*signer);
    rc = 0;
out:
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* The same for an issuer chain given as PEM text (parsed now). */
static int verify_issuer_chain(X509 **signer, struct bpt_tdx_collateral *c, const char *pem,
                               STACK_OF(X509) * roots, int64_t at, struct bpt_cert_cache *cache,
                               const char *what)
{
    STACK_OF(X509) *certs = NULL;
    int rc;
    *signer = NULL;
    BPT_CHECK(bpt_pki_parse_certs_cached(&certs, cache, (const uint8_t *)pem, strlen(pem), what));
    BPT_CHECK(check_issuer_chain(signer, c, NULL, NULL, certs, c->root_crl, roots, at, what));
out:
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

/* A document signed by @p signer: hex r||s (64 bytes) over the exact JSON text. */
static int verify_body(X509 *signer, const char *body, const char *sig_hex, const char *what)
{
    uint8_t sig[64];
    if (bpt_hex_decode_exact(sig, 64, sig_hex, strlen(sig_hex), what) < 0) {
        return bpt_err(BPT_EMALFORMED, "%s: not 64 bytes of hex (r || s)", what);
    }
    return bpt_pki_verify_ecdsa_rs(X509_get0_pubkey(signer), 256, sig, sig + 32, 32, body,
                                   strlen(body), what);
}

static int check_dates(int64_t issue, int64_t next, int64_t at, const char *what)
{
    char a[32], b[32];
    if (at < issue) {
        return bpt_err(BPT_ESIGNATURE, "%s: issued %s, after the verification time %s", what,
                       bpt_time_format(a, issue), bpt_time_format(b, at));
    }
    if (at > next) {
        return bpt_err(BPT_ESIGNATURE, "%s: expired at nextUpdate %s (verification time %s)", what,
                       bpt_time_format(a, next), bpt_time_format(b, at));
    }
    return 0;
}

static X509 *root_for(STACK_OF(X509) * roots, X509_CRL *crl)
{
    for (int i = 0; i < sk_X509_num(roots); i++) {
        X509 *r = sk_X509_value(roots, i);
        if (X509_NAME_cmp(X509_get_subject_name(r), X509_CRL_get_issuer(crl)) == 0) {
            return r;
        }
    }
    return NULL;
}

/* The root CA CRL: issued and signed by a trusted root, valid at @p at. */
static int check_root_crl(X509_CRL *crl, STACK_OF(X509) * roots, int64_t at)
{
    X509 *root = root_for(roots, crl);
    if (!root) {
        char issuer[256];
        return bpt_err(BPT_ESIGNATURE,
                       "tdx: root CA CRL: not issued by a trusted root: its issuer (%s) is neither "
                       "the pinned Intel SGX Root CA nor one of the context's trust roots",
                       bpt_pki_name(X509_CRL_get_issuer(crl), issuer, sizeof(issuer)));
    }
    return bpt_pki_check_crl(crl, root, at, "tdx: root CA CRL");
}

/* Empty collateral of one reference, its window unbounded; NULL without memory. */
static struct bpt_tdx_collateral *new_collateral(void)
{
    struct bpt_tdx_collateral *c = calloc(1, sizeof(*c));
    if (c) {
        atomic_init(&c->refs, 1);
        c->not_before = INT64_MIN;
        c->not_after = INT64_MAX;
    }
    return c;
}

/* The collateral JSON's nine texts, in this order (Intel's field names). */
enum {
    F_PCK_CRL_CHAIN,
    F_ROOT_CRL,
    F_PCK_CRL,
    F_TCB_CHAIN,
    F_TCB_INFO,
    F_TCB_SIG,
    F_QE_CHAIN,
    F_QE_ID,
    F_QE_SIG,
    F_COUNT
};

/* Parse collateral JSON into @p o and point @p t at its texts (inside @p o). */
static int open_collateral(json_t **o, const char *t[F_COUNT], const char *json, size_t len)
{
    static const char ctx[] = "tdx: collateral";
    static const char *const names[F_COUNT] = {
        "pck_crl_issuer_chain",     "root_ca_crl", "pck_crl",
        "tcb_info_issuer_chain",    "tcb_info",    "tcb_info_signature",
        "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature"};
    int rc;

    *o = NULL;
    if (len > BPT_LIMIT_COLLATERAL_BYTES) {
        return bpt_err(BPT_ELIMIT, "%s: %zu bytes (limit %u)", ctx, len,
                       BPT_LIMIT_COLLATERAL_BYTES);
    }
    BPT_CHECK(bpt_json_parse(o, json, len, ctx));
    if (!json_is_object(*o)) {
        rc = bpt_err(BPT_EMALFORMED, "%s is not a JSON object", ctx);
        goto out;
    }
    for (int i = 0; i < F_COUNT; i++) {
        BPT_CHECK(bpt_tdx_json_text(*o, names[i], &t[i], ctx));
    }
    rc = 0;
out:
    return rc;
}

int bpt_tdx_collateral_verify(struct bpt_tdx_collateral **out, const char *json, size_t len,
                              STACK_OF(X509) * roots, int64_t at)
{
    return bpt_tdx_collateral_verify_cached(out, json, len, roots, at, NULL);
}

int bpt_tdx_collateral_verify_cached(struct bpt_tdx_collateral **out, const char *json, size_t len,
                                     STACK_OF(X509) * roots, int64_t at,
                                     struct bpt_cert_cache *cache)
{
    const char *t[F_COUNT] = {NULL};
    struct bpt_tdx_collateral *c = NULL;
    json_t *o = NULL;
    X509 *signer = NULL;
    int64_t nb = 0, na = 0;
    int rc;

    *out = NULL;
    BPT_CHECK(open_collateral(&o, t, json, len));
    if (!(c = new_collateral())) {
        rc = bpt_err_nomem("collateral");
        goto out;
    }

    /* The root CA CRL, signed by the trusted root. */
    BPT_CHECK(bpt_pki_parse_crl(&c->root_crl, (const uint8_t *)t[F_ROOT_CRL], strlen(t[F_ROOT_CRL]),
                                "tdx: root CA CRL"));
    BPT_CHECK(check_root_crl(c->root_crl, roots, at));
    if (bpt_pki_crl_window(c->root_crl, &nb, &na)) {
        narrow(c, nb, na);
    }

    /* TCB Info: its signing chain, signature, then its contents. */
    BPT_CHECK(verify_issuer_chain(&signer, c, t[F_TCB_CHAIN], roots, at, cache,
                                  "tdx: TCB Info issuer chain"));
    BPT_CHECK(verify_body(signer, t[F_TCB_INFO], t[F_TCB_SIG], "tdx: TCB Info signature"));
    X509_free(signer);
    signer = NULL;
    BPT_CHECK(bpt_tdx_tcb_info_parse(&c->tcb, t[F_TCB_INFO], strlen(t[F_TCB_INFO])));
    BPT_CHECK(check_dates(c->tcb.issue_date, c->tcb.next_update, at, "tdx: TCB Info"));
    narrow(c, c->tcb.issue_date, c->tcb.next_update);

    /* QE Identity likewise. */
    BPT_CHECK(verify_issuer_chain(&signer, c, t[F_QE_CHAIN], roots, at, cache,
                                  "tdx: QE Identity issuer chain"));
    BPT_CHECK(verify_body(signer, t[F_QE_ID], t[F_QE_SIG], "tdx: QE Identity signature"));
    X509_free(signer);
    signer = NULL;
    BPT_CHECK(bpt_tdx_qe_identity_parse(&c->qe, t[F_QE_ID], strlen(t[F_QE_ID])));
    BPT_CHECK(check_dates(c->qe.issue_date, c->qe.next_update, at, "tdx: QE Identity"));
    narrow(c, c->qe.issue_date, c->qe.next_update);

    /* The PCK CRL, signed by the PCK CA of its issuer chain. */
    BPT_CHECK(verify_issuer_chain(&signer, c, t[F_PCK_CRL_CHAIN], roots, at, cache,
                                  "tdx: PCK CRL issuer chain"));
    BPT_CHECK(bpt_pki_parse_crl(&c->pck_crl, (const uint8_t *)t[F_PCK_CRL], strlen(t[F_PCK_CRL]),
                                "tdx: PCK CRL"));
    BPT_CHECK(bpt_pki_check_crl(c->pck_crl, signer, at, "tdx: PCK CRL"));
    if (bpt_pki_crl_window(c->pck_crl, &nb, &na)) {
        narrow(c, nb, na);
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    X509_free(signer);
    bpt_tdx_collateral_release(c);
    json_decref(o);
    return rc;
}

/* ---- collateral parsed once (a context's) ---------------------------------------------------- */

struct bpt_tdx_collateral_prepared {
    STACK_OF(X509) * tcb_chain, *qe_chain, *crl_chain;
    char *tcb_info, *tcb_sig, *qe_id, *qe_sig;
    struct bpt_tdx_collateral *col; /* contents and their window: handed out once verified */
};

void bpt_tdx_collateral_prepared_free(struct bpt_tdx_collateral_prepared *p)
{
    if (!p) {
        return;
    }
    sk_X509_pop_free(p->tcb_chain, X509_free);
    sk_X509_pop_free(p->qe_chain, X509_free);
    sk_X509_pop_free(p->crl_chain, X509_free);
    free(p->tcb_info);
    free(p->tcb_sig);
    free(p->qe_id);
    free(p->qe_sig);
    bpt_tdx_collateral_release(p->col);
    free(p);
}

/* The chain's certificates' windows narrow @p c's (all of them: at least the verified chain's). */
static int prepared_chain(STACK_OF(X509) * *out, struct bpt_tdx_collateral *c, const char *pem,
                          const char *what)
{
    int rc = bpt_pki_parse_certs(out, (const uint8_t *)pem, strlen(pem), what);
    for (int i = 0; rc == 0 && i < sk_X509_num(*out); i++) {
        X509 *x = sk_X509_value(*out, i);
        narrow(c, asn1_unix(X509_get0_notBefore(x)), asn1_unix(X509_get0_notAfter(x)));
    }
    return rc;
}

static char *dup_text(const char *s)
{
    return s ? strdup(s) : NULL;
}

int bpt_tdx_collateral_prepare(struct bpt_tdx_collateral_prepared **out, const char *json,
                               size_t len)
{
    const char *t[F_COUNT] = {NULL};
    struct bpt_tdx_collateral_prepared *p = NULL;
    struct bpt_tdx_collateral *c;
    json_t *o = NULL;
    int64_t nb = 0, na = 0;
    int rc;

    *out = NULL;
    BPT_CHECK(open_collateral(&o, t, json, len));
    if (!(p = calloc(1, sizeof(*p))) || !(p->col = c = new_collateral()) ||
        !(p->tcb_info = dup_text(t[F_TCB_INFO])) || !(p->tcb_sig = dup_text(t[F_TCB_SIG])) ||
        !(p->qe_id = dup_text(t[F_QE_ID])) || !(p->qe_sig = dup_text(t[F_QE_SIG]))) {
        rc = bpt_err_nomem("collateral");
        goto out;
    }
    BPT_CHECK(bpt_pki_parse_crl(&c->root_crl, (const uint8_t *)t[F_ROOT_CRL], strlen(t[F_ROOT_CRL]),
                                "tdx: root CA CRL"));
    BPT_CHECK(bpt_pki_parse_crl(&c->pck_crl, (const uint8_t *)t[F_PCK_CRL], strlen(t[F_PCK_CRL]),
                                "tdx: PCK CRL"));
    BPT_CHECK(prepared_chain(&p->tcb_chain, c, t[F_TCB_CHAIN], "tdx: TCB Info issuer chain"));
    BPT_CHECK(prepared_chain(&p->qe_chain, c, t[F_QE_CHAIN], "tdx: QE Identity issuer chain"));
    BPT_CHECK(prepared_chain(&p->crl_chain, c, t[F_PCK_CRL_CHAIN], "tdx: PCK CRL issuer chain"));
    BPT_CHECK(bpt_tdx_tcb_info_parse(&c->tcb, t[F_TCB_INFO], strlen(t[F_TCB_INFO])));
    BPT_CHECK(bpt_tdx_qe_identity_parse(&c->qe, t[F_QE_ID], strlen(t[F_QE_ID])));
    for (int i = 0; i < 2; i++) {
        if (bpt_pki_crl_window(i ? c->pck_crl : c->root_crl, &nb, &na)) {
            narrow(c, nb, na);
        }
    }
    narrow(c, c->tcb.issue_date, c->tcb.next_update);
    narrow(c, c->qe.issue_date, c->qe.next_update);
    *out = p;
    p = NULL;
    rc = 0;
out:
    bpt_tdx_collateral_prepared_free(p);
    json_decref(o);
    return rc;
}

/* A signed document of prepared collateral: its issuer chain, its signature, its dates. */
static int check_document(const struct bpt_tdx_collateral *c, bool *beyond, STACK_OF(X509) * chain,
                          const char *text, const char *sig, int64_t issue, int64_t next,
                          STACK_OF(X509) * roots, int64_t at, const char *what)
{
    char w_chain[64], w_sig[64];
    X509 *signer = NULL;
    int rc;
    snprintf(w_chain, sizeof(w_chain), "%s issuer chain", what);
    snprintf(w_sig, sizeof(w_sig), "%s signature", what);
    BPT_CHECK(check_issuer_chain(&signer, NULL, c, beyond, chain, c->root_crl, roots, at, w_chain));
    BPT_CHECK(verify_body(signer, text, sig, w_sig));
    BPT_CHECK(check_dates(issue, next, at, what));
out:
    X509_free(signer);
    return rc;
}

int bpt_tdx_collateral_check(struct bpt_tdx_collateral **out,
                             const struct bpt_tdx_collateral_prepared *p, STACK_OF(X509) * roots,
                             int64_t at)
{
    struct bpt_tdx_collateral *c = p->col;
    X509 *signer = NULL;
    bool beyond = false;
    int rc;

    /* The order of bpt_tdx_collateral_verify(), whose parsing was done when prepared. */
    *out = NULL;
    BPT_CHECK(check_root_crl(c->root_crl, roots, at));
    BPT_CHECK(check_document(c, &beyond, p->tcb_chain, p->tcb_info, p->tcb_sig, c->tcb.issue_date,
                             c->tcb.next_update, roots, at, "tdx: TCB Info"));
    BPT_CHECK(check_document(c, &beyond, p->qe_chain, p->qe_id, p->qe_sig, c->qe.issue_date,
                             c->qe.next_update, roots, at, "tdx: QE Identity"));
    BPT_CHECK(check_issuer_chain(&signer, NULL, c, &beyond, p->crl_chain, c->root_crl, roots, at,
                                 "tdx: PCK CRL issuer chain"));
    BPT_CHECK(bpt_pki_check_crl(c->pck_crl, signer, at, "tdx: PCK CRL"));
    if (beyond) {
        rc = 1; /* valid, but its window is not the prepared one: the caller verifies the text */
        goto out;
    }
    *out = bpt_tdx_collateral_retain(c);
    rc = 0;
out:
    X509_free(signer);
    return rc;
}
