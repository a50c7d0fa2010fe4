/* TeeConfig: builder, invariants, JSON in the Rust crate's serde shape, TeeRequirements. */
#include <blueprint-tee/config.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct settings {
    bpt_tee_mode mode;
    bpt_tee_requirement requirement;
    bool any_provider;
    bpt_provider providers[BPT_PROVIDER_COUNT];
    size_t n_providers;
    uint64_t session_ttl_secs, max_sessions;
    bool on_chain_verification;
    /* the key exchange under hostile clients (issue 13) */
    uint64_t max_sessions_per_client, first_use_secs;
    uint64_t max_connections, max_connections_per_client, request_deadline_secs;
    bool replace_secrets;
    uint8_t senders[BPT_CONFIG_MAX_AUTHORIZED_SENDERS][32];
    size_t n_senders;
    uint64_t max_attestation_age_secs;
    bool secret_injection_set; /* asked for explicitly */
    bpt_secret_injection secret_injection;
    bpt_public_key_policy public_key_policy;
    bpt_attestation_freshness freshness;
    bpt_hybrid_routing routing;
    char *routing_file; /* NULL: the default file */
};

struct bpt_config_builder {
    struct settings s;
};

struct bpt_config {
    struct settings s;
};

#define ENUM_NAMES(fn, type, ...)                                                                  \
    static const char *const fn##_names[] = {__VA_ARGS__};                                         \
    const char *fn##_name(type v)                                                                  \
    {                                                                                              \
        return (unsigned)v < sizeof(fn##_names) / sizeof(fn##_names[0]) ? fn##_names[v]            \
                                                                        : "unknown";               \
    }

ENUM_NAMES(bpt_tee_mode, bpt_tee_mode, "auto", "disabled", "direct", "remote", "hybrid")
ENUM_NAMES(bpt_tee_requirement, bpt_tee_requirement, "preferred", "required")
ENUM_NAMES(bpt_secret_injection, bpt_secret_injection, "env_or_sealed", "sealed_only")
ENUM_NAMES(bpt_public_key_policy, bpt_public_key_policy, "required", "optional")
ENUM_NAMES(bpt_lifecycle_policy, bpt_lifecycle_policy, "container", "cloud_managed")

static int parse_name(int *out, const char *name, const char *const *names, size_t n,
                      const char *field)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char accepted[160] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(accepted, names[i], sizeof(accepted) - strlen(accepted) - 3);
        if (i + 1 < n) {
            strncat(accepted, ", ", sizeof(accepted) - strlen(accepted) - 1);
        }
    }
    return bpt_err(BPT_EINVAL, "config: %s '%.40s' unknown (expected %s)", field,
                   name ? name : "(null)", accepted);
}

#define NAMES_OF(fn) fn##_names, sizeof(fn##_names) / sizeof(fn##_names[0])

int bpt_tee_mode_parse(bpt_tee_mode *out, const char *name)
{
    int v = 0, rc = parse_name(&v, name, NAMES_OF(bpt_tee_mode), "mode");
    if (rc == 0) {
        *out = (bpt_tee_mode)v;
    }
    return rc;
}

int bpt_tee_requirement_parse(bpt_tee_requirement *out, const char *name)
{
    int v = 0, rc = parse_name(&v, name, NAMES_OF(bpt_tee_requirement), "requirement");
    if (rc == 0) {
        *out = (bpt_tee_requirement)v;
    }
    return rc;
}

static void defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    s->mode = BPT_MODE_AUTO;
    s->requirement = BPT_REQUIREMENT_PREFERRED;
    s->any_provider = true;
    s->session_ttl_secs = BPT_CONFIG_DEFAULT_SESSION_TTL_SECS;
    s->max_sessions = BPT_CONFIG_DEFAULT_MAX_SESSIONS;
    s->on_chain_verification = true;
    s->max_sessions_per_client = BPT_CONFIG_DEFAULT_MAX_SESSIONS_PER_CLIENT;
    s->first_use_secs = BPT_CONFIG_DEFAULT_FIRST_USE_SECS;
    s->max_connections = BPT_CONFIG_DEFAULT_MAX_CONNECTIONS;
    s->max_connections_per_client = BPT_CONFIG_DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
    s->request_deadline_secs = BPT_CONFIG_DEFAULT_REQUEST_DEADLINE_SECS;
    s->max_attestation_age_secs = BPT_CONFIG_DEFAULT_MAX_ATTESTATION_AGE_SECS;
    s->public_key_policy = BPT_PUBKEY_REQUIRED;
    s->freshness = BPT_FRESHNESS_PROVISION_TIME_ONLY;
    s->routing = BPT_ROUTING_POLICY_FILE;
}

