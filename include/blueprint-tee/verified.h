/**
 * @file verified.h
 * bpt_verified, the Rust VerifiedAttestation: a report that a verifier of this library
 * positively verified, with the report data it authenticated and the time it verified at. Only
 * the library's verify path makes one (verify.h, or a provider's own function); there is no
 * public constructor.
 *
 * Threads: a bpt_verified is immutable; share it freely.
 */
#ifndef BPT_VERIFIED_H
#define BPT_VERIFIED_H

#include "attestation.h"

BPT_BEGIN_DECLS

typedef struct bpt_verified bpt_verified;

/**
 * The most report data a result carries: SEV-SNP and TDX authenticate 64 bytes, a Nitro
 * document's user_data up to 512 (all of it is kept, never cut).
 */
#define BPT_VERIFIED_REPORT_DATA_MAX 512

/** The level of verification (the Rust VerificationLevel). */
typedef enum bpt_verification_level {
    BPT_VERIFICATION_STRUCTURAL = 0, /**< "structural" */
    BPT_VERIFICATION_CRYPTOGRAPHIC   /**< "cryptographic" */
} bpt_verification_level;

/** Free; NULL does nothing. */
BPT_API void bpt_verified_free(bpt_verified *v);

/** The verified report (borrowed until bpt_verified_free()). */
BPT_API const bpt_report *bpt_verified_report(const bpt_verified *v);
BPT_API bpt_provider bpt_verified_provider(const bpt_verified *v);
BPT_API bpt_verification_level bpt_verified_level(const bpt_verified *v);
/** The time the evidence was verified at (the context's `at`). */
BPT_API int64_t bpt_verified_at(const bpt_verified *v);
/**
 * The report data the evidence authenticated (borrowed), or NULL: SEV-SNP and TDX report_data
 * (64 bytes), Nitro user_data (all of it, up to BPT_VERIFIED_REPORT_DATA_MAX), an Azure MAA
 * token's report data.
 */
BPT_API const uint8_t *bpt_verified_report_data(const bpt_verified *v, size_t *len_out);

/** How many warnings the verification gave (a TCB with advisories, an opt-out used, ...). */
BPT_API size_t bpt_verified_warning_count(const bpt_verified *v);
/** Warning @p i (borrowed), or NULL past the last. */
BPT_API const char *bpt_verified_warning(const bpt_verified *v, size_t i);

/** The verification result JSON of DESIGN.md §5 ({"verified":true,...}). Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_verified_to_json(char **out, const bpt_verified *v);

/**
 * The failure JSON of DESIGN.md §5 for error @p code and @p message:
 * {"verified":false,"provider":..,"error":{"kind":..,"message":..}}. Free with bpt_free().
 */
BPT_API BPT_MUST_USE int bpt_verify_error_json(char **out, bpt_provider provider, int code,
                                               const char *message);

BPT_END_DECLS

#endif
