/*
 * The nonce rule (attestation.h, bpt_nonce_binding): where each provider's evidence carries a
 * nonce. The attester binds nonces with it and the verifiers check expected nonces with it, so
 * `bpt attest --nonce S` and `bpt verify --expect-nonce S` pair for every provider.
 */
#include <blueprint-tee/attestation.h>

#include "core/err.h"

#include <string.h>

#include <openssl/evp.h>

int bpt_nonce_bind(bpt_nonce_binding *where, uint8_t report_data[64], bpt_provider provider,
                   const uint8_t *nonce, size_t len)
{
    unsigned int n = 0;

    if (!where || !report_data || !nonce || len == 0 || len > BPT_NONCE_MAX_BYTES) {
        return bpt_err(BPT_EINVAL, "nonce: %zu bytes (a nonce is 1..%d bytes)", nonce ? len : 0,
                       BPT_NONCE_MAX_BYTES);
    }
    memset(report_data, 0, 64);
    switch (provider) {
    case BPT_PROVIDER_AMD_SEV_SNP:
    case BPT_PROVIDER_INTEL_TDX:
        if (EVP_Digest(nonce, len, report_data, &n, EVP_sha512(), NULL) != 1 || n != 64) {
            return bpt_err_ossl(BPT_ERROR, "nonce: SHA-512");
        }
        *where = BPT_NONCE_IN_REPORT_DATA;
        return 0;
    case BPT_PROVIDER_AWS_NITRO:
    case BPT_PROVIDER_AZURE_SNP:
    case BPT_PROVIDER_GCP_CONFIDENTIAL:
        *where = BPT_NONCE_IN_NONCE_FIELD;
        return 0;
    default:
        return bpt_err(BPT_EINVAL, "nonce: no binding rule for provider %s",
                       bpt_provider_name(provider));
    }
}
