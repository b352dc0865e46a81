/* SPDX-License-Identifier: MIT */
/*
 * api: the REST side of git workspaces and worktrees. Each handler reads
 * the rows it needs (bounded reads on the loop), runs the git work on the
 * thread pool through ad_git_queue(), writes the outcome through the store's
 * writer, publishes worktree events and answers. No git and no SQL here.
 *
 * Events (the names the rest of the REST layer uses), on topics
 * worktree:<wt> and workspace:<ws>: worktree_created {worktree row},
 * worktree_updated {worktree row, with "change": branch, vanished, restored
 * or setup}, worktree_deleted {id, workspaceId, agentIds},
 * workspace_created {workspace, worktree (main), worktrees},
 * workspace_updated {workspace row, changes? (refresh)}, and agent_update
 * {id, worktreeVanished} on agent:<id> for agents whose worktree vanished
 * outside agentd or came back.
 */
#include "agent/runner.h"
#include "api/api_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git/git.h"

#define SETUP_FILES_MAX 64
#define SETUP_COMMAND_MAX 4096
#define SETUP_TIMEOUT_MS 600000

typedef struct {
    ad_app_t *app;
    ad_req_t *req; /* NULL once answered */
    json_t *body;  /* the request's JSON (owned) */
    json_t *ws;    /* workspace row (owned) */
    json_t *wt;    /* worktree row (owned) */
    json_t *git;   /* a git result kept between steps (owned) */
    json_t *setup; /* the workspace's setup {setupFiles, setupCommand} (owned) */
    char id[AD_ID_MAX];
    bool force;      /* DELETE ?force=true */
    size_t stopping; /* agents whose stop has not completed yet */
    int stop_rc;     /* the first failed stop, or 0 */
} gctx_t;

static gctx_t *ctx_new(ad_app_t *app, ad_req_t *req)
{
    gctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->app = app;
    c->req = req;
    return c;
}

