/* SPDX-License-Identifier: MIT */
/*
 * The MLflow surface's logging routes (issue #35): runs/log-batch,
 * runs/log-metric, runs/log-parameter and runs/set-tag, in MLflow's shapes
 * (src/train/mlflow.c) with its errors (mlflow.c's helpers). The logging
 * itself (a param keeps its first value, the config patched, the points to
 * the alert rules and the store) is src/train/mlflowreq.c's.
 */
#include "api/api_int.h"
#include "train/train.h"

static void logged(void *ud, const ad_mlflow_err_t *e)
{
    if (e != NULL) {
        ad_mf_fail(ud, e);
    } else {
        ad_res_json(ud, 200, json_object());
    }
}

/* Logs points (taken), params and tags to the run of body's run_id. */
static void log_to(ad_app_t *app, ad_req_t *r, json_t *run, json_t *points, json_t *params,
                   json_t *tags)
{
    ad_mlflow_log(app->train, app->store, run, points, params, tags, logged, r);
}

static void run_log_metric_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_mf_body(r);
    json_t *run = body != NULL ? ad_mf_run(app, r, ad_mf_run_id(body, r)) : NULL;
    json_t *pt = NULL;
    ad_mlflow_err_t e;
    if (run != NULL && ad_mlflow_metric(body, "metric", &pt, &e) != 0) {
        ad_mf_fail(r, &e);
    } else if (run != NULL) {
        log_to(app, r, run, json_pack("[o]", pt), NULL, NULL);
    }
    json_decref(run);
    json_decref(body);
}

static void run_log_batch_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_mf_body(r);
    json_t *run = body != NULL ? ad_mf_run(app, r, ad_mf_run_id(body, r)) : NULL;
    json_t *points = NULL, *params = NULL, *tags = NULL;
    ad_mlflow_err_t e;
    if (run != NULL && ad_mlflow_batch(body, &points, &params, &tags, &e) != 0) {
        ad_mf_fail(r, &e);
    } else if (run != NULL) {
        log_to(app, r, run, points, params, tags);
    }
    json_decref(params);
    json_decref(tags);
    json_decref(run);
    json_decref(body);
}

/* log-parameter and set-tag: one {key, value} into the batch path. */
static void one_pair(ad_req_t *r, ad_app_t *app, bool param)
{
    json_t *body = ad_mf_body(r);
    json_t *run = body != NULL ? ad_mf_run(app, r, ad_mf_run_id(body, r)) : NULL;
    json_t *kv = NULL;
    ad_mlflow_err_t e;
    if (run != NULL && ad_mlflow_pair(body, param, &kv, &e) != 0) {
        ad_mf_fail(r, &e);
    } else if (run != NULL) {
        log_to(app, r, run, json_array(), param ? kv : NULL, param ? NULL : kv);
    }
    json_decref(kv);
    json_decref(run);
    json_decref(body);
}

static void run_log_param_h(ad_req_t *r, void *ud)
{
    one_pair(r, ud, true);
}

static void run_set_tag_h(ad_req_t *r, void *ud)
{
    one_pair(r, ud, false);
}

void ad_api_mlflow_log_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/log-metric", AD_ACCESS_WRITE, run_log_metric_h,
                    app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/log-parameter", AD_ACCESS_WRITE,
                    run_log_param_h, app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/set-tag", AD_ACCESS_WRITE, run_set_tag_h, app);
    ad_server_route(s, "POST", "/api/2.0/mlflow/runs/log-batch", AD_ACCESS_WRITE, run_log_batch_h,
                    app);
}
