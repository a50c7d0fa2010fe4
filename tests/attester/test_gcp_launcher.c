/* bpt-test-labels: unit loopback */
/*
 * bpt_attest_gcp_token against a fake Confidential Space launcher: an HTTP server on a unix
 * socket in a temporary directory, run in a thread. It answers POST /v1/token the way the
 * launcher does (a JWT whose aud and eat_nonce echo the request), which then verifies; and it
 * misbehaves one way per case: chunked or unframed bodies, keep-alive, errors, an oversized
 * answer, no answer (time-out), not HTTP, a damaged chunked body.
 */
#include "helpers/test.h"

#include "attester/sim/jwt.h"
#include "attester/sim/x509.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define AT 1750000000

enum mode {
    LENGTH,     /* Content-Length, then close */
    CHUNKED,    /* Transfer-Encoding: chunked */
    UNFRAMED,   /* no length: the body ends when the socket closes */
    KEEP_ALIVE, /* Content-Length, and the connection stays open */
    REFUSE,     /* 400 with a message */
    OVERSIZED,  /* Content-Length over 64 KiB */
    ENDLESS,    /* an unframed body that never stops */
    SILENT,     /* reads the request, never answers */
    NOT_HTTP,
    BAD_CHUNK,
    SHORT_BODY, /* closes before Content-Length bytes */
};

struct launcher {
    char dir[4096], path[4200];
    int fd;
    enum mode mode;
    EVP_PKEY *key;
    char request[8192];
    size_t request_len;
    pthread_t th;
};

static void send_str(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* Read the request: headers, then Content-Length bytes of body. */
static void read_request(struct launcher *l, int c)
{
    l->request_len = 0;
    for (;;) {
        char *end;
        ssize_t r =
            recv(c, l->request + l->request_len, sizeof(l->request) - 1 - l->request_len, 0);
        if (r <= 0) {
            return;
        }
        l->request_len += (size_t)r;
        l->request[l->request_len] = '\0';
        if ((end = strstr(l->request, "\r\n\r\n"))) {
            const char *cl = strstr(l->request, "Content-Length: ");
            size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
            if (l->request_len - (size_t)(end + 4 - l->request) >= want) {
                return;
            }
        }
    }
}

/* A token as the launcher makes it: aud and eat_nonce from the request. */
static char *launcher_token(struct launcher *l)
{
    const char *body = strstr(l->request, "\r\n\r\n");
    json_t *req = body ? json_loads(body + 4, 0, NULL) : NULL, *claims;
    char *text, *tok = NULL;
    if (!req) {
        return strdup("no.request.body");
    }
    claims = json_pack("{s:s,s:O,s:I,s:I,s:I,s:O,s:s,s:s,s:s,s:{s:{s:s}}}", "iss",
                       "https://confidentialcomputing.googleapis.com", "aud",
                       json_object_get(req, "audience"), "iat", (json_int_t)AT - 5, "nbf",
                       (json_int_t)AT - 5, "exp", (json_int_t)AT + 3600, "eat_nonce",
                       json_object_get(req, "nonces"), "dbgstat", "disabled-since-boot", "swname",
                       "CONFIDENTIAL_SPACE", "hwmodel", "GCP_INTEL_TDX", "submods", "container",
                       "image_digest", "sha256:abcd");
    text = json_dumps(claims, JSON_COMPACT);
    if (bpt_sim_jwt_make(&tok, "{\"alg\":\"RS256\",\"kid\":\"cs-1\",\"typ\":\"JWT\"}", text,
                         l->key) != 0) {
        tok = NULL;
    }
    free(text);
    json_decref(claims);
    json_decref(req);
    return tok;
}

static void *serve_one(void *arg)
{
    struct launcher *l = arg;
    char head[256], *tok = NULL, drain[256];
    int c = accept(l->fd, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    read_request(l, c);
    switch (l->mode) {
    case LENGTH:
    case KEEP_ALIVE:
        tok = launcher_token(l);
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: %zu\r\n\r\n",
                 strlen(tok));
        send_str(c, head, strlen(head));
        send_str(c, tok, strlen(tok));
        break;
    case CHUNKED: {
        size_t n, half;
        tok = launcher_token(l);
        n = strlen(tok);
        half = n / 2;
        snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                 half);
        send_str(c, head, strlen(head));
        send_str(c, tok, half);
        snprintf(head, sizeof(head), "\r\n%zX;ext=1\r\n", n - half);
        send_str(c, head, strlen(head));
        send_str(c, tok + half, n - half);
        send_str(c, "\r\n0\r\n\r\n", 7);
        break;
    }
    case UNFRAMED:
        tok = launcher_token(l);
        send_str(c, "HTTP/1.0 200 OK\r\n\r\n", 19);
        send_str(c, tok, strlen(tok));
        send_str(c, "\n", 1);
        break;
    case REFUSE: {
        static const char r[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 34\r\n\r\n"
                                "nonce must be between 10 and 74 b\n";
        send_str(c, r, sizeof(r) - 1);
        break;
    }
    case OVERSIZED: {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\nabc";
        send_str(c, r, sizeof(r) - 1);
        break;
    }
    case ENDLESS: {
        static char block[4096];
        memset(block, 'a', sizeof(block));
        send_str(c, "HTTP/1.1 200 OK\r\n\r\n", 19);
        for (int i = 0; i < 40; i++) {
            send_str(c, block, sizeof(block));
        }
        break;
    }
    case NOT_HTTP:
        send_str(c, "SSH-2.0-OpenSSH\r\n\r\n", 19);
        break;
    case BAD_CHUNK: {
        static const char r[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n";
        send_str(c, r, sizeof(r) - 1);
        break;
    }
    case SHORT_BODY: {
        static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\na.b.c";
        send_str(c, r, sizeof(r) - 1);
        break;
    }
    case SILENT:
        break;
    }
    if (l->mode == KEEP_ALIVE || l->mode == SILENT) {
        while (recv(c, drain, sizeof(drain), 0) > 0) { /* until the client hangs up */
        }
    }
    free(tok);
    close(c);
    return NULL;
}

static int setup(void **state)
{
    struct launcher *l = calloc(1, sizeof(*l));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char *dir = bpt_test_tmpdir();
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    free(dir);
    snprintf(l->path, sizeof(l->path), "%s/teeserver.sock", l->dir);
    if (strlen(l->path) >= sizeof(a.sun_path)) {
        return -1;
    }
    memcpy(a.sun_path, l->path, strlen(l->path) + 1);
    l->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l->fd, 4) != 0 ||
        bpt_sim_keygen(&l->key, "rsa") != 0) {
        return -1;
    }
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    struct launcher *l = *state;
    close(l->fd);
    EVP_PKEY_free(l->key);
    bpt_test_rmtree(l->dir);
    free(l);
    return 0;
}

