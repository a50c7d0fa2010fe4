/* bpt-test-labels: loopback */
/*
 * The HTTP control plane on 127.0.0.1 (ephemeral port) with libcurl as the client: every
 * DESIGN §6 status and error code (201, 200, 400 bad_request/decrypt_failed, 404
 * session_not_found, 410 session_expired, 413 payload_too_large, 429 rate_limited, 503
 * capacity with Retry-After), one-time use whatever the outcome, /healthz, /metrics, and the
 * service still answering after each refusal.
 */
#include "helpers/test.h"
#include "helpers/kx.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "core/codec.h"
#include "exchange/exchange_internal.h"

static struct bpt_test_kx_server *start(size_t max_sessions, size_t max_body, unsigned burst)
{
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.max_body_bytes = max_body;
    o.rate_limit_burst = burst;
    o.rate_limit_per_minute = 60;
    return bpt_test_kx_server_start(max_sessions, &o);
}

static void stop(struct bpt_test_kx_server *f)
{
    bpt_test_kx_server_stop(f);
}

struct answer {
    long status;
    bpt_buf body;
    char retry_after[16];
    json_t *json;
};

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    return bpt_buf_append(u, p, s * n) == 0 ? s * n : 0;
}

static size_t on_header(char *p, size_t s, size_t n, void *u)
{
    struct answer *a = u;
    size_t len = s * n;
    if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0) {
        size_t k = len - 13;
        while (k > 0 && (p[13 + k - 1] == '\r' || p[13 + k - 1] == '\n')) {
            k--;
        }
        snprintf(a->retry_after, sizeof(a->retry_after), "%.*s", (int)k, p + 13);
    }
    return len;
}

static bool chunked; /* send the next POST body with chunked transfer encoding */

