/*
 * The bounds-checked reader: every read at exactly the bytes left succeeds and one past fails
 * with BPT_EMALFORMED naming the field and the offset; sub-readers report offsets within the
 * outermost input; reserved zeros; trailing bytes.
 */
#include "helpers/test.h"

#include "core/reader.h"

#include <stdio.h>

static const uint8_t input[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

enum op { U8, U16LE, U32LE, U64LE, U16BE, U32BE, COPY, VIEW, SKIP, ZEROS };

static int do_op(struct bpt_reader *r, enum op op, size_t n, const char *field)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    uint8_t dst[32];
    const uint8_t *v;
    switch (op) {
    case U8:
        return bpt_reader_u8(r, &u8, field);
    case U16LE:
        return bpt_reader_u16le(r, &u16, field);
    case U32LE:
        return bpt_reader_u32le(r, &u32, field);
    case U64LE:
        return bpt_reader_u64le(r, &u64, field);
    case U16BE:
        return bpt_reader_u16be(r, &u16, field);
    case U32BE:
        return bpt_reader_u32be(r, &u32, field);
    case COPY:
        return bpt_reader_copy(r, dst, n, field);
    case VIEW:
        return bpt_reader_view(r, &v, n, field);
    case SKIP:
        return bpt_reader_skip(r, n, field);
    case ZEROS:
        return bpt_reader_zeros(r, n, field);
    }
    return BPT_ERROR;
}

static const struct {
    const char *name;
    enum op op;
    size_t width; /* bytes the read needs */
} ops[] = {
    {"u8", U8, 1},       {"u16le", U16LE, 2}, {"u32le", U32LE, 4}, {"u64le", U64LE, 8},
    {"u16be", U16BE, 2}, {"u32be", U32BE, 4}, {"copy", COPY, 5},   {"view", VIEW, 7},
    {"skip", SKIP, 3},   {"zeros", ZEROS, 6},
};

/* For each read: with exactly `width` bytes left it succeeds and lands at the end; with one
 * byte fewer it fails, names the field and the offset, and does not move. */
static void test_exact_and_one_past(void **state)
{
    static const uint8_t zeros[32] = {0};
    (void)state;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const uint8_t *src = ops[i].op == ZEROS ? zeros : input;
        struct bpt_reader r;
        size_t w = ops[i].width;
        char msg[128];

        /* Exactly w bytes left after a 3-byte prefix. */
        bpt_reader_init(&r, src, 3 + w, "fmt");
        assert_ok(bpt_reader_skip(&r, 3, "prefix"));
        if (do_op(&r, ops[i].op, w, "field_x") != 0) {
            fail_msg("%s with exactly %zu bytes left: %s", ops[i].name, w, bpt_error_last());
        }
        assert_int_equal(bpt_reader_remaining(&r), 0);
        assert_int_equal(bpt_reader_offset(&r), 3 + w);
        assert_ok(bpt_reader_end(&r, "fmt"));

        /* One byte short. */
        bpt_reader_init(&r, src, 3 + w - 1, "fmt");
        assert_ok(bpt_reader_skip(&r, 3, "prefix"));
        snprintf(msg, sizeof(msg), "fmt: field_x needs %zu bytes at offset 3, %zu left", w, w - 1);
        int rc = do_op(&r, ops[i].op, w, "field_x");
        if (rc != BPT_EMALFORMED || strcmp(bpt_error_last(), msg) != 0) {
            fail_msg("%s one past: got %d '%s', want '%s'", ops[i].name, rc, bpt_error_last(), msg);
        }
        assert_int_equal(bpt_reader_offset(&r), 3);
    }
}

