/* bpt fetch: prefetch what verifying evidence needs into a cache directory (air-gapped use). */
#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "core/json.h"
#include "core/limits.h"

static void fetch_usage(FILE *f)
{
    fprintf(f, "usage: bpt fetch --out DIR [options] EVIDENCE...\n"
               "\n"
               "Fetch into DIR every piece of collateral that verifying each EVIDENCE needs, so\n"
               "that 'bpt verify --offline --cache-dir DIR EVIDENCE' later needs no network:\n"
               "an SEV-SNP report's VCEK and AMD's CRL for its revocation check (AMD KDS; the\n"
               "ASK/ARK are pinned), a TDX quote's collateral (Intel PCS or --pccs-url), a\n"
               "JWT's JWK set (Azure MAA, GCP). What the evidence carries (a report JSON's\n"
               "certificates, CRL or collateral) and what DIR already holds is not fetched\n"
               "again; Nitro documents need nothing. Nothing fetched is verified here: 'bpt\n"
               "verify' does that.\n"
               "\n"
               "options:\n"
               "  --out DIR           the cache directory (created if missing)\n"
               "  --at TIME           the time verification will run at (unix seconds or RFC\n"
               "                      3339; default now): TDX collateral must be current then\n"
               "  --kds-url URL       AMD KDS base URL (default https://kdsintf.amd.com)\n"
               "  --pccs-url URL      TDX collateral from this PCCS (default Intel PCS)\n"
               "  --jwks-url URL      JWT keys from URL instead of the provider's\n"
               "  --issuer URL        an accepted JWT issuer (repeatable): an Azure MAA token's\n"
               "                      keys come from <issuer>/certs when its issuer is listed\n"
               "  --policy FILE       policy JSON (its sev_snp.products names a version 2\n"
               "                      report's product; its jwt block where keys come from)\n"
               "  --json              print one JSON object: {\"cache_dir\",\"complete\",\n"
               "                      \"evidence\":[{\"file\",\"items\"|\"error\"}],\n"
               "                      \"schema_version\"}, with \"exit_code\" and \"exit_class\"\n"
               "                      when something failed\n"
               "  -h, --help          this text\n"
               "Every EVIDENCE is tried; the first failure decides the exit status.\n");
    cli_help_exit(f, "everything each EVIDENCE needs is in DIR",
                  "something cannot be fetched (a VLEK, a masked chip id, no URL for a token's "
                  "keys) or an EVIDENCE is not evidence",
                  "an EVIDENCE or --policy file is missing or unreadable, or DIR cannot be "
                  "written",
                  "a fetch failed or timed out (AMD KDS, Intel PCS/PCCS, a JWKS URL)");
}

#define MAX_ISSUERS 16

struct fetch_args {
    const char *out, *at, *kds_url, *pccs_url, *jwks_url, *policy;
    const char *issuers[MAX_ISSUERS];
    int n_issuers;
};

enum { OPT_OUT = 256, OPT_AT, OPT_KDS, OPT_PCCS, OPT_JWKS_URL, OPT_ISSUER, OPT_POLICY, OPT_JSON };

static int parse_args(struct fetch_args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, OPT_OUT},
        {"at", required_argument, NULL, OPT_AT},
        {"kds-url", required_argument, NULL, OPT_KDS},
        {"pccs-url", required_argument, NULL, OPT_PCCS},
        {"jwks-url", required_argument, NULL, OPT_JWKS_URL},
        {"issuer", required_argument, NULL, OPT_ISSUER},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_OUT:
            a->out = optarg;
            break;
        case OPT_AT:
            a->at = optarg;
            break;
        case OPT_KDS:
            a->kds_url = optarg;
            break;
        case OPT_PCCS:
            a->pccs_url = optarg;
            break;
        case OPT_JWKS_URL:
            a->jwks_url = optarg;
            break;
        case OPT_POLICY:
            a->policy = optarg;
            break;
        case OPT_JSON: /* acted on by main.c (cli_json()) */
            break;
        case OPT_ISSUER:
            if (a->n_issuers == MAX_ISSUERS) {
                return cli_usage_error("fetch", "at most %d --issuer", MAX_ISSUERS);
            }
            a->issuers[a->n_issuers++] = optarg;
            break;
        case 'h':
            return -1;
        default:
            return cli_usage_error("fetch", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (!a->out) {
        return cli_usage_error("fetch", "--out DIR is required");
    }
    if (optind >= argc) {
        return cli_usage_error("fetch", "at least one EVIDENCE is required");
    }
    return 0;
}

