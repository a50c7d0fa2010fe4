/*
 * AWS Nitro Enclaves: COSE_Sign1 (RFC 8152) with ES384 over the attestation document of the
 * AWS NSM API, chained to the pinned AWS Nitro Enclaves Root-G1.
 */
#include <blueprint-tee/aws_nitro.h>
#include <blueprint-tee/secret.h>

#include "attestation/context_internal.h"
#include "attestation/evidence_internal.h"
#include "attestation/model_internal.h"
#include "attestation/pki/cert_cache.h"
#include "attestation/pki/chain_cache.h"
#include "attestation/pki/pki.h"
#include "attestation/policy_internal.h"
#include "attestation/providers/providers.h"
#include "attestation/providers/aws_nitro_internal.h"
#include "attestation/verified_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/cbor_check.h"
#include "core/reader.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#define COSE_ALG_ES384 (-35)

static int bad(const char *what)
{
    return bpt_err(BPT_EMALFORMED, "aws_nitro: %s", what);
}

/* A definite byte string within [min, max] bytes. */
static int get_bstr(const cbor_item_t *v, const uint8_t **p, size_t *n, size_t min, size_t max,
                    const char *field)
{
    if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v)) {
        return bpt_err(BPT_EMALFORMED, "aws_nitro: %s must be a byte string", field);
    }
    *n = cbor_bytestring_length(v);
    if (*n < min || *n > max) {
        return bpt_err(BPT_EMALFORMED, "aws_nitro: %s is %zu bytes (expected %zu..%zu)", field, *n,
                       min, max);
    }
    *p = *n ? cbor_bytestring_handle(v) : (const uint8_t *)"";
    return 0;
}

/* An optional byte string: absent or CBOR null leaves *p NULL. */
static int get_opt_bstr(const cbor_item_t *v, const uint8_t **p, size_t *n, size_t max,
                        const char *field)
{
    if (cbor_is_null(v)) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    return get_bstr(v, p, n, 0, max, field);
}

static bool text_is(const cbor_item_t *k, const char *s)
{
    size_t n = strlen(s);
    return cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == n &&
           memcmp(cbor_string_handle(k), s, n) == 0;
}

/* Map keys must be unique (CBOR allows duplicates; a verifier must not). */
static int check_unique_keys(const cbor_item_t *map, const char *what)
{
    struct cbor_pair *kv = cbor_map_handle(map);
    size_t n = cbor_map_size(map);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            const cbor_item_t *a = kv[i].key, *b = kv[j].key;
            bool same = false;
            if (cbor_isa_string(a) && cbor_isa_string(b) && cbor_string_is_definite(a) &&
                cbor_string_is_definite(b)) {
                same = cbor_string_length(a) == cbor_string_length(b) &&
                       memcmp(cbor_string_handle(a), cbor_string_handle(b),
                              cbor_string_length(a)) == 0;
            } else if (cbor_isa_uint(a) && cbor_isa_uint(b)) {
                same = cbor_get_int(a) == cbor_get_int(b);
            } else if (cbor_isa_negint(a) && cbor_isa_negint(b)) {
                same = cbor_get_int(a) == cbor_get_int(b);
            }
            if (same) {
                return bpt_err(BPT_EMALFORMED, "aws_nitro: duplicate key in %s", what);
            }
        }
    }
    return 0;
}

static int parse_protected(const uint8_t *p, size_t n)
{
    struct cbor_load_result res;
    cbor_item_t *m = NULL;
    int rc = 0;
    bool alg_ok = false;

    BPT_CHECK(bpt_cbor_precheck(p, n, 4, "aws_nitro: protected header"));
    m = cbor_load(p, n, &res);

    if (!m || res.error.code != CBOR_ERR_NONE || res.read != n || !cbor_isa_map(m) ||
        !cbor_map_is_definite(m)) {
        rc = bad("protected header is not a CBOR map");
        goto out;
    }
    BPT_CHECK(check_unique_keys(m, "the protected header"));
    for (size_t i = 0; i < cbor_map_size(m); i++) {
        struct cbor_pair kv = cbor_map_handle(m)[i];
        if (cbor_isa_uint(kv.key) && cbor_get_int(kv.key) == 1) { /* alg */
            alg_ok =
                cbor_isa_negint(kv.value) && -1 - (int64_t)cbor_get_int(kv.value) == COSE_ALG_ES384;
            if (!alg_ok) {
                rc = bpt_err(BPT_EMALFORMED, "aws_nitro: protected header alg is not ES384 (-35)");
                goto out;
            }
        }
    }
    if (!alg_ok) {
        rc = bad("protected header has no alg (expected ES384)");
    }
out:
    if (m) {
        cbor_decref(&m);
    }
    return rc;
}

