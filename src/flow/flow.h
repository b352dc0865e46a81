/* SPDX-License-Identifier: MIT */
/*
 * Multi-agent workflows (issue #40, seed 002): a workflow is a crew whose
 * agents are its steps. A step starts once every step it needs has
 * succeeded, with its prompt rendered from the workflow's input and those
 * steps' outputs; steps whose needs are met together run in parallel. A
 * step succeeds when its agent's turn ends (or its process exits 0), and
 * its output is what the agent said in that run. A failed step skips every
 * step that needs it; a budget (USD over the steps' runs) stops the rest
 * when passed. The engine keeps nothing in memory: each tick reads the
 * running workflows from the store, so a restarted daemon carries on.
 *
 * Ownership: the engine is the app's (ad_flow_new/ad_flow_close); every
 * json_t given to it is borrowed. Threads: loop thread only.
 */
#ifndef AD_FLOW_H
#define AD_FLOW_H

#include "bus/bus.h"
#include "core/core.h"
#include "run/run.h"
#include "store/store.h"

#include <jansson.h>
#include <uv.h>

#define AD_FLOW_STEPS_MAX 32
#define AD_FLOW_OUTPUT_MAX (16 * 1024) /* a step's output kept, in bytes */
#define AD_FLOW_PROMPT_MAX (256 * 1024)

/* Checks the steps of a workflow spec: 1 to AD_FLOW_STEPS_MAX objects
 * {id ([a-z0-9_-], 1-32, unique), needs? (ids of steps before it), prompt
 * (a template: {{input}} and {{steps.<id>.output}} of a step it needs)}.
 * 0, or AD_EINVAL with field ("steps[2].needs") and why set. */
int ad_flow_check(const json_t *steps, char *field, size_t fieldsz, char *why, size_t whysz);
/* The steps' agents: each step has an agent body (an object) or a
 * definition (a string; an agent body may add to it), and no agent names
 * its own worktreeId (the workflow's). A step without an agent body gets
 * an empty one, in place. 0, or AD_EINVAL with field and why. */
int ad_flow_check_agents(json_t *steps, char *field, size_t fieldsz, char *why, size_t whysz);
/* What a workflow keeps of its request body {input?, budgetUsd?, steps}:
 * the spec {input, budgetUsd?, steps: [{id, needs, prompt}]} (each step's
 * agent is a row), and *state {steps: {id: {status: pending}}}. New
 * references. */
json_t *ad_flow_spec(const json_t *body, json_t **state);
/* POST /api/workflows {name, worktreeId, input?, budgetUsd?, steps}: the
 * fields and the steps (ad_flow_check, ad_flow_check_agents, which fills
 * in empty agent bodies). 0, or AD_EINVAL with e. */
int ad_flow_body_check(json_t *body, ad_field_err_t *e);
/* ad_store_op_workflow_insert's args of a checked body in org: {id, orgId,
 * crewId, name, spec, state, now, agents: []}. New reference. */
json_t *ad_flow_insert_args(const json_t *body, const char *org);
/* Step index's agent body (a copy, new): named "<workflow>/<step>" unless
 * it names itself, without a crewId (the workflow's). */
json_t *ad_flow_step_agent(const json_t *args, const json_t *body, size_t index);
/* The agent insert's args of step index (taken) into args: in the
 * workflow's crew, the step's agentId. */
void ad_flow_add_agent(json_t *args, const json_t *body, size_t index, json_t *agent);

/* ---- a new workflow's agents, step by step (build.c) ----------------------------
 * ad_flow_build makes the agents of body (checked by ad_flow_body_check) in
 * org, in step order, through ops with ud: */
typedef struct ad_flow_build ad_flow_build_t;
typedef struct {
    /* The store's insert args of an agent body (borrowed) made from the
     * definition def_name (NULL: none): a new reference, or NULL when it
     * is refused (the caller has said why). */
    json_t *(*agent)(void *ud, json_t *body, const char *def_name);
    /* Reads the definition called name; ad_flow_build_def(b, def) follows.
     * 0, or -1 when the definitions cannot be read. */
    int (*find_def)(void *ud, ad_flow_build_t *b, const char *name);
    /* The end, once: args, the workflow's insert args whole (taken); or
     * NULL with field and why naming a step's definition that is missing or
     * has an error ("steps[2].definition"), with why alone when the
     * definitions could not be read, or with neither when agent() refused. */
    void (*done)(void *ud, json_t *args, const char *field, const char *why);
} ad_flow_build_ops_t;
void ad_flow_build(json_t *body, const char *org, const ad_flow_build_ops_t *ops, void *ud);
/* The definition find_def read (borrowed; NULL: there is none). */
void ad_flow_build_def(ad_flow_build_t *b, json_t *def);
/* The prompt of step rendered (a new string, or NULL past
 * AD_FLOW_PROMPT_MAX) with input and the outputs in state {steps: {id:
 * {output}}}. The template was checked by ad_flow_check. */
