/*
 * JWK sets for the JWT verifiers: parsing (jwks_set.c), fetching over HTTPS and a cache of
 * fetched sets keyed by URL (jwks.c). Keys are looked up by kid and checked against the
 * algorithm the caller names; nothing here knows tokens or policies.
 */
#ifndef BPT_ATTESTATION_COLLATERAL_JWKS_H
#define BPT_ATTESTATION_COLLATERAL_JWKS_H

#include <blueprint-tee/buf.h>
#include <blueprint-tee/clock.h>

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#define BPT_JWKS_MAX_KEYS 64
#define BPT_JWT_MAX_KID 255
#define BPT_JWKS_DEFAULT_TIMEOUT_MS 5000

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
BPT_MUST_USE int bpt_jwks_parse(struct bpt_jwks **out, const char *json, size_t len,
                                const char *what);
void bpt_jwks_free(struct bpt_jwks *s);

/** true when @p s has a JWK (usable or not) with @p kid. */
bool bpt_jwks_has_kid(const struct bpt_jwks *s, const char *kid);

/**
 * The key with @p kid in @p s (a new reference in *key), for a signature with algorithm
 * @p alg ("RS256", ...). @p src names the set in messages.
 * @return 0; BPT_EKEYS (no such kid, or the JWK was unusable: its reason); BPT_ESIGNATURE (the
 *         JWK's alg is not @p alg).
 */
BPT_MUST_USE int bpt_jwks_lookup(EVP_PKEY **key, const struct bpt_jwks *s, const char *kid,
                                 const char *alg, const char *src, const char *what);

/**
 * A JWKS over HTTPS: fetch @p url (256 KiB cap, @p timeout_ms), with its Cache-Control
 * max-age in *max_age (-1 when absent, 0 for no-store/no-cache).
 * @return 0; BPT_EFETCH (transport, time-out, HTTP status, over the cap); BPT_EMALFORMED;
 *         BPT_EINVAL (URL refused).
 */
BPT_MUST_USE int bpt_jwks_fetch(struct bpt_jwks **out, long *max_age, const char *url,
                                long timeout_ms);

/** As bpt_jwks_fetch(), the document's text appended to @p body (not parsed). */
BPT_MUST_USE int bpt_jwks_fetch_text(bpt_buf *body, long *max_age, const char *url,
                                     long timeout_ms);

/*
 * JWK sets kept in a cache directory for offline verification, one file per URL
 * (dir/jwks-<first 16 bytes of SHA-256 of the URL, hex>.json), written by prefetching
 * (bpt_verify_prefetch) and read when the context is offline. A copy is used as long as it is
 * there: the tokens' own times bound what it may verify.
 */
/** Store @p text as @p url's copy in @p dir (created 0700 if missing). @return 0; BPT_EIO. */
BPT_MUST_USE int bpt_jwks_disk_store(const char *dir, const char *url, const uint8_t *text,
                                     size_t len);
/** @p url's copy in @p dir, parsed. @return 0; BPT_ENOTFOUND (none); BPT_EMALFORMED; BPT_EIO. */
BPT_MUST_USE int bpt_jwks_disk_load(struct bpt_jwks **out, const char *dir, const char *url);

/*
 * A cache of JWK sets fetched over HTTPS, keyed by URL (16 URLs, oldest replaced): a set is
 * kept for its Cache-Control max-age (at most a day; no-store/no-cache: not kept; without one,
 * default_ttl_secs). A kid that is not in a fresh set refetches it, at most once per
 * refetch_secs; a failed fetch is likewise retried at most once per refetch_secs (until then
 * the failure is answered from memory). Only a fresh set answers: there is no stale fallback.
 * Threads: safe from any thread (one mutex, held during a fetch: other users wait for it, at
 * most its time-out).
 */
struct bpt_jwks_cache;

struct bpt_jwks_cache_opts {
    const bpt_clock *clock;    /* the cache's notion of now (copied; NULL: system time) */
    long timeout_ms;           /* per fetch, 1..600000; 0: 5000 */
    uint64_t default_ttl_secs; /* without Cache-Control max-age, 1..86400; 0: 300 */
    uint64_t refetch_secs;     /* refetch interval for unknown kids and failures; 0: 60 */
};

/** @return 0; BPT_EINVAL (values out of range); BPT_ENOMEM. */
BPT_MUST_USE int bpt_jwks_cache_new(struct bpt_jwks_cache **out,
                                    const struct bpt_jwks_cache_opts *o);
void bpt_jwks_cache_free(struct bpt_jwks_cache *c);
/** Fetches attempted, and key lookups answered from a fresh cached set without a fetch. */
void bpt_jwks_cache_stats(const struct bpt_jwks_cache *c, uint64_t *fetches, uint64_t *hits);

/**
 * The key with @p kid for @p alg from @p c's copy of @p url: fetched when absent or expired,
 * and refetched for an unknown kid at most once per refetch interval; with !may_fetch
 * (offline) only a fresh cached copy answers.
 * @return as bpt_jwks_lookup(); BPT_EKEYS offline; BPT_EFETCH.
 */
BPT_MUST_USE int bpt_jwks_cache_key(EVP_PKEY **key, struct bpt_jwks_cache *c, const char *url,
                                    const char *kid, const char *alg, bool may_fetch,
                                    const char *what);

#endif
