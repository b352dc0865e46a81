/* SPDX-License-Identifier: MIT */
/*
 * The MLflow REST surface's shapes (issue #35): what MLflow's tracking
 * client sends (log-batch within MLflow's limits, a metric, statuses) read
 * into agentd's points and run fields, and agentd's runs and agents
 * written back as MLflow's Run and Experiment objects. An experiment is an
 * agent (its state says mlflowExperiment), a run is a run with source
 * "mlflow": params are its config's values, MLflow's tags its config's
 * mlflowTags (mlflow.runName also its name). Pure: any thread.
 */
#include "store/store.h"
#include "tables/series.h"
#include "train/train_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int ad_mlflow_fail(ad_mlflow_err_t *e, int status, const char *code, const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return AD_EINVAL;
}

/* MLflow's key rule: 1 to 250 characters of letters, digits, _ - . space and /. */
static bool key_ok(const char *k)
{
    size_t n = k != NULL ? strlen(k) : 0;
    if (n == 0 || n > 250) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ' ' || c == '/')) {
            return false;
        }
    }
    return true;
}

/* An int64 field that MLflow's JSON may send as a number or a string. */
static bool int64_of(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    char *end;
    long long x = strtoll(s, &end, 10);
    if (*end != '\0') {
        return false;
    }
    *out = x;
    return true;
}

int ad_mlflow_metric(const json_t *m, const char *where, json_t **point, ad_mlflow_err_t *e)
{
    const char *key = json_string_value(json_object_get(m, "key"));
    double v;
    int64_t ts = 0, step = 0;
    json_t *stepv = json_object_get(m, "step");
    if (!json_is_object(m)) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE", "%s must be an object", where);
    }
    if (!key_ok(key)) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                              "Invalid value for parameter '%s.key': 1 to 250 letters, digits, "
                              "underscores, dashes, periods, spaces or slashes",
                              where);
    }
    if (strlen(key) > AD_SERIES_NAME_MAX) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                              "%s.key is longer than agentd keeps (200)", where);
    }
    if (!ad_json_number_ext(json_object_get(m, "value"), &v)) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                              "Missing value for required parameter '%s.value' (a number)", where);
    }
    if (!int64_of(json_object_get(m, "timestamp"), &ts)) {
        return ad_mlflow_fail(
            e, 400, "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter '%s.timestamp' (ms since the epoch)", where);
    }
    if (stepv != NULL && !json_is_null(stepv) && !int64_of(stepv, &step)) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                              "Invalid value for parameter '%s.step'", where);
    }
    *point =
        json_pack("{s:s, s:I, s:I}", "name", key, "step", (json_int_t)step, "ts", (json_int_t)ts);
    json_object_set_new(*point, "value",
                        isfinite(v) ? json_real(v)
                        : isnan(v)  ? json_string("NaN")
                                    : json_string(v > 0 ? "Infinity" : "-Infinity"));
    return 0;
}

/* [{key, value}] of strings into an object (later keys win); where names
 * the list. */
static int pairs(const json_t *list, const char *where, size_t max, json_t *out, ad_mlflow_err_t *e)
{
    if (list == NULL || json_is_null(list)) {
        return 0;
    }
    if (!json_is_array(list)) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE", "%s must be an array", where);
    }
    if (json_array_size(list) > max) {
        return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                              "A batch logging request can contain at most %zu %s", max, where);
    }
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        const char *k = json_string_value(json_object_get(p, "key"));
        json_t *v = json_object_get(p, "value");
        if (!key_ok(k)) {
            return ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                                  "Invalid value for parameter '%s[%zu].key'", where, i);
        }
        if (!json_is_string(v) || json_string_length(v) > 8000) {
            return ad_mlflow_fail(
                e, 400, "INVALID_PARAMETER_VALUE",
                "Invalid value for parameter '%s[%zu].value': a string of at most 8000 "
                "characters",
                where, i);
        }
        json_object_set(out, k, v);
    }
    return 0;
}

int ad_mlflow_params(const json_t *list, const char *where, size_t max, json_t *out,
                     ad_mlflow_err_t *e)
{
    return pairs(list, where, max, out, e);
}

int ad_mlflow_batch(const json_t *body, json_t **points, json_t **params, json_t **tags,
                    ad_mlflow_err_t *e)
{
    json_t *metrics = json_object_get(body, "metrics");
    size_t nm = json_array_size(metrics), np = json_array_size(json_object_get(body, "params")),
           nt = json_array_size(json_object_get(body, "tags"));
    *points = json_array();
    *params = json_object();
    *tags = json_object();
    if (metrics != NULL && !json_is_null(metrics) && !json_is_array(metrics)) {
        ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE", "metrics must be an array");
        goto bad;
    }
    if (nm > 1000 || nm + np + nt > 1000) {
        ad_mlflow_fail(
            e, 400, "INVALID_PARAMETER_VALUE",
            "A batch logging request can contain at most 1000 metrics, params and tags in "
            "total (got %zu metrics, %zu params, %zu tags)",
            nm, np, nt);
        goto bad;
    }
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m)
    {
        char where[32];
        snprintf(where, sizeof(where), "metrics[%zu]", i);
        json_t *pt = NULL;
        if (ad_mlflow_metric(m, where, &pt, e) != 0) {
            goto bad;
        }
        json_array_append_new(*points, pt);
    }
    if (pairs(json_object_get(body, "params"), "params", 100, *params, e) != 0 ||
        pairs(json_object_get(body, "tags"), "tags", 100, *tags, e) != 0) {
        goto bad;
    }
    return 0;
