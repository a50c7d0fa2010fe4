/**
 * @file verify.h
 * Verifying evidence: the dispatcher that recognises evidence and routes it to the
 * provider's verifier, and bpt_verified (the Rust VerifiedAttestation), which only the
 * library's verify path can make.
 *
 * Every verifier fails closed: anything not positively verified is an error, and *out is NULL.
 * Order of checks: parse, signatures and chain, then claims against the policy.
 *
 * Threads: verification is reentrant; a bpt_verified is immutable; share it freely.
 */
#ifndef BPT_VERIFY_H
#define BPT_VERIFY_H

#include "attestation.h"
#include "policy.h"

BPT_BEGIN_DECLS

typedef struct bpt_verified bpt_verified;

/** The level of verification (the Rust VerificationLevel). */
typedef enum bpt_verification_level {
    BPT_VERIFICATION_STRUCTURAL = 0, /**< "structural" */
    BPT_VERIFICATION_CRYPTOGRAPHIC   /**< "cryptographic" */
} bpt_verification_level;

/** What a byte string looks like, before any verification. */
typedef enum bpt_evidence_kind {
    BPT_EVIDENCE_UNKNOWN = 0,
    BPT_EVIDENCE_SEV_SNP_REPORT, /**< 1184-byte SNP attestation report */
    BPT_EVIDENCE_TDX_QUOTE,      /**< DCAP quote v4/v5 with TEE type TDX */
    BPT_EVIDENCE_SGX_QUOTE,      /**< DCAP quote with TEE type SGX (recognised, not verified) */
    BPT_EVIDENCE_NITRO_COSE,     /**< CBOR COSE_Sign1, tagged or untagged */
    BPT_EVIDENCE_JWT,            /**< JWS compact text (Azure MAA, GCP) */
    BPT_EVIDENCE_REPORT_JSON     /**< the report JSON of DESIGN.md §5 */
} bpt_evidence_kind;

/** Name of an evidence kind ("sev_snp_report", "jwt", ...). */
BPT_API const char *bpt_evidence_kind_name(bpt_evidence_kind k);

/** Recognise evidence by its structure (no cryptography). Never fails. */
BPT_API bpt_evidence_kind bpt_evidence_recognise(const uint8_t *ev, size_t len);

/**
 * The provider whose verifier takes this evidence (a JWT: GCP when its issuer is
 * Confidential Space, else Azure MAA); BPT_PROVIDER_UNKNOWN when not recognised. Never fails.
 */
BPT_API bpt_provider bpt_evidence_provider(const uint8_t *ev, size_t len);

/**
 * Normalise evidence as a user may hand it over (raw binary, base64, hex, JWT text, report
 * JSON) to the bytes a verifier takes: base64/hex text of a binary format is decoded; JWT and
 * JSON text is kept. Surrounding whitespace is trimmed.
 * @param[out] out, out_len free *out with bpt_free().
 * @return 0; BPT_ELIMIT (over the evidence limit); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_evidence_decode(uint8_t **out, size_t *out_len, const uint8_t *in,
                                             size_t len);

/**
 * Verify evidence under @p policy at the policy's time.
 * @param[out] out verified attestation on success, else NULL; free with bpt_verified_free().
 * @param ev, ev_len evidence bytes (as bpt_evidence_decode() leaves them); borrowed.
 * @param provider BPT_PROVIDER_UNKNOWN recognises the evidence; a named provider is enforced
 *        (evidence of another kind is refused, no fallback).
 * @param policy borrowed; NULL means production().
 * @return 0; BPT_EMALFORMED, BPT_ESIGNATURE, BPT_ECLAIM, BPT_EKEYS, BPT_EFETCH,
 *         BPT_EUNSATISFIABLE (no verifier for this evidence, or provider not built).
 */
BPT_API BPT_MUST_USE int bpt_verify(bpt_verified **out, const uint8_t *ev, size_t ev_len,
                                    bpt_provider provider, const bpt_policy *policy);

/**
 * Verify a report (JSON form): its evidence is verified as by bpt_verify() with its provider
 * enforced; collateral carried in the report is used when the policy has none.
 */
BPT_API BPT_MUST_USE int bpt_verify_report(bpt_verified **out, const bpt_report *report,
                                           const bpt_policy *policy);

/** Free; NULL does nothing. */
BPT_API void bpt_verified_free(bpt_verified *v);

/** The verified report (borrowed until bpt_verified_free()). */
BPT_API const bpt_report *bpt_verified_report(const bpt_verified *v);
BPT_API bpt_provider bpt_verified_provider(const bpt_verified *v);
BPT_API bpt_verification_level bpt_verified_level(const bpt_verified *v);
/** The time the evidence was verified at (the policy's `at`). */
BPT_API int64_t bpt_verified_at(const bpt_verified *v);
/** The report_data / user data the evidence carries (borrowed), or NULL. */
BPT_API const uint8_t *bpt_verified_report_data(const bpt_verified *v, size_t *len_out);

/** The verification result JSON of DESIGN.md §5 ({"verified":true,...}). Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_verified_to_json(char **out, const bpt_verified *v);

/**
 * The failure JSON of DESIGN.md §5 for error @p code and this thread's message:
 * {"verified":false,"provider":..,"error":{"kind":..,"message":..}}. Free with bpt_free().
 */
BPT_API BPT_MUST_USE int bpt_verify_error_json(char **out, bpt_provider provider, int code,
                                               const char *message);

BPT_END_DECLS

#endif
