/* The one HTTP transport over libcurl; see http.h for what it allows. */
#include "core/http.h"
#include "core/err.h"
#include "core/limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <curl/curl.h>

#define REFUSED_WHY "(https only, or http to loopback: 127.0.0.0/8, localhost, [::1])"

/* A URL's scheme and host, for the rule and for messages (never its path, query or user). */
struct where {
    char scheme[24];
    char host[256];
};

/* One transfer's state, seen by the callbacks. */
struct xfer {
    CURL *c;
    const struct bpt_http_request *req;
    struct bpt_http_response *resp;
    bool body_too_big;
    const char *header_too_big; /* the captured header whose value passed its cap */
    bool redirect_refused;      /* a Location outside the URL rule */
    struct where redirect_to;   /* its scheme and host, "(unreadable)" when unparsable */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init is not thread-safe in every libcurl; run it once, whoever comes first. */
static int curl_ready(void)
{
    if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK) {
        return bpt_err(BPT_EFETCH, "http: libcurl initialisation failed");
    }
    return 0;
}

static bool host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    char v6[INET6_ADDRSTRLEN];
    size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0) {
        return true;
    }
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (n > 2 && n - 2 < sizeof(v6) && host[0] == '[' && host[n - 1] == ']') {
        memcpy(v6, host + 1, n - 2);
        v6[n - 2] = '\0';
        return inet_pton(AF_INET6, v6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return false;
}

/* Whether the parsed URL @p u may be fetched; @p w gets its scheme and host. */
static bool url_ok(CURLU *u, struct where *w)
{
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    snprintf(w->scheme, sizeof(w->scheme), "(none)");
    snprintf(w->host, sizeof(w->host), "(none)");
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
        snprintf(w->scheme, sizeof(w->scheme), "%s", scheme);
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
            snprintf(w->host, sizeof(w->host), "%s", host);
            ok = strcasecmp(scheme, "https") == 0 ||
                 (strcasecmp(scheme, "http") == 0 && host_is_loopback(host));
        }
    }
    curl_free(scheme);
    curl_free(host);
    return ok;
}

