/* SPDX-License-Identifier: MIT */
/*
 * Routines (issue #75): their routes are the engine's (src/routine/
 * routes.c, registered by its routes hook); what src/api lends it is the
 * check of a routine's agent as POST /api/agents checks one
 * (ad_api_agent_args, as the caller), so a routine cannot hold an agent
 * its maker could not make.
 */
#include "api/api_int.h"
#include "routine/routine.h"

/* The agent body (borrowed) checked in worktree wt ("" for a fresh one per
 * run) of org: false after answering 403 or 422. */
static bool agent_check(ad_app_t *app, ad_req_t *r, const json_t *agent, const char *wt,
                        const char *org)
{
    json_t *body = json_is_object(agent) ? json_deep_copy(agent) : json_object();
    json_object_set_new(body, "name", json_string("routine"));
    json_t *args = ad_api_agent_args(app, r, body, wt, org, NULL);
    json_decref(body);
    json_decref(args);
    return args != NULL;
}

void ad_api_routines_register(ad_app_t *app)
{
    ad_routines_set_agent_check(app->routines, agent_check);
}
