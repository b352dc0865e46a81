/* SPDX-License-Identifier: MIT */
/*
 * Batched sends: the turn's flush (write.c) hands each dirty connection's
 * queued bytes to the kernel as one sendmsg apiece. With many connections
 * that is a system call per connection per turn, and a system call is
 * most of what a small send costs where entering the kernel is dear (a
 * virtual machine: 1.1 us a getppid on the bench VM). Here the sends of
 * one turn go through an io_uring in a single io_uring_enter.
 *
 * Each send is a sendmsg with MSG_DONTWAIT | MSG_NOSIGNAL on a socket
 * libuv already made non-blocking, so the kernel issues it inline during
 * the enter and completes it at once: the bytes taken, -EAGAIN when the
 * socket is full, or the error sendmsg would give. Nothing is left in
 * flight when ad_sendbatch_run returns, so the caller's buffers are free
 * again and the connection's order of bytes is the one sendmsg gives.
 *
 * Ownership: the batch owns its ring and its msghdr array; the caller
 * owns the iovecs (they must stay put until ad_sendbatch_run returns).
 * The server owns its batch (ad_http_wqs_free frees it).
 */
#include "http/http_int.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct ad_sendbatch {
    struct io_uring ring;
    bool broken; /* the ring failed once: every later batch is refused */
    struct msghdr msg[AD_SENDBATCH_MAX];
};

ad_sendbatch_t *ad_sendbatch_new(char *why, size_t whysz)
{
    ad_sendbatch_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(why, whysz, "out of memory");
        return NULL;
    }
    /* A completion queue twice the submission queue's size (the kernel's
     * default): one batch can never overflow it. */
    int rc = io_uring_queue_init(AD_SENDBATCH_MAX, &b->ring, 0);
    if (rc < 0) {
        snprintf(why, whysz, "%s", strerror(-rc));
        free(b);
        return NULL;
    }
    /* A kernel that cannot say what it supports (before 5.6), or a ring
     * without sendmsg, would fail every send of a batch: none then. */
    struct io_uring_probe *probe = io_uring_get_probe_ring(&b->ring);
    bool probed = probe != NULL;
    bool ok = probed && io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
    if (probed) {
        io_uring_free_probe(probe);
    }
    if (!ok) {
        snprintf(why, whysz, "%s", probed ? "no sendmsg" : "no probe: a kernel before 5.6");
        io_uring_queue_exit(&b->ring);
        free(b);
        return NULL;
    }
    return b;
}

void ad_sendbatch_free(ad_sendbatch_t *b)
{
    if (b == NULL) {
        return;
    }
    if (!b->broken) {
        io_uring_queue_exit(&b->ring);
    }
    free(b);
}

bool ad_sendbatch_usable(const ad_sendbatch_t *b)
{
    return b != NULL && !b->broken;
}

/* The ring failed: the sends it did not take are dropped with it, and the
 * caller sends them the plain way. */
static void batch_broken(ad_sendbatch_t *b)
{
    io_uring_queue_exit(&b->ring);
    b->broken = true;
}

unsigned ad_sendbatch_run(ad_sendbatch_t *b, const ad_sendbatch_item_t *items, int *res, unsigned n)
{
    if (n > AD_SENDBATCH_MAX) {
        n = AD_SENDBATCH_MAX;
    }
    for (unsigned i = 0; i < n; i++) {
        res[i] = -EINPROGRESS; /* not sent, until its completion says otherwise */
    }
    if (!ad_sendbatch_usable(b) || n == 0) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
        if (sqe == NULL) { /* cannot happen: the queue holds AD_SENDBATCH_MAX and is empty */
            batch_broken(b);
            return 0;
        }
        b->msg[i] = (struct msghdr){.msg_iov = items[i].iov, .msg_iovlen = items[i].niov};
        io_uring_prep_sendmsg(sqe, items[i].fd, &b->msg[i], MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, i);
    }
    int sub;
    do {
        sub = io_uring_submit_and_wait(&b->ring, n);
    } while (sub == -EINTR && io_uring_sq_ready(&b->ring) == n);
    /* What was submitted completes (inline, or soon after an interrupted
     * wait); what was not is dropped with the ring below. */
    unsigned submitted = sub < 0 ? n - io_uring_sq_ready(&b->ring) : (unsigned)sub;
    unsigned got = 0;
    while (got < submitted) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(&b->ring, &cqe);
        if (rc == -EINTR || rc == -EAGAIN) {
            continue;
        }
        if (rc < 0) {
            /* The ring itself is gone wrong (EBADF, EFAULT): a bug, and a
             * send still in flight could read buffers the caller frees. */
            abort();
        }
        uint64_t i = io_uring_cqe_get_data64(cqe);
        if (i < n && res[i] == -EINPROGRESS) {
            res[i] = cqe->res;
            got++;
        }
        io_uring_cqe_seen(&b->ring, cqe);
    }
    if (submitted < n) {
        batch_broken(b);
    }
    return n;
}

