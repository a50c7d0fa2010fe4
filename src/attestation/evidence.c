/* The evidence view verifiers are handed (evidence.h, evidence_internal.h). */
#include "attestation/evidence_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"

#include <string.h>

static const char *const kind_names[] = {
    "unknown", "sev_snp_report", "tdx_quote", "sgx_quote", "nitro_cose", "jwt", "report_json",
};

const char *bpt_evidence_kind_name(bpt_evidence_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "unknown";
}

void bpt_evidence_init(struct bpt_evidence *ev, const uint8_t *bytes, size_t len,
                       bpt_evidence_kind kind, int64_t at)
{
    memset(ev, 0, sizeof(*ev));
    ev->bytes = bytes;
    ev->len = len;
    ev->kind = kind;
    ev->at = at;
    bpt_buf_init(&ev->certs, BPT_LIMIT_CERT_CHAIN_BYTES);
}

int bpt_evidence_set_collateral(struct bpt_evidence *ev, const json_t *collateral)
{
    const json_t *list, *e;
    bpt_buf der = BPT_BUF_INIT(BPT_LIMIT_CERT_CHAIN_BYTES);
    size_t i;
    int rc;

    ev->collateral = collateral;
    if (!collateral) {
        return 0;
    }
    BPT_CHECK(bpt_json_dump(&ev->collateral_text, collateral));
    list = json_object_get(collateral, "certificates");
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        size_t n = json_string_length(e);
        if (!s || n == 0) {
            rc = bpt_err(BPT_EMALFORMED,
                         "verify: report collateral certificates[%zu] must be PEM text or "
                         "base64 of DER",
                         i);
            goto out;
        }
        if (memmem(s, n, "-----BEGIN", 10)) {
            BPT_CHECK(bpt_cert_blobs_append(&ev->certs, (const uint8_t *)s, n));
            continue;
        }
        /* A certificate in JSON is PEM text, or its DER as base64 (a JSON string holds no
         * binary). */
        bpt_buf_reset(&der);
        if (bpt_base64_decode(&der, s, n, "certificate") < 0) {
            rc = bpt_err(BPT_EMALFORMED,
                         "verify: report collateral certificates[%zu] must be PEM text or "
                         "base64 of DER",
                         i);
            goto out;
        }
        BPT_CHECK(bpt_cert_blobs_append(&ev->certs, der.data, der.len));
    }
    rc = 0;
out:
    bpt_buf_dispose(&der);
    return rc;
}

int bpt_cert_blobs_append(bpt_buf *blobs, const uint8_t *p, size_t len)
{
    uint8_t hdr[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                      (uint8_t)(len >> 24)};
    size_t before = blobs->len;
    int rc;
    if (!p || len == 0 || len > BPT_LIMIT_CERT_CHAIN_BYTES) {
        return bpt_err(BPT_EINVAL, "certificates of %zu bytes (expected 1..%u)", len,
                       BPT_LIMIT_CERT_CHAIN_BYTES);
    }
    rc = bpt_buf_append(blobs, hdr, sizeof(hdr));
    if (rc == 0) {
        rc = bpt_buf_append(blobs, p, len);
    }
    if (rc < 0) {
        blobs->len = before;
    }
    return rc;
}

void bpt_evidence_dispose(struct bpt_evidence *ev)
{
    bpt_free(ev->collateral_text);
    ev->collateral_text = NULL;
    bpt_buf_dispose(&ev->certs);
}

const uint8_t *bpt_evidence_bytes(const bpt_evidence *ev, size_t *len_out)
{
    if (len_out) {
        *len_out = ev ? ev->len : 0;
    }
    return ev ? ev->bytes : NULL;
}

bpt_evidence_kind bpt_evidence_get_kind(const bpt_evidence *ev)
{
    return ev ? ev->kind : BPT_EVIDENCE_UNKNOWN;
}

int bpt_evidence_collateral_json(char **out, const bpt_evidence *ev)
{
    if (!out || !ev) {
        return bpt_err(BPT_EINVAL, "evidence: NULL argument");
    }
    *out = NULL;
    if (!ev->collateral) {
        return bpt_err(BPT_ENOTFOUND, "evidence: no collateral carried with it");
    }
    return bpt_json_dump(out, ev->collateral);
}
