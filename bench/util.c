#include "util.h"

#include <blueprint-tee/bpt.h>

#include <ftw.h>
#include <sys/stat.h>

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

char *bench_sim_dir(char tmpl[24])
{
    char *dir;
    snprintf(tmpl, 24, "/tmp/bpt-bench-XXXXXX");
    dir = mkdtemp(tmpl);
    if (!dir || bpt_sim_init(dir) != 0) {
        fprintf(stderr, "bench: simulator: %s\n", bpt_error_last());
        exit(1);
    }
    return dir;
}

struct bpt_policy *bench_sim_policy(const char *dir, long long at)
{
    char path[4096], roots[16384];
    bpt_policy *p = NULL;
    FILE *f;
    size_t n;
    snprintf(path, sizeof(path), "%s/trust-roots.pem", dir);
    f = fopen(path, "r");
    n = f ? fread(roots, 1, sizeof(roots), f) : 0;
    if (f) {
        fclose(f);
    }
    if (n == 0 || bpt_policy_new(&p) != 0 || bpt_policy_add_trust_root_pem(p, roots, n) != 0) {
        fprintf(stderr, "bench: policy: %s\n", bpt_error_last());
        exit(1);
    }
    bpt_policy_set_at(p, (int64_t)at);
    return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void bench_remove_tree(const char *dir)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}
