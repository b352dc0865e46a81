/* SPDX-License-Identifier: MIT */
/*
 * Files over the link (worktrees on nodes, docs/nodes.md): a git bundle
 * sent as JSON text messages of base64 chunks {.., x, seq, last, data},
 * read with libuv's file calls (never a disk wait on the loop), paced by
 * what the link has queued; and received into a file at each chunk's own
 * offset, bounded in size and count. What a file means is the caller's.
 */
#include "node/node_int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (192u * 1024u)
#define QUEUE_HIGH (1u << 20)

struct ad_xfer {
    uv_loop_t *loop;
    uv_fs_t req;
    uv_timer_t wait;
    int fd;
    uint64_t seq;
    json_t *fields; /* put into every chunk's message */
    ad_xfer_io_t io;
    void *ud;
    char buf[CHUNK];
    bool cancelled, reading;
};

static void read_next(ad_xfer_t *x);

static void xfer_free(ad_xfer_t *x)
{
    json_decref(x->fields);
    free(x);
}

static void on_wait_closed(uv_handle_t *h)
{
    xfer_free(h->data);
}

/* The end, once: the file closed (synchronously: a local file's close),
 * done called unless cancelled, the timer closed and x freed with it. */
static void finish(ad_xfer_t *x, int rc)
{
    if (x->fd >= 0) {
        uv_fs_t c;
        uv_fs_close(NULL, &c, x->fd, NULL);
        uv_fs_req_cleanup(&c);
        x->fd = -1;
    }
    if (!x->cancelled && x->io.done != NULL) {
        x->io.done(x->ud, rc);
    }
    uv_close((uv_handle_t *)&x->wait, on_wait_closed);
}

static void on_read(uv_fs_t *req)
{
    ad_xfer_t *x = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    x->reading = false;
    if (x->cancelled) {
        finish(x, AD_ECLOSED);
        return;
    }
    if (n < 0) {
        finish(x, AD_EIO);
        return;
    }
    size_t enc_max = ((size_t)n + 2) / 3 * 4 + 1;
    char *enc = ad_xmalloc(enc_max);
    ad_base64_encode((const uint8_t *)x->buf, (size_t)n, enc, enc_max);
    json_t *m = json_deep_copy(x->fields);
    bool last = (size_t)n < CHUNK;
    json_object_set_new(m, "seq", json_integer((json_int_t)x->seq++));
    json_object_set_new(m, "last", json_boolean(last));
    json_object_set_new(m, "data", json_string(enc));
    free(enc);
    int rc = x->io.send(x->ud, m);
    if (rc != 0 || last) {
        finish(x, rc);
        return;
    }
    read_next(x);
}

static void on_wait(uv_timer_t *t)
{
    read_next(t->data);
}

/* The next chunk, once the link has room for it. */
static void read_next(ad_xfer_t *x)
{
    if (x->cancelled) {
        finish(x, AD_ECLOSED);
        return;
    }
    if (x->io.queued(x->ud) > QUEUE_HIGH) {
        uv_timer_start(&x->wait, on_wait, 10, 0);
        return;
    }
    uv_buf_t b = uv_buf_init(x->buf, CHUNK);
    x->req.data = x;
    x->reading = true;
    if (uv_fs_read(x->loop, &x->req, x->fd, &b, 1, (int64_t)(x->seq * CHUNK), on_read) != 0) {
        x->reading = false;
        finish(x, AD_EIO);
    }
}

ad_xfer_t *ad_xfer_send(uv_loop_t *loop, const char *path, json_t *fields, const ad_xfer_io_t *io,
                        void *ud)
{
    uv_fs_t o;
    int fd = uv_fs_open(NULL, &o, path, O_RDONLY | O_CLOEXEC, 0, NULL); /* a local file */
    uv_fs_req_cleanup(&o);
    if (fd < 0) {
        json_decref(fields);
        return NULL;
    }
    ad_xfer_t *x = ad_xcalloc(1, sizeof(*x));
    x->loop = loop;
    x->fd = fd;
    x->fields = fields;
    x->io = *io;
    x->ud = ud;
    uv_timer_init(loop, &x->wait);
    x->wait.data = x;
    read_next(x);
    return x;
}

