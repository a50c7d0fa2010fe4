/* Evidence recognition and decoding, and the dispatcher from evidence to a provider verifier. */
#include "attestation/model_internal.h"
#include "attestation/policy_internal.h"
#include "attestation/providers/builtin.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNP_REPORT_SIZE 1184

static const char *const kind_names[] = {
    "unknown", "sev_snp_report", "tdx_quote", "sgx_quote", "nitro_cose", "jwt", "report_json",
};

const char *bpt_evidence_kind_name(bpt_evidence_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "unknown";
}

static bool is_b64url_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Three non-empty base64url segments (the last may be empty only for alg none) whose first
 * decodes to a JSON object. */
static bool looks_jwt(const uint8_t *p, size_t len)
{
    size_t dots[2], nd = 0;
    bpt_buf hdr = BPT_BUF_INIT(4096);
    bool ok;

    if (len < 5 || len > BPT_LIMIT_EVIDENCE_BYTES) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '.') {
            if (nd == 2) {
                return false;
            }
            dots[nd++] = i;
        } else if (!is_b64url_char(p[i])) {
            return false;
        }
    }
    if (nd != 2 || dots[0] == 0 || dots[1] == dots[0] + 1) {
        return false;
    }
    ok = bpt_base64url_decode(&hdr, (const char *)p, dots[0], "jwt header") == 0 && hdr.len > 1 &&
         hdr.data[0] == '{';
    bpt_buf_dispose(&hdr);
    bpt_error_clear();
    return ok;
}

static bool looks_report_json(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) {
        i++;
    }
    return i < len && p[i] == '{' && memmem(p, len, "\"evidence\"", 10) != NULL &&
           memmem(p, len, "\"provider\"", 10) != NULL;
}

static bpt_evidence_kind recognise(const uint8_t *ev, size_t len);

/* Recognition probes with the reader, which records messages; keep the caller's message. */
bpt_evidence_kind bpt_evidence_recognise(const uint8_t *ev, size_t len)
{
    char saved[BPT_ERROR_MSG_MAX];
    bpt_evidence_kind k;
    snprintf(saved, sizeof(saved), "%s", bpt_error_last());
    k = recognise(ev, len);
    bpt_err(0, "%s", saved);
    return k;
}

