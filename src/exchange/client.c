/*
 * The key exchange client over core/http: create a session with a fresh nonce, verify the
 * attestation and its binding to the session key, seal, submit. Nothing is sealed before the
 * evidence verified and report_data matched.
 */
#include "exchange/exchange_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <blueprint-tee/verify.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"
#include "exchange/protocol.h"

#define MAX_SECRETS 64
/** One time-out for each exchange with the service, connecting included. */
#define KX_CLIENT_TIMEOUT_MS 30000L
/** An answer carries the attestation report (evidence and collateral), hence 16 bodies. */
#define KX_CLIENT_ANSWER_MAX (BPT_LIMIT_HTTP_BODY_BYTES * 16)

/* POST @p body (JSON) to @p url (through @p unix_socket when not NULL); the answer's status and
 * body (NUL-terminated). */
static int post_json(long *status, bpt_buf *resp, const char *url, const char *unix_socket,
                     const char *body)
{
    struct bpt_http_request req = {.method = BPT_HTTP_POST,
                                   .url = url,
                                   .unix_socket = unix_socket,
                                   .content_type = "application/json",
                                   .body = (const uint8_t *)body,
                                   .body_len = strlen(body),
                                   .timeout_ms = KX_CLIENT_TIMEOUT_MS,
                                   .connect_timeout_ms = KX_CLIENT_TIMEOUT_MS};
    struct bpt_http_response r = {.body = resp};
    int rc = bpt_http_send(&r, &req);
    *status = r.status;
    return rc < 0 ? bpt_err_prefix(rc, "kx client") : 0;
}

/* Turn a non-expected status into an error naming the server's error code: BPT_EFETCH for a
 * service that could not serve the request now (5xx, 429 rate_limited: retrying may help, as
 * with a connection that failed), BPT_EPROTOCOL for any other answer (the service refused it). */
static int status_error(long status, const bpt_buf *resp, const char *what)
{
    json_t *j = NULL;
    const char *code = "?", *msg = "";
    if (bpt_json_parse(&j, (const char *)resp->data, resp->len, "error") == 0) {
        json_t *e = json_object_get(j, "error");
        if (json_is_string(json_object_get(e, "code"))) {
            code = json_string_value(json_object_get(e, "code"));
        }
        if (json_is_string(json_object_get(e, "message"))) {
            msg = json_string_value(json_object_get(e, "message"));
        }
    }
    bool unavailable = status >= 500 || status == 429;
    /* the server's words reach the user's terminal: escaped, so they cannot forge lines */
    char code_esc[64], msg_esc[256];
    int rc = bpt_err(unavailable ? BPT_EFETCH : BPT_EPROTOCOL, "kx client: %s: HTTP %ld %s: %s%s",
                     what, status, bpt_escape_text(code_esc, sizeof(code_esc), code),
                     bpt_escape_text(msg_esc, sizeof(msg_esc), msg),
                     unavailable ? " (the service is unavailable)" : "");
    json_decref(j);
    return rc;
}

/* What the service answered does not read as the protocol says (a body that is not JSON, a
 * field missing or of the wrong type, bad hex): the peer broke the protocol. */
static int answer(int rc)
{
    return rc == BPT_EINVAL || rc == BPT_EMALFORMED ? BPT_EPROTOCOL : rc;
}

/*
 * Verify @p rep with the verifier's policy expecting exactly @p rd as report data: evidence that
 * binds the relying party only through its report data (an Azure MAA token without aud) is then
 * bound to this session, and evidence of another report data fails inside the verifier.
 */
static int verify_bound(bpt_verified **out, const bpt_verifier *verifier, const bpt_report *rep,
                        const uint8_t rd[64])
{
    bpt_policy *policy = NULL;
    char hex[129];
    int rc;
    bpt_hex_encode_to(hex, rd, 64);
    BPT_CHECK(bpt_policy_clone(&policy, bpt_verifier_policy(verifier)));
    BPT_CHECK(bpt_policy_set_expected_report_data(policy, hex));
    rc = bpt_verify_report(out, bpt_verifier_ctx(verifier), policy, rep);
out:
    bpt_policy_free(policy);
    return rc;
}

/* Verify the session answer: attestation, key binding, report_data. With the service_key
 * binding, *has_sk is set and @p sk_out gets the attested service key. */
