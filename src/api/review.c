/* SPDX-License-Identifier: MIT */
/*
 * /api/worktrees/:id review and merge: the diff against a base
 * (GET .../diff?against=base|<ref>), the commits since the merge base
 * (GET .../commits), and the writes: commit, merge, rebase (WRITE: libgit2
 * in memory, no hooks) and push (ADMIN: it runs git's transport, which may
 * start ssh, credential helpers and the pre-push hook). Every ref a user
 * gives is checked (ad_git_ref_valid) before git sees it. Events:
 * worktree_updated {row, change: commit|merge|rebase|push, git: result}
 * on the worktree (and change "merged_into" on the worktree that has the
 * base checked out). A merge is recorded (GET .../merges) so a squashed
 * worktree reads merged and its removal needs no force. No git and no SQL
 * here.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 20000

/* The ref a request names: absent or "base" is the worktree's base branch.
 * NULL after answering 422. Borrowed from given or wt. */
static const char *ref_arg(ad_req_t *req, json_t *wt, const char *given, const char *field)
{
    char why[200];
    const char *ref = given;
    if (ref == NULL || strcmp(ref, "base") == 0) {
        ref = ad_api_jstr(wt, "baseBranch");
        if (ref == NULL || ref[0] == '\0') {
            ad_res_error(req, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", field, "reason", "no_base"),
                         "this worktree has no base branch; name one with %s", field);
            return NULL;
        }
    }
    if (!ad_git_ref_valid(ref, why, sizeof(why))) {
        ad_res_error(req, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", field, "reason", "invalid_ref"), "%s: %s",
                     field, why);
        return NULL;
    }
    return ref;
}

/* A ref that names nothing is the request's mistake (422), not a 404 of
 * the worktree. */
static void reply_git_error(ad_req_t *req, const ad_git_result_t *res, const char *field)
{
    const char *reason = res->err.reason;
    if (res->rc == AD_ENOENT &&
        (strcmp(reason, "unknown_ref") == 0 || strcmp(reason, "unknown_branch") == 0)) {
        ad_res_error(req, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", field, "reason", reason), "%s", res->err.msg);
        return;
    }
    ad_api_git_reply_error(req, res, false);
}

json_t *ad_api_merged_heads(ad_app_t *app, const char *wt_id)
{
    json_t *list = NULL, *heads = json_array();
    if (ad_store_worktree_merges(app->store, wt_id, &list) != 0) {
        return heads;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(list, "merges"), i, m)
    {
        json_array_append(heads, json_object_get(m, "head"));
    }
    json_decref(list);
    return heads;
}

/* The recorded merge of the review's HEAD joins git's "merged" verdict
 * (what merged, how, into what, when). */
static void add_recorded(ad_app_t *app, json_t *wt, json_t *out)
{
    json_t *verdict = json_object_get(out, "merged");
    json_t *list = NULL;
    const char *head = ad_api_jstr(out, "head");
    if (!json_is_true(json_object_get(verdict, "merged")) || head == NULL ||
        ad_store_worktree_merges(app->store, ad_api_jstr(wt, "id"), &list) != 0) {
        return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(list, "merges"), i, m)
    {
        const char *h = ad_api_jstr(m, "head");
        if (h != NULL && strcmp(h, head) == 0) {
            json_object_set(verdict, "record", m);
            break;
        }
    }
    json_decref(list);
}

static void tree_recorded(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    json_t *verdict = json_object_get(c->git, "merged");
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "api", "merge found by tree not recorded worktree=%s error=%s",
               ad_api_jstr(c->wt, "id"), ad_errname(rc));
    } else {
        json_object_set(verdict, "record", json_object_get(result, "merge"));
    }
    json_decref(result);
    if (ad_api_gctx_still_open(c)) {
        ad_res_json(c->req, 200, json_incref(c->git));
        ad_api_gctx_free(c);
    }
}

/* A squash landed on the base elsewhere, found by its tree, is recorded like
 * agentd's own merges (strategy "tree"): the worktree keeps reading merged
 * once the base moves on. False when there is nothing to record. */
static bool record_tree_merge(ad_api_gctx_t *c, json_t *out)
{
    json_t *verdict = json_object_get(out, "merged");
    const char *how = ad_api_jstr(verdict, "how");
    const char *against = ad_api_jstr(out, "against"), *base = ad_api_jstr(c->wt, "baseBranch");
    /* Only a landing on the base counts: a ref typed for a look proves less. */
    if (how == NULL || strcmp(how, "tree") != 0 || json_object_get(verdict, "record") != NULL ||
        against == NULL || base == NULL || strcmp(against, base) != 0) {
        return false;
    }
    const char *branch = ad_api_jstr(c->wt, "branch");
    char id[AD_ID_MAX];
    ad_id_new("mg", id);
    json_t *args =
        json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s?, s:s?, s:I}", "id", id, "worktreeId",
                  ad_api_jstr(c->wt, "id"), "branch", branch != NULL ? branch : "", "into",
                  ad_api_jstr(out, "against"), "strategy", "tree", "head", ad_api_jstr(out, "head"),
                  "commit", ad_api_jstr(verdict, "commit"), "now", (json_int_t)ad_wall_ms());
    if (args == NULL) {
        return false;
    }
    c->git = out;
    ad_store_write(c->app->store, ad_store_op_worktree_merge_insert, args, tree_recorded, c);
    return true;
}

