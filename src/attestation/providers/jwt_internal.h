/*
 * JWS compact tokens and JWK sets, shared by the Azure MAA and GCP Confidential Space
 * verifiers: parsing with limits, the algorithm allow-list, keys from JWKs, signature
 * verification, time and audience checks, and where the keys come from.
 */
#ifndef BPT_ATTESTATION_PROVIDERS_JWT_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_JWT_INTERNAL_H

#include <blueprint-tee/jwt.h>

#include <jansson.h>
#include <openssl/evp.h>

#define BPT_JWT_MAX_BYTES (64u * 1024u)
#define BPT_JWKS_MAX_KEYS 64
#define BPT_JWT_DEFAULT_LEEWAY 60
#define BPT_JWT_MAX_LEEWAY 300
#define BPT_GCP_ISSUER "https://confidentialcomputing.googleapis.com"
#define BPT_GCP_JWKS_URL                                                                           \
    "https://www.googleapis.com/service_accounts/v1/metadata/jwk/"                                 \
    "signer@confidentialspace-sign.iam.gserviceaccount.com"

/* The signature algorithms accepted (asymmetric only). */
enum bpt_jws_alg {
    BPT_JWS_RS256,
    BPT_JWS_RS384,
    BPT_JWS_RS512,
    BPT_JWS_PS256,
    BPT_JWS_PS384,
    BPT_JWS_PS512,
    BPT_JWS_ES256,
    BPT_JWS_ES384
};

/* A parsed token: the decoded header and claims, and what was signed. */
struct bpt_jwt {
    json_t *header, *claims;
    enum bpt_jws_alg alg;
    char alg_name[8];
    const char *kid; /* inside header */
    const char *signing_input;
    size_t signing_input_len;
    uint8_t *signature;
    size_t signature_len;
};

/**
 * Split, decode and check the structure of a compact JWS (three base64url segments, JSON
 * objects, header alg on the allow-list, kid present, no crit). @p what prefixes messages.
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE (alg none, HS*, unknown alg).
 */
int bpt_jwt_parse(struct bpt_jwt *t, const uint8_t *tok, size_t len, const char *what);
void bpt_jwt_dispose(struct bpt_jwt *t);

/** Verify the token's signature with @p key (type and size must suit the alg). */
int bpt_jwt_verify_signature(const struct bpt_jwt *t, EVP_PKEY *key, const char *what);

/* A parsed JWK set: keys by kid. */
struct bpt_jwk {
    char kid[256];
    char alg[8]; /* "" when the JWK names none */
    EVP_PKEY *key;
};
struct bpt_jwks {
    struct bpt_jwk keys[BPT_JWKS_MAX_KEYS];
    size_t n;
};

/**
 * Parse a JWKS document: RSA (n/e, or the first x5c certificate; modulus 2048..8192 bits) and
 * EC (P-256/P-384 x/y) keys with a kid; keys for other uses than "sig" and other key types are
 * skipped; duplicate kids are refused. @return 0; BPT_EMALFORMED; BPT_ELIMIT.
 */
int bpt_jwks_parse(struct bpt_jwks **out, const char *json, size_t len, const char *what);
void bpt_jwks_free(struct bpt_jwks *s);

/** The key for @p kid fit for @p t's alg (a new reference), or NULL. */
EVP_PKEY *bpt_jwks_find(const struct bpt_jwks *s, const char *kid, const struct bpt_jwt *t);

/**
 * The key for the token's kid from the policy's sources: jwks JSON, jwks_file, then the JWKS
 * URL (the policy's, else @p default_url) through the policy's JWKS cache or one fetch.
 * @return 0 with *key; BPT_EKEYS (unknown kid, or offline with nothing to use); BPT_EFETCH.
 */
struct bpt_policy;
int bpt_jwt_key(EVP_PKEY **key, const struct bpt_jwt *t, const struct bpt_policy *p,
                const char *default_url, const char *what);

/**
 * The checks every attestation token gets after its signature: exp (required) and nbf with
 * the policy's leeway, iat freshness under max_age_secs, and the audience (policy's expected
 * audience in aud; with neither, refused).
 */
int bpt_jwt_check_time_and_audience(const struct bpt_jwt *t, const struct bpt_policy *p,
                                    const char *what);

/** The key for @p kid from @p c's copy of @p url (fetched or refetched as the cache allows). */
int bpt_jwks_cache_key(EVP_PKEY **key, bpt_jwks_cache *c, const char *url, const char *kid,
                       const struct bpt_jwt *t, const char *what);

/**
 * What both providers do after the issuer check: the key (bpt_jwt_key), the signature, then
 * bpt_jwt_check_time_and_audience().
 */
int bpt_jwt_authenticate(const struct bpt_jwt *t, const struct bpt_policy *p,
                         const char *default_url, const char *what);

/** A JWKS over HTTPS: fetch @p url (cap, timeout), with its Cache-Control max-age in *max_age. */
int bpt_jwks_fetch(struct bpt_jwks **out, long *max_age, const char *url, long timeout_ms);

#endif
