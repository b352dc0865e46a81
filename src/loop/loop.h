/* SPDX-License-Identifier: MIT */
/*
 * loop: feedback loops (issue #75). For a worktree with a pull request,
 * agentd follows the pull request's checks and comments on its forge
 * (src/forge, the org's token from src/creds) and sends what needs an
 * answer to the worktree's agent as its next message, through the
 * runner's message path (ad_runner_message; an agent with no live process
 * is started with the message as its prompt, resuming its session, as
 * ad_runner_start does): a failed check (its name, its summary, and the
 * failing job's log trimmed) or a new review or conversation comment. One
 * item a turn; the next waits until the agent's turn has ended. The loop
 * ends when the checks pass (status "passed"), when the pull request is
 * merged or closed ("closed"), when the next item would pass the agent's
 * turn limit ("limit"), or when a user turns it off ("off").
 *
 * Statuses: watching (reading the forge), answering (an item was sent, the
 * agent's turn runs), passed, closed, limit, off, error (the agent could
 * not take the message). statusReason {code, text} says why in words;
 * codes: watching, waiting_push (the failures sent still fail), forge_error,
 * rate_limited, no_token, usage_limit (a usage limit is reached: nothing is
 * sent, as the message route refuses), check_failed,
 * review_comment, answered, checks_passed, pr_merged, pr_closed,
 * turn_limit, stopped, send_failed, agent_gone, no_pr.
 *
 * Never twice: each item is stored under the forge's id of the check run,
 * status or comment before it is sent (tables/prloops.h), so a failure or
 * a comment goes to the agent at most once, across restarts.
 *
 * Polling: one timer for every loop. The forge is read every
 * AD_PRLOOP_POLL_MS (AGENTD_TEST_PR_LOOP_MS in tests), at once after a
 * loop is enabled or a turn has ended; after a failure the wait doubles up
 * to AD_PRLOOP_BACKOFF_MAX_MS, and a rate limit the forge states
 * (Retry-After, X-RateLimit-Reset) is waited out.
 *
 * Every message a loop sends leaves an audit row (token "pr-loop", the
 * agent's message route) and an event pr_loop_updated {worktreeId, orgId,
 * loop, item?} on the worktree's, the agent's and the org's topics.
 *
 * Ownership: the engine's state is the app's slot (app->prloop), made and
 * closed by plugin.c. Views returned are owned by the caller.
 * Threads: loop thread only (the forge's reads run on the pool).
 */
#ifndef AD_LOOP_H
#define AD_LOOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/core.h"

struct ad_store;
struct ad_bus;
struct ad_runner;
struct ad_creds;

typedef struct ad_prloop ad_prloop_t;

#define AD_PRLOOP_POLL_MS 60000
#define AD_PRLOOP_TICK_MS 1000
#define AD_PRLOOP_BACKOFF_MAX_MS (15 * 60 * 1000)
#define AD_PRLOOP_TURNS_MAX 100
#define AD_PRLOOP_TURNS_DEFAULT 5
#define AD_PRLOOP_MESSAGE_MAX (32 * 1024)

/* Returns owned: close with ad_prloop_close. The parts are borrowed and
 * outlive it (creds may be NULL: no token, the loops wait). */
ad_prloop_t *ad_prloop_new(uv_loop_t *loop, struct ad_store *store, struct ad_bus *bus,
                           struct ad_runner *runner, struct ad_creds *creds);
/* Stops the timer (no loop is read or sent to from now on). */
void ad_prloop_stop(ad_prloop_t *L);
/* Stops the timer; the memory goes once the reads and writes in flight
 * have called back. NULL does nothing. */
void ad_prloop_close(ad_prloop_t *L);

/* A PUT body: {agentId, maxTurns? (1-100, 5), checks? (true), reviews?
 * (true)}, at least one of checks and reviews. */
typedef struct {
    const char *agent_id; /* borrowed from the body */
    int64_t max_turns;
    bool checks, reviews;
} ad_prloop_spec_t;
int ad_prloop_check(json_t *body, ad_prloop_spec_t *out, ad_field_err_t *e);

/* Completion: rc 0 and view (borrowed for the call), or an error with a
 * one-line message. */
typedef void (*ad_prloop_cb)(int rc, json_t *view, const char *msg, void *ud);

/* Turns the loop of worktree wt (its row) on as body (a PUT's) says,
 * reading the forge at once; its turns start again from 0. cb after the
 * commit. Refusals return and call nothing: AD_EINVAL with e (the body, or
 * an agentId that is no agent of this worktree, archived ones neither),
 * AD_ESTATE (no pull request was opened for wt). */
int ad_prloop_enable(ad_prloop_t *L, json_t *wt, json_t *body, ad_prloop_cb cb, void *ud,
                     ad_field_err_t *e);
/* Turns it off (status off, code stopped); AD_ENOENT when there is none. */
void ad_prloop_disable(ad_prloop_t *L, json_t *wt, ad_prloop_cb cb, void *ud);
/* The loop of worktree_id with its items, newest first ({...loop, items}):
 * 0, AD_ENOENT, or the store's error. */
int ad_prloop_view(ad_prloop_t *L, const char *worktree_id, json_t **out);

extern const struct ad_engine ad_loop_engine;

#endif
