/*
 * The node: JSON-RPC 2.0 over core/http (POST, one time-out per request, bounded answers),
 * retried with the SDK's back-off (attempt × 250 ms, capped at 5 s) after a transport failure,
 * a 5xx or a 429. A JSON-RPC error object is the node's verdict and is not retried; its code and
 * message, and revert data when it carries some, reach the caller.
 */
#include <blueprint-tee/chain.h>

#include "chain/abi.h"
#include "chain/chain_internal.h"

#include "core/codec.h"
#include "core/err.h"
#include "core/http.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_RETRIES 3u
#define DEFAULT_BACKOFF_MS 250L
#define DEFAULT_BACKOFF_MAX_MS 5000L
#define DEFAULT_MAX_RESPONSE (16u * 1024u * 1024u)
#define MAX_RESPONSE_LIMIT (256u * 1024u * 1024u)

struct bpt_chain {
    bpt_chain_opts o;
    char *url;
    atomic_uint_fast64_t next_id;
};

int bpt_chain_new(bpt_chain **out, const bpt_chain_opts *o)
{
    bpt_chain *c = NULL;
    int rc;
    if (!out || !o || o->version != BPT_CHAIN_OPTS_VERSION || !o->rpc_url) {
        return bpt_err(BPT_EINVAL, "chain: options from BPT_CHAIN_OPTS_INIT with an rpc_url");
    }
    *out = NULL;
    if (!bpt_http_url_allowed(o->rpc_url)) {
        return bpt_err(BPT_EINVAL,
                       "chain: rpc url '%.120s': https://, or http:// to a loopback address",
                       o->rpc_url);
    }
    if (o->timeout_ms < 0 || o->timeout_ms > BPT_HTTP_MAX_TIMEOUT_MS || o->backoff_ms < 0 ||
        o->backoff_max_ms < 0 || o->max_response_bytes > MAX_RESPONSE_LIMIT ||
        (o->retries > 100 && o->retries != BPT_CHAIN_NO_RETRY)) {
        return bpt_err(BPT_EINVAL,
                       "chain: options out of range (timeout_ms 0..%ld, retries "
                       "0..100, max_response_bytes 0..%u)",
                       BPT_HTTP_MAX_TIMEOUT_MS, MAX_RESPONSE_LIMIT);
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        return bpt_err_nomem("chain");
    }
    c->o = *o;
    c->o.timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->o.retries = o->retries == BPT_CHAIN_NO_RETRY ? 0 : o->retries ? o->retries : DEFAULT_RETRIES;
    c->o.backoff_ms = o->backoff_ms ? o->backoff_ms : DEFAULT_BACKOFF_MS;
    c->o.backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    c->o.max_response_bytes = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE;
    BPT_CHECK(bpt_strdup(&c->url, o->rpc_url));
    c->o.rpc_url = c->url;
    atomic_init(&c->next_id, 1);
    *out = c;
    c = NULL;
    rc = 0;
out:
    bpt_chain_free(c);
    return rc;
}

void bpt_chain_free(bpt_chain *c)
{
    if (!c) {
        return;
    }
    bpt_free(c->url);
    free(c);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The node's error object: code, message, and revert data in the shapes nodes use (geth:
 * "data":"0x..."; ganache: "data":{"result":"0x..."}; some: "data":{"data":"0x..."}). */
static void take_node_error(struct bpt_chain_node_error *ne, const json_t *err)
{
    const json_t *code = json_object_get(err, "code"), *msg = json_object_get(err, "message");
    const json_t *data = json_object_get(err, "data");
    bpt_buf rd = BPT_BUF_INIT(sizeof(ne->revert));
    memset(ne, 0, sizeof(*ne));
    ne->set = true;
    ne->code = json_is_integer(code) ? (long long)json_integer_value(code) : 0;
    snprintf(ne->message, sizeof(ne->message), "%s",
             json_is_string(msg) ? json_string_value(msg) : "(no message)");
    if (json_is_object(data)) {
        data = json_object_get(data, "result") ? json_object_get(data, "result")
                                               : json_object_get(data, "data");
    }
    if (json_is_string(data) && bpt_chain_data(&rd, data, "revert data") == 0 && rd.len >= 4) {
        memcpy(ne->revert, rd.data, rd.len);
        ne->revert_len = rd.len;
        ne->has_revert = true;
    }
    bpt_buf_dispose(&rd);
}

