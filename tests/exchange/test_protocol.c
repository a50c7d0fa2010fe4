/*
 * The key-exchange protocol alone (src/exchange/protocol.c), without a server: the outcome
 * table (every value has a status and a code, codes unique, DESIGN §6's pairs) and every
 * outcome the protocol decides reached from request bytes, with its JSON answer checked. The
 * outcomes only the transport decides (not_found, method_not_allowed, payload_too_large,
 * rate_limited) go through bpt_kx_answer_error(), checked here for every outcome.
 */
#include "helpers/test.h"
#include "helpers/kx.h"

#include <ctype.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/codec.h"
#include "core/limits.h"
#include "exchange/exchange_internal.h"
#include "exchange/protocol.h"

/* the payloads bpt_kx_open_secrets_body() accepts: v1 only, or v1 and the legacy v0 */
static const bpt_kx_delivery V1 = {.legacy_v0 = false};
static const bpt_kx_delivery V0 = {.legacy_v0 = true};

/* ---- fixture ----------------------------------------------------------------------------- */

struct fixture {
    int64_t now;
    bpt_kx_service *svc;
    bpt_kx_store *store;
    bpt_kx_delivery d;
    struct bpt_test_kx_attester att;
};

static struct fixture *make(size_t max_sessions, bool attester, bpt_kx_binding binding)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->now = 1700000000;
    f->svc = bpt_test_kx_service(&f->now, max_sessions, binding, attester ? &f->att : NULL);
    assert_ok(bpt_kx_store_new(&f->store));
    f->d.store = f->store;
    return f;
}

static void drop(struct fixture *f)
{
    bpt_kx_store_free(f->store);
    bpt_kx_service_free(f->svc);
    free(f);
}

/* ---- answers ----------------------------------------------------------------------------- */

#define assert_outcome(expr, want)                                                                 \
    do {                                                                                           \
        bpt_kx_outcome got_ = (expr);                                                              \
        if (got_ != (want)) {                                                                      \
            fail_msg("%s: got %s, want %s (last error: %s)", #expr, bpt_kx_outcome_code(got_),     \
                     bpt_kx_outcome_code(want), bpt_error_last());                                 \
        }                                                                                          \
    } while (0)

static json_t *parse(const bpt_kx_answer *a)
{
    json_t *j = json_loads(bpt_kx_answer_body(a), JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL) {
        fail_msg("answer is not JSON: %s", bpt_kx_answer_body(a));
    }
    return j;
}

/* The answer is {"error":{"code":<o's code>,"message":..}} and the message contains @p msg. */
static void assert_error_answer(bpt_kx_answer *a, bpt_kx_outcome o, const char *msg)
{
    json_t *j = parse(a);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    if (json_object_size(j) != 1 || json_object_size(e) != 2 || code == NULL || m == NULL) {
        fail_msg("not an error answer: %s", bpt_kx_answer_body(a));
    }
    assert_string_equal(code, bpt_kx_outcome_code(o));
    if (msg != NULL && strstr(m, msg) == NULL) {
        fail_msg("message '%s' lacks '%s'", m, msg);
    }
    json_decref(j);
    bpt_kx_answer_dispose(a);
}

struct session {
    char id[33];
    uint8_t idraw[16];
    uint8_t pk[32];
    json_t *answer;
};

/* POST /v1/sessions with @p body; must be created. The answer stays in s->answer. */
static void create(struct session *s, struct fixture *f, const char *body)
{
    bpt_kx_answer a;
    assert_outcome(bpt_kx_answer_create_session(&a, f->svc, NULL, body, strlen(body)),
                   BPT_KX_CREATED);
    s->answer = parse(&a);
    bpt_kx_answer_dispose(&a);
    const char *id = json_string_value(json_object_get(s->answer, "session_id"));
    const char *pk = json_string_value(json_object_get(s->answer, "public_key"));
    assert_non_null(id);
    assert_non_null(pk);
    snprintf(s->id, sizeof(s->id), "%s", id);
    assert_ok(bpt_hex_decode_exact(s->idraw, 16, id, strlen(id), "id"));
    assert_ok(bpt_hex_decode_exact(s->pk, 32, pk, strlen(pk), "pk"));
}

static void forget(struct session *s)
{
    json_decref(s->answer);
    s->answer = NULL;
}

static bpt_kx_outcome submit(bpt_kx_answer *a, struct fixture *f, const char *id, const char *body)
{
    return bpt_kx_answer_submit_secrets(a, f->svc, id, body, strlen(body), &f->d);
}

/* A secrets body of @p n entries "s0".."s<n-1>", entry @p bad_aad (if < n) sealed with a wrong
 * aad; @p dup repeats the first entry at the end. */
static char *entries_body(const struct session *s, size_t n, size_t bad_aad, bool dup)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof(name), "s%zu", i);
        char *one =
            bpt_test_kx_secrets_body(s->pk, s->idraw, name, i == bad_aad ? "x" : name, "value");
        json_t *j = json_loads(one, 0, NULL);
        json_array_append(arr, json_array_get(json_object_get(j, "secrets"), 0));
        json_decref(j);
        free(one);
    }
    if (dup) {
        json_array_append(arr, json_array_get(arr, 0));
    }
    json_t *body = json_pack("{s:o}", "secrets", arr);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    assert_non_null(text);
    return text;
}

/* ---- the table --------------------------------------------------------------------------- */