static bpt_evidence_kind recognise(const uint8_t *ev, size_t len)
{
    struct bpt_reader r;
    uint32_t u32 = 0;
    uint16_t ver = 0, key_type = 0;

    if (!ev || len == 0) {
        return BPT_EVIDENCE_UNKNOWN;
    }
    /* SNP report: fixed size, version 2.., signature algorithm 1 (ECDSA P-384 SHA-384). */
    if (len == SNP_REPORT_SIZE) {
        uint32_t algo = 0;
        bpt_reader_init(&r, ev, len, NULL);
        if (bpt_reader_u32le(&r, &u32, "version") == 0 && u32 >= 2 && u32 <= 5 &&
            bpt_reader_skip(&r, 0x34 - 4, "to sig algo") == 0 &&
            bpt_reader_u32le(&r, &algo, "sig algo") == 0 && algo == 1) {
            return BPT_EVIDENCE_SEV_SNP_REPORT;
        }
    }
    /* DCAP quote header: version 3..5, attestation key type 2 (ECDSA P-256), TEE type. */
    if (len >= 48) {
        bpt_reader_init(&r, ev, len, NULL);
        if (bpt_reader_u16le(&r, &ver, "version") == 0 &&
            bpt_reader_u16le(&r, &key_type, "key type") == 0 &&
            bpt_reader_u32le(&r, &u32, "tee type") == 0 && ver >= 3 && ver <= 5 && key_type == 2) {
            if (u32 == 0x81 && ver >= 4) {
                bpt_error_clear();
                return BPT_EVIDENCE_TDX_QUOTE;
            }
            if (u32 == 0x00) {
                bpt_error_clear();
                return BPT_EVIDENCE_SGX_QUOTE;
            }
        }
    }
    bpt_error_clear();
    /* COSE_Sign1: CBOR tag 18 (0xd2) then a 4-element array (0x84), or the bare array. */
    if (len >= 2 && ((ev[0] == 0xd2 && ev[1] == 0x84) || ev[0] == 0x84)) {
        return BPT_EVIDENCE_NITRO_COSE;
    }
    if (looks_jwt(ev, len)) {
        return BPT_EVIDENCE_JWT;
    }
    if (looks_report_json(ev, len)) {
        return BPT_EVIDENCE_REPORT_JSON;
    }
    return BPT_EVIDENCE_UNKNOWN;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int bpt_evidence_decode(uint8_t **out, size_t *out_len, const uint8_t *in, size_t len)
{
    size_t a = 0, b = len, n = 0;
    bool text = true, hex = true;
    char *compact = NULL;
    bpt_buf buf = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES);
    int rc;

    *out = NULL;
    *out_len = 0;
    if (len > BPT_LIMIT_FILE_BYTES) {
        return bpt_err(BPT_ELIMIT, "evidence: %zu bytes exceed the limit of %u", len,
                       BPT_LIMIT_FILE_BYTES);
    }
    while (a < b && is_space(in[a])) {
        a++;
    }
    while (b > a && is_space(in[b - 1])) {
        b--;
    }
    for (size_t i = a; i < b; i++) {
        if (in[i] < 0x20 && !is_space(in[i])) {
            text = false;
            break;
        }
        if (in[i] >= 0x7f) {
            text = false;
            break;
        }
    }
    if (!text || bpt_evidence_recognise(in + a, b - a) != BPT_EVIDENCE_UNKNOWN || a == b) {
        /* Binary (or recognisable as it is): keep untouched. */
        if (!text) {
            a = 0;
            b = len;
        }
        rc = bpt_buf_append(&buf, in + a, b - a);
        goto done;
    }
    /* Text: drop inner whitespace (wrapped base64/hex), then hex or base64. */
    compact = malloc(b - a + 1);
    if (!compact) {
        return bpt_err_nomem("evidence");
    }
    for (size_t i = a; i < b; i++) {
        if (!is_space(in[i])) {
            compact[n++] = (char)in[i];
            if (!((in[i] >= '0' && in[i] <= '9') || (in[i] >= 'a' && in[i] <= 'f') ||
                  (in[i] >= 'A' && in[i] <= 'F'))) {
                hex = false;
            }
        }
    }
    compact[n] = '\0';
    if (hex && n % 2 == 0) {
        rc = bpt_hex_decode(&buf, compact, n, "evidence (hex)");
    } else if (memchr(compact, '-', n) || memchr(compact, '_', n)) {
        rc = bpt_base64url_decode(&buf, compact, n, "evidence (base64url)");
    } else {
        rc = bpt_base64_decode(&buf, compact, n, "evidence (base64)");
    }
    if (rc < 0) {
        /* Not an encoding we know: hand the text over as it is; the verifier will say. */
        bpt_buf_reset(&buf);
        rc = bpt_buf_append(&buf, in + a, b - a);
    }
done:
    free(compact);
    if (rc == 0) {
        rc = bpt_buf_detach(out, out_len, &buf);
    }
    bpt_buf_dispose(&buf);
    return rc;
}

/* For a JWT: the provider its issuer names (GCP's fixed issuer, else Azure MAA). */
static bpt_provider jwt_provider(const uint8_t *ev, size_t len)
{
    const uint8_t *d1 = memchr(ev, '.', len), *d2;
    bpt_buf payload = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES);
    json_t *o = NULL;
    const char *iss = NULL;
    bpt_provider p = BPT_PROVIDER_AZURE_SNP;

    if (!d1 || !(d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - ev)))) {
        return p;
    }
    if (bpt_base64url_decode(&payload, (const char *)d1 + 1, (size_t)(d2 - d1 - 1), "jwt") == 0 &&
        bpt_json_parse(&o, (const char *)payload.data, payload.len, "jwt") == 0 &&
        bpt_json_get_str(o, "iss", &iss, false, "jwt") == 1 &&
        strcmp(iss, "https://confidentialcomputing.googleapis.com") == 0) {
        p = BPT_PROVIDER_GCP_CONFIDENTIAL;
    }
    json_decref(o);
    bpt_buf_dispose(&payload);
    bpt_error_clear();
    return p;
}

