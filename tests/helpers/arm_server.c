/* The loopback Azure (arm_server.h): identity platform token endpoint and ARM, in JSON. */
#include "helpers/arm_server.h"

#include "helpers/loop_http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#define MAX_VM 16
#define MAX_TOKENS 64
#define JSON_TYPE "application/json; charset=utf-8"
#define COMPUTE "api-version=2024-07-01"
#define NETWORK "api-version=2024-05-01"

struct vm {
    char name[64], sub[64], rg[96], location[48];
    char tag[40];
    char provisioning[24], power[24];
    char op[40];      /* the operation in progress ("" none) */
    char op_kind[16]; /* create, start, deallocate, delete */
    unsigned op_left; /* polls before it ends */
    bool op_fail;
    bool gone;
};

struct token {
    char value[80];
    bool expired;
};

struct bpt_arm_server {
    struct bpt_loop_server *loop;
    pthread_mutex_t mu;
    struct bpt_arm_knobs k;
    char tenant[64], client_id[64], secret[256];
    char *cert_pem;
    unsigned expire_seen;
    struct vm vm[MAX_VM];
    size_t n_vm;
    struct token tok[MAX_TOKENS];
    size_t n_tok;
    struct bpt_arm_stats st;
    unsigned seq;
};

/* ---- answers -------------------------------------------------------------------------------- */

static void send_json(int c, int status, const char *extra, json_t *o)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    bpt_loop_answer(c, status, JSON_TYPE, extra, text != NULL ? text : "");
    free(text);
    json_decref(o);
}

