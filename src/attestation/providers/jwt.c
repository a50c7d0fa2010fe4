/* JWS compact tokens (RFC 7515, 7518) and where their keys come from: see jwt_internal.h. */
#include "attestation/providers/jwt_internal.h"

#include "attestation/collateral/jwks.h"
#include "attestation/context_internal.h"
#include "attestation/pki/pki.h"
#include "attestation/policy_internal.h"

#include <blueprint-tee/clock.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/lru.h"
#include "core/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>

static const struct {
    const char *name;
    enum bpt_jws_alg alg;
    int kty;   /* EVP_PKEY_RSA or EVP_PKEY_EC */
    int bits;  /* digest bits */
    bool pss;  /* RSASSA-PSS */
    int curve; /* EC: key bits */
} algs[] = {
    {"RS256", BPT_JWS_RS256, EVP_PKEY_RSA, 256, false, 0},
    {"RS384", BPT_JWS_RS384, EVP_PKEY_RSA, 384, false, 0},
    {"RS512", BPT_JWS_RS512, EVP_PKEY_RSA, 512, false, 0},
    {"PS256", BPT_JWS_PS256, EVP_PKEY_RSA, 256, true, 0},
    {"PS384", BPT_JWS_PS384, EVP_PKEY_RSA, 384, true, 0},
    {"PS512", BPT_JWS_PS512, EVP_PKEY_RSA, 512, true, 0},
    {"ES256", BPT_JWS_ES256, EVP_PKEY_EC, 256, false, 256},
    {"ES384", BPT_JWS_ES384, EVP_PKEY_EC, 384, false, 384},
};

static const EVP_MD *digest(int bits)
{
    return bits == 512 ? EVP_sha512() : bits == 384 ? EVP_sha384() : EVP_sha256();
}

static int decode_json(json_t **out, const char *seg, size_t n, const char *part, const char *what)
{
    bpt_buf raw = BPT_BUF_INIT(BPT_JWT_MAX_BYTES);
    int rc;
    *out = NULL;
    if (bpt_base64url_decode(&raw, seg, n, part) < 0) {
        rc = bpt_err(BPT_EMALFORMED, "%s: the %s is not base64url", what, part);
        goto out;
    }
    if (bpt_json_parse(out, (const char *)raw.data, raw.len, part) < 0 || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = bpt_err(BPT_EMALFORMED, "%s: the %s is not a JSON object", what, part);
        goto out;
    }
    rc = 0;
out:
    bpt_buf_dispose(&raw);
    return rc;
}

static void kept_release(void *v);

void bpt_jwt_dispose(struct bpt_jwt *t)
{
    if (t->kept) {
        kept_release(t->kept);
    } else {
        json_decref(t->header);
        json_decref(t->claims);
        free(t->signature);
    }
    memset(t, 0, sizeof(*t));
}

/* @p len without the token's trailing newlines, carriage returns and spaces. */
static size_t trimmed_len(const uint8_t *tok, size_t len)
{
    while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' ')) {
        len--;
    }
    return len;
}

