/* SPDX-License-Identifier: MIT */
/*
 * One remote run on the control plane (docs/nodes.md, "The relay"): a
 * socket pair whose other end is held.c's holder socket, so the run is an
 * ordinary held process. held.c's frames go to the node (ATTACH is taken
 * for its offsets; the relay sends its own, epoch-tagged, at every link
 * up); the node's frames of the current epoch go into the socket pair,
 * counted per stream so the next ATTACH asks from exactly what held.c
 * has. Frames of an older epoch are dropped; so is everything while the
 * socket pair is over its bound, and an ATTACH follows once it drains:
 * the holder's spool is the buffer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "node/node_int.h"

#include "hold/hold.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    uv_write_t req;
    ad_relay_t *r;
    size_t len;
    char data[];
} rw_t;

static void relay_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* A run id's bucket in p->relay_index: a node's frames are found per line. */
static ad_relay_t **bucket_of(ad_plane_t *p, const char *run_id)
{
    return &p->relay_index[ad_hash_str(run_id) & (AD_RELAY_BUCKETS - 1)];
}

ad_relay_t *ad_relay_find(const ad_plane_t *p, const char *run_id)
{
    for (ad_relay_t *r = *bucket_of((ad_plane_t *)p, run_id); r != NULL; r = r->hnext) {
        if (strcmp(r->run_id, run_id) == 0) {
            return r;
        }
    }
    return NULL;
}

static ad_node_live_t *node_of(ad_relay_t *r)
{
    return ad_plane_node_live(r->p, r->node_id);
}

/* ---- into the socket pair (to held.c) --------------------------------------------- */

static void send_attach(ad_relay_t *r);

static void on_pair_written(uv_write_t *req, int status)
{
    AD_UNUSED(status);
    rw_t *w = (rw_t *)req;
    ad_relay_t *r = w->r;
    r->wq -= w->len;
    free(w);
    if (r->resync && r->wq < AD_RELAY_WQ_MAX / 2 && r->pipe_open) {
        send_attach(r); /* held.c caught up: the node resends from what it has */
    }
}

/* Written at once when the pair has room and nothing waits before it
 * (uv_try_write refuses while writes are queued, so the order holds): a
 * frame a line, and a queued write costs a copy and two epoll_ctl calls.
 * What is left is queued. */
static void pair_write(ad_relay_t *r, const void *data, size_t len)
{
    if (!r->pipe_open) {
        return;
    }
    uv_buf_t now = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&r->pipe, &now, 1);
    if (n < 0 && n != UV_EAGAIN) {
        return; /* the pair is broken: relay_read sees its end */
    }
    if (n > 0) {
        data = (const char *)data + n;
        len -= (size_t)n;
    }
    if (len == 0) {
        return;
    }
    rw_t *w = ad_xmalloc(sizeof(*w) + len);
    w->r = r;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&r->pipe, &b, 1, on_pair_written) != 0) {
        free(w);
        return;
    }
    r->wq += len;
}

/* ---- to the node ---------------------------------------------------------------------- */

/* An ATTACH from what held.c has (its first: with the scrollback it asked
 * for), under a new epoch. */
static void send_attach(ad_relay_t *r)
{
    ad_node_live_t *n = node_of(r);
    if (n == NULL || n->link == NULL || !r->have_pos || !r->pipe_open) {
        return;
    }
    r->epoch++;
    r->resync = false;
    unsigned char f[AD_HOLD_HDR + 24];
    uint64_t a[3] = {r->pos[0], r->pos[1], r->first_sent ? r->pos[0] : r->scroll};
    ad_hold_hdr(f, 24, AD_HOLD_ATTACH, 0);
    memcpy(f + AD_HOLD_HDR, a, sizeof(a));
    if (ad_plane_send_frame(n, r->run_id, r->epoch, r->lease, f, sizeof(f)) == 0) {
        r->first_sent = true;
        r->attached = true;
    }
}

/* Frames held.c wrote that waited for the link. */
static void flush_queue(ad_relay_t *r)
{
    ad_node_live_t *n = node_of(r);
    size_t at = 0;
    const unsigned char *d = (const unsigned char *)r->q.data;
    while (n != NULL && n->link != NULL && r->q.len - at >= AD_HOLD_HDR) {
        size_t len = AD_HOLD_HDR + ad_hold_len(d + at);
        if (ad_plane_send_frame(n, r->run_id, r->epoch, r->lease, d + at, len) != 0) {
            break;
        }
        at += len;
    }
    ad_buf_consume(&r->q, at);
}

