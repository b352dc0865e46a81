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
/* The prompt of step rendered (a new string, or NULL past
 * AD_FLOW_PROMPT_MAX) with input and the outputs in state {steps: {id:
 * {output}}}. The template was checked by ad_flow_check. */
char *ad_flow_render(const char *tmpl, const char *input, const json_t *state);

typedef struct ad_flow ad_flow_t;
/* Called with a workflow whose status or state changed (borrowed). */
typedef void (*ad_flow_changed_fn)(void *ud, const json_t *workflow);
ad_flow_t *ad_flow_new(uv_loop_t *loop, ad_store_t *st, ad_runner_t *runner, uint64_t tick_ms,
                       ad_flow_changed_fn changed, void *ud);
/* Moves the running workflows on now (after one was made). */
void ad_flow_kick(ad_flow_t *f);
/* Stops workflow wf (a row as the store gives it): its running steps'
 * agents are stopped, its pending steps skipped, its status "stopped"
 * (written; *out gets it, a new reference). 0, or AD_ESTATE when it is
 * not running. */
int ad_flow_stop(ad_flow_t *f, const json_t *wf, json_t **out);
void ad_flow_close(ad_flow_t *f);

#endif
