/* SPDX-License-Identifier: MIT */
/*
 * /api/worktrees: list (by workspace), get, update (name, branch, sortMode,
 * displayOrder, baseBranch) and reorder; create and delete real git worktrees (with the
 * workspace's setup, and stopping their agents first), checkout, branches,
 * status and diff, which are git work on the thread pool. Events on
 * worktree:<wt> and workspace:<ws>: worktree_created {row},
 * worktree_updated {row, change: branch, vanished, restored or setup},
 * worktree_deleted {id, workspaceId, agentIds}, and agent_update {id,
 * worktreeVanished} for agents whose worktree vanished outside agentd or
 * came back. No git and no SQL here.
 */
#include "api/api_int.h"
#include "proc/proc.h"
#include "run/run.h"

#include <string.h>

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *ws = ad_req_query(r, "workspaceId");
    if (ws != NULL && ws[0] == '\0') {
        ws = NULL;
    }
    json_t *out = NULL;
    if (ws != NULL && !ad_api_visible(app, r, AD_API_WORKSPACE, ws, NULL)) {
        return;
    }
    int rc = ad_store_worktree_list(app->store, ws, ad_principal_filter(ad_api_who(r)), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "worktrees", NULL);
        return;
    }
    ad_res_json(r, 200, out);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    json_t *wt = NULL;
    int rc = ad_store_worktree_get(app->store, id, &wt);
    if (rc == 0 && !ad_principal_sees(ad_api_who(r), ad_api_jstr(wt, "orgId"))) {
        json_decref(wt);
        rc = AD_ENOENT; /* another org's worktree is as good as none */
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "worktree", id);
        return;
    }
    ad_res_json(r, 200, wt);
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "worktree", ad_req_param(r, "id"));
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    ad_api_publish(app, "worktree_updated", wt, "worktree", ad_api_jstr(wt, "id"), "workspace",
                   ad_api_jstr(wt, "workspaceId"), "org", ad_api_jstr(wt, "orgId"), NULL);
    ad_res_json(r, 200, json_incref(wt));
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL, *branch = NULL, *mode = NULL, *base = NULL;
    int64_t order = 0;
    bool has_order = false;
    if (!ad_api_visible(app, r, AD_API_WORKTREE, ad_req_param(r, "id"), NULL) ||
        ad_api_str(r, body, "name", false, 200, &name) != 0 ||
        ad_api_str(r, body, "branch", false, 250, &branch) != 0 ||
        ad_api_str(r, body, "baseBranch", false, 250, &base) != 0 ||
        ad_api_enum(r, body, "sortMode", false, "free,status,name", &mode) != 0 ||
        ad_api_int(r, body, "displayOrder", false, -1000000000, 1000000000, &order, &has_order) !=
            0) {
        goto out;
    }
    /* The same rules as creating one: a name or branch git would read as
     * an option or a range ("-x", "--upload-pack=x", "a..b") never lands. */
    char why[200];
    if (name != NULL && !ad_git_worktree_name_valid(name, why, sizeof(why))) {
        ad_api_invalid(r, "name", why);
        goto out;
    }
    if (branch != NULL && !ad_git_branch_name_valid(branch, why, sizeof(why))) {
        ad_api_invalid(r, "branch", why);
        goto out;
    }
    if (base != NULL && !ad_git_ref_valid(base, why, sizeof(why))) {
        ad_api_invalid(r, "baseBranch", why);
        goto out;
    }
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms());
    if (name != NULL) {
        json_object_set_new(args, "name", json_string(name));
    }
    if (branch != NULL) {
        json_object_set_new(args, "branch", json_string(branch));
    }
    if (mode != NULL) {
        json_object_set_new(args, "sortMode", json_string(mode));
    }
    if (base != NULL) {
        json_object_set_new(args, "baseBranch", json_string(base));
    }
    if (has_order) {
        json_object_set_new(args, "displayOrder", json_integer(order));
    }
    ad_api_write(app, r, ad_store_op_worktree_update, args, updated);
out:
    json_decref(body);
}

