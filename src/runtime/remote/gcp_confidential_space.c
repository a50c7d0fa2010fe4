/*
 * The `gcp_confidential_space` backend (DESIGN.md §13, docs/runtime.md "Remote backends"): the
 * workload runs as the container of a Confidential Space VM (AMD SEV-SNP or Intel TDX) on Google
 * Compute Engine, through the Compute Engine API v1 (JSON over HTTPS):
 *
 * - deploy: instances.get of "bpt-<deployment id>"; absent: instances.insert with a requestId
 *   derived from the deployment id (a retried insert is the same request; an insert after the
 *   requestId expired finds the name taken, 409 alreadyExists: the instance is adopted), its
 *   confidentialInstanceConfig, the Confidential Space image and the launcher's metadata
 *   (tee-image-reference = the spec's image, tee-cmd = the key-exchange plane with the audience,
 *   tee-restart-policy); TERMINATED: instances.start; SUSPENDED: instances.resume. Then the
 *   operation is polled with back-off (Retry-After honoured) until DONE and the instance until
 *   RUNNING, up to the deploy deadline. Past it everything is left as it is: deploying the same
 *   spec again resumes (the same name, the same requestId), `bpt destroy` deletes it.
 * - status: instances.get; stop: instances.stop (its operation, then TERMINATED); destroy:
 *   instances.delete (404: gone).
 * - attestation / public key: the plane at the instance's address (config "address": private
 *   networkIP or public natIP) and port; the Confidential Space token binds our nonce in
 *   eat_nonce and is verified with the runtime's verifier, whose policy is given the config's
 *   audience and image digest (a clone: the runtime's verifier is not changed). Nothing is sent
 *   to the workload before that.
 * - list: refused (BPT_ENOTFOUND), as aws_nitro: the project may hold other stores' instances.
 *
 * Authentication: an OAuth2 access token for a service account, from its JSON key file (config
 * "credentials_file", else GOOGLE_APPLICATION_CREDENTIALS): a JWT assertion signed RS256 with
 * the key's private key is exchanged at the key's token_uri (RFC 7523). The key, the assertion
 * and the token are cleansed after each operation and never logged. A 401 gets one fresh token;
 * throttling (429, 503, 500, 403 rateLimitExceeded) is retried with back-off honouring
 * Retry-After until the request deadline; any other refusal carries Google's status, reason and
 * message.
 */
#include "runtime/runtime_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <blueprint-tee/exchange.h>
#include <blueprint-tee/policy.h>
#include <blueprint-tee/verify.h>

#include "attestation/policy_internal.h"
#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/util.h"
#include "runtime/remote/remote.h"

#define CLOUD "gcp_confidential_space"
#define CONFIG_MAX_BYTES (64u * 1024u)
#define KEY_FILE_MAX (64u * 1024u)
#define ANSWER_MAX (1024u * 1024u)
#define TOKEN_ANSWER_MAX (64u * 1024u)
#define TOKEN_MAX 4096 /* Google documents access tokens of up to 2048 bytes: room to spare */
#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define DEFAULT_ENDPOINT "https://compute.googleapis.com/compute/v1/"
#define DEFAULT_IMAGE "projects/confidential-space-images/global/images/family/confidential-space"
#define MAX_CMD 8

/* ---- configuration ------------------------------------------------------------------------ */

struct config {
    char project[64];
    char zone[64];
    char machine_type[64];
    char confidential_type[8]; /* SEV_SNP, TDX */
    char source_image[256];
    char image_repository[512]; /* the spec's image is a path under it */
    char service_account[256];
    char subnetwork[512];
    char audience[512];
    char image_digest[72]; /* sha256:<64 hex>, or empty */
    char restart_policy[16];
    char credentials_file[4096];
    char endpoint[256];
    char serve_cmd[MAX_CMD][128];
    size_t n_serve_cmd;
    bool public_address;
    bool plane_https;
    unsigned port;
    long deploy_timeout_ms, request_timeout_ms, poll_base_ms, poll_max_ms;
};

/* Lowercase letters, digits and @p extra (GCE's names: projects, zones, machine types). */
static bool name_ok(const char *s, const char *extra)
{
    for (; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL)) {
            return false;
        }
    }
    return true;
}

/* Printable ASCII without quotes, backslashes or spaces (URLs, image paths, e-mails). */
static bool printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\') {
            return false;
        }
    }
    return true;
}

/* A string field: absent leaves @p out; else 1..cap-1 bytes, [a-z0-9]+extra when @p extra. */
static int cfg_str(char *out, size_t cap, const json_t *o, const char *key, bool required,
                   const char *extra, const char *ctx)
{
    const char *s = NULL;
    int rc = bpt_json_get_str(o, key, &s, required, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (s[0] == '\0' || strlen(s) >= cap || !printable(s) ||
        (extra != NULL && !name_ok(s, extra))) {
        return bpt_err(BPT_EINVAL, "%s: \"%s\" must be 1..%zu bytes of %s", ctx, key, cap - 1,
                       extra != NULL ? "[a-z0-9] and '-'" : "printable ASCII without spaces");
    }
    snprintf(out, cap, "%s", s);
    return 1;
}

static int cfg_long(long *out, const json_t *o, const char *key, long lo, long hi, const char *ctx)
{
    int64_t v = 0;
    int rc = bpt_json_get_i64(o, key, &v, false, ctx);
    if (rc <= 0) {
        return rc;
    }
    if (v < lo || v > hi) {
        return bpt_err(BPT_EINVAL, "%s: \"%s\" must be an integer %ld..%ld", ctx, key, lo, hi);
    }
    *out = (long)v;
    return 1;
}

/* One of @p choices (NULL-terminated); absent leaves @p out. */
static int cfg_enum(char *out, size_t cap, const json_t *o, const char *key,
                    const char *const *choices, const char *ctx)
{
    char v[32] = "";
    int rc = cfg_str(v, sizeof(v), o, key, false, NULL, ctx);
    if (rc <= 0) {
        return rc;
    }
    for (size_t i = 0; choices[i] != NULL; i++) {
        if (strcmp(v, choices[i]) == 0) {
            snprintf(out, cap, "%s", v);
            return 1;
        }
    }
    return bpt_err(BPT_EINVAL, "%s: \"%s\" is one of %s%s%s%s%s", ctx, key, choices[0],
                   choices[1] ? ", " : "", choices[1] ? choices[1] : "",
                   choices[1] && choices[2] ? ", " : "",
                   choices[1] && choices[2] ? choices[2] : "");
}

static bool digest_ok(const char *d)
{
    if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64) {
        return false;
    }
    for (const char *p = d + 7; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return false;
        }
    }
    return true;
}

