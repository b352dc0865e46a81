/* SPDX-License-Identifier: MIT */
/*
 * Held processes: the daemon's side of a holder's socket (src/hold). The
 * holder's frames become the same line and data callbacks a plain child's
 * pipes give (io.c), its EXIT frame the exit report (exit.c); input,
 * stop signals and terminal sizes go to it as frames. ad_proc_attach
 * takes up a holder a previous daemon started, or starts a replay holder
 * for what a dead one left. The holder process itself is hold/holder.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold/hold.h"

#define SCROLLBACK AD_HOLD_KEEP
#define ACK_STEP (1u << 20)

static void held_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void held_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* ---- to the holder ---------------------------------------------------------- */

static void on_sent(uv_write_t *req, int status)
{
    AD_UNUSED(status);
    ad_wreq_t *w = (ad_wreq_t *)req;
    w->p->in_queued -= w->len;
    free(w);
}

int ad_proc_held_send(ad_proc_t *p, unsigned type, const void *data, size_t len)
{
    if (p->out.eof && p->ex.lost) {
        return AD_ECLOSED;
    }
    const unsigned char *d = data;
    do {
        size_t n = len > AD_HOLD_MAX_PAYLOAD ? AD_HOLD_MAX_PAYLOAD : len;
        ad_wreq_t *w = ad_xmalloc(sizeof(*w) + AD_HOLD_HDR + n);
        w->p = p;
        w->len = type == AD_HOLD_INPUT ? n : 0;
        ad_hold_hdr((unsigned char *)w->data, (uint32_t)n, type, 0);
        if (n > 0) {
            memcpy(w->data + AD_HOLD_HDR, d, n);
        }
        uv_buf_t b = uv_buf_init(w->data, (unsigned)(AD_HOLD_HDR + n));
        if (uv_write(&w->req, (uv_stream_t *)&p->out.pipe, &b, 1, on_sent) < 0) {
            free(w);
            return AD_ECLOSED;
        }
        p->in_queued += w->len;
        d += n;
        len -= n;
    } while (len > 0);
    return 0;
}

void ad_proc_held_ack(ad_proc_t *p, uint64_t out, uint64_t err)
{
    if (!p->held || p->exited) {
        return;
    }
    out = out > p->acked[0] ? out : p->acked[0];
    err = err > p->acked[1] ? err : p->acked[1];
    if (out < p->acked[0] + ACK_STEP && err < p->acked[1] + ACK_STEP) {
        return;
    }
    p->acked[0] = out;
    p->acked[1] = err;
    uint64_t a[2] = {out, err};
    ad_proc_held_send(p, AD_HOLD_ACK, a, sizeof(a));
}

bool ad_proc_held_hold_back(ad_proc_t *p, bool stop)
{
    if (!p->held || p->finished || !p->out.used) {
        return false;
    }
    if (p->starting) { /* read from its start on, or not */
        p->held_back = stop;
        return true;
    }
    if (stop != p->held_back) {
        p->held_back = stop;
        if (stop) {
            uv_read_stop((uv_stream_t *)&p->out.pipe);
        } else {
            uv_read_start((uv_stream_t *)&p->out.pipe, held_alloc, held_read);
        }
    }
    return true;
}

/* ---- from the holder ----------------------------------------------------------- */

static void on_data_frame(ad_proc_t *p, unsigned type, unsigned stream, const unsigned char *pl,
                          uint32_t len)
{
    if (len < 8) {
        return;
    }
    uint64_t off;
    memcpy(&off, pl, 8);
    char *data = (char *)pl + 8;
    size_t n = len - 8;
    if (type == AD_HOLD_SCROLL) {
        if (p->on_data != NULL) {
            p->on_data(p, AD_PROC_STDOUT, data, n, p->ud);
        }
        return;
    }
    ad_rstream_t *rs = stream == 2 ? &p->err : &p->out;
    if (off + n <= rs->pos) {
        return; /* already had it */
    }
    if (off < rs->pos) {
        data += rs->pos - off;
        n -= (size_t)(rs->pos - off);
    } else if (off > rs->pos) {
        ad_log(AD_LOG_WARN, "proc", "held output gap pid=%ld from=%llu to=%llu", (long)p->pid,
               (unsigned long long)rs->pos, (unsigned long long)off);
        p->ex.gap_bytes += off - rs->pos;
        rs->pos = off;
    }
    ad_proc_rstream_input(rs, data, n);
}

