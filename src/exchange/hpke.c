/*
 * HPKE base mode (RFC 9180) on OpenSSL 3.0 primitives: X25519 through EVP_PKEY_derive,
 * HKDF-SHA256 written out over HMAC (EVP_MAC) so that the labeled inputs are fed in pieces and
 * never concatenated into a heap buffer, and the AEADs through EVP_CIPHER.
 */
#include "exchange/hpke_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "core/err.h"

#define NH 32 /* SHA-256 output */
#define NN 12 /* AEAD nonce */
#define KEM_ID 0x0020
#define KDF_ID 0x0001

struct bpt_hpke_ctx {
    bpt_hpke_aead aead;
    bool sender;
    size_t nk;
    uint64_t seq;
    EVP_CIPHER *cipher;
    /* key (nk bytes, up to 32) || base_nonce (12) || exporter_secret (32) */
    bpt_secret *ks;
};

#define KS_KEY 0
#define KS_NONCE 32
#define KS_EXP 44
#define KS_LEN 76

/* ---- HKDF-SHA256 over HMAC -------------------------------------------------------------- */

struct piece {
    const uint8_t *p;
    size_t n;
};

/* One HMAC-SHA256 context reused for every HKDF step of an operation. */
struct hk {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

static int hk_open(struct hk *h)
{
    h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = h->mac != NULL ? EVP_MAC_CTX_new(h->mac) : NULL;
    if (h->ctx == NULL) {
        return bpt_err_ossl(BPT_ERROR, "hpke: HMAC unavailable");
    }
    return 0;
}

static void hk_close(struct hk *h)
{
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    h->ctx = NULL;
    h->mac = NULL;
}

static int hmac_pieces(struct hk *h, uint8_t out[NH], const uint8_t *key, size_t key_len,
                       const struct piece *pieces, size_t npieces)
{
    static const uint8_t zeros[NH] = {0};
    size_t outl = 0;
    OSSL_PARAM params[2];

    /* An empty HKDF salt is HashLen zero bytes (RFC 5869 §2.2); HMAC pads keys with zeros. */
    if (key_len == 0) {
        key = zeros;
        key_len = sizeof(zeros);
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(h->ctx, key, key_len, params) != 1) {
        return bpt_err_ossl(BPT_ERROR, "hpke: HMAC init");
    }
    for (size_t i = 0; i < npieces; i++) {
        if (pieces[i].n > 0 && EVP_MAC_update(h->ctx, pieces[i].p, pieces[i].n) != 1) {
            return bpt_err_ossl(BPT_ERROR, "hpke: HMAC update");
        }
    }
    if (EVP_MAC_final(h->ctx, out, &outl, NH) != 1 || outl != NH) {
        return bpt_err_ossl(BPT_ERROR, "hpke: HMAC final");
    }
    return 0;
}

static const uint8_t HPKE_V1[] = {'H', 'P', 'K', 'E', '-', 'v', '1'};

struct suite {
    uint8_t id[10];
    size_t len;
};

static struct suite kem_suite(void)
{
    struct suite s = {{'K', 'E', 'M', KEM_ID >> 8, KEM_ID & 0xff}, 5};
    return s;
}

static struct suite hpke_suite(bpt_hpke_aead aead)
{
    struct suite s = {{'H', 'P', 'K', 'E', KEM_ID >> 8, KEM_ID & 0xff, KDF_ID >> 8, KDF_ID & 0xff,
                       (uint8_t)((unsigned)aead >> 8), (uint8_t)((unsigned)aead & 0xff)},
                      10};
    return s;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm) */
static int labeled_extract(struct hk *h, uint8_t prk[NH], const struct suite *s,
                           const uint8_t *salt, size_t salt_len, const char *label,
                           const uint8_t *ikm, size_t ikm_len)
{
    const struct piece pieces[] = {{HPKE_V1, sizeof(HPKE_V1)},
                                   {s->id, s->len},
                                   {(const uint8_t *)label, strlen(label)},
                                   {ikm, ikm_len}};
    return hmac_pieces(h, prk, salt, salt_len, pieces, 4);
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id ||
 * label || info, L) */
static int labeled_expand(struct hk *h, uint8_t *out, size_t len, const struct suite *s,
                          const uint8_t prk[NH], const char *label, const uint8_t *info,
                          size_t info_len)
{
    int rc = BPT_ERROR;
    uint8_t t[NH];
    size_t done = 0;
    uint8_t l2[2] = {(uint8_t)(len >> 8), (uint8_t)len};

    if (len == 0 || len > 255u * NH) {
        return bpt_err(BPT_EINVAL, "hpke: expand length %zu outside 1..%u", len, 255u * NH);
    }
    for (unsigned i = 1; done < len; i++) {
        uint8_t ctr = (uint8_t)i;
        const struct piece pieces[] = {{t, i == 1 ? 0 : NH},
                                       {l2, 2},
                                       {HPKE_V1, sizeof(HPKE_V1)},
                                       {s->id, s->len},
                                       {(const uint8_t *)label, strlen(label)},
                                       {info, info_len},
                                       {&ctr, 1}};
        BPT_CHECK(hmac_pieces(h, t, prk, NH, pieces, 7));
        size_t take = len - done < NH ? len - done : NH;
        memcpy(out + done, t, take);
        done += take;
    }
    rc = 0;
out:
    OPENSSL_cleanse(t, sizeof(t));
    return rc;
}

/* ---- X25519 ------------------------------------------------------------------------------ */

int bpt_x25519_generate(EVP_PKEY **out)
{
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (*out == NULL) {
        return bpt_err_ossl(BPT_ERROR, "x25519: key generation");
    }
    return 0;
}

int bpt_x25519_from_public(EVP_PKEY **out, const uint8_t *pk, size_t pk_len, const char *what)
{
    *out = NULL;
    if (pk == NULL || pk_len != BPT_HPKE_X25519_LEN) {
        return bpt_err(BPT_EINVAL, "x25519: %s is %zu bytes, want %d", what, pk_len,
                       BPT_HPKE_X25519_LEN);
    }
    *out = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, pk, pk_len);
    if (*out == NULL) {
        return bpt_err_ossl(BPT_EINVAL, "x25519: %s", what);
    }
    return 0;
}