bad:
    json_decref(*points);
    json_decref(*params);
    json_decref(*tags);
    *points = *params = *tags = NULL;
    return AD_EINVAL;
}

const char *ad_mlflow_status_in(const char *s)
{
    static const char *const map[][2] = {{"RUNNING", "running"},
                                         {"SCHEDULED", "running"},
                                         {"FINISHED", "succeeded"},
                                         {"FAILED", "failed"},
                                         {"KILLED", "stopped"}};
    for (size_t i = 0; s != NULL && i < AD_ARRAY_LEN(map); i++) {
        if (strcmp(s, map[i][0]) == 0) {
            return map[i][1];
        }
    }
    return NULL;
}

static const char *status_out(const char *s)
{
    if (s == NULL || strcmp(s, "running") == 0) {
        return "RUNNING";
    }
    return strcmp(s, "succeeded") == 0 ? "FINISHED"
           : strcmp(s, "failed") == 0  ? "FAILED"
                                       : "KILLED";
}

static json_int_t ms_of(const json_t *o, const char *key)
{
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL && ad_time_parse(s, &ms) == 0 ? (json_int_t)ms : 0;
}

json_t *ad_mlflow_run_info(const json_t *run)
{
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    json_t *info =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "run_id", id, "run_uuid", id,
                  "run_name", name != NULL ? name : "", "experiment_id",
                  json_string_value(json_object_get(run, "agentId")), "user_id", "", "status",
                  status_out(json_string_value(json_object_get(run, "status"))), "start_time",
                  ms_of(run, "startedAt"), "artifact_uri", "", "lifecycle_stage", "active");
    json_int_t end = ms_of(run, "endedAt");
    if (end > 0) {
        json_object_set_new(info, "end_time", json_integer(end));
    }
    return info;
}

/* {k: v} as [{key, value}]. */
static json_t *kv_list(const json_t *o)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        json_t *val = json_is_string(v) ? json_incref(v) : json_string("");
        if (!json_is_string(v)) {
            json_decref(val);
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            val = json_string(text != NULL ? text : "");
            free(text);
        }
        json_array_append_new(a, json_pack("{s:s, s:o}", "key", k, "value", val));
    }
    return a;
}

json_t *ad_mlflow_run(const json_t *run, const json_t *series)
{
    json_t *metrics = json_array();
    size_t i;
    json_t *s;
    json_array_foreach((json_t *)series, i, s)
    {
        json_array_append_new(metrics,
                              json_pack("{s:O, s:O, s:O, s:O}", "key", json_object_get(s, "name"),
                                        "value", json_object_get(s, "lastValue"), "timestamp",
                                        json_object_get(s, "lastTimeMs"), "step",
                                        json_object_get(s, "lastStep")));
    }
    json_t *config = json_object_get(run, "config");
    json_t *data = json_pack("{s:o, s:o, s:o}", "metrics", metrics, "params",
                             kv_list(json_object_get(config, "values")), "tags",
                             kv_list(json_object_get(config, "mlflowTags")));
    return json_pack("{s:o, s:o, s:{}}", "info", ad_mlflow_run_info(run), "data", data, "inputs");
}

json_t *ad_mlflow_experiment(const json_t *agent, const char *id_override)
{
    const char *id =
        id_override != NULL ? id_override : json_string_value(json_object_get(agent, "id"));
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:[]}", "experiment_id", id, "name",
                     json_string_value(json_object_get(agent, "name")), "artifact_location", "",
                     "lifecycle_stage", "active", "creation_time", ms_of(agent, "createdAt"),
                     "last_update_time", ms_of(agent, "updatedAt"), "tags");
}

int ad_mlflow_pair(const json_t *body, bool param, json_t **kv, ad_mlflow_err_t *e)
{
    json_t *list = json_pack("[{s:O, s:O}]", "key", json_object_get(body, "key"), "value",
                             json_object_get(body, "value"));
    int rc = json_array_size(list) == 0
                 ? ad_mlflow_fail(e, 400, "INVALID_PARAMETER_VALUE",
                                  "Missing value for required parameters 'key' and 'value'")
                 : 0;
    *kv = json_object();
    if (rc == 0) {
        rc = ad_mlflow_params(list, param ? "param" : "tag", 1, *kv, e);
    }
    json_decref(list);
    if (rc != 0) {
        json_decref(*kv);
        *kv = NULL;
    }
    return rc;
}
