/* SPDX-License-Identifier: MIT */
/*
 * WebSocket connections: the opening handshake (RFC 6455 section 4.2),
 * wslay 1.1.1 for the receive side (framing, fragmentation, UTF-8, close
 * codes, size limit) and for control frames, heartbeat, and the send path.
 * Whole, unfragmented, masked data frames up to 64 KiB, what clients send
 * nearly always, are read by fast_frames() instead (wslay's per-byte
 * unmasking and UTF-8 check were a fifth of a publishing server's CPU);
 * anything else goes to wslay from that frame on.
 * Data messages bypass wslay's queue (which mallocs and copies each message
 * per connection): an ad_wsmsg_t (wsmsg.c) holds one pre-framed server frame that any
 * number of connections write by reference. Control frames wslay produces
 * go on the connection's write queue as soon as wslay makes them, so frames
 * leave in the order they were queued (the server writes each connection's
 * queue as one writev per loop turn).
 *
 * An idle connection holds no wslay context: its two buffers are ~8.6 KiB,
 * most of what a subscriber costs. The context is made when input arrives
 * or a control frame is to be sent, and let go again once the input ends on
 * a frame boundary with no fragmented message open, nothing is queued and
 * no Close is under way (ws_track_t follows the frame headers for that).
 *
 * permessage-deflate (deflate.c) is negotiated at the upgrade (handshake.c); a message
 * keeps its compressed frame beside the plain one, and compressed input
 * comes through wslay (RSV1) to be inflated before the handler sees it.
 */
#include "ws_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

/* How long we wait for the peer's Close after sending ours. */
#define WS_CLOSE_TIMEOUT_MS 5000
/* A peer that is not reading gets this long to take what is queued before
 * our Close (checked every WS_CLOSE_TIMEOUT_MS); then it is cut. */
#define WS_CLOSE_DRAIN_MS 60000
/* Room past the send-queue bound for the last words before a close (an
 * overflow notice): they reach a slow reader instead of being dropped. */
#define WS_RESERVE_BYTES 4096

static void wsmsg_release(void *m)
{
    ad_wsmsg_unref(m);
}

/* ---- wslay glue --------------------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    AD_UNUSED(flags);
    ad_ws_t *ws = ud;
    if (ws->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    AD_UNUSED(flags);
    ad_ws_t *ws = ud;
    if (ad_buf_append(&ws->ctl, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    AD_UNUSED(ctx);
    AD_UNUSED(ud);
    memset(buf, 0, len); /* servers do not mask */
    return 0;
}

/* A compressed message (only a connection that negotiated permessage-deflate
 * gets one past wslay): inflated within the message size limit, then
 * handed on; past the limit 1009, bad data or text that is not UTF-8 1007. */
static void inflated_msg(ad_ws_t *ws, const struct wslay_event_on_msg_recv_arg *arg)
{
    size_t max = ad_conn_config(ws->conn)->ws_max_message_bytes;
    ad_buf_t out;
    ad_buf_init(&out, max + 1);
    int rc = ad_ws_inflate(arg->msg, arg->msg_length, max, &out);
    bool binary = arg->opcode == WSLAY_BINARY_FRAME;
    if (rc == 0 && !binary && !ad_utf8_valid(out.data != NULL ? out.data : "", out.len)) {
        rc = AD_EINVAL;
    }
    if (rc == AD_ETOOBIG) {
        ad_ws_close(ws, 1009, "message too big once inflated");
    } else if (rc != 0) {
        ad_ws_close(ws, 1007, "bad compressed message");
    } else {
        ws->route->handler.on_message(ws, out.data != NULL ? out.data : "", out.len, binary,
                                      ws->route->ud);
    }
    ad_buf_cleanup(&out);
}

static void on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    AD_UNUSED(ctx);
    ad_ws_t *ws = ud;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) {
        return; /* ping is answered by wslay; pong and close need nothing */
    }
    if (ws->closing || ws->route->handler.on_message == NULL) {
        return;
    }
    if (arg->rsv & WSLAY_RSV1_BIT) {
        inflated_msg(ws, arg);
        return;
    }
    ws->route->handler.on_message(ws, (const char *)arg->msg, arg->msg_length,
                                  arg->opcode == WSLAY_BINARY_FRAME, ws->route->ud);
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_msg_recv_callback = on_msg_cb,
};

