/*
 * The two JWT attestation providers: GCP Confidential Space and Azure Attestation (MAA).
 * Both authenticate the token through jwt.c, then map and judge their own claims.
 */
#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/policy_internal.h"
#include "attestation/providers/jwt_internal.h"
#include "attestation/providers/providers.h"
#include "attestation/verified_internal.h"

#include <blueprint-tee/secret.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *str_claim(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Copy a claim into the report's custom claims when the token has it. A copy, not a shared
 * reference: a token's claims may be a context's kept token's, read by other threads, and
 * jansson's reference counting reads the count without an atomic load. */
static int copy_claim(struct bpt_claims *c, const json_t *o, const char *key, const char *as)
{
    json_t *v = json_object_get(o, key);
    return v ? bpt_claims_set_customv(c, as ? as : key, json_deep_copy(v)) : 0;
}

/* The report common to both: evidence, iat as issued_at, the measurement when known. */
static int new_report(bpt_report **out, bpt_provider prov, const uint8_t *ev, size_t len,
                      const struct bpt_jwt *t, const char *alg, const uint8_t *m, size_t m_len)
{
    const json_t *iat = json_object_get(t->claims, "iat");
    bpt_measurement meas;
    int rc;
    BPT_CHECK(bpt_report_new(out, prov, bpt_provider_format(prov)));
    BPT_CHECK(bpt_report_set_evidence(*out, ev, len));
    if (json_is_integer(iat) && json_integer_value(iat) > 0) {
        bpt_report_set_issued_at(*out, (uint64_t)json_integer_value(iat));
    }
    if (m_len) {
        BPT_CHECK(bpt_measurement_set_bytes(&meas, alg, m, m_len));
        bpt_report_set_measurement(*out, &meas);
    }
out:
    return rc;
}

/* What the token authenticated, and a warning when it was accepted unbound (an opt-out). */
static int finish(bpt_verify_result *res, const uint8_t *report_data, size_t rd_len,
                  const struct bpt_jwt *t, bool unbound)
{
    if (rd_len) {
        memcpy(res->d.report_data, report_data, rd_len);
        res->d.report_data_len = rd_len;
    }
    res->d.tcb = json_pack("{s:s,s:s}", "token_alg", t->alg_name, "kid", t->kid);
    if (unbound &&
        !(res->d.warnings = json_pack("[s]", "insecure_any_audience: the token is not bound to "
                                             "this relying party (no expected audience, nonce "
                                             "or report data was checked); any token of this "
                                             "issuer, minted for anyone, would pass"))) {
        return bpt_err_nomem("warnings");
    }
    return res->d.tcb ? 0 : bpt_err_nomem("tcb");
}

/*
 * Is the token bound to this relying party? GCP Confidential Space: by an expected audience
 * (the audience the workload asked the launcher for). Azure MAA: by an expected audience when
 * the token names one, else by an expected nonce or report data (the runtime claims bind
 * them). Without a binding: unsatisfiable, unless the policy opts out (then *unbound).
 */
static int bound_to_relying_party(bool *unbound, const struct bpt_jwt *t, const bpt_policy *p,
                                  bool gcp, const char *what)
{
    bool has_aud = bpt_jwt_has_audience(t);
    *unbound = false;
    if (p->expected_audience ||
        (!gcp && !has_aud && (p->expected_nonce || p->expected_report_data_len))) {
        return 0;
    }
    if (p->insecure_any_audience) {
        *unbound = true;
        return 0;
    }
    if (gcp || has_aud) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "%s: the token is not bound to this relying party: the policy names no "
                       "expected_audience%s, so a token of this issuer minted for anyone would "
                       "pass; set expected_audience, or insecure_any_audience to accept that",
                       what, gcp ? " (the audience the workload asked its launcher for)" : "");
    }
    return bpt_err(BPT_EUNSATISFIABLE,
                   "%s: the token names no audience and the policy expects neither a nonce nor "
                   "report data, so nothing binds it to this relying party; set expected_nonce "
                   "or expected_report_data, or insecure_any_audience to accept that",
                   what);
}

