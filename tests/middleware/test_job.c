/* Job calls and results: bodies copied, metadata rules (keys, values, order, limits), errors. */
#include "helpers/test.h"

static void test_call(void **state)
{
    static const uint8_t body[] = {1, 2, 3};
    static const uint8_t caller[20] = {0xaa};
    bpt_job_call *c = NULL;
    size_t n = 0;
    const char *k, *v;
    (void)state;
    assert_ok(bpt_job_call_new(&c, 7, 42, 3, body, sizeof(body)));
    assert_int_equal(bpt_job_call_service_id(c), 7);
    assert_int_equal(bpt_job_call_id(c), 42);
    assert_int_equal(bpt_job_call_index(c), 3);
    assert_memory_equal(bpt_job_call_body(c, &n), body, 3);
    assert_int_equal(n, 3);
    assert_null(bpt_job_call_caller(c));
    assert_ok(bpt_job_call_set_caller(c, caller));
    assert_memory_equal(bpt_job_call_caller(c), caller, 20);
    assert_ok(bpt_job_call_meta_set(c, "X-TANGLE-CALL-ID", "42"));
    assert_ok(bpt_job_call_meta_set(c, "X-TANGLE-BLOCK-NUMBER", "9"));
    assert_ok(bpt_job_call_meta_set(c, "X-TANGLE-CALL-ID", "43")); /* replaced in place */
    assert_int_equal(bpt_job_call_meta_count(c), 2);
    assert_true(bpt_job_call_meta_at(c, 0, &k, &v));
    assert_string_equal(k, "X-TANGLE-CALL-ID");
    assert_string_equal(v, "43");
    assert_false(bpt_job_call_meta_at(c, 2, &k, &v));
    assert_string_equal(bpt_job_call_meta_get(c, "X-TANGLE-BLOCK-NUMBER"), "9");
    assert_null(bpt_job_call_meta_get(c, "absent"));
    bpt_job_call_free(c);
    bpt_job_call_free(NULL);
    /* An empty body is a body. */
    assert_ok(bpt_job_call_new(&c, 0, 0, 0, NULL, 0));
    bpt_job_call_free(c);
}

static void test_call_refusals(void **state)
{
    bpt_job_call *c = NULL;
    char long_key[130], long_value[4098];
    (void)state;
    assert_rc_msg(bpt_job_call_new(NULL, 0, 0, 0, NULL, 0), BPT_EINVAL, "no out pointer");
    assert_rc_msg(bpt_job_call_new(&c, 0, 0, 0, NULL, 5), BPT_EINVAL, "NULL body of 5 bytes");
    assert_null(c);
    assert_ok(bpt_job_call_new(&c, 0, 0, 0, NULL, 0));
    assert_rc_msg(bpt_job_call_meta_set(c, "", "v"), BPT_EINVAL, "key ''");
    assert_rc_msg(bpt_job_call_meta_set(c, "a b", "v"), BPT_EINVAL, "key 'a b'");
    assert_rc_msg(bpt_job_call_meta_set(c, "X-Evil\r\nSet-Cookie", "v"), BPT_EINVAL, "key");
    memset(long_key, 'k', 129);
    long_key[129] = '\0';
    assert_rc_msg(bpt_job_call_meta_set(c, long_key, "v"), BPT_EINVAL, "1..128 bytes");
    long_key[128] = '\0';
    assert_ok(bpt_job_call_meta_set(c, long_key, "v")); /* 128 is the limit */
    assert_rc_msg(bpt_job_call_meta_set(c, "k", "line\nbreak"), BPT_EINVAL, "printable");
    assert_rc_msg(bpt_job_call_meta_set(c, "k", NULL), BPT_EINVAL, "NULL");
    memset(long_value, 'v', 4097);
    long_value[4097] = '\0';
    assert_rc_msg(bpt_job_call_meta_set(c, "k", long_value), BPT_EINVAL, "at most 4096");
    long_value[4096] = '\0';
    assert_ok(bpt_job_call_meta_set(c, "k", long_value));
    for (int i = (int)bpt_job_call_meta_count(c); i < BPT_JOB_META_MAX_ENTRIES; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        assert_ok(bpt_job_call_meta_set(c, k, "v"));
    }
    assert_rc_msg(bpt_job_call_meta_set(c, "one-more", "v"), BPT_ELIMIT, "more than 64");
    bpt_job_call_free(c);
}

static void test_result(void **state)
{
    bpt_job_result *r = NULL;
    size_t n = 9;
    (void)state;
    assert_ok(bpt_job_result_new(&r));
    assert_true(bpt_job_result_is_ok(r));
    assert_null(bpt_job_result_body(r, &n));
    assert_int_equal(n, 0);
    assert_ok(bpt_job_result_set_body(r, (const uint8_t *)"hi", 2));
    assert_ok(bpt_job_result_meta_set(r, "app.version", "1"));
    assert_memory_equal(bpt_job_result_body(r, &n), "hi", 2);
    assert_null(bpt_job_result_error_code(r));
    /* An error drops body and metadata, and takes no metadata. */
    assert_ok(bpt_job_result_set_error(r, "invalid_input", "want %d bytes", 4));
    assert_false(bpt_job_result_is_ok(r));
    assert_string_equal(bpt_job_result_error_code(r), "invalid_input");
    assert_string_equal(bpt_job_result_error_message(r), "want 4 bytes");
    assert_null(bpt_job_result_body(r, &n));
    assert_int_equal(bpt_job_result_meta_count(r), 0);
    assert_rc_msg(bpt_job_result_meta_set(r, "k", "v"), BPT_EINVAL, "ok results only");
    /* A bad code still leaves an error result, coded "internal"; control bytes are flattened. */
    assert_rc_msg(bpt_job_result_set_error(r, "Bad Code", "x\ny"), BPT_EINVAL, "'Bad Code'");
    assert_string_equal(bpt_job_result_error_code(r), "internal");
    assert_string_equal(bpt_job_result_error_message(r), "x y");
    /* A body makes it ok again. */
    assert_ok(bpt_job_result_set_body(r, NULL, 0));
    assert_true(bpt_job_result_is_ok(r));
    bpt_job_result_free(r);
    bpt_job_result_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_call_refusals),
        cmocka_unit_test(test_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
