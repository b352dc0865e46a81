/* SPDX-License-Identifier: MIT */
/*
 * A worktree's life (wtree.h, "worktrees"): made by git and written as a
 * row, its workspace's setup run in it after (an organisation other than
 * the owner's runs the command only in a sandbox), checked out on another
 * branch, read, and deleted: a refusal for work not yet merged comes
 * before any agent is stopped, then its running agents are stopped as a
 * user's stop would, the folder removed and the row deleted.
 */
#include "wtree/wtree_int.h"
#include "proc/proc.h"
#include "run/run.h"
#include "tables/gitrows.h"
#include "tables/workspaces.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_TIMEOUT_MS 600000

/* ---- create and setup -------------------------------------------------------------------- */

static bool setup_configured(json_t *setup)
{
    const char *cmd = ad_wtree_jstr(setup, "setupCommand");
    return json_array_size(json_object_get(setup, "setupFiles")) > 0 ||
           (cmd != NULL && cmd[0] != '\0');
}

json_t *ad_wtree_setup_for(ad_wtree_t *W, json_t *ws, bool approve)
{
    json_t *setup = ad_wtree_setup_view(ws);
    const char *cmd = ad_wtree_jstr(setup, "setupCommand");
    if (cmd == NULL || cmd[0] == '\0' ||
        json_is_true(json_object_get(setup, "setupCommandApproved"))) {
        return setup;
    }
    if (approve) {
        ad_store_setup_command_approve(W->store, ad_wtree_jstr(ws, "id"), cmd, NULL, NULL);
        return setup;
    }
    json_object_set(setup, "pendingCommand", json_object_get(setup, "setupCommand"));
    json_object_set_new(setup, "setupCommand", json_string(""));
    json_object_set_new(setup, "commandNeedsApproval", json_true());
    return setup;
}

static void setup_recorded(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc == 0) {
        ad_wtree_publish(c->W, "worktree_updated", "setup", json_object_get(result, "worktree"));
    } else {
        ad_log(AD_LOG_WARN, "wtree", "setup outcome not saved worktree=%s error=%s", c->id,
               ad_errname(rc));
    }
    json_decref(result);
    ad_wtree_ctx_free(c);
}

static void setup_done(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_still_open(c)) {
        return;
    }
    json_t *setup;
    if (res->rc == 0) {
        setup = json_deep_copy(res->data);
        json_t *code = json_object_get(setup, "exitCode");
        const char *cmd = ad_wtree_jstr(setup, "command");
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
    ad_store_worktree_setup_save(c->W->store, &out, setup_recorded, c);
}

/* After the outcome: runs the workspace's setup in the new worktree. */
static void run_setup(ad_wtree_ctx_t *c)
{
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(c->ws, "path"),
                       .path = ad_wtree_jstr(c->wt, "path"),
                       .files = json_object_get(c->setup, "setupFiles"),
                       .command = ad_wtree_jstr(c->setup, "setupCommand"),
                       .timeout_ms = SETUP_TIMEOUT_MS};
    /* Another organisation's setup command runs in the sandbox its agents
     * get (issue #31): the new worktree, the system, nothing of agentd's,
     * and the network of the workspace's agents (issue #73); where there
     * is none it does not run. */
    const char *org = ad_wtree_jstr(c->wt, "orgId");
    char *wrapped = NULL;
    if (a.command != NULL && a.command[0] != '\0' && org != NULL &&
        strcmp(org, AD_ORG_DEFAULT) != 0 && c->W->procs != NULL) {
        const char *allow[32], *svc[16];
        ad_proc_net_t net;
        ad_proc_net_of(json_object_get(c->ws, "sandbox"), &net, allow, 32, svc, 16);
        wrapped = ad_proc_sandbox_shell(c->W->procs, a.path, a.command, &net);
        a.command = wrapped != NULL ? wrapped
                                    : "echo 'agentd: setup commands of an organisation other than "
                                      "the owner'\''s run only in a sandbox, and this machine "
                                      "has none (see /api/requirements)' >&2; exit 126";
    }
    int rc = ad_git_queue(c->W->loop, AD_GIT_OP_SETUP, &a, setup_done, c);
    free(wrapped);
    if (rc != 0) {
        ad_wtree_ctx_free(c);
    }
}