int bpt_x25519_from_private(EVP_PKEY **out, const uint8_t *sk, size_t sk_len)
{
    *out = NULL;
    if (sk == NULL || sk_len != BPT_HPKE_X25519_LEN) {
        return bpt_err(BPT_EINVAL, "x25519: private key is %zu bytes, want %d", sk_len,
                       BPT_HPKE_X25519_LEN);
    }
    *out = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, sk, sk_len);
    if (*out == NULL) {
        return bpt_err_ossl(BPT_EINVAL, "x25519: private key");
    }
    return 0;
}

int bpt_x25519_public_raw(uint8_t out[BPT_HPKE_X25519_LEN], const EVP_PKEY *key)
{
    size_t n = BPT_HPKE_X25519_LEN;
    if (key == NULL || !EVP_PKEY_is_a(key, "X25519")) {
        return bpt_err(BPT_EINVAL, "x25519: not an X25519 key");
    }
    if (EVP_PKEY_get_raw_public_key(key, out, &n) != 1 || n != BPT_HPKE_X25519_LEN) {
        return bpt_err_ossl(BPT_ERROR, "x25519: public key export");
    }
    return 0;
}

int bpt_x25519_dh(uint8_t dh[BPT_HPKE_X25519_LEN], const EVP_PKEY *sk, const EVP_PKEY *pk,
                  int zero_code)
{
    int rc = BPT_ERROR;
    EVP_PKEY_CTX *pctx = NULL;
    size_t n = BPT_HPKE_X25519_LEN;
    static const uint8_t zeros[BPT_HPKE_X25519_LEN] = {0};

    memset(dh, 0, BPT_HPKE_X25519_LEN);
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)sk, NULL);
    if (pctx == NULL || EVP_PKEY_derive_init(pctx) != 1 ||
        EVP_PKEY_derive_set_peer_ex(pctx, (EVP_PKEY *)pk, 0) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "x25519: derive setup");
        goto out;
    }
    if (EVP_PKEY_derive(pctx, dh, &n) != 1) {
        /* OpenSSL itself refuses an all-zero X25519 output; report it as such. */
        rc = bpt_err_ossl(zero_code,
                          "x25519: shared secret refused (all-zero result: low-order public key)");
        goto out;
    }
    if (n != BPT_HPKE_X25519_LEN || CRYPTO_memcmp(dh, zeros, sizeof(zeros)) == 0) {
        rc = bpt_err(zero_code, "x25519: all-zero shared secret (low-order public key)");
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        OPENSSL_cleanse(dh, BPT_HPKE_X25519_LEN);
    }
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

