/**
 * @file jwt.h
 * JWT attestation tokens: Azure Attestation (MAA) and GCP Confidential Space (docs/jwt.md).
 * A token is a JWS compact serialisation signed with RS256/384/512, PS256/384/512, ES256 or
 * ES384 (never `none` or HMAC) and naming its key with `kid`; it is checked against a JWK set,
 * then its time (exp, nbf, iat at the policy's time `at`), audience, issuer and claims.
 *
 * Keys come from, in this order: the context's JWKS document (bpt_verify_ctx_set_jwks_json(),
 * `bpt verify --jwks FILE`), the context's JWKS URL (bpt_verify_ctx_set_jwks_url(),
 * `--jwks-url`), the policy's `jwt.jwks_file`, the policy's `jwt.jwks_url`
 * (bpt_policy_set_jwks_url()), else the provider's own — for GCP the jwks_uri of
 * https://confidentialcomputing.googleapis.com/.well-known/openid-configuration, for MAA
 * `<issuer>/certs` of an instance the policy names in `jwt.issuers`. URLs are fetched with
 * libcurl (https, or http to loopback; no redirects; 256 KiB cap; time-out), through the
 * context's JWKS cache (context.h: Cache-Control max-age, rate-limited refetch). Offline
 * (bpt_verify_ctx_set_offline()) nothing is fetched and a token whose key is not at hand fails
 * with BPT_EKEYS.
 *
 * Threads: verification is reentrant; contexts and policies are shared as context.h and
 * policy.h say.
 */
#ifndef BPT_JWT_H
#define BPT_JWT_H

#include "context.h"
#include "policy.h"
#include "verified.h"

BPT_BEGIN_DECLS

/**
 * Verify a GCP Confidential Space token (as the built-in verifier of bpt_verify() does, at the
 * context's time): issuer https://confidentialcomputing.googleapis.com
 * (and in jwt.issuers when the policy lists issuers); bound to this relying party (the policy
 * names an expected_audience, or opts out with insecure_any_audience: then a warning);
 * signature, exp/nbf/iat, audience, then the policy: debug (dbgstat other than
 * "disabled-since-boot", or absent), expected_nonce among eat_nonce (a string or an array),
 * expected_image_digest against submods.container.image_digest, expected_measurement against that
 * digest's 32 bytes. The report's measurement is the image digest (sha256).
 * @param[out] out free with bpt_verified_free(); NULL on failure.
 * @param ctx borrowed (frozen by the call); NULL: defaults (now, online, no caches).
 * @param policy borrowed; NULL means bpt_policy_new()'s production policy.
 * @param ev, ev_len the token text (trailing newlines allowed); borrowed.
 * @return 0; BPT_EINVAL (NULL @p out); BPT_EMALFORMED; BPT_ESIGNATURE; BPT_ECLAIM; BPT_EKEYS;
 *         BPT_EFETCH; BPT_EUNSATISFIABLE (no expected audience; expected_report_data: these
 *         tokens carry none; a measurement that is not sha256, 32 bytes). See
 *         bpt_error_last().
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_gcp_confidential_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                                     const bpt_policy *policy, const uint8_t *ev,
                                                     size_t ev_len);

/**
 * Verify an Azure Attestation (MAA) token (as the built-in verifier of bpt_verify() does, at the
 * context's time). Fails closed unless the caller chose the trust:
 * the issuer must be in the policy's jwt.issuers (keys then come from `<issuer>/certs`), or,
 * with no issuer list, the context or the policy must name the JWKS (document, file or URL).
 * Then signature,
 * exp/nbf/iat, audience; bound to this relying party (an expected_audience when the token has
 * aud, else an expected_nonce or expected_report_data; or the insecure_any_audience opt-out,
 * with a warning); and by x-ms-attestation-type (sevsnpvm, tdxvm, or azurevm with
 * x-ms-isolation-tee): debug (x-ms-sevsnpvm-is-debuggable / tdx_td_attributes_debug), the
 * launch measurement (x-ms-sevsnpvm-launchmeasurement / tdx_mrtd) against expected_measurement,
 * expected_report_data against x-ms-sevsnpvm-reportdata / tdx_report_data, expected_nonce
 * against the nonce claim (else x-ms-runtime.client-payload.nonce), expected_image_digest
 * against x-ms-runtime.image_digest.
 * @return as bpt_gcp_confidential_verify(); BPT_EUNSATISFIABLE also without an issuer list or
 *         a JWKS source, without a binding to this relying party, and for other attestation
 *         types (SGX, VBS).
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_azure_maa_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                              const bpt_policy *policy, const uint8_t *ev,
                                              size_t ev_len);

BPT_END_DECLS

#endif