static bool sealed_mode(bpt_tee_mode m)
{
    return m == BPT_MODE_DIRECT || m == BPT_MODE_REMOTE || m == BPT_MODE_HYBRID;
}

/* The invariants, and the secret-injection default they imply. */
static int finish(struct settings *s)
{
    if (s->requirement == BPT_REQUIREMENT_REQUIRED && s->mode == BPT_MODE_DISABLED) {
        return bpt_err(BPT_EINVAL, "config: requirement is required but mode is disabled");
    }
    if (sealed_mode(s->mode)) {
        if (s->secret_injection_set && s->secret_injection != BPT_SECRETS_SEALED_ONLY) {
            return bpt_err(BPT_EINVAL,
                           "config: secret_injection must be sealed_only when mode is %s (TEE "
                           "deployments take secrets only through the sealed key exchange)",
                           bpt_tee_mode_name(s->mode));
        }
        s->secret_injection = BPT_SECRETS_SEALED_ONLY;
    } else if (!s->secret_injection_set) {
        s->secret_injection = BPT_SECRETS_ENV_OR_SEALED;
    }
    if (s->session_ttl_secs == 0) {
        return bpt_err(BPT_EINVAL, "config: key_exchange.session_ttl_secs must be at least 1");
    }
    if (s->max_sessions == 0 || s->max_sessions > BPT_CONFIG_MAX_SESSIONS_LIMIT) {
        return bpt_err(BPT_EINVAL, "config: key_exchange.max_sessions %llu out of range 1..%d",
                       (unsigned long long)s->max_sessions, BPT_CONFIG_MAX_SESSIONS_LIMIT);
    }
    if (s->first_use_secs > s->session_ttl_secs) {
        s->first_use_secs = s->session_ttl_secs; /* a session expires at its TTL anyway */
    }
    if (s->max_connections == 0 || s->max_connections > 65536) {
        return bpt_err(BPT_EINVAL,
                       "config: key_exchange.max_connections %llu out of range 1..65536",
                       (unsigned long long)s->max_connections);
    }
    if (s->max_connections_per_client == 0 || s->max_connections_per_client > s->max_connections) {
        return bpt_err(BPT_EINVAL,
                       "config: key_exchange.max_connections_per_client %llu out of range "
                       "1..max_connections",
                       (unsigned long long)s->max_connections_per_client);
    }
    if (s->request_deadline_secs == 0 || s->request_deadline_secs > 3600) {
        return bpt_err(BPT_EINVAL,
                       "config: key_exchange.request_deadline_secs %llu out of range 1..3600",
                       (unsigned long long)s->request_deadline_secs);
    }
    return 0;
}

static int copy_settings(struct settings *dst, const struct settings *src)
{
    *dst = *src;
    dst->routing_file = NULL;
    if (src->routing_file && !(dst->routing_file = strdup(src->routing_file))) {
        return bpt_err_nomem("routing file");
    }
    return 0;
}

int bpt_config_builder_new(bpt_config_builder **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) {
        return bpt_err_nomem("config builder");
    }
    defaults(&(*out)->s);
    return 0;
}

void bpt_config_builder_free(bpt_config_builder *b)
{
    if (b) {
        free(b->s.routing_file);
        free(b);
    }
}

void bpt_config_builder_set_mode(bpt_config_builder *b, bpt_tee_mode m)
{
    b->s.mode = m;
}

void bpt_config_builder_set_requirement(bpt_config_builder *b, bpt_tee_requirement r)
{
    b->s.requirement = r;
}

static int set_providers(struct settings *s, const bpt_provider *p, size_t n, const char *ctx)
{
    size_t k = 0;
    if (n == 0) {
        s->any_provider = !p;
        s->n_providers = 0;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        if ((int)p[i] <= 0 || (int)p[i] >= BPT_PROVIDER_COUNT) {
            return bpt_err(BPT_EINVAL, "%s: provider %d unknown", ctx, (int)p[i]);
        }
        for (size_t j = 0; j < k; j++) {
            dup |= s->providers[j] == p[i];
        }
        if (!dup) {
            s->providers[k++] = p[i];
        }
    }
    s->any_provider = false;
    s->n_providers = k;
    return 0;
}

