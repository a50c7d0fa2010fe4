/* The policy file of DESIGN.md §5: load (unknown keys refused at every level) and dump. */
#include "attestation/policy_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hex field that must decode to exactly @p n bytes. Returns 1 if present. */
static int get_hex_exact(const json_t *obj, const char *key, uint8_t *dst, size_t n,
                         const char *ctx)
{
    const char *s = NULL;
    char what[96];
    int rc = bpt_json_get_str(obj, key, &s, false, ctx);
    if (rc <= 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "%s: %s", ctx, key);
    rc = bpt_hex_decode_exact(dst, n, s, strlen(s), what);
    return rc < 0 ? rc : 1;
}

static int get_u8(const json_t *obj, const char *key, uint8_t *dst, const char *ctx)
{
    uint64_t v = 0;
    int rc = bpt_json_get_u64(obj, key, &v, false, ctx);
    if (rc == 1 && v > 255) {
        return bpt_err(BPT_EINVAL, "%s: %s must be 0..255", ctx, key);
    }
    if (rc == 1) {
        *dst = (uint8_t)v;
    }
    return rc;
}

/* A TCB object {bootloader, tee, snp, microcode, fmc}, each 0..255 (absent: 0). */
static int load_snp_tcb(const json_t *o, const char *key, bool *has, bpt_snp_tcb *t)
{
    static const char *const tkeys[] = {"bootloader", "tee", "snp", "microcode", "fmc", NULL};
    char ctx[64];
    json_t *obj = NULL;
    int rc;

    snprintf(ctx, sizeof(ctx), "policy: sev_snp.%s", key);
    if ((rc = bpt_json_get_obj(o, key, &obj, false, "policy: sev_snp")) <= 0) {
        return rc;
    }
    BPT_CHECK(bpt_json_check_keys(obj, tkeys, ctx));
    memset(t, 0, sizeof(*t));
    BPT_CHECK(get_u8(obj, "bootloader", &t->bootloader, ctx));
    BPT_CHECK(get_u8(obj, "tee", &t->tee, ctx));
    BPT_CHECK(get_u8(obj, "snp", &t->snp, ctx));
    BPT_CHECK(get_u8(obj, "microcode", &t->microcode, ctx));
    BPT_CHECK(get_u8(obj, "fmc", &t->fmc, ctx));
    *has = true;
    rc = 0;
out:
    return rc;
}

/* The SEV-SNP rules: booleans named as bpt_policy_set_sev_snp_rule() takes them. */
static int load_snp_rules(bpt_policy *p, const json_t *o)
{
    static const char *const rules[] = {
        "allow_smt",          "allow_migration_agent", "require_single_socket",
        "require_author_key", "platform_smt_enabled",  "platform_tsme_enabled"};
    int rc;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        bool v = false;
        if ((rc = bpt_json_get_bool(o, rules[i], &v, false, "policy: sev_snp")) < 0) {
            return rc;
        }
        if (rc == 1 && (rc = bpt_policy_set_sev_snp_rule(p, rules[i], v)) < 0) {
            return rc;
        }
    }
    return 0;
}

/* The strings and lists of the SEV-SNP block: versions and trusted key digests. */
static int load_snp_strings(bpt_policy *p, const json_t *o)
{
    static const char *const versions[] = {"min_abi", "min_firmware_version"};
    static const char *const lists[] = {"id_key_digests", "author_key_digests"};
    const char *s = NULL;
    json_t *arr = NULL, *e;
    size_t i;
    int rc;

    for (size_t k = 0; k < 2; k++) {
        if ((rc = bpt_json_get_str(o, versions[k], &s, false, "policy: sev_snp")) < 0) {
            return rc;
        }
        if (rc == 1 && (rc = bpt_policy_set_sev_snp_min_version(p, versions[k], s)) < 0) {
            return rc;
        }
        arr = NULL;
        if ((rc = bpt_json_get_arr(o, lists[k], &arr, false, "policy: sev_snp")) < 0) {
            return rc;
        }
        json_array_foreach(arr, i, e)
        {
            if (!json_is_string(e)) {
                return bpt_err(BPT_EINVAL, "policy: sev_snp.%s[%zu] must be hex", lists[k], i);
            }
            if ((rc = bpt_policy_add_sev_snp_key_digest(p, lists[k], json_string_value(e))) < 0) {
                return rc;
            }
        }
    }
    if (p->sev_snp.require_author_key && p->sev_snp.n_author_keys == 0) {
        return bpt_err(BPT_EINVAL, "policy: sev_snp.require_author_key needs author_key_digests "
                                   "(the author keys to trust)");
    }
    return 0;
}

