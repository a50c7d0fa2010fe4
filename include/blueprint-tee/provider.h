/**
 * @file provider.h
 * TEE providers and evidence formats, with the snake_case names the Rust crate serializes.
 *
 * Threads: reentrant; the name strings are static.
 */
#ifndef BPT_PROVIDER_H
#define BPT_PROVIDER_H

#include "common.h"

BPT_BEGIN_DECLS

/** A TEE provider (the Rust TeeProvider). */
typedef enum bpt_provider {
    BPT_PROVIDER_UNKNOWN = 0,      /**< "unknown": also "auto" where a provider is optional */
    BPT_PROVIDER_INTEL_TDX,        /**< "intel_tdx" */
    BPT_PROVIDER_AMD_SEV_SNP,      /**< "amd_sev_snp" */
    BPT_PROVIDER_AWS_NITRO,        /**< "aws_nitro" */
    BPT_PROVIDER_AZURE_SNP,        /**< "azure_snp" */
    BPT_PROVIDER_GCP_CONFIDENTIAL, /**< "gcp_confidential" */
    /** A provider a verifier plugin adds (sys/verifier.h); its name, "<vendor>.<name>", is kept
        with the report (bpt_report_provider_name()). */
    BPT_PROVIDER_CUSTOM = 100
} bpt_provider;

/** The built-in providers are 1 .. BPT_PROVIDER_COUNT - 1. */
#define BPT_PROVIDER_COUNT 6

/** An evidence format (the Rust AttestationFormat). */
typedef enum bpt_format {
    BPT_FORMAT_UNKNOWN = 0,
    BPT_FORMAT_NITRO_DOCUMENT,         /**< "nitro_document" */
    BPT_FORMAT_TDX_QUOTE,              /**< "tdx_quote" */
    BPT_FORMAT_SEV_SNP_REPORT,         /**< "sev_snp_report" */
    BPT_FORMAT_AZURE_MAA_TOKEN,        /**< "azure_maa_token" */
    BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN, /**< "gcp_confidential_token" */
    BPT_FORMAT_CUSTOM = 100 /**< a plugin's format, named "<vendor>.<name>" on the report */
} bpt_format;

/**
 * "amd_sev_snp", ...; "custom" for BPT_PROVIDER_CUSTOM (a report knows the real name); "unknown"
 * for BPT_PROVIDER_UNKNOWN or an out-of-range value.
 */
BPT_API const char *bpt_provider_name(bpt_provider p);

/**
 * Parse a provider name: the snake_case names above, the CLI spellings "sev-snp", "tdx",
 * "aws-nitro", "azure-maa"/"azure-snp", "gcp-confidential", and the short snake_case names
 * "sev_snp", "azure_maa"; "auto" gives BPT_PROVIDER_UNKNOWN.
 * @return 0; BPT_EINVAL naming the text and the accepted names.
 */
BPT_API BPT_MUST_USE int bpt_provider_parse(bpt_provider *out, const char *name);

/** "sev_snp_report", ...; "custom" for BPT_FORMAT_CUSTOM; "unknown" otherwise. */
BPT_API const char *bpt_format_name(bpt_format f);

/** Parse a format name. @return 0; BPT_EINVAL. */
BPT_API BPT_MUST_USE int bpt_format_parse(bpt_format *out, const char *name);

/**
 * true for a plugin provider or format name: "<vendor>.<name>", 3..63 bytes of lowercase
 * letters, digits, '_', '-' and '.', with a '.' that is neither first nor last.
 */
BPT_API bool bpt_custom_name_is_valid(const char *name);

/** The format a provider's evidence has (SEV-SNP -> sev_snp_report, ...). */
BPT_API bpt_format bpt_provider_format(bpt_provider p);

BPT_END_DECLS

#endif