/* The header's full length once its first two bytes are known, else 2. */
static size_t track_need(const ws_track_t *t)
{
    if (t->have < 2) {
        return 2;
    }
    size_t n = 2 + ((t->hdr[1] & 0x80) != 0 ? 4 : 0);
    uint8_t len7 = t->hdr[1] & 0x7f;
    return n + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
}

static void track_header(ws_track_t *t)
{
    uint8_t len7 = t->hdr[1] & 0x7f;
    uint64_t len = len7;
    if (len7 >= 126) {
        len = 0;
        for (unsigned i = 0; i < (len7 == 126 ? 2u : 8u); i++) {
            len = (len << 8) | t->hdr[2 + i];
        }
    }
    if ((t->hdr[0] & 0x0f) < 8) {
        t->frag = (t->hdr[0] & 0x80) == 0; /* a data frame without FIN */
    }
    t->left = len;
    t->have = 0;
}

static void track(ws_track_t *t, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (t->left > 0) {
            size_t k = t->left < n ? (size_t)t->left : n;
            t->left -= k;
            p += k;
            n -= k;
            continue;
        }
        t->hdr[t->have++] = *p++;
        n--;
        if (t->have == track_need(t)) {
            track_header(t);
        }
    }
}

/* The wslay context, made (with the connection's limits) if it was let go;
 * NULL when there is no memory for it. */
static wslay_event_context_ptr ctx_get(ad_ws_t *ws)
{
    if (ws->ctx == NULL && ws->conn != NULL) {
        if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0) {
            ws->ctx = NULL;
            return NULL;
        }
        wslay_event_config_set_max_recv_msg_length(ws->ctx,
                                                   ad_conn_config(ws->conn)->ws_max_message_bytes);
        if (ws->deflate_bits != 0) {
            wslay_event_config_set_allowed_rsv_bits(ws->ctx, WSLAY_RSV1_BIT);
        }
    }
    return ws->ctx;
}

/* Lets the context go when it holds nothing: between messages, nothing
 * queued or unsent, no Close either way. */
static void ctx_rest(ad_ws_t *ws)
{
    const ws_track_t *t = &ws->track;
    if (ws->ctx == NULL || ws->in_recv || ws->closing || ws->ctl.len > 0 || t->have != 0 ||
        t->left != 0 || t->frag || wslay_event_want_write(ws->ctx) ||
        wslay_event_get_close_received(ws->ctx) || wslay_event_get_close_sent(ws->ctx)) {
        return;
    }
    wslay_event_context_free(ws->ctx);
    ws->ctx = NULL;
    ws->ctl_maybe = false;
}

/* Writes the control frames wslay has queued (pongs, Close). Safe inside
 * wslay_event_recv: wslay keeps its send state apart from its receive
 * state. Called before every data write so a pong for a ping that arrived
 * before a message also leaves before the answer to that message. */
static int flush_ctl(ad_ws_t *ws)
{
    ad_conn_t *c = ws->conn;
    if (!ws->ctl_maybe || ws->ctx == NULL) {
        return 0;
    }
    if (wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0) {
        return AD_EIO;
    }
    if (!ws->in_recv && !wslay_event_want_write(ws->ctx)) {
        ws->ctl_maybe = false; /* drained, and no input is being read */
    }
    if (ws->ctl.len > 0) {
        int rc = ad_conn_write_copy(c, ws->ctl.data, ws->ctl.len);
        ad_buf_reset(&ws->ctl);
        return rc;
    }
    return 0;
}

static void close_timeout(void *ud);

static void pump(ad_ws_t *ws)
{
    if (ws->in_recv || ws->conn == NULL) {
        return;
    }
    ad_conn_t *c = ws->conn;
    int rc = flush_ctl(ws);
    if (rc == AD_EIO) {
        ad_conn_abort(c);
        return;
    }
    if (rc != 0 || !ad_conn_writable(c) || ws->ctx == NULL) {
        return;
    }
    if (wslay_event_get_close_sent(ws->ctx) && !ws->closing) {
        /* wslay answered a Close or failed the connection (1002/1007/1009) */
        ws->closing = true;
        ad_conn_timer(c, WS_CLOSE_TIMEOUT_MS, 0, close_timeout);
    }
    if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx)) {
        ad_conn_finish(c);
    }
}

/* Frames the fast path reads are unmasked here: loop thread only. */
#define WS_FAST_MAX (64 * 1024)
static uint8_t fast_buf[WS_FAST_MAX + 1];

