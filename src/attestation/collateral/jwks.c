/*
 * JWK sets over HTTPS and their cache (jwks.h): Cache-Control max-age honoured, an unknown kid
 * refetched at most once per refetch interval, one fetch at a time.
 */
#include "attestation/collateral/jwks.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MAX_URLS 16
#define MAX_TTL 86400

/* max-age from a Cache-Control value; -1 when absent; 0 for no-store / no-cache. */
static long cache_control_max_age(const bpt_buf *v)
{
    char text[256];
    long max_age = -1;
    size_t n = v->len < sizeof(text) - 1 ? v->len : sizeof(text) - 1;
    if (n == 0) {
        return -1;
    }
    memcpy(text, v->data, n);
    text[n] = '\0';
    for (char *save = NULL, *d = strtok_r(text, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        while (*d == ' ' || *d == '\t') {
            d++;
        }
        if (strncasecmp(d, "no-store", 8) == 0 || strncasecmp(d, "no-cache", 8) == 0) {
            return 0;
        }
        if (strncasecmp(d, "max-age=", 8) == 0 && isdigit((unsigned char)d[8])) {
            char *end = NULL;
            long s = strtol(d + 8, &end, 10);
            max_age = s < 0 ? 0 : s > MAX_TTL ? MAX_TTL : s;
        }
    }
    return max_age;
}

int bpt_jwks_fetch_text(bpt_buf *body, long *max_age, const char *url, long timeout_ms)
{
    static const char *const names[] = {"Cache-Control"};
    bpt_buf cc = BPT_BUF_INIT(1024);
    long status = 0;
    int rc;

    *max_age = -1;
    rc = bpt_http_get_headers(body, &status, url, timeout_ms, names, &cc, 1);
    if (rc < 0) {
        rc = bpt_err_prefix(rc == BPT_ELIMIT ? BPT_EFETCH : rc, "jwks");
        goto out;
    }
    if (status != 200) {
        rc = bpt_err(BPT_EFETCH, "jwks: %.200s answered HTTP %ld", url, status);
        goto out;
    }
    *max_age = cache_control_max_age(&cc);
    rc = 0;
out:
    bpt_buf_dispose(&cc);
    return rc;
}

int bpt_jwks_fetch(struct bpt_jwks **out, long *max_age, const char *url, long timeout_ms)
{
    bpt_buf body = BPT_BUF_INIT(BPT_LIMIT_JWKS_BYTES);
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_jwks_fetch_text(&body, max_age, url, timeout_ms));
    BPT_CHECK(bpt_jwks_parse(out, (const char *)body.data, body.len, "jwks"));
    BPT_LOG(BPT_LOG_DEBUG, "jwks", "fetched url=%.200s keys=%zu max_age=%ld", url, (*out)->n,
            *max_age);
out:
    bpt_buf_dispose(&body);
    return rc;
}

/* ---- the on-disk copies (prefetched for offline verification) ------------------------------ */

/* dir/jwks-<first 16 bytes of SHA-256(url), hex>.json */
static int disk_path(char *buf, size_t len, const char *dir, const char *url)
{
    uint8_t md[32];
    char hex[33];
    int n;
    if (EVP_Digest(url, strlen(url), md, NULL, EVP_sha256(), NULL) != 1) {
        return bpt_err_ossl(BPT_ERROR, "jwks: cache file name");
    }
    bpt_hex_encode_to(hex, md, 16);
    n = snprintf(buf, len, "%s/jwks-%s.json", dir, hex);
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_EINVAL, "jwks: cache path too long");
    }
    return 0;
}

int bpt_jwks_disk_store(const char *dir, const char *url, const uint8_t *text, size_t len)
{
    char path[4096];
    int rc;
    BPT_CHECK(disk_path(path, sizeof(path), dir, url));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return bpt_err(BPT_EIO, "jwks: cache directory %.200s: %s", dir, strerror(errno));
    }
    BPT_CHECK(bpt_file_write(path, text, len, false));
out:
    return rc;
}

int bpt_jwks_disk_load(struct bpt_jwks **out, const char *dir, const char *url)
{
    bpt_buf text = BPT_BUF_INIT(BPT_LIMIT_JWKS_BYTES);
    char path[4096];
    int rc;
    *out = NULL;
    BPT_CHECK(disk_path(path, sizeof(path), dir, url));
    if (access(path, F_OK) != 0) {
        return bpt_err(BPT_ENOTFOUND, "jwks: no cached copy of %.200s", url);
    }
    BPT_CHECK(bpt_file_read(&text, path));
    BPT_CHECK(bpt_jwks_parse(out, (const char *)text.data, text.len, "cached jwks"));
    BPT_LOG(BPT_LOG_DEBUG, "jwks", "from cache dir url=%.200s keys=%zu", url, (*out)->n);
out:
    bpt_buf_dispose(&text);
    return rc;
}

struct entry {
    char *url;
    struct bpt_jwks *set; /* NULL until a fetch succeeds */
    int64_t attempted_at; /* the last fetch, whatever its outcome */
    int64_t expires_at;   /* of set */
    int last_rc;          /* 0, or the last fetch's error and its message */
    char last_error[200];
};

struct bpt_jwks_cache {
    pthread_mutex_t lock;
    bpt_clock clock;
    long timeout_ms;
    uint64_t default_ttl, refetch;
    struct entry entries[MAX_URLS];
    size_t next;
    atomic_uint_fast64_t fetches, hits;
};

