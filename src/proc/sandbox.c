/* SPDX-License-Identifier: MIT */
/*
 * The agent sandbox: bubblewrap (bwrap) runs the agent in new user, mount,
 * pid, ipc and uts namespaces (and a network one unless the caller shares
 * agentd's: an agent's reaches out through agentd's proxy only)
 * whose root holds only what the caller lists, the system read-only and
 * a fresh /tmp, /proc and /dev. Mounts, not permissions, keep agentd's
 * files out of reach: an agent of a root daemon is uid 0 outside too, and
 * a file it cannot see is the only one it cannot read. Its own pid
 * namespace keeps /proc/<agentd>/root, /environ and /cmdline (the
 * holder's names the data dir) out of reach as well.
 *
 * Signals: a stop signals the agent's process group, which holds bwrap
 * itself. bwrap would die of SIGINT at once and take the agent with it, so
 * it is exec'd with SIGINT and SIGTERM ignored (and SIGUSR1, SIGUSR2 and
 * SIGHUP, which an alert may send a run), and the agent is started by
 * something that gives them back before it execs the agent: the network
 * bridge (agentd-hold --net-bridge, netserve.c: it ignores them itself and
 * sets them to default in the child it starts), or, in a sandbox without
 * one (ad_proc_sandbox_plain), `env --default-signal=INT,TERM,USR1,USR2,HUP`.
 * Every agent has the bridge since issue #73, so its start skips env's exec
 * (issue #80). The polite step reaches the agent as before, and bwrap ends
 * when its agent does, with its exit code (128+N for a signal).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/child.h"
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_BIN "/usr/bin/env"
#define NET_DIR_IN "/run/agentd-proxy" /* the program's proxy folder, inside */
#define NET_SOCK_IN NET_DIR_IN "/s"    /* its socket (src/hold/net_int.h) */
#define NET_PORT_IN "3128"             /* the bridge's, on the agent's loopback */
#define PROBE_TIMEOUT_MS 5000

void ad_argv_add(ad_argv_t *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = ad_xrealloc(a->v, a->cap * sizeof(char *));
    }
    a->v[a->n++] = ad_xstrdup(s);
    a->v[a->n] = NULL;
}

static void add(ad_argv_t *a, const char *s)
{
    ad_argv_add(a, s);
}

static void add3(ad_argv_t *a, const char *x, const char *y, const char *z)
{
    add(a, x);
    add(a, y);
    if (z != NULL) {
        add(a, z);
    }
}

void ad_argv_free(ad_argv_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    free(a->v);
    memset(a, 0, sizeof(*a));
}

/* Files of /etc a root agent could read and must not: hashes, sudo
 * rules. Each is covered by an empty file. */
static const char *const etc_secrets[] = {"/etc/shadow",   "/etc/gshadow", "/etc/shadow-",
                                          "/etc/gshadow-", "/etc/sudoers", "/etc/ssh"};

/* The system, read-only: /usr, /etc and the top-level links or folders
 * of a merged or split /usr. */
