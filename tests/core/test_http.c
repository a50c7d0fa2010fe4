/* bpt-test-labels: loopback */
/*
 * The HTTP transport (src/core/http.c) against real libmicrohttpd servers started here: one on
 * 127.0.0.1 (port 0), one on a unix socket bound in a temporary directory, one with TLS and a
 * self-signed certificate. GET, POST (body and Content-Type as sent), header capture, the body
 * cap at the limit and one past (declared and chunked), redirects returned and, when asked,
 * followed and checked, a stalled answer cut by the time-out, a refused connection, refused
 * URLs (nothing connects: a raw listener sees no connection), the unix socket, TLS checking.
 */
#include "helpers/test.h"

#include "attester/sim/x509.h"
#include "core/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BODY_MAX 8192

struct server {
    struct MHD_Daemon *d;
    char base[64]; /* http://127.0.0.1:<port> */
    atomic_int requests;
    pthread_mutex_t lock; /* what the last POST carried, and the stall */
    char method[16], content_type[128], extra[64];
    uint8_t body[BODY_MAX];
    size_t body_len;
    pthread_cond_t released;
    bool release;
};

struct fixture {
    struct server srv;
    struct MHD_Daemon *unix_d, *tls_d;
    char dir[4096], sock[4200], tls_base[64];
    int raw_fd; /* a listener nobody may connect to */
    char raw_base[64];
};

static ssize_t chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t total = (size_t)(uintptr_t)cls, n = total - (size_t)pos;
    if (pos >= total) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    n = n < max ? n : max;
    n = n < 1000 ? n : 1000; /* several chunks */
    memset(buf, 'y', n);
    return (ssize_t)n;
}

