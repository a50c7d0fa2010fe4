/**
 * @file verify.h
 * Verifying evidence: a verifier (a verification context and a policy, context.h and
 * policy.h) recognises the evidence once, routes it to its provider's verifier
 * (sys/verifier.h), and on success hands back a bpt_verified (verified.h).
 *
 *   bpt_verifier *v = NULL;
 *   bpt_verified *att = NULL;
 *   BPT_CHECK(bpt_verifier_new(&v, ctx, policy));            // ctx shared, policy copied
 *   rc = bpt_verifier_verify(&att, v, ev, ev_len, BPT_PROVIDER_UNKNOWN);
 *
 * Every verifier fails closed: anything not positively verified is an error, and *out is NULL.
 * Order of checks: parse, signatures and chain, then claims against the policy.
 *
 * Threads: a bpt_verifier is immutable once made: share it freely; verification is reentrant.
 */
#ifndef BPT_VERIFY_H
#define BPT_VERIFY_H

#include "attestation.h"
#include "context.h"
#include "evidence.h"
#include "policy.h"
#include "verified.h"

BPT_BEGIN_DECLS

/** Recognise evidence by its structure (no cryptography). Never fails, never sets a message. */
BPT_API bpt_evidence_kind bpt_evidence_recognise(const uint8_t *ev, size_t len);

/**
 * The provider whose built-in verifier takes this evidence (a JWT: GCP when its issuer is
 * Confidential Space, else Azure MAA; report JSON: its "provider"); BPT_PROVIDER_UNKNOWN when
 * not recognised. Never fails, never sets a message.
 */
BPT_API bpt_provider bpt_evidence_provider(const uint8_t *ev, size_t len);

/**
 * Normalise evidence as a user may hand it over (raw binary, base64, hex, JWT text, report
 * JSON) to the bytes a verifier takes: base64/hex text of a binary format is decoded; JWT and
 * JSON text is kept. Surrounding whitespace is trimmed.
 * @param[out] out, out_len free *out with bpt_free().
 * @return 0; BPT_ELIMIT (over the evidence limit); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_evidence_decode(uint8_t **out, size_t *out_len, const uint8_t *in,
                                             size_t len);

/**
 * Decode evidence for a person to read, verifying nothing (as `snpguest display report` or
 * `step crypto jwt inspect` do): no signature, certificate chain, collateral or policy is
 * looked at, so nothing in it may be trusted. The JSON document says so ("verified": false and
 * a "note") and holds "kind", "provider" and "fields": an SEV-SNP report's fields (policy and TCB
 * versions decoded), a TDX quote's header, TD report body and registers, QE report and PCK
 * chain (subjects), a Nitro document's module id, timestamp, PCRs, certificates (subjects),
 * public_key, user_data and nonce, a JWT's header and claims (decoded, whatever its alg); report
 * JSON gives what the report claims ("report": its evidence left out, its collateral
 * summarised, certificates by subject) and its "evidence" so decoded.
 * @param[out] out JSON text; free with bpt_free(); NULL on failure.
 * @param ev, len evidence as bpt_evidence_decode() leaves it; borrowed.
 * @return 0; BPT_EINVAL (NULL @p out); BPT_EMALFORMED (not a recognised format, or it does not
 *         decode: the field named); BPT_ENOTSUP (SGX quotes); BPT_ENOMEM.
 * Threads: reentrant.
 */
BPT_API BPT_MUST_USE int bpt_evidence_inspect_json(char **out, const uint8_t *ev, size_t len);

/**
 * Fetch into the context's cache directory (bpt_verify_ctx_set_cache_dir()) everything a
 * verification of @p ev through @p ctx under @p policy would otherwise fetch, so that a later
 * verification with the same cache directory and bpt_verify_ctx_set_offline() needs no network
 * (air-gapped verification): an SEV-SNP report's VCEK from AMD KDS (the ASK/ASVK and ARK are
 * pinned; with trust roots of its own, give the ASK as certificates) and AMD's CRL for the
 * product (KDS /vcek|vlek/v1/{product}/crl; unless the context's revocation check is off,
 * bpt_verify_ctx_set_revocation_check()), a TDX quote's collateral from Intel PCS or the
 * context's PCCS, a JWT's JWK set (from the context's or the policy's JWKS URL, else GCP's, or
 * an MAA instance's <iss>/certs when the policy lists the issuer). What the evidence or the
 * context carries is not fetched (a CRL given counts when the product's ARK issued it), nor what
 * the cache already holds; Nitro documents need nothing.
 * After fetching, each piece is looked up again as an offline verification will look it up.
 * Nothing fetched is verified here; verification does that.
 * @param[out] out_json NULL, or a summary to free with bpt_free():
 *        {"cache_dir":..,"items":[{"provider":..,"what":"vcek|crl|tdx_collateral|jwks|nothing",
 *        "state":"fetched|cached|given|not_needed","detail":..}]}.
 * @param ctx with a cache directory; frozen by the call. Offline, nothing is fetched: what is
 *        not cached fails with BPT_EKEYS (a way to check a cache).
 * @param policy NULL: production(). Its sev_snp.products names the product of a version 2
 *        report; its jwt block where keys come from.
 * @param ev, len as bpt_verifier_verify() takes them (report JSON included).
 * @return 0; BPT_EINVAL (no context or cache directory); BPT_EMALFORMED (not evidence);
 *         BPT_EFETCH (a fetch failed: retrying may help); BPT_EKEYS (it cannot be fetched: a
 *         VLEK, a masked chip id, a product not named; offline and not cached);
 *         BPT_EUNSATISFIABLE (no URL to fetch keys from); BPT_EIO (fetched but not kept).
 * Threads: as verification: any number of threads on one frozen context.
 */