/* body NULL: GET; else POST with that body (len -1: strlen). */
static void http(struct answer *a, struct bpt_test_kx_server *f, const char *path, const char *body,
                 long body_len)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    memset(a, 0, sizeof(*a));
    bpt_buf_init(&a->body, 1 << 20);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *hdr = curl_slist_append(NULL, "Expect:");
    if (chunked) {
        hdr = curl_slist_append(hdr, "Transfer-Encoding: chunked");
    }
    if (body != NULL) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, body_len < 0 ? (long)strlen(body) : body_len);
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        fail_msg("%s: %s", url, curl_easy_strerror(cc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    a->json = json_loadb((const char *)a->body.data, a->body.len, 0, NULL);
}

static void done(struct answer *a)
{
    json_decref(a->json);
    bpt_buf_dispose(&a->body);
}

static const char *err_code(const struct answer *a)
{
    return json_string_value(json_object_get(json_object_get(a->json, "error"), "code"));
}

#define assert_error(a, st, code)                                                                  \
    do {                                                                                           \
        if ((a)->status != (st) || err_code(a) == NULL || strcmp(err_code(a), (code)) != 0) {      \
            fail_msg("want %d %s, got %ld %.*s", (st), (code), (a)->status, (int)(a)->body.len,    \
                     (const char *)(a)->body.data);                                                \
        }                                                                                          \
    } while (0)

static void healthy(struct bpt_test_kx_server *f)
{
    struct answer a;
    http(&a, f, "/healthz", NULL, 0);
    assert_int_equal(a.status, 200);
    done(&a);
}

struct session {
    char id[33];
    uint8_t idraw[16];
    uint8_t pk[32];
};

static void create(struct session *s, struct bpt_test_kx_server *f, const char *body)
{
    struct answer a;
    http(&a, f, "/v1/sessions", body, -1);
    if (a.status != 201) {
        fail_msg("create: %ld %.*s", a.status, (int)a.body.len, (const char *)a.body.data);
    }
    const char *id = json_string_value(json_object_get(a.json, "session_id"));
    const char *pk = json_string_value(json_object_get(a.json, "public_key"));
    assert_non_null(id);
    assert_non_null(pk);
    assert_string_equal(json_string_value(json_object_get(a.json, "key_type")), "x25519");
    assert_string_equal(json_string_value(json_object_get(a.json, "suite")), BPT_KX_SUITE);
    assert_int_equal(json_integer_value(json_object_get(a.json, "expires_at")), f->now + 60);
    json_t *att = json_object_get(a.json, "attestation");
    assert_true(json_is_object(att));
    json_t *bind = json_object_get(att, "public_key_binding");
    assert_string_equal(json_string_value(json_object_get(bind, "public_key")), pk);
    assert_string_equal(json_string_value(json_object_get(bind, "key_type")), "x25519");
    snprintf(s->id, sizeof(s->id), "%s", id);
    assert_ok(bpt_hex_decode_exact(s->idraw, 16, id, strlen(id), "id"));
    assert_ok(bpt_hex_decode_exact(s->pk, 32, pk, strlen(pk), "pk"));
    done(&a);
}

/* A secrets body with one entry sealed for @p s (name used for aad = @p aad_name). */
static char *secrets_body(const struct session *s, const char *name, const char *aad_name,
                          const char *value)
{
    return bpt_test_kx_secrets_body(s->pk, s->idraw, name, aad_name, value);
}

static void submit_path(char *out, size_t n, const struct session *s)
{
    snprintf(out, n, "/v1/sessions/%s/secrets", s->id);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct bpt_test_kx_server *f = start(8, 64 * 1024, 0);
    struct session s;
    create(&s, f, "{\"nonce\":\"000102030405060708090a0b0c0d0e0f\"}");
    char path[128];
    submit_path(path, sizeof(path), &s);
    char *body = secrets_body(&s, "db_password", "db_password", "hunter2");
    struct answer a;
    http(&a, f, path, body, -1);
    assert_int_equal(a.status, 200);
    assert_true(json_is_true(json_object_get(a.json, "success")));
    uint8_t md[32];
    char fp[65];
    SHA256(s.pk, 32, md);
    for (int i = 0; i < 32; i++) {
        snprintf(fp + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(json_string_value(json_object_get(a.json, "key_fingerprint")), fp);
    assert_int_equal(strlen(json_string_value(json_object_get(a.json, "attestation_digest"))), 64);
    assert_string_equal(json_string_value(json_array_get(json_object_get(a.json, "stored"), 0)),
                        "db_password");
    done(&a);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, f->store, "db_password"));
    assert_int_equal(bpt_secret_len(v), 7);
    assert_memory_equal(bpt_secret_data(v), "hunter2", 7);
    bpt_secret_free(v);

    /* one-time: the same call again finds no session */
    http(&a, f, path, body, -1);
    assert_error(&a, 404, "session_not_found");
    done(&a);
    free(body);

    /* an empty body and {} both create */
    create(&s, f, "");
    create(&s, f, "{}");
    healthy(f);
    stop(f);
}

static void test_errors(void **state)
{
    (void)state;
    struct bpt_test_kx_server *f = start(8, 1024, 0);
    struct answer a;
    static const struct {
        const char *body;
        const char *msg;
    } bad_create[] = {
        {"{", "invalid JSON"},
        {"[]", "not a JSON object"},
        {"{\"nonce\":\"00\"}", "nonce is 1 bytes"},
        {"{\"nonce\":\"zz\"}", "not hex"},
        {"{\"nonce\":7}", "nonce"},
        {"{\"nonce\":\"000102030405060708090a0b0c0d0e0f\",\"x\":1}", "x"},
    };
    for (size_t i = 0; i < sizeof(bad_create) / sizeof(bad_create[0]); i++) {
        http(&a, f, "/v1/sessions", bad_create[i].body, -1);
        assert_error(&a, 400, "bad_request");
        const char *m =
            json_string_value(json_object_get(json_object_get(a.json, "error"), "message"));
        if (m == NULL || strstr(m, bad_create[i].msg) == NULL) {
            fail_msg("case %zu: message %s lacks %s", i, m ? m : "(null)", bad_create[i].msg);
        }
        done(&a);
    }
    assert_int_equal(bpt_kx_service_active_count(f->svc), 0);

    /* 404 for unknown and malformed ids */
    http(&a, f, "/v1/sessions/00000000000000000000000000000000/secrets", "{}", -1);
    assert_error(&a, 404, "session_not_found");
    done(&a);
    http(&a, f, "/v1/sessions/xyz/secrets", "{}", -1);
    assert_error(&a, 404, "session_not_found");
    done(&a);

    /* decrypt_failed: sealed with another name as aad; the session is consumed anyway */
    struct session s;
    char path[128];
    create(&s, f, "{}");
    submit_path(path, sizeof(path), &s);
    char *body = secrets_body(&s, "db_password", "other_name", "v");
    http(&a, f, path, body, -1);
    assert_error(&a, 400, "decrypt_failed");
    done(&a);
    http(&a, f, path, body, -1);
    assert_error(&a, 404, "session_not_found");
    done(&a);
    free(body);
    assert_int_equal(bpt_kx_store_count(f->store), 0);

    /* bad_request bodies for the secrets call, each consuming its session */
    static const char *const bad_submit[] = {
        "{",
        "{\"secrets\":[]}",
        "{\"secrets\":[{\"name\":\"a\"}]}",
        "{\"secrets\":[{\"name\":\"\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
        "{\"secrets\":[{\"name\":\"a\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
        "{\"secrets\":[{\"name\":\"a\",\"enc\":\"!!\",\"ciphertext\":\"AA==\"}]}",
        "{\"secrets\":[{\"name\":\"a\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\",\"x\":1}]}",
        "{\"other\":1}",
    };
    for (size_t i = 0; i < sizeof(bad_submit) / sizeof(bad_submit[0]); i++) {
        create(&s, f, "{}");
        submit_path(path, sizeof(path), &s);
        http(&a, f, path, bad_submit[i], -1);
        if (a.status != 400 || strcmp(err_code(&a), "bad_request") != 0) {
            fail_msg("case %zu: %ld %.*s", i, a.status, (int)a.body.len, (const char *)a.body.data);
        }
        done(&a);
        http(&a, f, path, bad_submit[i], -1);
        assert_error(&a, 404, "session_not_found");
        done(&a);
    }

    /* 410: expired */
    create(&s, f, "{}");
    submit_path(path, sizeof(path), &s);
    body = secrets_body(&s, "n", "n", "v");
    f->now += 61;
    http(&a, f, path, body, -1);
    assert_error(&a, 410, "session_expired");
    done(&a);
    free(body);

    /* 413: at the limit passes the size check, one past is refused */
    char *big = malloc(1026);
    assert_non_null(big);
    memset(big, ' ', 1025);
    big[0] = '{';
    big[1023] = '}';
    big[1024] = ' ';
    big[1025] = '\0';
    http(&a, f, "/v1/sessions", big, 1024);
    assert_int_equal(a.status, 201);
    done(&a);
    http(&a, f, "/v1/sessions", big, 1025);
    assert_error(&a, 413, "payload_too_large");
    done(&a);
    /* without Content-Length (chunked): the limit holds while reading */
    chunked = true;
    http(&a, f, "/v1/sessions", big, 1024);
    assert_int_equal(a.status, 201);
    done(&a);
    http(&a, f, "/v1/sessions", big, 1025);
    assert_error(&a, 413, "payload_too_large");
    done(&a);
    chunked = false;
    free(big);

    /* unknown endpoint and wrong method */
    http(&a, f, "/v2/x", NULL, 0);
    assert_error(&a, 404, "not_found");
    done(&a);
    http(&a, f, "/v1/sessions", NULL, 0);
    assert_error(&a, 405, "method_not_allowed");
    done(&a);
    healthy(f);
    stop(f);
}

static void test_capacity_and_rate_limit(void **state)
{
    (void)state;
    struct bpt_test_kx_server *f = start(2, 1024, 0);
    struct session s;
    struct answer a;
    create(&s, f, "{}");
    create(&s, f, "{}");
    http(&a, f, "/v1/sessions", "{}", -1);
    assert_error(&a, 503, "capacity");
    assert_string_equal(a.retry_after, "5");
    done(&a);
    healthy(f);
    stop(f);

    f = start(8, 1024, 3); /* burst 3, fixed clock: no refill */
    for (int i = 0; i < 3; i++) {
        create(&s, f, "{}");
    }
    http(&a, f, "/v1/sessions", "{}", -1);
    assert_error(&a, 429, "rate_limited");
    assert_string_equal(a.retry_after, "1"); /* one token per second at 60/min */
    done(&a);
    healthy(f);  /* not rate limited */
    f->now += 1; /* one token per second at 60/min */
    create(&s, f, "{}");
    http(&a, f, "/v1/sessions", "{}", -1);
    assert_error(&a, 429, "rate_limited");
    done(&a);
    stop(f);
}

static void test_attestation_and_metrics(void **state)
{
    (void)state;
    struct bpt_test_kx_server *f = start(8, 4096, 0);
    struct answer a;
    http(&a, f, "/v1/attestation?nonce=000102030405060708090a0b0c0d0e0f", NULL, 0);
    assert_int_equal(a.status, 200);
    assert_true(json_is_object(json_object_get(a.json, "attestation")));
    done(&a);
    http(&a, f, "/v1/attestation?nonce=00", NULL, 0);
    assert_error(&a, 400, "bad_request");
    done(&a);

    struct session s;
    create(&s, f, "{}");
    char path[128];
    submit_path(path, sizeof(path), &s);
    char *body = secrets_body(&s, "a", "b", "v");
    http(&a, f, path, body, -1);
    assert_error(&a, 400, "decrypt_failed");
    done(&a);
    free(body);

    http(&a, f, "/metrics", NULL, 0);
    assert_int_equal(a.status, 200);
    assert_ok(bpt_buf_append(&a.body, "", 1));
    const char *m = (const char *)a.body.data;
    static const char *const want[] = {
        "bpt_kx_sessions_created_total 1\n",
        "bpt_kx_sessions_consumed_total 1\n",
        "bpt_kx_sessions_expired_total 0\n",
        "bpt_kx_sessions_refused_total 0\n",
        "bpt_kx_decrypt_failures_total 1\n",
        "bpt_kx_sessions_active 0\n",
        "# TYPE bpt_http_request_duration_seconds histogram\n",
        "bpt_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n",
        "bpt_http_request_duration_seconds_count 4\n",
        "bpt_secret_lock_failures_total ",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(m, want[i]) == NULL) {
            fail_msg("metrics lack '%s':\n%s", want[i], m);
        }
    }
    done(&a);
    stop(f);
}