static void start(struct launcher *l, enum mode m)
{
    l->mode = m;
    assert_int_equal(pthread_create(&l->th, NULL, serve_one, l), 0);
}

static const char *const nonces[] = {"nonce-0123456789", "second-nonce-abcdef"};

static int ask(struct launcher *l, char **tok, long timeout_ms)
{
    int rc = bpt_attest_gcp_token(tok, l->path, "https://verifier.example", nonces, 2, timeout_ms);
    pthread_join(l->th, NULL);
    return rc;
}

static void test_token_from_the_launcher_verifies(void **state)
{
    struct launcher *l = *state;
    static const enum mode modes[] = {LENGTH, CHUNKED, UNFRAMED, KEEP_ALIVE};
    char *jwk = NULL, *jwks = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *p = NULL;

    assert_ok(bpt_sim_jwk(&jwk, l->key, "cs-1"));
    assert_true(asprintf(&jwks, "{\"keys\":[%s]}", jwk) > 0);
    assert_ok(bpt_verify_ctx_new(&ctx, NULL));
    assert_ok(bpt_verify_ctx_set_at(ctx, AT));
    assert_ok(bpt_verify_ctx_set_offline(ctx, true));
    assert_ok(bpt_verify_ctx_set_jwks_json(ctx, jwks, strlen(jwks)));
    assert_ok(bpt_policy_new(&p));
    assert_ok(bpt_policy_set_expected_audience(p, "https://verifier.example"));
    assert_ok(bpt_policy_set_expected_nonce(p, "second-nonce-abcdef"));
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char *tok = NULL;
        bpt_verified *v = NULL;
        start(l, modes[i]);
        if (ask(l, &tok, 5000) != 0) {
            fail_msg("mode %zu: %s", i, bpt_error_last());
        }
        /* The request the launcher saw. */
        assert_non_null(strstr(l->request, "POST /v1/token HTTP/1.1\r\n"));
        assert_non_null(strstr(l->request, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(l->request, "\"audience\":\"https://verifier.example\""));
        assert_non_null(strstr(l->request, "\"token_type\":\"OIDC\""));
        assert_non_null(
            strstr(l->request, "\"nonces\":[\"nonce-0123456789\",\"second-nonce-abcdef\"]"));
        assert_null(strchr(tok, '\n'));
        assert_ok(bpt_verify(&v, ctx, p, (const uint8_t *)tok, strlen(tok), BPT_PROVIDER_UNKNOWN));
        assert_int_equal(bpt_verified_provider(v), BPT_PROVIDER_GCP_CONFIDENTIAL);
        bpt_verified_free(v);
        bpt_free(tok);
    }
    bpt_policy_free(p);
    bpt_verify_ctx_free(ctx);
    free(jwks);
    bpt_free(jwk);
}