static void ctx_free(gctx_t *c)
{
    json_decref(c->body);
    json_decref(c->ws);
    json_decref(c->wt);
    json_decref(c->git);
    json_decref(c->setup);
    free(c);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- answers and events ------------------------------------------------------ */

/* Answers a git failure. ws_create: every "this is no work tree" reason is a
 * validation error (422) of the request. */
static void reply_git_error(ad_req_t *req, const ad_git_result_t *res, bool ws_create)
{
    const char *reason = res->err.reason;
    int status;
    const char *code;
    switch (res->rc) {
    case AD_EINVAL:
        status = 422, code = "VALIDATION_ERROR";
        break;
    case AD_ENOENT:
        if (ws_create) {
            status = 422, code = "VALIDATION_ERROR";
        } else if (strcmp(reason, "not_found") == 0) {
            status = 409, code = "WORKTREE_MISSING"; /* folder gone: refresh */
        } else {
            status = 404, code = "NOT_FOUND";
        }
        break;
    case AD_ESTATE:
        if (ws_create) {
            status = 422, code = "VALIDATION_ERROR";
            break;
        }
        /* fall through */
    case AD_EEXIST:
    case AD_EPERM:
        status = 409, code = "CONFLICT";
        break;
    case AD_EBUSY:
    case AD_EAGAIN:
        status = 503, code = "UNAVAILABLE";
        break;
    default:
        status = 500, code = "INTERNAL";
        break;
    }
    json_t *details = res->err.details ? json_deep_copy(res->err.details) : json_object();
    if (ws_create) {
        json_object_set_new(details, "field", json_string("path"));
    }
    if (reason[0] != '\0') {
        json_object_set_new(details, "reason", json_string(reason));
    }
    ad_res_error(req, status, code, details, "%s", res->err.msg);
}

/* worktree_created/updated: the row, plus the kind of change. */
static void publish_wt(ad_app_t *app, const char *type, const char *change, json_t *wt)
{
    json_t *p = json_deep_copy(wt);
    if (change != NULL) {
        json_object_set_new(p, "change", json_string(change));
    }
    api_publish(app, type, p, "worktree", jstr(wt, "id"), "workspace", jstr(wt, "workspaceId"),
                NULL);
    json_decref(p);
}

static void publish_wt_deleted(ad_app_t *app, const char *id, const char *ws_id, json_t *agents)
{
    json_t *p = json_pack("{s:s, s:s, s:O}", "id", id, "workspaceId", ws_id, "agentIds",
                          agents != NULL ? agents : json_array());
    api_publish(app, "worktree_deleted", p, "worktree", id, "workspace", ws_id, NULL);
    json_decref(p);
}

static void publish_agent_flag(ad_app_t *app, const char *agent_id, const char *ws_id,
                               bool vanished)
{
    json_t *p = json_pack("{s:s, s:b}", "id", agent_id, "worktreeVanished", vanished);
    api_publish(app, "agent_update", p, "agent", agent_id, "workspace", ws_id, NULL);
    json_decref(p);
}

static bool need_store(ad_app_t *app, ad_req_t *req)
{
    if (app->store == NULL) {
        ad_res_error(req, 503, "UNAVAILABLE", NULL, "the store is not open");
        return false;
    }
    return true;
}

/* After a pool job: false (and the answer given, the context freed) when
 * the daemon closed the store meanwhile. */
static bool still_open(gctx_t *c)
{
    if (c->app->store != NULL) {
        return true;
    }
    if (c->req != NULL) {
        ad_res_error(c->req, 503, "UNAVAILABLE", NULL, "agentd is shutting down");
    }
    ctx_free(c);
    return false;
}

/* The start of a git completion whose next step writes: false when the
 * request is finished here (agentd is closing, or git failed: answered and
 * the context freed). */
static bool git_step_ok(gctx_t *c, const ad_git_result_t *res, bool ws_create)
{
    if (!still_open(c)) {
        return false;
    }
    if (res->rc != 0) {
        reply_git_error(c->req, res, ws_create);
        ctx_free(c);
        return false;
    }
    return true;
}

static int queue(gctx_t *c, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb cb)
{
    int rc = ad_git_queue(c->app->loop, op, a, cb, c);
    if (rc != 0) {
        ad_res_error(c->req, 500, "INTERNAL", NULL, "cannot queue git work: %s", ad_strerror(rc));
        ctx_free(c);
    }
    return rc;
}

/* Reads the worktree row of :id, answering 404 itself when there is none. */
static json_t *load_worktree(ad_app_t *app, ad_req_t *req)
{
    const char *id = ad_req_param(req, "id");
    json_t *wt = NULL;
    int rc = ad_store_git_worktree_get(app->store, id, &wt);
    if (rc == AD_ENOENT) {
        ad_res_error(req, 404, "NOT_FOUND", NULL, "no worktree %s", id);
        return NULL;
    }
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "cannot read worktree %s", id);
        return NULL;
    }
    return wt;
}

/* ---- setup validation ---------------------------------------------------------- */

static bool rel_path_ok(const char *p)
{
    if (p == NULL || p[0] == '\0' || p[0] == '/' || strlen(p) > 1024) {
        return false;
    }
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
            return false;
        }
        if (slash == NULL) {
            return true;
        }
        s = slash + 1;
    }
}

/* Checks setupFiles / setupCommand in body; answers 422 itself. */
static bool setup_valid(ad_req_t *req, json_t *body)
{
    json_t *files = json_object_get(body, "setupFiles");
    json_t *cmd = json_object_get(body, "setupCommand");
    if (files != NULL) {
        if (!json_is_array(files) || json_array_size(files) > SETUP_FILES_MAX) {
            ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "setupFiles"),
                         "setupFiles must be a list of at most %d relative paths", SETUP_FILES_MAX);
            return false;
        }
        size_t i;
        json_t *v;
        json_array_foreach(files, i, v)
        {
            if (!json_is_string(v) || !rel_path_ok(json_string_value(v))) {
                ad_res_error(req, 422, "VALIDATION_ERROR",
                             json_pack("{s:s, s:I}", "field", "setupFiles", "index", (json_int_t)i),
                             "setupFiles[%zu] must be a relative path inside the repository "
                             "(no '..')",
                             i);
                return false;
            }
        }
    }
    if (cmd != NULL && (!json_is_string(cmd) || json_string_length(cmd) > SETUP_COMMAND_MAX)) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "setupCommand"),
                     "setupCommand must be a string of at most %d bytes", SETUP_COMMAND_MAX);
        return false;
    }
    return true;
}

