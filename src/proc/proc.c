/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor: spawn (fork/exec in a new session, pipes or a
 * pty), capped line splitting, the stdin queue, stop escalation, reaping
 * through a SIGCHLD watcher, and the close ordering that reports an exit
 * only after the output has ended. The environment and executable lookup
 * live in env.c.
 *
 * Why our own fork/exec instead of uv_spawn: a pty child needs the slave as
 * its controlling terminal (setsid + TIOCSCTTY between fork and exec), which
 * uv_spawn cannot do. Using the same path for pipes keeps one way to reap
 * (waitpid on our own pids from a SIGCHLD uv_signal; libuv only waits for
 * the pids it spawned itself, so neither steals the other's children), one
 * way to signal groups, and lets the child close every inherited descriptor
 * (close_range), which uv_spawn does not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc.h"
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define RBUF_SIZE 65536
#define SHRINK_ABOVE 65536
#define DEF_GRACE_MS 5000
#define DEF_DRAIN_MS 2000
#define DEF_MAX_LINE (8u << 20)
#define DEF_MAX_STDIN (4u << 20)

typedef struct {
    uv_pipe_t pipe;
    ad_proc_t *p;
    ad_proc_stream_t stream;
    bool used;     /* the handle was initialized */
    bool eof;      /* no more output will come */
    bool skipping; /* dropping the rest of a line cut at the cap */
    ad_buf_t line;
    char rbuf[RBUF_SIZE];
} rstream_t;

typedef struct {
    uv_write_t req;
    ad_proc_t *p;
    size_t len;
    char data[];
} wreq_t;

struct ad_proc {
    ad_procs_t *s;
    ad_proc_t *next, *prev;
    pid_t pid;
    bool pty;
    rstream_t out, err;
    uv_pipe_t in; /* pipe mode only; in pty mode stdin is out.pipe */
    bool in_used, in_closed, in_close_pending;
    size_t in_queued;
    uv_timer_t stop_timer, drain_timer;
    int stage; /* 0 running, 1 polite step done, 2 SIGTERM sent, 3 SIGKILL sent */
    bool paused, exited, finished;
    int handles; /* initialized handles not yet closed */
    ad_proc_exit_t ex;
    /* from the options */
    ad_proc_polite_t polite;
    uint64_t term_grace_ms, kill_grace_ms, drain_ms;
    size_t max_line, max_stdin;
    ad_proc_line_cb on_line;
    ad_proc_data_cb on_data;
    ad_proc_exit_cb on_exit;
    void *ud;
};

struct ad_procs {
    uv_loop_t *loop;
    uv_signal_t sigchld;
    ad_proc_t *head;
    size_t live;     /* exit callback not run yet */
    size_t unreaped; /* not waited for yet */
    size_t mem;      /* ad_proc_t not freed yet */
    bool shutting_down, freeing, sig_closed;
    void (*done)(void *);
    void *done_ud;
};

static void finish_maybe(ad_proc_t *p);
static void on_drain(uv_timer_t *t);

/* ---- supervisor ---------------------------------------------------------- */

static void procs_free_maybe(ad_procs_t *s)
{
    if (s->freeing && s->sig_closed && s->mem == 0) {
        free(s);
    }
}

static void sync_ref(ad_procs_t *s)
{
    /* A child that closed its output but still runs has no other handle
     * keeping the loop alive, so the watcher holds it while any child is
     * unreaped, and otherwise lets the loop end. */
    if (s->unreaped > 0 && !s->freeing) {
        uv_ref((uv_handle_t *)&s->sigchld);
    } else {
        uv_unref((uv_handle_t *)&s->sigchld);
    }
}

static void record_status(ad_proc_t *p, int status)
{
    p->exited = true;
    p->s->unreaped--;
    if (WIFEXITED(status)) {
        p->ex.exit_code = WEXITSTATUS(status);
        p->ex.term_signal = 0;
    } else if (WIFSIGNALED(status)) {
        p->ex.exit_code = -1;
        p->ex.term_signal = WTERMSIG(status);
    } else {
        p->ex.exit_code = -1;
        p->ex.term_signal = 0;
    }
    uv_timer_stop(&p->stop_timer);
    if (p->ex.stop_requested) {
        /* A stop means the whole group goes: members that outlived their
         * leader (ignoring SIGTERM, say) get SIGKILL now. */
        kill(-p->pid, SIGKILL);
    }
    ad_log(AD_LOG_DEBUG, "proc", "exited pid=%ld code=%d signal=%d", (long)p->pid, p->ex.exit_code,
           p->ex.term_signal);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    ad_procs_t *s = h->data;
    ad_proc_t *next;
    for (ad_proc_t *p = s->head; p != NULL; p = next) {
        next = p->next;
        if (p->exited) {
            continue;
        }
        int status = 0;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            record_status(p, status);
            finish_maybe(p);
        } else if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it: report it rather than wait forever. */
            ad_log(AD_LOG_ERROR, "proc", "child vanished pid=%ld", (long)p->pid);
            p->ex.lost = true;
            record_status(p, 0xff00);
            p->ex.exit_code = -1;
            finish_maybe(p);
        }
    }
    sync_ref(s);
}

