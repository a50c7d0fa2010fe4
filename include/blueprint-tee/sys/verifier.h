/**
 * @file sys/verifier.h
 * The verifier plugin interface: a versioned vtable that an application registers to verify
 * evidence the built-in providers do not know (or to replace one for a provider).
 *
 * A plugin never makes a bpt_verified itself: it returns the report it built and the report
 * data it checked, and the registry wraps them. Registering a verifier is trusting it: its
 * verdict is the registry's verdict for the evidence it accepts.
 *
 * Threads: add verifiers before sharing the registry; after that bpt_verifier_registry_verify()
 * may run on many threads at once, and the plugin's functions must be reentrant.
 */
#ifndef BPT_SYS_VERIFIER_H
#define BPT_SYS_VERIFIER_H

#include "../verify.h"

BPT_BEGIN_DECLS

/** The interface version this library implements. */
#define BPT_VERIFIER_API_VERSION 1

typedef struct bpt_verifier_vtable {
    unsigned api_version;         /**< BPT_VERIFIER_API_VERSION the plugin was built for */
    const char *name;             /**< unique, static, e.g. "acme_tee" */
    bpt_provider provider;        /**< the provider its evidence belongs to */
    bpt_verification_level level; /**< what it checks */
    int priority;                 /**< among verifiers accepting the same evidence, highest wins */
    /** Cheap structural test: is this evidence for me? No cryptography. */
    bool (*accepts)(const uint8_t *ev, size_t ev_len, void *state);
    /**
     * Verify under @p policy (at bpt_policy_at(policy)). On success return 0, set *report_out to
     * a report the plugin made (ownership passes to the library) and copy the report data it
     * authenticated into @p report_data (up to 64 bytes, length in *report_data_len). On
     * failure return a negative BPT_E* code with a message (set by the library functions it
     * called), and leave *report_out NULL.
     */
    int (*verify)(bpt_report **report_out, uint8_t report_data[64], size_t *report_data_len,
                  const uint8_t *ev, size_t ev_len, const bpt_policy *policy, void *state);
    void *state; /**< passed back to the functions; owned by the application */
} bpt_verifier_vtable;

typedef struct bpt_verifier_registry bpt_verifier_registry;

/**
 * A registry that starts with the built-in providers.
 * @param[out] out free with bpt_verifier_registry_free().
 */
BPT_API BPT_MUST_USE int bpt_verifier_registry_new(bpt_verifier_registry **out);

/** Free; NULL does nothing. Registered vtables are copied, so nothing else is freed. */
BPT_API void bpt_verifier_registry_free(bpt_verifier_registry *r);

/**
 * Register a plugin (the vtable is copied).
 * @return 0; BPT_ENOTSUP (api_version newer than this library's); BPT_EINVAL (missing
 *         functions or name, unknown provider, a name already registered); BPT_ELIMIT.
 */
BPT_API BPT_MUST_USE int bpt_verifier_registry_add(bpt_verifier_registry *r,
                                                   const bpt_verifier_vtable *vt);

/**
 * Verify: the highest-priority plugin that accepts the evidence (and matches @p provider when
 * one is named) decides; when none does, the built-in dispatcher (bpt_verify()) does.
 * Returns and errors as bpt_verify().
 */
BPT_API BPT_MUST_USE int
bpt_verifier_registry_verify(bpt_verified **out, const bpt_verifier_registry *r, const uint8_t *ev,
                             size_t ev_len, bpt_provider provider, const bpt_policy *policy);

BPT_END_DECLS

#endif
