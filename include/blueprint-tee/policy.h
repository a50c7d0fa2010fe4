/**
 * @file policy.h
 * AttestationPolicy: what a relying party accepts — debug mode, freshness, measurements,
 * report data, nonce, audience, image digest, and the per-provider blocks (SEV-SNP TCB and
 * host data, TDX TCB statuses and registers, Nitro PCRs, JWT issuers). How a verification runs
 * (time, trust roots, certificates, collateral, fetching, caches) is the verification context's
 * business (context.h); a verifier (verify.h) pairs the two.
 *
 * The JSON form is DESIGN.md §5 (one file for every provider). Unknown keys are refused, so
 * a typo cannot weaken a policy. max_age_secs above 3600 is clamped (the Rust ceiling).
 *
 * Threads: build a policy on one thread; once built it is plain data: share it read-only, or
 * copy it with bpt_policy_clone() (a verifier keeps its own copy).
 */
#ifndef BPT_POLICY_H
#define BPT_POLICY_H

#include "common.h"
#include "provider.h"
#include "tcb.h"

BPT_BEGIN_DECLS

typedef struct bpt_policy bpt_policy;

/** The Rust crate's freshness ceiling. */
#define BPT_POLICY_MAX_AGE_CEILING_SECS 3600
/** Trusted SEV-SNP ID keys, and author keys, a policy holds (each). */
#define BPT_POLICY_MAX_SNP_KEYS 16
/** production() freshness. */
#define BPT_POLICY_PRODUCTION_MAX_AGE_SECS 600

/**
 * AttestationPolicy::production(): debug refused, max_age_secs 600, TDX accepts up_to_date
 * only, nothing else expected.
 * @param[out] out free with bpt_policy_free().
 * @return 0; BPT_EINVAL (@p out NULL); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_policy_new(bpt_policy **out);

/** A deep copy of @p p. @return 0; BPT_EINVAL (NULL); BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_policy_clone(bpt_policy **out, const bpt_policy *p);

/** Free; NULL does nothing. */
BPT_API void bpt_policy_free(bpt_policy *p);

/**
 * Load the policy JSON of DESIGN.md §5, starting from production() defaults.
 * @return 0; BPT_EMALFORMED (not JSON); BPT_EINVAL (a field, named in the message).
 */
BPT_API BPT_MUST_USE int bpt_policy_load_json(bpt_policy **out, const char *json, size_t len);

/** Serialise to the JSON of DESIGN.md §5. Free with bpt_free(). */
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

/**
 * Opt out of binding attestation tokens to this relying party (policy `insecure_any_audience`):
 * by default a GCP Confidential Space token needs an expected audience, and an Azure MAA token
 * an expected audience when it has `aud`, else an expected nonce or expected report data; a
 * policy with none is refused (BPT_EUNSATISFIABLE), since any token of the issuer, minted for
 * any relying party, would pass. With the opt-out such tokens verify, and the result carries a
 * warning saying so. Off in production().
 */
BPT_API void bpt_policy_set_insecure_any_audience(bpt_policy *p, bool yes);
BPT_API bool bpt_policy_insecure_any_audience(const bpt_policy *p);

BPT_API void bpt_policy_set_allow_debug(bpt_policy *p, bool allow);
BPT_API bool bpt_policy_allow_debug(const bpt_policy *p);
/** Set max_age_secs (0 = do not enforce); values above 3600 are clamped. Returns the value kept. */
BPT_API uint64_t bpt_policy_set_max_age(bpt_policy *p, uint64_t secs);
/** max_age_secs, or 0 when not enforced. */
BPT_API uint64_t bpt_policy_max_age(const bpt_policy *p);

/**
 * Expect a measurement (policy `expected_measurement`): "<hex>" or "<alg>:<hex>" with alg
 * sha256, sha384 or sha512, so that what `bpt verify` prints ("sha384:<hex>") can be fed back.
 * The hex must be a digest's length: 48 bytes (sha384: SEV-SNP, TDX MRTD, Nitro PCR0, Azure
 * MAA), 32 (sha256: the GCP image digest) or 64 (sha512); with an algorithm, that algorithm's.
 * Whether it suits a provider is checked by bpt_policy_check_provider() and at verification
 * (BPT_EUNSATISFIABLE). NULL clears.
 * @return 0; BPT_EINVAL (NULL @p p, not hex, an unknown algorithm, a wrong length).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_expected_measurement(bpt_policy *p, const char *value);

/**
 * Whether @p p's expectations can be met by evidence of @p provider at all, before any evidence
 * is seen: the expected measurement must have the provider's algorithm and length (SEV-SNP,
 * TDX MRTD, Nitro PCR0, Azure MAA: sha384, 48 bytes; GCP image digest: sha256, 32 bytes).
 * Verification makes the same check; a caller who knows the provider early (`bpt verify
 * --provider`) can refuse the policy while reading its input.
 * @return 0 (also for BPT_PROVIDER_UNKNOWN and plugins' providers); BPT_EUNSATISFIABLE naming
 *         the expectation and the provider's measurement; BPT_EINVAL (NULL @p p).
 */
BPT_API BPT_MUST_USE int bpt_policy_check_provider(const bpt_policy *p, bpt_provider provider);

/** Expectations; NULL clears. Hex inputs are validated. @return 0; BPT_EINVAL; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_policy_set_expected_report_data(bpt_policy *p, const char *hex);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_nonce(bpt_policy *p, const char *nonce);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_audience(bpt_policy *p, const char *aud);
BPT_API BPT_MUST_USE int bpt_policy_set_expected_image_digest(bpt_policy *p, const char *digest);

/**
 * Expect a TDX register: @p field is "mr_config_id", "mr_owner", "mr_owner_config", "mr_seam",
 * "rtmr0".."rtmr3" (48 bytes of hex) or "xfam", "seam_attributes" (8 bytes of hex, the quote's
 * byte order); @p hex NULL stops expecting it. The measurement (MRTD) is expected with
 * bpt_policy_set_expected_measurement(). @return 0; BPT_EINVAL naming the field.
 */
