/* SPDX-License-Identifier: MIT */
/*
 * Controlling a live run: stop (answered once the exit is recorded, see
 * exit.c), pause and resume, a user message to the agent's input, and a
 * terminal agent's size and raw input. Signals and pipes are src/proc's.
 */
#include "run/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The run of agent_id with a live process (started: not still
 * starting), or NULL. */
static ad_run_t *live_run(ad_runner_t *r, const char *agent_id)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    return run != NULL && run->proc != NULL && run->pending == NULL ? run : NULL;
}

int ad_runner_signal(ad_runner_t *r, const char *agent_id, int signum)
{
    ad_run_t *run = live_run(r, agent_id);
    if (run == NULL) {
        return AD_ENOENT;
    }
    ad_log(AD_LOG_INFO, "runner", "signal agent=%s signum=%d", agent_id, signum);
    return ad_proc_signal(run->proc, signum);
}

void ad_runner_set_point_hook(ad_runner_t *r, ad_runner_point_fn fn, void *ud)
{
    r->point_fn = fn;
    r->point_ud = ud;
}

int ad_runner_stop(ad_runner_t *r, const char *agent_id, bool force, ad_runner_cb cb, void *ud)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    ad_run_waiter_t *w = ad_xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->ud = ud;
    w->next = run->stop.waiters;
    run->stop.waiters = w;
    ad_log(AD_LOG_INFO, "runner", "stopping agent=%s force=%d starting=%d", agent_id, force,
           run->pending != NULL);
    if (run->pending != NULL) {
        /* Still starting: once it runs, its row is written, then the stop
         * is kept with it and the process stopped (start.c, src/proc). */
        bool first = run->stop.since == 0;
        run->stop.since = first ? ad_wall_ms() : run->stop.since;
        if (first || (force && !run->stop.force)) {
            json_t *why = json_pack("{s:s, s:s, s:I, s:s}", "code", "stop_requested", "text",
                                    force ? "stop requested (force: SIGKILL)" : "stop requested",
                                    "at", (json_int_t)ad_wall_ms(), "ref", run->run_id);
            run->stop.force = run->stop.force || force;
            ad_run_publish_status(r, &run->topics, agent_id, "stopping", force ? "force" : NULL,
                                  why);
            json_decref(why);
        }
        ad_proc_stop(run->proc, force);
        return 0;
    }
    if (run->how.exec == AD_EXEC_ACP && run->stop.since == 0) {
        ad_run_acp_cancel(run); /* the turn ends first, as the protocol asks */
    }
    bool first = run->stop.since == 0;
    if (first) {
        run->stop.since = ad_wall_ms();
    }
    bool escalated = force && !run->stop.force;
    run->stop.force = run->stop.force || force;
    if (first || escalated) {
        json_t *why = json_pack("{s:s, s:s, s:I, s:s}", "code", "stop_requested", "text",
                                force ? "stop requested (force: SIGKILL)" : "stop requested", "at",
                                (json_int_t)ad_wall_ms(), "ref", run->run_id);
        ad_run_publish_status(r, &run->topics, agent_id, "stopping", force ? "force" : NULL, why);
        json_decref(why);
        /* kept with the run: a daemon restarted meanwhile carries it on */
        ad_store_run_stop_mark(r->store, run->run_id, run->stop.since, run->stop.force);
    }
    /* codex app-server: turn/interrupt first (the turn ends as such), then
     * stdin closes and the usual escalation follows */
    if (!(first && !force && run->how.rpc && ad_run_interrupt_first(run))) {
        ad_proc_stop(run->proc, force);
    }
    return 0;
}

bool ad_runner_stopping(const ad_runner_t *r, const char *agent_id, int64_t *since, bool *force)
{
    const ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL || run->proc == NULL || run->stop.since == 0) {
        return false;
    }
    *since = run->stop.since;
    *force = run->stop.force;
    return true;
}

int ad_runner_pause(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud)
{
    ad_run_t *run = live_run(r, agent_id);
    if (run == NULL) {
        return AD_ENOENT;
    }
    int rc = ad_proc_pause(run->proc);
    if (rc == 0) {
        ad_store_status_reason_t why;
        ad_status_reason_set(&why, "paused", run->run_id, "paused by the user (SIGSTOP)");
        ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_PAUSED, &why, cb, ud);
    }
    return rc;
}