/* The token: parsed once by the dispatcher when it chose between the JWT providers, else here
 * into @p local (a provider's own entry point). */
static int token(const struct bpt_jwt **t, struct bpt_jwt *local, const struct bpt_evidence *ev,
                 const bpt_verify_ctx *ctx, const char *what)
{
    if (ev->jwt) {
        *t = ev->jwt;
        return 0;
    }
    *t = local;
    return bpt_jwt_parse_cached(local, ctx, ev->bytes, ev->len, what);
}

bool bpt_jwt_is_gcp(const struct bpt_jwt *t)
{
    const char *iss = str_claim(t->claims, "iss");
    return iss && strcmp(iss, BPT_GCP_ISSUER) == 0;
}

int bpt_jwt_provider_keys_url(char *buf, size_t len, const struct bpt_jwt *t, const bpt_policy *p)
{
    const char *iss = str_claim(t->claims, "iss");
    int n;
    buf[0] = '\0';
    if (bpt_jwt_is_gcp(t)) {
        n = snprintf(buf, len, "%s", BPT_GCP_JWKS_URL);
    } else if (iss && p->jwt.n_issuers && bpt_jwt_issuer_listed(p, iss)) {
        n = snprintf(buf, len, "%s/certs", iss); /* the MAA instance's keys */
    } else {
        return 0; /* MAA without its instance named: no URL of its own */
    }
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_EINVAL, "jwt: keys URL longer than %zu bytes", len - 1);
    }
    return 0;
}

/* ---- GCP Confidential Space ------------------------------------------------------------- */

/* "sha256:<hex>" or "<hex>": the hex part. */
static const char *digest_hex(const char *d)
{
    return strncmp(d, "sha256:", 7) == 0 ? d + 7 : d;
}

static int gcp_nonce(const json_t *claims, const char *want)
{
    const json_t *n = json_object_get(claims, "eat_nonce");
    size_t i;
    json_t *e;
    if (json_is_string(n)) {
        if (strcmp(json_string_value(n), want) == 0) {
            return 0;
        }
    } else if (json_is_array(n)) {
        json_array_foreach(n, i, e)
        {
            if (json_is_string(e) && strcmp(json_string_value(e), want) == 0) {
                return 0;
            }
        }
    }
    return bpt_err(BPT_ECLAIM, "gcp_confidential: the expected nonce is not in eat_nonce%s",
                   n ? "" : " (the token has none)");
}

/*
 * The report data a GCP token binds (docs/jwt.md): eat_nonce an array whose first two values
 * are 64 hex digits each, the first 32 bytes then the next. @return 1 found (in @p rd), 0 not.
 */
static int gcp_report_data(uint8_t rd[64], const json_t *claims)
{
    const json_t *n = json_object_get(claims, "eat_nonce");
    for (size_t i = 0; i < 2; i++) {
        const char *v = json_string_value(json_array_get(n, i));
        if (!v || strlen(v) != 64 ||
            bpt_hex_decode_exact(rd + 32 * i, 32, v, 64, "eat_nonce") < 0) {
            bpt_error_clear();
            return 0;
        }
    }
    return 1;
}

