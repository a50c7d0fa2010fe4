/*
 * What the runtime commands share (deploy, status, attestation, pubkey, stop, destroy, and seal
 * --deployment): their common flags, opening the runtime (its store, reconciled), the verifier
 * attestation and sealing use, and printing a deployment.
 */
#include "cli.h"

#include <getopt.h>

#include <stdlib.h>
#include <string.h>

#include "core/limits.h"

int cli_make_policy_ctx(bpt_policy **policy_out, bpt_verify_ctx **ctx_out, const char *policy_file,
                        const char *const *roots, int n_roots, bool allow_debug,
                        const char *measurement)
{
    bpt_policy *policy = NULL;
    bpt_verify_ctx *ctx = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc, ex = BPT_EXIT_OK;

    *policy_out = NULL;
    *ctx_out = NULL;
    if (policy_file) {
        if ((rc = cli_read_file(&text, &len, policy_file, BPT_LIMIT_JSON_BYTES)) < 0 ||
            (rc = bpt_policy_load_json(&policy, text, len)) < 0) {
            ex = cli_fail(rc, CLI_AT_FILE, policy_file);
            goto out;
        }
        bpt_free(text);
        text = NULL;
    } else if ((rc = bpt_policy_new(&policy)) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "policy");
        goto out;
    }
    bpt_policy_set_allow_debug(policy, allow_debug || bpt_policy_allow_debug(policy));
    if (measurement && (rc = bpt_policy_set_expected_measurement(policy, measurement)) < 0) {
        ex = cli_fail(rc, CLI_AT_ARG, "--expect-measurement");
        goto out;
    }
    if ((rc = bpt_verify_ctx_new(&ctx, NULL)) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "context");
        goto out;
    }
    for (int i = 0; i < n_roots; i++) {
        if ((rc = cli_read_file(&text, &len, roots[i], BPT_LIMIT_CERT_CHAIN_BYTES)) < 0 ||
            (rc = bpt_verify_ctx_add_trust_roots(ctx, (const uint8_t *)text, len)) < 0) {
            ex = cli_fail(rc, CLI_AT_FILE, roots[i]);
            goto out;
        }
        bpt_free(text);
        text = NULL;
    }
    *policy_out = policy;
    *ctx_out = ctx;
    policy = NULL;
    ctx = NULL;
out:
    bpt_free(text);
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(policy);
    return ex;
}

int cli_make_verifier(bpt_verifier **out, const char *policy_file, const char *const *roots,
                      int n_roots, bool allow_debug, const char *measurement)
{
    bpt_policy *policy = NULL;
    bpt_verify_ctx *ctx = NULL;
    int rc, ex;

    *out = NULL;
    if ((ex = cli_make_policy_ctx(&policy, &ctx, policy_file, roots, n_roots, allow_debug,
                                  measurement)) != 0) {
        return ex;
    }
    if ((rc = bpt_verifier_new(out, ctx, policy)) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "verifier");
    }
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(policy);
    return ex;
}

/* A whole number of seconds 0..86400 from @p arg into milliseconds (0 becomes 1 ms). */
static bool seconds(unsigned *ms, const char *arg)
{
    unsigned long long v = 0;
    if (!cli_parse_u64(arg, 86400, &v)) {
        return false;
    }
    *ms = v == 0 ? 1 : (unsigned)v * 1000u;
    return true;
}

int cli_rt_option(struct cli_rt *o, const char *cmd, int c, const char *arg)
{
    switch (c) {
    case 'S':
        o->state_dir = arg;
        return 0;
    case 'R':
        o->oci_runtime = arg;
        return 0;
    case 'J': /* acted on by main.c */
        return 0;
    case 't':
        if (o->n_roots == CLI_RT_MAX_ROOTS) {
            return cli_usage_error(cmd, "at most %d --trust-root", CLI_RT_MAX_ROOTS);
        }
        o->roots[o->n_roots++] = arg;
        return 0;
    case 'p':
        o->policy_file = arg;
        return 0;
    case 'D':
        o->allow_debug = true;
        return 0;
    case 'w':
        if (!seconds(&o->wait_ms, arg)) {
            return cli_usage_error(cmd, "--wait '%s': seconds, 0..86400", arg);
        }
        return 0;
    case 'T':
        if (!seconds(&o->stop_ms, arg)) {
            return cli_usage_error(cmd, "--timeout '%s': seconds, 0..86400", arg);
        }
        return 0;
    case 'c':
        o->config_file = arg;
        return 0;
    case 'b':
        o->backend = arg;
        return 0;
    case 'd':
        o->host_root = arg;
        return 0;
    case 'n':
        o->nonce_hex = arg;
        return 0;
    default:
        return -1;
    }
}

