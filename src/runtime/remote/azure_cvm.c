/*
 * The `azure_cvm` backend (DESIGN.md §13, docs/runtime.md "Remote backends"): the workload runs
 * in an Azure confidential VM (AMD SEV-SNP or Intel TDX with a vTPM), through Azure Resource
 * Manager's JSON API (Microsoft.Compute 2024-07-01, Microsoft.Network 2024-05-01):
 *
 * - login: OAuth2 client credentials at the Microsoft identity platform
 *   ({authority}/{tenant}/oauth2/v2.0/token, scope {arm_endpoint}.default) with a client secret
 *   or a certificate (a JWT client assertion signed RS256, its x5t and x5t#S256 naming the
 *   certificate). Tenant, client, secret and certificate come from the Azure SDK's
 *   EnvironmentCredential variables; the config may name the tenant and client, never a secret.
 *   The token lives for one operation and is cleansed after it; a 401 from ARM
 *   (ExpiredAuthenticationToken, ...) fetches a new one once before refusing.
 * - deploy: the VM is named "bpt-" + the deployment id, so the PUT is idempotent by name. GET it;
 *   absent: PUT (securityProfile ConfidentialVM, secure boot + vTPM, the disk's
 *   securityEncryptionType, customData that starts the workload) and poll its
 *   Azure-AsyncOperation (or Location) until done; then GET with $expand=instanceView until
 *   PowerState/running (deallocated or stopped: POST start first). All within the deploy
 *   deadline; past it the VM is left as it is: deploying the same spec again resumes it.
 * - status: GET with instanceView; stop: POST deallocate (polled); destroy: GET (the tag
 *   checked, as for every action), then DELETE (polled; 404 is gone already).
 * - attestation / public key: the key-exchange plane at the configured network interface's
 *   private IP (or its public IP address resource's) and the config's port; the workload's MAA
 *   token binds our fresh nonce and its key and is verified with the runtime's verifier (its
 *   policy names the issuers and keys). Nothing is sent to the workload before that.
 * - list: refused, as aws_nitro's: the subscription may hold other stores' VMs.
 *
 * Every ARM request carries the bearer token, and only to URLs under the configured ARM
 * endpoint (an async operation URL elsewhere is refused). 429, 500, 502, 503 and 504 are
 * retried with back-off honouring Retry-After until the request deadline; other refusals carry
 * ARM's error code and message.
 */
#include "runtime/runtime_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <blueprint-tee/exchange.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/util.h"
#include "runtime/remote/remote.h"

#define CLOUD "azure_cvm"
#define COMPUTE_API "2024-07-01"
#define NETWORK_API "2024-05-01"
#define CONFIG_MAX_BYTES (64u * 1024u)
#define ANSWER_MAX (1024u * 1024u)
#define CERT_FILE_MAX (64u * 1024u)
#define TOKEN_MAX 12288
#define URL_MAX 2048
#define CUSTOM_DATA_MAX (48u * 1024u) /* 64 KiB once in base64 */
#define TAG_KEY "bpt-deployment"
#define DEFAULT_AUTHORITY "https://login.microsoftonline.com/"
#define DEFAULT_ARM "https://management.azure.com/"

/* ---- configuration ------------------------------------------------------------------------ */

struct config {
    char subscription[64], resource_group[96], location[48], vm_size[64];
    char publisher[64], offer[96], sku[96], version[48], image_id[512];
    char encryption[32];
    char admin[64], ssh_key[4096];
    char nic_id[512];
    char arm[256], authority[256], tenant[64], client_id[64];
    bool public_address, plane_https;
    unsigned port;
    long deploy_timeout_ms, request_timeout_ms, poll_base_ms, poll_max_ms;
};

/* A URL into @p out with a trailing '/': the config's, else the environment's, else @p def. */
static int base_url(char *out, size_t cap, const char *env, const char *def, const char *what)
{
    const char *e = env != NULL ? getenv(env) : NULL;
    if (out[0] == '\0') {
        snprintf(out, cap, "%s", e != NULL && e[0] != '\0' ? e : def);
    }
    size_t n = strlen(out);
    if (n + 2 > cap) {
        return bpt_err(BPT_EINVAL, CLOUD ": the %s URL is over %zu bytes", what, cap - 2);
    }
    if (out[n - 1] != '/') {
        out[n] = '/';
        out[n + 1] = '\0';
    }
    if (!bpt_http_url_allowed(out) || strchr(out, '?') != NULL || strchr(out, '#') != NULL) {
        return bpt_err(BPT_EINVAL,
                       CLOUD ": %s URL refused: https://, or http:// to loopback only, without a "
                             "query",
                       what);
    }
    return 0;
}

static int cfg_choice(bool *out, json_t *o, const char *key, const char *yes, const char *no,
                      bool def, const char *path)
{
    char tmp[16] = "";
    int rc = bpt_remote_cfg_string(CLOUD, tmp, sizeof(tmp), o, key, false, NULL, path);
    if (rc < 0) {
        return rc;
    }
    if (tmp[0] != '\0' && strcmp(tmp, yes) != 0 && strcmp(tmp, no) != 0) {
        return bpt_err(BPT_EINVAL, CLOUD ": %s: \"%s\" is \"%s\" or \"%s\"", path, key, yes, no);
    }
    *out = tmp[0] == '\0' ? def : strcmp(tmp, yes) == 0;
    return 0;
}

static int load_image(struct config *c, json_t *o, const char *path)
{
    static const char *const keys[] = {"publisher", "offer", "sku", "version", "id", NULL};
    json_t *img = json_object_get(o, "image");
    char ctx[4300];
    int rc;
    if (!json_is_object(img)) {
        return bpt_err(BPT_EINVAL,
                       CLOUD ": %s: \"image\" is required: an object with publisher, offer, sku "
                             "(and version), or with the id of an image",
                       path);
    }
    snprintf(ctx, sizeof(ctx), CLOUD ": %s: image", path);
    BPT_CHECK(bpt_json_check_keys(img, keys, ctx));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->image_id, sizeof(c->image_id), img, "id", false,
                                    "/._-", path));
    bool has_id = c->image_id[0] != '\0';
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->publisher, sizeof(c->publisher), img, "publisher",
                                    !has_id, "._-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->offer, sizeof(c->offer), img, "offer", !has_id, "._-",
                                    path));
    BPT_CHECK(
        bpt_remote_cfg_string(CLOUD, c->sku, sizeof(c->sku), img, "sku", !has_id, "._-", path));
    snprintf(c->version, sizeof(c->version), "latest");
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->version, sizeof(c->version), img, "version", false,
                                    "._-", path));
    if (has_id && c->publisher[0] != '\0') {
        rc = bpt_err(BPT_EINVAL, CLOUD ": %s: \"image\" has an id or publisher/offer/sku, not both",
                     path);
    }
