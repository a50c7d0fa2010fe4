/* The TDX quote parser, the PCK certificate's SGX extensions, and verification (offline). */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

#include "attestation/pki/pki.h"
#include "attestation/providers/tdx_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_tdx_quote q = BPT_TDX_QUOTE_INIT;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    if (bpt_tdx_parse(&q, data, size) == 0) {
        STACK_OF(X509) *certs = NULL;
        struct bpt_pck_ext ext;
        if (bpt_pki_parse_certs(&certs, data + q.pck_chain_off, q.pck_chain_len, "fuzz") == 0) {
            bpt_fuzz_ignore(bpt_pck_extensions(&ext, sk_X509_value(certs, 0)));
        }
        sk_X509_pop_free(certs, X509_free);
    }
    if ((ctx = bpt_fuzz_ctx(true))) {
        if (bpt_tdx_verify(&v, ctx, NULL, data, size) == 0) {
            bpt_verified_free(v);
        }
        bpt_verify_ctx_free(ctx);
    }
    return 0;
}
