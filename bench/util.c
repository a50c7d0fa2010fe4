#include "util.h"

#include <blueprint-tee/bpt.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
