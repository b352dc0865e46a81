/* SPDX-License-Identifier: MIT */
/*
 * What a run says: the executor's parser turns stdout lines into records
 * (agent.h); records become bus events, and messages that are batched to
 * the writer (plain output coalesced into blocks; batch.c hands them over). Plain output also goes
 * out live, a loop turn's worth per event. Terminal output is kept for
 * viewers (taps). What a record means is the parser's business; SQL is the
 * store's.
 */
#include "run/features.h"
#include "run/run_int.h"
#include "tables/series.h"
#include "tables/stats.h"
#include "tables/usage.h"

#include <stdlib.h>
#include <string.h>

static void flush_output(ad_run_t *run, int i);

/* Plain output is stored on one of OUT_PHASES ticks a second, the same ones
 * for every run: the runs sharing a tick fire in the same loop turn, and
 * what they queue reaches the writer as one group (one transaction, each
 * page it touches written once) instead of one small transaction a run.
 * Spreading the runs over a few ticks keeps that turn short, so lines that
 * arrive meanwhile are not held up behind a thousand runs' rows. */
#define OUT_PHASES 10

static uint64_t out_phase(const ad_run_t *run)
{
    unsigned h = 0;
    for (const char *p = run->run_id; *p != '\0'; p++) {
        h = h * 31u + (unsigned char)*p;
    }
    return (uint64_t)(h % OUT_PHASES) * (AD_RUN_OUT_FLUSH_MS / OUT_PHASES);
}

/* The first moment after now that is `phase` ms past a multiple of `every`. */
static uint64_t next_tick(uint64_t now, uint64_t every, uint64_t phase)
{
    if (now < phase) {
        return phase;
    }
    uint64_t t = now - phase;
    return t - t % every + every + phase;
}

static void on_flush_timer(uv_timer_t *t);

/* The timer for the plain output's tick (out_due). */
static void arm_out(ad_run_t *run, uint64_t now)
{
    uv_timer_start(&run->msgs.flush, on_flush_timer,
                   run->msgs.out_due > now ? run->msgs.out_due - now : 1, 0);
}

/* Messages go to the writer; plain output once its tick has come (the
 * timer comes back for it then). */
static void on_flush_timer(uv_timer_t *t)
{
    ad_run_t *run = t->data;
    uint64_t now = uv_now(run->r->loop);
    if (now >= run->msgs.out_due) {
        flush_output(run, 0);
        flush_output(run, 1);
    }
    ad_run_flush_batch(run, NULL, NULL);
    if (run->msgs.out[0].len > 0 || run->msgs.out[1].len > 0) {
        arm_out(run, now);
    } else if (run->msgs.batch.n == 0) {
        uv_timer_stop(&run->msgs.flush); /* the output's own message armed it: stored already */
    }
}

/* A message is stored by the next AD_RUN_FLUSH_MS tick, even while the timer
 * waits longer for plain output. */
static void arm_flush(ad_run_t *run)
{
    uint64_t now = uv_now(run->r->loop);
    uint64_t due = next_tick(now, AD_RUN_FLUSH_MS, 0);
    if (run->msgs.flush_init && (!uv_is_active((uv_handle_t *)&run->msgs.flush) ||
                                 uv_timer_get_due_in(&run->msgs.flush) > due - now)) {
        uv_timer_start(&run->msgs.flush, on_flush_timer, due - now, 0);
    }
}

static char *repaired(const char *s, size_t n)
{
    ad_buf_t b;
    ad_buf_init(&b, 3 * n + 1);
    /* Sized for the worst case (every byte a 3-byte U+FFFD): cannot fail. */
    AD_DISCARD(ad_utf8_repair(&b, s, n));
    char *out = b.data != NULL ? ad_buf_detach(&b, NULL) : ad_xstrdup("");
    ad_buf_cleanup(&b);
    return out;
}

/* The message as a message_created event shows it: the row's object, with
 * the tool input as the JSON the agent gave. */
static json_t *message_event(const ad_run_t *run, const ad_run_msg_t *m, const ad_rec_t *rec)
{
    ad_store_message_t row = {.id = m->id,
                              .agent_id = run->agent_id,
                              .run_id = run->run_id,
                              .role = m->role,
                              .content = m->content,
                              .tool_name = m->tool_name,
                              .tool_output = m->tool_output,
                              .token_count = m->token_count,
                              .is_complete = m->is_complete,
                              .is_error = m->is_error,
                              .now = m->now};
    json_t *ev = ad_store_message_json(&row);
    if (m->tool_input != NULL) {
        json_object_set(ev, "toolInput", rec->json);
    }
    return ev;
}

