/* SPDX-License-Identifier: MIT */
/*
 * What a run says: the executor's parser turns stdout lines into records
 * (agent.h); records become bus events, and messages that are batched to
 * the writer (plain output coalesced into blocks). Plain output also goes
 * out live, a loop turn's worth per event. Terminal output is kept for
 * viewers (taps). What a record means is the parser's business; SQL is the
 * store's.
 */
#include "run/run_int.h"
#include "tables/series.h"
#include "tables/stats.h"
#include "tables/usage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- stored messages ---------------------------------------------------------- */

static void msg_cleanup(ad_run_msg_t *m)
{
    free(m->content);
    free(m->tool_name);
    free(m->tool_input);
    free(m->tool_output);
}

void ad_run_batch_cleanup(ad_run_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        msg_cleanup(&b->v[i]);
    }
    free(b->v);
    memset(b, 0, sizeof(*b));
}

/* A batch on its way to the writer: it owns the messages until the commit. */
typedef struct {
    ad_runner_t *r;
    uint64_t seq; /* the order batches were made in (the stuck queue's) */
    ad_run_batch_t batch;
    ad_store_message_t *rows; /* point into batch and the ids below */
    char agent_id[AD_ID_MAX]; /* the run may end before the commit */
    char run_id[AD_ID_MAX];
    ad_store_done_cb done;
    void *ctx;
} inflight_t;

/* Stored rows of a held run: its holder may give back the spool's disk
 * below their offsets. */
static void ack_stored(const inflight_t *f)
{
    int64_t out = 0, err = 0;
    for (size_t i = 0; i < f->batch.n; i++) {
        out = f->rows[i].hold_out > out ? f->rows[i].hold_out : out;
        err = f->rows[i].hold_err > err ? f->rows[i].hold_err : err;
    }
    ad_run_t *run = ad_run_find(f->r, f->agent_id);
    if ((out > 0 || err > 0) && run != NULL && run->proc != NULL &&
        strcmp(run->run_id, f->run_id) == 0) {
        ad_proc_held_ack(run->proc, (uint64_t)out, (uint64_t)err);
    }
}

/* The batch's run, if it still runs. */
static ad_run_t *batch_run(const inflight_t *f)
{
    ad_run_t *run = ad_run_find(f->r, f->agent_id);
    return run != NULL && strcmp(run->run_id, f->run_id) == 0 ? run : NULL;
}

/* The batch is done with (stored, or given up): its bytes leave the
 * writer's count, and held runs read on once it has caught up. */
static void batch_free(inflight_t *f, int rc)
{
    ad_runner_t *r = f->r;
    r->inflight_bytes -= f->batch.bytes;
    /* only when some run was held back: a walk of every run per batch
     * costs a thousand runs a thousand steps a batch */
    if (r->held_back && r->inflight_bytes < AD_RUN_INFLIGHT_BYTES / 2 && r->stuck == NULL) {
        r->held_back = false;
        for (ad_run_t *run = r->runs; run != NULL; run = run->next) {
            if (run->proc != NULL) {
                ad_proc_held_hold_back(run->proc, false);
            }
        }
    }
    if (f->done != NULL) {
        f->done(rc, f->ctx);
    }
    ad_run_batch_cleanup(&f->batch);
    free(f->rows);
    free(f);
}

/* A storage error that passes once there is space: the batch is written
 * again later, never dropped. A group SQLite rolled back for one job's
 * FULL (or I/O error) gives its other jobs AD_EIO (src/store/writer.c);
 * both are taken for a full disk, which is what the run then says. So is
 * PostgreSQL away with the writer's queue at its bound (AD_EUNAVAIL,
 * issue #39): the run says the database is unreachable. */
static bool retryable(int rc)
{
    return rc == AD_EFULL || rc == AD_EIO || rc == AD_EUNAVAIL;
}

/* A batch that could not be stored and never will be: the run lost it. */
static void batch_lost(inflight_t *f, int rc)
{
    ad_log(AD_LOG_WARN, "runner", "storing messages failed agent=%s run=%s count=%zu error=%s",
           f->agent_id, f->run_id, f->batch.n, ad_strerror(rc));
    ad_run_t *run = batch_run(f);
    if (run != NULL) {
        run->lost_rows += f->batch.n;
    }
    batch_free(f, rc);
}

/* ---- the stuck queue: storing again after a full disk ----------------------------
 * A batch the store refused for space waits in r->stuck (in the order the
 * batches were made), with every later batch and run end behind it; a
 * timer with backoff hands the first to the writer again. Nothing behind a
 * stuck batch is acknowledged to a holder, so what is not stored stays in
 * the spool; held runs are not read meanwhile (their holders spool, then
 * stall their agents), and the runs say `stalled: disk full`. */
struct ad_run_stuck {
    struct ad_run_stuck *next;
    uint64_t seq;
    inflight_t *f;      /* a batch, or NULL: */
    ad_run_after_fn fn; /* a call due once everything before it is stored */
    void *ud;
};

static void stuck_insert(ad_runner_t *r, ad_run_stuck_t *e)
{
    ad_run_stuck_t **pp = &r->stuck;
    while (*pp != NULL && (*pp)->seq < e->seq) {
        pp = &(*pp)->next;
    }
    e->next = *pp;
    *pp = e;
}

