/*
 * ECDSA verification behind one function that picks the faster backend per curve.
 *
 * OpenSSL 3.0 has no fast P-384 code (its generic GF(p) arithmetic verifies about 2,000 P-384
 * signatures/s on the 2-core CI machine), while nettle's (GnuTLS's crypto library) verifies about
 * 3,800/s; for P-256 OpenSSL's nistz256 code is the faster (about 20,000/s against nettle's
 * 8,000/s). So P-384 goes to nettle and P-256 (and anything else) to OpenSSL. Keys stay
 * EVP_PKEYs (parsed by OpenSSL from certificates, JWKs and raw points); for nettle the public
 * point is exported and checked to lie on the curve on every call (about 1 µs). X.509 parsing,
 * chains and RSA stay on OpenSSL.
 *
 * tests/attestation/pki/test_ecdsa.c runs every Wycheproof ECDSA P-384 vector through both
 * backends and requires the same verdict, the vector's. Threads: reentrant.
 */
#ifndef BPT_ATTESTATION_PKI_ECDSA_H
#define BPT_ATTESTATION_PKI_ECDSA_H

#include <blueprint-tee/common.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/** Which code verifies. */
enum bpt_ecdsa_backend {
    BPT_ECDSA_AUTO,    /* the faster one for the curve: bpt_ecdsa_backend_for() */
    BPT_ECDSA_OPENSSL, /* EVP_DigestVerify */
    BPT_ECDSA_NETTLE,  /* nettle's ecdsa_verify (P-256 and P-384) */
};

/** The backend BPT_ECDSA_AUTO uses for a curve of @p bits (256 or 384). */
enum bpt_ecdsa_backend bpt_ecdsa_backend_for(int bits);

/** "openssl", "nettle", "auto". */
const char *bpt_ecdsa_backend_name(enum bpt_ecdsa_backend b);

/**
 * Verify an ECDSA signature over @p msg with @p key: P-256 with SHA-256 (@p bits 256) or P-384
 * with SHA-384 (@p bits 384). r and s are unsigned big-endian integers of 1..66 significant
 * bytes each (leading zero bytes allowed, as SEV-SNP's 72-byte fields have); values outside
 * 1..n-1 do not verify on either backend.
 * @return 0; BPT_ESIGNATURE "<what>: the signing key is not ECDSA P-<bits>" or "<what> does not
 *         verify"; BPT_ERROR (the backend failed to run).
 */
BPT_MUST_USE int bpt_ecdsa_verify(EVP_PKEY *key, int bits, const uint8_t *r, size_t r_len,
                                  const uint8_t *s, size_t s_len, const void *msg, size_t msg_len,
                                  enum bpt_ecdsa_backend backend, const char *what);

#endif
