/*
 * Simulated Intel TDX: a test PKI in Intel's shapes (a root, a PCK Platform CA, a PCK
 * certificate with SGX extensions, a TCB Signing certificate), version 4/5 quotes signed through
 * a simulated QE, and collateral (CRLs, TCB Info, QE Identity) signed by that PKI. Options let
 * tests make exactly one check fail.
 */
#ifndef BPT_ATTESTER_SIM_TDX_H
#define BPT_ATTESTER_SIM_TDX_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The simulated platform: FMSPC, PCE-ID, the PCK's SGX TCB components and PCESVN. */
#define BPT_SIM_TDX_FMSPC "00906ED50000"
#define BPT_SIM_TDX_PCESVN 13

struct bpt_sim_tdx_opts {
    int64_t now;             /* collateral issue time; 0: the present */
    uint8_t report_data[64]; /* bound into the quote */
    uint64_t td_attributes;  /* 0: SEPT_VE_DISABLE only */
    int version;             /* 4 (default) or 5 */
    bool body15;             /* version 5 with a TD 1.5 body */

    /* TCB statuses written into the collateral (Intel spellings; NULL: "UpToDate"). */
    const char *platform_status, *qe_status, *module_status;
    bool platform_no_match; /* every TCB level needs more than the platform has */
    bool module_no_match;   /* the TDX module's SVN is below every module level */
    bool qe_below_levels;   /* the QE's ISVSVN is below every QE level */

    /* Faults, one check each. */
    bool bad_pck_sig, bad_pck_ca_sig, bad_tcb_signer_sig;
    bool bad_qe_signer_sig;      /* only the QE Identity issuer chain's signer is forged */
    bool bad_pck_crl_issuer_sig; /* the PCK CRL issuer chain's CA is forged */
    bool bad_root_crl_sig, bad_pck_crl_sig;
    bool revoke_pck, revoke_pck_ca, revoke_tcb_signer;
    bool bad_qe_binding, bad_qe_report_sig;
    bool wrong_fmspc, wrong_pceid;
    bool wrong_qe_mrsigner, wrong_module_mrsigner, no_module_identity;
    bool module_major0;     /* TEE_TCB_SVN[1] = 0: the module is judged by tdxModule */
    bool att_key_off_curve; /* an attestation key that is no P-256 point (QE binding intact) */
    bool pck_crl_no_next_update;
    /* A fresh PCK chain: its CA named @c pck_ca_cn (NULL: the Platform CA's name), and with
     * @c extra_intermediate one more CA under a fresh root written to DIR/tdx/root2.pem. */
    const char *pck_ca_cn;
    bool extra_intermediate;
    /* Date windows (0: now - 1 h .. now + 30 days). */
    int64_t tcb_issue, tcb_next, qe_issue, qe_next;
    int64_t root_crl_this, root_crl_next, pck_crl_this, pck_crl_next;
};

/**
 * Create DIR/tdx/ with the PKI's keys and certificates, root.pem, and collateral.json (signed
 * collateral valid from an hour ago for 30 days).
 */
BPT_MUST_USE int bpt_sim_tdx_init(const char *dir);

/** A quote (malloc'd, free with bpt_free()) for @p o, signed by the simulated QE. */
BPT_MUST_USE int bpt_sim_tdx_quote(uint8_t **ev, size_t *ev_len, const char *dir,
                                   const struct bpt_sim_tdx_opts *o);

/** Collateral JSON (docs/tdx.md) for @p o, NUL-terminated, free with bpt_free(). */
BPT_MUST_USE int bpt_sim_tdx_collateral(char **json, const char *dir,
                                        const struct bpt_sim_tdx_opts *o);

/**
 * Sign the collateral's tcb_info and qe_identity texts again with the simulated TCB Signing key
 * (after a test edited them), replacing *json (freed with bpt_free()).
 */
BPT_MUST_USE int bpt_sim_tdx_resign(char **json, const char *dir);

#endif
