/*
 * The deployment spec (runtime.h): a full spec and its defaults, the canonical form and hash
 * (two spellings of one deployment hash alike; any change that matters changes it; secret
 * values do not enter it), one case per refusal (field and message), and the sealed-only rule.
 */
#include "helpers/test.h"

#include <jansson.h>

static int load(bpt_deploy_spec **s, const char *json)
{
    return bpt_deploy_spec_load_json(s, json, strlen(json));
}

#define MIN "\"name\":\"svc\",\"image\":\"/img\""

static void test_full_spec_and_defaults(void **state)
{
    (void)state;
    bpt_deploy_spec *s = NULL;
    bpt_deploy_resources r;
    assert_ok(load(&s, "{" MIN ",\"args\":[\"/bin/sh\",\"-c\",\"true\"],\"env\":{\"MODE\":\"x\","
                       "\"EMPTY\":\"\"},\"secrets\":[\"db_password\",{\"name\":\"tok\"}],"
                       "\"resources\":{\"cpus\":0.5,\"memory_mb\":64,\"pids\":32},"
                       "\"devices\":[\"/dev/sev-guest\"],\"network\":\"host\","
                       "\"user\":{\"uid\":1000,\"gid\":1001},\"schema_version\":1}"));
    assert_string_equal(bpt_deploy_spec_name(s), "svc");
    assert_string_equal(bpt_deploy_spec_image(s), "/img");
    assert_int_equal(bpt_deploy_spec_arg_count(s), 3);
    assert_string_equal(bpt_deploy_spec_arg(s, 2), "true");
    assert_null(bpt_deploy_spec_arg(s, 3));
    assert_int_equal(bpt_deploy_spec_env_count(s), 2);
    assert_int_equal(bpt_deploy_spec_secret_count(s), 2);
    assert_string_equal(bpt_deploy_spec_secret_name(s, 1), "tok");
    assert_null(bpt_deploy_spec_secret_value(s, 0));
    bpt_deploy_spec_resources(s, &r);
    assert_true(r.cpus > 0.499 && r.cpus < 0.501);
    assert_int_equal(r.memory_mb, 64);
    assert_int_equal(r.pids, 32);
    assert_false(bpt_deploy_spec_devices_auto(s));
    assert_int_equal(bpt_deploy_spec_device_count(s), 1);
    assert_int_equal(bpt_deploy_spec_network(s), BPT_DEPLOY_NETWORK_HOST);
    assert_int_equal(bpt_deploy_spec_uid(s), 1000);
    assert_int_equal(bpt_deploy_spec_gid(s), 1001);
    bpt_deploy_spec_free(s);

    /* defaults: no args, env or secrets; 1 CPU, 512 MiB, 256 pids; devices auto; network
     * none; nobody */
    assert_ok(load(&s, "{" MIN "}"));
    bpt_deploy_spec_resources(s, &r);
    assert_true(r.cpus > 0.999 && r.cpus < 1.001);
    assert_int_equal(r.memory_mb, 512);
    assert_int_equal(r.pids, 256);
    assert_true(bpt_deploy_spec_devices_auto(s));
    assert_int_equal(bpt_deploy_spec_network(s), BPT_DEPLOY_NETWORK_NONE);
    assert_int_equal(bpt_deploy_spec_uid(s), 65534);
    assert_int_equal(bpt_deploy_spec_gid(s), 65534);
    assert_int_equal(bpt_deploy_spec_arg_count(s), 0);
    bpt_deploy_spec_free(s);
}