/* One frame of held.c's: ATTACH gives the offsets; the rest goes to the
 * node now, or waits for its link (ACK need not: a later one says more). */
static void from_held(ad_relay_t *r, const unsigned char *f, size_t len)
{
    unsigned type = f[4];
    if (type == AD_HOLD_ATTACH && len >= AD_HOLD_HDR + 24) {
        uint64_t a[3];
        memcpy(a, f + AD_HOLD_HDR, sizeof(a));
        if (!r->have_pos) {
            r->pos[0] = a[0];
            r->pos[1] = a[1];
            r->scroll = a[2];
            r->have_pos = true;
        }
        send_attach(r);
        return;
    }
    ad_node_live_t *n = node_of(r);
    bool up = n != NULL && n->link != NULL && r->attached;
    if (up && r->q.len == 0 && ad_plane_send_frame(n, r->run_id, r->epoch, r->lease, f, len) == 0) {
        return;
    }
    if (type == AD_HOLD_ACK) {
        return;
    }
    if (ad_buf_append(&r->q, f, len) != 0) {
        ad_log(AD_LOG_WARN, "node",
               "input for a run whose node is away was dropped run=%s bytes=%zu", r->run_id, len);
    }
}

static void pair_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    AD_UNUSED(suggested);
    ad_relay_t *r = h->data;
    size_t room = r->rbuf.max - r->rbuf.len;
    buf->base = ad_xmalloc(room > 65536 ? 65536 : room > 0 ? room : 1);
    buf->len = room > 65536 ? 65536 : room > 0 ? room : 1;
}

static void on_pipe_closed(uv_handle_t *h)
{
    ad_relay_t *r = h->data;
    r->pipe_closed = true;
    if (r->freeing) {
        ad_buf_cleanup(&r->rbuf);
        ad_buf_cleanup(&r->q);
        free(r);
    }
}

static void pipe_close(ad_relay_t *r)
{
    if (r->pipe_open) {
        r->pipe_open = false;
        uv_close((uv_handle_t *)&r->pipe, on_pipe_closed);
    }
}

static void relay_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    ad_relay_t *r = st->data;
    if (nread < 0) {
        free(buf->base);
        pipe_close(r); /* held.c has let the run go: its end is on the way */
        return;
    }
    bool ok = ad_buf_append(&r->rbuf, buf->base, (size_t)nread) == 0;
    free(buf->base);
    if (!ok) {
        pipe_close(r);
        return;
    }
    size_t at = 0;
    const unsigned char *d = (const unsigned char *)r->rbuf.data;
    while (r->rbuf.len - at >= AD_HOLD_HDR) {
        size_t len = AD_HOLD_HDR + ad_hold_len(d + at);
        if (r->rbuf.len - at < len) {
            break;
        }
        from_held(r, d + at, len);
        at += len;
    }
    ad_buf_consume(&r->rbuf, at);
}

/* ---- from the node ---------------------------------------------------------------------- */

void ad_relay_from_node(ad_relay_t *r, uint32_t epoch, const unsigned char *f, size_t flen)
{
    ad_plane_t *p = r->p;
    if (epoch != r->epoch || !r->pipe_open) {
        p->stale_frames++;
        return;
    }
    if (r->resync) {
        return; /* dropped; the ATTACH after the drain asks for it again */
    }
    unsigned type = f[4], stream = f[5];
    if (type == AD_HOLD_DATA) {
        int s = stream == 2 ? 1 : 0;
        uint64_t off;
        memcpy(&off, f + AD_HOLD_HDR, 8);
        uint64_t n = flen - AD_HOLD_HDR - 8;
        if (off > r->pos[s]) {
            /* Cannot happen within an epoch (the node's connection is one
             * ordered stream from the ATTACH's offset); ask again. */
            ad_log(AD_LOG_WARN, "node", "gap from a node, asking again run=%s at=%llu got=%llu",
                   r->run_id, (unsigned long long)r->pos[s], (unsigned long long)off);
            r->resync = true;
            send_attach(r);
            return;
        }
        if (off + n <= r->pos[s]) {
            p->resent_bytes += n;
            return;
        }
        p->resent_bytes += r->pos[s] - off;
        if (r->wq > AD_RELAY_WQ_MAX) {
            r->resync = true; /* held.c is behind: the spool keeps it */
            return;
        }
        r->pos[s] = off + n;
    }
    pair_write(r, f, flen);
}