BPT_API BPT_MUST_USE int bpt_verify_prefetch(char **out_json, const bpt_verify_ctx *ctx,
                                             const bpt_policy *policy, const uint8_t *ev,
                                             size_t len);

/** A verification context and a policy, made into one object that verifies. */
typedef struct bpt_verifier bpt_verifier;

/**
 * Make a verifier. Freezes @p ctx and takes a reference to it; copies @p policy.
 * @param[out] out free with bpt_verifier_free(); NULL on failure.
 * @param ctx NULL for a new default context (bpt_verify_ctx_new(..., NULL)).
 * @param policy NULL for production() (bpt_policy_new()).
 * @return 0; BPT_EINVAL (NULL @p out); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_verifier_new(bpt_verifier **out, bpt_verify_ctx *ctx,
                                          const bpt_policy *policy);

/** Free (dropping its context reference); NULL does nothing. */
BPT_API void bpt_verifier_free(bpt_verifier *v);

/** The verifier's policy and context (borrowed for the verifier's life). */
BPT_API const bpt_policy *bpt_verifier_policy(const bpt_verifier *v);
BPT_API const bpt_verify_ctx *bpt_verifier_ctx(const bpt_verifier *v);

/**
 * Verify evidence.
 * @param[out] out verified attestation on success, else NULL; free with bpt_verified_free().
 * @param ev, ev_len evidence bytes (as bpt_evidence_decode() leaves them, report JSON
 *        included); borrowed.
 * @param provider BPT_PROVIDER_UNKNOWN recognises the evidence; a named provider is enforced
 *        (evidence of another kind is refused, no fallback).
 * @return 0; BPT_EINVAL (NULL @p out or @p v); BPT_EMALFORMED (also no evidence: NULL or empty),
 *         BPT_ESIGNATURE, BPT_ECLAIM, BPT_EKEYS, BPT_EFETCH, BPT_EUNSATISFIABLE (no verifier
 *         for this evidence); BPT_ENOTSUP (the provider was switched off at build time).
 */
BPT_API BPT_MUST_USE int bpt_verifier_verify(bpt_verified **out, const bpt_verifier *v,
                                             const uint8_t *ev, size_t ev_len,
                                             bpt_provider provider);

/**
 * Verify a report (JSON form): its evidence is verified as by bpt_verifier_verify() with its
 * provider enforced; certificates and collateral carried in the report are used beside the
 * context's (the context's collateral first).
 */
BPT_API BPT_MUST_USE int bpt_verifier_verify_report(bpt_verified **out, const bpt_verifier *v,
                                                    const bpt_report *report);

/**
 * One-off verification without a verifier object: as bpt_verifier_verify() with @p ctx
 * (NULL: a default context, made and freed for this call; it freezes a given one) and
 * @p policy (NULL: production()).
 */
BPT_API BPT_MUST_USE int bpt_verify(bpt_verified **out, const bpt_verify_ctx *ctx,
                                    const bpt_policy *policy, const uint8_t *ev, size_t ev_len,
                                    bpt_provider provider);

/**
 * As bpt_verify(), and on failure also describes the refusal as one JSON object holding what
 * was learned before it (DESIGN.md §5; docs/schemas/verify.schema.json less the CLI's fields):
 *
 *   {"verified":false,"provider":"intel_tdx","format":"tdx_quote","evidence_sha256":"<hex>",
 *    "tcb":{"status":"out_of_date",..},"error":{"kind":"claim","message":".."}}
 *
 * "provider" and "format": of the verifier that ran, else of the provider named or recognised
 * ("unknown" when none; a plugin's format is "unknown"). "evidence_sha256": SHA-256 of the
 * evidence bytes a verifier was handed (for report JSON, the evidence it carries: the digest a
 * success would report), absent when none was. "tcb": the verifier's TCB object when it had
 * reached its TCB decision before refusing (a TDX quote refused by the policy: its status),
 * else absent. "kind": the code's name for the six attestation kinds, else "unsatisfiable"
 * (this verifier cannot say yes); the code itself is returned.
 * @param[out] refusal NULL on success; on failure the JSON text (free with bpt_free()), or NULL
 *             when there was no memory for it. Never changes bpt_error_last().
 * @return as bpt_verify(); BPT_EINVAL also for a NULL @p refusal.
 */
BPT_API BPT_MUST_USE int bpt_verify_explain(bpt_verified **out, char **refusal,
                                            const bpt_verify_ctx *ctx, const bpt_policy *policy,
                                            const uint8_t *ev, size_t ev_len,
                                            bpt_provider provider);

/** One-off report verification: as bpt_verifier_verify_report(). */
BPT_API BPT_MUST_USE int bpt_verify_report(bpt_verified **out, const bpt_verify_ctx *ctx,
                                           const bpt_policy *policy, const bpt_report *report);

BPT_END_DECLS

#endif
