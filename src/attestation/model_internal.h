/* Internal layout of claims and reports, shared by the model's files and the verifiers. */
#ifndef BPT_ATTESTATION_MODEL_INTERNAL_H
#define BPT_ATTESTATION_MODEL_INTERNAL_H

#include <jansson.h>

#include <blueprint-tee/attestation.h>

struct bpt_claims {
    char *platform_version;
    bool debug_mode;
    char **boot;
    size_t n_boot;
    char *signer_id;
    char *product_id;
    uint8_t *user_data;
    size_t user_data_len;
    bool has_user_data;
    json_t *custom; /* object, never NULL */
};

struct bpt_report {
    bpt_provider provider;
    bpt_format format;
    char provider_name[64]; /* the JSON spelling: a built-in's name or a plugin's own */
    char format_name[64];
    uint64_t issued_at;
    bpt_measurement measurement;
    bool has_binding;
    uint8_t *binding_key;
    size_t binding_key_len;
    char binding_type[32];
    char *binding_digest;
    struct bpt_claims claims;
    uint8_t *evidence;
    size_t evidence_len;
    json_t *collateral; /* object or NULL */
};

/** Claims to/from their JSON object (DESIGN.md §5 "claims"). */
json_t *bpt_claims_to_jsonv(const struct bpt_claims *c);
BPT_MUST_USE int bpt_claims_from_jsonv(struct bpt_claims *c, const json_t *obj);
void bpt_claims_dispose(struct bpt_claims *c);
BPT_MUST_USE int bpt_claims_copy(struct bpt_claims *dst, const struct bpt_claims *src);

/** Set a custom claim, taking a reference to @p v (json_decref'd on failure). */
BPT_MUST_USE int bpt_claims_set_customv(struct bpt_claims *c, const char *key, json_t *v);

/** Set the report's collateral object (takes a reference). */
void bpt_report_set_collateralv(bpt_report *r, json_t *collateral);
const json_t *bpt_report_collateralv(const bpt_report *r);

/** Report to a JSON object (the §5 form). */
json_t *bpt_report_to_jsonv(const bpt_report *r);

#endif
