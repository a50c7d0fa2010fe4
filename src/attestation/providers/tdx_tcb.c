/*
 * TCB evaluation for a TDX quote, as Intel's QVL does it: the QE report against the QE
 * Identity, the platform TCB level (PCK SGX components and PCESVN, then the quote's
 * TEE_TCB_SVN), the TDX module identity, and the statuses converged into one.
 */
#include "attestation/providers/tdx_internal.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

/* have[i] >= need[i] for every i in from..15. */
static bool components_meet(const uint8_t *have, const uint8_t *need, size_t from)
{
    for (size_t i = from; i < 16; i++) {
        if (have[i] < need[i]) {
            return false;
        }
    }
    return true;
}

static void add_advisories(json_t *all, const json_t *adv)
{
    size_t i;
    json_t *e;
    json_array_foreach(adv, i, e)
    {
        bool seen = false;
        size_t j;
        json_t *f;
        json_array_foreach(all, j, f)
        {
            seen = seen || json_equal(e, f);
        }
        if (!seen) {
            json_array_append_new(all, json_string(json_string_value(e))); /* a copy: shared data */
        }
    }
}

/* A QE or module level that is out of date or revoked lowers the platform's status. */
static bpt_tdx_tcb_status converge(bpt_tdx_tcb_status platform, bpt_tdx_tcb_status other)
{
    if (other == BPT_TCB_REVOKED) {
        return BPT_TCB_REVOKED;
    }
    if (other != BPT_TCB_OUT_OF_DATE) {
        return platform;
    }
    switch (platform) {
    case BPT_TCB_UP_TO_DATE:
    case BPT_TCB_SW_HARDENING_NEEDED:
        return BPT_TCB_OUT_OF_DATE;
    case BPT_TCB_CONFIGURATION_NEEDED:
    case BPT_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
        return BPT_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
    default:
        return platform;
    }
}

static int check_qe(struct bpt_tdx_tcb_result *res, const struct bpt_tdx_qe_identity *id,
                    const bpt_sgx_report_body *qe)
{
    if (memcmp(qe->mr_signer, id->mrsigner, 32) != 0) {
        return bpt_err(BPT_ESIGNATURE, "tdx: the QE report's MRSIGNER is not the QE Identity's");
    }
    if (qe->isv_prod_id != id->isvprodid) {
        return bpt_err(BPT_ESIGNATURE,
                       "tdx: the QE report's ISVPRODID %u is not the QE "
                       "Identity's %u",
                       qe->isv_prod_id, id->isvprodid);
    }
    if ((qe->misc_select & id->miscselect_mask) != id->miscselect) {
        return bpt_err(BPT_ESIGNATURE,
                       "tdx: the QE report's MISCSELECT does not match the QE Identity");
    }
    for (size_t i = 0; i < 16; i++) {
        if ((qe->attributes[i] & id->attributes_mask[i]) != id->attributes[i]) {
            return bpt_err(BPT_ESIGNATURE,
                           "tdx: the QE report's ATTRIBUTES do not match the QE Identity");
        }
    }
    /* The first level the QE's ISVSVN reaches; below all of them the QE is out of date. */
    res->qe = BPT_TCB_OUT_OF_DATE;
    for (size_t i = 0; i < id->n_levels; i++) {
        if (qe->isv_svn >= id->levels[i].isvsvn) {
            res->qe = id->levels[i].status;
            add_advisories(res->advisories, id->levels[i].advisories);
            break;
        }
    }
    return 0;
}

static int check_module(struct bpt_tdx_tcb_result *res, const struct bpt_tdx_tcb_info *t,
                        const bpt_tdx_td_report *b)
{
    const struct bpt_tdx_module_identity *m = NULL;
    uint8_t attrs[8];
    char id[16];
    uint8_t major = b->tee_tcb_svn[1];

    for (size_t i = 0; i < 8; i++) {
        attrs[i] = (uint8_t)(b->seam_attributes >> (8 * i));
    }
    snprintf(id, sizeof(id), "TDX_%02X", major);
    if (major != 0) {
        for (size_t i = 0; i < t->n_modules && !m; i++) {
            if (strcmp(t->modules[i].id, id) == 0) {
                m = &t->modules[i];
            }
        }
        if (!m) {
            return bpt_err(BPT_ESIGNATURE,
                           "tdx: TCB Info has no identity %s for the quote's TDX module", id);
        }
    } else if (t->has_module) {
        m = &t->module;
    } else {
        return 0;
    }
    if (memcmp(m->mrsigner, b->mr_signer_seam, 48) != 0) {
        return bpt_err(BPT_ESIGNATURE,
                       "tdx: the quote's MRSIGNER_SEAM is not the TDX module identity's");
    }
    for (size_t i = 0; i < 8; i++) {
        if ((attrs[i] & m->attributes_mask[i]) != m->attributes[i]) {
            return bpt_err(BPT_ESIGNATURE,
                           "tdx: the quote's SEAM attributes do not match the TDX module identity");
        }
    }
    if (major == 0) {
        return 0;
    }
    for (size_t i = 0; i < m->n_levels; i++) {
        if (b->tee_tcb_svn[0] >= m->levels[i].isvsvn) {
            res->module = m->levels[i].status;
            res->has_module_status = true;
            res->module_id = m->id;
            add_advisories(res->advisories, m->levels[i].advisories);
            return 0;
        }
    }
    return bpt_err(BPT_ECLAIM,
                   "tdx: TCB level not supported: the TDX module SVN %u is below every level of %s",
                   b->tee_tcb_svn[0], id);
}

int bpt_tdx_tcb_evaluate(struct bpt_tdx_tcb_result *res, const struct bpt_tdx_collateral *c,
                         const struct bpt_pck_ext *pck, const bpt_tdx_quote *q)
{
    const struct bpt_tdx_tcb_level *match = NULL;
    const bpt_tdx_td_report *b = &q->body;
    /* With a module major version, TEE_TCB_SVN bytes 0 and 1 are the module's (checked there). */
    size_t from = b->tee_tcb_svn[1] != 0 ? 2 : 0;
    int rc;

    memset(res, 0, sizeof(*res));
    if (!(res->advisories = json_array())) {
        return bpt_err_nomem("advisories");
    }
    BPT_CHECK(check_qe(res, &c->qe, &q->qe_report));
    for (size_t i = 0; i < c->tcb.n_levels && !match; i++) {
        const struct bpt_tdx_tcb_level *l = &c->tcb.levels[i];
        if (components_meet(pck->comp_svn, l->sgx, 0) && pck->pcesvn >= l->pcesvn &&
            components_meet(b->tee_tcb_svn, l->tdx, from)) {
            match = l;
        }
    }
    if (!match) {
        rc = bpt_err(BPT_ECLAIM,
                     "tdx: TCB level not supported: no TCB level of TCB Info matches the "
                     "platform (PCK SGX TCB components, PCESVN %u and the quote's TEE_TCB_SVN)",
                     pck->pcesvn);
        goto out;
    }
    res->platform = match->status;
    snprintf(res->tcb_date, sizeof(res->tcb_date), "%s", match->date);
    add_advisories(res->advisories, match->advisories);
    BPT_CHECK(check_module(res, &c->tcb, b));
    res->final = converge(res->platform, res->qe);
    if (res->has_module_status) {
        res->final = converge(res->final, res->module);
    }
    rc = 0;
out:
    if (rc < 0) {
        json_decref(res->advisories);
        res->advisories = NULL;
    }
    return rc;
}
