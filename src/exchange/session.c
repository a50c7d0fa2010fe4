/*
 * KeyExchangeSession: a one-time X25519 key for sealed secrets. The private key lives only in
 * OpenSSL's EVP_PKEY (whose free cleanses it); consuming the session frees it at once.
 */
#include "exchange/exchange_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/util.h"
#include "exchange/hpke_internal.h"

struct bpt_kx_session {
    uint8_t id[BPT_KX_SESSION_ID_LEN];
    char id_hex[2 * BPT_KX_SESSION_ID_LEN + 1];
    uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN];
    EVP_PKEY *key; /* NULL once consumed */
    int64_t created_at;
    uint64_t ttl_secs;
    bpt_clock clock;
    char attestation_digest[65];
};

int bpt_kx_id_parse(uint8_t out[BPT_KX_SESSION_ID_LEN], const char *id_hex)
{
    /* ids are written in lower case only: one spelling per session (DESIGN.md §6) */
    bool ok = id_hex != NULL && strlen(id_hex) == 2 * BPT_KX_SESSION_ID_LEN;
    for (size_t i = 0; ok && i < 2 * BPT_KX_SESSION_ID_LEN; i++) {
        ok = (id_hex[i] >= '0' && id_hex[i] <= '9') || (id_hex[i] >= 'a' && id_hex[i] <= 'f');
    }
    if (!ok) {
        return bpt_err(BPT_EINVAL, "kx: session id must be %d hex digits, lower case",
                       2 * BPT_KX_SESSION_ID_LEN);
    }
    return bpt_hex_decode_exact(out, BPT_KX_SESSION_ID_LEN, id_hex, strlen(id_hex), "session id");
}

int bpt_kx_report_data(uint8_t out[64], const uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN],
                       const uint8_t session_id[BPT_KX_SESSION_ID_LEN], const uint8_t *nonce,
                       size_t nonce_len)
{
    uint8_t
        buf[sizeof(BPT_KX_REPORT_DATA_LABEL) - 1 + BPT_KX_PUBLIC_KEY_LEN + BPT_KX_SESSION_ID_LEN];
    size_t l = sizeof(BPT_KX_REPORT_DATA_LABEL) - 1;

    if (out == NULL || public_key == NULL || session_id == NULL ||
        (nonce == NULL && nonce_len != 0)) {
        return bpt_err(BPT_EINVAL, "kx: report_data: NULL argument");
    }
    if (nonce_len != 0 && (nonce_len < BPT_KX_NONCE_MIN || nonce_len > BPT_KX_NONCE_MAX)) {
        return bpt_err(BPT_EINVAL, "kx: nonce is %zu bytes, want %d..%d", nonce_len,
                       BPT_KX_NONCE_MIN, BPT_KX_NONCE_MAX);
    }
    memcpy(buf, BPT_KX_REPORT_DATA_LABEL, l);
    memcpy(buf + l, public_key, BPT_KX_PUBLIC_KEY_LEN);
    memcpy(buf + l + BPT_KX_PUBLIC_KEY_LEN, session_id, BPT_KX_SESSION_ID_LEN);
    if (bpt_sha256(out, buf, sizeof(buf)) != 0 ||
        (nonce_len && bpt_sha256(out + 32, nonce, nonce_len) != 0)) {
        return bpt_err(BPT_ERROR, "kx: report_data digest");
    }
    if (nonce_len == 0) {
        memset(out + 32, 0, 32);
    }
    return 0;
}

static int make_info(uint8_t info[sizeof(BPT_KX_INFO_PREFIX) - 1 + BPT_KX_SESSION_ID_LEN],
                     const uint8_t *id)
{
    memcpy(info, BPT_KX_INFO_PREFIX, sizeof(BPT_KX_INFO_PREFIX) - 1);
    memcpy(info + sizeof(BPT_KX_INFO_PREFIX) - 1, id, BPT_KX_SESSION_ID_LEN);
    return (int)(sizeof(BPT_KX_INFO_PREFIX) - 1 + BPT_KX_SESSION_ID_LEN);
}

int bpt_kx_seal(uint8_t enc[BPT_KX_PUBLIC_KEY_LEN], bpt_buf *ct_out,
                const uint8_t public_key[BPT_KX_PUBLIC_KEY_LEN],
                const uint8_t session_id[BPT_KX_SESSION_ID_LEN], const char *name,
                const uint8_t *secret, size_t secret_len)
{
    int rc = BPT_ERROR;
    bpt_hpke_ctx *ctx = NULL;
    uint8_t info[sizeof(BPT_KX_INFO_PREFIX) - 1 + BPT_KX_SESSION_ID_LEN];

    if (enc == NULL || ct_out == NULL || public_key == NULL || session_id == NULL || name == NULL ||
        name[0] == '\0' || (secret == NULL && secret_len != 0)) {
        return bpt_err(BPT_EINVAL, "kx: seal: NULL argument or empty name");
    }
    int il = make_info(info, session_id);
    BPT_CHECK(bpt_hpke_setup_sender(&ctx, enc, BPT_HPKE_AEAD_CHACHA20_POLY1305, public_key,
                                    BPT_KX_PUBLIC_KEY_LEN, info, (size_t)il));
    BPT_CHECK(bpt_hpke_seal(ctx, ct_out, (const uint8_t *)name, strlen(name), secret, secret_len));
    rc = 0;
out:
    bpt_hpke_ctx_free(ctx);
    return rc;
}

