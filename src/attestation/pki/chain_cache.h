/*
 * Verified certificate chains keyed by a digest of their inputs (the caller's: certificates
 * given, trust roots, what the provider derived). A hit skips certificate parsing and chain
 * building, while every certificate's validity is still checked at the verification time.
 * Entries are evicted oldest first.
 * Threads: safe from any thread (one mutex).
 */
#ifndef BPT_ATTESTATION_PKI_CHAIN_CACHE_H
#define BPT_ATTESTATION_PKI_CHAIN_CACHE_H

#include <blueprint-tee/common.h>

#include <openssl/x509.h>

#define BPT_CHAIN_CACHE_BLOB 256

struct bpt_chain_cache;

/** @param max_entries 1..4096. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_MUST_USE int bpt_chain_cache_new(struct bpt_chain_cache **out, size_t max_entries);
void bpt_chain_cache_free(struct bpt_chain_cache *c);
/** Lookups that found a usable entry, and lookups in all. */
void bpt_chain_cache_stats(const struct bpt_chain_cache *c, uint64_t *hits, uint64_t *lookups);

/**
 * Look up @p key. A hit needs every certificate of the stored chain valid at @p at; then
 * *pkey (a new reference), @p blob (the provider's parsed facts) and, when @p chain_out is not
 * NULL, the chain leaf..root (new references) are filled. Returns 1 on a hit, 0 on a miss.
 */
int bpt_chain_cache_get(struct bpt_chain_cache *c, const uint8_t key[32], int64_t at,
                        EVP_PKEY **pkey, void *blob, size_t blob_len, STACK_OF(X509) * *chain_out);

/** Store a verified chain (references taken), the leaf key and the provider's facts. */
BPT_MUST_USE int bpt_chain_cache_put(struct bpt_chain_cache *c, const uint8_t key[32],
                                     STACK_OF(X509) * chain, EVP_PKEY *pkey, const void *blob,
                                     size_t blob_len);

#endif
