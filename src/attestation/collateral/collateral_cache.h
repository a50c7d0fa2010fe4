/*
 * Verified TDX collateral keyed by a digest of its inputs (the caller's: fmspc, trust roots,
 * collateral text): a bounded LRU hash table (core/lru.h) of the capacity the context was made
 * with. An entry holds a reference to the shared, immutable verified collateral (about 145 KB
 * for Intel's: fixed arrays of TCB levels, two CRLs; docs/performance.md); the same collateral
 * verified again keeps its entry (bpt_lru_put()).
 * Threads: safe from any thread.
 */
#ifndef BPT_ATTESTATION_COLLATERAL_CACHE_H
#define BPT_ATTESTATION_COLLATERAL_CACHE_H

#include "attestation/collateral/tdx_collateral.h"

struct bpt_collateral_cache;

/** @param max_entries 1..BPT_LRU_MAX_CAPACITY. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_MUST_USE int bpt_collateral_cache_new(struct bpt_collateral_cache **out, size_t max_entries);
void bpt_collateral_cache_free(struct bpt_collateral_cache *c);
/** Lookups that found a usable entry, and lookups in all. */
void bpt_collateral_cache_stats(const struct bpt_collateral_cache *c, uint64_t *hits,
                                uint64_t *lookups);

/**
 * Look up @p key. A hit needs @p at inside the entry's date window; then *out is a new
 * reference (bpt_tdx_collateral_release it). Returns 1 on a hit, 0 on a miss.
 */
int bpt_collateral_cache_get(struct bpt_collateral_cache *c, const uint8_t key[32], int64_t at,
                             struct bpt_tdx_collateral **out);

/** Store verified collateral under @p key (a reference is taken). */
void bpt_collateral_cache_put(struct bpt_collateral_cache *c, const uint8_t key[32],
                              struct bpt_tdx_collateral *col);

#endif
