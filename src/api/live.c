/* SPDX-License-Identifier: MIT */
/*
 * The live channels: the multiplexed /ws protocol (subscribe, unsubscribe,
 * ping and the seed aliases), the pre-subscribed /ws/runs/:runId,
 * /ws/mission and /ws/graph channels, the seed dashboard's own socket on
 * "/" (its four event types, no subscribe), and /api/events as Server-Sent
 * Events. Each connection is one bus subscriber; the bus does matching,
 * replay and backpressure, this file does the wire format.
 */
#include "api/api_int.h"
#include "live/live.h"
#include "run/run.h"
#include "svc/svc.h"
#include "ws/ws.h"

#include <stdlib.h>
#include <string.h>

#define MISSION_HEARTBEAT_MS 45000
/* Room kept in the send queue so the overflow notice itself still fits. */
#define OVERFLOW_RESERVE 512
#define MSG_TOPICS_MAX 256

typedef enum { CH_WS, CH_RUN, CH_MISSION, CH_GRAPH, CH_SSE, CH_ROOT } channel_t;

typedef struct live {
    ad_app_t *app;
    channel_t kind;
    ad_ws_t *ws;
    ad_sse_t *sse;
    ad_bus_sub_t *sub;
    char id[AD_ID_MAX + 16]; /* run id or crew id */
    char agent_id[AD_ID_MAX + 16];
    struct live *next, *prev; /* every open channel */
    bool done;                /* closing: deliver nothing more */
    bool cut_memory;          /* overflowed the server-wide send bound */
    ad_principal_t who;       /* who opened it */
    ad_auth_cred_t cred;      /* what it signed in with, checked again */
    ad_auth_watch_t *watch;   /* ... at once when it ends (src/auth) */
    struct root_cmd *cmds;    /* the seed's commands still pending (root only) */
    bool compat_seed;         /* /ws?compat=seed: the workbench seed's stream events */
    ad_live_seed_acc_t *acc;  /* ... with the text of each answer so far */
} live_t;

/* A command of the seed's client waiting for the runner or the jobs: its
 * answer goes to lv, or nowhere once lv has closed (live_free clears it). */
typedef struct root_cmd {
    live_t *lv;
    char type[32];
    struct root_cmd *next;
} root_cmd_t;

/* What this file keeps across requests (app->api->live). Made at
 * register; freed in the heartbeat's close callback. */
struct ad_api_live {
    live_t *channels; /* every open channel */
    uv_timer_t heartbeat;
    /* The last event turned into a WebSocket frame: every socket that gets
     * the same seq shares it; the same in the seed's dialect. */
    ad_wsmsg_t *cached_msg;
    uint64_t cached_seq;
    ad_wsmsg_t *seed_cached;
    uint64_t seed_seq;
    ad_wsmsg_t *root_cached; /* ... and in the root socket's (root_msg) */
    uint64_t root_seq;
};

/* The live state of lv's app, or NULL once the REST layer has closed. */
static ad_api_live_t *live_of(const live_t *lv)
{
    return lv->app->api != NULL ? lv->app->api->live : NULL;
}

static ad_wsmsg_t *event_msg(ad_api_live_t *L, const ad_bus_event_t *ev)
{
    if (L->cached_msg == NULL || L->cached_seq != ad_bus_event_seq(ev)) {
        if (L->cached_msg != NULL) {
            ad_wsmsg_unref(L->cached_msg);
        }
        size_t len;
        const char *data = ad_bus_event_data(ev, &len);
        L->cached_msg = ad_wsmsg_new(data, len, false);
        L->cached_seq = ad_bus_event_seq(ev);
    }
    return L->cached_msg;
}

/* The seed's dialect of a frame: src/live/seed.c. */

static ad_wsmsg_t *seed_msg(ad_api_live_t *L, const ad_bus_event_t *ev)
{
    if (L->seed_cached != NULL && L->seed_seq == ad_bus_event_seq(ev)) {
        return L->seed_cached;
    }
    size_t len;
    const char *data = ad_bus_event_data(ev, &len);
    json_t *env = json_loadb(data, len, 0, NULL);
    if (!ad_live_seed_envelope(env)) {
        json_decref(env);
        return event_msg(L, ev); /* nothing to translate */
    }
    char *text = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    if (text == NULL) {
        return event_msg(L, ev);
    }
    if (L->seed_cached != NULL) {
        ad_wsmsg_unref(L->seed_cached);
    }
    L->seed_cached = ad_wsmsg_new(text, strlen(text), false);
    L->seed_seq = ad_bus_event_seq(ev);
    free(text);
    return L->seed_cached;
}

static ad_wsmsg_t *root_msg(ad_api_live_t *L, const ad_bus_event_t *ev)
{
    if (strcmp(ad_bus_event_type(ev), "system_health") != 0) {
        return event_msg(L, ev);
    }
    if (L->root_cached != NULL && L->root_seq == ad_bus_event_seq(ev)) {
        return L->root_cached;
    }
    size_t len;
    const char *data = ad_bus_event_data(ev, &len);
    json_t *env = json_loadb(data, len, 0, NULL);
    json_t *payload = json_object_get(env, "payload");
    char *text = NULL;
    if (json_is_object(payload)) {
        ad_live_seed_health(payload);
        text = json_dumps(env, JSON_COMPACT);
    }
    json_decref(env);
    if (text == NULL) {
        return event_msg(L, ev);
    }
    if (L->root_cached != NULL) {
        ad_wsmsg_unref(L->root_cached);
    }
    L->root_cached = ad_wsmsg_new(text, strlen(text), false);
    L->root_seq = ad_bus_event_seq(ev);
    free(text);
    return L->root_cached;
}

static void link_channel(live_t *lv)
{
    ad_api_live_t *L = live_of(lv);
    lv->next = L->channels;
    if (L->channels != NULL) {
        L->channels->prev = lv;
    }
    L->channels = lv;
}

