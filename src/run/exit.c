/* SPDX-License-Identifier: MIT */
/*
 * The end of a run: the parser's last records, the run's status from how
 * the process ended, the run row and agent status written, agent_exit and
 * agent_status published, stop requests answered, and the run freed.
 * Reaping is src/proc's.
 */
#include "run/features.h"
#include "tables/planes.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_runner_t *r;
    ad_run_topics_t topics;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    const char *agent_status; /* static */
    char reason[256];
    int code, sig;
    ad_run_waiter_t *waiters;
    char *hold_dir; /* the holder's directory, removed once the end is stored */
    bool remote;    /* on a worker node: the node forgets the run once its end is stored */
    ad_store_run_end_t e;
    char *fresh_prompt; /* its Claude session was gone: start a fresh one (resume.c) */
    bool reschedule;    /* a lost node's run: placed again once its end is stored */
    bool held;          /* the store refused the end for space: it waits (run_stalled said) */
    char lost_sid[AD_RUN_SID_MAX];
} end_ctx_t;

/* The run had ended already (its end is final): nothing is published
 * again; whoever waits is told, and what was held for it goes. */
static void end_was_final(end_ctx_t *c)
{
    ad_log(AD_LOG_INFO, "runner", "run already ended: its end stays as stored agent=%s run=%s",
           c->agent_id, c->run_id);
    for (ad_run_waiter_t *w = c->waiters, *next; w != NULL; w = next) {
        next = w->next;
        ad_run_call_cb(w->cb, w->ud, AD_ESTATE, NULL, "the run had already ended");
        free(w);
    }
    ad_run_hold_done(c->r, c->hold_dir, 0);
    if (c->remote && c->r->plane != NULL) {
        ad_plane_run_done(c->r->plane, c->run_id);
    }
    ad_run_config_remove(c->r, c->run_id);
    free(c->fresh_prompt);
    free(c);
}

static void store_end(void *ud, bool cancelled);

static void on_end_done(int rc, json_t *result, void *ud)
{
    end_ctx_t *c = ud;
    /* a full disk: the end waits for space as output does, and the agent
     * stays as stored (running, and stalled) until it is written; its
     * agent_exit then ends the stall on a page */
    if (ad_run_store_again(c->r, rc, store_end, c, c->agent_id)) {
        json_decref(result);
        if (!c->held) {
            c->held = true;
            const char *why = ad_run_stuck_reason(c->r);
            ad_log(AD_LOG_WARN, "runner", "run's end waits agent=%s run=%s reason=\"%s\"",
                   c->agent_id, c->run_id, why);
            ad_run_publish(c->r, &c->topics, "run_stalled",
                           json_pack("{s:s, s:s, s:s, s:I}", "agentId", c->agent_id, "runId",
                                     c->run_id, "reason", why, "since", (json_int_t)ad_wall_ms()));
        }
        return;
    }
    if (rc == AD_ESTATE) {
        json_decref(result);
        end_was_final(c);
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "runner", "recording run end failed agent=%s error=%s", c->agent_id,
               ad_strerror(rc));
    }
    json_t *exit = json_pack("{s:s, s:s?}", "agentId", c->agent_id, "runId",
                             c->run_id[0] != '\0' ? c->run_id : NULL);
    json_object_set_new(exit, "code", c->code >= 0 ? json_integer(c->code) : json_null());
    json_object_set_new(exit, "signal", c->sig > 0 ? json_integer(c->sig) : json_null());
    ad_run_publish(c->r, &c->topics, "agent_exit", exit);
    json_t *run = json_object_get(result, "run");
    json_t *agent = json_object_get(result, "agent");
    ad_run_publish_status(c->r, &c->topics, c->agent_id, c->agent_status,
                          c->reason[0] != '\0' ? c->reason : NULL,
                          json_object_get(agent, "statusReason"));
    if (run != NULL) { /* the run as stored: status, duration, tokens, cost */
        json_t *p = json_pack("{s:O}", "run", run);
        if (agent != NULL) { /* and what the agent's runs cost in all, for its list row */
            json_object_set_new(p, "agentUsage",
                                json_pack("{s:O?, s:O?}", "costUsd",
                                          json_object_get(agent, "costUsd"), "totalTokens",
                                          json_object_get(agent, "totalTokens")));
        }
        ad_run_publish(c->r, &c->topics, "run_ended", p);
    }
    json_t *reply = agent != NULL ? json_pack("{s:O}", "agent", agent) : NULL;
    for (ad_run_waiter_t *w = c->waiters, *next; w != NULL; w = next) {
        next = w->next;
        ad_run_call_cb(w->cb, w->ud, rc, reply, rc != 0 ? ad_strerror(rc) : NULL);
        free(w);
    }
    json_decref(reply);
    json_decref(result);
    ad_run_hold_done(c->r, c->hold_dir, rc);
    if (c->remote && rc == 0 && c->r->plane != NULL) {
        ad_plane_run_done(c->r->plane, c->run_id);
    }
    if (rc == 0) {
        ad_run_config_remove(c->r, c->run_id);
    }
    if (c->fresh_prompt != NULL && rc == 0) {
        ad_run_fresh_session(c->r, &c->topics, c->agent_id, c->run_id, c->lost_sid,
                             c->fresh_prompt);
    } else {
        free(c->fresh_prompt);
    }
    if (c->reschedule && rc == 0) {
        ad_run_node_reschedule(c->r, c->agent_id);
    }
    free(c);
}

