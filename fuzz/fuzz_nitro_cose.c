/* Nitro COSE_Sign1 / attestation document decoding and the whole verifier (pinned root). */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

#include "attestation/providers/aws_nitro_internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bpt_nitro_doc d;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    if (bpt_nitro_parse(&d, data, size) == 0) {
        uint8_t *tbs = NULL;
        size_t n = 0;
        if (bpt_nitro_sig_structure(&tbs, &n, &d) == 0) {
            free(tbs);
        }
    }
    bpt_nitro_doc_dispose(&d);
    if ((ctx = bpt_fuzz_ctx(false))) {
        if (bpt_aws_nitro_verify(&v, ctx, NULL, data, size) == 0) {
            bpt_verified_free(v);
        }
        bpt_verify_ctx_free(ctx);
    }
    return 0;
}