/* ---- DHKEM and key schedule -------------------------------------------------------------- */

/* ExtractAndExpand(dh, enc || pkR) -> shared_secret */
static int kem_shared_secret(struct hk *h, uint8_t ss[NH], const uint8_t dh[32],
                             const uint8_t enc[32], const uint8_t pk_r[32])
{
    int rc = BPT_ERROR;
    uint8_t prk[NH];
    uint8_t kem_context[64];
    struct suite s = kem_suite();

    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, pk_r, 32);
    BPT_CHECK(labeled_extract(h, prk, &s, NULL, 0, "eae_prk", dh, 32));
    BPT_CHECK(
        labeled_expand(h, ss, NH, &s, prk, "shared_secret", kem_context, sizeof(kem_context)));
    rc = 0;
out:
    OPENSSL_cleanse(prk, sizeof(prk));
    return rc;
}

static size_t aead_nk(bpt_hpke_aead aead)
{
    switch (aead) {
    case BPT_HPKE_AEAD_AES_128_GCM:
        return 16;
    case BPT_HPKE_AEAD_CHACHA20_POLY1305:
        return 32;
    }
    return 0;
}

static const char *cipher_name(bpt_hpke_aead aead)
{
    return aead == BPT_HPKE_AEAD_AES_128_GCM ? "AES-128-GCM" : "ChaCha20-Poly1305";
}

static int key_schedule(struct hk *h, bpt_hpke_ctx **out, bpt_hpke_aead aead, bool sender,
                        const uint8_t ss[NH], const uint8_t *info, size_t info_len)
{
    int rc = BPT_ERROR;
    bpt_hpke_ctx *ctx = NULL;
    uint8_t secret[NH];
    uint8_t ks_context[1 + 2 * NH];
    struct suite s = hpke_suite(aead);

    ks_context[0] = 0x00; /* mode_base */
    BPT_CHECK(labeled_extract(h, ks_context + 1, &s, NULL, 0, "psk_id_hash", NULL, 0));
    BPT_CHECK(labeled_extract(h, ks_context + 1 + NH, &s, NULL, 0, "info_hash", info, info_len));
    /* psk = "" */
    BPT_CHECK(labeled_extract(h, secret, &s, ss, NH, "secret", NULL, 0));

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        rc = bpt_err_nomem("hpke: context");
        goto out;
    }
    ctx->aead = aead;
    ctx->sender = sender;
    ctx->nk = aead_nk(aead);
    ctx->cipher = EVP_CIPHER_fetch(NULL, cipher_name(aead), NULL);
    if (ctx->cipher == NULL) {
        rc = bpt_err_ossl(BPT_ERROR, "hpke: %s unavailable", cipher_name(aead));
        goto out;
    }
    BPT_CHECK(bpt_secret_new(&ctx->ks, KS_LEN));
    uint8_t *ks = bpt_secret_data_mut(ctx->ks);
    BPT_CHECK(
        labeled_expand(h, ks + KS_KEY, ctx->nk, &s, secret, "key", ks_context, sizeof(ks_context)));
    BPT_CHECK(labeled_expand(h, ks + KS_NONCE, NN, &s, secret, "base_nonce", ks_context,
                             sizeof(ks_context)));
    BPT_CHECK(
        labeled_expand(h, ks + KS_EXP, NH, &s, secret, "exp", ks_context, sizeof(ks_context)));
    *out = ctx;
    ctx = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    bpt_hpke_ctx_free(ctx);
    return rc;
}

static int check_aead(bpt_hpke_aead aead)
{
    if (aead_nk(aead) == 0) {
        return bpt_err(BPT_EINVAL, "hpke: unsupported AEAD id 0x%04x", (unsigned)aead);
    }
    return 0;
}