static void arm_error(int c, int status, const char *extra, const char *code, const char *msg)
{
    send_json(c, status, extra, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* The identity platform's error shape. */
static void aad_error(struct bpt_arm_server *s, int c, int status, const char *error, int code,
                      const char *desc)
{
    char d[512];
    s->st.logins_refused++;
    snprintf(d, sizeof(d),
             "AADSTS%d: %s\r\nTrace ID: 0d1f4e2a-0000-4000-8000-%012u\r\nCorrelation ID: "
             "6a1b2c3d-0000-4000-8000-000000000000\r\nTimestamp: 2026-12-05 00:00:00Z",
             code, desc, ++s->seq);
    send_json(c, status, NULL,
              json_pack("{s:s, s:s, s:[i], s:s, s:s, s:s, s:s}", "error", error,
                        "error_description", d, "error_codes", code, "timestamp",
                        "2026-12-05 00:00:00Z", "trace_id", "0d1f4e2a", "correlation_id",
                        "6a1b2c3d", "error_uri", "https://login.microsoftonline.com/error"));
}

/* ---- base64 ------------------------------------------------------------------------------- */

/* Standard or URL-safe base64 (padding optional) into @p out; -1 when malformed. */
static int b64_decode(unsigned char *out, size_t cap, const char *in, size_t n, bool url)
{
    char *t = malloc(n + 4);
    size_t m = 0, pad = 0;
    while (n > 0 && in[n - 1] == '=') {
        n--;
    }
    if (t == NULL || n % 4 == 1 || (n + 3) / 4 * 3 > cap) {
        free(t);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (url && (ch == '+' || ch == '/')) {
            free(t);
            return -1;
        }
        t[m++] = url && ch == '-' ? '+' : url && ch == '_' ? '/' : ch;
    }
    while (m % 4 != 0) {
        t[m++] = '=';
        pad++;
    }
    int len = EVP_DecodeBlock(out, (const unsigned char *)t, (int)m);
    free(t);
    return len < 0 ? -1 : len - (int)pad;
}

static void b64url_encode(char *out, const unsigned char *p, size_t n)
{
    int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    for (int i = 0; i < len; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    while (len > 0 && out[len - 1] == '=') {
        out[--len] = '\0';
    }
}

/* ---- login ---------------------------------------------------------------------------------- */

static json_t *jwt_part(const char *p, size_t n)
{
    unsigned char buf[4096];
    int len = b64_decode(buf, sizeof(buf), p, n, true);
    return len < 0 ? NULL : json_loadb((const char *)buf, (size_t)len, 0, NULL);
}

/* 0: the assertion is the registered certificate's, for this endpoint and client; else the
 * AADSTS code answered. */
static int check_assertion(struct bpt_arm_server *s, const char *jwt, const char *aud,
                           const char **why)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    json_t *hdr = NULL, *claims = NULL;
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char sig[1024];
    int code = 700027, sig_len;
    *why = "Client assertion failed signature validation.";
    if (d2 == NULL || s->cert_pem == NULL ||
        (sig_len = b64_decode(sig, sizeof(sig), d2 + 1, strlen(d2 + 1), true)) <= 0 ||
        (bio = BIO_new_mem_buf(s->cert_pem, -1)) == NULL ||
        (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
        (md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)) != 1 ||
        EVP_DigestVerify(md, sig, (size_t)sig_len, (const unsigned char *)jwt,
                         (size_t)(d2 - jwt)) != 1) {
        goto out;
    }
    hdr = jwt_part(jwt, (size_t)(d1 - jwt));
    claims = jwt_part(d1 + 1, (size_t)(d2 - d1 - 1));
    unsigned char *der = NULL, md256[32], md1[20];
    int dn = i2d_X509(cert, &der);
    char thumb[64], thumb1[64];
    SHA256(der, (size_t)dn, md256);
    SHA1(der, (size_t)dn, md1);
    OPENSSL_free(der);
    b64url_encode(thumb, md256, sizeof(md256));
    b64url_encode(thumb1, md1, sizeof(md1));
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *x5t = json_string_value(json_object_get(hdr, "x5t#S256"));
    const char *x5t1 = json_string_value(json_object_get(hdr, "x5t"));
    if (alg == NULL || strcmp(alg, "RS256") != 0 || x5t == NULL || strcmp(x5t, thumb) != 0 ||
        x5t1 == NULL || strcmp(x5t1, thumb1) != 0) {
        code = 700027;
        *why = "The certificate with identifier used to sign the client assertion is not "
               "registered on application.";
        goto out;
    }
    const char *caud = json_string_value(json_object_get(claims, "aud"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    json_int_t nbf = json_integer_value(json_object_get(claims, "nbf"));
    json_int_t exp = json_integer_value(json_object_get(claims, "exp"));
    json_int_t now = (json_int_t)time(NULL);
    if (caud == NULL || strcmp(caud, aud) != 0) {
        code = 700212;
        *why = "No matching federated identity record found for presented assertion audience.";
        goto out;
    }
    if (iss == NULL || sub == NULL || strcmp(iss, s->client_id) != 0 ||
        strcmp(sub, s->client_id) != 0 || jti == NULL || jti[0] == '\0') {
        code = 700021;
        *why = "Client assertion application identifier doesn't match 'client_id' parameter.";
        goto out;
    }
    if (nbf > now + 300 || exp < now || exp - nbf > 3600) {
        code = 700024;
        *why = "Client assertion is not within its valid time range.";
        goto out;
    }
    code = 0;
out:
    json_decref(hdr);
    json_decref(claims);
    EVP_MD_CTX_free(md);
    X509_free(cert);
    BIO_free(bio);
    return code;
}

static void login(struct bpt_arm_server *s, int c, const struct bpt_loop_req *r, const char *tenant)
{
    char v[8192], aud[256], want_scope[128];
    const char *b = r->body;
    snprintf(aud, sizeof(aud), "http://127.0.0.1:%u/%s/oauth2/v2.0/token", bpt_loop_port(s->loop),
             tenant);
    snprintf(want_scope, sizeof(want_scope), "http://127.0.0.1:%u/.default",
             bpt_loop_port(s->loop));
    if (strcmp(tenant, s->tenant) != 0) {
        aad_error(s, c, 400, "invalid_request", 90002, "Tenant not found.");
        return;
    }
    if (!bpt_loop_form(b, "grant_type", v, sizeof(v)) || strcmp(v, "client_credentials") != 0) {
        aad_error(s, c, 400, "unsupported_grant_type", 70003,
                  "The app requested an unsupported grant type.");
        return;
    }
    if (!bpt_loop_form(b, "client_id", v, sizeof(v)) || strcmp(v, s->client_id) != 0) {
        aad_error(s, c, 400, "unauthorized_client", 700016,
                  "Application with identifier was not found in the directory.");
        return;
    }
    if (!bpt_loop_form(b, "scope", v, sizeof(v)) || strcmp(v, want_scope) != 0) {
        aad_error(s, c, 400, "invalid_scope", 1002012,
                  "The provided value for scope is not valid.");
        return;
    }
    if (bpt_loop_form(b, "client_secret", v, sizeof(v))) {
        if (s->k.secret == NULL || strcmp(v, s->secret) != 0) {
            aad_error(s, c, 401, "invalid_client", 7000215,
                      "Invalid client secret provided. Ensure the secret being sent in the "
                      "request is the client secret value, not the client secret ID.");
            return;
        }
        if (s->k.secret_expired) {
            aad_error(s, c, 401, "invalid_client", 7000222,
                      "The provided client secret keys for app are expired.");
            return;
        }
    } else if (bpt_loop_form(b, "client_assertion_type", v, sizeof(v)) &&
               strcmp(v, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == 0 &&
               bpt_loop_form(b, "client_assertion", v, sizeof(v))) {
        const char *why = NULL;
        int code = check_assertion(s, v, aud, &why);
        if (code != 0) {
            aad_error(s, c, 401, "invalid_client", code, why);
            return;
        }
        s->st.assertions++;
    } else {
        aad_error(s, c, 401, "invalid_client", 7000218,
                  "The request body must contain the following parameter: 'client_assertion' or "
                  "'client_secret'.");
        return;
    }
    struct token *t = &s->tok[s->n_tok < MAX_TOKENS ? s->n_tok++ : MAX_TOKENS - 1];
    unsigned char rnd[24];
    char enc[40];
    RAND_bytes(rnd, sizeof(rnd));
    b64url_encode(enc, rnd, sizeof(rnd));
    snprintf(t->value, sizeof(t->value), "eyJ0eXAi.azsim-tok-%u.%s", ++s->seq, enc);
    t->expired = s->k.tokens_expire;
    s->st.logins++;
    send_json(c, 200, NULL,
              json_pack("{s:s, s:i, s:i, s:s}", "token_type", s->k.mac_token ? "mac" : "Bearer",
                        "expires_in", 3599, "ext_expires_in", 3599, "access_token", t->value));
}

/* ---- ARM ------------------------------------------------------------------------------------ */

/* 0: the bearer token is good; else the 401 was answered. */
static int check_bearer(struct bpt_arm_server *s, int c, const struct bpt_loop_req *r)
{
    const char *auth = bpt_loop_header(r, "authorization");
    const char *extra =
        "WWW-Authenticate: Bearer authorization_uri=\"https://login.windows.net/\", "
        "error=\"invalid_token\", error_description=\"The authentication failed "
        "because of missing 'Authorization' header.\"\r\n";
    if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0) {
        for (size_t i = 0; i < s->n_tok; i++) {
            if (strcmp(s->tok[i].value, auth + 7) == 0) {
                if (!s->tok[i].expired) {
                    return 0;
                }
                s->st.refused++;
                arm_error(c, 401, extra, "ExpiredAuthenticationToken",
                          "The access token expiry UTC time '12/5/2026 12:00:00 AM' is earlier "
                          "than current UTC time '12/5/2026 1:00:00 AM'.");
                return -1;
            }
        }
    }
    s->st.refused++;
    arm_error(c, 401, extra, "InvalidAuthenticationToken", "The access token is invalid.");
    return -1;
}

static struct vm *find_vm(struct bpt_arm_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_vm; i++) {
        if (!s->vm[i].gone && strcmp(s->vm[i].name, name) == 0) {
            return &s->vm[i];
        }
    }
    return NULL;
}

static struct vm *vm_by_op(struct bpt_arm_server *s, const char *op)
{
    for (size_t i = 0; i < s->n_vm; i++) {
        if (strcmp(s->vm[i].op, op) == 0) {
            return &s->vm[i];
        }
    }
    return NULL;
}

/* One poll of the VM's operation: it ends when its polls are used up. */
static void advance(struct vm *v)
{
    if (v->op[0] == '\0' || strcmp(v->op_kind, "done") == 0 || strcmp(v->op_kind, "failed") == 0) {
        return;
    }
    if (v->op_left > 0) {
        v->op_left--;
        return;
    }
    if (strcmp(v->op_kind, "create") == 0) {
        snprintf(v->provisioning, sizeof(v->provisioning), v->op_fail ? "Failed" : "Succeeded");
        snprintf(v->power, sizeof(v->power), v->op_fail ? "stopped" : "running");
    } else if (strcmp(v->op_kind, "start") == 0) {
        snprintf(v->power, sizeof(v->power), "running");
    } else if (strcmp(v->op_kind, "deallocate") == 0) {
        snprintf(v->power, sizeof(v->power), "deallocated");
    } else {
        v->gone = true;
    }
    snprintf(v->op_kind, sizeof(v->op_kind), "%s", v->op_fail ? "failed" : "done");
}

static void op_headers(char *out, size_t cap, struct bpt_arm_server *s, const struct vm *v)
{
    unsigned port = bpt_loop_port(s->loop);
    char async[512] = "";
    if (!s->k.location_only) {
        snprintf(async, sizeof(async),
                 "Azure-AsyncOperation: http://%s:%u/subscriptions/%s/providers/"
                 "Microsoft.Compute/locations/%s/operations/%s?p=bpt&" COMPUTE "\r\n",
                 s->k.foreign_async ? "127.0.0.2" : "127.0.0.1", port, v->sub, v->location, v->op);
    }
    snprintf(out, cap,
             "%sLocation: http://127.0.0.1:%u/subscriptions/%s/providers/Microsoft.Compute/"
             "locations/%s/operations/%s?monitor=true&p=bpt&" COMPUTE "\r\nRetry-After: 0\r\n",
             async, port, v->sub, v->location, v->op);
}

static void start_op(struct bpt_arm_server *s, struct vm *v, const char *kind)
{
    unsigned seq = ++s->seq;
    snprintf(v->op, sizeof(v->op), "%08x-0000-4000-8000-%012u", seq, seq);
    snprintf(v->op_kind, sizeof(v->op_kind), "%s", kind);
    v->op_left = s->k.pending_polls;
    v->op_fail = strcmp(kind, "create") == 0 && s->k.fail_create;
}

static json_t *vm_json(const struct bpt_arm_server *s, const struct vm *v)
{
    char id[512], ps[48], pw[48];
    snprintf(id, sizeof(id),
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s",
             v->sub, v->rg, v->name);
    snprintf(ps, sizeof(ps), "ProvisioningState/%s", v->provisioning);
    snprintf(pw, sizeof(pw), "PowerState/%s", v->power);
    for (char *p = ps; *p != '\0'; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' && p > ps + 17 ? *p + 32 : *p);
    }
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:{s:s}, s:{s:s, s:{s:b, s:b}}, "
        "s:{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}}}",
        "name", v->name, "id", id, "type", "Microsoft.Compute/virtualMachines", "location",
        v->location, "tags", "bpt-deployment", s->k.foreign_tag ? "0123456789abcdef" : v->tag,
        "properties", "provisioningState", v->provisioning, "hardwareProfile", "vmSize",
        "Standard_DC4as_v5", "securityProfile", "securityType",
        s->k.trusted_launch ? "TrustedLaunch" : "ConfidentialVM", "uefiSettings",
        "secureBootEnabled", 1, "vTpmEnabled", 1, "instanceView", "computerName", v->name,
        "statuses", "code", ps, "level", "Info", "displayStatus", "Provisioning succeeded", "code",
        pw, "level", "Info", "displayStatus", v->power);
}

/* The PUT's body, checked as ARM would; NULL after answering 400. */
static bool check_put(struct bpt_arm_server *s, int c, json_t *o, struct vm *v)
{
    json_t *p = json_object_get(o, "properties");
    json_t *sec = json_object_get(p, "securityProfile");
    json_t *uefi = json_object_get(sec, "uefiSettings");
    json_t *disk = json_object_get(json_object_get(p, "storageProfile"), "osDisk");
    const char *enc = json_string_value(
        json_object_get(json_object_get(json_object_get(disk, "managedDisk"), "securityProfile"),
                        "securityEncryptionType"));
    const char *loc = json_string_value(json_object_get(o, "location"));
    const char *size =
        json_string_value(json_object_get(json_object_get(p, "hardwareProfile"), "vmSize"));
    const char *ud =
        json_string_value(json_object_get(json_object_get(p, "osProfile"), "customData"));
    const char *nic = json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(p, "networkProfile"), "networkInterfaces"),
                       0),
        "id"));
    const char *tag =
        json_string_value(json_object_get(json_object_get(o, "tags"), "bpt-deployment"));
    bool conf =
        json_is_true(json_object_get(uefi, "secureBootEnabled")) &&
        json_is_true(json_object_get(uefi, "vTpmEnabled")) &&
        json_string_value(json_object_get(sec, "securityType")) != NULL &&
        strcmp(json_string_value(json_object_get(sec, "securityType")), "ConfidentialVM") == 0;
    if (loc == NULL || size == NULL || ud == NULL || nic == NULL || tag == NULL ||
        json_object_get(json_object_get(p, "storageProfile"), "imageReference") == NULL) {
        arm_error(c, 400, NULL, "InvalidParameter",
                  "Required parameter is missing (location, vmSize, customData, "
                  "networkInterfaces, imageReference or the tag).");
        return false;
    }
    if (conf && enc == NULL) {
        arm_error(c, 400, NULL, "InvalidParameter",
                  "Required parameter 'securityEncryptionType' is missing (null).");
        return false;
    }
    s->st.last_confidential = conf;
    snprintf(s->st.last_encryption, sizeof(s->st.last_encryption), "%s", enc ? enc : "");
    int n = b64_decode((unsigned char *)s->st.last_custom_data, sizeof(s->st.last_custom_data) - 1,
                       ud, strlen(ud), false);
    s->st.last_custom_data[n > 0 ? n : 0] = '\0';
    snprintf(v->location, sizeof(v->location), "%s", loc);
    snprintf(v->tag, sizeof(v->tag), "%s", tag);
    return true;
}