/* The end is stored after the run's output (ad_run_store_call): a full
 * disk holds both, in that order; an end the store refuses itself for
 * space waits in the same queue (ad_run_store_again, on_end_done). */
static void store_end(void *ud, bool cancelled)
{
    end_ctx_t *c = ud;
    if (!cancelled) {
        ad_store_run_end(c->r->store, &c->e, on_end_done, c);
        return;
    }
    /* The daemon is closing (its server already is): as ad_runner_free does,
     * the waiters go unanswered. */
    for (ad_run_waiter_t *w = c->waiters, *next; w != NULL; w = next) {
        next = w->next;
        free(w);
    }
    free(c->hold_dir); /* kept: the next daemon takes the run up from it */
    free(c->fresh_prompt);
    free(c);
}

static void on_run_closed(uv_handle_t *h)
{
    ad_run_free(h->data);
}

void ad_run_release(ad_run_t *run)
{
    ad_runner_t *r = run->r;
    ad_run_feat_release(run); /* timers, children (feature.h) */
    ad_run_unlink(r, run);
    if (run->msgs.flush_init) {
        uv_close((uv_handle_t *)&run->msgs.flush, on_run_closed);
    } else {
        ad_run_free(run);
    }
}

/* True when output the agent printed is not stored, never by anyone's
 * choice: shed for a writer that was behind, refused by the store for
 * good, or gone from its holder's spool. */
static bool lost_output(const ad_run_t *run, const ad_proc_exit_t *ex)
{
    return run->msgs.dropped > 0 || run->msgs.lost_rows > 0 || ex->gap_bytes > 0;
}

/* "SIGKILL" for a signal a person knows by name, else "signal N". */
static const char *sigabbrev(int sig)
{
    switch (sig) {
    case SIGKILL:
        return "SIGKILL";
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGSEGV:
        return "SIGSEGV";
    case SIGABRT:
        return "SIGABRT";
    case SIGHUP:
        return "SIGHUP";
    case SIGPIPE:
        return "SIGPIPE";
    default:
        return "a signal";
    }
}

/* The agent's statusReason from how its run ended (e->status and
 * e->reason set): code "exited", "killed", "stopped", "turn_failed" or
 * "lost", with the run's id. */
