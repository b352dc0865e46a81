/* SPDX-License-Identifier: MIT */
/*
 * Goals, the run's side (issue #75; the goal itself is goal.c's): when a
 * turn of the agent has ended, goal.c runs its check.
 *
 * A turn ends:
 *  - with its result, while the process lives on and waits for the next
 *    message (Claude Code, the Codex app-server, an ACP agent): at the
 *    line's end, after the core has made the agent `waiting`;
 *  - with the process, for a run that is one turn (Gemini, codex exec)
 *    and for a command (its run is its turn; the next turn is a new run
 *    with the prompt on its stdin).
 * A turn that failed (an error result that is not a usage limit) ends the
 * goal as failed; one that hit a usage limit leaves it to the resume
 * (feat_limit.c): the resumed turn's end is checked. A stop by the user
 * ends the goal (stopped).
 *
 * State: the turn's result seen on this line, its cost, whether it failed.
 * Hooks: open (a restarted daemon's goal from state.goal), record
 * (AD_REC_RESULT), line_end, exit. Threads: loop thread only.
 */
#include "run/features.h"

#include <string.h>

typedef struct {
    bool ended;   /* a result on this line */
    bool failed;  /* it was an error */
    bool checked; /* the last result was checked (a one-turn run's exit is not again) */
    double cost;  /* the results' cost not yet counted */
    char why[256];
} goal_run_t;

static void goal_open(ad_run_t *run, const ad_run_start_t *s)
{
    json_t *g = json_object_get(s->state, "goal");
    if (g != NULL && !ad_run_goal_active(run->r, run->agent_id)) {
        ad_run_goal_restore(run->r, run->agent_id, run->org_id, g);
    }
}

static bool goal_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_RESULT || !ad_run_goal_active(run->r, run->agent_id)) {
        return false;
    }
    goal_run_t *g = ad_run_ctx(run, AD_RUN_FEAT_GOAL);
    g->ended = true;
    g->checked = false;
    g->failed = rec->is_error;
    g->cost += rec->cost_usd > 0 ? rec->cost_usd : 0;
    snprintf(g->why, sizeof(g->why), "%s", rec->text != NULL ? rec->text : "an error");
    return false;
}

/* The turn's end: checked (or the goal failed), unless it hit a limit. */
static void turn_ended(ad_run_t *run, goal_run_t *g)
{
    double cost = g->cost;
    g->cost = 0;
    g->ended = false;
    g->checked = true;
    if (ad_run_limit_hit(run)) {
        return; /* suspended: the resumed turn is checked */
    }
    ad_run_goal_turn_ended(run->r, run->agent_id, cost, g->failed ? g->why : NULL);
}

static void goal_line_end(ad_run_t *run)
{
    goal_run_t *g = ad_run_ctx_peek(run, AD_RUN_FEAT_GOAL);
    if (g == NULL || !g->ended || run->how.one_shot || run->proc == NULL ||
        !ad_proc_alive(run->proc) || run->stop.since != 0) {
        return;
    }
    turn_ended(run, g);
}

static void goal_exit(ad_run_t *run, const ad_proc_exit_t *ex)
{
    if (!ad_run_goal_active(run->r, run->agent_id)) {
        return;
    }
    if (ex->stop_requested || run->stop.since != 0) {
        ad_run_goal_stopped(run->r, run->agent_id);
        return;
    }
    goal_run_t *g = ad_run_ctx(run, AD_RUN_FEAT_GOAL);
    bool one_turn = run->how.one_shot || run->how.exec == AD_EXEC_COMMAND;
    if (g->ended || (one_turn && !g->checked)) {
        if (!g->ended && ex->lost) {
            return; /* lost: nobody knows how its turn ended */
        }
        turn_ended(run, g);
    }
}

const ad_run_feature_t ad_run_feat_goal = {
    .name = "goal",
    .ctx_size = sizeof(goal_run_t),
    .open = goal_open,
    .record = goal_record,
    .line_end = goal_line_end,
    .exit = goal_exit,
};
