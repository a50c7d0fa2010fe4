/**
 * @file jwt.h
 * JWT attestation tokens: Azure Attestation (MAA) and GCP Confidential Space. Tokens are JWS
 * compact serialisations signed with RS256/384/512, PS256/384/512, ES256 or ES384 (never
 * `none` or HMAC), checked against a JWK set, then their time, audience and claims.
 *
 * Keys come from the policy: a JWKS document (bpt_policy_set_jwks_json, `--jwks FILE`,
 * policy `jwt.jwks_file`), else the JWKS URL (bpt_policy_set_jwks_url, policy `jwt.jwks_url`),
 * else the provider's: GCP's published signer keys, or `<issuer>/certs` for an MAA instance the
 * policy names in `jwt.issuers`. URLs are fetched with libcurl (https only, 256 KiB cap,
 * time-out) through a bpt_jwks_cache when the policy has one.
 *
 * Threads: verification is reentrant; a bpt_jwks_cache is safe from any thread.
 */
#ifndef BPT_JWT_H
#define BPT_JWT_H

#include "clock.h"
#include "verify.h"

BPT_BEGIN_DECLS

/**
 * Verify a GCP Confidential Space token: issuer https://confidentialcomputing.googleapis.com,
 * signature, exp/nbf/iat, audience, then the policy: expected_nonce in eat_nonce (a string or
 * an array), debug (dbgstat other than "disabled-since-boot"), expected_image_digest against
 * submods.container.image_digest, expected_measurement against the image digest's hex.
 * @param[out] out free with bpt_verified_free(); NULL on failure.
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE; BPT_ECLAIM; BPT_EKEYS; BPT_EFETCH;
 *         BPT_EUNSATISFIABLE (expected_report_data: the token has none).
 */
BPT_API BPT_MUST_USE int bpt_gcp_confidential_verify(bpt_verified **out, const uint8_t *ev,
                                                     size_t ev_len, const bpt_policy *policy);

/**
 * Verify an Azure Attestation token: the issuer must be in the policy's jwt.issuers (or the
 * policy names its JWKS), signature, exp/nbf/iat, audience, then by x-ms-attestation-type
 * (sevsnpvm, tdxvm, or azurevm with x-ms-isolation-tee): debug, the launch measurement
 * (x-ms-sevsnpvm-launchmeasurement / tdx_mrtd) against expected_measurement, nonce,
 * report_data (x-ms-sevsnpvm-reportdata / tdx_report_data).
 * @return as bpt_gcp_confidential_verify(); BPT_EUNSATISFIABLE also when no issuer allow-list
 *         or JWKS is configured (any issuer could otherwise sign), or for other attestation
 *         types.
 */
BPT_API BPT_MUST_USE int bpt_azure_maa_verify(bpt_verified **out, const uint8_t *ev, size_t ev_len,
                                              const bpt_policy *policy);

/** A cache of JWK sets fetched over HTTPS, keyed by URL. */
typedef struct bpt_jwks_cache bpt_jwks_cache;

/** Options for bpt_jwks_cache_new(). Initialise with BPT_JWKS_CACHE_OPTS_INIT. */
typedef struct bpt_jwks_cache_opts {
    unsigned version;
    const bpt_clock *clock;    /**< the cache's notion of now (not the verification time) */
    long timeout_ms;           /**< per fetch; 0: 5000 */
    uint64_t default_ttl_secs; /**< without Cache-Control max-age; 0: 300 */
    uint64_t refetch_secs;     /**< an unknown kid refetches at most this often; 0: 60 */
} bpt_jwks_cache_opts;

#define BPT_JWKS_CACHE_OPTS_VERSION 1
#define BPT_JWKS_CACHE_OPTS_INIT                                                                   \
    {                                                                                              \
        BPT_JWKS_CACHE_OPTS_VERSION, NULL, 0, 0, 0                                                 \
    }

/**
 * A JWKS cache honouring Cache-Control max-age (at most a day; no-store/no-cache: not kept),
 * refetching for an unknown kid at most once per refetch_secs.
 * Threads: safe from any thread; one fetch at a time (others wait up to its time-out).
 * @return 0; BPT_EINVAL; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_jwks_cache_new(bpt_jwks_cache **out, const bpt_jwks_cache_opts *o);
/** Free; NULL does nothing. No policy may still point at it. */
BPT_API void bpt_jwks_cache_free(bpt_jwks_cache *c);
/** Fetches made, and key lookups answered without a fetch. */
BPT_API void bpt_jwks_cache_stats(const bpt_jwks_cache *c, uint64_t *fetches, uint64_t *hits);

/** Let JWT verifications under @p p use @p cache (borrowed; NULL detaches). */
BPT_API void bpt_policy_set_jwks_cache(bpt_policy *p, bpt_jwks_cache *cache);
/** The JWKS URL to use instead of the provider's (https; http only to loopback). */
BPT_API BPT_MUST_USE int bpt_policy_set_jwks_url(bpt_policy *p, const char *url);
/** Add an accepted token issuer (the policy's jwt.issuers). @return 0; BPT_EINVAL; BPT_ELIMIT. */
BPT_API BPT_MUST_USE int bpt_policy_add_jwt_issuer(bpt_policy *p, const char *issuer);
/** Clock skew allowed for exp, nbf and iat: 0..300 seconds (default 60). @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_policy_set_jwt_leeway(bpt_policy *p, uint64_t secs);

/**
 * On a GCP Confidential Space VM: ask the launcher for an attestation token with
 * @p audience and up to 6 @p nonces (10..74 bytes each) over its unix socket (@p socket_path,
 * NULL: /run/container_launcher/teeserver.sock), POST /v1/token.
 * @param[out] token the JWT text, free with bpt_free().
 * @return 0; BPT_EINVAL; BPT_ENOTSUP (no launcher socket); BPT_EIO; BPT_EPROTOCOL (the
 *         launcher refused, status named); BPT_ELIMIT (answer over 64 KiB).
 */
BPT_API BPT_MUST_USE int bpt_gcp_launcher_token(char **token, const char *socket_path,
                                                const char *audience, const char *const *nonces,
                                                size_t n_nonces);

BPT_END_DECLS

#endif
