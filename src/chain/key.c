/*
 * Operator keys (chain.h): a hex key file that nobody else may read, or an Ethereum keystore
 * v3 file (scrypt via OpenSSL's EVP_PBE_scrypt or PBKDF2-HMAC-SHA256, AES-128-CTR, the MAC
 * keccak256(derived[16..32] || ciphertext) checked before decrypting). The secret goes
 * straight into secure memory; every temporary copy is cleansed at out:. Nothing here logs.
 */
#include <blueprint-tee/chain.h>

#include "chain/chain_internal.h"
#include "chain/keccak.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <secp256k1.h>

/* Keystore kdf parameters at most (geth's "standard" scrypt is n=262144, r=8, p=1). */
#define SCRYPT_MAX_N (1u << 20)
#define SCRYPT_MAX_R 32
#define SCRYPT_MAX_P 16
#define SCRYPT_MAX_MEM (1100u * 1024u * 1024u)
#define PBKDF2_MAX_C 10000000
#define KEYFILE_MAX 64 * 1024

int bpt_eth_key_address_of(bpt_eth_address *out, const uint8_t secret[32])
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_pubkey pub;
    uint8_t ser[65], h[32];
    size_t n = sizeof(ser);
    int rc;
    if (!ctx) {
        return bpt_err_nomem("eth key");
    }
    if (!secp256k1_ec_seckey_verify(ctx, secret) ||
        !secp256k1_ec_pubkey_create(ctx, &pub, secret)) {
        rc = bpt_err(BPT_EINVAL, "eth key: not a secp256k1 secret key (0 or past the order)");
        goto out;
    }
    secp256k1_ec_pubkey_serialize(ctx, ser, &n, &pub, SECP256K1_EC_UNCOMPRESSED);
    bpt_keccak256(h, ser + 1, 64);
    memcpy(out->bytes, h + 12, 20);
    rc = 0;
out:
    secp256k1_context_destroy(ctx);
    return rc;
}

int bpt_eth_key_from_bytes(bpt_eth_key **out, const uint8_t secret[32])
{
    bpt_eth_key *k = NULL;
    uint8_t seed[32];
    int rc;
    if (!out || !secret) {
        return bpt_err(BPT_EINVAL, "eth key: NULL argument");
    }
    *out = NULL;
    if (!(k = calloc(1, sizeof(*k)))) {
        return bpt_err_nomem("eth key");
    }
    BPT_CHECK(bpt_eth_key_address_of(&k->addr, secret));
    BPT_CHECK(bpt_secret_from(&k->secret, secret, 32));
    k->ctx = (struct secp256k1_context_struct *)secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!k->ctx) {
        rc = bpt_err_nomem("eth key");
        goto out;
    }
    /* blinding against side channels, as libsecp256k1 recommends for signing contexts */
    if (RAND_priv_bytes(seed, sizeof(seed)) != 1 ||
        !secp256k1_context_randomize((secp256k1_context *)k->ctx, seed)) {
        rc = bpt_err_ossl(BPT_ERROR, "eth key: randomizing the signing context");
        goto out;
    }
    *out = k;
    k = NULL;
    rc = 0;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    bpt_eth_key_free(k);
    return rc;
}

const bpt_eth_address *bpt_eth_key_address(const bpt_eth_key *k)
{
    return k ? &k->addr : NULL;
}

void bpt_eth_key_free(bpt_eth_key *k)
{
    if (!k) {
        return;
    }
    bpt_secret_free(k->secret);
    if (k->ctx) {
        secp256k1_context_destroy((secp256k1_context *)k->ctx);
    }
    free(k);
}

/* ---- files -------------------------------------------------------------------------------- */

