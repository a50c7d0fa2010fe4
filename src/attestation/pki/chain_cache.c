#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"

#include "core/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    bool used;
    uint8_t key[32];
    STACK_OF(X509) * chain;
    EVP_PKEY *pkey;
    uint8_t blob[BPT_CHAIN_CACHE_BLOB];
    size_t blob_len;
};

struct bpt_chain_cache {
    pthread_mutex_t lock;
    struct entry *entries;
    size_t max, next; /* next: the slot to overwrite (oldest first) */
    atomic_uint_fast64_t hits, lookups;
};

int bpt_chain_cache_new(struct bpt_chain_cache **out, size_t max_entries)
{
    struct bpt_chain_cache *c;
    *out = NULL;
    if (max_entries == 0 || max_entries > 4096) {
        return bpt_err(BPT_EINVAL, "chain cache: %zu entries (expected 1..4096)", max_entries);
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->entries = calloc(max_entries, sizeof(*c->entries)))) {
        free(c);
        return bpt_err_nomem("chain cache");
    }
    pthread_mutex_init(&c->lock, NULL);
    c->max = max_entries;
    *out = c;
    return 0;
}

static void clear(struct entry *e)
{
    sk_X509_pop_free(e->chain, X509_free);
    EVP_PKEY_free(e->pkey);
    memset(e, 0, sizeof(*e));
}

void bpt_chain_cache_free(struct bpt_chain_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->max; i++) {
        clear(&c->entries[i]);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->entries);
    free(c);
}

void bpt_chain_cache_stats(const struct bpt_chain_cache *c, uint64_t *hits, uint64_t *lookups)
{
    *hits = atomic_load(&((struct bpt_chain_cache *)c)->hits);
    *lookups = atomic_load(&((struct bpt_chain_cache *)c)->lookups);
}

int bpt_chain_cache_get(struct bpt_chain_cache *c, const uint8_t key[32], int64_t at,
                        EVP_PKEY **pkey, void *blob, size_t blob_len, STACK_OF(X509) * *chain_out)
{
    int hit = 0;
    *pkey = NULL;
    if (chain_out) {
        *chain_out = NULL;
    }
    atomic_fetch_add(&c->lookups, 1);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->max && !hit; i++) {
        struct entry *e = &c->entries[i];
        if (!e->used || memcmp(e->key, key, 32) != 0 || e->blob_len != blob_len) {
            continue;
        }
        hit = 1;
        for (int k = 0; k < sk_X509_num(e->chain); k++) {
            if (!bpt_pki_valid_at(sk_X509_value(e->chain, k), at)) {
                hit = 0; /* outside a validity window: verify the chain afresh */
            }
        }
        if (hit && chain_out && !(*chain_out = X509_chain_up_ref(e->chain))) {
            hit = 0;
        }
        if (hit && EVP_PKEY_up_ref(e->pkey) == 1) {
            *pkey = e->pkey;
            if (blob_len) {
                memcpy(blob, e->blob, blob_len);
            }
        } else if (hit) {
            hit = 0;
            if (chain_out) {
                sk_X509_pop_free(*chain_out, X509_free);
                *chain_out = NULL;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (hit) {
        atomic_fetch_add(&c->hits, 1);
    }
    return hit;
}

int bpt_chain_cache_put(struct bpt_chain_cache *c, const uint8_t key[32], STACK_OF(X509) * chain,
                        EVP_PKEY *pkey, const void *blob, size_t blob_len)
{
    STACK_OF(X509) * copy;
    struct entry *e;
    if (blob_len > BPT_CHAIN_CACHE_BLOB) {
        return bpt_err(BPT_EINVAL, "chain cache: %zu-byte facts exceed %d", blob_len,
                       BPT_CHAIN_CACHE_BLOB);
    }
    copy = X509_chain_up_ref(chain);
    if (!copy || EVP_PKEY_up_ref(pkey) != 1) {
        sk_X509_pop_free(copy, X509_free);
        return bpt_err_nomem("chain cache entry");
    }
    pthread_mutex_lock(&c->lock);
    e = &c->entries[c->next];
    c->next = (c->next + 1) % c->max;
    clear(e);
    e->used = true;
    memcpy(e->key, key, 32);
    e->chain = copy;
    e->pkey = pkey;
    if (blob_len) {
        memcpy(e->blob, blob, blob_len);
    }
    e->blob_len = blob_len;
    pthread_mutex_unlock(&c->lock);
    return 0;
}
