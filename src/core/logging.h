/* Internal logging: BPT_LOG(level, module, fmt, ...) formats only when the level is enabled. */
#ifndef BPT_CORE_LOGGING_H
#define BPT_CORE_LOGGING_H

#include <blueprint-tee/log.h>

bool bpt_log_enabled(bpt_log_level level);
void bpt_log_write(bpt_log_level level, const char *module, const char *fmt, ...) BPT_PRINTF(3, 4);

#define BPT_LOG(level, module, ...)                                                                \
    do {                                                                                           \
        if (bpt_log_enabled(level))                                                                \
            bpt_log_write((level), (module), __VA_ARGS__);                                         \
    } while (0)

#endif