/* Headers and a few bytes, then nothing until the fixture lets go. */
static ssize_t stall_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct server *s = cls;
    if (pos == 0 && max >= 7) {
        memcpy(buf, "partial", 7);
        return 7;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->release) {
        pthread_cond_wait(&s->released, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static struct MHD_Response *text(const char *t)
{
    return MHD_create_response_from_buffer(strlen(t), (void *)t, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct server *s = cls;
    struct MHD_Response *resp = NULL;
    unsigned status = MHD_HTTP_OK;
    enum MHD_Result r;
    char loc[128];
    (void)version;

    if (*con_cls == NULL) { /* the headers: note them, then take the body */
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        const char *ex = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Extra");
        *con_cls = s;
        atomic_fetch_add(&s->requests, 1);
        pthread_mutex_lock(&s->lock);
        snprintf(s->method, sizeof(s->method), "%s", method);
        snprintf(s->content_type, sizeof(s->content_type), "%s", ct ? ct : "");
        snprintf(s->extra, sizeof(s->extra), "%s", ex ? ex : "");
        s->body_len = 0;
        pthread_mutex_unlock(&s->lock);
        return MHD_YES;
    }
    if (*upload_len) {
        pthread_mutex_lock(&s->lock);
        if (*upload_len <= BODY_MAX - s->body_len) {
            memcpy(s->body + s->body_len, upload, *upload_len);
            s->body_len += *upload_len;
        }
        pthread_mutex_unlock(&s->lock);
        *upload_len = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/hello") == 0) {
        resp = text("hello world");
        MHD_add_response_header(resp, "X-Test", "captured-value");
    } else if (strncmp(url, "/size/", 6) == 0) {
        size_t n = strtoul(url + 6, NULL, 10);
        char *b = malloc(n ? n : 1);
        memset(b, 'x', n);
        resp = MHD_create_response_from_buffer(n, b, MHD_RESPMEM_MUST_FREE);
    } else if (strncmp(url, "/chunked/", 9) == 0) {
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunked_reader,
                                              (void *)(uintptr_t)strtoul(url + 9, NULL, 10), NULL);
    } else if (strncmp(url, "/redirect", 9) == 0) {
        const char *to = strcmp(url, "/redirect-away") == 0  ? "http://example.com/hello"
                         : strcmp(url, "/redirect-ftp") == 0 ? "ftp://127.0.0.1/hello"
                                                             : "/hello";
        snprintf(loc, sizeof(loc), "%s", to);
        resp = text("moved");
        MHD_add_response_header(resp, "Location", loc);
        MHD_add_response_header(resp, "X-Test", "from-the-redirect");
        MHD_add_response_header(resp, "X-Redirect-Only", "yes");
        status = MHD_HTTP_FOUND;
    } else if (strcmp(url, "/stall") == 0) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stall_reader, s, NULL);
    } else if (strcmp(url, "/echo") == 0) {
        pthread_mutex_lock(&s->lock);
        snprintf(loc, sizeof(loc), "got %zu bytes", s->body_len);
        pthread_mutex_unlock(&s->lock);
        resp = text(loc);
        status = MHD_HTTP_CREATED;
    } else {
        resp = text("no such thing");
        status = MHD_HTTP_NOT_FOUND;
    }
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

#define MHD_FLAGS (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION)

/* A self-signed certificate for localhost and its key, PEM, for the TLS server. */
static void tls_material(char **cert_pem, char **key_pem)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    assert_ok(bpt_sim_keygen(&key, "P-256"));
    assert_ok(bpt_sim_make_cert(&cert, key, "localhost", NULL, NULL, -1, BPT_SIM_SIG_ECDSA_SHA256,
                                1, NULL, NULL));
    assert_ok(bpt_sim_cert_pem(cert_pem, cert));
    assert_true(PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1);
    n = BIO_get_mem_data(b, &p);
    *key_pem = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static unsigned daemon_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sockaddr_un ua = {.sun_family = AF_UNIX};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    char *dir = bpt_test_tmpdir(), *cert = NULL, *key = NULL;
    int ufd;

    pthread_mutex_init(&f->srv.lock, NULL);
    pthread_cond_init(&f->srv.released, NULL);
    f->srv.d = MHD_start_daemon(MHD_FLAGS, 0, NULL, NULL, handle, &f->srv, MHD_OPTION_END);
    if (!f->srv.d) {
        return -1;
    }
    snprintf(f->srv.base, sizeof(f->srv.base), "http://127.0.0.1:%u", daemon_port(f->srv.d));

    /* The same server on a unix socket: MHD takes a socket bound and listening here. */
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    free(dir);
    snprintf(f->sock, sizeof(f->sock), "%s/http.sock", f->dir);
    if (strlen(f->sock) >= sizeof(ua.sun_path)) {
        return -1;
    }
    memcpy(ua.sun_path, f->sock, strlen(f->sock) + 1);
    ufd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (ufd < 0 || bind(ufd, (struct sockaddr *)&ua, sizeof(ua)) != 0 || listen(ufd, 8) != 0) {
        return -1;
    }
    f->unix_d = MHD_start_daemon(MHD_FLAGS, 0, NULL, NULL, handle, &f->srv,
                                 MHD_OPTION_LISTEN_SOCKET, ufd, MHD_OPTION_END);
    if (!f->unix_d) {
        return -1;
    }

    /* TLS with a certificate nobody trusts. */
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES) {
        tls_material(&cert, &key);
        f->tls_d = MHD_start_daemon(MHD_FLAGS | MHD_USE_TLS, 0, NULL, NULL, handle, &f->srv,
                                    MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
                                    MHD_OPTION_END);
        if (f->tls_d) {
            snprintf(f->tls_base, sizeof(f->tls_base), "https://localhost:%u",
                     daemon_port(f->tls_d));
        }
        bpt_free(cert);
        free(key);
    }

    /* A raw listener: a connection to it would wait in its backlog, where accept() sees it. */
    f->raw_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (f->raw_fd < 0 || bind(f->raw_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(f->raw_fd, 8) != 0 || getsockname(f->raw_fd, (struct sockaddr *)&sa, &sl) != 0) {
        return -1;
    }
    snprintf(f->raw_base, sizeof(f->raw_base), "127.0.0.1:%u", ntohs(sa.sin_port));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pthread_mutex_lock(&f->srv.lock);
    f->srv.release = true; /* let a stalled answer end, so its thread can be joined */
    pthread_cond_broadcast(&f->srv.released);
    pthread_mutex_unlock(&f->srv.lock);
    MHD_stop_daemon(f->srv.d);
    MHD_stop_daemon(f->unix_d);
    if (f->tls_d) {
        MHD_stop_daemon(f->tls_d);
    }
    close(f->raw_fd);
    bpt_test_rmtree(f->dir);
    pthread_cond_destroy(&f->srv.released);
    pthread_mutex_destroy(&f->srv.lock);
    free(f);
    return 0;
}