static void read_done(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (res->rc != 0) {
        reply_git_error(c->req, res, "against");
    } else {
        json_t *out = json_deep_copy(res->data);
        json_object_set(out, "baseBranch", json_object_get(c->wt, "baseBranch"));
        add_recorded(c->app, c->wt, out);
        if (record_tree_merge(c, out)) {
            return;
        }
        ad_res_json(c->req, 200, out);
    }
    ad_api_gctx_free(c);
}

/* GET diff?against= and commits: one git read against a ref. */
static void review_read(ad_req_t *req, ad_app_t *app, ad_git_op_t op)
{
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    const char *ref = ref_arg(req, wt, ad_req_query(req, "against"), "against");
    if (ref == NULL) {
        json_decref(wt);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    ad_git_args_t a = {.path = ad_api_jstr(wt, "path"), .base = ref};
    json_t *heads = NULL;
    if (op == AD_GIT_OP_REVIEW) {
        a.file = ad_req_query(req, "path");
        heads = ad_api_merged_heads(app, ad_api_jstr(wt, "id"));
        a.merged = heads;
    }
    ad_api_git_queue(c, op, &a, read_done);
    json_decref(heads);
}

void ad_api_wt_review(ad_req_t *req, ad_app_t *app)
{
    review_read(req, app, AD_GIT_OP_REVIEW);
}

static void wt_commits(ad_req_t *req, void *ud)
{
    review_read(req, ud, AD_GIT_OP_COMMITS);
}

/* Tells the worktree that has the base checked out that it moved. */
static void publish_target(ad_app_t *app, json_t *wt, const char *target_path)
{
    json_t *list = NULL;
    if (target_path == NULL ||
        ad_store_worktree_list(app->store, ad_api_jstr(wt, "workspaceId"), "", &list) != 0) {
        return;
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(list, "worktrees"), i, w)
    {
        const char *p = ad_api_jstr(w, "path");
        if (p != NULL && strcmp(p, target_path) == 0) {
            ad_api_publish_wt(app, "worktree_updated", "merged_into", w);
        }
    }
    json_decref(list);
}

/* The outcome of a write: published, then answered. */
static void write_answer(ad_api_gctx_t *c, json_t *data)
{
    const char *change = c->id; /* what write_begin was asked for */
    json_t *row = json_deep_copy(c->wt);
    json_object_set(row, "git", data);
    ad_api_publish_wt(c->app, "worktree_updated", change, row);
    json_decref(row);
    if (strcmp(change, "merge") == 0 && json_is_true(json_object_get(data, "merged"))) {
        publish_target(c->app, c->wt, ad_api_jstr(data, "targetWorktree"));
    }
    ad_res_json(c->req, 200, json_incref(data));
    ad_api_gctx_free(c);
}

static void merge_recorded(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0) {
        /* The branch moved already; only the record is missing, and a
         * squash landed there is still found by its tree. */
        ad_log(AD_LOG_WARN, "api", "merge not recorded worktree=%s error=%s",
               ad_api_jstr(c->wt, "id"), ad_errname(rc));
    } else {
        json_object_set(c->git, "record", json_object_get(result, "merge"));
    }
    json_decref(result);
    if (ad_api_gctx_still_open(c)) {
        write_answer(c, c->git);
    }
}

static void write_done(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_gctx_still_open(c)) {
        return;
    }
    const char *change = c->id;
    if (res->rc != 0) {
        reply_git_error(c->req, res, strcmp(change, "rebase") == 0 ? "onto" : "into");
        ad_api_gctx_free(c);
        return;
    }
    if (strcmp(change, "merge") != 0 || !json_is_true(json_object_get(res->data, "merged"))) {
        write_answer(c, res->data);
        return;
    }
    /* A merge is recorded (what, how, into what, when) before the answer. */
    c->git = json_deep_copy(res->data);
    char id[AD_ID_MAX];
    ad_id_new("mg", id);
    json_t *args =
        json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:I}", "id", id, "worktreeId",
                  ad_api_jstr(c->wt, "id"), "branch", ad_api_jstr(c->git, "branch"), "into",
                  ad_api_jstr(c->git, "into"), "strategy", ad_api_jstr(c->git, "strategy"), "head",
                  ad_api_jstr(c->git, "head"), "commit", ad_api_jstr(c->git, "commit"), "previous",
                  ad_api_jstr(c->git, "previous"), "now", (json_int_t)ad_wall_ms());
    ad_store_write(c->app->store, ad_store_op_worktree_merge_insert, args, merge_recorded, c);
}

