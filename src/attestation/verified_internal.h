/*
 * How verifiers hand back a result, and the one place that turns a verifier's result into a
 * bpt_verified. Only code inside the library can make a bpt_verified: bpt_verifier_run() is not
 * exported. Built-in verifiers fill the result's fields directly:
 *
 *   res->d.report_data_len = 64; memcpy(res->d.report_data, rep.report_data, 64);
 *   res->d.tcb = json_pack("{s:s}", "status", "up_to_date");   // owned by res from now on;
 *                                                              // set before the policy checks,
 *                                                              // a refusal still reports it
 *   res->report = report;                                       // likewise
 */
#ifndef BPT_ATTESTATION_VERIFIED_INTERNAL_H
#define BPT_ATTESTATION_VERIFIED_INTERNAL_H

#include <jansson.h>

#include <blueprint-tee/sys/verifier.h>

struct bpt_evidence;

struct bpt_verify_details {
    uint8_t report_data[BPT_VERIFIED_REPORT_DATA_MAX]; /* report data / user data authenticated */
    size_t report_data_len;
    json_t *tcb;      /* object for the result's "tcb" field, or NULL */
    json_t *warnings; /* array of strings, or NULL */
};

struct bpt_verify_result {
    bpt_report *report; /* owned */
    struct bpt_verify_details d;
};

/** Release what a result holds (for error paths and after bpt_verifier_run()). */
void bpt_verify_result_dispose(struct bpt_verify_result *res);

/**
 * Run @p vt over @p ev under @p policy (NULL: production()) with @p ctx (not NULL; frozen by
 * this call), with the context's log sink in scope; check the result keeps the contract of
 * sys/verifier.h; make the bpt_verified. A plugin's (non-@p builtin) failure messages are
 * prefixed with its name.
 * @param[out] tcb_on_refusal optional: when the verifier fails after it set its "tcb" object
 *             (it had reached its TCB decision), that object (owned by the caller), else NULL.
 * @return 0; the verifier's code; BPT_ERROR (a verifier that broke its contract).
 */
BPT_MUST_USE int bpt_verifier_run(bpt_verified **out, const bpt_verifier_vtable *vt, bool builtin,
                                  const bpt_verify_ctx *ctx, const bpt_policy *policy,
                                  const struct bpt_evidence *ev, json_t **tcb_on_refusal);

/**
 * A built-in provider's own entry point (bpt_sev_snp_verify() ...): @p ev_bytes as evidence
 * of @p kind, through @p vt, with @p ctx or, when NULL, a context of defaults made for the call.
 */
BPT_MUST_USE int bpt_verifier_run_direct(bpt_verified **out, const bpt_verifier_vtable *vt,
                                         const bpt_verify_ctx *ctx, const bpt_policy *policy,
                                         const uint8_t *ev_bytes, size_t ev_len);

/**
 * A report JSON's public_key_binding (of @p claimed, what the caller handed in) against what
 * the evidence authenticated: when the evidence carries a key itself (Nitro's public_key), the
 * binding must name that key; otherwise its binding_digest must be the hex of the report data
 * the evidence authenticated (how the key maps to that report data is its protocol's to check,
 * docs/exchange.md), and the binding is then kept on @p v's report. No binding: nothing to do.
 * @return 0; BPT_ECLAIM (does not match); BPT_ENOMEM.
 */
BPT_MUST_USE int bpt_verified_check_key_binding(bpt_verified *v, const bpt_report *claimed);

#endif