static void unlink_channel(live_t *lv)
{
    ad_api_live_t *L = live_of(lv);
    if (L == NULL) {
        return; /* the list went with the REST layer */
    }
    if (lv->prev != NULL) {
        lv->prev->next = lv->next;
    } else {
        L->channels = lv->next;
    }
    if (lv->next != NULL) {
        lv->next->prev = lv->prev;
    }
}

/* Sends {"type":type,"payload":payload} (payload stolen). */
/* last: the message says why the connection ends, so it may use the
 * reserve past the send-queue bound (a slow reader still gets it). */
static void send_notice_ex(live_t *lv, const char *type, json_t *payload, bool last)
{
    json_t *m = json_pack("{s:s, s:o}", "type", type, "payload", payload ? payload : json_object());
    if (lv->kind == CH_MISSION || lv->kind == CH_GRAPH) {
        ad_live_seed_envelope(m);
    }
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (s == NULL) {
        return;
    }
    if (lv->ws != NULL) {
        if (last) {
            ad_ws_send_last(lv->ws, s, strlen(s));
        } else {
            ad_ws_send_text(lv->ws, s, strlen(s));
        }
    } else if (lv->sse != NULL) {
        ad_sse_send(lv->sse, NULL, NULL, s, strlen(s));
    }
    free(s);
}

static void send_notice(live_t *lv, const char *type, json_t *payload)
{
    send_notice_ex(lv, type, payload, false);
}

static void send_error(live_t *lv, const char *code, const char *message)
{
    send_notice(lv, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
}

/* ---- which events a seed channel passes on ----------------------------------- */

static bool type_is(const ad_bus_event_t *ev, const char *t)
{
    return strcmp(ad_bus_event_type(ev), t) == 0;
}

static bool has_topic(const ad_bus_event_t *ev, const char *prefix, const char *id)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < ad_bus_event_ntopics(ev); i++) {
        const char *t = ad_bus_event_topic(ev, i);
        if (strncmp(t, prefix, pl) == 0 && strcmp(t + pl, id) == 0) {
            return true;
        }
    }
    return false;
}

/* The payload's string field, copied into out ("" when absent). */
static void payload_str(const ad_bus_event_t *ev, const char *key, char *out, size_t outsz)
{
    size_t len;
    const char *p = ad_bus_event_payload_text(ev, &len);
    json_t *j = json_loadb(p, len, 0, NULL);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, outsz, "%s", v ? v : "");
    json_decref(j);
}

static bool is_final_type(const ad_bus_event_t *ev)
{
    static const char *const finals[] = {"agent_exit", "run_end", "run_ended", "run_finished",
                                         "run_complete"};
    for (size_t i = 0; i < AD_ARRAY_LEN(finals); i++) {
        if (type_is(ev, finals[i])) {
            return true;
        }
    }
    return false;
}

/* For a run channel: whether ev belongs to the run, and whether it ends it. */
static bool run_filter(live_t *lv, const ad_bus_event_t *ev, bool *final)
{
    char run_id[AD_ID_MAX + 16];
    bool on_run = has_topic(ev, "run:", lv->id);
    if (!on_run) {
        payload_str(ev, "runId", run_id, sizeof(run_id));
        on_run = strcmp(run_id, lv->id) == 0;
        /* agent_exit carries no runId: it ends the agent's current run. */
        if (!on_run && run_id[0] == '\0' && type_is(ev, "agent_exit")) {
            on_run = lv->agent_id[0] != '\0' && has_topic(ev, "agent:", lv->agent_id);
        }
    }
    *final = on_run && is_final_type(ev);
    return on_run;
}

static bool pass(live_t *lv, const ad_bus_event_t *ev, bool *final)
{
    *final = false;
    switch (lv->kind) {
    case CH_RUN:
        return run_filter(lv, ev, final);
    case CH_MISSION:
        return type_is(ev, "signal");
    case CH_GRAPH:
        return type_is(ev, "tool_start") || type_is(ev, "tool_progress") || type_is(ev, "tool_end");
    case CH_ROOT:
        return type_is(ev, "agent_update") || type_is(ev, "metrics_update") ||
               type_is(ev, "system_health") || type_is(ev, "discovery_progress");
    default:
        return true;
    }
}

/* ---- bus subscriber callbacks ---------------------------------------------------- */

static int live_deliver(void *ud, const ad_bus_event_t *ev)
{
    live_t *lv = ud;
    bool final;
    if (lv->done || !pass(lv, ev, &final)) {
        return 0;
    }
    size_t len;
    const char *data = ad_bus_event_data(ev, &len);
    size_t bound = (size_t)lv->app->cfg->ws_send_queue_bytes;
    if ((lv->ws != NULL ? ad_ws_pressure(lv->ws) : ad_sse_pressure(lv->sse)) == 2) {
        lv->cut_memory = true; /* among those holding most of the server's send memory */
        return AD_ETOOBIG;
    }
    int rc;
    char *compat = lv->compat_seed ? ad_live_seed_compat_text(&lv->acc, ev) : NULL;
    if (compat != NULL) {
        size_t clen = strlen(compat);
        bool full = ad_ws_queued_bytes(lv->ws) + clen + 16 + OVERFLOW_RESERVE > bound;
        rc = full ? AD_ETOOBIG : ad_ws_send_text(lv->ws, compat, clen);
        free(compat);
        return rc == AD_ETOOBIG ? rc : 0;
    }
    if (lv->ws != NULL) {
        if (ad_ws_queued_bytes(lv->ws) + len + 16 + OVERFLOW_RESERVE > bound) {
            return AD_ETOOBIG;
        }
        bool seed = lv->kind == CH_MISSION || lv->kind == CH_GRAPH;
        ad_api_live_t *L = live_of(lv);
        if (L == NULL) {
            return 0;
        }
        ad_wsmsg_t *msg = seed                  ? seed_msg(L, ev)
                          : lv->kind == CH_ROOT ? root_msg(L, ev)
                                                : event_msg(L, ev);
        rc = ad_ws_send_msg(lv->ws, msg);
    } else {
        if (ad_sse_queued_bytes(lv->sse) + len + 64 + OVERFLOW_RESERVE > bound) {
            return AD_ETOOBIG;
        }
        char id[24];
        snprintf(id, sizeof(id), "%llu", (unsigned long long)ad_bus_event_seq(ev));
        rc = ad_sse_send(lv->sse, id, NULL, data, len);
    }
    if (rc == AD_ETOOBIG) {
        return rc;
    }
    if (final && lv->ws != NULL) {
        lv->done = true;
        ad_ws_close(lv->ws, 1000, "run ended");
    }
    return 0;
}