static void end_why(const ad_run_t *run, const ad_proc_exit_t *ex, ad_store_run_end_t *e)
{
    const char *id = run->run_id;
    if (e->status == AD_ROW_RUN_STATUS_LOST) {
        ad_status_reason_set(&e->why, "lost", id, "run %s %s", id, e->reason);
    } else if (e->status == AD_ROW_RUN_STATUS_STOPPED) {
        ad_status_reason_set(&e->why, "stopped", id, "run %s stopped by the user", id);
    } else if (run->turn.had_error && !ex->oom_killed) {
        ad_status_reason_set(&e->why, "turn_failed", run->turn.said_id, "run %s: %s", id,
                             e->reason);
    } else if (ex->term_signal > 0) {
        ad_status_reason_set(&e->why, "killed", id, "process exited %d (%s)%s%s",
                             128 + ex->term_signal, sigabbrev(ex->term_signal),
                             e->reason[0] != '\0' ? ": " : "", e->reason);
    } else {
        ad_status_reason_set(&e->why, "exited", id, "process exited %d%s%s", ex->exit_code,
                             e->reason[0] != '\0' ? ": " : "", e->reason);
    }
}

/* The run's and the agent's status, and the reason, from how it ended. */
static void end_status(const ad_run_t *run, const ad_proc_exit_t *ex, ad_store_run_end_t *e)
{
    ad_row_run_status_t status;
    ad_row_agent_status_t agent_status;
    if (ex->lost) {
        status = AD_ROW_RUN_STATUS_LOST;
        agent_status = AD_ROW_AGENT_STATUS_ERROR;
        snprintf(e->reason, sizeof(e->reason), "lost: %s",
                 ad_run_node_lost(run)[0] != '\0' ? ad_run_node_lost(run)
                 : ex->holder_gone
                     ? "its holder (agentd-hold) was killed or died before the agent ended"
                     : "the process could not be reaped");
    } else if (ex->stop_requested) {
        status = AD_ROW_RUN_STATUS_STOPPED;
        agent_status = AD_ROW_AGENT_STATUS_STOPPED;
    } else if (ex->exit_code == 0 && !run->turn.had_error && lost_output(run, ex)) {
        /* It did its work, but some of what it printed is not kept. */
        status = AD_ROW_RUN_STATUS_DEGRADED;
        agent_status = AD_ROW_AGENT_STATUS_FINISHED;
        snprintf(e->reason, sizeof(e->reason), "degraded: some of its output was not stored");
    } else if (ex->exit_code == 0 && !run->turn.had_error) {
        status = AD_ROW_RUN_STATUS_SUCCEEDED;
        agent_status = AD_ROW_AGENT_STATUS_FINISHED;
    } else {
        status = AD_ROW_RUN_STATUS_FAILED;
        agent_status = AD_ROW_AGENT_STATUS_ERROR;
        if (ex->oom_killed) {
            snprintf(e->reason, sizeof(e->reason),
                     "killed for memory: the agent passed its memory limit (state.limits)");
        } else if (run->turn.had_error) {
            snprintf(e->reason, sizeof(e->reason), "%s", run->turn.reason);
        } else if (ex->term_signal > 0) {
            snprintf(e->reason, sizeof(e->reason), "killed by signal %d (%s)", ex->term_signal,
                     strsignal(ex->term_signal));
        } else if (run->turn.last_err[0] != '\0' && run->how.sandboxed &&
                   (ex->exit_code == 126 || ex->exit_code == 127)) {
            /* a program it ran was not found: most often one the sandbox
             * does not show (issue #74) */
            snprintf(e->reason, sizeof(e->reason),
                     "exited with code %d: %.80s (a path it needs may be outside the agent's "
                     "sandbox: add it with --sandbox-paths or the agent's sandbox paths; "
                     "`agentd sandbox check` shows it)",
                     ex->exit_code, run->turn.last_err);
        } else if (run->turn.last_err[0] != '\0') {
            snprintf(e->reason, sizeof(e->reason), "exited with code %d: %s", ex->exit_code,
                     run->turn.last_err);
        } else {
            snprintf(e->reason, sizeof(e->reason), "exited with code %d", ex->exit_code);
        }
    }
    e->status = status;
    e->agent_status = agent_status;
    end_why(run, ex, e);
}

