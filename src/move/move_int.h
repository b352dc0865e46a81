/* SPDX-License-Identifier: MIT */
/*
 * The move engine's state (src/move): the moves under way, one per agent.
 * Threads: loop thread only.
 */
#ifndef AD_MOVE_INT_H
#define AD_MOVE_INT_H

#include "engine/engine.h"
#include "http/http.h"

typedef struct ad_move ad_move_t;

/* The engine (app->mover): the moves under way, a list. */
typedef struct ad_mover {
    ad_app_t *app;
    ad_move_t *moves;
} ad_mover_t;

/* POST /api/agents/:id/move (move.c). */
void ad_move_route(ad_req_t *r, void *ud);
/* The engine closes: each move under way is told (it answers 503 when its
 * step comes back) and left to its callbacks. */
void ad_move_detach_all(ad_mover_t *m);

#endif
