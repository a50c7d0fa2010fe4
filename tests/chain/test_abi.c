/*
 * The strict ABI codec: the Solidity documentation's encodings, round trips of the Tangle
 * types, and one case per check the decoder makes (each breaks one thing of a valid encoding).
 */
#include "helpers/test.h"

#include "chain/abi.h"
#include "chain/tangle.h"

static uint8_t *unhex(const char *h, size_t *n)
{
    return bpt_test_hex_bytes(h, n);
}

static void word(uint8_t *w, uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++) {
        w[31 - i] = (uint8_t)(v >> (8 * i));
    }
}

/* Solidity docs, "Examples": sam(bytes,bool,uint256[]) with ("dave", true, [1, 2, 3]). */
static const char SAM[] = "a5643bf2"
                          "0000000000000000000000000000000000000000000000000000000000000060"
                          "0000000000000000000000000000000000000000000000000000000000000001"
                          "00000000000000000000000000000000000000000000000000000000000000a0"
                          "0000000000000000000000000000000000000000000000000000000000000004"
                          "6461766500000000000000000000000000000000000000000000000000000000"
                          "0000000000000000000000000000000000000000000000000000000000000003"
                          "0000000000000000000000000000000000000000000000000000000000000001"
                          "0000000000000000000000000000000000000000000000000000000000000002"
                          "0000000000000000000000000000000000000000000000000000000000000003";

static void test_solidity_docs_example(void **state)
{
    struct bpt_abi_value args[3], nums[3], *v = NULL;
    bpt_buf out = BPT_BUF_INIT(4096);
    size_t n;
    uint8_t *want = unhex(SAM, &n);
    uint64_t x;
    (void)state;
    bpt_abi_set_bytes(&args[0], "dave", 4);
    bpt_abi_set_bool(&args[1], true);
    for (int i = 0; i < 3; i++) {
        bpt_abi_set_uint(&nums[i], (uint64_t)i + 1);
    }
    bpt_abi_set_list(&args[2], nums, 3);
    assert_ok(bpt_abi_calldata(&out, "sam(bytes,bool,uint256[])", args, 3));
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    /* and back */
    assert_ok(bpt_abi_decode_text(&v, "(bytes,bool,uint256[])", want + 4, n - 4));
    assert_int_equal(v->n, 3);
    assert_int_equal(v->items[0].len, 4);
    assert_memory_equal(v->items[0].data, "dave", 4);
    assert_int_equal(v->items[1].word[31], 1);
    assert_int_equal(v->items[2].n, 3);
    assert_ok(bpt_abi_get_u64(&x, &v->items[2].items[2], "x"));
    assert_int_equal(x, 3);
    bpt_abi_value_free(v);
    bpt_buf_dispose(&out);
    free(want);
}

/* A nested type of the kind getBlueprintDefinition returns, round-tripped. */
static void test_nested_round_trip(void **state)
{
    static const char *type = "((string,bytes32,address,uint32,bool,(string,bytes)[],uint8[],"
                              "uint256[2]))";
    struct bpt_abi_type *t = NULL;
    struct bpt_abi_value top, def, f[8], jobs[2], job0[2], job1[2], mem[1], fixed[2], *v = NULL;
    bpt_buf out = BPT_BUF_INIT(1 << 16), again = BPT_BUF_INIT(1 << 16);
    uint8_t addr[20];
    (void)state;
    memset(addr, 0xab, sizeof(addr));
    assert_ok(bpt_abi_type_parse(&t, type));
    bpt_abi_set_bytes(&f[0], "ipfs://x", 8);
    bpt_abi_set_uint(&f[1], 0);
    memset(f[1].word, 0x5a, 32);
    bpt_abi_set_address(&f[2], addr);
    bpt_abi_set_uint(&f[3], 7);
    bpt_abi_set_bool(&f[4], false);
    bpt_abi_set_bytes(&job0[0], "square", 6);
    bpt_abi_set_bytes(&job0[1], "", 0);
    bpt_abi_set_bytes(&job1[0], "", 0);
    bpt_abi_set_bytes(&job1[1], "\x02\x01", 2);
    bpt_abi_set_list(&jobs[0], job0, 2);
    bpt_abi_set_list(&jobs[1], job1, 2);
    bpt_abi_set_list(&f[5], jobs, 2);
    bpt_abi_set_uint(&mem[0], 1);
    bpt_abi_set_list(&f[6], mem, 1);
    bpt_abi_set_uint(&fixed[0], 11);
    bpt_abi_set_uint(&fixed[1], 12);
    bpt_abi_set_list(&f[7], fixed, 2);
    bpt_abi_set_list(&def, f, 8);
    bpt_abi_set_list(&top, &def, 1);
    assert_ok(bpt_abi_encode(&out, t, &top));
    assert_ok(bpt_abi_decode(&v, t, out.data, out.len));
    assert_ok(bpt_abi_encode(&again, t, v));
    assert_int_equal(out.len, again.len);
    assert_memory_equal(out.data, again.data, out.len);
    assert_int_equal(v->items[0].items[5].items[1].items[1].len, 2);
    bpt_abi_value_free(v);
    bpt_abi_type_free(t);
    bpt_buf_dispose(&out);
    bpt_buf_dispose(&again);
}

