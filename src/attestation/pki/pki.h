/*
 * X.509 helpers shared by the verifiers: loading certificates from untrusted bytes, pinned
 * vendor roots, chain verification at a fixed time (never the clock), and CRLs checked
 * explicitly (issuer, signature, thisUpdate/nextUpdate at that time, revocation).
 *
 * Chain verification uses OpenSSL's X509_verify_cert (strict RFC 5280 checks on request) and the
 * time from the caller; only the given roots are trusted (no system store, no partial chains).
 */
#ifndef BPT_ATTESTATION_PKI_H
#define BPT_ATTESTATION_PKI_H

#include <blueprint-tee/common.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

enum bpt_pinned_root {
    BPT_ROOT_AMD_MILAN_ARK,
    BPT_ROOT_AMD_MILAN_ASK,
    BPT_ROOT_AMD_MILAN_ASVK,
    BPT_ROOT_AMD_GENOA_ARK,
    BPT_ROOT_AMD_GENOA_ASK,
    BPT_ROOT_AMD_GENOA_ASVK,
    BPT_ROOT_AMD_TURIN_ARK,
    BPT_ROOT_AMD_TURIN_ASK,
    BPT_ROOT_AMD_TURIN_ASVK,
    BPT_ROOT_INTEL_SGX_ROOT_CA,
    BPT_ROOT_AWS_NITRO_G1,
    BPT_ROOT_COUNT
};

const char *bpt_pki_pinned_name(enum bpt_pinned_root id);
const char *bpt_pki_pinned_pem(enum bpt_pinned_root id);
const char *bpt_pki_pinned_fingerprint(enum bpt_pinned_root id);

/**
 * Load a pinned certificate, checking its SHA-256 fingerprint against the table.
 * @param[out] out new reference; X509_free() it.
 */
BPT_MUST_USE int bpt_pki_pinned_load(X509 **out, enum bpt_pinned_root id);

/**
 * Parse certificates from untrusted bytes: one DER certificate, or PEM text holding one or
 * more (at most BPT_LIMIT_CERTS_IN_CHAIN). Appends to *stack (created when NULL).
 * @return 0; BPT_EMALFORMED naming @p what; BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_pki_parse_certs(STACK_OF(X509) * *stack, const uint8_t *p, size_t len,
                                     const char *what);

struct bpt_cert_cache;

/** bpt_pki_parse_certs() with certificates taken from, or kept in, @p cache (may be NULL). */
BPT_MUST_USE int bpt_pki_parse_certs_cached(STACK_OF(X509) * *stack, struct bpt_cert_cache *cache,
                                            const uint8_t *p, size_t len, const char *what);

/**
 * Parse certificates and CRLs from untrusted bytes: PEM text holding any number of both (other
 * PEM blocks are skipped), or one DER certificate, or one DER CRL. Certificates are appended to
 * *certs and CRLs to *crls (each created when NULL); with @p crls NULL, CRLs are read and
 * dropped. At least one certificate or CRL must be there; at most BPT_LIMIT_CERTS_IN_CHAIN of
 * each. @return 0; BPT_EMALFORMED naming @p what; BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_pki_parse_bundle(STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls,
                                      const uint8_t *p, size_t len, const char *what);

/** bpt_pki_parse_bundle() with certificates taken from, or kept in, @p cache (may be NULL). */
BPT_MUST_USE int bpt_pki_parse_bundle_cached(STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls,
                                             struct bpt_cert_cache *cache, const uint8_t *p,
                                             size_t len, const char *what);

/** Parse one DER certificate (the whole input must be the certificate). */
BPT_MUST_USE int bpt_pki_parse_der(X509 **out, const uint8_t *p, size_t len, const char *what);

/**
 * Verify an ECDSA signature given as big-endian r and s of @p n bytes each over @p msg:
 * P-256 with SHA-256 (@p bits 256) or P-384 with SHA-384 (@p bits 384), on the faster backend
 * for the curve (ecdsa.h: P-384 on nettle, P-256 on OpenSSL).
 * @return 0; BPT_ESIGNATURE "<what>: ..." (wrong key type, or the signature does not verify).
 */
BPT_MUST_USE int bpt_pki_verify_ecdsa_rs(EVP_PKEY *key, int bits, const uint8_t *r,
                                         const uint8_t *s, size_t n, const void *msg,
                                         size_t msg_len, const char *what);

/**
 * Verify an ECDSA P-384 / SHA-384 signature given as big-endian r and s of @p n bytes each
 * (raw COSE form; SEV-SNP's little-endian values are reversed by the caller) over @p msg.
 * @return 0; BPT_ESIGNATURE "<what>: ..." (wrong key type, or the signature does not verify).
 */
BPT_MUST_USE int bpt_pki_verify_p384_rs(EVP_PKEY *key, const uint8_t *r, const uint8_t *s, size_t n,
                                        const void *msg, size_t msg_len, const char *what);

