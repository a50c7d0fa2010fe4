/* Evidence recognition, decoding, inspection (bpt inspect) and the whole dispatcher on
 * arbitrary bytes, offline. */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *ev = NULL;
    size_t ev_len = 0;
    char *inspected = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;

    (void)bpt_evidence_recognise(data, size);
    (void)bpt_evidence_provider(data, size);
    if (bpt_evidence_inspect_json(&inspected, data, size) == 0) {
        bpt_free(inspected);
        inspected = NULL;
    }
    if (bpt_evidence_decode(&ev, &ev_len, data, size) == 0 &&
        bpt_evidence_inspect_json(&inspected, ev, ev_len) == 0) {
        bpt_free(inspected);
    }
    if (ev && (ctx = bpt_fuzz_ctx(true))) {
        if (bpt_verify(&v, ctx, NULL, ev, ev_len, BPT_PROVIDER_UNKNOWN) == 0) {
            bpt_verified_free(v);
        }
    }
    bpt_verify_ctx_free(ctx);
    bpt_free(ev);
    return 0;
}