static void test_type_parser(void **state)
{
    static const struct {
        const char *text;
        const char *msg; /* NULL: valid */
    } cases[] = {
        {"(uint8,uint256,address,bool,bytes32,bytes,string)", NULL},
        {"(uint64[],(string,bytes)[][2])", NULL},
        {"uint", NULL},
        {"uint7", "multiple of 8"},
        {"uint264", "multiple of 8"},
        {"bytes33", "1..32"},
        {"bytes0", "1..32"},
        {"int256", "unknown type"},
        {"(uint8", "',' or ')'"},
        {"(uint8))", "unexpected ')'"},
        {"uint8[0]", "array length"},
        {"uint8[", "array length"},
        {"((((((((((((((((((uint8))))))))))))))))))", "nested deeper"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bpt_abi_type *t = NULL;
        int rc = bpt_abi_type_parse(&t, cases[i].text);
        if (!cases[i].msg) {
            if (rc != 0) {
                fail_msg("%s: %s", cases[i].text, bpt_error_last());
            }
        } else {
            if (rc != BPT_EINVAL || !strstr(bpt_error_last(), cases[i].msg)) {
                fail_msg("%s: rc %d message '%s', want '%s'", cases[i].text, rc, bpt_error_last(),
                         cases[i].msg);
            }
        }
        bpt_abi_type_free(t);
    }
}

/* (uint8,address,bytes) = (7, 0xab..ab, "hello") as JobSubmitted's data, then broken. */
static void valid_event(uint8_t buf[160])
{
    memset(buf, 0, 160);
    buf[31] = 7;
    memset(buf + 44, 0xab, 20);
    buf[95] = 0x60;
    buf[127] = 5;
    memcpy(buf + 128, "hello", 5);
}

static void test_decoder_checks(void **state)
{
    static const struct {
        const char *name;
        size_t off;
        uint8_t value;
        size_t len; /* 0: 160 */
        const char *msg;
    } cases[] = {
        {"uint8 with a high bit", 30, 0x01, 0, "bits set above its size"},
        {"address dirty", 40, 0x01, 0, "address at 32 is not clean"},
        {"offset past the end", 95, 0xc0, 0, "offset 224 at 64 is past the end"},
        {"offset huge", 64, 0x01, 0, "offset too large"},
        {"length past the end", 127, 0x40, 0, "runs past the end"},
        {"padding not zero", 140, 0x01, 0, "padding after 5 bytes"},
        {"truncated head", 0, 0, 60, "item 1's head"},
        {"truncated tail", 0, 0, 150, "runs past the end"},
        {"trailing bytes", 0, 0, 192, "32 bytes after the encoding's end"},
    };
    uint8_t buf[192];
    struct bpt_abi_value *v = NULL;
    (void)state;
    valid_event(buf);
    assert_ok(bpt_abi_decode_text(&v, "(uint8,address,bytes)", buf, 160));
    assert_int_equal(v->items[2].len, 5);
    bpt_abi_value_free(v);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;
        memset(buf, 0, sizeof(buf));
        valid_event(buf);
        buf[cases[i].off] |= cases[i].value;
        v = NULL;
        rc = bpt_abi_decode_text(&v, "(uint8,address,bytes)", buf,
                                 cases[i].len ? cases[i].len : 160);
        if (rc != BPT_EMALFORMED || !strstr(bpt_error_last(), cases[i].msg)) {
            fail_msg("%s: rc %d message '%s', want '%s'", cases[i].name, rc, bpt_error_last(),
                     cases[i].msg);
        }
        assert_null(v);
    }
}

