/* bpt: command-line entry point. Dispatches to one function per subcommand. */
#include "cli.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const struct bpt_cmd commands[] = {
    {"attest", "produce attestation evidence (hardware or simulated)", cmd_attest, CLI_TAKES_JSON},
    {"attestation", "attest a running deployment now (fresh nonce, verified)", cmd_attestation,
     CLI_TAKES_JSON},
    {"config", "validate a TeeConfig file (bpt config check FILE)", cmd_config,
     CLI_TAKES_JSON | CLI_TAKES_QUIET},
    {"deploy", "deploy a workload in a hardened container (DESIGN.md §11)", cmd_deploy,
     CLI_TAKES_JSON},
    {"destroy", "kill a deployment and remove its container and directories", cmd_destroy,
     CLI_TAKES_JSON},
    {"detect", "which TEE this host has", cmd_detect, CLI_TAKES_JSON},
    {"fetch", "prefetch the collateral verifying evidence needs, for --offline", cmd_fetch,
     CLI_TAKES_JSON},
    {"inspect", "decode evidence and print it, verifying nothing", cmd_inspect, CLI_TAKES_JSON},
    {"pubkey", "a running deployment's verified key-exchange key", cmd_pubkey, CLI_TAKES_JSON},
    {"run", "host a job service: jobs, key exchange, attestation (DESIGN.md §10)", cmd_run, 0},
    {"seal", "verify a service and deliver a sealed secret to it", cmd_seal, CLI_TAKES_QUIET},
    {"serve", "serve the sealed-secret key exchange (DESIGN.md §6)", cmd_serve, 0},
    {"sim", "create the simulated TEEs (bpt sim init DIR)", cmd_sim, 0},
    {"status", "the deployments of the store, reconciled with what runs", cmd_status,
     CLI_TAKES_JSON},
    {"stop", "stop a deployment's workload", cmd_stop, CLI_TAKES_JSON},
    {"verify", "verify attestation evidence of any provider", cmd_verify,
     CLI_TAKES_JSON | CLI_TAKES_QUIET},
    {"version", "print the version", cmd_version, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bpt <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nRun 'bpt <command> --help' for a command's options.\n"
               "\n"
               "common options (where a command lists them):\n"
               "  --json   print exactly one JSON object on stdout, whatever happens; errors\n"
               "           carry \"exit_code\" and \"exit_class\" (docs/schemas/)\n"
               "  --quiet  print nothing on stdout or stderr: the exit status only\n"
               "\n"
               "exit status (every command; each command's --help says which it uses):\n");
    cli_help_exit_line(f, BPT_EXIT_OK, "success, verified");
    cli_help_exit_line(f, BPT_EXIT_REFUSED,
                       "verification, policy or protocol said no (retrying will not help)");
    cli_help_exit_line(f, BPT_EXIT_USAGE, "bad flags or arguments");
    cli_help_exit_line(f, BPT_EXIT_INPUT,
                       "local input or configuration: a file missing, unreadable or in the "
                       "wrong format, a config that cannot be used, out of memory");
    cli_help_exit_line(f, BPT_EXIT_NETWORK,
                       "network or remote service: fetch failed, unreachable, time-out, the "
                       "service unavailable (retrying may help)");
}

/* --json / --quiet among the command's arguments (before "--"). */
static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strcmp(argv[i], flag) == 0) {
            return true;
        }
    }
    return false;
}

/* --quiet: stdout and stderr go nowhere, so nothing any path prints can reach them. */
static void silence(void)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        fflush(stdout);
        fflush(stderr);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BPT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return BPT_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        return cmd_version(1, argv + 1);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct bpt_cmd *c = &commands[i];
        if (strcmp(argv[1], c->name) == 0) {
            bool json = (c->flags & CLI_TAKES_JSON) && has_flag(argc - 1, argv + 1, "--json");
            bool quiet = (c->flags & CLI_TAKES_QUIET) && has_flag(argc - 1, argv + 1, "--quiet");
            if (quiet) {
                silence();
            }
            cli_setup_logging();
            cli_begin(c->name, json, quiet);
            return c->run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "bpt: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return BPT_EXIT_USAGE;
}
