/* TeeConfig: defaults, builder invariants, JSON (Rust serde shape) and TeeRequirements. */
#include "helpers/test.h"

static bpt_config *load(const char *json)
{
    bpt_config *c = NULL;
    assert_ok(bpt_config_load_json(&c, json, strlen(json)));
    return c;
}

static void test_defaults_are_the_rust_defaults(void **state)
{
    bpt_config *c = NULL;
    const char *file = NULL;
    size_t n = 7;
    (void)state;
    assert_ok(bpt_config_new_default(&c));
    assert_int_equal(bpt_config_mode(c), BPT_MODE_AUTO);
    assert_int_equal(bpt_config_requirement(c), BPT_REQUIREMENT_PREFERRED);
    assert_null(bpt_config_allowed_providers(c, &n));
    assert_int_equal(n, 0);
    assert_true(bpt_config_accepts_provider(c, BPT_PROVIDER_AWS_NITRO));
    assert_int_equal(bpt_config_session_ttl_secs(c), 300);
    assert_int_equal(bpt_config_max_sessions(c), 64);
    assert_true(bpt_config_on_chain_verification(c));
    assert_int_equal(bpt_config_max_attestation_age_secs(c), 3600);
    assert_int_equal(bpt_config_secret_injection(c), BPT_SECRETS_ENV_OR_SEALED);
    assert_int_equal(bpt_config_public_key_policy(c), BPT_PUBKEY_REQUIRED);
    assert_int_equal(bpt_config_attestation_freshness(c), BPT_FRESHNESS_PROVISION_TIME_ONLY);
    assert_int_equal(bpt_config_hybrid_routing(c, &file), BPT_ROUTING_POLICY_FILE);
    assert_string_equal(file, "/etc/tee/routing.json");
    assert_true(bpt_config_is_enabled(c));
    assert_int_equal(bpt_config_lifecycle_policy(c), BPT_LIFECYCLE_CLOUD_MANAGED);
    assert_ok(bpt_config_validate(c));
    bpt_config_free(c);
}

static void test_required_with_disabled_is_refused(void **state)
{
    bpt_config_builder *b = NULL;
    bpt_config *c = NULL;
    (void)state;
    assert_ok(bpt_config_builder_new(&b));
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_REQUIRED);
    bpt_config_builder_set_mode(b, BPT_MODE_DISABLED);
    assert_rc_msg(bpt_config_builder_build(&c, b), BPT_EINVAL,
                  "requirement is required but mode is disabled");
    assert_null(c);
    static const char j[] = "{\"requirement\":\"required\",\"mode\":\"disabled\"}";
    assert_rc_msg(bpt_config_load_json(&c, j, sizeof(j) - 1), BPT_EINVAL,
                  "requirement is required but mode is disabled");
    /* Preferred + disabled is fine, and is the container lifecycle. */
    bpt_config_builder_set_requirement(b, BPT_REQUIREMENT_PREFERRED);
    assert_ok(bpt_config_builder_build(&c, b));
    assert_false(bpt_config_is_enabled(c));
    assert_int_equal(bpt_config_lifecycle_policy(c), BPT_LIFECYCLE_CONTAINER);
    bpt_config_free(c);
    bpt_config_builder_free(b);
}

static void test_enabled_modes_force_sealed_only(void **state)
{
    static const bpt_tee_mode sealed[] = {BPT_MODE_DIRECT, BPT_MODE_REMOTE, BPT_MODE_HYBRID};
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        bpt_config_builder *b = NULL;
        bpt_config *c = NULL;
        char json[160];
        assert_ok(bpt_config_builder_new(&b));
        bpt_config_builder_set_mode(b, sealed[i]);
        assert_ok(bpt_config_builder_build(&c, b));
        assert_int_equal(bpt_config_secret_injection(c), BPT_SECRETS_SEALED_ONLY);
        bpt_config_free(c);
        c = NULL;
        /* Asking for env_or_sealed is refused, in the builder and in JSON alike. */
        bpt_config_builder_set_secret_injection(b, BPT_SECRETS_ENV_OR_SEALED);
        assert_rc_msg(bpt_config_builder_build(&c, b), BPT_EINVAL, "secret_injection");
        snprintf(json, sizeof(json), "{\"mode\":\"%s\",\"secret_injection\":\"env_or_sealed\"}",
                 bpt_tee_mode_name(sealed[i]));
        assert_rc_msg(bpt_config_load_json(&c, json, strlen(json)), BPT_EINVAL,
                      "secret_injection must be sealed_only");
        /* A file that omits secret_injection gets sealed_only. */
        snprintf(json, sizeof(json), "{\"mode\":\"%s\"}", bpt_tee_mode_name(sealed[i]));
        c = load(json);
        assert_int_equal(bpt_config_secret_injection(c), BPT_SECRETS_SEALED_ONLY);
        bpt_config_free(c);
        bpt_config_builder_free(b);
    }
}

