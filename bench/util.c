#include "util.h"

#include <blueprint-tee/bpt.h>

#include <curl/curl.h>
#include <gmp.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>

#define MAX_SAMPLES 400000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_seconds(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0) {
            double s = strtod(argv[i + 1], NULL);
            return s > 0 ? s : 2.0;
        }
    }
    return 2.0;
}

double bench_rate(bench_op op, void *ctx, double seconds)
{
    double start = now_s(), end = start + seconds, t;
    unsigned long n = 0, batch = 1;
    do {
        for (unsigned long i = 0; i < batch; i++) {
            if (!op(ctx)) {
                fprintf(stderr, "bench: operation failed\n");
                return 0;
            }
        }
        n += batch;
        t = now_s();
        if (t - start < seconds / 20) {
            batch *= 2;
        }
    } while (t < end);
    return (double)n / (t - start);
}

void bench_report(const char *name, double ops, const char *baseline, double baseline_ops)
{
    printf("BENCH case=%s ops_per_s=%.0f us_per_op=%.2f baseline=%s baseline_ops_per_s=%.0f\n",
           name, ops, ops > 0 ? 1e6 / ops : 0.0, baseline, baseline_ops);
    fflush(stdout);
}

struct bpt_verify_ctx_opts bench_no_caches(void)
{
    bpt_verify_ctx_opts o = BPT_VERIFY_CTX_OPTS_INIT;
    o.chain_cache_entries = 0;
    o.collateral_cache_entries = 0;
    o.jwks_cache = false;
    return o;
}

/* ---- HTTP load ------------------------------------------------------------------------------ */

struct client {
    bench_http_req req;
    void *ctx;
    double seconds;
    double *lat_us;
    size_t n;
    bool failed;
};

static void *client_main(void *p)
{
    struct client *c = p;
    CURL *h = curl_easy_init();
    double end = now_s() + c->seconds;
    while (h && now_s() < end && c->n < MAX_SAMPLES) {
        double t0 = now_s();
        bench_http_step st = c->req(h, c->ctx);
        if (st == BENCH_HTTP_DONE) {
            break;
        }
        if (st == BENCH_HTTP_FAILED) {
            c->failed = true;
            break;
        }
        c->lat_us[c->n++] = (now_s() - t0) * 1e6;
    }
    c->failed |= h == NULL;
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_http_load(struct bench_http_result *out, bench_http_req req, void *ctx, int threads,
                    double seconds)
{
    struct client cl[8];
    pthread_t th[8];
    double start = now_s(), elapsed, *all;
    size_t total = 0, k = 0;
    bool failed = false;
    memset(out, 0, sizeof(*out));
    threads = threads < 1 ? 1 : threads > 8 ? 8 : threads;
    for (int i = 0; i < threads; i++) {
        cl[i] = (struct client){req, ctx, seconds, calloc(MAX_SAMPLES, sizeof(double)), 0, false};
        if (!cl[i].lat_us || pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
            fprintf(stderr, "bench: cannot start client %d\n", i);
            return -1;
        }
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += cl[i].n;
        failed |= cl[i].failed;
    }
    elapsed = now_s() - start;
    all = calloc(total ? total : 1, sizeof(double));
    for (int i = 0; i < threads; i++) {
        if (all) {
            memcpy(all + k, cl[i].lat_us, cl[i].n * sizeof(double));
        }
        k += cl[i].n;
        free(cl[i].lat_us);
    }
    if (failed || !all) {
        fprintf(stderr, "bench: a request failed\n");
        free(all);
        return -1;
    }
    qsort(all, total, sizeof(double), cmp_double);
    out->requests = total;
    out->ops_per_s = (double)total / elapsed;
    out->p50_us = total ? all[total / 2] : 0.0;
    out->p99_us = total ? all[(size_t)((double)total * 0.99)] : 0.0;
    free(all);
    return 0;
}

void bench_report_http(const char *name, const struct bench_http_result *r, const char *baseline,
                       double baseline_ops)
{
    printf("BENCH case=%s ops_per_s=%.0f us_per_op=%.2f baseline=%s baseline_ops_per_s=%.0f "
           "p50_us=%.0f p99_us=%.0f requests=%zu\n",
           name, r->ops_per_s, r->ops_per_s > 0 ? 1e6 / r->ops_per_s : 0.0, baseline, baseline_ops,
           r->p50_us, r->p99_us, r->requests);
    fflush(stdout);
}

/* ---- threads, flags, limits ----------------------------------------------------------------- */

int bench_threads(int argc, char **argv)
{
    long n = bench_flag_long(argc, argv, "--threads", 2);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

long bench_flag_long(int argc, char **argv, const char *name, long dflt)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return strtol(argv[i + 1], NULL, 10);
        }
    }
    return dflt;
}