out:
    return rc;
}

static int load_fields(struct config *c, json_t *o, const char *path)
{
    long v;
    int rc;
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->subscription, sizeof(c->subscription), o,
                                    "subscription_id", true, "-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->resource_group, sizeof(c->resource_group), o,
                                    "resource_group", true, "._-()", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->location, sizeof(c->location), o, "location", true,
                                    "", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->vm_size, sizeof(c->vm_size), o, "vm_size", true, "_",
                                    path));
    BPT_CHECK(load_image(c, o, path));
    snprintf(c->encryption, sizeof(c->encryption), "VMGuestStateOnly");
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->encryption, sizeof(c->encryption), o,
                                    "os_disk_security_encryption_type", false, "", path));
    if (strcmp(c->encryption, "VMGuestStateOnly") != 0 &&
        strcmp(c->encryption, "DiskWithVMGuestState") != 0 &&
        strcmp(c->encryption, "NonPersistedTPM") != 0) {
        return bpt_err(BPT_EINVAL,
                       CLOUD ": %s: \"os_disk_security_encryption_type\" is VMGuestStateOnly, "
                             "DiskWithVMGuestState or NonPersistedTPM",
                       path);
    }
    snprintf(c->admin, sizeof(c->admin), "bpt");
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->admin, sizeof(c->admin), o, "admin_username", false,
                                    "_-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->ssh_key, sizeof(c->ssh_key), o, "ssh_public_key",
                                    true, NULL, path));
    if (strncmp(c->ssh_key, "ssh-", 4) != 0 && strncmp(c->ssh_key, "ecdsa-", 6) != 0) {
        return bpt_err(BPT_EINVAL, CLOUD ": %s: \"ssh_public_key\" is no OpenSSH public key line",
                       path);
    }
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->nic_id, sizeof(c->nic_id), o, "network_interface_id",
                                    true, "/._-()", path));
    if (strncmp(c->nic_id, "/subscriptions/", 15) != 0 ||
        strstr(c->nic_id, "/providers/Microsoft.Network/networkInterfaces/") == NULL) {
        return bpt_err(BPT_EINVAL,
                       CLOUD
                       ": %s: \"network_interface_id\" is no network interface's resource id "
                       "(/subscriptions/.../providers/Microsoft.Network/networkInterfaces/NAME)",
                       path);
    }
    BPT_CHECK(
        bpt_remote_cfg_string(CLOUD, c->arm, sizeof(c->arm), o, "arm_endpoint", false, NULL, path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->tenant, sizeof(c->tenant), o, "tenant_id", false,
                                    ".-", path));
    BPT_CHECK(bpt_remote_cfg_string(CLOUD, c->client_id, sizeof(c->client_id), o, "client_id",
                                    false, "-", path));
    BPT_CHECK(cfg_choice(&c->public_address, o, "address", "public", "private", false, path));
    BPT_CHECK(cfg_choice(&c->plane_https, o, "plane_scheme", "https", "http", true, path));
    v = 8787;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "key_exchange_port", 1, 65535, path));
    c->port = (unsigned)v;
    v = 900;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "deploy_timeout_s", 1, 3600, path));
    c->deploy_timeout_ms = v * 1000;
    v = 60;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &v, o, "request_timeout_s", 1, 600, path));
    c->request_timeout_ms = v * 1000;
    c->poll_base_ms = 2000;
    c->poll_max_ms = 15000;
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &c->poll_base_ms, o, "poll_base_ms", 1, 60000, path));
    BPT_CHECK(bpt_remote_cfg_int(CLOUD, &c->poll_max_ms, o, "poll_max_ms", 1, 300000, path));
    BPT_CHECK(base_url(c->arm, sizeof(c->arm), NULL, DEFAULT_ARM, "ARM endpoint"));
    rc = base_url(c->authority, sizeof(c->authority), "AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY,
                  "authority (AZURE_AUTHORITY_HOST)");
out:
    return rc;
}

static int load_config(struct config *c, const struct bpt_remote_state *a)
{
    static const char *const known[] = {"schema_version",
                                        "subscription_id",
                                        "resource_group",
                                        "location",
                                        "vm_size",
                                        "image",
                                        "os_disk_security_encryption_type",
                                        "admin_username",
                                        "ssh_public_key",
                                        "network_interface_id",
                                        "arm_endpoint",
                                        "tenant_id",
                                        "client_id",
                                        "address",
                                        "plane_scheme",
                                        "key_exchange_port",
                                        "deploy_timeout_s",
                                        "request_timeout_s",
                                        "poll_base_ms",
                                        "poll_max_ms",
                                        NULL};
    const char *path = a->config_path;
    bpt_buf text = BPT_BUF_INIT(CONFIG_MAX_BYTES);
    json_t *o = NULL;
    char ctx[sizeof(a->config_path) + sizeof(CLOUD ": ")];
    int rc;

    memset(c, 0, sizeof(*c));
    if (path[0] == '\0') {
        return bpt_err(BPT_EINVAL, CLOUD ": no configuration: set BPT_AZURE_CVM_CONFIG to its "
                                         "file, or put it at STATE_DIR/azure_cvm.json");
    }
    rc = bpt_remote_read_text(&text, path);
    if (rc == 0) {
        rc = bpt_json_parse(&o, (const char *)text.data, text.len, CLOUD " configuration");
    }
    bpt_buf_dispose(&text);
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ENOTFOUND ? BPT_EINVAL : rc, CLOUD ": configuration");
    }
    snprintf(ctx, sizeof(ctx), CLOUD ": %s", path);
    if (!json_is_object(o)) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": %s: not a JSON object", path);
    } else if (json_object_get(o, "client_secret") != NULL) {
        rc = bpt_err(BPT_EINVAL,
                     CLOUD ": %s: \"client_secret\" is never read from a config file: set "
                           "AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
                     path);
    } else if ((rc = bpt_json_check_keys(o, known, ctx)) == 0 &&
               (rc = bpt_json_check_schema_version(o, ctx)) == 0) {
        rc = load_fields(c, o, path);
    }
    json_decref(o);
    return rc;
}

