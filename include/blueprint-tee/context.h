/**
 * @file context.h
 * The verification context: how verifications run, apart from what they accept (policy.h).
 *
 * A context holds the time to verify at (the present unless fixed), the trust roots (the
 * pinned vendor roots unless replaced), extra certificates and collateral, where JWT keys come
 * from, where collateral is fetched from and cached on disk, whether fetching is allowed, a log
 * sink, the in-memory caches of verified certificate chains, verified TDX collateral and fetched
 * JWK sets, and the verifiers that can run (the built-in providers, and plugins added with
 * bpt_verify_ctx_add_verifier(), sys/verifier.h).
 *
 *   bpt_verify_ctx *ctx = NULL;
 *   if (bpt_verify_ctx_new(&ctx, NULL) < 0 ||                  // caches on, pinned roots, now
 *       bpt_verify_ctx_set_cache_dir(ctx, "/var/cache/bpt") < 0)
 *       return fail(bpt_error_last());
 *   // ... then share ctx between threads; each verifies with its own or a shared policy.
 *
 * Threads: configure a context on one thread. The first verification through it (or the first
 * bpt_verifier_new() on it) freezes it: from then on its setters fail with BPT_EBUSY, and any
 * number of threads may verify through it at once (its caches have their own locks). A context
 * is reference-counted: bpt_verifier_new() and bpt_verify_ctx_ref() take a reference,
 * bpt_verify_ctx_free() drops one; the last drop frees it.
 */
#ifndef BPT_CONTEXT_H
#define BPT_CONTEXT_H

#include "clock.h"
#include "common.h"
#include "log.h"

BPT_BEGIN_DECLS

typedef struct bpt_verify_ctx bpt_verify_ctx;

/** Options for bpt_verify_ctx_new(). Initialise with BPT_VERIFY_CTX_OPTS_INIT. */
typedef struct bpt_verify_ctx_opts {
    unsigned version;                /**< BPT_VERIFY_CTX_OPTS_VERSION */
    size_t chain_cache_entries;      /**< verified chains kept (SEV-SNP, TDX PCK, Nitro: one per
                                          chip or enclave), least recently used evicted first;
                                          as many decoded TDX attestation keys are kept;
                                          0..16777216, 0: no cache */
    size_t collateral_cache_entries; /**< verified TDX collateral sets kept (one per FMSPC and
                                          collateral version, ~145 KB each: the default 1024
                                          bounds them to ~150 MB); 0..16777216, 0: none */
    bool jwks_cache;                 /**< keep fetched JWK sets (else one fetch per token) */
    const bpt_clock *jwks_clock;     /**< the JWKS cache's notion of now (copied; NULL: system
                                          time; its userdata must outlive the context) */
    long jwks_timeout_ms;            /**< per JWKS fetch, 1..600000; 0: 5000 */
    uint64_t jwks_default_ttl_secs;  /**< without Cache-Control max-age, 1..86400; 0: 300 */
    uint64_t jwks_refetch_secs;      /**< refetch interval for unknown kids and failures; 0: 60 */
} bpt_verify_ctx_opts;

#define BPT_VERIFY_CTX_OPTS_VERSION 1
#define BPT_VERIFY_CTX_OPTS_INIT                                                                   \
    {                                                                                              \
        BPT_VERIFY_CTX_OPTS_VERSION, 65536, 1024, true, NULL, 0, 0, 0                              \
    }

/**
 * Make a context with the built-in verifiers of this build, the pinned vendor roots, the present
 * as its time, fetching allowed and no cache directory.
 * @param[out] out free with bpt_verify_ctx_free(); NULL on failure.
 * @param opts NULL for BPT_VERIFY_CTX_OPTS_INIT; copied.
 * @return 0; BPT_EINVAL (NULL @p out, wrong version, values out of range); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_new(bpt_verify_ctx **out, const bpt_verify_ctx_opts *opts);

/** Take a reference (for another owner); returns @p c. NULL gives NULL. Threads: any thread. */
BPT_API bpt_verify_ctx *bpt_verify_ctx_ref(bpt_verify_ctx *c);

