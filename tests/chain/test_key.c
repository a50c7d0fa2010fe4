/*
 * Operator key files: a hex file refused unless mode 0600 (or stricter), its format, and
 * keystore v3 files: the Web3 Secret Storage definition's pbkdf2 test vector (c=262144, password
 * "testpassword"); its scrypt vector (n=2^18 with r=1) is refused with a clear message, since
 * RFC 7914 wants n < 2^(16r) and OpenSSL enforces it (geth's own keystores use r=8); a scrypt
 * keystore of the same key made by Node's crypto (n=8192, r=8, p=1; MAC with js-sha3's keccak)
 * opens. The MAC is checked (a wrong password is refused), the kdf parameters are bounded.
 * Labelled slow: 262144 PBKDF2 rounds are slow under valgrind, which runs the unit label only.
 */
/* bpt-test-labels: slow */
#include "helpers/test.h"

#include <ctype.h>

#include <sys/stat.h>

static const char WANT_ADDR_KEY[] =
    "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

static const char SCRYPT_KS[] =
    "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
    "\"83dbcc02d8ccb40e466191a123791e0e\"},\"ciphertext\":"
    "\"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c\",\"kdf\":\"scrypt\","
    "\"kdfparams\":{\"dklen\":32,\"n\":262144,\"p\":8,\"r\":1,\"salt\":"
    "\"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19\"},\"mac\":"
    "\"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097\"},\"id\":"
    "\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";

static const char NODE_SCRYPT_KS[] =
    "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
    "\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\"},\"ciphertext\":"
    "\"6eec4eed167ee5bbb4bdf55fca07a7bb4f7458628e83ca140b45cccfc884e532\",\"kdf\":\"scrypt\","
    "\"kdfparams\":{\"dklen\":32,\"n\":8192,\"r\":8,\"p\":1,\"salt\":"
    "\"a3c9d3f8a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6\"},\"mac\":"
    "\"0081f956025c4636e55034afff0fa29b6cdd2482b0a1b983156ede3ef3813beb\"},\"id\":\"bpt-test\","
    "\"version\":3}";

static const char PBKDF2_KS[] =
    "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
    "\"6087dab2f9fdbbfaddc31a909735c1e6\"},\"ciphertext\":"
    "\"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46\",\"kdf\":\"pbkdf2\","
    "\"kdfparams\":{\"c\":262144,\"dklen\":32,\"prf\":\"hmac-sha256\",\"salt\":"
    "\"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd\"},\"mac\":"
    "\"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2\"},\"id\":"
    "\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = bpt_test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bpt_test_rmtree(dir);
    free(dir);
    return 0;
}

static void path_of(char *out, const char *name)
{
    snprintf(out, 4096, "%s/%s", dir, name);
}

static void address_of_vector_key(char out[43])
{
    bpt_eth_key *k = NULL;
    size_t n;
    uint8_t *s = bpt_test_hex_bytes(WANT_ADDR_KEY, &n);
    assert_ok(bpt_eth_key_from_bytes(&k, s));
    bpt_eth_address_format(out, bpt_eth_key_address(k));
    bpt_eth_key_free(k);
    free(s);
}

static void test_hex_file(void **state)
{
    char p[4096], want[43], got[43];
    bpt_eth_key *k = NULL;
    (void)state;
    address_of_vector_key(want);
    path_of(p, "op.key");
    bpt_test_write_file(p, "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d\n",
                        67);
    chmod(p, 0644);
    assert_rc_msg(bpt_eth_key_load(&k, p, NULL), BPT_EINVAL, "must be mode 0600");
    assert_null(k);
    chmod(p, 0600);
    assert_ok(bpt_eth_key_load(&k, p, NULL));
    bpt_eth_address_format(got, bpt_eth_key_address(k));
    assert_string_equal(got, want);
    bpt_eth_key_free(k);
    k = NULL;
    chmod(p, 0400);
    assert_ok(bpt_eth_key_load(&k, p, NULL));
    bpt_eth_key_free(k);
    k = NULL;
    path_of(p, "short.key");
    bpt_test_write_file(p, "7a28b5ba", 8);
    chmod(p, 0600);
    assert_rc_msg(bpt_eth_key_load(&k, p, NULL), BPT_EINVAL, "not 64 hex digits");
    path_of(p, "missing.key");
    assert_rc_msg(bpt_eth_key_load(&k, p, NULL), BPT_ENOTFOUND, "missing.key");
    assert_rc_msg(bpt_eth_key_load(&k, dir, NULL), BPT_EINVAL, "is not a regular file");
}

