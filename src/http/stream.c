/* SPDX-License-Identifier: MIT */
/*
 * Streamed responses: a body too large to build in memory (an export of
 * every point of a run) goes out as Transfer-Encoding: chunked, one piece
 * at a time. The producer is asked for the next piece (pull) only once the
 * previous one has been handed to the socket, so at most one piece waits in
 * memory whatever the client's speed; a client that stops reading for
 * STALL_MS, or leaves, ends the stream and the producer hears it (on_close)
 * and frees what it holds. Like SSE the stream takes the connection over:
 * the chunked framing is written here, the connection carries nothing else
 * and closes after the last chunk.
 */
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A client that takes nothing for this long is dropped (its piece freed). */
#define STALL_MS 60000
/* Pieces small enough to be copied into the connection's cork give no
 * "written" signal: the next pull waits until the queue is below this. */
#define LOW_WATER (64 * 1024)
#define POLL_MS 5

struct ad_stream {
    ad_conn_t *conn;
    const ad_stream_ops_t *ops;
    void *ud;
    unsigned inflight; /* pieces queued by reference, not yet written */
    bool head_written; /* the response head is out: pieces may follow */
    bool pulling;      /* the producer owes an answer to a pull */
    bool ended;        /* the last chunk is queued */
    bool closed;
};

size_t ad_http_chunk_head(char out[AD_HTTP_CHUNK_HEAD_MAX], size_t n)
{
    return (size_t)snprintf(out, AD_HTTP_CHUNK_HEAD_MAX, "%zx\r\n", n);
}

static void pull_now(void *ud)
{
    ad_stream_t *st = ud;
    if (st->closed || st->ended || st->pulling || st->inflight > 0) {
        return;
    }
    if (ad_conn_queued(st->conn) > LOW_WATER) {
        ad_conn_timer(st->conn, POLL_MS, 0, pull_now); /* small copied pieces */
        return;
    }
    st->pulling = true;
    /* the producer's own time counts as a stall too: a minute a piece */
    ad_conn_timer(st->conn, STALL_MS, 0, NULL);
    st->ops->pull(st, st->ud);
}

/* Asks for the next piece from the loop, never from inside a write. */
static void schedule_pull(ad_stream_t *st)
{
    if (!st->closed && !st->ended && st->head_written && st->conn != NULL) {
        ad_conn_timer(st->conn, 0, 0, pull_now);
    }
}

/* A piece has been handed to the socket, or dropped with the connection. */
static void piece_written(void *msg)
{
    ad_stream_t *st = *(ad_stream_t **)msg;
    free(msg);
    st->inflight--;
    if (st->closed) {
        if (st->inflight == 0) {
            free(st); /* the last piece of a closed stream */
        }
        return;
    }
    if (st->inflight == 0) {
        schedule_pull(st);
    }
}

static void stream_head_written(void *ud)
{
    ad_stream_t *st = ud;
    st->head_written = true;
    schedule_pull(st);
}

static void stream_conn_closed(void *ud)
{
    ad_stream_t *st = ud;
    st->closed = true;
    st->ops->on_close(st, st->ended, st->ud);
    /* pieces still queued are released after this (dropped): they point
     * here, so the struct lives until the last one is back */
    if (st->inflight == 0) {
        free(st);
    }
}

static const ad_conn_ops_t stream_ops = {
    .on_read = NULL, /* nothing to read after the request */
    .on_head_written = stream_head_written,
    .on_close = stream_conn_closed,
    .on_server_close = NULL, /* cut at once: a download may be retried */
};

ad_stream_t *ad_stream_start(ad_req_t *r, int status, const char *content_type,
                             const ad_stream_ops_t *ops, void *ud)
{
    if (strcmp(ad_req_method(r), "HEAD") == 0) {
        ad_res_send(r, status, content_type, NULL, 0); /* the head alone */
        return NULL;
    }
    if (!ad_req_can_take_over(r)) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "cannot stream on this connection now");
        return NULL;
    }
    ad_stream_t *st = ad_xcalloc(1, sizeof(*st));
    st->ops = ops;
    st->ud = ud;
    ad_res_header(r, "Transfer-Encoding", "chunked");
    ad_res_header(r, "X-Accel-Buffering", "no");
    st->conn = ad_req_take_over(r, status, content_type, &stream_ops, st);
    /* can_take_over held: this succeeded (a head written at once has
     * already set head_written, before conn was known) */
    schedule_pull(st);
    return st;
}

int ad_stream_write(ad_stream_t *st, const void *p, size_t n)
{
    if (st->closed || st->ended || !st->pulling) {
        return AD_ECLOSED;
    }
    st->pulling = false;
    if (n == 0) {
        schedule_pull(st); /* nothing this time: ask again */
        return 0;
    }
    char head[AD_HTTP_CHUNK_HEAD_MAX];
    size_t hl = ad_http_chunk_head(head, n);
    /* one block: [stream pointer][head][data][CRLF], freed once written */
    size_t total = hl + n + 2;
    char *block = ad_xmalloc(sizeof(st) + total);
    memcpy(block, &st, sizeof(st));
    char *bytes = block + sizeof(st);
    memcpy(bytes, head, hl);
    memcpy(bytes + hl, p, n);
    memcpy(bytes + hl + n, "\r\n", 2);
    /* cut a client that stops reading; armed first, as the piece may be
     * written (and the next pull scheduled) from inside the write */
    ad_conn_timer(st->conn, STALL_MS, 0, NULL);
    st->inflight++;
    int rc = ad_conn_write_ref(st->conn, bytes, total, piece_written, block);
    if (rc != 0) {
        st->inflight--;
        free(block);
    }
    return rc;
}

void ad_stream_end(ad_stream_t *st)
{
    if (st->closed || st->ended) {
        return;
    }
    st->ended = true;
    st->pulling = false;
    static const char last[] = "0\r\n\r\n";
    ad_conn_write_ref(st->conn, last, sizeof(last) - 1, NULL, NULL);
    ad_conn_finish(st->conn);
}

void ad_stream_abort(ad_stream_t *st)
{
    if (st->closed) {
        return;
    }
    ad_conn_abort(st->conn); /* on_close from here, complete = false */
}
