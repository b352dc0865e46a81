/* SPDX-License-Identifier: MIT */
/*
 * Clocks and RFC 3339 times. Durations use the monotonic clock; anything
 * stored or shown uses wall-clock milliseconds in UTC.
 */
#include "core.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t ad_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ad_mono_ms(void)
{
    return ad_mono_ns() / 1000000u;
}

int64_t ad_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The civil date (proleptic Gregorian) of a day counted from 1970-01-01.
 * Days are counted from 0000-03-01 instead, so that the leap day ends a
 * year, in 400-year eras of 146,097 days; within an era the year, the day
 * of that year and the month (from March) follow by division. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468; /* 1970-01-01 is day 719,468 from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0 = March */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static char *two(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Written by hand, not by gmtime_r and strftime: a list of 10,000 agents
 * formats 50,000 times, and the C library's way (its locale and time zone
 * steps) was a seventh of that list's CPU (bench/README, F2). */
void ad_time_format(int64_t ms, char out[AD_TIME_MAX])
{
    int64_t secs = ms / 1000;
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    char *p = out;
    if (y >= 0 && y <= 9999) {
        p = two(two(p, (int)(y / 100)), (int)(y % 100));
    } else { /* past RFC 3339's four digits: the year as it is */
        p += snprintf(p, 16, "%lld", (long long)y);
    }
    *p++ = '-';
    p = two(p, m);
    *p++ = '-';
    p = two(p, d);
    *p++ = 'T';
    p = two(p, (int)(rem / 3600));
    *p++ = ':';
    p = two(p, (int)(rem / 60 % 60));
    *p++ = ':';
    p = two(p, (int)(rem % 60));
    *p++ = '.';
    *p++ = (char)('0' + frac / 100);
    p = two(p, frac % 100);
    *p++ = 'Z';
    *p = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return AD_EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int ad_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0;
    size_t len = strlen(s);
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':') {
        return AD_EINVAL;
    }
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec)) {
        return AD_EINVAL;
    }
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9') {
            n++;
        }
        if (n == 0) {
            return AD_EINVAL;
        }
        int take = n < 3 ? n : 3;
        if (digits(p, take, &frac)) {
            return AD_EINVAL;
        }
        for (int i = take; i < 3; i++) {
            frac *= 10;
        }
        p += n;
    }
    if ((*p != 'Z' && *p != 'z') || p[1] != '\0') {
        return AD_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return AD_EINVAL;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

int ad_time_param(const char *s, int64_t *ms)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && v >= 0) {
        *ms = v;
        return 0;
    }
    return ad_time_parse(s, ms);
}
