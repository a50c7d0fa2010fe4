/* bpt attest: produce evidence binding 64 bytes of report data or a nonce (hardware or
 * simulator). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/util.h"

static void attest_usage(FILE *f)
{
    fprintf(f,
            "usage: bpt attest [--report-data HEX | --nonce S] [--simulate PROVIDER]\n"
            "                  [--sim-dir DIR] [--audience AUD] [-o FILE] [--json]\n"
            "\n"
            "Produce attestation evidence that binds 64 bytes of report data, or a nonce.\n"
            "  --report-data HEX  up to 64 bytes, zero-padded (default: zeros)\n"
            "  --nonce S          bind the text S (1..512 bytes) by the nonce rule that\n"
            "                     'bpt verify --expect-nonce S' checks: SEV-SNP and TDX\n"
            "                     report data = SHA-512(S); Nitro: the document's nonce\n"
            "                     field holds S; GCP tokens: eat_nonce; Azure: nonce\n"
            "  --simulate P       use the simulated TEE made by 'bpt sim init': sev-snp,\n"
            "                     tdx, aws-nitro, gcp-confidential or azure-maa (tokens)\n"
            "  --audience AUD     the audience of an attestation token (GCP Confidential\n"
            "                     Space: required; simulated: default blueprint-tee-sim)\n"
            "  --sim-dir DIR      the simulator directory (required with --simulate)\n"
            "  -o FILE            write to FILE instead of stdout\n"
            "  --json             write the report JSON (evidence plus the certificates or\n"
            "                     collateral a verifier needs) instead of the raw evidence;\n"
            "                     with -o, stdout gets one JSON object naming the file, the\n"
            "                     provider, format and evidence_sha256; an error is one JSON\n"
            "                     object with \"exit_code\"\n"
            "Without --simulate, evidence comes from the kernel's configfs-tsm (SEV-SNP,\n"
            "TDX), /dev/sev-guest or /dev/nsm. A host without any, or a TD with only\n"
            "/dev/tdx_guest (its TDREPORT is local, not remote evidence), is refused (exit 1).\n");
    cli_help_exit(f, "the evidence was written",
                  "this host has no TEE that can make remote evidence (use --simulate)",
                  "the simulator directory is not initialised or unreadable, -o FILE cannot be "
                  "written",
                  NULL);
}

/* With --json -o FILE: one JSON object on stdout saying what was written where. */
static int print_written(const bpt_report *r, const char *path)
{
    char digest[65], *text;
    int ex;
    bpt_report_evidence_digest(digest, r);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s}", "output", path, "provider", bpt_report_provider_name(r),
                  "format", bpt_report_format_name(r), "evidence_sha256", digest);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        return cli_fail(bpt_error_set(BPT_ENOMEM, "out of memory: output"), CLI_AT_OUTPUT, NULL);
    }
    ex = cli_print_json(text, NULL);
    free(text);
    return ex;
}

int cmd_attest(int argc, char **argv)
{
    static const struct option opts[] = {
        {"report-data", required_argument, NULL, 'r'},
        {"nonce", required_argument, NULL, 'n'},
        {"simulate", required_argument, NULL, 's'},
        {"sim-dir", required_argument, NULL, 'd'},
        {"audience", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bpt_attester_opts ao = BPT_ATTESTER_OPTS_INIT;
    uint8_t rd[64] = {0};
    const char *out_path = NULL, *rd_hex = NULL, *nonce = NULL;
    bool json = false;
    bpt_report *r = NULL;
    char *text = NULL;
    int c, rc, ex = BPT_EXIT_USAGE;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rd_hex = optarg;
            break;
        case 'n':
            nonce = optarg;
            break;
        case 's':
            if (bpt_provider_parse(&ao.simulate, optarg) < 0 || !cli_simulated(ao.simulate)) {
                return cli_usage_error(
                    "attest", "--simulate '%.40s': the simulator has " CLI_SIMULATED, optarg);
            }
            break;
        case 'd':
            ao.sim_dir = optarg;
            break;
        case 'a':
            if (!*optarg || strlen(optarg) > 512) {
                return cli_usage_error("attest", "--audience: 1..512 bytes");
            }
            ao.audience = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            attest_usage(stdout);
            return BPT_EXIT_OK;
        default:
            return cli_usage_error("attest", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc) {
        return cli_usage_error("attest", "unexpected argument '%s'", argv[optind]);
    }
    if (rd_hex && nonce) {
        return cli_usage_error("attest", "--report-data and --nonce exclude each other");
    }
    if (rd_hex) {
        bpt_buf b = BPT_BUF_INIT(64);
        if ((rc = bpt_hex_decode(&b, rd_hex, strlen(rd_hex), "--report-data")) < 0) {
            bpt_buf_dispose(&b);
            return cli_fail(rc, CLI_AT_ARG, "--report-data (at most 64 bytes)");
        }
        if (b.len) {
            memcpy(rd, b.data, b.len);
        }
        bpt_buf_dispose(&b);
    } else if (nonce && (!*nonce || strlen(nonce) > BPT_NONCE_MAX_BYTES)) {
        return cli_usage_error("attest", "--nonce: %zu bytes (1..%d)", strlen(nonce),
                               BPT_NONCE_MAX_BYTES);
    }
    if (ao.simulate != BPT_PROVIDER_UNKNOWN && !ao.sim_dir) {
        return cli_usage_error("attest", "--simulate needs --sim-dir DIR (see 'bpt sim init')");
    }
    if ((rc = nonce ? bpt_attest_nonce(&r, (const uint8_t *)nonce, strlen(nonce), &ao)
                    : bpt_attest(&r, rd, &ao)) < 0) {
        return cli_fail(rc, CLI_AT_HOST, ao.sim_dir);
    }
    if (json) {
        if ((rc = bpt_report_to_json(&text, r)) < 0) {
            ex = cli_fail(rc, CLI_AT_OUTPUT, "report");
            goto out;
        }
        if ((ex = cli_print_json(text, out_path)) != 0 ||
            (out_path && (ex = print_written(r, out_path)) != 0)) {
            goto out;
        }
    } else {
        size_t n = 0;
        const uint8_t *ev = bpt_report_evidence(r, &n);
        if (out_path) {
            if ((rc = bpt_file_write(out_path, ev, n, false)) < 0) {
                ex = cli_fail(rc, CLI_AT_OUTPUT, out_path);
                goto out;
            }
        } else if (fwrite(ev, 1, n, stdout) != n) {
            ex = cli_fail(bpt_error_set(BPT_EIO, "stdout: write failed"), CLI_AT_OUTPUT, NULL);
            goto out;
        }
    }
    ex = BPT_EXIT_OK;
out:
    bpt_free(text);
    bpt_report_free(r);
    return ex;
}
