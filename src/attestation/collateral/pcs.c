/*
 * TDX collateral from Intel PCS (API v4) or a PCCS speaking the same API, assembled into the
 * collateral JSON of docs/tdx.md and kept in an on-disk cache while it is current.
 *
 *   {base}/tdx/certification/v4/tcb?fmspc=F        {"tcbInfo":..,"signature":..}
 * TCB-Info-Issuer-Chain {base}/tdx/certification/v4/qe/identity
 * {"enclaveIdentity":..,"signature":..} SGX-Enclave-Identity-Issuer-Chain
 *   {base}/sgx/certification/v4/pckcrl?ca=C&encoding=der   DER  SGX-PCK-CRL-Issuer-Chain
 *   root CA CRL: Intel's certificates site for PCS, {base}/sgx/certification/v4/rootcacrl else
 *
 * Issuer chains arrive URL-encoded in headers. Nothing here is trusted: the verifier checks it.
 */
#include "attestation/pki/pki.h"
#include "attestation/collateral/pcs.h"
#include "attestation/collateral/tdx_collateral.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER_MAX (32u * 1024u)

/* Percent-decoding of an issuer-chain header into a NUL-terminated string. */
static int url_decode(char **out, const bpt_buf *in, const char *what)
{
    char *s = malloc(in->len + 1);
    size_t j = 0;
    if (!s) {
        return bpt_err_nomem(what);
    }
    for (size_t i = 0; i < in->len; i++) {
        char c = (char)in->data[i];
        if (c == '%' && i + 2 < in->len && isxdigit(in->data[i + 1]) && isxdigit(in->data[i + 2])) {
            char hex[3] = {(char)in->data[i + 1], (char)in->data[i + 2], 0};
            c = (char)strtol(hex, NULL, 16);
            i += 2;
        } else if (c == '%') {
            free(s);
            return bpt_err(BPT_EFETCH, "pcs: %s header is not URL-encoded", what);
        }
        if (c == '\0') {
            free(s);
            return bpt_err(BPT_EFETCH, "pcs: %s header holds a NUL byte", what);
        }
        s[j++] = c;
    }
    s[j] = '\0';
    *out = s;
    return 0;
}

/* A printable, bounded copy of a PCS Error-Code header for messages. */
static const char *error_code(char *buf, size_t len, const bpt_buf *v)
{
    size_t j = 0;
    for (size_t i = 0; i < v->len && j + 1 < len; i++) {
        buf[j++] = isalnum(v->data[i]) || v->data[i] == '_' ? (char)v->data[i] : '?';
    }
    buf[j] = '\0';
    return buf;
}

/* GET @p url; a 200 with a body is required. Captures the @p header (may be NULL). */
static int get(bpt_buf *body, char **header_value, const char *url, const char *header,
               const char *what)
{
    const char *names[2] = {"Error-Code", header};
    bpt_buf values[2] = {BPT_BUF_INIT(64), BPT_BUF_INIT(HEADER_MAX)};
    long status = 0;
    char code[48];
    int rc;

    rc =
        bpt_http_get_headers(body, &status, url, BPT_PCS_TIMEOUT_MS, names, values, header ? 2 : 1);
    if (rc < 0) {
        rc = bpt_err_prefix(rc == BPT_ELIMIT ? BPT_EFETCH : rc, "pcs: %s", what);
        goto out;
    }
    if (status != 200) {
        rc = bpt_err(BPT_EFETCH, "pcs: %s: HTTP %ld%s%s%s", what, status,
                     status == 404 ? " (not found: unknown FMSPC or CA?)" : "",
                     values[0].len ? ", Error-Code " : "",
                     error_code(code, sizeof(code), &values[0]));
        goto out;
    }
    if (body->len == 0) {
        rc = bpt_err(BPT_EFETCH, "pcs: %s: empty response", what);
        goto out;
    }
    if (header) {
        if (values[1].len == 0) {
            rc = bpt_err(BPT_EFETCH, "pcs: %s: no %s header", what, header);
            goto out;
        }
        BPT_CHECK(url_decode(header_value, &values[1], header));
    }
    rc = 0;
out:
    bpt_buf_dispose(&values[0]);
    bpt_buf_dispose(&values[1]);
    return rc;
}

/*
 * {"<key>":<object>,"signature":"<hex>"}: the object's exact text (what Intel signed) and the
 * signature, without re-serialising anything.
 */
