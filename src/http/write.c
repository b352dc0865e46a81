/* SPDX-License-Identifier: MIT */
/*
 * The write path: answers leave in request order (pipelining and
 * asynchronous handlers), and the bytes of a taken-over connection
 * (WebSocket frames, SSE events) are queued and written once per loop turn
 * as one writev per connection. Who queues what is the caller's business;
 * this file only orders, batches and releases.
 */
#include "http/http_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void conn_fail(ad_conn_t *c, int err);
static void mark_dirty(ad_conn_t *c);
static void wflush_handles(ad_server_t *s);

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

/* Whether a keep-alive answer on c may be written right here, without a
 * uv_write: plain TCP or a pipe, an HTTP connection that stays open, and
 * nothing that a completion must wake (paused parsing resumes from
 * on_req_written). */
static bool answer_now(const ad_conn_t *c)
{
    return c->tls == NULL && c->kind == AD_CONN_HTTP && !c->paused && !c->no_more && !c->peer_eof &&
           !c->srv->closing;
}

/* uv_try_write on c's socket, by send(2) (sendmsg(2) for several buffers)
 * instead of libuv's write(2)/writev(2): on a socket those pass through the
 * VFS first (vfs_write, fdget_pos: 6.8 % of agentd's samples in W2 at 1,000
 * subscribers). The same answers: the bytes taken, UV_EAGAIN when the
 * socket is full or libuv's own queue holds bytes (they go first), or a
 * libuv error. A uv_buf_t is laid out as a struct iovec on Unix. */