static void reordered(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "ids", "every id must be a worktree of workspaceId");
        return;
    }
    if (rc != 0) {
        const char *id = json_string_value(json_object_get(result, "id"));
        ad_api_fail(r, rc, "worktree", id);
        return;
    }
    json_t *arr = json_object_get(result, "worktrees");
    size_t i;
    json_t *wt;
    json_array_foreach(arr, i, wt)
    {
        json_t *p = json_pack("{s:O, s:O}", "id", json_object_get(wt, "id"), "displayOrder",
                              json_object_get(wt, "displayOrder"));
        ad_api_publish(app, "worktree_updated", p, "worktree", ad_api_jstr(wt, "id"), "workspace",
                       ad_api_jstr(wt, "workspaceId"), "org", ad_api_jstr(wt, "orgId"), NULL);
        json_decref(p);
    }
    ad_res_json(r, 200, json_incref(result));
}

static void reorder(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *ids = NULL;
    const char *ws = NULL;
    bool ok = ad_api_str_array(r, body, "ids", true, 10000, AD_ID_MAX, &ids) == 0 &&
              ad_api_str(r, body, "workspaceId", false, AD_ID_MAX, &ws) == 0 &&
              (ws == NULL || ad_api_visible(app, r, AD_API_WORKSPACE, ws, NULL));
    size_t i;
    json_t *v;
    json_array_foreach(ok ? ids : NULL, i, v)
    {
        if (!ad_api_visible(app, r, AD_API_WORKTREE, json_string_value(v), NULL)) {
            ok = false;
            break;
        }
    }
    if (ok) {
        ad_api_write(app, r, ad_store_op_worktree_reorder,
                     json_pack("{s:O, s:I, s:s?}", "ids", ids, "now", (json_int_t)ad_wall_ms(),
                               "workspaceId", ws),
                     reordered);
    }
    json_decref(body);
}

/* ---- POST /api/worktrees --------------------------------------------------------------- */

static void wt_setup_recorded(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc == 0) {
        ad_api_publish_wt(c->app, "worktree_updated", "setup", json_object_get(result, "worktree"));
    } else {
        ad_log(AD_LOG_WARN, "api", "setup outcome not saved worktree=%s error=%s", c->id,
               ad_errname(rc));
    }
    json_decref(result);
    ad_api_gctx_free(c);
}

static void wt_setup_done(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_gctx_still_open(c)) {
        return;
    }
    json_t *setup;
    if (res->rc == 0) {
        setup = json_deep_copy(res->data);
        json_t *code = json_object_get(setup, "exitCode");
        const char *cmd = ad_api_jstr(setup, "command");
        bool ran = cmd != NULL && cmd[0] != '\0'; /* files only: nothing to fail */
        bool ok = !ran || (json_is_integer(code) && json_integer_value(code) == 0);
        json_object_set_new(setup, "state", json_string(ok ? "succeeded" : "failed"));
    } else {
        setup = json_pack("{s:s, s:s}", "state", "failed", "error", res->err.msg);
    }
    if (json_is_true(json_object_get(c->setup, "commandNeedsApproval"))) {
        json_object_set_new(setup, "commandNeedsApproval", json_true());
    }
    ad_store_worktree_setup_t out = {.now = ad_wall_ms(), .setup = setup}; /* setup is taken */
    snprintf(out.id, sizeof(out.id), "%s", c->id);
    ad_store_worktree_setup_save(c->app->store, &out, wt_setup_recorded, c);
}

