#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "bpt %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'bpt %s --help')\n", cmd);
    return BPT_EXIT_USAGE;
}

int cli_exit_class(int code)
{
    switch (code) {
    case BPT_EFETCH:
        return BPT_EXIT_NETWORK;
    case BPT_EINVAL:
        return BPT_EXIT_USAGE;
    case BPT_EMALFORMED:
    case BPT_EIO:
    case BPT_ENOTFOUND:
    case BPT_ELIMIT:
        return BPT_EXIT_INPUT;
    default:
        return BPT_EXIT_REFUSED;
    }
}

int cli_lib_error(const char *cmd, int exit_code, const char *what)
{
    fprintf(stderr, "bpt %s: %s: %s\n", cmd, what, bpt_error_last());
    return exit_code;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return true;
        }
    }
    return false;
}

int cli_read_file(char **out, size_t *len_out, const char *path, size_t max)
{
    bpt_buf b = BPT_BUF_INIT(max);
    int rc = bpt_file_read(&b, path);
    if (rc == 0) {
        rc = bpt_buf_detach((uint8_t **)out, len_out, &b);
    }
    bpt_buf_dispose(&b);
    return rc;
}

static void stderr_sink(bpt_log_level level, const char *module, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "[%s] %s: %s\n", bpt_log_level_name(level), module, msg);
}

void cli_setup_logging(void)
{
    bpt_log_level lvl = BPT_LOG_WARN;
    const char *env = getenv("BPT_LOG");
    if (env && bpt_log_level_parse(&lvl, env) != 0) {
        fprintf(stderr, "bpt: BPT_LOG: %s (using warn)\n", bpt_error_last());
        lvl = BPT_LOG_WARN;
    }
    bpt_log_set_sink(stderr_sink, NULL, lvl);
}
