/* The loopback token endpoint and Compute Engine (gce_server.h), over libmicrohttpd. */
#include "helpers/gce_server.h"

#include <microhttpd.h>
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
#include <openssl/rsa.h>

#define KEY_ID "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define BODY_MAX (256 * 1024)
#define MAX_INST 32
#define MAX_OPS 128
#define MAX_TOKENS 256

/* The service account's key: a fixed RSA-2048 test key (made with openssl genpkey; making one
 * at start costs seconds under valgrind). Never a real account's. */
static const char ACCOUNT_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAMKysqzvUOEPK\n"
    "skvRdFDibGZZ4U3GnjadlPfQWuuP6GPqXi1134UWiRUm8lIbDIQIOng0wKQgh+DR\n"
    "wFxpU+b1BVHK8ML0YUChzgFC544ja6XOSX1uG7W0eYkC5y7E6riTCOyMtSxpwN2W\n"
    "De7REA5jlkJGwpr0gi+BFRko6mU1XdnY+Ovwmm9JpnP/Q8YbpawE11rErm9I68UI\n"
    "5nGhWJI6c3xk7it7VGmVQJZHsBknxYsOhirP2bASTZ+xqrZk+ZGrZBwRfqR6c1fj\n"
    "gVD/fV89ksrfIZ89gCiOzfQhZx4SHAV8Ek5tO2NsSZD+BW9x2JUgGogZoZuHztch\n"
    "xnt+khZ5AgMBAAECggEAAd1HA4rKswmTsMbvgNnnwfaKvKL4oe1desRb7g+/ur7m\n"
    "nzqoJr1TGW+dfqn5nW0O59SHX32h6fXferFqxBPOCQDy9OzGe1/pJFiu/vLnmFTe\n"
    "QCTK3HNU3SoTp+1NsRfU0ApVXx0Pz/vQuniqoSkOdq1Zub2ACtCrfM1TV+gEMNMS\n"
    "rZcAzVUdihdoc9kMFujvrDCR/SNjnzwBVYiMc2Lvopwr+j+8J4xHIwHb74sKvYdO\n"
    "siGXQIJFRsJiKrETq0JNy32APWlzbddBZHyKTLohGV6o4YKzQT2VXHYBJTkh/WfI\n"
    "IO1uFZtEMBuesxF5NUC/hpov0/jRjPIYuXJhp4LUoQKBgQDv6tzKliHXoTMBF8vm\n"
    "LZ/eLVDkLyNwa50/5wtp8l/pTqEVIiIgF+n+sQS/d8TKvuoh0ZqeeKeDFKpxFYXX\n"
    "jQPSKiuI3Q6CCJGyXfKYNjdbqk9z5L8d3AOx8BcHT8a4ak1gJx25AcOFbDJqZG9K\n"
    "XIVvtqXh702jbHs4FGYAzPpeyQKBgQDNEsfqDUqjdB/gVBb0yREleTOkTeqGndWW\n"
    "714BkZ8oJci0NB1SpfwcdOVjSLr40B+steitBIm+Pk2K/kxjfXhLHT0c9FYGV26W\n"
    "083TjpzCcW9U5Wm/UNcf7TB9Y0hTuJwyfEsNmnCZ5f52wcjFQaL29puix4Nf/au9\n"
    "CLQYFPViMQKBgQCe47Fj7bfuAZEw2RytjWvCDcrzxBA5ZNvYtWBGw0En124w+9ET\n"
    "5iKPDZcyYtSO3Y9b5F/9MbTmx+n1SKbCUV7Fci4wzw3LqncrZLLEgat55roF6+ly\n"
    "kgJUdsgZjIj0G1qxIla57uQZWcWt1mQqIEoy6QjFL+IAKFkWk9PWFep+mQKBgCKP\n"
    "qLuMU+jqODkRUvEcNdSP8aEeNIlNbmLKopg3F5CnlYSxR8PXD38oQESUTFaElOIB\n"
    "ol4OZrx2OZFUPEGEMtLN8a/AigL1l0C6H3UpEsg+X9n58/F3SVorGkH3iof5k/F6\n"
    "Oxfm0FVPiqwvCowb/MAMXbx4TW7PDLOGFPv+BEDxAoGAZxHLr/LgpZyGuff8H1EZ\n"
    "TqyBTW8NhgSeM/RSJHXBAyTuIZGHvDStFda2nIXt0ngdpjeqnQ7ZW6DNyQX+4QL7\n"
    "0/WAGckE7TRAKDRF6rZHaU7tPHKeyJpebRKeDOWhnVCO4/72JyNV9BFdd+9Zz01o\n"
    "uHcURbT0BMpG1H5Nq4OVHZQ=\n"
    "-----END PRIVATE KEY-----\n";

