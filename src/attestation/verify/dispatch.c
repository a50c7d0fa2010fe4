/*
 * The dispatcher: evidence is recognised once (its kind; a JWT is parsed once, so the JWT
 * providers can tell their tokens apart), one verifier of the context is chosen, and it runs
 * through bpt_verifier_run(). Also the contexts with the built-in verifiers, and bpt_verifier.
 *
 * Choosing: a named provider is enforced (only its verifiers, whatever accepts() says of their
 * kind; evidence of another kind is refused, no fallback); otherwise the highest-priority
 * verifier that takes the kind and accepts the evidence, the first registered on a tie.
 */
#include <blueprint-tee/verify.h>

#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/providers/jwt_internal.h"
#include "attestation/providers/providers.h"
#include "attestation/verified_internal.h"
#include "attestation/verify/verify_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the built-in verifiers ------------------------------------------------------------------ */

static int not_built(bpt_verify_result *res, const bpt_evidence *ev, const bpt_verify_ctx *ctx,
                     const bpt_policy *policy, void *state)
{
    (void)res, (void)ev, (void)ctx, (void)policy;
    return bpt_err(BPT_ENOTSUP, "%s", (const char *)state);
}

static const struct builtin {
    const bpt_verifier_vtable *vt;
    bool built;
    const char *why; /* when not built */
} builtins[] = {
    {&bpt_sev_snp_verifier, BPT_WITH_SEV_SNP,
     "amd_sev_snp: verifier not built (configure with -DBPT_WITH_SEV_SNP=ON)"},
    {&bpt_tdx_verifier, BPT_WITH_TDX,
     "intel_tdx: verifier not built (configure with -DBPT_WITH_TDX=ON)"},
    {&bpt_aws_nitro_verifier, BPT_WITH_AWS_NITRO,
     "aws_nitro: verifier not built (configure with -DBPT_WITH_AWS_NITRO=ON)"},
    {&bpt_gcp_confidential_verifier, BPT_WITH_GCP_CONFIDENTIAL,
     "gcp_confidential: verifier not built (configure with -DBPT_WITH_GCP_CONFIDENTIAL=ON)"},
    {&bpt_azure_maa_verifier, BPT_WITH_AZURE_SNP,
     "azure_snp: verifier not built (configure with -DBPT_WITH_AZURE_SNP=ON)"},
};

int bpt_verify_ctx_new(bpt_verify_ctx **out, const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx *c = NULL;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "verify context: no out pointer");
    }
    *out = NULL;
    BPT_CHECK(bpt_verify_ctx_alloc(&c, opts));
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        bpt_verifier_vtable vt = *builtins[i].vt;
        if (!builtins[i].built) { /* still registered: naming it says why it cannot run */
            vt.verify = not_built;
            vt.state = (void *)builtins[i].why;
        }
        BPT_CHECK(bpt_verify_ctx_register(c, &vt, true));
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    bpt_verify_ctx_free(c);
    return rc;
}

/* ---- choosing a verifier --------------------------------------------------------------------- */

static bool provider_matches(const bpt_verifier_vtable *vt, bpt_provider want,
                             const char *want_name)
{
    if (want == BPT_PROVIDER_UNKNOWN) {
        return true;
    }
    if (vt->provider != want) {
        return false;
    }
    return want != BPT_PROVIDER_CUSTOM || !want_name || strcmp(vt->provider_name, want_name) == 0;
}

static const struct bpt_ctx_verifier *choose(const bpt_verify_ctx *ctx,
                                             const struct bpt_evidence *ev, bpt_provider want,
                                             const char *want_name)
{
    const struct bpt_ctx_verifier *best = NULL;
    for (size_t i = 0; i < ctx->n_verifiers; i++) {
        const struct bpt_ctx_verifier *cv = &ctx->verifiers[i];
        const bpt_verifier_vtable *vt = &cv->vt;
        bool takes;
        if (!provider_matches(vt, want, want_name)) {
            continue;
        }
        if (vt->kind == BPT_EVIDENCE_UNKNOWN) {
            takes = vt->accepts(ev, vt->state); /* a format of the plugin's own */
        } else {
            takes = vt->kind == ev->kind &&
                    (want != BPT_PROVIDER_UNKNOWN || !vt->accepts || vt->accepts(ev, vt->state));
        }
        if (takes && (!best || vt->priority > best->vt.priority)) {
            best = cv;
        }
    }
    return best;
}