/* ---- POST /api/workspaces ----------------------------------------------------------- */

static void ws_created(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    if (rc == AD_EEXIST) {
        ad_res_error(c->req, 409, "CONFLICT",
                     json_pack("{s:s, s:s?}", "field", "path", "path", jstr(c->git, "path")),
                     "a workspace for %s already exists", jstr(c->git, "path"));
    } else if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot save the workspace");
    } else {
        json_t *ws = json_incref(json_object_get(result, "workspace"));
        json_t *wts = json_object_get(result, "worktrees");
        json_t *p = json_pack("{s:O, s:O, s:O}", "workspace", ws, "worktree",
                              json_array_get(wts, 0), "worktrees", wts);
        api_publish(c->app, "workspace_created", p, "workspace", jstr(ws, "id"), "system", "",
                    NULL);
        json_decref(p);
        json_object_set(ws, "worktrees", wts);
        ad_res_json(c->req, 201, ws);
    }
    json_decref(result);
    ctx_free(c);
}

static void ws_listed(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (!git_step_ok(c, res, true)) {
        return;
    }
    json_t *list = json_object_get(res->data, "worktrees");
    json_t *main = json_array_get(list, 0);
    char ws_id[AD_ID_MAX], wt_id[AD_ID_MAX];
    ad_id_new("ws", ws_id);
    ad_id_new("wt", wt_id);
    json_t *linked = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_true(json_object_get(v, "isMain")) ||
            json_is_true(json_object_get(v, "missing"))) {
            continue;
        }
        char id[AD_ID_MAX];
        ad_id_new("wt", id);
        json_array_append_new(
            linked, json_pack("{s:s, s:s?, s:s, s:s?}", "id", id, "name", jstr(v, "name"), "branch",
                              jstr(v, "branch") ? jstr(v, "branch") : "", "path", jstr(v, "path")));
    }
    const char *name = jstr(c->body, "name");
    json_t *args =
        json_pack("{s:s, s:s?, s:s?, s:I, s:s, s:s, s:o}", "id", ws_id, "name",
                  name != NULL ? name : jstr(c->git, "name"), "path", jstr(c->git, "path"), "now",
                  (json_int_t)ad_wall_ms(), "worktreeId", wt_id, "branch",
                  jstr(main, "branch") ? jstr(main, "branch") : "", "linked", linked);
    if (args == NULL) { /* a name or path that is not UTF-8 */
        ad_res_error(c->req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "path"),
                     "the repository's paths must be UTF-8");
        ctx_free(c);
        return;
    }
    if (json_object_get(c->body, "setupFiles") != NULL) {
        json_object_set(args, "setupFiles", json_object_get(c->body, "setupFiles"));
    }
    if (jstr(c->body, "setupCommand") != NULL) {
        json_object_set(args, "setupCommand", json_object_get(c->body, "setupCommand"));
    }
    ad_store_write(c->app->store, ad_store_op_workspace_git_create, args, ws_created, c);
}

static void ws_opened(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (res->rc != 0) {
        reply_git_error(c->req, res, true);
        ctx_free(c);
        return;
    }
    c->git = json_incref(res->data);
    ad_git_args_t a = {.repo_path = jstr(c->git, "path")};
    queue(c, AD_GIT_OP_LIST, &a, ws_listed);
}

