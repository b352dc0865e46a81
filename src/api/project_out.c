/* SPDX-License-Identifier: MIT */
/*
 * A project taken out of agentd (split from projects.c by route group):
 *   POST /api/projects/:id/export {path}: its files written into a new
 *        folder on the daemon's machine (admin; on the pool);
 *   GET  /api/projects/:id/archive: its files as a tar archive (built on
 *        the pool);
 *   POST /api/projects/:id/commit {worktreeId, message?}: its files written
 *        into a worktree and committed (admin; src/git).
 * Their bodies and answers are in docs/workbench.md; the files are
 * written or packed by src/llm/export.c.
 */
#include "api/workbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The project of :id, visible to the caller (new reference), or NULL after
 * answering 404. */
static json_t *project_row(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_project_get, "project");
}

/* ---- export as a folder (on the pool) -------------------------------------------------- */

typedef struct {
    uv_work_t work;
    ad_app_t *app;
    ad_req_t *req;
    json_t *project; /* whole, from the pool read */
    char dir[4096];
    int rc;
    char why[256];
} export_t;

static void export_work(uv_work_t *w)
{
    export_t *x = w->data;
    x->rc = ad_llm_project_export(x->project, x->dir, x->why, sizeof(x->why));
}

static void export_done(uv_work_t *w, int status)
{
    export_t *x = w->data;
    if (status != 0 || x->rc == AD_EIO || x->rc == AD_ENOMEM) {
        ad_res_error(x->req, 500, "INTERNAL", NULL, "export failed: %s", x->why);
    } else if (x->rc != 0) {
        ad_res_error(x->req, 409, "CONFLICT", json_pack("{s:s}", "path", x->dir), "%s", x->why);
    } else {
        ad_res_json(x->req, 200,
                    json_pack("{s:s, s:I}", "path", x->dir, "files",
                              (json_int_t)json_array_size(json_object_get(x->project, "files"))));
    }
    json_decref(x->project);
    free(x);
}

static void export_loaded(int rc, json_t *p, void *ud)
{
    export_t *x = ud;
    if (rc != 0) {
        ad_api_fail(x->req, rc, "project", NULL);
        free(x);
        return;
    }
    x->project = p;
    x->work.data = x;
    if (uv_queue_work(x->app->loop, &x->work, export_work, export_done) != 0) {
        ad_res_error(x->req, 500, "INTERNAL", NULL, "cannot queue the export");
        json_decref(p);
        free(x);
    }
}

static void export_project(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL;
    const char *dir = NULL;
    if (p != NULL && (body = ad_req_json(r)) != NULL &&
        ad_api_str(r, body, "path", true, 4000, &dir) == 0) {
        if (!ad_llm_export_path_ok(dir)) {
            ad_api_invalid(r, "path", "must be an absolute path to a new folder");
        } else {
            export_t *x = ad_xcalloc(1, sizeof(*x));
            x->app = app;
            x->req = r;
            snprintf(x->dir, sizeof(x->dir), "%s", dir);
            ad_store_project_load(app->store, ad_api_jstr(p, "id"), export_loaded, x);
        }
    }
    json_decref(body);
    json_decref(p);
}

/* ---- downloaded as a tar archive (built on the pool) ------------------------------------- */

#define ARCHIVE_MAX ((size_t)256 * 1024 * 1024)

typedef struct {
    uv_work_t work;
    ad_app_t *app;
    ad_req_t *req;
    json_t *project;
    ad_buf_t tar;
    char folder[64];
    int rc;
} archive_t;

static void archive_work(uv_work_t *w)
{
    archive_t *x = w->data;
    x->rc = ad_llm_project_tar(x->project, x->folder, &x->tar);
}

static void archive_done(uv_work_t *w, int status)
{
    archive_t *x = w->data;
    if (status != 0 || x->rc != 0) {
        ad_res_error(x->req, x->rc == AD_ETOOBIG ? 413 : 500,
                     x->rc == AD_ETOOBIG ? "TOO_LARGE" : "INTERNAL", NULL,
                     "cannot make the archive: %s", ad_strerror(x->rc));
    } else {
        char cd[128];
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s.tar\"", x->folder);
        ad_res_header(x->req, "Content-Disposition", cd);
        ad_res_send(x->req, 200, "application/x-tar", x->tar.data, x->tar.len);
    }
    ad_buf_cleanup(&x->tar);
    json_decref(x->project);
    free(x);
}

static void archive_loaded(int rc, json_t *p, void *ud)
{
    archive_t *x = ud;
    if (rc != 0) {
        ad_api_fail(x->req, rc, "project", NULL);
        free(x);
        return;
    }
    x->project = p;
    ad_llm_tar_folder_name(ad_api_jstr(p, "name"), x->folder, sizeof(x->folder));
    ad_buf_init(&x->tar, ARCHIVE_MAX);
    x->work.data = x;
    if (uv_queue_work(x->app->loop, &x->work, archive_work, archive_done) != 0) {
        x->rc = AD_EINTERNAL;
        archive_done(&x->work, 0);
    }
}