/* One HTTP exchange: 0 with the parsed answer; BPT_EFETCH for what a retry may cure. */
static int exchange(json_t **answer, bpt_chain *c, const char *body, const char *method)
{
    bpt_buf resp = BPT_BUF_INIT(c->o.max_response_bytes);
    struct bpt_http_request req = {.method = BPT_HTTP_POST,
                                   .url = c->url,
                                   .content_type = "application/json",
                                   .body = (const uint8_t *)body,
                                   .body_len = strlen(body),
                                   .timeout_ms = c->o.timeout_ms};
    struct bpt_http_response r = {.body = &resp};
    int rc = bpt_http_send(&r, &req);
    if (rc < 0) {
        rc = bpt_err_prefix(rc, "chain: %s", method);
        goto out;
    }
    if (r.status >= 500 || r.status == 429) {
        rc = bpt_err(BPT_EFETCH, "chain: %s: HTTP %ld from the node (unavailable)", method,
                     r.status);
        goto out;
    }
    if (r.status != 200) {
        rc = bpt_err(BPT_EPROTOCOL, "chain: %s: HTTP %ld from the node", method, r.status);
        goto out;
    }
    if ((rc = bpt_json_parse(answer, (const char *)resp.data, resp.len, "json-rpc answer")) < 0) {
        rc = bpt_err_prefix(BPT_EPROTOCOL, "chain: %s", method);
        goto out;
    }
    rc = 0;
out:
    bpt_buf_dispose(&resp);
    return rc;
}

int bpt_chain_rpc(json_t **result, struct bpt_chain_node_error *ne, bpt_chain *c,
                  const char *method, json_t *params)
{
    json_t *req = NULL, *answer = NULL, *err, *res;
    char *body = NULL;
    uint64_t id = atomic_fetch_add(&c->next_id, 1);
    int rc = BPT_ERROR;

    *result = NULL;
    if (ne) {
        ne->set = false;
    }
    if (!json_is_array(params)) {
        json_decref(params);
        return bpt_err(BPT_EINVAL, "chain: %s: params must be a JSON array", method);
    }
    req = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", (json_int_t)id, "method", method,
                    "params", params);
    if (!req || !(body = json_dumps(req, JSON_COMPACT))) {
        rc = bpt_err_nomem("chain: request");
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned attempt = 0;; attempt++) {
        rc = exchange(&answer, c, body, method);
        if (rc != BPT_EFETCH || attempt >= c->o.retries) {
            break;
        }
        {
            long wait = c->o.backoff_ms * (long)(attempt + 1);
            wait = wait > c->o.backoff_max_ms ? c->o.backoff_max_ms : wait;
            BPT_LOG(BPT_LOG_DEBUG, "chain", "retry method=%s attempt=%u wait_ms=%ld reason=%s",
                    method, attempt + 1, wait, bpt_error_last());
            sleep_ms(wait);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    BPT_LOG(BPT_LOG_DEBUG, "chain", "rpc method=%s ms=%ld rc=%d", method,
            (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000), rc);
    if (rc < 0) {
        goto out;
    }
    if (!json_is_object(answer)) {
        rc = bpt_err(BPT_EPROTOCOL, "chain: %s: the answer is not a JSON-RPC object", method);
        goto out;
    }
    if ((err = json_object_get(answer, "error")) && !json_is_null(err)) {
        struct bpt_chain_node_error local, *e = ne ? ne : &local;
        char esc[256];
        take_node_error(e, err);
        rc = bpt_err(BPT_EPROTOCOL, "chain: %s: node error %lld: %s", method, e->code,
                     bpt_escape_text(esc, sizeof(esc), e->message));
        goto out;
    }
    if (!(res = json_object_get(answer, "result"))) {
        rc = bpt_err(BPT_EPROTOCOL, "chain: %s: the answer has no result", method);
        goto out;
    }
    *result = json_incref(res);
    rc = 0;
out:
    free(body);
    json_decref(req);
    json_decref(answer);
    return rc;
}

int bpt_chain_call(char **result_json, bpt_chain *c, const char *method, const char *params_json)
{
    json_t *params = NULL, *res = NULL;
    int rc;
    if (!result_json || !c || !method || !params_json) {
        return bpt_err(BPT_EINVAL, "chain: call: NULL argument");
    }
    *result_json = NULL;
    BPT_CHECK(bpt_json_parse(&params, params_json, strlen(params_json), "params"));
    BPT_CHECK(bpt_chain_rpc(&res, NULL, c, method, params));
    params = NULL; /* stolen */
    BPT_CHECK(bpt_json_dump(result_json, res));
out:
    if (rc == BPT_EMALFORMED && !*result_json && !res) {
        rc = BPT_EINVAL;
    }
    json_decref(res);
    return rc;
}

/* ---- hex helpers -------------------------------------------------------------------------- */

static int strip0x(const char **hex, size_t *n, const json_t *v, const char *what)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || strncmp(s, "0x", 2) != 0) {
        return bpt_err(BPT_EPROTOCOL, "chain: %s is not a 0x-prefixed hex string", what);
    }
    *hex = s + 2;
    *n = strlen(s + 2);
    return 0;
}

