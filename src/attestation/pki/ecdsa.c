/* ECDSA verification on the faster backend per curve: see ecdsa.h. */
#include "attestation/pki/ecdsa.h"

#include "core/err.h"

#include <string.h>

#include <gmp.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#define MAX_SCALAR 66 /* bytes of r or s: P-521's, the largest NIST scalar */

enum bpt_ecdsa_backend bpt_ecdsa_backend_for(int bits)
{
    return bits == 384 ? BPT_ECDSA_NETTLE : BPT_ECDSA_OPENSSL;
}

const char *bpt_ecdsa_backend_name(enum bpt_ecdsa_backend b)
{
    return b == BPT_ECDSA_NETTLE ? "nettle" : b == BPT_ECDSA_OPENSSL ? "openssl" : "auto";
}

/* The key is an EC key on P-256 or P-384 as @p bits says (a 384-bit brainpool key is not). */
static bool key_is_curve(EVP_PKEY *key, int bits)
{
    char group[32];
    size_t n = 0;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != bits ||
        EVP_PKEY_get_group_name(key, group, sizeof(group), &n) != 1) {
        ERR_clear_error();
        return false;
    }
    return bits == 384 ? strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0
                       : strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

static int verify_openssl(EVP_PKEY *key, const EVP_MD *alg, const uint8_t *r, size_t r_len,
                          const uint8_t *s, size_t s_len, const void *msg, size_t msg_len,
                          const char *what)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *br = NULL, *bs = NULL;
    unsigned char *der = NULL;
    EVP_MD_CTX *md = NULL;
    int der_len, rc = BPT_ERROR;

    sig = ECDSA_SIG_new();
    br = BN_bin2bn(r, (int)r_len, NULL);
    bs = BN_bin2bn(s, (int)s_len, NULL);
    if (!sig || !br || !bs || ECDSA_SIG_set0(sig, br, bs) != 1) {
        BN_free(br);
        BN_free(bs);
        rc = bpt_err_nomem("signature");
        goto out;
    }
    der_len = i2d_ECDSA_SIG(sig, &der);
    md = EVP_MD_CTX_new();
    if (der_len <= 0 || !md || EVP_DigestVerifyInit(md, NULL, alg, NULL, key) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "%s: signature setup", what);
        goto out;
    }
    if (EVP_DigestVerify(md, der, (size_t)der_len, msg, msg_len) != 1) {
        rc = bpt_err_ossl(BPT_ESIGNATURE, "%s does not verify", what);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return rc;
}

/* The public point's affine x and y, big-endian, @p n bytes each. */
static int export_point(uint8_t *x, uint8_t *y, size_t n, EVP_PKEY *key, const char *what)
{
    uint8_t pt[1 + 2 * 48];
    size_t len = 0;
    BIGNUM *bx = NULL, *by = NULL;
    int rc = BPT_ERROR;

    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) == 1 &&
        len == 1 + 2 * n && pt[0] == 0x04) {
        memcpy(x, pt + 1, n);
        memcpy(y, pt + 1 + n, n);
        return 0;
    }
    /* A key kept in compressed (or hybrid) form: ask for the coordinates themselves. */
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
        BN_bn2binpad(bx, x, (int)n) != (int)n || BN_bn2binpad(by, y, (int)n) != (int)n) {
        rc = bpt_err_ossl(BPT_ERROR, "%s: exporting the public point", what);
        goto out;
    }
    rc = 0;
out:
    BN_free(bx);
    BN_free(by);
    return rc;
}

