/* SPDX-License-Identifier: MIT */
/*
 * The holder process (`agentd hold`): one agent's output appended to its
 * spools, sent on to the daemon that is attached (from the offsets it
 * asks for), its input, signals and terminal size passed on, its exit
 * reaped and written down, all in one epoll loop with no timer but the
 * bounded waits after the agent's exit and the retry of a spool write a
 * full disk refused (the agent's output is not read meanwhile, so the
 * agent blocks on its write; STALL / RESUME tell the daemon). Its own
 * errors go to <dir>/log (bounded). No heap but the input queue, no
 * SQLite, no threads. The supervisor (src/proc/spawn.c) forks it, it has
 * already forked the agent, and the daemon side of the wire is
 * src/proc/held.c. Its start (the spools, the socket, live or replay) is
 * holdstart.c's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/holder_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
/* Bytes the attached daemon was sent directly that may wait in memory for the
 * spool file (kept[]): one page a stream. */
#define KEEP_MAX 4096
#define INQ_MAX (8u << 20)
#define DRAIN_MS 2000
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 2000

static unsigned char rbuf[AD_HOLD_HDR + AD_HOLD_MAX_PAYLOAD];
/* The frame being sent. The agent's output is read into its payload when
 * it is free (a DATA frame's place), so a line read while the daemon has
 * all before it goes out as it is, without reading it back from the
 * spool; obuf only while a frame is still being sent. */
static unsigned char wbuf[AD_HOLD_HDR + 8 + CHUNK];
static char obuf[CHUNK];
static char pend[2][CHUNK + KEEP_MAX];
static char kept[2][KEEP_MAX];

int64_t ad_holder_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void ad_holder_log(const holder_t *h, const char *fmt, ...)
{
    if (h->logfd < 0) {
        return;
    }
    char line[512];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ agentd hold: ", &tm);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    n += m < 0 ? 0 : (size_t)m < sizeof(line) - n - 1 ? (size_t)m : sizeof(line) - n - 2;
    line[n++] = '\n';
    struct stat st;
    if (fstat(h->logfd, &st) == 0 && (uint64_t)st.st_size + n > AD_HOLD_LOG_MAX) {
        if (ftruncate(h->logfd, 0) != 0) {
            return;
        }
        (void)fallocate(h->logfd, FALLOC_FL_KEEP_SIZE, 0, AD_HOLD_LOG_MAX);
    }
    (void)ad_write_all(h->logfd, line, n);
}

/* Writes a small file whole, through a temporary name and a rename. */
void ad_holder_write_file(const holder_t *h, const char *name, const char *text)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", h->dir, name);
    snprintf(path, sizeof(path), "%s/%s", h->dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    if (ok) {
        rename(tmp, path);
    }
}

/* ---- the epoll set ---------------------------------------------------------------- */

/* Watches fd for ev in slot k; fd -1 or ev 0 watches nothing there. Only a
 * change reaches the kernel, so a round without one makes no epoll_ctl. */
static void watch(holder_t *h, int k, int fd, uint32_t ev)
{
    watch_t *w = &h->w[k];
    if (fd < 0 || ev == 0) {
        fd = -1;
        ev = 0;
    }
    if (w->fd == fd && w->ev == ev) {
        return;
    }
    if (w->fd >= 0 && w->fd != fd && !w->always) {
        epoll_ctl(h->ep, EPOLL_CTL_DEL, w->fd, NULL);
    }
    bool always = w->fd == fd && w->always;
    if (fd >= 0 && !always) {
        struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)k};
        int op = w->fd == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        int rc = epoll_ctl(h->ep, op, fd, &e);
        if (rc != 0 && (errno == EEXIST || errno == ENOENT)) { /* the set knew better */
            rc = epoll_ctl(h->ep, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e);
        }
        if (rc != 0) {
            always = errno == EPERM;
            fd = always ? fd : -1; /* else not watched: the next round tries again */
        }
    }
    w->fd = fd;
    w->ev = fd >= 0 ? ev : 0;
    w->always = fd >= 0 && always;
}

/* Closes an fd the loop may watch: out of the set first, so a later fd with
 * the same number is added as new. */
