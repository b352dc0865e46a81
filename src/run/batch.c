/* SPDX-License-Identifier: MIT */
/*
 * A run's stored messages on their way to the writer (output.c queues
 * them): batches handed to the store in the order they were made, a held
 * run's spool acknowledged once its rows are committed, plain output shed
 * while the writer is behind, and the stuck queue that hands a batch the
 * store refused for space to it again (a full disk, PostgreSQL away).
 */
#include "run/features.h"

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
        run->msgs.lost_rows += f->batch.n;
    }
    batch_free(f, rc);
}

/* ---- the stuck queue: storing again after a full disk ----------------------------
 * A batch the store refused for space waits in r->stuck (in the order the
 * batches were made), with every later batch, agent change and run end
 * behind it; a timer with backoff hands the first to the writer again.
 * Nothing behind a stuck batch is acknowledged to a holder, so what is not
 * stored stays in the spool; held runs are not read meanwhile (their
 * holders spool, then stall their agents), and the runs say `stalled: disk
 * full`. A store call (an agent's change, a run's end) is made in its turn
 * and waits for its answer before the next (ad_run_store_again), so an
 * older change is never written over a newer one. */
/* An entry is a batch (f), or a store call fn(ud) for agent_id (the
 * caller's string): at the writer while it is first and r->retrying, and
 * out of the queue once answered otherwise than "no room". */
