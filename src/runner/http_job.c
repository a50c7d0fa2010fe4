/* HTTP requests to job calls and results to answers (http_job.h). */
#include "runner/http_job.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define META_HEADER "X-Bpt-Meta-"
#define RETRY_AFTER_SECS 1

static void answer_json(bpt_kx_http_answer *a, unsigned status, json_t *doc, unsigned retry_after)
{
    static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    char *text = NULL;
    memset(a, 0, sizeof(*a));
    a->status = status;
    a->content_type = "application/json";
    a->retry_after = retry_after;
    if (!doc || bpt_json_dump(&text, doc) < 0) {
        a->status = 500;
        text = NULL;
    }
    json_decref(doc);
    if (!text) {
        a->body = (uint8_t *)strdup(oom);
        a->len = a->body ? sizeof(oom) - 1 : 0;
        return;
    }
    a->body = (uint8_t *)text;
    a->len = strlen(text);
}

void bpt_http_job_error(bpt_kx_http_answer *a, unsigned status, const char *code,
                        const char *message, unsigned retry_after)
{
    answer_json(a, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message),
                retry_after);
}

/* The answer's X-Bpt-Meta-* and X-Bpt-Call-Id lines (NULL when out of memory). */
static char *answer_headers(const bpt_job_call *call, const bpt_job_result *res, bool meta)
{
    bpt_buf h = BPT_BUF_INIT(512 * 1024);
    const char *k, *v;
    uint8_t *out = NULL;
    size_t len;
    int rc = 0;
    /* Keys and values were checked when set (middleware.h): no CR, LF or colon in a key, no
     * control character in a value: no header can be split. */
    for (size_t i = 0; meta && rc == 0 && bpt_job_result_meta_at(res, i, &k, &v); i++) {
        rc = bpt_buf_appendf(&h, META_HEADER "%s: %s\n", k, v);
    }
    if (rc == 0) {
        rc =
            bpt_buf_appendf(&h, "X-Bpt-Call-Id: %llu\n", (unsigned long long)bpt_job_call_id(call));
    }
    if (rc == 0 && bpt_buf_append(&h, "", 1) == 0 && bpt_buf_detach(&out, &len, &h) == 0) {
        bpt_buf_dispose(&h);
        return (char *)out;
    }
    bpt_buf_dispose(&h);
    return NULL;
}

void bpt_http_job_answer(bpt_kx_http_answer *a, const bpt_job_call *call, const bpt_job_result *res,
                         bool json)
{
    size_t n = 0;
    const uint8_t *body;
    const char *k, *v;

    if (!bpt_job_result_is_ok(res)) {
        const char *code = bpt_job_result_error_code(res);
        bool stopping = strcmp(code, "shutting_down") == 0;
        bpt_http_job_error(a, stopping ? 503 : 422, code, bpt_job_result_error_message(res),
                           stopping ? RETRY_AFTER_SECS : 0);
        return;
    }
    body = bpt_job_result_body(res, &n);
    if (json) {
        json_t *meta = json_object();
        char *b64 = NULL;
        for (size_t i = 0; meta && bpt_job_result_meta_at(res, i, &k, &v); i++) {
            json_object_set_new(meta, k, json_string(v));
        }
        if (!meta || bpt_base64_encode(&b64, body, n) < 0) {
            json_decref(meta);
            bpt_http_job_error(a, 500, "internal", "out of memory", 0);
            return;
        }
        answer_json(a, 200, json_pack("{s:s,s:o}", "body_b64", b64, "metadata", meta), 0);
        bpt_free(b64);
        a->headers = answer_headers(call, res, false);
        return;
    }
    memset(a, 0, sizeof(*a));
    a->status = 200;
    a->content_type = "application/octet-stream";
    if (n && !(a->body = malloc(n))) {
        bpt_http_job_error(a, 500, "internal", "out of memory", 0);
        return;
    }
    if (n) {
        memcpy(a->body, body, n);
    }
    a->len = n;
    a->headers = answer_headers(call, res, true);
}

