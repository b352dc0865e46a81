/* SPDX-License-Identifier: MIT */
/*
 * Child exit statuses in one place. agentd is a child subreaper: the
 * supervisor (src/proc) reaps every exited child with waitpid(-1), its own
 * and the orphans of agent trees, so a thread that waits for a child of
 * its own (a worktree setup command, src/git) may find it already reaped.
 * The supervisor leaves such a status here and that thread takes it. Any
 * thread; a bounded table (the oldest entry makes room). And a program run
 * to its end for what it prints (child.h).
 */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addchdir_np and _addclosefrom_np */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CHILD_SLOTS 256

static struct {
    pid_t pid;
    int status;
} slots[CHILD_SLOTS];
static size_t next_slot;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void ad_child_lock(void)
{
    pthread_mutex_lock(&mu);
}

void ad_child_unlock(void)
{
    pthread_mutex_unlock(&mu);
}

void ad_child_status_put_locked(pid_t pid, int status)
{
    slots[next_slot].pid = pid;
    slots[next_slot].status = status;
    next_slot = (next_slot + 1) % CHILD_SLOTS;
}

static bool take_locked(pid_t pid, int *status)
{
    for (size_t i = 0; i < CHILD_SLOTS; i++) {
        if (slots[i].pid == pid) {
            *status = slots[i].status;
            slots[i].pid = 0;
            return true;
        }
    }
    return false;
}

bool ad_child_status_take(pid_t pid, int *status)
{
    ad_child_lock();
    bool found = take_locked(pid, status);
    ad_child_unlock();
    return found;
}

int ad_child_wait(pid_t pid, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, 0);
        if (r == pid) {
            return 0;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        /* ECHILD: the supervisor reaped it; it left the status under the
         * lock it held while reaping, so it is there once we get the lock. */
        ad_child_lock();
        bool found = take_locked(pid, status);
        ad_child_unlock();
        return found ? 0 : AD_ENOENT;
    }
}

/* ---- a program run to its end (child.h) ------------------------------------------- */

/* posix_spawn with child.h's attributes: its own group, default signals,
 * none blocked, stdin /dev/null, stdout and stderr into wfd (stdout to
 * /dev/null when stderr_only), nothing else open. 0 or an errno. */
static int spawn(char *const argv[], const ad_child_run_t *o, int devnull, int wfd, pid_t *pid)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    if (posix_spawnattr_init(&attr) != 0) {
        return ENOMEM;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        posix_spawnattr_destroy(&attr);
        return ENOMEM;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF);
    rc = rc ? rc : posix_spawnattr_setpgroup(&attr, 0);
    rc = rc ? rc : posix_spawnattr_setsigmask(&attr, &none);
    rc = rc ? rc : posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0 && o->dir != NULL) {
        rc = posix_spawn_file_actions_addchdir_np(&fa, o->dir);
    }
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, o->stderr_only ? devnull : wfd, 1);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, wfd, 2);
    rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    rc = rc ? rc : posix_spawn(pid, argv[0], &fa, &attr, argv, o->envp ? o->envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* What it wrote into o->out, to the buffer's bound (a read larger than the
 * room left still fills it). */
static void keep(const ad_child_run_t *o, const char *buf, size_t n, ad_child_ran_t *ran)
{
    if (o->out == NULL || ran->truncated) {
        return;
    }
    size_t room = o->out->max - o->out->len;
    size_t take = n < room ? n : room;
    bool full = ad_buf_append(o->out, buf, take) != 0;
    ran->truncated = full || take < n;
}

/* Reads fd until the program's end closes it, the deadline or stop (the
 * group killed then). */
static void read_to_end(int fd, pid_t pid, const ad_child_run_t *o, ad_child_ran_t *ran)
{
    uint64_t deadline = ad_mono_ns() + o->timeout_ms * 1000000ull;
    char buf[8192];
    for (;;) {
        uint64_t now = ad_mono_ns();
        if (now >= deadline || (o->stop != NULL && o->stop())) {
            ran->timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            return;
        }
        uint64_t left_ms = (deadline - now) / 1000000ull + 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, left_ms > 1000 ? 1000 : (int)left_ms);
        if (pr < 0 && errno != EINTR) {
            return;
        }
        if (pr <= 0) {
            continue;
        }
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return;
        }
        keep(o, buf, (size_t)r, ran);
    }
}

int ad_child_run(char *const argv[], const ad_child_run_t *o, ad_child_ran_t *ran, char *err,
                 size_t errsz)
{
    memset(ran, 0, sizeof(*ran));
    int fds[2];
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errsz, "cannot run %s: %s", argv[0], strerror(errno));
        if (devnull >= 0) {
            close(devnull);
        }
        return AD_EIO;
    }
    pid_t pid = -1;
    int rc = spawn(argv, o, devnull, fds[1], &pid);
    close(devnull);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, errsz, "cannot start %s%s%s: %s", argv[0], o->dir ? " in " : "",
                 o->dir ? o->dir : "", strerror(rc));
        return AD_EIO;
    }
    read_to_end(fds[0], pid, o, ran);
    close(fds[0]);
    /* at a thread: the supervisor's SIGCHLD watcher may reap it first and
     * leave its status for us */
    int st = 0;
    int waited = ad_child_wait(pid, &st);
    if (ran->timed_out || o->end_group) {
        kill(-pid, SIGKILL); /* what it left behind in its group */
    }
    if (waited != 0) {
        snprintf(err, errsz, "%s: its status was lost", argv[0]);
        return AD_EIO;
    }
    ran->status = st;
    return 0;
}
