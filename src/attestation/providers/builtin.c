#include "attestation/providers/builtin.h"

#include <blueprint-tee/aws_nitro.h>
#include <blueprint-tee/jwt.h>
#include <blueprint-tee/sev_snp.h>
#include <blueprint-tee/tdx.h>

static const struct bpt_builtin_verifier table[] = {
    {BPT_PROVIDER_AMD_SEV_SNP, BPT_EVIDENCE_SEV_SNP_REPORT, "BPT_WITH_SEV_SNP", BPT_WITH_SEV_SNP,
     BPT_WITH_SEV_SNP ? bpt_sev_snp_verify : NULL},
    {BPT_PROVIDER_INTEL_TDX, BPT_EVIDENCE_TDX_QUOTE, "BPT_WITH_TDX", BPT_WITH_TDX,
     BPT_WITH_TDX ? bpt_tdx_verify : NULL},
    {BPT_PROVIDER_AWS_NITRO, BPT_EVIDENCE_NITRO_COSE, "BPT_WITH_AWS_NITRO", BPT_WITH_AWS_NITRO,
     BPT_WITH_AWS_NITRO ? bpt_aws_nitro_verify : NULL},
    {BPT_PROVIDER_AZURE_SNP, BPT_EVIDENCE_JWT, "BPT_WITH_AZURE_SNP", BPT_WITH_AZURE_SNP,
     BPT_WITH_AZURE_SNP ? bpt_azure_maa_verify : NULL},
    {BPT_PROVIDER_GCP_CONFIDENTIAL, BPT_EVIDENCE_JWT, "BPT_WITH_GCP_CONFIDENTIAL",
     BPT_WITH_GCP_CONFIDENTIAL, BPT_WITH_GCP_CONFIDENTIAL ? bpt_gcp_confidential_verify : NULL},
};

const struct bpt_builtin_verifier *bpt_builtin_verifier(bpt_provider provider)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].provider == provider) {
            return &table[i];
        }
    }
    return 0;
}