static void set_store_stall(ad_runner_t *r, bool on)
{
    for (ad_run_t *run = r->runs; run != NULL; run = run->next) {
        if (run->proc != NULL) {
            ad_proc_held_hold_back(run->proc, on);
        }
        if (run->store_stalled != on) {
            run->store_stalled = on;
            ad_run_stall_update(run);
        }
    }
}

static void on_retry_done(int rc, void *ud);

static void arm_retry(ad_runner_t *r)
{
    if (!r->retrying && !uv_is_active((uv_handle_t *)&r->retry)) {
        uv_timer_start(&r->retry, ad_run_on_retry, r->retry_ms, 0);
    }
}

/* Goes through the stuck queue: calls due, the next batch to the writer;
 * when it is empty, the runs go on. */
static void stuck_next(ad_runner_t *r)
{
    while (r->stuck != NULL && !r->retrying) {
        ad_run_stuck_t *e = r->stuck;
        if (e->f != NULL) {
            r->retrying = true;
            ad_store_messages_insert(r->store, e->f->rows, e->f->batch.n, on_retry_done, e);
            return;
        }
        r->stuck = e->next;
        e->fn(e->ud, false);
        free(e);
    }
    if (r->stuck == NULL) {
        r->retry_ms = AD_RUN_RETRY_MIN_MS;
        ad_log(AD_LOG_INFO, "runner", "messages stored again after a storage error");
        set_store_stall(r, false);
    }
}

void ad_run_on_retry(uv_timer_t *t)
{
    stuck_next(t->data);
}

static void on_retry_done(int rc, void *ud)
{
    ad_run_stuck_t *e = ud;
    inflight_t *f = e->f;
    ad_runner_t *r = f->r;
    r->retrying = false;
    if (rc != 0 && retryable(rc) && !r->closing) {
        r->retry_ms = r->retry_ms * 2 > AD_RUN_RETRY_MAX_MS ? AD_RUN_RETRY_MAX_MS : r->retry_ms * 2;
        arm_retry(r);
        return;
    }
    r->stuck = e->next;
    free(e);
    if (rc == 0) {
        ack_stored(f);
        batch_free(f, 0);
    } else {
        batch_lost(f, rc);
    }
    if (!r->closing) {
        stuck_next(r);
    }
}

static void stuck_push(ad_runner_t *r, inflight_t *f)
{
    bool first = r->stuck == NULL;
    ad_run_stuck_t *e = ad_xcalloc(1, sizeof(*e));
    e->seq = f->seq;
    e->f = f;
    stuck_insert(r, e);
    if (first) {
        ad_log(AD_LOG_WARN, "runner", "storing messages failed (%s); holding output and retrying",
               r->stuck_rc == AD_EUNAVAIL ? "the database is unreachable" : "the disk is full?");
        set_store_stall(r, true);
    }
    ad_run_t *run = batch_run(f);
    if (run != NULL && !run->store_stalled) { /* a run started meanwhile */
        run->store_stalled = true;
        if (run->proc != NULL) {
            ad_proc_held_hold_back(run->proc, true);
        }
        ad_run_stall_update(run);
    }
    arm_retry(r);
}

void ad_run_after_stored(ad_runner_t *r, ad_run_after_fn fn, void *ud)
{
    if (r->stuck == NULL) {
        fn(ud, false);
        return;
    }
    ad_run_stuck_t *e = ad_xcalloc(1, sizeof(*e));
    e->seq = r->batch_seq++;
    e->fn = fn;
    e->ud = ud;
    stuck_insert(r, e);
}

void ad_run_stuck_free(ad_runner_t *r)
{
    r->closing = true;
    while (r->stuck != NULL) {
        ad_run_stuck_t *e = r->stuck;
        r->stuck = e->next;
        if (e->f != NULL) { /* a holder still has its lines: not acknowledged */
            ad_run_batch_cleanup(&e->f->batch);
            free(e->f->rows);
            free(e->f);
        } else {
            e->fn(e->ud, true);
        }
        free(e);
    }
}

static void on_batch_done(int rc, void *ud)
{
    inflight_t *f = ud;
    ad_runner_t *r = f->r;
    if (rc == 0) {
        /* Not past a batch that still waits: its lines stay in the spool. */
        if (r->stuck == NULL) {
            ack_stored(f);
        }
        batch_free(f, 0);
    } else if (retryable(rc) && !r->closing) {
        if (f->done != NULL) { /* the caller hears now; the rows are stored later */
            f->done(rc, f->ctx);
            f->done = NULL;
        }
        if (r->stuck == NULL) {
            r->stuck_rc = rc;
        }
        stuck_push(r, f);
    } else {
        batch_lost(f, rc);
    }
}

/* The writer is behind: live events still flow, but storage sheds plain
 * output rather than queueing without bound. Messages the agent meant
 * (assistant text, tools) are kept. */
static void shed_output(ad_run_t *run)
{
    ad_run_batch_t *b = &run->batch;
    if (run->dropped == 0) {
        ad_log(AD_LOG_WARN, "runner", "writer behind, not storing some output agent=%s",
               run->agent_id);
    }
    size_t keep = 0, first = run->line_first;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].output) {
            b->bytes -= b->v[i].bytes;
            msg_cleanup(&b->v[i]);
            run->dropped++;
            run->line_first -= i < first ? 1 : 0;
        } else {
            b->v[keep++] = b->v[i];
        }
    }
    b->n = keep;
}

/* Moves the run's first n queued messages to out (all of them: the whole
 * batch). */