/* The context and policy the fetches run with. Returns 0 or a CLI exit code. */
static int setup(bpt_verify_ctx **ctx, bpt_policy **policy, const struct fetch_args *a)
{
    char *text = NULL;
    size_t len = 0;
    int64_t t = 0;
    int rc;

    if (a->policy) {
        if ((rc = cli_read_file(&text, &len, a->policy, BPT_LIMIT_JSON_BYTES)) < 0) {
            return cli_fail(rc, CLI_AT_FILE, a->policy);
        }
        rc = bpt_policy_load_json(policy, text, len);
        bpt_free(text);
        if (rc < 0) {
            return cli_fail(rc, CLI_AT_FILE, a->policy);
        }
    } else if ((rc = bpt_policy_new(policy)) < 0) {
        return cli_fail(rc, CLI_AT_OUTPUT, "policy");
    }
    for (int i = 0; i < a->n_issuers; i++) {
        if ((rc = bpt_policy_add_jwt_issuer(*policy, a->issuers[i])) < 0) {
            return cli_fail(rc, CLI_AT_ARG, "--issuer");
        }
    }
    if ((rc = bpt_verify_ctx_new(ctx, NULL)) < 0) {
        return cli_fail(rc, CLI_AT_OUTPUT, "context");
    }
/* A flag's value the library refused: a usage error naming the flag. */
#define ARG(cond, call, name)                                                                      \
    if ((cond) && (rc = (call)) < 0) {                                                             \
        return cli_fail(rc, CLI_AT_ARG, name);                                                     \
    }
    ARG(true, bpt_verify_ctx_set_cache_dir(*ctx, a->out), "--out")
    ARG(a->kds_url, bpt_verify_ctx_set_kds_url(*ctx, a->kds_url), "--kds-url")
    ARG(a->pccs_url, bpt_verify_ctx_set_pccs_url(*ctx, a->pccs_url), "--pccs-url")
    ARG(a->jwks_url, bpt_verify_ctx_set_jwks_url(*ctx, a->jwks_url), "--jwks-url")
    ARG(a->at, bpt_time_parse(&t, a->at), "--at")
    ARG(a->at, bpt_verify_ctx_set_at(*ctx, t), "--at")
#undef ARG
    return 0;
}

/*
 * Prefetch one EVIDENCE file; its result (items, or the error) appended to @p results. Returns
 * 0, or the exit status of its failure (reading the file is local input; fetching for it is
 * what verifying evidence is, CLI_AT_EVIDENCE: a failed fetch is network).
 */
static int fetch_one(json_t *results, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                     const char *path)
{
    char *raw = NULL, *summary = NULL;
    uint8_t *ev = NULL;
    size_t raw_len = 0, ev_len = 0;
    json_t *doc = NULL, *entry = NULL, *e;
    cli_where where = CLI_AT_FILE;
    size_t i;
    int rc, ex = BPT_EXIT_OK;

    if ((rc = cli_read_file(&raw, &raw_len, path, BPT_LIMIT_FILE_BYTES)) == 0 &&
        (rc = bpt_evidence_decode(&ev, &ev_len, (const uint8_t *)raw, raw_len)) == 0 &&
        (where = CLI_AT_EVIDENCE, rc = bpt_verify_prefetch(&summary, ctx, policy, ev, ev_len)) ==
            0 &&
        (where = CLI_AT_OUTPUT, rc = bpt_json_parse(&doc, summary, strlen(summary), "prefetch")) ==
            0) {
        entry = json_pack("{s:s,s:O}", "file", path, "items", json_object_get(doc, "items"));
        json_array_foreach(json_object_get(doc, "items"), i, e)
        {
            if (!cli_json()) {
                printf("%s: %s %s: %s (%s)\n", path,
                       json_string_value(json_object_get(e, "provider")),
                       json_string_value(json_object_get(e, "what")),
                       json_string_value(json_object_get(e, "state")),
                       json_string_value(json_object_get(e, "detail")));
            }
        }
    } else {
        ex = cli_exit_for(rc, where);
        entry = json_pack("{s:s,s:{s:s,s:s}}", "file", path, "error", "kind", bpt_error_name(rc),
                          "message", bpt_error_last());
        if (!cli_json()) { /* with --json, the one object at the end says it */
            cli_fail(rc, where, path);
        }
    }
    if (entry) {
        json_array_append_new(results, entry);
    }
    json_decref(doc);
    bpt_free(summary);
    bpt_free(ev);
    bpt_free(raw);
    return ex;
}

int cmd_fetch(int argc, char **argv)
{
    struct fetch_args a = {0};
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *policy = NULL;
    json_t *results = NULL, *doc = NULL;
    char *text = NULL;
    int ex, first = BPT_EXIT_OK;

    ex = parse_args(&a, argc, argv);
    if (ex < 0 || cli_wants_help(argc, argv)) {
        fetch_usage(stdout);
        return BPT_EXIT_OK;
    }
    if (ex != 0) {
        return ex;
    }
    if ((ex = setup(&ctx, &policy, &a)) != 0) {
        goto out;
    }
    if (!(results = json_array())) {
        ex = cli_fail(bpt_error_set(BPT_ENOMEM, "out of memory: results"), CLI_AT_OUTPUT, NULL);
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        int one = fetch_one(results, ctx, policy, argv[i]);
        if (one != BPT_EXIT_OK && first == BPT_EXIT_OK) {
            first = one; /* the first failure decides the exit status; the rest are still tried */
        }
    }
    ex = first;
    if (cli_json()) {
        doc = json_pack("{s:s,s:b,s:O}", "cache_dir", a.out, "complete", first == BPT_EXIT_OK,
                        "evidence", results);
        if (doc && first != BPT_EXIT_OK) {
            json_object_set_new(doc, "exit_code", json_integer(first));
            json_object_set_new(doc, "exit_class", json_string(cli_exit_class(first)));
        }
        if (!doc || bpt_json_dump(&text, doc) < 0) {
            ex = cli_fail(bpt_error_set(BPT_ENOMEM, "out of memory: output"), CLI_AT_OUTPUT, NULL);
            goto out;
        }
        int printed = cli_print_json(text, NULL);
        ex = printed != BPT_EXIT_OK ? printed : first;
    } else if (first == BPT_EXIT_OK) {
        printf("everything is in %s: verify with --offline --cache-dir %s\n", a.out, a.out);
    }
out:
    bpt_free(text);
    json_decref(doc);
    json_decref(results);
    bpt_policy_free(policy);
    bpt_verify_ctx_free(ctx);
    return ex;
}
