/* bpt verify: verify evidence of any provider, offline, at a given time (DESIGN.md §8). */
#include "cli.h"
#include "verify_snp.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"

static void verify_usage(FILE *f)
{
    fprintf(
        f,
        "usage: bpt verify [options] EVIDENCE\n"
        "\n"
        "Verify attestation evidence (a file, or - for stdin: raw binary, base64, hex, JWT\n"
        "text or report JSON) under a policy. Defaults to AttestationPolicy::production():\n"
        "debug refused, max age 600 s, pinned vendor roots, TDX TCB up_to_date only.\n"
        "\n"
        "options:\n"
        "  --provider P            auto (default), sev-snp, tdx, aws-nitro, azure-maa,\n"
        "                          gcp-confidential (or the snake_case names: sev_snp,\n"
        "                          amd_sev_snp, intel_tdx, ...); a named provider is enforced\n"
        "  --policy FILE           policy JSON (DESIGN.md §5); flags below override it\n"
        "  --expect-measurement [ALG:]HEX\n"
        "                          as printed (sha384:HEX): SEV-SNP, TDX MRTD, Nitro PCR0,\n"
        "                          Azure MAA are sha384 (48 bytes), GCP's image digest sha256\n"
        "  --expect-report-data HEX\n"
        "  --expect-nonce S        the nonce 'bpt attest --nonce S' binds (one rule for every\n"
        "                          provider): SEV-SNP/TDX report data = SHA-512(S); Nitro: the\n"
        "                          nonce field is S; GCP: S is in eat_nonce; Azure MAA: the\n"
        "                          nonce claim is S\n"
        "  --expect-audience S     JWT providers: S must be in aud. A token must be bound to\n"
        "                          this relying party: GCP by an expected audience, Azure\n"
        "                          MAA by one when the token has aud, else by --expect-nonce\n"
        "                          or --expect-report-data; else it is refused\n"
        "  --insecure-any-audience accept tokens bound to no relying party (a warning is\n"
        "                          printed: any token of the issuer would pass)\n"
        "  --expect-image-digest D GCP: submods.container.image_digest (sha256:HEX);\n"
        "                          Azure MAA: x-ms-runtime.image_digest\n"
        "  --expect-rtmr N=HEX     TDX: RTMR N (0..3) must equal HEX (repeatable)\n"
        "  --expect-mr-config-id HEX, --expect-mr-owner HEX, --expect-mr-owner-config HEX,\n"
        "  --expect-mr-seam HEX, --expect-xfam HEX, --expect-seam-attributes HEX\n"
        "                          TDX registers (xfam and SEAM attributes: 8 bytes, quote order)\n"
        "  --accept-tcb STATUS     TDX TCB statuses to accept (repeatable or comma-separated;\n"
        "                          default up_to_date): up_to_date, sw_hardening_needed,\n"
        "                          configuration_needed, configuration_and_sw_hardening_needed,\n"
        "                          out_of_date, out_of_date_configuration_needed, revoked\n"
        "  --allow-debug           accept debug-mode TEEs\n"
        "  --max-age SECS          freshness for evidence that carries its time (max 3600)\n"
        "  --at TIME               verify at TIME (unix seconds or RFC 3339), not now\n"
        "  --trust-root FILE       trust these roots (DER or PEM) instead of the pinned\n"
        "                          vendor roots (repeatable; e.g. DIR/trust-roots.pem from\n"
        "                          bpt sim init); intermediates must then come with --certs\n"
        "  --certs FILE            extra certificates, DER or PEM (repeatable; e.g. a VCEK)\n"
        "  --collateral FILE       provider collateral JSON (e.g. TDX collateral)\n"
        "  --jwks FILE             JWKS for JWT providers (no fetching; for --offline)\n"
        "  --jwks-url URL          JWT keys from URL instead of the provider's (https)\n"
        "  --issuer URL            accepted JWT issuer (repeatable); Azure MAA needs the\n"
        "                          instance here (keys from URL/certs), --jwks or --jwks-url\n"
        "  --pccs-url URL          TDX collateral from this PCCS (default Intel PCS)\n"
        "  --offline               never fetch keys or collateral; missing ones fail closed\n"
        "  --cache-dir DIR         cache for fetched collateral\n"
        "  --json                  print the result as one JSON object, also when refused or\n"
        "                          on any error (with \"exit_code\" and \"exit_class\")\n"
        "  --quiet                 print nothing: the exit status only\n"
        "  -h, --help              this text\n"
        "\n");
    snp_flags_usage(f);
    cli_help_exit(
        f, "verified",
        "refused: the evidence, its chain, its revocation or the policy said no (the reason is "
        "printed)",
        "a file (evidence, policy, certificates, CRLs, collateral, JWKS, trust roots) is "
        "missing, unreadable or not in its format",
        "fetching keys, CRLs or collateral failed or timed out (AMD KDS, Intel PCS/PCCS, a JWKS "
        "URL)");
}

