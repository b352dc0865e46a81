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
 * worktree reads merged and its removal needs no force. The requests run
 * in src/wtree (review.c); this file checks the refs they name. No git and no SQL
 * here.
 */
#include "api/api_int.h"
#include "tables/gitrows.h"

/* A 422 for what src/wtree refused: a ref (no base to default to, or not
 * a valid ref) or another field. Returns -1. */
static int refused(ad_req_t *req, const ad_wtree_req_err_t *err)
{
    char msg[512];
    if (err->ref_reason == NULL) {
        return ad_api_invalid_err(req, &err->e);
    }
    ad_wtree_req_ref_why(err, msg, sizeof(msg));
    ad_res_error(req, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", err->e.field, "reason", err->ref_reason), "%s",
                 msg);
    return -1;
}

static void read_answered(void *ud, const ad_wtree_out_t *o)
{
    ad_api_wtree_reply(ud, o, 200, "against", false);
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
    const char *ref = NULL;
    ad_wtree_req_err_t err;
    if (ad_wtree_req_ref(wt, ad_req_query(req, "against"), "against", &ref, &err) != 0) {
        refused(req, &err);
    } else {
        ad_wtree_review(app->wtree, wt, op, ref, ad_req_query(req, "path"), read_answered, req);
    }
    json_decref(wt);
}

void ad_api_wt_review(ad_req_t *req, ad_app_t *app)
{
    review_read(req, app, AD_GIT_OP_REVIEW);
}

static void wt_commits(ad_req_t *req, void *ud)
{
    review_read(req, ud, AD_GIT_OP_COMMITS);
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
    ad_api_answer(req, rc, out, "merges", ad_req_param(req, "id"));
}

/* ---- writes: commit, merge, rebase, push ---------------------------------------------------- */

typedef struct {
    ad_app_t *app;
    json_t *body;
    json_t *wt;
} write_t;

static void written_into(void *ud, const ad_wtree_out_t *o)
{
    ad_api_wtree_reply(ud, o, 200, "into", false);
}

static void written_onto(void *ud, const ad_wtree_out_t *o)
{
    ad_api_wtree_reply(ud, o, 200, "onto", false);
}

/* Reads the body and the worktree of a write; false after answering. */
static bool write_begin(ad_req_t *req, ad_app_t *app, write_t *w)
{
    bool failed = false;
    w->app = app;
    w->body = w->wt = NULL;
    if (!ad_api_need_store(app, req)) {
        return false;
    }
    w->body = ad_req_json_optional(req, &failed);
    if (failed) {
        return false;
    }
    w->wt = ad_api_load_worktree(app, req);
    return w->wt != NULL;
}

static void write_end(write_t *w)
{
    json_decref(w->body);
    json_decref(w->wt);
}

/* A write: its body checked into git's arguments by src/wtree, then run. */
static void wt_write(ad_req_t *req, ad_app_t *app, const char *change, ad_git_op_t op,
                     ad_wtree_cb done)
{
    write_t w;
    ad_git_args_t a;
    ad_wtree_req_err_t err;
    if (write_begin(req, app, &w)) {
        if (ad_wtree_req_write(op, w.wt, w.body, &a, &err) != 0) {
            refused(req, &err);
        } else {
            ad_wtree_write(w.app->wtree, w.wt, change, op, &a, done, req);
        }
    }
    write_end(&w);
}

static void wt_commit(ad_req_t *req, void *ud)
{
    wt_write(req, ud, "commit", AD_GIT_OP_COMMIT, written_into);
}

static void wt_merge(ad_req_t *req, void *ud)
{
    wt_write(req, ud, "merge", AD_GIT_OP_MERGE, written_into);
}

static void wt_rebase(ad_req_t *req, void *ud)
{
    wt_write(req, ud, "rebase", AD_GIT_OP_REBASE, written_onto);
}

static void wt_push(ad_req_t *req, void *ud)
{
    wt_write(req, ud, "push", AD_GIT_OP_PUSH, written_into);
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