static int load_sev_snp(bpt_policy *p, const json_t *o)
{
    static const char *const keys[] = {"min_tcb",
                                       "host_data",
                                       "vmpl",
                                       "products",
                                       "allow_smt",
                                       "allow_migration_agent",
                                       "require_single_socket",
                                       "min_abi",
                                       "family_id",
                                       "image_id",
                                       "id_key_digests",
                                       "author_key_digests",
                                       "require_author_key",
                                       "min_build",
                                       "min_firmware_version",
                                       "min_launch_tcb",
                                       "platform_smt_enabled",
                                       "platform_tsme_enabled",
                                       NULL};
    json_t *prods = NULL;
    uint64_t vmpl = 0, build = 0;
    int rc;

    BPT_CHECK(bpt_json_check_keys(o, keys, "policy: sev_snp"));
    BPT_CHECK(load_snp_tcb(o, "min_tcb", &p->sev_snp.has_min_tcb, &p->sev_snp.min_tcb));
    BPT_CHECK(load_snp_tcb(o, "min_launch_tcb", &p->sev_snp.has_min_launch_tcb,
                           &p->sev_snp.min_launch_tcb));
    if ((rc = get_hex_exact(o, "host_data", p->sev_snp.host_data, 32, "policy: sev_snp")) < 0) {
        goto out;
    }
    p->sev_snp.has_host_data = rc == 1;
    if ((rc = get_hex_exact(o, "family_id", p->sev_snp.family_id, 16, "policy: sev_snp")) < 0) {
        goto out;
    }
    p->sev_snp.has_family_id = rc == 1;
    if ((rc = get_hex_exact(o, "image_id", p->sev_snp.image_id, 16, "policy: sev_snp")) < 0) {
        goto out;
    }
    p->sev_snp.has_image_id = rc == 1;
    if ((rc = bpt_json_get_u64(o, "vmpl", &vmpl, false, "policy: sev_snp")) < 0) {
        goto out;
    }
    if (rc == 1) {
        if (vmpl > 3) {
            rc = bpt_err(BPT_EINVAL, "policy: sev_snp.vmpl %llu out of range 0..3",
                         (unsigned long long)vmpl);
            goto out;
        }
        p->sev_snp.has_vmpl = true;
        p->sev_snp.vmpl = (uint32_t)vmpl;
    }
    if ((rc = bpt_json_get_u64(o, "min_build", &build, false, "policy: sev_snp")) < 0) {
        goto out;
    }
    if (rc == 1 && (rc = bpt_policy_set_sev_snp_min_build(p, build > 255 ? 256 : (int)build)) < 0) {
        goto out;
    }
    BPT_CHECK(load_snp_rules(p, o));
    BPT_CHECK(load_snp_strings(p, o));
    if ((rc = bpt_json_get_arr(o, "products", &prods, false, "policy: sev_snp")) < 0) {
        goto out;
    }
    if (rc == 1) {
        size_t i;
        json_t *e;
        p->sev_snp.products = 0;
        json_array_foreach(prods, i, e)
        {
            const char *s = json_string_value(e);
            if (s && strcmp(s, "Milan") == 0) {
                p->sev_snp.products |= BPT_SNP_PRODUCT_MILAN;
            } else if (s && strcmp(s, "Genoa") == 0) {
                p->sev_snp.products |= BPT_SNP_PRODUCT_GENOA;
            } else if (s && strcmp(s, "Turin") == 0) {
                p->sev_snp.products |= BPT_SNP_PRODUCT_TURIN;
            } else {
                rc = bpt_err(BPT_EINVAL,
                             "policy: sev_snp.products[%zu] must be \"Milan\", \"Genoa\" or "
                             "\"Turin\"",
                             i);
                goto out;
            }
        }
    }
    rc = 0;
out:
    return rc;
}

