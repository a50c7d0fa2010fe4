/* Verified chains keyed by a digest of their inputs (see bpt_chain_cache in policy.h). */
#ifndef BPT_ATTESTATION_PKI_CHAIN_CACHE_H
#define BPT_ATTESTATION_PKI_CHAIN_CACHE_H

#include <blueprint-tee/policy.h>

#include <openssl/x509.h>

#define BPT_CHAIN_CACHE_BLOB 256

/**
 * Look up @p key. A hit needs every certificate of the stored chain valid at @p at; then
 * *pkey (a new reference), @p blob (the provider's parsed facts) and, when @p chain_out is not
 * NULL, the chain leaf..root (new references) are filled. Returns 1 on a hit, 0 on a miss.
 */
int bpt_chain_cache_get(bpt_chain_cache *c, const uint8_t key[32], int64_t at, EVP_PKEY **pkey,
                        void *blob, size_t blob_len, STACK_OF(X509) * *chain_out);

/** Store a verified chain (references taken), the leaf key and the provider's facts. */
int bpt_chain_cache_put(bpt_chain_cache *c, const uint8_t key[32], STACK_OF(X509) * chain,
                        EVP_PKEY *pkey, const void *blob, size_t blob_len);

#endif