static void url_of(char *out, size_t len, const struct fixture *f, const char *path)
{
    snprintf(out, len, "%s%s", f->srv.base, path);
}

static void test_get(void **state)
{
    struct fixture *f = *state;
    bpt_buf body = BPT_BUF_INIT(1024);
    char url[128];
    long status = 0;

    url_of(url, sizeof(url), f, "/hello");
    assert_ok(bpt_http_get(&body, &status, url, 5000));
    assert_int_equal(status, 200);
    assert_string_equal((const char *)body.data, "hello world");

    /* Appended to what the buffer held; a 404 is an answer, not an error. */
    url_of(url, sizeof(url), f, "/nothing");
    assert_ok(bpt_http_get(&body, &status, url, 5000));
    assert_int_equal(status, 404);
    assert_string_equal((const char *)body.data, "hello worldno such thing");
    bpt_buf_dispose(&body);
}

static void test_post_body_and_content_type(void **state)
{
    struct fixture *f = *state;
    static const uint8_t bytes[] = {'{', '"', 'a', '"', ':', '1', '}', 0x00, 0xff, '\r', '\n', 'z'};
    const char *extra[] = {"X-Extra: one"};
    bpt_buf body = BPT_BUF_INIT(1024);
    char url[128];
    struct bpt_http_request req = {.method = BPT_HTTP_POST,
                                   .url = url,
                                   .content_type = "application/json",
                                   .headers = extra,
                                   .n_headers = 1,
                                   .body = bytes,
                                   .body_len = sizeof(bytes),
                                   .timeout_ms = 5000};
    struct bpt_http_response resp = {.body = &body};

    url_of(url, sizeof(url), f, "/echo");
    assert_ok(bpt_http_send(&resp, &req));
    assert_int_equal(resp.status, 201);
    assert_string_equal((const char *)body.data, "got 12 bytes");
    assert_int_equal(resp.content_length, 12);
    pthread_mutex_lock(&f->srv.lock);
    assert_string_equal(f->srv.method, "POST");
    assert_string_equal(f->srv.content_type, "application/json");
    assert_string_equal(f->srv.extra, "one");
    assert_int_equal(f->srv.body_len, sizeof(bytes));
    assert_memory_equal(f->srv.body, bytes, sizeof(bytes));
    pthread_mutex_unlock(&f->srv.lock);

    /* An empty POST with the default type. */
    req.content_type = NULL;
    req.body = NULL;
    req.body_len = 0;
    bpt_buf_reset(&body);
    assert_ok(bpt_http_send(&resp, &req));
    assert_string_equal((const char *)body.data, "got 0 bytes");
    pthread_mutex_lock(&f->srv.lock);
    assert_string_equal(f->srv.content_type, "application/octet-stream");
    pthread_mutex_unlock(&f->srv.lock);
    bpt_buf_dispose(&body);
}

static void test_response_headers_captured(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"x-test", "X-Missing"};
    bpt_buf body = BPT_BUF_INIT(1024), values[2] = {BPT_BUF_INIT(64), BPT_BUF_INIT(64)},
            small = BPT_BUF_INIT(5);
    char url[128];
    long status = 0;

    url_of(url, sizeof(url), f, "/hello");
    assert_ok(bpt_http_get_headers(&body, &status, url, 5000, names, values, 2));
    assert_string_equal((const char *)values[0].data, "captured-value");
    assert_int_equal(values[1].len, 0);

    /* A captured value past its buffer's max. */
    bpt_buf_reset(&body);
    assert_rc_msg(bpt_http_get_headers(&body, &status, url, 5000, names, &small, 1), BPT_ELIMIT,
                  "response header 'x-test' larger than its limit");
    assert_int_equal(body.len, 0);
    bpt_buf_dispose(&body);
    bpt_buf_dispose(&values[0]);
    bpt_buf_dispose(&values[1]);
    bpt_buf_dispose(&small);
}