/* Complete, unfragmented, masked data frames at the front of the input
 * (what clients send nearly always), read without wslay: unmasked a word
 * at a time into fast_buf, checked (UTF-8 for text) and handed to the
 * handler, the way wslay would, minus its per-byte unmasking and UTF-8
 * state machine. Stops at the first frame that is anything else (control
 * frame, fragment, RSV bits, not all here, over WS_FAST_MAX or the
 * message limit, text that is not UTF-8) and returns the bytes consumed:
 * the rest starts on a frame boundary and goes to wslay, which answers
 * or fails it as before. Only called when wslay stands between frames. */
static size_t fast_frames(ad_ws_t *ws, const uint8_t *p, size_t n)
{
    size_t used = 0;
    uint64_t max = ad_conn_config(ws->conn)->ws_max_message_bytes;
    while (n - used >= 6 && !ws->closing && ws->conn != NULL) {
        const uint8_t *f = p + used;
        unsigned op = f[0] & 0x0f;
        if ((f[0] & 0xf0) != 0x80 || (op != 1 && op != 2) || (f[1] & 0x80) == 0) {
            break; /* not FIN, RSV set, not data, or not masked */
        }
        uint64_t len = f[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (n - used < 8) {
                break;
            }
            len = (uint64_t)f[2] << 8 | f[3];
            h = 4;
            if (len < 126) {
                break; /* not the shortest length: wslay's to judge */
            }
        } else if (len == 127) {
            break; /* over 64 KiB: wslay's */
        }
        if (len > WS_FAST_MAX || len > max || n - used < h + 4 + len) {
            break;
        }
        const uint8_t *key = f + h, *src = f + h + 4;
        uint64_t k8;
        uint8_t kb[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
        memcpy(&k8, kb, 8);
        size_t i = 0;
        for (uint64_t w; i + 8 <= len; i += 8) {
            memcpy(&w, src + i, 8);
            w ^= k8;
            memcpy(fast_buf + i, &w, 8);
        }
        for (; i < len; i++) {
            fast_buf[i] = src[i] ^ key[i & 3];
        }
        fast_buf[len] = '\0';
        if (op == 1 && !ad_utf8_valid((const char *)fast_buf, (size_t)len)) {
            break; /* wslay fails the connection with 1007 */
        }
        used += h + 4 + (size_t)len;
        if (ws->route->handler.on_message != NULL) {
            ws->route->handler.on_message(ws, (const char *)fast_buf, (size_t)len, op == 2,
                                          ws->route->ud);
        }
    }
    return used;
}

static void ws_read(ad_ws_t *ws, const char *data, size_t len);
static void ws_free(ad_ws_t *ws);

static void ws_on_read(void *p, const char *data, size_t len)
{
    ad_ws_t *ws = p;
    ws->reading = true;
    ws_read(ws, data, len);
    ws->reading = false;
    if (ws->free_pending) {
        ws_free(ws);
    }
}

/* The bytes the frame starting at p (n of them here) takes, once its header
 * says so (else what its header takes: 2 or 4), or 0 when it is not a frame
 * fast_frames() reads (it goes to wslay). */
static size_t fast_need(const uint8_t *p, size_t n, uint64_t max)
{
    if (n < 2) {
        return 2;
    }
    unsigned op = p[0] & 0x0f;
    if ((p[0] & 0xf0) != 0x80 || (op != 1 && op != 2) || (p[1] & 0x80) == 0) {
        return 0;
    }
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 127) {
        return 0;
    }
    if (len == 126) {
        if (n < 4) {
            return 4;
        }
        len = (uint64_t)p[2] << 8 | p[3];
        h = 4;
        if (len < 126) {
            return 0;
        }
    }
    if (len > WS_FAST_MAX || len > max) {
        return 0;
    }
    return h + 4 + (size_t)len;
}

static void carry_drop(ad_ws_t *ws)
{
    free(ws->carry);
    ws->carry = NULL;
    ws->carry_len = ws->carry_cap = 0;
}

/* Keeps the start of a frame (n bytes, fewer than it needs) until the rest
 * arrives: the sender streams frames faster than the reads end on their
 * boundaries, and wslay, once handed the middle of a frame, would read
 * every frame after it too. */
