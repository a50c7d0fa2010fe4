/*
 * bpt seal: verify a service's attestation, check that its session key is bound into it,
 * then seal a secret to that key and deliver it (DESIGN.md §6). The secret is never printed.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/http.h"
#include "core/limits.h"

#include <openssl/crypto.h>

static void seal_usage(FILE *f)
{
    fprintf(f, "usage: bpt seal (--url URL | --deployment ID [--state-dir DIR] [--wait SECS])\n"
               "                [--policy FILE] [--trust-root PEM]... [--allow-debug]\n"
               "                [--expect-measurement HEX] [--sign-key FILE] --name NAME\n"
               "                (--secret-file F | --secret-env VAR) [--quiet]\n"
               "                [--onchain-rpc URL --bsm ADDR --service N --operator ADDR]\n"
               "\n"
               "Create a session at URL (https://, or http:// only to a loopback address), or on\n"
               "the running deployment ID's workload ('bpt deploy': its key-exchange socket,\n"
               "or for a remote backend its plane's address as the cloud reports it),\n"
               "verify its attestation under the policy (production by default; --trust-root\n"
               "replaces the pinned vendor roots, e.g. with DIR/trust-roots.pem of the\n"
               "simulator), check that report_data binds the session key, the session id and\n"
               "a fresh nonce, then HPKE-seal the secret to the key and submit it. NAME is\n"
               "1..128 bytes of [A-Za-z0-9._-].\n"
               "  --sign-key FILE  an Ed25519 private key (PEM, e.g. from 'openssl genpkey\n"
               "                   -algorithm ed25519'): the delivery carries a sender\n"
               "                   signature, for services that take authorized senders only\n"
               "  --deployment ID   seal to that deployment's workload (its socket, or a\n"
               "                    remote one's plane URL)\n"
               "  --state-dir DIR   its store (default $BPT_STATE_DIR, else the default)\n"
               "  --wait SECS       how long a just-started workload may take to open its\n"
               "                    socket (default 10)\n"
               "  --onchain-rpc URL --bsm ADDR --service N --operator ADDR\n"
               "                   (with --url) the dual-path check first: the service's\n"
               "                   attestation (GET /v1/attestation) verified here, its keccak256\n"
               "                   compared with getAttestationHash(N, ADDR) on the service\n"
               "                   manager (a mismatch, nothing published or an unreachable chain\n"
               "                   refuses), and the session pinned to its measurement\n"
               "  --quiet  print nothing: the exit status only\n");
    cli_help_exit(f, "the service stored the secret",
                  "the attestation, its key binding or the protocol refused (an error status, an "
                  "answer that is not the protocol's), or the deployment is not running: nothing "
                  "was sent",
                  "a file (policy, trust roots, secret) is missing, unreadable or not in its "
                  "format; no deployment ID",
                  "the service is unreachable, timed out or unavailable (HTTP 5xx, 429), or "
                  "fetching keys or collateral failed");
}

/*
 * The dual-path check before sealing (--onchain-rpc): the service's provisioned attestation
 * (GET /v1/attestation) verified locally under the policy, keccak256 of its JSON bytes compared
 * with getAttestationHash(service, operator) on the service manager (fail closed: a mismatch,
 * nothing published or an unreachable chain refuses), and then the session's evidence pinned to
 * that attestation's measurement.
 */
