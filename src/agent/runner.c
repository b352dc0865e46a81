/* SPDX-License-Identifier: MIT */
/*
 * The run life cycle: start (launch + spawn + run row), output (parser
 * records -> bus events, coalesced and batched message writes), stop,
 * pause/resume, user messages, exit (run end, agent status) and start-up
 * reconciliation. Executors and parsers are agent.h's; spawning is
 * src/proc's; SQL is src/store/runs.c's.
 */
#include "agent/runner.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

#define OUT_FLUSH_BYTES (64 * 1024) /* coalesced output becomes a message */
#define FLUSH_MS 100
#define BATCH_MAX 256
#define BATCH_BYTES (4 * 1024 * 1024)
/* Message bytes handed to the writer and not yet committed, over all runs:
 * past it, plain output is not stored (events still go out live). */
#define INFLIGHT_BYTES (16 * 1024 * 1024)
#define STATE_ENV_MAX 256

typedef struct {
    char t[4][96]; /* agent, run, workspace, and one extra (metrics) */
    const char *v[4];
    size_t n;
} topics_t;

#define REPLAY_BYTES (64 * 1024)
/* Plain output lines read in one loop iteration go out as one agent_output
 * event (a line at a time when that is all there is). */
#define LIVE_BYTES (64 * 1024)
/* Events published and not yet in the events table: past this, plain
 * output is not streamed live (it is still stored), so a flooding agent
 * cannot grow the bus without bound. The bus holds events a few ms to
 * commit them together, and at 10k lines/s a commit or two already spans
 * more than a hundred events: 4096 is about 0.4 s of lag at that rate
 * (about 1 MB of events), well past a healthy writer's. */
#define LIVE_BACKLOG_MAX 4096

struct ad_runner_tap {
    struct ad_runner_tap *next, *prev;
    struct run *run;
    ad_runner_raw_cb cb;
    void *ud;
};

typedef struct waiter {
    struct waiter *next;
    ad_runner_cb cb;
    void *ud;
} waiter_t;

typedef struct run {
    ad_runner_t *r;
    struct run *next;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    topics_t topics;
    ad_executor_t exec;
    bool stdin_json; /* claude stream-json input */
    bool accepts_input;
    ad_parser_t *parser;
    ad_recs_t recs;
    ad_proc_t *proc;
    uint64_t started_ns;
    ad_usage_t usage;
    double cost;
    int64_t turns;
    bool had_error;
    char reason[256];
    ad_buf_t out[2]; /* pending output text: stdout, stderr */
    json_t *batch;   /* messages not yet handed to the writer */
    size_t batch_bytes;
    uint64_t dropped; /* output messages not stored: the writer was behind */
    uv_timer_t flush;
    bool flush_init;
    waiter_t *stop_waiters;
    bool pty;
    ad_buf_t live[2]; /* plain output read this loop iteration */
    bool live_dirty;
    uint64_t live_dropped; /* bytes not streamed live */
    ad_buf_t replay;       /* the last raw terminal output, for new viewers */
    ad_runner_tap_t *taps;
} run_t;

struct ad_runner {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    ad_procs_t *procs;
    run_t *runs;
    size_t inflight_bytes;
    uv_check_t check; /* flushes live output after each poll phase */
    bool check_on;
};

/* ---- small helpers -------------------------------------------------------- */

/* A JSON string of bytes that may not be UTF-8: invalid sequences become
 * U+FFFD, so binary output never breaks an event or a row. */
static json_t *json_text(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j != NULL) {
        return j;
    }
    ad_buf_t b;
    ad_buf_init(&b, n * 3 + 16);
    (void)ad_utf8_repair(&b, s, n);
    j = json_stringn(b.data != NULL ? b.data : "", b.len);
    ad_buf_cleanup(&b);
    return j != NULL ? j : json_string("");
}

static void topics_init(topics_t *t, const char *agent_id, const char *run_id, const char *ws)
{
    t->n = 0;
    snprintf(t->t[t->n], sizeof(t->t[0]), "agent:%s", agent_id);
    t->n++;
    if (run_id != NULL && run_id[0] != '\0') {
        snprintf(t->t[t->n], sizeof(t->t[0]), "run:%s", run_id);
        t->n++;
    }
    if (ws != NULL && ws[0] != '\0') {
        snprintf(t->t[t->n], sizeof(t->t[0]), "workspace:%s", ws);
        t->n++;
    }
    for (size_t i = 0; i < t->n; i++) {
        t->v[i] = t->t[i];
    }
}

static void topics_copy(topics_t *dst, const topics_t *src)
{
    memcpy(dst, src, sizeof(*dst));
    for (size_t i = 0; i < dst->n; i++) {
        dst->v[i] = dst->t[i];
    }
}

/* Publishes and releases payload. */
static void publish(ad_runner_t *r, const topics_t *t, const char *type, json_t *payload)
{
    ad_bus_publish(r->bus, type, t->v, t->n, payload);
    json_decref(payload);
}

static void publish_status(ad_runner_t *r, const topics_t *t, const char *agent_id,
                           const char *status, const char *reason)
{
    publish(r, t, "agent_status",
            json_pack("{s:s, s:s, s:s?}", "agentId", agent_id, "status", status, "reason", reason));
}

static run_t *find_run(const ad_runner_t *r, const char *agent_id)
{
    for (run_t *run = r->runs; run != NULL; run = run->next) {
        if (strcmp(run->agent_id, agent_id) == 0) {
            return run;
        }
    }
    return NULL;
}

static void call_cb(ad_runner_cb cb, void *ud, int rc, json_t *result, const char *msg)
{
    if (cb != NULL) {
        cb(rc, result, msg, ud);
    }
}

/* ---- runtime updates of the agent row ------------------------------------- */

