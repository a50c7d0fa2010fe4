/**
 * @file policy.h
 * AttestationPolicy: what a verifier must check, and the inputs it verifies with
 * (trust roots, certificates, collateral, JWKS, offline mode, cache).
 *
 * The JSON form is DESIGN.md §5 (one file for every provider). Unknown keys are refused, so
 * a typo cannot weaken a policy. max_age_secs above 3600 is clamped (the Rust ceiling).
 *
 * Threads: build a policy on one thread; once built it is immutable and may be shared by
 * threads verifying at the same time (a cache attached to it is itself thread-safe).
 */
#ifndef BPT_POLICY_H
#define BPT_POLICY_H

#include "common.h"

BPT_BEGIN_DECLS

typedef struct bpt_policy bpt_policy;

/** The Rust crate's freshness ceiling. */
#define BPT_POLICY_MAX_AGE_CEILING_SECS 3600
/** production() freshness. */
#define BPT_POLICY_PRODUCTION_MAX_AGE_SECS 600

/** TDX TCB statuses (snake_case names in JSON; Intel's CamelCase accepted on input). */
typedef enum bpt_tdx_tcb_status {
    BPT_TCB_UP_TO_DATE = 0,
    BPT_TCB_SW_HARDENING_NEEDED,
    BPT_TCB_CONFIGURATION_NEEDED,
    BPT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    BPT_TCB_OUT_OF_DATE,
    BPT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    BPT_TCB_REVOKED,
    BPT_TCB_STATUS_COUNT
} bpt_tdx_tcb_status;

/** "up_to_date", ...; "unknown" otherwise. */
BPT_API const char *bpt_tcb_status_name(bpt_tdx_tcb_status s);
/** Parse snake_case or Intel CamelCase ("UpToDate"). @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_tcb_status_parse(bpt_tdx_tcb_status *out, const char *name);

/**
 * AttestationPolicy::production(): debug refused, max_age_secs 600, pinned vendor roots,
 * TDX accepts up_to_date only, verification time "now" unless bpt_policy_set_at() fixes it.
 * @param[out] out free with bpt_policy_free().
 */
BPT_API BPT_MUST_USE int bpt_policy_new(bpt_policy **out);

/** Free; NULL does nothing. */
BPT_API void bpt_policy_free(bpt_policy *p);

/**
 * Load the policy JSON of DESIGN.md §5, starting from production() defaults.
 * @return 0; BPT_EMALFORMED (not JSON); BPT_EINVAL (a field, named in the message).
 */
BPT_API BPT_MUST_USE int bpt_policy_load_json(bpt_policy **out, const char *json, size_t len);

/** Serialise (without trust roots, certs or collateral). Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_policy_to_json(char **out, const bpt_policy *p);

/**
 * The Rust from_custom_config: production() + @p nonce, then the keys tee_expected_audience,
 * tee_expected_image_digest, tee_expected_measurement, tee_allow_debug, tee_max_age_secs
 * from the @p n pairs. tee_allow_debug=true is refused (ignored, with a warning logged)
 * unless the library is a testing build (BPT_TESTING); tee_max_age_secs is clamped to 3600.
 * Unknown keys are ignored (the map is a provisioner's whole custom config).
 */
BPT_API BPT_MUST_USE int bpt_policy_from_custom_config(bpt_policy **out, const char *const *keys,
                                                       const char *const *values, size_t n,
                                                       const char *nonce);

/** A fresh unguessable nonce: 32 lowercase hex digits (16 random bytes) into @p out. */
BPT_API BPT_MUST_USE int bpt_policy_fresh_nonce(char out[33]);

/** true if the policy pins audience or image digest (the Rust is_workload_bound). */
BPT_API bool bpt_policy_is_workload_bound(const bpt_policy *p);

BPT_API void bpt_policy_set_allow_debug(bpt_policy *p, bool allow);
BPT_API bool bpt_policy_allow_debug(const bpt_policy *p);
/** Set max_age_secs (0 = do not enforce); values above 3600 are clamped. Returns the value kept. */
BPT_API uint64_t bpt_policy_set_max_age(bpt_policy *p, uint64_t secs);
/** max_age_secs, or 0 when not enforced. */
BPT_API uint64_t bpt_policy_max_age(const bpt_policy *p);
/** Fix the verification time (unix seconds); without it verifiers use the present. */
BPT_API void bpt_policy_set_at(bpt_policy *p, int64_t unix_secs);
/** The verification time: the fixed one, or the present. */
BPT_API int64_t bpt_policy_at(const bpt_policy *p);

/** Expectations; NULL clears. Hex inputs are validated. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_policy_set_expected_measurement(bpt_policy *p, const char *hex);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_report_data(bpt_policy *p, const char *hex);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_nonce(bpt_policy *p, const char *nonce);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_audience(bpt_policy *p, const char *aud);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_image_digest(bpt_policy *p, const char *digest);

/**
 * Replace the pinned vendor roots with the certificates in @p pem (may be called repeatedly
 * to add more). Once called, only the added roots are trusted, for every provider.
 * @return 0; BPT_EINVAL (no certificate in the PEM); BPT_ELIMIT.
 */