static void close_watched(holder_t *h, int fd)
{
    for (int k = 0; k < W_N; k++) {
        if (h->w[k].fd == fd) {
            watch(h, k, -1, 0);
        }
    }
    close(fd);
}

static void spool_all_kept(holder_t *h);

/* The daemon is gone: the next one reads on from the spool, which gets
 * what was kept for it first. */
static void close_conn(holder_t *h)
{
    spool_all_kept(h);
    if (h->conn >= 0) {
        close_watched(h, h->conn);
    }
    h->conn = -1;
    h->attached = false;
    h->rlen = h->woff = h->wlen = 0;
}

/* ---- the agent ------------------------------------------------------------- */

static void agent_exited(holder_t *h, int status)
{
    h->exited = true;
    h->status = status;
    h->exit_ms = h->drain_from = ad_holder_now_ms();
    /* The tree ends with its leader, as under the daemon (src/proc). */
    kill(-h->agent, SIGKILL);
    char text[32];
    snprintf(text, sizeof(text), "%d\n", status);
    ad_holder_write_file(h, "exit", text);
}

static void on_signals(holder_t *h)
{
    struct signalfd_siginfo si;
    while (read(h->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo != SIGCHLD) {
            /* Asked to end: the agent goes with it; the spool and the exit
             * stay for a daemon. */
            h->quit = true;
            if (!h->exited) {
                kill(-h->agent, SIGKILL);
            }
        }
    }
    for (;;) {
        int status;
        pid_t r = waitpid(-1, &status, WNOHANG);
        if (r <= 0) {
            break;
        }
        if (r == h->agent && !h->exited) {
            agent_exited(h, status);
        }
    }
}

static void stream_end(holder_t *h, hstream_t *st)
{
    if (st->fd >= 0) {
        close_watched(h, st->fd);
    }
    st->fd = -1;
    st->eof = true;
}

/* Appends n bytes to the spool; how many went (fewer on a full disk,
 * errno then says why). */
static size_t spool_write(hstream_t *st, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(st->spool, p + done, n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = ENOSPC;
            }
            break;
        }
        done += (size_t)w;
    }
    st->end += done;
    return done;
}

static const char *stall_reason(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG ? "disk full" : "spool write failed";
}

/* The spool refused bytes: they are kept, reading stops, a retry is due. */
static void stall(holder_t *h, hstream_t *st, const char *rest, size_t n)
{
    int e = errno;
    memmove(pend[st - h->s] + st->plen, rest, n);
    st->plen += n;
    h->retry_ms = RETRY_MIN_MS;
    h->retry_at = ad_holder_now_ms() + h->retry_ms;
    if (!h->stalled) {
        h->stalled = true;
        h->stall_errno = e;
        h->stall_ms = ad_holder_now_ms();
        ad_holder_log(
            h, "spool write failed: %s; not reading the agent's output until it can be stored",
            strerror(e));
    }
}

/* True when the next frame next_frame would make is this stream's DATA
 * from its end: the daemon is attached, has every byte before it, and
 * nothing else (a frame being sent, HELLO, STALL, scrollback) is due. */
static bool direct(const holder_t *h, const hstream_t *st)
{
    return h->conn >= 0 && h->attached && h->woff == h->wlen && h->hello_sent &&
           h->stalled == h->stall_sent && h->scroll >= h->scroll_end && st->sent == st->end;
}

/* The kept bytes to the spool file, behind everything before them. What the
 * disk refuses becomes pending, as a refused read does (stall): end goes
 * back to the file's and comes forward again as the retry stores them. */
static void spool_kept(holder_t *h, hstream_t *st)
{
    size_t n = st->klen;
    if (n == 0) {
        return;
    }
    int i = (int)(st - h->s);
    st->klen = 0;
    st->end -= n;
    size_t done = spool_write(st, kept[i], n);
    if (done < n) {
        stall(h, st, kept[i] + done, n - done);
    }
}

static void spool_all_kept(holder_t *h)
{
    spool_kept(h, &h->s[0]);
    spool_kept(h, &h->s[1]);
}

