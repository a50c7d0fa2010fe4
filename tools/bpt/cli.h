/*
 * The bpt command line: one file per subcommand (cmd_<name>.c), registered in main.c.
 *
 * The contract every command keeps (docs/cli.md):
 * - exit status by class, from one table (cli_exit_for): what failed and its library code
 *   give the class, never the command;
 * - with --json, exactly one JSON object on stdout whatever happened, with "schema_version";
 *   an error's object carries "exit_code" and "exit_class" and whatever the command had
 *   learned (cli_note);
 * - with --quiet (where a command offers it), nothing on stdout or stderr: the exit status only.
 * A new command reports a failed library call with cli_fail(rc, CLI_AT_..., what) and a bad
 * flag with cli_usage_error(); it prints its JSON with cli_print_json().
 */
#ifndef BPT_CLI_H
#define BPT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include <blueprint-tee/bpt.h>

/*
 * Exit statuses of every command (DESIGN.md §5): 0 ok/verified; 1 refused (verification, policy
 * or protocol said no); 2 usage (bad flags or arguments); 3 local input or configuration error
 * (missing/unreadable file, a file the user gave in the wrong format); 4 network or
 * remote-service error (fetch failed, unreachable, time-out: retrying may help).
 */
#define BPT_EXIT_OK 0
#define BPT_EXIT_REFUSED 1
#define BPT_EXIT_USAGE 2
#define BPT_EXIT_INPUT 3
#define BPT_EXIT_NETWORK 4

/* Which of the common flags a command takes; main.c acts on them before the command runs. */
#define CLI_TAKES_JSON 1u  /* --json: one JSON object on stdout, errors included */
#define CLI_TAKES_QUIET 2u /* --quiet: nothing on stdout or stderr */

struct bpt_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    unsigned flags;                    /* CLI_TAKES_* */
};

/*
 * What a failed library call was doing. With its code this picks the exit class; the one
 * table is cli_exit_for() (cli_util.c), documented in docs/cli.md.
 */
typedef enum cli_where {
    CLI_AT_ARG,      /* a flag's or an argument's value (hex, time, name, URL): usage */
    CLI_AT_FILE,     /* a file the user named (evidence, policy, config, certificates, collateral,
                        JWKS, secret, simulator or probe directory): reading it or its format:
                        local input */
    CLI_AT_CHECK,    /* `config check`: a well-formed file the check refuses is its verdict
                        (refused); one that cannot be read or is not JSON is local input */
    CLI_AT_EVIDENCE, /* verifying evidence: refused; fetching keys or collateral: network */
    CLI_AT_PEER,     /* a remote service (seal): what it answered is a refusal; unreachable,
                        time-out, 5xx: network; a URL refused before connecting: usage */
    CLI_AT_HOST,     /* this host's TEE (attest, serve): none or none usable is a refusal; the
                        simulator's directory is local input */
    CLI_AT_LISTEN,   /* the listening socket (serve): network; a bad address: usage */
    CLI_AT_OUTPUT,   /* writing the output (stdout, -o FILE) or making it: local */
    CLI_AT_RUNTIME,  /* a deployment's store, backend or workload (deploy, status, attestation,
                        pubkey, stop, destroy, seal --deployment): what refuses is a refusal; a
                        workload that does not answer: network; no such deployment, the store,
                        the OCI runtime failing: local */
} cli_where;

/* The exit status for library code @p rc (0 gives BPT_EXIT_OK) failing at @p where. */
int cli_exit_for(int rc, cli_where where);

/* "ok", "refused", "usage", "input", "network" for an exit status; "error" otherwise. */
const char *cli_exit_class(int exit_code);

/* Set up the run of command @p cmd (main.c): its name for messages, --json, --quiet. */
void cli_begin(const char *cmd, bool json, bool quiet);

/* true when the command prints JSON (--json was given and the command takes it). */
bool cli_json(void);

/*
 * Note a fact that a failure's JSON object should carry (what is known so far: the format, the
 * evidence digest...). Takes the reference of @p value; a NULL value is ignored.
 */
void cli_note(const char *key, json_t *value);

/* Merge the members of the JSON object text @p json into the notes (ignored if not an object). */
void cli_note_json(const char *json);

/*
 * Report that the library call that returned @p rc failed while doing @p what at @p where:
 * "bpt <cmd>: <what>: <bpt_error_last()>" on stderr (@p what is left out when NULL or when the
 * message already starts with it), or with --json the error object on stdout:
 * {"schema_version":1,<notes>,"error":{"kind":<bpt_error_name>,"message":..},
 *  "exit_code":N,"exit_class":".."}. Returns the exit status (cli_exit_for).
 */
int cli_fail(int rc, cli_where where, const char *what);

/* A verification refusal (exit 1) in text mode: "refused: <kind>: <message>" on stdout. */
int cli_refused(int rc);

