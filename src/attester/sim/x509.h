/*
 * Certificate-making helpers for the simulated TEEs (test PKIs in the vendors' shapes).
 * These keys are test keys: private keys are written 0600 and never trusted by default.
 */
#ifndef BPT_ATTESTER_SIM_X509_H
#define BPT_ATTESTER_SIM_X509_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/** Validity of every simulated certificate: 2020-01-01 .. 2099-12-31. */
#define BPT_SIM_NOT_BEFORE 1577836800
#define BPT_SIM_NOT_AFTER 4102358400

enum bpt_sim_sig {
    BPT_SIM_SIG_RSA_PSS_SHA384, /* AMD's ARK/ASK */
    BPT_SIM_SIG_ECDSA_SHA384,   /* Nitro */
    BPT_SIM_SIG_ECDSA_SHA256    /* Intel */
};

/** A new key: "rsa" (2048-bit) or an EC curve name ("P-384", "P-256"). */
BPT_MUST_USE int bpt_sim_keygen(EVP_PKEY **out, const char *kind);

/**
 * Make a certificate for @p key with subject @p cn (plus O/C), issued by @p issuer_cert /
 * @p issuer_key (NULL: self-signed), as a CA with @p pathlen (-1: not a CA). Extra
 * extensions can be added by the caller before signing through @p add_ext (may be NULL).
 */
BPT_MUST_USE int bpt_sim_make_cert(X509 **out, EVP_PKEY *key, const char *cn, X509 *issuer_cert,
                                   EVP_PKEY *issuer_key, int pathlen, enum bpt_sim_sig sig,
                                   long serial, int (*add_ext)(X509 *cert, void *ud), void *ud);

/**
 * ECDSA-sign @p msg (SHA-256 for P-256 keys, SHA-384 for P-384) and write r then s, each
 * @p n bytes big-endian (or little-endian when @p little_endian: SEV-SNP), into @p rs.
 */
BPT_MUST_USE int bpt_sim_sign_rs(uint8_t *rs, size_t n, bool little_endian, EVP_PKEY *key,
                                 const void *msg, size_t msg_len);

/** The certificate as a malloc'd NUL-terminated PEM string (free with bpt_free()). */
BPT_MUST_USE int bpt_sim_cert_pem(char **out, X509 *cert);

/** Write PEM (a certificate, or a private key 0600). */
BPT_MUST_USE int bpt_sim_write_cert(const char *path, X509 *cert);
BPT_MUST_USE int bpt_sim_write_key(const char *path, EVP_PKEY *key);
/** Read them back. */
BPT_MUST_USE int bpt_sim_read_cert(X509 **out, const char *path);
BPT_MUST_USE int bpt_sim_read_key(EVP_PKEY **out, const char *path);

/** Join dir and name into buf; BPT_EINVAL when too long. */
BPT_MUST_USE int bpt_sim_path(char *buf, size_t len, const char *dir, const char *name);

#endif