static void test_outcome_table(void **state)
{
    (void)state;
    /* DESIGN.md §6 and docs/exchange.md, written out once more on purpose */
    static const struct {
        bpt_kx_outcome o;
        unsigned status;
        const char *code;
    } want[] = {
        {BPT_KX_OK, 200, "ok"},
        {BPT_KX_CREATED, 201, "created"},
        {BPT_KX_BAD_REQUEST, 400, "bad_request"},
        {BPT_KX_DECRYPT_FAILED, 400, "decrypt_failed"},
        {BPT_KX_SENDER_REFUSED, 403, "sender_not_authorized"},
        {BPT_KX_SESSION_NOT_FOUND, 404, "session_not_found"},
        {BPT_KX_NOT_FOUND, 404, "not_found"},
        {BPT_KX_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
        {BPT_KX_CONFLICT, 409, "conflict"},
        {BPT_KX_SESSION_EXPIRED, 410, "session_expired"},
        {BPT_KX_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
        {BPT_KX_UNSUPPORTED_MEDIA, 415, "unsupported_media_type"},
        {BPT_KX_RATE_LIMITED, 429, "rate_limited"},
        {BPT_KX_CLIENT_LIMIT, 429, "too_many_sessions"},
        {BPT_KX_INTERNAL, 500, "internal"},
        {BPT_KX_NOT_SUPPORTED, 501, "not_supported"},
        {BPT_KX_CAPACITY, 503, "capacity"},
        {BPT_KX_STORE_FULL, 507, "store_full"},
    };
    assert_int_equal(sizeof(want) / sizeof(want[0]), BPT_KX_OUTCOME_COUNT);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(bpt_kx_outcome_status(want[i].o), want[i].status);
        assert_string_equal(bpt_kx_outcome_code(want[i].o), want[i].code);
    }

    for (int o = 0; o < BPT_KX_OUTCOME_COUNT; o++) {
        unsigned st = bpt_kx_outcome_status((bpt_kx_outcome)o);
        const char *code = bpt_kx_outcome_code((bpt_kx_outcome)o);
        if (st < 200 || st > 599 || code == NULL || code[0] == '\0' ||
            strspn(code, "abcdefghijklmnopqrstuvwxyz_") != strlen(code)) {
            fail_msg("outcome %d: status %u, code '%s'", o, st, code ? code : "(null)");
        }
        for (int k = 0; k < o; k++) {
            if (strcmp(code, bpt_kx_outcome_code((bpt_kx_outcome)k)) == 0) {
                fail_msg("outcomes %d and %d share the code '%s'", k, o, code);
            }
        }
        /* each has an error answer of the §6 shape */
        bpt_kx_answer a;
        assert_outcome(bpt_kx_answer_error(&a, (bpt_kx_outcome)o, "why"), (bpt_kx_outcome)o);
        assert_error_answer(&a, (bpt_kx_outcome)o, "why");
    }

    /* values outside the enum read as internal errors */
    assert_int_equal(bpt_kx_outcome_status(BPT_KX_OUTCOME_COUNT), 500);
    assert_string_equal(bpt_kx_outcome_code(BPT_KX_OUTCOME_COUNT), "internal");
    assert_int_equal(bpt_kx_outcome_status((bpt_kx_outcome)-1), 500);

    /* an answer whose body could not be allocated sends the static internal error */
    bpt_kx_answer oom = {NULL, 0};
    assert_error_answer(&oom, BPT_KX_INTERNAL, "out of memory");
}

/* ---- POST /v1/sessions ------------------------------------------------------------------- */

static void test_create_session(void **state)
{
    (void)state;
    struct fixture *f = make(8, true, BPT_KX_BINDING_SESSION);
    struct session s;
    static const char *const ok_bodies[] = {
        "",
        "{}",
        "{\"nonce\":null}",
        "{\"nonce\":\"000102030405060708090a0b0c0d0e0f\"}", /* 16 bytes: the minimum */
        "{\"nonce\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\"}", /* 64: maximum */
    };
    for (size_t i = 0; i < sizeof(ok_bodies) / sizeof(ok_bodies[0]); i++) {
        create(&s, f, ok_bodies[i]);
        json_t *j = s.answer;
        assert_string_equal(json_string_value(json_object_get(j, "key_type")), "x25519");
        assert_string_equal(json_string_value(json_object_get(j, "suite")), BPT_KX_SUITE);
        assert_int_equal(json_integer_value(json_object_get(j, "expires_at")), f->now + 60);
        assert_null(json_object_get(j, "binding"));
        assert_int_equal(json_object_size(j), 6);

        /* report_data binds key, id and nonce, and the attestation says so */
        bpt_buf nonce = BPT_BUF_INIT(64);
        json_t *req = json_loads(ok_bodies[i], JSON_DECODE_ANY, NULL);
        const char *nh = json_string_value(json_object_get(req, "nonce"));
        if (nh != NULL) {
            assert_ok(bpt_hex_decode(&nonce, nh, strlen(nh), "nonce"));
        }
        uint8_t rd[64];
        char rd_hex[129];
        assert_ok(bpt_kx_report_data(rd, s.pk, s.idraw, nonce.data, nonce.len));
        assert_memory_equal(f->att.last_rd, rd, 64);
        bpt_hex_encode_to(rd_hex, rd, 64);
        json_t *bind = json_object_get(json_object_get(j, "attestation"), "public_key_binding");
        assert_string_equal(json_string_value(json_object_get(bind, "binding_digest")), rd_hex);
        assert_string_equal(json_string_value(json_object_get(bind, "public_key")),
                            json_string_value(json_object_get(j, "public_key")));
        json_decref(req);
        bpt_buf_dispose(&nonce);
        forget(&s);
    }
    assert_int_equal(f->att.calls, 5);

    static const struct {
        const char *body;
        const char *msg;
    } bad[] = {
        {"{", "invalid JSON"},
        {"[]", "not a JSON object"},
        {"\"x\"", "not a JSON object"},
        {"{\"nonce\":\"00\"}", "nonce is 1 bytes"},
        {"{\"nonce\":\"000102030405060708090a0b0c0d0e\"}", "nonce is 15 bytes"},
        {"{\"nonce\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
         "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40\"}",
         "longer than 64"},
        {"{\"nonce\":\"zz\"}", "not hex"},
        {"{\"nonce\":7}", "nonce"},
        {"{\"nonce\":\"000102030405060708090a0b0c0d0e0f\",\"x\":1}", "x"},
        {"{\"a\":1,\"a\":2}", "duplicate"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bpt_kx_answer a;
        bpt_kx_outcome o =
            bpt_kx_answer_create_session(&a, f->svc, NULL, bad[i].body, strlen(bad[i].body));
        if (o != BPT_KX_BAD_REQUEST) {
            fail_msg("case %zu (%s): %s", i, bad[i].body, bpt_kx_answer_body(&a));
        }
        assert_error_answer(&a, BPT_KX_BAD_REQUEST, bad[i].msg);
    }
    assert_int_equal(f->att.calls, 5); /* refused before any session or evidence was made */

    /* the attester fails: internal, and the message does not pass its words on */
    bpt_kx_answer a;
    f->att.fail = BPT_EIO;
    assert_outcome(bpt_kx_answer_create_session(&a, f->svc, NULL, "{}", 2), BPT_KX_INTERNAL);
    assert_null(strstr(bpt_kx_answer_body(&a), "no TEE"));
    assert_error_answer(&a, BPT_KX_INTERNAL, "session creation failed");
    drop(f);

    /* capacity: refused at max_sessions, created again once a session is used */
    f = make(2, false, BPT_KX_BINDING_SESSION);
    create(&s, f, "{}");
    assert_true(json_is_null(json_object_get(s.answer, "attestation"))); /* no attester */
    forget(&s);
    create(&s, f, "{}");
    assert_outcome(bpt_kx_answer_create_session(&a, f->svc, NULL, "{}", 2), BPT_KX_CAPACITY);
    assert_error_answer(&a, BPT_KX_CAPACITY, "capacity");
    assert_outcome(submit(&a, f, s.id, "{}"), BPT_KX_BAD_REQUEST);
    bpt_kx_answer_dispose(&a);
    forget(&s);
    create(&s, f, "{}");
    forget(&s);
    drop(f);
}

static void test_create_session_service_key(void **state)
{
    (void)state;
    struct fixture *f = make(4, false, BPT_KX_BINDING_SERVICE_KEY);
    struct session s;
    uint8_t sk[32], sig[64], rd[64];
    create(&s, f, "{\"nonce\":\"000102030405060708090a0b0c0d0e0f\"}");
    assert_string_equal(json_string_value(json_object_get(s.answer, "binding")), "service_key");
    const char *skh = json_string_value(json_object_get(s.answer, "service_key"));
    const char *sigh = json_string_value(json_object_get(s.answer, "signature"));
    assert_non_null(skh);
    assert_non_null(sigh);
    assert_ok(bpt_hex_decode_exact(sk, 32, skh, strlen(skh), "service_key"));
    assert_ok(bpt_hex_decode_exact(sig, 64, sigh, strlen(sigh), "signature"));
    static const uint8_t nonce[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    assert_ok(bpt_kx_report_data(rd, s.pk, s.idraw, nonce, sizeof(nonce)));
    assert_ok(bpt_kx_check_session_signature(sk, sig, rd));
    rd[40] ^= 1; /* another nonce: the signature does not bind it */
    assert_rc_msg(bpt_kx_check_session_signature(sk, sig, rd), BPT_ECLAIM, "signature");
    forget(&s);
    drop(f);
}

/* ---- POST /v1/sessions/{id}/secrets ------------------------------------------------------ */

static void test_submit_secrets(void **state)
{
    (void)state;
    struct fixture *f = make(8, true, BPT_KX_BINDING_SESSION);
    struct session s;
    bpt_kx_answer a;

    create(&s, f, "{}");
    char *body = bpt_test_kx_secrets_body(s.pk, s.idraw, "db_password", "db_password", "hunter2");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    assert_int_equal(a.delivered, 1);
    json_t *j = parse(&a);
    bpt_kx_answer_dispose(&a);
    assert_true(json_is_true(json_object_get(j, "success")));
    assert_int_equal(json_array_size(json_object_get(j, "stored")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "stored"), 0)),
                        "db_password");
    uint8_t md[32];
    char fp[65], digest[65];
    SHA256(s.pk, 32, md);
    bpt_hex_encode_to(fp, md, 32);
    assert_string_equal(json_string_value(json_object_get(j, "key_fingerprint")), fp);
    /* attestation_digest is the digest of the evidence the session answer carried */
    char *att = json_dumps(json_object_get(s.answer, "attestation"), JSON_COMPACT);
    bpt_report *rep = NULL;
    assert_ok(bpt_report_from_json(&rep, att, strlen(att)));
    bpt_report_evidence_digest(digest, rep);
    assert_string_equal(json_string_value(json_object_get(j, "attestation_digest")), digest);
    bpt_report_free(rep);
    free(att);
    json_decref(j);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, f->store, "db_password"));
    assert_int_equal(bpt_secret_len(v), 7);
    assert_memory_equal(bpt_secret_data(v), "hunter2", 7);
    bpt_secret_free(v);

    /* one-time use: the same body again finds no session */
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_SESSION_NOT_FOUND);
    assert_int_equal(a.delivered, 0);
    assert_error_answer(&a, BPT_KX_SESSION_NOT_FOUND, "no such session");
    free(body);
    forget(&s);

    /* a callback and no store: the callback sees the plaintext, nothing is stored */
    struct bpt_test_kx_seen sn;
    memset(&sn, 0, sizeof(sn));
    f->d.store = NULL;
    f->d.on_secret = bpt_test_kx_on_secret;
    f->d.on_secret_userdata = &sn;
    create(&s, f, "{}");
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, "tok", "tok", "abc");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    assert_int_equal(a.delivered, 1);
    bpt_kx_answer_dispose(&a);
    assert_int_equal(sn.calls, 1);
    assert_string_equal(sn.sid, s.id);
    assert_string_equal(sn.name, "tok");
    assert_string_equal(sn.value, "abc");
    assert_int_equal(bpt_kx_store_count(f->store), 1);
    free(body);
    forget(&s);
    f->d.store = f->store;
    f->d.on_secret = NULL;

    /* 64 secrets in one call: the limit */
    create(&s, f, "{}");
    body = entries_body(&s, BPT_KX_MAX_SECRETS_PER_REQUEST, SIZE_MAX, false);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    assert_int_equal(a.delivered, BPT_KX_MAX_SECRETS_PER_REQUEST);
    bpt_kx_answer_dispose(&a);
    assert_int_equal(bpt_kx_store_count(f->store), 1 + BPT_KX_MAX_SECRETS_PER_REQUEST);
    free(body);
    forget(&s);
    drop(f);
}

