/*
 * JWK sets over HTTPS and their cache (bpt_jwks_cache, jwt.h): Cache-Control max-age honoured,
 * an unknown kid refetched at most once per refetch interval, one fetch at a time.
 */
#include "attestation/providers/jwt_internal.h"

#include "core/err.h"
#include "core/http.h"
#include "core/limits.h"
#include "core/logging.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URLS 16
#define MAX_TTL 86400

/* max-age from a Cache-Control value; -1 when absent; 0 for no-store / no-cache. */
static long cache_control_max_age(const bpt_buf *v)
{
    char text[256];
    long max_age = -1;
    size_t n = v->len < sizeof(text) - 1 ? v->len : sizeof(text) - 1;
    if (n == 0) {
        return -1; /* no Cache-Control */
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

int bpt_jwks_fetch(struct bpt_jwks **out, long *max_age, const char *url, long timeout_ms)
{
    static const char *const names[] = {"Cache-Control"};
    bpt_buf body = BPT_BUF_INIT(BPT_LIMIT_JWKS_BYTES), cc = BPT_BUF_INIT(1024);
    long status = 0;
    int rc;

    *out = NULL;
    *max_age = -1;
    rc = bpt_http_get_headers(&body, &status, url, timeout_ms, names, &cc, 1);
    if (rc < 0) {
        rc = bpt_err_prefix(rc == BPT_ELIMIT ? BPT_EFETCH : rc, "jwks");
        goto out;
    }
    if (status != 200) {
        rc = bpt_err(BPT_EFETCH, "jwks: %.200s answered HTTP %ld", url, status);
        goto out;
    }
    BPT_CHECK(bpt_jwks_parse(out, (const char *)body.data, body.len, "jwks"));
    *max_age = cache_control_max_age(&cc);
    BPT_LOG(BPT_LOG_INFO, "jwks", "fetched url=%.200s keys=%zu max_age=%ld", url, (*out)->n,
            *max_age);
out:
    bpt_buf_dispose(&body);
    bpt_buf_dispose(&cc);
    return rc;
}

struct entry {
    char *url;
    struct bpt_jwks *set;
    int64_t fetched_at, expires_at;
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

int bpt_jwks_cache_new(bpt_jwks_cache **out, const bpt_jwks_cache_opts *o)
{
    bpt_jwks_cache *c;
    *out = NULL;
    if (!o || o->version != BPT_JWKS_CACHE_OPTS_VERSION || o->timeout_ms < 0) {
        return bpt_err(BPT_EINVAL, "jwks cache: options must come from BPT_JWKS_CACHE_OPTS_INIT");
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("jwks cache");
    }
    pthread_mutex_init(&c->lock, NULL);
    if (o->clock) {
        c->clock = *o->clock;
    }
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
    c->default_ttl = o->default_ttl_secs ? o->default_ttl_secs : 300;
    c->refetch = o->refetch_secs ? o->refetch_secs : 60;
    *out = c;
    return 0;
}

void bpt_jwks_cache_free(bpt_jwks_cache *c)
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

void bpt_jwks_cache_stats(const bpt_jwks_cache *c, uint64_t *fetches, uint64_t *hits)
{
    *fetches = atomic_load(&((bpt_jwks_cache *)c)->fetches);
    *hits = atomic_load(&((bpt_jwks_cache *)c)->hits);
}

static struct entry *find(bpt_jwks_cache *c, const char *url)
{
    for (size_t i = 0; i < MAX_URLS; i++) {
        if (c->entries[i].url && strcmp(c->entries[i].url, url) == 0) {
            return &c->entries[i];
        }
    }
    return NULL;
}

/* Fetch @p url into its entry (made if needed). Called with the lock held. */
static int refresh(bpt_jwks_cache *c, struct entry **e, const char *url, int64_t now)
{
    struct bpt_jwks *set = NULL;
    long max_age = -1;
    int rc;

    atomic_fetch_add(&c->fetches, 1);
    if (*e) {
        (*e)->fetched_at = now; /* a failed fetch also counts against the refetch interval */
    }
    BPT_CHECK(bpt_jwks_fetch(&set, &max_age, url, c->timeout_ms));
    if (!*e) {
        char *copy = strdup(url);
        if (!copy) {
            bpt_jwks_free(set);
            return bpt_err_nomem("jwks cache");
        }
        *e = &c->entries[c->next];
        c->next = (c->next + 1) % MAX_URLS;
        free((*e)->url);
        bpt_jwks_free((*e)->set);
        (*e)->url = copy;
        (*e)->set = NULL;
    }
    bpt_jwks_free((*e)->set);
    (*e)->set = set;
    (*e)->fetched_at = now;
    (*e)->expires_at = now + (max_age >= 0 ? max_age : (long)c->default_ttl);
    rc = 0;
out:
    return rc;
}

int bpt_jwks_cache_key(EVP_PKEY **key, bpt_jwks_cache *c, const char *url, const char *kid,
                       const struct bpt_jwt *t, const char *what)
{
    int64_t now;
    struct entry *e;
    int rc = 0;

    *key = NULL;
    pthread_mutex_lock(&c->lock);
    now = bpt_clock_now(&c->clock);
    e = find(c, url);
    if (!e || !e->set || now >= e->expires_at) {
        rc = refresh(c, &e, url, now);
    } else if ((*key = bpt_jwks_find(e->set, kid, t)) != NULL) {
        atomic_fetch_add(&c->hits, 1);
    } else if (now - e->fetched_at >= (int64_t)c->refetch) {
        rc = refresh(c, &e, url, now); /* perhaps the key was rotated in */
    } else {
        rc = bpt_err(BPT_EKEYS,
                     "%s: no key with kid '%.64s' in %.200s (refetched less than %llus ago)", what,
                     kid, url, (unsigned long long)c->refetch);
    }
    if (rc == 0 && !*key && !(*key = bpt_jwks_find(e->set, kid, t))) {
        rc = bpt_err(BPT_EKEYS, "%s: no key with kid '%.64s' for %s in %.200s", what, kid,
                     t->alg_name, url);
    }
    pthread_mutex_unlock(&c->lock);
    if (rc < 0 && rc != BPT_EKEYS) {
        rc = bpt_err_prefix(rc, "%s", what);
    }
    return rc;
}
