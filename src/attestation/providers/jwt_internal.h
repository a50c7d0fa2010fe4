/*
 * JWS compact tokens, shared by the Azure MAA and GCP Confidential Space verifiers: parsing
 * with limits, the algorithm allow-list, where the keys come from (the context's and the
 * policy's JWKS sources, collateral/jwks.h), signature verification, time and audience checks
 * (docs/jwt.md).
 */
#ifndef BPT_ATTESTATION_PROVIDERS_JWT_INTERNAL_H
#define BPT_ATTESTATION_PROVIDERS_JWT_INTERNAL_H

#include <blueprint-tee/jwt.h>

#include "attestation/collateral/jwks.h"

#include <jansson.h>
#include <openssl/evp.h>

#define BPT_JWT_MAX_BYTES (64u * 1024u)
#define BPT_JWT_DEFAULT_LEEWAY 60
#define BPT_JWT_MAX_LEEWAY 300
/* NumericDate claims above 9999-12-31T23:59:59Z (or below 0) are malformed. */
#define BPT_JWT_MAX_TIME 253402300799LL
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
 * token text, which must outlive it). A token taken from a context's parsed tokens borrows
 * header, claims and signature from the kept token, which @c kept holds (its own reference
 * count: jansson's reference counts are not touched by threads sharing a kept token). */
struct bpt_jwt {
    void *kept; /* NULL: header, claims and signature are this token's own */
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
BPT_MUST_USE int bpt_jwt_parse(struct bpt_jwt *t, const uint8_t *tok, size_t len, const char *what);
void bpt_jwt_dispose(struct bpt_jwt *t);

/**
 * bpt_jwt_parse() through the context's cache of parsed tokens (the last BPT_CTX_JWT_TOKENS
 * distinct tokens, kept by a context whose JWKS cache is on): a token seen again, byte for byte,
 * is not decoded and parsed again (its header and claims are shared, read-only). Only parsing is
 * saved: the caller still checks the signature, the time and every claim. @p ctx NULL, or no
 * cache: bpt_jwt_parse().
 */
BPT_MUST_USE int bpt_jwt_parse_cached(struct bpt_jwt *t, const bpt_verify_ctx *ctx,
                                      const uint8_t *tok, size_t len, const char *what);

/** Verify the token's signature with @p key (its type and size must suit the alg). */
BPT_MUST_USE int bpt_jwt_verify_signature(const struct bpt_jwt *t, EVP_PKEY *key, const char *what);

/**
 * The key for the token's kid, from (in this order) the context's JWKS document, the context's
 * JWKS URL, the policy's jwt.jwks_file, the policy's jwt.jwks_url, else @p default_url; a URL
 * through the context's JWKS cache, or one fetch without a cache. Offline, a URL is never
 * fetched (a cache may still answer).
 * @return 0 with *key; BPT_EKEYS (unknown kid, or offline with nothing to use);
 *         BPT_EFETCH; BPT_EUNSATISFIABLE (no source at all); BPT_EMALFORMED (a bad JWKS).
 */
BPT_MUST_USE int bpt_jwt_key(EVP_PKEY **key, const struct bpt_jwt *t, const bpt_verify_ctx *ctx,
                             const bpt_policy *p, const char *default_url, const char *what);

/** true when the caller chose where keys come from (a JWKS document, file or URL). */
bool bpt_jwt_has_key_source(const bpt_verify_ctx *ctx, const bpt_policy *p);

/**
 * The checks every attestation token gets after its signature, at @p at: exp (required) and
 * nbf with the policy's leeway, iat (required when max_age_secs is set) not in the future and
 * not older than max_age_secs, and the audience (the policy's expected audience must be in
 * aud). Whether the token must be bound to this relying party at all is each provider's rule.
 */
BPT_MUST_USE int bpt_jwt_check_time_and_audience(const struct bpt_jwt *t, const bpt_policy *p,
                                                 int64_t at, const char *what);

/**
 * What both providers do after their issuer check: the key (bpt_jwt_key), the signature, then
 * bpt_jwt_check_time_and_audience().
 */
BPT_MUST_USE int bpt_jwt_authenticate(const struct bpt_jwt *t, const bpt_verify_ctx *ctx,
                                      const bpt_policy *p, int64_t at, const char *default_url,
                                      const char *what);

/** true when the token's aud names an audience (a non-empty string, or an array with one). */
bool bpt_jwt_has_audience(const struct bpt_jwt *t);

/**
 * The URL a provider's verifier takes @p t's keys from when neither the context nor the policy
 * names a source: GCP's JWKS URL for a Confidential Space token, an MAA instance's
 * <iss>/certs when the policy lists the token's issuer; "" otherwise (an MAA token whose
 * issuer the policy does not name has no URL of its own).
 * @return 0; BPT_EINVAL (the URL does not fit @p len).
 */
BPT_MUST_USE int bpt_jwt_provider_keys_url(char *buf, size_t len, const struct bpt_jwt *t,
                                           const bpt_policy *p);

/**
 * The URL bpt_jwt_key() fetches keys from for @p t (the context's JWKS URL, the policy's
 * jwt.jwks_url, else @p default_url), or NULL when a JWKS document (the context's, or the
 * policy's jwt.jwks_file) comes first or there is no URL at all.
 */
const char *bpt_jwt_key_url(const bpt_verify_ctx *ctx, const bpt_policy *p,
                            const char *default_url);

/** true when @p iss is in the policy's jwt.issuers. */
bool bpt_jwt_issuer_listed(const bpt_policy *p, const char *iss);

/** The issuer of GCP Confidential Space tokens: how the dispatcher tells the JWT providers apart.
 */
bool bpt_jwt_is_gcp(const struct bpt_jwt *t);

#endif
