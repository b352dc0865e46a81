/* SPDX-License-Identifier: MIT */
/*
 * Private to src/run: what the run features export, to the core and to
 * each other (the feature interface itself is feature.h; the core's
 * state and functions run_int.h, included here).
 *
 * Threads: loop thread only.
 */
#ifndef AD_RUN_FEATURES_H
#define AD_RUN_FEATURES_H

#include "run/run_int.h"
#include "run/stuck.h"

/* ---- feat_calls.c ------------------------------------------------------------------ */
/* feat_calls.c: a tool call's message, remembered until its result comes;
 * and taken off when it comes (true: its message's id and time in id, at). */
void ad_run_call_opened(ad_run_t *run, const char *tool_id, const char *msg_id, int64_t at);
bool ad_run_call_closed(ad_run_t *run, const char *tool_id, char id[AD_ID_MAX], int64_t *at);

/* ---- codexapp.c: codex app-server runs ---------------------------------------- */
/* Stop's first step: turn/interrupt of the turn in progress; the process
 * is stopped when the turn has ended (output.c) or after the stop grace.
 * False when no turn runs (the caller stops it now). */
bool ad_run_interrupt_first(ad_run_t *run);

/* ---- version.c ----------------------------------------------------------------- */
/* Runs `argv0 --version` (cwd, env and sandbox as the run's; borrowed) beside the
 * run and keeps what it prints on the run (ad_run_version_set), or on its
 * row when the run has ended first. */
void ad_run_probe_version(ad_run_t *run, const char *argv0, const char *cwd, const char *const *env,
                          const ad_proc_sandbox_t *sandbox);
/* The run's CLI version is known (a parsed version, or "" when none could
 * be read): stored on the run row, logged, and a version agentd was not
 * tested with is said in the transcript (a system message). Once per run. */
void ad_run_version_set(ad_run_t *run, const char *version);

/* ---- approvals.c --------------------------------------------------------------- */
/* One approvals API across executors (issue #33). The pending-approval
 * record (the approvals feature's state), the stored row, approval_requested /
 * approval_updated, GET /api/agents/:id/approvals, POST /api/approvals/:id,
 * the card, `agentd approve` and the "Allow always" rule store (the agent's
 * permissions, src/api/approvals.c) are the same for every executor; only
 * the reply to the agent is the executor's. An executor plugs in by:
 *  1. an ad_run_approver_t: approvals.c picks Claude's control protocol
 *     (the first user), ACP's or the Codex app-server's by the run's
 *     executor; ad_run_approver_set at the run's start overrides it;
 *  2. calling ad_run_approval_request when its protocol asks permission
 *     (ACP session/request_permission, Codex app-server
 *     item/commandExecution/requestApproval, …) with the request's own id,
 *     and ad_run_approval_withdrawn when the agent takes the request back;
 *  3. answering in answer(): allow / deny / allow always to the protocol's
 *     reply (ACP: the offered option of that kind; Codex: accept / decline /
 *     acceptForSession).
 * The agent reads `waiting` (code approval_requested, ref the approval id)
 * while one is pending and `running` (approval_answered) once all are. */
typedef struct ad_run_approver {
    /* Writes the decision for the protocol's request_id to the agent; tool
     * and input are the approval's as stored (input borrowed, may be NULL).
     * 0, or an AD_E* code (the approval stays pending). */
    int (*answer)(ad_run_t *run, const char *request_id, ad_approval_decision_t d, const char *tool,
                  json_t *input);
    /* Denies request_id without asking the user (too many pending). */
    void (*refuse)(ad_run_t *run, const char *request_id);
} ad_run_approver_t;
/* A permission request of the agent's protocol. Borrowed by the call. */
typedef struct {
    const char *request_id;  /* the protocol's id, < 128 bytes */
    const char *tool_name;   /* what it wants to run ("Bash", "edit", …) */
    const char *tool_use_id; /* or NULL */
    json_t *input;           /* what it would run with (an object), or NULL */
    const char *description; /* or NULL */
} ad_run_approval_req_t;
/* Stores and publishes a new approval for req and sets the agent waiting;
 * a request already pending is ignored. */
void ad_run_approval_request(ad_run_t *run, const ad_run_approval_req_t *req);
/* The agent took request_id back: the approval is closed as cancelled. */
void ad_run_approval_withdrawn(ad_run_t *run, const char *request_id);
/* How many of the run's prompts wait for an answer now. */
size_t ad_run_approvals_pending(const ad_run_t *run);
/* The run's approver (at its start; NULL: its executor's). */
void ad_run_approver_set(ad_run_t *run, const ad_run_approver_t *approver);
/* Whether the user denied the call tool_id (one of the run's last
 * AD_RUN_APPROVALS_MAX denials). */