/* ---- credentials and the token ------------------------------------------------------------- */

struct creds {
    char tenant[64], client_id[64];
    char secret[1024];
    char cert_path[4096];
};

static int env_value(char *out, size_t cap, const char *name, const char *chars)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    if (strlen(v) >= cap || (chars != NULL && !bpt_remote_id_chars(v, chars))) {
        return bpt_err(BPT_EINVAL, CLOUD ": %s: over %zu bytes, or a byte that does not belong",
                       name, cap - 1);
    }
    snprintf(out, cap, "%s", v);
    return 0;
}

static int load_creds(struct creds *k, const struct config *c)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->tenant, sizeof(k->tenant), "%s", c->tenant);
    snprintf(k->client_id, sizeof(k->client_id), "%s", c->client_id);
    if ((k->tenant[0] == '\0' &&
         env_value(k->tenant, sizeof(k->tenant), "AZURE_TENANT_ID", ".-") < 0) ||
        (k->client_id[0] == '\0' &&
         env_value(k->client_id, sizeof(k->client_id), "AZURE_CLIENT_ID", "-") < 0) ||
        env_value(k->secret, sizeof(k->secret), "AZURE_CLIENT_SECRET", NULL) < 0 ||
        env_value(k->cert_path, sizeof(k->cert_path), "AZURE_CLIENT_CERTIFICATE_PATH", NULL) < 0) {
        return BPT_EINVAL;
    }
    if (k->tenant[0] == '\0' || k->client_id[0] == '\0') {
        return bpt_err(BPT_EINVAL, CLOUD ": no %s: set %s (or \"%s\" in the config)",
                       k->tenant[0] == '\0' ? "tenant" : "client",
                       k->tenant[0] == '\0' ? "AZURE_TENANT_ID" : "AZURE_CLIENT_ID",
                       k->tenant[0] == '\0' ? "tenant_id" : "client_id");
    }
    if (k->secret[0] == '\0' && k->cert_path[0] == '\0') {
        return bpt_err(BPT_EINVAL, CLOUD ": no client credential: set AZURE_CLIENT_SECRET or "
                                         "AZURE_CLIENT_CERTIFICATE_PATH");
    }
    return 0;
}

/* The certificate's SHA-1 and SHA-256 thumbprints as x5t and x5t#S256 in @p hdr. */
static int cert_thumbprints(json_t *hdr, X509 *cert)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    uint8_t s1[SHA_DIGEST_LENGTH], s256[32];
    char *t1 = NULL, *t256 = NULL;
    int rc;
    if (n <= 0) {
        return bpt_err(BPT_EINVAL, CLOUD ": the client certificate does not encode");
    }
    SHA1(der, (size_t)n, s1);
    rc = bpt_sha256(s256, der, (size_t)n);
    OPENSSL_free(der);
    if (rc == 0 && (rc = bpt_base64url_encode(&t1, s1, sizeof(s1))) == 0 &&
        (rc = bpt_base64url_encode(&t256, s256, sizeof(s256))) == 0 &&
        (json_object_set_new(hdr, "x5t", json_string(t1)) != 0 ||
         json_object_set_new(hdr, "x5t#S256", json_string(t256)) != 0)) {
        rc = bpt_err_nomem(CLOUD);
    }
    free(t1);
    free(t256);
    return rc;
}

/* The client assertion: a JWT (RS256) naming the certificate, for @p aud, from the client. */
static int client_assertion(bpt_buf *out, const struct creds *k, const char *aud)
{
    bpt_buf pem = BPT_BUF_INIT(CERT_FILE_MAX);
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    json_t *hdr = NULL, *claims = NULL;
    char jti[33];
    uint8_t rnd[16];
    int rc = bpt_remote_read_text(&pem, k->cert_path);
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ENOTFOUND ? BPT_EINVAL : rc,
                              CLOUD ": AZURE_CLIENT_CERTIFICATE_PATH");
    }
    /* an encrypted key is refused, never a pass phrase asked for on the terminal */
    if (bpt_pem_private_key(&key, pem.data, pem.len, CLOUD ": AZURE_CLIENT_CERTIFICATE_PATH") < 0 ||
        (bio = BIO_new_mem_buf(pem.data, (int)pem.len)) == NULL ||
        (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
        rc = bpt_err(BPT_EINVAL, CLOUD
                     ": AZURE_CLIENT_CERTIFICATE_PATH: a PEM file with an unencrypted private "
                     "key and its certificate is expected");
        goto out;
    }
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA || X509_check_private_key(cert, key) != 1) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": the client certificate's key is no RSA key, or not the "
                                       "certificate's");
        goto out;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        rc = bpt_err(BPT_EIO, CLOUD ": no random bytes for the assertion's jti");
        goto out;
    }
    bpt_hex_encode_to(jti, rnd, sizeof(rnd));
    json_int_t now = (json_int_t)time(NULL);
    hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud, "iss", k->client_id,
                       "sub", k->client_id, "jti", jti, "nbf", now, "iat", now, "exp", now + 600);
    if (hdr == NULL || claims == NULL) {
        rc = bpt_err_nomem(CLOUD);
        goto out;
    }
    if ((rc = cert_thumbprints(hdr, cert)) == 0) {
        rc = bpt_remote_jwt_rs256(out, hdr, claims, key, CLOUD ": the client assertion");
    }
out:
    json_decref(hdr);
    json_decref(claims);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(bio);
    bpt_buf_dispose(&pem);
    return rc;
}

/* ---- HTTP with the cloud ------------------------------------------------------------------- */

struct arm {
    struct config cfg;
    struct creds creds;
    char auth[TOKEN_MAX + 32]; /* "Authorization: Bearer TOKEN" */
    bool have_token, renewed;
};

static void arm_close(struct arm *a)
{
    OPENSSL_cleanse(&a->creds, sizeof(a->creds));
    OPENSSL_cleanse(a->auth, sizeof(a->auth));
}

