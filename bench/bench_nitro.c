/*
 * AWS Nitro document verification rate: the chain checked every time, and with the verified
 * chain cached, beside OpenSSL's raw ECDSA P-384/SHA-384 verify of the same signed bytes.
 * Usage: bench_nitro [--seconds N]
 */
#include "util.h"

#include <blueprint-tee/bpt.h>

#include "attestation/providers/aws_nitro_internal.h"
#include "attester/sim/aws_nitro.h"
#include "attester/sim/x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct ctx {
    uint8_t *doc;
    size_t len;
    bpt_verify_ctx *vctx;
    EVP_PKEY *key;
    uint8_t *tbs;
    size_t tbs_len;
    uint8_t sig[160];
    size_t sig_len;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_aws_nitro_verify(&v, c->vctx, NULL, c->doc, c->len);
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
              EVP_DigestVerify(md, c->sig, c->sig_len, c->tbs, c->tbs_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), full, cached, raw;
    char path[4096];
    struct bpt_sim_fixture fx;
    struct bpt_sim_nitro_opts o = {0};
    struct bpt_verify_ctx_opts bare = bench_no_caches();
    struct bpt_nitro_doc d;
    struct ctx c = {0};
    bpt_verify_ctx *cached_ctx = NULL;
    uint64_t hits = 0, misses = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (bpt_sim_fixture_init(&fx) != 0 ||
        bpt_sim_aws_nitro_build(&c.doc, &c.len, fx.dir, &o) != 0 ||
        bpt_nitro_parse(&d, c.doc, c.len) != 0 ||
        bpt_nitro_sig_structure(&c.tbs, &c.tbs_len, &d) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    bpt_nitro_doc_dispose(&d);
    snprintf(path, sizeof(path), "%s/aws-nitro/leaf.pem-key", fx.dir);
    c.sig_len = sizeof(c.sig);
    if (bpt_sim_read_key(&c.key, path) != 0 ||
        EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, c.key) != 1 ||
        EVP_DigestSign(md, c.sig, &c.sig_len, c.tbs, c.tbs_len) != 1) {
        fprintf(stderr, "baseline setup failed\n");
        return 1;
    }
    c.vctx = bpt_sim_fixture_ctx(&fx, BPT_SIM_NITRO_TIME + 30, &bare);
    cached_ctx = bpt_sim_fixture_ctx(&fx, BPT_SIM_NITRO_TIME + 30, NULL);
    if (!c.vctx || !cached_ctx) {
        return 1;
    }
    full = bench_rate(verify_once, &c, secs);
    bpt_verify_ctx_free(c.vctx);
    c.vctx = cached_ctx;
    cached = bench_rate(verify_once, &c, secs);
    raw = bench_rate(raw_once, &c, secs);
    bpt_verify_ctx_cache_stats(cached_ctx, BPT_CACHE_CHAIN, &hits, &misses);
    bench_report("nitro_verify_chain_every_time", full, "openssl_ecdsa_p384_verify", raw);
    bench_report("nitro_verify_cached_chain", cached, "openssl_ecdsa_p384_verify", raw);
    printf("# cached/raw = %.0f%%, full/raw = %.0f%%, chain cache hits %llu, misses %llu\n",
           raw > 0 ? 100.0 * cached / raw : 0.0, raw > 0 ? 100.0 * full / raw : 0.0,
           (unsigned long long)hits, (unsigned long long)misses);
    bpt_verify_ctx_free(cached_ctx);
    EVP_PKEY_free(c.key);
    EVP_MD_CTX_free(md);
    free(c.tbs);
    bpt_free(c.doc);
    bpt_sim_fixture_dispose(&fx);
    return 0;
}
