/* bpt destroy ID: kill a deployment's workload and remove its container and directories. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void destroy_usage(FILE *f)
{
    fprintf(f, "usage: bpt destroy [--json] [--state-dir DIR] [--runtime PATH] ID\n"
               "\n"
               "Destroy deployment ID: its workload is killed, its container, bundle and host\n"
               "directory (with what the workload left there) removed. The store keeps its row,\n"
               "state destroyed, so its name can be deployed again with another spec.\n"
               "Destroying a destroyed deployment does nothing.\n");
    cli_rt_help_common(f, false);
    cli_help_exit(f, "destroyed", NULL,
                  "no deployment ID; the store; another bpt is deploying it; the OCI runtime "
                  "failed",
                  NULL);
}

int cmd_destroy(int argc, char **argv)
{
    static const struct option opts[] = {CLI_RT_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    struct cli_rt o = {0};
    bpt_deployment *d = NULL;
    int rc, ex;

    if (!cli_rt_args(&ex, &o, "destroy", argc, argv, opts, destroy_usage, 1, 1,
                     "one deployment ID is required")) {
        return ex;
    }
    if ((ex = cli_rt_open(&o)) != 0) {
        goto out;
    }
    /* by its id: once destroyed, the name names no live deployment */
    char id[17];
    if ((rc = bpt_runtime_status(&d, o.rt, argv[optind])) == 0) {
        snprintf(id, sizeof(id), "%s", bpt_deployment_id(d));
        bpt_deployment_free(d);
        d = NULL;
        rc = bpt_runtime_destroy(o.rt, id);
    }
    if (rc < 0 || (rc = bpt_runtime_status(&d, o.rt, id)) < 0) {
        ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
        goto out;
    }
    ex = cli_rt_print(d, "destroy");
out:
    bpt_deployment_free(d);
    cli_rt_close(&o);
    return ex;
}