/* After the answer: runs the workspace's setup in the new worktree. */
static void wt_run_setup(ad_api_gctx_t *c)
{
    ad_git_args_t a = {.repo_path = ad_api_jstr(c->ws, "path"),
                       .path = ad_api_jstr(c->wt, "path"),
                       .files = json_object_get(c->setup, "setupFiles"),
                       .command = ad_api_jstr(c->setup, "setupCommand"),
                       .timeout_ms = AD_API_SETUP_TIMEOUT_MS};
    /* Another organisation's setup command runs in the sandbox its agents
     * get (issue #31): the new worktree, the system, nothing of agentd's;
     * where there is none it does not run. */
    const char *org = ad_api_jstr(c->wt, "orgId");
    char *wrapped = NULL;
    if (a.command != NULL && a.command[0] != '\0' && org != NULL &&
        strcmp(org, AD_ORG_DEFAULT) != 0 && c->app->procs != NULL) {
        wrapped = ad_proc_sandbox_shell(c->app->procs, a.path, a.command);
        a.command = wrapped != NULL ? wrapped
                                    : "echo 'agentd: setup commands of an organisation other than "
                                      "the owner'\''s run only in a sandbox, and this machine "
                                      "has none (see /api/requirements)' >&2; exit 126";
    }
    int rc = ad_git_queue(c->app->loop, AD_GIT_OP_SETUP, &a, wt_setup_done, c);
    free(wrapped);
    if (rc != 0) {
        ad_api_gctx_free(c);
    }
}

static bool setup_configured(json_t *setup)
{
    const char *cmd = ad_api_jstr(setup, "setupCommand");
    return json_array_size(json_object_get(setup, "setupFiles")) > 0 ||
           (cmd != NULL && cmd[0] != '\0');
}

static void wt_inserted(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0) {
        /* The worktree exists in git; the next refresh picks its row up. */
        ad_res_error_code(c->req, rc, NULL, "the worktree was created at %s but not saved",
                          ad_api_jstr(c->git, "path"));
        json_decref(result);
        ad_api_gctx_free(c);
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    c->wt = json_incref(wt);
    ad_api_publish_wt(c->app, "worktree_created", NULL, wt);
    json_t *body = json_deep_copy(wt);
    json_object_set_new(body, "branchCreated",
                        json_boolean(json_is_true(json_object_get(c->git, "branchCreated"))));
    if (setup_configured(c->setup)) {
        json_object_set_new(body, "setup", json_pack("{s:s}", "state", "running"));
    }
    if (json_is_true(json_object_get(c->setup, "commandNeedsApproval"))) {
        /* not run: the UI shows it and asks (runSetupCommand: true) first */
        json_object_set_new(body, "setupCommandNeedsApproval", json_true());
        json_object_set(body, "setupCommand", json_object_get(c->setup, "pendingCommand"));
    }
    ad_res_json(c->req, 201, body);
    c->req = NULL;
    json_decref(result);
    if (setup_configured(c->setup)) {
        wt_run_setup(c);
    } else {
        ad_api_gctx_free(c);
    }
}

static void wt_added(const ad_git_result_t *res, void *ud);

/* On /seed/api (src/api/seed.c), a branch that exists nowhere, asked for
 * without createBranch or base as the Claude Manager seed's client does for
 * a new worktree: made from HEAD, as if createBranch had been true. /api
 * keeps the 404 (a typo in a branch name makes no branch) and so does an
 * explicit createBranch: false. True when the add was queued again. */
static bool wt_retry_new_branch(ad_api_gctx_t *c, const ad_git_result_t *res)
{
    char path[PATH_MAX];
    if (res->rc == 0 || c->retried || c->app->store == NULL || c->req == NULL ||
        !ad_req_dialect(c->req) || strcmp(res->err.reason, "unknown_branch") != 0 ||
        json_object_get(c->body, "createBranch") != NULL ||
        json_object_get(c->body, "base") != NULL) {
        return false;
    }
    const char *name = ad_api_jstr(c->body, "name");
    const char *branch = ad_api_jstr(c->body, "branch");
    if (ad_git_worktree_default_path(ad_api_jstr(c->ws, "path"),
                                     c->app->cfg ? c->app->cfg->worktree_base : NULL, name, path,
                                     sizeof(path)) != 0) {
        return false;
    }
    c->retried = true;
    ad_git_args_t a = {.repo_path = ad_api_jstr(c->ws, "path"),
                       .name = name,
                       .path = path,
                       .branch = branch != NULL ? branch : name,
                       .create_branch = true};
    ad_api_git_queue(c, AD_GIT_OP_ADD, &a, wt_added);
    return true;
}

