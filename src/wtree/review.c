/* SPDX-License-Identifier: MIT */
/*
 * Review and merge of a worktree (wtree.h, "review and merge"): the diff
 * and commits against a base with what agentd recorded merging, a squash
 * found on the base by its tree recorded like agentd's own merges, and the
 * writes (commit, merge, rebase, push) published as worktree_updated, a
 * merge recorded first. Which ref a request may name is checked by the
 * caller (src/api/review.c).
 */
#include "wtree/wtree_int.h"
#include "tables/gitrows.h"
#include "tables/llm.h"
#include "tables/workspaces.h"

#include <stdio.h>
#include <string.h>

json_t *ad_wtree_merged_heads(ad_wtree_t *W, const char *wt_id)
{
    json_t *list = NULL, *heads = json_array();
    if (W->store == NULL || ad_store_worktree_merges(W->store, wt_id, &list) != 0) {
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
static void add_recorded(ad_wtree_t *W, json_t *wt, json_t *out)
{
    json_t *verdict = json_object_get(out, "merged");
    json_t *list = NULL;
    const char *head = ad_wtree_jstr(out, "head");
    if (!json_is_true(json_object_get(verdict, "merged")) || head == NULL ||
        ad_store_worktree_merges(W->store, ad_wtree_jstr(wt, "id"), &list) != 0) {
        return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(list, "merges"), i, m)
    {
        const char *h = ad_wtree_jstr(m, "head");
        if (h != NULL && strcmp(h, head) == 0) {
            json_object_set(verdict, "record", m);
            break;
        }
    }
    json_decref(list);
}

static void tree_recorded(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    json_t *verdict = json_object_get(c->git, "merged");
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "wtree", "merge found by tree not recorded worktree=%s error=%s",
               ad_wtree_jstr(c->wt, "id"), ad_errname(rc));
    } else {
        json_object_set(verdict, "record", json_object_get(result, "merge"));
    }
    json_decref(result);
    if (ad_wtree_still_open(c)) {
        ad_wtree_finish(c, c->git);
    }
}

/* A squash landed on the base elsewhere, found by its tree, is recorded like
 * agentd's own merges (strategy "tree"): the worktree keeps reading merged
 * once the base moves on. False when there is nothing to record. out is
 * taken either way. */
static bool record_tree_merge(ad_wtree_ctx_t *c, json_t *out)
{
    json_t *verdict = json_object_get(out, "merged");
    const char *how = ad_wtree_jstr(verdict, "how");
    const char *against = ad_wtree_jstr(out, "against"), *base = ad_wtree_jstr(c->wt, "baseBranch");
    c->git = out;
    /* Only a landing on the base counts: a ref typed for a look proves less. */
    if (how == NULL || strcmp(how, "tree") != 0 || json_object_get(verdict, "record") != NULL ||
        against == NULL || base == NULL || strcmp(against, base) != 0) {
        return false;
    }
    const char *branch = ad_wtree_jstr(c->wt, "branch");
    char id[AD_ID_MAX];
    ad_id_new("mg", id);
    json_t *args = json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s?, s:s?, s:I}", "id", id, "worktreeId",
                             ad_wtree_jstr(c->wt, "id"), "branch", branch != NULL ? branch : "",
                             "into", ad_wtree_jstr(out, "against"), "strategy", "tree", "head",
                             ad_wtree_jstr(out, "head"), "commit", ad_wtree_jstr(verdict, "commit"),
                             "now", (json_int_t)ad_wall_ms());
    if (args == NULL) {
        return false;
    }
    ad_store_write(c->W->store, ad_store_op_worktree_merge_insert, args, tree_recorded, c);
    return true;
}

static void read_done(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    json_t *out = json_deep_copy(res->data);
    json_object_set(out, "baseBranch", json_object_get(c->wt, "baseBranch"));
    add_recorded(c->W, c->wt, out);
    if (!record_tree_merge(c, out)) {
        ad_wtree_finish(c, c->git);
    }
}

/* ---- review while the worktree is on a node ---------------------------------------------- */

/* The node's answer, against the merge base found here, said as the review
 * against ref would say it once the node's work is home: named ref, ref's
 * commit and how far behind HEAD is (the node's commits are not on ref, so
 * both are this copy's), merged only when the node has nothing new. */
