/*
 * Attestation snapshots, the TeeContext and the TeeLayer (middleware.h).
 *
 * A snapshot is made once from a verified attestation, with the three stamp values computed
 * then, and never changes; it is reference-counted. The TeeLayer's current snapshot is one
 * pointer behind a mutex held only to copy the pointer and take a reference (never during a
 * handler, a stamp or a free): a swap never waits for a call and a call never waits for more than
 * that copy. A result is stamped from the one snapshot its call took, so it is never half one
 * attestation and half another.
 */
#include "middleware/middleware_internal.h"

#include "core/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESERVED_PREFIX "tee."

/* ---- snapshots ------------------------------------------------------------------------------ */

struct bpt_tee_snapshot {
    atomic_int refs;
    bpt_verified *verified;
    bpt_provider provider;
    struct bpt_job_stamp stamp; /* what results are stamped with, computed once */
};

int bpt_tee_snapshot_new(bpt_tee_snapshot **out, bpt_verified *verified)
{
    bpt_tee_snapshot *s;
    const bpt_report *r;
    const bpt_measurement *m;

    if (!out || !verified) {
        return bpt_err(BPT_EINVAL, "tee snapshot: NULL argument");
    }
    *out = NULL;
    if (!(s = calloc(1, sizeof(*s)))) {
        return bpt_err_nomem("tee snapshot");
    }
    r = bpt_verified_report(verified);
    m = bpt_report_measurement(r);
    atomic_init(&s->refs, 1);
    s->verified = verified;
    s->provider = bpt_verified_provider(verified);
    s->stamp.set = true;
    snprintf(s->stamp.provider, sizeof(s->stamp.provider), "%s", bpt_report_provider_name(r));
    bpt_report_evidence_digest(s->stamp.digest, r);
    snprintf(s->stamp.measurement, sizeof(s->stamp.measurement), "%s:%s", m->algorithm, m->digest);
    *out = s;
    return 0;
}

bpt_tee_snapshot *bpt_tee_snapshot_ref(bpt_tee_snapshot *s)
{
    if (s) {
        atomic_fetch_add(&s->refs, 1);
    }
    return s;
}

void bpt_tee_snapshot_free(bpt_tee_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    bpt_verified_free(s->verified);
    free(s);
}

const bpt_verified *bpt_tee_snapshot_attestation(const bpt_tee_snapshot *s)
{
    return s ? s->verified : NULL;
}

const char *bpt_tee_snapshot_digest(const bpt_tee_snapshot *s)
{
    return s ? s->stamp.digest : NULL;
}

const char *bpt_tee_snapshot_measurement(const bpt_tee_snapshot *s)
{
    return s ? s->stamp.measurement : NULL;
}

bpt_provider bpt_tee_snapshot_provider(const bpt_tee_snapshot *s)
{
    return s ? s->provider : BPT_PROVIDER_UNKNOWN;
}

/* ---- the TeeContext -------------------------------------------------------------------------- */

struct bpt_tee_context {
    bpt_tee_snapshot *snapshot; /* a reference, or NULL */
    bpt_kx_store *store;        /* borrowed, or NULL */
    char *deployment_id;
};

int bpt_tee_context_new(bpt_tee_context **out, bpt_tee_snapshot *snapshot, bpt_kx_store *store,
                        const char *deployment_id)
{
    bpt_tee_context *c;
    if (!out) {
        return bpt_err(BPT_EINVAL, "tee context: no out pointer");
    }
    *out = NULL;
    if (deployment_id && strlen(deployment_id) > 256) {
        return bpt_err(BPT_EINVAL, "tee context: deployment id longer than 256 bytes");
    }
    if (!(c = calloc(1, sizeof(*c))) ||
        (deployment_id && !(c->deployment_id = strdup(deployment_id)))) {
        free(c);
        return bpt_err_nomem("tee context");
    }
    c->snapshot = bpt_tee_snapshot_ref(snapshot);
    c->store = store;
    *out = c;
    return 0;
}

void bpt_tee_context_free(bpt_tee_context *c)
{
    if (!c) {
        return;
    }
    bpt_tee_snapshot_free(c->snapshot);
    free(c->deployment_id);
    free(c);
}

bpt_provider bpt_tee_context_provider(const bpt_tee_context *c)
{
    return c ? bpt_tee_snapshot_provider(c->snapshot) : BPT_PROVIDER_UNKNOWN;
}

const bpt_tee_snapshot *bpt_tee_context_snapshot(const bpt_tee_context *c)
{
    return c ? c->snapshot : NULL;
}

const bpt_verified *bpt_tee_context_attestation(const bpt_tee_context *c)
{
    return c ? bpt_tee_snapshot_attestation(c->snapshot) : NULL;
}

const char *bpt_tee_context_deployment_id(const bpt_tee_context *c)
{
    return c ? c->deployment_id : NULL;
}

int bpt_tee_context_secret(bpt_secret **out, const bpt_tee_context *c, const char *name)
{
    int rc;
    if (!out || !name) {
        return bpt_err(BPT_EINVAL, "tee context: secret: NULL argument");
    }
    *out = NULL;
    if (!c || !c->store) {
        return bpt_err(BPT_ENOTFOUND,
                       "tee context: no sealed secret named '%.128s' (this service takes no "
                       "sealed secrets)",
                       name);
    }
    rc = bpt_kx_store_get(out, c->store, name);
    if (rc == BPT_ENOTFOUND) {
        rc = bpt_err(BPT_ENOTFOUND,
                     "tee context: no sealed secret named '%.128s' was delivered (seal it to the "
                     "service first)",
                     name);
    }
    return rc;
}

/* ---- the TeeLayer ---------------------------------------------------------------------------- */