static void test_values_and_byte_order(void **state)
{
    struct bpt_reader r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    uint8_t dst[2];
    const uint8_t *v;
    (void)state;
    bpt_reader_init(&r, input, sizeof(input), NULL);
    assert_ok(bpt_reader_u8(&r, &u8, "a"));
    assert_int_equal(u8, 0x01);
    assert_ok(bpt_reader_u16le(&r, &u16, "b"));
    assert_int_equal(u16, 0x0302);
    assert_ok(bpt_reader_u16be(&r, &u16, "c"));
    assert_int_equal(u16, 0x0405);
    assert_ok(bpt_reader_u32le(&r, &u32, "d"));
    assert_int_equal(u32, 0x09080706);
    assert_ok(bpt_reader_copy(&r, dst, 2, "e"));
    assert_memory_equal(dst, "\x0a\x0b", 2);
    assert_ok(bpt_reader_view(&r, &v, 1, "f"));
    assert_ptr_equal(v, input + 11);
    assert_ok(bpt_reader_u32be(&r, &u32, "g"));
    assert_int_equal(u32, 0x0d0e0f10);
    assert_ok(bpt_reader_end(&r, "all"));

    bpt_reader_init(&r, input + 8, 8, NULL);
    assert_ok(bpt_reader_u64le(&r, &u64, "h"));
    assert_true(u64 == 0x100f0e0d0c0b0a09ULL);

    /* Zero-length reads always succeed, even at the end. */
    assert_ok(bpt_reader_copy(&r, dst, 0, "empty"));
    assert_ok(bpt_reader_view(&r, &v, 0, "empty"));
    assert_ok(bpt_reader_skip(&r, 0, "empty"));
    assert_ok(bpt_reader_zeros(&r, 0, "empty"));
}

static void test_no_context_prefix(void **state)
{
    struct bpt_reader r;
    uint32_t u32;
    (void)state;
    bpt_reader_init(&r, input, 2, NULL);
    assert_rc_msg(bpt_reader_u32le(&r, &u32, "version"), BPT_EMALFORMED,
                  "version needs 4 bytes at offset 0, 2 left");
    assert_memory_equal(bpt_error_last(), "version", 7);
}

static void test_huge_lengths_do_not_wrap(void **state)
{
    struct bpt_reader r;
    const uint8_t *v;
    (void)state;
    bpt_reader_init(&r, input, sizeof(input), "fmt");
    assert_ok(bpt_reader_skip(&r, 4, "a"));
    assert_rc_msg(bpt_reader_view(&r, &v, SIZE_MAX, "blob"), BPT_EMALFORMED,
                  "blob needs 18446744073709551615 bytes at offset 4, 12 left");
    assert_rc_msg(bpt_reader_skip(&r, SIZE_MAX - 3, "blob"), BPT_EMALFORMED, "offset 4");
    assert_int_equal(bpt_reader_offset(&r), 4);
    /* A NULL input is an empty input. */
    bpt_reader_init(&r, NULL, 100, "fmt");
    assert_int_equal(bpt_reader_remaining(&r), 0);
    assert_rc_msg(bpt_reader_skip(&r, 1, "x"), BPT_EMALFORMED,
                  "x needs 1 bytes at offset 0, 0 left");
}

static void test_zeros(void **state)
{
    const uint8_t buf[] = {0xff, 0, 0, 0, 0, 0x80, 0};
    struct bpt_reader r;
    (void)state;
    bpt_reader_init(&r, buf, sizeof(buf), "snp");
    assert_ok(bpt_reader_skip(&r, 1, "tag"));
    assert_ok(bpt_reader_zeros(&r, 4, "reserved1"));
    /* The message names the field and the offset of the first non-zero byte. */
    assert_rc_msg(bpt_reader_zeros(&r, 2, "reserved2"), BPT_EMALFORMED,
                  "snp: reserved field reserved2 is not zero at offset 5");
    bpt_reader_init(&r, buf, sizeof(buf), NULL);
    assert_ok(bpt_reader_skip(&r, 1, "tag"));
    assert_rc_msg(bpt_reader_zeros(&r, 6, "pad"), BPT_EMALFORMED,
                  "reserved field pad is not zero at offset 5");
}

