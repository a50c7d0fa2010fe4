#include "attestation/collateral/collateral_cache.h"

#include "core/err.h"
#include "core/lru.h"

#include <stdlib.h>

struct bpt_collateral_cache {
    struct bpt_lru *map;
};

static void release(void *v)
{
    bpt_tdx_collateral_release(v);
}

int bpt_collateral_cache_new(struct bpt_collateral_cache **out, size_t max_entries)
{
    struct bpt_collateral_cache *c;
    int rc;
    *out = NULL;
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("collateral cache");
    }
    if ((rc = bpt_lru_new(&c->map, max_entries, release)) < 0) {
        free(c);
        return bpt_err_prefix(rc, "collateral cache");
    }
    *out = c;
    return 0;
}

void bpt_collateral_cache_free(struct bpt_collateral_cache *c)
{
    if (c) {
        bpt_lru_free(c->map);
        free(c);
    }
}

void bpt_collateral_cache_stats(const struct bpt_collateral_cache *c, uint64_t *hits,
                                uint64_t *lookups)
{
    bpt_lru_stats(c->map, hits, lookups, NULL);
}

struct lookup {
    int64_t at;
    struct bpt_tdx_collateral **out;
};

static bool use(void *v, void *arg)
{
    struct bpt_tdx_collateral *col = v;
    struct lookup *l = arg;
    if (l->at < col->not_before || l->at > col->not_after) {
        return false;
    }
    *l->out = bpt_tdx_collateral_retain(col);
    return true;
}

int bpt_collateral_cache_get(struct bpt_collateral_cache *c, const uint8_t key[32], int64_t at,
                             struct bpt_tdx_collateral **out)
{
    struct lookup l = {at, out};
    *out = NULL;
    return bpt_lru_get(c->map, key, use, &l) ? 1 : 0;
}

void bpt_collateral_cache_put(struct bpt_collateral_cache *c, const uint8_t key[32],
                              struct bpt_tdx_collateral *col)
{
    bpt_lru_put(c->map, key, bpt_tdx_collateral_retain(col));
}
