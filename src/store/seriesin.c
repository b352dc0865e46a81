/* SPDX-License-Identifier: MIT */
/*
 * What a training-metric request may ask of the series (series.c): a
 * point of a metric batch, and the preset windows of a bucketed read.
 * Pure: any thread; src/api answers 422 for what is refused.
 */
#include "store/store.h"

#include <math.h>
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