json_t *ad_run_queue_message(ad_run_t *run, const char *role, const char *text, size_t len,
                             const ad_rec_t *rec, char id_out[AD_ID_MAX])
{
    return ad_run_queue_message_as(run, NULL, 0, role, text, len, rec, id_out);
}

/* Queues the message; its event when `event` (the caller owns it), else NULL. */
static json_t *queue_message(ad_run_t *run, const char *id, int64_t at, const char *role,
                             const char *text, size_t len, const ad_rec_t *rec,
                             char id_out[AD_ID_MAX], bool event)
{
    ad_run_batch_t *b = &run->msgs.batch;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = ad_xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    ad_run_msg_t *m = &b->v[b->n];
    memset(m, 0, sizeof(*m));
    if (id != NULL) {
        snprintf(m->id, sizeof(m->id), "%s", id);
        m->replace = true;
    } else {
        ad_id_new("msg", m->id);
    }
    m->role = role;
    m->now = at > 0 ? at : ad_wall_ms();
    m->content = repaired(text, len);
    m->token_count = rec != NULL ? rec->token_count : 0;
    m->is_complete = rec != NULL ? rec->is_complete : true;
    m->is_error = rec != NULL && rec->is_error;
    if (rec != NULL && rec->tool_name != NULL) {
        m->tool_name = ad_xstrdup(rec->tool_name);
    }
    if (rec != NULL && rec->json != NULL && rec->type == AD_REC_MESSAGE) {
        m->tool_input = json_dumps(rec->json, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (rec != NULL && rec->tool_output != NULL) {
        m->tool_output = repaired(rec->tool_output, strlen(rec->tool_output));
    }
    m->output = rec == NULL && strcmp(role, "user") != 0;
    if (run->held.msg_off > 0) {
        m->hold[run->held.msg_stream] = (int64_t)run->held.msg_off;
    }
    m->bytes = strlen(m->content) + (m->tool_output ? strlen(m->tool_output) : 0) + 256;
    json_t *ev = event ? message_event(run, m, rec) : NULL;
    memcpy(run->turn.said_id, m->id, AD_ID_MAX);
    if (id_out != NULL) {
        memcpy(id_out, m->id, AD_ID_MAX);
    }
    b->n++;
    b->bytes += m->bytes;
    if (!run->held.in_line && (b->n >= AD_RUN_BATCH_MAX || b->bytes >= AD_RUN_BATCH_BYTES)) {
        ad_run_flush_batch(run, NULL, NULL);
    } else {
        arm_flush(run);
    }
    return ev;
}

json_t *ad_run_queue_message_as(ad_run_t *run, const char *id, int64_t at, const char *role,
                                const char *text, size_t len, const ad_rec_t *rec,
                                char id_out[AD_ID_MAX])
{
    return queue_message(run, id, at, role, text, len, rec, id_out, true);
}

/* ---- plain output, coalesced into messages ------------------------------------- */

static void flush_output(ad_run_t *run, int i)
{
    ad_buf_t *b = &run->msgs.out[i];
    if (b->len == 0) {
        return;
    }
    size_t n = b->len;
    if (b->data[n - 1] == '\n') {
        n--;
    }
    /* live output already went out as agent_output: no event for its row */
    int stream = run->held.msg_stream;
    uint64_t off = run->held.msg_off;
    run->held.msg_stream = i;
    run->held.msg_off = run->msgs.out_end[i];
    queue_message(run, NULL, 0, i == 0 ? "assistant" : "system", b->data, n, NULL, NULL, false);
    run->held.msg_stream = stream;
    run->held.msg_off = off;
    if (b->cap > 2 * AD_RUN_OUT_FLUSH_BYTES) {
        ad_buf_cleanup(b);
    } else {
        ad_buf_reset(b);
    }
}

static void add_output(ad_run_t *run, int i, const char *line, size_t len)
{
    ad_buf_t *b = &run->msgs.out[i];
    if (run->msgs.out[0].len == 0 && run->msgs.out[1].len == 0) {
        run->msgs.out_due = next_tick(uv_now(run->r->loop), AD_RUN_OUT_FLUSH_MS, out_phase(run));
    }
    if (b->len + len + 1 > AD_RUN_OUT_FLUSH_BYTES && b->len > 0) {
        flush_output(run, i);
    }
    size_t mark = b->len;
    if (ad_buf_append(b, line, len) != 0 || ad_buf_putc(b, '\n') != 0) {
        ad_buf_truncate(b, mark); /* a line is kept whole or not at all */
    }
    if (run->proc != NULL) {
        run->msgs.out_end[i] =
            ad_proc_line_end(run->proc, i == 0 ? AD_PROC_STDOUT : AD_PROC_STDERR);
    }
    if (b->len >= AD_RUN_OUT_FLUSH_BYTES) {
        flush_output(run, i);
    }
    if (run->msgs.flush_init && !uv_is_active((uv_handle_t *)&run->msgs.flush)) {
        arm_out(run, uv_now(run->r->loop));
    }
}

void ad_run_flush_all(ad_run_t *run)
{
    flush_output(run, 0);
    flush_output(run, 1);
    ad_run_flush_batch(run, NULL, NULL);
}

/* ---- plain output, live ----------------------------------------------------------- */

/* at: the spool offset past text's lines (a held run's), else 0 */
static void publish_output(ad_run_t *run, const char *stream, const char *text, size_t len,
                           bool complete, uint64_t at)
{
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:o, s:b}", "agentId", run->agent_id, "runId", run->run_id,
                  "stream", stream, "content", ad_json_text(text, len), "isComplete", complete);
    if (at > 0) {
        json_object_set_new(p, "at", json_integer((json_int_t)at));
    }
    ad_run_publish(run->r, &run->topics, "agent_output", p);
}