static int cfg_fields(struct config *c, const json_t *o, const char *ctx)
{
    static const char *const types[] = {"SEV_SNP", "TDX", NULL};
    static const char *const addresses[] = {"private", "public", NULL};
    static const char *const schemes[] = {"https", "http", NULL};
    static const char *const restarts[] = {"Never", "Always", "OnFailure", NULL};
    char address[16] = "private", scheme[8] = "https";
    long v;
    int rc;

    BPT_CHECK(cfg_str(c->project, sizeof(c->project), o, "project", false, "-", ctx));
    BPT_CHECK(cfg_str(c->zone, sizeof(c->zone), o, "zone", true, "-", ctx));
    BPT_CHECK(cfg_str(c->machine_type, sizeof(c->machine_type), o, "machine_type", true, "-", ctx));
    snprintf(c->confidential_type, sizeof(c->confidential_type), "SEV_SNP");
    BPT_CHECK(cfg_enum(c->confidential_type, sizeof(c->confidential_type), o,
                       "confidential_instance_type", types, ctx));
    snprintf(c->source_image, sizeof(c->source_image), "%s", DEFAULT_IMAGE);
    BPT_CHECK(
        cfg_str(c->source_image, sizeof(c->source_image), o, "source_image", false, NULL, ctx));
    BPT_CHECK(cfg_str(c->image_repository, sizeof(c->image_repository), o, "image_repository", true,
                      NULL, ctx));
    size_t rl = strlen(c->image_repository);
    while (rl > 1 && c->image_repository[rl - 1] == '/') {
        c->image_repository[--rl] = '\0';
    }
    BPT_CHECK(cfg_str(c->service_account, sizeof(c->service_account), o, "service_account", false,
                      NULL, ctx));
    BPT_CHECK(cfg_str(c->subnetwork, sizeof(c->subnetwork), o, "subnetwork", false, NULL, ctx));
    BPT_CHECK(cfg_str(c->audience, sizeof(c->audience), o, "audience", true, NULL, ctx));
    BPT_CHECK(
        cfg_str(c->image_digest, sizeof(c->image_digest), o, "image_digest", false, NULL, ctx));
    if (c->image_digest[0] != '\0' && !digest_ok(c->image_digest)) {
        rc = bpt_err(BPT_EINVAL, "%s: \"image_digest\" must be sha256: and 64 lowercase hex digits",
                     ctx);
        goto out;
    }
    snprintf(c->restart_policy, sizeof(c->restart_policy), "Never");
    BPT_CHECK(
        cfg_enum(c->restart_policy, sizeof(c->restart_policy), o, "restart_policy", restarts, ctx));
    BPT_CHECK(cfg_str(c->credentials_file, sizeof(c->credentials_file), o, "credentials_file",
                      false, NULL, ctx));
    BPT_CHECK(cfg_str(c->endpoint, sizeof(c->endpoint), o, "endpoint", false, NULL, ctx));
    BPT_CHECK(cfg_enum(address, sizeof(address), o, "address", addresses, ctx));
    c->public_address = strcmp(address, "public") == 0;
    BPT_CHECK(cfg_enum(scheme, sizeof(scheme), o, "plane_scheme", schemes, ctx));
    c->plane_https = strcmp(scheme, "https") == 0;
    json_t *cmd = NULL;
    BPT_CHECK(bpt_json_get_arr(o, "serve_command", &cmd, false, ctx));
    if (cmd != NULL) {
        if (json_array_size(cmd) == 0 || json_array_size(cmd) > MAX_CMD) {
            rc = bpt_err(BPT_EINVAL, "%s: \"serve_command\" must hold 1..%d strings", ctx, MAX_CMD);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(cmd); i++) {
            const char *s = json_string_value(json_array_get(cmd, i));
            if (s == NULL || s[0] == '\0' || strlen(s) >= sizeof(c->serve_cmd[0]) ||
                !printable(s)) {
                rc = bpt_err(BPT_EINVAL,
                             "%s: \"serve_command\"[%zu] must be 1..%zu bytes of "
                             "printable ASCII without spaces",
                             ctx, i, sizeof(c->serve_cmd[0]) - 1);
                goto out;
            }
            snprintf(c->serve_cmd[c->n_serve_cmd++], sizeof(c->serve_cmd[0]), "%s", s);
        }
    } else {
        snprintf(c->serve_cmd[0], sizeof(c->serve_cmd[0]), "bpt");
        snprintf(c->serve_cmd[1], sizeof(c->serve_cmd[1]), "serve");
        c->n_serve_cmd = 2;
    }
    v = 8787;
    BPT_CHECK(cfg_long(&v, o, "key_exchange_port", 1, 65535, ctx));
    c->port = (unsigned)v;
    v = 600;
    BPT_CHECK(cfg_long(&v, o, "deploy_timeout_s", 1, 3600, ctx));
    c->deploy_timeout_ms = v * 1000;
    v = 60;
    BPT_CHECK(cfg_long(&v, o, "request_timeout_s", 1, 600, ctx));
    c->request_timeout_ms = v * 1000;
    c->poll_base_ms = 1000;
    c->poll_max_ms = 15000;
    BPT_CHECK(cfg_long(&c->poll_base_ms, o, "poll_base_ms", 1, 60000, ctx));
    BPT_CHECK(cfg_long(&c->poll_max_ms, o, "poll_max_ms", 1, 300000, ctx));
    rc = 0;
out:
    return rc;
}

static int load_config(struct config *c, const struct bpt_remote_state *g)
{
    static const char *const known[] = {"schema_version",
                                        "project",
                                        "zone",
                                        "machine_type",
                                        "source_image",
                                        "image_repository",
                                        "service_account",
                                        "subnetwork",
                                        "confidential_instance_type",
                                        "audience",
                                        "image_digest",
                                        "restart_policy",
                                        "credentials_file",
                                        "endpoint",
                                        "address",
                                        "plane_scheme",
                                        "key_exchange_port",
                                        "serve_command",
                                        "deploy_timeout_s",
                                        "request_timeout_s",
                                        "poll_base_ms",
                                        "poll_max_ms",
                                        NULL};
    bpt_buf text = BPT_BUF_INIT(CONFIG_MAX_BYTES);
    json_t *o = NULL;
    char ctx[sizeof(g->config_path) + sizeof(CLOUD ": ")];
    int rc;

    memset(c, 0, sizeof(*c));
    if (g->config_path[0] == '\0') {
        return bpt_err(BPT_EINVAL,
                       CLOUD ": no configuration: set BPT_GCP_CONFIDENTIAL_SPACE_CONFIG "
                             "to its file, or put it at "
                             "STATE_DIR/gcp_confidential_space.json");
    }
    snprintf(ctx, sizeof(ctx), CLOUD ": %s", g->config_path);
    rc = bpt_file_read(&text, g->config_path);
    if (rc == 0) {
        rc = bpt_json_parse(&o, (const char *)text.data, text.len, CLOUD " configuration");
    }
    bpt_buf_dispose(&text);
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ENOTFOUND ? BPT_EINVAL : rc, CLOUD ": configuration");
    }
    if (!json_is_object(o)) {
        rc = bpt_err(BPT_EINVAL, "%s: not a JSON object", ctx);
        goto out;
    }
    BPT_CHECK(bpt_json_check_keys(o, known, ctx));
    BPT_CHECK(bpt_json_check_schema_version(o, ctx));
    BPT_CHECK(cfg_fields(c, o, ctx));
    /* the endpoint: the config's, gcloud's override, Google's */
    if (c->endpoint[0] == '\0') {
        const char *e = getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE");
        if (e == NULL || e[0] == '\0') {
            e = DEFAULT_ENDPOINT;
        }
        if (strlen(e) + 2 > sizeof(c->endpoint)) {
            rc = bpt_err(BPT_EINVAL, CLOUD ": the endpoint URL is over %zu bytes",
                         sizeof(c->endpoint) - 2);
            goto out;
        }
        snprintf(c->endpoint, sizeof(c->endpoint), "%s", e);
    }
    size_t n = strlen(c->endpoint);
    if (n + 1 < sizeof(c->endpoint) && c->endpoint[n - 1] != '/') {
        c->endpoint[n] = '/';
        c->endpoint[n + 1] = '\0';
    }
    if (!bpt_http_url_allowed(c->endpoint) || !printable(c->endpoint) ||
        strchr(c->endpoint, '?') != NULL) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": endpoint refused: https://, or http:// to loopback "
                                       "only, without a query");
        goto out;
    }
    if (c->credentials_file[0] == '\0') {
        const char *e = getenv("GOOGLE_APPLICATION_CREDENTIALS");
        if (e == NULL || e[0] == '\0' || strlen(e) >= sizeof(c->credentials_file)) {
            rc = bpt_err(BPT_EINVAL, CLOUD ": no credentials: name a service account key file in "
                                           "the config's \"credentials_file\" or in "
                                           "GOOGLE_APPLICATION_CREDENTIALS");
            goto out;
        }
        snprintf(c->credentials_file, sizeof(c->credentials_file), "%s", e);
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- the service account key and its access token ------------------------------------------ */

struct sa_key {
    char project_id[64];
    char key_id[128];
    char client_email[256];
    char token_uri[256];
    char *pem; /* cleansed and freed by key_dispose */
    size_t pem_len;
};

static void key_dispose(struct sa_key *k)
{
    if (k->pem != NULL) {
        OPENSSL_cleanse(k->pem, k->pem_len);
        free(k->pem);
    }
    OPENSSL_cleanse(k, sizeof(*k));
}

/* Cleanse the text of @p o's string member @p key (a secret inside jansson's copy). */
static void cleanse_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) {
        OPENSSL_cleanse((void *)json_string_value(v), json_string_length(v));
    }
}

