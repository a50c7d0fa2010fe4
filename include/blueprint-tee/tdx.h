/**
 * @file tdx.h
 * Intel TDX: DCAP quote parsing (quote versions 4 and 5, TD report bodies 1.0 and 1.5) and
 * verification as Intel's Quote Verification Library does it, down to the pinned Intel SGX
 * Root CA: the PCK certificate chain and both CRLs, the QE report and its binding to the
 * attestation key, the quote signature, TCB Info and QE Identity (signatures, dates, fmspc,
 * pceId), the TCB level and TDX module identity, then the policy.
 *
 * Collateral (the JSON of docs/tdx.md: CRLs, TCB Info, QE Identity and their issuer chains)
 * comes from the verification context (bpt_verify_ctx_set_collateral_json, `--collateral`) or
 * a report's "collateral", else from the context's on-disk cache, else from Intel PCS or a PCCS
 * (bpt_verify_ctx_set_pccs_url) unless the context is offline.
 *
 * Threads: reentrant; the parsed structs are plain data.
 */
#ifndef BPT_TDX_H
#define BPT_TDX_H

#include "context.h"
#include "policy.h"
#include "verified.h"

BPT_BEGIN_DECLS

#define BPT_TDX_HEADER_SIZE 48
#define BPT_TDX_BODY10_SIZE 584 /**< TD report body, TDX 1.0 */
#define BPT_TDX_BODY15_SIZE 648 /**< TD report body, TDX 1.5 (adds tee_tcb_svn2, mr_servicetd) */
#define BPT_SGX_REPORT_BODY_SIZE 384
#define BPT_TDX_TEE_TYPE 0x81u
#define BPT_TDX_ATT_KEY_ECDSA_P256 2u

/** TD attribute bits (td_attributes as a little-endian u64). */
#define BPT_TDX_ATTR_DEBUG (1ull << 0)
#define BPT_TDX_ATTR_SEPT_VE_DISABLE (1ull << 28)
#define BPT_TDX_ATTR_PKS (1ull << 30)
#define BPT_TDX_ATTR_KL (1ull << 31)
#define BPT_TDX_ATTR_PERFMON (1ull << 63)

/** An SGX enclave report body (here: the Quoting Enclave's report). */
typedef struct bpt_sgx_report_body {
    uint8_t cpu_svn[16];
    uint32_t misc_select;
    uint8_t isv_ext_prod_id[16];
    uint8_t attributes[16];
    uint8_t mr_enclave[32];
    uint8_t mr_signer[32];
    uint8_t config_id[64];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint16_t config_svn;
    uint8_t isv_family_id[16];
    uint8_t report_data[64];
} bpt_sgx_report_body;

/** The TD report body (1.5 fields are zero in a 1.0 body). */
typedef struct bpt_tdx_td_report {
    uint8_t tee_tcb_svn[16]; /**< [0] TDX module SVN, [1] module major version, ... */
    uint8_t mr_seam[48];
    uint8_t mr_signer_seam[48];
    uint64_t seam_attributes;
    uint64_t td_attributes; /**< BPT_TDX_ATTR_* */
    uint64_t xfam;
    uint8_t mr_td[48]; /**< the measurement of the initial TD contents */
    uint8_t mr_config_id[48];
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16]; /**< 1.5 */
    uint8_t mr_servicetd[48]; /**< 1.5 */
} bpt_tdx_td_report;

/**
 * A parsed quote. Offsets and lengths point into the bytes given to bpt_tdx_parse().
 * Size-prefixed so that it can grow: set @ref size to sizeof(bpt_tdx_quote) before parsing (or
 * initialise with BPT_TDX_QUOTE_INIT); a later library fills only what a caller's size covers.
 */
typedef struct bpt_tdx_quote {
    uint32_t size;         /**< sizeof(bpt_tdx_quote) as the caller was compiled */
    uint16_t version;      /**< 4 or 5 */
    uint16_t att_key_type; /**< 2 = ECDSA-256-with-P-256 */
    uint32_t tee_type;     /**< 0x81 = TDX */
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20];
    uint16_t body_type; /**< 2 = TD 1.0, 3 = TD 1.5 (v4 quotes: 2) */
    bpt_tdx_td_report body;
    size_t signed_len; /**< header and body: what the attestation key signed */

    uint8_t signature[64];       /**< quote signature, r || s */
    uint8_t attestation_key[64]; /**< P-256 public key, x || y */
    bpt_sgx_report_body qe_report;
    uint8_t qe_report_raw[BPT_SGX_REPORT_BODY_SIZE];
    uint8_t qe_report_signature[64];
    size_t qe_auth_off, qe_auth_len;     /**< QE authentication data */
    size_t pck_chain_off, pck_chain_len; /**< PEM certificates: PCK, its CA, the root */
    size_t trailing_zeros;               /**< zero padding after the signature data */
} bpt_tdx_quote;

