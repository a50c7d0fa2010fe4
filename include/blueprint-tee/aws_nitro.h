/**
 * @file aws_nitro.h
 * AWS Nitro Enclaves attestation documents: COSE_Sign1 (tagged or not) with ES384, the
 * attestation document in its payload (AWS NSM API), the certificate chain from the pinned
 * AWS Nitro root through the document's cabundle to its certificate, and the policy.
 *
 * Threads: reentrant.
 */
#ifndef BPT_AWS_NITRO_H
#define BPT_AWS_NITRO_H

#include "context.h"
#include "policy.h"
#include "verified.h"

BPT_BEGIN_DECLS

/**
 * Verify a Nitro attestation document (the COSE_Sign1 bytes) under @p policy at the context's
 * time, as the built-in Nitro verifier of bpt_verify() does (without recognising it first).
 * Checks, in order: COSE structure (alg ES384 in the protected header), the document's fields
 * with the NSM API's types and size limits (duplicate keys refused), cabundle[0] equal to the
 * pinned root (or a trust root of the context), the chain root -> cabundle... -> certificate at the
 * verification time (CA constraints, path length, key usage), the ECDSA P-384 signature over
 * Sig_structure, then the policy: debug (PCR0 all zero), expected measurement (PCR0), image
 * digest (PCR8), aws_nitro.pcrs, nonce (the nonce rule, bpt_nonce_bind(): the document's nonce
 * field holds the expected nonce's bytes), report data (user_data, of which the result keeps
 * all, up to 512 bytes), freshness from the timestamp (max_age_secs; at most 60 s in the future).
 * @param[out] out free with bpt_verified_free(); NULL on failure.
 * @param ctx borrowed (frozen by the call); NULL: defaults (pinned root, now, no caches).
 * @param policy borrowed; NULL: production().
 * @return 0; BPT_EINVAL (NULL @p out); BPT_EMALFORMED; BPT_ESIGNATURE; BPT_ECLAIM.
 */
BPT_API BPT_MUST_USE int bpt_aws_nitro_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                              const bpt_policy *policy, const uint8_t *ev,
                                              size_t ev_len);

BPT_END_DECLS

#endif
