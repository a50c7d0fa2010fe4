/*
 * The cache of verified chains: a hit only inside every certificate's validity window, the
 * provider's facts returned as stored, the chain only from entries that kept it, the least
 * recently used entry evicted first.
 */
#include "helpers/test.h"

#include "attestation/pki/chain_cache.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#define NB 1700000000
#define NA 1800000000

/* A self-signed certificate valid NB..NA and its key. */
static X509 *make_cert(EVP_PKEY **key)
{
    X509 *x = X509_new();
    *key = EVP_EC_gen("P-256");
    assert_non_null(x);
    assert_non_null(*key);
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), NB));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), NA));
    assert_int_equal(X509_set_pubkey(x, *key), 1);
    assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
    return x;
}

static void key_of(uint8_t k[32], int i)
{
    memset(k, 0, 32);
    k[0] = (uint8_t)i;
    k[31] = (uint8_t)(i * 7);
}

static void test_window_facts_and_chain(void **state)
{
    struct bpt_chain_cache *c = NULL;
    EVP_PKEY *key = NULL, *got = NULL;
    X509 *x = make_cert(&key);
    STACK_OF(X509) *chain = sk_X509_new_null(), *out = NULL;
    uint8_t k[32], facts[8] = "facts!!", back[8] = {0};
    uint64_t hits = 0, lookups = 0;
    (void)state;
    assert_true(sk_X509_push(chain, x) > 0);
    assert_rc_msg(bpt_chain_cache_new(&c, 0), BPT_EINVAL, "chain cache: cache: 0 entries");
    assert_ok(bpt_chain_cache_new(&c, 4));
    key_of(k, 1);
    assert_rc_msg(bpt_chain_cache_put(c, k, chain, false, key, facts, BPT_CHAIN_CACHE_BLOB + 1),
                  BPT_EINVAL, "257-byte facts");
    assert_ok(bpt_chain_cache_put(c, k, chain, false, key, facts, sizeof(facts)));
    assert_int_equal(bpt_chain_cache_count(c), 1);
    /* inside the window: the key and the facts */
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, back, sizeof(back), NULL), 1);
    assert_ptr_equal(got, key);
    assert_memory_equal(back, facts, sizeof(facts));
    EVP_PKEY_free(got);
    /* notBefore <= at < notAfter, as X509_verify_cert() judges */
    assert_int_equal(bpt_chain_cache_get(c, k, NB - 1, &got, back, sizeof(back), NULL), 0);
    assert_null(got);
    assert_int_equal(bpt_chain_cache_get(c, k, NA, &got, back, sizeof(back), NULL), 0);
    assert_int_equal(bpt_chain_cache_get(c, k, NA - 1, &got, back, sizeof(back), NULL), 1);
    EVP_PKEY_free(got);
    /* other facts' size, or a chain asked of an entry that did not keep it: misses */
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, back, 4, NULL), 0);
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, back, sizeof(back), &out), 0);
    assert_null(out);
    /* the same key put again keeps its entry (keys are per provider, which always or never
     * keeps chains: equal keys, equal entries) */
    assert_ok(bpt_chain_cache_put(c, k, chain, true, key, facts, sizeof(facts)));
    assert_int_equal(bpt_chain_cache_count(c), 1);
    /* kept: the chain comes back with new references */
    key_of(k, 2);
    assert_ok(bpt_chain_cache_put(c, k, chain, true, key, facts, sizeof(facts)));
    assert_int_equal(bpt_chain_cache_count(c), 2);
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, back, sizeof(back), &out), 1);
    assert_int_equal(sk_X509_num(out), 1);
    assert_ptr_equal(sk_X509_value(out, 0), x);
    sk_X509_pop_free(out, X509_free);
    EVP_PKEY_free(got);
    bpt_chain_cache_stats(c, &hits, &lookups);
    assert_int_equal(hits, 3);
    assert_int_equal(lookups, 7);
    bpt_chain_cache_free(c);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
}

static void test_least_recently_used_evicted(void **state)
{
    struct bpt_chain_cache *c = NULL;
    EVP_PKEY *key = NULL, *got = NULL;
    X509 *x = make_cert(&key);
    STACK_OF(X509) *chain = sk_X509_new_null();
    uint8_t k[32];
    (void)state;
    assert_true(sk_X509_push(chain, x) > 0);
    assert_ok(bpt_chain_cache_new(&c, 2));
    for (int i = 0; i < 2; i++) {
        key_of(k, i);
        assert_ok(bpt_chain_cache_put(c, k, chain, false, key, NULL, 0));
    }
    key_of(k, 0); /* 0 used: 1 is now the least recent */
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, NULL, 0, NULL), 1);
    EVP_PKEY_free(got);
    key_of(k, 2);
    assert_ok(bpt_chain_cache_put(c, k, chain, false, key, NULL, 0));
    assert_int_equal(bpt_chain_cache_count(c), 2);
    key_of(k, 1);
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, NULL, 0, NULL), 0);
    key_of(k, 0);
    assert_int_equal(bpt_chain_cache_get(c, k, NB, &got, NULL, 0, NULL), 1);
    EVP_PKEY_free(got);
    bpt_chain_cache_free(c);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_facts_and_chain),
        cmocka_unit_test(test_least_recently_used_evicted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