static bpt_provider provider_for_kind(bpt_evidence_kind k, const uint8_t *ev, size_t len)
{
    switch (k) {
    case BPT_EVIDENCE_SEV_SNP_REPORT:
        return BPT_PROVIDER_AMD_SEV_SNP;
    case BPT_EVIDENCE_TDX_QUOTE:
        return BPT_PROVIDER_INTEL_TDX;
    case BPT_EVIDENCE_NITRO_COSE:
        return BPT_PROVIDER_AWS_NITRO;
    case BPT_EVIDENCE_JWT:
        return jwt_provider(ev, len);
    default:
        return BPT_PROVIDER_UNKNOWN;
    }
}

bpt_provider bpt_evidence_provider(const uint8_t *ev, size_t len)
{
    char saved[BPT_ERROR_MSG_MAX];
    bpt_evidence_kind k = bpt_evidence_recognise(ev, len);
    bpt_provider p = BPT_PROVIDER_UNKNOWN;
    bpt_report *r = NULL;

    snprintf(saved, sizeof(saved), "%s", bpt_error_last());
    if (k == BPT_EVIDENCE_REPORT_JSON) {
        if (bpt_report_from_json(&r, (const char *)ev, len) == 0) {
            p = bpt_report_provider(r);
        }
        bpt_report_free(r);
    } else {
        p = provider_for_kind(k, ev, len);
    }
    bpt_err(0, "%s", saved);
    return p;
}

static int dispatch(bpt_verified **out, const uint8_t *ev, size_t ev_len, bpt_provider provider,
                    const bpt_policy *policy)
{
    const struct bpt_builtin_verifier *row;
    bpt_evidence_kind kind = bpt_evidence_recognise(ev, ev_len);
    bpt_provider seen = provider_for_kind(kind, ev, ev_len);
    bpt_policy *owned = NULL;
    int rc;

    if (provider == BPT_PROVIDER_UNKNOWN) {
        if (kind == BPT_EVIDENCE_SGX_QUOTE) {
            return bpt_err(BPT_EUNSATISFIABLE,
                           "verify: SGX DCAP quotes are recognised but not verified (no SGX "
                           "provider)");
        }
        if (seen == BPT_PROVIDER_UNKNOWN) {
            return bpt_err(BPT_EMALFORMED,
                           "verify: %zu bytes are not a recognised evidence format (expected an "
                           "SEV-SNP report, a TDX quote, a Nitro COSE document, a JWT or report "
                           "JSON)",
                           ev_len);
        }
        provider = seen;
    } else {
        row = bpt_builtin_verifier(provider);
        bool jwt_ok = kind == BPT_EVIDENCE_JWT && row && row->kind == BPT_EVIDENCE_JWT;
        if (kind == BPT_EVIDENCE_UNKNOWN) {
            return bpt_err(BPT_EMALFORMED, "verify: %zu bytes are not %s evidence", ev_len,
                           bpt_provider_name(provider));
        }
        if (seen != provider && !jwt_ok) {
            return bpt_err(BPT_EMALFORMED, "verify: provider %s was named but the evidence is %s",
                           bpt_provider_name(provider), bpt_evidence_kind_name(kind));
        }
    }
    row = bpt_builtin_verifier(provider);
    if (!row) {
        return bpt_err(BPT_EUNSATISFIABLE, "verify: no verifier for provider %s",
                       bpt_provider_name(provider));
    }
    if (!row->built) {
        return bpt_err(BPT_ENOTSUP, "%s: verifier not built (configure with -D%s=ON)",
                       bpt_provider_name(provider), row->option);
    }
    if (!policy) {
        BPT_CHECK(bpt_policy_new(&owned));
        policy = owned;
    }
    rc = row->verify(out, ev, ev_len, policy);
    if (rc == 0 && bpt_verified_provider(*out) != provider) {
        bpt_verified_free(*out);
        *out = NULL;
        rc = bpt_err(BPT_ERROR, "verify: %s verifier returned another provider",
                     bpt_provider_name(provider));
    }
out:
    bpt_policy_free(owned);
    return rc;
}