struct inst {
    char name[64];
    char status[24];
    char request_id[64];
    unsigned staging_left, hidden_left;
    bool public_ip, exists;
};

struct op {
    char name[64];
    char type[16]; /* insert, start, stop, delete */
    char target[64];
    unsigned polls_left;
    bool done, failed;
};

struct token {
    char value[80];
    unsigned uses;
};

struct bpt_gce_server {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    EVP_PKEY *key, *other;
    struct bpt_gce_knobs k;
    struct inst inst[MAX_INST];
    size_t n_inst;
    struct op ops[MAX_OPS];
    size_t n_ops;
    struct token tokens[MAX_TOKENS];
    size_t n_tokens;
    unsigned seq;
    struct bpt_gce_stats st;
};

struct upload {
    char *data;
    size_t len;
    bool over;
};

/* ---- answers ------------------------------------------------------------------------------ */

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j,
                                 const char *retry_after)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL) {
        return MHD_NO;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json; charset=UTF-8");
    if (retry_after != NULL) {
        MHD_add_response_header(r, "Retry-After", retry_after);
    }
    enum MHD_Result res = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return res;
}

/* Google's API error shape. */
static enum MHD_Result api_error(struct MHD_Connection *c, unsigned code, const char *status,
                                 const char *reason, const char *message, const char *retry_after)
{
    return send_json(c, code,
                     json_pack("{s:{s:i, s:s, s:[{s:s, s:s, s:s}], s:s}}", "error", "code", code,
                               "message", message, "errors", "message", message, "domain", "global",
                               "reason", reason, "status", status),
                     retry_after);
}

static enum MHD_Result grant_error(struct bpt_gce_server *s, struct MHD_Connection *c,
                                   const char *desc)
{
    s->st.token_refused++;
    return send_json(
        c, 400, json_pack("{s:s, s:s}", "error", "invalid_grant", "error_description", desc), NULL);
}

/* ---- the token endpoint ------------------------------------------------------------------- */

/* base64url (no padding) into @p out (at most @p cap bytes); -1 when not base64url. */
static long b64url(uint8_t *out, size_t cap, const char *s, size_t n)
{
    char *t = malloc(n + 4);
    if (t == NULL || n % 4 == 1) {
        free(t);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '-') {
            ch = '+';
        } else if (ch == '_') {
            ch = '/';
        } else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9'))) {
            free(t);
            return -1;
        }
        t[i] = ch;
    }
    size_t m = n;
    while (m % 4 != 0) {
        t[m++] = '=';
    }
    if (m / 4 * 3 > cap) {
        free(t);
        return -1;
    }
    int got = EVP_DecodeBlock(out, (const unsigned char *)t, (int)m);
    free(t);
    return got < 0 ? -1 : (long)(got - (long)(m - n));
}

static json_t *b64url_json(const char *s, size_t n)
{
    uint8_t buf[4096];
    long got = b64url(buf, sizeof(buf), s, n);
    return got < 0 ? NULL
                   : json_loadb((const char *)buf, (size_t)got, JSON_REJECT_DUPLICATES, NULL);
}

/* The form value of @p key, percent-decoded into a new string. */
static char *form_value(const char *body, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = body; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            char *out = malloc(n), *o = out;
            for (size_t i = kl + 1; out != NULL && i < n; i++) {
                unsigned v;
                if (p[i] == '%' && i + 2 < n + 1 && sscanf(p + i + 1, "%2x", &v) == 1) {
                    *o++ = (char)v;
                    i += 2;
                } else {
                    *o++ = p[i] == '+' ? ' ' : p[i];
                }
            }
            if (out != NULL) {
                *o = '\0';
            }
            return out;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

static const char *str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "";
}

