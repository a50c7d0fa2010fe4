/*
 * Parsed certificates kept by the SHA-256 of their DER, so that a certificate a context sees
 * again (a root's copy, an intermediate every chip of a platform shares, the collateral's issuer
 * chains, the context's own certificates) is decoded once: OpenSSL 3.0 decodes a certificate's
 * key through its decoder framework, which costs more than a P-256 signature check. Only parsing
 * is saved: every chain and signature is still verified by whoever uses the certificate.
 * A bounded LRU (core/lru.h). Threads: safe from any thread; the X509 objects handed out are
 * shared (read-only use, as OpenSSL's own trust stores share them).
 */
#ifndef BPT_ATTESTATION_PKI_CERT_CACHE_H
#define BPT_ATTESTATION_PKI_CERT_CACHE_H

#include <blueprint-tee/common.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/** Parsed certificates a context keeps. */
#define BPT_CERT_CACHE_ENTRIES 1024

struct bpt_cert_cache;

/** @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_MUST_USE int bpt_cert_cache_new(struct bpt_cert_cache **out, size_t capacity);
void bpt_cert_cache_free(struct bpt_cert_cache *c);

/**
 * The certificate whose DER is exactly @p der (the whole input): a new reference to the one kept,
 * else parsed now (and kept). @p c NULL: parsed now, kept nowhere.
 * @return 0; BPT_EMALFORMED "<what>: not a DER certificate" or trailing bytes.
 */
BPT_MUST_USE int bpt_cert_cache_der(X509 **out, struct bpt_cert_cache *c, const uint8_t *der,
                                    size_t len, const char *what);

/**
 * Fill @p c's extension cache now. OpenSSL fills it on a certificate's first use in a
 * verification, under the certificate's lock, while other verifications read fields of it
 * without that lock: a certificate that threads share (trust roots and certificates of a
 * context, pinned roots, every certificate kept here) must have it filled while one thread holds
 * it. Every certificate the library parses is settled when parsed (bpt_cert_cache_der(),
 * bpt_pki_pinned_load()).
 */
void bpt_cert_settle(X509 *c);

/** Lookups that found the certificate, and lookups in all. */
void bpt_cert_cache_stats(const struct bpt_cert_cache *c, uint64_t *hits, uint64_t *lookups);

#endif
