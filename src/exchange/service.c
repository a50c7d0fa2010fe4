/*
 * TeeAuthService: the set of live key exchange sessions, one mutex around it. Sessions sit in
 * a hash table by id (chained; ids are random, so the first 8 bytes are the hash) and in a
 * binary min-heap by expiry; every operation under the lock is O(1) or O(log n) and none
 * walks the table: creation expires at most a few sessions from the heap's top, the cleanup
 * thread expires in batches and lets go of the lock between them.
 *
 * Key generation and the attester callback run outside the lock; a slot is reserved first so
 * that concurrent creators never exceed max_sessions (nor a client its share). Consume
 * removes the session under the lock, so of two threads consuming one id exactly one gets it.
 * Per client (the peer address the server passes): at most max_sessions_per_client live
 * sessions, in creation order, so that when a share or the table is full the oldest session
 * left unused for first_use_secs can be reclaimed in O(1). Sessions removed under the lock are
 * freed (their keys cleansed) after it is released.
 */
#include "exchange/exchange_internal.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/util.h"
#include "core/logging.h"

/* Sessions expired per lock hold, by creation and by the cleanup thread. */
#define EXPIRE_ON_CREATE 8
#define EXPIRE_BATCH 1024
#define CLIENT_KEY_MAX 64

struct client;

struct node {
    bpt_kx_session *s;
    struct node *hnext; /* hash chain */
    size_t heap_i;      /* index in the expiry heap */
    int64_t created_at, expires_at;
    struct client *cl;          /* NULL: created without a client */
    struct node *cprev, *cnext; /* the client's sessions, oldest first */
};

struct client {
    char key[CLIENT_KEY_MAX];
    uint64_t hash;
    size_t count, pending;
    struct node *oldest, *newest;
    struct client *hnext;
};

struct bpt_kx_service {
    bpt_kx_service_options opts;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct node **buckets; /* nbuckets (a power of two >= max_sessions) chains by id */
    struct client **cbuckets;
    size_t nbuckets;
    uint64_t seed;      /* keys the client hash */
    struct node **heap; /* max_sessions slots, a min-heap by expires_at in [0, count) */
    size_t count;
    size_t pending; /* slots reserved by creators outside the lock */
    bpt_kx_service_stats stats;
    pthread_t cleaner;
    bool cleaner_running;
    bool stopping;
    /* BPT_KX_BINDING_SERVICE_KEY: the Ed25519 key and its evidence, made once. */
    EVP_PKEY *svc_key;
    uint8_t svc_pub[32];
    bpt_report *svc_report;
    char svc_digest[65];
};

int bpt_kx_service_key_report_data(uint8_t out[64], const uint8_t service_public_key[32])
{
    uint8_t buf[sizeof(BPT_KX_SERVICE_KEY_CONTEXT) - 1 + 32];
    memcpy(buf, BPT_KX_SERVICE_KEY_CONTEXT, sizeof(BPT_KX_SERVICE_KEY_CONTEXT) - 1);
    memcpy(buf + sizeof(BPT_KX_SERVICE_KEY_CONTEXT) - 1, service_public_key, 32);
    memset(out + 32, 0, 32);
    return bpt_sha256(out, buf, sizeof(buf));
}

static int session_message(uint8_t msg[sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64],
                           const uint8_t session_rd[64])
{
    memcpy(msg, BPT_KX_SESSION_KEY_CONTEXT, sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1);
    memcpy(msg + sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1, session_rd, 64);
    return (int)(sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64);
}

int bpt_kx_check_session_signature(const uint8_t service_public_key[32],
                                   const uint8_t signature[64], const uint8_t session_rd[64])
{
    uint8_t msg[sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64];
    int n = session_message(msg, session_rd), rc;
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, service_public_key, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!pub || !md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "kx: Ed25519 setup");
    } else if (EVP_DigestVerify(md, signature, 64, msg, (size_t)n) != 1) {
        rc = bpt_err_ossl(BPT_ECLAIM, "kx: the service key's signature does not bind this "
                                      "session key, id and nonce");
    } else {
        rc = 0;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    return rc;
}