static void wt_added(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (wt_retry_new_branch(c, res)) {
        return;
    }
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    ad_id_new("wt", c->id);
    json_t *args = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I}", "id", c->id, "workspaceId",
                             ad_api_jstr(c->ws, "id"), "name", ad_api_jstr(res->data, "name"),
                             "branch", ad_api_jstr(res->data, "branch"), "path",
                             ad_api_jstr(res->data, "path"), "now", (json_int_t)ad_wall_ms());
    if (setup_configured(c->setup)) {
        json_object_set_new(args, "setup", json_pack("{s:s}", "state", "running"));
    }
    /* The base it was made from, when that names a branch; else the store
     * takes the workspace's default branch. */
    const char *base = ad_api_jstr(c->body, "base");
    char why[200];
    if (base != NULL && ad_git_branch_name_valid(base, why, sizeof(why))) {
        json_object_set_new(args, "baseBranch", json_string(base));
    }
    ad_store_write(c->app->store, ad_store_op_worktree_git_insert, args, wt_inserted, c);
}

/* The setup a new worktree gets: the workspace's files, and its command
 * only once approved. A command nobody approved yet is shown to the user
 * first (the answer says so); creating with runSetupCommand: true (admin)
 * approves it and runs it. NULL after answering 403. */
static json_t *setup_to_run(ad_app_t *app, ad_req_t *req, json_t *ws, json_t *body)
{
    json_t *setup = ad_api_setup_view(ws);
    const char *cmd = ad_api_jstr(setup, "setupCommand");
    if (cmd == NULL || cmd[0] == '\0' ||
        json_is_true(json_object_get(setup, "setupCommandApproved"))) {
        return setup;
    }
    if (json_is_true(json_object_get(body, "runSetupCommand"))) {
        if (!ad_api_require(req, AD_SCOPE_ADMIN, "running a setup command")) {
            json_decref(setup);
            return NULL;
        }
        ad_store_setup_command_approve(app->store, ad_api_jstr(ws, "id"), cmd, NULL, NULL);
        return setup;
    }
    json_object_set(setup, "pendingCommand", json_object_get(setup, "setupCommand"));
    json_object_set_new(setup, "setupCommand", json_string(""));
    json_object_set_new(setup, "commandNeedsApproval", json_true());
    return setup;
}

static void wt_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char why[200];
    char path[PATH_MAX];
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *ws_id = ad_api_jstr(body, "workspaceId");
    const char *name = ad_api_jstr(body, "name");
    const char *branch = ad_api_jstr(body, "branch");
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
    if (!ad_api_visible(app, req, AD_API_WORKSPACE, ws_id, NULL)) {
        goto out;
    }
    rc = ad_store_git_workspace_get(app->store, ws_id, &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "no workspace %s", ws_id);
        goto out;
    }
    rc = ad_git_worktree_default_path(ad_api_jstr(ws, "path"),
                                      app->cfg ? app->cfg->worktree_base : NULL, name, path,
                                      sizeof(path));
    if (rc != 0) {
        ad_res_error(req, 500, "INTERNAL", NULL,
                     "cannot place the worktree: --worktree-base must be an absolute folder");
        goto out;
    }
    json_t *setup = setup_to_run(app, req, ws, body);
    if (setup == NULL) {
        goto out;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->ws = ws;
    c->body = body;
    c->setup = setup;
    ws = NULL;
    body = NULL;
    bool create_branch = create != NULL ? json_is_true(create) : json_is_string(base);
    ad_git_args_t a = {.repo_path = ad_api_jstr(c->ws, "path"),
                       .name = name,
                       .path = path,
                       .branch = branch,
                       .create_branch = create_branch,
                       .base = json_string_value(base)};
    ad_api_git_queue(c, AD_GIT_OP_ADD, &a, wt_added);
out:
    json_decref(ws);
    json_decref(body);
}

/* ---- DELETE /api/worktrees/:id ----------------------------------------------------------- */