static enum MHD_Result token(struct bpt_gce_server *s, struct MHD_Connection *c, const char *body)
{
    char *grant = form_value(body, "grant_type"), *jwt = form_value(body, "assertion");
    json_t *hdr = NULL, *cl = NULL;
    const char *why = NULL;
    char uri[64];
    enum MHD_Result r;

    snprintf(uri, sizeof(uri), "http://127.0.0.1:%u/token", s->port);
    if (s->k.token_503 > 0) {
        s->k.token_503--;
        s->st.throttled++;
        r = send_json(c, 503, json_pack("{s:s}", "error", "temporarily_unavailable"), "0");
        goto out;
    }
    if (s->k.odd == BPT_GCE_ODD_ESCAPES) {
        s->st.token_refused++;
        r = send_json(c, 400,
                      json_pack("{s:s, s:s}", "error", "invalid_grant\x1b[2J\n",
                                "error_description", "refused\x1b]0;title\x07"),
                      NULL);
        goto out;
    }
    if (grant == NULL || strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0) {
        s->st.token_refused++;
        r = send_json(c, 400,
                      json_pack("{s:s, s:s}", "error", "unsupported_grant_type",
                                "error_description", "Invalid grant_type: "),
                      NULL);
        goto out;
    }
    const char *d1 = jwt != NULL ? strchr(jwt, '.') : NULL;
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || strchr(d2 + 1, '.') != NULL ||
        (hdr = b64url_json(jwt, (size_t)(d1 - jwt))) == NULL ||
        (cl = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
        why = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
              "timeframe. Check your iat and exp values in the JWT claim.";
        r = grant_error(s, c, why);
        goto out;
    }
    /* the signature over header.claims with the account's public key */
    uint8_t sig[1024];
    long sig_len = b64url(sig, sizeof(sig), d2 + 1, strlen(d2 + 1));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok =
        sig_len > 0 && md != NULL &&
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, s->key) == 1 &&
        EVP_DigestVerify(md, sig, (size_t)sig_len, (const uint8_t *)jwt, (size_t)(d2 - jwt)) == 1;
    EVP_MD_CTX_free(md);
    json_int_t iat = json_integer_value(json_object_get(cl, "iat"));
    json_int_t exp = json_integer_value(json_object_get(cl, "exp"));
    json_int_t now = (json_int_t)time(NULL);
    if (!ok || strcmp(str(hdr, "alg"), "RS256") != 0 || strcmp(str(hdr, "kid"), KEY_ID) != 0) {
        why = "Invalid JWT Signature.";
    } else if (strcmp(str(hdr, "typ"), "JWT") != 0) {
        why = "Invalid JWT: the header's typ is not JWT";
    } else if (strcmp(str(cl, "iss"), BPT_GCE_EMAIL) != 0) {
        why = "Invalid grant: account not found";
    } else if (strcmp(str(cl, "scope"), SCOPE) != 0) {
        why = "Invalid OAuth scope or ID token audience provided.";
    } else if (strcmp(str(cl, "aud"), uri) != 0) {
        why = "Invalid JWT audience.";
    } else if (iat == 0 || exp <= iat || exp - iat > 3600 || iat > now + 300 || exp < now) {
        why = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
              "timeframe. Check your iat and exp values in the JWT claim.";
    }
    if (why != NULL) {
        r = grant_error(s, c, why);
        goto out;
    }
    uint8_t rnd[24];
    char hex[49];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1 || s->n_tokens == MAX_TOKENS) {
        r = send_json(c, 500, json_pack("{s:s}", "error", "internal_failure"), NULL);
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    }
    struct token *t = &s->tokens[s->n_tokens++];
    snprintf(t->value, sizeof(t->value), "ya29.c.%s", hex);
    t->uses = 0;
    snprintf(s->st.last_token, sizeof(s->st.last_token), "%s", t->value);
    s->st.tokens++;
    r = send_json(c, 200,
                  json_pack("{s:s, s:i, s:s}", "access_token", t->value, "expires_in", 3599,
                            "token_type", s->k.odd == BPT_GCE_ODD_TOKEN ? "mac" : "Bearer"),
                  NULL);
out:
    json_decref(hdr);
    json_decref(cl);
    free(grant);
    free(jwt);
    return r;
}

/* ---- Compute ------------------------------------------------------------------------------ */