static int key_str(char *out, size_t cap, const json_t *o, const char *key, const char *ctx)
{
    const char *s = NULL;
    int rc = bpt_json_get_str(o, key, &s, true, ctx);
    if (rc < 0) {
        return rc;
    }
    if (s[0] == '\0' || strlen(s) >= cap || !printable(s)) {
        return bpt_err(BPT_EINVAL, "%s: \"%s\" must be 1..%zu bytes of printable ASCII", ctx, key,
                       cap - 1);
    }
    snprintf(out, cap, "%s", s);
    return 0;
}

static int load_key(struct sa_key *k, const char *path)
{
    bpt_buf text = BPT_BUF_INIT(KEY_FILE_MAX);
    json_t *o = NULL;
    const char *type = NULL, *pem = NULL;
    char ctx[4200];
    int rc;

    memset(k, 0, sizeof(*k));
    snprintf(ctx, sizeof(ctx), CLOUD ": service account key %s", path);
    rc = bpt_file_read(&text, path);
    if (rc == 0) {
        rc = bpt_json_parse(&o, (const char *)text.data, text.len, "service account key");
    }
    bpt_buf_dispose(&text);
    if (rc < 0) {
        rc = bpt_err_prefix(rc == BPT_ENOTFOUND ? BPT_EINVAL : rc, "%s", ctx);
        goto out;
    }
    if (!json_is_object(o)) {
        rc = bpt_err(BPT_EINVAL, "%s: not a JSON object", ctx);
        goto out;
    }
    BPT_CHECK(bpt_json_get_str(o, "type", &type, true, ctx));
    if (strcmp(type, "service_account") != 0) {
        rc = bpt_err(BPT_EINVAL, "%s: \"type\" is \"%.40s\", not \"service_account\"", ctx, type);
        goto out;
    }
    BPT_CHECK(key_str(k->project_id, sizeof(k->project_id), o, "project_id", ctx));
    BPT_CHECK(key_str(k->key_id, sizeof(k->key_id), o, "private_key_id", ctx));
    BPT_CHECK(key_str(k->client_email, sizeof(k->client_email), o, "client_email", ctx));
    BPT_CHECK(key_str(k->token_uri, sizeof(k->token_uri), o, "token_uri", ctx));
    if (!bpt_http_url_allowed(k->token_uri)) {
        rc = bpt_err(BPT_EINVAL, "%s: token_uri refused: https://, or http:// to loopback only",
                     ctx);
        goto out;
    }
    BPT_CHECK(bpt_json_get_str(o, "private_key", &pem, true, ctx));
    k->pem_len = strlen(pem);
    if ((k->pem = malloc(k->pem_len + 1)) == NULL) {
        rc = bpt_err_nomem(CLOUD ": service account key");
        goto out;
    }
    memcpy(k->pem, pem, k->pem_len + 1);
    rc = 0;
out:
    cleanse_member(o, "private_key");
    json_decref(o);
    return rc;
}

/* base64url(header).base64url(claims).base64url(RS256 signature) into @p out (freed by caller,
 * cleansed). */
static int make_assertion(char **out, const struct sa_key *k)
{
    json_t *hdr = NULL, *claims = NULL;
    bpt_buf jwt = BPT_BUF_INIT(16384);
    EVP_PKEY *pkey = NULL;
    int64_t now = (int64_t)time(NULL);
    size_t len = 0;
    int rc;

    *out = NULL;
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", k->key_id);
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", k->client_email, "scope", SCOPE, "aud",
                       k->token_uri, "iat", (json_int_t)now, "exp", (json_int_t)(now + 3600));
    if (hdr == NULL || claims == NULL) {
        rc = bpt_err_nomem(CLOUD ": assertion");
        goto out;
    }
    /* an encrypted key is refused, never a passphrase prompt (Google's keys are not) */
    BPT_CHECK(bpt_pem_private_key(&pkey, k->pem, k->pem_len,
                                  CLOUD ": service account key: \"private_key\""));
    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": service account key: \"private_key\" is no RSA key");
        goto out;
    }
    BPT_CHECK(bpt_remote_jwt_rs256(&jwt, hdr, claims, pkey, CLOUD ": the token request"));
    BPT_CHECK(bpt_buf_detach((uint8_t **)out, &len, &jwt)); /* NUL-terminated */
out:
    EVP_PKEY_free(pkey);
    json_decref(hdr);
    json_decref(claims);
    bpt_buf_dispose(&jwt);
    return rc;
}

/* ---- Compute Engine requests -------------------------------------------------------------- */

struct gce {
    struct config cfg;
    struct sa_key key;
    char auth[TOKEN_MAX + 32]; /* "Authorization: Bearer TOKEN" */
};

static void gce_close(struct gce *g)
{
    key_dispose(&g->key);
    OPENSSL_cleanse(g->auth, sizeof(g->auth));
}

/* Answers Google's APIs ask to retry later: throttling, quota rate limits, server errors. */
static bool retryable(long status, const char *reason)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
           (status == 403 && (strcmp(reason, "rateLimitExceeded") == 0 ||
                              strcmp(reason, "userRateLimitExceeded") == 0));
}