static int onchain_check(const char *url, const char *rpc, const char *bsm_text,
                         const char *service_text, const char *operator_text, bpt_verify_ctx *ctx,
                         bpt_policy *policy)
{
    bpt_chain_opts o = BPT_CHAIN_OPTS_INIT;
    bpt_eth_address bsm, op;
    bpt_chain *chain = NULL;
    bpt_buf body = BPT_BUF_INIT(BPT_LIMIT_JSON_BYTES);
    bpt_report *rep = NULL;
    bpt_verified *v = NULL;
    json_t *j = NULL;
    char *att = NULL, full[1024], pin[200];
    unsigned long long service;
    long status = 0;
    int rc, ex = BPT_EXIT_OK;

    if (!cli_parse_u64(service_text, UINT64_MAX, &service)) {
        return cli_usage_error("seal", "--service '%.30s': a number", service_text);
    }
    if (bpt_eth_address_parse(&bsm, bsm_text) < 0 ||
        bpt_eth_address_parse(&op, operator_text) < 0) {
        return cli_usage_error("seal", "%s", bpt_error_last());
    }
    o.rpc_url = rpc;
    if ((rc = bpt_chain_new(&chain, &o)) < 0) {
        return cli_fail(rc, CLI_AT_ARG, "--onchain-rpc");
    }
    snprintf(full, sizeof(full), "%.900s/v1/attestation", url);
    if ((rc = bpt_http_get(&body, &status, full, 30000)) < 0 || status != 200) {
        if (rc == 0) {
            rc = bpt_err(status >= 500 ? BPT_EFETCH : BPT_EPROTOCOL,
                         "GET /v1/attestation: HTTP %ld", status);
        }
        ex = cli_fail(rc, CLI_AT_PEER, "the service's attestation");
        goto out;
    }
    if (!(j = json_loadb((const char *)body.data, body.len, JSON_REJECT_DUPLICATES, NULL)) ||
        !(att = json_dumps(json_object_get(j, "attestation"), JSON_COMPACT)) ||
        (rc = bpt_report_from_json(&rep, att, strlen(att))) < 0) {
        rc = bpt_err(BPT_EPROTOCOL, "GET /v1/attestation: no attestation report");
        ex = cli_fail(rc, CLI_AT_PEER, NULL);
        goto out;
    }
    if ((rc = bpt_verify_report(&v, ctx, policy, rep)) < 0) { /* path 1: the evidence */
        ex = cli_fail(rc, CLI_AT_EVIDENCE, "the service's attestation");
        goto out;
    }
    if ((rc = bpt_chain_attestation_check(chain, &bsm, service, &op, rep)) < 0) { /* path 2 */
        ex = cli_fail(rc, CLI_AT_PEER, NULL);
        goto out;
    }
    snprintf(pin, sizeof(pin), "%s:%s", bpt_report_measurement(rep)->algorithm,
             bpt_report_measurement(rep)->digest);
    if ((rc = bpt_policy_set_expected_measurement(policy, pin)) < 0) {
        ex = cli_fail(rc, CLI_AT_EVIDENCE, "the on-chain attestation's measurement");
        goto out;
    }
    printf("seal: on-chain attestation hash matches the service's attestation (service %llu); "
           "the session must show measurement %s\n",
           service, pin);
out:
    bpt_verified_free(v);
    bpt_report_free(rep);
    free(att);
    json_decref(j);
    bpt_buf_dispose(&body);
    bpt_chain_free(chain);
    return ex;
}

