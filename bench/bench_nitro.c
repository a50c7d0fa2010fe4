/*
 * AWS Nitro document verification rate, on the simulator's document and on the public evervault
 * document of ../shared/testdata (a debug-mode enclave: verified with allow_debug), each beside
 * its limit:
 *   (a) every signature of the chain checked on each call: each cabundle certificate after the
 *       root by its issuer, the document's certificate, and the COSE signature (ECDSA P-384);
 *   (b) the document's own COSE signature only (the chain cached): raw OpenSSL ECDSA P-384.
 * Each limit is timed with raw OpenSSL on the same bytes and keys in the same run, in turns with
 * the case. Beside them: the two ECDSA backends' raw P-384 rates and the cached path on N threads
 * sharing one context.
 * Usage: bench_nitro [--seconds N] [--threads N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attestation/providers/aws_nitro_internal.h"
#include "attester/sim/aws_nitro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REAL_AT 1695049470 /* the manifest's verify_at for evervault-ga */

struct ctx {
    const uint8_t *doc;
    size_t len;
    bpt_verify_ctx *vctx;
    const bpt_policy *policy;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_aws_nitro_verify(&v, c->vctx, c->policy, c->doc, c->len);
    bpt_verified_free(v);
    if (rc != 0) {
        fprintf(stderr, "verify: %s\n", bpt_error_last());
    }
    return rc == 0;
}

static void die(const char *what)
{
    fprintf(stderr, "setup: %s: %s\n", what, bpt_error_last());
    exit(1);
}

static X509 *der_cert(const uint8_t *p, size_t len)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (!x) {
        die("a certificate of the document");
    }
    return x;
}

