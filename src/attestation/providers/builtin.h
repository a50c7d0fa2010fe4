/*
 * The table of built-in verifiers the dispatcher routes to: every provider has one; a row whose
 * provider is switched off at build time has no function and names its CMake option.
 */
#ifndef BPT_ATTESTATION_PROVIDERS_BUILTIN_H
#define BPT_ATTESTATION_PROVIDERS_BUILTIN_H

#include <blueprint-tee/verify.h>

typedef int (*bpt_verify_fn)(bpt_verified **out, const uint8_t *ev, size_t ev_len,
                             const bpt_policy *policy);

struct bpt_builtin_verifier {
    bpt_provider provider;
    bpt_evidence_kind kind; /* the evidence this verifier takes */
    const char *option;     /* CMake option that builds it */
    bool built;             /* the option was ON */
    bpt_verify_fn verify;   /* NULL exactly when not built */
};

/** The row for @p provider, or NULL. */
const struct bpt_builtin_verifier *bpt_builtin_verifier(bpt_provider provider);

#endif
