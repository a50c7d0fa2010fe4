/*
 * Evidence recognition (by structure, no cryptography, never touching the error message) and
 * decoding of evidence as users hand it over.
 */
#include <blueprint-tee/sev_snp.h>
#include <blueprint-tee/tdx.h>
#include <blueprint-tee/verify.h>

#include "core/codec.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/reader.h"

#include <stdlib.h>
#include <string.h>

static bool is_b64url_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Three non-empty base64url segments (the last may be empty only for alg none) whose first
 * decodes to a JSON object: its first character encodes '{' (0x7b, top six bits 011110: 'e')
 * followed by two bits 11 (the second character is one of w..z, 0..9, '-', '_'). */
static bool looks_jwt(const uint8_t *p, size_t len)
{
    size_t dots[2], nd = 0;

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
    if (nd != 2 || dots[0] < 3 || dots[1] == dots[0] + 1 || dots[0] % 4 == 1) {
        return false;
    }
    return p[0] == 'e' && ((p[1] >= 'w' && p[1] <= 'z') || (p[1] >= '0' && p[1] <= '9') ||
                           p[1] == '-' || p[1] == '_');
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

bpt_evidence_kind bpt_evidence_recognise(const uint8_t *ev, size_t len)
{
    uint64_t version = 0, algo = 0, key_type = 0, tee = 0;

    if (!ev || len == 0) {
        return BPT_EVIDENCE_UNKNOWN;
    }
    /* SNP report: fixed size, version 2.., signature algorithm 1 (ECDSA P-384 SHA-384). */
    if (len == BPT_SNP_REPORT_SIZE && bpt_bytes_peek_le(ev, len, 0x00, 4, &version) &&
        bpt_bytes_peek_le(ev, len, 0x34, 4, &algo) && version >= 2 && version <= 5 && algo == 1) {
        return BPT_EVIDENCE_SEV_SNP_REPORT;
    }
    /* DCAP quote header: version 3..5, attestation key type 2 (ECDSA P-256), TEE type. */
    if (len >= BPT_TDX_HEADER_SIZE && bpt_bytes_peek_le(ev, len, 0, 2, &version) &&
        bpt_bytes_peek_le(ev, len, 2, 2, &key_type) && bpt_bytes_peek_le(ev, len, 4, 4, &tee) &&
        version >= 3 && version <= 5 && key_type == BPT_TDX_ATT_KEY_ECDSA_P256) {
        if (tee == BPT_TDX_TEE_TYPE && version >= 4) {
            return BPT_EVIDENCE_TDX_QUOTE;
        }
        if (tee == 0x00) {
            return BPT_EVIDENCE_SGX_QUOTE;
        }
    }
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
