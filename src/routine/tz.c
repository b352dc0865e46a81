/* SPDX-License-Identifier: MIT */
/*
 * Time zones for cron triggers (issue #75): the system's TZif files
 * (RFC 8536, /usr/share/zoneinfo) read here, never through setenv("TZ")
 * and localtime (process-wide, not thread-safe, and the daemon's own zone
 * would change). A zone is a sorted list of transitions (when, offset
 * after); the file's footer, a POSIX TZ string ("CET-1CEST,M3.5.0,
 * M10.5.0/3"), is expanded into transitions up to AD_TZ_LAST_YEAR, so
 * every question is one binary search. Pure but for ad_tz_load's read.
 */
#include "routine/routine.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AD_TZ_LAST_YEAR 2200
#define TZ_TRANS_MAX 8192
#define TZ_FILE_MAX (256 * 1024)

typedef struct {
    int64_t at;     /* UTC seconds */
    int32_t offset; /* UTC offset in seconds from then on */
} trans_t;

struct ad_tz {
    int32_t initial; /* the offset before the first transition */
    trans_t *t;
    size_t n, cap;
};

/* ---- civil dates (proleptic Gregorian, days since 1970-01-01) -------------------- */

int64_t ad_tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ad_tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* ---- the zone --------------------------------------------------------------------- */

static void push(ad_tz_t *z, int64_t at, int32_t off)
{
    if (z->n == z->cap) {
        z->cap = z->cap ? z->cap * 2 : 64;
        z->t = ad_xrealloc(z->t, z->cap * sizeof(*z->t));
    }
    z->t[z->n++] = (trans_t){at, off};
}

int32_t ad_tz_offset(const ad_tz_t *z, int64_t t)
{
    if (z == NULL || z->n == 0 || t < z->t[0].at) {
        return z != NULL ? z->initial : 0;
    }
    size_t lo = 0, hi = z->n; /* the last transition <= t is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->t[mid].at <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return z->t[lo].offset;
}

int64_t ad_tz_next_transition(const ad_tz_t *z, int64_t t)
{
    if (z == NULL) {
        return INT64_MAX;
    }
    size_t lo = 0, hi = z->n; /* the first transition > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->t[mid].at <= t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < z->n ? z->t[lo].at : INT64_MAX;
}

int64_t ad_tz_prev_transition(const ad_tz_t *z, int64_t t, int32_t *before)
{
    if (z == NULL || z->n == 0 || t < z->t[0].at) {
        return INT64_MIN;
    }
    int64_t at = INT64_MIN;
    size_t lo = 0, hi = z->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->t[mid].at <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    at = z->t[lo].at;
    *before = lo > 0 ? z->t[lo - 1].offset : z->initial;
    return at;
}

void ad_tz_free(ad_tz_t *z)
{
    if (z != NULL) {
        free(z->t);
        free(z);
    }
}

ad_tz_t *ad_tz_fixed(int32_t offset)
{
    ad_tz_t *z = ad_xcalloc(1, sizeof(*z));
    z->initial = offset;
    return z;
}

/* ---- POSIX TZ strings (the TZif footer) ------------------------------------------ */

typedef struct {
    char kind; /* 'M', 'J' or 'N' (zero-based day of the year) */
    int m, w, d, n;
    int32_t time; /* seconds past local midnight (may be negative or past a day) */
} rule_t;

static const char *skip_name(const char *p)
{
    if (*p == '<') {
        const char *e = strchr(p, '>');
        return e != NULL && e - p >= 2 ? e + 1 : NULL;
    }
    const char *s = p;
    while (isalpha((unsigned char)*p)) {
        p++;
    }
    return p - s >= 3 ? p : NULL;
}

/* [+-]h[h][:mm[:ss]] into seconds; hours up to 167. */
static const char *parse_hms(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
    }
    if (!isdigit((unsigned char)*p)) {
        return NULL;
    }
    long h = strtol(p, (char **)&p, 10), m = 0, s = 0;
    if (*p == ':') {
        m = strtol(p + 1, (char **)&p, 10);
        if (*p == ':') {
            s = strtol(p + 1, (char **)&p, 10);
        }
    }
    if (h > 167 || m > 59 || s > 59) {
        return NULL;
    }
    *out = (int32_t)(sign * (h * 3600 + m * 60 + s));
    return p;
}

