/* SPDX-License-Identifier: MIT */
/*
 * Workspaces (wtree.h, "workspaces"): registering a git work tree with
 * every worktree git lists, who may register which path (admin, or a write
 * token under the org's workspace_roots), and a refresh that makes the rows
 * follow what git lists, each change published.
 */
#include "wtree/wtree_int.h"
#include "tables/gitrows.h"
#include "tables/settings.h"
#include "tables/workspaces.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- who may register which path ----------------------------------------------------
 * A workspace's files are read and served to its org, so registering one
 * is the owner's business, or an admin's of the owner's org; any other org
 * (its admins included, issue #73) registers only within a root the owner
 * allowed for it (the workspace_roots setting: {orgId: [absolute
 * folders]}). Paths are compared after realpath, on both sides. */
static bool under_root(const char *real, const char *root)
{
    char rr[PATH_MAX];
    if (realpath(root, rr) == NULL) {
        return false;
    }
    size_t n = strlen(rr);
    while (n > 1 && rr[n - 1] == '/') {
        n--;
    }
    return strncmp(real, rr, n) == 0 && (real[n] == '\0' || real[n] == '/' || n == 1);
}

bool ad_wtree_path_allowed(ad_wtree_t *W, const ad_principal_t *who, const char *org,
                           const char *path)
{
    if (who->owner || (ad_principal_can(who, AD_SCOPE_ADMIN) && org != NULL &&
                       strcmp(org, AD_ORG_DEFAULT) == 0)) {
        return true;
    }
    char real[PATH_MAX];
    if (path == NULL || W->store == NULL || realpath(path, real) == NULL) {
        return false;
    }
    json_t *settings = NULL;
    bool ok = false;
    if (ad_store_settings_get(W->store, &settings) == 0) {
        json_t *roots = json_object_get(json_object_get(settings, "workspace_roots"), org);
        size_t i;
        json_t *v;
        json_array_foreach(roots, i, v)
        {
            ok |= json_is_string(v) && under_root(real, json_string_value(v));
        }
    }
    json_decref(settings);
    return ok;
}

/* ---- create -------------------------------------------------------------------------------- */

/* Whether the workspace at path is one who sees: a conflict names the
 * path only then (another org's path is none of its business). */
static bool path_seen(ad_wtree_t *W, const ad_principal_t *who, const char *path)
{
    if (who->owner) {
        return true;
    }
    json_t *list = NULL;
    bool seen = false;
    if (path != NULL && ad_store_workspace_paths(W->store, who->org_id, &list) == 0) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(list, "workspaces"), i, v)
        {
            const char *p = ad_wtree_jstr(v, "path");
            seen |= p != NULL && strcmp(p, path) == 0;
        }
    }
    json_decref(list);
    return seen;
}

static void ws_created(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    const char *path = ad_wtree_jstr(c->git, "path");
    if (rc == AD_EEXIST && path_seen(c->W, &c->who, path)) {
        ad_wtree_fail(c, rc, json_pack("{s:s, s:s?}", "field", "path", "path", path),
                      "a workspace for %s already exists", path);
    } else if (rc == AD_EEXIST) {
        ad_wtree_fail(c, rc, json_pack("{s:s}", "field", "path"),
                      "that repository is already a workspace");
    } else if (rc != 0) {
        ad_wtree_fail(c, rc, NULL, "cannot save the workspace");
    } else {
        json_t *ws = json_incref(json_object_get(result, "workspace"));
        json_t *wts = json_object_get(result, "worktrees");
        json_t *p = json_pack("{s:O, s:O, s:O}", "workspace", ws, "worktree",
                              json_array_get(wts, 0), "worktrees", wts);
        ad_wtree_emit(c->W, "workspace_created", p, "workspace", ad_wtree_jstr(ws, "id"), "system",
                      "", "org", ad_wtree_jstr(ws, "orgId"), NULL);
        json_decref(p);
        json_object_set(ws, "worktrees", wts);
        ad_wtree_done(c, ws);
        json_decref(ws);
    }
    json_decref(result);
    ad_wtree_ctx_free(c);
}

static void ws_listed(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
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
        const char *branch = ad_wtree_jstr(v, "branch");
        json_array_append_new(linked, json_pack("{s:s, s:s?, s:s, s:s?}", "id", id, "name",
                                                ad_wtree_jstr(v, "name"), "branch",
                                                branch != NULL ? branch : "", "path",
                                                ad_wtree_jstr(v, "path")));
    }
    const char *name = ad_wtree_jstr(c->body, "name");
    const char *branch = ad_wtree_jstr(main, "branch");
    json_t *args =
        json_pack("{s:s, s:s?, s:s?, s:I, s:s, s:s, s:o}", "id", ws_id, "name",
                  name != NULL ? name : ad_wtree_jstr(c->git, "name"), "path",
                  ad_wtree_jstr(c->git, "path"), "now", (json_int_t)ad_wall_ms(), "worktreeId",
                  wt_id, "branch", branch != NULL ? branch : "", "linked", linked);
    if (args == NULL) { /* a name or path that is not UTF-8 */
        ad_wtree_fail(c, AD_EINVAL, json_pack("{s:s}", "field", "path"),
                      "the repository's paths must be UTF-8");
        ad_wtree_ctx_free(c);
        return;
    }
    if (json_object_get(c->body, "setupFiles") != NULL) {
        json_object_set(args, "setupFiles", json_object_get(c->body, "setupFiles"));
    }
    if (ad_wtree_jstr(c->body, "setupCommand") != NULL) {
        json_object_set(args, "setupCommand", json_object_get(c->body, "setupCommand"));
    }
    json_object_set_new(args, "orgId",
                        json_string(c->id)); /* ad_wtree_ws_create put the org there */
    ad_store_write(c->W->store, ad_store_op_workspace_git_create, args, ws_created, c);
}