enum {
    OPT_PROVIDER = 256,
    OPT_POLICY,
    OPT_EXPECT_MEASUREMENT,
    OPT_EXPECT_REPORT_DATA,
    OPT_EXPECT_NONCE,
    OPT_ALLOW_DEBUG,
    OPT_MAX_AGE,
    OPT_AT,
    OPT_TRUST_ROOT,
    OPT_CERTS,
    OPT_COLLATERAL,
    OPT_JWKS,
    OPT_OFFLINE,
    OPT_CACHE_DIR,
    OPT_JSON,
    OPT_EXPECT_RTMR,
    OPT_EXPECT_TDX, /* the TDX register options below, by table */
    OPT_ACCEPT_TCB = OPT_EXPECT_TDX + 16,
    OPT_PCCS_URL,
    OPT_JWKS_URL,
    OPT_ISSUER,
    OPT_EXPECT_AUDIENCE,
    OPT_EXPECT_IMAGE_DIGEST,
    OPT_QUIET,
    OPT_INSECURE_ANY_AUDIENCE,
};

/* --expect-<register> options of TDX: option name and policy field. */
static const char *const tdx_fields[][2] = {
    {"expect-mr-config-id", "mr_config_id"},
    {"expect-mr-owner", "mr_owner"},
    {"expect-mr-owner-config", "mr_owner_config"},
    {"expect-mr-seam", "mr_seam"},
    {"expect-xfam", "xfam"},
    {"expect-seam-attributes", "seam_attributes"},
};

static const struct option long_opts[] = {
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"expect-measurement", required_argument, NULL, OPT_EXPECT_MEASUREMENT},
    {"expect-report-data", required_argument, NULL, OPT_EXPECT_REPORT_DATA},
    {"expect-nonce", required_argument, NULL, OPT_EXPECT_NONCE},
    {"allow-debug", no_argument, NULL, OPT_ALLOW_DEBUG},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"at", required_argument, NULL, OPT_AT},
    {"trust-root", required_argument, NULL, OPT_TRUST_ROOT},
    {"certs", required_argument, NULL, OPT_CERTS},
    {"collateral", required_argument, NULL, OPT_COLLATERAL},
    {"jwks", required_argument, NULL, OPT_JWKS},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"json", no_argument, NULL, OPT_JSON},
    {"expect-rtmr", required_argument, NULL, OPT_EXPECT_RTMR},
    {"expect-mr-config-id", required_argument, NULL, OPT_EXPECT_TDX + 0},
    {"expect-mr-owner", required_argument, NULL, OPT_EXPECT_TDX + 1},
    {"expect-mr-owner-config", required_argument, NULL, OPT_EXPECT_TDX + 2},
    {"expect-mr-seam", required_argument, NULL, OPT_EXPECT_TDX + 3},
    {"expect-xfam", required_argument, NULL, OPT_EXPECT_TDX + 4},
    {"expect-seam-attributes", required_argument, NULL, OPT_EXPECT_TDX + 5},
    {"accept-tcb", required_argument, NULL, OPT_ACCEPT_TCB},
    {"pccs-url", required_argument, NULL, OPT_PCCS_URL},
    {"jwks-url", required_argument, NULL, OPT_JWKS_URL},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"expect-audience", required_argument, NULL, OPT_EXPECT_AUDIENCE},
    {"expect-image-digest", required_argument, NULL, OPT_EXPECT_IMAGE_DIGEST},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"insecure-any-audience", no_argument, NULL, OPT_INSECURE_ANY_AUDIENCE},
    SNP_FLAG_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define MAX_REPEAT 16

