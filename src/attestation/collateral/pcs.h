/*
 * Intel PCS v4 (or a PCCS speaking its API): the TDX collateral of one platform, as the
 * collateral JSON of docs/tdx.md, through an on-disk cache. Nothing fetched is verified here.
 */
#ifndef BPT_ATTESTATION_COLLATERAL_PCS_H
#define BPT_ATTESTATION_COLLATERAL_PCS_H

#include <blueprint-tee/common.h>

#define BPT_PCS_DEFAULT_URL "https://api.trustedservices.intel.com"
#define BPT_PCS_ROOT_CRL_URL "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
#define BPT_PCS_TIMEOUT_MS 10000

/**
 * Collateral JSON for the platform @p fmspc whose PCK certificate was issued by the PCK
 * Platform CA (@p platform_ca) or the Processor CA: the cache directory's copy while it is
 * current at @p at, else PCS/PCCS at @p base_url (NULL: Intel PCS), stored in the cache.
 * @param[out] out_json free with bpt_free().
 * @return 0; BPT_EKEYS (offline, nothing usable cached); BPT_EFETCH.
 */
BPT_MUST_USE int bpt_tdx_pcs_collateral(char **out_json, const char *base_url,
                                        const char *cache_dir, bool offline, const uint8_t fmspc[6],
                                        bool platform_ca, int64_t at);

#endif
