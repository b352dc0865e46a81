/* SPDX-License-Identifier: MIT */
/*
 * Spawning, the loop's side: what can be checked at once (the program on
 * PATH, the cwd, the environment, limits, a sandbox's argv), the pipes or
 * the pty and, for a held process, the socket to its holder, made here so
 * that input can be queued at once; then the job goes to a spawner thread
 * (spawner.c), which forks and execs, and its outcome comes back here
 * (ad_proc_spawned): the process's output is read from then on, or the
 * spawn failed and says why.
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
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

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

/* The descriptors of one spawn, -1 where not made or handed over: the
 * parent's ends (ours, or the holder's) and the child's. */
typedef struct {
    int in[2], out[2], err[2];
    int master, slave;
    int hs[2]; /* held: the socket pair to the holder */
} fds_t;

static void fds_close(fds_t *f)
{
    int *all[] = {&f->in[0],  &f->in[1],  &f->out[0], &f->out[1], &f->err[0],
                  &f->err[1], &f->master, &f->slave,  &f->hs[0],  &f->hs[1]};
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
    if (o->hold_dir != NULL && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->hs) != 0) {
        snprintf(err, errsz, "holder setup: socketpair: %s", strerror(errno));
        return AD_EIO;
    }
    return 0;
}

ad_proc_t *ad_proc_alloc(ad_procs_t *s, const ad_proc_opts_t *o, pid_t pid, const char *cgroup)
{
    ad_proc_t *p = ad_xcalloc(1, sizeof(*p));
    p->s = s;
    p->cgroup = ad_xstrdup(cgroup != NULL ? cgroup : "");
    p->pid = pid;
    p->pty = o->pty;
    p->leave_tree = o->leave_tree && o->hold_dir == NULL;
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

/* p in s's list, counted live (not yet unreaped: a starting one has no
 * pid). */
static void list_add(ad_procs_t *s, ad_proc_t *p)
{
    p->next = s->head;
    if (s->head != NULL) {
        s->head->prev = p;
    }
    s->head = p;
    s->live++;
    s->mem++;
}

void ad_proc_link(ad_procs_t *s, ad_proc_t *p)
{
    list_add(s, p);
    s->unreaped++;
    ad_procs_sync_ref(s);
}

/* The process record of a spawn: in `starting` until its outcome, its
 * handles open on our ends of f (taken) but not read yet. */
static ad_proc_t *proc_new(ad_procs_t *s, const ad_proc_opts_t *o, fds_t *f)
{
    ad_proc_t *p = ad_proc_alloc(s, o, 0, "");
    p->starting = true;
    p->on_start = o->on_start;
    if (o->hold_dir != NULL) {
        ad_proc_resume_t at = {.pty = o->pty};
        ad_proc_held_open(p, f->hs[0], &at);
        f->hs[0] = -1;
    } else if (o->pty) {
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
    list_add(s, p);
    return p;
}

/* A copy of argv (NULL-terminated) as an ad_argv_t. */
static void argv_copy(const char *const *argv, ad_argv_t *a)
{
    size_t n = 0;
    while (argv[n] != NULL) {
        n++;
    }
    a->v = ad_xcalloc(n + 1, sizeof(char *));
    a->n = a->cap = n;
    for (size_t i = 0; i < n; i++) {
        a->v[i] = ad_xstrdup(argv[i]);
    }
}

/* A child that dies with agentd runs under `agentd-hold --reap FILE
 * ARGV...` (src/hold/reap.c), which takes its whole tree down when agentd
 * ends; the parent-death signal alone reaches only the child itself, and
 * bwrap passes it on only once the sandbox is set up. */
static void reaped(ad_spawn_job_t *j)
{
    char exe[PATH_MAX];
    bool sub;
    ad_proc_holder_exe(exe, sizeof(exe), &sub);
    ad_argv_t a = {NULL, 0, 0};
    ad_proc_holder_argv(&a, exe, sub, "--reap");
    ad_argv_add(&a, j->file);
    for (size_t i = 0; i < j->argv.n; i++) {
        ad_argv_add(&a, j->argv.v[i]);
    }
    ad_argv_free(&j->argv);
    j->argv = a;
    snprintf(j->file, sizeof(j->file), "%s", exe);
}

/* The job: what the child runs (copied: opts are borrowed for the call),
 * its ends of f (taken), its cgroup and holder. */
static ad_spawn_job_t *job_new(ad_procs_t *s, const ad_proc_opts_t *o, fds_t *f, char **envp,
                               const char *file, ad_argv_t *sa)
{
    ad_spawn_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->envp = envp;
    if (sa->v != NULL) { /* bwrap's argv, taken */
        snprintf(j->file, sizeof(j->file), "%s", sa->v[0]);
        j->argv = *sa;
        *sa = (ad_argv_t){NULL, 0, 0};
    } else {
        snprintf(j->file, sizeof(j->file), "%s", file);
        argv_copy(o->argv, &j->argv);
    }
    j->fd_in = j->fd_out = j->fd_err = j->h_in = j->h_out = j->h_err = j->hs = -1;
    j->pty = o->pty;
    j->sandboxed = o->sandbox != NULL;
    j->nice = o->nice > 19 ? 19 : o->nice;
    j->die_with = o->die_with_daemon && o->hold_dir == NULL ? getpid() : 0;
    if (j->die_with > 0) {
        reaped(j);
    }
    j->cwd = o->cwd != NULL ? ad_xstrdup(o->cwd) : NULL;
    j->no_cgroup = o->leave_tree && o->hold_dir == NULL;
    if (o->cgroup_name != NULL && o->cgroup_name[0] != '\0' &&
        strchr(o->cgroup_name, '/') == NULL && o->cgroup_name[0] != '.') {
        snprintf(j->cg_name, sizeof(j->cg_name), "%s", o->cgroup_name);
    } else {
        snprintf(j->cg_name, sizeof(j->cg_name), "proc-%ld-%llu", (long)getpid(),
                 (unsigned long long)++s->spawns);
    }
    if (o->limits != NULL) {
        j->limits = *o->limits;
    }
    if (o->pty) {
        j->fd_in = j->fd_out = j->fd_err = f->slave;
        f->slave = -1;
    } else {
        j->fd_in = f->in[0];
        j->fd_out = f->out[1];
        j->fd_err = f->err[1];
        f->in[0] = f->out[1] = f->err[1] = -1;
    }
    if (o->hold_dir != NULL) {
        /* `agentd-hold DIR PID PTY WAIT` (or `agentd hold …`); PID is
         * written by the holder once it has started the agent */
        j->held = true;
        j->h_out = o->pty ? f->master : f->out[0];
        j->h_err = f->err[0];
        j->h_in = f->in[1];
        f->master = f->out[0] = f->err[0] = f->in[1] = -1;
        j->hs = f->hs[1];
        f->hs[1] = -1;
        snprintf(j->hold_dir, sizeof(j->hold_dir), "%s", o->hold_dir);
        snprintf(j->hold_pty, sizeof(j->hold_pty), "%d", o->pty ? 1 : 0);
        snprintf(j->hold_wait, sizeof(j->hold_wait), "%u",
                 o->hold_wait_sec ? o->hold_wait_sec : 86400u);
        snprintf(j->hold_pid, sizeof(j->hold_pid), "0");
        bool sub;
        ad_proc_holder_exe(j->hold_exe, sizeof(j->hold_exe), &sub);
        char *v[] = {"agentd", "hold", j->hold_dir, j->hold_pid, j->hold_pty, j->hold_wait, NULL};
        char *own[] = {"agentd-hold", j->hold_dir, j->hold_pid, j->hold_pty,
                       j->hold_wait,  NULL,        NULL};
        memcpy(j->hold_argv, sub ? v : own, sizeof(v));
    }
    return j;
}

void ad_spawn_job_free(ad_spawn_job_t *j)
{
    ad_proc_env_free(j->envp);
    ad_argv_free(&j->argv);
    free(j->cwd);
    free(j);
}

/* A holder without a process record (a worker node's, src/node): its job
 * run by a spawner thread while the calling loop waits for it (a node's
 * loop only relays its runs' frames; docs/internals/cluster.md). envp and sa are
 * taken, f's ends too: the daemon's end of the holder's socket goes to
 * *fd. */
static int spawn_raw(ad_procs_t *s, const ad_proc_opts_t *o, fds_t *f, char **envp,
                     const char *file, ad_argv_t *sa, int *fd, pid_t *agent, char *err,
                     size_t errsz)
{
    ad_spawn_job_t *j = job_new(s, o, f, envp, file, sa);
    int mine = f->hs[0];
    f->hs[0] = -1;
    fds_close(f);
    ad_spawner_run_sync(s, j);
    int rc = j->rc;
    if (rc == 0) {
        *fd = mine;
        *agent = j->pid;
        ad_log(AD_LOG_DEBUG, "proc", "holder spawned pid=%ld holder=%ld file=%s spawn_ms=%.1f",
               (long)j->pid, (long)j->holder, j->file, (double)(j->done_ns - j->queued_ns) / 1e6);
    } else {
        close(mine);
        if (j->cgroup[0] != '\0') {
            ad_cgroup_remove(j->cgroup); /* nothing runs in it */
        }
        snprintf(err, errsz, "%s", j->err);
    }
    ad_spawn_job_free(j);
    return rc;
}

/* The spawn of ad_proc_spawn and ad_proc_spawn_holder: raw (a holder
 * without a record) hands the holder's socket back in *raw_fd. */
static int spawn(ad_procs_t *s, const ad_proc_opts_t *o, ad_proc_t **out, int *raw_fd,
                 pid_t *raw_pid, char *err, size_t errsz);

int ad_proc_spawn(ad_procs_t *s, const ad_proc_opts_t *o, ad_proc_t **out, char *err, size_t errsz)
{
    return spawn(s, o, out, NULL, NULL, err, errsz);
}

int ad_proc_spawn_holder(ad_procs_t *s, const ad_proc_opts_t *o, int *fd, pid_t *agent, char *err,
                         size_t errsz)
{
    if (o->hold_dir == NULL) {
        snprintf(err, errsz, "no holder directory");
        return AD_EINVAL;
    }
    return spawn(s, o, NULL, fd, agent, err, errsz);
}

static int spawn(ad_procs_t *s, const ad_proc_opts_t *o, ad_proc_t **out, int *raw_fd,
                 pid_t *raw_pid, char *err, size_t errsz)
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
    fds_t f = {{-1, -1}, {-1, -1}, {-1, -1}, -1, -1, {-1, -1}};
    ad_argv_t sa = {NULL, 0, 0};
    int rc = prepare(o, &envp, file, sizeof(file), err, errsz);
    if (rc == 0 && o->sandbox != NULL) {
        ad_proc_sandbox_t sb = *o->sandbox;
        sb.die_with_parent = sb.die_with_parent || (o->die_with_daemon && o->hold_dir == NULL);
        rc = ad_proc_sandbox_argv(s, &sb, file, o->argv, o->cwd, &sa, err, errsz);
    }
    rc = rc < 0 ? rc : ad_cgroup_check(&s->cg, o->limits, err, errsz);
    rc = rc < 0 ? rc : open_fds(o, &f, err, errsz);
    if (rc < 0) {
        fds_close(&f);
        ad_proc_env_free(envp);
        ad_argv_free(&sa);
        return rc;
    }
    if (raw_fd != NULL) {
        return spawn_raw(s, o, &f, envp, file, &sa, raw_fd, raw_pid, err, errsz);
    }
    ad_proc_t *p = proc_new(s, o, &f);
    ad_spawn_job_t *j = job_new(s, o, &f, envp, file, &sa);
    fds_close(&f); /* all taken; nothing is left */
    j->p = p;
    p->job = j;
    ad_spawner_submit(s, j);
    *out = p;
    ad_log(AD_LOG_DEBUG, "proc", "spawning file=%s pty=%d held=%d sandbox=%d", file, o->pty,
           o->hold_dir != NULL, o->sandbox != NULL);
    return 0;
}

/* A spawn that failed: its process never ran. It is told (on_start, else
 * on_exit as an exit 127) and then freed. */
static void spawn_failed(ad_procs_t *s, ad_proc_t *p, ad_spawn_job_t *j, bool callbacks)
{
    ad_log(callbacks ? AD_LOG_WARN : AD_LOG_DEBUG, "proc", "spawn failed file=%s error=\"%s\"",
           j->file, j->err);
    p->finished = true;
    s->live--;
    if (callbacks && p->on_start != NULL) {
        p->on_start(p, j->rc, j->err, p->ud);
    } else if (callbacks && p->on_exit != NULL) {
        p->ex.exit_code = 127;
        p->ex.start_error = j->err;
        p->on_exit(p, &p->ex, p->ud);
        p->ex.start_error = NULL;
    }
    ad_proc_close_all(p);
    ad_procs_done_maybe(s);
}

void ad_proc_spawned(ad_procs_t *s, ad_spawn_job_t *j, bool callbacks)
{
    ad_proc_t *p = j->p;
    p->starting = false;
    p->job = NULL;
    if (j->cgroup[0] != '\0') {
        free(p->cgroup);
        p->cgroup = ad_xstrdup(j->cgroup);
    }
    if (j->rc != 0) {
        ad_proc_kill_tree(p); /* nothing lives in it: the cgroup goes */
        spawn_failed(s, p, j, callbacks);
        ad_spawn_job_free(j);
        return;
    }
    p->pid = p->ex.pid = j->pid;
    p->hold_pid = j->holder;
    s->unreaped++;
    ad_procs_sync_ref(s);
    int status;
    if (!p->held && ad_child_status_take(p->pid, &status)) {
        ad_proc_record_status(p, status); /* it ended before we knew its pid */
    }
    ad_log(AD_LOG_DEBUG, "proc",
           "spawned pid=%ld holder=%ld file=%s cgroup=%s born_in=%d spawn_ms=%.1f", (long)p->pid,
           (long)p->hold_pid, j->file, p->cgroup, j->born_in ? 1 : 0,
           (double)(j->done_ns - j->queued_ns) / 1e6);
    ad_spawn_job_free(j);
    if (!callbacks) {
        return;
    }
    if (p->held) {
        ad_proc_held_start(p);
    } else {
        ad_proc_rstream_start(&p->out);
        ad_proc_rstream_start(&p->err);
    }
    if (p->on_start != NULL) {
        p->on_start(p, 0, NULL, p->ud);
    }
    if (s->shutting_down && !p->exited && !(s->keep_held && p->held) &&
        !(s->keep_remote && p->remote)) {
        p->start_stop = p->start_stop > 0 ? p->start_stop : s->shutdown_grace_ms == 0 ? 2 : 1;
        uint64_t half = s->shutdown_grace_ms / 2;
        p->term_grace_ms = p->term_grace_ms > half ? half : p->term_grace_ms;
        p->kill_grace_ms = s->shutdown_grace_ms - p->term_grace_ms;
    } else if (s->shutting_down && (p->held || p->remote) && !p->kept) {
        p->kept = true; /* --keep-agents, or other planes go on: its holder keeps it */
        s->kept++;
    }
    if (p->start_stop > 0 && !p->exited) {
        ad_proc_stop(p, p->start_stop == 2);
    }
    ad_proc_finish_maybe(p);
    ad_procs_done_maybe(s);
}
