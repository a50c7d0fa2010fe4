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

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"
#include "exchange/exchange_internal.h"

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
    [BPT_KX_SENDER_REFUSED] = {403, "sender_not_authorized"},
    [BPT_KX_SESSION_NOT_FOUND] = {404, "session_not_found"},
    [BPT_KX_NOT_FOUND] = {404, "not_found"},
    [BPT_KX_METHOD_NOT_ALLOWED] = {405, "method_not_allowed"},
    [BPT_KX_CONFLICT] = {409, "conflict"},
    [BPT_KX_SESSION_EXPIRED] = {410, "session_expired"},
    [BPT_KX_PAYLOAD_TOO_LARGE] = {413, "payload_too_large"},
    [BPT_KX_UNSUPPORTED_MEDIA] = {415, "unsupported_media_type"},
    [BPT_KX_RATE_LIMITED] = {429, "rate_limited"},
    [BPT_KX_CLIENT_LIMIT] = {429, "too_many_sessions"},
    [BPT_KX_INTERNAL] = {500, "internal"},
    [BPT_KX_NOT_SUPPORTED] = {501, "not_supported"},
    [BPT_KX_CAPACITY] = {503, "capacity"},
    [BPT_KX_STORE_FULL] = {507, "store_full"},
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
                                            const char *client, const char *body, size_t len)
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
    rc = bpt_kx_service_create_for(&info, &rep, svc, client, nonce_len ? nonce : NULL, nonce_len);
    if (rc == BPT_EBUSY) {
        return bpt_kx_answer_error(out, BPT_KX_CAPACITY, "session capacity reached; retry later");
    }
    if (rc == BPT_ELIMIT) {
        return bpt_kx_answer_error(out, BPT_KX_CLIENT_LIMIT,
                                   "this address holds its share of sessions; use or let one "
                                   "expire");
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
        /* names reach logs and file names: a small alphabet, nothing to escape */
        if (!bpt_kx_name_is_valid(name) ||
            strlen(name) != json_string_length(json_object_get(e, "name"))) {
            bpt_err(BPT_EINVAL, "%s.name must be 1..%d bytes of [A-Za-z0-9._-]", ctx,
                    BPT_KX_NAME_MAX);
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

int bpt_kx_sender_message(uint8_t out[BPT_KX_SENDER_MESSAGE_LEN],
                          const uint8_t id[BPT_KX_SESSION_ID_LEN], const json_t *secrets)
{
    json_t *unsigned_body = json_pack("{s:O}", "secrets", (json_t *)secrets);
    char *text =
        unsigned_body != NULL ? json_dumps(unsigned_body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = text != NULL ? 0 : bpt_err(BPT_EINVAL, "sender: the secrets cannot be serialised");
    memcpy(out, id, BPT_KX_SESSION_ID_LEN);
    if (rc == 0) {
        rc = bpt_sha256(out + BPT_KX_SESSION_ID_LEN, text, strlen(text));
    }
    free(text);
    json_decref(unsigned_body);
    return rc;
}

/* The sender check of a delivery: "sender" names an authorized Ed25519 key whose signature
 * over bpt_kx_sender_message() verifies. Nothing has been opened yet. */
BPT_MUST_USE static int check_sender(const json_t *body, const json_t *secrets,
                                     const bpt_kx_session *s, const bpt_kx_delivery *d)
{
    static const char *const keys[] = {"key_type", "public_key", "signature", NULL};
    json_t *sender = NULL;
    const char *kt = NULL, *pk_hex = NULL, *sig_hex = NULL;
    uint8_t pk[32], sig[64], msg[BPT_KX_SENDER_MESSAGE_LEN];
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    int rc = BPT_ERROR;
    bool known = false;

    if (bpt_json_get_obj(body, "sender", &sender, false, "request") < 0 || sender == NULL) {
        rc = bpt_err(BPT_EPROTOCOL, "sender: this service takes deliveries from authorized "
                                    "senders only; the body carries no sender");
        goto out;
    }
    if (bpt_json_check_keys(sender, keys, "sender") < 0 ||
        bpt_json_get_str(sender, "key_type", &kt, true, "sender") < 0 ||
        bpt_json_get_str(sender, "public_key", &pk_hex, true, "sender") < 0 ||
        bpt_json_get_str(sender, "signature", &sig_hex, true, "sender") < 0) {
        rc = bpt_err_prefix(BPT_EPROTOCOL, "sender");
        goto out;
    }
    if (strcmp(kt, "ed25519") != 0) {
        rc = bpt_err(BPT_EPROTOCOL, "sender: key_type '%.20s' not supported (ed25519)", kt);
        goto out;
    }
    if (bpt_hex_decode_exact(pk, sizeof(pk), pk_hex, strlen(pk_hex), "sender.public_key") < 0 ||
        bpt_hex_decode_exact(sig, sizeof(sig), sig_hex, strlen(sig_hex), "sender.signature") < 0) {
        rc = bpt_err_prefix(BPT_EPROTOCOL, "sender");
        goto out;
    }
    for (size_t i = 0; i < d->n_senders; i++) {
        known |= CRYPTO_memcmp(d->senders + 32 * i, pk, 32) == 0;
    }
    if (!known) {
        rc = bpt_err(BPT_EPROTOCOL, "sender: public key is not an authorized sender");
        goto out;
    }
    BPT_CHECK(bpt_kx_sender_message(msg, bpt_kx_session_id(s), secrets));
    key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, sizeof(pk));
    md = EVP_MD_CTX_new();
    if (key == NULL || md == NULL || EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "sender: Ed25519 setup");
        goto out;
    }
    if (EVP_DigestVerify(md, sig, sizeof(sig), msg, sizeof(msg)) != 1) {
        rc = bpt_err_ossl(BPT_EPROTOCOL, "sender: signature does not verify over this session "
                                         "and body");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return rc;
}

bpt_kx_outcome bpt_kx_open_secrets_body(struct bpt_kx_opened out[BPT_KX_MAX_SECRETS_PER_REQUEST],
                                        size_t *n_out, json_t **body_out, bpt_kx_session *s,
                                        const char *text, size_t len, const bpt_kx_delivery *d)
{
    json_t *body = NULL, *secrets = NULL;
    static const char *const keys[] = {"secrets", "sender", NULL};
    bool signed_only = d->n_senders > 0;

    *n_out = 0;
    *body_out = NULL;
    if (d->legacy_v0 && bpt_json_parse(&body, text, len, "request") == 0 && json_is_object(body) &&
        json_object_get(body, "ciphertext") != NULL) {
        *body_out = body;
        if (signed_only) {
            bpt_err(BPT_EPROTOCOL, "sender: a v0 payload cannot name its sender, and this "
                                   "service takes signed deliveries only");
            return BPT_KX_SENDER_REFUSED;
        }
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
    if (signed_only && check_sender(body, secrets, s, d) < 0) {
        return BPT_KX_SENDER_REFUSED;
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
    bpt_secret *copies[BPT_KX_MAX_SECRETS_PER_REQUEST];
    size_t n = 0, delivered = 0;
    bpt_kx_outcome o;
    char fp[65];

    answer_init(out);
    memset(op, 0, sizeof(op));
    memset(copies, 0, sizeof(copies));
    /* one-time use: the session leaves the service before anything else is looked at */
    int rc = bpt_kx_service_consume(&s, svc, id_hex);
    if (rc == BPT_EEXPIRED) {
        return bpt_kx_answer_error(out, BPT_KX_SESSION_EXPIRED, "session expired");
    }
    if (rc == BPT_EINVAL) {
        return bpt_kx_answer_error(out, BPT_KX_BAD_REQUEST,
                                   "a session id is 32 lower-case hex digits");
    }
    if (rc < 0) {
        return bpt_kx_answer_error(out, BPT_KX_SESSION_NOT_FOUND, "no such session");
    }
    o = bpt_kx_open_secrets_body(op, &n, &req, s, body, len, d);
    bpt_kx_session_consume(s); /* the private key goes now, whatever the outcome */
    if (o != BPT_KX_OK) {
        /* a decrypt failure's message would name the secret; say only that one did not open */
        o = bpt_kx_answer_error(
            out, o, o == BPT_KX_DECRYPT_FAILED ? "a secret could not be opened" : bpt_error_last());
        goto out;
    }
    /* the callback gets copies, so that it runs only once the store holds the delivery
     * and no other thread's replacement can free what it reads */
    for (size_t i = 0; i < n && d->store != NULL && d->on_secret != NULL; i++) {
        if (bpt_secret_from(&copies[i], bpt_secret_data(op[i].value), bpt_secret_len(op[i].value)) <
            0) {
            o = bpt_kx_answer_error(out, BPT_KX_INTERNAL, "out of secure memory");
            goto out;
        }
    }
    if (d->store != NULL) {
        const char *names[BPT_KX_MAX_SECRETS_PER_REQUEST];
        bpt_secret *values[BPT_KX_MAX_SECRETS_PER_REQUEST];
        for (size_t i = 0; i < n; i++) {
            names[i] = op[i].name;
            values[i] = op[i].value;
        }
        int src = bpt_kx_store_put_all(d->store, names, values, n);
        if (src < 0) {
            o = bpt_kx_answer_error(out,
                                    src == BPT_EEXISTS  ? BPT_KX_CONFLICT
                                    : src == BPT_ELIMIT ? BPT_KX_STORE_FULL
                                                        : BPT_KX_INTERNAL,
                                    src == BPT_ELIMIT ? "the secret store is full"
                                                      : bpt_error_last());
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            op[i].value = NULL; /* the store owns them now */
        }
    }
    delivered = n;
    for (size_t i = 0; i < n && d->on_secret != NULL; i++) {
        d->on_secret(bpt_kx_session_id_hex(s), op[i].name,
                     copies[i] != NULL ? copies[i] : op[i].value, d->on_secret_userdata);
    }
    stored = json_array();
    for (size_t i = 0; i < n && stored != NULL; i++) {
        json_array_append_new(stored, json_string(op[i].name));
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
        bpt_secret_free(copies[i]);
    }
    json_decref(stored);
    json_decref(req);
    bpt_kx_session_free(s);
    return o;
}

/* ---- GET /v1/attestation ----------------------------------------------------------------- */

int bpt_kx_attestation_report_data(uint8_t out[64], const uint8_t *nonce, size_t nonce_len)
{
    if (out == NULL || (nonce == NULL) != (nonce_len == 0) ||
        (nonce_len != 0 && (nonce_len < BPT_KX_NONCE_MIN || nonce_len > BPT_KX_NONCE_MAX))) {
        return bpt_err(BPT_EINVAL, "attestation nonce is %zu bytes, want %d..%d", nonce_len,
                       BPT_KX_NONCE_MIN, BPT_KX_NONCE_MAX);
    }
    memset(out, 0, 64);
    return nonce_len > 0 ? bpt_sha256(out + 32, nonce, nonce_len) : 0;
}

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
    int rc = bpt_kx_attestation_report_data(rd, nonce_len > 0 ? nonce : NULL, nonce_len);
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

/* ---- request heads ----------------------------------------------------------------------- */

bpt_kx_route bpt_kx_route_parse(const char *path, char id_out[2 * BPT_KX_SESSION_ID_LEN + 1])
{
    static const char sessions[] = "/v1/sessions/", suffix[] = "/secrets";
    const size_t id_len = 2 * BPT_KX_SESSION_ID_LEN;

    id_out[0] = '\0';
    if (strcmp(path, "/healthz") == 0) {
        return BPT_KX_ROUTE_HEALTHZ;
    }
    if (strcmp(path, "/metrics") == 0) {
        return BPT_KX_ROUTE_METRICS;
    }
    if (strncmp(path, "/v1/", 4) != 0) {
        return BPT_KX_ROUTE_NOT_FOUND;
    }
    if (strcmp(path, "/v1/sessions") == 0) {
        return BPT_KX_ROUTE_SESSIONS;
    }
    if (strcmp(path, "/v1/attestation") == 0) {
        return BPT_KX_ROUTE_ATTESTATION;
    }
    if (strncmp(path, sessions, sizeof(sessions) - 1) != 0) {
        return BPT_KX_ROUTE_OTHER_V1;
    }
    const char *p = path + sizeof(sessions) - 1;
    if (strlen(p) != id_len + sizeof(suffix) - 1 || strcmp(p + id_len, suffix) != 0) {
        return BPT_KX_ROUTE_NO_SUCH_SESSION;
    }
    for (size_t i = 0; i < id_len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return BPT_KX_ROUTE_BAD_SESSION_ID; /* upper case too: one spelling per session */
        }
    }
    memcpy(id_out, p, id_len);
    id_out[id_len] = '\0';
    return BPT_KX_ROUTE_SECRETS;
}

/* true when @p v is application/json, optionally followed by parameters (";..."). */
static bool is_json_type(const char *v)
{
    static const char want[] = "application/json";
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    if (strncasecmp(v, want, sizeof(want) - 1) != 0) {
        return false;
    }
    v += sizeof(want) - 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    return *v == '\0' || *v == ';';
}

bpt_kx_outcome bpt_kx_check_head(long long *content_length, const char **why, const char *method,
                                 const struct bpt_kx_header *headers, size_t n)
{
    const char *ctype = NULL;
    bool te = false;
    long long cl = -1;

    *content_length = -1;
    *why = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = headers[i].name, *v = headers[i].value != NULL ? headers[i].value : "";
        if (name == NULL) {
            continue;
        }
        if (strcasecmp(name, "Transfer-Encoding") == 0) {
            te = true;
        } else if (strcasecmp(name, "Content-Type") == 0) {
            if (ctype != NULL && strcmp(ctype, v) != 0) {
                *why = "two different Content-Type headers";
                return BPT_KX_BAD_REQUEST;
            }
            ctype = v;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            long long x = 0;
            const char *p = v;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p == '\0') {
                *why = "Content-Length is not a decimal number";
                return BPT_KX_BAD_REQUEST;
            }
            for (; *p >= '0' && *p <= '9'; p++) {
                if (x > (LLONG_MAX - 9) / 10) {
                    *why = "Content-Length is too large";
                    return BPT_KX_BAD_REQUEST;
                }
                x = x * 10 + (*p - '0');
            }
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p != '\0') {
                *why = "Content-Length is not a decimal number";
                return BPT_KX_BAD_REQUEST;
            }
            if (cl >= 0 && cl != x) {
                *why = "two different Content-Length headers";
                return BPT_KX_BAD_REQUEST;
            }
            cl = x;
        }
    }
    if (te && cl >= 0) {
        /* RFC 9112 §6.3: a request smuggling precondition behind a proxy; refuse */
        *why = "Content-Length together with Transfer-Encoding";
        return BPT_KX_BAD_REQUEST;
    }
    *content_length = cl;
    if (method != NULL && strcmp(method, "POST") == 0 && (te || cl > 0) &&
        (ctype == NULL || !is_json_type(ctype))) {
        *why = "the request body must be application/json";
        return BPT_KX_UNSUPPORTED_MEDIA;
    }
    return BPT_KX_OK;
}
