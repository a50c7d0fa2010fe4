#include <blueprint-tee/provider.h>

#include "core/err.h"

#include <string.h>

static const char *const provider_names[] = {
    "unknown", "intel_tdx", "amd_sev_snp", "aws_nitro", "azure_snp", "gcp_confidential",
};

static const char *const format_names[] = {
    "unknown",        "nitro_document",  "tdx_quote",
    "sev_snp_report", "azure_maa_token", "gcp_confidential_token",
};

/* CLI spellings (DESIGN.md §8) beside the serialized names: kebab-case, and the snake_case short
 * names (sev_snp, azure_maa) the kebab-case ones stand for. */
static const struct {
    const char *alias;
    bpt_provider p;
} provider_aliases[] = {
    {"auto", BPT_PROVIDER_UNKNOWN},
    {"tdx", BPT_PROVIDER_INTEL_TDX},
    {"sev-snp", BPT_PROVIDER_AMD_SEV_SNP},
    {"sev_snp", BPT_PROVIDER_AMD_SEV_SNP},
    {"aws-nitro", BPT_PROVIDER_AWS_NITRO},
    {"azure-maa", BPT_PROVIDER_AZURE_SNP},
    {"azure_maa", BPT_PROVIDER_AZURE_SNP},
    {"azure-snp", BPT_PROVIDER_AZURE_SNP},
    {"gcp-confidential", BPT_PROVIDER_GCP_CONFIDENTIAL},
};

const char *bpt_provider_name(bpt_provider p)
{
    if (p == BPT_PROVIDER_CUSTOM) {
        return "custom";
    }
    if ((int)p < 0 || (int)p >= BPT_PROVIDER_COUNT) {
        return "unknown";
    }
    return provider_names[p];
}

int bpt_provider_parse(bpt_provider *out, const char *name)
{
    if (!name) {
        return bpt_err(BPT_EINVAL, "provider: missing name");
    }
    for (int i = 1; i < BPT_PROVIDER_COUNT; i++) {
        if (strcmp(name, provider_names[i]) == 0) {
            *out = (bpt_provider)i;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(provider_aliases) / sizeof(provider_aliases[0]); i++) {
        if (strcmp(name, provider_aliases[i].alias) == 0) {
            *out = provider_aliases[i].p;
            return 0;
        }
    }
    return bpt_err(BPT_EINVAL,
                   "provider '%.64s' unknown (expected intel_tdx, amd_sev_snp, aws_nitro, "
                   "azure_snp, gcp_confidential, or sev-snp/sev_snp, tdx, aws-nitro, "
                   "azure-maa/azure_maa, gcp-confidential, auto)",
                   name);
}

const char *bpt_format_name(bpt_format f)
{
    if (f == BPT_FORMAT_CUSTOM) {
        return "custom";
    }
    if ((int)f < 0 || (size_t)f >= sizeof(format_names) / sizeof(format_names[0])) {
        return "unknown";
    }
    return format_names[f];
}

int bpt_format_parse(bpt_format *out, const char *name)
{
    for (size_t i = 1; name && i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (bpt_format)i;
            return 0;
        }
    }
    return bpt_err(BPT_EINVAL,
                   "format '%.64s' unknown (expected nitro_document, tdx_quote, sev_snp_report, "
                   "azure_maa_token, gcp_confidential_token)",
                   name ? name : "(null)");
}

bpt_format bpt_provider_format(bpt_provider p)
{
    switch (p) {
    case BPT_PROVIDER_INTEL_TDX:
        return BPT_FORMAT_TDX_QUOTE;
    case BPT_PROVIDER_AMD_SEV_SNP:
        return BPT_FORMAT_SEV_SNP_REPORT;
    case BPT_PROVIDER_AWS_NITRO:
        return BPT_FORMAT_NITRO_DOCUMENT;
    case BPT_PROVIDER_AZURE_SNP:
        return BPT_FORMAT_AZURE_MAA_TOKEN;
    case BPT_PROVIDER_GCP_CONFIDENTIAL:
        return BPT_FORMAT_GCP_CONFIDENTIAL_TOKEN;
    default:
        return BPT_FORMAT_UNKNOWN;
    }
}

bool bpt_custom_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    bool dot = false;
    if (n < 3 || n > 63 || name[0] == '.' || name[n - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.') {
            dot = true;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return dot;
}
