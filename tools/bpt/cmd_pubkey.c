/*
 * bpt pubkey ID: a running deployment's real key-exchange key, from a session opened on its
 * plane and verified as a sealing client verifies it (never a hash standing in for a key).
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"

static void pubkey_usage(FILE *f)
{
    fprintf(f, "usage: bpt pubkey [--json] [--trust-root PEM]... [--policy FILE] [--allow-debug]\n"
               "                  [--wait SECS] [--state-dir DIR] ID\n"
               "\n"
               "Open a key-exchange session on the running deployment ID, verify its evidence\n"
               "and that it binds the session key (as 'bpt seal' does), and print that X25519\n"
               "key: \"x25519 <hex>\", and \"service_key ed25519 <hex>\" when the workload binds\n"
               "its sessions with an attested service key. The session is left to expire.\n");
    cli_rt_help_common(f, true);
    cli_help_exit(f, "the key, verified",
                  "verification or the key binding refused, or the deployment is not running",
                  "no deployment ID; a trust root or policy file; the store",
                  "the workload does not answer on its socket (within --wait)");
}

int cmd_pubkey(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_RT_COMMON_OPTIONS,
        CLI_RT_VERIFY_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct cli_rt o = {.want_verifier = true};
    bpt_kx_client_key k = BPT_KX_CLIENT_KEY_INIT;
    char pk[65], sk[65];
    int rc, ex;

    if (!cli_rt_args(&ex, &o, "pubkey", argc, argv, opts, pubkey_usage, 1, 1,
                     "one deployment ID is required")) {
        return ex;
    }
    const char *id = argv[optind];
    cli_note("deployment", json_string(id));
    if ((ex = cli_rt_open(&o)) != 0) {
        goto out;
    }
    if ((rc = bpt_runtime_public_key(&k, o.rt, id)) < 0) {
        ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
        goto out;
    }
    bpt_hex_encode_to(pk, k.public_key, sizeof(k.public_key));
    bpt_hex_encode_to(sk, k.service_key, sizeof(k.service_key));
    if (cli_json()) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "deployment", id, "key_type", k.key_type,
                              "public_key", pk, "session_id", k.session_id, "attestation_digest",
                              k.attestation_digest);
        if (j && k.has_service_key) {
            json_object_set_new(j, "service_key", json_string(sk));
        }
        char *all = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        ex = all ? cli_print_json(all, NULL) : cli_fail(BPT_ENOMEM, CLI_AT_OUTPUT, "output");
        free(all);
        goto out;
    }
    printf("%s %s\n", k.key_type, pk);
    if (k.has_service_key) {
        printf("service_key ed25519 %s\n", sk);
    }
    ex = BPT_EXIT_OK;
out:
    cli_rt_close(&o);
    return ex;
}
