/**
 * @file sev_snp.h
 * AMD SEV-SNP: attestation report parsing (SEV-SNP firmware ABI, report versions 2 and later,
 * 1184 bytes) and cryptographic verification down to the pinned AMD ARK:
 * ARK -> ASK -> VCEK (or ARK -> ASVK -> VLEK), VCEK/VLEK TCB and hwID extensions against the
 * report, the report's ECDSA P-384 signature, then the policy.
 *
 * Threads: reentrant; the parsed struct is plain data.
 */
#ifndef BPT_SEV_SNP_H
#define BPT_SEV_SNP_H

#include "context.h"
#include "policy.h"
#include "verified.h"

BPT_BEGIN_DECLS

#define BPT_SNP_REPORT_SIZE 1184
#define BPT_SNP_SIGNED_SIZE 0x2A0

/** AMD EPYC product generations. */
typedef enum bpt_snp_product {
    BPT_SNP_PRODUCT_UNKNOWN = 0,
    BPT_SNP_MILAN,
    BPT_SNP_GENOA,
    BPT_SNP_TURIN
} bpt_snp_product;

/** "Milan", "Genoa", "Turin", "unknown". */
BPT_API const char *bpt_snp_product_name(bpt_snp_product p);

/** The key that signed the report (report offset 0x48, bits 4:2). */
typedef enum bpt_snp_signing_key {
    BPT_SNP_KEY_VCEK = 0,
    BPT_SNP_KEY_VLEK = 1,
    BPT_SNP_KEY_NONE = 7
} bpt_snp_signing_key;

/* bpt_snp_tcb, a decoded TCB_VERSION, is in tcb.h (the policy's minimum TCBs use it). */

/**
 * Decode a raw TCB_VERSION (the 8 bytes as a little-endian u64) for @p product.
 * Milan/Genoa: byte 0 bootloader, 1 tee, 6 snp, 7 microcode. Turin: 0 fmc, 1 bootloader,
 * 2 tee, 3 snp, 7 microcode. An unknown product decodes as Milan/Genoa.
 */
BPT_API bpt_snp_tcb bpt_sev_snp_tcb_decode(uint64_t raw, bpt_snp_product product);

/**
 * Every field of an attestation report, decoded from its wire layout. Size-prefixed so that it
 * can grow: set @ref size to sizeof(bpt_snp_report) before bpt_sev_snp_parse() (or initialise
 * with BPT_SNP_REPORT_INIT); a later library fills only the fields a caller's size covers.
 */
typedef struct bpt_snp_report {
    uint32_t size; /**< sizeof(bpt_snp_report) as the caller was compiled */
    uint32_t version;
    uint32_t guest_svn;
    uint64_t policy;
    uint8_t family_id[16];
    uint8_t image_id[16];
    uint32_t vmpl;
    uint32_t signature_algo; /**< 1 = ECDSA P-384 with SHA-384 */
    uint64_t current_tcb;
    uint64_t platform_info;
    uint32_t key_info; /**< bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY */
    uint8_t report_data[64];
    uint8_t measurement[48];
    uint8_t host_data[32];
    uint8_t id_key_digest[48];
    uint8_t author_key_digest[48];
    uint8_t report_id[32];
    uint8_t report_id_ma[32];
    uint64_t reported_tcb;
    uint8_t cpuid_fam_id; /**< version 3 and later; 0 before */
    uint8_t cpuid_mod_id;
    uint8_t cpuid_step;
    uint8_t chip_id[64];
    uint64_t committed_tcb;
    uint8_t current_build, current_minor, current_major;
    uint8_t committed_build, committed_minor, committed_major;
    uint64_t launch_tcb;
    uint8_t sig_r[72]; /**< little-endian */
    uint8_t sig_s[72]; /**< little-endian */

    /* Decoded views. */
    uint8_t abi_major, abi_minor;
    bool policy_smt, policy_migrate_ma, policy_debug, policy_single_socket;
    bool policy_cxl, policy_aes_256_xts, policy_rapl_dis, policy_ciphertext_hiding;
    bool policy_page_swap_disable;
    bool author_key_en, mask_chip_key;
    bpt_snp_signing_key signing_key;
    bpt_snp_product cpuid_product; /**< from CPUID fields (version 3+), else unknown */

    /* Added after the first version of this struct (filled when the caller's size covers them). */
    uint64_t launch_mit_vector;  /**< version 5 and later (offset 0x1F8); 0 before */
    uint64_t current_mit_vector; /**< version 5 and later (offset 0x200); 0 before */
} bpt_snp_report;

