/*
 * bpt chain: read what the Tangle chain says about a service (docs/chain.md).
 *   profile           the blueprint's execution profile (confidentiality, GPU)
 *   attestation-hash  an operator's published attestation hash, and whether a file matches it
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/limits.h"

static void chain_usage(FILE *f)
{
    fprintf(f,
            "usage: bpt chain profile --rpc URL --tangle ADDR --blueprint N [--json]\n"
            "       bpt chain attestation-hash --rpc URL --bsm ADDR --service N --operator ADDR\n"
            "                                  [--attestation FILE] [--json]\n"
            "\n"
            "profile: the blueprint's execution profile, read with getBlueprintDefinition from\n"
            "the Tangle contract (metadata.profilingData, parsed as the SDK does):\n"
            "confidentiality (any, tee_required, standard_required, tee_preferred) and GPU.\n"
            "attestation-hash: getAttestationHash(service, operator) on the blueprint's service\n"
            "manager: keccak256 of the attestation JSON the operator published with\n"
            "reportProvisioned. With --attestation FILE (a report JSON, as 'bpt attest' writes\n"
            "it or GET /v1/attestation serves it) also whether keccak256 of its JSON bytes\n"
            "matches; exit 1 when it does not. A zero hash is none published ('published':\n"
            "false in JSON; with --attestation, exit 1).\n"
            "options:\n"
            "  --rpc URL          the EVM node (https://, or http:// to loopback)\n"
            "  --tangle ADDR      the Tangle contract\n"
            "  --blueprint N      the blueprint id\n"
            "  --bsm ADDR         the blueprint's service manager\n"
            "  --service N        the service id\n"
            "  --operator ADDR    the operator's address\n"
            "  --attestation FILE compare this report's hash\n"
            "  --json             one JSON object on stdout\n");
    cli_help_exit(f, "read (and, with --attestation, the hash matches)",
                  "the hashes differ, nothing is published, or the contract refused the call",
                  "--attestation FILE is missing or not a report JSON",
                  "the node could not be reached or timed out");
}

struct chain_flags {
    const char *rpc, *tangle, *bsm, *operator_addr, *attestation;
    unsigned long long blueprint, service;
    bool has_blueprint, has_service;
};

static int parse(struct chain_flags *fl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"rpc", required_argument, NULL, 'r'},
        {"tangle", required_argument, NULL, 't'},
        {"blueprint", required_argument, NULL, 'b'},
        {"bsm", required_argument, NULL, 'm'},
        {"service", required_argument, NULL, 's'},
        {"operator", required_argument, NULL, 'o'},
        {"attestation", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            fl->rpc = optarg;
            break;
        case 't':
            fl->tangle = optarg;
            break;
        case 'm':
            fl->bsm = optarg;
            break;
        case 'o':
            fl->operator_addr = optarg;
            break;
        case 'a':
            fl->attestation = optarg;
            break;
        case 'b':
            if (!cli_parse_u64(optarg, UINT64_MAX, &fl->blueprint)) {
                return cli_usage_error("chain", "--blueprint '%.30s': a number", optarg);
            }
            fl->has_blueprint = true;
            break;
        case 's':
            if (!cli_parse_u64(optarg, UINT64_MAX, &fl->service)) {
                return cli_usage_error("chain", "--service '%.30s': a number", optarg);
            }
            fl->has_service = true;
            break;
        case 'j':
            break; /* main.c */
        default:
            return cli_usage_error("chain", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return cli_usage_error("chain", "unexpected argument '%s'", argv[optind]);
    }
    if (!fl->rpc) {
        return cli_usage_error("chain", "--rpc URL is required");
    }
    return 0;
}

static int open_chain(bpt_chain **c, const char *rpc)
{
    bpt_chain_opts o = BPT_CHAIN_OPTS_INIT;
    int rc;
    o.rpc_url = rpc;
    if ((rc = bpt_chain_new(c, &o)) < 0) {
        return cli_fail(rc, CLI_AT_ARG, "--rpc");
    }
    return 0;
}

static int address(bpt_eth_address *a, const char *text, const char *flag)
{
    if (!text) {
        return cli_usage_error("chain", "%s ADDR is required", flag);
    }
    if (bpt_eth_address_parse(a, text) < 0) {
        return cli_usage_error("chain", "%s: %s", flag, bpt_error_last());
    }
    return 0;
}

