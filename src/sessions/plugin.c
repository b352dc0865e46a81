/* SPDX-License-Identifier: MIT */
/*
 * The outside sessions as an engine (src/engine): made over the daemon
 * user's HOME, as the CLIs find it, and the plane its nodes are asked
 * through. Its routes are src/api's (src/api/external.c).
 */
#include "engine/engine.h"
#include "sessions/sessions.h"

#include <stdlib.h>

static int open_sessions(ad_app_t *app)
{
    if (app->store != NULL) {
        app->sessions = ad_sessions_new(app->loop, app->bus, app->store, getenv("HOME"));
        ad_sessions_set_plane(app->sessions, app->plane);
    }
    return 0;
}

static void close_sessions(ad_app_t *app)
{
    ad_sessions_close(app->sessions);
    app->sessions = NULL;
}

const ad_engine_t ad_sessions_engine = {
    .name = "sessions", .open = open_sessions, .close = close_sessions};