static void vm_request(struct bpt_arm_server *s, int c, const struct bpt_loop_req *r,
                       const char *sub, const char *rg, const char *name, const char *action)
{
    struct vm *v = find_vm(s, name);
    char hdrs[2048];
    if (s->k.no_group) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Resource group '%.96s' could not be found.", rg);
        arm_error(c, 404, NULL, "ResourceGroupNotFound", msg);
        return;
    }
    if (strcmp(r->method, "PUT") == 0 && action[0] == '\0') {
        json_t *o = json_loads(r->body, 0, NULL);
        struct vm nv;
        memset(&nv, 0, sizeof(nv));
        s->st.puts++;
        if (!json_is_object(o)) {
            json_decref(o);
            arm_error(c, 400, NULL, "InvalidRequestContent", "The request content was invalid.");
            return;
        }
        bool ok = check_put(s, c, o, v != NULL ? v : &nv);
        json_decref(o);
        if (!ok) {
            return;
        }
        if (v == NULL) {
            if (s->n_vm == MAX_VM) {
                arm_error(c, 409, NULL, "OperationNotAllowed", "Quota exceeded.");
                return;
            }
            v = &s->vm[s->n_vm++];
            *v = nv;
            snprintf(v->name, sizeof(v->name), "%s", name);
            snprintf(v->sub, sizeof(v->sub), "%s", sub);
            snprintf(v->rg, sizeof(v->rg), "%s", rg);
            snprintf(v->provisioning, sizeof(v->provisioning), "Creating");
            snprintf(v->power, sizeof(v->power), "starting");
            start_op(s, v, "create");
            s->st.created++;
            op_headers(hdrs, sizeof(hdrs), s, v);
            send_json(c, 201, hdrs, vm_json(s, v));
            return;
        }
        op_headers(hdrs, sizeof(hdrs), s, v);
        send_json(c, 200, hdrs, vm_json(s, v));
        return;
    }
    if (v == NULL) {
        if (strcmp(r->method, "DELETE") == 0) {
            bpt_loop_answer(c, 204, JSON_TYPE, NULL, "");
            return;
        }
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "The Resource 'Microsoft.Compute/virtualMachines/%s' under resource group '%s' "
                 "was not found. For more details please go to "
                 "https://aka.ms/ARMResourceNotFoundFix",
                 name, rg);
        arm_error(c, 404, NULL, "ResourceNotFound", msg);
        return;
    }
    if (strcmp(r->method, "GET") == 0 && action[0] == '\0') {
        advance(v);
        send_json(c, 200, NULL, vm_json(s, v));
        return;
    }
    if (strcmp(r->method, "DELETE") == 0 && action[0] == '\0') {
        s->st.deletes++;
        snprintf(v->provisioning, sizeof(v->provisioning), "Deleting");
        start_op(s, v, "delete");
    } else if (strcmp(r->method, "POST") == 0 && strcmp(action, "/start") == 0) {
        s->st.starts++;
        snprintf(v->power, sizeof(v->power), "starting");
        start_op(s, v, "start");
    } else if (strcmp(r->method, "POST") == 0 && strcmp(action, "/deallocate") == 0) {
        s->st.deallocates++;
        snprintf(v->power, sizeof(v->power), "deallocating");
        start_op(s, v, "deallocate");
    } else {
        arm_error(c, 405, NULL, "MethodNotAllowed", "The method is not allowed here.");
        return;
    }
    op_headers(hdrs, sizeof(hdrs), s, v);
    bpt_loop_answer(c, 202, JSON_TYPE, hdrs, "");
}

