/* SPDX-License-Identifier: MIT */
/*
 * The workflow engine: every tick, each running workflow is read from the
 * store and moved on (its running steps looked at, the steps whose needs
 * are met started), and written back whole when anything changed. While a
 * write is out, ticks wait, so a step is never started twice from a state
 * read before its start was stored.
 */
#include "flow/flow.h"
#include "tables/messages.h"
#include "tables/workflows.h"

#include <stdlib.h>
#include <string.h>

struct ad_flow {
    uv_timer_t timer;
    ad_store_t *st;
    ad_runner_t *runner;
    ad_bus_t *bus;   /* workflow_update goes out on it */
    unsigned saving; /* writes out; the engine is freed once 0 after close */
    bool closed;
};

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool terminal(const char *status)
{
    return status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "running") != 0;
}

static void freed(uv_handle_t *h)
{
    ad_flow_t *f = h->data;
    if (f->saving == 0) {
        free(f);
    }
}

static void saved(int rc, json_t *result, void *ud)
{
    ad_flow_t *f = ud;
    json_decref(result);
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "flow", "cannot save a workflow: %s", ad_strerror(rc));
    }
    if (--f->saving == 0 && f->closed) {
        free(f);
    }
}

static void save(ad_flow_t *f, json_t *wf)
{
    f->saving++;
    ad_store_workflow_save(f->st, str(wf, "id"), str(wf, "status"), json_object_get(wf, "state"),
                           saved, f);
    ad_flow_publish(f->bus, wf);
}

/* What the agent said in its run, oldest first, at most AD_FLOW_OUTPUT_MAX
 * bytes (the newest kept). */
static json_t *output_of(ad_flow_t *f, const char *agent_id)
{
    json_t *page = NULL;
    if (ad_store_message_page(f->st, agent_id, 200, NULL, &page) != 0) {
        return json_string("");
    }
    json_t *msgs = json_object_get(page, "messages");
    size_t total = 0, from = json_array_size(msgs);
    for (size_t i = 0; i < json_array_size(msgs); i++) { /* newest first */
        json_t *m = json_array_get(msgs, i);
        if (strcmp(str(m, "role") != NULL ? str(m, "role") : "", "assistant") != 0) {
            continue;
        }
        size_t n = strlen(str(m, "content") != NULL ? str(m, "content") : "") + 1;
        if (total + n > AD_FLOW_OUTPUT_MAX) {
            break;
        }
        total += n;
        from = i;
    }
    ad_buf_t b;
    ad_buf_init(&b, AD_FLOW_OUTPUT_MAX + 1);
    bool ok = true;
    for (size_t i = json_array_size(msgs); i-- > from;) {
        json_t *m = json_array_get(msgs, i);
        const char *c = str(m, "content");
        if (c != NULL && strcmp(str(m, "role"), "assistant") == 0) {
            ok = ok && (b.len == 0 || ad_buf_putc(&b, '\n') == 0) &&
                 ad_buf_append(&b, c, strlen(c)) == 0;
        }
    }
    json_decref(page);
    json_t *out = json_stringn(b.data != NULL ? b.data : "", b.len);
    ad_buf_cleanup(&b);
    return out != NULL ? out : json_string(""); /* not UTF-8 cut: jansson refuses */
}