#define BPT_TDX_QUOTE_INIT                                                                         \
    {                                                                                              \
        .size = sizeof(bpt_tdx_quote)                                                              \
    }

#define BPT_TDX_TDREPORT_SIZE 1024

/**
 * A TDREPORT (from /dev/tdx_guest): MAC'ed by the CPU for this platform only, so it is no
 * remote evidence, but it tells a TD its own registers. The td fields a TDREPORT lacks
 * (none of the TD 1.0 ones) are zero. Size-prefixed like bpt_tdx_quote.
 */
typedef struct bpt_tdx_tdreport {
    uint32_t size; /**< sizeof(bpt_tdx_tdreport) as the caller was compiled */
    uint8_t cpu_svn[16];
    uint8_t tee_tcb_info_hash[48];
    uint8_t tee_info_hash[48];
    uint8_t mac[32];
    bpt_tdx_td_report td; /**< MRTD, RTMRs, report_data, SEAM and TD attributes, ... */
} bpt_tdx_tdreport;

#define BPT_TDX_TDREPORT_INIT                                                                      \
    {                                                                                              \
        .size = sizeof(bpt_tdx_tdreport)                                                           \
    }

/**
 * Parse a 1024-byte TDREPORT into @p out (its size set by the caller).
 * @return 0; BPT_EINVAL (NULL or a size smaller than the first version); BPT_EMALFORMED.
 */
BPT_API BPT_MUST_USE int bpt_tdx_tdreport_parse(bpt_tdx_tdreport *out, const uint8_t *p,
                                                size_t len);

/**
 * Parse a TDX quote: header (version 4 or 5, attestation key type 2, TEE type TDX), the body
 * (v5: its descriptor, type 2 or 3), and the signature data down to the PCK chain
 * (certification data type 6 wrapping type 5). Only zero bytes may follow the signature data.
 * @param out its size set by the caller (BPT_TDX_QUOTE_INIT).
 * @return 0; BPT_EINVAL (NULL or a size smaller than the first version); BPT_EMALFORMED naming
 *         the field.
 */
BPT_API BPT_MUST_USE int bpt_tdx_parse(bpt_tdx_quote *out, const uint8_t *ev, size_t len);

/**
 * Verify a TDX quote under @p policy at the context's time, as the built-in TDX verifier of
 * bpt_verify() does (without recognising the evidence first). Checks, in order: parse; the PCK
 * chain to the Intel SGX Root CA; the root CA CRL and PCK CRL (signatures, dates, issuers,
 * revocation of the PCK certificate and its CA); the QE report signature (PCK key); the QE
 * report data = SHA-256(attestation key || QE auth data) || zeros; the quote signature;
 * TCB Info and QE Identity (signing chain, signature, dates, fmspc, pceId, id, version); the
 * QE report against the QE Identity; the TCB level and TDX module identity; the TCB status
 * against the policy's accepted statuses (default up_to_date); then debug, MRTD, RTMRs,
 * MR_CONFIG_ID, MR_OWNER, MR_OWNER_CONFIG, MR_SEAM, SEAM attributes, XFAM and report_data.
 * An expected nonce is checked by the nonce rule (bpt_nonce_bind()): report_data must be
 * SHA-512(nonce). An expected measurement of another algorithm or length than MRTD's
 * (sha384, 48 bytes) is BPT_EUNSATISFIABLE.
 * @param[out] out free with bpt_verified_free(); NULL on failure.
 * @param ctx borrowed (frozen by the call); NULL: defaults (pinned root, now, no caches).
 * @param policy borrowed; NULL: production().
 * @return 0; BPT_EINVAL (NULL @p out); BPT_EMALFORMED; BPT_ESIGNATURE (a signature, chain, CRL,
 *         revocation, date or identity); BPT_ECLAIM (TCB status or an expectation); BPT_EKEYS
 *         (no collateral and offline); BPT_EFETCH; BPT_EUNSATISFIABLE.
 */
BPT_API BPT_MUST_USE int bpt_tdx_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                        const bpt_policy *policy, const uint8_t *ev, size_t ev_len);

/**
 * Fetch the collateral for @p quote (fmspc and CA type from its PCK certificate) from Intel
 * PCS v4 or the context's PCCS, as the collateral JSON of docs/tdx.md, through the context's
 * cache directory (and only from it when the context is offline). Nothing is verified here.
 * @param[out] out_json free with bpt_free().
 * @param ctx borrowed; NULL: defaults.
 * @return 0; BPT_EINVAL; BPT_EMALFORMED; BPT_EKEYS (offline and not cached); BPT_EFETCH.
 */
BPT_API BPT_MUST_USE int bpt_tdx_fetch_collateral(char **out_json, const bpt_verify_ctx *ctx,
                                                  const uint8_t *quote, size_t len);

BPT_END_DECLS

#endif
