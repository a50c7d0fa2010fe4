/*
 * bpt run: host a job service (DESIGN.md §10). The runner attests per the config's mode and
 * requirement, then serves the jobs, the key exchange, the attestation, /healthz and /metrics on
 * one listener until SIGTERM or SIGINT, and drains. Handlers are external programs (--job);
 * the sealed secrets a program is given (--job-secret) reach it as files on a memory file
 * system, never in its argv or environment. Nothing secret is printed.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"

#define MAX_JOBS 256
#define MAX_JOB_SECRETS 64

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: bpt run --config FILE --job INDEX=COMMAND... [--job-secret INDEX=NAME]...\n"
            "               [--listen HOST:PORT|unix:PATH] [--simulate PROVIDER --sim-dir DIR]\n"
            "               [--deployment ID [--state-dir DIR] [--trust-root PEM]...]\n"
            "\n"
            "Host a job service until SIGINT or SIGTERM. At start the config's mode decides:\n"
            "disabled runs plain; auto uses a TEE when 'bpt detect' finds one; direct attests\n"
            "(the TEE, or the simulator with --simulate) and verifies its own evidence. When\n"
            "that fails, requirement \"required\" refuses to start and \"preferred\" warns and\n"
            "runs with unstamped results. One listener then serves:\n"
            "  POST /v1/jobs/{index}   the body (application/octet-stream) to the job's\n"
            "                          program; 200 with its output and X-Bpt-Meta-<key>\n"
            "                          headers (tee.attestation.digest, tee.provider,\n"
            "                          tee.measurement), ?format=json for {body_b64,metadata};\n"
            "                          422 an error result, 404 no such job, 413 too large,\n"
            "                          503 queue full (Retry-After)\n"
            "  GET  /v1/attestation    the attestation results are stamped with (?nonce=HEX:\n"
            "                          fresh evidence binding that nonce)\n"
            "  POST /v1/sessions ...   the key exchange (bpt seal): secrets for the jobs\n"
            "  GET  /healthz, /metrics\n"
            "On SIGINT or SIGTERM it stops taking jobs, lets those in flight finish (up to\n"
            "--drain SECS), and cleanses the secrets.\n"
            "\n"
            "options:\n"
            "  --config FILE         TeeConfig JSON (mode, requirement, providers, key exchange)\n"
            "  --job INDEX=COMMAND   job INDEX (0..255) runs COMMAND: a program path and its\n"
            "                        arguments split on spaces (no shell). It reads the call's\n"
            "                        body on stdin and writes the result on stdout; a non-zero\n"
            "                        exit is an error result with its last stderr line\n"
            "  --job-secret INDEX=NAME  the sealed secret NAME is given to job INDEX's program\n"
            "                        as the file $BPT_SECRETS_DIR/NAME (mode 0400, tmpfs, for\n"
            "                        the length of one call); a missing secret fails the call\n"
            "  --job-timeout SECS    a program still running then is killed: error\n"
            "                        job_timeout (default 30)\n"
            "  --listen HOST:PORT    default 127.0.0.1:8788 (port 0 picks a free one)\n"
            "  --listen unix:PATH    a unix socket instead (mode 0600): a workload in a\n"
            "                        deployment serves on unix:/run/bpt/kx.sock\n"
            "  --workers N           jobs run at once (default 4)\n"
            "  --queue N             jobs waiting beyond those (default 256; then 503)\n"
            "  --drain SECS          how long in-flight jobs may finish at stop (default 10)\n"
            "  --simulate P          attest with the simulated TEE (sev-snp, tdx, aws-nitro,\n"
            "                        gcp-confidential, azure-maa)\n"
            "  --sim-dir DIR         made by 'bpt sim init DIR' (required with --simulate)\n"
            "  --root DIR            look for the TEE under DIR instead of / (tests, chroots)\n"
            "chain (the Tangle job source and result sink; docs/chain.md):\n"
            "  --tangle-rpc URL      the EVM node (https://, or http:// to loopback)\n"
            "  --tangle-address ADDR the Tangle contract\n"
            "  --service-id N        the service whose jobs run here\n"
            "  --operator-key FILE   hex key file (mode 0600) or keystore v3 (its password in\n"
            "                        the environment variable BPT_OPERATOR_KEY_PASSWORD)\n"
            "  --chain-state FILE    SQLite cursor (default bpt-chain-<service>.sqlite here)\n"
            "  --start-block N       where a new state file starts (default latest - 9)\n"
            "  --confirmations N     read blocks this deep below the head (default 0)\n"
            "  --poll-ms N           between polls (default 2000)\n"
            "  --bsm ADDR            publish the attestation to this service manager\n"
            "                        (reportProvisioned) and check its hash; with\n"
            "                        on_chain_verification a failure refuses to start\n");
    fprintf(f, "deployment (placing TEE jobs in a runtime deployment; docs/runner.md):\n"
               "  --deployment ID       without a TEE of its own, jobs the routing wants in a TEE\n"
               "                        go to this deployment's workload (bpt deploy; it runs\n"
               "                        'bpt run ... --listen unix:/run/bpt/kx.sock'), attested\n"
               "                        with a fresh nonce first and on the re-attestation\n"
               "                        interval; refused (never run plainly) when it is not\n"
               "                        running or its attestation does not verify\n"
               "  --state-dir DIR       the deployments' store (default $BPT_STATE_DIR, else\n"
               "                        /var/lib/bpt as root, else $XDG_STATE_HOME/bpt)\n"
               "  --trust-root PEM      verify the deployment against these roots instead of the\n"
               "                        pinned vendor roots; repeatable\n"
               "  --policy FILE         the deployment's attestation policy (default: production)\n"
               "A blueprint whose profile says tee_required is refused without an attested TEE\n"
               "or a deployment.\n"
               "Prints 'run: listening on http://HOST:PORT ...' (or 'on unix:PATH') once ready.\n");
    cli_help_exit(f, "stopped by SIGINT or SIGTERM after serving",
                  "the config requires a TEE and there is none, its evidence does not verify, "
                  "or its provider is not allowed",
                  "--config FILE is missing, unreadable or not a valid TeeConfig; the simulator "
                  "directory is not initialised",
                  "cannot listen on HOST:PORT (in use, not an address of this host)");
}

/* "INDEX=REST": the index (0..255) and REST; false when it is not that. */
static bool split_index(const char *arg, uint8_t *index, const char **rest)
{
    const char *eq = strchr(arg, '=');
    char digits[8];
    unsigned long long i = 0;
    if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(digits) || !eq[1]) {
        return false;
    }
    memcpy(digits, arg, (size_t)(eq - arg));
    digits[eq - arg] = '\0';
    if (!cli_parse_u64(digits, 255, &i)) { /* the CLI's one number parser: digits only */
        return false;
    }
    *index = (uint8_t)i;
    *rest = eq + 1;
    return true;
}