static void carry_keep(ad_ws_t *ws, const uint8_t *p, size_t n, size_t need)
{
    ws->carry_cap = need > 16 ? need : 16;
    ws->carry = ad_xmalloc(ws->carry_cap);
    memcpy(ws->carry, p, n);
    ws->carry_len = n;
}

static void ws_wslay_read(ad_ws_t *ws, const char *data, size_t len);

/* Adds the input to the carried frame's start, as far as the frame goes.
 * Returns the bytes of data taken; the carry is then whole (handed to
 * fast_frames, and to wslay what it does not take), or all of data went
 * into it. */
static size_t carry_fill(ad_ws_t *ws, const char *data, size_t len)
{
    uint64_t max = ad_conn_config(ws->conn)->ws_max_message_bytes;
    size_t took = 0;
    for (;;) {
        size_t need = fast_need(ws->carry, ws->carry_len, max);
        if (need == 0 || ws->carry_len >= need) {
            break;
        }
        if (need > ws->carry_cap) {
            ws->carry = ad_xrealloc(ws->carry, need);
            ws->carry_cap = need;
        }
        size_t k = need - ws->carry_len < len - took ? need - ws->carry_len : len - took;
        memcpy(ws->carry + ws->carry_len, data + took, k);
        ws->carry_len += k;
        took += k;
        if (took == len && ws->carry_len < fast_need(ws->carry, ws->carry_len, max)) {
            return took; /* still not whole */
        }
    }
    uint8_t *c = ws->carry;
    size_t n = ws->carry_len;
    ws->carry = NULL;
    ws->carry_len = ws->carry_cap = 0;
    size_t used = fast_frames(ws, c, n);
    if (used < n && ws->conn != NULL) {
        ws_wslay_read(ws, (const char *)c + used, n - used);
    }
    free(c);
    return took;
}

static void ws_read(ad_ws_t *ws, const char *data, size_t len)
{
    ws->last_rx = uv_now(ad_conn_loop(ws->conn));
    if (ws->carry != NULL) {
        size_t took = carry_fill(ws, data, len);
        data += took;
        len -= took;
        if (ws->conn == NULL) {
            return;
        }
        if (len == 0) {
            pump(ws);
            if (ws->conn != NULL) {
                ctx_rest(ws);
            }
            return;
        }
    }
    const ws_track_t *t = &ws->track;
    if (!ws->closing && t->have == 0 && t->left == 0 && !t->frag &&
        (ws->ctx == NULL ||
         (wslay_event_want_read(ws->ctx) && !wslay_event_get_close_received(ws->ctx) &&
          !wslay_event_get_close_sent(ws->ctx)))) {
        size_t used = fast_frames(ws, (const uint8_t *)data, len);
        data += used;
        len -= used;
        if (ws->conn == NULL) {
            return;
        }
        size_t need = len > 0 ? fast_need((const uint8_t *)data, len,
                                          ad_conn_config(ws->conn)->ws_max_message_bytes)
                              : 0;
        if (need > len) {
            carry_keep(ws, (const uint8_t *)data, len, need);
            len = 0;
        }
        if (len == 0) {
            pump(ws);
            if (ws->conn != NULL) {
                ctx_rest(ws);
            }
            return;
        }
    }
    ws_wslay_read(ws, data, len);
}

/* Hands input to wslay from a frame boundary or from where it stopped. */
static void ws_wslay_read(ad_ws_t *ws, const char *data, size_t len)
{
    if (ctx_get(ws) == NULL) {
        ad_conn_abort(ws->conn);
        return;
    }
    if (!wslay_event_want_read(ws->ctx)) {
        return;
    }
    track(&ws->track, (const uint8_t *)data, len);
    ws->in = data;
    ws->in_len = len;
    ws->in_recv = true;
    ws->ctl_maybe = true;
    int rc = wslay_event_recv(ws->ctx);
    ws->in_recv = false;
    ws->in_len = 0;
    if (rc != 0 && rc != WSLAY_ERR_CALLBACK_FAILURE) {
        ad_conn_abort(ws->conn);
        return;
    }
    pump(ws);
    if (ws->conn != NULL) {
        ctx_rest(ws);
    }
}

/* Loop thread only, like every WebSocket. */
static uint64_t ws_open_now, ws_opened;

void ad_ws_stats(uint64_t *open, uint64_t *opened)
{
    *open = ws_open_now;
    *opened = ws_opened;
}