static int check_session(uint8_t pk[32], uint8_t id[16], char id_hex[33], char ev_digest[65],
                         bool *has_sk, uint8_t sk_out[32], const bpt_buf *resp,
                         const bpt_verifier *verifier, const uint8_t *nonce, size_t nonce_len)
{
    int rc = BPT_ERROR;
    json_t *j = NULL, *att = NULL;
    const char *sid = NULL, *pk_hex = NULL, *suite = NULL, *kt = NULL;
    char *att_text = NULL;
    bpt_report *rep = NULL;
    bpt_verified *v = NULL;
    uint8_t want[64];

    BPT_CHECK(answer(bpt_json_parse(&j, (const char *)resp->data, resp->len, "session response")));
    BPT_CHECK(answer(bpt_json_get_str(j, "session_id", &sid, true, "session response")));
    BPT_CHECK(answer(bpt_json_get_str(j, "public_key", &pk_hex, true, "session response")));
    BPT_CHECK(answer(bpt_json_get_str(j, "suite", &suite, true, "session response")));
    BPT_CHECK(answer(bpt_json_get_str(j, "key_type", &kt, true, "session response")));
    if (strcmp(suite, BPT_KX_SUITE) != 0 || strcmp(kt, "x25519") != 0) {
        rc = bpt_err(BPT_EPROTOCOL, "session response: suite '%.80s' key_type '%.20s' not v1",
                     suite, kt);
        goto out;
    }
    BPT_CHECK(answer(bpt_kx_id_parse(id, sid)));
    bpt_hex_encode_to(id_hex, id, 16);
    BPT_CHECK(answer(bpt_hex_decode_exact(pk, 32, pk_hex, strlen(pk_hex), "public_key")));
    att = json_object_get(j, "attestation");
    if (!json_is_object(att)) {
        rc = bpt_err(BPT_EPROTOCOL, "session response carries no attestation");
        goto out;
    }
    att_text = json_dumps(att, JSON_COMPACT);
    if (att_text == NULL) {
        rc = bpt_err_nomem("attestation");
        goto out;
    }
    BPT_CHECK(answer(bpt_report_from_json(&rep, att_text, strlen(att_text))));
    const char *binding = NULL;
    BPT_CHECK(answer(bpt_json_get_str(j, "binding", &binding, false, "session response")));
    BPT_CHECK(bpt_kx_report_data(want, pk, id, nonce, nonce_len));
    size_t bl = 0, rdl = 0;
    const char *bound_type = NULL;
    const uint8_t *bound = bpt_report_key_binding(rep, &bl, &bound_type, NULL), *rd;
    bool service_key = binding != NULL && strcmp(binding, "service_key") == 0;
    uint8_t sk[32], sig[64], svc_rd[64];
    if (binding != NULL && !service_key) {
        rc = bpt_err(BPT_EPROTOCOL, "session response: binding '%.40s' unknown", binding);
        goto out;
    }
    if (service_key) {
        /* The evidence binds an Ed25519 service key once; the key signs this session. */
        const char *sk_hex = NULL, *sig_hex = NULL;
        BPT_CHECK(answer(bpt_json_get_str(j, "service_key", &sk_hex, true, "session response")));
        BPT_CHECK(answer(bpt_json_get_str(j, "signature", &sig_hex, true, "session response")));
        BPT_CHECK(answer(bpt_hex_decode_exact(sk, 32, sk_hex, strlen(sk_hex), "service_key")));
        BPT_CHECK(answer(bpt_hex_decode_exact(sig, 64, sig_hex, strlen(sig_hex), "signature")));
        BPT_CHECK(bpt_kx_service_key_report_data(svc_rd, sk));
    }
    /* The key the evidence must bind, and the report_data it must carry. */
    const uint8_t *expect_key = service_key ? sk : pk, *expect_rd = service_key ? svc_rd : want;
    if (bound == NULL || bl != 32 || CRYPTO_memcmp(bound, expect_key, 32) != 0 ||
        (service_key && strcmp(bound_type, "ed25519") != 0)) {
        rc = bpt_err(BPT_ECLAIM, "attestation public_key_binding is not the %s key",
                     service_key ? "service" : "session");
        goto out;
    }
    rc = verify_bound(&v, verifier, rep, expect_rd);
    if (rc < 0) {
        bpt_err_prefix(rc, "attestation");
        goto out;
    }
    rd = bpt_verified_report_data(v, &rdl);
    if (rd == NULL || rdl < 64 || CRYPTO_memcmp(rd, expect_rd, 64) != 0) {
        rc = bpt_err(BPT_ECLAIM, "report_data does not bind the %s (%zu bytes)",
                     service_key ? "service key" : "session key, id and nonce", rdl);
        goto out;
    }
    if (service_key) {
        BPT_CHECK(bpt_kx_check_session_signature(sk, sig, want));
        memcpy(sk_out, sk, 32);
    }
    *has_sk = service_key;
    bpt_report_evidence_digest(ev_digest, rep);
    rc = 0;
out:
    bpt_verified_free(v);
    bpt_report_free(rep);
    free(att_text);
    json_decref(j);
    return rc;
}

