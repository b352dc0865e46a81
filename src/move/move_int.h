/* SPDX-License-Identifier: MIT */
/*
 * The move engine's state (src/move): the moves under way, one per agent.
 * Threads: loop thread only.
 */
#ifndef AD_MOVE_INT_H
#define AD_MOVE_INT_H

#include "engine/engine.h"
#include "http/http.h"

#include <uv.h>

typedef struct ad_move ad_move_t;

/* The engine (app->mover): the moves under way, a list, and the timer
 * that looks at those waiting for their agent's turn to end. */
typedef struct ad_mover {
    ad_app_t *app;
    ad_move_t *moves;
    uv_timer_t tick;
} ad_mover_t;

#define AD_MOVE_NAME_MAX 128
/* How long a move waits for a Claude agent's turn to end. */
#define AD_MOVE_TURN_WAIT_MS (10 * 60 * 1000)

/* One move under way (move.c); on m's list while m lives. */
struct ad_move {
    ad_move_t *next;
    ad_mover_t *m; /* NULL once the engine closed */
    ad_req_t *req;
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char from[AD_ID_MAX], to[AD_ID_MAX]; /* node ids, "" the control plane */
    char from_name[AD_MOVE_NAME_MAX], to_name[AD_MOVE_NAME_MAX];
    char wt_id[AD_ID_MAX];
    bool running;     /* it ran when asked: started again there */
    bool claude;      /* its session file goes with it (session.c) */
    bool carried;     /* session.c: the session went (for the answer) */
    bool mid_turn;    /* a Claude agent in a turn: stopped once it ends */
    int64_t wait_end; /* waiting for its turn to end until (monotonic ms), or 0 */
};

/* rules.c: why an agent cannot move now (409): its reason code, *why in
 * words; NULL when it may. Pure. */
typedef struct {
    bool moving, archived, stopping;
    bool queued;      /* a start of it waits in the node queue */
    bool running;     /* it has a live run */
    bool approval;    /* it waits on an approval */
    const char *from; /* node ids, "" the control plane */
    const char *to;
    bool from_linked; /* from's link is up */
} ad_move_state_t;
const char *ad_move_refusal(const ad_move_state_t *s, const char **why);
/* The transcript's note: "moved from node a to the control plane; it goes
 * on there" (a name NULL: the control plane). Pure. */
void ad_move_note_text(const char *from_name, const char *to_name, bool running, char *out,
                       size_t outsz);

/* session.c: the agent's Claude session file carried from v->from to
 * v->to (its stored sessionId; none: nothing to carry); then done(v, 0,
 * NULL), or done(v, rc, why) when it could not be. */
typedef void (*ad_move_step_fn)(ad_move_t *v, int rc, const char *why);
void ad_move_session(ad_move_t *v, ad_move_step_fn done);

/* POST /api/agents/:id/move (move.c). */
void ad_move_route(ad_req_t *r, void *ud);
/* The engine closes: each move under way is told (it answers 503 when its
 * step comes back) and left to its callbacks. */
void ad_move_detach_all(ad_mover_t *m);
/* The tick: a move waiting for its agent's turn goes on once it ended. */
void ad_move_tick(uv_timer_t *t);

#endif