static void test_hash_is_canonical(void **state)
{
    (void)state;
    bpt_deploy_spec *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    char *ja = NULL, *jb = NULL;
    /* the defaults spelled out, keys in another order: the same deployment */
    assert_ok(load(&a, "{" MIN ",\"args\":[\"/x\"]}"));
    assert_ok(load(&b, "{\"network\":\"none\",\"devices\":\"auto\",\"args\":[\"/x\"],"
                       "\"resources\":{\"pids\":256,\"memory_mb\":512,\"cpus\":1},\"image\":"
                       "\"/img\",\"user\":{\"gid\":65534,\"uid\":65534},\"name\":\"svc\","
                       "\"env\":{},\"secrets\":[]}"));
    assert_string_equal(bpt_deploy_spec_hash(a), bpt_deploy_spec_hash(b));
    assert_int_equal(strlen(bpt_deploy_spec_hash(a)), 64);
    assert_ok(bpt_deploy_spec_to_json(&ja, a));
    assert_ok(bpt_deploy_spec_to_json(&jb, b));
    assert_string_equal(ja, jb);
    /* the canonical form loads back to the same hash */
    assert_ok(load(&c, ja));
    assert_string_equal(bpt_deploy_spec_hash(c), bpt_deploy_spec_hash(a));
    bpt_deploy_spec_free(c);
    /* without args (the image's own command) too: the form has no "args" (found by fuzzing) */
    bpt_free(ja);
    ja = NULL;
    assert_ok(load(&c, "{" MIN "}"));
    assert_ok(bpt_deploy_spec_to_json(&ja, c));
    assert_null(strstr(ja, "\"args\""));
    assert_ok(load(&d, ja));
    assert_string_equal(bpt_deploy_spec_hash(d), bpt_deploy_spec_hash(c));
    assert_string_not_equal(bpt_deploy_spec_hash(c), bpt_deploy_spec_hash(a));
    bpt_deploy_spec_free(c);
    bpt_deploy_spec_free(d);
    d = NULL;
    /* a change that matters changes it */
    assert_ok(load(&c, "{" MIN ",\"args\":[\"/y\"]}"));
    assert_string_not_equal(bpt_deploy_spec_hash(c), bpt_deploy_spec_hash(a));
    bpt_deploy_spec_free(c);
    /* a secret's value does not enter the hash nor the canonical form; its name does */
    assert_ok(load(&c, "{" MIN ",\"secrets\":[{\"name\":\"k\",\"value\":\"hunter2\"}]}"));
    assert_ok(load(&d, "{" MIN ",\"secrets\":[\"k\"]}"));
    assert_string_equal(bpt_deploy_spec_hash(c), bpt_deploy_spec_hash(d));
    assert_string_equal(bpt_deploy_spec_secret_value(c, 0), "hunter2");
    bpt_free(ja);
    ja = NULL;
    assert_ok(bpt_deploy_spec_to_json(&ja, c));
    assert_null(strstr(ja, "hunter2"));
    assert_string_not_equal(bpt_deploy_spec_hash(d), bpt_deploy_spec_hash(a));
    bpt_free(ja);
    bpt_free(jb);
    bpt_deploy_spec_free(a);
    bpt_deploy_spec_free(b);
    bpt_deploy_spec_free(c);
    bpt_deploy_spec_free(d);
}

static const struct bad_case {
    const char *name;
    const char *json;
    int code;
    const char *msg;
} BAD[] = {
    {"not JSON", "{nope", BPT_EMALFORMED, "invalid JSON"},
    {"not an object", "[1]", BPT_EINVAL, "not a JSON object"},
    {"duplicate key", "{" MIN ",\"name\":\"b\"}", BPT_EMALFORMED, "duplicate"},
    {"unknown key", "{" MIN ",\"privileged\":true}", BPT_EINVAL, "unknown key 'privileged'"},
    {"unknown resources key", "{" MIN ",\"resources\":{\"swap\":1}}", BPT_EINVAL,
     "unknown key 'swap'"},
    {"unknown user key", "{" MIN ",\"user\":{\"uid\":1,\"gid\":1,\"caps\":[]}}", BPT_EINVAL,
     "unknown key 'caps'"},
    {"unknown secret key", "{" MIN ",\"secrets\":[{\"name\":\"a\",\"env\":\"A\"}]}", BPT_EINVAL,
     "unknown key 'env'"},
    {"schema version", "{" MIN ",\"schema_version\":2}", BPT_EINVAL, "schema_version"},
    {"no name", "{\"image\":\"/img\"}", BPT_EINVAL, "name must be a string"},
    {"bad name", "{\"name\":\"Svc!\",\"image\":\"/img\"}", BPT_EINVAL, "[a-z0-9]"},
    {"long name",
     "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"image\":"
     "\"/i\"}",
     BPT_EINVAL, "name must be 1..63"},
    {"no image", "{\"name\":\"a\"}", BPT_EINVAL, "image must be a string"},
    {"relative image", "{\"name\":\"a\",\"image\":\"img\"}", BPT_EINVAL, "absolute path"},
    {"image with ..", "{\"name\":\"a\",\"image\":\"/srv/../etc\"}", BPT_EINVAL, "'..'"},
    {"args empty", "{" MIN ",\"args\":[]}", BPT_EINVAL, "args must be an array"},
    {"args not strings", "{" MIN ",\"args\":[1]}", BPT_EINVAL, "args[] must be a string"},
    {"arg with NUL", "{" MIN ",\"args\":[\"a\\u0000b\"]}", BPT_EINVAL, "without NUL"},
    {"env not an object", "{" MIN ",\"env\":[\"A=b\"]}", BPT_EINVAL, "env must be an object"},
    {"env bad name", "{" MIN ",\"env\":{\"A-B\":\"x\"}}", BPT_EINVAL, "env name 'A-B'"},
    {"env reserved name", "{" MIN ",\"env\":{\"BPT_KX_SOCKET\":\"/x\"}}", BPT_EINVAL,
     "BPT_* names"},
    {"env not a string", "{" MIN ",\"env\":{\"A\":1}}", BPT_EINVAL, "env value"},
    {"env holds a secret", "{" MIN ",\"secrets\":[\"TOKEN\"],\"env\":{\"TOKEN\":\"x\"}}",
     BPT_EINVAL, "is also a secret"},
    {"secret bad name", "{" MIN ",\"secrets\":[\"a b\"]}", BPT_EINVAL, "secret name 'a b'"},
    {"secret twice", "{" MIN ",\"secrets\":[\"a\",\"a\"]}", BPT_EINVAL, "listed twice"},
    {"secret empty value", "{" MIN ",\"secrets\":[{\"name\":\"a\",\"value\":\"\"}]}", BPT_EINVAL,
     "value must be 1.."},
    {"cpus zero", "{" MIN ",\"resources\":{\"cpus\":0}}", BPT_EINVAL, "cpus"},
    {"cpus text", "{" MIN ",\"resources\":{\"cpus\":\"1\"}}", BPT_EINVAL, "cpus"},
    {"memory tiny", "{" MIN ",\"resources\":{\"memory_mb\":1}}", BPT_EINVAL, "memory_mb"},
    {"pids zero", "{" MIN ",\"resources\":{\"pids\":0}}", BPT_EINVAL, "pids"},
    {"device not TEE", "{" MIN ",\"devices\":[\"/dev/kvm\"]}", BPT_EINVAL, "not a TEE device"},
    {"device twice", "{" MIN ",\"devices\":[\"/dev/nsm\",\"/dev/nsm\"]}", BPT_EINVAL,
     "listed twice"},
    {"devices word", "{" MIN ",\"devices\":\"all\"}", BPT_EINVAL, "\"auto\" or a list"},
    {"network bridge", "{" MIN ",\"network\":\"bridge\"}", BPT_EINVAL, "network 'bridge'"},
    {"root user", "{" MIN ",\"user\":{\"uid\":0,\"gid\":0}}", BPT_EINVAL, "non-root"},
    {"root group", "{" MIN ",\"user\":{\"uid\":5,\"gid\":0}}", BPT_EINVAL, "non-root"},
    {"user without gid", "{" MIN ",\"user\":{\"uid\":5}}", BPT_EINVAL, "gid"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        bpt_deploy_spec *s = (bpt_deploy_spec *)1;
        int rc = load(&s, BAD[i].json);
        if (rc != BAD[i].code || strstr(bpt_error_last(), BAD[i].msg) == NULL) {
            fail_msg("%s: got %d (%s) '%s', want %d with '%s'", BAD[i].name, rc, bpt_error_name(rc),
                     bpt_error_last(), BAD[i].code, BAD[i].msg);
        }
        assert_null(s);
    }
}