static void inserted(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc != 0) {
        /* The worktree exists in git; the next refresh picks its row up. */
        ad_wtree_fail(c, rc, NULL, "the worktree was created at %s but not saved",
                      ad_wtree_jstr(c->git, "path"));
        json_decref(result);
        ad_wtree_ctx_free(c);
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    c->wt = json_incref(wt);
    ad_wtree_publish(c->W, "worktree_created", NULL, wt);
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
    ad_wtree_done(c, body);
    json_decref(body);
    json_decref(result);
    if (setup_configured(c->setup)) {
        run_setup(c);
    } else {
        ad_wtree_ctx_free(c);
    }
}

static void added(const ad_git_result_t *res, void *ud);

/* With make_branch (the Claude Manager seed's dialect asks it, src/api), a
 * branch that exists nowhere, asked for without createBranch or base: made
 * from HEAD, as if createBranch had been true. Without it the 404 stays (a
 * typo in a branch name makes no branch), and so it does with an explicit
 * createBranch: false. True when the add was queued again. */
static bool retry_new_branch(ad_wtree_ctx_t *c, const ad_git_result_t *res)
{
    char path[PATH_MAX];
    if (res->rc == 0 || c->retried || c->W->closed || c->cb == NULL || !c->make_branch ||
        strcmp(res->err.reason, "unknown_branch") != 0 ||
        json_object_get(c->body, "createBranch") != NULL ||
        json_object_get(c->body, "base") != NULL) {
        return false;
    }
    const char *name = ad_wtree_jstr(c->body, "name");
    const char *branch = ad_wtree_jstr(c->body, "branch");
    if (ad_git_worktree_default_path(ad_wtree_jstr(c->ws, "path"),
                                     c->W->cfg ? c->W->cfg->worktree_base : NULL, name, path,
                                     sizeof(path)) != 0) {
        return false;
    }
    c->retried = true;
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(c->ws, "path"),
                       .name = name,
                       .path = path,
                       .branch = branch != NULL ? branch : name,
                       .create_branch = true};
    ad_wtree_queue(c, AD_GIT_OP_ADD, &a, added);
    return true;
}

static void added(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (retry_new_branch(c, res)) {
        return;
    }
    if (res->rc == AD_EEXIST && strcmp(res->err.reason, "path_exists") == 0) {
        /* the folder may be another org's worktree (--worktree-base): its
         * path is in no answer (issue #73) */
        if (ad_wtree_still_open(c)) {
            ad_wtree_fail(c, AD_EEXIST,
                          json_pack("{s:s, s:s}", "field", "name", "reason", "path_exists"),
                          "a folder already exists where worktree '%s' would go: choose another "
                          "name",
                          ad_wtree_jstr(c->body, "name"));
            ad_wtree_ctx_free(c);
        }
        return;
    }
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    c->git = json_incref(res->data);
    ad_id_new("wt", c->id);
    json_t *args = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I}", "id", c->id, "workspaceId",
                             ad_wtree_jstr(c->ws, "id"), "name", ad_wtree_jstr(res->data, "name"),
                             "branch", ad_wtree_jstr(res->data, "branch"), "path",
                             ad_wtree_jstr(res->data, "path"), "now", (json_int_t)ad_wall_ms());
    if (setup_configured(c->setup)) {
        json_object_set_new(args, "setup", json_pack("{s:s}", "state", "running"));
    }
    /* The base it was made from, when that names a branch; else the store
     * takes the workspace's default branch. */
    const char *base = ad_wtree_jstr(c->body, "base");
    char why[200];
    if (base != NULL && ad_git_branch_name_valid(base, why, sizeof(why))) {
        json_object_set_new(args, "baseBranch", json_string(base));
    }
    ad_store_write(c->W->store, ad_store_op_worktree_git_insert, args, inserted, c);
}