struct verify_args {
    const char *provider, *policy, *measurement, *report_data, *nonce, *max_age, *at;
    const char *collateral, *jwks, *cache_dir, *evidence, *pccs_url, *jwks_url, *audience,
        *image_digest;
    const char *issuers[MAX_REPEAT];
    int n_issuers;
    const char *trust_roots[MAX_REPEAT], *certs[MAX_REPEAT];
    int n_roots, n_certs;
    const char *tdx_expect[MAX_REPEAT][2]; /* policy field, hex */
    int n_tdx;
    char rtmr_field[MAX_REPEAT][8];
    unsigned accept_tcb;
    bool allow_debug, offline, json, insecure_any_audience;
    struct snp_flags snp;
};

static int parse_args(struct verify_args *a, int argc, char **argv)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_PROVIDER:
            a->provider = optarg;
            break;
        case OPT_POLICY:
            a->policy = optarg;
            break;
        case OPT_EXPECT_MEASUREMENT:
            a->measurement = optarg;
            break;
        case OPT_EXPECT_REPORT_DATA:
            a->report_data = optarg;
            break;
        case OPT_EXPECT_NONCE:
            a->nonce = optarg;
            break;
        case OPT_ALLOW_DEBUG:
            a->allow_debug = true;
            break;
        case OPT_MAX_AGE:
            a->max_age = optarg;
            break;
        case OPT_AT:
            a->at = optarg;
            break;
        case OPT_TRUST_ROOT:
            if (a->n_roots == MAX_REPEAT) {
                return cli_usage_error("verify", "at most %d --trust-root", MAX_REPEAT);
            }
            a->trust_roots[a->n_roots++] = optarg;
            break;
        case OPT_CERTS:
            if (a->n_certs == MAX_REPEAT) {
                return cli_usage_error("verify", "at most %d --certs", MAX_REPEAT);
            }
            a->certs[a->n_certs++] = optarg;
            break;
        case OPT_COLLATERAL:
            a->collateral = optarg;
            break;
        case OPT_JWKS:
            a->jwks = optarg;
            break;
        case OPT_OFFLINE:
            a->offline = true;
            break;
        case OPT_CACHE_DIR:
            a->cache_dir = optarg;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_QUIET: /* acted on by main.c */
            break;
        case OPT_INSECURE_ANY_AUDIENCE:
            a->insecure_any_audience = true;
            break;
        case OPT_PCCS_URL:
            a->pccs_url = optarg;
            break;
        case OPT_JWKS_URL:
            a->jwks_url = optarg;
            break;
        case OPT_EXPECT_AUDIENCE:
            a->audience = optarg;
            break;
        case OPT_EXPECT_IMAGE_DIGEST:
            a->image_digest = optarg;
            break;
        case OPT_ISSUER:
            if (a->n_issuers == MAX_REPEAT) {
                return cli_usage_error("verify", "at most %d --issuer", MAX_REPEAT);
            }
            a->issuers[a->n_issuers++] = optarg;
            break;
        case OPT_ACCEPT_TCB: {
            char list[256], *save = NULL;
            snprintf(list, sizeof(list), "%s", optarg);
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                bpt_tdx_tcb_status st;
                if (bpt_tcb_status_parse(&st, t) < 0) {
                    return cli_usage_error("verify", "--accept-tcb: %s", bpt_error_last());
                }
                a->accept_tcb |= 1u << st;
            }
            break;
        }
        case OPT_EXPECT_RTMR:
            if (a->n_tdx == MAX_REPEAT) {
                return cli_usage_error("verify", "at most %d TDX expectations", MAX_REPEAT);
            }
            if (optarg[0] < '0' || optarg[0] > '3' || optarg[1] != '=') {
                return cli_usage_error("verify",
                                       "--expect-rtmr '%.16s...': expected N=HEX with N "
                                       "0..3",
                                       optarg);
            }
            snprintf(a->rtmr_field[a->n_tdx], sizeof(a->rtmr_field[0]), "rtmr%c", optarg[0]);
            a->tdx_expect[a->n_tdx][0] = a->rtmr_field[a->n_tdx];
            a->tdx_expect[a->n_tdx++][1] = optarg + 2;
            break;
        case 'h':
            return -1;
        default:
            if (c >= SNP_OPT_BASE && c < SNP_OPT_END) {
                int ex = snp_flags_take(&a->snp, c, optarg);
                if (ex != 0) {
                    return ex;
                }
                break;
            }
            if (c >= OPT_EXPECT_TDX &&
                c < OPT_EXPECT_TDX + (int)(sizeof(tdx_fields) / sizeof(tdx_fields[0]))) {
                if (a->n_tdx == MAX_REPEAT) {
                    return cli_usage_error("verify", "at most %d TDX expectations", MAX_REPEAT);
                }
                a->tdx_expect[a->n_tdx][0] = tdx_fields[c - OPT_EXPECT_TDX][1];
                a->tdx_expect[a->n_tdx++][1] = optarg;
                break;
            }
            return cli_usage_error("verify", "unknown option or missing value: '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error("verify", optind >= argc ? "EVIDENCE is required"
                                                        : "exactly one EVIDENCE is expected");
    }
    a->evidence = argv[optind];
    return 0;
}

