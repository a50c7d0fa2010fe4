/*
 * Job calls and results (middleware.h): owned copies of bodies, and metadata as an ordered list
 * of checked text pairs (keys safe as HTTP header names, values printable), so that whatever a
 * source or a handler puts there can travel as headers and JSON unchanged.
 */
#include "middleware/middleware_internal.h"

#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- metadata ------------------------------------------------------------------------------ */

static bool key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > BPT_JOB_META_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool value_ok(const char *v)
{
    size_t n = v ? strlen(v) : BPT_JOB_META_VALUE_MAX + 1;
    if (n > BPT_JOB_META_VALUE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

void bpt_job_meta_clear(struct bpt_job_meta *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof(*m));
}

static int grow(struct bpt_job_meta *m)
{
    size_t cap = m->cap ? 2 * m->cap : 4;
    char **k, **v;
    if (cap > BPT_JOB_META_MAX_ENTRIES) {
        cap = BPT_JOB_META_MAX_ENTRIES;
    }
    if (!(k = realloc(m->keys, cap * sizeof(*k)))) {
        return bpt_err_nomem("job metadata");
    }
    m->keys = k;
    if (!(v = realloc(m->values, cap * sizeof(*v)))) {
        return bpt_err_nomem("job metadata");
    }
    m->values = v;
    m->cap = cap;
    return 0;
}

int bpt_job_meta_set(struct bpt_job_meta *m, const char *key, const char *value)
{
    char *v;
    if (!key_ok(key)) {
        return bpt_err(BPT_EINVAL,
                       "job metadata: key '%.64s' (expected 1..%d bytes of A-Z a-z 0-9 . _ -)",
                       key ? key : "(null)", BPT_JOB_META_KEY_MAX);
    }
    if (!value_ok(value)) {
        return bpt_err(BPT_EINVAL,
                       "job metadata: the value of '%s' is %s (expected at most %d bytes of "
                       "printable text)",
                       key, value ? "not printable text or too long" : "NULL",
                       BPT_JOB_META_VALUE_MAX);
    }
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            if (!(v = strdup(value))) {
                return bpt_err_nomem("job metadata");
            }
            free(m->values[i]);
            m->values[i] = v;
            return 0;
        }
    }
    if (m->n == BPT_JOB_META_MAX_ENTRIES) {
        return bpt_err(BPT_ELIMIT, "job metadata: more than %d entries", BPT_JOB_META_MAX_ENTRIES);
    }
    if (m->n == m->cap && grow(m) < 0) {
        return BPT_ENOMEM;
    }
    if (!(m->keys[m->n] = strdup(key)) || !(m->values[m->n] = strdup(value))) {
        free(m->keys[m->n]);
        return bpt_err_nomem("job metadata");
    }
    m->n++;
    return 0;
}

const char *bpt_job_meta_get(const struct bpt_job_meta *m, const char *key)
{
    for (size_t i = 0; key && i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            return m->values[i];
        }
    }
    return NULL;
}

bool bpt_job_meta_at(const struct bpt_job_meta *m, size_t i, const char **key, const char **value)
{
    if (i >= m->n) {
        return false;
    }
    if (key) {
        *key = m->keys[i];
    }
    if (value) {
        *value = m->values[i];
    }
    return true;
}

void bpt_job_meta_drop_prefix(struct bpt_job_meta *m, const char *prefix)
{
    size_t w = 0, pl = strlen(prefix);
    for (size_t i = 0; i < m->n; i++) {
        if (strncmp(m->keys[i], prefix, pl) == 0) {
            free(m->keys[i]);
            free(m->values[i]);
            continue;
        }
        m->keys[w] = m->keys[i];
        m->values[w] = m->values[i];
        w++;
    }
    m->n = w;
}

/* ---- bodies -------------------------------------------------------------------------------- */

