/*
 * The body of POST /v1/sessions/{id}/secrets: JSON parse, schema checks, base64 of enc and
 * ciphertext, HPKE open against a session's key. Any return code is accepted; every opened
 * secret and the body are freed.
 */
#include "fuzz.h"

#include <stdlib.h>

#include <jansson.h>

#include <blueprint-tee/bpt.h>

#include "exchange/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bpt_kx_session *s;
    if (s == NULL && bpt_kx_session_new(&s, 3600, NULL) != 0) {
        abort();
    }
    struct bpt_kx_opened out[BPT_KX_MAX_SECRETS_PER_REQUEST] = {{NULL, NULL}};
    size_t n = 0;
    json_t *body = NULL;
    /* one authorized sender key on every third input: the sender check runs before opening */
    static const uint8_t sender[32] = {1};
    bpt_kx_delivery d = {
        .legacy_v0 = size % 2 == 0, .senders = sender, .n_senders = size % 3 == 0 ? 1 : 0};
    bpt_kx_outcome o = bpt_kx_open_secrets_body(out, &n, &body, s, (const char *)data, size, &d);
    (void)o; /* any outcome is fine; only memory safety and cleanup are checked */
    for (size_t i = 0; i < BPT_KX_MAX_SECRETS_PER_REQUEST; i++) {
        bpt_secret_free(out[i].value);
    }
    json_decref(body);
    return 0;
}
