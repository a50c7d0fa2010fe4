/*
 * TeeAuthService: defaults, evidence binding through the attester callback, capacity (evict
 * expired first, then BPT_EBUSY), one-time consume, expiry, public key lookup, counters, an
 * attester failure releasing its slot, and the cleanup thread stopping at once on shutdown.
 */
#include "helpers/test.h"
#include "helpers/kx.h"

#include <openssl/sha.h>

#include "exchange/exchange_internal.h"

static void test_defaults_and_binding(void **state)
{
    (void)state;
    bpt_kx_service *svc = NULL;
    assert_ok(bpt_kx_service_new(&svc, NULL));
    bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
    bpt_report *rep = (bpt_report *)1;
    assert_ok(bpt_kx_service_create(&info, &rep, svc, NULL, 0));
    assert_null(rep); /* no attester configured */
    assert_int_equal(info.expires_at - info.created_at, BPT_KX_DEFAULT_TTL_SECS);
    bpt_kx_service_free(svc);

    int64_t now = 1700000000;
    struct bpt_test_kx_attester fa = {{0}, 0, 0};
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    assert_int_equal(o.max_sessions, 64);
    o.clock = bpt_clock_fixed(&now);
    o.attest = bpt_test_kx_attest;
    o.attest_userdata = &fa;
    assert_ok(bpt_kx_service_new(&svc, &o));
    uint8_t nonce[20];
    memset(nonce, 7, sizeof(nonce));
    assert_ok(bpt_kx_service_create(&info, &rep, svc, nonce, sizeof(nonce)));
    assert_non_null(rep);
    assert_int_equal(fa.calls, 1);
    uint8_t want[64];
    assert_ok(bpt_kx_report_data(want, info.public_key, info.id, nonce, sizeof(nonce)));
    assert_memory_equal(fa.last_rd, want, 64);
    assert_memory_equal(info.report_data, want, 64);
    uint8_t sha_nonce[32];
    SHA256(nonce, sizeof(nonce), sha_nonce);
    assert_memory_equal(want + 32, sha_nonce, 32);
    size_t klen = 0;
    const char *kt = NULL, *dg = NULL;
    const uint8_t *k = bpt_report_key_binding(rep, &klen, &kt, &dg);
    assert_non_null(k);
    assert_int_equal(klen, 32);
    assert_memory_equal(k, info.public_key, 32);
    assert_string_equal(kt, "x25519");
    assert_int_equal(strlen(dg), 128);
    assert_int_equal(info.created_at, now);
    assert_int_equal(info.expires_at, now + 300);
    bpt_report_free(rep);

    uint8_t pk[32];
    assert_ok(bpt_kx_service_public_key(pk, svc, info.id_hex));
    assert_memory_equal(pk, info.public_key, 32);
    assert_rc_msg(bpt_kx_service_create(&info, NULL, svc, nonce, 15), BPT_EINVAL,
                  "nonce is 15 bytes");
    bpt_kx_service_free(svc);

    bpt_kx_service_options bad = BPT_KX_SERVICE_OPTIONS_INIT;
    bad.max_sessions = 0;
    assert_rc_msg(bpt_kx_service_new(&svc, &bad), BPT_EINVAL, "max_sessions");
    bad = o;
    bad.version = 99;
    assert_rc_msg(bpt_kx_service_new(&svc, &bad), BPT_EINVAL, "version 99");
    assert_null(svc);
}