/* GET /api/projects/:id/archive: the files (and the conversation) as a
 * tar download, for a browser that cannot be handed a server folder. */
static void archive_project(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r);
    if (p != NULL) {
        archive_t *x = ad_xcalloc(1, sizeof(*x));
        x->app = app;
        x->req = r;
        ad_store_project_load(app->store, ad_api_jstr(p, "id"), archive_loaded, x);
        json_decref(p);
    }
}

/* ---- written into a worktree as a commit ------------------------------------------------ */

#define COMMIT_MESSAGE_MAX 4000

static void pcommit_done(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_gctx_still_open(c)) {
        return;
    }
    if (res->rc != 0) {
        ad_api_git_reply_error(c->req, res, false);
    } else {
        json_t *row = json_deep_copy(c->wt);
        json_object_set(row, "git", res->data);
        ad_api_publish_wt(c->app, "worktree_updated", "commit", row);
        json_decref(row);
        json_t *out = json_deep_copy(res->data);
        json_object_set_new(out, "projectId", json_string(c->id));
        json_object_set(out, "worktreeId", json_object_get(c->wt, "id"));
        ad_res_json(c->req, 201, out);
    }
    ad_api_gctx_free(c);
}

static void pcommit_loaded(int rc, json_t *p, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0) {
        ad_api_fail(c->req, rc, "project", c->id);
        ad_api_gctx_free(c);
        return;
    }
    json_t *files = json_object_get(p, "files");
    char msg[COMMIT_MESSAGE_MAX + 300];
    const char *m = ad_api_jstr(c->body, "message");
    if (m == NULL) {
        snprintf(msg, sizeof(msg), "Add project %s", ad_api_jstr(p, "name"));
        m = msg;
    }
    if (json_array_size(files) == 0) {
        ad_res_error(c->req, 409, "CONFLICT", json_pack("{s:s}", "reason", "no_files"),
                     "the project has no files");
        ad_api_gctx_free(c);
    } else {
        ad_git_args_t a = {.path = ad_api_jstr(c->wt, "path"),
                           .file = ad_api_jstr(c->body, "path"),
                           .files = files,
                           .message = m};
        ad_api_git_queue(c, AD_GIT_OP_COMMIT_FILES, &a, pcommit_done);
    }
    json_decref(p);
}

/* POST /api/projects/:id/commit {worktreeId, path?, message?}: the
 * project's files written under path in the worktree and committed. Admin:
 * the files land where agents and people run things (a .claude/settings.json
 * with hooks, a Makefile), which is as good as starting a program. */
static void commit_project(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL, *wt = NULL;
    const char *wt_id = NULL, *dir = NULL, *msg = NULL;
    if (p == NULL || (body = ad_req_json(r)) == NULL ||
        ad_api_str(r, body, "worktreeId", true, AD_ID_MAX - 1, &wt_id) != 0 ||
        ad_api_str(r, body, "path", false, 512, &dir) != 0 ||
        ad_api_str(r, body, "message", false, COMMIT_MESSAGE_MAX, &msg) != 0) {
        goto out;
    }
    if (dir != NULL && dir[0] != '\0' && !ad_llm_path_ok(dir, strlen(dir))) {
        ad_api_invalid(r, "path", "must be a relative folder without . or .. segments");
        goto out;
    }
    if (msg != NULL && msg[0] == '\0') {
        ad_api_invalid(r, "message", "must not be empty");
        goto out;
    }
    if (ad_store_git_worktree_get(app->store, wt_id, &wt) != 0 ||
        strcmp(ad_api_jstr(wt, "orgId"), ad_api_jstr(p, "orgId")) != 0) {
        /* another org's worktree is as good as none */
        ad_api_invalid(r, "worktreeId", "is not a worktree of the project's organisation");
        goto out;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, r);
    c->wt = wt;
    c->body = body;
    wt = body = NULL;
    snprintf(c->id, sizeof(c->id), "%s", ad_api_jstr(p, "id"));
    ad_store_project_load(app->store, c->id, pcommit_loaded, c);
out:
    json_decref(wt);
    json_decref(body);
    json_decref(p);
}

void ad_api_project_out_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/projects/:id/export", AD_ACCESS_ADMIN,
                    export_project, app);
    ad_server_route(app->server, "POST", "/api/projects/:id/commit", AD_ACCESS_ADMIN,
                    commit_project, app);
    ad_server_route(app->server, "GET", "/api/projects/:id/archive", AD_ACCESS_READ,
                    archive_project, app);
}
