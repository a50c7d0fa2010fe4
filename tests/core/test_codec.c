/*
 * Hex, base64 and base64url: RFC 4648 §10 vectors, round trips, and every refusal (odd
 * length, bad character, non-canonical trailing bits, wrong or missing padding, '=' in
 * base64url, output past the buffer's maximum).
 */
#include "helpers/test.h"

#include "core/codec.h"

#include <stdlib.h>

static const struct vec {
    const char *raw, *hex, *b64, *b64url;
} rfc4648[] = {
    {"", "", "", ""},
    {"f", "66", "Zg==", "Zg"},
    {"fo", "666f", "Zm8=", "Zm8"},
    {"foo", "666f6f", "Zm9v", "Zm9v"},
    {"foob", "666f6f62", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "666f6f6261", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "666f6f626172", "Zm9vYmFy", "Zm9vYmFy"},
};

typedef int (*decode_fn)(bpt_buf *, const char *, size_t, const char *);
typedef int (*encode_fn)(char **, const uint8_t *, size_t);

static void check_decode(decode_fn fn, const char *in, const char *want)
{
    bpt_buf b = BPT_BUF_INIT(1024);
    int rc = fn(&b, in, strlen(in), "field");
    if (rc != 0) {
        fail_msg("decode '%s': %d %s", in, rc, bpt_error_last());
    }
    assert_int_equal(b.len, strlen(want));
    if (b.len) {
        assert_memory_equal(b.data, want, b.len);
    }
    bpt_buf_dispose(&b);
}

static void check_encode(encode_fn fn, const char *raw, const char *want)
{
    char *s = NULL;
    assert_ok(fn(&s, (const uint8_t *)raw, strlen(raw)));
    assert_string_equal(s, want);
    bpt_free(s);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const struct vec *v = &rfc4648[i];
        check_decode(bpt_hex_decode, v->hex, v->raw);
        check_decode(bpt_base64_decode, v->b64, v->raw);
        check_decode(bpt_base64url_decode, v->b64url, v->raw);
        check_encode(bpt_hex_encode, v->raw, v->hex);
        check_encode(bpt_base64_encode, v->raw, v->b64);
        check_encode(bpt_base64url_encode, v->raw, v->b64url);
    }
    /* RFC 4648 §8 writes base16 in upper case; decoding accepts either case. */
    check_decode(bpt_hex_decode, "666F6F626172", "foobar");
    check_decode(bpt_hex_decode, "666F6f626172", "foobar");
}

static void test_alphabets_differ(void **state)
{
    const uint8_t raw[] = {0xfb, 0xff, 0xbf};
    char *s;
    (void)state;
    assert_ok(bpt_base64_encode(&s, raw, 3));
    assert_string_equal(s, "+/+/");
    bpt_free(s);
    assert_ok(bpt_base64url_encode(&s, raw, 3));
    assert_string_equal(s, "-_-_");
    bpt_free(s);
    check_decode(bpt_base64_decode, "+/+/", "\xfb\xff\xbf");
    check_decode(bpt_base64url_decode, "-_-_", "\xfb\xff\xbf");
    bpt_buf b = BPT_BUF_INIT(16);
    assert_rc_msg(bpt_base64_decode(&b, "-_-_", 4, "k"), BPT_EINVAL,
                  "k: invalid base64 character at offset 0");
    assert_rc_msg(bpt_base64url_decode(&b, "+/+/", 4, "k"), BPT_EINVAL,
                  "k: invalid base64url character at offset 0");
    bpt_buf_dispose(&b);
}

