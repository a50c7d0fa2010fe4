/*
 * The TDX verifier's parts, shared by its files: the PCK certificate's SGX extensions and TCB
 * evaluation of a quote against verified collateral (collateral/tdx_collateral.h).
 */
#ifndef BPT_ATTESTATION_PROVIDERS_TDX_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_TDX_INTERNAL_H

#include "attestation/collateral/tdx_collateral.h"

#include <blueprint-tee/tdx.h>

#include <jansson.h>
#include <openssl/x509.h>

#define BPT_INTEL_SGX_OID "1.2.840.113741.1.13.1"

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
BPT_MUST_USE int bpt_pck_extensions(struct bpt_pck_ext *out, X509 *pck);

/* The outcome of TCB evaluation. */
struct bpt_tdx_tcb_result {
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
BPT_MUST_USE int bpt_tdx_tcb_evaluate(struct bpt_tdx_tcb_result *res,
                                      const struct bpt_tdx_collateral *c,
                                      const struct bpt_pck_ext *pck, const bpt_tdx_quote *q);

#endif
