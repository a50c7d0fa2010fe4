/*
 * AMD SEV-SNP revocation: the ARK's CRL for a product (one lists revoked ASKs, the VCEK path;
 * one revoked ASVKs, the VLEK path) found among the CRLs given, in the on-disk cache, or on AMD
 * KDS, verified (issuer, RSA-PSS signature by the ARK, thisUpdate <= at <= nextUpdate), and the
 * intermediate and leaf of a verified chain checked against it.
 */
#ifndef BPT_ATTESTATION_COLLATERAL_AMD_CRL_H
#define BPT_ATTESTATION_COLLATERAL_AMD_CRL_H

#include <blueprint-tee/common.h>

#include <openssl/x509.h>

/* Where a CRL may come from, in this order. */
struct bpt_amd_crl_src {
    STACK_OF(X509_CRL) * given; /* CRLs handed in (may be NULL); those of other issuers ignored */
    const char *cache_dir;      /* NULL: none */
    const char *kds_url;        /* NULL: AMD's */
    bool offline;               /* true: KDS is not asked */
    bool vlek;                  /* the VLEK path (ASVK): /vlek/v1/{product}/crl */
    const char *product;        /* "Milan", "Genoa", "Turin" */
};

/* The CRL that answered: where from, and its window. */
struct bpt_amd_crl_used {
    int64_t this_update, next_update;
    const char *source; /* "given", "cache", "kds" (static) */
};

/**
 * Check that @p inter (the ASK or ASVK of a verified chain) is not on the CRL of @p ark valid at
 * @p at, nor @p leaf (the VCEK or VLEK) when the CRL lists it by an entry naming its issuer.
 * A CRL given whose issuer is the ARK must verify; a cached one that does not (or has expired)
 * is passed over for KDS; a fetched one is stored in the cache once it verified.
 * @return 0 (@p used filled); BPT_ESIGNATURE (revoked; a CRL whose issuer, signature or window
 *         is wrong); BPT_EKEYS (none given or cached and offline: the message says what is
 *         missing and its URL); BPT_EFETCH (KDS failed, or answered something that is not a CRL).
 */
BPT_MUST_USE int bpt_amd_crl_check(struct bpt_amd_crl_used *used, const struct bpt_amd_crl_src *src,
                                   X509 *ark, X509 *inter, X509 *leaf, int64_t at);

#endif