static void test_launcher_refusals(void **state)
{
    struct launcher *l = *state;
    static const struct {
        enum mode mode;
        int code;
        const char *msg;
    } cases[] = {
        {REFUSE, BPT_EPROTOCOL, "HTTP 400: nonce must be between 10 and 74 b"},
        {OVERSIZED, BPT_ELIMIT, "answer of 70000 bytes (limit 65536)"},
        {ENDLESS, BPT_ELIMIT, "answer larger than 65536 bytes"},
        {NOT_HTTP, BPT_EPROTOCOL, "not HTTP"},
        /* libcurl reads the framing now: a bad chunk size is its refusal, in our words. */
        {BAD_CHUNK, BPT_EPROTOCOL, "not HTTP, or its framing is damaged"},
        {SHORT_BODY, BPT_EPROTOCOL, "ends before its Content-Length"},
        {SILENT, BPT_EIO, "no answer within 300 ms (time-out)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = (char *)"x";
        int rc;
        start(l, cases[i].mode);
        rc = ask(l, &tok, 300);
        if (rc != cases[i].code || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("mode %d: got %d (%s), want %d with '%s'", (int)cases[i].mode, rc,
                     bpt_error_last(), cases[i].code, cases[i].msg);
        }
        assert_null(tok);
    }
}

static void test_arguments_and_no_launcher(void **state)
{
    struct launcher *l = *state;
    char *tok = NULL, path[4300], long_aud[600];
    const char *short_nonce[] = {"short"},
               *seven[7] = {"nonce-000001", "nonce-000002", "nonce-000003", "nonce-000004",
                            "nonce-000005", "nonce-000006", "nonce-000007"};
    memset(long_aud, 'a', sizeof(long_aud) - 1);
    long_aud[sizeof(long_aud) - 1] = '\0';
    assert_rc_msg(bpt_attest_gcp_token(&tok, l->path, NULL, NULL, 0, 0), BPT_EINVAL,
                  "an audience of 1..512 bytes");
    assert_rc_msg(bpt_attest_gcp_token(&tok, l->path, long_aud, NULL, 0, 0), BPT_EINVAL,
                  "an audience of 1..512 bytes");
    assert_rc_msg(bpt_attest_gcp_token(&tok, l->path, "aud", short_nonce, 1, 0), BPT_EINVAL,
                  "nonce 0 is 5 bytes (10..74 allowed)");
    assert_rc_msg(bpt_attest_gcp_token(&tok, l->path, "aud", seven, 7, 0), BPT_EINVAL,
                  "at most 6 nonces");
    assert_rc_msg(bpt_attest_gcp_token(&tok, l->path, "aud", NULL, 0, -1), BPT_EINVAL,
                  "timeout_ms");
    snprintf(path, sizeof(path), "%s/none.sock", l->dir);
    assert_rc_msg(bpt_attest_gcp_token(&tok, path, "aud", NULL, 0, 0), BPT_ENOTSUP,
                  "not a Confidential Space VM?");
    memset(path, 'p', 200);
    path[0] = '/';
    path[200] = '\0';
    assert_rc_msg(bpt_attest_gcp_token(&tok, path, "aud", NULL, 0, 0), BPT_EINVAL,
                  "socket path longer than");
    assert_null(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_from_the_launcher_verifies),
        cmocka_unit_test(test_launcher_refusals),
        cmocka_unit_test(test_arguments_and_no_launcher),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
