/*
 * Simulated attestation-token services: GCP Confidential Space's launcher and Azure
 * Attestation (MAA) for an Azure confidential VM. Each has an RSA signing key and publishes its
 * public key as a JWKS (DIR/<provider>/jwks.json); the tokens carry the claims the real services
 * sign, so the JWT verifiers check them like any token once given that JWKS (policy
 * jwt.jwks_file, or bpt_verify_ctx_set_jwks_json). Nothing trusts these keys by default.
 *
 * What a token binds (the providers' verifiers report it, docs/jwt.md "Report data in tokens"):
 * GCP: 64 bytes of report data as the first two eat_nonce values, 32 bytes each in hex (the
 * launcher takes up to six nonces of 10..74 bytes); a nonce (the nonce rule) as eat_nonce.
 * Azure CVM: the report data as x-ms-runtime.client-payload.report_data (hex); a nonce as the
 * token's nonce claim.
 */
#ifndef BPT_ATTESTER_SIM_TOKENS_H
#define BPT_ATTESTER_SIM_TOKENS_H

#include <blueprint-tee/common.h>

#include <stddef.h>
#include <stdint.h>

/** The simulated MAA instance (its tokens' iss). */
#define BPT_SIM_MAA_ISSUER "https://bpt-sim.attest.invalid"
/** The simulated Azure CVM's launch measurement (x-ms-sevsnpvm-launchmeasurement). */
#define BPT_SIM_MAA_MEASUREMENT                                                                    \
    "c9d9e1d42b9b116e8339e00ec0940c5a6501ed9dccd081f415d96465940786cdf1475dbe4e0c78225e6fba5ff5be" \
    "c44f"
/** The simulated Confidential Space workload's image digest (submods.container.image_digest). */
#define BPT_SIM_GCP_IMAGE_DIGEST                                                                   \
    "sha256:e500d93df76f68230679631b43de446341a48aaf398a1b19c326d64497d2dc53"
/** The audience of simulated GCP tokens when none is asked for. */
#define BPT_SIM_GCP_AUDIENCE "blueprint-tee-sim"

/** What a simulated token binds: report data (64 bytes), or a nonce (text), not both. */
struct bpt_sim_token_opts {
    const uint8_t *report_data; /* NULL: none */
    const uint8_t *nonce;       /* NULL: none */
    size_t nonce_len;
    const char *audience; /* GCP: NULL = BPT_SIM_GCP_AUDIENCE; Azure: NULL = no aud */
    int64_t issued_at;    /* iat (and nbf); exp = iat + 3600 */
};

/** Create DIR/gcp-confidential/ and DIR/azure-maa/: key.pem (0600) and jwks.json each. */
BPT_MUST_USE int bpt_sim_gcp_init(const char *dir);
BPT_MUST_USE int bpt_sim_maa_init(const char *dir);

/** A signed token (JWS compact, NUL-terminated; free with bpt_free()). BPT_EINVAL for a nonce
 *  the real service refuses (GCP: 10..74 bytes) or that is not UTF-8 text. */
BPT_MUST_USE int bpt_sim_gcp_token(char **out, const char *dir, const struct bpt_sim_token_opts *o);
BPT_MUST_USE int bpt_sim_maa_token(char **out, const char *dir, const struct bpt_sim_token_opts *o);

#endif