int bpt_hpke_setup_sender_eph(bpt_hpke_ctx **out, uint8_t enc[BPT_HPKE_X25519_LEN],
                              bpt_hpke_aead aead, const uint8_t *pk_r, size_t pk_r_len,
                              const uint8_t *info, size_t info_len, const EVP_PKEY *sk_e)
{
    int rc = BPT_ERROR;
    struct hk h = {NULL, NULL};
    EVP_PKEY *pkr = NULL;
    uint8_t dh[32];
    uint8_t ss[NH];
    uint8_t pke[32];

    OPENSSL_cleanse(dh, sizeof(dh));
    OPENSSL_cleanse(ss, sizeof(ss));
    if (out == NULL || enc == NULL || (info == NULL && info_len != 0)) {
        return bpt_err(BPT_EINVAL, "hpke: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(check_aead(aead));
    BPT_CHECK(bpt_x25519_from_public(&pkr, pk_r, pk_r_len, "recipient public key"));
    BPT_CHECK(bpt_x25519_public_raw(pke, sk_e));
    BPT_CHECK(bpt_x25519_dh(dh, sk_e, pkr, BPT_EINVAL));
    BPT_CHECK(hk_open(&h));
    BPT_CHECK(kem_shared_secret(&h, ss, dh, pke, pk_r));
    BPT_CHECK(key_schedule(&h, out, aead, true, ss, info, info_len));
    memcpy(enc, pke, sizeof(pke));
    rc = 0;
out:
    hk_close(&h);
    if (rc < 0) {
        bpt_err_prefix(rc, "hpke: sender setup");
    }
    OPENSSL_cleanse(dh, sizeof(dh));
    OPENSSL_cleanse(ss, sizeof(ss));
    EVP_PKEY_free(pkr);
    return rc;
}

int bpt_hpke_setup_sender(bpt_hpke_ctx **out, uint8_t enc[BPT_HPKE_X25519_LEN], bpt_hpke_aead aead,
                          const uint8_t *pk_r, size_t pk_r_len, const uint8_t *info,
                          size_t info_len)
{
    int rc = BPT_ERROR;
    EVP_PKEY *eph = NULL;

    if (out != NULL) {
        *out = NULL;
    }
    BPT_CHECK(bpt_x25519_generate(&eph));
    BPT_CHECK(bpt_hpke_setup_sender_eph(out, enc, aead, pk_r, pk_r_len, info, info_len, eph));
    rc = 0;
out:
    EVP_PKEY_free(eph);
    return rc;
}

int bpt_hpke_setup_recipient(bpt_hpke_ctx **out, bpt_hpke_aead aead, const uint8_t *enc,
                             size_t enc_len, const struct evp_pkey_st *sk_r, const uint8_t *info,
                             size_t info_len)
{
    int rc = BPT_ERROR;
    struct hk h = {NULL, NULL};
    EVP_PKEY *pke = NULL;
    uint8_t dh[32];
    uint8_t ss[NH];
    uint8_t pkr[32];

    OPENSSL_cleanse(dh, sizeof(dh));
    OPENSSL_cleanse(ss, sizeof(ss));
    if (out == NULL || sk_r == NULL || (info == NULL && info_len != 0)) {
        return bpt_err(BPT_EINVAL, "hpke: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(check_aead(aead));
    if (enc == NULL || enc_len != BPT_HPKE_X25519_LEN) {
        rc = bpt_err(BPT_EDECRYPT, "hpke: enc is %zu bytes, want %d", enc_len, BPT_HPKE_X25519_LEN);
        goto out;
    }
    BPT_CHECK(bpt_x25519_public_raw(pkr, sk_r));
    rc = bpt_x25519_from_public(&pke, enc, enc_len, "enc");
    if (rc < 0) {
        rc = BPT_EDECRYPT;
        goto out;
    }
    BPT_CHECK(bpt_x25519_dh(dh, sk_r, pke, BPT_EDECRYPT));
    BPT_CHECK(hk_open(&h));
    BPT_CHECK(kem_shared_secret(&h, ss, dh, enc, pkr));
    BPT_CHECK(key_schedule(&h, out, aead, false, ss, info, info_len));
    rc = 0;
out:
    hk_close(&h);
    if (rc < 0) {
        bpt_err_prefix(rc, "hpke: recipient setup");
    }
    OPENSSL_cleanse(dh, sizeof(dh));
    OPENSSL_cleanse(ss, sizeof(ss));
    EVP_PKEY_free(pke);
    return rc;
}

int bpt_hpke_derive_keypair(EVP_PKEY **out, const uint8_t *ikm, size_t ikm_len)
{
    int rc = BPT_ERROR;
    struct hk hh = {NULL, NULL}, *h = &hh;
    uint8_t prk[NH];
    uint8_t sk[32];
    struct suite s = kem_suite();

    *out = NULL;
    BPT_CHECK(hk_open(h));
    BPT_CHECK(labeled_extract(h, prk, &s, NULL, 0, "dkp_prk", ikm, ikm_len));
    BPT_CHECK(labeled_expand(h, sk, sizeof(sk), &s, prk, "sk", NULL, 0));
    BPT_CHECK(bpt_x25519_from_private(out, sk, sizeof(sk)));
    rc = 0;
out:
    hk_close(h);
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(sk, sizeof(sk));
    return rc;
}

/* ---- AEAD -------------------------------------------------------------------------------- */

static int next_nonce(uint8_t nonce[NN], const bpt_hpke_ctx *ctx)
{
    if (ctx->seq == UINT64_MAX) {
        return bpt_err(BPT_ELIMIT, "hpke: sequence number exhausted");
    }
    memcpy(nonce, bpt_secret_data(ctx->ks) + KS_NONCE, NN);
    for (int i = 0; i < 8; i++) {
        nonce[NN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
    }
    return 0;
}

/* One AEAD operation; for decryption @p tag is read, for encryption written. */
static int aead_op(const bpt_hpke_ctx *ctx, bool encrypt, const uint8_t nonce[NN],
                   const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                   uint8_t *outp, uint8_t tag[BPT_HPKE_TAG_LEN])
{
    int rc = BPT_ERROR;
    EVP_CIPHER_CTX *cctx = NULL;
    int n = 0;
    OSSL_PARAM params[2];

    if (in_len > INT32_MAX || aad_len > INT32_MAX) {
        return bpt_err(BPT_ELIMIT, "hpke: message too large");
    }
    cctx = EVP_CIPHER_CTX_new();
    if (cctx == NULL) {
        rc = bpt_err_nomem("hpke: cipher context");
        goto out;
    }
    size_t ivlen = NN;
    params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_CipherInit_ex2(cctx, ctx->cipher, NULL, NULL, encrypt ? 1 : 0, params) != 1 ||
        EVP_CipherInit_ex2(cctx, NULL, bpt_secret_data(ctx->ks) + KS_KEY, nonce, -1, NULL) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "hpke: AEAD init");
        goto out;
    }
    if (aad_len > 0 && EVP_CipherUpdate(cctx, NULL, &n, aad, (int)aad_len) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "hpke: AEAD aad");
        goto out;
    }
    if (in_len > 0 && EVP_CipherUpdate(cctx, outp, &n, in, (int)in_len) != 1) {
        rc = bpt_err_ossl(encrypt ? BPT_ERROR : BPT_EDECRYPT, "hpke: AEAD update");
        goto out;
    }
    if (!encrypt) {
        params[0] =
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, BPT_HPKE_TAG_LEN);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_CIPHER_CTX_set_params(cctx, params) != 1) {
            rc = bpt_err_ossl(BPT_ERROR, "hpke: AEAD tag");
            goto out;
        }
    }
    if (EVP_CipherFinal_ex(cctx, outp + (in_len > 0 ? (size_t)n : 0), &n) != 1) {
        ERR_clear_error();
        rc = encrypt ? bpt_err(BPT_ERROR, "hpke: AEAD final")
                     : bpt_err(BPT_EDECRYPT, "hpke: authentication failed (tag mismatch)");
        goto out;
    }
    if (encrypt) {
        params[0] =
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, BPT_HPKE_TAG_LEN);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_CIPHER_CTX_get_params(cctx, params) != 1) {
            rc = bpt_err_ossl(BPT_ERROR, "hpke: AEAD tag");
            goto out;
        }
    }
    rc = 0;
