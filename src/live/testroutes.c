/* SPDX-License-Identifier: MIT */
/*
 * Routes that exist only in test builds (-DAD_TEST_BUILD), for the
 * end-to-end tests and the benchmarks, beside the live channels they load:
 * bursts of events on demand (held back while a channel is half full), a
 * publisher on a WebSocket, a run row, an approval or an agent status set
 * directly (the store's test hooks), the store writer's counters and the
 * route table. A release build compiles this file empty.
 */
#include "live/live_int.h"
#include "store/store.h"
#include "tables/approvals.h"
#include "tables/auth.h"
#include "tables/runs.h"

#ifdef AD_TEST_BUILD
#include <stdlib.h>
#include <string.h>

/* What the handlers below reach: the channels (for their queues), the
 * store and the server. */
typedef struct wspub wspub_t;

typedef struct {
    ad_live_t *L;
    ad_store_t *store;
    ad_server_t *server;
    /* /test/ws-publish?ack=1: the publishers told when their events are in
     * the event log, checked once a loop turn while there are any */
    wspub_t *acking;
    uv_check_t ack_check;
    bool ack_check_init;
} tests_t;

/* GET /test/store-stats: the writer's counters since open, so the bench can
 * tell how many rows each commit held, and how many published events are
 * committed (eventsStored), so it need not read the table while it waits:
 * a reader's snapshot holds the WAL from being reset, which a bare loop
 * does not pay. */
static void test_store_stats(ad_req_t *r, void *ud)
{
    tests_t *app = ud;
    ad_store_stats_t s;
    ad_store_stats(app->store, &s);
    ad_bus_stats_t bs;
    ad_bus_stats(app->L->bus, &bs);
    ad_res_json(r, 200,
                json_pack("{s:I, s:I, s:I, s:I, s:I}", "jobs", (json_int_t)s.jobs, "groups",
                          (json_int_t)s.groups, "failed", (json_int_t)s.failed, "retries",
                          (json_int_t)s.retries, "eventsStored", (json_int_t)bs.persisted));
}

/* ---- bursts of events on demand ---------------------------------------------------- */