int cmd_seal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"policy", required_argument, NULL, 'p'},
        {"trust-root", required_argument, NULL, 't'},
        {"allow-debug", no_argument, NULL, 'D'},
        {"expect-measurement", required_argument, NULL, 'm'},
        {"name", required_argument, NULL, 'n'},
        {"secret-file", required_argument, NULL, 'f'},
        {"secret-env", required_argument, NULL, 'e'},
        {"sign-key", required_argument, NULL, 'k'},
        {"onchain-rpc", required_argument, NULL, 'R'},
        {"bsm", required_argument, NULL, 'B'},
        {"service", required_argument, NULL, 'V'},
        {"operator", required_argument, NULL, 'O'},
        {"quiet", no_argument, NULL, 'q'},
        {"deployment", required_argument, NULL, 'x'},
        {"state-dir", required_argument, NULL, 'S'},
        {"wait", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = NULL, *policy_file = NULL, *name = NULL, *file = NULL, *env = NULL,
               *measurement = NULL, *roots[16], *sign_key = NULL, *deployment = NULL,
               *onchain_rpc = NULL, *bsm = NULL, *service = NULL, *operator_addr = NULL;
    char *key_pem = NULL, sock[4096], plane[512];
    size_t key_len = 0;
    bpt_kx_client_options co = BPT_KX_CLIENT_OPTIONS_INIT;
    int n_roots = 0, c, rc, ex = BPT_EXIT_USAGE;
    bool allow_debug = false;
    struct cli_rt rto = {0};
    bpt_verifier *verifier = NULL;
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *policy = NULL;
    char *text = NULL;
    size_t len = 0;
    bpt_secret *secret = NULL;
    bpt_kx_client_result res = BPT_KX_CLIENT_RESULT_INIT;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 'p':
            policy_file = optarg;
            break;
        case 't':
            if (n_roots == 16) {
                return cli_usage_error("seal", "at most 16 --trust-root");
            }
            roots[n_roots++] = optarg;
            break;
        case 'D':
            allow_debug = true;
            break;
        case 'm':
            measurement = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'e':
            env = optarg;
            break;
        case 'k':
            sign_key = optarg;
            break;
        case 'R':
            onchain_rpc = optarg;
            break;
        case 'B':
            bsm = optarg;
            break;
        case 'V':
            service = optarg;
            break;
        case 'O':
            operator_addr = optarg;
            break;
        case 'q': /* acted on by main.c */
            break;
        case 'x':
            deployment = optarg;
            break;
        case 'S':
        case 'w':
            if ((ex = cli_rt_option(&rto, "seal", c, optarg)) != 0) {
                return ex;
            }
            break;
        case 'h':
            seal_usage(stdout);
            return BPT_EXIT_OK;
        default:
            return cli_usage_error("seal", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc || !url == !deployment || !name || (!file == !env)) {
        return cli_usage_error("seal", "one of --url/--deployment, --name and one of "
                                       "--secret-file/--secret-env are required");
    }
    if ((onchain_rpc || bsm || service || operator_addr) &&
        !(onchain_rpc && bsm && service && operator_addr && url)) {
        return cli_usage_error("seal", "--onchain-rpc, --bsm, --service and --operator go "
                                       "together, with --url");
    }
    if ((ex = cli_make_policy_ctx(&policy, &ctx, policy_file, roots, n_roots, allow_debug,
                                  measurement)) != 0) {
        goto out;
    }
    if (onchain_rpc &&
        (ex = onchain_check(url, onchain_rpc, bsm, service, operator_addr, ctx, policy)) != 0) {
        goto out;
    }
    if ((rc = bpt_verifier_new(&verifier, ctx, policy)) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "verifier");
        goto out;
    }
    if (file) {
        if ((rc = cli_read_file(&text, &len, file, BPT_LIMIT_HTTP_BODY_BYTES / 2)) < 0 ||
            (rc = bpt_secret_from(&secret, (const uint8_t *)text, len)) < 0) {
            ex = cli_fail(rc, CLI_AT_FILE, file);
            goto out;
        }
        OPENSSL_cleanse(text, len);
        bpt_free(text);
        text = NULL;
    } else {
        const char *v = getenv(env);
        if (!v) {
            ex = cli_usage_error("seal", "environment variable %s is not set", env);
            goto out;
        }
        if ((rc = bpt_secret_from(&secret, (const uint8_t *)v, strlen(v))) < 0) {
            ex = cli_fail(rc, CLI_AT_ARG, env);
            goto out;
        }
    }
    if (sign_key) {
        if ((rc = cli_read_file(&key_pem, &key_len, sign_key, BPT_LIMIT_CERT_CHAIN_BYTES)) < 0) {
            ex = cli_fail(rc, CLI_AT_FILE, sign_key);
            goto out;
        }
        co.sign_key_pem = key_pem;
        co.sign_key_pem_len = key_len;
        if ((rc = bpt_kx_client_options_check(&co)) < 0) { /* a file in the wrong format */
            ex = cli_fail(rc, CLI_AT_FILE, sign_key);
            goto out;
        }
    }
    if (deployment) {
        /* the deployment's workload: at its plane's URL (a remote backend), else through the
         * socket in its host directory (direct) */
        if ((ex = cli_rt_open(&rto)) != 0) {
            goto out;
        }
        rc = bpt_runtime_plane_url(plane, sizeof(plane), rto.rt, deployment);
        if (rc == 0) {
            url = plane;
        } else if (rc == BPT_ENOTSUP &&
                   (rc = bpt_runtime_kx_socket(sock, sizeof(sock), rto.rt, deployment)) == 0) {
            co.unix_socket = sock;
            url = "http://localhost";
        }
        if (rc < 0) {
            ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
            goto out;
        }
    }
    {
        bpt_kx_client_secret s = {name, bpt_secret_data(secret), bpt_secret_len(secret)};
        rc = bpt_kx_client_send_with(&res, url, verifier, &s, 1, &co);
    }
    if (rc < 0) {
        ex = cli_fail(rc, CLI_AT_PEER, NULL);
        goto out;
    }
    printf("seal: attestation verified (evidence sha256 %s); session key bound "
           "(fingerprint %s)\n",
           res.attestation_digest, res.key_fingerprint);
    printf("seal: secret '%s' sealed to session %s and stored by the service (%zu stored)\n", name,
           res.session_id, res.stored);
    ex = BPT_EXIT_OK;
out:
    if (key_pem != NULL) {
        OPENSSL_cleanse(key_pem, key_len);
    }
    bpt_free(key_pem);
    bpt_free(text);
    bpt_secret_free(secret);
    bpt_verifier_free(verifier);
    bpt_verify_ctx_free(ctx);
    bpt_policy_free(policy);
    cli_rt_close(&rto);
    return ex;
}
