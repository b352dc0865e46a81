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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define JOB_ARGV_MAX 256
#define JOB_ARG_MAX 8192

static void started(int rc, json_t *job, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "job", NULL);
        return;
    }
    ad_res_json(r, 201, json_incref(job));
}

/* cwd, when given, is an existing directory named by an absolute path. */
static int check_cwd(ad_req_t *r, json_t *body, const char **cwd)
{
    if (ad_api_str(r, body, "cwd", false, 1023, cwd) != 0) {
        return -1;
    }
    struct stat st;
    if (*cwd != NULL && ((*cwd)[0] != '/' || stat(*cwd, &st) != 0 || !S_ISDIR(st.st_mode))) {
        return ad_api_invalid(r, "cwd", "must be an existing directory (absolute path)");
    }
    return 0;
}

static void start_job(ad_app_t *app, ad_req_t *r, json_t *body)
{
    const char *name = NULL, *kind = "job", *cwd = NULL;
    json_t *command = NULL;
    char org[AD_ID_MAX];
    if (ad_api_str(r, body, "name", true, 127, &name) != 0 ||
        ad_api_enum(r, body, "kind", false, "job,discovery", &kind) != 0 ||
        ad_api_str_array(r, body, "command", true, JOB_ARGV_MAX, JOB_ARG_MAX, &command) != 0 ||
        check_cwd(r, body, &cwd) != 0 || ad_api_org_for(app, r, body, org) != 0) {
        return;
    }
    if (name[0] == '\0' || json_array_size(command) == 0) {
        ad_api_invalid(r, name[0] == '\0' ? "name" : "command", "must not be empty");
        return;
    }
    const char *argv[JOB_ARGV_MAX + 1];
    size_t n = json_array_size(command);
    for (size_t i = 0; i < n; i++) {
        argv[i] = json_string_value(json_array_get(command, i));
    }
    argv[n] = NULL;
    ad_job_spec_t spec = {.name = name, .kind = kind, .org = org, .cwd = cwd, .argv = argv};
    char err[256] = "";
    int rc = ad_jobs_start(app->jobs, &spec, started, r, err, sizeof(err));
    if (rc == AD_ENOENT || rc == AD_EPERM || rc == AD_EINVAL) {
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", "command", "reason", err), "%s", err);
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "cannot start the job: %s", err[0] ? err : ad_strerror(rc));
    }
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
    int64_t limit = 50;
    const char *q = ad_req_query(r, "limit");
    if (q != NULL) {
        char *end;
        long v = strtol(q, &end, 10);
        if (*q == '\0' || *end != '\0' || v < 1 || v > 1000) {
            ad_api_invalid(r, "limit", "must be a whole number from 1 to 1000");
            return;
        }
        limit = v;
    }
    json_t *out = NULL;
    int rc = ad_store_job_list(app->store, ad_principal_filter(ad_api_who(r)), (int)limit, &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "jobs", NULL);
        return;
    }
    size_t i;
    json_t *job;
    json_array_foreach(json_object_get(out, "jobs"), i, job)
    {
        ad_jobs_overlay(app->jobs, job);
    }
    ad_res_json(r, 200, out);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_JOB, id, NULL)) {
        return;
    }
    json_t *job = NULL;
    int rc = ad_store_job_get(app->store, id, &job);
    if (rc != 0) {
        ad_api_fail(r, rc, "job", id);
        return;
    }
    ad_jobs_overlay(app->jobs, job);
    ad_res_json(r, 200, job);
}

static void stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_JOB, id, NULL)) {
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
    if (app->store != NULL && app->procs != NULL) {
        app->jobs = ad_jobs_new(app->loop, app->cfg, app->store, app->bus, app->procs);
    }
    ad_server_route(app->server, "POST", "/api/jobs", AD_ACCESS_ADMIN, create, app);
    ad_server_route(app->server, "GET", "/api/jobs", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "GET", "/api/jobs/:id", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "POST", "/api/jobs/:id/stop", AD_ACCESS_ADMIN, stop, app);
}

void ad_api_jobs_close(ad_app_t *app)
{
    ad_jobs_free(app->jobs);
    app->jobs = NULL;
}