static int gcp_verify(bpt_verify_result *res, const struct bpt_evidence *ev,
                      const bpt_verify_ctx *ctx, const bpt_policy *policy, void *state)
{
    static const char what[] = "gcp_confidential";
    struct bpt_jwt local;
    const struct bpt_jwt *t = NULL;
    bpt_report *report = NULL;
    const json_t *container;
    const char *iss, *dbgstat, *image = NULL;
    uint8_t digest[32], rd[64];
    size_t digest_len = 0;
    bool debug, unbound = false, has_rd;
    int rc;

    (void)state;
    memset(&local, 0, sizeof(local));
    BPT_CHECK(token(&t, &local, ev, ctx, what));
    iss = str_claim(t->claims, "iss");
    if (!iss || strcmp(iss, BPT_GCP_ISSUER) != 0) {
        rc = bpt_err(BPT_ECLAIM, "%s: issuer '%.128s' is not %s", what, iss ? iss : "(none)",
                     BPT_GCP_ISSUER);
        goto out;
    }
    if (policy->jwt.n_issuers && !bpt_jwt_issuer_listed(policy, iss)) {
        rc = bpt_err(BPT_ECLAIM, "%s: issuer %s is not in the policy's jwt.issuers", what, iss);
        goto out;
    }
    /* The policy alone decides this (no claim is read): before fetching any key. */
    BPT_CHECK(bound_to_relying_party(&unbound, t, policy, true, what));
    BPT_CHECK(bpt_jwt_authenticate(t, ctx, policy, ev->at, BPT_GCP_JWKS_URL, what));

    /* Claims, judged only now that the token is authentic. */
    dbgstat = str_claim(t->claims, "dbgstat");
    debug = !dbgstat || strcmp(dbgstat, "disabled-since-boot") != 0;
    if (debug && !policy->allow_debug) {
        rc = bpt_err(BPT_ECLAIM,
                     "%s: dbgstat is '%.32s', not disabled-since-boot, and the "
                     "policy refuses debug-mode TEEs",
                     what, dbgstat ? dbgstat : "(absent)");
        goto out;
    }
    if (policy->expected_nonce) {
        BPT_CHECK(gcp_nonce(t->claims, policy->expected_nonce));
    }
    container = json_object_get(json_object_get(t->claims, "submods"), "container");
    image = str_claim(container, "image_digest");
    if (image && bpt_hex_decode_exact(digest, 32, digest_hex(image), strlen(digest_hex(image)),
                                      "image_digest") == 0) {
        digest_len = 32;
    }
    if (policy->expected_image_digest &&
        (!image || strcasecmp(digest_hex(image), digest_hex(policy->expected_image_digest)) != 0)) {
        rc = bpt_err(BPT_ECLAIM, "%s: image digest %.80s is not the expected %.80s", what,
                     image ? image : "(absent)", policy->expected_image_digest);
        goto out;
    }
    if (policy->has_expected_measurement) {
        if (!digest_len) {
            rc = bpt_err(BPT_ECLAIM,
                         "%s: no image digest to compare with the expected "
                         "measurement",
                         what);
            goto out;
        }
        BPT_CHECK(bpt_policy_check_measurement(policy, digest, 32,
                                               "gcp_confidential: measurement (image digest)"));
    }
    has_rd = gcp_report_data(rd, t->claims) == 1;
    if (policy->expected_report_data_len) {
        if (!has_rd) {
            rc = bpt_err(BPT_ECLAIM,
                         "%s: the token carries no report data (eat_nonce's first two values, "
                         "32 bytes each in hex) to compare",
                         what);
            goto out;
        }
        BPT_CHECK(bpt_policy_check_report_data(policy, rd, "gcp_confidential: report_data"));
    }

    BPT_CHECK(new_report(&report, BPT_PROVIDER_GCP_CONFIDENTIAL, ev->bytes, ev->len, t, "sha256",
                         digest, digest_len));
    {
        struct bpt_claims *c = bpt_report_claims_mut(report);
        const json_t *swv = json_array_get(json_object_get(t->claims, "swversion"), 0);
        char platform[160];
        c->debug_mode = debug;
        snprintf(platform, sizeof(platform), "%.64s %.32s on %.32s",
                 str_claim(t->claims, "swname") ? str_claim(t->claims, "swname") : "?",
                 json_is_string(swv) ? json_string_value(swv) : "",
                 str_claim(t->claims, "hwmodel") ? str_claim(t->claims, "hwmodel") : "?");
        BPT_CHECK(bpt_claims_set_platform_version(c, platform));
        if (str_claim(t->claims, "hwmodel")) {
            BPT_CHECK(bpt_claims_set_product_id(c, str_claim(t->claims, "hwmodel")));
        }
        static const char *const top[] = {"iss",
                                          "sub",
                                          "aud",
                                          "swname",
                                          "swversion",
                                          "hwmodel",
                                          "secboot",
                                          "dbgstat",
                                          "eat_nonce",
                                          "oemid",
                                          "google_service_accounts"};
        for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
            BPT_CHECK(copy_claim(c, t->claims, top[i], NULL));
        }
        BPT_CHECK(copy_claim(c, container, "image_digest", NULL));
        BPT_CHECK(copy_claim(c, container, "image_reference", NULL));
        BPT_CHECK(copy_claim(c, container, "restart_policy", NULL));
        BPT_CHECK(copy_claim(c, container, "image_id", NULL));
        if (has_rd) {
            BPT_CHECK(bpt_claims_set_user_data(c, rd, 64));
        }
    }
    BPT_CHECK(finish(res, rd, has_rd ? 64 : 0, t, unbound));
    res->report = report;
    report = NULL;
    rc = 0;
