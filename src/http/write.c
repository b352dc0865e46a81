/* SPDX-License-Identifier: MIT */
/*
 * The write path: answers leave in request order (pipelining and
 * asynchronous handlers), and the bytes of a taken-over connection
 * (WebSocket frames, SSE events) are queued and written once per loop turn
 * as one writev per connection. Who queues what is the caller's business;
 * this file only orders, batches and releases.
 */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>

static void conn_fail(ad_conn_t *c, int err);
static void mark_dirty(ad_conn_t *c);

static void on_req_written(uv_write_t *w, int status)
{
    ad_req_t *r = w->data;
    ad_conn_t *c = r->conn;
    ad_http_req_put(r);
    if (c == NULL) {
        return;
    }
    c->nwriting--;
    if (c->closing) {
        return;
    }
    if (status < 0) {
        ad_conn_abort(c);
        return;
    }
    if (c->paused) {
        ad_conn_resume_parsing(c);
        if (!c->paused && !c->closing) {
            ad_conn_start_reading(c);
        }
    }
    ad_conn_idle(c);
}

void ad_conn_flush(ad_conn_t *c)
{
    /* what was queued before this answer leaves before it */
    if (c->whead != NULL && c->qhead != NULL && c->qhead->answered) {
        int rc = ad_conn_wqueue_flush(c);
        if (rc != 0) {
            conn_fail(c, rc);
            return;
        }
    }
    while (!c->closing && c->werr == 0 && c->qhead != NULL && c->qhead->answered) {
        ad_req_t *r = c->qhead;
        c->qhead = r->next;
        if (c->qhead == NULL) {
            c->qtail = NULL;
        }
        r->next = NULL;
        c->nqueued--;
        bool last = !r->keep_alive;
        bool head = r == c->head_req;
        r->wr.data = r;
        int rc = ad_conn_uv_write(c, &r->wr, r->out, r->nout, on_req_written);
        if (rc != 0) {
            /* Closed by the turn's flush, not here: ad_req_take_over()
             * relies on this never closing the connection. */
            r->conn = NULL;
            ad_http_req_put(r);
            conn_fail(c, rc);
            return;
        }
        c->nwriting++;
        if (head) {
            c->head_req = NULL;
            if (c->ops != NULL && c->ops->on_head_written != NULL) {
                c->ops->on_head_written(c->ops_ud);
            }
        }
        if (last && c->kind == AD_CONN_HTTP) {
            c->no_more = true;
        }
    }
}
/* ---- writes for WebSocket and SSE ------------------------------------------------ */

/* Writes (one per WebSocket delivery or SSE event, and control frames) are
 * queued on their connection and leave together: the server keeps a list
 * of connections with queued bytes and writes each one's queue as a single
 * writev, from a check handle (after the I/O callbacks of a loop turn) and
 * a prepare handle (after timers and close callbacks, before the loop
 * polls). A fan-out to many connections thus costs one syscall per
 * connection per turn instead of one per frame, and frames still leave in
 * the order they were queued. Shared frames stay shared: the queue holds
 * references, released once the kernel has the bytes. */

/* Reference writes reuse their small bookkeeping structs: up to as many as
 * were in use at once in the last second (a turn of 32 frames of 1 KiB to
 * 1,000 subscribers queues 22,000 of them; taking each from malloc and
 * giving it back cost W2 at 1 KiB about a tenth of its CPU),
 * never more than FREE_WOUTS_MAX, and AD_HTTP_WOUTS_KEEP once the load is
 * over (ad_http_wouts_trim). */
#define FREE_WOUTS_MAX 65536
/* A write this small is copied into the connection's cork (the copy at the
 * queue's tail while it has room) instead of queued by reference: a fan-out
 * of many small frames then costs a memcpy each, not a queue entry, a
 * reference and a malloc once the pool runs dry (perf of W2 at 1,000
 * subscribers: malloc and free 15 %). uWebSockets corks the same way. */
#define CORK_SMALL 512
/* 8 KiB holds a turn of 32 event frames of ~160 B (the fan-out bench's
 * window): with 4 KiB, a turn past 25 frames took a second cork for every
 * subscriber, a thousand more allocations and a two-buffer writev at 1,000
 * subscribers (R1 at 64 B: 2.45M -> 2.59M deliveries per CPU-s, means of
 * four alternating runs). Only written pages are resident. */
