/* SPDX-License-Identifier: MIT */
/*
 * A workbench project kept in sync with a folder (issue #40, seed 002),
 * opt-in per project: PUT /api/projects/:id/sync {path} (admin: it writes
 * on the daemon's machine; the folder must exist, have no link in its path
 * and lie under one of --project-sync-roots), GET and DELETE. While set,
 * every change of the project's files is written into the folder (push,
 * hooked into projects.c), and every --project-sync-interval-ms the folder
 * is read for files changed since the last sync, which become the
 * project's (pull). The file work is src/llm/sync.c's, on the pool.
 */
#include "api/workbench.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ad_psync {
    uv_timer_t timer;
    ad_app_t *app;
    unsigned inflight; /* loads and pool jobs under way */
    bool closed;       /* ad_api_project_sync_close ran: jobs only free themselves */
};
typedef struct ad_psync psync_t;

typedef struct {
    uv_work_t work;
    psync_t *ps;
    bool pull;
    char id[AD_ID_MAX];
    char path[4096];
    int64_t since;
    int64_t started; /* push: when it began; the folder's files are new after it */
    json_t *project;
    json_t *changes; /* pull: what the folder has new */
    size_t written;  /* push */
    int rc;
} job_t;

static void job_free(job_t *j)
{
    psync_t *ps = j->ps;
    json_decref(j->project);
    json_decref(j->changes);
    free(j);
    if (--ps->inflight == 0 && ps->closed) {
        free(ps);
    }
}

static void noop_done(int rc, json_t *result, void *ud)
{
    AD_UNUSED(rc);
    AD_UNUSED(ud);
    json_decref(result);
}

static void pulled(int rc, json_t *result, void *ud)
{
    job_t *j = ud;
    json_decref(result);
    if (!j->ps->closed && rc == 0) {
        ad_api_project_changed(j->ps->app, j->id, "files"); /* publishes, then pushes */
    }
    job_free(j);
}

static void job_work(uv_work_t *w)
{
    job_t *j = w->data;
    if (j->pull) {
        j->changes = ad_llm_sync_scan(j->project, j->path, j->since);
    } else {
        j->rc = ad_llm_sync_push(j->project, j->path, &j->written);
    }
}

static void job_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    ad_app_t *app = j->ps->app;
    if (j->ps->closed || status != 0) {
        job_free(j);
        return;
    }
    if (!j->pull) {
        if (j->rc != 0) {
            ad_log(AD_LOG_WARN, "projects", "sync: cannot write the folder project=%s path=%s",
                   j->id, j->path);
        }
        /* the start, not the end: a file edited in the folder while the push
         * wrote counts as changed after it (what the push wrote itself is as
         * the project has it, so reading it back changes nothing) */
        ad_store_project_synced(app->store, j->id, j->started, noop_done, NULL);
        job_free(j);
        return;
    }
    if (json_array_size(j->changes) == 0) {
        job_free(j);
        return;
    }
    json_t *args = json_pack("{s:s, s:O, s:I}", "id", j->id, "changes", j->changes, "now",
                             (json_int_t)ad_wall_ms());
    ad_store_write(app->store, ad_store_op_project_files, args, pulled, j);
}

static void loaded(int rc, json_t *p, void *ud)
{
    job_t *j = ud;
    if (j->ps->closed || rc != 0) {
        json_decref(p);
        job_free(j);
        return;
    }
    j->project = p;
    j->work.data = j;
    if (uv_queue_work(j->ps->app->loop, &j->work, job_work, job_done) != 0) {
        job_free(j);
    }
}

/* A push or a pull of one synced project {id, path, syncedAt}. */
static void start_job(psync_t *ps, json_t *row, bool pull)
{
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->ps = ps;
    j->pull = pull;
    snprintf(j->id, sizeof(j->id), "%s", ad_api_jstr(row, "id"));
    snprintf(j->path, sizeof(j->path), "%s", ad_api_jstr(row, "path"));
    j->since = json_integer_value(json_object_get(row, "syncedAt"));
    j->started = ad_wall_ms();
    ps->inflight++;
    ad_store_project_load(ps->app->store, j->id, loaded, j);
}

void ad_api_project_sync_push(ad_app_t *app, const char *id)
{
    psync_t *ps = app->api != NULL ? app->api->psync : NULL;
    json_t *rows = NULL;
    if (ps == NULL || ad_store_project_sync_list(app->store, id, &rows) != 0) {
        return;
    }
    if (json_array_size(rows) == 1) {
        start_job(ps, json_array_get(rows, 0), false);
    }
    json_decref(rows);
}

static void on_tick(uv_timer_t *t)
{
    psync_t *ps = t->data;
    json_t *rows = NULL;
    if (ps->inflight > 1 || ad_store_project_sync_list(ps->app->store, NULL, &rows) != 0) {
        return; /* the last round (or a push) is still under way; 1 is the timer's own */
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        start_job(ps, row, true);
    }
    json_decref(rows);
}

