/* bpt attest: produce evidence binding 64 bytes of report data or a nonce (hardware or
 * simulator). */
#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "core/codec.h"
#include "core/util.h"

static void attest_usage(FILE *f)
{
    fprintf(f, "usage: bpt attest [--report-data HEX | --nonce S] [--simulate PROVIDER]\n"
               "                  [--sim-dir DIR] [-o FILE] [--json]\n"
               "\n"
               "Produce attestation evidence that binds 64 bytes of report data, or a nonce.\n"
               "  --report-data HEX  up to 64 bytes, zero-padded (default: zeros)\n"
               "  --nonce S          bind the text S (1..512 bytes) by the nonce rule that\n"
               "                     'bpt verify --expect-nonce S' checks: SEV-SNP and TDX\n"
               "                     report data = SHA-512(S); Nitro: the document's nonce\n"
               "                     field holds S\n"
               "  --simulate P       use the simulated TEE (sev-snp, tdx, aws-nitro) made by\n"
               "                     'bpt sim init'\n"
               "  --sim-dir DIR      the simulator directory (required with --simulate)\n"
               "  -o FILE            write to FILE instead of stdout\n"
               "  --json             write the report JSON (evidence plus the certificates or\n"
               "                     collateral a verifier needs) instead of the raw evidence\n"
               "Without --simulate, evidence comes from the kernel's configfs-tsm (SEV-SNP,\n"
               "TDX), /dev/sev-guest or /dev/nsm. A TD with only /dev/tdx_guest cannot make\n"
               "remote evidence (its TDREPORT is local): exit 2 with a message.\n");
}

int cmd_attest(int argc, char **argv)
{
    static const struct option opts[] = {
        {"report-data", required_argument, NULL, 'r'},
        {"nonce", required_argument, NULL, 'n'},
        {"simulate", required_argument, NULL, 's'},
        {"sim-dir", required_argument, NULL, 'd'},
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
    int c, ex = BPT_EXIT_USAGE;

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
            if (bpt_provider_parse(&ao.simulate, optarg) < 0) {
                return cli_lib_error("attest", BPT_EXIT_USAGE, "--simulate");
            }
            break;
        case 'd':
            ao.sim_dir = optarg;
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
        if (bpt_hex_decode(&b, rd_hex, strlen(rd_hex), "--report-data") < 0) {
            bpt_buf_dispose(&b);
            return cli_lib_error("attest", BPT_EXIT_USAGE, "--report-data (at most 64 bytes)");
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
    if ((nonce ? bpt_attest_nonce(&r, (const uint8_t *)nonce, strlen(nonce), &ao)
               : bpt_attest(&r, rd, &ao)) < 0) {
        return cli_lib_error("attest", BPT_EXIT_USAGE, "attest");
    }
    if (json) {
        if (bpt_report_to_json(&text, r) < 0) {
            ex = cli_lib_error("attest", BPT_EXIT_USAGE, "report");
            goto out;
        }
        if (out_path) {
            if (bpt_file_write(out_path, text, strlen(text), false) < 0) {
                ex = cli_lib_error("attest", BPT_EXIT_USAGE, out_path);
                goto out;
            }
        } else {
            printf("%s\n", text);
        }
    } else {
        size_t n = 0;
        const uint8_t *ev = bpt_report_evidence(r, &n);
        if (out_path ? bpt_file_write(out_path, ev, n, false) < 0 : fwrite(ev, 1, n, stdout) != n) {
            ex = cli_lib_error("attest", BPT_EXIT_USAGE, out_path ? out_path : "stdout");
            goto out;
        }
    }
    ex = BPT_EXIT_OK;
out:
    bpt_free(text);
    bpt_report_free(r);
    return ex;
}
