/* AMD KDS: URLs, fetching a VCEK or a CRL, and the on-disk cache (kds.h). */
#include "attestation/collateral/kds.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/logging.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static bool known_product(const char *product)
{
    return product && (strcmp(product, "Milan") == 0 || strcmp(product, "Genoa") == 0 ||
                       strcmp(product, "Turin") == 0);
}

static int fits(int n, size_t len, const char *what)
{
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_EINVAL, "kds: %s too long", what);
    }
    return 0;
}

/* Turin's KDS takes the first 8 bytes of the chip id. */
static void hwid_hex(char out[129], const char *product, const uint8_t chip_id[64])
{
    bpt_hex_encode_to(out, chip_id, strcmp(product, "Turin") == 0 ? 8 : 64);
}

int bpt_kds_vcek_url(char *buf, size_t len, const char *base_url, const char *product,
                     const uint8_t chip_id[64], struct bpt_kds_tcb tcb)
{
    const char *base = base_url ? base_url : BPT_KDS_DEFAULT_URL;
    char hwid[129];
    int n;

    if (!known_product(product)) {
        return bpt_err(BPT_EKEYS, "kds: the product (Milan, Genoa or Turin) is needed to fetch a "
                                  "VCEK");
    }
    hwid_hex(hwid, product, chip_id);
    if (strcmp(product, "Turin") == 0) {
        n = snprintf(buf, len,
                     "%s/vcek/v1/%s/%s?fmcSPL=%u&blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u", base,
                     product, hwid, tcb.fmc, tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode);
    } else {
        n = snprintf(buf, len, "%s/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u", base,
                     product, hwid, tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode);
    }
    return fits(n, len, "VCEK URL");
}

static int product_url(char *buf, size_t len, const char *base_url, bool vlek, const char *product,
                       const char *what)
{
    if (!known_product(product)) {
        return bpt_err(BPT_EKEYS, "kds: the product (Milan, Genoa or Turin) is needed for the %s",
                       what);
    }
    return fits(snprintf(buf, len, "%s/%s/v1/%s/%s", base_url ? base_url : BPT_KDS_DEFAULT_URL,
                         vlek ? "vlek" : "vcek", product, what),
                len, "URL");
}

int bpt_kds_cert_chain_url(char *buf, size_t len, const char *base_url, bool vlek,
                           const char *product)
{
    return product_url(buf, len, base_url, vlek, product, "cert_chain");
}

int bpt_kds_crl_url(char *buf, size_t len, const char *base_url, bool vlek, const char *product)
{
    return product_url(buf, len, base_url, vlek, product, "crl");
}

int bpt_kds_crl_cache_path(char *buf, size_t len, const char *cache_dir, bool vlek,
                           const char *product)
{
    if (!known_product(product)) {
        return bpt_err(BPT_EKEYS, "kds: the product (Milan, Genoa or Turin) is needed for a CRL");
    }
    return fits(snprintf(buf, len, "%s/crl-%s-%s.der", cache_dir, vlek ? "vlek" : "vcek", product),
                len, "cache path");
}

static int vcek_cache_path(char *buf, size_t len, const char *dir, const char *product,
                           const uint8_t chip_id[64], struct bpt_kds_tcb t)
{
    char hwid[129];
    hwid_hex(hwid, product, chip_id);
    return fits(snprintf(buf, len, "%s/vcek-%s-%s-%02x%02x%02x%02x%02x.der", dir, product, hwid,
                         t.fmc, t.bootloader, t.tee, t.snp, t.microcode),
                len, "cache path");
}

void bpt_kds_cache_store(const char *cache_dir, const char *path, const uint8_t *p, size_t n)
{
    if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST) {
        BPT_LOG(BPT_LOG_WARN, "kds", "cache dir unusable dir=%s", cache_dir);
    } else if (bpt_file_write(path, p, n, false) != 0) {
        BPT_LOG(BPT_LOG_WARN, "kds", "cache write failed path=%s", path);
    }
}

/* GET @p url into @p out, at most @p max more bytes, KDS's refusals named (a 404 with
 * @p not_found). */
static int kds_get(bpt_buf *out, const char *url, size_t max, const char *what,
                   const char *not_found)
{
    size_t start = out->len, saved_max = out->max;
    long status = 0;
    int rc;

    if (out->max - out->len > max) {
        out->max = out->len + max;
    }
    rc = bpt_http_get(out, &status, url, BPT_KDS_TIMEOUT_MS);
    out->max = saved_max;
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ELIMIT ? BPT_EFETCH : rc, "kds: %s", what);
    }
    if (status != 200) {
        out->len = start;
        return bpt_err(BPT_EFETCH, "kds: %s request answered HTTP %ld%s", what, status,
                       status == 429   ? " (rate limited; retry later)"
                       : status == 404 ? not_found
                                       : "");
    }
    if (out->len == start) {
        return bpt_err(BPT_EFETCH, "kds: empty %s response", what);
    }
    return 0;
}

int bpt_kds_vcek(bpt_buf *der_out, const char *base_url, const char *cache_dir, bool offline,
                 const char *product, const uint8_t chip_id[64], struct bpt_kds_tcb tcb)
{
    char url[BPT_KDS_URL_MAX], path[BPT_KDS_PATH_MAX];
    size_t start = der_out->len;
    int rc;

    BPT_CHECK(bpt_kds_vcek_url(url, sizeof(url), base_url, product, chip_id, tcb));
    if (cache_dir) {
        bpt_buf cached = BPT_BUF_INIT(BPT_KDS_MAX_CERT_BYTES);
        BPT_CHECK(vcek_cache_path(path, sizeof(path), cache_dir, product, chip_id, tcb));
        if (bpt_file_read(&cached, path) == 0 && cached.len > 0) {
            rc = bpt_buf_append(der_out, cached.data, cached.len);
            bpt_buf_dispose(&cached);
            BPT_LOG(BPT_LOG_DEBUG, "kds", "vcek from cache product=%s", product);
            return rc;
        }
        bpt_buf_dispose(&cached);
    }
    if (offline) {
        return bpt_err(BPT_EKEYS, "kds: the VCEK is not %s and fetching is off (offline)",
                       cache_dir ? "in the cache directory" : "cached (no cache directory)");
    }
    BPT_CHECK(kds_get(der_out, url, BPT_KDS_MAX_CERT_BYTES, "VCEK", " (unknown chip id or TCB)"));
    BPT_LOG(BPT_LOG_INFO, "kds", "vcek fetched product=%s bytes=%zu", product,
            der_out->len - start);
    if (cache_dir) {
        bpt_kds_cache_store(cache_dir, path, der_out->data + start, der_out->len - start);
    }
    rc = 0;
out:
    return rc;
}

int bpt_kds_crl_fetch(bpt_buf *der_out, const char *base_url, bool vlek, const char *product)
{
    char url[BPT_KDS_URL_MAX];
    size_t start = der_out->len;
    int rc;

    BPT_CHECK(bpt_kds_crl_url(url, sizeof(url), base_url, vlek, product));
    BPT_CHECK(kds_get(der_out, url, BPT_KDS_MAX_CRL_BYTES, "CRL", " (unknown product)"));
    BPT_LOG(BPT_LOG_INFO, "kds", "crl fetched product=%s kind=%s bytes=%zu", product,
            vlek ? "vlek" : "vcek", der_out->len - start);
out:
    return rc;
}