static bool has_provider(const bpt_verify_ctx *ctx, bpt_provider want, const char *want_name)
{
    for (size_t i = 0; i < ctx->n_verifiers; i++) {
        if (provider_matches(&ctx->verifiers[i].vt, want, want_name)) {
            return true;
        }
    }
    return false;
}

static const char *want_label(bpt_provider want, const char *want_name)
{
    return want == BPT_PROVIDER_CUSTOM && want_name ? want_name : bpt_provider_name(want);
}

/* Why no verifier took the evidence. */
static int refuse(const bpt_verify_ctx *ctx, const struct bpt_evidence *ev, bpt_provider want,
                  const char *want_name)
{
    if (want == BPT_PROVIDER_UNKNOWN) {
        if (ev->kind == BPT_EVIDENCE_SGX_QUOTE) {
            return bpt_err(BPT_EUNSATISFIABLE,
                           "verify: SGX DCAP quotes are recognised but not verified (no SGX "
                           "provider)");
        }
        if (ev->kind == BPT_EVIDENCE_UNKNOWN) {
            return bpt_err(BPT_EMALFORMED,
                           "verify: %zu bytes are not a recognised evidence format (expected an "
                           "SEV-SNP report, a TDX quote, a Nitro COSE document, a JWT or report "
                           "JSON)",
                           ev->len);
        }
        return bpt_err(BPT_EUNSATISFIABLE, "verify: no verifier takes %s evidence",
                       bpt_evidence_kind_name(ev->kind));
    }
    if (!has_provider(ctx, want, want_name)) {
        return bpt_err(BPT_EUNSATISFIABLE, "verify: no verifier for provider %s",
                       want_label(want, want_name));
    }
    if (ev->kind == BPT_EVIDENCE_UNKNOWN) {
        return bpt_err(BPT_EMALFORMED, "verify: %zu bytes are not %s evidence", ev->len,
                       want_label(want, want_name));
    }
    return bpt_err(BPT_EMALFORMED, "verify: provider %s was named but the evidence is %s",
                   want_label(want, want_name), bpt_evidence_kind_name(ev->kind));
}

/* What a refused verification had learned before it refused (bpt_verify_explain()). */
struct refusal {
    const char *provider; /* static, or the plugin vtable's name */
    const char *format;   /* static */
    char evidence_sha256[65];
    json_t *tcb; /* owned: the verifier's "tcb" when it got that far */
};

/* The provider of recognised evidence (a JWT by its parsed issuer), without a verifier. */
static bpt_provider kind_provider(const struct bpt_evidence *ev)
{
    switch (ev->kind) {
    case BPT_EVIDENCE_SEV_SNP_REPORT:
        return BPT_PROVIDER_AMD_SEV_SNP;
    case BPT_EVIDENCE_TDX_QUOTE:
        return BPT_PROVIDER_INTEL_TDX;
    case BPT_EVIDENCE_NITRO_COSE:
        return BPT_PROVIDER_AWS_NITRO;
    case BPT_EVIDENCE_JWT:
        return ev->jwt && bpt_jwt_is_gcp(ev->jwt) ? BPT_PROVIDER_GCP_CONFIDENTIAL
                                                  : BPT_PROVIDER_AZURE_SNP;
    default:
        return BPT_PROVIDER_UNKNOWN;
    }
}

/* Which provider and format the evidence was taken for, and its digest. */
static void note_evidence(struct refusal *why, const struct bpt_evidence *ev,
                          const struct bpt_ctx_verifier *cv, bpt_provider want)
{
    bpt_provider p = cv ? cv->vt.provider : want != BPT_PROVIDER_UNKNOWN ? want : kind_provider(ev);
    uint8_t md[BPT_SHA256_LEN];

    if (p == BPT_PROVIDER_CUSTOM) {
        why->provider = cv ? cv->vt.provider_name : "custom";
        why->format = "unknown"; /* a plugin names its format on success only */
    } else {
        why->provider = bpt_provider_name(p);
        why->format = bpt_format_name(bpt_provider_format(p));
    }
    if (ev->len > 0 && bpt_sha256(md, ev->bytes, ev->len) == 0) {
        bpt_hex_encode_to(why->evidence_sha256, md, sizeof(md));
    }
}