static void node_read_done(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    json_t *out = json_deep_copy(res->data), *here = c->git;
    if (json_object_get(out, "against") != NULL) {
        json_object_set(out, "against", json_object_get(c->body, "against"));
    }
    if (json_object_get(here, "againstCommit") != NULL) {
        const char *h = ad_wtree_jstr(here, "head"), *n = ad_wtree_jstr(out, "head");
        bool same = h != NULL && n != NULL && strcmp(h, n) == 0;
        json_object_set(out, "againstCommit", json_object_get(here, "againstCommit"));
        json_object_set(out, "behind", json_object_get(here, "behind"));
        json_object_set_new(out, "merged",
                            same ? json_incref(json_object_get(here, "merged"))
                                 : json_pack("{s:b}", "merged", false));
    }
    json_object_set(out, "baseBranch", json_object_get(c->wt, "baseBranch"));
    add_recorded(c->W, c->wt, out);
    ad_wtree_finish(c, out);
    json_decref(out);
}

/* The merge base of the worktree's copy here and ref, found here: the node's
 * commits come after it (its worktree was made from this copy's HEAD), so
 * the node answers against it, a commit it has, never a name. */
static void base_found(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    c->git = json_deep_copy(res->data);
    bool review = json_is_true(json_object_get(c->body, "review"));
    ad_git_args_t a = {.path = ad_wtree_jstr(c->wt, "path"),
                       .base = ad_wtree_jstr(c->git, "mergeBase"),
                       .file = ad_wtree_jstr(c->body, "file")};
    c->node_read = true;
    ad_wtree_queue(c, review ? AD_GIT_OP_REVIEW : AD_GIT_OP_COMMITS, &a, node_read_done);
}

static void review_on_node(ad_wtree_ctx_t *c, ad_git_op_t op, const char *ref, const char *file)
{
    c->body = json_pack("{s:s, s:s?, s:b}", "against", ref, "file", file, "review",
                        op == AD_GIT_OP_REVIEW);
    /* a review of the whole worktree has its ref's commit and how far
     * behind from here; a commit list or one file's patch needs only the
     * merge base */
    bool whole = op == AD_GIT_OP_REVIEW && file == NULL;
    json_t *heads = whole ? ad_wtree_merged_heads(c->W, ad_wtree_jstr(c->wt, "id")) : NULL;
    ad_git_args_t a = {.path = ad_wtree_jstr(c->wt, "path"), .base = ref, .merged = heads};
    ad_wtree_queue(c, whole ? AD_GIT_OP_REVIEW : AD_GIT_OP_COMMITS, &a, base_found);
    json_decref(heads);
}

void ad_wtree_review(ad_wtree_t *W, json_t *wt, ad_git_op_t op, const char *ref, const char *file,
                     ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->wt = json_incref(wt);
    if (ad_wtree_on_node(W, ad_wtree_jstr(wt, "path"))) {
        review_on_node(c, op, ref, file);
        return;
    }
    ad_git_args_t a = {.path = ad_wtree_jstr(wt, "path"), .base = ref};
    json_t *heads = NULL;
    if (op == AD_GIT_OP_REVIEW) {
        a.file = file;
        heads = ad_wtree_merged_heads(W, ad_wtree_jstr(wt, "id"));
        a.merged = heads;
    }
    ad_wtree_queue(c, op, &a, read_done);
    json_decref(heads);
}

/* ---- writes ------------------------------------------------------------------------------ */

/* Tells the worktree that has the base checked out that it moved. */
static void publish_target(ad_wtree_t *W, json_t *wt, const char *target_path)
{
    json_t *list = NULL;
    if (target_path == NULL ||
        ad_store_worktree_list(W->store, ad_wtree_jstr(wt, "workspaceId"), "", &list) != 0) {
        return;
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(list, "worktrees"), i, w)
    {
        const char *p = ad_wtree_jstr(w, "path");
        if (p != NULL && strcmp(p, target_path) == 0) {
            ad_wtree_publish(W, "worktree_updated", "merged_into", w);
        }
    }
    json_decref(list);
}

/* The outcome of a write: published, then given. */
static void write_answer(ad_wtree_ctx_t *c, json_t *data)
{
    json_t *row = json_deep_copy(c->wt);
    json_object_set(row, "git", data);
    ad_wtree_publish(c->W, "worktree_updated", c->change, row);
    json_decref(row);
    if (strcmp(c->change, "merge") == 0 && json_is_true(json_object_get(data, "merged"))) {
        publish_target(c->W, c->wt, ad_wtree_jstr(data, "targetWorktree"));
    }
    ad_wtree_finish(c, data);
}