/* The access token for the key: POST the assertion to token_uri. */
static int fetch_token(struct gce *g)
{
    static const char prefix[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                                 "&assertion=";
    char *assertion = NULL, *form = NULL;
    bpt_buf body = BPT_BUF_INIT(TOKEN_ANSWER_MAX), ra = BPT_BUF_INIT(64);
    const char *capture[] = {"Retry-After"};
    json_t *o = NULL;
    struct bpt_remote_backoff b;
    size_t form_len = 0;
    int rc;

    OPENSSL_cleanse(g->auth, sizeof(g->auth));
    BPT_CHECK(make_assertion(&assertion, &g->key));
    form_len = strlen(prefix) + strlen(assertion);
    if ((form = malloc(form_len + 1)) == NULL) {
        rc = bpt_err_nomem(CLOUD ": token request");
        goto out;
    }
    snprintf(form, form_len + 1, "%s%s", prefix, assertion);
    bpt_remote_backoff_init(&b, g->cfg.request_timeout_ms, g->cfg.poll_base_ms, g->cfg.poll_max_ms);
    for (;;) {
        struct bpt_http_request req = {
            .method = BPT_HTTP_POST,
            .url = g->key.token_uri,
            .content_type = "application/x-www-form-urlencoded",
            .body = (const uint8_t *)form,
            .body_len = form_len,
            .timeout_ms = g->cfg.request_timeout_ms,
            .capture = capture,
            .n_capture = 1,
        };
        struct bpt_http_response resp = {.body = &body, .values = &ra};
        bpt_buf_reset(&body); /* cleansed: an earlier answer may have held a token */
        bool again = false;
        if ((rc = bpt_remote_send(&again, &resp, &req, &b, CLOUD, "OAuth2 token")) < 0) {
            goto out;
        }
        if (again) {
            continue;
        }
        json_decref(o);
        o = NULL;
        const char *err = NULL, *desc = NULL, *tok = NULL, *type = NULL;
        if (bpt_json_parse(&o, (const char *)body.data, body.len, "token answer") < 0 ||
            !json_is_object(o)) {
            json_decref(o);
            o = NULL;
        }
        if (resp.status != 200) {
            if (o != NULL) {
                err = json_string_value(json_object_get(o, "error"));
                desc = json_string_value(json_object_get(o, "error_description"));
            }
            char code[64];
            snprintf(code, sizeof(code), "%s", err != NULL ? err : "");
            if (code[0] == '\0') {
                snprintf(code, sizeof(code), "HTTP %ld", resp.status);
            }
            desc = desc != NULL ? desc : "an answer without an OAuth2 error";
            if (retryable(resp.status, "")) {
                if ((rc = bpt_remote_throttled(&b, &ra, CLOUD, "OAuth2 token", code, desc)) == 0) {
                    continue;
                }
                goto out;
            }
            rc = bpt_remote_cloud_error(BPT_EINVAL, CLOUD, "OAuth2 token", code, desc);
            goto out;
        }
        if (o == NULL || (tok = json_string_value(json_object_get(o, "access_token"))) == NULL ||
            tok[0] == '\0' || strlen(tok) >= TOKEN_MAX || !printable(tok) ||
            (type = json_string_value(json_object_get(o, "token_type"))) == NULL ||
            strcasecmp(type, "Bearer") != 0) {
            rc = bpt_err(BPT_EPROTOCOL,
                         CLOUD ": OAuth2 token: the answer holds no Bearer "
                               "access_token of 1..%d printable bytes",
                         TOKEN_MAX - 1);
            goto out;
        }
        snprintf(g->auth, sizeof(g->auth), "Authorization: Bearer %s", tok);
        rc = 0;
        goto out;
    }
out:
    cleanse_member(o, "access_token");
    json_decref(o);
    if (assertion != NULL) {
        OPENSSL_cleanse(assertion, strlen(assertion));
    }
    free(assertion);
    if (form != NULL) {
        OPENSSL_cleanse(form, form_len);
    }
    free(form);
    bpt_buf_dispose(&body); /* cleansed */
    bpt_buf_dispose(&ra);
    return rc;
}

static int gce_open(struct gce *g, const struct bpt_remote_state *a)
{
    memset(g, 0, sizeof(*g));
    int rc = load_config(&g->cfg, a);
    if (rc == 0) {
        rc = load_key(&g->key, g->cfg.credentials_file);
    }
    if (rc == 0 && g->cfg.project[0] == '\0') {
        snprintf(g->cfg.project, sizeof(g->cfg.project), "%s", g->key.project_id);
        if (!name_ok(g->cfg.project, "-")) {
            rc = bpt_err(BPT_EINVAL, CLOUD ": the key's project_id is no project id: name "
                                           "\"project\" in the config");
        }
    }
    if (rc == 0 && g->cfg.service_account[0] == '\0') {
        snprintf(g->cfg.service_account, sizeof(g->cfg.service_account), "%s", g->key.client_email);
    }
    if (rc == 0) {
        rc = fetch_token(g);
    }
    return rc;
}

/* Google's error: {"error":{"code":N,"message":"..","errors":[{"reason":".."}],"status":".."}} */
struct gerr {
    char code[96];
    char reason[64];
    char message[512];
};

static void parse_gerr(struct gerr *e, const bpt_buf *body, long status)
{
    json_t *o = NULL;
    memset(e, 0, sizeof(*e));
    if (bpt_json_parse(&o, (const char *)body->data, body->len, "error answer") == 0) {
        json_t *err = json_object_get(o, "error");
        const char *st = json_string_value(json_object_get(err, "status"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        const char *reason = json_string_value(
            json_object_get(json_array_get(json_object_get(err, "errors"), 0), "reason"));
        snprintf(e->reason, sizeof(e->reason), "%s", reason != NULL ? reason : "");
        if (st != NULL || reason != NULL) {
            snprintf(e->code, sizeof(e->code), "%.40s%s%.40s", st != NULL ? st : "",
                     st != NULL && reason != NULL ? "/" : "", reason != NULL ? reason : "");
        }
        snprintf(e->message, sizeof(e->message), "%s", msg != NULL ? msg : "");
    }
    json_decref(o);
    bpt_error_clear();
    if (e->code[0] == '\0') {
        snprintf(e->code, sizeof(e->code), "HTTP %ld", status);
        snprintf(e->message, sizeof(e->message), "an answer without a Google API error");
    }
}

/*
 * One Compute call: @p method on endpoint + @p path, @p body JSON (POST) or NULL; the 2xx
 * answer's JSON into *@p out (NULL when not wanted). *@p status gets the final HTTP status;
 * a 404 or 409 is BPT_ENOTFOUND / BPT_EEXISTS with Google's error as the message, for callers
 * to whom they mean "gone" or "already there".
 */
static int gce_call(json_t **out, long *status, struct gce *g, bpt_http_method method,
                    const char *path, const json_t *body, const char *what)
{
    char url[1024], *text = NULL;
    bpt_buf ans = BPT_BUF_INIT(ANSWER_MAX), ra = BPT_BUF_INIT(64);
    const char *capture[] = {"Retry-After"};
    struct bpt_remote_backoff b;
    bool refreshed = false;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    *status = 0;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", g->cfg.endpoint, path) >= sizeof(url)) {
        return bpt_err(BPT_ELIMIT, CLOUD ": %s: URL over %zu bytes", what, sizeof(url) - 1);
    }
    if (body != NULL && (rc = bpt_json_dump(&text, body)) < 0) {
        return rc;
    }
    bpt_remote_backoff_init(&b, g->cfg.request_timeout_ms, g->cfg.poll_base_ms, g->cfg.poll_max_ms);
    for (;;) {
        const char *headers[] = {g->auth};
        struct bpt_http_request req = {
            .method = method,
            .url = url,
            .content_type = "application/json",
            .headers = headers,
            .n_headers = 1,
            .body = (const uint8_t *)text,
            .body_len = text != NULL ? strlen(text) : 0,
            .timeout_ms = g->cfg.request_timeout_ms,
            .capture = capture,
            .n_capture = 1,
        };
        struct bpt_http_response resp = {.body = &ans, .values = &ra};
        struct gerr e;
        ans.len = 0;
        bool again = false;
        if ((rc = bpt_remote_send(&again, &resp, &req, &b, CLOUD, what)) < 0) {
            goto out;
        }
        if (again) {
            continue;
        }
        *status = resp.status;
        if (resp.status >= 200 && resp.status < 300) {
            if (out != NULL) {
                rc = bpt_json_parse(out, (const char *)ans.data, ans.len, "Compute answer");
                if (rc == 0 && !json_is_object(*out)) {
                    json_decref(*out);
                    *out = NULL;
                    rc = bpt_err(BPT_EPROTOCOL, CLOUD ": %s: the answer is no JSON object", what);
                } else if (rc < 0) {
                    bpt_err_prefix(BPT_EPROTOCOL, CLOUD ": %s", what);
                    rc = BPT_EPROTOCOL;
                }
            }
            goto out;
        }
        parse_gerr(&e, &ans, resp.status);
        if (resp.status == 401 && !refreshed) {
            /* an access token expired (they live an hour): one fresh token, then refusal */
            refreshed = true;
            if ((rc = fetch_token(g)) < 0) {
                goto out;
            }
            BPT_LOG(BPT_LOG_INFO, "runtime", CLOUD ": %s: a fresh access token after %s", what,
                    e.code);
            continue;
        }
        if (retryable(resp.status, e.reason)) {
            if ((rc = bpt_remote_throttled(&b, &ra, CLOUD, what, e.code, e.message)) == 0) {
                continue;
            }
            goto out;
        }
        rc = bpt_remote_cloud_error(resp.status == 404   ? BPT_ENOTFOUND
                                    : resp.status == 409 ? BPT_EEXISTS
                                    : resp.status == 401 ? BPT_EEXPIRED
                                                         : BPT_EINVAL,
                                    CLOUD, what, e.code, e.message);
        goto out;
    }
out:
    bpt_free(text);
    bpt_buf_dispose(&ans);
    bpt_buf_dispose(&ra);
    return rc;
}

/* ---- instances and operations ------------------------------------------------------------- */

struct instance {
    char status[24]; /* PENDING, PROVISIONING, STAGING, RUNNING, STOPPING, DEPROVISIONING,
                        STOPPED, SUSPENDING, SUSPENDED, REPAIRING, TERMINATED; "" absent */
    char private_ip[64];
    char public_ip[64];
};

static void instance_name(char out[32], const char *id)
{
    snprintf(out, 32, "bpt-%.16s", id);
    for (char *p = out; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
}

static int zone_path(char *out, size_t cap, const struct gce *g, const char *rest)
{
    if ((size_t)snprintf(out, cap, "projects/%s/zones/%s/%s", g->cfg.project, g->cfg.zone, rest) >=
        cap) {
        return bpt_err(BPT_ELIMIT, CLOUD ": a resource path over %zu bytes", cap - 1);
    }
    return 0;
}

static void copy_str(char *out, size_t cap, const json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(out, cap, "%s", s != NULL && strlen(s) < cap ? s : "");
}

/* instances.get: *found false on 404. */
static int get_instance(struct instance *in, bool *found, struct gce *g, const char *id)
{
    char name[32], rest[64], path[512];
    json_t *o = NULL;
    long status = 0;
    int rc;

    memset(in, 0, sizeof(*in));
    *found = false;
    instance_name(name, id);
    snprintf(rest, sizeof(rest), "instances/%s", name);
    BPT_CHECK(zone_path(path, sizeof(path), g, rest));
    rc = gce_call(&o, &status, g, BPT_HTTP_GET, path, NULL, "instances.get");
    if (rc == BPT_ENOTFOUND) {
        bpt_error_clear();
        rc = 0;
        goto out;
    }
    if (rc < 0) {
        goto out;
    }
    copy_str(in->status, sizeof(in->status), json_object_get(o, "status"));
    if (in->status[0] == '\0') {
        rc = bpt_err(BPT_EPROTOCOL, CLOUD ": instances.get: instance %s has no status", name);
        goto out;
    }
    json_t *nic = json_array_get(json_object_get(o, "networkInterfaces"), 0);
    copy_str(in->private_ip, sizeof(in->private_ip), json_object_get(nic, "networkIP"));
    copy_str(in->public_ip, sizeof(in->public_ip),
             json_object_get(json_array_get(json_object_get(nic, "accessConfigs"), 0), "natIP"));
    *found = true;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

static bool is(const struct instance *in, const char *status)
{
    return strcmp(in->status, status) == 0;
}

/* On its way to TERMINATED: STOPPING, then DEPROVISIONING (resources released). */
static bool stopping(const struct instance *in)
{
    return is(in, "STOPPING") || is(in, "DEPROVISIONING");
}

/*
 * Wait for the operation @p op (a Compute Operation answer) to be DONE within @p budget_ms.
 * Its error (errors[0].code, message) is carried (*@p failed set): RESOURCE_ALREADY_EXISTS is
 * BPT_EEXISTS, an httpErrorStatusCode of 429 or 503 BPT_EBUSY, any other BPT_EINVAL.
 */
static int wait_operation(struct gce *g, json_t *op, const char *what, long budget_ms, bool *failed)
{
    struct bpt_remote_backoff b;
    char name[128], rest[192], path[512];
    json_t *cur = json_incref(op);
    int rc;

    /* polled by name at our endpoint (never its selfLink): [a-z0-9-] keeps it one path segment */
    copy_str(name, sizeof(name), json_object_get(op, "name"));
    if (name[0] == '\0' || !name_ok(name, "-")) {
        rc = bpt_err(BPT_EPROTOCOL,
                     CLOUD ": %s: the answer is no operation with a name of 1..%zu bytes of "
                           "[a-z0-9-]",
                     what, sizeof(name) - 1);
        goto out;
    }
    snprintf(rest, sizeof(rest), "operations/%s", name);
    BPT_CHECK(zone_path(path, sizeof(path), g, rest));
    bpt_remote_backoff_init(&b, budget_ms, g->cfg.poll_base_ms, g->cfg.poll_max_ms);
    for (;;) {
        char status[16];
        copy_str(status, sizeof(status), json_object_get(cur, "status"));
        if (strcmp(status, "DONE") == 0) {
            json_t *error = json_object_get(cur, "error");
            json_t *err = json_array_get(json_object_get(error, "errors"), 0);
            if (err == NULL && error != NULL && !json_is_null(error)) {
                /* an error we cannot read is still an error: fail closed */
                if (failed != NULL) {
                    *failed = true;
                }
                rc = bpt_err(BPT_EPROTOCOL,
                             CLOUD ": %s: operation %s is DONE with an \"error\" that holds no "
                                   "errors[0] {code, message}: taken as failed",
                             what, name);
                goto out;
            }
            if (err != NULL) {
                const char *code = json_string_value(json_object_get(err, "code"));
                const char *msg = json_string_value(json_object_get(err, "message"));
                bool exists = code != NULL && strcmp(code, "RESOURCE_ALREADY_EXISTS") == 0;
                /* 429/503 (ZONE_RESOURCE_POOL_EXHAUSTED, quota): try again later */
                json_int_t http = json_integer_value(json_object_get(cur, "httpErrorStatusCode"));
                if (failed != NULL) {
                    *failed = !exists;
                }
                rc = bpt_remote_cloud_error(exists                       ? BPT_EEXISTS
                                            : http == 429 || http == 503 ? BPT_EBUSY
                                                                         : BPT_EINVAL,
                                            CLOUD, what, code,
                                            msg != NULL ? msg : "the operation failed");
                goto out;
            }
            rc = 0;
            goto out;
        }
        if (strcmp(status, "PENDING") != 0 && strcmp(status, "RUNNING") != 0) {
            rc = bpt_err(BPT_EPROTOCOL, CLOUD ": %s: operation %s has status '%.16s'", what, name,
                         status);
            goto out;
        }
        if (bpt_remote_backoff_wait(&b, -1, CLOUD) < 0) {
            rc = bpt_err(BPT_EBUSY,
                         CLOUD ": %s: operation %s still %s when the deadline passed (%ld s); it "
                               "is left as it is: deploy the same spec again to resume, or "
                               "destroy it",
                         what, name, status, budget_ms / 1000);
            goto out;
        }
        long http = 0;
        json_decref(cur);
        cur = NULL;
        BPT_CHECK(gce_call(&cur, &http, g, BPT_HTTP_GET, path, NULL, "zoneOperations.get"));
    }
out:
    json_decref(cur);
    return rc;
}

/* POST/DELETE an instance action and wait for its operation. */
static int instance_action(struct gce *g, const char *id, bpt_http_method method, const char *verb,
                           const char *what, long budget_ms)
{
    char name[32], rest[96], path[512];
    json_t *op = NULL;
    long status = 0;
    int rc;
    instance_name(name, id);
    snprintf(rest, sizeof(rest), "instances/%s%s%s", name, verb[0] ? "/" : "", verb);
    BPT_CHECK(zone_path(path, sizeof(path), g, rest));
    BPT_CHECK(gce_call(&op, &status, g, method, path, NULL, what));
    rc = wait_operation(g, op, what, budget_ms, NULL);
out:
    json_decref(op);
    return rc;
}

/*
 * The insert's requestId: a UUID (version 8, RFC 9562) from SHA-256 of the deployment id and
 * its insert generation. Compute answers a repeated requestId with the first request's
 * operation for about an hour, so a retried insert is the same request; an insert whose
 * operation failed is finished, and the next deploy's insert must be a new request: the
 * generation (a file in the deployment's directory) counts those failures.
 */
static void request_id(char out[37], const char *id, unsigned gen)
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    char hex[33], seed[64];
    snprintf(seed, sizeof(seed), "bpt gce insert %.16s %u", id, gen);
    SHA256((const uint8_t *)seed, strlen(seed), md);
    md[6] = (uint8_t)((md[6] & 0x0f) | 0x80);
    md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
    bpt_hex_encode_to(hex, md, 16);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static unsigned insert_generation(const bpt_backend_deployment *d, bool next)
{
    char path[4200];
    unsigned gen = 0;
    if (d->dir == NULL) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/gcp-insert-generation", d->dir);
    FILE *fp = fopen(path, "r");
    if (fp != NULL) {
        if (fscanf(fp, "%u", &gen) != 1 || gen > 1000000) {
            gen = 0;
        }
        fclose(fp);
    }
    if (next && (fp = fopen(path, "w")) != NULL) {
        gen++;
        fprintf(fp, "%u\n", gen);
        fclose(fp);
    }
    return gen;
}

/* tee-cmd: the serve command, --audience AUD --listen 0.0.0.0:PORT, as a JSON array's text. */
static int tee_cmd(char **out, const struct config *c)
{
    char listen[32];
    json_t *a = json_array();
    int rc = a != NULL ? 0 : bpt_err_nomem(CLOUD);
    snprintf(listen, sizeof(listen), "0.0.0.0:%u", c->port);
    for (size_t i = 0; rc == 0 && i < c->n_serve_cmd; i++) {
        rc = json_array_append_new(a, json_string(c->serve_cmd[i])) == 0 ? 0 : bpt_err_nomem(CLOUD);
    }
    const char *tail[] = {"--audience", c->audience, "--listen", listen};
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        rc = json_array_append_new(a, json_string(tail[i])) == 0 ? 0 : bpt_err_nomem(CLOUD);
    }
    if (rc == 0) {
        rc = bpt_json_dump(out, a);
    }
    json_decref(a);
    return rc;
}

static json_t *insert_body(const struct gce *g, const bpt_backend_deployment *d, const char *cmd,
                           const char *image)
{
    const struct config *c = &g->cfg;
    char name[32], mt[160];
    instance_name(name, d->id);
    snprintf(mt, sizeof(mt), "zones/%s/machineTypes/%s", c->zone, c->machine_type);
    json_t *nic = json_pack("{}");
    if (nic != NULL && c->subnetwork[0] != '\0') {
        json_object_set_new(nic, "subnetwork", json_string(c->subnetwork));
    }
    if (nic != NULL && c->public_address) {
        json_object_set_new(
            nic, "accessConfigs",
            json_pack("[{s:s, s:s}]", "type", "ONE_TO_ONE_NAT", "name", "External NAT"));
    }
    if (nic == NULL) {
        return NULL;
    }
    /* labels: lowercase letters, digits, '-' and '_' (the name's id is lowercased) */
    return json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:s, s:b}, s:{s:b, s:b, s:b},"
        " s:[{s:b, s:b, s:{s:s}}], s:{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]},"
        " s:[{s:s, s:[s]}], s:[o], s:{s:s}}",
        "name", name, "machineType", mt, "confidentialInstanceConfig", "confidentialInstanceType",
        c->confidential_type, "scheduling", "onHostMaintenance", "TERMINATE", "automaticRestart", 0,
        "shieldedInstanceConfig", "enableSecureBoot", 1, "enableVtpm", 1,
        "enableIntegrityMonitoring", 1, "disks", "boot", 1, "autoDelete", 1, "initializeParams",
        "sourceImage", c->source_image, "metadata", "items", "key", "tee-image-reference", "value",
        image, "key", "tee-restart-policy", "value", c->restart_policy, "key", "tee-cmd", "value",
        cmd, "serviceAccounts", "email", c->service_account, "scopes", SCOPE, "networkInterfaces",
        nic, "labels", "bpt-deployment", name + 4);
}

static int insert_instance(struct gce *g, const bpt_backend_deployment *d)
{
    char rid[37], rest[96], path[512], *cmd = NULL, ref[1600];
    json_t *body = NULL, *op = NULL;
    long status = 0;
    int rc;
    const char *image = bpt_deploy_spec_image(d->spec);

    /* tee-image-reference: the repository, then the spec's image path (/NAME:TAG, /NAME@sha256:..)
     */
    if (image == NULL || image[0] != '/' || strlen(image) < 2 || strlen(image) > 1024 ||
        !printable(image)) {
        return bpt_err(BPT_EINVAL, CLOUD ": the spec's image must be /NAME[:TAG|@sha256:DIGEST] "
                                         "(a path under the config's image_repository), at most "
                                         "1024 bytes without spaces or quotes");
    }
    snprintf(ref, sizeof(ref), "%s%s", g->cfg.image_repository, image);
    request_id(rid, d->id, insert_generation(d, false));
    snprintf(rest, sizeof(rest), "instances?requestId=%s", rid);
    BPT_CHECK(zone_path(path, sizeof(path), g, rest));
    BPT_CHECK(tee_cmd(&cmd, &g->cfg));
    if ((body = insert_body(g, d, cmd, ref)) == NULL) {
        rc = bpt_err_nomem(CLOUD ": instances.insert");
        goto out;
    }
    rc = gce_call(&op, &status, g, BPT_HTTP_POST, path, body, "instances.insert");
    if (rc == BPT_EEXISTS) {
        /* the name is taken: this deployment's instance, from an insert whose requestId
         * Compute no longer remembers: adopt it */
        BPT_LOG(BPT_LOG_INFO, "runtime", CLOUD ": instance for deployment %s already exists",
                d->id);
        bpt_error_clear();
        rc = 0;
        goto out;
    }
    if (rc < 0) {
        goto out;
    }
    bool failed = false;
    rc = wait_operation(g, op, "instances.insert", g->cfg.deploy_timeout_ms, &failed);
    if (rc == BPT_EEXISTS) {
        bpt_error_clear();
        rc = 0;
    } else if (failed) {
        (void)insert_generation(d, true); /* the operation failed: the next insert is new */
    }
out:
    json_decref(op);
    json_decref(body);
    bpt_free(cmd);
    return rc;
}

/* Poll until the instance is RUNNING (or TERMINATED with @p want_stopped) within @p budget_ms. */
static int wait_instance(struct instance *in, struct gce *g, const char *id, bool want_stopped,
                         long budget_ms)
{
    struct bpt_remote_backoff b;
    const char *want = want_stopped ? "TERMINATED" : "RUNNING";
    bpt_remote_backoff_init(&b, budget_ms, g->cfg.poll_base_ms, g->cfg.poll_max_ms);
    for (;;) {
        bool found = false;
        int rc = get_instance(in, &found, g, id);
        if (rc < 0) {
            return rc;
        }
        if (!found) {
            if (want_stopped) {
                return 0;
            }
            return bpt_err(BPT_EPROTOCOL,
                           CLOUD ": the instance of deployment %s is gone (deleted outside "
                                 "bpt?): destroy the deployment and deploy again",
                           id);
        }
        if (is(in, want)) {
            return 0;
        }
        if (!want_stopped && (is(in, "TERMINATED") || stopping(in) || is(in, "STOPPED") ||
                              is(in, "SUSPENDED") || is(in, "SUSPENDING"))) {
            return bpt_err(BPT_EPROTOCOL,
                           CLOUD ": the instance of deployment %s is %s (stopped outside bpt, or "
                                 "its workload exited?): deploy again to start it",
                           id, in->status);
        }
        if (bpt_remote_backoff_wait(&b, -1, CLOUD) < 0) {
            return bpt_err(BPT_EBUSY,
                           CLOUD ": instance bpt-%s still %s, not %s, when the deadline passed "
                                 "(%ld s); it is left as it is: deploy the same spec again to "
                                 "resume, or destroy it",
                           id, in->status, want, budget_ms / 1000);
        }
    }
}

/* ---- the verifier: the runtime's, with the config's audience and image digest -------------- */

/* A digest's hex, without "sha256:" (as the verifier compares them, case-insensitively). */
static const char *digest_hex(const char *d)
{
    return strncasecmp(d, "sha256:", 7) == 0 ? d + 7 : d;
}

static int image_digest_of(char out[72], const struct config *c, const bpt_policy *p)
{
    if (c->image_digest[0] != '\0') {
        if (p != NULL && p->expected_image_digest != NULL &&
            strcasecmp(digest_hex(p->expected_image_digest), digest_hex(c->image_digest)) != 0) {
            return bpt_err(BPT_EINVAL,
                           CLOUD ": the config's image_digest %s and the policy's "
                                 "expected_image_digest %.80s differ: name one",
                           c->image_digest, p->expected_image_digest);
        }
        snprintf(out, 72, "%s", c->image_digest);
        return 0;
    }
    out[0] = '\0';
    if (p != NULL && (p->expected_image_digest != NULL || p->has_expected_measurement)) {
        return 0; /* the policy pins the image */
    }
    return bpt_err(BPT_EINVAL, CLOUD ": no image digest to expect: name \"image_digest\" "
                                     "(sha256:...) in the config, or expected_image_digest in "
                                     "the policy; any container could otherwise answer for "
                                     "this audience");
}

static int workload_verifier(bpt_verifier **out, const struct bpt_remote_state *a,
                             const struct config *c)
{
    const bpt_policy *p = NULL;
    bpt_policy *mine = NULL;
    char digest[72];
    int rc;

    *out = NULL; /* a->verifier: runtime.c refuses before any backend call without one */
    p = bpt_verifier_policy(a->verifier);
    if (p != NULL && p->expected_audience != NULL &&
        strcmp(p->expected_audience, c->audience) != 0) {
        return bpt_err(BPT_EINVAL,
                       CLOUD ": the config's audience '%.120s' and the policy's expected_audience "
                             "'%.120s' differ: name one",
                       c->audience, p->expected_audience);
    }
    BPT_CHECK(image_digest_of(digest, c, p));
    BPT_CHECK(p != NULL ? bpt_policy_clone(&mine, p) : bpt_policy_new(&mine));
    BPT_CHECK(bpt_policy_set_expected_audience(mine, c->audience));
    if (digest[0] != '\0') {
        BPT_CHECK(bpt_policy_set_expected_image_digest(mine, digest));
    }
    /* the runtime's context (frozen already; the new verifier takes a reference) */
    bpt_verify_ctx *ctx = (bpt_verify_ctx *)(uintptr_t)bpt_verifier_ctx(a->verifier);
    BPT_CHECK(bpt_verifier_new(out, ctx, mine));
    rc = 0;
out:
    bpt_policy_free(mine);
    return rc;
}

/* ---- the backend -------------------------------------------------------------------------- */

static int gcp_init(void **state, const bpt_backend_env *env, void *userdata)
{
    (void)userdata;
    return bpt_remote_init(state, env, "BPT_GCP_CONFIDENTIAL_SPACE_CONFIG",
                           "gcp_confidential_space.json");
}

/* Open @p g (closed by the caller in any case) and get the deployment's instance. */
static int open_get(struct gce *g, struct instance *in, bool *found,
                    const struct bpt_remote_state *a, const char *id)
{
    *found = false;
    int rc = gce_open(g, a);
    return rc < 0 ? rc : get_instance(in, found, g, id);
}

static int gcp_deploy(void *state, const bpt_backend_deployment *d)
{
    struct gce g;
    struct instance in;
    bool found = false;
    int rc;

    if ((rc = open_get(&g, &in, &found, state, d->id)) < 0) {
        goto out;
    }
    if (!found) {
        rc = insert_instance(&g, d);
    } else if (stopping(&in) || is(&in, "TERMINATED")) {
        if ((rc = wait_instance(&in, &g, d->id, true, g.cfg.deploy_timeout_ms)) == 0) {
            rc = instance_action(&g, d->id, BPT_HTTP_POST, "start", "instances.start",
                                 g.cfg.deploy_timeout_ms);
        }
    } else if (is(&in, "SUSPENDED")) {
        rc = instance_action(&g, d->id, BPT_HTTP_POST, "resume", "instances.resume",
                             g.cfg.deploy_timeout_ms);
    } else {
        rc = 0; /* PENDING, PROVISIONING, STAGING, RUNNING, REPAIRING: wait for it to run */
    }
    if (rc == 0) {
        rc = wait_instance(&in, &g, d->id, false, g.cfg.deploy_timeout_ms);
    }
out:
    gce_close(&g);
    return rc;
}

/* The plane's base URL, and (@p v not NULL) the verifier that expects the config's audience and
 * image. */
static int plane(char *url, size_t cap, bpt_verifier **v, const struct bpt_remote_state *a,
                 const char *id)
{
    struct gce g;
    struct instance in;
    bool found = false;
    int rc;

    if (v != NULL) {
        *v = NULL;
    }
    if ((rc = gce_open(&g, a)) < 0 || (v != NULL && (rc = workload_verifier(v, a, &g.cfg)) < 0) ||
        (rc = get_instance(&in, &found, &g, id)) < 0) {
        goto out;
    }
    if (!found || !is(&in, "RUNNING")) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": deployment %s is not running (instance %s)", id,
                     found ? in.status : "absent");
        goto out;
    }
    const char *addr = g.cfg.public_address ? in.public_ip : in.private_ip;
    if (!bpt_remote_plane_url(url, cap, g.cfg.plane_https, addr, g.cfg.port)) {
        rc = bpt_err(BPT_EPROTOCOL, CLOUD ": instance bpt-%s reports no %s IP address", id,
                     g.cfg.public_address ? "public (natIP)" : "private (networkIP)");
        goto out;
    }
    rc = 0;
