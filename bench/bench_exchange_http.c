/*
 * Key exchange over real HTTP on loopback: requests per second with p50/p99 latency for
 * POST /v1/sessions (each binds a fresh X25519 key into fresh simulated SEV-SNP evidence) and
 * POST /v1/sessions/{id}/secrets (HPKE open of one sealed secret), from two client threads with
 * keep-alive libcurl handles, beside OpenSSL's raw ECDSA P-384 sign rate (the evidence cost per
 * session) measured in the same run; for both binding modes (per-session evidence, and one
 * attested Ed25519 service key signing each session).
 *   bench_exchange_http [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "core/codec.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS 2
#define MAX_SAMPLES 200000

struct session_ref {
    char id[33];
    uint8_t id_raw[16];
    uint8_t pk[32];
};

struct shared {
    char url[64];
    double seconds;
    pthread_mutex_t lock;
    struct session_ref *sessions;
    size_t n_sessions, cap, next;
};

struct worker {
    struct shared *sh;
    int phase; /* 0 create, 1 submit */
    double *lat_us;
    size_t n;
    bool failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    bpt_buf *b = ud;
    return bpt_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

static bool post(CURL *c, const char *url, const char *body, bpt_buf *resp, long *status)
{
    bpt_buf_reset(resp);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    if (cc != CURLE_OK) {
        return false;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return true;
}

static bool create_one(CURL *c, struct shared *sh, bpt_buf *resp)
{
    char url[128];
    long status = 0;
    json_t *o;
    const char *id, *pk;
    struct session_ref s;
    snprintf(url, sizeof(url), "%s/v1/sessions", sh->url);
    if (!post(c, url, "{}", resp, &status) || status != 201) {
        return false;
    }
    o = json_loadb((const char *)resp->data, resp->len, 0, NULL);
    id = json_string_value(json_object_get(o, "session_id"));
    pk = json_string_value(json_object_get(o, "public_key"));
    if (!id || !pk || strlen(id) != 32 || bpt_hex_decode_exact(s.pk, 32, pk, strlen(pk), "pk") ||
        bpt_hex_decode_exact(s.id_raw, 16, id, 32, "id")) {
        json_decref(o);
        return false;
    }
    memcpy(s.id, id, 33);
    json_decref(o);
    pthread_mutex_lock(&sh->lock);
    if (sh->n_sessions < sh->cap) {
        sh->sessions[sh->n_sessions++] = s;
    }
    pthread_mutex_unlock(&sh->lock);
    return true;
}

static bool submit_one(CURL *c, struct shared *sh, bpt_buf *resp, bool *exhausted)
{
    struct session_ref s;
    static const uint8_t secret[32] = {7};
    uint8_t enc[32];
    bpt_buf ct = BPT_BUF_INIT(1024);
    char *enc64 = NULL, *ct64 = NULL, url[160], body[1024];
    long status = 0;
    bool ok = false;

    pthread_mutex_lock(&sh->lock);
    *exhausted = sh->next >= sh->n_sessions;
    if (!*exhausted) {
        s = sh->sessions[sh->next++];
    }
    pthread_mutex_unlock(&sh->lock);
    if (*exhausted) {
        return true;
    }
    if (bpt_kx_seal(enc, &ct, s.pk, s.id_raw, "bench", secret, sizeof(secret)) == 0 &&
        bpt_base64_encode(&enc64, enc, 32) == 0 && bpt_base64_encode(&ct64, ct.data, ct.len) == 0) {
        snprintf(url, sizeof(url), "%s/v1/sessions/%s/secrets", sh->url, s.id);
        snprintf(body, sizeof(body),
                 "{\"secrets\":[{\"name\":\"bench\",\"enc\":\"%s\",\"ciphertext\":\"%s\"}]}", enc64,
                 ct64);
        ok = post(c, url, body, resp, &status) && status == 200;
    }
    free(enc64);
    free(ct64);
    bpt_buf_dispose(&ct);
    return ok;
}

static void *run(void *p)
{
    struct worker *w = p;
    CURL *c = curl_easy_init();
    bpt_buf resp = BPT_BUF_INIT(256 * 1024);
    double end = now_s() + w->sh->seconds;
    while (c && now_s() < end && w->n < MAX_SAMPLES) {
        double t0 = now_s();
        bool exhausted = false;
        bool ok =
            w->phase == 0 ? create_one(c, w->sh, &resp) : submit_one(c, w->sh, &resp, &exhausted);
        if (exhausted) {
            break;
        }
        if (!ok) {
            w->failed = true;
            break;
        }
        w->lat_us[w->n++] = (now_s() - t0) * 1e6;
    }
    bpt_buf_dispose(&resp);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int phase(struct shared *sh, int which, const char *name, double baseline)
{
    struct worker w[THREADS];
    pthread_t th[THREADS];
    double start = now_s(), elapsed, *all;
    size_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){sh, which, calloc(MAX_SAMPLES, sizeof(double)), 0, false};
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
    }
    elapsed = now_s() - start;
    all = calloc(total ? total : 1, sizeof(double));
    for (int i = 0, k = 0; i < THREADS; i++) {
        memcpy(all + k, w[i].lat_us, w[i].n * sizeof(double));
        k += (int)w[i].n;
        if (w[i].failed) {
            fprintf(stderr, "bench: a %s request failed\n", name);
            return 1;
        }
        free(w[i].lat_us);
    }
    qsort(all, total, sizeof(double), cmp_double);
    printf("BENCH case=%s ops_per_s=%.0f us_per_op=%.2f baseline=openssl_ecdsa_p384_sign "
           "baseline_ops_per_s=%.0f p50_us=%.0f p99_us=%.0f requests=%zu\n",
           name, (double)total / elapsed, total ? elapsed * 1e6 / (double)total : 0.0, baseline,
           total ? all[total / 2] : 0.0, total ? all[(size_t)((double)total * 0.99)] : 0.0, total);
    free(all);
    return 0;
}