int bpt_chain_quantity256(uint8_t out[32], const json_t *v, const char *what)
{
    const char *h = NULL;
    size_t n = 0;
    int rc;
    BPT_CHECK(strip0x(&h, &n, v, what));
    if (n == 0 || n > 64) {
        return bpt_err(BPT_EPROTOCOL, "chain: %s: a quantity of %zu hex digits", what, n);
    }
    memset(out, 0, 32);
    for (size_t i = 0; i < n; i++) {
        char ch = h[n - 1 - i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0) {
            return bpt_err(BPT_EPROTOCOL, "chain: %s: not hex", what);
        }
        out[31 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
    }
    rc = 0;
out:
    return rc;
}

int bpt_chain_quantity(uint64_t *out, const json_t *v, const char *what)
{
    uint8_t w[32];
    int rc = bpt_chain_quantity256(w, v, what);
    if (rc < 0) {
        return rc;
    }
    if (!bpt_abi_word_u64(out, w)) {
        return bpt_err(BPT_EPROTOCOL, "chain: %s does not fit 64 bits", what);
    }
    return 0;
}

int bpt_chain_data(bpt_buf *out, const json_t *v, const char *what)
{
    const char *h = NULL;
    size_t n = 0;
    int rc = strip0x(&h, &n, v, what);
    if (rc < 0) {
        return rc;
    }
    if (n == 0) {
        return 0;
    }
    if ((rc = bpt_hex_decode(out, h, n, what)) < 0) {
        return rc == BPT_ELIMIT ? rc : bpt_err_prefix(BPT_EPROTOCOL, "chain");
    }
    return 0;
}

int bpt_chain_data_exact(uint8_t *out, size_t n, const json_t *v, const char *what)
{
    bpt_buf b = BPT_BUF_INIT(n);
    int rc = bpt_chain_data(&b, v, what);
    if (rc == 0 && b.len != n) {
        rc = bpt_err(BPT_EPROTOCOL, "chain: %s: %zu bytes, want %zu", what, b.len, n);
    }
    if (rc == 0) {
        memcpy(out, b.data, n);
    }
    bpt_buf_dispose(&b);
    return rc == BPT_ELIMIT ? bpt_err(BPT_EPROTOCOL, "chain: %s: more than %zu bytes", what, n)
                            : rc;
}

json_t *bpt_chain_json_data(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 3);
    json_t *j;
    if (!s) {
        return NULL;
    }
    s[0] = '0';
    s[1] = 'x';
    bpt_hex_encode_to(s + 2, p, n);
    j = json_string(s);
    free(s);
    return j;
}

