/* Verified TDX collateral keyed by a digest of its inputs (see bpt_collateral_cache in policy.h).
 */
#ifndef BPT_ATTESTATION_COLLATERAL_CACHE_H
#define BPT_ATTESTATION_COLLATERAL_CACHE_H

#include "attestation/providers/tdx_internal.h"

/**
 * Look up @p key. A hit needs @p at inside the entry's date window; then *out is a new
 * reference (tdx_collateral_release it). Returns 1 on a hit, 0 on a miss.
 */
int bpt_collateral_cache_get(bpt_collateral_cache *c, const uint8_t key[32], int64_t at,
                             struct tdx_collateral **out);

/** Store verified collateral under @p key (a reference is taken). */
void bpt_collateral_cache_put(bpt_collateral_cache *c, const uint8_t key[32],
                              struct tdx_collateral *col);

#endif
