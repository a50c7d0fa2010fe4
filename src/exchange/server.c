/*
 * The key exchange control plane over libmicrohttpd (DESIGN.md §6). Bodies are collected up to
 * max_body_bytes (413 beyond, checked from Content-Length first and again while reading),
 * every /v1 request passes a per-client token bucket (429), and a full service answers 503
 * with Retry-After. Secrets are opened only after the session has been taken out of the
 * service, so a session is consumed by its secrets call whatever the outcome.
 */
#include "exchange/exchange_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"

#define RL_CLIENTS 256
#define MAX_NAME_BYTES 256

static const double BUCKETS[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0};
#define NBUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

struct rl_client {
    uint8_t addr[16];
    bool used;
    double tokens;
    int64_t last;
    uint64_t seen; /* for LRU replacement */
};

struct bpt_kx_server {
    bpt_kx_service *svc;
    bpt_kx_server_options opts;
    char host[64];
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t rl_mu;
    struct rl_client clients[RL_CLIENTS];
    uint64_t rl_tick;
    atomic_uint_fast64_t decrypt_failures, rate_limited, too_large, bad_requests, secrets_stored;
    atomic_uint_fast64_t hist[NBUCKETS + 1];
    atomic_uint_fast64_t hist_count;
    atomic_uint_fast64_t hist_sum_us;
};

struct req {
    struct timespec start;
    char *body;
    size_t len;
    bool too_large;
    bool answered;  /* a 413 was queued before the upload ended */
    size_t dropped; /* bytes of an oversized chunked body read and dropped */
};

/* ---- responses --------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const char *text, unsigned retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j,
                                 unsigned retry_after)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (text == NULL) {
        return send_text(c, 500, "application/json",
                         "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}", 0);
    }
    enum MHD_Result ret = send_text(c, status, "application/json", text, retry_after);
    free(text);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *message, unsigned retry_after)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    if (j == NULL) {
        return MHD_NO;
    }
    return send_json(c, status, j, retry_after);
}

/* ---- rate limiting ----------------------------------------------------------------------- */