void api_git_workspace_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *path = jstr(body, "path");
    json_t *name = json_object_get(body, "name");
    if (path == NULL || path[0] == '\0') {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "path"),
                     "path is required: the folder of a git work tree");
        json_decref(body);
        return;
    }
    if (name != NULL && !json_is_null(name) &&
        (!json_is_string(name) || json_string_length(name) == 0 ||
         json_string_length(name) > 200)) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "name"),
                     "name must be a string of 1 to 200 characters");
        json_decref(body);
        return;
    }
    if (!setup_valid(req, body)) {
        json_decref(body);
        return;
    }
    gctx_t *c = ctx_new(app, req);
    c->body = body;
    ad_git_args_t a = {.path = path};
    queue(c, AD_GIT_OP_OPEN, &a, ws_opened);
}

/* ---- POST /api/workspaces/:id/refresh ---------------------------------------------- */

static void ws_synced(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot save the refreshed worktrees");
        json_decref(result);
        ctx_free(c);
        return;
    }
    const char *ws_id = jstr(c->ws, "id");
    json_t *changes = json_object_get(result, "changes");
    json_t *rows = json_object_get(result, "worktrees");
    static const char *kinds[] = {"added", "updated", "vanished", "restored"};
    for (size_t k = 0; k < AD_ARRAY_LEN(kinds); k++) {
        size_t i, j;
        json_t *id, *row;
        json_array_foreach(json_object_get(changes, kinds[k]), i, id)
        {
            json_array_foreach(rows, j, row)
            {
                if (json_equal(json_object_get(row, "id"), id)) {
                    publish_wt(c->app, k == 0 ? "worktree_created" : "worktree_updated",
                               k == 0 ? NULL : (k == 1 ? "branch" : kinds[k]), row);
                }
            }
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(changes, "removed"), i, v)
    {
        publish_wt_deleted(c->app, jstr(v, "id"), ws_id, NULL);
    }
    json_array_foreach(json_object_get(changes, "flaggedAgents"), i, v)
    {
        publish_agent_flag(c->app, json_string_value(v), ws_id, true);
    }
    json_array_foreach(json_object_get(changes, "unflaggedAgents"), i, v)
    {
        publish_agent_flag(c->app, json_string_value(v), ws_id, false);
    }
    json_t *p = json_deep_copy(json_object_get(result, "workspace"));
    json_object_set(p, "changes", changes);
    api_publish(c->app, "workspace_updated", p, "workspace", ws_id, NULL);
    json_decref(p);
    json_t *ws = json_incref(json_object_get(result, "workspace"));
    json_object_set(ws, "worktrees", rows);
    json_object_set(ws, "changes", changes);
    ad_res_json(c->req, 200, ws);
    json_decref(result);
    ctx_free(c);
}

static void ws_relisted(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (!still_open(c)) {
        return;
    }
    if (res->rc != 0) {
        if (res->rc == AD_ENOENT || res->rc == AD_EINVAL || res->rc == AD_ESTATE) {
            json_t *d =
                json_pack("{s:s, s:s?}", "reason", res->err.reason, "path", jstr(c->ws, "path"));
            ad_res_error(c->req, 409, "CONFLICT", d, "the workspace's repository is unusable: %s",
                         res->err.msg);
        } else {
            reply_git_error(c->req, res, false);
        }
        ctx_free(c);
        return;
    }
    json_t *args =
        json_pack("{s:s?, s:I, s:O}", "workspaceId", jstr(c->ws, "id"), "now",
                  (json_int_t)ad_wall_ms(), "worktrees", json_object_get(res->data, "worktrees"));
    ad_store_write(c->app->store, ad_store_op_workspace_git_sync, args, ws_synced, c);
}

void api_git_workspace_refresh(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!need_store(app, req)) {
        return;
    }
    const char *id = ad_req_param(req, "id");
    json_t *ws = NULL;
    int rc = ad_store_workspace_get(app->store, id, &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, rc == AD_ENOENT ? "no workspace %s" : "cannot read %s",
                          id);
        return;
    }
    gctx_t *c = ctx_new(app, req);
    c->ws = ws;
    ad_git_args_t a = {.repo_path = jstr(ws, "path")};
    queue(c, AD_GIT_OP_LIST, &a, ws_relisted);
}

