/*
 * Verified certificate chains keyed by a digest of their inputs (the caller's: certificates
 * given, trust roots, what the provider derived): a bounded LRU hash table (core/lru.h) of the
 * capacity the context was made with. A hit skips certificate parsing and chain building; the
 * chain's validity (the intersection of its certificates' windows, kept with the entry) is still
 * checked at the verification time.
 *
 * An entry holds the leaf's public key, the provider's facts (at most BPT_CHAIN_CACHE_BLOB
 * bytes, stored at their size) and, only when the provider asks for it, the chain itself (TDX
 * checks its PCK certificates against CRLs on every verification). Memory per entry, measured
 * (bench_caches, bench_tdx's fleet): about 2.6 KB for SEV-SNP and Nitro (OpenSSL's P-384 key
 * object is most of it), about 6.6 KB for TDX (the PCK certificate kept; its CA and root are
 * shared); docs/performance.md.
 * Threads: safe from any thread.
 */
#ifndef BPT_ATTESTATION_PKI_CHAIN_CACHE_H
#define BPT_ATTESTATION_PKI_CHAIN_CACHE_H

#include <blueprint-tee/common.h>

#include <stdbool.h>

#include <openssl/x509.h>

#define BPT_CHAIN_CACHE_BLOB 256

struct bpt_chain_cache;

/** @param max_entries 1..BPT_LRU_MAX_CAPACITY. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_MUST_USE int bpt_chain_cache_new(struct bpt_chain_cache **out, size_t max_entries);
void bpt_chain_cache_free(struct bpt_chain_cache *c);
/** Lookups that found a usable entry, and lookups in all. */
void bpt_chain_cache_stats(const struct bpt_chain_cache *c, uint64_t *hits, uint64_t *lookups);
/** Entries held now. */
size_t bpt_chain_cache_count(const struct bpt_chain_cache *c);

/**
 * Look up @p key. A hit needs @p at inside every certificate's validity window, the facts of
 * @p blob_len bytes, and, when @p chain_out is not NULL, an entry that kept its chain; then
 * *pkey (a new reference), @p blob (the provider's facts) and *chain_out (leaf..root, new
 * references) are filled. Returns 1 on a hit, 0 on a miss.
 */
int bpt_chain_cache_get(struct bpt_chain_cache *c, const uint8_t key[32], int64_t at,
                        EVP_PKEY **pkey, void *blob, size_t blob_len, STACK_OF(X509) * *chain_out);

/**
 * Store a verified chain's leaf key (a reference is taken) and the provider's facts, with the
 * chain's validity window; the chain itself (references taken) only when @p keep_chain.
 * @return 0; BPT_EINVAL (facts too large); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_chain_cache_put(struct bpt_chain_cache *c, const uint8_t key[32],
                                     STACK_OF(X509) * chain, bool keep_chain, EVP_PKEY *pkey,
                                     const void *blob, size_t blob_len);

#endif