void ad_xfer_cancel(ad_xfer_t *x)
{
    if (x == NULL || x->cancelled) {
        return;
    }
    x->cancelled = true;
    if (!x->reading) {
        uv_timer_stop(&x->wait);
        finish(x, AD_ECLOSED);
    } /* else on_read finishes it */
}

/* ---- receiving ------------------------------------------------------------------- */

typedef struct {
    uv_fs_t req;
    ad_xfer_in_t *in;
    char data[];
} wreq_t;

static void in_close(ad_xfer_in_t *in)
{
    if (in->fd >= 0) {
        uv_fs_t c;
        uv_fs_close(NULL, &c, in->fd, NULL);
        uv_fs_req_cleanup(&c);
        in->fd = -1;
    }
}

static void in_done_maybe(ad_xfer_in_t *in)
{
    if (in->orphan && in->writing == 0) { /* its owner went: nobody to tell */
        in_close(in);
        unlink(in->path);
        free(in);
        return;
    }
    if (in->writing == 0 && (in->last_seen || in->rc != 0) && !in->reported) {
        in->reported = true;
        in_close(in);
        if (in->done != NULL) {
            in->done(in->ud, in->rc);
        }
    }
}

void ad_xfer_in_end(ad_xfer_in_t *in)
{
    in->last_seen = true;
    in_done_maybe(in);
}

void ad_xfer_in_abandon(ad_xfer_in_t *in)
{
    if (in == NULL) {
        return;
    }
    in->orphan = true;
    in->done = NULL;
    in_done_maybe(in);
}

static void on_written(uv_fs_t *req)
{
    wreq_t *w = req->data;
    ad_xfer_in_t *in = w->in;
    if (req->result < 0 && in->rc == 0) {
        in->rc = AD_EIO;
    }
    uv_fs_req_cleanup(req);
    free(w);
    in->writing--;
    in_done_maybe(in);
}

int ad_xfer_in_open(ad_xfer_in_t *in, uv_loop_t *loop, const char *path, uint64_t max)
{
    memset(in, 0, sizeof(*in));
    uv_fs_t o;
    in->fd = uv_fs_open(NULL, &o, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600,
                        NULL);
    uv_fs_req_cleanup(&o);
    in->loop = loop;
    in->max = max;
    snprintf(in->path, sizeof(in->path), "%s", path);
    return in->fd >= 0 ? 0 : AD_EIO;
}

int ad_xfer_in_chunk(ad_xfer_in_t *in, json_t *msg)
{
    json_int_t seq = json_integer_value(json_object_get(msg, "seq"));
    const char *data = json_string_value(json_object_get(msg, "data"));
    size_t len = data != NULL ? strlen(data) : 0;
    size_t raw = len / 4 * 3;
    if (in->rc != 0 || in->last_seen || data == NULL || seq < 0 || raw > CHUNK ||
        (uint64_t)seq * CHUNK + raw > in->max || (uint64_t)seq != in->next) {
        in->rc = in->rc != 0 ? in->rc : AD_EINVAL;
        in_done_maybe(in);
        return in->rc;
    }
    wreq_t *w = ad_xmalloc(sizeof(*w) + raw + 3);
    int n = ad_base64_decode(data, len, (uint8_t *)w->data, raw + 3);
    if (n < 0) {
        free(w);
        in->rc = AD_EINVAL;
        in_done_maybe(in);
        return in->rc;
    }
    in->next++;
    in->last_seen = json_is_true(json_object_get(msg, "last"));
    w->in = in;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    in->writing++;
    if (uv_fs_write(in->loop, &w->req, in->fd, &b, 1, (int64_t)((uint64_t)seq * CHUNK),
                    on_written) != 0) {
        in->writing--;
        free(w);
        in->rc = AD_EIO;
    }
    in_done_maybe(in);
    return in->rc;
}