static bool authorised(struct bpt_gce_server *s, struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (s->k.refuse_tokens || a == NULL || strncmp(a, "Bearer ", 7) != 0) {
        return false;
    }
    for (size_t i = 0; i < s->n_tokens; i++) {
        struct token *t = &s->tokens[i];
        if (strcmp(t->value, a + 7) == 0) {
            if (s->k.token_uses > 0 && t->uses >= s->k.token_uses) {
                return false; /* expired */
            }
            t->uses++;
            return true;
        }
    }
    return false;
}

static struct inst *find(struct bpt_gce_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_inst; i++) {
        if (s->inst[i].exists && strcmp(s->inst[i].name, name) == 0) {
            return &s->inst[i];
        }
    }
    return NULL;
}

static json_t *op_json(const struct bpt_gce_server *s, const struct op *o)
{
    char zone[160], target[256];
    snprintf(zone, sizeof(zone),
             "https://www.googleapis.com/compute/v1/projects/" BPT_GCE_PROJECT "/zones/%s",
             "europe-west4-a");
    snprintf(target, sizeof(target), "%s/instances/%s", zone, o->target);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "kind",
                          "compute#operation", "id", "4720536102841122601", "name", o->name, "zone",
                          zone, "operationType", o->type, "targetLink", target, "status",
                          o->done                             ? "DONE"
                          : s->k.odd == BPT_GCE_ODD_OP_STATUS ? "ABORTING"
                          : o->polls_left + 1 > s->k.op_polls ? "PENDING"
                                                              : "RUNNING",
                          "progress", o->done ? 100 : 0, "user", BPT_GCE_EMAIL);
    if (s->k.odd == BPT_GCE_ODD_OP_NAME) {
        json_object_set_new(j, "name", json_string("operation-1/../../instances/x"));
    }
    if (o->done && s->k.odd == BPT_GCE_ODD_OP_ERROR) {
        json_object_set_new(j, "error", json_object());
    }
    if (o->done && o->failed) {
        json_object_set_new(
            j, "error",
            json_pack("{s:[{s:s, s:s}]}", "errors", "code", "ZONE_RESOURCE_POOL_EXHAUSTED",
                      "message",
                      "The zone 'projects/" BPT_GCE_PROJECT "/zones/europe-west4-a' does not "
                      "have enough resources available to fulfill the request.  Try a different "
                      "zone, or try again later."));
        json_object_set_new(j, "httpErrorStatusCode", json_integer(503));
        json_object_set_new(j, "httpErrorMessage", json_string("SERVICE UNAVAILABLE"));
    }
    return j;
}

static void op_finish(struct bpt_gce_server *s, struct op *o)
{
    struct inst *in = find(s, o->target);
    o->done = true;
    if (in == NULL) {
        return;
    }
    if (strcmp(o->type, "insert") == 0) {
        in->hidden_left = 0;
        if (o->failed) {
            in->exists = false;
            return;
        }
        snprintf(in->status, sizeof(in->status), "STAGING");
        in->staging_left = s->k.staging_polls;
    } else if (strcmp(o->type, "start") == 0) {
        snprintf(in->status, sizeof(in->status), "STAGING");
        in->staging_left = s->k.staging_polls;
    } else if (strcmp(o->type, "stop") == 0) {
        snprintf(in->status, sizeof(in->status), "TERMINATED");
    } else if (strcmp(o->type, "delete") == 0) {
        in->exists = false;
    }
}

static struct op *new_op(struct bpt_gce_server *s, const char *type, const char *target)
{
    if (s->n_ops == MAX_OPS) {
        return NULL;
    }
    struct op *o = &s->ops[s->n_ops++];
    memset(o, 0, sizeof(*o));
    s->seq++;
    snprintf(o->name, sizeof(o->name), "operation-1764892800%03u-5f1b2c3d4e5f6-a1b2c3d4-%08x",
             s->seq % 1000, s->seq);
    snprintf(o->type, sizeof(o->type), "%s", type);
    snprintf(o->target, sizeof(o->target), "%s", target);
    o->polls_left = s->k.op_polls;
    if (o->polls_left == 0) {
        op_finish(s, o);
    }
    return o;
}

/* Time passes for the instance's unfinished operation (a get of the instance polls it too). */
static void tick(struct bpt_gce_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_ops; i++) {
        struct op *o = &s->ops[i];
        if (!o->done && strcmp(o->target, name) == 0 && o->polls_left > 0 && --o->polls_left == 0) {
            op_finish(s, o);
        }
    }
}