static const char *parse_rule(const char *p, rule_t *r)
{
    *r = (rule_t){.time = 7200};
    if (*p == 'M') {
        r->kind = 'M';
        r->m = (int)strtol(p + 1, (char **)&p, 10);
        if (*p++ != '.') {
            return NULL;
        }
        r->w = (int)strtol(p, (char **)&p, 10);
        if (*p++ != '.') {
            return NULL;
        }
        r->d = (int)strtol(p, (char **)&p, 10);
        if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d < 0 || r->d > 6) {
            return NULL;
        }
    } else if (*p == 'J' || isdigit((unsigned char)*p)) {
        r->kind = *p == 'J' ? 'J' : 'N';
        p += *p == 'J';
        r->n = (int)strtol(p, (char **)&p, 10);
        if (r->n < (r->kind == 'J' ? 1 : 0) || r->n > 365) {
            return NULL;
        }
    } else {
        return NULL;
    }
    if (*p == '/') {
        p = parse_hms(p + 1, &r->time);
    }
    return p;
}

/* The rule's day in year y, in days since the epoch. */
static int64_t rule_day(const rule_t *r, int64_t y)
{
    int64_t jan1 = ad_tz_days_from_civil(y, 1, 1);
    if (r->kind == 'J') {
        return jan1 + r->n - 1 + (leap(y) && r->n >= 60);
    }
    if (r->kind == 'N') {
        return jan1 + r->n;
    }
    int64_t first = ad_tz_days_from_civil(y, r->m, 1);
    int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    int day = 1 + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
    while (day > month_days(y, r->m)) {
        day -= 7;
    }
    return first + day - 1;
}

/* Expands the footer tz into z's transitions after `from` (UTC s). 0, or
 * AD_EINVAL for a string that does not read. */
static int expand_posix(ad_tz_t *z, const char *tz, int64_t from)
{
    int32_t std = 0, dst = 0;
    const char *p = skip_name(tz);
    if (p == NULL || (p = parse_hms(p, &std)) == NULL) {
        return AD_EINVAL;
    }
    std = -std; /* POSIX: positive west of Greenwich */
    if (*p == '\0') {
        if (z->n == 0) {
            z->initial = std;
        } else if (z->t[z->n - 1].offset != std) {
            push(z, from + 1, std);
        }
        return 0;
    }
    if ((p = skip_name(p)) == NULL) {
        return AD_EINVAL;
    }
    dst = std + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, &dst)) == NULL) {
            return AD_EINVAL;
        }
        dst = -dst;
    }
    rule_t start, end;
    if (*p != ',' || (p = parse_rule(p + 1, &start)) == NULL || *p != ',' ||
        (p = parse_rule(p + 1, &end)) == NULL || *p != '\0') {
        return AD_EINVAL;
    }
    int64_t y0;
    int m0, d0;
    ad_tz_civil_from_days((from >= 0 ? from : 0) / 86400, &y0, &m0, &d0);
    for (int64_t y = y0; y <= AD_TZ_LAST_YEAR && z->n + 2 < TZ_TRANS_MAX; y++) {
        int64_t on = rule_day(&start, y) * 86400 + start.time - std;
        int64_t off = rule_day(&end, y) * 86400 + end.time - dst;
        int64_t a = on < off ? on : off, b = on < off ? off : on;
        int32_t oa = on < off ? dst : std, ob = on < off ? std : dst;
        if (a > from) {
            push(z, a, oa);
        }
        if (b > from) {
            push(z, b, ob);
        }
    }
    return 0;
}

