/*
 * bpt serve: the key-exchange control plane (DESIGN.md §6) on loopback, with evidence from
 * the TEE (configfs-tsm, /dev/sev-guest, /dev/nsm) or the simulator. Secrets that arrive are
 * kept in memory; only their names and sizes are ever printed.
 */
#include "cli.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/util.h"

struct serve_state {
    bpt_attester_opts ao;
};

static int attest_cb(bpt_report **out, const uint8_t report_data[64], void *ud)
{
    struct serve_state *st = ud;
    return bpt_attest(out, report_data, &st->ao);
}

static void on_secret(const char *session_id_hex, const char *name, const bpt_secret *secret,
                      void *ud)
{
    (void)ud;
    /* names are checked against [A-Za-z0-9._-] already; escaped all the same, as everything
     * from the network that reaches this output */
    char name_esc[4 * BPT_KX_NAME_MAX + 1], sid_esc[4 * 32 + 1];
    printf("serve: session %s delivered secret '%s' (%zu bytes); the service holds it\n",
           bpt_escape_text(sid_esc, sizeof(sid_esc), session_id_hex),
           bpt_escape_text(name_esc, sizeof(name_esc), name), bpt_secret_len(secret));
    fflush(stdout);
}

static void serve_usage(FILE *f)
{
    fprintf(f, "usage: bpt serve [--config FILE] [--listen HOST:PORT | --listen unix:PATH]\n"
               "                 [--simulate PROVIDER --sim-dir DIR] [--audience AUD]\n"
               "\n"
               "Serve the sealed-secret key exchange (DESIGN.md §6) until SIGINT or SIGTERM:\n"
               "POST /v1/sessions, POST /v1/sessions/{id}/secrets, GET /v1/attestation,\n"
               "GET /healthz, GET /metrics. Each session's X25519 key is bound into fresh\n"
               "evidence from the TEE, or from the simulator with --simulate.\n"
               "  --config FILE      TeeConfig JSON: its key_exchange block (TTL, sessions,\n"
               "                     per-client and connection limits, request deadline,\n"
               "                     secret_store policy, authorized_senders) is used, and\n"
               "                     requirement (below)\n"
               "  --simulate P       evidence from the simulated TEE (sev-snp, tdx, aws-nitro,\n"
               "                     gcp-confidential, azure-maa: tokens of the simulated\n"
               "                     launcher and MAA, keys in DIR/<provider>/jwks.json)\n"
               "  --audience AUD     the audience of attestation tokens: GCP Confidential\n"
               "                     Space asks its launcher for it (required there); the\n"
               "                     simulated tokens default to blueprint-tee-sim\n"
               "  --sim-dir DIR      made by 'bpt sim init DIR' (required with --simulate)\n"
               "  --listen HOST:PORT default 127.0.0.1:8787 (port 0 picks a free one)\n"
               "  --listen unix:PATH a unix socket instead (mode 0600; an old socket at PATH\n"
               "                     is replaced): a workload of 'bpt deploy' serves on\n"
               "                     unix:/run/bpt/kx.sock; no per-client rate limit there\n"
               "  --legacy-v0        also accept the Rust crate's v0 SealedSecretPayload\n"
               "  --binding MODE     session (default: fresh evidence per session) or\n"
               "                     service-key (one attested Ed25519 key signs each session)\n"
               "Before listening it makes one evidence, so a simulator directory that was never\n"
               "initialised or a TEE that cannot attest stops it at once. Prints 'serve:\n"
               "listening on http://HOST:PORT' (or 'on unix:PATH') once ready. The process is\n"
               "made non-dumpable\n"
               "with no core files first (live session keys are in its memory).\n"
               "Without --simulate the host's TEE makes the evidence: when 'bpt detect' finds\n"
               "none, serve refuses to start (exit 1) unless --config says a TEE is not required\n"
               "(requirement \"preferred\", which a config with mode \"disabled\" has): then it\n"
               "starts with a warning, and sessions fail for want of evidence.\n");
    cli_help_exit(f, "stopped by SIGINT or SIGTERM after serving",
                  "no TEE found and the config does not allow serving without one, or the TEE "
                  "cannot make remote evidence",
                  "--config FILE is missing, unreadable or not a valid TeeConfig; the simulator "
                  "directory is not initialised",
                  "cannot listen on HOST:PORT (in use, not an address of this host)");
}