BPT_API BPT_MUST_USE int bpt_policy_set_tdx_expected(bpt_policy *p, const char *field,
                                                     const char *hex);

/**
 * Accepted TDX TCB statuses: a mask of (1u << bpt_tdx_tcb_status); production() accepts
 * up_to_date only. @return 0; BPT_EINVAL (empty or unknown bits).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_tdx_accepted_tcb(bpt_policy *p, unsigned mask);
BPT_API unsigned bpt_policy_tdx_accepted_tcb(const bpt_policy *p);

/*
 * SEV-SNP (policy `sev_snp` block). A new policy enforces none of these; each setter names the
 * policy file key it sets. Fields of the report are judged only once it is authenticated.
 */

/**
 * Expect an SEV-SNP report field to equal @p hex: "host_data" (32 bytes of hex), "family_id" or
 * "image_id" (16 bytes: the launch's ID block); NULL stops expecting it.
 * @return 0; BPT_EINVAL naming the field.
 */
BPT_API BPT_MUST_USE int bpt_policy_set_sev_snp_expected(bpt_policy *p, const char *field,
                                                         const char *hex);

/**
 * Trust a key that signed the launch's ID block, as the report gives it: @p field
 * "id_key_digests" (ID_KEY_DIGEST) or "author_key_digests" (AUTHOR_KEY_DIGEST), @p hex the
 * 48-byte SHA-384 digest of the key in the SEV-SNP ABI's public key format. Once a key of either
 * kind is trusted, a report must carry an ID key digest the policy trusts, or an author key
 * digest it trusts with AUTHOR_KEY_EN set (go-sev-guest's trusted ID/author key hashes).
 * @return 0; BPT_EINVAL (not 48 bytes of hex, unknown field); BPT_ELIMIT (more than
 *         BPT_POLICY_MAX_SNP_KEYS of a kind).
 */
BPT_API BPT_MUST_USE int bpt_policy_add_sev_snp_key_digest(bpt_policy *p, const char *field,
                                                           const char *hex);

/**
 * Set an SEV-SNP rule, named as its policy key:
 *  - "allow_smt" (default true): false refuses guests whose policy allows SMT (guest policy
 *    bit 16);
 *  - "allow_migration_agent" (default true): false refuses guests that may be associated with a
 *    migration agent (bit 18);
 *  - "require_single_socket" (default false): true refuses guests not restricted to a single
 *    socket (bit 20);
 *  - "require_author_key" (default false): true refuses reports without AUTHOR_KEY_EN or whose
 *    author key digest the policy does not trust (needs "author_key_digests");
 *  - "platform_smt_enabled", "platform_tsme_enabled" (default: not checked): the host's
 *    PLATFORM_INFO bit 0 (SMT enabled) / bit 1 (TSME enabled) must have this value.
 * @return 0; BPT_EINVAL (unknown rule).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_sev_snp_rule(bpt_policy *p, const char *rule, bool value);

/**
 * A minimum SEV-SNP version, "MAJOR.MINOR" with each part 0..255: @p field "min_abi" (the guest
 * policy's ABI_MAJOR.ABI_MINOR, the firmware ABI the guest's owner required at launch) or
 * "min_firmware_version" (the firmware's API version, current and committed); NULL stops
 * enforcing it. @return 0; BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_policy_set_sev_snp_min_version(bpt_policy *p, const char *field,
                                                            const char *major_minor);

/**
 * Minimum firmware build number (policy `min_build`), compared with the report's current and
 * committed build: 0..255, or -1 to stop enforcing it. @return 0; BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_policy_set_sev_snp_min_build(bpt_policy *p, int build);

/**
 * A component-wise minimum TCB: @p field "min_tcb" (the report's reported_tcb) or
 * "min_launch_tcb" (launch_tcb, the TCB the guest was launched on); fmc counts on Turin only.
 * NULL @p min stops enforcing it. @return 0; BPT_EINVAL (unknown field).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_sev_snp_min_tcb(bpt_policy *p, const char *field,
                                                        const bpt_snp_tcb *min);

/**
 * Add an accepted JWT issuer (policy `jwt.issuers`), compared exactly with `iss`.
 * @return 0; BPT_EINVAL (empty or over 4096 bytes); BPT_ELIMIT (256 issuers); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_policy_add_jwt_issuer(bpt_policy *p, const char *issuer);
/**
 * Clock skew allowed for exp, nbf and iat (policy `jwt.leeway_secs`): 0..300 seconds, default
 * 60. @return 0; BPT_EINVAL (over 300).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_jwt_leeway(bpt_policy *p, uint64_t secs);
/**
 * The JWKS URL this policy trusts its issuers' keys from (policy `jwt.jwks_url`); NULL clears.
 * A JWKS URL of the verification context (bpt_verify_ctx_set_jwks_url()) comes first.
 * @return 0; BPT_EINVAL (not https, nor http to 127.0.0.1 / localhost / [::1]; too long).
 */
BPT_API BPT_MUST_USE int bpt_policy_set_jwks_url(bpt_policy *p, const char *url);
/**
 * A JWKS file this policy trusts its issuers' keys from (policy `jwt.jwks_file`), read at
 * verification time; NULL clears. A JWKS document in the verification context comes first.
 * @return 0; BPT_EINVAL (too long); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_policy_set_jwks_file(bpt_policy *p, const char *path);

BPT_END_DECLS

#endif