static bool transient(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* An answer's error: ARM's {"error":{"code","message"}} or the identity platform's
 * {"error":"...","error_description":"..."} (its description cut at the first line break). */
static void error_of(char *code, size_t code_cap, char *msg, size_t msg_cap, const bpt_buf *body,
                     long status)
{
    json_t *o = json_loadb((const char *)body->data, body->len, 0, NULL);
    json_t *e = json_object_get(o, "error");
    const char *c = NULL, *m = NULL;
    if (json_is_object(e)) {
        c = json_string_value(json_object_get(e, "code"));
        m = json_string_value(json_object_get(e, "message"));
    } else if (json_is_string(e)) {
        c = json_string_value(e);
        m = json_string_value(json_object_get(o, "error_description"));
    }
    if (c == NULL || c[0] == '\0') {
        snprintf(code, code_cap, "HTTP %ld", status);
        snprintf(msg, msg_cap, "an answer without an error object");
    } else {
        snprintf(code, code_cap, "%s", c);
        snprintf(msg, msg_cap, "%s", m != NULL ? m : "");
        msg[strcspn(msg, "\r\n")] = '\0';
    }
    json_decref(o);
}

struct answer {
    long status;
    char async_url[URL_MAX], location[URL_MAX];
    long retry_after_ms;
};

/*
 * One request with retries: transport failures and 429/5xx within the request deadline,
 * honouring Retry-After. @return 0 with @p ans->status any other status (the caller judges it);
 * BPT_EBUSY / BPT_EFETCH past the deadline; the transport's other codes.
 */
static int send_retrying(bpt_buf *out, struct answer *ans, const struct config *c,
                         struct bpt_http_request *req, const char *what)
{
    static const char *const capture[] = {"Retry-After", "Azure-AsyncOperation", "Location"};
    /* one byte under bpt_remote_header_text()'s room: a longer value is the transport's BPT_ELIMIT,
     * never an operation URL silently dropped (which would read as "done at once") */
    bpt_buf vals[3] = {BPT_BUF_INIT(63), BPT_BUF_INIT(URL_MAX - 1), BPT_BUF_INIT(URL_MAX - 1)};
    struct bpt_remote_backoff b;
    int rc;

    bpt_remote_backoff_init(&b, c->request_timeout_ms, c->poll_base_ms, c->poll_max_ms);
    req->timeout_ms = c->request_timeout_ms;
    req->capture = capture;
    req->n_capture = 3;
    for (;;) {
        struct bpt_http_response resp = {.body = out, .values = vals};
        char ra[64], code[96], msg[512];
        bool again = false;
        out->len = 0;
        if ((rc = bpt_remote_send(&again, &resp, req, &b, CLOUD, what)) < 0) {
            break;
        }
        if (again) {
            continue;
        }
        bpt_remote_header_text(ra, sizeof(ra), &vals[0]);
        ans->status = resp.status;
        ans->retry_after_ms = bpt_remote_retry_after_ms(ra);
        bpt_remote_header_text(ans->async_url, sizeof(ans->async_url), &vals[1]);
        bpt_remote_header_text(ans->location, sizeof(ans->location), &vals[2]);
        if (!transient(resp.status)) {
            break;
        }
        error_of(code, sizeof(code), msg, sizeof(msg), out, resp.status);
        if ((rc = bpt_remote_throttled(&b, &vals[0], CLOUD, what, code, msg)) < 0) {
            break;
        }
    }
    for (size_t i = 0; i < 3; i++) {
        bpt_buf_dispose(&vals[i]);
    }
    return rc;
}

/* An identity platform refusal: expired credentials (AADSTS7000222 an expired secret,
 * AADSTS700024 an assertion out of its time range) apart from the others. */
static int login_refusal(const bpt_buf *body, long status)
{
    char code[96], msg[512];
    error_of(code, sizeof(code), msg, sizeof(msg), body, status);
    int rc = strstr(msg, "AADSTS7000222") != NULL || strstr(msg, "AADSTS700024") != NULL
                 ? BPT_EEXPIRED
                 : BPT_EINVAL;
    return bpt_remote_cloud_error(rc, CLOUD, "login", code, msg);
}

static int take_token(struct arm *a, const bpt_buf *body)
{
    json_t *o = json_loadb((const char *)body->data, body->len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "token_type"));
    const char *tok = json_string_value(json_object_get(o, "access_token"));
    int rc = 0;
    if (type == NULL || strcasecmp(type, "Bearer") != 0 || tok == NULL || tok[0] == '\0' ||
        strlen(tok) > TOKEN_MAX || !bpt_remote_id_chars(tok, "-._~+/=")) {
        rc = bpt_err(BPT_EPROTOCOL,
                     CLOUD ": login: the answer holds no Bearer access_token of "
                           "1..%d URL-safe bytes",
                     TOKEN_MAX);
    } else {
        snprintf(a->auth, sizeof(a->auth), "Authorization: Bearer %s", tok);
        a->have_token = true;
    }
    if (o != NULL && tok != NULL) {
        OPENSSL_cleanse((void *)tok, strlen(tok));
    }
    json_decref(o);
    return rc;
}

/* A token from the identity platform for ARM (client secret, else the certificate). */
static int login(struct arm *a)
{
    bpt_buf form = BPT_BUF_INIT(16 * 1024), assertion = BPT_BUF_INIT(8 * 1024);
    bpt_buf body = BPT_BUF_INIT(64 * 1024);
    char url[512], scope[300];
    struct answer ans;
    int rc;

    snprintf(url, sizeof(url), "%.256s%.64s/oauth2/v2.0/token", a->cfg.authority, a->creds.tenant);
    snprintf(scope, sizeof(scope), "%s.default", a->cfg.arm);
    a->have_token = false;
    OPENSSL_cleanse(a->auth, sizeof(a->auth));
    if ((rc = bpt_remote_form_param(&form, "grant_type", "client_credentials")) < 0 ||
        (rc = bpt_remote_form_param(&form, "client_id", a->creds.client_id)) < 0 ||
        (rc = bpt_remote_form_param(&form, "scope", scope)) < 0) {
        goto out;
    }
    if (a->creds.secret[0] != '\0') {
        rc = bpt_remote_form_param(&form, "client_secret", a->creds.secret);
    } else if ((rc = client_assertion(&assertion, &a->creds, url)) == 0 &&
               (rc = bpt_buf_append(&assertion, "", 1)) == 0 &&
               (rc = bpt_remote_form_param(
                    &form, "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")) == 0) {
        rc = bpt_remote_form_param(&form, "client_assertion", (const char *)assertion.data);
    }
    if (rc < 0) {
        goto out;
    }
    struct bpt_http_request req = {
        .method = BPT_HTTP_POST,
        .url = url,
        .content_type = "application/x-www-form-urlencoded",
        .body = form.data,
        .body_len = form.len,
    };
    if ((rc = send_retrying(&body, &ans, &a->cfg, &req, "login")) < 0) {
        goto out;
    }
    rc = ans.status == 200 ? take_token(a, &body) : login_refusal(&body, ans.status);
out:
    bpt_buf_dispose(&form);
    bpt_buf_dispose(&assertion);
    bpt_buf_dispose(&body);
    return rc;
}

