/* SPDX-License-Identifier: MIT */
/*
 * What a training-metric request may ask of the series (series.c): a
 * point of a metric batch, the query of a bucketed read (its name, window,
 * buckets, runs) and of an export, and a one-run answer made flat.
 * Pure: any thread; src/api answers 422 for what is refused.
 */
#include "store/table.h"
#include "tables/series.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *ad_store_series_point_why(const json_t *p)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    json_t *v = json_object_get(p, "value"), *st = json_object_get(p, "step"),
           *ts = json_object_get(p, "ts");
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX) {
        return "name must be a string of 1 to 200 bytes";
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        return "value must be a finite number";
    }
    if ((st != NULL && !json_is_integer(st)) || (ts != NULL && !json_is_integer(ts))) {
        return "step and ts must be whole numbers";
    }
    return NULL;
}

int ad_store_series_range(ad_store_series_q_t *q, const char *range, int64_t now_ms)
{
    static const struct {
        const char *name;
        int64_t ms;
    } ranges[] = {{"5m", 300000},   {"15m", 900000},   {"1h", 3600000},
                  {"6h", 21600000}, {"24h", 86400000}, {"7d", 604800000}};
    for (size_t i = 0; i < AD_ARRAY_LEN(ranges); i++) {
        if (strcmp(range, ranges[i].name) == 0) {
            /* a preset is a window of wall time ending now */
            q->by_time = true;
            q->has_from = q->has_to = true;
            q->to = now_ms;
            q->from = q->to - ranges[i].ms;
            return 0;
        }
    }
    return AD_EINVAL;
}

int ad_store_series_name(ad_store_series_q_t *q, const char *name, ad_field_err_t *e)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX) {
        return ad_field_fail(e, "name", "a series name of 1 to 200 bytes");
    }
    snprintf(q->name, sizeof(q->name), "%s", name);
    return 0;
}

int ad_store_series_parse(ad_store_series_q_t *q, ad_store_query_fn get, void *ud, int64_t now_ms,
                          ad_field_err_t *e)
{
    const char *x = get(ud, "x");
    if (x != NULL && strcmp(x, "step") != 0 && strcmp(x, "time") != 0) {
        return ad_field_fail(e, "x", "step or time");
    }
    q->by_time = x != NULL && strcmp(x, "time") == 0;
    bool hb = false;
    int64_t b = AD_SERIES_BUCKETS_DEFAULT;
    if (ad_field_query_int(get(ud, "buckets"), "buckets", 1, 20000, &hb, &b, e) != 0 ||
        ad_field_query_int(get(ud, "from"), "from", INT64_MIN, INT64_MAX, &q->has_from, &q->from,
                           e) != 0 ||
        ad_field_query_int(get(ud, "to"), "to", INT64_MIN, INT64_MAX, &q->has_to, &q->to, e) != 0) {
        return AD_EINVAL;
    }
    q->buckets = (size_t)b;
    const char *range = get(ud, "range");
    if (range == NULL || range[0] == '\0' || strcmp(range, "all") == 0) {
        return 0;
    }
    if (ad_store_series_range(q, range, now_ms) != 0) {
        return ad_field_fail(e, "range", "one of 5m, 15m, 1h, 6h, 24h, 7d, all");
    }
    return 0;
}

int ad_store_series_runs(const char *s, char runs[][AD_ID_MAX], size_t *n, ad_field_err_t *e)
{
    if (s == NULL || s[0] == '\0') {
        return ad_field_fail(e, "runs", "a comma-separated list of run ids");
    }
    *n = 0;
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= AD_ID_MAX || *n == AD_SERIES_RUNS_MAX) {
            return ad_field_fail(e, "runs", "1 to 16 run ids separated by commas");
        }
        memcpy(runs[*n], s, len);
        runs[*n][len] = '\0';
        (*n)++;
        s += len + (s[len] == ',');
    }
    return 0;
}

void ad_store_series_flat(json_t *out)
{
    json_t *one = json_array_get(json_object_get(out, "runs"), 0);
    /* the run's name and colour beside the series' own name */
    json_object_set(one, "runName", json_object_get(one, "name"));
    json_object_set(one, "runColor", json_object_get(one, "color"));
    json_object_del(one, "name");
    json_object_del(one, "color");
    json_object_update(out, one);
    json_object_del(out, "runs");
    json_object_del(out, "group"); /* one run: the same as its buckets */
}

int ad_store_series_export_parse(ad_store_series_export_t *x, ad_store_query_fn get, void *ud,
                                 ad_field_err_t *e)
{
    const char *f = get(ud, "format");
    if (f != NULL && strcmp(f, "csv") != 0 && strcmp(f, "jsonl") != 0) {
        return ad_field_fail(e, "format", "csv or jsonl");
    }
    x->csv = f == NULL || strcmp(f, "csv") == 0;
    const char *names = get(ud, "names");
    if (names != NULL && names[0] != '\0') {
        x->names = json_array();
        while (*names != '\0') {
            size_t len = strcspn(names, ",");
            json_array_append_new(x->names, json_stringn(names, len));
            names += len + (names[len] == ',');
        }
    }
    ad_buf_init(&x->body, AD_SERIES_EXPORT_BODY_MAX);
    return 0;
}
