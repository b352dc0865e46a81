/* SPDX-License-Identifier: MIT */
/*
 * The network proxy shared by every sandboxed program of a data dir
 * (issue #80): one process, `agentd hold --net-proxyd DIR` (DIR is
 * <data-dir>/proxy), instead of one `agentd hold --net-proxy` per program.
 *
 * Who is asking. Each program has a socket of its own, DIR/ID/s, which
 * this process makes and listens on when the program is registered and
 * which only that program's sandbox shows (its folder, bound in read-only
 * at /run/agentd-proxy). A connection's policy is the policy of the socket
 * it came in on: nothing the program sends names it, and no program sees
 * another's socket. The registration comes on DIR/ctl (the data dir is
 * hidden from every sandbox) from `agentd-hold --net-register` (netreg.c),
 * which then execs bubblewrap in the same process: its pid, taken from
 * the socket (SO_PEERCRED), is what the registration lives as long as (a
 * pidfd), so a program's socket goes when its sandbox ends.
 *
 * Restarts. The registrations are files too (DIR/ID.reg: pid, start time,
 * POLICY), so a proxy started after one that died takes up every live one
 * again: the same folders, new sockets in them, which the sandboxes see
 * (a folder is bound in, not a socket). A connection open when it died is
 * cut (the program sees its connection closed, as on a network error);
 * a program's next one is served once the new proxy listens. The daemon
 * keeps a connection on DIR/ctl (src/proc/netd.c), restarts the proxy
 * when it goes and starts one at its own start when registrations are
 * left; the proxy outlives the daemon (as holders do) and ends when no
 * daemon is connected and no registration is left.
 *
 * Bounds: MAX_AGENTS registrations, a thread per connection with at most
 * MAX_CONNS_AGENT a program and MAX_CONNS in all at once; a request on
 * ctl is read with a timeout. The control socket, the lock and the
 * registrations are agentd's user's only (umask 077).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/net_int.h"

#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_AGENTS 8192
#define MAX_CONNS_AGENT 64 /* as the bridge's MAX_CONNS */
#define MAX_CONNS 2048
#define CTL_MAX 8400 /* a request on ctl: "R ID\nPOLICY\n" */
#define CTL_TIMEOUT_SEC 2
#define ID_MAX 100
#define SAVE_RETRY_MS 1000 /* a registration file the disk had no room for, again */

typedef enum { W_CTL, W_DAEMON, W_AGENT, W_PID, W_PUB } watch_kind_t;

typedef struct agent agent_t;

/* What an epoll event is about. */
typedef struct {
    watch_kind_t kind;
    agent_t *a;
    int fd;
    unsigned idx; /* W_PUB: the published port's index */
} watch_t;

struct agent {
    ad_net_pol_t pol;
    char id[ID_MAX + 1];
    pid_t pid;
    uint64_t start;
    int l, pidfd;
    watch_t wl, wp, wpub[AD_NET_MAX_PUBLISH];
    char pub_port[AD_NET_MAX_PUBLISH][8];
    size_t npub;
    atomic_int refs;  /* the table's and each connection's */
    atomic_int conns; /* connections at work */
    bool unsaved;     /* served without its .reg (no room): written again later */
};

static const char *dir; /* DIR */
static int ep = -1;
static agent_t *agents[MAX_AGENTS];
static size_t nagents;
static size_t ndaemons;
static atomic_int nconns;
static bool some_unsaved; /* a registration waits for room for its file */

static void unref(agent_t *a)
{
    if (atomic_fetch_sub(&a->refs, 1) == 1) {
        free(a->pol.policy);
        free(a->pol.dir);
        free(a);
    }
}

/* ---- connections ------------------------------------------------------------------- */

typedef struct {
    agent_t *a;
    int fd;
    int pub; /* -1: a proxy request; else the published port's index */
} conn_t;

/* The bridge's hello (net_int.h): one byte, with its stderr. Returns the
 * note fd (-1: none) and puts a first byte that was not the hello in pre. */