ad_procs_t *ad_procs_new(uv_loop_t *loop)
{
    ad_procs_t *s = ad_xcalloc(1, sizeof(*s));
    s->loop = loop;
    uv_signal_init(loop, &s->sigchld);
    s->sigchld.data = s;
    uv_signal_start(&s->sigchld, on_sigchld, SIGCHLD);
    uv_unref((uv_handle_t *)&s->sigchld);
    return s;
}

size_t ad_procs_count(const ad_procs_t *s)
{
    return s->live;
}

/* ---- close ordering ------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
    ad_proc_t *p = h->data;
    if (--p->handles > 0) {
        return;
    }
    ad_procs_t *s = p->s;
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        s->head = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    ad_buf_cleanup(&p->out.line);
    ad_buf_cleanup(&p->err.line);
    free(p);
    s->mem--;
    procs_free_maybe(s);
}

static void close_handle(ad_proc_t *p, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, on_handle_closed);
    }
}

static void close_all(ad_proc_t *p)
{
    if (p->out.used) {
        close_handle(p, (uv_handle_t *)&p->out.pipe);
    }
    if (p->err.used) {
        close_handle(p, (uv_handle_t *)&p->err.pipe);
    }
    if (p->in_used) {
        close_handle(p, (uv_handle_t *)&p->in);
    }
    close_handle(p, (uv_handle_t *)&p->stop_timer);
    close_handle(p, (uv_handle_t *)&p->drain_timer);
}

static bool output_done(const ad_proc_t *p)
{
    return (!p->out.used || p->out.eof) && (!p->err.used || p->err.eof);
}

static void finish_maybe(ad_proc_t *p)
{
    if (p->finished || !p->exited) {
        return;
    }
    if (!output_done(p)) {
        if (!uv_is_active((uv_handle_t *)&p->drain_timer)) {
            uv_timer_start(&p->drain_timer, on_drain, p->drain_ms, 0);
        }
        return;
    }
    p->finished = true;
    ad_procs_t *s = p->s;
    s->live--;
    uv_timer_stop(&p->drain_timer);
    uv_timer_stop(&p->stop_timer);
    if (p->on_exit != NULL) {
        p->on_exit(p, &p->ex, p->ud);
    }
    close_all(p);
    if (s->shutting_down && s->live == 0 && s->done != NULL) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_ud);
    }
}

/* ---- output -------------------------------------------------------------- */

static void deliver(rstream_t *rs, char *line, size_t len, bool truncated)
{
    if (!truncated && len > 0 && line[len - 1] == '\r') {
        line[--len] = '\0';
    }
    ad_proc_t *p = rs->p;
    p->on_line(p, rs->stream, line, len, truncated, p->ud);
}

static void deliver_buffered(rstream_t *rs, bool truncated)
{
    if (truncated) {
        ad_buf_puts(&rs->line, AD_PROC_TRUNC_MARKER); /* room reserved by max */
    }
    deliver(rs, rs->line.data != NULL ? rs->line.data : (char *)"", rs->line.len, truncated);
    if (rs->line.cap > SHRINK_ABOVE) {
        ad_buf_cleanup(&rs->line); /* one huge line must not pin its memory */
    } else {
        ad_buf_reset(&rs->line);
    }
}

