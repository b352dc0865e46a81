/* SPDX-License-Identifier: MIT */
/*
 * Settings: typed key/value rows (defaults seeded by migration 0001) and
 * the rules each known key's value must follow. A patch is checked whole
 * before anything is written, so a bad value changes nothing.
 */
#include "bus/bus.h"
#include "rows.h"
#include "store/table.h"
#include "tables/settings.h"
#include "tables/tables_int.h"

#include <math.h>
#include <string.h>

/* K_JSON: an object, stored as JSON text; what its keys mean is checked
 * by its user before the store sees it (model_prices: src/agent/price.c).
 * K_ARGV: a program and its arguments, [] for none (stored as JSON text).
 * K_DIRS: {metric name: "min" | "max"}, which way each metric improves
 * (src/tables/metricdir.c), stored as JSON text. */
typedef enum { K_STRING, K_BOOL, K_NUMBER, K_JSON, K_ARGV, K_DIRS } kind_t;

typedef struct {
    const char *key;
    kind_t kind;
    const char *choices; /* K_STRING: "must be one of " + comma-separated values, or NULL */
    double min, max;     /* K_NUMBER */
    bool integer;        /* K_NUMBER: whole numbers only */
} setting_def_t;

static const setting_def_t defs[] = {
    {"theme", K_STRING, "must be one of system,light,dark", 0, 0, false},
    {"notifications", K_BOOL, NULL, 0, 0, false},
    {"default_mode", K_STRING, "must be one of " AD_ROW_AGENT_MODE_CHOICES, 0, 0, false},
    {"confirm_delete", K_BOOL, NULL, 0, 0, false},
    {"auto_save", K_BOOL, NULL, 0, 0, false}, /* the dashboard's drafts (migration 2911) */
    {"max_context_warning", K_NUMBER, NULL, 0, 100, true},
    {"daily_token_limit", K_NUMBER, NULL, 0, 1e15, true},
    {"monthly_token_limit", K_NUMBER, NULL, 0, 1e15, true},
    {"daily_cost_limit", K_NUMBER, NULL, 0, 1e12, false},
    {"monthly_cost_limit", K_NUMBER, NULL, 0, 1e12, false},
    {"allow_root_auto", K_BOOL, NULL, 0, 0, false},
    {"audit_retention_days", K_NUMBER, NULL, 0, 36500, true},
    {"model_prices", K_JSON, NULL, 0, 0, false},
    {"workspace_roots", K_JSON, NULL, 0, 0, false},   /* {orgId: [folders]}: src/api/settings.c */
    {"forge_hosts", K_JSON, NULL, 0, 0, false},       /* {prefix: {kind, apiBase}}: src/forge */
    {"discovery_command", K_ARGV, NULL, 0, 0, false}, /* src/svc/jobs.c */
    {"metric_directions", K_DIRS, NULL, 0, 0, false}, /* src/tables/metricdir.c */
    {"health_gpu_util_pct", K_NUMBER, NULL, 1, 100, false},
    {"health_gpu_temp_c", K_NUMBER, NULL, 1, 150, false},
    {"health_gpu_power_w", K_NUMBER, NULL, 1, 10000, false},
    {"health_cpu_util_pct", K_NUMBER, NULL, 1, 100, false},
    {"health_cpu_temp_c", K_NUMBER, NULL, 1, 150, false},
    {"health_mem_used_pct", K_NUMBER, NULL, 1, 100, false},
    {"health_disk_used_pct", K_NUMBER, NULL, 1, 100, false},
    {"health_service_fps_min", K_NUMBER, NULL, 0, 1000000, false},
    {"health_service_latency_ms", K_NUMBER, NULL, 0.001, 1000000, false},
    {"summary_model", K_STRING, NULL, 0, 0, false}, /* agents' one-line summaries: src/chat */
    {"summary_provider", K_STRING, "must be one of anthropic,openai", 0, 0, false},
};

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, v, n) == 0) {
            return true;
        }
        if (e == NULL) {
            return false;
        }
        p = e + 1;
    }
}