/* Make the Ed25519 service key and attest it once (BPT_KX_BINDING_SERVICE_KEY). */
static int service_key_init(bpt_kx_service *svc)
{
    uint8_t rd[64];
    char rd_hex[129];
    size_t pl = 32;
    int rc;

    svc->svc_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!svc->svc_key || EVP_PKEY_get_raw_public_key(svc->svc_key, svc->svc_pub, &pl) != 1) {
        return bpt_err_ossl(BPT_ERROR, "kx: Ed25519 service key");
    }
    if (!svc->opts.attest) {
        return 0;
    }
    BPT_CHECK(bpt_kx_service_key_report_data(rd, svc->svc_pub));
    rc = svc->opts.attest(&svc->svc_report, rd, svc->opts.attest_userdata);
    if (rc < 0 || !svc->svc_report) {
        return bpt_err_prefix(rc < 0 ? rc : BPT_ERROR, "kx: attesting the service key");
    }
    bpt_hex_encode_to(rd_hex, rd, 64);
    BPT_CHECK(bpt_report_set_key_binding(svc->svc_report, svc->svc_pub, 32, "ed25519", rd_hex));
    bpt_report_evidence_digest(svc->svc_digest, svc->svc_report);
out:
    return rc;
}

static int sign_session(uint8_t sig[64], const bpt_kx_service *svc, const uint8_t rd[64])
{
    uint8_t msg[sizeof(BPT_KX_SESSION_KEY_CONTEXT) - 1 + 64];
    int n = session_message(msg, rd);
    size_t sl = 64;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, svc->svc_key) == 1 &&
             EVP_DigestSign(md, sig, &sl, msg, (size_t)n) == 1 && sl == 64;
    EVP_MD_CTX_free(md);
    return ok ? 0 : bpt_err_ossl(BPT_ERROR, "kx: signing the session key");
}

