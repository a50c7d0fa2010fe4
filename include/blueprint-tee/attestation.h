/**
 * @file attestation.h
 * The attestation model (the Rust crate's attestation::report and ::claims): measurements,
 * public-key bindings, typed claims and AttestationReport, with the JSON form of DESIGN.md §5.
 *
 * Threads: a bpt_report or bpt_claims is one object, one thread while it is being changed;
 * once built it is immutable and may be read from many threads. Reports inside a
 * bpt_verified are immutable.
 */
#ifndef BPT_ATTESTATION_H
#define BPT_ATTESTATION_H

#include "common.h"
#include "provider.h"

BPT_BEGIN_DECLS

/** Largest digest a measurement holds (SHA-512). */
#define BPT_MEASUREMENT_MAX_BYTES 64

/** A hardware or platform measurement: algorithm name and lowercase hex digest. */
typedef struct bpt_measurement {
    char algorithm[16];                             /**< "sha384", "sha256", ... */
    char digest[2 * BPT_MEASUREMENT_MAX_BYTES + 1]; /**< lowercase hex */
} bpt_measurement;

/**
 * Fill @p out from an algorithm and a hex digest (any case; stored lowercase).
 * @return 0; BPT_EINVAL (bad hex, too long, empty algorithm).
 */
BPT_API BPT_MUST_USE int bpt_measurement_set(bpt_measurement *out, const char *algorithm,
                                             const char *hex_digest);

/** Fill @p out from raw digest bytes. @return 0; BPT_EINVAL (too long). */
BPT_API BPT_MUST_USE int bpt_measurement_set_bytes(bpt_measurement *out, const char *algorithm,
                                                   const uint8_t *digest, size_t len);

/** Equality of algorithm and digest (digests compared in constant time). */
BPT_API bool bpt_measurement_equal(const bpt_measurement *a, const bpt_measurement *b);

/** Typed claims (the Rust AttestationClaims). */
typedef struct bpt_claims bpt_claims;

/** Opaque attestation report (the Rust AttestationReport). */
typedef struct bpt_report bpt_report;

/**
 * Make an empty report for @p provider and @p format.
 * @param[out] out free with bpt_report_free().
 * @return 0; BPT_EINVAL (unknown provider/format); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_report_new(bpt_report **out, bpt_provider provider, bpt_format format);

/**
 * Make an empty report for a plugin's own provider and format (sys/verifier.h): names of the
 * form "<vendor>.<name>" (bpt_custom_name_is_valid()). Its provider is BPT_PROVIDER_CUSTOM and
 * its format BPT_FORMAT_CUSTOM; the names go into its JSON.
 * @return 0; BPT_EINVAL (a name that is not of that form); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_report_new_custom(bpt_report **out, const char *provider_name,
                                               const char *format_name);

/** Deep copy. @return 0; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_report_clone(bpt_report **out, const bpt_report *r);

/** Free a report; NULL does nothing. */
BPT_API void bpt_report_free(bpt_report *r);

BPT_API bpt_provider bpt_report_provider(const bpt_report *r);
BPT_API bpt_format bpt_report_format(const bpt_report *r);
/** The provider's and format's names as the JSON spells them (a custom provider's own). */
BPT_API const char *bpt_report_provider_name(const bpt_report *r);
BPT_API const char *bpt_report_format_name(const bpt_report *r);
BPT_API uint64_t bpt_report_issued_at(const bpt_report *r);
BPT_API void bpt_report_set_issued_at(bpt_report *r, uint64_t unix_secs);

/** The measurement (borrowed). Empty algorithm and digest when unset. */
BPT_API const bpt_measurement *bpt_report_measurement(const bpt_report *r);
BPT_API void bpt_report_set_measurement(bpt_report *r, const bpt_measurement *m);

/** The raw evidence (borrowed); *len_out receives its length. */
BPT_API const uint8_t *bpt_report_evidence(const bpt_report *r, size_t *len_out);

/** Replace the evidence with a copy. @return 0; BPT_ELIMIT (over the evidence limit); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_report_set_evidence(bpt_report *r, const uint8_t *ev, size_t len);

/** SHA-256 of the evidence as 64 lowercase hex digits plus NUL into @p out. */
BPT_API void bpt_report_evidence_digest(char out[65], const bpt_report *r);

/**
 * true if now - issued_at > max_age_secs (the Rust is_expired, with the time passed in so
 * callers can fix it; pass bpt_time_now() for the present).
 */
BPT_API bool bpt_report_is_expired(const bpt_report *r, uint64_t max_age_secs, int64_t now);

/**
 * Set the public-key binding (the Rust PublicKeyBinding): key bytes, key type ("x25519",
 * "ed25519", "secp256k1", ...) and the binding digest as hex.
 * @return 0; BPT_EINVAL; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_report_set_key_binding(bpt_report *r, const uint8_t *public_key,
                                                    size_t len, const char *key_type,
                                                    const char *binding_digest_hex);

/**
 * The public-key binding, or NULL when the report has none. Returned pointers are borrowed.
 * @param[out] len_out key length; key_type_out, digest_out may be NULL.
 */
BPT_API const uint8_t *bpt_report_key_binding(const bpt_report *r, size_t *len_out,
                                              const char **key_type_out, const char **digest_out);