/** Drop a reference; the last one frees the context and its caches. NULL does nothing. */
BPT_API void bpt_verify_ctx_free(bpt_verify_ctx *c);

/** true once a verification or a verifier has frozen the context. Threads: any thread. */
BPT_API bool bpt_verify_ctx_is_frozen(const bpt_verify_ctx *c);

/*
 * Setters. Each returns 0, or BPT_EBUSY once the context is frozen, BPT_EINVAL for a NULL
 * context or a bad value (named in the message), BPT_ELIMIT past a size limit, BPT_ENOMEM.
 */

/** Verify at @p unix_secs instead of the present (offline checks at a past instant). */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_at(bpt_verify_ctx *c, int64_t unix_secs);
/**
 * Take the verification time from @p clock (copied; NULL: the system's time), read once at the
 * start of each verification on the verifying thread: its function must be thread-safe and its
 * userdata must outlive the context. For a service whose notion of now is not the system's,
 * and for tests that move time under a frozen context (bpt_clock_fixed() over a variable).
 * Replaces a time fixed by bpt_verify_ctx_set_at(), and the reverse.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_clock(bpt_verify_ctx *c, const bpt_clock *clock);
/** The verification time: the fixed one, the clock's, or the present. Threads: any thread. */
BPT_API int64_t bpt_verify_ctx_at(const bpt_verify_ctx *c);

/**
 * Trust the certificates in @p der_or_pem (one DER certificate, or PEM text holding one or
 * more) instead of the pinned vendor roots; may be called repeatedly to add more. Once called,
 * only the added roots are trusted, for every provider, and intermediates (an SEV-SNP ASK or
 * ASVK, a TDX PCK CA, ...) must come with the evidence or from bpt_verify_ctx_add_certs(): the
 * pinned ones are not used either.
 * @return also BPT_EINVAL (not a certificate: neither DER nor PEM).
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_add_trust_roots(bpt_verify_ctx *c,
                                                        const uint8_t *der_or_pem, size_t len);

/**
 * The earlier name of bpt_verify_ctx_add_trust_roots(), kept for its callers: it takes the same
 * DER or PEM (the name says PEM, the certificate need not be).
 * @return as bpt_verify_ctx_add_trust_roots().
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_add_trust_root_pem(bpt_verify_ctx *c, const char *pem,
                                                           size_t len);
/** true when trust roots replace the pinned ones. */
BPT_API bool bpt_verify_ctx_has_trust_roots(const bpt_verify_ctx *c);

/**
 * Add certificates (one DER certificate, or PEM text of any number; e.g. a VCEK and its chain)
 * for chains to use. CRLs in the same PEM text are taken as bpt_verify_ctx_add_crl() takes them.
 * They are parsed now.
 * @return also BPT_EMALFORMED (not a DER certificate or CRL, no or a damaged PEM certificate or
 *         CRL), BPT_ELIMIT (over BPT_LIMIT_CERT_CHAIN_BYTES or too many certificates).
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_add_certs(bpt_verify_ctx *c, const uint8_t *der_or_pem,
                                                  size_t len);

/**
 * Add CRLs (one DER CRL, or PEM text of any number) for revocation checks. SEV-SNP uses a CRL
 * given here, issued by the chain's ARK, before its cache directory and AMD KDS; one whose issuer
 * is another is ignored, one from the ARK must verify (RSA-PSS by the ARK) and be valid at the
 * verification time. @return also BPT_EINVAL (not a CRL, or certificates in it).
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_add_crl(bpt_verify_ctx *c, const uint8_t *der_or_pem,
                                                size_t len);

/**
 * SEV-SNP revocation checking, on (true) by default: the ASK or ASVK (and a VCEK or VLEK the
 * CRL lists) must not be revoked by AMD's CRL for the product, taken from the CRLs given, else
 * the cache directory, else AMD KDS (/vcek/v1/{product}/crl, /vlek/v1/{product}/crl) unless
 * offline; with none to be had, verification fails closed (kind keys). false turns the check off
 * for verifiers that cannot get a CRL (no network, no cache): each verified result then carries
 * the warning "revocation not checked". TDX CRLs travel in its collateral and are always checked.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_revocation_check(bpt_verify_ctx *c, bool check);
/** Whether SEV-SNP revocation is checked (true for a NULL context: the default). */
BPT_API bool bpt_verify_ctx_revocation_check(const bpt_verify_ctx *c);