static int arm_open(struct arm *a, const struct bpt_remote_state *z)
{
    memset(a, 0, sizeof(*a));
    int rc = load_config(&a->cfg, z);
    if (rc == 0) {
        rc = load_creds(&a->creds, &a->cfg);
    }
    return rc;
}

/*
 * One ARM request to @p url (under the ARM endpoint) with the token (fetched on first use, and
 * once more after a 401). @return 0 for 2xx, and for 404 when @p absent_ok (ans->status says);
 * ARM's refusal otherwise: BPT_EEXPIRED (ExpiredAuthenticationToken), BPT_EINVAL.
 */
static int arm_call(bpt_buf *out, struct answer *ans, struct arm *a, bpt_http_method m,
                    const char *url, const char *json, const char *what, bool absent_ok)
{
    int rc;
    if (strncmp(url, a->cfg.arm, strlen(a->cfg.arm)) != 0 || strlen(url) >= URL_MAX) {
        return bpt_err(BPT_EPROTOCOL, CLOUD ": %s: a URL outside the ARM endpoint %s: refused",
                       what, a->cfg.arm);
    }
    for (;;) {
        if (!a->have_token && (rc = login(a)) < 0) {
            return rc;
        }
        const char *headers[] = {a->auth, "Accept: application/json"};
        struct bpt_http_request req = {
            .method = m,
            .url = url,
            .content_type = "application/json",
            .headers = headers,
            .n_headers = 2,
            .body = (const uint8_t *)json,
            .body_len = json != NULL ? strlen(json) : 0,
        };
        if ((rc = send_retrying(out, ans, &a->cfg, &req, what)) < 0) {
            return rc;
        }
        if (ans->status >= 200 && ans->status < 300) {
            return 0;
        }
        char code[96], msg[512];
        error_of(code, sizeof(code), msg, sizeof(msg), out, ans->status);
        /* the VM absent; not a resource group or subscription that is (a config's typo would
         * read as "gone already": a destroy that forgets a VM still running) */
        if (ans->status == 404 && absent_ok && strcmp(code, "ResourceGroupNotFound") != 0 &&
            strcmp(code, "SubscriptionNotFound") != 0) {
            return 0;
        }
        if (ans->status == 401 && !a->renewed) {
            /* a cached token's end: a real client asks for a new one, once */
            a->renewed = true;
            a->have_token = false;
            continue;
        }
        return bpt_remote_cloud_error(strcmp(code, "ExpiredAuthenticationToken") == 0 ? BPT_EEXPIRED
                                                                                      : BPT_EINVAL,
                                      CLOUD, what, code, msg);
    }
}

/* ---- the VM --------------------------------------------------------------------------------- */

struct vm {
    bool found;
    char provisioning[32]; /* Creating, Updating, Succeeded, Failed, Deleting, ... */
    char power[32];        /* running, deallocated, stopped, starting, ... ("" unknown) */
};

static void vm_name(char out[32], const char *id)
{
    snprintf(out, 32, "bpt-%.16s", id);
}

/* The VM's URL (+ @p suffix, e.g. "/start"); with @p expand, the GET's $expand=instanceView. */
static void vm_url(char *out, size_t cap, const struct config *c, const char *id,
                   const char *suffix, bool expand)
{
    char name[32];
    vm_name(name, id);
    snprintf(out, cap,
             "%ssubscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/"
             "%s%s?api-version=" COMPUTE_API "%s",
             c->arm, c->subscription, c->resource_group, name, suffix,
             expand ? "&$expand=instanceView" : "");
}

static int parse_vm(struct vm *v, const bpt_buf *body, const char *id)
{
    json_t *o = json_loadb((const char *)body->data, body->len, 0, NULL);
    json_t *props = json_object_get(o, "properties");
    const char *prov = json_string_value(json_object_get(props, "provisioningState"));
    const char *sec = json_string_value(
        json_object_get(json_object_get(props, "securityProfile"), "securityType"));
    const char *tag = json_string_value(json_object_get(json_object_get(o, "tags"), TAG_KEY));
    json_t *statuses = json_object_get(json_object_get(props, "instanceView"), "statuses");
    int rc = 0;

    memset(v, 0, sizeof(*v));
    v->found = true;
    if (prov == NULL || prov[0] == '\0') {
        rc = bpt_err(BPT_EPROTOCOL, CLOUD ": the VM's answer has no properties.provisioningState");
    } else if (tag == NULL || strcmp(tag, id) != 0) {
        rc = bpt_err(BPT_EINVAL,
                     CLOUD ": a VM named bpt-%.16s exists without this deployment's tag (%s): "
                           "not touched",
                     id, TAG_KEY);
    } else if (sec == NULL || strcmp(sec, "ConfidentialVM") != 0) {
        rc = bpt_err(BPT_EINVAL,
                     CLOUD ": VM bpt-%.16s is not a confidential VM (securityType %.32s): not "
                           "touched",
                     id, sec != NULL ? sec : "absent");
    } else {
        snprintf(v->provisioning, sizeof(v->provisioning), "%s", prov);
        for (size_t i = 0; i < json_array_size(statuses); i++) {
            const char *code =
                json_string_value(json_object_get(json_array_get(statuses, i), "code"));
            if (code != NULL && strncmp(code, "PowerState/", 11) == 0) {
                snprintf(v->power, sizeof(v->power), "%s", code + 11);
            }
        }
    }
    json_decref(o);
    return rc;
}

static int get_vm(struct vm *v, struct arm *a, const char *id)
{
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX);
    struct answer ans;
    char url[URL_MAX];
    vm_url(url, sizeof(url), &a->cfg, id, "", true);
    int rc = arm_call(&body, &ans, a, BPT_HTTP_GET, url, NULL, "get VM", true);
    memset(v, 0, sizeof(*v));
    if (rc == 0 && ans.status != 404) {
        rc = parse_vm(v, &body, id);
    }
    bpt_buf_dispose(&body);
    return rc;
}

/*
 * Poll an operation's Azure-AsyncOperation URL (else its Location) until it ends, up to
 * @p deadline. @return 0 (Succeeded); ARM's error for Failed/Canceled; BPT_EBUSY past the
 * deadline (the operation goes on).
 */
