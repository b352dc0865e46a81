/* SPDX-License-Identifier: MIT */
/*
 * /api/worktrees/:id/pr: a pull request for the worktree's branch on the
 * forge its remote points at (src/forge). POST {title, body?, draft?,
 * remote?} (ADMIN, as push: it runs git's transport, and it sends the
 * org's forge token) pushes the branch, then opens the pull request into
 * the base branch (an open one already there is taken over, "existing":
 * true) and records it (migration 2410). GET (READ) reads its state and
 * checks from the forge, keeps the state, and answers the stored row with
 * them (the stored row and "refreshError" when the forge cannot say, or
 * no token is stored any more).
 * The token comes from the credential store (provider github, gitlab or
 * gitea of the worktree's org) and goes only to the API base src/forge
 * resolved; no answer or log line carries it. Event: worktree_updated
 * {row, change: "pr", pr}.
 */
#include "api/api_int.h"
#include "creds/creds.h"
#include "forge/forge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_MAX 256
#define BODY_MAX 65536

typedef struct {
    ad_api_gctx_t *c;
    ad_forge_target_t t;
    json_t *row; /* GET: the stored PR (owned) */
} pr_job_t;

static void job_free(pr_job_t *j)
{
    json_decref(j->row);
    free(j);
}

/* The forge failed: 502 naming why, with the forge's own status. */
static void forge_error(ad_req_t *req, int rc, const char *msg, int http_status)
{
    const char *reason = rc == AD_EPERM    ? "forge_auth"
                         : rc == AD_ENOENT ? "forge_not_found"
                         : rc == AD_ESTATE ? "forge_refused"
                         : rc == AD_EIO    ? "forge_unreachable"
                                           : "forge_error";
    ad_res_error(req, 502, "FORGE_ERROR",
                 json_pack("{s:s, s:i}", "reason", reason, "forgeStatus", http_status), "%s",
                 msg != NULL && msg[0] != '\0' ? msg : "the forge failed");
}

/* The token of the org for the target's forge, or NULL after 422. */
static const char *token_for(ad_req_t *req, ad_app_t *app, json_t *wt, const char *forge)
{
    const char *tok = ad_creds_key(app->creds, ad_api_jstr(wt, "orgId"), forge);
    if (tok == NULL) {
        ad_res_error(req, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "reason", "no_token", "provider", forge),
                     "no %s token is stored; add one with PUT /api/credentials/%s", forge, forge);
    }
    return tok;
}

static json_t *pr_args(pr_job_t *j, json_t *pr)
{
    return json_pack("{s:s?, s:s, s:s, s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:I}",
                     "worktreeId", ad_api_jstr(j->c->wt, "id"), "forge",
                     ad_forge_kind_name(j->t.kind), "apiBase", j->t.api_base, "owner", j->t.owner,
                     "repo", j->t.repo, "number", json_object_get(pr, "number"), "url",
                     json_object_get(pr, "url"), "title", json_object_get(pr, "title"), "head",
                     json_object_get(pr, "head"), "base", json_object_get(pr, "base"), "state",
                     json_object_get(pr, "state"), "draft", json_object_get(pr, "draft"), "now",
                     (json_int_t)ad_wall_ms());
}

/* ---- POST ------------------------------------------------------------------------------ */

static void created_saved(int rc, json_t *result, void *ud)
{
    pr_job_t *j = ud;
    ad_api_gctx_t *c = j->c;
    json_decref(result);
    if (!ad_api_gctx_still_open(c)) {
        job_free(j);
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "api", "pull request not recorded worktree=%s error=%s",
               ad_api_jstr(c->wt, "id"), ad_errname(rc));
    }
    json_t *row = json_deep_copy(c->wt);
    json_object_set(row, "pr", c->body);
    ad_api_publish_wt(c->app, "worktree_updated", "pr", row);
    json_decref(row);
    bool existing = json_is_true(json_object_get(c->body, "existing"));
    ad_res_json(c->req, existing ? 200 : 201, json_incref(c->body));
    ad_api_gctx_free(c);
    job_free(j);
}

static void created(int rc, json_t *pr, const char *msg, int http_status, void *ud)
{
    pr_job_t *j = ud;
    ad_api_gctx_t *c = j->c;
    if (!ad_api_gctx_still_open(c)) {
        job_free(j);
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "api", "pull request failed worktree=%s forge=%s status=%d",
               ad_api_jstr(c->wt, "id"), ad_forge_kind_name(j->t.kind), http_status);
        forge_error(c->req, rc, msg, http_status);
        ad_api_gctx_free(c);
        job_free(j);
        return;
    }
    json_decref(c->body);
    c->body = json_deep_copy(pr);
    json_object_set(c->body, "push", c->git);
    ad_store_write(c->app->store, ad_store_op_worktree_pr_put, pr_args(j, pr), created_saved, j);
}

