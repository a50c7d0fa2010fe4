/* bpt: command-line entry point. Dispatches to one function per subcommand. */
#include "cli.h"

#include <string.h>

static const struct bpt_cmd commands[] = {
    {"attest", "produce attestation evidence (hardware or simulated)", cmd_attest},
    {"config", "validate a TeeConfig file (bpt config check FILE)", cmd_config},
    {"detect", "which TEE this host has", cmd_detect},
    {"fetch", "prefetch the collateral verifying evidence needs, for --offline", cmd_fetch},
    {"inspect", "decode evidence and print it, verifying nothing", cmd_inspect},
    {"seal", "verify a service and deliver a sealed secret to it", cmd_seal},
    {"serve", "serve the sealed-secret key exchange (DESIGN.md §6)", cmd_serve},
    {"sim", "create the simulated TEEs (bpt sim init DIR)", cmd_sim},
    {"verify", "verify attestation evidence of any provider", cmd_verify},
    {"version", "print the version", cmd_version},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bpt <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nRun 'bpt <command> --help' for a command's options.\n"
               "Exit status: 0 success or verified, 1 verification or protocol refusal, "
               "2 usage or I/O error.\n");
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
    cli_setup_logging();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "bpt: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return BPT_EXIT_USAGE;
}