#define CORK_BYTES 8192
#define FREE_CORKS_MAX 256
/* Buffers handed to one writev (IOV_MAX is 1024 on Linux). */
#define WFLUSH_IOV 256
/* A connection with this much queued is written at once rather than at
 * the end of the turn: batching gains nothing more, and a turn that queues
 * a lot (a replay slice) then meets the per-connection bound as it did when
 * every frame was written at once, instead of counting bytes the kernel
 * would have taken. */
#define WFLUSH_EAGER (64 * 1024)

/* The linger (AD_HTTP_LINGER_NS, Nagle's rule in time): a connection
 * written less than that ago, whose oldest queued write is younger than
 * that too, waits. A stream of lines that come one at a time, each its own
 * loop wake-up, then leaves as one writev of several frames instead of a
 * write each (F1: 10 readers of 1,000 agents' 10,000 lines a second spent
 * 40 % of agentd's CPU in tcp_sendmsg). A quiet connection's frame leaves
 * at once; a held one at the first turn past the bound, which the timer
 * makes when nothing else wakes the loop.
 * A wait that gathered nothing more turns the linger off for that
 * connection for AD_HTTP_LINGER_OFF_NS: its reader is most likely waiting
 * for what it was sent before it asks for more (a client that publishes
 * and waits for its delivery, a command and its answer), and each wait
 * would cost it a timer's millisecond (W2 at 16 subscribers, 32 messages
 * in flight: 2.04M deliveries a second without the linger, 0.39M with). */
#define LINGER_TIMER_MS 1

struct ad_wflush {
    uv_prepare_t prep;
    uv_check_t check;
    uv_timer_t linger; /* wakes the loop for held connections */
    ad_server_t *srv;
    int nclosed;
};

/* One uv_write of queued buffers the socket did not take at once. */
typedef struct {
    uv_write_t wr;
    ad_conn_t *conn;
    ad_wout_t *head; /* the wouts it covers, to release when written */
    size_t pin;      /* its own size and libuv's copy of the buffer list */
} wbatch_t;

/* Counts bytes a connection keeps allocated until written, per connection
 * and for the server (ad_conn_pressure). */
static void pin(ad_conn_t *c, size_t n)
{
    c->pinned += n;
    c->srv->pinned += n;
    if (c->srv->pinned > c->srv->pinned_hw) {
        c->srv->pinned_hw = c->srv->pinned; /* caps.c: a burst and its end */
    }
}

static void unpin(ad_conn_t *c, size_t n)
{
    c->pinned -= n;
    c->srv->pinned -= n;
}

static void wout_put(ad_server_t *s, ad_wout_t *o)
{
    if (o->copy && o->cap == CORK_BYTES && s->nfree_corks < FREE_CORKS_MAX) {
        o->next = s->free_corks;
        s->free_corks = o;
        s->nfree_corks++;
        return;
    }
    if (!o->copy) {
        s->wouts_out--;
    }
    if (o->copy || s->nfree_wouts >= FREE_WOUTS_MAX) {
        free(o); /* other copies carry their bytes: sizes differ, do not pool */
        return;
    }
    o->next = s->free_wouts;
    s->free_wouts = o;
    s->nfree_wouts++;
}

static void wout_done(ad_conn_t *c, ad_wout_t *o)
{
    unpin(c, o->pin);
    if (o->release != NULL) {
        o->release(o->msg);
    }
    wout_put(c->srv, o);
}

static void on_wbatch_written(uv_write_t *w, int status)
{
    wbatch_t *b = w->data;
    ad_conn_t *c = b->conn;
    ad_wout_t *o = b->head;
    while (o != NULL) {
        ad_wout_t *next = o->next;
        wout_done(c, o);
        o = next;
    }
    unpin(c, b->pin);
    free(b);
    c->nbatch--;
    if (status < 0 && !c->closing) {
        ad_conn_abort(c);
    } else if (c->whead != NULL && !c->closing) {
        mark_dirty(c); /* what waited for this batch goes now */
    }
}