int bpt_kx_service_new(bpt_kx_service **out, const bpt_kx_service_options *opts)
{
    bpt_kx_service *svc = NULL;
    bpt_kx_service_options defaults = BPT_KX_SERVICE_OPTIONS_INIT, o = BPT_KX_SERVICE_OPTIONS_INIT;
    pthread_condattr_t ca;

    if (out == NULL) {
        return bpt_err(BPT_EINVAL, "kx: service_new: NULL out");
    }
    *out = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    if (opts->version == 1) {
        /* the first version ends before max_sessions_per_client: the rest keep defaults */
        memcpy(&o, opts, offsetof(bpt_kx_service_options, max_sessions_per_client));
    } else if (opts->version == BPT_KX_SERVICE_OPTIONS_VERSION) {
        o = *opts;
    } else {
        return bpt_err(BPT_EINVAL, "kx: service options version %u, want %u", opts->version,
                       BPT_KX_SERVICE_OPTIONS_VERSION);
    }
    if (o.max_sessions == 0 || o.max_sessions > BPT_KX_MAX_SESSIONS_LIMIT) {
        return bpt_err(BPT_EINVAL, "kx: max_sessions %zu outside 1..%d", o.max_sessions,
                       BPT_KX_MAX_SESSIONS_LIMIT);
    }
    if (o.ttl_secs == 0) {
        o.ttl_secs = BPT_KX_DEFAULT_TTL_SECS;
    }
    if (o.first_use_secs > o.ttl_secs) {
        o.first_use_secs = o.ttl_secs; /* a session expires at its TTL anyway */
    }
    svc = calloc(1, sizeof(*svc));
    if (svc == NULL) {
        return bpt_err_nomem("kx: service");
    }
    svc->opts = o;
    svc->opts.version = BPT_KX_SERVICE_OPTIONS_VERSION;
    if (svc->opts.cleanup_interval_secs == 0) {
        svc->opts.cleanup_interval_secs = svc->opts.ttl_secs > 30 ? svc->opts.ttl_secs : 30;
    }
    svc->nbuckets = 16;
    while (svc->nbuckets < o.max_sessions) {
        svc->nbuckets <<= 1;
    }
    /* large tables come from mmap'd zero pages: only the buckets in use become resident */
    svc->buckets = calloc(svc->nbuckets, sizeof(*svc->buckets));
    svc->cbuckets = calloc(svc->nbuckets, sizeof(*svc->cbuckets));
    svc->heap = calloc(o.max_sessions, sizeof(*svc->heap));
    if (svc->buckets == NULL || svc->cbuckets == NULL || svc->heap == NULL ||
        RAND_bytes((unsigned char *)&svc->seed, sizeof(svc->seed)) != 1) {
        free(svc->buckets);
        free(svc->cbuckets);
        free(svc->heap);
        free(svc);
        return bpt_err_nomem("kx: session table");
    }
    pthread_mutex_init(&svc->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&svc->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (svc->opts.binding == BPT_KX_BINDING_SERVICE_KEY) {
        int krc = service_key_init(svc);
        if (krc < 0) {
            bpt_kx_service_free(svc);
            return krc;
        }
    } else if (svc->opts.binding != BPT_KX_BINDING_SESSION) {
        bpt_kx_service_free(svc);
        return bpt_err(BPT_EINVAL, "kx: binding %d unknown", (int)o.binding);
    }
    *out = svc;
    return 0;
}

void bpt_kx_service_free(bpt_kx_service *svc)
{
    if (svc == NULL) {
        return;
    }
    bpt_kx_service_stop_cleanup(svc);
    for (size_t i = 0; i < svc->count; i++) {
        bpt_kx_session_free(svc->heap[i]->s);
        free(svc->heap[i]);
    }
    for (size_t b = 0; b < svc->nbuckets && svc->cbuckets != NULL; b++) {
        for (struct client *c = svc->cbuckets[b], *next; c != NULL; c = next) {
            next = c->hnext;
            free(c);
        }
    }
    free(svc->buckets);
    free(svc->cbuckets);
    free(svc->heap);
    EVP_PKEY_free(svc->svc_key);
    bpt_report_free(svc->svc_report);
    pthread_cond_destroy(&svc->cond);
    pthread_mutex_destroy(&svc->mu);
    free(svc);
}

/* ---- the hash table by id ------------------------------------------------------------------ */

static size_t id_bucket(const bpt_kx_service *svc, const uint8_t id[BPT_KX_SESSION_ID_LEN])
{
    uint64_t h; /* ids come from RAND_bytes: their bytes are already uniform */
    memcpy(&h, id, sizeof(h));
    return (size_t)(h & (svc->nbuckets - 1));
}

static struct node *find_locked(const bpt_kx_service *svc, const uint8_t id[BPT_KX_SESSION_ID_LEN])
{
    for (struct node *n = svc->buckets[id_bucket(svc, id)]; n != NULL; n = n->hnext) {
        if (memcmp(bpt_kx_session_id(n->s), id, BPT_KX_SESSION_ID_LEN) == 0) {
            return n;
        }
    }
    return NULL;
}

/* ---- the expiry heap ----------------------------------------------------------------------- */

static void heap_set(bpt_kx_service *svc, size_t i, struct node *n)
{
    svc->heap[i] = n;
    n->heap_i = i;
}

static void heap_up(bpt_kx_service *svc, size_t i)
{
    struct node *n = svc->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (svc->heap[p]->expires_at <= n->expires_at) {
            break;
        }
        heap_set(svc, i, svc->heap[p]);
        i = p;
    }
    heap_set(svc, i, n);
}