/* An embedder without a store gets each opened secret through the callback. */
static void test_callback_only(void **state)
{
    (void)state;
    struct bpt_test_kx_server *f = start(4, 4096, 0);
    bpt_kx_server_stop(f->srv);
    struct bpt_test_kx_seen sn;
    memset(&sn, 0, sizeof(sn));
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    o.on_secret = bpt_test_kx_on_secret;
    o.on_secret_userdata = &sn;
    assert_ok(bpt_kx_server_start(&f->srv, f->svc, &o));
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", bpt_kx_server_port(f->srv));
    struct session s;
    create(&s, f, "{}");
    char path[128];
    submit_path(path, sizeof(path), &s);
    char *body = secrets_body(&s, "tok", "tok", "abc");
    struct answer a;
    http(&a, f, path, body, -1);
    assert_int_equal(a.status, 200);
    done(&a);
    free(body);
    assert_int_equal(sn.calls, 1);
    assert_string_equal(sn.name, "tok");
    assert_string_equal(sn.value, "abc");
    assert_int_equal(bpt_kx_store_count(f->store), 0);
    stop(f);
}

static void test_start_errors(void **state)
{
    (void)state;
    bpt_kx_service *svc = NULL;
    bpt_kx_store *store = NULL;
    bpt_kx_server *srv = NULL, *srv2 = NULL;
    assert_ok(bpt_kx_service_new(&svc, NULL));
    assert_ok(bpt_kx_store_new(&store));
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    assert_rc_msg(bpt_kx_server_start(&srv, svc, &o), BPT_EINVAL, "secret store");
    o.store = store;
    o.listen_host = "localhost";
    assert_rc_msg(bpt_kx_server_start(&srv, svc, &o), BPT_EINVAL, "numeric");
    o.listen_host = NULL;
    o.max_body_bytes = 0;
    assert_rc_msg(bpt_kx_server_start(&srv, svc, &o), BPT_EINVAL, "max_body_bytes");
    o.max_body_bytes = 1024;
    assert_ok(bpt_kx_server_start(&srv, svc, &o));
    o.port = bpt_kx_server_port(srv);
    assert_rc_msg(bpt_kx_server_start(&srv2, svc, &o), BPT_EIO, "cannot listen");
    assert_null(srv2);
    bpt_kx_server_stop(srv);
    bpt_kx_server_stop(NULL);
    bpt_kx_store_free(store);
    bpt_kx_service_free(svc);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_capacity_and_rate_limit),
        cmocka_unit_test(test_attestation_and_metrics),
        cmocka_unit_test(test_callback_only),
        cmocka_unit_test(test_start_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