bool bpt_http_url_allowed(const char *url)
{
    CURLU *u = url ? curl_url() : NULL;
    struct where w;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK && url_ok(u, &w);
    curl_url_cleanup(u);
    return ok;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether the header line [p, p + len) is "@p name: value"; then the value, trimmed. */
static bool header_is(const char *p, size_t len, const char *name, const char **v, size_t *v_len)
{
    size_t k = strlen(name), end = len;
    if (len <= k || strncasecmp(p, name, k) != 0 || p[k] != ':') {
        return false;
    }
    for (k++; k < len && is_blank(p[k]); k++) {
    }
    while (end > k && is_blank(p[end - 1])) {
        end--;
    }
    *v = p + k;
    *v_len = end - k;
    return true;
}

/* A redirect's target, resolved against the current URL as curl will, must pass the rule. */
static void check_location(struct xfer *x, const char *p, size_t len)
{
    char loc[BPT_LIMIT_TEXT_BYTES];
    char *current = NULL;
    CURLU *u = NULL;

    snprintf(x->redirect_to.scheme, sizeof(x->redirect_to.scheme), "(unreadable)");
    snprintf(x->redirect_to.host, sizeof(x->redirect_to.host), "(unreadable)");
    x->redirect_refused = true;
    if (len >= sizeof(loc)) {
        return;
    }
    memcpy(loc, p, len);
    loc[len] = '\0';
    if (curl_easy_getinfo(x->c, CURLINFO_EFFECTIVE_URL, &current) == CURLE_OK && current &&
        (u = curl_url()) && curl_url_set(u, CURLUPART_URL, current, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, loc, CURLU_URLENCODE | CURLU_ALLOW_SPACE) == CURLUE_OK &&
        url_ok(u, &x->redirect_to)) {
        x->redirect_refused = false;
    }
    curl_url_cleanup(u);
}

/*
 * The end of one response's headers: a declared Content-Length past the cap is refused now,
 * before any of the body arrives (not for a redirect curl follows: it skips that body).
 */
static bool end_of_headers(struct xfer *x)
{
    curl_off_t cl = -1;
    long code = 0;
    bpt_buf *b = x->resp->body;

    if (curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
        (x->req->follow_redirects && code >= 300 && code < 400) ||
        curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK || cl < 0 ||
        (uint64_t)cl <= b->max - b->len) {
        return true;
    }
    x->body_too_big = true;
    return false;
}

/*
 * Each header line of each response (redirects and 1xx included): a status line starts a new
 * response, so captured values never leak from an earlier one; a wanted header's value
 * (trimmed) goes into its buffer, the last one winning; a followed Location is checked.
 */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    const struct bpt_http_request *req = x->req;
    size_t len = size * n, v_len;
    const char *v;
    long code = 0;

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        for (size_t i = 0; i < req->n_capture; i++) {
            bpt_buf_reset(&x->resp->values[i]);
        }
        return len;
    }
    if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) {
        return end_of_headers(x) ? len : 0;
    }
    if (req->follow_redirects && header_is(p, len, "Location", &v, &v_len) &&
        curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 300 &&
        code < 400) {
        check_location(x, v, v_len);
        if (x->redirect_refused) {
            return 0; /* abort before curl follows it */
        }
    }
    for (size_t i = 0; i < req->n_capture; i++) {
        if (!header_is(p, len, req->capture[i], &v, &v_len)) {
            continue;
        }
        bpt_buf_reset(&x->resp->values[i]);
        if (bpt_buf_append(&x->resp->values[i], v, v_len) != 0) {
            x->header_too_big = req->capture[i];
            return 0;
        }
    }
    return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (bpt_buf_append(x->resp->body, p, len) != 0) {
        x->body_too_big = true;
        return 0; /* abort the transfer */
    }
    return len;
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int check_request(const struct bpt_http_response *resp, const struct bpt_http_request *req)
{
    struct sockaddr_un sa;

    if (!req->url) {
        return bpt_err(BPT_EINVAL, "http: no URL");
    }
    if (!resp->body || (req->n_capture && (!req->capture || !resp->values)) ||
        (req->n_headers && !req->headers)) {
        return bpt_err(BPT_EINVAL, "http: a body buffer (and capture buffers) are required");
    }
    if (req->method != BPT_HTTP_GET && req->method != BPT_HTTP_POST &&
        req->method != BPT_HTTP_PUT && req->method != BPT_HTTP_DELETE) {
        return bpt_err(BPT_EINVAL, "http: method %d is not GET, POST, PUT or DELETE",
                       (int)req->method);
    }
    if ((req->method == BPT_HTTP_GET || req->method == BPT_HTTP_DELETE) &&
        (req->body || req->body_len)) {
        return bpt_err(BPT_EINVAL, "http: a GET or DELETE has no body");
    }
    if (!req->body && req->body_len) {
        return bpt_err(BPT_EINVAL, "http: body of %zu bytes is NULL", req->body_len);
    }
    if (req->aws_sigv4 && (!req->aws_key_id || !req->aws_secret)) {
        return bpt_err(BPT_EINVAL, "http: a SigV4 request needs an access key id and a secret");
    }
    if (req->timeout_ms <= 0 || req->timeout_ms > BPT_HTTP_MAX_TIMEOUT_MS ||
        req->connect_timeout_ms < 0 || req->connect_timeout_ms > BPT_HTTP_MAX_TIMEOUT_MS) {
        return bpt_err(BPT_EINVAL, "http: timeout_ms %ld (1..%ld), connect_timeout_ms %ld",
                       req->timeout_ms, BPT_HTTP_MAX_TIMEOUT_MS, req->connect_timeout_ms);
    }
    if (req->unix_socket &&
        (!*req->unix_socket || strlen(req->unix_socket) >= sizeof(sa.sun_path))) {
        return bpt_err(BPT_EINVAL, "http: unix socket path of 1..%zu bytes required",
                       sizeof(sa.sun_path) - 1);
    }
    if (req->content_type && has_crlf(req->content_type)) {
        return bpt_err(BPT_EINVAL, "http: Content-Type has a line break");
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!req->headers[i] || !strchr(req->headers[i], ':') || has_crlf(req->headers[i])) {
            return bpt_err(BPT_EINVAL, "http: request header %zu is not one 'Name: value' line", i);
        }
    }
    return 0;
}