/* A running step looked at: true when it changed. */
static bool watch_step(ad_flow_t *f, json_t *x, double *total)
{
    const char *agent_id = str(x, "agentId");
    ad_row_agent_t a = {0};
    if (agent_id == NULL || ad_store_agent_row(f->st, agent_id, &a) != 0) {
        ad_row_agent_cleanup(&a);
        json_object_set_new(x, "status", json_string("failed"));
        json_object_set_new(x, "error", json_string("the step's agent is gone"));
        return true;
    }
    double cost = 0;
    if (ad_store_agent_cost(f->st, agent_id, &cost) == 0) {
        json_object_set_new(x, "costUsd", json_real(cost));
        *total += cost;
    }
    const ad_row_status_reason_t *why = a.status_reason;
    const char *next = NULL;
    if (a.status == AD_ROW_AGENT_STATUS_FINISHED ||
        (a.status == AD_ROW_AGENT_STATUS_WAITING && why != NULL && why->code != NULL &&
         strcmp(why->code, "turn_ended") == 0)) {
        next = "succeeded";
    } else if (a.status == AD_ROW_AGENT_STATUS_ERROR || a.status == AD_ROW_AGENT_STATUS_STOPPED) {
        next = a.status == AD_ROW_AGENT_STATUS_ERROR ? "failed" : "stopped";
        const char *text = why != NULL ? why->text : NULL;
        json_object_set_new(x, "error",
                            json_string(text != NULL ? text : ad_row_agent_status_name(a.status)));
    }
    if (next != NULL) {
        json_object_set_new(x, "status", json_string(next));
        json_object_set_new(x, "output", output_of(f, agent_id));
        json_object_set_new(x, "endedAt", json_integer(ad_wall_ms()));
        if (ad_runner_is_running(f->runner, agent_id)) {
            ad_runner_stop(f->runner, agent_id, false, NULL, NULL); /* its turn is over */
        }
    }
    ad_row_agent_cleanup(&a);
    return next != NULL;
}

/* A pending step: skipped when a step it needs did not succeed, started
 * when all did. True when it changed. */
static bool try_start(ad_flow_t *f, json_t *wf, json_t *spec_step, json_t *x)
{
    json_t *states = json_object_get(json_object_get(wf, "state"), "steps");
    size_t i;
    json_t *need;
    json_array_foreach(json_object_get(spec_step, "needs"), i, need)
    {
        const char *st = str(json_object_get(states, json_string_value(need)), "status");
        if (terminal(st) && strcmp(st, "succeeded") != 0) {
            json_object_set_new(x, "status", json_string("skipped"));
            return true;
        }
        if (st == NULL || strcmp(st, "succeeded") != 0) {
            return false;
        }
    }
    char *prompt =
        ad_flow_render(str(spec_step, "prompt"), str(json_object_get(wf, "spec"), "input"),
                       json_object_get(wf, "state"));
    char err[256] = "";
    int rc = prompt != NULL ? ad_runner_start(f->runner, str(x, "agentId"), prompt, NULL, NULL, err,
                                              sizeof(err))
                            : AD_ETOOBIG;
    free(prompt);
    json_object_set_new(x, "status", json_string(rc == 0 ? "running" : "failed"));
    json_object_set_new(x, rc == 0 ? "startedAt" : "error",
                        rc == 0 ? json_integer(ad_wall_ms())
                                : json_string(err[0] ? err : ad_strerror(rc)));
    return true;
}

/* Ends every step not ended: running ones stopped (their agents too). */
static void end_steps(ad_flow_t *f, json_t *states, const char *running_to)
{
    const char *id;
    json_t *x;
    json_object_foreach(states, id, x)
    {
        const char *st = str(x, "status");
        if (st != NULL && strcmp(st, "running") == 0) {
            const char *agent_id = str(x, "agentId");
            if (agent_id != NULL && ad_runner_is_running(f->runner, agent_id)) {
                ad_runner_stop(f->runner, agent_id, false, NULL, NULL);
            }
            json_object_set_new(x, "status", json_string(running_to));
        } else if (st != NULL && strcmp(st, "pending") == 0) {
            json_object_set_new(x, "status", json_string("skipped"));
        }
    }
}