int ad_store_settings_validate(json_t *patch, const char **bad_key, const char **why)
{
    if (!json_is_object(patch)) {
        *bad_key = "body";
        *why = "must be an object";
        return AD_EINVAL;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(defs); i++) {
        const setting_def_t *d = &defs[i];
        json_t *v = json_object_get(patch, d->key);
        if (v == NULL) {
            continue;
        }
        *bad_key = d->key;
        switch (d->kind) {
        case K_BOOL:
            if (!json_is_boolean(v)) {
                *why = "must be a boolean";
                return AD_EINVAL;
            }
            break;
        case K_STRING:
            if (!json_is_string(v)) {
                *why = "must be a string";
                return AD_EINVAL;
            }
            if (d->choices != NULL && !choice_ok(d->choices + 15, json_string_value(v))) {
                *why = d->choices;
                return AD_EINVAL;
            }
            break;
        case K_JSON:
            if (!json_is_object(v)) {
                *why = "must be an object";
                return AD_EINVAL;
            }
            break;
        case K_DIRS: {
            *why = "must be {metric name (1 to 127 bytes): \"min\" or \"max\"}, at most 1000";
            if (!json_is_object(v) || json_object_size(v) > 1000) {
                return AD_EINVAL;
            }
            const char *name;
            json_t *dir;
            json_object_foreach(v, name, dir)
            {
                const char *t = json_string_value(dir);
                size_t n = strlen(name);
                if (n == 0 || n > 127 || t == NULL ||
                    (strcmp(t, "min") != 0 && strcmp(t, "max") != 0)) {
                    return AD_EINVAL;
                }
            }
            break;
        }
        case K_ARGV: {
            *why = "must be [program, args...]: at most 64 strings of 1 to 4096 bytes, the "
                   "program not starting with '-' nor holding {environment} (or [] for none)";
            if (!json_is_array(v) || json_array_size(v) > 64) {
                return AD_EINVAL;
            }
            size_t k;
            json_t *a;
            json_array_foreach(v, k, a)
            {
                size_t n = json_string_length(a);
                const char *t = json_string_value(a);
                /* the program is the owner's: an environment (any admin's word) never names it */
                if (t == NULL || n == 0 || n > 4096 || strlen(t) != n ||
                    (k == 0 && (t[0] == '-' || strstr(t, "{environment}") != NULL))) {
                    return AD_EINVAL;
                }
            }
            break;
        }
        case K_NUMBER: {
            if (!json_is_number(v)) {
                *why = "must be a number";
                return AD_EINVAL;
            }
            double x = json_number_value(v);
            if (!isfinite(x) || x < d->min || x > d->max) {
                *why = "out of range";
                return AD_EINVAL;
            }
            if (d->integer && x != floor(x)) {
                *why = "must be a whole number";
                return AD_EINVAL;
            }
            break;
        }
        }
    }
    *bad_key = NULL;
    *why = NULL;
    return 0;
}

static json_t *typed(const char *type, const char *value)
{
    if (strcmp(type, "boolean") == 0) {
        return json_boolean(strcmp(value, "true") == 0);
    }
    if (strcmp(type, "number") == 0 || strcmp(type, "json") == 0) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        return v != NULL ? v : json_null();
    }
    return json_string(value);
}

bool ad_store_setting_ok(const char *key, const char *type, const char *value)
{
    if (strcmp(type, "boolean") == 0 && strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
        return false;
    }
    json_t *patch = json_object();
    json_object_set_new(patch, key, typed(type, value));
    const char *bad = NULL, *why = NULL;
    bool ok = ad_store_settings_validate(patch, &bad, &why) == 0;
    json_decref(patch);
    return ok;
}

static int settings_read(ad_db_t *db, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT key, value, type FROM settings ORDER BY key");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    json_t *o = json_object();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_object_set_new(
            o, (const char *)ad_db_column_text(s, 0),
            typed((const char *)ad_db_column_text(s, 2), (const char *)ad_db_column_text(s, 1)));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(o);
        return ad_store_rc(db, rc);
    }
    *out = o;
    return 0;
}

