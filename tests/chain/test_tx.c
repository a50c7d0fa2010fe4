/*
 * RLP (the Ethereum wiki's vectors and the canonical-form checks), addresses (EIP-55's
 * published examples), key derivation (a well-known key and its address), and EIP-1559
 * transactions: signed, decoded, the sender recovered, s low, every field kept.
 */
#include "helpers/test.h"

#include "chain/chain_internal.h"
#include "chain/rlp.h"

static void test_rlp_vectors(void **state)
{
    static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
    bpt_buf b = BPT_BUF_INIT(4096), items = BPT_BUF_INIT(4096);
    (void)state;
    assert_ok(bpt_rlp_bytes(&b, (const uint8_t *)"dog", 3));
    assert_memory_equal(b.data,
                        "\x83"
                        "dog",
                        4);
    bpt_buf_reset(&b);
    assert_ok(bpt_rlp_bytes(&items, (const uint8_t *)"cat", 3));
    assert_ok(bpt_rlp_bytes(&items, (const uint8_t *)"dog", 3));
    assert_ok(bpt_rlp_list(&b, items.data, items.len));
    assert_memory_equal(b.data,
                        "\xc8\x83"
                        "cat\x83"
                        "dog",
                        9);
    bpt_buf_reset(&b);
    assert_ok(bpt_rlp_uint(&b, 0));
    assert_ok(bpt_rlp_uint(&b, 15));
    assert_ok(bpt_rlp_uint(&b, 1024));
    assert_ok(bpt_rlp_bytes(&b, NULL, 0));
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "\x80\x0f\x82\x04\x00\x80", 6);
    bpt_buf_reset(&b);
    assert_ok(bpt_rlp_bytes(&b, (const uint8_t *)lorem, 56));
    assert_int_equal(b.data[0], 0xb8);
    assert_int_equal(b.data[1], 56);
    bpt_buf_dispose(&b);
    bpt_buf_dispose(&items);
}

static void test_rlp_strict_decoding(void **state)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        const char *msg;
    } cases[] = {
        {"wrapped small byte", "\x81\x05", 2, "byte 0x05 wrapped"},
        {"long form for a short string",
         "\xb8\x02"
         "ab",
         4, "long form for 2 bytes"},
        {"length with a leading zero", "\xb9\x00\x40", 3, "leading zero"},
        {"truncated",
         "\x83"
         "do",
         3, "offset"},
        {"length of 5 bytes", "\xbc\x01\x01\x01\x01\x01", 6, "a 5-byte length"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bpt_reader r;
        struct bpt_rlp_item it;
        int rc;
        bpt_reader_init(&r, (const uint8_t *)cases[i].bytes, cases[i].len, "rlp");
        rc = bpt_rlp_next(&it, &r, "item");
        if (rc != BPT_EMALFORMED || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s: rc %d message '%s', want '%s'", cases[i].name, rc, bpt_error_last(),
                     cases[i].msg);
        }
    }
    {
        struct bpt_rlp_item it = {false, (const uint8_t *)"\x00\x01", 2};
        uint64_t v;
        assert_rc_msg(bpt_rlp_item_u64(&v, &it, "nonce"), BPT_EMALFORMED,
                      "nonce is not a canonical integer");
    }
}