void ad_wtree_create(ad_wtree_t *W, const ad_wtree_create_t *spec, ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->ws = json_incref(spec->ws);
    c->body = json_incref(spec->body);
    c->setup = spec->setup;
    c->make_branch = spec->make_branch;
    const char *name = ad_wtree_jstr(c->body, "name");
    const char *branch = ad_wtree_jstr(c->body, "branch");
    json_t *create = json_object_get(c->body, "createBranch");
    json_t *base = json_object_get(c->body, "base");
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(c->ws, "path"),
                       .name = name,
                       .path = spec->path,
                       .branch = branch != NULL ? branch : name,
                       .create_branch =
                           create != NULL ? json_is_true(create) : json_is_string(base),
                       .base = json_string_value(base)};
    ad_wtree_queue(c, AD_GIT_OP_ADD, &a, added);
}

static void setup_marked(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc != 0) {
        ad_wtree_fail_store(c, rc, "worktree", c->id);
        json_decref(result);
        ad_wtree_ctx_free(c);
        return;
    }
    ad_wtree_publish(c->W, "worktree_updated", "setup", json_object_get(result, "worktree"));
    json_decref(result);
    json_t *out = json_pack("{s:s, s:{s:s}}", "worktreeId", c->id, "setup", "state", "running");
    ad_wtree_done(c, out);
    json_decref(out);
    run_setup(c);
}

void ad_wtree_setup_run(ad_wtree_t *W, json_t *wt, json_t *ws, bool approve, ad_wtree_cb cb,
                        void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    json_t *setup = ad_wtree_setup_view(ws);
    const char *cmd = ad_wtree_jstr(setup, "setupCommand");
    if (!setup_configured(setup)) {
        json_decref(setup);
        ad_wtree_fail(c, AD_ESTATE, NULL, "the workspace has no setup to run");
        ad_wtree_ctx_free(c);
        return;
    }
    if (cmd != NULL && cmd[0] != '\0' &&
        !json_is_true(json_object_get(setup, "setupCommandApproved"))) {
        if (!approve) {
            ad_wtree_fail(c, AD_EPERM, json_pack("{s:s}", "setupCommand", cmd),
                          "the setup command runs only once approved: send approve: true");
            json_decref(setup);
            ad_wtree_ctx_free(c);
            return;
        }
        ad_store_setup_command_approve(W->store, ad_wtree_jstr(ws, "id"), cmd, NULL, NULL);
    }
    snprintf(c->id, sizeof(c->id), "%s", ad_wtree_jstr(wt, "id"));
    c->ws = json_incref(ws);
    c->wt = json_incref(wt);
    c->setup = setup;
    /* The row says running first, so a reader never sees the last outcome
     * as this run's. */
    ad_store_worktree_setup_t row = {.now = ad_wall_ms(),
                                     .setup = json_pack("{s:s}", "state", "running")};
    snprintf(row.id, sizeof(row.id), "%s", c->id);
    ad_store_worktree_setup_save(W->store, &row, setup_marked, c);
}

/* ---- delete ------------------------------------------------------------------------------- */

static void row_deleted(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc != 0 && rc != AD_ENOENT) {
        ad_wtree_fail(c, rc, NULL, "the worktree was removed but its row was not");
    } else {
        json_t *agents = json_object_get(result, "agentIds");
        ad_wtree_publish_deleted(c->W, ad_wtree_jstr(c->wt, "id"),
                                 ad_wtree_jstr(c->wt, "workspaceId"), ad_wtree_jstr(c->wt, "orgId"),
                                 agents);
        json_t *out = json_pack("{s:b, s:O, s:O, s:o, s:b}", "deleted", true, "worktree", c->wt,
                                "git", c->git, "agentIds",
                                agents ? json_incref(agents) : json_array(), "archived", 1);
        ad_wtree_done(c, out);
        json_decref(out);
    }
    json_decref(result);
    ad_wtree_ctx_free(c);
}

static void removed(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args =
        json_pack("{s:s?, s:I}", "id", ad_wtree_jstr(c->wt, "id"), "now", (json_int_t)ad_wall_ms());
    ad_store_write(c->W->store, ad_store_op_worktree_delete, args, row_deleted, c);
}