/* ---- TZif ------------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
} counts_t;

static bool read_counts(const uint8_t *p, size_t len, counts_t *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0) {
        return false;
    }
    *c = (counts_t){be32(p + 20), be32(p + 24), be32(p + 28),
                    be32(p + 32), be32(p + 36), be32(p + 40)};
    return c->type >= 1 && c->type <= 256 && c->time <= TZ_TRANS_MAX && c->chars <= 4096 &&
           c->leap <= 1024 && c->isut <= 256 && c->isstd <= 256;
}

static size_t block_len(const counts_t *c, size_t tsz)
{
    return c->time * tsz + c->time + c->type * 6 + c->chars + c->leap * (tsz + 4) + c->isstd +
           c->isut;
}

int ad_tz_parse(const uint8_t *data, size_t len, ad_tz_t **out)
{
    counts_t c;
    if (!read_counts(data, len, &c) || 44 + block_len(&c, 4) > len) {
        return AD_EINVAL;
    }
    size_t tsz = 4;
    const uint8_t *p = data + 44;
    if (data[4] >= '2') { /* the 64-bit block after the 32-bit one */
        const uint8_t *h = data + 44 + block_len(&c, 4);
        if (!read_counts(h, len - (size_t)(h - data), &c) ||
            (size_t)(h - data) + 44 + block_len(&c, 8) > len) {
            return AD_EINVAL;
        }
        tsz = 8;
        p = h + 44;
    }
    const uint8_t *times = p, *idx = p + c.time * tsz, *types = idx + c.time;
    ad_tz_t *z = ad_xcalloc(1, sizeof(*z));
    z->initial = (int32_t)be32(types);
    for (uint32_t i = 0; i < c.time; i++) {
        if (idx[i] >= c.type) {
            ad_tz_free(z);
            return AD_EINVAL;
        }
        int64_t at = tsz == 8 ? be64(times + i * 8) : (int32_t)be32(times + i * 4);
        if (z->n > 0 && at <= z->t[z->n - 1].at) {
            ad_tz_free(z);
            return AD_EINVAL;
        }
        push(z, at, (int32_t)be32(types + idx[i] * 6));
    }
    if (tsz == 8) { /* the footer: \n<POSIX TZ>\n */
        const uint8_t *f = p + block_len(&c, 8), *end = data + len;
        const uint8_t *nl =
            f < end && *f == '\n' ? memchr(f + 1, '\n', (size_t)(end - f - 1)) : NULL;
        if (nl != NULL && nl - f > 1 && nl - f < 128) {
            char tz[128];
            memcpy(tz, f + 1, (size_t)(nl - f - 1));
            tz[nl - f - 1] = '\0';
            if (expand_posix(z, tz, z->n > 0 ? z->t[z->n - 1].at : INT64_MIN / 2) != 0) {
                ad_tz_free(z);
                return AD_EINVAL;
            }
        }
    }
    *out = z;
    return 0;
}

bool ad_tz_name_valid(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '/' || name[0] == '.' || strstr(name, "..") != NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!isalnum((unsigned char)ch) && strchr("/_+-", ch) == NULL) {
            return false;
        }
    }
    return true;
}

int ad_tz_load(const char *dir, const char *name, ad_tz_t **out)
{
    if (name == NULL || strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        *out = ad_tz_fixed(0);
        return 0;
    }
    if (!ad_tz_name_valid(name)) {
        return AD_EINVAL;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : AD_TZ_DIR, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return AD_ENOENT;
    }
    uint8_t *buf = ad_xmalloc(TZ_FILE_MAX);
    size_t len = fread(buf, 1, TZ_FILE_MAX, f);
    fclose(f);
    int rc = len < TZ_FILE_MAX ? ad_tz_parse(buf, len, out) : AD_EINVAL;
    free(buf);
    return rc;
}
