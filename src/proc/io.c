/* SPDX-License-Identifier: MIT */
/*
 * A child's output and input: output read into capped lines (or raw
 * chunks for a terminal), end of output, and the bounded stdin queue with
 * its polite close, and a terminal's size. Reaping is exit.c's, stopping
 * stop.c's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include "hold/hold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* ---- output -------------------------------------------------------------- */

static void deliver(ad_rstream_t *rs, char *line, size_t len, bool truncated)
{
    if (!truncated && len > 0 && line[len - 1] == '\r') {
        line[--len] = '\0';
    }
    ad_proc_t *p = rs->p;
    p->on_line(p, rs->stream, line, len, truncated, p->ud);
}

static void deliver_buffered(ad_rstream_t *rs, bool truncated)
{
    if (truncated) {
        /* The cap is max_line plus the marker: room is reserved for it. */
        AD_DISCARD(ad_buf_puts(&rs->line, AD_PROC_TRUNC_MARKER));
    }
    deliver(rs, rs->line.data != NULL ? rs->line.data : (char *)"", rs->line.len, truncated);
    if (rs->line.cap > AD_PROC_SHRINK_ABOVE) {
        ad_buf_cleanup(&rs->line); /* one huge line must not pin its memory */
    } else {
        ad_buf_reset(&rs->line);
    }
}

/* Splits data (our own read buffer, so it may be written) into lines.
 * A line that fits in one read is delivered in place, without a copy. */
static void split_lines(ad_rstream_t *rs, char *data, size_t n)
{
    size_t cap = rs->p->max_line;
    while (n > 0) {
        char *nl = memchr(data, '\n', n);
        size_t seg = nl != NULL ? (size_t)(nl - data) : n;
        size_t adv = nl != NULL ? seg + 1 : seg;
        rs->line_end = rs->pos + adv; /* what a line delivered now ends at */
        rs->pos += adv;
        if (rs->skipping) {
            if (nl != NULL) {
                rs->skipping = false;
            }
        } else if (rs->line.len == 0 && nl != NULL && seg <= cap) {
            *nl = '\0';
            deliver(rs, data, seg, false);
        } else {
            size_t room = cap - rs->line.len;
            if (seg > room) {
                AD_DISCARD(
                    ad_buf_append(&rs->line, data, room)); /* room: what is left of the cap */
                deliver_buffered(rs, true);
                rs->skipping = nl == NULL;
            } else {
                AD_DISCARD(ad_buf_append(&rs->line, data, seg)); /* seg <= room: it fits */
                if (nl != NULL) {
                    deliver_buffered(rs, false);
                }
            }
        }
        data += adv;
        n -= adv;
    }
}

void ad_proc_rstream_flush(ad_rstream_t *rs)
{
    if (rs->p->on_line != NULL && !rs->skipping && rs->line.len > 0) {
        rs->line_end = rs->pos;
        deliver_buffered(rs, false);
    }
}

void ad_proc_rstream_input(ad_rstream_t *rs, char *data, size_t n)
{
    ad_proc_t *p = rs->p;
    if (p->on_data != NULL) {
        p->on_data(p, rs->stream, data, n, p->ud);
    }
    if (p->on_line != NULL) {
        split_lines(rs, data, n);
    }
}