static void test_submit_refusals(void **state)
{
    (void)state;
    struct fixture *f = make(8, true, BPT_KX_BINDING_SESSION);
    struct session s;
    bpt_kx_answer a;
    /* names: 1..128 bytes of [A-Za-z0-9._-] (issue 13: they reach logs) */
    char name128[129], name129[130];
    memset(name128, 'n', 128);
    name128[128] = '\0';
    memset(name129, 'n', 129);
    name129[129] = '\0';

    /* decrypt_failed: all or nothing, and the message names no secret */
    create(&s, f, "{}");
    char *body = entries_body(&s, 3, 2, false);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_DECRYPT_FAILED);
    assert_int_equal(a.delivered, 0);
    assert_null(strstr(bpt_kx_answer_body(&a), "s2"));
    assert_error_answer(&a, BPT_KX_DECRYPT_FAILED, "a secret could not be opened");
    assert_int_equal(bpt_kx_store_count(f->store), 0);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_SESSION_NOT_FOUND);
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);

    /* bad_request bodies, each consuming its session */
    enum { LITERAL, TOO_MANY, SAME_NAME, LONG_NAME, V0_PAYLOAD };
    static const struct {
        int kind;
        const char *body; /* LITERAL */
        const char *msg;
    } bad[] = {
        {LITERAL, "", "invalid JSON"},
        {LITERAL, "{", "invalid JSON"},
        {LITERAL, "[]", "not a JSON object"},
        {LITERAL, "{\"other\":1}", "other"},
        {LITERAL, "{\"secrets\":{}}", "secrets"},
        {LITERAL, "{\"secrets\":[]}", "want 1..64 entries, got 0"},
        {LITERAL, "{\"secrets\":[1]}", "secrets[0] is not an object"},
        {LITERAL, "{\"secrets\":[{\"name\":\"a\"}]}", "missing field 'enc'"},
        {LITERAL, "{\"secrets\":[{\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
         "missing field 'name'"},
        {LITERAL, "{\"secrets\":[{\"name\":\"\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
         "1..128 bytes of [A-Za-z0-9._-]"},
        {LITERAL,
         "{\"secrets\":[{\"name\":\"a\\u0000b\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
         "NUL"},
        /* a name that would forge a log line, or colour a terminal */
        {LITERAL,
         "{\"secrets\":[{\"name\":\"a\\nserve: session 0 delivered secret 'x'\",\"enc\":\"AA==\","
         "\"ciphertext\":\"AA==\"}]}",
         "[A-Za-z0-9._-]"},
        {LITERAL,
         "{\"secrets\":[{\"name\":\"a\\u001b[31m\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
         "[A-Za-z0-9._-]"},
        {LITERAL,
         "{\"secrets\":[{\"name\":\"db password\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
         "[A-Za-z0-9._-]"},
        {LITERAL, "{\"secrets\":[{\"name\":\"a\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\"}]}",
         "enc is 1 bytes, want 32"},
        {LITERAL, "{\"secrets\":[{\"name\":\"a\",\"enc\":\"!!\",\"ciphertext\":\"AA==\"}]}", "enc"},
        {LITERAL,
         "{\"secrets\":[{\"name\":\"a\",\"enc\":\"AA==\",\"ciphertext\":\"AA==\",\"x\":1}]}", "x"},
        {TOO_MANY, NULL, "got 65"},
        {SAME_NAME, NULL, "repeats"},
        {LONG_NAME, NULL, "1..128"},
        {V0_PAYLOAD, NULL, "session_id"}, /* with v0 off, an unknown v1 key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        create(&s, f, "{}");
        char *built = NULL;
        switch (bad[i].kind) {
        case TOO_MANY:
            built = entries_body(&s, BPT_KX_MAX_SECRETS_PER_REQUEST + 1, SIZE_MAX, false);
            break;
        case SAME_NAME:
            built = entries_body(&s, 2, SIZE_MAX, true);
            break;
        case LONG_NAME:
            built = bpt_test_kx_secrets_body(s.pk, s.idraw, name129, name129, "v");
            break;
        case V0_PAYLOAD:
            built = bpt_test_kx_v0_body(s.id, s.pk, "v", false);
            break;
        default:
            break;
        }
        const char *b = built != NULL ? built : bad[i].body;
        bpt_kx_outcome o = submit(&a, f, s.id, b);
        if (o != BPT_KX_BAD_REQUEST) {
            fail_msg("case %zu (%s): %s", i, bad[i].msg, bpt_kx_answer_body(&a));
        }
        assert_int_equal(a.delivered, 0);
        assert_error_answer(&a, BPT_KX_BAD_REQUEST, bad[i].msg);
        assert_outcome(submit(&a, f, s.id, b), BPT_KX_SESSION_NOT_FOUND);
        bpt_kx_answer_dispose(&a);
        free(built);
        forget(&s);
    }
    assert_int_equal(bpt_kx_store_count(f->store), 0);

    /* a 128-byte name, and every character of the alphabet, are fine */
    create(&s, f, "{}");
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, name128, name128, "v");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);
    create(&s, f, "{}");
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, "Az09._-", "Az09._-", "v");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);

    /* ids: unknown is 404; malformed, not hex or upper case is 400 (ids are lower-case hex,
     * one spelling per session) */
    assert_outcome(submit(&a, f, "00000000000000000000000000000000", "{}"),
                   BPT_KX_SESSION_NOT_FOUND);
    assert_error_answer(&a, BPT_KX_SESSION_NOT_FOUND, "no such session");
    static const char *const ids[] = {"xyz", "zz000000000000000000000000000000", "",
                                      "ABCDEF00000000000000000000000000"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        assert_outcome(submit(&a, f, ids[i], "{}"), BPT_KX_BAD_REQUEST);
        assert_error_answer(&a, BPT_KX_BAD_REQUEST, "lower-case hex");
    }
    /* the upper-case spelling of a live id does not reach it, and leaves it live */
    create(&s, f, "{}");
    char upper[33];
    for (size_t i = 0; i < 33; i++) {
        upper[i] = (char)toupper((unsigned char)s.id[i]);
    }
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, "n", "n", "v");
    if (strcmp(upper, s.id) != 0) {
        assert_outcome(submit(&a, f, upper, body), BPT_KX_BAD_REQUEST);
        bpt_kx_answer_dispose(&a);
    }
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);

    /* expired: past the TTL the session is gone with 410, then unknown */
    create(&s, f, "{}");
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, "n", "n", "v");
    f->now += 61;
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_SESSION_EXPIRED);
    assert_error_answer(&a, BPT_KX_SESSION_EXPIRED, "session expired");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_SESSION_NOT_FOUND);
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);
    drop(f);
}

