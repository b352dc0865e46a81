/* SPDX-License-Identifier: MIT */
/*
 * An MLflow-compatible tracking surface (issue #35): the routes MLflow's
 * client calls to log a run (/api/2.0/mlflow/experiments/{create,get,
 * get-by-name}, runs/{create,update,get,log-metric,log-parameter,set-tag,
 * log-batch}), answering in MLflow's shapes and with its errors
 * ({error_code, message}), so existing MLflow code logs to agentd by
 * changing its tracking URI (and MLFLOW_TRACKING_TOKEN: the same bearer
 * tokens as every route). What each route does is src/train's
 * (mlflowreq.c, the shapes mlflow.c); this file checks who may see which
 * row and answers; the logging routes are mlflow_log.c's.
 */
#include "api/api_int.h"
#include "train/train.h"
#include "tables/imports.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((format(printf, 4, 5)))
ad_mf_error(ad_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ad_res_json(r, status, json_pack("{s:s, s:s}", "error_code", code, "message", msg));
}

void ad_mf_fail(ad_req_t *r, const ad_mlflow_err_t *e)
{
    ad_mf_error(r, e->status, e->code, "%s", e->message);
}

/* The body as JSON, NaN tokens allowed (Python's json writes them). */
json_t *ad_mf_body(ad_req_t *r)
{
    size_t len;
    const char *text = ad_req_body(r, &len);
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        j = ad_json_load_nonfinite(text, len);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        ad_mf_error(r, 400, "MALFORMED_REQUEST", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static const char *org_of(ad_req_t *r)
{
    return ad_principal_org_for(ad_api_who(r), NULL);
}

/* Whether the caller sees the row of kind id (NULL: no). */
static bool sees(ad_app_t *app, ad_req_t *r, ad_store_row_t kind, const char *id)
{
    char org[AD_ID_MAX];
    return id != NULL && ad_auth_row_org(app->store, ad_api_who(r), kind, id, org) == 0;
}

/* The MLflow run run_id the caller sees (a run made through this surface):
 * its row, or NULL after answering. */
json_t *ad_mf_run(ad_app_t *app, ad_req_t *r, const char *run_id)
{
    char org[AD_ID_MAX];
    json_t *run = NULL;
    ad_mlflow_err_t e;
    bool seen = run_id != NULL && run_id[0] != '\0' &&
                ad_auth_row_org(app->store, ad_api_who(r), AD_STORE_ROW_RUN, run_id, org) == 0;
    if (ad_mlflow_run_get(app->store, run_id, seen ? org : NULL, &run, &e) != 0) {
        ad_mf_fail(r, &e);
    }
    return run;
}

const char *ad_mf_run_id(const json_t *body, ad_req_t *r)
{
    const char *id = json_string_value(json_object_get(body, "run_id"));
    if (id == NULL) {
        id = json_string_value(json_object_get(body, "run_uuid"));
    }
    return id != NULL ? id : ad_req_query(r, "run_id");
}

/* Answers *out, or the error: rc of a src/train call. */
static void answer(ad_req_t *r, int rc, json_t *out, const ad_mlflow_err_t *e)
{
    if (rc != 0) {
        ad_mf_fail(r, e);
    } else {
        ad_res_json(r, 200, out);
    }
}

/* ---- experiments -------------------------------------------------------------------- */

static void exp_made(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    if (rc != 0) {
        ad_mf_error(r, 500, "INTERNAL_ERROR", "the experiment was not stored: %s", ad_strerror(rc));
        return;
    }
    ad_res_json(r, 200,
                json_pack("{s:O}", "experiment_id",
                          json_object_get(json_object_get(result, "agent"), "id")));
}

static void exp_create_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_mf_body(r), *args = NULL;
    ad_mlflow_err_t e;
    if (body == NULL) {
        return;
    }
    bool wt_seen =
        sees(app, r, AD_STORE_ROW_WORKTREE, ad_mlflow_tag_worktree(json_object_get(body, "tags")));
    if (ad_mlflow_exp_args(app->store, app->cfg->data_dir, org_of(r), body, wt_seen, &args, &e) !=
        0) {
        ad_mf_fail(r, &e);
    } else {
        ad_api_write(app, r, ad_store_op_mlflow_exp_insert, args, exp_made);
    }
    json_decref(body);
}

/* experiments/get (by id) and get-by-name (experiment_name). */
static void exp_get_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_query(r, "experiment_id"), *name = ad_req_query(r, "experiment_name");
    json_t *out = NULL;
    ad_mlflow_err_t e;
    bool by_name = strstr(ad_req_path(r), "by-name") != NULL;
    int rc = ad_mlflow_exp_find(app->store, org_of(r), by_name ? NULL : id,
                                by_name ? (name != NULL ? name : "") : NULL,
                                sees(app, r, AD_STORE_ROW_AGENT, id), &out, &e);
    answer(r, rc, out, &e);
}