static void note(ad_run_t *run, const char *text)
{
    ad_rec_t fake;
    memset(&fake, 0, sizeof(fake));
    fake.is_complete = true;
    json_decref(ad_run_queue_message(run, "system", text, strlen(text), &fake, NULL));
}

/* A lost run says in its transcript what happened, what it means for the
 * agent and what to do (issue #78), and health lists it (ad_runner_lost). */
static void note_lost(ad_run_t *run, const ad_proc_exit_t *ex, const char *reason)
{
    ad_runner_t *r = run->r;
    unsigned i = r->nlost++ % AD_ARRAY_LEN(r->lost);
    snprintf(r->lost[i].agent_id, sizeof(r->lost[i].agent_id), "%s", run->agent_id);
    snprintf(r->lost[i].run_id, sizeof(r->lost[i].run_id), "%s", run->run_id);
    snprintf(r->lost[i].org, sizeof(r->lost[i].org), "%s", run->org_id);
    snprintf(r->lost[i].reason, sizeof(r->lost[i].reason), "%s", reason);
    r->lost[i].at_ms = ad_wall_ms();
    char text[900];
    if (ad_run_node_lost(run)[0] != '\0') {
        snprintf(text, sizeof(text),
                 "[agentd: this run is lost: %s. agentd no longer hears from the agent: what it "
                 "printed after this is not recorded and its end is unknown. An agent placed by "
                 "its placement is started again on another node that fits; one pinned to this "
                 "node waits: check the node, then start it again to go on.]",
                 ad_run_node_lost(run));
    } else if (ex->holder_gone) {
        snprintf(text, sizeof(text),
                 "[agentd: this run is lost: its holder (agentd-hold, the process that keeps the "
                 "agent running across agentd restarts) was killed or died before the agent "
                 "ended. agentd can no longer follow this agent: its output after this point is "
                 "not recorded, its exit status is unknown, and it cannot be stopped through "
                 "agentd. The agent (pid %ld) and its children may still be running: end them "
                 "by hand (kill -- -%ld). Then start the agent again to go on (its work in the "
                 "worktree is kept). If something kills agentd-hold (an OOM killer, a cleanup "
                 "script, a session's logout), stop that first.]",
                 (long)ex->pid, (long)ex->pid);
    } else {
        snprintf(text, sizeof(text),
                 "[agentd: this run is lost: the agent's process could not be reaped, so its "
                 "exit status is unknown. Start the agent again to go on; see the daemon's log "
                 "for the cause.]");
    }
    ad_log(AD_LOG_WARN, "runner", "run lost agent=%s run=%s reason=\"%s\"", run->agent_id,
           run->run_id, reason);
    note(run, text);
}

json_t *ad_runner_lost(const ad_runner_t *r, const char *org)
{
    json_t *out = json_array();
    int64_t now = ad_wall_ms();
    unsigned n = r->nlost < AD_ARRAY_LEN(r->lost) ? r->nlost : (unsigned)AD_ARRAY_LEN(r->lost);
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (r->nlost - 1 - k) % AD_ARRAY_LEN(r->lost); /* newest first */
        const ad_run_t *again = ad_run_find(r, r->lost[i].agent_id);
        if (now - r->lost[i].at_ms > AD_RUNNER_LOST_MS || again != NULL ||
            (org != NULL && org[0] != '\0' && strcmp(r->lost[i].org, org) != 0)) {
            continue;
        }
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:s, s:I}", "agentId", r->lost[i].agent_id,
                                        "runId", r->lost[i].run_id, "reason", r->lost[i].reason,
                                        "at", (json_int_t)r->lost[i].at_ms));
    }
    return out;
}

