/* SPDX-License-Identifier: MIT */
/*
 * The project-folder sync engine (psync.h): one queue of pushes and pulls,
 * one job at a time on the pool, the bases agreed with each folder, the
 * timer that reads the folders; and the check of a folder a project may be
 * synced with. The routes are src/api/project_sync.c's; the file work is
 * src/llm/sync.c's.
 */
#include "psync/psync.h"
#include "llm/llm.h"
#include "tables/llm.h"

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
    uv_loop_t *loop;
    ad_store_t *st;
    ad_bus_t *bus; /* project_update goes out on it */
    json_t *base;  /* {project id: its sync base, see ad_llm_sync_push} */
    step_t queue[SYNC_QUEUE_MAX];
    size_t queued;
    bool busy;         /* a job is under way */
    unsigned inflight; /* the timer and the job: ps is freed when both are done */
    bool closed;       /* ad_psync_close ran: a job only frees itself */
};

typedef struct {
    uv_work_t work;
    ad_psync_t *ps;
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

static void run_next(ad_psync_t *ps);

/* Queues a push or a pull of project id (once: a queued one does for both). */
static void enqueue(ad_psync_t *ps, const char *id, bool pull)
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
    ad_psync_t *ps = j->ps;
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
        ad_store_project_synced(j->ps->st, j->id, j->started - SYNC_SLOP_MS, noop_done, NULL);
        json_t *p = NULL;
        if (ad_store_project_get(j->ps->st, j->id, &p) == 0) {
            ad_psync_changed(j->ps, p, "files"); /* publishes, queues a push */
        }
        json_decref(p);
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

/* Whether project id is still synced with path: a sync stopped (or moved)
 * while a job read the folder takes nothing from it. Checked on the loop
 * before the job's save is queued, so a stop answered before a file was
 * written in the folder always wins over that file. */
static bool still_synced(ad_store_t *st, const char *id, const char *path)
{
    json_t *rows = NULL;
    const char *at = NULL;
    bool ok = ad_store_project_sync_list(st, id, &rows) == 0 && json_array_size(rows) == 1 &&
              (at = json_string_value(json_object_get(json_array_get(rows, 0), "path"))) != NULL &&
              strcmp(at, path) == 0;
    json_decref(rows);
    return ok;
}

static void job_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    ad_store_t *st = j->ps->st;
    if (j->ps->closed || status != 0 || (j->pull && !still_synced(st, j->id, j->path))) {
        job_free(j, false);
        return;
    }
    if (!j->pull) {
        if (j->rc != 0) {
            ad_log(AD_LOG_WARN, "psync", "sync: cannot write the folder project=%s path=%s", j->id,
                   j->path);
        }
        job_free(j, true);
        return;
    }
    json_t *args = json_pack("{s:s, s:O, s:I}", "id", j->id, "changes", j->changes, "now",
                             (json_int_t)ad_wall_ms());
    if (json_array_size(j->changes) == 0) {
        json_decref(args);
        ad_store_project_synced(st, j->id, j->started - SYNC_SLOP_MS, noop_done, NULL);
        job_free(j, true);
        return;
    }
    ad_store_write(st, ad_store_op_project_files, args, pulled, j);
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
    if (uv_queue_work(j->ps->loop, &j->work, job_work, job_done) != 0) {
        job_free(j, false);
    }
}

/* Starts the first queued step whose project is still synced, if no job
 * is under way. */
static void run_next(ad_psync_t *ps)
{
    while (!ps->busy && !ps->closed && ps->queued > 0) {
        step_t q = ps->queue[0];
        memmove(ps->queue, ps->queue + 1, --ps->queued * sizeof(ps->queue[0]));
        json_t *rows = NULL;
        if (ad_store_project_sync_list(ps->st, q.id, &rows) != 0 || json_array_size(rows) != 1) {
            json_decref(rows);
            continue; /* no longer synced */
        }
        json_t *row = json_array_get(rows, 0);
        job_t *j = ad_xcalloc(1, sizeof(*j));
        j->ps = ps;
        j->pull = q.pull;
        snprintf(j->id, sizeof(j->id), "%s", q.id);
        snprintf(j->path, sizeof(j->path), "%s", json_string_value(json_object_get(row, "path")));
        j->since = json_integer_value(json_object_get(row, "syncedAt"));
        json_t *base = json_object_get(ps->base, q.id);
        j->base = base != NULL ? json_deep_copy(base) : json_object();
        json_decref(rows);
        ps->busy = true;
        ps->inflight++;
        ad_store_project_load(ps->st, j->id, loaded, j);
    }
}

