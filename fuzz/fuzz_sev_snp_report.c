/* SEV-SNP report parser and verifier (no certificates: fails closed after parsing). */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_snp_report rep;
    bpt_policy *p = NULL;
    bpt_verified *v = NULL;
    if (bpt_sev_snp_parse(&rep, data, size) == 0) {
        (void)bpt_sev_snp_tcb_decode(rep.reported_tcb, rep.cpuid_product);
    }
    if (bpt_policy_new(&p) == 0) {
        bpt_policy_set_at(p, BPT_FUZZ_AT);
        bpt_policy_set_offline(p, true);
        if (bpt_sev_snp_verify(&v, data, size, p) == 0) {
            bpt_verified_free(v);
        }
        bpt_policy_free(p);
    }
    return 0;
}