static void system_binds(ad_argv_t *a)
{
    add3(a, "--ro-bind", "/usr", "/usr");
    static const char *const top[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
    for (size_t i = 0; i < AD_ARRAY_LEN(top); i++) {
        struct stat st;
        char target[PATH_MAX];
        if (lstat(top[i], &st) != 0) {
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(top[i], target, sizeof(target) - 1);
            if (n > 0) {
                target[n] = '\0';
                add3(a, "--symlink", target, top[i]);
            }
        } else if (S_ISDIR(st.st_mode)) {
            add3(a, "--ro-bind", top[i], top[i]);
        }
    }
    add3(a, "--ro-bind", "/etc", "/etc");
    for (size_t i = 0; i < AD_ARRAY_LEN(etc_secrets); i++) {
        struct stat st;
        if (lstat(etc_secrets[i], &st) == 0) {
            add3(a, S_ISDIR(st.st_mode) ? "--tmpfs" : "--ro-bind",
                 S_ISDIR(st.st_mode) ? etc_secrets[i] : "/dev/null",
                 S_ISDIR(st.st_mode) ? NULL : etc_secrets[i]);
        }
    }
    /* A resolver file that links out of /etc (systemd-resolved) */
    char real[PATH_MAX];
    if (realpath("/etc/resolv.conf", real) != NULL && strncmp(real, "/etc/", 5) != 0 &&
        strncmp(real, "/usr/", 5) != 0) {
        add3(a, "--ro-bind-try", real, real);
    }
    add3(a, "--proc", "/proc", NULL);
    add3(a, "--dev", "/dev", NULL);
    add3(a, "--tmpfs", "/tmp", NULL);
    add3(a, "--dir", "/var/tmp", NULL);
}

/* bwrap's options up to the agent's argv (without it). */
static void head(const char *bwrap, const ad_proc_sandbox_t *sb, ad_argv_t *a)
{
    add(a, bwrap);
    static const char *const ns[] = {"--unshare-user", "--unshare-pid", "--unshare-ipc",
                                     "--unshare-uts", "--unshare-cgroup-try"};
    for (size_t i = 0; i < AD_ARRAY_LEN(ns); i++) {
        add(a, ns[i]);
    }
    if (sb == NULL || !sb->network) {
        add(a, "--unshare-net");
    }
    /* No --die-with-parent: an agent outlives a killed agentd as before
     * (the holder, or the next agentd's orphan report, takes it up); a
     * run's helper asks for it. */
    if (sb != NULL && sb->die_with_parent) {
        add(a, "--die-with-parent");
    }
    add3(a, "--cap-drop", "ALL", NULL);
    system_binds(a);
    for (size_t i = 0; sb != NULL && i < sb->nbinds; i++) {
        const ad_proc_bind_t *b = &sb->binds[i];
        switch (b->kind) {
        case AD_PROC_BIND_RO:
            add3(a, "--ro-bind", b->src, b->dst);
            break;
        case AD_PROC_BIND_RW:
            add3(a, "--bind", b->src, b->dst);
            break;
        case AD_PROC_BIND_RO_TRY:
            add3(a, "--ro-bind-try", b->src, b->dst);
            break;
        case AD_PROC_BIND_HIDE:
            add3(a, "--tmpfs", b->dst, NULL);
            break;
        case AD_PROC_BIND_NULL:
            add3(a, "--ro-bind", "/dev/null", b->dst);
            break;
        }
    }
}

/* The registration with the shared proxy before bwrap (issue #80):
 * `agentd-hold --net-register FOLDER POLICY --` (src/hold/netreg.c),
 * FOLDER being sb->net_sock, <data-dir>/proxy/<id>; the proxy made sure
 * of first. */
static int net_register(const ad_proc_sandbox_t *sb, const char *helper, bool sub, ad_argv_t *out,
                        char *err, size_t errsz)
{
    char pdir[PATH_MAX];
    const char *slash = strrchr(sb->net_sock, '/');
    if (slash == NULL || (size_t)(slash - sb->net_sock) >= sizeof(pdir)) {
        snprintf(err, errsz, "no folder for the network proxy");
        return AD_EIO;
    }
    snprintf(pdir, sizeof(pdir), "%.*s", (int)(slash - sb->net_sock), sb->net_sock);
    if (ad_proc_netd_ensure(pdir, err, errsz) != 0) { /* not waited for: netreg.c waits */
        return AD_EIO;
    }
    ad_proc_holder_argv(out, helper, sub, "--net-register");
    char pol[8192];
    snprintf(pol, sizeof(pol), "%s", sb->net_allow);
#ifdef AD_TEST_BUILD
    /* AGENTD_TEST_NET_PUBLIC=ADDR:PORT,...: listeners of the test's that
     * the proxy takes for the internet (a test machine has no other) */
    const char *pub = getenv("AGENTD_TEST_NET_PUBLIC");
    for (const char *p = pub != NULL ? pub : ""; *p != '\0';) {
        size_t n = strcspn(p, ",");
        size_t l = strlen(pol);
        snprintf(pol + l, sizeof(pol) - l, ",~%.*s", (int)n, p);
        p += n + (p[n] == ',');
    }
#endif
    add3(out, sb->net_sock, pol, NULL);
    add(out, "--");
    return 0;
}

int ad_proc_sandbox_argv(const ad_procs_t *s, const ad_proc_sandbox_t *sb, const char *file,
                         const char *const *argv, const char *cwd, ad_argv_t *out, char *err,
                         size_t errsz)
{
    memset(out, 0, sizeof(*out));
    if (!ad_sandbox_settle(s)->ok) {
        snprintf(err, errsz, "no agent sandbox here: %s", s->sbx.why);
        return AD_EPERM;
    }
    /* The bridge inside and the registration outside are the holder's
     * binary; the proxy is agentd's, one for the data dir (netd.c). By
     * real paths: a held agent is exec'd by its holder, whose
     * /proc/self/exe is not agentd. */
    char helper[PATH_MAX] = "";
    bool sub = false;
    if (sb != NULL && sb->net_allow != NULL) {
        char exe[PATH_MAX];
        ad_proc_holder_exe(exe, sizeof(exe), &sub);
        if (sb->net_sock == NULL || realpath(exe, helper) == NULL) {
            snprintf(err, errsz, "no agentd-hold for the agent's network proxy");
            return AD_EIO;
        }
    }
    if (helper[0] != '\0' && !sb->net_shared) {
        int rc = net_register(sb, helper, sub, out, err, errsz);
        if (rc != 0) {
            return rc;
        }
    }
    head(s->sbx.bwrap, sb, out);
    if (helper[0] != '\0') {
        if (ad_proc_net_as_pid1()) { /* the bridge is pid 1 (netserve.c): no reaper beside it */
            add(out, "--as-pid-1");
        }
        add3(out, "--ro-bind", helper, helper);
        /* the folder, not the socket: a proxy started again makes a new
         * socket in it, which the sandbox then sees */
        add3(out, "--ro-bind", sb->net_sock, NET_DIR_IN);
        if (strchr(sb->net_allow, '^') != NULL && !sb->net_shared) { /* published ports' */
            char pub[PATH_MAX + 8];
            snprintf(pub, sizeof(pub), "%s/s.pub", sb->net_sock);
            add3(out, "--bind", pub, NET_SOCK_IN ".pub");
        }
    }
    if (cwd != NULL) {
        add3(out, "--chdir", cwd, NULL);
    }
    add(out, "--");
    if (helper[0] == '\0') { /* no bridge to give the signals back */
        add(out, ENV_BIN);
        add(out, "--default-signal=INT,TERM,USR1,USR2,HUP");
        add(out, "--");
    } else {
        ad_proc_holder_argv(out, helper, sub, "--net-bridge");
        char spec[1100];
        snprintf(spec, sizeof(spec), "%s%s", NET_PORT_IN,
                 sb->net_bridge != NULL ? sb->net_bridge : "");
        add3(out, NET_SOCK_IN, spec, NULL);
        add(out, "--");
    }
    add(out, file);
    for (size_t i = 1; argv[i] != NULL; i++) {
        add(out, argv[i]);
    }
    return 0;
}

/* ---- the probe at start ---------------------------------------------------------- */

/* Runs argv with stderr to a pipe; true when it exited 0 within the
 * bound, else why (its first stderr line, or how it ended). */
static bool run_probe(char *const argv[], char *why, size_t whysz)
{
    char *env[] = {"PATH=" AD_DEFAULT_PATH, NULL};
    ad_buf_t b;
    ad_buf_init(&b, 511);
    ad_child_run_t o = {
        .envp = env, .timeout_ms = PROBE_TIMEOUT_MS, .stderr_only = true, .out = &b};
    ad_child_ran_t ran;
    bool ok = false;
    if (ad_child_run(argv, &o, &ran, why, whysz) != 0) {
        goto out;
    }
    int st = ran.status;
    const char *said = b.len > 0 ? b.data : "";
    size_t first = strcspn(said, "\n");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !ran.timed_out) {
        ok = true;
    } else if (first > 0) {
        snprintf(why, whysz, "%.*s", (int)first, said);
    } else if (ran.timed_out) {
        snprintf(why, whysz, "it did not end within %d ms", PROBE_TIMEOUT_MS);
    } else if (WIFEXITED(st)) {
        snprintf(why, whysz, "it exited with %d", WEXITSTATUS(st));
    } else {
        snprintf(why, whysz, "it was killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
out:
    ad_buf_cleanup(&b);
    return ok;
}

/* The start's probe, run at a thread while the daemon opens its store and
 * takes its runs up (a bwrap start is 10-25 ms, a third of a start on an
 * idle machine); its outcome is taken once, by whoever reads it first. */
struct ad_sandbox_probe {
    pthread_t thread;
    pthread_mutex_t mu;
    bool joined;
    ad_argv_t argv; /* argv[0]: bwrap */
    bool ok;
    char why[4800]; /* ad_sandbox_t's why */
};

/* What the probe found, in ok and why (x's fields or the probe's), logged
 * when it is known (at the probe's thread: one line, as any). */
static void probe_outcome(const char *bwrap, bool found, const char *how, bool *ok, char *why,
                          size_t whysz)
{
    *ok = found;
    if (!found) {
        snprintf(why, whysz,
                 "%s cannot make user and mount namespaces here (%s): allow unprivileged user "
                 "namespaces (sysctl kernel.unprivileged_userns_clone=1, "
                 "user.max_user_namespaces > 0, or an AppArmor profile for bwrap)",
                 bwrap, how);
        ad_log(AD_LOG_WARN, "proc", "no agent sandbox why=\"%s\"", why);
        return;
    }
    snprintf(why, whysz, "bubblewrap at %s: user, mount, pid, ipc and uts namespaces per agent",
             bwrap);
    ad_log(AD_LOG_INFO, "proc", "agent sandbox how=\"%s\"", why);
}

static void *probe_main(void *arg)
{
    struct ad_sandbox_probe *p = arg;
    char how[512] = "";
    bool found = run_probe(p->argv.v, how, sizeof(how));
    probe_outcome(p->argv.v[0], found, how, &p->ok, p->why, sizeof(p->why));
    return NULL;
}

const ad_sandbox_t *ad_sandbox_settle(const ad_procs_t *s)
{
    /* The supervisor is the caller's own (never a const object); its
     * sandbox is written here once, under the probe's lock. */
    ad_sandbox_t *x = (ad_sandbox_t *)&s->sbx;
    struct ad_sandbox_probe *p = x->probe;
    if (p == NULL) {
        return x;
    }
    pthread_mutex_lock(&p->mu);
    if (!p->joined) {
        pthread_join(p->thread, NULL);
        p->joined = true;
        x->ok = p->ok;
        snprintf(x->why, sizeof(x->why), "%s", p->why);
    }
    pthread_mutex_unlock(&p->mu);
    return x;
}

void ad_sandbox_probe_free(ad_procs_t *s)
{
    struct ad_sandbox_probe *p = s->sbx.probe;
    if (p == NULL) {
        return;
    }
    ad_sandbox_settle(s);
    s->sbx.probe = NULL;
    pthread_mutex_destroy(&p->mu);
    ad_argv_free(&p->argv);
    free(p);
}

void ad_procs_sandbox_init(ad_procs_t *s, bool enable, const char *data_dir)
{
    ad_sandbox_t *x = &s->sbx;
    ad_sandbox_probe_free(s); /* an earlier call's */
    memset(x, 0, sizeof(*x));
    snprintf(x->data_dir, sizeof(x->data_dir), "%s", data_dir != NULL ? data_dir : "");
    if (!enable) {
        snprintf(x->why, sizeof(x->why), "turned off (--sandbox off)");
        ad_log(AD_LOG_WARN, "proc", "agent sandbox off: agents see everything agentd's user can");
        return;
    }
    if (ad_path_which_in("bwrap", AD_DEFAULT_PATH ":/usr/sbin", NULL, x->bwrap, sizeof(x->bwrap)) !=
        0) {
        snprintf(x->why, sizeof(x->why),
                 "bubblewrap (bwrap) is not installed: install the bubblewrap package");
        ad_log(AD_LOG_WARN, "proc", "no agent sandbox why=\"%s\"", x->why);
        return;
    }
    if (access(ENV_BIN, X_OK) != 0) {
        snprintf(x->why, sizeof(x->why), "%s is missing (coreutils 8.31 or later)", ENV_BIN);
        ad_log(AD_LOG_WARN, "proc", "no agent sandbox why=\"%s\"", x->why);
        return;
    }
    struct ad_sandbox_probe *p = ad_xcalloc(1, sizeof(*p));
    head(x->bwrap, NULL, &p->argv);
    add(&p->argv, "--");
    add(&p->argv, ENV_BIN);
    add(&p->argv, "--default-signal=INT,TERM,USR1,USR2,HUP");
    add(&p->argv, "--");
    add(&p->argv, "/bin/true");
    ad_proc_net_init(data_dir, x->bwrap); /* netd.c: --as-pid-1, and a proxy left */
    pthread_mutex_init(&p->mu, NULL);
    /* the thread takes no signal: the loop's watchers get them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, probe_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) { /* no thread: probe here, as before */
        char how[512] = "";
        bool found = run_probe(p->argv.v, how, sizeof(how));
        probe_outcome(x->bwrap, found, how, &x->ok, x->why, sizeof(x->why));
        pthread_mutex_destroy(&p->mu);
        ad_argv_free(&p->argv);
        free(p);
        return;
    }
    x->probe = p;
}

bool ad_procs_sandbox(const ad_procs_t *s, const char **why)
{
    const ad_sandbox_t *x = ad_sandbox_settle(s);
    if (why != NULL) {
        *why = x->why[0] != '\0' ? x->why : "not set up";
    }
    return x->ok;
}

void ad_proc_sandbox_plain(const ad_procs_t *s, const char *cwd, ad_proc_bind_t binds[2],
                           ad_proc_sandbox_t *out)
{
    size_t n = 0;
    if (cwd != NULL && cwd[0] == '/') {
        binds[n++] = (ad_proc_bind_t){.kind = AD_PROC_BIND_RW, .src = cwd, .dst = cwd};
    }
    if (s->sbx.data_dir[0] == '/') {
        binds[n++] =
            (ad_proc_bind_t){.kind = AD_PROC_BIND_HIDE, .src = NULL, .dst = s->sbx.data_dir};
    }
    *out = (ad_proc_sandbox_t){.binds = binds, .nbinds = n, .network = true};
}