int bpt_kx_session_new(bpt_kx_session **out, uint64_t ttl_secs, const bpt_clock *clock)
{
    int rc = BPT_ERROR;
    bpt_kx_session *s = NULL;

    if (out == NULL) {
        return bpt_err(BPT_EINVAL, "kx: session_new: NULL out");
    }
    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return bpt_err_nomem("kx: session");
    }
    if (RAND_bytes(s->id, sizeof(s->id)) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "kx: session id randomness");
        goto out;
    }
    bpt_hex_encode_to(s->id_hex, s->id, sizeof(s->id));
    BPT_CHECK(bpt_x25519_generate(&s->key));
    BPT_CHECK(bpt_x25519_public_raw(s->public_key, s->key));
    if (clock != NULL) {
        s->clock = *clock;
    }
    s->ttl_secs = ttl_secs == 0 ? BPT_KX_DEFAULT_TTL_SECS : ttl_secs;
    s->created_at = bpt_clock_now(&s->clock);
    *out = s;
    s = NULL;
    rc = 0;
out:
    bpt_kx_session_free(s);
    return rc;
}

void bpt_kx_session_consume(bpt_kx_session *s)
{
    if (s != NULL) {
        EVP_PKEY_free(s->key); /* OpenSSL cleanses the X25519 private key on free */
        s->key = NULL;
    }
}

