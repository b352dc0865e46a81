/* SPDX-License-Identifier: MIT */
/*
 * The writer thread: jobs queued from the loop run in groups, one
 * transaction per group (group commit), a failing job rolled back alone;
 * completions go back to the loop through a uv_async. Also the JSON ops
 * the REST layer writes with, and ad_store_flush. What each job writes is
 * the table files' business.
 *
 * PostgreSQL going away (issue #39): a group that did not commit because
 * the connection was lost was rolled back by the server; the writer keeps
 * it, connects again with backoff and runs it again whole, so no job is
 * completed before its commit and none is applied twice. A COMMIT whose
 * answer was lost with the connection may have been applied: the group's
 * transaction id (read with its BEGIN) is looked up once connected again
 * (txid_status), and the group runs again only if it was not; a session
 * the server still holds open in that transaction (a cut network, not a
 * closed socket) is ended after COMMIT_WAIT_NS first. While the server is away new
 * jobs wait behind it, up to AD_STORE_DOWN_JOBS jobs and
 * AD_STORE_DOWN_BYTES bytes (as their submitters sized them); past that a
 * job is refused at once with AD_EUNAVAIL, not run. Idle, the writer pings
 * the server every few seconds (the health's round trip, and an outage
 * seen without traffic).
 */
#include "store/store_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUSY_RETRIES 10
/* Connecting again after PostgreSQL went away: the first wait, doubled up to the last. */
#define DOWN_WAIT_MIN_NS 100000000ull
#define DOWN_WAIT_MAX_NS 2000000000ull
/* An idle writer's ping of PostgreSQL: health knows it away within a second (issue #78). */
#define PING_EVERY_NS 500000000ull
/* How long a lost COMMIT's session may stay "in progress" before it is ended. */
#define COMMIT_WAIT_NS 5000000000ull

typedef struct ad_store_job {
    struct ad_store_job *next;
    ad_store_job_fn fn;
    ad_store_done_cb done;
    void *ctx;
    size_t bytes; /* what the submitter said it holds (0: not said) */
    bool norow;   /* writes no row (ad_store_submit_norow) */
    int rc;
} job_t;

/* ---- writer thread ------------------------------------------------------------- */

