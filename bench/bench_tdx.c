/*
 * TDX quote verification rate: collateral (CRLs, TCB Info, QE Identity, their chains) and the
 * PCK chain verified every time, and with both cached (verified collateral keyed by FMSPC, roots
 * and collateral digest; the verified PCK chain), next to OpenSSL's raw ECDSA P-256/SHA-256
 * verify of the quote's signed bytes in the same run.
 * ECDSA verifications per quote: 12 uncached (PCK certificate and PCK CA, root CA CRL, TCB
 * signing certificate, TCB Info, QE Identity's signer, QE Identity, PCK CRL issuer, PCK CRL,
 * QE report, quote) and 2 cached (QE report, quote).
 * Usage: bench_tdx [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attester/sim/tdx.h"
#include "attester/sim/x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#define AT 1750000000

struct ctx {
    uint8_t *quote;
    size_t len;
    bpt_verify_ctx *vctx;
    EVP_PKEY *key;
    uint8_t sig[80];
    size_t sig_len;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_tdx_verify(&v, c->vctx, NULL, c->quote, c->len);
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
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
              EVP_DigestVerify(md, c->sig, c->sig_len, c->quote, 48 + 584) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* A context trusting the simulator's roots, with the collateral, offline; caches per @p opts. */
static bpt_verify_ctx *make_ctx(const struct bpt_sim_fixture *fx, const char *coll,
                                const bpt_verify_ctx_opts *opts)
{
    bpt_verify_ctx *c = bpt_sim_fixture_ctx(fx, AT, opts);
    if (!c || bpt_verify_ctx_set_collateral_json(c, coll, strlen(coll)) != 0 ||
        bpt_verify_ctx_set_offline(c, true) != 0) {
        fprintf(stderr, "context: %s\n", bpt_error_last());
        exit(1);
    }
    return c;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), full, cached, raw;
    char path[4096], *coll = NULL;
    struct bpt_sim_fixture fx;
    struct bpt_sim_tdx_opts o = {.now = AT};
    struct bpt_verify_ctx_opts bare = bench_no_caches();
    struct ctx c = {0};
    bpt_verify_ctx *cached_ctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *priv = NULL;
    uint64_t hits = 0, misses = 0;

    if (bpt_sim_fixture_init(&fx) != 0 || bpt_sim_tdx_quote(&c.quote, &c.len, fx.dir, &o) != 0 ||
        bpt_sim_tdx_collateral(&coll, fx.dir, &o) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    /* The baseline: a P-256 signature over the same signed bytes (header and TD report). */
    snprintf(path, sizeof(path), "%s/tdx/pck-key.pem", fx.dir);
    c.sig_len = sizeof(c.sig);
    if (bpt_sim_read_key(&priv, path) != 0 ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv) != 1 ||
        EVP_DigestSign(md, c.sig, &c.sig_len, c.quote, 48 + 584) != 1) {
        fprintf(stderr, "baseline setup failed\n");
        return 1;
    }
    c.key = priv;

    c.vctx = make_ctx(&fx, coll, &bare);
    full = bench_rate(verify_once, &c, secs);
    bpt_verify_ctx_free(c.vctx);
    c.vctx = cached_ctx = make_ctx(&fx, coll, NULL);
    cached = bench_rate(verify_once, &c, secs);
    raw = bench_rate(raw_once, &c, secs);
    bpt_verify_ctx_cache_stats(cached_ctx, BPT_CACHE_COLLATERAL, &hits, &misses);

    bench_report("tdx_verify_collateral_every_time", full, "openssl_ecdsa_p256_verify", raw);
    bench_report("tdx_verify_cached_collateral_and_pck_chain", cached, "openssl_ecdsa_p256_verify",
                 raw);
    printf("# ECDSA verifications per quote: 12 uncached, 2 cached; ideal rates raw/12 = %.0f/s, "
           "raw/2 = %.0f/s\n",
           raw / 12, raw / 2);
    printf("# full = %.0f%% of raw/12, cached = %.0f%% of raw/2; collateral cache hits %llu of "
           "%llu\n",
           raw > 0 ? 100.0 * full / (raw / 12) : 0.0, raw > 0 ? 100.0 * cached / (raw / 2) : 0.0,
           (unsigned long long)hits, (unsigned long long)(hits + misses));

    bpt_verify_ctx_free(cached_ctx);
    EVP_PKEY_free(priv);
    EVP_MD_CTX_free(md);
    bpt_free(c.quote);
    bpt_free(coll);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
