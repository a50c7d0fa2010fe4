/*
 * TDX collateral (docs/tdx.md): TCB Info and QE Identity parsed from their signed JSON, and a
 * whole collateral set (CRLs, TCB Info, QE Identity, their issuer chains) verified into an
 * immutable, reference-counted object that verifications share. What the collateral says about
 * a given quote (its TCB level, its QE) is the TDX verifier's business.
 */
#ifndef BPT_ATTESTATION_COLLATERAL_TDX_COLLATERAL_H
#define BPT_ATTESTATION_COLLATERAL_TDX_COLLATERAL_H

#include <blueprint-tee/tcb.h>

#include <jansson.h>
#include <stdatomic.h>
#include <openssl/x509.h>

#define BPT_TDX_MAX_TCB_LEVELS 64
#define BPT_TDX_MAX_MODULES 16

/* One TCB level of TCB Info, a TDX module identity or the QE Identity. */
struct bpt_tdx_tcb_level {
    uint8_t sgx[16];
    uint16_t pcesvn;
    uint8_t tdx[16];
    uint16_t isvsvn; /* module and QE levels */
    bpt_tdx_tcb_status status;
    char date[32];
    json_t *advisories; /* array of strings, or NULL */
};

struct bpt_tdx_module_identity {
    char id[16]; /* "TDX_01" */
    uint8_t mrsigner[48];
    uint8_t attributes[8], attributes_mask[8]; /* byte order of the quote */
    struct bpt_tdx_tcb_level levels[BPT_TDX_MAX_TCB_LEVELS];
    size_t n_levels;
};

struct bpt_tdx_tcb_info {
    int version;
    int64_t issue_date, next_update;
    int64_t eval_number;
    uint8_t fmspc[6];
    uint8_t pceid[2];
    bool has_module;
    struct bpt_tdx_module_identity module; /* tdxModule: mrsigner and attributes, no levels */
    struct bpt_tdx_module_identity modules[BPT_TDX_MAX_MODULES];
    size_t n_modules;
    struct bpt_tdx_tcb_level levels[BPT_TDX_MAX_TCB_LEVELS];
    size_t n_levels;
};

struct bpt_tdx_qe_identity {
    int version;
    int64_t issue_date, next_update;
    int64_t eval_number;
    uint32_t miscselect, miscselect_mask;
    uint8_t attributes[16], attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    struct bpt_tdx_tcb_level levels[BPT_TDX_MAX_TCB_LEVELS];
    size_t n_levels;
};

/* Verified collateral: immutable once made, shared by reference between verifications. */
struct bpt_tdx_collateral {
    atomic_int refs;
    struct bpt_tdx_tcb_info tcb;
    struct bpt_tdx_qe_identity qe;
    X509_CRL *root_crl, *pck_crl;
    int64_t not_before, not_after; /* every date window of the collateral, intersected */
};

/** A required string field of @p o of any length (certificates, CRLs, signed bodies). */
BPT_MUST_USE int bpt_tdx_json_text(const json_t *o, const char *key, const char **out,
                                   const char *ctx);

void bpt_tdx_collateral_release(struct bpt_tdx_collateral *c);
struct bpt_tdx_collateral *bpt_tdx_collateral_retain(struct bpt_tdx_collateral *c);

/** Parse TCB Info / QE Identity JSON text (the signed body). @return 0; BPT_EMALFORMED. */
BPT_MUST_USE int bpt_tdx_tcb_info_parse(struct bpt_tdx_tcb_info *out, const char *json, size_t len);
BPT_MUST_USE int bpt_tdx_qe_identity_parse(struct bpt_tdx_qe_identity *out, const char *json,
                                           size_t len);
void bpt_tdx_tcb_info_dispose(struct bpt_tdx_tcb_info *t);
void bpt_tdx_qe_identity_dispose(struct bpt_tdx_qe_identity *q);

/**
 * Verify collateral JSON against @p roots at @p at: both issuer chains and the PCK CRL issuer
 * chain to a root, the root CA CRL (and the signing certificates not revoked), the PCK CRL's
 * signature, TCB Info and QE Identity signatures, ids, versions and dates.
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE naming the failing check.
 */
BPT_MUST_USE int bpt_tdx_collateral_verify(struct bpt_tdx_collateral **out, const char *json,
                                           size_t len, STACK_OF(X509) * roots, int64_t at);

struct bpt_cert_cache;

/*
 * Collateral parsed once (a verification context's, when set): its certificates, CRLs, signed
 * texts and the contents of TCB Info and QE Identity. Immutable: verifications on any thread
 * share it, and each still verifies every chain, signature, CRL and date of it
 * (bpt_tdx_collateral_check()). Not an endorsement: nothing in it is trusted until checked.
 */
struct bpt_tdx_collateral_prepared;

/**
 * Parse collateral JSON for bpt_tdx_collateral_check(). @return 0; BPT_EMALFORMED; BPT_ELIMIT
 * (the caller may then verify the text each time, as bpt_tdx_collateral_verify() does, to get
 * its errors in its order).
 */
BPT_MUST_USE int bpt_tdx_collateral_prepare(struct bpt_tdx_collateral_prepared **out,
                                            const char *json, size_t len);
void bpt_tdx_collateral_prepared_free(struct bpt_tdx_collateral_prepared *p);

/**
 * Verify prepared collateral against @p roots at @p at, with the checks and messages of
 * bpt_tdx_collateral_verify(), in its order (what it parses was parsed when prepared, and
 * parsed). @param[out] out a new reference to the verified collateral; its window is every
 * certificate the collateral carries, its CRLs and documents: within the window
 * bpt_tdx_collateral_verify() gives, which narrows by the verified chains only.
 * @return 0; 1 when the collateral verified but a verified chain holds a certificate it does not
 *         carry (from the trust roots) that would narrow the window further: *out is NULL and
 *         the caller verifies the text with bpt_tdx_collateral_verify_cached(); the errors of
 *         bpt_tdx_collateral_verify().
 */
BPT_MUST_USE int bpt_tdx_collateral_check(struct bpt_tdx_collateral **out,
                                          const struct bpt_tdx_collateral_prepared *p,
                                          STACK_OF(X509) * roots, int64_t at);

/** bpt_tdx_collateral_verify() with the issuer chains' certificates parsed through @p cache. */
BPT_MUST_USE int bpt_tdx_collateral_verify_cached(struct bpt_tdx_collateral **out, const char *json,
                                                  size_t len, STACK_OF(X509) * roots, int64_t at,
                                                  struct bpt_cert_cache *cache);

#endif
