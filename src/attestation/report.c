#include "attestation/model_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int report_alloc(bpt_report **out, bpt_provider provider, bpt_format format,
                        const char *provider_name, const char *format_name)
{
    bpt_report *r = calloc(1, sizeof(*r));
    if (!r) {
        return bpt_err_nomem("report");
    }
    r->provider = provider;
    r->format = format;
    snprintf(r->provider_name, sizeof(r->provider_name), "%s", provider_name);
    snprintf(r->format_name, sizeof(r->format_name), "%s", format_name);
    *out = r;
    return 0;
}

int bpt_report_new(bpt_report **out, bpt_provider provider, bpt_format format)
{
    if (!out) {
        return bpt_err(BPT_EINVAL, "report: no out pointer");
    }
    *out = NULL;
    if ((int)provider <= 0 || (int)provider >= BPT_PROVIDER_COUNT) {
        return bpt_err(BPT_EINVAL,
                       "report: provider %d unknown (a plugin's own: bpt_report_new_custom())",
                       (int)provider);
    }
    if ((int)format <= 0 || format > BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN) {
        return bpt_err(BPT_EINVAL, "report: format %d unknown", (int)format);
    }
    return report_alloc(out, provider, format, bpt_provider_name(provider),
                        bpt_format_name(format));
}

int bpt_report_new_custom(bpt_report **out, const char *provider_name, const char *format_name)
{
    if (!out) {
        return bpt_err(BPT_EINVAL, "report: no out pointer");
    }
    *out = NULL;
    if (!bpt_custom_name_is_valid(provider_name) || !bpt_custom_name_is_valid(format_name)) {
        return bpt_err(BPT_EINVAL,
                       "report: provider '%.64s' / format '%.64s': a plugin's names have the form "
                       "<vendor>.<name> (lowercase letters, digits, '_', '-', '.'; 3..63 bytes)",
                       provider_name ? provider_name : "(null)",
                       format_name ? format_name : "(null)");
    }
    return report_alloc(out, BPT_PROVIDER_CUSTOM, BPT_FORMAT_CUSTOM, provider_name, format_name);
}

void bpt_report_free(bpt_report *r)
{
    if (!r) {
        return;
    }
    free(r->binding_key);
    free(r->binding_digest);
    bpt_claims_dispose(&r->claims);
    free(r->evidence);
    json_decref(r->collateral);
    free(r);
}

int bpt_report_clone(bpt_report **out, const bpt_report *src)
{
    bpt_report *r = NULL;
    int rc;

    *out = NULL;
    BPT_CHECK(report_alloc(&r, src->provider, src->format, src->provider_name, src->format_name));
    r->issued_at = src->issued_at;
    r->measurement = src->measurement;
    BPT_CHECK(bpt_report_set_evidence(r, src->evidence, src->evidence_len));
    if (src->has_binding) {
        BPT_CHECK(bpt_report_set_key_binding(r, src->binding_key, src->binding_key_len,
                                             src->binding_type, src->binding_digest));
    }
    bpt_claims_dispose(&r->claims);
    BPT_CHECK(bpt_claims_copy(&r->claims, &src->claims));
    if (src->collateral) {
        r->collateral = json_deep_copy(src->collateral);
        if (!r->collateral) {
            rc = bpt_err_nomem("collateral");
            goto out;
        }
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_report_free(r);
    return rc;
}

bpt_provider bpt_report_provider(const bpt_report *r)
{
    return r->provider;
}

bpt_format bpt_report_format(const bpt_report *r)
{
    return r->format;
}

const char *bpt_report_provider_name(const bpt_report *r)
{
    return r->provider_name;
}

const char *bpt_report_format_name(const bpt_report *r)
{
    return r->format_name;
}

uint64_t bpt_report_issued_at(const bpt_report *r)
{
    return r->issued_at;
}

void bpt_report_set_issued_at(bpt_report *r, uint64_t unix_secs)
{
    r->issued_at = unix_secs;
}

const bpt_measurement *bpt_report_measurement(const bpt_report *r)
{
    return &r->measurement;
}

void bpt_report_set_measurement(bpt_report *r, const bpt_measurement *m)
{
    r->measurement = *m;
}

const uint8_t *bpt_report_evidence(const bpt_report *r, size_t *len_out)
{
    *len_out = r->evidence_len;
    return r->evidence;
}

int bpt_report_set_evidence(bpt_report *r, const uint8_t *ev, size_t len)
{
    uint8_t *copy = NULL;
    if (len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_ELIMIT, "report: evidence of %zu bytes exceeds the limit of %u", len,
                       BPT_LIMIT_EVIDENCE_BYTES);
    }
    if (len) {
        copy = malloc(len);
        if (!copy) {
            return bpt_err_nomem("evidence");
        }
        memcpy(copy, ev, len);
    }
    free(r->evidence);
    r->evidence = copy;
    r->evidence_len = len;
    return 0;
}

