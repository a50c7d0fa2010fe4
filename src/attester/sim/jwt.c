#include "attester/sim/jwt.h"
#include "attester/sim/x509.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

static int b64u(char **out, const void *p, size_t n)
{
    return bpt_base64url_encode(out, p, n);
}

int bpt_sim_jwt_make(char **out, const char *header_json, const char *claims_json, EVP_PKEY *key)
{
    char *h = NULL, *c = NULL, *s = NULL, *input = NULL;
    json_t *hdr = json_loads(header_json, 0, NULL);
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    uint8_t sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int rc;

    *out = NULL;
    BPT_CHECK(b64u(&h, header_json, strlen(header_json)));
    BPT_CHECK(b64u(&c, claims_json, strlen(claims_json)));
    if (asprintf(&input, "%s.%s", h, c) < 0) {
        input = NULL;
        rc = bpt_err_nomem("token");
        goto out;
    }
    if (!key || !alg) {
        memcpy(sig, "sig", 3);
        sig_len = 3;
    } else if (alg[0] == 'E') {
        size_t n = strcmp(alg, "ES384") == 0 ? 48 : 32;
        BPT_CHECK(bpt_sim_sign_rs(sig, n, false, key, input, strlen(input)));
        sig_len = 2 * n;
    } else {
        const EVP_MD *d = strstr(alg, "512")   ? EVP_sha512()
                          : strstr(alg, "384") ? EVP_sha384()
                                               : EVP_sha256();
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestSignInit(md, &pctx, d, NULL, key) != 1 ||
            (alg[0] == 'P' &&
             (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) ||
            EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, strlen(input)) != 1) {
            rc = bpt_err_ossl(BPT_ERROR, "sim: signing a token");
            goto out;
        }
    }
    BPT_CHECK(b64u(&s, sig, sig_len));
    if (asprintf(out, "%s.%s", input, s) < 0) {
        *out = NULL;
        rc = bpt_err_nomem("token");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    json_decref(hdr);
    bpt_free(h);
    bpt_free(c);
    bpt_free(s);
    free(input);
    return rc;
}

static int bn_b64u(char **out, EVP_PKEY *key, const char *param, size_t pad)
{
    BIGNUM *bn = NULL;
    uint8_t buf[1024];
    int n, rc;
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) {
        return bpt_err_ossl(BPT_ERROR, "sim: key parameter %s", param);
    }
    n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
    rc = n > 0 ? b64u(out, buf, (size_t)n) : bpt_err(BPT_ERROR, "sim: key parameter");
    BN_free(bn);
    return rc;
}

int bpt_sim_jwk(char **out, EVP_PKEY *key, const char *kid)
{
    char *a = NULL, *b = NULL;
    json_t *jwk = NULL;
    int rc;
    *out = NULL;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        BPT_CHECK(bn_b64u(&a, key, OSSL_PKEY_PARAM_RSA_N, 0));
        BPT_CHECK(bn_b64u(&b, key, OSSL_PKEY_PARAM_RSA_E, 0));
        jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", kid, "use", "sig", "n", a,
                        "e", b);
    } else {
        size_t n = EVP_PKEY_get_bits(key) > 256 ? 48 : 32;
        BPT_CHECK(bn_b64u(&a, key, OSSL_PKEY_PARAM_EC_PUB_X, n));
        BPT_CHECK(bn_b64u(&b, key, OSSL_PKEY_PARAM_EC_PUB_Y, n));
        jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "kid", kid, "crv",
                        n == 48 ? "P-384" : "P-256", "x", a, "y", b);
    }
    if (!jwk) {
        rc = bpt_err_nomem("jwk");
        goto out;
    }
    BPT_CHECK(bpt_json_dump(out, jwk));
out:
    json_decref(jwk);
    bpt_free(a);
    bpt_free(b);
    return rc;
}

int bpt_sim_jwk_x5c(char **out, X509 *cert, const char *kid)
{
    unsigned char *der = NULL;
    char *b64 = NULL;
    json_t *jwk = NULL;
    int n = i2d_X509(cert, &der), rc;

    *out = NULL;
    if (n <= 0) {
        return bpt_err_ossl(BPT_ERROR, "sim: certificate DER");
    }
    BPT_CHECK(bpt_base64_encode(&b64, der, (size_t)n));
    jwk = json_pack("{s:s,s:s,s:[s]}", "kty", "RSA", "kid", kid, "x5c", b64);
    if (!jwk) {
        rc = bpt_err_nomem("jwk");
        goto out;
    }
    BPT_CHECK(bpt_json_dump(out, jwk));
out:
    json_decref(jwk);
    bpt_free(b64);
    OPENSSL_free(der);
    return rc;
}