static void test_bool_string_and_counts(void **state)
{
    uint8_t buf[128];
    struct bpt_abi_value *v = NULL;
    (void)state;
    memset(buf, 0, sizeof(buf));
    buf[31] = 2;
    assert_rc_msg(bpt_abi_decode_text(&v, "(bool)", buf, 32), BPT_EMALFORMED, "bool at 0 is 2");
    /* a string that is not UTF-8 */
    word(buf, 0x20);
    word(buf + 32, 2);
    buf[64] = 0xc3;
    buf[65] = 0x28;
    assert_rc_msg(bpt_abi_decode_text(&v, "(string)", buf, 96), BPT_EMALFORMED, "not UTF-8");
    buf[65] = 0xa9; /* "é" */
    assert_ok(bpt_abi_decode_text(&v, "(string)", buf, 96));
    bpt_abi_value_free(v);
    v = NULL;
    /* an array count that cannot fit the bytes left: refused before allocating */
    word(buf, 0x20);
    word(buf + 32, 0xffffffffu);
    assert_rc_msg(bpt_abi_decode_text(&v, "(uint256[])", buf, 64), BPT_EMALFORMED,
                  "items of 32 bytes do not fit");
    /* bytes4 with dirty padding */
    memset(buf, 0, 32);
    buf[4] = 1;
    assert_rc_msg(bpt_abi_decode_text(&v, "(bytes4)", buf, 32), BPT_EMALFORMED, "dirty padding");
    assert_null(v);
}

/* Tails must follow the heads in order, each where the previous ended (one encoding per value):
 * a tail in the head, two items sharing a tail and swapped tails are refused. */
static void test_tails_in_order(void **state)
{
    uint8_t buf[160];
    struct bpt_abi_value *v = NULL;
    (void)state;
    memset(buf, 0, sizeof(buf)); /* (string) whose offset 0 points at itself (fuzz found it) */
    assert_rc_msg(bpt_abi_decode_text(&v, "(string)", buf, 32), BPT_EMALFORMED,
                  "item 0's offset 0 at 0 is not where its tail starts (32)");
    word(buf, 0x40); /* (string,string): both at the same tail */
    word(buf + 32, 0x40);
    word(buf + 64, 0);
    assert_rc_msg(bpt_abi_decode_text(&v, "(string,string)", buf, 96), BPT_EMALFORMED,
                  "item 1's offset 64 at 32 is not where its tail starts (96)");
    word(buf, 0x80); /* (bytes,bytes) with the tails swapped */
    word(buf + 32, 0x40);
    word(buf + 64, 0);
    word(buf + 96, 0);
    assert_rc_msg(bpt_abi_decode_text(&v, "(bytes,bytes)", buf, 128), BPT_EMALFORMED,
                  "item 0's offset 128 at 0 is not where its tail starts (64)");
    word(buf, 0x40); /* in order: accepted */
    word(buf + 32, 0x60);
    assert_ok(bpt_abi_decode_text(&v, "(bytes,bytes)", buf, 128));
    bpt_abi_value_free(v);
    v = NULL;
    word(buf + 64, 1); /* the first tail is longer: the second must start after it */
    buf[96] = 0x61;
    word(buf + 128, 0);
    assert_rc_msg(bpt_abi_decode_text(&v, "(bytes,bytes)", buf, 160), BPT_EMALFORMED,
                  "item 1's offset 96 at 32 is not where its tail starts (128)");
    word(buf + 32, 0x80);
    assert_ok(bpt_abi_decode_text(&v, "(bytes,bytes)", buf, 160));
    assert_int_equal(v->items[0].len, 1);
    assert_int_equal(v->items[1].len, 0);
    bpt_abi_value_free(v);
}

static void test_values_limit(void **state)
{
    /* uint8[][] with 4096 inner arrays of 16 values each would be 69632 values: refused. */
    size_t outer = 4096, inner = 16, len = 64 + outer * 32 + outer * (32 + inner * 32);
    uint8_t *buf = calloc(1, len);
    struct bpt_abi_value *v = NULL;
    (void)state;
    word(buf, 0x20);
    word(buf + 32, outer);
    for (size_t i = 0; i < outer; i++) {
        word(buf + 64 + i * 32, outer * 32 + i * (32 + inner * 32));
        word(buf + 64 + outer * 32 + i * (32 + inner * 32), inner);
    }
    assert_rc_msg(bpt_abi_decode_text(&v, "(uint8[][])", buf, len), BPT_ELIMIT, "more than 65536");
    assert_null(v);
    free(buf);
}