static bpt_http_failure classify(CURLcode cc, long os_errno)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return BPT_HTTP_FAIL_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return BPT_HTTP_FAIL_TIMEOUT;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL: /* the URL was checked: this is an HTTP/0.9 answer */
    case CURLE_GOT_NOTHING:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return BPT_HTTP_FAIL_PROTOCOL;
    case CURLE_RECV_ERROR:
        /* Without an OS error, curl refused what it read (a damaged chunked body). */
        return os_errno ? BPT_HTTP_FAIL_IO : BPT_HTTP_FAIL_PROTOCOL;
    case CURLE_PARTIAL_FILE:
        return BPT_HTTP_FAIL_TRUNCATED;
    default:
        return BPT_HTTP_FAIL_IO;
    }
}

/* The request's header list: Content-Type (POST, PUT), no "Expect: 100-continue", the caller's.
 * A SigV4 request goes without the empty "Expect:": libcurl signs every custom header, that
 * one with an empty value, but never sends it, so the server's signature could not match. */
static int make_headers(struct curl_slist **out, const struct bpt_http_request *req)
{
    char ct[BPT_LIMIT_TEXT_BYTES];
    const char *post[] = {ct, "Expect:"};
    bool body = req->method == BPT_HTTP_POST || req->method == BPT_HTTP_PUT;
    size_t n_post = !body ? 0 : req->aws_sigv4 ? 1 : 2;
    struct curl_slist *l = NULL, *t;
    int n;

    *out = NULL;
    n = snprintf(ct, sizeof(ct), "Content-Type: %s",
                 req->content_type ? req->content_type : "application/octet-stream");
    if (n < 0 || (size_t)n >= sizeof(ct)) {
        return bpt_err(BPT_EINVAL, "http: Content-Type longer than %zu bytes", sizeof(ct));
    }
    for (size_t i = 0; i < n_post + req->n_headers; i++) {
        if (!(t = curl_slist_append(l, i < n_post ? post[i] : req->headers[i - n_post]))) {
            curl_slist_free_all(l);
            return bpt_err_nomem("http: request headers");
        }
        l = t;
    }
    *out = l;
    return 0;
}

static void truncate_body(bpt_buf *b, size_t len)
{
    b->len = len;
    if (b->data) {
        b->data[len] = 0;
    }
}