void ad_run_flush_live(ad_run_t *run)
{
    ad_run_feat_flush(run, false);
    if (!run->live.dirty) {
        return;
    }
    run->live.dirty = false;
    ad_bus_t *bus = run->r->bus;
    bool behind =
        bus != NULL && (ad_bus_seq(bus) - ad_bus_persisted_seq(bus) > AD_RUN_LIVE_BACKLOG_MAX ||
                        ad_bus_unpersisted_bytes(bus) > AD_RUN_LIVE_BACKLOG_BYTES);
    for (int i = 0; i < 2; i++) {
        ad_buf_t *b = &run->live.buf[i];
        if (b->len == 0) {
            continue;
        }
        if (behind) {
            run->live.dropped += b->len;
        } else {
            if (run->live.dropped > 0) {
                char note[160];
                snprintf(note, sizeof(note),
                         "[agentd: %llu bytes of output were not streamed live (the event log was "
                         "behind); see the stored messages]",
                         (unsigned long long)run->live.dropped);
                publish_output(run, "system", note, strlen(note), true, 0);
                run->live.dropped = 0;
            }
            publish_output(run, i == 0 ? "stdout" : "stderr", b->data, b->len - 1, true,
                           run->live.end[i]);
        }
        if (b->cap > 2 * AD_RUN_LIVE_BYTES) {
            ad_buf_cleanup(b);
        } else {
            ad_buf_reset(b);
        }
    }
}

void ad_run_on_check(uv_check_t *h)
{
    ad_runner_t *r = h->data;
    /* the runs that queued output or points this turn, not every run */
    while (r->check_runs != NULL) {
        ad_run_t *run = r->check_runs;
        r->check_runs = run->check_next;
        run->check_next = NULL;
        run->on_check = false;
        ad_run_flush_live(run);
    }
    uv_check_stop(h);
    r->check_on = false;
    /* This check may run after the bus's: the lines go to the live
     * channels now, and leave in this turn's write (the server's flush
     * check comes after), not after the next turn's timers. */
    ad_bus_deliver_turn(r->bus);
}

void ad_run_want_check(ad_run_t *run)
{
    ad_runner_t *r = run->r;
    if (!run->on_check) {
        run->on_check = true;
        run->check_next = r->check_runs;
        r->check_runs = run;
    }
    if (!r->check_on) {
        r->check_on = true;
        uv_check_start(&r->check, ad_run_on_check);
    }
}

