/* SPDX-License-Identifier: MIT */
/*
 * proc: the process supervisor. Spawns argvs in their own session and
 * process group (pipes or a pseudo-terminal) and, where cgroup v2 is
 * writable, their own cgroup, with a clean explicit environment; reads output without blocking and
 * splits it into capped lines; queues stdin; stops (polite step, SIGTERM, SIGKILL), pauses and
 * resumes whole groups; reaps every child and reports its exit once, after
 * all of its output. agentd is a child subreaper: what a tree leaves behind
 * is reaped here, and killed when the tree's leader ends. What a process *means* (runs, agents) is
 * src/agent's.
 *
 * Threads: loop thread only, every function. The forks and execs are done
 * by the supervisor's own spawner threads (src/proc/spawner.c): the loop
 * never waits for them.
 */
#ifndef AD_PROC_H
#define AD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <uv.h>

#include "core/core.h"

typedef struct ad_procs ad_procs_t; /* the supervisor: one per loop */
typedef struct ad_proc ad_proc_t;   /* one child process */

typedef enum { AD_PROC_STDOUT = 1, AD_PROC_STDERR = 2 } ad_proc_stream_t;

/* The polite first step of a graceful stop. */
typedef enum {
    AD_PROC_POLITE_CLOSE_STDIN = 0, /* close stdin (pty: send ^D) */
    AD_PROC_POLITE_SIGINT,          /* SIGINT to the group */
    AD_PROC_POLITE_NONE,            /* straight to SIGTERM */
    AD_PROC_POLITE_SIGINT_CLOSE     /* SIGINT, then close stdin (Claude Code) */
} ad_proc_polite_t;

/* Appended to a line cut at the cap; the rest of that line is skipped. */
#define AD_PROC_TRUNC_MARKER " [agentd: line truncated]"

/* Optional limits for a process tree, enforced by its cgroup (0: none). */
typedef struct {
    uint64_t memory_bytes; /* memory.max (swap off) */
    unsigned cpu_percent;  /* cpu.max: percent of one core, 1-100000 */
} ad_proc_limits_t;

/* What a process tree has used, from its cgroup (has_*: known). */
typedef struct {
    uint64_t cpu_usec;
    uint64_t memory_bytes;
    bool has_cpu, has_memory;
    bool oom_killed; /* the kernel killed a member for memory */
} ad_proc_usage_t;

typedef struct {
    pid_t pid;
    int exit_code;       /* 0-255, or -1 when killed by a signal or lost */
    int term_signal;     /* the signal that ended it, or 0 */
    bool stop_requested; /* ad_proc_stop() was called before it ended */
    bool forced;         /* ... and it came to SIGKILL (force or escalation) */
    bool lost;           /* it could not be reaped (should never happen) */
    bool holder_gone;    /* lost because its holder went away (killed) before its end */
    bool oom_killed;     /* its cgroup's memory limit killed a member */
    uint64_t gap_bytes;  /* held: output bytes its holder no longer had (lost) */
    /* The spawn failed after ad_proc_spawn returned (no on_start was
     * given to hear it): why (borrowed for the call), exit_code 127, pid 0;
     * NULL for a process that ran. */
    const char *start_error;
} ad_proc_exit_t;

/* Callbacks, all on the loop thread. `line` is borrowed for the call, NUL
 * terminated at line[len], without its "\n" (and a trailing "\r"); a line
 * cut at the cap ends with AD_PROC_TRUNC_MARKER and has truncated=true.
 * A last line without a newline is delivered at EOF. In pty mode all output
 * is AD_PROC_STDOUT. */
typedef void (*ad_proc_line_cb)(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                                bool truncated, void *ud);
/* Raw output bytes as read (pty mode: what a terminal shows). Optional. */
typedef void (*ad_proc_data_cb)(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t len,
                                void *ud);
/* Called exactly once, after the process has been reaped and its output has
 * reached EOF (or the drain bound passed). p is freed when this returns:
 * do not keep it. */
typedef void (*ad_proc_exit_cb)(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud);
/* The outcome of a spawn, once: rc 0, the process runs (it has exec'd; for
 * a held one, its holder too): ad_proc_pid() is known from now on and
 * its output is read; else it could not be started (AD_ENOENT, AD_EPERM,
 * AD_ETOOBIG: its exec failed; AD_EIO: the fork or the holder failed;
 * AD_ESTATE: agentd is closing) and err (borrowed for the call) says
 * why: no other callback follows, and p is freed when this returns. */
