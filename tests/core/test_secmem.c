/*
 * Secure memory: new/from/equal/stats, free(NULL), the size limit, and a refused mlock that
 * is counted but is not an error.
 */
#include "helpers/test.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/resource.h>
#include <unistd.h>

static void test_new_is_zeroed(void **state)
{
    bpt_secret *s = NULL;
    (void)state;
    assert_ok(bpt_secret_new(&s, 100));
    assert_non_null(s);
    assert_int_equal(bpt_secret_len(s), 100);
    for (size_t i = 0; i < 100; i++) {
        assert_int_equal(bpt_secret_data(s)[i], 0);
    }
    /* Writable through data_mut, readable through data. */
    bpt_secret_data_mut(s)[99] = 0x5a;
    assert_int_equal(bpt_secret_data(s)[99], 0x5a);
    assert_ptr_equal(bpt_secret_data(s), bpt_secret_data_mut(s));
    bpt_secret_free(s);

    /* Zero length is allowed; more than a page works too. */
    assert_ok(bpt_secret_new(&s, 0));
    assert_int_equal(bpt_secret_len(s), 0);
    assert_non_null(bpt_secret_data(s));
    bpt_secret_free(s);
    assert_ok(bpt_secret_new(&s, 3 * 4096 + 1));
    bpt_secret_data_mut(s)[3 * 4096] = 1;
    bpt_secret_free(s);
}

static void test_from_copies(void **state)
{
    uint8_t key[32];
    bpt_secret *s = NULL;
    (void)state;
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)i;
    }
    assert_ok(bpt_secret_from(&s, key, sizeof(key)));
    assert_int_equal(bpt_secret_len(s), 32);
    assert_memory_equal(bpt_secret_data(s), key, 32);
    key[0] = 0xff; /* a copy, not a reference */
    assert_int_equal(bpt_secret_data(s)[0], 0);
    bpt_secret_free(s);
    s = (bpt_secret *)(uintptr_t)1;
    assert_rc_msg(bpt_secret_from(&s, NULL, 5), BPT_EINVAL, "secret: NULL source for 5 bytes");
    assert_null(s);
    assert_ok(bpt_secret_from(&s, NULL, 0));
    assert_int_equal(bpt_secret_len(s), 0);
    bpt_secret_free(s);
}

static void test_equal(void **state)
{
    bpt_secret *a, *b, *c, *d, *e1, *e2;
    (void)state;
    assert_ok(bpt_secret_from(&a, (const uint8_t *)"abcdef", 6));
    assert_ok(bpt_secret_from(&b, (const uint8_t *)"abcdef", 6));
    assert_ok(bpt_secret_from(&c, (const uint8_t *)"abcdeg", 6));
    assert_ok(bpt_secret_from(&d, (const uint8_t *)"abcde", 5));
    assert_ok(bpt_secret_new(&e1, 0));
    assert_ok(bpt_secret_new(&e2, 0));
    assert_true(bpt_secret_equal(a, b));
    assert_true(bpt_secret_equal(a, a));
    assert_false(bpt_secret_equal(a, c));
    assert_false(bpt_secret_equal(a, d)); /* different lengths */
    assert_false(bpt_secret_equal(d, a));
    assert_true(bpt_secret_equal(e1, e2));
    assert_false(bpt_secret_equal(a, NULL));
    assert_false(bpt_secret_equal(NULL, a));
    assert_false(bpt_secret_equal(NULL, NULL));
    assert_true(bpt_ct_equal("tag1", "tag1", 4));
    assert_false(bpt_ct_equal("tag1", "tag2", 4));
    assert_true(bpt_ct_equal("x", "y", 0));
    bpt_secret_free(a);
    bpt_secret_free(b);
    bpt_secret_free(c);
    bpt_secret_free(d);
    bpt_secret_free(e1);
    bpt_secret_free(e2);
}

static void test_free_null_and_accessors_on_null(void **state)
{
    (void)state;
    bpt_secret_free(NULL);
    assert_int_equal(bpt_secret_len(NULL), 0);
    assert_null(bpt_secret_data(NULL));
    assert_null(bpt_secret_data_mut(NULL));
    assert_false(bpt_secret_is_locked(NULL));
}