static void client_key(uint8_t key[16], struct MHD_Connection *c)
{
    memset(key, 0, 16);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

/* true when the client may proceed; takes one token. */
static bool rate_allow(bpt_kx_server *srv, struct MHD_Connection *c)
{
    if (srv->opts.rate_limit_burst == 0) {
        return true;
    }
    uint8_t key[16];
    client_key(key, c);
    int64_t now = bpt_clock_now(&srv->opts.clock);
    bool allow = false;
    pthread_mutex_lock(&srv->rl_mu);
    struct rl_client *slot = NULL, *oldest = &srv->clients[0];
    for (size_t i = 0; i < RL_CLIENTS; i++) {
        struct rl_client *rc = &srv->clients[i];
        if (rc->used && memcmp(rc->addr, key, 16) == 0) {
            slot = rc;
            break;
        }
        if (!rc->used || (oldest->used && rc->seen < oldest->seen)) {
            oldest = rc;
        }
    }
    if (slot == NULL) {
        slot = oldest;
        memcpy(slot->addr, key, 16);
        slot->used = true;
        slot->tokens = srv->opts.rate_limit_burst;
        slot->last = now;
    }
    if (now > slot->last) {
        slot->tokens += (double)(now - slot->last) * srv->opts.rate_limit_per_minute / 60.0;
        if (slot->tokens > srv->opts.rate_limit_burst) {
            slot->tokens = srv->opts.rate_limit_burst;
        }
    }
    slot->last = now;
    slot->seen = ++srv->rl_tick;
    if (slot->tokens >= 1.0) {
        slot->tokens -= 1.0;
        allow = true;
    }
    pthread_mutex_unlock(&srv->rl_mu);
    return allow;
}

/* ---- handlers ---------------------------------------------------------------------------- */

static json_t *report_json(const bpt_report *rep)
{
    char *text = NULL;
    if (rep == NULL) {
        return json_null();
    }
    if (bpt_report_to_json(&text, rep) < 0) {
        return NULL;
    }
    json_t *j = json_loads(text, 0, NULL);
    bpt_free(text);
    return j;
}

/* Decode an optional hex nonce; false with an error message when invalid. */
static int decode_nonce(uint8_t nonce[BPT_KX_NONCE_MAX], size_t *nonce_len, const char *hex)
{
    bpt_buf b;
    int rc;
    *nonce_len = 0;
    if (hex == NULL) {
        return 0;
    }
    bpt_buf_init(&b, BPT_KX_NONCE_MAX);
    rc = bpt_hex_decode(&b, hex, strlen(hex), "nonce");
    if (rc == 0 && (b.len < BPT_KX_NONCE_MIN || b.len > BPT_KX_NONCE_MAX)) {
        rc = bpt_err(BPT_EINVAL, "nonce is %zu bytes, want %d..%d", b.len, BPT_KX_NONCE_MIN,
                     BPT_KX_NONCE_MAX);
    }
    if (rc == 0) {
        memcpy(nonce, b.data, b.len);
        *nonce_len = b.len;
    } else if (rc == BPT_ELIMIT) {
        rc = bpt_err(BPT_EINVAL, "nonce is longer than %d bytes", BPT_KX_NONCE_MAX);
    }
    bpt_buf_dispose(&b);
    return rc;
}

static enum MHD_Result create_session(bpt_kx_server *srv, struct MHD_Connection *c,
                                      const struct req *rq)
{
    json_t *body = NULL, *resp = NULL;
    const char *nonce_hex = NULL;
    uint8_t nonce[BPT_KX_NONCE_MAX];
    size_t nonce_len = 0;
    bpt_kx_session_info info;
    bpt_report *rep = NULL;
    static const char *const keys[] = {"nonce", NULL};
    char pk_hex[2 * BPT_KX_PUBLIC_KEY_LEN + 1];

    if (rq->len > 0) {
        if (bpt_json_parse(&body, rq->body, rq->len, "request") < 0 || !json_is_object(body) ||
            bpt_json_check_keys(body, keys, "request") < 0 ||
            bpt_json_get_str(body, "nonce", &nonce_hex, false, "request") < 0 ||
            decode_nonce(nonce, &nonce_len, nonce_hex) < 0) {
            if (body != NULL && !json_is_object(body)) {
                bpt_err(BPT_EINVAL, "request: body is not a JSON object");
            }
            json_decref(body);
            atomic_fetch_add(&srv->bad_requests, 1);
            return send_error(c, 400, "bad_request", bpt_error_last(), 0);
        }
    }
    int rc = bpt_kx_service_create(&info, &rep, srv->svc, nonce_len ? nonce : NULL, nonce_len);
    json_decref(body);
    if (rc == BPT_EBUSY) {
        return send_error(c, 503, "capacity", "session capacity reached; retry later",
                          srv->opts.retry_after_secs);
    }
    if (rc < 0) {
        BPT_LOG(BPT_LOG_WARN, "kx", "session creation failed: %s", bpt_error_last());
        return send_error(c, 500, "internal", "session creation failed", 0);
    }
    for (size_t i = 0; i < BPT_KX_PUBLIC_KEY_LEN; i++) {
        snprintf(pk_hex + 2 * i, 3, "%02x", info.public_key[i]);
    }
    json_t *att = report_json(rep);
    bpt_report_free(rep);
    if (att == NULL) {
        return send_error(c, 500, "internal", "attestation serialisation failed", 0);
    }
    resp = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o}", "session_id", info.id_hex, "public_key", pk_hex,
                     "key_type", "x25519", "suite", BPT_KX_SUITE, "expires_at",
                     (json_int_t)info.expires_at, "attestation", att);
    if (resp != NULL && info.service_key) {
        char sk[65], sig[129];
        for (size_t i = 0; i < 32; i++) {
            snprintf(sk + 2 * i, 3, "%02x", info.service_public_key[i]);
        }
        for (size_t i = 0; i < 64; i++) {
            snprintf(sig + 2 * i, 3, "%02x", info.signature[i]);
        }
        json_object_set_new(resp, "binding", json_string("service_key"));
        json_object_set_new(resp, "service_key", json_string(sk));
        json_object_set_new(resp, "signature", json_string(sig));
    }
    if (resp == NULL) {
        return send_error(c, 500, "internal", "out of memory", 0);
    }
    return send_json(c, 201, resp, 0);
}

