/* SPDX-License-Identifier: MIT */
/*
 * /api/worktrees/:id/pr/loop: the feedback loop of a worktree's pull
 * request (issue #75, src/loop). PUT {agentId, maxTurns?, checks?,
 * reviews?} (ADMIN, as /api/agents/:id/message: it sends the agent
 * messages and spends the org's forge token) turns it on; GET (READ) shows
 * it with the items it sent; DELETE (WRITE, as a stop) turns it off.
 * Another org's worktree is a 404, as a missing one. Registered by the
 * engine's routes hook (plugin.c), as routine's and push's are: src/api
 * stays within its size budget and the handlers sit beside what they call.
 */
#include "auth/route.h"
#include "engine/engine.h"
#include "loop/loop_int.h"

static void loop_answer(int rc, json_t *view, const char *msg, void *ud)
{
    ad_req_t *r = ud;
    if (rc == 0) {
        ad_res_json(r, 200, json_incref(view));
    } else if (rc == AD_ENOENT) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "reason", "no_loop"),
                     "no feedback loop for this worktree");
    } else {
        ad_res_error_code(r, rc, NULL, "%s", msg != NULL ? msg : ad_strerror(rc));
    }
}

/* The worktree of :id when the loops run here, else NULL (answered). */
static json_t *loop_wt(ad_app_t *app, ad_req_t *req)
{
    if (!ad_route_need_store(app, req)) {
        return NULL;
    }
    if (app->prloop == NULL) {
        ad_res_error(req, 503, "UNAVAILABLE", NULL, "feedback loops do not run here");
        return NULL;
    }
    return ad_route_worktree(app, req);
}

static void loop_put(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *wt = loop_wt(app, req);
    ad_field_err_t e;
    if (wt == NULL || (body = ad_req_json(req)) == NULL) {
        json_decref(wt);
        return;
    }
    ad_req_set_note(req, "feedback loop on");
    int rc = ad_prloop_enable(app->prloop, wt, body, loop_answer, req, &e);
    if (rc == AD_EINVAL) {
        ad_route_invalid_err(req, &e);
    } else if (rc == AD_ESTATE) {
        ad_res_error(req, 409, "CONFLICT", json_pack("{s:s}", "reason", "no_pr"),
                     "no pull request was opened for this worktree");
    }
    json_decref(body);
    json_decref(wt);
}

static void loop_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *wt = loop_wt(app, req), *view = NULL;
    if (wt != NULL) {
        int rc = ad_prloop_view(app->prloop, ad_jstr(wt, "id"), &view);
        loop_answer(rc, view, NULL, req);
        json_decref(view);
        json_decref(wt);
    }
}

static void loop_delete(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *wt = loop_wt(app, req);
    if (wt != NULL) {
        ad_req_set_note(req, "feedback loop off");
        ad_prloop_disable(app->prloop, wt, loop_answer, req);
        json_decref(wt);
    }
}

void ad_prloop_routes(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "PUT", "/api/worktrees/:id/pr/loop", AD_ACCESS_ADMIN, loop_put, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/pr/loop", AD_ACCESS_READ, loop_get, app);
    ad_server_route(s, "DELETE", "/api/worktrees/:id/pr/loop", AD_ACCESS_WRITE, loop_delete, app);
}
