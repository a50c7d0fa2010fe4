/* Verifier plugins: a registry of versioned vtables in front of the built-in dispatcher. */
#include <blueprint-tee/sys/verifier.h>

#include "attestation/verified_internal.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PLUGINS 32

struct bpt_verifier_registry {
    bpt_verifier_vtable plugins[MAX_PLUGINS];
    size_t n;
};

int bpt_verifier_registry_new(bpt_verifier_registry **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : bpt_err_nomem("verifier registry");
}

void bpt_verifier_registry_free(bpt_verifier_registry *r)
{
    free(r);
}

int bpt_verifier_registry_add(bpt_verifier_registry *r, const bpt_verifier_vtable *vt)
{
    if (!vt) {
        return bpt_err(BPT_EINVAL, "verifier registry: no vtable");
    }
    if (vt->api_version > BPT_VERIFIER_API_VERSION || vt->api_version == 0) {
        return bpt_err(BPT_ENOTSUP,
                       "verifier registry: plugin '%.64s' wants interface version %u, this "
                       "library implements 1..%d",
                       vt->name ? vt->name : "?", vt->api_version, BPT_VERIFIER_API_VERSION);
    }
    if (!vt->name || !*vt->name || !vt->accepts || !vt->verify) {
        return bpt_err(BPT_EINVAL, "verifier registry: a plugin needs a name, accepts() and "
                                   "verify()");
    }
    if ((int)vt->provider <= 0 || (int)vt->provider >= BPT_PROVIDER_COUNT) {
        return bpt_err(BPT_EINVAL, "verifier registry: plugin '%.64s' names no known provider",
                       vt->name);
    }
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->plugins[i].name, vt->name) == 0) {
            return bpt_err(BPT_EINVAL, "verifier registry: '%.64s' is already registered",
                           vt->name);
        }
    }
    if (r->n == MAX_PLUGINS) {
        return bpt_err(BPT_ELIMIT, "verifier registry: at most %d plugins", MAX_PLUGINS);
    }
    r->plugins[r->n++] = *vt;
    return 0;
}

int bpt_verifier_registry_verify(bpt_verified **out, const bpt_verifier_registry *r,
                                 const uint8_t *ev, size_t ev_len, bpt_provider provider,
                                 const bpt_policy *policy)
{
    const bpt_verifier_vtable *best = NULL;
    struct bpt_verify_details d = {0};
    bpt_report *report = NULL;
    bpt_policy *owned = NULL;
    int rc;

    *out = NULL;
    for (size_t i = 0; r && ev && i < r->n; i++) {
        const bpt_verifier_vtable *vt = &r->plugins[i];
        if ((provider == BPT_PROVIDER_UNKNOWN || provider == vt->provider) &&
            (!best || vt->priority > best->priority) && vt->accepts(ev, ev_len, vt->state)) {
            best = vt;
        }
    }
    if (!best) {
        return bpt_verify(out, ev, ev_len, provider, policy);
    }
    if (!policy) {
        BPT_CHECK(bpt_policy_new(&owned));
        policy = owned;
    }
    rc = best->verify(&report, d.report_data, &d.report_data_len, ev, ev_len, policy, best->state);
    if (rc >= 0 && (!report || d.report_data_len > sizeof(d.report_data) ||
                    bpt_report_provider(report) != best->provider)) {
        rc = bpt_err(BPT_ERROR,
                     "verifier '%.64s' broke its contract (no report, wrong provider "
                     "or report data too long)",
                     best->name);
    }
    if (rc < 0) {
        rc = bpt_err_prefix(rc >= BPT_ERROR_CODE_MIN ? rc : BPT_ERROR, "%s", best->name);
        goto out;
    }
    d.level = best->level;
    d.at = bpt_policy_at(policy);
    BPT_CHECK(bpt_verified_build(out, report, &d));
    report = NULL;
    rc = 0;
out:
    bpt_report_free(report);
    bpt_verify_details_dispose(&d);
    bpt_policy_free(owned);
    return rc;
}
