/* SPDX-License-Identifier: MIT */
/*
 * The spawner threads: they take the jobs spawn.c builds on the loop, make
 * each one's cgroup and holder directory, start its child and wait for the
 * child's exec (or its failure), and hand the outcome back to the loop
 * through an async handle. The loop never waits for a fork, an exec or a
 * holder's start. What the child does between its start and its exec
 * (child_exec, holder_main) is here too; the loop's side of a spawn is
 * spawn.c's.
 *
 * Why clone(CLONE_VM | CLONE_VFORK) and not fork(): fork copies agentd's
 * page tables and, under ASan, locks its allocator meanwhile (25 ms a fork
 * in the check build, 1-2 ms in release, measured; every thread's malloc
 * waits for it), where a child that shares agentd's memory until its exec
 * costs neither. The child runs on a stack of its own (each thread keeps
 * two: the child's, and for a held spawn the agent's, whom the holder
 * starts the same way) and, until it execs, only reads its job and makes
 * system calls; the thread that cloned it is suspended meanwhile, so the
 * errno it writes is nobody else's. ThreadSanitizer's clone interceptor
 * would treat such a child as a fork of its own memory, so the tsan build
 * forks instead (the same child code; only slower).
 *
 * Why clone3 with CLONE_INTO_CGROUP where the kernel has it (5.7+, issue
 * #80): a child that moves itself into its run's cgroup (a write of "0"
 * to cgroup.procs) waits for the kernel's threadgroup lock, which after a
 * quiet spell waits for an RCU grace period: 11 ms at p50 here, most of a
 * start. A child born in its cgroup pays nothing of that (0.8 ms p50 for
 * the whole clone-to-exec, against 14.8 ms; a fork-like clone3 took 3.5
 * ms: it copies the page tables). clone3 takes a stack but no function,
 * so clone3_vm below is a few lines of assembly per architecture that
 * calls the child's function on its stack and exits with its return;
 * other architectures, a kernel without clone3 (ENOSYS), one that refuses
 * the cgroup (EINVAL, EBUSY, EOPNOTSUPP) and a seccomp filter that
 * refuses clone3 (EPERM, ENOSYS) all get the clone and the write, as
 * before.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define SPAWN_BY_FORK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPAWN_BY_FORK 1
#endif
#endif
#ifndef SPAWN_BY_FORK
#define SPAWN_BY_FORK 0
#endif

#define STACK_SIZE (256u * 1024u)

/* clone3's arguments (linux/sched.h's struct clone_args, its version 2,
 * spelt here so no kernel header is needed) and the flag it brought. */
typedef struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
} clone3_args_t;
#define CLONE3_INTO_CGROUP 0x200000000ULL
#ifndef SYS_clone3
#define SYS_clone3 435 /* the same number on every architecture */
#endif

/* What a child says on the report pipe, 8 bytes a record (atomic). */
enum { REP_PID = 1, REP_EXEC_ERRNO = 2, REP_HOLDER_ERRNO = 3 };
typedef struct {
    int32_t kind, val;
} rep_t;

/* Code that runs in a child that shares agentd's memory: no sanitizer
 * instrumentation (its shadow and thread state are the suspended
 * thread's), no allocation, system calls only. */
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined", "thread"), noinline))

/* One thread's stacks for the children it starts. */
typedef struct {
    ad_procs_t *s;
    char *stack[2];
} spawner_arg_t;

/* What a child needs: its job, the report pipe's write end, its cgroup's
 * cgroup.procs (or -1), the agent's stack and (held) the agent's own
 * report pipe to its holder. In fork mode each child has its copy. */
typedef struct {
    ad_spawn_job_t *j;
    int rep, cgfd;
    int cgdir;    /* the cgroup's folder, for clone3 (or -1) */
    bool no_into; /* always move by cgroup.procs (a test's knob) */
    bool born_in; /* the agent was born in its cgroup: no move */
    int ap[2];
    char *agent_stack;
} child_arg_t;

/* ---- in the child ------------------------------------------------------------ */

CHILD_CODE static void say(int fd, int kind, int val)
{
    rep_t r = {kind, val};
    ssize_t w = write(fd, &r, sizeof(r));
    (void)w;
}

/* The nice of the autogroup this process is in ("/autogroup-N nice K"),
 * or 0 when the kernel has none or this is its default group (init's
 * session: the file is empty). */
