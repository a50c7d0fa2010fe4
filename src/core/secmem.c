/*
 * Secret memory: page-aligned mmap, mlock and MADV_DONTDUMP best-effort (off under
 * AddressSanitizer and fuzzing builds, as s2n-tls does), cleansed and unlocked on free.
 */
#include <blueprint-tee/secret.h>

#include "core/err.h"
#include "core/util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <openssl/crypto.h>

#if defined(__SANITIZE_ADDRESS__) || defined(BPT_FUZZING)
#define BPT_SECMEM_LOCK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define BPT_SECMEM_LOCK 0
#endif
#endif
#ifndef BPT_SECMEM_LOCK
#define BPT_SECMEM_LOCK 1
#endif

struct bpt_secret {
    uint8_t *data; /* start of the mapping */
    size_t len;    /* bytes the caller asked for */
    size_t maplen; /* bytes mapped (whole pages) */
    bool locked;
};

static atomic_uint_fast64_t n_alloc;
static atomic_uint_fast64_t n_lock_fail;
static atomic_uint_fast64_t n_live;

int bpt_secret_new(bpt_secret **out, size_t len)
{
    struct bpt_secret *s = NULL;
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096;
    size_t maplen;
    void *m;

    *out = NULL;
    if (len > BPT_SECRET_MAX_BYTES) {
        return bpt_err(BPT_ELIMIT, "secret: %zu bytes exceeds the limit of %u", len,
                       BPT_SECRET_MAX_BYTES);
    }
    maplen = ((len ? len : 1) + pg - 1) / pg * pg;
    s = calloc(1, sizeof(*s));
    if (!s) {
        return bpt_err_nomem("secret");
    }
    m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(s);
        return bpt_err_nomem("secret pages");
    }
    s->data = m;
    s->len = len;
    s->maplen = maplen;
#if BPT_SECMEM_LOCK
    s->locked = mlock(m, maplen) == 0;
#ifdef MADV_DONTDUMP
    (void)madvise(m, maplen, MADV_DONTDUMP);
#endif
#endif
    atomic_fetch_add(&n_alloc, 1);
    atomic_fetch_add(&n_live, 1);
    if (!s->locked) {
        atomic_fetch_add(&n_lock_fail, 1);
    }
    *out = s;
    return 0;
}

int bpt_secret_from(bpt_secret **out, const uint8_t *p, size_t len)
{
    int rc;
    if (!p && len) {
        *out = NULL;
        return bpt_err(BPT_EINVAL, "secret: NULL source for %zu bytes", len);
    }
    rc = bpt_secret_new(out, len);
    if (rc == 0 && len) {
        memcpy((*out)->data, p, len);
    }
    return rc;
}

const uint8_t *bpt_secret_data(const bpt_secret *s)
{
    return s ? s->data : NULL;
}

uint8_t *bpt_secret_data_mut(bpt_secret *s)
{
    return s ? s->data : NULL;
}

size_t bpt_secret_len(const bpt_secret *s)
{
    return s ? s->len : 0;
}

bool bpt_secret_is_locked(const bpt_secret *s)
{
    return s && s->locked;
}

bool bpt_secret_equal(const bpt_secret *a, const bpt_secret *b)
{
    if (!a || !b || a->len != b->len) {
        return false;
    }
    return CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}

void bpt_secret_free(bpt_secret *s)
{
    if (!s) {
        return;
    }
    OPENSSL_cleanse(s->data, s->maplen);
    if (s->locked) {
        (void)munlock(s->data, s->maplen);
    }
    (void)munmap(s->data, s->maplen);
    atomic_fetch_sub(&n_live, 1);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

void bpt_secret_stats(bpt_secret_counters *out)
{
    bpt_secret_counters full = BPT_SECRET_COUNTERS_INIT;
    if (!out || out->size < sizeof(full)) { /* the first version's size */
        return;
    }
    full.allocations = atomic_load(&n_alloc);
    full.lock_failures = atomic_load(&n_lock_fail);
    full.live = atomic_load(&n_live);
    bpt_sized_out(out, &full, sizeof(full));
}

bool bpt_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

int bpt_secret_protect_process(void)
{
#ifdef __linux__
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) {
        return bpt_err(BPT_EIO, "secret: setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return bpt_err(BPT_EIO, "secret: prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
    }
    return 0;
#else
    return bpt_err(BPT_ENOTSUP, "secret: protecting the process needs Linux prctl");
#endif
}
