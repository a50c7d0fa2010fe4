/* bpt status [ID]: the deployments of a store, or one, as the store and their backends agree. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void status_usage(FILE *f)
{
    fprintf(f, "usage: bpt status [--json] [--state-dir DIR] [--runtime PATH] [ID]\n"
               "\n"
               "Print the deployments of the store (without ID: every one not destroyed), after\n"
               "reconciling the store with what the OCI runtime runs: a deployment whose\n"
               "workload exited is stopped, one whose container is gone failed, a container of\n"
               "an interrupted deploy or of no deployment is removed. ID is a deployment's id\n"
               "or the name of a live one. With --json: the deployment's object (id, name,\n"
               "backend, state, spec_hash, host_dir, kx_socket, detail, attestation_digest,\n"
               "...), or {\"deployments\":[...]} without ID.\n");
    cli_rt_help_common(f, false);
    cli_help_exit(f, "printed (also an empty list)", NULL,
                  "no deployment ID; the store cannot be opened", NULL);
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {CLI_RT_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    struct cli_rt o = {0};
    bpt_deployment *d = NULL, **list = NULL;
    size_t n = 0;
    int rc, ex;

    if (!cli_rt_args(&ex, &o, "status", argc, argv, opts, status_usage, 0, 1, "at most one ID")) {
        return ex;
    }
    const char *id = optind < argc ? argv[optind] : NULL;
    if ((ex = cli_rt_open(&o)) != 0) {
        goto out;
    }
    if (id != NULL) {
        if ((rc = bpt_runtime_status(&d, o.rt, id)) < 0) {
            ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
            goto out;
        }
        if (cli_json()) {
            ex = cli_rt_print(d, "status");
            goto out;
        }
        const char *dig = bpt_deployment_attestation_digest(d);
        printf("id:          %s\nname:        %s\nstate:       %s%s%s%s\nbackend:     %s\n"
               "spec_hash:   %s\nhost_dir:    %s\nkx_socket:   %s\nattestation: %s\n",
               bpt_deployment_id(d), bpt_deployment_name(d),
               bpt_deploy_state_name(bpt_deployment_state(d)),
               bpt_deployment_detail(d)[0] ? " (" : "", bpt_deployment_detail(d),
               bpt_deployment_detail(d)[0] ? ")" : "", bpt_deployment_backend(d),
               bpt_deployment_spec_hash(d), bpt_deployment_host_dir(d), bpt_deployment_kx_socket(d),
               dig ? dig : "never");
        ex = BPT_EXIT_OK;
        goto out;
    }
    if ((rc = bpt_runtime_list(&list, &n, o.rt, false)) < 0) {
        ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
        goto out;
    }
    if (cli_json()) {
        json_t *arr = json_array(), *obj = json_object();
        char *one = NULL, *all = NULL;
        for (size_t i = 0; arr && i < n; i++) {
            if ((rc = bpt_deployment_to_json(&one, list[i])) < 0) {
                break;
            }
            json_array_append_new(arr, json_loads(one, 0, NULL));
            bpt_free(one);
        }
        json_object_set_new(obj, "deployments", arr);
        all = json_dumps(obj, JSON_COMPACT);
        json_decref(obj);
        ex = rc < 0 || all == NULL ? cli_fail(rc < 0 ? rc : BPT_ENOMEM, CLI_AT_OUTPUT, "output")
                                   : cli_print_json(all, NULL);
        free(all);
        goto out;
    }
    if (n == 0) {
        printf("no deployments\n");
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s  %-20s %-9s %s%s%s\n", bpt_deployment_id(list[i]), bpt_deployment_name(list[i]),
               bpt_deploy_state_name(bpt_deployment_state(list[i])),
               bpt_deployment_detail(list[i])[0] ? "(" : "", bpt_deployment_detail(list[i]),
               bpt_deployment_detail(list[i])[0] ? ")" : "");
    }
    ex = BPT_EXIT_OK;
out:
    bpt_deployment_list_free(list, n);
    bpt_deployment_free(d);
    cli_rt_close(&o);
    return ex;
}