static int parse_doc(struct bpt_nitro_doc *d)
{
    struct cbor_load_result res;
    bool seen_module = false, seen_digest = false, seen_ts = false, seen_pcrs = false,
         seen_cert = false, seen_bundle = false;
    int rc = 0;

    BPT_CHECK(bpt_cbor_precheck(d->payload, d->payload_len, 8, "aws_nitro: payload"));
    d->doc = cbor_load(d->payload, d->payload_len, &res);
    if (!d->doc || res.error.code != CBOR_ERR_NONE || res.read != d->payload_len) {
        return bad("payload is not one CBOR item");
    }
    if (!cbor_isa_map(d->doc) || !cbor_map_is_definite(d->doc)) {
        return bad("attestation document is not a map");
    }
    BPT_CHECK(check_unique_keys(d->doc, "the attestation document"));
    for (size_t i = 0; i < cbor_map_size(d->doc); i++) {
        struct cbor_pair kv = cbor_map_handle(d->doc)[i];
        const cbor_item_t *v = kv.value;
        if (text_is(kv.key, "module_id")) {
            size_t n;
            if (!cbor_isa_string(v) || !cbor_string_is_definite(v) ||
                (n = cbor_string_length(v)) == 0 || n > BPT_NITRO_MAX_MODULE_ID) {
                return bad("module_id must be text of 1..256 bytes");
            }
            memcpy(d->module_id, cbor_string_handle(v), n);
            d->module_id[n] = '\0';
            if (strlen(d->module_id) != n) {
                return bad("module_id contains a NUL");
            }
            seen_module = true;
        } else if (text_is(kv.key, "digest")) {
            if (!text_is(v, "SHA384")) {
                return bad("digest must be \"SHA384\"");
            }
            seen_digest = true;
        } else if (text_is(kv.key, "timestamp")) {
            if (!cbor_isa_uint(v) || (d->timestamp_ms = cbor_get_int(v)) == 0) {
                return bad("timestamp must be a positive integer (ms)");
            }
            seen_ts = true;
        } else if (text_is(kv.key, "pcrs")) {
            if (!cbor_isa_map(v) || !cbor_map_is_definite(v) || cbor_map_size(v) == 0 ||
                cbor_map_size(v) > BPT_NITRO_MAX_PCRS) {
                return bad("pcrs must be a map of 1..32 entries");
            }
            BPT_CHECK(check_unique_keys(v, "pcrs"));
            for (size_t k = 0; k < cbor_map_size(v); k++) {
                struct cbor_pair pv = cbor_map_handle(v)[k];
                uint64_t idx;
                size_t n = 0;
                if (!cbor_isa_uint(pv.key) || (idx = cbor_get_int(pv.key)) >= BPT_NITRO_MAX_PCRS) {
                    return bad("a pcrs key is not an index 0..31");
                }
                BPT_CHECK(get_bstr(pv.value, &d->pcr[idx], &n, 32, 64, "a PCR value"));
                if (n != 32 && n != 48 && n != 64) {
                    return bad("a PCR value is not 32, 48 or 64 bytes");
                }
                d->pcr_len[idx] = n;
                d->has_pcr[idx] = true;
            }
            seen_pcrs = true;
        } else if (text_is(kv.key, "certificate")) {
            BPT_CHECK(get_bstr(v, &d->certificate, &d->certificate_len, 1, BPT_NITRO_MAX_CERT,
                               "certificate"));
            seen_cert = true;
        } else if (text_is(kv.key, "cabundle")) {
            if (!cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) == 0 ||
                cbor_array_size(v) > BPT_NITRO_MAX_CABUNDLE) {
                return bad("cabundle must be an array of 1..16 certificates");
            }
            d->n_cabundle = cbor_array_size(v);
            for (size_t k = 0; k < d->n_cabundle; k++) {
                BPT_CHECK(get_bstr(cbor_array_handle(v)[k], &d->cabundle[k], &d->cabundle_len[k], 1,
                                   BPT_NITRO_MAX_CERT, "a cabundle entry"));
            }
            seen_bundle = true;
        } else if (text_is(kv.key, "public_key")) {
            BPT_CHECK(get_opt_bstr(v, &d->public_key, &d->public_key_len, BPT_NITRO_MAX_PUBLIC_KEY,
                                   "public_key"));
        } else if (text_is(kv.key, "user_data")) {
            BPT_CHECK(get_opt_bstr(v, &d->user_data, &d->user_data_len, BPT_NITRO_MAX_USER_DATA,
                                   "user_data"));
        } else if (text_is(kv.key, "nonce")) {
            BPT_CHECK(get_opt_bstr(v, &d->nonce, &d->nonce_len, BPT_NITRO_MAX_NONCE, "nonce"));
        } else if (!cbor_isa_string(kv.key)) {
            return bad("attestation document keys must be text");
        }
        /* Unknown text keys are ignored (the NSM API may grow). */
    }
    if (!seen_module || !seen_digest || !seen_ts || !seen_pcrs || !seen_cert || !seen_bundle) {
        return bpt_err(BPT_EMALFORMED, "aws_nitro: attestation document lacks %s",
                       !seen_module   ? "module_id"
                       : !seen_digest ? "digest"
                       : !seen_ts     ? "timestamp"
                       : !seen_pcrs   ? "pcrs"
                       : !seen_cert   ? "certificate"
                                      : "cabundle");
    }
