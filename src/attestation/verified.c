/*
 * bpt_verified: made only here, from a verifier's result (bpt_verifier_run is not exported), and
 * the result API plugins fill (sys/verifier.h).
 */
#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/policy_internal.h"
#include "attestation/verified_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct bpt_verified {
    bpt_report *report;
    bpt_verification_level level;
    int64_t at;
    uint8_t report_data[BPT_VERIFIED_REPORT_DATA_MAX];
    size_t report_data_len;
    json_t *tcb;
    json_t *warnings;
};

#define MAX_WARNINGS 32

void bpt_verify_result_dispose(struct bpt_verify_result *res)
{
    bpt_report_free(res->report);
    json_decref(res->d.tcb);
    json_decref(res->d.warnings);
    res->report = NULL;
    res->d.tcb = NULL;
    res->d.warnings = NULL;
}

int bpt_verify_result_set_report(bpt_verify_result *res, bpt_report *report)
{
    if (!res || !report || res->report) {
        return bpt_err(BPT_EINVAL, "verify result: %s",
                       !res || !report ? "NULL argument" : "a report was already set");
    }
    res->report = report;
    return 0;
}

int bpt_verify_result_set_report_data(bpt_verify_result *res, const uint8_t *data, size_t len)
{
    if (!res || (!data && len) || len > sizeof(res->d.report_data)) {
        return bpt_err(BPT_EINVAL, "verify result: report data of %zu bytes (at most %zu)", len,
                       sizeof(res->d.report_data));
    }
    if (len) {
        memcpy(res->d.report_data, data, len);
    }
    res->d.report_data_len = len;
    return 0;
}

int bpt_verify_result_set_tcb_json(bpt_verify_result *res, const char *json)
{
    json_t *o = NULL;
    int rc;
    if (!res || !json) {
        return bpt_err(BPT_EINVAL, "verify result: NULL argument");
    }
    BPT_CHECK(bpt_json_parse(&o, json, strlen(json), "verify result: tcb"));
    if (!json_is_object(o)) {
        json_decref(o);
        return bpt_err(BPT_EMALFORMED, "verify result: tcb must be a JSON object");
    }
    json_decref(res->d.tcb);
    res->d.tcb = o;
out:
    return rc;
}

int bpt_verify_result_add_warning(bpt_verify_result *res, const char *text)
{
    if (!res || !text) {
        return bpt_err(BPT_EINVAL, "verify result: NULL argument");
    }
    if (!res->d.warnings && !(res->d.warnings = json_array())) {
        return bpt_err_nomem("warnings");
    }
    if (json_array_size(res->d.warnings) >= MAX_WARNINGS) {
        return bpt_err(BPT_ELIMIT, "verify result: more than %d warnings", MAX_WARNINGS);
    }
    if (json_array_append_new(res->d.warnings, json_string(text)) != 0) {
        return bpt_err(BPT_EINVAL, "verify result: a warning must be UTF-8 text");
    }
    return 0;
}

/* The contract of sys/verifier.h: a report of the vtable's provider, report data that fits. */
static int check_contract(const bpt_verifier_vtable *vt, const struct bpt_verify_result *res)
{
    const bpt_report *r = res->report;
    if (!r || bpt_report_provider(r) != vt->provider ||
        (vt->provider == BPT_PROVIDER_CUSTOM &&
         strcmp(bpt_report_provider_name(r), vt->provider_name) != 0)) {
        return bpt_err(BPT_ERROR,
                       "verifier '%.64s' broke its contract (it succeeded with %s, expected a "
                       "report of provider %s)",
                       vt->name, r ? bpt_report_provider_name(r) : "no report",
                       vt->provider == BPT_PROVIDER_CUSTOM ? vt->provider_name
                                                           : bpt_provider_name(vt->provider));
    }
    return 0;
}