bool ad_run_tool_denied(const ad_run_t *run, const char *tool_id);
/* The ACP feature's state (acp.c, acp_term.c): the run's live terminals
 * (src/proc's set, NULL until the first), and what they run with (the
 * agent's sandbox, env and limits; NULL: none can run). On a node:
 * {agent, env, sandbox} as its spawn had them, sent with each
 * terminal/create (NULL: none). */
typedef struct {
    ad_terms_t *terms;
    ad_run_term_env_t *term_env;
    json_t *node_term;
} ad_run_acp_t;

/* ---- acp.c: the runner's side of an ACP run ----------------------------------------- */
/* The protocol begun (the initialize request written) once the process is
 * up; prompt is the first message (NULL: none). */
void ad_run_acp_begin(ad_run_t *run, const ad_agent_spec_t *spec, const char *prompt);
/* The protocol taken up on a run a previous daemon started; in_turn: the
 * agent was not waiting for input. */
void ad_run_acp_resume(ad_run_t *run, const ad_agent_spec_t *spec, bool in_turn);
/* Carries out the records of a user's decision (ad_acp_decide): answers
 * written to the agent, held requests served, notices published. */
void ad_run_acp_apply(ad_run_t *run, const ad_recs_t *recs);
/* An AD_REC_REQUEST served (fs below the worktree, terminals) and answered. */
void ad_run_acp_request(ad_run_t *run, const ad_rec_t *rec);
/* Whether the file or folder open at fd is agentd's data dir or inside it
 * (never served, even in a worktree that holds it). */
bool ad_run_acp_in_data_dir(const ad_run_t *run, int fd);
/* A line of agentd's in the run's live output (stream "system"). */
void ad_run_acp_say(ad_run_t *run, const char *text);
/* An AD_REC_FAULT: the run's error with the reason, the agent ended. */
void ad_run_acp_fault(ad_run_t *run, const ad_rec_t *rec);
/* A user message as a prompt (now, or after the turn that runs). 0,
 * AD_ETOOBIG (too many wait), AD_EINVAL, or ad_proc_write's error. */
int ad_run_acp_prompt(ad_run_t *run, const char *content);
/* session/cancel for the turn that runs, if one does. */
void ad_run_acp_cancel(ad_run_t *run);

/* ---- feat_node.c: a run on a worker node (issue #34) ---------------------------- */
/* Where the agent runs (state.node or state.placement): node_id gets the
 * node, or "" for here; *gpu: the run takes a GPU. AD_EINVAL or AD_ESTATE
 * with err. */
int ad_run_node_place(ad_runner_t *r, const ad_run_start_t *s, char node_id[AD_ID_MAX], bool *gpu,
                      char *err, size_t errsz);
/* The sandbox policy node_id builds for the run (s->remote_sandbox, and
 * s->sbx as it reads here). AD_EPERM, AD_EINVAL or AD_EIO with err. */
int ad_run_node_sandbox(ad_runner_t *r, ad_run_start_t *s, const char *node_id, char *err,
                        size_t errsz);
/* The run's process on node_id (the plane's relay; s->remote_config goes
 * with the spawn). 0 or the code of what failed, with err. */
int ad_run_node_spawn(ad_runner_t *r, ad_run_t *run, const ad_proc_opts_t *o, const char *node_id,
                      bool gpu, const ad_run_start_t *s, char *err, size_t errsz);
/* The folder as the agent sees it: on a node its folder there, else cwd. */
const char *ad_run_agent_cwd(const ad_run_t *run);
/* Why the plane gave the run up ("" when it did not). */
const char *ad_run_node_lost(const ad_run_t *run);
/* Whether the plane let the run go because another control plane owns it
 * now (issue #77, hooks.dropped): its end is not this plane's to write. */
bool ad_run_node_dropped(const ad_run_t *run);
/* A lost node's run (issue #77): whether it is one the plane gave up, and,
 * once its end is stored, its agent started again through the queue when
 * it is placed by state.placement (not pinned to its node by state.node,
 * nor state.reschedule false): on a node that fits and has room, its
 * session resumed where the executor can (a start resumes sessionId). */
bool ad_run_node_reschedules(const ad_run_t *run);
void ad_run_node_reschedule(ad_runner_t *r, const char *agent_id);
/* A node's run this plane runs, taken over again (ad_runner_take_up): when
 * another plane held it meanwhile (ad_plane_run_lease_newer), what is
 * queued here goes out under its own offsets (the store skips what the
 * other plane stored), held.c and the relay move to the stored offsets,
 * and the node is attached under the new epoch (issue #77). */
void ad_run_node_take_back(ad_runner_t *r, ad_run_t *run);
/* The node's part of ad_runner_run_live (nothing for a run here). */
void ad_run_node_live(const ad_run_t *run, json_t *live);