typedef struct {
    ad_runner_t *r;
    ad_runner_cb cb;
    void *ud;
    topics_t topics;
    char agent_id[AD_ID_MAX];
    char status[16]; /* published after the commit when set */
} rt_ctx_t;

static void on_runtime_done(int rc, json_t *result, void *ud)
{
    rt_ctx_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "agent update failed agent=%s error=%s", c->agent_id,
               ad_strerror(rc));
    } else if (c->status[0] != '\0') {
        publish_status(c->r, &c->topics, c->agent_id, c->status, NULL);
    }
    call_cb(c->cb, c->ud, rc, result, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(result);
    free(c);
}

/* Queues an agent runtime change; args is taken. */
static void flush_all(run_t *run);

static void runtime_update(run_t *run, json_t *args, const char *status, ad_runner_cb cb, void *ud)
{
    /* Writes keep the order of the output: what the agent said before this
     * change is stored before it (a client that sees `waiting` finds the
     * answer). */
    flush_all(run);
    rt_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    c->cb = cb;
    c->ud = ud;
    topics_copy(&c->topics, &run->topics);
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", run->agent_id);
    if (status != NULL) {
        snprintf(c->status, sizeof(c->status), "%s", status);
        json_object_set_new(args, "status", json_string(status));
    }
    json_object_set_new(args, "id", json_string(run->agent_id));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    ad_store_write(run->r->store, ad_store_op_agent_runtime, args, on_runtime_done, c);
}

/* ---- messages --------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    size_t bytes;
} batch_ctx_t;

static void on_batch_done(int rc, json_t *result, void *ud)
{
    batch_ctx_t *c = ud;
    c->r->inflight_bytes -= c->bytes;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "storing messages failed error=%s", ad_strerror(rc));
    }
    json_decref(result);
    free(c);
}

static size_t message_bytes(json_t *m)
{
    return json_string_length(json_object_get(m, "content")) +
           json_string_length(json_object_get(m, "toolOutput")) + 256;
}

static void flush_batch(run_t *run)
{
    if (run->batch == NULL || json_array_size(run->batch) == 0) {
        return;
    }
    ad_runner_t *r = run->r;
    if (r->inflight_bytes + run->batch_bytes > INFLIGHT_BYTES) {
        /* The writer is behind: live events still flow, but storage sheds
         * plain output rather than queueing without bound. Messages the
         * agent meant (assistant text, tools) are kept. */
        if (run->dropped == 0) {
            ad_log(AD_LOG_WARN, "runner", "writer behind, not storing some output agent=%s",
                   run->agent_id);
        }
        size_t i = 0;
        while (i < json_array_size(run->batch)) {
            json_t *m = json_array_get(run->batch, i);
            if (json_is_true(json_object_get(m, "_output"))) {
                run->batch_bytes -= message_bytes(m);
                json_array_remove(run->batch, i);
                run->dropped++;
            } else {
                i++;
            }
        }
        if (json_array_size(run->batch) == 0) {
            run->batch_bytes = 0;
            return;
        }
    }
    batch_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->bytes = run->batch_bytes;
    r->inflight_bytes += c->bytes;
    ad_store_write(r->store, ad_store_op_run_messages, json_pack("{s:O}", "messages", run->batch),
                   on_batch_done, c);
    json_decref(run->batch);
    run->batch = json_array();
    run->batch_bytes = 0;
}

static void on_flush_timer(uv_timer_t *t);

static void arm_flush(run_t *run)
{
    if (run->flush_init && !uv_is_active((uv_handle_t *)&run->flush)) {
        uv_timer_start(&run->flush, on_flush_timer, FLUSH_MS, 0);
    }
}

/* Builds a message row (createdAt in ms) and queues it. Returns the
 * message as the event shows it (createdAt RFC 3339): owned. */
static json_t *queue_message(run_t *run, const char *role, json_t *content, const ad_rec_t *rec,
                             char id_out[AD_ID_MAX])
{
    char id[AD_ID_MAX];
    ad_id_new("msg", id);
    int64_t now = ad_wall_ms();
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:b}", "id", id, "agentId", run->agent_id,
                          "runId", run->run_id, "role", role, "content", content, "tokenCount",
                          (json_int_t)(rec != NULL ? rec->token_count : 0), "isComplete",
                          rec != NULL ? rec->is_complete : true);
    if (rec != NULL && rec->tool_name != NULL) {
        json_object_set_new(m, "toolName", json_string(rec->tool_name));
    }
    if (rec != NULL && rec->json != NULL && rec->type == AD_REC_MESSAGE) {
        json_object_set(m, "toolInput", rec->json);
    }
    if (rec != NULL && rec->tool_output != NULL) {
        json_object_set_new(m, "toolOutput", json_text(rec->tool_output, strlen(rec->tool_output)));
    }
    json_t *ev = json_deep_copy(m);
    char ts[AD_TIME_MAX];
    ad_time_format(now, ts);
    json_object_set_new(ev, "createdAt", json_string(ts));
    json_object_set_new(m, "createdAt", json_integer(now));
    if (run->batch == NULL) {
        run->batch = json_array();
    }
    if (rec == NULL && strcmp(role, "user") != 0) {
        json_object_set_new(m, "_output", json_true()); /* may be shed */
    }
    run->batch_bytes += message_bytes(m);
    json_array_append_new(run->batch, m);
    if (json_array_size(run->batch) >= BATCH_MAX || run->batch_bytes >= BATCH_BYTES) {
        flush_batch(run);
    } else {
        arm_flush(run);
    }
    if (id_out != NULL) {
        memcpy(id_out, id, AD_ID_MAX);
    }
    return ev;
}