static void heap_down(bpt_kx_service *svc, size_t i)
{
    struct node *n = svc->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = n->expires_at;
        if (l < svc->count && svc->heap[l]->expires_at < best) {
            m = l;
            best = svc->heap[l]->expires_at;
        }
        if (l + 1 < svc->count && svc->heap[l + 1]->expires_at < best) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        heap_set(svc, i, svc->heap[m]);
        i = m;
    }
    heap_set(svc, i, n);
}

/* ---- clients ----------------------------------------------------------------------------- */

static uint64_t client_hash(const bpt_kx_service *svc, const char *key)
{
    /* FNV-1a keyed by a per-service random seed, then a 64-bit finaliser: peers cannot aim
     * their addresses at one chain without knowing the seed */
    uint64_t h = 0xcbf29ce484222325ULL ^ svc->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static struct client *client_find_locked(const bpt_kx_service *svc, const char *key, uint64_t hash)
{
    for (struct client *c = svc->cbuckets[hash & (svc->nbuckets - 1)]; c != NULL; c = c->hnext) {
        if (c->hash == hash && strcmp(c->key, key) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Drop a client that holds nothing and has nothing reserved. */
static void client_release_locked(bpt_kx_service *svc, struct client *c)
{
    if (c == NULL || c->count > 0 || c->pending > 0) {
        return;
    }
    struct client **pp = &svc->cbuckets[c->hash & (svc->nbuckets - 1)];
    while (*pp != c) {
        pp = &(*pp)->hnext;
    }
    *pp = c->hnext;
    free(c);
}

/* ---- insert and remove ------------------------------------------------------------------- */

static void insert_locked(bpt_kx_service *svc, struct node *n)
{
    size_t b = id_bucket(svc, bpt_kx_session_id(n->s));
    n->hnext = svc->buckets[b];
    svc->buckets[b] = n;
    heap_set(svc, svc->count, n);
    svc->count++;
    heap_up(svc, n->heap_i);
    if (n->cl != NULL) {
        n->cprev = n->cl->newest;
        n->cnext = NULL;
        if (n->cl->newest != NULL) {
            n->cl->newest->cnext = n;
        } else {
            n->cl->oldest = n;
        }
        n->cl->newest = n;
        n->cl->count++;
    }
}

/* Unlink @p n from the table, the heap and its client; the caller frees it (after unlocking). */
static void remove_locked(bpt_kx_service *svc, struct node *n)
{
    struct node **pp = &svc->buckets[id_bucket(svc, bpt_kx_session_id(n->s))];
    while (*pp != n) {
        pp = &(*pp)->hnext;
    }
    *pp = n->hnext;
    size_t i = n->heap_i;
    svc->count--;
    if (i != svc->count) {
        struct node *last = svc->heap[svc->count];
        heap_set(svc, i, last);
        heap_up(svc, i);
        heap_down(svc, last->heap_i);
    }
    svc->heap[svc->count] = NULL;
    struct client *c = n->cl;
    if (c != NULL) {
        if (n->cprev != NULL) {
            n->cprev->cnext = n->cnext;
        } else {
            c->oldest = n->cnext;
        }
        if (n->cnext != NULL) {
            n->cnext->cprev = n->cprev;
        } else {
            c->newest = n->cprev;
        }
        c->count--;
        n->cl = NULL;
        client_release_locked(svc, c);
    }
    n->hnext = NULL;
}

/* Nodes removed under the lock wait here to be freed once it is released. */
struct graveyard {
    struct node *head;
    size_t n;
};

static void bury(struct graveyard *g, struct node *n)
{
    n->hnext = g->head;
    g->head = n;
    g->n++;
}

static void graveyard_free(struct graveyard *g)
{
    for (struct node *n = g->head, *next; n != NULL; n = next) {
        next = n->hnext;
        bpt_kx_session_free(n->s);
        free(n);
    }
    g->head = NULL;
}

/* Remove up to @p max expired sessions from the heap's top (lock held). */
static size_t expire_locked(bpt_kx_service *svc, struct graveyard *g, size_t max)
{
    size_t n = 0;
    while (n < max && svc->count > 0 && bpt_kx_session_is_expired(svc->heap[0]->s)) {
        struct node *top = svc->heap[0];
        remove_locked(svc, top);
        bury(g, top);
        n++;
    }
    svc->stats.expired += n;
    return n;
}

size_t bpt_kx_service_cleanup(bpt_kx_service *svc)
{
    size_t total = 0, n;
    do {
        struct graveyard g = {NULL, 0};
        pthread_mutex_lock(&svc->mu);
        n = expire_locked(svc, &g, EXPIRE_BATCH);
        pthread_mutex_unlock(&svc->mu);
        graveyard_free(&g);
        total += n;
    } while (n == EXPIRE_BATCH);
    if (total > 0) {
        BPT_LOG(BPT_LOG_INFO, "kx", "sessions expired count=%zu", total);
    }
    return total;
}

static void *cleaner_main(void *arg)
{
    bpt_kx_service *svc = arg;
    pthread_mutex_lock(&svc->mu);
    while (!svc->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t iv = svc->opts.cleanup_interval_secs;
        ts.tv_sec += iv > 86400 ? 86400 : (time_t)iv;
        int w = 0;
        while (!svc->stopping && w != ETIMEDOUT) {
            w = pthread_cond_timedwait(&svc->cond, &svc->mu, &ts);
        }
        if (svc->stopping) {
            break;
        }
        pthread_mutex_unlock(&svc->mu);
        (void)bpt_kx_service_cleanup(svc); /* in batches, the lock let go between them */
        pthread_mutex_lock(&svc->mu);
    }
    pthread_mutex_unlock(&svc->mu);
    return NULL;
}

int bpt_kx_service_start_cleanup(bpt_kx_service *svc)
{
    int rc = 0;
    pthread_mutex_lock(&svc->mu);
    if (svc->cleaner_running) {
        rc = bpt_err(BPT_EBUSY, "kx: cleanup thread already running");
    } else {
        svc->stopping = false;
        if (pthread_create(&svc->cleaner, NULL, cleaner_main, svc) != 0) {
            rc = bpt_err(BPT_ERROR, "kx: cannot start the cleanup thread");
        } else {
            svc->cleaner_running = true;
        }
    }
    pthread_mutex_unlock(&svc->mu);
    return rc;
}

void bpt_kx_service_stop_cleanup(bpt_kx_service *svc)
{
    pthread_mutex_lock(&svc->mu);
    bool running = svc->cleaner_running;
    svc->stopping = true;
    pthread_cond_broadcast(&svc->cond);
    pthread_mutex_unlock(&svc->mu);
    if (running) {
        pthread_join(svc->cleaner, NULL);
        pthread_mutex_lock(&svc->mu);
        svc->cleaner_running = false;
        pthread_mutex_unlock(&svc->mu);
    }
}

/* true when @p n was created at least first_use_secs ago and may be reclaimed (lock held). */
static bool reclaimable(const bpt_kx_service *svc, const struct node *n, int64_t now)
{
    return n != NULL && svc->opts.first_use_secs > 0 && now >= n->created_at &&
           (uint64_t)(now - n->created_at) >= svc->opts.first_use_secs;
}

static void reclaim_locked(bpt_kx_service *svc, struct graveyard *g, struct node *n)
{
    remove_locked(svc, n);
    bury(g, n);
    svc->stats.reclaimed++;
}

/*
 * Reserve a slot for a creation by @p client (NULL: none) under the lock: expire a few, make
 * room by reclaiming an unused session when a limit is reached, else refuse. *cl_out is the
 * client record holding the reservation.
 */
BPT_MUST_USE static int reserve_locked(struct client **cl_out, bpt_kx_service *svc,
                                       struct graveyard *g, const char *client)
{
    int64_t now = bpt_clock_now(&svc->opts.clock);
    struct client *cl = NULL;
    uint64_t h = 0;

    *cl_out = NULL;
    expire_locked(svc, g, EXPIRE_ON_CREATE);
    if (client != NULL) {
        h = client_hash(svc, client);
        cl = client_find_locked(svc, client, h);
        size_t cap = svc->opts.max_sessions_per_client;
        if (cl != NULL && cap > 0 && cl->count + cl->pending >= cap) {
            if (cl->count == 0 || !reclaimable(svc, cl->oldest, now)) {
                svc->stats.refused_client++;
                return bpt_err(BPT_ELIMIT, "kx: client %s holds %zu sessions (its share)", client,
                               cap);
            }
            reclaim_locked(svc, g, cl->oldest); /* may free cl when it held only that one */
            cl = client_find_locked(svc, client, h);
        }
    }
    if (svc->count + svc->pending >= svc->opts.max_sessions) {
        if (svc->count == 0 || !reclaimable(svc, svc->heap[0], now)) {
            svc->stats.refused++;
            return bpt_err(BPT_EBUSY, "kx: at capacity (%zu sessions)", svc->opts.max_sessions);
        }
        /* same TTL for all: the heap's top is the oldest session */
        reclaim_locked(svc, g, svc->heap[0]);
        if (client != NULL) {
            cl = client_find_locked(svc, client, h);
        }
    }
    if (client != NULL && cl == NULL) {
        cl = calloc(1, sizeof(*cl));
        if (cl == NULL) {
            return bpt_err_nomem("kx: client record");
        }
        memcpy(cl->key, client, strlen(client) + 1);
        cl->hash = h;
        cl->hnext = svc->cbuckets[h & (svc->nbuckets - 1)];
        svc->cbuckets[h & (svc->nbuckets - 1)] = cl;
    }
    if (cl != NULL) {
        cl->pending++;
    }
    svc->pending++;
    *cl_out = cl;
    return 0;
}

int bpt_kx_service_create(bpt_kx_session_info *info, bpt_report **report_out, bpt_kx_service *svc,
                          const uint8_t *nonce, size_t nonce_len)
{
    return bpt_kx_service_create_for(info, report_out, svc, NULL, nonce, nonce_len);
}

int bpt_kx_service_create_for(bpt_kx_session_info *info, bpt_report **report_out,
                              bpt_kx_service *svc, const char *client, const uint8_t *nonce,
                              size_t nonce_len)
{
    int rc = BPT_ERROR;
    bpt_kx_session *s = NULL;
    bpt_report *report = NULL;
    bool reserved = false;
    struct client *cl = NULL;
    struct node *node = NULL;
    struct graveyard g = {NULL, 0};
    uint8_t rd[64];
    char *rd_hex = NULL;

    if (report_out != NULL) {
        *report_out = NULL;
    }
    if (info == NULL || svc == NULL || (nonce == NULL && nonce_len != 0)) {
        return bpt_err(BPT_EINVAL, "kx: create: NULL argument");
    }
    /* The first version of bpt_kx_session_info is this one: it is filled in place. */
    if ((rc = bpt_sized_check(info, sizeof(*info), "bpt_kx_session_info")) < 0) {
        return rc;
    }
    if (nonce_len != 0 && (nonce_len < BPT_KX_NONCE_MIN || nonce_len > BPT_KX_NONCE_MAX)) {
        return bpt_err(BPT_EINVAL, "kx: nonce is %zu bytes, want %d..%d", nonce_len,
                       BPT_KX_NONCE_MIN, BPT_KX_NONCE_MAX);
    }
    if (client != NULL && strlen(client) >= CLIENT_KEY_MAX) {
        return bpt_err(BPT_EINVAL, "kx: client key longer than %d bytes", CLIENT_KEY_MAX - 1);
    }
    pthread_mutex_lock(&svc->mu);
    rc = reserve_locked(&cl, svc, &g, client);
    pthread_mutex_unlock(&svc->mu);
    graveyard_free(&g);
    if (rc < 0) {
        return rc;
    }
    reserved = true;

    node = calloc(1, sizeof(*node));
    if (node == NULL) {
        rc = bpt_err_nomem("kx: session node");
        goto out;
    }
    BPT_CHECK(bpt_kx_session_new(&s, svc->opts.ttl_secs, &svc->opts.clock));
    BPT_CHECK(bpt_kx_report_data(rd, bpt_kx_session_public_key(s), bpt_kx_session_id(s), nonce,
                                 nonce_len));
    info->service_key = false;
    if (svc->opts.binding == BPT_KX_BINDING_SERVICE_KEY) {
        BPT_CHECK(sign_session(info->signature, svc, rd));
        memcpy(info->service_public_key, svc->svc_pub, 32);
        info->service_key = true;
        if (svc->svc_report) {
            BPT_CHECK(bpt_report_clone(&report, svc->svc_report));
            bpt_kx_session_set_attestation_digest(s, svc->svc_digest);
        }
    } else if (svc->opts.attest != NULL) {
        rc = svc->opts.attest(&report, rd, svc->opts.attest_userdata);
        if (rc < 0 || report == NULL) {
            if (rc >= 0) {
                rc = bpt_err(BPT_ERROR, "kx: attester returned no report");
            }
            bpt_err_prefix(rc, "kx: attestation");
            goto out;
        }
        BPT_CHECK(bpt_hex_encode(&rd_hex, rd, sizeof(rd)));
        BPT_CHECK(bpt_report_set_key_binding(report, bpt_kx_session_public_key(s),
                                             BPT_KX_PUBLIC_KEY_LEN, "x25519", rd_hex));
        char digest[65];
        bpt_report_evidence_digest(digest, report);
        bpt_kx_session_set_attestation_digest(s, digest);
    }
    memcpy(info->id, bpt_kx_session_id(s), BPT_KX_SESSION_ID_LEN);
    memcpy(info->id_hex, bpt_kx_session_id_hex(s), sizeof(info->id_hex));
    memcpy(info->public_key, bpt_kx_session_public_key(s), BPT_KX_PUBLIC_KEY_LEN);
    memcpy(info->report_data, rd, sizeof(rd));
    info->created_at = bpt_kx_session_created_at(s);
    info->expires_at = bpt_kx_session_expires_at(s);

    node->s = s;
    node->created_at = info->created_at;
    node->expires_at = info->expires_at;
    node->cl = cl;
    pthread_mutex_lock(&svc->mu);
    svc->pending--;
    if (cl != NULL) {
        cl->pending--;
    }
    reserved = false;
    insert_locked(svc, node);
    svc->stats.created++;
    pthread_mutex_unlock(&svc->mu);
    s = NULL;
    node = NULL;
    BPT_LOG(BPT_LOG_DEBUG, "kx", "session created id=%s", info->id_hex);
    if (report_out != NULL) {
        *report_out = report;
        report = NULL;
    }
    rc = 0;
out:
    if (reserved) {
        pthread_mutex_lock(&svc->mu);
        svc->pending--;
        if (cl != NULL) {
            cl->pending--;
            client_release_locked(svc, cl);
        }
        pthread_mutex_unlock(&svc->mu);
    }
    free(node);
    bpt_free(rd_hex);
    bpt_report_free(report);
    bpt_kx_session_free(s);
    return rc;
}

int bpt_kx_service_consume(bpt_kx_session **out, bpt_kx_service *svc, const char *id_hex)
{
    int rc = BPT_ERROR;
    uint8_t id[BPT_KX_SESSION_ID_LEN];
    bpt_kx_session *s = NULL;

    if (out == NULL || svc == NULL) {
        return bpt_err(BPT_EINVAL, "kx: consume: NULL argument");
    }
    *out = NULL;
    BPT_CHECK(bpt_kx_id_parse(id, id_hex));
    pthread_mutex_lock(&svc->mu);
    struct node *n = find_locked(svc, id);
    if (n != NULL) {
        remove_locked(svc, n);
        s = n->s;
        free(n);
        if (bpt_kx_session_is_expired(s)) {
            svc->stats.expired++;
        } else {
            svc->stats.consumed++;
        }
    }
    pthread_mutex_unlock(&svc->mu);
    if (s == NULL) {
        rc = bpt_err(BPT_ENOTFOUND, "kx: session %s not found", id_hex);
        goto out;
    }
    if (bpt_kx_session_is_expired(s)) {
        rc = bpt_err(BPT_EEXPIRED, "kx: session %s expired at %lld", id_hex,
                     (long long)bpt_kx_session_expires_at(s));
        bpt_kx_session_free(s);
        goto out;
    }
    *out = s;
    rc = 0;
out:
    return rc;
}

int bpt_kx_service_public_key(uint8_t out[BPT_KX_PUBLIC_KEY_LEN], bpt_kx_service *svc,
                              const char *id_hex)
{
    int rc = BPT_ERROR;
    uint8_t id[BPT_KX_SESSION_ID_LEN];

    if (out == NULL || svc == NULL) {
        return bpt_err(BPT_EINVAL, "kx: public_key: NULL argument");
    }
    BPT_CHECK(bpt_kx_id_parse(id, id_hex));
    pthread_mutex_lock(&svc->mu);
    struct node *n = find_locked(svc, id);
    if (n == NULL) {
        rc = bpt_err(BPT_ENOTFOUND, "kx: session %s not found", id_hex);
    } else if (bpt_kx_session_is_expired(n->s)) {
        rc = bpt_err(BPT_EEXPIRED, "kx: session %s expired", id_hex);
    } else {
        memcpy(out, bpt_kx_session_public_key(n->s), BPT_KX_PUBLIC_KEY_LEN);
        rc = 0;
    }
    pthread_mutex_unlock(&svc->mu);
out:
    return rc;
}

/* Expired sessions not yet removed in the heap below @p i: they form a subtree at the top
 * (a parent never expires after its children), so only they and their edge are visited; the
 * recursion is as deep as the heap (about 20 levels at a million sessions). */
static size_t count_expired_locked(const bpt_kx_service *svc, size_t i)
{
    if (i >= svc->count || !bpt_kx_session_is_expired(svc->heap[i]->s)) {
        return 0;
    }
    return 1 + count_expired_locked(svc, 2 * i + 1) + count_expired_locked(svc, 2 * i + 2);
}

size_t bpt_kx_service_active_count(bpt_kx_service *svc)
{
    pthread_mutex_lock(&svc->mu);
    size_t n = svc->count - count_expired_locked(svc, 0);
    pthread_mutex_unlock(&svc->mu);
    return n;
}

void bpt_kx_service_get_stats(bpt_kx_service_stats *out, bpt_kx_service *svc)
{
    bpt_kx_service_stats full;
    if (!out || !svc || out->size < sizeof(full)) { /* the first version's size */
        return;
    }
    pthread_mutex_lock(&svc->mu);
    full = svc->stats;
    full.active = svc->count;
    pthread_mutex_unlock(&svc->mu);
    full.size = sizeof(full);
    bpt_sized_out(out, &full, sizeof(full));
}

int bpt_kx_service_attest(bpt_report **out, bpt_kx_service *svc, const uint8_t report_data[64])
{
    *out = NULL;
    if (svc->opts.attest == NULL) {
        return bpt_err(BPT_ENOTSUP, "kx: the service has no attester");
    }
    int rc = svc->opts.attest(out, report_data, svc->opts.attest_userdata);
    if (rc >= 0 && *out == NULL) {
        rc = bpt_err(BPT_ERROR, "kx: attester returned no report");
    }
    return rc;
}