/* Recognise, choose, run: the one path every verification takes. */
static int dispatch(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                    struct bpt_evidence *ev, bpt_provider want, const char *want_name,
                    struct refusal *why)
{
    const struct bpt_ctx_verifier *cv;
    struct bpt_jwt jwt;
    int rc;

    memset(&jwt, 0, sizeof(jwt));
    if (ev->kind == BPT_EVIDENCE_JWT &&
        bpt_jwt_parse_cached(&jwt, ctx, ev->bytes, ev->len, "jwt") == 0) {
        ev->jwt = &jwt; /* parsed once; a token that does not parse is refused by its verifier */
    }
    cv = choose(ctx, ev, want, want_name);
    if (why) {
        note_evidence(why, ev, cv, want);
    }
    rc = cv ? bpt_verifier_run(out, &cv->vt, cv->builtin, ctx, policy, ev, why ? &why->tcb : NULL)
            : refuse(ctx, ev, want, want_name);
    ev->jwt = NULL;
    bpt_jwt_dispose(&jwt);
    return rc;
}

int bpt_report_json_evidence(bpt_report **out, const uint8_t *bytes, size_t len, const char *what)
{
    const uint8_t *inner;
    size_t n = 0;
    int rc;
    if ((rc = bpt_report_from_json(out, (const char *)bytes, len)) < 0) {
        return bpt_err_prefix(rc == BPT_EINVAL ? BPT_EMALFORMED : rc, "%s: report JSON", what);
    }
    inner = bpt_report_evidence(*out, &n);
    if (bpt_evidence_recognise(inner, n) == BPT_EVIDENCE_REPORT_JSON) {
        bpt_report_free(*out);
        *out = NULL;
        return bpt_err(BPT_EMALFORMED, "%s: a report's evidence is itself report JSON", what);
    }
    return 0;
}

/* Evidence bytes (report JSON included) through the context's verifiers. */
static int verify_bytes(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                        const uint8_t *ev, size_t ev_len, bpt_provider want, struct refusal *why);

static int verify_report(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                         const bpt_report *report, struct refusal *why)
{
    struct bpt_evidence ev;
    int rc;

    bpt_verify_ctx_freeze(ctx);
    bpt_evidence_init(&ev, report->evidence, report->evidence_len,
                      bpt_evidence_recognise(report->evidence, report->evidence_len),
                      bpt_verify_ctx_at(ctx));
    if (ev.kind == BPT_EVIDENCE_REPORT_JSON) {
        rc = bpt_err(BPT_EMALFORMED, "verify: a report's evidence is itself report JSON");
        goto out;
    }
    BPT_CHECK(bpt_evidence_set_collateral(&ev, report->collateral));
    rc = dispatch(out, ctx, policy, &ev, report->provider,
                  report->provider == BPT_PROVIDER_CUSTOM ? report->provider_name : NULL, why);
    /* The report's own claims are never trusted, but a key binding it states is checked
     * against the evidence rather than dropped: a mismatch is refused. */
    if (rc == 0 && (rc = bpt_verified_check_key_binding(*out, report)) < 0) {
        bpt_verified_free(*out);
        *out = NULL;
    }
out:
    bpt_evidence_dispose(&ev);
    return rc;
}

