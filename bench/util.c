#include "util.h"

#include <blueprint-tee/bpt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
