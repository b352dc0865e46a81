/* SPDX-License-Identifier: MIT */
/*
 * What the sampler keeps: a few series (CPU, memory, load, GPU, score) in
 * five rings of fixed size: every sample for an hour, then 10 s buckets
 * for 6 h, 1 min for a day, 10 min for a week and 1 h for a year, about
 * 17,000 points in all (~1.4 MiB when full, allocated as each ring is
 * first used). A bucket keeps the mean and the maximum, so a spike shorter
 * than the bucket still shows. Kept on disk across restarts (histfile.c);
 * the range "all" is everything kept, in the finest ring that spans it.
 */
#include "health/health_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ad_health_series_names[AD_HS_N] = {
    "cpu", "cpuTemp", "memUsed", "load1", "gpuUtil", "gpuTemp", "gpuPower", "vramUsed", "score",
};

static const struct {
    int64_t step_ms;
    size_t cap;
} tier_defs[AD_HEALTH_TIERS] = {
    {1000, 3600},    /* 1 h */
    {10000, 2160},   /* 6 h */
    {60000, 1440},   /* 24 h */
    {600000, 1008},  /* 7 d */
    {3600000, 8760}, /* 365 d: only the range "all" reaches it */
};

void ad_health_history_init(ad_health_history_t *h)
{
    memset(h, 0, sizeof(*h));
    for (size_t i = 0; i < AD_HEALTH_TIERS; i++) {
        h->tiers[i].step_ms = tier_defs[i].step_ms;
        h->tiers[i].cap = tier_defs[i].cap;
    }
}

void ad_health_history_cleanup(ad_health_history_t *h)
{
    for (size_t i = 0; i < AD_HEALTH_TIERS; i++) {
        free(h->tiers[i].pts);
        h->tiers[i].pts = NULL;
    }
}

/* The series values of one sample (NaN: unknown). GPU figures are the
 * busiest/hottest device's; power and memory are summed. */
void ad_health_values(const ad_health_sample_t *s, float v[AD_HS_N])
{
    for (size_t i = 0; i < AD_HS_N; i++) {
        v[i] = NAN;
    }
    if (s->has_cpu) {
        v[AD_HS_CPU] = (float)s->cpu_pct;
    }
    if (s->has_cpu_temp) {
        v[AD_HS_CPU_TEMP] = (float)s->cpu_temp_c;
    }
    if (s->has_mem) {
        v[AD_HS_MEM_USED] = (float)(s->mem_total - s->mem_available);
    }
    if (s->has_load) {
        v[AD_HS_LOAD1] = (float)s->load[0];
    }
    for (unsigned i = 0; i < s->ngpu; i++) {
        const ad_health_gpu_t *g = &s->gpus[i];
        if (g->has_util && !(v[AD_HS_GPU_UTIL] >= (float)g->util_pct)) {
            v[AD_HS_GPU_UTIL] = (float)g->util_pct;
        }
        if (g->has_temp && !(v[AD_HS_GPU_TEMP] >= (float)g->temp_c)) {
            v[AD_HS_GPU_TEMP] = (float)g->temp_c;
        }
        if (g->has_power) {
            v[AD_HS_GPU_POWER] =
                (isnan(v[AD_HS_GPU_POWER]) ? 0 : v[AD_HS_GPU_POWER]) + (float)g->power_w;
        }
        if (g->has_mem) {
            v[AD_HS_VRAM_USED] =
                (isnan(v[AD_HS_VRAM_USED]) ? 0 : v[AD_HS_VRAM_USED]) + (float)g->mem_used;
        }
    }
    v[AD_HS_SCORE] = (float)s->score;
}

static void tier_push(ad_health_tier_t *t)
{
    if (t->pts == NULL) {
        t->pts = ad_xcalloc(t->cap, sizeof(*t->pts));
    }
    ad_health_point_t *p;
    if (t->count < t->cap) {
        p = &t->pts[(t->head + t->count) % t->cap];
        t->count++;
    } else {
        p = &t->pts[t->head]; /* full: the oldest goes */
        t->head = (t->head + 1) % t->cap;
    }
    p->ts_ms = t->acc_start;
    for (size_t i = 0; i < AD_HS_N; i++) {
        p->avg[i] = t->acc_n[i] > 0 ? (float)(t->acc_sum[i] / t->acc_n[i]) : NAN;
        p->max[i] = t->acc_n[i] > 0 ? t->acc_max[i] : NAN;
    }
    t->acc_open = false;
}

static void tier_add(ad_health_tier_t *t, int64_t ts, const float v[AD_HS_N])
{
    int64_t start = ts - ts % t->step_ms;
    if (t->acc_open && start != t->acc_start) {
        tier_push(t);
    }
    if (!t->acc_open) {
        t->acc_open = true;
        t->acc_start = start;
        memset(t->acc_sum, 0, sizeof(t->acc_sum));
        memset(t->acc_n, 0, sizeof(t->acc_n));
    }
    for (size_t i = 0; i < AD_HS_N; i++) {
        if (isnan(v[i])) {
            continue;
        }
        if (t->acc_n[i] == 0 || v[i] > t->acc_max[i]) {
            t->acc_max[i] = v[i];
        }
        t->acc_sum[i] += v[i];
        t->acc_n[i]++;
    }
    /* The finest tier has one sample per bucket: it is done at once. */
    if (t->step_ms <= 1000) {
        tier_push(t);
    }
}