/* Output read while the daemon has everything before it goes out at once as
 * DATA, and waits in kept[] (a page) before it is written to the spool: a
 * line then costs a read and a send, not a write to the file as well. The
 * spool gets the kept bytes when they would pass the page, before anything
 * reads the spool, when the daemon goes away and when the holder ends. So
 * the daemon has every byte that is not in the file; only a holder killed
 * together with a daemon that had not yet stored them loses them (a page at
 * most). */
static void on_output(holder_t *h, hstream_t *st)
{
    int i = (int)(st - h->s);
    bool frame = direct(h, st);
    char *buf = frame ? (char *)wbuf + AD_HOLD_HDR + 8 : obuf;
    ssize_t n = read(st->fd, buf, CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) { /* EOF; EIO on a pty master once the terminal is gone */
        stream_end(h, st);
        return;
    }
    size_t done;
    if (frame && st->klen + (size_t)n <= KEEP_MAX) {
        memcpy(kept[i] + st->klen, buf, (size_t)n);
        st->klen += (size_t)n;
        st->end += (size_t)n;
        done = (size_t)n;
    } else {
        spool_kept(h, st);
        if (st->plen > 0) { /* the disk refused the kept bytes: these wait behind them */
            stall(h, st, buf, (size_t)n);
            return;
        }
        done = spool_write(st, buf, (size_t)n);
        if (done < (size_t)n) {
            stall(h, st, buf + done, (size_t)n - done);
        }
    }
    if (frame && done > 0) { /* the stored bytes as DATA, as frame_data would */
        uint64_t off = st->end - done;
        ad_hold_hdr(wbuf, (uint32_t)(8 + done), AD_HOLD_DATA, (unsigned)i + 1);
        put_u64(wbuf + AD_HOLD_HDR, off);
        st->sent = st->end;
        h->woff = 0;
        h->wlen = AD_HOLD_HDR + 8 + done;
    }
}

/* The retry timer: the kept bytes to the spool, in order; reading goes on
 * once both streams' are in, else the next try waits longer. */
static void retry_spool(holder_t *h)
{
    if (!h->stalled || ad_holder_now_ms() < h->retry_at) {
        return;
    }
    bool clear = true;
    for (int i = 0; i < 2; i++) {
        hstream_t *st = &h->s[i];
        if (st->plen == 0) {
            continue;
        }
        size_t done = spool_write(st, pend[i], st->plen);
        memmove(pend[i], pend[i] + done, st->plen - done);
        st->plen -= done;
        if (st->plen > 0) {
            h->stall_errno = errno;
            clear = false;
        }
    }
    if (!clear) {
        h->retry_ms = h->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : h->retry_ms * 2;
        h->retry_at = ad_holder_now_ms() + h->retry_ms;
        return;
    }
    h->stalled = false;
    h->drain_from = ad_holder_now_ms();
    ad_holder_log(h, "spool writable again after %lld ms; reading the agent's output",
                  (long long)(ad_holder_now_ms() - h->stall_ms));
}

static void on_stdin_ready(holder_t *h)
{
    int fd = h->pty ? h->s[0].fd : h->in_fd;
    if (fd >= 0 && h->inq_len > 0) {
        ssize_t w = write(fd, h->inq, h->inq_len);
        if (w > 0) {
            memmove(h->inq, h->inq + w, h->inq_len - (size_t)w);
            h->inq_len -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            h->inq_len = 0;
        }
    }
    if (!h->pty && h->in_close && h->inq_len == 0 && h->in_fd >= 0) {
        close_watched(h, h->in_fd);
        h->in_fd = -1;
    }
}

static void queue_input(holder_t *h, const unsigned char *p, size_t n)
{
    if (h->inq_len + n > INQ_MAX) {
        return; /* the daemon bounds what it queues; this is a backstop */
    }
    if (h->inq_len + n > h->inq_cap) {
        size_t cap = h->inq_cap ? h->inq_cap : 4096;
        while (cap < h->inq_len + n) {
            cap *= 2;
        }
        char *q = realloc(h->inq, cap);
        if (q == NULL) {
            return;
        }
        h->inq = q;
        h->inq_cap = cap;
    }
    memcpy(h->inq + h->inq_len, p, n);
    h->inq_len += n;
}

/* ---- the daemon's frames ----------------------------------------------------- */