static void wt_row_deleted(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0 && rc != AD_ENOENT) {
        ad_res_error_code(c->req, rc, NULL, "the worktree was removed but its row was not");
    } else {
        json_t *agents = json_object_get(result, "agentIds");
        ad_api_publish_wt_deleted(c->app, ad_api_jstr(c->wt, "id"),
                                  ad_api_jstr(c->wt, "workspaceId"), ad_api_jstr(c->wt, "orgId"),
                                  agents);
        ad_res_json(c->req, 200,
                    json_pack("{s:b, s:O, s:O, s:O}", "deleted", true, "worktree", c->wt, "git",
                              c->git, "agentIds", agents ? agents : json_array()));
    }
    json_decref(result);
    ad_api_gctx_free(c);
}

static void wt_removed(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args = json_pack("{s:s?}", "id", ad_api_jstr(c->wt, "id"));
    ad_store_write(c->app->store, ad_store_op_worktree_delete, args, wt_row_deleted, c);
}

/* Every agent is stopped (or one stop failed): remove the files. */
static void wt_remove_files(ad_api_gctx_t *c)
{
    if (c->stop_rc != 0) {
        ad_res_error_code(c->req, c->stop_rc, NULL,
                          "cannot stop the agents running in this worktree");
        ad_api_gctx_free(c);
        return;
    }
    json_t *ws = NULL;
    int rc = ad_store_workspace_get(c->app->store, ad_api_jstr(c->wt, "workspaceId"), &ws);
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot read the worktree's workspace");
        ad_api_gctx_free(c);
        return;
    }
    c->ws = ws;
    ad_git_args_t a = {.repo_path = ad_api_jstr(c->ws, "path"),
                       .path = ad_api_jstr(c->wt, "path"),
                       .force = c->force};
    ad_api_git_queue(c, AD_GIT_OP_REMOVE, &a, wt_removed);
}

static void wt_agent_stopped(int rc, json_t *result, const char *msg, void *ud)
{
    ad_api_gctx_t *c = ud;
    AD_UNUSED(result); /* borrowed */
    if (rc != 0 && rc != AD_ENOENT && c->stop_rc == 0) {
        ad_log(AD_LOG_WARN, "api", "stopping an agent before a worktree delete failed msg=\"%s\"",
               msg ? msg : ad_strerror(rc));
        c->stop_rc = rc;
    }
    if (--c->stopping > 0) {
        return;
    }
    if (ad_api_gctx_still_open(c)) {
        wt_remove_files(c);
    }
}

/* Stops the agents running in c->wt (gracefully, as a user's stop would),
 * then removes the files. */
static void wt_stop_agents(ad_api_gctx_t *c)
{
    json_t *agents = NULL;
    int rc = ad_store_agent_list(c->app->store, ad_api_jstr(c->wt, "id"), NULL, false, "", &agents);
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot read the worktree's agents");
        ad_api_gctx_free(c);
        return;
    }
    /* alive: running, or between turns (waiting) or paused with a process */
    json_t *running = json_array();
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(agents, "agents"), k, a)
    {
        const char *st = ad_api_jstr(a, "status");
        if (st != NULL && (strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0 ||
                           strcmp(st, "paused") == 0)) {
            json_array_append(running, a);
        }
    }
    json_object_set_new(agents, "alive", running);
    if (json_array_size(running) > 0 && c->app->runner == NULL) {
        ad_res_error(c->req, 409, "CONFLICT", json_pack("{s:s}", "reason", "agents_running"),
                     "agents are running in this worktree and no supervisor can stop them");
        ad_api_gctx_free(c);
        json_decref(agents);
        return;
    }
    /* Count first so a stop that completes at once cannot finish early. */
    c->stopping = 1;
    size_t i;
    json_t *v;
    json_array_foreach(running, i, v)
    {
        c->stopping++;
        if (ad_runner_stop(c->app->runner, ad_api_jstr(v, "id"), false, wt_agent_stopped, c) != 0) {
            c->stopping--; /* not running after all: nothing to wait for */
        }
    }
    json_decref(agents);
    wt_agent_stopped(0, NULL, NULL, c);
}