static void streams_end(ad_proc_t *p)
{
    for (int i = 0; i < 2; i++) {
        ad_rstream_t *rs = i == 0 ? &p->out : &p->err;
        if (!rs->eof) {
            ad_proc_rstream_flush(rs);
            rs->eof = true;
        }
    }
}

static void on_frame(ad_proc_t *p, const unsigned char *f, uint32_t len)
{
    unsigned type = f[4], stream = f[5];
    const unsigned char *pl = f + AD_HOLD_HDR;
    if (type == AD_HOLD_DATA || type == AD_HOLD_SCROLL) {
        on_data_frame(p, type, stream, pl, len);
    } else if (type == AD_HOLD_EOF) {
        ad_rstream_t *rs = stream == 2 ? &p->err : &p->out;
        ad_proc_rstream_flush(rs);
        rs->eof = true;
    } else if (type == AD_HOLD_STALL || type == AD_HOLD_RESUME) {
        /* The reason as text, bounded and without control bytes. */
        char why[64] = "";
        for (uint32_t i = 0; type == AD_HOLD_STALL && len > 4 && i < len - 4 && i < sizeof(why) - 1;
             i++) {
            unsigned char c = pl[4 + i];
            why[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
            why[i + 1] = '\0';
        }
        if (type == AD_HOLD_STALL) {
            ad_log(AD_LOG_WARN, "proc", "holder stalled, agent output waits pid=%ld reason=\"%s\"",
                   (long)p->pid, why);
        } else {
            ad_log(AD_LOG_INFO, "proc", "holder resumed pid=%ld", (long)p->pid);
        }
        if (p->on_stall != NULL) {
            p->on_stall(p, type == AD_HOLD_STALL, type == AD_HOLD_STALL ? why : NULL, p->ud);
        }
    } else if (type == AD_HOLD_HELLO) {
        /* printable text only, bounded */
        uint32_t n = len < AD_HOLD_VERSION_MAX ? len : AD_HOLD_VERSION_MAX;
        for (uint32_t i = 0; i < n; i++) {
            p->hold_version[i] = pl[i] >= 0x20 && pl[i] < 0x7f ? (char)pl[i] : '?';
        }
        p->hold_version[n] = '\0';
    } else if (type == AD_HOLD_EXIT && len >= 4 && !p->exited) {
        int32_t status;
        memcpy(&status, pl, 4);
        streams_end(p);
        if (status == AD_HOLD_STATUS_UNKNOWN) {
            /* The holder died before the agent's end: the run is lost. */
            p->ex.lost = true;
            ad_proc_record_status(p, 0xff00);
            p->ex.exit_code = -1;
        } else {
            ad_proc_record_status(p, status);
        }
        ad_proc_finish_maybe(p);
    }
}

static void held_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    AD_UNUSED(suggested);
    ad_rstream_t *rs = (ad_rstream_t *)((char *)h - offsetof(ad_rstream_t, pipe));
    buf->base = rs->p->s->rbuf;
    buf->len = sizeof(rs->p->s->rbuf);
}

/* The holder went away without an exit (killed): the run is lost. */
static void holder_gone(ad_proc_t *p)
{
    uv_read_stop((uv_stream_t *)&p->out.pipe);
    if (p->exited) {
        return;
    }
    ad_log(AD_LOG_WARN, "proc", "holder gone before the agent's exit pid=%ld", (long)p->pid);
    streams_end(p);
    p->ex.lost = true;
    p->ex.holder_gone = true;
    ad_proc_record_status(p, 0xff00);
    p->ex.exit_code = -1;
    ad_proc_finish_maybe(p);
}

static void held_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    ad_proc_t *p = st->data;
    if (nread < 0) {
        holder_gone(p);
        return;
    }
    p->s->held_read = true; /* proc.c's pace */
    if (ad_buf_append(&p->hbuf, buf->base, (size_t)nread) != 0) {
        holder_gone(p);
        return;
    }
    size_t at = 0;
    const unsigned char *d = (const unsigned char *)p->hbuf.data;
    while (p->hbuf.len - at >= AD_HOLD_HDR && !p->finished) {
        uint32_t len = ad_hold_len(d + at);
        if (len > AD_HOLD_MAX_PAYLOAD) {
            holder_gone(p);
            return;
        }
        if (p->hbuf.len - at < AD_HOLD_HDR + len) {
            break;
        }
        on_frame(p, d + at, len);
        at += AD_HOLD_HDR + len;
    }
    if (!p->finished) {
        ad_buf_consume(&p->hbuf, at);
    }
}

