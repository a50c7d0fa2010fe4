/* bpt detect: which TEE this host has (none is an answer, exit 0). */
#include "cli.h"

#include <string.h>

static void help(void)
{
    printf("usage: bpt detect [--json] [--root DIR]\n"
           "\n"
           "Probe this host for a Trusted Execution Environment and print the provider\n"
           "(intel_tdx, amd_sev_snp, aws_nitro, azure_snp, gcp_confidential, or none),\n"
           "where its evidence can be obtained, and every probe's result.\n"
           "Only the filesystem is examined (device nodes, configfs-tsm, ACPI tables, DMI,\n"
           "the GCP launcher) plus $CONFIDENTIAL_SPACE_VERSION; device nodes count only as\n"
           "character devices.\n"
           "\n"
           "options:\n"
           "  --json      print one JSON object:\n"
           "              "
           "{\"provider\":..,\"evidence_source\":..,\"evidence_path\":..,\"probes\":[..],\n"
           "               \"schema_version\":1} (or the error, with \"exit_code\")\n"
           "  --root DIR  look for the probe paths under DIR instead of / (fake trees, chroots)\n");
    cli_help_exit(stdout, "probed (also when no TEE is found: provider none)", NULL,
                  "the root DIR is missing or unreadable", NULL);
}

int cmd_detect(int argc, char **argv)
{
    bool json = false;
    const char *root = "/";
    bpt_detection d = BPT_DETECTION_INIT;
    char *text = NULL;
    int rc, ex;

    if (cli_wants_help(argc, argv)) {
        help();
        return BPT_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--root") == 0) {
            if (i + 1 >= argc) {
                return cli_usage_error("detect", "--root needs a directory");
            }
            root = argv[++i];
        } else if (strncmp(argv[i], "--root=", 7) == 0) {
            root = argv[i] + 7;
        } else {
            return cli_usage_error("detect", "unexpected argument '%s'", argv[i]);
        }
    }
    if ((rc = bpt_detect(&d, root, NULL, NULL)) != 0) {
        return cli_fail(rc, CLI_AT_FILE, root);
    }
    if (json) {
        if ((rc = bpt_detect_to_json(&text, &d)) != 0) {
            return cli_fail(rc, CLI_AT_OUTPUT, "output");
        }
        ex = cli_print_json(text, NULL);
        bpt_free(text);
        return ex;
    }
    printf("provider: %s\n", bpt_detect_provider_name(&d));
    printf("evidence: %s%s%s\n", bpt_detect_source_name(d.source), d.evidence_path[0] ? " " : "",
           d.evidence_path);
    printf("probes:\n");
    for (size_t i = 0; i < d.n_probes; i++) {
        const bpt_detect_probe *p = &d.probes[i];
        printf("  %-21s %-10s %s%s%s%s\n", p->name, bpt_detect_status_name(p->status), p->path,
               p->detail[0] ? " (" : "", p->detail, p->detail[0] ? ")" : "");
    }
    return BPT_EXIT_OK;
}
