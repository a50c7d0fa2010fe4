/* JWS compact tokens and JWK sets (RFC 7515, 7517, 7518): see jwt_internal.h. */
#include "attestation/providers/jwt_internal.h"

#include "attestation/pki/pki.h"
#include "attestation/policy_internal.h"

#include <blueprint-tee/clock.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
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

void bpt_jwt_dispose(struct bpt_jwt *t)
{
    json_decref(t->header);
    json_decref(t->claims);
    free(t->signature);
    memset(t, 0, sizeof(*t));
}

int bpt_jwt_parse(struct bpt_jwt *t, const uint8_t *tok, size_t len, const char *what)
{
    const char *s = (const char *)tok, *d1, *d2, *alg = NULL;
    bpt_buf sig = BPT_BUF_INIT(1024);
    size_t i;
    int rc;

    memset(t, 0, sizeof(*t));
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) {
        len--;
    }
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
    ECDSA_SIG *es = NULL;
    unsigned char *der = NULL;
    const uint8_t *sig = t->signature;
    size_t sig_len = t->signature_len;

    if (!key_fits(key, t->alg)) {
        return bpt_err(BPT_ESIGNATURE, "%s: the key for kid '%.64s' does not suit %s", what, t->kid,
                       t->alg_name);
    }
    if (algs[i].kty == EVP_PKEY_EC) {
        size_t n = (size_t)algs[i].curve / 8;
        BIGNUM *r, *s;
        int dl;
        if (sig_len != 2 * n) {
            return bpt_err(BPT_ESIGNATURE, "%s: the %s signature is %zu bytes, not %zu", what,
                           t->alg_name, sig_len, 2 * n);
        }
        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, (int)n, NULL);
        s = BN_bin2bn(sig + n, (int)n, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            rc = bpt_err_nomem("signature");
            goto out;
        }
        if ((dl = i2d_ECDSA_SIG(es, &der)) <= 0) {
            rc = bpt_err_ossl(BPT_ERROR, "%s: signature encoding", what);
            goto out;
        }
        sig = der;
        sig_len = (size_t)dl;
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
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- JWK sets ----------------------------------------------------------------------------- */

static int b64u_field(bpt_buf *out, const json_t *o, const char *key, const char *ctx)
{
    const char *v = NULL;
    int rc = bpt_json_get_str(o, key, &v, true, ctx);
    if (rc < 0) {
        return rc;
    }
    if (bpt_base64url_decode(out, v, strlen(v), key) < 0 || out->len == 0) {
        return bpt_err(BPT_EMALFORMED, "%s: %s is not base64url", ctx, key);
    }
    return 0;
}

static int rsa_key(EVP_PKEY **out, const json_t *o, const char *ctx)
{
    bpt_buf n = BPT_BUF_INIT(1024 + 1), e = BPT_BUF_INIT(16);
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int rc;

    BPT_CHECK(b64u_field(&n, o, "n", ctx));
    BPT_CHECK(b64u_field(&e, o, "e", ctx));
    bn = BN_bin2bn(n.data, (int)n.len, NULL);
    be = BN_bin2bn(e.data, (int)e.len, NULL);
    if (!bn || !be) {
        rc = bpt_err_nomem("rsa");
        goto out;
    }
    if (BN_num_bits(bn) < 2048 || BN_num_bits(bn) > 8192 || !BN_is_odd(be) || BN_num_bits(be) < 2 ||
        BN_num_bits(be) > 32) {
        rc = bpt_err(BPT_EMALFORMED,
                     "%s: RSA key of %d bits, exponent of %d bits (need "
                     "2048..8192, an odd exponent >= 3)",
                     ctx, BN_num_bits(bn), BN_num_bits(be));
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "%s: RSA key", ctx);
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    bpt_buf_dispose(&n);
    bpt_buf_dispose(&e);
    return rc;
}

static int ec_key(EVP_PKEY **out, const json_t *o, const char *ctx)
{
    bpt_buf x = BPT_BUF_INIT(66), y = BPT_BUF_INIT(66);
    uint8_t xy[96];
    const char *crv = NULL;
    size_t n;
    int rc;

    BPT_CHECK(bpt_json_get_str(o, "crv", &crv, true, ctx));
    n = strcmp(crv, "P-256") == 0 ? 32 : strcmp(crv, "P-384") == 0 ? 48 : 0;
    if (!n) {
        rc = bpt_err(BPT_EMALFORMED, "%s: curve '%.16s' (accepted: P-256, P-384)", ctx, crv);
        goto out;
    }
    BPT_CHECK(b64u_field(&x, o, "x", ctx));
    BPT_CHECK(b64u_field(&y, o, "y", ctx));
    if (x.len != n || y.len != n) {
        rc = bpt_err(BPT_EMALFORMED, "%s: %s coordinates must be %zu bytes", ctx, crv, n);
        goto out;
    }
    memcpy(xy, x.data, n);
    memcpy(xy + n, y.data, n);
    BPT_CHECK(bpt_pki_ec_pub_from_xy(out, (int)n * 8, xy, ctx));
out:
    bpt_buf_dispose(&x);
    bpt_buf_dispose(&y);
    return rc;
}