/* The store has room for one of two secrets: 507 store_full, and neither is stored (a batch is
 * all or nothing; before issue 13 the first stayed stored behind a 500). */
static void test_submit_store_full(void **state)
{
    (void)state;
    struct fixture *f = make(2, false, BPT_KX_BINDING_SESSION);
    struct session s;
    bpt_kx_answer a;
    for (size_t i = 0; i + 1 < BPT_LIMIT_LIST_ENTRIES; i++) {
        char name[24];
        bpt_secret *v = NULL;
        snprintf(name, sizeof(name), "old%zu", i);
        assert_ok(bpt_secret_from(&v, (const uint8_t *)"x", 1));
        assert_ok(bpt_kx_store_put(f->store, name, v));
    }
    create(&s, f, "{}");
    char *body = entries_body(&s, 2, SIZE_MAX, false);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_STORE_FULL);
    assert_int_equal(a.delivered, 0);
    assert_error_answer(&a, BPT_KX_STORE_FULL, "store is full");
    assert_int_equal(bpt_kx_store_count(f->store), BPT_LIMIT_LIST_ENTRIES - 1);
    free(body);
    forget(&s);
    drop(f);
}

static void test_submit_legacy_v0(void **state)
{
    (void)state;
    struct fixture *f = make(8, false, BPT_KX_BINDING_SESSION);
    struct session s;
    bpt_kx_answer a;
    f->d.legacy_v0 = true;

    create(&s, f, "{}");
    char *body = bpt_test_kx_v0_body(s.id, s.pk, "rust-client-secret", false);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    assert_int_equal(a.delivered, 1);
    assert_non_null(strstr(bpt_kx_answer_body(&a), "\"stored\":[\"sealed_secret\"]"));
    bpt_kx_answer_dispose(&a);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, f->store, "sealed_secret"));
    assert_int_equal(bpt_secret_len(v), 18);
    assert_memory_equal(bpt_secret_data(v), "rust-client-secret", 18);
    bpt_secret_free(v);
    free(body);
    forget(&s);

    /* a broken tag */
    create(&s, f, "{}");
    body = bpt_test_kx_v0_body(s.id, s.pk, "x", true);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_DECRYPT_FAILED);
    assert_error_answer(&a, BPT_KX_DECRYPT_FAILED, "a secret could not be opened");
    free(body);
    forget(&s);

    /* another session's id in the payload */
    create(&s, f, "{}");
    body = bpt_test_kx_v0_body("00000000000000000000000000000000", s.pk, "x", false);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_BAD_REQUEST);
    assert_error_answer(&a, BPT_KX_BAD_REQUEST, "session_id differs");
    free(body);
    forget(&s);

    /* a nonce of 3 bytes */
    create(&s, f, "{}");
    json_t *j = json_pack("{s:s,s:[i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i],s:[i,i,i],s:s}", "session_id",
                          s.id, "ciphertext", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                          "nonce", 1, 2, 3, "ephemeral_public_key",
                          "0909090909090909090909090909090909090909090909090909090909090909");
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_BAD_REQUEST);
    assert_error_answer(&a, BPT_KX_BAD_REQUEST, "nonce must be 12 bytes");
    free(body);
    forget(&s);
    drop(f);
}