out:
    bpt_report_free(report);
    bpt_jwt_dispose(&local);
    return rc;
}

/* ---- Azure Attestation ------------------------------------------------------------------ */

/* Where the TEE's claims are: the token itself, or x-ms-isolation-tee for an Azure CVM. */
static const json_t *maa_tee(const json_t *claims, const char **type)
{
    const char *top = str_claim(claims, "x-ms-attestation-type");
    const json_t *iso = json_object_get(claims, "x-ms-isolation-tee");
    if (top && strcmp(top, "azurevm") == 0 && json_is_object(iso)) {
        *type = str_claim(iso, "x-ms-attestation-type");
        return iso;
    }
    *type = top;
    return claims;
}

static int maa_hex(uint8_t *out, size_t n, const json_t *tee, const char *key, bool required,
                   const char *what)
{
    const char *v = str_claim(tee, key);
    if (!v) {
        return required ? bpt_err(BPT_EMALFORMED, "%s: the token has no %s", what, key) : 0;
    }
    if (bpt_hex_decode_exact(out, n, v, strlen(v), key) < 0) {
        return bpt_err(BPT_EMALFORMED, "%s: %s is not %zu bytes of hex", what, key, n);
    }
    return 1;
}

/*
 * The nonce: the token's "nonce" claim (what MAA reflects from the attest request), else
 * x-ms-runtime.client-payload.nonce (the guest attestation client's runtime data). Both are
 * signed by the attestation service. With an expected nonce, it must equal the one found.
 */
static int maa_nonce(const json_t *claims, const char *want, const char **found)
{
    const json_t *payload =
        json_object_get(json_object_get(claims, "x-ms-runtime"), "client-payload");
    *found = str_claim(claims, "nonce");
    if (!*found) {
        *found = str_claim(payload, "nonce");
    }
    if (!want) {
        return 0;
    }
    if (!*found) {
        return bpt_err(BPT_ECLAIM, "azure_maa: the token has no nonce (nonce or "
                                   "x-ms-runtime.client-payload.nonce); the policy expects one");
    }
    if (strcmp(*found, want) != 0) {
        return bpt_err(BPT_ECLAIM, "azure_maa: the token's nonce differs from the expected nonce");
    }
    return 0;
}

/* "sevsnpvm bootloader 3 tee 0 snp 8 microcode 115" from the SVN claims, when present. */
static int maa_platform(struct bpt_claims *c, const json_t *tee, const char *type)
{
    static const char *const svn[][2] = {{"x-ms-sevsnpvm-bootloader-svn", "bootloader"},
                                         {"x-ms-sevsnpvm-tee-svn", "tee"},
                                         {"x-ms-sevsnpvm-snpfw-svn", "snp"},
                                         {"x-ms-sevsnpvm-microcode-svn", "microcode"}};
    char text[160];
    size_t n = (size_t)snprintf(text, sizeof(text), "%s", type);
    for (size_t i = 0; i < sizeof(svn) / sizeof(svn[0]) && n < sizeof(text); i++) {
        const json_t *v = json_object_get(tee, svn[i][0]);
        if (json_is_integer(v)) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, " %s %lld", svn[i][1],
                                  (long long)json_integer_value(v));
        }
    }
    return bpt_claims_set_platform_version(c, text);
}