/* ---- the turn's flush (write.c's wflush_all) ------------------------------------- */

/* Whether c's first slice can go in the turn's batch: plain bytes on a
 * socket with nothing of libuv's queued before them. */
static bool batchable(ad_conn_t *c, int *fd)
{
    uv_os_fd_t f;
    if (c->werr != 0 || c->tls != NULL || c->wq == NULL || c->wq->head == c->wq->tail ||
        c->h.stream.write_queue_size != 0 || uv_fileno(&c->h.handle, &f) != 0) {
        return false;
    }
    *fd = f;
    return true;
}

/* The turn's batch (--io-uring): made at the first turn with two
 * connections to write, once; NULL when the kernel refuses it. */
static ad_sendbatch_t *turn_batch(ad_server_t *s)
{
    if (!s->sendbatch_tried && s->cfg != NULL && s->cfg->io_uring) {
        s->sendbatch_tried = true;
        char why[128];
        s->sendbatch = ad_sendbatch_new(why, sizeof(why));
        if (s->sendbatch == NULL) {
            ad_log(AD_LOG_INFO, "http", "io_uring unavailable (%s): a sendmsg a connection", why);
        }
    }
    return ad_sendbatch_usable(s->sendbatch) ? s->sendbatch : NULL;
}

void ad_http_flush_conns(ad_server_t *s, ad_conn_t **conns, unsigned n)
{
    ad_sendbatch_item_t items[AD_SENDBATCH_MAX];
    unsigned slice[AD_SENDBATCH_MAX]; /* conns[i]'s buffers in its item */
    size_t total[AD_SENDBATCH_MAX];
    bool in[AD_SENDBATCH_MAX];
    ad_sendbatch_t *b = n >= 2 ? turn_batch(s) : NULL;
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        int fd;
        in[i] = b != NULL && batchable(conns[i], &fd);
        if (in[i]) {
            uv_buf_t *bufs;
            slice[i] = ad_conn_wq_slice(conns[i], &bufs, &total[i]);
            /* a uv_buf_t is laid out as a struct iovec on Unix */
            items[m] = (ad_sendbatch_item_t){fd, (struct iovec *)(uintptr_t)bufs, slice[i]};
            m++;
        }
    }
    int got[AD_SENDBATCH_MAX];
    if (m >= 2) {
        ad_sendbatch_run(b, items, got, m);
        for (unsigned k = 0; k < m; k++) {
            s->batched_sends += got[k] != -EINPROGRESS;
        }
    } else {
        memset(in, 0, sizeof(in[0]) * n); /* one alone: the plain way is as cheap */
    }
    /* Every connection's result is taken before any failed one is closed:
     * a close tells its owner, who may write to the others, and a write
     * then must not find a slice sent here still at the head of a queue. */
    uint64_t now = uv_hrtime();
    bool failed[AD_SENDBATCH_MAX];
    for (unsigned i = 0, k = 0; i < n; i++) {
        ad_conn_t *c = conns[i];
        int rc = 0;
        int r = in[i] ? got[k++] : -EINPROGRESS;
        if (r != -EINPROGRESS) {
            c->wheld = 0;
            c->wlast_ns = now;
            rc = ad_conn_wq_sent(c, slice[i], total[i], ad_conn_sent_as_uv(r));
        }
        if (rc == 0) {
            rc = ad_conn_wqueue_flush(c); /* the rest, and the array given back */
        }
        failed[i] = rc != 0;
    }
    for (unsigned i = 0; i < n; i++) {
        if (failed[i]) {
            ad_conn_abort(conns[i]);
        }
    }
}

uint64_t ad_server_batched_sends(const ad_server_t *s)
{
    return s->batched_sends;
}
