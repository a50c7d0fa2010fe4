/*
 * bpt deploy SPEC: deploy a workload from a deployment spec (DESIGN.md §11) with a runtime
 * backend (the direct backend: a hardened container under runc). Idempotent by name and spec.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void deploy_usage(FILE *f)
{
    fprintf(f,
            "usage: bpt deploy [--json] [--state-dir DIR] [--config FILE] [--backend NAME]\n"
            "                  [--runtime PATH] [--device-root DIR] SPEC\n"
            "\n"
            "Deploy the workload SPEC (a JSON file, docs/runtime.md) describes and print its\n"
            "deployment (with --json: its id, state, host_dir, ...). The direct backend runs\n"
            "it under runc with a hardened config (read-only root, no capabilities,\n"
            "no_new_privs, seccomp, its own namespaces, cgroup limits, a non-root user) and\n"
            "passes through the TEE devices this host has. The same name with the same spec\n"
            "is the same deployment (started again if it was stopped); the same name with\n"
            "another spec is refused: destroy it first.\n"
            "  --config FILE     a TeeConfig: its secret_injection (sealed_only, the default\n"
            "                    here, refuses secret values in the spec) and its mode (the\n"
            "                    default backend)\n"
            "  --backend NAME    direct (default: $TEE_BACKEND, else from --config);\n"
            "                    aws_nitro: AWS Nitro Enclaves on EC2, configured by\n"
            "                    $BPT_AWS_NITRO_CONFIG, else STATE_DIR/aws_nitro.json (the\n"
            "                    spec's image is the EIF on the AMI; docs/runtime.md);\n"
            "                    azure_cvm: an Azure confidential VM, configured by\n"
            "                    $BPT_AZURE_CVM_CONFIG, else STATE_DIR/azure_cvm.json (the\n"
            "                    spec's image is a path on the VM's image; docs/runtime.md);\n"
            "                    gcp_confidential_space: a Confidential Space VM on Compute\n"
            "                    Engine, configured by $BPT_GCP_CONFIDENTIAL_SPACE_CONFIG,\n"
            "                    else STATE_DIR/gcp_confidential_space.json (the spec's image\n"
            "                    is the container image; docs/runtime.md)\n"
            "  --device-root DIR look for TEE devices and configfs-tsm under DIR instead of /\n");
    cli_rt_help_common(f, false);
    cli_help_exit(f, "deployed (running), or the same deployment already was",
                  "refused: another spec under that name, a secret value under sealed_only, a "
                  "device this host lacks, an image that is none, a backend not built",
                  "SPEC or --config missing or not valid; the store; no OCI runtime; the OCI "
                  "runtime failed (its message)",
                  NULL);
}

int cmd_deploy(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_RT_COMMON_OPTIONS,
        {"config", required_argument, NULL, 'c'},
        {"backend", required_argument, NULL, 'b'},
        {"device-root", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    struct cli_rt o = {0};
    bpt_deploy_spec *spec = NULL;
    bpt_deployment *d = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc, ex;

    if (!cli_rt_args(&ex, &o, "deploy", argc, argv, opts, deploy_usage, 1, 1,
                     "one SPEC file is required")) {
        return ex;
    }
    const char *file = argv[optind];
    if ((rc = cli_read_file(&text, &len, file, BPT_DEPLOY_SPEC_MAX_BYTES)) < 0 ||
        (rc = bpt_deploy_spec_load_json(&spec, text, len)) < 0) {
        ex = cli_fail(rc, CLI_AT_FILE, file);
        goto out;
    }
    cli_note("name", json_string(bpt_deploy_spec_name(spec)));
    cli_note("spec_hash", json_string(bpt_deploy_spec_hash(spec)));
    if ((ex = cli_rt_open(&o)) != 0) {
        goto out;
    }
    if ((rc = bpt_runtime_deploy(&d, o.rt, spec, o.backend)) < 0) {
        ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
        goto out;
    }
    if (!cli_json()) {
        printf("deploy: %s '%s' %s; its key-exchange socket: %s\n", bpt_deployment_id(d),
               bpt_deployment_name(d), bpt_deploy_state_name(bpt_deployment_state(d)),
               bpt_deployment_kx_socket(d));
        ex = BPT_EXIT_OK;
    } else {
        ex = cli_rt_print(d, "deploy");
    }
out:
    bpt_deployment_free(d);
    cli_rt_close(&o);
    bpt_deploy_spec_free(spec);
    bpt_free(text);
    return ex;
}