out:
    gce_close(&g);
    if (rc < 0 && v != NULL) {
        bpt_verifier_free(*v);
        *v = NULL;
    }
    return rc;
}

/* Where a sealing client reaches the workload (bpt_runtime_plane_url(); its own verifier then
 * needs the config's audience and image digest in its policy). */
static int gcp_plane_url(char *out, size_t cap, void *state, const bpt_backend_deployment *d)
{
    return plane(out, cap, NULL, state, d->id);
}

static int gcp_attestation(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                           const uint8_t *nonce, size_t nonce_len)
{
    bpt_verifier *v = NULL;
    char url[160];
    int rc = plane(url, sizeof(url), &v, state, d->id);
    if (rc == 0) {
        rc = bpt_runtime_attest_plane(out, url, NULL, v, nonce, nonce_len);
    }
    bpt_verifier_free(v);
    return rc;
}

static int gcp_public_key(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d)
{
    bpt_verifier *v = NULL;
    char url[160];
    int rc = plane(url, sizeof(url), &v, state, d->id);
    if (rc == 0) {
        rc = bpt_kx_client_session_key(out, url, v, NULL);
    }
    bpt_verifier_free(v);
    return rc;
}

static int gcp_status(bpt_backend_state *out, void *state, const bpt_backend_deployment *d)
{
    struct gce g;
    struct instance in;
    bool found = false;
    int rc = open_get(&g, &in, &found, state, d->id);
    gce_close(&g);
    if (rc < 0) {
        return rc;
    }
    if (!found) {
        *out = BPT_BACKEND_ABSENT;
    } else if (is(&in, "RUNNING")) {
        *out = BPT_BACKEND_RUNNING;
    } else if (is(&in, "PENDING") || is(&in, "PROVISIONING") || is(&in, "STAGING") ||
               is(&in, "REPAIRING")) {
        *out = BPT_BACKEND_CREATED;
    } else {
        /* STOPPING, DEPROVISIONING, STOPPED, SUSPENDING, SUSPENDED, TERMINATED */
        *out = BPT_BACKEND_EXITED;
    }
    return 0;
}

