#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"

#include "core/err.h"
#include "core/lru.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    int64_t not_before, not_after; /* every certificate of the chain is valid in between */
    EVP_PKEY *pkey;
    STACK_OF(X509) * chain; /* NULL unless the provider keeps it */
    size_t blob_len;
    uint8_t blob[]; /* the provider's facts */
};

struct bpt_chain_cache {
    struct bpt_lru *map;
};

static void release(void *v)
{
    struct entry *e = v;
    EVP_PKEY_free(e->pkey);
    sk_X509_pop_free(e->chain, X509_free);
    free(e);
}

int bpt_chain_cache_new(struct bpt_chain_cache **out, size_t max_entries)
{
    struct bpt_chain_cache *c;
    int rc;
    *out = NULL;
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("chain cache");
    }
    if ((rc = bpt_lru_new(&c->map, max_entries, release)) < 0) {
        free(c);
        return bpt_err_prefix(rc, "chain cache");
    }
    *out = c;
    return 0;
}

void bpt_chain_cache_free(struct bpt_chain_cache *c)
{
    if (c) {
        bpt_lru_free(c->map);
        free(c);
    }
}

void bpt_chain_cache_stats(const struct bpt_chain_cache *c, uint64_t *hits, uint64_t *lookups)
{
    bpt_lru_stats(c->map, hits, lookups, NULL);
}

size_t bpt_chain_cache_count(const struct bpt_chain_cache *c)
{
    return bpt_lru_count(c->map);
}

struct lookup {
    int64_t at;
    EVP_PKEY **pkey;
    void *blob;
    size_t blob_len;
    STACK_OF(X509) * *chain_out;
};

/* Under the map's lock: take references and copy the facts of a usable entry. */
static bool use(void *v, void *arg)
{
    struct entry *e = v;
    struct lookup *l = arg;
    /* notBefore <= at < notAfter, as X509_verify_cert() judges a certificate's time */
    if (l->at < e->not_before || l->at >= e->not_after || e->blob_len != l->blob_len ||
        (l->chain_out && !e->chain)) {
        return false;
    }
    if (l->chain_out && !(*l->chain_out = X509_chain_up_ref(e->chain))) {
        return false;
    }
    if (EVP_PKEY_up_ref(e->pkey) != 1) {
        if (l->chain_out) {
            sk_X509_pop_free(*l->chain_out, X509_free);
            *l->chain_out = NULL;
        }
        return false;
    }
    *l->pkey = e->pkey;
    if (l->blob_len) {
        memcpy(l->blob, e->blob, l->blob_len);
    }
    return true;
}

int bpt_chain_cache_get(struct bpt_chain_cache *c, const uint8_t key[32], int64_t at,
                        EVP_PKEY **pkey, void *blob, size_t blob_len, STACK_OF(X509) * *chain_out)
{
    struct lookup l = {at, pkey, blob, blob_len, chain_out};
    *pkey = NULL;
    if (chain_out) {
        *chain_out = NULL;
    }
    return bpt_lru_get(c->map, key, use, &l) ? 1 : 0;
}

static bool asn1_unix(int64_t *out, const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        return false;
    }
    *out = (int64_t)timegm(&tm);
    return true;
}

int bpt_chain_cache_put(struct bpt_chain_cache *c, const uint8_t key[32], STACK_OF(X509) * chain,
                        bool keep_chain, EVP_PKEY *pkey, const void *blob, size_t blob_len)
{
    struct entry *e;
    if (blob_len > BPT_CHAIN_CACHE_BLOB) {
        return bpt_err(BPT_EINVAL, "chain cache: %zu-byte facts exceed %d", blob_len,
                       BPT_CHAIN_CACHE_BLOB);
    }
    if (!(e = calloc(1, sizeof(*e) + blob_len))) {
        return bpt_err_nomem("chain cache entry");
    }
    e->not_before = INT64_MIN;
    e->not_after = INT64_MAX;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        int64_t nb, na;
        if (!asn1_unix(&nb, X509_get0_notBefore(x)) || !asn1_unix(&na, X509_get0_notAfter(x))) {
            free(e); /* a time this code cannot read: not cached, verified afresh each time */
            return 0;
        }
        e->not_before = nb > e->not_before ? nb : e->not_before;
        e->not_after = na < e->not_after ? na : e->not_after;
    }
    if (keep_chain && !(e->chain = X509_chain_up_ref(chain))) {
        free(e);
        return bpt_err_nomem("chain cache entry");
    }
    if (EVP_PKEY_up_ref(pkey) != 1) {
        sk_X509_pop_free(e->chain, X509_free);
        free(e);
        return bpt_err_nomem("chain cache entry");
    }
    e->pkey = pkey;
    e->blob_len = blob_len;
    if (blob_len) {
        memcpy(e->blob, blob, blob_len);
    }
    bpt_lru_put(c->map, key, e);
    return 0;
}
