/* SPDX-License-Identifier: MIT */
/*
 * The training workspace's panel layouts (hparam.h, issue #35): a layout
 * as a request body gives it, checked field by field and rebuilt from what
 * it may hold, so what is stored is always a layout the dashboard can draw.
 * Rows are the store's (src/tables/layouts.c), routes src/api/layouts.c.
 */
#include "hparam/hparam.h"
#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ID_MAX 64
#define TITLE_MAX 200
#define METRIC_MAX 200
#define RUN_ID_MAX 64

__attribute__((format(printf, 3, 4))) static json_t *bad(ad_hparam_err_t *err, const char *reason,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->field, sizeof(err->field), fmt, ap);
    va_end(ap);
    snprintf(err->reason, sizeof(err->reason), "%s", reason);
    return NULL;
}

/* A string of 1..max bytes with no control character. */
static bool text_ok(json_t *v, size_t max)
{
    if (!json_is_string(v)) {
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(s) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return false;
        }
    }
    return true;
}

/* [A-Za-z0-9_-]{1,max} */
static bool word_ok(json_t *v, size_t max)
{
    if (!json_is_string(v)) {
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static json_t *metrics_of(json_t *m, size_t i, ad_hparam_err_t *err)
{
    if (!json_is_array(m) || json_array_size(m) == 0 ||
        json_array_size(m) > AD_LAYOUT_METRICS_MAX) {
        return bad(err, "must list 1 to 8 metric names", "panels[%zu].metrics", i);
    }
    json_t *out = json_array();
    size_t k;
    json_t *v;
    json_array_foreach(m, k, v)
    {
        if (!text_ok(v, METRIC_MAX)) {
            json_decref(out);
            return bad(err, "must be 1 to 200 bytes with no control character",
                       "panels[%zu].metrics[%zu]", i, k);
        }
        json_array_append(out, v);
    }
    return out;
}

static json_t *runs_of(json_t *r, size_t i, ad_hparam_err_t *err)
{
    if (r == NULL || json_is_null(r)) {
        return json_null();
    }
    if (!json_is_array(r) || json_array_size(r) > AD_LAYOUT_RUNS_MAX) {
        return bad(err, "must be null or at most 16 run ids", "panels[%zu].runs", i);
    }
    json_t *out = json_array();
    size_t k;
    json_t *v;
    json_array_foreach(r, k, v)
    {
        if (!word_ok(v, RUN_ID_MAX) || strncmp(json_string_value(v), "run_", 4) != 0) {
            json_decref(out);
            return bad(err, "must be a run id", "panels[%zu].runs[%zu]", i, k);
        }
        json_array_append(out, v);
    }
    return out;
}

static json_t *panel_of(json_t *p, size_t i, ad_hparam_err_t *err)
{
    static const char *const known[] = {"id", "title",  "metrics", "runs",
                                        "x",  "smooth", "log",     "group"};
    if (!json_is_object(p)) {
        return bad(err, "must be an object", "panels[%zu]", i);
    }
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v)
    {
        bool ok = false;
        for (size_t k = 0; k < AD_ARRAY_LEN(known); k++) {
            ok = ok || strcmp(key, known[k]) == 0;
        }
        if (!ok) {
            return bad(err, "is not a field of a panel", "panels[%zu].%.64s", i, key);
        }
    }
    json_t *id = json_object_get(p, "id"), *title = json_object_get(p, "title");
    json_t *x = json_object_get(p, "x"), *smooth = json_object_get(p, "smooth");
    json_t *log = json_object_get(p, "log"), *group = json_object_get(p, "group");
    if (!word_ok(id, ID_MAX)) {
        return bad(err, "must be 1 to 64 letters, digits, _ or -", "panels[%zu].id", i);
    }
    if (title != NULL && !json_is_null(title) && !text_ok(title, TITLE_MAX)) {
        return bad(err, "must be 1 to 200 bytes with no control character", "panels[%zu].title", i);
    }
    const char *xs = x == NULL ? "step" : json_string_value(x);
    if (xs == NULL ||
        (strcmp(xs, "step") != 0 && strcmp(xs, "time") != 0 && strcmp(xs, "relative") != 0)) {
        return bad(err, "must be step, time or relative", "panels[%zu].x", i);
    }
    double sm = smooth == NULL ? 0.6 : json_number_value(smooth);
    if ((smooth != NULL && !json_is_number(smooth)) || !isfinite(sm) || sm < 0 || sm >= 1) {
        return bad(err, "must be a number from 0 to below 1", "panels[%zu].smooth", i);
    }
    if (log != NULL && !json_is_boolean(log)) {
        return bad(err, "must be true or false", "panels[%zu].log", i);
    }
    if (group != NULL && !json_is_boolean(group)) {
        return bad(err, "must be true or false", "panels[%zu].group", i);
    }
    json_t *metrics = metrics_of(json_object_get(p, "metrics"), i, err);
    if (metrics == NULL) {
        return NULL;
    }
    json_t *runs = runs_of(json_object_get(p, "runs"), i, err);
    if (runs == NULL) {
        json_decref(metrics);
        return NULL;
    }
    json_t *out = json_pack("{s:O, s:o, s:o, s:s, s:f, s:b, s:b}", "id", id, "metrics", metrics,
                            "runs", runs, "x", xs, "smooth", sm, "log", json_is_true(log), "group",
                            group == NULL || json_is_true(group));
    if (title != NULL && !json_is_null(title)) {
        json_object_set(out, "title", title);
    }
    return out;
}

json_t *ad_hparam_layout(json_t *body, ad_hparam_err_t *err)
{
    if (!json_is_object(body)) {
        return bad(err, "must be an object {panels: [...]}", "body");
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "panels") != 0) {
            return bad(err, "is not a field of a layout", "%.64s", key);
        }
    }
    json_t *panels = json_object_get(body, "panels");
    if (!json_is_array(panels) || json_array_size(panels) > AD_LAYOUT_PANELS_MAX) {
        return bad(err, "must be an array of at most 24 panels", "panels");
    }
    json_t *out = json_array();
    size_t i;
    json_array_foreach(panels, i, v)
    {
        json_t *p = panel_of(v, i, err);
        if (p == NULL) {
            json_decref(out);
            return NULL;
        }
        for (size_t k = 0; k < json_array_size(out); k++) {
            if (json_equal(json_object_get(json_array_get(out, k), "id"),
                           json_object_get(p, "id"))) {
                json_decref(p);
                json_decref(out);
                return bad(err, "is the id of an earlier panel", "panels[%zu].id", i);
            }
        }
        json_array_append_new(out, p);
    }
    return json_pack("{s:o}", "panels", out);
}