/* The group orders of P-256 and P-384. */
static const char order_p256[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
static const char order_p384[] = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                                 "581a0db248b0a77aecec196accc52973";

/*
 * nettle computes u1*G + u2*Q with an addition that has no answer when u1*G = u2*Q (its
 * ecc-ecdsa-verify.c says so; the signer's k was 2*u1/z), and then refuses. Wycheproof has such a
 * valid signature ("point duplication during verification"). When nettle refuses, this settles
 * that one case with nettle's scalar multiplications: equal points sum to (2*u1)*G. Runs only
 * after a refusal (about one more verification's work). Returns true when the signature is
 * valid after all.
 */
static bool nettle_doubling_case(const struct ecc_curve *curve, int bits,
                                 const struct ecc_point *pub, const uint8_t *digest,
                                 const struct dsa_signature *sig)
{
    struct ecc_scalar k;
    struct ecc_point a, b;
    mpz_t q, e, w, u1, u2, ax, ay, bx, by;
    bool valid = false;

    mpz_init_set_str(q, bits == 384 ? order_p384 : order_p256, 16);
    mpz_inits(e, w, u1, u2, ax, ay, bx, by, NULL);
    ecc_scalar_init(&k, curve);
    ecc_point_init(&a, curve);
    ecc_point_init(&b, curve);
    /* e: the digest as an integer (SHA-256 for P-256, SHA-384 for P-384: no truncation) */
    mpz_import(e, (size_t)bits / 8, 1, 1, 1, 0, digest);
    if (mpz_sgn(sig->r) <= 0 || mpz_cmp(sig->r, q) >= 0 || mpz_sgn(sig->s) <= 0 ||
        mpz_cmp(sig->s, q) >= 0 || !mpz_invert(w, sig->s, q)) {
        goto out;
    }
    mpz_mul(u1, e, w);
    mpz_mod(u1, u1, q);
    mpz_mul(u2, sig->r, w);
    mpz_mod(u2, u2, q);
    if (mpz_sgn(u1) == 0 || mpz_sgn(u2) == 0) {
        goto out; /* no addition was made: nettle's refusal stands */
    }
    if (!ecc_scalar_set(&k, u1)) {
        goto out;
    }
    ecc_point_mul_g(&a, &k);
    if (!ecc_scalar_set(&k, u2)) {
        goto out;
    }
    ecc_point_mul(&b, &k, pub);
    ecc_point_get(&a, ax, ay);
    ecc_point_get(&b, bx, by);
    if (mpz_cmp(ax, bx) != 0 || mpz_cmp(ay, by) != 0) {
        goto out; /* not the doubling case (u1*G = -u2*Q sums to infinity: invalid) */
    }
    mpz_mul_2exp(u1, u1, 1);
    mpz_mod(u1, u1, q);
    if (!ecc_scalar_set(&k, u1)) {
        goto out;
    }
    ecc_point_mul_g(&a, &k);
    ecc_point_get(&a, ax, ay);
    mpz_mod(ax, ax, q);
    valid = mpz_cmp(ax, sig->r) == 0;
out:
    ecc_point_clear(&a);
    ecc_point_clear(&b);
    ecc_scalar_clear(&k);
    mpz_clears(q, e, w, u1, u2, ax, ay, bx, by, NULL);
    return valid;
}

static int verify_nettle(EVP_PKEY *key, int bits, const EVP_MD *alg, const uint8_t *r, size_t r_len,
                         const uint8_t *s, size_t s_len, const void *msg, size_t msg_len,
                         const char *what)
{
    const struct ecc_curve *curve = bits == 384 ? nettle_get_secp_384r1() : nettle_get_secp_256r1();
    size_t n = (size_t)bits / 8;
    uint8_t x[48], y[48], digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    struct ecc_point pub;
    struct dsa_signature sig;
    mpz_t mx, my;
    int rc = BPT_ERROR, ok;

    rc = export_point(x, y, n, key, what);
    if (rc < 0) {
        return rc;
    }
    if (EVP_Digest(msg, msg_len, digest, &digest_len, alg, NULL) != 1) {
        return bpt_err_ossl(BPT_ERROR, "%s: digest", what);
    }
    ecc_point_init(&pub, curve);
    dsa_signature_init(&sig);
    mpz_init(mx);
    mpz_init(my);
    mpz_import(mx, n, 1, 1, 1, 0, x);
    mpz_import(my, n, 1, 1, 1, 0, y);
    mpz_import(sig.r, r_len, 1, 1, 1, 0, r);
    mpz_import(sig.s, s_len, 1, 1, 1, 0, s);
    /* ecc_point_set refuses a point off the curve; ecdsa_verify refuses r or s outside
     * 1..n-1 before any arithmetic. */
    if (!ecc_point_set(&pub, mx, my)) {
        rc = bpt_err(BPT_ESIGNATURE, "%s: the public key is not a point of P-%d", what, bits);
    } else {
        ok = ecdsa_verify(&pub, digest_len, digest, &sig) ||
             nettle_doubling_case(curve, bits, &pub, digest, &sig);
        rc = ok ? 0 : bpt_err(BPT_ESIGNATURE, "%s does not verify", what);
    }
    mpz_clear(mx);
    mpz_clear(my);
    dsa_signature_clear(&sig);
    ecc_point_clear(&pub);
    return rc;
}

int bpt_ecdsa_verify(EVP_PKEY *key, int bits, const uint8_t *r, size_t r_len, const uint8_t *s,
                     size_t s_len, const void *msg, size_t msg_len, enum bpt_ecdsa_backend backend,
                     const char *what)
{
    const EVP_MD *alg = bits == 384 ? EVP_sha384() : EVP_sha256();

    if ((bits != 256 && bits != 384) || !key_is_curve(key, bits)) {
        return bpt_err(BPT_ESIGNATURE, "%s: the signing key is not ECDSA P-%d", what, bits);
    }
    while (r_len > 1 && r[0] == 0) { /* fields wider than the scalar (SEV-SNP's 72 bytes) */
        r++;
        r_len--;
    }
    while (s_len > 1 && s[0] == 0) {
        s++;
        s_len--;
    }
    if (r_len == 0 || s_len == 0 || r_len > MAX_SCALAR || s_len > MAX_SCALAR) {
        return bpt_err(BPT_ESIGNATURE, "%s: r or s of %zu/%zu bytes (1..%d)", what, r_len, s_len,
                       MAX_SCALAR);
    }
    if (backend == BPT_ECDSA_AUTO) {
        backend = bpt_ecdsa_backend_for(bits);
    }
    if (backend == BPT_ECDSA_NETTLE) {
        return verify_nettle(key, bits, alg, r, r_len, s, s_len, msg, msg_len, what);
    }
    return verify_openssl(key, alg, r, r_len, s, s_len, msg, msg_len, what);
}