BPT_API BPT_MUST_USE int bpt_policy_add_trust_root_pem(bpt_policy *p, const char *pem, size_t len);

/** Add caller-supplied certificates (DER or PEM; e.g. a VCEK and its chain). */
BPT_API BPT_MUST_USE int bpt_policy_add_certs(bpt_policy *p, const uint8_t *der_or_pem, size_t len);

/** Set provider collateral JSON (e.g. TDX collateral.json). */
BPT_API BPT_MUST_USE int bpt_policy_set_collateral_json(bpt_policy *p, const char *json,
                                                        size_t len);

/** Set a JWKS document (JSON) for JWT providers. */
BPT_API BPT_MUST_USE int bpt_policy_set_jwks_json(bpt_policy *p, const char *json, size_t len);

/** Forbid network fetches of keys and collateral (missing ones fail closed, kind keys). */
BPT_API void bpt_policy_set_offline(bpt_policy *p, bool offline);
/**
 * Base URL of AMD's Key Distribution Service for VCEK fetching (default
 * https://kdsintf.amd.com; plain http is accepted only for loopback addresses, for tests).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_kds_url(bpt_policy *p, const char *url);
/** On-disk cache directory for fetched collateral; NULL for none. */
BPT_API BPT_MUST_USE int bpt_policy_set_cache_dir(bpt_policy *p, const char *dir);

/**
 * A cache of verified certificate chains, shared by verifications: a hit (same certificates,
 * same trust roots) skips certificate parsing and chain building, while every certificate's
 * validity is still checked at the verification time and the evidence signature is still
 * verified. Entries are evicted oldest first.
 * Threads: safe from any thread (one mutex).
 */
typedef struct bpt_chain_cache bpt_chain_cache;

/** @param max_entries 1..4096. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_chain_cache_new(bpt_chain_cache **out, size_t max_entries);
/** Free; NULL does nothing. No policy may still point at it. */
BPT_API void bpt_chain_cache_free(bpt_chain_cache *c);
/** Lookups that found a usable entry, and lookups in all. */
BPT_API void bpt_chain_cache_stats(const bpt_chain_cache *c, uint64_t *hits, uint64_t *lookups);
/** Let verifications under @p p use @p cache (borrowed; NULL detaches). Used by SEV-SNP and Nitro.
 */
BPT_API void bpt_policy_set_chain_cache(bpt_policy *p, bpt_chain_cache *cache);

/** Base URL of a PCCS (or Intel PCS) for TDX collateral; default
 * https://api.trustedservices.intel.com. Plain http is accepted only for loopback addresses
 * (tests). */
BPT_API BPT_MUST_USE int bpt_policy_set_pccs_url(bpt_policy *p, const char *url);

/**
 * Accepted TDX TCB statuses: a mask of (1u << bpt_tdx_tcb_status); production() accepts
 * up_to_date only. @return 0; BPT_EINVAL (empty or unknown bits).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_tdx_accepted_tcb(bpt_policy *p, unsigned mask);
BPT_API unsigned bpt_policy_tdx_accepted_tcb(const bpt_policy *p);

/**
 * Expect a TDX register: @p field is "mr_config_id", "mr_owner", "mr_owner_config", "mr_seam",
 * "rtmr0".."rtmr3" (48 bytes of hex) or "xfam", "seam_attributes" (8 bytes of hex, the quote's
 * byte order); @p hex NULL stops expecting it. The measurement (MRTD) is expected with
 * bpt_policy_set_expected_measurement(). @return 0; BPT_EINVAL naming the field.
 */
BPT_API BPT_MUST_USE int bpt_policy_set_tdx_expected(bpt_policy *p, const char *field,
                                                     const char *hex);

/**
 * A cache of verified TDX collateral, shared by verifications: keyed by the fmspc, the trust
 * roots and the collateral's digest. A hit skips the collateral's signature and chain checks
 * (8 ECDSA verifications) while the verification time must still fall inside every date
 * window of the collateral (else it is verified again, and refused with the failing check).
 * Revocation of the quote's PCK certificate is still checked against the cached CRLs.
 * Threads: safe from any thread (one mutex).
 */
typedef struct bpt_collateral_cache bpt_collateral_cache;

/** @param max_entries 1..4096. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_collateral_cache_new(bpt_collateral_cache **out, size_t max_entries);
/** Free; NULL does nothing. No policy may still point at it. */
BPT_API void bpt_collateral_cache_free(bpt_collateral_cache *c);
/** Lookups that found a usable entry, and lookups in all. */
BPT_API void bpt_collateral_cache_stats(const bpt_collateral_cache *c, uint64_t *hits,
                                        uint64_t *lookups);
/** Let TDX verifications under @p p use @p cache (borrowed; NULL detaches). */
BPT_API void bpt_policy_set_collateral_cache(bpt_policy *p, bpt_collateral_cache *cache);

BPT_END_DECLS

#endif
