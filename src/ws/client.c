/* SPDX-License-Identifier: MIT */
/*
 * A WebSocket client (RFC 6455) on libuv and wslay, for a worker node's
 * one outbound connection to its control plane (issue #34, src/node): the
 * name resolved on the pool, TCP, TLS for https/wss through a src/tls
 * session on memory (the peer's certificate checked against the system's
 * roots and the host name; agentd-tls.so is loaded by the first wss URL
 * opened), the upgrade request with a bearer token, the
 * answer's Sec-WebSocket-Accept checked, then frames through wslay's
 * client context (masked). Bounded: the handshake answer, one message,
 * and what is queued to the socket. What the messages mean is the
 * caller's.
 *
 * Threads: loop thread only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ws/ws.h"

#include "tls/tls.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#define HANDSHAKE_MAX 8192

struct ad_wsc {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_getaddrinfo_t gai;
    uv_connect_t conn;
    ad_wsc_handler_t h;
    void *ud;
    char host[256], port[8], path[1024];
    char head[5120]; /* the upgrade's own header lines, each ending CRLF */
    char key[25];
    bool tls;
    ad_tls_t *ssl; /* the TLS session (wss), or NULL */
    bool tls_up;
    int stage; /* 0 resolving/connecting, 1 handshake, 2 open, 3 closed */
    bool resolving, tcp_init, closing;
    int close_code;
    char close_reason[128];
    wslay_event_context_ptr ctx;
    size_t max_msg;
    ad_buf_t hs;  /* the upgrade answer, until its blank line */
    ad_buf_t out; /* wslay's frames, before TLS */
    const uint8_t *in;
    size_t in_len;
    size_t queued; /* bytes handed to uv_write, not yet written */
    uint64_t rnd;
};

typedef struct {
    uv_write_t req;
    ad_wsc_t *c;
    size_t len;
    char data[];
} wreq_t;

static void finish(ad_wsc_t *c, int code, const char *reason);

/* ---- the URL -------------------------------------------------------------------- */

int ad_wsc_parse_url(const char *url, bool *tls, char *host, size_t hostsz, char *port,
                     size_t portsz, char *path, size_t pathsz)
{
    const char *p = url;
    if (strncmp(p, "ws://", 5) == 0 || strncmp(p, "http://", 7) == 0) {
        *tls = false;
    } else if (strncmp(p, "wss://", 6) == 0 || strncmp(p, "https://", 8) == 0) {
        *tls = true;
    } else {
        return AD_EINVAL;
    }
    p = strstr(p, "://") + 3;
    const char *end = p + strcspn(p, "/?#");
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL) {
            return AD_EINVAL;
        }
        if ((size_t)(rb - p - 1) >= hostsz) {
            return AD_ETOOBIG;
        }
        snprintf(host, hostsz, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t hl = (size_t)((colon != NULL ? colon : end) - p);
        if (hl == 0 || hl >= hostsz) {
            return AD_EINVAL;
        }
        snprintf(host, hostsz, "%.*s", (int)hl, p);
    }
    if (colon != NULL) {
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e != end || v <= 0 || v > 65535) {
            return AD_EINVAL;
        }
        snprintf(port, portsz, "%ld", v);
    } else {
        snprintf(port, portsz, "%s", *tls ? "443" : "80");
    }
    const char *rest = *end == '/' ? end : "/";
    size_t rl = strcspn(rest, "#");
    if (rl >= pathsz) {
        return AD_ETOOBIG;
    }
    snprintf(path, pathsz, "%.*s", (int)rl, rest);
    for (const char *q = host; *q; q++) {
        if ((unsigned char)*q <= ' ' || *q == '/' || *q == '@') {
            return AD_EINVAL;
        }
    }
    return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    w->c->queued -= w->len;
    if (status < 0 && w->c->stage < 3) {
        finish(w->c, 1006, "write failed");
    }
    free(w);
}

static void raw_write(ad_wsc_t *c, const void *data, size_t len)
{
    if (len == 0 || c->closing) {
        return;
    }
    wreq_t *w = ad_xmalloc(sizeof(*w) + len);
    w->c = c;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    c->queued += len;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        c->queued -= len;
        free(w);
        finish(c, 1006, "write failed");
    }
}

