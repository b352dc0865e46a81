/* SPDX-License-Identifier: MIT */
/*
 * /ws/agents/:id/terminal: a browser terminal attached to a terminal agent.
 * Server to client: binary frames of raw terminal output (the recent output
 * first, so a viewer that attaches late sees the screen). Client to server:
 * binary frames are raw input; text frames are control messages,
 * {"type":"resize","rows":R,"cols":C} or {"type":"input","data":"…"}. The
 * socket closes with 1000 when the run ends, 4404 when the agent is not
 * running (or not the caller's), 4409 when it has no terminal, 4401/4403
 * without credentials or scope, and 4401 the moment its credential is
 * revoked, signed out or expires. Detaching leaves the agent running.
 * The channel itself is src/live/terminal.c's; this file checks who may
 * open it, or sends it on to the plane holding the agent's run (wsfwd.c).
 */
#include "api/api_int.h"
#include "cluster/cluster.h"
#include "ws/ws.h"

static void on_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_ws_param(ws, "id");
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    if (code == 0 &&
        ad_auth_row_org(app->store, ad_api_who(upgrade), AD_STORE_ROW_AGENT, id, NULL) != 0) {
        code = 4404; /* another org's agent is answered like a missing one */
        reason = "agent not running";
    }
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return;
    }
    if (ad_planes_ws_take(app->planes, ws, upgrade, id, app->auth)) {
        return;
    }
    ad_auth_cred_t cred;
    ad_auth_credential(upgrade, &cred);
    ad_live_terminal_open(ws, app->runner, app->auth, &cred, id);
}

static void on_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(ud);
    if (!ad_planes_ws_message(ws, data, len, binary)) {
        ad_live_terminal_message(ws, data, len, binary);
    }
}

static void on_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    if (!ad_planes_ws_closed(ws)) {
        ad_live_terminal_close(ws);
    }
}

static const ad_ws_handler_t handler = {on_open, on_message, on_close};

void ad_api_terminal_register(ad_app_t *app)
{
    if (app->runner == NULL) {
        return;
    }
    static const char *const protocols[] = {"bearer", NULL};
    ad_server_route_ws(app->server, "/ws/agents/:id/terminal", AD_ACCESS_ADMIN, protocols, &handler,
                       app);
}