void bpt_kx_session_free(bpt_kx_session *s)
{
    if (s == NULL) {
        return;
    }
    bpt_kx_session_consume(s);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

const uint8_t *bpt_kx_session_id(const bpt_kx_session *s)
{
    return s->id;
}

const char *bpt_kx_session_id_hex(const bpt_kx_session *s)
{
    return s->id_hex;
}

const uint8_t *bpt_kx_session_public_key(const bpt_kx_session *s)
{
    return s->public_key;
}

void bpt_kx_session_public_key_digest(char out[65], const bpt_kx_session *s)
{
    uint8_t md[32];
    if (bpt_sha256(md, s->public_key, sizeof(s->public_key)) != 0) {
        out[0] = '\0';
        return;
    }
    bpt_hex_encode_to(out, md, sizeof(md));
}

int64_t bpt_kx_session_created_at(const bpt_kx_session *s)
{
    return s->created_at;
}

uint64_t bpt_kx_session_ttl(const bpt_kx_session *s)
{
    return s->ttl_secs;
}

int64_t bpt_kx_session_expires_at(const bpt_kx_session *s)
{
    if (s->ttl_secs > (uint64_t)(INT64_MAX - s->created_at)) {
        return INT64_MAX;
    }
    return s->created_at + (int64_t)s->ttl_secs;
}

/* Seconds since creation, 0 if the clock went backwards (saturating, as the Rust crate). */
static uint64_t elapsed(const bpt_kx_session *s)
{
    int64_t now = bpt_clock_now(&s->clock);
    return now > s->created_at ? (uint64_t)now - (uint64_t)s->created_at : 0;
}

bool bpt_kx_session_is_expired(const bpt_kx_session *s)
{
    return elapsed(s) > s->ttl_secs;
}

uint64_t bpt_kx_session_remaining_ttl(const bpt_kx_session *s)
{
    uint64_t e = elapsed(s);
    return e >= s->ttl_secs ? 0 : s->ttl_secs - e;
}

const char *bpt_kx_session_attestation_digest(const bpt_kx_session *s)
{
    return s->attestation_digest;
}

void bpt_kx_session_set_attestation_digest(bpt_kx_session *s, const char digest[65])
{
    memcpy(s->attestation_digest, digest, sizeof(s->attestation_digest));
    s->attestation_digest[64] = '\0';
}

bool bpt_kx_session_is_consumed(const bpt_kx_session *s)
{
    return s->key == NULL;
}

const EVP_PKEY *bpt_kx_session_pkey(const bpt_kx_session *s)
{
    return s->key;
}

int bpt_kx_session_open(bpt_secret **out, bpt_kx_session *s, const char *name, const uint8_t *enc,
                        size_t enc_len, const uint8_t *ct, size_t ct_len)
{
    int rc = BPT_ERROR;
    bpt_hpke_ctx *ctx = NULL;
    uint8_t info[sizeof(BPT_KX_INFO_PREFIX) - 1 + BPT_KX_SESSION_ID_LEN];

    if (out == NULL || s == NULL) {
        return bpt_err(BPT_EINVAL, "kx: open: NULL argument");
    }
    *out = NULL;
    if (name == NULL || name[0] == '\0') {
        return bpt_err(BPT_EINVAL, "kx: open: secret name is empty");
    }
    if (s->key == NULL) {
        return bpt_err(BPT_EINVAL, "kx: session %s is consumed", s->id_hex);
    }
    if (bpt_kx_session_is_expired(s)) {
        return bpt_err(BPT_EEXPIRED, "kx: session %s expired at %lld", s->id_hex,
                       (long long)bpt_kx_session_expires_at(s));
    }
    int il = make_info(info, s->id);
    BPT_CHECK(bpt_hpke_setup_recipient(&ctx, BPT_HPKE_AEAD_CHACHA20_POLY1305, enc, enc_len, s->key,
                                       info, (size_t)il));
    BPT_CHECK(bpt_hpke_open(out, ctx, (const uint8_t *)name, strlen(name), ct, ct_len));
    rc = 0;
out:
    if (rc < 0) {
        bpt_err_prefix(rc, "kx: secret '%s'", name);
    }
    bpt_hpke_ctx_free(ctx);
    return rc;
}

/* Legacy v0 (the Rust crate's SealedSecretPayload): key = SHA-256(X25519 shared secret),
 * ChaCha20-Poly1305 with the payload's 12-byte nonce, no associated data. */
int bpt_kx_session_open_v0(bpt_secret **out, bpt_kx_session *s,
                           const uint8_t client_public_key[BPT_KX_PUBLIC_KEY_LEN],
                           const uint8_t nonce[12], const uint8_t *ct, size_t ct_len)
{
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    EVP_CIPHER_CTX *cctx = NULL;
    uint8_t shared[32], key[32];
    size_t shared_len = sizeof(shared);
    bpt_secret *pt = NULL;
    int outl = 0, fin = 0, rc = BPT_ERROR;

    if (out == NULL || s == NULL || client_public_key == NULL || nonce == NULL) {
        return bpt_err(BPT_EINVAL, "kx v0: NULL argument");
    }
    *out = NULL;
    if (s->key == NULL) {
        return bpt_err(BPT_EINVAL, "kx: session %s is consumed", s->id_hex);
    }
    if (bpt_kx_session_is_expired(s)) {
        return bpt_err(BPT_EEXPIRED, "kx: session %s expired at %lld", s->id_hex,
                       (long long)bpt_kx_session_expires_at(s));
    }
    if (ct == NULL || ct_len < 16 || ct_len - 16 > BPT_SECRET_MAX_BYTES) {
        return bpt_err(BPT_EDECRYPT, "kx v0: ciphertext of %zu bytes cannot hold a tag", ct_len);
    }
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, client_public_key,
                                       BPT_KX_PUBLIC_KEY_LEN);
    dctx = peer ? EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL) : NULL;
    if (!dctx || EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
        EVP_PKEY_derive(dctx, shared, &shared_len) != 1 || shared_len != sizeof(shared)) {
        rc = bpt_err_ossl(BPT_EDECRYPT, "kx v0: X25519 with the client key failed");
        goto out;
    }
    {
        uint8_t acc = 0;
        for (size_t i = 0; i < sizeof(shared); i++) {
            acc |= shared[i];
        }
        if (acc == 0) {
            rc = bpt_err(BPT_EDECRYPT, "kx v0: all-zero X25519 shared secret refused");
            goto out;
        }
    }
    BPT_CHECK(bpt_sha256(key, shared, sizeof(shared)));
    BPT_CHECK(bpt_secret_new(&pt, ct_len - 16));
    cctx = EVP_CIPHER_CTX_new();
    if (!cctx || EVP_DecryptInit_ex(cctx, EVP_chacha20_poly1305(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        EVP_DecryptInit_ex(cctx, NULL, NULL, key, nonce) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(ct + ct_len - 16)) != 1 ||
        (ct_len > 16 &&
         EVP_DecryptUpdate(cctx, bpt_secret_data_mut(pt), &outl, ct, (int)(ct_len - 16)) != 1) ||
        EVP_DecryptFinal_ex(cctx, bpt_secret_data_mut(pt) + outl, &fin) != 1) {
        ERR_clear_error();
        rc = bpt_err(BPT_EDECRYPT, "kx v0: authentication failed");
        goto out;
    }
    *out = pt;
    pt = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(shared, sizeof(shared));
    OPENSSL_cleanse(key, sizeof(key));
    bpt_secret_free(pt);
    EVP_CIPHER_CTX_free(cctx);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer);
    return rc;
}
