/* SPDX-License-Identifier: MIT */
/*
 * /api/agents/:id/messages: one page of an agent's messages, newest first,
 * with a stable cursor; /api/runs/:id/messages: a run's, oldest first (its
 * log on the run page); and recording a message (published as
 * message_created). Sending a prompt to a running agent is the agent
 * subsystem's /api/agents/:id/message.
 */
#include "api/api_int.h"
#include "tables/messages.h"

/* limit= (1-200, default 50): 0, or -1 after a 422. */
static int page_limit(ad_req_t *r, int *limit)
{
    ad_field_err_t e;
    return ad_store_message_limit(ad_req_query(r, "limit"), limit, &e) != 0
               ? ad_api_invalid_err(r, &e)
               : 0;
}

static void page(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    int limit = 0;
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL) || page_limit(r, &limit) != 0) {
        return;
    }
    const char *before = ad_req_query(r, "before");
    if (before != NULL && before[0] == '\0') {
        before = NULL;
    }
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_PAGE_TEXT_MAX);
    int rc = ad_store_message_page_text(app->store, id, limit, before, &b);
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "before", "is not a cursor from this agent's messages");
    } else {
        ad_api_answer_text(r, rc, &b, "agent", id);
    }
    ad_buf_cleanup(&b);
}

/* Loop thread, after the commit (and message_created published by the
 * store): the message as its JSON text. */
static void msg_done(int rc, const char *json, size_t len, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, rc == AD_ENOENT ? "agent" : "message", ad_req_param(r, "id"));
    } else {
        ad_res_send(r, 201, "application/json", json, len);
    }
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX];
    const char *agent = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, agent, org)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_field_err_t e;
    int rc = ad_store_message_record(app->store, app->bus, body, agent, org, msg_done, r, &e);
    if (rc == AD_EINVAL) {
        ad_api_invalid_err(r, &e);
    } else if (rc != 0) {
        ad_api_fail(r, rc, "agent", agent);
    }
    json_decref(body);
}

/* GET /api/runs/:id/messages?limit=&after=: the run's messages (its log:
 * the prompt, output lines, tool calls), oldest first (issue #35, the run
 * page). */
static void run_page(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    int limit = 0;
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL) || page_limit(r, &limit) != 0) {
        return;
    }
    const char *after = ad_req_query(r, "after");
    ad_buf_t b;
    ad_buf_init(&b, AD_STORE_PAGE_TEXT_MAX);
    int rc = ad_store_run_messages_text(app->store, id, limit,
                                        after != NULL && after[0] ? after : NULL, &b);
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "after", "is not a cursor from this run's messages");
    } else {
        ad_api_answer_text(r, rc, &b, "run", id);
    }
    ad_buf_cleanup(&b);
}

void ad_api_messages_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/runs/:id/messages", AD_ACCESS_READ, run_page, app);
    ad_server_route(app->server, "GET", "/api/agents/:id/messages", AD_ACCESS_READ, page, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/messages", AD_ACCESS_WRITE, create, app);
}
