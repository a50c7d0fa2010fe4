/**
 * @file jwt.h
 * JWT attestation tokens: Azure Attestation (MAA) and GCP Confidential Space (docs/jwt.md).
 * A token is a JWS compact serialisation signed with RS256/384/512, PS256/384/512, ES256 or
 * ES384 (never `none` or HMAC) and naming its key with `kid`; it is checked against a JWK set,
 * then its time (exp, nbf, iat at the policy's time `at`), audience, issuer and claims.
 *
 * Keys come from, in this order: the policy's JWKS document (bpt_policy_set_jwks_json(),
 * `bpt verify --jwks FILE`), the policy's `jwt.jwks_file`, else a JWKS URL: the policy's
 * (bpt_policy_set_jwks_url(), `jwt.jwks_url`), else the provider's — for GCP the jwks_uri of
 * https://confidentialcomputing.googleapis.com/.well-known/openid-configuration, for MAA
 * `<issuer>/certs` of an instance the policy names in `jwt.issuers`. URLs are fetched with
 * libcurl (https, or http to loopback; no redirects; 256 KiB cap; time-out), through a
 * bpt_jwks_cache when the policy has one. Offline (bpt_policy_set_offline()) nothing is
 * fetched and a token whose key is not at hand fails with BPT_EKEYS.
 *
 * Threads: verification is reentrant; a policy with these settings is immutable once built and
 * may be shared; a bpt_jwks_cache is safe from any thread.
 */
#ifndef BPT_JWT_H
#define BPT_JWT_H

#include "clock.h"
#include "verify.h"

BPT_BEGIN_DECLS

/**
 * Verify a GCP Confidential Space token: issuer https://confidentialcomputing.googleapis.com
 * (and in jwt.issuers when the policy lists issuers), signature, exp/nbf/iat, audience, then
 * the policy: debug (dbgstat other than "disabled-since-boot", or absent), expected_nonce among
 * eat_nonce (a string or an array), expected_image_digest against
 * submods.container.image_digest, expected_measurement against that digest's 32 bytes.
 * The report's measurement is the image digest (sha256).
 * @param[out] out free with bpt_verified_free(); NULL on failure.
 * @param ev, ev_len the token text (trailing newlines allowed); borrowed.
 * @param policy borrowed; NULL means bpt_policy_new()'s production policy.
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE; BPT_ECLAIM; BPT_EKEYS; BPT_EFETCH;
 *         BPT_EUNSATISFIABLE (expected_report_data: these tokens carry none). See
 *         bpt_error_last().
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_gcp_confidential_verify(bpt_verified **out, const uint8_t *ev,
                                                     size_t ev_len, const bpt_policy *policy);

/**
 * Verify an Azure Attestation (MAA) token. Fails closed unless the caller chose the trust:
 * the issuer must be in the policy's jwt.issuers (keys then come from `<issuer>/certs`), or,
 * with no issuer list, the policy must name the JWKS (document, file or URL). Then signature,
 * exp/nbf/iat, audience, and by x-ms-attestation-type (sevsnpvm, tdxvm, or azurevm with
 * x-ms-isolation-tee): debug (x-ms-sevsnpvm-is-debuggable / tdx_td_attributes_debug), the
 * launch measurement (x-ms-sevsnpvm-launchmeasurement / tdx_mrtd) against expected_measurement,
 * expected_report_data against x-ms-sevsnpvm-reportdata / tdx_report_data, expected_nonce
 * against the nonce claim (else x-ms-runtime.client-payload.nonce), expected_image_digest
 * against x-ms-runtime.image_digest.
 * @return as bpt_gcp_confidential_verify(); BPT_EUNSATISFIABLE also without an issuer list or
 *         a JWKS source, and for other attestation types (SGX, VBS).
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_azure_maa_verify(bpt_verified **out, const uint8_t *ev, size_t ev_len,
                                              const bpt_policy *policy);

/**
 * A cache of JWK sets fetched over HTTPS, keyed by URL (16 URLs, oldest replaced): a set is
 * kept for its Cache-Control max-age (at most a day; no-store/no-cache: not kept; without one,
 * default_ttl_secs). A token whose kid is not in a fresh set refetches it, at most once per
 * refetch_secs; a failed fetch is likewise retried at most once per refetch_secs (until then
 * the failure is answered from memory). Only a fresh set answers: there is no stale fallback.
 * Threads: safe from any thread (one mutex, held during a fetch: other users of the cache wait
 * for it, at most its time-out).
 */
typedef struct bpt_jwks_cache bpt_jwks_cache;

/** Options for bpt_jwks_cache_new(). Initialise with BPT_JWKS_CACHE_OPTS_INIT. */
typedef struct bpt_jwks_cache_opts {
    unsigned version;          /**< BPT_JWKS_CACHE_OPTS_VERSION */
    const bpt_clock *clock;    /**< the cache's notion of now (copied; NULL: system time) */
    long timeout_ms;           /**< per fetch, 1..600000; 0: 5000 */
    uint64_t default_ttl_secs; /**< without Cache-Control max-age, 1..86400; 0: 300 */
    uint64_t refetch_secs;     /**< refetch interval for unknown kids and failures; 0: 60 */
} bpt_jwks_cache_opts;

#define BPT_JWKS_CACHE_OPTS_VERSION 1
#define BPT_JWKS_CACHE_OPTS_INIT                                                                   \
    {                                                                                              \
        BPT_JWKS_CACHE_OPTS_VERSION, NULL, 0, 0, 0                                                 \
    }

/**
 * Make a JWKS cache.
 * @param[out] out free with bpt_jwks_cache_free(); NULL on failure.
 * @param o options (copied; the clock's userdata must outlive the cache).
 * @return 0; BPT_EINVAL (wrong version or values out of range); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_jwks_cache_new(bpt_jwks_cache **out, const bpt_jwks_cache_opts *o);
/** Free; NULL does nothing. No policy in use may still point at it. */
BPT_API void bpt_jwks_cache_free(bpt_jwks_cache *c);
/**
 * Fetches attempted, and key lookups answered from a fresh cached set without a fetch.
 * Either out-pointer may be NULL; a NULL cache gives zeros. Threads: safe from any thread.
 */
BPT_API void bpt_jwks_cache_stats(const bpt_jwks_cache *c, uint64_t *fetches, uint64_t *hits);

/**
 * Let JWT verifications under @p p take URL keys through @p cache (borrowed: it must outlive
 * the policy's use; NULL detaches). Without a cache each verification that needs a URL fetches
 * it once (5 s time-out).
 */
BPT_API void bpt_policy_set_jwks_cache(bpt_policy *p, bpt_jwks_cache *cache);
/**
 * The JWKS URL to use instead of the provider's (policy `jwt.jwks_url`); NULL clears it.
 * @return 0; BPT_EINVAL (not https, nor http to 127.0.0.1 / localhost / [::1]; too long).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_jwks_url(bpt_policy *p, const char *url);
/**
 * Add an accepted token issuer (policy `jwt.issuers`), compared exactly with `iss`.
 * @return 0; BPT_EINVAL (empty or over 4096 bytes); BPT_ELIMIT (256 issuers); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_policy_add_jwt_issuer(bpt_policy *p, const char *issuer);
/**
 * Clock skew allowed for exp, nbf and iat (policy `jwt.leeway_secs`): 0..300 seconds, default
 * 60. @return 0; BPT_EINVAL (over 300).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_jwt_leeway(bpt_policy *p, uint64_t secs);

BPT_END_DECLS

#endif
