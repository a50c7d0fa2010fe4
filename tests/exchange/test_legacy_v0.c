/* bpt-test-labels: unit loopback */
/*
 * Legacy v0 payloads (the Rust crate's SealedSecretPayload), built here step by step with raw
 * OpenSSL: an X25519 key of the "Rust client", SHA-256 of the shared secret as the
 * ChaCha20-Poly1305 key, a 12-byte nonce, byte arrays in JSON. Off by default.
 */
#include "helpers/test.h"
#include "helpers/kx.h"

#include <curl/curl.h>
#include <jansson.h>

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    return bpt_buf_append(u, p, s * n) == 0 ? s * n : 0;
}

static long post(bpt_buf *resp, const char *url, const char *body)
{
    long status = 0;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Expect:");
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    bpt_buf_reset(resp);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return status;
}

/* Seal @p msg as a Rust v0 client would, to the server key @p server_pk. */
static char *seal_v0(const char *session_id, const uint8_t server_pk[32], const char *msg,
                     bool break_tag)
{
    return bpt_test_kx_v0_body(session_id, server_pk, msg, break_tag);
}

struct server {
    bpt_kx_service *svc;
    bpt_kx_store *store;
    bpt_kx_server *srv;
    char base[64];
};

static void start(struct server *s, bool legacy)
{
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_server_options o = BPT_KX_SERVER_OPTIONS_INIT;
    assert_ok(bpt_kx_service_new(&s->svc, &so));
    assert_ok(bpt_kx_store_new(&s->store));
    o.store = s->store;
    o.legacy_v0 = legacy;
    assert_ok(bpt_kx_server_start(&s->srv, s->svc, &o));
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", bpt_kx_server_port(s->srv));
}

static void stop(struct server *s)
{
    bpt_kx_server_stop(s->srv);
    bpt_kx_service_free(s->svc);
    bpt_kx_store_free(s->store);
}

/* POST /v1/sessions; returns the session id (static) and the server's public key. */
static const char *new_session(struct server *s, bpt_buf *resp, uint8_t pk[32])
{
    static char id[33];
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/sessions", s->base);
    assert_int_equal(post(resp, url, "{}"), 201);
    json_t *o = json_loadb((const char *)resp->data, resp->len, 0, NULL);
    const char *sid = json_string_value(json_object_get(o, "session_id"));
    const char *hex = json_string_value(json_object_get(o, "public_key"));
    assert_non_null(sid);
    assert_non_null(hex);
    snprintf(id, sizeof(id), "%s", sid);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        pk[i] = (uint8_t)v;
    }
    json_decref(o);
    return id;
}

static void test_v0_payload_opens_when_enabled(void **state)
{
    struct server s;
    bpt_buf resp = BPT_BUF_INIT(1 << 16);
    uint8_t pk[32];
    char url[160];
    bpt_secret *got = NULL;
    (void)state;
    start(&s, true);
    const char *id = new_session(&s, &resp, pk);
    char *body = seal_v0(id, pk, "rust-client-secret", false);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/secrets", s.base, id);
    assert_int_equal(post(&resp, url, body), 200);
    assert_non_null(strstr((const char *)resp.data, "\"stored\":[\"sealed_secret\"]"));
    assert_ok(bpt_kx_store_get(&got, s.store, "sealed_secret"));
    assert_int_equal(bpt_secret_len(got), 18);
    assert_memory_equal(bpt_secret_data(got), "rust-client-secret", 18);
    bpt_secret_free(got);
    free(body);

    /* A broken tag: 400 decrypt_failed, and the session is gone (one-time). */
    id = new_session(&s, &resp, pk);
    body = seal_v0(id, pk, "x", true);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/secrets", s.base, id);
    assert_int_equal(post(&resp, url, body), 400);
    assert_non_null(strstr((const char *)resp.data, "decrypt_failed"));
    assert_int_equal(post(&resp, url, body), 404);
    free(body);

    /* A payload for another session id than the URL's. */
    id = new_session(&s, &resp, pk);
    body = seal_v0("00000000000000000000000000000000", pk, "x", false);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/secrets", s.base, id);
    assert_int_equal(post(&resp, url, body), 400);
    assert_non_null(strstr((const char *)resp.data, "session_id differs"));
    free(body);
    stop(&s);
    bpt_buf_dispose(&resp);
}

static void test_v0_refused_by_default(void **state)
{
    struct server s;
    bpt_buf resp = BPT_BUF_INIT(1 << 16);
    uint8_t pk[32];
    char url[160];
    (void)state;
    start(&s, false);
    const char *id = new_session(&s, &resp, pk);
    char *body = seal_v0(id, pk, "x", false);
    snprintf(url, sizeof(url), "%s/v1/sessions/%s/secrets", s.base, id);
    assert_int_equal(post(&resp, url, body), 400);
    assert_non_null(strstr((const char *)resp.data, "bad_request"));
    assert_int_equal(bpt_kx_store_count(s.store), 0);
    free(body);
    stop(&s);
    bpt_buf_dispose(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v0_payload_opens_when_enabled),
        cmocka_unit_test(test_v0_refused_by_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