/* ---- GET|PUT /api/workspaces/:id/setup ------------------------------------------- */

static json_t *setup_view(json_t *ws)
{
    json_t *files = json_object_get(ws, "setupFiles");
    return json_pack("{s:O, s:s}", "setupFiles", files ? files : json_array(), "setupCommand",
                     jstr(ws, "setupCommand") ? jstr(ws, "setupCommand") : "");
}

static void ws_setup_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!need_store(app, req)) {
        return;
    }
    json_t *ws = NULL;
    int rc = ad_store_git_workspace_get(app->store, ad_req_param(req, "id"), &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "no workspace %s", ad_req_param(req, "id"));
        return;
    }
    ad_res_json(req, 200, setup_view(ws));
    json_decref(ws);
}

static void ws_setup_saved(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot save the setup");
    } else {
        json_t *ws = json_object_get(result, "workspace");
        api_publish(c->app, "workspace_updated", ws, "workspace", jstr(ws, "id"), NULL);
        ad_res_json(c->req, 200, setup_view(ws));
    }
    json_decref(result);
    ctx_free(c);
}

static void ws_setup_put(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    if (!setup_valid(req, body)) {
        json_decref(body);
        return;
    }
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_req_param(req, "id"), "now", (json_int_t)ad_wall_ms());
    if (json_object_get(body, "setupFiles") != NULL) {
        json_object_set(args, "setupFiles", json_object_get(body, "setupFiles"));
    }
    if (json_object_get(body, "setupCommand") != NULL) {
        json_object_set(args, "setupCommand", json_object_get(body, "setupCommand"));
    }
    json_decref(body);
    ad_store_write(app->store, ad_store_op_workspace_setup_update, args, ws_setup_saved,
                   ctx_new(app, req));
}

/* ---- POST /api/worktrees --------------------------------------------------------------- */

static void wt_setup_recorded(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    if (rc == 0) {
        publish_wt(c->app, "worktree_updated", "setup", json_object_get(result, "worktree"));
    } else {
        ad_log(AD_LOG_WARN, "api", "setup outcome not saved worktree=%s error=%s", c->id,
               ad_errname(rc));
    }
    json_decref(result);
    ctx_free(c);
}

static void wt_setup_done(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (!still_open(c)) {
        return;
    }
    json_t *setup;
    if (res->rc == 0) {
        setup = json_deep_copy(res->data);
        json_t *code = json_object_get(setup, "exitCode");
        bool ok = json_is_integer(code) && json_integer_value(code) == 0;
        json_object_set_new(setup, "state", json_string(ok ? "succeeded" : "failed"));
    } else {
        setup = json_pack("{s:s, s:s}", "state", "failed", "error", res->err.msg);
    }
    json_t *args =
        json_pack("{s:s, s:I, s:o}", "id", c->id, "now", (json_int_t)ad_wall_ms(), "setup", setup);
    ad_store_write(c->app->store, ad_store_op_worktree_setup_result, args, wt_setup_recorded, c);
}

/* After the answer: runs the workspace's setup in the new worktree. */
static void wt_run_setup(gctx_t *c)
{
    ad_git_args_t a = {.repo_path = jstr(c->ws, "path"),
                       .path = jstr(c->wt, "path"),
                       .files = json_object_get(c->setup, "setupFiles"),
                       .command = jstr(c->setup, "setupCommand"),
                       .timeout_ms = SETUP_TIMEOUT_MS};
    if (ad_git_queue(c->app->loop, AD_GIT_OP_SETUP, &a, wt_setup_done, c) != 0) {
        ctx_free(c);
    }
}