static void run(const char *prefix, const uint8_t *doc, size_t len, bpt_verify_ctx *bare_ctx,
                bpt_verify_ctx *cache_ctx, const bpt_policy *policy, double secs, int threads)
{
    struct ctx c = {doc, len, bare_ctx, policy}, cc = {doc, len, cache_ctx, policy};
    struct bpt_nitro_doc d;
    struct bench_sigs all = {0}, own = {0};
    struct bench_ecdsa_rates raw;
    X509 *certs[BPT_NITRO_MAX_CABUNDLE + 1];
    uint8_t *tbs = NULL;
    size_t tbs_len = 0, n;
    char name[128], desc[160];
    double full, cached, lim_a, lim_b, one, many, raw_one, raw_many;
    uint64_t hits = 0, misses = 0;

    memset(&d, 0, sizeof(d));
    if (!verify_once(&c) || !verify_once(&cc) || bpt_nitro_parse(&d, doc, len) != 0 ||
        bpt_nitro_sig_structure(&tbs, &tbs_len, &d) != 0) {
        die("the document");
    }
    /* cabundle[0] is the root (its own signature is not checked), then each by the previous */
    n = d.n_cabundle;
    for (size_t i = 0; i < n; i++) {
        certs[i] = der_cert(d.cabundle[i], d.cabundle_len[i]);
    }
    certs[n] = der_cert(d.certificate, d.certificate_len);
    for (size_t i = 1; i <= n; i++) {
        bench_sigs_cert(&all, certs[i], certs[i - 1]);
    }
    bench_sigs_ecdsa(&all, X509_get0_pubkey(certs[n]), d.signature, d.signature + 48, 48, tbs,
                     tbs_len);
    bench_sigs_ecdsa(&own, X509_get0_pubkey(certs[n]), d.signature, d.signature + 48, 48, tbs,
                     tbs_len);
    bench_rate_pair(&full, verify_once, &c, &lim_a, bench_sigs_once, &all, 2 * secs);
    bench_rate_pair(&cached, verify_once, &cc, &lim_b, bench_sigs_once, &own, 2 * secs);
    bench_ecdsa_rates(&raw, X509_get0_pubkey(certs[n]), d.signature, d.signature + 48, 48, tbs,
                      tbs_len, secs);
    bpt_verify_ctx_cache_stats(cache_ctx, BPT_CACHE_CHAIN, &hits, &misses);

    snprintf(name, sizeof(name), "%s_verify_chain_every_time", prefix);
    bench_report_limit(name, full, "limit_a_every_signature", lim_a);
    snprintf(name, sizeof(name), "%s_verify_cached_chain", prefix);
    bench_report_limit(name, cached, "limit_b_openssl_ecdsa_p384_verify", lim_b);
    printf("# %s: limit (a) %s; limit (b) the COSE signature (P-384)\n", prefix,
           bench_sigs_describe(&all, desc, sizeof(desc)));
    bench_report_ecdsa_rates(prefix, "p384", &raw);
    printf("# %s: full = %.0f%% of (a); cached = %.2fx OpenSSL's P-384 rate; raw nettle = %.2fx "
           "raw OpenSSL; chain cache hits %llu of %llu\n",
           prefix, lim_a > 0 ? 100.0 * full / lim_a : 0.0, lim_b > 0 ? cached / lim_b : 0.0,
           raw.openssl > 0 ? raw.nettle / raw.openssl : 0.0, (unsigned long long)hits,
           (unsigned long long)(hits + misses));

    bench_rate_shared(&one, &many, verify_once, &cc, threads, secs);
    bench_ecdsa_threads(&raw_one, &raw_many, X509_get0_pubkey(certs[n]), d.signature,
                        d.signature + 48, 48, tbs, tbs_len, threads, secs);
    snprintf(name, sizeof(name), "%s_verify_cached_chain_%d_threads", prefix, threads);
    bench_report_threads(name, prefix, "P-384", threads, one, many, raw_one, raw_many);

    bench_sigs_dispose(&all);
    bench_sigs_dispose(&own);
    for (size_t i = 0; i <= n; i++) {
        X509_free(certs[i]);
    }
    free(tbs);
    bpt_nitro_doc_dispose(&d);
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    int threads = bench_threads(argc, argv);
    struct bpt_sim_fixture fx;
    struct bpt_sim_nitro_opts o = {0};
    struct bpt_verify_ctx_opts bare = bench_no_caches();
    bpt_verify_ctx *b = NULL, *cached = NULL;
    bpt_policy *debug_ok = NULL;
    uint8_t *doc = NULL, *real = NULL;
    size_t len = 0, real_len = 0;

    if (bpt_sim_fixture_init(&fx) != 0 || bpt_sim_aws_nitro_build(&doc, &len, fx.dir, &o) != 0) {
        die("simulator");
    }
    b = bpt_sim_fixture_ctx(&fx, BPT_SIM_NITRO_TIME + 30, &bare);
    cached = bpt_sim_fixture_ctx(&fx, BPT_SIM_NITRO_TIME + 30, NULL);
    if (!b || !cached) {
        die("simulator context");
    }
    run("nitro", doc, len, b, cached, NULL, secs, threads);
    bpt_verify_ctx_free(b);
    bpt_verify_ctx_free(cached);
    b = cached = NULL;

    if (!(real = bench_read_data("nitro/evervault-ga/attestation-doc.cbor", &real_len))) {
        printf("# nitro_real: ../shared/testdata not found (BPT_TESTDATA): skipped\n");
    } else {
        if (bpt_policy_new(&debug_ok) != 0) {
            die("policy");
        }
        bpt_policy_set_allow_debug(debug_ok, true);
        if (bpt_verify_ctx_new(&b, &bare) != 0 || bpt_verify_ctx_set_at(b, REAL_AT) != 0 ||
            bpt_verify_ctx_new(&cached, NULL) != 0 || bpt_verify_ctx_set_at(cached, REAL_AT) != 0) {
            die("real context");
        }
        run("nitro_real", real, real_len, b, cached, debug_ok, secs, threads);
    }
    bpt_verify_ctx_free(b);
    bpt_verify_ctx_free(cached);
    bpt_policy_free(debug_ok);
    free(real);
    bpt_free(doc);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