static void split_batch(ad_run_t *run, size_t n, ad_run_batch_t *out)
{
    ad_run_batch_t *b = &run->batch;
    if (n == b->n) {
        *out = *b;
        memset(b, 0, sizeof(*b));
        run->line_first = 0;
        return;
    }
    memset(out, 0, sizeof(*out));
    out->v = ad_xcalloc(n, sizeof(*out->v));
    out->cap = out->n = n;
    memcpy(out->v, b->v, n * sizeof(*b->v));
    for (size_t i = 0; i < n; i++) {
        out->bytes += b->v[i].bytes;
    }
    memmove(b->v, b->v + n, (b->n - n) * sizeof(*b->v));
    b->n -= n;
    b->bytes -= out->bytes;
    run->line_first -= n;
}

void ad_run_flush_batch(ad_run_t *run, ad_store_done_cb done, void *ctx)
{
    ad_runner_t *r = run->r;
    if (done == NULL && r->inflight_bytes + run->batch.bytes > AD_RUN_INFLIGHT_BYTES) {
        /* A held run's output waits in its spool instead (resumed below
         * once the writer has caught up): nothing is lost. */
        if (run->proc != NULL && ad_proc_held_hold_back(run->proc, true)) {
            r->held_back = true;
        } else {
            shed_output(run);
        }
    }
    /* The rows of the line being handled wait for its end (hold.c). */
    size_t n = run->in_line && run->line_first < run->batch.n ? run->line_first : run->batch.n;
    if (n == 0) {
        if (done != NULL) {
            done(0, ctx);
        }
        return;
    }
    inflight_t *f = ad_xcalloc(1, sizeof(*f));
    f->r = r;
    f->done = done;
    f->ctx = ctx;
    memcpy(f->agent_id, run->agent_id, AD_ID_MAX);
    memcpy(f->run_id, run->run_id, AD_ID_MAX);
    f->seq = r->batch_seq++;
    split_batch(run, n, &f->batch);
    f->rows = ad_xcalloc(f->batch.n, sizeof(*f->rows));
    for (size_t i = 0; i < f->batch.n; i++) {
        const ad_run_msg_t *m = &f->batch.v[i];
        f->rows[i] = (ad_store_message_t){.id = m->id,
                                          .agent_id = f->agent_id,
                                          .run_id = f->run_id,
                                          .role = m->role,
                                          .content = m->content,
                                          .tool_name = m->tool_name,
                                          .tool_input = m->tool_input,
                                          .tool_output = m->tool_output,
                                          .token_count = m->token_count,
                                          .is_complete = m->is_complete,
                                          .is_error = m->is_error,
                                          .replace = m->replace,
                                          .now = m->now,
                                          .hold_out = m->hold[0],
                                          .hold_err = m->hold[1]};
    }
    r->inflight_bytes += f->batch.bytes;
    if (r->stuck != NULL) {
        if (f->done != NULL) { /* as on a refusal: the caller hears now */
            f->done(AD_EFULL, f->ctx);
            f->done = NULL;
        }
        stuck_push(r, f); /* behind the batches that wait for space */
        return;
    }
    ad_store_messages_insert(r->store, f->rows, f->batch.n, on_batch_done, f);
}

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
    uv_timer_start(&run->flush, on_flush_timer, run->out_due > now ? run->out_due - now : 1, 0);
}

/* Messages go to the writer; plain output once its tick has come (the
 * timer comes back for it then). */
static void on_flush_timer(uv_timer_t *t)
{
    ad_run_t *run = t->data;
    uint64_t now = uv_now(run->r->loop);
    if (now >= run->out_due) {
        flush_output(run, 0);
        flush_output(run, 1);
    }
    ad_run_flush_batch(run, NULL, NULL);
    if (run->out[0].len > 0 || run->out[1].len > 0) {
        arm_out(run, now);
    } else if (run->batch.n == 0) {
        uv_timer_stop(&run->flush); /* the output's own message armed it: stored already */
    }
}

/* A message is stored by the next AD_RUN_FLUSH_MS tick, even while the timer
 * waits longer for plain output. */
