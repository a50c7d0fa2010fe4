/* bpt verify's SEV-SNP policy flags (verify_snp.h). */
#include "verify_snp.h"

#include "cli.h"

#include "core/limits.h"

#include <stdlib.h>
#include <string.h>

void snp_flags_usage(FILE *f)
{
    fprintf(
        f,
        "SEV-SNP policy (each sets the policy file's sev_snp key of the same meaning):\n"
        "  --snp-no-smt            refuse guests whose policy allows SMT (allow_smt false)\n"
        "  --snp-no-migration-agent\n"
        "                          refuse guests that allow a migration agent\n"
        "  --snp-single-socket     require the single-socket guest policy bit\n"
        "  --snp-min-abi MAJ.MIN   minimum ABI version the guest policy asks for\n"
        "  --snp-family-id HEX, --snp-image-id HEX (16 bytes), --snp-host-data HEX (32)\n"
        "  --snp-id-key-digest HEX, --snp-author-key-digest HEX\n"
        "                          trusted ID block keys (48-byte SHA-384; repeatable)\n"
        "  --snp-require-author-key\n"
        "                          the ID block must be signed through a trusted author key\n"
        "  --snp-min-build N       minimum firmware build, current and committed (0..255)\n"
        "  --snp-min-firmware MAJ.MIN\n"
        "                          minimum firmware API version, current and committed\n"
        "  --snp-min-tcb T, --snp-min-launch-tcb T\n"
        "                          minimum reported / launch TCB, T = comma-separated\n"
        "                          bootloader=N,tee=N,snp=N,microcode=N[,fmc=N]\n"
        "  --snp-platform-smt enabled|disabled, --snp-platform-tsme enabled|disabled\n"
        "                          what the host's PLATFORM_INFO must say\n"
        "SEV-SNP revocation (on by default: AMD's CRL from --crl, --cache-dir or AMD KDS;\n"
        "none to be had fails closed):\n"
        "  --crl FILE              AMD CRL, DER or PEM (repeatable; e.g. from\n"
        "                          https://kdsintf.amd.com/vcek/v1/Milan/crl)\n"
        "  --no-revocation-check   do not check AMD's CRL (no network and no cache); the\n"
        "                          result then carries the warning \"revocation not checked\"\n");
}

static int push_key(const char **list, int *n, const char *arg, const char *flag)
{
    if (*n == SNP_FLAGS_MAX_KEYS) {
        return cli_usage_error("verify", "at most %d %s", SNP_FLAGS_MAX_KEYS, flag);
    }
    list[(*n)++] = arg;
    return 0;
}

int snp_flags_take(struct snp_flags *f, int c, const char *arg)
{
    switch (c) {
    case SNP_NO_SMT:
        f->no_smt = true;
        return 0;
    case SNP_NO_MIGRATION_AGENT:
        f->no_migration_agent = true;
        return 0;
    case SNP_SINGLE_SOCKET:
        f->single_socket = true;
        return 0;
    case SNP_REQUIRE_AUTHOR_KEY:
        f->require_author_key = true;
        return 0;
    case SNP_MIN_ABI:
        f->min_abi = arg;
        return 0;
    case SNP_FAMILY_ID:
        f->family_id = arg;
        return 0;
    case SNP_IMAGE_ID:
        f->image_id = arg;
        return 0;
    case SNP_HOST_DATA:
        f->host_data = arg;
        return 0;
    case SNP_ID_KEY:
        return push_key(f->id_keys, &f->n_id_keys, arg, "--snp-id-key-digest");
    case SNP_AUTHOR_KEY:
        return push_key(f->author_keys, &f->n_author_keys, arg, "--snp-author-key-digest");
    case SNP_MIN_BUILD:
        f->min_build = arg;
        return 0;
    case SNP_MIN_FIRMWARE:
        f->min_firmware = arg;
        return 0;
    case SNP_MIN_TCB:
        f->min_tcb = arg;
        return 0;
    case SNP_MIN_LAUNCH_TCB:
        f->min_launch_tcb = arg;
        return 0;
    case SNP_PLATFORM_SMT:
        f->platform_smt = arg;
        return 0;
    case SNP_PLATFORM_TSME:
        f->platform_tsme = arg;
        return 0;
    case SNP_CRL:
        return push_key(f->crls, &f->n_crls, arg, "--crl");
    case SNP_NO_REVOCATION_CHECK:
        f->no_revocation_check = true;
        return 0;
    default:
        return cli_usage_error("verify", "internal: unknown SEV-SNP option %d", c);
    }
}

/* "bootloader=N,tee=N,snp=N,microcode=N[,fmc=N]" (components left out are 0). */
static int parse_tcb(bpt_snp_tcb *t, const char *arg, const char *flag)
{
    char list[128], *save = NULL;
    memset(t, 0, sizeof(*t));
    if (strlen(arg) >= sizeof(list)) {
        return cli_usage_error("verify", "%s: too long", flag);
    }
    snprintf(list, sizeof(list), "%s", arg);
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        static const char *const names[] = {"bootloader", "tee", "snp", "microcode", "fmc"};
        uint8_t *dst[] = {&t->bootloader, &t->tee, &t->snp, &t->microcode, &t->fmc};
        char *eq = strchr(tok, '='), *end = NULL;
        unsigned long v;
        size_t i;
        if (!eq) {
            goto bad;
        }
        *eq = '\0';
        for (i = 0; i < 5 && strcmp(tok, names[i]) != 0; i++) {
        }
        if (i == 5 || eq[1] < '0' || eq[1] > '9' || (v = strtoul(eq + 1, &end, 10)) > 255 || *end) {
            goto bad;
        }
        *dst[i] = (uint8_t)v;
    }
    return 0;
