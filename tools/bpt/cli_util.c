/*
 * What every command shares: the exit-status table, error and JSON output, file reading and
 * logging. The state of the run (command name, --json, the facts noted for a failure's JSON)
 * lives here for the one command a process runs.
 */
#include "cli.h"

#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static struct {
    const char *cmd;
    bool json;
    json_t *notes; /* members a failure's JSON object carries */
} run = {"bpt", false, NULL};

/*
 * The one table from (what failed, library code) to exit class. Out of memory and other local
 * failures are class 3 wherever they happen; the rest by where:
 *
 *   where           refused (1)                 usage (2)   input (3)           network (4)
 *   ARG             -                           any         -                   -
 *   FILE            -                           -           any                 -
 *   CHECK           EINVAL (the check said no)  -           other               -
 *   EVIDENCE        any other                   -           EIO (a cache dir)   EFETCH
 *   PEER            any other (EPROTOCOL,       EINVAL      EIO                 EFETCH (also HTTP
 *                   attestation kinds)          (URL)                           5xx/429)
 *   HOST            ENOTSUP (no usable TEE)     -           other               EFETCH
 *   LISTEN          -                           EINVAL      -                   other
 *   OUTPUT          -                           -           any                 -
 *   RUNTIME         any other (EEXISTS, EINVAL, -           ENOTFOUND, EIO,     EFETCH
 *                   ENOTSUP, EPROTOCOL,                     EBUSY, ERROR
 *                   attestation kinds)
 */
int cli_exit_for(int rc, cli_where where)
{
    if (rc >= 0) {
        return BPT_EXIT_OK;
    }
    if (rc == BPT_ENOMEM) {
        return BPT_EXIT_INPUT;
    }
    switch (where) {
    case CLI_AT_ARG:
        return BPT_EXIT_USAGE;
    case CLI_AT_FILE:
    case CLI_AT_OUTPUT:
        return BPT_EXIT_INPUT;
    case CLI_AT_CHECK:
        return rc == BPT_EINVAL ? BPT_EXIT_REFUSED : BPT_EXIT_INPUT;
    case CLI_AT_EVIDENCE:
        return rc == BPT_EFETCH ? BPT_EXIT_NETWORK
               : rc == BPT_EIO  ? BPT_EXIT_INPUT
                                : BPT_EXIT_REFUSED;
    case CLI_AT_PEER:
        return rc == BPT_EFETCH   ? BPT_EXIT_NETWORK
               : rc == BPT_EINVAL ? BPT_EXIT_USAGE
               : rc == BPT_EIO    ? BPT_EXIT_INPUT
                                  : BPT_EXIT_REFUSED;
    case CLI_AT_HOST:
        return rc == BPT_ENOTSUP || rc == BPT_EUNSATISFIABLE ? BPT_EXIT_REFUSED
               : rc == BPT_EFETCH                            ? BPT_EXIT_NETWORK
                                                             : BPT_EXIT_INPUT;
    case CLI_AT_LISTEN:
        return rc == BPT_EINVAL ? BPT_EXIT_USAGE : BPT_EXIT_NETWORK;
    case CLI_AT_RUNTIME:
        return rc == BPT_EFETCH ? BPT_EXIT_NETWORK
               : rc == BPT_ENOTFOUND || rc == BPT_EIO || rc == BPT_EBUSY || rc == BPT_ERROR
                   ? BPT_EXIT_INPUT
                   : BPT_EXIT_REFUSED;
    }
    return BPT_EXIT_INPUT;
}

const char *cli_exit_class(int exit_code)
{
    static const char *const names[] = {"ok", "refused", "usage", "input", "network"};
    return exit_code >= 0 && exit_code <= BPT_EXIT_NETWORK ? names[exit_code] : "error";
}

void cli_begin(const char *cmd, bool json, bool quiet)
{
    (void)quiet; /* main.c has pointed stdout and stderr at /dev/null */
    run.cmd = cmd;
    run.json = json;
}

bool cli_json(void)
{
    return run.json;
}

void cli_note(const char *key, json_t *value)
{
    if (!value) {
        return;
    }
    if (!run.notes && !(run.notes = json_object())) {
        json_decref(value);
        return;
    }
    json_object_set_new(run.notes, key, value);
}

void cli_note_json(const char *json)
{
    json_t *o = json ? json_loads(json, 0, NULL) : NULL;
    if (json_is_object(o)) {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            cli_note(k, json_incref(v));
        }
    }
    json_decref(o);
}

/* Print the error object of a failure; the notes go in as they are. */
static void print_error_json(const char *kind, const char *message, int exit_code)
{
    json_t *o = run.notes ? json_deep_copy(run.notes) : json_object();
    char *text;
    if (!o) {
        return;
    }
    json_object_set_new(o, "schema_version", json_integer(BPT_JSON_SCHEMA_VERSION));
    json_object_set_new(o, "error", json_pack("{s:s,s:s}", "kind", kind, "message", message));
    json_object_set_new(o, "exit_code", json_integer(exit_code));
    json_object_set_new(o, "exit_class", json_string(cli_exit_class(exit_code)));
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (text) {
        printf("%s\n", text);
        free(text);
    }
    json_decref(o);
}

