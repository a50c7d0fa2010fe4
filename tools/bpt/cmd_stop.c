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
    int rc, ex;

    if (!cli_rt_args(&ex, &o, "stop", argc, argv, opts, stop_usage, 1, 1,
                     "one deployment ID is required")) {
        return ex;
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
