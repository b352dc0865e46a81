/* SPDX-License-Identifier: MIT */
/*
 * A workbench project kept in sync with a folder (issue #40, seed 002),
 * opt-in per project: PUT /api/projects/:id/sync {path} (admin: it writes
 * on the daemon's machine; the folder must exist, have no link in its path
 * and lie under one of --project-sync-roots), GET and DELETE. While set,
 * every change of the project's files is written into the folder (push,
 * hooked into projects.c), and every --project-sync-interval-ms the folder
 * is read for files changed on its side, which become the project's
 * (pull). A file edited in the folder wins over the project's version
 * until it is read (a push leaves it alone). What both sides last agreed
 * on is kept per file in memory (the base, see src/llm/sync.c); after a
 * restart, the time of the last read stands in for it. The file work is
 * sync.c's, on the pool, one job at a time.
 */
#include "api/workbench.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SYNC_QUEUE_MAX 256
#define SYNC_SLOP_MS 2000 /* mtimes come from a coarse clock: a scan's start is read as earlier */

typedef struct {
    char id[AD_ID_MAX];
    bool pull;
} step_t;

/* One job at a time, so a pull's read, its save and the pushes it causes
 * never interleave with another's over the same files. */
struct ad_psync {
    uv_timer_t timer;
    ad_app_t *app;
    json_t *base; /* {project id: its sync base, see ad_llm_sync_push} */
    step_t queue[SYNC_QUEUE_MAX];
    size_t queued;
    bool busy;         /* a job is under way */
    unsigned inflight; /* the timer and the job: ps is freed when both are done */
    bool closed;       /* ad_api_project_sync_close ran: a job only frees itself */
};
typedef struct ad_psync psync_t;

typedef struct {
    uv_work_t work;
    psync_t *ps;
    bool pull;
    char id[AD_ID_MAX];
    char path[4096];
    int64_t since;
    int64_t started; /* pull: when the scan began */
    json_t *project;
    json_t *base;    /* a copy of the project's base, given back when the job holds */
    json_t *changes; /* pull: what the folder has new */
    size_t written;  /* push */
    int rc;
} job_t;

static void run_next(psync_t *ps);

/* Queues a push or a pull of project id (once: a queued one does for both). */
static void enqueue(psync_t *ps, const char *id, bool pull)
{
    for (size_t i = 0; i < ps->queued; i++) {
        if (ps->queue[i].pull == pull && strcmp(ps->queue[i].id, id) == 0) {
            return;
        }
    }
    if (ps->queued < SYNC_QUEUE_MAX) {
        step_t *q = &ps->queue[ps->queued++];
        snprintf(q->id, sizeof(q->id), "%s", id);
        q->pull = pull;
    }
    run_next(ps);
}

static void job_free(job_t *j, bool keep_base)
{
    psync_t *ps = j->ps;
    if (keep_base && !ps->closed) {
        json_object_set(ps->base, j->id, j->base);
    }
    json_decref(j->base);
    json_decref(j->project);
    json_decref(j->changes);
    free(j);
    ps->busy = false;
    if (--ps->inflight == 0 && ps->closed) {
        json_decref(ps->base);
        free(ps);
        return;
    }
    run_next(ps);
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
        ad_store_project_synced(j->ps->app->store, j->id, j->started - SYNC_SLOP_MS, noop_done,
                                NULL);
        ad_api_project_changed(j->ps->app, j->id, "files"); /* publishes, queues a push */
    }
    job_free(j, rc == 0); /* a failed save: the base stays as it was, the next scan reads again */
}

static void job_work(uv_work_t *w)
{
    job_t *j = w->data;
    if (j->pull) {
        j->changes = ad_llm_sync_scan(j->project, j->path, j->since, j->base);
    } else {
        j->rc = ad_llm_sync_push(j->project, j->path, j->since, j->base, &j->written);
    }
}

static void job_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    ad_app_t *app = j->ps->app;
    if (j->ps->closed || status != 0) {
        job_free(j, false);
        return;
    }
    if (!j->pull) {
        if (j->rc != 0) {
            ad_log(AD_LOG_WARN, "projects", "sync: cannot write the folder project=%s path=%s",
                   j->id, j->path);
        }
        job_free(j, true);
        return;
    }
    json_t *args = json_pack("{s:s, s:O, s:I}", "id", j->id, "changes", j->changes, "now",
                             (json_int_t)ad_wall_ms());
    if (json_array_size(j->changes) == 0) {
        json_decref(args);
        ad_store_project_synced(app->store, j->id, j->started - SYNC_SLOP_MS, noop_done, NULL);
        job_free(j, true);
        return;
    }
    ad_store_write(app->store, ad_store_op_project_files, args, pulled, j);
}

static void loaded(int rc, json_t *p, void *ud)
{
    job_t *j = ud;
    if (j->ps->closed || rc != 0) {
        json_decref(p);
        job_free(j, false);
        return;
    }
    j->project = p;
    j->work.data = j;
    j->started = ad_wall_ms();
    if (uv_queue_work(j->ps->app->loop, &j->work, job_work, job_done) != 0) {
        job_free(j, false);
    }
}

/* Starts the first queued step whose project is still synced, if no job
 * is under way. */
static void run_next(psync_t *ps)
{
    while (!ps->busy && !ps->closed && ps->queued > 0) {
        step_t q = ps->queue[0];
        memmove(ps->queue, ps->queue + 1, --ps->queued * sizeof(ps->queue[0]));
        json_t *rows = NULL;
        if (ad_store_project_sync_list(ps->app->store, q.id, &rows) != 0 ||
            json_array_size(rows) != 1) {
            json_decref(rows);
            continue; /* no longer synced */
        }
        json_t *row = json_array_get(rows, 0);
        job_t *j = ad_xcalloc(1, sizeof(*j));
        j->ps = ps;
        j->pull = q.pull;
        snprintf(j->id, sizeof(j->id), "%s", q.id);
        snprintf(j->path, sizeof(j->path), "%s", ad_api_jstr(row, "path"));
        j->since = json_integer_value(json_object_get(row, "syncedAt"));
        json_t *base = json_object_get(ps->base, q.id);
        j->base = base != NULL ? json_deep_copy(base) : json_object();
        json_decref(rows);
        ps->busy = true;
        ps->inflight++;
        ad_store_project_load(ps->app->store, j->id, loaded, j);
    }
}

void ad_api_project_sync_push(ad_app_t *app, const char *id)
{
    psync_t *ps = app->api != NULL ? app->api->psync : NULL;
    if (ps != NULL) {
        enqueue(ps, id, false);
    }
}

static void on_tick(uv_timer_t *t)
{
    psync_t *ps = t->data;
    json_t *rows = NULL;
    if (ps->busy || ps->queued > 0 ||
        ad_store_project_sync_list(ps->app->store, NULL, &rows) != 0) {
        return; /* the last round (or a push) is still under way */
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        enqueue(ps, ad_api_jstr(row, "id"), true);
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
        psync_t *ps = x->app->api->psync;
        if (ps != NULL) { /* set or cleared: what was agreed with the old folder does not hold */
            json_object_del(ps->base, ad_api_jstr(result, "id"));
        }
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
    ps->base = json_object();
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
        json_decref(ps->base);
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