static void live_overflow(void *ud, uint64_t last_seq)
{
    live_t *lv = ud;
    if (lv->done) {
        return;
    }
    lv->done = true;
    ad_log(AD_LOG_WARN, "live", "slow consumer dropped last_seq=%llu",
           (unsigned long long)last_seq);
    const char *why = lv->cut_memory ? "server send memory bound" : "send queue bound";
    send_notice_ex(lv, "overflow",
                   json_pack("{s:I, s:s}", "lastSeq", (json_int_t)last_seq, "reason", why), true);
    if (lv->ws != NULL) {
        ad_ws_close(lv->ws, 1013,
                    lv->cut_memory ? "overflow: server send memory bound" : "overflow");
    } else {
        ad_sse_close(lv->sse);
    }
}

static void live_truncated(void *ud, uint64_t oldest)
{
    live_t *lv = ud;
    send_notice(lv, "replay_truncated", json_pack("{s:I}", "oldestSeq", (json_int_t)oldest));
}

/* History lacks from..to (a crash or a failed events write): the client
 * may have missed some of them and should reload what it shows. */
static void live_gap(void *ud, uint64_t from, uint64_t to)
{
    live_t *lv = ud;
    send_notice(lv, "gap", json_pack("{s:I, s:I}", "from", (json_int_t)from, "to", (json_int_t)to));
}

static size_t live_queued(void *ud)
{
    live_t *lv = ud;
    if ((lv->ws != NULL ? ad_ws_pressure(lv->ws) : ad_sse_pressure(lv->sse)) != 0) {
        /* the server's send memory is half used and this reader holds more
         * than its share: a replay waits, as for a full queue of its own */
        return (size_t)lv->app->cfg->ws_send_queue_bytes;
    }
    return lv->ws != NULL ? ad_ws_queued_bytes(lv->ws) : ad_sse_queued_bytes(lv->sse);
}

static const ad_bus_sub_ops_t live_ops = {live_deliver, live_overflow, live_truncated, live_queued,
                                          live_gap};

static void cred_ended(void *ud);

/* A channel of who: it sees only the events of who's org (every org for
 * the owner), live and in replay alike. */
static live_t *live_new(ad_app_t *app, channel_t kind, const ad_req_t *r)
{
    const ad_principal_t *who = ad_api_who(r);
    live_t *lv = ad_xcalloc(1, sizeof(*lv));
    lv->app = app;
    lv->kind = kind;
    lv->who = *who;
    ad_auth_credential(r, &lv->cred);
    if (app->auth != NULL) {
        lv->watch = ad_auth_watch(app->auth, &lv->cred, cred_ended, lv);
    }
    lv->sub = ad_bus_sub_new(app->bus, &live_ops, lv, (size_t)app->cfg->ws_send_queue_bytes);
    ad_bus_sub_set_org(lv->sub, ad_principal_filter(who));
    link_channel(lv);
    return lv;
}

/* A WebSocket channel opens only for a caller the guard let through;
 * others are closed with 4401/4403 and a reason (a browser cannot read a
 * refused upgrade's status, so the seed's clients expect the close code). */
static live_t *ws_open(ad_ws_t *ws, ad_req_t *upgrade, ad_app_t *app, channel_t kind)
{
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return NULL;
    }
    live_t *lv = live_new(app, kind, upgrade);
    lv->ws = ws;
    ad_ws_set_data(ws, lv);
    return lv;
}

static void live_free(live_t *lv)
{
    ad_live_seed_acc_free(&lv->acc);
    for (root_cmd_t *c = lv->cmds; c != NULL; c = c->next) {
        c->lv = NULL; /* its answer, when it comes, goes nowhere */
    }
    ad_auth_unwatch(lv->watch);
    unlink_channel(lv);
    ad_bus_sub_free(lv->sub);
    free(lv);
}

/* ---- the /ws protocol --------------------------------------------------------------- */

/* Collects topics from payload.topics (array or one string). Returns the
 * count, or -1 after sending an error. */
static int take_topics(live_t *lv, json_t *payload, const char **out, size_t max)
{
    json_t *t = json_object_get(payload, "topics");
    size_t n = 0;
    if (json_is_string(t)) {
        out[n++] = json_string_value(t);
    } else if (json_is_array(t) && json_array_size(t) <= max) {
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v)
        {
            if (!json_is_string(v)) {
                send_error(lv, "INVALID_TOPIC", "topics must be strings");
                return -1;
            }
            out[n++] = json_string_value(v);
        }
    } else {
        send_error(lv, "VALIDATION_ERROR", "payload.topics must be an array of topics");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(out[i])) {
            send_error(lv, "INVALID_TOPIC", "a topic is empty, too long or malformed");
            return -1;
        }
    }
    return (int)n;
}

/* since: a non-negative integer (or its decimal string); absent is fine. */
static int take_since(live_t *lv, json_t *payload, bool *has, uint64_t *since)
{
    json_t *s = json_object_get(payload, "since");
    *has = false;
    if (s == NULL || json_is_null(s)) {
        return 0;
    }
    if (json_is_integer(s) && json_integer_value(s) >= 0) {
        *has = true;
        *since = (uint64_t)json_integer_value(s);
        return 0;
    }
    if (json_is_string(s)) {
        char *end;
        const char *v = json_string_value(s);
        unsigned long long x = strtoull(v, &end, 10);
        if (v[0] >= '0' && v[0] <= '9' && *end == '\0') {
            *has = true;
            *since = x;
            return 0;
        }
    }
    send_error(lv, "VALIDATION_ERROR", "payload.since must be a non-negative integer");
    return -1;
}

