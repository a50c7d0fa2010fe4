/* Simulated AMD SEV-SNP: a test ARK/ASK/VCEK chain in AMD's shapes and signed reports. */
#ifndef BPT_ATTESTER_SIM_SEV_SNP_H
#define BPT_ATTESTER_SIM_SEV_SNP_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The simulated chip's TCB (Milan layout) written into the VCEK and every report. */
#define BPT_SIM_SNP_BOOTLOADER 3
#define BPT_SIM_SNP_TEE 0
#define BPT_SIM_SNP_SNP 8
#define BPT_SIM_SNP_MICROCODE 115
/* Its firmware (current and committed): API version 1.55, build 21; the guest policy asks for
 * ABI 1.51, allows SMT (and the platform has SMT enabled, TSME disabled). */
#define BPT_SIM_SNP_FW_MAJOR 1
#define BPT_SIM_SNP_FW_MINOR 55
#define BPT_SIM_SNP_FW_BUILD 21

/**
 * Create DIR/sev-snp/ with ark.pem (self-signed RSA-PSS), ask.pem, vcek.pem/.der (P-384, AMD
 * TCB, hwID and productName extensions), vcek-key.pem and ark-key.pem (0600), chip_id.bin,
 * root.pem, and crl.der/crl.pem: the ARK's CRL as AMD KDS serves one (RSA-PSS SHA-384 by the
 * ARK), listing nothing, valid from BPT_SIM_NOT_BEFORE to BPT_SIM_NOT_AFTER.
 */
BPT_MUST_USE int bpt_sim_sev_snp_init(const char *dir);

/**
 * A version 3 report (Milan CPUID) carrying @p report_data, debug off, VMPL 0, signed with the
 * simulated VCEK. *ev is malloc'd (free with bpt_free()), 1184 bytes.
 */
BPT_MUST_USE int bpt_sim_sev_snp_attest(uint8_t **ev, size_t *ev_len, const char *dir,
                                        const uint8_t report_data[64]);

/** Re-sign a (possibly edited) 1184-byte report in place with the simulated VCEK. */
BPT_MUST_USE int bpt_sim_sev_snp_sign(uint8_t report[1184], const char *dir);

/**
 * The certificates a verifier needs beside a simulated report (VCEK then ASK, PEM) and the ARK's
 * CRL (PEM), as a malloc'd NUL-terminated string (free with bpt_free()).
 */
BPT_MUST_USE int bpt_sim_sev_snp_certs_pem(char **out, const char *dir);

/** A CRL of the simulated ARK, for revocation tests (zeros: crl.der's). */
struct bpt_sim_snp_crl {
    int64_t this_update, next_update; /* 0: BPT_SIM_NOT_BEFORE, BPT_SIM_NOT_AFTER */
    bool revoke_ask;                  /* list the ASK */
    bool revoke_vcek;    /* list the VCEK, by an entry whose certificateIssuer is the ASK */
    bool foreign_issuer; /* issued and signed by another CA ("ARK-Other") */
    bool foreign_key;    /* the ARK's name, signed by another key */
    bool pkcs1;          /* signed by the ARK's key with PKCS#1 v1.5 SHA-384, not RSASSA-PSS */
};

/** Make that CRL (DER, malloc'd: free with bpt_free()). Needs ark-key.pem. */
BPT_MUST_USE int bpt_sim_sev_snp_crl(uint8_t **der, size_t *len, const char *dir,
                                     const struct bpt_sim_snp_crl *o);

#endif