/* Drops what is queued on c (the connection is closing). */
void ad_conn_wqueue_drop(ad_conn_t *c)
{
    ad_wout_t *o = c->whead;
    c->whead = c->wtail = NULL;
    c->wbytes = 0;
    while (o != NULL) {
        ad_wout_t *next = o->next;
        wout_done(c, o);
        o = next;
    }
}

/* The socket took only part of a slice: hands the wouts from c->whead to
 * last (bufs[0..n), the first possibly trimmed) to libuv, which writes them
 * when the socket drains. Returns 0 or a libuv error. */
static int write_rest(ad_conn_t *c, uv_buf_t *bufs, unsigned n, ad_wout_t *last, size_t left)
{
    wbatch_t *b = ad_xmalloc(sizeof(*b));
    b->wr.data = b;
    b->conn = c;
    b->pin = sizeof(*b) + n * sizeof(uv_buf_t);
    pin(c, b->pin);
    c->nbatch++;
    b->head = c->whead;
    c->whead = last->next;
    last->next = NULL;
    if (c->whead == NULL) {
        c->wtail = NULL;
    }
    c->wbytes -= left;
    int rc = ad_conn_uv_write(c, &b->wr, bufs, n, on_wbatch_written);
    if (rc != 0) {
        ad_wout_t *o = b->head;
        while (o != NULL) {
            ad_wout_t *next = o->next;
            wout_done(c, o);
            o = next;
        }
        unpin(c, b->pin);
        c->nbatch--;
        free(b);
        c->werr = rc;
    }
    return rc;
}

/* Writes what is queued on c: as much as the socket takes now (writev),
 * the rest through uv_write. Returns 0 or a libuv error; never closes c. */
