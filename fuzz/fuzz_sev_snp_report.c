/* SEV-SNP report parser and verifier (no certificates: fails closed after parsing). */
#include "fuzz.h"

#include <blueprint-tee/bpt.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_snp_report rep = BPT_SNP_REPORT_INIT;
    bpt_verify_ctx *ctx = NULL;
    bpt_verified *v = NULL;
    if (bpt_sev_snp_parse(&rep, data, size) == 0) {
        (void)bpt_sev_snp_tcb_decode(rep.reported_tcb, rep.cpuid_product);
    }
    if ((ctx = bpt_fuzz_ctx(true))) {
        if (bpt_sev_snp_verify(&v, ctx, NULL, data, size) == 0) {
            bpt_verified_free(v);
        }
        bpt_verify_ctx_free(ctx);
    }
    return 0;
}
