/* Shared timing loop for bench/ programs (DESIGN.md §9 line format). */
#ifndef BPT_BENCH_UTIL_H
#define BPT_BENCH_UTIL_H
#include <stdbool.h>

/** One operation; returns false on failure (the bench then aborts with a message). */
typedef bool (*bench_op)(void *ctx);

/** Parse --seconds N (default 2) from argv. */
double bench_seconds(int argc, char **argv);

/** Run @p op repeatedly for @p seconds; returns operations per second (0 on failure). */
double bench_rate(bench_op op, void *ctx, double seconds);

/** Print the BENCH line for a case and its baseline. */
void bench_report(const char *name, double ops, const char *baseline, double baseline_ops);

/** A fresh /tmp directory with the simulated TEEs (bpt_sim_init); exits on failure. */
char *bench_sim_dir(char tmpl[24]);

/**
 * A policy trusting @p dir/trust-roots.pem (the simulators' roots), verifying at @p at;
 * exits on failure. Free with bpt_policy_free().
 */
struct bpt_policy *bench_sim_policy(const char *dir, long long at);

/** Remove a directory tree the bench made. */
void bench_remove_tree(const char *dir);

#endif