int ad_ws_prom(ad_buf_t *b)
{
    int rc = ad_prom_gauge(b, "agentd_websocket_connections", "WebSocket connections open",
                           (double)ws_open_now);
    return rc ? rc
              : ad_prom_counter(b, "agentd_websocket_connections_opened_total",
                                "WebSocket connections accepted", (double)ws_opened);
}

static void ws_on_conn_close(void *p)
{
    ad_ws_t *ws = p;
    ws_open_now--;
    int code = 1006; /* without a context, no Close went either way */
    if (ws->ctx == NULL) {
        /* nothing to read */
    } else if (wslay_event_get_close_received(ws->ctx)) {
        code = wslay_event_get_status_code_received(ws->ctx);
    } else if (wslay_event_get_close_sent(ws->ctx)) {
        code = wslay_event_get_status_code_sent(ws->ctx);
    }
    ws->conn = NULL;
    ws->closing = true;
    if (ws->route->handler.on_close != NULL) {
        ws->route->handler.on_close(ws, code, ws->route->ud);
    }
    if (ws->reading) {
        ws->free_pending = true; /* ws_on_read frees it when it returns */
        return;
    }
    ws_free(ws);
}

static void ws_free(ad_ws_t *ws)
{
    if (ws->ctx != NULL) {
        wslay_event_context_free(ws->ctx);
    }
    carry_drop(ws);
    ad_buf_cleanup(&ws->ctl);
    for (unsigned i = 0; i < ws->nkv; i++) {
        free(ws->kv[i].name);
        free(ws->kv[i].value);
    }
    free(ws->kv);
    free(ws->protocol);
    free(ws);
}

static void ws_on_server_close(void *p)
{
    ad_ws_close(p, 1001, "server shutting down");
}

static const ad_conn_ops_t ws_ops = {
    .on_read = ws_on_read,
    .on_head_written = NULL,
    .on_close = ws_on_conn_close,
    .on_server_close = ws_on_server_close,
};

static void ws_tick(void *ud)
{
    ad_ws_t *ws = ud;
    if (ws->closing) {
        return;
    }
    ad_conn_t *c = ws->conn;
    const ad_config_t *cfg = ad_conn_config(c);
    uint64_t now = uv_now(ad_conn_loop(c));
    if (now - ws->last_rx >= cfg->ws_idle_timeout_ms) {
        ad_log(AD_LOG_INFO, "ws", "dropping silent peer idle_ms=%llu",
               (unsigned long long)(now - ws->last_rx));
        ad_conn_abort(c);
        return;
    }
    if (now - ws->last_ping >= cfg->ws_ping_interval_ms) {
        struct wslay_event_msg ping = {.opcode = WSLAY_PING, .msg = NULL, .msg_length = 0};
        if (ctx_get(ws) != NULL && wslay_event_queue_msg(ws->ctx, &ping) == 0) {
            ws->ctl_maybe = true;
            ws->last_ping = now;
            pump(ws);
            ctx_rest(ws);
        }
    }
}

/* The handshake is answered (handshake.c): the connection is the
 * WebSocket's now, counted and ticked. */
void ad_ws_start(ad_ws_t *ws, ad_req_t *r)
{
    /* can_take_over held, so this succeeds; bytes the client sent after
     * its request reach ws_on_read once this handler returns */
    ad_conn_t *c = ad_req_take_over(r, 101, NULL, &ws_ops, ws);
    ws->conn = c;
    ws_open_now++;
    ws_opened++;
    const ad_config_t *cfg = ad_conn_config(c);
    uint64_t now = uv_now(ad_conn_loop(c));
    ws->last_rx = now;
    ws->last_ping = now;
    uint64_t period = cfg->ws_ping_interval_ms < cfg->ws_idle_timeout_ms ? cfg->ws_ping_interval_ms
                                                                         : cfg->ws_idle_timeout_ms;
    ad_conn_timer(c, period, period, ws_tick);
}

/* ---- public API ------------------------------------------------------------------ */