bool cli_rt_args(int *ex, struct cli_rt *o, const char *cmd, int argc, char **argv,
                 const struct option *opts, void (*usage)(FILE *), int min, int max,
                 const char *operands)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            *ex = BPT_EXIT_OK;
            return false;
        }
        if ((*ex = cli_rt_option(o, cmd, c, optarg)) != 0) {
            if (*ex < 0) {
                *ex =
                    cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
            }
            return false;
        }
    }
    if (argc - optind < min || argc - optind > max) {
        *ex = cli_usage_error(cmd, "%s", operands);
        return false;
    }
    return true;
}

void cli_rt_help_common(FILE *f, bool verify)
{
    fprintf(f, "  --state-dir DIR   the store (DIR/state.db) and deployments; default\n"
               "                    $BPT_STATE_DIR, else /var/lib/bpt as root, else\n"
               "                    $XDG_STATE_HOME/bpt\n"
               "  --runtime PATH    the OCI runtime (default $BPT_OCI_RUNTIME, else runc or crun\n"
               "                    from PATH)\n"
               "  --json            print one JSON object (docs/schemas/)\n");
    if (verify) {
        fprintf(f,
                "  --trust-root PEM  trust these roots instead of the pinned vendor roots (e.g.\n"
                "                    DIR/trust-roots.pem of the simulator); repeatable\n"
                "  --policy FILE     the attestation policy (default: production)\n"
                "  --allow-debug     accept debug TEEs\n"
                "  --wait SECS       how long a just-started workload may take to open its\n"
                "                    key-exchange socket (default 10)\n");
    }
}

int cli_rt_open(struct cli_rt *o)
{
    bpt_runtime_options ro = BPT_RUNTIME_OPTIONS_INIT;
    char *text = NULL;
    size_t len = 0;
    int rc, ex;

    if (o->config_file) {
        if ((rc = cli_read_file(&text, &len, o->config_file, BPT_LIMIT_JSON_BYTES)) < 0 ||
            (rc = bpt_config_load_json(&o->config, text, len)) < 0) {
            bpt_free(text);
            return cli_fail(rc, CLI_AT_FILE, o->config_file);
        }
        bpt_free(text);
    }
    if (o->want_verifier && (ex = cli_make_verifier(&o->verifier, o->policy_file, o->roots,
                                                    o->n_roots, o->allow_debug, NULL)) != 0) {
        return ex;
    }
    ro.state_dir = o->state_dir ? o->state_dir : getenv("BPT_STATE_DIR");
    if (ro.state_dir && !*ro.state_dir) {
        ro.state_dir = NULL;
    }
    ro.oci_runtime = o->oci_runtime ? o->oci_runtime : getenv("BPT_OCI_RUNTIME");
    if (ro.oci_runtime && !*ro.oci_runtime) {
        ro.oci_runtime = NULL;
    }
    ro.backend = o->backend;
    ro.config = o->config;
    ro.verifier = o->verifier;
    ro.host_root = o->host_root;
    ro.ready_timeout_ms = o->wait_ms;
    ro.stop_timeout_ms = o->stop_ms;
    if ((rc = bpt_runtime_new(&o->rt, &ro)) < 0) {
        return cli_fail(rc, CLI_AT_RUNTIME, "store");
    }
    return BPT_EXIT_OK;
}

void cli_rt_close(struct cli_rt *o)
{
    bpt_runtime_free(o->rt);
    bpt_verifier_free(o->verifier);
    bpt_config_free(o->config);
    o->rt = NULL;
    o->verifier = NULL;
    o->config = NULL;
}

int cli_rt_print(const bpt_deployment *d, const char *cmd)
{
    char *json = NULL;
    int rc, ex;
    if (cli_json()) {
        if ((rc = bpt_deployment_to_json(&json, d)) < 0) {
            return cli_fail(rc, CLI_AT_OUTPUT, "output");
        }
        ex = cli_print_json(json, NULL);
        bpt_free(json);
        return ex;
    }
    printf("%s: %s '%s' %s", cmd, bpt_deployment_id(d), bpt_deployment_name(d),
           bpt_deploy_state_name(bpt_deployment_state(d)));
    if (bpt_deployment_detail(d)[0]) {
        printf(" (%s)", bpt_deployment_detail(d));
    }
    printf("\n");
    return BPT_EXIT_OK;
}
