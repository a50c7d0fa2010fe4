/*
 * SEV-SNP verification rate, on the simulator's report and on the public milan-virtee report of
 * ../shared/testdata (the bytes other verifiers are measured on), each beside its limit:
 *   (a) every signature of the chain and collateral checked on each call: VCEK <- ASK, ASK <- ARK
 *       (RSA-PSS), the ARK's CRL when revocation is checked (the simulator's; the test data has
 *       no CRL valid in 2023, so the real report is verified with revocation off), the report;
 *   (b) the report's own signature only (the chain cached): raw OpenSSL ECDSA P-384.
 * Each limit is timed with raw OpenSSL on the same bytes and keys in the same run. Beside them:
 * the two ECDSA backends' raw P-384 rates (OpenSSL as the bench times it and as `openssl speed`
 * does, nettle) and the cached path on N threads sharing one context.
 * Usage: bench_sev_snp [--seconds N] [--threads N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/sev_snp.h"
#include "attester/sim/x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#define REAL_AT 1680652800 /* the manifest's verify_at for milan-virtee */
#define SIM_AT 1750000000

struct ctx {
    const uint8_t *report;
    size_t len;
    bpt_verify_ctx *vctx;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_sev_snp_verify(&v, c->vctx, NULL, c->report, c->len);
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

/* The report's r and s, big-endian (the report stores 72 little-endian bytes each). */
static void report_rs(uint8_t r[48], uint8_t s[48], const uint8_t *report)
{
    for (int i = 0; i < 48; i++) {
        r[i] = report[0x2A0 + 47 - i];
        s[i] = report[0x2E8 + 47 - i];
    }
}

static X509 *read_cert(const char *path)
{
    X509 *x = NULL;
    if (bpt_sim_read_cert(&x, path) != 0) {
        FILE *f = fopen(path, "rb"); /* DER */
        x = f ? d2i_X509_fp(f, NULL) : NULL;
        if (f) {
            fclose(f);
        }
    }
    if (!x) {
        fprintf(stderr, "setup: cannot read %s\n", path);
        exit(1);
    }
    return x;
}

/* One variant: the verifier without and with its chain cache, and both limits. */
struct variant {
    const char *name;      /* "sev_snp" or "sev_snp_real" */
    bpt_verify_ctx *bare;  /* no caches */
    bpt_verify_ctx *cache; /* the default caches */
    const uint8_t *report;
    X509 *vcek, *ask, *ark;
    X509_CRL *crl; /* checked on every uncached call, or NULL */
};

static void run(const struct variant *v, double secs, int threads)
{
    struct ctx c = {v->report, BPT_SNP_REPORT_SIZE, v->bare},
               cc = {v->report, BPT_SNP_REPORT_SIZE, v->cache};
    struct bench_sigs all = {0}, own = {0};
    struct bench_ecdsa_rates raw;
    uint8_t r[48], s[48];
    char name[96], desc[160];
    double full, cached, lim_a, lim_b, one, many, raw_one, raw_many;
    uint64_t hits = 0, misses = 0;

    report_rs(r, s, v->report);
    if (!verify_once(&c) || !verify_once(&cc)) {
        exit(1);
    }
    bench_sigs_cert(&all, v->vcek, v->ask);
    bench_sigs_cert(&all, v->ask, v->ark);
    if (v->crl) {
        bench_sigs_crl(&all, v->crl, v->ark);
    }
    bench_sigs_ecdsa(&all, X509_get0_pubkey(v->vcek), r, s, 48, v->report, BPT_SNP_SIGNED_SIZE);
    bench_sigs_ecdsa(&own, X509_get0_pubkey(v->vcek), r, s, 48, v->report, BPT_SNP_SIGNED_SIZE);
    /* each case in turns with its limit: the machine's other load falls on both alike */
    bench_rate_pair(&full, verify_once, &c, &lim_a, bench_sigs_once, &all, 2 * secs);
    bench_rate_pair(&cached, verify_once, &cc, &lim_b, bench_sigs_once, &own, 2 * secs);
    bench_ecdsa_rates(&raw, X509_get0_pubkey(v->vcek), r, s, 48, v->report, BPT_SNP_SIGNED_SIZE,
                      secs);
    bpt_verify_ctx_cache_stats(v->cache, BPT_CACHE_CHAIN, &hits, &misses);

    snprintf(name, sizeof(name), "%s_verify_chain_every_time", v->name);
    bench_report_limit(name, full, "limit_a_every_signature", lim_a);
    snprintf(name, sizeof(name), "%s_verify_cached_chain", v->name);
    bench_report_limit(name, cached, "limit_b_openssl_ecdsa_p384_verify", lim_b);
    printf("# %s: limit (a) %s; limit (b) the report's P-384 signature\n", v->name,
           bench_sigs_describe(&all, desc, sizeof(desc)));
    bench_report_ecdsa_rates(v->name, "p384", &raw);
    printf("# %s: full = %.0f%% of (a); cached = %.2fx OpenSSL's P-384 rate; raw nettle = %.2fx "
           "raw OpenSSL; chain cache hits %llu of %llu\n",
           v->name, lim_a > 0 ? 100.0 * full / lim_a : 0.0, lim_b > 0 ? cached / lim_b : 0.0,
           raw.openssl > 0 ? raw.nettle / raw.openssl : 0.0, (unsigned long long)hits,
           (unsigned long long)(hits + misses));

    /* Threads: the cached path through one shared context, and raw OpenSSL, 1 and N. */
    bench_rate_shared(&one, &many, verify_once, &cc, threads, secs);
    bench_ecdsa_threads(&raw_one, &raw_many, X509_get0_pubkey(v->vcek), r, s, 48, v->report,
                        BPT_SNP_SIGNED_SIZE, threads, secs);
    snprintf(name, sizeof(name), "%s_verify_cached_chain_%d_threads", v->name, threads);
    bench_report_threads(name, v->name, "P-384", threads, one, many, raw_one, raw_many);
    bench_sigs_dispose(&all);
    bench_sigs_dispose(&own);
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    int threads = bench_threads(argc, argv);
    char path[4096], *certs = NULL;
    struct bpt_sim_fixture fx;
    struct bpt_verify_ctx_opts bare = bench_no_caches();
    uint8_t rd[64] = {0}, *report = NULL, *real = NULL, *vcek_der = NULL;
    size_t len = 0, real_len = 0, vcek_len = 0;
    struct variant sim = {.name = "sev_snp"}, rv = {.name = "sev_snp_real"};
    FILE *f;

    if (bpt_sim_fixture_init(&fx) != 0 || bpt_sim_sev_snp_attest(&report, &len, fx.dir, rd) != 0 ||
        bpt_sim_sev_snp_certs_pem(&certs, fx.dir) != 0) {
        die("simulator");
    }
    /* The simulator: its roots trusted, the VCEK, ASK and CRL given (revocation checked). */
    sim.report = report;
    sim.bare = bpt_sim_fixture_ctx(&fx, SIM_AT, &bare);
    sim.cache = bpt_sim_fixture_ctx(&fx, SIM_AT, NULL);
    if (!sim.bare || !sim.cache ||
        bpt_verify_ctx_add_certs(sim.bare, (const uint8_t *)certs, strlen(certs)) != 0 ||
        bpt_verify_ctx_add_certs(sim.cache, (const uint8_t *)certs, strlen(certs)) != 0) {
        die("simulator context");
    }
    snprintf(path, sizeof(path), "%s/sev-snp/vcek.der", fx.dir);
    sim.vcek = read_cert(path);
    snprintf(path, sizeof(path), "%s/sev-snp/ask.pem", fx.dir);
    sim.ask = read_cert(path);
    snprintf(path, sizeof(path), "%s/sev-snp/ark.pem", fx.dir);
    sim.ark = read_cert(path);
    snprintf(path, sizeof(path), "%s/sev-snp/crl.der", fx.dir);
    if (!(f = fopen(path, "rb")) || !(sim.crl = d2i_X509_CRL_fp(f, NULL))) {
        die("simulator CRL");
    }
    fclose(f);
    run(&sim, secs, threads);

    /* The public report: pinned AMD roots, its VCEK given, revocation off. */
    if (!(real = bench_read_data("sev-snp/milan-virtee/report.bin", &real_len)) ||
        real_len != BPT_SNP_REPORT_SIZE ||
        !(vcek_der = bench_read_data("sev-snp/milan-virtee/vcek.der", &vcek_len))) {
        printf("# sev_snp_real: ../shared/testdata not found (BPT_TESTDATA): skipped\n");
    } else {
        rv.report = real;
        if (bpt_verify_ctx_new(&rv.bare, &bare) != 0 || bpt_verify_ctx_new(&rv.cache, NULL) != 0 ||
            bpt_verify_ctx_set_at(rv.bare, REAL_AT) != 0 ||
            bpt_verify_ctx_set_at(rv.cache, REAL_AT) != 0 ||
            bpt_verify_ctx_set_revocation_check(rv.bare, false) != 0 ||
            bpt_verify_ctx_set_revocation_check(rv.cache, false) != 0 ||
            bpt_verify_ctx_add_certs(rv.bare, vcek_der, vcek_len) != 0 ||
            bpt_verify_ctx_add_certs(rv.cache, vcek_der, vcek_len) != 0) {
            die("real context");
        }
        bench_data_path(path, sizeof(path), "sev-snp/milan-virtee/vcek.der");
        rv.vcek = read_cert(path);
        bench_data_path(path, sizeof(path), "roots/amd-milan-ask.pem");
        rv.ask = read_cert(path);
        bench_data_path(path, sizeof(path), "roots/amd-milan-ark.pem");
        rv.ark = read_cert(path);
        run(&rv, secs, threads);
    }

    for (int i = 0; i < 2; i++) {
        struct variant *v = i ? &rv : &sim;
        bpt_verify_ctx_free(v->bare);
        bpt_verify_ctx_free(v->cache);
        X509_free(v->vcek);
        X509_free(v->ask);
        X509_free(v->ark);
        X509_CRL_free(v->crl);
    }
    free(real);
    free(vcek_der);
    bpt_free(report);
    bpt_free(certs);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