static void test_capacity_consume_expiry(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    o.clock = bpt_clock_fixed(&now);
    o.ttl_secs = 10;
    o.max_sessions = 2;
    bpt_kx_service *svc = NULL;
    assert_ok(bpt_kx_service_new(&svc, &o));
    bpt_kx_session_info a = BPT_KX_SESSION_INFO_INIT, b = BPT_KX_SESSION_INFO_INIT,
                        c = BPT_KX_SESSION_INFO_INIT;
    assert_ok(bpt_kx_service_create(&a, NULL, svc, NULL, 0));
    assert_ok(bpt_kx_service_create(&b, NULL, svc, NULL, 0));
    assert_rc_msg(bpt_kx_service_create(&c, NULL, svc, NULL, 0), BPT_EBUSY, "capacity");
    assert_int_equal(bpt_kx_service_active_count(svc), 2);

    /* one-time consume */
    bpt_kx_session *s = NULL;
    assert_ok(bpt_kx_service_consume(&s, svc, a.id_hex));
    assert_memory_equal(bpt_kx_session_public_key(s), a.public_key, 32);
    bpt_kx_session_free(s);
    assert_rc_msg(bpt_kx_service_consume(&s, svc, a.id_hex), BPT_ENOTFOUND, "not found");
    assert_null(s);
    uint8_t pk[32];
    assert_rc_msg(bpt_kx_service_public_key(pk, svc, a.id_hex), BPT_ENOTFOUND, "not found");
    assert_rc_msg(bpt_kx_service_consume(&s, svc, "zz"), BPT_EINVAL, "32 hex digits");
    assert_rc_msg(bpt_kx_service_consume(&s, svc, "zz000000000000000000000000000000"), BPT_EINVAL,
                  "lower case");
    /* one spelling per session: the upper-case form of an id is refused, not looked up */
    assert_rc_msg(bpt_kx_service_consume(&s, svc, "ABCDEF00000000000000000000000000"), BPT_EINVAL,
                  "lower case");

    /* expiry: lookup and consume say expired; consume removes it */
    assert_ok(bpt_kx_service_create(&c, NULL, svc, NULL, 0));
    now += 11;
    assert_rc_msg(bpt_kx_service_public_key(pk, svc, b.id_hex), BPT_EEXPIRED, "expired");
    assert_rc_msg(bpt_kx_service_consume(&s, svc, b.id_hex), BPT_EEXPIRED, "expired");
    assert_null(s);
    /* c expired too but is not swept yet: held, yet not counted as active (the Rust rule) */
    assert_int_equal(bpt_kx_service_active_count(svc), 0);
    bpt_kx_service_stats held = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&held, svc);
    assert_int_equal(held.active, 1);
    /* create evicts the expired c first, so capacity is not reached */
    bpt_kx_session_info d = BPT_KX_SESSION_INFO_INIT, e = BPT_KX_SESSION_INFO_INIT;
    assert_ok(bpt_kx_service_create(&d, NULL, svc, NULL, 0));
    assert_ok(bpt_kx_service_create(&e, NULL, svc, NULL, 0));
    assert_int_equal(bpt_kx_service_active_count(svc), 2);
    /* explicit sweep */
    now += 11;
    assert_int_equal(bpt_kx_service_cleanup(svc), 2);
    assert_int_equal(bpt_kx_service_active_count(svc), 0);

    bpt_kx_service_stats st = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&st, svc);
    assert_int_equal(st.created, 5);
    assert_int_equal(st.consumed, 1);
    assert_int_equal(st.expired, 4);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.active, 0);
    bpt_kx_service_free(svc);
}

static void test_attester_failure_frees_slot(void **state)
{
    (void)state;
    struct bpt_test_kx_attester fa = {{0}, 0, BPT_ENOTSUP};
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    o.max_sessions = 1;
    o.attest = bpt_test_kx_attest;
    o.attest_userdata = &fa;
    bpt_kx_service *svc = NULL;
    assert_ok(bpt_kx_service_new(&svc, &o));
    bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
    bpt_report *rep = NULL;
    for (int i = 0; i < 3; i++) {
        assert_rc_msg(bpt_kx_service_create(&info, &rep, svc, NULL, 0), BPT_ENOTSUP, "attestation");
        assert_null(rep);
    }
    assert_int_equal(bpt_kx_service_active_count(svc), 0);
    fa.fail = 0;
    assert_ok(bpt_kx_service_create(&info, &rep, svc, NULL, 0));
    bpt_report_free(rep);
    bpt_kx_service_free(svc);
}

/* Size-prefixed outputs: without their size they are refused (session info) or left alone
 * (stats), never overrun. */
static void test_structs_need_their_size(void **state)
{
    bpt_kx_service *svc = NULL;
    bpt_kx_session_info info;
    bpt_kx_service_stats st;
    (void)state;
    assert_ok(bpt_kx_service_new(&svc, NULL));
    memset(&info, 0, sizeof(info));
    assert_rc_msg(bpt_kx_service_create(&info, NULL, svc, NULL, 0), BPT_EINVAL,
                  "bpt_kx_session_info: the struct's size is smaller than its first version");
    memset(&st, 0xab, sizeof(st));
    st.size = 0;
    bpt_kx_service_get_stats(&st, svc);
    assert_int_equal(st.created, 0xababababababababull);
    st.size = sizeof(st);
    bpt_kx_service_get_stats(&st, svc);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.size, sizeof(st));
    bpt_kx_service_free(svc);
}

static void test_cleanup_thread_stops(void **state)
{
    (void)state;
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    o.cleanup_interval_secs = 3600; /* a stop that waited for the period would time out */
    bpt_kx_service *svc = NULL;
    assert_ok(bpt_kx_service_new(&svc, &o));
    bpt_kx_service_stop_cleanup(svc); /* not running: nothing */
    assert_ok(bpt_kx_service_start_cleanup(svc));
    assert_rc_msg(bpt_kx_service_start_cleanup(svc), BPT_EBUSY, "already running");
    bpt_kx_service_stop_cleanup(svc);
    assert_ok(bpt_kx_service_start_cleanup(svc)); /* restartable */
    bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
    assert_ok(bpt_kx_service_create(&info, NULL, svc, NULL, 0));
    bpt_kx_service_free(svc); /* stops the thread and frees the live session */
    bpt_kx_service_free(NULL);
}

