/*
 * Key exchange throughput: sessions created per second (X25519 keygen + random id), and one
 * secret sealed and opened per second (two HPKE setups: two X25519 derives plus HKDF and
 * ChaCha20-Poly1305), each next to the raw OpenSSL X25519 derive rate measured in the same run.
 *   bench_exchange [--seconds N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <blueprint-tee/bpt.h>

#include "util.h"

struct derive_ctx {
    EVP_PKEY *a, *b;
};

static bool op_derive(void *p)
{
    struct derive_ctx *d = p;
    uint8_t out[32];
    size_t n = sizeof(out);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, d->a, NULL);
    bool ok = c != NULL && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, d->b) == 1 &&
              EVP_PKEY_derive(c, out, &n) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static bool op_session(void *p)
{
    (void)p;
    bpt_kx_session *s = NULL;
    if (bpt_kx_session_new(&s, 60, NULL) != 0) {
        return false;
    }
    bpt_kx_session_free(s);
    return true;
}

static bool op_seal_open(void *p)
{
    bpt_kx_session *s = p;
    static const uint8_t secret[32] = {1, 2, 3};
    uint8_t enc[32];
    bpt_buf ct;
    bpt_secret *pt = NULL;
    bpt_buf_init(&ct, 1024);
    bool ok = bpt_kx_seal(enc, &ct, bpt_kx_session_public_key(s), bpt_kx_session_id(s), "name",
                          secret, sizeof(secret)) == 0 &&
              bpt_kx_session_open(&pt, s, "name", enc, sizeof(enc), ct.data, ct.len) == 0;
    bpt_secret_free(pt);
    bpt_buf_dispose(&ct);
    return ok;
}

int main(int argc, char **argv)
{
    double secs = bench_seconds(argc, argv);
    struct derive_ctx d;
    d.a = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    d.b = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    if (d.a == NULL || d.b == NULL) {
        fprintf(stderr, "bench_exchange: X25519 keygen failed\n");
        return 1;
    }
    bpt_kx_session *s = NULL;
    if (bpt_kx_session_new(&s, 3600, NULL) != 0) {
        fprintf(stderr, "bench_exchange: %s\n", bpt_error_last());
        return 1;
    }
    double base = bench_rate(op_derive, &d, secs);
    double sessions = bench_rate(op_session, NULL, secs);
    double seal_open = bench_rate(op_seal_open, s, secs);
    if (base <= 0 || sessions <= 0 || seal_open <= 0) {
        fprintf(stderr, "bench_exchange: an operation failed: %s\n", bpt_error_last());
        return 1;
    }
    bench_report("kx_session_new", sessions, "openssl_x25519_derive", base);
    bench_report("kx_seal_open", seal_open, "openssl_x25519_derive", base);
    bpt_kx_session_free(s);
    EVP_PKEY_free(d.a);
    EVP_PKEY_free(d.b);
    return 0;
}
