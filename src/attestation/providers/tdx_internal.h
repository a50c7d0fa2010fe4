/*
 * The TDX verifier's parts, shared by its files: the PCK certificate's SGX extensions, the
 * collateral (parsed, verified and cacheable), TCB evaluation, and fetching from PCS/PCCS.
 */
#ifndef BPT_ATTESTATION_PROVIDERS_TDX_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_TDX_INTERNAL_H

#include <blueprint-tee/policy.h>
#include <blueprint-tee/tdx.h>

#include <jansson.h>
#include <stdatomic.h>
#include <openssl/x509.h>

#define BPT_INTEL_SGX_OID "1.2.840.113741.1.13.1"
#define BPT_TDX_MAX_TCB_LEVELS 64
#define BPT_TDX_MAX_MODULES 16
#define BPT_PCS_DEFAULT_URL "https://api.trustedservices.intel.com"
#define BPT_PCS_ROOT_CRL_URL "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
#define BPT_PCS_TIMEOUT_MS 10000

/* The SGX extensions of a PCK certificate (Intel SGX PCK Certificate and CRL Profile). */
struct bpt_pck_ext {
    uint8_t ppid[16];
    uint8_t comp_svn[16]; /* SGX TCB components 1..16 */
    uint16_t pcesvn;
    uint8_t cpusvn[16];
    uint8_t pceid[2];
    uint8_t fmspc[6];
    int sgx_type;     /* 0 standard, 1 scalable, 2 scalable with integrity */
    bool platform_ca; /* issued by the PCK Platform CA (else the Processor CA) */
};

/** Read the SGX extensions of @p pck. @return 0; BPT_EMALFORMED naming the field. */
int bpt_pck_extensions(struct bpt_pck_ext *out, X509 *pck);

/* One TCB level of TCB Info, a TDX module identity or the QE Identity. */
struct tdx_tcb_level {
    uint8_t sgx[16];
    uint16_t pcesvn;
    uint8_t tdx[16];
    uint16_t isvsvn; /* module and QE levels */
    bpt_tdx_tcb_status status;
    char date[32];
    json_t *advisories; /* array of strings, or NULL */
};

struct tdx_module_identity {
    char id[16]; /* "TDX_01" */
    uint8_t mrsigner[48];
    uint8_t attributes[8], attributes_mask[8]; /* byte order of the quote */
    struct tdx_tcb_level levels[BPT_TDX_MAX_TCB_LEVELS];
    size_t n_levels;
};

struct tdx_tcb_info {
    int version;
    int64_t issue_date, next_update;
    int64_t eval_number;
    uint8_t fmspc[6];
    uint8_t pceid[2];
    bool has_module;
    struct tdx_module_identity module; /* tdxModule: mrsigner and attributes, no levels */
    struct tdx_module_identity modules[BPT_TDX_MAX_MODULES];
    size_t n_modules;
    struct tdx_tcb_level levels[BPT_TDX_MAX_TCB_LEVELS];
    size_t n_levels;
};

struct tdx_qe_identity {
    int version;
    int64_t issue_date, next_update;
    int64_t eval_number;
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    struct tdx_tcb_level levels[BPT_TDX_MAX_TCB_LEVELS];
    size_t n_levels;
};

/* Verified collateral: immutable once made, shared by reference between verifications. */
struct tdx_collateral {
    atomic_int refs;
    struct tdx_tcb_info tcb;
    struct tdx_qe_identity qe;
    X509_CRL *root_crl, *pck_crl;
    int64_t not_before, not_after; /* every date window of the collateral, intersected */
};

/** A required string field of @p o of any length (certificates, CRLs, signed bodies). */
int tdx_json_text(const json_t *o, const char *key, const char **out, const char *ctx);

void tdx_collateral_release(struct tdx_collateral *c);
struct tdx_collateral *tdx_collateral_retain(struct tdx_collateral *c);

/** Parse TCB Info / QE Identity JSON text (the signed body). @return 0; BPT_EMALFORMED. */
int tdx_tcb_info_parse(struct tdx_tcb_info *out, const char *json, size_t len);
int tdx_qe_identity_parse(struct tdx_qe_identity *out, const char *json, size_t len);
void tdx_tcb_info_dispose(struct tdx_tcb_info *t);
void tdx_qe_identity_dispose(struct tdx_qe_identity *q);

/**
 * Verify collateral JSON against @p roots at @p at: both issuer chains and the PCK CRL issuer
 * chain to a root, the root CA CRL (and the signing certificates not revoked), the PCK CRL's
 * signature, TCB Info and QE Identity signatures, ids, versions and dates.
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE naming the failing check.
 */
int tdx_collateral_verify(struct tdx_collateral **out, const char *json, size_t len,
                          STACK_OF(X509) * roots, int64_t at);

/* The outcome of TCB evaluation. */
struct tdx_tcb_result {
    bpt_tdx_tcb_status platform, qe, module, final;
    bool has_module_status;
    char tcb_date[32];
    const char *module_id;
    json_t *advisories; /* array of strings (owned) */
};

/**
 * Evaluate the platform TCB level (PCK SGX components and PCESVN, the quote's TEE_TCB_SVN),
 * the TDX module identity and the QE Identity level of @p q; fills @p res.
 * @return 0; BPT_ESIGNATURE (QE or module identity mismatch); BPT_ECLAIM ("no TCB level
 *         matches": TCB level not supported).
 */
int tdx_tcb_evaluate(struct tdx_tcb_result *res, const struct tdx_collateral *c,
                     const struct bpt_pck_ext *pck, const bpt_tdx_quote *q);

/**
 * Collateral JSON for a PCK certificate's fmspc and CA: the cache directory's copy while it is
 * current at @p at, else PCS/PCCS at @p base_url (NULL: Intel PCS), stored in the cache.
 * @return 0; BPT_EKEYS (offline, nothing usable cached); BPT_EFETCH.
 */
int tdx_pcs_collateral(char **out_json, const char *base_url, const char *cache_dir, bool offline,
                       const struct bpt_pck_ext *pck, int64_t at);

#endif