/* Queues a plain output line for the live stream (stream 0 stdout, 1
 * stderr); the line keeps its own agent_output when it comes alone. */
static void live_output(ad_run_t *run, int i, const char *line, size_t len)
{
    ad_buf_t *b = &run->live.buf[i];
    uint64_t end = run->proc != NULL && ad_proc_held(run->proc)
                       ? ad_proc_line_end(run->proc, i == 0 ? AD_PROC_STDOUT : AD_PROC_STDERR)
                       : 0;
    if (end > 0 && end <= run->live.streamed[i]) {
        return; /* the plane that ran it before streamed this line (seen.c) */
    }
    if (b->len > 0 && b->len + len + 1 > AD_RUN_LIVE_BYTES) {
        ad_run_flush_live(run);
    }
    size_t mark = b->len;
    if (ad_buf_append(b, line, len) != 0 || ad_buf_putc(b, '\n') != 0) {
        ad_buf_truncate(b, mark); /* a line is kept whole or not at all */
    }
    run->live.end[i] = end;
    run->live.dirty = true;
    ad_run_want_check(run);
}

/* ---- records -------------------------------------------------------------------- */

/* One request's usage in usage_stats, its model a copy of ours: written
 * in its turn behind what waits for space (ad_run_write). */
typedef struct {
    ad_usage_rec_t u;
    char model[128];
} usage_t;

static void usage_write(ad_runner_t *r, void *arg, void *ctx)
{
    usage_t *a = arg;
    ad_store_usage_record(r->store, &a->u, ad_run_write_done, ctx);
}

/* A finished turn: usage (the run's and one request's in usage_stats),
 * and the agent waits for input when its process is still alive. */
static void on_result(ad_run_t *run, const ad_rec_t *rec)
{
    run->turn.usage.input_tokens += rec->usage.input_tokens;
    run->turn.usage.output_tokens += rec->usage.output_tokens;
    run->turn.usage.cache_creation_tokens += rec->usage.cache_creation_tokens;
    run->turn.usage.cache_read_tokens += rec->usage.cache_read_tokens;
    run->turn.cost =
        rec->total_cost_usd >= 0 ? rec->total_cost_usd : run->turn.cost + rec->cost_usd;
    run->turn.count += rec->num_turns;
    usage_t *a = ad_xcalloc(1, sizeof(*a));
    const char *model = rec->model != NULL ? rec->model : ad_parser_model(run->parser);
    snprintf(a->model, sizeof(a->model), "%s", model != NULL ? model : "");
    a->u = (ad_usage_rec_t){
        .model = a->model,
        .input_tokens = rec->usage.input_tokens,
        .output_tokens = rec->usage.output_tokens,
        .cache_read_tokens = rec->usage.cache_read_tokens,
        .cache_write_tokens = rec->usage.cache_creation_tokens,
        .cost_usd = rec->cost_usd > 0 ? rec->cost_usd : 0,
        .error = rec->is_error,
        .at_ms = ad_wall_ms(), /* the turn's day, if written later */
    };
    ad_run_write(run->r, run->agent_id, "a turn's usage", usage_write, a, NULL);
    /* the run's row grows turn by turn, not only at its end */
    ad_store_run_usage_t ru = {
        .input_tokens = run->turn.usage.input_tokens,
        .output_tokens = run->turn.usage.output_tokens,
        .cache_read_tokens = run->turn.usage.cache_read_tokens,
        .cache_write_tokens = run->turn.usage.cache_creation_tokens,
        .cost_usd = run->turn.cost,
        .num_turns = run->turn.count,
    };
    memcpy(ru.id, run->run_id, AD_ID_MAX);
    snprintf(ru.plane_id, sizeof(ru.plane_id), "%.*s", (int)sizeof(ru.plane_id) - 1,
             run->r->cfg->plane_id);
    ad_store_run_usage(run->r->store, &ru, NULL, NULL);
    run->turn.had_error = rec->is_error;
    snprintf(run->turn.reason, sizeof(run->turn.reason), "%s",
             !rec->is_error      ? ""
             : rec->text != NULL ? rec->text
                                 : "the agent reported an error");
    /* One-shot CLIs exit right after their turn: the run's end sets the
     * status (a `waiting` in between would invite a message they cannot
     * take). */
    if (run->how.rpc && run->stop.since != 0 && !ad_codex_app_busy(run->parser)) {
        ad_proc_stop(run->proc, false); /* the interrupted turn has ended (control.c) */
        return;
    }
    if (rec->is_error && ad_run_limit_hit(run)) {
        return; /* a usage limit: its end suspends the agent (feat_limit.c) */
    }
    if (ad_proc_alive(run->proc) && !run->how.one_shot &&
        !(run->how.rpc && ad_codex_app_busy(run->parser))) {
        ad_store_agent_runtime_t upd = {.context_level = -1};
        /* an ACP agent goes on with the message that waited for this turn */
        bool more = run->how.exec == AD_EXEC_ACP && ad_acp_busy(run->parser);
        ad_row_agent_status_t st = rec->is_error ? AD_ROW_AGENT_STATUS_ERROR
                                   : more        ? AD_ROW_AGENT_STATUS_RUNNING
                                                 : AD_ROW_AGENT_STATUS_WAITING;
        const char *ref = run->turn.said_id[0] != '\0' ? run->turn.said_id : "(no message)";
        ad_store_status_reason_t why;
        if (rec->is_error) { /* why, as a run's end says it (the process lives on) */
            upd.state_patch = json_pack("{s:s}", "statusReason", run->turn.reason);
            ad_status_reason_set(&why, "turn_failed", run->turn.said_id, "result event %s: %s", ref,
                                 run->turn.reason);
        } else if (more) {
            ad_status_reason_set(&why, "turn_started", run->turn.said_id,
                                 "result event %s: the next waiting message goes on", ref);
        } else {
            ad_status_reason_set(&why, "turn_ended", run->turn.said_id,
                                 "result event %s: the turn ended, the agent waits for your "
                                 "next message",
                                 ref);
        }
        ad_run_set_status(run, &upd, st, &why, NULL, NULL);
    }
}