/* The refusal check came back: refuse, or go on to stop and remove. */
static void wt_delete_checked(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    json_decref(c->ws);
    c->ws = NULL;
    wt_stop_agents(c);
}

/* DELETE /api/worktrees/:id?force=: uncommitted or unpushed work refuses
 * the removal (409, files listed) unless force, and that check comes
 * before any agent is stopped. Then the agents running in the worktree are
 * stopped and the folder removed and pruned (git checks again, so work
 * made meanwhile is not lost either). */
static void wt_delete(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    bool force = false;
    if (wt == NULL) {
        return;
    }
    if (ad_api_query_bool(req, "force", false, &force) != 0) {
        json_decref(wt);
        return;
    }
    if (json_is_true(json_object_get(wt, "isMain"))) {
        ad_res_error(req, 409, "CONFLICT", json_pack("{s:s}", "reason", "main_worktree"),
                     "%s is the workspace's main worktree; it cannot be deleted",
                     ad_api_jstr(wt, "path"));
        json_decref(wt);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    c->force = force;
    json_t *ws = NULL;
    if (force || ad_store_workspace_get(app->store, ad_api_jstr(wt, "workspaceId"), &ws) != 0) {
        wt_stop_agents(c); /* forced (or no workspace row: the removal reports it) */
        return;
    }
    c->ws = ws;
    ad_git_args_t a = {.repo_path = ad_api_jstr(ws, "path"), .path = ad_api_jstr(wt, "path")};
    ad_api_git_queue(c, AD_GIT_OP_REMOVE_CHECK, &a, wt_delete_checked);
}

/* ---- checkout, branches, status, diff, setup ------------------------------------------- */

static void wt_branch_saved(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    json_t *wt = rc == 0 ? json_object_get(result, "worktree") : c->wt;
    if (rc == 0) {
        ad_api_publish_wt(c->app, "worktree_updated", "branch", wt);
    }
    ad_res_json(c->req, 200, json_pack("{s:O, s:O}", "worktree", wt, "checkout", c->git));
    json_decref(result);
    ad_api_gctx_free(c);
}

static void wt_checked_out(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args = json_pack("{s:s?, s:I, s:s?}", "id", ad_api_jstr(c->wt, "id"), "now",
                             (json_int_t)ad_wall_ms(), "branch", ad_api_jstr(res->data, "branch"));
    ad_store_write(c->app->store, ad_store_op_worktree_update, args, wt_branch_saved, c);
}

static void wt_checkout(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char why[200];
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *branch = ad_api_jstr(body, "branch");
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
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        json_decref(body);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    c->body = body;
    ad_git_args_t a = {
        .path = ad_api_jstr(wt, "path"), .branch = branch, .create_branch = json_is_true(create)};
    ad_api_git_queue(c, AD_GIT_OP_CHECKOUT, &a, wt_checked_out);
}

static void wt_read_done(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (res->rc != 0) {
        ad_api_git_reply_error(c->req, res, false);
    } else {
        ad_res_json(c->req, 200, json_incref(res->data));
    }
    ad_api_gctx_free(c);
}

/* GET branches|status|diff: one git read of the worktree's folder. */
static void wt_read(ad_req_t *req, ad_app_t *app, ad_git_op_t op)
{
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    ad_git_args_t a = {.path = ad_api_jstr(wt, "path")};
    if (op == AD_GIT_OP_DIFF) {
        a.file = ad_req_query(req, "path");
    }
    ad_api_git_queue(c, op, &a, wt_read_done);
}

static void wt_status(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_STATUS);
}

static void wt_branches(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_BRANCHES);
}

/* Without against: the working changes against HEAD; with it, the work
 * since the merge base with that ref ("base": the stored base branch). */
static void wt_diff(ad_req_t *req, void *ud)
{
    if (ad_req_query(req, "against") != NULL) {
        ad_api_wt_review(req, ud);
        return;
    }
    wt_read(req, ud, AD_GIT_OP_DIFF);
}

static void wt_setup_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    json_t *setup = json_object_get(wt, "setup");
    ad_res_json(req, 200, json_pack("{s:O}", "setup", setup ? setup : json_null()));
    json_decref(wt);
}