static int wait_async(struct arm *a, const struct answer *started, const char *what,
                      int64_t deadline)
{
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX);
    bool async = started->async_url[0] != '\0';
    const char *url = async ? started->async_url : started->location;
    long retry = started->retry_after_ms;
    struct bpt_remote_backoff b;
    char status[32] = "InProgress";
    int rc = 0;

    if (url[0] == '\0') {
        return 0; /* done at once */
    }
    bpt_remote_backoff_init(&b, (long)(deadline - bpt_mono_ms()), a->cfg.poll_base_ms,
                            a->cfg.poll_max_ms);
    for (;;) {
        if (bpt_remote_backoff_wait(&b, retry, CLOUD) < 0) {
            rc = bpt_err(BPT_EBUSY,
                         CLOUD ": %s: the operation still %s when the deadline passed; it goes "
                               "on in Azure: deploy the same spec again to resume, or destroy it",
                         what, status);
            break;
        }
        struct answer ans;
        if ((rc = arm_call(&body, &ans, a, BPT_HTTP_GET, url, NULL, what, false)) < 0) {
            break;
        }
        retry = ans.retry_after_ms;
        if (!async) {
            if (ans.status != 202) {
                break; /* 200, 201, 204: done */
            }
            continue;
        }
        json_t *o = json_loadb((const char *)body.data, body.len, 0, NULL);
        const char *s = json_string_value(json_object_get(o, "status"));
        if (s == NULL) {
            rc = bpt_err(BPT_EPROTOCOL, CLOUD ": %s: the operation's answer has no status", what);
        } else if (strcmp(s, "Succeeded") == 0) {
            rc = 1;
        } else if (strcmp(s, "Failed") == 0 || strcmp(s, "Canceled") == 0) {
            json_t *e = json_object_get(o, "error");
            char msg[400];
            snprintf(msg, sizeof(msg), "the operation %s: %s", s,
                     json_string_value(json_object_get(e, "message"))
                         ? json_string_value(json_object_get(e, "message"))
                         : "");
            rc = bpt_remote_cloud_error(BPT_EINVAL, CLOUD, what,
                                        json_string_value(json_object_get(e, "code")), msg);
        } else {
            snprintf(status, sizeof(status), "%.31s", s);
        }
        json_decref(o);
        if (rc != 0) {
            rc = rc > 0 ? 0 : rc;
            break;
        }
    }
    bpt_buf_dispose(&body);
    return rc;
}

/* A POST action (start, deallocate) or DELETE on the VM, followed to its end. */
static int vm_action(struct arm *a, const char *id, bpt_http_method m, const char *action,
                     int64_t deadline)
{
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX);
    struct answer ans;
    char url[URL_MAX], suffix[32] = "";
    if (m == BPT_HTTP_POST) {
        snprintf(suffix, sizeof(suffix), "/%s", action);
    }
    vm_url(url, sizeof(url), &a->cfg, id, suffix, false);
    int rc = arm_call(&body, &ans, a, m, url, m == BPT_HTTP_POST ? "" : NULL, action,
                      m == BPT_HTTP_DELETE);
    bpt_buf_dispose(&body);
    if (rc < 0 || ans.status == 404) {
        return rc;
    }
    return wait_async(a, &ans, action, deadline);
}

/*
 * The script cloud-init runs at first boot: the spec (its JSON, no secret values: those are
 * only ever sealed) as a direct deployment of the bpt on the VM's image, the spec's image being
 * a path on that image as an EIF is on an AMI; then `bpt serve` on the key-exchange port, its
 * evidence from the VM's TEE.
 */
static int custom_data(char **out, const struct config *c, const bpt_backend_deployment *d)
{
    bpt_buf script = BPT_BUF_INIT(CUSTOM_DATA_MAX);
    char *spec = NULL, head[512], tail[256];
    int rc;
    for (size_t i = 0; i < bpt_deploy_spec_secret_count(d->spec); i++) {
        if (bpt_deploy_spec_secret_value(d->spec, i) != NULL) {
            return bpt_err(BPT_EINVAL,
                           CLOUD ": the spec holds a value for secret '%.64s': a VM's customData "
                                 "is readable in the subscription; seal it once the VM attested",
                           bpt_deploy_spec_secret_name(d->spec, i));
        }
    }
    snprintf(head, sizeof(head),
             "#!/bin/sh\n"
             "# bpt deployment %s: the spec as a direct deployment, the key-exchange plane on "
             "port %u\n"
             "set -eu\n"
             "umask 077\n"
             "mkdir -p /var/lib/bpt\n"
             "cat > /var/lib/bpt/spec.json <<'BPT_SPEC'\n",
             d->id, c->port);
    snprintf(tail, sizeof(tail),
             "\nBPT_SPEC\n"
             "bpt deploy --state-dir /var/lib/bpt --backend direct /var/lib/bpt/spec.json\n"
             "exec bpt serve --listen 0.0.0.0:%u\n",
             c->port);
    if ((rc = bpt_deploy_spec_to_json(&spec, d->spec)) < 0) {
        return rc;
    }
    if (strchr(spec, '\n') != NULL) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": the spec's JSON holds a line break");
    } else if ((rc = bpt_buf_append_str(&script, head)) < 0 ||
               (rc = bpt_buf_append_str(&script, spec)) < 0 ||
               (rc = bpt_buf_append_str(&script, tail)) < 0) {
        rc = bpt_err_prefix(rc, CLOUD ": customData (at most %u bytes)", CUSTOM_DATA_MAX);
    } else {
        rc = bpt_base64_encode(out, script.data, script.len);
    }
    free(spec);
    bpt_buf_dispose(&script);
    return rc;
}