static void test_keystore_vectors(void **state)
{
    char p[4096], want[43], got[43];
    bpt_eth_key *k = NULL;
    (void)state;
    address_of_vector_key(want);
    path_of(p, "web3-scrypt.json");
    bpt_test_write_file(p, SCRYPT_KS, strlen(SCRYPT_KS));
    assert_rc_msg(bpt_eth_key_load(&k, p, "testpassword"), BPT_EINVAL,
                  "n 262144 must be below 2^(16*r) = 2^16 (RFC 7914)");
    path_of(p, "scrypt.json");
    bpt_test_write_file(p, NODE_SCRYPT_KS, strlen(NODE_SCRYPT_KS));
    assert_ok(bpt_eth_key_load(&k, p, "testpassword"));
    bpt_eth_address_format(got, bpt_eth_key_address(k));
    assert_string_equal(got, want);
    bpt_eth_key_free(k);
    k = NULL;
    assert_rc_msg(bpt_eth_key_load(&k, p, "wrong"), BPT_EDECRYPT, "MAC mismatch");
    assert_rc_msg(bpt_eth_key_load(&k, p, NULL), BPT_EINVAL, "needs a password");
    path_of(p, "pbkdf2.json");
    bpt_test_write_file(p, PBKDF2_KS, strlen(PBKDF2_KS));
    assert_ok(bpt_eth_key_load(&k, p, "testpassword"));
    bpt_eth_address_format(got, bpt_eth_key_address(k));
    assert_string_equal(got, want);
    bpt_eth_key_free(k);
}

static void test_keystore_refusals(void **state)
{
    static const struct {
        const char *from, *to, *msg;
        int code;
    } cases[] = {
        {"\"n\":8192", "\"n\":8191", "not a power of two", BPT_EINVAL},
        {"\"n\":8192", "\"n\":4194304", "outside", BPT_EINVAL},
        {"\"n\":8192", "\"n\":4096", "MAC mismatch", BPT_EDECRYPT},
        {"\"dklen\":32", "\"dklen\":16", "dklen 16 outside", BPT_EINVAL},
        {"aes-128-ctr", "aes-128-cbc", "aes-128-ctr only", BPT_EINVAL},
        {"\"kdf\":\"scrypt\"", "\"kdf\":\"argon2\"", "scrypt or pbkdf2", BPT_EINVAL},
        {"\"version\":3", "\"version\":1", "version 1", BPT_EINVAL},
        /* an address that is not the key's: refused once the key is decrypted */
        {"\"id\":\"bpt-test\"",
         "\"address\":\"00000000000000000000000000000000000000aa\",\"id\":\"bpt-test\"",
         "the keystore's address is not its key's", BPT_EINVAL},
    };
    char p[4096];
    bpt_eth_key *k = NULL;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = malloc(sizeof(NODE_SCRYPT_KS) + 128), *at;
        size_t fl = strlen(cases[i].from);
        int rc;
        memcpy(text, NODE_SCRYPT_KS, sizeof(NODE_SCRYPT_KS));
        at = strstr(text, cases[i].from);
        assert_non_null(at);
        memmove(at + strlen(cases[i].to), at + fl, strlen(at + fl) + 1);
        memcpy(at, cases[i].to, strlen(cases[i].to));
        path_of(p, "bad.json");
        bpt_test_write_file(p, text, strlen(text));
        rc = bpt_eth_key_load(&k, p, "testpassword");
        if (rc != cases[i].code || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s -> %s: rc %d '%s', want '%s'", cases[i].from, cases[i].to, rc,
                     bpt_error_last(), cases[i].msg);
        }
        assert_null(k);
        free(text);
    }
    /* the key's own address (as geth writes it: lower case, no 0x) is taken */
    {
        char want[43], text[sizeof(NODE_SCRYPT_KS) + 64], got[43];
        const char *id = strstr(NODE_SCRYPT_KS, "\"id\":");
        address_of_vector_key(want);
        for (char *c = want; *c; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
        snprintf(text, sizeof(text), "%.*s\"address\":\"%s\",%s", (int)(id - NODE_SCRYPT_KS),
                 NODE_SCRYPT_KS, want + 2, id);
        path_of(p, "addressed.json");
        bpt_test_write_file(p, text, strlen(text));
        assert_ok(bpt_eth_key_load(&k, p, "testpassword"));
        bpt_eth_address_format(got, bpt_eth_key_address(k));
        address_of_vector_key(want);
        assert_string_equal(got, want);
        bpt_eth_key_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_file),
        cmocka_unit_test(test_keystore_vectors),
        cmocka_unit_test(test_keystore_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
