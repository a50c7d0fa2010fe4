/*
 * The secret store: put takes ownership only on success, a name is replaced (not duplicated),
 * get returns an independent copy, missing names and a full store are refused.
 */
#include "helpers/test.h"

#include "core/limits.h"

static bpt_secret *mk(const char *v)
{
    bpt_secret *s = NULL;
    assert_ok(bpt_secret_from(&s, (const uint8_t *)v, strlen(v)));
    return s;
}

static void test_store(void **state)
{
    (void)state;
    bpt_kx_store *st = NULL;
    assert_ok(bpt_kx_store_new(&st));
    assert_ok(bpt_kx_store_put(st, "a", mk("one")));
    assert_ok(bpt_kx_store_put(st, "a", mk("two")));
    assert_int_equal(bpt_kx_store_count(st), 1);
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, st, "a"));
    assert_int_equal(bpt_secret_len(v), 3);
    assert_memory_equal(bpt_secret_data(v), "two", 3);
    bpt_secret_free(v);
    assert_rc_msg(bpt_kx_store_get(&v, st, "b"), BPT_ENOTFOUND, "'b'");
    assert_null(v);
    bpt_secret *keep = mk("x");
    assert_rc_msg(bpt_kx_store_put(st, "", keep), BPT_EINVAL, "empty name");
    char name[16];
    for (unsigned i = 1; i < BPT_LIMIT_LIST_ENTRIES; i++) {
        snprintf(name, sizeof(name), "n%u", i);
        assert_ok(bpt_kx_store_put(st, name, mk("v")));
    }
    assert_int_equal(bpt_kx_store_count(st), BPT_LIMIT_LIST_ENTRIES);
    assert_rc_msg(bpt_kx_store_put(st, "one-too-many", keep), BPT_ELIMIT, "full");
    assert_ok(bpt_kx_store_put(st, "n1", keep)); /* replacing still works when full */
    bpt_kx_store_free(st);
    bpt_kx_store_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