/* Moves wf on; true when it changed. */
static bool advance(ad_flow_t *f, json_t *wf)
{
    json_t *spec = json_object_get(wf, "spec");
    json_t *states = json_object_get(json_object_get(wf, "state"), "steps");
    bool changed = false;
    double total = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(spec, "steps"), i, s)
    {
        json_t *x = json_object_get(states, str(s, "id"));
        if (x != NULL && strcmp(str(x, "status"), "running") == 0) {
            changed |= watch_step(f, x, &total);
        } else if (x != NULL) {
            total += json_number_value(json_object_get(x, "costUsd"));
        }
    }
    double budget = json_number_value(json_object_get(spec, "budgetUsd"));
    if (budget > 0 && total > budget) {
        end_steps(f, states, "stopped");
        json_object_set_new(wf, "status", json_string("over_budget"));
        return true;
    }
    bool all_ended = true, all_ok = true;
    json_array_foreach(json_object_get(spec, "steps"), i, s)
    {
        json_t *x = json_object_get(states, str(s, "id"));
        if (x != NULL && strcmp(str(x, "status"), "pending") == 0) {
            changed |= try_start(f, wf, s, x);
        }
        const char *st = str(x, "status");
        all_ended &= terminal(st);
        all_ok &= st != NULL && strcmp(st, "succeeded") == 0;
    }
    if (all_ended) {
        json_object_set_new(wf, "status", json_string(all_ok ? "succeeded" : "failed"));
        changed = true;
    }
    return changed;
}

static void on_tick(uv_timer_t *t)
{
    ad_flow_t *f = t->data;
    json_t *wfs = NULL;
    if (f->saving > 0 || ad_store_workflow_list(f->st, NULL, true, &wfs) != 0) {
        return;
    }
    size_t i;
    json_t *wf;
    json_array_foreach(wfs, i, wf)
    {
        if (advance(f, wf)) {
            save(f, wf);
        }
    }
    json_decref(wfs);
}

void ad_flow_publish(ad_bus_t *bus, const json_t *wf)
{
    ad_bus_publish_to(bus, "workflow_update", (json_t *)wf /* borrowed */, "crew",
                      str(wf, "crewId"), "org", str(wf, "orgId"), NULL);
}

ad_flow_t *ad_flow_new(uv_loop_t *loop, ad_store_t *st, ad_bus_t *bus, ad_runner_t *runner,
                       uint64_t tick_ms)
{
    ad_flow_t *f = ad_xcalloc(1, sizeof(*f));
    f->st = st;
    f->bus = bus;
    f->runner = runner;
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
    uv_timer_start(&f->timer, on_tick, tick_ms, tick_ms);
    uv_unref((uv_handle_t *)&f->timer);
    return f;
}

void ad_flow_kick(ad_flow_t *f)
{
    if (f != NULL && !f->closed) {
        on_tick(&f->timer);
    }
}

int ad_flow_stop(ad_flow_t *f, const json_t *row, json_t **out)
{
    if (strcmp(str(row, "status"), "running") != 0) {
        return AD_ESTATE;
    }
    json_t *wf = json_deep_copy(row);
    end_steps(f, json_object_get(json_object_get(wf, "state"), "steps"), "stopped");
    json_object_set_new(wf, "status", json_string("stopped"));
    save(f, wf);
    *out = wf;
    return 0;
}

void ad_flow_close(ad_flow_t *f)
{
    if (f == NULL) {
        return;
    }
    f->closed = true;
    uv_close((uv_handle_t *)&f->timer, freed);
}

typedef struct {
    ad_flow_done_cb cb;
    void *ud;
    json_t *wf;
} stopped_t;

/* The stop is committed: a read after the answer sees it. */
static void stop_saved(int rc, void *ctx)
{
    stopped_t *c = ctx;
    if (rc != 0) {
        json_decref(c->wf);
        c->wf = NULL;
    }
    c->cb(rc, c->wf, c->ud);
    free(c);
}

int ad_flow_stop_kept(ad_flow_t *f, const json_t *wf, ad_flow_done_cb cb, void *ud)
{
    json_t *now = NULL;
    if (f == NULL || ad_flow_stop(f, wf, &now) != 0) {
        return AD_ESTATE;
    }
    stopped_t *c = ad_xmalloc(sizeof(*c));
    *c = (stopped_t){.cb = cb, .ud = ud, .wf = now};
    ad_store_flush(f->st, stop_saved, c);
    return 0;
}