static void op_request(struct bpt_arm_server *s, int c, const char *op, bool monitor)
{
    struct vm *v = vm_by_op(s, op);
    if (v == NULL) {
        arm_error(c, 404, NULL, "NotFound", "The operation was not found.");
        return;
    }
    s->st.op_polls++;
    advance(v);
    const char *status = strcmp(v->op_kind, "done") == 0     ? "Succeeded"
                         : strcmp(v->op_kind, "failed") == 0 ? "Failed"
                                                             : "InProgress";
    if (monitor) {
        bpt_loop_answer(c, strcmp(status, "InProgress") == 0 ? 202 : 200, JSON_TYPE,
                        "Retry-After: 0\r\n", "");
        return;
    }
    if (s->k.garbled_ops) {
        bpt_loop_answer(c, 200, "text/html", NULL, "<html><body>Service busy</body></html>");
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "startTime", "2026-12-05T00:00:00.0000000+00:00",
                          "status", status, "name", op);
    if (strcmp(status, "Failed") == 0) {
        json_object_set_new(o, "error",
                            json_pack("{s:s, s:s}", "code", "OSProvisioningTimedOut", "message",
                                      "OS Provisioning for VM did not finish in the allotted "
                                      "time."));
    }
    send_json(c, 200, strcmp(status, "InProgress") == 0 ? "Retry-After: 0\r\n" : NULL, o);
}

