/*
 * Hex decoder: any input is accepted or refused with a message; on success, re-encoding gives
 * the input in lower case and decoding that again gives the same bytes.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "core/codec.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bpt_buf out = BPT_BUF_INIT(1u << 20);
    const char *text = (const char *)data;
    char *enc = NULL;

    if (bpt_hex_decode(&out, text, size, "fuzz") == 0) {
        if (out.len * 2 != size || bpt_hex_encode(&enc, out.data, out.len) != 0) {
            abort();
        }
        for (size_t i = 0; i < size; i++) {
            if (enc[i] != lower(text[i])) {
                abort();
            }
        }
        if (out.len <= 4096) {
            uint8_t exact[4096];
            if (bpt_hex_decode_exact(exact, out.len, text, size, "fuzz") != 0 ||
                (out.len && memcmp(exact, out.data, out.len) != 0)) {
                abort();
            }
        }
        bpt_free(enc);
    } else if (out.len != 0) {
        abort(); /* a failed decode leaves the buffer as it was */
    }
    bpt_buf_dispose(&out);
    return 0;
}
