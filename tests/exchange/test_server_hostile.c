/* bpt-test-labels: loopback */
/*
 * The HTTP control plane under hostile clients (issue 13), over raw sockets on loopback, from
 * two source addresses (127.0.0.1 and 127.0.0.2 both exist on Linux):
 *  - slowloris: 1,100 connections from one address that never finish their head; /healthz
 *    answers from another address within 1 s, and the refusals are counted by reason;
 *  - the request deadline: a connection that trickles a header line every 50 ms is shut down
 *    once its deadline passes, although each line would reset an idle time-out;
 *  - session flood: one address creating sessions in a loop gets its share and then 429,
 *    while another address still gets a session;
 *  - framing: two different Content-Length headers, Content-Length with Transfer-Encoding,
 *    a body that is not application/json, an upper-case session id.
 * Every loop is bounded in count and time; nothing sleeps to synchronise.
 */
#include "helpers/test.h"
#include "helpers/kx.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* A server with @p base's limits (the token bucket off: the limits under test, not it). */
static struct bpt_test_kx_server *start(const bpt_kx_server_options *base, size_t max_sessions)
{
    bpt_kx_server_options o = *base;
    o.rate_limit_burst = 0;
    return bpt_test_kx_server_start(max_sessions, &o);
}

static void stop(struct bpt_test_kx_server *f)
{
    bpt_test_kx_server_stop(f);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A blocking TCP connection from @p src (e.g. "127.0.0.2") to 127.0.0.1:@p port; -1 on
 * failure. Sends and connects time out after 2 s. */
static int connect_from(const char *src, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Send @p req from @p src and read the answer until the server closes or @p timeout_ms
 * passes. Returns the HTTP status (0: no answer in time or the connection was dropped);
 * the answer's text goes to @p resp (NUL-terminated) when not NULL.
 */
static int raw_http(char *resp, size_t cap, const char *src, uint16_t port, const char *req,
                    int timeout_ms)
{
    char local[8192];
    if (resp == NULL) {
        resp = local;
        cap = sizeof(local);
    }
    resp[0] = '\0';
    int fd = connect_from(src, port);
    if (fd < 0) {
        return 0;
    }
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        off += (size_t)w;
    }
    size_t got = 0;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            break;
        }
        ssize_t r = recv(fd, resp + got, cap - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        resp[got] = '\0';
        /* one answer is enough: a complete head and its Content-Length of body */
        char *end = strstr(resp, "\r\n\r\n");
        const char *cl = strcasestr(resp, "Content-Length:");
        if (end != NULL && cl != NULL && cl < end &&
            got >= (size_t)(end + 4 - resp) + strtoul(cl + 15, NULL, 10)) {
            break;
        }
        if (got + 1 >= cap) {
            break;
        }
    }
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        status = 0;
    }
    return status;
}

/* The "error.code" of an answer's JSON body ("" when there is none). */
static const char *answer_code(char *resp)
{
    static char code[64];
    code[0] = '\0';
    char *body = strstr(resp, "\r\n\r\n");
    json_t *j = body != NULL ? json_loads(body + 4, 0, NULL) : NULL;
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (c != NULL) {
        snprintf(code, sizeof(code), "%s", c);
    }
    json_decref(j);
    return code;
}

/* The value of metric line @p name (with labels) in a /metrics answer; -1 when absent. */
static long long metric(const char *resp, const char *name)
{
    const char *p = strstr(resp, name);
    while (p != NULL && p > resp && p[-1] != '\n') {
        p = strstr(p + 1, name);
    }
    return p != NULL ? strtoll(p + strlen(name), NULL, 10) : -1;
}

#define ATTACK_CONNECTIONS 1100

/* 1,100 connections from 127.0.0.1 that never finish their request head: /healthz still
 * answers from 127.0.0.2 within 1 s. Before issue 13 it did not answer at all. */