/* The body parser on a session of its own: the outcome of each way to end, and an expired
 * session found only when its secrets are opened. */
static void test_open_secrets_body(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_clock clock = bpt_clock_fixed(&now);
    bpt_kx_session *s = NULL;
    struct bpt_kx_opened out[BPT_KX_MAX_SECRETS_PER_REQUEST];
    size_t n = 0;
    json_t *body = NULL;
    assert_ok(bpt_kx_session_new(&s, 10, &clock));
    char *v1 = bpt_test_kx_secrets_body(bpt_kx_session_public_key(s), bpt_kx_session_id(s), "k",
                                        "k", "value");
    char *v0 =
        bpt_test_kx_v0_body(bpt_kx_session_id_hex(s), bpt_kx_session_public_key(s), "v0", false);

    memset(out, 0, sizeof(out));
    assert_outcome(bpt_kx_open_secrets_body(out, &n, &body, s, v1, strlen(v1), &V1), BPT_KX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "k");
    assert_int_equal(bpt_secret_len(out[0].value), 5);
    assert_memory_equal(bpt_secret_data(out[0].value), "value", 5);
    bpt_secret_free(out[0].value);
    json_decref(body);

    memset(out, 0, sizeof(out));
    assert_outcome(bpt_kx_open_secrets_body(out, &n, &body, s, v0, strlen(v0), &V0), BPT_KX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "sealed_secret");
    bpt_secret_free(out[0].value);
    json_decref(body);

    memset(out, 0, sizeof(out));
    assert_outcome(bpt_kx_open_secrets_body(out, &n, &body, s, "{", 1, &V1), BPT_KX_BAD_REQUEST);
    assert_int_equal(n, 0);
    json_decref(body);

    now += 11;
    memset(out, 0, sizeof(out));
    assert_outcome(bpt_kx_open_secrets_body(out, &n, &body, s, v1, strlen(v1), &V1),
                   BPT_KX_SESSION_EXPIRED);
    assert_non_null(strstr(bpt_error_last(), "expired"));
    assert_int_equal(n, 0);
    assert_null(out[0].value);
    json_decref(body);
    assert_outcome(bpt_kx_open_secrets_body(out, &n, &body, s, v0, strlen(v0), &V0),
                   BPT_KX_SESSION_EXPIRED);
    assert_null(out[0].value);
    json_decref(body);

    free(v1);
    free(v0);
    bpt_kx_session_free(s);
}

