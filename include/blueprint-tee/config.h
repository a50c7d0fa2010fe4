/**
 * @file config.h
 * TeeConfig (the Rust crate's blueprint_tee::config): mode, requirement, provider selector,
 * key exchange, attestation age, secret injection, attestation freshness, public-key policy and
 * hybrid routing source; a builder that enforces the invariants, and a JSON form (the Rust
 * crate's serde shape) validated the same way.
 *
 * Invariants (builder, bpt_config_validate() and JSON alike):
 *  - requirement "required" with mode "disabled" is refused;
 *  - every enabled mode other than "auto" (direct, remote, hybrid) uses sealed_only secret
 *    injection: it is the default there, and asking for env_or_sealed is refused naming
 *    secret_injection. "auto" and "disabled" default to env_or_sealed.
 * JSON fields a file leaves out take the builder's defaults; unknown keys are refused.
 *
 * Threads: a bpt_config is immutable once built; share it freely. A builder is one thread's.
 */
#ifndef BPT_CONFIG_H
#define BPT_CONFIG_H

#include "common.h"
#include "provider.h"

BPT_BEGIN_DECLS

typedef enum bpt_tee_mode {
    BPT_MODE_AUTO = 0, /**< "auto": probe for TEE hardware at startup (the default) */
    BPT_MODE_DISABLED, /**< "disabled" */
    BPT_MODE_DIRECT,   /**< "direct": the runner itself runs inside a TEE */
    BPT_MODE_REMOTE,   /**< "remote": workloads run in remote cloud TEEs */
    BPT_MODE_HYBRID    /**< "hybrid": selected jobs run in a TEE */
} bpt_tee_mode;

typedef enum bpt_tee_requirement {
    BPT_REQUIREMENT_PREFERRED = 0, /**< "preferred" (default): degrade without a TEE */
    BPT_REQUIREMENT_REQUIRED       /**< "required": fail closed without a TEE */
} bpt_tee_requirement;

typedef enum bpt_secret_injection {
    BPT_SECRETS_ENV_OR_SEALED = 0, /**< "env_or_sealed": only for non-TEE deployments */
    BPT_SECRETS_SEALED_ONLY        /**< "sealed_only": the key-exchange flow only */
} bpt_secret_injection;

typedef enum bpt_public_key_policy {
    BPT_PUBKEY_REQUIRED = 0, /**< "required" (default): key derivation failure is fatal */
    BPT_PUBKEY_OPTIONAL      /**< "optional": proceed without sealed secrets */
} bpt_public_key_policy;

typedef enum bpt_attestation_freshness {
    BPT_FRESHNESS_PROVISION_TIME_ONLY = 0 /**< "provision_time_only" (the only one) */
} bpt_attestation_freshness;

typedef enum bpt_hybrid_routing {
    BPT_ROUTING_POLICY_FILE = 0, /**< {"policy_file": PATH} (default /etc/tee/routing.json) */
    BPT_ROUTING_CONTRACT_DRIVEN  /**< "contract_driven": on-chain teeRequired flags */
} bpt_hybrid_routing;

typedef enum bpt_lifecycle_policy {
    BPT_LIFECYCLE_CONTAINER = 0, /**< "container": TEE disabled */
    BPT_LIFECYCLE_CLOUD_MANAGED  /**< "cloud_managed": any enabled mode */
} bpt_lifecycle_policy;

#define BPT_CONFIG_DEFAULT_SESSION_TTL_SECS 300
#define BPT_CONFIG_DEFAULT_MAX_SESSIONS 64
#define BPT_CONFIG_DEFAULT_MAX_ATTESTATION_AGE_SECS 3600
#define BPT_CONFIG_DEFAULT_ROUTING_FILE "/etc/tee/routing.json"
/** key_exchange.max_sessions at most (the key-exchange service's own limit). */
#define BPT_CONFIG_MAX_SESSIONS_LIMIT 1000000
#define BPT_CONFIG_DEFAULT_MAX_SESSIONS_PER_CLIENT 16
#define BPT_CONFIG_DEFAULT_FIRST_USE_SECS 30
#define BPT_CONFIG_DEFAULT_MAX_CONNECTIONS 512
#define BPT_CONFIG_DEFAULT_MAX_CONNECTIONS_PER_CLIENT 32
#define BPT_CONFIG_DEFAULT_REQUEST_DEADLINE_SECS 10
/** key_exchange.authorized_senders entries at most. */
#define BPT_CONFIG_MAX_AUTHORIZED_SENDERS 64