out:
    EVP_CIPHER_CTX_free(cctx);
    return rc;
}

int bpt_hpke_seal(bpt_hpke_ctx *ctx, bpt_buf *ct_out, const uint8_t *aad, size_t aad_len,
                  const uint8_t *pt, size_t pt_len)
{
    int rc = BPT_ERROR;
    uint8_t nonce[NN];
    uint8_t *ct = NULL;

    if (ctx == NULL || ct_out == NULL || (aad == NULL && aad_len) || (pt == NULL && pt_len)) {
        return bpt_err(BPT_EINVAL, "hpke: seal: NULL argument");
    }
    if (!ctx->sender) {
        return bpt_err(BPT_EINVAL, "hpke: seal on a recipient context");
    }
    if (pt_len > SIZE_MAX - BPT_HPKE_TAG_LEN) {
        return bpt_err(BPT_ELIMIT, "hpke: message too large");
    }
    BPT_CHECK(next_nonce(nonce, ctx));
    ct = malloc(pt_len + BPT_HPKE_TAG_LEN);
    if (ct == NULL) {
        rc = bpt_err_nomem("hpke: ciphertext");
        goto out;
    }
    BPT_CHECK(aead_op(ctx, true, nonce, aad, aad_len, pt, pt_len, ct, ct + pt_len));
    BPT_CHECK(bpt_buf_append(ct_out, ct, pt_len + BPT_HPKE_TAG_LEN));
    ctx->seq++;
    rc = 0;
out:
    if (ct != NULL) {
        OPENSSL_cleanse(ct, pt_len + BPT_HPKE_TAG_LEN);
        free(ct);
    }
    return rc;
}