/* A positive count from a flag's value, at most @p max; false otherwise. */
static bool parse_count(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long long v = 0;
    if (!cli_parse_u64(s, max, &v) || v == 0) {
        return false;
    }
    *out = (unsigned long)v;
    return true;
}

struct run_flags {
    const char *config, *listen, *root;
    const char *jobs[MAX_JOBS]; /* the command per index, NULL: none */
    struct {
        uint8_t index;
        const char *name;
    } secrets[MAX_JOB_SECRETS];
    size_t n_secrets;
    unsigned long timeout_secs, workers, queue, drain_secs;
    bpt_provider simulate;
    const char *sim_dir;
    const char *rpc, *tangle, *operator_key, *chain_state, *bsm;
    bool has_service;
    unsigned long long service_id, start_block, confirmations, poll_ms;
    struct cli_rt rt; /* --deployment: the runtime it lives in, and its verifier */
    const char *deployment;
};

static int parse_flags(struct run_flags *fl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"job", required_argument, NULL, 'j'},
        {"job-secret", required_argument, NULL, 'S'},
        {"job-timeout", required_argument, NULL, 't'},
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"queue", required_argument, NULL, 'q'},
        {"drain", required_argument, NULL, 'D'},
        {"simulate", required_argument, NULL, 's'},
        {"sim-dir", required_argument, NULL, 'd'},
        {"root", required_argument, NULL, 'r'},
        {"tangle-rpc", required_argument, NULL, 'R'},
        {"tangle-address", required_argument, NULL, 'A'},
        {"service-id", required_argument, NULL, 'I'},
        {"operator-key", required_argument, NULL, 'K'},
        {"chain-state", required_argument, NULL, 'T'},
        {"start-block", required_argument, NULL, 'B'},
        {"confirmations", required_argument, NULL, 'C'},
        {"poll-ms", required_argument, NULL, 'P'},
        {"bsm", required_argument, NULL, 'M'},
        {"deployment", required_argument, NULL, 1000},
        {"state-dir", required_argument, NULL, 1001},
        {"trust-root", required_argument, NULL, 1002},
        {"policy", required_argument, NULL, 1003},
        {NULL, 0, NULL, 0},
    };
    const char *rest;
    uint8_t index;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            fl->config = optarg;
            break;
        case 'j':
            if (!split_index(optarg, &index, &rest)) {
                return cli_usage_error("run", "--job '%.60s': expected INDEX=COMMAND, INDEX 0..255",
                                       optarg);
            }
            if (fl->jobs[index]) {
                return cli_usage_error("run", "--job: job %u is given twice", index);
            }
            fl->jobs[index] = rest;
            break;
        case 'S':
            if (!split_index(optarg, &index, &rest)) {
                return cli_usage_error("run", "--job-secret '%.60s': expected INDEX=NAME", optarg);
            }
            if (fl->n_secrets == MAX_JOB_SECRETS) {
                return cli_usage_error("run", "--job-secret: at most %d", MAX_JOB_SECRETS);
            }
            fl->secrets[fl->n_secrets].index = index;
            fl->secrets[fl->n_secrets++].name = rest;
            break;
        case 't':
            if (!parse_count(optarg, 3600, &fl->timeout_secs)) {
                return cli_usage_error("run", "--job-timeout '%.20s': seconds, 1..3600", optarg);
            }
            break;
        case 'l':
            fl->listen = optarg;
            break;
        case 'w':
            if (!parse_count(optarg, 256, &fl->workers)) {
                return cli_usage_error("run", "--workers '%.20s': 1..256", optarg);
            }
            break;
        case 'q':
            if (!parse_count(optarg, 65536, &fl->queue)) {
                return cli_usage_error("run", "--queue '%.20s': 1..65536", optarg);
            }
            break;
        case 'D':
            if (!parse_count(optarg, 3600, &fl->drain_secs)) {
                return cli_usage_error("run", "--drain '%.20s': seconds, 1..3600", optarg);
            }
            break;
        case 's':
            if (bpt_provider_parse(&fl->simulate, optarg) < 0 || !cli_simulated(fl->simulate)) {
                return cli_usage_error(
                    "run", "--simulate '%.40s': the simulator has " CLI_SIMULATED, optarg);
            }
            break;
        case 'd':
            fl->sim_dir = optarg;
            break;
        case 'r':
            fl->root = optarg;
            break;
        case 'R':
            fl->rpc = optarg;
            break;
        case 'A':
            fl->tangle = optarg;
            break;
        case 'K':
            fl->operator_key = optarg;
            break;
        case 'T':
            fl->chain_state = optarg;
            break;
        case 'M':
            fl->bsm = optarg;
            break;
        case 'I':
            if (!cli_parse_u64(optarg, UINT64_MAX, &fl->service_id)) {
                return cli_usage_error("run", "--service-id '%.30s': a number", optarg);
            }
            fl->has_service = true;
            break;
        case 'B':
            if (!cli_parse_u64(optarg, UINT64_MAX, &fl->start_block)) {
                return cli_usage_error("run", "--start-block '%.30s': a block number", optarg);
            }
            break;
        case 'C':
            if (!cli_parse_u64(optarg, 10000, &fl->confirmations)) {
                return cli_usage_error("run", "--confirmations '%.30s': 0..10000", optarg);
            }
            break;
        case 'P':
            if (!cli_parse_u64(optarg, 3600000, &fl->poll_ms) || fl->poll_ms < 10) {
                return cli_usage_error("run", "--poll-ms '%.30s': 10..3600000", optarg);
            }
            break;
        case 1000:
            fl->deployment = optarg;
            break;
        case 1001:
            fl->rt.state_dir = optarg;
            break;
        case 1002:
            if (fl->rt.n_roots == CLI_RT_MAX_ROOTS) {
                return cli_usage_error("run", "at most %d --trust-root", CLI_RT_MAX_ROOTS);
            }
            fl->rt.roots[fl->rt.n_roots++] = optarg;
            break;
        case 1003:
            fl->rt.policy_file = optarg;
            break;
        default:
            return cli_usage_error("run", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    }
    if (!fl->config) {
        return cli_usage_error("run", "--config FILE is required (a TeeConfig; see 'bpt config')");
    }
    if (fl->simulate != BPT_PROVIDER_UNKNOWN && !fl->sim_dir) {
        return cli_usage_error("run", "--simulate needs --sim-dir DIR (see 'bpt sim init')");
    }
    if ((fl->rpc || fl->tangle || fl->operator_key || fl->has_service || fl->bsm ||
         fl->chain_state) &&
        !(fl->rpc && fl->tangle && fl->operator_key && fl->has_service)) {
        return cli_usage_error("run", "the chain source needs --tangle-rpc, --tangle-address, "
                                      "--service-id and --operator-key together");
    }
    for (size_t i = 0; i < fl->n_secrets; i++) {
        if (!fl->jobs[fl->secrets[i].index]) {
            return cli_usage_error("run", "--job-secret %u=%s: there is no --job %u",
                                   fl->secrets[i].index, fl->secrets[i].name, fl->secrets[i].index);
        }
    }
    if ((fl->rt.state_dir || fl->rt.n_roots || fl->rt.policy_file) && !fl->deployment) {
        return cli_usage_error("run", "--state-dir, --trust-root and --policy go with "
                                      "--deployment ID");
    }
    for (size_t i = 0; i < MAX_JOBS; i++) {
        if (fl->jobs[i]) {
            return 0;
        }
    }
    if (fl->deployment) {
        return 0; /* every job may be the deployment's */
    }
    return cli_usage_error("run", "no job: give at least one --job INDEX=COMMAND (or a "
                                  "--deployment)");
}