static void ws_opened(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (res->rc != 0) {
        ad_wtree_git_fail(c, res);
        ad_wtree_ctx_free(c);
        return;
    }
    /* git finds a repository upwards too: what it found must be allowed */
    if (!ad_wtree_path_allowed(c->W, &c->who, c->id, ad_wtree_jstr(res->data, "path"))) {
        ad_wtree_fail(c, AD_EPERM,
                      json_pack("{s:s, s:s}", "field", "path", "needed", "workspace_roots"),
                      "this path is under none of the organisation's workspace_roots (the owner "
                      "sets them); elsewhere only the owner organisation's admins register");
        ad_wtree_ctx_free(c);
        return;
    }
    /* nobody, the owner included, registers a data dir (issue #73) */
    const char *why = ad_wtree_data_dir_repo(c->W, ad_wtree_jstr(res->data, "path"));
    if (why != NULL) {
        ad_wtree_fail(c, AD_EPERM, json_pack("{s:s}", "field", "path"), "%s", why);
        ad_wtree_ctx_free(c);
        return;
    }
    c->git = json_incref(res->data);
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(c->git, "path")};
    ad_wtree_queue(c, AD_GIT_OP_LIST, &a, ws_listed);
}

void ad_wtree_ws_create(ad_wtree_t *W, const ad_principal_t *who, const char *org, json_t *body,
                        ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->body = json_incref(body);
    c->who = *who;
    snprintf(c->id, sizeof(c->id), "%s", org);
    ad_git_args_t a = {.path = ad_wtree_jstr(body, "path")};
    ad_wtree_queue(c, AD_GIT_OP_OPEN, &a, ws_opened);
}

/* ---- refresh ------------------------------------------------------------------------------- */

static void ws_synced(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc != 0) {
        ad_wtree_fail(c, rc, NULL, "cannot save the refreshed worktrees");
        json_decref(result);
        ad_wtree_ctx_free(c);
        return;
    }
    const char *ws_id = ad_wtree_jstr(c->ws, "id");
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
                    ad_wtree_publish(c->W, k == 0 ? "worktree_created" : "worktree_updated",
                                     k == 0 ? NULL : (k == 1 ? "branch" : kinds[k]), row);
                }
            }
        }
    }
    size_t i;
    json_t *v;
    const char *org = ad_wtree_jstr(c->ws, "orgId");
    json_array_foreach(json_object_get(changes, "removed"), i, v)
    {
        ad_wtree_publish_deleted(c->W, ad_wtree_jstr(v, "id"), ws_id, org, NULL);
    }
    json_array_foreach(json_object_get(changes, "flaggedAgents"), i, v)
    {
        ad_wtree_publish_agent_flag(c->W, json_string_value(v), ws_id, org, true);
    }
    json_array_foreach(json_object_get(changes, "unflaggedAgents"), i, v)
    {
        ad_wtree_publish_agent_flag(c->W, json_string_value(v), ws_id, org, false);
    }
    json_t *p = json_deep_copy(json_object_get(result, "workspace"));
    json_object_set(p, "changes", changes);
    ad_wtree_emit(c->W, "workspace_updated", p, "workspace", ws_id, "org", org, NULL);
    json_decref(p);
    json_t *ws = json_incref(json_object_get(result, "workspace"));
    json_object_set(ws, "worktrees", rows);
    json_object_set(ws, "changes", changes);
    ad_wtree_finish(c, ws);
    json_decref(ws);
    json_decref(result);
}

static void ws_relisted(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_still_open(c)) {
        return;
    }
    if (res->rc == AD_ENOENT || res->rc == AD_EINVAL || res->rc == AD_ESTATE) {
        ad_wtree_fail(c, AD_ESTATE,
                      json_pack("{s:s, s:s?}", "reason", res->err.reason, "path",
                                ad_wtree_jstr(c->ws, "path")),
                      "the workspace's repository is unusable: %s", res->err.msg);
        ad_wtree_ctx_free(c);
        return;
    }
    if (res->rc != 0) {
        ad_wtree_git_fail(c, res);
        ad_wtree_ctx_free(c);
        return;
    }
    json_t *args =
        json_pack("{s:s?, s:I, s:O}", "workspaceId", ad_wtree_jstr(c->ws, "id"), "now",
                  (json_int_t)ad_wall_ms(), "worktrees", json_object_get(res->data, "worktrees"));
    ad_store_write(c->W->store, ad_store_op_workspace_git_sync, args, ws_synced, c);
}

void ad_wtree_ws_refresh(ad_wtree_t *W, json_t *ws, ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->ws = json_incref(ws);
    ad_git_args_t a = {.repo_path = ad_wtree_jstr(ws, "path")};
    ad_wtree_queue(c, AD_GIT_OP_LIST, &a, ws_relisted);
}