static void test_auto_and_disabled_permit_env_or_sealed(void **state)
{
    bpt_config *c;
    (void)state;
    c = load("{\"mode\":\"auto\",\"secret_injection\":\"env_or_sealed\"}");
    assert_int_equal(bpt_config_secret_injection(c), BPT_SECRETS_ENV_OR_SEALED);
    bpt_config_free(c);
    c = load("{\"mode\":\"auto\",\"secret_injection\":\"sealed_only\"}");
    assert_int_equal(bpt_config_secret_injection(c), BPT_SECRETS_SEALED_ONLY);
    bpt_config_free(c);
    c = load("{\"mode\":\"disabled\"}");
    assert_int_equal(bpt_config_secret_injection(c), BPT_SECRETS_ENV_OR_SEALED);
    bpt_config_free(c);
}

static void test_json_round_trip(void **state)
{
    static const char j[] =
        "{\"requirement\":\"required\",\"mode\":\"hybrid\",\"provider_selector\":{\"allow_list\":"
        "[\"aws_nitro\",\"intel_tdx\",\"aws_nitro\"]},\"key_exchange\":{\"session_ttl_secs\":60,"
        "\"max_sessions\":8,\"on_chain_verification\":false},\"max_attestation_age_secs\":120,"
        "\"public_key_policy\":\"optional\",\"hybrid_routing_source\":\"contract_driven\"}";
    char *a = NULL, *b2 = NULL;
    size_t n = 0;
    (void)state;
    bpt_config *c = load(j);
    assert_int_equal(bpt_config_session_ttl_secs(c), 60);
    assert_int_equal(bpt_config_max_sessions(c), 8);
    assert_false(bpt_config_on_chain_verification(c));
    assert_non_null(bpt_config_allowed_providers(c, &n));
    assert_int_equal(n, 2); /* the duplicate is folded */
    assert_false(bpt_config_accepts_provider(c, BPT_PROVIDER_AMD_SEV_SNP));
    assert_true(bpt_config_accepts_provider(c, BPT_PROVIDER_INTEL_TDX));
    assert_int_equal(bpt_config_hybrid_routing(c, NULL), BPT_ROUTING_CONTRACT_DRIVEN);
    assert_ok(bpt_config_to_json(&a, c));
    bpt_config *c2 = load(a);
    assert_ok(bpt_config_to_json(&b2, c2));
    assert_string_equal(a, b2);
    assert_non_null(strstr(a, "\"secret_injection\":\"sealed_only\""));
    bpt_free(a);
    bpt_free(b2);
    bpt_config_free(c);
    bpt_config_free(c2);
}