/* Splits data (our own read buffer, so it may be written) into lines.
 * A line that fits in one read is delivered in place, without a copy. */
static void split_lines(rstream_t *rs, char *data, size_t n)
{
    size_t cap = rs->p->max_line;
    while (n > 0) {
        char *nl = memchr(data, '\n', n);
        size_t seg = nl != NULL ? (size_t)(nl - data) : n;
        size_t adv = nl != NULL ? seg + 1 : seg;
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
                ad_buf_append(&rs->line, data, room);
                deliver_buffered(rs, true);
                rs->skipping = nl == NULL;
            } else {
                ad_buf_append(&rs->line, data, seg);
                if (nl != NULL) {
                    deliver_buffered(rs, false);
                }
            }
        }
        data += adv;
        n -= adv;
    }
}

static void stream_eof(rstream_t *rs)
{
    if (rs->eof) {
        return;
    }
    rs->eof = true;
    ad_proc_t *p = rs->p;
    if (p->on_line != NULL && !rs->skipping && rs->line.len > 0) {
        deliver_buffered(rs, false);
    }
    uv_read_stop((uv_stream_t *)&rs->pipe);
    if (p->pty) {
        p->in_closed = true; /* the master is stdin too */
    }
    close_handle(p, (uv_handle_t *)&rs->pipe);
    finish_maybe(p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rstream_t *rs = (rstream_t *)((char *)h - offsetof(rstream_t, pipe));
    buf->base = rs->rbuf;
    buf->len = sizeof(rs->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    rstream_t *rs = (rstream_t *)((char *)st - offsetof(rstream_t, pipe));
    ad_proc_t *p = rs->p;
    if (nread > 0) {
        if (p->on_data != NULL) {
            p->on_data(p, rs->stream, buf->base, (size_t)nread, p->ud);
        }
        if (p->on_line != NULL) {
            split_lines(rs, buf->base, (size_t)nread);
        }
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

static void on_drain(uv_timer_t *t)
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
        close_handle(p, (uv_handle_t *)&p->in);
    }
}

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
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
    wreq_t *w = ad_xmalloc(sizeof(*w) + len);
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
    return queue_write(p, data, len);
}

void ad_proc_close_stdin(ad_proc_t *p)
{
    if (p->in_closed || p->in_close_pending || p->finished) {
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

/* ---- signals and stop ------------------------------------------------------ */

int ad_proc_signal(ad_proc_t *p, int signum)
{
    if (p->exited) {
        return AD_ESTATE;
    }
    if (kill(-p->pid, signum) != 0) {
        return errno == EPERM ? AD_EPERM : AD_ESTATE;
    }
    return 0;
}

static void on_stop_timer(uv_timer_t *t)
{
    ad_proc_t *p = t->data;
    if (p->exited) {
        return;
    }
    if (p->stage < 2) {
        p->stage = 2;
        ad_log(AD_LOG_INFO, "proc", "grace over, sending SIGTERM pid=%ld", (long)p->pid);
        kill(-p->pid, SIGTERM);
        kill(-p->pid, SIGCONT);
        uv_timer_start(&p->stop_timer, on_stop_timer, p->kill_grace_ms, 0);
    } else if (p->stage < 3) {
        p->stage = 3;
        p->ex.forced = true;
        ad_log(AD_LOG_INFO, "proc", "grace over, sending SIGKILL pid=%ld", (long)p->pid);
        kill(-p->pid, SIGKILL);
    }
}

int ad_proc_stop(ad_proc_t *p, bool force)
{
    if (p->exited) {
        return AD_ESTATE;
    }
    p->ex.stop_requested = true;
    if (force) {
        if (p->stage < 3) {
            p->stage = 3;
            p->ex.forced = true;
            uv_timer_stop(&p->stop_timer);
            kill(-p->pid, SIGKILL);
        }
        return 0;
    }
    if (p->stage > 0) {
        return 0; /* already on its way */
    }
    p->stage = 1;
    switch (p->polite) {
    case AD_PROC_POLITE_CLOSE_STDIN:
        ad_proc_close_stdin(p);
        break;
    case AD_PROC_POLITE_SIGINT:
        kill(-p->pid, SIGINT);
        break;
    case AD_PROC_POLITE_SIGINT_CLOSE:
        /* The turn in progress ends with a result; no more input ends the
         * process (reference A.7 and E.6). */
        kill(-p->pid, SIGINT);
        ad_proc_close_stdin(p);
        break;
    case AD_PROC_POLITE_NONE:
        on_stop_timer(&p->stop_timer); /* SIGTERM now */
        return 0;
    }
    if (p->paused) {
        kill(-p->pid, SIGCONT); /* a stopped group cannot act on the request */
        p->paused = false;
    }
    uv_timer_start(&p->stop_timer, on_stop_timer, p->term_grace_ms, 0);
    return 0;
}

int ad_proc_pause(ad_proc_t *p)
{
    if (p->exited || p->paused || p->stage > 0) {
        return AD_ESTATE;
    }
    int rc = ad_proc_signal(p, SIGSTOP);
    if (rc == 0) {
        p->paused = true;
    }
    return rc;
}

int ad_proc_resume(ad_proc_t *p)
{
    if (p->exited || !p->paused) {
        return AD_ESTATE;
    }
    int rc = ad_proc_signal(p, SIGCONT);
    if (rc == 0) {
        p->paused = false;
    }
    return rc;
}

pid_t ad_proc_pid(const ad_proc_t *p)
{
    return p->pid;
}
bool ad_proc_is_pty(const ad_proc_t *p)
{
    return p->pty;
}
bool ad_proc_paused(const ad_proc_t *p)
{
    return p->paused;
}
bool ad_proc_alive(const ad_proc_t *p)
{
    return !p->exited;
}

/* ---- shutdown and free ------------------------------------------------------ */

void ad_procs_shutdown(ad_procs_t *s, uint64_t grace_ms, void (*done)(void *ud), void *ud)
{
    s->shutting_down = true;
    s->done = done;
    s->done_ud = ud;
    if (s->live == 0) {
        s->done = NULL;
        if (done != NULL) {
            done(ud);
        }
        return;
    }
    uint64_t half = grace_ms / 2;
    ad_log(AD_LOG_INFO, "proc", "stopping processes count=%zu grace_ms=%llu", s->live,
           (unsigned long long)grace_ms);
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (p->exited) {
            continue;
        }
        if (p->term_grace_ms > half) {
            p->term_grace_ms = half;
        }
        p->kill_grace_ms = grace_ms - p->term_grace_ms;
        if (p->stage == 0) {
            ad_proc_stop(p, grace_ms == 0);
        } else if (p->stage == 1 && uv_is_active((uv_handle_t *)&p->stop_timer)) {
            uv_timer_start(&p->stop_timer, on_stop_timer, p->term_grace_ms, 0);
        } else if (p->stage == 2 && uv_is_active((uv_handle_t *)&p->stop_timer)) {
            uv_timer_start(&p->stop_timer, on_stop_timer, p->kill_grace_ms, 0);
        }
    }
}

static void on_sig_closed(uv_handle_t *h)
{
    ad_procs_t *s = h->data;
    s->sig_closed = true;
    procs_free_maybe(s);
}

void ad_procs_free(ad_procs_t *s)
{
    if (s == NULL) {
        return;
    }
    s->freeing = true;
    for (ad_proc_t *p = s->head; p != NULL; p = p->next) {
        if (!p->exited) {
            kill(-p->pid, SIGKILL);
            int status = 0;
            pid_t r;
            do {
                r = waitpid(p->pid, &status, 0);
            } while (r < 0 && errno == EINTR);
            record_status(p, r == p->pid ? status : 0xff00);
        }
        if (!p->finished) {
            p->finished = true;
            s->live--;
            close_all(p);
        }
    }
    uv_close((uv_handle_t *)&s->sigchld, on_sig_closed);
}

/* ---- spawn ------------------------------------------------------------------- */

static int fd_above_2(int fd)
{
    if (fd > 2) {
        return fd;
    }
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static int cloexec_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return -1;
    }
    fds[0] = fd_above_2(fds[0]);
    fds[1] = fd_above_2(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        if (fds[0] >= 0) {
            close(fds[0]);
        }
        if (fds[1] >= 0) {
            close(fds[1]);
        }
        return -1;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(const char *file, char *const argv[], char *const envp[],
                                 const char *cwd, bool pty, int fd_in, int fd_out, int fd_err,
                                 int errfd)
{
    int e = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int i = 1; i < NSIG; i++) {
        if (i != SIGKILL && i != SIGSTOP) {
            sigaction(i, &sa, NULL); /* agentd ignores SIGPIPE; agents must not */
        }
    }
    if (setsid() < 0) {
        goto fail;
    }
    if (pty && ioctl(fd_out, TIOCSCTTY, 0) != 0) {
        goto fail;
    }
    if (dup2(fd_in, 0) < 0 || dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0) {
        goto fail;
    }
    if (cwd != NULL && chdir(cwd) != 0) {
        goto fail;
    }
    /* Nothing of agentd's (sockets, the database) may reach the agent. */
    if (syscall(SYS_close_range, 3u, (unsigned)errfd - 1, 0u) != 0 ||
        syscall(SYS_close_range, (unsigned)errfd + 1, ~0u, 0u) != 0) {
        for (int fd = 3; fd < 65536; fd++) {
            if (fd != errfd) {
                close(fd);
            }
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(file, argv, envp);
fail:
    e = errno;
    ssize_t wr = write(errfd, &e, sizeof(e));
    (void)wr;
    _exit(127);
}

static void init_rstream(ad_proc_t *p, rstream_t *rs, ad_proc_stream_t stream, int fd)
{
    rs->p = p;
    rs->stream = stream;
    ad_buf_init(&rs->line, p->max_line + sizeof(AD_PROC_TRUNC_MARKER));
    uv_pipe_init(p->s->loop, &rs->pipe, 0);
    rs->pipe.data = p;
    rs->used = true;
    p->handles++;
    uv_pipe_open(&rs->pipe, fd);
    uv_read_start((uv_stream_t *)&rs->pipe, on_alloc, on_read);
}

static int errno_to_ad(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return AD_ENOENT;
    case EACCES:
    case EPERM:
    case ENOEXEC:
        return AD_EPERM;
    case E2BIG:
    case ENAMETOOLONG:
        return AD_ETOOBIG;
    default:
        return AD_EIO;
    }
}

int ad_proc_spawn(ad_procs_t *s, const ad_proc_opts_t *o, ad_proc_t **out, char *err, size_t errsz)
{
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    err[0] = '\0';
    int rc = 0;
    char **envp = NULL;
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, pex[2] = {-1, -1};
    int master = -1, slave = -1;
    char file[4096];

    if (s->shutting_down || s->freeing) {
        snprintf(err, errsz, "shutting down");
        return AD_ESTATE;
    }
    if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0') {
        snprintf(err, errsz, "empty command");
        return AD_EINVAL;
    }
    rc = ad_proc_env_build(o->env, o->pty, &envp, err, errsz);
    if (rc < 0) {
        return rc;
    }
    if (o->cwd != NULL) {
        struct stat st;
        if (stat(o->cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errsz, "working directory %s: %s", o->cwd,
                     stat(o->cwd, &st) != 0 ? strerror(errno) : "not a directory");
            rc = AD_ENOENT;
            goto out;
        }
    }
    rc = ad_proc_which_in(o->argv[0], ad_proc_env_get(envp, "PATH"), o->cwd, file, sizeof(file));
    if (rc < 0) {
        snprintf(err, errsz, "%s: %s", o->argv[0],
                 rc == AD_EPERM ? "permission denied" : "command not found");
        goto out;
    }

    if (o->pty) {
        struct winsize ws = {.ws_row = o->rows ? o->rows : 24, .ws_col = o->cols ? o->cols : 80};
        if (openpty(&master, &slave, NULL, NULL, &ws) != 0) {
            snprintf(err, errsz, "openpty: %s", strerror(errno));
            rc = AD_EIO;
            goto out;
        }
        master = fd_above_2(master);
        slave = fd_above_2(slave);
        if (master < 0 || slave < 0 || fcntl(master, F_SETFD, FD_CLOEXEC) != 0 ||
            fcntl(slave, F_SETFD, FD_CLOEXEC) != 0) {
            snprintf(err, errsz, "pty setup: %s", strerror(errno));
            rc = AD_EIO;
            goto out;
        }
    } else if (cloexec_pipe(pin) != 0 || cloexec_pipe(pout) != 0 || cloexec_pipe(perr) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        rc = AD_EIO;
        goto out;
    }
    if (cloexec_pipe(pex) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        rc = AD_EIO;
        goto out;
    }

    /* No signal handler may run in the child before exec resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        if (o->pty) {
            child_exec(file, (char *const *)o->argv, envp, o->cwd, true, slave, slave, slave,
                       pex[1]);
        }
        child_exec(file, (char *const *)o->argv, envp, o->cwd, false, pin[0], pout[1], perr[1],
                   pex[1]);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(fork_errno));
        rc = AD_EIO;
        goto out;
    }
    close_fd(&pex[1]);
    close_fd(&slave);
    close_fd(&pin[0]);
    close_fd(&pout[1]);
    close_fd(&perr[1]);

    /* Wait for exec: the pipe closes on success or carries errno. */
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(pex[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close_fd(&pex[0]);
    if (n == (ssize_t)sizeof(child_errno)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        snprintf(err, errsz, "%s: %s", o->argv[0], strerror(child_errno));
        rc = errno_to_ad(child_errno);
        goto out;
    }

    ad_proc_t *p = ad_xcalloc(1, sizeof(*p));
    p->s = s;
    p->pid = pid;
    p->pty = o->pty;
    p->ex.pid = pid;
    p->polite = o->polite;
    p->term_grace_ms = o->term_grace_ms ? o->term_grace_ms : DEF_GRACE_MS;
    p->kill_grace_ms = o->kill_grace_ms ? o->kill_grace_ms : DEF_GRACE_MS;
    p->drain_ms = o->drain_ms ? o->drain_ms : DEF_DRAIN_MS;
    p->max_line = o->max_line_bytes ? o->max_line_bytes : DEF_MAX_LINE;
    p->max_stdin = o->max_stdin_bytes ? o->max_stdin_bytes : DEF_MAX_STDIN;
    p->on_line = o->on_line;
    p->on_data = o->on_data;
    p->on_exit = o->on_exit;
    p->ud = o->ud;
    uv_timer_init(s->loop, &p->stop_timer);
    uv_timer_init(s->loop, &p->drain_timer);
    p->stop_timer.data = p;
    p->drain_timer.data = p;
    p->handles = 2;
    if (o->pty) {
        init_rstream(p, &p->out, AD_PROC_STDOUT, master);
        master = -1;
    } else {
        uv_pipe_init(s->loop, &p->in, 0);
        p->in.data = p;
        p->in_used = true;
        p->handles++;
        uv_pipe_open(&p->in, pin[1]);
        pin[1] = -1;
        init_rstream(p, &p->out, AD_PROC_STDOUT, pout[0]);
        pout[0] = -1;
        init_rstream(p, &p->err, AD_PROC_STDERR, perr[0]);
        perr[0] = -1;
    }
    p->next = s->head;
    if (s->head != NULL) {
        s->head->prev = p;
    }
    s->head = p;
    s->live++;
    s->unreaped++;
    s->mem++;
    sync_ref(s);
    ad_log(AD_LOG_DEBUG, "proc", "spawned pid=%ld file=%s pty=%d", (long)pid, file, o->pty);
    *out = p;
    rc = 0;
out:
    close_fd(&master);
    close_fd(&slave);
    close_fd(&pin[0]);
    close_fd(&pin[1]);
    close_fd(&pout[0]);
    close_fd(&pout[1]);
    close_fd(&perr[0]);
    close_fd(&perr[1]);
    close_fd(&pex[0]);
    close_fd(&pex[1]);
    ad_proc_env_free(envp);
    return rc;
}
