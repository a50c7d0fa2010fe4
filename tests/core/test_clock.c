/* Time: RFC 3339 and unix-seconds parsing, formatting round trips, the fixed clock. */
#include "helpers/test.h"

static const struct {
    const char *text;
    int64_t want;
} good[] = {
    {"2023-04-05T00:00:00Z", 1680652800},
    {"2023-04-05t00:00:00z", 1680652800},
    {"2023-04-05 00:00:00Z", 1680652800},
    {"2023-04-05T00:00:00+00:00", 1680652800},
    {"2023-04-05T00:00:00-00:00", 1680652800},
    {"2023-04-05T05:30:00+05:30", 1680652800},
    {"2023-04-04T16:00:00-08:00", 1680652800},
    {"2023-04-05T00:00:00.5Z", 1680652800},
    {"2023-04-05T00:00:00.123456789Z", 1680652800},
    {"2023-04-05T05:30:00.999+05:30", 1680652800},
    {"2024-02-29T12:34:56Z", 1709210096},
    {"2000-02-29T00:00:00Z", 951782400},
    {"1969-12-31T23:59:59Z", -1},
    {"1970-01-01T00:00:00Z", 0},
    {"1900-01-01T00:00:00Z", -2208988800},
    {"0001-01-01T00:00:00Z", -62135596800},
    {"9999-12-31T23:59:59Z", 253402300799},
    {"2016-12-31T23:59:60Z", 1483228799}, /* leap second: held at :59 */
    {"2023-04-30T23:59:59Z", 1682899199},
    {"0", 0},
    {"1700000000", 1700000000},
    {"000000000042", 42},
    {"999999999999", 999999999999},
};

static const struct {
    const char *text;
    const char *msg;
} bad[] = {
    {"", "empty"},
    {"2023-02-29T00:00:00Z", "2023-02-29"}, /* not a leap year */
    {"1900-02-29T00:00:00Z", "1900-02-29"}, /* century, not a leap year */
    {"2024-02-30T00:00:00Z", "RFC 3339"},
    {"2023-04-31T00:00:00Z", "RFC 3339"},
    {"2023-13-01T00:00:00Z", "RFC 3339"},
    {"2023-00-01T00:00:00Z", "RFC 3339"},
    {"2023-01-00T00:00:00Z", "RFC 3339"},
    {"2023-01-32T00:00:00Z", "RFC 3339"},
    {"2023-01-01T24:00:00Z", "RFC 3339"},
    {"2023-01-01T00:60:00Z", "RFC 3339"},
    {"2023-01-01T00:00:61Z", "RFC 3339"},
    {"2023-01-01T00:00:00", "RFC 3339"},       /* no offset */
    {"2023-01-01", "RFC 3339"},                /* date only */
    {"2023-01-01T00:00Z", "RFC 3339"},         /* no seconds */
    {"2023-1-01T00:00:00Z", "RFC 3339"},       /* one-digit month */
    {"2023-01-01T00:00:00.Z", "RFC 3339"},     /* empty fraction */
    {"2023-01-01T00:00:00+0530", "RFC 3339"},  /* offset without colon */
    {"2023-01-01T00:00:00+24:00", "RFC 3339"}, /* offset hour */
    {"2023-01-01T00:00:00+05:60", "RFC 3339"}, /* offset minute */
    {"2023-01-01T00:00:00Zjunk", "RFC 3339"},  /* trailing text */
    {"2023-01-01X00:00:00Z", "RFC 3339"},      /* bad separator */
    {"-5", "RFC 3339"},                        /* negative unix time */
    {"1e9", "RFC 3339"},
    {" 1700000000", "RFC 3339"},
    {"1234567890123", "too large"}, /* 13 digits */
};

