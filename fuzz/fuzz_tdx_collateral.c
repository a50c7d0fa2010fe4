/*
 * TDX collateral: the collateral JSON verified against the pinned Intel root (from its text, and
 * prepared then checked, as a context's collateral is), and the TCB Info / QE Identity parsers
 * and the CRL parser on the input itself.
 */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

#include "attestation/pki/pki.h"
#include "attestation/collateral/tdx_collateral.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum bpt_pinned_root intel = BPT_ROOT_INTEL_SGX_ROOT_CA;
    struct bpt_tdx_tcb_info *t = calloc(1, sizeof(*t));
    struct bpt_tdx_qe_identity *qe = calloc(1, sizeof(*qe));
    struct bpt_tdx_collateral *c = NULL;
    struct bpt_tdx_collateral_prepared *prepared = NULL;
    STACK_OF(X509) *roots = NULL;
    X509_CRL *crl = NULL;
    char *text = malloc(size + 1);

    if (t && qe && text) {
        memcpy(text, data, size);
        text[size] = '\0';
        if (bpt_tdx_tcb_info_parse(t, text, size) == 0) {
            bpt_tdx_tcb_info_dispose(t);
        }
        if (bpt_tdx_qe_identity_parse(qe, text, size) == 0) {
            bpt_tdx_qe_identity_dispose(qe);
        }
        if (bpt_pki_pinned_roots(&roots, &intel, 1) == 0 &&
            bpt_tdx_collateral_verify(&c, text, size, roots, BPT_FUZZ_AT) == 0) {
            bpt_tdx_collateral_release(c);
            c = NULL;
        }
        if (roots && bpt_tdx_collateral_prepare(&prepared, text, size) == 0) {
            if (bpt_tdx_collateral_check(&c, prepared, roots, BPT_FUZZ_AT) == 0) {
                bpt_tdx_collateral_release(c);
            }
            bpt_tdx_collateral_prepared_free(prepared);
        }
        if (size > 0 && bpt_pki_parse_crl(&crl, data, size, "fuzz") == 0) {
            X509_CRL_free(crl);
        }
    }
    sk_X509_pop_free(roots, X509_free);
    free(text);
    free(t);
    free(qe);
    return 0;
}