static int load_tdx(bpt_policy *p, const json_t *o)
{
    static const char *const keys[] = {"accepted_tcb_status", "mr_config_id", "mr_owner",
                                       "mr_owner_config",     "mr_seam",      "xfam",
                                       "seam_attributes",     "rtmr",         NULL};
    json_t *arr = NULL;
    int rc;

    BPT_CHECK(bpt_json_check_keys(o, keys, "policy: tdx"));
    if ((rc = bpt_json_get_arr(o, "accepted_tcb_status", &arr, false, "policy: tdx")) < 0) {
        goto out;
    }
    if (rc == 1) {
        size_t i;
        json_t *e;
        p->tdx.accepted_tcb = 0;
        json_array_foreach(arr, i, e)
        {
            bpt_tdx_tcb_status st;
            if (!json_is_string(e) || bpt_tcb_status_parse(&st, json_string_value(e)) < 0) {
                rc = bpt_err_prefix(BPT_EINVAL, "policy: tdx.accepted_tcb_status[%zu]", i);
                goto out;
            }
            p->tdx.accepted_tcb |= 1u << st;
        }
        if (!p->tdx.accepted_tcb) {
            rc = bpt_err(BPT_EINVAL, "policy: tdx.accepted_tcb_status must name at least one "
                                     "status");
            goto out;
        }
    }
    if ((rc = get_hex_exact(o, "mr_config_id", p->tdx.mr_config_id, 48, "policy: tdx")) < 0) {
        goto out;
    }
    p->tdx.has_mr_config_id = rc == 1;
    if ((rc = get_hex_exact(o, "mr_owner", p->tdx.mr_owner, 48, "policy: tdx")) < 0) {
        goto out;
    }
    p->tdx.has_mr_owner = rc == 1;
    if ((rc = get_hex_exact(o, "mr_owner_config", p->tdx.mr_owner_config, 48, "policy: tdx")) < 0) {
        goto out;
    }
    p->tdx.has_mr_owner_config = rc == 1;
    if ((rc = get_hex_exact(o, "mr_seam", p->tdx.mr_seam, 48, "policy: tdx")) < 0) {
        goto out;
    }
    p->tdx.has_mr_seam = rc == 1;
    if ((rc = get_hex_exact(o, "xfam", p->tdx.xfam, 8, "policy: tdx")) < 0) {
        goto out;
    }
    p->tdx.has_xfam = rc == 1;
    if ((rc = get_hex_exact(o, "seam_attributes", p->tdx.seam_attributes, 8, "policy: tdx")) < 0) {
        goto out;
    }
    p->tdx.has_seam_attributes = rc == 1;
    if ((rc = bpt_json_get_arr(o, "rtmr", &arr, false, "policy: tdx")) < 0) {
        goto out;
    }
    if (rc == 1) {
        size_t i;
        json_t *e;
        if (json_array_size(arr) > BPT_POLICY_MAX_RTMRS) {
            rc = bpt_err(BPT_EINVAL, "policy: tdx.rtmr has %zu entries (at most %d)",
                         json_array_size(arr), BPT_POLICY_MAX_RTMRS);
            goto out;
        }
        json_array_foreach(arr, i, e)
        {
            char what[48];
            if (json_is_null(e)) {
                continue;
            }
            snprintf(what, sizeof(what), "policy: tdx.rtmr[%zu]", i);
            if (!json_is_string(e)) {
                rc = bpt_err(BPT_EINVAL, "%s must be hex or null", what);
                goto out;
            }
            BPT_CHECK(bpt_hex_decode_exact(p->tdx.rtmr[i], 48, json_string_value(e),
                                           json_string_length(e), what));
            p->tdx.has_rtmr[i] = true;
        }
    }
    rc = 0;
out:
    return rc;
}