typedef struct ad_live_burst {
    struct ad_live_burst *prev, *next; /* bursts in progress (L->bursts) */
    bool listed;                       /* in that list (not after ad_live_close) */
    ad_live_t *L;                      /* NULL once the channels have closed */
    ad_bus_t *bus;
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
        b->L->bursts = b->next;
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
static bool anyone_behind(ad_live_t *L)
{
    return L != NULL && ad_live_max_queued(L) > L->bound / 2;
}

static void burst_tick(uv_timer_t *t)
{
    burst_t *b = t->data;
    if (b->drain && anyone_behind(b->L)) {
        return;
    }
    for (int64_t i = 0; i < b->per_tick && b->left > 0; i++, b->left--) {
        if (b->i_val != NULL) {
            json_integer_set(b->i_val, b->done); /* in place: no allocation, no lookup */
        }
        uint64_t seq =
            ad_bus_publish(b->bus, b->type, (const char *const *)b->topics, b->ntopics, b->payload);
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
static void publish_one(tests_t *app, ad_req_t *r, json_t *body, const char *type, json_t *topics)
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
    uint64_t seq = ad_bus_publish(app->L->bus, type, t, n, p);
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
    tests_t *app = ud;
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
    b->next = app->L->bursts;
    if (b->next != NULL) {
        b->next->prev = b;
    }
    app->L->bursts = b;
    b->listed = true;
    b->L = app->L;
    b->bus = app->L->bus;
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
    uv_timer_init(app->L->heartbeat.loop, &b->timer);
    b->timer.data = b;
    uv_timer_start(&b->timer, burst_tick, 0, interval > 0 ? (uint64_t)interval : 1);
}

/* ---- /test/ws-publish: a publisher on a WebSocket ------------------------------------ */

/* Marks a publisher with ?ack=1 keeps: after its count-th event (seq), its
 * events up to there are stored once the event log holds seq. A turn that
 * finds the marks full folds its events into the newest one. */
#define ACK_MARKS 64

struct wspub {
    wspub_t *prev, *next; /* app->acking */
    tests_t *app;
    ad_ws_t *ws;
    ad_buf_t buf;
    bool ack;
    uint64_t published, last_seq, acked;
    struct {
        uint64_t seq, count;
    } marks[ACK_MARKS];
    unsigned head, n; /* the oldest mark, and how many */
};

/* Once a loop turn while a publisher acks: a mark for what each published
 * since its last one, then the count of its events the log holds now (one
 * text frame with the number, cumulative), as the holder is told what is
 * stored (an ACK of an offset) once a batch has committed. */
static void ack_turn(uv_check_t *h)
{
    tests_t *app = h->data;
    uint64_t stored = ad_bus_persisted_seq(app->L->bus);
    for (wspub_t *p = app->acking; p != NULL; p = p->next) {
        unsigned newest = (p->head + p->n + ACK_MARKS - 1) % ACK_MARKS;
        uint64_t marked = p->n > 0 ? p->marks[newest].count : p->acked;
        if (p->published > marked && p->n == ACK_MARKS) {
            p->marks[newest].seq = p->last_seq;
            p->marks[newest].count = p->published;
        } else if (p->published > marked) {
            unsigned at = (p->head + p->n++) % ACK_MARKS;
            p->marks[at].seq = p->last_seq;
            p->marks[at].count = p->published;
        }
        uint64_t acked = p->acked;
        while (p->n > 0 && p->marks[p->head].seq <= stored) {
            acked = p->marks[p->head].count;
            p->head = (p->head + 1) % ACK_MARKS;
            p->n--;
        }
        if (acked > p->acked) {
            char num[24];
            int k = snprintf(num, sizeof(num), "%llu", (unsigned long long)acked);
            p->acked = acked;
            (void)ad_ws_send_text(p->ws, num, (size_t)k); /* a closing socket drops it */
        }
    }
}

/* GET /test/ws-publish?topic=T[&ack=1]: every text message is published to
 * T as an event of type "bench" with payload {"d": <the text>}. The
 * benchmarks' peers take their publisher's messages on a WebSocket; so does
 * this. With ack=1 the publisher is told, in a text frame holding a number,
 * how many of its events are in the event log so far (bench row E1, beside
 * Redis's XADD replies and JetStream's publish acks). */
static void wspub_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    tests_t *app = ud;
    wspub_t *p = ad_ws_data(ws);
    if (binary || p == NULL) {
        return; /* refused at open: closing */
    }
    const char *topic = ad_ws_query(ws, "topic");
    const char *topics[1] = {topic != NULL ? topic : "bench"};
    ad_buf_t *b = &p->buf;
    ad_buf_reset(b);
    if (ad_buf_puts(b, "{\"d\":") != 0 || ad_json_string(b, data, len) != 0 ||
        ad_buf_putc(b, '}') != 0) {
        ad_ws_close(ws, 1009, "too big");
        return;
    }
    p->last_seq = ad_bus_publish_text(app->L->bus, "bench", topics, 1, b->data, b->len);
    p->published++;
}

static void wspub_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    tests_t *app = ud;
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return;
    }
    wspub_t *p = ad_xcalloc(1, sizeof(*p));
    p->app = app;
    p->ws = ws;
    ad_buf_init(&p->buf, 1024 * 1024);
    const char *ack = ad_ws_query(ws, "ack");
    p->ack = ack != NULL && strcmp(ack, "1") == 0;
    if (p->ack) {
        if (!app->ack_check_init) {
            uv_check_init(app->L->heartbeat.loop, &app->ack_check);
            app->ack_check.data = app;
            app->ack_check_init = true;
        }
        p->next = app->acking;
        if (p->next != NULL) {
            p->next->prev = p;
        }
        app->acking = p;
        uv_check_start(&app->ack_check, ack_turn);
    }
    ad_ws_set_data(ws, p);
}

static void wspub_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    tests_t *app = ud;
    wspub_t *p = ad_ws_data(ws);
    if (p == NULL) {
        return;
    }
    if (p->ack) {
        if (p->prev != NULL) {
            p->prev->next = p->next;
        } else {
            app->acking = p->next;
        }
        if (p->next != NULL) {
            p->next->prev = p->prev;
        }
        if (app->acking == NULL) {
            uv_check_stop(&app->ack_check);
        }
    }
    ad_buf_cleanup(&p->buf);
    free(p);
}

static const ad_ws_handler_t wspub_handler = {wspub_open, wspub_message, wspub_close};

/* ---- rows the agent subsystem would write ------------------------------------------ */

typedef struct {
    tests_t *app;
    ad_req_t *req;
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX + 16];
    char status[16];
} rowreq_t;

static rowreq_t *rowreq(tests_t *app, ad_req_t *r, const char *agent, const char *status)
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
 * costUsd?, node?}: inserts a run row (ended durationMs ago-to-now when given);
 * answers {run}. */
static void test_runs(ad_req_t *r, void *ud)
{
    tests_t *app = ud;
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
    const char *node = json_string_value(json_object_get(body, "node"));
    snprintf(x.node, sizeof(x.node), "%s", node != NULL ? node : "");
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
        char topic[AD_BUS_TOPIC_MAX + 1];
        snprintf(topic, sizeof(topic), "agent:%s", j->agent_id);
        const char *topics[1] = {topic};
        ad_bus_publish(j->app->L->bus, "agent_status", topics, 1, p);
        ad_res_json(j->req, 200, p);
    }
    free(j);
}

/* POST /test/agent-status {agentId, status}: sets an agent's status and
 * publishes agent_status. */