static json_t *inst_json(const struct bpt_gce_server *s, const struct inst *in)
{
    json_t *nic = json_pack("{s:s, s:s}", "name", "nic0", "network",
                            "https://www.googleapis.com/compute/v1/projects/" BPT_GCE_PROJECT
                            "/global/networks/default");
    if (!s->k.no_address) {
        json_object_set_new(nic, "networkIP", json_string("127.0.0.1"));
    }
    if (in->public_ip && !s->k.no_address) {
        json_object_set_new(nic, "accessConfigs",
                            json_pack("[{s:s, s:s, s:s, s:s}]", "kind", "compute#accessConfig",
                                      "type", "ONE_TO_ONE_NAT", "name", "External NAT", "natIP",
                                      "127.0.0.1"));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:[o], s:{s:s}}", "kind", "compute#instance", "id",
                     "8675309123456789012", "name", in->name, "status", in->status,
                     "networkInterfaces", nic, "confidentialInstanceConfig",
                     "confidentialInstanceType", "SEV_SNP");
}

/* Check an insert's body as Compute would, and record it. NULL: fine; else the message. */
static const char *check_insert(struct bpt_gce_server *s, const json_t *b)
{
    const json_t *disk = json_array_get(json_object_get(b, "disks"), 0);
    const json_t *items = json_object_get(json_object_get(b, "metadata"), "items");
    const json_t *nic = json_array_get(json_object_get(b, "networkInterfaces"), 0);
    const json_t *sa = json_array_get(json_object_get(b, "serviceAccounts"), 0);
    struct bpt_gce_stats *st = &s->st;
    snprintf(st->last_name, sizeof(st->last_name), "%s", str(b, "name"));
    snprintf(st->last_machine_type, sizeof(st->last_machine_type), "%s", str(b, "machineType"));
    snprintf(st->last_confidential, sizeof(st->last_confidential), "%s",
             str(json_object_get(b, "confidentialInstanceConfig"), "confidentialInstanceType"));
    snprintf(st->last_source_image, sizeof(st->last_source_image), "%s",
             str(json_object_get(disk, "initializeParams"), "sourceImage"));
    snprintf(st->last_service_account, sizeof(st->last_service_account), "%s", str(sa, "email"));
    st->last_secure_boot = json_is_true(
        json_object_get(json_object_get(b, "shieldedInstanceConfig"), "enableSecureBoot"));
    st->last_terminate =
        strcmp(str(json_object_get(b, "scheduling"), "onHostMaintenance"), "TERMINATE") == 0;
    st->last_public = json_array_size(json_object_get(nic, "accessConfigs")) > 0;
    st->last_image[0] = st->last_cmd[0] = st->last_restart[0] = '\0';
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        const char *k = str(it, "key"), *v = str(it, "value");
        if (strcmp(k, "tee-image-reference") == 0) {
            snprintf(st->last_image, sizeof(st->last_image), "%s", v);
        } else if (strcmp(k, "tee-cmd") == 0) {
            snprintf(st->last_cmd, sizeof(st->last_cmd), "%s", v);
        } else if (strcmp(k, "tee-restart-policy") == 0) {
            snprintf(st->last_restart, sizeof(st->last_restart), "%s", v);
        }
    }
    char want_mt[64];
    snprintf(want_mt, sizeof(want_mt), "zones/europe-west4-a/machineTypes/");
    if (st->last_name[0] == '\0' || strncmp(st->last_machine_type, want_mt, strlen(want_mt)) != 0) {
        return "Invalid value for field 'resource.machineType'";
    }
    if (strcmp(st->last_confidential, "SEV_SNP") != 0 &&
        strcmp(st->last_confidential, "TDX") != 0) {
        return "Invalid value for field 'resource.confidentialInstanceConfig'";
    }
    if (!st->last_terminate) {
        return "Confidential VMs must have onHostMaintenance TERMINATE";
    }
    if (st->last_source_image[0] == '\0' || st->last_image[0] == '\0') {
        return "Required field 'resource.disks[0].initializeParams.sourceImage' or the "
               "tee-image-reference metadata not specified";
    }
    json_t *cmd = json_loads(st->last_cmd, 0, NULL);
    bool arr = json_is_array(cmd);
    json_decref(cmd);
    return arr ? NULL : "tee-cmd is not a JSON array";
}