int bpt_config_builder_allow_providers(bpt_config_builder *b, const bpt_provider *providers,
                                       size_t n)
{
    return set_providers(&b->s, providers, n, "config: provider_selector");
}

void bpt_config_builder_set_key_exchange(bpt_config_builder *b, uint64_t session_ttl_secs,
                                         uint64_t max_sessions, bool on_chain_verification)
{
    b->s.session_ttl_secs = session_ttl_secs;
    b->s.max_sessions = max_sessions;
    b->s.on_chain_verification = on_chain_verification;
}

void bpt_config_builder_set_kx_limits(bpt_config_builder *b, uint64_t max_sessions_per_client,
                                      uint64_t first_use_secs, uint64_t max_connections,
                                      uint64_t max_connections_per_client,
                                      uint64_t request_deadline_secs)
{
    b->s.max_sessions_per_client = max_sessions_per_client;
    b->s.first_use_secs = first_use_secs;
    b->s.max_connections = max_connections;
    b->s.max_connections_per_client = max_connections_per_client;
    b->s.request_deadline_secs = request_deadline_secs;
}

void bpt_config_builder_set_replace_secrets(bpt_config_builder *b, bool replace)
{
    b->s.replace_secrets = replace;
}

int bpt_config_builder_add_authorized_sender(bpt_config_builder *b, const uint8_t ed25519[32])
{
    if (b->s.n_senders == BPT_CONFIG_MAX_AUTHORIZED_SENDERS) {
        return bpt_err(BPT_ELIMIT, "config: key_exchange.authorized_senders: at most %d",
                       BPT_CONFIG_MAX_AUTHORIZED_SENDERS);
    }
    memcpy(b->s.senders[b->s.n_senders++], ed25519, 32);
    return 0;
}

void bpt_config_builder_set_max_attestation_age(bpt_config_builder *b, uint64_t secs)
{
    b->s.max_attestation_age_secs = secs;
}

void bpt_config_builder_set_secret_injection(bpt_config_builder *b, bpt_secret_injection s)
{
    b->s.secret_injection = s;
    b->s.secret_injection_set = true;
}

void bpt_config_builder_set_public_key_policy(bpt_config_builder *b, bpt_public_key_policy p)
{
    b->s.public_key_policy = p;
}

int bpt_config_builder_set_hybrid_routing(bpt_config_builder *b, bpt_hybrid_routing src,
                                          const char *policy_file)
{
    char *copy = NULL;
    if (src == BPT_ROUTING_POLICY_FILE && policy_file) {
        if (!*policy_file || strlen(policy_file) > BPT_LIMIT_TEXT_BYTES) {
            return bpt_err(BPT_EINVAL, "config: hybrid_routing_source policy file must be a "
                                       "non-empty path");
        }
        if (!(copy = strdup(policy_file))) {
            return bpt_err_nomem("routing file");
        }
    }
    free(b->s.routing_file);
    b->s.routing = src;
    b->s.routing_file = copy;
    return 0;
}

