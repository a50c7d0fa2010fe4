/* bpt sim init DIR: the simulated TEEs' test PKIs (DESIGN.md §7). */
#include "cli.h"

#include <string.h>

int cmd_sim(int argc, char **argv)
{
    int rc;

    if (cli_wants_help(argc, argv)) {
        printf(
            "usage: bpt sim init DIR\n"
            "\n"
            "Create the simulated TEEs under DIR (created if missing): test PKIs in the\n"
            "vendors' shapes for SEV-SNP (ARK -> ASK -> VCEK with AMD's extensions), TDX\n"
            "(an Intel-style root -> PCK CA -> PCK with SGX extensions, and the quote's\n"
            "collateral in DIR/tdx/collateral.json) and AWS Nitro (root -> intermediate -> leaf),\n"
            "and write every simulated root to DIR/trust-roots.pem. Also two token services,\n"
            "each an RSA key whose public half is DIR/<provider>/jwks.json: GCP Confidential\n"
            "Space's launcher (gcp-confidential) and Azure Attestation for an Azure\n"
            "confidential VM (azure-maa, issuer https://bpt-sim.attest.invalid). 'bpt attest\n"
            "--simulate sev-snp|tdx|aws-nitro|gcp-confidential|azure-maa --sim-dir DIR' then\n"
            "makes evidence; pass the roots file to 'bpt verify --trust-root', a JWKS to\n"
            "'bpt verify --jwks' (the pinned vendor roots and the services' own keys refuse\n"
            "simulated evidence). The keys are test keys (files 0600).\n");
        cli_help_exit(stdout, "the simulated TEEs are ready", NULL,
                      "DIR cannot be created or written", NULL);
        return BPT_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "init") != 0) {
        return cli_usage_error("sim", "expected 'bpt sim init DIR'");
    }
    if ((rc = bpt_sim_init(argv[2])) < 0) {
        return cli_fail(rc, CLI_AT_FILE, argv[2]);
    }
    printf("simulated TEEs ready in %s (trust roots: %s/trust-roots.pem)\n", argv[2], argv[2]);
    return BPT_EXIT_OK;
}
