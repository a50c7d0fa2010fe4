/*
 * bpt verify's SEV-SNP flags: the policy's (--snp-*), each setting one key of the policy's
 * sev_snp block (docs/sev_snp.md) so that a flag and a policy file say the same thing, and the
 * revocation ones of the context (--crl, --no-revocation-check).
 */
#ifndef BPT_CLI_VERIFY_SNP_H
#define BPT_CLI_VERIFY_SNP_H

#include <blueprint-tee/bpt.h>

#include <getopt.h>
#include <stdio.h>

#define SNP_FLAGS_MAX_KEYS 16

/* Option values of getopt_long for these flags. */
enum {
    SNP_OPT_BASE = 512,
    SNP_NO_SMT = SNP_OPT_BASE,
    SNP_NO_MIGRATION_AGENT,
    SNP_SINGLE_SOCKET,
    SNP_MIN_ABI,
    SNP_FAMILY_ID,
    SNP_IMAGE_ID,
    SNP_HOST_DATA,
    SNP_ID_KEY,
    SNP_AUTHOR_KEY,
    SNP_REQUIRE_AUTHOR_KEY,
    SNP_MIN_BUILD,
    SNP_MIN_FIRMWARE,
    SNP_MIN_TCB,
    SNP_MIN_LAUNCH_TCB,
    SNP_PLATFORM_SMT,
    SNP_PLATFORM_TSME,
    SNP_CRL,
    SNP_NO_REVOCATION_CHECK,
    SNP_OPT_END
};

/* The long options, to splice into the command's option table. */
#define SNP_FLAG_LONG_OPTIONS                                                                      \
    {"snp-no-smt", no_argument, NULL, SNP_NO_SMT},                                                 \
        {"snp-no-migration-agent", no_argument, NULL, SNP_NO_MIGRATION_AGENT},                     \
        {"snp-single-socket", no_argument, NULL, SNP_SINGLE_SOCKET},                               \
        {"snp-min-abi", required_argument, NULL, SNP_MIN_ABI},                                     \
        {"snp-family-id", required_argument, NULL, SNP_FAMILY_ID},                                 \
        {"snp-image-id", required_argument, NULL, SNP_IMAGE_ID},                                   \
        {"snp-host-data", required_argument, NULL, SNP_HOST_DATA},                                 \
        {"snp-id-key-digest", required_argument, NULL, SNP_ID_KEY},                                \
        {"snp-author-key-digest", required_argument, NULL, SNP_AUTHOR_KEY},                        \
        {"snp-require-author-key", no_argument, NULL, SNP_REQUIRE_AUTHOR_KEY},                     \
        {"snp-min-build", required_argument, NULL, SNP_MIN_BUILD},                                 \
        {"snp-min-firmware", required_argument, NULL, SNP_MIN_FIRMWARE},                           \
        {"snp-min-tcb", required_argument, NULL, SNP_MIN_TCB},                                     \
        {"snp-min-launch-tcb", required_argument, NULL, SNP_MIN_LAUNCH_TCB},                       \
        {"snp-platform-smt", required_argument, NULL, SNP_PLATFORM_SMT},                           \
        {"snp-platform-tsme", required_argument, NULL, SNP_PLATFORM_TSME},                         \
        {"crl", required_argument, NULL, SNP_CRL},                                                 \
    {                                                                                              \
        "no-revocation-check", no_argument, NULL, SNP_NO_REVOCATION_CHECK                          \
    }

struct snp_flags {
    const char *family_id, *image_id, *host_data, *min_abi, *min_firmware, *min_build;
    const char *min_tcb, *min_launch_tcb, *platform_smt, *platform_tsme;
    const char *id_keys[SNP_FLAGS_MAX_KEYS], *author_keys[SNP_FLAGS_MAX_KEYS];
    int n_id_keys, n_author_keys;
    bool no_smt, no_migration_agent, single_socket, require_author_key;
    /* The verification context's: AMD CRLs given, and the revocation opt-out. */
    const char *crls[SNP_FLAGS_MAX_KEYS];
    int n_crls;
    bool no_revocation_check;
};

/* The usage lines of these flags. */
void snp_flags_usage(FILE *f);

/* Take option @p c (one of snp_flag_options) with @p arg. Returns 0, or a CLI exit code. */
int snp_flags_take(struct snp_flags *f, int c, const char *arg);

/*
 * Set the policy's sev_snp keys the flags name. Returns 0; a CLI exit code (> 0) after printing
 * a usage error; or a library code (< 0) of a policy setter that refused a flag's value, with
 * *what naming the flag (a flag's value: the caller reports it as usage).
 */
int snp_flags_apply(bpt_policy *p, const struct snp_flags *f, const char **what);

/*
 * Give the context the CRLs (--crl FILE) and the revocation opt-out. Returns 0, or a library code
 * (< 0) with *what naming the file that could not be read or is not a CRL (local input).
 */
int snp_flags_apply_ctx(bpt_verify_ctx *c, const struct snp_flags *f, const char **what);

#endif
