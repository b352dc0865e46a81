/* SPDX-License-Identifier: MIT */
/*
 * Usage limits (issue #75): a run whose CLI hit a rate or usage limit ends
 * with its agent `suspended` until the limit resets, not `error`, and the
 * agent resumes itself then (suspend.c).
 *
 * src/agent's ad_limit_of reads the signal from the parser's records: a
 * failed turn whose result is a 429 or a limit's message (the hit), and
 * the notices that say when it resets (Claude's rate_limit_event,
 * api_retry after a 429). When the turn that hit the limit has ended and
 * the process lives on (Claude Code, the Codex app-server, an ACP agent
 * wait for their next message), its input is closed so that it ends; a
 * one-turn CLI (Gemini, codex exec) ends by itself. At the exit the run's
 * end is made a suspension (ad_run_limit_end, from exit.c).
 *
 * The reset is, first found first: the reset the hit's text names, the
 * newest notice's, else AD_RUN_LIMIT_WAIT_MS from now (an API key's 429
 * through Claude Code says no time once its retries are spent); never
 * sooner than AD_RUN_LIMIT_MIN_MS from the run's end.
 *
 * State: whether the run hit a limit, the reset. Hooks: open (a new run
 * of the agent takes it out of the suspended table), record, line_end.
 * Threads: loop thread only.
 */
#include "run/features.h"

#include <string.h>

#define AD_RUN_LIMIT_WAIT_MS (5 * 60 * 1000) /* no reset said: five minutes */
#define AD_RUN_LIMIT_MIN_MS 5000             /* the shortest wait */

typedef struct {
    bool hit;
    bool closed;      /* its input was closed so that it ends */
    int64_t reset_ms; /* the hit's own reset (0: none said) */
    int64_t hint_ms;  /* the newest notice's reset (0: none) */
    char why[200];    /* the CLI's words */
} limit_t;

static void limit_open(ad_run_t *run, const ad_run_start_t *s)
{
    AD_UNUSED(s);
    ad_run_suspend_drop(run->r, run->agent_id); /* it runs: no longer suspended */
}

static bool limit_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_RESULT && rec->type != AD_REC_NOTICE) {
        return false;
    }
    int64_t at = 0;
    ad_limit_t k = ad_limit_of(rec, ad_wall_ms(), &at);
    if (k == AD_LIMIT_NONE) {
        return false;
    }
    limit_t *l = ad_run_ctx(run, AD_RUN_FEAT_LIMIT);
    if (k == AD_LIMIT_HINT) {
        l->hint_ms = at != 0 ? at : l->hint_ms;
        return false;
    }
    l->hit = true;
    l->reset_ms = at;
    snprintf(l->why, sizeof(l->why), "%s", rec->text != NULL ? rec->text : "a usage limit");
    return false; /* the core records the failed turn as it does any */
}

/* The turn that hit the limit has ended: a process that waits for its next
 * message is let end (its input closed), so that the end suspends it. */
static void limit_line_end(ad_run_t *run)
{
    limit_t *l = ad_run_ctx_peek(run, AD_RUN_FEAT_LIMIT);
    if (l == NULL || !l->hit || l->closed || run->proc == NULL || run->how.one_shot ||
        run->stop.since != 0) {
        return;
    }
    l->closed = true;
    ad_proc_close_stdin(run->proc);
}

bool ad_run_limit_hit(const ad_run_t *run)
{
    const limit_t *l = ad_run_ctx_peek(run, AD_RUN_FEAT_LIMIT);
    return l != NULL && l->hit;
}

void ad_run_limit_end(ad_run_t *run, const ad_proc_exit_t *ex, ad_store_run_end_t *e)
{
    limit_t *l = ad_run_ctx_peek(run, AD_RUN_FEAT_LIMIT);
    if (l == NULL || !l->hit || ex->stop_requested || ex->lost || ex->oom_killed) {
        return; /* a stop, a lost run or an OOM kill say so themselves */
    }
    int64_t now = ad_wall_ms();
    int64_t reset = l->reset_ms != 0   ? l->reset_ms
                    : l->hint_ms > now ? l->hint_ms
                                       : now + AD_RUN_LIMIT_WAIT_MS;
    /* a reset that passed while the CLI ended (Codex's "try again in
     * 0.2s"), or one very near: not sooner than AD_RUN_LIMIT_MIN_MS, so a
     * limit that holds does not make a run a second */
    reset = reset > now + AD_RUN_LIMIT_MIN_MS ? reset : now + AD_RUN_LIMIT_MIN_MS;
    int64_t at = ad_run_resume_time(reset, now);
    char ts[AD_TIME_MAX];
    ad_time_format(at, ts);
    e->agent_status = AD_ROW_AGENT_STATUS_SUSPENDED;
    snprintf(e->reason, sizeof(e->reason), "suspended until %s: %.180s", ts, l->why);
    ad_status_reason_set(&e->why, "usage_limit", run->run_id, "suspended until %s: %.180s", ts,
                         l->why);
    ad_run_suspend_arm(run->r, run->agent_id, run->org_id, at, run->run_id, l->why);
}

const ad_run_feature_t ad_run_feat_limit = {
    .name = "limit",
    .ctx_size = sizeof(limit_t),
    .open = limit_open,
    .record = limit_record,
    .line_end = limit_line_end,
};
