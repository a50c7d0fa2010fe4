/*
 * The built-in verifiers, each a vtable of sys/verifier.h like any plugin's. The dispatcher
 * (attestation/verify/) registers them in every context; each provider's own entry point
 * (bpt_sev_snp_verify() ...) runs its vtable directly.
 */
#ifndef BPT_ATTESTATION_PROVIDERS_PROVIDERS_H
#define BPT_ATTESTATION_PROVIDERS_PROVIDERS_H

#include <blueprint-tee/sys/verifier.h>

extern const bpt_verifier_vtable bpt_sev_snp_verifier;
extern const bpt_verifier_vtable bpt_tdx_verifier;
extern const bpt_verifier_vtable bpt_aws_nitro_verifier;
extern const bpt_verifier_vtable bpt_azure_maa_verifier;
extern const bpt_verifier_vtable bpt_gcp_confidential_verifier;

#endif