/* Parse and open every secret; all or nothing. Sets the status and code on failure. */
static int open_all(struct bpt_kx_opened *out, size_t *n_out, bpt_kx_session *s, json_t *secrets,
                    unsigned *status, const char **code)
{
    int rc = BPT_ERROR;
    size_t n = json_array_size(secrets);
    bpt_buf enc, ct;
    static const char *const keys[] = {"name", "enc", "ciphertext", NULL};

    *n_out = 0;
    *status = 400;
    *code = "bad_request";
    bpt_buf_init(&enc, 64);
    bpt_buf_init(&ct, BPT_LIMIT_HTTP_BODY_BYTES);
    if (n == 0 || n > BPT_KX_MAX_SECRETS_PER_REQUEST) {
        rc = bpt_err(BPT_EINVAL, "secrets: want 1..%d entries, got %zu",
                     BPT_KX_MAX_SECRETS_PER_REQUEST, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(secrets, i);
        const char *name = NULL;
        char ctx[32];
        snprintf(ctx, sizeof(ctx), "secrets[%zu]", i);
        if (!json_is_object(e)) {
            rc = bpt_err(BPT_EINVAL, "%s is not an object", ctx);
            goto out;
        }
        BPT_CHECK(bpt_json_check_keys(e, keys, ctx));
        BPT_CHECK(bpt_json_get_str(e, "name", &name, true, ctx));
        size_t nl = strlen(name);
        if (nl == 0 || nl > MAX_NAME_BYTES ||
            nl != json_string_length(json_object_get(e, "name"))) {
            rc =
                bpt_err(BPT_EINVAL, "%s.name must be 1..%d bytes without NUL", ctx, MAX_NAME_BYTES);
            goto out;
        }
        for (size_t k = 0; k < *n_out; k++) {
            if (strcmp(out[k].name, name) == 0) {
                rc = bpt_err(BPT_EINVAL, "%s.name '%s' repeats", ctx, name);
                goto out;
            }
        }
        bpt_buf_reset(&enc);
        bpt_buf_reset(&ct);
        BPT_CHECK(bpt_json_get_bytes(e, "enc", &enc, true, true, ctx));
        BPT_CHECK(bpt_json_get_bytes(e, "ciphertext", &ct, true, true, ctx));
        if (enc.len != BPT_KX_PUBLIC_KEY_LEN) {
            rc = bpt_err(BPT_EINVAL, "%s.enc is %zu bytes, want %d", ctx, enc.len,
                         BPT_KX_PUBLIC_KEY_LEN);
            goto out;
        }
        rc = bpt_kx_session_open(&out[*n_out].value, s, name, enc.data, enc.len, ct.data, ct.len);
        if (rc < 0) {
            *code = rc == BPT_EEXPIRED ? "session_expired" : "decrypt_failed";
            *status = rc == BPT_EEXPIRED ? 410 : 400;
            goto out;
        }
        out[*n_out].name = name;
        (*n_out)++;
    }
    rc = 0;
out:
    bpt_buf_dispose(&enc);
    bpt_buf_dispose(&ct);
    return rc;
}

/* The Rust crate's v0 SealedSecretPayload: {"session_id", "ciphertext": [..], "nonce": [12],
 * "ephemeral_public_key": [32]} (byte arrays as serde writes them; hex also accepted). */
static int open_v0(struct bpt_kx_opened *out, size_t *n_out, bpt_kx_session *s, json_t *body,
                   unsigned *status, const char **code)
{
    static const char *const keys[] = {"session_id", "ciphertext", "nonce", "ephemeral_public_key",
                                       NULL};
    const char *sid = NULL;
    bpt_buf ct = BPT_BUF_INIT(BPT_LIMIT_HTTP_BODY_BYTES), nonce = BPT_BUF_INIT(12),
            epk = BPT_BUF_INIT(BPT_KX_PUBLIC_KEY_LEN);
    int rc;

    BPT_CHECK(bpt_json_check_keys(body, keys, "v0 payload"));
    BPT_CHECK(bpt_json_get_str(body, "session_id", &sid, true, "v0 payload"));
    if (strcmp(sid, bpt_kx_session_id_hex(s)) != 0) {
        rc = bpt_err(BPT_EINVAL, "v0 payload: session_id differs from the URL's");
        goto out;
    }
    BPT_CHECK(bpt_json_get_bytes(body, "ciphertext", &ct, false, true, "v0 payload"));
    BPT_CHECK(bpt_json_get_bytes(body, "nonce", &nonce, false, true, "v0 payload"));
    BPT_CHECK(bpt_json_get_bytes(body, "ephemeral_public_key", &epk, false, true, "v0 payload"));
    if (nonce.len != 12 || epk.len != BPT_KX_PUBLIC_KEY_LEN) {
        rc = bpt_err(BPT_EINVAL, "v0 payload: nonce must be 12 bytes and ephemeral_public_key 32");
        goto out;
    }
    rc = bpt_kx_session_open_v0(&out[0].value, s, epk.data, nonce.data, ct.data, ct.len);
    if (rc < 0) {
        *code = rc == BPT_EEXPIRED ? "session_expired" : "decrypt_failed";
        *status = rc == BPT_EEXPIRED ? 410 : 400;
        goto out;
    }
    out[0].name = "sealed_secret";
    *n_out = 1;
    rc = 0;
out:
    bpt_buf_dispose(&ct);
    bpt_buf_dispose(&nonce);
    bpt_buf_dispose(&epk);
    return rc;
}

int bpt_kx_open_secrets_body(struct bpt_kx_opened out[BPT_KX_MAX_SECRETS_PER_REQUEST],
                             size_t *n_out, json_t **body_out, bpt_kx_session *s, const char *text,
                             size_t len, bool legacy_v0, unsigned *status, const char **code)
{
    json_t *body = NULL, *secrets = NULL;
    static const char *const keys[] = {"secrets", NULL};

    *n_out = 0;
    *body_out = NULL;
    *status = 400;
    *code = "bad_request";
    if (legacy_v0 && bpt_json_parse(&body, text, len, "request") == 0 && json_is_object(body) &&
        json_object_get(body, "ciphertext") != NULL) {
        *body_out = body;
        return open_v0(out, n_out, s, body, status, code);
    }
    json_decref(body);
    body = NULL;
    if (bpt_json_parse(&body, text, len, "request") < 0 || !json_is_object(body) ||
        bpt_json_check_keys(body, keys, "request") < 0 ||
        bpt_json_get_arr(body, "secrets", &secrets, true, "request") < 0) {
        int rc = BPT_EINVAL;
        if (body != NULL && !json_is_object(body)) {
            rc = bpt_err(BPT_EINVAL, "request: body is not a JSON object");
        }
        json_decref(body);
        return rc;
    }
    *body_out = body; /* the names in out[] point into it */
    return open_all(out, n_out, s, secrets, status, code);
}

static enum MHD_Result submit_secrets(bpt_kx_server *srv, struct MHD_Connection *c,
                                      const struct req *rq, const char *id_hex)
{
    bpt_kx_session *s = NULL;
    json_t *body = NULL, *resp = NULL, *stored = NULL;
    struct bpt_kx_opened op[BPT_KX_MAX_SECRETS_PER_REQUEST];
    size_t n = 0;
    unsigned status = 400;
    const char *code = "bad_request";
    enum MHD_Result ret;

    memset(op, 0, sizeof(op));
    /* one-time use: the session leaves the service before anything else is looked at */
    int rc = bpt_kx_service_consume(&s, srv->svc, id_hex);
    if (rc == BPT_EEXPIRED) {
        return send_error(c, 410, "session_expired", "session expired", 0);
    }
    if (rc < 0) {
        return send_error(c, 404, "session_not_found", "no such session", 0);
    }
    rc = bpt_kx_open_secrets_body(op, &n, &body, s, rq->body, rq->len, srv->opts.legacy_v0, &status,
                                  &code);
    bpt_kx_session_consume(s); /* the private key goes now, whatever the outcome */
    if (rc < 0) {
        if (strcmp(code, "decrypt_failed") == 0) {
            atomic_fetch_add(&srv->decrypt_failures, 1);
            /* the message names the secret, never its value */
            ret = send_error(c, status, code, "a secret could not be opened", 0);
        } else {
            atomic_fetch_add(&srv->bad_requests, 1);
            ret = send_error(c, status, code, bpt_error_last(), 0);
        }
        goto out;
    }
    stored = json_array();
    for (size_t i = 0; i < n && stored != NULL; i++) {
        if (srv->opts.on_secret != NULL) {
            srv->opts.on_secret(bpt_kx_session_id_hex(s), op[i].name, op[i].value,
                                srv->opts.on_secret_userdata);
        }
        if (srv->opts.store != NULL) {
            if (bpt_kx_store_put(srv->opts.store, op[i].name, op[i].value) < 0) {
                json_decref(stored);
                stored = NULL;
                ret = send_error(c, 500, "internal", bpt_error_last(), 0);
                goto out;
            }
            op[i].value = NULL;
        }
        json_array_append_new(stored, json_string(op[i].name));
        atomic_fetch_add(&srv->secrets_stored, 1);
    }
    char fp[65];
    bpt_kx_session_public_key_digest(fp, s);
    resp = json_pack("{s:b,s:s,s:s,s:o}", "success", 1, "attestation_digest",
                     bpt_kx_session_attestation_digest(s), "key_fingerprint", fp, "stored", stored);
    stored = NULL;
    ret = resp != NULL ? send_json(c, 200, resp, 0) : MHD_NO;
out:
    for (size_t i = 0; i < BPT_KX_MAX_SECRETS_PER_REQUEST; i++) {
        bpt_secret_free(op[i].value);
    }
    json_decref(stored);
    json_decref(body);
    bpt_kx_session_free(s);
    return ret;
}

static enum MHD_Result get_attestation(bpt_kx_server *srv, struct MHD_Connection *c)
{
    uint8_t nonce[BPT_KX_NONCE_MAX], rd[64];
    size_t nonce_len = 0;
    bpt_report *rep = NULL;
    const char *hex = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "nonce");

    if (decode_nonce(nonce, &nonce_len, hex) < 0) {
        return send_error(c, 400, "bad_request", bpt_error_last(), 0);
    }
    memset(rd, 0, sizeof(rd));
    if (nonce_len > 0) {
        (void)bpt_sha256(rd + 32, nonce, nonce_len);
    }
    int rc = bpt_kx_service_attest(&rep, srv->svc, rd);
    if (rc == BPT_ENOTSUP) {
        return send_error(c, 501, "not_supported", "this service has no attester", 0);
    }
    if (rc < 0) {
        BPT_LOG(BPT_LOG_WARN, "kx", "attestation failed: %s", bpt_error_last());
        return send_error(c, 500, "internal", "attestation failed", 0);
    }
    json_t *att = report_json(rep);
    bpt_report_free(rep);
    if (att == NULL) {
        return send_error(c, 500, "internal", "attestation serialisation failed", 0);
    }
    return send_json(c, 200, json_pack("{s:o}", "attestation", att), 0);
}