/* Load an Ed25519 private key from PEM (the sender's signing key). */
static int load_sign_key(EVP_PKEY **out, const char *pem, size_t len)
{
    EVP_PKEY *k = NULL;
    int rc = bpt_pem_private_key(&k, pem, len, "kx client: the signing key");
    if (rc < 0) {
        return rc;
    }
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return bpt_err(BPT_EINVAL, "kx client: the signing key is not Ed25519");
    }
    *out = k;
    return 0;
}

/* Add "sender" to @p body: @p key's signature over bpt_kx_sender_message() for session @p id. */
static int sign_body(json_t *body, EVP_PKEY *key, const uint8_t id[16])
{
    uint8_t msg[BPT_KX_SENDER_MESSAGE_LEN], sig[64], pub[32];
    size_t sl = sizeof(sig), pl = sizeof(pub);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = BPT_ERROR;

    BPT_CHECK(bpt_kx_sender_message(msg, id, json_object_get(body, "secrets")));
    if (md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &sl, msg, sizeof(msg)) != 1 || sl != sizeof(sig) ||
        EVP_PKEY_get_raw_public_key(key, pub, &pl) != 1 || pl != sizeof(pub)) {
        rc = bpt_err_ossl(BPT_ERROR, "kx client: signing the delivery");
        goto out;
    }
    if (json_object_set_new(body, "sender",
                            json_pack("{s:s,s:o,s:o}", "key_type", "ed25519", "public_key",
                                      bpt_json_hex(pub, sizeof(pub)), "signature",
                                      bpt_json_hex(sig, sizeof(sig)))) != 0) {
        rc = bpt_err_nomem("kx client: sender");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

/* The unix socket of options a caller may have compiled without it (a smaller size). */
static const char *opts_unix_socket(const bpt_kx_client_options *opts)
{
    size_t need = offsetof(bpt_kx_client_options, unix_socket) + sizeof(opts->unix_socket);
    return opts != NULL && opts->size >= need ? opts->unix_socket : NULL;
}

/* Split @p base_url's length without trailing slashes into *bl; refuse one too long. */
static int base_len(size_t *bl, const char *base_url)
{
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/') {
        n--;
    }
    if (n > 900) {
        return bpt_err(BPT_EINVAL, "kx client: URL too long");
    }
    *bl = n;
    return 0;
}

/* 1 and 2 of the protocol: a session made with a fresh nonce, its answer verified. */
static int open_session(uint8_t pk[32], uint8_t id[16], char id_hex[33], char ev_digest[65],
                        bool *has_sk, uint8_t sk[32], const char *base_url, size_t bl,
                        const char *unix_socket, const bpt_verifier *verifier)
{
    uint8_t nonce[32];
    char nonce_hex[65], url[1024], req[128];
    bpt_buf resp;
    long status = 0;
    int rc = BPT_ERROR;

    bpt_buf_init(&resp, KX_CLIENT_ANSWER_MAX);
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "kx client: nonce randomness");
        goto out;
    }
    bpt_hex_encode_to(nonce_hex, nonce, sizeof(nonce));
    snprintf(url, sizeof(url), "%.*s/v1/sessions", (int)bl, base_url);
    snprintf(req, sizeof(req), "{\"nonce\":\"%s\"}", nonce_hex);
    BPT_CHECK(post_json(&status, &resp, url, unix_socket, req));
    if (status != 201) {
        rc = status_error(status, &resp, "create session");
        goto out;
    }
    rc =
        check_session(pk, id, id_hex, ev_digest, has_sk, sk, &resp, verifier, nonce, sizeof(nonce));
    if (rc < 0) {
        bpt_err_prefix(rc, "kx client");
        goto out;
    }
    rc = 0;
