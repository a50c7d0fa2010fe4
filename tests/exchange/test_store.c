/*
 * The secret store: put takes ownership only on success; the first writer of a name wins
 * unless the policy is replace; a batch is stored all or nothing; names are 1..128 bytes of
 * [A-Za-z0-9._-]; get returns an independent copy; missing names and a full store are refused.
 */
#include "helpers/test.h"

static bpt_secret *mk(const char *v)
{
    bpt_secret *s = NULL;
    assert_ok(bpt_secret_from(&s, (const uint8_t *)v, strlen(v)));
    return s;
}

static void assert_value(bpt_kx_store *st, const char *name, const char *want)
{
    bpt_secret *v = NULL;
    assert_ok(bpt_kx_store_get(&v, st, name));
    assert_int_equal(bpt_secret_len(v), strlen(want));
    assert_memory_equal(bpt_secret_data(v), want, strlen(want));
    bpt_secret_free(v);
}

/* First writer wins by default: a second put of a name is refused and the value stays. */
static void test_first_writer_wins(void **state)
{
    (void)state;
    bpt_kx_store *st = NULL;
    assert_ok(bpt_kx_store_new(&st));
    assert_ok(bpt_kx_store_put(st, "a", mk("one")));
    bpt_secret *two = mk("two");
    assert_rc_msg(bpt_kx_store_put(st, "a", two), BPT_EEXISTS, "'a' is stored already");
    bpt_secret_free(two); /* not taken on failure */
    assert_int_equal(bpt_kx_store_count(st), 1);
    assert_value(st, "a", "one");

    /* replace: the new value replaces the old, still one entry */
    bpt_kx_store_set_policy(st, BPT_KX_STORE_REPLACE);
    assert_ok(bpt_kx_store_put(st, "a", mk("two")));
    assert_int_equal(bpt_kx_store_count(st), 1);
    assert_value(st, "a", "two");

    bpt_secret *v = NULL;
    assert_rc_msg(bpt_kx_store_get(&v, st, "b"), BPT_ENOTFOUND, "'b'");
    assert_null(v);
    bpt_kx_store_free(st);
    bpt_kx_store_free(NULL);
}

/* Names: the alphabet and the length, nothing else (they are printed by `bpt serve`). */
static void test_names(void **state)
{
    (void)state;
    bpt_kx_store *st = NULL;
    assert_ok(bpt_kx_store_new(&st));
    char n128[129], n129[130];
    memset(n128, 'x', 128);
    n128[128] = '\0';
    memset(n129, 'x', 129);
    n129[129] = '\0';
    static const char *const bad[] = {"", "a b", "a\nserve: forged", "a\x1b[31m", "a/b", "ä"};
    bpt_secret *keep = mk("x");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(bpt_kx_name_is_valid(bad[i]));
        assert_rc_msg(bpt_kx_store_put(st, bad[i], keep), BPT_EINVAL, "[A-Za-z0-9._-]");
    }
    assert_false(bpt_kx_name_is_valid(n129));
    assert_false(bpt_kx_name_is_valid(NULL));
    assert_rc_msg(bpt_kx_store_put(st, n129, keep), BPT_EINVAL, "1..128 bytes");
    assert_true(bpt_kx_name_is_valid(n128));
    assert_true(bpt_kx_name_is_valid("Az09._-"));
    assert_ok(bpt_kx_store_put(st, n128, keep));
    bpt_kx_store_free(st);
}

/* A batch is checked whole first: a stored name or too little room stores none of it. */
static void test_batch_all_or_nothing(void **state)
{
    (void)state;
    bpt_kx_store *st = NULL;
    assert_ok(bpt_kx_store_new(&st));
    assert_ok(bpt_kx_store_put(st, "b", mk("old")));

    const char *names[] = {"a", "b", "c"};
    bpt_secret *vals[] = {mk("1"), mk("2"), mk("3")};
    assert_rc_msg(bpt_kx_store_put_all(st, names, vals, 3), BPT_EEXISTS, "'b'");
    assert_int_equal(bpt_kx_store_count(st), 1); /* "a" was not stored either */
    assert_non_null(vals[0]);                    /* ownership stays with the caller */

    const char *dup[] = {"x", "x"};
    bpt_secret *dv[] = {vals[0], vals[2]};
    assert_rc_msg(bpt_kx_store_put_all(st, dup, dv, 2), BPT_EINVAL, "repeats");

    /* fill up to one free slot: a batch of two new names does not fit, none is stored */
    char name[16];
    for (unsigned i = 2; i < BPT_KX_STORE_MAX_NAMES; i++) {
        snprintf(name, sizeof(name), "n%u", i);
        assert_ok(bpt_kx_store_put(st, name, mk("v")));
    }
    assert_int_equal(bpt_kx_store_count(st), BPT_KX_STORE_MAX_NAMES - 1);
    const char *two[] = {"a", "c"};
    bpt_secret *tv[] = {vals[0], vals[2]};
    assert_rc_msg(bpt_kx_store_put_all(st, two, tv, 2), BPT_ELIMIT, "full");
    assert_int_equal(bpt_kx_store_count(st), BPT_KX_STORE_MAX_NAMES - 1);

    /* one fits, and takes ownership (the entry is set to NULL) */
    assert_ok(bpt_kx_store_put_all(st, two, tv, 1));
    assert_null(tv[0]);
    assert_int_equal(bpt_kx_store_count(st), BPT_KX_STORE_MAX_NAMES);
    assert_value(st, "a", "1");
    bpt_secret *extra = mk("x");
    assert_rc_msg(bpt_kx_store_put(st, "one-too-many", extra), BPT_ELIMIT, "full");
    /* replacing needs no room */
    bpt_kx_store_set_policy(st, BPT_KX_STORE_REPLACE);
    assert_ok(bpt_kx_store_put(st, "n2", extra));
    bpt_secret_free(vals[1]);
    bpt_secret_free(vals[2]);
    bpt_kx_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_writer_wins),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_batch_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
