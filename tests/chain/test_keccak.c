/*
 * Keccak-256: the published vectors (empty string, "abc"), the Python reference beside
 * ../shared/reference (keccak.py: the vectors below were computed with it, across the 136-byte
 * rate boundary), incremental updates in every split, the selectors and topics of the reference,
 * and the difference from SHA3-256 (same permutation, other padding).
 */
#include "helpers/test.h"

#include "chain/keccak.h"

#include <openssl/evp.h>

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    }
}

static void check(const void *msg, size_t n, const char *want)
{
    uint8_t h[32];
    char got[65];
    bpt_keccak256(h, msg, n);
    hex(got, h, 32);
    assert_string_equal(got, want);
}

static void test_published_vectors(void **state)
{
    (void)state;
    check("", 0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    check("abc", 3, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

static void test_python_reference(void **state)
{
    static const struct {
        size_t n;
        const char *want;
    } cases[] = {
        {135, "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"},
        {136, "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"},
        {137, "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"},
    };
    uint8_t buf[512];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 'a', cases[i].n);
        check(buf, cases[i].n, cases[i].want);
    }
    for (size_t i = 0; i < 512; i++) {
        buf[i] = (uint8_t)i;
    }
    check(buf, 512, "f55ba327291604f0e5be6651752398b7be2331aad65f5763ce067df95cc13be1");
}

static void test_incremental_splits(void **state)
{
    uint8_t buf[300], whole[32], part[32];
    (void)state;
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 7);
    }
    bpt_keccak256(whole, buf, sizeof(buf));
    for (size_t a = 0; a <= sizeof(buf); a += 17) {
        for (size_t b = a; b <= sizeof(buf); b += 29) {
            struct bpt_keccak k;
            bpt_keccak_init(&k);
            bpt_keccak_update(&k, buf, a);
            bpt_keccak_update(&k, buf + a, b - a);
            bpt_keccak_update(&k, buf + b, sizeof(buf) - b);
            bpt_keccak_final(&k, part);
            assert_memory_equal(whole, part, 32);
        }
    }
}

static void test_reference_selectors_and_topics(void **state)
{
    uint8_t h[32];
    char got[65];
    (void)state;
    bpt_keccak256(h, "submitResult(uint64,uint64,bytes)", 33);
    hex(got, h, 4);
    assert_string_equal(got, "2d07e655");
    bpt_keccak256(h, "getAttestationHash(uint64,address)", 34);
    hex(got, h, 4);
    assert_string_equal(got, "8089ab05");
    check("JobSubmitted(uint64,uint64,uint8,address,bytes)", 47,
          "de37cc48d21778e1c9a075c4e41c5aff6918c3ea6151221f0af3ce8121a29db5");
}

static void test_not_sha3(void **state)
{
    uint8_t k[32], s[32];
    unsigned n = 0;
    (void)state;
    bpt_keccak256(k, "", 0);
    assert_int_equal(EVP_Digest("", 0, s, &n, EVP_sha3_256(), NULL), 1);
    assert_int_equal(n, 32);
    assert_memory_not_equal(k, s, 32); /* SHA3 pads 0x06: a different digest */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vectors),
        cmocka_unit_test(test_python_reference),
        cmocka_unit_test(test_incremental_splits),
        cmocka_unit_test(test_reference_selectors_and_topics),
        cmocka_unit_test(test_not_sha3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
