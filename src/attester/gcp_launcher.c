/*
 * GCP Confidential Space: the container launcher's token endpoint on its unix socket,
 * POST /v1/token {"audience": .., "token_type": "OIDC", "nonces": [..]} over HTTP/1.1. The
 * answer is the JWT; it may come with Content-Length, chunked, or until the socket closes.
 */
#include <blueprint-tee/jwt.h>

#include "core/err.h"
#include "core/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define LAUNCHER_SOCKET "/run/container_launcher/teeserver.sock"
#define ANSWER_MAX (64u * 1024u)
#define TIMEOUT_SECS 10

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return bpt_err(BPT_EIO, "gcp launcher: send: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until EOF into @p buf (bounded). */
static int read_all(int fd, bpt_buf *buf)
{
    char chunk[4096];
    for (;;) {
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return bpt_err(BPT_EIO, "gcp launcher: %s",
                           errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within 10 s"
                                                                   : strerror(errno));
        }
        if (r == 0) {
            return 0;
        }
        if (bpt_buf_append(buf, chunk, (size_t)r) != 0) {
            return bpt_err(BPT_ELIMIT, "gcp launcher: answer larger than %u bytes", ANSWER_MAX);
        }
    }
}

/* Decode a chunked body in place; returns its length or -1. */
static long dechunk(char *body, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end = NULL;
        unsigned long n;
        if (in >= len) {
            return -1;
        }
        n = strtoul(body + in, &end, 16);
        if (end == body + in || (size_t)(end - body) + 2 > len) {
            return -1;
        }
        end = strstr(end, "\r\n");
        if (!end) {
            return -1;
        }
        in = (size_t)(end - body) + 2;
        if (n == 0) {
            return (long)out;
        }
        if (n > len - in || len - in - n < 2 || memcmp(body + in + n, "\r\n", 2) != 0) {
            return -1;
        }
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
    }
}

static int build_request(char **out, const char *audience, const char *const *nonces, size_t n)
{
    json_t *body =
        json_pack("{s:s,s:s,s:[]}", "audience", audience, "token_type", "OIDC", "nonces");
    char *text = NULL;
    int rc;
    for (size_t i = 0; body && i < n; i++) {
        json_array_append_new(json_object_get(body, "nonces"), json_string(nonces[i]));
    }
    if (!body) {
        return bpt_err_nomem("request");
    }
    BPT_CHECK(bpt_json_dump(&text, body));
    if (asprintf(out,
                 "POST /v1/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 strlen(text), text) < 0) {
        *out = NULL;
        rc = bpt_err_nomem("request");
    }
out:
    bpt_free(text);
    json_decref(body);
    return rc;
}

int bpt_gcp_launcher_token(char **token, const char *socket_path, const char *audience,
                           const char *const *nonces, size_t n_nonces)
{
    const char *path = socket_path ? socket_path : LAUNCHER_SOCKET;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = TIMEOUT_SECS};
    bpt_buf ans = BPT_BUF_INIT(ANSWER_MAX + 1);
    char *req = NULL, *hdr_end, *body;
    long status = 0, body_len;
    int fd = -1, rc;

    *token = NULL;
    if (!audience || !*audience || strlen(audience) > 512 || n_nonces > 6 ||
        (n_nonces && !nonces)) {
        return bpt_err(BPT_EINVAL, "gcp launcher: an audience (1..512 bytes) and at most 6 "
                                   "nonces are required");
    }
    for (size_t i = 0; i < n_nonces; i++) {
        size_t l = nonces[i] ? strlen(nonces[i]) : 0;
        if (l < 10 || l > 74) {
            return bpt_err(BPT_EINVAL, "gcp launcher: nonce %zu is %zu bytes (10..74 allowed)", i,
                           l);
        }
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        return bpt_err(BPT_EINVAL, "gcp launcher: socket path too long");
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    BPT_CHECK(build_request(&req, audience, nonces, n_nonces));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = bpt_err(BPT_EIO, "gcp launcher: socket: %s", strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        rc = bpt_err(errno == ENOENT || errno == ECONNREFUSED ? BPT_ENOTSUP : BPT_EIO,
                     "gcp launcher: cannot connect to %s: %s (not a Confidential Space VM?)", path,
                     strerror(errno));
        goto out;
    }
    BPT_CHECK(send_all(fd, req, strlen(req)));
    BPT_CHECK(read_all(fd, &ans));
    BPT_CHECK(bpt_buf_append(&ans, "", 1));
    if (sscanf((char *)ans.data, "HTTP/1.%*d %ld", &status) != 1 ||
        !(hdr_end = strstr((char *)ans.data, "\r\n\r\n"))) {
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: not an HTTP answer");
        goto out;
    }
    *hdr_end = '\0';
    body = hdr_end + 4;
    body_len = (long)(ans.len - 1 - (size_t)(body - (char *)ans.data));
    for (char *h = strstr((char *)ans.data, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "Transfer-Encoding:", 18) == 0 && strstr(h + 2, "chunked")) {
            body_len = dechunk(body, (size_t)body_len);
            break;
        }
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0) {
            long cl = strtol(h + 17, NULL, 10);
            if (cl < 0 || cl > body_len) {
                rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: body shorter than its Content-Length");
                goto out;
            }
            body_len = cl;
        }
    }
    if (body_len < 0) {
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: damaged chunked body");
        goto out;
    }
    if (status != 200) {
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: HTTP %ld: %.*s", status,
                     (int)(body_len < 200 ? body_len : 200), body);
        goto out;
    }
    while (body_len > 0 && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r')) {
        body_len--;
    }
    if (body_len == 0 || memchr(body, '.', (size_t)body_len) == NULL) {
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: the answer is not a token");
        goto out;
    }
    if (!(*token = strndup(body, (size_t)body_len))) {
        rc = bpt_err_nomem("token");
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(req);
    bpt_buf_dispose(&ans);
    return rc;
}