void ad_relay_spawn_failed(ad_relay_t *r, const char *why)
{
    char line[600];
    int n = snprintf(line, sizeof(line), "agentd node: cannot start: %s\n", why);
    size_t len = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    unsigned char f[AD_HOLD_HDR + 8 + sizeof(line)];
    ad_hold_hdr(f, (uint32_t)(8 + len), AD_HOLD_DATA, 2);
    memcpy(f + AD_HOLD_HDR, &r->pos[1], 8);
    memcpy(f + AD_HOLD_HDR + 8, line, len);
    pair_write(r, f, AD_HOLD_HDR + 8 + len);
    r->pos[1] += len;
    for (unsigned s = 1; s <= 2; s++) {
        ad_hold_hdr(f, 0, AD_HOLD_EOF, s);
        pair_write(r, f, AD_HOLD_HDR);
    }
    int32_t status = 127 << 8;
    ad_hold_hdr(f, 4, AD_HOLD_EXIT, 0);
    memcpy(f + AD_HOLD_HDR, &status, 4);
    pair_write(r, f, AD_HOLD_HDR + 4);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

ad_relay_t *ad_relay_new(ad_plane_t *p, const char *node_id, const char *run_id, int *fd, char *err,
                         size_t errsz)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errsz, "socketpair: %s", strerror(errno));
        return NULL;
    }
    ad_relay_t *r = ad_xcalloc(1, sizeof(*r));
    r->p = p;
    snprintf(r->run_id, sizeof(r->run_id), "%s", run_id);
    snprintf(r->node_id, sizeof(r->node_id), "%s", node_id);
    ad_buf_init(&r->rbuf, AD_HOLD_HDR + AD_HOLD_MAX_PAYLOAD + 65536);
    ad_buf_init(&r->q, AD_RELAY_QUEUE_MAX);
    uv_pipe_init(p->loop, &r->pipe, 0);
    r->pipe.data = r;
    uv_pipe_open(&r->pipe, sv[0]);
    r->pipe_open = true;
    uv_read_start((uv_stream_t *)&r->pipe, pair_alloc, relay_read);
    r->next = p->relays;
    p->relays = r;
    ad_relay_t **b = bucket_of(p, r->run_id);
    r->hnext = *b;
    *b = r;
    *fd = sv[1];
    return r;
}

void ad_relay_link_up(ad_relay_t *r)
{
    r->attached = false;
    send_attach(r);
    if (r->attached) {
        flush_queue(r);
    }
}

void ad_relay_reattach(ad_relay_t *r)
{
    send_attach(r);
}

void ad_relay_link_down(ad_relay_t *r)
{
    r->attached = false;
}

void ad_relay_lose(ad_relay_t *r, const char *why)
{
    if (!r->pipe_open) {
        return;
    }
    ad_log(AD_LOG_WARN, "node", "run lost run=%s node=%s why=\"%s\"", r->run_id, r->node_id, why);
    ad_plane_event(r->p, r->node_id, NULL, "run_lost",
                   json_pack("{s:s, s:s}", "runId", r->run_id, "reason", why));
    if (r->p->hooks.lost != NULL) {
        r->p->hooks.lost(r->p->hooks.ud, r->run_id, why);
    }
    pipe_close(r); /* held.c reads the end: the holder is gone, the run lost */
}

void ad_relay_free(ad_relay_t *r)
{
    for (ad_relay_t **pp = &r->p->relays; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    for (ad_relay_t **pp = bucket_of(r->p, r->run_id); *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == r) {
            *pp = r->hnext;
            break;
        }
    }
    r->freeing = true;
    ad_plane_git_put_free(r);
    free(r->wt_path);
    r->wt_path = NULL;
    free(r->setup_src);
    r->setup_src = NULL;
    json_decref(r->figures);
    r->figures = NULL;
    json_decref(r->spawn);
    r->spawn = NULL;
    json_decref(r->setup_files);
    r->setup_files = NULL;
    free(r->setup_cmd);
    r->setup_cmd = NULL;
    if (r->pipe_open) {
        pipe_close(r);
    } else if (r->pipe_closed) {
        on_pipe_closed((uv_handle_t *)&r->pipe);
    } /* else its close callback frees it */
}