static int verify_bytes(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                        const uint8_t *bytes, size_t len, bpt_provider want, struct refusal *why)
{
    struct bpt_evidence ev;
    bpt_report *r = NULL;
    int rc;

    bpt_verify_ctx_freeze(ctx); /* every verification freezes it, refused ones too */
    if (!bytes || len == 0) {
        return bpt_err(BPT_EMALFORMED, "verify: no evidence");
    }
    if (len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_EMALFORMED, "verify: evidence of %zu bytes exceeds the limit of %u", len,
                       BPT_LIMIT_EVIDENCE_BYTES);
    }
    bpt_evidence_init(&ev, bytes, len, bpt_evidence_recognise(bytes, len), bpt_verify_ctx_at(ctx));
    if (ev.kind != BPT_EVIDENCE_REPORT_JSON) {
        rc = dispatch(out, ctx, policy, &ev, want, NULL, why);
        goto out;
    }
    BPT_CHECK(bpt_report_json_evidence(&r, bytes, len, "verify"));
    if (want != BPT_PROVIDER_UNKNOWN && want != r->provider) {
        rc = bpt_err(BPT_EMALFORMED, "verify: provider %s was named but the report is %s",
                     bpt_provider_name(want), r->provider_name);
        goto out;
    }
    rc = verify_report(out, ctx, policy, r, why);
out:
    bpt_report_free(r);
    bpt_evidence_dispose(&ev);
    return rc;
}

/* The refusal JSON of bpt_verify_explain(); leaves the error message as it is. */
static void refusal_json(char **out, const struct refusal *why, int code, const char *message)
{
    json_t *o =
        json_pack("{s:b,s:s,s:s,s:{s:s,s:s}}", "verified", 0, "provider", why->provider, "format",
                  why->format, "error", "kind",
                  bpt_error_name(bpt_error_is_attestation(code) ? code : BPT_EUNSATISFIABLE),
                  "message", message);
    *out = NULL;
    if (!o) {
        return;
    }
    if (why->evidence_sha256[0]) {
        json_object_set_new(o, "evidence_sha256", json_string(why->evidence_sha256));
    }
    if (why->tcb) {
        json_object_set(o, "tcb", why->tcb);
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
}

/* ---- the public entry points ----------------------------------------------------------------- */

/* A default context for a one-off call without one: the built-ins, no caches. */
static int one_off_ctx(bpt_verify_ctx **owned)
{
    static const bpt_verify_ctx_opts no_caches = {
        BPT_VERIFY_CTX_OPTS_VERSION, 0, 0, false, NULL, 0, 0, 0};
    return bpt_verify_ctx_new(owned, &no_caches);
}

int bpt_verify(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
               const uint8_t *ev, size_t ev_len, bpt_provider provider)
{
    bpt_verify_ctx *owned = NULL;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "verify: no out pointer");
    }
    *out = NULL;
    if (!ctx) {
        BPT_CHECK(one_off_ctx(&owned));
        ctx = owned;
    }
    rc = verify_bytes(out, ctx, policy, ev, ev_len, provider, NULL);
out:
    bpt_verify_ctx_free(owned);
    return rc;
}

int bpt_verify_explain(bpt_verified **out, char **refusal, const bpt_verify_ctx *ctx,
                       const bpt_policy *policy, const uint8_t *ev, size_t ev_len,
                       bpt_provider provider)
{
    struct refusal why = {"unknown", "unknown", "", NULL};
    bpt_verify_ctx *owned = NULL;
    char message[BPT_ERROR_MSG_MAX];
    int rc;

    if (refusal) {
        *refusal = NULL;
    }
    if (!out || !refusal) {
        return bpt_err(BPT_EINVAL, "verify: %s", out ? "no refusal pointer" : "no out pointer");
    }
    *out = NULL;
    if (provider != BPT_PROVIDER_UNKNOWN) {
        why.provider = bpt_provider_name(provider);
        why.format = bpt_format_name(bpt_provider_format(provider));
    }
    if (!ctx) {
        BPT_CHECK(one_off_ctx(&owned));
        ctx = owned;
    }
    rc = verify_bytes(out, ctx, policy, ev, ev_len, provider, &why);
out:
    if (rc < 0) {
        snprintf(message, sizeof(message), "%s", bpt_error_last());
        refusal_json(refusal, &why, rc, message);
    }
    json_decref(why.tcb);
    bpt_verify_ctx_free(owned);
    return rc;
}

int bpt_verify_report(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                      const bpt_report *report)
{
    bpt_verify_ctx *owned = NULL;
    int rc;

    if (!out || !report) {
        return bpt_err(BPT_EINVAL, "verify: %s", out ? "no report" : "no out pointer");
    }
    *out = NULL;
    if (!ctx) {
        BPT_CHECK(one_off_ctx(&owned));
        ctx = owned;
    }
    rc = verify_report(out, ctx, policy, report, NULL);
out:
    bpt_verify_ctx_free(owned);
    return rc;
}