static int profile(const struct chain_flags *fl)
{
    bpt_eth_address tangle;
    bpt_execution_profile p;
    bpt_chain *c = NULL;
    char name[128], *out = NULL;
    static const char *const gpu[] = {"none", "required", "preferred"};
    int rc, ex;
    if ((ex = address(&tangle, fl->tangle, "--tangle")) != 0) {
        return ex;
    }
    if (!fl->has_blueprint) {
        return cli_usage_error("chain", "--blueprint N is required");
    }
    if ((ex = open_chain(&c, fl->rpc)) != 0) {
        return ex;
    }
    cli_note("blueprint", json_integer((json_int_t)fl->blueprint));
    if ((rc = bpt_chain_blueprint_profile(&p, name, c, &tangle, fl->blueprint)) < 0) {
        ex = cli_fail(rc, CLI_AT_PEER, "getBlueprintDefinition");
        goto out;
    }
    if (cli_json()) {
        json_t *j = json_pack("{s:I,s:s,s:b,s:s,s:{s:s,s:I}}", "blueprint",
                              (json_int_t)fl->blueprint, "name", name, "profile_present", p.present,
                              "confidentiality", bpt_confidentiality_name(p.confidentiality), "gpu",
                              "policy", gpu[p.gpu], "min_count", (json_int_t)p.gpu_min_count);
        if (p.has_gpu_min_vram) {
            json_object_set_new(json_object_get(j, "gpu"), "min_vram_gb",
                                json_integer(p.gpu_min_vram_gb));
        }
        out = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        ex = cli_print_json(out, NULL);
    } else {
        printf("blueprint %llu (%s): confidentiality %s%s, gpu %s", fl->blueprint, name,
               bpt_confidentiality_name(p.confidentiality),
               p.present ? "" : " (no execution profile)", gpu[p.gpu]);
        if (p.gpu != BPT_GPU_NONE) {
            printf(" min_count %u", p.gpu_min_count);
        }
        if (p.has_gpu_min_vram) {
            printf(" min_vram_gb %u", p.gpu_min_vram_gb);
        }
        printf("\n");
        ex = BPT_EXIT_OK;
    }
out:
    free(out);
    bpt_chain_free(c);
    return ex;
}

static void hex32(char out[67], const uint8_t h[32])
{
    out[0] = '0';
    out[1] = 'x';
    bpt_hex_encode_to(out + 2, h, 32);
}

static int attestation_hash(const struct chain_flags *fl)
{
    bpt_eth_address bsm, op;
    bpt_chain *c = NULL;
    bpt_report *rep = NULL;
    uint8_t onchain[32], local[32];
    char a[67], b[67], *text = NULL, *out = NULL;
    size_t len = 0;
    bool match = false;
    int rc, ex;
    if ((ex = address(&bsm, fl->bsm, "--bsm")) != 0 ||
        (ex = address(&op, fl->operator_addr, "--operator")) != 0) {
        return ex;
    }
    if (!fl->has_service) {
        return cli_usage_error("chain", "--service N is required");
    }
    if (fl->attestation) {
        if ((rc = cli_read_file(&text, &len, fl->attestation, BPT_LIMIT_JSON_BYTES)) < 0 ||
            (rc = bpt_report_from_json(&rep, text, len)) < 0 ||
            (rc = bpt_chain_attestation_digest(local, NULL, rep)) < 0) {
            ex = cli_fail(rc, CLI_AT_FILE, fl->attestation);
            goto out;
        }
    }
    if ((ex = open_chain(&c, fl->rpc)) != 0) {
        goto out;
    }
    if ((rc = bpt_chain_attestation_hash(onchain, c, &bsm, fl->service, &op)) < 0) {
        ex = cli_fail(rc, CLI_AT_PEER, "getAttestationHash");
        goto out;
    }
    hex32(b, onchain);
    static const uint8_t none[32] = {0};
    bool published = memcmp(onchain, none, 32) != 0; /* zero: getAttestationHash's "nothing" */
    if (rep) {
        hex32(a, local);
        match = published && memcmp(local, onchain, 32) == 0;
    }
    if (cli_json()) {
        json_t *j = json_pack("{s:I,s:s,s:s,s:b}", "service", (json_int_t)fl->service, "operator",
                              fl->operator_addr, "onchain_hash", b, "published", published);
        if (rep) {
            json_object_set_new(j, "attestation_hash", json_string(a));
            json_object_set_new(j, "match", json_boolean(match));
        }
        out = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        ex = cli_print_json(out, NULL);
    } else {
        printf("on-chain attestation hash: %s\n", published ? b : "none published");
        if (rep) {
            printf("%s: %s (%s)\n", fl->attestation, a,
                   match       ? "match"
                   : published ? "MISMATCH"
                               : "nothing to match");
        }
        ex = BPT_EXIT_OK;
    }
    if (ex == BPT_EXIT_OK && rep && !match) {
        if (!cli_json()) {
            if (published) {
                fprintf(stderr,
                        "bpt chain: the attestation's keccak256 is not the on-chain hash\n");
            } else {
                fprintf(stderr,
                        "bpt chain: operator %s published no attestation for service %llu\n",
                        fl->operator_addr, (unsigned long long)fl->service);
            }
        }
        ex = BPT_EXIT_REFUSED;
    }
out:
    free(out);
    bpt_free(text);
    bpt_report_free(rep);
    bpt_chain_free(c);
    return ex;
}

int cmd_chain(int argc, char **argv)
{
    struct chain_flags fl;
    int ex;
    if (cli_wants_help(argc, argv)) {
        chain_usage(stdout);
        return BPT_EXIT_OK;
    }
    memset(&fl, 0, sizeof(fl));
    if (argc < 2 || (strcmp(argv[1], "profile") != 0 && strcmp(argv[1], "attestation-hash") != 0)) {
        return cli_usage_error("chain", "expected 'bpt chain profile ...' or 'bpt chain "
                                        "attestation-hash ...'");
    }
    if ((ex = parse(&fl, argc, argv)) != 0) {
        return ex;
    }
    return strcmp(argv[1], "profile") == 0 ? profile(&fl) : attestation_hash(&fl);
}
