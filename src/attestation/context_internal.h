/*
 * The verification context's fields, for the library's verifiers (context.h is the public side).
 * Setters (context.c) refuse once the context is frozen, so verifiers read everything here
 * without locks; the caches have their own.
 */
#ifndef BPT_ATTESTATION_CONTEXT_INTERNAL_H
#define BPT_ATTESTATION_CONTEXT_INTERNAL_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/context.h>
#include <blueprint-tee/sys/verifier.h>

#include "attestation/pki/pki.h"
#include "core/logging.h"

#include <stdatomic.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define BPT_CTX_MAX_VERIFIERS 48 /* the built-ins and up to 32 plugins */
#define BPT_CTX_MAX_PLUGINS 32
#define BPT_CTX_JWT_TOKENS 4096 /* parsed tokens a context keeps (with its JWKS cache) */

struct bpt_jwks;
struct bpt_lru;
struct bpt_tdx_collateral_prepared;
struct bpt_evidence;

/* A registered verifier: the vtable, and whether it is one of the library's own. */
struct bpt_ctx_verifier {
    bpt_verifier_vtable vt;
    bool builtin;
};

struct bpt_verify_ctx {
    atomic_int refs;
    atomic_bool frozen;

    bool has_at;
    int64_t at;
    bpt_clock clock; /* when !has_at; {NULL, NULL}: the system's time */

    bool has_trust_roots;
    STACK_OF(X509) * trust_roots; /* parsed once when added */
    /* The pinned vendor roots, each parsed (and its fingerprint checked) on first use and then
     * shared by every verification through this context. */
    _Atomic(X509 *) pinned[BPT_ROOT_COUNT];
    uint8_t trust_roots_digest[32]; /* SHA-256 of the roots' bytes added, for cache keys */
    bpt_buf trust_roots_pem;        /* those bytes (DER or PEM, each followed by a newline) */
    bpt_buf certs; /* blobs, each: u32le length + DER-or-PEM bytes (certificates and CRLs) */
    char *collateral_json;
    uint8_t collateral_digest[32]; /* SHA-256 of collateral_json, for cache keys */
    /* collateral_json parsed when set (TDX; NULL when it did not parse: then each verification
     * parses the text and reports what is wrong with it) */
    struct bpt_tdx_collateral_prepared *collateral_prepared;
    struct bpt_jwks *jwks; /* the JWKS document, parsed */
    char *jwks_url;
    bool offline;
    bool no_revocation; /* SEV-SNP: AMD's CRL is not consulted (bpt_verify_ctx_set_revocation_check)
                         */
    char *kds_url;      /* NULL: AMD's */
    char *pccs_url;     /* NULL: Intel PCS */
    char *cache_dir;
    struct bpt_log_sink log;

    struct bpt_cert_cache *cert_cache;             /* parsed certificates by their DER digest */
    struct bpt_chain_cache *chain_cache;           /* NULL: none */
    struct bpt_collateral_cache *collateral_cache; /* NULL: none */
    struct bpt_jwks_cache *jwks_cache;             /* NULL: none */
    struct bpt_lru *ec_keys;    /* EC public keys made from raw points (TDX attestation keys) */
    struct bpt_lru *jwt_tokens; /* parsed tokens (with the JWKS cache): providers/jwt.c */

    struct bpt_ctx_verifier verifiers[BPT_CTX_MAX_VERIFIERS];
    size_t n_verifiers, n_plugins;
};

/**
 * A context with no verifiers (verify/ adds the built-ins for bpt_verify_ctx_new()), for a
 * provider's own entry point called without one.
 */
BPT_MUST_USE int bpt_verify_ctx_alloc(bpt_verify_ctx **out, const bpt_verify_ctx_opts *opts);

/** Register a verifier (checked as bpt_verify_ctx_add_verifier() does). */
BPT_MUST_USE int bpt_verify_ctx_register(bpt_verify_ctx *c, const bpt_verifier_vtable *vt,
                                         bool builtin);