static int load_nitro(bpt_policy *p, const json_t *o)
{
    static const char *const keys[] = {"pcrs", NULL};
    json_t *pcrs = NULL, *v;
    const char *k;
    int rc;

    BPT_CHECK(bpt_json_check_keys(o, keys, "policy: aws_nitro"));
    if ((rc = bpt_json_get_obj(o, "pcrs", &pcrs, false, "policy: aws_nitro")) < 0) {
        goto out;
    }
    if (rc == 1) {
        json_object_foreach(pcrs, k, v)
        {
            char *end = NULL, what[48];
            long idx = strtol(k, &end, 10);
            if (!*k || *end || idx < 0 || idx >= BPT_POLICY_MAX_PCRS || !json_is_string(v)) {
                rc = bpt_err(BPT_EINVAL,
                             "policy: aws_nitro.pcrs key '%.16s' must be an index 0..%d with a "
                             "hex value",
                             k, BPT_POLICY_MAX_PCRS - 1);
                goto out;
            }
            snprintf(what, sizeof(what), "policy: aws_nitro.pcrs.%ld", idx);
            BPT_CHECK(bpt_hex_decode_exact(p->aws_nitro.pcr[idx], 48, json_string_value(v),
                                           json_string_length(v), what));
            p->aws_nitro.has_pcr[idx] = true;
        }
    }
    rc = 0;
out:
    return rc;
}

static int load_jwt(bpt_policy *p, const json_t *o)
{
    static const char *const keys[] = {"issuers", "jwks_url", "jwks_file", "leeway_secs", NULL};
    uint64_t leeway = 0;
    json_t *arr = NULL;
    const char *s = NULL;
    int rc;

    BPT_CHECK(bpt_json_check_keys(o, keys, "policy: jwt"));
    if ((rc = bpt_json_get_arr(o, "issuers", &arr, false, "policy: jwt")) < 0) {
        goto out;
    }
    if (rc == 1) {
        size_t i, n = json_array_size(arr);
        json_t *e;
        if (n > BPT_LIMIT_LIST_ENTRIES) {
            rc = bpt_err(BPT_ELIMIT, "policy: jwt.issuers has more than %d entries",
                         BPT_LIMIT_LIST_ENTRIES);
            goto out;
        }
        json_array_foreach(arr, i, e)
        {
            if (!json_is_string(e)) {
                rc = bpt_err(BPT_EINVAL, "policy: jwt.issuers[%zu] must be a string", i);
                goto out;
            }
            if ((rc = bpt_policy_add_jwt_issuer(p, json_string_value(e))) < 0) {
                rc = bpt_err_prefix(rc, "policy: jwt.issuers[%zu]", i);
                goto out;
            }
        }
    }
    if ((rc = bpt_json_get_str(o, "jwks_url", &s, false, "policy: jwt")) < 0) {
        goto out;
    }
    if (rc == 1 && (rc = bpt_policy_set_jwks_url(p, s)) < 0) {
        goto out;
    }
    if ((rc = bpt_json_get_str(o, "jwks_file", &s, false, "policy: jwt")) < 0) {
        goto out;
    }
    if (rc == 1 && !(p->jwt.jwks_file = strdup(s))) {
        rc = bpt_err_nomem("jwks_file");
        goto out;
    }
    if ((rc = bpt_json_get_u64(o, "leeway_secs", &leeway, false, "policy: jwt")) < 0) {
        goto out;
    }
    if (rc == 1 && (rc = bpt_policy_set_jwt_leeway(p, leeway)) < 0) {
        goto out;
    }
    rc = 0;
out:
    return rc;
}