/* One exec handler per --job, routed. */
static int make_handlers(bpt_exec_handler **handlers, bpt_router *router,
                         const struct run_flags *fl)
{
    for (unsigned i = 0; i < MAX_JOBS; i++) {
        bpt_exec_handler_opts o = BPT_EXEC_HANDLER_OPTS_INIT;
        const char *names[MAX_JOB_SECRETS];
        char what[32], command[PATH_MAX + 4096];
        int rc;
        if (!fl->jobs[i]) {
            continue;
        }
        for (size_t k = 0; k < fl->n_secrets; k++) {
            if (fl->secrets[k].index == i) {
                names[o.n_secrets++] = fl->secrets[k].name;
            }
        }
        /* A relative program path is taken from the working directory, here, once. */
        if (fl->jobs[i][0] != '/') {
            size_t plen = strcspn(fl->jobs[i], " ");
            char prog[PATH_MAX], abs[PATH_MAX];
            snprintf(prog, sizeof(prog), "%.*s", (int)plen, fl->jobs[i]);
            if (!realpath(prog, abs)) {
                return cli_usage_error("run", "--job %u: program '%s': %s", i, prog,
                                       strerror(errno));
            }
            snprintf(command, sizeof(command), "%s%s", abs, fl->jobs[i] + plen);
            o.command = command;
        } else {
            o.command = fl->jobs[i];
        }
        o.secrets = names;
        o.timeout_ms = (long)fl->timeout_secs * 1000;
        snprintf(what, sizeof(what), "--job %u", i);
        if ((rc = bpt_exec_handler_new(&handlers[i], &o)) < 0 ||
            (rc = bpt_router_route(router, (uint8_t)i, bpt_exec_handler_run, handlers[i])) < 0) {
            return cli_fail(rc, CLI_AT_ARG, what);
        }
    }
    return 0;
}