/* experiments/search and runs/search; metrics/get-history. */
static void search_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_mf_body(r), *out = NULL;
    ad_mlflow_err_t e;
    if (body != NULL) {
        bool runs = strstr(ad_req_path(r), "/runs/") != NULL;
        int rc = ad_mlflow_search(app->store, org_of(r), runs, body, &out, &e);
        answer(r, rc, out, &e);
    }
    json_decref(body);
}

static void history_done(void *ud, int rc, json_t *out, const ad_mlflow_err_t *e)
{
    answer(ud, rc, out, e);
}

static void history_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *run = ad_mf_run(app, r, ad_req_query(r, "run_id"));
    if (run != NULL) {
        ad_mlflow_history(app->store, json_string_value(json_object_get(run, "id")),
                          ad_api_query_get, r, history_done, r);
    }
    json_decref(run);
}

/* ---- runs --------------------------------------------------------------------------------- */

/* Answers with the run as it is stored now: {run} or {run_info}. */
static void answer_run(ad_app_t *app, ad_req_t *r, const char *run_id, bool info_only)
{
    json_t *out = NULL;
    ad_mlflow_err_t e;
    int rc = ad_mlflow_run_answer(app->store, run_id, info_only, &out, &e);
    answer(r, rc, out, &e);
}

static void run_made(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_mf_error(r, rc == AD_ENOENT ? 404 : 500,
                    rc == AD_ENOENT ? "RESOURCE_DOES_NOT_EXIST" : "INTERNAL_ERROR",
                    "the run was not stored: %s", ad_strerror(rc));
        return;
    }
    answer_run(app, r, json_string_value(json_object_get(result, "runId")), false);
}

static void run_create_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_mf_body(r), *args = NULL;
    ad_mlflow_err_t e;
    if (body == NULL) {
        return;
    }
    const char *exp = json_string_value(json_object_get(body, "experiment_id"));
    if (ad_mlflow_run_args(app->store, app->cfg->data_dir, org_of(r), body,
                           sees(app, r, AD_STORE_ROW_AGENT, exp), &args, &e) != 0) {
        ad_mf_fail(r, &e);
    } else {
        ad_api_write(app, r, ad_store_op_mlflow_run_insert, args, run_made);
    }
    json_decref(body);
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(result);
    char *run_id = ad_req_data(r);
    ad_req_set_data(r, NULL);
    if (rc != 0) {
        ad_mf_error(r, 500, "INTERNAL_ERROR", "not stored: %s", ad_strerror(rc));
    } else { /* runs/update answers its run_info */
        answer_run(app, r, run_id, true);
    }
    free(run_id);
}

static void run_update_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_mf_body(r), *args = NULL;
    json_t *run = body != NULL ? ad_mf_run(app, r, ad_mf_run_id(body, r)) : NULL;
    ad_mlflow_err_t e;
    if (run != NULL && ad_mlflow_update_args(run, body, &args, &e) != 0) {
        ad_mf_fail(r, &e);
    } else if (run != NULL) {
        ad_req_set_data(r, ad_xstrdup(json_string_value(json_object_get(run, "id"))));
        ad_api_write(app, r, ad_store_op_external_run_update, args, updated);
    }
    json_decref(run);
    json_decref(body);
}

static void run_get_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *run = ad_mf_run(app, r, ad_req_query(r, "run_id"));
    if (run != NULL) {
        answer_run(app, r, json_string_value(json_object_get(run, "id")), false);
        json_decref(run);
    }
}

void ad_api_mlflow_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/2.0/mlflow/experiments/create", AD_ACCESS_WRITE, exp_create_h,
                    app);
    ad_server_route(s, "GET", "/api/2.0/mlflow/experiments/get", AD_ACCESS_READ, exp_get_h, app);
    ad_server_route(s, "GET", "/api/2.0/mlflow/experiments/get-by-name", AD_ACCESS_READ, exp_get_h,
                    app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/experiments/search", AD_ACCESS_READ, search_h, app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/search", AD_ACCESS_READ, search_h, app);
    ad_server_route(s, "GET", "/api/2.0/mlflow/metrics/get-history", AD_ACCESS_READ, history_h,
                    app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/create", AD_ACCESS_WRITE, run_create_h, app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/update", AD_ACCESS_WRITE, run_update_h, app);
    ad_server_route(s, "GET", "/api/2.0/mlflow/runs/get", AD_ACCESS_READ, run_get_h, app);
    ad_api_mlflow_log_register(app);
}
