/* bpt_verified: made only by the library's verify path (bpt_verified_build is not exported). */
#include "attestation/model_internal.h"
#include "attestation/verified_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

struct bpt_verified {
    bpt_report *report;
    bpt_verification_level level;
    int64_t at;
    uint8_t report_data[64];
    size_t report_data_len;
    json_t *tcb;
    json_t *warnings;
};

void bpt_verify_details_dispose(struct bpt_verify_details *d)
{
    json_decref(d->tcb);
    json_decref(d->warnings);
    d->tcb = NULL;
    d->warnings = NULL;
}

int bpt_verified_build(bpt_verified **out, bpt_report *report, struct bpt_verify_details *d)
{
    bpt_verified *v;
    *out = NULL;
    if (!report || d->report_data_len > sizeof(v->report_data)) {
        return bpt_err(BPT_EINVAL, "verified: bad arguments");
    }
    v = calloc(1, sizeof(*v));
    if (!v) {
        return bpt_err_nomem("verified attestation");
    }
    v->report = report;
    v->level = d->level;
    v->at = d->at;
    memcpy(v->report_data, d->report_data, d->report_data_len);
    v->report_data_len = d->report_data_len;
    v->tcb = d->tcb;
    v->warnings = d->warnings;
    d->tcb = NULL;
    d->warnings = NULL;
    *out = v;
    return 0;
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

int bpt_verified_to_json(char **out, const bpt_verified *v)
{
    const bpt_report *r = v->report;
    json_t *o = json_object(), *claims;
    char digest[65], hex[129];
    int rc;

    *out = NULL;
    if (!o) {
        return bpt_err_nomem("result JSON");
    }
    bpt_report_evidence_digest(digest, r);
    bpt_hex_encode_to(hex, v->report_data, v->report_data_len);
    json_object_set_new(o, "verified", json_true());
    json_object_set_new(o, "provider", json_string(bpt_provider_name(r->provider)));
    json_object_set_new(o, "format", json_string(bpt_format_name(r->format)));
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