static void arm_flush(ad_run_t *run)
{
    uint64_t now = uv_now(run->r->loop);
    uint64_t due = next_tick(now, AD_RUN_FLUSH_MS, 0);
    if (run->flush_init && (!uv_is_active((uv_handle_t *)&run->flush) ||
                            uv_timer_get_due_in(&run->flush) > due - now)) {
        uv_timer_start(&run->flush, on_flush_timer, due - now, 0);
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
    ad_run_batch_t *b = &run->batch;
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
    if (run->msg_off > 0) {
        m->hold[run->msg_stream] = (int64_t)run->msg_off;
    }
    m->bytes = strlen(m->content) + (m->tool_output ? strlen(m->tool_output) : 0) + 256;
    json_t *ev = event ? message_event(run, m, rec) : NULL;
    memcpy(run->said_id, m->id, AD_ID_MAX);
    if (id_out != NULL) {
        memcpy(id_out, m->id, AD_ID_MAX);
    }
    b->n++;
    b->bytes += m->bytes;
    if (!run->in_line && (b->n >= AD_RUN_BATCH_MAX || b->bytes >= AD_RUN_BATCH_BYTES)) {
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
    ad_buf_t *b = &run->out[i];
    if (b->len == 0) {
        return;
    }
    size_t n = b->len;
    if (b->data[n - 1] == '\n') {
        n--;
    }
    /* live output already went out as agent_output: no event for its row */
    int stream = run->msg_stream;
    uint64_t off = run->msg_off;
    run->msg_stream = i;
    run->msg_off = run->out_end[i];
    queue_message(run, NULL, 0, i == 0 ? "assistant" : "system", b->data, n, NULL, NULL, false);
    run->msg_stream = stream;
    run->msg_off = off;
    if (b->cap > 2 * AD_RUN_OUT_FLUSH_BYTES) {
        ad_buf_cleanup(b);
    } else {
        ad_buf_reset(b);
    }
}

static void add_output(ad_run_t *run, int i, const char *line, size_t len)
{
    ad_buf_t *b = &run->out[i];
    if (run->out[0].len == 0 && run->out[1].len == 0) {
        run->out_due = next_tick(uv_now(run->r->loop), AD_RUN_OUT_FLUSH_MS, out_phase(run));
    }
    if (b->len + len + 1 > AD_RUN_OUT_FLUSH_BYTES && b->len > 0) {
        flush_output(run, i);
    }
    size_t mark = b->len;
    if (ad_buf_append(b, line, len) != 0 || ad_buf_putc(b, '\n') != 0) {
        ad_buf_truncate(b, mark); /* a line is kept whole or not at all */
    }
    if (run->proc != NULL) {
        run->out_end[i] = ad_proc_line_end(run->proc, i == 0 ? AD_PROC_STDOUT : AD_PROC_STDERR);
    }
    if (b->len >= AD_RUN_OUT_FLUSH_BYTES) {
        flush_output(run, i);
    }
    if (run->flush_init && !uv_is_active((uv_handle_t *)&run->flush)) {
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

static void publish_output(ad_run_t *run, const char *stream, const char *text, size_t len,
                           bool complete)
{
    ad_run_publish(run->r, &run->topics, "agent_output",
                   json_pack("{s:s, s:s, s:s, s:o, s:b}", "agentId", run->agent_id, "runId",
                             run->run_id, "stream", stream, "content", ad_json_text(text, len),
                             "isComplete", complete));
}

/* Metric batches handed to the store and not yet committed (loop thread
 * only; all runs). While AD_RUN_METRIC_JOBS_MAX are out, a run holds its
 * points (the next batch grows instead) up to AD_RUN_METRIC_HOLD_MAX. */
static size_t metric_jobs_out;

static void on_points_stored(int rc, json_t *result, void *ud)
{
    (void)ud;
    metric_jobs_out--;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "run", "metric points not stored: %s", ad_strerror(rc));
    }
    json_decref(result);
}

/* Hands the points read so far to the store in one batch (one writer job,
 * chunked there): never a transaction per point. Unless force, holds them
 * while the writer is behind and the run holds fewer than the cap. */
static void flush_metric_points(ad_run_t *run, bool force)
{
    size_t n = json_array_size(run->metric_points), nd = json_array_size(run->metric_dists);
    if (n + nd == 0) {
        return;
    }
    if (!force && metric_jobs_out >= AD_RUN_METRIC_JOBS_MAX && n < AD_RUN_METRIC_HOLD_MAX &&
        nd < AD_RUN_DIST_HOLD_MAX) {
        return; /* flushed with a later line, or at the run's end */
    }
    json_t *batch = json_pack("{s:s, s:s, s:I, s:o}", "runId", run->run_id, "orgId", run->org_id,
                              "now", (json_int_t)ad_wall_ms(), "points",
                              run->metric_points != NULL ? run->metric_points : json_array());
    if (run->metric_dists != NULL) {
        json_object_set_new(batch, "dists", run->metric_dists); /* histograms, counts */
    }
    run->metric_points = NULL;
    run->metric_dists = NULL;
    metric_jobs_out++;
    ad_store_series_append(run->r->store, batch, on_points_stored, NULL);
}

void ad_run_flush_metrics(ad_run_t *run)
{
    flush_metric_points(run, true);
}

void ad_run_flush_live(ad_run_t *run)
{
    flush_metric_points(run, false);
    if (!run->live_dirty) {
        return;
    }
    run->live_dirty = false;
    ad_bus_t *bus = run->r->bus;
    bool behind =
        bus != NULL && (ad_bus_seq(bus) - ad_bus_persisted_seq(bus) > AD_RUN_LIVE_BACKLOG_MAX ||
                        ad_bus_unpersisted_bytes(bus) > AD_RUN_LIVE_BACKLOG_BYTES);
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

/* run has live output or points for this turn's check. */
static void want_check(ad_run_t *run)
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
    ad_buf_t *b = &run->live[i];
    if (b->len > 0 && b->len + len + 1 > AD_RUN_LIVE_BYTES) {
        ad_run_flush_live(run);
    }
    size_t mark = b->len;
    if (ad_buf_append(b, line, len) != 0 || ad_buf_putc(b, '\n') != 0) {
        ad_buf_truncate(b, mark); /* a line is kept whole or not at all */
    }
    run->live_dirty = true;
    want_check(run);
}

/* ---- records -------------------------------------------------------------------- */

/* Shows a point to the runner's hook (alerts) as it is read. */
static void hook_point(ad_run_t *run, const char *name, json_t *step, double v)
{
    if (run->r->point_fn != NULL && name != NULL) {
        run->r->point_fn(run->agent_id, run->run_id, run->org_id, name, json_is_integer(step),
                         json_integer_value(step), v, run->r->point_ud);
    }
}

/* Queues a point for the store (flushed with this iteration's output). */
static void keep_point(ad_run_t *run, json_t *pt)
{
    const char *name = json_string_value(json_object_get(pt, "name"));
    json_t *ts = json_object_get(pt, "ts");
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX ||
        !isfinite(json_number_value(json_object_get(pt, "value"))) ||
        (ts != NULL && !json_is_integer(ts))) {
        return; /* the live event still shows it; the store keeps what it can chart */
    }
    hook_point(run, name, json_object_get(pt, "step"),
               json_number_value(json_object_get(pt, "value")));
    if (run->metric_points == NULL) {
        run->metric_points = json_array();
    }
    json_array_append(run->metric_points, pt);
    if (json_array_size(run->metric_points) >= AD_RUN_METRIC_BATCH) {
        flush_metric_points(run, false);
    }
    want_check(run);
}

void ad_run_keep_dist(ad_run_t *run, json_t *d)
{
    if (run->metric_dists == NULL) {
        run->metric_dists = json_array();
    }
    json_array_append(run->metric_dists, d);
    if (json_array_size(run->metric_dists) >= AD_RUN_DIST_BATCH) {
        flush_metric_points(run, false);
    }
    want_check(run);
}

static void metric_point(ad_run_t *run, json_t *points, const char *name, json_t *value,
                         json_t *step, json_t *ts)
{
    double v;
    if (!json_is_number(value)) {
        /* NaN or an infinity: shown to the hook (an alert on it), never stored */
        if (ad_json_number_ext(value, &v) && name[0] != '\0' &&
            strlen(name) <= AD_SERIES_NAME_MAX) {
            hook_point(run, name, step, v);
        }
        return;
    }
    json_t *pt = json_pack("{s:s, s:O}", "name", name, "value", value);
    if (json_is_integer(step)) {
        json_object_set(pt, "step", step);
    }
    if (ts != NULL) {
        json_object_set(pt, "ts", ts);
    }
    keep_point(run, pt);
    json_array_append_new(points, pt);
}

/* A command agent's `metric` / `metrics` line: metrics_update. */
static void on_metrics(ad_run_t *run, const char *type, json_t *obj)
{
    json_t *points = json_array();
    json_t *step = json_object_get(obj, "step");
    json_t *ts = json_object_get(obj, "ts");
    if (strcmp(type, "metric") == 0) {
        const char *name = json_string_value(json_object_get(obj, "name"));
        if (name != NULL) {
            metric_point(run, points, name, json_object_get(obj, "value"), step, ts);
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
            metric_point(run, points, k, v, step, ts);
        }
    }
    ad_run_topics_t t;
    ad_run_topics_copy(&t, &run->topics);
    snprintf(t.t[t.n], sizeof(t.t[0]), "metrics:%s", run->run_id);
    t.v[t.n] = t.t[t.n];
    t.n++;
    ad_run_publish(run->r, &t, "metrics_update",
                   json_pack("{s:s, s:s, s:o}", "agentId", run->agent_id, "runId", run->run_id,
                             "points", points));
}

/* An agent_update's step and metrics {reward, fps, successRate, ...}
 * numbers become points of series of those names. */
static void training_points(ad_run_t *run, json_t *patch)
{
    json_t *m = json_object_get(patch, "metrics");
    json_t *step = json_object_get(patch, "step");
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (json_is_number(v)) {
            json_t *pt = json_pack("{s:s, s:O}", "name", k, "value", v);
            if (json_is_integer(step)) {
                json_object_set(pt, "step", step);
            }
            keep_point(run, pt);
            json_decref(pt);
        }
    }
}

