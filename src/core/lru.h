/*
 * A bounded map from 32-byte keys (digests) to values, evicting the least recently used entry
 * when full: a chained hash table (power-of-two buckets, one per entry of capacity, allocated
 * when the map is made, untouched pages costing nothing) and a doubly linked recency list.
 * Lookups and inserts cost O(1) whatever the size; a node is 64 bytes (key, three links, the
 * value) plus the allocator's 16, and each bucket 8 bytes (docs/performance.md has the
 * per-entry figures of the caches built on it).
 *
 * The caches of verified chains and collateral (src/attestation/pki/chain_cache.c,
 * src/attestation/collateral/collateral_cache.c) keep their values here.
 * Threads: safe from any thread (one mutex; a lookup or insert holds it for well under a
 * microsecond). The value callbacks run under that lock, so they must be short and must not
 * call back into the map.
 */
#ifndef BPT_CORE_LRU_H
#define BPT_CORE_LRU_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The largest capacity a map takes (2^24 entries). */
#define BPT_LRU_MAX_CAPACITY 16777216u

struct bpt_lru;

/** Drop the map's value (called without the lock held, once per value put). */
typedef void (*bpt_lru_release_fn)(void *value);

/**
 * Look at a value found under the map's lock: take what the caller needs (a reference, a copy)
 * and return true for a hit, or false when the value does not serve this lookup (it stays).
 */
typedef bool (*bpt_lru_use_fn)(void *value, void *arg);

/**
 * A release function for values that carry their own: each value starts with a
 * bpt_lru_release_fn that frees it (the map's owner need not know the values' type).
 */
void bpt_lru_release_self(void *value);

/**
 * @param capacity 1..BPT_LRU_MAX_CAPACITY entries.
 * @param release how to drop a value the map holds (evicted, replaced, or at bpt_lru_free()).
 * @return 0; BPT_EINVAL (capacity); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_lru_new(struct bpt_lru **out, size_t capacity, bpt_lru_release_fn release);

/** Release every value and the map. NULL does nothing. */
void bpt_lru_free(struct bpt_lru *m);

/**
 * Look up @p key; when found, @p use decides under the lock whether it is a hit. A hit makes the
 * entry the most recently used. Counts the lookup (and the hit).
 * @return true on a hit.
 */
bool bpt_lru_get(struct bpt_lru *m, const uint8_t key[32], bpt_lru_use_fn use, void *arg);

/**
 * Store @p value under @p key (the map takes it: bpt_lru_release_fn drops it later). An entry of
 * the same key stays (made the most recent) and @p value is released: the caches keep values
 * that are equal for equal keys. A full map evicts its least recently used entry first. Values
 * are released after the lock is let go. Cannot fail: a full map reuses the evicted node; a map
 * that cannot allocate a node releases @p value at once and stays as it was.
 */
void bpt_lru_put(struct bpt_lru *m, const uint8_t key[32], void *value);

/** Entries held now, and the capacity. */
size_t bpt_lru_count(struct bpt_lru *m);
size_t bpt_lru_capacity(const struct bpt_lru *m);

/** Lookups that hit, lookups in all, and entries evicted to make room. */
void bpt_lru_stats(struct bpt_lru *m, uint64_t *hits, uint64_t *lookups, uint64_t *evictions);

#endif
