/**
 * @file sys/verifier.h
 * The verifier interface: a versioned vtable through which every provider verifies evidence.
 * The built-in providers (SEV-SNP, TDX, Nitro, Azure MAA, GCP Confidential Space) register
 * through it when a context is made; an application adds its own with
 * bpt_verify_ctx_add_verifier(), to verify evidence the built-ins do not know (a provider of
 * its own, named "<vendor>.<name>") or to take over a built-in provider's evidence with a
 * higher priority.
 *
 * Verification runs in this order: the evidence is recognised once (its kind); the verifier is
 * chosen (the provider the caller named, else the highest-priority verifier that takes this
 * kind and accepts() it); its verify() fills a bpt_verify_result; the library checks that the
 * result keeps the contract and makes the bpt_verified. A verifier never makes a bpt_verified
 * itself. Registering a verifier is trusting it: its verdict is the library's verdict for the
 * evidence it takes.
 *
 * A verifier fails like the library does: it returns a negative code after setting the message
 * with bpt_error_set() (error.h), e.g.
 *
 *   return bpt_error_set(BPT_ECLAIM, "acme.tee: firmware %u < policy minimum %u", fw, min);
 *
 * Threads: add verifiers before the context is frozen (context.h); verify() and accepts() are
 * then called from any thread that verifies through the context, concurrently, and must be
 * reentrant.
 */
#ifndef BPT_SYS_VERIFIER_H
#define BPT_SYS_VERIFIER_H

#include "../attestation.h"
#include "../context.h"
#include "../evidence.h"
#include "../policy.h"
#include "../verified.h"

BPT_BEGIN_DECLS

/** The interface version this library implements. */
#define BPT_VERIFIER_API_VERSION 2

/** What a verifier fills on success (opaque; owned by the library). */
typedef struct bpt_verify_result bpt_verify_result;

/**
 * The report the verifier built. Takes ownership of @p report on success (on failure the caller
 * still owns it). Its provider must be the vtable's provider (and, for BPT_PROVIDER_CUSTOM, its
 * provider name the vtable's provider_name); its evidence is set by the library if left empty.
 * @return 0; BPT_EINVAL (NULL, or a report was already set).
 */
BPT_API BPT_MUST_USE int bpt_verify_result_set_report(bpt_verify_result *res, bpt_report *report);

/**
 * The report data the evidence authenticated (at most BPT_VERIFIED_REPORT_DATA_MAX bytes,
 * copied). @return 0; BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_verify_result_set_report_data(bpt_verify_result *res,
                                                           const uint8_t *data, size_t len);

/** A JSON object for the result's "tcb" field (copied). @return 0; BPT_EMALFORMED; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_verify_result_set_tcb_json(bpt_verify_result *res, const char *json);

/** A warning for the result's "warnings" (copied, at most 32). @return 0; BPT_ELIMIT; BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_verify_result_add_warning(bpt_verify_result *res, const char *text);

typedef struct bpt_verifier_vtable {
    unsigned api_version;         /**< BPT_VERIFIER_API_VERSION the plugin was built for */
    const char *name;             /**< unique among the context's verifiers, static: "acme.tee" */
    bpt_provider provider;        /**< the provider its evidence belongs to, or
                                       BPT_PROVIDER_CUSTOM for a provider of the plugin's own */
    const char *provider_name;    /**< with BPT_PROVIDER_CUSTOM: "<vendor>.<name>", lowercase
                                       letters, digits, '_', '-' and one or more '.' (at most 63
                                       bytes); ignored otherwise */
    bpt_evidence_kind kind;       /**< the evidence kind it takes; BPT_EVIDENCE_UNKNOWN: a format
                                       of its own, then accepts() decides */
    bpt_verification_level level; /**< what it checks */
    int priority;                 /**< among verifiers that take the same evidence, highest wins;
                                       the built-ins have priority 0 */
    /**
     * Cheap structural test: is this evidence for me? No cryptography; never fails. Optional
     * when @ref kind names a kind (NULL: every evidence of that kind); required otherwise.
     */
    bool (*accepts)(const bpt_evidence *ev, void *state);
    /**
     * Verify @p ev under @p policy at bpt_verify_ctx_at(@p ctx), with the context's roots,
     * certificates, collateral and caches. On success return 0 after
     * bpt_verify_result_set_report() (and set_report_data() for what it authenticated); on
     * failure a negative BPT_E* code with a message (bpt_error_set()). Checks in the order:
     * parse, signatures and chain, then claims against the policy.
     */
    int (*verify)(bpt_verify_result *res, const bpt_evidence *ev, const bpt_verify_ctx *ctx,
                  const bpt_policy *policy, void *state);
    void *state; /**< passed back to the functions; owned by the application, outlives the
                      context */
} bpt_verifier_vtable;

/**
 * Add a verifier to @p ctx (the vtable is copied).
 * @return 0; BPT_ENOTSUP (api_version newer than this library's); BPT_EINVAL (missing name or
 *         verify(), no accepts() for a format of its own, an unknown provider, a bad
 *         provider_name, a name already registered); BPT_ELIMIT (32 plugins); BPT_EBUSY (the
 *         context is frozen).
 */
BPT_API BPT_MUST_USE int bpt_verify_ctx_add_verifier(bpt_verify_ctx *ctx,
                                                     const bpt_verifier_vtable *vt);

BPT_END_DECLS

#endif
