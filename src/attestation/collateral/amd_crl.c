/* AMD SEV-SNP revocation (amd_crl.h). */
#include "attestation/collateral/amd_crl.h"

#include "attestation/collateral/kds.h"
#include "attestation/pki/pki.h"

#include "core/err.h"
#include "core/logging.h"
#include "core/util.h"

#include <blueprint-tee/clock.h>

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

/* "ARK-Milan": the common name, for messages. */
static const char *cn_of(X509 *c, char *buf, size_t len)
{
    buf[0] = '\0';
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, buf, (int)len) < 0) {
        snprintf(buf, len, "the ARK");
    }
    return buf;
}

/* Issuer, RSA-PSS signature by the ARK's key, thisUpdate <= at <= nextUpdate. */
static int verify_crl(X509_CRL *crl, X509 *ark, int64_t at, const char *what)
{
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) == 0 &&
        X509_CRL_get_signature_nid(crl) != NID_rsassaPss) {
        return bpt_err(BPT_ESIGNATURE, "%s: signed with %s, not RSASSA-PSS as AMD's ARK signs",
                       what, bpt_pki_crl_sig_name(crl));
    }
    return bpt_pki_check_crl(crl, ark, at, what);
}

static bool issued_by(X509_CRL *crl, X509 *ark)
{
    return X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) == 0;
}

/* @p cert on @p crl (an entry that removes it from the CRL does not count). */
static int not_listed(X509_CRL *crl, X509 *cert, const char *role, const char *what)
{
    X509_REVOKED *rev = NULL;
    char subj[256];
    if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1) {
        const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
        long sn = ASN1_INTEGER_get(serial);
        return bpt_err(BPT_ESIGNATURE, "%s: the %s (%s, serial %ld) is revoked", what, role,
                       bpt_pki_subject(cert, subj, sizeof(subj)), sn);
    }
    return 0;
}

static int check_entries(X509_CRL *crl, X509 *inter, X509 *leaf, bool vlek, const char *what)
{
    int rc = not_listed(crl, inter, vlek ? "ASVK" : "ASK", what);
    if (rc == 0 && leaf) {
        rc = not_listed(crl, leaf, vlek ? "VLEK" : "VCEK", what);
    }
    return rc;
}

static int parse_one(X509_CRL **out, const uint8_t *p, size_t len, const char *what)
{
    STACK_OF(X509_CRL) *crls = NULL;
    STACK_OF(X509) *certs = NULL;
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_pki_parse_bundle(&certs, &crls, p, len, what));
    if (sk_X509_CRL_num(crls) != 1 || sk_X509_num(certs) > 0) {
        rc = bpt_err(BPT_EMALFORMED, "%s: %d CRLs and %d certificates (expected exactly one CRL)",
                     what, crls ? sk_X509_CRL_num(crls) : 0, certs ? sk_X509_num(certs) : 0);
        goto out;
    }
    *out = sk_X509_CRL_shift(crls);
    rc = 0;
out:
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static void window(struct bpt_amd_crl_used *used, X509_CRL *crl, const char *source)
{
    used->this_update = used->next_update = 0;
    (void)bpt_pki_crl_window(crl, &used->this_update, &used->next_update);
    used->source = source;
}

/* A CRL given whose issuer is the ARK: the first that verifies answers; else the last error. */
static int from_given(struct bpt_amd_crl_used *used, bool *found, const struct bpt_amd_crl_src *src,
                      X509 *ark, X509 *inter, X509 *leaf, int64_t at)
{
    char what[96], cn[64];
    int rc = 0;

    *found = false;
    snprintf(what, sizeof(what), "sev_snp: the CRL given for the %s", cn_of(ark, cn, sizeof(cn)));
    for (int i = 0; i < sk_X509_CRL_num(src->given); i++) {
        X509_CRL *crl = sk_X509_CRL_value(src->given, i);
        if (!issued_by(crl, ark)) {
            continue;
        }
        *found = true;
        if ((rc = verify_crl(crl, ark, at, what)) == 0) {
            window(used, crl, "given");
            return check_entries(crl, inter, leaf, src->vlek, what);
        }
    }
    return rc;
}

/* The cached CRL, when it is this ARK's, verifies and is valid at @p at. Returns 1 when it
 * answered (its result in *rc_out), 0 when it is missing or unusable (@p why says which: then
 * KDS is asked, unless offline). */