char *ad_flow_render(const char *tmpl, const char *input, const json_t *state);

typedef struct ad_flow ad_flow_t;
/* A new engine; a workflow whose status or state it changed is published
 * on bus (ad_flow_publish). st, bus and runner borrowed. */
ad_flow_t *ad_flow_new(uv_loop_t *loop, ad_store_t *st, ad_bus_t *bus, ad_runner_t *runner,
                       uint64_t tick_ms);
/* workflow_update with the workflow (a row, borrowed) to its crew's and
 * its organisation's topics: what the engine publishes at each change, and
 * what a new workflow's write publishes. */
void ad_flow_publish(ad_bus_t *bus, const json_t *wf);
/* Moves the running workflows on now (after one was made). */
void ad_flow_kick(ad_flow_t *f);
/* Stops workflow wf (a row as the store gives it): its running steps'
 * agents are stopped, its pending steps skipped, its status "stopped"
 * (written; *out gets it, a new reference). 0, or AD_ESTATE when it is
 * not running. */
int ad_flow_stop(ad_flow_t *f, const json_t *wf, json_t **out);
/* ad_flow_stop, answered once the stop is committed (a read after sees
 * it): cb(0, the workflow now (a new reference cb takes), ud), or cb(the
 * store's error, NULL, ud). AD_ESTATE (cb not called) when f is NULL or
 * the workflow is not running. */
typedef void (*ad_flow_done_cb)(int rc, json_t *wf, void *ud);
int ad_flow_stop_kept(ad_flow_t *f, const json_t *wf, ad_flow_done_cb cb, void *ud);
void ad_flow_close(ad_flow_t *f);

/* ---- crews (crews.c) ------------------------------------------------------------------ */
/* Every crew of org ("": all) with its status: [{id, name, orgId, status
 * (busy, available, offline), agentCount, createdAt, updatedAt}], oldest
 * first; empty when the store cannot say (st may be NULL). New reference. */
json_t *ad_flow_crews_snapshot(ad_store_t *st, const char *org);
/* The crew status watcher: after every agent event (not output or
 * context) the statuses are read again on the next loop turn and a change
 * published as signal {crewId, status} on crew:<id> and org:<org>. bus and
 * st are borrowed. */
typedef struct ad_flow_crews ad_flow_crews_t;
ad_flow_crews_t *ad_flow_crews_new(uv_loop_t *loop, ad_bus_t *bus, ad_store_t *st);
/* A crew was made (its row, borrowed): its status is known to w (NULL
 * ok) and published on bus. */
void ad_flow_crews_created(ad_flow_crews_t *w, ad_bus_t *bus, json_t *crew);
/* A crew's name in a body: required, at most 200 bytes, not blank. 0, or
 * AD_EINVAL with e. And a crew saved: made in org with a new "crew_" id
 * (id NULL; then its status is known to w and published, as
 * ad_flow_crews_created) or renamed (id; then crew_update with its row is
 * published to the crew's and its org's topics), then cb(0, its row (new,
 * cb's), ud) after the commit, or cb(rc, NULL, ud) (AD_ENOENT: no such
 * crew). */
int ad_flow_crew_name(const json_t *body, const char **name, ad_field_err_t *e);
typedef void (*ad_flow_crew_cb)(int rc, json_t *crew, void *ud);
void ad_flow_crew_save(ad_flow_crews_t *w, ad_bus_t *bus, ad_store_t *st, const char *id,
                       const char *org, const char *name, ad_flow_crew_cb cb, void *ud);
/* Stops watching; the memory goes in the timer's close callback. NULL ok. */
void ad_flow_crews_close(ad_flow_crews_t *w);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_flow_engine;

#endif