int ad_store_settings_get(ad_store_t *st, json_t **out)
{
    return settings_read(ad_store_rdb(st), out);
}

int ad_store_op_settings_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    json_t *patch = json_object_get(args, "patch");
    const char *bad, *why;
    if (ad_store_settings_validate(patch, &bad, &why) != 0) {
        return AD_EINVAL;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, "INSERT INTO settings (key, value, type, updated_at) "
                                        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(key) DO UPDATE SET "
                                        "value = excluded.value, type = excluded.type, "
                                        "updated_at = excluded.updated_at");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(defs); i++) {
        json_t *v = json_object_get(patch, defs[i].key);
        if (v == NULL) {
            continue;
        }
        ad_db_bind_text(s, 1, defs[i].key, -1, AD_DB_STATIC);
        const char *type = "string";
        if (defs[i].kind == K_STRING) {
            ad_db_bind_text(s, 2, json_string_value(v), -1, AD_DB_TRANSIENT);
        } else if (defs[i].kind == K_JSON || defs[i].kind == K_ARGV || defs[i].kind == K_DIRS) {
            type = "json";
            ad_store_bind_json(s, 2, v);
        } else {
            type = defs[i].kind == K_BOOL ? "boolean" : "number";
            if (defs[i].integer) {
                json_t *iv = json_integer((json_int_t)json_number_value(v));
                ad_store_bind_json(s, 2, iv);
                json_decref(iv);
            } else {
                ad_store_bind_json(s, 2, v);
            }
        }
        ad_db_bind_text(s, 3, type, -1, AD_DB_STATIC);
        ad_db_bind_int64(s, 4, ad_args_int(args, "now", 0));
        int rc = ad_db_step(s);
        ad_db_reset(s);
        if (rc != AD_DB_DONE) {
            return ad_store_rc(db, rc);
        }
    }
    json_t *all = NULL;
    int e = settings_read(db, &all);
    if (e == 0) {
        *result = json_pack("{s:o}", "settings", all);
    }
    return e;
}

/* ---- workspace_roots (moved from src/api/settings.c) ------------------------------- */

void ad_store_settings_roots_only(json_t *settings, bool all, const char *org)
{
    json_t *roots = json_object_get(settings, "workspace_roots");
    if (roots == NULL || all) {
        return;
    }
    json_t *mine = org != NULL ? json_object_get(roots, org) : NULL;
    json_t *only = json_object();
    if (mine != NULL) {
        json_object_set(only, org, mine);
    }
    json_object_set_new(settings, "workspace_roots", only);
}

int ad_store_settings_roots_ok(const json_t *roots, const char **why)
{
    const char *org;
    json_t *list;
    if (!json_is_object(roots) || json_object_size(roots) > 1000) {
        *why = "must be an object {orgId: [absolute folders]}";
        return AD_EINVAL;
    }
    json_object_foreach((json_t *)roots, org, list)
    {
        if (!json_is_array(list) || json_array_size(list) > 64) {
            *why = "each org's roots must be an array of at most 64 absolute folders";
            return AD_EINVAL;
        }
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            const char *p = json_string_value(v);
            if (p == NULL || p[0] != '/' || strlen(p) >= 4096) {
                *why = "each root must be an absolute folder";
                return AD_EINVAL;
            }
        }
    }
    return 0;
}

int ad_store_settings_prices(ad_store_t *st, json_t **out)
{
    json_t *all = NULL;
    int rc = ad_store_settings_get(st, &all);
    if (rc != 0) {
        return rc;
    }
    json_t *mine = json_object_get(all, "model_prices");
    *out = json_is_object(mine) ? json_incref(mine) : json_object();
    json_decref(all);
    return 0;
}

void ad_store_settings_publish(struct ad_bus *bus, const json_t *all)
{
    json_t *pub = json_deep_copy(all);
    ad_store_settings_roots_only(pub, false, NULL); /* every event gets none */
    ad_bus_publish_to(bus, "settings_update", pub, "system", "", NULL);
    json_decref(pub);
}