/* The toolId of a program's tool event (the seed writes tool_id). */
static const char *tool_id_of(json_t *p)
{
    const char *id = json_string_value(json_object_get(p, "toolId"));
    return id != NULL ? id : json_string_value(json_object_get(p, "tool_id"));
}

/* The run's calls in flight, allocated at its first. */
static ad_run_calls_t *calls_of(ad_run_t *run)
{
    if (run->calls == NULL) {
        run->calls = ad_xcalloc(1, sizeof(*run->calls));
    }
    return run->calls;
}

/* tool_start: its time, by toolId. tool_end: durationMs always, as the
 * program gave it, from its duration in seconds (the seed's), or measured
 * from its tool_start (durationMeasured: true); 0 with durationMeasured
 * false when there is neither. */
static void tool_timing(ad_run_t *run, const char *type, json_t *p)
{
    const char *id = tool_id_of(p);
    uint64_t now = ad_mono_ns() / 1000000u;
    if (type[5] == 's') {
        ad_run_calls_t *c = calls_of(run);
        size_t n = AD_ARRAY_LEN(c->starts);
        if (id == NULL || strlen(id) >= sizeof(c->starts[0].id)) {
            return;
        }
        if (c->nstarts == n) { /* the oldest start is let go */
            memmove(&c->starts[0], &c->starts[1], (n - 1) * sizeof(c->starts[0]));
            c->nstarts--;
        }
        snprintf(c->starts[c->nstarts].id, sizeof(c->starts[0].id), "%s", id);
        c->starts[c->nstarts++].at_ms = now;
        return;
    }
    int64_t started = -1;
    ad_run_calls_t *c = run->calls;
    for (unsigned i = 0; c != NULL && id != NULL && i < c->nstarts; i++) {
        if (strcmp(c->starts[i].id, id) == 0) {
            started = (int64_t)c->starts[i].at_ms;
            memmove(&c->starts[i], &c->starts[i + 1], (c->nstarts - i - 1) * sizeof(c->starts[0]));
            c->nstarts--;
            break;
        }
    }
    json_t *ms = json_object_get(p, "durationMs");
    json_t *secs = json_object_get(p, "duration");
    if (json_is_integer(ms) && json_integer_value(ms) >= 0) {
        return;
    }
    if (json_is_number(secs) && json_number_value(secs) >= 0 && json_number_value(secs) < 1e9) {
        json_object_set_new(p, "durationMs",
                            json_integer((json_int_t)(json_number_value(secs) * 1000.0 + 0.5)));
        return;
    }
    json_object_set_new(p, "durationMs",
                        json_integer(started >= 0 ? (json_int_t)(now - (uint64_t)started) : 0));
    json_object_set_new(p, "durationMeasured", json_boolean(started >= 0));
}