/* Exactly at the cap is fine, one byte more is BPT_ELIMIT: declared length and chunked. */
static void test_body_cap(void **state)
{
    struct fixture *f = *state;
    static const char *const paths[] = {"/size/", "/chunked/"};
    char url[128], path[64];
    long status = 0;

    for (size_t i = 0; i < 2; i++) {
        bpt_buf body = BPT_BUF_INIT(3000 + 4);
        assert_ok(bpt_buf_append(&body, "pre:", 4)); /* the cap is what is left: 3000 */
        snprintf(path, sizeof(path), "%s3000", paths[i]);
        url_of(url, sizeof(url), f, path);
        assert_ok(bpt_http_get(&body, &status, url, 5000));
        assert_int_equal(status, 200);
        assert_int_equal(body.len, 3004);
        assert_int_equal(body.data[3003], paths[i][1] == 's' ? 'x' : 'y');

        bpt_buf_reset(&body);
        assert_ok(bpt_buf_append(&body, "pre:", 4));
        snprintf(path, sizeof(path), "%s3001", paths[i]);
        url_of(url, sizeof(url), f, path);
        assert_rc_msg(bpt_http_get(&body, &status, url, 5000), BPT_ELIMIT,
                      "http: 127.0.0.1: response larger than 3000 bytes");
        if (i == 0) { /* refused on its Content-Length, before the body */
            assert_non_null(strstr(bpt_error_last(), "(Content-Length 3001)"));
        }
        assert_int_equal(body.len, 4); /* what it held before */
        assert_string_equal((const char *)body.data, "pre:");
        bpt_buf_dispose(&body);
    }
}

static void test_redirect_is_returned_not_followed(void **state)
{
    struct fixture *f = *state;
    bpt_buf body = BPT_BUF_INIT(1024);
    char url[128];
    long status = 0;
    int before = atomic_load(&f->srv.requests);

    url_of(url, sizeof(url), f, "/redirect");
    assert_ok(bpt_http_get(&body, &status, url, 5000));
    assert_int_equal(status, 302);
    assert_string_equal((const char *)body.data, "moved");
    assert_int_equal(atomic_load(&f->srv.requests), before + 1);
    bpt_buf_dispose(&body);
}

static void test_redirect_followed_when_asked(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"X-Test", "X-Redirect-Only"};
    bpt_buf body = BPT_BUF_INIT(1024), values[2] = {BPT_BUF_INIT(64), BPT_BUF_INIT(64)};
    char url[128];
    struct bpt_http_request req = {.method = BPT_HTTP_GET,
                                   .url = url,
                                   .timeout_ms = 5000,
                                   .follow_redirects = true,
                                   .capture = names,
                                   .n_capture = 2};
    struct bpt_http_response resp = {.body = &body, .values = values};
    int before = atomic_load(&f->srv.requests);

    url_of(url, sizeof(url), f, "/redirect");
    assert_ok(bpt_http_send(&resp, &req));
    assert_int_equal(resp.status, 200);
    assert_string_equal((const char *)body.data, "hello world");
    /* Headers come from the final answer only. */
    assert_string_equal((const char *)values[0].data, "captured-value");
    assert_int_equal(values[1].len, 0);
    assert_int_equal(atomic_load(&f->srv.requests), before + 2);

    /* A Location outside the URL rule is refused before curl goes there. */
    url_of(url, sizeof(url), f, "/redirect-away");
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL,
                  "redirect to http://example.com refused (https only");
    url_of(url, sizeof(url), f, "/redirect-ftp");
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "redirect to ftp://127.0.0.1 refused");
    assert_string_equal((const char *)body.data, "hello world"); /* untouched by failures */
    bpt_buf_dispose(&body);
    bpt_buf_dispose(&values[0]);
    bpt_buf_dispose(&values[1]);
}