static void flush_output(run_t *run, int i)
{
    ad_buf_t *b = &run->out[i];
    if (b->len == 0) {
        return;
    }
    size_t n = b->len;
    if (b->data[n - 1] == '\n') {
        n--;
    }
    json_t *ev =
        queue_message(run, i == 0 ? "assistant" : "system", json_text(b->data, n), NULL, NULL);
    json_decref(ev); /* live output already went out as agent_output */
    if (b->cap > 2 * OUT_FLUSH_BYTES) {
        ad_buf_cleanup(b);
    } else {
        ad_buf_reset(b);
    }
}

static void add_output(run_t *run, int i, const char *line, size_t len)
{
    ad_buf_t *b = &run->out[i];
    if (b->len + len + 1 > OUT_FLUSH_BYTES && b->len > 0) {
        flush_output(run, i);
    }
    if (ad_buf_append(b, line, len) == 0) {
        ad_buf_putc(b, '\n');
    }
    if (b->len >= OUT_FLUSH_BYTES) {
        flush_output(run, i);
    }
    arm_flush(run);
}

static void flush_all(run_t *run)
{
    flush_output(run, 0);
    flush_output(run, 1);
    flush_batch(run);
}

static void on_flush_timer(uv_timer_t *t)
{
    flush_all(t->data);
}

/* ---- parser records --------------------------------------------------------- */

static void publish_output(run_t *run, const char *stream, const char *text, size_t len,
                           bool complete)
{
    publish(run->r, &run->topics, "agent_output",
            json_pack("{s:s, s:s, s:s, s:o, s:b}", "agentId", run->agent_id, "runId", run->run_id,
                      "stream", stream, "content", json_text(text, len), "isComplete", complete));
}

static void flush_live(run_t *run)
{
    if (!run->live_dirty) {
        return;
    }
    run->live_dirty = false;
    ad_bus_t *bus = run->r->bus;
    bool behind = bus != NULL && ad_bus_seq(bus) - ad_bus_persisted_seq(bus) > LIVE_BACKLOG_MAX;
    for (int i = 0; i < 2; i++) {
        ad_buf_t *b = &run->live[i];
        if (b->len == 0) {
            continue;
        }
        if (behind) {
            run->live_dropped += b->len;
        } else {
            if (run->live_dropped > 0) {
                char note[160];
                snprintf(note, sizeof(note),
                         "[agentd: %llu bytes of output were not streamed live (the event log was "
                         "behind); see the stored messages]",
                         (unsigned long long)run->live_dropped);
                publish_output(run, "system", note, strlen(note), true);
                run->live_dropped = 0;
            }
            publish_output(run, i == 0 ? "stdout" : "stderr", b->data, b->len - 1, true);
        }
        if (b->cap > 2 * LIVE_BYTES) {
            ad_buf_cleanup(b);
        } else {
            ad_buf_reset(b);
        }
    }
}

static void on_check(uv_check_t *h)
{
    ad_runner_t *r = h->data;
    for (run_t *run = r->runs; run != NULL; run = run->next) {
        flush_live(run);
    }
    uv_check_stop(h);
    r->check_on = false;
}

/* Queues a plain output line for the live stream (stream 0 stdout, 1
 * stderr); the line keeps its own agent_output when it comes alone. */
static void live_output(run_t *run, int i, const char *line, size_t len)
{
    ad_buf_t *b = &run->live[i];
    if (b->len > 0 && b->len + len + 1 > LIVE_BYTES) {
        flush_live(run);
    }
    if (ad_buf_append(b, line, len) == 0) {
        ad_buf_putc(b, '\n');
    }
    run->live_dirty = true;
    if (!run->r->check_on) {
        run->r->check_on = true;
        uv_check_start(&run->r->check, on_check);
    }
}

static void metric_point(json_t *points, const char *name, json_t *value, json_t *step, json_t *ts)
{
    if (!json_is_number(value)) {
        return;
    }
    json_t *pt = json_pack("{s:s, s:O}", "name", name, "value", value);
    if (json_is_integer(step)) {
        json_object_set(pt, "step", step);
    }
    if (ts != NULL) {
        json_object_set(pt, "ts", ts);
    }
    json_array_append_new(points, pt);
}

static void on_event_rec(run_t *run, const ad_rec_t *rec)
{
    const char *type = rec->subtype;
    json_t *obj = rec->json;
    if (strcmp(type, "metric") == 0 || strcmp(type, "metrics") == 0) {
        json_t *points = json_array();
        json_t *step = json_object_get(obj, "step");
        json_t *ts = json_object_get(obj, "ts");
        if (strcmp(type, "metric") == 0) {
            const char *name = json_string_value(json_object_get(obj, "name"));
            if (name != NULL) {
                metric_point(points, name, json_object_get(obj, "value"), step, ts);
            }
        } else {
            json_t *vals = json_object_get(obj, "values");
            if (!json_is_object(vals)) {
                vals = json_object_get(obj, "metrics");
            }
            const char *k;
            json_t *v;
            json_object_foreach(vals, k, v)
            {
                metric_point(points, k, v, step, ts);
            }
        }
        topics_t t;
        topics_copy(&t, &run->topics);
        snprintf(t.t[t.n], sizeof(t.t[0]), "metrics:%s", run->run_id);
        t.v[t.n] = t.t[t.n];
        t.n++;
        publish(run->r, &t, "metrics_update",
                json_pack("{s:s, s:s, s:o}", "agentId", run->agent_id, "runId", run->run_id,
                          "points", points));
        return;
    }
    if (strcmp(type, "agent_update") == 0) {
        json_t *patch = json_object_get(obj, "state");
        patch = json_is_object(patch) ? json_deep_copy(patch) : json_deep_copy(obj);
        json_object_del(patch, "type");
        publish(run->r, &run->topics, "agent_update",
                json_pack("{s:s, s:O}", "id", run->agent_id, "state", patch));
        runtime_update(run, json_pack("{s:o}", "statePatch", patch), NULL, NULL, NULL);
        return;
    }
    /* tool_start / tool_progress / tool_end: as given, with who sent it */
    json_t *p = json_deep_copy(obj);
    json_object_del(p, "type");
    if (json_object_get(p, "agentId") == NULL) {
        json_object_set_new(p, "agentId", json_string(run->agent_id));
    }
    if (json_object_get(p, "runId") == NULL) {
        json_object_set_new(p, "runId", json_string(run->run_id));
    }
    publish(run->r, &run->topics, type, p);
}

