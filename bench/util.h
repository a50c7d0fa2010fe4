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

/** Options for a context without in-memory caches (every verification takes the whole path). */
struct bpt_verify_ctx_opts bench_no_caches(void);

#endif
