/* SPDX-License-Identifier: MIT */
/*
 * The holder process's start (`agentd hold`, holder.c runs its loop): its
 * log opened, its signals taken as a signalfd, its socket listening, and
 * then either a live holder (the agent forked already, its ends on fds
 * 4-6, its spools made, its info file written) or a replay one (the spools
 * and exit a dead holder left, no agent). `--net-bridge` and `--reap` are
 * other programs of the same binary (netserve.c, reap.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/holder_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEF_WAIT_SEC 86400

static void open_log(holder_t *h)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/log", h->dir);
    h->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    /* Its blocks are taken now: what it has to say is mostly that the disk
     * is full, when a new block could not be had. */
    if (h->logfd >= 0) {
        (void)fallocate(h->logfd, FALLOC_FL_KEEP_SIZE, 0, AD_HOLD_LOG_MAX);
    }
}

static int listen_on(const holder_t *h)
{
    struct sockaddr_un a;
    int dirfd;
    char path[4200];
    snprintf(path, sizeof(path), "%s/s", h->dir);
    if (ad_unix_addr(path, &a, &dirfd) != 0) {
        fprintf(stderr, "agentd hold: cannot open %s: %s\n", h->dir, strerror(errno));
        return -1;
    }
    unlink(a.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(077);
    if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0)) {
        close(fd);
        fd = -1;
    }
    umask(old);
    if (fd >= 0) {
        chmod(a.sun_path, 0600);
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    return fd;
}

static int open_spool(const holder_t *h, int i, bool create)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", h->dir, i == 0 ? "out" : "err");
    return open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
}

static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_SETMASK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit is a refused write (EFBIG), not an end */
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void set_nonblock(int fd)
{
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
}

/* A live holder: the agent forked already, its ends on fds 4-6. */
static int setup_live(holder_t *h, char **argv, int argc)
{
    h->agent = (pid_t)strtol(argv[1], NULL, 10);
    h->pty = strcmp(argv[2], "1") == 0;
    h->wait_ms = (argc > 3 ? strtol(argv[3], NULL, 10) : DEF_WAIT_SEC) * 1000LL;
    if (h->agent <= 0 || h->wait_ms <= 0) {
        return -1;
    }
    h->s[0].fd = 4;
    h->s[1].fd = h->pty ? -1 : 5;
    h->s[1].eof = h->pty;
    h->in_fd = h->pty ? -1 : 6;
    for (int fd = 4; fd <= 6; fd++) {
        set_nonblock(fcntl(fd, F_GETFD) >= 0 ? fd : -1);
    }
    for (int i = 0; i < 2; i++) {
        h->s[i].spool = open_spool(h, i, true);
        if (h->s[i].spool < 0) {
            return -1;
        }
    }
    h->lsock = listen_on(h);
    uint64_t start = 0;
    ad_hold_proc_start(getpid(), &start);
    char text[128];
    snprintf(text, sizeof(text), "%ld %llu %ld %d\n", (long)getpid(), (unsigned long long)start,
             (long)h->agent, h->pty ? 1 : 0);
    ad_holder_write_file(h, "info", text);
    return 0;
}

/* A replay holder: the spool and exit a dead holder left, no agent. */
static int setup_replay(holder_t *h)
{
    h->replay = true;
    h->exited = true;
    h->exit_ms = h->drain_from = ad_holder_now_ms();
    h->wait_ms = 60000;                 /* the daemon asks at once */
    h->status = AD_HOLD_STATUS_UNKNOWN; /* no exit file: the agent's end is not known */
    ad_hold_exit_read(h->dir, &h->status);
    for (int i = 0; i < 2; i++) {
        h->s[i].fd = -1;
        h->s[i].eof = true;
        h->s[i].spool = open_spool(h, i, false);
        struct stat st;
        h->s[i].end =
            h->s[i].spool >= 0 && fstat(h->s[i].spool, &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    h->in_fd = -1;
    h->lsock = -1;
    return 0;
}

int ad_hold_main(int argc, char **argv)
{
    static holder_t h;
    if (argc >= 1 && strcmp(argv[0], "--net-bridge") == 0) { /* netserve.c */
        return ad_hold_net_bridge(argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "--net-register") == 0) { /* netreg.c */
        return ad_hold_net_register(argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "--reap") == 0) { /* reap.c */
        return ad_hold_reap(argc - 1, argv + 1);
    }
    bool replay = argc >= 2 && strcmp(argv[0], "--replay") == 0;
    if (!replay && argc < 3) {
        fprintf(stderr, "usage: agentd hold DIR AGENT_PID PTY [WAIT_SEC] | --replay DIR\n");
        return 2;
    }
    for (int k = 0; k < W_N; k++) {
        h.w[k].fd = -1;
    }
    h.ep = epoll_create1(EPOLL_CLOEXEC);
    h.conn = 3;
    set_nonblock(3);
    snprintf(h.dir, sizeof(h.dir), "%s", replay ? argv[1] : argv[0]);
    open_log(&h);
    if (h.logfd >= 0 && dup2(h.logfd, 2) < 0) {
        h.logfd = -1;
    }
    h.sfd = signal_fd();
    int rc = replay ? setup_replay(&h) : setup_live(&h, argv, argc);
    if (rc != 0 || h.sfd < 0 || h.ep < 0) {
        ad_holder_log(&h, "cannot set up in %s: %s", h.dir, strerror(errno));
        if (!replay && h.agent > 0) {
            kill(-h.agent, SIGKILL);
        }
        return 1;
    }
    ad_holder_loop(&h);
    return 0;
}
