/* SPDX-License-Identifier: MIT */
/*
 * Parsers for the text files the sampler reads: /proc/stat, /proc/meminfo,
 * /proc/loadavg, /proc/<pid>/stat and a cgroup's cpu.stat and memory.stat.
 * Pure functions over text, so the unit tests feed them recorded files;
 * reading the files is sampler.c's.
 */
#include "health/health_int.h"

#include <stdlib.h>
#include <string.h>

/* The next unsigned number after *p (skipping blanks); false at the end of
 * the line. */
static bool next_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s < '0' || *s > '9') {
        return false;
    }
    char *end;
    *out = strtoull(s, &end, 10);
    *p = end;
    return true;
}

/* One "cpu…" line's fields after the name: user nice system idle iowait
 * irq softirq steal guest guest_nice (the last ones absent on old kernels). */
static bool cpu_line(const char *p, ad_cpu_times_t *t)
{
    uint64_t v[10] = {0};
    size_t n = 0;
    while (n < AD_ARRAY_LEN(v) && next_u64(&p, &v[n])) {
        n++;
    }
    if (n < 4) {
        return false;
    }
    /* Guest time is counted in user (and guest_nice in nice) already. */
    uint64_t user = v[0] >= v[8] ? v[0] - v[8] : 0;
    uint64_t nice = v[1] >= v[9] ? v[1] - v[9] : 0;
    uint64_t idle = v[3] + v[4];
    uint64_t busy = user + nice + v[2] + v[5] + v[6] + v[7] + v[8] + v[9];
    t->busy = busy;
    t->total = busy + idle;
    return true;
}

int ad_health_parse_stat(const char *text, ad_cpu_times_t *all, ad_cpu_times_t *cores, unsigned max)
{
    bool have_all = false;
    int ncores = 0;
    for (const char *s = text; s != NULL && *s != '\0';) {
        if (strncmp(s, "cpu", 3) == 0) {
            if (s[3] == ' ') {
                have_all = cpu_line(s + 3, all);
            } else if (s[3] >= '0' && s[3] <= '9') {
                char *end;
                unsigned long i = strtoul(s + 3, &end, 10);
                ad_cpu_times_t t;
                if (i < max && cpu_line(end, &t)) {
                    cores[i] = t;
                    if ((int)i + 1 > ncores) {
                        ncores = (int)i + 1;
                    }
                }
            }
        } else if (have_all) {
            break; /* the cpu lines come first; the rest (intr, …) is long */
        }
        const char *nl = strchr(s, '\n');
        s = nl != NULL ? nl + 1 : NULL;
    }
    return have_all ? ncores : -1;
}

double ad_health_cpu_pct(const ad_cpu_times_t *prev, const ad_cpu_times_t *now)
{
    /* Counters may step back (a CPU went offline, guest subtraction):
     * then nothing is known for this interval. */
    if (now->total <= prev->total || now->busy < prev->busy) {
        return 0;
    }
    double d = (double)(now->busy - prev->busy) / (double)(now->total - prev->total);
    return d > 1 ? 100 : d * 100;
}

/* The value in kB of "Key:" in meminfo text, as bytes. */
static bool meminfo_value(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *s = text; s != NULL && *s != '\0';) {
        if (strncmp(s, key, kl) == 0 && s[kl] == ':') {
            const char *p = s + kl + 1;
            uint64_t kb;
            if (!next_u64(&p, &kb)) {
                return false;
            }
            *out = kb * 1024;
            return true;
        }
        const char *nl = strchr(s, '\n');
        s = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

bool ad_health_parse_meminfo(const char *text, uint64_t *total, uint64_t *available,
                             uint64_t *swap_total, uint64_t *swap_free)
{
    if (!meminfo_value(text, "MemTotal", total)) {
        return false;
    }
    if (!meminfo_value(text, "MemAvailable", available)) {
        uint64_t f = 0, b = 0, c = 0;
        meminfo_value(text, "MemFree", &f);
        meminfo_value(text, "Buffers", &b);
        meminfo_value(text, "Cached", &c);
        *available = f + b + c;
    }
    if (*available > *total) {
        *available = *total;
    }
    *swap_total = 0;
    *swap_free = 0;
    meminfo_value(text, "SwapTotal", swap_total);
    meminfo_value(text, "SwapFree", swap_free);
    return true;
}

bool ad_health_parse_loadavg(const char *text, double load[3])
{
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *end;
        load[i] = strtod(p, &end);
        if (end == p) {
            return false;
        }
        p = end;
    }
    return true;
}

bool ad_health_parse_pid_stat(const char *text, pid_t *session, uint64_t *ticks,
                              uint64_t *rss_pages)
{
    /* "pid (comm) state ppid pgrp session … utime(14) stime(15) … rss(24)":
     * comm may hold anything, so fields are counted from its last ')'. */
    const char *p = strrchr(text, ')');
    if (p == NULL || p[1] != ' ') {
        return false;
    }
    p += 2;
    if (*p == '\0' || p[1] != ' ') {
        return false;
    }
    p += 2; /* the state letter; the next field is ppid (field 4) */
    uint64_t v[21];
    for (size_t i = 0; i < AD_ARRAY_LEN(v); i++) {
        /* field 4 + i; the fields we read are all non-negative, but some
         * before rss (priority, nice) may be negative: skip their sign */
        while (*p == ' ') {
            p++;
        }
        if (*p == '-') {
            p++;
        }
        if (!next_u64(&p, &v[i])) {
            return false;
        }
    }
    *session = (pid_t)v[2]; /* field 6 */
    *ticks = v[10] + v[11]; /* fields 14 and 15 */
    *rss_pages = v[20];     /* field 24 */
    return true;
}

/* "key value" in a flat-keyed cgroup file. */
static bool flat_value(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *s = text; s != NULL && *s != '\0';) {
        if (strncmp(s, key, kl) == 0 && s[kl] == ' ') {
            const char *p = s + kl;
            return next_u64(&p, out);
        }
        const char *nl = strchr(s, '\n');
        s = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

bool ad_health_parse_memstat(const char *text, uint64_t *rss)
{
    uint64_t anon = 0, mapped = 0;
    if (!flat_value(text, "anon", &anon)) {
        return false;
    }
    flat_value(text, "file_mapped", &mapped);
    *rss = anon + mapped;
    return true;
}

bool ad_health_parse_cpustat(const char *text, uint64_t *usec)
{
    return flat_value(text, "usage_usec", usec);
}
