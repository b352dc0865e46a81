/* SPDX-License-Identifier: MIT */
/*
 * The steps a git request of workspaces.c and worktrees.c (wt_create.c,
 * wt_git.c) goes through (api_int.h, "git work"): the context carried
 * across them, the git work queued on the pool, a git failure answered,
 * the worktree events, and the checks of a workspace's setup. Split from
 * api.c; no git and no SQL here.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- git work, shared by workspaces.c and worktrees.c ---------------------------- */

ad_api_gctx_t *ad_api_gctx_new(ad_app_t *app, ad_req_t *req)
{
    ad_api_gctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->app = app;
    c->req = req;
    return c;
}

void ad_api_gctx_free(ad_api_gctx_t *c)
{
    json_decref(c->body);
    json_decref(c->ws);
    json_decref(c->wt);
    json_decref(c->git);
    json_decref(c->setup);
    free(c);
}

/* ---- answers and events ------------------------------------------------------ */

/* Answers a git failure. ws_create: every "this is no work tree" reason is a
 * validation error (422) of the request. */
void ad_api_git_reply_error(ad_req_t *req, const ad_git_result_t *res, bool ws_create)
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
void ad_api_publish_wt(ad_app_t *app, const char *type, const char *change, json_t *wt)
{
    json_t *p = json_deep_copy(wt);
    if (change != NULL) {
        json_object_set_new(p, "change", json_string(change));
    }
    ad_api_publish(app, type, p, "worktree", ad_api_jstr(wt, "id"), "org", ad_api_jstr(wt, "orgId"),
                   "workspace", ad_api_jstr(wt, "workspaceId"), NULL);
    json_decref(p);
}

void ad_api_publish_wt_deleted(ad_app_t *app, const char *id, const char *ws_id, const char *org,
                               json_t *agents)
{
    json_t *p = json_pack("{s:s, s:s, s:O}", "id", id, "workspaceId", ws_id, "agentIds",
                          agents != NULL ? agents : json_array());
    ad_api_publish(app, "worktree_deleted", p, "worktree", id, "workspace", ws_id, "org", org,
                   NULL);
    json_decref(p);
}

void ad_api_publish_agent_flag(ad_app_t *app, const char *agent_id, const char *ws_id,
                               const char *org, bool vanished)
{
    json_t *p = json_pack("{s:s, s:b}", "id", agent_id, "worktreeVanished", vanished);
    ad_api_publish(app, "agent_update", p, "agent", agent_id, "workspace", ws_id, "org", org, NULL);
    json_decref(p);
}

/* After a pool job: false (and the answer given, the context freed) when
 * the daemon closed the store meanwhile. */
bool ad_api_gctx_still_open(ad_api_gctx_t *c)
{
    if (c->app->store != NULL) {
        return true;
    }
    if (c->req != NULL) {
        ad_res_error(c->req, 503, "UNAVAILABLE", NULL, "agentd is shutting down");
    }
    ad_api_gctx_free(c);
    return false;
}

/* The start of a git completion whose next step writes: false when the
 * request is finished here (agentd is closing, or git failed: answered and
 * the context freed). */
bool ad_api_git_step_ok(ad_api_gctx_t *c, const ad_git_result_t *res, bool ws_create)
{
    if (!ad_api_gctx_still_open(c)) {
        return false;
    }
    if (res->rc != 0) {
        ad_api_git_reply_error(c->req, res, ws_create);
        ad_api_gctx_free(c);
        return false;
    }
    return true;
}

int ad_api_git_queue(ad_api_gctx_t *c, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb cb)
{
    int rc = ad_git_queue(c->app->loop, op, a, cb, c);
    if (rc != 0) {
        ad_res_error(c->req, 500, "INTERNAL", NULL, "cannot queue git work: %s", ad_strerror(rc));
        ad_api_gctx_free(c);
    }
    return rc;
}

/* Reads the worktree row of :id, answering 404 itself when there is none. */
json_t *ad_api_load_worktree(ad_app_t *app, ad_req_t *req)
{
    const char *id = ad_req_param(req, "id");
    json_t *wt = NULL;
    int rc = ad_store_git_worktree_get(app->store, id, &wt);
    if (rc == 0 && !ad_principal_sees(ad_api_who(req), ad_api_jstr(wt, "orgId"))) {
        json_decref(wt);
        rc = AD_ENOENT; /* another org's worktree is as good as none */
    }
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
bool ad_api_setup_valid(ad_req_t *req, json_t *body)
{
    json_t *files = json_object_get(body, "setupFiles");
    json_t *cmd = json_object_get(body, "setupCommand");
    if (files != NULL) {
        if (!json_is_array(files) || json_array_size(files) > AD_API_SETUP_FILES_MAX) {
            ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "setupFiles"),
                         "setupFiles must be a list of at most %d relative paths",
                         AD_API_SETUP_FILES_MAX);
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
    if (cmd != NULL && json_is_string(cmd) && json_string_length(cmd) > 0 &&
        !ad_api_require(req, AD_SCOPE_ADMIN, "a setup command")) {
        return false;
    }
    if (cmd != NULL &&
        (!json_is_string(cmd) || json_string_length(cmd) > AD_API_SETUP_COMMAND_MAX)) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "setupCommand"),
                     "setupCommand must be a string of at most %d bytes", AD_API_SETUP_COMMAND_MAX);
        return false;
    }
    return true;
}

json_t *ad_api_setup_view(json_t *ws)
{
    json_t *files = json_object_get(ws, "setupFiles");
    const char *cmd = ad_api_jstr(ws, "setupCommand");
    return json_pack("{s:o, s:s, s:b}", "setupFiles",
                     files != NULL ? json_incref(files) : json_array(), "setupCommand",
                     cmd != NULL ? cmd : "", "setupCommandApproved",
                     json_is_true(json_object_get(ws, "isSetupCommandApproved")));
}