/* start.c: the environment of s (s->env: the executor's, state.env, a
 * stored API key; NULL-terminated). */
void ad_run_start_env(ad_runner_t *r, ad_run_start_t *s);

/* ---- acp_term.c: ACP terminals ------------------------------------------------------- */
/* A terminal/… request (AD_REC_REQUEST, allowed already) served and answered. */
void ad_run_acp_terminal(ad_run_t *run, const ad_rec_t *rec);
/* The run is let go: its terminals are killed (each frees itself once it
 * has exited). */
void ad_run_acp_terms_end(ad_run_t *run);
/* What the run's terminals run with: the agent's sandbox (taken from sbx,
 * which is left empty), a copy of its env (NULL-terminated) and limits. */
void ad_run_term_env_keep(ad_run_t *run, ad_run_sbx_t *sbx, const char *const *env,
                          const ad_proc_limits_t *limits);
void ad_run_term_env_free(ad_run_term_env_t *t);
/* The ACP feature's free hook: terminals, their env. */
void ad_run_acp_free(ad_run_t *run, void *ctx);
/* An ACP run on a node: what its terminals run with there (s's env and
 * sandbox policy), sent with each terminal/create. */
void ad_run_node_term_keep(ad_run_t *run, const ad_run_start_t *s);

/* ---- feat_limit.c, suspend.c: usage limits (issue #75) -------------------------- */
/* Whether the run's CLI hit a rate or usage limit (its turn's end). */
bool ad_run_limit_hit(const ad_run_t *run);
/* At the run's end (exit.c, after its status is known): a run that hit a
 * limit makes its agent suspended (e's agent status and reasons) and arms
 * the resume. */
void ad_run_limit_end(ad_run_t *run, const ad_proc_exit_t *ex, ad_store_run_end_t *e);
/* When a limit that resets at reset_ms lets the agent go on: the reset plus
 * a random spread of up to 10 % of the wait, at most 60 s. */
int64_t ad_run_resume_time(int64_t reset_ms, int64_t now_ms);
/* The agent is suspended until resume_at: state.suspended {resumeAt, since,
 * reason, runId} stored, and its timer armed (a second call re-arms). */
void ad_run_suspend_arm(ad_runner_t *r, const char *agent_id, const char *org, int64_t resume_at,
                        const char *run_id, const char *why);
/* When the agent resumes itself (ms since the epoch), or 0 when it is not
 * suspended. */
int64_t ad_run_suspended_until(const ad_runner_t *r, const char *agent_id);
/* The agent is no longer suspended (it runs again): its timer goes. */
void ad_run_suspend_drop(ad_runner_t *r, const char *agent_id);
/* At start-up: the agents stored `suspended` are armed again. */
void ad_run_suspends_rearm(ad_runner_t *r);
void ad_run_suspends_free(ad_runner_t *r);
/* resumeAt on an agent row as it goes out (json, or the list's text tail). */
void ad_run_suspend_live(const ad_runner_t *r, const char *agent_id, json_t *agent);
void ad_run_suspend_tail(const ad_runner_t *r, const char *agent_id, ad_store_agent_out_t *o);
/* An audit row of agentd's own doing (token "agentd", remote "local"). */
void ad_run_audit(ad_runner_t *r, const char *org, const char *agent_id, const char *method,
                  const char *route, int status, const char *detail);

/* ---- goal.c, feat_goal.c: goals (issue #75) -------------------------------------------- */
/* A turn of the agent has ended (its result, or a one-turn run's exit):
 * when it has a goal, its check runs and decides what comes next. failed:
 * the turn failed (the goal ends, failed, saying why). */
void ad_run_goal_turn_ended(ad_runner_t *r, const char *agent_id, double cost, const char *failed);
/* The agent's run was stopped by the user: its goal ends (stopped). */
void ad_run_goal_stopped(ad_runner_t *r, const char *agent_id);
/* Whether the agent has a goal under way. */
bool ad_run_goal_active(const ad_runner_t *r, const char *agent_id);
/* A run taken up (or started) with state.goal active while the runner has
 * none: the goal is the runner's again (a restarted daemon). */
void ad_run_goal_restore(ad_runner_t *r, const char *agent_id, const char *org, const json_t *g);
void ad_run_goals_free(ad_runner_t *r);

/* ---- start.c: what a goal's check runs with ------------------------------------------ */
/* s filled as a start of agent_id would be (its worktree, environment,
 * sandbox) without a launch; clean up with ad_run_start_cleanup either way. */
int ad_run_check_prepare(ad_runner_t *r, const char *agent_id, ad_run_start_t *s, char *err,
                         size_t errsz);
void ad_run_start_cleanup(ad_run_start_t *s);

#endif
