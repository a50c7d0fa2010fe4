/*
 * The verification caches at fleet size (docs/performance.md, "Caches"): memory per entry of the
 * chain cache as SEV-SNP and Nitro fill it (each chip's own P-384 key, the provider's facts; no
 * chain kept) and of the collateral cache (the public TDX collateral, verified), and the cost of
 * a lookup among --entries of them (default 100,000). The TDX fleet case of bench_tdx measures
 * the PCK chain entries (which keep the PCK certificate for the CRL checks) through real
 * verifications.
 * Usage: bench_caches [--seconds N] [--entries N]
 */
#include "util.h"

#include "attestation/collateral/collateral_cache.h"
#include "attestation/collateral/tdx_collateral.h"
#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#define SNP_FACTS 160 /* about sizeof(struct snp_chain_facts) in sev_snp.c */

static size_t heap(void)
{
    return mallinfo2().uordblks;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_caches: %s: %s\n", what, bpt_error_last());
    exit(1);
}

static void key_of(uint8_t k[32], uint64_t i)
{
    uint64_t h = i * 0x9E3779B97F4A7C15ull;
    memset(k, 0, 32);
    memcpy(k, &h, 8);
    memcpy(k + 8, &i, 8);
}

struct lookups {
    struct bpt_chain_cache *c;
    uint64_t n, i;
    uint8_t facts[SNP_FACTS];
};

static bool lookup_once(void *p)
{
    struct lookups *l = p;
    uint8_t k[32];
    EVP_PKEY *key = NULL;
    key_of(k, (l->i++ * 7919) % l->n);
    if (bpt_chain_cache_get(l->c, k, 1700000000, &key, l->facts, SNP_FACTS, NULL) != 1) {
        return false;
    }
    EVP_PKEY_free(key);
    return true;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    long entries = bench_flag_long(argc, argv, "--entries", 100000);
    uint8_t facts[SNP_FACTS] = {0}, *vcek_der = NULL, *spki = NULL, k[32];
    unsigned char *p;
    size_t vcek_len = 0, before, after, coll_len = 0;
    int spki_len;
    const unsigned char *q;
    X509 *vcek;
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct bpt_chain_cache *c = NULL;
    struct lookups l = {0};
    char *coll;
    double rate;

    if (!(vcek_der = bench_read_data("sev-snp/milan-virtee/vcek.der", &vcek_len))) {
        printf("# bench_caches: ../shared/testdata not found (BPT_TESTDATA): skipped\n");
        return 0;
    }
    q = vcek_der;
    if (!(vcek = d2i_X509(NULL, &q, (long)vcek_len)) || !sk_X509_push(chain, vcek) ||
        (spki_len = i2d_PUBKEY(X509_get0_pubkey(vcek), NULL)) <= 0 ||
        !(spki = malloc((size_t)spki_len))) {
        die("VCEK");
    }
    p = spki;
    i2d_PUBKEY(X509_get0_pubkey(vcek), &p);

    /* SEV-SNP / Nitro entries: each chip's own key object, the facts, no chain kept. */
    if (bpt_chain_cache_new(&c, (size_t)entries) != 0) {
        die("chain cache");
    }
    before = heap();
    for (long i = 0; i < entries; i++) {
        const unsigned char *s = spki;
        EVP_PKEY *key = d2i_PUBKEY(NULL, &s, spki_len);
        key_of(k, (uint64_t)i);
        if (!key || bpt_chain_cache_put(c, k, chain, false, key, facts, sizeof(facts)) != 0) {
            die("chain cache put");
        }
        EVP_PKEY_free(key); /* the cache holds the only reference now */
    }
    after = heap();
    printf("# chain cache, SEV-SNP entries (a P-384 key, %d bytes of facts): %.0f bytes per entry "
           "over %ld entries (the map's node and bucket included)\n",
           SNP_FACTS, (double)(after - before) / (double)entries, entries);
    l = (struct lookups){c, (uint64_t)entries, 0, {0}};
    rate = bench_rate(lookup_once, &l, secs);
    bench_report("chain_cache_lookup_hit", rate, "none", 0);
    bpt_chain_cache_free(c);

    /* Verified TDX collateral: the public set, as the collateral cache keeps it. */
    if ((coll = (char *)bench_read_data("tdx/phala-v4-uptodate/collateral.json", &coll_len)) !=
        NULL) {
        static const enum bpt_pinned_root intel = BPT_ROOT_INTEL_SGX_ROOT_CA;
        STACK_OF(X509) *roots = NULL;
        struct bpt_tdx_collateral *col = NULL;
        if (bpt_pki_pinned_roots(&roots, &intel, 1) != 0) {
            die("roots");
        }
        before = heap();
        if (bpt_tdx_collateral_verify(&col, coll, coll_len, roots, 1750464000) != 0) {
            die("collateral");
        }
        after = heap();
        printf("# collateral cache: one verified TDX collateral set (phala-v4) holds %.0f bytes "
               "(sizeof %zu: fixed arrays of TCB levels and module identities, plus two CRLs)\n",
               (double)(after - before), sizeof(struct bpt_tdx_collateral));
        bpt_tdx_collateral_release(col);
        sk_X509_pop_free(roots, X509_free);
        free(coll);
    }
    sk_X509_pop_free(chain, X509_free);
    free(spki);
    free(vcek_der);
    return 0;
}