static void test_slowloris_keeps_healthz(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4096 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4096) {
        fprintf(stderr, "skip: RLIMIT_NOFILE hard limit %llu is below 4096\n",
                (unsigned long long)rl.rlim_max);
        skip();
    }
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = 4096;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT; /* 512 in all, 32 per address */
    struct bpt_test_kx_server *f = start(&o, 64);
    int *fds = calloc(ATTACK_CONNECTIONS, sizeof(int));
    assert_non_null(fds);
    static const char partial[] = "GET /v1/attestation HTTP/1.1\r\nHost: victim\r\nX-Slow: 1\r\n";
    size_t opened = 0;
    for (size_t i = 0; i < ATTACK_CONNECTIONS; i++) {
        fds[i] = connect_from("127.0.0.1", f->port);
        if (fds[i] >= 0) {
            opened++;
            (void)send(fds[i], partial, sizeof(partial) - 1, MSG_NOSIGNAL);
        }
    }
    assert_true(opened >= ATTACK_CONNECTIONS / 2);

    char resp[16384];
    int64_t t0 = now_ms();
    int st = raw_http(resp, sizeof(resp), "127.0.0.2", f->port,
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
    int64_t took = now_ms() - t0;
    if (st != 200) {
        fail_msg("/healthz during the attack: status %d after %lld ms", st, (long long)took);
    }
    assert_non_null(strstr(resp, "{\"status\":\"ok\"}"));

    /* the attacker's own address is held at its share */
    st = raw_http(resp, sizeof(resp), "127.0.0.2", f->port,
                  "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
    assert_int_equal(st, 200);
    long long refused = metric(resp, "bpt_kx_refusals_total{reason=\"client_connection_limit\"} ");
    long long open_now = metric(resp, "bpt_http_connections_open ");
    if (refused < (long long)opened - 64 || open_now > 64) {
        fail_msg("per-address limit: %lld refused, %lld open, of %zu opened", refused, open_now,
                 opened);
    }
    for (size_t i = 0; i < ATTACK_CONNECTIONS; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    free(fds);
    stop(f);
}

/* A request head that trickles in, one header line every 50 ms, is cut at the deadline;
 * libmicrohttpd's idle time-out alone (30 s, reset by every line) would keep it forever. */
static void test_request_deadline(void **state)
{
    (void)state;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.request_deadline_ms = 300;
    struct bpt_test_kx_server *f = start(&o, 8);
    int fd = connect_from("127.0.0.1", f->port);
    assert_true(fd >= 0);
    static const char first[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    assert_true(send(fd, first, sizeof(first) - 1, MSG_NOSIGNAL) > 0);
    bool closed = false;
    int lines = 0;
    for (; lines < 100 && !closed; lines++) { /* at most 5 s */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            char b[256];
            ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
            closed = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        }
        if (!closed && send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0) {
            closed = true;
        }
    }
    close(fd);
    if (!closed) {
        fail_msg("the trickling connection was still open after %d lines", lines);
    }
    char resp[16384];
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.1", f->port,
                              "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                              1000),
                     200);
    assert_true(metric(resp, "bpt_kx_refusals_total{reason=\"request_deadline\"} ") >= 1);

    /* a whole request well inside the deadline is answered, and a kept-alive connection
     * gets a new deadline for its next request */
    fd = connect_from("127.0.0.1", f->port);
    assert_true(fd >= 0);
    static const char two[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 2; i++) {
        assert_true(send(fd, two, sizeof(two) - 1, MSG_NOSIGNAL) > 0);
        struct pollfd p = {fd, POLLIN, 0};
        assert_true(poll(&p, 1, 2000) > 0);
        char b[512];
        ssize_t r = recv(fd, b, sizeof(b) - 1, 0);
        assert_true(r > 12);
        b[r] = '\0';
        assert_non_null(strstr(b, "HTTP/1.1 200"));
    }
    close(fd);
    stop(f);
}

static const char CREATE[] = "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                             "application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

/* One address creating sessions in a loop holds its share (16) and gets 429; another
 * address still gets a session. Before issue 13 the flood took all 64 slots (503 for all). */
static void test_session_flood_leaves_room(void **state)
{
    (void)state;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    struct bpt_test_kx_server *f = start(&o, 64);
    char resp[16384];
    int created = 0, limited = 0;
    for (int i = 0; i < 80; i++) {
        int st = raw_http(resp, sizeof(resp), "127.0.0.1", f->port, CREATE, 2000);
        if (st == 201) {
            created++;
        } else if (st == 429 && strcmp(answer_code(resp), "too_many_sessions") == 0) {
            limited++;
            assert_non_null(strcasestr(resp, "Retry-After:"));
        } else {
            fail_msg("flood request %d: status %d %s", i, st, resp);
        }
    }
    assert_int_equal(created, BPT_KX_DEFAULT_MAX_SESSIONS_PER_CLIENT);
    assert_int_equal(limited, 80 - BPT_KX_DEFAULT_MAX_SESSIONS_PER_CLIENT);
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.2", f->port, CREATE, 2000), 201);
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.2", f->port,
                              "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                              1000),
                     200);
    assert_int_equal(metric(resp, "bpt_kx_refusals_total{reason=\"too_many_sessions\"} "),
                     80 - BPT_KX_DEFAULT_MAX_SESSIONS_PER_CLIENT);
    stop(f);
}