static void on_event_rec(ad_run_t *run, const ad_rec_t *rec)
{
    const char *type = rec->subtype;
    json_t *obj = rec->json;
    if (strcmp(type, "metric") == 0 || strcmp(type, "metrics") == 0) {
        on_metrics(run, type, obj);
        return;
    }
    if (strcmp(type, "histogram") == 0 || strcmp(type, "counts") == 0) {
        ad_run_on_dist(run, type, obj); /* dists.c */
        return;
    }
    if (strcmp(type, "agent_update") == 0) {
        json_t *patch = json_object_get(obj, "state");
        patch = json_is_object(patch) ? json_deep_copy(patch) : json_deep_copy(obj);
        json_object_del(patch, "type");
        /* the seed's client reads the fields at the top level (payload.step,
         * payload.metrics.reward); state keeps them for ours */
        json_t *ev = json_deep_copy(patch);
        json_object_set_new(ev, "id", json_string(run->agent_id));
        json_object_set(ev, "state", patch);
        /* our dashboard merges only state from these (the program's status
         * "training" is not the agent's) */
        json_object_set_new(ev, "source", json_string("program"));
        ad_run_publish(run->r, &run->topics, "agent_update", ev);
        training_points(run, patch);
        ad_store_agent_runtime_t u = {.context_level = -1, .state_patch = patch};
        ad_run_agent_update(run, &u, AD_AGENT_STATUS_KEEP, NULL, NULL);
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
    if (run->crew_id[0] != '\0') {
        json_object_set_new(p, "crewId", json_string(run->crew_id)); /* never another crew's */
    }
    if (strcmp(type, "tool_start") == 0 || strcmp(type, "tool_end") == 0) {
        tool_timing(run, type, p);
    }
    json_t *ms = json_object_get(p, "durationMs");
    if (strcmp(type, "tool_end") == 0 && json_is_integer(ms) && json_integer_value(ms) >= 0) {
        ad_store_tool_timed(run->r->store, run->org_id, (int64_t)ad_wall_ms(),
                            json_integer_value(ms));
    }
    ad_run_publish(run->r, &run->topics, type, p);
}

/* A finished turn: usage (the run's and one request's in usage_stats),
 * and the agent waits for input when its process is still alive. */
static void on_result(ad_run_t *run, const ad_rec_t *rec)
{
    run->usage.input_tokens += rec->usage.input_tokens;
    run->usage.output_tokens += rec->usage.output_tokens;
    run->usage.cache_creation_tokens += rec->usage.cache_creation_tokens;
    run->usage.cache_read_tokens += rec->usage.cache_read_tokens;
    run->cost = rec->total_cost_usd >= 0 ? rec->total_cost_usd : run->cost + rec->cost_usd;
    run->turns += rec->num_turns;
    ad_usage_rec_t u = {
        .model = rec->model != NULL ? rec->model : ad_parser_model(run->parser),
        .input_tokens = rec->usage.input_tokens,
        .output_tokens = rec->usage.output_tokens,
        .cache_read_tokens = rec->usage.cache_read_tokens,
        .cache_write_tokens = rec->usage.cache_creation_tokens,
        .cost_usd = rec->cost_usd > 0 ? rec->cost_usd : 0,
        .error = rec->is_error,
    };
    ad_store_usage_record(run->r->store, &u, NULL, NULL);
    /* the run's row grows turn by turn, not only at its end */
    ad_store_run_usage_t ru = {
        .input_tokens = run->usage.input_tokens,
        .output_tokens = run->usage.output_tokens,
        .cache_read_tokens = run->usage.cache_read_tokens,
        .cache_write_tokens = run->usage.cache_creation_tokens,
        .cost_usd = run->cost,
        .num_turns = run->turns,
    };
    memcpy(ru.id, run->run_id, AD_ID_MAX);
    ad_store_run_usage(run->r->store, &ru, NULL, NULL);
    run->had_error = rec->is_error;
    snprintf(run->reason, sizeof(run->reason), "%s",
             !rec->is_error      ? ""
             : rec->text != NULL ? rec->text
                                 : "the agent reported an error");
    /* One-shot CLIs exit right after their turn: the run's end sets the
     * status (a `waiting` in between would invite a message they cannot
     * take). */
    if (run->rpc && run->stop_since != 0 && !ad_codex_app_busy(run->parser)) {
        ad_proc_stop(run->proc, false); /* the interrupted turn has ended (control.c) */
        return;
    }
    if (ad_proc_alive(run->proc) && !run->one_shot &&
        !(run->rpc && ad_codex_app_busy(run->parser))) {
        ad_store_agent_runtime_t upd = {.context_level = -1};
        /* an ACP agent goes on with the message that waited for this turn */
        bool more = run->exec == AD_EXEC_ACP && ad_acp_busy(run->parser);
        ad_agent_status_t st = rec->is_error ? AD_AGENT_STATUS_ERROR
                               : more        ? AD_AGENT_STATUS_RUNNING
                                             : AD_AGENT_STATUS_WAITING;
        const char *ref = run->said_id[0] != '\0' ? run->said_id : "(no message)";
        ad_store_status_reason_t why;
        if (rec->is_error) { /* why, as a run's end says it (the process lives on) */
            upd.state_patch = json_pack("{s:s}", "statusReason", run->reason);
            ad_status_reason_set(&why, "turn_failed", run->said_id, "result event %s: %s", ref,
                                 run->reason);
        } else if (more) {
            ad_status_reason_set(&why, "turn_started", run->said_id,
                                 "result event %s: the next waiting message goes on", ref);
        } else {
            ad_status_reason_set(&why, "turn_ended", run->said_id,
                                 "result event %s: the turn ended, the agent waits for your "
                                 "next message",
                                 ref);
        }
        ad_run_set_status(run, &upd, st, &why, NULL, NULL);
    }
}

/* A tool call's message, remembered until its result comes. */
static void call_opened(ad_run_t *run, const char *tool_id, const char *msg_id, int64_t at)
{
    ad_run_calls_t *c = calls_of(run);
    if (strlen(tool_id) >= sizeof(c->open[0].tool_id)) {
        return; /* an id that long keeps two rows */
    }
    if (c->nopen == AD_RUN_OPEN_CALLS) {
        memmove(&c->open[0], &c->open[1], (AD_RUN_OPEN_CALLS - 1) * sizeof(c->open[0]));
        c->nopen--;
    }
    size_t i = c->nopen++;
    snprintf(c->open[i].tool_id, sizeof(c->open[i].tool_id), "%s", tool_id);
    memcpy(c->open[i].msg_id, msg_id, AD_ID_MAX);
    c->open[i].at = at;
}

/* The message of tool call tool_id, taken off the open list: true when
 * there was one (its id and time in id and *at). */
static bool call_closed(ad_run_t *run, const char *tool_id, char id[AD_ID_MAX], int64_t *at)
{
    ad_run_calls_t *c = run->calls;
    for (size_t i = 0; c != NULL && i < c->nopen; i++) {
        if (strcmp(c->open[i].tool_id, tool_id) == 0) {
            memcpy(id, c->open[i].msg_id, AD_ID_MAX);
            *at = c->open[i].at;
            memmove(&c->open[i], &c->open[i + 1], (c->nopen - i - 1) * sizeof(c->open[0]));
            c->nopen--;
            return true;
        }
    }
    return false;
}

static void on_message_rec(ad_run_t *run, const ad_rec_t *rec)
{
    flush_output(run, 0);
    flush_output(run, 1);
    const char *text = rec->text != NULL ? rec->text : "";
    bool tool = rec->role == AD_ROLE_TOOL && rec->tool_id != NULL;
    char id[AD_ID_MAX];
    int64_t at = 0;
    bool result = tool && rec->is_complete && call_closed(run, rec->tool_id, id, &at);
    char made[AD_ID_MAX];
    int64_t now = result ? at : (int64_t)ad_wall_ms();
    json_t *ev = ad_run_queue_message_as(run, result ? id : NULL, now, ad_role_name(rec->role),
                                         text, strlen(text), rec, made);
    if (tool && !rec->is_complete) {
        call_opened(run, rec->tool_id, made, now);
    }
    if (rec->role == AD_ROLE_ASSISTANT && !rec->is_error) {
        free(run->last_text);
        run->last_text = ad_xstrdup(text);
        memcpy(run->last_id, made, AD_ID_MAX);
        run->last_at = now;
    }
    ad_run_publish(run->r, &run->topics, result ? "message_updated" : "message_created",
                   json_pack("{s:o}", "message", ev));
}

/* The real output tokens of the API message the last assistant message
 * came from: that message is written again with them. */
static void on_tokens_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (run->last_text == NULL) {
        return;
    }
    ad_rec_t r = {.type = AD_REC_MESSAGE,
                  .role = AD_ROLE_ASSISTANT,
                  .token_count = rec->token_count,
                  .is_complete = true};
    json_t *ev = ad_run_queue_message_as(run, run->last_id, run->last_at, "assistant",
                                         run->last_text, strlen(run->last_text), &r, NULL);
    free(run->last_text);
    run->last_text = NULL;
    ad_run_publish(run->r, &run->topics, "message_updated", json_pack("{s:o}", "message", ev));
}