static void on_rec(run_t *run, const ad_rec_t *rec)
{
    ad_runner_t *r = run->r;
    if (rec->type != AD_REC_OUTPUT) {
        flush_live(run); /* events keep the order the agent wrote them in */
    }
    switch (rec->type) {
    case AD_REC_OUTPUT: {
        size_t n = rec->text != NULL ? strlen(rec->text) : 0;
        live_output(run, 0, rec->text != NULL ? rec->text : "", n);
        add_output(run, 0, rec->text != NULL ? rec->text : "", n);
        break;
    }
    case AD_REC_DELTA:
        if (rec->text != NULL) {
            publish_output(run, "stdout", rec->text, strlen(rec->text), false);
        }
        break;
    case AD_REC_SESSION:
        if (rec->session_id != NULL) {
            publish(r, &run->topics, "agent_update",
                    json_pack("{s:s, s:s}", "id", run->agent_id, "sessionId", rec->session_id));
            runtime_update(run, json_pack("{s:s}", "sessionId", rec->session_id), NULL, NULL, NULL);
        }
        break;
    case AD_REC_MESSAGE: {
        flush_output(run, 0);
        flush_output(run, 1);
        const char *text = rec->text != NULL ? rec->text : "";
        json_t *ev =
            queue_message(run, ad_role_name(rec->role), json_text(text, strlen(text)), rec, NULL);
        publish(r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
        break;
    }
    case AD_REC_TOOL_START:
        publish(r, &run->topics, "tool_start",
                json_pack("{s:s?, s:s?, s:O?, s:s, s:s, s:n}", "toolId", rec->tool_id, "name",
                          rec->tool_name, "params", rec->json, "agentId", run->agent_id, "runId",
                          run->run_id, "crewId"));
        break;
    case AD_REC_TOOL_END:
        publish(r, &run->topics, "tool_end",
                json_pack("{s:s?, s:I, s:s, s:i, s:s, s:s}", "toolId", rec->tool_id, "durationMs",
                          (json_int_t)rec->duration_ms, "status",
                          rec->is_error ? "error" : "success", "exitCode", rec->exit_code,
                          "agentId", run->agent_id, "runId", run->run_id));
        break;
    case AD_REC_RESULT:
        run->usage.input_tokens += rec->usage.input_tokens;
        run->usage.output_tokens += rec->usage.output_tokens;
        run->usage.cache_creation_tokens += rec->usage.cache_creation_tokens;
        run->usage.cache_read_tokens += rec->usage.cache_read_tokens;
        run->cost = rec->total_cost_usd >= 0 ? rec->total_cost_usd : run->cost + rec->cost_usd;
        run->turns += rec->num_turns;
        {
            /* usage_stats: one request's worth per finished turn */
            ad_usage_rec_t u = {
                .model = rec->model != NULL ? rec->model : ad_parser_model(run->parser),
                .input_tokens = rec->usage.input_tokens,
                .output_tokens = rec->usage.output_tokens,
                .cache_read_tokens = rec->usage.cache_read_tokens,
                .cache_write_tokens = rec->usage.cache_creation_tokens,
                .cost_usd = rec->cost_usd > 0 ? rec->cost_usd : 0,
                .error = rec->is_error,
            };
            ad_store_usage_record(r->store, &u, NULL, NULL);
        }
        if (rec->is_error) {
            run->had_error = true;
            snprintf(run->reason, sizeof(run->reason), "%s",
                     rec->text != NULL ? rec->text : "the agent reported an error");
        } else {
            run->had_error = false;
            run->reason[0] = '\0';
        }
        if (ad_proc_alive(run->proc)) {
            /* A finished turn with the process alive waits for input. */
            runtime_update(run, json_object(), rec->is_error ? "error" : "waiting", NULL, NULL);
        }
        break;
    case AD_REC_NOTICE:
        if (rec->text != NULL) {
            publish_output(run, "system", rec->text, strlen(rec->text), true);
        }
        break;
    case AD_REC_CONTEXT:
        publish(r, &run->topics, "agent_context",
                json_pack("{s:s, s:i}", "agentId", run->agent_id, "level", rec->level));
        runtime_update(run, json_pack("{s:i}", "contextLevel", rec->level), NULL, NULL, NULL);
        break;
    case AD_REC_EVENT:
        if (rec->subtype != NULL && rec->json != NULL) {
            on_event_rec(run, rec);
        }
        break;
    }
}

static void handle_recs(run_t *run)
{
    for (size_t i = 0; i < run->recs.n; i++) {
        on_rec(run, &run->recs.v[i]);
    }
    ad_recs_clear(&run->recs);
}

static void on_proc_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                         bool truncated, void *ud)
{
    run_t *run = ud;
    if (stream == AD_PROC_STDERR) {
        live_output(run, 1, line, len);
        add_output(run, 1, line, len);
        return;
    }
    ad_parser_feed(run->parser, line, len, uv_now(run->r->loop), &run->recs);
    handle_recs(run);
}

