/* SPDX-License-Identifier: MIT */
/*
 * The provider keys as an engine (src/engine): the runner is handed them
 * as its key source (an agent without a key in its environment gets its
 * org's stored one); the chats, opened after, borrow them.
 */
#include "creds/creds.h"
#include "engine/engine.h"
#include "run/run.h"

static int open_creds(ad_app_t *app)
{
    app->creds = ad_creds_new(app->loop, app->store, app->cfg->data_dir);
    if (app->runner != NULL) {
        ad_runner_set_key_source(app->runner, ad_creds_agent_key, app->creds);
    }
    return 0;
}

static void close_creds(ad_app_t *app)
{
    ad_creds_free(app->creds);
    app->creds = NULL;
}

const ad_engine_t ad_creds_engine = {.name = "creds", .open = open_creds, .close = close_creds};
