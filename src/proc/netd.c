/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the shared network proxy (issue #80,
 * src/hold/netproxyd.c): one `agentd hold --net-proxyd <data-dir>/proxy`
 * serves every sandboxed program of the data dir. A thread of the daemon
 * (started at the first sandbox that needs it, or at the daemon's start
 * when registrations are left from before) keeps a connection on its
 * control socket, which tells the proxy a daemon is there, and watches its
 * pid: when it goes, the thread starts another at once (then waiting
 * 0.1 s, doubling to 5 s, while starts keep failing), which takes up the
 * live registrations again. Nothing on the loop waits for it: a program's
 * registration (src/hold/netreg.c, in its own process) waits for the
 * proxy to answer, bounded. The proxy is started detached (its own
 * session, not the daemon's child) so it outlives the daemon as holders
 * do: agents kept across a restart keep their network meanwhile.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include "core/child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char pdir[PATH_MAX]; /* <data-dir>/proxy, watched; "" before */
static bool started;        /* the thread runs */

/* A connection on the proxy's control socket that says "D" (a daemon is
 * here) and was answered, and the proxy's pid; -1 when none answers. */
static int connect_ctl(pid_t *pid)
{
    char path[PATH_MAX + 8];
    struct sockaddr_un a;
    int dirfd = -1;
    snprintf(path, sizeof(path), "%s/ctl", pdir);
    if (ad_unix_addr(path, &a, &dirfd) != 0) {
        return -1;
    }
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 2};
    char ans[8] = "";
    struct ucred cr;
    socklen_t crl = sizeof(cr);
    bool ok = c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
              send(c, "D\n", 2, MSG_NOSIGNAL) == 2 && read(c, ans, 3) == 3 &&
              memcmp(ans, "ok\n", 3) == 0 && getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0;
    if (dirfd >= 0) {
        close(dirfd);
    }
    if (!ok) {
        if (c >= 0) {
            close(c);
        }
        return -1;
    }
    *pid = cr.pid;
    return c;
}

/* Starts the proxy (detached: setsid, then a second fork) and waits for
 * its "ready" line, bounded; false with why. */