static void test_addresses(void **state)
{
    static const char *const eip55[] = {
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"};
    bpt_eth_address a;
    char text[43];
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        assert_ok(bpt_eth_address_parse(&a, eip55[i]));
        bpt_eth_address_format(text, &a);
        assert_string_equal(text, eip55[i]);
    }
    assert_ok(bpt_eth_address_parse(&a, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"));
    assert_rc_msg(bpt_eth_address_parse(&a, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
                  BPT_EINVAL, "bad EIP-55 checksum");
    assert_rc_msg(bpt_eth_address_parse(&a, "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), BPT_EINVAL,
                  "want 0x and 40 hex digits");
    assert_rc_msg(bpt_eth_address_parse(&a, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg"),
                  BPT_EINVAL, "want 0x and 40 hex digits");
}

/* ganache's deterministic account 0. */
static const char KEY0[] = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d";

static void test_key_address(void **state)
{
    bpt_eth_key *k = NULL;
    size_t n;
    uint8_t *secret = bpt_test_hex_bytes(KEY0, &n), zero[32] = {0}, order[32];
    char text[43];
    (void)state;
    assert_ok(bpt_eth_key_from_bytes(&k, secret));
    bpt_eth_address_format(text, bpt_eth_key_address(k));
    assert_string_equal(text, "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1");
    bpt_eth_key_free(k);
    k = NULL;
    assert_rc_msg(bpt_eth_key_from_bytes(&k, zero), BPT_EINVAL, "not a secp256k1 secret key");
    memset(order, 0xff, sizeof(order)); /* past the curve order */
    assert_rc_msg(bpt_eth_key_from_bytes(&k, order), BPT_EINVAL, "past the order");
    assert_null(k);
    free(secret);
}

static void test_sign_and_recover(void **state)
{
    bpt_eth_key *k = NULL;
    size_t n;
    uint8_t *secret = bpt_test_hex_bytes(KEY0, &n), hash[32], data[100];
    struct bpt_eth_tx tx, back;
    bpt_eth_address from;
    bpt_buf raw = BPT_BUF_INIT(1 << 20);
    (void)state;
    assert_ok(bpt_eth_key_from_bytes(&k, secret));
    memset(&tx, 0, sizeof(tx));
    memset(data, 0x42, sizeof(data));
    tx.chain_id = 1337;
    tx.nonce = 5;
    tx.max_priority_fee = 1000000000;
    tx.max_fee = 3000000000;
    tx.gas = 8000000;
    memset(tx.to.bytes, 0x11, 20);
    tx.data = data;
    tx.len = sizeof(data);
    assert_ok(bpt_eth_tx_sign(&raw, hash, &tx, k));
    assert_int_equal(raw.data[0], 0x02);
    assert_ok(bpt_eth_tx_decode(&back, &from, raw.data, raw.len));
    assert_memory_equal(from.bytes, bpt_eth_key_address(k)->bytes, 20);
    assert_int_equal(back.chain_id, 1337);
    assert_int_equal(back.nonce, 5);
    assert_int_equal(back.gas, 8000000);
    assert_int_equal(back.max_fee, 3000000000);
    assert_int_equal(back.len, sizeof(data));
    assert_memory_equal(back.to.bytes, tx.to.bytes, 20);
    /* deterministic (RFC 6979): the same transaction signs to the same bytes */
    {
        bpt_buf again = BPT_BUF_INIT(1 << 20);
        uint8_t h2[32];
        assert_ok(bpt_eth_tx_sign(&again, h2, &tx, k));
        assert_memory_equal(hash, h2, 32);
        bpt_buf_dispose(&again);
    }
    /* a changed byte recovers another sender (or none) */
    raw.data[raw.len - 70] ^= 1;
    if (bpt_eth_tx_decode(&back, &from, raw.data, raw.len) == 0) {
        assert_memory_not_equal(from.bytes, bpt_eth_key_address(k)->bytes, 20);
    }
    /* another type */
    raw.data[0] = 0x01;
    assert_rc_msg(bpt_eth_tx_decode(&back, &from, raw.data, raw.len), BPT_EMALFORMED, "type 0x01");
    bpt_buf_dispose(&raw);
    bpt_eth_key_free(k);
    free(secret);
}

/* The two signature-shape checks of the decoder, each made to fail alone: a y_parity that is
 * not 0/1, and s replaced by n - s (a valid signature of the same sender, but malleable). */
static void test_decode_refuses_bad_signature_shape(void **state)
{
    static const uint8_t n_order[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                        0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                        0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    bpt_eth_key *k = NULL;
    size_t n;
    uint8_t *secret = bpt_test_hex_bytes(KEY0, &n), hash[32], *s, parity;
    struct bpt_eth_tx tx, back;
    bpt_eth_address from;
    bpt_buf raw = BPT_BUF_INIT(1 << 20);
    int borrow = 0;
    (void)state;
    assert_ok(bpt_eth_key_from_bytes(&k, secret));
    memset(&tx, 0, sizeof(tx));
    tx.chain_id = 1337;
    tx.gas = 21000;
    assert_ok(bpt_eth_tx_sign(&raw, hash, &tx, k));
    /* the tail is y_parity (one byte), r and s (0xa0 and 32 bytes each) */
    assert_int_equal(raw.data[raw.len - 33], 0xa0);
    assert_int_equal(raw.data[raw.len - 66], 0xa0);
    parity = raw.data[raw.len - 67];
    assert_true(parity == 0x80 || parity == 0x01);
    assert_ok(bpt_eth_tx_decode(&back, &from, raw.data, raw.len));

    raw.data[raw.len - 67] = 0x02;
    assert_rc_msg(bpt_eth_tx_decode(&back, &from, raw.data, raw.len), BPT_ESIGNATURE,
                  "y_parity 2, want 0 or 1");
    raw.data[raw.len - 67] = parity;

    s = raw.data + raw.len - 32;
    for (int i = 31; i >= 0; i--) { /* s = n - s */
        int d = n_order[i] - s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    raw.data[raw.len - 67] = parity == 0x80 ? 0x01 : 0x80;
    assert_rc_msg(bpt_eth_tx_decode(&back, &from, raw.data, raw.len), BPT_ESIGNATURE, "high s");
    bpt_buf_dispose(&raw);
    bpt_eth_key_free(k);
    free(secret);
}

/* 0x02 || rlp(list) of a hand-made transaction whose 'to', data and access list items are given
 * as encoded RLP, signed by r = 0 and s = 1 (a well-formed pair no sender recovers from). */
static void hand_tx(bpt_buf *raw, const uint8_t *to, size_t to_len, const uint8_t *data,
                    size_t data_len, const uint8_t *access, size_t access_len)
{
    uint8_t r[32] = {0}, s[32] = {0};
    bpt_buf f = BPT_BUF_INIT(4096);
    s[31] = 1;
    for (int i = 0; i < 5; i++) {
        assert_ok(bpt_rlp_uint(&f, (uint64_t)i + 1));
    }
    assert_ok(bpt_buf_append(&f, to, to_len));
    assert_ok(bpt_rlp_uint(&f, 0)); /* value */
    assert_ok(bpt_buf_append(&f, data, data_len));
    assert_ok(bpt_buf_append(&f, access, access_len));
    assert_ok(bpt_rlp_uint(&f, 0)); /* y_parity */
    assert_ok(bpt_rlp_uint256(&f, r));
    assert_ok(bpt_rlp_uint256(&f, s));
    bpt_buf_reset(raw);
    assert_ok(bpt_buf_append(raw, "\x02", 1));
    assert_ok(bpt_rlp_list(raw, f.data, f.len));
    bpt_buf_dispose(&f);
}

/* The decoder's structural checks and its recovery check, each made to fail alone. */
static void test_decode_refuses_bad_fields(void **state)
{
    static const uint8_t to20[21] = {0x94, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                     0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                     0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
    static const uint8_t to19[20] = {0x93, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                     0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
    static const uint8_t empty_str[1] = {0x80}, empty_list[1] = {0xc0}, one_list[2] = {0xc1, 0x01};
    struct bpt_tx_case {
        const uint8_t *to, *data, *access;
        size_t to_len, data_len, access_len;
        int code;
        const char *msg;
    } cases[] = {
        {to19, empty_str, empty_list, 20, 1, 1, BPT_EMALFORMED, "'to' is not 20 bytes"},
        {to20, empty_list, empty_list, 21, 1, 1, BPT_EMALFORMED, "data is a list"},
        {to20, empty_str, one_list, 21, 1, 2, BPT_EMALFORMED, "access list that is not empty"},
        {to20, empty_str, empty_str, 21, 1, 1, BPT_EMALFORMED, "access list that is not empty"},
        {to20, empty_str, empty_list, 21, 1, 1, BPT_ESIGNATURE, "no sender recovers"},
    };
    struct bpt_eth_tx back;
    bpt_eth_address from;
    bpt_buf raw = BPT_BUF_INIT(1 << 20);
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hand_tx(&raw, cases[i].to, cases[i].to_len, cases[i].data, cases[i].data_len,
                cases[i].access, cases[i].access_len);
        assert_rc_msg(bpt_eth_tx_decode(&back, &from, raw.data, raw.len), cases[i].code,
                      cases[i].msg);
    }
    /* not a list: 0x02 || a string */
    bpt_buf_reset(&raw);
    assert_ok(bpt_buf_append(&raw, "\x02\x80", 2));
    assert_rc_msg(bpt_eth_tx_decode(&back, &from, raw.data, raw.len), BPT_EMALFORMED, "not a list");
    bpt_buf_dispose(&raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rlp_vectors),
        cmocka_unit_test(test_rlp_strict_decoding),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_key_address),
        cmocka_unit_test(test_sign_and_recover),
        cmocka_unit_test(test_decode_refuses_bad_signature_shape),
        cmocka_unit_test(test_decode_refuses_bad_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