int bpt_verifier_run(bpt_verified **out, const bpt_verifier_vtable *vt, bool builtin,
                     const bpt_verify_ctx *ctx, const bpt_policy *policy,
                     const struct bpt_evidence *ev, json_t **tcb_on_refusal)
{
    struct bpt_verify_result res = {0};
    const struct bpt_log_sink *prev;
    bpt_verified *v = NULL;
    bpt_policy *owned = NULL, *as_read = NULL;
    int rc;

    *out = NULL;
    if (tcb_on_refusal) {
        *tcb_on_refusal = NULL;
    }
    if (!policy) {
        BPT_CHECK(bpt_policy_new(&owned));
        policy = owned;
    }
    bpt_verify_ctx_freeze(ctx);
    /* A policy that no evidence of this provider can meet (a measurement of another algorithm
     * or length) is refused before any work, whatever the verifier. */
    BPT_CHECK(bpt_policy_check_provider(policy, vt->provider));
    /* The nonce rule: where this provider's evidence carries a nonce, the verifier looks. */
    BPT_CHECK(bpt_policy_for_provider(&as_read, policy, vt->provider));
    prev = bpt_log_scope_enter(&ctx->log);
    rc = vt->verify(&res, ev, ctx, as_read ? as_read : policy, vt->state);
    bpt_log_scope_leave(prev);
    if (rc != 0) {
        if (rc > 0 || rc < BPT_ERROR_CODE_MIN) {
            /* Only 0 is success: a made-up code, positive or not, fails closed as BPT_ERROR
             * (its message, if it set one, is kept). */
            rc = BPT_ERROR;
        }
        if (!builtin) {
            rc = bpt_err_prefix(rc, "%.64s", vt->name);
        }
        if (tcb_on_refusal) {
            *tcb_on_refusal = res.d.tcb; /* what it had established before it refused */
            res.d.tcb = NULL;
        }
        goto out;
    }
    BPT_CHECK(check_contract(vt, &res));
    if (!res.report->evidence_len) {
        BPT_CHECK(bpt_report_set_evidence(res.report, ev->bytes, ev->len));
    }
    if (!(v = calloc(1, sizeof(*v)))) {
        rc = bpt_err_nomem("verified attestation");
        goto out;
    }
    v->report = res.report;
    v->level = vt->level;
    v->at = ev->at;
    memcpy(v->report_data, res.d.report_data, res.d.report_data_len);
    v->report_data_len = res.d.report_data_len;
    v->tcb = res.d.tcb;
    v->warnings = res.d.warnings;
    res.report = NULL;
    res.d.tcb = res.d.warnings = NULL;
    *out = v;
    rc = 0;
out:
    bpt_verify_result_dispose(&res);
    bpt_policy_free(as_read);
    bpt_policy_free(owned);
    return rc;
}

int bpt_verifier_run_direct(bpt_verified **out, const bpt_verifier_vtable *vt,
                            const bpt_verify_ctx *ctx, const bpt_policy *policy,
                            const uint8_t *ev_bytes, size_t ev_len)
{
    static const bpt_verify_ctx_opts no_caches = {
        BPT_VERIFY_CTX_OPTS_VERSION, 0, 0, false, NULL, 0, 0, 0};
    struct bpt_evidence ev;
    bpt_verify_ctx *owned = NULL;
    int rc;

    if (!out) {
        return bpt_err(BPT_EINVAL, "%s: no out pointer", vt->name);
    }
    *out = NULL;
    if (!ev_bytes && ev_len) {
        return bpt_err(BPT_EMALFORMED, "%s: no evidence", vt->name);
    }
    if (!ev_bytes) {
        ev_bytes =
            (const uint8_t *)""; /* empty evidence: the provider's parser says what it lacks */
    }
    if (!ctx) {
        BPT_CHECK(bpt_verify_ctx_alloc(&owned, &no_caches));
        ctx = owned;
    }
    bpt_evidence_init(&ev, ev_bytes, ev_len, vt->kind, bpt_verify_ctx_at(ctx));
    rc = bpt_verifier_run(out, vt, true, ctx, policy, &ev, NULL);
    bpt_evidence_dispose(&ev);
out:
    bpt_verify_ctx_free(owned);
    return rc;
}