CHILD_CODE static int group_nice(void)
{
    char t[64];
    int fd = open("/proc/self/autogroup", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, t, sizeof(t) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    int k = 0, sign = 1;
    for (ssize_t i = 0; i + 6 < len; i++) {
        if (t[i] == ' ' && t[i + 1] == 'n' && t[i + 2] == 'i' && t[i + 5] == ' ') {
            i += 6;
            if (i < len && t[i] == '-') {
                sign = -1;
                i++;
            }
            for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                k = k * 10 + (t[i] - '0');
            }
            break;
        }
    }
    return sign * k;
}

/* n (1-19) below agentd: the new session's autogroup (the scheduler's
 * unit when the kernel groups by session: 100 starting agents then weigh
 * as much as agentd each), from the one agentd was in (base), and the
 * process itself, whose children inherit it. Only ever lower, which needs
 * no privilege; best effort (no autogroups: no file to write). */
CHILD_CODE static void lower_priority(int n, int base)
{
    int g = base + n > 19 ? 19 : base + n;
    char v[4], *p = v + sizeof(v);
    *--p = '\0';
    int a = g < 0 ? -g : g;
    do {
        *--p = (char)('0' + a % 10);
        a /= 10;
    } while (a > 0);
    if (g < 0) {
        *--p = '-';
    }
    int fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, p, (size_t)(v + sizeof(v) - 1 - p));
        (void)w;
        close(fd);
    }
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, 0);
    if (errno == 0 && cur < 19) {
        (void)setpriority(PRIO_PROCESS, 0, cur + n > 19 ? 19 : cur + n);
    }
}

/* The agent (or a plain child), from its start to its exec: its cgroup,
 * default signals, its own session, the pty as its controlling terminal,
 * its stdio, its cwd, nothing else open, then the program. A failure is
 * said on rep (REP_EXEC_ERRNO) and on its stderr, and it exits 127. */