int bpt_policy_load_json(bpt_policy **out, const char *json, size_t len)
{
    static const char *const keys[] = {"allow_debug",
                                       "max_age_secs",
                                       "expected_measurement",
                                       "expected_nonce",
                                       "expected_audience",
                                       "expected_image_digest",
                                       "expected_report_data",
                                       "insecure_any_audience",
                                       "sev_snp",
                                       "tdx",
                                       "aws_nitro",
                                       "jwt",
                                       NULL};
    json_t *root = NULL, *blk = NULL, *ma;
    bpt_policy *p = NULL;
    const char *s = NULL;
    uint64_t age = 0;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_json_parse(&root, json, len, "policy"));
    if (!json_is_object(root)) {
        rc = bpt_err(BPT_EINVAL, "policy: must be a JSON object");
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(root, keys, "policy"));
    BPT_CHECK(bpt_policy_new(&p));
    BPT_CHECK(bpt_json_get_bool(root, "allow_debug", &p->allow_debug, false, "policy"));
    BPT_CHECK(bpt_json_get_bool(root, "insecure_any_audience", &p->insecure_any_audience, false,
                                "policy"));
    ma = json_object_get(root, "max_age_secs");
    if (ma && json_is_null(ma)) {
        p->max_age_secs = 0;
    } else if ((rc = bpt_json_get_u64(root, "max_age_secs", &age, false, "policy")) < 0) {
        goto out;
    } else if (rc == 1) {
        bpt_policy_set_max_age(p, age);
    }
#define LOAD_STR(key, setter)                                                                      \
    s = NULL;                                                                                      \
    if ((rc = bpt_json_get_str(root, key, &s, false, "policy")) < 0) {                             \
        goto out;                                                                                  \
    }                                                                                              \
    if (rc == 1) {                                                                                 \
        BPT_CHECK(setter(p, s));                                                                   \
    }
    LOAD_STR("expected_measurement", bpt_policy_set_expected_measurement)
    LOAD_STR("expected_nonce", bpt_policy_set_expected_nonce)
    LOAD_STR("expected_audience", bpt_policy_set_expected_audience)
    LOAD_STR("expected_image_digest", bpt_policy_set_expected_image_digest)
    LOAD_STR("expected_report_data", bpt_policy_set_expected_report_data)
#undef LOAD_STR
    if ((rc = bpt_json_get_obj(root, "sev_snp", &blk, false, "policy")) < 0 ||
        (rc == 1 && (rc = load_sev_snp(p, blk)) < 0)) {
        goto out;
    }
    if ((rc = bpt_json_get_obj(root, "tdx", &blk, false, "policy")) < 0 ||
        (rc == 1 && (rc = load_tdx(p, blk)) < 0)) {
        goto out;
    }
    if ((rc = bpt_json_get_obj(root, "aws_nitro", &blk, false, "policy")) < 0 ||
        (rc == 1 && (rc = load_nitro(p, blk)) < 0)) {
        goto out;
    }
    if ((rc = bpt_json_get_obj(root, "jwt", &blk, false, "policy")) < 0 ||
        (rc == 1 && (rc = load_jwt(p, blk)) < 0)) {
        goto out;
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    bpt_policy_free(p);
    json_decref(root);
    return rc;
}

static json_t *snp_tcb_json(const bpt_snp_tcb *t)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i}", "bootloader", t->bootloader, "tee", t->tee, "snp",
                     t->snp, "microcode", t->microcode, "fmc", t->fmc);
}

static json_t *snp_keys_json(const uint8_t (*keys)[48], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_array_append_new(a, bpt_json_hex(keys[i], 48));
    }
    return a;
}

