/* SPDX-License-Identifier: MIT */
/*
 * The MCP server as an engine (src/engine): closed first, which ends its
 * streams. Its route, /mcp, is still src/api's (src/api/mcp.c).
 */
#include "engine/engine.h"
#include "mcp/mcp.h"

static int open_mcp(ad_app_t *app)
{
    app->mcp = ad_mcp_new(app->loop, app->server, app->bus, app->store, app->auth);
    return 0;
}

static void close_mcp(ad_app_t *app)
{
    ad_mcp_close(app->mcp);
    app->mcp = NULL;
}

const ad_engine_t ad_mcp_engine = {.name = "mcp", .open = open_mcp, .close = close_mcp};
