/*
 * The `aws_nitro` backend (DESIGN.md §13, docs/runtime.md "Remote backends"): the workload runs
 * in an AWS Nitro Enclave on an EC2 instance, through EC2's Query API (version 2016-11-15):
 *
 * - deploy: DescribeInstances by the deployment's client token ("bpt-" + id); none: RunInstances
 *   (EnclaveOptions.Enabled=true, ImageId and InstanceType from the config, ClientToken, a
 *   bpt:deployment tag, UserData that starts the EIF with nitro-cli and forwards the plane's
 *   port to the enclave over vsock); stopped: StartInstances; then DescribeInstances with
 *   back-off until it runs, up to the deploy deadline. Past it the instance is left as it is:
 *   deploying the same spec again resumes it (the same client token names the same instance),
 *   `bpt destroy` terminates it.
 * - status: DescribeInstances; stop: StopInstances (then waits for "stopped"); destroy:
 *   TerminateInstances.
 * - attestation / public key: the key-exchange plane at the address the instance reports
 *   (config "address": private or public) and the config's port; the Nitro attestation document
 *   binds our fresh nonce and is verified with the runtime's verifier (its roots: the pinned AWS
 *   Nitro root; its policy: the PCRs). Nothing is sent to the workload before that.
 * - list: refused (BPT_ENOTFOUND): the account may hold other stores' instances, and
 *   reconciling must never terminate what another store deployed.
 *
 * Every request is signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:ec2");
 * credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
 * shared credentials file, and are cleansed after each call and never logged. Throttling (503,
 * 429, RequestLimitExceeded, ...) is retried with back-off honouring Retry-After until the
 * request deadline; any other refusal carries EC2's code and message.
 */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include <blueprint-tee/exchange.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/limits.h"
#include "core/util.h"
#include "runtime/remote/remote.h"

#define CLOUD "aws_nitro"
#define EC2_VERSION "2016-11-15"
#define CONFIG_MAX_BYTES (64u * 1024u)
#define ANSWER_MAX (1024u * 1024u)
#define CRED_FILE_MAX (256u * 1024u)
#define MAX_INSTANCES 8
#define TAG_KEY "bpt:deployment"

/* ---- configuration ------------------------------------------------------------------------ */

struct config {
    char region[32];
    char instance_type[32];
    char image_id[32];
    char endpoint[256];
    char subnet_id[64];
    char security_groups[4][64];
    size_t n_security_groups;
    bool public_address;
    bool plane_https;
    unsigned port;
    unsigned enclave_cpus; /* 0: from the spec */
    long deploy_timeout_ms, request_timeout_ms, poll_base_ms, poll_max_ms;
};

