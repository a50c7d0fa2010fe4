/*
 * KeyExchangeSession: id and key shape, time through a fixed clock (expiry is "more than ttl
 * seconds", remaining TTL saturates), report_data as DESIGN §6 defines it, seal/open round
 * trip with the v1 info and aad, each refusal of open, and proof that consuming a session
 * leaves the private key in no OpenSSL allocation, live or freed.
 */
#include "helpers/test.h"

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "exchange/exchange_internal.h"

/* ---- OpenSSL allocation tracker: every block OpenSSL holds, and a scan on every free ---- */

struct blk {
    struct blk *prev, *next;
    size_t size;
    size_t pad;
};

static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;
static struct blk mem_head = {&mem_head, &mem_head, 0, 0};
static uint8_t watch[32];
static bool watching;
static unsigned freed_with_key;

static bool contains_key(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + sizeof(watch) <= n; i++) {
        if (memcmp(p + i, watch, sizeof(watch)) == 0) {
            return true;
        }
    }
    return false;
}

static void *t_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    struct blk *b = malloc(sizeof(*b) + n);
    if (b == NULL) {
        return NULL;
    }
    b->size = n;
    pthread_mutex_lock(&mem_mu);
    b->next = mem_head.next;
    b->prev = &mem_head;
    mem_head.next->prev = b;
    mem_head.next = b;
    pthread_mutex_unlock(&mem_mu);
    return b + 1;
}

static void t_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p == NULL) {
        return;
    }
    struct blk *b = (struct blk *)p - 1;
    pthread_mutex_lock(&mem_mu);
    if (watching && contains_key(p, b->size)) {
        freed_with_key++;
    }
    b->prev->next = b->next;
    b->next->prev = b->prev;
    pthread_mutex_unlock(&mem_mu);
    free(b);
}

static void *t_realloc(void *p, size_t n, const char *file, int line)
{
    if (p == NULL) {
        return t_malloc(n, file, line);
    }
    struct blk *old = (struct blk *)p - 1;
    void *q = t_malloc(n, file, line);
    if (q == NULL) {
        return NULL;
    }
    memcpy(q, p, old->size < n ? old->size : n);
    t_free(p, file, line);
    return q;
}

