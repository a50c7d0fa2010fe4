/*
 * The key-exchange protocol of DESIGN.md §6 between request bytes and the service: session
 * creation (nonce, the 201 answer), secret delivery (v1 HPKE entries or the legacy v0 payload,
 * opened all or nothing into bpt_secret, the 200 answer) and the attestation endpoint. Every
 * way a request ends is a bpt_kx_outcome; the one table below gives its HTTP status and wire
 * code, so no caller compares code strings. It knows no transport: server.c carries it.
 *
 * A secrets call takes its session out of the service before the body is looked at and frees
 * the private key before answering, whatever the outcome (one-time use). Opened plaintext
 * lives only in bpt_secret; error messages name secrets, never their values.
 */
#include "exchange/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"
#include "exchange/exchange_internal.h"

#define MAX_NAME_BYTES 256
#define V0_NONCE_LEN 12

/* ---- outcomes ---------------------------------------------------------------------------- */

static const struct {
    unsigned status;
    const char *code;
} OUTCOMES[BPT_KX_OUTCOME_COUNT] = {
    [BPT_KX_OK] = {200, "ok"},
    [BPT_KX_CREATED] = {201, "created"},
    [BPT_KX_BAD_REQUEST] = {400, "bad_request"},
    [BPT_KX_DECRYPT_FAILED] = {400, "decrypt_failed"},
    [BPT_KX_SESSION_NOT_FOUND] = {404, "session_not_found"},
    [BPT_KX_NOT_FOUND] = {404, "not_found"},
    [BPT_KX_METHOD_NOT_ALLOWED] = {405, "method_not_allowed"},
    [BPT_KX_SESSION_EXPIRED] = {410, "session_expired"},
    [BPT_KX_PAYLOAD_TOO_LARGE] = {413, "payload_too_large"},
    [BPT_KX_RATE_LIMITED] = {429, "rate_limited"},
    [BPT_KX_INTERNAL] = {500, "internal"},
    [BPT_KX_NOT_SUPPORTED] = {501, "not_supported"},
    [BPT_KX_CAPACITY] = {503, "capacity"},
};