int bpt_hpke_open(bpt_secret **out, bpt_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                  const uint8_t *ct, size_t ct_len)
{
    int rc = BPT_ERROR;
    uint8_t nonce[NN];
    uint8_t tag[BPT_HPKE_TAG_LEN];
    bpt_secret *pt = NULL;

    if (out == NULL || ctx == NULL || (aad == NULL && aad_len) || (ct == NULL && ct_len)) {
        return bpt_err(BPT_EINVAL, "hpke: open: NULL argument");
    }
    *out = NULL;
    if (ctx->sender) {
        return bpt_err(BPT_EINVAL, "hpke: open on a sender context");
    }
    if (ct_len < BPT_HPKE_TAG_LEN) {
        return bpt_err(BPT_EDECRYPT, "hpke: ciphertext is %zu bytes, shorter than the tag", ct_len);
    }
    size_t pt_len = ct_len - BPT_HPKE_TAG_LEN;
    memcpy(tag, ct + pt_len, BPT_HPKE_TAG_LEN);
    BPT_CHECK(next_nonce(nonce, ctx));
    BPT_CHECK(bpt_secret_new(&pt, pt_len));
    BPT_CHECK(aead_op(ctx, false, nonce, aad, aad_len, ct, pt_len, bpt_secret_data_mut(pt), tag));
    ctx->seq++;
    *out = pt;
    pt = NULL;
    rc = 0;
out:
    bpt_secret_free(pt);
    return rc;
}

int bpt_hpke_export(bpt_secret **out, const bpt_hpke_ctx *ctx, const uint8_t *exp_ctx,
                    size_t exp_ctx_len, size_t len)
{
    int rc = BPT_ERROR;
    struct hk hh = {NULL, NULL}, *h = &hh;
    bpt_secret *s = NULL;
    struct suite su;

    if (out == NULL || ctx == NULL || (exp_ctx == NULL && exp_ctx_len)) {
        return bpt_err(BPT_EINVAL, "hpke: export: NULL argument");
    }
    *out = NULL;
    if (len == 0 || len > BPT_HPKE_EXPORT_MAX) {
        return bpt_err(BPT_EINVAL, "hpke: export length %zu outside 1..%d", len,
                       BPT_HPKE_EXPORT_MAX);
    }
    su = hpke_suite(ctx->aead);
    BPT_CHECK(bpt_secret_new(&s, len));
    BPT_CHECK(hk_open(h));
    BPT_CHECK(labeled_expand(h, bpt_secret_data_mut(s), len, &su, bpt_secret_data(ctx->ks) + KS_EXP,
                             "sec", exp_ctx, exp_ctx_len));
    *out = s;
    s = NULL;
    rc = 0;
out:
    hk_close(h);
    bpt_secret_free(s);
    return rc;
}

void bpt_hpke_ctx_free(bpt_hpke_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    bpt_secret_free(ctx->ks);
    EVP_CIPHER_free(ctx->cipher);
    OPENSSL_cleanse(ctx, sizeof(*ctx));
    free(ctx);
}

const uint8_t *bpt_hpke_ctx_key(const bpt_hpke_ctx *ctx, size_t *len_out)
{
    *len_out = ctx->nk;
    return bpt_secret_data(ctx->ks) + KS_KEY;
}

const uint8_t *bpt_hpke_ctx_base_nonce(const bpt_hpke_ctx *ctx)
{
    return bpt_secret_data(ctx->ks) + KS_NONCE;
}

const uint8_t *bpt_hpke_ctx_exporter_secret(const bpt_hpke_ctx *ctx)
{
    return bpt_secret_data(ctx->ks) + KS_EXP;
}

void bpt_hpke_ctx_set_seq(bpt_hpke_ctx *ctx, uint64_t seq)
{
    ctx->seq = seq;
}