static void on_tool_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type == AD_REC_TOOL_START) {
        ad_run_publish(run->r, &run->topics, "tool_start",
                       json_pack("{s:s?, s:s?, s:O?, s:s, s:s, s:s?}", "toolId", rec->tool_id,
                                 "name", rec->tool_name, "params", rec->json, "agentId",
                                 run->agent_id, "runId", run->run_id, "crewId",
                                 run->crew_id[0] ? run->crew_id : NULL));
        return;
    }
    ad_store_tool_timed(run->r->store, run->org_id, (int64_t)ad_wall_ms(), rec->duration_ms);
    json_t *end = json_pack(
        "{s:s?, s:I, s:s, s:o, s:s, s:s, s:s?}", "toolId", rec->tool_id, "durationMs",
        (json_int_t)rec->duration_ms, "status", rec->is_error ? "error" : "success", "exitCode",
        rec->exit_code >= 0 ? json_integer(rec->exit_code) : json_null(), "agentId", run->agent_id,
        "runId", run->run_id, "crewId", run->crew_id[0] ? run->crew_id : NULL);
    if (rec->is_error && ad_run_tool_denied(run, rec->tool_id)) {
        json_object_set_new(end, "denied", json_true()); /* the user's answer, not a failure */
    }
    ad_run_publish(run->r, &run->topics, "tool_end", end);
}