bool bpt_http_job_index(const char *path, uint8_t *index)
{
    size_t pl = strlen(BPT_HTTP_JOBS_PREFIX);
    const char *p;
    unsigned v = 0;
    if (!path || strncmp(path, BPT_HTTP_JOBS_PREFIX, pl) != 0) {
        return false;
    }
    p = path + pl;
    if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 3) {
        return false;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(*p - '0');
    }
    *index = (uint8_t)v;
    return v <= 255;
}

/* The request's X-Bpt-Meta-* headers into the call's metadata; false (with @p bad) on one the
 * metadata rules refuse, or a tee.* key (the service's to set). */
static bool take_meta(bpt_job_call *call, const struct bpt_http_job_request *q, char *bad,
                      size_t bad_len)
{
    size_t pl = strlen(META_HEADER);
    for (size_t i = 0; i < q->n_headers; i++) {
        const char *name = q->headers[i].name, *value = q->headers[i].value;
        if (!name || strncasecmp(name, META_HEADER, pl) != 0) {
            continue;
        }
        if (strncasecmp(name + pl, "tee.", 4) == 0) {
            snprintf(bad, bad_len, "tee.* metadata is the service's to set");
            return false;
        }
        if (bpt_job_call_meta_set(call, name + pl, value ? value : "") < 0) {
            snprintf(bad, bad_len, "%s", bpt_error_last());
            return false;
        }
    }
    return true;
}

static const char *header(const struct bpt_http_job_request *q, const char *name)
{
    for (size_t i = 0; i < q->n_headers; i++) {
        if (q->headers[i].name && strcasecmp(q->headers[i].name, name) == 0) {
            return q->headers[i].value ? q->headers[i].value : "";
        }
    }
    return NULL;
}

void bpt_http_job_call(bpt_job_call **out, bool *json, bpt_kx_http_answer *ans,
                       const struct bpt_http_job_request *q, bool (*has_job)(uint8_t, void *),
                       void *ud, uint64_t next_id)
{
    uint8_t index = 0;
    bool routed_path = bpt_http_job_index(q->path, &index);
    const char *id_text = header(q, "X-Bpt-Call-Id");
    uint64_t call_id = next_id;
    bpt_job_call *call = NULL;
    char msg[256];

    *out = NULL;
    *json = q->format != NULL;
    if (!routed_path) {
        bpt_http_job_error(ans, 404, "not_found", "no such endpoint (POST /v1/jobs/{0..255})", 0);
        return;
    }
    if (!q->method || strcmp(q->method, "POST") != 0) {
        bpt_http_job_error(ans, 405, "method_not_allowed", "use POST", 0);
        return;
    }
    if (q->format && strcmp(q->format, "json") != 0) {
        bpt_http_job_error(ans, 400, "bad_request", "format: json, or no format for the raw body",
                           0);
        return;
    }
    if (!has_job(index, ud)) {
        snprintf(msg, sizeof(msg), "no handler for job %u", index);
        bpt_http_job_error(ans, 404, "unknown_job", msg, 0);
        return;
    }
    if (id_text) {
        char *end = NULL;
        unsigned long long v = strtoull(id_text, &end, 10);
        if (!*id_text || *end || id_text[0] == '-' || id_text[0] == '+' || id_text[0] == ' ') {
            bpt_http_job_error(ans, 400, "bad_request", "X-Bpt-Call-Id is a decimal number", 0);
            return;
        }
        call_id = v;
    }
    if (bpt_job_call_new(&call, 0, call_id, index, q->body, q->len) < 0) {
        bpt_http_job_error(ans, 500, "internal", "cannot make the call", 0);
        return;
    }
    if (!take_meta(call, q, msg, sizeof(msg))) {
        bpt_job_call_free(call);
        bpt_http_job_error(ans, 400, "bad_request", msg, 0);
        return;
    }
    *out = call;
}