/* true if @p msg starts with the segment @p seg (followed by ": " or its end). */
static bool starts_with_segment(const char *msg, const char *seg)
{
    size_t n = strlen(seg);
    return n > 0 && strncmp(msg, seg, n) == 0 && (msg[n] == '\0' || strncmp(msg + n, ": ", 2) == 0);
}

/* "<what>: <message>", without the command's own name or @p what said twice (a message that
 * names the file already is not given its path again). */
static void compose(char *out, size_t len, const char *what, const char *msg)
{
    if (starts_with_segment(msg, run.cmd) && msg[strlen(run.cmd)] != '\0') {
        msg += strlen(run.cmd) + 2;
    }
    if (what && *what && !strstr(msg, what)) {
        snprintf(out, len, "%s: %s", what, msg);
    } else {
        snprintf(out, len, "%s", msg);
    }
}

int cli_fail(int rc, cli_where where, const char *what)
{
    int ex = cli_exit_for(rc, where);
    char text[1024];
    if (ex == BPT_EXIT_OK) { /* a caller's mistake: never let a failure exit 0 */
        ex = BPT_EXIT_INPUT;
    }
    compose(text, sizeof(text), what, bpt_error_last());
    if (run.json) {
        print_error_json(bpt_error_name(rc), text, ex);
    } else {
        fprintf(stderr, "bpt %s: %s\n", run.cmd, text);
    }
    return ex;
}

int cli_refused(int rc)
{
    char text[1024];
    compose(text, sizeof(text), NULL, bpt_error_last());
    printf("refused: %s: %s\n", bpt_error_name(rc), text);
    return BPT_EXIT_REFUSED;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (run.json) {
        print_error_json("usage", msg, BPT_EXIT_USAGE);
    } else {
        fprintf(stderr, "bpt %s: %s\n(see 'bpt %s --help')\n", cmd, msg, cmd);
    }
    return BPT_EXIT_USAGE;
}

int cli_print_json(const char *json, const char *path)
{
    json_error_t jerr;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    char *text = NULL;
    int rc = 0;

    if (!json_is_object(o) ||
        json_object_set_new(o, "schema_version", json_integer(BPT_JSON_SCHEMA_VERSION)) != 0 ||
        !(text = json_dumps(o, JSON_COMPACT))) { /* the library's member order, then ours */
        json_decref(o);
        return cli_fail(bpt_error_set(BPT_ERROR, "output: cannot add schema_version to the JSON"),
                        CLI_AT_OUTPUT, NULL);
    }
    json_decref(o);
    if (path) {
        size_t n = strlen(text);
        text[n] = '\n'; /* the file ends with a line break, as stdout does */
        rc = bpt_file_write(path, text, n + 1, false);
        text[n] = '\0';
    } else {
        printf("%s\n", text);
    }
    free(text);
    return rc < 0 ? cli_fail(rc, CLI_AT_OUTPUT, path) : 0;
}

void cli_help_exit_line(FILE *f, int code, const char *text)
{
    const int indent = 14, width = 80;
    int col = fprintf(f, "  %d  %-8s ", code, cli_exit_class(code));
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col > indent && col + 1 + (int)word > width) {
            col = fprintf(f, "\n%*s", indent, "") - 1;
        } else if (col > indent) {
            col += fprintf(f, " ");
        }
        col += fprintf(f, "%.*s", (int)word, text);
        text += word;
        text += strspn(text, " ");
    }
    fprintf(f, "\n");
}

void cli_help_exit(FILE *f, const char *ok, const char *refused, const char *input,
                   const char *network)
{
    fprintf(f, "\nexit status:\n");
    cli_help_exit_line(f, BPT_EXIT_OK, ok);
    if (refused) {
        cli_help_exit_line(f, BPT_EXIT_REFUSED, refused);
    }
    cli_help_exit_line(f, BPT_EXIT_USAGE, "bad flags or arguments");
    if (input) {
        cli_help_exit_line(f, BPT_EXIT_INPUT, input);
    }
    if (network) {
        cli_help_exit_line(f, BPT_EXIT_NETWORK, network);
    }
}

bool cli_parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v;
    if (!s || *s < '0' || *s > '9') {
        return false;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool cli_simulated(bpt_provider p)
{
    return p == BPT_PROVIDER_AMD_SEV_SNP || p == BPT_PROVIDER_INTEL_TDX ||
           p == BPT_PROVIDER_AWS_NITRO || p == BPT_PROVIDER_GCP_CONFIDENTIAL ||
           p == BPT_PROVIDER_AZURE_SNP;
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