static void test_sub_reader_offsets(void **state)
{
    struct bpt_reader r, sub, subsub;
    uint32_t u32;
    uint16_t u16;
    uint8_t u8;
    (void)state;
    bpt_reader_init(&r, input, sizeof(input), "quote");
    assert_ok(bpt_reader_skip(&r, 4, "header"));
    assert_ok(bpt_reader_sub(&r, &sub, 8, "body"));
    assert_int_equal(bpt_reader_offset(&r), 12);
    assert_int_equal(bpt_reader_remaining(&sub), 8);
    assert_ok(bpt_reader_u32le(&sub, &u32, "b0"));
    assert_int_equal(u32, 0x08070605);
    /* Offsets in messages are positions in the outermost input (4 + 4 = 8), and the context
     * name carries over. */
    assert_ok(bpt_reader_u16le(&sub, &u16, "b1"));
    assert_rc_msg(bpt_reader_u32le(&sub, &u32, "b2"), BPT_EMALFORMED,
                  "quote: b2 needs 4 bytes at offset 10, 2 left");
    assert_rc_msg(bpt_reader_end(&sub, "body"), BPT_EMALFORMED,
                  "body: 2 trailing bytes at offset 10");
    /* A sub-reader of a sub-reader. */
    assert_ok(bpt_reader_sub(&sub, &subsub, 2, "inner"));
    assert_ok(bpt_reader_end(&sub, "body"));
    assert_ok(bpt_reader_u8(&subsub, &u8, "i0"));
    assert_int_equal(u8, 0x0b);
    assert_rc_msg(bpt_reader_u16le(&subsub, &u16, "i1"), BPT_EMALFORMED,
                  "quote: i1 needs 2 bytes at offset 11, 1 left");
    /* A sub-reader longer than what is left fails like any read and does not move. */
    assert_rc_msg(bpt_reader_sub(&r, &sub, 5, "tail"), BPT_EMALFORMED,
                  "quote: tail needs 5 bytes at offset 12, 4 left");
    assert_int_equal(bpt_reader_offset(&r), 12);
    assert_ok(bpt_reader_sub(&r, &sub, 4, "tail"));
    assert_ok(bpt_reader_end(&r, "quote"));
    /* Zeros inside a sub-reader report the outer offset too. */
    bpt_reader_init(&r, input, sizeof(input), NULL);
    assert_ok(bpt_reader_skip(&r, 2, "x"));
    assert_ok(bpt_reader_sub(&r, &sub, 4, "y"));
    assert_rc_msg(bpt_reader_zeros(&sub, 1, "rsv"), BPT_EMALFORMED, "not zero at offset 2");
}

static void test_end_with_trailing_bytes(void **state)
{
    struct bpt_reader r;
    (void)state;
    bpt_reader_init(&r, input, sizeof(input), "fmt");
    assert_rc_msg(bpt_reader_end(&r, "sev_snp report"), BPT_EMALFORMED,
                  "sev_snp report: 16 trailing bytes at offset 0");
    assert_ok(bpt_reader_skip(&r, 15, "most"));
    assert_rc_msg(bpt_reader_end(&r, "sev_snp report"), BPT_EMALFORMED,
                  "sev_snp report: 1 trailing bytes at offset 15");
    assert_ok(bpt_reader_skip(&r, 1, "last"));
    assert_ok(bpt_reader_end(&r, "sev_snp report"));
    /* An empty input ends at once. */
    bpt_reader_init(&r, input, 0, "fmt");
    assert_ok(bpt_reader_end(&r, "empty"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_one_past),
        cmocka_unit_test(test_values_and_byte_order),
        cmocka_unit_test(test_no_context_prefix),
        cmocka_unit_test(test_huge_lengths_do_not_wrap),
        cmocka_unit_test(test_zeros),
        cmocka_unit_test(test_sub_reader_offsets),
        cmocka_unit_test(test_end_with_trailing_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