static unsigned live_with_key(void)
{
    unsigned n = 0;
    pthread_mutex_lock(&mem_mu);
    for (struct blk *b = mem_head.next; b != &mem_head; b = b->next) {
        n += contains_key((const uint8_t *)(b + 1), b->size);
    }
    pthread_mutex_unlock(&mem_mu);
    return n;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_new_and_time(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_clock clk = bpt_clock_fixed(&now);
    bpt_kx_session *a = NULL, *b = NULL;
    assert_ok(bpt_kx_session_new(&a, 10, &clk));
    assert_ok(bpt_kx_session_new(&b, 0, &clk));
    assert_int_equal(strlen(bpt_kx_session_id_hex(a)), 32);
    assert_true(memcmp(bpt_kx_session_id(a), bpt_kx_session_id(b), 16) != 0);
    assert_true(memcmp(bpt_kx_session_public_key(a), bpt_kx_session_public_key(b), 32) != 0);
    assert_int_equal(bpt_kx_session_ttl(b), BPT_KX_DEFAULT_TTL_SECS);
    assert_int_equal(bpt_kx_session_created_at(a), now);
    assert_int_equal(bpt_kx_session_expires_at(a), now + 10);

    char digest[65], want[65];
    uint8_t md[32];
    SHA256(bpt_kx_session_public_key(a), 32, md);
    for (int i = 0; i < 32; i++) {
        snprintf(want + 2 * i, 3, "%02x", md[i]);
    }
    bpt_kx_session_public_key_digest(digest, a);
    assert_string_equal(digest, want);

    assert_false(bpt_kx_session_is_expired(a));
    assert_int_equal(bpt_kx_session_remaining_ttl(a), 10);
    now += 4;
    assert_int_equal(bpt_kx_session_remaining_ttl(a), 6);
    now += 6; /* exactly ttl: not yet expired (expiry is elapsed > ttl) */
    assert_false(bpt_kx_session_is_expired(a));
    assert_int_equal(bpt_kx_session_remaining_ttl(a), 0);
    now += 1;
    assert_true(bpt_kx_session_is_expired(a));
    assert_int_equal(bpt_kx_session_remaining_ttl(a), 0);
    now -= 100; /* a clock that goes backwards saturates */
    assert_false(bpt_kx_session_is_expired(a));
    assert_int_equal(bpt_kx_session_remaining_ttl(a), 10);

    bpt_kx_session_free(a);
    bpt_kx_session_free(b);
    bpt_kx_session_free(NULL);
}

static void test_report_data(void **state)
{
    (void)state;
    uint8_t pk[32], id[16], nonce[64], rd[64], want[64];
    for (int i = 0; i < 64; i++) {
        nonce[i] = (uint8_t)(0xa0 + i);
    }
    for (int i = 0; i < 32; i++) {
        pk[i] = (uint8_t)i;
    }
    for (int i = 0; i < 16; i++) {
        id[i] = (uint8_t)(0x80 | i);
    }
    uint8_t pre[9 + 32 + 16];
    memcpy(pre, "bpt-kx-v1", 9);
    memcpy(pre + 9, pk, 32);
    memcpy(pre + 41, id, 16);
    SHA256(pre, sizeof(pre), want);
    memset(want + 32, 0, 32);
    assert_ok(bpt_kx_report_data(rd, pk, id, NULL, 0));
    assert_memory_equal(rd, want, 64);
    SHA256(nonce, 16, want + 32);
    assert_ok(bpt_kx_report_data(rd, pk, id, nonce, 16));
    assert_memory_equal(rd, want, 64);
    SHA256(nonce, 64, want + 32);
    assert_ok(bpt_kx_report_data(rd, pk, id, nonce, 64));
    assert_memory_equal(rd, want, 64);
    assert_rc_msg(bpt_kx_report_data(rd, pk, id, nonce, 15), BPT_EINVAL, "nonce is 15 bytes");
    assert_rc_msg(bpt_kx_report_data(rd, pk, id, nonce, 65), BPT_EINVAL, "nonce is 65 bytes");
}

struct sealed {
    uint8_t enc[32];
    bpt_buf ct;
};

static void seal(struct sealed *x, const bpt_kx_session *s, const char *name, const char *secret)
{
    bpt_buf_init(&x->ct, 4096);
    assert_ok(bpt_kx_seal(x->enc, &x->ct, bpt_kx_session_public_key(s), bpt_kx_session_id(s), name,
                          (const uint8_t *)secret, strlen(secret)));
}

static void test_open(void **state)
{
    (void)state;
    int64_t now = 1700000000;
    bpt_clock clk = bpt_clock_fixed(&now);
    bpt_kx_session *s = NULL, *other = NULL;
    assert_ok(bpt_kx_session_new(&s, 60, &clk));
    assert_ok(bpt_kx_session_new(&other, 60, &clk));
    struct sealed a, b, wrong_sid;
    seal(&a, s, "db_password", "hunter2");
    seal(&b, s, "api_token", "");
    /* sealed to this key but with the other session's id in info */
    bpt_buf_init(&wrong_sid.ct, 4096);
    assert_ok(bpt_kx_seal(wrong_sid.enc, &wrong_sid.ct, bpt_kx_session_public_key(s),
                          bpt_kx_session_id(other), "db_password", (const uint8_t *)"x", 1));

    bpt_secret *pt = NULL;
    assert_ok(bpt_kx_session_open(&pt, s, "db_password", a.enc, 32, a.ct.data, a.ct.len));
    assert_int_equal(bpt_secret_len(pt), 7);
    assert_memory_equal(bpt_secret_data(pt), "hunter2", 7);
    bpt_secret_free(pt);
    assert_ok(bpt_kx_session_open(&pt, s, "api_token", b.enc, 32, b.ct.data, b.ct.len));
    assert_int_equal(bpt_secret_len(pt), 0);
    bpt_secret_free(pt);

    /* the name is the aad */
    assert_rc_msg(bpt_kx_session_open(&pt, s, "api_token", a.enc, 32, a.ct.data, a.ct.len),
                  BPT_EDECRYPT, "secret 'api_token'");
    assert_null(pt);
    /* the session id is in info */
    assert_rc_msg(bpt_kx_session_open(&pt, s, "db_password", wrong_sid.enc, 32, wrong_sid.ct.data,
                                      wrong_sid.ct.len),
                  BPT_EDECRYPT, "authentication failed");
    /* another session's key */
    assert_rc_msg(bpt_kx_session_open(&pt, other, "db_password", a.enc, 32, a.ct.data, a.ct.len),
                  BPT_EDECRYPT, "authentication failed");
    assert_rc_msg(bpt_kx_session_open(&pt, s, "db_password", a.enc, 31, a.ct.data, a.ct.len),
                  BPT_EDECRYPT, "enc is 31 bytes");
    assert_rc_msg(bpt_kx_session_open(&pt, s, "", a.enc, 32, a.ct.data, a.ct.len), BPT_EINVAL,
                  "empty");
    /* expired */
    now += 61;
    assert_rc_msg(bpt_kx_session_open(&pt, s, "db_password", a.enc, 32, a.ct.data, a.ct.len),
                  BPT_EEXPIRED, "expired");
    now -= 61;
    /* consumed */
    assert_false(bpt_kx_session_is_consumed(s));
    bpt_kx_session_consume(s);
    assert_true(bpt_kx_session_is_consumed(s));
    bpt_kx_session_consume(s);
    assert_rc_msg(bpt_kx_session_open(&pt, s, "db_password", a.enc, 32, a.ct.data, a.ct.len),
                  BPT_EINVAL, "consumed");
    assert_null(pt);
    /* seal argument checks */
    assert_rc_msg(bpt_kx_seal(a.enc, &a.ct, bpt_kx_session_public_key(other),
                              bpt_kx_session_id(other), "", NULL, 0),
                  BPT_EINVAL, "empty name");

    bpt_buf_dispose(&a.ct);
    bpt_buf_dispose(&b.ct);
    bpt_buf_dispose(&wrong_sid.ct);
    bpt_kx_session_free(s);
    bpt_kx_session_free(other);
}

static void test_consume_erases_key(void **state)
{
    (void)state;
    bpt_kx_session *s = NULL;
    assert_ok(bpt_kx_session_new(&s, 60, NULL));
    size_t n = sizeof(watch);
    assert_int_equal(EVP_PKEY_get_raw_private_key(bpt_kx_session_pkey(s), watch, &n), 1);
    assert_int_equal(n, 32);

    struct sealed a;
    seal(&a, s, "n", "v");
    bpt_secret *pt = NULL;
    assert_ok(bpt_kx_session_open(&pt, s, "n", a.enc, 32, a.ct.data, a.ct.len));
    bpt_secret_free(pt);

    pthread_mutex_lock(&mem_mu);
    watching = true;
    freed_with_key = 0;
    pthread_mutex_unlock(&mem_mu);
    /* the scan sees the key while the session holds it */
    assert_true(live_with_key() >= 1);

    bpt_kx_session_consume(s);
    assert_null(bpt_kx_session_pkey(s));
    /* no OpenSSL block still holds the key, and none was released without cleansing */
    assert_int_equal(live_with_key(), 0);
    pthread_mutex_lock(&mem_mu);
    watching = false;
    assert_int_equal(freed_with_key, 0);
    pthread_mutex_unlock(&mem_mu);

    bpt_buf_dispose(&a.ct);
    bpt_kx_session_free(s);
    OPENSSL_cleanse(watch, sizeof(watch));
}

int main(void)
{
    /* must run before OpenSSL's first allocation */
    if (CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions refused\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_time),
        cmocka_unit_test(test_report_data),
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_consume_erases_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
