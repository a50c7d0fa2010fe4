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
    bpt_policy *policy;
    EVP_PKEY *key;
    uint8_t sig[160];
    size_t sig_len;
};

static bool verify_once(void *p)
{
    struct ctx *c = p;
    bpt_verified *v = NULL;
    int rc = bpt_sev_snp_verify(&v, c->report, c->len, c->policy);
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

static bpt_policy *make_policy(const char *dir, const char *certs, bpt_chain_cache *cache)
{
    bpt_policy *p = bench_sim_policy(dir, 1750000000);
    if (bpt_policy_add_certs(p, (const uint8_t *)certs, strlen(certs)) != 0) {
        fprintf(stderr, "policy: %s\n", bpt_error_last());
        exit(1);
    }
    bpt_policy_set_chain_cache(p, cache);
    return p;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv), full, cached, raw;
    char tmpl[24], path[4096];
    char *dir = bench_sim_dir(tmpl), *certs = NULL;
    uint8_t rd[64] = {0};
    struct ctx c = {0};
    bpt_chain_cache *cache = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY *priv = NULL;
    uint64_t hits = 0, lookups = 0;

    if (bpt_sim_sev_snp_attest(&c.report, &c.len, dir, rd) != 0 ||
        bpt_sim_sev_snp_certs_pem(&certs, dir) != 0 || bpt_chain_cache_new(&cache, 16) != 0) {
        fprintf(stderr, "setup: %s\n", bpt_error_last());
        return 1;
    }
    /* The baseline verifies a signature over the same bytes with the same kind of key. */
    snprintf(path, sizeof(path), "%s/sev-snp/vcek-key.pem", dir);
    c.sig_len = sizeof(c.sig);
    if (bpt_sim_read_key(&priv, path) != 0 ||
        EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, priv) != 1 ||
        EVP_DigestSign(md, c.sig, &c.sig_len, c.report, BPT_SNP_SIGNED_SIZE) != 1) {
        fprintf(stderr, "baseline setup failed\n");
        return 1;
    }
    c.key = priv;

    c.policy = make_policy(dir, certs, NULL);
    full = bench_rate(verify_once, &c, secs);
    bpt_policy_free(c.policy);
    c.policy = make_policy(dir, certs, cache);
    cached = bench_rate(verify_once, &c, secs);
    raw = bench_rate(raw_once, &c, secs);
    bpt_chain_cache_stats(cache, &hits, &lookups);

    bench_report("sev_snp_verify_chain_every_time", full, "openssl_ecdsa_p384_verify", raw);
    bench_report("sev_snp_verify_cached_chain", cached, "openssl_ecdsa_p384_verify", raw);
    printf("# cached/raw = %.0f%%, full/raw = %.0f%%, cache hits %llu of %llu lookups\n",
           raw > 0 ? 100.0 * cached / raw : 0.0, raw > 0 ? 100.0 * full / raw : 0.0,
           (unsigned long long)hits, (unsigned long long)lookups);

    bpt_policy_free(c.policy);
    bpt_chain_cache_free(cache);
    EVP_PKEY_free(priv);
    EVP_MD_CTX_free(md);
    bpt_free(c.report);
    bpt_free(certs);
    bench_remove_tree(dir);
    return 0;
}