static void nic_request(struct bpt_arm_server *s, int c, const char *path)
{
    char pip[512];
    const char *prov = strstr(path, "/providers/");
    snprintf(pip, sizeof(pip), "%.*s/providers/Microsoft.Network/publicIPAddresses/bpt-ip",
             (int)(prov - path), path);
    (void)s;
    send_json(c, 200, NULL,
              json_pack("{s:s, s:s, s:{s:s, s:[{s:s, s:{s:s, s:s, s:{s:s}, s:b}}]}}", "name",
                        strrchr(path, '/') + 1, "id", path, "properties", "provisioningState",
                        "Succeeded", "ipConfigurations", "name", "ipconfig1", "properties",
                        "privateIPAddress", "127.0.0.1", "privateIPAllocationMethod", "Dynamic",
                        "publicIPAddress", "id", pip, "primary", 1));
}

static void handle(void *ud, int c, const struct bpt_loop_req *r)
{
    struct bpt_arm_server *s = ud;
    char path[1024], query[1024] = "", sub[64], rg[96], name[64], rest[128] = "", tenant[64];
    pthread_mutex_lock(&s->mu);
    snprintf(path, sizeof(path), "%s", r->target);
    char *q = strchr(path, '?');
    if (q != NULL) {
        snprintf(query, sizeof(query), "%s", q + 1);
        *q = '\0';
    }
    const char *tok_path = strstr(path, "/oauth2/v2.0/token");
    if (strcmp(r->method, "POST") == 0 && tok_path != NULL &&
        strcmp(tok_path, "/oauth2/v2.0/token") == 0 && sscanf(path, "/%63[^/]", tenant) == 1 &&
        strlen(tenant) + 1 == (size_t)(tok_path - path)) {
        login(s, c, r, tenant);
        goto out;
    }
    s->st.requests++;
    if (check_bearer(s, c, r) != 0) {
        goto out;
    }
    if (s->k.throttle_forever || s->k.throttle_429 > 0) {
        s->k.throttle_429 -= s->k.throttle_429 > 0;
        s->st.throttled++;
        arm_error(c, 429, "Retry-After: 0\r\n", "TooManyRequests",
                  "The request is being throttled as the limit has been reached for operation "
                  "type - Read_30Min.");
        goto out;
    }
    if (s->k.throttle_503 > 0) {
        s->k.throttle_503--;
        s->st.throttled++;
        arm_error(c, 503, "Retry-After: 1\r\n", "ServiceUnavailable",
                  "The service is temporarily unavailable.");
        goto out;
    }
    char api[64] = "";
    bool compute =
        bpt_loop_form(query, "api-version", api, sizeof(api)) && strcmp(api, "2024-07-01") == 0;
    bool network = strcmp(api, "2024-05-01") == 0;
    char op[64];
    if (sscanf(path,
               "/subscriptions/%63[^/]/resourceGroups/%95[^/]/providers/Microsoft.Compute/"
               "virtualMachines/%63[^/]%127s",
               sub, rg, name, rest) >= 3 &&
        compute) {
        vm_request(s, c, r, sub, rg, name, rest);
    } else if (sscanf(path,
                      "/subscriptions/%63[^/]/providers/Microsoft.Compute/locations/%*[^/]/"
                      "operations/%63s",
                      sub, op) == 2 &&
               compute && strcmp(r->method, "GET") == 0) {
        op_request(s, c, op, strstr(query, "monitor=true") != NULL);
    } else if (strstr(path, "/providers/Microsoft.Network/networkInterfaces/") != NULL && network &&
               strcmp(r->method, "GET") == 0) {
        nic_request(s, c, path);
    } else if (strstr(path, "/providers/Microsoft.Network/publicIPAddresses/") != NULL && network &&
               strcmp(r->method, "GET") == 0) {
        send_json(c, 200, NULL,
                  json_pack("{s:s, s:{s:s, s:s, s:s}}", "name", strrchr(path, '/') + 1,
                            "properties", "provisioningState", "Succeeded", "ipAddress",
                            "127.0.0.1", "publicIPAllocationMethod", "Static"));
    } else if (!compute && !network) {
        arm_error(c, 400, NULL, "InvalidApiVersionParameter",
                  "The api-version is invalid or not supported for this resource type.");
    } else {
        arm_error(c, 404, NULL, "InvalidResourceType",
                  "The resource type could not be found in the namespace.");
    }
out:
    pthread_mutex_unlock(&s->mu);
}

