/* SPDX-License-Identifier: MIT */
/*
 * Spawning: fork/exec in a new session, with pipes or a pty as the
 * controlling terminal, every inherited descriptor closed in the child,
 * and exec failures reported back through a close-on-exec pipe.
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
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

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
/* What the child execs: the agent, or bwrap around it (sandboxed: exec'd
 * with SIGINT and SIGTERM ignored, see sandbox.c). */
typedef struct {
    const char *file;
    char *const *argv;
    bool sandboxed;
} exec_t;

static _Noreturn void child_exec(const exec_t *x, char *const envp[], const char *cwd, bool pty,
                                 int fd_in, int fd_out, int fd_err, int errfd, int cgfd)
{
    int e = 0;
    /* Into the tree's cgroup before anything else, so every descendant is
     * born inside it. If the kernel refuses, the process group still
     * contains it (less well); running beats failing here. */
    if (cgfd >= 0) {
        ssize_t w = write(cgfd, "0", 1);
        (void)w;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int i = 1; i < NSIG; i++) {
        if (i != SIGKILL && i != SIGSTOP) {
            sigaction(i, &sa, NULL); /* agentd ignores SIGPIPE; agents must not */
        }
    }
    if (x->sandboxed) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
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
    execve(x->file, x->argv, envp);
fail:
    e = errno;
    ssize_t wr = write(errfd, &e, sizeof(e));
    (void)wr;
    _exit(127);
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

/* The descriptors of one spawn: pipes or a pty, and the exec report pipe.
 * -1 where closed or handed over. */
typedef struct {
    int in[2], out[2], err[2], ex[2];
    int master, slave;
    int cg;    /* the tree's cgroup.procs, or -1 */
    int hs[2]; /* held: the socket pair to the holder */
    int pp[2]; /* held: the agent's pid, from the holder */
} fds_t;

static void fds_close(fds_t *f)
{
    int *all[] = {&f->in[0],  &f->in[1], &f->out[0], &f->out[1], &f->err[0],
                  &f->err[1], &f->ex[0], &f->ex[1],  &f->master, &f->slave,
                  &f->cg,     &f->hs[0], &f->hs[1],  &f->pp[0],  &f->pp[1]};
    for (size_t i = 0; i < AD_ARRAY_LEN(all); i++) {
        close_fd(all[i]);
    }
}

/* The child's environment, working directory and program, checked before
 * anything is forked. */
static int prepare(const ad_proc_opts_t *o, char ***envp, char *file, size_t filesz, char *err,
                   size_t errsz)
{
    int rc = ad_proc_env_build(o->env, o->pty, envp, err, errsz);
    if (rc < 0) {
        return rc;
    }
    if (o->cwd != NULL) {
        struct stat st;
        if (stat(o->cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errsz, "working directory %s: %s", o->cwd,
                     stat(o->cwd, &st) != 0 ? strerror(errno) : "not a directory");
            return AD_ENOENT;
        }
    }
    rc = ad_path_which_in(o->argv[0], ad_proc_env_get(*envp, "PATH"), o->cwd, file, filesz);
    if (rc < 0) {
        snprintf(err, errsz, "%s: %s", o->argv[0],
                 rc == AD_EPERM ? "permission denied" : "command not found");
    }
    return rc;
}

static int open_fds(const ad_proc_opts_t *o, fds_t *f, char *err, size_t errsz)
{
    if (o->pty) {
        struct winsize ws = {.ws_row = o->rows ? o->rows : 24, .ws_col = o->cols ? o->cols : 80};
        if (openpty(&f->master, &f->slave, NULL, NULL, &ws) != 0) {
            snprintf(err, errsz, "openpty: %s", strerror(errno));
            return AD_EIO;
        }
        f->master = fd_above_2(f->master);
        f->slave = fd_above_2(f->slave);
        if (f->master < 0 || f->slave < 0 || fcntl(f->master, F_SETFD, FD_CLOEXEC) != 0 ||
            fcntl(f->slave, F_SETFD, FD_CLOEXEC) != 0) {
            snprintf(err, errsz, "pty setup: %s", strerror(errno));
            return AD_EIO;
        }
    } else if (cloexec_pipe(f->in) != 0 || cloexec_pipe(f->out) != 0 || cloexec_pipe(f->err) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        return AD_EIO;
    }
    if (cloexec_pipe(f->ex) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        return AD_EIO;
    }
    return 0;
}

/* After the fork: the child's ends closed, then the exec report read: 0
 * once the agent has exec'd, else its errno as AD_E* (and `waited`, the
 * child whose exec failed, reaped). */
static int exec_report(const ad_proc_opts_t *o, fds_t *f, pid_t waited, char *err, size_t errsz)
{
    int *child_ends[] = {&f->ex[1],  &f->slave, &f->in[0], &f->out[1],
                         &f->err[1], &f->hs[1], &f->pp[1]};
    for (size_t i = 0; i < AD_ARRAY_LEN(child_ends); i++) {
        close_fd(child_ends[i]);
    }
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(f->ex[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close_fd(&f->ex[0]);
    if (n == (ssize_t)sizeof(child_errno)) {
        if (o->hold_dir != NULL) {
            kill(waited, SIGKILL); /* the holder of an agent that never ran */
        }
        int status;
        while (waitpid(waited, &status, 0) < 0 && errno == EINTR) {
        }
        snprintf(err, errsz, "%s: %s", o->argv[0], strerror(child_errno));
        return errno_to_ad(child_errno);
    }
    return 0;
}

/* Forks and execs; returns once the exec happened (the report pipe closed)
 * or failed (it carried the child's errno, and the child is reaped). */
static int fork_exec(const ad_proc_opts_t *o, const exec_t *x, char **envp, fds_t *f,
                     pid_t *pid_out, char *err, size_t errsz)
{
    /* No signal handler may run in the child before exec resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        if (o->pty) {
            child_exec(x, envp, o->cwd, true, f->slave, f->slave, f->slave, f->ex[1], f->cg);
        }
        child_exec(x, envp, o->cwd, false, f->in[0], f->out[1], f->err[1], f->ex[1], f->cg);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(fork_errno));
        return AD_EIO;
    }
    *pid_out = pid;
    return exec_report(o, f, pid, err, errsz);
}

ad_proc_t *ad_proc_alloc(ad_procs_t *s, const ad_proc_opts_t *o, pid_t pid, const char *cgroup)
{
    ad_proc_t *p = ad_xcalloc(1, sizeof(*p));
    p->s = s;
    snprintf(p->cgroup, sizeof(p->cgroup), "%s", cgroup);
    p->pid = pid;
    p->pty = o->pty;
    p->ex.pid = pid;
    p->polite = o->polite;
    p->term_grace_ms = o->term_grace_ms ? o->term_grace_ms : AD_PROC_DEF_GRACE_MS;
    p->kill_grace_ms = o->kill_grace_ms ? o->kill_grace_ms : AD_PROC_DEF_GRACE_MS;
    p->drain_ms = o->drain_ms ? o->drain_ms : AD_PROC_DEF_DRAIN_MS;
    p->max_line = o->max_line_bytes ? o->max_line_bytes : AD_PROC_DEF_MAX_LINE;
    p->max_stdin = o->max_stdin_bytes ? o->max_stdin_bytes : AD_PROC_DEF_MAX_STDIN;
    p->on_line = o->on_line;
    p->on_data = o->on_data;
    p->on_stall = o->on_stall;
    p->on_exit = o->on_exit;
    p->ud = o->ud;
    uv_timer_init(s->loop, &p->stop_timer);
    uv_timer_init(s->loop, &p->drain_timer);
    p->stop_timer.data = p;
    p->drain_timer.data = p;
    p->handles = 2;
    return p;
}

void ad_proc_link(ad_procs_t *s, ad_proc_t *p)
{
    p->next = s->head;
    if (s->head != NULL) {
        s->head->prev = p;
    }
    s->head = p;
    s->live++;
    s->unreaped++;
    s->mem++;
    ad_procs_sync_ref(s);
}

/* The supervised process for a child that has exec'd: its handles take
 * the parent's ends of f. */
static ad_proc_t *proc_new(ad_procs_t *s, const ad_proc_opts_t *o, pid_t pid, fds_t *f,
                           const char *cgroup)
{
    ad_proc_t *p = ad_proc_alloc(s, o, pid, cgroup);
    if (o->pty) {
        ad_proc_rstream_open(p, &p->out, AD_PROC_STDOUT, f->master);
        f->master = -1;
    } else {
        uv_pipe_init(s->loop, &p->in, 0);
        p->in.data = p;
        p->in_used = true;
        p->handles++;
        uv_pipe_open(&p->in, f->in[1]);
        f->in[1] = -1;
        ad_proc_rstream_open(p, &p->out, AD_PROC_STDOUT, f->out[0]);
        f->out[0] = -1;
        ad_proc_rstream_open(p, &p->err, AD_PROC_STDERR, f->err[0]);
        f->err[0] = -1;
    }
    ad_proc_link(s, p);
    return p;
}

/* ---- under a holder ------------------------------------------------------------ */

/* `agentd hold DIR PID PTY WAIT`; PID is written by the holder's fork. */
typedef struct {
    char *argv[7];
    char exe[4200], dir[4200], pid[24], pty[2], wait[24];
} hold_argv_t;

static void utoa(char *out, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (int i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
}

/* Runs in the holder between its fork and exec: async-signal-safe calls
 * only. It leaves agentd's session (a terminal's ^C or agentd's end must
 * not reach it), becomes the subreaper of the agent's tree, forks the
 * agent, says its pid, and execs agentd's own binary as `agentd hold`
 * with its ends on fds 3-6 and nothing else open. */
static _Noreturn void holder_exec(const ad_proc_opts_t *o, const exec_t *x, char **envp, fds_t *f,
                                  hold_argv_t *ha)
{
    setsid();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t a = fork();
    if (a == 0) {
        if (o->pty) {
            child_exec(x, envp, o->cwd, true, f->slave, f->slave, f->slave, f->ex[1], f->cg);
        }
        child_exec(x, envp, o->cwd, false, f->in[0], f->out[1], f->err[1], f->ex[1], f->cg);
    }
    if (a < 0) {
        _exit(127);
    }
    ssize_t w = write(f->pp[1], &a, sizeof(a));
    (void)w;
    utoa(ha->pid, (unsigned long)a);
    int src[4] = {f->hs[1], o->pty ? f->master : f->out[0], o->pty ? -1 : f->err[0],
                  o->pty ? -1 : f->in[1]};
    int hi[4];
    for (int i = 0; i < 4; i++) {
        hi[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD, 100) : -1;
    }
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    for (int i = 0; i < 4; i++) {
        if (hi[i] >= 0) {
            dup2(hi[i], 3 + i);
        } else {
            close(3 + i);
        }
    }
    syscall(SYS_close_range, 7u, ~0u, 0u);
    char *env[] = {NULL};
    execve(ha->exe, ha->argv, env);
    _exit(127);
}

static void hold_argv(const ad_proc_opts_t *o, hold_argv_t *ha)
{
    snprintf(ha->dir, sizeof(ha->dir), "%s", o->hold_dir);
    snprintf(ha->pty, sizeof(ha->pty), "%d", o->pty ? 1 : 0);
    snprintf(ha->wait, sizeof(ha->wait), "%u", o->hold_wait_sec ? o->hold_wait_sec : 86400u);
    snprintf(ha->pid, sizeof(ha->pid), "0");
    bool sub;
    ad_proc_holder_exe(ha->exe, sizeof(ha->exe), &sub);
    char *v[] = {"agentd", "hold", ha->dir, ha->pid, ha->pty, ha->wait, NULL};
    char *own[] = {"agentd-hold", ha->dir, ha->pid, ha->pty, ha->wait, NULL, NULL};
    memcpy(ha->argv, sub ? v : own, sizeof(v));
}

/* Forks the holder, which forks the agent: *pid_out is the agent's pid and
 * *holder the holder's, once the agent has exec'd. */
static int fork_held(const ad_proc_opts_t *o, const exec_t *x, char **envp, fds_t *f,
                     pid_t *pid_out, pid_t *holder, char *err, size_t errsz)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", o->hold_dir);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        mkdir(dir, 0700);
    }
    if ((mkdir(o->hold_dir, 0700) != 0 && errno != EEXIST) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->hs) != 0 ||
        cloexec_pipe(f->pp) != 0) {
        snprintf(err, errsz, "holder setup in %s: %s", o->hold_dir, strerror(errno));
        return AD_EIO;
    }
    static hold_argv_t ha; /* loop thread only */
    hold_argv(o, &ha);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t h = fork();
    if (h == 0) {
        holder_exec(o, x, envp, f, &ha);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (h < 0) {
        snprintf(err, errsz, "fork: %s", strerror(fork_errno));
        return AD_EIO;
    }
    close_fd(&f->pp[1]);
    pid_t a = 0;
    ssize_t n;
    do {
        n = read(f->pp[0], &a, sizeof(a));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(a) || a <= 0) {
        kill(h, SIGKILL);
        while (waitpid(h, NULL, 0) < 0 && errno == EINTR) {
        }
        snprintf(err, errsz, "the holder could not start the agent");
        return AD_EIO;
    }
    *pid_out = a;
    *holder = h;
    return exec_report(o, f, h, err, errsz);
}

static ad_proc_t *held_new(ad_procs_t *s, const ad_proc_opts_t *o, pid_t pid, pid_t holder,
                           fds_t *f, const char *cgroup)
{
    ad_proc_t *p = ad_proc_alloc(s, o, pid, cgroup);
    p->hold_pid = holder;
    ad_proc_resume_t at = {.agent = pid, .pty = o->pty};
    ad_proc_held_open(p, f->hs[0], &at);
    f->hs[0] = -1;
    ad_proc_link(s, p);
    return p;
}

int ad_proc_spawn(ad_procs_t *s, const ad_proc_opts_t *o, ad_proc_t **out, char *err, size_t errsz)
{
    AD_ASSERT_LOOP();
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    err[0] = '\0';
    if (s->shutting_down || s->freeing) {
        snprintf(err, errsz, "shutting down");
        return AD_ESTATE;
    }
    if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0') {
        snprintf(err, errsz, "empty command");
        return AD_EINVAL;
    }
    char **envp = NULL;
    char file[4096];
    char cgroup[4200] = "", name[160];
    fds_t f = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}, -1, -1, -1, {-1, -1}, {-1, -1}};
    pid_t pid = 0;
    if (o->cgroup_name != NULL && o->cgroup_name[0] != '\0' &&
        strchr(o->cgroup_name, '/') == NULL && o->cgroup_name[0] != '.') {
        snprintf(name, sizeof(name), "%s", o->cgroup_name);
    } else {
        snprintf(name, sizeof(name), "proc-%ld-%llu", (long)getpid(),
                 (unsigned long long)++s->spawns);
    }
    int rc = prepare(o, &envp, file, sizeof(file), err, errsz);
    exec_t x = {.file = file, .argv = (char *const *)o->argv, .sandboxed = o->sandbox != NULL};
    ad_argv_t sa = {NULL, 0, 0};
    if (rc == 0 && o->sandbox != NULL) {
        rc = ad_proc_sandbox_argv(s, o->sandbox, file, o->argv, o->cwd, &sa, err, errsz);
        x.file = sa.v != NULL ? sa.v[0] : file;
        x.argv = sa.v;
    }
    rc = rc < 0
             ? rc
             : ad_cgroup_create(&s->cg, name, o->limits, cgroup, sizeof(cgroup), &f.cg, err, errsz);
    rc = rc < 0 ? rc : open_fds(o, &f, err, errsz);
    pid_t holder = 0;
    if (rc == 0 && o->hold_dir != NULL) {
        rc = fork_held(o, &x, envp, &f, &pid, &holder, err, errsz);
    } else if (rc == 0) {
        rc = fork_exec(o, &x, envp, &f, &pid, err, errsz);
    }
    if (rc == 0) {
        *out =
            holder > 0 ? held_new(s, o, pid, holder, &f, cgroup) : proc_new(s, o, pid, &f, cgroup);
        ad_log(AD_LOG_DEBUG, "proc", "spawned pid=%ld file=%s pty=%d cgroup=%s sandbox=%d",
               (long)pid, file, o->pty, cgroup, o->sandbox != NULL);
    } else if (cgroup[0] != '\0') {
        ad_cgroup_remove(cgroup);
    }
    fds_close(&f);
    ad_proc_env_free(envp);
    ad_argv_free(&sa);
    return rc < 0 ? rc : 0;
}