static int hello(int c, char *pre, size_t *npre)
{
    char b = 1;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } u;
    struct iovec iov = {.iov_base = &b, .iov_len = 1};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct timeval tv = {.tv_sec = 30};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
    int note = -1;
    for (struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; h != NULL; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) { /* the first one is the note; any more are closed */
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (note < 0 && b == AD_NET_HELLO) {
                note = fd;
            } else {
                close(fd);
            }
        }
    }
    *npre = n == 1 && b != AD_NET_HELLO ? 1 : 0;
    pre[0] = b;
    return note;
}

static void *conn_main(void *arg)
{
    conn_t c = *(conn_t *)arg;
    free(arg);
    if (c.pub >= 0) {
        ad_net_publish_conn(c.fd, &c.a->pol, c.a->pub_port[c.pub]);
    } else {
        char pre[1];
        size_t npre = 0;
        int note = hello(c.fd, pre, &npre);
        ad_net_proxy_conn(c.fd, &c.a->pol, note, pre, npre);
        if (note >= 0) {
            close(note);
        }
    }
    close(c.fd);
    atomic_fetch_sub(&c.a->conns, 1);
    atomic_fetch_sub(&nconns, 1);
    unref(c.a);
    return NULL;
}

/* A connection on one of a's listeners (pub -1: its socket), served at a
 * thread of its own within the bounds, else closed. */
static void accept_on(agent_t *a, int l, int pub)
{
    int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    conn_t *c = malloc(sizeof(*c));
    bool room = atomic_fetch_add(&nconns, 1) < MAX_CONNS;
    room = atomic_fetch_add(&a->conns, 1) < MAX_CONNS_AGENT && room;
    atomic_fetch_add(&a->refs, 1);
    if (c != NULL) {
        *c = (conn_t){.a = a, .fd = fd, .pub = pub};
    }
    if (!room || c == NULL || !ad_thread_detached(conn_main, c, 128 * 1024, false)) {
        free(c);
        close(fd);
        atomic_fetch_sub(&a->conns, 1);
        atomic_fetch_sub(&nconns, 1);
        unref(a);
    }
}

/* ---- registrations ----------------------------------------------------------------- */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_-") == n;
}

