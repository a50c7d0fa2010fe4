#include "attestation/pki/cert_cache.h"

#include "core/err.h"
#include "core/limits.h"
#include "core/lru.h"

#include <limits.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

struct bpt_cert_cache {
    struct bpt_lru *map;
};

static void release(void *v)
{
    X509_free(v);
}

int bpt_cert_cache_new(struct bpt_cert_cache **out, size_t capacity)
{
    struct bpt_cert_cache *c;
    int rc;
    *out = NULL;
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("certificate cache");
    }
    if ((rc = bpt_lru_new(&c->map, capacity, release)) < 0) {
        free(c);
        return bpt_err_prefix(rc, "certificate cache");
    }
    *out = c;
    return 0;
}

void bpt_cert_cache_free(struct bpt_cert_cache *c)
{
    if (c) {
        bpt_lru_free(c->map);
        free(c);
    }
}

void bpt_cert_cache_stats(const struct bpt_cert_cache *c, uint64_t *hits, uint64_t *lookups)
{
    bpt_lru_stats(c->map, hits, lookups, NULL);
}

static bool take(void *v, void *arg)
{
    if (X509_up_ref(v) != 1) {
        return false;
    }
    *(X509 **)arg = v;
    return true;
}

void bpt_cert_settle(X509 *c)
{
    (void)X509_check_purpose(c, -1, 0);
}

static int parse(X509 **out, const uint8_t *der, size_t len, const char *what)
{
    const unsigned char *q = der;
    X509 *c;
    *out = NULL;
    if (len == 0 || len > BPT_LIMIT_CERT_CHAIN_BYTES || len > LONG_MAX) {
        return bpt_err(BPT_EMALFORMED, "%s: certificate of %zu bytes (limit %u)", what, len,
                       BPT_LIMIT_CERT_CHAIN_BYTES);
    }
    if (!(c = d2i_X509(NULL, &q, (long)len))) {
        return bpt_err_ossl(BPT_EMALFORMED, "%s: not a DER certificate", what);
    }
    if ((size_t)(q - der) != len) {
        X509_free(c);
        return bpt_err(BPT_EMALFORMED, "%s: %zu trailing bytes after the DER certificate", what,
                       len - (size_t)(q - der));
    }
    bpt_cert_settle(c); /* before anyone else can see it */
    *out = c;
    return 0;
}

int bpt_cert_cache_der(X509 **out, struct bpt_cert_cache *c, const uint8_t *der, size_t len,
                       const char *what)
{
    uint8_t key[32];
    X509 *x = NULL;
    int rc;

    *out = NULL;
    if (!c || len == 0 || len > BPT_LIMIT_CERT_CHAIN_BYTES ||
        EVP_Digest(der, len, key, NULL, EVP_sha256(), NULL) != 1) {
        return parse(out, der, len, what); /* no cache (or no digest): parse, with its errors */
    }
    if (bpt_lru_get(c->map, key, take, &x)) {
        *out = x;
        return 0;
    }
    if ((rc = parse(&x, der, len, what)) < 0) {
        return rc;
    }
    if (X509_up_ref(x) == 1) {
        bpt_lru_put(c->map, key, x); /* the map's reference */
    }
    *out = x;
    return 0;
}
