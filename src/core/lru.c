/* A bounded LRU map from digests to values: see lru.h. */
#include "core/lru.h"

#include "core/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct node {
    uint8_t key[32];
    struct node *chain;         /* next in the bucket */
    struct node *newer, *older; /* the recency list */
    void *value;
};

struct bpt_lru {
    pthread_mutex_t lock;
    struct node **buckets;
    size_t mask; /* buckets - 1 */
    size_t capacity, count;
    struct node *newest, *oldest;
    bpt_lru_release_fn release;
    atomic_uint_fast64_t hits, lookups, evictions;
};

/* Keys are digests: their first bytes are already uniform. */
static size_t bucket_of(const struct bpt_lru *m, const uint8_t key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)h & m->mask;
}

void bpt_lru_release_self(void *value)
{
    bpt_lru_release_fn fn;
    memcpy(&fn, value, sizeof(fn));
    fn(value);
}

int bpt_lru_new(struct bpt_lru **out, size_t capacity, bpt_lru_release_fn release)
{
    struct bpt_lru *m;
    size_t buckets = 1;

    *out = NULL;
    if (capacity == 0 || capacity > BPT_LRU_MAX_CAPACITY) {
        return bpt_err(BPT_EINVAL, "cache: %zu entries (1..%u)", capacity, BPT_LRU_MAX_CAPACITY);
    }
    while (buckets < capacity) {
        buckets <<= 1;
    }
    if (!(m = calloc(1, sizeof(*m))) || !(m->buckets = calloc(buckets, sizeof(*m->buckets)))) {
        free(m);
        return bpt_err_nomem("cache");
    }
    pthread_mutex_init(&m->lock, NULL);
    m->mask = buckets - 1;
    m->capacity = capacity;
    m->release = release;
    *out = m;
    return 0;
}

void bpt_lru_free(struct bpt_lru *m)
{
    struct node *n, *next;
    if (!m) {
        return;
    }
    for (n = m->newest; n; n = next) {
        next = n->older;
        m->release(n->value);
        free(n);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->buckets);
    free(m);
}

static struct node **find(struct bpt_lru *m, const uint8_t key[32])
{
    struct node **p = &m->buckets[bucket_of(m, key)];
    while (*p && memcmp((*p)->key, key, 32) != 0) {
        p = &(*p)->chain;
    }
    return p;
}

static void unlink_recency(struct bpt_lru *m, struct node *n)
{
    if (n->newer) {
        n->newer->older = n->older;
    } else {
        m->newest = n->older;
    }
    if (n->older) {
        n->older->newer = n->newer;
    } else {
        m->oldest = n->newer;
    }
    n->newer = n->older = NULL;
}

static void push_newest(struct bpt_lru *m, struct node *n)
{
    n->older = m->newest;
    n->newer = NULL;
    if (m->newest) {
        m->newest->newer = n;
    }
    m->newest = n;
    if (!m->oldest) {
        m->oldest = n;
    }
}

bool bpt_lru_get(struct bpt_lru *m, const uint8_t key[32], bpt_lru_use_fn use, void *arg)
{
    struct node *n;
    bool hit = false;

    atomic_fetch_add_explicit(&m->lookups, 1, memory_order_relaxed);
    pthread_mutex_lock(&m->lock);
    n = *find(m, key);
    if (n && use(n->value, arg)) {
        hit = true;
        if (m->newest != n) {
            unlink_recency(m, n);
            push_newest(m, n);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (hit) {
        atomic_fetch_add_explicit(&m->hits, 1, memory_order_relaxed);
    }
    return hit;
}

void bpt_lru_put(struct bpt_lru *m, const uint8_t key[32], void *value)
{
    struct node **slot, *n, *spare = NULL;
    void *old = NULL;

    pthread_mutex_lock(&m->lock);
    slot = find(m, key);
    if ((n = *slot) != NULL) {
        /* The same key again (two threads that both missed, or a value its users refused):
         * the entry stays and is made the newest; the new value is released, by the thread
         * that made it. (Replacing would free the entry's value on this thread after others
         * used it; OpenSSL's reference counts, relaxed with a fence, do not order that for
         * ThreadSanitizer.) */
        unlink_recency(m, n);
        push_newest(m, n);
        pthread_mutex_unlock(&m->lock);
        m->release(value);
        return;
    }
    if (m->count == m->capacity) { /* evict the oldest and reuse its node */
        struct node *victim = m->oldest, **p = &m->buckets[bucket_of(m, victim->key)];
        while (*p != victim) {
            p = &(*p)->chain;
        }
        *p = victim->chain;
        unlink_recency(m, victim);
        old = victim->value;
        spare = victim;
        m->count--;
        atomic_fetch_add_explicit(&m->evictions, 1, memory_order_relaxed);
        slot = find(m, key); /* the bucket may have changed */
    }
    n = spare ? spare : malloc(sizeof(*n));
    if (!n) {
        pthread_mutex_unlock(&m->lock);
        m->release(value); /* not cached: the caller verifies again next time */
        return;
    }
    memcpy(n->key, key, 32);
    n->value = value;
    n->chain = NULL;
    *slot = n;
    push_newest(m, n);
    m->count++;
    pthread_mutex_unlock(&m->lock);
    if (old) {
        m->release(old);
    }
}

size_t bpt_lru_count(struct bpt_lru *m)
{
    size_t n;
    pthread_mutex_lock(&m->lock);
    n = m->count;
    pthread_mutex_unlock(&m->lock);
    return n;
}

size_t bpt_lru_capacity(const struct bpt_lru *m)
{
    return m->capacity;
}

void bpt_lru_stats(struct bpt_lru *m, uint64_t *hits, uint64_t *lookups, uint64_t *evictions)
{
    if (hits) {
        *hits = atomic_load(&m->hits);
    }
    if (lookups) {
        *lookups = atomic_load(&m->lookups);
    }
    if (evictions) {
        *evictions = atomic_load(&m->evictions);
    }
}
