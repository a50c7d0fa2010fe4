/*
 * GCP Confidential Space: the container launcher's token endpoint on its unix socket,
 * POST /v1/token {"audience": .., "token_type": "OIDC", "nonces": [..]} over HTTP/1.1. The
 * answer's body is the JWT; it may come with Content-Length, chunked, or until the socket
 * closes. One deadline covers connect, send and receive; the answer is capped.
 */
#include <blueprint-tee/attester.h>

#include "core/err.h"
#include "core/json.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LAUNCHER_SOCKET "/run/container_launcher/teeserver.sock"
#define ANSWER_MAX (64u * 1024u)
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_NONCES 6
#define NONCE_MIN 10
#define NONCE_MAX 74
#define AUDIENCE_MAX 512

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @p events on @p fd until @p deadline (monotonic ms). */
static int wait_fd(int fd, short events, int64_t deadline, long timeout_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int64_t left = deadline - now_ms();
        int r;
        if (left <= 0) {
            return bpt_err(BPT_EIO, "gcp launcher: no answer within %ld ms (time-out)", timeout_ms);
        }
        r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return bpt_err(BPT_EIO, "gcp launcher: poll: %s", strerror(errno));
        }
    }
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline, long timeout_ms)
{
    while (n > 0) {
        ssize_t w;
        int rc = wait_fd(fd, POLLOUT, deadline, timeout_ms);
        if (rc < 0) {
            return rc;
        }
        w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
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

/* The value of header @p name in the header block [h, h + n), or NULL. */
static const char *header_value(const char *h, size_t n, const char *name, size_t *len)
{
    size_t name_len = strlen(name), i = 0;
    while (i < n) {
        const char *eol = memchr(h + i, '\n', n - i);
        size_t line = eol ? (size_t)(eol - (h + i)) : n - i;
        if (line > name_len && h[i + name_len] == ':' && strncasecmp(h + i, name, name_len) == 0) {
            size_t v = i + name_len + 1;
            size_t end = i + line;
            while (v < end && (h[v] == ' ' || h[v] == '\t')) {
                v++;
            }
            while (end > v && (h[end - 1] == '\r' || h[end - 1] == ' ' || h[end - 1] == '\t')) {
                end--;
            }
            *len = end - v;
            return h + v;
        }
        i += line + 1;
    }
    return NULL;
}

/* Decode a chunked body [p, p + n) into @p out: 1 complete, 0 incomplete, <0 damaged. */
static int dechunk(bpt_buf *out, const char *p, size_t n)
{
    size_t i = 0;
    out->len = 0;
    for (;;) {
        const char *eol = i < n ? memchr(p + i, '\n', n - i) : NULL;
        size_t size = 0, digits = 0;
        if (!eol) {
            return 0;
        }
        while (p + i + digits < eol) {
            char c = p[i + digits];
            int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (v < 0) {
                break; /* chunk extensions or the CR */
            }
            if (size > ANSWER_MAX) {
                return bpt_err(BPT_EPROTOCOL, "gcp launcher: a chunk larger than %u bytes",
                               ANSWER_MAX);
            }
            size = size * 16 + (size_t)v;
            digits++;
        }
        if (digits == 0) {
            return bpt_err(BPT_EPROTOCOL, "gcp launcher: damaged chunked body");
        }
        i = (size_t)(eol - p) + 1;
        if (size == 0) {
            return 1; /* trailers, if any, are not needed */
        }
        if (n - i < size + 2) {
            return 0;
        }
        if (p[i + size] != '\r' || p[i + size + 1] != '\n') {
            return bpt_err(BPT_EPROTOCOL, "gcp launcher: damaged chunked body");
        }
        if (bpt_buf_append(out, p + i, size) != 0) {
            return bpt_err(BPT_ELIMIT, "gcp launcher: answer larger than %u bytes", ANSWER_MAX);
        }
        i += size + 2;
    }
}

/*
 * Parse what has arrived: 1 when the answer is complete (status and body set), 0 when more is
 * needed, <0 when it is not HTTP. At @p eof an answer without a length ends here.
 */
static int parse_answer(const bpt_buf *ans, bool eof, long *status, bpt_buf *body)
{
    const char *a = (const char *)ans->data, *hdr_end, *v;
    size_t hlen, blen, vlen;
    int rc;

    hdr_end = ans->len >= 4 ? memmem(a, ans->len, "\r\n\r\n", 4) : NULL;
    if (!hdr_end) {
        return eof ? bpt_err(BPT_EPROTOCOL, "gcp launcher: the answer is not HTTP") : 0;
    }
    hlen = (size_t)(hdr_end - a) + 4;
    blen = ans->len - hlen;
    if (hlen < 12 || memcmp(a, "HTTP/1.", 7) != 0 || a[8] != ' ' || a[9] < '1' || a[9] > '5' ||
        a[10] < '0' || a[10] > '9' || a[11] < '0' || a[11] > '9') {
        return bpt_err(BPT_EPROTOCOL, "gcp launcher: the answer is not HTTP");
    }
    *status = (a[9] - '0') * 100 + (a[10] - '0') * 10 + (a[11] - '0');
    if ((v = header_value(a, hlen, "Transfer-Encoding", &vlen)) && vlen >= 7 &&
        strncasecmp(v + vlen - 7, "chunked", 7) == 0) {
        rc = dechunk(body, a + hlen, blen);
        if (rc == 0 && eof) {
            return bpt_err(BPT_EPROTOCOL, "gcp launcher: the chunked body ends early");
        }
        return rc;
    }
    if ((v = header_value(a, hlen, "Content-Length", &vlen))) {
        size_t cl = 0;
        if (vlen == 0 || vlen > 9) {
            return bpt_err(BPT_EPROTOCOL, "gcp launcher: bad Content-Length");
        }
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return bpt_err(BPT_EPROTOCOL, "gcp launcher: bad Content-Length");
            }
            cl = cl * 10 + (size_t)(v[i] - '0');
        }
        if (cl > ANSWER_MAX) {
            return bpt_err(BPT_ELIMIT, "gcp launcher: answer of %zu bytes (limit %u)", cl,
                           ANSWER_MAX);
        }
        if (blen < cl) {
            return eof ? bpt_err(BPT_EPROTOCOL,
                                 "gcp launcher: the body ends before its Content-Length")
                       : 0;
        }
        blen = cl;
    } else if (!eof) {
        return 0;
    }
    body->len = 0;
    if (bpt_buf_append(body, a + hlen, blen) != 0) {
        return bpt_err(BPT_ELIMIT, "gcp launcher: answer larger than %u bytes", ANSWER_MAX);
    }
    return 1;
}