uint8_t *bench_read_data(const char *rel, size_t *len)
{
    char path[4096];
    FILE *f;
    uint8_t *buf = NULL;
    long n;
    if (!bench_data_path(path, sizeof(path), rel) || !(f = fopen(path, "rb"))) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

void bench_report_threads(const char *name, const char *prefix, const char *curve, int threads,
                          double one, double many, double raw_one, double raw_many)
{
    bench_report_limit(name, many, "same_on_1_thread", one);
    printf("# %s: %d threads sharing one context: %.2fx the rate of 1 thread (raw OpenSSL %s "
           "on %d threads: %.2fx)\n",
           prefix, threads, one > 0 ? many / one : 0.0, curve, threads,
           raw_one > 0 ? raw_many / raw_one : 0.0);
}

void bench_report_ecdsa_rates(const char *prefix, const char *curve,
                              const struct bench_ecdsa_rates *r)
{
    char name[128], base[64];
    snprintf(base, sizeof(base), "openssl_ecdsa_%s_verify", curve);
    snprintf(name, sizeof(name), "%s_openssl_ecdsa_%s_verify", prefix, curve);
    bench_report(name, r->openssl, base, r->openssl);
    snprintf(name, sizeof(name), "%s_openssl_speed_ecdsa_%s_verify", prefix, curve);
    bench_report(name, r->openssl_speed, base, r->openssl);
    snprintf(name, sizeof(name), "%s_nettle_ecdsa_%s_verify", prefix, curve);
    bench_report(name, r->nettle, base, r->openssl);
}

bool bench_data_path(char *out, size_t len, const char *rel)
{
    const char *dir = getenv("BPT_TESTDATA");
    FILE *f;
    if (!dir || !*dir) {
        dir = BENCH_TESTDATA;
    }
    snprintf(out, len, "%s/%s", dir, rel);
    if (!(f = fopen(out, "rb"))) {
        return false;
    }
    fclose(f);
    return true;
}

struct runner {
    bench_op op;
    void *ctx;
    double seconds;
    pthread_barrier_t *start;
    unsigned long n;
    bool failed;
};

static void *run_thread(void *p)
{
    struct runner *r = p;
    double end;
    pthread_barrier_wait(r->start);
    end = now_s() + r->seconds;
    while (now_s() < end) {
        for (int i = 0; i < 4; i++) {
            if (!r->op(r->ctx)) {
                r->failed = true;
                return NULL;
            }
        }
        r->n += 4;
    }
    return NULL;
}

double bench_rate_threads(bench_op op, void *const *ctxs, int threads, double seconds)
{
    struct runner r[64];
    pthread_t th[64];
    pthread_barrier_t start;
    unsigned long total = 0;
    bool failed = false;
    double t0, elapsed;

    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        r[i] = (struct runner){op, ctxs[i], seconds, &start, 0, false};
        if (pthread_create(&th[i], NULL, run_thread, &r[i]) != 0) {
            fprintf(stderr, "bench: cannot start thread %d\n", i);
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += r[i].n;
        failed |= r[i].failed;
    }
    elapsed = now_s() - t0;
    pthread_barrier_destroy(&start);
    if (failed) {
        fprintf(stderr, "bench: operation failed on a thread\n");
        return 0;
    }
    return (double)total / elapsed;
}

void bench_report_limit(const char *name, double ops, const char *limit, double limit_ops)
{
    printf("BENCH case=%s ops_per_s=%.0f us_per_op=%.2f baseline=%s baseline_ops_per_s=%.0f "
           "pct_of_baseline=%.0f\n",
           name, ops, ops > 0 ? 1e6 / ops : 0.0, limit, limit_ops,
           limit_ops > 0 ? 100.0 * ops / limit_ops : 0.0);
    fflush(stdout);
}

void bench_rate_pair(double *rate_a, bench_op a, void *ctx_a, double *rate_b, bench_op b,
                     void *ctx_b, double seconds)
{
    double ta = 0, tb = 0, slice = seconds / 16;
    unsigned long na = 0, nb = 0;
    *rate_a = *rate_b = 0;
    for (int round = 0; round < 8; round++) {
        for (int which = 0; which < 2; which++) {
            bench_op op = which ? b : a;
            void *ctx = which ? ctx_b : ctx_a;
            double t0 = now_s(), t;
            unsigned long n = 0;
            do {
                if (!op(ctx)) {
                    fprintf(stderr, "bench: operation failed\n");
                    return;
                }
                n++;
                t = now_s();
            } while (t - t0 < slice);
            if (which) {
                tb += t - t0;
                nb += n;
            } else {
                ta += t - t0;
                na += n;
            }
        }
    }
    *rate_a = (double)na / ta;
    *rate_b = (double)nb / tb;
}

/* ---- signatures ----------------------------------------------------------------------------- */

struct ecdsa_sig {
    EVP_PKEY *key;
    const EVP_MD *md;
    uint8_t der[160];
    size_t der_len;
    const void *msg;
    size_t msg_len;
    EVP_PKEY_CTX *pctx;
    uint8_t digest[64];
    unsigned digest_len;
    /* nettle */
    struct ecc_point pub;
    int bits;
    const uint8_t *r, *s;
    size_t n;
};

struct bench_sig {
    X509 *cert;
    X509_CRL *crl;
    EVP_PKEY *key;
    struct ecdsa_sig *ecdsa;
};

static bool ecdsa_der(struct ecdsa_sig *e, EVP_PKEY *key, const uint8_t *r, const uint8_t *s,
                      size_t n, const void *msg, size_t msg_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    unsigned char *p = e->der;
    int len;
    memset(e, 0, sizeof(*e));
    e->key = key;
    e->bits = EVP_PKEY_get_bits(key);
    e->md = e->bits == 384 ? EVP_sha384() : EVP_sha256();
    e->msg = msg;
    e->msg_len = msg_len;
    e->r = r;
    e->s = s;
    e->n = n;
    if (!sig || ECDSA_SIG_set0(sig, BN_bin2bn(r, (int)n, NULL), BN_bin2bn(s, (int)n, NULL)) != 1 ||
        (len = i2d_ECDSA_SIG(sig, NULL)) <= 0 || (size_t)len > sizeof(e->der) ||
        i2d_ECDSA_SIG(sig, &p) != len) {
        ECDSA_SIG_free(sig);
        return false;
    }
    e->der_len = (size_t)len;
    ECDSA_SIG_free(sig);
    return EVP_Digest(msg, msg_len, e->digest, &e->digest_len, e->md, NULL) == 1;
}

/* What a relying party calling OpenSSL itself does for one signature. */
static bool ecdsa_raw_once(void *p)
{
    struct ecdsa_sig *e = p;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, e->md, NULL, e->key) == 1 &&
              EVP_DigestVerify(md, e->der, e->der_len, e->msg, e->msg_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* `openssl speed`: a digest, a context made once. */
static bool ecdsa_speed_once(void *p)
{
    struct ecdsa_sig *e = p;
    return EVP_PKEY_verify(e->pctx, e->der, e->der_len, e->digest, e->digest_len) == 1;
}

/* nettle with the key's point made once: the digest and ecdsa_verify. */
static bool ecdsa_nettle_once(void *p)
{
    struct ecdsa_sig *e = p;
    struct dsa_signature sig;
    uint8_t digest[64];
    unsigned len = 0;
    int ok;
    dsa_signature_init(&sig);
    mpz_import(sig.r, e->n, 1, 1, 1, 0, e->r);
    mpz_import(sig.s, e->n, 1, 1, 1, 0, e->s);
    ok = EVP_Digest(e->msg, e->msg_len, digest, &len, e->md, NULL) == 1 &&
         ecdsa_verify(&e->pub, len, digest, &sig);
    dsa_signature_clear(&sig);
    return ok;
}

/* "RSA-4096-PSS", "P-384": the issuer key and, for RSA, the signature scheme. */
static void key_kind(char *buf, size_t len, EVP_PKEY *key, int sig_nid)
{
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        snprintf(buf, len, "P-%d", EVP_PKEY_get_bits(key));
    } else {
        snprintf(buf, len, "RSA-%d%s", EVP_PKEY_get_bits(key),
                 sig_nid == NID_rsassaPss ? "-PSS" : "");
    }
}

static void sigs_add(struct bench_sigs *s, struct bench_sig *g, int sig_nid)
{
    char kind[32];
    int i;
    if (!g || !g->key || s->n == 24) {
        fprintf(stderr, "bench: cannot add a signature to a limit\n");
        exit(1);
    }
    s->sig[s->n++] = g;
    key_kind(kind, sizeof(kind), g->key, sig_nid);
    for (i = 0; i < s->kinds && strcmp(s->kind[i], kind) != 0; i++) {
    }
    if (i == s->kinds && i < 8) {
        snprintf(s->kind[i], sizeof(s->kind[i]), "%s", kind);
        s->kinds++;
    }
    if (i < 8) {
        s->count[i]++;
    }
}

void bench_sigs_cert(struct bench_sigs *s, X509 *cert, X509 *issuer)
{
    struct bench_sig *g = calloc(1, sizeof(*g));
    if (g) {
        g->cert = cert;
        g->key = X509_get0_pubkey(issuer);
    }
    sigs_add(s, g, X509_get_signature_nid(cert));
}

void bench_sigs_crl(struct bench_sigs *s, X509_CRL *crl, X509 *issuer)
{
    struct bench_sig *g = calloc(1, sizeof(*g));
    if (g) {
        g->crl = crl;
        g->key = X509_get0_pubkey(issuer);
    }
    sigs_add(s, g, X509_CRL_get_signature_nid(crl));
}

void bench_sigs_ecdsa(struct bench_sigs *s, EVP_PKEY *key, const uint8_t *r, const uint8_t *sv,
                      size_t n, const void *msg, size_t msg_len)
{
    struct bench_sig *g = calloc(1, sizeof(*g));
    if (!g || !(g->ecdsa = calloc(1, sizeof(*g->ecdsa))) ||
        !ecdsa_der(g->ecdsa, key, r, sv, n, msg, msg_len)) {
        fprintf(stderr, "bench: ECDSA signature setup\n");
        exit(1);
    }
    g->key = key;
    sigs_add(s, g, 0);
}

bool bench_sigs_once(void *p)
{
    struct bench_sigs *s = p;
    for (int i = 0; i < s->n; i++) {
        struct bench_sig *g = s->sig[i];
        bool ok = g->cert  ? X509_verify(g->cert, g->key) == 1
                  : g->crl ? X509_CRL_verify(g->crl, g->key) == 1
                           : ecdsa_raw_once(g->ecdsa);
        if (!ok) {
            fprintf(stderr, "bench: signature %d of a limit does not verify\n", i);
            return false;
        }
    }
    return true;
}

void bench_sigs_dispose(struct bench_sigs *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->sig[i]->ecdsa);
        free(s->sig[i]);
    }
    memset(s, 0, sizeof(*s));
}