void bpt_report_evidence_digest(char out[65], const bpt_report *r)
{
    uint8_t md[32];
    if (bpt_sha256(md, r->evidence ? r->evidence : (const uint8_t *)"", r->evidence_len) != 0) {
        memset(md, 0, sizeof(md));
    }
    bpt_hex_encode_to(out, md, sizeof(md));
}

bool bpt_report_is_expired(const bpt_report *r, uint64_t max_age_secs, int64_t now)
{
    uint64_t age;
    if (now < 0 || (uint64_t)now <= r->issued_at) {
        return false;
    }
    age = (uint64_t)now - r->issued_at;
    return age > max_age_secs;
}

int bpt_report_set_key_binding(bpt_report *r, const uint8_t *public_key, size_t len,
                               const char *key_type, const char *binding_digest_hex)
{
    uint8_t *key = NULL;
    char *dg = NULL;
    size_t tl;

    if (!public_key || len == 0 || len > 4096 || !key_type || !binding_digest_hex) {
        return bpt_err(BPT_EINVAL, "report: key binding needs a key of 1..4096 bytes, a key "
                                   "type and a digest");
    }
    tl = strlen(key_type);
    if (tl == 0 || tl >= sizeof(r->binding_type)) {
        return bpt_err(BPT_EINVAL, "report: key type '%.40s' must be 1..%zu characters", key_type,
                       sizeof(r->binding_type) - 1);
    }
    for (const char *p = binding_digest_hex; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return bpt_err(BPT_EINVAL, "report: binding digest must be lowercase hex");
        }
    }
    key = malloc(len);
    dg = strdup(binding_digest_hex);
    if (!key || !dg) {
        free(key);
        free(dg);
        return bpt_err_nomem("key binding");
    }
    memcpy(key, public_key, len);
    free(r->binding_key);
    free(r->binding_digest);
    r->binding_key = key;
    r->binding_key_len = len;
    memcpy(r->binding_type, key_type, tl + 1);
    r->binding_digest = dg;
    r->has_binding = true;
    return 0;
}

const uint8_t *bpt_report_key_binding(const bpt_report *r, size_t *len_out,
                                      const char **key_type_out, const char **digest_out)
{
    if (!r->has_binding) {
        *len_out = 0;
        return NULL;
    }
    *len_out = r->binding_key_len;
    if (key_type_out) {
        *key_type_out = r->binding_type;
    }
    if (digest_out) {
        *digest_out = r->binding_digest;
    }
    return r->binding_key;
}

const bpt_claims *bpt_report_claims(const bpt_report *r)
{
    return &r->claims;
}

bpt_claims *bpt_report_claims_mut(bpt_report *r)
{
    return &r->claims;
}

void bpt_report_set_collateralv(bpt_report *r, json_t *collateral)
{
    json_decref(r->collateral);
    r->collateral = collateral;
}

const json_t *bpt_report_collateralv(const bpt_report *r)
{
    return r->collateral;
}

int bpt_report_collateral_json(char **out, const bpt_report *r)
{
    *out = NULL;
    if (!r->collateral) {
        return 0;
    }
    return bpt_json_dump(out, r->collateral);
}

json_t *bpt_report_to_jsonv(const bpt_report *r)
{
    json_t *o = json_object(), *claims = NULL;
    char *b64 = NULL, *hex = NULL;

    if (!o) {
        return NULL;
    }
    json_object_set_new(o, "provider", json_string(r->provider_name));
    json_object_set_new(o, "format", json_string(r->format_name));
    json_object_set_new(o, "issued_at_unix", json_integer((json_int_t)r->issued_at));
    json_object_set_new(o, "measurement",
                        json_pack("{s:s,s:s}", "algorithm", r->measurement.algorithm, "digest",
                                  r->measurement.digest));
    if (r->has_binding && bpt_hex_encode(&hex, r->binding_key, r->binding_key_len) == 0) {
        json_object_set_new(o, "public_key_binding",
                            json_pack("{s:s,s:s,s:s}", "public_key", hex, "key_type",
                                      r->binding_type, "binding_digest", r->binding_digest));
        free(hex);
    } else {
        json_object_set_new(o, "public_key_binding", json_null());
    }
    claims = bpt_claims_to_jsonv(&r->claims);
    json_object_set_new(o, "claims", claims ? claims : json_object());
    if (bpt_base64_encode(&b64, r->evidence ? r->evidence : (const uint8_t *)"", r->evidence_len) ==
        0) {
        json_object_set_new(o, "evidence", json_string(b64));
        free(b64);
    }
    if (r->collateral) {
        json_object_set(o, "collateral", r->collateral);
    }
    return o;
}

int bpt_report_to_json(char **out, const bpt_report *r)
{
    json_t *o = bpt_report_to_jsonv(r);
    int rc;
    *out = NULL;
    if (!o) {
        return bpt_err_nomem("report JSON");
    }
    rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}