static void wt_setup_marked(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0) {
        ad_api_fail(c->req, rc, "worktree", c->id);
        json_decref(result);
        ad_api_gctx_free(c);
        return;
    }
    ad_api_publish_wt(c->app, "worktree_updated", "setup", json_object_get(result, "worktree"));
    json_decref(result);
    ad_res_json(c->req, 202,
                json_pack("{s:s, s:{s:s}}", "worktreeId", c->id, "setup", "state", "running"));
    c->req = NULL;
    wt_run_setup(c);
}

/* POST /api/worktrees/:id/setup {approve?}: runs the workspace's setup
 * (files, then command) again in this worktree. A command nobody approved
 * runs only with approve: true, which approves it; else 409 with the
 * command, so the UI can show it first. 202 {worktreeId, setup}; the
 * outcome arrives as worktree_updated. */
static void wt_setup_run(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    bool failed = false, approve = false;
    json_t *body = ad_api_body_optional(req, &failed);
    json_t *wt = NULL, *ws = NULL, *setup = NULL;
    if (failed || ad_api_bool(req, body, "approve", &approve, NULL) != 0 ||
        !ad_api_need_store(app, req) || (wt = ad_api_load_worktree(app, req)) == NULL) {
        goto out;
    }
    int rc = ad_store_git_workspace_get(app->store, ad_api_jstr(wt, "workspaceId"), &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "cannot read the worktree's workspace");
        goto out;
    }
    setup = ad_api_setup_view(ws);
    const char *cmd = ad_api_jstr(setup, "setupCommand");
    if (!setup_configured(setup)) {
        ad_res_error(req, 409, "CONFLICT", NULL, "the workspace has no setup to run");
        goto out;
    }
    if (cmd != NULL && cmd[0] != '\0' &&
        !json_is_true(json_object_get(setup, "setupCommandApproved"))) {
        if (!approve) {
            ad_res_error(req, 409, "SETUP_NOT_APPROVED", json_pack("{s:s}", "setupCommand", cmd),
                         "the setup command runs only once approved: send approve: true");
            goto out;
        }
        ad_store_setup_command_approve(app->store, ad_api_jstr(ws, "id"), cmd, NULL, NULL);
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    snprintf(c->id, sizeof(c->id), "%s", ad_api_jstr(wt, "id"));
    c->ws = ws;
    c->wt = wt;
    c->setup = setup;
    ws = wt = setup = NULL;
    /* The row says running first, so a reader never sees the last outcome
     * as this run's. */
    ad_store_worktree_setup_t row = {.now = ad_wall_ms(),
                                     .setup = json_pack("{s:s}", "state", "running")};
    snprintf(row.id, sizeof(row.id), "%s", c->id);
    ad_store_worktree_setup_save(app->store, &row, wt_setup_marked, c);
out:
    json_decref(body);
    json_decref(wt);
    json_decref(ws);
    json_decref(setup);
}

void ad_api_worktrees_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/worktrees", AD_ACCESS_READ, list, app);
    ad_server_route(s, "POST", "/api/worktrees/reorder", AD_ACCESS_WRITE, reorder, app);
    ad_server_route(s, "GET", "/api/worktrees/:id", AD_ACCESS_READ, get, app);
    ad_server_route(s, "PATCH", "/api/worktrees/:id", AD_ACCESS_WRITE, patch, app);
    ad_server_route(s, "POST", "/api/worktrees", AD_ACCESS_WRITE, wt_create, app);
    ad_server_route(s, "DELETE", "/api/worktrees/:id", AD_ACCESS_WRITE, wt_delete, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/checkout", AD_ACCESS_WRITE, wt_checkout, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/branches", AD_ACCESS_READ, wt_branches, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/status", AD_ACCESS_READ, wt_status, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/diff", AD_ACCESS_READ, wt_diff, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/setup", AD_ACCESS_READ, wt_setup_get, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/setup", AD_ACCESS_ADMIN, wt_setup_run, app);
}