static void on_attach(holder_t *h, const unsigned char *p, uint32_t len)
{
    if (len < 24) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        uint64_t off = get_u64(p + 8 * i);
        h->s[i].sent = off < h->s[i].end ? off : h->s[i].end;
        h->s[i].eof_sent = false;
    }
    uint64_t scroll = get_u64(p + 16);
    h->scroll = h->pty && scroll < h->s[0].sent ? scroll : h->s[0].sent;
    h->scroll_end = h->s[0].sent;
    h->attached = true;
    h->exit_sent = false;
    h->stall_sent = false;
    h->hello_sent = false;
}

/* The daemon has stored the output below the offsets: their disk blocks
 * go back (a hole: offsets and the file's size stay), all but the last
 * AD_HOLD_KEEP bytes, which a terminal's scrollback reads after a
 * reattach. A long run's spool then takes what is not yet stored, not
 * everything it ever printed. */
static void on_ack(holder_t *h, const unsigned char *p, uint32_t len)
{
    if (len < 16) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        hstream_t *st = &h->s[i];
        uint64_t ack = get_u64(p + 8 * i);
        ack = ack < st->end ? ack : st->end;
        uint64_t upto = ack > AD_HOLD_KEEP ? (ack - AD_HOLD_KEEP) & ~(uint64_t)4095 : 0;
        if (st->spool >= 0 && upto > st->freed &&
            fallocate(st->spool, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)st->freed,
                      (off_t)(upto - st->freed)) == 0) {
            st->freed = upto;
        }
    }
}

static void on_frame(holder_t *h, unsigned type, const unsigned char *p, uint32_t len)
{
    int32_t v;
    switch (type) {
    case AD_HOLD_ATTACH:
        on_attach(h, p, len);
        break;
    case AD_HOLD_INPUT:
        queue_input(h, p, len);
        break;
    case AD_HOLD_ACK:
        on_ack(h, p, len);
        break;
    case AD_HOLD_CLOSE_IN:
        if (h->pty) {
            queue_input(h, (const unsigned char *)"\x04", 1);
        } else {
            h->in_close = true;
        }
        break;
    case AD_HOLD_SIGNAL:
        if (len >= 4 && !h->exited && !h->replay) {
            memcpy(&v, p, 4);
            kill(-h->agent, v);
        }
        break;
    case AD_HOLD_RESIZE:
        if (len >= 4 && h->pty && h->s[0].fd >= 0) {
            uint16_t rc[2];
            memcpy(rc, p, 4);
            struct winsize ws = {.ws_row = rc[0], .ws_col = rc[1]};
            ioctl(h->s[0].fd, TIOCSWINSZ, &ws);
        }
        break;
    default:
        break;
    }
    on_stdin_ready(h);
}

static void on_conn_readable(holder_t *h)
{
    ssize_t n = read(h->conn, rbuf + h->rlen, sizeof(rbuf) - h->rlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        close_conn(h);
        return;
    }
    h->rlen += (size_t)n;
    size_t at = 0;
    while (h->rlen - at >= AD_HOLD_HDR) {
        uint32_t len = ad_hold_len(rbuf + at);
        if (len > AD_HOLD_MAX_PAYLOAD) {
            close_conn(h); /* not our daemon */
            return;
        }
        if (h->rlen - at < AD_HOLD_HDR + len) {
            break;
        }
        on_frame(h, rbuf[at + 4], rbuf + at + AD_HOLD_HDR, len);
        at += AD_HOLD_HDR + len;
    }
    memmove(rbuf, rbuf + at, h->rlen - at);
    h->rlen -= at;
}

/* ---- to the daemon ----------------------------------------------------------- */