static void stream_eof(ad_rstream_t *rs)
{
    if (rs->eof) {
        return;
    }
    rs->eof = true;
    ad_proc_t *p = rs->p;
    ad_proc_rstream_flush(rs);
    uv_read_stop((uv_stream_t *)&rs->pipe);
    if (p->pty) {
        p->in_closed = true; /* the master is stdin too */
    }
    ad_proc_close_handle(p, (uv_handle_t *)&rs->pipe);
    ad_proc_finish_maybe(p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    AD_UNUSED(suggested);
    ad_rstream_t *rs = (ad_rstream_t *)((char *)h - offsetof(ad_rstream_t, pipe));
    buf->base = rs->p->s->rbuf;
    buf->len = sizeof(rs->p->s->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    ad_rstream_t *rs = (ad_rstream_t *)((char *)st - offsetof(ad_rstream_t, pipe));
    ad_proc_t *p = rs->p;
    if (nread > 0) {
        ad_proc_rstream_input(rs, buf->base, (size_t)nread);
        return;
    }
    if (nread < 0) {
        /* EOF on a pipe; EIO on a pty master once every slave fd is closed. */
        if (nread != UV_EOF && nread != UV_EIO) {
            ad_log(AD_LOG_WARN, "proc", "read failed pid=%ld error=%s", (long)p->pid,
                   uv_strerror((int)nread));
        }
        stream_eof(rs);
    }
}

void ad_proc_on_drain(uv_timer_t *t)
{
    ad_proc_t *p = t->data;
    /* The leader is gone but something (a grandchild) still holds the
     * output open: end the group and stop waiting for it. */
    ad_log(AD_LOG_INFO, "proc", "output still open after exit, closing pid=%ld", (long)p->pid);
    kill(-p->pid, SIGKILL);
    if (p->out.used) {
        stream_eof(&p->out);
    }
    if (p->err.used) {
        stream_eof(&p->err);
    }
}

/* ---- stdin ---------------------------------------------------------------- */

static uv_stream_t *in_stream(ad_proc_t *p)
{
    return p->pty ? (uv_stream_t *)&p->out.pipe : (uv_stream_t *)&p->in;
}

static void really_close_stdin(ad_proc_t *p)
{
    p->in_closed = true;
    p->in_close_pending = false;
    if (!p->pty && p->in_used) {
        ad_proc_close_handle(p, (uv_handle_t *)&p->in);
    }
}

static void on_written(uv_write_t *req, int status)
{
    ad_wreq_t *w = (ad_wreq_t *)req;
    ad_proc_t *p = w->p;
    p->in_queued -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !p->in_closed) {
        ad_log(AD_LOG_DEBUG, "proc", "stdin write failed pid=%ld error=%s", (long)p->pid,
               uv_strerror(status));
        really_close_stdin(p);
        return;
    }
    if (p->in_close_pending && p->in_queued == 0) {
        really_close_stdin(p);
    }
}

static int queue_write(ad_proc_t *p, const void *data, size_t len)
{
    ad_wreq_t *w = ad_xmalloc(sizeof(*w) + len);
    w->p = p;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, in_stream(p), &b, 1, on_written);
    if (rc < 0) {
        free(w);
        return AD_ECLOSED;
    }
    p->in_queued += len;
    return 0;
}

int ad_proc_write(ad_proc_t *p, const void *data, size_t len)
{
    if (p->in_closed || p->in_close_pending || p->exited || p->finished) {
        return AD_ECLOSED;
    }
    if (p->pty && p->out.eof) {
        return AD_ECLOSED;
    }
    if (len > p->max_stdin || p->in_queued > p->max_stdin - len) {
        return AD_ETOOBIG;
    }
    if (len == 0) {
        return 0;
    }
    if (p->held) {
        return ad_proc_held_send(p, AD_HOLD_INPUT, data, len);
    }
    return queue_write(p, data, len);
}

void ad_proc_close_stdin(ad_proc_t *p)
{
    if (p->in_closed || p->in_close_pending || p->finished) {
        return;
    }
    if (p->held) {
        ad_proc_held_send(p, AD_HOLD_CLOSE_IN, NULL, 0);
        p->in_closed = true;
        return;
    }
    if (p->pty) {
        /* A terminal has no half-close: ^D is what a user would type. */
        if (!p->out.eof) {
            queue_write(p, "\x04", 1);
        }
        p->in_closed = true;
        return;
    }
    if (p->in_queued > 0) {
        p->in_close_pending = true;
        return;
    }
    really_close_stdin(p);
}

int ad_proc_resize(ad_proc_t *p, uint16_t rows, uint16_t cols)
{
    if (!p->pty) {
        return AD_ESTATE;
    }
    if (rows == 0 || cols == 0) {
        return AD_EINVAL;
    }
    if (p->out.eof) {
        return AD_ECLOSED;
    }
    if (p->held) {
        uint16_t rc[2] = {rows, cols};
        return ad_proc_held_send(p, AD_HOLD_RESIZE, rc, sizeof(rc));
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&p->out.pipe, &fd) != 0) {
        return AD_ECLOSED;
    }
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    if (ioctl(fd, TIOCSWINSZ, &ws) != 0) {
        return AD_EIO;
    }
    return 0;
}

void ad_proc_rstream_open(ad_proc_t *p, ad_rstream_t *rs, ad_proc_stream_t stream, int fd)
{
    rs->p = p;
    rs->stream = stream;
    ad_buf_init(&rs->line, p->max_line + sizeof(AD_PROC_TRUNC_MARKER));
    uv_pipe_init(p->s->loop, &rs->pipe, 0);
    rs->pipe.data = p;
    rs->used = true;
    p->handles++;
    uv_pipe_open(&rs->pipe, fd);
}

void ad_proc_rstream_start(ad_rstream_t *rs)
{
    if (rs->used && !rs->eof) {
        uv_read_start((uv_stream_t *)&rs->pipe, on_alloc, on_read);
    }
}
