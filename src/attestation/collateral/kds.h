/* AMD KDS: fetch a VCEK (DER) by product, chip id and TCB, with an on-disk cache. */
#ifndef BPT_ATTESTATION_COLLATERAL_KDS_H
#define BPT_ATTESTATION_COLLATERAL_KDS_H

#include <blueprint-tee/buf.h>

#define BPT_KDS_DEFAULT_URL "https://kdsintf.amd.com"
#define BPT_KDS_TIMEOUT_MS 10000
#define BPT_KDS_MAX_CERT_BYTES (16u * 1024u)

/* The TCB of a VCEK request (Turin adds fmc). */
struct bpt_kds_tcb {
    uint8_t fmc, bootloader, tee, snp, microcode;
};

/**
 * The VCEK of product @p product ("Milan", "Genoa", "Turin") for @p chip_id at @p tcb: from @p
 * cache_dir when there (may be NULL), else, unless
 * @p offline, from KDS at @p base_url (NULL: AMD's), stored in the cache on success.
 * Milan/Genoa: /vcek/v1/{product}/{chip_id hex}?blSPL&teeSPL&snpSPL&ucodeSPL; Turin:
 * /vcek/v1/Turin/{first 8 bytes of chip_id hex}?fmcSPL&blSPL&teeSPL&snpSPL&ucodeSPL.
 * @return 0; BPT_EKEYS (offline and not cached); BPT_EFETCH (KDS said no: status named;
 *         transport error); BPT_ELIMIT.
 */
BPT_MUST_USE int bpt_kds_vcek(bpt_buf *der_out, const char *base_url, const char *cache_dir,
                              bool offline, const char *product, const uint8_t chip_id[64],
                              struct bpt_kds_tcb tcb);

#endif