static void test_timeout_and_refused_connection(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bpt_buf body = BPT_BUF_INIT(1024);
    char url[128];
    struct bpt_http_request req = {.method = BPT_HTTP_GET, .url = url, .timeout_ms = 300};
    struct bpt_http_response resp = {.body = &body};
    int fd;

    /* Headers and 7 bytes, then silence: the whole-exchange time-out ends it. */
    url_of(url, sizeof(url), f, "/stall");
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EFETCH, "http: 127.0.0.1: Timeout was reached");
    assert_int_equal(resp.failure, BPT_HTTP_FAIL_TIMEOUT);
    assert_int_equal(resp.status, 200);
    assert_int_equal(body.len, 0); /* the partial body is not kept */

    /* A port nobody listens on (bound, never listening). */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/secret-path?token=abc", ntohs(sa.sin_port));
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EFETCH, "http: 127.0.0.1: Couldn't connect");
    assert_null(strstr(bpt_error_last(), "secret-path")); /* the host only, never the path */
    assert_null(strstr(bpt_error_last(), "token"));
    assert_int_equal(resp.failure, BPT_HTTP_FAIL_CONNECT);
    assert_int_equal(resp.os_errno, ECONNREFUSED);
    close(fd);
    bpt_buf_dispose(&body);
}

static void test_refused_urls_make_no_connection(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *url; /* with "RAW" in place of the raw listener's 127.0.0.1:port */
        const char *msg;
    } cases[] = {
        {"http://example.com/", "http://example.com refused (https only, or http to loopback"},
        {"http://10.1.2.3/", "http://10.1.2.3 refused"},
        {"http://0.0.0.0/", "http://0.0.0.0 refused"},
        {"http://[::2]/", "http://[::2] refused"},
        {"http://localhost.example.com/", "http://localhost.example.com refused"},
        {"http://127.0.0.1.example.com/", "http://127.0.0.1.example.com refused"},
        {"http://127.0.0.1@example.com/", "http://example.com refused"},
        {"ftp://RAW/file", "ftp://127.0.0.1 refused"},
        {"file:///etc/passwd", "file://"},
        {"gopher://RAW/", "refused"},
        {"dict://RAW/", "refused"},
        {"not a url", "URL refused"},
        {"", "URL refused"},
    };
    bpt_buf body = BPT_BUF_INIT(1024);
    char url[256];
    long status = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *raw = strstr(cases[i].url, "RAW");
        if (raw) {
            snprintf(url, sizeof(url), "%.*s%s%s", (int)(raw - cases[i].url), cases[i].url,
                     f->raw_base, raw + 3);
        } else {
            snprintf(url, sizeof(url), "%s", cases[i].url);
        }
        assert_false(bpt_http_url_allowed(url));
        assert_rc_msg(bpt_http_get(&body, &status, url, 1000), BPT_EINVAL, cases[i].msg);
    }
    assert_rc_msg(bpt_http_get(&body, &status, NULL, 1000), BPT_EINVAL, "no URL");
    assert_false(bpt_http_url_allowed(NULL));
    /* Nothing knocked on the raw listener. */
    assert_int_equal(accept(f->raw_fd, NULL, NULL), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    bpt_buf_dispose(&body);

    static const char *const allowed[] = {
        "https://example.com/x",    "http://127.0.0.1:1/",  "http://127.1.2.3/",
        "http://localhost/",        "http://LOCALHOST:80/", "http://[::1]:8080/x",
        "HTTPS://kds.example/vcek",
    };
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (!bpt_http_url_allowed(allowed[i])) {
            fail_msg("%s refused", allowed[i]);
        }
    }
}