static bool setup_configured(json_t *setup)
{
    const char *cmd = jstr(setup, "setupCommand");
    return json_array_size(json_object_get(setup, "setupFiles")) > 0 ||
           (cmd != NULL && cmd[0] != '\0');
}

static void wt_inserted(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    if (rc != 0) {
        /* The worktree exists in git; the next refresh picks its row up. */
        ad_res_error_code(c->req, rc, NULL, "the worktree was created at %s but not saved",
                          jstr(c->git, "path"));
        json_decref(result);
        ctx_free(c);
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    c->wt = json_incref(wt);
    publish_wt(c->app, "worktree_created", NULL, wt);
    json_t *body = json_deep_copy(wt);
    json_object_set_new(body, "branchCreated",
                        json_boolean(json_is_true(json_object_get(c->git, "branchCreated"))));
    if (setup_configured(c->setup)) {
        json_object_set_new(body, "setup", json_pack("{s:s}", "state", "running"));
    }
    ad_res_json(c->req, 201, body);
    c->req = NULL;
    json_decref(result);
    if (setup_configured(c->setup)) {
        wt_run_setup(c);
    } else {
        ctx_free(c);
    }
}

static void wt_added(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (!git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    ad_id_new("wt", c->id);
    json_t *args = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I}", "id", c->id, "workspaceId",
                             jstr(c->ws, "id"), "name", jstr(res->data, "name"), "branch",
                             jstr(res->data, "branch"), "path", jstr(res->data, "path"), "now",
                             (json_int_t)ad_wall_ms());
    if (setup_configured(c->setup)) {
        json_object_set_new(args, "setup", json_pack("{s:s}", "state", "running"));
    }
    ad_store_write(c->app->store, ad_store_op_worktree_git_insert, args, wt_inserted, c);
}

void api_git_worktree_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char why[200];
    char path[PATH_MAX];
    if (!need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *ws_id = jstr(body, "workspaceId");
    const char *name = jstr(body, "name");
    const char *branch = jstr(body, "branch");
    json_t *create = json_object_get(body, "createBranch");
    json_t *base = json_object_get(body, "base");
    json_t *ws = NULL;
    int rc;
    if (ws_id == NULL) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "workspaceId"),
                     "workspaceId is required");
        goto out;
    }
    if (!ad_git_worktree_name_valid(name, why, sizeof(why))) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "name"), "%s", why);
        goto out;
    }
    if (branch == NULL) {
        branch = name; /* a worktree's branch defaults to its name */
    }
    if (!ad_git_branch_name_valid(branch, why, sizeof(why))) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "branch"), "%s",
                     why);
        goto out;
    }
    if ((create != NULL && !json_is_boolean(create)) ||
        (base != NULL && !json_is_null(base) &&
         (!json_is_string(base) || json_string_length(base) == 0 ||
          json_string_length(base) > 256))) {
        ad_res_error(req, 422, "VALIDATION_ERROR", NULL,
                     "createBranch must be a boolean and base a commit-ish string");
        goto out;
    }
    rc = ad_store_git_workspace_get(app->store, ws_id, &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "no workspace %s", ws_id);
        goto out;
    }
    rc = ad_git_worktree_default_path(jstr(ws, "path"), app->cfg ? app->cfg->worktree_base : NULL,
                                      name, path, sizeof(path));
    if (rc != 0) {
        ad_res_error(req, 500, "INTERNAL", NULL,
                     "cannot place the worktree: --worktree-base must be an absolute folder");
        goto out;
    }
    gctx_t *c = ctx_new(app, req);
    c->ws = ws;
    c->body = body;
    c->setup = setup_view(ws);
    ws = NULL;
    body = NULL;
    bool create_branch = create != NULL ? json_is_true(create) : json_is_string(base);
    ad_git_args_t a = {.repo_path = jstr(c->ws, "path"),
                       .name = name,
                       .path = path,
                       .branch = branch,
                       .create_branch = create_branch,
                       .base = json_string_value(base)};
    queue(c, AD_GIT_OP_ADD, &a, wt_added);