out:
    return rc;
}

static size_t cbor_head(uint8_t *h, uint8_t major, size_t n);

/*
 * The COSE_Sign1 envelope is not signed: the signature covers only the protected header and
 * the payload (RFC 9052 Sig_structure). So that no byte of the document can change without the
 * signed content changing (issue 13: the evidence hash must not be malleable), the unprotected
 * header must be the empty map AWS reserves it as, and the envelope must be in its one shortest
 * encoding: array(4) [bstr protected, {}, bstr payload, bstr signature].
 */
static int check_envelope(const struct bpt_nitro_doc *d, const uint8_t *body, size_t body_len)
{
    uint8_t h[5];
    size_t n, off = 0;
    const uint8_t *parts[3] = {d->protected_hdr, d->payload, d->signature};
    const size_t lens[3] = {d->protected_len, d->payload_len, d->signature_len};

    if (body_len < 1 || body[0] != 0x84) {
        return bad("COSE_Sign1 is not in its shortest encoding (array header)");
    }
    off = 1;
    for (int i = 0; i < 3; i++) {
        n = cbor_head(h, 2, lens[i]);
        if (body_len - off < n + lens[i] || memcmp(body + off, h, n) != 0) {
            return bad("COSE_Sign1 is not in its shortest encoding (a byte string length)");
        }
        off += n;
        if (memcmp(body + off, parts[i], lens[i]) != 0) {
            return bad("COSE_Sign1 is not in its shortest encoding");
        }
        off += lens[i];
        if (i == 0) {
            if (off >= body_len || body[off] != 0xa0) {
                return bad("COSE_Sign1 is not in its shortest encoding (unprotected header)");
            }
            off++;
        }
    }
    return off == body_len ? 0 : bad("COSE_Sign1 is not in its shortest encoding");
}

