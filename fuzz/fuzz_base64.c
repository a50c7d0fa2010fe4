/*
 * Base64 (RFC 4648 §4, padded, canonical) and base64url (§5, unpadded) decoders: any input
 * is accepted or refused; on success, encoding the bytes with the same alphabet gives back
 * exactly the input (the decoders accept only canonical text).
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "core/codec.h"

typedef int (*decode_fn)(bpt_buf *, const char *, size_t, const char *);
typedef int (*encode_fn)(char **, const uint8_t *, size_t);

static void one(decode_fn dec, encode_fn enc, const uint8_t *data, size_t size)
{
    bpt_buf out = BPT_BUF_INIT(1u << 20);
    char *text = NULL;

    if (dec(&out, (const char *)data, size, "fuzz") == 0) {
        if (enc(&text, out.data ? out.data : (const uint8_t *)"", out.len) != 0 ||
            strlen(text) != size || memcmp(text, data, size) != 0) {
            abort();
        }
        bpt_free(text);
    } else if (out.len != 0) {
        abort(); /* a failed decode leaves the buffer as it was */
    }
    bpt_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(bpt_base64_decode, bpt_base64_encode, data, size);
    one(bpt_base64url_decode, bpt_base64url_encode, data, size);
    return 0;
}