/*
 * Build the policy from --policy and the flags. With a named provider, an expectation no
 * evidence of it can meet (a measurement of another algorithm or length) is refused here,
 * before any evidence is read: a usage error for the flag, an input error for the policy file.
 * Returns 0 or a CLI exit code.
 */
static int build_policy(bpt_policy **out, const struct verify_args *a, bpt_provider provider)
{
    bpt_policy *p = NULL;
    char *text = NULL;
    const char *snp_what = NULL;
    size_t len = 0;
    int rc, ex = BPT_EXIT_USAGE;

    *out = NULL;
    if (a->policy) {
        if ((rc = cli_read_file(&text, &len, a->policy, BPT_LIMIT_JSON_BYTES)) < 0) {
            return cli_fail(rc, CLI_AT_FILE, a->policy);
        }
        rc = bpt_policy_load_json(&p, text, len);
        bpt_free(text);
        text = NULL;
        if (rc < 0) {
            return cli_fail(rc, CLI_AT_FILE, a->policy);
        }
    } else if ((rc = bpt_policy_new(&p)) < 0) {
        return cli_fail(rc, CLI_AT_OUTPUT, "policy");
    }
/* A flag's value the library refused: a usage error naming the flag. */
#define FLAG(cond, call, name)                                                                     \
    if ((cond) && (rc = (call)) < 0) {                                                             \
        ex = cli_fail(rc, CLI_AT_ARG, name);                                                       \
        goto out;                                                                                  \
    }
    FLAG(a->measurement, bpt_policy_set_expected_measurement(p, a->measurement),
         "--expect-measurement")
    FLAG(a->report_data, bpt_policy_set_expected_report_data(p, a->report_data),
         "--expect-report-data")
    FLAG(a->nonce, bpt_policy_set_expected_nonce(p, a->nonce), "--expect-nonce")
    FLAG(a->audience, bpt_policy_set_expected_audience(p, a->audience), "--expect-audience")
    FLAG(a->image_digest, bpt_policy_set_expected_image_digest(p, a->image_digest),
         "--expect-image-digest")
    for (int i = 0; i < a->n_issuers; i++) {
        FLAG(true, bpt_policy_add_jwt_issuer(p, a->issuers[i]), "--issuer")
    }
    FLAG(a->accept_tcb, bpt_policy_set_tdx_accepted_tcb(p, a->accept_tcb), "--accept-tcb")
    for (int i = 0; i < a->n_tdx; i++) {
        FLAG(true, bpt_policy_set_tdx_expected(p, a->tdx_expect[i][0], a->tdx_expect[i][1]),
             a->tdx_expect[i][0])
    }
    if (a->allow_debug) {
        bpt_policy_set_allow_debug(p, true);
    }
    if (a->insecure_any_audience) {
        bpt_policy_set_insecure_any_audience(p, true);
    }
    if ((rc = snp_flags_apply(p, &a->snp, &snp_what)) != 0) {
        ex = rc > 0 ? rc : cli_fail(rc, CLI_AT_ARG, snp_what); /* a flag's value: usage */
        goto out;
    }
    if (a->max_age) {
        unsigned long long v = 0;
        if (!cli_parse_u64(a->max_age, UINT64_MAX, &v)) {
            ex = cli_usage_error("verify", "--max-age '%s': expected seconds", a->max_age);
            goto out;
        }
        if (bpt_policy_set_max_age(p, v) != v) {
            fprintf(stderr, "bpt verify: --max-age %llu clamped to %d\n", v,
                    BPT_POLICY_MAX_AGE_CEILING_SECS);
        }
    }
    if ((rc = bpt_policy_check_provider(p, provider)) < 0) {
        ex = a->measurement ? cli_fail(rc, CLI_AT_ARG, "--expect-measurement")
                            : cli_fail(rc, CLI_AT_FILE, a->policy);
        goto out;
    }
    *out = p;
    p = NULL;
    ex = 0;
out:
    bpt_free(text);
    bpt_policy_free(p);
    return ex;
}