/*
 * The current stamp is kept twice: as the snapshot (for bpt_tee_layer_snapshot(), behind the
 * mutex) and as a copy of its stamp values in atomic words behind a sequence counter, which is
 * what calls read. A reader copies the words and retries if a swap ran meanwhile (an odd or
 * changed sequence): no lock, no reference count, no allocation on the call path, and a copy
 * that is never two snapshots mixed. Writers (swaps) are serialised by the mutex.
 */
#define STAMP_WORDS ((sizeof(struct bpt_job_stamp) + 7) / 8)

struct bpt_tee_layer {
    uint64_t id; /* unique in the process: what a thread's cached copy is keyed by */
    bpt_tee_requirement requirement;
    pthread_mutex_t lock; /* swaps, and `current` */
    bpt_tee_snapshot *current;
    atomic_uint_fast64_t seq; /* odd while a swap writes `words` */
    _Atomic uint64_t words[STAMP_WORDS];
    atomic_uint_fast64_t refused;
};

/* Layer ids start at 1, so a thread's empty cache (id 0) matches none. */
static atomic_uint_fast64_t next_layer_id = 1;

/* Each thread's copy of the last stamp it read, with the layer and sequence it came from: a
 * call re-reads the shared words only after a swap. */
static _Thread_local struct {
    uint64_t layer_id, seq;
    struct bpt_job_stamp stamp;
} cached;

int bpt_tee_layer_new(bpt_tee_layer **out, bpt_tee_requirement requirement)
{
    bpt_tee_layer *t;
    if (!out) {
        return bpt_err(BPT_EINVAL, "tee layer: no out pointer");
    }
    *out = NULL;
    if (!(t = calloc(1, sizeof(*t)))) {
        return bpt_err_nomem("tee layer");
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return bpt_err(BPT_ERROR, "tee layer: mutex");
    }
    t->requirement = requirement;
    t->id = atomic_fetch_add(&next_layer_id, 1);
    *out = t;
    return 0;
}

void bpt_tee_layer_free(bpt_tee_layer *t)
{
    if (!t) {
        return;
    }
    bpt_tee_snapshot_free(t->current);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void bpt_tee_layer_set_snapshot(bpt_tee_layer *t, bpt_tee_snapshot *snapshot)
{
    uint64_t w[STAMP_WORDS] = {0};
    bpt_tee_snapshot *old;
    if (snapshot) {
        memcpy(w, &snapshot->stamp, sizeof(snapshot->stamp));
    }
    bpt_tee_snapshot_ref(snapshot);
    pthread_mutex_lock(&t->lock);
    atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed); /* odd: writing */
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < STAMP_WORDS; i++) {
        atomic_store_explicit(&t->words[i], w[i], memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&t->seq, 1, memory_order_release); /* even: done */
    old = t->current;
    t->current = snapshot;
    pthread_mutex_unlock(&t->lock);
    bpt_tee_snapshot_free(old); /* outside the lock: a last reference frees */
}

bpt_tee_snapshot *bpt_tee_layer_snapshot(bpt_tee_layer *t)
{
    bpt_tee_snapshot *s;
    pthread_mutex_lock(&t->lock);
    s = bpt_tee_snapshot_ref(t->current);
    pthread_mutex_unlock(&t->lock);
    return s;
}

uint64_t bpt_tee_layer_refused(const bpt_tee_layer *t)
{
    return t ? atomic_load(&((bpt_tee_layer *)t)->refused) : 0;
}

/* The current stamp, copied whole between two equal even sequence numbers (or this thread's copy
 * of it, while no swap ran since). */
static void current_stamp(bpt_tee_layer *t, struct bpt_job_stamp *out)
{
    uint64_t w[STAMP_WORDS], s1, s2;
    s1 = atomic_load_explicit(&t->seq, memory_order_acquire);
    if (cached.layer_id == t->id && cached.seq == s1) {
        *out = cached.stamp;
        return;
    }
    do {
        s1 = atomic_load_explicit(&t->seq, memory_order_acquire);
        for (size_t i = 0; i < STAMP_WORDS; i++) {
            w[i] = atomic_load_explicit(&t->words[i], memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&t->seq, memory_order_relaxed);
    } while ((s1 & 1) || s1 != s2);
    memcpy(out, w, sizeof(*out));
    cached.layer_id = t->id;
    cached.seq = s1;
    cached.stamp = *out;
}

static int tee_layer_call(const bpt_job_call *call, bpt_job_result *result,
                          const bpt_tee_context *tee, const bpt_job_next *next, void *state)
{
    bpt_tee_layer *t = state;
    const bpt_tee_snapshot *ctx_snap = bpt_tee_context_snapshot(tee);
    int rc = bpt_job_next_call(next, call, result, tee);

    if (rc < 0 || result->is_error) {
        return rc;
    }
    if (result->meta.n) {
        bpt_job_meta_drop_prefix(&result->meta, RESERVED_PREFIX); /* never the handler's word */
    }
    /* The call's stamp, all three in one copy: the context's snapshot (what the handler saw),
     * else the current one. */
    if (ctx_snap) {
        result->stamp = ctx_snap->stamp;
    } else {
        current_stamp(t, &result->stamp);
    }
    if (!result->stamp.set && t->requirement == BPT_REQUIREMENT_REQUIRED) {
        atomic_fetch_add(&t->refused, 1);
        bpt_job_result_error(result, "tee_unavailable",
                             "the TEE requirement is 'required' and there is no verified "
                             "attestation to stamp the result with");
    }
    return 0;
}

bpt_layer bpt_tee_layer_as_layer(bpt_tee_layer *t)
{
    return (bpt_layer){BPT_LAYER_VERSION, "tee", tee_layer_call, t};
}