static int copy_body(uint8_t **dst, size_t *dst_len, const uint8_t *body, size_t len,
                     const char *what)
{
    uint8_t *copy = NULL;
    if (!body && len) {
        return bpt_err(BPT_EINVAL, "%s: NULL body of %zu bytes", what, len);
    }
    if (len > BPT_JOB_BODY_MAX) {
        return bpt_err(BPT_ELIMIT, "%s: body of %zu bytes exceeds the limit of %u", what, len,
                       BPT_JOB_BODY_MAX);
    }
    if (len && !(copy = malloc(len))) {
        return bpt_err_nomem(what);
    }
    if (len) {
        memcpy(copy, body, len);
    }
    free(*dst);
    *dst = copy;
    *dst_len = len;
    return 0;
}

/* ---- calls --------------------------------------------------------------------------------- */

int bpt_job_call_new(bpt_job_call **out, uint64_t service_id, uint64_t call_id, uint8_t job_index,
                     const uint8_t *body, size_t body_len)
{
    bpt_job_call *c;
    int rc;
    if (!out) {
        return bpt_err(BPT_EINVAL, "job call: no out pointer");
    }
    *out = NULL;
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("job call");
    }
    if ((rc = copy_body(&c->body, &c->body_len, body, body_len, "job call")) < 0) {
        free(c);
        return rc;
    }
    c->service_id = service_id;
    c->call_id = call_id;
    c->job_index = job_index;
    *out = c;
    return 0;
}

void bpt_job_call_free(bpt_job_call *c)
{
    if (!c) {
        return;
    }
    bpt_job_meta_clear(&c->meta);
    free(c->body);
    free(c);
}

uint64_t bpt_job_call_service_id(const bpt_job_call *c)
{
    return c->service_id;
}

uint64_t bpt_job_call_id(const bpt_job_call *c)
{
    return c->call_id;
}

uint8_t bpt_job_call_index(const bpt_job_call *c)
{
    return c->job_index;
}

const uint8_t *bpt_job_call_body(const bpt_job_call *c, size_t *len_out)
{
    if (len_out) {
        *len_out = c->body_len;
    }
    return c->body;
}

const uint8_t *bpt_job_call_caller(const bpt_job_call *c)
{
    return c->has_caller ? c->caller : NULL;
}

int bpt_job_call_set_caller(bpt_job_call *c, const uint8_t caller[20])
{
    if (!c || !caller) {
        return bpt_err(BPT_EINVAL, "job call: NULL caller");
    }
    memcpy(c->caller, caller, 20);
    c->has_caller = true;
    return 0;
}

int bpt_job_call_meta_set(bpt_job_call *c, const char *key, const char *value)
{
    return c ? bpt_job_meta_set(&c->meta, key, value) : bpt_err(BPT_EINVAL, "job call: NULL");
}

const char *bpt_job_call_meta_get(const bpt_job_call *c, const char *key)
{
    return bpt_job_meta_get(&c->meta, key);
}

size_t bpt_job_call_meta_count(const bpt_job_call *c)
{
    return c->meta.n;
}

bool bpt_job_call_meta_at(const bpt_job_call *c, size_t i, const char **key, const char **value)
{
    return bpt_job_meta_at(&c->meta, i, key, value);
}

/* ---- results ------------------------------------------------------------------------------- */

int bpt_job_result_new(bpt_job_result **out)
{
    if (!out) {
        return bpt_err(BPT_EINVAL, "job result: no out pointer");
    }
    if (!(*out = calloc(1, sizeof(**out)))) {
        return bpt_err_nomem("job result");
    }
    return 0;
}

void bpt_job_result_free(bpt_job_result *r)
{
    if (!r) {
        return;
    }
    bpt_job_meta_clear(&r->meta);
    free(r->body);
    free(r->message);
    free(r);
}

int bpt_job_result_set_body(bpt_job_result *r, const uint8_t *body, size_t len)
{
    int rc;
    if (!r) {
        return bpt_err(BPT_EINVAL, "job result: NULL");
    }
    if ((rc = copy_body(&r->body, &r->body_len, body, len, "job result")) == 0) {
        r->is_error = false;
        r->code[0] = '\0';
        free(r->message);
        r->message = NULL;
    }
    return rc;
}