/* With --simulate: the simulator directory works before anything starts (input, not a
 * refusal, when it was never initialised). */
static int check_simulator(const struct run_flags *fl)
{
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    bpt_report *r = NULL;
    uint8_t rd[64] = {0};
    int rc;
    if (fl->simulate == BPT_PROVIDER_UNKNOWN) {
        return 0;
    }
    ao.simulate = fl->simulate;
    ao.sim_dir = fl->sim_dir;
    rc = bpt_attest(&r, rd, &ao);
    bpt_report_free(r);
    return rc < 0 ? cli_fail(rc, CLI_AT_HOST, fl->sim_dir) : 0;
}

int cmd_run(int argc, char **argv)
{
    struct run_flags fl = {.listen = "127.0.0.1:8788", .timeout_secs = 30};
    bpt_runner_opts ro = BPT_RUNNER_OPTS_INIT;
    bpt_exec_handler *handlers[MAX_JOBS] = {NULL};
    bpt_router *router = NULL;
    bpt_runner *runner = NULL;
    bpt_config *cfg = NULL;
    bpt_tee_snapshot *snap = NULL;
    char *text = NULL, state[64];
    size_t len = 0;
    sigset_t set;
    int rc, ex;

    if (cli_wants_help(argc, argv)) {
        run_usage(stdout);
        return BPT_EXIT_OK;
    }
    if ((ex = parse_flags(&fl, argc, argv)) != 0) {
        return ex;
    }
    /* Sealed secrets will sit in this process: no core file, no ptrace by the same user. */
    if ((rc = bpt_secret_protect_process()) < 0) {
        return cli_fail(rc, CLI_AT_HOST, "protecting the process");
    }
    if ((rc = cli_read_file(&text, &len, fl.config, BPT_LIMIT_JSON_BYTES)) < 0 ||
        (rc = bpt_config_load_json(&cfg, text, len)) < 0) {
        ex = cli_fail(rc, CLI_AT_FILE, fl.config);
        goto out;
    }
    if ((ex = check_simulator(&fl)) != 0) {
        goto out;
    }
    ro.workers = fl.workers;
    ro.queue_depth = fl.queue;
    ro.drain_timeout_ms = (long)fl.drain_secs * 1000;
    ro.simulate = fl.simulate;
    ro.sim_dir = fl.sim_dir;
    ro.root = fl.root;
    if ((rc = bpt_router_new(&router)) < 0 || (rc = bpt_runner_new(&runner, cfg)) < 0 ||
        (rc = bpt_runner_set_options(runner, &ro)) < 0) {
        ex = cli_fail(rc, rc == BPT_ENOTSUP ? CLI_AT_CHECK : CLI_AT_OUTPUT, fl.config);
        goto out;
    }
    if ((ex = make_handlers(handlers, router, &fl)) != 0) {
        goto out;
    }
    if ((rc = bpt_runner_set_router(runner, router)) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "router");
        goto out;
    }
    if (fl.deployment) {
        fl.rt.want_verifier = true;
        if ((ex = cli_rt_open(&fl.rt)) != 0) {
            goto out;
        }
        if ((rc = bpt_runner_set_deployment(runner, fl.rt.rt, fl.deployment)) < 0) {
            ex = cli_fail(rc, CLI_AT_ARG, "--deployment");
            goto out;
        }
    }
    if ((rc = bpt_runner_add_source(runner, bpt_source_http_local(fl.listen))) < 0) {
        ex = cli_fail(rc, CLI_AT_LISTEN, fl.listen);
        goto out;
    }
    if (fl.rpc) {
        bpt_tangle_source_opts to = BPT_TANGLE_SOURCE_OPTS_INIT;
        bpt_eth_address check;
        if (bpt_eth_address_parse(&check, fl.tangle) < 0 ||
            (fl.bsm && bpt_eth_address_parse(&check, fl.bsm) < 0)) {
            ex = cli_usage_error("run", "%s", bpt_error_last());
            goto out;
        }
        snprintf(state, sizeof(state), "bpt-chain-%llu.sqlite", fl.service_id);
        to.rpc_url = fl.rpc;
        to.tangle = fl.tangle;
        to.service_id = fl.service_id;
        to.operator_key = fl.operator_key;
        to.key_password = getenv("BPT_OPERATOR_KEY_PASSWORD");
        to.state_path = fl.chain_state ? fl.chain_state : state;
        to.start_block = fl.start_block;
        to.confirmations = (uint32_t)fl.confirmations;
        to.poll_ms = (long)fl.poll_ms;
        to.bsm = fl.bsm;
        if ((rc = bpt_runner_add_source(runner, bpt_source_tangle(&to))) < 0) {
            ex = cli_fail(rc, CLI_AT_ARG, "chain source");
            goto out;
        }
    }
    /* Blocked before the runner's threads exist, so they inherit it and the signal comes to
     * bpt_runner_wait(). */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if ((rc = bpt_runner_start(runner)) < 0) {
        /* The TEE (required: none, or its evidence refused; the chain's tee_required), the
         * listener or the chain (unreachable: network; a key or state file: input; a refused
         * dual-path check: refused). */
        ex = cli_fail(rc, rc == BPT_EFETCH || rc == BPT_EIO ? CLI_AT_LISTEN : CLI_AT_FILE, NULL);
        if (rc == BPT_EUNSATISFIABLE || rc == BPT_EPROTOCOL || rc == BPT_ECLAIM ||
            rc == BPT_ENOTFOUND) {
            ex = BPT_EXIT_REFUSED;
        }
        goto out;
    }
    snap = bpt_runner_snapshot(runner);
    if (strncmp(fl.listen, "unix:", 5) == 0) {
        printf("run: listening on %s", fl.listen);
    } else {
        printf("run: listening on http://%.*s:%u", (int)(strrchr(fl.listen, ':') - fl.listen),
               fl.listen, bpt_runner_http_port(runner));
    }
    printf(" mode=%s provider=%s%s attestation=%s%s%s\n", bpt_tee_mode_name(bpt_config_mode(cfg)),
           snap ? bpt_provider_name(bpt_tee_snapshot_provider(snap)) : "none",
           snap && fl.simulate != BPT_PROVIDER_UNKNOWN ? " (simulated)" : "",
           snap ? bpt_tee_snapshot_digest(snap) : "none (results unstamped)",
           fl.deployment ? " deployment=" : "", fl.deployment ? fl.deployment : "");
    fflush(stdout);
    bpt_tee_snapshot_free(snap);
    bpt_runner_wait(runner);
    printf("run: stopped; jobs in flight finished, sealed secrets cleansed\n");
    ex = BPT_EXIT_OK;
out:
    bpt_runner_free(runner);
    cli_rt_close(&fl.rt); /* after the runner: it borrows the runtime */
    for (size_t i = 0; i < MAX_JOBS; i++) {
        bpt_exec_handler_free(handlers[i]);
    }
    bpt_router_free(router);
    bpt_config_free(cfg);
    bpt_free(text);
    return ex;
}
