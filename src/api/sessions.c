/* SPDX-License-Identifier: MIT */
/*
 * GET /api/agents/:id/sessions (issue #40, the Claude Manager seed's
 * agent_sessions): the agent's sessions, one per ended run, newest first,
 * each with its session data and context snapshot (src/tables/sessions.c;
 * written by migration 2431's trigger).
 */
#include "api/api_int.h"

static void sessions_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_agent_sessions(app->store, id, 100, &out);
    ad_api_answer(r, rc, out, "sessions", id);
}

void ad_api_sessions_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/agents/:id/sessions", AD_ACCESS_READ, sessions_get,
                    app);
}