/* Print "bpt <cmd>: <message>" (with a pointer to --help) or its JSON; return BPT_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Print the JSON object text @p json on one line of stdout (or to @p path when not NULL) with
 * "schema_version" added. Returns 0, or the exit status after reporting why it could not.
 */
int cli_print_json(const char *json, const char *path);

/* One line of an exit-status table: "  N  class    text", the text wrapped at 80 columns. */
void cli_help_exit_line(FILE *f, int code, const char *text);

/*
 * The "exit status" section of a command's --help: the classes it produces, each with what it
 * means for this command (NULL: the command never exits with that class).
 */
void cli_help_exit(FILE *f, const char *ok, const char *refused, const char *input,
                   const char *network);

/* A decimal number 0..@p max from a flag's value: digits only (no sign, space or base prefix),
 * nothing after them, no overflow; false otherwise. The one parser of the CLI's numbers. */
bool cli_parse_u64(const char *s, unsigned long long max, unsigned long long *out);

/* The providers the simulator has, as --simulate spells them. */
#define CLI_SIMULATED "sev-snp, tdx, aws-nitro, gcp-confidential, azure-maa"

/* true for the providers the simulator has (--simulate): CLI_SIMULATED. */
bool cli_simulated(bpt_provider p);

/* true if argv has -h or --help anywhere before "--". */
bool cli_wants_help(int argc, char **argv);

/* Read a whole file ("-" = stdin) up to @p max bytes; NUL-terminated. Free with bpt_free(). */
int cli_read_file(char **out, size_t *len_out, const char *path, size_t max);

/* Install the stderr log sink at the level from $BPT_LOG (default warn). */
void cli_setup_logging(void);

/* ---- the runtime commands (cli_runtime.c) ---- */

#define CLI_RT_MAX_ROOTS 16

/* What a runtime command was asked for, and what it opened. */
struct cli_rt {
    const char *state_dir, *oci_runtime, *config_file, *host_root, *backend, *nonce_hex;
    const char *policy_file, *roots[CLI_RT_MAX_ROOTS];
    int n_roots;
    bool allow_debug, want_verifier;
    unsigned wait_ms, stop_ms;
    bpt_config *config;
    bpt_verifier *verifier;
    bpt_runtime *rt;
};

/* getopt_long entries of the flags every runtime command takes, and of verification. */
#define CLI_RT_COMMON_OPTIONS                                                                      \
    {"state-dir", required_argument, NULL, 'S'}, {"runtime", required_argument, NULL, 'R'},        \
        {"json", no_argument, NULL, 'J'},                                                          \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
#define CLI_RT_VERIFY_OPTIONS                                                                      \
    {"trust-root", required_argument, NULL, 't'}, {"policy", required_argument, NULL, 'p'},        \
        {"allow-debug", no_argument, NULL, 'D'},                                                   \
    {                                                                                              \
        "wait", required_argument, NULL, 'w'                                                       \
    }

/* Take common option @p c: 0 taken, -1 not one of them, else the exit status of a usage error. */
int cli_rt_option(struct cli_rt *o, const char *cmd, int c, const char *arg);

/* A runtime command's arguments: every option through cli_rt_option() (-h prints @p usage),
 * then @p min..@p max operands (@p operands says what is wanted when not). true: go on with
 * the operands from argv[optind]; false: return *ex (the help printed, or a usage error). */
struct option;
bool cli_rt_args(int *ex, struct cli_rt *o, const char *cmd, int argc, char **argv,
                 const struct option *opts, void (*usage)(FILE *), int min, int max,
                 const char *operands);

/* The help lines of the common options (and of verification's when @p verify). */
void cli_rt_help_common(FILE *f, bool verify);

/* Read the config, make the verifier (when want_verifier), open the runtime (reconciled).
 * Returns 0 or the exit status after reporting why not. */
int cli_rt_open(struct cli_rt *o);
void cli_rt_close(struct cli_rt *o);

/* A deployment: its JSON object (--json), else "CMD: ID 'NAME' STATE (detail)". */
int cli_rt_print(const bpt_deployment *d, const char *cmd);

/* A verifier from the seal/attestation flags: policy file (NULL: production), trust roots
 * (none: the pinned vendor roots), --allow-debug, an expected measurement (or NULL). Returns 0
 * or the exit status after reporting why not. */
int cli_make_verifier(bpt_verifier **out, const char *policy_file, const char *const *roots,
                      int n_roots, bool allow_debug, const char *measurement);
/* The same flags as a policy and a context, for a caller that adjusts them first (seal's
 * on-chain check pins the measurement). Both are the caller's to free. */
int cli_make_policy_ctx(bpt_policy **policy_out, bpt_verify_ctx **ctx_out, const char *policy_file,
                        const char *const *roots, int n_roots, bool allow_debug,
                        const char *measurement);

/* Subcommands. */
int cmd_attest(int argc, char **argv);
int cmd_chain(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_attestation(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_destroy(int argc, char **argv);

#endif
