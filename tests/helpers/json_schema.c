#include "helpers/json_schema.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 8

struct checker {
    char dir[1024];
    struct {
        char name[128];
        json_t *schema;
    } files[MAX_FILES];
    size_t n_files;
    char *why;
    size_t why_len;
};

static bool fail(struct checker *c, const char *at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->why, c->why_len, "%s: %s", at, msg);
    return false;
}

static json_t *load_file(struct checker *c, const char *name)
{
    char path[2048];
    json_error_t e;
    for (size_t i = 0; i < c->n_files; i++) {
        if (strcmp(c->files[i].name, name) == 0) {
            return c->files[i].schema;
        }
    }
    if (c->n_files == MAX_FILES || strlen(name) >= sizeof(c->files[0].name)) {
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    json_t *s = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!s) {
        fprintf(stderr, "schema %s: %s (line %d)\n", path, e.text, e.line);
        return NULL;
    }
    snprintf(c->files[c->n_files].name, sizeof(c->files[0].name), "%s", name);
    c->files[c->n_files++].schema = s;
    return s;
}

/* "#/$defs/x" within @p root, or "file.json[#/$defs/x]". */
static json_t *resolve(struct checker *c, json_t *root, const char *ref, json_t **root_out)
{
    const char *hash = strchr(ref, '#');
    if (hash != ref) {
        char name[128];
        size_t n = hash ? (size_t)(hash - ref) : strlen(ref);
        if (n >= sizeof(name)) {
            return NULL;
        }
        memcpy(name, ref, n);
        name[n] = '\0';
        if (!(root = load_file(c, name))) {
            return NULL;
        }
        if (!hash) {
            *root_out = root;
            return root;
        }
    }
    *root_out = root;
    if (strncmp(hash, "#/$defs/", 8) != 0) {
        return strcmp(hash, "#") == 0 ? root : NULL;
    }
    return json_object_get(json_object_get(root, "$defs"), hash + 8);
}

static bool is_type(const json_t *v, const char *t)
{
    if (strcmp(t, "object") == 0) {
        return json_is_object(v);
    }
    if (strcmp(t, "array") == 0) {
        return json_is_array(v);
    }
    if (strcmp(t, "string") == 0) {
        return json_is_string(v);
    }
    if (strcmp(t, "integer") == 0) {
        return json_is_integer(v);
    }
    if (strcmp(t, "number") == 0) {
        return json_is_number(v);
    }
    if (strcmp(t, "boolean") == 0) {
        return json_is_boolean(v);
    }
    if (strcmp(t, "null") == 0) {
        return json_is_null(v);
    }
    return false;
}

static bool matches(const char *pattern, const char *s)
{
    regex_t re;
    bool ok;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return false;
    }
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static bool check(struct checker *c, json_t *root, const json_t *s, const json_t *v,
                  const char *at);

static bool check_object(struct checker *c, json_t *root, const json_t *s, const json_t *v,
                         const char *at)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *pattern_props = json_object_get(s, "patternProperties");
    const json_t *extra = json_object_get(s, "additionalProperties");
    const json_t *req = json_object_get(s, "required");
    char sub[1024];
    const char *k;
    json_t *x;
    size_t i;

    json_array_foreach(req, i, x)
    {
        if (!json_object_get(v, json_string_value(x))) {
            return fail(c, at, "missing required member '%s'", json_string_value(x));
        }
    }
    json_object_foreach((json_t *)v, k, x)
    {
        bool known = false;
        snprintf(sub, sizeof(sub), "%s.%s", at, k);
        const json_t *ps = json_object_get(props, k);
        if (ps) {
            known = true;
            if (!check(c, root, ps, x, sub)) {
                return false;
            }
        }
        const char *pk;
        json_t *pv;
        json_object_foreach((json_t *)pattern_props, pk, pv)
        {
            if (matches(pk, k)) {
                known = true;
                if (!check(c, root, pv, x, sub)) {
                    return false;
                }
            }
        }
        if (!known && extra) {
            if (json_is_false(extra)) {
                return fail(c, sub, "member not allowed (additionalProperties false)");
            }
            if (json_is_object(extra) && !check(c, root, extra, x, sub)) {
                return false;
            }
        }
    }
    return true;
}