static int load_config(struct config *c, const struct bpt_remote_state *a)
{
    static const char *const known[] = {"schema_version",     "region",
                                        "instance_type",      "image_id",
                                        "endpoint",           "subnet_id",
                                        "security_group_ids", "address",
                                        "plane_scheme",       "key_exchange_port",
                                        "enclave_cpus",       "deploy_timeout_s",
                                        "request_timeout_s",  "poll_base_ms",
                                        "poll_max_ms",        NULL};
    const char *path = a->config_path;
    bpt_buf text = BPT_BUF_INIT(CONFIG_MAX_BYTES);
    json_t *o = NULL;
    long v;
    int rc;

    memset(c, 0, sizeof(*c));
    if (path[0] == '\0') {
        return bpt_err(BPT_EINVAL, CLOUD ": no configuration: set BPT_AWS_NITRO_CONFIG to its "
                                         "file, or put it at STATE_DIR/aws_nitro.json");
    }
    rc = bpt_remote_read_text(&text, path);
    if (rc == 0) {
        rc = bpt_json_parse(&o, (const char *)text.data, text.len, CLOUD " configuration");
    }
    bpt_buf_dispose(&text);
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ENOTFOUND ? BPT_EINVAL : rc, CLOUD ": configuration");
    }
    if (!json_is_object(o)) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": %s: not a JSON object", path);
        goto out;
    }
    char ctx[sizeof(a->config_path) + sizeof(CLOUD ": ")];
    snprintf(ctx, sizeof(ctx), CLOUD ": %s", path);
    BPT_CHECK(bpt_json_check_keys(o, known, ctx));
    BPT_CHECK(bpt_json_check_schema_version(o, ctx));
    BPT_CHECK(
        bpt_remote_cfg_string(CLOUD, c->region, sizeof(c->region), o, "region", true, "-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->instance_type, sizeof(c->instance_type), o,
                                    "instance_type", true, ".-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->image_id, sizeof(c->image_id), o, "image_id", true,
                                    "-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->subnet_id, sizeof(c->subnet_id), o, "subnet_id",
                                    false, "-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->endpoint, sizeof(c->endpoint), o, "endpoint", false,
                                    NULL, path));
    json_t *sg = json_object_get(o, "security_group_ids");
    if (sg != NULL) {
        if (!json_is_array(sg) || json_array_size(sg) > 4) {
            rc = bpt_err(BPT_EINVAL,
                         CLOUD ": %s: \"security_group_ids\" must be a list of at "
                               "most 4 ids",
                         path);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(sg); i++) {
            const char *s = json_string_value(json_array_get(sg, i));
            if (s == NULL || s[0] == '\0' || strlen(s) >= sizeof(c->security_groups[0]) ||
                !bpt_remote_id_chars(s, "-")) {
                rc = bpt_err(BPT_EINVAL, CLOUD ": %s: \"security_group_ids\"[%zu] is no id", path,
                             i);
                goto out;
            }
            snprintf(c->security_groups[c->n_security_groups++], sizeof(c->security_groups[0]),
                     "%s", s);
        }
    }
    char tmp[16] = "";
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, tmp, sizeof(tmp), o, "address", false, NULL, path));
    if (tmp[0] != '\0' && strcmp(tmp, "private") != 0 && strcmp(tmp, "public") != 0) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": %s: \"address\" is \"private\" or \"public\"", path);
        goto out;
    }
    c->public_address = strcmp(tmp, "public") == 0;
    tmp[0] = '\0';
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, tmp, sizeof(tmp), o, "plane_scheme", false, NULL, path));
    if (tmp[0] != '\0' && strcmp(tmp, "https") != 0 && strcmp(tmp, "http") != 0) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": %s: \"plane_scheme\" is \"https\" or \"http\"", path);
        goto out;
    }
    c->plane_https = strcmp(tmp, "http") != 0;
    v = 8787;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "key_exchange_port", 1, 65535, path));
    c->port = (unsigned)v;
    v = 0;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "enclave_cpus", 0, 128, path));
    c->enclave_cpus = (unsigned)v;
    v = 600;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "deploy_timeout_s", 1, 3600, path));
    c->deploy_timeout_ms = v * 1000;
    v = 60;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "request_timeout_s", 1, 600, path));
    c->request_timeout_ms = v * 1000;
    c->poll_base_ms = 1000;
    c->poll_max_ms = 15000;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &c->poll_base_ms, o, "poll_base_ms", 1, 60000, path));
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &c->poll_max_ms, o, "poll_max_ms", 1, 300000, path));
    /* the endpoint: the config's, the AWS tools' variables, the regional one */
    if (c->endpoint[0] == '\0') {
        const char *e = getenv("AWS_ENDPOINT_URL_EC2");
        if (e == NULL || e[0] == '\0') {
            e = getenv("AWS_ENDPOINT_URL");
        }
        if (e != NULL && e[0] != '\0') {
            if (strlen(e) >= sizeof(c->endpoint)) {
                rc = bpt_err(BPT_EINVAL, CLOUD ": the endpoint URL is over %zu bytes",
                             sizeof(c->endpoint) - 1);
                goto out;
            }
            snprintf(c->endpoint, sizeof(c->endpoint), "%s", e);
        } else {
            snprintf(c->endpoint, sizeof(c->endpoint), "https://ec2.%s.amazonaws.com/", c->region);
        }
    }
    if (!bpt_http_url_allowed(c->endpoint)) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": endpoint refused: https://, or http:// to loopback only");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- credentials -------------------------------------------------------------------------- */

struct creds {
    char key_id[128];
    char secret[128];
    char token[4096];
};