/* What TLS has made to send, to the socket. */
static void tls_flush(ad_wsc_t *c)
{
    char buf[16384];
    size_t n;
    while ((n = ad_tls_take(c->ssl, buf, sizeof(buf))) > 0) {
        raw_write(c, buf, n);
    }
}

/* Plain bytes to the peer: through TLS when it is on. */
static void send_plain(ad_wsc_t *c, const void *data, size_t len)
{
    if (!c->tls) {
        raw_write(c, data, len);
        return;
    }
    if (ad_tls_write(c->ssl, data, len) != 0) {
        finish(c, 1006, "TLS write failed");
        return;
    }
    tls_flush(c);
}

/* ---- wslay ---------------------------------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    AD_UNUSED(flags);
    ad_wsc_t *c = ud;
    if (c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    AD_UNUSED(flags);
    ad_wsc_t *c = ud;
    if (ad_buf_append(&c->out, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

/* Masks need not be secret from us (they protect proxies from a script's
 * bytes); a xorshift seeded from the kernel is enough. */
static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    AD_UNUSED(ctx);
    ad_wsc_t *c = ud;
    for (size_t i = 0; i < len; i++) {
        c->rnd ^= c->rnd << 13;
        c->rnd ^= c->rnd >> 7;
        c->rnd ^= c->rnd << 17;
        buf[i] = (uint8_t)c->rnd;
    }
    return 0;
}

static void on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    AD_UNUSED(ctx);
    ad_wsc_t *c = ud;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        c->close_code = arg->status_code != 0 ? arg->status_code : 1005;
        size_t n = arg->msg_length > 2 ? arg->msg_length - 2 : 0;
        n = n < sizeof(c->close_reason) - 1 ? n : sizeof(c->close_reason) - 1;
        memcpy(c->close_reason, arg->msg + 2, n);
        c->close_reason[n] = '\0';
        return;
    }
    if ((arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) && c->stage == 2 &&
        c->h.on_message != NULL) {
        c->h.on_message(c, (const char *)arg->msg, arg->msg_length,
                        arg->opcode == WSLAY_BINARY_FRAME, c->ud);
    }
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_msg_recv_callback = on_msg_cb,
};

/* wslay's queued frames out; the end when both sides have closed. */
static void pump(ad_wsc_t *c)
{
    if (c->ctx == NULL || c->stage != 2) {
        return;
    }
    if (wslay_event_send(c->ctx) != 0) {
        finish(c, 1006, "send failed");
        return;
    }
    if (c->out.len > 0) {
        send_plain(c, c->out.data, c->out.len);
        ad_buf_reset(&c->out);
    }
    if (c->stage == 2 && wslay_event_get_close_received(c->ctx) &&
        (wslay_event_get_close_sent(c->ctx) || !wslay_event_want_write(c->ctx))) {
        finish(c, c->close_code != 0 ? c->close_code : 1000, c->close_reason);
    }
}

/* ---- the handshake --------------------------------------------------------------------- */

static void send_upgrade(ad_wsc_t *c)
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        finish(c, 1006, "no randomness for the key");
        return;
    }
    ad_base64_encode(raw, sizeof(raw), c->key, sizeof(c->key));
    memcpy(&c->rnd, raw, sizeof(c->rnd));
    c->rnd |= 1;
    char req[6656];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: "
                     "Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     c->path, c->host, c->port, c->key, c->head);
    c->stage = 1;
    if (n > 0 && (size_t)n < sizeof(req)) {
        send_plain(c, req, (size_t)n);
    } else {
        finish(c, 1006, "upgrade request too long");
    }
    memset(req, 0, sizeof(req));
}

/* The header value of name in the answer's head (NUL-terminated), or
 * false. */