static void on_session_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->version != NULL) {
        ad_run_version_set(run, rec->version);
    }
    if (rec->session_id == NULL) {
        return;
    }
    ad_run_publish(run->r, &run->topics, "agent_update",
                   json_pack("{s:s, s:s}", "id", run->agent_id, "sessionId", rec->session_id));
    ad_store_agent_runtime_t u = {.context_level = -1};
    if (run->fork_pending) { /* the fork has its own session now */
        u.state_patch = json_pack("{s:b}", "forkSession", false);
        run->fork_pending = false;
    }
    if (strlen(rec->session_id) >= sizeof(u.session_id)) {
        json_decref(u.state_patch);
        ad_log(AD_LOG_WARN, "runner", "session id too long, not stored agent=%s", run->agent_id);
        return;
    }
    snprintf(u.session_id, sizeof(u.session_id), "%s", rec->session_id);
    ad_run_agent_update(run, &u, AD_AGENT_STATUS_KEEP, NULL, NULL);
}

static void on_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_OUTPUT) {
        ad_run_flush_live(run); /* events keep the order the agent wrote them in */
    }
    const char *text = rec->text != NULL ? rec->text : "";
    switch (rec->type) {
    case AD_REC_OUTPUT:
        live_output(run, 0, text, strlen(text));
        add_output(run, 0, text, strlen(text));
        break;
    case AD_REC_DELTA:
        if (rec->text != NULL) {
            publish_output(run, "stdout", text, strlen(text), false);
        }
        break;
    case AD_REC_SESSION:
        on_session_rec(run, rec);
        break;
    case AD_REC_MESSAGE:
        on_message_rec(run, rec);
        break;
    case AD_REC_TOOL_START:
    case AD_REC_TOOL_END:
        on_tool_rec(run, rec);
        break;
    case AD_REC_RESULT:
        on_result(run, rec);
        break;
    case AD_REC_NOTICE:
        if (rec->text != NULL) {
            publish_output(run, "system", text, strlen(text), true);
        }
        break;
    case AD_REC_CONTEXT: {
        ad_run_publish(run->r, &run->topics, "agent_context",
                       json_pack("{s:s, s:i}", "agentId", run->agent_id, "level", rec->level));
        ad_store_agent_runtime_t u = {.context_level = rec->level};
        ad_run_agent_update(run, &u, AD_AGENT_STATUS_KEEP, NULL, NULL);
        break;
    }
    case AD_REC_EVENT:
        if (rec->subtype != NULL && rec->json != NULL) {
            on_event_rec(run, rec);
        }
        break;
    case AD_REC_TOKENS:
        on_tokens_rec(run, rec);
        break;
    case AD_REC_APPROVAL:
        ad_run_on_approval_rec(run, rec);
        break;
    case AD_REC_WRITE: /* the protocol's own answer (codex app-server) */
        if (rec->text != NULL && run->proc != NULL &&
            ad_proc_write(run->proc, rec->text, strlen(rec->text)) != 0) {
            ad_log(AD_LOG_WARN, "runner", "protocol line not written agent=%s", run->agent_id);
        }
        break;
    case AD_REC_REQUEST:
        ad_run_acp_request(run, rec);
        break;
    case AD_REC_FAULT:
        ad_run_acp_fault(run, rec);
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
    size_t n = len < sizeof(run->last_err) - 1 ? len : sizeof(run->last_err) - 1;
    while (n > 0 && n < len && ((unsigned char)line[skip + n] & 0xC0) == 0x80) {
        n--; /* not in the middle of a UTF-8 character */
    }
    memcpy(run->last_err, line + skip, n);
    run->last_err[n] = '\0';
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
    ad_run_line_end(run);
}

void ad_run_on_data(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t len, void *ud)
{
    AD_UNUSED(p);
    AD_UNUSED(stream);
    ad_run_t *run = ud;
    if (len >= AD_RUN_REPLAY_BYTES) {
        ad_buf_reset(&run->replay);
        /* Its cap is AD_RUN_REPLAY_BYTES: exactly that fits an empty buffer. */
        AD_DISCARD(
            ad_buf_append(&run->replay, data + len - AD_RUN_REPLAY_BYTES, AD_RUN_REPLAY_BYTES));
    } else {
        if (run->replay.len + len > AD_RUN_REPLAY_BYTES) {
            ad_buf_consume(&run->replay, run->replay.len + len - AD_RUN_REPLAY_BYTES);
        }
        /* Room was made above: the tail always fits the cap. */
        AD_DISCARD(ad_buf_append(&run->replay, data, len));
    }
    for (ad_runner_tap_t *t = run->taps, *next; t != NULL; t = next) {
        next = t->next; /* a viewer may detach itself */
        t->cb(data, len, t->ud);
    }
}

int ad_runner_tap(ad_runner_t *r, const char *agent_id, ad_runner_raw_cb cb, void *ud,
                  ad_runner_tap_t **out)
{
    ad_run_t *run = ad_run_find(r, agent_id);
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