#define BPT_SNP_REPORT_INIT                                                                        \
    {                                                                                              \
        .size = sizeof(bpt_snp_report)                                                             \
    }

/**
 * Parse a raw report. Checks the size (1184), the version (2 or later) and decodes every field;
 * the signature algorithm is checked by verification, not here. Every byte the SEV-SNP ABI
 * reserves must be zero (BPT_EMALFORMED naming the region): 0x04C-0x04F, 0x188-0x19F (version
 * 2; 0x18B-0x19F from version 3, after the CPUID bytes), 0x1EB, 0x1EF, 0x1F8-0x29F (versions
 * 2-4; 0x208-0x29F from version 5, after the mitigation vectors), the 368 bytes of the
 * signature field after r and s (0x330-0x49F), and key_info bits 31:5. A version above 5 is
 * read with version 5's layout, so a field a later ABI puts in one of these regions is refused
 * until this library knows it. (The reserved bytes inside the TCB_VERSION fields depend on the
 * product and are checked by verification, once the product is known.)
 * @param out its @ref size set by the caller; the fields it covers are overwritten.
 * @return 0; BPT_EINVAL (NULL, or @p out's size smaller than this struct's first version);
 *         BPT_EMALFORMED naming the problem.
 */
BPT_API BPT_MUST_USE int bpt_sev_snp_parse(bpt_snp_report *out, const uint8_t *ev, size_t len);

/**
 * Verify a raw SEV-SNP report under @p policy at the context's time, as the built-in SEV-SNP
 * verifier of bpt_verify() does (without recognising the evidence first).
 * The VCEK/VLEK comes from the certificates given (bpt_verify_ctx_add_certs(), `--certs`, or the
 * report JSON's collateral "certificates"), else (a VCEK) from the context's cache directory,
 * else from AMD KDS unless the context is offline. The ASK/ASVK and ARK are the pinned ones for
 * the product unless the context has its own trust roots (then intermediates come from the
 * certificates given).
 * Checks, in order: size, version and reserved regions (bpt_sev_snp_parse()); signing key VCEK
 * or VLEK; signature algorithm; product (CPUID, VCEK productName, policy); chain to the ARK at
 * `at`; revocation against AMD's CRL (bpt_verify_ctx_set_revocation_check(), context.h); the
 * TCB_VERSION fields' reserved bytes; VCEK/VLEK TCB extensions equal reported_tcb; hwID equals
 * chip_id (unless the chip id is masked); the report signature; then debug, measurement,
 * report_data, host_data, VMPL, minimum TCB, the product allow-list and the policy's other
 * SEV-SNP rules (guest policy bits and ABI, ID block, firmware, launch TCB, platform info:
 * policy.h). SNP evidence has no nonce field: an expected nonce is checked by the nonce rule
 * (bpt_nonce_bind()), report_data = SHA-512(nonce). An expected measurement of another
 * algorithm or length than the report's (sha384, 48 bytes) is BPT_EUNSATISFIABLE.
 * A certificate that cannot be found fails with a message naming it (VCEK, VLEK, ASK, ARK,
 * CRL), the full URL it would come from, and how to give it.
 * @param[out] out free with bpt_verified_free(); NULL on failure.
 * @param ctx borrowed (frozen by the call); NULL: defaults (pinned roots, now, no caches).
 * @param policy borrowed; NULL: production().
 * @return 0; BPT_EINVAL (NULL @p out); BPT_EMALFORMED; BPT_ESIGNATURE; BPT_ECLAIM; BPT_EKEYS;
 *         BPT_EFETCH; BPT_EUNSATISFIABLE.
 */
BPT_API BPT_MUST_USE int bpt_sev_snp_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                            const bpt_policy *policy, const uint8_t *ev,
                                            size_t ev_len);

BPT_END_DECLS

#endif