static int gcp_stop(void *state, const bpt_backend_deployment *d)
{
    struct gce g;
    struct instance in;
    bool found = false;
    int rc;
    if ((rc = open_get(&g, &in, &found, state, d->id)) < 0) {
        goto out;
    }
    if (!found || is(&in, "TERMINATED")) {
        rc = 0;
        goto out;
    }
    if (!stopping(&in) && (rc = instance_action(&g, d->id, BPT_HTTP_POST, "stop", "instances.stop",
                                                g.cfg.deploy_timeout_ms)) < 0) {
        goto out;
    }
    rc = wait_instance(&in, &g, d->id, true, g.cfg.deploy_timeout_ms);
out:
    gce_close(&g);
    return rc;
}

static int gcp_destroy(void *state, const bpt_backend_deployment *d)
{
    struct gce g;
    int rc = gce_open(&g, state);
    if (rc == 0) {
        rc = instance_action(&g, d->id, BPT_HTTP_DELETE, "", "instances.delete",
                             g.cfg.deploy_timeout_ms);
        if (rc == BPT_ENOTFOUND) {
            bpt_error_clear();
            rc = 0; /* gone already */
        }
    }
    gce_close(&g);
    return rc;
}

static int gcp_list(void *state, bpt_backend_list_fn fn, void *ud)
{
    (void)state;
    (void)fn;
    (void)ud;
    return bpt_err(BPT_ENOTFOUND,
                   CLOUD ": not listed when the runtime opens (the project may hold other "
                         "stores' instances); status asks Compute Engine per deployment");
}

static const bpt_runtime_backend GCP_CONFIDENTIAL_SPACE = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "gcp_confidential_space",
    .init = gcp_init,
    .cleanup = bpt_remote_cleanup,
    .deploy = gcp_deploy,
    .attestation = gcp_attestation,
    .cached_attestation = NULL,
    .public_key = gcp_public_key,
    .status = gcp_status,
    .stop = gcp_stop,
    .destroy = gcp_destroy,
    .list = gcp_list,
    .plane_url = gcp_plane_url,
};

const bpt_runtime_backend *bpt_runtime_gcp_confidential_space_backend(void)
{
    return &GCP_CONFIDENTIAL_SPACE;
}