static int maa_verify(bpt_verify_result *res, const struct bpt_evidence *ev,
                      const bpt_verify_ctx *ctx, const bpt_policy *policy, void *state)
{
    static const char what[] = "azure_maa";
    struct bpt_jwt local;
    const struct bpt_jwt *t = NULL;
    bpt_report *report = NULL;
    const json_t *tee, *dbg;
    const char *iss, *type = NULL, *meas_key, *rd_key, *dbg_key, *nonce;
    char certs[1100];

    uint8_t meas[48], rd[64];
    bool snp, has_rd = false, unbound = false;
    int rc;

    (void)state;
    memset(&local, 0, sizeof(local));
    BPT_CHECK(token(&t, &local, ev, ctx, what));
    iss = str_claim(t->claims, "iss");
    if (!iss || !*iss || strlen(iss) > 1000) {
        rc = bpt_err(BPT_EMALFORMED, "%s: the token has no issuer (a string of 1..1000 bytes)",
                     what);
        goto out;
    }
    if (policy->jwt.n_issuers) {
        if (!bpt_jwt_issuer_listed(policy, iss)) {
            rc = bpt_err(BPT_ECLAIM, "%s: issuer '%.200s' is not in the policy's jwt.issuers", what,
                         iss);
            goto out;
        }
    } else if (!bpt_jwt_has_key_source(ctx, policy)) {
        /* Keys from <iss>/certs would let any issuer vouch for itself. */
        rc = bpt_err(BPT_EUNSATISFIABLE,
                     "%s: name the MAA instance in jwt.issuers (or give its JWKS): without it "
                     "any issuer could sign",
                     what);
        goto out;
    }
    BPT_CHECK(bpt_jwt_provider_keys_url(certs, sizeof(certs), t, policy));
    BPT_CHECK(bpt_jwt_authenticate(t, ctx, policy, ev->at, certs[0] ? certs : NULL, what));
    /* Whether aud is there decides which binding the token needs: read now it is authentic. */
    BPT_CHECK(bound_to_relying_party(&unbound, t, policy, false, what));

    tee = maa_tee(t->claims, &type);
    if (!type || (strcmp(type, "sevsnpvm") != 0 && strcmp(type, "tdxvm") != 0)) {
        rc = bpt_err(BPT_EUNSATISFIABLE,
                     "%s: attestation type '%.32s' is not supported (sevsnpvm, tdxvm, or azurevm "
                     "with one of them)",
                     what, type ? type : "(none)");
        goto out;
    }
    snp = strcmp(type, "sevsnpvm") == 0;
    dbg_key = snp ? "x-ms-sevsnpvm-is-debuggable" : "tdx_td_attributes_debug";
    meas_key = snp ? "x-ms-sevsnpvm-launchmeasurement" : "tdx_mrtd";
    rd_key = snp ? "x-ms-sevsnpvm-reportdata" : "tdx_report_data";
    dbg = json_object_get(tee, dbg_key);
    if (!json_is_boolean(dbg)) {
        rc = bpt_err(BPT_EMALFORMED, "%s: %s is missing or not a boolean", what, dbg_key);
        goto out;
    }
    if (json_is_true(dbg) && !policy->allow_debug) {
        rc = bpt_err(BPT_ECLAIM, "%s: %s is true and the policy refuses debug-mode TEEs", what,
                     dbg_key);
        goto out;
    }
    BPT_CHECK(maa_hex(meas, 48, tee, meas_key, true, what));
    BPT_CHECK(bpt_policy_check_measurement(policy, meas, 48, "azure_maa: measurement"));
    if ((rc = maa_hex(rd, 64, tee, rd_key, false, what)) < 0) {
        goto out;
    }
    has_rd = rc == 1;
    if (tee != t->claims) {
        /* An Azure CVM: the TEE's report data is the hash of the vTPM's runtime data, which MAA
         * checked; what the workload bound is its client payload's report_data, when given. */
        const json_t *payload =
            json_object_get(json_object_get(t->claims, "x-ms-runtime"), "client-payload");
        if ((rc = maa_hex(rd, 64, payload, "report_data", false, what)) < 0) {
            rc =
                bpt_err(BPT_EMALFORMED,
                        "%s: x-ms-runtime.client-payload.report_data is not 64 bytes of hex", what);
            goto out;
        }
        has_rd = has_rd || rc == 1;
    }
    if (policy->expected_report_data_len) {
        if (!has_rd) {
            rc = bpt_err(BPT_ECLAIM, "%s: the token has no %s to compare", what, rd_key);
            goto out;
        }
        BPT_CHECK(bpt_policy_check_report_data(policy, rd, "azure_maa: report_data"));
    }
    BPT_CHECK(maa_nonce(t->claims, policy->expected_nonce, &nonce));
    if (policy->expected_image_digest) {
        const char *image = str_claim(json_object_get(t->claims, "x-ms-runtime"), "image_digest");
        if (!image || strcasecmp(digest_hex(image), digest_hex(policy->expected_image_digest))) {
            rc = bpt_err(BPT_ECLAIM,
                         "%s: image digest %.80s (x-ms-runtime) is not the expected %.80s", what,
                         image ? image : "(absent)", policy->expected_image_digest);
            goto out;
        }
    }

    BPT_CHECK(
        new_report(&report, BPT_PROVIDER_AZURE_SNP, ev->bytes, ev->len, t, "sha384", meas, 48));
    {
        struct bpt_claims *c = bpt_report_claims_mut(report);
        const char *k;
        json_t *v;
        c->debug_mode = json_is_true(dbg);
        BPT_CHECK(maa_platform(c, tee, type));
        if (has_rd) {
            BPT_CHECK(bpt_claims_set_user_data(c, rd, 64));
        }
        static const char *const top[] = {
            "iss",          "x-ms-attestation-type", "x-ms-compliance-status",
            "x-ms-runtime", "x-ms-policy-hash",      "x-ms-ver",
            "nonce"};
        for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
            BPT_CHECK(copy_claim(c, t->claims, top[i], NULL));
        }
        json_object_foreach((json_t *)tee, k, v)
        {
            if (strncmp(k, "x-ms-sevsnpvm-", 14) == 0 || strncmp(k, "tdx_", 4) == 0 ||
                strcmp(k, "x-ms-compliance-status") == 0) {
                BPT_CHECK(bpt_claims_set_customv(c, k, json_deep_copy(v)));
            }
        }
    }
    BPT_CHECK(finish(res, rd, has_rd ? 64 : 0, t, unbound));
    res->report = report;
    report = NULL;
    rc = 0;