static json_t *vm_body(const struct config *c, const bpt_backend_deployment *d, const char *ud)
{
    char name[32];
    vm_name(name, d->id);
    char key_path[128];
    snprintf(key_path, sizeof(key_path), "/home/%s/.ssh/authorized_keys", c->admin);
    json_t *image = c->image_id[0] != '\0'
                        ? json_pack("{s:s}", "id", c->image_id)
                        : json_pack("{s:s, s:s, s:s, s:s}", "publisher", c->publisher, "offer",
                                    c->offer, "sku", c->sku, "version", c->version);
    return json_pack("{s:s, s:{s:s}, s:{"
                     "s:{s:s},"
                     "s:{s:s, s:{s:b, s:b}},"
                     "s:{s:o, s:{s:s, s:s, s:{s:{s:s}}}},"
                     "s:{s:s, s:s, s:s, s:{s:b, s:{s:[{s:s, s:s}]}}},"
                     "s:{s:[{s:s, s:{s:b, s:s}}]}}}",
                     "location", c->location, "tags", TAG_KEY, d->id, "properties",
                     "hardwareProfile", "vmSize", c->vm_size, "securityProfile", "securityType",
                     "ConfidentialVM", "uefiSettings", "secureBootEnabled", 1, "vTpmEnabled", 1,
                     "storageProfile", "imageReference", image, "osDisk", "createOption",
                     "FromImage", "deleteOption", "Delete", "managedDisk", "securityProfile",
                     "securityEncryptionType", c->encryption, "osProfile", "computerName", name,
                     "adminUsername", c->admin, "customData", ud, "linuxConfiguration",
                     "disablePasswordAuthentication", 1, "ssh", "publicKeys", "path", key_path,
                     "keyData", c->ssh_key, "networkProfile", "networkInterfaces", "id", c->nic_id,
                     "properties", "primary", 1, "deleteOption", "Detach");
}

static int put_vm(struct arm *a, const bpt_backend_deployment *d, int64_t deadline)
{
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX);
    struct answer ans;
    char url[URL_MAX], *ud = NULL, *json = NULL;
    json_t *o = NULL;
    int rc = custom_data(&ud, &a->cfg, d);
    if (rc < 0) {
        return rc;
    }
    if ((o = vm_body(&a->cfg, d, ud)) == NULL) {
        rc = bpt_err_nomem(CLOUD ": the VM's body");
    } else if ((rc = bpt_json_dump(&json, o)) == 0) {
        vm_url(url, sizeof(url), &a->cfg, d->id, "", false);
        rc = arm_call(&body, &ans, a, BPT_HTTP_PUT, url, json, "create VM", false);
    }
    if (rc == 0) {
        BPT_LOG(BPT_LOG_INFO, "runtime", CLOUD ": VM bpt-%s for deployment %s (HTTP %ld)", d->id,
                d->id, ans.status);
        rc = wait_async(a, &ans, "create VM", deadline);
    }
    json_decref(o);
    free(ud);
    free(json);
    bpt_buf_dispose(&body);
    return rc;
}

static bool settling(const char *prov)
{
    return strcmp(prov, "Creating") == 0 || strcmp(prov, "Updating") == 0 ||
           strcmp(prov, "Migrating") == 0;
}

/* Poll the VM until it runs (starting it once when deallocated or stopped), up to @p deadline. */
static int wait_running(struct arm *a, const char *id, int64_t deadline, long budget_ms)
{
    struct bpt_remote_backoff b;
    bool started = false;
    bpt_remote_backoff_init(&b, (long)(deadline - bpt_mono_ms()), a->cfg.poll_base_ms,
                            a->cfg.poll_max_ms);
    for (;;) {
        struct vm v;
        int rc = get_vm(&v, a, id);
        if (rc < 0) {
            return rc;
        }
        if (!v.found || strcmp(v.provisioning, "Deleting") == 0) {
            return bpt_err(BPT_EPROTOCOL,
                           CLOUD ": VM bpt-%.16s is %s (deleted outside bpt?): destroy the "
                                 "deployment and deploy again",
                           id, v.found ? "being deleted" : "gone");
        }
        if (strcmp(v.provisioning, "Failed") == 0) {
            return bpt_err(BPT_EPROTOCOL,
                           CLOUD ": VM bpt-%.16s: provisioning Failed (its instance view says "
                                 "why): destroy the deployment and deploy again",
                           id);
        }
        if (!settling(v.provisioning) && strcmp(v.power, "running") == 0) {
            return 0;
        }
        if (!settling(v.provisioning) && !started &&
            (strcmp(v.power, "deallocated") == 0 || strcmp(v.power, "stopped") == 0)) {
            if ((rc = vm_action(a, id, BPT_HTTP_POST, "start", deadline)) < 0) {
                return rc;
            }
            started = true;
            continue;
        }
        if (bpt_remote_backoff_wait(&b, -1, CLOUD) < 0) {
            return bpt_err(BPT_EBUSY,
                           CLOUD ": VM bpt-%.16s still %s/%s, not running, when the deadline "
                                 "passed (%ld s); it is left as it is: deploy the same spec "
                                 "again to resume, or destroy it",
                           id, v.provisioning, v.power[0] != '\0' ? v.power : "(no power state)",
                           budget_ms / 1000);
        }
    }
}

/* ---- the backend -------------------------------------------------------------------------- */

static int az_init(void **state, const bpt_backend_env *env, void *userdata)
{
    (void)userdata;
    return bpt_remote_init(state, env, "BPT_AZURE_CVM_CONFIG", "azure_cvm.json");
}

static int az_deploy(void *state, const bpt_backend_deployment *d)
{
    struct arm a;
    struct vm v;
    int rc = arm_open(&a, state);
    int64_t deadline = bpt_mono_ms() + a.cfg.deploy_timeout_ms;
    if (rc == 0 && (rc = get_vm(&v, &a, d->id)) == 0) {
        if (!v.found) {
            rc = put_vm(&a, d, deadline);
        } else if (strcmp(v.provisioning, "Deleting") == 0) {
            rc = bpt_err(BPT_EBUSY,
                         CLOUD ": VM bpt-%.16s is being deleted: wait for it to go, then "
                               "deploy again",
                         d->id);
        }
    }
    if (rc == 0) {
        rc = wait_running(&a, d->id, deadline, a.cfg.deploy_timeout_ms);
    }
    arm_close(&a);
    return rc;
}

/* The address on the configured network interface: its private IP, or its public IP
 * address resource's. */
