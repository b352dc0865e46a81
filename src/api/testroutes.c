/* SPDX-License-Identifier: MIT */
/*
 * Routes that exist only in test builds (-DAD_TEST_BUILD), for the
 * end-to-end tests and the benchmarks: bursts of events on demand, a run row,
 * an approval or an agent status set directly, and the store writer's counters. A
 * release build compiles this file empty.
 */
#include "api/api_int.h"
#include "ws/ws.h"

#ifdef AD_TEST_BUILD
#include <stdlib.h>
#include <string.h>

/* GET /test/store-stats: the writer's counters since open, so the bench can
 * tell how many rows each commit held, and how many published events are
 * committed (eventsStored), so it need not read the table while it waits:
 * a reader's snapshot holds the WAL from being reset, which a bare loop
 * does not pay. */
static void test_store_stats(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_store_stats_t s;
    ad_store_stats(app->store, &s);
    ad_bus_stats_t bs;
    ad_bus_stats(app->bus, &bs);
    ad_res_json(r, 200,
                json_pack("{s:I, s:I, s:I, s:I, s:I}", "jobs", (json_int_t)s.jobs, "groups",
                          (json_int_t)s.groups, "failed", (json_int_t)s.failed, "retries",
                          (json_int_t)s.retries, "eventsStored", (json_int_t)bs.persisted));
}

/* ---- bursts of events on demand ---------------------------------------------------- */

typedef struct ad_api_burst {
    struct ad_api_burst *prev, *next; /* bursts in progress (app->api->bursts) */
    bool listed;                      /* in that list (not after ad_api_test_routes_close) */
    ad_app_t *app;
    ad_req_t *req;
    uv_timer_t timer;
    char *type;
    char **topics;
    size_t ntopics;
    json_t *payload;
    json_t *i_val; /* payload.i, borrowed: the burst counter */
    int64_t left, done, per_tick;
    uint64_t first, last;
    bool drain;
} burst_t;

static void burst_closed(uv_handle_t *h)
{
    burst_t *b = h->data;
    if (b->listed && b->prev != NULL) {
        b->prev->next = b->next;
    } else if (b->listed) {
        b->app->api->bursts = b->next;
    }
    if (b->listed && b->next != NULL) {
        b->next->prev = b->prev;
    }
    for (size_t i = 0; i < b->ntopics; i++) {
        free(b->topics[i]);
    }
    free(b->topics);
    free(b->type);
    json_decref(b->payload);
    free(b);
}

/* Whether some healthy connection is more than half full. */
static bool anyone_behind(ad_app_t *app)
{
    return ad_api_live_max_queued(app) > (size_t)app->cfg->ws_send_queue_bytes / 2;
}

static void burst_tick(uv_timer_t *t)
{
    burst_t *b = t->data;
    if (b->drain && anyone_behind(b->app)) {
        return;
    }
    for (int64_t i = 0; i < b->per_tick && b->left > 0; i++, b->left--) {
        if (b->i_val != NULL) {
            json_integer_set(b->i_val, b->done); /* in place: no allocation, no lookup */
        }
        uint64_t seq = ad_bus_publish(b->app->bus, b->type, (const char *const *)b->topics,
                                      b->ntopics, b->payload);
        if (b->first == 0) {
            b->first = seq;
        }
        b->last = seq;
        b->done++;
    }
    if (b->left == 0) {
        uv_timer_stop(&b->timer);
        ad_res_json(b->req, 200,
                    json_pack("{s:I, s:I, s:I}", "first", (json_int_t)b->first, "last",
                              (json_int_t)b->last, "count", (json_int_t)b->done));
        uv_close((uv_handle_t *)&b->timer, burst_closed);
    }
}