/* GET /api/worktrees/:id/merges: what agentd merged of this worktree,
 * newest first. */
static void wt_merges(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_worktree_merges(app->store, ad_api_jstr(wt, "id"), &out);
    json_decref(wt);
    if (rc != 0) {
        ad_api_fail(req, rc, "merges", ad_req_param(req, "id"));
        return;
    }
    ad_res_json(req, 200, out);
}

/* Reads the body and the worktree of a write; NULL after answering. */
static ad_api_gctx_t *write_begin(ad_req_t *req, ad_app_t *app, const char *change)
{
    bool failed = false;
    if (!ad_api_need_store(app, req)) {
        return NULL;
    }
    json_t *body = ad_api_body_optional(req, &failed);
    if (failed) {
        return NULL;
    }
    if (body == NULL) {
        body = json_object();
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        json_decref(body);
        return NULL;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    snprintf(c->id, sizeof(c->id), "%s", change);
    c->wt = wt;
    c->body = body;
    return c;
}

static void wt_commit(ad_req_t *req, void *ud)
{
    ad_api_gctx_t *c = write_begin(req, ud, "commit");
    const char *message = NULL;
    bool all = false;
    if (c == NULL) {
        return;
    }
    if (ad_api_str(req, c->body, "message", true, MESSAGE_MAX, &message) != 0 ||
        ad_api_bool(req, c->body, "all", &all, NULL) != 0) {
        ad_api_gctx_free(c);
        return;
    }
    if (message[0] == '\0') {
        ad_api_invalid(req, "message", "a commit message is required");
        ad_api_gctx_free(c);
        return;
    }
    ad_git_args_t a = {.path = ad_api_jstr(c->wt, "path"), .message = message, .force = all};
    ad_api_git_queue(c, AD_GIT_OP_COMMIT, &a, write_done);
}

static void wt_merge(ad_req_t *req, void *ud)
{
    ad_api_gctx_t *c = write_begin(req, ud, "merge");
    const char *into = NULL, *strategy = "merge", *message = NULL;
    if (c == NULL) {
        return;
    }
    if (ad_api_str(req, c->body, "into", false, 256, &into) != 0 ||
        ad_api_enum(req, c->body, "strategy", false, "merge,squash,rebase", &strategy) != 0 ||
        ad_api_str(req, c->body, "message", false, MESSAGE_MAX, &message) != 0 ||
        (into = ref_arg(req, c->wt, into, "into")) == NULL) {
        ad_api_gctx_free(c);
        return;
    }
    char why[200];
    if (!ad_git_branch_name_valid(into, why, sizeof(why))) {
        ad_api_invalid(req, "into", why);
        ad_api_gctx_free(c);
        return;
    }
    ad_git_args_t a = {.path = ad_api_jstr(c->wt, "path"),
                       .branch = into,
                       .name = strategy,
                       .message = message != NULL && message[0] != '\0' ? message : NULL};
    ad_api_git_queue(c, AD_GIT_OP_MERGE, &a, write_done);
}

static void wt_rebase(ad_req_t *req, void *ud)
{
    ad_api_gctx_t *c = write_begin(req, ud, "rebase");
    const char *onto = NULL;
    if (c == NULL) {
        return;
    }
    if (ad_api_str(req, c->body, "onto", false, 256, &onto) != 0 ||
        (onto = ref_arg(req, c->wt, onto, "onto")) == NULL) {
        ad_api_gctx_free(c);
        return;
    }
    ad_git_args_t a = {.path = ad_api_jstr(c->wt, "path"), .base = onto};
    ad_api_git_queue(c, AD_GIT_OP_REBASE, &a, write_done);
}

static void wt_push(ad_req_t *req, void *ud)
{
    ad_api_gctx_t *c = write_begin(req, ud, "push");
    const char *remote = NULL;
    char why[200];
    if (c == NULL) {
        return;
    }
    if (ad_api_str(req, c->body, "remote", false, 200, &remote) != 0) {
        ad_api_gctx_free(c);
        return;
    }
    /* A remote name follows the ref rules too: never an option or a URL. */
    if (remote != NULL && !ad_git_ref_valid(remote, why, sizeof(why))) {
        ad_api_invalid(req, "remote", why);
        ad_api_gctx_free(c);
        return;
    }
    ad_git_args_t a = {.path = ad_api_jstr(c->wt, "path"), .name = remote};
    ad_api_git_queue(c, AD_GIT_OP_PUSH, &a, write_done);
}

void ad_api_review_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/worktrees/:id/commits", AD_ACCESS_READ, wt_commits, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/merges", AD_ACCESS_READ, wt_merges, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/commit", AD_ACCESS_WRITE, wt_commit, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/merge", AD_ACCESS_WRITE, wt_merge, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/rebase", AD_ACCESS_WRITE, wt_rebase, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/push", AD_ACCESS_ADMIN, wt_push, app);
}