/**
 * Provider collateral JSON (TDX: the collateral of docs/tdx.md); NULL clears. It is parsed here
 * once (when it parses: otherwise each verification reports what is wrong with it); every
 * verification still checks all of its signatures, chains, CRLs and dates at its own time.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_collateral_json(bpt_verify_ctx *c, const char *json,
                                                            size_t len);

/**
 * A JWK set document for JWT providers, parsed now (a bad set is refused here); NULL clears.
 * Keys come first from it, then from the context's JWKS URL, then from the policy's
 * `jwt.jwks_file` and `jwt.jwks_url`, then from the provider's own URL.
 * @return also BPT_EMALFORMED (not a JWK set).
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_jwks_json(bpt_verify_ctx *c, const char *json,
                                                      size_t len);
/** A JWKS URL (https, or http to loopback) for JWT providers; NULL clears. */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_jwks_url(bpt_verify_ctx *c, const char *url);

/** Forbid network fetches of keys and collateral (missing ones fail closed, kind keys). */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_offline(bpt_verify_ctx *c, bool offline);
BPT_API bool bpt_verify_ctx_offline(const bpt_verify_ctx *c);

/**
 * Base URL of AMD's Key Distribution Service for VCEK fetching (default https://kdsintf.amd.com;
 * plain http only to loopback addresses, for tests); NULL restores the default.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_kds_url(bpt_verify_ctx *c, const char *url);
/**
 * Base URL of a PCCS (or Intel PCS) for TDX collateral (default
 * https://api.trustedservices.intel.com; plain http only to loopback); NULL restores it.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_pccs_url(bpt_verify_ctx *c, const char *url);
/**
 * On-disk cache directory for fetched collateral (VCEKs and AMD CRLs, TDX collateral); NULL for
 * none. A fetched AMD CRL is stored only after it verified, and used until its nextUpdate.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_cache_dir(bpt_verify_ctx *c, const char *dir);

/**
 * Send what verifications through this context log (collateral fetched, cache events) to
 * @p fn at @p min_level and above instead of the process-wide sink (log.h); NULL @p fn
 * restores the process-wide sink. @p fn is called on the verifying thread and must be
 * thread-safe; @p userdata must outlive the context.
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_set_log_sink(bpt_verify_ctx *c, bpt_log_fn fn,
                                                     void *userdata, bpt_log_level min_level);

/** The context's in-memory caches. */
typedef enum bpt_verify_cache {
    BPT_CACHE_CHAIN = 0,  /**< verified certificate chains (SEV-SNP, TDX PCK, Nitro) */
    BPT_CACHE_COLLATERAL, /**< verified TDX collateral */
    BPT_CACHE_JWKS        /**< fetched JWK sets: misses are fetches */
} bpt_verify_cache;

/**
 * Lookups a cache answered (@p hits) and did not (@p misses); either pointer may be NULL; a
 * cache the context does not keep gives zeros. Threads: any thread.
 */
BPT_API void bpt_verify_ctx_cache_stats(const bpt_verify_ctx *c, bpt_verify_cache which,
                                        uint64_t *hits, uint64_t *misses);

BPT_END_DECLS

#endif