static void test_agent_status(ad_req_t *r, void *ud)
{
    tests_t *app = ud;
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

static void approval_inserted(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "approval not created");
    } else {
        ad_res_json(r, 201, json_incref(result));
    }
    json_decref(result);
}

/* POST /test/approvals {agentId, runId, toolName?}: inserts a pending
 * approval of the agent (in its org), as a Claude run's permission prompt
 * would; answers the approval. No run waits on it: deciding it is a 409. */
static void test_approvals(ad_req_t *r, void *ud)
{
    tests_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *agent = json_string_value(json_object_get(body, "agentId"));
    const char *run = json_string_value(json_object_get(body, "runId"));
    const char *tool = json_string_value(json_object_get(body, "toolName"));
    char org[AD_ID_MAX];
    int rc = agent != NULL ? ad_store_row_org(app->store, AD_STORE_ROW_AGENT, agent, org) : 0;
    if (rc == 0 && agent != NULL && !ad_principal_sees(ad_auth_principal(r), org)) {
        rc = AD_ENOENT; /* another org's agent is as good as none */
    }
    if (agent == NULL || run == NULL) {
        ad_res_error(r, 422, "VALIDATION_ERROR", NULL, "agentId and runId are required");
    } else if (rc != 0) {
        ad_res_error_code(r, rc, json_pack("{s:s}", "id", agent), "agent not found");
    } else {
        char id[AD_ID_MAX], rid[AD_ID_MAX];
        ad_id_new("ap", id);
        ad_id_new("req", rid);
        json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:I}", "id", id,
                                 "agentId", agent, "runId", run, "orgId", org, "requestId", rid,
                                 "toolName", tool != NULL ? tool : "Bash", "input", "command",
                                 "true", "now", (json_int_t)ad_wall_ms());
        ad_store_write(app->store, ad_store_op_approval_insert, args, approval_inserted, r);
    }
    json_decref(body);
}

static void tests_closed(uv_handle_t *h)
{
    free(h->data);
}

void ad_live_test_close(ad_live_t *L)
{
    /* The list goes with L: each burst leaves it now, and its close
     * callback, later, frees only itself. */
    for (burst_t *b = L->bursts, *next; b != NULL; b = next) {
        next = b->next;
        b->listed = false;
        b->prev = b->next = NULL;
        b->L = NULL;
        if (!uv_is_closing((uv_handle_t *)&b->timer)) {
            ad_res_error(b->req, 503, "UNAVAILABLE", NULL, "agentd is shutting down");
            uv_close((uv_handle_t *)&b->timer, burst_closed);
        }
    }
    L->bursts = NULL;
    tests_t *app = L->tests;
    L->tests = NULL;
    if (app != NULL && app->ack_check_init) {
        app->acking = NULL; /* the publishers' sockets are closed by now */
        uv_close((uv_handle_t *)&app->ack_check, tests_closed);
    } else {
        free(app);
    }
}

/* GET /test/routes: every route with the access it declared, so a test
 * can walk them all (routes added later included). */
static void add_route(const char *method, const char *pattern, ad_access_t access,
                      const char *upgrade, void *ud)
{
    static const char *const names[] = {"public", "read", "write", "admin"};
    const char *name = access == AD_ACCESS_NODE               ? "node"
                       : (size_t)access < AD_ARRAY_LEN(names) ? names[access]
                                                              : "?";
    json_array_append_new(ud, json_pack("{s:s, s:s, s:s, s:s?}", "method", method, "pattern",
                                        pattern, "access", name, "upgrade", upgrade));
}

static void test_routes(ad_req_t *r, void *ud)
{
    tests_t *app = ud;
    json_t *all = json_array();
    ad_server_routes_each(app->server, add_route, all);
    ad_res_json(r, 200, json_pack("{s:o}", "routes", all));
}

void ad_live_test_routes_register(ad_live_t *L, ad_server_t *server, ad_store_t *store)
{
    tests_t *app = ad_xcalloc(1, sizeof(*app));
    app->L = L;
    app->store = store;
    app->server = server;
    L->tests = app;
    ad_server_route(server, "GET", "/test/routes", AD_ACCESS_ADMIN, test_routes, app);
    ad_server_route(server, "GET", "/test/store-stats", AD_ACCESS_ADMIN, test_store_stats, app);
    ad_server_route(server, "POST", "/test/publish", AD_ACCESS_ADMIN, test_publish, app);
    static const char *const bearer[] = {"bearer", NULL};
    ad_server_route_ws(server, "/test/ws-publish", AD_ACCESS_ADMIN, bearer, &wspub_handler, app);
    ad_server_route(server, "POST", "/test/runs", AD_ACCESS_ADMIN, test_runs, app);
    ad_server_route(server, "POST", "/test/agent-status", AD_ACCESS_ADMIN, test_agent_status, app);
    ad_server_route(server, "POST", "/test/approvals", AD_ACCESS_ADMIN, test_approvals, app);
}
#endif