static int split_signed(json_t *coll, const bpt_buf *body, const char *key, const char *out_key,
                        const char *sig_key, const char *what)
{
    json_t *o = NULL;
    const char *sig = NULL;
    char prefix[64];
    const char *text = (const char *)body->data, *tail;
    static const char sig_marker[] = ",\"signature\":\"";
    size_t plen;
    int rc;

    BPT_CHECK(bpt_json_parse(&o, text, body->len, what));
    BPT_CHECK(bpt_json_get_str(o, "signature", &sig, true, what));
    plen = (size_t)snprintf(prefix, sizeof(prefix), "{\"%s\":", key);
    tail = NULL;
    for (const char *p = text;
         body->len >= sizeof(sig_marker) && p + sizeof(sig_marker) - 1 <= text + body->len; p++) {
        if (memcmp(p, sig_marker, sizeof(sig_marker) - 1) == 0) {
            tail = p; /* the last one: the body's own field, after the object */
        }
    }
    if (body->len <= plen || memcmp(text, prefix, plen) != 0 || !tail || tail < text + plen) {
        rc = bpt_err(BPT_EFETCH, "pcs: %s: expected {\"%s\":{..},\"signature\":\"..\"}", what, key);
        goto out;
    }
    if (json_object_set_new(coll, out_key,
                            json_stringn(text + plen, (size_t)(tail - text) - plen)) < 0 ||
        json_object_set_new(coll, sig_key, json_string(sig)) < 0) {
        rc = bpt_err_nomem(what);
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* A CRL body (DER, or the hex some PCCS answer with) as hex text. */
static int crl_hex(json_t *coll, const char *key, const bpt_buf *body, const char *what)
{
    X509_CRL *crl = NULL;
    unsigned char *der = NULL;
    char *hex = NULL;
    int n, rc;

    BPT_CHECK(bpt_pki_parse_crl(&crl, body->data, body->len, what));
    n = i2d_X509_CRL(crl, &der);
    if (n <= 0) {
        rc = bpt_err_ossl(BPT_ERROR, "%s", what);
        goto out;
    }
    BPT_CHECK(bpt_hex_encode(&hex, der, (size_t)n));
    if (json_object_set_new(coll, key, json_string(hex)) < 0) {
        rc = bpt_err_nomem(what);
        goto out;
    }
    rc = 0;
out:
    bpt_free(hex);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    return rc;
}

static int fetch(char **out_json, const char *base_url, const uint8_t pck_fmspc[6],
                 bool platform_ca)
{
    const char *base = base_url ? base_url : BPT_PCS_DEFAULT_URL;
    bpt_buf body = BPT_BUF_INIT(BPT_LIMIT_COLLATERAL_BYTES);
    char url[1024], fmspc[13], *chain = NULL;
    json_t *coll = json_object();
    int rc;

    if (!coll) {
        return bpt_err_nomem("collateral");
    }
    bpt_hex_encode_to(fmspc, pck_fmspc, 6);
    for (char *p = fmspc; *p; p++) {
        *p = (char)toupper((unsigned char)*p);
    }
#define URL(...)                                                                                   \
    if ((size_t)snprintf(url, sizeof(url), __VA_ARGS__) >= sizeof(url)) {                          \
        rc = bpt_err(BPT_EINVAL, "pcs: URL too long");                                             \
        goto out;                                                                                  \
    }
    URL("%s/tdx/certification/v4/tcb?fmspc=%s", base, fmspc);
    BPT_CHECK(get(&body, &chain, url, "TCB-Info-Issuer-Chain", "TCB Info"));
    BPT_CHECK(
        split_signed(coll, &body, "tcbInfo", "tcb_info", "tcb_info_signature", "pcs: TCB Info"));
    json_object_set_new(coll, "tcb_info_issuer_chain", json_string(chain));
    free(chain);
    chain = NULL;
    bpt_buf_reset(&body);

    URL("%s/tdx/certification/v4/qe/identity", base);
    BPT_CHECK(get(&body, &chain, url, "SGX-Enclave-Identity-Issuer-Chain", "QE Identity"));
    BPT_CHECK(split_signed(coll, &body, "enclaveIdentity", "qe_identity", "qe_identity_signature",
                           "pcs: QE Identity"));
    json_object_set_new(coll, "qe_identity_issuer_chain", json_string(chain));
    free(chain);
    chain = NULL;
    bpt_buf_reset(&body);

    URL("%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base,
        platform_ca ? "platform" : "processor");
    BPT_CHECK(get(&body, &chain, url, "SGX-PCK-CRL-Issuer-Chain", "PCK CRL"));
    BPT_CHECK(crl_hex(coll, "pck_crl", &body, "pcs: PCK CRL"));
    json_object_set_new(coll, "pck_crl_issuer_chain", json_string(chain));
    free(chain);
    chain = NULL;
    bpt_buf_reset(&body);

    if (base_url) {
        URL("%s/sgx/certification/v4/rootcacrl", base);
    } else {
        URL("%s", BPT_PCS_ROOT_CRL_URL);
    }
#undef URL
    BPT_CHECK(get(&body, NULL, url, NULL, "root CA CRL"));
    BPT_CHECK(crl_hex(coll, "root_ca_crl", &body, "pcs: root CA CRL"));
    BPT_CHECK(bpt_json_dump(out_json, coll));
    BPT_LOG(BPT_LOG_INFO, "pcs", "tdx collateral fetched fmspc=%s", fmspc);
    rc = 0;
out:
    free(chain);
    json_decref(coll);
    bpt_buf_dispose(&body);
    return rc;
}

/* Cached collateral is used while TCB Info, QE Identity and both CRLs are current at @p at. */
static bool current_at(const char *json, size_t len, int64_t at)
{
    struct bpt_tdx_tcb_info *t = calloc(1, sizeof(*t));
    struct bpt_tdx_qe_identity *q = calloc(1, sizeof(*q));
    json_t *o = NULL;
    const char *s;
    bool ok = t && q && bpt_json_parse(&o, json, len, "pcs: cached collateral") == 0 &&
              json_is_object(o) && bpt_tdx_json_text(o, "tcb_info", &s, "cache") == 0 &&
              bpt_tdx_tcb_info_parse(t, s, strlen(s)) == 0 && t->issue_date <= at &&
              at <= t->next_update && bpt_tdx_json_text(o, "qe_identity", &s, "cache") == 0 &&
              bpt_tdx_qe_identity_parse(q, s, strlen(s)) == 0 && q->issue_date <= at &&
              at <= q->next_update;
    for (int i = 0; ok && i < 2; i++) {
        X509_CRL *crl = NULL;
        int64_t nb = 0, na = 0;
        ok = bpt_tdx_json_text(o, i ? "pck_crl" : "root_ca_crl", &s, "cache") == 0 &&
             bpt_pki_parse_crl(&crl, (const uint8_t *)s, strlen(s), "cache") == 0 &&
             bpt_pki_crl_window(crl, &nb, &na) && nb <= at && at <= na;
        X509_CRL_free(crl);
    }
    if (t) {
        bpt_tdx_tcb_info_dispose(t);
    }
    if (q) {
        bpt_tdx_qe_identity_dispose(q);
    }
    free(t);
    free(q);
    json_decref(o);
    return ok;
}

int bpt_tdx_pcs_collateral(char **out_json, const char *base_url, const char *cache_dir,
                           bool offline, const uint8_t pck_fmspc[6], bool platform_ca, int64_t at)
{
    char path[4096] = "", fmspc[13];
    int rc;

    *out_json = NULL;
    bpt_hex_encode_to(fmspc, pck_fmspc, 6);
    if (cache_dir) {
        bpt_buf cached = BPT_BUF_INIT(BPT_LIMIT_COLLATERAL_BYTES);
        int n = snprintf(path, sizeof(path), "%s/tdx-collateral-%s-%s.json", cache_dir, fmspc,
                         platform_ca ? "platform" : "processor");
        if (n < 0 || (size_t)n >= sizeof(path)) {
            return bpt_err(BPT_EINVAL, "pcs: cache path too long");
        }
        uint8_t *text = NULL;
        size_t text_len = 0;
        if (bpt_file_read(&cached, path) == 0 &&
            current_at((const char *)cached.data, cached.len, at) &&
            bpt_buf_append(&cached, "", 1) == 0 && bpt_buf_detach(&text, &text_len, &cached) == 0) {
            *out_json = (char *)text; /* NUL-terminated */
            BPT_LOG(BPT_LOG_DEBUG, "pcs", "tdx collateral from cache fmspc=%s", fmspc);
            return 0;
        }
        bpt_buf_dispose(&cached);
    }
    if (offline) {
        return bpt_err(BPT_EKEYS,
                       "tdx: no collateral given, none current in the cache for FMSPC %s, and "
                       "the context is offline (no fetching); give the context the collateral "
                       "JSON, or prefetch it into the cache directory",
                       fmspc);
    }
    BPT_CHECK(fetch(out_json, base_url, pck_fmspc, platform_ca));
    if (cache_dir) {
        if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST) {
            BPT_LOG(BPT_LOG_WARN, "pcs", "cache dir unusable dir=%s", cache_dir);
        } else if (bpt_file_write(path, *out_json, strlen(*out_json), false) != 0) {
            BPT_LOG(BPT_LOG_WARN, "pcs", "cache write failed path=%s", path);
        }
    }
    rc = 0;
out:
    return rc;
}