/* A service on the fixed clock *@p now with a 300 s TTL and the given limits. */
static bpt_kx_service *limited(int64_t *now, size_t max, size_t per_client, uint64_t first_use)
{
    bpt_kx_service *svc = NULL;
    bpt_kx_service_options o = BPT_KX_SERVICE_OPTIONS_INIT;
    o.clock = bpt_clock_fixed(now);
    o.ttl_secs = 300;
    o.max_sessions = max;
    o.max_sessions_per_client = per_client;
    o.first_use_secs = first_use;
    assert_ok(bpt_kx_service_new(&svc, &o));
    return svc;
}

/* Per-client shares and the first-use deadline (issue 13): one client holds at most its share,
 * another still gets a session, and an unused session past first_use_secs makes room. */
static void test_per_client_share(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_kx_service *svc = limited(&now, 3, 2, 10);
    bpt_kx_session_info a1 = BPT_KX_SESSION_INFO_INIT, a2 = BPT_KX_SESSION_INFO_INIT,
                        x = BPT_KX_SESSION_INFO_INIT;
    assert_ok(bpt_kx_service_create_for(&a1, NULL, svc, "198.51.100.7", NULL, 0));
    now += 1;
    assert_ok(bpt_kx_service_create_for(&a2, NULL, svc, "198.51.100.7", NULL, 0));
    assert_rc_msg(bpt_kx_service_create_for(&x, NULL, svc, "198.51.100.7", NULL, 0), BPT_ELIMIT,
                  "holds 2 sessions");
    assert_ok(bpt_kx_service_create_for(&x, NULL, svc, "203.0.113.9", NULL, 0));
    /* the table is full: a fourth client is refused while every session is young */
    bpt_kx_session_info y = BPT_KX_SESSION_INFO_INIT;
    assert_rc_msg(bpt_kx_service_create_for(&y, NULL, svc, "192.0.2.1", NULL, 0), BPT_EBUSY,
                  "capacity");
    /* the flooding client's oldest session, unused for 10 s, is reclaimed for its next one */
    now += 9;
    assert_ok(bpt_kx_service_create_for(&y, NULL, svc, "198.51.100.7", NULL, 0));
    bpt_kx_session *s = NULL;
    assert_rc_msg(bpt_kx_service_consume(&s, svc, a1.id_hex), BPT_ENOTFOUND, "not found");
    assert_ok(bpt_kx_service_consume(&s, svc, a2.id_hex)); /* its newer one is still there */
    bpt_kx_session_free(s);
    bpt_kx_service_stats st = BPT_KX_SERVICE_STATS_INIT;
    bpt_kx_service_get_stats(&st, svc);
    assert_int_equal(st.reclaimed, 1);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.refused_client, 1);
    assert_int_equal(st.active, 2);
    assert_rc_msg(bpt_kx_service_create_for(&y, NULL, svc,
                                            "0123456789012345678901234567890123456789012345678901"
                                            "234567890123",
                                            NULL, 0),
                  BPT_EINVAL, "client key longer");
    bpt_kx_service_free(svc);
}

/* The heap keeps expiry order through removals from its middle: of many sessions consumed in
 * a scattered order, the rest still expire exactly when their TTL passes. */
static void test_heap_order(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_kx_service *svc = limited(&now, 200, 0, 0);
    char ids[200][33];
    for (int i = 0; i < 200; i++) {
        bpt_kx_session_info info = BPT_KX_SESSION_INFO_INIT;
        assert_ok(bpt_kx_service_create(&info, NULL, svc, NULL, 0));
        memcpy(ids[i], info.id_hex, 33);
        now += 1; /* session i expires after now0 + i + 300 */
    }
    for (int i = 0; i < 200; i += 3) {
        bpt_kx_session *s = NULL;
        assert_ok(bpt_kx_service_consume(&s, svc, ids[(i * 7) % 200]));
        bpt_kx_session_free(s);
    }
    size_t live = bpt_kx_service_active_count(svc);
    for (int step = 0; step < 400; step++) {
        now += 1;
        size_t gone = bpt_kx_service_cleanup(svc);
        assert_true(gone <= 1);
        live -= gone;
        assert_int_equal(bpt_kx_service_active_count(svc), live);
    }
    assert_int_equal(live, 0);
    bpt_kx_service_free(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_binding),
        cmocka_unit_test(test_capacity_consume_expiry),
        cmocka_unit_test(test_attester_failure_frees_slot),
        cmocka_unit_test(test_cleanup_thread_stops),
        cmocka_unit_test(test_structs_need_their_size),
        cmocka_unit_test(test_per_client_share),
        cmocka_unit_test(test_heap_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
