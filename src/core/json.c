#include "core/json.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Reject nesting deeper than the limit before jansson recurses into it. */
static int check_depth(const char *text, size_t len, const char *what)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > BPT_LIMIT_JSON_DEPTH) {
                return bpt_err(BPT_EMALFORMED, "%s: JSON nested deeper than %d levels", what,
                               BPT_LIMIT_JSON_DEPTH);
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

int bpt_json_parse(json_t **out, const char *text, size_t len, const char *what)
{
    json_error_t jerr;
    int rc;

    *out = NULL;
    if (len > BPT_LIMIT_JSON_BYTES) {
        return bpt_err(BPT_ELIMIT, "%s: JSON of %zu bytes exceeds the limit of %u", what, len,
                       BPT_LIMIT_JSON_BYTES);
    }
    rc = check_depth(text, len, what);
    if (rc < 0) {
        return rc;
    }
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!*out) {
        return bpt_err(BPT_EMALFORMED, "%s: invalid JSON at line %d column %d: %s", what, jerr.line,
                       jerr.column, jerr.text);
    }
    return 0;
}

int bpt_json_check_keys(const json_t *obj, const char *const *allowed, const char *ctx)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        (void)v;
        for (size_t i = 0; allowed[i]; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            return bpt_err(BPT_EINVAL, "%s: unknown key '%.64s'", ctx, key);
        }
    }
    return 0;
}

int bpt_json_dump(char **out, const json_t *v)
{
    *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!*out) {
        return bpt_err_nomem("json dump");
    }
    return 0;
}

static int lookup(const json_t *obj, const char *key, json_t **v, bool required, const char *ctx)
{
    *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!*v || json_is_null(*v)) {
        *v = NULL;
        if (required) {
            return bpt_err(BPT_EINVAL, "%s: missing field '%s'", ctx, key);
        }
        return 0;
    }
    return 1;
}

static int type_err(const char *ctx, const char *key, const char *want)
{
    return bpt_err(BPT_EINVAL, "%s: field '%s' must be %s", ctx, key, want);
}

int bpt_json_get_str(const json_t *obj, const char *key, const char **out, bool required,
                     const char *ctx)
{
    json_t *v;
    int rc = lookup(obj, key, &v, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_string(v)) {
        return type_err(ctx, key, "a string");
    }
    if (json_string_length(v) > BPT_LIMIT_TEXT_BYTES) {
        return bpt_err(BPT_ELIMIT, "%s: field '%s' longer than %u bytes", ctx, key,
                       BPT_LIMIT_TEXT_BYTES);
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return bpt_err(BPT_EINVAL, "%s: field '%s' contains a NUL character", ctx, key);
    }
    *out = json_string_value(v);
    return 1;
}

int bpt_json_get_bool(const json_t *obj, const char *key, bool *out, bool required, const char *ctx)
{
    json_t *v;
    int rc = lookup(obj, key, &v, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_boolean(v)) {
        return type_err(ctx, key, "true or false");
    }
    *out = json_is_true(v);
    return 1;
}

int bpt_json_get_i64(const json_t *obj, const char *key, int64_t *out, bool required,
                     const char *ctx)
{
    json_t *v;
    int rc = lookup(obj, key, &v, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_integer(v)) {
        return type_err(ctx, key, "an integer");
    }
    *out = (int64_t)json_integer_value(v);
    return 1;
}

int bpt_json_check_schema_version(const json_t *obj, const char *ctx)
{
    int64_t v = BPT_JSON_SCHEMA_VERSION;
    int rc = bpt_json_get_i64(obj, "schema_version", &v, false, ctx);
    if (rc < 0) {
        return rc;
    }
    if (v != BPT_JSON_SCHEMA_VERSION) {
        return bpt_err(BPT_EINVAL, "%s: schema_version %lld is not one this version reads (%d)",
                       ctx, (long long)v, BPT_JSON_SCHEMA_VERSION);
    }
    return 0;
}

int bpt_json_get_u64(const json_t *obj, const char *key, uint64_t *out, bool required,
                     const char *ctx)
{
    int64_t x = 0;
    int rc = bpt_json_get_i64(obj, key, &x, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (x < 0) {
        return type_err(ctx, key, "a non-negative integer");
    }
    *out = (uint64_t)x;
    return 1;
}

int bpt_json_get_obj(const json_t *obj, const char *key, json_t **out, bool required,
                     const char *ctx)
{
    json_t *v;
    int rc = lookup(obj, key, &v, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_object(v)) {
        return type_err(ctx, key, "an object");
    }
    *out = v;
    return 1;
}

int bpt_json_get_arr(const json_t *obj, const char *key, json_t **out, bool required,
                     const char *ctx)
{
    json_t *v;
    int rc = lookup(obj, key, &v, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (!json_is_array(v)) {
        return type_err(ctx, key, "an array");
    }
    *out = v;
    return 1;
}

int bpt_json_value_bytes(const json_t *v, bpt_buf *out, bool base64_strings, const char *ctx)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        return base64_strings ? bpt_base64_decode(out, s, n, ctx) : bpt_hex_decode(out, s, n, ctx);
    }
    if (json_is_array(v)) {
        size_t i, start = out->len;
        json_t *e;
        int rc = 0;
        json_array_foreach(v, i, e)
        {
            json_int_t x;
            uint8_t b;
            if (!json_is_integer(e) || (x = json_integer_value(e)) < 0 || x > 255) {
                rc = bpt_err(BPT_EINVAL, "%s: byte array element %zu is not an integer 0..255", ctx,
                             i);
                break;
            }
            b = (uint8_t)x;
            rc = bpt_buf_append(out, &b, 1);
            if (rc < 0) {
                rc = bpt_err_prefix(rc, "%s", ctx);
                break;
            }
        }
        if (rc < 0 && out->len > start) {
            /* Like the codecs: a failed decode leaves the buffer as it was. */
            OPENSSL_cleanse(out->data + start, out->len - start);
            out->data[start] = 0;
            out->len = start;
        }
        return rc;
    }
    return bpt_err(BPT_EINVAL, "%s: expected a %s string or an array of bytes", ctx,
                   base64_strings ? "base64" : "hex");
}

int bpt_json_get_bytes(const json_t *obj, const char *key, bpt_buf *out, bool base64_strings,
                       bool required, const char *ctx)
{
    json_t *v;
    char name[160];
    int rc = lookup(obj, key, &v, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    snprintf(name, sizeof(name), "%s: field '%s'", ctx, key);
    rc = bpt_json_value_bytes(v, out, base64_strings, name);
    return rc < 0 ? rc : 1;
}

json_t *bpt_json_hex(const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];
    if (n > 64) {
        return NULL;
    }
    bpt_hex_encode_to(buf, p, n);
    return json_string(buf);
}