typedef void (*ad_proc_start_cb)(ad_proc_t *p, int rc, const char *err, void *ud);
/* Held only: the holder stopped reading the agent's output because its
 * spool could not be written (stalled, reason e.g. "disk full"; the agent
 * blocks on its writes), or goes on again (stalled false, reason NULL).
 * Optional. */
typedef void (*ad_proc_stall_cb)(ad_proc_t *p, bool stalled, const char *reason, void *ud);

/* One mount of a sandbox (src/proc/sandbox.c), in order: later ones
 * cover earlier ones. */
typedef enum {
    AD_PROC_BIND_RO,     /* src read-only at dst */
    AD_PROC_BIND_RW,     /* src read-write at dst */
    AD_PROC_BIND_RO_TRY, /* read-only, skipped when src is missing */
    AD_PROC_BIND_HIDE,   /* an empty folder over dst */
    AD_PROC_BIND_NULL    /* an empty file (/dev/null) over dst */
} ad_proc_bind_kind_t;

typedef struct {
    ad_proc_bind_kind_t kind;
    const char *src, *dst;
} ad_proc_bind_t;

/* What a sandboxed tree sees besides the system read-only (/usr, /etc but
 * its secrets, the top-level library links) and fresh /tmp, /proc, /dev. */
typedef struct {
    const ad_proc_bind_t *binds;
    size_t nbinds;
    bool network; /* share agentd's network; false: a namespace of its own */
    /* Its network through agentd's proxy (network false): the tree is
     * registered with the data dir's shared proxy by agentd-hold
     * --net-register net_sock net_allow outside (which then execs bwrap),
     * and the program runs under --net-bridge inside, with
     * HTTP(S)_PROXY=http://127.0.0.1:3128 (src/hold/netproxyd.c).
     * net_allow: the proxy's policy, comma-separated ("*" the internet,
     * host or host:port, "=ADDR:PORT" a host service); NULL: none.
     * net_sock: the program's folder at the proxy, <data-dir>/proxy/<id>
     * (its socket inside, bound in at /run/agentd-proxy). net_bridge: the bridge's
     * host-service listeners, ",PORT=ADDR:PORT..." ("" or NULL: none). */
    const char *net_allow, *net_sock, *net_bridge;
    /* The program at net_sock is registered already (an agent's, for its
     * ACP terminals): only the bridge runs, inside. */
    bool net_shared;
    /* bwrap --die-with-parent (set by the spawn for die_with_daemon). */
    bool die_with_parent;
} ad_proc_sandbox_t;

typedef struct {
    const char *const *argv; /* argv[0]: a path, or a name looked up in PATH */
    const char *cwd;         /* working directory; NULL = agentd's */
    /* Extra "NAME=value" entries (NULL-terminated, may be NULL) on top of the
     * inherited PATH, HOME, LANG, LC_*, USER, LOGNAME, SHELL, TMPDIR, TZ (and
     * TERM in pty mode). They override inherited ones. AGENTD_* names are
     * never passed on, from either source. */
    const char *const *env;
    bool pty; /* a pseudo-terminal as controlling tty and stdio */
    uint16_t rows, cols;
    ad_proc_polite_t polite;
    /* > 0: the program and its session's autogroup run this far below agentd (spawner.c) */
    int nice;
    uint64_t term_grace_ms; /* polite step -> SIGTERM; 0 = 5000 */
    uint64_t kill_grace_ms; /* SIGTERM -> SIGKILL; 0 = 5000 */
    uint64_t drain_ms;      /* after exit, wait this long for EOF; 0 = 2000 */
    size_t max_line_bytes;  /* 0 = 8 MiB */
    size_t max_stdin_bytes; /* queued stdin bytes allowed; 0 = 4 MiB */
    ad_proc_line_cb on_line;
    ad_proc_data_cb on_data;
    ad_proc_exit_cb on_exit;
    ad_proc_stall_cb on_stall;
    /* Optional; without it a spawn that fails late is reported to on_exit
     * (ad_proc_exit_t.start_error). */
    ad_proc_start_cb on_start;
    void *ud;
    /* The tree's cgroup name (a run id; NULL: made up). Unique per spawn. */
    const char *cgroup_name;
    const ad_proc_limits_t *limits; /* NULL: none */
    /* A holder directory (src/hold): the agent runs under an `agentd hold`
     * process that owns its output and outlives this daemon; NULL: a
     * plain child. hold_wait_sec bounds how long a holder whose agent
     * has exited waits for a daemon (0: a day). */
    const char *hold_dir;
    uint32_t hold_wait_sec;
    /* Runs the agent in the sandbox (the holder stays outside); NULL:
     * unconfined. AD_EPERM when the sandbox is not available here. */
    const ad_proc_sandbox_t *sandbox;
    /* Not held: SIGKILLed when agentd dies, even by kill -9
     * (PR_SET_PDEATHSIG; in the sandbox, bwrap --die-with-parent too): a
     * helper of a run (an ACP terminal) must not outlive its supervisor. */
    bool die_with_daemon;
    /* Not held: what it starts may outlive it (the autoscaling hook's
     * nodes, src/fleet): no cgroup of its own, and its end does not end its
     * process group; a stop still signals the group. */
    bool leave_tree;
} ad_proc_opts_t;