static void on_proc_data(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t len,
                         void *ud)
{
    run_t *run = ud;
    if (len >= REPLAY_BYTES) {
        ad_buf_reset(&run->replay);
        ad_buf_append(&run->replay, data + len - REPLAY_BYTES, REPLAY_BYTES);
    } else {
        if (run->replay.len + len > REPLAY_BYTES) {
            ad_buf_consume(&run->replay, run->replay.len + len - REPLAY_BYTES);
        }
        ad_buf_append(&run->replay, data, len);
    }
    for (ad_runner_tap_t *t = run->taps, *next; t != NULL; t = next) {
        next = t->next; /* a viewer may detach itself */
        t->cb(data, len, t->ud);
    }
}

int ad_runner_tap(ad_runner_t *r, const char *agent_id, ad_runner_raw_cb cb, void *ud,
                  ad_runner_tap_t **out)
{
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    if (!run->pty) {
        return AD_ESTATE;
    }
    ad_runner_tap_t *t = ad_xcalloc(1, sizeof(*t));
    t->run = run;
    t->cb = cb;
    t->ud = ud;
    t->next = run->taps;
    if (run->taps != NULL) {
        run->taps->prev = t;
    }
    run->taps = t;
    *out = t;
    if (run->replay.len > 0) {
        cb(run->replay.data, run->replay.len, ud);
    }
    return 0;
}

void ad_runner_untap(ad_runner_tap_t *t)
{
    if (t == NULL) {
        return;
    }
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        t->run->taps = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    free(t);
}

/* ---- exit -------------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    topics_t topics;
    char agent_id[AD_ID_MAX];
    char agent_status[16];
    char reason[256];
    int code, sig;
    waiter_t *waiters;
} end_ctx_t;

static void on_end_done(int rc, json_t *result, void *ud)
{
    end_ctx_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "runner", "recording run end failed agent=%s error=%s", c->agent_id,
               ad_strerror(rc));
    }
    json_t *exit = json_pack("{s:s}", "agentId", c->agent_id);
    json_object_set_new(exit, "code", c->code >= 0 ? json_integer(c->code) : json_null());
    json_object_set_new(exit, "signal", c->sig > 0 ? json_integer(c->sig) : json_null());
    publish(c->r, &c->topics, "agent_exit", exit);
    publish_status(c->r, &c->topics, c->agent_id, c->agent_status,
                   c->reason[0] != '\0' ? c->reason : NULL);
    json_t *agent = json_object_get(result, "agent");
    json_t *reply = agent != NULL ? json_pack("{s:O}", "agent", agent) : NULL;
    for (waiter_t *w = c->waiters, *next; w != NULL; w = next) {
        next = w->next;
        call_cb(w->cb, w->ud, rc, reply, rc != 0 ? ad_strerror(rc) : NULL);
        free(w);
    }
    json_decref(reply);
    json_decref(result);
    free(c);
}

static void on_run_closed(uv_handle_t *h)
{
    run_t *run = h->data;
    ad_buf_cleanup(&run->replay);
    ad_buf_cleanup(&run->live[0]);
    ad_buf_cleanup(&run->live[1]);
    ad_buf_cleanup(&run->out[0]);
    ad_buf_cleanup(&run->out[1]);
    json_decref(run->batch);
    ad_recs_cleanup(&run->recs);
    ad_parser_free(run->parser);
    free(run);
}

static void run_release(run_t *run)
{
    ad_runner_t *r = run->r;
    for (run_t **pp = &r->runs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == run) {
            *pp = run->next;
            break;
        }
    }
    if (run->flush_init) {
        uv_close((uv_handle_t *)&run->flush, on_run_closed);
    } else {
        on_run_closed((uv_handle_t *)&run->flush);
    }
}

static void on_proc_exit(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    run_t *run = ud;
    ad_runner_t *r = run->r;
    run->proc = NULL;
    ad_parser_finish(run->parser, uv_now(r->loop), &run->recs);
    handle_recs(run);
    flush_live(run);
    ad_usage_t pending;
    ad_parser_pending_usage(run->parser, &pending);
    run->usage.input_tokens += pending.input_tokens;
    run->usage.output_tokens += pending.output_tokens;
    run->usage.cache_creation_tokens += pending.cache_creation_tokens;
    run->usage.cache_read_tokens += pending.cache_read_tokens;
    flush_all(run);

    const char *status, *agent_status;
    char reason[256] = "";
    if (ex->lost) {
        status = "lost";
        agent_status = "error";
        snprintf(reason, sizeof(reason), "lost: the process could not be reaped");
    } else if (ex->stop_requested) {
        status = "stopped";
        agent_status = "finished";
    } else if (ex->exit_code == 0 && !run->had_error) {
        status = "succeeded";
        agent_status = "finished";
    } else {
        status = "failed";
        agent_status = "error";
        if (run->had_error) {
            snprintf(reason, sizeof(reason), "%s", run->reason);
        } else if (ex->term_signal > 0) {
            snprintf(reason, sizeof(reason), "killed by signal %d (%s)", ex->term_signal,
                     strsignal(ex->term_signal));
        } else {
            snprintf(reason, sizeof(reason), "exited with code %d", ex->exit_code);
        }
    }
    if (run->dropped > 0) {
        ad_log(AD_LOG_WARN, "runner", "output messages not stored agent=%s count=%llu",
               run->agent_id, (unsigned long long)run->dropped);
        char note[160];
        snprintf(note, sizeof(note),
                 "[agentd: %llu blocks of output were shown live but not stored: the database "
                 "could not keep up]",
                 (unsigned long long)run->dropped);
        ad_rec_t fake;
        memset(&fake, 0, sizeof(fake));
        fake.is_complete = true;
        json_decref(queue_message(run, "system", json_string(note), &fake, NULL));
        flush_batch(run);
    }
    int64_t duration = (int64_t)((ad_mono_ns() - run->started_ns) / 1000000u);
    ad_log(AD_LOG_INFO, "runner", "run ended agent=%s run=%s status=%s code=%d signal=%d",
           run->agent_id, run->run_id, status, ex->exit_code, ex->term_signal);

    end_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    topics_copy(&c->topics, &run->topics);
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", run->agent_id);
    snprintf(c->agent_status, sizeof(c->agent_status), "%s", agent_status);
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    c->code = ex->exit_code;
    c->sig = ex->term_signal;
    c->waiters = run->stop_waiters;
    run->stop_waiters = NULL;
    json_t *args = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:I}", "id", run->run_id,
        "agentId", run->agent_id, "now", (json_int_t)ad_wall_ms(), "status", status, "agentStatus",
        agent_status, "durationMs", (json_int_t)duration, "inputTokens",
        (json_int_t)run->usage.input_tokens, "outputTokens", (json_int_t)run->usage.output_tokens,
        "cacheReadTokens", (json_int_t)run->usage.cache_read_tokens, "cacheWriteTokens",
        (json_int_t)run->usage.cache_creation_tokens, "costUsd", run->cost, "numTurns",
        (json_int_t)run->turns);
    if (ex->exit_code >= 0) {
        json_object_set_new(args, "exitCode", json_integer(ex->exit_code));
    }
    if (ex->term_signal > 0) {
        json_object_set_new(args, "signal", json_integer(ex->term_signal));
    }
    if (reason[0] != '\0') {
        json_object_set_new(args, "reason", json_string(reason));
    }
    ad_store_write(r->store, ad_store_op_run_end, args, on_end_done, c);
    while (run->taps != NULL) {
        ad_runner_tap_t *t = run->taps;
        run->taps = t->next;
        t->cb(NULL, 0, t->ud);
        free(t);
    }
    run_release(run);
}

/* ---- start -------------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    ad_runner_cb cb;
    void *ud;
    topics_t topics;
    char agent_id[AD_ID_MAX];
} start_ctx_t;

static void on_start_done(int rc, json_t *result, void *ud)
{
    start_ctx_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "runner", "recording run start failed agent=%s error=%s", c->agent_id,
               ad_strerror(rc));
        run_t *run = find_run(c->r, c->agent_id);
        if (run != NULL && run->proc != NULL) {
            ad_proc_stop(run->proc, true);
        }
        call_cb(c->cb, c->ud, rc, NULL, "the run could not be recorded");
    } else {
        publish_status(c->r, &c->topics, c->agent_id, "running", NULL);
        json_t *reply = json_pack("{s:O}", "agent", json_object_get(result, "agent"));
        call_cb(c->cb, c->ud, 0, reply, NULL);
        json_decref(reply);
    }
    json_decref(result);
    free(c);
}

/* Strings of a JSON array (borrowed from it); NULL entries for non-strings. */
static const char **str_array(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    const char **v = ad_xcalloc(*n + 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        v[i] = json_string_value(json_array_get(a, i));
        if (v[i] == NULL) {
            v[i] = "";
        }
    }
    return v;
}