json_t *bpt_chain_json_quantity(uint64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
    return json_string(s);
}

json_t *bpt_chain_json_address(const bpt_eth_address *a)
{
    return bpt_chain_json_data(a->bytes, 20);
}

int bpt_chain_chain_id(uint64_t *out, bpt_chain *c)
{
    json_t *res = NULL;
    int rc;
    if (!out || !c) {
        return bpt_err(BPT_EINVAL, "chain: NULL argument");
    }
    BPT_CHECK(bpt_chain_rpc(&res, NULL, c, "eth_chainId", json_array()));
    BPT_CHECK(bpt_chain_quantity(out, res, "eth_chainId"));
out:
    json_decref(res);
    return rc;
}

int bpt_chain_block_number(uint64_t *out, bpt_chain *c)
{
    json_t *res = NULL;
    int rc;
    if (!out || !c) {
        return bpt_err(BPT_EINVAL, "chain: NULL argument");
    }
    BPT_CHECK(bpt_chain_rpc(&res, NULL, c, "eth_blockNumber", json_array()));
    BPT_CHECK(bpt_chain_quantity(out, res, "eth_blockNumber"));
out:
    json_decref(res);
    return rc;
}

/* ---- eth_call and reverts ------------------------------------------------------------------ */

/* Custom errors of tnt-core (src/libraries/Errors.sol) and the sandbox BSM that a job service
 * meets, decoded by selector. */
static const char *const KNOWN_ERRORS[] = {
    "ResultAlreadySubmitted(uint64,uint64,address)",
    "JobAlreadyCompleted(uint64,uint64)",
    "JobCallNotFound(uint64,uint64)",
    "OperatorNotInService(uint64,address)",
    "OperatorNotActive(address)",
    "ServiceNotFound(uint64)",
    "ServiceNotActive(uint64)",
    "ServiceExpired(uint64)",
    "NotPermittedCaller(uint64,address)",
    "InvalidJobIndex(uint8)",
    "NotQuotedOperator(uint64,uint64)",
    "BlueprintNotFound(uint64)",
    "InsufficientPayment(uint256,uint256)",
    "InvalidMsgValue(uint256,uint256)",
    "AggregationRequired(uint64,uint8)",
    "MissingTeeAttestation(uint64,address)",
    "Unauthorized()",
};

static void append_value(char *out, size_t n, const struct bpt_abi_type *t,
                         const struct bpt_abi_value *v)
{
    size_t used = strlen(out);
    if (t->kind == BPT_ABI_ADDRESS) {
        bpt_eth_address a;
        char text[43];
        bpt_abi_get_address(a.bytes, v);
        bpt_eth_address_format(text, &a);
        snprintf(out + used, n - used, "%s", text);
    } else {
        uint64_t x;
        if (bpt_abi_get_u64(&x, v, "argument") == 0) {
            snprintf(out + used, n - used, "%llu", (unsigned long long)x);
        } else {
            snprintf(out + used, n - used, "(large)");
        }
    }
}