int bpt_jwt_parse(struct bpt_jwt *t, const uint8_t *tok, size_t len, const char *what)
{
    const char *s = (const char *)tok, *d1, *d2, *alg = NULL;
    bpt_buf sig = BPT_BUF_INIT(1024);
    size_t i;
    int rc;

    memset(t, 0, sizeof(*t));
    len = trimmed_len(tok, len);
    if (len == 0 || len > BPT_JWT_MAX_BYTES) {
        return bpt_err(BPT_EMALFORMED, "%s: a token of %zu bytes (1..%u)", what, len,
                       BPT_JWT_MAX_BYTES);
    }
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return bpt_err(BPT_EMALFORMED, "%s: byte %zu is not base64url or '.'", what, i);
        }
    }
    d1 = memchr(s, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - s)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - s)) || d1 == s || d2 == d1 + 1 ||
        d2 + 1 == s + len) {
        return bpt_err(BPT_EMALFORMED,
                       "%s: expected three non-empty segments header.payload.signature", what);
    }
    BPT_CHECK(decode_json(&t->header, s, (size_t)(d1 - s), "header", what));
    if (bpt_json_get_str(t->header, "alg", &alg, true, "header") < 0) {
        rc = bpt_err(BPT_EMALFORMED, "%s: the header has no alg", what);
        goto out;
    }
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(alg, algs[i].name) == 0) {
            break;
        }
    }
    if (i == sizeof(algs) / sizeof(algs[0])) {
        rc = bpt_err(BPT_ESIGNATURE,
                     "%s: alg '%.16s' refused (accepted: RS256/384/512, PS256/384/512, ES256, "
                     "ES384; never none or HMAC)",
                     what, alg);
        goto out;
    }
    t->alg = algs[i].alg;
    snprintf(t->alg_name, sizeof(t->alg_name), "%s", algs[i].name);
    if (json_object_get(t->header, "crit")) {
        rc = bpt_err(BPT_EMALFORMED, "%s: the header has crit extensions, none are understood",
                     what);
        goto out;
    }
    if (bpt_json_get_str(t->header, "kid", &t->kid, true, "header") < 0 || !*t->kid ||
        strlen(t->kid) > BPT_JWT_MAX_KID) {
        rc = bpt_err(BPT_EMALFORMED, "%s: the header has no usable kid", what);
        goto out;
    }
    BPT_CHECK(decode_json(&t->claims, d1 + 1, (size_t)(d2 - d1 - 1), "payload", what));
    if (bpt_base64url_decode(&sig, d2 + 1, len - (size_t)(d2 + 1 - s), "signature") < 0) {
        rc = bpt_err(BPT_EMALFORMED, "%s: the signature is not base64url", what);
        goto out;
    }
    BPT_CHECK(bpt_buf_detach(&t->signature, &t->signature_len, &sig));
    t->signing_input = s;
    t->signing_input_len = (size_t)(d2 - s);
    rc = 0;
out:
    bpt_buf_dispose(&sig);
    if (rc < 0) {
        bpt_jwt_dispose(t);
    }
    return rc;
}

/*
 * A parsed token the context keeps: its bytes (a hit must be the same token), and its parts,
 * which tokens taken from it borrow while they hold a reference. Never changed once kept.
 */
struct kept_token {
    bpt_lru_release_fn release; /* first: bpt_lru_release_self() */
    atomic_uint refs;           /* the map's, and one per token taken from it */
    json_t *header, *claims;
    enum bpt_jws_alg alg;
    char alg_name[8];
    const char *kid;
    uint8_t *signature;
    size_t signature_len, len;
    uint8_t tok[]; /* the token, as parsed (trailing whitespace cut) */
};

static void kept_release(void *v)
{
    struct kept_token *k = v;
    if (atomic_fetch_sub(&k->refs, 1) != 1) {
        return;
    }
    json_decref(k->header);
    json_decref(k->claims);
    free(k->signature);
    free(k);
}

struct token_lookup {
    const uint8_t *tok;
    size_t len;
    struct bpt_jwt *t;
};

/* Under the map's lock: the same bytes, then a reference to the kept token's parts. */
static bool take_token(void *v, void *arg)
{
    struct kept_token *k = v;
    struct token_lookup *l = arg;
    if (k->len != l->len || memcmp(k->tok, l->tok, l->len) != 0) {
        return false;
    }
    atomic_fetch_add(&k->refs, 1);
    l->t->kept = k;
    l->t->header = k->header;
    l->t->claims = k->claims;
    l->t->alg = k->alg;
    memcpy(l->t->alg_name, k->alg_name, sizeof(l->t->alg_name));
    l->t->kid = k->kid;
    l->t->signature = k->signature;
    l->t->signature_len = k->signature_len;
    return true;
}

