/* The bpt command line: one file per subcommand (cmd_<name>.c), registered in main.c. */
#ifndef BPT_CLI_H
#define BPT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <blueprint-tee/bpt.h>

/*
 * Exit statuses of every command (DESIGN.md §5): 0 ok/verified; 1 refused (verification, policy
 * or protocol said no); 2 usage (bad flags or arguments); 3 local input or configuration error
 * (missing/unreadable file, a file the user gave in the wrong format); 4 network or remote-service
 * error (fetch failed, unreachable, time-out: retrying may help).
 */
#define BPT_EXIT_OK 0
#define BPT_EXIT_REFUSED 1
#define BPT_EXIT_USAGE 2
#define BPT_EXIT_INPUT 3
#define BPT_EXIT_NETWORK 4

struct bpt_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/*
 * The exit class of a library error code (DESIGN.md §5): BPT_EFETCH network; BPT_EINVAL usage;
 * BPT_EMALFORMED, BPT_EIO, BPT_ENOTFOUND, BPT_ELIMIT local input; anything else refused. Used by
 * the commands that map codes themselves (fetch, inspect); one function, so that the common
 * mapping of every command can replace it.
 */
int cli_exit_class(int code);

/* Print "bpt <cmd>: <message>" to stderr and return BPT_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "bpt <cmd>: <what>: <bpt_error_last()>" to stderr; returns @p exit_code. */
int cli_lib_error(const char *cmd, int exit_code, const char *what);

/* true if argv has -h or --help anywhere before "--". */
bool cli_wants_help(int argc, char **argv);

/* Read a whole file ("-" = stdin) up to @p max bytes; NUL-terminated. Free with bpt_free(). */
int cli_read_file(char **out, size_t *len_out, const char *path, size_t max);

/* Install the stderr log sink at the level from $BPT_LOG (default warn). */
void cli_setup_logging(void);

/* Subcommands. */
int cmd_attest(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
