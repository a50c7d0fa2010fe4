/*
 * The policy's fields, for the library's verifiers: what is acceptable, nothing about how a
 * verification runs (that is the context, context_internal.h). Only policy.c and policy_json.c
 * change them; verifiers read them. Byte expectations are stored decoded; "has_" flags say
 * whether a dimension is enforced.
 */
#ifndef BPT_ATTESTATION_POLICY_INTERNAL_H
#define BPT_ATTESTATION_POLICY_INTERNAL_H

#include <blueprint-tee/attestation.h>
#include <blueprint-tee/policy.h>

#define BPT_POLICY_MAX_PCRS 32
#define BPT_POLICY_MAX_RTMRS 4

/* SEV-SNP product bits for sev_snp.products. */
#define BPT_SNP_PRODUCT_MILAN 0x1u
#define BPT_SNP_PRODUCT_GENOA 0x2u
#define BPT_SNP_PRODUCT_TURIN 0x4u

struct bpt_policy {
    bool allow_debug;
    uint64_t max_age_secs; /* 0 = not enforced */

    bool has_expected_measurement;
    uint8_t expected_measurement[BPT_MEASUREMENT_MAX_BYTES];
    size_t expected_measurement_len;  /* 32, 48 or 64 */
    char expected_measurement_alg[8]; /* "sha256", "sha384", "sha512"; "" = named by length */
    uint8_t expected_report_data[64];
    size_t expected_report_data_len; /* 0 = not enforced; <64 compares a prefix, rest must be 0 */
    char *expected_nonce;
    /* The expected nonce as a report-data provider carries it (bpt_policy_for_provider()):
     * set only in the copy a verifier of such a provider reads, whose expected_nonce is NULL. */
    bool has_nonce_report_data;
    uint8_t nonce_report_data[64];
    char *expected_audience;
    char *expected_image_digest;
    bool insecure_any_audience; /* accept JWTs bound to no relying party (with a warning) */

    struct {
        bool has_min_tcb;
        bpt_snp_tcb min_tcb; /* reported_tcb, component-wise */
        bool has_host_data;
        uint8_t host_data[32];
        bool has_vmpl;
        uint32_t vmpl;
        unsigned products; /* BPT_SNP_PRODUCT_* mask; 0 = any */
        /* Guest policy (report 0x008): permissions default to allowed, requirements to off. */
        bool allow_smt, allow_migration_agent, require_single_socket;
        bool has_min_abi;
        uint8_t min_abi_major, min_abi_minor;
        /* The launch's ID block. */
        bool has_family_id, has_image_id;
        uint8_t family_id[16], image_id[16];
        size_t n_id_keys, n_author_keys;
        uint8_t id_keys[BPT_POLICY_MAX_SNP_KEYS][48], author_keys[BPT_POLICY_MAX_SNP_KEYS][48];
        bool require_author_key;
        /* Firmware: current and committed build and API version, the launch TCB. */
        bool has_min_build;
        uint8_t min_build;
        bool has_min_firmware;
        uint8_t min_firmware_major, min_firmware_minor;
        bool has_min_launch_tcb;
        bpt_snp_tcb min_launch_tcb;
        /* PLATFORM_INFO bits that must have a value. */
        bool has_platform_smt, platform_smt, has_platform_tsme, platform_tsme;
    } sev_snp;

    struct {
        unsigned accepted_tcb; /* bit (1u << bpt_tdx_tcb_status); production: up_to_date */
        bool has_mr_config_id;
        uint8_t mr_config_id[48];
        bool has_mr_owner;
        uint8_t mr_owner[48];
        bool has_mr_owner_config;
        uint8_t mr_owner_config[48];
        bool has_rtmr[BPT_POLICY_MAX_RTMRS];
        uint8_t rtmr[BPT_POLICY_MAX_RTMRS][48];
        bool has_mr_seam;
        uint8_t mr_seam[48];
        bool has_xfam;
        uint8_t xfam[8]; /* the quote's byte order */
        bool has_seam_attributes;
        uint8_t seam_attributes[8];
    } tdx;

    struct {
        bool has_pcr[BPT_POLICY_MAX_PCRS];
        uint8_t pcr[BPT_POLICY_MAX_PCRS][48];
    } aws_nitro;

    struct {
        char **issuers;
        size_t n_issuers;
        char *jwks_url;
        char *jwks_file;
        bool has_leeway;
        uint64_t leeway_secs; /* 0..300 */
    } jwt;
};

/**
 * Compare the policy's expected_measurement (when set) with @p m (@p n bytes, at most 64) in
 * constant time. The evidence's algorithm follows from its length (32 sha256, 48 sha384, 64
 * sha512): an expectation of another algorithm or length can never match it.
 * @return 0; BPT_EUNSATISFIABLE (algorithm or length not the evidence's);
 *         BPT_ECLAIM "<what> <hex> != expected <hex>".
 */
BPT_MUST_USE int bpt_policy_check_measurement(const bpt_policy *p, const uint8_t *m, size_t n,
                                              const char *what);

/**
 * Compare the policy's expected_report_data (when set; zero-padded to 64 bytes) with @p rd,
 * then the report data that binds its expected nonce (when bpt_policy_for_provider() set it).
 * @return 0; BPT_ECLAIM "<what> differs from the expected N bytes (zero-padded to 64)" or
 *         "<what> is not SHA-512 of the expected nonce".
 */
BPT_MUST_USE int bpt_policy_check_report_data(const bpt_policy *p, const uint8_t rd[64],
                                              const char *what);

/**
 * The policy as a verifier of @p provider reads it. The nonce rule (bpt_nonce_bind()): for a
 * provider whose evidence binds nonces in its report data (SEV-SNP, TDX), the expected nonce
 * becomes the report data that binds it, so its verifier checks report data and sees no nonce.
 * @param[out] owned a changed copy (free with bpt_policy_free()), or NULL when @p p serves as is.
 * @return 0; BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_policy_for_provider(bpt_policy **owned, const bpt_policy *p,
                                         bpt_provider provider);

#endif