/* ---- GET /v1/attestation ----------------------------------------------------------------- */

static void test_attestation(void **state)
{
    (void)state;
    struct fixture *f = make(2, true, BPT_KX_BINDING_SESSION);
    bpt_kx_answer a;
    uint8_t want[64];

    assert_outcome(bpt_kx_answer_attestation(&a, f->svc, NULL), BPT_KX_OK);
    memset(want, 0, sizeof(want));
    assert_memory_equal(f->att.last_rd, want, 64);
    json_t *j = parse(&a);
    assert_true(json_is_object(json_object_get(j, "attestation")));
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);
    bpt_kx_answer_dispose(&a);

    static const uint8_t nonce[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    assert_outcome(bpt_kx_answer_attestation(&a, f->svc, "000102030405060708090a0b0c0d0e0f"),
                   BPT_KX_OK);
    SHA256(nonce, sizeof(nonce), want + 32);
    assert_memory_equal(f->att.last_rd, want, 64);
    bpt_kx_answer_dispose(&a);

    assert_outcome(bpt_kx_answer_attestation(&a, f->svc, "00"), BPT_KX_BAD_REQUEST);
    assert_error_answer(&a, BPT_KX_BAD_REQUEST, "nonce is 1 bytes");
    assert_outcome(bpt_kx_answer_attestation(&a, f->svc, "zz"), BPT_KX_BAD_REQUEST);
    assert_error_answer(&a, BPT_KX_BAD_REQUEST, "not hex");

    f->att.fail = BPT_EIO;
    assert_outcome(bpt_kx_answer_attestation(&a, f->svc, NULL), BPT_KX_INTERNAL);
    assert_null(strstr(bpt_kx_answer_body(&a), "no TEE"));
    assert_error_answer(&a, BPT_KX_INTERNAL, "attestation failed");
    drop(f);

    f = make(2, false, BPT_KX_BINDING_SESSION);
    assert_outcome(bpt_kx_answer_attestation(&a, f->svc, NULL), BPT_KX_NOT_SUPPORTED);
    assert_error_answer(&a, BPT_KX_NOT_SUPPORTED, "no attester");
    drop(f);
}