static void test_round_trip_all_lengths(void **state)
{
    uint8_t raw[300];
    (void)state;
    for (size_t i = 0; i < sizeof(raw); i++) {
        raw[i] = (uint8_t)(i * 37 + 11);
    }
    /* Every length 0..299 crosses the decoders' internal chunk sizes (192 and 256). */
    for (size_t n = 0; n <= sizeof(raw); n++) {
        char *h, *s, *u;
        bpt_buf b = BPT_BUF_INIT(n);
        assert_ok(bpt_hex_encode(&h, raw, n));
        assert_ok(bpt_base64_encode(&s, raw, n));
        assert_ok(bpt_base64url_encode(&u, raw, n));
        assert_int_equal(strlen(h), 2 * n);
        assert_int_equal(strlen(s), (n + 2) / 3 * 4);
        assert_null(strchr(u, '='));

        assert_ok(bpt_hex_decode(&b, h, strlen(h), "h"));
        assert_int_equal(b.len, n);
        assert_true(n == 0 || memcmp(b.data, raw, n) == 0);
        bpt_buf_reset(&b);
        assert_ok(bpt_base64_decode(&b, s, strlen(s), "s"));
        assert_int_equal(b.len, n);
        assert_true(n == 0 || memcmp(b.data, raw, n) == 0);
        bpt_buf_reset(&b);
        assert_ok(bpt_base64url_decode(&b, u, strlen(u), "u"));
        assert_int_equal(b.len, n);
        assert_true(n == 0 || memcmp(b.data, raw, n) == 0);

        uint8_t exact[300];
        assert_ok(bpt_hex_decode_exact(exact, n, h, strlen(h), "h"));
        assert_true(n == 0 || memcmp(exact, raw, n) == 0);

        char to[601];
        bpt_hex_encode_to(to, raw, n);
        assert_string_equal(to, h);
        bpt_free(h);
        bpt_free(s);
        bpt_free(u);
        bpt_buf_dispose(&b);
    }
}

static const struct bad {
    const char *name;
    decode_fn fn;
    const char *in;
    int want;
    const char *msg;
} bad_cases[] = {
    {"hex odd length", bpt_hex_decode, "abc", BPT_EINVAL, "f: hex has odd length 3"},
    {"hex one char", bpt_hex_decode, "a", BPT_EINVAL, "odd length 1"},
    {"hex bad char high", bpt_hex_decode, "00g0", BPT_EINVAL, "f: not hex at offset 2"},
    {"hex bad char low", bpt_hex_decode, "000g", BPT_EINVAL, "not hex at offset 3"},
    {"hex space", bpt_hex_decode, "00 0", BPT_EINVAL, "not hex at offset 2"},
    {"hex 0x prefix", bpt_hex_decode, "0x00", BPT_EINVAL, "not hex at offset 1"},
    {"hex late bad char", bpt_hex_decode,
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00zz",
     BPT_EINVAL, "not hex at offset 506"},
    {"b64 missing padding 2", bpt_base64_decode, "Zg", BPT_EINVAL,
     "length 2 is not a multiple of 4"},
    {"b64 missing padding 1", bpt_base64_decode, "Zm8", BPT_EINVAL, "not a multiple of 4"},
    {"b64 short padding", bpt_base64_decode, "Zg=", BPT_EINVAL, "length 3 is not a multiple of 4"},
    {"b64 too much padding", bpt_base64_decode, "Z===", BPT_EINVAL,
     "invalid base64 character at offset 1"},
    {"b64 all padding", bpt_base64_decode, "====", BPT_EINVAL, "character at offset 0"},
    {"b64 padding in middle", bpt_base64_decode, "Zg==Zg==", BPT_EINVAL,
     "invalid base64 character at offset 2"},
    {"b64 three pad", bpt_base64_decode, "Zm9vY===", BPT_EINVAL, "character at offset 5"},
    {"b64 pad where data is", bpt_base64_decode, "Zm=v", BPT_EINVAL, "character at offset 2"},
    {"b64 non-canonical 1 byte", bpt_base64_decode, "Zh==", BPT_EINVAL,
     "f: non-canonical base64 (unused bits set)"},
    {"b64 non-canonical 2 bytes", bpt_base64_decode, "Zm9=", BPT_EINVAL, "non-canonical"},
    {"b64 whitespace", bpt_base64_decode, "Zm9v\nYmFy", BPT_EINVAL, "not a multiple of 4"},
    {"b64 space", bpt_base64_decode, "Zm9 ", BPT_EINVAL, "character at offset 3"},
    {"b64 bad char", bpt_base64_decode, "Zm9*", BPT_EINVAL, "invalid base64 character at offset 3"},
    {"b64url with padding", bpt_base64url_decode, "Zg==", BPT_EINVAL,
     "invalid base64url character at offset 2"},
    {"b64url with one pad", bpt_base64url_decode, "Zm8=", BPT_EINVAL, "offset 3"},
    {"b64url impossible length", bpt_base64url_decode, "Zm9vY", BPT_EINVAL,
     "base64url length 5 is impossible"},
    {"b64url one char", bpt_base64url_decode, "Z", BPT_EINVAL, "impossible"},
    {"b64url non-canonical", bpt_base64url_decode, "Zh", BPT_EINVAL, "non-canonical base64url"},
    {"b64url non-canonical 2", bpt_base64url_decode, "Zm9", BPT_EINVAL, "non-canonical"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad *c = &bad_cases[i];
        bpt_buf b = BPT_BUF_INIT(4096);
        /* Pre-existing content must survive a failed decode unchanged. */
        assert_ok(bpt_buf_append_str(&b, "keep"));
        int rc = c->fn(&b, c->in, strlen(c->in), "f");
        if (rc != c->want || !strstr(bpt_error_last(), c->msg)) {
            fail_msg("case '%s': got %d '%s', want %d '%s'", c->name, rc, bpt_error_last(), c->want,
                     c->msg);
        }
        if (b.len != 4 || strcmp((char *)b.data, "keep") != 0) {
            fail_msg("case '%s': output changed by a failed decode (len %zu)", c->name, b.len);
        }
        bpt_buf_dispose(&b);
    }
}

