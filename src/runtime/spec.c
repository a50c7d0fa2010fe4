/*
 * The deployment spec (runtime.h, DESIGN.md §11): parsed into a native struct with every field
 * checked (unknown keys refused at every level, a type check on every value, a limit on every
 * list), defaults filled in, and its hash taken over the canonical JSON (keys sorted, compact,
 * secret values left out) so that two spellings of one deployment hash alike. Secret values a
 * non-TEE spec carries are cleansed when the spec is freed.
 */
#include <blueprint-tee/runtime.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/util.h"
#include "runtime/runtime_internal.h"

#define ARG_MAX_BYTES 4096
#define DEFAULT_MILLICPUS 1000
#define DEFAULT_MEMORY_MB 512
#define DEFAULT_PIDS 256
#define DEFAULT_ID 65534u

struct bpt_deploy_spec {
    char *name, *image;
    char *args[BPT_DEPLOY_MAX_ARGS];
    size_t n_args;
    char *env_names[BPT_DEPLOY_MAX_ENV], *env_values[BPT_DEPLOY_MAX_ENV];
    size_t n_env;
    char *secret_names[BPT_DEPLOY_MAX_SECRETS], *secret_values[BPT_DEPLOY_MAX_SECRETS];
    size_t n_secrets;
    uint32_t millicpus;
    uint64_t memory_mb, pids;
    bool devices_auto;
    char *devices[BPT_DEPLOY_MAX_DEVICES];
    size_t n_devices;
    bpt_deploy_network network;
    uint32_t uid, gid;
    char hash[65];
};

/* The TEE devices a spec may name (and "auto" passes when the host has them). */
static const char *const TEE_DEVICES[] = {"/dev/sev-guest", "/dev/tdx_guest", "/dev/tdx-guest",
                                          "/dev/nsm", NULL};

const char *const *bpt_runtime_tee_devices(void)
{
    return TEE_DEVICES;
}

void bpt_deploy_spec_free(bpt_deploy_spec *s)
{
    if (s == NULL) {
        return;
    }
    free(s->name);
    free(s->image);
    for (size_t i = 0; i < s->n_args; i++) {
        free(s->args[i]);
    }
    for (size_t i = 0; i < s->n_env; i++) {
        free(s->env_names[i]);
        free(s->env_values[i]);
    }
    for (size_t i = 0; i < s->n_secrets; i++) {
        free(s->secret_names[i]);
        if (s->secret_values[i] != NULL) {
            OPENSSL_cleanse(s->secret_values[i], strlen(s->secret_values[i]));
            free(s->secret_values[i]);
        }
    }
    for (size_t i = 0; i < s->n_devices; i++) {
        free(s->devices[i]);
    }
    free(s);
}

