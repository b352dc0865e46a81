/* SPDX-License-Identifier: MIT */
/*
 * A project taken out of agentd: read whole from the store, then its files
 * written into a new folder or packed as a tar archive on the thread pool
 * (the file work is src/llm/export.c's), the result handed to the caller
 * on the loop; and a project's sync folder set or cleared. The REST routes
 * (src/api/project_out.c, project_sync.c) check who may ask and answer.
 */
#include "psync/psync.h"
#include "llm/llm.h"
#include "tables/llm.h"

#include <stdio.h>
#include <stdlib.h>

#define ARCHIVE_MAX ((size_t)256 * 1024 * 1024)

typedef struct {
    uv_work_t work;
    uv_loop_t *loop;
    bool tar; /* packed as a tar (else written into out.dir) */
    json_t *project;
    ad_psync_out_t out;
    ad_psync_out_cb cb;
    void *ud;
} job_t;

static void job_end(job_t *j)
{
    j->cb(&j->out, j->ud);
    ad_buf_cleanup(&j->out.tar);
    json_decref(j->project);
    free(j);
}

static void job_work(uv_work_t *w)
{
    job_t *j = w->data;
    if (j->tar) {
        j->out.rc = ad_llm_project_tar(j->project, j->out.folder, &j->out.tar);
    } else {
        j->out.rc = ad_llm_project_export(j->project, j->out.dir, j->out.why, sizeof(j->out.why));
        j->out.files = (int64_t)json_array_size(json_object_get(j->project, "files"));
    }
}

static void job_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    if (status != 0 && j->out.rc == 0) {
        j->out.rc = AD_EINTERNAL;
    }
    job_end(j);
}

static void job_loaded(int rc, json_t *p, void *ud)
{
    job_t *j = ud;
    if (rc != 0) {
        json_decref(p); /* ours either way */
        j->out.rc = rc;
        job_end(j);
        return;
    }
    j->project = p;
    j->out.loaded = true;
    if (j->tar) {
        ad_llm_tar_folder_name(json_string_value(json_object_get(p, "name")), j->out.folder,
                               sizeof(j->out.folder));
        ad_buf_init(&j->out.tar, ARCHIVE_MAX);
    }
    j->work.data = j;
    if (uv_queue_work(j->loop, &j->work, job_work, job_done) != 0) {
        j->out.rc = AD_EINTERNAL;
        snprintf(j->out.why, sizeof(j->out.why), "cannot queue the export");
        job_end(j);
    }
}

static void job_start(uv_loop_t *loop, ad_store_t *st, const char *id, bool tar, const char *dir,
                      ad_psync_out_cb cb, void *ud)
{
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->loop = loop;
    j->tar = tar;
    j->cb = cb;
    j->ud = ud;
    snprintf(j->out.dir, sizeof(j->out.dir), "%s", dir != NULL ? dir : "");
    ad_store_project_load(st, id, job_loaded, j);
}

void ad_psync_export(uv_loop_t *loop, ad_store_t *st, const char *id, const char *dir,
                     ad_psync_out_cb cb, void *ud)
{
    job_start(loop, st, id, false, dir, cb, ud);
}

void ad_psync_archive(uv_loop_t *loop, ad_store_t *st, const char *id, ad_psync_out_cb cb, void *ud)
{
    job_start(loop, st, id, true, NULL, cb, ud);
}

/* ---- a sync folder set or cleared --------------------------------------------------------- */

typedef struct {
    ad_psync_t *ps;
    ad_psync_set_cb cb;
    void *ud;
} set_t;

static void sync_set(int rc, json_t *result, void *ud)
{
    set_t *x = ud;
    if (rc != 0) {
        x->cb(rc, NULL, x->ud);
    } else {
        const char *id = json_string_value(json_object_get(result, "id"));
        /* set or cleared: what was agreed with the old folder does not hold */
        ad_psync_forget(x->ps, id);
        ad_psync_push(x->ps, id); /* the folder gets it all */
        /* as a read gives it: {id, path, syncedAt} (not read yet) */
        x->cb(0,
              json_pack("{s:s, s:s?, s:n}", "id", id, "path",
                        json_string_value(json_object_get(result, "syncPath")), "syncedAt"),
              x->ud);
    }
    json_decref(result);
    free(x);
}

void ad_psync_set(ad_psync_t *ps, ad_store_t *st, const char *id, const char *path,
                  ad_psync_set_cb cb, void *ud)
{
    set_t *x = ad_xcalloc(1, sizeof(*x));
    *x = (set_t){.ps = ps, .cb = cb, .ud = ud};
    ad_store_project_sync_set(st, id, path, sync_set, x);
}
