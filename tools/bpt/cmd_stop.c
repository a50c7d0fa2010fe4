/* bpt stop ID: stop a deployment's workload; deploying the same spec starts it again. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

static void stop_usage(FILE *f)
{
    fprintf(f, "usage: bpt stop [--json] [--timeout SECS] [--state-dir DIR] [--runtime PATH] ID\n"
               "\n"
               "Stop the workload of deployment ID: SIGTERM, then SIGKILL after --timeout\n"
               "seconds (default 10). Its directories stay; 'bpt deploy' of the same spec starts\n"
               "it again, 'bpt destroy' removes it. Stopping a stopped deployment does nothing.\n"
               "  --timeout SECS    how long the workload may take to end after SIGTERM\n");
    cli_rt_help_common(f, false);
    cli_help_exit(f, "stopped", "the deployment is destroyed",
                  "no deployment ID; the store; the OCI runtime failed", NULL);
}

int cmd_stop(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_RT_COMMON_OPTIONS,
        {"timeout", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    struct cli_rt o = {0};
    bpt_deployment *d = NULL;
    int c, rc, ex;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            stop_usage(stdout);
            return BPT_EXIT_OK;
        }
        if ((ex = cli_rt_option(&o, "stop", c, optarg)) != 0) {
            return ex > 0 ? ex
                          : cli_usage_error("stop", "unknown option or missing value: '%s'",
                                            argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("stop", "one deployment ID is required");
    }
    if ((ex = cli_rt_open(&o)) != 0) {
        goto out;
    }
    if ((rc = bpt_runtime_stop(o.rt, argv[optind])) < 0 ||
        (rc = bpt_runtime_status(&d, o.rt, argv[optind])) < 0) {
        ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
        goto out;
    }
    ex = cli_rt_print(d, "stop");
out:
    bpt_deployment_free(d);
    cli_rt_close(&o);
    return ex;
}