/* Where a held process's output is taken up again (ad_proc_attach). */
typedef struct {
    pid_t agent;  /* the agent's pid (its process group) */
    pid_t holder; /* its holder's pid from the holder's info (0: read it again) */
    bool pty;
    bool replay;      /* the holder is gone: serve its spool and exit file */
    uint64_t out_off; /* the first stdout (terminal) byte not stored yet */
    uint64_t err_off; /* the same for stderr */
} ad_proc_resume_t;

/* A held process whose output up to out_off and err_off was stored by
 * another control plane while this one ran it unaware (issue #77): bytes
 * below them are dropped as already had, not counted as a gap, and a
 * partial line before them goes too (the other plane stored it whole).
 * Offsets below what p has change nothing. Loop thread. */
void ad_proc_held_skip(ad_proc_t *p, uint64_t out_off, uint64_t err_off);

/* Returns owned: the supervisor for loop (borrowed). Installs a SIGCHLD
 * watcher. instance names this supervisor among the other agentd on the
 * machine (the data dir; NULL: this process): its trees' cgroups are kept
 * apart from theirs (cgroup.c). Free with ad_procs_free(). */
ad_procs_t *ad_procs_new(uv_loop_t *loop, const char *instance);
/* SIGKILLs any process still alive, reaps it (blocking; SIGKILL is quick),
 * closes every handle without calling exit callbacks. Memory is released
 * once the loop has run the close callbacks. For abnormal ends and tests;
 * a clean exit calls ad_procs_shutdown() first. */
void ad_procs_free(ad_procs_t *s);
/* Stops every live process gracefully (its polite step, SIGTERM after half
 * of grace_ms, SIGKILL after grace_ms) and calls done(ud) once all have
 * exited and their exit callbacks ran (at once if none). done may be NULL. */
void ad_procs_shutdown(ad_procs_t *s, uint64_t grace_ms, void (*done)(void *ud), void *ud);
/* Number of processes whose exit callback has not run yet. */
size_t ad_procs_count(const ad_procs_t *s);
/* How process trees are contained, one line: "cgroup v2 at …" or why the
 * subreaper and process groups are used instead. Borrowed. */
const char *ad_procs_containment(const ad_procs_t *s);
/* Probes the agent sandbox (bubblewrap and the kernel's namespaces; a
 * child runs for a moment, started from a thread so the daemon's start
 * goes on meanwhile: the first question about the sandbox waits for its
 * outcome): enable false turns it off. Until called there is none.
 * data_dir (copied) is what ad_proc_sandbox_plain covers. */
void ad_procs_sandbox_init(ad_procs_t *s, bool enable, const char *data_dir);
/* The sandbox of an organisation's plain program: its cwd read-write
 * (NULL: none), the system read-only, the host's network, and the
 * data_dir given to ad_procs_sandbox_init covered. binds holds 2; out
 * points into it and at cwd (both borrowed for the spawn). Jobs,
 * services, probes and setup commands take ad_proc_sandbox_plain_net. */
void ad_proc_sandbox_plain(const ad_procs_t *s, const char *cwd, ad_proc_bind_t binds[2],
                           ad_proc_sandbox_t *out);