/* A DATA (or SCROLL) frame of spool bytes from *off; false when none. */
static bool frame_data(holder_t *h, int i, unsigned type, uint64_t *off, uint64_t upto)
{
    if (*off >= upto) {
        return false;
    }
    if (upto > h->s[i].end - h->s[i].klen) { /* the range reaches bytes kept in memory */
        spool_kept(h, &h->s[i]);
        upto = upto < h->s[i].end ? upto : h->s[i].end;
        if (*off >= upto) {
            return false;
        }
    }
    size_t want = upto - *off < CHUNK ? (size_t)(upto - *off) : CHUNK;
    ssize_t n = pread(h->s[i].spool, wbuf + AD_HOLD_HDR + 8, want, (off_t)*off);
    if (n <= 0) {
        return false;
    }
    ad_hold_hdr(wbuf, (uint32_t)(8 + n), type, (unsigned)i + 1);
    put_u64(wbuf + AD_HOLD_HDR, *off);
    *off += (uint64_t)n;
    h->wlen = AD_HOLD_HDR + 8 + (size_t)n;
    return true;
}

/* The next frame for the attached daemon, in wbuf; false when nothing is
 * to be sent. Scrollback first, then both streams in turn, each stream's
 * end after its last byte, and the exit after both ends. */
static bool next_frame(holder_t *h)
{
    h->woff = h->wlen = 0;
    if (!h->hello_sent) {
        h->hello_sent = true;
        size_t n = strnlen(ad_version, AD_HOLD_VERSION_MAX);
        ad_hold_hdr(wbuf, (uint32_t)n, AD_HOLD_HELLO, 0);
        memcpy(wbuf + AD_HOLD_HDR, ad_version, n);
        h->wlen = AD_HOLD_HDR + n;
        return true;
    }
    if (h->stalled != h->stall_sent) {
        h->stall_sent = h->stalled;
        if (!h->stalled) {
            ad_hold_hdr(wbuf, 0, AD_HOLD_RESUME, 0);
            h->wlen = AD_HOLD_HDR;
            return true;
        }
        const char *why = stall_reason(h->stall_errno);
        int32_t e = h->stall_errno;
        size_t n = strlen(why);
        ad_hold_hdr(wbuf, (uint32_t)(4 + n), AD_HOLD_STALL, 0);
        memcpy(wbuf + AD_HOLD_HDR, &e, 4);
        memcpy(wbuf + AD_HOLD_HDR + 4, why, n);
        h->wlen = AD_HOLD_HDR + 4 + n;
        return true;
    }
    if (frame_data(h, 0, AD_HOLD_SCROLL, &h->scroll, h->scroll_end)) {
        return true;
    }
    for (int k = 0; k < 2; k++) {
        int i = (h->rr + k) % 2;
        if (frame_data(h, i, AD_HOLD_DATA, &h->s[i].sent, h->s[i].end)) {
            h->rr = (i + 1) % 2;
            return true;
        }
    }
    for (int i = 0; i < 2; i++) {
        hstream_t *st = &h->s[i];
        if (st->eof && !st->eof_sent && st->sent == st->end) {
            st->eof_sent = true;
            ad_hold_hdr(wbuf, 0, AD_HOLD_EOF, (unsigned)i + 1);
            h->wlen = AD_HOLD_HDR;
            return true;
        }
    }
    if (h->exited && h->s[0].eof_sent && h->s[1].eof_sent && !h->exit_sent) {
        h->exit_sent = true;
        int32_t st = h->status;
        ad_hold_hdr(wbuf, 4, AD_HOLD_EXIT, 0);
        memcpy(wbuf + AD_HOLD_HDR, &st, 4);
        h->wlen = AD_HOLD_HDR + 4;
        return true;
    }
    return false;
}

/* Sends until the socket is full or nothing is left. True when it is full. */
static bool pump(holder_t *h)
{
    while (h->conn >= 0 && h->attached) {
        if (h->woff == h->wlen && !next_frame(h)) {
            return false;
        }
        ssize_t w = send(h->conn, wbuf + h->woff, h->wlen - h->woff, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            return true;
        }
        if (w <= 0) {
            close_conn(h);
            return false;
        }
        h->woff += (size_t)w;
    }
    return false;
}

/* ---- connections ---------------------------------------------------------------- */

static void on_accept(holder_t *h)
{
    int fd = accept4(h->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
        close(fd);
        return;
    }
    close_conn(h); /* a new daemon replaces the one that went away */
    h->conn = fd;
}

/* ---- the loop -------------------------------------------------------------------- */

/* How long poll may sleep: forever, but for the bounded waits after the
 * agent's exit (its output's end, then a daemon to collect it). */