static bool check(struct checker *c, json_t *root, const json_t *s, const json_t *v, const char *at)
{
    static const char *const known[] = {"type",
                                        "enum",
                                        "const",
                                        "properties",
                                        "required",
                                        "additionalProperties",
                                        "patternProperties",
                                        "items",
                                        "minItems",
                                        "maxItems",
                                        "minLength",
                                        "maxLength",
                                        "pattern",
                                        "minimum",
                                        "maximum",
                                        "oneOf",
                                        "anyOf",
                                        "allOf",
                                        "$ref",
                                        "$schema",
                                        "$id",
                                        "$comment",
                                        "title",
                                        "description",
                                        "examples",
                                        "default",
                                        "$defs",
                                        NULL};
    const char *k;
    json_t *x;
    char sub[1024];
    size_t i;

    if (json_is_true(s)) {
        return true;
    }
    if (!json_is_object(s)) {
        return fail(c, at, "schema is not an object");
    }
    json_object_foreach((json_t *)s, k, x)
    {
        bool ok = false;
        for (size_t j = 0; known[j]; j++) {
            ok = ok || strcmp(k, known[j]) == 0;
        }
        if (!ok) {
            return fail(c, at, "schema keyword '%s' is not supported by this checker", k);
        }
    }
    if ((x = json_object_get(s, "$ref"))) {
        json_t *r_root = root, *target = resolve(c, root, json_string_value(x), &r_root);
        if (!target) {
            return fail(c, at, "cannot resolve $ref '%s'", json_string_value(x));
        }
        if (!check(c, r_root, target, v, at)) {
            return false;
        }
    }
    if ((x = json_object_get(s, "type"))) {
        bool ok = false;
        if (json_is_string(x)) {
            ok = is_type(v, json_string_value(x));
        } else {
            json_t *t;
            json_array_foreach(x, i, t)
            {
                ok = ok || is_type(v, json_string_value(t));
            }
        }
        if (!ok) {
            char *want = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            bool r = fail(c, at, "not of type %s", want ? want : "?");
            free(want);
            return r;
        }
    }
    if ((x = json_object_get(s, "const")) && !json_equal(x, v)) {
        return fail(c, at, "not the const value");
    }
    if ((x = json_object_get(s, "enum"))) {
        bool ok = false;
        json_t *e;
        json_array_foreach(x, i, e)
        {
            ok = ok || json_equal(e, v);
        }
        if (!ok) {
            return fail(c, at, "not in enum");
        }
    }
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if ((x = json_object_get(s, "minLength")) && n < (size_t)json_integer_value(x)) {
            return fail(c, at, "shorter than %lld", (long long)json_integer_value(x));
        }
        if ((x = json_object_get(s, "maxLength")) && n > (size_t)json_integer_value(x)) {
            return fail(c, at, "longer than %lld", (long long)json_integer_value(x));
        }
        if ((x = json_object_get(s, "pattern")) &&
            !matches(json_string_value(x), json_string_value(v))) {
            return fail(c, at, "'%.60s' does not match %s", json_string_value(v),
                        json_string_value(x));
        }
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if ((x = json_object_get(s, "minimum")) && d < json_number_value(x)) {
            return fail(c, at, "below the minimum");
        }
        if ((x = json_object_get(s, "maximum")) && d > json_number_value(x)) {
            return fail(c, at, "above the maximum");
        }
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        json_t *e;
        if ((x = json_object_get(s, "minItems")) && n < (size_t)json_integer_value(x)) {
            return fail(c, at, "fewer than %lld items", (long long)json_integer_value(x));
        }
        if ((x = json_object_get(s, "maxItems")) && n > (size_t)json_integer_value(x)) {
            return fail(c, at, "more than %lld items", (long long)json_integer_value(x));
        }
        if ((x = json_object_get(s, "items"))) {
            json_array_foreach(v, i, e)
            {
                snprintf(sub, sizeof(sub), "%s[%zu]", at, i);
                if (!check(c, root, x, e, sub)) {
                    return false;
                }
            }
        }
    }
    if (json_is_object(v) && !check_object(c, root, s, v, at)) {
        return false;
    }
    if ((x = json_object_get(s, "allOf"))) {
        json_t *e;
        json_array_foreach(x, i, e)
        {
            if (!check(c, root, e, v, at)) {
                return false;
            }
        }
    }
    if ((x = json_object_get(s, "anyOf")) || (x = json_object_get(s, "oneOf"))) {
        bool one = json_object_get(s, "oneOf") != NULL;
        size_t ok = 0, used = 0;
        char reasons[1024] = "";
        json_t *e;
        json_array_foreach(x, i, e)
        {
            if (check(c, root, e, v, at)) {
                ok++;
            } else if (used < sizeof(reasons) - 1) {
                int w = snprintf(reasons + used, sizeof(reasons) - used, "%s[%zu] %s",
                                 used ? "; " : "", i, c->why);
                used += w > 0 ? (size_t)w : 0;
            }
        }
        if (ok == 0) {
            return fail(c, at, "matches no alternative: %s", reasons);
        }
        if (one && ok > 1) {
            return fail(c, at, "matches %zu alternatives of oneOf", ok);
        }
    }
    return true;
}

bool bpt_json_schema_check(const char *schema_path, const json_t *doc, char *why, size_t why_len)
{
    struct checker c;
    const char *slash = strrchr(schema_path, '/');
    json_t *root;
    bool ok;

    memset(&c, 0, sizeof(c));
    c.why = why;
    c.why_len = why_len;
    why[0] = '\0';
    if (slash) {
        snprintf(c.dir, sizeof(c.dir), "%.*s", (int)(slash - schema_path), schema_path);
    } else {
        snprintf(c.dir, sizeof(c.dir), ".");
    }
    if (!(root = load_file(&c, slash ? slash + 1 : schema_path))) {
        snprintf(why, why_len, "cannot load %s", schema_path);
        return false;
    }
    ok = check(&c, root, root, doc, "$");
    for (size_t i = 0; i < c.n_files; i++) {
        json_decref(c.files[i].schema);
    }
    return ok;
}

bool bpt_json_schema_check_text(const char *schema_path, const char *text, char *why,
                                size_t why_len)
{
    json_error_t e;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    bool ok;
    if (!doc) {
        snprintf(why, why_len, "not JSON: %s", e.text);
        return false;
    }
    ok = bpt_json_schema_check(schema_path, doc, why, why_len);
    json_decref(doc);
    return ok;
}