/** Freeze: setters refuse from now on. */
void bpt_verify_ctx_freeze(const bpt_verify_ctx *c);

/**
 * The roots to trust: the context's trust roots when it has them, else the listed pinned ones
 * (bpt_verify_ctx_pinned()).
 * @param[out] out new stack; sk_X509_pop_free(out, X509_free).
 */
BPT_MUST_USE int bpt_verify_ctx_roots(STACK_OF(X509) * *out, const bpt_verify_ctx *c,
                                      const enum bpt_pinned_root *ids, size_t n_ids);

/**
 * The listed pinned certificates, whatever trust roots the context has: parsed once per context
 * on first use, then shared (a NULL context parses them for this call).
 * @param[out] out new stack (new references); sk_X509_pop_free(out, X509_free).
 */
BPT_MUST_USE int bpt_verify_ctx_pinned(STACK_OF(X509) * *out, const bpt_verify_ctx *c,
                                       const enum bpt_pinned_root *ids, size_t n_ids);

/** Feed what chose the trust roots into a cache key: "pinned", or the added roots' digest. */
BPT_MUST_USE int bpt_verify_ctx_digest_roots(EVP_MD_CTX *md, const bpt_verify_ctx *c);

/**
 * Every certificate given for this verification, the context's then the evidence's (a report's
 * collateral "certificates"), parsed and appended to *all (created when NULL).
 * @return 0; BPT_EMALFORMED naming @p what; BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_verify_ctx_certs(STACK_OF(X509) * *all, const bpt_verify_ctx *c,
                                      const struct bpt_evidence *ev, const char *what);

/**
 * Every certificate and every CRL given for this verification in one reading: the context's
 * (bpt_verify_ctx_add_certs(), bpt_verify_ctx_add_crl()) then the evidence's (its collateral
 * "certificates"), appended to *certs (created when NULL) and *crls (created when NULL, may
 * stay NULL when there are none; with @p crls NULL, CRLs are dropped).
 * @return 0; BPT_EMALFORMED naming @p what; BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_verify_ctx_given(STACK_OF(X509) * *certs, STACK_OF(X509_CRL) * *crls,
                                      const bpt_verify_ctx *c, const struct bpt_evidence *ev,
                                      const char *what);

/** Feed the certificate blobs given (the context's and the evidence's) into a cache key. */
BPT_MUST_USE int bpt_verify_ctx_digest_certs(EVP_MD_CTX *md, const bpt_verify_ctx *c,
                                             const struct bpt_evidence *ev);

/** The collateral JSON to use: the context's, else the evidence's; NULL when neither has one. */
const char *bpt_verify_ctx_collateral(const bpt_verify_ctx *c, const struct bpt_evidence *ev);

/** The context's collateral parsed once, when @p json is the context's and it parsed; else NULL. */
const struct bpt_tdx_collateral_prepared *
bpt_verify_ctx_collateral_prepared(const bpt_verify_ctx *c, const char *json);

/**
 * SHA-256 of collateral JSON @p json (for cache keys): the context's, computed when it was set,
 * when @p json is the context's; else computed now.
 */
BPT_MUST_USE int bpt_verify_ctx_collateral_digest(uint8_t out[32], const bpt_verify_ctx *c,
                                                  const char *json);

/**
 * An EC public key from raw x || y (bpt_pki_ec_pub_from_xy()), kept by the context (when it
 * keeps verified chains) so that the same point is not decoded again: a TDX quote's attestation
 * key is the same for every quote of a platform's QE. Only the decoding is saved: what the key
 * signs is verified each time.
 * @param[out] out a new reference. @return 0; BPT_EMALFORMED naming @p what.
 */
BPT_MUST_USE int bpt_verify_ctx_ec_key(EVP_PKEY **out, const bpt_verify_ctx *c, int bits,
                                       const uint8_t *xy, const char *what);

#endif