void ad_proc_held_open(ad_proc_t *p, int fd, const ad_proc_resume_t *at)
{
    p->held = true;
    p->pty = at->pty;
    ad_buf_init(&p->hbuf, AD_HOLD_HDR + AD_HOLD_MAX_PAYLOAD + AD_PROC_RBUF_SIZE);
    ad_buf_init(&p->out.line, p->max_line + sizeof(AD_PROC_TRUNC_MARKER));
    ad_buf_init(&p->err.line, p->max_line + sizeof(AD_PROC_TRUNC_MARKER));
    p->out.p = p->err.p = p;
    p->out.stream = AD_PROC_STDOUT;
    p->err.stream = AD_PROC_STDERR;
    p->out.pos = p->out.line_end = at->out_off;
    p->err.pos = p->err.line_end = at->err_off;
    p->acked[0] = at->out_off;
    p->acked[1] = at->err_off;
    p->err.eof = at->pty;
    uv_pipe_init(p->s->loop, &p->out.pipe, 0);
    p->out.pipe.data = p;
    p->out.used = true;
    p->handles++;
    uv_pipe_open(&p->out.pipe, fd);
    uint64_t a[3] = {at->out_off, at->err_off,
                     at->out_off > SCROLLBACK ? at->out_off - SCROLLBACK : 0};
    ad_proc_held_send(p, AD_HOLD_ATTACH, a, sizeof(a));
}

void ad_proc_held_skip(ad_proc_t *p, uint64_t out_off, uint64_t err_off)
{
    if (p == NULL || !p->held) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        ad_rstream_t *rs = i == 0 ? &p->out : &p->err;
        uint64_t to = i == 0 ? out_off : err_off;
        if (to <= rs->pos) {
            continue;
        }
        ad_log(AD_LOG_INFO, "proc", "held output stored elsewhere up to %llu pid=%ld from=%llu",
               (unsigned long long)to, (long)p->pid, (unsigned long long)rs->pos);
        ad_buf_reset(&rs->line);
        rs->skipping = false;
        rs->pos = rs->line_end = to;
        p->acked[i] = to > p->acked[i] ? to : p->acked[i];
    }
}

void ad_proc_held_start(ad_proc_t *p)
{
    if (!p->held_back) {
        uv_read_start((uv_stream_t *)&p->out.pipe, held_alloc, held_read);
    }
}

void ad_proc_holder_exe(char *exe, size_t n, bool *sub)
{
    char dir[4096];
    if (ad_exe_dir(dir, sizeof(dir)) == 0 && snprintf(exe, n, "%s/agentd-hold", dir) < (int)n &&
        access(exe, X_OK) == 0) {
        *sub = false;
        return;
    }
    snprintf(exe, n, "/proc/self/exe");
    *sub = true;
}

void ad_proc_holder_argv(ad_argv_t *a, const char *exe, bool sub, const char *mode)
{
    ad_argv_add(a, exe);
    if (sub) {
        ad_argv_add(a, "hold");
    }
    ad_argv_add(a, mode);
}

/* ---- taking a holder up again ------------------------------------------------------ */

static int connect_holder(const char *dir, char *err, size_t errsz)
{
    struct sockaddr_un a;
    int dirfd;
    char path[4200];
    snprintf(path, sizeof(path), "%s/s", dir);
    if (ad_unix_addr(path, &a, &dirfd) != 0) {
        snprintf(err, errsz, "holder %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        snprintf(err, errsz, "holder %s/s: %s", dir, strerror(errno));
        close(fd);
        fd = -1;
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    return fd;
}

/* `agentd hold --replay DIR` on one end of a socket pair: the other end,
 * or -1. The replay holder is our child (reaped by the SIGCHLD watcher). */
static int start_replay(const char *dir, pid_t *holder, char *err, size_t errsz)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errsz, "socketpair: %s", strerror(errno));
        return -1;
    }
    char d[4200], exe[4200];
    snprintf(d, sizeof(d), "%s", dir);
    bool sub;
    ad_proc_holder_exe(exe, sizeof(exe), &sub);
    char *argv_sub[] = {"agentd", "hold", "--replay", d, NULL};
    char *argv_own[] = {"agentd-hold", "--replay", d, NULL};
    char *env[] = {NULL};
    /* posix_spawn, not fork: agentd's memory shared until the exec, not its
     * page tables copied (core/child.h). Its own session, the socket as fd 3
     * and nothing else of ours; every signal blocked, as the holder sets its
     * own mask first. */
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t all;
    sigfillset(&all);
    pid_t h = -1;
    int rc = posix_spawnattr_init(&attr);
    if (rc == 0 && (rc = posix_spawn_file_actions_init(&fa)) != 0) {
        posix_spawnattr_destroy(&attr);
    }
    if (rc == 0) {
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF);
        rc = rc ? rc : posix_spawnattr_setsigmask(&attr, &all);
        rc = rc ? rc : posix_spawnattr_setsigdefault(&attr, &all);
        rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
        rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&fa, 4);
        rc = rc ? rc : posix_spawn(&h, exe, &fa, &attr, sub ? argv_sub : argv_own, env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
    }
    close(sv[1]);
    if (rc != 0) {
        snprintf(err, errsz, "cannot start the replay holder: %s", strerror(rc));
        close(sv[0]);
        return -1;
    }
    *holder = h;
    return sv[0];
}