/* Output that was shown live but not stored gets a note in the transcript. */
static void note_dropped(ad_run_t *run, const ad_proc_exit_t *ex)
{
    char text[200];
    if (run->msgs.lost_rows > 0) {
        ad_log(AD_LOG_WARN, "runner", "messages the store refused agent=%s count=%llu",
               run->agent_id, (unsigned long long)run->msgs.lost_rows);
        snprintf(text, sizeof(text),
                 "[agentd: %llu messages of this run could not be stored (the database refused "
                 "them)]",
                 (unsigned long long)run->msgs.lost_rows);
        note(run, text);
    }
    if (ex->gap_bytes > 0) {
        ad_log(AD_LOG_WARN, "runner", "output missing from the holder's spool agent=%s bytes=%llu",
               run->agent_id, (unsigned long long)ex->gap_bytes);
        snprintf(text, sizeof(text),
                 "[agentd: %llu bytes of output were lost: they were no longer in the holder's "
                 "spool]",
                 (unsigned long long)ex->gap_bytes);
        note(run, text);
    }
    if (run->msgs.dropped == 0) {
        ad_run_flush_batch(run, NULL, NULL);
        return;
    }
    ad_log(AD_LOG_WARN, "runner", "output messages not stored agent=%s count=%llu", run->agent_id,
           (unsigned long long)run->msgs.dropped);
    snprintf(text, sizeof(text),
             "[agentd: %llu blocks of output were shown live but not stored: the database "
             "could not keep up]",
             (unsigned long long)run->msgs.dropped);
    note(run, text);
    ad_run_flush_batch(run, NULL, NULL);
}

/* Everything the parser still holds, and the usage it has not reported. */
static void drain_parser(ad_run_t *run)
{
    ad_parser_finish(run->parser, uv_now(run->r->loop), &run->recs);
    ad_run_handle_recs(run);
    ad_run_flush_live(run);
    ad_run_feat_flush(run, true);
    ad_usage_t pending;
    ad_parser_pending_usage(run->parser, &pending);
    run->turn.usage.input_tokens += pending.input_tokens;
    run->turn.usage.output_tokens += pending.output_tokens;
    run->turn.usage.cache_creation_tokens += pending.cache_creation_tokens;
    run->turn.usage.cache_read_tokens += pending.cache_read_tokens;
    ad_run_flush_all(run);
}

/* The run's end in the runner's counters (/metrics). */
static void count_end(ad_runner_t *r, const ad_store_run_end_t *e)
{
    ad_runner_stats_t *st = &r->stats;
    if (e->status >= AD_ROW_RUN_STATUS_SUCCEEDED && e->status <= AD_ROW_RUN_STATUS_DEGRADED) {
        st->ended[e->status - AD_ROW_RUN_STATUS_SUCCEEDED]++;
    }
    double sec = (double)e->duration_ms / 1000.0;
    size_t b = 0;
    while (b < AD_RUN_DURATION_BUCKETS && sec > ad_run_duration_bounds[b]) {
        b++;
    }
    st->duration_counts[b]++;
    st->duration_sum_sec += sec;
    st->input_tokens += (uint64_t)e->input_tokens;
    st->output_tokens += (uint64_t)e->output_tokens;
    st->cache_read_tokens += (uint64_t)e->cache_read_tokens;
    st->cache_write_tokens += (uint64_t)e->cache_write_tokens;
    st->cost_usd += e->cost_usd;
}

