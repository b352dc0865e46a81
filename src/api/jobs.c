/* SPDX-License-Identifier: MIT */
/*
 * /api/jobs: programs that report progress (src/svc). Starting one runs a
 * program, so it needs an admin token; reading needs a read token and
 * shows the caller's organisation's jobs, with the live figures of those
 * still running laid over their rows.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/health.md.
 */
#include "api/api_int.h"
#include "svc/svc.h"

#define JOB_ARGV_MAX 256

static void started(int rc, json_t *job, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "job", NULL);
        return;
    }
    ad_res_json(r, 201, json_incref(job));
}

static void start_job(ad_app_t *app, ad_req_t *r, json_t *body)
{
    ad_job_spec_t spec = {0};
    const char *argv[JOB_ARGV_MAX + 1];
    char org[AD_ID_MAX];
    ad_field_err_t e;
    json_t *made = NULL;
    if (ad_svc_job_spec(app->store, body, &spec, argv, JOB_ARGV_MAX, &made, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    if (ad_api_org_for(app, r, body, org) != 0) {
        json_decref(made);
        return;
    }
    spec.org = org;
    char node_id[AD_ID_MAX] = "";
    bool connected = false;
    if (spec.node != NULL && (app->plane == NULL || ad_plane_find(app->plane, org, spec.node,
                                                                  node_id, &connected) != 0)) {
        ad_api_invalid(r, "node", "names no node of the job's organisation");
        json_decref(made);
        return;
    }
    if (spec.node != NULL && !connected) {
        char why[2300];
        ad_plane_not_here(app->plane, node_id, spec.node, why, sizeof(why));
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s}", "node", spec.node), "%s", why);
        json_decref(made);
        return;
    }
    spec.node_id = node_id;
    char err[256] = "";
    int rc = ad_jobs_start(app->jobs, &spec, started, r, err, sizeof(err));
    if (rc == AD_EPERM && spec.node != NULL) {
        ad_res_error(r, 403, "FORBIDDEN", json_pack("{s:s}", "node", spec.node), "%s", err);
    } else if (rc == AD_ESTATE && spec.node != NULL) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s}", "node", spec.node), "%s", err);
    } else if (rc == AD_ENOENT || rc == AD_EPERM || rc == AD_EINVAL) {
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", "command", "reason", err), "%s", err);
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "cannot start the job: %s", err[0] ? err : ad_strerror(rc));
    }
    json_decref(made);
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r) || app->jobs == NULL) {
        if (!ad_req_is_answered(r)) {
            ad_res_error(r, 503, "UNAVAILABLE", NULL, "jobs are not available");
        }
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    start_job(app, r, body);
    json_decref(body);
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    json_t *out = NULL;
    ad_field_err_t e = {0};
    int rc = ad_jobs_list(app->jobs, app->store, ad_principal_filter(ad_api_who(r)),
                          ad_req_query(r, "limit"), &out, &e);
    if (rc == AD_EINVAL && e.field[0] != '\0') {
        ad_api_invalid_err(r, &e);
    } else if (rc != 0) {
        ad_api_fail(r, rc, "jobs", NULL);
    } else {
        ad_res_json(r, 200, out);
    }
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_JOB, id, NULL)) {
        return;
    }
    json_t *job = NULL;
    int rc = ad_jobs_get(app->jobs, app->store, id, &job);
    ad_api_answer(r, rc, job, "job", id);
}

static void stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_JOB, id, NULL)) {
        return;
    }
    if (ad_jobs_stop(app->jobs, id) != 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "job %s is not running", id);
        return;
    }
    ad_res_json(r, 202, json_pack("{s:s, s:b}", "id", id, "stopping", 1));
}

void ad_api_jobs_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/jobs", AD_ACCESS_ADMIN, create, app);
    ad_server_route(app->server, "GET", "/api/jobs", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "GET", "/api/jobs/:id", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "POST", "/api/jobs/:id/stop", AD_ACCESS_ADMIN, stop, app);
}