struct bpt_verifier {
    bpt_verify_ctx *ctx; /* a reference */
    bpt_policy *policy;  /* a copy */
};

int bpt_verifier_new(bpt_verifier **out, bpt_verify_ctx *ctx, const bpt_policy *policy)
{
    bpt_verifier *v = NULL;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "verifier: no out pointer");
    }
    *out = NULL;
    if (!(v = calloc(1, sizeof(*v)))) {
        return bpt_err_nomem("verifier");
    }
    if (ctx) {
        v->ctx = bpt_verify_ctx_ref(ctx);
    } else {
        BPT_CHECK(bpt_verify_ctx_new(&v->ctx, NULL));
    }
    BPT_CHECK(policy ? bpt_policy_clone(&v->policy, policy) : bpt_policy_new(&v->policy));
    bpt_verify_ctx_freeze(v->ctx);
    *out = v;
    v = NULL;
    rc = 0;
out:
    bpt_verifier_free(v);
    return rc;
}

void bpt_verifier_free(bpt_verifier *v)
{
    if (!v) {
        return;
    }
    bpt_verify_ctx_free(v->ctx);
    bpt_policy_free(v->policy);
    free(v);
}

const bpt_policy *bpt_verifier_policy(const bpt_verifier *v)
{
    return v ? v->policy : NULL;
}

const bpt_verify_ctx *bpt_verifier_ctx(const bpt_verifier *v)
{
    return v ? v->ctx : NULL;
}

int bpt_verifier_verify(bpt_verified **out, const bpt_verifier *v, const uint8_t *ev, size_t ev_len,
                        bpt_provider provider)
{
    if (!out || !v) {
        return bpt_err(BPT_EINVAL, "verify: %s", out ? "no verifier" : "no out pointer");
    }
    *out = NULL;
    return verify_bytes(out, v->ctx, v->policy, ev, ev_len, provider, NULL);
}

int bpt_verifier_verify_report(bpt_verified **out, const bpt_verifier *v, const bpt_report *report)
{
    if (!out || !v || !report) {
        return bpt_err(BPT_EINVAL, "verify: %s",
                       !out ? "no out pointer"
                       : !v ? "no verifier"
                            : "no report");
    }
    *out = NULL;
    return verify_report(out, v->ctx, v->policy, report, NULL);
}

/* ---- which provider ------------------------------------------------------------------------- */

bpt_provider bpt_evidence_provider(const uint8_t *ev, size_t len)
{
    bpt_evidence_kind k = bpt_evidence_recognise(ev, len);
    char saved[BPT_ERROR_MSG_MAX];
    bpt_provider p = BPT_PROVIDER_UNKNOWN;
    bpt_report *r = NULL;
    struct bpt_jwt t;

    /* Parsing sets messages on failure; this function promises to leave the caller's. */
    memset(&t, 0, sizeof(t));
    snprintf(saved, sizeof(saved), "%s", bpt_error_last());
    switch (k) {
    case BPT_EVIDENCE_SEV_SNP_REPORT:
        p = BPT_PROVIDER_AMD_SEV_SNP;
        break;
    case BPT_EVIDENCE_TDX_QUOTE:
        p = BPT_PROVIDER_INTEL_TDX;
        break;
    case BPT_EVIDENCE_NITRO_COSE:
        p = BPT_PROVIDER_AWS_NITRO;
        break;
    case BPT_EVIDENCE_JWT:
        p = bpt_jwt_parse(&t, ev, len, "jwt") == 0 && bpt_jwt_is_gcp(&t)
                ? BPT_PROVIDER_GCP_CONFIDENTIAL
                : BPT_PROVIDER_AZURE_SNP;
        bpt_jwt_dispose(&t);
        break;
    case BPT_EVIDENCE_REPORT_JSON:
        if (bpt_report_from_json(&r, (const char *)ev, len) == 0) {
            p = r->provider;
        }
        bpt_report_free(r);
        break;
    default:
        break;
    }
    bpt_err(0, "%s", saved);
    return p;
}
