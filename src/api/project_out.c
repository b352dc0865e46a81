/* SPDX-License-Identifier: MIT */
/*
 * A project taken out of agentd (split from projects.c by route group):
 *   POST /api/projects/:id/export {path}: its files written into a new
 *        folder on the daemon's machine (admin; on the pool);
 *   GET  /api/projects/:id/archive: its files as a tar archive (built on
 *        the pool);
 *   POST /api/projects/:id/commit {worktreeId, message?}: its files written
 *        into a worktree and committed (admin; src/wtree, src/git).
 * Their bodies and answers are in docs/workbench.md; the files are
 * written or packed by src/llm/export.c.
 */
#include "api/workbench.h"
#include "psync/psync.h"
#include "tables/gitrows.h"
#include "tables/llm.h"

#include <stdio.h>
#include <string.h>

/* The project of :id, visible to the caller (new reference), or NULL after
 * answering 404. */
static json_t *project_row(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_project_get, "project");
}

/* ---- export as a folder (src/psync, on the pool) ---------------------------------------- */

static void exported(const ad_psync_out_t *o, void *ud)
{
    ad_req_t *r = ud;
    if (!o->loaded) {
        ad_api_fail(r, o->rc, "project", NULL);
    } else if (o->rc == AD_EIO || o->rc == AD_ENOMEM || o->rc == AD_EINTERNAL) {
        ad_res_error(r, 500, "INTERNAL", NULL, "export failed: %s", o->why);
    } else if (o->rc != 0) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s}", "path", o->dir), "%s", o->why);
    } else {
        ad_res_json(r, 200, json_pack("{s:s, s:I}", "path", o->dir, "files", (json_int_t)o->files));
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
            ad_psync_export(app->loop, app->store, ad_api_jstr(p, "id"), dir, exported, r);
        }
    }
    json_decref(body);
    json_decref(p);
}

/* ---- downloaded as a tar archive (src/psync, on the pool) -------------------------------- */

static void archived(const ad_psync_out_t *o, void *ud)
{
    ad_req_t *r = ud;
    if (!o->loaded) {
        ad_api_fail(r, o->rc, "project", NULL);
    } else if (o->rc != 0) {
        ad_res_error(r, o->rc == AD_ETOOBIG ? 413 : 500,
                     o->rc == AD_ETOOBIG ? "TOO_LARGE" : "INTERNAL", NULL,
                     "cannot make the archive: %s", ad_strerror(o->rc));
    } else {
        char cd[128];
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s.tar\"", o->folder);
        ad_res_header(r, "Content-Disposition", cd);
        ad_res_send(r, 200, "application/x-tar", o->tar.data, o->tar.len);
    }
}

/* GET /api/projects/:id/archive: the files (and the conversation) as a
 * tar download, for a browser that cannot be handed a server folder. */
static void archive_project(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r);
    if (p != NULL) {
        ad_psync_archive(app->loop, app->store, ad_api_jstr(p, "id"), archived, r);
        json_decref(p);
    }
}

/* ---- written into a worktree as a commit ------------------------------------------------ */

/* POST /api/projects/:id/commit {worktreeId, path?, message?}: the
 * project's files written under path in the worktree and committed. Admin:
 * the files land where agents and people run things (a .claude/settings.json
 * with hooks, a Makefile), which is as good as starting a program. */
static void commit_project(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL, *wt = NULL;
    const char *wt_id = NULL;
    ad_field_err_t e;
    if (p == NULL || (body = ad_req_json(r)) == NULL) {
        goto out;
    }
    if (ad_project_commit_check(body, &wt_id, &e) != 0) {
        ad_api_invalid_err(r, &e);
        goto out;
    }
    if (ad_store_git_worktree_get(app->store, wt_id, &wt) != 0 ||
        strcmp(ad_api_jstr(wt, "orgId"), ad_api_jstr(p, "orgId")) != 0) {
        /* another org's worktree is as good as none */
        ad_api_invalid(r, "worktreeId", "is not a worktree of the project's organisation");
        goto out;
    }
    ad_wtree_commit_project(app->wtree, wt, ad_api_jstr(p, "id"), body, ad_api_wtree_201, r);
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