/* One event now, answered as a burst of one. */
static void publish_one(ad_app_t *app, ad_req_t *r, json_t *body, const char *type, json_t *topics)
{
    const char *t[16];
    size_t n = json_array_size(topics);
    for (size_t i = 0; i < n; i++) {
        t[i] = json_string_value(json_array_get(topics, i));
        t[i] = t[i] != NULL ? t[i] : "system";
    }
    json_t *p = json_object_get(body, "payload");
    if (json_is_object(p)) {
        json_object_set_new(p, "i", json_integer(0));
    }
    uint64_t seq = ad_bus_publish(app->bus, type, t, n, p);
    ad_res_json(r, 200,
                json_pack("{s:I, s:I, s:i}", "first", (json_int_t)seq, "last", (json_int_t)seq,
                          "count", 1));
}

/* POST /test/publish {type, topics, payload?, count?, perTick?, intervalMs?,
 * drain?}: publishes count events, perTick per loop turn (every intervalMs),
 * answering {first, last, count} when all are out. With drain, a turn waits
 * while any live connection is more than half full. */
static void test_publish(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *type = json_string_value(json_object_get(body, "type"));
    json_t *topics = json_object_get(body, "topics");
    json_int_t count = json_is_integer(json_object_get(body, "count"))
                           ? json_integer_value(json_object_get(body, "count"))
                           : 1;
    json_int_t per_tick = json_is_integer(json_object_get(body, "perTick"))
                              ? json_integer_value(json_object_get(body, "perTick"))
                              : 1000;
    json_int_t interval = json_is_integer(json_object_get(body, "intervalMs"))
                              ? json_integer_value(json_object_get(body, "intervalMs"))
                              : 0;
    if (type == NULL || !json_is_array(topics) || json_array_size(topics) == 0 ||
        json_array_size(topics) > 16 || count < 1 || count > 1000000 || per_tick < 1 ||
        interval < 0 || interval > 10000) {
        ad_res_error(r, 422, "VALIDATION_ERROR", NULL,
                     "need type, topics (1-16), count 1-1000000, perTick >= 1");
        json_decref(body);
        return;
    }
    if (count == 1 && interval == 0 && !json_is_true(json_object_get(body, "drain"))) {
        publish_one(app, r, body, type, topics); /* no burst, no timer */
        json_decref(body);
        return;
    }
    burst_t *b = ad_xcalloc(1, sizeof(*b));
    b->next = app->api->bursts;
    if (b->next != NULL) {
        b->next->prev = b;
    }
    app->api->bursts = b;
    b->listed = true;
    b->app = app;
    b->req = r;
    b->type = ad_xstrdup(type);
    b->ntopics = json_array_size(topics);
    b->topics = ad_xcalloc(b->ntopics, sizeof(char *));
    for (size_t i = 0; i < b->ntopics; i++) {
        const char *t = json_string_value(json_array_get(topics, i));
        b->topics[i] = ad_xstrdup(t ? t : "system");
    }
    json_t *p = json_object_get(body, "payload");
    b->payload = p != NULL ? json_deep_copy(p) : json_object();
    if (json_is_object(b->payload)) {
        json_object_set_new(b->payload, "i", json_integer(0));
        b->i_val = json_object_get(b->payload, "i");
    }
    b->left = count;
    b->per_tick = per_tick;
    b->drain = json_is_true(json_object_get(body, "drain"));
    json_decref(body);
    uv_timer_init(app->loop, &b->timer);
    b->timer.data = b;
    uv_timer_start(&b->timer, burst_tick, 0, interval > 0 ? (uint64_t)interval : 1);
}

/* ---- /test/ws-publish: a publisher on a WebSocket ------------------------------------ */

/* GET /test/ws-publish?topic=T: every text message is published to T as an
 * event of type "bench" with payload {"d": <the text>}. The benchmarks'
 * peers take their publisher's messages on a WebSocket; so does this. */