int bpt_jwks_cache_new(struct bpt_jwks_cache **out, const struct bpt_jwks_cache_opts *o)
{
    struct bpt_jwks_cache *c;
    *out = NULL;
    if (o->timeout_ms < 0 || o->timeout_ms > 600000 || o->default_ttl_secs > MAX_TTL ||
        o->refetch_secs > MAX_TTL) {
        return bpt_err(BPT_EINVAL,
                       "jwks cache: timeout_ms 0..600000, default_ttl_secs and refetch_secs "
                       "0..%d",
                       MAX_TTL);
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("jwks cache");
    }
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return bpt_err(BPT_ERROR, "jwks cache: mutex");
    }
    if (o->clock) {
        c->clock = *o->clock;
    }
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : BPT_JWKS_DEFAULT_TIMEOUT_MS;
    c->default_ttl = o->default_ttl_secs ? o->default_ttl_secs : 300;
    c->refetch = o->refetch_secs ? o->refetch_secs : 60;
    *out = c;
    return 0;
}

void bpt_jwks_cache_free(struct bpt_jwks_cache *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < MAX_URLS; i++) {
        free(c->entries[i].url);
        bpt_jwks_free(c->entries[i].set);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void bpt_jwks_cache_stats(const struct bpt_jwks_cache *c, uint64_t *fetches, uint64_t *hits)
{
    struct bpt_jwks_cache *m = (struct bpt_jwks_cache *)c; /* atomics are read-only here */
    if (fetches) {
        *fetches = c ? atomic_load(&m->fetches) : 0;
    }
    if (hits) {
        *hits = c ? atomic_load(&m->hits) : 0;
    }
}

static struct entry *find(struct bpt_jwks_cache *c, const char *url)
{
    for (size_t i = 0; i < MAX_URLS; i++) {
        if (c->entries[i].url && strcmp(c->entries[i].url, url) == 0) {
            return &c->entries[i];
        }
    }
    return NULL;
}

/* The entry for @p url, taking the oldest slot when it is new. Called with the lock held. */
static int entry_for(struct entry **out, struct bpt_jwks_cache *c, const char *url)
{
    struct entry *e = find(c, url);
    char *copy;
    if (e) {
        *out = e;
        return 0;
    }
    if (!(copy = strdup(url))) {
        return bpt_err_nomem("jwks cache");
    }
    e = &c->entries[c->next];
    c->next = (c->next + 1) % MAX_URLS;
    free(e->url);
    bpt_jwks_free(e->set);
    memset(e, 0, sizeof(*e));
    e->url = copy;
    *out = e;
    return 0;
}

/* Fetch @p e's URL into it; a failure is remembered. Called with the lock held. */
static int refresh(struct bpt_jwks_cache *c, struct entry *e, int64_t now)
{
    struct bpt_jwks *set = NULL;
    long max_age = -1;
    int rc;

    atomic_fetch_add(&c->fetches, 1);
    e->attempted_at = now;
    rc = bpt_jwks_fetch(&set, &max_age, e->url, c->timeout_ms);
    if (rc < 0) {
        e->last_rc = rc;
        snprintf(e->last_error, sizeof(e->last_error), "%s", bpt_error_last());
        return rc;
    }
    bpt_jwks_free(e->set);
    e->set = set;
    e->last_rc = 0;
    e->expires_at = now + (max_age >= 0 ? (int64_t)max_age : (int64_t)c->default_ttl);
    return 0;
}

int bpt_jwks_cache_key(EVP_PKEY **key, struct bpt_jwks_cache *c, const char *url, const char *kid,
                       const char *alg, bool may_fetch, const char *what)
{
    struct entry *e;
    int64_t now;
    bool fresh;
    int rc;

    *key = NULL;
    now = bpt_clock_now(&c->clock); /* before locking: no callback runs under the lock */
    pthread_mutex_lock(&c->lock);
    e = find(c, url);
    fresh = e && e->set && now < e->expires_at;
    if (fresh && bpt_jwks_has_kid(e->set, kid)) {
        atomic_fetch_add(&c->hits, 1);
        rc = bpt_jwks_lookup(key, e->set, kid, alg, url, what);
        goto out;
    }
    if (!may_fetch) {
        rc = bpt_err(BPT_EKEYS,
                     "%s: %s for kid '%.64s' from %.200s, and the context is offline (no "
                     "fetching); give the context a JWKS document, or prefetch the keys into its "
                     "cache directory",
                     what, fresh ? "the cached JWKS has no key" : "no cached JWKS", kid, url);
        goto out;
    }
    if (e && now - e->attempted_at < (int64_t)c->refetch) {
        if (fresh) { /* an unknown kid: perhaps rotated in, but not worth a fetch storm */
            rc = bpt_err(BPT_EKEYS,
                         "%s: no key with kid '%.64s' in %.200s (fetched %llds ago; refetched at "
                         "most every %llus)",
                         what, kid, url, (long long)(now - e->attempted_at),
                         (unsigned long long)c->refetch);
            goto out;
        }
        if (e->last_rc < 0) { /* the last fetch failed just now: do not hammer the server */
            rc = bpt_err(e->last_rc,
                         "%s: the last fetch failed %llds ago (retried at most every "
                         "%llus): %s",
                         what, (long long)(now - e->attempted_at), (unsigned long long)c->refetch,
                         e->last_error);
            goto out;
        }
    }
    BPT_CHECK(entry_for(&e, c, url));
    if ((rc = refresh(c, e, now)) < 0) {
        rc = bpt_err_prefix(rc, "%s", what);
        goto out;
    }
    rc = bpt_jwks_lookup(key, e->set, kid, alg, url, what);
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}