static void test_limits(void **state)
{
    (void)state;
    bpt_deploy_spec *s = NULL;
    /* 64 args load; 65 do not */
    json_t *o = json_pack("{s:s,s:s}", "name", "a", "image", "/i"), *args = json_array();
    for (int i = 0; i < BPT_DEPLOY_MAX_ARGS; i++) {
        json_array_append_new(args, json_string("x"));
    }
    json_object_set(o, "args", args);
    char *t = json_dumps(o, 0);
    assert_ok(load(&s, t));
    bpt_deploy_spec_free(s);
    free(t);
    json_array_append_new(args, json_string("x"));
    t = json_dumps(o, 0);
    assert_rc_msg(load(&s, t), BPT_EINVAL, "1..64 strings");
    free(t);
    json_decref(args);
    json_decref(o);
    /* the text limit */
    size_t n = BPT_DEPLOY_SPEC_MAX_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    assert_rc_msg(bpt_deploy_spec_load_json(&s, big, n), BPT_ELIMIT, "at most");
    free(big);
    assert_rc_msg(bpt_deploy_spec_load_json(NULL, "{}", 2), BPT_EINVAL, "NULL");
}

/* In a TEE mode (sealed_only) a spec may not carry secret values; names are fine. */
static void test_sealed_only(void **state)
{
    (void)state;
    bpt_deploy_spec *names = NULL, *values = NULL;
    assert_ok(load(&names, "{" MIN ",\"secrets\":[\"db\",{\"name\":\"tok\"}]}"));
    assert_ok(load(&values, "{" MIN ",\"secrets\":[\"db\",{\"name\":\"tok\",\"value\":\"v\"}]}"));
    assert_ok(bpt_deploy_spec_check_injection(names, BPT_SECRETS_SEALED_ONLY));
    assert_ok(bpt_deploy_spec_check_injection(names, BPT_SECRETS_ENV_OR_SEALED));
    assert_ok(bpt_deploy_spec_check_injection(values, BPT_SECRETS_ENV_OR_SEALED));
    assert_rc_msg(bpt_deploy_spec_check_injection(values, BPT_SECRETS_SEALED_ONLY), BPT_EINVAL,
                  "secret 'tok' carries a value");
    assert_non_null(strstr(bpt_error_last(), "sealed_only"));
    assert_null(strstr(bpt_error_last(), "\"v\"")); /* never the value */
    bpt_deploy_spec_free(names);
    bpt_deploy_spec_free(values);
    bpt_deploy_spec_free(NULL);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(bpt_deploy_state_name(BPT_DEPLOY_CREATING), "creating");
    assert_string_equal(bpt_deploy_state_name(BPT_DEPLOY_DESTROYED), "destroyed");
    assert_string_equal(bpt_deploy_state_name((bpt_deploy_state)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec_and_defaults),
        cmocka_unit_test(test_hash_is_canonical),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_sealed_only),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