static int sock_try_write(ad_conn_t *c, const uv_buf_t *bufs, unsigned n)
{
    if (c->h.stream.write_queue_size != 0) {
        return UV_EAGAIN;
    }
    uv_os_fd_t fd;
    if (uv_fileno(&c->h.handle, &fd) != 0) {
        return UV_EBADF;
    }
    ssize_t w;
    do {
        if (n == 1) {
            w = send(fd, bufs[0].base, bufs[0].len, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            struct msghdr m = {.msg_iov = (struct iovec *)(uintptr_t)bufs, .msg_iovlen = n};
            w = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    } while (w < 0 && errno == EINTR);
    return ad_conn_sent_as_uv(w >= 0 ? (w > INT_MAX ? INT_MAX : (int)w) : -errno);
}

int ad_conn_sent_as_uv(int res)
{
    if (res >= 0) {
        return res;
    }
    return res == -EAGAIN || res == -EWOULDBLOCK || res == -ENOBUFS ? UV_EAGAIN : res;
}

/* Writes r's answer with uv_try_write. A uv_write costs a keep-alive
 * request a syscall more: libuv completes it on the loop's next pass and
 * then re-arms the socket's epoll entry (uv__drain's EPOLL_CTL_MOD, one per
 * request under `strace -c` of H1), where nginx writes and reads only.
 * libuv answers EAGAIN while its own queue holds bytes, so the order of the
 * connection's bytes holds. Returns 1 when the socket took the whole answer
 * (r is on the server's written list), 0 when the rest is for uv_write (r->out then holds what
 * is left), or a libuv error. */
static int try_answer(ad_conn_t *c, ad_req_t *r)
{
    int w = sock_try_write(c, r->out, r->nout);
    if (w == UV_EAGAIN) {
        return 0;
    }
    if (w < 0) {
        return w;
    }
    size_t done = (size_t)w;
    unsigned i = 0;
    while (i < r->nout && done >= r->out[i].len) {
        done -= r->out[i].len;
        i++;
    }
    if (i == r->nout) {
        /* put back by the turn's flush, not here: the handler that
         * answered may read r until it returns */
        r->next = c->srv->written;
        c->srv->written = r;
        wflush_handles(c->srv);
        return 1;
    }
    /* the rest: out[] then starts at the first byte not written */
    uv_buf_t rest[2];
    unsigned n = 0;
    for (; i < r->nout; i++) {
        rest[n] = r->out[i];
        rest[n].base += done;
        rest[n].len -= done;
        done = 0;
        n++;
    }
    memcpy(r->out, rest, n * sizeof(rest[0]));
    r->nout = n;
    return 0;
}

void ad_conn_flush(ad_conn_t *c)
{
    bool wrote_now = false;
    /* what was queued before this answer leaves before it */
    if (c->wq != NULL && c->qhead != NULL && c->qhead->answered) {
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
        int rc = 0;
        if (!last && !head && answer_now(c)) {
            rc = try_answer(c, r);
            if (rc == 1) {
                wrote_now = true;
                continue;
            }
        }
        if (rc == 0) {
            r->wr.data = r;
            rc = ad_conn_uv_write(c, &r->wr, r->out, r->nout, on_req_written);
        }
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
    /* An answer written here has no completion to start the idle timer;
     * the read callback starts it for answers made while it parses. */
    if (wrote_now && !c->closing && !c->in_input && !c->no_more && !c->peer_eof &&
        !c->srv->closing) {
        ad_conn_idle(c);
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

/* A connection's queue array holds this many writes at first (a turn of
 * the fan-out bench's 32 frames, with room to spare); one that needs more is
 * doubled, and freed rather than kept once it is empty. */
#define WQ_CAP 64
/* Spare queue arrays kept (2.6 KiB each): up to as many as connections held
 * at once in the last second, never more than FREE_WQS_MAX, and
 * AD_HTTP_WQS_KEEP once the load is over (ad_http_wqs_trim). */
#define FREE_WQS_MAX 4096
/* What a queued write pins beside its bytes: its place in the array. */
#define WQ_SLOT (sizeof(uv_buf_t) + sizeof(ad_wref_t))
/* A write this small is copied into the connection's cork (the copy at the
 * queue's tail while it has room) instead of queued by reference: a fan-out
 * of many small frames then costs a memcpy each, not a queue entry and a
 * reference (perf of W2 at 1,000 subscribers, when each entry was a
 * malloc'd struct: malloc and free 15 %). uWebSockets corks the same way. */
#define CORK_SMALL 512
/* 8 KiB holds a turn of 32 event frames of ~160 B (the fan-out bench's
 * window): with 4 KiB, a turn past 25 frames took a second cork for every
 * subscriber, a thousand more allocations and a two-buffer writev at 1,000
 * subscribers (R1 at 64 B: 2.45M -> 2.59M deliveries per CPU-s, means of
 * four alternating runs). Only written pages are resident. */
#define CORK_BYTES 8192
/* Spare corks kept: as many as were in use at once in the last second (a
 * fan-out turn takes one per subscriber; with 256 kept, a turn to 1,000
 * subscribers took the other 744 from malloc and gave them back), never
 * more than this (16 MiB), and AD_HTTP_CORKS_KEEP once the load is over. */
#define FREE_CORKS_MAX 2048
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
    size_t pin;      /* its own size and libuv's copy of the buffer list */
    unsigned n;      /* writes it covers */
    ad_wref_t ref[]; /* their owners, released once written */
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

static ad_wq_t *wq_alloc(unsigned cap)
{
    ad_wq_t *q = ad_xmalloc(sizeof(*q) + (size_t)cap * WQ_SLOT);
    q->next = NULL;
    q->head = q->tail = 0;
    q->cap = cap;
    q->buf = (uv_buf_t *)(q + 1);
    q->ref = (ad_wref_t *)(q->buf + cap);
    return q;
}

/* Keeps q among the server's spares, or frees it. */
static void wq_spare(ad_server_t *s, ad_wq_t *q)
{
    if (q->cap != WQ_CAP || s->nfree_wqs >= FREE_WQS_MAX) {
        free(q);
        return;
    }
    q->next = s->free_wqs;
    s->free_wqs = q;
    s->nfree_wqs++;
}

/* c's queue array is empty: back to the server. */
static void wq_give_back(ad_conn_t *c)
{
    ad_server_t *s = c->srv;
    ad_wq_t *q = c->wq;
    c->wq = NULL;
    s->wqs_out--;
    wq_spare(s, q);
}

/* The index of a new last write in c's queue, taking an array when c has
 * none and doubling a full one. */
static unsigned wq_slot(ad_conn_t *c)
{
    ad_server_t *s = c->srv;
    ad_wq_t *q = c->wq;
    if (q == NULL) {
        q = s->free_wqs;
        if (q != NULL) {
            s->free_wqs = q->next;
            s->nfree_wqs--;
            q->head = q->tail = 0;
        } else {
            q = wq_alloc(WQ_CAP);
        }
        if (++s->wqs_out > s->wqs_hw) {
            s->wqs_hw = s->wqs_out;
        }
        c->wq = q;
    } else if (q->tail == q->cap) {
        unsigned n = q->tail - q->head;
        ad_wq_t *g = wq_alloc(q->cap * 2);
        memcpy(g->buf, q->buf + q->head, n * sizeof(*g->buf));
        memcpy(g->ref, q->ref + q->head, n * sizeof(*g->ref));
        g->tail = n;
        wq_spare(s, q);
        c->wq = q = g;
    }
    return q->tail++;
}

static void ref_done(ad_conn_t *c, const ad_wref_t *r)
{
    unpin(c, r->pin);
    if (r->release != NULL) {
        r->release(r->msg);
    }
}

static void on_wbatch_written(uv_write_t *w, int status)
{
    wbatch_t *b = w->data;
    ad_conn_t *c = b->conn;
    for (unsigned i = 0; i < b->n; i++) {
        ref_done(c, &b->ref[i]);
    }
    unpin(c, b->pin);
    free(b);
    c->nbatch--;
    if (status < 0 && !c->closing) {
        ad_conn_abort(c);
    } else if (c->wq != NULL && !c->closing) {
        mark_dirty(c); /* what waited for this batch goes now */
    }
}

/* Drops what is queued on c (the connection is closing). */
void ad_conn_wqueue_drop(ad_conn_t *c)
{
    ad_wq_t *q = c->wq;
    if (q == NULL) {
        return;
    }
    c->wbytes = 0;
    while (q->head < q->tail) {
        ref_done(c, &q->ref[q->head++]);
    }
    wq_give_back(c);
}

/* The socket took only part of a slice: hands the next n queued writes
 * (the first possibly trimmed), left bytes in all, to libuv, which writes
 * them when the socket drains. Returns 0 or a libuv error. */
static int write_rest(ad_conn_t *c, unsigned n, size_t left)
{
    ad_wq_t *q = c->wq;
    wbatch_t *b = ad_xmalloc(sizeof(*b) + n * sizeof(ad_wref_t));
    b->wr.data = b;
    b->conn = c;
    b->n = n;
    memcpy(b->ref, q->ref + q->head, n * sizeof(ad_wref_t));
    b->pin = sizeof(*b) + n * (sizeof(ad_wref_t) + sizeof(uv_buf_t));
    pin(c, b->pin);
    c->nbatch++;
    const uv_buf_t *bufs = q->buf + q->head;
    q->head += n;
    c->wbytes -= left;
    /* libuv copies the list: the array may be given back or reused */
    int rc = ad_conn_uv_write(c, &b->wr, bufs, n, on_wbatch_written);
    if (rc != 0) {
        for (unsigned i = 0; i < n; i++) {
            ref_done(c, &b->ref[i]);
        }
        unpin(c, b->pin);
        c->nbatch--;
        free(b);
        c->werr = rc;
    }
    return rc;
}

unsigned ad_conn_wq_slice(const ad_conn_t *c, uv_buf_t **bufs, size_t *total)
{
    ad_wq_t *q = c->wq;
    unsigned n = q->tail - q->head < WFLUSH_IOV ? q->tail - q->head : WFLUSH_IOV;
    *bufs = q->buf + q->head;
    *total = 0;
    for (unsigned i = 0; i < n; i++) {
        *total += (*bufs)[i].len;
    }
    return n;
}

int ad_conn_wq_sent(ad_conn_t *c, unsigned n, size_t total, int w)
{
    if (w < 0 && w != UV_EAGAIN) {
        c->werr = w;
        return w;
    }
    ad_wq_t *q = c->wq;
    uv_buf_t *bufs = q->buf + q->head;
    size_t done = w > 0 ? (size_t)w : 0;
    c->wbytes -= done;
    size_t left = total - done; /* of this slice */
    /* release what went out whole; trim a partly written buffer */
    unsigned first = 0;
    while (first < n && done >= bufs[first].len) {
        done -= bufs[first].len;
        ref_done(c, &q->ref[q->head++]);
        first++;
    }
    if (first == n) {
        return 0; /* all of this slice went out */
    }
    if (done > 0) {
        bufs[first].base += done;
        bufs[first].len -= done;
    }
    return write_rest(c, n - first, left);
}

/* Writes what is queued on c: as much as the socket takes now (writev
 * straight from the queue's array), the rest through uv_write. Returns 0
 * or a libuv error; never closes c. */
int ad_conn_wqueue_flush(ad_conn_t *c)
{
    if (c->werr != 0) {
        return c->werr;
    }
    c->wheld = 0;
    if (c->wq == NULL) {
        return 0;
    }
    c->wlast_ns = uv_hrtime();
    while (c->wq->head < c->wq->tail && !c->closing) {
        uv_buf_t *bufs;
        size_t total;
        unsigned n = ad_conn_wq_slice(c, &bufs, &total);
        /* TLS encrypts a whole slice into one write: nothing to try. */
        int w = c->tls != NULL ? UV_EAGAIN : sock_try_write(c, bufs, n);
        int rc = ad_conn_wq_sent(c, n, total, w);
        if (rc != 0) {
            return rc;
        }
    }
    if (c->wq->head == c->wq->tail) {
        wq_give_back(c);
    }
    return 0;
}

/* Whether c's queue waits a little longer (the linger). */
static bool lingers(const ad_conn_t *c, uint64_t now)
{
    uint64_t l = c->srv->linger_ns;
    return c->werr == 0 && c->wq != NULL && c->wbytes < WFLUSH_EAGER && c->wlast_ns != 0 &&
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
    ad_conn_t *todo[AD_SENDBATCH_MAX];
    unsigned ntodo = 0;
    /* A write can make others dirty (a reader closed on an error tells the
     * rest): they go in the same pass, as the list is taken again until it
     * is empty. */
    while (s->dirty != NULL || ntodo > 0) {
        if (s->dirty == NULL || ntodo == AD_SENDBATCH_MAX) {
            ad_http_flush_conns(s, todo, ntodo);
            ntodo = 0;
            continue;
        }
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
        todo[ntodo++] = c;
    }
    if (held != NULL) {
        s->dirty = held;
        if (!uv_is_active((uv_handle_t *)&s->wflush->linger)) {
            uv_timer_start(&s->wflush->linger, on_linger, LINGER_TIMER_MS, 0);
        }
    }
}

/* Puts back the requests whose answers were written at once. */
static void put_written(ad_server_t *s)
{
    while (s->written != NULL) {
        ad_req_t *r = s->written;
        s->written = r->next;
        ad_http_req_put(r);
    }
}

static void on_wflush_prepare(uv_prepare_t *h)
{
    struct ad_wflush *wf = h->data;
    if (wf->srv != NULL) {
        put_written(wf->srv);
        wflush_all(wf->srv);
    }
}

static void on_wflush_check(uv_check_t *h)
{
    struct ad_wflush *wf = h->data;
    if (wf->srv != NULL) {
        put_written(wf->srv);
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
    put_written(s);
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
    wflush_handles(s);
}

/* Starts the turn's flush handles, once. */
static void wflush_handles(ad_server_t *s)
{
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

/* Queued bytes reached WFLUSH_EAGER: written now (an error stays for the
 * turn's flush to find: no close here). */
static void wqueue_grew(ad_conn_t *c)
{
    if (c->wbytes >= WFLUSH_EAGER && c->nbatch == 0) {
        (void)ad_conn_wqueue_flush(c);
    }
    mark_dirty(c);
}

/* Queues b's bytes on c, owned by release(msg), pinning pinned bytes. */
static void wqueue_push(ad_conn_t *c, uv_buf_t b, void (*release)(void *), void *msg, size_t pinned)
{
    if (c->wq == NULL) {
        c->wfirst_ns = uv_hrtime();
    }
    unsigned i = wq_slot(c);
    c->wq->buf[i] = b;
    c->wq->ref[i] = (ad_wref_t){release, msg, pinned};
    c->wbytes += b.len;
    pin(c, pinned);
    wqueue_grew(c);
}

/* A write failed: the turn's flush closes c (never the caller's stack). */
static void conn_fail(ad_conn_t *c, int err)
{
    if (c->werr == 0) {
        c->werr = err;
    }
    mark_dirty(c);
}

/* A copy is written: kept as a spare cork, or freed. */
static void copy_release(void *msg)
{
    ad_wcopy_t *k = msg;
    ad_server_t *s = k->srv;
    if (k->cap != CORK_BYTES) {
        free(k); /* one large write's copy: sizes differ, not kept */
        return;
    }
    s->corks_out--;
    if (s->nfree_corks < FREE_CORKS_MAX) {
        k->next = s->free_corks;
        s->free_corks = k;
        s->nfree_corks++;
        return;
    }
    free(k);
}

/* Appends n bytes to the queue's last write when it is a copy with room:
 * true when done. */
static bool cork_append(ad_conn_t *c, const void *p, size_t n)
{
    ad_wq_t *q = c->wq;
    if (q == NULL || q->tail == q->head || q->ref[q->tail - 1].release != copy_release) {
        return false;
    }
    /* The copy's end from what it pins (WQ_SLOT, its header and its
     * capacity), not from its header: one cache miss less a delivery. */
    const ad_wref_t *r = &q->ref[q->tail - 1];
    const char *limit = (const char *)r->msg + (r->pin - WQ_SLOT);
    uv_buf_t *b = &q->buf[q->tail - 1];
    char *end = b->base + b->len;
    if ((size_t)(limit - end) < n) {
        return false;
    }
    memcpy(end, p, n);
    b->len += n;
    c->wbytes += n;
    wqueue_grew(c);
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
    ad_wcopy_t *k = NULL;
    if (cap == CORK_BYTES && s->free_corks != NULL) {
        k = s->free_corks;
        s->free_corks = k->next;
        s->nfree_corks--;
    } else {
        k = ad_xmalloc(sizeof(*k) + cap);
        k->srv = s;
        k->cap = cap;
    }
    if (cap == CORK_BYTES && ++s->corks_out > s->corks_hw) {
        s->corks_hw = s->corks_out;
    }
    memcpy(k->data, p, n);
    wqueue_push(c, uv_buf_init(k->data, (unsigned)n), copy_release, k, WQ_SLOT + sizeof(*k) + cap);
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
    wqueue_push(c, uv_buf_init((char *)p, (unsigned)n), release, msg, WQ_SLOT + n);
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

/* Frees spare queue arrays until keep are left. */
static void free_spare_wqs(ad_server_t *s, size_t keep)
{
    while (s->nfree_wqs > keep) {
        ad_wq_t *q = s->free_wqs;
        s->free_wqs = q->next;
        s->nfree_wqs--;
        free(q);
    }
}

/* Frees spare corks until keep are left. */
static void free_spare_corks(ad_server_t *s, size_t keep)
{
    while (s->nfree_corks > keep) {
        ad_wcopy_t *k = s->free_corks;
        s->free_corks = k->next;
        s->nfree_corks--;
        free(k);
    }
}

void ad_http_wqs_trim(ad_server_t *s)
{
    free_spare_wqs(s, s->wqs_hw > AD_HTTP_WQS_KEEP ? s->wqs_hw : AD_HTTP_WQS_KEEP);
    s->wqs_hw = s->wqs_out;
    free_spare_corks(s, s->corks_hw > AD_HTTP_CORKS_KEEP ? s->corks_hw : AD_HTTP_CORKS_KEEP);
    s->corks_hw = s->corks_out;
}

void ad_http_wqs_free(ad_server_t *s)
{
    free_spare_wqs(s, 0);
    free_spare_corks(s, 0);
    ad_sendbatch_free(s->sendbatch);
    s->sendbatch = NULL;
}
