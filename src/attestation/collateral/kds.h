/*
 * AMD KDS (Key Distribution Service, "VCEK Certificate and KDS Interface Specification"): the
 * URLs of a VCEK, of a product's ASK/ASVK and ARK, and of its CRLs; fetching a VCEK (DER) and a
 * CRL (DER); the on-disk cache both go into.
 */
#ifndef BPT_ATTESTATION_COLLATERAL_KDS_H
#define BPT_ATTESTATION_COLLATERAL_KDS_H

#include <blueprint-tee/buf.h>

#define BPT_KDS_DEFAULT_URL "https://kdsintf.amd.com"
#define BPT_KDS_TIMEOUT_MS 10000
#define BPT_KDS_MAX_CERT_BYTES (16u * 1024u)
#define BPT_KDS_MAX_CRL_BYTES (64u * 1024u)
/* Enough for any KDS URL or cache path this module makes (a path's directory included). */
#define BPT_KDS_URL_MAX 1024
#define BPT_KDS_PATH_MAX 4096

/* The TCB of a VCEK request (Turin adds fmc). */
struct bpt_kds_tcb {
    uint8_t fmc, bootloader, tee, snp, microcode;
};

/**
 * The URL of the VCEK of product @p product ("Milan", "Genoa", "Turin") for @p chip_id at @p tcb
 * at KDS @p base_url (NULL: AMD's): Milan/Genoa
 * /vcek/v1/{product}/{chip_id hex}?blSPL&teeSPL&snpSPL&ucodeSPL; Turin
 * /vcek/v1/Turin/{first 8 bytes of chip_id hex}?fmcSPL&blSPL&teeSPL&snpSPL&ucodeSPL.
 * @return 0; BPT_EKEYS (another product); BPT_EINVAL (too long for @p buf).
 */
BPT_MUST_USE int bpt_kds_vcek_url(char *buf, size_t len, const char *base_url, const char *product,
                                  const uint8_t chip_id[64], struct bpt_kds_tcb tcb);

/** base/{vcek|vlek}/v1/{product}/cert_chain: the ASK (or ASVK) and the ARK, PEM. */
BPT_MUST_USE int bpt_kds_cert_chain_url(char *buf, size_t len, const char *base_url, bool vlek,
                                        const char *product);

/** base/{vcek|vlek}/v1/{product}/crl: the ARK's CRL of ASKs (or ASVKs), DER. */
BPT_MUST_USE int bpt_kds_crl_url(char *buf, size_t len, const char *base_url, bool vlek,
                                 const char *product);

/** The cache file of a product's CRL: {cache_dir}/crl-{vcek|vlek}-{product}.der. */
BPT_MUST_USE int bpt_kds_crl_cache_path(char *buf, size_t len, const char *cache_dir, bool vlek,
                                        const char *product);

/**
 * The VCEK of @p product for @p chip_id at @p tcb (DER as KDS serves it; a cached copy may be
 * PEM): from @p cache_dir when there (may be NULL), else, unless @p offline, from KDS at
 * @p base_url (NULL: AMD's), stored in the cache on success.
 * @return 0; BPT_EKEYS (offline and not cached: the message says which); BPT_EFETCH (KDS said
 *         no, with its status; transport error); BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_kds_vcek(bpt_buf *der_out, const char *base_url, const char *cache_dir,
                              bool offline, const char *product, const uint8_t chip_id[64],
                              struct bpt_kds_tcb tcb);

/**
 * GET a CRL from KDS (bpt_kds_crl_url()): the bytes only. The caller verifies it and stores it
 * with bpt_kds_cache_store() only then. @return 0; BPT_EFETCH; BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_kds_crl_fetch(bpt_buf *der_out, const char *base_url, bool vlek,
                                   const char *product);

/** Store @p n bytes in the cache file @p path, creating @p cache_dir (0700); best effort. */
void bpt_kds_cache_store(const char *cache_dir, const char *path, const uint8_t *p, size_t n);

#endif
