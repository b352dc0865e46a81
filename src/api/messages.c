/* SPDX-License-Identifier: MIT */
/*
 * /api/agents/:id/messages: one page of an agent's messages, newest first,
 * with a stable cursor; and recording a message (published as
 * message_created). Sending a prompt to a running agent is the agent
 * subsystem's /api/agents/:id/message.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define ROLES "user,assistant,system,tool"
#define PAGE_DEFAULT 50
#define PAGE_MAX 200
#define CONTENT_MAX (16u << 20)

static void page(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_AGENT, id, NULL)) {
        return;
    }
    int limit = PAGE_DEFAULT;
    const char *ls = ad_req_query(r, "limit");
    if (ls != NULL && ls[0] != '\0') {
        long v = 0;
        size_t n = strlen(ls);
        if (n > 6 || strspn(ls, "0123456789") != n) {
            ad_api_invalid(r, "limit", "must be a whole number from 1 to 200");
            return;
        }
        for (size_t i = 0; i < n; i++) {
            v = v * 10 + (ls[i] - '0');
        }
        if (v < 1 || v > PAGE_MAX) {
            ad_api_invalid(r, "limit", "must be a whole number from 1 to 200");
            return;
        }
        limit = (int)v;
    }
    const char *before = ad_req_query(r, "before");
    if (before != NULL && before[0] == '\0') {
        before = NULL;
    }
    json_t *out = NULL;
    int rc = ad_store_message_page(app->store, id, limit, before, &out);
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "before", "is not a cursor from this agent's messages");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "agent", id);
        return;
    }
    ad_res_json(r, 200, out);
}

/* One message write in flight: the typed row, the request body its strings
 * point into, and the texts made for non-string tool fields. */
typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    json_t *body;
    char *tool_text[2];
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX]; /* the agent's organisation, for the event */
    ad_store_message_t m;
} msg_write_t;

static void msg_write_free(msg_write_t *w)
{
    free(w->tool_text[0]);
    free(w->tool_text[1]);
    json_decref(w->body);
    free(w);
}

/* Writer thread. */
static int msg_job(ad_store_tx_t *tx, void *ctx)
{
    msg_write_t *w = ctx;
    return ad_store_message_insert(tx, &w->m);
}

/* Loop thread, after the commit: publish, then answer. */
static void msg_done(int rc, void *ctx)
{
    msg_write_t *w = ctx;
    if (rc != 0) {
        ad_api_fail(w->req, rc, rc == AD_ENOENT ? "agent" : "message", ad_req_param(w->req, "id"));
        goto out;
    }
    /* The message is serialized once: the event's payload {"message": m}
     * and the answer m are slices of the same text, built in a buffer kept
     * between writes (loop thread only; let go of when a big one grew it). */
    static ad_buf_t text = {.max = (size_t)CONTENT_MAX * 7 + 64 * 1024};
    ad_buf_reset(&text);
    int e = ad_buf_puts(&text, "{\"message\":");
    size_t off = text.len;
    e = e ? e : ad_store_message_text(&w->m, &text);
    e = e ? e : ad_buf_putc(&text, '}');
    if (e == 0) {
        ad_api_publish_text(w->app, "message_created", text.data, text.len, "agent", w->m.agent_id,
                            "worktree", w->m.worktree_id, "workspace", w->m.workspace_id, "org",
                            w->org, NULL);
        ad_res_send(w->req, 201, "application/json", text.data + off, text.len - off - 1);
    } else {
        ad_api_fail(w->req, AD_EINTERNAL, "message", NULL);
    }
    if (text.cap > 64 * 1024) {
        ad_buf_cleanup(&text);
    }
out:
    msg_write_free(w);
}

/* toolInput/toolOutput: a string (borrowed from body), or any JSON value
 * kept as its text (*text, owned). */
static int text_or_json(ad_req_t *r, json_t *body, const char *key, const char **out, char **text)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*text == NULL) {
        return ad_api_invalid(r, key, "must be a string or JSON");
    }
    *out = *text;
    return 0;
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_API_AGENT, ad_req_param(r, "id"), org)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    msg_write_t *w = ad_xcalloc(1, sizeof(*w));
    memcpy(w->org, org, sizeof(w->org));
    w->app = app;
    w->req = r;
    w->body = body;
    ad_store_message_t *m = &w->m;
    const char *role = NULL;
    bool has_tokens = false;
    m->is_complete = true;
    if (ad_api_str(r, body, "content", true, CONTENT_MAX, &m->content) != 0 ||
        ad_api_enum(r, body, "role", false, ROLES, &role) != 0 ||
        ad_api_str(r, body, "toolName", false, 200, &m->tool_name) != 0 ||
        ad_api_str(r, body, "runId", false, AD_ID_MAX, &m->run_id) != 0 ||
        ad_api_int(r, body, "tokenCount", false, 0, INT64_C(1) << 40, &m->token_count,
                   &has_tokens) != 0 ||
        ad_api_bool(r, body, "isComplete", &m->is_complete, NULL) != 0 ||
        text_or_json(r, body, "toolInput", &m->tool_input, &w->tool_text[0]) != 0 ||
        text_or_json(r, body, "toolOutput", &m->tool_output, &w->tool_text[1]) != 0) {
        msg_write_free(w);
        return;
    }
    const char *agent = ad_req_param(r, "id");
    if (strlen(agent) >= sizeof(w->agent_id)) {
        /* Longer than any id: no such agent (what the store would say). */
        ad_api_fail(r, AD_ENOENT, "agent", agent);
        msg_write_free(w);
        return;
    }
    memcpy(w->agent_id, agent, strlen(agent) + 1);
    ad_id_new("msg", w->id);
    m->id = w->id;
    m->agent_id = w->agent_id;
    m->role = role != NULL ? role : "user";
    m->now = ad_wall_ms();
    ad_store_submit(app->store, msg_job, msg_done, w);
}

void ad_api_messages_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/agents/:id/messages", AD_ACCESS_READ, page, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/messages", AD_ACCESS_WRITE, create, app);
}