/* A sandboxed program's network (issue #73; all borrowed): a namespace of
 * its own whatever it is, with the internet through agentd's proxy
 * (network true, no allow list), only the allow list's hosts (nallow > 0)
 * or its loopback alone (network false), and nservices host services
 * "ADDR:PORT" opened as an agent's sandbox.hostServices. */
typedef struct {
    bool network;
    const char *const *allow;
    size_t nallow;
    const char *const *services;
    size_t nservices;
    /* 1..65535: the program's 127.0.0.1:publish is published on the
     * host's 127.0.0.1:publish through the proxy (a service's; 0: none) */
    unsigned publish;
    /* "127.0.0.1:PORT": agentd's own OpenTelemetry receiver, which a run
     * sends its telemetry to: the bridge listens at PORT inside and the
     * proxy forwards there only POST /v1/traces, /v1/metrics or /v1/logs
     * (its "@ADDR:PORT", netproxy.c); NULL: none */
    const char *otlp;
} ad_proc_net_t;

/* A stored sandbox policy's network (a workspace's {network, hostServices},
 * checked when stored; NULL or absent: network "on") into net, its allow
 * list into allow (amax) and its host services into svc (smax), borrowed
 * from pol. */
void ad_proc_net_of(const json_t *pol, ad_proc_net_t *net, const char **allow, size_t amax,
                    const char **svc, size_t smax);
/* The proxy's policy for net into allow (the proxy's POLICY), the
 * bridge's host-service listeners into bridge and the program's folder at
 * the proxy, <data_dir>/proxy/<id>, into sock, and sb pointed at them (net_allow,
 * net_sock, net_bridge); sb untouched when net needs no proxy (the
 * loopback alone). 0, AD_EINVAL (an entry refused) or AD_EIO, err says
 * why (plainnet.c). */
int ad_proc_net_fill(const char *data_dir, const char *id, const ad_proc_net_t *net, char *allow,
                     size_t allowsz, char *bridge, size_t bridgesz, char *sock, size_t socksz,
                     ad_proc_sandbox_t *sb, char *err, size_t errsz);
/* sock (a folder ad_proc_net_fill made; "" none) made a name of its own,
 * <id>-<when>-<n>, for a second program of one agent at once (its goal's
 * check): its registration ends with it and leaves the agent's alone.
 * false when socksz has no room. */
bool ad_proc_net_own(char *sock, size_t socksz);

/* An organisation's plain program in a sandbox (a job, a service, its
 * probe): sb is what the spawn takes, pointing into the rest. */
typedef struct {
    ad_proc_sandbox_t sb;
    ad_proc_bind_t binds[2];
    char net_allow[4096], net_bridge[1024], net_sock[4096];
} ad_proc_plain_t;

/* ad_proc_sandbox_plain of cwd with net's network instead of the host's
 * (net NULL: the internet through the proxy, nothing of the host's); id
 * names the proxy's socket (one per running program: a job's or a
 * service's id). 0, or an AD_E* code with err. */
int ad_proc_sandbox_plain_net(const ad_procs_t *s, const char *cwd, const char *id,
                              const ad_proc_net_t *net, ad_proc_plain_t *x, char *err,
                              size_t errsz);
/* The shell command line (for /bin/sh -c) that runs cmd with sh in the
 * plain sandbox of cwd with net's network (NULL: the internet through the
 * proxy): an organisation's worktree setup command. Owned (free()); NULL
 * when there is no sandbox here. */
char *ad_proc_sandbox_shell(const ad_procs_t *s, const char *cwd, const char *cmd,
                            const ad_proc_net_t *net);
/* ---- an agent's sandbox (agentbox.c) ------------------------------------------------ */

#define AD_PROC_BOX_BINDS 96

typedef struct {
    const char *path;
    bool write;
} ad_proc_box_path_t;

/* The policy an agent's sandbox is built from, resolved by the caller;
 * every path is this machine's (all borrowed). */
