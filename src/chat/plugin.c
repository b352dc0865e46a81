/* SPDX-License-Identifier: MIT */
/*
 * The chats as an engine (src/engine): they borrow the provider keys,
 * opened before them and closed after.
 */
#include "chat/chat.h"
#include "engine/engine.h"

static int open_chat(ad_app_t *app)
{
    app->chat = ad_chat_new(app->loop, app->store, app->bus, app->creds);
    return 0;
}

static void close_chat(ad_app_t *app)
{
    ad_chat_free(app->chat);
    app->chat = NULL;
}

const ad_engine_t ad_chat_engine = {.name = "chat", .open = open_chat, .close = close_chat};