/* What goes out when not even an error answer can be allocated. */
static const char OOM_BODY[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

static bool outcome_known(bpt_kx_outcome o)
{
    return (unsigned)o < BPT_KX_OUTCOME_COUNT && OUTCOMES[o].code != NULL;
}

unsigned bpt_kx_outcome_status(bpt_kx_outcome o)
{
    return outcome_known(o) ? OUTCOMES[o].status : OUTCOMES[BPT_KX_INTERNAL].status;
}

const char *bpt_kx_outcome_code(bpt_kx_outcome o)
{
    return outcome_known(o) ? OUTCOMES[o].code : OUTCOMES[BPT_KX_INTERNAL].code;
}

/* ---- answers ----------------------------------------------------------------------------- */

static void answer_init(bpt_kx_answer *a)
{
    a->json = NULL;
    a->delivered = 0;
}

const char *bpt_kx_answer_body(const bpt_kx_answer *a)
{
    return a->json != NULL ? a->json : OOM_BODY;
}

void bpt_kx_answer_dispose(bpt_kx_answer *a)
{
    free(a->json); /* json_dumps() allocates with jansson's default malloc */
    answer_init(a);
}

/* Serialise @p j (its reference is taken; NULL = allocation failed) as the body for @p o. */
BPT_MUST_USE static bpt_kx_outcome answer_json(bpt_kx_answer *out, bpt_kx_outcome o, json_t *j)
{
    out->json = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return out->json != NULL ? o : BPT_KX_INTERNAL;
}

bpt_kx_outcome bpt_kx_answer_error(bpt_kx_answer *out, bpt_kx_outcome o, const char *message)
{
    answer_init(out);
    return answer_json(
        out, o,
        json_pack("{s:{s:s,s:s}}", "error", "code", bpt_kx_outcome_code(o), "message", message));
}

/* ---- shared pieces ----------------------------------------------------------------------- */

/* The report as a JSON value; JSON null without a report, NULL on failure. */
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

/* Decode an optional hex nonce (NULL: none) of BPT_KX_NONCE_MIN..MAX bytes. */
BPT_MUST_USE static int decode_nonce(uint8_t nonce[BPT_KX_NONCE_MAX], size_t *nonce_len,
                                     const char *hex)
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

/* A request body that must be a JSON object with only @p keys; the message says what is wrong. */
BPT_MUST_USE static int parse_object(json_t **out, const char *text, size_t len,
                                     const char *const *keys)
{
    json_t *j = NULL;
    int rc = bpt_json_parse(&j, text, len, "request");
    if (rc == 0 && !json_is_object(j)) {
        rc = bpt_err(BPT_EINVAL, "request: body is not a JSON object");
    }
    if (rc == 0) {
        rc = bpt_json_check_keys(j, keys, "request");
    }
    if (rc < 0) {
        json_decref(j);
        return rc;
    }
    *out = j;
    return 0;
}

/* ---- POST /v1/sessions ------------------------------------------------------------------- */

bpt_kx_outcome bpt_kx_answer_create_session(bpt_kx_answer *out, bpt_kx_service *svc,
                                            const char *body, size_t len)
{
    json_t *req = NULL, *att = NULL, *resp = NULL;
    const char *nonce_hex = NULL;
    uint8_t nonce[BPT_KX_NONCE_MAX];
    size_t nonce_len = 0;
    bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
    bpt_report *rep = NULL;
    static const char *const keys[] = {"nonce", NULL};
    int rc = 0;

    answer_init(out);
    if (len > 0) {
        rc = parse_object(&req, body, len, keys);
        if (rc == 0) {
            rc = bpt_json_get_str(req, "nonce", &nonce_hex, false, "request");
        }
        if (rc >= 0) {
            rc = decode_nonce(nonce, &nonce_len, nonce_hex);
        }
        json_decref(req); /* nonce_hex pointed into it; the nonce is decoded */
        if (rc < 0) {
            return bpt_kx_answer_error(out, BPT_KX_BAD_REQUEST, bpt_error_last());
        }
    }
    rc = bpt_kx_service_create(&info, &rep, svc, nonce_len ? nonce : NULL, nonce_len);
    if (rc == BPT_EBUSY) {
        return bpt_kx_answer_error(out, BPT_KX_CAPACITY, "session capacity reached; retry later");
    }
    if (rc < 0) {
        BPT_LOG(BPT_LOG_WARN, "kx", "session creation failed: %s", bpt_error_last());
        return bpt_kx_answer_error(out, BPT_KX_INTERNAL, "session creation failed");
    }
    att = report_json(rep);
    bpt_report_free(rep);
    if (att == NULL) {
        return bpt_kx_answer_error(out, BPT_KX_INTERNAL, "attestation serialisation failed");
    }
    resp = json_pack("{s:s,s:o,s:s,s:s,s:I,s:o}", "session_id", info.id_hex, "public_key",
                     bpt_json_hex(info.public_key, BPT_KX_PUBLIC_KEY_LEN), "key_type", "x25519",
                     "suite", BPT_KX_SUITE, "expires_at", (json_int_t)info.expires_at,
                     "attestation", att);
    if (resp != NULL && info.service_key &&
        (json_object_set_new(resp, "binding", json_string("service_key")) < 0 ||
         json_object_set_new(
             resp, "service_key",
             bpt_json_hex(info.service_public_key, sizeof(info.service_public_key))) < 0 ||
         json_object_set_new(resp, "signature",
                             bpt_json_hex(info.signature, sizeof(info.signature))) < 0)) {
        json_decref(resp);
        resp = NULL;
    }
    return answer_json(out, BPT_KX_CREATED, resp);
}

/* ---- POST /v1/sessions/{id}/secrets ------------------------------------------------------ */

/* How a failed open ends: an expired session is 410, anything else a secret that did not open. */
static bpt_kx_outcome open_outcome(int rc)
{
    return rc == BPT_EEXPIRED ? BPT_KX_SESSION_EXPIRED : BPT_KX_DECRYPT_FAILED;
}

/* Check and open every v1 entry of @p secrets; all or nothing. */
BPT_MUST_USE static bpt_kx_outcome open_v1(struct bpt_kx_opened *out, size_t *n_out,
                                           bpt_kx_session *s, const json_t *secrets)
{
    bpt_kx_outcome o = BPT_KX_BAD_REQUEST;
    int rc = BPT_ERROR;
    size_t n = json_array_size(secrets);
    bpt_buf enc, ct;
    static const char *const keys[] = {"name", "enc", "ciphertext", NULL};

    *n_out = 0;
    bpt_buf_init(&enc, 64);
    bpt_buf_init(&ct, BPT_LIMIT_HTTP_BODY_BYTES);
    if (n == 0 || n > BPT_KX_MAX_SECRETS_PER_REQUEST) {
        bpt_err(BPT_EINVAL, "secrets: want 1..%d entries, got %zu", BPT_KX_MAX_SECRETS_PER_REQUEST,
                n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(secrets, i);
        const char *name = NULL;
        char ctx[32];
        snprintf(ctx, sizeof(ctx), "secrets[%zu]", i);
        if (!json_is_object(e)) {
            bpt_err(BPT_EINVAL, "%s is not an object", ctx);
            goto out;
        }
        BPT_CHECK(bpt_json_check_keys(e, keys, ctx));
        BPT_CHECK(bpt_json_get_str(e, "name", &name, true, ctx));
        size_t nl = strlen(name);
        if (nl == 0 || nl > MAX_NAME_BYTES ||
            nl != json_string_length(json_object_get(e, "name"))) {
            bpt_err(BPT_EINVAL, "%s.name must be 1..%d bytes without NUL", ctx, MAX_NAME_BYTES);
            goto out;
        }
        for (size_t k = 0; k < *n_out; k++) {
            if (strcmp(out[k].name, name) == 0) {
                bpt_err(BPT_EINVAL, "%s.name '%s' repeats", ctx, name);
                goto out;
            }
        }
        bpt_buf_reset(&enc);
        bpt_buf_reset(&ct);
        BPT_CHECK(bpt_json_get_bytes(e, "enc", &enc, true, true, ctx));
        BPT_CHECK(bpt_json_get_bytes(e, "ciphertext", &ct, true, true, ctx));
        if (enc.len != BPT_KX_PUBLIC_KEY_LEN) {
            bpt_err(BPT_EINVAL, "%s.enc is %zu bytes, want %d", ctx, enc.len,
                    BPT_KX_PUBLIC_KEY_LEN);
            goto out;
        }
        rc = bpt_kx_session_open(&out[*n_out].value, s, name, enc.data, enc.len, ct.data, ct.len);
        if (rc < 0) {
            o = open_outcome(rc);
            goto out;
        }
        out[*n_out].name = name;
        (*n_out)++;
    }
    o = BPT_KX_OK;
out:
    bpt_buf_dispose(&enc);
    bpt_buf_dispose(&ct);
    return o;
}

/* The Rust crate's v0 SealedSecretPayload: {"session_id", "ciphertext": [..], "nonce": [12],
 * "ephemeral_public_key": [32]} (byte arrays as serde writes them; hex also accepted). */
BPT_MUST_USE static bpt_kx_outcome open_v0(struct bpt_kx_opened *out, size_t *n_out,
                                           bpt_kx_session *s, const json_t *body)
{
    static const char *const keys[] = {"session_id", "ciphertext", "nonce", "ephemeral_public_key",
                                       NULL};
    const char *sid = NULL;
    bpt_buf ct = BPT_BUF_INIT(BPT_LIMIT_HTTP_BODY_BYTES), nonce = BPT_BUF_INIT(V0_NONCE_LEN),
            epk = BPT_BUF_INIT(BPT_KX_PUBLIC_KEY_LEN);
    bpt_kx_outcome o = BPT_KX_BAD_REQUEST;
    int rc;

    *n_out = 0;
    BPT_CHECK(bpt_json_check_keys(body, keys, "v0 payload"));
    BPT_CHECK(bpt_json_get_str(body, "session_id", &sid, true, "v0 payload"));
    if (strcmp(sid, bpt_kx_session_id_hex(s)) != 0) {
        bpt_err(BPT_EINVAL, "v0 payload: session_id differs from the URL's");
        goto out;
    }
    BPT_CHECK(bpt_json_get_bytes(body, "ciphertext", &ct, false, true, "v0 payload"));
    BPT_CHECK(bpt_json_get_bytes(body, "nonce", &nonce, false, true, "v0 payload"));
    BPT_CHECK(bpt_json_get_bytes(body, "ephemeral_public_key", &epk, false, true, "v0 payload"));
    if (nonce.len != V0_NONCE_LEN || epk.len != BPT_KX_PUBLIC_KEY_LEN) {
        bpt_err(BPT_EINVAL, "v0 payload: nonce must be 12 bytes and ephemeral_public_key 32");
        goto out;
    }
    rc = bpt_kx_session_open_v0(&out[0].value, s, epk.data, nonce.data, ct.data, ct.len);
    if (rc < 0) {
        o = open_outcome(rc);
        goto out;
    }
    out[0].name = "sealed_secret";
    *n_out = 1;
    o = BPT_KX_OK;
out:
    bpt_buf_dispose(&ct);
    bpt_buf_dispose(&nonce);
    bpt_buf_dispose(&epk);
    return o;
}

bpt_kx_outcome bpt_kx_open_secrets_body(struct bpt_kx_opened out[BPT_KX_MAX_SECRETS_PER_REQUEST],
                                        size_t *n_out, json_t **body_out, bpt_kx_session *s,
                                        const char *text, size_t len, bool legacy_v0)
{
    json_t *body = NULL, *secrets = NULL;
    static const char *const keys[] = {"secrets", NULL};

    *n_out = 0;
    *body_out = NULL;
    if (legacy_v0 && bpt_json_parse(&body, text, len, "request") == 0 && json_is_object(body) &&
        json_object_get(body, "ciphertext") != NULL) {
        *body_out = body;
        return open_v0(out, n_out, s, body);
    }
    json_decref(body);
    body = NULL;
    if (parse_object(&body, text, len, keys) < 0) {
        return BPT_KX_BAD_REQUEST;
    }
    *body_out = body; /* the names in out[] point into it */
    if (bpt_json_get_arr(body, "secrets", &secrets, true, "request") < 0) {
        return BPT_KX_BAD_REQUEST;
    }
    return open_v1(out, n_out, s, secrets);
}

bpt_kx_outcome bpt_kx_answer_submit_secrets(bpt_kx_answer *out, bpt_kx_service *svc,
                                            const char *id_hex, const char *body, size_t len,
                                            const bpt_kx_delivery *d)
{
    bpt_kx_session *s = NULL;
    json_t *req = NULL, *stored = NULL;
    struct bpt_kx_opened op[BPT_KX_MAX_SECRETS_PER_REQUEST];
    size_t n = 0, delivered = 0;
    bpt_kx_outcome o;
    char fp[65];

    answer_init(out);
    memset(op, 0, sizeof(op));
    /* one-time use: the session leaves the service before anything else is looked at */
    int rc = bpt_kx_service_consume(&s, svc, id_hex);
    if (rc == BPT_EEXPIRED) {
        return bpt_kx_answer_error(out, BPT_KX_SESSION_EXPIRED, "session expired");
    }
    if (rc < 0) {
        return bpt_kx_answer_error(out, BPT_KX_SESSION_NOT_FOUND, "no such session");
    }
    o = bpt_kx_open_secrets_body(op, &n, &req, s, body, len, d->legacy_v0);
    bpt_kx_session_consume(s); /* the private key goes now, whatever the outcome */
    if (o != BPT_KX_OK) {
        /* a decrypt failure's message would name the secret; say only that one did not open */
        o = bpt_kx_answer_error(
            out, o, o == BPT_KX_DECRYPT_FAILED ? "a secret could not be opened" : bpt_error_last());
        goto out;
    }
    stored = json_array();
    for (size_t i = 0; i < n && stored != NULL; i++) {
        if (d->on_secret != NULL) {
            d->on_secret(bpt_kx_session_id_hex(s), op[i].name, op[i].value, d->on_secret_userdata);
        }
        if (d->store != NULL) {
            if (bpt_kx_store_put(d->store, op[i].name, op[i].value) < 0) {
                o = bpt_kx_answer_error(out, BPT_KX_INTERNAL, bpt_error_last());
                goto out;
            }
            op[i].value = NULL;
        }
        json_array_append_new(stored, json_string(op[i].name));
        delivered++;
    }
    bpt_kx_session_public_key_digest(fp, s);
    o = answer_json(out, BPT_KX_OK,
                    json_pack("{s:b,s:s,s:s,s:o}", "success", 1, "attestation_digest",
                              bpt_kx_session_attestation_digest(s), "key_fingerprint", fp, "stored",
                              stored));
    stored = NULL; /* taken by json_pack, also when it failed */
out:
    out->delivered = delivered;
    for (size_t i = 0; i < BPT_KX_MAX_SECRETS_PER_REQUEST; i++) {
        bpt_secret_free(op[i].value);
    }
    json_decref(stored);
    json_decref(req);
    bpt_kx_session_free(s);
    return o;
}

/* ---- GET /v1/attestation ----------------------------------------------------------------- */

bpt_kx_outcome bpt_kx_answer_attestation(bpt_kx_answer *out, bpt_kx_service *svc,
                                         const char *nonce_hex)
{
    uint8_t nonce[BPT_KX_NONCE_MAX], rd[64];
    size_t nonce_len = 0;
    bpt_report *rep = NULL;

    answer_init(out);
    if (decode_nonce(nonce, &nonce_len, nonce_hex) < 0) {
        return bpt_kx_answer_error(out, BPT_KX_BAD_REQUEST, bpt_error_last());
    }
    memset(rd, 0, sizeof(rd));
    int rc = nonce_len > 0 ? bpt_sha256(rd + 32, nonce, nonce_len) : 0;
    if (rc == 0) {
        rc = bpt_kx_service_attest(&rep, svc, rd);
    }
    if (rc == BPT_ENOTSUP) {
        return bpt_kx_answer_error(out, BPT_KX_NOT_SUPPORTED, "this service has no attester");
    }
    if (rc < 0) {
        BPT_LOG(BPT_LOG_WARN, "kx", "attestation failed: %s", bpt_error_last());
        return bpt_kx_answer_error(out, BPT_KX_INTERNAL, "attestation failed");
    }
    json_t *att = report_json(rep);
    bpt_report_free(rep);
    if (att == NULL) {
        return bpt_kx_answer_error(out, BPT_KX_INTERNAL, "attestation serialisation failed");
    }
    return answer_json(out, BPT_KX_OK, json_pack("{s:o}", "attestation", att));
}
