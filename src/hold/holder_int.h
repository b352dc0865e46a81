/* SPDX-License-Identifier: MIT */
/*
 * Private to the holder process (`agentd hold`): what holder.c (its loop:
 * the agent's output and input, the daemon's frames) and holdstart.c (its
 * start: the spools, the socket, the log, live or replay) share. Single
 * threaded, like the holder.
 */
#ifndef AD_HOLDER_INT_H
#define AD_HOLDER_INT_H

#include "core/core.h"
#include "hold/hold.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    int fd;         /* the agent's output, -1 after its end */
    int spool;      /* the spool file, read and appended */
    uint64_t end;   /* bytes in the spool */
    uint64_t sent;  /* next offset for the attached daemon */
    uint64_t freed; /* the spool's disk below this is given back (ACK) */
    bool eof, eof_sent;
    /* Read from the agent, not yet in the spool (a refused write): while
     * there is any (plen bytes of pend[i], outside this struct so that its
     * pages are only touched on a full disk), the agent's output is not
     * read. */
    size_t plen;
    /* The last klen bytes before end are in kept[i], not yet in the file:
     * the daemon was sent them as they came (see on_output). */
    size_t klen;
} hstream_t;

/* What the loop watches, one epoll slot each (the event carries the slot).
 * With a pty the agent's input and output are one fd, so W_OUT also waits
 * for room to write input and W_IN is not used. */
enum { W_SIG, W_LISTEN, W_CONN, W_OUT, W_ERR, W_IN, W_N };

typedef struct {
    int fd; /* -1: nothing watched */
    uint32_t ev;
    bool always; /* a file epoll refuses (EPERM): always ready, as poll has it */
} watch_t;

typedef struct {
    char dir[4096];
    pid_t agent;
    bool pty, replay, quit;
    hstream_t s[2];
    int in_fd; /* the agent's stdin (pipe mode); with a pty, s[0].fd */
    bool in_close;
    char *inq;
    size_t inq_len, inq_cap;
    int conn, lsock, sfd;
    bool attached, exit_sent, hello_sent;
    /* pty: next scrollback offset to send, up to scroll_end (s[0].sent at the
     * attach: what the daemon stored already; later bytes go as DATA only) */
    uint64_t scroll, scroll_end;
    size_t rlen, woff, wlen;
    int rr; /* which stream is sent first next time */
    bool exited;
    int status;
    int64_t exit_ms;
    int64_t wait_ms;
    /* A full disk: the spool refused a write. stall_sent: what the attached
     * daemon was last told (STALL or RESUME). */
    bool stalled, stall_sent;
    int stall_errno;
    int64_t stall_ms, retry_at;
    int retry_ms;
    int64_t drain_from; /* the output's drain bound counts from here */
    int logfd;
    int ep;         /* the epoll set: fds stay in it between rounds */
    watch_t w[W_N]; /* what it holds, changed only when the wish changes */
} holder_t;

/* holder.c: the monotonic clock in ms; one line in <dir>/log (the holder's
 * stderr is /dev/null; the file starts over once past AD_HOLD_LOG_MAX, so
 * it stays bounded); a small file of h's folder written whole, through a
 * temporary name and a rename. */
int64_t ad_holder_now_ms(void);
void ad_holder_log(const holder_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ad_holder_write_file(const holder_t *h, const char *name, const char *text);
/* holder.c: the loop, until the holder's work is over (the agent's end
 * sent or given up on); then what it kept goes to the spools. */
void ad_holder_loop(holder_t *h);

#endif