out:
    bpt_buf_dispose(&resp);
    return rc;
}

int bpt_kx_client_session_key(bpt_kx_client_key *out, const char *base_url,
                              const bpt_verifier *verifier, const bpt_kx_client_options *opts)
{
    bpt_kx_client_key k;
    uint8_t id[16];
    size_t bl = 0;
    int rc = BPT_ERROR;

    if (out == NULL || base_url == NULL || verifier == NULL) {
        return bpt_err(BPT_EINVAL, "kx client: NULL argument");
    }
    BPT_CHECK(bpt_sized_check(out, sizeof(*out), "bpt_kx_client_key"));
    if (opts != NULL) {
        BPT_CHECK(bpt_sized_check(opts, offsetof(bpt_kx_client_options, unix_socket),
                                  "bpt_kx_client_options"));
    }
    BPT_CHECK(base_len(&bl, base_url));
    memset(&k, 0, sizeof(k));
    k.size = sizeof(k);
    snprintf(k.key_type, sizeof(k.key_type), "x25519");
    BPT_CHECK(open_session(k.public_key, id, k.session_id, k.attestation_digest, &k.has_service_key,
                           k.service_key, base_url, bl, opts_unix_socket(opts), verifier));
    *out = k;
    rc = 0;
out:
    return rc;
}

int bpt_kx_client_options_check(const bpt_kx_client_options *opts)
{
    EVP_PKEY *k = NULL;
    int rc;
    if (opts == NULL) {
        return bpt_err(BPT_EINVAL, "kx client: NULL options");
    }
    BPT_CHECK(bpt_sized_check(opts, offsetof(bpt_kx_client_options, unix_socket),
                              "bpt_kx_client_options"));
    if (opts->sign_key_pem != NULL) {
        BPT_CHECK(load_sign_key(&k, opts->sign_key_pem, opts->sign_key_pem_len));
    }
    rc = 0;
out:
    EVP_PKEY_free(k);
    return rc;
}

int bpt_kx_client_send(bpt_kx_client_result *out, const char *base_url,
                       const bpt_verifier *verifier, const bpt_kx_client_secret *secrets, size_t n)
{
    return bpt_kx_client_send_with(out, base_url, verifier, secrets, n, NULL);
}