static int build_request(char **out, const char *audience, const char *const *nonces, size_t n)
{
    json_t *body =
               json_pack("{s:s,s:s,s:[]}", "audience", audience, "token_type", "OIDC", "nonces"),
           *list = json_object_get(body, "nonces");
    char *text = NULL;
    int rc;

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
    BPT_CHECK(bpt_json_dump(&text, body));
    if (asprintf(out,
                 "POST /v1/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 strlen(text), text) < 0) {
        *out = NULL;
        rc = bpt_err_nomem("request");
        goto out;
    }
    rc = 0;
out:
    bpt_free(text);
    json_decref(body);
    return rc;
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
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    bpt_buf ans = BPT_BUF_INIT(ANSWER_MAX + 4096), body = BPT_BUF_INIT(ANSWER_MAX);
    char *req = NULL;
    long status = 0;
    int64_t deadline;
    int fd = -1, rc, done = 0;
    size_t len;

    *token = NULL;
    BPT_CHECK(check_args(path, audience, nonces, n_nonces, timeout_ms));
    timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    deadline = now_ms() + timeout_ms;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    BPT_CHECK(build_request(&req, audience, nonces, n_nonces));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = bpt_err(BPT_EIO, "gcp launcher: socket: %s", strerror(errno));
        goto out;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        rc = bpt_err(errno == ENOENT || errno == ECONNREFUSED ? BPT_ENOTSUP : BPT_EIO,
                     "gcp launcher: cannot connect to %.200s: %s (not a Confidential Space VM?)",
                     path, strerror(errno));
        goto out;
    }
    BPT_CHECK(send_all(fd, req, strlen(req), deadline, timeout_ms));
    while (!done) {
        char chunk[4096];
        ssize_t r;
        BPT_CHECK(wait_fd(fd, POLLIN, deadline, timeout_ms));
        r = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            continue;
        }
        if (r < 0) {
            rc = bpt_err(BPT_EIO, "gcp launcher: recv: %s", strerror(errno));
            goto out;
        }
        if (r > 0 && bpt_buf_append(&ans, chunk, (size_t)r) != 0) {
            rc = bpt_err(BPT_ELIMIT, "gcp launcher: answer larger than %u bytes", ANSWER_MAX);
            goto out;
        }
        BPT_CHECK(done = parse_answer(&ans, r == 0, &status, &body));
    }
    len = body.len;
    while (len > 0 && (body.data[len - 1] == '\n' || body.data[len - 1] == '\r')) {
        len--;
    }
    if (status != 200) {
        /* The launcher's error text (never a token: there is none on failure). */
        for (size_t i = 0; i < len && i < 200; i++) {
            if (body.data[i] < 0x20 || body.data[i] > 0x7e) {
                len = i;
            }
        }
        rc = bpt_err(BPT_EPROTOCOL, "gcp launcher: HTTP %ld: %.*s", status,
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
    if (fd >= 0) {
        close(fd);
    }
    free(req);
    bpt_buf_dispose(&ans);
    bpt_buf_dispose(&body);
    return rc;
}