/* The branch is pushed: find the forge of the remote, then open the PR. */
static void pushed(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    char why[300], err[256];
    pr_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->c = c;
    json_t *settings = NULL;
    (void)ad_store_settings_get(c->app->store, &settings);
    int rc = ad_forge_resolve(ad_api_jstr(res->data, "url"),
                              json_object_get(settings, "forge_hosts"), &j->t, why, sizeof(why));
    json_decref(settings);
    c->git = json_pack("{s:O?, s:O?}", "remote", json_object_get(res->data, "remote"), "branch",
                       json_object_get(res->data, "branch"));
    if (rc != 0) {
        ad_res_error(c->req, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:O?}", "reason",
                               rc == AD_ENOENT ? "unknown_forge" : "invalid_remote", "remote",
                               json_object_get(res->data, "remote")),
                     "%s", why);
        ad_api_gctx_free(c);
        job_free(j);
        return;
    }
    const char *tok = token_for(c->req, c->app, c->wt, ad_forge_kind_name(j->t.kind));
    ad_forge_req_t r = {.op = AD_FORGE_OP_CREATE,
                        .target = j->t,
                        .token = tok,
                        .title = ad_api_jstr(c->body, "title"),
                        .body = ad_api_jstr(c->body, "body"),
                        .head = ad_api_jstr(res->data, "branch"),
                        .base = ad_api_jstr(c->wt, "baseBranch"),
                        .draft = json_is_true(json_object_get(c->body, "draft"))};
    if (tok == NULL || ad_forge_queue(c->app->loop, &r, created, j, err, sizeof(err)) != 0) {
        if (tok != NULL) {
            ad_res_error(c->req, 503, "UNAVAILABLE", NULL, "cannot call the forge: %s", err);
        }
        ad_api_gctx_free(c);
        job_free(j);
    }
}

static void pr_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    const char *title = NULL, *text = NULL, *remote = NULL;
    bool draft = false;
    char why[200];
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    if (ad_api_str(req, body, "title", true, TITLE_MAX, &title) != 0 ||
        ad_api_str(req, body, "body", false, BODY_MAX, &text) != 0 ||
        ad_api_bool(req, body, "draft", &draft, NULL) != 0 ||
        ad_api_str(req, body, "remote", false, 200, &remote) != 0) {
        json_decref(body);
        return;
    }
    if (title[0] == '\0' || (remote != NULL && !ad_git_ref_valid(remote, why, sizeof(why)))) {
        ad_api_invalid(req, title[0] == '\0' ? "title" : "remote",
                       title[0] == '\0' ? "a title is required" : why);
        json_decref(body);
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        json_decref(body);
        return;
    }
    const char *base = ad_api_jstr(wt, "baseBranch");
    if (base == NULL || base[0] == '\0') {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "reason", "no_base"),
                     "this worktree has no base branch to open a pull request into");
        json_decref(wt);
        json_decref(body);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    c->body = body;
    ad_git_args_t a = {.path = ad_api_jstr(wt, "path"), .name = remote};
    ad_api_git_queue(c, AD_GIT_OP_PUSH, &a, pushed);
}

/* ---- GET ------------------------------------------------------------------------------- */

static void state_saved(int rc, json_t *result, void *ud)
{
    pr_job_t *j = ud;
    AD_UNUSED(rc); /* the answer has the fresh state either way */
    json_decref(result);
    if (ad_api_gctx_still_open(j->c)) {
        ad_res_json(j->c->req, 200, json_incref(j->row));
        ad_api_gctx_free(j->c);
    }
    job_free(j);
}

static void status_read(int rc, json_t *pr, const char *msg, int http_status, void *ud)
{
    pr_job_t *j = ud;
    ad_api_gctx_t *c = j->c;
    AD_UNUSED(http_status);
    if (!ad_api_gctx_still_open(c)) {
        job_free(j);
        return;
    }
    if (rc != 0) {
        json_object_set_new(j->row, "refreshError", json_string(msg));
        ad_res_json(c->req, 200, json_incref(j->row));
        ad_api_gctx_free(c);
        job_free(j);
        return;
    }
    static const char *keys[] = {"state", "title", "url", "draft", "headSha", "checks"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_object_set(j->row, keys[i], json_object_get(pr, keys[i]));
    }
    ad_store_write(c->app->store, ad_store_op_worktree_pr_put, pr_args(j, j->row), state_saved, j);
}

static void pr_status(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char err[256];
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req), *row = NULL;
    if (wt == NULL) {
        return;
    }
    int rc = ad_store_worktree_pr(app->store, ad_api_jstr(wt, "id"), &row);
    if (rc != 0) {
        if (rc == AD_ENOENT) {
            ad_res_error(req, 404, "NOT_FOUND", json_pack("{s:s}", "reason", "no_pr"),
                         "no pull request was opened for this worktree");
        } else {
            ad_api_fail(req, rc, "pull request", ad_req_param(req, "id"));
        }
        json_decref(wt);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    pr_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->c = c;
    j->row = row;
    ad_forge_target_of(row, &j->t);
    /* Without a token (or libcurl) the stored state is what there is. */
    const char *forge = ad_api_jstr(row, "forge");
    const char *tok = ad_creds_key(app->creds, ad_api_jstr(wt, "orgId"), forge);
    ad_forge_req_t r = {.op = AD_FORGE_OP_STATUS,
                        .target = j->t,
                        .token = tok,
                        .number = (long)json_integer_value(json_object_get(row, "number"))};
    if (tok == NULL) {
        snprintf(err, sizeof(err), "no %s token is stored", forge != NULL ? forge : "forge");
    }
    if (tok == NULL || ad_forge_queue(app->loop, &r, status_read, j, err, sizeof(err)) != 0) {
        json_object_set_new(row, "refreshError", json_string(err));
        ad_res_json(req, 200, json_incref(row));
        ad_api_gctx_free(c);
        job_free(j);
    }
}

void ad_api_pr_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/worktrees/:id/pr", AD_ACCESS_ADMIN, pr_create, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/pr", AD_ACCESS_READ, pr_status, app);
}