/** The claims (borrowed; mutable through bpt_report_claims_mut() while building). */
BPT_API const bpt_claims *bpt_report_claims(const bpt_report *r);
BPT_API bpt_claims *bpt_report_claims_mut(bpt_report *r);

/**
 * Optional collateral carried with the report (certificates, TDX collateral) as JSON text,
 * or NULL. Free the returned text with bpt_free().
 * @return 0; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_report_collateral_json(char **out, const bpt_report *r);

/**
 * Parse the report JSON of DESIGN.md §5. Byte fields are accepted as hex or base64 strings or
 * as arrays of integers (the Rust serde form). Unknown top-level keys are refused; an unknown
 * provider or format is refused unless it is a plugin's "<vendor>.<name>".
 * @return 0; BPT_EMALFORMED (not JSON); BPT_EINVAL (a field, named in the message);
 *         BPT_ELIMIT (over a size limit).
 */
BPT_API BPT_MUST_USE int bpt_report_from_json(bpt_report **out, const char *json, size_t len);

/** Serialise to the JSON of DESIGN.md §5 (evidence base64). Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_report_to_json(char **out, const bpt_report *r);

/* ---- nonces --------------------------------------------------------------------------- */

/** The longest nonce (a Nitro document's nonce field holds 512 bytes). */
#define BPT_NONCE_MAX_BYTES 512

/**
 * Where evidence carries a nonce. One rule for every provider, shared by the attester
 * (bpt_attest_nonce()) and the verifiers (the policy's expected_nonce); a nonce is its bytes,
 * the text as given (never hex- or base64-decoded):
 * - SEV-SNP and TDX evidence has no nonce field: its 64 bytes of report data are
 *   SHA-512(nonce) (BPT_NONCE_IN_REPORT_DATA);
 * - an AWS Nitro document's nonce field holds the nonce's bytes; a GCP Confidential Space
 *   token's eat_nonce holds it (as one of its values); an Azure MAA token's nonce claim, or
 *   x-ms-runtime.client-payload.nonce, is it (BPT_NONCE_IN_NONCE_FIELD).
 */
typedef enum bpt_nonce_binding {
    BPT_NONCE_IN_REPORT_DATA = 1, /**< report data = SHA-512(nonce) */
    BPT_NONCE_IN_NONCE_FIELD      /**< the evidence's nonce field holds the nonce's bytes */
} bpt_nonce_binding;

/**
 * Bind @p nonce into evidence of @p provider by the rule of bpt_nonce_binding.
 * @param[out] where     where the nonce goes.
 * @param[out] report_data with BPT_NONCE_IN_REPORT_DATA, the 64 bytes of report data that bind
 *                       the nonce; zeros otherwise.
 * @param nonce, len     1..BPT_NONCE_MAX_BYTES bytes.
 * @return 0; BPT_EINVAL (NULL, empty or too long a nonce, a provider that is not built in).
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_nonce_bind(bpt_nonce_binding *where, uint8_t report_data[64],
                                        bpt_provider provider, const uint8_t *nonce, size_t len);

/* ---- claims -------------------------------------------------------------------------- */

BPT_API bool bpt_claims_debug_mode(const bpt_claims *c);
BPT_API void bpt_claims_set_debug_mode(bpt_claims *c, bool debug);

/** platform_version, signer_id, product_id: borrowed text or NULL when unset. */
BPT_API const char *bpt_claims_platform_version(const bpt_claims *c);
BPT_API const char *bpt_claims_signer_id(const bpt_claims *c);
BPT_API const char *bpt_claims_product_id(const bpt_claims *c);
/** Set (copy) or clear (NULL) a text claim. @return 0; BPT_ENOMEM. */
BPT_API BPT_MUST_USE int bpt_claims_set_platform_version(bpt_claims *c, const char *v);
BPT_API BPT_MUST_USE int bpt_claims_set_signer_id(bpt_claims *c, const char *v);
BPT_API BPT_MUST_USE int bpt_claims_set_product_id(bpt_claims *c, const char *v);

/** Boot measurements ("pcr0:<hex>", "rtmr1:<hex>", ...). */
BPT_API size_t bpt_claims_boot_measurement_count(const bpt_claims *c);
BPT_API const char *bpt_claims_boot_measurement(const bpt_claims *c, size_t i);
BPT_API BPT_MUST_USE int bpt_claims_add_boot_measurement(bpt_claims *c, const char *m);

/** user_data bytes (borrowed) or NULL when unset. */
BPT_API const uint8_t *bpt_claims_user_data(const bpt_claims *c, size_t *len_out);
BPT_API BPT_MUST_USE int bpt_claims_set_user_data(bpt_claims *c, const uint8_t *p, size_t len);

/**
 * A custom claim as JSON text (free with bpt_free()).
 * @return 0; BPT_ENOTFOUND when absent; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_claims_custom_json(char **out, const bpt_claims *c, const char *key);

/** Set a custom claim from JSON text (any JSON value). @return 0; BPT_EMALFORMED; BPT_ELIMIT. */
BPT_API BPT_MUST_USE int bpt_claims_set_custom_json(bpt_claims *c, const char *key,
                                                    const char *json_value);

BPT_END_DECLS

#endif