out:
    bpt_report_free(report);
    bpt_jwt_dispose(&local);
    return rc;
}

/* The dispatcher parsed the token once: GCP's verifier takes the tokens its issuer signed. */
static bool gcp_accepts(const bpt_evidence *ev, void *state)
{
    (void)state;
    return ev->jwt && bpt_jwt_is_gcp(ev->jwt);
}

const bpt_verifier_vtable bpt_gcp_confidential_verifier = {
    .api_version = BPT_VERIFIER_API_VERSION,
    .name = "gcp_confidential",
    .provider = BPT_PROVIDER_GCP_CONFIDENTIAL,
    .kind = BPT_EVIDENCE_JWT,
    .level = BPT_VERIFICATION_CRYPTOGRAPHIC,
    .priority = 1, /* before Azure MAA, which takes every other token */
    .accepts = gcp_accepts,
    .verify = gcp_verify,
};

const bpt_verifier_vtable bpt_azure_maa_verifier = {
    .api_version = BPT_VERIFIER_API_VERSION,
    .name = "azure_maa",
    .provider = BPT_PROVIDER_AZURE_SNP,
    .kind = BPT_EVIDENCE_JWT,
    .level = BPT_VERIFICATION_CRYPTOGRAPHIC,
    .verify = maa_verify,
};

int bpt_gcp_confidential_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                const bpt_policy *policy, const uint8_t *ev, size_t ev_len)
{
    return bpt_verifier_run_direct(out, &bpt_gcp_confidential_verifier, ctx, policy, ev, ev_len);
}

int bpt_azure_maa_verify(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                         const uint8_t *ev, size_t ev_len)
{
    return bpt_verifier_run_direct(out, &bpt_azure_maa_verifier, ctx, policy, ev, ev_len);
}
