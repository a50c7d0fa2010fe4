/* Shared timing loop for bench/ programs (DESIGN.md §9 line format). */
#ifndef BPT_BENCH_UTIL_H
#define BPT_BENCH_UTIL_H
#include <stdbool.h>

#include "helpers/sim_fixture.h"

/** One operation; returns false on failure (the bench then aborts with a message). */
typedef bool (*bench_op)(void *ctx);

/** Parse --seconds N (default 2) from argv. */
double bench_seconds(int argc, char **argv);

/** Run @p op repeatedly for @p seconds; returns operations per second (0 on failure). */
double bench_rate(bench_op op, void *ctx, double seconds);

/** Print the BENCH line for a case and its baseline. */
void bench_report(const char *name, double ops, const char *baseline, double baseline_ops);

/** What one HTTP request of a load run did. */
typedef enum bench_http_step { BENCH_HTTP_OK, BENCH_HTTP_FAILED, BENCH_HTTP_DONE } bench_http_step;

/** One request on @p curl (a keep-alive libcurl easy handle of this client thread). */
typedef bench_http_step (*bench_http_req)(void *curl, void *ctx);

/** A load run: requests per second and latency percentiles (microseconds). */
struct bench_http_result {
    double ops_per_s, p50_us, p99_us;
    size_t requests;
};

/**
 * @p threads client threads call @p req with their own keep-alive handle until @p seconds pass
 * or one returns BENCH_HTTP_DONE. @return 0; -1 when a request failed (after saying so).
 */
int bench_http_load(struct bench_http_result *out, bench_http_req req, void *ctx, int threads,
                    double seconds);

/** Print a BENCH line of a load run with its latencies beside a baseline. */
void bench_report_http(const char *name, const struct bench_http_result *r, const char *baseline,
                       double baseline_ops);

/** Options for a context without in-memory caches (every verification takes the whole path). */
struct bpt_verify_ctx_opts bench_no_caches(void);

#endif
