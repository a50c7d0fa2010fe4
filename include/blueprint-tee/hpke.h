/**
 * @file hpke.h
 * HPKE (RFC 9180) base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, and the AEADs
 * AES-128-GCM and ChaCha20-Poly1305, built on OpenSSL 3.0 primitives.
 *
 * A context is made by the sender (bpt_hpke_setup_sender(): encapsulates to the recipient's
 * X25519 public key and returns `enc`) or by the recipient (bpt_hpke_setup_recipient(): from
 * `enc` and its private key). Each seal/open uses the next sequence number. All-zero X25519
 * shared secrets (low-order public keys) are refused, as RFC 9180 §7.1.4 requires.
 * Key schedule output lives in cleansed secure memory (bpt_secret) and is wiped by
 * bpt_hpke_ctx_free().
 *
 * Only base mode (no PSK, no sender authentication) is implemented; the other modes are not
 * offered.
 *
 * Threads: a context is used by one thread at a time (its sequence number changes);
 * different contexts are independent.
 */
#ifndef BPT_HPKE_H
#define BPT_HPKE_H

#include "common.h"
#include "buf.h"
#include "secret.h"

BPT_BEGIN_DECLS

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

/** AEAD identifiers (the RFC 9180 aead_id values). */
typedef enum bpt_hpke_aead {
    BPT_HPKE_AEAD_AES_128_GCM = 0x0001,
    BPT_HPKE_AEAD_CHACHA20_POLY1305 = 0x0003,
} bpt_hpke_aead;

/** Length of an X25519 public key and of the encapsulated key `enc`. */
#define BPT_HPKE_X25519_LEN 32
/** Length of the AEAD tag appended to every ciphertext. */
#define BPT_HPKE_TAG_LEN 16
/** The largest length bpt_hpke_export() accepts (255 * 32). */
#define BPT_HPKE_EXPORT_MAX 8160

typedef struct bpt_hpke_ctx bpt_hpke_ctx;

/**
 * Sender setup (SetupBaseS): encapsulate to the recipient public key @p pk_r with a fresh
 * ephemeral key.
 * @param[out] out    context; free with bpt_hpke_ctx_free(). NULL on failure.
 * @param[out] enc    the 32-byte encapsulated key to send with the ciphertexts.
 * @param aead        which AEAD.
 * @param pk_r, pk_r_len the recipient's raw X25519 public key (32 bytes).
 * @param info, info_len application info (may be NULL when 0).
 * @return 0; BPT_EINVAL (bad length, unknown AEAD, all-zero shared secret: a low-order key);
 *         BPT_ERROR (OpenSSL failure); BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_hpke_setup_sender(bpt_hpke_ctx **out, uint8_t enc[BPT_HPKE_X25519_LEN],
                                               bpt_hpke_aead aead, const uint8_t *pk_r,
                                               size_t pk_r_len, const uint8_t *info,
                                               size_t info_len);

/**
 * Recipient setup (SetupBaseR) from @p enc and the recipient's X25519 private key.
 * @param[out] out    context; free with bpt_hpke_ctx_free(). NULL on failure.
 * @param aead        which AEAD.
 * @param enc, enc_len the encapsulated key (32 bytes), untrusted.
 * @param sk_r        the recipient's X25519 private key; borrowed, not modified.
 * @param info, info_len application info (may be NULL when 0).
 * @return 0; BPT_EINVAL (NULL key, wrong key type, unknown AEAD); BPT_EDECRYPT (enc not 32
 *         bytes, or an all-zero shared secret); BPT_ERROR; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_hpke_setup_recipient(bpt_hpke_ctx **out, bpt_hpke_aead aead,
                                                  const uint8_t *enc, size_t enc_len,
                                                  const struct evp_pkey_st *sk_r,
                                                  const uint8_t *info, size_t info_len);

/**
 * Seal @p pt under the next sequence number (sender contexts only); appends the ciphertext
 * and its 16-byte tag to @p ct_out.
 * @return 0; BPT_EINVAL (recipient context); BPT_ELIMIT (ct_out's maximum, or the sequence
 *         number is exhausted); BPT_ERROR; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_hpke_seal(bpt_hpke_ctx *ctx, bpt_buf *ct_out, const uint8_t *aad,
                                       size_t aad_len, const uint8_t *pt, size_t pt_len);

/**
 * Open @p ct (ciphertext || tag) under the next sequence number (recipient contexts only).
 * The sequence number advances only on success.
 * @param[out] out the plaintext in secure memory; free with bpt_secret_free(). NULL on failure.
 * @return 0; BPT_EDECRYPT (too short, or the tag does not verify: wrong key, info, aad, or a
 *         changed byte); BPT_EINVAL (sender context); BPT_ELIMIT; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_hpke_open(bpt_secret **out, bpt_hpke_ctx *ctx, const uint8_t *aad,
                                       size_t aad_len, const uint8_t *ct, size_t ct_len);

/**
 * Secret export: LabeledExpand(exporter_secret, "sec", @p exp_ctx, @p len).
 * @param[out] out the exported secret (len bytes); free with bpt_secret_free().
 * @return 0; BPT_EINVAL (len 0 or above BPT_HPKE_EXPORT_MAX); BPT_ERROR; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_hpke_export(bpt_secret **out, const bpt_hpke_ctx *ctx,
                                         const uint8_t *exp_ctx, size_t exp_ctx_len, size_t len);

/** Cleanse and free a context; NULL does nothing. */
BPT_API void bpt_hpke_ctx_free(bpt_hpke_ctx *ctx);

BPT_END_DECLS

#endif
