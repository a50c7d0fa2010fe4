/*
 * JSON helpers: depth and size caps (at the limit and one past), duplicate keys, each getter's
 * type error naming the field, byte fields as hex / base64 / integer arrays, check_keys.
 */
#include "helpers/test.h"

#include "core/json.h"
#include "core/limits.h"

#include <stdlib.h>

static json_t *parse_ok(const char *text)
{
    json_t *j = NULL;
    assert_ok(bpt_json_parse(&j, text, strlen(text), "doc"));
    assert_non_null(j);
    return j;
}

static char *nested(int depth, char open, char close)
{
    char *s = malloc((size_t)depth * 2 + 1);
    assert_non_null(s);
    memset(s, open, (size_t)depth);
    memset(s + depth, close, (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

static void test_depth(void **state)
{
    json_t *j = NULL;
    char *s;
    (void)state;
    assert_int_equal(BPT_LIMIT_JSON_DEPTH, 64);
    s = nested(64, '[', ']');
    assert_ok(bpt_json_parse(&j, s, strlen(s), "doc"));
    json_decref(j);
    free(s);
    s = nested(65, '[', ']');
    j = (json_t *)(uintptr_t)1;
    assert_rc_msg(bpt_json_parse(&j, s, strlen(s), "policy"), BPT_EMALFORMED,
                  "policy: JSON nested deeper than 64 levels");
    assert_null(j);
    free(s);

    /* Objects count too: {"a":{"a":...}} 65 deep. */
    bpt_buf b = BPT_BUF_INIT(4096);
    for (int i = 0; i < 65; i++) {
        assert_ok(bpt_buf_append_str(&b, "{\"a\":"));
    }
    assert_ok(bpt_buf_append_str(&b, "1"));
    for (int i = 0; i < 65; i++) {
        assert_ok(bpt_buf_append_str(&b, "}"));
    }
    assert_rc_msg(bpt_json_parse(&j, (char *)b.data, b.len, "doc"), BPT_EMALFORMED, "deeper");
    bpt_buf_dispose(&b);

    /* Brackets inside strings (with escaped quotes) do not count. */
    bpt_buf_init(&b, 4096);
    assert_ok(bpt_buf_append_str(&b, "{\"k\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                                     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}"));
    assert_ok(bpt_json_parse(&j, (char *)b.data, b.len, "doc"));
    json_decref(j);
    bpt_buf_dispose(&b);
}

static void test_size_limit(void **state)
{
    size_t n = BPT_LIMIT_JSON_BYTES;
    char *s = malloc(n + 2);
    json_t *j = NULL;
    (void)state;
    assert_non_null(s);
    /* An array holding one string, exactly the limit in all. */
    s[0] = '[';
    s[1] = '"';
    memset(s + 2, 'a', n - 4);
    s[n - 2] = '"';
    s[n - 1] = ']';
    s[n] = ' ';
    s[n + 1] = '\0';
    assert_ok(bpt_json_parse(&j, s, n, "doc"));
    assert_int_equal(json_string_length(json_array_get(j, 0)), n - 4);
    json_decref(j);
    assert_rc_msg(bpt_json_parse(&j, s, n + 1, "report"), BPT_ELIMIT,
                  "report: JSON of 4194305 bytes exceeds the limit of 4194304");
    assert_null(j);
    free(s);
}

static void test_invalid_and_duplicates(void **state)
{
    json_t *j = NULL;
    (void)state;
    assert_rc_msg(bpt_json_parse(&j, "{\"a\":1,\"a\":2}", 13, "cfg"), BPT_EMALFORMED,
                  "cfg: invalid JSON at line 1");
    assert_non_null(strstr(bpt_error_last(), "duplicate"));
    assert_null(j);
    assert_rc_msg(bpt_json_parse(&j, "{\"a\":", 5, "cfg"), BPT_EMALFORMED, "invalid JSON");
    assert_rc_msg(bpt_json_parse(&j, "", 0, "cfg"), BPT_EMALFORMED, "cfg: invalid JSON");
    assert_rc_msg(bpt_json_parse(&j, "{} x", 4, "cfg"), BPT_EMALFORMED, "invalid JSON");
    /* Not NUL-terminated: only len bytes are read. */
    assert_ok(bpt_json_parse(&j, "[1]garbage", 3, "cfg"));
    json_decref(j);
}

static void test_getters(void **state)
{
    json_t *j = parse_ok("{\"s\":\"txt\",\"b\":true,\"i\":-5,\"u\":7,\"o\":{},\"a\":[1],"
                         "\"n\":null,\"f\":1.5,\"big\":9223372036854775807}");
    const char *s = "untouched";
    bool b = false;
    int64_t i = 0;
    uint64_t u = 0;
    json_t *o = NULL, *a = NULL;
    (void)state;
    assert_int_equal(bpt_json_get_str(j, "s", &s, true, "ctx"), 1);
    assert_string_equal(s, "txt");
    assert_int_equal(bpt_json_get_bool(j, "b", &b, true, "ctx"), 1);
    assert_true(b);
    assert_int_equal(bpt_json_get_i64(j, "i", &i, true, "ctx"), 1);
    assert_true(i == -5);
    assert_int_equal(bpt_json_get_u64(j, "u", &u, true, "ctx"), 1);
    assert_true(u == 7);
    assert_int_equal(bpt_json_get_u64(j, "big", &u, true, "ctx"), 1);
    assert_true(u == INT64_MAX);
    assert_int_equal(bpt_json_get_obj(j, "o", &o, true, "ctx"), 1);
    assert_true(json_is_object(o));
    assert_int_equal(bpt_json_get_arr(j, "a", &a, true, "ctx"), 1);
    assert_true(json_is_array(a));

    /* Absent or null optional fields: 0, output untouched. */
    s = "untouched";
    assert_int_equal(bpt_json_get_str(j, "missing", &s, false, "ctx"), 0);
    assert_int_equal(bpt_json_get_str(j, "n", &s, false, "ctx"), 0);
    assert_string_equal(s, "untouched");
    i = 99;
    assert_int_equal(bpt_json_get_i64(j, "n", &i, false, "ctx"), 0);
    assert_true(i == 99);

    /* Required and absent (or null): named. */
    assert_rc_msg(bpt_json_get_str(j, "missing", &s, true, "policy"), BPT_EINVAL,
                  "policy: missing field 'missing'");
    assert_rc_msg(bpt_json_get_bool(j, "n", &b, true, "policy"), BPT_EINVAL,
                  "policy: missing field 'n'");

    /* Each getter's type error names the field and what it must be. */
    static const struct {
        const char *key;
        int which;
        const char *msg;
    } type_cases[] = {
        {"i", 0, "pol: field 'i' must be a string"},
        {"s", 1, "pol: field 's' must be true or false"},
        {"s", 2, "pol: field 's' must be an integer"},
        {"f", 2, "pol: field 'f' must be an integer"},
        {"i", 3, "pol: field 'i' must be a non-negative integer"},
        {"b", 3, "pol: field 'b' must be an integer"},
        {"a", 4, "pol: field 'a' must be an object"},
        {"o", 5, "pol: field 'o' must be an array"},
    };
    for (size_t k = 0; k < sizeof(type_cases) / sizeof(type_cases[0]); k++) {
        const char *key = type_cases[k].key;
        int rc;
        switch (type_cases[k].which) {
        case 0:
            rc = bpt_json_get_str(j, key, &s, false, "pol");
            break;
        case 1:
            rc = bpt_json_get_bool(j, key, &b, false, "pol");
            break;
        case 2:
            rc = bpt_json_get_i64(j, key, &i, false, "pol");
            break;
        case 3:
            rc = bpt_json_get_u64(j, key, &u, false, "pol");
            break;
        case 4:
            rc = bpt_json_get_obj(j, key, &o, false, "pol");
            break;
        default:
            rc = bpt_json_get_arr(j, key, &a, false, "pol");
            break;
        }
        if (rc != BPT_EINVAL || strcmp(bpt_error_last(), type_cases[k].msg) != 0) {
            fail_msg("case %zu: got %d '%s', want '%s'", k, rc, bpt_error_last(),
                     type_cases[k].msg);
        }
    }
    /* A non-object document has no fields. */
    json_t *arr = parse_ok("[1,2]");
    assert_int_equal(bpt_json_get_str(arr, "s", &s, false, "ctx"), 0);
    assert_rc_msg(bpt_json_get_str(arr, "s", &s, true, "ctx"), BPT_EINVAL, "missing field 's'");
    json_decref(arr);
    json_decref(j);
}

static void test_string_limits(void **state)
{
    bpt_buf b = BPT_BUF_INIT(16384);
    const char *s = NULL;
    json_t *j;
    (void)state;
    assert_ok(bpt_buf_append_str(&b, "{\"ok\":\""));
    for (int i = 0; i < BPT_LIMIT_TEXT_BYTES; i++) {
        assert_ok(bpt_buf_append_str(&b, "a"));
    }
    assert_ok(bpt_buf_append_str(&b, "\",\"long\":\"a"));
    for (int i = 0; i < BPT_LIMIT_TEXT_BYTES; i++) {
        assert_ok(bpt_buf_append_str(&b, "a"));
    }
    assert_ok(bpt_buf_append_str(&b, "\",\"nul\":\"a\\u0000b\"}"));
    assert_ok(bpt_json_parse(&j, (char *)b.data, b.len, "doc"));
    assert_int_equal(bpt_json_get_str(j, "ok", &s, true, "cfg"), 1);
    assert_int_equal(strlen(s), BPT_LIMIT_TEXT_BYTES);
    assert_rc_msg(bpt_json_get_str(j, "long", &s, true, "cfg"), BPT_ELIMIT,
                  "cfg: field 'long' longer than 4096 bytes");
    assert_rc_msg(bpt_json_get_str(j, "nul", &s, true, "cfg"), BPT_EINVAL,
                  "cfg: field 'nul' contains a NUL character");
    json_decref(j);
    bpt_buf_dispose(&b);
}

static void check_bytes(json_t *j, const char *key, bool base64_strings, const uint8_t *want,
                        size_t want_len)
{
    bpt_buf b = BPT_BUF_INIT(64);
    int rc = bpt_json_get_bytes(j, key, &b, base64_strings, true, "rep");
    if (rc != 1) {
        fail_msg("key %s: %d %s", key, rc, bpt_error_last());
    }
    assert_int_equal(b.len, want_len);
    if (want_len) {
        assert_memory_equal(b.data, want, want_len);
    }
    bpt_buf_dispose(&b);
}

static void test_bytes(void **state)
{
    json_t *j =
        parse_ok("{\"hex\":\"00ff10\",\"HEX\":\"00FF10\",\"b64\":\"AP8Q\",\"arr\":[0,255,16],"
                 "\"empty\":\"\",\"earr\":[],\"ambig\":\"abcd\",\"b64pad\":\"AP8=\","
                 "\"big\":[256],\"neg\":[1,-1],\"str\":[1,\"a\"],\"flt\":[1.5],"
                 "\"num\":5,\"obj\":{},\"bad\":\"zz\",\"noncanon\":\"AP9=\"}");
    const uint8_t want[] = {0x00, 0xff, 0x10};
    bpt_buf b = BPT_BUF_INIT(64);
    (void)state;
    check_bytes(j, "hex", false, want, 3);
    check_bytes(j, "HEX", false, want, 3);
    check_bytes(j, "b64", true, want, 3);
    check_bytes(j, "arr", false, want, 3);
    check_bytes(j, "empty", true, NULL, 0);
    check_bytes(j, "earr", false, NULL, 0);
    check_bytes(j, "b64pad", true, want, 2);
    /* The field decides the encoding: "abcd" is two bytes as hex, three as base64. */
    check_bytes(j, "ambig", false, (const uint8_t *)"\xab\xcd", 2);
    check_bytes(j, "ambig", true, (const uint8_t *)"\x69\xb7\x1d", 3);

    /* Base64 only where the field is base64. */
    assert_rc_msg(bpt_json_get_bytes(j, "b64", &b, false, true, "rep"), BPT_EINVAL,
                  "rep: field 'b64': not hex at offset 1");
    /* Bad elements name the index. */
    assert_rc_msg(bpt_json_get_bytes(j, "big", &b, false, true, "rep"), BPT_EINVAL,
                  "rep: field 'big': byte array element 0 is not an integer 0..255");
    /* A failure after some elements leaves the buffer as it was. */
    assert_ok(bpt_buf_append_str(&b, "keep"));
    assert_rc_msg(bpt_json_get_bytes(j, "neg", &b, false, true, "rep"), BPT_EINVAL, "element 1");
    assert_int_equal(b.len, 4);
    assert_string_equal((char *)b.data, "keep");
    bpt_buf_reset(&b);
    assert_rc_msg(bpt_json_get_bytes(j, "str", &b, false, true, "rep"), BPT_EINVAL, "element 1");
    assert_rc_msg(bpt_json_get_bytes(j, "flt", &b, false, true, "rep"), BPT_EINVAL, "element 0");
    assert_rc_msg(bpt_json_get_bytes(j, "num", &b, true, true, "rep"), BPT_EINVAL,
                  "rep: field 'num': expected a base64 string or an array of bytes");
    assert_rc_msg(bpt_json_get_bytes(j, "obj", &b, false, true, "rep"), BPT_EINVAL,
                  "expected a hex string or an array of bytes");
    assert_rc_msg(bpt_json_get_bytes(j, "bad", &b, true, true, "rep"), BPT_EINVAL,
                  "rep: field 'bad'");
    assert_rc_msg(bpt_json_get_bytes(j, "noncanon", &b, true, true, "rep"), BPT_EINVAL,
                  "non-canonical");
    assert_rc_msg(bpt_json_get_bytes(j, "missing", &b, true, true, "rep"), BPT_EINVAL,
                  "rep: missing field 'missing'");
    assert_int_equal(bpt_json_get_bytes(j, "missing", &b, true, false, "rep"), 0);

    /* The buffer's maximum bounds every shape. */
    bpt_buf small = BPT_BUF_INIT(2);
    assert_rc_msg(bpt_json_get_bytes(j, "hex", &small, false, true, "rep"), BPT_ELIMIT,
                  "rep: field 'hex'");
    bpt_buf_reset(&small);
    assert_rc_msg(bpt_json_get_bytes(j, "arr", &small, false, true, "rep"), BPT_ELIMIT,
                  "rep: field 'arr'");
    bpt_buf_reset(&small);
    assert_rc_msg(bpt_json_get_bytes(j, "b64", &small, true, true, "rep"), BPT_ELIMIT, "limit");
    bpt_buf_dispose(&small);

    /* bpt_json_value_bytes on a bare value. */
    json_t *v = json_string("0102");
    bpt_buf_reset(&b);
    assert_ok(bpt_json_value_bytes(v, &b, false, "val"));
    assert_int_equal(b.len, 2);
    json_decref(v);
    bpt_buf_dispose(&b);
    json_decref(j);
}

static void test_check_keys(void **state)
{
    static const char *const allowed[] = {"allow_debug", "max_age_secs", NULL};
    static const char *const none[] = {NULL};
    json_t *ok = parse_ok("{\"allow_debug\":false,\"max_age_secs\":1}");
    json_t *typo = parse_ok("{\"allow_debug\":false,\"max_age_sec\":1}");
    json_t *empty = parse_ok("{}");
    (void)state;
    assert_ok(bpt_json_check_keys(ok, allowed, "policy"));
    assert_ok(bpt_json_check_keys(empty, none, "policy"));
    assert_rc_msg(bpt_json_check_keys(typo, allowed, "policy"), BPT_EINVAL,
                  "policy: unknown key 'max_age_sec'");
    assert_rc_msg(bpt_json_check_keys(ok, none, "sev_snp"), BPT_EINVAL, "sev_snp: unknown key");
    json_decref(ok);
    json_decref(typo);
    json_decref(empty);
}

static void test_dump(void **state)
{
    json_t *j = parse_ok("{\"b\":1,\"a\":[true,null]}");
    char *s = NULL;
    (void)state;
    assert_ok(bpt_json_dump(&s, j));
    assert_string_equal(s, "{\"a\":[true,null],\"b\":1}");
    bpt_free(s);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_invalid_and_duplicates),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