/* The key exchange's limits against hostile clients: defaults, values, and the JSON round trip. */
static void test_kx_hardening(void **state)
{
    static const char j[] =
        "{\"key_exchange\":{\"session_ttl_secs\":20,\"max_sessions\":1000000,"
        "\"max_sessions_per_client\":4,\"first_use_secs\":60,\"max_connections\":100,"
        "\"max_connections_per_client\":10,\"request_deadline_secs\":5,"
        "\"secret_store\":\"replace\",\"authorized_senders\":[{\"key_type\":\"ed25519\","
        "\"public_key\":"
        "\"0101010101010101010101010101010101010101010101010101010101010101\"}]}}";
    (void)state;
    size_t n = 9;
    bpt_config *d = load("{}");
    assert_int_equal(bpt_config_max_sessions_per_client(d), 16);
    assert_int_equal(bpt_config_first_use_secs(d), 30);
    assert_int_equal(bpt_config_max_connections(d), 512);
    assert_int_equal(bpt_config_max_connections_per_client(d), 32);
    assert_int_equal(bpt_config_request_deadline_secs(d), 10);
    assert_false(bpt_config_replace_secrets(d));
    assert_null(bpt_config_authorized_senders(d, &n));
    assert_int_equal(n, 0);
    bpt_config_free(d);

    bpt_config *c = load(j);
    assert_int_equal(bpt_config_max_sessions(c), 1000000);
    assert_int_equal(bpt_config_max_sessions_per_client(c), 4);
    assert_int_equal(bpt_config_first_use_secs(c), 20); /* at most the TTL */
    assert_int_equal(bpt_config_max_connections(c), 100);
    assert_int_equal(bpt_config_max_connections_per_client(c), 10);
    assert_int_equal(bpt_config_request_deadline_secs(c), 5);
    assert_true(bpt_config_replace_secrets(c));
    const uint8_t *keys = bpt_config_authorized_senders(c, &n);
    assert_int_equal(n, 1);
    assert_non_null(keys);
    assert_int_equal(keys[0], 1);
    assert_int_equal(keys[31], 1);
    char *a = NULL, *b2 = NULL;
    assert_ok(bpt_config_to_json(&a, c));
    bpt_config *c2 = load(a);
    assert_ok(bpt_config_to_json(&b2, c2));
    assert_string_equal(a, b2);
    assert_non_null(strstr(a, "\"secret_store\":\"replace\""));
    bpt_free(a);
    bpt_free(b2);
    bpt_config_free(c);
    bpt_config_free(c2);
}

static void test_rust_serialized_default_loads(void **state)
{
    /* What serde_json emits for a TeeConfig with mode direct (every field present). */
    static const char j[] =
        "{\"requirement\":\"preferred\",\"mode\":\"direct\",\"provider_selector\":\"any\","
        "\"key_exchange\":{\"session_ttl_secs\":300,\"max_sessions\":64,"
        "\"on_chain_verification\":true},\"max_attestation_age_secs\":3600,"
        "\"secret_injection\":\"sealed_only\",\"attestation_freshness\":\"provision_time_only\","
        "\"public_key_policy\":\"required\",\"hybrid_routing_source\":{\"policy_file\":"
        "\"/etc/tee/routing.json\"}}";
    const char *file = NULL;
    (void)state;
    bpt_config *c = load(j);
    assert_int_equal(bpt_config_mode(c), BPT_MODE_DIRECT);
    assert_int_equal(bpt_config_hybrid_routing(c, &file), BPT_ROUTING_POLICY_FILE);
    assert_string_equal(file, "/etc/tee/routing.json");
    bpt_config_free(c);
}