static bool header_value(const char *head, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            v += strspn(v, " \t");
            size_t vl = strcspn(v, "\r\n");
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
                vl--;
            }
            snprintf(out, outsz, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

/* The upgrade's answer, as far as it has come: open when whole and right,
 * else the end with the HTTP status as the code. */
static void handshake_input(ad_wsc_t *c, const char *data, size_t len)
{
    if (ad_buf_append(&c->hs, data, len) != 0) {
        finish(c, 1002, "upgrade answer too long");
        return;
    }
    char *end = memmem(c->hs.data, c->hs.len, "\r\n\r\n", 4);
    if (end == NULL) {
        return;
    }
    size_t head = (size_t)(end - c->hs.data) + 4;
    char *h = ad_xstrndup(c->hs.data, head);
    int status = 0;
    if (strncmp(h, "HTTP/1.1 ", 9) == 0) {
        status = (int)strtol(h + 9, NULL, 10);
    }
    char accept[64] = "", want[29];
    bool ok = status == 101 && header_value(h, "Sec-WebSocket-Accept", accept, sizeof(accept)) &&
              ad_ws_accept_key(c->key, want) == 0 && strcmp(accept, want) == 0;
    free(h);
    if (!ok) {
        char why[96];
        snprintf(why, sizeof(why), "the server answered the upgrade with %d", status);
        finish(c, status >= 100 && status < 1000 ? status : 1002, why);
        return;
    }
    if (wslay_event_context_client_init(&c->ctx, &callbacks, c) != 0) {
        finish(c, 1006, "no memory");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(c->ctx, c->max_msg);
    c->stage = 2;
    size_t rest = c->hs.len - head;
    /* frames that came with the answer: bytes, NULs included (not a string) */
    char *tail = rest > 0 ? ad_xmalloc(rest) : NULL;
    if (tail != NULL) {
        memcpy(tail, c->hs.data + head, rest);
    }
    ad_buf_cleanup(&c->hs);
    if (c->h.on_open != NULL) {
        c->h.on_open(c, c->ud);
    }
    if (tail != NULL && c->stage == 2) {
        c->in = (const uint8_t *)tail;
        c->in_len = rest;
        wslay_event_recv(c->ctx);
        c->in_len = 0;
        pump(c);
    }
    free(tail);
}

static void plain_input(ad_wsc_t *c, const char *data, size_t len)
{
    if (c->stage == 1) {
        handshake_input(c, data, len);
        return;
    }
    if (c->stage != 2) {
        return;
    }
    c->in = (const uint8_t *)data;
    c->in_len = len;
    if (wslay_event_recv(c->ctx) != 0) {
        c->in_len = 0;
        finish(c, 1002, "bad frame from the server");
        return;
    }
    c->in_len = 0;
    pump(c);
}

/* ---- TLS ------------------------------------------------------------------------------ */

/* The session, checking the peer against c->host; AGENTD_NODE_CA_FILE
 * names a private CA's roots, else the system's are used. */
static int tls_setup(ad_wsc_t *c, char *err, size_t errsz)
{
    ad_tls_ctx_t *ctx = NULL;
    int rc = ad_tls_client_ctx(getenv("AGENTD_NODE_CA_FILE"), &ctx, err, errsz);
    if (rc != 0) {
        return rc;
    }
    c->ssl = ad_tls_new(ctx, c->host);
    ad_tls_ctx_free(ctx); /* the session keeps what it needs */
    if (c->ssl == NULL) {
        snprintf(err, errsz, "cannot create a TLS connection");
        return AD_EIO;
    }
    return 0;
}

static void tls_input(ad_wsc_t *c, const char *data, size_t len)
{
    char why[300];
    if (ad_tls_feed(c->ssl, data, len) != 0) {
        finish(c, 1006, "TLS input failed");
        return;
    }
    if (!c->tls_up) {
        int r = ad_tls_handshake(c->ssl, why, sizeof(why));
        tls_flush(c);
        if (r < 0) {
            finish(c, 1015, why);
        }
        if (r != 1) {
            return;
        }
        c->tls_up = true;
        send_upgrade(c);
    }
    char buf[16384];
    while (c->stage < 3) {
        ssize_t n = ad_tls_read(c->ssl, buf, sizeof(buf), why, sizeof(why));
        if (n == 0) {
            break;
        }
        if (n < 0) {
            finish(c, 1006, n == AD_ECLOSED ? "the server closed TLS" : "TLS read failed");
            break;
        }
        plain_input(c, buf, (size_t)n);
    }
    if (c->stage < 3) {
        tls_flush(c);
    }
}

/* ---- the socket ----------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    AD_UNUSED(h);
    AD_UNUSED(suggested);
    buf->base = ad_xmalloc(65536);
    buf->len = 65536;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    ad_wsc_t *c = st->data;
    if (nread < 0) {
        free(buf->base);
        finish(c, c->close_code != 0 ? c->close_code : 1006,
               c->close_reason[0] != '\0' ? c->close_reason : "connection lost");
        return;
    }
    if (nread > 0) {
        if (c->tls) {
            tls_input(c, buf->base, (size_t)nread);
        } else {
            plain_input(c, buf->base, (size_t)nread);
        }
    }
    free(buf->base);
}

static void on_connected(uv_connect_t *req, int status)
{
    ad_wsc_t *c = req->data;
    if (c->stage == 3) {
        return;
    }
    if (status < 0) {
        char why[400];
        snprintf(why, sizeof(why), "cannot connect to %s:%s: %s", c->host, c->port,
                 uv_strerror(status));
        finish(c, 1006, why);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    if (c->tls) {
        char why[300];
        if (ad_tls_handshake(c->ssl, why, sizeof(why)) < 0) {
            finish(c, 1015, why);
            return;
        }
        tls_flush(c);
    } else {
        send_upgrade(c);
    }
}

static void free_wsc(ad_wsc_t *c);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ad_wsc_t *c = req->data;
    c->resolving = false;
    if (c->stage == 3) { /* closed while resolving: ours to free now */
        if (res != NULL) {
            uv_freeaddrinfo(res);
        }
        free_wsc(c);
        return;
    }
    if (status < 0 || res == NULL) {
        if (c->stage != 3) {
            char why[400];
            snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host,
                     status < 0 ? uv_strerror(status) : "no address");
            finish(c, 1006, why);
        }
        if (res != NULL) {
            uv_freeaddrinfo(res);
        }
        return;
    }
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_init = true;
    c->conn.data = c;
    if (uv_tcp_connect(&c->conn, &c->tcp, res->ai_addr, on_connected) != 0) {
        finish(c, 1006, "cannot connect");
    }
    uv_freeaddrinfo(res);
}