static bool code_ok(const char *code)
{
    size_t n = code ? strlen(code) : 0;
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '0' && code[i] <= '9') ||
              code[i] == '_')) {
            return false;
        }
    }
    return true;
}

void bpt_job_result_error_v(bpt_job_result *r, const char *code, const char *fmt, va_list ap)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    bpt_job_meta_clear(&r->meta);
    r->stamp.set = false;
    r->is_error = true;
    snprintf(r->code, sizeof(r->code), "%s", code_ok(code) ? code : "internal");
    if (!r->message && !(r->message = malloc(BPT_JOB_ERROR_MESSAGE_MAX + 1))) {
        snprintf(r->code, sizeof(r->code), "out_of_memory");
        return;
    }
    if (vsnprintf(r->message, BPT_JOB_ERROR_MESSAGE_MAX + 1, fmt, ap) < 0) {
        r->message[0] = '\0';
    }
    /* The message travels in JSON and headers-free bodies; keep it one printable line. */
    for (char *p = r->message; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
}

void bpt_job_result_error(bpt_job_result *r, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bpt_job_result_error_v(r, code, fmt, ap);
    va_end(ap);
}

int bpt_job_result_set_error(bpt_job_result *r, const char *code, const char *fmt, ...)
{
    va_list ap;
    if (!r) {
        return bpt_err(BPT_EINVAL, "job result: NULL");
    }
    if (fmt) {
        va_start(ap, fmt);
        bpt_job_result_error_v(r, code, fmt, ap);
        va_end(ap);
    } else {
        bpt_job_result_error(r, code, "%s", "");
    }
    if (!code_ok(code)) {
        return bpt_err(BPT_EINVAL,
                       "job result: error code '%.64s' (expected 1..64 bytes of a-z "
                       "0-9 _); the result says \"internal\"",
                       code ? code : "(null)");
    }
    return 0;
}

bool bpt_job_result_is_ok(const bpt_job_result *r)
{
    return !r->is_error;
}

const uint8_t *bpt_job_result_body(const bpt_job_result *r, size_t *len_out)
{
    if (len_out) {
        *len_out = r->is_error ? 0 : r->body_len;
    }
    return r->is_error ? NULL : r->body;
}

const char *bpt_job_result_error_code(const bpt_job_result *r)
{
    return r->is_error ? r->code : NULL;
}

const char *bpt_job_result_error_message(const bpt_job_result *r)
{
    return r->is_error ? (r->message ? r->message : "") : NULL;
}

int bpt_job_result_meta_set(bpt_job_result *r, const char *key, const char *value)
{
    if (!r || r->is_error) {
        return bpt_err(BPT_EINVAL, "job result: metadata goes on ok results only");
    }
    return bpt_job_meta_set(&r->meta, key, value);
}

static const char *const stamp_keys[BPT_STAMP_KEYS] = {"tee.attestation.digest", "tee.provider",
                                                       "tee.measurement"};

static const char *stamp_value(const struct bpt_job_stamp *s, size_t i)
{
    return i == 0 ? s->digest : i == 1 ? s->provider : s->measurement;
}

const char *bpt_job_result_meta_get(const bpt_job_result *r, const char *key)
{
    for (size_t i = 0; r->stamp.set && key && i < BPT_STAMP_KEYS; i++) {
        if (strcmp(key, stamp_keys[i]) == 0) {
            return stamp_value(&r->stamp, i);
        }
    }
    return bpt_job_meta_get(&r->meta, key);
}

size_t bpt_job_result_meta_count(const bpt_job_result *r)
{
    return r->meta.n + (r->stamp.set ? BPT_STAMP_KEYS : 0);
}

bool bpt_job_result_meta_at(const bpt_job_result *r, size_t i, const char **key, const char **value)
{
    if (i < r->meta.n) {
        return bpt_job_meta_at(&r->meta, i, key, value);
    }
    i -= r->meta.n;
    if (!r->stamp.set || i >= BPT_STAMP_KEYS) {
        return false;
    }
    if (key) {
        *key = stamp_keys[i];
    }
    if (value) {
        *value = stamp_value(&r->stamp, i);
    }
    return true;
}