static int nic_address(char *out, size_t cap, struct arm *a)
{
    bpt_buf body = BPT_BUF_INIT(ANSWER_MAX);
    struct answer ans;
    char url[URL_MAX];
    json_t *o = NULL;
    snprintf(url, sizeof(url), "%s%s?api-version=" NETWORK_API, a->cfg.arm, a->cfg.nic_id + 1);
    int rc = arm_call(&body, &ans, a, BPT_HTTP_GET, url, NULL, "get network interface", false);
    if (rc < 0) {
        goto out;
    }
    o = json_loadb((const char *)body.data, body.len, 0, NULL);
    json_t *ipc = json_object_get(
        json_array_get(json_object_get(json_object_get(o, "properties"), "ipConfigurations"), 0),
        "properties");
    const char *ip = json_string_value(json_object_get(ipc, "privateIPAddress"));
    if (a->cfg.public_address) {
        const char *pid =
            json_string_value(json_object_get(json_object_get(ipc, "publicIPAddress"), "id"));
        if (pid == NULL || strncmp(pid, "/subscriptions/", 15) != 0 ||
            !bpt_remote_id_chars(pid, "/._-()")) {
            rc = bpt_err(BPT_EPROTOCOL,
                         CLOUD ": the network interface's first IP configuration has no public "
                               "IP address");
            goto out;
        }
        snprintf(url, sizeof(url), "%s%s?api-version=" NETWORK_API, a->cfg.arm, pid + 1);
        json_decref(o);
        o = NULL;
        if ((rc = arm_call(&body, &ans, a, BPT_HTTP_GET, url, NULL, "get public IP address",
                           false)) < 0) {
            goto out;
        }
        o = json_loadb((const char *)body.data, body.len, 0, NULL);
        ip = json_string_value(json_object_get(json_object_get(o, "properties"), "ipAddress"));
    }
    snprintf(out, cap, "%s", ip != NULL ? ip : "");
    rc = 0;
out:
    json_decref(o);
    bpt_buf_dispose(&body);
    return rc;
}

/* The plane's base URL, once the VM runs. */
static int plane_url(char *out, size_t cap, const struct bpt_remote_state *z, const char *id)
{
    struct arm a;
    struct vm v;
    char addr[64] = "";
    int rc = arm_open(&a, z);
    if (rc == 0 && (rc = get_vm(&v, &a, id)) == 0 &&
        (!v.found || strcmp(v.power, "running") != 0)) {
        rc = bpt_err(BPT_EINVAL, CLOUD ": deployment %s is not running (VM %s)", id,
                     v.found ? (v.power[0] != '\0' ? v.power : v.provisioning) : "absent");
    }
    if (rc == 0) {
        rc = nic_address(addr, sizeof(addr), &a);
    }
    arm_close(&a);
    if (rc < 0) {
        return rc;
    }
    if (!bpt_remote_plane_url(out, cap, a.cfg.plane_https, addr, a.cfg.port)) {
        return bpt_err(BPT_EPROTOCOL, CLOUD ": the network interface reports no %s IP address",
                       a.cfg.public_address ? "public" : "private");
    }
    return 0;
}

/* Where a sealing client reaches the workload (bpt_runtime_plane_url()). */
static int az_plane_url(char *out, size_t cap, void *state, const bpt_backend_deployment *d)
{
    return plane_url(out, cap, state, d->id);
}

static int az_attestation(bpt_verified **out, void *state, const bpt_backend_deployment *d,
                          const uint8_t *nonce, size_t nonce_len)
{
    struct bpt_remote_state *z = state;
    char url[160];
    int rc = plane_url(url, sizeof(url), z, d->id);
    if (rc < 0) {
        return rc;
    }
    return bpt_runtime_attest_plane(out, url, NULL, z->verifier, nonce, nonce_len);
}

static int az_public_key(bpt_kx_client_key *out, void *state, const bpt_backend_deployment *d)
{
    struct bpt_remote_state *z = state; /* its verifier: runtime.c refused already without one */
    char url[160];
    int rc = plane_url(url, sizeof(url), z, d->id);
    if (rc < 0) {
        return rc;
    }
    return bpt_kx_client_session_key(out, url, z->verifier, NULL);
}

static int az_status(bpt_backend_state *out, void *state, const bpt_backend_deployment *d)
{
    struct arm a;
    struct vm v;
    int rc = arm_open(&a, state);
    if (rc == 0) {
        rc = get_vm(&v, &a, d->id);
    }
    arm_close(&a);
    if (rc < 0) {
        return rc;
    }
    if (!v.found || strcmp(v.provisioning, "Deleting") == 0) {
        *out = BPT_BACKEND_ABSENT;
    } else if (settling(v.provisioning) || strcmp(v.power, "starting") == 0) {
        *out = BPT_BACKEND_CREATED;
    } else if (strcmp(v.power, "running") == 0) {
        *out = BPT_BACKEND_RUNNING;
    } else {
        *out = BPT_BACKEND_EXITED; /* stopping, stopped, deallocating, deallocated, Failed */
    }
    return 0;
}

static int az_stop(void *state, const bpt_backend_deployment *d)
{
    struct arm a;
    struct vm v;
    int rc = arm_open(&a, state);
    int64_t deadline = bpt_mono_ms() + a.cfg.deploy_timeout_ms;
    if (rc == 0 && (rc = get_vm(&v, &a, d->id)) == 0 && v.found &&
        strcmp(v.power, "deallocated") != 0 && strcmp(v.provisioning, "Deleting") != 0) {
        rc = vm_action(&a, d->id, BPT_HTTP_POST, "deallocate", deadline);
    }
    arm_close(&a);
    return rc;
}

/* GET first, as stop does: a VM of the name without this deployment's tag is never deleted. */
static int az_destroy(void *state, const bpt_backend_deployment *d)
{
    struct arm a;
    struct vm v;
    int rc = arm_open(&a, state);
    int64_t deadline = bpt_mono_ms() + a.cfg.deploy_timeout_ms;
    if (rc == 0 && (rc = get_vm(&v, &a, d->id)) == 0 && v.found) {
        rc = vm_action(&a, d->id, BPT_HTTP_DELETE, "delete VM", deadline);
    }
    arm_close(&a);
    return rc;
}

static int az_list(void *state, bpt_backend_list_fn fn, void *ud)
{
    (void)state;
    (void)fn;
    (void)ud;
    return bpt_err(BPT_ENOTFOUND,
                   CLOUD ": not listed when the runtime opens (the subscription may hold other "
                         "stores' VMs); status asks ARM per deployment");
}

static const bpt_runtime_backend AZURE_CVM = {
    .version = BPT_RUNTIME_BACKEND_VERSION,
    .name = "azure_cvm",
    .init = az_init,
    .cleanup = bpt_remote_cleanup,
    .deploy = az_deploy,
    .attestation = az_attestation,
    .cached_attestation = NULL,
    .public_key = az_public_key,
    .status = az_status,
    .stop = az_stop,
    .destroy = az_destroy,
    .list = az_list,
    .plane_url = az_plane_url,
};

const bpt_runtime_backend *bpt_runtime_azure_cvm_backend(void)
{
    return &AZURE_CVM;
}
