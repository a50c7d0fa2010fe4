/*
 * TeeAuthService under many threads: creators and consumers at once never exceed capacity,
 * never hand one session out twice, and leave counters that add up; threads racing to consume
 * one id (released together by a barrier) produce exactly one winner.
 */
#include "helpers/test.h"

#include <pthread.h>

#include "exchange/exchange_internal.h"

#define THREADS 8
#define ROUNDS 40

struct worker {
    bpt_kx_service *svc;
    pthread_barrier_t *barrier;
    const char *id_hex; /* race mode */
    int created, consumed, busy, won, lost, other;
};

static void *churn(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->barrier);
    for (int i = 0; i < ROUNDS; i++) {
        bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
        int rc = bpt_kx_service_create(&info, NULL, w->svc, NULL, 0);
        if (rc == BPT_EBUSY) {
            w->busy++;
            continue;
        }
        if (rc != 0) {
            w->other++;
            continue;
        }
        w->created++;
        if (i % 3 == 2) {
            continue; /* leave some sessions alive */
        }
        bpt_kx_session *s = NULL;
        rc = bpt_kx_service_consume(&s, w->svc, info.id_hex);
        if (rc == 0 && memcmp(bpt_kx_session_id(s), info.id, 16) == 0) {
            w->consumed++;
        } else {
            w->other++;
        }
        bpt_kx_session_free(s);
    }
    return NULL;
}

static void *race(void *arg)
{
    struct worker *w = arg;
    bpt_kx_session *s = NULL;
    pthread_barrier_wait(w->barrier);
    int rc = bpt_kx_service_consume(&s, w->svc, w->id_hex);
    if (rc == 0) {
        w->won++;
    } else if (rc == BPT_ENOTFOUND) {
        w->lost++;
    } else {
        w->other++;
    }
    bpt_kx_session_free(s);
    return NULL;
}

static void test_churn(void **state)
{
    (void)state;
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    o.max_sessions = 16;
    bpt_kx_service *svc = NULL;
    assert_ok(bpt_kx_service_new(&svc, &o));
    assert_ok(bpt_kx_service_start_cleanup(svc));
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t th[THREADS];
    struct worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        w[i].svc = svc;
        w[i].barrier = &barrier;
        assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
    }
    int created = 0, consumed = 0, busy = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].other, 0);
        created += w[i].created;
        consumed += w[i].consumed;
        busy += w[i].busy;
    }
    pthread_barrier_destroy(&barrier);
    assert_int_equal(created + busy, THREADS * ROUNDS);
    bpt_kx_service_stats st = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&st, svc);
    assert_int_equal(st.created, (uint64_t)created);
    assert_int_equal(st.consumed, (uint64_t)consumed);
    assert_int_equal(st.refused, (uint64_t)busy);
    assert_int_equal(st.expired, 0);
    assert_int_equal(st.active, (size_t)(created - consumed));
    assert_true(st.active <= 16);
    bpt_kx_service_free(svc);
}

static void test_one_winner(void **state)
{
    (void)state;
    bpt_kx_service *svc = NULL;
    assert_ok(bpt_kx_service_new(&svc, NULL));
    for (int round = 0; round < 20; round++) {
        bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
        assert_ok(bpt_kx_service_create(&info, NULL, svc, NULL, 0));
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, THREADS);
        pthread_t th[THREADS];
        struct worker w[THREADS];
        memset(w, 0, sizeof(w));
        for (int i = 0; i < THREADS; i++) {
            w[i].svc = svc;
            w[i].barrier = &barrier;
            w[i].id_hex = info.id_hex;
            assert_int_equal(pthread_create(&th[i], NULL, race, &w[i]), 0);
        }
        int won = 0, lost = 0;
        for (int i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(w[i].other, 0);
            won += w[i].won;
            lost += w[i].lost;
        }
        pthread_barrier_destroy(&barrier);
        assert_int_equal(won, 1);
        assert_int_equal(lost, THREADS - 1);
    }
    assert_int_equal(bpt_kx_service_active_count(svc), 0);
    bpt_kx_service_free(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_one_winner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
