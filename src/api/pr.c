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
 * {row, change: "pr", pr}. The request runs in src/wtree (pr.c); this
 * file checks it and turns a forge's failure into a 502.
 */
#include "api/api_int.h"

static void pr_answer(void *ud, const ad_wtree_out_t *o)
{
    ad_req_t *r = ud;
    if (o->rc == AD_EIO && o->git == NULL) { /* the forge failed */
        ad_res_error(r, 502, "FORGE_ERROR", json_incref(o->details), "%s", o->msg);
    } else {
        bool existing = o->rc == 0 && json_is_true(json_object_get(o->data, "existing"));
        ad_api_wtree_reply(r, o, existing ? 200 : 201, NULL, false);
    }
}

static void pr_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *wt = NULL;
    ad_field_err_t e;
    if (!ad_api_need_store(app, req) || (body = ad_req_json(req)) == NULL) {
        goto out;
    }
    if (ad_wtree_pr_check(body, &e) != 0) {
        ad_api_invalid_err(req, &e);
        goto out;
    }
    if ((wt = ad_api_load_worktree(app, req)) == NULL) {
        goto out;
    }
    const char *base = ad_api_jstr(wt, "baseBranch");
    if (base == NULL || base[0] == '\0') {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "reason", "no_base"),
                     "this worktree has no base branch to open a pull request into");
        goto out;
    }
    ad_wtree_pr_open(app->wtree, app->creds, wt, body, pr_answer, req);
out:
    json_decref(wt);
    json_decref(body);
}

static void pr_status(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *wt = NULL;
    if (ad_api_need_store(app, req) && (wt = ad_api_load_worktree(app, req)) != NULL) {
        ad_wtree_pr_status(app->wtree, app->creds, wt, ad_api_wtree_200, req);
        json_decref(wt);
    }
}

void ad_api_pr_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/worktrees/:id/pr", AD_ACCESS_ADMIN, pr_create, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/pr", AD_ACCESS_READ, pr_status, app);
}