/* The first certificate of x5c (standard base64 DER): its public key. */
static int x5c_key(EVP_PKEY **out, const json_t *o, const char *ctx)
{
    const json_t *x5c = json_object_get(o, "x5c"), *first = json_array_get(x5c, 0);
    bpt_buf der = BPT_BUF_INIT(BPT_LIMIT_CERT_CHAIN_BYTES);
    X509 *c = NULL;
    int rc;

    if (!json_is_string(first) ||
        bpt_base64_decode(&der, json_string_value(first), json_string_length(first), "x5c") < 0) {
        rc = bpt_err(BPT_EMALFORMED, "%s: x5c[0] is not a base64 certificate", ctx);
        goto out;
    }
    BPT_CHECK(bpt_pki_parse_der(&c, der.data, der.len, ctx));
    if (!(*out = X509_get_pubkey(c))) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "%s: x5c[0] public key", ctx);
        goto out;
    }
    rc = 0;
out:
    X509_free(c);
    bpt_buf_dispose(&der);
    return rc;
}

/* RSA of 2048..8192 bits, or EC on P-256 / P-384: else why not, in @p why. */
static bool key_usable(EVP_PKEY *key, char *why, size_t why_len)
{
    int bits = EVP_PKEY_get_bits(key);
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        if (bits >= 2048 && bits <= 8192) {
            return true;
        }
        snprintf(why, why_len, "an RSA key of %d bits (2048..8192 accepted)", bits);
        return false;
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && (bits == 256 || bits == 384)) {
        return true;
    }
    snprintf(why, why_len, "a key of type %.16s, %d bits (RSA, P-256, P-384 accepted)",
             OBJ_nid2sn(EVP_PKEY_get_base_id(key)), bits);
    return false;
}

void bpt_jwks_free(struct bpt_jwks *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        EVP_PKEY_free(s->keys[i].key);
    }
    free(s);
}

/* One JWK into @p j: its key, or why it cannot be used (in j->refused). */
static void jwk_key(struct bpt_jwk *j, const json_t *k, const char *kty, const char *ctx)
{
    int rc;
    if (strcmp(kty, "EC") == 0) {
        rc = ec_key(&j->key, k, ctx);
    } else if (json_object_get(k, "n")) {
        rc = rsa_key(&j->key, k, ctx);
    } else {
        rc = x5c_key(&j->key, k, ctx);
    }
    if (rc < 0) {
        snprintf(j->refused, sizeof(j->refused), "%s", bpt_error_last());
    } else if (!key_usable(j->key, j->refused, sizeof(j->refused))) {
        EVP_PKEY_free(j->key);
        j->key = NULL;
    }
}