int bpt_nitro_parse(struct bpt_nitro_doc *d, const uint8_t *ev, size_t len)
{
    struct cbor_load_result res;
    cbor_item_t *arr;
    const uint8_t *body = NULL;
    size_t body_len;
    int rc;

    memset(d, 0, sizeof(*d));
    if (!ev || len == 0 || len > BPT_LIMIT_EVIDENCE_BYTES) {
        return bpt_err(BPT_EMALFORMED, "aws_nitro: document of %zu bytes", ev ? len : 0);
    }
    /* Tag 18 in its one-byte form (0xd2) is taken off here: Debian's libcbor 0.8 rejects the
     * tags 6..20 as unassigned. Longer tag encodings reach libcbor and are checked below. */
    {
        struct bpt_reader r;
        const uint8_t *first;
        bpt_reader_init(&r, ev, len, "aws_nitro");
        BPT_CHECK(bpt_reader_view(&r, &first, 1, "first byte"));
        if (first[0] != 0xd2) {
            bpt_reader_init(&r, ev, len, "aws_nitro");
        }
        BPT_CHECK(bpt_reader_view(&r, &body, bpt_reader_remaining(&r), "COSE_Sign1"));
        body_len = len - (first[0] == 0xd2);
    }
    BPT_CHECK(bpt_cbor_precheck(body, body_len, 8, "aws_nitro"));
    d->root = cbor_load(body, body_len, &res);
    if (!d->root || res.error.code != CBOR_ERR_NONE) {
        return bpt_err(BPT_EMALFORMED, "aws_nitro: not CBOR (error %d at offset %zu)",
                       (int)res.error.code, res.error.position);
    }
    if (res.read != body_len) {
        return bpt_err(BPT_EMALFORMED, "aws_nitro: %zu trailing bytes after the COSE_Sign1",
                       body_len - res.read);
    }
    arr = d->root;
    if (cbor_isa_tag(arr)) {
        if (cbor_tag_value(arr) != 18) {
            return bad("CBOR tag is not 18 (COSE_Sign1)");
        }
        /* tag 18 in a longer form than 0xd2: another encoding of the same document */
        return bad("COSE_Sign1 is not in its shortest encoding (tag 18 is one byte, 0xd2)");
    }
    if (!cbor_isa_array(arr) || !cbor_array_is_definite(arr) || cbor_array_size(arr) != 4) {
        return bad("COSE_Sign1 must be an array of 4 items");
    }
    BPT_CHECK(get_bstr(cbor_array_handle(arr)[0], &d->protected_hdr, &d->protected_len, 1, 64,
                       "protected header"));
    if (!cbor_isa_map(cbor_array_handle(arr)[1])) {
        return bad("unprotected header must be a map");
    }
    if (cbor_map_size(cbor_array_handle(arr)[1]) != 0) {
        return bad("unprotected header is not empty (AWS reserves it as {}; it is not signed)");
    }
    BPT_CHECK(get_bstr(cbor_array_handle(arr)[2], &d->payload, &d->payload_len, 1,
                       BPT_LIMIT_EVIDENCE_BYTES, "payload"));
    BPT_CHECK(get_bstr(cbor_array_handle(arr)[3], &d->signature, &d->signature_len, 96, 96,
                       "signature (ES384 r||s)"));
    BPT_CHECK(check_envelope(d, body, body_len));
    BPT_CHECK(parse_protected(d->protected_hdr, d->protected_len));
    BPT_CHECK(parse_doc(d));
out:
    return rc;
}

void bpt_nitro_doc_dispose(struct bpt_nitro_doc *d)
{
    if (d->doc) {
        cbor_decref(&d->doc);
    }
    if (d->root) {
        cbor_decref(&d->root);
    }
}