int bpt_http_send(struct bpt_http_response *resp, const struct bpt_http_request *req)
{
    int rc = BPT_ERROR;
    CURL *c = NULL;
    CURLU *u = NULL;
    CURLUcode uc;
    CURLcode cc;
    struct curl_slist *hdrs = NULL;
    struct xfer x = {.req = req, .resp = resp};
    char errbuf[CURL_ERROR_SIZE] = "", shown[300];
    struct where w;
    curl_off_t cl = -1;
    long os_errno = 0, connect_ms;
    size_t before = resp->body ? resp->body->len : 0;
    bool plain;

    resp->status = 0;
    resp->content_length = -1;
    resp->failure = BPT_HTTP_FAIL_NONE;
    resp->os_errno = 0;
    BPT_CHECK(check_request(resp, req));
    BPT_CHECK(curl_ready());
    if (!(u = curl_url())) {
        rc = bpt_err_nomem("http: URL");
        goto out;
    }
    if ((uc = curl_url_set(u, CURLUPART_URL, req->url, 0)) != CURLUE_OK) {
        rc = bpt_err(BPT_EINVAL, "http: URL refused: %s", curl_url_strerror(uc));
        goto out;
    }
    if (!url_ok(u, &w)) {
        rc = bpt_err(BPT_EINVAL, "http: %s://%s refused " REFUSED_WHY, w.scheme, w.host);
        goto out;
    }
    plain = strcasecmp(w.scheme, "http") == 0;
    /* Messages name the host (or the socket), never the path or query. */
    snprintf(shown, sizeof(shown), "%s%s", req->unix_socket ? "unix:" : "",
             req->unix_socket ? req->unix_socket : w.host);
    BPT_CHECK(make_headers(&hdrs, req));
    if (!(c = curl_easy_init())) {
        rc = bpt_err_nomem("http: curl handle");
        goto out;
    }
    x.c = c;
    connect_ms = req->connect_timeout_ms                         ? req->connect_timeout_ms
                 : req->timeout_ms < BPT_HTTP_CONNECT_TIMEOUT_MS ? req->timeout_ms
                                                                 : BPT_HTTP_CONNECT_TIMEOUT_MS;
    /* Every option matters (the protocol lists and TLS checks most): any refusal stops here. */
    if (curl_easy_setopt(c, CURLOPT_CURLU, u) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, BPT_HTTP_MAX_REDIRECTS) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &x) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &x) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_USERAGENT, "blueprint-tee/" BPT_VERSION_STRING) != CURLE_OK ||
        ((plain || req->unix_socket) && curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK) ||
        (req->unix_socket &&
         curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket) != CURLE_OK) ||
        (req->aws_sigv4 && (curl_easy_setopt(c, CURLOPT_AWS_SIGV4, req->aws_sigv4) != CURLE_OK ||
                            curl_easy_setopt(c, CURLOPT_USERNAME, req->aws_key_id) != CURLE_OK ||
                            curl_easy_setopt(c, CURLOPT_PASSWORD, req->aws_secret) != CURLE_OK)) ||
        (req->method == BPT_HTTP_PUT &&
         curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT") != CURLE_OK) ||
        (req->method == BPT_HTTP_DELETE &&
         curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE") != CURLE_OK) ||
        ((req->method == BPT_HTTP_POST || req->method == BPT_HTTP_PUT) &&
         (curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
          curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len) != CURLE_OK ||
          curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "") !=
              CURLE_OK))) {
        rc = bpt_err(BPT_EFETCH, "http: %s: libcurl refused an option", shown);
        goto out;
    }
    cc = curl_easy_perform(c);
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    (void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0) {
        resp->content_length = (int64_t)cl;
    }
    if (x.redirect_refused) {
        rc = bpt_err(BPT_EINVAL, "http: %s: redirect to %s://%s refused " REFUSED_WHY, shown,
                     x.redirect_to.scheme, x.redirect_to.host);
        goto out;
    }
    if (x.header_too_big) {
        rc = bpt_err(BPT_ELIMIT, "http: %s: response header '%.60s' larger than its limit", shown,
                     x.header_too_big);
        goto out;
    }
    if (x.body_too_big) {
        if (resp->content_length >= 0) {
            rc = bpt_err(BPT_ELIMIT,
                         "http: %s: response larger than %zu bytes (Content-Length %lld)", shown,
                         resp->body->max - before, (long long)resp->content_length);
        } else {
            rc = bpt_err(BPT_ELIMIT, "http: %s: response larger than %zu bytes", shown,
                         resp->body->max - before);
        }
        goto out;
    }
    if (cc != CURLE_OK) {
        resp->failure = classify(cc, os_errno);
        resp->os_errno = (int)os_errno;
        if (errbuf[0] && strcmp(errbuf, curl_easy_strerror(cc)) != 0) {
            rc = bpt_err(BPT_EFETCH, "http: %s: %s (%s)", shown, curl_easy_strerror(cc), errbuf);
        } else {
            rc = bpt_err(BPT_EFETCH, "http: %s: %s", shown, curl_easy_strerror(cc));
        }
        goto out;
    }
    rc = 0;
out:
    if (rc < 0 && resp->body) {
        truncate_body(resp->body, before);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    curl_url_cleanup(u);
    return rc;
}

int bpt_http_get(bpt_buf *body, long *status, const char *url, long timeout_ms)
{
    return bpt_http_get_headers(body, status, url, timeout_ms, NULL, NULL, 0);
}

int bpt_http_get_headers(bpt_buf *body, long *status, const char *url, long timeout_ms,
                         const char *const *names, bpt_buf *values, size_t n)
{
    struct bpt_http_request req = {.method = BPT_HTTP_GET,
                                   .url = url,
                                   .timeout_ms = timeout_ms,
                                   .capture = names,
                                   .n_capture = n};
    struct bpt_http_response resp = {.body = body, .values = values};
    int rc = bpt_http_send(&resp, &req);
    *status = resp.status;
    return rc;
}