static void end_record(ad_run_t *run, const ad_proc_exit_t *ex, ad_store_run_end_t *e)
{
    snprintf(e->id, sizeof(e->id), "%s", run->run_id);
    snprintf(e->agent_id, sizeof(e->agent_id), "%s", run->agent_id);
    e->now = ad_wall_ms();
    e->duration_ms = (int64_t)((ad_mono_ns() - run->started_ns) / 1000000u);
    e->has_exit_code = ex->exit_code >= 0;
    e->exit_code = ex->exit_code;
    e->signal = ex->term_signal > 0 ? ex->term_signal : 0;
    e->input_tokens = run->turn.usage.input_tokens;
    e->output_tokens = run->turn.usage.output_tokens;
    e->cache_read_tokens = run->turn.usage.cache_read_tokens;
    e->cache_write_tokens = run->turn.usage.cache_creation_tokens;
    e->cost_usd = run->turn.cost;
    e->num_turns = run->turn.count;
}

/* Another control plane owns the run now (issue #77, feat_node.c): it goes
 * on there, so nothing of an end is written, noted or published here;
 * whoever waits for its stop is told. */
static void let_go(ad_run_t *run)
{
    ad_log(AD_LOG_WARN, "runner",
           "run let go: another control plane owns it now, nothing of its end written here "
           "agent=%s run=%s",
           run->agent_id, run->run_id);
    for (ad_run_waiter_t *w = run->stop.waiters, *next; w != NULL; w = next) {
        next = w->next;
        ad_run_call_cb(w->cb, w->ud, AD_ESTATE, NULL, "another control plane owns the run now");
        free(w);
    }
    run->stop.waiters = NULL;
    ad_run_release(run);
}

void ad_run_on_exit(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(p);
    ad_run_t *run = ud;
    ad_runner_t *r = run->r;
    run->proc = NULL;
    /* let go: the plane said so (feat_node.c), or the run is lost here (its
     * holder or node gone) because another plane took it over meanwhile,
     * whose live lease the store shows: it goes on there (issue #77) */
    if (ad_run_node_dropped(run) ||
        (ex->lost && r->cfg->plane_id[0] != '\0' &&
         ad_store_run_leased_elsewhere(r->store, r->cfg->plane_id, run->run_id, ad_wall_ms()))) {
        let_go(run);
        return;
    }
    drain_parser(run);
    ad_run_feat_exit(run, ex);
    ad_store_run_end_t e;
    memset(&e, 0, sizeof(e));
    end_status(run, ex, &e);
    ad_run_limit_end(run, ex, &e); /* a usage limit: suspended (feat_limit.c) */
    if (e.status == AD_ROW_RUN_STATUS_LOST) {
        note_lost(run, ex, e.reason);
    }
    note_dropped(run, ex);
    end_record(run, ex, &e);
    count_end(r, &e);
    ad_log(AD_LOG_INFO, "runner", "run ended agent=%s run=%s status=%s code=%d signal=%d",
           run->agent_id, run->run_id, ad_row_run_status_name(e.status), ex->exit_code,
           ex->term_signal);

    end_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    ad_run_topics_copy(&c->topics, &run->topics);
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", run->agent_id);
    snprintf(c->run_id, sizeof(c->run_id), "%s", run->run_id);
    c->agent_status = ad_row_agent_status_name(e.agent_status);
    snprintf(c->reason, sizeof(c->reason), "%s", e.reason);
    c->code = ex->exit_code;
    c->sig = ex->term_signal;
    c->waiters = run->stop.waiters;
    run->stop.waiters = NULL;
    c->hold_dir = run->held.dir;
    run->held.dir = NULL;
    c->remote = run->node_id[0] != '\0';
    snprintf(e.plane_id, sizeof(e.plane_id), "%.*s", (int)sizeof(e.plane_id) - 1, r->cfg->plane_id);
    c->e = e;
    c->fresh_prompt = run->stop.since == 0 ? ad_run_session_lost(run, c->lost_sid) : NULL;
    c->reschedule =
        e.status == AD_ROW_RUN_STATUS_LOST && run->stop.since == 0 && ad_run_node_reschedules(run);
    (void)ad_run_store_call(r, store_end, c, c->agent_id); /* its waiters wait for it */
    ad_run_release(run);
}