static void test_stats(void **state)
{
    bpt_secret_counters before = BPT_SECRET_COUNTERS_INIT, mid = BPT_SECRET_COUNTERS_INIT,
                        after = BPT_SECRET_COUNTERS_INIT;
    bpt_secret *s1, *s2;
    (void)state;
    bpt_secret_stats(&before);
    assert_ok(bpt_secret_new(&s1, 16));
    assert_ok(bpt_secret_new(&s2, 16));
    bpt_secret_stats(&mid);
    assert_int_equal(mid.allocations, before.allocations + 2);
    assert_int_equal(mid.live, before.live + 2);
    assert_int_equal(mid.lock_failures - before.lock_failures,
                     (uint64_t)!bpt_secret_is_locked(s1) + (uint64_t)!bpt_secret_is_locked(s2));
    bpt_secret_free(s1);
    bpt_secret_free(s2);
    bpt_secret_stats(&after);
    assert_int_equal(after.allocations, mid.allocations);
    assert_int_equal(after.live, before.live);
}

/* Size-prefixed: a caller that did not set the size gets nothing written, not a past-the-end
 * write. */
static void test_stats_needs_the_size(void **state)
{
    bpt_secret_counters c;
    (void)state;
    memset(&c, 0xab, sizeof(c));
    c.size = 0;
    bpt_secret_stats(&c);
    assert_int_equal(c.size, 0);
    assert_int_equal(c.allocations, 0xababababababababull);
    bpt_secret_stats(NULL);
}

static void test_limit(void **state)
{
    bpt_secret *s = (bpt_secret *)(uintptr_t)1;
    bpt_secret_counters before = BPT_SECRET_COUNTERS_INIT, after = BPT_SECRET_COUNTERS_INIT;
    (void)state;
    bpt_secret_stats(&before);
    assert_rc_msg(bpt_secret_new(&s, (size_t)BPT_SECRET_MAX_BYTES + 1), BPT_ELIMIT,
                  "secret: 16777217 bytes exceeds the limit of 16777216");
    assert_null(s);
    assert_rc_msg(bpt_secret_from(&s, (const uint8_t *)"x", SIZE_MAX), BPT_ELIMIT, "limit");
    assert_null(s);
    bpt_secret_stats(&after);
    assert_int_equal(after.allocations, before.allocations);
    /* Exactly the limit is accepted. */
    assert_ok(bpt_secret_new(&s, BPT_SECRET_MAX_BYTES));
    assert_int_equal(bpt_secret_len(s), BPT_SECRET_MAX_BYTES);
    bpt_secret_data_mut(s)[BPT_SECRET_MAX_BYTES - 1] = 7;
    bpt_secret_free(s);
}

/* With RLIMIT_MEMLOCK at 0 an unprivileged mlock fails; the allocation must still succeed,
 * report is_locked false and count the failure. (Root usually keeps CAP_IPC_LOCK, in which
 * case locking succeeds; then only the "not an error" half is checked.) */
static void test_lock_failure_is_not_an_error(void **state)
{
    struct rlimit old, zero = {0, 0};
    bpt_secret_counters before = BPT_SECRET_COUNTERS_INIT, after = BPT_SECRET_COUNTERS_INIT;
    bpt_secret *s = NULL;
    bool lowered;
    (void)state;
    assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
    zero.rlim_max = old.rlim_max;
    lowered = setrlimit(RLIMIT_MEMLOCK, &zero) == 0;
    bpt_secret_stats(&before);
    assert_ok(bpt_secret_new(&s, 64));
    bpt_secret_stats(&after);
    if (lowered && geteuid() != 0) {
        assert_false(bpt_secret_is_locked(s));
    }
    assert_int_equal(after.lock_failures - before.lock_failures, !bpt_secret_is_locked(s));
    /* An unlocked secret works like any other. */
    bpt_secret_data_mut(s)[0] = 1;
    assert_int_equal(bpt_secret_data(s)[0], 1);
    bpt_secret_free(s);
    if (lowered) {
        assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
    }
}

/* The code path `bpt serve` runs first: no core dumps, not dumpable (issue 13). */
static void test_protect_process(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_ok(bpt_secret_protect_process());
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
    assert_int_equal(rl.rlim_cur, 0);
    assert_int_equal(rl.rlim_max, 0);
    assert_ok(bpt_secret_protect_process()); /* again: still fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_is_zeroed),
        cmocka_unit_test(test_from_copies),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_free_null_and_accessors_on_null),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_stats_needs_the_size),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_lock_failure_is_not_an_error),
        cmocka_unit_test(test_protect_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
