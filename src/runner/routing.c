/* Hybrid routing rules (routing.h). */
#include "runner/routing.h"

#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bpt_routing_init(struct bpt_routing *rt)
{
    memset(rt, 0, sizeof(*rt));
    pthread_mutex_init(&rt->mu, NULL);
}

void bpt_routing_dispose(struct bpt_routing *rt)
{
    pthread_mutex_destroy(&rt->mu);
}

int bpt_routing_load_file(struct bpt_routing *rt, const char *path)
{
    static const char *const KEYS[] = {"jobs", NULL};
    bpt_buf text = BPT_BUF_INIT(BPT_LIMIT_JSON_BYTES);
    json_t *root = NULL, *jobs = NULL, *v;
    const char *k;
    int rc;
    BPT_CHECK(bpt_file_read(&text, path));
    BPT_CHECK(bpt_json_parse(&root, (const char *)text.data, text.len, "routing file"));
    BPT_CHECK(bpt_json_check_keys(root, KEYS, "routing file"));
    BPT_CHECK(bpt_json_get_obj(root, "jobs", &jobs, true, "routing file"));
    json_object_foreach(jobs, k, v)
    {
        char *end = NULL;
        unsigned long i = strtoul(k, &end, 10);
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (*k < '0' || *k > '9' || *end || i > 255) { /* digits only: no sign, no space */
            rc =
                bpt_err(BPT_EINVAL, "routing file %s: job '%.20s' is not an index 0..255", path, k);
            goto out;
        }
        if (!s || (strcmp(s, "tee") != 0 && strcmp(s, "standard") != 0)) {
            rc = bpt_err(BPT_EINVAL, "routing file %s: job %lu: %s%.20s%s, want tee or standard",
                         path, i, s ? "'" : "", s ? s : "not a string", s ? "'" : "");
            goto out;
        }
        rt->file[i] = strcmp(s, "tee") == 0 ? 1 : 2;
    }
    snprintf(rt->file_path, sizeof(rt->file_path), "%s", path);
    rc = 0;
out:
    if (rc < 0) {
        rc = bpt_err_prefix(rc, "routing");
    }
    json_decref(root);
    bpt_buf_dispose(&text);
    return rc;
}

/* The file's word on a job against the chain's rule: 0, or why it may not be. */
static int check_pair(const struct bpt_routing *rt, unsigned i, bpt_confidentiality chain)
{
    if (rt->file[i] == 1 && chain == BPT_CONFIDENTIALITY_STANDARD_REQUIRED) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "routing: the routing file %s says tee for job %u but %s says "
                       "standard_required",
                       rt->file_path, i, rt->chain_why);
    }
    if (rt->file[i] == 2 &&
        (chain == BPT_CONFIDENTIALITY_TEE_REQUIRED || chain == BPT_CONFIDENTIALITY_TEE_PREFERRED)) {
        return bpt_err(BPT_EUNSATISFIABLE,
                       "routing: the routing file %s says standard for job %u but %s says %s: a "
                       "local file may make routing stricter, never looser",
                       rt->file_path, i, rt->chain_why, bpt_confidentiality_name(chain));
    }
    return 0;
}

int bpt_routing_set_chain(struct bpt_routing *rt, bpt_confidentiality rule, const char *why)
{
    int rc = 0;
    pthread_mutex_lock(&rt->mu);
    snprintf(rt->chain_why, sizeof(rt->chain_why), "%s", why);
    for (unsigned i = 0; i < 256 && rc == 0; i++) {
        rc = check_pair(rt, i, rule);
    }
    if (rc == 0) {
        rt->chain = rule;
        rt->chain_set = true;
    }
    pthread_mutex_unlock(&rt->mu);
    return rc;
}

int bpt_routing_decide(struct bpt_routing *rt, uint8_t index, bool in_tee, bool deployment,
                       char *why_out, size_t why_len)
{
    bpt_confidentiality rule;
    char why[320];
    int place = BPT_PLACE_HERE;
    pthread_mutex_lock(&rt->mu);
    rule = rt->chain_set ? rt->chain : BPT_CONFIDENTIALITY_ANY;
    snprintf(why, sizeof(why), "%s", rt->chain_set ? rt->chain_why : "");
    if (rt->file[index] == 1) {
        rule = BPT_CONFIDENTIALITY_TEE_REQUIRED;
        snprintf(why, sizeof(why), "the routing file %s", rt->file_path);
    } else if (rt->file[index] == 2) {
        rule = BPT_CONFIDENTIALITY_STANDARD_REQUIRED;
        snprintf(why, sizeof(why), "the routing file %s", rt->file_path);
    }
    pthread_mutex_unlock(&rt->mu);
    if (why_out && why_len) {
        snprintf(why_out, why_len, "%s", why);
    }
    if (rule == BPT_CONFIDENTIALITY_TEE_REQUIRED && !in_tee) {
        place = deployment ? BPT_PLACE_DEPLOYMENT
                           : bpt_err(BPT_EUNSATISFIABLE,
                                     "job %u is tee_required (%s): this runner has no attested "
                                     "TEE and no runtime deployment to place it in, and it never "
                                     "runs such a job plainly",
                                     index, why);
    } else if (rule == BPT_CONFIDENTIALITY_TEE_PREFERRED && !in_tee && deployment) {
        place = BPT_PLACE_DEPLOYMENT_PREFERRED;
    } else if (rule == BPT_CONFIDENTIALITY_STANDARD_REQUIRED && in_tee) {
        place = bpt_err(BPT_EUNSATISFIABLE,
                        "job %u is standard_required (%s): this runner runs in a TEE", index, why);
    }
    return place; /* standard_required and any never go to the deployment */
}
