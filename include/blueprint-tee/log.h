/**
 * @file log.h
 * Logging: the library prints nothing unless a sink is installed.
 *
 * Lines have the form "module: event key=value ...". Secrets, tokens and sealed payloads are
 * never logged at any level.
 *
 * Threads: bpt_log_set_sink() should be called once at startup, before other threads use the
 * library; the sink itself is called from whichever thread logs and must be thread-safe.
 */
#ifndef BPT_LOG_H
#define BPT_LOG_H

#include "common.h"

BPT_BEGIN_DECLS

typedef enum bpt_log_level {
    BPT_LOG_TRACE = 0,
    BPT_LOG_DEBUG = 1,
    BPT_LOG_INFO = 2,
    BPT_LOG_WARN = 3,
    BPT_LOG_ERROR = 4,
    BPT_LOG_OFF = 5,
} bpt_log_level;

/**
 * A log sink. @p module is a short static name ("sev_snp"), @p msg one formatted line without
 * a trailing newline; both are borrowed for the duration of the call.
 */
typedef void (*bpt_log_fn)(bpt_log_level level, const char *module, const char *msg,
                           void *userdata);

/**
 * Install @p fn as the process-wide sink for messages at @p min_level and above.
 * @p fn NULL (or min_level BPT_LOG_OFF) turns logging off.
 */
BPT_API void bpt_log_set_sink(bpt_log_fn fn, void *userdata, bpt_log_level min_level);

/** The lowercase name of a level ("warn"); never NULL. */
BPT_API const char *bpt_log_level_name(bpt_log_level level);

/**
 * Parse a level name (trace, debug, info, warn, error, off).
 * @return 0, or BPT_EINVAL for an unknown name.
 */
BPT_API BPT_MUST_USE int bpt_log_level_parse(bpt_log_level *out, const char *name);

BPT_END_DECLS

#endif
