/*
 * Key exchange throughput: sessions created per second (X25519 keygen + random id), and one
 * secret sealed and opened per second (two HPKE setups: two X25519 derives plus HKDF and
 * ChaCha20-Poly1305), each next to the raw OpenSSL X25519 derive rate measured in the same run.
 * Then the service at scale (issue 13): create and consume one session at 0, 10k, 100k and 1M
 * live sessions (us/op each; flat is the goal), next to the raw X25519 keygen rate, and the
 * resident memory each live session costs.
 *   bench_exchange [--seconds N] [--max-live N]   (--max-live 0 skips the scale cases)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <blueprint-tee/bpt.h>

#include "util.h"

struct derive_ctx {
    EVP_PKEY *a, *b;
};

static bool op_derive(void *p)
{
    struct derive_ctx *d = p;
    uint8_t out[32];
    size_t n = sizeof(out);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, d->a, NULL);
    bool ok = c != NULL && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, d->b) == 1 &&
              EVP_PKEY_derive(c, out, &n) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static bool op_session(void *p)
{
    (void)p;
    bpt_kx_session *s = NULL;
    if (bpt_kx_session_new(&s, 60, NULL) != 0) {
        return false;
    }
    bpt_kx_session_free(s);
    return true;
}

static bool op_seal_open(void *p)
{
    bpt_kx_session *s = p;
    static const uint8_t secret[32] = {1, 2, 3};
    uint8_t enc[32];
    bpt_buf ct;
    bpt_secret *pt = NULL;
    bpt_buf_init(&ct, 1024);
    bool ok = bpt_kx_seal(enc, &ct, bpt_kx_session_public_key(s), bpt_kx_session_id(s), "name",
                          secret, sizeof(secret)) == 0 &&
              bpt_kx_session_open(&pt, s, "name", enc, sizeof(enc), ct.data, ct.len) == 0;
    bpt_secret_free(pt);
    bpt_buf_dispose(&ct);
    return ok;
}

static bool op_keygen(void *p)
{
    (void)p;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY_free(k);
    return k != NULL;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes (/proc/self/statm). */
static double rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        resident = 0;
    }
    if (f != NULL) {
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* Create and consume at fixed numbers of live sessions, up to @p max_live. */
static int bench_scale(double secs, long max_live, double keygen)
{
    static const long levels[] = {0, 10000, 100000, 1000000};
    bpt_kx_service *svc = NULL;
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    o.ttl_secs = 86400; /* nothing expires during the run */
    o.max_sessions = BPT_KX_MAX_SESSIONS_LIMIT;
    o.max_sessions_per_client = 0;
    o.first_use_secs = 0;
    if (bpt_kx_service_new(&svc, &o) != 0) {
        fprintf(stderr, "bench_exchange: %s\n", bpt_error_last());
        return 1;
    }
    double rss0 = rss_bytes();
    long live = 0;
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]) && levels[l] <= max_live; l++) {
        bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
        /* at the service's limit the timed create makes the last session: fill one short */
        long fill = levels[l] < BPT_KX_MAX_SESSIONS_LIMIT ? levels[l] : levels[l] - 1;
        for (; live < fill; live++) { /* fill, untimed */
            if (bpt_kx_service_create(&info, NULL, svc, NULL, 0) != 0) {
                fprintf(stderr, "bench_exchange: fill: %s\n", bpt_error_last());
                bpt_kx_service_free(svc);
                return 1;
            }
        }
        if (live > 0) {
            char line[64];
            snprintf(line, sizeof(line), "kx_service_rss_live_%ld", levels[l]);
            printf("BENCH case=%s bytes_per_live_session=%.0f rss_mib=%.1f\n", line,
                   (rss_bytes() - rss0) / (double)live, rss_bytes() / 1048576.0);
        }
        /* one create then one consume, so the number of live sessions stays put */
        double t_create = 0, t_consume = 0, end = mono() + secs;
        unsigned long n = 0;
        while (mono() < end || n < 100) {
            double t0 = mono();
            int rc = bpt_kx_service_create(&info, NULL, svc, NULL, 0);
            double t1 = mono();
            bpt_kx_session *s = NULL;
            rc = rc == 0 ? bpt_kx_service_consume(&s, svc, info.id_hex) : rc;
            double t2 = mono();
            bpt_kx_session_free(s);
            if (rc != 0) {
                fprintf(stderr, "bench_exchange: %s\n", bpt_error_last());
                bpt_kx_service_free(svc);
                return 1;
            }
            t_create += t1 - t0;
            t_consume += t2 - t1;
            n++;
        }
        char name[64];
        snprintf(name, sizeof(name), "kx_service_create_live_%ld", levels[l]);
        bench_report(name, (double)n / t_create, "openssl_x25519_keygen", keygen);
        snprintf(name, sizeof(name), "kx_service_consume_live_%ld", levels[l]);
        bench_report(name, (double)n / t_consume, "openssl_x25519_keygen", keygen);
        fflush(stdout);
    }
    bpt_kx_service_free(svc);
    return 0;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    struct derive_ctx d;
    d.a = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    d.b = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (d.a == NULL || d.b == NULL) {
        fprintf(stderr, "bench_exchange: X25519 keygen failed\n");
        return 1;
    }
    bpt_kx_session *s = NULL;
    if (bpt_kx_session_new(&s, 3600, NULL) != 0) {
        fprintf(stderr, "bench_exchange: %s\n", bpt_error_last());
        return 1;
    }
    double base = bench_rate(op_derive, &d, secs);
    double sessions = bench_rate(op_session, NULL, secs);
    double seal_open = bench_rate(op_seal_open, s, secs);
    if (base <= 0 || sessions <= 0 || seal_open <= 0) {
        fprintf(stderr, "bench_exchange: an operation failed: %s\n", bpt_error_last());
        return 1;
    }
    bench_report("kx_session_new", sessions, "openssl_x25519_derive", base);
    bench_report("kx_seal_open", seal_open, "openssl_x25519_derive", base);
    fflush(stdout);
    bpt_kx_session_free(s);
    EVP_PKEY_free(d.a);
    EVP_PKEY_free(d.b);
    long max_live = 1000000;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--max-live") == 0) {
            max_live = strtol(argv[i + 1], NULL, 10);
        }
    }
    if (max_live <= 0) {
        return 0;
    }
    return bench_scale(secs, max_live, bench_rate(op_keygen, NULL, secs));
}