static void do_subscribe(live_t *lv, const char *const *topics, size_t n, bool has_since,
                         uint64_t since, const char *ack)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(topics[i]));
    }
    /* The acknowledgement goes first: replayed events follow it. */
    send_notice(
        lv, ack,
        json_pack("{s:o, s:I}", "topics", arr, "seq", (json_int_t)ad_bus_seq(lv->app->bus)));
    int rc = ad_bus_subscribe(lv->sub, topics, n, has_since, since);
    if (rc == AD_ETOOBIG) {
        send_error(lv, "TOO_MANY_TOPICS", "too many subscriptions on one connection");
    }
}

/* ---- the seed's commands on "/" -------------------------------------------------------
 * The seed's WebSocketManager.send(type, payload) sends {type, payload}.
 * On "/" these map to the REST actions, with the same scope and the same
 * org rule as their routes (a read token starts nothing; another org's
 * agent is as good as none):
 *   start_training  {agentId|id, initialPrompt?}  POST /api/agents/:id/start  (admin)
 *   pause_training  {agentId|id}                  POST /api/agents/:id/pause  (write)
 *   resume_training {agentId|id}                  POST /api/agents/:id/resume (write)
 *   stop_training   {agentId|id, force?}          POST /api/agents/:id/stop   (write)
 *   start_discovery {command, name?, environment?, cwd?}
 *                                                 POST /api/jobs kind discovery (admin)
 * A success answers agent_update {id, status (the seed's idle, training,
 * paused or stopped), agentStatus (agentd's)} or discovery_progress {job};
 * a refusal answers error {code, message, command, status (the REST
 * status)}. The upgrade itself is refused cross-origin like /ws. */
#define ROOT_CMDS_MAX 16 /* pending commands per connection */

static void root_error(live_t *lv, const char *cmd, int status, const char *code, const char *msg)
{
    send_notice(lv, "error",
                json_pack("{s:s, s:s, s:s, s:i}", "code", code, "message", msg, "command", cmd,
                          "status", status));
}

static const char *seed_status(const char *st)
{
    if (st == NULL) {
        return "idle";
    }
    if (strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0) {
        return "training";
    }
    if (strcmp(st, "paused") == 0 || strcmp(st, "idle") == 0) {
        return st;
    }
    return "stopped"; /* stopped, finished, error */
}

static root_cmd_t *cmd_new(live_t *lv, const char *type)
{
    size_t n = 0;
    for (root_cmd_t *c = lv->cmds; c != NULL; c = c->next) {
        n++;
    }
    if (n >= ROOT_CMDS_MAX) {
        root_error(lv, type, 429, "TOO_MANY_REQUESTS", "too many commands pending on this socket");
        return NULL;
    }
    root_cmd_t *c = ad_xcalloc(1, sizeof(*c));
    c->lv = lv;
    snprintf(c->type, sizeof(c->type), "%s", type);
    c->next = lv->cmds;
    lv->cmds = c;
    return c;
}

/* Unlinks c from its channel (if still open) and frees it; the channel, or NULL. */
static live_t *cmd_end(root_cmd_t *c)
{
    live_t *lv = c->lv;
    if (lv != NULL) {
        for (root_cmd_t **pp = &lv->cmds; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        }
    }
    return lv;
}

static void cmd_agent_done(int rc, json_t *result, const char *msg, void *ud)
{
    root_cmd_t *c = ud;
    live_t *lv = cmd_end(c);
    if (lv != NULL && !lv->done) {
        if (rc != 0) {
            const char *code = NULL;
            int status = ad_http_status_of(rc, &code);
            root_error(lv, c->type, status, code, msg != NULL ? msg : ad_strerror(rc));
        } else {
            json_t *agent = json_object_get(result, "agent");
            agent = agent != NULL ? agent : result;
            const char *st = json_string_value(json_object_get(agent, "status"));
            send_notice(lv, "agent_update",
                        json_pack("{s:O, s:s, s:s?}", "id", json_object_get(agent, "id"), "status",
                                  seed_status(st), "agentStatus", st));
        }
    }
    free(c);
}

static void cmd_job_done(int rc, json_t *job, void *ud)
{
    root_cmd_t *c = ud;
    live_t *lv = cmd_end(c);
    if (lv != NULL && !lv->done) {
        if (rc != 0) {
            const char *code = NULL;
            int status = ad_http_status_of(rc, &code);
            root_error(lv, c->type, status, code, ad_strerror(rc));
        } else {
            send_notice(lv, "discovery_progress", json_incref(job));
        }
    }
    free(c);
}

/* The agent a command names, visible to the caller: its id, or NULL after
 * answering. */
static const char *cmd_agent(live_t *lv, const char *type, json_t *payload, char org[AD_ID_MAX])
{
    const char *id = json_string_value(json_object_get(payload, "agentId"));
    if (id == NULL) {
        id = json_string_value(json_object_get(payload, "id"));
    }
    if (id == NULL || id[0] == '\0' || strlen(id) >= AD_ID_MAX) {
        root_error(lv, type, 422, "VALIDATION_ERROR", "payload.agentId is required");
        return NULL;
    }
    int rc = ad_api_row_org(lv->app, &lv->who, AD_API_AGENT, id, org);
    if (rc != 0) {
        const char *code = NULL;
        int status = ad_http_status_of(rc, &code);
        root_error(lv, type, status, code, rc == AD_ENOENT ? "agent not found" : ad_strerror(rc));
        return NULL;
    }
    return id;
}