void bpt_chain_revert_reason(char *out, size_t n, const uint8_t *data, size_t len)
{
    uint8_t sel[4];
    struct bpt_abi_value *v = NULL;
    struct bpt_abi_type *t = NULL;
    char esc[200];
    if (len < 4) {
        snprintf(out, n, "%s", len ? "revert data under 4 bytes" : "reverted without a reason");
        return;
    }
    bpt_abi_selector(sel, "Error(string)");
    if (memcmp(sel, data, 4) == 0) {
        if (bpt_abi_decode_text(&v, "(string)", data + 4, len - 4) == 0) {
            char text[200];
            snprintf(text, sizeof(text), "%.*s",
                     (int)(v->items[0].len > 199 ? 199 : v->items[0].len),
                     (const char *)v->items[0].data);
            snprintf(out, n, "%s", bpt_escape_text(esc, sizeof(esc), text));
        } else {
            snprintf(out, n, "Error(string) that does not decode");
        }
        bpt_abi_value_free(v);
        return;
    }
    bpt_abi_selector(sel, "Panic(uint256)");
    if (memcmp(sel, data, 4) == 0) {
        uint64_t code = 0;
        if (bpt_abi_decode_text(&v, "(uint256)", data + 4, len - 4) == 0 &&
            bpt_abi_get_u64(&code, &v->items[0], "panic") == 0) {
            snprintf(out, n, "panic 0x%02llx", (unsigned long long)code);
        } else {
            snprintf(out, n, "panic");
        }
        bpt_abi_value_free(v);
        return;
    }
    for (size_t i = 0; i < sizeof(KNOWN_ERRORS) / sizeof(KNOWN_ERRORS[0]); i++) {
        const char *sig = KNOWN_ERRORS[i];
        bpt_abi_selector(sel, sig);
        if (memcmp(sel, data, 4) != 0) {
            continue;
        }
        snprintf(out, n, "%.*s(", (int)(strchr(sig, '(') - sig), sig);
        if (bpt_abi_type_parse(&t, strchr(sig, '(')) == 0 &&
            bpt_abi_decode(&v, t, data + 4, len - 4) == 0) {
            for (size_t k = 0; k < t->size; k++) {
                if (k) {
                    snprintf(out + strlen(out), n - strlen(out), ", ");
                }
                append_value(out, n, t->items[k], &v->items[k]);
            }
        } else {
            snprintf(out + strlen(out), n - strlen(out), "?");
        }
        snprintf(out + strlen(out), n - strlen(out), ")");
        bpt_abi_value_free(v);
        bpt_abi_type_free(t);
        return;
    }
    snprintf(out, n, "custom error 0x%02x%02x%02x%02x", data[0], data[1], data[2], data[3]);
}

int bpt_chain_eth_call(bpt_buf *ret, char *reason, bpt_chain *c, const bpt_eth_address *from,
                       const bpt_eth_address *to, const uint8_t *data, size_t len,
                       const char *block)
{
    struct bpt_chain_node_error ne;
    json_t *tx = json_object(), *res = NULL;
    char why[256];
    int rc;
    if (reason) {
        reason[0] = 0;
    }
    if (!tx || json_object_set_new(tx, "to", bpt_chain_json_address(to)) != 0 ||
        json_object_set_new(tx, "data", bpt_chain_json_data(data, len)) != 0 ||
        (from && json_object_set_new(tx, "from", bpt_chain_json_address(from)) != 0)) {
        json_decref(tx);
        return bpt_err_nomem("chain: eth_call");
    }
    rc = bpt_chain_rpc(&res, &ne, c, "eth_call", json_pack("[o,s]", tx, block ? block : "latest"));
    if (rc == BPT_EPROTOCOL && ne.set && ne.has_revert) {
        bpt_chain_revert_reason(why, sizeof(why), ne.revert, ne.revert_len);
        if (reason) {
            snprintf(reason, 256, "%s", why);
        }
        return bpt_err(BPT_EPROTOCOL, "chain: eth_call reverted: %s", why);
    }
    if (rc == BPT_EPROTOCOL && ne.set && reason) {
        snprintf(reason, 256, "%s", ne.message);
    }
    BPT_CHECK(rc);
    BPT_CHECK(bpt_chain_data(ret, res, "eth_call result"));
out:
    json_decref(res);
    return rc;
}
