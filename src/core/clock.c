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

void ad_time_format(int64_t ms, char out[AD_TIME_MAX])
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, AD_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, AD_TIME_MAX - n, ".%03uZ", (unsigned)frac % 1000u);
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