static void test_parse_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t t = 12345;
        int rc = bpt_time_parse(&t, good[i].text);
        if (rc != 0 || t != good[i].want) {
            fail_msg("'%s': rc %d t %lld, want %lld (%s)", good[i].text, rc, (long long)t,
                     (long long)good[i].want, bpt_error_last());
        }
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t = 777;
        int rc = bpt_time_parse(&t, bad[i].text);
        if (rc != BPT_EINVAL || !strstr(bpt_error_last(), bad[i].msg)) {
            fail_msg("'%s': got %d '%s', want EINVAL '%s'", bad[i].text, rc, bpt_error_last(),
                     bad[i].msg);
        }
        if (t != 777) {
            fail_msg("'%s': output written on failure", bad[i].text);
        }
    }
    assert_rc_msg(bpt_time_parse(&(int64_t){0}, NULL), BPT_EINVAL, "empty");
    /* Long input is cut in the message, not copied whole. */
    char longtext[300];
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    assert_rc_msg(bpt_time_parse(&(int64_t){0}, longtext), BPT_EINVAL, "RFC 3339");
    assert_true(strlen(bpt_error_last()) < 200);
}

static void test_format(void **state)
{
    char buf[32];
    (void)state;
    assert_string_equal(bpt_time_format(buf, 0), "1970-01-01T00:00:00Z");
    assert_string_equal(bpt_time_format(buf, 1680652800), "2023-04-05T00:00:00Z");
    assert_string_equal(bpt_time_format(buf, -1), "1969-12-31T23:59:59Z");
    assert_string_equal(bpt_time_format(buf, 951782400), "2000-02-29T00:00:00Z");
    assert_string_equal(bpt_time_format(buf, -62135596800), "0001-01-01T00:00:00Z");
    assert_string_equal(bpt_time_format(buf, 253402300799), "9999-12-31T23:59:59Z");
    assert_ptr_equal(bpt_time_format(buf, 5), buf);
    /* Extremes do not overflow the 32-byte buffer. */
    bpt_time_format(buf, INT64_MIN);
    assert_true(strlen(buf) < 32);
    bpt_time_format(buf, INT64_MAX);
    assert_true(strlen(buf) < 32);
    /* Outside years 0000..9999 RFC 3339 has no form: unix seconds instead. */
    assert_string_equal(bpt_time_format(buf, 253402300800), "unix:253402300800");
    assert_string_equal(bpt_time_format(buf, INT64_MIN), "unix:-9223372036854775808");
}

/* format -> parse gives the same instant over years 0000..9999, negative times included. */
static void test_round_trip(void **state)
{
    const int64_t lo = -62167219200;        /* 0000-01-01T00:00:00Z */
    const int64_t hi = 253402300799;        /* 9999-12-31T23:59:59Z */
    const int64_t step = 86400 * 29 + 3671; /* walks through days, hours, minutes, seconds */
    char buf[32];
    int n = 0;
    (void)state;
    for (int64_t t = lo; t <= hi; t += step) {
        int64_t back;
        bpt_time_format(buf, t);
        if (bpt_time_parse(&back, buf) != 0 || back != t) {
            fail_msg("%lld -> %s -> %lld (%s)", (long long)t, buf, (long long)back,
                     bpt_error_last());
        }
        n++;
    }
    assert_true(n > 100000);
    /* Every second of a leap day and around the epoch. */
    for (int64_t t = 951782400 - 2; t < 951782400 + 86400 + 2; t += 1) {
        int64_t back;
        bpt_time_format(buf, t);
        assert_ok(bpt_time_parse(&back, buf));
        assert_true(back == t);
    }
    for (int64_t t = -100000; t < 100000; t += 7) {
        int64_t back;
        bpt_time_format(buf, t);
        assert_ok(bpt_time_parse(&back, buf));
        assert_true(back == t);
    }
}

static int64_t counting_now(void *userdata)
{
    int64_t *calls = userdata;
    return 1000 + (*calls)++;
}

static void test_clocks(void **state)
{
    int64_t at = 1704067200;
    bpt_clock fixed = bpt_clock_fixed(&at);
    bpt_clock sys = {NULL, NULL};
    int64_t calls = 0;
    bpt_clock counting = {counting_now, &calls};
    (void)state;
    assert_true(bpt_clock_now(&fixed) == 1704067200);
    at = 42; /* borrowed: the clock follows the variable */
    assert_true(bpt_clock_now(&fixed) == 42);
    assert_true(bpt_clock_now(&counting) == 1000);
    assert_true(bpt_clock_now(&counting) == 1001);
    assert_true(calls == 2);
    /* NULL and an empty clock read the system time (not asserted against a date). */
    assert_true(bpt_clock_now(NULL) > 0);
    assert_true(bpt_clock_now(&sys) > 0);
    assert_true(bpt_time_now() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_format),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