/* CBOR major type 2 (byte string) or 3 (text) header for @p n bytes. */
static size_t cbor_head(uint8_t *h, uint8_t major, size_t n)
{
    if (n < 24) {
        h[0] = (uint8_t)(major << 5 | n);
        return 1;
    }
    if (n <= 0xff) {
        h[0] = (uint8_t)(major << 5 | 24);
        h[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xffff) {
        h[0] = (uint8_t)(major << 5 | 25);
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        return 3;
    }
    h[0] = (uint8_t)(major << 5 | 26);
    for (int i = 0; i < 4; i++) {
        h[1 + i] = (uint8_t)(n >> (24 - 8 * i));
    }
    return 5;
}

int bpt_nitro_sig_structure(uint8_t **out, size_t *out_len, const struct bpt_nitro_doc *d)
{
    uint8_t h[5];
    size_t n;
    bpt_buf b = BPT_BUF_INIT(BPT_LIMIT_EVIDENCE_BYTES + 64);
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_buf_append(&b, "\x84\x6aSignature1", 12));
    n = cbor_head(h, 2, d->protected_len);
    BPT_CHECK(bpt_buf_append(&b, h, n));
    BPT_CHECK(bpt_buf_append(&b, d->protected_hdr, d->protected_len));
    BPT_CHECK(bpt_buf_append(&b, "\x40", 1)); /* external_aad: empty */
    n = cbor_head(h, 2, d->payload_len);
    BPT_CHECK(bpt_buf_append(&b, h, n));
    BPT_CHECK(bpt_buf_append(&b, d->payload, d->payload_len));
    BPT_CHECK(bpt_buf_detach(out, out_len, &b));
out:
    bpt_buf_dispose(&b);
    return rc;
}

/* ---- verification -------------------------------------------------------------------------- */