/* Every agent is stopped (or one stop failed): remove the files. */
static void remove_files(ad_wtree_ctx_t *c)
{
    if (c->stop_rc != 0) {
        ad_wtree_fail(c, c->stop_rc, NULL, "cannot stop the agents running in this worktree");
        ad_wtree_ctx_free(c);
        return;
    }
    json_t *ws = NULL;
    int rc = ad_store_workspace_get(c->W->store, ad_wtree_jstr(c->wt, "workspaceId"), &ws);
    if (rc != 0) {
        ad_wtree_fail(c, rc, NULL, "cannot read the worktree's workspace");
        ad_wtree_ctx_free(c);
        return;
    }
    c->ws = ws;
    json_t *heads = ad_wtree_merged_heads(c->W, ad_wtree_jstr(c->wt, "id"));
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(c->ws, "path"),
                       .path = ad_wtree_jstr(c->wt, "path"),
                       .force = c->force,
                       .base = ad_wtree_jstr(c->wt, "baseBranch"),
                       .merged = heads};
    ad_wtree_queue(c, AD_GIT_OP_REMOVE, &a, removed);
    json_decref(heads);
}

static void agent_stopped(int rc, json_t *result, const char *msg, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    AD_UNUSED(result); /* borrowed */
    if (rc != 0 && rc != AD_ENOENT && c->stop_rc == 0) {
        ad_log(AD_LOG_WARN, "wtree", "stopping an agent before a worktree delete failed msg=\"%s\"",
               msg ? msg : ad_strerror(rc));
        c->stop_rc = rc;
    }
    if (--c->stopping > 0) {
        return;
    }
    if (ad_wtree_still_open(c)) {
        remove_files(c);
    }
}

/* The agents of wt that are alive (running, or between turns (waiting) or
 * paused with a process) as [{id, name, status}] into *out; 0 or the
 * store's error. */
static int alive_agents(ad_wtree_t *W, json_t *wt, json_t **out)
{
    json_t *agents = NULL;
    int rc = ad_store_agent_list(W->store, ad_wtree_jstr(wt, "id"), NULL, false, "", &agents);
    if (rc != 0) {
        return rc;
    }
    json_t *running = json_array();
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(agents, "agents"), k, a)
    {
        const char *st = ad_wtree_jstr(a, "status");
        if (st != NULL && (strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0 ||
                           strcmp(st, "paused") == 0)) {
            json_array_append_new(running,
                                  json_pack("{s:s?, s:s?, s:s}", "id", ad_wtree_jstr(a, "id"),
                                            "name", ad_wtree_jstr(a, "name"), "status", st));
        }
    }
    json_decref(agents);
    *out = running;
    return 0;
}

/* Stops the agents running in c->wt (gracefully, as a user's stop would),
 * then removes the files. */
static void stop_agents(ad_wtree_ctx_t *c)
{
    json_t *running = NULL;
    int rc = alive_agents(c->W, c->wt, &running);
    if (rc != 0) {
        ad_wtree_fail(c, rc, NULL, "cannot read the worktree's agents");
        ad_wtree_ctx_free(c);
        return;
    }
    if (json_array_size(running) > 0 && c->W->runner == NULL) {
        ad_wtree_fail(c, AD_ESTATE, json_pack("{s:s}", "reason", "agents_running"),
                      "agents are running in this worktree and no supervisor can stop them");
        ad_wtree_ctx_free(c);
        json_decref(running);
        return;
    }
    /* Count first so a stop that completes at once cannot finish early. */
    c->stopping = 1;
    size_t i;
    json_t *v;
    json_array_foreach(running, i, v)
    {
        c->stopping++;
        if (ad_runner_stop(c->W->runner, ad_wtree_jstr(v, "id"), false, agent_stopped, c) != 0) {
            c->stopping--; /* not running after all: nothing to wait for */
        }
    }
    json_decref(running);
    agent_stopped(0, NULL, NULL, c);
}

/* The refusal check came back: refuse, or go on to stop and remove. */
static void delete_checked(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    json_decref(c->ws);
    c->ws = NULL;
    stop_agents(c);
}

/* Refuses (AD_ESTATE, the agents in details) while agents of c->wt run
 * and the caller did not ask to stop them; true when it did. */