int bpt_verified_check_key_binding(bpt_verified *v, const bpt_report *claimed)
{
    size_t klen = 0, elen = 0;
    const char *type = NULL, *digest = NULL;
    const uint8_t *key = bpt_report_key_binding(claimed, &klen, &type, &digest);
    const uint8_t *own = bpt_report_key_binding(v->report, &elen, NULL, NULL);
    char rd_hex[2 * BPT_VERIFIED_REPORT_DATA_MAX + 1];

    if (!key) {
        return 0;
    }
    if (own) { /* the evidence carries a key itself: the binding must name that key */
        if (elen != klen || CRYPTO_memcmp(own, key, klen) != 0) {
            return bpt_err(BPT_ECLAIM, "verify: report JSON: public_key_binding names another "
                                       "key than the one the evidence carries");
        }
        return 0;
    }
    bpt_hex_encode_to(rd_hex, v->report_data, v->report_data_len);
    if (v->report_data_len == 0 || strlen(digest) != strlen(rd_hex) ||
        CRYPTO_memcmp(digest, rd_hex, strlen(rd_hex)) != 0) {
        return bpt_err(BPT_ECLAIM,
                       "verify: report JSON: public_key_binding does not match the evidence: "
                       "its binding_digest is not the report data the evidence authenticates "
                       "(%zu bytes)",
                       v->report_data_len);
    }
    return bpt_report_set_key_binding(v->report, key, klen, type, digest);
}

void bpt_verified_free(bpt_verified *v)
{
    if (!v) {
        return;
    }
    bpt_report_free(v->report);
    json_decref(v->tcb);
    json_decref(v->warnings);
    free(v);
}

const bpt_report *bpt_verified_report(const bpt_verified *v)
{
    return v->report;
}

bpt_provider bpt_verified_provider(const bpt_verified *v)
{
    return bpt_report_provider(v->report);
}

bpt_verification_level bpt_verified_level(const bpt_verified *v)
{
    return v->level;
}

int64_t bpt_verified_at(const bpt_verified *v)
{
    return v->at;
}

const uint8_t *bpt_verified_report_data(const bpt_verified *v, size_t *len_out)
{
    *len_out = v->report_data_len;
    return v->report_data_len ? v->report_data : NULL;
}

size_t bpt_verified_warning_count(const bpt_verified *v)
{
    return v && v->warnings ? json_array_size(v->warnings) : 0;
}

const char *bpt_verified_warning(const bpt_verified *v, size_t i)
{
    return v && v->warnings ? json_string_value(json_array_get(v->warnings, i)) : NULL;
}

int bpt_verified_to_json(char **out, const bpt_verified *v)
{
    const bpt_report *r = v->report;
    json_t *o = json_object(), *claims;
    char digest[65], hex[2 * BPT_VERIFIED_REPORT_DATA_MAX + 1];
    int rc;

    *out = NULL;
    if (!o) {
        return bpt_err_nomem("result JSON");
    }
    bpt_report_evidence_digest(digest, r);
    bpt_hex_encode_to(hex, v->report_data, v->report_data_len);
    json_object_set_new(o, "verified", json_true());
    json_object_set_new(o, "provider", json_string(r->provider_name));
    json_object_set_new(o, "format", json_string(r->format_name));
    json_object_set_new(
        o, "verification_level",
        json_string(v->level == BPT_VERIFICATION_CRYPTOGRAPHIC ? "cryptographic" : "structural"));
    json_object_set_new(o, "verified_at", json_integer((json_int_t)v->at));
    json_object_set_new(o, "measurement",
                        json_pack("{s:s,s:s}", "algorithm", r->measurement.algorithm, "digest",
                                  r->measurement.digest));
    json_object_set_new(o, "debug_mode", json_boolean(r->claims.debug_mode));
    json_object_set_new(o, "report_data", json_string(hex));
    json_object_set_new(o, "tcb", v->tcb ? json_incref(v->tcb) : json_null());
    claims = bpt_claims_to_jsonv(&r->claims);
    json_object_set_new(o, "claims", claims ? claims : json_object());
    json_object_set_new(o, "evidence_sha256", json_string(digest));
    json_object_set_new(o, "warnings", v->warnings ? json_incref(v->warnings) : json_array());
    rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}

int bpt_verify_error_json(char **out, bpt_provider provider, int code, const char *message)
{
    json_t *o;
    int rc;
    *out = NULL;
    o = json_pack("{s:b,s:s,s:{s:s,s:s}}", "verified", 0, "provider", bpt_provider_name(provider),
                  "error", "kind", bpt_error_name(code), "message", message ? message : "");
    if (!o) {
        return bpt_err_nomem("error JSON");
    }
    rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}