/**
 * An EC public key from raw big-endian x || y (@p bits / 8 bytes each, P-256 or P-384); the
 * point must lie on the curve. @return 0; BPT_EMALFORMED naming @p what.
 */
BPT_MUST_USE int bpt_pki_ec_pub_from_xy(EVP_PKEY **out, int bits, const uint8_t *xy,
                                        const char *what);

/**
 * Parse a CRL from untrusted bytes: DER, hex text of DER (Intel's form), or PEM.
 * @return 0; BPT_EMALFORMED naming @p what.
 */
BPT_MUST_USE int bpt_pki_parse_crl(X509_CRL **out, const uint8_t *p, size_t len, const char *what);

/**
 * Check a CRL: its issuer is @p issuer's subject, @p issuer's key verifies its signature, and
 * thisUpdate <= at <= nextUpdate (a CRL without nextUpdate is refused).
 * @return 0; BPT_ESIGNATURE naming @p what and the failing check.
 */
BPT_MUST_USE int bpt_pki_check_crl(X509_CRL *crl, X509 *issuer, int64_t at, const char *what);

/** "RSASSA-PSS", "ecdsa-with-SHA384", ...: the name of the CRL's signature algorithm. */
const char *bpt_pki_crl_sig_name(const X509_CRL *crl);

/** The CRL's thisUpdate and nextUpdate as unix seconds; false if it lacks them. */
bool bpt_pki_crl_window(X509_CRL *crl, int64_t *not_before, int64_t *not_after);

/**
 * Refuse @p cert if @p crl lists it, or if @p crl was not issued by @p cert's issuer.
 * @return 0; BPT_ESIGNATURE "<what>: <subject> is revoked".
 */
BPT_MUST_USE int bpt_pki_check_not_revoked(X509_CRL *crl, X509 *cert, const char *what);

/** SHA-256 of the certificate's DER encoding. */
BPT_MUST_USE int bpt_pki_fingerprint(uint8_t out[32], X509 *cert);

/** true if notBefore <= at <= notAfter. */
bool bpt_pki_valid_at(X509 *cert, int64_t at);

/** "CN=..., O=..." one-line subject into @p buf for messages. */
const char *bpt_pki_subject(X509 *cert, char *buf, size_t len);
/** The same for any name (an issuer, a CRL's issuer). */
const char *bpt_pki_name(const X509_NAME *name, char *buf, size_t len);

struct bpt_pki_verify_opts {
    int64_t at;    /* verification time (unix seconds) */
    int max_depth; /* 0: OpenSSL default */
    bool strict;   /* X509_V_FLAG_X509_STRICT (AMD's VCEKs lack an AKI: off for them) */
    /* Appended ("; <where>") when a certificate is missing: where it would come from and how
     * to supply it, in the library's words. NULL: nothing appended. */
    const char *where;
};

/**
 * Verify @p leaf up to one of @p roots through @p untrusted intermediates at opts->at.
 * Returns 0, or BPT_ESIGNATURE with a message naming the failing certificate's subject and
 * OpenSSL's reason (expired, not yet valid, bad signature, ...); when a certificate is missing
 * (an issuer that is neither a root nor an intermediate given, a chain ending at a self-signed
 * certificate that is not a root), the message names the missing certificate, then
 * opts->where.
 * @param[out] chain_out if non-NULL, the verified chain leaf..root (sk_X509_pop_free it).
 */
BPT_MUST_USE int bpt_pki_verify_chain(STACK_OF(X509) * *chain_out, X509 *leaf,
                                      STACK_OF(X509) * untrusted, STACK_OF(X509) * roots,
                                      const struct bpt_pki_verify_opts *opts, const char *what);

/**
 * The root copy a chain carries must be the root it was verified to, as Intel's QVL requires:
 * @p carried (the certificates as sent, leaf first) must hold, at the position of the root in
 * @p chain (the verified chain leaf..root), a certificate byte-equal to that root. A missing
 * or different copy does not weaken the verification (it anchors on the trusted root), but it
 * is evidence that was altered or produced wrongly, and it changes the evidence's bytes
 * without changing what they attest.
 * @return 0; BPT_ESIGNATURE "<what>: carries no copy of the root CA ..." or "<what>: the root CA
 *         it carries differs from the trusted root (sha256 <carried>, trusted <root>)".
 */
BPT_MUST_USE int bpt_pki_check_root_copy(STACK_OF(X509) * carried, STACK_OF(X509) * chain,
                                         const char *what);

/**
 * The listed pinned roots, each loaded and checked against its fingerprint.
 * @param[out] out new stack; sk_X509_pop_free(out, X509_free).
 */
BPT_MUST_USE int bpt_pki_pinned_roots(STACK_OF(X509) * *out, const enum bpt_pinned_root *ids,
                                      size_t n_ids);

#endif