const char *bench_sigs_describe(const struct bench_sigs *s, char *buf, size_t len)
{
    size_t used;
    int n = snprintf(buf, len, "%d signature%s:", s->n, s->n == 1 ? "" : "s");
    used = n > 0 && (size_t)n < len ? (size_t)n : 0;
    for (int i = 0; i < s->kinds && used < len; i++) {
        n = snprintf(buf + used, len - used, "%s %s x%d", i ? "," : "", s->kind[i], s->count[i]);
        used += n > 0 && (size_t)n < len - used ? (size_t)n : 0;
    }
    return buf;
}

void bench_ecdsa_rates(struct bench_ecdsa_rates *out, EVP_PKEY *key, const uint8_t *r,
                       const uint8_t *sv, size_t n, const void *msg, size_t msg_len, double seconds)
{
    struct ecdsa_sig e;
    uint8_t pt[1 + 2 * 66];
    size_t pt_len = 0;
    mpz_t x, y;

    memset(out, 0, sizeof(*out));
    if (!ecdsa_der(&e, key, r, sv, n, msg, msg_len) ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &pt_len) !=
            1 ||
        pt_len != 1 + 2 * n || !(e.pctx = EVP_PKEY_CTX_new(key, NULL)) ||
        EVP_PKEY_verify_init(e.pctx) != 1) {
        fprintf(stderr, "bench: ECDSA rates setup\n");
        exit(1);
    }
    ecc_point_init(&e.pub, e.bits == 384 ? nettle_get_secp_384r1() : nettle_get_secp_256r1());
    mpz_init(x);
    mpz_init(y);
    mpz_import(x, n, 1, 1, 1, 0, pt + 1);
    mpz_import(y, n, 1, 1, 1, 0, pt + 1 + n);
    if (!ecc_point_set(&e.pub, x, y)) {
        fprintf(stderr, "bench: nettle refuses the key\n");
        exit(1);
    }
    /* in turns, so that the machine's other load falls on all three alike */
    for (int round = 0; round < 4; round++) {
        out->openssl += bench_rate(ecdsa_raw_once, &e, seconds / 12) / 4;
        out->openssl_speed += bench_rate(ecdsa_speed_once, &e, seconds / 12) / 4;
        out->nettle += bench_rate(ecdsa_nettle_once, &e, seconds / 12) / 4;
    }
    mpz_clear(x);
    mpz_clear(y);
    ecc_point_clear(&e.pub);
    EVP_PKEY_CTX_free(e.pctx);
}

void bench_ecdsa_threads(double *one, double *many, EVP_PKEY *key, const uint8_t *r,
                         const uint8_t *sv, size_t n, const void *msg, size_t msg_len, int threads,
                         double seconds)
{
    struct ecdsa_sig e;
    if (!ecdsa_der(&e, key, r, sv, n, msg, msg_len)) {
        fprintf(stderr, "bench: ECDSA signature setup\n");
        exit(1);
    }
    bench_rate_shared(one, many, ecdsa_raw_once, &e, threads, seconds);
}

void bench_rate_shared(double *one, double *many, bench_op op, void *ctx, int threads,
                       double seconds)
{
    void *ctxs[64];
    for (int i = 0; i < 64; i++) {
        ctxs[i] = ctx;
    }
    *one = bench_rate_threads(op, ctxs, 1, seconds);
    *many = bench_rate_threads(op, ctxs, threads, seconds);
}
