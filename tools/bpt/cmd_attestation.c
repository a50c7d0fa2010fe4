/*
 * bpt attestation ID: attest a running deployment now: evidence from its workload binding a
 * fresh (or the given) nonce, verified under the policy expecting exactly that binding.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/codec.h"

static void attestation_usage(FILE *f)
{
    fprintf(f,
            "usage: bpt attestation [--json] [--nonce HEX] [--trust-root PEM]... [--policy FILE]\n"
            "                       [--allow-debug] [--wait SECS] [--state-dir DIR] ID\n"
            "\n"
            "Ask the running deployment ID for evidence over its key-exchange socket\n"
            "(GET /v1/attestation?nonce=HEX on /run/bpt/kx.sock) and verify it under the policy,\n"
            "expecting report_data = 32 zero bytes || SHA-256(nonce), the binding the workload's\n"
            "key exchange makes. The result is cached and its evidence digest recorded in the\n"
            "store (bpt status shows it).\n"
            "  --nonce HEX       16..64 bytes of hex (default: 32 fresh random bytes)\n");
    cli_rt_help_common(f, true);
    cli_help_exit(f, "the evidence verified and binds the nonce",
                  "verification refused (kind and reason), the deployment is not running, or "
                  "its workload broke the protocol",
                  "no deployment ID; a trust root or policy file missing or not in its format; "
                  "the store",
                  "the workload does not answer on its socket (within --wait)");
}

int cmd_attestation(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_RT_COMMON_OPTIONS,
        CLI_RT_VERIFY_OPTIONS,
        {"nonce", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    struct cli_rt o = {.want_verifier = true};
    uint8_t nonce[BPT_KX_NONCE_MAX];
    size_t nonce_len = 32;
    char hex[2 * BPT_KX_NONCE_MAX + 1], *vj = NULL;
    bpt_verified *v = NULL;
    int rc, ex;

    if (!cli_rt_args(&ex, &o, "attestation", argc, argv, opts, attestation_usage, 1, 1,
                     "one deployment ID is required")) {
        return ex;
    }
    const char *id = argv[optind];
    if (o.nonce_hex != NULL) {
        size_t n = strlen(o.nonce_hex);
        if (n % 2 || n / 2 < BPT_KX_NONCE_MIN || n / 2 > BPT_KX_NONCE_MAX ||
            bpt_hex_decode_exact(nonce, n / 2, o.nonce_hex, n, "--nonce") < 0) {
            return cli_usage_error("attestation", "--nonce: %d..%d bytes of hex", BPT_KX_NONCE_MIN,
                                   BPT_KX_NONCE_MAX);
        }
        nonce_len = n / 2;
    } else if (RAND_bytes(nonce, 32) != 1) {
        return cli_fail(bpt_error_set(BPT_ERROR, "no randomness for the nonce"), CLI_AT_OUTPUT,
                        NULL);
    }
    bpt_hex_encode_to(hex, nonce, nonce_len);
    cli_note("deployment", json_string(id));
    cli_note("nonce", json_string(hex));
    if ((ex = cli_rt_open(&o)) != 0) {
        goto out;
    }
    if ((rc = bpt_runtime_attestation(&v, o.rt, id, nonce, nonce_len)) < 0) {
        ex = cli_fail(rc, CLI_AT_RUNTIME, NULL);
        goto out;
    }
    char digest[65];
    bpt_report_evidence_digest(digest, bpt_verified_report(v));
    if (cli_json()) {
        json_t *o2 = NULL;
        if ((rc = bpt_verified_to_json(&vj, v)) < 0 || !(o2 = json_loads(vj, 0, NULL))) {
            ex = cli_fail(rc < 0 ? rc : BPT_ENOMEM, CLI_AT_OUTPUT, "output");
            goto out;
        }
        json_object_set_new(o2, "deployment", json_string(id));
        json_object_set_new(o2, "nonce", json_string(hex));
        char *all = json_dumps(o2, JSON_COMPACT);
        json_decref(o2);
        ex = all ? cli_print_json(all, NULL) : cli_fail(BPT_ENOMEM, CLI_AT_OUTPUT, "output");
        free(all);
        goto out;
    }
    const bpt_measurement *m = bpt_report_measurement(bpt_verified_report(v));
    printf("attestation: deployment %s verified: %s, measurement %s:%s\n", id,
           bpt_provider_name(bpt_verified_provider(v)), m ? m->algorithm : "?",
           m ? m->digest : "?");
    printf("attestation: evidence sha256 %s binds nonce %s\n", digest, hex);
    ex = BPT_EXIT_OK;
out:
    bpt_free(vj);
    bpt_verified_free(v);
    cli_rt_close(&o);
    return ex;
}