int ad_conn_wqueue_flush(ad_conn_t *c)
{
    if (c->werr != 0) {
        return c->werr;
    }
    uv_buf_t bufs[WFLUSH_IOV];
    if (c->whead != NULL) {
        c->wlast_ns = uv_hrtime();
    }
    c->wheld = 0;
    while (c->whead != NULL && !c->closing) {
        unsigned n = 0;
        size_t total = 0;
        ad_wout_t *last = NULL;
        for (ad_wout_t *o = c->whead; o != NULL && n < WFLUSH_IOV; o = o->next) {
            bufs[n++] = o->buf;
            total += o->buf.len;
            last = o;
        }
        /* TLS encrypts a whole slice into one write: nothing to try. */
        int w = c->tls != NULL ? UV_EAGAIN : uv_try_write(&c->h.stream, bufs, n);
        if (w < 0 && w != UV_EAGAIN) {
            c->werr = w;
            return w;
        }
        size_t done = w > 0 ? (size_t)w : 0;
        c->wbytes -= done;
        size_t left = total - done; /* of this slice */
        /* release what went out whole; trim a partly written buffer */
        unsigned first = 0;
        while (first < n && done >= bufs[first].len) {
            done -= bufs[first].len;
            ad_wout_t *x = c->whead;
            c->whead = x->next;
            wout_done(c, x);
            first++;
        }
        if (c->whead == NULL) {
            c->wtail = NULL;
        }
        if (first == n) {
            continue; /* all of this slice went out */
        }
        if (done > 0) {
            c->whead->buf.base += done;
            c->whead->buf.len -= (unsigned)done;
            bufs[first] = c->whead->buf;
        }
        int rc = write_rest(c, bufs + first, n - first, last, left);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Whether c's queue waits a little longer (the linger). */
static bool lingers(const ad_conn_t *c, uint64_t now)
{
    uint64_t l = c->srv->linger_ns;
    return c->werr == 0 && c->whead != NULL && c->wbytes < WFLUSH_EAGER && c->wlast_ns != 0 &&
           now - c->wlast_ns < l && now - c->wfirst_ns < l && now >= c->wnohold_ns;
}

static void on_linger(uv_timer_t *t)
{
    AD_UNUSED(t); /* the check handle after it writes what waited */
}

/* Writes every dirty connection's queue, but those that linger. */
static void wflush_all(ad_server_t *s)
{
    uint64_t now = uv_hrtime();
    ad_conn_t *held = NULL;
    while (s->dirty != NULL) {
        ad_conn_t *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        if (c->closing) {
            continue;
        }
        if (c->nbatch > 0 && c->werr == 0) {
            /* The socket is full: what is queued waits in its corks, which
             * fill up, instead of going to libuv a cork per turn (each
             * pinning 8 KiB for a frame or two). The batch's callback
             * puts the connection back on this list. */
            continue;
        }
        if (lingers(c, now)) {
            if (c->wheld == 0) {
                c->wheld = c->wbytes;
            }
            c->dirty = true;
            c->dirty_next = held;
            held = c;
            continue;
        }
        if (c->wheld != 0 && c->wbytes == c->wheld) {
            c->wnohold_ns = now + c->srv->linger_off_ns; /* the wait gathered nothing */
        }
        if (ad_conn_wqueue_flush(c) != 0) {
            ad_conn_abort(c);
        }
    }
    if (held != NULL) {
        s->dirty = held;
        if (!uv_is_active((uv_handle_t *)&s->wflush->linger)) {
            uv_timer_start(&s->wflush->linger, on_linger, LINGER_TIMER_MS, 0);
        }
    }
}

static void on_wflush_prepare(uv_prepare_t *h)
{
    struct ad_wflush *wf = h->data;
    if (wf->srv != NULL) {
        wflush_all(wf->srv);
    }
}

static void on_wflush_check(uv_check_t *h)
{
    struct ad_wflush *wf = h->data;
    if (wf->srv != NULL) {
        wflush_all(wf->srv);
    }
}

static void wflush_closed(uv_handle_t *h)
{
    struct ad_wflush *wf = h->data;
    if (++wf->nclosed == 3) {
        free(wf);
    }
}

/* Closes the flush handles (the server is done with its connections, or
 * is being freed). */
void ad_http_wflush_close(ad_server_t *s)
{
    struct ad_wflush *wf = s->wflush;
    if (wf == NULL) {
        return;
    }
    s->wflush = NULL;
    wf->srv = NULL;
    if (uv_is_closing((uv_handle_t *)&wf->prep)) {
        free(wf); /* closed by a loop-wide walk (main.c) and the loop has run since */
        return;
    }
    uv_close((uv_handle_t *)&wf->prep, wflush_closed);
    uv_close((uv_handle_t *)&wf->check, wflush_closed);
    uv_close((uv_handle_t *)&wf->linger, wflush_closed);
}

/* Puts c on the list the turn's flush writes (and closes, on an error). */
static void mark_dirty(ad_conn_t *c)
{
    ad_server_t *s = c->srv;
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = s->dirty;
        s->dirty = c;
    }
    if (s->wflush == NULL) {
        struct ad_wflush *wf = ad_xcalloc(1, sizeof(*wf));
        wf->srv = s;
        uv_prepare_init(s->loop, &wf->prep);
        uv_check_init(s->loop, &wf->check);
        uv_timer_init(s->loop, &wf->linger);
        wf->prep.data = wf;
        wf->check.data = wf;
        wf->linger.data = wf;
        uv_prepare_start(&wf->prep, on_wflush_prepare);
        uv_check_start(&wf->check, on_wflush_check);
        uv_unref((uv_handle_t *)&wf->prep);
        uv_unref((uv_handle_t *)&wf->check);
        uv_unref((uv_handle_t *)&wf->linger);
        s->wflush = wf;
    }
}

static void wqueue_push(ad_conn_t *c, ad_wout_t *o)
{
    o->next = NULL;
    if (c->wtail != NULL) {
        c->wtail->next = o;
    } else {
        c->whead = o;
        c->wfirst_ns = uv_hrtime();
    }
    c->wtail = o;
    c->wbytes += o->buf.len;
    pin(c, o->pin);
    if (c->wbytes >= WFLUSH_EAGER && c->nbatch == 0) {
        /* an error stays for the turn's flush to find: no close here */
        (void)ad_conn_wqueue_flush(c);
    }
    mark_dirty(c);
}

/* A write failed: the turn's flush closes c (never the caller's stack). */
static void conn_fail(ad_conn_t *c, int err)
{
    if (c->werr == 0) {
        c->werr = err;
    }
    mark_dirty(c);
}

/* Appends n bytes to the tail copy when it has room: true when done. */
static bool cork_append(ad_conn_t *c, const void *p, size_t n)
{
    ad_wout_t *t = c->wtail;
    if (t == NULL || !t->copy) {
        return false;
    }
    char *end = t->buf.base + t->buf.len;
    if ((size_t)(t->data + t->cap - end) < n) {
        return false;
    }
    memcpy(end, p, n);
    t->buf.len += (unsigned)n;
    c->wbytes += n;
    if (c->wbytes >= WFLUSH_EAGER && c->nbatch == 0) {
        (void)ad_conn_wqueue_flush(c); /* as wqueue_push does */
    }
    mark_dirty(c);
    return true;
}

int ad_conn_write_copy(ad_conn_t *c, const void *p, size_t n)
{
    if (c->closing || c->shutting) {
        return AD_ECLOSED;
    }
    if (n <= CORK_SMALL && cork_append(c, p, n)) {
        return 0;
    }
    ad_server_t *s = c->srv;
    size_t cap = n <= CORK_SMALL ? CORK_BYTES : n;
    ad_wout_t *o = NULL;
    if (cap == CORK_BYTES && s->free_corks != NULL) {
        o = s->free_corks;
        s->free_corks = o->next;
        s->nfree_corks--;
    } else {
        o = ad_xmalloc(sizeof(*o) + cap);
    }
    memcpy(o->data, p, n);
    o->buf = uv_buf_init(o->data, (unsigned)n);
    o->copy = true;
    o->cap = cap;
    o->pin = sizeof(*o) + cap;
    o->release = NULL;
    o->msg = NULL;
    wqueue_push(c, o);
    return 0;
}

int ad_conn_write_ref(ad_conn_t *c, const void *p, size_t n, void (*release)(void *), void *msg)
{
    if (c->closing || c->shutting) {
        return AD_ECLOSED;
    }
    if (n <= CORK_SMALL) {
        int rc = ad_conn_write_copy(c, p, n); /* copied: the reference goes at once */
        if (rc == 0 && release != NULL) {
            release(msg);
        }
        return rc;
    }
    ad_server_t *s = c->srv;
    ad_wout_t *o = s->free_wouts;
    if (o != NULL) {
        s->free_wouts = o->next;
        s->nfree_wouts--;
    } else {
        o = ad_xmalloc(sizeof(*o));
    }
    if (++s->wouts_out > s->wouts_hw) {
        s->wouts_hw = s->wouts_out;
    }
    o->buf = uv_buf_init((char *)p, (unsigned)n);
    o->copy = false;
    o->pin = sizeof(*o) + n;
    o->release = release;
    o->msg = msg;
    wqueue_push(c, o);
    return 0;
}

size_t ad_conn_queued(const ad_conn_t *c)
{
    /* Queued and in-flight buffers are pinned until written; TLS adds its
     * ciphertext copies, which libuv's queue size counts. */
    return c->pinned + (c->tls != NULL ? uv_stream_get_write_queue_size(&c->h.stream) : 0);
}

int ad_conn_pressure(const ad_conn_t *c)
{
    const ad_server_t *s = c->srv;
    size_t bound = (size_t)s->cfg->send_queue_total_bytes;
    if (bound == 0 || s->pinned <= bound / 2) {
        return 0; /* the common case: one comparison */
    }
    size_t n = s->nconns > 0 ? s->nconns : 1;
    if (s->pinned > bound && c->pinned > bound / n) {
        return 2;
    }
    return c->pinned > bound / 2 / n ? 1 : 0;
}

void ad_http_wouts_trim(ad_server_t *s)
{
    size_t keep = s->wouts_hw > AD_HTTP_WOUTS_KEEP ? s->wouts_hw : AD_HTTP_WOUTS_KEEP;
    while (s->nfree_wouts > keep) {
        ad_wout_t *o = s->free_wouts;
        s->free_wouts = o->next;
        s->nfree_wouts--;
        free(o);
    }
    s->wouts_hw = s->wouts_out;
}

void ad_http_wouts_free(ad_server_t *s)
{
    while (s->free_wouts != NULL) {
        ad_wout_t *o = s->free_wouts;
        s->free_wouts = o->next;
        free(o);
    }
    while (s->free_corks != NULL) {
        ad_wout_t *o = s->free_corks;
        s->free_corks = o->next;
        free(o);
    }
}