/** Name of each enum value as serialized ("direct", "sealed_only", ...). */
BPT_API const char *bpt_tee_mode_name(bpt_tee_mode m);
BPT_API const char *bpt_tee_requirement_name(bpt_tee_requirement r);
BPT_API const char *bpt_secret_injection_name(bpt_secret_injection s);
BPT_API const char *bpt_public_key_policy_name(bpt_public_key_policy p);
BPT_API const char *bpt_lifecycle_policy_name(bpt_lifecycle_policy p);

/** Parse the serialized names. @return 0; BPT_EINVAL naming the text and what is accepted. */
BPT_API BPT_MUST_USE int bpt_tee_mode_parse(bpt_tee_mode *out, const char *name);
BPT_API BPT_MUST_USE int bpt_tee_requirement_parse(bpt_tee_requirement *out, const char *name);

typedef struct bpt_config bpt_config;
typedef struct bpt_config_builder bpt_config_builder;

/** A builder holding the defaults. Free with bpt_config_builder_free(). */
BPT_API BPT_MUST_USE int bpt_config_builder_new(bpt_config_builder **out);
BPT_API void bpt_config_builder_free(bpt_config_builder *b);
BPT_API void bpt_config_builder_set_mode(bpt_config_builder *b, bpt_tee_mode m);
BPT_API void bpt_config_builder_set_requirement(bpt_config_builder *b, bpt_tee_requirement r);
/** Accept only these providers (an allow-list); n 0 with NULL returns to "any". */
BPT_API BPT_MUST_USE int
bpt_config_builder_allow_providers(bpt_config_builder *b, const bpt_provider *providers, size_t n);
BPT_API void bpt_config_builder_set_key_exchange(bpt_config_builder *b, uint64_t session_ttl_secs,
                                                 uint64_t max_sessions, bool on_chain_verification);
/**
 * The key exchange's limits against hostile clients (docs/config.md): live sessions per client
 * address (0: no cap), seconds before an unused session may be reclaimed (0: never), open
 * connections in all and per client address, and the deadline for a whole request head and
 * body in seconds. build() checks their ranges.
 */
BPT_API void bpt_config_builder_set_kx_limits(bpt_config_builder *b,
                                              uint64_t max_sessions_per_client,
                                              uint64_t first_use_secs, uint64_t max_connections,
                                              uint64_t max_connections_per_client,
                                              uint64_t request_deadline_secs);
/** Secret store policy: false (default) keeps the first writer of a name, true replaces. */
BPT_API void bpt_config_builder_set_replace_secrets(bpt_config_builder *b, bool replace);
/** Accept deliveries signed by this Ed25519 public key (32 bytes, copied).
 *  @return 0; BPT_ELIMIT past BPT_CONFIG_MAX_AUTHORIZED_SENDERS. */
BPT_API BPT_MUST_USE int bpt_config_builder_add_authorized_sender(bpt_config_builder *b,
                                                                  const uint8_t ed25519[32]);
BPT_API void bpt_config_builder_set_max_attestation_age(bpt_config_builder *b, uint64_t secs);
/** Ask for a secret-injection policy; build() refuses env_or_sealed for direct/remote/hybrid. */
BPT_API void bpt_config_builder_set_secret_injection(bpt_config_builder *b, bpt_secret_injection s);
BPT_API void bpt_config_builder_set_public_key_policy(bpt_config_builder *b,
                                                      bpt_public_key_policy p);
/** Routing source: contract-driven, or a policy file (path copied; NULL = the default file). */
BPT_API BPT_MUST_USE int bpt_config_builder_set_hybrid_routing(bpt_config_builder *b,
                                                               bpt_hybrid_routing src,
                                                               const char *policy_file);

/**
 * Validate and build.
 * @param[out] out free with bpt_config_free().
 * @return 0; BPT_EINVAL naming the violated invariant (requirement/mode, secret_injection,
 *         key_exchange limits).
 */
BPT_API BPT_MUST_USE int bpt_config_builder_build(bpt_config **out, const bpt_config_builder *b);

BPT_API void bpt_config_free(bpt_config *c);

/** The defaults (TeeConfig::default()), which are valid. */
BPT_API BPT_MUST_USE int bpt_config_new_default(bpt_config **out);