static void test_encoder_refuses_misfits(void **state)
{
    struct bpt_abi_type *t = NULL;
    struct bpt_abi_value v, items[1];
    bpt_buf out = BPT_BUF_INIT(1024);
    (void)state;
    assert_ok(bpt_abi_type_parse(&t, "(uint8)"));
    bpt_abi_set_uint(&items[0], 256);
    bpt_abi_set_list(&v, items, 1);
    assert_rc_msg(bpt_abi_encode(&out, t, &v), BPT_EINVAL, "does not fit uint8");
    assert_int_equal(out.len, 0);
    bpt_abi_set_list(&v, items, 0);
    assert_rc_msg(bpt_abi_encode(&out, t, &v), BPT_EINVAL, "0 values for 1 items");
    bpt_abi_type_free(t);
    bpt_buf_dispose(&out);
}

/* The job-event decoder: a valid JobSubmitted, another event ignored, and one case per check. */
static void test_job_event_checks(void **state)
{
    uint8_t topics[4][32];
    struct bpt_abi_type *t = NULL;
    struct bpt_abi_value items[3], v;
    struct bpt_tangle_job job;
    uint8_t caller[20];
    bpt_buf data = BPT_BUF_INIT(1024);
    (void)state;
    memset(caller, 0xab, sizeof(caller));
    assert_ok(bpt_abi_type_parse(&t, "(uint8,address,bytes)"));
    bpt_abi_set_uint(&items[0], 7);
    bpt_abi_set_address(&items[1], caller);
    bpt_abi_set_bytes(&items[2], "in", 2);
    bpt_abi_set_list(&v, items, 3);
    assert_ok(bpt_abi_encode(&data, t, &v));
    memcpy(topics[0], bpt_tangle_topic_job_submitted, 32);
    word(topics[1], 5);
    word(topics[2], 9);
    word(topics[3], 256);

    assert_int_equal(
        bpt_tangle_job_decode(&job, (const uint8_t(*)[32])topics, 3, data.data, data.len), 1);
    assert_int_equal(job.service_id, 5);
    assert_int_equal(job.call_id, 9);
    assert_int_equal(job.job_index, 7);
    assert_memory_equal(job.caller.bytes, caller, 20);
    assert_int_equal(job.inputs_len, 2);
    assert_memory_equal(job.inputs, "in", 2);

    topics[0][0] ^= 1; /* another event: not ours, not an error */
    assert_int_equal(
        bpt_tangle_job_decode(&job, (const uint8_t(*)[32])topics, 3, data.data, data.len), 0);
    topics[0][0] ^= 1;
    assert_rc_msg(bpt_tangle_job_decode(&job, (const uint8_t(*)[32])topics, 2, data.data, data.len),
                  BPT_EMALFORMED, "JobSubmitted with 2 topics");
    assert_rc_msg(bpt_tangle_job_decode(&job, (const uint8_t(*)[32])topics, 4, data.data, data.len),
                  BPT_EMALFORMED, "topic jobIndex 256 > 255");
    topics[1][0] = 1;
    assert_rc_msg(bpt_tangle_job_decode(&job, (const uint8_t(*)[32])topics, 3, data.data, data.len),
                  BPT_EMALFORMED, "topic serviceId does not fit 64 bits");
    word(topics[1], 5);
    memcpy(topics[0], bpt_tangle_topic_job_submitted_from_quote, 32);
    assert_rc_msg(bpt_tangle_job_decode(&job, (const uint8_t(*)[32])topics, 4, data.data, data.len),
                  BPT_EMALFORMED, "JobSubmittedFromQuote with 4 topics");
    bpt_abi_type_free(t);
    bpt_buf_dispose(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solidity_docs_example),
        cmocka_unit_test(test_nested_round_trip),
        cmocka_unit_test(test_type_parser),
        cmocka_unit_test(test_decoder_checks),
        cmocka_unit_test(test_bool_string_and_counts),
        cmocka_unit_test(test_tails_in_order),
        cmocka_unit_test(test_values_limit),
        cmocka_unit_test(test_encoder_refuses_misfits),
        cmocka_unit_test(test_job_event_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