static void creds_cleanse(struct creds *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

static int cred_copy(char *out, size_t cap, const char *v, size_t n, const char *what)
{
    if (n == 0 || n >= cap) {
        return bpt_err(BPT_EINVAL, CLOUD ": credentials: %s of %zu bytes (1..%zu)", what, n,
                       cap - 1);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f) {
            return bpt_err(BPT_EINVAL, CLOUD ": credentials: %s holds a space or control byte",
                           what);
        }
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

/* The profile's keys from a shared credentials file (INI). */
static int creds_from_file(struct creds *k, const char *path, const char *profile)
{
    bpt_buf buf = BPT_BUF_INIT(CRED_FILE_MAX);
    bool in = false;
    int rc = bpt_remote_read_text(&buf, path);
    char *text = (char *)buf.data;
    if (rc < 0) {
        bpt_buf_dispose(&buf);
        return bpt_err(rc == BPT_ENOTFOUND ? BPT_EINVAL : rc,
                       CLOUD ": no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                             "or give profile '%.64s' in the shared credentials file %s",
                       profile, path);
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && rc >= 0;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        while (n > 0 && strchr(" \t\r", line[n - 1]) != NULL) {
            line[--n] = '\0';
        }
        while (*line == ' ' || *line == '\t') {
            line++;
        }
        if (line[0] == '#' || line[0] == ';' || line[0] == '\0') {
            continue;
        }
        if (line[0] == '[') {
            n = strlen(line);
            in = n == strlen(profile) + 2 && line[n - 1] == ']' &&
                 strncmp(line + 1, profile, n - 2) == 0;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!in || eq == NULL) {
            continue;
        }
        char *key = line, *val = eq + 1;
        char *kend = eq;
        while (kend > key && (kend[-1] == ' ' || kend[-1] == '\t')) {
            kend--;
        }
        *kend = '\0';
        while (*val == ' ' || *val == '\t') {
            val++;
        }
        if (strcmp(key, "aws_access_key_id") == 0) {
            rc = cred_copy(k->key_id, sizeof(k->key_id), val, strlen(val), "aws_access_key_id");
        } else if (strcmp(key, "aws_secret_access_key") == 0) {
            rc = cred_copy(k->secret, sizeof(k->secret), val, strlen(val), "aws_secret_access_key");
        } else if (strcmp(key, "aws_session_token") == 0) {
            rc = cred_copy(k->token, sizeof(k->token), val, strlen(val), "aws_session_token");
        }
    }
    bpt_buf_dispose(&buf);
    if (rc < 0) {
        return rc;
    }
    if (k->key_id[0] == '\0' || k->secret[0] == '\0') {
        return bpt_err(BPT_EINVAL,
                       CLOUD ": no credentials: profile '%.64s' in %s has no aws_access_key_id "
                             "and aws_secret_access_key",
                       profile, path);
    }
    return 0;
}

static int load_creds(struct creds *k)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    int rc;

    memset(k, 0, sizeof(*k));
    if (id != NULL && id[0] != '\0' && secret != NULL && secret[0] != '\0') {
        if ((rc = cred_copy(k->key_id, sizeof(k->key_id), id, strlen(id), "AWS_ACCESS_KEY_ID")) <
                0 ||
            (rc = cred_copy(k->secret, sizeof(k->secret), secret, strlen(secret),
                            "AWS_SECRET_ACCESS_KEY")) < 0 ||
            (token != NULL && token[0] != '\0' &&
             (rc = cred_copy(k->token, sizeof(k->token), token, strlen(token),
                             "AWS_SESSION_TOKEN")) < 0)) {
            creds_cleanse(k);
            return rc;
        }
        return 0;
    }
    char path[4200];
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    const char *profile = getenv("AWS_PROFILE");
    if (file != NULL && file[0] != '\0') {
        snprintf(path, sizeof(path), "%s", file);
    } else if (home != NULL && home[0] == '/') {
        snprintf(path, sizeof(path), "%s/.aws/credentials", home);
    } else {
        return bpt_err(BPT_EINVAL, CLOUD ": no credentials: set AWS_ACCESS_KEY_ID and "
                                         "AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE");
    }
    if (profile == NULL || profile[0] == '\0') {
        profile = "default";
    }
    rc = creds_from_file(k, path, profile);
    if (rc < 0) {
        creds_cleanse(k);
    }
    return rc;
}

/* ---- EC2 requests --------------------------------------------------------------------------- */

struct ec2 {
    struct config cfg;
    struct creds creds;
    char sigv4[64];
};

static int ec2_open(struct ec2 *e, const struct bpt_remote_state *a)
{
    memset(e, 0, sizeof(*e));
    int rc = load_config(&e->cfg, a);
    if (rc == 0) {
        rc = load_creds(&e->creds);
    }
    snprintf(e->sigv4, sizeof(e->sigv4), "aws:amz:%s:ec2", e->cfg.region);
    return rc;
}

static void ec2_close(struct ec2 *e)
{
    creds_cleanse(&e->creds);
}

struct ec2_error {
    char code[96];
    char message[512];
};

static int on_error_xml(const char *const *path, size_t depth, const char *text, void *ud)
{
    struct ec2_error *e = ud;
    if (bpt_remote_xml_path_ends(path, depth, "Errors/Error/Code") && e->code[0] == '\0') {
        snprintf(e->code, sizeof(e->code), "%s", text);
    } else if (bpt_remote_xml_path_ends(path, depth, "Errors/Error/Message") &&
               e->message[0] == '\0') {
        snprintf(e->message, sizeof(e->message), "%s", text);
    }
    return 0;
}

static bool throttled(long status, const char *code)
{
    static const char *const codes[] = {
        "RequestLimitExceeded",         "Throttling",  "ThrottlingException",
        "ServiceUnavailable",           "Unavailable", "InternalError",
        "InsufficientInstanceCapacity", NULL};
    if (status == 429 || status == 503 || status == 500) {
        return true;
    }
    for (size_t i = 0; codes[i] != NULL; i++) {
        if (strcmp(code, codes[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int refusal_code(const char *code)
{
    if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "RequestExpired") == 0) {
        return BPT_EEXPIRED;
    }
    return BPT_EINVAL;
}

/*
 * One EC2 action: @p params (without Action and Version) POSTed form-encoded, signed; the 200
 * answer's XML into @p out (empty on entry). Throttling and transport failures are retried
 * within the request deadline.
 */
static int ec2_call(bpt_buf *out, struct ec2 *e, const char *action, const bpt_buf *params)
{
    bpt_buf q = BPT_BUF_INIT(64 * 1024);
    bpt_buf ra = BPT_BUF_INIT(64);
    char token_hdr[4200];
    const char *headers[1];
    const char *capture[] = {"Retry-After"};
    struct bpt_remote_backoff b;
    int rc;

    bpt_remote_backoff_init(&b, e->cfg.request_timeout_ms, e->cfg.poll_base_ms, e->cfg.poll_max_ms);
    if ((rc = bpt_remote_form_param(&q, "Action", action)) < 0 ||
        (rc = bpt_remote_form_param(&q, "Version", EC2_VERSION)) < 0 ||
        (params->len > 0 && ((rc = bpt_buf_append(&q, (const uint8_t *)"&", 1)) < 0 ||
                             (rc = bpt_buf_append(&q, params->data, params->len)) < 0))) {
        goto out;
    }
    size_t nh = 0;
    if (e->creds.token[0] != '\0') {
        snprintf(token_hdr, sizeof(token_hdr), "X-Amz-Security-Token: %s", e->creds.token);
        headers[nh++] = token_hdr;
    }
    for (;;) {
        struct ec2_error err = {"", ""};
        struct bpt_http_request req = {
            .method = BPT_HTTP_POST,
            .url = e->cfg.endpoint,
            .content_type = "application/x-www-form-urlencoded; charset=utf-8",
            .headers = headers,
            .n_headers = nh,
            .body = q.data,
            .body_len = q.len,
            .timeout_ms = e->cfg.request_timeout_ms,
            .capture = capture,
            .n_capture = 1,
            .aws_sigv4 = e->sigv4,
            .aws_key_id = e->creds.key_id,
            .aws_secret = e->creds.secret,
        };
        struct bpt_http_response resp = {.body = out, .values = &ra};
        bool again = false;
        out->len = 0;
        if ((rc = bpt_remote_send(&again, &resp, &req, &b, CLOUD, action)) < 0) {
            goto out;
        }
        if (again) {
            continue;
        }
        if (resp.status == 200) {
            rc = 0;
            goto out;
        }
        /* an error answer: <Response><Errors><Error><Code/><Message/></Error></Errors>... */
        if (bpt_remote_xml_walk((const char *)out->data, out->len, on_error_xml, &err) < 0 ||
            err.code[0] == '\0') {
            snprintf(err.code, sizeof(err.code), "HTTP %ld", resp.status);
            snprintf(err.message, sizeof(err.message), "an answer without an EC2 error");
        }
        if (throttled(resp.status, err.code)) {
            if ((rc = bpt_remote_throttled(&b, &ra, CLOUD, action, err.code, err.message)) < 0) {
                goto out;
            }
            continue;
        }
        rc = bpt_remote_cloud_error(refusal_code(err.code), CLOUD, action, err.code, err.message);
        goto out;
    }
out:
    OPENSSL_cleanse(token_hdr, sizeof(token_hdr));
    bpt_buf_dispose(&q);
    bpt_buf_dispose(&ra);
    return rc;
}

/* ---- instances ---------------------------------------------------------------------------- */

struct instance {
    char id[32];
    char state[24]; /* pending, running, stopping, stopped, shutting-down, terminated */
    char private_ip[64];
    char public_ip[64];
};

struct instances {
    struct instance it[MAX_INSTANCES];
    size_t n;
    bool over;
};

static int on_instance_xml(const char *const *path, size_t depth, const char *text, void *ud)
{
    struct instances *l = ud;
    struct instance *cur = l->n > 0 ? &l->it[l->n - 1] : NULL;
    if (bpt_remote_xml_path_ends(path, depth, "instancesSet/item/instanceId")) {
        if (l->n == MAX_INSTANCES) {
            l->over = true;
            return 0;
        }
        cur = &l->it[l->n++];
        memset(cur, 0, sizeof(*cur));
        snprintf(cur->id, sizeof(cur->id), "%s", text);
    } else if (cur == NULL || l->over) {
        return 0;
    } else if (bpt_remote_xml_path_ends(path, depth, "instancesSet/item/instanceState/name")) {
        snprintf(cur->state, sizeof(cur->state), "%s", text);
    } else if (bpt_remote_xml_path_ends(path, depth, "instancesSet/item/privateIpAddress")) {
        snprintf(cur->private_ip, sizeof(cur->private_ip), "%s", text);
    } else if (bpt_remote_xml_path_ends(path, depth, "instancesSet/item/ipAddress")) {
        snprintf(cur->public_ip, sizeof(cur->public_ip), "%s", text);
    }
    return 0;
}

static void client_token(char out[32], const char *id)
{
    snprintf(out, 32, "bpt-%.16s", id);
}

static int parse_instances(struct instances *l, const bpt_buf *xml, const char *action)
{
    memset(l, 0, sizeof(*l));
    int rc = bpt_remote_xml_walk((const char *)xml->data, xml->len, on_instance_xml, l);
    if (rc < 0) {
        return bpt_err_prefix(BPT_EPROTOCOL, CLOUD ": %s", action);
    }
    for (size_t i = 0; i < l->n; i++) {
        if (l->it[i].id[0] == '\0' || !bpt_remote_id_chars(l->it[i].id, "-") ||
            l->it[i].state[0] == '\0') {
            return bpt_err(BPT_EPROTOCOL, CLOUD ": %s: an instance without an id or a state",
                           action);
        }
    }
    return 0;
}

/* The deployment's instance (by its client token): the live one, else a terminated one. */
static int describe(struct instance *out, bool *found, struct ec2 *e, const char *id)
{
    bpt_buf p = BPT_BUF_INIT(1024), xml = BPT_BUF_INIT(ANSWER_MAX);
    struct instances l;
    char tok[32];
    int rc;

    *found = false;
    client_token(tok, id);
    if ((rc = bpt_remote_form_param(&p, "Filter.1.Name", "client-token")) < 0 ||
        (rc = bpt_remote_form_param(&p, "Filter.1.Value.1", tok)) < 0 ||
        (rc = ec2_call(&xml, e, "DescribeInstances", &p)) < 0 ||
        (rc = parse_instances(&l, &xml, "DescribeInstances")) < 0) {
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        bool live = strcmp(l.it[i].state, "terminated") != 0;
        if (!*found || live) {
            *out = l.it[i];
            *found = true;
        }
        if (live) {
            break;
        }
    }
    rc = 0;
out:
    bpt_buf_dispose(&p);
    bpt_buf_dispose(&xml);
    return rc;
}

/* Open @p e (closed by the caller in any case) and describe the deployment's instance. */
static int open_describe(struct ec2 *e, struct instance *in, bool *found,
                         const struct bpt_remote_state *a, const char *id)
{
    *found = false;
    int rc = ec2_open(e, a);
    return rc < 0 ? rc : describe(in, found, e, id);
}

/* Start/Stop/TerminateInstances on one instance. */
static int instance_action(struct ec2 *e, const char *action, const char *instance_id)
{
    bpt_buf p = BPT_BUF_INIT(256), xml = BPT_BUF_INIT(ANSWER_MAX);
    int rc = bpt_remote_form_param(&p, "InstanceId.1", instance_id);
    if (rc == 0) {
        rc = ec2_call(&xml, e, action, &p);
    }
    bpt_buf_dispose(&p);
    bpt_buf_dispose(&xml);
    return rc;
}

static int user_data(char **out, const struct config *c, const bpt_deploy_spec *spec)
{
    bpt_deploy_resources r;
    char script[2048];
    const char *eif = bpt_deploy_spec_image(spec);
    bpt_deploy_spec_resources(spec, &r);
    unsigned cpus =
        c->enclave_cpus ? c->enclave_cpus : (bpt_runtime_spec_millicpus(spec) + 999) / 1000;
    if (cpus < 2) {
        cpus = 2; /* an enclave takes whole cores: two vCPUs at least */
    }
    if (strchr(eif, '\'') != NULL || strlen(eif) > 1024) {
        return bpt_err(BPT_EINVAL, CLOUD ": the EIF path (the spec's image) holds a quote or is "
                                         "over 1024 bytes");
    }
    int n = snprintf(script, sizeof(script),
                     "#!/bin/sh\n"
                     "# bpt deployment: the enclave image, and its key-exchange plane on the "
                     "instance's port\n"
                     "set -eu\n"
                     "nitro-cli run-enclave --eif-path '%s' --cpu-count %u --memory %llu "
                     "--enclave-cid 16\n"
                     "exec socat TCP-LISTEN:%u,fork,reuseaddr VSOCK-CONNECT:16:%u\n",
                     eif, cpus, (unsigned long long)r.memory_mb, c->port, c->port);
    if (n < 0 || (size_t)n >= sizeof(script)) {
        return bpt_err(BPT_ELIMIT, CLOUD ": user data over %zu bytes", sizeof(script));
    }
    return bpt_base64_encode(out, (const uint8_t *)script, (size_t)n);
}

static int run_instance(struct ec2 *e, const bpt_backend_deployment *d)
{
    bpt_buf p = BPT_BUF_INIT(16 * 1024), xml = BPT_BUF_INIT(ANSWER_MAX);
    char tok[32], key[64], *ud = NULL;
    struct instances l;
    int rc;

    client_token(tok, d->id);
    if ((rc = user_data(&ud, &e->cfg, d->spec)) < 0 ||
        (rc = bpt_remote_form_param(&p, "ImageId", e->cfg.image_id)) < 0 ||
        (rc = bpt_remote_form_param(&p, "InstanceType", e->cfg.instance_type)) < 0 ||
        (rc = bpt_remote_form_param(&p, "MinCount", "1")) < 0 ||
        (rc = bpt_remote_form_param(&p, "MaxCount", "1")) < 0 ||
        (rc = bpt_remote_form_param(&p, "ClientToken", tok)) < 0 ||
        (rc = bpt_remote_form_param(&p, "EnclaveOptions.Enabled", "true")) < 0 ||
        (rc = bpt_remote_form_param(&p, "UserData", ud)) < 0 ||
        (rc = bpt_remote_form_param(&p, "TagSpecification.1.ResourceType", "instance")) < 0 ||
        (rc = bpt_remote_form_param(&p, "TagSpecification.1.Tag.1.Key", TAG_KEY)) < 0 ||
        (rc = bpt_remote_form_param(&p, "TagSpecification.1.Tag.1.Value", d->id)) < 0 ||
        (e->cfg.subnet_id[0] != '\0' &&
         (rc = bpt_remote_form_param(&p, "SubnetId", e->cfg.subnet_id)) < 0)) {
        goto out;
    }
    for (size_t i = 0; i < e->cfg.n_security_groups; i++) {
        snprintf(key, sizeof(key), "SecurityGroupId.%zu", i + 1);
        if ((rc = bpt_remote_form_param(&p, key, e->cfg.security_groups[i])) < 0) {
            goto out;
        }
    }
    if ((rc = ec2_call(&xml, e, "RunInstances", &p)) < 0 ||
        (rc = parse_instances(&l, &xml, "RunInstances")) < 0) {
        goto out;
    }
    if (l.n != 1) {
        rc = bpt_err(BPT_EPROTOCOL, CLOUD ": RunInstances: %zu instances in the answer, want 1",
                     l.n);
        goto out;
    }
    BPT_LOG(BPT_LOG_INFO, "runtime", CLOUD ": instance %s for deployment %s", l.it[0].id, d->id);
    rc = 0;
out:
    free(ud);
    bpt_buf_dispose(&p);
    bpt_buf_dispose(&xml);
    return rc;
}

/* Poll until the instance is in @p want (or gone, with want NULL), within @p budget_ms. */
static int wait_state(struct instance *in, struct ec2 *e, const char *id, const char *want,
                      long budget_ms)
{
    struct bpt_remote_backoff b;
    bpt_remote_backoff_init(&b, budget_ms, e->cfg.poll_base_ms, e->cfg.poll_max_ms);
    for (;;) {
        bool found = false;
        int rc = describe(in, &found, e, id);
        if (rc < 0) {
            return rc;
        }
        if (!found && want == NULL) {
            return 0;
        }
        if (!found) {
            /* EC2 is eventually consistent: a just-launched instance may not be listed yet */
            snprintf(in->id, sizeof(in->id), "(not listed yet)");
            snprintf(in->state, sizeof(in->state), "absent");
        } else if (want != NULL && strcmp(in->state, want) == 0) {
            return 0;
        }
        if ((want == NULL || strcmp(want, "terminated") == 0) &&
            (strcmp(in->state, "terminated") == 0 || strcmp(in->state, "shutting-down") == 0)) {
            return 0;
        }
        if (strcmp(want != NULL ? want : "", "running") == 0 &&
            (strcmp(in->state, "terminated") == 0 || strcmp(in->state, "shutting-down") == 0)) {
            return bpt_err(BPT_EPROTOCOL,
                           CLOUD ": instance %s is %s (terminated outside bpt?): destroy the "
                                 "deployment and deploy again",
                           in->id, in->state);
        }
        if (bpt_remote_backoff_wait(&b, -1, CLOUD) < 0) {
            return bpt_err(BPT_EBUSY,
                           CLOUD ": instance %s still %s, not %s, when the deadline passed (%ld "
                                 "s); it is left as it is: deploy the same spec again to resume, "
                                 "or destroy it",
                           in->id, in->state, want != NULL ? want : "gone", budget_ms / 1000);
        }
    }
}

/* ---- the backend -------------------------------------------------------------------------- */

static int aws_init(void **state, const bpt_backend_env *env, void *userdata)
{
    (void)userdata;
    return bpt_remote_init(state, env, "BPT_AWS_NITRO_CONFIG", "aws_nitro.json");
}

static int aws_deploy(void *state, const bpt_backend_deployment *d)
{
    struct ec2 e;
    struct instance in;
    bool found = false;
    int rc;

    if ((rc = open_describe(&e, &in, &found, state, d->id)) < 0) {
        goto out;
    }
    if (!found) {
        rc = run_instance(&e, d);
    } else if (strcmp(in.state, "stopping") == 0 || strcmp(in.state, "stopped") == 0) {
        if ((rc = wait_state(&in, &e, d->id, "stopped", e.cfg.deploy_timeout_ms)) == 0) {
            rc = instance_action(&e, "StartInstances", in.id);
        }
    } else {
        rc = 0; /* pending or running: resume waiting; terminated: wait_state says so */
    }
    if (rc == 0) {
        rc = wait_state(&in, &e, d->id, "running", e.cfg.deploy_timeout_ms);
    }
out:
    ec2_close(&e);
    return rc;
}

/* The plane's base URL from the running instance's address. */
static int plane_url_with(char *out, size_t cap, struct ec2 *e, const char *id)
{
    struct instance in;
    bool found = false;
    int rc = describe(&in, &found, e, id);
    if (rc < 0) {
        return rc;
    }
    if (!found || strcmp(in.state, "running") != 0) {
        return bpt_err(BPT_EINVAL, CLOUD ": deployment %s is not running (instance %s)", id,
                       found ? in.state : "absent");
    }
    const char *addr = e->cfg.public_address ? in.public_ip : in.private_ip;
    if (!bpt_remote_plane_url(out, cap, e->cfg.plane_https, addr, e->cfg.port)) {
        return bpt_err(BPT_EPROTOCOL, CLOUD ": instance %s reports no %s IP address", in.id,
                       e->cfg.public_address ? "public" : "private");
    }
    return 0;
}

/* The same, with the configuration and credentials read for it (and cleansed). */
static int plane_url(char *out, size_t cap, const struct bpt_remote_state *a, const char *id)
{
    struct ec2 e;
    int rc = ec2_open(&e, a);
    if (rc == 0) {
        rc = plane_url_with(out, cap, &e, id);
    }
    ec2_close(&e);
    return rc;
}

static int aws_plane_url(char *out, size_t cap, void *state, const bpt_backend_deployment *d)
{
    return plane_url(out, cap, state, d->id);
}

static int aws_attestation(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                           const uint8_t *nonce, size_t nonce_len)
{
    struct bpt_remote_state *a = state;
    char url[160];
    int rc = plane_url(url, sizeof(url), a, d->id);
    if (rc < 0) {
        return rc;
    }
    return bpt_runtime_attest_plane(out, url, NULL, a->verifier, nonce, nonce_len);
}

static int aws_public_key(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d)
{
    struct bpt_remote_state *a = state;
    char url[160];
    int rc = plane_url(url, sizeof(url), a, d->id);
    if (rc < 0) {
        return rc;
    }
    return bpt_kx_client_session_key(out, url, a->verifier, NULL);
}

static int aws_status(bpt_backend_state *out, void *state, const bpt_backend_deployment *d)
{
    struct ec2 e;
    struct instance in;
    bool found = false;
    int rc = open_describe(&e, &in, &found, state, d->id);
    ec2_close(&e);
    if (rc < 0) {
        return rc;
    }
    if (!found || strcmp(in.state, "terminated") == 0 || strcmp(in.state, "shutting-down") == 0) {
        *out = BPT_BACKEND_ABSENT;
    } else if (strcmp(in.state, "running") == 0) {
        *out = BPT_BACKEND_RUNNING;
    } else if (strcmp(in.state, "pending") == 0) {
        *out = BPT_BACKEND_CREATED;
    } else {
        *out = BPT_BACKEND_EXITED; /* stopping, stopped */
    }
    return 0;
}

static int aws_stop(void *state, const bpt_backend_deployment *d)
{
    struct ec2 e;
    struct instance in;
    bool found = false;
    int rc;
    if ((rc = open_describe(&e, &in, &found, state, d->id)) < 0) {
        goto out;
    }
    if (!found || strcmp(in.state, "stopped") == 0 || strcmp(in.state, "terminated") == 0 ||
        strcmp(in.state, "shutting-down") == 0) {
        rc = 0;
        goto out;
    }
    /* a pending instance cannot be stopped yet (IncorrectInstanceState): let it start first */
    if (strcmp(in.state, "pending") == 0 &&
        (rc = wait_state(&in, &e, d->id, "running", e.cfg.deploy_timeout_ms)) < 0) {
        goto out;
    }
    if (strcmp(in.state, "stopping") != 0 &&
        (rc = instance_action(&e, "StopInstances", in.id)) < 0) {
        goto out;
    }
    rc = wait_state(&in, &e, d->id, "stopped", e.cfg.deploy_timeout_ms);
out:
    ec2_close(&e);
    return rc;
}

static int aws_destroy(void *state, const bpt_backend_deployment *d)
{
    struct ec2 e;
    struct instance in;
    bool found = false;
    int rc;
    if ((rc = open_describe(&e, &in, &found, state, d->id)) < 0) {
        goto out;
    }
    if (found && strcmp(in.state, "terminated") != 0 && strcmp(in.state, "shutting-down") != 0) {
        rc = instance_action(&e, "TerminateInstances", in.id);
    }
out:
    ec2_close(&e);
    return rc;
}

static int aws_list(void *state, bpt_backend_list_fn fn, void *ud)
{
    (void)state;
    (void)fn;
    (void)ud;
    return bpt_err(BPT_ENOTFOUND,
                   CLOUD ": not listed when the runtime opens (the account may "
                         "hold other stores' instances); status asks EC2 per deployment");
}

static const bpt_runtime_backend AWS_NITRO = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "aws_nitro",
    .init = aws_init,
    .cleanup = bpt_remote_cleanup,
    .deploy = aws_deploy,
    .attestation = aws_attestation,
    .cached_attestation = NULL,
    .public_key = aws_public_key,
    .status = aws_status,
    .stop = aws_stop,
    .destroy = aws_destroy,
    .list = aws_list,
    .plane_url = aws_plane_url,
};

const bpt_runtime_backend *bpt_runtime_aws_nitro_backend(void)
{
    return &AWS_NITRO;
}