int bpt_config_builder_build(bpt_config **out, const bpt_config_builder *b)
{
    bpt_config *c;
    int rc;
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (!c) {
        return bpt_err_nomem("config");
    }
    rc = copy_settings(&c->s, &b->s);
    if (rc == 0) {
        rc = finish(&c->s);
    }
    if (rc < 0) {
        bpt_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void bpt_config_free(bpt_config *c)
{
    if (c) {
        free(c->s.routing_file);
        free(c);
    }
}

int bpt_config_new_default(bpt_config **out)
{
    bpt_config_builder *b = NULL;
    int rc = bpt_config_builder_new(&b);
    if (rc == 0) {
        rc = bpt_config_builder_build(out, b);
    }
    bpt_config_builder_free(b);
    return rc;
}

int bpt_config_validate(const bpt_config *c)
{
    struct settings s = c->s;
    s.secret_injection_set = true;
    return finish(&s);
}

bpt_tee_mode bpt_config_mode(const bpt_config *c)
{
    return c->s.mode;
}

bpt_tee_requirement bpt_config_requirement(const bpt_config *c)
{
    return c->s.requirement;
}

bool bpt_config_is_enabled(const bpt_config *c)
{
    return c->s.mode != BPT_MODE_DISABLED;
}

bpt_lifecycle_policy bpt_config_lifecycle_policy(const bpt_config *c)
{
    return bpt_config_is_enabled(c) ? BPT_LIFECYCLE_CLOUD_MANAGED : BPT_LIFECYCLE_CONTAINER;
}

bool bpt_config_accepts_provider(const bpt_config *c, bpt_provider p)
{
    if (c->s.any_provider) {
        return true;
    }
    for (size_t i = 0; i < c->s.n_providers; i++) {
        if (c->s.providers[i] == p) {
            return true;
        }
    }
    return false;
}

const bpt_provider *bpt_config_allowed_providers(const bpt_config *c, size_t *n_out)
{
    *n_out = c->s.any_provider ? 0 : c->s.n_providers;
    return c->s.any_provider ? NULL : c->s.providers;
}

uint64_t bpt_config_session_ttl_secs(const bpt_config *c)
{
    return c->s.session_ttl_secs;
}

uint64_t bpt_config_max_sessions(const bpt_config *c)
{
    return c->s.max_sessions;
}

uint64_t bpt_config_max_sessions_per_client(const bpt_config *c)
{
    return c->s.max_sessions_per_client;
}

uint64_t bpt_config_first_use_secs(const bpt_config *c)
{
    return c->s.first_use_secs;
}

uint64_t bpt_config_max_connections(const bpt_config *c)
{
    return c->s.max_connections;
}

uint64_t bpt_config_max_connections_per_client(const bpt_config *c)
{
    return c->s.max_connections_per_client;
}

uint64_t bpt_config_request_deadline_secs(const bpt_config *c)
{
    return c->s.request_deadline_secs;
}

bool bpt_config_replace_secrets(const bpt_config *c)
{
    return c->s.replace_secrets;
}

const uint8_t *bpt_config_authorized_senders(const bpt_config *c, size_t *n_out)
{
    *n_out = c->s.n_senders;
    return c->s.n_senders > 0 ? c->s.senders[0] : NULL;
}

bool bpt_config_on_chain_verification(const bpt_config *c)
{
    return c->s.on_chain_verification;
}

uint64_t bpt_config_max_attestation_age_secs(const bpt_config *c)
{
    return c->s.max_attestation_age_secs;
}

bpt_secret_injection bpt_config_secret_injection(const bpt_config *c)
{
    return c->s.secret_injection;
}

bpt_public_key_policy bpt_config_public_key_policy(const bpt_config *c)
{
    return c->s.public_key_policy;
}

bpt_attestation_freshness bpt_config_attestation_freshness(const bpt_config *c)
{
    return c->s.freshness;
}

bpt_hybrid_routing bpt_config_hybrid_routing(const bpt_config *c, const char **policy_file_out)
{
    if (policy_file_out) {
        *policy_file_out =
            c->s.routing == BPT_ROUTING_POLICY_FILE
                ? (c->s.routing_file ? c->s.routing_file : BPT_CONFIG_DEFAULT_ROUTING_FILE)
                : NULL;
    }
    return c->s.routing;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* "any" | {"allow_list": [names]} */
static int selector_from_json(struct settings *s, bool *any, bpt_provider *list, size_t *n,
                              const json_t *v, const char *field)
{
    json_t *arr;
    size_t i;
    json_t *e;
    (void)s;
    if (json_is_string(v) && strcmp(json_string_value(v), "any") == 0) {
        *any = true;
        *n = 0;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) != 1 ||
        !json_is_array(arr = json_object_get(v, "allow_list"))) {
        return bpt_err(BPT_EINVAL, "config: %s must be \"any\" or {\"allow_list\": [providers]}",
                       field);
    }
    if (json_array_size(arr) > 16) {
        return bpt_err(BPT_EINVAL, "config: %s.allow_list has too many entries", field);
    }
    *n = 0;
    json_array_foreach(arr, i, e)
    {
        bpt_provider p;
        bool dup = false;
        const char *name = json_string_value(e);
        if (!name || bpt_provider_parse(&p, name) < 0 || p == BPT_PROVIDER_UNKNOWN ||
            strchr(name, '-')) {
            return bpt_err(BPT_EINVAL,
                           "config: %s.allow_list[%zu] must be one of intel_tdx, amd_sev_snp, "
                           "aws_nitro, azure_snp, gcp_confidential",
                           field, i);
        }
        for (size_t j = 0; j < *n; j++) {
            dup |= list[j] == p;
        }
        if (!dup) {
            list[(*n)++] = p;
        }
    }
    *any = false;
    return 0;
}

static json_t *selector_to_json(bool any, const bpt_provider *list, size_t n)
{
    json_t *arr;
    if (any) {
        return json_string("any");
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_array_append_new(arr, json_string(bpt_provider_name(list[i])));
    }
    return json_pack("{s:o}", "allow_list", arr);
}

static int enum_field(int *out, const json_t *root, const char *key, const char *const *names,
                      size_t n, bool *present)
{
    const char *s = NULL;
    int rc = bpt_json_get_str(root, key, &s, false, "config");
    if (present) {
        *present = rc == 1;
    }
    if (rc <= 0) {
        return rc;
    }
    return parse_name(out, s, names, n, key);
}

/* key_exchange's fields against hostile clients: limits, the store policy, senders. */
static int kx_hardening_from_json(bpt_config_builder *b, const json_t *kx)
{
    static const char *const ctx = "config: key_exchange";
    static const char *const store_policies[] = {"first_writer", "replace"};
    static const char *const sender_keys[] = {"key_type", "public_key", NULL};
    struct settings *s = &b->s;
    json_t *arr = NULL;
    int iv = 0, rc;

    BPT_CHECK(
        bpt_json_get_u64(kx, "max_sessions_per_client", &s->max_sessions_per_client, false, ctx));
    BPT_CHECK(bpt_json_get_u64(kx, "first_use_secs", &s->first_use_secs, false, ctx));
    BPT_CHECK(bpt_json_get_u64(kx, "max_connections", &s->max_connections, false, ctx));
    BPT_CHECK(bpt_json_get_u64(kx, "max_connections_per_client", &s->max_connections_per_client,
                               false, ctx));
    BPT_CHECK(bpt_json_get_u64(kx, "request_deadline_secs", &s->request_deadline_secs, false, ctx));
    BPT_CHECK(enum_field(&iv, kx, "secret_store", store_policies, 2, NULL));
    s->replace_secrets = iv == 1;
    BPT_CHECK(bpt_json_get_arr(kx, "authorized_senders", &arr, false, ctx));
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        const char *kt = NULL, *hex = NULL;
        uint8_t key[32];
        char ectx[64];
        snprintf(ectx, sizeof(ectx), "config: key_exchange.authorized_senders[%zu]", i);
        if (!json_is_object(e)) {
            rc = bpt_err(BPT_EINVAL, "%s must be {\"key_type\":\"ed25519\",\"public_key\":..}",
                         ectx);
            goto out;
        }
        BPT_CHECK(bpt_json_check_keys(e, sender_keys, ectx));
        BPT_CHECK(bpt_json_get_str(e, "key_type", &kt, true, ectx));
        BPT_CHECK(bpt_json_get_str(e, "public_key", &hex, true, ectx));
        if (strcmp(kt, "ed25519") != 0) {
            rc = bpt_err(BPT_EINVAL,
                         "%s.key_type '%.20s' unknown (expected ed25519; secp256k1 Ethereum "
                         "addresses come with the chain module)",
                         ectx, kt);
            goto out;
        }
        BPT_CHECK(bpt_hex_decode_exact(key, sizeof(key), hex, strlen(hex), ectx));
        BPT_CHECK(bpt_config_builder_add_authorized_sender(b, key));
    }
    rc = 0;
out:
    return rc;
}

int bpt_config_load_json(bpt_config **out, const char *json, size_t len)
{
    static const char *const keys[] = {"requirement",
                                       "mode",
                                       "provider_selector",
                                       "key_exchange",
                                       "max_attestation_age_secs",
                                       "secret_injection",
                                       "attestation_freshness",
                                       "public_key_policy",
                                       "hybrid_routing_source",
                                       "schema_version",
                                       NULL};
    static const char *const kx_keys[] = {"session_ttl_secs",
                                          "max_sessions",
                                          "on_chain_verification",
                                          "max_sessions_per_client",
                                          "first_use_secs",
                                          "max_connections",
                                          "max_connections_per_client",
                                          "request_deadline_secs",
                                          "secret_store",
                                          "authorized_senders",
                                          NULL};
    static const char *const freshness[] = {"provision_time_only"};
    json_t *root = NULL, *v, *kx = NULL;
    bpt_config_builder *b = NULL;
    struct settings *s;
    int iv, rc;
    bool present;

    *out = NULL;
    BPT_CHECK(bpt_json_parse(&root, json, len, "config"));
    if (!json_is_object(root)) {
        rc = bpt_err(BPT_EINVAL, "config: must be a JSON object");
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(root, keys, "config"));
    BPT_CHECK(bpt_json_check_schema_version(root, "config"));
    BPT_CHECK(bpt_config_builder_new(&b));
    s = &b->s;
    iv = (int)s->requirement;
    BPT_CHECK(enum_field(&iv, root, "requirement", NAMES_OF(bpt_tee_requirement), NULL));
    s->requirement = (bpt_tee_requirement)iv;
    iv = (int)s->mode;
    BPT_CHECK(enum_field(&iv, root, "mode", NAMES_OF(bpt_tee_mode), NULL));
    s->mode = (bpt_tee_mode)iv;
    if ((v = json_object_get(root, "provider_selector")) && !json_is_null(v)) {
        BPT_CHECK(selector_from_json(s, &s->any_provider, s->providers, &s->n_providers, v,
                                     "provider_selector"));
    }
    if ((rc = bpt_json_get_obj(root, "key_exchange", &kx, false, "config")) < 0) {
        goto out;
    }
    if (rc == 1) {
        BPT_CHECK(bpt_json_check_keys(kx, kx_keys, "config: key_exchange"));
        BPT_CHECK(bpt_json_get_u64(kx, "session_ttl_secs", &s->session_ttl_secs, false,
                                   "config: key_exchange"));
        BPT_CHECK(
            bpt_json_get_u64(kx, "max_sessions", &s->max_sessions, false, "config: key_exchange"));
        BPT_CHECK(bpt_json_get_bool(kx, "on_chain_verification", &s->on_chain_verification, false,
                                    "config: key_exchange"));
        BPT_CHECK(kx_hardening_from_json(b, kx));
    }
    BPT_CHECK(bpt_json_get_u64(root, "max_attestation_age_secs", &s->max_attestation_age_secs,
                               false, "config"));
    iv = 0;
    BPT_CHECK(enum_field(&iv, root, "secret_injection", NAMES_OF(bpt_secret_injection), &present));
    if (present) {
        s->secret_injection = (bpt_secret_injection)iv;
        s->secret_injection_set = true;
    }
    iv = 0;
    if ((v = json_object_get(root, "attestation_freshness")) && !json_is_null(v) &&
        !json_is_string(v)) {
        rc = bpt_err(BPT_EINVAL, "config: attestation_freshness must be \"provision_time_only\" "
                                 "(periodic refresh is not supported)");
        goto out;
    }
    BPT_CHECK(enum_field(&iv, root, "attestation_freshness", freshness, 1, NULL));
    iv = (int)s->public_key_policy;
    BPT_CHECK(enum_field(&iv, root, "public_key_policy", NAMES_OF(bpt_public_key_policy), NULL));
    s->public_key_policy = (bpt_public_key_policy)iv;
    if ((v = json_object_get(root, "hybrid_routing_source")) && !json_is_null(v)) {
        json_t *pf = json_is_object(v) ? json_object_get(v, "policy_file") : NULL;
        if (json_is_string(v) && strcmp(json_string_value(v), "contract_driven") == 0) {
            BPT_CHECK(bpt_config_builder_set_hybrid_routing(b, BPT_ROUTING_CONTRACT_DRIVEN, NULL));
        } else if (pf && json_object_size(v) == 1 && json_is_string(pf)) {
            BPT_CHECK(bpt_config_builder_set_hybrid_routing(b, BPT_ROUTING_POLICY_FILE,
                                                            json_string_value(pf)));
        } else {
            rc = bpt_err(BPT_EINVAL, "config: hybrid_routing_source must be \"contract_driven\" "
                                     "or {\"policy_file\": \"PATH\"}");
            goto out;
        }
    }
    BPT_CHECK(bpt_config_builder_build(out, b));
    rc = 0;
out:
    bpt_config_builder_free(b);
    json_decref(root);
    return rc;
}

int bpt_config_to_json(char **out, const bpt_config *c)
{
    const struct settings *s = &c->s;
    const char *file = NULL;
    json_t *o;
    int rc;

    *out = NULL;
    bpt_config_hybrid_routing(c, &file);
    o = json_pack(
        "{s:s,s:s,s:o,s:{s:I,s:I,s:b},s:I,s:s,s:s,s:s,s:o}", "requirement",
        bpt_tee_requirement_name(s->requirement), "mode", bpt_tee_mode_name(s->mode),
        "provider_selector", selector_to_json(s->any_provider, s->providers, s->n_providers),
        "key_exchange", "session_ttl_secs", (json_int_t)s->session_ttl_secs, "max_sessions",
        (json_int_t)s->max_sessions, "on_chain_verification", s->on_chain_verification,
        "max_attestation_age_secs", (json_int_t)s->max_attestation_age_secs, "secret_injection",
        bpt_secret_injection_name(s->secret_injection), "attestation_freshness",
        "provision_time_only", "public_key_policy",
        bpt_public_key_policy_name(s->public_key_policy), "hybrid_routing_source",
        s->routing == BPT_ROUTING_CONTRACT_DRIVEN ? json_string("contract_driven")
                                                  : json_pack("{s:s}", "policy_file", file));
    if (!o) {
        return bpt_err_nomem("config JSON");
    }
    json_t *kx = json_object_get(o, "key_exchange"), *senders = json_array();
    for (size_t i = 0; senders != NULL && i < s->n_senders; i++) {
        json_array_append_new(senders, json_pack("{s:s,s:o}", "key_type", "ed25519", "public_key",
                                                 bpt_json_hex(s->senders[i], 32)));
    }
    json_t *extra = senders == NULL
                        ? NULL
                        : json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:o}", "max_sessions_per_client",
                                    (json_int_t)s->max_sessions_per_client, "first_use_secs",
                                    (json_int_t)s->first_use_secs, "max_connections",
                                    (json_int_t)s->max_connections, "max_connections_per_client",
                                    (json_int_t)s->max_connections_per_client,
                                    "request_deadline_secs", (json_int_t)s->request_deadline_secs,
                                    "secret_store", s->replace_secrets ? "replace" : "first_writer",
                                    "authorized_senders", senders);
    rc = extra != NULL ? json_object_update(kx, extra) : -1;
    json_decref(extra);
    if (rc != 0) {
        json_decref(o);
        return bpt_err_nomem("config JSON");
    }
    rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}