/* The sev_snp block: only what the policy enforces. */
static void dump_sev_snp(json_t *blk, const bpt_policy *p)
{
    char v[16];
    if (p->sev_snp.has_min_tcb) {
        json_object_set_new(blk, "min_tcb", snp_tcb_json(&p->sev_snp.min_tcb));
    }
    if (p->sev_snp.has_min_launch_tcb) {
        json_object_set_new(blk, "min_launch_tcb", snp_tcb_json(&p->sev_snp.min_launch_tcb));
    }
    if (p->sev_snp.has_host_data) {
        json_object_set_new(blk, "host_data", bpt_json_hex(p->sev_snp.host_data, 32));
    }
    if (p->sev_snp.has_family_id) {
        json_object_set_new(blk, "family_id", bpt_json_hex(p->sev_snp.family_id, 16));
    }
    if (p->sev_snp.has_image_id) {
        json_object_set_new(blk, "image_id", bpt_json_hex(p->sev_snp.image_id, 16));
    }
    if (p->sev_snp.has_vmpl) {
        json_object_set_new(blk, "vmpl", json_integer(p->sev_snp.vmpl));
    }
    if (p->sev_snp.products) {
        json_t *a = json_array();
        if (p->sev_snp.products & BPT_SNP_PRODUCT_MILAN) {
            json_array_append_new(a, json_string("Milan"));
        }
        if (p->sev_snp.products & BPT_SNP_PRODUCT_GENOA) {
            json_array_append_new(a, json_string("Genoa"));
        }
        if (p->sev_snp.products & BPT_SNP_PRODUCT_TURIN) {
            json_array_append_new(a, json_string("Turin"));
        }
        json_object_set_new(blk, "products", a);
    }
    if (!p->sev_snp.allow_smt) {
        json_object_set_new(blk, "allow_smt", json_false());
    }
    if (!p->sev_snp.allow_migration_agent) {
        json_object_set_new(blk, "allow_migration_agent", json_false());
    }
    if (p->sev_snp.require_single_socket) {
        json_object_set_new(blk, "require_single_socket", json_true());
    }
    if (p->sev_snp.has_min_abi) {
        snprintf(v, sizeof(v), "%u.%u", p->sev_snp.min_abi_major, p->sev_snp.min_abi_minor);
        json_object_set_new(blk, "min_abi", json_string(v));
    }
    if (p->sev_snp.n_id_keys) {
        json_object_set_new(blk, "id_key_digests",
                            snp_keys_json(p->sev_snp.id_keys, p->sev_snp.n_id_keys));
    }
    if (p->sev_snp.n_author_keys) {
        json_object_set_new(blk, "author_key_digests",
                            snp_keys_json(p->sev_snp.author_keys, p->sev_snp.n_author_keys));
    }
    if (p->sev_snp.require_author_key) {
        json_object_set_new(blk, "require_author_key", json_true());
    }
    if (p->sev_snp.has_min_build) {
        json_object_set_new(blk, "min_build", json_integer(p->sev_snp.min_build));
    }
    if (p->sev_snp.has_min_firmware) {
        snprintf(v, sizeof(v), "%u.%u", p->sev_snp.min_firmware_major,
                 p->sev_snp.min_firmware_minor);
        json_object_set_new(blk, "min_firmware_version", json_string(v));
    }
    if (p->sev_snp.has_platform_smt) {
        json_object_set_new(blk, "platform_smt_enabled", json_boolean(p->sev_snp.platform_smt));
    }
    if (p->sev_snp.has_platform_tsme) {
        json_object_set_new(blk, "platform_tsme_enabled", json_boolean(p->sev_snp.platform_tsme));
    }
}

