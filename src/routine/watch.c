/* SPDX-License-Identifier: MIT */
/*
 * Open runs followed, while there are any (one timer, stopped when none is
 * open, so idle routines cost nothing): a running run ends as its agent
 * does (finished: succeeded; error: failed; stopped; a turn ended:
 * succeeded, and the agent stopped), or over_budget past the routine's
 * cost per run (the agent stopped); a queued run starts when its routine
 * has room; a run left starting by a plane that went away fails. Each
 * change is one conditional write (from the status read), so planes that
 * watch the same runs change each once.
 */
#include "routine/routine_int.h"
#include "tables/agents.h"
#include "tables/routines.h"
#include "tables/workflows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool is(const char *a, const char *b)
{
    return a != NULL && strcmp(a, b) == 0;
}

typedef struct {
    ad_routines_t *e;
    ad_routines_set_cb cb;
    void *ud;
} setx_t;

static void written(int rc, json_t *result, void *ud)
{
    setx_t *s = ud;
    ad_routines_t *e = s->e;
    e->out--;
    bool changed = rc == 0 && json_is_true(json_object_get(result, "changed"));
    json_t *run = json_object_get(result, "run");
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "routine", "cannot write a routine run: %s", ad_strerror(rc));
    } else if (changed && !e->closed) {
        ad_routines_publish_run(e, run);
    }
    if (s->cb != NULL) { /* also once stopping: it lets go of what it holds */
        s->cb(e, changed && !e->closed, run, s->ud);
    }
    json_decref(result);
    free(s);
    ad_routines_maybe_free(e);
}

void ad_routines_run_set(ad_routines_t *e, json_t *args, ad_routines_set_cb cb, void *ud)
{
    if (e->closed) { /* stopping: the store may be closing */
        json_decref(args);
        if (cb != NULL) {
            cb(e, false, NULL, ud);
        }
        return;
    }
    setx_t *s = ad_xcalloc(1, sizeof(*s));
    *s = (setx_t){.e = e, .cb = cb, .ud = ud};
    e->out++;
    ad_store_write(e->st, ad_store_op_routine_run_set, args, written, s);
}

/* ---- a running run ---------------------------------------------------------------------- */

static void stop_answered(ad_routines_t *e, int status, json_t *answer, void *ud)
{
    AD_UNUSED(e);
    AD_UNUSED(status);
    AD_UNUSED(ud);
    json_decref(answer);
}

static void stop_agent(ad_routines_t *e, const json_t *run)
{
    json_t *r = json_pack("{s:s, s:s}", "id", str(run, "routineId"), "orgId", str(run, "orgId"));
    ad_principal_t who;
    ad_routines_who(r, &who);
    json_decref(r);
    char target[128];
    snprintf(target, sizeof(target), "/api/agents/%s/stop", str(run, "agentId"));
    ad_routines_call(e, &who, "POST", target, NULL, stop_answered, NULL);
}

static void end_run(ad_routines_t *e, const json_t *run, const char *status, const char *why,
                    double cost)
{
    ad_routines_payload_drop(e, run);
    ad_routines_run_set(e,
                        json_pack("{s:s, s:[s], s:s, s:s, s:f, s:I}", "id", str(run, "id"), "from",
                                  "running", "status", status, "reason", why, "costUsd", cost,
                                  "now", (json_int_t)ad_routines_now(e)),
                        NULL, NULL);
}

static void follow(ad_routines_t *e, const json_t *run, const json_t *routine)
{
    json_t *a = NULL;
    double cost = 0;
    if (ad_store_agent_get(e->st, str(run, "agentId"), &a) != 0) {
        end_run(e, run, "failed", "its agent is gone",
                json_number_value(json_object_get(run, "costUsd")));
        return;
    }
    ad_store_agent_cost(e->st, str(run, "agentId"), &cost);
    const char *status = str(a, "status");
    json_t *why = json_object_get(a, "statusReason");
    const char *text = str(why, "text");
    double limit =
        json_number_value(json_object_get(json_object_get(routine, "limits"), "costPerRunUsd"));
    char reason[160];
    if (is(status, "finished")) {
        end_run(e, run, "succeeded", "", cost);
    } else if (is(status, "error")) {
        end_run(e, run, "failed", text != NULL ? text : "its agent failed", cost);
    } else if (is(status, "stopped")) {
        end_run(e, run, "stopped", text != NULL ? text : "its agent was stopped", cost);
    } else if (is(status, "waiting") && is(str(why, "code"), "turn_ended")) {
        end_run(e, run, "succeeded", "its turn ended", cost);
        stop_agent(e, run);
    } else if (limit > 0 && cost > limit) {
        snprintf(reason, sizeof(reason), "its cost %.4f USD passed the limit of %.4f a run", cost,
                 limit);
        end_run(e, run, "over_budget", reason, cost);
        stop_agent(e, run);
    } else if (fabs(cost - json_number_value(json_object_get(run, "costUsd"))) > 1e-9) {
        ad_routines_run_set(e,
                            json_pack("{s:s, s:[s], s:s, s:f, s:I}", "id", str(run, "id"), "from",
                                      "running", "status", "running", "costUsd", cost, "now",
                                      (json_int_t)ad_routines_now(e)),
                            NULL, NULL);
    }
    json_decref(a);
}

