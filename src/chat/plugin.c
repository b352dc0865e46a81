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

/* Before the store closes: no summary is asked or written after it. */
static void stop_chat(ad_app_t *app)
{
    ad_chat_summaries_stop(app->chat);
}

/* The summaries' counts: every org's together, the owner's figures only. */
static int chat_metrics(const ad_app_t *app, ad_buf_t *b, const char *org)
{
    ad_chat_sum_stats_t s;
    if (org != NULL && org[0] != '\0') {
        return 0;
    }
    ad_chat_summary_stats(app->chat, &s);
    const char *name = "agentd_agent_summaries_total";
    int rc = ad_prom_family(b, name, "counter",
                            "agents' one-line summaries: made, cached (the turn had one), failed "
                            "(the model), skipped (no key, too many waiting)");
    rc = rc != 0 ? rc : ad_prom_sample(b, name, (double)s.made, "outcome", "made", NULL);
    rc = rc != 0 ? rc : ad_prom_sample(b, name, (double)s.cached, "outcome", "cached", NULL);
    rc = rc != 0 ? rc : ad_prom_sample(b, name, (double)s.failed, "outcome", "failed", NULL);
    return rc != 0 ? rc : ad_prom_sample(b, name, (double)s.skipped, "outcome", "skipped", NULL);
}

static void close_chat(ad_app_t *app)
{
    ad_chat_free(app->chat);
    app->chat = NULL;
}

const ad_engine_t ad_chat_engine = {.name = "chat",
                                    .open = open_chat,
                                    .stop = stop_chat,
                                    .close = close_chat,
                                    .metrics = chat_metrics};
;