static void test_hex_decode_exact(void **state)
{
    uint8_t out[4];
    (void)state;
    assert_ok(bpt_hex_decode_exact(out, 4, "DEADbeef", 8, "id"));
    assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
    assert_rc_msg(bpt_hex_decode_exact(out, 4, "deadbe", 6, "id"), BPT_EINVAL,
                  "id: expected 8 hex digits (4 bytes), got 6");
    assert_rc_msg(bpt_hex_decode_exact(out, 4, "deadbeef00", 10, "id"), BPT_EINVAL, "got 10");
    assert_rc_msg(bpt_hex_decode_exact(out, 4, "deadbeeg", 8, "id"), BPT_EINVAL,
                  "id: not hex at offset 7");
}

/* Decoding into a buffer whose maximum is exactly the output size works; one less fails. */
static void test_decode_at_buffer_limit(void **state)
{
    static const struct {
        decode_fn fn;
        const char *in;
        size_t out_len;
    } cases[] = {
        {bpt_hex_decode, "666f6f626172", 6},
        {bpt_base64_decode, "Zm9vYmFy", 6},
        {bpt_base64_decode, "Zm9vYg==", 4},
        {bpt_base64url_decode, "Zm9vYmE", 5},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bpt_buf b = BPT_BUF_INIT(cases[i].out_len);
        assert_ok(cases[i].fn(&b, cases[i].in, strlen(cases[i].in), "blob"));
        assert_int_equal(b.len, cases[i].out_len);
        bpt_buf_dispose(&b);
        bpt_buf_init(&b, cases[i].out_len - 1);
        assert_rc_msg(cases[i].fn(&b, cases[i].in, strlen(cases[i].in), "blob"), BPT_ELIMIT,
                      "blob: buffer");
        assert_int_equal(b.len, 0);
        bpt_buf_dispose(&b);
    }
    /* Larger than one internal chunk: limit hit after the first chunk was appended. */
    char hex[1201];
    memset(hex, 'a', 1200);
    hex[1200] = '\0';
    bpt_buf b = BPT_BUF_INIT(600);
    assert_ok(bpt_hex_decode(&b, hex, 1200, "big"));
    bpt_buf_dispose(&b);
    bpt_buf_init(&b, 599);
    assert_rc_msg(bpt_hex_decode(&b, hex, 1200, "big"), BPT_ELIMIT, "limit of 599");
    assert_int_equal(b.len, 0);
    bpt_buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_alphabets_differ),
        cmocka_unit_test(test_round_trip_all_lengths),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hex_decode_exact),
        cmocka_unit_test(test_decode_at_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
