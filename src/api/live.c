/* SPDX-License-Identifier: MIT */
/*
 * The live routes (docs/api.md lists them; docs/events.md has the
 * protocol): /ws, the pre-subscribed /ws/runs/:runId, /ws/mission and
 * /ws/graph channels, the seed dashboard's socket on "/", and /api/events
 * as Server-Sent Events. src/live does the channels: what each may watch
 * and where it starts (open.c), the wire format, the /ws protocol and the
 * seed's commands on "/" (cmds.c).
 */
#include "api/api_int.h"
#include "live/live.h"

/* GET /api/agents/:id/presence: whether the caller shows the agent's page
 * in a dashboard, visible and focused (the tray helper asks before a
 * desktop notification). Only the caller's own clients count. */
static void presence(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL)) {
        return;
    }
    ad_live_t *L = app->live;
    bool viewed = ad_live_viewing(L, ad_api_who(r), id);
    ad_res_json(r, 200, json_pack("{s:s, s:b}", "agentId", id, "viewed", viewed));
}

void ad_api_live_register(ad_app_t *app)
{
    static const char *const protocols[] = {"bearer", NULL};
    ad_live_t *L = app->live;
    ad_server_route_ws(app->server, "/ws", AD_ACCESS_READ, protocols, &ad_live_ws_handler, L);
    ad_server_route_ws(app->server, "/ws/runs/:runId", AD_ACCESS_READ, protocols,
                       &ad_live_run_handler, L);
    ad_server_route_ws(app->server, "/ws/mission", AD_ACCESS_READ, protocols,
                       &ad_live_mission_handler, L);
    ad_server_route_ws(app->server, "/ws/graph", AD_ACCESS_READ, protocols, &ad_live_graph_handler,
                       L);
    ad_server_route_ws_shared(app->server, "/", AD_ACCESS_READ, protocols, &ad_live_root_handler,
                              L);
    ad_server_route(app->server, "GET", "/api/events", AD_ACCESS_READ, ad_live_open_sse, L);
    ad_server_route(app->server, "GET", "/api/agents/:id/presence", AD_ACCESS_READ, presence, app);
#ifdef AD_TEST_BUILD
    ad_live_test_routes_register(L, app->server, app->store);
#endif
}
