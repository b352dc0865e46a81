/* SPDX-License-Identifier: MIT */
/*
 * Cron expressions (issue #75): the standard five fields (minute, hour,
 * day of month, month, day of week) with lists, ranges, steps and names,
 * and the next fire after a time in a zone (tz.c). Day of month and day
 * of week restricted both: either matches (as Vixie cron). Around a change
 * of the clocks:
 *  - a fire whose local time does not exist (the hour skipped when the
 *    clocks go forward) fires at the change, once;
 *  - a fire in the hour that repeats when they go back fires once, the
 *    first time, unless its hour field is "*" (every hour: both times).
 * Pure: no clock, no files. Loop thread or any.
 */
#include "routine/routine.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A number or (names given) a three-letter name at *p; advances *p. */
static bool read_value(const char **p, const char *const *names, int nnames, int base, int *out)
{
    if (isdigit((unsigned char)**p)) {
        char *e;
        long v = strtol(*p, &e, 10);
        if (e - *p > 2) {
            return false;
        }
        *p = e;
        *out = (int)v;
        return true;
    }
    for (int i = 0; names != NULL && i < nnames; i++) {
        if (strncasecmp(*p, names[i], 3) == 0) {
            *p += 3;
            *out = i + base;
            return true;
        }
    }
    return false;
}

/* One field into bits (bit v for value v in [lo, hi]); *star when "*". */
static bool parse_field(const char *f, int lo, int hi, const char *const *names, int nnames,
                        int base, uint64_t *bits, bool *star)
{
    *bits = 0;
    *star = strcmp(f, "*") == 0;
    const char *p = f;
    for (;;) {
        int a = lo, b = hi, step = 1;
        if (*p == '*') {
            p++;
        } else {
            if (!read_value(&p, names, nnames, base, &a)) {
                return false;
            }
            b = a;
            if (*p == '-') {
                p++;
                if (!read_value(&p, names, nnames, base, &b)) {
                    return false;
                }
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p)) {
                return false;
            }
            step = (int)strtol(p, (char **)&p, 10);
            if (step < 1 || step > hi) {
                return false;
            }
            if (a == b && f[0] != '*') {
                b = hi; /* "5/15": from 5 to the end */
            }
        }
        if (a < lo || b > hi || a > b) {
            return false;
        }
        for (int v = a; v <= b; v += step) {
            *bits |= 1ULL << v;
        }
        if (*p == '\0') {
            return true;
        }
        if (*p++ != ',') {
            return false;
        }
    }
}

int ad_cron_parse(const char *expr, ad_cron_t *c, char *why, size_t whysz)
{
    char buf[256], *fields[6];
    int n = 0;
    if (expr == NULL || strlen(expr) >= sizeof(buf)) {
        snprintf(why, whysz, "must be five fields: minute hour day-of-month month day-of-week");
        return AD_EINVAL;
    }
    snprintf(buf, sizeof(buf), "%s", expr);
    for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t != NULL;
         t = strtok_r(NULL, " \t", &save)) {
        if (n == 6) {
            break;
        }
        fields[n++] = t;
    }
    if (n != 5) {
        snprintf(why, whysz, "must be five fields: minute hour day-of-month month day-of-week");
        return AD_EINVAL;
    }
    static const char *const what[] = {"minute", "hour", "day of month", "month", "day of week"};
    static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {59, 23, 31, 12, 7};
    uint64_t bits[5];
    bool star[5];
    for (int i = 0; i < 5; i++) {
        const char *const *names = i == 3 ? months : i == 4 ? day_names : NULL;
        if (!parse_field(fields[i], lo[i], hi[i], names, i == 3 ? 12 : 7, i == 3 ? 1 : 0, &bits[i],
                         &star[i])) {
            snprintf(why, whysz, "the %s field (%s) does not read: numbers %d-%d, * , - /%s",
                     what[i], fields[i], lo[i], hi[i], names != NULL ? " or names" : "");
            return AD_EINVAL;
        }
    }
    if (bits[4] & (1ULL << 7)) { /* 7 is Sunday too */
        bits[4] = (bits[4] | 1) & 0x7f;
    }
    *c = (ad_cron_t){.minute = bits[0],
                     .hour = (uint32_t)bits[1],
                     .dom = (uint32_t)bits[2],
                     .month = (uint16_t)bits[3],
                     .dow = (uint8_t)bits[4],
                     .hour_star = star[1],
                     .dom_star = star[2],
                     .dow_star = star[4]};
    return 0;
}

static bool day_match(const ad_cron_t *c, int64_t days)
{
    int64_t y;
    int m, d;
    ad_tz_civil_from_days(days, &y, &m, &d);
    if (!(c->month & (1u << m))) {
        return false;
    }
    bool dom = (c->dom >> d) & 1;
    bool dow = (c->dow >> ((days + 4) % 7 + 7) % 7) & 1;
    if (c->dom_star || c->dow_star) {
        return (c->dom_star || dom) && (c->dow_star || dow);
    }
    return dom || dow;
}

bool ad_cron_match(const ad_cron_t *c, int64_t local)
{
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t sod = local - days * 86400;
    return day_match(c, days) && ((c->hour >> (sod / 3600)) & 1) &&
           ((c->minute >> (sod % 3600 / 60)) & 1);
}

/* Whether u falls in the second pass of a local hour the clocks went
 * back over. */
static bool repeated(const ad_tz_t *z, int64_t u)
{
    int32_t before = 0;
    int64_t tr = ad_tz_prev_transition(z, u, &before);
    int32_t after = ad_tz_offset(z, u);
    return tr != INT64_MIN && before > after && u < tr + (before - after);
}

/* The local minutes skipped by a change at tr (clocks forward): whether
 * one of them matches. */
static bool gap_matches(const ad_cron_t *c, const ad_tz_t *z, int64_t tr)
{
    int64_t from = tr + ad_tz_offset(z, tr - 1), to = tr + ad_tz_offset(z, tr);
    for (int64_t l = from, k = 0; l < to && k < 1500; l += 60, k++) {
        if (ad_cron_match(c, l)) {
            return true;
        }
    }
    return false;
}

int64_t ad_cron_next(const ad_cron_t *c, const ad_tz_t *z, int64_t after)
{
    int64_t u = (after >= 0 ? after / 60 : (after - 59) / 60) * 60 + 60;
    int64_t limit = after + AD_CRON_HORIZON_S;
    while (u < limit) {
        int64_t local = u + ad_tz_offset(z, u);
        int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
        int64_t sod = local - days * 86400;
        int64_t step;
        if (!day_match(c, days)) {
            step = 86400 - sod;
        } else if (!((c->hour >> (sod / 3600)) & 1)) {
            step = 3600 - sod % 3600;
        } else if (!((c->minute >> (sod % 3600 / 60)) & 1) || (!c->hour_star && repeated(z, u))) {
            step = 60 - sod % 60;
        } else {
            return u;
        }
        int64_t tr = ad_tz_next_transition(z, u);
        if (tr <= u + step) {
            if (ad_tz_offset(z, tr) > ad_tz_offset(z, tr - 1) && gap_matches(c, z, tr)) {
                return tr;
            }
            u = tr;
        } else {
            u += step;
        }
    }
    return -1;
}
