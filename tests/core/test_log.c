/* Logging: off by default, the sink gets lines at or above its level only, level names. */
#include "helpers/test.h"

#include "core/logging.h"

#include <stdio.h>

struct capture {
    int calls;
    char last[1100];
    bpt_log_level last_level;
};

static void sink(bpt_log_level level, const char *module, const char *msg, void *userdata)
{
    struct capture *c = userdata;
    c->calls++;
    c->last_level = level;
    snprintf(c->last, sizeof(c->last), "%s: %s", module, msg);
}

static int format_calls;

static int counted(int v)
{
    format_calls++;
    return v;
}

static void test_off_by_default(void **state)
{
    (void)state;
    for (int l = BPT_LOG_TRACE; l <= BPT_LOG_ERROR; l++) {
        assert_false(bpt_log_enabled((bpt_log_level)l));
    }
    /* Nothing installed: the arguments are not even evaluated. */
    format_calls = 0;
    BPT_LOG(BPT_LOG_ERROR, "core", "x=%d", counted(1));
    assert_int_equal(format_calls, 0);
}

static void test_sink_levels(void **state)
{
    struct capture c = {0};
    (void)state;
    bpt_log_set_sink(sink, &c, BPT_LOG_INFO);
    assert_false(bpt_log_enabled(BPT_LOG_DEBUG));
    assert_true(bpt_log_enabled(BPT_LOG_INFO));
    assert_true(bpt_log_enabled(BPT_LOG_ERROR));

    format_calls = 0;
    BPT_LOG(BPT_LOG_TRACE, "kx", "dump n=%d", counted(1));
    BPT_LOG(BPT_LOG_DEBUG, "kx", "session opened id=%d", counted(2));
    assert_int_equal(c.calls, 0);
    assert_int_equal(format_calls, 0); /* below the level: not formatted */

    BPT_LOG(BPT_LOG_INFO, "service", "listening addr=%s port=%d", "127.0.0.1", 8787);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.last_level, BPT_LOG_INFO);
    assert_string_equal(c.last, "service: listening addr=127.0.0.1 port=8787");
    BPT_LOG(BPT_LOG_WARN, "collateral", "refresh failed");
    assert_string_equal(c.last, "collateral: refresh failed");
    BPT_LOG(BPT_LOG_ERROR, "runner", "stopped code=%d", 3);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.last_level, BPT_LOG_ERROR);

    /* A line longer than the internal buffer is cut, not overflowed. */
    char big[3000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    BPT_LOG(BPT_LOG_ERROR, "m", "%s", big);
    assert_int_equal(c.calls, 4);
    assert_true(strlen(c.last) < 1030);

    /* Lowering the level to trace lets everything through. */
    bpt_log_set_sink(sink, &c, BPT_LOG_TRACE);
    BPT_LOG(BPT_LOG_TRACE, "m", "t");
    assert_int_equal(c.calls, 5);
    assert_int_equal(c.last_level, BPT_LOG_TRACE);

    /* Off again: via a NULL sink, and via level OFF. */
    bpt_log_set_sink(NULL, NULL, BPT_LOG_TRACE);
    BPT_LOG(BPT_LOG_ERROR, "m", "x");
    assert_int_equal(c.calls, 5);
    bpt_log_set_sink(sink, &c, BPT_LOG_OFF);
    BPT_LOG(BPT_LOG_ERROR, "m", "x");
    assert_int_equal(c.calls, 5);
    assert_false(bpt_log_enabled(BPT_LOG_ERROR));
    bpt_log_set_sink(NULL, NULL, BPT_LOG_OFF);
}

static void test_level_names(void **state)
{
    static const char *const names[] = {"trace", "debug", "info", "warn", "error", "off"};
    bpt_log_level l;
    (void)state;
    for (int i = 0; i <= BPT_LOG_OFF; i++) {
        assert_string_equal(bpt_log_level_name((bpt_log_level)i), names[i]);
        l = (bpt_log_level)99;
        assert_ok(bpt_log_level_parse(&l, names[i]));
        assert_int_equal(l, i);
    }
    assert_string_equal(bpt_log_level_name((bpt_log_level)6), "unknown");
    assert_string_equal(bpt_log_level_name((bpt_log_level)-1), "unknown");
    l = BPT_LOG_INFO;
    assert_rc_msg(bpt_log_level_parse(&l, "verbose"), BPT_EINVAL,
                  "log level 'verbose' unknown (expected trace, debug, info, warn, error or off)");
    assert_int_equal(l, BPT_LOG_INFO);
    assert_rc_msg(bpt_log_level_parse(&l, "INFO"), BPT_EINVAL, "'INFO'");
    assert_rc_msg(bpt_log_level_parse(&l, ""), BPT_EINVAL, "log level ''");
    assert_rc_msg(bpt_log_level_parse(&l, NULL), BPT_EINVAL, "(null)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_by_default),
        cmocka_unit_test(test_sink_levels),
        cmocka_unit_test(test_level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