typedef struct {
    const char *data_dir;     /* covered; homes/<agent> and proxy/<agent> made below it */
    const char *agent_id;     /* names its home and its proxy's socket */
    const char *wt;           /* its worktree (or working folder), read-write */
    const char *git_common;   /* the repository's common git folder, from agentd's rows (never
                                 from a file in wt: issue #73), shown read-write but its hooks
                                 and config; NULL: none */
    bool read_only;           /* … shown read-only instead */
    const char *exe;          /* the CLI's program as found (its folder shown); NULL: a command */
    const char *cli;          /* "claude", "codex", "gemini" (its config for owners), or NULL */
    bool owners;              /* an agent of the owner's organisation */
    bool unconfined;          /* the policy is "none" */
    bool network;             /* network "on": the internet through agentd's proxy */
    const char *const *allow; /* network {allow}: nallow host[:port] (network off but them) */
    size_t nallow;
    /* sandbox.hostServices: nservices "ADDR:PORT" of this host (an IP
     * literal, [v6] bracketed; checked by src/run/spec.c) the agent
     * reaches whatever its network, at 127.0.0.1:PORT inside too */
    const char *const *services;
    size_t nservices;
    const char *otlp; /* agentd's OTLP receiver "127.0.0.1:PORT" (ad_proc_net_t), or NULL */
    const ad_proc_box_path_t *paths; /* an admin's paths (ad_proc_box_path_ok at build) */
    size_t npaths;
    const char *sandbox_paths; /* --sandbox-paths, comma-separated, read-only; may be NULL */
    const char *own_home;      /* an owner's agent's own HOME (state.env), or NULL */
    /* The program as resolved (ad_proc_resolve), the agent's PATH
     * (ad_proc_agent_path) and agentd's user's home: the toolchain the
     * program needs is shown (toolbox.c). argv: a command's, whose
     * arguments naming paths are shown too; NULL for a CLI. */
    const char *program, *path, *home;
    const char *const *argv;
} ad_proc_box_in_t;

/* A built sandbox: sb is what a spawn takes (ad_proc_opts_t.sandbox),
 * pointing into the box. */
typedef struct {
    bool none; /* unconfined: the policy "none", or no sandbox for an owner's agent */
    ad_proc_sandbox_t sb;
    ad_proc_bind_t binds[AD_PROC_BOX_BINDS];
    char *strs[2 * AD_PROC_BOX_BINDS];
    size_t nstrs;
    bool full;             /* a bind did not fit: the start is refused */
    const char *home;      /* HOME inside, NULL when none */
    char exe[4096];        /* the CLI's real program (its symlinks resolved), "" for commands */
    char net_allow[4096];  /* the proxy's policy (ad_proc_sandbox_t.net_allow) */
    char net_bridge[1024]; /* the bridge's host services (ad_proc_sandbox_t.net_bridge) */
    char net_sock[4096];   /* and its folder at the proxy, <data-dir>/proxy/<agent> */
} ad_proc_box_t;

/* Builds in's sandbox into x. AD_EPERM when it may not run here (not the
 * owner's organisation's, and no sandbox on this machine), AD_EINVAL (a
 * path refused, too many), AD_EIO; err says why. Clean up with
 * ad_proc_box_cleanup() either way. */
int ad_proc_box(const ad_procs_t *s, const ad_proc_box_in_t *in, ad_proc_box_t *x, char *err,
                size_t errsz);
void ad_proc_box_cleanup(ad_proc_box_t *x);
/* ---- what a program needs (toolbox.c) ---------------------------------------------- */

/* The agent's PATH: the home's usual toolchain folders that exist and
 * path lacks (~/.local/bin, ~/.cargo/bin, ~/.pyenv/shims, …), then path's
 * entries with a leading ~ expanded. Owned (free()). */
char *ad_proc_agent_path(const char *path, const char *home);
/* argv0 as its user's shell finds it: ~ against home, a relative path
 * against cwd, a bare name on path. 0, AD_ENOENT, AD_EPERM, AD_ETOOBIG. */
int ad_proc_resolve(const char *argv0, const char *path, const char *cwd, const char *home,
                    char *out, size_t outsz);
/* The deny-list entry (relative to home) path is or is in, or that it
 * holds (the home itself); NULL when it is none of home's secrets. */
const char *ad_proc_home_secret(const char *home, const char *path);
/* home's secrets that exist strictly inside dir, into out (at most max). */
size_t ad_proc_home_secrets_in(const char *home, const char *dir, char (*out)[4096], size_t max);

