/*
 * GCP Confidential Space: the container launcher's token endpoint on its unix socket,
 * POST /v1/token {"audience": .., "token_type": "OIDC", "nonces": [..]}, sent through the
 * library's HTTP transport (core/http: libcurl over the unix socket). The answer's body is the
 * JWT. One deadline covers connect, send and receive; the body is capped at 64 KiB.
 */
#include <blueprint-tee/attester.h>

#include "core/err.h"
#include "core/http.h"
#include "core/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define LAUNCHER_SOCKET "/run/container_launcher/teeserver.sock"
#define LAUNCHER_URL "http://localhost/v1/token"
#define ANSWER_MAX (64u * 1024u)
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_NONCES 6
#define NONCE_MIN 10
#define NONCE_MAX 74
#define AUDIENCE_MAX 512

static int build_body(char **out, const char *audience, const char *const *nonces, size_t n)
{
    json_t *body =
               json_pack("{s:s,s:s,s:[]}", "audience", audience, "token_type", "OIDC", "nonces"),
           *list = json_object_get(body, "nonces");
    int rc = BPT_ERROR;

    *out = NULL;
    for (size_t i = 0; list && i < n; i++) {
        if (json_array_append_new(list, json_string(nonces[i])) != 0) {
            list = NULL;
        }
    }
    if (!body || !list) {
        rc = bpt_err(BPT_EINVAL, "gcp launcher: the audience and nonces must be UTF-8 text");
        goto out;
    }
    BPT_CHECK(bpt_json_dump(out, body));
    rc = 0;
out:
    json_decref(body);
    return rc;
}

/*
 * The transport's failure in this function's documented codes: no socket is ENOTSUP (not a
 * Confidential Space VM), a time-out or socket error EIO, an answer that is not HTTP EPROTOCOL,
 * an oversized one ELIMIT.
 */
static int launcher_error(int rc, const struct bpt_http_response *r, const char *path,
                          long timeout_ms)
{
    if (rc == BPT_ELIMIT) {
        if (r->content_length > (int64_t)ANSWER_MAX) {
            return bpt_err(BPT_ELIMIT, "gcp launcher: answer of %lld bytes (limit %u)",
                           (long long)r->content_length, ANSWER_MAX);
        }
        return bpt_err(BPT_ELIMIT, "gcp launcher: answer larger than %u bytes", ANSWER_MAX);
    }
    if (rc != BPT_EFETCH) {
        return bpt_err_prefix(rc, "gcp launcher");
    }
    switch (r->failure) {
    case BPT_HTTP_FAIL_CONNECT:
        return bpt_err(r->os_errno == ENOENT || r->os_errno == ECONNREFUSED ? BPT_ENOTSUP : BPT_EIO,
                       "gcp launcher: cannot connect to %.200s: %s (not a Confidential Space VM?)",
                       path, strerror(r->os_errno));
    case BPT_HTTP_FAIL_TIMEOUT:
        return bpt_err(BPT_EIO, "gcp launcher: no answer within %ld ms (time-out)", timeout_ms);
    case BPT_HTTP_FAIL_PROTOCOL:
        return bpt_err_prefix(BPT_EPROTOCOL,
                              "gcp launcher: the answer is not HTTP, or its framing is damaged");
    case BPT_HTTP_FAIL_TRUNCATED:
        return bpt_err_prefix(
            BPT_EPROTOCOL, "gcp launcher: the body ends before its Content-Length or last chunk");
    default:
        return bpt_err_prefix(BPT_EIO, "gcp launcher");
    }
}

static int check_args(const char *path, const char *audience, const char *const *nonces,
                      size_t n_nonces, long timeout_ms)
{
    struct sockaddr_un addr;
    if (!audience || !*audience || strlen(audience) > AUDIENCE_MAX) {
        return bpt_err(BPT_EINVAL, "gcp launcher: an audience of 1..%d bytes is required",
                       AUDIENCE_MAX);
    }
    if (n_nonces > MAX_NONCES || (n_nonces && !nonces)) {
        return bpt_err(BPT_EINVAL, "gcp launcher: at most %d nonces", MAX_NONCES);
    }
    for (size_t i = 0; i < n_nonces; i++) {
        size_t l = nonces[i] ? strlen(nonces[i]) : 0;
        if (l < NONCE_MIN || l > NONCE_MAX) {
            return bpt_err(BPT_EINVAL, "gcp launcher: nonce %zu is %zu bytes (%d..%d allowed)", i,
                           l, NONCE_MIN, NONCE_MAX);
        }
    }
    if (timeout_ms < 0 || timeout_ms > 600000) {
        return bpt_err(BPT_EINVAL, "gcp launcher: timeout_ms %ld (0..600000)", timeout_ms);
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        return bpt_err(BPT_EINVAL, "gcp launcher: socket path longer than %zu bytes",
                       sizeof(addr.sun_path) - 1);
    }
    return 0;
}

int bpt_attest_gcp_token(char **token, const char *socket_path, const char *audience,
                         const char *const *nonces, size_t n_nonces, long timeout_ms)
{
    const char *path = socket_path ? socket_path : LAUNCHER_SOCKET;
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX);
    char *json = NULL;
    struct bpt_http_request req = {.method = BPT_HTTP_POST,
                                   .url = LAUNCHER_URL,
                                   .unix_socket = path,
                                   .content_type = "application/json"};
    struct bpt_http_response resp = {.body = &body};
    int rc = BPT_ERROR;
    size_t len;

    *token = NULL;
    BPT_CHECK(check_args(path, audience, nonces, n_nonces, timeout_ms));
    timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    BPT_CHECK(build_body(&json, audience, nonces, n_nonces));
    req.body = (const uint8_t *)json;
    req.body_len = strlen(json);
    req.timeout_ms = timeout_ms; /* one deadline: connecting is inside it */
    req.connect_timeout_ms = timeout_ms;
    rc = bpt_http_send(&resp, &req);
    if (rc < 0) {
        rc = launcher_error(rc, &resp, path, timeout_ms);
        goto out;
    }
    len = body.len;
    while (len > 0 && (body.data[len - 1] == '\n' || body.data[len - 1] == '\r')) {
        len--;
    }
    if (resp.status != 200) {
        /* The launcher's error text (never a token: there is none on failure). */
        for (size_t i = 0; i < len && i < 200; i++) {
            if (body.data[i] < 0x20 || body.data[i] > 0x7e) {
                len = i;
            }
        }
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: HTTP %ld: %.*s", resp.status,
                     (int)(len < 200 ? len : 200), (const char *)body.data);
        goto out;
    }
    if (len == 0 || memchr(body.data, '.', len) == NULL || memchr(body.data, '\0', len)) {
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: the answer is not a token");
        goto out;
    }
    if (!(*token = strndup((const char *)body.data, len))) {
        rc = bpt_err_nomem("token");
        goto out;
    }
    rc = 0;
out:
    bpt_free(json);
    bpt_buf_dispose(&body);
    return rc;
}