/* ---- TeeRequirements ----------------------------------------------------------------------- */

void bpt_tee_requirements_init(bpt_tee_requirements *r)
{
    memset(r, 0, sizeof(*r));
    r->requirement = BPT_REQUIREMENT_PREFERRED;
    r->any_provider = true;
}

int bpt_tee_requirements_load_json(bpt_tee_requirements *out, const char *json, size_t len)
{
    static const char *const keys[] = {"requirement", "providers", "min_attestation_age_secs",
                                       NULL};
    json_t *root = NULL, *v;
    bpt_tee_requirements r;
    const char *s = NULL;
    int rc;

    bpt_tee_requirements_init(&r);
    BPT_CHECK(bpt_json_parse(&root, json, len, "tee_requirements"));
    if (!json_is_object(root)) {
        rc = bpt_err(BPT_EINVAL, "tee_requirements: must be a JSON object");
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(root, keys, "tee_requirements"));
    BPT_CHECK(bpt_json_get_str(root, "requirement", &s, true, "tee_requirements"));
    BPT_CHECK(bpt_tee_requirement_parse(&r.requirement, s));
    if ((v = json_object_get(root, "providers")) && !json_is_null(v)) {
        BPT_CHECK(
            selector_from_json(NULL, &r.any_provider, r.providers, &r.n_providers, v, "providers"));
    }
    if ((rc = bpt_json_get_u64(root, "min_attestation_age_secs", &r.min_attestation_age_secs, false,
                               "tee_requirements")) < 0) {
        goto out;
    }
    r.has_min_attestation_age = rc == 1;
    *out = r;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int bpt_tee_requirements_to_json(char **out, const bpt_tee_requirements *r)
{
    json_t *o =
        json_pack("{s:s,s:o}", "requirement", bpt_tee_requirement_name(r->requirement), "providers",
                  selector_to_json(r->any_provider, r->providers, r->n_providers));
    int rc;
    *out = NULL;
    if (!o) {
        return bpt_err_nomem("tee_requirements JSON");
    }
    if (r->has_min_attestation_age) {
        json_object_set_new(o, "min_attestation_age_secs",
                            json_integer((json_int_t)r->min_attestation_age_secs));
    }
    rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}