CHILD_CODE static _Noreturn void child_exec(const ad_spawn_job_t *j, int rep, int cgfd)
{
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
    if (j->sandboxed) { /* bwrap passes them on to the program (sandbox.c) */
        sa.sa_handler = SIG_IGN;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        /* the signals an alert may send (SIGUSR1: a checkpoint) */
        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGUSR2, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
    }

    /* kept across exec; a parent gone before it was set is seen now */
    if (j->die_with > 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != j->die_with)) {
        goto fail;
    }
    if (setsid() < 0) {
        goto fail;
    }
    if (j->nice > 0) {
        lower_priority(j->nice, j->group_nice);
    }
    if (j->pty && ioctl(j->fd_out, TIOCSCTTY, 0) != 0) {
        goto fail;
    }
    if (dup2(j->fd_in, 0) < 0 || dup2(j->fd_out, 1) < 0 || dup2(j->fd_err, 2) < 0) {
        goto fail;
    }
    if (j->cwd != NULL && chdir(j->cwd) != 0) {
        goto fail;
    }
    /* Nothing of agentd's (sockets, the database) may reach the agent. */
    if (syscall(SYS_close_range, 3u, (unsigned)rep - 1, 0u) != 0 ||
        syscall(SYS_close_range, (unsigned)rep + 1, ~0u, 0u) != 0) {
        for (int fd = 3; fd < 65536; fd++) {
            if (fd != rep) {
                close(fd);
            }
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(j->file, j->argv.v, j->envp);
fail:;
    int e = errno;
    say(rep, REP_EXEC_ERRNO, e);
    /* and on its stderr: a plain child's is not read, a held one's is
     * its holder's spool (the run's transcript) */
    char num[16];
    int n = (int)sizeof(num);
    for (unsigned v = (unsigned)e; n > 0 && (v > 0 || n == (int)sizeof(num)); v /= 10) {
        num[--n] = (char)('0' + v % 10);
    }
    ssize_t wr = write(2, "agentd: cannot run ", 19);
    wr = write(2, j->file, strlen(j->file));
    wr = write(2, ": errno ", 8);
    wr = write(2, num + n, sizeof(num) - (size_t)n);
    wr = write(2, "\n", 1);
    (void)wr;
    _exit(127);
}

CHILD_CODE static int plain_main(void *arg)
{
    child_arg_t *c = arg;
    child_exec(c->j, c->rep, c->born_in ? -1 : c->cgfd);
}

CHILD_CODE static int agent_main(void *arg)
{
    child_arg_t *c = arg;
    child_exec(c->j, c->ap[1], c->born_in ? -1 : c->cgfd);
}

/* clone3 with args (CLONE_VM | CLONE_VFORK and a stack of its own): the
 * child calls fn(arg) on that stack and exits with what it returns (it
 * execs or _exits first, always). The parent gets the raw result: a pid
 * or -errno. Nothing of the C caller's frame is used by the child: it
 * never returns from here. */
#if !SPAWN_BY_FORK
CHILD_CODE static long clone3_vm(clone3_args_t *args, int (*fn)(void *), void *arg)
{
#if defined(__x86_64__)
    long ret;
    /* the syscall keeps every register but rax, rcx and r11; the child
     * starts with rsp at the top of its stack (16-byte aligned) */
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov %[arg], %%rdi\n\t"
                     "call *%[fn]\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov $60, %%eax\n\t" /* SYS_exit */
                     "syscall\n\t"
                     "hlt\n"
                     "1:\n"
                     : "=a"(ret)
                     : "0"((long)SYS_clone3), "D"(args),
                       "S"(sizeof(*args)), [fn] "r"(fn), [arg] "r"(arg)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_clone3;
    register long x0 __asm__("x0") = (long)args;
    register long x1 __asm__("x1") = (long)sizeof(*args);
    __asm__ volatile("svc #0\n\t"
                     "cbnz x0, 1f\n\t"
                     "mov x0, %[arg]\n\t"
                     "blr %[fn]\n\t"
                     "mov x8, #93\n\t" /* SYS_exit */
                     "svc #0\n"
                     "1:\n"
                     : "+r"(x0)
                     : "r"(x1), "r"(x8), [fn] "r"(fn), [arg] "r"(arg)
                     : "x30", "memory");
    return x0;
#else
    AD_UNUSED(args);
    AD_UNUSED(fn);
    AD_UNUSED(arg);
    return -ENOSYS;
#endif
}
#endif

/* A child: sharing this memory until its exec (the caller waits for
 * that), or forked in the tsan build. With cgdir >= 0 it is born in that
 * cgroup where clone3 can (c->born_in then says so), else it moves itself
 * (child_exec). */
CHILD_CODE static pid_t start_child(int (*fn)(void *), child_arg_t *c, char *stack, int cgdir)
{
    c->born_in = false;
#if SPAWN_BY_FORK
    AD_UNUSED(stack);
    AD_UNUSED(cgdir);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(fn(c));
    }
    return pid;
#else
    if (cgdir >= 0 && !c->no_into) {
        clone3_args_t a = {.flags = CLONE_VM | CLONE_VFORK | CLONE3_INTO_CGROUP,
                           .exit_signal = SIGCHLD,
                           .stack = (uint64_t)(uintptr_t)stack,
                           .stack_size = STACK_SIZE,
                           .cgroup = (uint64_t)cgdir};
        c->born_in = true; /* read by the child, before this returns */
        long pid = clone3_vm(&a, fn, c);
        if (pid > 0) {
            return (pid_t)pid;
        }
        c->born_in = false; /* refused: the way every kernel has */
    }
    return clone(fn, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
#endif
}

/* The holder, from its start to its exec: it leaves agentd's session (a
 * terminal's ^C or agentd's end must not reach it), becomes the subreaper
 * of the agent's tree, starts the agent and waits for its exec, says its
 * pid, and execs agentd-hold with its ends on fds 3-6 and nothing else
 * open. An agent whose exec failed is reaped and no holder runs. */
CHILD_CODE static int holder_main(void *arg)
{
    child_arg_t *c = arg;
    ad_spawn_job_t *j = c->j;
    setsid();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* the agent's report: made here, so that no one else holds its
     * write end open */
    if (pipe2(c->ap, O_CLOEXEC) != 0) {
        say(c->rep, REP_HOLDER_ERRNO, errno);
        _exit(127);
    }
    pid_t a = start_child(agent_main, c, c->agent_stack, c->cgdir);
    if (a < 0) {
        say(c->rep, REP_HOLDER_ERRNO, errno);
        _exit(127);
    }
    close(c->ap[1]);
    rep_t r;
    ssize_t n;
    do {
        n = read(c->ap[0], &r, sizeof(r));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(r)) { /* its exec failed */
        say(c->rep, r.kind, r.val);
        while (waitpid(a, NULL, 0) < 0 && errno == EINTR) {
        }
        _exit(127);
    }
    say(c->rep, REP_PID, a);
    /* its pid as the holder's argument */
    char tmp[24];
    int k = 0;
    for (unsigned long v = (unsigned long)a; k == 0 || v > 0; v /= 10) {
        tmp[k++] = (char)('0' + v % 10);
    }
    for (int i = 0; i < k; i++) {
        j->hold_pid[i] = tmp[k - 1 - i];
    }
    j->hold_pid[k] = '\0';
    /* the holder's ends; the agent's were for it only */
    int src[5] = {j->hs, j->h_out, j->h_err, j->h_in, c->rep};
    int hi[5];
    for (int i = 0; i < 5; i++) {
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
    int rep = hi[4] >= 0 ? dup3(hi[4], 7, O_CLOEXEC) : -1;
    syscall(SYS_close_range, 8u, ~0u, 0u);
    char *env[] = {NULL};
    execve(j->hold_exe, j->hold_argv, env);
    say(rep, REP_HOLDER_ERRNO, errno);
    kill(-a, SIGKILL);
    while (waitpid(a, NULL, 0) < 0 && errno == EINTR) {
    }
    _exit(127);
}

/* ---- on a spawner thread ------------------------------------------------------- */

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

static int cloexec_pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* The child's ends (a pty's slave may be all three of them). */
static void job_close_ends(ad_spawn_job_t *j)
{
    if (j->fd_in == j->fd_out) {
        j->fd_in = -1;
    }
    if (j->fd_err == j->fd_out) {
        j->fd_err = -1;
    }
    int *ends[] = {&j->fd_in, &j->fd_out, &j->fd_err, &j->h_in, &j->h_out, &j->h_err, &j->hs};
    for (size_t i = 0; i < AD_ARRAY_LEN(ends); i++) {
        close_fd(ends[i]);
    }
}

/* The holder's directory (and the hold/ above it). */
static int hold_dir(ad_spawn_job_t *j)
{
    char up[4200];
    snprintf(up, sizeof(up), "%s", j->hold_dir);
    char *slash = strrchr(up, '/');
    if (slash != NULL) {
        *slash = '\0';
        mkdir(up, 0700);
    }
    if (mkdir(j->hold_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(j->err, sizeof(j->err), "holder setup in %.400s: %s", j->hold_dir,
                 strerror(errno));
        return AD_EIO;
    }
    return 0;
}

/* Starts j's child and waits for its exec or its failure; the outcome in
 * j. The child's ends of its descriptors are closed here. */
static void run_job(ad_procs_t *s, spawner_arg_t *sa, ad_spawn_job_t *j)
{
#ifdef AD_TEST_BUILD
    for (int i = 0; s->sp.gate[0] != '\0' && access(s->sp.gate, F_OK) == 0 && i < 6000; i++) {
        usleep(10000); /* at most a minute */
    }
    if (j->held && s->sp.hold_exe[0] != '\0') {
        snprintf(j->hold_exe, sizeof(j->hold_exe), "%s", s->sp.hold_exe);
    }
#endif
    child_arg_t c = {.j = j,
                     .rep = -1,
                     .cgfd = -1,
                     .cgdir = -1,
                     .no_into = s->sp.no_into,
                     .ap = {-1, -1},
                     .agent_stack = sa->stack[1]};
    int rp[2] = {-1, -1};
    /* agentd's autogroup's nice: a held agent's parent, the holder, is in
     * a new session (0) by the time the agent could read its own */
    j->group_nice = j->nice > 0 ? group_nice() : 0;
    j->rc = j->held ? hold_dir(j) : 0;
    if (j->rc == 0 && !j->no_cgroup) {
        j->rc = ad_cgroup_create(&s->cg, j->cg_name, &j->limits, j->cgroup, sizeof(j->cgroup),
                                 &c.cgfd, j->err, sizeof(j->err));
    }
    if (c.cgfd >= 0) { /* the child is born there where clone3 can */
        c.cgdir = open(j->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (j->rc == 0 && cloexec_pipe(rp) != 0) {
        snprintf(j->err, sizeof(j->err), "pipe: %s", strerror(errno));
        j->rc = AD_EIO;
    }
    pid_t pid = -1;
    if (j->rc == 0) {
        c.rep = rp[1];
        /* a holder stays out of its agent's cgroup (a stop kills the
         * cgroup, not the holder): only the agent is born there */
        pid = start_child(j->held ? holder_main : plain_main, &c, sa->stack[0],
                          j->held ? -1 : c.cgdir);
        if (pid < 0) {
            snprintf(j->err, sizeof(j->err), "fork: %s", strerror(errno));
            j->rc = AD_EIO;
        } else if (c.cgfd >= 0) { /* how it joined (the holder's clone wrote c.born_in) */
            j->born_in = c.born_in;
            __atomic_fetch_add(c.born_in ? &s->sp.born_in : &s->sp.moved, 1, __ATOMIC_RELAXED);
        }
    }
    close_fd(&rp[1]);
    close_fd(&c.cgfd);
    close_fd(&c.cgdir);
    job_close_ends(j);
    /* What the child said (its exec, or the holder's start): at once with
     * a clone, which returned after the exec; a forked child's takes until
     * then. EOF: every writer has exec'd. */
    rep_t got[3];
    size_t ngot = 0;
    while (rp[0] >= 0 && ngot < AD_ARRAY_LEN(got)) {
        ssize_t n = read(rp[0], &got[ngot], sizeof(got[0]));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != (ssize_t)sizeof(got[0])) {
            break;
        }
        ngot++;
    }
    close_fd(&rp[0]);
    if (j->rc != 0) {
        return;
    }
    j->pid = pid;
    for (size_t i = 0; i < ngot && j->rc == 0; i++) {
        if (got[i].kind == REP_EXEC_ERRNO) {
            snprintf(j->err, sizeof(j->err), "%s: %s", j->argv.v[0], strerror(got[i].val));
            j->rc = errno_to_ad(got[i].val);
        } else if (got[i].kind == REP_HOLDER_ERRNO) {
            snprintf(j->err, sizeof(j->err), "the holder could not start: %s",
                     strerror(got[i].val));
            j->rc = AD_EIO;
        } else if (got[i].kind == REP_PID && j->held) {
            j->holder = pid;
            j->pid = got[i].val;
        }
    }
    if (j->rc == 0 && j->held && j->holder == 0) {
        snprintf(j->err, sizeof(j->err), "the holder could not start the agent");
        j->rc = AD_EIO;
    }
    if (j->rc != 0 && j->held) {
        rmdir(j->hold_dir); /* nothing ran in it */
    }
}

static void *spawner_main(void *arg)
{
    spawner_arg_t *sa = arg;
    ad_spawner_t *sp = &sa->s->sp;
    pthread_mutex_lock(&sp->mu);
    for (;;) {
        while (sp->todo == NULL && !sp->quit) {
            pthread_cond_wait(&sp->cv, &sp->mu);
        }
        if (sp->todo == NULL) {
            break;
        }
        ad_spawn_job_t *j = sp->todo;
        sp->todo = j->next;
        if (sp->todo == NULL) {
            sp->todo_tail = &sp->todo;
        }
        bool quit = sp->quit;
        pthread_mutex_unlock(&sp->mu);
        if (quit) {
            snprintf(j->err, sizeof(j->err), "shutting down");
            j->rc = AD_ESTATE;
            job_close_ends(j);
        } else {
            run_job(sa->s, sa, j);
        }
        j->done_ns = ad_mono_ns();
        pthread_mutex_lock(&sp->mu);
        j->next = NULL;
        if (j->sync) { /* its caller waits for it (ad_spawner_run_sync) */
            j->sync_done = true;
            pthread_cond_broadcast(&sp->sync_cv);
            continue;
        }
        *sp->done_tail = j;
        sp->done_tail = &j->next;
        pthread_mutex_unlock(&sp->mu);
        uv_async_send(&sp->async);
        pthread_mutex_lock(&sp->mu);
    }
    pthread_mutex_unlock(&sp->mu);
    for (int i = 0; i < 2; i++) {
        if (sa->stack[i] != NULL) {
            munmap(sa->stack[i], STACK_SIZE);
        }
    }
    free(sa);
    return NULL;
}

/* ---- on the loop ------------------------------------------------------------------ */

static void on_async(uv_async_t *h)
{
    ad_procs_t *s = h->data;
    ad_spawner_t *sp = &s->sp;
    pthread_mutex_lock(&sp->mu);
    ad_spawn_job_t *list = sp->done;
    sp->done = NULL;
    sp->done_tail = &sp->done;
    pthread_mutex_unlock(&sp->mu);
    while (list != NULL) {
        ad_spawn_job_t *j = list;
        list = j->next;
        sp->pending--;
        if (sp->pending == 0) {
            uv_unref((uv_handle_t *)&sp->async);
        }
        ad_proc_spawned(s, j, true);
    }
}

void ad_spawner_init(ad_procs_t *s)
{
    ad_spawner_t *sp = &s->sp;
    pthread_mutex_init(&sp->mu, NULL);
    pthread_cond_init(&sp->cv, NULL);
    pthread_cond_init(&sp->sync_cv, NULL);
    sp->todo_tail = &sp->todo;
    sp->done_tail = &sp->done;
    uv_async_init(s->loop, &sp->async, on_async);
    sp->async.data = s;
    uv_unref((uv_handle_t *)&sp->async);
#ifdef AD_TEST_BUILD
    const char *gate = getenv("AGENTD_TEST_SPAWN_GATE");
    const char *hexe = getenv("AGENTD_TEST_HOLDER_EXE");
    snprintf(sp->gate, sizeof(sp->gate), "%s", gate != NULL ? gate : "");
    snprintf(sp->hold_exe, sizeof(sp->hold_exe), "%s", hexe != NULL ? hexe : "");
#endif
    /* no signal handler may run on these threads, nor in a child before
     * its exec resets them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < AD_PROC_SPAWNERS; i++) {
        spawner_arg_t *sa = ad_xcalloc(1, sizeof(*sa));
        sa->s = s;
        for (int k = 0; k < 2 && !SPAWN_BY_FORK; k++) {
            void *m = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
            if (m == MAP_FAILED) {
                AD_BUG("no memory for a spawner's stacks");
            }
            sa->stack[k] = m;
        }
        if (pthread_create(&sp->threads[sp->nthreads], NULL, spawner_main, sa) != 0) {
            AD_BUG("cannot start a spawner thread");
        }
        sp->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ad_spawner_submit(ad_procs_t *s, ad_spawn_job_t *j)
{
    ad_spawner_t *sp = &s->sp;
    if (sp->pending++ == 0) {
        uv_ref((uv_handle_t *)&sp->async);
    }
    j->queued_ns = ad_mono_ns();
    j->next = NULL;
    pthread_mutex_lock(&sp->mu);
    *sp->todo_tail = j;
    sp->todo_tail = &j->next;
    pthread_cond_signal(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
}

void ad_spawner_run_sync(ad_procs_t *s, ad_spawn_job_t *j)
{
    ad_spawner_t *sp = &s->sp;
    j->sync = true;
    j->queued_ns = ad_mono_ns();
    j->next = NULL;
    pthread_mutex_lock(&sp->mu);
    *sp->todo_tail = j;
    sp->todo_tail = &j->next;
    pthread_cond_signal(&sp->cv);
    while (!j->sync_done) {
        pthread_cond_wait(&sp->sync_cv, &sp->mu);
    }
    pthread_mutex_unlock(&sp->mu);
}

ad_spawn_job_t *ad_spawner_stop(ad_procs_t *s, uv_close_cb on_closed)
{
    ad_spawner_t *sp = &s->sp;
    pthread_mutex_lock(&sp->mu);
    sp->quit = true;
    pthread_cond_broadcast(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
    for (size_t i = 0; i < sp->nthreads; i++) {
        pthread_join(sp->threads[i], NULL);
    }
    sp->nthreads = 0;
    ad_spawn_job_t *list = sp->done;
    sp->done = NULL;
    sp->done_tail = &sp->done;
    sp->pending = 0;
    pthread_mutex_destroy(&sp->mu);
    pthread_cond_destroy(&sp->cv);
    pthread_cond_destroy(&sp->sync_cv);
    uv_close((uv_handle_t *)&sp->async, on_closed);
    return list;
}