int bpt_verify(bpt_verified **out, const uint8_t *ev, size_t ev_len, bpt_provider provider,
               const bpt_policy *policy)
{
    *out = NULL;
    if (!ev || ev_len == 0) {
        return bpt_err(BPT_EMALFORMED, "verify: no evidence");
    }
    if (ev_len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_EMALFORMED, "verify: evidence of %zu bytes exceeds the limit of %u",
                       ev_len, BPT_LIMIT_EVIDENCE_BYTES);
    }
    if (bpt_evidence_recognise(ev, ev_len) == BPT_EVIDENCE_REPORT_JSON) {
        bpt_report *r = NULL;
        int rc = bpt_report_from_json(&r, (const char *)ev, ev_len);
        if (rc < 0) {
            return bpt_err_prefix(rc == BPT_EINVAL ? BPT_EMALFORMED : rc, "verify: report JSON");
        }
        if (provider != BPT_PROVIDER_UNKNOWN && provider != bpt_report_provider(r)) {
            rc = bpt_err(BPT_EMALFORMED, "verify: provider %s was named but the report is %s",
                         bpt_provider_name(provider), bpt_provider_name(bpt_report_provider(r)));
        } else {
            rc = bpt_verify_report(out, r, policy);
        }
        bpt_report_free(r);
        return rc;
    }
    return dispatch(out, ev, ev_len, provider, policy);
}

int bpt_verify_report(bpt_verified **out, const bpt_report *report, const bpt_policy *policy)
{
    struct bpt_policy tmp;
    bpt_policy *owned = NULL;
    const json_t *coll = bpt_report_collateralv(report);
    char *coll_text = NULL;
    bpt_buf certs = BPT_BUF_INIT(BPT_LIMIT_CERT_CHAIN_BYTES);
    int rc;

    *out = NULL;
    if (!policy) {
        BPT_CHECK(bpt_policy_new(&owned));
        policy = owned;
    }
    tmp = *policy; /* shallow: fields are only read; the copy is never freed */
    if (coll) {
        json_t *list = json_object_get(coll, "certificates");
        if (!tmp.collateral_json) {
            BPT_CHECK(bpt_json_dump(&coll_text, coll));
            tmp.collateral_json = coll_text;
        }
        if (json_is_array(list) && json_array_size(list) > 0) {
            size_t i;
            json_t *e;
            BPT_CHECK(bpt_buf_append(&certs, policy->certs.data, policy->certs.len));
            json_array_foreach(list, i, e)
            {
                size_t n = json_string_length(e);
                uint8_t hdr[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16),
                                  (uint8_t)(n >> 24)};
                if (!json_is_string(e) || n == 0) {
                    rc = bpt_err(BPT_EMALFORMED,
                                 "verify: report collateral certificates[%zu] must be PEM text", i);
                    goto out;
                }
                BPT_CHECK(bpt_buf_append(&certs, hdr, 4));
                BPT_CHECK(bpt_buf_append(&certs, json_string_value(e), n));
            }
            tmp.certs = certs;
        }
    }
    rc = dispatch(out, report->evidence, report->evidence_len, report->provider, &tmp);
out:
    bpt_buf_dispose(&certs);
    free(coll_text);
    bpt_policy_free(owned);
    return rc;
}