void ad_psync_push(ad_psync_t *ps, const char *id)
{
    if (ps != NULL && !ps->closed) {
        enqueue(ps, id, false);
    }
}

void ad_psync_forget(ad_psync_t *ps, const char *id)
{
    if (ps != NULL && !ps->closed) {
        json_object_del(ps->base, id);
    }
}

static void on_tick(uv_timer_t *t)
{
    ad_psync_t *ps = t->data;
    json_t *rows = NULL;
    if (ps->busy || ps->queued > 0 || ad_store_project_sync_list(ps->st, NULL, &rows) != 0) {
        return; /* the last round (or a push) is still under way */
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        enqueue(ps, json_string_value(json_object_get(row, "id")), true);
    }
    json_decref(rows);
}

void ad_psync_changed(ad_psync_t *ps, const json_t *project, const char *change)
{
    if (ps == NULL) {
        return;
    }
    const char *id = json_string_value(json_object_get(project, "id"));
    json_t *ev = json_pack("{s:s, s:s}", "id", id, "change", change);
    json_object_set(ev, "project", (json_t *)project);
    ad_bus_publish_to(ps->bus, "project_update", ev, "project", id, "org",
                      json_string_value(json_object_get(project, "orgId")), NULL);
    json_decref(ev);
    ad_psync_push(ps, id);
}

ad_psync_t *ad_psync_new(uv_loop_t *loop, ad_store_t *st, ad_bus_t *bus, uint64_t every_ms)
{
    AD_ASSERT_LOOP();
    ad_psync_t *ps = ad_xcalloc(1, sizeof(*ps));
    ps->loop = loop;
    ps->st = st;
    ps->bus = bus;
    ps->base = json_object();
    uv_timer_init(loop, &ps->timer);
    ps->timer.data = ps;
    ps->inflight = 1; /* the timer's, until it is closed */
    if (every_ms > 0) {
        uv_timer_start(&ps->timer, on_tick, every_ms, every_ms);
    }
    uv_unref((uv_handle_t *)&ps->timer);
    return ps;
}

static void timer_closed(uv_handle_t *h)
{
    ad_psync_t *ps = h->data;
    if (--ps->inflight == 0) {
        json_decref(ps->base);
        free(ps);
    }
}

void ad_psync_close(ad_psync_t *ps)
{
    if (ps == NULL) {
        return;
    }
    ps->closed = true;
    uv_close((uv_handle_t *)&ps->timer, timer_closed);
}

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

int ad_psync_path_check(const char *roots, const char *path, char *why, size_t whysz)
{
    char real[PATH_MAX];
    struct stat st;
    if (roots == NULL || roots[0] == '\0') {
        snprintf(why, whysz, "no folder may be synced: the daemon has no --project-sync-roots");
        return AD_EPERM;
    }
    if (!ad_llm_export_path_ok(path) || realpath(path, real) == NULL || strcmp(real, path) != 0 ||
        stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, whysz, "must be an existing folder, absolute, with no link in it");
        return AD_EINVAL;
    }
    if (!under_root(roots, path)) {
        snprintf(why, whysz, "is not under one of --project-sync-roots");
        return AD_EINVAL;
    }
    return 0;
}

int ad_psync_view(ad_store_t *st, const char *id, json_t **out)
{
    json_t *rows = NULL;
    int rc = ad_store_project_sync_list(st, id, &rows);
    if (rc != 0) {
        return rc;
    }
    json_t *row = json_array_get(rows, 0);
    json_t *at = json_object_get(row, "syncedAt");
    char ts[AD_TIME_MAX] = "";
    if (json_integer_value(at) > 0) {
        ad_time_format(json_integer_value(at), ts);
    }
    *out = json_pack("{s:s, s:s?, s:s?}", "id", id, "path",
                     json_string_value(json_object_get(row, "path")), "syncedAt",
                     ts[0] != '\0' ? ts : NULL);
    json_decref(rows);
    return 0;
}
