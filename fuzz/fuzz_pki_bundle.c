/* Certificates and CRLs, DER or PEM (bpt_pki_parse_bundle): what --certs, --crl, a report's
 * collateral, KDS and the on-disk cache hand the SEV-SNP verifier; each CRL read is then
 * checked as a revocation list would be (its window, its entries against itself). */
#include "fuzz.h"

#include "attestation/pki/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    if (bpt_pki_parse_bundle(&certs, &crls, data, size, "fuzz") == 0) {
        for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
            X509_CRL *crl = sk_X509_CRL_value(crls, i);
            int64_t nb = 0, na = 0;
            (void)bpt_pki_crl_window(crl, &nb, &na);
            (void)bpt_pki_crl_sig_name(crl);
            for (int j = 0; j < sk_X509_num(certs); j++) {
                X509_REVOKED *rev = NULL;
                (void)X509_CRL_get0_by_cert(crl, &rev, sk_X509_value(certs, j));
            }
        }
    }
    sk_X509_pop_free(certs, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return 0;
}
