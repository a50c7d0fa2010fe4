/**
 * @file secret.h
 * Secret bytes in memory that is cleansed on free and, where the OS allows, locked
 * (mlock) and excluded from core dumps (MADV_DONTDUMP).
 *
 * A failed mlock is not an error (containers allow little locked memory); it is counted and
 * visible through bpt_secret_stats(). There is deliberately no print or hex function.
 *
 * Threads: a bpt_secret is immutable once filled and may be read from many threads; freeing
 * it while another thread reads it is the caller's bug. bpt_secret_stats() is safe from any thread.
 */
#ifndef BPT_SECRET_H
#define BPT_SECRET_H

#include "common.h"

BPT_BEGIN_DECLS

typedef struct bpt_secret bpt_secret;

/**
 * Allocate a zero-filled secret of @p len bytes (len may be 0).
 * @param[out] out the secret; free with bpt_secret_free(). NULL on failure.
 * @return 0; BPT_ELIMIT past BPT_SECRET_MAX_BYTES; BPT_ENOMEM.
 */
BPT_API BPT_MUST_USE int bpt_secret_new(bpt_secret **out, size_t len);

/**
 * Allocate a secret holding a copy of @p p / @p len (p may be NULL only when len is 0).
 * @return as bpt_secret_new(); BPT_EINVAL for a NULL @p p with a non-zero @p len.
 */
BPT_API BPT_MUST_USE int bpt_secret_from(bpt_secret **out, const uint8_t *p, size_t len);

/** The secret's bytes (borrowed until bpt_secret_free()). */
BPT_API const uint8_t *bpt_secret_data(const bpt_secret *s);

/** Writable access for the code that fills a new secret. */
BPT_API uint8_t *bpt_secret_data_mut(bpt_secret *s);

/** Length in bytes; 0 for NULL. */
BPT_API size_t bpt_secret_len(const bpt_secret *s);

/** true if the secret's pages are locked in memory. */
BPT_API bool bpt_secret_is_locked(const bpt_secret *s);

/** Constant-time equality of two secrets (lengths are not secret). */
BPT_API bool bpt_secret_equal(const bpt_secret *a, const bpt_secret *b);

/** Cleanse, unlock and release; NULL does nothing. */
BPT_API void bpt_secret_free(bpt_secret *s);

/** Process-wide counters of secure allocations (size-prefixed: BPT_SECRET_COUNTERS_INIT). */
typedef struct bpt_secret_counters {
    uint32_t size;          /**< sizeof(bpt_secret_counters) as the caller was compiled */
    uint64_t allocations;   /**< secrets allocated so far */
    uint64_t lock_failures; /**< allocations whose mlock was refused */
    uint64_t live;          /**< secrets not yet freed */
} bpt_secret_counters;

#define BPT_SECRET_COUNTERS_INIT                                                                   \
    {                                                                                              \
        .size = sizeof(bpt_secret_counters)                                                        \
    }

/** Fill @p out (its size set by the caller) with the current counters; a NULL @p out, or one
 * whose size is smaller than the first version, is left as it is. */
BPT_API void bpt_secret_stats(bpt_secret_counters *out);

/**
 * Keep this process's memory out of core dumps and away from same-user debuggers: sets
 * PR_SET_DUMPABLE to 0 (no core file, /proc/PID/mem and ptrace attach need CAP_SYS_PTRACE)
 * and RLIMIT_CORE to 0 (soft and hard). For long-running processes holding live session
 * keys and opened secrets (`bpt serve`, the runner); call it once at start-up.
 * @return 0; BPT_EIO naming the call that failed (errno's text). BPT_ENOTSUP on a system
 *         without prctl (not Linux).
 * Threads: process-wide; call it before starting threads.
 */
BPT_API BPT_MUST_USE int bpt_secret_protect_process(void);

/** The largest secret bpt_secret_new() accepts. */
#define BPT_SECRET_MAX_BYTES (16u * 1024u * 1024u)

/**
 * Constant-time comparison of @p n bytes: true when equal. For MACs, tags, tokens and
 * expected-versus-received digests.
 */
BPT_API bool bpt_ct_equal(const void *a, const void *b, size_t n);

BPT_END_DECLS

#endif
