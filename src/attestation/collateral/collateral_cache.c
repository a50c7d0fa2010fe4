#include "attestation/collateral/collateral_cache.h"

#include "core/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint8_t key[32];
    struct bpt_tdx_collateral *col; /* NULL: empty slot */
};

struct bpt_collateral_cache {
    pthread_mutex_t lock;
    struct entry *entries;
    size_t max, next; /* next: the slot to overwrite (oldest first) */
    atomic_uint_fast64_t hits, lookups;
};

int bpt_collateral_cache_new(struct bpt_collateral_cache **out, size_t max_entries)
{
    struct bpt_collateral_cache *c;
    *out = NULL;
    if (max_entries == 0 || max_entries > 4096) {
        return bpt_err(BPT_EINVAL, "collateral cache: %zu entries (expected 1..4096)", max_entries);
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->entries = calloc(max_entries, sizeof(*c->entries)))) {
        free(c);
        return bpt_err_nomem("collateral cache");
    }
    pthread_mutex_init(&c->lock, NULL);
    c->max = max_entries;
    *out = c;
    return 0;
}

void bpt_collateral_cache_free(struct bpt_collateral_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->max; i++) {
        bpt_tdx_collateral_release(c->entries[i].col);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->entries);
    free(c);
}

void bpt_collateral_cache_stats(const struct bpt_collateral_cache *c, uint64_t *hits,
                                uint64_t *lookups)
{
    *hits = atomic_load(&((struct bpt_collateral_cache *)c)->hits);
    *lookups = atomic_load(&((struct bpt_collateral_cache *)c)->lookups);
}

int bpt_collateral_cache_get(struct bpt_collateral_cache *c, const uint8_t key[32], int64_t at,
                             struct bpt_tdx_collateral **out)
{
    *out = NULL;
    atomic_fetch_add(&c->lookups, 1);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->max && !*out; i++) {
        struct entry *e = &c->entries[i];
        if (e->col && memcmp(e->key, key, 32) == 0 && at >= e->col->not_before &&
            at <= e->col->not_after) {
            *out = bpt_tdx_collateral_retain(e->col);
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (*out) {
        atomic_fetch_add(&c->hits, 1);
        return 1;
    }
    return 0;
}

void bpt_collateral_cache_put(struct bpt_collateral_cache *c, const uint8_t key[32],
                              struct bpt_tdx_collateral *col)
{
    struct bpt_tdx_collateral *old;
    struct entry *e = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->max && !e; i++) {
        if (c->entries[i].col && memcmp(c->entries[i].key, key, 32) == 0) {
            e = &c->entries[i]; /* the same key verified again: replace it in place */
        }
    }
    if (!e) {
        e = &c->entries[c->next];
        c->next = (c->next + 1) % c->max;
    }
    old = e->col;
    memcpy(e->key, key, 32);
    e->col = bpt_tdx_collateral_retain(col);
    pthread_mutex_unlock(&c->lock);
    bpt_tdx_collateral_release(old);
}
