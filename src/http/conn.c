/* SPDX-License-Identifier: MIT */
/*
 * Connections: accepting them, the request pool, the read path, timers
 * (header, body, idle, linger, and the owner's), half-close, lingering
 * close and abort, and handing a connection over to another protocol
 * (ad_req_take_over). Parsing is parse.c's, writing write.c's, listeners
 * and shutdown server.c's.
 */
#define _GNU_SOURCE /* struct ucred */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Released requests kept for reuse, with their first arena chunk. */
#define FREE_REQS_MAX 128
#define ARENA_CHUNK (4096 - 64)
/* How long a closing connection waits for the peer's FIN. */
#define LINGER_MS 2000
/* A header, body or idle timer that finds the peer's bytes waiting unread
 * gives the connection GRACE_MS more, at most GRACES_MAX times a request. */
#define GRACE_MS 1000
#define GRACES_MAX 4

static void conn_timer_cb(uv_timer_t *t);

/* ---- requests ----------------------------------------------------------------- */

ad_req_t *ad_http_req_get(ad_server_t *s)
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

void ad_http_req_put(ad_req_t *r)
{
    ad_server_t *s = r->srv;
    ad_http_caps_body_release(r);
    ad_buf_cleanup(&r->body);
    free(r->owned_body);
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

void ad_http_req_answered(ad_req_t *r)
{
    ad_server_t *s = r->srv;
    /* the route table outlives every request: counting through it is safe */
    ad_http_count(r->route != NULL ? &((ad_route_t *)r->route)->counts : &s->unrouted, r->status);
    if (s->guard != NULL && s->guard->done != NULL) {
        s->guard->done(s->guard_ud, r, r->status);
    }
    if (r->conn == NULL && r->call_cb != NULL) {
        bool body = r->nout == 2 && r->out[1].base != NULL;
        r->call_cb(r->status, body ? r->out[1].base : "", body ? r->out[1].len : 0, r->call_ud);
    }
    if (r->conn == NULL) {
        ad_http_req_put(r); /* the client has gone (or called in-process): drop the answer */
        return;
    }
    ad_conn_flush(r->conn);
}

void ad_http_reqs_free(ad_server_t *s)
{
    while (s->free_reqs != NULL) {
        ad_req_t *r = s->free_reqs;
        s->free_reqs = r->next;
        ad_arena_cleanup(&r->arena);
        free(r);
    }
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
    if (c->is_pipe) {
        s->nunix--;
    }
    ad_http_caps_ws_close(c);
    ad_http_caps_conn_close(c);
    ad_buf_cleanup(&c->stash);
    ad_conn_tls_free(c);
    free(c);
    ad_http_check_done(s);
}

void ad_conn_abort(ad_conn_t *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    ad_conn_wqueue_drop(c);
    /* Requests a handler still holds stay valid; their late answers are
     * dropped. Answered but unwritten ones go back to the pool. */
    ad_req_t *r = c->qhead;
    while (r != NULL) {
        ad_req_t *next = r->next;
        r->next = NULL;
        if (r->answered || r == c->cur || r == c->done) {
            ad_http_req_put(r); /* answered, or never handed to a handler */
        } else {
            r->conn = NULL;
        }
        r = next;
    }
    c->qhead = c->qtail = NULL;
    c->nqueued = 0;
    c->cur = NULL;
    c->done = NULL;
    if (c->ops != NULL) {
        const ad_conn_ops_t *ops = c->ops;
        c->ops = NULL;
        ops->on_close(c->ops_ud);
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
    ad_conn_set_timer(c, AD_TM_LINGER, LINGER_MS);
}

void ad_conn_finish(ad_conn_t *c)
{
    if (c->closing || c->shutting) {
        return;
    }
    /* queued frames (a Close, the last events) go before the FIN */
    if (ad_conn_wqueue_flush(c) != 0) {
        ad_conn_abort(c);
        return;
    }
    c->shutting = true;
    c->no_more = true;
    ad_conn_tls_close_notify(c);
    uv_shutdown_t *req = ad_xmalloc(sizeof(*req));
    req->data = c;
    if (uv_shutdown(req, &c->h.stream, on_shutdown) != 0) {
        free(req);
        ad_conn_abort(c);
    }
}

void ad_conn_timer(ad_conn_t *c, uint64_t ms, uint64_t repeat, ad_conn_timer_cb cb)
{
    if (c->closing) {
        return;
    }
    c->timer_mode = AD_TM_OWNER;
    c->owner_timer = cb;
    c->armed = UINT64_MAX; /* the next ad_conn_set_timer starts it again */
    uv_timer_start(&c->timer, conn_timer_cb, ms, repeat);
}

/* The timers that time the client: how long it takes to send a head or a
 * body, or to begin its next request. */
static bool client_timer(int mode)
{
    return mode == AD_TM_HEADER || mode == AD_TM_BODY || mode == AD_TM_IDLE;
}

/* A keep-alive connection sets a timer twice a request (the next head's,
 * then idle) and stops one. Each uv_timer_start takes the timer out of
 * libuv's heap and puts it back. So the timer stays where it is when it
 * is due no later than the new time: it fires early, and conn_timer_cb
 * starts it again for what is left. A stop is only the mode's (NONE). */
void ad_conn_set_timer(ad_conn_t *c, int mode, uint64_t ms)
{
    c->timer_mode = mode;
    /* The loop's clock is read once a turn; a turn that ran long (the
     * thread kept off the CPU) would start a client's time already spent.
     * The client's times run from now (a vDSO clock read). */
    if (client_timer(mode)) {
        uv_update_time(c->srv->loop);
    }
    c->due = uv_now(c->srv->loop) + ms;
    if (uv_is_active((uv_handle_t *)&c->timer) && c->armed <= c->due) {
        return;
    }
    c->armed = c->due;
    uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

void ad_conn_stop_timer(ad_conn_t *c)
{
    c->timer_mode = AD_TM_NONE;
}

/* The peer's bytes are in the socket, not yet read. A loop thread kept
 * off the CPU (a loaded machine) wakes with its clock past a timer, and
 * libuv runs timers before the poll that would read what arrived in the
 * meantime: then it is this loop that was slow, not the client, and the
 * request must not be dropped (it was: "other side closed" on a request
 * sent well inside the timeout). A slow client gains nothing from it: what
 * it sent before the timer was read already. */
static bool peer_waiting(ad_conn_t *c)
{
    uv_os_fd_t fd;
    if (c->graces >= GRACES_MAX || uv_fileno(&c->h.handle, &fd) != 0) {
        return false;
    }
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void conn_timer_cb(uv_timer_t *t)
{
    ad_conn_t *c = t->data;
    int mode = c->timer_mode;
    if (mode == AD_TM_NONE) {
        return; /* stopped since it was started */
    }
    if (mode != AD_TM_OWNER) {
        uint64_t now = uv_now(c->srv->loop);
        if (now < c->due) {
            c->armed = c->due; /* fired early: the mode's time moved on */
            uv_timer_start(&c->timer, conn_timer_cb, c->due - now, 0);
            return;
        }
    }
    if (client_timer(mode) && peer_waiting(c)) {
        c->graces++;
        ad_conn_set_timer(c, mode, GRACE_MS);
        return;
    }
    switch (mode) {
    case AD_TM_HEADER:
        ad_log(AD_LOG_INFO, "http", "dropping slow client reason=header-timeout");
        ad_conn_abort(c);
        break;
    case AD_TM_BODY:
        ad_log(AD_LOG_INFO, "http", "dropping slow client reason=body-timeout");
        ad_conn_abort(c);
        break;
    case AD_TM_IDLE:
        ad_conn_finish(c);
        break;
    case AD_TM_OWNER:
        if (c->owner_timer != NULL) {
            c->owner_timer(c->ops_ud);
        } else {
            ad_conn_abort(c);
        }
        break;
    default:
        ad_conn_abort(c);
        break;
    }
}

/* The connection went quiet: nothing parsed, queued or being written. */
void ad_conn_idle(ad_conn_t *c)
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
    ad_conn_set_timer(c, AD_TM_IDLE, c->srv->cfg->idle_timeout_ms);
}

void ad_conn_resume_parsing(ad_conn_t *c)
{
    if (!c->paused || c->closing || c->nqueued >= AD_HTTP_PIPELINE_MAX / 2) {
        return;
    }
    c->paused = false;
    if (c->stash.len > 0) {
        size_t len;
        char *data = ad_buf_detach(&c->stash, &len);
        ad_http_parse_input(c, data, len);
        free(data);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    AD_UNUSED(suggested);
    ad_conn_t *c = h->data;
    buf->base = c->srv->rbuf;
    buf->len = sizeof(c->srv->rbuf);
}

/* Bytes read from the peer (n > 0), or its EOF or an error (n < 0). */
void ad_conn_on_input(ad_conn_t *c, ssize_t n, const char *data)
{
    if (n == 0 || c->closing) {
        return;
    }
    if (n < 0) {
        ad_conn_stop_reading(c);
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
    if (c->kind == AD_CONN_TAKEN) {
        if (c->ops != NULL && c->ops->on_read != NULL) {
            c->ops->on_read(c->ops_ud, data, (size_t)n);
        }
        return;
    }
    c->in_input = true;
    ad_http_parse_input(c, data, (size_t)n);
    c->in_input = false;
    if (!c->closing && c->qhead == NULL && c->cur == NULL && c->nwriting == 0) {
        ad_conn_idle(c);
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    ad_conn_t *c = st->data;
    if (c->tls != NULL) {
        ad_conn_tls_input(c, n, buf->base);
    } else {
        ad_conn_on_input(c, n, buf->base);
    }
}

void ad_conn_start_reading(ad_conn_t *c)
{
    if (!c->reading && !c->closing && !c->peer_eof) {
        if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0) {
            c->reading = true;
        }
    }
}

void ad_conn_stop_reading(ad_conn_t *c)
{
    if (c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}
ad_conn_t *ad_conn_new(ad_server_t *s, bool pipe)
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
    if (pipe) {
        s->nunix++;
    }
    return c;
}

static void refused_closed(uv_handle_t *h)
{
    free(h);
}

/* A unix-socket client acts as the owner: only a process of agentd's own
 * user may be one. The socket's mode (0600) says so already when agentd
 * made it; a socket a service manager handed over may have been made
 * wider, so the peer's credentials decide, whoever made the socket. */
static bool peer_is_us(ad_conn_t *c)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (uv_fileno((uv_handle_t *)&c->h.stream, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return false;
    }
    if (cred.uid != geteuid()) {
        ad_log(AD_LOG_WARN, "http", "unix connection refused reason=another-user uid=%ld pid=%ld",
               (long)cred.uid, (long)cred.pid);
        return false;
    }
    return true;
}

void ad_http_on_connection(uv_stream_t *server, int status)
{
    ad_server_t *s = server->data;
    if (status < 0) {
        ad_log(AD_LOG_WARN, "http", "accept failed error=%s", uv_strerror(status));
        return;
    }
    bool pipe = server == (uv_stream_t *)&s->pipe;
    /* The unix socket has its own budget: TCP clients cannot use it up.
     * TCP connections are counted by caps.c: those without a credential
     * have their caps (the oldest past them go), those with one never
     * wait for them. */
    bool full = pipe && s->nunix >= s->cfg->max_unix_connections;
    if (full || s->closing) {
        /* Refused, cheaply and without touching the others: one 503 if the
         * socket takes it right away, then close. */
        uv_stream_t *tmp = ad_xmalloc(pipe ? sizeof(uv_pipe_t) : sizeof(uv_tcp_t));
        if (pipe) {
            uv_pipe_init(s->loop, (uv_pipe_t *)tmp, 0);
        } else {
            uv_tcp_init(s->loop, (uv_tcp_t *)tmp);
        }
        if (uv_accept(server, tmp) == 0 && (pipe || s->tls == NULL)) {
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
    ad_conn_t *c = ad_conn_new(s, pipe);
    if (uv_accept(server, &c->h.stream) != 0) {
        ad_conn_abort(c);
        return;
    }
    if (pipe && !peer_is_us(c)) {
        ad_conn_abort(c);
        return;
    }
    if (!pipe) {
        ad_http_caps_conn_open(c);
        uv_tcp_nodelay(&c->h.tcp, 1);
        if (s->tls != NULL && ad_conn_tls_start(c, s->tls) != 0) {
            ad_conn_abort(c);
            return;
        }
    }
    ad_conn_set_timer(c, AD_TM_HEADER, s->cfg->header_timeout_ms);
    ad_conn_start_reading(c);
}

/* ---- taking a connection over ------------------------------------------------- */

bool ad_req_can_take_over(const ad_req_t *r)
{
    const ad_conn_t *c = r->conn;
    return !r->answered && c != NULL && c->kind == AD_CONN_HTTP && !c->closing && c->qhead == r &&
           !r->srv->closing;
}

ad_conn_t *ad_req_take_over(ad_req_t *r, int status, const char *content_type,
                            const ad_conn_ops_t *ops, void *ud)
{
    ad_conn_t *c = r->conn;
    if (r->answered || c == NULL || c->kind != AD_CONN_HTTP || c->closing) {
        return NULL;
    }
    c->kind = AD_CONN_TAKEN;
    c->no_more = true;
    c->head_req = r;
    if (r->upgrade && status == 101 && !c->is_pipe) {
        ad_http_caps_ws_open(c, r->auth); /* counted until the connection goes */
    }
    r->keep_alive = false;
    ad_conn_stop_timer(c);
    /* Attached before the head is sent: a head written at once reports
     * on_head_written from inside the send. ad_conn_flush never closes
     * the connection from here (a failed write is closed by the turn's
     * flush), so no on_close can come before the owner has the conn. */
    c->ops = ops;
    c->ops_ud = ud;
    ad_res_send_ex(r, status, content_type, NULL, status == 101 ? 0 : SIZE_MAX, true);
    return c;
}

bool ad_conn_writable(const ad_conn_t *c)
{
    return !c->closing && !c->shutting;
}

uv_loop_t *ad_conn_loop(const ad_conn_t *c)
{
    return c->srv->loop;
}

const ad_config_t *ad_conn_config(const ad_conn_t *c)
{
    return c->srv->cfg;
}