static void on_message_rec(ad_run_t *run, const ad_rec_t *rec)
{
    flush_output(run, 0);
    flush_output(run, 1);
    const char *text = rec->text != NULL ? rec->text : "";
    bool tool = rec->role == AD_ROLE_TOOL && rec->tool_id != NULL;
    char id[AD_ID_MAX];
    int64_t at = 0;
    bool result = tool && rec->is_complete && ad_run_call_closed(run, rec->tool_id, id, &at);
    char made[AD_ID_MAX];
    int64_t now = result ? at : (int64_t)ad_wall_ms();
    json_t *ev = ad_run_queue_message_as(run, result ? id : NULL, now, ad_role_name(rec->role),
                                         text, strlen(text), rec, made);
    if (tool && !rec->is_complete) {
        ad_run_call_opened(run, rec->tool_id, made, now);
    }
    if (rec->role == AD_ROLE_ASSISTANT && !rec->is_error) {
        free(run->turn.last_text);
        run->turn.last_text = ad_xstrdup(text);
        memcpy(run->turn.last_id, made, AD_ID_MAX);
        run->turn.last_at = now;
    }
    ad_run_publish(run->r, &run->topics, result ? "message_updated" : "message_created",
                   json_pack("{s:o}", "message", ev));
}

/* The real output tokens of the API message the last assistant message
 * came from: that message is written again with them. */
static void on_tokens_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (run->turn.last_text == NULL) {
        return;
    }
    ad_rec_t r = {.type = AD_REC_MESSAGE,
                  .role = AD_ROLE_ASSISTANT,
                  .token_count = rec->token_count,
                  .is_complete = true};
    json_t *ev =
        ad_run_queue_message_as(run, run->turn.last_id, run->turn.last_at, "assistant",
                                run->turn.last_text, strlen(run->turn.last_text), &r, NULL);
    free(run->turn.last_text);
    run->turn.last_text = NULL;
    ad_run_publish(run->r, &run->topics, "message_updated", json_pack("{s:o}", "message", ev));
}

static void on_session_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->session_id == NULL) {
        return;
    }
    ad_run_publish(run->r, &run->topics, "agent_update",
                   json_pack("{s:s, s:s}", "id", run->agent_id, "sessionId", rec->session_id));
    ad_store_agent_runtime_t u = {.context_level = -1};
    if (ad_run_fork_seen(run)) { /* the fork has its own session now (resume.c) */
        u.state_patch = json_pack("{s:b}", "forkSession", false);
    }
    if (strlen(rec->session_id) >= sizeof(u.session_id)) {
        json_decref(u.state_patch);
        ad_log(AD_LOG_WARN, "runner", "session id too long, not stored agent=%s", run->agent_id);
        return;
    }
    snprintf(u.session_id, sizeof(u.session_id), "%s", rec->session_id);
    ad_run_agent_update(run, &u, NULL, NULL);
}