typedef struct {
    const char *program;       /* resolved, absolute; may be NULL */
    const char *const *argv;   /* a command's (argv[1..] checked), or NULL */
    const char *wt, *data_dir; /* shown already / never shown */
    const char *home, *path;   /* agentd's user's home; the agent's PATH */
    const char *const *shown;  /* paths shown already (--sandbox-paths, an admin's) */
    size_t nshown;
    const char *const *writable; /* shown read-write besides wt: what is in them is the agent's */
    size_t nwritable;
} ad_proc_tools_in_t;

typedef struct {
    char root[24][4096]; /* to show read-only, each at its own path */
    bool tree[24];       /* a toolchain tree (false: the path named alone) */
    bool mirror[24];     /* also shown at its place under /home/agent */
    size_t n;
    char hidden[4096]; /* the first path needed that may not be shown, "" if none */
    char hidden_why[256];
} ad_proc_tools_t;

/* What in's program and named paths need shown (heap-allocate out: ~100 KB). */
void ad_proc_tools(const ad_proc_tools_in_t *in, ad_proc_tools_t *out);

/* A program tried in an agent's sandbox (boxcheck.c). */
typedef struct {
    ad_proc_box_t box;  /* what it was shown (ad_proc_box_cleanup() it) */
    bool sandboxed;     /* false: no sandbox here (error says why) */
    char program[4096]; /* as resolved on the agent's PATH, "" when not found */
    bool ran;           /* bwrap ran; code is its exit code (127: could not start) */
    int code;           /* 128+N for signal N; -1 when it did not run */
    char output[2048];  /* its first output (stdout and stderr) */
    char error[1024];   /* why it did not run, or did not end in time */
} ad_proc_check_t;

/* Runs argv in the sandbox in builds (in.wt: a worktree of agentd's, shown
 * read-only, its relative programs found in it; NULL: an empty scratch
 * folder made here; in.cli set: argv[0] is that CLI; else a command, whose arguments' paths
 * are shown) with the agent's environment, for at most timeout_ms.
 * Blocking: the thread pool's. */
void ad_proc_box_check(const ad_procs_t *s, const ad_proc_box_in_t *in, const char *const *argv,
                       int timeout_ms, ad_proc_check_t *out);

/* Shows path (a file agentd made for the run) read-only in x. */
void ad_proc_box_show(ad_proc_box_t *x, const char *path);
/* Whether path may be shown to a sandboxed agent: absolute, existing, and
 * neither inside nor holding data_dir. why says why not. */
bool ad_proc_box_path_ok(const char *data_dir, const char *path, char *why, size_t whysz);

/* Whether spawns can be sandboxed; *why (borrowed, may be NULL) says how,
 * or why not and how to fix it. */
bool ad_procs_sandbox(const ad_procs_t *s, const char **why);
/* Builds a child's clean environment: PATH, HOME, LANG, LC_*, USER,
 * LOGNAME, SHELL, TMPDIR, TZ (and TERM when pty) of agentd's own, then
 * extra (may be NULL) overriding by name; AGENTD_* is dropped from both
 * (but AGENTD_CONFIG from extra). Returns 0 and *out (owned: free with
 * ad_proc_env_free()), or AD_EINVAL with err set for an entry that is
 * not NAME=value. Any thread. */
int ad_proc_env_build(const char *const *extra, bool pty, char ***out, char *err, size_t errsz);
void ad_proc_env_free(char **env);

/* True when every spawn gets a cgroup (a stop kills the whole tree, even
 * members that left the process group). */
bool ad_procs_cgroups(const ad_procs_t *s);
/* True once the supervisor shuts down: no process starts any more (a
 * caller about to have one started elsewhere asks first). */
bool ad_procs_closing(const ad_procs_t *s);
/* Whether per-run memory and cpu limits can be enforced here. */
void ad_procs_limits(const ad_procs_t *s, bool *memory, bool *cpu);

