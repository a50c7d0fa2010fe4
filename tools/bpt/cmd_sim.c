/* bpt sim init DIR: the simulated TEEs' test PKIs (DESIGN.md §7). */
#include "cli.h"

#include <string.h>

int cmd_sim(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: bpt sim init DIR\n"
               "\n"
               "Create test PKIs in the vendors' shapes under DIR (simulated today: SEV-SNP's\n"
               "ARK -> ASK -> VCEK with AMD's extensions) and write every simulated root to\n"
               "DIR/trust-roots.pem. Pass that file to 'bpt verify --trust-root'; the pinned\n"
               "vendor roots refuse simulated evidence. The keys are test keys (files 0600).\n");
        return BPT_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "init") != 0) {
        return cli_usage_error("sim", "expected 'bpt sim init DIR'");
    }
    if (bpt_sim_init(argv[2]) < 0) {
        return cli_lib_error("sim", BPT_EXIT_USAGE, argv[2]);
    }
    printf("simulated TEEs ready in %s (trust roots: %s/trust-roots.pem)\n", argv[2], argv[2]);
    return BPT_EXIT_OK;
}