static bool refuse_running(ad_wtree_ctx_t *c)
{
    json_t *running = NULL;
    int rc = alive_agents(c->W, c->wt, &running);
    if (rc != 0) {
        ad_wtree_fail(c, rc, NULL, "cannot read the worktree's agents");
        ad_wtree_ctx_free(c);
        return true;
    }
    size_t n = json_array_size(running);
    if (n == 0) {
        json_decref(running);
        return false;
    }
    char names[512] = "";
    size_t len = 0, i;
    json_t *a;
    json_array_foreach(running, i, a)
    {
        int k = snprintf(names + len, sizeof(names) - len, "%s%s (%s)", i > 0 ? ", " : "",
                         ad_wtree_jstr(a, "name"), ad_wtree_jstr(a, "status"));
        if (k < 0 || (size_t)k >= sizeof(names) - len) {
            break; /* the rest are in details */
        }
        len += (size_t)k;
    }
    ad_wtree_fail(c, AD_ESTATE,
                  json_pack("{s:s, s:o}", "reason", "agents_running", "agents", running),
                  "%zu agent%s of this worktree %s: %s; stop %s first, or delete with "
                  "stop=true to stop %s and archive them",
                  n, n == 1 ? "" : "s", n == 1 ? "runs" : "run", names, n == 1 ? "it" : "them",
                  n == 1 ? "it" : "them");
    ad_wtree_ctx_free(c);
    return true;
}

void ad_wtree_delete(ad_wtree_t *W, json_t *wt, bool force, bool stop, ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->wt = json_incref(wt);
    c->force = force;
    if (!stop && refuse_running(c)) {
        return;
    }
    json_t *ws = NULL;
    if (force || ad_store_workspace_get(W->store, ad_wtree_jstr(wt, "workspaceId"), &ws) != 0) {
        stop_agents(c); /* forced (or no workspace row: the removal reports it) */
        return;
    }
    c->ws = ws;
    /* A merged worktree (recorded, or its tree on the base) is no work lost. */
    json_t *heads = ad_wtree_merged_heads(W, ad_wtree_jstr(wt, "id"));
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(ws, "path"),
                       .path = ad_wtree_jstr(wt, "path"),
                       .base = ad_wtree_jstr(wt, "baseBranch"),
                       .merged = heads};
    ad_wtree_queue(c, AD_GIT_OP_REMOVE_CHECK, &a, delete_checked);
    json_decref(heads);
}

/* ---- checkout and reads ------------------------------------------------------------------ */

static void branch_saved(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    json_t *wt = rc == 0 ? json_object_get(result, "worktree") : c->wt;
    if (rc == 0) {
        ad_wtree_publish(c->W, "worktree_updated", "branch", wt);
    }
    json_t *out = json_pack("{s:O, s:O}", "worktree", wt, "checkout", c->git);
    ad_wtree_finish(c, out);
    json_decref(out);
    json_decref(result);
}

static void checked_out(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args =
        json_pack("{s:s?, s:I, s:s?}", "id", ad_wtree_jstr(c->wt, "id"), "now",
                  (json_int_t)ad_wall_ms(), "branch", ad_wtree_jstr(res->data, "branch"));
    ad_store_write(c->W->store, ad_store_op_worktree_update, args, branch_saved, c);
}

void ad_wtree_checkout(ad_wtree_t *W, json_t *wt, const char *branch, bool create, ad_wtree_cb cb,
                       void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->wt = json_incref(wt);
    ad_git_args_t a = {
        .path = ad_wtree_jstr(wt, "path"), .branch = branch, .create_branch = create};
    ad_wtree_queue(c, AD_GIT_OP_CHECKOUT, &a, checked_out);
}

static void read_done(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (res->rc != 0) {
        ad_wtree_git_fail(c, res);
        ad_wtree_ctx_free(c);
    } else {
        ad_wtree_finish(c, res->data);
    }
}

void ad_wtree_read(ad_wtree_t *W, json_t *wt, ad_git_op_t op, const char *file, ad_wtree_cb cb,
                   void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->wt = json_incref(wt);
    ad_git_args_t a = {.path = ad_wtree_jstr(wt, "path"), .file = file};
    ad_wtree_queue(c, op, &a, read_done);
}
