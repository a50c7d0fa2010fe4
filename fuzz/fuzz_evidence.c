/* Evidence recognition, decoding and the whole dispatcher on arbitrary bytes, offline. */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *ev = NULL;
    size_t ev_len = 0;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;

    (void)bpt_evidence_recognise(data, size);
    (void)bpt_evidence_provider(data, size);
    if (bpt_evidence_decode(&ev, &ev_len, data, size) == 0 && bpt_policy_new(&p) == 0) {
        bpt_policy_set_at(p, BPT_FUZZ_AT);
        bpt_policy_set_offline(p, true);
        if (bpt_verify(&v, ev, ev_len, BPT_PROVIDER_UNKNOWN, p) == 0) {
            bpt_verified_free(v);
        }
    }
    bpt_policy_free(p);
    bpt_free(ev);
    return 0;
}