static void wspub_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    ad_app_t *app = ud;
    if (binary || ad_ws_data(ws) == NULL) {
        return; /* refused at open: closing */
    }
    const char *topic = ad_ws_query(ws, "topic");
    const char *topics[1] = {topic != NULL ? topic : "bench"};
    ad_buf_t *b = ad_ws_data(ws);
    ad_buf_reset(b);
    if (ad_buf_puts(b, "{\"d\":") != 0 || ad_json_string(b, data, len) != 0 ||
        ad_buf_putc(b, '}') != 0) {
        ad_ws_close(ws, 1009, "too big");
        return;
    }
    ad_bus_publish_text(app->bus, "bench", topics, 1, b->data, b->len);
}

static void wspub_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    AD_UNUSED(ud);
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return;
    }
    ad_buf_t *b = ad_xcalloc(1, sizeof(*b));
    ad_buf_init(b, 1024 * 1024);
    ad_ws_set_data(ws, b);
}

static void wspub_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    ad_buf_t *b = ad_ws_data(ws);
    if (b != NULL) {
        ad_buf_cleanup(b);
        free(b);
    }
}

static const ad_ws_handler_t wspub_handler = {wspub_open, wspub_message, wspub_close};

/* ---- rows the agent subsystem would write ------------------------------------------ */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX + 16];
    char status[16];
} rowreq_t;

static rowreq_t *rowreq(ad_app_t *app, ad_req_t *r, const char *agent, const char *status)
{
    rowreq_t *j = ad_xcalloc(1, sizeof(*j));
    j->app = app;
    j->req = r;
    snprintf(j->agent_id, sizeof(j->agent_id), "%s", agent);
    snprintf(j->status, sizeof(j->status), "%s", status);
    return j;
}

static void run_inserted(int rc, void *ctx)
{
    rowreq_t *j = ctx;
    if (rc != 0) {
        ad_res_error_code(j->req, rc, NULL, "run not created");
    } else {
        ad_res_json(j->req, 201,
                    json_pack("{s:{s:s, s:s, s:s}}", "run", "id", j->id, "agentId", j->agent_id,
                              "status", j->status));
    }
    free(j);
}

/* POST /test/runs {agentId, status?, durationMs?, inputTokens?, outputTokens?,
 * costUsd?}: inserts a run row (ended durationMs ago-to-now when given);
 * answers {run}. */
static void test_runs(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *agent = json_string_value(json_object_get(body, "agentId"));
    const char *status = json_string_value(json_object_get(body, "status"));
    if (agent == NULL) {
        ad_res_error(r, 422, "VALIDATION_ERROR", NULL, "agentId is required");
        json_decref(body);
        return;
    }
    rowreq_t *j = rowreq(app, r, agent, status != NULL ? status : "running");
    ad_id_new("run", j->id);
    json_t *ms = json_object_get(body, "durationMs");
    ad_store_test_run_t x = {
        .duration_ms = json_is_integer(ms) ? json_integer_value(ms) : -1,
        .input_tokens = json_integer_value(json_object_get(body, "inputTokens")),
        .output_tokens = json_integer_value(json_object_get(body, "outputTokens")),
        .cost_usd = json_number_value(json_object_get(body, "costUsd")),
    };
    json_decref(body);
    ad_store_test_run_insert(app->store, j->id, j->agent_id, j->status, &x, run_inserted, j);
}

static void status_updated(int rc, void *ctx)
{
    rowreq_t *j = ctx;
    if (rc != 0) {
        ad_res_error_code(j->req, rc, NULL, "status not set");
    } else {
        json_t *p = json_pack("{s:s, s:s, s:s}", "agentId", j->agent_id, "status", j->status,
                              "reason", "test");
        ad_api_publish(j->app, "agent_status", p, "agent", j->agent_id, NULL);
        ad_res_json(j->req, 200, p);
    }
    free(j);
}

/* POST /test/agent-status {agentId, status}: sets an agent's status and
 * publishes agent_status. */