static void test_bad_files_name_the_field(void **state)
{
    static const struct {
        const char *json;
        int want;
        const char *msg;
    } cases[] = {
        {"{\"mdoe\":\"direct\"}", BPT_EINVAL, "unknown key 'mdoe'"},
        {"{\"mode\":\"sideways\"}", BPT_EINVAL, "mode 'sideways' unknown"},
        {"{\"mode\":3}", BPT_EINVAL, "field 'mode' must be a string"},
        {"{\"requirement\":\"must\"}", BPT_EINVAL, "requirement 'must' unknown"},
        {"{\"key_exchange\":{\"ttl\":1}}", BPT_EINVAL, "key_exchange: unknown key 'ttl'"},
        {"{\"key_exchange\":{\"max_sessions\":-1}}", BPT_EINVAL, "max_sessions"},
        {"{\"key_exchange\":{\"max_sessions\":0}}", BPT_EINVAL, "max_sessions 0 out of range"},
        {"{\"key_exchange\":{\"session_ttl_secs\":0}}", BPT_EINVAL, "session_ttl_secs"},
        {"{\"key_exchange\":{\"on_chain_verification\":\"yes\"}}", BPT_EINVAL,
         "on_chain_verification"},
        /* issue 13: max_sessions goes to the service's own limit, no further */
        {"{\"key_exchange\":{\"max_sessions\":1000001}}", BPT_EINVAL,
         "max_sessions 1000001 out of range 1..1000000"},
        {"{\"key_exchange\":{\"max_connections\":0}}", BPT_EINVAL, "max_connections 0"},
        {"{\"key_exchange\":{\"max_connections\":65537}}", BPT_EINVAL, "max_connections 65537"},
        {"{\"key_exchange\":{\"max_connections\":8,\"max_connections_per_client\":9}}", BPT_EINVAL,
         "max_connections_per_client 9"},
        {"{\"key_exchange\":{\"request_deadline_secs\":0}}", BPT_EINVAL, "request_deadline_secs 0"},
        {"{\"key_exchange\":{\"first_use_secs\":\"30\"}}", BPT_EINVAL, "first_use_secs"},
        {"{\"key_exchange\":{\"secret_store\":\"last_writer\"}}", BPT_EINVAL,
         "secret_store 'last_writer' unknown"},
        {"{\"key_exchange\":{\"authorized_senders\":[\"ab\"]}}", BPT_EINVAL,
         "authorized_senders[0] must be"},
        {"{\"key_exchange\":{\"authorized_senders\":[{\"key_type\":\"secp256k1\","
         "\"public_key\":\"00\"}]}}",
         BPT_EINVAL, "secp256k1 Ethereum addresses come with the chain module"},
        {"{\"key_exchange\":{\"authorized_senders\":[{\"key_type\":\"ed25519\","
         "\"public_key\":\"00\"}]}}",
         BPT_EINVAL, "authorized_senders[0]"},
        {"{\"key_exchange\":{\"authorized_senders\":[{\"key_type\":\"ed25519\",\"pk\":1}]}}",
         BPT_EINVAL, "unknown key 'pk'"},
        {"{\"provider_selector\":\"some\"}", BPT_EINVAL, "provider_selector must be"},
        {"{\"provider_selector\":{\"allow_list\":[\"sgx\"]}}", BPT_EINVAL,
         "provider_selector.allow_list[0]"},
        {"{\"max_attestation_age_secs\":\"1h\"}", BPT_EINVAL, "max_attestation_age_secs"},
        {"{\"attestation_freshness\":{\"periodic_refresh\":{\"interval\":60}}}", BPT_EINVAL,
         "periodic refresh is not supported"},
        {"{\"public_key_policy\":\"maybe\"}", BPT_EINVAL, "public_key_policy 'maybe'"},
        {"{\"hybrid_routing_source\":{\"policy_file\":7}}", BPT_EINVAL, "hybrid_routing_source"},
        {"{\"mode\":\"direct\",\"mode\":\"remote\"}", BPT_EMALFORMED, "duplicate"},
        {"[1,2]", BPT_EINVAL, "must be a JSON object"},
        {"{", BPT_EMALFORMED, "invalid JSON"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_config *c = NULL;
        int rc = bpt_config_load_json(&c, cases[i].json, strlen(cases[i].json));
        if (rc != cases[i].want || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s: got %d '%s', want %d with '%s'", cases[i].json, rc, bpt_error_last(),
                     cases[i].want, cases[i].msg);
        }
        assert_null(c);
    }
}

static void test_builder_allow_list(void **state)
{
    bpt_config_builder *b = NULL;
    bpt_config *c = NULL;
    const bpt_provider ok[] = {BPT_PROVIDER_AMD_SEV_SNP};
    const bpt_provider bad[] = {(bpt_provider)42};
    (void)state;
    assert_ok(bpt_config_builder_new(&b));
    assert_rc_msg(bpt_config_builder_allow_providers(b, bad, 1), BPT_EINVAL, "provider 42");
    assert_ok(bpt_config_builder_allow_providers(b, ok, 1));
    assert_ok(bpt_config_builder_set_hybrid_routing(b, BPT_ROUTING_POLICY_FILE, "/srv/r.json"));
    assert_rc_msg(bpt_config_builder_set_hybrid_routing(b, BPT_ROUTING_POLICY_FILE, ""), BPT_EINVAL,
                  "non-empty path");
    assert_ok(bpt_config_builder_build(&c, b));
    assert_true(bpt_config_accepts_provider(c, BPT_PROVIDER_AMD_SEV_SNP));
    assert_false(bpt_config_accepts_provider(c, BPT_PROVIDER_AWS_NITRO));
    const char *file = NULL;
    bpt_config_hybrid_routing(c, &file);
    assert_string_equal(file, "/srv/r.json");
    bpt_config_free(c);
    bpt_config_builder_free(b);
}

