/* SPDX-License-Identifier: MIT */
/*
 * /api/sessions/external (issue #76, docs/sessions.md): the CLIs' own sessions
 * (this machine's, the org's nodes') listed, read and adopted (src/sessions checks
 * and places one; the agent's fields are checked as a create's). Another org sees
 * none of this machine's nor of a node not its own: its reads and adoptions 404.
 */
#include "api/api_int.h"
#include "run/run.h"
#include "sessions/sessions.h"

#include <stdlib.h>

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_sessions_list(app->sessions, ad_principal_filter(ad_api_who(r)),
                     ad_sessions_sees(app->sessions, ad_api_who(r)), ad_req_query(r, "node"),
                     ad_api_wtree_200, r);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_field_err_t e = {0};
    const char *tool = ad_req_param(r, "tool"), *id = ad_req_param(r, "id");
    const char *node = ad_req_query(r, "node");
    if (ad_sess_tool_check(tool, &e) != 0 || ad_sess_id_check(id, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (node == NULL && !ad_sessions_sees(app->sessions, ad_api_who(r))) {
        ad_api_fail(r, AD_ENOENT, "session", NULL);
    } else { /* this machine's, or a node's over its link */
        ad_sessions_get(app->sessions, ad_principal_org_for(ad_api_who(r), NULL), node, tool, id,
                        ad_api_wtree_200, r);
    }
}

typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    json_t *body; /* the request's, owned */
    json_t *args; /* a node's adoption: the write's args while its file is placed */
} adopt_t;

/* The adoption checked (o->data); a node's again once its file is placed there. */
static void prepared(void *ud, const ad_wtree_out_t *o)
{
    adopt_t *a = ud;
    if (o->rc != 0) {
        ad_api_wtree_reply(a->r, o, 201, NULL, a->args == NULL);
    } else if (a->args != NULL) { /* a node's file placed */
        ad_api_write(a->app, a->r, ad_sessions_op_adopt, json_incref(a->args),
                     ad_api_agent_done_201);
    } else if ((a->args =
                    ad_api_agent_args(a->app, a->r, a->body, ad_api_jstr(o->data, "worktreeId"),
                                      ad_api_jstr(o->data, "orgId"), NULL)) != NULL) {
        a->args = ad_sessions_adopt_args(a->args, o->data);
        if (json_object_get(o->data, "node") != NULL) {
            ad_sessions_node_place(a->app->sessions, o->data, a->args, prepared, a);
            return;
        }
        ad_api_write(a->app, a->r, ad_sessions_op_adopt, json_incref(a->args),
                     ad_api_agent_done_201);
    }
    json_decref(a->body);
    json_decref(a->args);
    free(a);
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
    bool node = json_object_get(body, "node") != NULL; /* admin before the node is asked */
    if (app->sessions == NULL || (!node && !ad_sessions_sees(app->sessions, ad_api_who(r)))) {
        ad_api_fail(r, AD_ENOENT, "session", NULL);
    } else if ((!node && !ad_run_spec_unasked(body)) ||
               ad_api_require(r, AD_SCOPE_ADMIN,
                              node ? "choosing the node an agent runs on"
                                   : "an agent that may run tools unasked")) {
        if (ad_sessions_adoption(app->sessions, app->wtree, ad_api_who(r), body, prepared, a, &e) ==
            0) {
            return;
        }
        ad_api_invalid_err(r, &e);
    }
    json_decref(body);
    free(a);
}

void ad_api_external_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/sessions/external", AD_ACCESS_READ, list, app);
    ad_server_route(s, "GET", "/api/sessions/external/:tool/:id", AD_ACCESS_READ, get, app);
    ad_server_route(s, "POST", "/api/sessions/external/adopt", AD_ACCESS_WRITE, adopt, app);
}
