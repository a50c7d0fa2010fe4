/* The TDX quote parser, the PCK certificate's SGX extensions, and verification (offline). */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

#include "attestation/pki/pki.h"
#include "attestation/providers/tdx_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_tdx_quote q;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    if (bpt_tdx_parse(&q, data, size) == 0) {
        STACK_OF(X509) *certs = NULL;
        struct bpt_pck_ext ext;
        if (bpt_pki_parse_certs(&certs, data + q.pck_chain_off, q.pck_chain_len, "fuzz") == 0) {
            (void)bpt_pck_extensions(&ext, sk_X509_value(certs, 0));
        }
        sk_X509_pop_free(certs, X509_free);
    }
    if (bpt_policy_new(&p) == 0) {
        bpt_policy_set_at(p, BPT_FUZZ_AT);
        bpt_policy_set_offline(p, true);
        if (bpt_tdx_verify(&v, data, size, p) == 0) {
            bpt_verified_free(v);
        }
        bpt_policy_free(p);
    }
    return 0;
}
