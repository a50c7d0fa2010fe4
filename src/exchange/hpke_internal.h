/*
 * Internal HPKE and X25519 helpers shared by the exchange module and its tests: X25519 key
 * conversion, deterministic sender setup (for the RFC 9180 vectors), DeriveKeyPair, and a
 * view of the key schedule output for the vector tests.
 */
#ifndef BPT_EXCHANGE_HPKE_INTERNAL_H
#define BPT_EXCHANGE_HPKE_INTERNAL_H

#include <openssl/evp.h>

#include <blueprint-tee/hpke.h>

/** A new random X25519 private key. */
BPT_MUST_USE int bpt_x25519_generate(EVP_PKEY **out);

/** An X25519 public key object from 32 raw bytes (@p what names it in errors). */
BPT_MUST_USE int bpt_x25519_from_public(EVP_PKEY **out, const uint8_t *pk, size_t pk_len,
                                        const char *what);

/** An X25519 private key object from 32 raw bytes. */
BPT_MUST_USE int bpt_x25519_from_private(EVP_PKEY **out, const uint8_t *sk, size_t sk_len);

/** The raw 32-byte public key of @p key (private or public). */
BPT_MUST_USE int bpt_x25519_public_raw(uint8_t out[BPT_HPKE_X25519_LEN], const EVP_PKEY *key);

/**
 * X25519(sk, pk) into @p dh; refuses an all-zero result with @p zero_code. The caller cleanses
 * @p dh.
 */
BPT_MUST_USE int bpt_x25519_dh(uint8_t dh[BPT_HPKE_X25519_LEN], const EVP_PKEY *sk,
                               const EVP_PKEY *pk, int zero_code);

/** SetupBaseS with a given ephemeral private key @p sk_e (borrowed). */
BPT_MUST_USE int bpt_hpke_setup_sender_eph(bpt_hpke_ctx **out, uint8_t enc[BPT_HPKE_X25519_LEN],
                                           bpt_hpke_aead aead, const uint8_t *pk_r, size_t pk_r_len,
                                           const uint8_t *info, size_t info_len,
                                           const EVP_PKEY *sk_e);

/** DHKEM(X25519) DeriveKeyPair(ikm). */
BPT_MUST_USE int bpt_hpke_derive_keypair(EVP_PKEY **out, const uint8_t *ikm, size_t ikm_len);

/** Views of the key schedule (tests compare them with the vectors). */
const uint8_t *bpt_hpke_ctx_key(const bpt_hpke_ctx *ctx, size_t *len_out);
const uint8_t *bpt_hpke_ctx_base_nonce(const bpt_hpke_ctx *ctx);
const uint8_t *bpt_hpke_ctx_exporter_secret(const bpt_hpke_ctx *ctx);
/** Set the next sequence number (tests jump to the vectors' numbers). */
void bpt_hpke_ctx_set_seq(bpt_hpke_ctx *ctx, uint64_t seq);

#endif
