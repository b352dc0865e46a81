/* SPDX-License-Identifier: MIT */
/*
 * /api/sessions/external (issue #76, docs/sessions.md): the CLIs' own
 * sessions listed, read and adopted (src/sessions checks and places one;
 * the agent's fields are checked as a create's). Another org's list is
 * empty, its reads and adoptions 404.
 */
#include "api/api_int.h"
#include "run/run.h"
#include "sessions/sessions.h"

#include <stdlib.h>

static void answered(int rc, json_t *out, void *ud)
{
    ad_api_answer(ud, rc, out, "session", NULL);
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_sessions_sees(app->sessions, ad_api_who(r))) {
        ad_res_json(r, 200, json_pack("{s:[]}", "sessions"));
    } else {
        ad_sessions_list(app->sessions, ad_principal_filter(ad_api_who(r)), answered, r);
    }
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_field_err_t e = {0};
    const char *tool = ad_req_param(r, "tool"), *id = ad_req_param(r, "id");
    if (!ad_sessions_sees(app->sessions, ad_api_who(r))) {
        ad_api_fail(r, AD_ENOENT, "session", NULL);
    } else if (ad_sess_tool_check(tool, &e) != 0 || ad_sess_id_check(id, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else {
        ad_sessions_read(app->sessions, tool, id, answered, r);
    }
}

typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    json_t *body; /* the request's, owned */
} adopt_t;

static void prepared(void *ud, const ad_wtree_out_t *o)
{
    adopt_t *a = ud;
    json_t *args = NULL;
    if (o->rc != 0) {
        ad_api_wtree_reply(a->r, o, 201, NULL, true);
    } else if ((args = ad_api_agent_args(a->app, a->r, a->body, ad_api_jstr(o->data, "worktreeId"),
                                         ad_api_jstr(o->data, "orgId"), NULL)) != NULL) {
        ad_api_write(a->app, a->r, ad_sessions_op_adopt, ad_sessions_adopt_args(args, o->data),
                     ad_api_agent_done_201);
    }
    json_decref(a->body);
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
    *a = (adopt_t){app, r, body};
    if (!ad_sessions_sees(app->sessions, ad_api_who(r))) {
        ad_api_fail(r, AD_ENOENT, "session", NULL);
    } else if (!ad_run_spec_unasked(body) ||
               ad_api_require(r, AD_SCOPE_ADMIN, "an agent that may run tools unasked")) {
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