int ad_runner_start(ad_runner_t *r, const char *agent_id, const char *prompt, ad_runner_cb cb,
                    void *ud, char *err, size_t errsz)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    err[0] = '\0';
    json_t *agent = NULL;
    const char **perms = NULL, **cmd = NULL, **env = NULL;
    ad_launch_t launch;
    memset(&launch, 0, sizeof(launch));
    run_t *run = NULL;
    char ws[AD_ID_MAX], path[4096];
    int rc;

    if (find_run(r, agent_id) != NULL) {
        snprintf(err, errsz, "agent %s is already running", agent_id);
        return AD_ESTATE;
    }
    rc = ad_store_runs_agent_get(r->store, agent_id, &agent, ws, path, sizeof(path));
    if (rc != 0) {
        snprintf(err, errsz, "agent %s not found", agent_id);
        return rc;
    }
    if (json_object_get(agent, "deletedAt") != NULL) {
        snprintf(err, errsz, "agent %s is archived; restore it first", agent_id);
        rc = AD_ESTATE;
        goto out;
    }
    ad_agent_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    if (ad_executor_parse(json_string_value(json_object_get(agent, "executor")), &spec.executor) !=
            0 ||
        ad_agent_mode_parse(json_string_value(json_object_get(agent, "mode")), &spec.mode) != 0) {
        snprintf(err, errsz, "agent %s has an unknown executor or mode", agent_id);
        rc = AD_EINVAL;
        goto out;
    }
    json_t *state = json_object_get(agent, "state");
    perms = str_array(json_object_get(agent, "permissions"), &spec.npermissions);
    spec.permissions = perms;
    spec.session_id = json_string_value(json_object_get(agent, "sessionId"));
    spec.model = json_string_value(json_object_get(state, "model"));
    spec.prompt = prompt;
    cmd = str_array(json_object_get(state, "command"), &spec.ncommand);
    spec.command = cmd;
    rc = ad_launch_build(&spec, r->cfg, getenv("PATH"), &launch, err, errsz);
    if (rc != 0) {
        rc = AD_EINVAL; /* 422: the agent cannot be started as configured */
        goto out;
    }
    if (path[0] == '\0') {
        snprintf(err, errsz, "agent %s has no worktree directory", agent_id);
        rc = AD_EINVAL;
        goto out;
    }

    /* environment: the executor's, then state.env */
    json_t *senv = json_object_get(state, "env");
    size_t nenv = 0;
    env = ad_xcalloc(launch.nenv + STATE_ENV_MAX + 1, sizeof(char *));
    for (size_t i = 0; i < launch.nenv; i++) {
        env[nenv++] = launch.env[i];
    }
    const char *k;
    json_t *v;
    json_object_foreach(senv, k, v)
    {
        if (nenv >= launch.nenv + STATE_ENV_MAX || !json_is_string(v)) {
            continue;
        }
        size_t len = strlen(k) + json_string_length(v) + 2;
        char *e = ad_xmalloc(len);
        snprintf(e, len, "%s=%s", k, json_string_value(v));
        env[nenv++] = e;
    }

    run = ad_xcalloc(1, sizeof(*run));
    run->r = r;
    run->flush.data = run;
    snprintf(run->agent_id, sizeof(run->agent_id), "%s", agent_id);
    ad_id_new("run", run->run_id);
    topics_init(&run->topics, agent_id, run->run_id, ws);
    run->exec = spec.executor;
    run->stdin_json = spec.executor == AD_EXEC_CLAUDE;
    run->parser = ad_parser_new(spec.executor);
    ad_recs_init(&run->recs);
    ad_buf_init(&run->out[0], OUT_FLUSH_BYTES + AD_PARSER_OUTPUT_MAX + 64);
    ad_buf_init(&run->out[1], OUT_FLUSH_BYTES + (size_t)r->cfg->max_line_bytes + 64);
    ad_buf_init(&run->live[0], LIVE_BYTES + AD_PARSER_OUTPUT_MAX + 64);
    ad_buf_init(&run->live[1], LIVE_BYTES + (size_t)r->cfg->max_line_bytes + 64);

    const char *stop_with = json_string_value(json_object_get(state, "stopWith"));
    ad_proc_opts_t o;
    memset(&o, 0, sizeof(o));
    o.argv = (const char *const *)launch.argv;
    o.cwd = path;
    o.env = (const char *const *)env;
    o.pty = json_is_true(json_object_get(state, "terminal"));
    o.polite = spec.executor == AD_EXEC_COMMAND  ? AD_PROC_POLITE_SIGINT
               : spec.executor == AD_EXEC_CLAUDE ? AD_PROC_POLITE_SIGINT_CLOSE
                                                 : AD_PROC_POLITE_CLOSE_STDIN;
    if (stop_with != NULL) {
        o.polite = strcmp(stop_with, "stdin") == 0  ? AD_PROC_POLITE_CLOSE_STDIN
                   : strcmp(stop_with, "none") == 0 ? AD_PROC_POLITE_NONE
                                                    : AD_PROC_POLITE_SIGINT;
    }
    o.term_grace_ms = r->cfg->stop_grace_ms > 0 ? r->cfg->stop_grace_ms : 1;
    o.kill_grace_ms = o.term_grace_ms;
    o.max_line_bytes = (size_t)r->cfg->max_line_bytes;
    o.on_line = on_proc_line;
    o.on_data = o.pty ? on_proc_data : NULL;
    o.on_exit = on_proc_exit;
    run->pty = o.pty;
    ad_buf_init(&run->replay, REPLAY_BYTES);
    o.ud = run;
    rc = ad_proc_spawn(r->procs, &o, &run->proc, err, errsz);
    if (rc != 0) {
        rc = rc == AD_ESTATE ? AD_ESTATE : AD_EINVAL;
        goto out;
    }
    uv_timer_init(r->loop, &run->flush);
    run->flush.data = run;
    run->flush_init = true;
    run->started_ns = ad_mono_ns();
    run->accepts_input = launch.interactive || spec.executor == AD_EXEC_COMMAND;
    if (launch.stdin_data != NULL && launch.stdin_len > 0) {
        ad_proc_write(run->proc, launch.stdin_data, launch.stdin_len);
    }
    if (!run->accepts_input) {
        ad_proc_close_stdin(run->proc);
    }
    if (prompt != NULL && prompt[0] != '\0') {
        json_t *ev = queue_message(run, "user", json_text(prompt, strlen(prompt)), NULL, NULL);
        publish(r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
        if (spec.executor == AD_EXEC_COMMAND) {
            ad_proc_write(run->proc, prompt, strlen(prompt));
            ad_proc_write(run->proc, "\n", 1);
        }
    }
    run->next = r->runs;
    r->runs = run;
    ad_log(AD_LOG_INFO, "runner", "run started agent=%s run=%s pid=%ld executor=%s", agent_id,
           run->run_id, (long)ad_proc_pid(run->proc), ad_executor_name(spec.executor));

    start_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    topics_copy(&c->topics, &run->topics);
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
    /* The run row goes to the writer before any message of the run, so the
     * messages' foreign key holds (the writer keeps submission order). */
    json_t *args = json_pack("{s:s, s:s, s:I, s:I}", "id", run->run_id, "agentId", agent_id, "now",
                             (json_int_t)ad_wall_ms(), "pid", (json_int_t)ad_proc_pid(run->proc));
    json_t *pending = run->batch;
    run->batch = NULL;
    ad_store_write(r->store, ad_store_op_run_start, args, on_start_done, c);
    run->batch = pending;
    flush_batch(run);
    run = NULL;
    rc = 0;
out:
    if (run != NULL) {
        ad_buf_cleanup(&run->replay);
        ad_buf_cleanup(&run->live[0]);
        ad_buf_cleanup(&run->live[1]);
        ad_buf_cleanup(&run->out[0]);
        ad_buf_cleanup(&run->out[1]);
        json_decref(run->batch);
        ad_recs_cleanup(&run->recs);
        ad_parser_free(run->parser);
        free(run);
    }
    if (env != NULL) {
        for (size_t i = launch.nenv; env[i] != NULL; i++) {
            free((char *)env[i]);
        }
        free(env);
    }
    free(perms);
    free(cmd);
    ad_launch_cleanup(&launch);
    json_decref(agent);
    return rc;
}

