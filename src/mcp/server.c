/* SPDX-License-Identifier: MIT */
/*
 * The MCP server: its life, one request in flight (an exchange) and how it
 * is answered in each era, and the method table. The transport is
 * http.c's, the tools tools.c's, tasks tasks.c's, resources resources.c's.
 */
#include "mcp/mcp_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *ad_mcp_server_info(void)
{
    return json_pack("{s:s, s:s}", "name", "agentd", "version", AD_VERSION);
}

ad_access_t ad_mcp_access_of(const ad_principal_t *p)
{
    switch (p->scope) {
    case AD_SCOPE_ADMIN:
        return AD_ACCESS_ADMIN;
    case AD_SCOPE_WRITE:
        return AD_ACCESS_WRITE;
    case AD_SCOPE_READ:
        return AD_ACCESS_READ;
    default:
        return AD_ACCESS_PUBLIC;
    }
}

bool ad_mcp_x_tasks_ok(const mcp_x_t *x)
{
    if (x->modern) {
        return json_object_get(json_object_get(x->caps, "extensions"), MCP_TASKS_EXT) != NULL;
    }
    return true; /* the handshake era asks for a task on the request itself */
}

void ad_mcp_unref(ad_mcp_t *m)
{
    m->inflight--;
    if (m->closing && m->inflight == 0) {
        json_decref(m->working);
        json_decref(m->notified);
        free(m);
    }
}

void ad_mcp_x_free(mcp_x_t *x)
{
    ad_mcp_t *m = x->m;
    json_decref(x->id);
    json_decref(x->params);
    json_decref(x->caps);
    free(x);
    ad_mcp_unref(m);
}

static void answer(mcp_x_t *x, int status, json_t *msg)
{
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    json_object_set(msg, "id", x->id != NULL ? x->id : json_null());
    if (x->r != NULL) {
        ad_res_json(x->r, status, msg);
        x->r = NULL;
    } else {
        json_decref(msg);
    }
    ad_mcp_x_free(x);
}

void ad_mcp_x_result(mcp_x_t *x, json_t *result)
{
    if (x->modern && json_object_get(result, "resultType") == NULL) {
        json_object_set_new(result, "resultType", json_string("complete"));
    }
    if (x->modern) {
        json_t *meta = json_object_get(result, "_meta");
        if (meta == NULL) {
            meta = json_object();
            json_object_set_new(result, "_meta", meta);
        }
        json_object_set_new(meta, "io.modelcontextprotocol/serverInfo", ad_mcp_server_info());
    }
    answer(x, 200, json_pack("{s:o}", "result", result));
}

void ad_mcp_x_error(mcp_x_t *x, int status, int code, json_t *data, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", msg);
    if (data != NULL) {
        json_object_set_new(err, "data", data);
    }
    answer(x, status, json_pack("{s:o}", "error", err));
}

/* server/discover: the versions, capabilities and identity. */
static void discover(mcp_x_t *x)
{
    json_t *caps =
        json_pack("{s:{}, s:{}, s:{s:{}}}", "tools", "resources", "extensions", MCP_TASKS_EXT);
    ad_mcp_x_result(
        x, json_pack("{s:[s, s, s, s], s:o, s:s, s:i, s:s}", "supportedVersions", MCP_MODERN,
                     MCP_LEGACY, "2025-06-18", "2025-03-26", "capabilities", caps, "instructions",
                     "agentd runs coding agents in git worktrees: list them, start one on a "
                     "prompt (as a task, to come back for its answer), read its transcript, "
                     "decide its approvals, diff and merge.",
                     "ttlMs", 60000, "cacheScope", "private"));
}

void ad_mcp_dispatch(mcp_x_t *x)
{
    const char *m = x->method;
    if (x->who.scope == AD_SCOPE_NONE) {
        ad_mcp_x_error(x, 403, RPC_INVALID_REQUEST, NULL, "no credential");
    } else if (strcmp(m, "server/discover") == 0) {
        discover(x);
    } else if (strcmp(m, "ping") == 0 && !x->modern) {
        ad_mcp_x_result(x, json_object());
    } else if (strcmp(m, "tools/list") == 0) {
        json_t *list = ad_mcp_tools_list(x->modern);
        if (x->modern) {
            json_object_set_new(list, "ttlMs", json_integer(60000));
            json_object_set_new(list, "cacheScope", json_string("private"));
        }
        ad_mcp_x_result(x, list);
    } else if (strcmp(m, "tools/call") == 0) {
        ad_mcp_tools_call(x);
    } else if (strncmp(m, "tasks/", 6) == 0) {
        ad_mcp_tasks_call(x);
    } else if (strncmp(m, "resources/", 10) == 0) {
        ad_mcp_resources_call(x);
    } else if (strcmp(m, "subscriptions/listen") == 0 && x->modern) {
        ad_mcp_listen(x);
    } else if (strcmp(m, "initialize") == 0) {
        ad_mcp_x_error(x, 400, RPC_INVALID_REQUEST, NULL,
                       "initialize is of the 2025 revisions: send it without 2026-07-28 _meta");
    } else {
        ad_mcp_x_error(x, x->modern ? 404 : 200, RPC_NOT_FOUND, NULL, "Method not found: %s", m);
    }
}

/* ---- life ------------------------------------------------------------------------------ */

ad_mcp_t *ad_mcp_new(uv_loop_t *loop, ad_server_t *server, ad_bus_t *bus, ad_store_t *store,
                     ad_auth_t *auth)
{
    ad_mcp_t *m = ad_xcalloc(1, sizeof(*m));
    m->loop = loop;
    m->server = server;
    m->bus = bus;
    m->store = store;
    m->auth = auth;
    m->working = json_object();
    m->notified = json_object();
    ad_mcp_tasks_start(m);
    return m;
}

void ad_mcp_close(ad_mcp_t *m)
{
    if (m == NULL) {
        return;
    }
    ad_mcp_tasks_stop(m);
    while (m->sessions != NULL) {
        mcp_session_t *s = m->sessions;
        m->sessions = s->next;
        if (s->get != NULL) {
            s->get->session[0] = '\0';
        }
        json_decref(s->tasks);
        free(s);
    }
    m->nsessions = 0;
    for (mcp_stream_t *s = m->streams; s != NULL; s = s->next) {
        ad_mcp_stream_close(s); /* each goes in its close callback */
    }
    m->closing = true;
    m->inflight++;
    ad_mcp_unref(m);
}