/* ---- the life cycle -------------------------------------------------------------------- */

static void free_wsc(ad_wsc_t *c)
{
    if (c->ctx != NULL) {
        wslay_event_context_free(c->ctx);
    }
    ad_tls_free(c->ssl);
    ad_buf_cleanup(&c->hs);
    ad_buf_cleanup(&c->out);
    memset(c->head, 0, sizeof(c->head));
    free(c);
}

static void on_tcp_closed(uv_handle_t *h)
{
    free_wsc(h->data);
}

/* The end, once: on_close, then the socket closed and c freed. */
static void finish(ad_wsc_t *c, int code, const char *reason)
{
    if (c->stage == 3) {
        return;
    }
    c->stage = 3;
    if (c->h.on_close != NULL) {
        c->h.on_close(c, code, reason != NULL ? reason : "", c->ud);
    }
    c->closing = true;
    if (c->tcp_init) {
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    } else if (!c->resolving) {
        free_wsc(c);
    } /* else on_resolved frees it */
}

/* c, made for url with the header block head (copied): 0 and *out, or
 * an error with err and nothing made. */
static int open_with(uv_loop_t *loop, const char *url, const char *head, size_t max_msg,
                     const ad_wsc_handler_t *h, void *ud, ad_wsc_t **out, char *err, size_t errsz)
{
    AD_ASSERT_LOOP();
    ad_wsc_t *c = ad_xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->h = *h;
    c->ud = ud;
    c->max_msg = max_msg;
    ad_buf_init(&c->hs, HANDSHAKE_MAX);
    ad_buf_init(&c->out, max_msg + 64 * 1024);
    int rc = ad_wsc_parse_url(url, &c->tls, c->host, sizeof(c->host), c->port, sizeof(c->port),
                              c->path, sizeof(c->path));
    if (rc != 0) {
        snprintf(err, errsz, "not a ws://, wss://, http:// or https:// URL: %s", url);
        ad_buf_cleanup(&c->hs);
        ad_buf_cleanup(&c->out);
        free(c);
        return AD_EINVAL;
    }
    snprintf(c->head, sizeof(c->head), "%s", head);
    if (c->tls && (rc = tls_setup(c, err, errsz)) != 0) {
        free_wsc(c);
        return rc;
    }
    c->gai.data = c;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    /* The request outlives a finish() before it answers: c stays until it
     * has (on_resolved frees a closed one). */
    rc = uv_getaddrinfo(loop, &c->gai, on_resolved, c->host, c->port, &hints);
    if (rc != 0) {
        snprintf(err, errsz, "cannot resolve %s: %s", c->host, uv_strerror(rc));
        free_wsc(c);
        return AD_EIO;
    }
    c->resolving = true;
    *out = c;
    return 0;
}