/* ---- stop, pause, resume, input ------------------------------------------------ */

int ad_runner_stop(ad_runner_t *r, const char *agent_id, bool force, ad_runner_cb cb, void *ud)
{
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    waiter_t *w = ad_xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->ud = ud;
    w->next = run->stop_waiters;
    run->stop_waiters = w;
    ad_log(AD_LOG_INFO, "runner", "stopping agent=%s force=%d", agent_id, force);
    ad_proc_stop(run->proc, force);
    return 0;
}

int ad_runner_pause(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud)
{
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    int rc = ad_proc_pause(run->proc);
    if (rc == 0) {
        runtime_update(run, json_object(), "paused", cb, ud);
    }
    return rc;
}

int ad_runner_resume(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud)
{
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    int rc = ad_proc_resume(run->proc);
    if (rc == 0) {
        runtime_update(run, json_object(), "running", cb, ud);
    }
    return rc;
}

typedef struct {
    ad_runner_cb cb;
    void *ud;
    char id[AD_ID_MAX];
} msg_ctx_t;

static void on_message_done(int rc, json_t *result, void *ud)
{
    msg_ctx_t *c = ud;
    json_t *reply =
        json_pack("{s:s, s:s, s:b}", "messageId", c->id, "status", "sent", "running", true);
    call_cb(c->cb, c->ud, rc, rc == 0 ? reply : NULL, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(reply);
    json_decref(result);
    free(c);
}

int ad_runner_message(ad_runner_t *r, const char *agent_id, const char *content, ad_runner_cb cb,
                      void *ud, char *err, size_t errsz)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL || !run->accepts_input) {
        snprintf(err, errsz, "agent %s is not running or cannot take input", agent_id);
        return AD_ESTATE;
    }
    json_t *text = json_string(content);
    if (text == NULL) {
        snprintf(err, errsz, "content is not valid UTF-8");
        return AD_EINVAL;
    }
    int rc;
    if (run->stdin_json) {
        size_t len = 0;
        char *line = ad_claude_user_line(content, &len);
        rc = line != NULL ? ad_proc_write(run->proc, line, len) : AD_EINVAL;
        free(line);
    } else {
        size_t len = strlen(content);
        rc = ad_proc_write(run->proc, content, len);
        if (rc == 0) {
            rc = ad_proc_write(run->proc, "\n", 1);
        }
    }
    if (rc != 0) {
        json_decref(text);
        snprintf(err, errsz, "%s",
                 rc == AD_ETOOBIG ? "the agent's input queue is full"
                                  : "the agent's input is closed");
        return rc == AD_ETOOBIG ? AD_ETOOBIG : AD_ESTATE;
    }
    flush_all(run);
    msg_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->ud = ud;
    json_t *ev = queue_message(run, "user", text, NULL, c->id);
    publish(r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
    /* the message alone, so its completion is its own */
    json_t *batch = run->batch;
    run->batch = NULL;
    run->batch_bytes = 0;
    ad_store_write(r->store, ad_store_op_run_messages, json_pack("{s:o}", "messages", batch),
                   on_message_done, c);
    runtime_update(run, json_object(), "running", NULL, NULL);
    return 0;
}

