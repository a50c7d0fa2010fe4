/*
 * The Confidential Space launcher's token endpoint, played by a unix-socket HTTP server in a
 * thread: the request's shape, Content-Length and chunked answers, refusals, limits.
 */
#include "helpers/test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { PLAIN, CHUNKED, CLOSE_DELIMITED, REFUSE, GARBAGE, HUGE };

struct launcher {
    char path[108];
    int fd, mode;
    char request[8192];
    pthread_t thread;
};

static const char TOKEN[] = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl";

static void *serve_one(void *arg)
{
    struct launcher *l = arg;
    int c = accept(l->fd, NULL, NULL);
    size_t got = 0;
    char out[512];
    if (c < 0) {
        return NULL;
    }
    /* Read the headers and the body (Content-Length) sent by the client. */
    while (got < sizeof(l->request) - 1) {
        ssize_t r = recv(c, l->request + got, sizeof(l->request) - 1 - got, 0);
        char *hdr_end, *cl;
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        l->request[got] = '\0';
        hdr_end = strstr(l->request, "\r\n\r\n");
        cl = strstr(l->request, "Content-Length: ");
        if (hdr_end && cl && got >= (size_t)(hdr_end + 4 - l->request) + (size_t)atoi(cl + 16)) {
            break;
        }
    }
    switch (l->mode) {
    case PLAIN:
        snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(TOKEN), TOKEN);
        break;
    case CHUNKED:
        snprintf(
            out, sizeof(out),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n"
            "\r\n",
            (size_t)10, 10, TOKEN, strlen(TOKEN) - 10, TOKEN + 10);
        break;
    case CLOSE_DELIMITED:
        snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n%s\n", TOKEN);
        break;
    case REFUSE:
        snprintf(out, sizeof(out),
                 "HTTP/1.1 400 Bad Request\r\nContent-Length: 21\r\n\r\nnonce must be 10..74\n");
        break;
    case GARBAGE:
        snprintf(out, sizeof(out), "hello");
        break;
    default: {
        static char big[70 * 1024];
        memset(big, 'a', sizeof(big));
        (void)!send(c, "HTTP/1.1 200 OK\r\n\r\n", 19, MSG_NOSIGNAL);
        (void)!send(c, big, sizeof(big), MSG_NOSIGNAL);
        out[0] = '\0';
    }
    }
    (void)!send(c, out, strlen(out), MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static void start(struct launcher *l, const char *dir, int mode)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memset(l, 0, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "%s/teeserver.sock", dir);
    memcpy(a.sun_path, l->path, strlen(l->path) + 1);
    l->mode = mode;
    l->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(l->fd >= 0);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l->fd, 1), 0);
    assert_int_equal(pthread_create(&l->thread, NULL, serve_one, l), 0);
}

static void stop(struct launcher *l)
{
    pthread_join(l->thread, NULL);
    close(l->fd);
    unlink(l->path);
}

static void test_token_answers(void **state)
{
    char *dir = bpt_test_tmpdir(), *tok = NULL;
    const char *nonces[] = {"nonce-0123456789", "nonce-abcdefghij"};
    struct launcher l;
    (void)state;
    for (int mode = PLAIN; mode <= CLOSE_DELIMITED; mode++) {
        start(&l, dir, mode);
        assert_ok(bpt_gcp_launcher_token(&tok, l.path, "https://verifier.example", nonces, 2));
        stop(&l);
        assert_string_equal(tok, TOKEN);
        bpt_free(tok);
        tok = NULL;
    }
    /* The request: POST /v1/token with the audience, OIDC and the nonces. */
    assert_non_null(strstr(l.request, "POST /v1/token HTTP/1.1\r\n"));
    json_t *body = json_loads(strstr(l.request, "\r\n\r\n") + 4, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "audience")),
                        "https://verifier.example");
    assert_string_equal(json_string_value(json_object_get(body, "token_type")), "OIDC");
    assert_string_equal(json_string_value(json_array_get(json_object_get(body, "nonces"), 1)),
                        "nonce-abcdefghij");
    json_decref(body);
    bpt_test_rmtree(dir);
    free(dir);
}

static void test_refusals(void **state)
{
    char *dir = bpt_test_tmpdir(), *tok = NULL, path[4096];
    const char *short_nonce[] = {"short"}, *seven[7] = {0};
    struct launcher l;
    (void)state;
    start(&l, dir, REFUSE);
    assert_rc_msg(bpt_gcp_launcher_token(&tok, l.path, "aud", NULL, 0), BPT_EPROTOCOL,
                  "HTTP 400: nonce must be 10..74");
    stop(&l);
    start(&l, dir, GARBAGE);
    assert_rc_msg(bpt_gcp_launcher_token(&tok, l.path, "aud", NULL, 0), BPT_EPROTOCOL,
                  "not an HTTP answer");
    stop(&l);
    start(&l, dir, HUGE);
    assert_rc_msg(bpt_gcp_launcher_token(&tok, l.path, "aud", NULL, 0), BPT_ELIMIT,
                  "answer larger than 65536 bytes");
    stop(&l);
    assert_null(tok);
    snprintf(path, sizeof(path), "%s/none.sock", dir);
    assert_rc_msg(bpt_gcp_launcher_token(&tok, path, "aud", NULL, 0), BPT_ENOTSUP,
                  "not a Confidential Space VM?");
    assert_rc_msg(bpt_gcp_launcher_token(&tok, path, "aud", short_nonce, 1), BPT_EINVAL,
                  "nonce 0 is 5 bytes (10..74 allowed)");
    for (int i = 0; i < 7; i++) {
        seven[i] = "nonce-0123456789";
    }
    assert_rc_msg(bpt_gcp_launcher_token(&tok, path, "aud", seven, 7), BPT_EINVAL,
                  "at most 6 nonces");
    assert_rc_msg(bpt_gcp_launcher_token(&tok, path, "", NULL, 0), BPT_EINVAL, "an audience");
    bpt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_answers),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
