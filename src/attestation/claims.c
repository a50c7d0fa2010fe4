#include "attestation/model_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <stdlib.h>
#include <string.h>

void bpt_claims_dispose(struct bpt_claims *c)
{
    free(c->platform_version);
    for (size_t i = 0; i < c->n_boot; i++) {
        free(c->boot[i]);
    }
    free(c->boot);
    free(c->signer_id);
    free(c->product_id);
    free(c->user_data);
    json_decref(c->custom);
    memset(c, 0, sizeof(*c));
}

static int set_text(char **slot, const char *v, const char *what)
{
    char *copy = NULL;
    if (v) {
        if (strlen(v) > BPT_LIMIT_TEXT_BYTES) {
            return bpt_err(BPT_ELIMIT, "claims: %s longer than %u bytes", what,
                           BPT_LIMIT_TEXT_BYTES);
        }
        copy = strdup(v);
        if (!copy) {
            return bpt_err_nomem(what);
        }
    }
    free(*slot);
    *slot = copy;
    return 0;
}

bool bpt_claims_debug_mode(const bpt_claims *c)
{
    return c->debug_mode;
}

void bpt_claims_set_debug_mode(bpt_claims *c, bool debug)
{
    c->debug_mode = debug;
}

const char *bpt_claims_platform_version(const bpt_claims *c)
{
    return c->platform_version;
}

const char *bpt_claims_signer_id(const bpt_claims *c)
{
    return c->signer_id;
}

const char *bpt_claims_product_id(const bpt_claims *c)
{
    return c->product_id;
}

int bpt_claims_set_platform_version(bpt_claims *c, const char *v)
{
    return set_text(&c->platform_version, v, "platform_version");
}

int bpt_claims_set_signer_id(bpt_claims *c, const char *v)
{
    return set_text(&c->signer_id, v, "signer_id");
}

int bpt_claims_set_product_id(bpt_claims *c, const char *v)
{
    return set_text(&c->product_id, v, "product_id");
}

size_t bpt_claims_boot_measurement_count(const bpt_claims *c)
{
    return c->n_boot;
}

const char *bpt_claims_boot_measurement(const bpt_claims *c, size_t i)
{
    return i < c->n_boot ? c->boot[i] : NULL;
}

int bpt_claims_add_boot_measurement(bpt_claims *c, const char *m)
{
    char **nb;
    char *copy = NULL;
    int rc;

    if (c->n_boot >= BPT_LIMIT_LIST_ENTRIES) {
        return bpt_err(BPT_ELIMIT, "claims: more than %d boot measurements",
                       BPT_LIMIT_LIST_ENTRIES);
    }
    rc = set_text(&copy, m, "boot measurement");
    if (rc < 0) {
        return rc;
    }
    nb = realloc(c->boot, (c->n_boot + 1) * sizeof(*nb));
    if (!nb) {
        free(copy);
        return bpt_err_nomem("boot measurements");
    }
    c->boot = nb;
    c->boot[c->n_boot++] = copy;
    return 0;
}

const uint8_t *bpt_claims_user_data(const bpt_claims *c, size_t *len_out)
{
    *len_out = c->has_user_data ? c->user_data_len : 0;
    return c->has_user_data ? (c->user_data ? c->user_data : (const uint8_t *)"") : NULL;
}

int bpt_claims_set_user_data(bpt_claims *c, const uint8_t *p, size_t len)
{
    uint8_t *copy = NULL;
    if (len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_ELIMIT, "claims: user_data of %zu bytes", len);
    }
    if (len) {
        copy = malloc(len);
        if (!copy) {
            return bpt_err_nomem("user_data");
        }
        memcpy(copy, p, len);
    }
    free(c->user_data);
    c->user_data = copy;
    c->user_data_len = len;
    c->has_user_data = p != NULL;
    return 0;
}

int bpt_claims_set_customv(struct bpt_claims *c, const char *key, json_t *v)
{
    if (!v) {
        return bpt_err_nomem("custom claim");
    }
    if (!c->custom && !(c->custom = json_object())) {
        json_decref(v);
        return bpt_err_nomem("custom claims");
    }
    if (!json_object_get(c->custom, key) && json_object_size(c->custom) >= BPT_LIMIT_LIST_ENTRIES) {
        json_decref(v);
        return bpt_err(BPT_ELIMIT, "claims: more than %d custom claims", BPT_LIMIT_LIST_ENTRIES);
    }
    if (json_object_set_new(c->custom, key, v) != 0) {
        return bpt_err_nomem("custom claim");
    }
    return 0;
}

int bpt_claims_custom_json(char **out, const bpt_claims *c, const char *key)
{
    json_t *v = c->custom ? json_object_get(c->custom, key) : NULL;
    *out = NULL;
    if (!v) {
        return bpt_err(BPT_ENOTFOUND, "claims: no custom claim '%.64s'", key);
    }
    return bpt_json_dump(out, v);
}