bad:
    return cli_usage_error("verify",
                           "%s '%.60s': expected bootloader=N,tee=N,snp=N,microcode=N[,fmc=N] "
                           "with N 0..255",
                           flag, arg);
}

static int parse_state(bool *on, const char *arg, const char *flag)
{
    if (strcmp(arg, "enabled") == 0 || strcmp(arg, "disabled") == 0) {
        *on = arg[0] == 'e';
        return 0;
    }
    return cli_usage_error("verify", "%s '%.20s': expected enabled or disabled", flag, arg);
}

int snp_flags_apply(bpt_policy *p, const struct snp_flags *f, const char **what)
{
    bpt_snp_tcb t;
    bool on = false;
    int ex, rc;

#define LIB(call, name)                                                                            \
    if ((rc = (call)) < 0) {                                                                       \
        *what = name;                                                                              \
        return rc;                                                                                 \
    }
    if (f->no_smt) {
        LIB(bpt_policy_set_sev_snp_rule(p, "allow_smt", false), "--snp-no-smt")
    }
    if (f->no_migration_agent) {
        LIB(bpt_policy_set_sev_snp_rule(p, "allow_migration_agent", false),
            "--snp-no-migration-agent")
    }
    if (f->single_socket) {
        LIB(bpt_policy_set_sev_snp_rule(p, "require_single_socket", true), "--snp-single-socket")
    }
    if (f->min_abi) {
        LIB(bpt_policy_set_sev_snp_min_version(p, "min_abi", f->min_abi), "--snp-min-abi")
    }
    if (f->min_firmware) {
        LIB(bpt_policy_set_sev_snp_min_version(p, "min_firmware_version", f->min_firmware),
            "--snp-min-firmware")
    }
    if (f->family_id) {
        LIB(bpt_policy_set_sev_snp_expected(p, "family_id", f->family_id), "--snp-family-id")
    }
    if (f->image_id) {
        LIB(bpt_policy_set_sev_snp_expected(p, "image_id", f->image_id), "--snp-image-id")
    }
    if (f->host_data) {
        LIB(bpt_policy_set_sev_snp_expected(p, "host_data", f->host_data), "--snp-host-data")
    }
    for (int i = 0; i < f->n_id_keys; i++) {
        LIB(bpt_policy_add_sev_snp_key_digest(p, "id_key_digests", f->id_keys[i]),
            "--snp-id-key-digest")
    }
    for (int i = 0; i < f->n_author_keys; i++) {
        LIB(bpt_policy_add_sev_snp_key_digest(p, "author_key_digests", f->author_keys[i]),
            "--snp-author-key-digest")
    }
    if (f->require_author_key) {
        LIB(bpt_policy_set_sev_snp_rule(p, "require_author_key", true), "--snp-require-author-key")
    }
    if (f->min_build) {
        unsigned long long v = 0;
        if (!cli_parse_u64(f->min_build, 255, &v)) {
            return cli_usage_error("verify", "--snp-min-build '%.20s': expected 0..255",
                                   f->min_build);
        }
        LIB(bpt_policy_set_sev_snp_min_build(p, (int)v), "--snp-min-build")
    }
    if (f->min_tcb) {
        if ((ex = parse_tcb(&t, f->min_tcb, "--snp-min-tcb")) != 0) {
            return ex;
        }
        LIB(bpt_policy_set_sev_snp_min_tcb(p, "min_tcb", &t), "--snp-min-tcb")
    }
    if (f->min_launch_tcb) {
        if ((ex = parse_tcb(&t, f->min_launch_tcb, "--snp-min-launch-tcb")) != 0) {
            return ex;
        }
        LIB(bpt_policy_set_sev_snp_min_tcb(p, "min_launch_tcb", &t), "--snp-min-launch-tcb")
    }
    if (f->platform_smt) {
        if ((ex = parse_state(&on, f->platform_smt, "--snp-platform-smt")) != 0) {
            return ex;
        }
        LIB(bpt_policy_set_sev_snp_rule(p, "platform_smt_enabled", on), "--snp-platform-smt")
    }
    if (f->platform_tsme) {
        if ((ex = parse_state(&on, f->platform_tsme, "--snp-platform-tsme")) != 0) {
            return ex;
        }
        LIB(bpt_policy_set_sev_snp_rule(p, "platform_tsme_enabled", on), "--snp-platform-tsme")
    }
#undef LIB
    return 0;
}

int snp_flags_apply_ctx(bpt_verify_ctx *c, const struct snp_flags *f, const char **what)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    for (int i = 0; i < f->n_crls; i++) {
        *what = f->crls[i];
        if ((rc = cli_read_file(&text, &len, f->crls[i], BPT_LIMIT_COLLATERAL_BYTES)) < 0 ||
            (rc = bpt_verify_ctx_add_crl(c, (const uint8_t *)text, len)) < 0) {
            bpt_free(text);
            return rc;
        }
        bpt_free(text);
        text = NULL;
    }
    *what = "--no-revocation-check";
    if (f->no_revocation_check && (rc = bpt_verify_ctx_set_revocation_check(c, false)) < 0) {
        return rc;
    }
    return 0;
}