static enum MHD_Result compute(struct bpt_gce_server *s, struct MHD_Connection *c,
                               const char *method, const char *rest, const char *body)
{
    char name[64] = "", verb[16] = "";
    if (!authorised(s, c)) {
        s->st.unauthenticated++;
        return send_json(
            c, 401,
            json_pack("{s:{s:i, s:s, s:[{s:s, s:s, s:s, s:s, s:s}], s:s}}", "error", "code", 401,
                      "message",
                      "Request had invalid authentication credentials. Expected OAuth 2 access "
                      "token, login cookie or other valid authentication credential. See "
                      "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                      "errors", "message", "Invalid Credentials", "domain", "global", "reason",
                      "authError", "location", "Authorization", "locationType", "header", "status",
                      "UNAUTHENTICATED"),
            NULL);
    }
    if (s->k.throttle_503 > 0) {
        s->k.throttle_503--;
        s->st.throttled++;
        return api_error(c, 503, "UNAVAILABLE", "backendError",
                         "The service is currently unavailable.", "1");
    }
    if (s->k.throttle_429 > 0) {
        s->k.throttle_429--;
        s->st.throttled++;
        return api_error(c, 429, "RESOURCE_EXHAUSTED", "rateLimitExceeded",
                         "Quota exceeded for quota metric 'Queries' and limit 'Queries per "
                         "minute' of service 'compute.googleapis.com'",
                         "0");
    }
    if (s->k.throttle_quota > 0) {
        s->k.throttle_quota--;
        s->st.throttled++;
        return api_error(c, 403, "PERMISSION_DENIED", "rateLimitExceeded", "Rate Limit Exceeded",
                         NULL);
    }
    if (strncmp(rest, "operations/", 11) == 0) {
        s->st.op_gets++;
        for (size_t i = 0; i < s->n_ops; i++) {
            struct op *o = &s->ops[i];
            if (strcmp(o->name, rest + 11) == 0 && strcmp(method, "GET") == 0) {
                if (!o->done && o->polls_left > 0 && --o->polls_left == 0) {
                    op_finish(s, o);
                }
                return send_json(c, 200, op_json(s, o), NULL);
            }
        }
        return api_error(c, 404, "NOT_FOUND", "notFound", "The resource was not found", NULL);
    }
    if (strcmp(rest, "instances") == 0 && strcmp(method, "POST") == 0) {
        const char *rid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "requestId");
        json_t *b = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
        const char *bad = b != NULL ? check_insert(s, b) : "Invalid JSON payload received.";
        json_decref(b);
        s->st.inserts++;
        snprintf(s->st.last_request_id, sizeof(s->st.last_request_id), "%s", rid ? rid : "");
        if (bad != NULL) {
            return api_error(c, 400, "INVALID_ARGUMENT", "invalid", bad, NULL);
        }
        if (s->k.deny_insert) {
            return api_error(c, 403, "PERMISSION_DENIED", "forbidden",
                             "Required 'compute.instances.create' permission for "
                             "'projects/" BPT_GCE_PROJECT "/zones/europe-west4-a/instances/x'",
                             NULL);
        }
        for (size_t i = 0; rid != NULL && !s->k.forget_request_ids && i < s->n_inst; i++) {
            if (strcmp(s->inst[i].request_id, rid) == 0) {
                for (size_t j = 0; j < s->n_ops; j++) {
                    if (strcmp(s->ops[j].type, "insert") == 0 &&
                        strcmp(s->ops[j].target, s->inst[i].name) == 0) {
                        s->st.deduped++;
                        return send_json(c, 200, op_json(s, &s->ops[j]), NULL);
                    }
                }
            }
        }
        if (find(s, s->st.last_name) != NULL) {
            s->st.conflicts++;
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "The resource 'projects/" BPT_GCE_PROJECT
                     "/zones/europe-west4-a/instances/%s' already exists",
                     s->st.last_name);
            return api_error(c, 409, "ALREADY_EXISTS", "alreadyExists", msg, NULL);
        }
        if (s->n_inst == MAX_INST) {
            return api_error(c, 403, "PERMISSION_DENIED", "quotaExceeded",
                             "Quota 'INSTANCES' "
                             "exceeded.",
                             NULL);
        }
        struct inst *in = &s->inst[s->n_inst++];
        memset(in, 0, sizeof(*in));
        snprintf(in->name, sizeof(in->name), "%s", s->st.last_name);
        snprintf(in->request_id, sizeof(in->request_id), "%s", rid ? rid : "");
        snprintf(in->status, sizeof(in->status), "PROVISIONING");
        in->exists = true;
        in->hidden_left = s->k.hidden_gets;
        in->public_ip = s->st.last_public;
        s->st.created++;
        struct op *o = new_op(s, "insert", in->name);
        if (o == NULL) {
            return api_error(c, 500, "INTERNAL", "backendError", "too many operations", NULL);
        }
        o->failed = s->k.insert_fails;
        if (o->done && o->failed) {
            in->exists = false;
        }
        return send_json(c, 200, op_json(s, o), NULL);
    }
    if (sscanf(rest, "instances/%63[^/]/%15s", name, verb) < 1) {
        return api_error(c, 404, "NOT_FOUND", "notFound", "The requested URL was not found.", NULL);
    }
    struct inst *in = find(s, name);
    bool get = strcmp(method, "GET") == 0 && verb[0] == '\0';
    if (get && in != NULL) {
        tick(s, name);
    }
    if (in == NULL || (get && in->hidden_left > 0)) {
        if (get) {
            s->st.gets++;
            if (in != NULL) {
                in->hidden_left--;
            }
        }
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "The resource 'projects/" BPT_GCE_PROJECT
                 "/zones/europe-west4-a/instances/%s' was not found",
                 name);
        return api_error(c, 404, "NOT_FOUND", "notFound", msg, NULL);
    }
    struct op *o = NULL;
    if (get && s->k.odd == BPT_GCE_ODD_NOT_JSON) {
        s->st.gets++;
        static const char page[] = "<html><body>Service Unavailable</body></html>";
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(page), (void *)page, MHD_RESPMEM_PERSISTENT);
        if (r == NULL) {
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/html");
        enum MHD_Result res = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return res;
    }
    if (get) {
        s->st.gets++;
        if (strcmp(in->status, "STAGING") == 0) {
            if (in->staging_left > 0) {
                in->staging_left--;
            } else {
                snprintf(in->status, sizeof(in->status), "RUNNING");
            }
        }
        return send_json(c, 200, inst_json(s, in), NULL);
    } else if (strcmp(method, "DELETE") == 0 && verb[0] == '\0') {
        s->st.deletes++;
        snprintf(in->status, sizeof(in->status), "STOPPING");
        o = new_op(s, "delete", name);
    } else if (strcmp(method, "POST") == 0 && strcmp(verb, "stop") == 0) {
        s->st.stops++;
        snprintf(in->status, sizeof(in->status), "%s",
                 s->k.deprovisioning ? "DEPROVISIONING" : "STOPPING");
        o = new_op(s, "stop", name);
    } else if (strcmp(method, "POST") == 0 && strcmp(verb, "start") == 0) {
        s->st.starts++;
        if (strcmp(in->status, "TERMINATED") != 0) {
            return api_error(c, 400, "FAILED_PRECONDITION", "resourceNotReady",
                             "The instance is not stopped", NULL);
        }
        snprintf(in->status, sizeof(in->status), "PROVISIONING");
        o = new_op(s, "start", name);
    } else {
        return api_error(c, 404, "NOT_FOUND", "notFound", "The requested URL was not found.", NULL);
    }
    if (o == NULL) {
        return api_error(c, 500, "INTERNAL", "backendError", "too many operations", NULL);
    }
    return send_json(c, 200, op_json(s, o), NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    static const char prefix[] = "/compute/v1/projects/" BPT_GCE_PROJECT "/zones/europe-west4-a/";
    struct bpt_gce_server *s = cls;
    struct upload *u = *con_cls;
    (void)version;
    if (u == NULL) {
        if ((u = calloc(1, sizeof(*u))) == NULL) {
            return MHD_NO;
        }
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (u->len + *upload_size > BODY_MAX) {
            u->over = true;
        } else {
            char *p = realloc(u->data, u->len + *upload_size + 1);
            if (p == NULL) {
                return MHD_NO;
            }
            u->data = p;
            memcpy(u->data + u->len, upload, *upload_size);
            u->len += *upload_size;
            u->data[u->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    const char *body = u->data != NULL ? u->data : "";
    enum MHD_Result r;
    pthread_mutex_lock(&s->mu);
    s->st.requests++;
    if (u->over) {
        r = api_error(c, 413, "INVALID_ARGUMENT", "invalid", "The request is too large.", NULL);
    } else if (strcmp(url, "/token") == 0 && strcmp(method, "POST") == 0) {
        r = token(s, c, body);
    } else if (strncmp(url, prefix, sizeof(prefix) - 1) == 0) {
        r = compute(s, c, method, url + sizeof(prefix) - 1, body);
    } else {
        r = api_error(c, 404, "NOT_FOUND", "notFound", "The requested URL was not found.", NULL);
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct upload *u = *con_cls;
    if (u != NULL) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

/* ---- life --------------------------------------------------------------------------------- */

int bpt_gce_server_start(struct bpt_gce_server **out, const struct bpt_gce_knobs *k)
{
    struct bpt_gce_server *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (s == NULL) {
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->k = *k;
    BIO *bio = BIO_new_mem_buf(ACCOUNT_KEY_PEM, -1);
    s->key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    /* the other key only has to differ: a small one is made fast */
    if (s->key == NULL || (s->other = EVP_RSA_gen(1024)) == NULL) {
        fprintf(stderr, "gce server: no RSA key\n");
        bpt_gce_server_stop(s);
        return -1;
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, s,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        s->d != NULL ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (info == NULL) {
        fprintf(stderr, "gce server: cannot listen\n");
        bpt_gce_server_stop(s);
        return -1;
    }
    s->port = info->port;
    *out = s;
    return 0;
}

void bpt_gce_server_set(struct bpt_gce_server *s, const struct bpt_gce_knobs *k)
{
    pthread_mutex_lock(&s->mu);
    s->k = *k;
    for (size_t i = 0; i < s->n_ops; i++) {
        if (s->ops[i].polls_left > k->op_polls) {
            s->ops[i].polls_left = k->op_polls > 0 ? k->op_polls : 1;
        }
    }
    for (size_t i = 0; i < s->n_inst; i++) {
        if (s->inst[i].hidden_left > k->hidden_gets) {
            s->inst[i].hidden_left = k->hidden_gets;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

uint16_t bpt_gce_server_port(const struct bpt_gce_server *s)
{
    return s->port;
}

int bpt_gce_server_write_key(const struct bpt_gce_server *s, const char *path, bool other_key,
                             const char *token_uri)
{
    char uri[64], *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    long n;
    int rc = -1;
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%u/token", s->port);
    if (bio == NULL ||
        PEM_write_bio_PrivateKey(bio, other_key ? s->other : s->key, NULL, NULL, 0, NULL, NULL) !=
            1 ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0) {
        BIO_free(bio);
        return -1;
    }
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s%, s:s, s:s, s:s, s:s, s:s}", "type", "service_account",
                  "project_id", BPT_GCE_PROJECT, "private_key_id", KEY_ID, "private_key", pem,
                  (size_t)n, "client_email", BPT_GCE_EMAIL, "client_id", "104729307958811235711",
                  "auth_uri", "https://accounts.google.com/o/oauth2/auth", "token_uri",
                  token_uri != NULL ? token_uri : uri, "universe_domain", "googleapis.com");
    if (j != NULL && json_dump_file(j, path, JSON_INDENT(2)) == 0) {
        rc = 0;
    }
    json_decref(j);
    BIO_free(bio);
    return rc;
}

void bpt_gce_server_stats(struct bpt_gce_server *s, struct bpt_gce_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->live = 0;
    for (size_t i = 0; i < s->n_inst; i++) {
        out->live += s->inst[i].exists;
    }
    if (s->n_inst > 0) {
        const struct inst *in = &s->inst[s->n_inst - 1];
        snprintf(out->last_status, sizeof(out->last_status), "%s",
                 in->exists ? in->status : "(deleted)");
    }
    pthread_mutex_unlock(&s->mu);
}

void bpt_gce_server_stop(struct bpt_gce_server *s)
{
    if (s == NULL) {
        return;
    }
    if (s->d != NULL) {
        MHD_stop_daemon(s->d);
    }
    EVP_PKEY_free(s->key);
    EVP_PKEY_free(s->other);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
