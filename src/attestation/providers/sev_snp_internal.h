/* SEV-SNP internals shared with the simulator, the fuzz target and the tests. */
#ifndef BPT_ATTESTATION_PROVIDERS_SEV_SNP_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_SEV_SNP_INTERNAL_H

#include <blueprint-tee/sev_snp.h>

#include <openssl/x509.h>

/** AMD extensions of a VCEK/VLEK certificate (OIDs 1.3.6.1.4.1.3704.1.*). */
struct bpt_snp_vek_ext {
    bool has_bl, has_tee, has_snp, has_ucode, has_fmc, has_hwid;
    int bl, tee, snp, ucode, fmc;
    uint8_t hwid[64];
    char product_name[32];
};

/** Read the AMD extensions; absent ones leave their has_ flag false. BPT_EMALFORMED if damaged. */
BPT_MUST_USE int bpt_snp_vek_extensions(struct bpt_snp_vek_ext *out, X509 *cert);

/** The product a VCEK/VLEK's productName names ("Milan-B0": Milan); unknown for any other. */
bpt_snp_product bpt_snp_product_from_name(const char *name);

#endif