static enum MHD_Result get_metrics(bpt_kx_server *srv, struct MHD_Connection *c)
{
    bpt_kx_service_stats st;
    bpt_secret_counters sc;
    bpt_buf b;
    enum MHD_Result ret;
    int rc = 0;

    bpt_kx_service_get_stats(&st, srv->svc);
    bpt_secret_stats(&sc);
    bpt_buf_init(&b, 64 * 1024);
#define M(name, type, help, fmt, val)                                                              \
    if (rc == 0)                                                                                   \
    rc = bpt_buf_appendf(                                                                          \
        &b, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " " fmt "\n", val)
    M("bpt_kx_sessions_created_total", "counter", "Sessions created.", "%llu",
      (unsigned long long)st.created);
    M("bpt_kx_sessions_consumed_total", "counter", "Sessions consumed by a secrets call.", "%llu",
      (unsigned long long)st.consumed);
    M("bpt_kx_sessions_expired_total", "counter", "Sessions removed after their TTL.", "%llu",
      (unsigned long long)st.expired);
    M("bpt_kx_sessions_refused_total", "counter", "Session creations refused at capacity.", "%llu",
      (unsigned long long)st.refused);
    M("bpt_kx_sessions_active", "gauge", "Live sessions.", "%zu", st.active);
    M("bpt_kx_decrypt_failures_total", "counter", "Secrets calls whose secrets did not open.",
      "%llu", (unsigned long long)atomic_load(&srv->decrypt_failures));
    M("bpt_kx_secrets_stored_total", "counter", "Secrets opened and stored.", "%llu",
      (unsigned long long)atomic_load(&srv->secrets_stored));
    M("bpt_http_rate_limited_total", "counter", "Requests refused by the rate limit.", "%llu",
      (unsigned long long)atomic_load(&srv->rate_limited));
    M("bpt_http_payload_too_large_total", "counter", "Requests refused for their body size.",
      "%llu", (unsigned long long)atomic_load(&srv->too_large));
    M("bpt_http_bad_requests_total", "counter", "Requests refused as malformed.", "%llu",
      (unsigned long long)atomic_load(&srv->bad_requests));
    M("bpt_secret_lock_failures_total", "counter", "Secure allocations whose mlock failed.", "%llu",
      (unsigned long long)sc.lock_failures);
#undef M
    if (rc == 0) {
        rc = bpt_buf_append_str(&b, "# HELP bpt_http_request_duration_seconds Request latency.\n"
                                    "# TYPE bpt_http_request_duration_seconds histogram\n");
    }
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKETS && rc == 0; i++) {
        cum += atomic_load(&srv->hist[i]);
        rc = bpt_buf_appendf(&b, "bpt_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                             BUCKETS[i], (unsigned long long)cum);
    }
    if (rc == 0) {
        uint64_t count = atomic_load(&srv->hist_count);
        rc =
            bpt_buf_appendf(&b,
                            "bpt_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                            "bpt_http_request_duration_seconds_sum %.6f\n"
                            "bpt_http_request_duration_seconds_count %llu\n",
                            (unsigned long long)count, (double)atomic_load(&srv->hist_sum_us) / 1e6,
                            (unsigned long long)count);
    }
    if (rc == 0) {
        rc = bpt_buf_append(&b, "", 1);
    }
    ret = rc == 0 ? send_text(c, 200, "text/plain; version=0.0.4", (const char *)b.data, 0)
                  : send_error(c, 500, "internal", "metrics", 0);
    bpt_buf_dispose(&b);
    return ret;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void observe(bpt_kx_server *srv, const struct req *rq)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs =
        (double)(now.tv_sec - rq->start.tv_sec) + (double)(now.tv_nsec - rq->start.tv_nsec) / 1e9;
    size_t i = 0;
    while (i < NBUCKETS && secs > BUCKETS[i]) {
        i++;
    }
    atomic_fetch_add(&srv->hist[i], 1);
    atomic_fetch_add(&srv->hist_count, 1);
    atomic_fetch_add(&srv->hist_sum_us, (uint64_t)(secs * 1e6));
}