/* The verification context from the flags: time, trust roots, certificates, collateral, JWKS,
 * where to fetch from and cache, offline. */
static int build_ctx(bpt_verify_ctx **out, const struct verify_args *a)
{
    bpt_verify_ctx *c = NULL;
    char *text = NULL;
    size_t len = 0;
    const char *snp_what = NULL;
    int rc, ex = BPT_EXIT_USAGE;

    *out = NULL;
    if ((rc = bpt_verify_ctx_new(&c, NULL)) < 0) {
        return cli_fail(rc, CLI_AT_OUTPUT, "context");
    }
    FLAG(a->cache_dir, bpt_verify_ctx_set_cache_dir(c, a->cache_dir), "--cache-dir")
    FLAG(a->pccs_url, bpt_verify_ctx_set_pccs_url(c, a->pccs_url), "--pccs-url")
    FLAG(a->jwks_url, bpt_verify_ctx_set_jwks_url(c, a->jwks_url), "--jwks-url")
    FLAG(a->offline, bpt_verify_ctx_set_offline(c, true), "--offline")
    if (a->at) {
        int64_t t;
        if ((rc = bpt_time_parse(&t, a->at)) < 0) {
            ex = cli_fail(rc, CLI_AT_ARG, "--at");
            goto out;
        }
        FLAG(true, bpt_verify_ctx_set_at(c, t), "--at")
    }
/* A file the user named: reading it, or its format, is local input. */
#define FILE_ARG(read, use, name)                                                                  \
    if ((rc = (read)) < 0 || (rc = (use)) < 0) {                                                   \
        ex = cli_fail(rc, CLI_AT_FILE, name);                                                      \
        goto out;                                                                                  \
    }
    for (int i = 0; i < a->n_roots; i++) {
        FILE_ARG(cli_read_file(&text, &len, a->trust_roots[i], BPT_LIMIT_CERT_CHAIN_BYTES),
                 bpt_verify_ctx_add_trust_roots(c, (const uint8_t *)text, len), a->trust_roots[i])
        bpt_free(text);
        text = NULL;
    }
    for (int i = 0; i < a->n_certs; i++) {
        FILE_ARG(cli_read_file(&text, &len, a->certs[i], BPT_LIMIT_CERT_CHAIN_BYTES),
                 bpt_verify_ctx_add_certs(c, (const uint8_t *)text, len), a->certs[i])
        bpt_free(text);
        text = NULL;
    }
    if (a->collateral) {
        FILE_ARG(cli_read_file(&text, &len, a->collateral, BPT_LIMIT_COLLATERAL_BYTES),
                 bpt_verify_ctx_set_collateral_json(c, text, len), a->collateral)
        bpt_free(text);
        text = NULL;
    }
    if (a->jwks) {
        FILE_ARG(cli_read_file(&text, &len, a->jwks, BPT_LIMIT_JWKS_BYTES),
                 bpt_verify_ctx_set_jwks_json(c, text, len), a->jwks)
    }
#undef FILE_ARG
    /* --crl FILE: reading it, or a file that is no CRL, is local input like the other files. */
    if ((rc = snp_flags_apply_ctx(c, &a->snp, &snp_what)) < 0) {
        ex = cli_fail(rc, strcmp(snp_what, "--no-revocation-check") == 0 ? CLI_AT_ARG : CLI_AT_FILE,
                      snp_what);
        goto out;
    }
#undef FLAG
    *out = c;
    c = NULL;
    ex = 0;
out:
    bpt_free(text);
    bpt_verify_ctx_free(c);
    return ex;
}

