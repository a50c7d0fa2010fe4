/* Shared timing loop for bench/ programs (DESIGN.md §9 line format). */
#ifndef BPT_BENCH_UTIL_H
#define BPT_BENCH_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

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

/**
 * Path of @p rel under ../shared/testdata ($BPT_TESTDATA, else the folder CMake was given) into
 * @p out. @return false when the file is not there (the case is then skipped, and says so).
 */
bool bench_data_path(char *out, size_t len, const char *rel);

/**
 * The whole file @p rel under ../shared/testdata (bench_data_path()), NUL-terminated (free it);
 * NULL when it is not there or cannot be read.
 */
uint8_t *bench_read_data(const char *rel, size_t *len);

/**
 * Print the BENCH line of @p name (the cached path on @p threads threads sharing one context,
 * @p many, beside the same on one thread, @p one) and a comment with both speed-ups: the
 * case's and raw OpenSSL @p curve's (@p raw_one, @p raw_many).
 */
void bench_report_threads(const char *name, const char *prefix, const char *curve, int threads,
                          double one, double many, double raw_one, double raw_many);

/** Print the BENCH lines of @p r for case @p prefix and curve @p curve ("p256", "p384"). */
struct bench_ecdsa_rates;
void bench_report_ecdsa_rates(const char *prefix, const char *curve,
                              const struct bench_ecdsa_rates *r);

/** Parse --threads N (default 2: the CI machine's cores) from argv. */
int bench_threads(int argc, char **argv);

/** Parse an integer flag @p name (e.g. "--chips") from argv; @p dflt when absent. */
long bench_flag_long(int argc, char **argv, const char *name, long dflt);

/**
 * Run @p op on @p threads threads at once for @p seconds, thread i with ctxs[i]; returns the
 * operations per second of all threads together (0 on a failure).
 */
double bench_rate_threads(bench_op op, void *const *ctxs, int threads, double seconds);

/** @p op on @p ctx on 1 thread (@p one), then on @p threads (at most 64) at once (@p many). */
void bench_rate_shared(double *one, double *many, bench_op op, void *ctx, int threads,
                       double seconds);

/**
 * Raw OpenSSL (EVP_DigestVerifyInit + EVP_DigestVerify) of one ECDSA signature on 1 thread and on
 * @p threads threads at once: the speed-up the machine itself allows.
 */
void bench_ecdsa_threads(double *one, double *many, EVP_PKEY *key, const uint8_t *r,
                         const uint8_t *sv, size_t n, const void *msg, size_t msg_len, int threads,
                         double seconds);

/** Print a BENCH line with what share of the baseline (a limit) the case reached. */
void bench_report_limit(const char *name, double ops, const char *limit, double limit_ops);

/* ---- limits: what the signatures alone cost on raw OpenSSL ---------------------------------- */

/**
 * The signatures a verification checks, each verified with raw OpenSSL on its own bytes and key
 * (X509_verify for a certificate, X509_CRL_verify for a CRL, EVP_DigestVerifyInit +
 * EVP_DigestVerify for a signature over bytes). bench_sigs_once() verifies them all: its rate is
 * the limit, what a verifier that did nothing but these verifications would reach.
 */
struct bench_sig;
struct bench_sigs {
    int n;
    struct bench_sig *sig[24];
    int kinds;
    char kind[8][32]; /* "RSA-4096-PSS", "P-384", ... */
    int count[8];
};

/** @p cert's signature by @p issuer's key. */
void bench_sigs_cert(struct bench_sigs *s, X509 *cert, X509 *issuer);
/** @p crl's signature by @p issuer's key. */
void bench_sigs_crl(struct bench_sigs *s, X509_CRL *crl, X509 *issuer);
/** An ECDSA signature (big-endian r and s of @p n bytes) over @p msg (kept, not copied). */
void bench_sigs_ecdsa(struct bench_sigs *s, EVP_PKEY *key, const uint8_t *r, const uint8_t *sv,
                      size_t n, const void *msg, size_t msg_len);
/** A bench_op: verify every signature once (struct bench_sigs * as ctx). */
bool bench_sigs_once(void *sigs);
/** "3 signatures: RSA-4096-PSS x2, P-384 x1" into @p buf. */
const char *bench_sigs_describe(const struct bench_sigs *s, char *buf, size_t len);
void bench_sigs_dispose(struct bench_sigs *s);

/**
 * Time two operations in turns (16 alternating slices), so that a machine shared with others
 * slows both alike and their ratio stays what this run can say.
 */
void bench_rate_pair(double *rate_a, bench_op a, void *ctx_a, double *rate_b, bench_op b,
                     void *ctx_b, double seconds);

/**
 * One ECDSA verification of the same signature the three ways the bench compares: raw OpenSSL
 * (EVP_DigestVerifyInit + EVP_DigestVerify), `openssl speed`'s way (EVP_PKEY_verify of a
 * digest with a context made once) and raw nettle (digest + ecdsa_verify, key point made once).
 */
struct bench_ecdsa_rates {
    double openssl, openssl_speed, nettle;
};
void bench_ecdsa_rates(struct bench_ecdsa_rates *out, EVP_PKEY *key, const uint8_t *r,
                       const uint8_t *sv, size_t n, const void *msg, size_t msg_len,
                       double seconds);

#endif
