/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 server: listeners (TCP and a unix socket), connections, the
 * read path (one loop-wide read buffer, http-parser), request limits and
 * timeouts, the in-order response queue that makes pipelining and
 * asynchronous handlers work, and graceful shutdown. Routing lives in
 * router.c, response formatting in response.c, assets in static.c.
 */
#include "http/http_int.h"

#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Requests read ahead of their responses before parsing pauses. */
#define PIPELINE_MAX 32
/* Released requests kept for reuse, with their first arena chunk. */
#define FREE_REQS_MAX 128
#define ARENA_CHUNK (4096 - 64)
/* How long a closing connection waits for the peer's FIN. */
#define LINGER_MS 2000

enum { TM_NONE = 0, TM_HEADER, TM_BODY, TM_IDLE, TM_LINGER, TM_OTHER };

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t n);
static int on_header_field(http_parser *p, const char *at, size_t n);
static int on_header_value(http_parser *p, const char *at, size_t n);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t n);
static int on_message_complete(http_parser *p);

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void conn_timer_cb(uv_timer_t *t);
static void parse_input(ad_conn_t *c, const char *data, size_t len);
static void check_done(ad_server_t *s);
static int wqueue_flush(ad_conn_t *c);
static void wqueue_drop(ad_conn_t *c);
static void wflush_close(ad_server_t *s);

/* ---- requests ----------------------------------------------------------------- */

static ad_req_t *req_get(ad_server_t *s)
{
    ad_req_t *r = s->free_reqs;
    if (r != NULL) {
        s->free_reqs = r->next;
        s->nfree_reqs--;
    } else {
        r = ad_xcalloc(1, sizeof(*r));
        /* The cap only guards against runaway input: headers have their own
         * limits and bodies are in r->body. */
        ad_arena_init(&r->arena, ARENA_CHUNK, s->cfg->max_header_bytes * 4 + (256u << 20));
    }
    r->next = NULL;
    r->srv = s;
    r->status = 0;
    ad_buf_init(&r->body, s->cfg->max_body_bytes);
    return r;
}

static void req_put(ad_req_t *r)
{
    ad_server_t *s = r->srv;
    ad_buf_cleanup(&r->body);
    ad_arena_t arena = r->arena;
    ad_arena_reset(&arena);
    memset(r, 0, sizeof(*r));
    r->arena = arena;
    if (s->nfree_reqs < FREE_REQS_MAX) {
        r->next = s->free_reqs;
        s->free_reqs = r;
        s->nfree_reqs++;
    } else {
        ad_arena_cleanup(&r->arena);
        free(r);
    }
}

/* Called by response.c once a request has its answer (r->out is ready). */
void ad_req_answered_(ad_req_t *r);
void ad_req_answered_(ad_req_t *r)
{
    if (r->conn == NULL) {
        req_put(r); /* the client has gone: drop the answer */
        return;
    }
    ad_conn_flush(r->conn);
}

/* ---- connection life cycle --------------------------------------------------- */

static void conn_free_cb(uv_handle_t *h)
{
    ad_conn_t *c = h->data;
    if (--c->nclose > 0) {
        return;
    }
    ad_server_t *s = c->srv;
    if (c->dirty) {
        /* closed after its writes were queued and before the flush ran */
        ad_conn_t **pp = &s->dirty;
        while (*pp != c) {
            pp = &(*pp)->dirty_next;
        }
        *pp = c->dirty_next;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->nconns--;
    ad_buf_cleanup(&c->stash);
    free(c);
    check_done(s);
}

void ad_conn_abort(ad_conn_t *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    wqueue_drop(c);
    /* Requests a handler still holds stay valid; their late answers are
     * dropped. Answered but unwritten ones go back to the pool. */
    ad_req_t *r = c->qhead;
    while (r != NULL) {
        ad_req_t *next = r->next;
        r->next = NULL;
        if (r->answered || r == c->cur || r == c->done) {
            req_put(r); /* answered, or never handed to a handler */
        } else {
            r->conn = NULL;
        }
        r = next;
    }
    c->qhead = c->qtail = NULL;
    c->nqueued = 0;
    c->cur = NULL;
    c->done = NULL;
    if (c->ws != NULL) {
        void *ws = c->ws;
        c->ws = NULL;
        ad_ws_on_conn_close(ws);
    }
    if (c->sse != NULL) {
        ad_sse_t *sse = c->sse;
        c->sse = NULL;
        ad_sse_on_conn_close(sse);
    }
    c->nclose = 2;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_free_cb);
    uv_close(&c->h.handle, conn_free_cb);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    ad_conn_t *c = req->data;
    free(req);
    if (c->closing) {
        return;
    }
    if (status < 0 || c->peer_eof) {
        ad_conn_abort(c);
        return;
    }
    /* Lingering close: keep reading (and discarding) until the peer's FIN
     * so an unread request does not turn our answer into a reset. */
    c->lingering = true;
    ad_conn_timer(c, LINGER_MS, 0, NULL);
    c->timer_mode = TM_LINGER;
}