int ad_runner_resume(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud)
{
    ad_run_t *run = live_run(r, agent_id);
    if (run == NULL) {
        return AD_ENOENT;
    }
    int rc = ad_proc_resume(run->proc);
    if (rc == 0) {
        ad_store_status_reason_t why;
        ad_status_reason_set(&why, "resumed", run->run_id, "resumed by the user (SIGCONT)");
        ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_RUNNING, &why, cb, ud);
    }
    return rc;
}

typedef struct {
    ad_runner_cb cb;
    void *ud;
    char id[AD_ID_MAX];
} msg_ctx_t;

static void on_message_done(int rc, void *ud)
{
    msg_ctx_t *c = ud;
    json_t *reply =
        json_pack("{s:s, s:s, s:b}", "messageId", c->id, "status", "sent", "running", true);
    ad_run_call_cb(c->cb, c->ud, rc, rc == 0 ? reply : NULL, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(reply);
    free(c);
}

/* Writes content to the agent's input: a stream-json user line for claude,
 * the text and a newline otherwise. */
static int write_input(ad_run_t *run, const char *content)
{
    if (run->how.rpc) { /* codex app-server: turn/start, or turn/steer mid-turn */
        char *line = NULL;
        size_t len = 0;
        int rc = ad_codex_app_input(run->parser, content, &line, &len);
        rc = rc == 0 && line != NULL ? ad_proc_write(run->proc, line, len) : rc;
        free(line);
        return rc;
    }
    if (run->how.exec == AD_EXEC_ACP) {
        return ad_run_acp_prompt(run, content);
    }
    if (run->how.stdin_json) {
        size_t len = 0;
        char *line = ad_claude_user_line(content, &len);
        int rc = line != NULL ? ad_proc_write(run->proc, line, len) : AD_EINVAL;
        free(line);
        return rc;
    }
    int rc = ad_proc_write(run->proc, content, strlen(content));
    return rc != 0 ? rc : ad_proc_write(run->proc, "\n", 1);
}

int ad_runner_message(ad_runner_t *r, const char *agent_id, const char *content, ad_runner_cb cb,
                      void *ud, char *err, size_t errsz)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    if (!ad_utf8_valid(content, strlen(content))) {
        snprintf(err, errsz, "content is not valid UTF-8");
        return AD_EINVAL;
    }
    ad_run_t *run = live_run(r, agent_id);
    ad_run_t *any = ad_run_find(r, agent_id);
    if (run == NULL && any == NULL) {
        /* Codex and Gemini run a turn per process: the next message is a
         * new run that resumes the session. */
        return ad_run_start_followup(r, agent_id, content, cb, ud, err, errsz);
    }
    if (run == NULL && any->pending != NULL && !any->how.one_shot) {
        return ad_run_pending_message(any, content, cb, ud); /* written once it runs */
    }
    if (run == NULL && any->pending != NULL) {
        run = any; /* a one-turn run: busy, below */
    }
    if (run != NULL && run->how.one_shot) {
        snprintf(err, errsz,
                 "agent %s is busy with a turn: %s takes the next message once this one has "
                 "ended",
                 agent_id, ad_executor_name(run->how.exec));
        return AD_ESTATE;
    }
    if (run == NULL || !run->how.accepts_input) {
        snprintf(err, errsz, "agent %s is not running or cannot take input", agent_id);
        return AD_ESTATE;
    }
    int rc = write_input(run, content);
    if (rc != 0) {
        snprintf(err, errsz, "%s",
                 rc == AD_ETOOBIG ? "the agent's input queue is full"
                                  : "the agent's input is closed");
        return rc == AD_ETOOBIG ? AD_ETOOBIG : AD_ESTATE;
    }
    ad_run_flush_all(run);
    msg_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    json_t *ev = ad_run_queue_message(run, "user", content, strlen(content), NULL, c->id);
    ad_run_publish(r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
    ad_store_status_reason_t why;
    ad_status_reason_set(&why, "message_sent", c->id, "message %s sent: the agent works on it",
                         c->id);
    /* the message alone, so its completion is its own */
    ad_run_flush_batch(run, on_message_done, c);
    ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_RUNNING, &why, NULL, NULL);
    return 0;
}

int ad_runner_resize(ad_runner_t *r, const char *agent_id, uint16_t rows, uint16_t cols)
{
    ad_run_t *run = live_run(r, agent_id);
    return run == NULL ? AD_ENOENT : ad_proc_resize(run->proc, rows, cols);
}