struct ad_run_stuck {
    struct ad_run_stuck *next;
    uint64_t seq;
    inflight_t *f;
    ad_run_after_fn fn;
    void *ud;
    const char *agent_id;
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
        if (run->stall.store != on) {
            run->stall.store = on;
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

/* The first in the stuck queue was refused again: tried after twice the
 * wait, up to the max. */
static void retry_later(ad_runner_t *r)
{
    r->retry_ms = r->retry_ms * 2 > AD_RUN_RETRY_MAX_MS ? AD_RUN_RETRY_MAX_MS : r->retry_ms * 2;
    arm_retry(r);
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
        r->retrying = true;
        e->fn(e->ud, false);
        return;
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
        retry_later(r);
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

const char *ad_run_stuck_reason(const ad_runner_t *r)
{
    return r->stuck_rc == AD_EUNAVAIL ? "database unreachable" : "disk full";
}

/* The queue's first entry, refused with rc: the runs stall, and say why. */
static void stuck_began(ad_runner_t *r, int rc, const char *what)
{
    r->stuck_rc = rc;
    ad_log(AD_LOG_WARN, "runner", "storing %s failed (%s); holding it and retrying", what,
           ad_run_stuck_reason(r));
    set_store_stall(r, true);
}

static void stuck_push(ad_runner_t *r, inflight_t *f, int rc)
{
    bool first = r->stuck == NULL;
    ad_run_stuck_t *e = ad_xcalloc(1, sizeof(*e));
    e->seq = f->seq;
    e->f = f;
    stuck_insert(r, e);
    if (first) {
        stuck_began(r, rc, "messages");
    }
    ad_run_t *run = batch_run(f);
    if (run != NULL && !run->stall.store) { /* a run started meanwhile */
        run->stall.store = true;
        if (run->proc != NULL) {
            ad_proc_held_hold_back(run->proc, true);
        }
        ad_run_stall_update(run);
    }
    arm_retry(r);
}

static ad_run_stuck_t *call_entry(ad_runner_t *r, ad_run_after_fn fn, void *ud,
                                  const char *agent_id)
{
    ad_run_stuck_t *e = ad_xcalloc(1, sizeof(*e));
    e->seq = r->batch_seq++;
    e->fn = fn;
    e->ud = ud;
    e->agent_id = agent_id;
    stuck_insert(r, e);
    return e;
}

bool ad_run_store_call(ad_runner_t *r, ad_run_after_fn fn, void *ud, const char *agent_id)
{
    if (r->stuck == NULL) {
        fn(ud, false);
        return true;
    }
    call_entry(r, fn, ud, agent_id);
    return false;
}

bool ad_run_store_waits(const ad_runner_t *r, const char *agent_id)
{
    for (const ad_run_stuck_t *e = r->stuck; e != NULL && agent_id != NULL; e = e->next) {
        if (e->f == NULL && e->agent_id != NULL && strcmp(e->agent_id, agent_id) == 0) {
            return true;
        }
    }
    return false;
}

bool ad_run_store_again(ad_runner_t *r, int rc, ad_run_after_fn fn, void *ud, const char *agent_id)
{
    ad_run_stuck_t *e = r->stuck;
    if (e != NULL && e->f == NULL && e->ud == ud && r->retrying) { /* its turn's answer */
        r->retrying = false;
        if (retryable(rc) && !r->closing) {
            retry_later(r);
            return true;
        }
        r->stuck = e->next;
        free(e);
        if (!r->closing) {
            stuck_next(r);
        }
        return false;
    }
    if (!retryable(rc) || r->closing) {
        return false;
    }
    bool first = r->stuck == NULL;
    call_entry(r, fn, ud, agent_id);
    if (first) {
        stuck_began(r, rc, "a change");
    }
    arm_retry(r);
    return true;
}

/* A write of its own in the stuck queue (ad_run_write): what to write
 * (arg), how (fn) and whose (agent_id, for the queue's mark). */
typedef struct {
    ad_runner_t *r;
    ad_run_write_fn fn;
    void *arg;
    void (*free_arg)(void *);
    const char *what; /* static, for the log */
    char agent_id[AD_ID_MAX];
} write_t;

static void write_free(write_t *w)
{
    w->free_arg(w->arg);
    free(w);
}

static void write_call(void *ud, bool cancelled)
{
    write_t *w = ud;
    if (cancelled) { /* the daemon closes: dropped, as a change that waits is */
        write_free(w);
        return;
    }
    w->fn(w->r, w->arg, w);
}

void ad_run_write_done(int rc, void *ctx)
{
    write_t *w = ctx;
    if (ad_run_store_again(w->r, rc, write_call, w, w->agent_id)) {
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "%s not stored agent=%s error=%s", w->what, w->agent_id,
               ad_strerror(rc));
    }
    write_free(w);
}

void ad_run_write(ad_runner_t *r, const char *agent_id, const char *what, ad_run_write_fn fn,
                  void *arg, void (*free_arg)(void *))
{
    write_t *w = ad_xcalloc(1, sizeof(*w));
    w->r = r;
    w->fn = fn;
    w->arg = arg;
    w->free_arg = free_arg != NULL ? free_arg : free;
    w->what = what;
    snprintf(w->agent_id, sizeof(w->agent_id), "%s", agent_id != NULL ? agent_id : "");
    ad_run_store_call(r, write_call, w, w->agent_id);
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
        stuck_push(r, f, rc);
    } else {
        batch_lost(f, rc);
    }
}

/* The writer is behind: live events still flow, but storage sheds plain
 * output rather than queueing without bound. Messages the agent meant
 * (assistant text, tools) are kept. */
static void shed_output(ad_run_t *run)
{
    ad_run_batch_t *b = &run->msgs.batch;
    if (run->msgs.dropped == 0) {
        ad_log(AD_LOG_WARN, "runner", "writer behind, not storing some output agent=%s",
               run->agent_id);
    }
    size_t keep = 0, first = run->held.line_first;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].output) {
            b->bytes -= b->v[i].bytes;
            msg_cleanup(&b->v[i]);
            run->msgs.dropped++;
            run->held.line_first -= i < first ? 1 : 0;
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
    ad_run_batch_t *b = &run->msgs.batch;
    if (n == b->n) {
        *out = *b;
        memset(b, 0, sizeof(*b));
        run->held.line_first = 0;
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
    run->held.line_first -= n;
}

void ad_run_flush_batch(ad_run_t *run, ad_store_done_cb done, void *ctx)
{
    ad_runner_t *r = run->r;
    if (done == NULL && r->inflight_bytes + run->msgs.batch.bytes > AD_RUN_INFLIGHT_BYTES) {
        /* A held run's output waits in its spool instead (resumed below
         * once the writer has caught up): nothing is lost. */
        if (run->proc != NULL && ad_proc_held_hold_back(run->proc, true)) {
            r->held_back = true;
        } else {
            shed_output(run);
        }
    }
    /* The rows of the line being handled wait for its end (hold.c). */
    size_t n = run->held.in_line && run->held.line_first < run->msgs.batch.n ? run->held.line_first
                                                                             : run->msgs.batch.n;
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
        stuck_push(r, f, AD_EFULL); /* behind the batches that wait for space */
        return;
    }
    ad_store_messages_insert(r->store, f->rows, f->batch.n, on_batch_done, f);
}