static void watch(watch_t *w, watch_kind_t kind, agent_t *a, int fd, unsigned idx)
{
    *w = (watch_t){.kind = kind, .a = a, .fd = fd, .idx = idx};
    /* a listener does not block: a connection gone before its accept must
     * not stop the loop */
    if (kind == W_CTL || kind == W_AGENT || kind == W_PUB) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void unwatch(int fd)
{
    if (fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
    }
}

/* The files of registration id: its socket, published ports' folder,
 * folder and .reg. */
static void remove_files(const char *id, const char (*ports)[8], size_t nports)
{
    char p[4400];
    for (size_t i = 0; i < nports; i++) {
        snprintf(p, sizeof(p), "%s/%s/" AD_NET_SOCK AD_NET_PUB_DIR "/%s", dir, id, ports[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/%s/" AD_NET_SOCK AD_NET_PUB_DIR, dir, id);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/%s/" AD_NET_SOCK, dir, id);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", dir, id);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/%s.reg", dir, id);
    unlink(p);
}

/* Ends registration i: its listeners closed, its files removed (its
 * connections at work end on their own). */
static void drop(size_t i)
{
    agent_t *a = agents[i];
    agents[i] = agents[--nagents];
    unwatch(a->l);
    unwatch(a->pidfd);
    for (size_t k = 0; k < a->npub; k++) {
        unwatch(a->wpub[k].fd);
    }
    remove_files(a->id, (const char(*)[8])a->pub_port, a->npub);
    unref(a);
}

/* POLICY's ^PORT entries: the folder the bridge listens in (the sandbox
 * binds it in) and a listener on the host's 127.0.0.1:PORT each (1024 and
 * up: this may be root, the program never is). One that cannot listen is
 * left out (the program runs). */
static void publish(agent_t *a)
{
    for (const char *p = a->pol.policy; *p != '\0';
         p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t n = strcspn(p, ",");
        char *end = NULL, pub[4200];
        if (p[0] != '^') {
            continue;
        }
        snprintf(pub, sizeof(pub), "%s/" AD_NET_SOCK AD_NET_PUB_DIR, a->pol.dir);
        if (mkdir(pub, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "agentd network: cannot make %s: %s\n", pub, strerror(errno));
            return;
        }
        unsigned long port = strtoul(p + 1, &end, 10);
        if (port < 1024 || port > 65535 || end != p + n || a->npub >= AD_NET_MAX_PUBLISH) {
            continue;
        }
        int l = ad_net_listen_loopback(port, false);
        if (l >= 0) {
            snprintf(a->pub_port[a->npub], sizeof(a->pub_port[0]), "%lu", port);
            watch(&a->wpub[a->npub], W_PUB, a, l, (unsigned)a->npub);
            a->npub++;
        }
    }
}

/* The registration's file, DIR/ID.reg (written whole, then renamed).
 * True also when the disk has no room for it (ENOSPC, EDQUOT): the
 * program is served all the same, as a full disk stalls an agent rather
 * than failing it, and a->unsaved says the file is written again every
 * SAVE_RETRY_MS until there is room (save_again), so a proxy restarted
 * after that takes it up too (said on stderr, the proxy's log, once). */
static bool save(agent_t *a)
{
    char p[4400], tmp[4400];
    snprintf(p, sizeof(p), "%s/%s.reg", dir, a->id);
    snprintf(tmp, sizeof(tmp), "%s/%s.reg.tmp", dir, a->id);
    FILE *f = fopen(tmp, "we");
    bool made = f != NULL, ok = made;
    if (made) {
        fprintf(f, "%ld %" PRIu64 "\n%s\n", (long)a->pid, a->start, a->pol.policy);
        ok = fclose(f) == 0 && rename(tmp, p) == 0;
    }
    if (!ok) {
        int e = errno;
        if (made) {
            unlink(tmp);
        }
        if (e == ENOSPC || e == EDQUOT) {
            if (!a->unsaved) {
                fprintf(stderr,
                        "agentd network: %s served without its registration file (written once "
                        "there is room): %s\n",
                        a->id, strerror(e));
            }
            a->unsaved = some_unsaved = true;
            return true;
        }
        errno = e;
    }
    a->unsaved = false;
    return ok;
}

/* The registrations served without their file: written again, at most
 * every SAVE_RETRY_MS. */
static void save_again(void)
{
    static uint64_t next;
    uint64_t now = ad_mono_ms();
    if (!some_unsaved || now < next) {
        return;
    }
    next = now + SAVE_RETRY_MS;
    some_unsaved = false;
    for (size_t i = 0; i < nagents; i++) {
        if (agents[i]->unsaved) {
            save(agents[i]); /* sets some_unsaved again while there is no room */
        }
    }
}

/* Registers id for the live process pid (pidfd, started at start): its
 * folder and socket made, its ports published. NULL, or why not. */
static const char *add(const char *id, pid_t pid, int pidfd, uint64_t start, const char *policy)
{
    for (size_t i = 0; i < nagents; i++) {
        if (strcmp(agents[i]->id, id) == 0) { /* the same program started again */
            drop(i);
            break;
        }
    }
    if (nagents >= MAX_AGENTS) {
        return "too many sandboxed programs";
    }
    agent_t *a = calloc(1, sizeof(*a));
    size_t dl = strlen(dir) + 1 + strlen(id) + 1;
    if (a == NULL || (a->pol.policy = strdup(policy)) == NULL ||
        (a->pol.dir = malloc(dl)) == NULL) {
        if (a != NULL) {
            free(a->pol.policy);
        }
        free(a);
        return "out of memory";
    }
    snprintf(a->pol.dir, dl, "%s/%s", dir, id);
    snprintf(a->id, sizeof(a->id), "%s", id);
    ad_net_pol_parse(&a->pol);
    a->pid = pid;
    a->start = start;
    a->pidfd = pidfd;
    atomic_init(&a->refs, 1);
    char sock[4200];
    snprintf(sock, sizeof(sock), "%s/" AD_NET_SOCK, a->pol.dir);
    struct sockaddr_un sa;
    int dirfd = -1;
    a->l = -1;
    if ((mkdir(a->pol.dir, 0700) != 0 && errno != EEXIST) ||
        (unlink(sock) != 0 && errno != ENOENT) || ad_unix_addr(sock, &sa, &dirfd) != 0 ||
        (a->l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(a->l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(a->l, 64) != 0 || !save(a)) {
        fprintf(stderr, "agentd network: cannot serve %s: %s\n", sock, strerror(errno));
        if (a->l >= 0) {
            close(a->l);
        }
        if (dirfd >= 0) {
            close(dirfd);
        }
        free(a->pol.policy);
        free(a->pol.dir);
        free(a);
        remove_files(id, NULL, 0);
        return "cannot make the program's proxy socket";
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    watch(&a->wl, W_AGENT, a, a->l, 0);
    watch(&a->wp, W_PID, a, pidfd, 0);
    publish(a);
    agents[nagents++] = a;
    return NULL;
}

/* A pidfd for pid when it is the process that started at start, else -1. */
static int pidfd_of(pid_t pid, uint64_t *start, bool check)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    uint64_t st = 0;
    if (fd >= 0 && (!ad_hold_proc_start(pid, &st) || (check && st != *start))) {
        close(fd); /* (opened first: the pid cannot be another's after the check) */
        return -1;
    }
    *start = st;
    return fd;
}

/* The registrations a proxy before this one left: each live one served
 * again, the files of the others removed. */
static void take_up(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char id[ID_MAX + 1], p[4400];
        if (n < 5 || n - 4 > ID_MAX || strcmp(e->d_name + n - 4, ".reg") != 0) {
            continue;
        }
        snprintf(id, sizeof(id), "%.*s", (int)(n - 4), e->d_name);
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        FILE *f = fopen(p, "re");
        long pid = 0;
        uint64_t start = 0;
        static char policy[CTL_MAX];
        bool ok = f != NULL && fscanf(f, "%ld %" SCNu64 "\n", &pid, &start) == 2 &&
                  fgets(policy, sizeof(policy), f) != NULL && id_ok(id) && pid > 0;
        if (f != NULL) {
            fclose(f);
        }
        policy[strcspn(policy, "\n")] = '\0';
        int pidfd = ok ? pidfd_of((pid_t)pid, &start, true) : -1;
        if (pidfd < 0 || add(id, (pid_t)pid, pidfd, start, policy) != NULL) {
            if (pidfd >= 0) {
                close(pidfd);
            }
            remove_files(id, NULL, 0);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

/* ---- the control socket ------------------------------------------------------------- */

static void reply(int c, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "%s%s\n", why == NULL ? "ok" : "error: ", why == NULL ? "" : why);
    (void)ad_net_send_all(c, msg, strlen(msg));
}

/* One request on ctl: "D\n", a daemon that stays connected, or
 * "R ID\nPOLICY\n", a registration for the peer's process. */
static void on_ctl(int l)
{
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        return;
    }
    struct timeval tv = {.tv_sec = CTL_TIMEOUT_SEC};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    static char req[CTL_MAX + 1];
    size_t len = 0;
    char *nl2 = NULL;
    while (len < CTL_MAX) {
        ssize_t n = read(c, req + len, CTL_MAX - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        req[len] = '\0';
        char *nl = strchr(req, '\n');
        nl2 = nl != NULL ? strchr(nl + 1, '\n') : NULL;
        if ((len >= 2 && memcmp(req, "D\n", 2) == 0) || nl2 != NULL) {
            break;
        }
    }
    if (len >= 2 && memcmp(req, "D\n", 2) == 0) {
        tv.tv_sec = 0;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        static watch_t wd[64];
        for (size_t i = 0; i < 64; i++) {
            if (wd[i].kind != W_DAEMON || wd[i].fd < 0) {
                reply(c, NULL);
                watch(&wd[i], W_DAEMON, NULL, c, 0);
                ndaemons++;
                return;
            }
        }
        close(c);
        return;
    }
    struct ucred cr;
    socklen_t crl = sizeof(cr);
    char *nl = len > 2 ? strchr(req, '\n') : NULL;
    if (nl == NULL || nl2 == NULL || req[0] != 'R' || req[1] != ' ' ||
        getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0) {
        reply(c, "a registration is \"R ID\\nPOLICY\\n\"");
        close(c);
        return;
    }
    *nl = *nl2 = '\0';
    const char *id = req + 2, *policy = nl + 1;
    uint64_t start = 0;
    int pidfd = id_ok(id) ? pidfd_of(cr.pid, &start, false) : -1;
    const char *why = !id_ok(id)  ? "a program's id is letters, digits, '_' and '-'"
                      : pidfd < 0 ? "the registering process is gone"
                                  : add(id, cr.pid, pidfd, start, policy);
    if (why != NULL && pidfd >= 0) {
        close(pidfd);
    }
    reply(c, why);
    close(c);
}

int ad_hold_net_proxyd(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] != '/') {
        fprintf(stderr, "usage: agentd hold --net-proxyd DIR\n");
        return 2;
    }
    dir = argv[0];
    umask(077);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    char p[4200];
    snprintf(p, sizeof(p), "%s/lock", dir);
    int lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) { /* another one serves DIR */
        printf("ready\n");
        return 0;
    }
    snprintf(p, sizeof(p), "%s/" AD_NET_CTL, dir);
    unlink(p);
    struct sockaddr_un sa;
    int dirfd = -1;
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (l < 0 || ep < 0 || ad_unix_addr(p, &sa, &dirfd) != 0 ||
        bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 256) != 0) {
        fprintf(stderr, "agentd network: cannot listen on %s: %s\n", p, strerror(errno));
        return 1;
    }
    take_up();
    static watch_t wctl;
    watch(&wctl, W_CTL, NULL, l, 0);
    printf("ready\n"); /* to the daemon that started it (src/proc/netd.c) */
    fflush(stdout);
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 1);
        close(nul);
    }
    for (;;) {
        struct epoll_event ev[64];
        int n = epoll_wait(ep, ev, 64, some_unsaved ? SAVE_RETRY_MS : -1);
        for (int i = 0; i < n; i++) {
            watch_t *w = ev[i].data.ptr;
            if (w->kind == W_CTL) {
                on_ctl(w->fd);
                break; /* a registration may have replaced one the rest of ev names */
            } else if (w->kind == W_DAEMON) {
                char b[64];
                if (read(w->fd, b, sizeof(b)) <= 0) { /* the daemon is gone */
                    unwatch(w->fd);
                    w->fd = -1;
                    ndaemons--;
                }
            } else if (w->kind == W_AGENT) {
                accept_on(w->a, w->fd, -1);
            } else if (w->kind == W_PUB) {
                accept_on(w->a, w->fd, (int)w->idx);
            } else { /* W_PID: the program's sandbox ended */
                for (size_t k = 0; k < nagents; k++) {
                    if (agents[k] == w->a) {
                        drop(k);
                        break;
                    }
                }
                break; /* the rest of ev may name what drop freed: epoll says it again */
            }
        }
        if (n < 0 && errno != EINTR) {
            return 1;
        }
        if (ndaemons == 0 && nagents == 0) {
            return 0;
        }
        save_again();
    }
}