static int send_msg(ad_ws_t *ws, ad_wsmsg_t *m, size_t reserve)
{
    if (ws->closing || ws->conn == NULL || !ad_conn_writable(ws->conn)) {
        return AD_ECLOSED;
    }
    if (m->frames && m->frames_bits != ws->deflate_bits) {
        return AD_EINVAL; /* frames made for another compression */
    }
    /* the connection's form of m: compressed when it negotiated it */
    m = ad_wsmsg_form_for(m, ws->deflate_bits);
    size_t bound = ad_conn_config(ws->conn)->ws_send_queue_bytes + reserve;
    int rc = 0;
    if (ad_conn_queued(ws->conn) + m->flen > bound) {
        rc = AD_ETOOBIG;
    } else if (flush_ctl(ws) != 0 || !ad_conn_writable(ws->conn) ||
               ad_conn_write_ref(ws->conn, m->frame, m->flen, wsmsg_release, m) != 0) {
        rc = AD_ECLOSED;
    }
    if (rc != 0) {
        ad_wsmsg_unref(m);
    }
    return rc;
}

int ad_ws_send_msg(ad_ws_t *ws, ad_wsmsg_t *m)
{
    return send_msg(ws, m, 0);
}

static int send_text(ad_ws_t *ws, const char *data, size_t len, size_t reserve)
{
    if (ws->closing || ws->conn == NULL) {
        return AD_ECLOSED;
    }
    ad_wsmsg_t *m = ad_wsmsg_new(data, len, false);
    int rc = send_msg(ws, m, reserve);
    ad_wsmsg_unref(m);
    return rc;
}

int ad_ws_send_text(ad_ws_t *ws, const char *data, size_t len)
{
    return send_text(ws, data, len, 0);
}

int ad_ws_send_last(ad_ws_t *ws, const char *data, size_t len)
{
    return send_text(ws, data, len, WS_RESERVE_BYTES);
}

/* Our Close is out and the peer has not answered: while it still has
 * queued bytes to take (a slow reader), keep them for it a while longer;
 * then end the connection, gracefully when everything was written. */
static void close_timeout(void *ud)
{
    ad_ws_t *ws = ud;
    ad_conn_t *c = ws->conn;
    if (c == NULL) {
        return;
    }
    ws->close_waited += WS_CLOSE_TIMEOUT_MS;
    if (ad_conn_queued(c) == 0) {
        ad_conn_finish(c);
    } else if (ws->close_waited >= WS_CLOSE_DRAIN_MS) {
        ad_conn_abort(c);
    } else {
        ad_conn_timer(c, WS_CLOSE_TIMEOUT_MS, 0, close_timeout);
    }
}

void ad_ws_close(ad_ws_t *ws, int code, const char *reason)
{
    if (ws->closing || ws->conn == NULL) {
        return;
    }
    size_t rl = reason != NULL ? strlen(reason) : 0;
    if (rl > 123) {
        rl = 123; /* a control frame payload is at most 125 bytes */
    }
    rl = ad_utf8_valid_prefix(reason != NULL ? reason : "", rl);
    if (code < 1000 || code > 4999) {
        code = 1000;
    }
    if (ctx_get(ws) == NULL) {
        ad_conn_abort(ws->conn);
        return;
    }
    ws->closing = true;
    wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)reason, rl);
    ws->ctl_maybe = true;
    ad_conn_timer(ws->conn, WS_CLOSE_TIMEOUT_MS, 0, close_timeout);
    pump(ws);
}

int ad_ws_deflate_bits(const ad_ws_t *ws)
{
    return ws->deflate_bits;
}

size_t ad_ws_queued_bytes(const ad_ws_t *ws)
{
    return ws->conn != NULL ? ad_conn_queued(ws->conn) : 0;
}

int ad_ws_pressure(const ad_ws_t *ws)
{
    return ws->conn != NULL ? ad_conn_pressure(ws->conn) : 0;
}

const char *ad_ws_protocol(const ad_ws_t *ws)
{
    return ws->protocol;
}

const char *ad_ws_param(const ad_ws_t *ws, const char *name)
{
    for (unsigned i = 0; i < ws->nparams; i++) {
        if (strcmp(ws->kv[i].name, name) == 0) {
            return ws->kv[i].value;
        }
    }
    return NULL;
}

const char *ad_ws_query(const ad_ws_t *ws, const char *name)
{
    for (unsigned i = ws->nparams; i < ws->nkv; i++) {
        if (strcmp(ws->kv[i].name, name) == 0) {
            return ws->kv[i].value;
        }
    }
    return NULL;
}

void ad_ws_set_data(ad_ws_t *ws, void *data)
{
    ws->data = data;
}

void *ad_ws_data(const ad_ws_t *ws)
{
    return ws->data;
}
