#include <blueprint-tee/attestation.h>

#include "core/codec.h"
#include "core/err.h"

#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>

int bpt_measurement_set(bpt_measurement *out, const char *algorithm, const char *hex_digest)
{
    size_t alen, hlen;

    if (!algorithm || !hex_digest) {
        return bpt_err(BPT_EINVAL, "measurement: algorithm and digest are required");
    }
    alen = strlen(algorithm);
    hlen = strlen(hex_digest);
    if (alen == 0 || alen >= sizeof(out->algorithm)) {
        return bpt_err(BPT_EINVAL, "measurement: algorithm '%.32s' must be 1..%zu characters",
                       algorithm, sizeof(out->algorithm) - 1);
    }
    if (hlen % 2 != 0 || hlen > 2 * BPT_MEASUREMENT_MAX_BYTES) {
        return bpt_err(BPT_EINVAL,
                       "measurement: digest of %zu hex digits (expected an even "
                       "number, at most %d)",
                       hlen, 2 * BPT_MEASUREMENT_MAX_BYTES);
    }
    for (size_t i = 0; i < hlen; i++) {
        if (!isxdigit((unsigned char)hex_digest[i])) {
            return bpt_err(BPT_EINVAL, "measurement: digest is not hex at offset %zu", i);
        }
    }
    memcpy(out->algorithm, algorithm, alen + 1);
    for (size_t i = 0; i <= hlen; i++) {
        out->digest[i] = (char)tolower((unsigned char)hex_digest[i]);
    }
    return 0;
}

int bpt_measurement_set_bytes(bpt_measurement *out, const char *algorithm, const uint8_t *digest,
                              size_t len)
{
    char hex[2 * BPT_MEASUREMENT_MAX_BYTES + 1];
    if (len > BPT_MEASUREMENT_MAX_BYTES) {
        return bpt_err(BPT_EINVAL, "measurement: %zu-byte digest exceeds %d bytes", len,
                       BPT_MEASUREMENT_MAX_BYTES);
    }
    bpt_hex_encode_to(hex, digest, len);
    return bpt_measurement_set(out, algorithm, hex);
}

bool bpt_measurement_equal(const bpt_measurement *a, const bpt_measurement *b)
{
    size_t la = strlen(a->digest), lb = strlen(b->digest);
    return strcmp(a->algorithm, b->algorithm) == 0 && la == lb &&
           CRYPTO_memcmp(a->digest, b->digest, la) == 0;
}