static void print_summary(const bpt_verified *v)
{
    const bpt_report *r = bpt_verified_report(v);
    const bpt_measurement *m = bpt_report_measurement(r);
    size_t rd_len = 0;
    const uint8_t *rd = bpt_verified_report_data(v, &rd_len);
    char when[32], *tcb = NULL;

    printf("verified: %s (%s, %s)\n", bpt_provider_name(bpt_verified_provider(v)),
           bpt_format_name(bpt_report_format(r)),
           bpt_verified_level(v) == BPT_VERIFICATION_CRYPTOGRAPHIC ? "cryptographic"
                                                                   : "structural");
    printf("  at:          %s\n", bpt_time_format(when, bpt_verified_at(v)));
    printf("  measurement: %s:%s\n", m->algorithm, m->digest);
    printf("  debug mode:  %s\n", bpt_claims_debug_mode(bpt_report_claims(r)) ? "yes" : "no");
    if (bpt_claims_custom_json(&tcb, bpt_report_claims(r), "tcb_status") == 0 && tcb &&
        strlen(tcb) > 2) {
        printf("  tcb status:  %.*s\n", (int)strlen(tcb) - 2, tcb + 1); /* a JSON string */
    }
    bpt_free(tcb);
    if (rd) {
        printf("  report data: ");
        for (size_t i = 0; i < rd_len; i++) {
            printf("%02x", rd[i]);
        }
        printf("\n");
    }
    for (size_t i = 0; i < bpt_verified_warning_count(v); i++) {
        printf("  warning:     %s\n", bpt_verified_warning(v, i));
    }
}

/*
 * The library's messages name what is missing in its own words (policy fields, "the context's
 * trust roots", ...); the flags that supply it are the CLI's to name. The first entry whose
 * words the message contains gives the hint appended to it.
 */
static const struct {
    const char *words, *hint;
} hints[] = {
    {"expected_nonce or expected_report_data",
     "--expect-nonce S or --expect-report-data HEX binds the token; --insecure-any-audience "
     "accepts it unbound"},
    {"expected_audience", "--expect-audience S binds the token; --insecure-any-audience accepts "
                          "it unbound"},
    {"give the context a JWKS document", "--jwks FILE, or 'bpt fetch --out DIR' and --cache-dir "
                                         "DIR"},
    {"give the context the collateral", "--collateral FILE, or 'bpt fetch --out DIR' and "
                                        "--cache-dir DIR"},
    {"the context's certificates", "--certs FILE (DER or PEM)"},
    {"the context's trust roots", "--trust-root FILE (DER or PEM)"},
    /* SEV-SNP (sev_snp.c, amd_crl.c): the VCEK, ASK, ARK and AMD's CRL. */
    {"VCEK missing: not given; it comes from", "--certs FILE (DER or PEM), or 'bpt fetch --out "
                                               "DIR' and --cache-dir DIR"},
    {"verification context's certificates", "--certs FILE (DER or PEM)"},
    {"add it to the trust roots", "--trust-root FILE (DER or PEM)"},
    {"bpt_verify_ctx_add_crl", "--crl FILE (DER or PEM), or 'bpt fetch --out DIR' and --cache-dir "
                               "DIR; --no-revocation-check skips the check"},
};