/* Starts a process without waiting for it: what can be checked at once
 * is (the program found on PATH, the cwd, the environment, limits this
 * machine can enforce, a sandbox), then a spawner thread forks and execs
 * it and the outcome comes to on_start (or, when it fails without one,
 * to on_exit). On 0, *out is the new process (owned by the supervisor
 * until its last callback returns). Until the outcome: ad_proc_pid() is
 * 0; input is queued (ad_proc_write, ad_proc_close_stdin) and a terminal
 * sized; a stop waits for the outcome and then applies (a process that
 * failed to start is not stopped: it is gone); signal, pause and resume
 * answer AD_ESTATE; its output is read once it runs. On failure no
 * callback is ever called and the code says why: AD_ENOENT (no such
 * executable or cwd), AD_EPERM (not executable, or limits that cannot be
 * enforced here), AD_EINVAL (empty argv, bad env entry), AD_EIO
 * (pipe/pty failed), AD_ESTATE (shutting down). err (may be NULL) gets a
 * one-line message. opts and everything it points to are borrowed for
 * the call. */
int ad_proc_spawn(ad_procs_t *s, const ad_proc_opts_t *opts, ad_proc_t **out, char *err,
                  size_t errsz);

/* Takes up a held process a previous daemon started (opts->hold_dir is
 * its holder's directory; argv, env and cwd are not used): connects to the
 * holder (or, when at->replay, starts one that serves what a dead holder
 * left), asks for output from at's offsets, and from then on behaves as a
 * spawned process: callbacks, stop, input, the exit once. A terminal's
 * last 64 KiB before out_off come to on_data first (scrollback), not to
 * on_line. Errors as ad_proc_spawn (AD_ECLOSED: the holder does not
 * answer). */
int ad_proc_attach(ad_procs_t *s, const ad_proc_opts_t *opts, const ad_proc_resume_t *at,
                   ad_proc_t **out, char *err, size_t errsz);
/* ---- worker nodes (issue #34, src/node) ----
 * A node starts holders for a control plane that is elsewhere: the holder
 * and its agent as ad_proc_spawn makes them under opts->hold_dir, but no
 * process record here: *fd is the daemon's end of the holder's socket
 * (the caller's to close), *agent its agent's pid. Unlike ad_proc_spawn
 * it returns once both have exec'd (a spawner thread starts them; the
 * caller waits): errors are ad_proc_spawn's and its on_start's. */
int ad_proc_spawn_holder(ad_procs_t *s, const ad_proc_opts_t *opts, int *fd, pid_t *agent,
                         char *err, size_t errsz);
/* A connection to the holder of dir (its unix socket), or, with replay, to
 * a replay holder started for what a dead one left (*replay_pid). The fd,
 * or -1 with err. */
int ad_proc_holder_connect(const char *dir, bool replay, pid_t *replay_pid, char *err,
                           size_t errsz);
/* The control plane's side of a run on a node: as ad_proc_attach, with fd
 * (taken) as the holder's socket (a relay's socket pair, src/node). The
 * process has no cgroup or pid here (ad_proc_remote). */
int ad_proc_attach_fd(ad_procs_t *s, const ad_proc_opts_t *opts, const ad_proc_resume_t *at, int fd,
                      ad_proc_t **out);
/* True for a process on a worker node (ad_proc_attach_fd). */
bool ad_proc_remote(const ad_proc_t *p);

/* Held processes are left running (not stopped, not killed) by
 * ad_procs_shutdown() and ad_procs_free() from now on: `--keep-agents`. */
void ad_procs_keep_held(ad_procs_t *s);
/* The same for the processes on worker nodes only (ad_proc_remote): a
 * control plane that stops while other planes go on leaves its nodes'
 * agents to them (issue #77). Call before ad_procs_shutdown. */
void ad_procs_keep_remote(ad_procs_t *s);
/* True when p runs under a holder. */
bool ad_proc_held(const ad_proc_t *p);
/* A held process's holder: its pid (0 when not known), and its agentd
 * version as it said it ("" for a holder from before it said one). */
pid_t ad_proc_holder_pid(const ad_proc_t *p);
const char *ad_proc_holder_version(const ad_proc_t *p);
/* For a held process, in an on_line callback: the spool offset just past
 * the line being delivered (its newline included); 0 for plain children. */
uint64_t ad_proc_line_end(const ad_proc_t *p, ad_proc_stream_t stream);

/* For a held process: the output up to out / err (spool offsets) is
 * stored, so the holder may free the spool's disk below them (what lies
 * within AD_HOLD_KEEP of them stays for a terminal's scrollback). Sent
 * at most once per MiB of progress; a no-op for plain children. */
void ad_proc_held_ack(ad_proc_t *p, uint64_t out, uint64_t err);