int ad_proc_holder_connect(const char *dir, bool replay, pid_t *replay_pid, char *err, size_t errsz)
{
    *replay_pid = 0;
    return replay ? start_replay(dir, replay_pid, err, errsz) : connect_holder(dir, err, errsz);
}

int ad_proc_attach_fd(ad_procs_t *s, const ad_proc_opts_t *o, const ad_proc_resume_t *at, int fd,
                      ad_proc_t **out)
{
    if (s->shutting_down || s->freeing) {
        close(fd);
        return AD_ESTATE;
    }
    ad_proc_t *p = ad_proc_alloc(s, o, at->agent, "");
    p->remote = true;
    ad_proc_held_open(p, fd, at);
    ad_proc_held_start(p);
    ad_proc_link(s, p);
    *out = p;
    return 0;
}

bool ad_proc_remote(const ad_proc_t *p)
{
    return p->remote;
}

int ad_proc_attach(ad_procs_t *s, const ad_proc_opts_t *o, const ad_proc_resume_t *at,
                   ad_proc_t **out, char *err, size_t errsz)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    err[0] = '\0';
    if (s->shutting_down || s->freeing || o->hold_dir == NULL) {
        snprintf(err, errsz, "shutting down");
        return AD_ESTATE;
    }
    pid_t holder = 0;
    int fd = at->replay ? start_replay(o->hold_dir, &holder, err, errsz)
                        : connect_holder(o->hold_dir, err, errsz);
    if (fd < 0) {
        return AD_ECLOSED;
    }
    /* The tree's cgroup: where this daemon makes them, else where its
     * agent is, when that is the run's cgroup of another agentd here (a
     * takeover) or of an older version's layout. */
    char cgroup[4200] = "";
    struct stat st;
    if (s->cg.ok && o->cgroup_name != NULL &&
        (snprintf(cgroup, sizeof(cgroup), "%s/%s", s->cg.root, o->cgroup_name) >=
             (int)sizeof(cgroup) ||
         stat(cgroup, &st) != 0) &&
        ad_cgroup_of_pid(&s->cg, at->agent, o->cgroup_name, cgroup, sizeof(cgroup)) != 0) {
        cgroup[0] = '\0'; /* gone, or never made */
    }
    ad_proc_t *p = ad_proc_alloc(s, o, at->agent, s->cg.ok ? cgroup : "");
    ad_hold_info_t info;
    if (holder == 0 && at->holder > 0) {
        holder = at->holder; /* a previous daemon's: for `agentd version` */
    } else if (holder == 0 && ad_hold_info_read(o->hold_dir, &info) == 0) {
        holder = info.pid;
    }
    p->hold_pid = holder;
    ad_proc_held_open(p, fd, at);
    ad_proc_held_start(p);
    ad_proc_link(s, p);
    *out = p;
    ad_log(AD_LOG_INFO, "proc", "attached held process pid=%ld replay=%d out=%llu err=%llu",
           (long)at->agent, at->replay, (unsigned long long)at->out_off,
           (unsigned long long)at->err_off);
    return 0;
}

pid_t ad_proc_holder_pid(const ad_proc_t *p)
{
    return p->hold_pid;
}

const char *ad_proc_holder_version(const ad_proc_t *p)
{
    return p->hold_version;
}