static void cmd_agent_action(live_t *lv, const char *type, json_t *payload)
{
    ad_app_t *app = lv->app;
    bool start = strcmp(type, "start_training") == 0;
    char org[AD_ID_MAX];
    const char *id = cmd_agent(lv, type, payload, org);
    if (id == NULL) {
        return;
    }
    const char *prompt = NULL;
    if (start) {
        json_t *p = json_object_get(payload, "initialPrompt");
        if (p != NULL && !json_is_string(p)) {
            root_error(lv, type, 422, "VALIDATION_ERROR", "payload.initialPrompt must be a string");
            return;
        }
        prompt = json_string_value(p);
        /* A hyper-parameter config is checked against its schema by the
         * REST route; this socket does not take one. */
        json_t *agent = NULL;
        bool configured = json_object_get(payload, "configId") != NULL;
        if (!configured && ad_store_agent_get(app->store, id, &agent) == 0) {
            configured =
                json_is_string(json_object_get(json_object_get(agent, "state"), "configId"));
        }
        json_decref(agent);
        if (configured) {
            root_error(lv, type, 422, "VALIDATION_ERROR",
                       "a run with a hyper-parameter config starts with POST "
                       "/api/agents/:id/start");
            return;
        }
        const char *period =
            json_is_true(json_object_get(payload, "force")) ? NULL : ad_api_usage_reached(app);
        if (period != NULL) {
            char why[128];
            snprintf(why, sizeof(why),
                     "the %s usage limit is reached; send force: true to go past it", period);
            root_error(lv, type, 429, "USAGE_LIMIT", why);
            return;
        }
    }
    root_cmd_t *c = cmd_new(lv, type);
    if (c == NULL) {
        return;
    }
    char err[512] = "";
    int rc;
    if (start) {
        rc =
            ad_runner_start_cfg(app->runner, id, prompt, NULL, cmd_agent_done, c, err, sizeof(err));
    } else if (strcmp(type, "stop_training") == 0) {
        rc = ad_runner_stop(app->runner, id, json_is_true(json_object_get(payload, "force")),
                            cmd_agent_done, c);
        if (rc != 0) {
            rc = AD_ESTATE;
            snprintf(err, sizeof(err), "agent %s is not running", id);
        }
    } else {
        bool pause = strcmp(type, "pause_training") == 0;
        rc = pause ? ad_runner_pause(app->runner, id, cmd_agent_done, c)
                   : ad_runner_resume(app->runner, id, cmd_agent_done, c);
        if (rc == AD_ENOENT) {
            rc = AD_ESTATE;
            snprintf(err, sizeof(err), "agent %s is not running", id);
        } else if (rc == AD_ESTATE) {
            snprintf(err, sizeof(err), "agent %s is %s", id,
                     pause ? "already paused" : "not paused");
        }
    }
    if (rc != 0) {
        cmd_end(c);
        free(c);
        const char *code = NULL;
        int status = ad_http_status_of(rc, &code);
        root_error(lv, type, status, code, err[0] != '\0' ? err : ad_strerror(rc));
    }
}

#define JOB_ARGV_MAX 256

static void cmd_discovery(live_t *lv, const char *type, json_t *payload)
{
    ad_app_t *app = lv->app;
    json_t *command = json_object_get(payload, "command");
    size_t n = json_array_size(command);
    if (n == 0 || n > JOB_ARGV_MAX) {
        root_error(lv, type, 422, "VALIDATION_ERROR",
                   "payload.command must be a program and its arguments (1 to 256 strings)");
        return;
    }
    const char *argv[JOB_ARGV_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        argv[i] = json_string_value(json_array_get(command, i));
        if (argv[i] == NULL || strlen(argv[i]) > 8192) {
            root_error(lv, type, 422, "VALIDATION_ERROR", "payload.command holds strings only");
            return;
        }
    }
    argv[n] = NULL;
    const char *name = json_string_value(json_object_get(payload, "name"));
    if (name == NULL) {
        name = json_string_value(json_object_get(payload, "environment"));
    }
    const char *cwd = json_string_value(json_object_get(payload, "cwd"));
    if (name == NULL || name[0] == '\0' || strlen(name) > 127 ||
        (cwd != NULL && (cwd[0] != '/' || strlen(cwd) > 1023))) {
        root_error(lv, type, 422, "VALIDATION_ERROR",
                   "payload.name (or environment) is required; cwd must be an absolute path");
        return;
    }
    char org[AD_ID_MAX];
    snprintf(org, sizeof(org), "%s", ad_principal_org_for(&lv->who, NULL));
    root_cmd_t *c = cmd_new(lv, type);
    if (c == NULL) {
        return;
    }
    ad_job_spec_t spec = {.name = name, .kind = "discovery", .org = org, .cwd = cwd, .argv = argv};
    char err[256] = "";
    int rc = ad_jobs_start(app->jobs, &spec, cmd_job_done, c, err, sizeof(err));
    if (rc != 0) {
        cmd_end(c);
        free(c);
        bool bad = rc == AD_ENOENT || rc == AD_EPERM || rc == AD_EINVAL;
        const char *code = "VALIDATION_ERROR";
        int status = bad ? 422 : ad_http_status_of(rc, &code);
        root_error(lv, type, status, code, err[0] != '\0' ? err : ad_strerror(rc));
    }
}

/* Whether type is one of the seed's commands (answered here). */
static bool root_command(live_t *lv, const char *type, json_t *payload)
{
    static const struct {
        const char *type;
        ad_scope_t scope;
    } cmds[] = {{"start_training", AD_SCOPE_ADMIN},
                {"pause_training", AD_SCOPE_WRITE},
                {"resume_training", AD_SCOPE_WRITE},
                {"stop_training", AD_SCOPE_WRITE},
                {"start_discovery", AD_SCOPE_ADMIN}};
    size_t i = 0;
    while (i < AD_ARRAY_LEN(cmds) && strcmp(cmds[i].type, type) != 0) {
        i++;
    }
    if (i == AD_ARRAY_LEN(cmds)) {
        return false;
    }
    ad_app_t *app = lv->app;
    if (app->auth != NULL && !ad_auth_credential_live(app->auth, &lv->cred)) {
        lv->done = true;
        ad_ws_close(lv->ws, 4401, "unauthorized: the token or session has ended");
        return true;
    }
    if (!ad_principal_can(&lv->who, cmds[i].scope)) {
        char why[96];
        snprintf(why, sizeof(why), "%s needs a token of scope %s", type,
                 ad_scope_name(cmds[i].scope));
        root_error(lv, type, 403, "FORBIDDEN", why);
        return true;
    }
    bool discovery = cmds[i].scope == AD_SCOPE_ADMIN && type[6] == 'd';
    if ((discovery ? app->jobs == NULL : app->runner == NULL) || app->store == NULL) {
        root_error(lv, type, 503, "UNAVAILABLE", "not available on this daemon");
    } else if (payload == NULL) {
        root_error(lv, type, 422, "VALIDATION_ERROR", "payload must be an object");
    } else if (discovery) {
        cmd_discovery(lv, type, payload);
    } else {
        cmd_agent_action(lv, type, payload);
    }
    return true;
}