static int binding_from_json(bpt_report *r, const json_t *b)
{
    static const char *const keys[] = {"public_key", "key_type", "binding_digest", NULL};
    bpt_buf key = BPT_BUF_INIT(4096);
    const char *type = NULL, *digest = NULL;
    char lower[2 * 64 + 1];
    size_t dl;
    int rc;

    if (!json_is_object(b)) {
        return bpt_err(BPT_EINVAL, "report: public_key_binding must be an object or null");
    }
    BPT_CHECK(bpt_json_check_keys(b, keys, "report: public_key_binding"));
    BPT_CHECK(bpt_json_get_bytes(b, "public_key", &key, false, true, "public_key_binding"));
    BPT_CHECK(bpt_json_get_str(b, "key_type", &type, true, "public_key_binding"));
    BPT_CHECK(bpt_json_get_str(b, "binding_digest", &digest, true, "public_key_binding"));
    dl = strlen(digest);
    if (dl >= sizeof(lower)) {
        rc = bpt_err(BPT_EINVAL, "public_key_binding: binding_digest longer than %zu digits",
                     sizeof(lower) - 1);
        goto out;
    }
    for (size_t i = 0; i <= dl; i++) {
        char ch = digest[i];
        lower[i] = (char)(ch >= 'A' && ch <= 'F' ? ch + 32 : ch);
    }
    BPT_CHECK(bpt_report_set_key_binding(r, key.data, key.len, type, lower));
    rc = 0;
out:
    bpt_buf_dispose(&key);
    return rc;
}

int bpt_report_from_json(bpt_report **out, const char *json, size_t len)
{
    static const char *const keys[] = {
        "provider", "format",   "issued_at_unix", "measurement",    "public_key_binding",
        "claims",   "evidence", "collateral",     "schema_version", NULL};
    static const char *const mkeys[] = {"algorithm", "digest", NULL};
    json_t *root = NULL, *m = NULL, *claims = NULL, *coll = NULL, *b;
    bpt_report *r = NULL;
    bpt_provider provider = BPT_PROVIDER_UNKNOWN;
    bpt_format format = BPT_FORMAT_UNKNOWN;
    const char *s = NULL, *pname = NULL, *alg = NULL, *dg = NULL;
    uint64_t issued = 0;
    bpt_buf ev = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES);
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_json_parse(&root, json, len, "report"));
    if (!json_is_object(root)) {
        rc = bpt_err(BPT_EINVAL, "report: must be a JSON object");
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(root, keys, "report"));
    BPT_CHECK(bpt_json_check_schema_version(root, "report"));
    BPT_CHECK(bpt_json_get_str(root, "provider", &pname, true, "report"));
    BPT_CHECK(bpt_json_get_str(root, "format", &s, true, "report"));
    if (bpt_custom_name_is_valid(pname)) {
        BPT_CHECK(bpt_report_new_custom(&r, pname, s));
    } else {
        if ((rc = bpt_provider_parse(&provider, pname)) < 0 || provider == BPT_PROVIDER_UNKNOWN) {
            rc = bpt_err(BPT_EINVAL, "report: provider '%.40s' unknown", pname);
            goto out;
        }
        if ((rc = bpt_format_parse(&format, s)) < 0) {
            rc = bpt_err_prefix(BPT_EINVAL, "report");
            goto out;
        }
        BPT_CHECK(bpt_report_new(&r, provider, format));
    }
    BPT_CHECK(bpt_json_get_u64(root, "issued_at_unix", &issued, false, "report"));
    r->issued_at = issued;
    if ((rc = bpt_json_get_obj(root, "measurement", &m, false, "report")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_json_check_keys(m, mkeys, "report: measurement"));
        BPT_CHECK(bpt_json_get_str(m, "algorithm", &alg, true, "report: measurement"));
        BPT_CHECK(bpt_json_get_str(m, "digest", &dg, true, "report: measurement"));
        if (*alg || *dg) {
            BPT_CHECK(bpt_measurement_set(&r->measurement, alg, dg));
        }
    }
    b = json_object_get(root, "public_key_binding");
    if (b && !json_is_null(b)) {
        BPT_CHECK(binding_from_json(r, b));
    }
    if ((rc = bpt_json_get_obj(root, "claims", &claims, false, "report")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_claims_from_jsonv(&r->claims, claims));
    }
    BPT_CHECK(bpt_json_get_bytes(root, "evidence", &ev, true, true, "report"));
    BPT_CHECK(bpt_report_set_evidence(r, ev.data, ev.len));
    if ((rc = bpt_json_get_obj(root, "collateral", &coll, false, "report")) < 0) {
        goto out;
    }
    if (rc == 1) {
        bpt_report_set_collateralv(r, json_incref(coll));
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_buf_dispose(&ev);
    bpt_report_free(r);
    json_decref(root);
    return rc;
}
