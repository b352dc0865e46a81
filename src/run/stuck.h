/* SPDX-License-Identifier: MIT */
/*
 * Private to src/run: the stuck queue (batch.c). What the store refuses
 * for space (a full disk) or cannot reach (PostgreSQL away) waits here
 * and is handed to it again, in the order it was made, with backoff: a
 * run's batches, a run's end, an agent's change, a note, a turn's usage.
 * Nothing of an agent's is lost to a full disk; what waits marks its
 * agent `stalled` (ad_run_store_waits). docs/internals/hold.md.
 *
 * Threads: loop thread only.
 */
#ifndef AD_RUN_STUCK_H
#define AD_RUN_STUCK_H

#include "run/run_int.h"

/* ---- batch.c: calls and writes in the queue --------------------------------- */
/* A store call fn(ud, false) outside the batches (an agent's change, a
 * run's end, for agent_id, a string that lives as long as ud): made now
 * (true; ud may be gone when it returns), unless some wait for space
 * (false: the change after the output before it), and then made in its
 * turn. Its callback hands each answer to ad_run_store_again. At the
 * runner's end a call that waits gets fn(ud, true) instead. */
bool ad_run_store_call(ad_runner_t *r, ad_run_after_fn fn, void *ud, const char *agent_id);
/* The answer rc of such a call: true when rc is a refusal space (or the
 * database back) would cure: fn waits in the stuck queue and is called
 * again with backoff until its answer is another; the caller does nothing
 * more with this one. False: rc is the call's answer (and a call that
 * waited leaves the queue). */
bool ad_run_store_again(ad_runner_t *r, int rc, ad_run_after_fn fn, void *ud, const char *agent_id);
/* A write of its own (a note, a turn's usage, a run's CLI version) made
 * in its turn behind what waits for space, and again after such a
 * refusal, so it is not lost to a full disk: fn(r, arg, ctx) makes the
 * store call, whose answer goes to ad_run_write_done(rc, ctx), once. arg
 * is let go with free_arg (NULL: free) once stored or failed, or when
 * the daemon closes first; what names it in the log ("a note"). */
typedef void (*ad_run_write_fn)(ad_runner_t *r, void *arg, void *ctx);
void ad_run_write(ad_runner_t *r, const char *agent_id, const char *what, ad_run_write_fn fn,
                  void *arg, void (*free_arg)(void *));
void ad_run_write_done(int rc, void *ctx);
/* Why the stuck queue waits, as a run's stall says it: "disk full" or
 * "database unreachable" (what its first entry was refused with). */
const char *ad_run_stuck_reason(const ad_runner_t *r);
/* True while such a call for agent_id waits (its change or its run's end
 * is not stored). */
bool ad_run_store_waits(const ad_runner_t *r, const char *agent_id);
/* The stuck queue's timer. */
void ad_run_on_retry(uv_timer_t *t);
/* At the runner's end: drops what waits (a holder keeps the unacknowledged
 * lines; calls get cancelled = true). */
void ad_run_stuck_free(ad_runner_t *r);

/* ---- runner.c, refused.c: an agent's change and a note of no run ------------ */
/* A change u of an agent that has no run here (a goal's status, a
 * suspension, a queued or refused start, a halt): made in its turn behind
 * what waits for space, and again after such a refusal, so it is not lost
 * to a full disk. cb is called once, as ad_store_agent_runtime's (it owns
 * result), with the change's answer; or, with answer_now (cb answers a
 * request), at once with the refusal and a NULL result when the change
 * waits. With no cb to hear it (NULL, or one that heard already), the
 * change, once stored, publishes the agent's status itself if it set a
 * status or a reason. Takes u's state_patch; u->id names the agent. */
void ad_run_agent_write(ad_runner_t *r, ad_store_agent_runtime_t *u, bool answer_now,
                        ad_store_result_cb cb, void *ud);
/* A system message in agent_id's transcript (text copied), of
 * run_id (NULL: of no run), its own row rather than in a run's batch,
 * published on t and stored in its turn behind what waits for space (a
 * refused start's, a goal check's, a move's, a late CLI version's). */
void ad_run_note_system(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                        const char *run_id, const char *text);

#endif
