#include "cli.h"

int cmd_version(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: bpt version\n\nPrint the library and CLI version.\n");
        cli_help_exit(stdout, "the version was printed", NULL, NULL, NULL);
        return BPT_EXIT_OK;
    }
    if (argc > 1) {
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    }
    printf("bpt %s (libblueprint-tee %s)\n", BPT_VERSION_STRING, bpt_version());
    return BPT_EXIT_OK;
}
