/* bpt inspect: decode evidence and print it, verifying nothing (bpt_evidence_inspect_json). */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "core/json.h"
#include "core/limits.h"

static void inspect_usage(FILE *f)
{
    fprintf(f, "usage: bpt inspect [--json] EVIDENCE\n"
               "\n"
               "Decode attestation evidence and print its fields WITHOUT VERIFYING ANYTHING: no\n"
               "signature, certificate chain, collateral or policy is checked, so nothing shown\n"
               "may be trusted (use 'bpt verify' for that). EVIDENCE is a file, or - for stdin:\n"
               "raw binary, base64, hex, JWT text or report JSON, as 'bpt verify' takes it.\n"
               "Shown: an SEV-SNP report's fields (policy and TCB versions decoded); a TDX\n"
               "quote's header, TD report body and registers, QE report and PCK chain; a Nitro\n"
               "document's module id, timestamp, PCRs, certificates, public key, user data and\n"
               "nonce; a JWT's header and claims; a report JSON's claims and its evidence.\n"
               "  --json      print one JSON object (\"verified\": false, \"note\", \"kind\",\n"
               "              \"provider\", \"fields\", \"schema_version\"), or the error\n"
               "              with \"exit_code\"\n"
               "  -h, --help  this text\n");
    cli_help_exit(f, "decoded (not verified)", NULL,
                  "the file is missing or unreadable, or not evidence of a format this tool "
                  "decodes (SGX quotes are recognised, not decoded)",
                  NULL);
}

/* Print @p v as "path: value" lines, objects and arrays flattened into dotted paths. */
static void print_flat(const char *path, const json_t *v)
{
    char sub[512];
    const char *k;
    json_t *e;
    size_t i;

    if (json_is_object(v)) {
        if (json_object_size(v) == 0) {
            printf("%s: {}\n", path);
        }
        json_object_foreach((json_t *)v, k, e)
        {
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
            print_flat(sub, e);
        }
    } else if (json_is_array(v)) {
        if (json_array_size(v) == 0) {
            printf("%s: []\n", path);
        }
        json_array_foreach(v, i, e)
        {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            print_flat(sub, e);
        }
    } else if (json_is_string(v)) {
        printf("%s: %s\n", path, json_string_value(v));
    } else if (json_is_integer(v)) {
        printf("%s: %" PRId64 "\n", path, (int64_t)json_integer_value(v));
    } else {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        printf("%s: %s\n", path, text ? text : "?");
        free(text);
    }
}

static void print_text(const json_t *doc)
{
    const json_t *ev = json_object_get(doc, "evidence");
    printf("NOT VERIFIED: %s\n", json_string_value(json_object_get(doc, "note")));
    printf("kind: %s\nprovider: %s\n", json_string_value(json_object_get(doc, "kind")),
           json_string_value(json_object_get(doc, "provider")));
    if (json_object_get(doc, "report")) {
        print_flat("report", json_object_get(doc, "report"));
        printf("evidence.kind: %s\n", json_string_value(json_object_get(ev, "kind")));
        print_flat("evidence", json_object_get(ev, "fields"));
    } else {
        print_flat("", json_object_get(doc, "fields"));
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    char *raw = NULL, *text = NULL;
    uint8_t *ev = NULL;
    size_t raw_len = 0, ev_len = 0;
    json_t *doc = NULL;
    int c, rc, ex;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            inspect_usage(stdout);
            return BPT_EXIT_OK;
        default:
            return cli_usage_error("inspect", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("inspect", optind >= argc ? "EVIDENCE is required"
                                                         : "exactly one EVIDENCE is expected");
    }
    if ((rc = cli_read_file(&raw, &raw_len, argv[optind], BPT_LIMIT_FILE_BYTES)) < 0 ||
        (rc = bpt_evidence_decode(&ev, &ev_len, (const uint8_t *)raw, raw_len)) < 0 ||
        (rc = bpt_evidence_inspect_json(&text, ev, ev_len)) < 0) {
        ex = cli_fail(rc, CLI_AT_FILE, argv[optind]); /* its format: local input */
        goto out;
    }
    if (json) {
        ex = cli_print_json(text, NULL);
        goto out;
    }
    if ((rc = bpt_json_parse(&doc, text, strlen(text), "inspection")) < 0) {
        ex = cli_fail(rc, CLI_AT_OUTPUT, "inspection");
        goto out;
    }
    print_text(doc);
    ex = BPT_EXIT_OK;
out:
    json_decref(doc);
    bpt_free(text);
    bpt_free(ev);
    bpt_free(raw);
    return ex;
}