static void on_ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(binary);
    AD_UNUSED(ud);
    live_t *lv = ad_ws_data(ws);
    if (lv == NULL || lv->done) {
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, 0, &jerr);
    if (!json_is_object(msg)) {
        send_error(lv, "INVALID_JSON", "messages are JSON objects {type, payload}");
        json_decref(msg);
        return;
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    /* A flat message ({type, topics} with no payload, as the seed's
     * Python side writes them) carries its fields at the top. */
    json_t *payload = json_object_get(msg, "payload");
    if (payload == NULL) {
        payload = msg;
    } else if (!json_is_object(payload)) {
        payload = NULL;
    }
    const char *topics[MSG_TOPICS_MAX];
    char one[AD_BUS_TOPIC_MAX + 1];
    bool has_since = false;
    uint64_t since = 0;
    if (type == NULL) {
        send_error(lv, "UNKNOWN_TYPE", "message has no type");
    } else if (lv->kind == CH_ROOT && root_command(lv, type, payload)) {
        /* answered */
    } else if (strcmp(type, "ping") == 0) {
        send_notice(lv, "pong", json_pack("{s:I}", "seq", (json_int_t)ad_bus_seq(lv->app->bus)));
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
        int n = take_topics(lv, payload, topics, MSG_TOPICS_MAX);
        if (n < 0) {
            goto out;
        }
        if (type[0] == 'u') {
            ad_bus_unsubscribe(lv->sub, topics, (size_t)n);
            json_t *arr = json_array();
            for (int i = 0; i < n; i++) {
                json_array_append_new(arr, json_string(topics[i]));
            }
            send_notice(lv, "unsubscribed", json_pack("{s:o}", "topics", arr));
        } else if (take_since(lv, payload, &has_since, &since) == 0) {
            do_subscribe(lv, topics, (size_t)n, has_since, since, "subscribed");
        }
    } else if (strcmp(type, "subscribe:agent") == 0 || strcmp(type, "unsubscribe:agent") == 0 ||
               strcmp(type, "subscribe:workspace") == 0) {
        bool agent = strstr(type, ":agent") != NULL;
        const char *key = agent ? "agentId" : "workspaceId";
        const char *id = json_string_value(json_object_get(payload, key));
        if (id == NULL || id[0] == '\0') {
            char why[64];
            snprintf(why, sizeof(why), "payload.%s is required", key);
            send_error(lv, "VALIDATION_ERROR", why);
            goto out;
        }
        snprintf(one, sizeof(one), "%s:%s", agent ? "agent" : "workspace", id);
        topics[0] = one;
        if (!ad_bus_topic_valid(one)) {
            send_error(lv, "INVALID_TOPIC", "the id makes an invalid topic");
        } else if (type[0] == 'u') {
            ad_bus_unsubscribe(lv->sub, topics, 1);
            send_notice(lv, "unsubscribed", json_pack("{s:[s]}", "topics", one));
        } else if (take_since(lv, payload, &has_since, &since) == 0) {
            do_subscribe(lv, topics, 1, has_since, since, "subscribed");
        }
    } else {
        send_error(lv, "UNKNOWN_TYPE", "unknown message type");
    }
out:
    json_decref(msg);
}

static void on_ws_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    live_t *lv = ad_ws_data(ws);
    if (lv != NULL) {
        ad_ws_set_data(ws, NULL);
        live_free(lv);
    }
}

static void on_ws_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    live_t *lv = ws_open(ws, upgrade, ud, CH_WS);
    const char *compat = ad_ws_query(ws, "compat");
    if (lv != NULL && compat != NULL) {
        if (strcmp(compat, "seed") != 0) {
            send_error(lv, "VALIDATION_ERROR", "compat must be seed");
            lv->done = true;
            ad_ws_close(ws, 1008, "compat must be seed");
            return;
        }
        lv->compat_seed = true;
    }
}

/* ---- seed channels -------------------------------------------------------------------- */

/* ?since=N on a channel without subscribe (the seed's /ws/runs/:id,
 * /ws/mission, /ws/graph and "/"): events with seq > N are replayed first,
 * as a /ws subscribe with since does, so a client that comes late or
 * reconnects misses nothing. 0 (*has false when absent), or -1 after
 * closing the socket with 1008. */
static int query_since(live_t *lv, bool *has, uint64_t *since)
{
    const char *s = ad_ws_query(lv->ws, "since");
    *has = s != NULL && s[0] != '\0';
    *since = 0;
    if (!*has) {
        return 0;
    }
    char *end;
    *since = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0') {
        send_error(lv, "VALIDATION_ERROR", "since must be a non-negative integer");
        lv->done = true;
        ad_ws_close(lv->ws, 1008, "since must be a non-negative integer");
        return -1;
    }
    return 0;
}

