/*
 * SEV-SNP verification rate: chain checked every time, and with a cached verified chain,
 * next to OpenSSL's raw ECDSA P-384/SHA-384 verify of the same signed bytes in the same run.
 * Usage: bench_sev_snp [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/sev_snp.h"
#include "attester/sim/x509.h"

#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct ctx {
    uint8_t *report;
    size_t len;
    bpt_verify_ctx *vctx;
    EVP_PKEY *key;
    uint8_t sig[160];
    size_t sig_len;
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

static bool raw_once(void *p)
{
    struct ctx *c = p;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, c->key) == 1 &&
              EVP_DigestVerify(md, c->sig, c->sig_len, c->report, BPT_SNP_SIGNED_SIZE) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* A context trusting the simulator's roots, holding the VCEK chain; caches as @p opts says. */
static bpt_verify_ctx *make_ctx(const struct bpt_sim_fixture *fx, const char *certs,
                                const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx *c = bpt_sim_fixture_ctx(fx, 1750000000, opts);
    if (!c || bpt_verify_ctx_add_certs(c, (const uint8_t *)certs, strlen(certs)) != 0) {
        fprintf(stderr, "context: %s\n", bpt_error_last());
        exit(1);
    }
    return c;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), full, cached, raw;
    char path[4096], *certs = NULL;
    struct bpt_sim_fixture fx;
    struct bpt_verify_ctx_opts bare = bench_no_caches();
    uint8_t rd[64] = {0};
    struct ctx c = {0};
    bpt_verify_ctx *cached_ctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *priv = NULL;
    uint64_t hits = 0, misses = 0;

    if (bpt_sim_fixture_init(&fx) != 0 ||
        bpt_sim_sev_snp_attest(&c.report, &c.len, fx.dir, rd) != 0 ||
        bpt_sim_sev_snp_certs_pem(&certs, fx.dir) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    /* The baseline verifies a signature over the same bytes with the same kind of key. */
    snprintf(path, sizeof(path), "%s/sev-snp/vcek-key.pem", fx.dir);
    c.sig_len = sizeof(c.sig);
    if (bpt_sim_read_key(&priv, path) != 0 ||
        EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, priv) != 1 ||
        EVP_DigestSign(md, c.sig, &c.sig_len, c.report, BPT_SNP_SIGNED_SIZE) != 1) {
        fprintf(stderr, "baseline setup failed\n");
        return 1;
    }
    c.key = priv;

    c.vctx = make_ctx(&fx, certs, &bare);
    full = bench_rate(verify_once, &c, secs);
    bpt_verify_ctx_free(c.vctx);
    c.vctx = cached_ctx = make_ctx(&fx, certs, NULL);
    cached = bench_rate(verify_once, &c, secs);
    raw = bench_rate(raw_once, &c, secs);
    bpt_verify_ctx_cache_stats(cached_ctx, BPT_CACHE_CHAIN, &hits, &misses);

    bench_report("sev_snp_verify_chain_every_time", full, "openssl_ecdsa_p384_verify", raw);
    bench_report("sev_snp_verify_cached_chain", cached, "openssl_ecdsa_p384_verify", raw);
    printf("# cached/raw = %.0f%%, full/raw = %.0f%%, cache hits %llu of %llu lookups\n",
           raw > 0 ? 100.0 * cached / raw : 0.0, raw > 0 ? 100.0 * full / raw : 0.0,
           (unsigned long long)hits, (unsigned long long)(hits + misses));

    bpt_verify_ctx_free(cached_ctx);
    EVP_PKEY_free(priv);
    EVP_MD_CTX_free(md);
    bpt_free(c.report);
    bpt_free(certs);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
