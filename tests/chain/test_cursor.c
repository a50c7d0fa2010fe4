/*
 * The chain source's durable store (chain/cursor.h): what it keeps survives a reopen, and a
 * store opened for another Tangle address or service is refused (its cursor would skip or
 * replay the other's jobs).
 */
#include "helpers/test.h"

#include "chain/cursor.h"

#include <stdio.h>
#include <stdlib.h>

static void test_reopen_and_identity(void **state)
{
    char *dir = bpt_test_tmpdir(), path[4096];
    struct bpt_chain_cursor *c = NULL;
    struct bpt_chain_position p = {true, 42, 3, {0}}, got;
    enum bpt_chain_job_state st;
    uint8_t tx[32], where[32];
    bpt_eth_address tangle, other;
    (void)state;
    memset(tangle.bytes, 0x11, 20);
    memset(other.bytes, 0x22, 20);
    memset(p.block_hash, 0xaa, 32);
    memset(tx, 0xbb, 32);
    snprintf(path, sizeof(path), "%s/cursor.db", dir);

    assert_ok(bpt_chain_cursor_open(&c, path, &tangle, 7));
    assert_ok(bpt_chain_cursor_get(&got, c));
    assert_false(got.set);
    assert_ok(bpt_chain_cursor_set(c, &p));
    assert_ok(bpt_chain_cursor_job_set(c, 9, BPT_CHAIN_JOB_SENT, tx, &p));
    bpt_chain_cursor_close(c);
    c = NULL;

    assert_ok(bpt_chain_cursor_open(&c, path, &tangle, 7));
    assert_ok(bpt_chain_cursor_get(&got, c));
    assert_true(got.set);
    assert_int_equal(got.block, 42);
    assert_int_equal(got.log_index, 3);
    assert_memory_equal(got.block_hash, p.block_hash, 32);
    assert_ok(bpt_chain_cursor_job(&st, tx, where, c, 9));
    assert_int_equal(st, BPT_CHAIN_JOB_SENT);
    assert_memory_equal(where, p.block_hash, 32);
    bpt_chain_cursor_close(c);
    c = NULL;

    assert_rc_msg(bpt_chain_cursor_open(&c, path, &tangle, 8), BPT_EINVAL,
                  "belongs to 0x1111111111111111111111111111111111111111/7");
    assert_null(c);
    assert_rc_msg(bpt_chain_cursor_open(&c, path, &other, 7), BPT_EINVAL, "not 0x2222");
    assert_null(c);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen_and_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