/* ---- routes ----------------------------------------------------------------------------- */

/* Whether path (a real, link-free folder) lies under one of the roots. */
static bool under_root(const char *roots, const char *path)
{
    char list[4096], real[PATH_MAX];
    snprintf(list, sizeof(list), "%s", roots);
    char *save = NULL;
    for (char *r = strtok_r(list, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save)) {
        size_t n = 0;
        if (realpath(r, real) != NULL && (n = strlen(real)) > 0 && strncmp(path, real, n) == 0 &&
            (path[n] == '/' || (n == 1 && real[0] == '/'))) {
            return true;
        }
    }
    return false;
}

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
} set_t;

static void sync_set(int rc, json_t *result, void *ud)
{
    set_t *x = ud;
    if (rc != 0) {
        json_decref(result);
        ad_api_fail(x->req, rc, "project", NULL);
    } else {
        ad_api_project_sync_push(x->app, ad_api_jstr(result, "id")); /* the folder gets it all */
        ad_res_json(x->req, 200, result);
    }
    free(x);
}

static void set_path(ad_app_t *app, ad_req_t *r, const char *id, const char *path)
{
    set_t *x = ad_xcalloc(1, sizeof(*x));
    x->app = app;
    x->req = r;
    ad_store_project_sync_set(app->store, id, path, sync_set, x);
}

static void sync_put(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = ad_api_row_load(app, r, ad_store_project_get, "project"), *body = NULL;
    const char *path = NULL;
    char real[PATH_MAX];
    struct stat st;
    if (p != NULL && (body = ad_req_json(r)) != NULL &&
        ad_api_str(r, body, "path", true, 4000, &path) == 0) {
        if (app->cfg->project_sync_roots[0] == '\0') {
            ad_res_error(r, 403, "FORBIDDEN", NULL,
                         "no folder may be synced: the daemon has no --project-sync-roots");
        } else if (!ad_llm_export_path_ok(path) || realpath(path, real) == NULL ||
                   strcmp(real, path) != 0 || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            ad_api_invalid(r, "path", "must be an existing folder, absolute, with no link in it");
        } else if (!under_root(app->cfg->project_sync_roots, path)) {
            ad_api_invalid(r, "path", "is not under one of --project-sync-roots");
        } else {
            set_path(app, r, ad_api_jstr(p, "id"), path);
        }
    }
    json_decref(body);
    json_decref(p);
}

static void sync_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = ad_api_row_load(app, r, ad_store_project_get, "project"), *rows = NULL;
    if (p == NULL) {
        return;
    }
    if (ad_store_project_sync_list(app->store, ad_api_jstr(p, "id"), &rows) != 0) {
        ad_api_fail(r, AD_EINTERNAL, "project", NULL);
    } else {
        json_t *row = json_array_get(rows, 0);
        json_t *at = json_object_get(row, "syncedAt");
        char ts[AD_TIME_MAX] = "";
        if (json_integer_value(at) > 0) {
            ad_time_format(json_integer_value(at), ts);
        }
        ad_res_json(r, 200,
                    json_pack("{s:s, s:s?, s:s?}", "id", ad_api_jstr(p, "id"), "path",
                              ad_api_jstr(row, "path"), "syncedAt", ts[0] != '\0' ? ts : NULL));
    }
    json_decref(rows);
    json_decref(p);
}

static void sync_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = ad_api_row_load(app, r, ad_store_project_get, "project");
    if (p != NULL) {
        set_path(app, r, ad_api_jstr(p, "id"), NULL);
        json_decref(p);
    }
}

void ad_api_project_sync_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "PUT", "/api/projects/:id/sync", AD_ACCESS_ADMIN, sync_put, app);
    ad_server_route(s, "GET", "/api/projects/:id/sync", AD_ACCESS_READ, sync_get, app);
    ad_server_route(s, "DELETE", "/api/projects/:id/sync", AD_ACCESS_ADMIN, sync_delete, app);
    if (app->store == NULL || app->api == NULL) {
        return;
    }
    psync_t *ps = ad_xcalloc(1, sizeof(*ps));
    ps->app = app;
    app->api->psync = ps;
    uint64_t every = app->cfg->project_sync_interval_ms;
    uv_timer_init(app->loop, &ps->timer);
    ps->timer.data = ps;
    ps->inflight = 1; /* the timer's, until it is closed */
    if (every > 0) {
        uv_timer_start(&ps->timer, on_tick, every, every);
    }
    uv_unref((uv_handle_t *)&ps->timer);
}

static void timer_closed(uv_handle_t *h)
{
    psync_t *ps = h->data;
    if (--ps->inflight == 0) {
        free(ps);
    }
}

void ad_api_project_sync_close(ad_app_t *app)
{
    psync_t *ps = app->api != NULL ? app->api->psync : NULL;
    if (ps == NULL) {
        return;
    }
    app->api->psync = NULL;
    ps->closed = true;
    uv_close((uv_handle_t *)&ps->timer, timer_closed);
}