/* No TEE on this host: refused, unless the config's requirement is preferred (then a warning). */
static int no_tee(const bpt_config *cfg)
{
    if (!cfg || bpt_config_requirement(cfg) == BPT_REQUIREMENT_REQUIRED) {
        int rc = bpt_error_set(BPT_ENOTSUP,
                               "no TEE found on this host ('bpt detect' finds none): use "
                               "--simulate PROVIDER --sim-dir DIR for a test service, or a "
                               "--config whose requirement is \"preferred\" to serve without a "
                               "TEE");
        return cli_fail(rc, CLI_AT_HOST, NULL);
    }
    fprintf(stderr,
            "bpt serve: warning: no TEE found on this host; the config's requirement is "
            "\"%s\", so serving without one: sessions fail for want of evidence\n",
            bpt_tee_requirement_name(bpt_config_requirement(cfg)));
    return 0;
}

/*
 * Before listening, that sessions can be attested: one evidence is made (from the simulator, or
 * from the host's TEE), unless the host has no TEE and the config says one is not required.
 * Returns 0 or the exit status after reporting why not.
 */
static int check_evidence(const struct serve_state *st, const bpt_config *cfg)
{
    bpt_detection d = BPT_DETECTION_INIT;
    bpt_report *r = NULL;
    uint8_t rd[64] = {0};
    int rc;

    if (st->ao.simulate == BPT_PROVIDER_UNKNOWN) {
        if ((rc = bpt_detect(&d, "/", NULL, NULL)) < 0) {
            return cli_fail(rc, CLI_AT_HOST, "detecting the TEE");
        }
        if (d.provider == BPT_PROVIDER_UNKNOWN) {
            return no_tee(cfg);
        }
    }
    rc = bpt_attest(&r, rd, &st->ao);
    bpt_report_free(r);
    return rc < 0 ? cli_fail(rc, CLI_AT_HOST, st->ao.sim_dir) : 0;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"simulate", required_argument, NULL, 's'},
        {"sim-dir", required_argument, NULL, 'd'},
        {"legacy-v0", no_argument, NULL, 'L'},
        {"binding", required_argument, NULL, 'b'},
        {"audience", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct serve_state st = {.ao = BPT_ATTESTER_OPTS_INIT};
    bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
    bpt_kx_server_options ho = BPT_KX_SERVER_OPTIONS_INIT;
    bpt_kx_service *svc = NULL;
    bpt_kx_store *store = NULL;
    bpt_kx_server *srv = NULL;
    bpt_config *cfg = NULL;
    const char *config = NULL, *listen = "127.0.0.1:8787";
    char host[64];
    sigset_t set;
    int c, rc, sig = 0, ex = BPT_EXIT_USAGE;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 's':
            if (bpt_provider_parse(&st.ao.simulate, optarg) < 0 || !cli_simulated(st.ao.simulate)) {
                return cli_usage_error(
                    "serve", "--simulate '%.40s': the simulator has " CLI_SIMULATED, optarg);
            }
            break;
        case 'd':
            st.ao.sim_dir = optarg;
            break;
        case 'a':
            if (!*optarg || strlen(optarg) > 512) {
                return cli_usage_error("serve", "--audience: 1..512 bytes");
            }
            st.ao.audience = optarg;
            break;
        case 'L':
            ho.legacy_v0 = true;
            break;
        case 'b':
            if (strcmp(optarg, "session") == 0) {
                so.binding = BPT_KX_BINDING_SESSION;
            } else if (strcmp(optarg, "service-key") == 0) {
                so.binding = BPT_KX_BINDING_SERVICE_KEY;
            } else {
                return cli_usage_error("serve", "--binding '%s': expected session or service-key",
                                       optarg);
            }
            break;
        case 'h':
            serve_usage(stdout);
            return BPT_EXIT_OK;
        default:
            return cli_usage_error("serve", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    }
    if (st.ao.simulate != BPT_PROVIDER_UNKNOWN && !st.ao.sim_dir) {
        return cli_usage_error("serve", "--simulate needs --sim-dir DIR (see 'bpt sim init')");
    }
    if (strncmp(listen, "unix:", 5) == 0) {
        if (listen[5] != '/' || strlen(listen + 5) >= 108) {
            return cli_usage_error("serve",
                                   "--listen '%s': expected unix:/ABSOLUTE/PATH (under "
                                   "108 bytes)",
                                   listen);
        }
        ho.listen_unix = listen + 5;
        /* every client of a unix socket is the one local address: its permissions decide */
        ho.rate_limit_burst = 0;
    } else {
        const char *colon = strrchr(listen, ':');
        char *end = NULL;
        unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
        if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host) || !end || *end ||
            port > 65535) {
            return cli_usage_error("serve", "--listen '%s': expected HOST:PORT", listen);
        }
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        ho.listen_host = host;
        ho.port = (uint16_t)port;
    }
    /* live session keys and opened secrets will sit in this process: no core dumps, no
     * same-user ptrace (issue 13); before anything is read or served */
    if ((rc = bpt_secret_protect_process()) < 0) {
        return cli_fail(rc, CLI_AT_OUTPUT, "process protection");
    }
    bool replace_secrets = false;
    if (config) {
        char *text = NULL;
        size_t len = 0;
        if ((rc = cli_read_file(&text, &len, config, BPT_LIMIT_JSON_BYTES)) < 0 ||
            (rc = bpt_config_load_json(&cfg, text, len)) < 0) {
            bpt_free(text);
            return cli_fail(rc, CLI_AT_FILE, config);
        }
        bpt_free(text);
        so.ttl_secs = bpt_config_session_ttl_secs(cfg);
        so.max_sessions = (size_t)bpt_config_max_sessions(cfg);
        so.max_sessions_per_client = (size_t)bpt_config_max_sessions_per_client(cfg);
        so.first_use_secs = bpt_config_first_use_secs(cfg);
        ho.max_connections = (unsigned)bpt_config_max_connections(cfg);
        ho.max_connections_per_client = (unsigned)bpt_config_max_connections_per_client(cfg);
        ho.request_deadline_ms = (unsigned)bpt_config_request_deadline_secs(cfg) * 1000u;
        ho.authorized_senders = bpt_config_authorized_senders(cfg, &ho.n_authorized_senders);
        replace_secrets = bpt_config_replace_secrets(cfg);
    }
    if ((ex = check_evidence(&st, cfg)) != 0) {
        goto out;
    }
    ex = BPT_EXIT_USAGE;
    so.attest = attest_cb;
    so.attest_userdata = &st;
    ho.on_secret = on_secret;
    ho.on_secret_userdata = &st;

    /* Signals are taken synchronously by this thread; server threads inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if ((rc = bpt_kx_service_new(&svc, &so)) < 0 || (rc = bpt_kx_service_start_cleanup(svc)) < 0 ||
        (rc = bpt_kx_store_new(&store)) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "service");
        goto out;
    }
    bpt_kx_store_set_policy(store,
                            replace_secrets ? BPT_KX_STORE_REPLACE : BPT_KX_STORE_FIRST_WRITER);
    ho.store = store;
    if ((rc = bpt_kx_server_start(&srv, svc, &ho)) < 0) {
        ex = cli_fail(rc, CLI_AT_LISTEN, listen);
        goto out;
    }
    const char *evidence =
        st.ao.simulate != BPT_PROVIDER_UNKNOWN ? bpt_provider_name(st.ao.simulate) : "TEE hardware";
    if (ho.listen_unix) {
        printf("serve: listening on unix:%s (evidence: %s)\n", ho.listen_unix, evidence);
    } else {
        printf("serve: listening on http://%s:%u (evidence: %s)\n", host, bpt_kx_server_port(srv),
               evidence);
    }
    fflush(stdout);
    sigwait(&set, &sig);
    printf("serve: stopping on signal %d; %zu secret(s) were held, now cleansed\n", sig,
           bpt_kx_store_count(store));
    fflush(stdout); /* stdout may be a file (a deployment's workload.log) */
    ex = BPT_EXIT_OK;
out:
    bpt_kx_server_stop(srv);
    bpt_kx_service_free(svc);
    bpt_kx_store_free(store);
    bpt_config_free(cfg);
    return ex;
}
