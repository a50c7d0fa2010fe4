#include "core/logging.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* The one process-wide piece of mutable state besides the thread-local error (STYLE.md). */
static _Atomic int min_level = BPT_LOG_OFF;
static bpt_log_fn sink_fn;
static void *sink_userdata;

void bpt_log_set_sink(bpt_log_fn fn, void *userdata, bpt_log_level level)
{
    atomic_store(&min_level, BPT_LOG_OFF);
    sink_fn = fn;
    sink_userdata = userdata;
    atomic_store(&min_level, fn ? (int)level : BPT_LOG_OFF);
}

/* A sink that replaces the process-wide one on this thread while a scope is entered (the
 * verification context's sink, for the length of one verification). */
static _Thread_local const struct bpt_log_sink *scoped;

const struct bpt_log_sink *bpt_log_scope_enter(const struct bpt_log_sink *sink)
{
    const struct bpt_log_sink *prev = scoped;
    scoped = sink && sink->fn ? sink : prev;
    return prev;
}

void bpt_log_scope_leave(const struct bpt_log_sink *prev)
{
    scoped = prev;
}

bool bpt_log_enabled(bpt_log_level level)
{
    int m =
        scoped ? (int)scoped->min_level : atomic_load_explicit(&min_level, memory_order_relaxed);
    return m != BPT_LOG_OFF && (int)level >= m;
}

void bpt_log_write(bpt_log_level level, const char *module, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    const struct bpt_log_sink *s = scoped;
    bpt_log_fn fn = s ? s->fn : sink_fn;
    void *ud = s ? s->userdata : sink_userdata;

    if (!fn || !bpt_log_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    if (vsnprintf(line, sizeof(line), fmt, ap) < 0) {
        line[0] = '\0';
    }
    va_end(ap);
    fn(level, module, line, ud);
}

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

const char *bpt_log_level_name(bpt_log_level level)
{
    if ((int)level < 0 || (int)level > BPT_LOG_OFF) {
        return "unknown";
    }
    return level_names[level];
}

int bpt_log_level_parse(bpt_log_level *out, const char *name)
{
    for (int i = 0; i <= BPT_LOG_OFF; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *out = (bpt_log_level)i;
            return 0;
        }
    }
    return bpt_err(BPT_EINVAL,
                   "log level '%s' unknown (expected trace, debug, info, warn, "
                   "error or off)",
                   name ? name : "(null)");
}
