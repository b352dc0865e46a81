/* SPDX-License-Identifier: MIT */
/*
 * `agentd-hold --reap FILE ARGV0 ARGS...`: what stands between agentd and
 * a child that must not outlive it (an ACP terminal). It runs FILE with
 * ARGV0 ARGS..., waits for it and exits as it did (the same code, or the
 * same signal), and takes the whole tree down with it:
 *
 *   - agentd gone: its parent-death signal, which the reaper sets to a
 *     signal of its own and checks against its parent, kills every
 *     process below it;
 *   - FILE ended: what it left running below it is killed.
 *
 * Why a process of its own: PR_SET_PDEATHSIG reaches only the child
 * agentd made. bwrap's --die-with-parent passes it on to the sandbox's
 * pid 1, but only once that has set the sandbox up: an agentd killed in
 * those milliseconds left the sandbox, and the command in it, running
 * for good (a plain `sh -c 'sleep 300'` leaves its sleep the same way).
 * The reaper is a child subreaper, so whatever loses its parent below it
 * becomes its child, and it kills children until none is left.
 *
 * Signals: all are blocked (the child gets the mask and dispositions the
 * reaper was started with), so the signals agentd sends the process
 * group reach the command and its tree, while the reaper stays until the
 * command has ended. libc only, like the holder; single-threaded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/hold.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Rounds of killing and reaping before the reaper gives up on a tree
 * that keeps forking (each round kills every child it can see). */
#define REAP_ROUNDS 10000

/* SIGKILLs each child the kernel lists for us (bounded: a list longer
 * than the buffer is finished in the next round). */
static void kill_children(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    /* a pid cut at the buffer's end is left for the next round */
    char *end = n == (ssize_t)sizeof(buf) - 1 ? strrchr(buf, ' ') : NULL;
    if (end != NULL) {
        *end = '\0';
    }
    char *save = NULL;
    for (char *t = strtok_r(buf, " \n", &save); t != NULL; t = strtok_r(NULL, " \n", &save)) {
        long pid = strtol(t, NULL, 10);
        if (pid > 1) {
            kill((pid_t)pid, SIGKILL);
        }
    }
}

/* Kills and reaps everything below the reaper. */
static void kill_tree(void)
{
    for (int i = 0; i < REAP_ROUNDS; i++) {
        kill_children();
        if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) {
            return;
        }
    }
}

/* Exits the way a wait status says: its code, or its signal (no core). */
static int mirror(int status)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int ad_hold_reap(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: agentd-hold --reap FILE ARGV0 [ARG...]\n");
        return 2;
    }
    const int death = SIGRTMAX;
    sigset_t all, orig;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &orig);
    signal(SIGCHLD, SIG_DFL); /* an ignored SIGCHLD would reap for us */
    pid_t parent = getppid();
    pid_t self = getpid();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 || prctl(PR_SET_PDEATHSIG, death) != 0) {
        fprintf(stderr, "agentd: cannot watch for agentd's end: %s\n", strerror(errno));
        return 127;
    }
    /* a parent gone before the signal was set is seen now */
    bool orphaned = getppid() != parent;
    pid_t child = orphaned ? -1 : fork();
    if (child == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != self) {
            _exit(127);
        }
        sigprocmask(SIG_SETMASK, &orig, NULL);
        execv(argv[0], argv + 1);
        fprintf(stderr, "agentd: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (child < 0 && !orphaned) {
        fprintf(stderr, "agentd: cannot run %s: fork: %s\n", argv[0], strerror(errno));
        return 127;
    }
    int status = 0;
    bool ended = false;
    while (!orphaned && !ended) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig == death && getppid() != parent) {
            orphaned = true;
        }
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
            if (w == child) {
                status = st;
                ended = true;
            }
        }
    }
    if (!ended && child > 0) {
        kill(child, SIGKILL);
    }
    kill_tree();
    return orphaned ? 128 + SIGKILL : mirror(status);
}