int bpt_kx_client_send_with(bpt_kx_client_result *out, const char *base_url,
                            const bpt_verifier *verifier, const bpt_kx_client_secret *secrets,
                            size_t n, const bpt_kx_client_options *opts)
{
    int rc = BPT_ERROR;
    uint8_t pk[32], id[16], enc[32], sk[32];
    char url[1024], ev_digest[65], fp[65];
    bool has_sk = false;
    size_t bl = 0;
    bpt_buf resp, ct;
    json_t *body = NULL, *arr = NULL, *j = NULL;
    char *body_text = NULL, *b64 = NULL;
    long status = 0;
    EVP_PKEY *sign_key = NULL;

    bpt_buf_init(&resp, KX_CLIENT_ANSWER_MAX);
    bpt_buf_init(&ct, BPT_LIMIT_HTTP_BODY_BYTES);
    if (out == NULL || base_url == NULL || verifier == NULL || (secrets == NULL && n != 0)) {
        rc = bpt_err(BPT_EINVAL, "kx client: NULL argument");
        goto out;
    }
    /* The first version of bpt_kx_client_result is this one: it is filled in place. */
    BPT_CHECK(bpt_sized_check(out, sizeof(*out), "bpt_kx_client_result"));
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    if (n == 0 || n > MAX_SECRETS) {
        rc = bpt_err(BPT_EINVAL, "kx client: want 1..%d secrets, got %zu", MAX_SECRETS, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!bpt_kx_name_is_valid(secrets[i].name)) {
            rc = bpt_err(BPT_EINVAL,
                         "kx client: secret %zu: a name is 1..%d bytes of "
                         "[A-Za-z0-9._-]",
                         i, BPT_KX_NAME_MAX);
            goto out;
        }
    }
    if (opts != NULL) {
        BPT_CHECK(bpt_sized_check(opts, offsetof(bpt_kx_client_options, unix_socket),
                                  "bpt_kx_client_options"));
        if (opts->sign_key_pem != NULL) {
            BPT_CHECK(load_sign_key(&sign_key, opts->sign_key_pem, opts->sign_key_pem_len));
        }
    }
    BPT_CHECK(base_len(&bl, base_url));
    /* 1. session, 2. verify */
    BPT_CHECK(open_session(pk, id, out->session_id, ev_digest, &has_sk, sk, base_url, bl,
                           opts_unix_socket(opts), verifier));
    /* 3. seal and submit */
    body = json_object();
    arr = json_array();
    if (body == NULL || arr == NULL || json_object_set_new(body, "secrets", arr) != 0) {
        rc = bpt_err_nomem("kx client: request");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        bpt_buf_reset(&ct);
        BPT_CHECK(bpt_kx_seal(enc, &ct, pk, id, secrets[i].name, secrets[i].value, secrets[i].len));
        json_t *e = json_object();
        if (e == NULL || json_array_append_new(arr, e) != 0 ||
            json_object_set_new(e, "name", json_string(secrets[i].name)) != 0) {
            rc = bpt_err_nomem("kx client: request");
            goto out;
        }
        BPT_CHECK(bpt_base64_encode(&b64, enc, sizeof(enc)));
        json_object_set_new(e, "enc", json_string(b64));
        bpt_free(b64);
        b64 = NULL;
        BPT_CHECK(bpt_base64_encode(&b64, ct.data, ct.len));
        json_object_set_new(e, "ciphertext", json_string(b64));
        bpt_free(b64);
        b64 = NULL;
    }
    if (sign_key != NULL) {
        BPT_CHECK(sign_body(body, sign_key, id));
    }
    body_text = json_dumps(body, JSON_COMPACT);
    if (body_text == NULL) {
        rc = bpt_err_nomem("kx client: request");
        goto out;
    }
    snprintf(url, sizeof(url), "%.*s/v1/sessions/%s/secrets", (int)bl, base_url, out->session_id);
    bpt_buf_reset(&resp);
    BPT_CHECK(post_json(&status, &resp, url, opts_unix_socket(opts), body_text));
    if (status != 200) {
        rc = status_error(status, &resp, "submit secrets");
        goto out;
    }
    const char *kf = NULL, *ad = NULL;
    json_t *stored = NULL;
    bool success = false;
    BPT_CHECK(answer(bpt_json_parse(&j, (const char *)resp.data, resp.len, "submit response")));
    BPT_CHECK(answer(bpt_json_get_bool(j, "success", &success, true, "submit response")));
    BPT_CHECK(answer(bpt_json_get_str(j, "key_fingerprint", &kf, true, "submit response")));
    BPT_CHECK(answer(bpt_json_get_str(j, "attestation_digest", &ad, true, "submit response")));
    BPT_CHECK(answer(bpt_json_get_arr(j, "stored", &stored, true, "submit response")));
    uint8_t md[32];
    BPT_CHECK(bpt_sha256(md, pk, sizeof(pk)));
    bpt_hex_encode_to(fp, md, sizeof(md));
    if (!success || strcmp(kf, fp) != 0 || strcmp(ad, ev_digest) != 0) {
        rc = bpt_err(BPT_EPROTOCOL,
                     "kx client: submit response does not match the session (success %d, "
                     "fingerprint %s, attestation digest %s)",
                     (int)success, strcmp(kf, fp) == 0 ? "ok" : "differs",
                     strcmp(ad, ev_digest) == 0 ? "ok" : "differs");
        goto out;
    }
    memcpy(out->key_fingerprint, fp, sizeof(fp));
    memcpy(out->attestation_digest, ev_digest, sizeof(ev_digest));
    out->stored = json_array_size(stored);
    rc = 0;
out:
    EVP_PKEY_free(sign_key);
    json_decref(j);
    json_decref(body);
    if (body_text != NULL) {
        OPENSSL_cleanse(body_text, strlen(body_text));
        free(body_text);
    }
    bpt_free(b64);
    bpt_buf_dispose(&resp);
    bpt_buf_dispose(&ct);
    return rc;
}