static int from_cache(int *rc_out, struct bpt_amd_crl_used *used, char *why, size_t why_len,
                      const struct bpt_amd_crl_src *src, const char *path, X509 *ark, X509 *inter,
                      X509 *leaf, int64_t at)
{
    bpt_buf b = BPT_BUF_INIT(BPT_KDS_MAX_CRL_BYTES);
    X509_CRL *crl = NULL;
    int64_t nb = 0, na = 0;
    char from[32], to[32];
    int answered = 0;

    if (bpt_file_read(&b, path) != 0 || b.len == 0) {
        snprintf(why, why_len, "none is in the cache directory");
        goto out;
    }
    if (parse_one(&crl, b.data, b.len, "cached CRL") < 0 || !issued_by(crl, ark)) {
        bpt_error_clear();
        BPT_LOG(BPT_LOG_WARN, "kds", "cached crl unusable path=%s", path);
        snprintf(why, why_len, "the cached one is not a CRL of this ARK");
        goto out;
    }
    if (!bpt_pki_crl_window(crl, &nb, &na) || at > na || at < nb) {
        snprintf(why, why_len, "the cached one is not valid at the verification time (%s to %s)",
                 nb ? bpt_time_format(from, nb) : "?", na ? bpt_time_format(to, na) : "?");
        goto out;
    }
    /* its signature checked once: one that does not verify is replaced like a missing one */
    if (verify_crl(crl, ark, at, "sev_snp: the cached CRL") < 0) {
        ERR_clear_error();
        bpt_error_clear();
        BPT_LOG(BPT_LOG_WARN, "kds", "cached crl does not verify path=%s", path);
        snprintf(why, why_len, "the cached one does not verify with this ARK");
        goto out;
    }
    window(used, crl, "cache");
    *rc_out = check_entries(crl, inter, leaf, src->vlek, "sev_snp: the cached CRL");
    answered = 1;
out:
    X509_CRL_free(crl);
    bpt_buf_dispose(&b);
    return answered;
}

int bpt_amd_crl_check(struct bpt_amd_crl_used *used, const struct bpt_amd_crl_src *src, X509 *ark,
                      X509 *inter, X509 *leaf, int64_t at)
{
    char url[BPT_KDS_URL_MAX], path[BPT_KDS_PATH_MAX], why[128], cn[64], what[BPT_KDS_URL_MAX + 64];
    bpt_buf der = BPT_BUF_INIT(BPT_KDS_MAX_CRL_BYTES);
    X509_CRL *crl = NULL;
    bool found = false;
    int rc;

    BPT_CHECK(bpt_kds_crl_url(url, sizeof(url), src->kds_url, src->vlek, src->product));
    cn_of(ark, cn, sizeof(cn));
    if ((rc = from_given(used, &found, src, ark, inter, leaf, at)) < 0 || found) {
        goto out;
    }
    snprintf(why, sizeof(why), "there is no cache directory");
    if (src->cache_dir) {
        BPT_CHECK(
            bpt_kds_crl_cache_path(path, sizeof(path), src->cache_dir, src->vlek, src->product));
        if (from_cache(&rc, used, why, sizeof(why), src, path, ark, inter, leaf, at)) {
            goto out;
        }
    }
    if (src->offline) {
        rc = bpt_err(BPT_EKEYS,
                     "sev_snp: CRL missing: none of the %s (%s path) was given, %s, and "
                     "fetching is off (offline); it comes from %s; give it to the verification "
                     "context (bpt_verify_ctx_add_crl), or turn revocation checking off "
                     "(bpt_verify_ctx_set_revocation_check)",
                     cn, src->vlek ? "VLEK" : "VCEK", why, url);
        goto out;
    }
    if ((rc = bpt_kds_crl_fetch(&der, src->kds_url, src->vlek, src->product)) < 0) {
        rc = bpt_err_prefix(rc,
                            "sev_snp: CRL missing: fetching %s failed (give it to the "
                            "verification context with bpt_verify_ctx_add_crl, or turn revocation "
                            "checking off)",
                            url);
        goto out;
    }
    snprintf(what, sizeof(what), "sev_snp: the CRL from %s", url);
    if (parse_one(&crl, der.data, der.len, what) < 0) {
        rc = bpt_err_prefix(BPT_EFETCH, "sev_snp: KDS answered something else");
        goto out;
    }
    BPT_CHECK(verify_crl(crl, ark, at, what));
    if (src->cache_dir) {
        bpt_kds_cache_store(src->cache_dir, path, der.data, der.len);
    }
    window(used, crl, "kds");
    rc = check_entries(crl, inter, leaf, src->vlek, what);
out:
    X509_CRL_free(crl);
    bpt_buf_dispose(&der);
    return rc;
}