out:
    json_decref(ws);
    json_decref(body);
}

/* ---- DELETE /api/worktrees/:id ----------------------------------------------------------- */

static void wt_row_deleted(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    if (rc != 0 && rc != AD_ENOENT) {
        ad_res_error_code(c->req, rc, NULL, "the worktree was removed but its row was not");
    } else {
        json_t *agents = json_object_get(result, "agentIds");
        publish_wt_deleted(c->app, jstr(c->wt, "id"), jstr(c->wt, "workspaceId"), agents);
        ad_res_json(c->req, 200,
                    json_pack("{s:b, s:O, s:O, s:O}", "deleted", true, "worktree", c->wt, "git",
                              c->git, "agentIds", agents ? agents : json_array()));
    }
    json_decref(result);
    ctx_free(c);
}

static void wt_removed(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (!git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args = json_pack("{s:s?}", "id", jstr(c->wt, "id"));
    ad_store_write(c->app->store, ad_store_op_worktree_delete, args, wt_row_deleted, c);
}

/* Every agent is stopped (or one stop failed): remove the files. */
static void wt_remove_files(gctx_t *c)
{
    if (c->stop_rc != 0) {
        ad_res_error_code(c->req, c->stop_rc, NULL,
                          "cannot stop the agents running in this worktree");
        ctx_free(c);
        return;
    }
    json_t *ws = NULL;
    int rc = ad_store_workspace_get(c->app->store, jstr(c->wt, "workspaceId"), &ws);
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot read the worktree's workspace");
        ctx_free(c);
        return;
    }
    c->ws = ws;
    ad_git_args_t a = {
        .repo_path = jstr(c->ws, "path"), .path = jstr(c->wt, "path"), .force = c->force};
    queue(c, AD_GIT_OP_REMOVE, &a, wt_removed);
}

static void wt_agent_stopped(int rc, json_t *result, const char *msg, void *ud)
{
    gctx_t *c = ud;
    AD_UNUSED(result); /* borrowed */
    if (rc != 0 && rc != AD_ENOENT && c->stop_rc == 0) {
        ad_log(AD_LOG_WARN, "api", "stopping an agent before a worktree delete failed msg=\"%s\"",
               msg ? msg : ad_strerror(rc));
        c->stop_rc = rc;
    }
    if (--c->stopping > 0) {
        return;
    }
    if (still_open(c)) {
        wt_remove_files(c);
    }
}

/* DELETE /api/worktrees/:id?force=: stops the agents running in the
 * worktree (gracefully, as a user's stop would), then removes the folder and
 * prunes it. Uncommitted or unpushed work refuses the removal (409, files
 * listed) unless force; stopped agents stay stopped either way, and nothing
 * on disk is lost. */
void api_git_worktree_delete(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!need_store(app, req)) {
        return;
    }
    json_t *wt = load_worktree(app, req);
    json_t *agents = NULL;
    bool force = false;
    if (wt == NULL) {
        return;
    }
    if (api_query_bool(req, "force", false, &force) != 0) {
        goto out;
    }
    if (json_is_true(json_object_get(wt, "isMain"))) {
        ad_res_error(req, 409, "CONFLICT", json_pack("{s:s}", "reason", "main_worktree"),
                     "%s is the workspace's main worktree; it cannot be deleted", jstr(wt, "path"));
        goto out;
    }
    int rc = ad_store_agent_list(app->store, jstr(wt, "id"), "running", false, &agents);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "cannot read the worktree's agents");
        goto out;
    }
    json_t *running = json_object_get(agents, "agents");
    if (json_array_size(running) > 0 && app->runner == NULL) {
        ad_res_error(req, 409, "CONFLICT", json_pack("{s:s}", "reason", "agents_running"),
                     "agents are running in this worktree and no supervisor can stop them");
        goto out;
    }
    gctx_t *c = ctx_new(app, req);
    c->wt = wt;
    c->force = force;
    wt = NULL;
    /* Count first so a stop that completes at once cannot finish early. */
    c->stopping = 1;
    size_t i;
    json_t *v;
    json_array_foreach(running, i, v)
    {
        c->stopping++;
        if (ad_runner_stop(app->runner, jstr(v, "id"), false, wt_agent_stopped, c) != 0) {
            c->stopping--; /* not running after all: nothing to wait for */
        }
    }
    wt_agent_stopped(0, NULL, NULL, c);