static bool spawn(char *w, size_t wsz)
{
    char self[PATH_MAX], log[PATH_MAX + 8];
    int p[2];
    if (realpath("/proc/self/exe", self) == NULL || pipe2(p, O_CLOEXEC) != 0) {
        snprintf(w, wsz, "cannot start the network proxy: %s", strerror(errno));
        return false;
    }
    snprintf(log, sizeof(log), "%s/log", pdir);
    char *argv[] = {self, "hold", "--net-proxyd", pdir, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        setsid();
        if (fork() != 0) {
            _exit(0);
        }
        int nul = open("/dev/null", O_RDONLY);
        int err = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
        dup2(nul, 0);
        dup2(p[1], 1);
        dup2(err >= 0 ? err : nul, 2);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        execv(self, argv);
        _exit(127);
    }
    close(p[1]);
    int st;
    if (pid > 0) {
        ad_child_wait(pid, &st);
    }
    char buf[16] = "";
    size_t len = 0;
    uint64_t end = ad_mono_ns() + (uint64_t)READY_TIMEOUT_MS * 1000000u;
    while (pid > 0 && len < 6 && ad_mono_ns() < end) {
        struct pollfd q = {.fd = p[0], .events = POLLIN};
        if (poll(&q, 1, (int)((end - ad_mono_ns()) / 1000000u) + 1) <= 0) {
            continue;
        }
        ssize_t n = read(p[0], buf + len, 6 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    close(p[0]);
    if (len < 6 || memcmp(buf, "ready\n", 6) != 0) {
        snprintf(w, wsz, "the network proxy did not start (see %.300s)", log);
        return false;
    }
    return true;
}

static void *watch_main(void *arg)
{
    (void)arg;
    unsigned backoff = BACKOFF_MIN_MS;
    for (;;) {
        pid_t pid = 0;
        char w[512] = "";
        int c = connect_ctl(&pid);
        if (c < 0 && spawn(w, sizeof(w))) {
            c = connect_ctl(&pid);
        }
        if (c < 0) {
            ad_log(AD_LOG_WARN, "proc", "network proxy down why=\"%s\"",
                   w[0] != '\0' ? w : "it does not answer on its control socket");
            struct timespec ts = {.tv_sec = backoff / 1000,
                                  .tv_nsec = (long)(backoff % 1000) * 1000000};
            nanosleep(&ts, NULL);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = BACKOFF_MIN_MS;
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd q[2] = {{.fd = c, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        while (poll(q, pidfd >= 0 ? 2 : 1, -1) < 0 && errno == EINTR) {
        }
        close(c);
        if (pidfd >= 0) {
            close(pidfd);
        }
        ad_log(AD_LOG_WARN, "proc", "network proxy ended pid=%ld: starting another", (long)pid);
    }
    return NULL;
}

/* Starts the thread for proxy_dir (under mu); false when another data
 * dir's runs already (one a process). */
static bool start_locked(const char *proxy_dir)
{
    if (started) {
        return strcmp(pdir, proxy_dir) == 0;
    }
    snprintf(pdir, sizeof(pdir), "%s", proxy_dir);
    started = ad_thread_detached(watch_main, NULL, 0, true);
    return started;
}

int ad_proc_netd_ensure(const char *proxy_dir, char *err, size_t errsz)
{
    pthread_mutex_lock(&mu);
    bool ok = start_locked(proxy_dir);
    pthread_mutex_unlock(&mu);
    if (!ok) {
        snprintf(err, errsz, "the network proxy serves %s, not %s", pdir, proxy_dir);
        return AD_EIO;
    }
    return 0;
}

/* ---- at the sandbox's set-up ---------------------------------------------------------- */

static atomic_bool as_pid1;

/* Whether bwrap says 0.4 or later on --version (--as-pid-1 came in 0.4):
 * with it, the bridge is the sandbox's pid 1 and bwrap starts no reaper
 * process of its own (131-151 kB of Pss an agent, issue #80). */
static bool as_pid1_check(const char *bwrap)
{
    char *argv[] = {(char *)bwrap, "--version", NULL};
    char *env[] = {"PATH=" AD_DEFAULT_PATH, NULL};
    ad_buf_t b;
    ad_buf_init(&b, 63);
    ad_child_run_t o = {.envp = env, .timeout_ms = READY_TIMEOUT_MS, .out = &b};
    ad_child_ran_t ran;
    char why[128];
    unsigned major = 0, minor = 0;
    bool ok = ad_child_run(argv, &o, &ran, why, sizeof(why)) == 0 && b.len > 0 &&
              sscanf(b.data, "bubblewrap %u.%u", &major, &minor) == 2 && (major > 0 || minor >= 4);
    ad_buf_cleanup(&b);
    return ok;
}

bool ad_proc_net_as_pid1(void)
{
    return atomic_load(&as_pid1);
}

typedef struct {
    char data_dir[PATH_MAX], bwrap[PATH_MAX];
} net_init_t;

/* The registrations a daemon before this one left in <data_dir>/proxy:
 * their proxy back (the watch thread), not waited for. */
static void resume(const char *data_dir)
{
    char dir[PATH_MAX];
    if (data_dir[0] != '/' ||
        (size_t)snprintf(dir, sizeof(dir), "%s/proxy", data_dir) >= sizeof(dir)) {
        return;
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    bool left = false;
    while (d != NULL && !left && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        left = n > 4 && strcmp(e->d_name + n - 4, ".reg") == 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    if (left) {
        pthread_mutex_lock(&mu);
        (void)start_locked(dir);
        pthread_mutex_unlock(&mu);
    }
}

static void *init_main(void *arg)
{
    net_init_t *in = arg;
    resume(in->data_dir);
    atomic_store(&as_pid1, as_pid1_check(in->bwrap));
    free(in);
    return NULL;
}

void ad_proc_net_init(const char *data_dir, const char *bwrap)
{
    net_init_t *in = ad_xcalloc(1, sizeof(*in));
    snprintf(in->data_dir, sizeof(in->data_dir), "%s", data_dir != NULL ? data_dir : "");
    snprintf(in->bwrap, sizeof(in->bwrap), "%s", bwrap);
    if (!ad_thread_detached(init_main, in, 0, true)) {
        free(in); /* no --as-pid-1: bwrap's reaper stays, as before */
    }
}