/* ---- issue 13: the service's inputs ------------------------------------------------------ */

/* What the on_secret callback saw: whether the store held the name at that moment. */
struct order_probe {
    bpt_kx_store *store;
    int calls, stored_before;
};

static void probe_on_secret(const char *sid, const char *name, const bpt_secret *v, void *u)
{
    struct order_probe *p = u;
    bpt_secret *copy = NULL;
    (void)sid;
    assert_non_null(v);
    p->calls++;
    if (bpt_kx_store_get(&copy, p->store, name) == 0) {
        p->stored_before++;
    }
    bpt_secret_free(copy);
}

/* First writer wins: a second delivery of a stored name is 409 and consumes its session;
 * the callback runs only once the store holds the delivery, never for a refused one. */
static void test_submit_conflict(void **state)
{
    (void)state;
    struct fixture *f = make(8, false, BPT_KX_BINDING_SESSION);
    struct order_probe probe = {f->store, 0, 0};
    struct session s;
    bpt_kx_answer a;
    f->d.on_secret = probe_on_secret;
    f->d.on_secret_userdata = &probe;

    create(&s, f, "{}");
    char *body = bpt_test_kx_secrets_body(s.pk, s.idraw, "db.password", "db.password", "first");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    assert_int_equal(a.delivered, 1);
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);
    assert_int_equal(probe.calls, 1);
    assert_int_equal(probe.stored_before, 1); /* the store had it when the callback ran */

    create(&s, f, "{}");
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, "db.password", "db.password", "attacker");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_CONFLICT);
    assert_int_equal(a.delivered, 0);
    assert_error_answer(&a, BPT_KX_CONFLICT, "'db.password' is stored already");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_SESSION_NOT_FOUND); /* consumed */
    bpt_kx_answer_dispose(&a);
    free(body);
    forget(&s);
    assert_int_equal(probe.calls, 1); /* not called for the refused delivery */
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, f->store, "db.password"));
    assert_memory_equal(bpt_secret_data(v), "first", 5);
    bpt_secret_free(v);

    /* a batch with one stored name stores none of its others */
    create(&s, f, "{}");
    json_t *arr = json_array();
    static const char *const names[] = {"fresh", "db.password"};
    for (size_t i = 0; i < 2; i++) {
        char *one = bpt_test_kx_secrets_body(s.pk, s.idraw, names[i], names[i], "x");
        json_t *j = json_loads(one, 0, NULL);
        json_array_append(arr, json_array_get(json_object_get(j, "secrets"), 0));
        json_decref(j);
        free(one);
    }
    json_t *bj = json_pack("{s:o}", "secrets", arr);
    body = json_dumps(bj, JSON_COMPACT);
    json_decref(bj);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_CONFLICT);
    bpt_kx_answer_dispose(&a);
    assert_rc_msg(bpt_kx_store_get(&v, f->store, "fresh"), BPT_ENOTFOUND, "fresh");
    free(body);
    forget(&s);

    /* the replace policy takes the second value */
    bpt_kx_store_set_policy(f->store, BPT_KX_STORE_REPLACE);
    create(&s, f, "{}");
    body = bpt_test_kx_secrets_body(s.pk, s.idraw, "db.password", "db.password", "rotated");
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    bpt_kx_answer_dispose(&a);
    assert_ok(bpt_kx_store_get(&v, f->store, "db.password"));
    assert_memory_equal(bpt_secret_data(v), "rotated", 7);
    bpt_secret_free(v);
    free(body);
    forget(&s);
    drop(f);
}

/* @p body (a v1 secrets body for session @p id) with "sender" added: @p key's Ed25519
 * signature over bpt_kx_sender_message(@p sign_id, secrets). */
static char *signed_body(const char *body, EVP_PKEY *key, const uint8_t sign_id[16])
{
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    uint8_t msg[BPT_KX_SENDER_MESSAGE_LEN], sig[64], pub[32];
    size_t sl = sizeof(sig), pl = sizeof(pub);
    assert_ok(bpt_kx_sender_message(msg, sign_id, json_object_get(j, "secrets")));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &sl, msg, sizeof(msg)), 1);
    EVP_MD_CTX_free(md);
    assert_int_equal(EVP_PKEY_get_raw_public_key(key, pub, &pl), 1);
    char pub_hex[65], sig_hex[129];
    bpt_hex_encode_to(pub_hex, pub, sizeof(pub));
    bpt_hex_encode_to(sig_hex, sig, sizeof(sig));
    json_object_set_new(j, "sender",
                        json_pack("{s:s,s:s,s:s}", "key_type", "ed25519", "public_key", pub_hex,
                                  "signature", sig_hex));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* Authorized senders: a delivery must be signed by a listed key over this session and this
 * body, checked before anything is opened; every refusal consumes the session. */