/* The file's bytes, and whether only its owner may read it (a regular file, mode & 077 == 0). */
static int read_key_file(bpt_buf *out, bool *private_mode, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;
    uint8_t chunk[4096];
    ssize_t n;
    if (fd < 0) {
        return bpt_err(errno == ENOENT ? BPT_ENOTFOUND : BPT_EIO, "eth key: %s: %s", path,
                       strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = bpt_err(BPT_EINVAL, "eth key: %s is not a regular file", path);
        goto out;
    }
    *private_mode = (st.st_mode & 077) == 0;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        BPT_CHECK(bpt_buf_append(out, chunk, (size_t)n));
    }
    if (n < 0) {
        rc = bpt_err(BPT_EIO, "eth key: %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

/* 64 hex digits, an optional 0x, white space around. */
static int parse_hex_key(uint8_t secret[32], const uint8_t *p, size_t n, const char *path)
{
    size_t a = 0, b = n;
    while (a < b && isspace(p[a])) {
        a++;
    }
    while (b > a && isspace(p[b - 1])) {
        b--;
    }
    if (b - a >= 2 && p[a] == '0' && (p[a + 1] == 'x' || p[a + 1] == 'X')) {
        a += 2;
    }
    if (b - a != 64 ||
        bpt_hex_decode_exact(secret, 32, (const char *)p + a, b - a, "operator key") < 0) {
        return bpt_err(BPT_EINVAL,
                       "eth key: %s: not 64 hex digits (a hex key file) nor a "
                       "keystore v3 JSON file",
                       path);
    }
    return 0;
}

static int hex_field(bpt_buf *out, const json_t *obj, const char *key, const char *ctx)
{
    const char *s = NULL;
    int rc = bpt_json_get_str(obj, key, &s, true, ctx);
    if (rc < 0) {
        return rc;
    }
    if (strncmp(s, "0x", 2) == 0) {
        s += 2;
    }
    return bpt_hex_decode(out, s, strlen(s), key);
}

static int get_u64_range(const json_t *obj, const char *key, uint64_t lo, uint64_t hi,
                         uint64_t *out)
{
    int rc = bpt_json_get_u64(obj, key, out, true, "keystore kdfparams");
    if (rc < 0) {
        return rc;
    }
    if (*out < lo || *out > hi) {
        return bpt_err(BPT_EINVAL, "eth key: keystore kdfparams.%s %llu outside %llu..%llu", key,
                       (unsigned long long)*out, (unsigned long long)lo, (unsigned long long)hi);
    }
    return 0;
}

static int keystore_derive(uint8_t dk[32], const json_t *crypto, const char *password)
{
    const char *kdf = NULL;
    json_t *kp = NULL;
    bpt_buf salt = BPT_BUF_INIT(1024);
    uint64_t n = 0, r = 0, p = 0, c = 0, dklen = 0;
    int rc;
    BPT_CHECK(bpt_json_get_str(crypto, "kdf", &kdf, true, "keystore crypto"));
    BPT_CHECK(bpt_json_get_obj(crypto, "kdfparams", &kp, true, "keystore crypto"));
    BPT_CHECK(hex_field(&salt, kp, "salt", "keystore kdfparams"));
    BPT_CHECK(get_u64_range(kp, "dklen", 32, 32, &dklen));
    if (strcmp(kdf, "scrypt") == 0) {
        BPT_CHECK(get_u64_range(kp, "n", 2, SCRYPT_MAX_N, &n));
        BPT_CHECK(get_u64_range(kp, "r", 1, SCRYPT_MAX_R, &r));
        BPT_CHECK(get_u64_range(kp, "p", 1, SCRYPT_MAX_P, &p));
        if (n & (n - 1)) {
            rc = bpt_err(BPT_EINVAL, "eth key: keystore scrypt n %llu is not a power of two",
                         (unsigned long long)n);
            goto out;
        }
        if (16 * r < 64 && n >= (1ULL << (16 * r))) { /* RFC 7914 §2; OpenSSL enforces it */
            rc = bpt_err(BPT_EINVAL,
                         "eth key: keystore scrypt n %llu must be below 2^(16*r) = 2^%llu "
                         "(RFC 7914)",
                         (unsigned long long)n, (unsigned long long)(16 * r));
            goto out;
        }
        if (EVP_PBE_scrypt(password, strlen(password), salt.data, salt.len, n, r, p, SCRYPT_MAX_MEM,
                           dk, 32) != 1) {
            rc = bpt_err_ossl(BPT_EINVAL, "eth key: keystore scrypt");
            goto out;
        }
    } else if (strcmp(kdf, "pbkdf2") == 0) {
        const char *prf = NULL;
        BPT_CHECK(bpt_json_get_str(kp, "prf", &prf, true, "keystore kdfparams"));
        BPT_CHECK(get_u64_range(kp, "c", 1, PBKDF2_MAX_C, &c));
        if (strcmp(prf, "hmac-sha256") != 0) {
            rc = bpt_err(BPT_EINVAL, "eth key: keystore pbkdf2 prf '%.40s': hmac-sha256 only", prf);
            goto out;
        }
        if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt.data, (int)salt.len, (int)c,
                              EVP_sha256(), 32, dk) != 1) {
            rc = bpt_err_ossl(BPT_ERROR, "eth key: keystore pbkdf2");
            goto out;
        }
    } else {
        rc = bpt_err(BPT_EINVAL, "eth key: keystore kdf '%.40s': scrypt or pbkdf2", kdf);
        goto out;
    }
    rc = 0;
out:
    bpt_buf_dispose(&salt);
    return rc;
}

static int open_keystore(uint8_t secret[32], const uint8_t *text, size_t len, const char *password,
                         const char *path)
{
    json_t *root = NULL, *crypto = NULL, *cp = NULL;
    const char *cipher = NULL, *addr_text = NULL;
    bpt_buf iv = BPT_BUF_INIT(64), ct = BPT_BUF_INIT(1024), mac = BPT_BUF_INIT(64);
    uint8_t dk[32], want[32], *macin = NULL;
    int64_t version = 0;
    EVP_CIPHER_CTX *cc = NULL;
    int outl = 0, finl = 0, rc;

    BPT_CHECK(bpt_json_parse(&root, (const char *)text, len, "keystore"));
    BPT_CHECK(bpt_json_get_i64(root, "version", &version, true, "keystore"));
    if (version != 3) {
        rc = bpt_err(BPT_EINVAL, "eth key: %s: keystore version %lld, not 3", path,
                     (long long)version);
        goto out;
    }
    if (!password) {
        rc = bpt_err(BPT_EINVAL, "eth key: %s is a keystore: it needs a password", path);
        goto out;
    }
    crypto = json_object_get(root, "crypto") ? json_object_get(root, "crypto")
                                             : json_object_get(root, "Crypto");
    if (!json_is_object(crypto)) {
        rc = bpt_err(BPT_EINVAL, "eth key: %s: keystore without a crypto object", path);
        goto out;
    }
    BPT_CHECK(bpt_json_get_str(crypto, "cipher", &cipher, true, "keystore crypto"));
    if (strcmp(cipher, "aes-128-ctr") != 0) {
        rc = bpt_err(BPT_EINVAL, "eth key: keystore cipher '%.40s': aes-128-ctr only", cipher);
        goto out;
    }
    BPT_CHECK(bpt_json_get_obj(crypto, "cipherparams", &cp, true, "keystore crypto"));
    BPT_CHECK(hex_field(&iv, cp, "iv", "keystore cipherparams"));
    BPT_CHECK(hex_field(&ct, crypto, "ciphertext", "keystore crypto"));
    BPT_CHECK(hex_field(&mac, crypto, "mac", "keystore crypto"));
    if (iv.len != 16 || ct.len != 32 || mac.len != 32) {
        rc = bpt_err(BPT_EINVAL,
                     "eth key: keystore iv/ciphertext/mac of %zu/%zu/%zu bytes, "
                     "want 16/32/32",
                     iv.len, ct.len, mac.len);
        goto out;
    }
    BPT_CHECK(keystore_derive(dk, crypto, password));
    if (!(macin = malloc(16 + ct.len))) {
        rc = bpt_err_nomem("keystore");
        goto out;
    }
    memcpy(macin, dk + 16, 16);
    memcpy(macin + 16, ct.data, ct.len);
    bpt_keccak256(want, macin, 16 + ct.len);
    if (CRYPTO_memcmp(want, mac.data, 32) != 0) {
        rc = bpt_err(BPT_EDECRYPT,
                     "eth key: %s: keystore MAC mismatch (wrong password or damaged file)", path);
        goto out;
    }
    if (!(cc = EVP_CIPHER_CTX_new()) ||
        EVP_DecryptInit_ex(cc, EVP_aes_128_ctr(), NULL, dk, iv.data) != 1 ||
        EVP_DecryptUpdate(cc, secret, &outl, ct.data, (int)ct.len) != 1 ||
        EVP_DecryptFinal_ex(cc, secret + outl, &finl) != 1 || outl + finl != 32) {
        rc = bpt_err_ossl(BPT_ERROR, "eth key: keystore decryption");
        goto out;
    }
    if (bpt_json_get_str(root, "address", &addr_text, false, "keystore") == 1) {
        bpt_eth_address claimed, real;
        char text_addr[64];
        snprintf(text_addr, sizeof(text_addr), "0x%.42s",
                 strncmp(addr_text, "0x", 2) == 0 ? addr_text + 2 : addr_text);
        BPT_CHECK(bpt_eth_key_address_of(&real, secret));
        if (bpt_eth_address_parse(&claimed, text_addr) < 0 ||
            memcmp(claimed.bytes, real.bytes, 20) != 0) {
            rc = bpt_err(BPT_EINVAL, "eth key: %s: the keystore's address is not its key's", path);
            goto out;
        }
    }
    rc = 0;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    if (macin) {
        OPENSSL_cleanse(macin, 16);
        free(macin);
    }
    EVP_CIPHER_CTX_free(cc);
    bpt_buf_dispose(&iv);
    bpt_buf_dispose(&ct);
    bpt_buf_dispose(&mac);
    json_decref(root);
    return rc;
}

int bpt_eth_key_load(bpt_eth_key **out, const char *path, const char *password)
{
    bpt_buf text = BPT_BUF_INIT(KEYFILE_MAX);
    uint8_t secret[32];
    bool private_mode = false;
    size_t a = 0;
    int rc;
    if (!out || !path) {
        return bpt_err(BPT_EINVAL, "eth key: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(read_key_file(&text, &private_mode, path));
    while (a < text.len && isspace(text.data[a])) {
        a++;
    }
    if (a < text.len && text.data[a] == '{') {
        BPT_CHECK(open_keystore(secret, text.data, text.len, password, path));
    } else {
        if (!private_mode) {
            rc = bpt_err(BPT_EINVAL,
                         "eth key: %s may be read by others: a hex key file must be mode 0600 "
                         "(chmod 600 %s)",
                         path, path);
            goto out;
        }
        BPT_CHECK(parse_hex_key(secret, text.data, text.len, path));
    }
    BPT_CHECK(bpt_eth_key_from_bytes(out, secret));
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    if (text.data) {
        OPENSSL_cleanse(text.data, text.len);
    }
    bpt_buf_dispose(&text);
    return rc;
}

/* ---- addresses ---------------------------------------------------------------------------- */

void bpt_eth_address_format(char out[43], const bpt_eth_address *a)
{
    char lower[41];
    uint8_t h[32];
    bpt_hex_encode_to(lower, a->bytes, 20);
    bpt_keccak256(h, lower, 40);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        uint8_t nib = (uint8_t)((h[i / 2] >> (i % 2 ? 0 : 4)) & 0xF);
        out[2 + i] = (lower[i] >= 'a' && nib >= 8) ? (char)(lower[i] - 'a' + 'A') : lower[i];
    }
    out[42] = 0;
}

int bpt_eth_address_parse(bpt_eth_address *out, const char *text)
{
    bool lower = false, upper = false;
    char want[43];
    if (!out || !text || strncmp(text, "0x", 2) != 0 || strlen(text) != 42) {
        return bpt_err(BPT_EINVAL, "address '%.60s': want 0x and 40 hex digits",
                       text ? text : "(null)");
    }
    for (int i = 2; i < 42; i++) {
        lower |= text[i] >= 'a' && text[i] <= 'f';
        upper |= text[i] >= 'A' && text[i] <= 'F';
    }
    if (bpt_hex_decode_exact(out->bytes, 20, text + 2, 40, "address") < 0) {
        return bpt_err(BPT_EINVAL, "address '%.60s': want 0x and 40 hex digits", text);
    }
    if (lower && upper) {
        bpt_eth_address_format(want, out);
        if (strcmp(want, text) != 0) {
            return bpt_err(BPT_EINVAL, "address '%.60s': bad EIP-55 checksum (mixed case)", text);
        }
    }
    return 0;
}