int bpt_jwt_parse_cached(struct bpt_jwt *t, const bpt_verify_ctx *ctx, const uint8_t *tok,
                         size_t len, const char *what)
{
    struct token_lookup l = {tok, len, t};
    struct kept_token *k;
    const uint8_t *dot;
    uint8_t key[32];
    int rc;

    memset(t, 0, sizeof(*t));
    l.len = len = trimmed_len(tok, len);
    if (!ctx || !ctx->jwt_tokens || len == 0 || len > BPT_JWT_MAX_BYTES ||
        !(dot = memrchr(tok, '.', len))) {
        return bpt_jwt_parse(t, tok, len, what);
    }
    /* Keyed by the signature's text: tokens that share it are compared in full. */
    if (EVP_Digest(dot, len - (size_t)(dot - tok), key, NULL, EVP_sha256(), NULL) != 1) {
        return bpt_err_ossl(BPT_ERROR, "%s: token digest", what);
    }
    if (bpt_lru_get(ctx->jwt_tokens, key, take_token, &l)) {
        t->signing_input = (const char *)tok;
        t->signing_input_len = (size_t)(dot - tok);
        return 0;
    }
    BPT_CHECK(bpt_jwt_parse(t, tok, len, what));
    /* Kept: the token's parts move into the kept token, which this token then borrows from
     * (before the map has it, so that no other thread touches what this one made). */
    if ((k = calloc(1, sizeof(*k) + len)) != NULL) {
        k->release = kept_release;
        atomic_init(&k->refs, 2); /* the map's and this token's */
        k->header = t->header;
        k->claims = t->claims;
        k->alg = t->alg;
        memcpy(k->alg_name, t->alg_name, sizeof(k->alg_name));
        k->kid = t->kid;
        k->signature = t->signature;
        k->signature_len = t->signature_len;
        k->len = len;
        memcpy(k->tok, tok, len);
        t->kept = k;
        bpt_lru_put(ctx->jwt_tokens, key, k);
    } /* else not kept: parsed again next time */
    rc = 0;
out:
    return rc;
}

static int alg_index(enum bpt_jws_alg a)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (algs[i].alg == a) {
            return (int)i;
        }
    }
    return 0;
}

/* The key suits the alg: RSA of 2048+ bits for RS/PS, the alg's curve for ES. */
static bool key_fits(EVP_PKEY *key, enum bpt_jws_alg a)
{
    int i = alg_index(a);
    if (EVP_PKEY_get_base_id(key) != algs[i].kty) {
        return false;
    }
    return algs[i].kty == EVP_PKEY_RSA ? EVP_PKEY_get_bits(key) >= 2048
                                       : EVP_PKEY_get_bits(key) == algs[i].curve;
}