static int poll_timeout(const holder_t *h)
{
    int retry = -1;
    if (h->stalled) {
        int64_t r = h->retry_at - ad_holder_now_ms();
        retry = r <= 0 ? 0 : (int)r;
    }
    if (!h->exited) {
        return retry;
    }
    int64_t t = ad_holder_now_ms() - h->exit_ms;
    int64_t left = (!h->s[0].eof || !h->s[1].eof) ? DRAIN_MS - (ad_holder_now_ms() - h->drain_from)
                                                  : h->wait_ms - t;
    int wait = left <= 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
    return retry >= 0 && retry < wait ? retry : wait;
}

/* True when the holder's work is over. */
static bool finished(holder_t *h)
{
    if (!h->exited) {
        return false;
    }
    int64_t t = ad_holder_now_ms() - h->exit_ms;
    /* Not while output waits for the disk: the drain counts from when it
     * was stored (drain_from). */
    if (!h->stalled && ad_holder_now_ms() - h->drain_from >= DRAIN_MS) {
        for (int i = 0; i < 2; i++) {
            if (!h->s[i].eof) {
                stream_end(h, &h->s[i]); /* a grandchild keeps it open: give up */
            }
        }
    }
    if (!h->s[0].eof || !h->s[1].eof) {
        return false;
    }
    /* The daemon that had the exit went away (it closes once it has it), a
     * quit was asked for, or nobody came in time. */
    return (h->exit_sent && h->conn < 0) || h->quit || t >= h->wait_ms ||
           (h->replay && h->conn < 0);
}

static void one_round(holder_t *h)
{
    bool full = pump(h);
    bool in_due = h->inq_len > 0;
    watch(h, W_SIG, h->sfd, EPOLLIN);
    watch(h, W_LISTEN, h->lsock, EPOLLIN);
    watch(h, W_CONN, h->conn, EPOLLIN | (full ? EPOLLOUT : 0));
    /* A stream whose bytes wait for the disk is not read: the agent's
     * writes block, as under a terminal's flow control. */
    watch(h, W_OUT, h->s[0].fd,
          (h->s[0].plen > 0 ? 0 : EPOLLIN) | (h->pty && in_due ? EPOLLOUT : 0));
    watch(h, W_ERR, h->s[1].fd, h->s[1].plen > 0 ? 0 : EPOLLIN);
    watch(h, W_IN, h->pty ? -1 : h->in_fd, in_due ? EPOLLOUT : 0);
    uint32_t got[W_N] = {0};
    bool ready = false;
    for (int k = 0; k < W_N; k++) {
        got[k] = h->w[k].always ? h->w[k].ev : 0;
        ready = ready || got[k] != 0;
    }
    struct epoll_event ev[W_N];
    int n = epoll_wait(h->ep, ev, W_N, ready ? 0 : poll_timeout(h));
    if (n < 0) {
        return;
    }
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u32 < W_N) {
            got[ev[i].data.u32] |= ev[i].events;
        }
    }
    int conn = h->w[W_CONN].fd; /* an accept below replaces it */
    retry_spool(h);
    if (got[W_SIG]) {
        on_signals(h);
    }
    if (got[W_LISTEN] & EPOLLIN) {
        on_accept(h);
    }
    if (got[W_CONN] && conn >= 0 && conn == h->conn) {
        on_conn_readable(h);
    }
    for (int i = 0; i < 2; i++) {
        if ((got[W_OUT + i] & (EPOLLIN | EPOLLHUP | EPOLLERR)) && h->s[i].fd >= 0 &&
            h->s[i].plen == 0) {
            on_output(h, &h->s[i]);
        }
    }
    if (got[W_IN] || (h->pty && (got[W_OUT] & EPOLLOUT))) {
        on_stdin_ready(h);
    }
}

void ad_holder_loop(holder_t *h)
{
    while (!finished(h)) {
        one_round(h);
    }
    spool_all_kept(h);
    for (int i = 0; i < 2; i++) {
        if (h->s[i].plen > 0) {
            ad_holder_log(h, "ended with %zu bytes of %s not stored (the disk stayed full)",
                          h->s[i].plen, i == 0 ? "stdout" : "stderr");
        }
    }
}
