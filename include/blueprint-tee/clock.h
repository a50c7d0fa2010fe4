/**
 * @file clock.h
 * Time: unix seconds, an injectable clock for services, RFC 3339 parsing and formatting.
 *
 * Verifiers never read the clock: they take their time from the policy (`at`). Objects that
 * need "now" (sessions, caches) take a bpt_clock, so tests can fix it.
 *
 * Threads: reentrant. A bpt_clock's callback may be called from any thread that uses the
 * object it was given to.
 */
#ifndef BPT_CLOCK_H
#define BPT_CLOCK_H

#include "common.h"

BPT_BEGIN_DECLS

/** Returns the current time in unix seconds. */
typedef int64_t (*bpt_clock_fn)(void *userdata);

/** A clock: {NULL, NULL} (or a NULL pointer to one) means the system's real time. */
typedef struct bpt_clock {
    bpt_clock_fn now;
    void *userdata;
} bpt_clock;

/** The system time in unix seconds (CLOCK_REALTIME). */
BPT_API int64_t bpt_time_now(void);

/** Read @p clock; NULL or a clock without a function reads the system time. */
BPT_API int64_t bpt_clock_now(const bpt_clock *clock);

/** A clock that always answers *@p t (for tests and offline verification); t is borrowed. */
BPT_API bpt_clock bpt_clock_fixed(const int64_t *t);

/**
 * Parse "2023-04-05T00:00:00Z" (RFC 3339, 'T' or ' ' separator, optional fraction, 'Z' or
 * +hh:mm/-hh:mm offset) or a plain decimal unix time.
 * @return 0; BPT_EINVAL naming what was wrong.
 */
BPT_API BPT_MUST_USE int bpt_time_parse(int64_t *out, const char *text);

/**
 * Format @p t as "YYYY-MM-DDThh:mm:ssZ" into @p buf (at least 32 bytes); an instant outside
 * years 0000..9999 as "unix:<seconds>". Returns buf.
 */
BPT_API char *bpt_time_format(char buf[32], int64_t t);

BPT_END_DECLS

#endif