void ad_conn_finish(ad_conn_t *c)
{
    if (c->closing || c->shutting) {
        return;
    }
    /* queued frames (a Close, the last events) go before the FIN */
    if (wqueue_flush(c) != 0) {
        ad_conn_abort(c);
        return;
    }
    c->shutting = true;
    c->no_more = true;
    uv_shutdown_t *req = ad_xmalloc(sizeof(*req));
    req->data = c;
    if (uv_shutdown(req, &c->h.stream, on_shutdown) != 0) {
        free(req);
        ad_conn_abort(c);
    }
}

void ad_conn_timer(ad_conn_t *c, uint64_t ms, uint64_t repeat, uv_timer_cb cb)
{
    if (c->closing) {
        return;
    }
    c->timer_mode = TM_OTHER;
    uv_timer_start(&c->timer, cb != NULL ? cb : conn_timer_cb, ms, repeat);
}

static void set_timer(ad_conn_t *c, int mode, uint64_t ms)
{
    c->timer_mode = mode;
    uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

static void conn_timer_cb(uv_timer_t *t)
{
    ad_conn_t *c = t->data;
    switch (c->timer_mode) {
    case TM_HEADER:
        ad_log(AD_LOG_INFO, "http", "dropping slow client reason=header-timeout");
        ad_conn_abort(c);
        break;
    case TM_BODY:
        ad_log(AD_LOG_INFO, "http", "dropping slow client reason=body-timeout");
        ad_conn_abort(c);
        break;
    case TM_IDLE:
        ad_conn_finish(c);
        break;
    default:
        ad_conn_abort(c);
        break;
    }
}

/* The connection went quiet: nothing parsed, queued or being written. */
static void conn_idle(ad_conn_t *c)
{
    if (c->kind != AD_CONN_HTTP || c->closing || c->shutting) {
        return;
    }
    if (c->cur != NULL || c->qhead != NULL || c->nwriting > 0) {
        return;
    }
    if (c->no_more || c->peer_eof || c->srv->closing) {
        ad_conn_finish(c);
        return;
    }
    set_timer(c, TM_IDLE, c->srv->cfg->idle_timeout_ms);
}

static void resume_parsing(ad_conn_t *c)
{
    if (!c->paused || c->closing || c->nqueued >= PIPELINE_MAX / 2) {
        return;
    }
    c->paused = false;
    if (c->stash.len > 0) {
        size_t len;
        char *data = ad_buf_detach(&c->stash, &len);
        parse_input(c, data, len);
        free(data);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ad_conn_t *c = h->data;
    buf->base = c->srv->rbuf;
    buf->len = sizeof(c->srv->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static void start_reading(ad_conn_t *c)
{
    if (!c->reading && !c->closing && !c->peer_eof) {
        if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0) {
            c->reading = true;
        }
    }
}

static void stop_reading(ad_conn_t *c)
{
    if (c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

static void on_req_written(uv_write_t *w, int status)
{
    ad_req_t *r = w->data;
    ad_conn_t *c = r->conn;
    req_put(r);
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
        resume_parsing(c);
        if (!c->paused && !c->closing) {
            start_reading(c);
        }
    }
    conn_idle(c);
}

void ad_conn_flush(ad_conn_t *c)
{
    /* what was queued before this answer leaves before it */
    if (c->whead != NULL && c->qhead != NULL && c->qhead->answered && wqueue_flush(c) != 0) {
        ad_conn_abort(c);
        return;
    }
    while (!c->closing && c->qhead != NULL && c->qhead->answered) {
        ad_req_t *r = c->qhead;
        c->qhead = r->next;
        if (c->qhead == NULL) {
            c->qtail = NULL;
        }
        r->next = NULL;
        c->nqueued--;
        bool last = !r->keep_alive;
        bool sse = c->sse != NULL && c->qhead == NULL && r->status == 200 && c->kind == AD_CONN_SSE;
        r->wr.data = r;
        if (uv_write(&r->wr, &c->h.stream, r->out, r->nout, on_req_written) != 0) {
            r->conn = NULL;
            req_put(r);
            ad_conn_abort(c);
            return;
        }
        c->nwriting++;
        if (sse) {
            ad_sse_on_head_written(c->sse);
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

/* Reference writes reuse their small bookkeeping structs. */
#define FREE_WOUTS_MAX 4096
/* Buffers handed to one writev (IOV_MAX is 1024 on Linux). */
#define WFLUSH_IOV 256
/* A connection with this much queued is written at once rather than at
 * the end of the turn: batching gains nothing more, and a turn that queues
 * a lot (a replay slice) then meets the per-connection bound as it did when
 * every frame was written at once, instead of counting bytes the kernel
 * would have taken. */
#define WFLUSH_EAGER (64 * 1024)

struct ad_wflush {
    uv_prepare_t prep;
    uv_check_t check;
    ad_server_t *srv;
    int nclosed;
};

/* One uv_write of queued buffers the socket did not take at once. */
typedef struct {
    uv_write_t wr;
    ad_conn_t *conn;
    ad_wout_t *head; /* the wouts it covers, to release when written */
} wbatch_t;

static void wout_put(ad_server_t *s, ad_wout_t *o)
{
    if (o->copy || s->nfree_wouts >= FREE_WOUTS_MAX) {
        free(o); /* copies carry their bytes: sizes differ, do not pool */
        return;
    }
    o->next = s->free_wouts;
    s->free_wouts = o;
    s->nfree_wouts++;
}

static void wout_done(ad_server_t *s, ad_wout_t *o)
{
    if (o->release != NULL) {
        o->release(o->msg);
    }
    wout_put(s, o);
}

static void on_wbatch_written(uv_write_t *w, int status)
{
    wbatch_t *b = w->data;
    ad_conn_t *c = b->conn;
    ad_wout_t *o = b->head;
    while (o != NULL) {
        ad_wout_t *next = o->next;
        wout_done(c->srv, o);
        o = next;
    }
    free(b);
    if (status < 0 && !c->closing) {
        ad_conn_abort(c);
    }
}

/* Drops what is queued on c (the connection is closing). */
static void wqueue_drop(ad_conn_t *c)
{
    ad_wout_t *o = c->whead;
    c->whead = c->wtail = NULL;
    c->wbytes = 0;
    while (o != NULL) {
        ad_wout_t *next = o->next;
        wout_done(c->srv, o);
        o = next;
    }
}

/* Writes what is queued on c: as much as the socket takes now (writev),
 * the rest through uv_write. Returns 0 or a libuv error; never closes c. */
static int wqueue_flush(ad_conn_t *c)
{
    ad_server_t *s = c->srv;
    if (c->werr != 0) {
        return c->werr;
    }
    uv_buf_t bufs[WFLUSH_IOV];
    while (c->whead != NULL && !c->closing) {
        unsigned n = 0;
        size_t total = 0;
        ad_wout_t *o = c->whead;
        ad_wout_t *last = NULL;
        while (o != NULL && n < WFLUSH_IOV) {
            bufs[n++] = o->buf;
            total += o->buf.len;
            last = o;
            o = o->next;
        }
        int w = uv_try_write(&c->h.stream, bufs, n);
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
            wout_done(s, x);
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
        /* The socket is full: hand the rest of the slice to libuv, which
         * writes it when the socket drains. */
        wbatch_t *b = ad_xmalloc(sizeof(*b));
        b->wr.data = b;
        b->conn = c;
        b->head = c->whead;
        c->whead = last->next;
        last->next = NULL;
        if (c->whead == NULL) {
            c->wtail = NULL;
        }
        c->wbytes -= left;
        int rc = uv_write(&b->wr, &c->h.stream, bufs + first, n - first, on_wbatch_written);
        if (rc != 0) {
            o = b->head;
            while (o != NULL) {
                ad_wout_t *next = o->next;
                wout_done(s, o);
                o = next;
            }
            free(b);
            c->werr = rc;
            return rc;
        }
    }
    return 0;
}

/* Writes every dirty connection's queue. */
static void wflush_all(ad_server_t *s)
{
    while (s->dirty != NULL) {
        ad_conn_t *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        if (c->closing) {
            continue;
        }
        if (wqueue_flush(c) != 0) {
            ad_conn_abort(c);
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
    if (++wf->nclosed == 2) {
        free(wf);
    }
}

/* Closes the flush handles (the server is done with its connections, or
 * is being freed). */
static void wflush_close(ad_server_t *s)
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
}

static void wqueue_push(ad_conn_t *c, ad_wout_t *o)
{
    ad_server_t *s = c->srv;
    o->next = NULL;
    if (c->wtail != NULL) {
        c->wtail->next = o;
    } else {
        c->whead = o;
    }
    c->wtail = o;
    c->wbytes += o->buf.len;
    if (c->wbytes >= WFLUSH_EAGER) {
        /* an error stays for the turn's flush to find: no close here */
        (void)wqueue_flush(c);
    }
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
        wf->prep.data = wf;
        wf->check.data = wf;
        uv_prepare_start(&wf->prep, on_wflush_prepare);
        uv_check_start(&wf->check, on_wflush_check);
        uv_unref((uv_handle_t *)&wf->prep);
        uv_unref((uv_handle_t *)&wf->check);
        s->wflush = wf;
    }
}

int ad_conn_write_copy(ad_conn_t *c, const void *p, size_t n)
{
    if (c->closing || c->shutting) {
        return AD_ECLOSED;
    }
    ad_wout_t *o = ad_xmalloc(sizeof(*o) + n);
    memcpy(o->data, p, n);
    o->buf = uv_buf_init(o->data, (unsigned)n);
    o->copy = true;
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
    ad_server_t *s = c->srv;
    ad_wout_t *o = s->free_wouts;
    if (o != NULL) {
        s->free_wouts = o->next;
        s->nfree_wouts--;
    } else {
        o = ad_xmalloc(sizeof(*o));
    }
    o->buf = uv_buf_init((char *)p, (unsigned)n);
    o->copy = false;
    o->release = release;
    o->msg = msg;
    wqueue_push(c, o);
    return 0;
}

size_t ad_conn_queued(const ad_conn_t *c)
{
    return uv_stream_get_write_queue_size(&c->h.stream) + c->wbytes;
}

void ad_conn_upgraded(ad_conn_t *c, void *ws)
{
    c->kind = AD_CONN_WS;
    c->ws = ws;
    c->no_more = true;
    uv_timer_stop(&c->timer);
    c->timer_mode = TM_NONE;
}

/* ---- parsing ------------------------------------------------------------------- */

static int refuse(ad_conn_t *c, int status, const char *code, const char *msg)
{
    c->err_status = status;
    c->err_code = code;
    c->err_msg = msg;
    /* Not 1: from on_headers_complete that would mean "no body". */
    return -1;
}

/* Appends n bytes to a growing arena string *p (len/cap), keeping a NUL. */
static int arena_append(ad_arena_t *a, char **p, size_t *len, size_t *cap, const char *at, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap * 2;
        if (ncap < *len + n + 1) {
            ncap = *len + n + 1;
        }
        char *np = ad_arena_alloc(a, ncap);
        if (np == NULL) {
            return AD_ENOMEM;
        }
        if (*len > 0) {
            memcpy(np, *p, *len);
        }
        *p = np;
        *cap = ncap;
    }
    memcpy(*p + *len, at, n);
    *len += n;
    (*p)[*len] = '\0';
    return 0;
}

static int count_header_bytes(ad_conn_t *c, ad_req_t *r, size_t n)
{
    r->header_bytes += n;
    if (r->header_bytes > c->srv->cfg->max_header_bytes) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = req_get(c->srv);
    r->conn = c;
    if (c->qtail != NULL) {
        c->qtail->next = r;
    } else {
        c->qhead = r;
    }
    c->qtail = r;
    c->nqueued++;
    c->cur = r;
    if (c->timer_mode != TM_HEADER) {
        set_timer(c, TM_HEADER, c->srv->cfg->header_timeout_ms);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (r->url_len + n > c->srv->cfg->max_url_bytes) {
        return refuse(c, 414, "URL_TOO_LONG", "request target is too long");
    }
    if (count_header_bytes(c, r, n) != 0) {
        return 1;
    }
    if (arena_append(&r->arena, &r->url, &r->url_len, &r->url_cap, at, n) != 0) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static void commit_header(ad_req_t *r)
{
    if (r->last_cb == 2) {
        r->nhdrs++;
    }
    r->fld_len = r->fld_cap = r->val_len = r->val_cap = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (count_header_bytes(c, r, n) != 0) {
        return 1;
    }
    if (r->headers_done) {
        /* A chunked body's trailer: counted against the size limit, not
         * kept (no handler reads trailers, and keeping them would reopen
         * the header table after it was finished). */
        return 0;
    }
    if (r->last_cb != 1) {
        commit_header(r);
        if (r->nhdrs + 1 > c->srv->cfg->max_header_count) {
            return refuse(c, 431, "TOO_MANY_HEADERS", "too many request headers");
        }
        if (r->nhdrs == r->hdr_cap) {
            unsigned ncap = r->hdr_cap ? r->hdr_cap * 2 : 16;
            ad_kv_t *nh = ad_arena_alloc(&r->arena, ncap * sizeof(*nh));
            if (nh == NULL) {
                return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
            }
            if (r->nhdrs > 0) {
                memcpy(nh, r->hdrs, r->nhdrs * sizeof(*nh));
            }
            r->hdrs = nh;
            r->hdr_cap = ncap;
        }
        r->hdrs[r->nhdrs].name = NULL;
        r->hdrs[r->nhdrs].value = NULL;
        r->header_bytes += 4; /* ": " and CRLF */
    }
    r->last_cb = 1;
    ad_kv_t *h = &r->hdrs[r->nhdrs];
    if (arena_append(&r->arena, &h->name, &r->fld_len, &r->fld_cap, at, n) != 0) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (count_header_bytes(c, r, n) != 0) {
        return 1;
    }
    if (r->headers_done) {
        return 0; /* a trailer's value: see on_header_field */
    }
    r->last_cb = 2;
    ad_kv_t *h = &r->hdrs[r->nhdrs];
    if (arena_append(&r->arena, &h->value, &r->val_len, &r->val_cap, at, n) != 0) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static bool origin_allowed(const ad_server_t *s, const char *origin)
{
    for (size_t i = 0; i < s->ncors; i++) {
        if (strcmp(s->cors[i], origin) == 0 || strcmp(s->cors[i], "*") == 0) {
            return true;
        }
    }
    return false;
}

static int on_headers_complete(http_parser *p)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    const ad_config_t *cfg = c->srv->cfg;
    if (r->last_cb == 2) {
        r->nhdrs++;
    } else if (r->last_cb == 1) {
        return refuse(c, 400, "BAD_REQUEST", "malformed header");
    }
    /* A header without a value leaves value NULL; make it "". */
    for (unsigned i = 0; i < r->nhdrs; i++) {
        if (r->hdrs[i].value == NULL) {
            r->hdrs[i].value = (char *)"";
        }
    }
    r->headers_done = true;
    r->method_id = p->method;
    r->method = http_method_str((enum http_method)p->method);
    r->head = p->method == HTTP_HEAD;
    r->keep_alive = http_should_keep_alive(p) != 0;
    r->upgrade = p->upgrade != 0;
    if (r->url == NULL) {
        return refuse(c, 400, "BAD_REQUEST", "missing request target");
    }
    /* origin-form "/path?query"; absolute-form "http://host/path" is cut to
     * its path. */
    const char *u = r->url;
    if (u[0] != '/' && u[0] != '*') {
        const char *sch = strstr(u, "://");
        if (sch == NULL) {
            return refuse(c, 400, "BAD_REQUEST", "invalid request target");
        }
        u = strchr(sch + 3, '/');
        if (u == NULL) {
            u = "/";
        }
    }
    const char *q = strchr(u, '?');
    size_t plen = q != NULL ? (size_t)(q - u) : strlen(u);
    const char *hash = memchr(u, '#', plen);
    if (hash != NULL) {
        plen = (size_t)(hash - u);
    }
    r->path = ad_arena_alloc(&r->arena, plen + 1);
    if (r->path == NULL || ad_pct_decode(u, plen, r->path, false) < 0) {
        return refuse(c, 400, "BAD_REQUEST", "invalid percent-encoding in the path");
    }
    if (q != NULL) {
        r->query = (char *)q + 1;
        char *h2 = strchr(r->query, '#');
        if (h2 != NULL) {
            *h2 = '\0';
        }
    }
    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_len = !chunked && p->content_length != ULLONG_MAX && p->content_length > 0;
    if (has_len && p->content_length > cfg->max_body_bytes) {
        return refuse(c, 413, "TOO_LARGE", "request body is too large");
    }
    const char *origin = ad_req_header(r, "origin");
    if (origin != NULL && c->srv->ncors > 0 && origin_allowed(c->srv, origin)) {
        r->cors = true;
    }
    const char *expect = ad_req_header(r, "expect");
    if (expect != NULL && (has_len || chunked)) {
        if (strcasecmp(expect, "100-continue") != 0) {
            return refuse(c, 417, "EXPECTATION_FAILED", "unsupported Expect header");
        }
        /* Only when every earlier answer is already on the wire, so the
         * interim response cannot overtake one of them. */
        if (c->qhead == r) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            ad_conn_write_copy(c, cont, sizeof(cont) - 1);
        }
    }
    if (has_len || chunked) {
        set_timer(c, TM_BODY,
                  cfg->idle_timeout_ms < cfg->header_timeout_ms ? cfg->header_timeout_ms
                                                                : cfg->idle_timeout_ms);
    } else {
        uv_timer_stop(&c->timer);
        c->timer_mode = TM_NONE;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (ad_buf_append(&r->body, at, n) != 0) {
        return refuse(c, 413, "TOO_LARGE", "request body is too large");
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    ad_conn_t *c = p->data;
    c->done = c->cur;
    c->cur = NULL;
    if (c->timer_mode == TM_BODY || c->timer_mode == TM_HEADER) {
        uv_timer_stop(&c->timer);
        c->timer_mode = TM_NONE;
    }
    /* Stop here: the request is dispatched outside the parser, where we know
     * how far the input was consumed (pipelining and upgrades need it). */
    http_parser_pause(p, 1);
    return 0;
}

/* Finds the handler for r and runs it; answers 404/405/OPTIONS itself. */
static void route_request(ad_server_t *s, ad_req_t *r)
{
    char allow[96];
    size_t alen = 0;
    allow[0] = '\0';
    const ad_route_t *found = NULL;
    const ad_route_t *head_fallback = NULL;
    for (size_t i = 0; i < s->nroutes; i++) {
        const ad_route_t *rt = &s->routes[i];
        unsigned np = 0;
        ad_kv_t params[AD_ROUTE_MAX_PARAMS];
        int m = ad_route_match(rt, r->path, &r->arena, params, &np);
        if (m <= 0) {
            continue;
        }
        bool same = strcmp(rt->method, r->method) == 0;
        if (same || (r->head && head_fallback == NULL && strcmp(rt->method, "GET") == 0)) {
            memcpy(r->params, params, np * sizeof(params[0]));
            r->nparams = np;
            if (same) {
                found = rt;
                break;
            }
            head_fallback = rt;
        }
        /* Collect the Allow list, without duplicates. */
        size_t ml = strlen(rt->method);
        bool dup = false;
        for (const char *a = allow; *a != '\0';) {
            const char *e = strchr(a, ',');
            size_t l = e != NULL ? (size_t)(e - a) : strlen(a);
            if (l == ml && memcmp(a, rt->method, ml) == 0) {
                dup = true;
                break;
            }
            a = e != NULL ? e + 2 : a + l;
        }
        if (!dup && alen + ml + 3 < sizeof(allow)) {
            if (alen > 0) {
                memcpy(allow + alen, ", ", 2);
                alen += 2;
            }
            memcpy(allow + alen, rt->method, ml);
            alen += ml;
            allow[alen] = '\0';
        }
    }
    if (found == NULL) {
        found = head_fallback;
    }
    if (found != NULL) {
        found->cb(r, found->ud);
        return;
    }
    if (alen > 0) {
        if (strstr(allow, "GET") != NULL && alen + 6 < sizeof(allow)) {
            memcpy(allow + alen, ", HEAD", 7);
            alen += 6;
        }
        if (alen + 9 < sizeof(allow)) {
            memcpy(allow + alen, ", OPTIONS", 10);
            alen += 9;
        }
        if (r->method_id == HTTP_OPTIONS) {
            ad_res_header(r, "Allow", allow);
            if (r->cors) {
                ad_res_header(r, "Access-Control-Allow-Methods", allow);
                const char *rh = ad_req_header(r, "access-control-request-headers");
                ad_res_header(r, "Access-Control-Allow-Headers",
                              rh != NULL ? rh : "Content-Type, Authorization");
                ad_res_header(r, "Access-Control-Max-Age", "600");
            }
            ad_res_send(r, 204, NULL, NULL, 0);
            return;
        }
        ad_res_header(r, "Allow", allow);
        ad_res_error(r, 405, "METHOD_NOT_ALLOWED", NULL, "method %s is not allowed here",
                     r->method);
        return;
    }
    const char *p = r->path;
    bool api = strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0;
    bool ws = strncmp(p, "/ws/", 4) == 0 || strcmp(p, "/ws") == 0;
    if ((r->method_id == HTTP_GET || r->head) && !api && !ws) {
        ad_static_serve(r);
        return;
    }
    ad_res_error(r, 404, "NOT_FOUND", NULL, "no route for %s %s", r->method, r->path);
}

static void dispatch(ad_conn_t *c, ad_req_t *r)
{
    if (r->upgrade) {
        /* Whatever follows an upgrade request is not HTTP any more: unless a
         * WebSocket route takes the connection, answer and close. */
        r->keep_alive = false;
    }
    if (c->srv->closing) {
        r->keep_alive = false;
    }
    if (!r->keep_alive) {
        c->no_more = true;
    }
    route_request(c->srv, r);
    if (c->closing || c->kind != AD_CONN_HTTP) {
        return;
    }
    if (c->nqueued >= PIPELINE_MAX) {
        c->paused = true;
    }
}

/* Answers a request the parser refused, then closes. */
static void parse_failed(ad_conn_t *c, enum http_errno e)
{
    int status = c->err_status;
    const char *code = c->err_code;
    const char *msg = c->err_msg;
    if (status == 0) {
        status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
        code = e == HPE_HEADER_OVERFLOW ? "HEADERS_TOO_LARGE" : "BAD_REQUEST";
        msg = e == HPE_HEADER_OVERFLOW ? "request headers are too large" : NULL;
    }
    ad_req_t *r = c->cur;
    if (r == NULL) {
        on_message_begin(&c->parser);
        r = c->cur;
    }
    c->cur = NULL;
    c->no_more = true;
    r->keep_alive = false;
    r->head = false;
    ad_log(AD_LOG_INFO, "http", "bad request status=%d reason=\"%s\"", status,
           msg != NULL ? msg : http_errno_description(e));
    if (msg != NULL) {
        ad_res_error(r, status, code, NULL, "%s", msg);
    } else {
        ad_res_error(r, status, code, NULL, "malformed request: %s", http_errno_description(e));
    }
}

static void parse_input(ad_conn_t *c, const char *data, size_t len)
{
    while (len > 0 && !c->closing) {
        if (c->no_more || c->kind != AD_CONN_HTTP) {
            return; /* input after the last request is discarded */
        }
        if (c->paused) {
            if (ad_buf_append(&c->stash, data, len) != 0) {
                ad_conn_abort(c);
                return;
            }
            stop_reading(c);
            return;
        }
        size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            data += n;
            len -= n;
            ad_req_t *r = c->done;
            c->done = NULL;
            if (r->upgrade) {
                c->upgrade_rest = data;
                c->upgrade_len = len;
                len = 0;
            }
            dispatch(c, r);
            c->upgrade_rest = NULL;
            c->upgrade_len = 0;
            continue;
        }
        if (e != HPE_OK) {
            parse_failed(c, e);
            return;
        }
        if (c->parser.upgrade) {
            return; /* CONNECT and the like: answered when dispatched */
        }
        data += n;
        len -= n;
        if (n == 0) {
            break;
        }
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    ad_conn_t *c = st->data;
    if (n == 0 || c->closing) {
        return;
    }
    if (n < 0) {
        stop_reading(c);
        if (n != UV_EOF || c->lingering || c->kind != AD_CONN_HTTP) {
            ad_conn_abort(c);
            return;
        }
        c->peer_eof = true;
        /* A half-closed client still gets its answers; a request cut off in
         * the middle is dropped. */
        if (c->cur != NULL || (c->qhead == NULL && c->nwriting == 0)) {
            ad_conn_abort(c);
        }
        return;
    }
    if (c->lingering) {
        return;
    }
    if (c->kind == AD_CONN_WS) {
        ad_ws_on_read(c->ws, buf->base, (size_t)n);
        return;
    }
    if (c->kind == AD_CONN_SSE) {
        return; /* the client has nothing to say on an event stream */
    }
    parse_input(c, buf->base, (size_t)n);
    if (!c->closing && c->qhead == NULL && c->cur == NULL && c->nwriting == 0) {
        conn_idle(c);
    }
}

static ad_conn_t *conn_new(ad_server_t *s, bool pipe)
{
    ad_conn_t *c = ad_xcalloc(1, sizeof(*c));
    c->srv = s;
    c->is_pipe = pipe;
    if (pipe) {
        uv_pipe_init(s->loop, &c->h.pipe, 0);
    } else {
        uv_tcp_init(s->loop, &c->h.tcp);
    }
    c->h.handle.data = c;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    ad_buf_init(&c->stash, sizeof(s->rbuf) + 1024);
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->nconns++;
    return c;
}

static void refused_closed(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *server, int status)
{
    ad_server_t *s = server->data;
    if (status < 0) {
        ad_log(AD_LOG_WARN, "http", "accept failed error=%s", uv_strerror(status));
        return;
    }
    bool pipe = server == (uv_stream_t *)&s->pipe;
    if (s->nconns >= s->cfg->max_connections || s->closing) {
        /* Refused, cheaply and without touching the others: one 503 if the
         * socket takes it right away, then close. */
        uv_stream_t *tmp = ad_xmalloc(pipe ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));
        if (pipe) {
            uv_pipe_init(s->loop, (uv_pipe_t *)tmp, 0);
        } else {
            uv_tcp_init(s->loop, (uv_tcp_t *)tmp);
        }
        if (uv_accept(server, tmp) == 0) {
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Content-Length: 84\r\nConnection: close\r\n\r\n"
                "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"too many connections\","
                "\"details\":{}}}";
            uv_buf_t b = uv_buf_init((char *)busy, sizeof(busy) - 1);
            uv_try_write(tmp, &b, 1);
        }
        ad_log(AD_LOG_WARN, "http", "connection refused reason=max-connections open=%zu",
               s->nconns);
        uv_close((uv_handle_t *)tmp, refused_closed);
        return;
    }
    ad_conn_t *c = conn_new(s, pipe);
    if (uv_accept(server, &c->h.stream) != 0) {
        ad_conn_abort(c);
        return;
    }
    if (!pipe) {
        uv_tcp_nodelay(&c->h.tcp, 1);
    }
    set_timer(c, TM_HEADER, s->cfg->header_timeout_ms);
    start_reading(c);
}

/* ---- server -------------------------------------------------------------------- */

ad_server_t *ad_server_new(uv_loop_t *loop, const ad_config_t *cfg)
{
    ad_server_t *s = ad_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    /* http-parser's own header cap is process-wide; keep it above ours so
     * our limit (and its 431) is the one that applies. */
    uint64_t hmax = cfg->max_header_bytes + 1024;
    http_parser_set_max_header_size(hmax > 80 * 1024 ? (uint32_t)hmax : 80 * 1024);
    const char *p = cfg->cors_origins;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ", ");
        if (n > 0) {
            s->cors = ad_xrealloc(s->cors, (s->ncors + 1) * sizeof(char *));
            s->cors[s->ncors++] = ad_xstrndup(p, n);
        }
        p += n;
    }
    return s;
}

void ad_server_route(ad_server_t *s, const char *method, const char *pattern, ad_handler_cb cb,
                     void *ud)
{
    if (s->nroutes == s->routes_cap) {
        s->routes_cap = s->routes_cap ? s->routes_cap * 2 : 32;
        s->routes = ad_xrealloc(s->routes, s->routes_cap * sizeof(ad_route_t));
    }
    ad_route_t *rt = &s->routes[s->nroutes];
    memset(rt, 0, sizeof(*rt));
    if (ad_route_compile(rt, method, pattern) != 0) {
        AD_BUG("invalid route %s %s", method, pattern);
    }
    rt->cb = cb;
    rt->ud = ud;
    s->nroutes++;
}

/* For route owners (WebSocket routes) that allocate per-route data. */
void ad_server_route_own_(ad_server_t *s, void *p);
void ad_server_route_own_(ad_server_t *s, void *p)
{
    s->routes[s->nroutes - 1].owned = p;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) {
        return 0;
    }
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        return AD_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    if (res->ai_family == AF_INET) {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    } else {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    }
    freeaddrinfo(res);
    return 0;
}

static int listen_unix(ad_server_t *s, char *err, size_t errsz)
{
    int n = snprintf(s->sock_path, sizeof(s->sock_path), "%s/agentd.sock", s->cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        ad_log(AD_LOG_WARN, "http", "no unix socket: path too long path=%s", s->sock_path);
        s->sock_path[0] = '\0';
        return 0;
    }
    struct stat st;
    if (lstat(s->sock_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(s->sock_path); /* stale: we hold the data-dir lock */
    }
    uv_pipe_init(s->loop, &s->pipe, 0);
    s->pipe.data = s;
    s->pipe_open = true;
    mode_t old = umask(077);
    int rc = uv_pipe_bind(&s->pipe, s->sock_path);
    umask(old);
    if (rc == 0) {
        chmod(s->sock_path, 0600);
        rc = uv_listen((uv_stream_t *)&s->pipe, 511, on_connection);
    }
    if (rc != 0) {
        snprintf(err, errsz, "cannot listen on %s: %s", s->sock_path, uv_strerror(rc));
        s->sock_path[0] = '\0';
        return AD_EIO;
    }
    return 0;
}

int ad_server_listen(ad_server_t *s, char *err, size_t errsz)
{
    const ad_config_t *cfg = s->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (resolve(cfg->listen_host, cfg->listen_port, &ss) != 0) {
        snprintf(err, errsz, "cannot resolve listen host '%s'", cfg->listen_host);
        return AD_EINVAL;
    }
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    s->tcp_open = true;
    int rc = uv_tcp_bind(&s->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&s->tcp, 511, on_connection);
    }
    if (rc != 0) {
        snprintf(err, errsz, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
                 uv_strerror(rc));
        return AD_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &blen);
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    if (cfg->data_dir[0] != '\0') {
        rc = listen_unix(s, err, errsz);
        if (rc != 0) {
            return rc;
        }
    }
    ad_log(AD_LOG_INFO, "http", "listening host=%s port=%d unix=%s", cfg->listen_host, s->port,
           s->sock_path[0] ? s->sock_path : "-");
    return 0;
}

int ad_server_port(const ad_server_t *s)
{
    return s->port;
}

static void on_server_handle_closed(uv_handle_t *h)
{
    ad_server_t *s = h->data;
    s->open_handles--;
    check_done(s);
}

static void grace_closed(uv_handle_t *h)
{
    ad_server_t *s = h->data;
    s->grace_open = false;
    if (!s->done_called) {
        s->done_called = true;
        if (s->done != NULL) {
            s->done(s->done_ud);
        }
    }
}

static void check_done(ad_server_t *s)
{
    if (!s->closing || s->nconns > 0 || s->open_handles > 0 || !s->grace_open) {
        return;
    }
    if (uv_is_closing((uv_handle_t *)&s->grace)) {
        return;
    }
    wflush_close(s);
    uv_timer_stop(&s->grace);
    uv_close((uv_handle_t *)&s->grace, grace_closed);
}

static void on_grace(uv_timer_t *t)
{
    ad_server_t *s = t->data;
    ad_log(AD_LOG_WARN, "http", "shutdown grace period over, closing connections open=%zu",
           s->nconns);
    ad_conn_t *c = s->conns;
    while (c != NULL) {
        ad_conn_t *next = c->next;
        ad_conn_abort(c);
        c = next;
    }
}

void ad_server_close(ad_server_t *s, void (*done)(void *ud), void *ud)
{
    if (s->closing) {
        return;
    }
    s->closing = true;
    s->done = done;
    s->done_ud = ud;
    if (s->tcp_open) {
        s->open_handles++;
        uv_close((uv_handle_t *)&s->tcp, on_server_handle_closed);
        s->tcp_open = false;
    }
    if (s->pipe_open) {
        s->open_handles++;
        uv_close((uv_handle_t *)&s->pipe, on_server_handle_closed);
        s->pipe_open = false;
        if (s->sock_path[0] != '\0') {
            unlink(s->sock_path);
        }
    }
    uv_timer_init(s->loop, &s->grace);
    s->grace.data = s;
    s->grace_open = true;
    uv_timer_start(&s->grace, on_grace, s->cfg->shutdown_grace_ms, 0);
    uv_unref((uv_handle_t *)&s->grace);
    ad_conn_t *c = s->conns;
    while (c != NULL) {
        ad_conn_t *next = c->next;
        if (c->closing) {
            /* already on its way out */
        } else if (c->kind == AD_CONN_WS) {
            ad_ws_on_server_close(c->ws);
        } else if (c->kind == AD_CONN_SSE) {
            ad_conn_finish(c);
        } else if (c->qhead == NULL && c->nwriting == 0) {
            if (c->cur != NULL) {
                ad_conn_abort(c); /* a request still arriving: not in flight yet */
            } else {
                ad_conn_finish(c);
            }
        } else {
            c->no_more = true; /* finish the answers, then close */
        }
        c = next;
    }
    check_done(s);
}

void ad_server_free(ad_server_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        ad_route_cleanup(&s->routes[i]);
    }
    free(s->routes);
    for (size_t i = 0; i < s->ncors; i++) {
        free(s->cors[i]);
    }
    free(s->cors);
    wflush_close(s);
    while (s->free_wouts != NULL) {
        ad_wout_t *o = s->free_wouts;
        s->free_wouts = o->next;
        free(o);
    }
    while (s->free_reqs != NULL) {
        ad_req_t *r = s->free_reqs;
        s->free_reqs = r->next;
        ad_arena_cleanup(&r->arena);
        free(r);
    }
    free(s);
}

#ifdef AD_TEST_BUILD
/* Fuzzing and tests: a connection on an already open fd, and direct input. */
ad_conn_t *ad_http_conn_open_fd_(ad_server_t *s, int fd);
ad_conn_t *ad_http_conn_open_fd_(ad_server_t *s, int fd)
{
    ad_conn_t *c = conn_new(s, true);
    if (uv_pipe_open(&c->h.pipe, fd) != 0) {
        ad_conn_abort(c);
        return NULL;
    }
    set_timer(c, TM_HEADER, s->cfg->header_timeout_ms);
    start_reading(c);
    return c;
}

void ad_http_conn_feed_(ad_conn_t *c, const char *data, size_t len);
void ad_http_conn_feed_(ad_conn_t *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    on_read(&c->h.stream, (ssize_t)len, &b);
}
#endif
