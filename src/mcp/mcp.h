/* SPDX-License-Identifier: MIT */
/*
 * mcp: agentd as a Model Context Protocol server (issue #36), behind
 * POST/GET/DELETE /mcp (Streamable HTTP; `agentd mcp` is a stdio bridge
 * to it over the unix socket). Both eras of the protocol: the current
 * revision (2026-07-28: no handshake, each request says its version in
 * _meta, server/discover, subscriptions/listen) and the ones before it
 * (2025-11-25 and older: initialize, a session id, a GET stream, DELETE).
 *
 * The tools are REST calls run in-process as the caller
 * (ad_server_call), so each needs the scope its route needs and sees
 * what the route shows the caller's organisation, and leaves the same
 * audit row. Starting an agent may answer with a task (the Tasks
 * extension, both eras): the task is the run, kept in the store, ended
 * once the run's prompt is done. Resources are transcripts and training
 * metric series, read the same way as tools.
 *
 * Ownership: src/api's (ad_mcp_new/ad_mcp_close). Threads: loop thread.
 */
#ifndef AD_MCP_H
#define AD_MCP_H

#include "auth/auth.h"
#include "bus/bus.h"
#include "http/http.h"
#include "store/store.h"

typedef struct ad_mcp ad_mcp_t;

/* All borrowed; they outlive the server. */
ad_mcp_t *ad_mcp_new(uv_loop_t *loop, ad_server_t *server, ad_bus_t *bus, ad_store_t *store,
                     ad_auth_t *auth);
/* Ends every stream and session; frees what is left once the last call in
 * flight has answered. */
void ad_mcp_close(ad_mcp_t *m);

/* The /mcp routes' work; r has passed the guard (any scope) and its
 * Origin check. Each answers r, now or later. */
void ad_mcp_post(ad_mcp_t *m, ad_req_t *r);
void ad_mcp_get(ad_mcp_t *m, ad_req_t *r);
void ad_mcp_delete(ad_mcp_t *m, ad_req_t *r);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_mcp_engine;

#endif