int ad_runner_write_raw(ad_runner_t *r, const char *agent_id, const void *data, size_t len)
{
    ad_run_t *run = live_run(r, agent_id);
    return run == NULL ? AD_ENOENT : ad_proc_write(run->proc, data, len);
}

void ad_runner_agents_live(const ad_runner_t *r, json_t *agents)
{
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        ad_runner_agent_live(r, a);
    }
}

/* Why agent_id's live run is stalled (run_stalled's reason), or its ended
 * run's end waits for the store (exit.c), or NULL. A page that loads its
 * agents after the event still shows the stall. */
static const char *stalled_why(const ad_runner_t *r, const char *agent_id)
{
    const ad_run_t *run = r != NULL && agent_id != NULL ? ad_run_find(r, agent_id) : NULL;
    if ((run == NULL || run->proc == NULL) && r != NULL && ad_run_store_waits(r, agent_id)) {
        return ad_run_stuck_reason(r);
    }
    if (run == NULL || run->proc == NULL || !run->stall.on) {
        return NULL;
    }
    /* The reason is ours (hold.c) or the holder's: one of a few plain words;
     * anything else reads "stalled" rather than go out unescaped. */
    for (const char *c = run->stall.reason; *c != '\0'; c++) {
        if (*c < ' ' || *c > '~' || *c == '"' || *c == '\\') {
            return "stalled";
        }
    }
    return run->stall.reason[0] != '\0' ? run->stall.reason : "stalled";
}

const char *ad_runner_row_live(const ad_runner_t *r, const char *agent_id, const char *status,
                               ad_store_agent_out_t *o)
{
    int64_t since;
    bool force;
    if (r != NULL && strcmp(status, "suspended") == 0) {
        ad_run_suspend_tail(r, agent_id, o); /* resumeAt (suspend.c) */
    }
    if (r != NULL && ad_runner_stopping(r, agent_id, &since, &force)) {
        char ts[AD_TIME_MAX];
        ad_time_format(since, ts);
        snprintf(o->status, sizeof(o->status), "stopping");
        snprintf(o->tail, sizeof(o->tail), ",\"stopping\":{\"since\":\"%s\",\"force\":%s}", ts,
                 force ? "true" : "false");
        status = "stopping";
    }
    const char *why = stalled_why(r, agent_id);
    if (why != NULL) {
        size_t len = strlen(o->tail);
        snprintf(o->tail + len, sizeof(o->tail) - len, ",\"stalled\":\"%s\"", why);
    }
    return status;
}

void ad_runner_agent_row_live(const ad_runner_t *r, ad_row_agent_t *agent)
{
    int64_t since;
    bool force;
    int64_t at = r != NULL && agent->id != NULL ? ad_run_suspended_until(r, agent->id) : 0;
    if (at != 0) { /* resumeAt (suspend.c) */
        agent->resume_at = at;
        agent->has_resume_at = true;
    }
    const char *why = stalled_why(r, agent->id);
    if (why != NULL) {
        free(agent->stalled);
        agent->stalled = ad_xstrdup(why);
    }
    if (r == NULL || agent->id == NULL || !ad_runner_stopping(r, agent->id, &since, &force)) {
        return;
    }
    agent->status = AD_ROW_AGENT_STATUS_STOPPING;
    if (agent->stopping == NULL) {
        agent->stopping = ad_xcalloc(1, sizeof(*agent->stopping));
    }
    agent->stopping->since = since;
    agent->stopping->force = force;
}

void ad_runner_agent_live(const ad_runner_t *r, json_t *agent)
{
    int64_t since;
    bool force;
    const char *id = json_string_value(json_object_get(agent, "id"));
    if (r != NULL && id != NULL) {
        ad_run_suspend_live(r, id, agent); /* resumeAt (suspend.c) */
    }
    const char *why = stalled_why(r, id);
    if (why != NULL) {
        json_object_set_new(agent, "stalled", json_string(why));
    }
    if (r == NULL || id == NULL || !ad_runner_stopping(r, id, &since, &force)) {
        return;
    }
    char ts[AD_TIME_MAX];
    ad_time_format(since, ts);
    json_object_set_new(agent, "status", json_string("stopping"));
    json_object_set_new(agent, "stopping", json_pack("{s:s, s:b}", "since", ts, "force", force));
}
