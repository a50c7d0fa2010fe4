/* Internal logging: BPT_LOG(level, module, fmt, ...) formats only when the level is enabled. */
#ifndef BPT_CORE_LOGGING_H
#define BPT_CORE_LOGGING_H

#include <blueprint-tee/log.h>

bool bpt_log_enabled(bpt_log_level level);

/** A sink with its level, as a verification context carries one. */
struct bpt_log_sink {
    bpt_log_fn fn;
    void *userdata;
    bpt_log_level min_level;
};

/**
 * Send this thread's log lines to @p sink (when it has a function) until
 * bpt_log_scope_leave(), instead of the process-wide sink. Scopes nest.
 * @return the scope to restore with bpt_log_scope_leave().
 */
const struct bpt_log_sink *bpt_log_scope_enter(const struct bpt_log_sink *sink);
void bpt_log_scope_leave(const struct bpt_log_sink *prev);
void bpt_log_write(bpt_log_level level, const char *module, const char *fmt, ...) BPT_PRINTF(3, 4);

#define BPT_LOG(level, module, ...)                                                                \
    do {                                                                                           \
        if (bpt_log_enabled(level))                                                                \
            bpt_log_write((level), (module), __VA_ARGS__);                                         \
    } while (0)

#endif