struct attest_ctx {
    bpt_attester_opts ao;
};

static int attest(bpt_report **out, const uint8_t rd[64], void *ud)
{
    struct attest_ctx *a = ud;
    return bpt_attest(out, rd, &a->ao);
}

static bool sign_once(void *p)
{
    EVP_PKEY *k = p;
    uint8_t msg[672] = {1}, sig[160];
    size_t n = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, k) == 1 &&
              EVP_DigestSign(md, sig, &n, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int run_mode(const char *dir, bpt_kx_binding binding, double seconds, double baseline)
{
    struct attest_ctx ac = {BPT_ATTESTER_OPTS_INIT};
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_server_options ho = BPT_KX_SERVER_OPTIONS_INIT;
    bpt_kx_service *svc = NULL;
    bpt_kx_store *store = NULL;
    bpt_kx_server *srv = NULL;
    struct shared sh = {.seconds = seconds, .cap = 100000};
    bool sk = binding == BPT_KX_BINDING_SERVICE_KEY;
    int rc = 1;

    pthread_mutex_init(&sh.lock, NULL);
    sh.sessions = calloc(sh.cap, sizeof(*sh.sessions));
    ac.ao.simulate = BPT_PROVIDER_AMD_SEV_SNP;
    ac.ao.sim_dir = dir;
    so.attest = attest;
    so.attest_userdata = &ac;
    so.max_sessions = 65536;
    so.max_sessions_per_client = 0; /* every request comes from 127.0.0.1 */
    so.binding = binding;
    ho.rate_limit_burst = 0; /* measure the service, not the limiter */
    ho.threads = 2;
    if (!sh.sessions || bpt_kx_store_new(&store) != 0 || bpt_kx_service_new(&svc, &so) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        goto out;
    }
    ho.store = store;
    if (bpt_kx_server_start(&srv, svc, &ho) != 0) {
        fprintf(stderr, "server: %s\n", bpt_error_last());
        goto out;
    }
    snprintf(sh.url, sizeof(sh.url), "http://127.0.0.1:%u", bpt_kx_server_port(srv));
    if (phase(&sh, 0, sk ? "kx_http_create_session_service_key" : "kx_http_create_session",
              baseline) == 0 &&
        phase(&sh, 1, sk ? "kx_http_submit_secret_service_key" : "kx_http_submit_secret",
              baseline) == 0) {
        rc = 0;
    }
out:
    bpt_kx_server_stop(srv);
    bpt_kx_service_free(svc);
    bpt_kx_store_free(store);
    free(sh.sessions);
    pthread_mutex_destroy(&sh.lock);
    return rc;
}

int main(int argc, char **argv)
{
    struct bpt_sim_fixture fx;
    double secs = bench_seconds(argc, argv) / 4, baseline;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!k || bpt_sim_fixture_init(&fx) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    baseline = bench_rate(sign_once, k, secs / 2);
    rc = run_mode(fx.dir, BPT_KX_BINDING_SESSION, secs, baseline);
    if (rc == 0) {
        rc = run_mode(fx.dir, BPT_KX_BINDING_SERVICE_KEY, secs, baseline);
    }
    EVP_PKEY_free(k);
    bpt_sim_fixture_dispose(&fx);
    curl_global_cleanup();
    return rc;
}
