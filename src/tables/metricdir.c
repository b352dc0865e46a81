/* SPDX-License-Identifier: MIT */
/*
 * Which way each training metric improves, in one place for every figure
 * the API gives as "best" (issue #74): the user's metric_directions setting
 * ({name: "min" | "max"}), else the words of the name
 * (tsdb_lower_is_better: a loss is best at its lowest, a reward at its
 * highest). Series lists carry the answer as direction and best; the runs
 * table's best column uses it for a metric named without :min or :max.
 */
#include "store/table.h"
#include "tables/tables_int.h"
#include "tsdb/tsdb.h"

#include <string.h>

json_t *ad_store_metric_dirs(ad_db_t *db)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT value FROM settings WHERE key = 'metric_directions'");
    if (s == NULL) {
        return NULL;
    }
    json_t *out = NULL;
    if (ad_db_step(s) == AD_DB_ROW) {
        const char *v = (const char *)ad_db_column_text(s, 0);
        out = v != NULL ? json_loads(v, 0, NULL) : NULL;
    }
    ad_db_reset(s);
    if (out != NULL && !json_is_object(out)) {
        json_decref(out);
        out = NULL;
    }
    return out;
}

bool ad_store_metric_lower(json_t *dirs, const char *name)
{
    const char *set = json_string_value(json_object_get(dirs, name != NULL ? name : ""));
    if (set != NULL) {
        return strcmp(set, "min") == 0;
    }
    bool known;
    return tsdb_lower_is_better(name, &known);
}

void ad_store_series_best(ad_db_t *db, json_t *series)
{
    json_t *dirs = ad_store_metric_dirs(db);
    size_t i;
    json_t *s;
    json_array_foreach(series, i, s)
    {
        bool lower = ad_store_metric_lower(dirs, json_string_value(json_object_get(s, "name")));
        json_object_set_new(s, "direction", json_string(lower ? "min" : "max"));
        json_t *best = json_object_get(s, lower ? "minValue" : "maxValue");
        json_object_set_new(s, "best", best != NULL ? json_incref(best) : json_null());
    }
    json_decref(dirs);
}