int ad_wsc_open(uv_loop_t *loop, const char *url, const char *bearer, size_t max_msg,
                const ad_wsc_handler_t *h, void *ud, ad_wsc_t **out, char *err, size_t errsz)
{
    char head[1024];
    if (strlen(bearer) >= 512 || strpbrk(bearer, "\r\n") != NULL) {
        snprintf(err, errsz, "the token is not one line of at most 511 bytes");
        return AD_EINVAL;
    }
    snprintf(head, sizeof(head), "Authorization: Bearer %s\r\nUser-Agent: agentd-node/%s\r\n",
             bearer, AD_VERSION);
    int rc = open_with(loop, url, head, max_msg, h, ud, out, err, errsz);
    memset(head, 0, sizeof(head));
    return rc;
}

int ad_wsc_open_headers(uv_loop_t *loop, const char *url, const char *const *headers,
                        size_t max_msg, const ad_wsc_handler_t *h, void *ud, ad_wsc_t **out,
                        char *err, size_t errsz)
{
    ad_buf_t head;
    ad_buf_init(&head, 4800);
    int rc = 0;
    for (size_t i = 0; rc == 0 && headers[i] != NULL; i++) {
        rc = strpbrk(headers[i], "\r\n") != NULL || strchr(headers[i], ':') == NULL
                 ? AD_EINVAL
                 : ad_buf_printf(&head, "%s\r\n", headers[i]);
    }
    rc = rc != 0 ? rc : ad_buf_printf(&head, "User-Agent: agentd-plane/%s\r\n", AD_VERSION);
    if (rc != 0) {
        snprintf(err, errsz, "the upgrade's headers are not lines of at most 4,800 bytes in all");
    } else {
        rc = open_with(loop, url, head.data, max_msg, h, ud, out, err, errsz);
    }
    if (head.data != NULL) {
        memset(head.data, 0, head.cap);
    }
    ad_buf_cleanup(&head);
    return rc;
}

int ad_wsc_send(ad_wsc_t *c, const void *data, size_t len, bool binary)
{
    if (c->stage != 2 || c->closing) {
        return AD_ECLOSED;
    }
    struct wslay_event_msg m = {
        .opcode = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
        .msg = data,
        .msg_length = len,
    };
    if (wslay_event_queue_msg(c->ctx, &m) != 0) {
        return AD_ECLOSED;
    }
    pump(c);
    return c->stage == 2 ? 0 : AD_ECLOSED;
}

void ad_wsc_pause(ad_wsc_t *c, bool paused)
{
    if (c->stage != 2 || c->closing || !c->tcp_init) {
        return;
    }
    if (paused) {
        uv_read_stop((uv_stream_t *)&c->tcp);
    } else {
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    }
}

size_t ad_wsc_queued(const ad_wsc_t *c)
{
    return c->queued;
}

void ad_wsc_close(ad_wsc_t *c, int code, const char *reason)
{
    if (c->stage == 2 && code != 0) {
        wslay_event_queue_close(c->ctx, (uint16_t)code, (const uint8_t *)reason,
                                reason != NULL ? strlen(reason) : 0);
        wslay_event_send(c->ctx);
        if (c->out.len > 0) {
            send_plain(c, c->out.data, c->out.len);
            ad_buf_reset(&c->out);
        }
    }
    finish(c, code != 0 ? code : 1000, reason);
}