static int step_retry(ad_store_stats_t *d, ad_db_stmt_t *s)
{
    int rc = AD_DB_BUSY;
    for (int i = 0; i < BUSY_RETRIES; i++) {
        rc = ad_db_step(s);
        ad_db_reset(s);
        if ((rc & 0xff) != AD_DB_BUSY && (rc & 0xff) != AD_DB_LOCKED) {
            break;
        }
        d->retries++;
        usleep(1000u << (i < 6 ? i : 6));
    }
    return rc;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT job";
static const char SQL_RELEASE[] = "RELEASE job";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO job";

/* Begins the group's transaction. 0, or sets every job's rc and fails. */
static int group_begin(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    int rc = st->url != NULL ? ad_db_pg_begin(st->wdb, &st->group_xid, &st->group_pid)
                             : step_retry(d, ad_store_stmt(st->wdb, SQL_BEGIN));
    if (rc == AD_DB_DONE) {
        return 0;
    }
    int e = ad_store_rc(st->wdb, rc);
    for (job_t *j = head; j != NULL; j = j->next) {
        j->rc = e != 0 ? e : AD_EINTERNAL;
    }
    return -1;
}

static int run_job(ad_store_t *st, job_t *j)
{
    int rc = j->fn(&st->tx, j->ctx);
    return rc > 0 ? AD_EINTERNAL : rc; /* a job returned a SQLite code: a bug */
}

/* The fast path: every job straight in the transaction, no savepoints
 * (they cost about as much as a small insert). True when all succeeded and
 * the transaction is still open; otherwise it is rolled back. */
static bool run_fast(ad_store_t *st, job_t *head)
{
    ad_db_t *db = st->wdb;
    for (job_t *j = head; j != NULL; j = j->next) {
        j->rc = run_job(st, j);
        if (j->rc != 0 || ad_db_get_autocommit(db)) {
            if (!ad_db_get_autocommit(db)) {
                ad_db_step(ad_store_stmt(db, SQL_ROLLBACK));
            }
            return false;
        }
    }
    return true;
}

/* The careful path, after a failure: each job in its own SAVEPOINT so a
 * failing one is rolled back alone. */
static void run_safe(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    ad_db_t *db = st->wdb;
    for (job_t *j = head; j != NULL; j = j->next) {
        if (ad_db_get_autocommit(db)) {
            /* An earlier job's error (FULL, IOERR) made SQLite roll back
             * the whole transaction: the rest of this group is lost. */
            j->rc = AD_EIO;
            continue;
        }
        int rc = ad_db_step(ad_store_stmt(db, SQL_SAVEPOINT));
        if (rc != AD_DB_DONE) {
            j->rc = ad_store_rc(db, rc);
            continue;
        }
        j->rc = run_job(st, j);
        if (ad_db_get_autocommit(db)) {
            /* The job's error rolled back everything before it too. */
            int e = j->rc != 0 ? j->rc : AD_EIO;
            j->rc = e;
            for (job_t *k = head; k != j; k = k->next) {
                if (k->rc == 0) {
                    k->rc = e;
                }
            }
            continue;
        }
        if (j->rc != 0) {
            ad_db_step(ad_store_stmt(db, SQL_ROLLBACK_TO));
        }
        ad_db_step(ad_store_stmt(db, SQL_RELEASE));
    }
    for (job_t *j = head; j != NULL; j = j->next) {
        if (j->rc != 0) {
            d->failed++;
        }
    }
}

/* A committed group's latency, into the histogram. */
static void count_commit(ad_store_stats_t *d, uint64_t t0)
{
    double sec = (double)(uv_hrtime() - t0) / 1e9;
    size_t b = 0;
    while (b < AD_STORE_COMMIT_BUCKETS && sec > ad_store_commit_bounds[b]) {
        b++;
    }
    d->commit_counts[b]++;
    d->commit_sum_sec += sec;
}

/* A group of jobs that write no row (the event log's batches and trims)
 * needs no transaction: an empty BEGIN IMMEDIATE and COMMIT cost SQLite
 * its write lock and PostgreSQL two round trips. Each job runs once and
 * keeps its own rc. */
static bool run_norow(ad_store_t *st, job_t *head, ad_store_stats_t *d, uint64_t t0)
{
    for (job_t *j = head; j != NULL; j = j->next) {
        j->rc = run_job(st, j);
        if (j->rc != 0) {
            d->failed++;
        }
    }
    d->groups++;
    count_commit(d, t0);
    return true;
}

/* Runs one group of jobs in a transaction and sets each job's rc: true
 * when it committed. */
static bool run_group(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    ad_db_t *db = st->wdb;
    uint64_t t0 = uv_hrtime();
    bool norow = true;
    for (job_t *j = head; j != NULL; j = j->next) {
        d->jobs++;
        norow = norow && j->norow;
    }
    if (norow) {
        return run_norow(st, head, d, t0);
    }
    if (group_begin(st, head, d) != 0) {
        return false;
    }
    if (!run_fast(st, head)) {
        /* Someone failed: start again, this time isolating each job. */
        for (job_t *j = head; j != NULL; j = j->next) {
            j->rc = 0;
        }
        if (group_begin(st, head, d) != 0) {
            return false;
        }
        run_safe(st, head, d);
    }
    if (ad_db_get_autocommit(db)) {
        return false;
    }
    int rc = step_retry(d, ad_store_stmt(db, SQL_COMMIT));
    if (rc != AD_DB_DONE && st->url != NULL && ad_db_pg_lost(db)) {
        /* Applied or not: asked once connected again (rerun_lost). The
         * jobs keep their rc until then. */
        st->commit_unknown = true;
        return false;
    }
    if (rc != AD_DB_DONE) {
        int e = ad_store_rc(db, rc);
        if (e == 0) {
            e = AD_EINTERNAL;
        }
        if (!ad_db_get_autocommit(db)) {
            ad_db_step(ad_store_stmt(db, SQL_ROLLBACK));
        }
        for (job_t *j = head; j != NULL; j = j->next) {
            if (j->rc == 0) {
                j->rc = e;
            }
        }
        return false;
    }
    d->groups++;
    count_commit(d, t0);
    return true;
}

/* ---- PostgreSQL away ----------------------------------------------------------------- */

/* Waits ns (under st->lock, released meanwhile) or until the store stops. */
static void nap(ad_store_t *st, uint64_t ns)
{
    uint64_t end = uv_hrtime() + ns;
    for (uint64_t now = uv_hrtime(); now < end && !st->stopping; now = uv_hrtime()) {
        AD_DISCARD(uv_cond_timedwait(&st->cond, &st->lock, end - now)); /* woken or timed out */
    }
}

static uint64_t backoff_next(uint64_t ns)
{
    return ns * 2 > DOWN_WAIT_MAX_NS ? DOWN_WAIT_MAX_NS : ns * 2;
}

/* After a COMMIT whose answer was lost, connected again: whether the
 * server applied the group's transaction (1), did not (0), or the
 * connection was lost again (-1). While the old session is still in that
 * transaction (the server has not seen it go) it waits, then ends it.
 * Writer thread, st->lock not held. */
static int commit_applied(ad_store_t *st)
{
    uint64_t start = uv_hrtime(), wait = DOWN_WAIT_MIN_NS / 10;
    bool ended = false;
    for (;;) {
        int status = AD_DB_XACT_ABORTED;
        int rc = ad_db_pg_xact_status(st->wdb, st->group_xid, &status);
        if (rc != AD_DB_OK) {
            return ad_db_pg_lost(st->wdb) ? -1 : 0;
        }
        if (status != AD_DB_XACT_RUNNING) {
            return status == AD_DB_XACT_COMMITTED;
        }
        if (!ended && uv_hrtime() - start >= COMMIT_WAIT_NS) {
            ended = true;
            ad_log(AD_LOG_WARN, "store",
                   "ending PostgreSQL session %d: still in the transaction whose COMMIT's "
                   "answer was lost",
                   st->group_pid);
            if (ad_db_pg_end_session(st->wdb, st->group_pid, st->group_xid) != AD_DB_OK &&
                ad_db_pg_lost(st->wdb)) {
                return -1;
            }
        }
        usleep((useconds_t)(wait / 1000)); /* not cut short by a stop: the answer is owed */
        wait = backoff_next(wait);
    }
}

/* A group that did not commit because the connection was lost: connected
 * again (with backoff) and run again whole until it commits or fails for
 * itself; when the store stops with the server still away, its jobs fail
 * with AD_EUNAVAIL. Writer thread, st->lock not held. */
static void rerun_lost(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    uint64_t wait = DOWN_WAIT_MIN_NS;
    uv_mutex_lock(&st->lock);
    st->down_group = true;
    uv_mutex_unlock(&st->lock);
    while (ad_db_pg_lost(st->wdb)) {
        uv_mutex_lock(&st->lock);
        nap(st, wait);
        bool stopping = st->stopping;
        uv_mutex_unlock(&st->lock);
        if (ad_db_pg_reconnect(st->wdb) == 0) {
            if (st->commit_unknown) {
                int applied = commit_applied(st);
                if (applied < 0) {
                    wait = backoff_next(wait);
                    continue; /* lost again: ask again once back */
                }
                st->commit_unknown = false;
                if (applied == 1) {
                    d->found_applied++;
                    d->groups++;
                    break; /* the jobs' rc are as they ran */
                }
            }
            for (job_t *j = head; j != NULL; j = j->next) {
                j->rc = 0;
            }
            d->reruns++;
            if (run_group(st, head, d) || !ad_db_pg_lost(st->wdb)) {
                break;
            }
            wait = DOWN_WAIT_MIN_NS;
            continue;
        }
        if (stopping) {
            for (job_t *j = head; j != NULL; j = j->next) {
                j->rc = AD_EUNAVAIL;
            }
            st->commit_unknown = false;
            break;
        }
        wait = backoff_next(wait);
    }
    uv_mutex_lock(&st->lock);
    st->down_group = false;
    uv_mutex_unlock(&st->lock);
}

/* Idle on PostgreSQL: connects again (the server was seen away) or pings.
 * Writer thread, st->lock not held. */
static void probe(ad_store_t *st, uint64_t *wait)
{
    double sec;
    if (ad_db_pg_lost(st->wdb)) {
        *wait = ad_db_pg_reconnect(st->wdb) == 0 ? DOWN_WAIT_MIN_NS : backoff_next(*wait);
    } else if (ad_db_pg_ping(st->wdb, &sec) == 0) {
        *wait = DOWN_WAIT_MIN_NS;
    }
}

static void writer_main(void *arg)
{
    ad_store_t *st = arg;
    uint64_t wait = DOWN_WAIT_MIN_NS;
    uint64_t last_ping = uv_hrtime();
    uv_mutex_lock(&st->lock);
    for (;;) {
        while (st->queue_head == NULL && !st->stopping) {
            if (st->url == NULL) {
                uv_cond_wait(&st->cond, &st->lock);
                continue;
            }
            bool away = ad_db_pg_down() || ad_db_pg_lost(st->wdb);
            if (uv_cond_timedwait(&st->cond, &st->lock, away ? wait : PING_EVERY_NS) ==
                    UV_ETIMEDOUT &&
                st->queue_head == NULL && !st->stopping) {
                uv_mutex_unlock(&st->lock);
                last_ping = uv_hrtime();
                probe(st, &wait);
                uv_mutex_lock(&st->lock);
            }
        }
        if (st->queue_head == NULL) {
            break; /* stopping and drained */
        }
        /* Take up to the bound; leave the rest for the next group. */
        job_t *head = st->queue_head, *tail = head;
        size_t n = 1;
        while (tail->next != NULL && n < AD_STORE_GROUP_MAX) {
            tail = tail->next;
            n++;
        }
        st->queue_head = tail->next;
        if (st->queue_head == NULL) {
            st->queue_tail = NULL;
        }
        st->queued -= n;
        for (job_t *j = head; j != NULL; j = j->next) {
            st->queued_bytes -= j->bytes;
        }
        tail->next = NULL;
        uv_mutex_unlock(&st->lock);

        ad_store_stats_t d = {0};
        if (st->url != NULL && uv_hrtime() - last_ping >= PING_EVERY_NS) {
            last_ping = uv_hrtime(); /* a busy writer's round trip, too */
            probe(st, &wait);
        }
        if (st->url != NULL && ad_db_pg_lost(st->wdb)) {
            AD_DISCARD(ad_db_pg_reconnect(st->wdb)); /* else the group fails, and waits below */
        }
        if (!run_group(st, head, &d) && st->url != NULL && ad_db_pg_lost(st->wdb)) {
            rerun_lost(st, head, &d);
        }

        uv_mutex_lock(&st->lock);
        st->stats.jobs += d.jobs;
        st->stats.groups += d.groups;
        st->stats.failed += d.failed;
        st->stats.retries += d.retries;
        st->stats.reruns += d.reruns;
        st->stats.found_applied += d.found_applied;
        for (size_t b = 0; b <= AD_STORE_COMMIT_BUCKETS; b++) {
            st->stats.commit_counts[b] += d.commit_counts[b];
        }
        st->stats.commit_sum_sec += d.commit_sum_sec;
        if (st->done_tail != NULL) {
            st->done_tail->next = head;
        } else {
            st->done_head = head;
        }
        st->done_tail = tail;
        uv_mutex_unlock(&st->lock);
        uv_async_send(&st->async);
        uv_mutex_lock(&st->lock);
    }
    uv_mutex_unlock(&st->lock);
}

static void deliver(ad_store_t *st)
{
    uv_mutex_lock(&st->lock);
    job_t *j = st->done_head;
    st->done_head = st->done_tail = NULL;
    uv_mutex_unlock(&st->lock);
    while (j != NULL) {
        job_t *next = j->next;
        st->outstanding--;
        if (j->done != NULL) {
            j->done(j->rc, j->ctx);
        }
        free(j);
        j = next;
    }
    if (st->outstanding == 0 && !uv_is_closing((uv_handle_t *)&st->async)) {
        uv_unref((uv_handle_t *)&st->async);
    }
}

static void on_async(uv_async_t *h)
{
    deliver(h->data);
}

static void wake_writer(ad_store_t *st)
{
    if (st->wake_pending) {
        st->wake_pending = false;
        uv_cond_signal(&st->cond);
    }
}

static void on_wake_check(uv_check_t *h)
{
    wake_writer(h->data);
}

static void on_wake_prepare(uv_prepare_t *h)
{
    wake_writer(h->data);
}

static void submit(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx,
                   size_t bytes, bool norow)
{
    job_t *j = ad_xmalloc(sizeof(*j));
    j->next = NULL;
    j->fn = fn;
    j->done = done;
    j->ctx = ctx;
    j->bytes = bytes;
    j->norow = norow;
    j->rc = 0;
    if (st->outstanding++ == 0) {
        uv_ref((uv_handle_t *)&st->async);
    }
    uv_mutex_lock(&st->lock);
    if (st->url != NULL && (st->down_group || ad_db_pg_down()) &&
        (st->queued >= AD_STORE_DOWN_JOBS || st->queued_bytes + bytes > AD_STORE_DOWN_BYTES)) {
        /* PostgreSQL is away and the queue is at its bound: refused, not
         * run, completed on the loop's next turn (never inside this call). */
        j->rc = AD_EUNAVAIL;
        st->stats.refused++;
        if (st->done_tail != NULL) {
            st->done_tail->next = j;
        } else {
            st->done_head = j;
        }
        st->done_tail = j;
        uv_mutex_unlock(&st->lock);
        uv_async_send(&st->async);
        return;
    }
    st->queued_bytes += bytes;
    if (st->queue_tail != NULL) {
        st->queue_tail->next = j;
    } else {
        st->queue_head = j;
    }
    st->queue_tail = j;
    st->queued++;
    if (st->queued == 1) {
        /* The writer may be asleep: wake it at the end of this round. */
        st->wake_pending = true;
    }
    uv_mutex_unlock(&st->lock);
}

void ad_store_submit_sized(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx,
                           size_t bytes)
{
    submit(st, fn, done, ctx, bytes, false);
}

void ad_store_submit(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx)
{
    submit(st, fn, done, ctx, 0, false);
}

void ad_store_submit_norow(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx)
{
    submit(st, fn, done, ctx, 0, true);
}

/* ---- JSON ops --------------------------------------------------------------------- */

typedef struct {
    ad_store_op_fn op;
    json_t *args;
    json_t *result;
    ad_store_result_cb cb;
    void *ud;
} op_job_t;

static int op_run(ad_store_tx_t *tx, void *ctx)
{
    op_job_t *o = ctx;
    /* A job may run twice (see ad_store_job_fn): forget the first result. */
    json_decref(o->result);
    o->result = NULL;
    return o->op(tx, o->args, &o->result);
}

static void op_done(int rc, void *ctx)
{
    op_job_t *o = ctx;
    json_decref(o->args);
    if (o->cb != NULL) {
        o->cb(rc, o->result, o->ud);
    } else {
        json_decref(o->result);
    }
    free(o);
}

static int flush_job(ad_store_tx_t *tx, void *ctx)
{
    (void)tx;
    (void)ctx;
    return 0;
}

void ad_store_flush(ad_store_t *st, ad_store_done_cb done, void *ctx)
{
    /* Jobs run and complete in queue order: an empty job's completion
     * comes after every earlier one's commit. */
    ad_store_submit(st, flush_job, done, ctx);
}

void ad_store_write(ad_store_t *st, ad_store_op_fn op, json_t *args, ad_store_result_cb cb,
                    void *ud)
{
    AD_ASSERT_LOOP();
    op_job_t *o = ad_xcalloc(1, sizeof(*o));
    o->op = op;
    o->args = args;
    o->cb = cb;
    o->ud = ud;
    ad_store_submit(st, op_run, op_done, o);
}

/* ---- typed writes ----------------------------------------------------------------- */

typedef struct {
    ad_store_typed_fn fn;
    void (*cleanup)(void *in);
    json_t *result;
    ad_store_result_cb cb;
    void *ud;
    max_align_t in[]; /* the caller's struct, copied */
} typed_job_t;

static int typed_run(ad_store_tx_t *tx, void *ctx)
{
    typed_job_t *t = ctx;
    json_decref(t->result); /* a job may run twice */
    t->result = NULL;
    return t->fn(tx, t->in, &t->result);
}

static void typed_done(int rc, void *ctx)
{
    typed_job_t *t = ctx;
    if (t->cleanup != NULL) {
        t->cleanup(t->in);
    }
    if (t->cb != NULL) {
        t->cb(rc, t->result, t->ud);
    } else {
        json_decref(t->result);
    }
    free(t);
}

void ad_store_typed_write(ad_store_t *st, ad_store_typed_fn fn, const void *in, size_t insz,
                          void (*cleanup)(void *in), ad_store_result_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    typed_job_t *t = ad_xcalloc(1, sizeof(*t) + insz);
    memcpy(t->in, in, insz);
    t->fn = fn;
    t->cleanup = cleanup;
    t->cb = cb;
    t->ud = ud;
    ad_store_submit(st, typed_run, typed_done, t);
}

/* ---- life cycle --------------------------------------------------------------------- */

void ad_store_writer_start(ad_store_t *st)
{
    uv_loop_t *loop = st->loop;
    uv_mutex_init(&st->lock);
    uv_cond_init(&st->cond);
    uv_async_init(loop, &st->async, on_async);
    st->async.data = st;
    /* An idle store must not keep the loop alive (see outstanding). */
    uv_unref((uv_handle_t *)&st->async);
    uv_check_init(loop, &st->wake_check);
    st->wake_check.data = st;
    uv_check_start(&st->wake_check, on_wake_check);
    uv_unref((uv_handle_t *)&st->wake_check);
    uv_prepare_init(loop, &st->wake_prepare);
    st->wake_prepare.data = st;
    uv_prepare_start(&st->wake_prepare, on_wake_prepare);
    uv_unref((uv_handle_t *)&st->wake_prepare);
    st->open_handles = 3;
    if (uv_thread_create(&st->thread, writer_main, st) != 0) {
        AD_BUG("store: cannot start the writer thread");
    }
    st->thread_started = true;
}

/* Rounds of jobs that completions submit while the store stops (below). */
#define STOP_ROUNDS 8

static bool queue_empty(ad_store_t *st)
{
    uv_mutex_lock(&st->lock);
    bool empty = st->queue_head == NULL;
    uv_mutex_unlock(&st->lock);
    return empty;
}

/* Completes every queued job with rc, unrun (the loop delivers them). */
static void fail_queued(ad_store_t *st, int rc)
{
    uv_mutex_lock(&st->lock);
    for (job_t *j = st->queue_head; j != NULL; j = j->next) {
        j->rc = rc;
    }
    if (st->queue_head != NULL) {
        if (st->done_tail != NULL) {
            st->done_tail->next = st->queue_head;
        } else {
            st->done_head = st->queue_head;
        }
        st->done_tail = st->queue_tail;
    }
    st->queue_head = st->queue_tail = NULL;
    st->queued = 0;
    st->queued_bytes = 0;
    uv_mutex_unlock(&st->lock);
}

void ad_store_writer_stop(ad_store_t *st)
{
    uv_mutex_lock(&st->lock);
    st->stopping = true;
    uv_mutex_unlock(&st->lock);
    uv_cond_signal(&st->cond);
    if (st->thread_started) {
        uv_thread_join(&st->thread);
        st->thread_started = false;
    }
    deliver(st);
    /* A completion just delivered may have written again (a run's end
     * publishes and records more). The writer thread is gone, so those
     * jobs run here, on the loop's thread, as the writer would (it drains
     * and returns when stopping), for a bounded number of rounds; what is
     * left after them is completed as closed. They used to stay queued:
     * never stored, never answered, their memory lost. */
    for (int round = 0; round < STOP_ROUNDS && !queue_empty(st); round++) {
        writer_main(st);
        deliver(st);
    }
    for (int round = 0; round < STOP_ROUNDS && !queue_empty(st); round++) {
        fail_queued(st, AD_ECLOSED);
        deliver(st);
    }
}

void ad_store_writer_close(ad_store_t *st, uv_close_cb on_closed)
{
    uv_close((uv_handle_t *)&st->async, on_closed);
    uv_close((uv_handle_t *)&st->wake_check, on_closed);
    uv_close((uv_handle_t *)&st->wake_prepare, on_closed);
}

bool ad_store_stopping(ad_store_t *st)
{
    uv_mutex_lock(&st->lock);
    bool s = st->stopping;
    uv_mutex_unlock(&st->lock);
    return s;
}
