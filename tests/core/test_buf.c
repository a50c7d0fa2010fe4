/* bpt_buf: the maximum (exactly max ok, max + 1 refused), appendf, detach, reset, dispose. */
#include "helpers/test.h"

#include <stdint.h>
#include <stdlib.h>

static void test_limit_exact_and_one_past(void **state)
{
    bpt_buf b;
    uint8_t bytes[100];
    (void)state;
    memset(bytes, 0xab, sizeof(bytes));
    for (size_t max = 0; max < 70; max += 7) {
        bpt_buf_init(&b, max);
        assert_ok(bpt_buf_append(&b, bytes, max));
        assert_int_equal(b.len, max);
        assert_rc_msg(bpt_buf_append(&b, bytes, 1), BPT_ELIMIT, "exceeds the limit");
        assert_int_equal(b.len, max); /* a refused append changes nothing */
        if (b.data) {
            assert_int_equal(b.data[max], 0);
        }
        bpt_buf_dispose(&b);
    }
    /* Reaching the limit in pieces; the message names the sizes. */
    bpt_buf_init(&b, 10);
    assert_ok(bpt_buf_append(&b, bytes, 4));
    assert_ok(bpt_buf_append(&b, bytes, 6));
    assert_rc_msg(bpt_buf_append(&b, bytes, 1), BPT_ELIMIT, "10 + 1 bytes exceeds the limit of 10");
    bpt_buf_dispose(&b);
    /* Growth past the first allocation (64) up to a limit that is not a power of two. */
    bpt_buf_init(&b, 1000);
    for (int i = 0; i < 10; i++) {
        assert_ok(bpt_buf_append(&b, bytes, 100));
    }
    assert_int_equal(b.len, 1000);
    assert_true(b.cap <= 1001);
    assert_rc_msg(bpt_buf_append(&b, bytes, 1), BPT_ELIMIT, "limit of 1000");
    bpt_buf_dispose(&b);
}

static void test_size_overflow_refused(void **state)
{
    bpt_buf b = BPT_BUF_INIT(SIZE_MAX);
    uint8_t x = 1;
    (void)state;
    assert_ok(bpt_buf_append(&b, &x, 1));
    /* len + n wraps: refused before any allocation or copy. */
    assert_rc_msg(bpt_buf_append(&b, &x, SIZE_MAX), BPT_ELIMIT, "exceeds the limit");
    assert_rc_msg(bpt_buf_append(&b, &x, SIZE_MAX - 1), BPT_ELIMIT, "exceeds the limit");
    assert_int_equal(b.len, 1);
    /* An unlimited buffer grows normally. */
    for (int i = 0; i < 200; i++) {
        assert_ok(bpt_buf_append(&b, &x, 1));
    }
    assert_int_equal(b.len, 201);
    bpt_buf_dispose(&b);
}

static void test_nul_terminated_text(void **state)
{
    bpt_buf b = BPT_BUF_INIT(64);
    (void)state;
    assert_ok(bpt_buf_append_str(&b, "abc"));
    assert_ok(bpt_buf_append_str(&b, ""));
    assert_ok(bpt_buf_append(&b, "de", 2));
    assert_int_equal(b.len, 5);
    assert_string_equal((char *)b.data, "abcde");
    bpt_buf_dispose(&b);
}

static void test_appendf(void **state)
{
    bpt_buf b = BPT_BUF_INIT(20);
    (void)state;
    assert_ok(bpt_buf_appendf(&b, "%s=%d", "n", 42));
    assert_ok(bpt_buf_appendf(&b, ",%zu", (size_t)7));
    assert_string_equal((char *)b.data, "n=42,7");
    assert_int_equal(b.len, 6);
    /* Exactly to the limit (20), then one past. */
    assert_ok(bpt_buf_appendf(&b, "%014d", 5));
    assert_int_equal(b.len, 20);
    assert_string_equal((char *)b.data, "n=42,700000000000005");
    assert_rc_msg(bpt_buf_appendf(&b, "%c", 'x'), BPT_ELIMIT, "limit of 20");
    assert_int_equal(b.len, 20);
    assert_string_equal((char *)b.data, "n=42,700000000000005");
    /* An empty format appends nothing and succeeds even at the limit. */
    assert_ok(bpt_buf_appendf(&b, "%s", ""));
    bpt_buf_dispose(&b);

    /* A long formatted string in one go (grows across several allocations). */
    bpt_buf_init(&b, 5000);
    assert_ok(bpt_buf_appendf(&b, "%4000s|", "end"));
    assert_int_equal(b.len, 4001);
    assert_int_equal(b.data[3999], 'd');
    assert_int_equal(b.data[4000], '|');
    assert_int_equal(b.data[4001], 0);
    bpt_buf_dispose(&b);
}

static void test_detach(void **state)
{
    bpt_buf b = BPT_BUF_INIT(32);
    uint8_t *p = NULL;
    size_t n = 99;
    (void)state;
    assert_ok(bpt_buf_append_str(&b, "hello"));
    assert_ok(bpt_buf_detach(&p, &n, &b));
    assert_int_equal(n, 5);
    assert_string_equal((char *)p, "hello");
    /* The buffer is empty afterwards, keeps its maximum and is usable again. */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 32);
    bpt_free(p);

    /* An empty buffer detaches to an allocated empty string, never NULL. */
    p = NULL;
    n = 99;
    assert_ok(bpt_buf_detach(&p, &n, &b));
    assert_non_null(p);
    assert_int_equal(n, 0);
    assert_string_equal((char *)p, "");
    bpt_free(p);

    /* Even a buffer whose maximum is 0. */
    bpt_buf_init(&b, 0);
    assert_ok(bpt_buf_detach(&p, NULL, &b));
    assert_non_null(p);
    assert_int_equal(p[0], 0);
    bpt_free(p);
    bpt_buf_dispose(&b);
}

static void test_reset_cleanses_and_keeps_allocation(void **state)
{
    bpt_buf b = BPT_BUF_INIT(128);
    uint8_t *data;
    size_t cap;
    (void)state;
    assert_ok(bpt_buf_append(&b, "secret-bytes-here", 17));
    data = b.data;
    cap = b.cap;
    bpt_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    for (size_t i = 0; i < cap; i++) {
        if (data[i] != 0) {
            fail_msg("byte %zu not cleansed after reset", i);
        }
    }
    assert_ok(bpt_buf_append_str(&b, "x"));
    assert_string_equal((char *)b.data, "x");
    bpt_buf_dispose(&b);
    /* Reset of a never-used buffer is fine. */
    bpt_buf_init(&b, 4);
    bpt_buf_reset(&b);
    assert_int_equal(b.len, 0);
}

static void test_dispose(void **state)
{
    bpt_buf b = BPT_BUF_INIT(16);
    (void)state;
    bpt_buf_dispose(NULL);
    bpt_buf_dispose(&b); /* never allocated */
    assert_ok(bpt_buf_append_str(&b, "abc"));
    bpt_buf_dispose(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* Disposing twice and reusing after dispose are both fine. */
    bpt_buf_dispose(&b);
    assert_ok(bpt_buf_append_str(&b, "again"));
    assert_string_equal((char *)b.data, "again");
    bpt_buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_exact_and_one_past),
        cmocka_unit_test(test_size_overflow_refused),
        cmocka_unit_test(test_nul_terminated_text),
        cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_reset_cleanses_and_keeps_allocation),
        cmocka_unit_test(test_dispose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