static void merge_recorded(int rc, json_t *result, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc != 0) {
        /* The branch moved already; only the record is missing, and a
         * squash landed there is still found by its tree. */
        ad_log(AD_LOG_WARN, "wtree", "merge not recorded worktree=%s error=%s",
               ad_wtree_jstr(c->wt, "id"), ad_errname(rc));
    } else {
        json_object_set(c->git, "record", json_object_get(result, "merge"));
    }
    json_decref(result);
    if (ad_wtree_still_open(c)) {
        write_answer(c, c->git);
    }
}

static void write_done(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    if (strcmp(c->change, "merge") != 0 || !json_is_true(json_object_get(res->data, "merged"))) {
        write_answer(c, res->data);
        return;
    }
    /* A merge is recorded (what, how, into what, when) before the outcome. */
    c->git = json_deep_copy(res->data);
    char id[AD_ID_MAX];
    ad_id_new("mg", id);
    json_t *args =
        json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:I}", "id", id, "worktreeId",
                  ad_wtree_jstr(c->wt, "id"), "branch", ad_wtree_jstr(c->git, "branch"), "into",
                  ad_wtree_jstr(c->git, "into"), "strategy", ad_wtree_jstr(c->git, "strategy"),
                  "head", ad_wtree_jstr(c->git, "head"), "commit", ad_wtree_jstr(c->git, "commit"),
                  "previous", ad_wtree_jstr(c->git, "previous"), "now", (json_int_t)ad_wall_ms());
    ad_store_write(c->W->store, ad_store_op_worktree_merge_insert, args, merge_recorded, c);
}

void ad_wtree_write(ad_wtree_t *W, json_t *wt, const char *change, ad_git_op_t op,
                    const ad_git_args_t *a, ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->wt = json_incref(wt);
    snprintf(c->change, sizeof(c->change), "%s", change);
    ad_wtree_queue(c, op, a, write_done);
}

/* ---- a project's files committed into a worktree ------------------------------------------ */

static void files_committed(const ad_git_result_t *res, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (!ad_wtree_step_ok(c, res)) {
        return;
    }
    json_t *row = json_deep_copy(c->wt);
    json_object_set(row, "git", res->data);
    ad_wtree_publish(c->W, "worktree_updated", "commit", row);
    json_decref(row);
    json_t *out = json_deep_copy(res->data);
    json_object_set_new(out, "projectId", json_string(c->id));
    json_object_set(out, "worktreeId", json_object_get(c->wt, "id"));
    ad_wtree_finish(c, out);
    json_decref(out);
}

static void project_loaded(int rc, json_t *p, void *ud)
{
    ad_wtree_ctx_t *c = ud;
    if (rc != 0) {
        ad_wtree_fail_store(c, rc, "project", c->id);
        ad_wtree_ctx_free(c);
        json_decref(p);
        return;
    }
    json_t *files = json_object_get(p, "files");
    char msg[AD_WTREE_COMMIT_MESSAGE_MAX + 300];
    const char *m = ad_wtree_jstr(c->body, "message");
    if (m == NULL) {
        snprintf(msg, sizeof(msg), "Add project %s", ad_wtree_jstr(p, "name"));
        m = msg;
    }
    if (json_array_size(files) == 0) {
        ad_wtree_fail(c, AD_ESTATE, json_pack("{s:s}", "reason", "no_files"),
                      "the project has no files");
        ad_wtree_ctx_free(c);
    } else {
        ad_git_args_t a = {.path = ad_wtree_jstr(c->wt, "path"),
                           .file = ad_wtree_jstr(c->body, "path"),
                           .files = files,
                           .message = m};
        ad_wtree_queue(c, AD_GIT_OP_COMMIT_FILES, &a, files_committed);
    }
    json_decref(p);
}

void ad_wtree_commit_project(ad_wtree_t *W, json_t *wt, const char *project_id, json_t *body,
                             ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_wtree_ctx_t *c = ad_wtree_ctx_new(W, cb, ud);
    c->wt = json_incref(wt);
    c->body = json_incref(body);
    snprintf(c->id, sizeof(c->id), "%s", project_id);
    ad_store_project_load(W->store, c->id, project_loaded, c);
}