/* ---- the server ------------------------------------------------------------------------------ */

static void set_locked(struct bpt_arm_server *s, const struct bpt_arm_knobs *k)
{
    snprintf(s->tenant, sizeof(s->tenant), "%s", k->tenant ? k->tenant : "");
    snprintf(s->client_id, sizeof(s->client_id), "%s", k->client_id ? k->client_id : "");
    snprintf(s->secret, sizeof(s->secret), "%s", k->secret ? k->secret : "");
    free(s->cert_pem);
    s->cert_pem = k->cert_pem != NULL ? strdup(k->cert_pem) : NULL;
    if (k->expire_now != s->expire_seen) {
        for (size_t i = 0; i < s->n_tok; i++) {
            s->tok[i].expired = true;
        }
        s->expire_seen = k->expire_now;
    }
    s->k = *k;
    for (size_t i = 0; i < s->n_vm; i++) {
        if (s->vm[i].op_left > k->pending_polls) {
            s->vm[i].op_left = k->pending_polls;
        }
    }
}

void bpt_arm_server_set(struct bpt_arm_server *s, const struct bpt_arm_knobs *k)
{
    pthread_mutex_lock(&s->mu);
    set_locked(s, k);
    pthread_mutex_unlock(&s->mu);
}

int bpt_arm_server_start(struct bpt_arm_server **out, const struct bpt_arm_knobs *k)
{
    struct bpt_arm_server *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL) {
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    set_locked(s, k);
    if (bpt_loop_start(&s->loop, handle, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s->cert_pem);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

uint16_t bpt_arm_server_port(const struct bpt_arm_server *s)
{
    return bpt_loop_port(s->loop);
}

void bpt_arm_server_stats(const struct bpt_arm_server *s, struct bpt_arm_stats *out)
{
    struct bpt_arm_server *m = (struct bpt_arm_server *)s;
    pthread_mutex_lock(&m->mu);
    *out = s->st;
    out->live = 0;
    for (size_t i = 0; i < s->n_vm; i++) {
        out->live += !s->vm[i].gone;
    }
    if (s->n_vm > 0) {
        snprintf(out->last_power, sizeof(out->last_power), "%s", s->vm[s->n_vm - 1].power);
    }
    pthread_mutex_unlock(&m->mu);
}

void bpt_arm_server_stop(struct bpt_arm_server *s)
{
    if (s == NULL) {
        return;
    }
    bpt_loop_stop(s->loop);
    pthread_mutex_destroy(&s->mu);
    free(s->cert_pem);
    free(s);
}