int bpt_jwks_parse(struct bpt_jwks **out, const char *json, size_t len, const char *what)
{
    struct bpt_jwks *s = NULL;
    json_t *root = NULL, *keys = NULL, *k;
    size_t i;
    int rc;

    *out = NULL;
    if (len > BPT_LIMIT_JWKS_BYTES) {
        return bpt_err(BPT_ELIMIT, "%s: %zu bytes (limit %u)", what, len, BPT_LIMIT_JWKS_BYTES);
    }
    if (bpt_json_parse(&root, json, len, what) < 0 || !json_is_object(root) ||
        !json_is_array(keys = json_object_get(root, "keys"))) {
        rc = bpt_err(BPT_EMALFORMED, "%s: not a JWK set ({\"keys\": [...]})", what);
        goto out;
    }
    if (json_array_size(keys) > BPT_JWKS_MAX_KEYS) {
        rc = bpt_err(BPT_ELIMIT, "%s: %zu keys (limit %d)", what, json_array_size(keys),
                     BPT_JWKS_MAX_KEYS);
        goto out;
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        rc = bpt_err_nomem(what);
        goto out;
    }
    json_array_foreach(keys, i, k)
    {
        const char *kty = NULL, *kid = NULL, *use = NULL, *alg = NULL;
        struct bpt_jwk *j = &s->keys[s->n];
        char ctx[64];
        snprintf(ctx, sizeof(ctx), "%.24s: keys[%zu]", what, i);
        if (!json_is_object(k) || bpt_json_get_str(k, "kty", &kty, true, ctx) < 0 ||
            bpt_json_get_str(k, "kid", &kid, false, ctx) < 0 ||
            bpt_json_get_str(k, "use", &use, false, ctx) < 0 ||
            bpt_json_get_str(k, "alg", &alg, false, ctx) < 0) {
            rc = bpt_err(BPT_EMALFORMED, "%s: not a JWK (a string kty; string kid, use, alg)", ctx);
            goto out;
        }
        if (!kid || !*kid || strlen(kid) > BPT_JWT_MAX_KID || (use && strcmp(use, "sig") != 0) ||
            (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)) {
            continue; /* no kid to select it by, an encryption key, another type: not ours */
        }
        if (bpt_jwks_has_kid(s, kid)) {
            rc = bpt_err(BPT_EMALFORMED, "%s: kid '%.64s' appears twice", what, kid);
            goto out;
        }
        snprintf(j->kid, sizeof(j->kid), "%s", kid);
        snprintf(j->alg, sizeof(j->alg), "%.7s", alg ? alg : "");
        jwk_key(j, k, kty, ctx);
        s->n++;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    bpt_jwks_free(s);
    json_decref(root);
    return rc;
}

bool bpt_jwks_has_kid(const struct bpt_jwks *s, const char *kid)
{
    for (size_t i = 0; s && i < s->n; i++) {
        if (strcmp(s->keys[i].kid, kid) == 0) {
            return true;
        }
    }
    return false;
}

int bpt_jwks_lookup(EVP_PKEY **key, const struct bpt_jwks *s, const struct bpt_jwt *t,
                    const char *src, const char *what)
{
    *key = NULL;
    for (size_t i = 0; s && i < s->n; i++) {
        const struct bpt_jwk *j = &s->keys[i];
        if (strcmp(j->kid, t->kid) != 0) {
            continue;
        }
        if (!j->key) {
            return bpt_err(BPT_EKEYS, "%s: the key with kid '%.64s' in %.200s is unusable: %s",
                           what, t->kid, src, j->refused);
        }
        if (j->alg[0] && strcmp(j->alg, t->alg_name) != 0) {
            return bpt_err(BPT_ESIGNATURE,
                           "%s: the key with kid '%.64s' is for %s, the token says %s", what,
                           t->kid, j->alg, t->alg_name);
        }
        if (EVP_PKEY_up_ref(j->key) != 1) {
            return bpt_err_ossl(BPT_ERROR, "%s: key reference", what);
        }
        *key = j->key;
        return 0;
    }
    return bpt_err(BPT_EKEYS, "%s: no key with kid '%.64s' in %.200s", what, t->kid, src);
}

/* ---- where keys come from --------------------------------------------------------------- */

int bpt_jwt_key(EVP_PKEY **key, const struct bpt_jwt *t, const bpt_policy *p,
                const char *default_url, const char *what)
{
    struct bpt_jwks *set = NULL;
    bpt_buf file = BPT_BUF_INIT(BPT_LIMIT_JWKS_BYTES);
    const char *url = p->jwt.jwks_url ? p->jwt.jwks_url : default_url, *src = NULL;
    long max_age = 0;
    int rc;

    *key = NULL;
    if (p->jwks) { /* the policy's JWKS document, parsed when it was set */
        rc = bpt_jwks_lookup(key, p->jwks, t, "the policy's JWKS", what);
        goto out;
    } else if (p->jwt.jwks_file) {
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
    } else if (p->jwks_cache) {
        rc = bpt_jwks_cache_key(key, p->jwks_cache, url, t, !p->offline, what);
        goto out;
    } else if (p->offline) {
        rc = bpt_err(BPT_EKEYS,
                     "%s: keys would come from %.200s but fetching is off (--offline); "
                     "pass a JWKS with --jwks",
                     what, url);
        goto out;
    } else {
        src = url;
        if ((rc = bpt_jwks_fetch(&set, &max_age, url, BPT_JWKS_DEFAULT_TIMEOUT_MS)) < 0) {
            rc = bpt_err_prefix(rc, "%s", what);
            goto out;
        }
    }
    BPT_CHECK(bpt_jwks_lookup(key, set, t, src, what));
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

int bpt_jwt_check_time_and_audience(const struct bpt_jwt *t, const bpt_policy *p, const char *what)
{
    int64_t at = bpt_policy_at(p), exp = 0, nbf = 0, iat = 0;
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
    if (!p->expected_audience && !any) {
        return bpt_err(BPT_ECLAIM,
                       "%s: neither the policy nor the token names an audience (set "
                       "expected_audience)",
                       what);
    }
    rc = 0;
out:
    return rc;
}

int bpt_jwt_authenticate(const struct bpt_jwt *t, const bpt_policy *p, const char *default_url,
                         const char *what)
{
    EVP_PKEY *key = NULL;
    int rc;
    BPT_CHECK(bpt_jwt_key(&key, t, p, default_url, what));
    BPT_CHECK(bpt_jwt_verify_signature(t, key, what));
    BPT_CHECK(bpt_jwt_check_time_and_audience(t, p, what));
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