static enum MHD_Result route(bpt_kx_server *srv, struct MHD_Connection *c, const char *url,
                             const char *method, const struct req *rq)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

    if (strcmp(url, "/healthz") == 0) {
        return get ? send_text(c, 200, "application/json", "{\"status\":\"ok\"}", 0)
                   : send_error(c, 405, "method_not_allowed", "use GET", 0);
    }
    if (strcmp(url, "/metrics") == 0) {
        return get ? get_metrics(srv, c) : send_error(c, 405, "method_not_allowed", "use GET", 0);
    }
    if (strncmp(url, "/v1/", 4) != 0) {
        return send_error(c, 404, "not_found", "no such endpoint", 0);
    }
    if (!rate_allow(srv, c)) {
        atomic_fetch_add(&srv->rate_limited, 1);
        /* one token comes back every 60 / per_minute seconds */
        unsigned pm = srv->opts.rate_limit_per_minute;
        unsigned wait = pm == 0 ? 60 : (60 + pm - 1) / pm;
        return send_error(c, 429, "rate_limited", "too many requests", wait);
    }
    if (rq->too_large) {
        atomic_fetch_add(&srv->too_large, 1);
        return send_error(c, 413, "payload_too_large", "request body exceeds the limit", 0);
    }
    if (strcmp(url, "/v1/sessions") == 0) {
        return post ? create_session(srv, c, rq)
                    : send_error(c, 405, "method_not_allowed", "use POST", 0);
    }
    if (strcmp(url, "/v1/attestation") == 0) {
        return get ? get_attestation(srv, c)
                   : send_error(c, 405, "method_not_allowed", "use GET", 0);
    }
    const char *p = url + strlen("/v1/sessions/");
    const char *suffix = "/secrets";
    if (strncmp(url, "/v1/sessions/", 13) == 0 && strlen(p) == 32 + strlen(suffix) &&
        strcmp(p + 32, suffix) == 0) {
        char id[33];
        memcpy(id, p, 32);
        id[32] = '\0';
        return post ? submit_secrets(srv, c, rq, id)
                    : send_error(c, 405, "method_not_allowed", "use POST", 0);
    }
    if (strncmp(url, "/v1/sessions/", 13) == 0) {
        return send_error(c, 404, "session_not_found", "no such session", 0);
    }
    return send_error(c, 404, "not_found", "no such endpoint", 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    bpt_kx_server *srv = cls;
    struct req *rq = *con_cls;
    (void)version;

    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL) {
            return MHD_NO;
        }
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        *con_cls = rq;
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char *end = NULL;
            unsigned long long v = strtoull(cl, &end, 10);
            if (end == cl || *end != '\0' || v > srv->opts.max_body_bytes) {
                /* answer at once; libmicrohttpd skips the body and closes the connection */
                rq->too_large = true;
                rq->answered = true;
                enum MHD_Result ret = route(srv, c, url, method, rq);
                observe(srv, rq);
                return ret;
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_large || n > srv->opts.max_body_bytes - rq->len) {
            rq->too_large = true;
            if (rq->body != NULL) {
                OPENSSL_cleanse(rq->body, rq->len);
            }
            free(rq->body);
            rq->body = NULL;
            rq->len = 0;
            /* libmicrohttpd 0.9.75 cannot answer mid-upload: the rest of the body is read
             * and dropped, and 413 goes out when it ends; a sender that keeps going past
             * BPT_LIMIT_JSON_BYTES is cut off */
            rq->dropped += n;
            return rq->dropped > BPT_LIMIT_JSON_BYTES ? MHD_NO : MHD_YES;
        }
        char *nb = realloc(rq->body, rq->len + n + 1);
        if (nb == NULL) {
            return MHD_NO;
        }
        memcpy(nb + rq->len, upload_data, n);
        rq->body = nb;
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }
    if (rq->answered) {
        return MHD_YES;
    }
    enum MHD_Result ret = route(srv, c, url, method, rq);
    observe(srv, rq);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct req *rq = *con_cls;
    if (rq != NULL) {
        if (rq->body != NULL) {
            OPENSSL_cleanse(rq->body, rq->len);
        }
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

int bpt_kx_server_start(bpt_kx_server **out, bpt_kx_service *svc, const bpt_kx_server_options *opts)
{
    bpt_kx_server *srv = NULL;
    bpt_kx_server_options defaults = BPT_KX_SERVER_OPTIONS_INIT;
    struct sockaddr_storage ss;
    socklen_t sl = 0;

    if (out == NULL || svc == NULL) {
        return bpt_err(BPT_EINVAL, "kx: server_start: NULL argument");
    }
    *out = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    if (opts->version != BPT_KX_SERVER_OPTIONS_VERSION) {
        return bpt_err(BPT_EINVAL, "kx: server options version %u, want %u", opts->version,
                       BPT_KX_SERVER_OPTIONS_VERSION);
    }
    if (opts->store == NULL && opts->on_secret == NULL) {
        return bpt_err(BPT_EINVAL, "kx: server needs a secret store or an on_secret callback");
    }
    if (opts->max_body_bytes == 0 || opts->max_body_bytes > BPT_LIMIT_JSON_BYTES) {
        return bpt_err(BPT_EINVAL, "kx: max_body_bytes %zu outside 1..%u", opts->max_body_bytes,
                       BPT_LIMIT_JSON_BYTES);
    }
    const char *host = opts->listen_host != NULL ? opts->listen_host : "127.0.0.1";
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(opts->port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(opts->port);
        sl = sizeof(*s6);
        flags |= MHD_USE_IPv6;
    } else {
        return bpt_err(BPT_EINVAL, "kx: listen address '%s' is not a numeric IPv4/IPv6 address",
                       host);
    }
    (void)sl;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return bpt_err_nomem("kx: server");
    }
    srv->svc = svc;
    srv->opts = *opts;
    snprintf(srv->host, sizeof(srv->host), "%s", host);
    srv->opts.listen_host = srv->host;
    pthread_mutex_init(&srv->rl_mu, NULL);
    unsigned threads = opts->threads == 0 ? 2 : opts->threads;
    srv->daemon = MHD_start_daemon(
        flags, opts->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
    if (srv->daemon == NULL) {
        pthread_mutex_destroy(&srv->rl_mu);
        free(srv);
        return bpt_err(BPT_EIO, "kx: cannot listen on %s port %u", host, (unsigned)opts->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di != NULL ? di->port : opts->port;
    BPT_LOG(BPT_LOG_INFO, "kx", "listening host=%s port=%u", host, (unsigned)srv->port);
    *out = srv;
    return 0;
}

uint16_t bpt_kx_server_port(const bpt_kx_server *srv)
{
    return srv->port;
}

void bpt_kx_server_stop(bpt_kx_server *srv)
{
    if (srv == NULL) {
        return;
    }
    MHD_stop_daemon(srv->daemon);
    pthread_mutex_destroy(&srv->rl_mu);
    free(srv);
}
