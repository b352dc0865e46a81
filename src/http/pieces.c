/* SPDX-License-Identifier: MIT */
/*
 * A streamed answer whose pieces are read elsewhere (http.h, "an answer
 * read a piece at a time"): an export read on the thread pool a piece at
 * a time. The first piece is read before the answer, so an error there is
 * still a status; then a piece at a time, each asked for once the last one
 * is on the socket (stream.c's pull). A read error mid-way cuts the stream
 * (the client sees it incomplete). Moved from src/api/scalars.c, where the
 * metrics export kept it.
 *
 * Threads: loop thread only.
 */
#include "http/http.h"

#include <stdlib.h>

struct ad_pieces {
    ad_pieces_opts_t o;         /* the caller's; its pointers borrowed */
    const ad_pieces_ops_t *ops; /* borrowed */
    void *ud;                   /* the caller's, freed by ops->free */
    ad_req_t *req;              /* until the first piece is in and answered */
    ad_stream_t *st;            /* NULL before the answer and once the stream is over */
    bool reading;               /* a piece is being read */
    bool gone;                  /* the stream is over: free when the read returns */
};

static void pieces_free(ad_pieces_t *pc)
{
    pc->ops->free(pc->ud);
    free(pc);
}

/* Hands the piece in body to the stream (or ends it). */
static void pieces_send(ad_pieces_t *pc)
{
    if (pc->o.body->len == 0 && *pc->o.end) {
        ad_stream_end(pc->st);
        return;
    }
    ad_stream_write(pc->st, pc->o.body->data, pc->o.body->len);
    ad_buf_reset(pc->o.body);
}

static void pieces_pull(ad_stream_t *st, void *ud)
{
    AD_UNUSED(st);
    ad_pieces_t *pc = ud;
    if (pc->o.body->len > 0 || *pc->o.end) {
        pieces_send(pc); /* the first piece, read before the answer */
        return;
    }
    pc->reading = true;
    pc->ops->read(pc, pc->ud);
}

static void pieces_closed(ad_stream_t *st, bool ended, void *ud)
{
    AD_UNUSED(st);
    ad_pieces_t *pc = ud;
    if (!ended) {
        ad_log(AD_LOG_INFO, "http", "%s cut points=%lld", pc->o.log_what,
               (long long)(pc->o.points != NULL ? *pc->o.points : 0));
    }
    pc->st = NULL;
    pc->gone = true;
    if (!pc->reading) {
        pieces_free(pc);
    }
}

static const ad_stream_ops_t pieces_ops = {pieces_pull, pieces_closed};

/* The first piece is in: answer, or fail with a status. */
static void pieces_answer(ad_pieces_t *pc, int rc)
{
    ad_req_t *r = pc->req;
    pc->req = NULL; /* the request is answered */
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "%s failed: %s", pc->o.what, ad_strerror(rc));
        pieces_free(pc);
        return;
    }
    if (pc->o.disposition != NULL) {
        ad_res_header(r, "Content-Disposition", pc->o.disposition);
    }
    pc->st = ad_stream_start(r, 200, pc->o.content_type, &pieces_ops, pc);
    if (pc->st == NULL) {
        pieces_free(pc);
    }
}

void ad_pieces_done(ad_pieces_t *pc, int rc)
{
    pc->reading = false;
    if (pc->req != NULL) {
        pieces_answer(pc, rc);
    } else if (pc->gone) {
        pieces_free(pc);
    } else if (rc != 0) {
        ad_log(AD_LOG_WARN, "http", "%s failed mid-way err=%s", pc->o.log_what, ad_strerror(rc));
        ad_stream_abort(pc->st);
    } else {
        pieces_send(pc);
    }
}

void ad_pieces_start(ad_req_t *r, const ad_pieces_opts_t *o, const ad_pieces_ops_t *ops, void *ud)
{
    ad_pieces_t *pc = ad_xcalloc(1, sizeof(*pc));
    pc->o = *o;
    pc->ops = ops;
    pc->ud = ud;
    pc->req = r;
    pc->reading = true;
    ops->read(pc, ud);
}
