/* SPDX-License-Identifier: MIT */
/*
 * GET /api/search?q=&agent=&worktree=&since=&limit=&offset= (issue #76):
 * every message, tool call and tool output of the caller's organisation
 * (the owner's: every one), best first, each with a snippet and its
 * matches as ranges. What a request may hold and the read are
 * src/tables/search.c's; an agent or worktree filter the caller may not
 * see is a 404, like a missing one. Registered by the engine's routes
 * hook (plugin.c).
 */
#include "auth/route.h"
#include "engine/engine.h"
#include "search/search.h"
#include "tables/search.h"

static void searched(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    ad_route_answer(r, rc, json_incref(result), "search", NULL);
}

static void search(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *agent = ad_req_query(r, "agent");
    const char *worktree = ad_req_query(r, "worktree");
    ad_search_req_t q;
    ad_field_err_t e;
    if (ad_search_req(ad_req_query(r, "q"), agent, worktree, ad_req_query(r, "since"),
                      ad_req_query(r, "limit"), ad_req_query(r, "offset"),
                      ad_principal_filter(ad_route_who(r)), &q, &e) != 0) {
        ad_route_invalid_err(r, &e);
        return;
    }
    if ((q.agent[0] != '\0' && !ad_route_visible(app, r, AD_STORE_ROW_AGENT, q.agent, NULL)) ||
        (q.worktree[0] != '\0' &&
         !ad_route_visible(app, r, AD_STORE_ROW_WORKTREE, q.worktree, NULL))) {
        return;
    }
    ad_store_search(app->store, &q, searched, r);
}

void ad_search_routes(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/search", AD_ACCESS_READ, search, app);
}