/**
 * Load the JSON form. Omitted fields take the builder's defaults; unknown keys, wrong types
 * and broken invariants are refused with a message naming the field.
 * @return 0; BPT_EMALFORMED (not JSON); BPT_EINVAL.
 */
BPT_API BPT_MUST_USE int bpt_config_load_json(bpt_config **out, const char *json, size_t len);

/** Serialise (the Rust serde shape, every field). Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_config_to_json(char **out, const bpt_config *c);

/** Check the invariants again (always true for a built config). @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_config_validate(const bpt_config *c);

BPT_API bpt_tee_mode bpt_config_mode(const bpt_config *c);
BPT_API bpt_tee_requirement bpt_config_requirement(const bpt_config *c);
/** true unless the mode is disabled. */
BPT_API bool bpt_config_is_enabled(const bpt_config *c);
/** cloud_managed when enabled, else container. */
BPT_API bpt_lifecycle_policy bpt_config_lifecycle_policy(const bpt_config *c);
/** true if the provider selector accepts @p p ("any", or on the allow-list). */
BPT_API bool bpt_config_accepts_provider(const bpt_config *c, bpt_provider p);
/** Allow-list (borrowed) and its length; NULL with 0 for "any". */
BPT_API const bpt_provider *bpt_config_allowed_providers(const bpt_config *c, size_t *n_out);
BPT_API uint64_t bpt_config_session_ttl_secs(const bpt_config *c);
BPT_API uint64_t bpt_config_max_sessions(const bpt_config *c);
BPT_API bool bpt_config_on_chain_verification(const bpt_config *c);
/** key_exchange limits against hostile clients (see bpt_config_builder_set_kx_limits()). */
BPT_API uint64_t bpt_config_max_sessions_per_client(const bpt_config *c);
BPT_API uint64_t bpt_config_first_use_secs(const bpt_config *c);
BPT_API uint64_t bpt_config_max_connections(const bpt_config *c);
BPT_API uint64_t bpt_config_max_connections_per_client(const bpt_config *c);
BPT_API uint64_t bpt_config_request_deadline_secs(const bpt_config *c);
/** true when key_exchange.secret_store is "replace" (default "first_writer"). */
BPT_API bool bpt_config_replace_secrets(const bpt_config *c);
/**
 * key_exchange.authorized_senders: *n_out Ed25519 public keys of 32 bytes each, back to back
 * (borrowed), or NULL with 0 when deliveries need no signature.
 */
BPT_API const uint8_t *bpt_config_authorized_senders(const bpt_config *c, size_t *n_out);
BPT_API uint64_t bpt_config_max_attestation_age_secs(const bpt_config *c);
BPT_API bpt_secret_injection bpt_config_secret_injection(const bpt_config *c);
BPT_API bpt_public_key_policy bpt_config_public_key_policy(const bpt_config *c);
BPT_API bpt_attestation_freshness bpt_config_attestation_freshness(const bpt_config *c);
/** Routing source; *policy_file_out (borrowed) is the file for BPT_ROUTING_POLICY_FILE. */
BPT_API bpt_hybrid_routing bpt_config_hybrid_routing(const bpt_config *c,
                                                     const char **policy_file_out);

/**
 * TeeRequirements (what a blueprint declares in its metadata): requirement, acceptable
 * providers, optional maximum attestation age. JSON: {"requirement":"required",
 * "providers":"any"|{"allow_list":[...]},"min_attestation_age_secs":3600}.
 */
typedef struct bpt_tee_requirements {
    bpt_tee_requirement requirement;
    bool any_provider;                          /**< true: "any" */
    bpt_provider providers[BPT_PROVIDER_COUNT]; /**< the allow-list when !any_provider */
    size_t n_providers;
    bool has_min_attestation_age;
    uint64_t min_attestation_age_secs;
} bpt_tee_requirements;

/** Preferred, any provider, no age. */
BPT_API void bpt_tee_requirements_init(bpt_tee_requirements *r);
/** Parse the JSON form. @return 0; BPT_EMALFORMED; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_tee_requirements_load_json(bpt_tee_requirements *out, const char *json,
                                                        size_t len);
/** Serialise. Free with bpt_free(). */
BPT_API BPT_MUST_USE int bpt_tee_requirements_to_json(char **out, const bpt_tee_requirements *r);

BPT_END_DECLS

#endif