/* Append to the last error's message the flags that supply what it names, if any. */
static void add_hint(int rc)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", bpt_error_last());
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        if (strstr(msg, hints[i].words)) {
            bpt_error_set(rc, "%s [bpt verify: %s]", msg, hints[i].hint);
            return;
        }
    }
}

int cmd_verify(int argc, char **argv)
{
    struct verify_args a = {0};
    bpt_verify_ctx *ctx = NULL;
    bpt_policy *policy = NULL;
    bpt_verified *v = NULL;
    bpt_provider provider = BPT_PROVIDER_UNKNOWN;
    char *raw = NULL, *json = NULL, *refusal = NULL;
    uint8_t *ev = NULL;
    size_t raw_len = 0, ev_len = 0;
    int rc, ex;

    cli_note("verified", json_false()); /* in every JSON object a failure prints */
    ex = parse_args(&a, argc, argv);
    if (ex < 0 || cli_wants_help(argc, argv)) {
        verify_usage(stdout);
        return BPT_EXIT_OK;
    }
    if (ex != 0) {
        return ex;
    }
    if (a.provider && (rc = bpt_provider_parse(&provider, a.provider)) < 0) {
        return cli_fail(rc, CLI_AT_ARG, "--provider");
    }
    ex = build_policy(&policy, &a, provider);
    if (ex == 0) {
        ex = build_ctx(&ctx, &a);
    }
    if (ex != 0) {
        bpt_policy_free(policy);
        return ex;
    }
    if ((rc = cli_read_file(&raw, &raw_len, a.evidence, BPT_LIMIT_FILE_BYTES)) < 0 ||
        (rc = bpt_evidence_decode(&ev, &ev_len, (const uint8_t *)raw, raw_len)) < 0) {
        ex = cli_fail(rc, CLI_AT_FILE, a.evidence);
        goto out;
    }
    rc = bpt_verify_explain(&v, &refusal, ctx, policy, ev, ev_len, provider);
    if (rc < 0) {
        add_hint(rc);
        /* What was learned before the refusal (provider, format, evidence_sha256, tcb) goes
         * into the JSON; the library's "error" is replaced by the CLI's, which says the same. */
        cli_note_json(refusal);
        if (cli_exit_for(rc, CLI_AT_EVIDENCE) == BPT_EXIT_REFUSED) {
            /* Outside the attestation kinds (a provider not built, ...) a refusal reads as
             * "unsatisfiable" to a relying party: this verifier cannot say yes. */
            rc = bpt_error_is_attestation(rc) ? rc : BPT_EUNSATISFIABLE;
            ex = cli_json() ? cli_fail(rc, CLI_AT_EVIDENCE, NULL) : cli_refused(rc);
        } else {
            ex = cli_fail(rc, CLI_AT_EVIDENCE, NULL);
        }
        goto out;
    }
    if (a.json) {
        if ((rc = bpt_verified_to_json(&json, v)) < 0) {
            ex = cli_fail(rc, CLI_AT_OUTPUT, "result");
            goto out;
        }
        if ((ex = cli_print_json(json, NULL)) != 0) {
            goto out;
        }
    } else {
        print_summary(v);
    }
    ex = BPT_EXIT_OK;
out:
    bpt_free(json);
    bpt_free(refusal);
    bpt_free(ev);
    bpt_free(raw);
    bpt_verified_free(v);
    bpt_policy_free(policy);
    bpt_verify_ctx_free(ctx);
    return ex;
}
