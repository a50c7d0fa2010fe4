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

static int cache_path(char *buf, size_t len, const char *dir, const char *product, const char *hwid,
                      struct bpt_kds_tcb t)
{
    int n = snprintf(buf, len, "%s/vcek-%s-%s-%02x%02x%02x%02x%02x.der", dir, product, hwid, t.fmc,
                     t.bootloader, t.tee, t.snp, t.microcode);
    if (n < 0 || (size_t)n >= len) {
        return bpt_err(BPT_EINVAL, "kds: cache path too long");
    }
    return 0;
}

int bpt_kds_vcek(bpt_buf *der_out, const char *base_url, const char *cache_dir, bool offline,
                 const char *product, const uint8_t chip_id[64], struct bpt_kds_tcb tcb)
{
    char hwid[129], url[1024], path[4096];
    const char *name = product;
    bool turin = product && strcmp(product, "Turin") == 0;
    long status = 0;
    size_t start = der_out->len;
    int rc, n;

    if (!product || (!turin && strcmp(product, "Milan") != 0 && strcmp(product, "Genoa") != 0)) {
        return bpt_err(BPT_EKEYS, "kds: the product (Milan, Genoa or Turin) is needed to fetch a "
                                  "VCEK");
    }
    /* Turin's KDS takes the first 8 bytes of the chip id. */
    bpt_hex_encode_to(hwid, chip_id, turin ? 8 : 64);
    if (cache_dir) {
        bpt_buf cached = BPT_BUF_INIT(BPT_KDS_MAX_CERT_BYTES);
        BPT_CHECK(cache_path(path, sizeof(path), cache_dir, name, hwid, tcb));
        if (bpt_file_read(&cached, path) == 0 && cached.len > 0) {
            rc = bpt_buf_append(der_out, cached.data, cached.len);
            bpt_buf_dispose(&cached);
            BPT_LOG(BPT_LOG_DEBUG, "kds", "vcek from cache product=%s", name);
            return rc;
        }
        bpt_buf_dispose(&cached);
    }
    if (offline) {
        return bpt_err(BPT_EKEYS, "kds: VCEK for this chip and TCB is not cached and fetching "
                                  "is off (--offline); pass it with --certs");
    }
    if (turin) {
        n = snprintf(url, sizeof(url),
                     "%s/vcek/v1/%s/%s?fmcSPL=%u&blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
                     base_url ? base_url : BPT_KDS_DEFAULT_URL, name, hwid, tcb.fmc, tcb.bootloader,
                     tcb.tee, tcb.snp, tcb.microcode);
    } else {
        n = snprintf(url, sizeof(url), "%s/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
                     base_url ? base_url : BPT_KDS_DEFAULT_URL, name, hwid, tcb.bootloader, tcb.tee,
                     tcb.snp, tcb.microcode);
    }
    if (n < 0 || (size_t)n >= sizeof(url)) {
        return bpt_err(BPT_EINVAL, "kds: URL too long");
    }
    {
        size_t saved_max = der_out->max;
        if (der_out->max - der_out->len > BPT_KDS_MAX_CERT_BYTES) {
            der_out->max = der_out->len + BPT_KDS_MAX_CERT_BYTES;
        }
        rc = bpt_http_get(der_out, &status, url, BPT_KDS_TIMEOUT_MS);
        der_out->max = saved_max;
    }
    if (rc < 0) {
        return bpt_err_prefix(rc == BPT_ELIMIT ? BPT_EFETCH : rc, "kds: VCEK");
    }
    if (status != 200) {
        der_out->len = start;
        return bpt_err(BPT_EFETCH, "kds: VCEK request answered HTTP %ld%s", status,
                       status == 429   ? " (rate limited; retry later)"
                       : status == 404 ? " (unknown chip id or TCB)"
                                       : "");
    }
    if (der_out->len == start) {
        return bpt_err(BPT_EFETCH, "kds: empty VCEK response");
    }
    BPT_LOG(BPT_LOG_INFO, "kds", "vcek fetched product=%s bytes=%zu", name, der_out->len - start);
    if (cache_dir) {
        if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST) {
            BPT_LOG(BPT_LOG_WARN, "kds", "cache dir unusable dir=%s", cache_dir);
        } else if (bpt_file_write(path, der_out->data + start, der_out->len - start, false) != 0) {
            BPT_LOG(BPT_LOG_WARN, "kds", "cache write failed path=%s", path);
        }
    }
    rc = 0;
out:
    return rc;
}
