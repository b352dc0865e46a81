/* SPDX-License-Identifier: MIT */
/* Private to src/loop: the engine's state and what its files share. */
#ifndef AD_LOOP_INT_H
#define AD_LOOP_INT_H

#include "loop/loop.h"
#include "tables/prloops.h"

/* One enabled loop as the poller keeps it between ticks. */
typedef struct {
    char wt[AD_ID_MAX];
    bool busy;          /* a forge read or a send in flight */
    bool seen;          /* in this tick's list */
    int64_t next_ms;    /* the next forge read (wall ms; 0: at the next tick) */
    int64_t backoff_ms; /* the wait after failures (0: none) */
} ad_prloop_ent_t;

struct ad_prloop {
    uv_loop_t *loop;
    struct ad_store *store;
    struct ad_bus *bus;
    struct ad_runner *runner;
    struct ad_creds *creds;
    uv_timer_t timer;
    int64_t poll_ms, tick_ms;
    ad_prloop_ent_t ents[AD_PRLOOP_ACTIVE_MAX];
    size_t n;
    unsigned refs; /* callbacks still to come, and the timer (until its close) */
    bool closing;  /* stopped: callbacks only let go */
};

/* loop.c */
ad_prloop_ent_t *ad_prloop_ent(ad_prloop_t *L, const char *wt, bool make);
/* A callback is to come (hold) / came (release: frees L once closing and
 * none is left). */
void ad_prloop_hold(ad_prloop_t *L);
bool ad_prloop_release(ad_prloop_t *L);
/* Stores where loop row's worktree stands: status, reason (code NULL:
 * none), turns (<0: kept), enabled (<0: kept); publishes pr_loop_updated
 * with item (may be NULL). Then done(L, wt, rc, loop, ud) when given; rc
 * AD_ECLOSED (and L NULL) when the engine closed meanwhile. */
typedef void (*ad_prloop_done_fn)(ad_prloop_t *L, const char *wt, int rc, json_t *loop, void *ud);
void ad_prloop_set(ad_prloop_t *L, json_t *row, const char *status, const char *code,
                   const char *text, int turns, int enabled, json_t *item, ad_prloop_done_fn done,
                   void *ud);
void ad_prloop_publish(ad_prloop_t *L, json_t *loop, json_t *item);
/* Whether the agent is in a turn (running, stopping, paused, or waiting on
 * an approval); *gone when it is no more. */
bool ad_prloop_agent_busy(ad_prloop_t *L, const char *agent_id, bool *gone);

/* send.c */
/* What the forge asks now (an item of out's checks or comments not yet
 * sent), or NULL. *kind "check" or "review". Borrowed from out. */
json_t *ad_prloop_pick(ad_prloop_t *L, json_t *row, json_t *out, const char **kind);
/* The message for cand (an item of a forge read's checks, kind "check",
 * or comments, "review") of pull request pr: at most
 * AD_PRLOOP_MESSAGE_MAX bytes, cut on a character with a note. Owned. */
char *ad_prloop_message(json_t *pr, json_t *cand, const char *kind);
/* Records cand, then sends it to the loop's agent (e busy until done). */
void ad_prloop_send(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row, json_t *pr, json_t *cand,
                    const char *kind);
/* The agent's turn after the last item ended: its outcome stored, the
 * loop back to watching and read again at once. */
void ad_prloop_turn_ended(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row);
/* routes.c: /api/worktrees/:id/pr/loop on app->server (the engine's
 * routes hook). */
struct ad_app;
void ad_prloop_routes(struct ad_app *app);

#endif
