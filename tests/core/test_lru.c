/*
 * The bounded LRU map under the verification caches: capacity limits, hits and misses, the
 * least recently used evicted first (a lookup refreshes), a key put again keeping its value, every
 * value released exactly once, a million entries, and threads sharing one map.
 */
#include "helpers/test.h"

#include "core/lru.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_size_t released;

static void count_release(void *v)
{
    (void)v;
    atomic_fetch_add(&released, 1);
}

/* A key whose bytes spread @p i (as a digest's would) over the bucket index. */
static void key_of(uint8_t key[32], uint64_t i)
{
    uint64_t h = i * 0x9E3779B97F4A7C15ull;
    memset(key, 0, 32);
    memcpy(key, &h, sizeof(h));
    memcpy(key + 8, &i, sizeof(i));
}

static bool take(void *v, void *arg)
{
    *(void **)arg = v;
    return true;
}

static bool refuse(void *v, void *arg)
{
    (void)v;
    (void)arg;
    return false;
}

static bool has(struct bpt_lru *m, uint64_t i)
{
    uint8_t k[32];
    void *got = NULL;
    key_of(k, i);
    return bpt_lru_get(m, k, take, &got) && got == (void *)(uintptr_t)(i + 1);
}

static void put(struct bpt_lru *m, uint64_t i)
{
    uint8_t k[32];
    key_of(k, i);
    bpt_lru_put(m, k, (void *)(uintptr_t)(i + 1));
}

static void test_capacity_limits(void **state)
{
    struct bpt_lru *m = NULL;
    (void)state;
    assert_rc_msg(bpt_lru_new(&m, 0, count_release), BPT_EINVAL, "0 entries (1..16777216)");
    assert_null(m);
    assert_rc_msg(bpt_lru_new(&m, BPT_LRU_MAX_CAPACITY + 1, count_release), BPT_EINVAL,
                  "16777217 entries");
    assert_null(m);
    assert_ok(bpt_lru_new(&m, 1, count_release));
    assert_int_equal(bpt_lru_capacity(m), 1);
    bpt_lru_free(m);
    bpt_lru_free(NULL);
}

static void test_least_recently_used_goes_first(void **state)
{
    struct bpt_lru *m = NULL;
    uint64_t hits = 0, lookups = 0, evicted = 0;
    uint8_t k[32];
    void *got = NULL;
    (void)state;
    atomic_store(&released, 0);
    assert_ok(bpt_lru_new(&m, 3, count_release));
    put(m, 0);
    put(m, 1);
    put(m, 2);
    assert_int_equal(bpt_lru_count(m), 3);
    assert_true(has(m, 0)); /* 0 is now the most recent: 1 is the oldest */
    put(m, 3);
    assert_int_equal(bpt_lru_count(m), 3);
    assert_false(has(m, 1));
    assert_true(has(m, 0));
    assert_true(has(m, 2));
    assert_true(has(m, 3));
    assert_int_equal(atomic_load(&released), 1);
    /* a value the caller cannot use is a miss and does not refresh the entry */
    key_of(k, 0);
    assert_false(bpt_lru_get(m, k, refuse, NULL));
    put(m, 4); /* the oldest is 0 again: refused lookups do not count as use */
    assert_false(has(m, 0));
    /* a key already held keeps its value: the new one is released, the count stays, and the
     * entry becomes the newest */
    key_of(k, 2);
    bpt_lru_put(m, k, (void *)(uintptr_t)99);
    assert_int_equal(bpt_lru_count(m), 3);
    assert_true(bpt_lru_get(m, k, take, &got));
    assert_ptr_equal(got, (void *)(uintptr_t)3);
    assert_int_equal(atomic_load(&released), 3);
    bpt_lru_stats(m, &hits, &lookups, &evicted);
    assert_int_equal(evicted, 2);
    assert_int_equal(lookups, 8);
    assert_int_equal(hits, 5);
    bpt_lru_free(m);
    assert_int_equal(atomic_load(&released), 6); /* every value put, released once */
}

/* A million entries: all kept, all found, the next one evicts exactly the oldest. */
static void test_a_million_entries(void **state)
{
    const uint64_t n = 1000000;
    struct bpt_lru *m = NULL;
    uint64_t found = 0, evicted = 0;
    (void)state;
    atomic_store(&released, 0);
    assert_ok(bpt_lru_new(&m, n, count_release));
    for (uint64_t i = 0; i < n; i++) {
        put(m, i);
    }
    assert_int_equal(bpt_lru_count(m), n);
    for (uint64_t i = 0; i < n; i++) {
        found += has(m, i);
    }
    assert_int_equal(found, n);
    put(m, n); /* every entry was refreshed in order: 0 is the least recent */
    assert_false(has(m, 0));
    assert_true(has(m, 1));
    assert_true(has(m, n));
    bpt_lru_stats(m, NULL, NULL, &evicted);
    assert_int_equal(evicted, 1);
    assert_int_equal(atomic_load(&released), 1);
    bpt_lru_free(m);
    assert_int_equal(atomic_load(&released), n + 1);
}

struct worker {
    struct bpt_lru *m;
    uint64_t base;
};

static void *work(void *p)
{
    struct worker *w = p;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t k = w->base + i % 700; /* more keys in all than the map holds */
        if (!has(w->m, k)) {
            put(w->m, k);
        }
    }
    return NULL;
}

static void test_threads_share_one_map(void **state)
{
    struct bpt_lru *m = NULL;
    pthread_t th[4];
    struct worker w[4];
    uint64_t hits = 0, lookups = 0, evicted = 0;
    (void)state;
    atomic_store(&released, 0);
    assert_ok(bpt_lru_new(&m, 1000, count_release));
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){m, (uint64_t)i * 350};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    assert_true(bpt_lru_count(m) <= 1000);
    bpt_lru_stats(m, &hits, &lookups, &evicted);
    assert_int_equal(lookups, 80000);
    assert_true(hits > 0);
    bpt_lru_free(m);
    assert_int_equal(atomic_load(&released), lookups - hits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_limits),
        cmocka_unit_test(test_least_recently_used_goes_first),
        cmocka_unit_test(test_a_million_entries),
        cmocka_unit_test(test_threads_share_one_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