static void test_agent_status(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *agent = json_string_value(json_object_get(body, "agentId"));
    const char *status = json_string_value(json_object_get(body, "status"));
    if (agent == NULL || status == NULL) {
        ad_res_error(r, 422, "VALIDATION_ERROR", NULL, "agentId and status are required");
        json_decref(body);
        return;
    }
    rowreq_t *j = rowreq(app, r, agent, status);
    json_decref(body);
    ad_store_test_agent_status(app->store, j->agent_id, j->status, status_updated, j);
}

static void approval_inserted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "approval not created");
        return;
    }
    ad_res_json(r, 201, json_incref(result));
}

/* POST /test/approvals {agentId, runId, toolName?}: inserts a pending
 * approval of the agent (in its org), as a Claude run's permission prompt
 * would; answers the approval. No run waits on it: deciding it is a 409. */
static void test_approvals(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *agent = json_string_value(json_object_get(body, "agentId"));
    const char *run = json_string_value(json_object_get(body, "runId"));
    const char *tool = json_string_value(json_object_get(body, "toolName"));
    char org[AD_ID_MAX];
    if (agent == NULL || run == NULL) {
        ad_res_error(r, 422, "VALIDATION_ERROR", NULL, "agentId and runId are required");
    } else if (ad_api_visible(app, r, AD_API_AGENT, agent, org)) {
        char id[AD_ID_MAX], rid[AD_ID_MAX];
        ad_id_new("ap", id);
        ad_id_new("req", rid);
        json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:I}", "id", id,
                                 "agentId", agent, "runId", run, "orgId", org, "requestId", rid,
                                 "toolName", tool != NULL ? tool : "Bash", "input", "command",
                                 "true", "now", (json_int_t)ad_wall_ms());
        ad_api_write(app, r, ad_store_op_approval_insert, args, approval_inserted);
    }
    json_decref(body);
}

void ad_api_test_routes_close(ad_app_t *app)
{
    /* The list goes with app->api: each burst leaves it now, and its
     * close callback, later, frees only itself. */
    for (burst_t *b = app->api->bursts, *next; b != NULL; b = next) {
        next = b->next;
        b->listed = false;
        b->prev = b->next = NULL;
        if (!uv_is_closing((uv_handle_t *)&b->timer)) {
            ad_res_error(b->req, 503, "UNAVAILABLE", NULL, "agentd is shutting down");
            uv_close((uv_handle_t *)&b->timer, burst_closed);
        }
    }
    app->api->bursts = NULL;
}

/* GET /test/routes: every route with the access it declared, so a test
 * can walk them all (routes added later included). */
static void add_route(const char *method, const char *pattern, ad_access_t access,
                      const char *upgrade, void *ud)
{
    static const char *const names[] = {"public", "read", "write", "admin"};
    json_array_append_new(ud, json_pack("{s:s, s:s, s:s, s:s?}", "method", method, "pattern",
                                        pattern, "access", names[access], "upgrade", upgrade));
}

static void test_routes(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *all = json_array();
    ad_server_routes_each(app->server, add_route, all);
    ad_res_json(r, 200, json_pack("{s:o}", "routes", all));
}

void ad_api_test_routes_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/test/routes", AD_ACCESS_ADMIN, test_routes, app);
    ad_server_route(app->server, "GET", "/test/store-stats", AD_ACCESS_ADMIN, test_store_stats,
                    app);
    ad_server_route(app->server, "POST", "/test/publish", AD_ACCESS_ADMIN, test_publish, app);
    static const char *const bearer[] = {"bearer", NULL};
    ad_server_route_ws(app->server, "/test/ws-publish", AD_ACCESS_ADMIN, bearer, &wspub_handler,
                       app);
    ad_server_route(app->server, "POST", "/test/runs", AD_ACCESS_ADMIN, test_runs, app);
    ad_server_route(app->server, "POST", "/test/agent-status", AD_ACCESS_ADMIN, test_agent_status,
                    app);
    ad_server_route(app->server, "POST", "/test/approvals", AD_ACCESS_ADMIN, test_approvals, app);
}
#endif