static void on_run_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    live_t *lv = ws_open(ws, upgrade, app, CH_RUN);
    if (lv == NULL) {
        return;
    }
    bool has_since;
    uint64_t since;
    if (query_since(lv, &has_since, &since) != 0) {
        return;
    }
    const char *run_id = ad_ws_param(ws, "runId");
    snprintf(lv->id, sizeof(lv->id), "%s", run_id ? run_id : "");
    json_t *run = NULL;
    int rc = app->store != NULL ? ad_store_run_get(app->store, lv->id, &run) : AD_ECLOSED;
    if (rc == 0 && ad_api_row_org(app, &lv->who, AD_API_RUN, lv->id, NULL) != 0) {
        json_decref(run);
        rc = AD_ENOENT; /* another org's run is as good as none */
    }
    if (rc != 0) {
        bool missing = rc == AD_ENOENT;
        send_error(lv, missing ? "NOT_FOUND" : "UNAVAILABLE",
                   missing ? "no such run" : "the run cannot be read now; try again");
        lv->done = true;
        ad_ws_close(ws, missing ? 4404 : 1011, missing ? "no such run" : "store unavailable");
        return;
    }
    const char *st = json_string_value(json_object_get(run, "status"));
    const char *agent = json_string_value(json_object_get(run, "agentId"));
    char status[32];
    snprintf(status, sizeof(status), "%s", st != NULL ? st : "");
    snprintf(lv->agent_id, sizeof(lv->agent_id), "%s", agent != NULL ? agent : "");
    json_decref(run);
    /* A run that is over: its status and the close, unless the client asks
     * for its events since N (then they are replayed and its final event
     * closes the socket as it would have live). */
    if (strcmp(status, "running") != 0 && !has_since) {
        send_notice(lv, "run_status", json_pack("{s:s, s:s}", "runId", lv->id, "status", status));
        lv->done = true;
        ad_ws_close(ws, 1000, "run is over");
        return;
    }
    char t1[AD_BUS_TOPIC_MAX + 1], t2[AD_BUS_TOPIC_MAX + 1];
    snprintf(t1, sizeof(t1), "run:%s", lv->id);
    snprintf(t2, sizeof(t2), "agent:%s", lv->agent_id);
    const char *topics[2] = {t1, t2};
    ad_bus_subscribe(lv->sub, topics, lv->agent_id[0] ? 2 : 1, has_since, since);
}

/* Channels whose token was revoked or expired, or whose session ended, are
 * closed (4401 for a WebSocket): a credential that no longer lets a
 * request in does not keep a stream of events either. */
static void recheck_credentials(void *ud)
{
    ad_app_t *app = ud;
    if (app->api == NULL || app->api->live == NULL) {
        return;
    }
    for (live_t *lv = app->api->live->channels; lv != NULL; lv = lv->next) {
        if (lv->done || ad_auth_credential_live(app->auth, &lv->cred)) {
            continue;
        }
        lv->done = true;
        if (lv->ws != NULL) {
            ad_ws_close(lv->ws, 4401, "unauthorized: the token or session has ended");
        } else {
            ad_sse_close(lv->sse);
        }
    }
}

/* The channel's credential was revoked, signed out, rotated or expired
 * (src/auth watches it): closed at once. */
static void cred_ended(void *ud)
{
    live_t *lv = ud;
    if (lv->done) {
        return;
    }
    lv->done = true;
    if (lv->ws != NULL) {
        ad_ws_close(lv->ws, 4401, "unauthorized: the token or session has ended");
    } else if (lv->sse != NULL) {
        ad_sse_close(lv->sse);
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    ad_app_t *app = t->data;
    recheck_credentials(app); /* expiry has no event of its own */
    for (live_t *lv = app->api->live->channels; lv != NULL; lv = lv->next) {
        if (lv->kind == CH_MISSION && !lv->done) {
            char ts[AD_TIME_MAX];
            ad_time_format(ad_wall_ms(), ts);
            send_notice(lv, "heartbeat",
                        json_pack("{s:s, s:I}", "ts", ts, "seq", (json_int_t)ad_bus_seq(app->bus)));
        }
    }
}

static void on_mission_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    live_t *lv = ws_open(ws, upgrade, app, CH_MISSION);
    bool has_since;
    uint64_t since;
    if (lv == NULL || query_since(lv, &has_since, &since) != 0) {
        return;
    }
    /* The current state of every crew, so a fresh dashboard needs no
     * separate request. */
    json_t *crews = ad_api_crews_snapshot(app, ad_principal_filter(&lv->who));
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        json_t *sig = json_pack("{s:O, s:O}", "crewId", json_object_get(c, "id"), "status",
                                json_object_get(c, "status"));
        send_notice(lv, "signal", sig);
    }
    json_decref(crews);
    /* after the current state: what changed since N, then live */
    const char *topics[1] = {"crew:*"};
    ad_bus_subscribe(lv->sub, topics, 1, has_since, since);
}

static void on_graph_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    live_t *lv = ws_open(ws, upgrade, app, CH_GRAPH);
    bool has_since;
    uint64_t since;
    if (lv == NULL || query_since(lv, &has_since, &since) != 0) {
        return;
    }
    const char *crew = ad_ws_query(ws, "crew_id");
    if (crew == NULL) {
        crew = ad_ws_query(ws, "crewId");
    }
    char topic[AD_BUS_TOPIC_MAX + 1];
    snprintf(topic, sizeof(topic), "crew:%s", crew ? crew : "");
    if (crew == NULL || crew[0] == '\0' || !ad_bus_topic_valid(topic) || strchr(crew, '*')) {
        send_error(lv, "VALIDATION_ERROR", "crew_id is required");
        lv->done = true;
        ad_ws_close(ws, 1008, "crew_id is required");
        return;
    }
    /* Another org's crew is as good as none; the owner may also watch a
     * crew id no row has yet (programs may publish into it). */
    int rc = ad_api_row_org(app, &lv->who, AD_API_CREW, crew, NULL);
    if (rc != 0 && !(rc == AD_ENOENT && lv->who.owner)) {
        send_error(lv, "NOT_FOUND", "no such crew");
        lv->done = true;
        ad_ws_close(ws, 4404, "no such crew");
        return;
    }
    snprintf(lv->id, sizeof(lv->id), "%s", crew);
    const char *topics[1] = {topic};
    ad_bus_subscribe(lv->sub, topics, 1, has_since, since);
}

/* The seed's WebSocketManager connects to ws://host:8765 (the root path),
 * sends nothing and reads {type, payload} of four types: every event of
 * those types the caller's org may see, from ?since= when given (as on
 * /ws). A plain GET on "/" is still the dashboard page. */
