/* SPDX-License-Identifier: MIT */
/*
 * search: GET /api/search (issue #76, docs/search.md) as an engine that
 * has only routes: every message, tool call and tool output of the
 * caller's organisation, best first. What a request may hold and the read
 * are src/tables/search.c's (tables/search.h); this folder is the route,
 * registered by the engine's routes hook (routes.c), so src/api stays
 * within its size budget. No state of its own: it opens nothing and has
 * no slot in the app.
 *
 * Threads: loop thread only.
 */
#ifndef AD_SEARCH_H
#define AD_SEARCH_H

struct ad_app;

/* The engine (src/engines.c's table): open does nothing, routes registers
 * GET /api/search. */
extern const struct ad_engine ad_search_engine;

/* routes.c: GET /api/search on app->server. */
void ad_search_routes(struct ad_app *app);

#endif
