/* SPDX-License-Identifier: MIT */
/*
 * A worktree's pull request (wtree.h, "pull requests"): the branch pushed,
 * the forge its remote is on found (src/forge), the pull request opened
 * into the worktree's base branch with the org's token (src/creds) and
 * recorded; and its state read again from the forge and kept. The token
 * goes only to the API base src/forge resolved; no outcome or log line
 * carries it. Event: worktree_updated {row, change: "pr", pr}.
 */
#include "wtree/wtree_int.h"
#include "creds/creds.h"
#include "forge/forge.h"
#include "tables/gitrows.h"
#include "tables/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_wtree_ctx_t *c;
    ad_creds_t *creds;
    ad_forge_target_t t;
    json_t *row; /* status: the stored PR (owned) */
} job_t;

static void job_free(job_t *j)
{
    json_decref(j->row);
    free(j);
}

/* The forge failed: AD_EIO naming why, with the forge's own status. */
static void forge_failed(ad_wtree_ctx_t *c, int rc, const char *msg, int http_status)
{
    const char *reason = rc == AD_EPERM    ? "forge_auth"
                         : rc == AD_ENOENT ? "forge_not_found"
                         : rc == AD_ESTATE ? "forge_refused"
                         : rc == AD_EIO    ? "forge_unreachable"
                                           : "forge_error";
    ad_wtree_fail(c, AD_EIO, json_pack("{s:s, s:i}", "reason", reason, "forgeStatus", http_status),
                  "%s", msg != NULL && msg[0] != '\0' ? msg : "the forge failed");
}

static json_t *pr_args(job_t *j, json_t *pr)
{
    return json_pack("{s:s?, s:s, s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:I}",
                     "worktreeId", ad_wtree_jstr(j->c->wt, "id"), "forge",
                     ad_forge_kind_name(j->t.kind), "apiBase", j->t.api_base, "owner", j->t.owner,
                     "repo", j->t.repo, "number", json_object_get(pr, "number"), "url",
                     json_object_get(pr, "url"), "title", json_object_get(pr, "title"), "head",
                     json_object_get(pr, "head"), "base", json_object_get(pr, "base"), "state",
                     json_object_get(pr, "state"), "draft", json_object_get(pr, "draft"), "now",
                     (json_int_t)ad_wall_ms());
}

/* Ends j and its request (c freed). */
static void job_end(job_t *j)
{
    ad_wtree_ctx_free(j->c);
    job_free(j);
}

/* ---- open ----------------------------------------------------------------------------- */

static void created_saved(int rc, json_t *result, void *ud)
{
    job_t *j = ud;
    ad_wtree_ctx_t *c = j->c;
    json_decref(result);
    if (!ad_wtree_still_open(c)) {
        job_free(j);
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "wtree", "pull request not recorded worktree=%s error=%s",
               ad_wtree_jstr(c->wt, "id"), ad_errname(rc));
    }
    json_t *row = json_deep_copy(c->wt);
    json_object_set(row, "pr", c->body);
    ad_wtree_publish(c->W, "worktree_updated", "pr", row);
    json_decref(row);
    ad_wtree_done(c, c->body);
    job_end(j);
}

static void created(int rc, json_t *pr, const char *msg, int http_status, void *ud)
{
    job_t *j = ud;
    ad_wtree_ctx_t *c = j->c;
    if (!ad_wtree_still_open(c)) {
        job_free(j);
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "wtree", "pull request failed worktree=%s forge=%s status=%d",
               ad_wtree_jstr(c->wt, "id"), ad_forge_kind_name(j->t.kind), http_status);
        forge_failed(c, rc, msg, http_status);
        job_end(j);
        return;
    }
    json_decref(c->body);
    c->body = json_deep_copy(pr);
    json_object_set(c->body, "push", c->git);
    ad_store_write(c->W->store, ad_store_op_worktree_pr_put, pr_args(j, pr), created_saved, j);
}