/* A JSON string of 1..@p max bytes without NUL, copied into *out. */
static int text(char **out, const json_t *v, size_t max, const char *what)
{
    if (!json_is_string(v)) {
        return bpt_err(BPT_EINVAL, "spec: %s must be a string", what);
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
        return bpt_err(BPT_EINVAL, "spec: %s must be 1..%zu bytes without NUL", what, max);
    }
    return bpt_strdup(out, json_string_value(v));
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > BPT_DEPLOY_NAME_MAX ||
        !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9'))) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

static bool env_name_ok(const char *n)
{
    if (!((n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z') || n[0] == '_')) {
        return false;
    }
    for (size_t i = 1; n[i]; i++) {
        char c = n[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return strlen(n) <= 128;
}

/* An image: an absolute path, optionally ":tag" (an OCI layout's tag). */
static int image_field(bpt_deploy_spec *s, const json_t *root)
{
    int rc = text(&s->image, json_object_get(root, "image"), ARG_MAX_BYTES, "image");
    if (rc < 0) {
        return rc;
    }
    bool dotdot = false;
    for (const char *c = s->image; *c; c += strcspn(c, "/")) {
        c += *c == '/';
        dotdot =
            dotdot || (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0' || c[2] == ':'));
    }
    if (s->image[0] != '/' || dotdot) {
        return bpt_err(BPT_EINVAL,
                       "spec: image '%.200s' must be an absolute path (a root file system or an "
                       "OCI image layout directory), without '..'",
                       s->image);
    }
    return 0;
}

static int args_field(bpt_deploy_spec *s, const json_t *root)
{
    json_t *a = json_object_get(root, "args"), *v;
    size_t i;
    int rc;
    if (a == NULL) {
        return 0;
    }
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > BPT_DEPLOY_MAX_ARGS) {
        return bpt_err(BPT_EINVAL, "spec: args must be an array of 1..%d strings",
                       BPT_DEPLOY_MAX_ARGS);
    }
    json_array_foreach(a, i, v)
    {
        if ((rc = text(&s->args[s->n_args], v, ARG_MAX_BYTES, "args[]")) < 0) {
            return rc;
        }
        s->n_args++;
    }
    return 0;
}

static int secrets_field(bpt_deploy_spec *s, const json_t *root)
{
    static const char *const keys[] = {"name", "value", NULL};
    json_t *a = json_object_get(root, "secrets"), *v;
    size_t i;
    int rc;
    if (a == NULL) {
        return 0;
    }
    if (!json_is_array(a) || json_array_size(a) > BPT_DEPLOY_MAX_SECRETS) {
        return bpt_err(BPT_EINVAL,
                       "spec: secrets must be an array of at most %d names (or "
                       "{\"name\",\"value\"} objects)",
                       BPT_DEPLOY_MAX_SECRETS);
    }
    json_array_foreach(a, i, v)
    {
        const json_t *name = v;
        if (json_is_object(v)) {
            if ((rc = bpt_json_check_keys(v, keys, "spec: secrets[]")) < 0) {
                return rc;
            }
            name = json_object_get(v, "name");
            json_t *val = json_object_get(v, "value");
            if (val != NULL && (rc = text(&s->secret_values[s->n_secrets], val, ARG_MAX_BYTES,
                                          "secrets[].value")) < 0) {
                return rc;
            }
        }
        if ((rc = text(&s->secret_names[s->n_secrets], name, BPT_KX_NAME_MAX, "secrets[].name")) <
            0) {
            if (s->secret_values[s->n_secrets] != NULL) {
                OPENSSL_cleanse(s->secret_values[s->n_secrets],
                                strlen(s->secret_values[s->n_secrets]));
                free(s->secret_values[s->n_secrets]);
                s->secret_values[s->n_secrets] = NULL;
            }
            return rc;
        }
        const char *n = s->secret_names[s->n_secrets++];
        if (!bpt_kx_name_is_valid(n)) {
            return bpt_err(BPT_EINVAL,
                           "spec: secret name '%.64s' is not 1..%d bytes of "
                           "[A-Za-z0-9._-]",
                           n, BPT_KX_NAME_MAX);
        }
        for (size_t j = 0; j + 1 < s->n_secrets; j++) {
            if (strcmp(s->secret_names[j], n) == 0) {
                return bpt_err(BPT_EINVAL, "spec: secret '%s' is listed twice", n);
            }
        }
    }
    return 0;
}

static int env_field(bpt_deploy_spec *s, const json_t *root)
{
    json_t *o = json_object_get(root, "env"), *v;
    const char *k;
    int rc;
    if (o == NULL) {
        return 0;
    }
    if (!json_is_object(o) || json_object_size(o) > BPT_DEPLOY_MAX_ENV) {
        return bpt_err(BPT_EINVAL, "spec: env must be an object of at most %d strings",
                       BPT_DEPLOY_MAX_ENV);
    }
    json_object_foreach(o, k, v)
    {
        if (!env_name_ok(k)) {
            return bpt_err(BPT_EINVAL, "spec: env name '%.64s' is not [A-Za-z_][A-Za-z0-9_]*", k);
        }
        if (strncmp(k, "BPT_", 4) == 0) {
            return bpt_err(BPT_EINVAL, "spec: env name '%.64s': BPT_* names are the runtime's", k);
        }
        for (size_t j = 0; j < s->n_secrets; j++) {
            if (strcmp(s->secret_names[j], k) == 0) {
                return bpt_err(BPT_EINVAL,
                               "spec: env '%s' is also a secret: a secret's value never goes in "
                               "env (list it under secrets only)",
                               k);
            }
        }
        if (json_is_string(v) && json_string_length(v) == 0) {
            rc = bpt_strdup(&s->env_values[s->n_env], ""); /* an empty value is a value */
        } else {
            rc = text(&s->env_values[s->n_env], v, ARG_MAX_BYTES, "env value");
        }
        if (rc < 0 || (rc = bpt_strdup(&s->env_names[s->n_env], k)) < 0) {
            free(s->env_values[s->n_env]);
            s->env_values[s->n_env] = NULL;
            return rc;
        }
        s->n_env++;
    }
    return 0;
}

static int resources_field(bpt_deploy_spec *s, const json_t *root)
{
    static const char *const keys[] = {"cpus", "memory_mb", "pids", NULL};
    json_t *o = NULL, *c;
    int rc = bpt_json_get_obj(root, "resources", &o, false, "spec");
    s->millicpus = DEFAULT_MILLICPUS;
    s->memory_mb = DEFAULT_MEMORY_MB;
    s->pids = DEFAULT_PIDS;
    if (rc <= 0) {
        return rc;
    }
    if ((rc = bpt_json_check_keys(o, keys, "spec: resources")) < 0) {
        return rc;
    }
    if ((c = json_object_get(o, "cpus")) != NULL) {
        double v = json_is_number(c) ? json_number_value(c) : -1;
        if (!(v >= 0.01 && v <= 1024)) {
            return bpt_err(BPT_EINVAL, "spec: resources.cpus must be a number in 0.01..1024");
        }
        s->millicpus = (uint32_t)(v * 1000 + 0.5);
    }
    if ((rc = bpt_json_get_u64(o, "memory_mb", &s->memory_mb, false, "spec: resources")) < 0 ||
        (rc = bpt_json_get_u64(o, "pids", &s->pids, false, "spec: resources")) < 0) {
        return rc;
    }
    if (s->memory_mb < 4 || s->memory_mb > 1048576 || s->pids < 1 || s->pids > 65536) {
        return bpt_err(BPT_EINVAL,
                       "spec: resources.memory_mb must be in 4..1048576 and pids in 1..65536");
    }
    return 0;
}

static int devices_field(bpt_deploy_spec *s, const json_t *root)
{
    json_t *d = json_object_get(root, "devices"), *v;
    size_t i;
    int rc;
    s->devices_auto = d == NULL || (json_is_string(d) && strcmp(json_string_value(d), "auto") == 0);
    if (s->devices_auto) {
        return 0;
    }
    if (!json_is_array(d) || json_array_size(d) > BPT_DEPLOY_MAX_DEVICES) {
        return bpt_err(BPT_EINVAL, "spec: devices must be \"auto\" or a list of TEE devices");
    }
    json_array_foreach(d, i, v)
    {
        if ((rc = text(&s->devices[s->n_devices], v, 64, "devices[]")) < 0) {
            return rc;
        }
        const char *p = s->devices[s->n_devices++];
        bool known = false;
        for (size_t k = 0; TEE_DEVICES[k]; k++) {
            known = known || strcmp(p, TEE_DEVICES[k]) == 0;
        }
        if (!known) {
            return bpt_err(BPT_EINVAL,
                           "spec: device '%s' is not a TEE device (/dev/sev-guest, /dev/tdx_guest, "
                           "/dev/tdx-guest, /dev/nsm): nothing else is passed through",
                           p);
        }
        for (size_t j = 0; j + 1 < s->n_devices; j++) {
            if (strcmp(s->devices[j], p) == 0) {
                return bpt_err(BPT_EINVAL, "spec: device '%s' is listed twice", p);
            }
        }
    }
    return 0;
}

static int user_field(bpt_deploy_spec *s, const json_t *root)
{
    static const char *const keys[] = {"uid", "gid", NULL};
    json_t *o = NULL;
    uint64_t uid = 0, gid = 0;
    int rc = bpt_json_get_obj(root, "user", &o, false, "spec");
    s->uid = s->gid = DEFAULT_ID;
    if (rc <= 0) {
        return rc;
    }
    if ((rc = bpt_json_check_keys(o, keys, "spec: user")) < 0 ||
        (rc = bpt_json_get_u64(o, "uid", &uid, true, "spec: user")) < 0 ||
        (rc = bpt_json_get_u64(o, "gid", &gid, true, "spec: user")) < 0) {
        return rc;
    }
    if (uid == 0 || gid == 0 || uid > 4294967294u || gid > 4294967294u) {
        return bpt_err(BPT_EINVAL,
                       "spec: user uid %llu gid %llu: the workload runs as a non-root "
                       "user and group (1..4294967294)",
                       (unsigned long long)uid, (unsigned long long)gid);
    }
    s->uid = (uint32_t)uid;
    s->gid = (uint32_t)gid;
    return 0;
}

/* The canonical JSON: every field, defaults filled in, secret values left out; no "args" when
 * the image's own command runs (the loader refuses an empty list: the form must load again). */
static json_t *canonical(const bpt_deploy_spec *s)
{
    json_t *o = json_object(), *args = json_array(), *env = json_object(), *secrets = json_array(),
           *devices = NULL;
    if (s->devices_auto) {
        devices = json_string("auto");
    } else if ((devices = json_array()) != NULL) {
        for (size_t i = 0; i < s->n_devices; i++) {
            json_array_append_new(devices, json_string(s->devices[i]));
        }
    }
    if (o == NULL || args == NULL || env == NULL || secrets == NULL || devices == NULL) {
        json_decref(o);
        json_decref(args);
        json_decref(env);
        json_decref(secrets);
        json_decref(devices);
        return NULL;
    }
    for (size_t i = 0; i < s->n_args; i++) {
        json_array_append_new(args, json_string(s->args[i]));
    }
    for (size_t i = 0; i < s->n_env; i++) {
        json_object_set_new(env, s->env_names[i], json_string(s->env_values[i]));
    }
    for (size_t i = 0; i < s->n_secrets; i++) {
        json_array_append_new(secrets, json_string(s->secret_names[i]));
    }
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "image", json_string(s->image));
    if (s->n_args > 0) {
        json_object_set_new(o, "args", args);
    } else {
        json_decref(args);
    }
    json_object_set_new(o, "env", env);
    json_object_set_new(o, "secrets", secrets);
    json_object_set_new(o, "devices", devices);
    json_object_set_new(o, "network",
                        json_string(s->network == BPT_DEPLOY_NETWORK_HOST ? "host" : "none"));
    json_object_set_new(o, "resources",
                        json_pack("{s:f,s:I,s:I}", "cpus", (double)s->millicpus / 1000.0,
                                  "memory_mb", (json_int_t)s->memory_mb, "pids",
                                  (json_int_t)s->pids));
    json_object_set_new(
        o, "user", json_pack("{s:I,s:I}", "uid", (json_int_t)s->uid, "gid", (json_int_t)s->gid));
    return o;
}

int bpt_deploy_spec_to_json(char **out, const bpt_deploy_spec *s)
{
    if (out == NULL || s == NULL) {
        return bpt_err(BPT_EINVAL, "spec: NULL argument");
    }
    *out = NULL;
    json_t *o = canonical(s);
    if (o == NULL) {
        return bpt_err_nomem("spec");
    }
    int rc = bpt_json_dump(out, o);
    json_decref(o);
    return rc;
}

int bpt_deploy_spec_load_json(bpt_deploy_spec **out, const char *json, size_t len)
{
    static const char *const keys[] = {"name",    "image",          "args",    "env",
                                       "secrets", "resources",      "devices", "network",
                                       "user",    "schema_version", NULL};
    bpt_deploy_spec *s = NULL;
    json_t *root = NULL;
    char *canon = NULL;
    const char *net = NULL;
    int rc = BPT_ERROR;

    if (out == NULL || json == NULL) {
        return bpt_err(BPT_EINVAL, "spec: NULL argument");
    }
    *out = NULL;
    if (len > BPT_DEPLOY_SPEC_MAX_BYTES) {
        return bpt_err(BPT_ELIMIT, "spec: %zu bytes, at most %u", len, BPT_DEPLOY_SPEC_MAX_BYTES);
    }
    BPT_CHECK(bpt_json_parse(&root, json, len, "spec"));
    if (!json_is_object(root)) {
        rc = bpt_err(BPT_EINVAL, "spec: not a JSON object");
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(root, keys, "spec"));
    BPT_CHECK(bpt_json_check_schema_version(root, "spec"));
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        rc = bpt_err_nomem("spec");
        goto out;
    }
    BPT_CHECK(text(&s->name, json_object_get(root, "name"), BPT_DEPLOY_NAME_MAX, "name"));
    if (!name_ok(s->name)) {
        rc = bpt_err(BPT_EINVAL, "spec: name '%s' is not 1..%d bytes of [a-z0-9][a-z0-9_.-]*",
                     s->name, BPT_DEPLOY_NAME_MAX);
        goto out;
    }
    BPT_CHECK(image_field(s, root));
    BPT_CHECK(args_field(s, root));
    BPT_CHECK(secrets_field(s, root));
    BPT_CHECK(env_field(s, root));
    BPT_CHECK(resources_field(s, root));
    BPT_CHECK(devices_field(s, root));
    BPT_CHECK(user_field(s, root));
    BPT_CHECK(bpt_json_get_str(root, "network", &net, false, "spec"));
    if (net != NULL && strcmp(net, "none") != 0 && strcmp(net, "host") != 0) {
        rc = bpt_err(BPT_EINVAL, "spec: network '%.32s' is not \"none\" or \"host\"", net);
        goto out;
    }
    s->network =
        net != NULL && strcmp(net, "host") == 0 ? BPT_DEPLOY_NETWORK_HOST : BPT_DEPLOY_NETWORK_NONE;
    BPT_CHECK(bpt_deploy_spec_to_json(&canon, s));
    uint8_t md[32];
    BPT_CHECK(bpt_sha256(md, canon, strlen(canon)));
    bpt_hex_encode_to(s->hash, md, sizeof(md));
    *out = s;
    s = NULL;
    rc = 0;
out:
    bpt_free(canon);
    bpt_deploy_spec_free(s);
    json_decref(root);
    return rc;
}

int bpt_deploy_spec_check_injection(const bpt_deploy_spec *s, bpt_secret_injection injection)
{
    if (s == NULL) {
        return bpt_err(BPT_EINVAL, "spec: NULL argument");
    }
    if (injection != BPT_SECRETS_SEALED_ONLY) {
        return 0;
    }
    for (size_t i = 0; i < s->n_secrets; i++) {
        if (s->secret_values[i] != NULL) {
            return bpt_err(BPT_EINVAL,
                           "spec '%s': secret '%s' carries a value, and secret injection is "
                           "sealed_only (every TEE mode): secrets reach a TEE only through the "
                           "sealed exchange (list the name, then bpt seal --deployment ID), and a "
                           "deployment is never recreated to change them",
                           s->name, s->secret_names[i]);
        }
    }
    return 0;
}

const char *bpt_deploy_spec_hash(const bpt_deploy_spec *s)
{
    return s->hash;
}

const char *bpt_deploy_spec_name(const bpt_deploy_spec *s)
{
    return s->name;
}

const char *bpt_deploy_spec_image(const bpt_deploy_spec *s)
{
    return s->image;
}

size_t bpt_deploy_spec_arg_count(const bpt_deploy_spec *s)
{
    return s->n_args;
}

const char *bpt_deploy_spec_arg(const bpt_deploy_spec *s, size_t i)
{
    return i < s->n_args ? s->args[i] : NULL;
}

size_t bpt_deploy_spec_env_count(const bpt_deploy_spec *s)
{
    return s->n_env;
}

const char *bpt_deploy_spec_env_name(const bpt_deploy_spec *s, size_t i)
{
    return i < s->n_env ? s->env_names[i] : NULL;
}

const char *bpt_deploy_spec_env_value(const bpt_deploy_spec *s, size_t i)
{
    return i < s->n_env ? s->env_values[i] : NULL;
}

size_t bpt_deploy_spec_secret_count(const bpt_deploy_spec *s)
{
    return s->n_secrets;
}

const char *bpt_deploy_spec_secret_name(const bpt_deploy_spec *s, size_t i)
{
    return i < s->n_secrets ? s->secret_names[i] : NULL;
}

const char *bpt_deploy_spec_secret_value(const bpt_deploy_spec *s, size_t i)
{
    return i < s->n_secrets ? s->secret_values[i] : NULL;
}

void bpt_deploy_spec_resources(const bpt_deploy_spec *s, bpt_deploy_resources *out)
{
    out->cpus = (double)s->millicpus / 1000.0;
    out->memory_mb = s->memory_mb;
    out->pids = s->pids;
}

uint32_t bpt_runtime_spec_millicpus(const bpt_deploy_spec *s)
{
    return s->millicpus;
}

bool bpt_deploy_spec_devices_auto(const bpt_deploy_spec *s)
{
    return s->devices_auto;
}

size_t bpt_deploy_spec_device_count(const bpt_deploy_spec *s)
{
    return s->n_devices;
}

const char *bpt_deploy_spec_device(const bpt_deploy_spec *s, size_t i)
{
    return i < s->n_devices ? s->devices[i] : NULL;
}

bpt_deploy_network bpt_deploy_spec_network(const bpt_deploy_spec *s)
{
    return s->network;
}

uint32_t bpt_deploy_spec_uid(const bpt_deploy_spec *s)
{
    return s->uid;
}

uint32_t bpt_deploy_spec_gid(const bpt_deploy_spec *s)
{
    return s->gid;
}
