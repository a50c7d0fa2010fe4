/*
 * The key exchange's request handling as the HTTP server drives it: the input is a request
 * written out ("METHOD PATH\n", header lines "Name: value\n", an empty line, the body). The
 * path goes through bpt_kx_route_parse(), the headers through bpt_kx_check_head() (framing,
 * content type), and the body through the protocol answer its route leads to: session
 * creation (the session made is consumed again, so state does not grow), secret delivery to
 * the routed id (the signed-sender check included), or the attestation endpoint. Any outcome
 * is accepted; every answer is freed.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <blueprint-tee/bpt.h>

#include "exchange/protocol.h"

#define MAX_LINE 1024

/* The next line of @p text (up to '\n' or the end) as a NUL-terminated copy in @p out. */
static size_t next_line(char out[MAX_LINE], const uint8_t *text, size_t len, size_t *off)
{
    size_t n = 0;
    while (*off < len && text[*off] != '\n') {
        if (n + 1 < MAX_LINE) {
            out[n++] = (char)text[*off];
        }
        (*off)++;
    }
    if (*off < len) {
        (*off)++; /* the '\n' */
    }
    out[n] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bpt_kx_service *svc;
    static bpt_kx_store *store;
    if (svc == NULL) {
        bpt_kx_service_options so = BPT_KX_SERVICE_OPTIONS_INIT;
        so.max_sessions = 4;
        if (bpt_kx_service_new(&svc, &so) != 0 || bpt_kx_store_new(&store) != 0) {
            abort();
        }
    }
    char method[MAX_LINE], path[MAX_LINE], lines[16][MAX_LINE];
    struct bpt_kx_header h[16];
    size_t off = 0, n = 0;
    next_line(method, data, size, &off);
    next_line(path, data, size, &off);
    while (n < 16 && next_line(lines[n], data, size, &off) > 0) {
        char *colon = strchr(lines[n], ':');
        h[n].name = lines[n];
        h[n].value = "";
        if (colon != NULL) {
            *colon = '\0';
            h[n].value = colon + 1 + (colon[1] == ' ');
        }
        n++;
    }
    const char *body = (const char *)data + off;
    size_t body_len = size - off;

    long long cl = 0;
    const char *why = NULL;
    bpt_kx_outcome o = bpt_kx_check_head(&cl, &why, method, h, n);
    char id[33];
    bpt_kx_route r = bpt_kx_route_parse(path, id);
    if (o != BPT_KX_OK) {
        return 0; /* the server answers the refusal and reads no body */
    }
    static const uint8_t sender[32] = {7};
    bpt_kx_delivery d = {.store = store, .senders = sender, .n_senders = size % 2};
    bpt_kx_answer a;
    switch (r) {
    case BPT_KX_ROUTE_SESSIONS:
        o = bpt_kx_answer_create_session(&a, svc, "127.0.0.1", body, body_len);
        if (o == BPT_KX_CREATED) {
            json_t *j = json_loads(bpt_kx_answer_body(&a), 0, NULL);
            bpt_kx_session *s = NULL;
            const char *sid = json_string_value(json_object_get(j, "session_id"));
            if (sid != NULL && bpt_kx_service_consume(&s, svc, sid) == 0) {
                bpt_kx_session_free(s);
            }
            json_decref(j);
        }
        break;
    case BPT_KX_ROUTE_SECRETS:
        o = bpt_kx_answer_submit_secrets(&a, svc, id, body, body_len, &d);
        break;
    case BPT_KX_ROUTE_ATTESTATION: {
        /* the query's nonce, here taken from the body */
        char nonce[MAX_LINE];
        size_t k = body_len < MAX_LINE - 1 ? body_len : MAX_LINE - 1;
        memcpy(nonce, body, k);
        nonce[k] = '\0';
        o = bpt_kx_answer_attestation(&a, svc, k > 0 ? nonce : NULL);
        break;
    }
    default:
        o = bpt_kx_answer_error(&a, BPT_KX_NOT_FOUND, "no such endpoint");
        break;
    }
    (void)bpt_kx_outcome_status(o);
    bpt_kx_answer_dispose(&a);
    return 0;
}