bool ad_runner_is_running(const ad_runner_t *r, const char *agent_id)
{
    const run_t *run = find_run(r, agent_id);
    return run != NULL && run->proc != NULL;
}

int ad_runner_resize(ad_runner_t *r, const char *agent_id, uint16_t rows, uint16_t cols)
{
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    return ad_proc_resize(run->proc, rows, cols);
}

int ad_runner_write_raw(ad_runner_t *r, const char *agent_id, const void *data, size_t len)
{
    run_t *run = find_run(r, agent_id);
    if (run == NULL || run->proc == NULL) {
        return AD_ENOENT;
    }
    return ad_proc_write(run->proc, data, len);
}

/* ---- reconcile and life cycle ----------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    ad_runner_cb cb;
    void *ud;
} rec_ctx_t;

#define LOST_REASON "lost: agentd stopped while the run was active"

static void on_reconciled(int rc, json_t *result, void *ud)
{
    rec_ctx_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "runner", "reconciling runs failed error=%s", ad_strerror(rc));
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(result, "agents"), i, a)
        {
            const char *id = json_string_value(json_object_get(a, "id"));
            if (id == NULL) {
                continue;
            }
            topics_t t;
            topics_init(&t, id, NULL, NULL);
            publish_status(c->r, &t, id, "error", LOST_REASON);
        }
        size_t n = json_array_size(json_object_get(result, "runs"));
        if (n > 0) {
            ad_log(AD_LOG_WARN, "runner", "marked runs lost count=%zu", n);
        }
    }
    call_cb(c->cb, c->ud, rc, result, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(result);
    free(c);
}

void ad_runner_reconcile(ad_runner_t *r, ad_runner_cb cb, void *ud)
{
    rec_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    ad_store_write(r->store, ad_store_op_runs_reconcile,
                   json_pack("{s:I, s:s}", "now", (json_int_t)ad_wall_ms(), "reason", LOST_REASON),
                   on_reconciled, c);
}

ad_runner_t *ad_runner_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store,
                           ad_bus_t *bus, ad_procs_t *procs)
{
    ad_runner_t *r = ad_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->cfg = cfg;
    r->store = store;
    r->bus = bus;
    r->procs = procs;
    uv_check_init(loop, &r->check);
    r->check.data = r;
    return r;
}

static void on_runner_closed(uv_handle_t *h)
{
    free(h->data);
}

void ad_runner_free(ad_runner_t *r)
{
    if (r == NULL) {
        return;
    }
    /* Runs still here had their processes killed by ad_procs_free() without
     * an exit callback: nothing more can be recorded for them (the next
     * start reconciles them as lost). */
    while (r->runs != NULL) {
        run_t *run = r->runs;
        for (waiter_t *w = run->stop_waiters, *next; w != NULL; w = next) {
            next = w->next;
            free(w);
        }
        run->stop_waiters = NULL;
        while (run->taps != NULL) {
            ad_runner_tap_t *t = run->taps;
            run->taps = t->next;
            free(t);
        }
        run_release(run);
    }
    uv_close((uv_handle_t *)&r->check, on_runner_closed);
}