int bpt_jwt_verify_signature(const struct bpt_jwt *t, EVP_PKEY *key, const char *what)
{
    int i = alg_index(t->alg), rc;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    const uint8_t *sig = t->signature;
    size_t sig_len = t->signature_len;

    if (!key_fits(key, t->alg)) {
        return bpt_err(BPT_ESIGNATURE, "%s: the key for kid '%.64s' does not suit %s", what, t->kid,
                       t->alg_name);
    }
    if (algs[i].kty == EVP_PKEY_EC) {
        /* JWS carries r || s (RFC 7518 §3.4): the same form the PKI helper takes. */
        size_t n = (size_t)algs[i].curve / 8;
        char msg[128];
        if (sig_len != 2 * n) {
            return bpt_err(BPT_ESIGNATURE, "%s: the %s signature is %zu bytes, not %zu", what,
                           t->alg_name, sig_len, 2 * n);
        }
        snprintf(msg, sizeof(msg), "%s: the %s signature with kid '%.64s'", what, t->alg_name,
                 t->kid);
        return bpt_pki_verify_ecdsa_rs(key, algs[i].curve, sig, sig + n, n, t->signing_input,
                                       t->signing_input_len, msg);
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestVerifyInit(md, &pctx, digest(algs[i].bits), NULL, key) != 1 ||
        (algs[i].pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))) {
        rc = bpt_err_ossl(BPT_ERROR, "%s: signature setup", what);
        goto out;
    }
    if (EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)t->signing_input,
                         t->signing_input_len) != 1) {
        rc = bpt_err_ossl(BPT_ESIGNATURE, "%s: the %s signature does not verify with kid '%.64s'",
                          what, t->alg_name, t->kid);
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- where keys come from --------------------------------------------------------------- */

bool bpt_jwt_has_key_source(const bpt_verify_ctx *ctx, const bpt_policy *p)
{
    return ctx->jwks || ctx->jwks_url || p->jwt.jwks_file || p->jwt.jwks_url;
}

const char *bpt_jwt_key_url(const bpt_verify_ctx *ctx, const bpt_policy *p, const char *default_url)
{
    if (ctx->jwks || (!ctx->jwks_url && p->jwt.jwks_file)) {
        return NULL; /* a document comes first */
    }
    return ctx->jwks_url ? ctx->jwks_url : p->jwt.jwks_url ? p->jwt.jwks_url : default_url;
}

int bpt_jwt_key(EVP_PKEY **key, const struct bpt_jwt *t, const bpt_verify_ctx *ctx,
                const bpt_policy *p, const char *default_url, const char *what)
{
    struct bpt_jwks *set = NULL;
    bpt_buf file = BPT_BUF_INIT(BPT_LIMIT_JWKS_BYTES);
    const char *url = bpt_jwt_key_url(ctx, p, default_url), *src = NULL;
    long max_age = 0;
    int rc;

    *key = NULL;
    if (ctx->jwks) { /* the context's JWKS document, parsed when it was set */
        rc = bpt_jwks_lookup(key, ctx->jwks, t->kid, t->alg_name, "the given JWKS", what);
        goto out;
    } else if (!ctx->jwks_url && p->jwt.jwks_file) {
        src = p->jwt.jwks_file;
        if (bpt_file_read(&file, p->jwt.jwks_file) < 0) {
            rc = bpt_err_prefix(BPT_EKEYS, "%s: jwks_file", what);
            goto out;
        }
        if ((rc = bpt_jwks_parse(&set, (const char *)file.data, file.len, "jwks_file")) < 0) {
            rc = bpt_err_prefix(rc, "%s", what);
            goto out;
        }
    } else if (!url) {
        rc = bpt_err(BPT_EUNSATISFIABLE, "%s: no JWKS and no JWKS URL to take keys from", what);
        goto out;
    } else if (ctx->offline && ctx->cache_dir &&
               (rc = bpt_jwks_disk_load(&set, ctx->cache_dir, url)) != BPT_ENOTFOUND) {
        if (rc < 0) { /* a copy that does not parse */
            rc = bpt_err_prefix(rc, "%s: the cache directory's copy of %.200s", what, url);
            goto out;
        }
        src = "the cache directory's copy"; /* prefetched: bpt_verify_prefetch() */
    } else if (ctx->jwks_cache) {
        rc =
            bpt_jwks_cache_key(key, ctx->jwks_cache, url, t->kid, t->alg_name, !ctx->offline, what);
        goto out;
    } else if (ctx->offline) {
        rc = bpt_err(BPT_EKEYS,
                     "%s: keys would come from %.200s but the context is offline (no "
                     "fetching); give the context a JWKS document, or prefetch the keys into its "
                     "cache directory",
                     what, url);
        goto out;
    } else {
        src = url;
        if ((rc = bpt_jwks_fetch(&set, &max_age, url, BPT_JWKS_DEFAULT_TIMEOUT_MS)) < 0) {
            rc = bpt_err_prefix(rc, "%s", what);
            goto out;
        }
    }
    BPT_CHECK(bpt_jwks_lookup(key, set, t->kid, t->alg_name, src, what));
out:
    bpt_jwks_free(set);
    bpt_buf_dispose(&file);
    return rc;
}

/* ---- time and audience ------------------------------------------------------------------ */

/* A NumericDate claim: 1 with *out, 0 absent (ECLAIM when required), <0 malformed. */
static int numeric_time(const json_t *claims, const char *key, int64_t *out, bool required,
                        const char *what)
{
    const json_t *v = json_object_get(claims, key);
    double d;
    if (!v) {
        return required ? bpt_err(BPT_ECLAIM, "%s: the token has no %s", what, key) : 0;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > BPT_JWT_MAX_TIME) {
            return bpt_err(BPT_EMALFORMED, "%s: %s %lld is out of range", what, key, (long long)i);
        }
        *out = (int64_t)i;
        return 1;
    }
    if (!json_is_real(v)) {
        return bpt_err(BPT_EMALFORMED, "%s: %s is not a number", what, key);
    }
    d = json_real_value(v);
    if (!(d >= 0.0 && d <= (double)BPT_JWT_MAX_TIME)) {
        return bpt_err(BPT_EMALFORMED, "%s: %s is out of range", what, key);
    }
    *out = (int64_t)d;
    return 1;
}