void ad_health_history_add(ad_health_history_t *h, const ad_health_sample_t *s)
{
    float v[AD_HS_N];
    ad_health_values(s, v);
    for (size_t i = 0; i < AD_HEALTH_TIERS; i++) {
        tier_add(&h->tiers[i], s->ts_ms, v);
    }
}

static json_t *num(float x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* The finest tier that covers seconds. */
static const ad_health_tier_t *pick(const ad_health_history_t *h, int64_t seconds)
{
    for (size_t i = 0; i < AD_HEALTH_TIERS; i++) {
        const ad_health_tier_t *t = &h->tiers[i];
        if ((int64_t)t->cap * t->step_ms >= seconds * 1000) {
            return t;
        }
    }
    return &h->tiers[AD_HEALTH_TIERS - 1];
}

/* Appends one point's columns. */
static void view_point(json_t *ts, json_t **avg, json_t **max, int64_t t, const float *a,
                       const float *m)
{
    json_array_append_new(ts, json_integer(t));
    for (size_t i = 0; i < AD_HS_N; i++) {
        json_array_append_new(avg[i], num(a[i]));
        json_array_append_new(max[i], num(m[i]));
    }
}

/* How far back the oldest kept point is, in whole seconds (at least 10). */
static int64_t span_all(const ad_health_history_t *h, int64_t now_ms)
{
    int64_t oldest = now_ms;
    for (size_t i = 0; i < AD_HEALTH_TIERS; i++) {
        const ad_health_tier_t *t = &h->tiers[i];
        if (t->count > 0 && t->pts[t->head].ts_ms < oldest) {
            oldest = t->pts[t->head].ts_ms;
        }
    }
    int64_t sec = (now_ms - oldest) / 1000 + 1;
    return sec < 10 ? 10 : sec;
}

json_t *ad_health_history_view(const ad_health_history_t *h, int64_t now_ms, int64_t seconds)
{
    if (seconds == AD_HEALTH_RANGE_ALL) {
        seconds = span_all(h, now_ms);
    }
    const ad_health_tier_t *t = pick(h, seconds);
    int64_t from = now_ms - seconds * 1000;
    json_t *ts = json_array(), *series = json_object(), *maxes = json_object();
    json_t *avg[AD_HS_N], *max[AD_HS_N];
    for (size_t i = 0; i < AD_HS_N; i++) {
        avg[i] = json_array();
        max[i] = json_array();
        json_object_set_new(series, ad_health_series_names[i], avg[i]);
        json_object_set_new(maxes, ad_health_series_names[i], max[i]);
    }
    for (size_t k = 0; k < t->count; k++) {
        const ad_health_point_t *p = &t->pts[(t->head + k) % t->cap];
        if (p->ts_ms >= from) {
            view_point(ts, avg, max, p->ts_ms, p->avg, p->max);
        }
    }
    /* The bucket still filling is shown too, so a coarse range has its
     * newest figures (and a young daemon has any at all). */
    if (t->acc_open && t->acc_start >= from) {
        float a[AD_HS_N], m[AD_HS_N];
        for (size_t i = 0; i < AD_HS_N; i++) {
            a[i] = t->acc_n[i] > 0 ? (float)(t->acc_sum[i] / t->acc_n[i]) : NAN;
            m[i] = t->acc_n[i] > 0 ? t->acc_max[i] : NAN;
        }
        view_point(ts, avg, max, t->acc_start, a, m);
    }
    json_t *out = json_pack("{s:I, s:I, s:I, s:o, s:o}", "rangeSec", (json_int_t)seconds, "stepSec",
                            (json_int_t)(t->step_ms / 1000), "from", (json_int_t)from, "t", ts,
                            "series", series);
    if (t->step_ms > 1000) {
        json_object_set_new(out, "max", maxes);
    } else {
        json_decref(maxes); /* one sample per point: the max is the value */
    }
    return out;
}

int ad_health_range_parse(const char *s, int64_t *seconds, const char **why)
{
    if (s != NULL && strcmp(s, "all") == 0) {
        *seconds = AD_HEALTH_RANGE_ALL;
        return 0;
    }
    if (s == NULL || s[0] < '1' || s[0] > '9') {
        *why = "must be all, a whole number of seconds or <n>s, <n>m, <n>h, <n>d";
        return AD_EINVAL;
    }
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    int64_t unit = 1;
    if (*end != '\0') {
        static const char units[] = "smhd";
        static const int64_t mult[] = {1, 60, 3600, 86400};
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0') {
            *why = "must be all, a whole number of seconds or <n>s, <n>m, <n>h, <n>d";
            return AD_EINVAL;
        }
        unit = mult[u - units];
    }
    if (n > 7ULL * 86400 || (int64_t)n * unit > 7 * 86400 || (int64_t)n * unit < 10) {
        *why = "must be from 10s to 7d";
        return AD_EINVAL;
    }
    *seconds = (int64_t)n * unit;
    return 0;
}