/* Request framing: what a proxy and this server could read differently is refused. */
static void test_framing(void **state)
{
    (void)state;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    struct bpt_test_kx_server *f = start(&o, 16);
    static const struct {
        const char *req;
        int status;
        const char *code;
    } cases[] = {
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 2\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{}",
         400, "bad_request"},
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 7\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
         "2\r\n{}\r\n0\r\n\r\n",
         400, "bad_request"},
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
         "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
         415, "unsupported_media_type"},
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n"
         "\r\n{}",
         415, "unsupported_media_type"},
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/jsonp\r\n"
         "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
         415, "unsupported_media_type"},
        /* what is fine: the same length twice, a charset, an empty body without a type */
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json; "
         "charset=utf-8\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
         201, ""},
        {"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n"
         "\r\n",
         201, ""},
    };
    char resp[16384];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = raw_http(resp, sizeof(resp), "127.0.0.1", f->port, cases[i].req, 2000);
        if (st != cases[i].status || strcmp(answer_code(resp), cases[i].code) != 0) {
            fail_msg("case %zu: want %d %s, got %d: %s", i, cases[i].status, cases[i].code, st,
                     resp);
        }
    }

    /* the upper-case spelling of a live session id is 400 and leaves the session live */
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.1", f->port, CREATE, 2000), 201);
    json_t *j = json_loads(strstr(resp, "\r\n\r\n") + 4, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "session_id"));
    assert_non_null(id);
    char upper[33], req[512];
    for (size_t i = 0; i < 33; i++) {
        upper[i] = (char)toupper((unsigned char)id[i]);
    }
    snprintf(req, sizeof(req),
             "POST /v1/sessions/%s/secrets HTTP/1.1\r\nHost: x\r\nContent-Type: "
             "application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
             upper);
    if (strcmp(upper, id) != 0) { /* an id of digits only has no upper case */
        assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.1", f->port, req, 2000), 400);
        assert_string_equal(answer_code(resp), "bad_request");
    }
    snprintf(req, sizeof(req),
             "POST /v1/sessions/%s/secrets HTTP/1.1\r\nHost: x\r\nContent-Type: "
             "application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
             id);
    /* the lower-case id still finds it (an empty object is a bad request, and consumes it) */
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.1", f->port, req, 2000), 400);
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.1", f->port, req, 2000), 404);
    json_decref(j);
    stop(f);
}

/* Options are checked: limits out of range are refused, version 1 options still work. */
static void test_server_options(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_kx_service *svc = bpt_test_kx_service(&now, 8, BPT_KX_BINDING_SESSION, NULL);
    bpt_kx_store *store = NULL;
    bpt_kx_server *srv = NULL;
    assert_ok(bpt_kx_store_new(&store));
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.store = store;
    o.max_connections_per_client = o.max_connections + 1;
    assert_rc_msg(bpt_kx_server_start(&srv, svc, &o), BPT_EINVAL, "max_connections_per_client");
    o.max_connections_per_client = 4;
    o.request_deadline_ms = 50;
    assert_rc_msg(bpt_kx_server_start(&srv, svc, &o), BPT_EINVAL, "request_deadline_ms 50");
    o.request_deadline_ms = 1000;
    o.n_authorized_senders = 1; /* without keys */
    assert_rc_msg(bpt_kx_server_start(&srv, svc, &o), BPT_EINVAL, "authorized senders");
    o.n_authorized_senders = 0;
    o.version = 1; /* the fields after legacy_v0 are not read: defaults */
    o.max_connections = 0;
    assert_ok(bpt_kx_server_start(&srv, svc, &o));
    bpt_kx_server_stop(srv);
    bpt_kx_store_free(store);
    bpt_kx_service_free(svc);
}

/* The total connection limit: with max_connections open (from two addresses, each within its
 * share), a connection from a third is shut at once and counted as connection_limit; the open
 * ones keep being served. */
static void test_total_connection_limit(void **state)
{
    (void)state;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.max_connections = 16;
    o.max_connections_per_client = 8;
    struct bpt_test_kx_server *f = start(&o, 8);
    /* 16 kept-alive connections, each answered once: all of them are registered */
    static const char hz[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int fds[16];
    char resp[16384];
    for (int i = 0; i < 16; i++) {
        fds[i] = connect_from(i < 8 ? "127.0.0.1" : "127.0.0.2", f->port);
        assert_true(fds[i] >= 0);
        assert_true(send(fds[i], hz, sizeof(hz) - 1, MSG_NOSIGNAL) > 0);
        struct pollfd p = {fds[i], POLLIN, 0};
        assert_true(poll(&p, 1, 2000) > 0);
        ssize_t r = recv(fds[i], resp, sizeof(resp) - 1, 0);
        assert_true(r > 12);
        resp[r] = '\0';
        assert_non_null(strstr(resp, "HTTP/1.1 200"));
    }
    /* a 17th from another address: shut without an answer */
    assert_int_equal(raw_http(resp, sizeof(resp), "127.0.0.3", f->port,
                              "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                              1000),
                     0);
    static const char metrics[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_true(send(fds[0], metrics, sizeof(metrics) - 1, MSG_NOSIGNAL) > 0);
    size_t got = 0;
    int64_t end = now_ms() + 2000;
    for (;;) {
        int left = (int)(end - now_ms());
        struct pollfd p = {fds[0], POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            break;
        }
        ssize_t r = recv(fds[0], resp + got, sizeof(resp) - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        resp[got] = '\0';
    }
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_int_equal(metric(resp, "bpt_kx_refusals_total{reason=\"connection_limit\"} "), 1);
    assert_int_equal(metric(resp, "bpt_kx_refusals_total{reason=\"client_connection_limit\"} "), 0);
    for (int i = 0; i < 16; i++) {
        close(fds[i]);
    }
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slowloris_keeps_healthz),
        cmocka_unit_test(test_request_deadline),
        cmocka_unit_test(test_total_connection_limit),
        cmocka_unit_test(test_session_flood_leaves_room),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_server_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