int bpt_policy_to_json(char **out, const bpt_policy *p)
{
    json_t *o = json_object(), *blk;
    int rc;

    *out = NULL;
    if (!o) {
        return bpt_err_nomem("policy JSON");
    }
    json_object_set_new(o, "allow_debug", json_boolean(p->allow_debug));
    json_object_set_new(o, "max_age_secs",
                        p->max_age_secs ? json_integer((json_int_t)p->max_age_secs) : json_null());
    if (p->has_expected_measurement) {
        char m[8 + 2 * BPT_MEASUREMENT_MAX_BYTES + 1];
        size_t off = p->expected_measurement_alg[0]
                         ? (size_t)snprintf(m, sizeof(m), "%s:", p->expected_measurement_alg)
                         : 0;
        bpt_hex_encode_to(m + off, p->expected_measurement, p->expected_measurement_len);
        json_object_set_new(o, "expected_measurement", json_string(m));
    }
    if (p->expected_nonce) {
        json_object_set_new(o, "expected_nonce", json_string(p->expected_nonce));
    }
    if (p->expected_audience) {
        json_object_set_new(o, "expected_audience", json_string(p->expected_audience));
    }
    if (p->expected_image_digest) {
        json_object_set_new(o, "expected_image_digest", json_string(p->expected_image_digest));
    }
    if (p->insecure_any_audience) {
        json_object_set_new(o, "insecure_any_audience", json_true());
    }
    if (p->expected_report_data_len) {
        json_object_set_new(o, "expected_report_data",
                            bpt_json_hex(p->expected_report_data, p->expected_report_data_len));
    }
    blk = json_object();
    dump_sev_snp(blk, p);
    json_object_set_new(o, "sev_snp", blk);

    blk = json_object();
    json_t *st = json_array();
    for (int i = 0; i < BPT_TCB_STATUS_COUNT; i++) {
        if (p->tdx.accepted_tcb & (1u << i)) {
            json_array_append_new(st, json_string(bpt_tcb_status_name((bpt_tdx_tcb_status)i)));
        }
    }
    json_object_set_new(blk, "accepted_tcb_status", st);
    if (p->tdx.has_mr_config_id) {
        json_object_set_new(blk, "mr_config_id", bpt_json_hex(p->tdx.mr_config_id, 48));
    }
    if (p->tdx.has_mr_owner) {
        json_object_set_new(blk, "mr_owner", bpt_json_hex(p->tdx.mr_owner, 48));
    }
    if (p->tdx.has_mr_owner_config) {
        json_object_set_new(blk, "mr_owner_config", bpt_json_hex(p->tdx.mr_owner_config, 48));
    }
    if (p->tdx.has_mr_seam) {
        json_object_set_new(blk, "mr_seam", bpt_json_hex(p->tdx.mr_seam, 48));
    }
    if (p->tdx.has_xfam) {
        json_object_set_new(blk, "xfam", bpt_json_hex(p->tdx.xfam, 8));
    }
    if (p->tdx.has_seam_attributes) {
        json_object_set_new(blk, "seam_attributes", bpt_json_hex(p->tdx.seam_attributes, 8));
    }
    bool any_rtmr = false;
    json_t *rt = json_array();
    for (int i = 0; i < BPT_POLICY_MAX_RTMRS; i++) {
        any_rtmr |= p->tdx.has_rtmr[i];
        json_array_append_new(rt,
                              p->tdx.has_rtmr[i] ? bpt_json_hex(p->tdx.rtmr[i], 48) : json_null());
    }
    if (any_rtmr) {
        json_object_set_new(blk, "rtmr", rt);
    } else {
        json_decref(rt);
    }
    json_object_set_new(o, "tdx", blk);

    blk = json_object();
    json_t *pcrs = json_object();
    for (int i = 0; i < BPT_POLICY_MAX_PCRS; i++) {
        if (p->aws_nitro.has_pcr[i]) {
            char k[8];
            snprintf(k, sizeof(k), "%d", i);
            json_object_set_new(pcrs, k, bpt_json_hex(p->aws_nitro.pcr[i], 48));
        }
    }
    json_object_set_new(blk, "pcrs", pcrs);
    json_object_set_new(o, "aws_nitro", blk);

    blk = json_object();
    if (p->jwt.n_issuers) {
        json_t *a = json_array();
        for (size_t i = 0; i < p->jwt.n_issuers; i++) {
            json_array_append_new(a, json_string(p->jwt.issuers[i]));
        }
        json_object_set_new(blk, "issuers", a);
    }
    if (p->jwt.jwks_url) {
        json_object_set_new(blk, "jwks_url", json_string(p->jwt.jwks_url));
    }
    if (p->jwt.jwks_file) {
        json_object_set_new(blk, "jwks_file", json_string(p->jwt.jwks_file));
    }
    if (p->jwt.has_leeway) {
        json_object_set_new(blk, "leeway_secs", json_integer((json_int_t)p->jwt.leeway_secs));
    }
    json_object_set_new(o, "jwt", blk);

    rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}