int bpt_claims_set_custom_json(bpt_claims *c, const char *key, const char *json_value)
{
    json_t *v = NULL;
    int rc;
    if (!key || !json_value) {
        return bpt_err(BPT_EINVAL, "claims: custom key and value are required");
    }
    rc = bpt_json_parse(&v, json_value, strlen(json_value), "custom claim");
    if (rc < 0) {
        return rc;
    }
    return bpt_claims_set_customv(c, key, v);
}

json_t *bpt_claims_to_jsonv(const struct bpt_claims *c)
{
    json_t *o = json_object();
    char *hex = NULL;
    if (!o) {
        return NULL;
    }
    if (c->platform_version) {
        json_object_set_new(o, "platform_version", json_string(c->platform_version));
    }
    json_object_set_new(o, "debug_mode", json_boolean(c->debug_mode));
    if (c->n_boot) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->n_boot; i++) {
            json_array_append_new(a, json_string(c->boot[i]));
        }
        json_object_set_new(o, "boot_measurements", a);
    }
    if (c->signer_id) {
        json_object_set_new(o, "signer_id", json_string(c->signer_id));
    }
    if (c->product_id) {
        json_object_set_new(o, "product_id", json_string(c->product_id));
    }
    if (c->has_user_data && bpt_hex_encode(&hex, c->user_data, c->user_data_len) == 0) {
        json_object_set_new(o, "user_data", json_string(hex));
        free(hex);
    }
    if (c->custom && json_object_size(c->custom)) {
        json_object_set(o, "custom", c->custom);
    }
    return o;
}

int bpt_claims_from_jsonv(struct bpt_claims *c, const json_t *obj)
{
    static const char *const keys[] = {"platform_version", "debug_mode", "boot_measurements",
                                       "signer_id",        "product_id", "user_data",
                                       "custom",           NULL};
    const char *s = NULL;
    json_t *arr = NULL, *custom = NULL;
    bpt_buf ud = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES);
    int rc;

    if (!json_is_object(obj)) {
        return bpt_err(BPT_EINVAL, "claims: must be an object");
    }
    BPT_CHECK(bpt_json_check_keys(obj, keys, "claims"));
    if ((rc = bpt_json_get_str(obj, "platform_version", &s, false, "claims")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_claims_set_platform_version(c, s));
    }
    BPT_CHECK(bpt_json_get_bool(obj, "debug_mode", &c->debug_mode, false, "claims"));
    if ((rc = bpt_json_get_arr(obj, "boot_measurements", &arr, false, "claims")) < 0) {
        goto out;
    }
    if (rc == 1) {
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
            if (!json_is_string(e)) {
                rc = bpt_err(BPT_EINVAL, "claims: boot_measurements[%zu] must be a string", i);
                goto out;
            }
            BPT_CHECK(bpt_claims_add_boot_measurement(c, json_string_value(e)));
        }
    }
    s = NULL;
    if ((rc = bpt_json_get_str(obj, "signer_id", &s, false, "claims")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_claims_set_signer_id(c, s));
    }
    s = NULL;
    if ((rc = bpt_json_get_str(obj, "product_id", &s, false, "claims")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_claims_set_product_id(c, s));
    }
    if ((rc = bpt_json_get_bytes(obj, "user_data", &ud, false, false, "claims")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_claims_set_user_data(c, ud.data ? ud.data : (const uint8_t *)"", ud.len));
    }
    if ((rc = bpt_json_get_obj(obj, "custom", &custom, false, "claims")) < 0) {
        goto out;
    }
    if (rc == 1) {
        if (json_object_size(custom) > BPT_LIMIT_LIST_ENTRIES) {
            rc = bpt_err(BPT_ELIMIT, "claims: more than %d custom claims", BPT_LIMIT_LIST_ENTRIES);
            goto out;
        }
        json_decref(c->custom);
        c->custom = json_deep_copy(custom);
        if (!c->custom) {
            rc = bpt_err_nomem("custom claims");
            goto out;
        }
    }
    rc = 0;
out:
    bpt_buf_dispose(&ud);
    return rc;
}

int bpt_claims_copy(struct bpt_claims *dst, const struct bpt_claims *src)
{
    int rc;
    memset(dst, 0, sizeof(*dst));
    dst->debug_mode = src->debug_mode;
    BPT_CHECK(bpt_claims_set_platform_version(dst, src->platform_version));
    BPT_CHECK(bpt_claims_set_signer_id(dst, src->signer_id));
    BPT_CHECK(bpt_claims_set_product_id(dst, src->product_id));
    for (size_t i = 0; i < src->n_boot; i++) {
        BPT_CHECK(bpt_claims_add_boot_measurement(dst, src->boot[i]));
    }
    if (src->has_user_data) {
        BPT_CHECK(bpt_claims_set_user_data(
            dst, src->user_data ? src->user_data : (const uint8_t *)"", src->user_data_len));
    }
    if (src->custom) {
        dst->custom = json_deep_copy(src->custom);
        if (!dst->custom) {
            rc = bpt_err_nomem("custom claims");
            goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        bpt_claims_dispose(dst);
    }
    return rc;
}
