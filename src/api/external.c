/* SPDX-License-Identifier: MIT */
/*
 * /api/sessions/external (issue #76, docs/sessions.md): the CLIs' own
 * sessions, this machine's and the organisation's nodes', listed, read and
 * adopted (src/sessions checks and places one; the agent's fields are
 * checked as a create's; a node's session file is placed for the agent
 * there before the agent is written). Another org sees no session of this
 * machine's and none of a node not its own: its reads and adoptions 404.
 */
#include "api/api_int.h"
#include "run/run.h"
#include "sessions/sessions.h"

#include <stdlib.h>
#include <string.h>

static void answered(int rc, json_t *out, void *ud)
{
    ad_api_answer(ud, rc, out, "session", NULL);
}

/* A node's session read: its refusal in the node's words ({message, code?}). */
static void node_answered(int rc, json_t *out, void *ud)
{
    const char *msg = ad_api_jstr(out, "message"), *code = ad_api_jstr(out, "code");
    if (rc == 0 || rc == AD_ECLOSED) {
        answered(rc, out, ud);
        return;
    }
    ad_res_error(ud,
                 rc == AD_ENOENT   ? 404
                 : rc == AD_ESTATE ? 409
                                   : 502,
                 code != NULL      ? code
                 : rc == AD_ENOENT ? "NOT_FOUND"
                                   : "NODE_FAILED",
                 NULL, "%s", msg != NULL ? msg : "the node could not read the session");
    json_decref(out);
}

/* This machine's sessions (the owner's org), and those of the caller's
 * organisation's nodes; ?node= one node's. */
static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *node = ad_req_query(r, "node");
    if (app->sessions == NULL) {
        ad_res_json(r, 200, json_pack("{s:[], s:[]}", "sessions", "nodes"));
    } else if (ad_sessions_list(app->sessions, ad_principal_filter(ad_api_who(r)),
                                ad_sessions_sees(app->sessions, ad_api_who(r)), node, answered,
                                r) != 0) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "field", "node"), "node not found");
    }
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_field_err_t e = {0};
    const char *tool = ad_req_param(r, "tool"), *id = ad_req_param(r, "id");
    const char *node = ad_req_query(r, "node");
    if (ad_sess_tool_check(tool, &e) != 0 || ad_sess_id_check(id, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (node != NULL && app->sessions != NULL) {
        if (ad_sessions_node_read(app->sessions, ad_principal_org_for(ad_api_who(r), NULL), node,
                                  tool, id, node_answered, r) != 0) {
            ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "field", "node"),
                         "node not found");
        }
    } else if (!ad_sessions_sees(app->sessions, ad_api_who(r))) {
        ad_api_fail(r, AD_ENOENT, "session", NULL);
    } else {
        ad_sessions_read(app->sessions, tool, id, answered, r);
    }
}

typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    json_t *body; /* the request's, owned */
    json_t *args; /* a node's adoption: the write's args while its file is placed */
} adopt_t;

static void adopt_free(adopt_t *a)
{
    json_decref(a->body);
    json_decref(a->args);
    free(a);
}

/* A node's adoption: the session file is where the agent's runs there look
 * for it; the agent and its transcript are written now. */
static void node_placed(int rc, json_t *out, void *ud)
{
    adopt_t *a = ud;
    if (rc != 0) {
        ad_res_error(a->r, rc == AD_ECLOSED ? 503 : 502, "NODE_FAILED", NULL,
                     "the session could not be placed on the node: %s",
                     ad_api_jstr(out, "message") != NULL ? ad_api_jstr(out, "message")
                                                         : ad_strerror(rc));
    } else {
        ad_api_write(a->app, a->r, ad_sessions_op_adopt, json_incref(a->args),
                     ad_api_agent_done_201);
    }
    json_decref(out);
    adopt_free(a);
}

/* The new agent's session file placed on its node first (its folder there
 * depends on the agent's id, organisation and sandbox, as a run's). */
static void place_on_node(adopt_t *a, const json_t *data, json_t *args)
{
    json_t *agent = json_object_get(args, "agent");
    ad_row_agent_t row = {.org_id = (char *)ad_api_jstr(data, "orgId"),
                          .worktree_id = (char *)ad_api_jstr(data, "worktreeId"),
                          .state = json_object_get(agent, "state")};
    json_t *pol = ad_run_sandbox_of(a->app->store, &row);
    ad_sessions_place_t pl = {.node_id = ad_api_jstr(json_object_get(data, "node"), "id"),
                              .sid = ad_api_jstr(json_object_get(data, "session"), "sessionId"),
                              .agent_id = ad_api_jstr(agent, "id"),
                              .wt_id = row.worktree_id,
                              .owners = strcmp(row.org_id, AD_ORG_DEFAULT) == 0,
                              .none = json_is_string(pol) &&
                                      strcmp(json_string_value(pol), "none") == 0};
    json_decref(pol);
    a->args = args;
    ad_sessions_node_place(a->app->sessions, &pl, node_placed, a);
}

static void prepared(void *ud, const ad_wtree_out_t *o)
{
    adopt_t *a = ud;
    json_t *args = NULL;
    if (o->rc != 0) {
        ad_api_wtree_reply(a->r, o, 201, NULL, true);
    } else if ((args = ad_api_agent_args(a->app, a->r, a->body, ad_api_jstr(o->data, "worktreeId"),
                                         ad_api_jstr(o->data, "orgId"), NULL)) != NULL) {
        args = ad_sessions_adopt_args(args, o->data);
        if (json_object_get(o->data, "node") != NULL) {
            place_on_node(a, o->data, args);
            return;
        }
        ad_api_write(a->app, a->r, ad_sessions_op_adopt, args, ad_api_agent_done_201);
    }
    adopt_free(a);
}

static void adopt(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    ad_field_err_t e = {0};
    if (body == NULL) {
        return;
    }
    adopt_t *a = ad_xcalloc(1, sizeof(*a));
    *a = (adopt_t){app, r, body, NULL};
    bool on_node = json_object_get(body, "node") != NULL;
    if (app->sessions == NULL || (!on_node && !ad_sessions_sees(app->sessions, ad_api_who(r)))) {
        ad_api_fail(r, AD_ENOENT, "session", NULL);
    } else if (on_node &&
               !ad_api_require(r, AD_SCOPE_ADMIN, "choosing the node an agent runs on")) {
        /* answered 403 before the node is asked anything, as POST /api/agents {node} */
    } else if (!ad_run_spec_unasked(body) ||
               ad_api_require(r, AD_SCOPE_ADMIN, "an agent that may run tools unasked")) {
        int rc =
            on_node ? ad_sessions_node_adoption(app->sessions, ad_api_who(r), body, prepared, a, &e)
                    : ad_sessions_adoption(app->sessions, app->wtree, ad_api_who(r), body, prepared,
                                           a, &e);
        if (rc == 0) {
            return;
        }
        ad_api_invalid_err(r, &e);
    }
    adopt_free(a);
}

void ad_api_external_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/sessions/external", AD_ACCESS_READ, list, app);
    ad_server_route(s, "GET", "/api/sessions/external/:tool/:id", AD_ACCESS_READ, get, app);
    ad_server_route(s, "POST", "/api/sessions/external/adopt", AD_ACCESS_WRITE, adopt, app);
}