static void on_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_OUTPUT) {
        ad_run_flush_live(run); /* events keep the order the agent wrote them in */
    }
    if (ad_run_feat_record(run, rec)) {
        return; /* a feature's record (feature.h) */
    }
    const char *text = rec->text != NULL ? rec->text : "";
    switch (rec->type) {
    case AD_REC_OUTPUT:
        live_output(run, 0, text, strlen(text));
        add_output(run, 0, text, strlen(text));
        break;
    case AD_REC_DELTA:
        if (rec->text != NULL) {
            publish_output(run, "stdout", text, strlen(text), false, 0);
        }
        break;
    case AD_REC_SESSION:
        on_session_rec(run, rec);
        break;
    case AD_REC_MESSAGE:
        on_message_rec(run, rec);
        break;
    case AD_REC_RESULT:
        on_result(run, rec);
        break;
    case AD_REC_NOTICE:
        if (rec->text != NULL) {
            publish_output(run, "system", text, strlen(text), true, 0);
        }
        break;
    case AD_REC_CONTEXT: {
        ad_run_publish(run->r, &run->topics, "agent_context",
                       json_pack("{s:s, s:i}", "agentId", run->agent_id, "level", rec->level));
        ad_store_agent_runtime_t u = {.context_level = rec->level};
        ad_run_agent_update(run, &u, NULL, NULL);
        break;
    }
    case AD_REC_TOKENS:
        on_tokens_rec(run, rec);
        break;
    case AD_REC_TOOL_START: /* feat_calls.c */
    case AD_REC_TOOL_END:
    case AD_REC_EVENT:    /* the program feature's (feat_program.c) */
    case AD_REC_APPROVAL: /* approvals.c */
    case AD_REC_REQUEST:  /* the ACP feature's (acp.c) */
    case AD_REC_FAULT:
        break;
    case AD_REC_WRITE: /* the protocol's own answer (codex app-server) */
        if (rec->text != NULL && run->proc != NULL &&
            ad_proc_write(run->proc, rec->text, strlen(rec->text)) != 0) {
            ad_log(AD_LOG_WARN, "runner", "protocol line not written agent=%s", run->agent_id);
        }
        break;
    }
}

void ad_run_handle_recs(ad_run_t *run)
{
    for (size_t i = 0; i < run->recs.n; i++) {
        on_rec(run, &run->recs.v[i]);
    }
    ad_recs_clear(&run->recs);
}

/* ---- the supervisor's callbacks ------------------------------------------------------ */

/* Keeps the last stderr line with something in it, for the reason of an
 * exit code nothing else explains (src/run/exit.c). */
static void remember_err(ad_run_t *run, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) {
        len--;
    }
    size_t skip = 0;
    while (skip < len && (line[skip] == ' ' || line[skip] == '\t')) {
        skip++;
    }
    if (skip == len) {
        return;
    }
    len -= skip;
    size_t n = len < sizeof(run->turn.last_err) - 1 ? len : sizeof(run->turn.last_err) - 1;
    while (n > 0 && n < len && ((unsigned char)line[skip + n] & 0xC0) == 0x80) {
        n--; /* not in the middle of a UTF-8 character */
    }
    memcpy(run->turn.last_err, line + skip, n);
    run->turn.last_err[n] = '\0';
}

void ad_run_on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud)
{
    AD_UNUSED(p);
    AD_UNUSED(truncated);
    ad_run_t *run = ud;
    if (stream == AD_PROC_STDERR) {
        remember_err(run, line, len);
        live_output(run, 1, line, len);
        add_output(run, 1, line, len);
        return;
    }
    ad_run_line_begin(run, stream);
    ad_parser_feed(run->parser, line, len, uv_now(run->r->loop), &run->recs);
    ad_run_handle_recs(run);
    ad_run_feat_line_end(run); /* before the line's rows go (hold.c) */
    ad_run_line_end(run);
}