static void test_submit_authorized_senders(void **state)
{
    (void)state;
    struct fixture *f = make(16, false, BPT_KX_BINDING_SESSION);
    EVP_PKEY *good = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(good);
    assert_non_null(other);
    uint8_t keys[64];
    size_t pl = 32;
    memset(keys, 0x11, 32); /* an unrelated first entry */
    assert_int_equal(EVP_PKEY_get_raw_public_key(good, keys + 32, &pl), 1);
    f->d.senders = keys;
    f->d.n_senders = 2;
    struct session s;
    bpt_kx_answer a;
    enum { UNSIGNED, UNKNOWN_KEY, OTHER_SESSION, CHANGED_BODY, BAD_TYPE, V0_BODY };
    static const struct {
        int kind;
        const char *msg;
    } bad[] = {
        {UNSIGNED, "carries no sender"},
        {UNKNOWN_KEY, "not an authorized sender"},
        {OTHER_SESSION, "signature does not verify"},
        {CHANGED_BODY, "signature does not verify"},
        {BAD_TYPE, "key_type 'secp256k1'"},
        {V0_BODY, "v0 payload cannot name its sender"},
    };
    f->d.legacy_v0 = true;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        create(&s, f, "{}");
        char *plain = bpt_test_kx_secrets_body(s.pk, s.idraw, "tok", "tok", "v");
        char *body = NULL;
        uint8_t wrong_id[16];
        memcpy(wrong_id, s.idraw, 16);
        wrong_id[0] ^= 1;
        switch (bad[i].kind) {
        case UNSIGNED:
            body = strdup(plain);
            break;
        case UNKNOWN_KEY:
            body = signed_body(plain, other, s.idraw);
            break;
        case OTHER_SESSION:
            body = signed_body(plain, good, wrong_id);
            break;
        case CHANGED_BODY: {
            /* signed over one ciphertext, sent with another */
            char *other_plain = bpt_test_kx_secrets_body(s.pk, s.idraw, "tok", "tok", "w");
            char *sb = signed_body(plain, good, s.idraw);
            json_t *j = json_loads(sb, 0, NULL), *o = json_loads(other_plain, 0, NULL);
            json_object_set(j, "secrets", json_object_get(o, "secrets"));
            body = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            json_decref(o);
            free(sb);
            free(other_plain);
            break;
        }
        case BAD_TYPE: {
            char *sb = signed_body(plain, good, s.idraw);
            json_t *j = json_loads(sb, 0, NULL);
            json_object_set_new(json_object_get(j, "sender"), "key_type", json_string("secp256k1"));
            body = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            free(sb);
            break;
        }
        default:
            body = bpt_test_kx_v0_body(s.id, s.pk, "v", false);
            break;
        }
        bpt_kx_outcome o = submit(&a, f, s.id, body);
        if (o != BPT_KX_SENDER_REFUSED) {
            fail_msg("case %zu (%s): %s", i, bad[i].msg, bpt_kx_answer_body(&a));
        }
        assert_error_answer(&a, BPT_KX_SENDER_REFUSED, bad[i].msg);
        /* the session is gone whatever the refusal: a good signature comes too late */
        char *good_body = signed_body(plain, good, s.idraw);
        assert_outcome(submit(&a, f, s.id, good_body), BPT_KX_SESSION_NOT_FOUND);
        bpt_kx_answer_dispose(&a);
        free(good_body);
        free(body);
        free(plain);
        forget(&s);
    }
    assert_int_equal(bpt_kx_store_count(f->store), 0);

    /* signed by an authorized key over this session and body: stored */
    create(&s, f, "{}");
    char *plain = bpt_test_kx_secrets_body(s.pk, s.idraw, "tok", "tok", "v");
    char *body = signed_body(plain, good, s.idraw);
    assert_outcome(submit(&a, f, s.id, body), BPT_KX_OK);
    bpt_kx_answer_dispose(&a);
    assert_int_equal(bpt_kx_store_count(f->store), 1);
    free(body);
    free(plain);
    forget(&s);
    EVP_PKEY_free(good);
    EVP_PKEY_free(other);
    drop(f);
}

/* A session flood from one client leaves room for another; a full table reclaims a session
 * left unused past first_use_secs (protocol answers 429 too_many_sessions and 503). */
static void test_create_per_client(void **state)
{
    (void)state;
    struct fixture *f = make(4, false, BPT_KX_BINDING_SESSION);
    bpt_kx_answer a;
    for (int i = 0; i < 4; i++) {
        assert_outcome(bpt_kx_answer_create_session(&a, f->svc, "10.0.0.1", "{}", 2),
                       BPT_KX_CREATED);
        bpt_kx_answer_dispose(&a);
    }
    /* the table (4) is full before the client's share (16): 503 for everyone */
    assert_outcome(bpt_kx_answer_create_session(&a, f->svc, "10.0.0.2", "{}", 2), BPT_KX_CAPACITY);
    assert_error_answer(&a, BPT_KX_CAPACITY, "capacity");
    /* once the oldest has been left unused for first_use_secs (30), it makes room */
    f->now += 30;
    assert_outcome(bpt_kx_answer_create_session(&a, f->svc, "10.0.0.2", "{}", 2), BPT_KX_CREATED);
    bpt_kx_answer_dispose(&a);
    bpt_kx_service_stats st = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&st, f->svc);
    assert_int_equal(st.reclaimed, 1);
    assert_int_equal(st.active, 4);
    drop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_table),
        cmocka_unit_test(test_create_session),
        cmocka_unit_test(test_create_session_service_key),
        cmocka_unit_test(test_submit_secrets),
        cmocka_unit_test(test_submit_refusals),
        cmocka_unit_test(test_submit_store_full),
        cmocka_unit_test(test_submit_legacy_v0),
        cmocka_unit_test(test_open_secrets_body),
        cmocka_unit_test(test_attestation),
        cmocka_unit_test(test_submit_conflict),
        cmocka_unit_test(test_submit_authorized_senders),
        cmocka_unit_test(test_create_per_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