/* 1 when @p want is @p aud or one of its members; <0 when aud has the wrong shape. */
static int audience_has(const json_t *aud, const char *want, bool *any, const char *what)
{
    size_t i;
    json_t *e;
    int found = 0;
    *any = false;
    if (!aud || json_is_null(aud)) {
        return 0;
    }
    if (json_is_string(aud)) {
        *any = json_string_length(aud) > 0;
        return want && strcmp(json_string_value(aud), want) == 0;
    }
    if (!json_is_array(aud)) {
        return bpt_err(BPT_EMALFORMED, "%s: aud is neither a string nor an array of strings", what);
    }
    json_array_foreach(aud, i, e)
    {
        if (!json_is_string(e)) {
            return bpt_err(BPT_EMALFORMED, "%s: aud[%zu] is not a string", what, i);
        }
        *any = *any || json_string_length(e) > 0;
        found = found || (want && strcmp(json_string_value(e), want) == 0);
    }
    return found;
}

int bpt_jwt_check_time_and_audience(const struct bpt_jwt *t, const bpt_policy *p, int64_t at,
                                    const char *what)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    int64_t leeway = p->jwt.has_leeway ? (int64_t)p->jwt.leeway_secs : BPT_JWT_DEFAULT_LEEWAY;
    int64_t max_age = (int64_t)(p->max_age_secs < BPT_POLICY_MAX_AGE_CEILING_SECS
                                    ? p->max_age_secs
                                    : BPT_POLICY_MAX_AGE_CEILING_SECS);
    char a[32], b[32];
    bool any = false;
    int rc;

    BPT_CHECK(numeric_time(t->claims, "exp", &exp, true, what));
    if (at > exp + leeway) {
        return bpt_err(BPT_ECLAIM, "%s: expired at %s (verification time %s, leeway %llds)", what,
                       bpt_time_format(a, exp), bpt_time_format(b, at), (long long)leeway);
    }
    BPT_CHECK(numeric_time(t->claims, "nbf", &nbf, false, what));
    if (rc == 1 && at < nbf - leeway) {
        return bpt_err(BPT_ECLAIM, "%s: not valid before %s (verification time %s, leeway %llds)",
                       what, bpt_time_format(a, nbf), bpt_time_format(b, at), (long long)leeway);
    }
    if (max_age > 0 && !json_object_get(t->claims, "iat")) {
        return bpt_err(BPT_ECLAIM, "%s: the token has no iat, so max_age_secs %lld cannot be held",
                       what, (long long)max_age);
    }
    BPT_CHECK(numeric_time(t->claims, "iat", &iat, false, what));
    if (rc == 1 && at < iat - leeway) {
        return bpt_err(BPT_ECLAIM, "%s: issued in the future, at %s (verification time %s)", what,
                       bpt_time_format(a, iat), bpt_time_format(b, at));
    }
    if (rc == 1 && max_age > 0 && at > iat + max_age + leeway) {
        return bpt_err(BPT_ECLAIM,
                       "%s: issued at %s, %llds before the verification time (max age %llds)", what,
                       bpt_time_format(a, iat), (long long)(at - iat), (long long)max_age);
    }
    BPT_CHECK(audience_has(json_object_get(t->claims, "aud"), p->expected_audience, &any, what));
    if (p->expected_audience && rc != 1) {
        return bpt_err(BPT_ECLAIM, "%s: the audience is not the expected '%.128s'", what,
                       p->expected_audience);
    }
    rc = 0;
out:
    return rc;
}

bool bpt_jwt_has_audience(const struct bpt_jwt *t)
{
    bool any = false;
    return audience_has(json_object_get(t->claims, "aud"), NULL, &any, "jwt") >= 0 && any;
}

int bpt_jwt_authenticate(const struct bpt_jwt *t, const bpt_verify_ctx *ctx, const bpt_policy *p,
                         int64_t at, const char *default_url, const char *what)
{
    EVP_PKEY *key = NULL;
    int rc;
    BPT_CHECK(bpt_jwt_key(&key, t, ctx, p, default_url, what));
    BPT_CHECK(bpt_jwt_verify_signature(t, key, what));
    BPT_CHECK(bpt_jwt_check_time_and_audience(t, p, at, what));
out:
    EVP_PKEY_free(key);
    return rc;
}

bool bpt_jwt_issuer_listed(const bpt_policy *p, const char *iss)
{
    for (size_t i = 0; i < p->jwt.n_issuers; i++) {
        if (strcmp(p->jwt.issuers[i], iss) == 0) {
            return true;
        }
    }
    return false;
}