out:
    json_decref(agents);
    json_decref(wt);
}

/* ---- checkout, branches, status, diff, setup ------------------------------------------- */

static void wt_branch_saved(int rc, json_t *result, void *ud)
{
    gctx_t *c = ud;
    json_t *wt = rc == 0 ? json_object_get(result, "worktree") : c->wt;
    if (rc == 0) {
        publish_wt(c->app, "worktree_updated", "branch", wt);
    }
    ad_res_json(c->req, 200, json_pack("{s:O, s:O}", "worktree", wt, "checkout", c->git));
    json_decref(result);
    ctx_free(c);
}

static void wt_checked_out(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (!git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args = json_pack("{s:s?, s:I, s:s?}", "id", jstr(c->wt, "id"), "now",
                             (json_int_t)ad_wall_ms(), "branch", jstr(res->data, "branch"));
    ad_store_write(c->app->store, ad_store_op_worktree_update, args, wt_branch_saved, c);
}

static void wt_checkout(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char why[200];
    if (!need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *branch = jstr(body, "branch");
    json_t *create = json_object_get(body, "create");
    if (!ad_git_branch_name_valid(branch, why, sizeof(why))) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "branch"), "%s",
                     branch == NULL ? "branch is required" : why);
        json_decref(body);
        return;
    }
    if (create != NULL && !json_is_boolean(create)) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "create"),
                     "create must be a boolean");
        json_decref(body);
        return;
    }
    json_t *wt = load_worktree(app, req);
    if (wt == NULL) {
        json_decref(body);
        return;
    }
    gctx_t *c = ctx_new(app, req);
    c->wt = wt;
    c->body = body;
    ad_git_args_t a = {
        .path = jstr(wt, "path"), .branch = branch, .create_branch = json_is_true(create)};
    queue(c, AD_GIT_OP_CHECKOUT, &a, wt_checked_out);
}

static void wt_read_done(const ad_git_result_t *res, void *ud)
{
    gctx_t *c = ud;
    if (res->rc != 0) {
        reply_git_error(c->req, res, false);
    } else {
        ad_res_json(c->req, 200, json_incref(res->data));
    }
    ctx_free(c);
}

/* GET branches|status|diff: one git read of the worktree's folder. */
static void wt_read(ad_req_t *req, ad_app_t *app, ad_git_op_t op)
{
    if (!need_store(app, req)) {
        return;
    }
    json_t *wt = load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    gctx_t *c = ctx_new(app, req);
    c->wt = wt;
    ad_git_args_t a = {.path = jstr(wt, "path")};
    if (op == AD_GIT_OP_DIFF) {
        a.file = ad_req_query(req, "path");
    }
    queue(c, op, &a, wt_read_done);
}

static void wt_status(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_STATUS);
}

static void wt_branches(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_BRANCHES);
}

static void wt_diff(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_DIFF);
}

static void wt_setup_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!need_store(app, req)) {
        return;
    }
    json_t *wt = load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    json_t *setup = json_object_get(wt, "setup");
    ad_res_json(req, 200, json_pack("{s:O}", "setup", setup ? setup : json_null()));
    json_decref(wt);
}

void api_git_register(ad_app_t *app)
{
    ad_git_global_init();
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/workspaces/:id/setup", ws_setup_get, app);
    ad_server_route(s, "PUT", "/api/workspaces/:id/setup", ws_setup_put, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/checkout", wt_checkout, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/branches", wt_branches, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/status", wt_status, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/diff", wt_diff, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/setup", wt_setup_get, app);
}