static void test_tee_requirements(void **state)
{
    bpt_tee_requirements r;
    char *j = NULL;
    static const char in[] = "{\"requirement\":\"required\",\"providers\":{\"allow_list\":"
                             "[\"intel_tdx\"]},\"min_attestation_age_secs\":3600}";
    (void)state;
    bpt_tee_requirements_init(&r);
    assert_int_equal(r.requirement, BPT_REQUIREMENT_PREFERRED);
    assert_true(r.any_provider);
    assert_ok(bpt_tee_requirements_load_json(&r, in, sizeof(in) - 1));
    assert_int_equal(r.requirement, BPT_REQUIREMENT_REQUIRED);
    assert_false(r.any_provider);
    assert_int_equal(r.n_providers, 1);
    assert_int_equal(r.providers[0], BPT_PROVIDER_INTEL_TDX);
    assert_true(r.has_min_attestation_age);
    assert_ok(bpt_tee_requirements_to_json(&j, &r));
    assert_string_equal(j, "{\"min_attestation_age_secs\":3600,\"providers\":{\"allow_list\":"
                           "[\"intel_tdx\"]},\"requirement\":\"required\"}");
    bpt_free(j);
    static const char bad[] = "{\"providers\":\"any\"}";
    assert_rc_msg(bpt_tee_requirements_load_json(&r, bad, sizeof(bad) - 1), BPT_EINVAL,
                  "missing field 'requirement'");
}

/* `bpt config check --json` writes schema_version 1: the loader reads it back, and no other. */
static void test_schema_version(void **state)
{
    bpt_config *c = NULL;
    (void)state;
    c = load("{\"mode\":\"remote\",\"schema_version\":1}");
    assert_int_equal(bpt_config_mode(c), BPT_MODE_REMOTE);
    bpt_config_free(c);
    static const char v2[] = "{\"schema_version\":2}";
    assert_rc_msg(bpt_config_load_json(&c, v2, sizeof(v2) - 1), BPT_EINVAL,
                  "config: schema_version 2 is not one this version reads (1)");
    assert_null(c);
}

static void test_cli_config_check(void **state)
{
    char *dir = bpt_test_tmpdir(), bad[4096], good[4096], *out = NULL;
    (void)state;
    snprintf(bad, sizeof(bad), "%s/bad.json", dir);
    snprintf(good, sizeof(good), "%s/good.json", dir);
    bpt_test_write_file(bad, "{\"mode\":\"direct\",\"secret_injection\":\"env_or_sealed\"}", 52);
    bpt_test_write_file(good, "{\"mode\":\"remote\"}", 17);
    /* A config that breaks an invariant is the check's verdict: refused (1, was 2). */
    const char *a1[] = {"config", "check", bad, NULL};
    assert_int_equal(bpt_test_run_cli(NULL, a1), 1);
    const char *a2[] = {"config", "check", good, NULL};
    assert_int_equal(bpt_test_run_cli(&out, a2), 0);
    assert_non_null(strstr(out, "valid: mode remote"));
    bpt_free(out);
    const char *a3[] = {"config", "check", "--json", good, NULL};
    assert_int_equal(bpt_test_run_cli(&out, a3), 0);
    assert_non_null(strstr(out, "\"secret_injection\":\"sealed_only\""));
    bpt_free(out);
    const char *a4[] = {"config", "check", NULL};
    assert_int_equal(bpt_test_run_cli(NULL, a4), 2);
    bpt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_rust_defaults),
        cmocka_unit_test(test_required_with_disabled_is_refused),
        cmocka_unit_test(test_enabled_modes_force_sealed_only),
        cmocka_unit_test(test_auto_and_disabled_permit_env_or_sealed),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_rust_serialized_default_loads),
        cmocka_unit_test(test_kx_hardening),
        cmocka_unit_test(test_bad_files_name_the_field),
        cmocka_unit_test(test_builder_allow_list),
        cmocka_unit_test(test_tee_requirements),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_cli_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
