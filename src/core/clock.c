#include <blueprint-tee/clock.h>

#include "core/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t bpt_time_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec;
}

int64_t bpt_clock_now(const bpt_clock *clock)
{
    if (clock && clock->now) {
        return clock->now(clock->userdata);
    }
    return bpt_time_now();
}

static int64_t fixed_now(void *userdata)
{
    return *(const int64_t *)userdata;
}

bpt_clock bpt_clock_fixed(const int64_t *t)
{
    bpt_clock c = {fixed_now, (void *)(uintptr_t)t};
    return c;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        x = x * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int bpt_time_parse(int64_t *out, const char *text)
{
    const char *p = text;
    unsigned Y, M, D, h, mi, s, oh = 0, om = 0;
    int64_t t;
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (!text || !*text) {
        return bpt_err(BPT_EINVAL, "time: empty (expected unix seconds or RFC 3339)");
    }
    /* Plain unix seconds. */
    if (strspn(text, "0123456789") == strlen(text)) {
        if (strlen(text) > 12) {
            return bpt_err(BPT_EINVAL, "time '%s': too large", text);
        }
        t = 0;
        for (p = text; *p; p++) {
            t = t * 10 + (*p - '0');
        }
        *out = t;
        return 0;
    }
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D) ||
        (*p != 'T' && *p != 't' && *p != ' ')) {
        goto bad;
    }
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &s)) {
        goto bad;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            goto bad;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59) {
            goto bad;
        }
    } else {
        goto bad;
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || s > 60) {
        goto bad;
    }
    if (D > mdays[M - 1] + (M == 2 && leap(Y))) {
        goto bad;
    }
    t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + (s == 60 ? 59 : s);
    t -= sign * (int64_t)(oh * 3600 + om * 60);
    *out = t;
    return 0;
bad:
    return bpt_err(BPT_EINVAL,
                   "time '%.40s': expected unix seconds or RFC 3339 such as "
                   "2023-04-05T00:00:00Z",
                   text);
}

char *bpt_time_format(char buf[32], int64_t t)
{
    int64_t days = t / 86400, rem = t % 86400, y;
    unsigned m, d;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) {
        /* RFC 3339 has four-digit years: show other instants as unix seconds. */
        snprintf(buf, 32, "unix:%lld", (long long)t);
        return buf;
    }
    snprintf(buf, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y % 10000u, m % 100u, d % 100u,
             (unsigned)(rem / 3600) % 100u, (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    return buf;
}
