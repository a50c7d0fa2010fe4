/**
 * @file evidence.h
 * Evidence kinds, and the view of evidence that verifiers (built-in and plugins, sys/verifier.h)
 * are handed: its bytes, the kind it was recognised as, and any collateral carried with it (a
 * report JSON's "collateral": certificates, TDX collateral).
 *
 * Threads: reentrant; a bpt_evidence is borrowed for the length of one verification.
 */
#ifndef BPT_EVIDENCE_H
#define BPT_EVIDENCE_H

#include "common.h"

BPT_BEGIN_DECLS

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

/** Name of an evidence kind ("sev_snp_report", "jwt", ...); "unknown" otherwise. */
BPT_API const char *bpt_evidence_kind_name(bpt_evidence_kind k);

/** Evidence being verified (opaque; borrowed). */
typedef struct bpt_evidence bpt_evidence;

/** The evidence bytes (borrowed for the verification); *len_out gets their length. */
BPT_API const uint8_t *bpt_evidence_bytes(const bpt_evidence *ev, size_t *len_out);

/** The kind the bytes were recognised as (BPT_EVIDENCE_UNKNOWN for a plugin's own format). */
BPT_API bpt_evidence_kind bpt_evidence_get_kind(const bpt_evidence *ev);

/**
 * The collateral carried with the evidence (the report JSON's "collateral" object) as JSON text.
 * @param[out] out free with bpt_free().
 * @return 0; BPT_ENOTFOUND (none carried); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_evidence_collateral_json(char **out, const bpt_evidence *ev);

BPT_END_DECLS

#endif
