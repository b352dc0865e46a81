/* SPDX-License-Identifier: MIT */
/*
 * POST, GET and DELETE /mcp: agentd's MCP server over Streamable HTTP
 * (src/mcp has the protocol). Any token may come in (each tool then needs
 * the scope its REST route needs); a page of another origin may not, for
 * any method: the guard checks the Origin of state-changing requests, and
 * here GET's too (an event stream read from a page would carry the
 * session's notifications).
 */
#include "api/api_int.h"
#include "auth/auth.h"
#include "mcp/mcp.h"

static bool origin_ok(ad_app_t *app, ad_req_t *r)
{
    if (ad_auth_origin_ok(app->auth, r)) {
        return true;
    }
    ad_res_json(r, 403,
                json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code",
                          -32600, "message",
                          "Forbidden: requests from another origin are refused"));
    return false;
}

static void mcp_post(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (origin_ok(app, r)) {
        ad_mcp_post(app->mcp, r);
    }
}

static void mcp_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (origin_ok(app, r)) {
        ad_mcp_get(app->mcp, r);
    }
}

static void mcp_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (origin_ok(app, r)) {
        ad_mcp_delete(app->mcp, r);
    }
}

void ad_api_mcp_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/mcp", AD_ACCESS_READ, mcp_post, app);
    ad_server_route(app->server, "GET", "/mcp", AD_ACCESS_READ, mcp_get, app);
    ad_server_route(app->server, "DELETE", "/mcp", AD_ACCESS_READ, mcp_delete, app);
}
