/* SPDX-License-Identifier: MIT */
/*
 * A new workflow's agents, made step by step (POST /api/workflows): a
 * step naming a definition waits for it (the caller reads it on the pool)
 * and has it applied; each agent body is checked as a new agent is (the
 * caller's agent(), which answers a refusal); then the workflow's insert
 * args go to the caller whole. Nothing is written before every step has
 * its agent. Loop thread.
 */
#include "agent/agent.h"
#include "flow/flow.h"

#include <stdio.h>
#include <stdlib.h>

struct ad_flow_build {
    const ad_flow_build_ops_t *ops;
    void *ud;
    json_t *body; /* the request's */
    json_t *args; /* the store's: {id, orgId, crewId, name, spec, state, now, agents} */
    size_t next;  /* the step whose agent is made next */
};

static void build_end(ad_flow_build_t *b, json_t *args, const char *field, const char *why)
{
    b->ops->done(b->ud, args, field, why);
    json_decref(b->body);
    json_decref(b->args);
    free(b);
}

/* The agent of step b->next from its body (borrowed): false when refused. */
static bool add_agent(ad_flow_build_t *b, json_t *agent, const char *def_name)
{
    json_t *a = b->ops->agent(b->ud, agent, def_name);
    if (a == NULL) {
        return false;
    }
    ad_flow_add_agent(b->args, b->body, b->next++, a);
    return true;
}

static void build_next(ad_flow_build_t *b)
{
    json_t *steps = json_object_get(b->body, "steps");
    while (b->next < json_array_size(steps)) {
        json_t *step = json_array_get(steps, b->next);
        const char *def = json_string_value(json_object_get(step, "definition"));
        if (def != NULL) {
            if (b->ops->find_def(b->ud, b, def) != 0) {
                build_end(b, NULL, NULL, "cannot read the definitions");
            }
            return; /* on in ad_flow_build_def */
        }
        json_t *agent = ad_flow_step_agent(b->args, b->body, b->next);
        bool ok = add_agent(b, agent, NULL);
        json_decref(agent);
        if (!ok) {
            build_end(b, NULL, NULL, NULL);
            return;
        }
    }
    json_t *args = b->args;
    b->args = NULL;
    build_end(b, args, NULL, NULL);
}

void ad_flow_build_def(ad_flow_build_t *b, json_t *def)
{
    json_t *step = json_array_get(json_object_get(b->body, "steps"), b->next);
    const char *def_name = json_string_value(json_object_get(step, "definition"));
    if (def == NULL || json_object_get(def, "error") != NULL) {
        char field[48];
        snprintf(field, sizeof(field), "steps[%zu].definition", b->next);
        build_end(b, NULL, field,
                  def == NULL ? "no such definition" : "the definition has an error");
        return;
    }
    json_t *agent = ad_flow_step_agent(b->args, b->body, b->next);
    ad_agent_def_apply(agent, def);
    bool ok = add_agent(b, agent, def_name);
    json_decref(agent);
    if (ok) {
        build_next(b);
    } else {
        build_end(b, NULL, NULL, NULL);
    }
}

void ad_flow_build(json_t *body, const char *org, const ad_flow_build_ops_t *ops, void *ud)
{
    ad_flow_build_t *b = ad_xcalloc(1, sizeof(*b));
    *b = (ad_flow_build_t){
        .ops = ops, .ud = ud, .body = json_incref(body), .args = ad_flow_insert_args(body, org)};
    build_next(b);
}
