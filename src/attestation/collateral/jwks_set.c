/*
 * JWK sets (RFC 7517): parsing a set with limits, the keys it holds (usable ones, and the reason
 * for each unusable one), lookup by kid; fetching a set over HTTPS and the cache of fetched sets.
 * Nothing here knows tokens: the JWT verifier asks for a kid and an algorithm.
 */
#include "attestation/collateral/jwks.h"

#include "attestation/pki/pki.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

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

int bpt_jwks_lookup(EVP_PKEY **key, const struct bpt_jwks *s, const char *kid, const char *alg,
                    const char *src, const char *what)
{
    *key = NULL;
    for (size_t i = 0; s && i < s->n; i++) {
        const struct bpt_jwk *j = &s->keys[i];
        if (strcmp(j->kid, kid) != 0) {
            continue;
        }
        if (!j->key) {
            return bpt_err(BPT_EKEYS, "%s: the key with kid '%.64s' in %.200s is unusable: %s",
                           what, kid, src, j->refused);
        }
        if (j->alg[0] && strcmp(j->alg, alg) != 0) {
            return bpt_err(BPT_ESIGNATURE,
                           "%s: the key with kid '%.64s' is for %s, the token says %s", what, kid,
                           j->alg, alg);
        }
        if (EVP_PKEY_up_ref(j->key) != 1) {
            return bpt_err_ossl(BPT_ERROR, "%s: key reference", what);
        }
        *key = j->key;
        return 0;
    }
    return bpt_err(BPT_EKEYS, "%s: no key with kid '%.64s' in %.200s", what, kid, src);
}