/* ---- a queued run --------------------------------------------------------------------------- */

typedef struct {
    json_t *routine;
} deq_t;

static void dequeued(ad_routines_t *e, bool changed, json_t *run, void *ud)
{
    deq_t *d = ud;
    if (changed) {
        ad_routines_start(e, d->routine, run);
    }
    json_decref(d->routine);
    free(d);
}

static void try_dequeue(ad_routines_t *e, const json_t *run, json_t *routine, int64_t busy)
{
    int64_t conc =
        json_integer_value(json_object_get(json_object_get(routine, "limits"), "concurrent"));
    if (conc > 0 && busy >= conc) {
        return;
    }
    deq_t *d = ad_xcalloc(1, sizeof(*d));
    d->routine = json_incref(routine);
    ad_routines_run_set(e,
                        json_pack("{s:s, s:[s], s:s, s:s, s:s, s:I}", "id", str(run, "id"), "from",
                                  "queued", "status", "starting", "reason", "", "planeId", e->plane,
                                  "now", (json_int_t)ad_routines_now(e)),
                        dequeued, d);
}

/* ---- the timer ------------------------------------------------------------------------------ */

/* The runs of routine among open that are starting or running. */
static int64_t busy_of(const json_t *open, const char *routine)
{
    int64_t n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(open, i, r)
    {
        n += is(str(r, "routineId"), routine) &&
             (is(str(r, "status"), "starting") || is(str(r, "status"), "running"));
    }
    return n;
}

static void on_watch(uv_timer_t *t)
{
    ad_routines_t *e = t->data;
    json_t *open = NULL;
    if (e->closed || ad_store_routine_runs_open(e->st, &open) != 0) {
        return;
    }
    if (json_array_size(open) == 0) {
        uv_timer_stop(&e->watch);
        e->watching = false;
        json_decref(open);
        return;
    }
    int64_t now = ad_routines_now(e);
    char seen[AD_ID_MAX] = ""; /* one queued run a routine a tick */
    size_t i;
    json_t *run;
    json_array_foreach(open, i, run)
    {
        json_t *routine = NULL;
        if (ad_store_routine_get(e->st, str(run, "routineId"), &routine) != 0) {
            continue;
        }
        const char *st = str(run, "status");
        int64_t updated = 0;
        ad_time_parse(str(run, "updatedAt"), &updated);
        if (is(st, "running")) {
            follow(e, run, routine);
        } else if (is(st, "queued") && strcmp(seen, str(run, "routineId")) != 0) {
            snprintf(seen, sizeof(seen), "%s", str(run, "routineId"));
            try_dequeue(e, run, routine, busy_of(open, str(run, "routineId")));
        } else if (is(st, "starting") && now - updated > AD_ROUTINE_STARTING_MS) {
            ad_routines_run_set(e,
                                json_pack("{s:s, s:[s], s:s, s:s, s:I}", "id", str(run, "id"),
                                          "from", "starting", "status", "failed", "reason",
                                          "left starting: its control plane went away", "now",
                                          (json_int_t)now),
                                NULL, NULL);
        }
        json_decref(routine);
    }
    json_decref(open);
}

void ad_routines_watch(ad_routines_t *e)
{
    if (e != NULL && !e->closed && !e->watching) {
        e->watching = true;
        uv_timer_start(&e->watch, on_watch, AD_ROUTINE_WATCH_MS, AD_ROUTINE_WATCH_MS);
    }
}
