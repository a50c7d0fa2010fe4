/*
 * JWS compact tokens and JWK sets, shared by the Azure MAA and GCP Confidential Space
 * verifiers: parsing with limits, the algorithm allow-list, keys from JWKs, signature
 * verification, time and audience checks, and where the keys come from (docs/jwt.md).
 */
#ifndef BPT_ATTESTATION_PROVIDERS_JWT_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_JWT_INTERNAL_H

#include <blueprint-tee/jwt.h>

#include <jansson.h>
#include <openssl/evp.h>

#define BPT_JWT_MAX_BYTES (64u * 1024u)
#define BPT_JWKS_MAX_KEYS 64
#define BPT_JWT_MAX_KID 255
#define BPT_JWT_DEFAULT_LEEWAY 60
#define BPT_JWT_MAX_LEEWAY 300
/* NumericDate claims above 9999-12-31T23:59:59Z (or below 0) are malformed. */
#define BPT_JWT_MAX_TIME 253402300799LL
#define BPT_JWKS_DEFAULT_TIMEOUT_MS 5000
#define BPT_GCP_ISSUER "https://confidentialcomputing.googleapis.com"
/* The jwks_uri of https://confidentialcomputing.googleapis.com/.well-known/openid-configuration */
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

/* A parsed token: the decoded header and claims, and what was signed (borrowed from the
 * token text, which must outlive it). */
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
 * Split, decode and check the structure of a compact JWS: three non-empty base64url segments,
 * JSON objects (duplicate keys refused), header alg on the allow-list, a kid, no crit.
 * @p what prefixes messages. On failure *t is left empty (bpt_jwt_dispose is still safe).
 * @return 0; BPT_EMALFORMED; BPT_ESIGNATURE (alg none, HS*, any other alg).
 */
int bpt_jwt_parse(struct bpt_jwt *t, const uint8_t *tok, size_t len, const char *what);
void bpt_jwt_dispose(struct bpt_jwt *t);

/** Verify the token's signature with @p key (its type and size must suit the alg). */
int bpt_jwt_verify_signature(const struct bpt_jwt *t, EVP_PKEY *key, const char *what);

/* One JWK of a set: a usable key, or the reason it is not (kept so that a token naming it
 * gets that reason rather than "unknown kid"). */
struct bpt_jwk {
    char kid[BPT_JWT_MAX_KID + 1];
    char alg[8]; /* "" when the JWK names none */
    EVP_PKEY *key;
    char refused[160];
};
struct bpt_jwks {
    struct bpt_jwk keys[BPT_JWKS_MAX_KEYS];
    size_t n;
};

/**
 * Parse a JWKS document ({"keys":[...]}, at most BPT_LIMIT_JWKS_BYTES and BPT_JWKS_MAX_KEYS).
 * RSA keys (n/e, or the first x5c certificate; modulus 2048..8192 bits) and EC keys (P-256,
 * P-384) with a kid are usable. Keys without a kid, with a use other than "sig" or of another
 * kty are skipped; a key that cannot be used (a short modulus, another curve, bad encoding)
 * is kept with its reason. Duplicate kids are refused.
 * @return 0; BPT_EMALFORMED; BPT_ELIMIT.
 */
int bpt_jwks_parse(struct bpt_jwks **out, const char *json, size_t len, const char *what);
void bpt_jwks_free(struct bpt_jwks *s);

/** true when @p s has a JWK (usable or not) with @p kid. */
bool bpt_jwks_has_kid(const struct bpt_jwks *s, const char *kid);

/**
 * The key for @p t's kid in @p s (a new reference in *key). @p src names the set in messages.
 * @return 0; BPT_EKEYS (no such kid, or the JWK was unusable: its reason); BPT_ESIGNATURE (the
 *         JWK's alg is not the token's).
 */
int bpt_jwks_lookup(EVP_PKEY **key, const struct bpt_jwks *s, const struct bpt_jwt *t,
                    const char *src, const char *what);

/**
 * The key for the token's kid from the policy's sources, in this order: jwks JSON, jwks_file,
 * then the JWKS URL (the policy's, else @p default_url) through the policy's JWKS cache, or
 * one fetch without a cache. Offline, a URL is never fetched (a cache may still answer).
 * @return 0 with *key; BPT_EKEYS (unknown kid, or offline with nothing to use);
 *         BPT_EFETCH; BPT_EUNSATISFIABLE (no source at all); BPT_EMALFORMED (a bad JWKS).
 */
struct bpt_policy;
int bpt_jwt_key(EVP_PKEY **key, const struct bpt_jwt *t, const struct bpt_policy *p,
                const char *default_url, const char *what);

/**
 * The checks every attestation token gets after its signature: exp (required) and nbf with
 * the policy's leeway, iat (required when max_age_secs is set) not in the future and not older
 * than max_age_secs, and the audience (the policy's expected audience must be in aud; with
 * none expected, the token must name one).
 */
int bpt_jwt_check_time_and_audience(const struct bpt_jwt *t, const struct bpt_policy *p,
                                    const char *what);

/**
 * What both providers do after their issuer check: the key (bpt_jwt_key), the signature, then
 * bpt_jwt_check_time_and_audience().
 */
int bpt_jwt_authenticate(const struct bpt_jwt *t, const struct bpt_policy *p,
                         const char *default_url, const char *what);

/** true when @p iss is in the policy's jwt.issuers. */
bool bpt_jwt_issuer_listed(const struct bpt_policy *p, const char *iss);

/**
 * The key for @p t's kid from @p c's copy of @p url: fetched when absent or expired, and
 * refetched for an unknown kid at most once per refetch interval; with !may_fetch (offline)
 * only a fresh cached copy answers.
 */
int bpt_jwks_cache_key(EVP_PKEY **key, bpt_jwks_cache *c, const char *url, const struct bpt_jwt *t,
                       bool may_fetch, const char *what);

/**
 * A JWKS over HTTPS: fetch @p url (256 KiB cap, @p timeout_ms), with its Cache-Control
 * max-age in *max_age (-1 when absent, 0 for no-store/no-cache).
 * @return 0; BPT_EFETCH (transport, time-out, HTTP status, over the cap); BPT_EMALFORMED;
 *         BPT_EINVAL (URL refused).
 */
int bpt_jwks_fetch(struct bpt_jwks **out, long *max_age, const char *url, long timeout_ms);

#endif