/* SHA-256 over what chose the chain: the bundle, the certificate and the trusted roots. */
static int chain_key(uint8_t out[32], const struct bpt_nitro_doc *d, const bpt_verify_ctx *ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int rc = BPT_ERROR;
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(md, "aws_nitro", 9) == 1 &&
              EVP_DigestUpdate(md, d->certificate, d->certificate_len) == 1;
    for (size_t i = 0; ok && i < d->n_cabundle; i++) {
        ok = EVP_DigestUpdate(md, d->cabundle[i], d->cabundle_len[i]) == 1;
    }
    if (!ok) {
        rc = bpt_err_ossl(BPT_ERROR, "aws_nitro: cache key");
        goto out;
    }
    BPT_CHECK(bpt_verify_ctx_digest_roots(md, ctx));
    if (EVP_DigestFinal_ex(md, out, &n) != 1) {
        rc = bpt_err_ossl(BPT_ERROR, "aws_nitro: cache key");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

static int verify_chain(EVP_PKEY **key_out, const struct bpt_nitro_doc *d,
                        const bpt_verify_ctx *ctx, int64_t at)
{
    STACK_OF(X509) *roots = NULL, *untrusted = NULL, *chain = NULL;
    X509 *root = NULL, *leaf = NULL, *c = NULL;
    enum bpt_pinned_root pinned = BPT_ROOT_AWS_NITRO_G1;
    struct bpt_pki_verify_opts opts = {
        .at = at, /* AWS leaves have no AKI: not strict */
        .where = "the document's cabundle carries its intermediates, root first, and nothing else "
                 "can supply them"};
    bool root_ok = false;
    uint8_t ckey[32];
    int rc;

    *key_out = NULL;
    if (ctx->chain_cache) {
        BPT_CHECK(chain_key(ckey, d, ctx));
        if (bpt_chain_cache_get(ctx->chain_cache, ckey, at, key_out, NULL, 0, NULL) == 1) {
            return 0; /* the same bundle and certificate verified before, still valid at `at` */
        }
    }
    BPT_CHECK(bpt_cert_cache_der(&root, ctx->cert_cache, d->cabundle[0], d->cabundle_len[0],
                                 "aws_nitro: cabundle[0]"));
    BPT_CHECK(bpt_verify_ctx_roots(&roots, ctx, &pinned, 1));
    for (int i = 0; i < sk_X509_num(roots); i++) {
        root_ok |= X509_cmp(sk_X509_value(roots, i), root) == 0;
    }
    if (!root_ok) {
        char subj[256];
        bpt_pki_subject(root, subj, sizeof(subj));
        rc = bpt_verify_ctx_has_trust_roots(ctx)
                 ? bpt_err(BPT_ESIGNATURE,
                           "aws_nitro: cabundle[0] (%s), the root the document's chain starts "
                           "at, is not one of the context's trust roots (they replace the pinned "
                           "AWS Nitro Enclaves root): add it to them (DER or PEM)",
                           subj)
                 : bpt_err(BPT_ESIGNATURE,
                           "aws_nitro: cabundle[0] (%s), the root the document's chain starts "
                           "at, is not the pinned AWS Nitro Enclaves root: documents from AWS "
                           "start there; another root (a simulator's) must be one of the "
                           "context's trust roots (DER or PEM)",
                           subj);
        goto out;
    }
    untrusted = sk_X509_new_null();
    if (!untrusted) {
        rc = bpt_err_nomem("chain");
        goto out;
    }
    for (size_t i = 1; i < d->n_cabundle; i++) {
        char what[48];
        snprintf(what, sizeof(what), "aws_nitro: cabundle[%zu]", i);
        BPT_CHECK(
            bpt_cert_cache_der(&c, ctx->cert_cache, d->cabundle[i], d->cabundle_len[i], what));
        if (!sk_X509_push(untrusted, c)) {
            rc = bpt_err_nomem("chain");
            goto out;
        }
        c = NULL;
    }
    BPT_CHECK(bpt_cert_cache_der(&leaf, ctx->cert_cache, d->certificate, d->certificate_len,
                                 "aws_nitro: certificate"));
    /* Only cabundle[0] anchors the chain (it equals a trusted root). */
    sk_X509_pop_free(roots, X509_free);
    roots = sk_X509_new_null();
    if (!roots || !sk_X509_push(roots, root)) {
        rc = bpt_err_nomem("chain");
        goto out;
    }
    root = NULL;
    BPT_CHECK(bpt_pki_verify_chain(&chain, leaf, untrusted, roots, &opts, "aws_nitro: chain"));
    /* The verified path must be exactly certificate, cabundle[n-1], ..., cabundle[0]. */
    if ((size_t)sk_X509_num(chain) != d->n_cabundle + 1) {
        rc = bpt_err(BPT_ESIGNATURE,
                     "aws_nitro: chain uses %d certificates, the document "
                     "carries %zu",
                     sk_X509_num(chain), d->n_cabundle + 1);
        goto out;
    }
    for (size_t i = 1; i < d->n_cabundle; i++) {
        if (X509_cmp(sk_X509_value(chain, (int)(d->n_cabundle - i)),
                     sk_X509_value(untrusted, (int)(i - 1))) != 0) {
            rc = bpt_err(BPT_ESIGNATURE, "aws_nitro: cabundle[%zu] is out of order", i);
            goto out;
        }
    }
    *key_out = X509_get_pubkey(leaf);
    if (!*key_out) {
        rc = bpt_err_ossl(BPT_EMALFORMED, "aws_nitro: certificate key");
        goto out;
    }
    if (ctx->chain_cache) {
        BPT_CHECK(bpt_chain_cache_put(ctx->chain_cache, ckey, chain, false, *key_out, NULL, 0));
    }
    rc = 0;
out:
    if (rc < 0) {
        EVP_PKEY_free(*key_out);
        *key_out = NULL;
    }
    X509_free(c);
    X509_free(leaf);
    X509_free(root);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}

static int verify_signature(const struct bpt_nitro_doc *d, EVP_PKEY *key)
{
    uint8_t *tbs = NULL;
    size_t tbs_len = 0;
    int rc = bpt_nitro_sig_structure(&tbs, &tbs_len, d);
    if (rc == 0) {
        rc = bpt_pki_verify_p384_rs(key, d->signature, d->signature + 48, 48, tbs, tbs_len,
                                    "aws_nitro: COSE signature with the document's certificate");
    }
    free(tbs);
    return rc;
}

static bool hex_equals(const uint8_t *b, size_t n, const char *hex)
{
    char buf[2 * BPT_NITRO_MAX_NONCE + 1];
    if (n > BPT_NITRO_MAX_NONCE || strlen(hex) != 2 * n) {
        return false;
    }
    bpt_hex_encode_to(buf, b, n);
    for (size_t i = 0; i < 2 * n; i++) {
        if (buf[i] != tolower((unsigned char)hex[i])) {
            return false;
        }
    }
    return true;
}

static int check_policy(const struct bpt_nitro_doc *d, const bpt_policy *p, int64_t at)
{
    int64_t ts = (int64_t)(d->timestamp_ms / 1000);
    bool debug = d->has_pcr[0] && bpt_all_zero(d->pcr[0], d->pcr_len[0]);
    int rc;

    if (!d->has_pcr[0]) {
        return bad("PCR0 is missing");
    }
    if (debug && !p->allow_debug) {
        return bpt_err(BPT_ECLAIM, "aws_nitro: PCR0 is all zero: a debug-mode enclave, and the "
                                   "policy refuses debug-mode TEEs");
    }
    if (ts > at + 60) {
        return bpt_err(BPT_ECLAIM,
                       "aws_nitro: document timestamp %lld is %lld s after the "
                       "verification time",
                       (long long)ts, (long long)(ts - at));
    }
    if (p->max_age_secs && at - ts > (int64_t)p->max_age_secs) {
        return bpt_err(BPT_ECLAIM, "aws_nitro: document is %lld s old, the policy allows %llu",
                       (long long)(at - ts), (unsigned long long)p->max_age_secs);
    }
    if ((rc = bpt_policy_check_measurement(p, d->pcr[0], d->pcr_len[0],
                                           "aws_nitro: measurement (PCR0)")) < 0) {
        return rc;
    }
    if (p->expected_image_digest) {
        const char *want = p->expected_image_digest;
        if (strncmp(want, "sha384:", 7) == 0) {
            want += 7;
        }
        if (!d->has_pcr[8] || !hex_equals(d->pcr[8], d->pcr_len[8], want)) {
            return bpt_err(BPT_ECLAIM, "aws_nitro: PCR8 differs from the expected image digest");
        }
    }
    for (int i = 0; i < BPT_POLICY_MAX_PCRS; i++) {
        if (p->aws_nitro.has_pcr[i] && (!d->has_pcr[i] || d->pcr_len[i] != 48 ||
                                        !bpt_ct_equal(d->pcr[i], p->aws_nitro.pcr[i], 48))) {
            return bpt_err(BPT_ECLAIM, "aws_nitro: PCR%d differs from the policy", i);
        }
    }
    if (p->expected_nonce) { /* the nonce rule: the nonce field holds the nonce's bytes */
        size_t n = strlen(p->expected_nonce);
        bool ok = d->nonce && d->nonce_len == n && bpt_ct_equal(d->nonce, p->expected_nonce, n);
        if (!ok) {
            return bpt_err(BPT_ECLAIM, "aws_nitro: nonce %s the expected nonce",
                           d->nonce ? "differs from" : "is absent; the policy expects");
        }
    }
    if (p->expected_report_data_len) {
        uint8_t want[64] = {0}, got[64] = {0};
        memcpy(want, p->expected_report_data, p->expected_report_data_len);
        if (!d->user_data || d->user_data_len > 64) {
            return bpt_err(BPT_ECLAIM, "aws_nitro: user_data cannot match the expected report "
                                       "data (absent or longer than 64 bytes)");
        }
        memcpy(got, d->user_data, d->user_data_len);
        if (!bpt_ct_equal(want, got, 64)) {
            return bpt_err(BPT_ECLAIM, "aws_nitro: user_data differs from the expected report "
                                       "data");
        }
    }
    return 0;
}

static int build_report(bpt_report **out, const struct bpt_nitro_doc *d, const uint8_t *ev,
                        size_t ev_len)
{
    bpt_report *r = NULL;
    struct bpt_claims *c;
    bpt_measurement m;
    char name[16], hex[2 * 64 + 1];
    int rc;

    *out = NULL;
    BPT_CHECK(bpt_report_new(&r, BPT_PROVIDER_AWS_NITRO, BPT_FORMAT_NITRO_DOCUMENT));
    BPT_CHECK(bpt_report_set_evidence(r, ev, ev_len));
    bpt_report_set_issued_at(r, d->timestamp_ms / 1000);
    BPT_CHECK(bpt_measurement_set_bytes(&m, "sha384", d->pcr[0], d->pcr_len[0]));
    bpt_report_set_measurement(r, &m);
    c = bpt_report_claims_mut(r);
    c->debug_mode = bpt_all_zero(d->pcr[0], d->pcr_len[0]);
    for (int i = 0; i < BPT_NITRO_MAX_PCRS; i++) {
        char entry[160];
        if (!d->has_pcr[i]) {
            continue;
        }
        bpt_hex_encode_to(hex, d->pcr[i], d->pcr_len[i]);
        snprintf(entry, sizeof(entry), "pcr%d:%s", i, hex);
        BPT_CHECK(bpt_claims_add_boot_measurement(c, entry));
        snprintf(name, sizeof(name), "pcr%d", i);
        BPT_CHECK(bpt_claims_set_customv(c, name, json_string(hex)));
    }
    BPT_CHECK(bpt_claims_set_customv(c, "module_id", json_string(d->module_id)));
    BPT_CHECK(bpt_claims_set_customv(c, "timestamp_ms", json_integer((json_int_t)d->timestamp_ms)));
    if (d->nonce) {
        char *nh = NULL;
        BPT_CHECK(bpt_hex_encode(&nh, d->nonce, d->nonce_len));
        rc = bpt_claims_set_customv(c, "nonce", json_string(nh));
        free(nh);
        BPT_CHECK(rc);
    }
    if (d->user_data) {
        BPT_CHECK(bpt_claims_set_user_data(c, d->user_data, d->user_data_len));
    }
    if (d->public_key) {
        uint8_t md[32];
        char dg[65];
        BPT_CHECK(bpt_sha256(md, d->public_key, d->public_key_len));
        bpt_hex_encode_to(dg, md, 32);
        BPT_CHECK(bpt_report_set_key_binding(r, d->public_key, d->public_key_len,
                                             "nitro_public_key", dg));
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    bpt_report_free(r);
    return rc;
}

_Static_assert(BPT_NITRO_MAX_USER_DATA <= BPT_VERIFIED_REPORT_DATA_MAX,
               "a verified result holds all of a Nitro document's user_data");

static int nitro_verify(bpt_verify_result *res, const struct bpt_evidence *ev,
                        const bpt_verify_ctx *ctx, const bpt_policy *policy, void *state)
{
    struct bpt_nitro_doc d;
    EVP_PKEY *key = NULL;
    int64_t at = ev->at;
    int rc;

    (void)state;
    memset(&d, 0, sizeof(d));
    BPT_CHECK(bpt_nitro_parse(&d, ev->bytes, ev->len));
    BPT_CHECK(verify_chain(&key, &d, ctx, at));
    BPT_CHECK(verify_signature(&d, key));
    BPT_CHECK(check_policy(&d, policy, at));
    BPT_CHECK(build_report(&res->report, &d, ev->bytes, ev->len));
    if (d.user_data) { /* all of it (at most 512 bytes by the NSM API), never cut */
        memcpy(res->d.report_data, d.user_data, d.user_data_len);
        res->d.report_data_len = d.user_data_len;
    }
    res->d.tcb = json_pack("{s:s,s:I}", "module_id", d.module_id, "timestamp_ms",
                           (json_int_t)d.timestamp_ms);
    rc = 0;
out:
    EVP_PKEY_free(key);
    bpt_nitro_doc_dispose(&d);
    return rc;
}

const bpt_verifier_vtable bpt_aws_nitro_verifier = {
    .api_version = BPT_VERIFIER_API_VERSION,
    .name = "aws_nitro",
    .provider = BPT_PROVIDER_AWS_NITRO,
    .kind = BPT_EVIDENCE_NITRO_COSE,
    .level = BPT_VERIFICATION_CRYPTOGRAPHIC,
    .verify = nitro_verify,
};

int bpt_aws_nitro_verify(bpt_verified **out, const bpt_verify_ctx *ctx, const bpt_policy *policy,
                         const uint8_t *ev, size_t ev_len)
{
    return bpt_verifier_run_direct(out, &bpt_aws_nitro_verifier, ctx, policy, ev, ev_len);
}