static void on_root_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_app_t *app = ud;
    live_t *lv = ws_open(ws, upgrade, app, CH_ROOT);
    if (lv == NULL) {
        return;
    }
    bool has_since;
    uint64_t since;
    if (query_since(lv, &has_since, &since) != 0) {
        return;
    }
    const char *topics[1] = {"*"};
    ad_bus_subscribe(lv->sub, topics, 1, has_since, since);
}

/* ---- Server-Sent Events ------------------------------------------------------------------ */

static void on_sse_close(ad_sse_t *sse, void *ud)
{
    AD_UNUSED(sse);
    live_free(ud);
}

static void sse_events(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *q = ad_req_query(r, "topics");
    char *list = ad_xstrdup(q != NULL && q[0] != '\0' ? q : "*");
    const char *topics[MSG_TOPICS_MAX];
    size_t n = 0;
    for (char *p = list; p != NULL && n < MSG_TOPICS_MAX;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (p[0] != '\0') {
            topics[n++] = p;
        }
        p = comma ? comma + 1 : NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(topics[i])) {
            ad_res_error(r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", "topics", "reason", "malformed topic"),
                         "topics: malformed topic '%s'", topics[i]);
            goto out;
        }
    }
    bool has_since = false;
    uint64_t since = 0;
    const char *s = ad_req_header(r, "Last-Event-ID");
    if (s == NULL || s[0] == '\0') {
        s = ad_req_query(r, "since");
    }
    if (s != NULL && s[0] != '\0') {
        char *end;
        unsigned long long x = strtoull(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end != '\0') {
            ad_res_error(r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", "since", "reason", "not a number"),
                         "since must be a non-negative integer");
            goto out;
        }
        has_since = true;
        since = x;
    }
    live_t *lv = live_new(app, CH_SSE, r);
    lv->sse = ad_sse_start(r, on_sse_close, lv);
    if (lv->sse == NULL) {
        live_free(lv);
        goto out;
    }
    ad_bus_subscribe(lv->sub, topics, n, has_since, since);
out:
    free(list);
}

/* The mission heartbeat, and the expiry check of every channel's
 * credential, on one timer. */
static void heartbeat_start(ad_app_t *app)
{
    uint64_t every = MISSION_HEARTBEAT_MS;
#ifdef AD_TEST_BUILD
    /* Test builds: a shorter heartbeat so tests need not wait 45 s. */
    const char *env = getenv("AGENTD_TEST_MISSION_HEARTBEAT_MS");
    if (env != NULL && env[0] >= '1' && env[0] <= '9') {
        every = strtoull(env, NULL, 10);
    }
#endif
    ad_api_live_t *L = app->api->live;
    uv_timer_init(app->loop, &L->heartbeat);
    L->heartbeat.data = app;
    uv_timer_start(&L->heartbeat, on_heartbeat, every, every);
    uv_unref((uv_handle_t *)&L->heartbeat);
}

static void live_closed(uv_handle_t *h)
{
    free(h->data); /* the ad_api_live_t that holds h */
}

void ad_api_live_close(ad_app_t *app)
{
    if (app->auth != NULL) {
        ad_auth_on_change(app->auth, NULL, NULL);
    }
    ad_api_live_t *L = app->api->live;
    if (L == NULL) {
        return;
    }
    app->api->live = NULL;
    /* Channels still open (none once the server has closed) leave the list
     * now; their own close then finds no list (unlink_channel). */
    for (live_t *lv = L->channels, *next; lv != NULL; lv = next) {
        next = lv->next;
        lv->prev = lv->next = NULL;
    }
    if (L->cached_msg != NULL) {
        ad_wsmsg_unref(L->cached_msg);
    }
    if (L->seed_cached != NULL) {
        ad_wsmsg_unref(L->seed_cached);
    }
    if (L->root_cached != NULL) {
        ad_wsmsg_unref(L->root_cached);
    }
    L->heartbeat.data = L;
    uv_close((uv_handle_t *)&L->heartbeat, live_closed);
}

size_t ad_api_live_max_queued(ad_app_t *app)
{
    size_t max = 0;
    ad_api_live_t *L = app->api != NULL ? app->api->live : NULL;
    for (live_t *lv = L != NULL ? L->channels : NULL; lv != NULL; lv = lv->next) {
        size_t q = lv->done ? 0 : live_queued(lv);
        if (q > max) {
            max = q;
        }
    }
    return max;
}

void ad_api_live_register(ad_app_t *app)
{
    static const ad_ws_handler_t ws_h = {on_ws_open, on_ws_message, on_ws_close};
    static const ad_ws_handler_t run_h = {on_run_open, on_ws_message, on_ws_close};
    static const ad_ws_handler_t mission_h = {on_mission_open, on_ws_message, on_ws_close};
    static const ad_ws_handler_t graph_h = {on_graph_open, on_ws_message, on_ws_close};
    static const ad_ws_handler_t root_h = {on_root_open, on_ws_message, on_ws_close};
    static const char *const protocols[] = {"bearer", NULL};
    ad_server_route_ws(app->server, "/ws", AD_ACCESS_READ, protocols, &ws_h, app);
    ad_server_route_ws(app->server, "/ws/runs/:runId", AD_ACCESS_READ, protocols, &run_h, app);
    ad_server_route_ws(app->server, "/ws/mission", AD_ACCESS_READ, protocols, &mission_h, app);
    ad_server_route_ws(app->server, "/ws/graph", AD_ACCESS_READ, protocols, &graph_h, app);
    ad_server_route_ws_shared(app->server, "/", AD_ACCESS_READ, protocols, &root_h, app);
    ad_server_route(app->server, "GET", "/api/events", AD_ACCESS_READ, sse_events, app);
    app->api->live = ad_xcalloc(1, sizeof(*app->api->live));
    if (app->auth != NULL) {
        ad_auth_on_change(app->auth, recheck_credentials, app);
    }
    heartbeat_start(app);
}