/* For a held process: stop (true) or go on (false) reading the holder's
 * output. The spool keeps what is not read, so a writer that is behind
 * slows the reading instead of losing output. False for plain children
 * (their pipes cannot wait without stalling the agent). */
bool ad_proc_held_hold_back(ad_proc_t *p, bool stop);

pid_t ad_proc_pid(const ad_proc_t *p);
bool ad_proc_is_pty(const ad_proc_t *p);
bool ad_proc_paused(const ad_proc_t *p);
/* True until the process has been reaped (a starting one is alive). */
bool ad_proc_alive(const ad_proc_t *p);
/* True while its spawn's outcome is not known (on_start not called yet). */
bool ad_proc_starting(const ad_proc_t *p);
/* CPU and memory of the whole tree (zeros without a cgroup). */
void ad_proc_usage(const ad_proc_t *p, ad_proc_usage_t *u);
/* The tree's cgroup directory, "" when trees are not in cgroups here.
 * Borrowed while the process lives. */
const char *ad_proc_cgroup(const ad_proc_t *p);

/* Queues bytes for stdin (copied). AD_ECLOSED when stdin is closed or the
 * process has exited, AD_ETOOBIG when the queue would pass its bound. */
int ad_proc_write(ad_proc_t *p, const void *data, size_t len);
/* Closes stdin once the queue has drained (pty: sends ^D). Idempotent. */
void ad_proc_close_stdin(ad_proc_t *p);
/* Sets the terminal size (pty only; AD_ESTATE otherwise); the child gets
 * SIGWINCH from the kernel. */
int ad_proc_resize(ad_proc_t *p, uint16_t rows, uint16_t cols);
/* Stops the process. Graceful: the polite step, then SIGTERM to the group
 * after term_grace_ms, then SIGKILL after kill_grace_ms. force: SIGKILL to
 * the group now. A later force call escalates a graceful stop. Returns 0, or
 * AD_ESTATE when the process has already exited. */
int ad_proc_stop(ad_proc_t *p, bool force);
/* SIGSTOP / SIGCONT to the group. AD_ESTATE if already in that state or
 * exited. */
int ad_proc_pause(ad_proc_t *p);
int ad_proc_resume(ad_proc_t *p);
/* Sends any signal to the whole group. */
int ad_proc_signal(ad_proc_t *p, int signum);

/* ---- an agent's terminals (termset.c) ---------------------------------------------------- */

/* The processes an ACP agent asked agentd to run (terminal/create, output,
 * wait_for_exit, kill, release), wherever its run is: a local run's set is
 * src/run's, a node's run's the node's. The caller checks the request first
 * (who may run what, its cwd) and says how it runs. */
#define AD_TERMS_MAX 4
#define AD_TERM_OUT_MAX (1024 * 1024) /* output kept per terminal, at most */
#define AD_TERM_ID_MAX 24
typedef struct ad_terms ad_terms_t;
/* The answer to req (as the caller named it): result (taken) or error.
 * On the loop; a wait_for_exit's once its terminal exits. */
typedef void (*ad_terms_answer_cb)(void *ud, const char *req, json_t *result, const char *error);
typedef struct {
    const char *cwd;                  /* where it runs (checked by the caller) */
    const char *const *env;           /* the agent's; the request's entries follow */
    const ad_proc_limits_t *limits;   /* NULL: none */
    const ad_proc_sandbox_t *sandbox; /* NULL: none */
    const char *who;                  /* the agent's id, for the log */
} ad_terms_how_t;
ad_terms_t *ad_terms_new(ad_procs_t *procs, ad_terms_answer_cb answer, void *ud);
/* A terminal for terminal/create's params, started as how says: 0 with its
 * id; else AD_EINVAL (malformed params), AD_ETOOBIG (AD_TERMS_MAX live),
 * or the spawn's error, with err. */
int ad_terms_create(ad_terms_t *ts, const json_t *params, const ad_terms_how_t *how,
                    char id[AD_TERM_ID_MAX], char *err, size_t errsz);
/* method ("output", "wait_for_exit", "kill", "release") of terminal id,
 * answered through the set's callback. */
void ad_terms_call(ad_terms_t *ts, const char *method, const char *id, const char *req);
/* Every terminal killed and let go (a wait on one is not answered), ts
 * freed. NULL: nothing. */
void ad_terms_free(ad_terms_t *ts);

#endif