static void test_malformed_requests(void **state)
{
    struct fixture *f = *state;
    static const uint8_t b[] = "x";
    const char *bad_header[] = {"X-A: 1\r\nX-B: 2"};
    bpt_buf body = BPT_BUF_INIT(64);
    char url[128], long_path[200];
    struct bpt_http_request req = {.method = BPT_HTTP_GET, .url = url, .timeout_ms = 1000};
    struct bpt_http_response resp = {.body = &body};
    int before = atomic_load(&f->srv.requests);

    url_of(url, sizeof(url), f, "/hello");
    req.timeout_ms = 0;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "timeout_ms 0");
    req.timeout_ms = 1000;
    req.body = b;
    req.body_len = 1;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "a GET or DELETE has no body");
    req.method = BPT_HTTP_DELETE;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "a GET or DELETE has no body");
    req.method = (bpt_http_method)7;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "is not GET, POST, PUT or DELETE");
    req.method = BPT_HTTP_GET;
    req.body = NULL;
    req.body_len = 0;
    req.headers = bad_header;
    req.n_headers = 1;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "request header 0");
    req.headers = NULL;
    req.n_headers = 0;
    req.aws_sigv4 = "aws:amz:us-east-1:ec2"; /* signing without a key */
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "a SigV4 request needs an access key");
    req.aws_sigv4 = NULL;
    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    req.unix_socket = long_path;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EINVAL, "unix socket path");
    assert_int_equal(atomic_load(&f->srv.requests), before);
    bpt_buf_dispose(&body);
}

static void test_unix_socket(void **state)
{
    struct fixture *f = *state;
    static const uint8_t json[] = "{\"audience\":\"x\"}";
    bpt_buf body = BPT_BUF_INIT(1024);
    char missing[4300];
    struct bpt_http_request req = {.method = BPT_HTTP_GET,
                                   .url = "http://localhost/hello",
                                   .unix_socket = f->sock,
                                   .timeout_ms = 5000};
    struct bpt_http_response resp = {.body = &body};

    assert_ok(bpt_http_send(&resp, &req));
    assert_int_equal(resp.status, 200);
    assert_string_equal((const char *)body.data, "hello world");

    req.method = BPT_HTTP_POST;
    req.url = "http://localhost/echo";
    req.content_type = "application/json";
    req.body = json;
    req.body_len = sizeof(json) - 1;
    bpt_buf_reset(&body);
    assert_ok(bpt_http_send(&resp, &req));
    assert_int_equal(resp.status, 201);
    assert_string_equal((const char *)body.data, "got 16 bytes");
    pthread_mutex_lock(&f->srv.lock);
    assert_string_equal(f->srv.content_type, "application/json");
    assert_memory_equal(f->srv.body, json, sizeof(json) - 1);
    pthread_mutex_unlock(&f->srv.lock);

    /* No socket there: a connect failure naming the socket, with its errno. */
    snprintf(missing, sizeof(missing), "%s/none.sock", f->dir);
    req.unix_socket = missing;
    assert_rc_msg(bpt_http_send(&resp, &req), BPT_EFETCH, "http: unix:");
    assert_non_null(strstr(bpt_error_last(), "none.sock"));
    assert_int_equal(resp.failure, BPT_HTTP_FAIL_CONNECT);
    assert_int_equal(resp.os_errno, ENOENT);
    bpt_buf_dispose(&body);
}

/* TLS checks the peer: a self-signed certificate is refused (there is no switch to allow it). */
static void test_tls_peer_is_verified(void **state)
{
    struct fixture *f = *state;
    bpt_buf body = BPT_BUF_INIT(1024);
    char url[128];
    long status = 0;
    int before = atomic_load(&f->srv.requests);

    if (!f->tls_d) {
        skip();
    }
    snprintf(url, sizeof(url), "%s/hello", f->tls_base);
    assert_rc_msg(bpt_http_get(&body, &status, url, 5000), BPT_EFETCH, "http: localhost: ");
    assert_non_null(strstr(bpt_error_last(), "certificate"));
    assert_int_equal(atomic_load(&f->srv.requests), before); /* no request was sent */
    assert_int_equal(body.len, 0);
    bpt_buf_dispose(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_post_body_and_content_type),
        cmocka_unit_test(test_response_headers_captured),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_redirect_is_returned_not_followed),
        cmocka_unit_test(test_redirect_followed_when_asked),
        cmocka_unit_test(test_timeout_and_refused_connection),
        cmocka_unit_test(test_refused_urls_make_no_connection),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_tls_peer_is_verified),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