/* The branch is pushed: find the forge of the remote, then open the PR. */
static void pushed(const ad_git_result_t *res, void *ud)
{
    job_t *j = ud;
    ad_wtree_ctx_t *c = j->c;
    if (!ad_wtree_step_ok(c, res)) {
        job_free(j);
        return;
    }
    char why[300], err[256];
    json_t *settings = NULL;
    (void)ad_store_settings_get(c->W->store, &settings);
    int rc = ad_forge_resolve(ad_wtree_jstr(res->data, "url"),
                              json_object_get(settings, "forge_hosts"), &j->t, why, sizeof(why));
    json_decref(settings);
    c->git = json_pack("{s:O?, s:O?}", "remote", json_object_get(res->data, "remote"), "branch",
                       json_object_get(res->data, "branch"));
    if (rc != 0) {
        ad_wtree_fail(c, AD_EINVAL,
                      json_pack("{s:s, s:O?}", "reason",
                                rc == AD_ENOENT ? "unknown_forge" : "invalid_remote", "remote",
                                json_object_get(res->data, "remote")),
                      "%s", why);
        job_end(j);
        return;
    }
    const char *forge = ad_forge_kind_name(j->t.kind);
    const char *tok = ad_creds_key(j->creds, ad_wtree_jstr(c->wt, "orgId"), forge);
    if (tok == NULL) {
        ad_wtree_fail(c, AD_EINVAL,
                      json_pack("{s:s, s:s}", "reason", "no_token", "provider", forge),
                      "no %s token is stored; add one with PUT /api/credentials/%s", forge, forge);
        job_end(j);
        return;
    }
    ad_forge_req_t r = {.op = AD_FORGE_OP_CREATE,
                        .target = j->t,
                        .token = tok,
                        .title = ad_wtree_jstr(c->body, "title"),
                        .body = ad_wtree_jstr(c->body, "body"),
                        .head = ad_wtree_jstr(res->data, "branch"),
                        .base = ad_wtree_jstr(c->wt, "baseBranch"),
                        .draft = json_is_true(json_object_get(c->body, "draft"))};
    if (ad_forge_queue(c->W->loop, &r, created, j, err, sizeof(err)) != 0) {
        ad_wtree_fail(c, AD_EAGAIN, NULL, "cannot call the forge: %s", err);
        job_end(j);
    }
}

void ad_wtree_pr_open(ad_wtree_t *W, struct ad_creds *creds, json_t *wt, json_t *body,
                      ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->c = ad_wtree_ctx_new(W, cb, ud);
    j->creds = creds;
    j->c->wt = json_incref(wt);
    j->c->body = json_incref(body);
    char repo[4096];
    ad_git_args_t a = {
        .path = ad_wtree_jstr(wt, "path"),
        .name = ad_wtree_jstr(body, "remote"),
        .trust_repo = ad_wtree_trust_repo(j->c, ad_wtree_jstr(wt, "path"), repo, sizeof(repo))};
    if (ad_git_queue(W->loop, AD_GIT_OP_PUSH, &a, pushed, j) != 0) {
        ad_wtree_fail(j->c, AD_EINTERNAL, NULL, "cannot queue git work");
        job_end(j);
    }
}

/* ---- status --------------------------------------------------------------------------- */

static void state_saved(int rc, json_t *result, void *ud)
{
    job_t *j = ud;
    AD_UNUSED(rc); /* the answer has the fresh state either way */
    json_decref(result);
    if (ad_wtree_still_open(j->c)) {
        ad_wtree_done(j->c, j->row);
        ad_wtree_ctx_free(j->c);
    }
    job_free(j);
}

static void status_read(int rc, json_t *pr, const char *msg, int http_status, void *ud)
{
    job_t *j = ud;
    ad_wtree_ctx_t *c = j->c;
    AD_UNUSED(http_status);
    if (!ad_wtree_still_open(c)) {
        job_free(j);
        return;
    }
    if (rc != 0) {
        json_object_set_new(j->row, "refreshError", json_string(msg));
        ad_wtree_done(c, j->row);
        job_end(j);
        return;
    }
    static const char *keys[] = {"state", "title", "url", "draft", "headSha", "checks"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_object_set(j->row, keys[i], json_object_get(pr, keys[i]));
    }
    ad_store_write(c->W->store, ad_store_op_worktree_pr_put, pr_args(j, j->row), state_saved, j);
}

void ad_wtree_pr_status(ad_wtree_t *W, struct ad_creds *creds, json_t *wt, ad_wtree_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    char err[256];
    json_t *row = NULL;
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->c = ad_wtree_ctx_new(W, cb, ud);
    j->c->wt = json_incref(wt);
    int rc = ad_store_worktree_pr(W->store, ad_wtree_jstr(wt, "id"), &row);
    if (rc != 0) {
        if (rc == AD_ENOENT) {
            ad_wtree_fail(j->c, rc, json_pack("{s:s}", "reason", "no_pr"),
                          "no pull request was opened for this worktree");
        } else {
            ad_wtree_fail_store(j->c, rc, "pull request", ad_wtree_jstr(wt, "id"));
        }
        job_end(j);
        return;
    }
    j->row = row;
    ad_forge_target_of(row, &j->t);
    /* Without a token (or libcurl) the stored state is what there is. */
    const char *forge = ad_wtree_jstr(row, "forge");
    const char *tok = ad_creds_key(creds, ad_wtree_jstr(wt, "orgId"), forge);
    ad_forge_req_t r = {.op = AD_FORGE_OP_STATUS,
                        .target = j->t,
                        .token = tok,
                        .number = (long)json_integer_value(json_object_get(row, "number"))};
    if (tok == NULL) {
        snprintf(err, sizeof(err), "no %s token is stored", forge != NULL ? forge : "forge");
    }
    if (tok == NULL || ad_forge_queue(W->loop, &r, status_read, j, err, sizeof(err)) != 0) {
        json_object_set_new(row, "refreshError", json_string(err));
        ad_wtree_done(j->c, row);
        job_end(j);
    }
}
