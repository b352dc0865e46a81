/* SPDX-License-Identifier: MIT */
/*
 * Private to src/proc: the process and supervisor structures, and what
 * its files share (proc.c: the supervisor and close ordering; exit.c:
 * reaping and the exit report; stop.c: signals and stop escalation; io.c:
 * output and input; spawn.c: a spawn on the loop's side; spawner.c: the
 * spawner threads and the children they start; env.c: the child's
 * environment).
 */
#ifndef AD_PROC_INT_H
#define AD_PROC_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "hold/hold.h"
#include "proc/proc.h"

#define AD_PROC_RBUF_SIZE 65536
#define AD_PROC_SHRINK_ABOVE 65536
#define AD_PROC_DEF_GRACE_MS 5000
#define AD_PROC_DEF_DRAIN_MS 2000
#define AD_PROC_DEF_MAX_LINE (8u << 20)
#define AD_PROC_DEF_MAX_STDIN (4u << 20)

typedef struct {
    uv_pipe_t pipe;
    ad_proc_t *p;
    ad_proc_stream_t stream;
    bool used;         /* the handle was initialized */
    bool eof;          /* no more output will come */
    bool skipping;     /* dropping the rest of a line cut at the cap */
    uint64_t pos;      /* held: spool offset of the next byte to split */
    uint64_t line_end; /* held: spool offset past the last delivered line */
    ad_buf_t line;
} ad_rstream_t;

typedef struct {
    uv_write_t req;
    ad_proc_t *p;
    size_t len;
    char data[];
} ad_wreq_t;

/* cgroup.c: the parent of every tree's cgroup, or why there is none.
 * Every agentd on a machine that shares a cgroup shares its agentd-runs;
 * each keeps its trees in a folder of its own below it, named after its
 * instance (the data dir), so that one daemon's start-up, which removes
 * the empty cgroups it left, never touches another daemon's. */
typedef struct {
    bool ok;
    bool memory, cpu;  /* limits possible */
    char shared[4000]; /* <mount><own cgroup>/agentd-runs */
    size_t mnt_len;    /* of <mount> in shared */
    char root[4096];   /* shared/d-<16 hex of the instance>: this one's */
    char why[4400];
} ad_cgroups_t;

/* instance: what tells this supervisor apart from the other agentd on the
 * machine (the data dir; NULL: this process). */
void ad_cgroups_init(ad_cgroups_t *cg, const char *instance);
/* The cgroup pid is in, when that is a run cgroup named name of any
 * agentd here (root's or another instance's under shared, or the flat
 * shared/<name> of versions before the instance folders): 0 with path
 * set, or -1. For a held tree this daemon did not start. */
int ad_cgroup_of_pid(const ad_cgroups_t *cg, pid_t pid, const char *name, char *path,
                     size_t pathsz);
/* Removes this instance's folder when no tree is left in it. */
void ad_cgroups_done(const ad_cgroups_t *cg);
/* Whether lim (may be NULL) can be enforced here: 0, or AD_EPERM with err
 * saying why not. No file is touched. */
int ad_cgroup_check(const ad_cgroups_t *cg, const ad_proc_limits_t *lim, char *err, size_t errsz);
/* Makes the cgroup name with lim applied: path gets it and *procs_fd its
 * cgroup.procs, opened for the child to join with (-1 and path "" when
 * trees are not contained by cgroups here). AD_EPERM with err when limits
 * are asked for and cannot be enforced. */
int ad_cgroup_create(const ad_cgroups_t *cg, const char *name, const ad_proc_limits_t *lim,
                     char *path, size_t pathsz, int *procs_fd, char *err, size_t errsz);
/* SIGKILLs every member ("" or NULL: nothing). */
void ad_cgroup_kill(const char *path);
/* Removes an empty cgroup: false while members remain. */
bool ad_cgroup_remove(const char *path);
void ad_cgroup_usage(const char *path, ad_proc_usage_t *u);

struct ad_proc {
    ad_procs_t *s;
    char *cgroup; /* this tree's cgroup (owned), "" without */
    ad_proc_t *next, *prev;
    pid_t pid;
    bool pty;
    ad_rstream_t out, err;
    uv_pipe_t in; /* pipe mode only; in pty mode stdin is out.pipe */
    bool in_used, in_closed, in_close_pending;
    size_t in_queued;
    uv_timer_t stop_timer, drain_timer;
    int stage; /* 0 running, 1 polite step done, 2 SIGTERM sent, 3 SIGKILL sent */
    bool paused, exited, finished;
    int handles; /* initialized handles not yet closed */
    ad_proc_exit_t ex;
    /* held (src/hold): out.pipe is the holder's socket, out/err keep the
     * streams' lines and ends; nothing else of the agent is ours. */
    bool held, kept;
    bool leave_tree;   /* its end leaves its tree alone (ad_proc_opts_t) */
    bool remote;       /* on a worker node: the holder socket is a relay's (src/node) */
    pid_t hold_pid;    /* the holder: forked by us, or from its info file; 0 unknown */
    ad_buf_t hbuf;     /* frames not yet whole */
    uint64_t acked[2]; /* the stored offsets last sent in an ACK */
    bool held_back;    /* not reading the holder: the writer is behind */
    char hold_version[AD_HOLD_VERSION_MAX + 1]; /* its HELLO; "" before one */
    /* from the options */
    ad_proc_polite_t polite;
    uint64_t term_grace_ms, kill_grace_ms, drain_ms;
    size_t max_line, max_stdin;
    ad_proc_line_cb on_line;
    ad_proc_data_cb on_data;
    ad_proc_exit_cb on_exit;
    ad_proc_stall_cb on_stall;
    ad_proc_start_cb on_start;
    void *ud;
    /* Its spawn is at a spawner thread (spawner.c): no pid yet, output not
     * read, and a stop asked meanwhile (start_stop: 1 graceful, 2 force)
     * waits for the outcome. */
    bool starting;
    int start_stop;
    struct ad_spawn_job *job;
};

/* sandbox.c: bubblewrap, when it works here. ok and why are the probe's:
 * read them through ad_sandbox_settle(). */
typedef struct {
    bool ok;
    char bwrap[4096];
    char why[4800];
    char data_dir[4096];            /* covered in a plain program's sandbox */
    struct ad_sandbox_probe *probe; /* under way at a thread, or NULL */
} ad_sandbox_t;

/* The sandbox with the start's probe over: waits for it the first time
 * (blocking, at most the probe's bound), logs and keeps its outcome. Any
 * thread. */
const ad_sandbox_t *ad_sandbox_settle(const ad_procs_t *s);
/* Waits for the probe if it is still under way and frees it (ad_procs_free). */
void ad_sandbox_probe_free(ad_procs_t *s);

/* A NULL-terminated argv of owned strings. */
typedef struct {
    char **v;
    size_t n, cap;
} ad_argv_t;

void ad_argv_free(ad_argv_t *a);
/* Appends a copy of s (the array stays NULL-terminated). */
void ad_argv_add(ad_argv_t *a, const char *s);
/* The argv that runs file (argv[1..] its arguments) in sb with cwd as its
 * working directory: bwrap's, in *out. AD_EPERM with err when there is
 * no sandbox here. */
int ad_proc_sandbox_argv(const ad_procs_t *s, const ad_proc_sandbox_t *sb, const char *file,
                         const char *const *argv, const char *cwd, ad_argv_t *out, char *err,
                         size_t errsz);

/* The argv and environment of a child, its descriptors and where it
 * reports, and what holds it: built on the loop (spawn.c), run by a
 * spawner thread (spawner.c), read by the children it starts (which share
 * its memory until they exec), and given back to the loop with the
 * outcome. Owned by the loop's ad_spawn_job_free. */
typedef struct ad_spawn_job {
    struct ad_spawn_job *next;
    ad_proc_t *p; /* the process it starts */
    /* what to run */
    char file[4096]; /* the program (bwrap when sandboxed) */
    ad_argv_t argv;
    char **envp;
    char *cwd; /* NULL: agentd's */
    bool pty, sandboxed;
    int nice;       /* ad_proc_opts_t's */
    int group_nice; /* agentd's autogroup's nice, read by the thread */
    pid_t die_with; /* > 0: SIGKILL when that parent dies */
    /* the child's ends: stdin, stdout, stderr (the pty's slave for all
     * three); held, the holder's: the other ends (the pty's master) and
     * its end of the daemon's socket. -1 when none; the thread closes
     * them once the child has them. */
    int fd_in, fd_out, fd_err;
    int h_in, h_out, h_err, hs;
    /* its cgroup, made by the thread (none when no_cgroup) */
    char cg_name[160];
    bool no_cgroup;
    ad_proc_limits_t limits;
    /* held: the holder's program and arguments (its directory is made by
     * the thread); hold false: a plain child */
    bool held;
    char hold_exe[4200], hold_dir[4200], hold_pid[24], hold_pty[2], hold_wait[24];
    char *hold_argv[7];
    /* the outcome (the thread's until it hands the job back) */
    int rc;        /* 0: it runs (exec'd); else AD_E* */
    char err[512]; /* why, when rc != 0 */
    pid_t pid;     /* the child (held: the agent) */
    pid_t holder;  /* held: the holder */
    char cgroup[4200];
    bool born_in;                /* the child (held: the agent) was born in its cgroup */
    uint64_t queued_ns, done_ns; /* when it was queued and its outcome known */
    /* its caller waits for it (ad_spawner_run_sync): sync_done, under the
     * spawner's mutex, once its outcome is in */
    bool sync, sync_done;
} ad_spawn_job_t;

/* The spawner threads (spawner.c): each takes a job, starts its child
 * without copying agentd's memory (clone with CLONE_VM | CLONE_VFORK on a
 * stack of its own: the thread, not the loop, waits for the exec) and
 * hands the outcome to the loop through an async handle. */
#define AD_PROC_SPAWNERS 2
typedef struct {
    pthread_t threads[AD_PROC_SPAWNERS];
    size_t nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t sync_cv;            /* a job of ad_spawner_run_sync is done */
    ad_spawn_job_t *todo, **todo_tail; /* FIFO */
    ad_spawn_job_t *done, **done_tail;
    bool quit;
    size_t pending; /* submitted, outcome not yet taken by the loop */
    uv_async_t async;
    /* Test builds: spawns wait while the file gate names exists
     * (AGENTD_TEST_SPAWN_GATE), so a test can act in the window; a held
     * spawn's holder is hold_exe (AGENTD_TEST_HOLDER_EXE). "" when unset. */
    char gate[256], hold_exe[256];
    /* Children given a cgroup: born in it (clone3 with CLONE_INTO_CGROUP)
     * or moved by their own write to cgroup.procs (the fallback), counted
     * by the threads (atomics). no_into: always the fallback (a test's
     * knob, set before the first spawn). */
    uint64_t born_in, moved;
    bool no_into;
} ad_spawner_t;

typedef struct cg_dead {
    struct cg_dead *next;
    char path[];
} cg_dead_t;

struct ad_procs {
    uv_loop_t *loop;
    uv_signal_t sigchld;
    uv_timer_t sweep; /* the watcher's backstop (proc.c) */
    ad_cgroups_t cg;
    ad_sandbox_t sbx;
    cg_dead_t *cg_dead; /* cgroups of ended trees, removed once empty */
    uint64_t spawns;    /* names cgroups when the caller gives none */
    ad_proc_t *head;
    size_t live;     /* exit callback not run yet */
    size_t unreaped; /* not waited for yet */
    size_t mem;      /* ad_proc_t not freed yet */
    bool shutting_down, freeing, sig_closed, sweep_closed;
    bool keep_held;   /* --keep-agents: held processes stay */
    bool keep_remote; /* other control planes go on: the nodes' processes stay */
    size_t kept;      /* held processes left running by the shutdown */
    uint64_t shutdown_grace_ms;
    ad_spawner_t sp;
    bool async_closed;
    /* Held output's pace (proc.c, on_pace): whether this turn read holders'
     * frames, and when the last turn that did ended. */
    uv_prepare_t pace;
    bool pace_closed;
    bool held_read;
    uint64_t held_turn_ns;
    void (*done)(void *);
    void *done_ud;
    /* Every stream's reads land here: a read callback uses its bytes up
     * before it returns (split into lines, copied, handed on), so one
     * buffer serves them all. 64 KiB in each of an agent's two streams was
     * 128 KiB of every process record, most of a held agent's memory in
     * agentd (issue #38, F1). Loop thread only. */
    char rbuf[AD_PROC_RBUF_SIZE];
};

/* proc.c */
/* The loop's reference on the SIGCHLD watcher follows the unreaped count. */
void ad_procs_sync_ref(ad_procs_t *s);
/* Closes one of p's handles; p is freed when its last one has closed. */
void ad_proc_close_handle(ad_proc_t *p, uv_handle_t *h);
/* Closes all of p's handles (after its exit was reported). */
void ad_proc_close_all(ad_proc_t *p);

/* exit.c */
/* The SIGCHLD watcher's callback: reaps our exited children, and as
 * subreaper the orphans of their trees. */
void ad_proc_on_sigchld(uv_signal_t *h, int signum);
/* Kills what is left of p's tree (its group and cgroup) and queues the
 * cgroup for removal. */
void ad_proc_kill_tree(ad_proc_t *p);
/* Removes queued cgroups that have emptied (all: block until they have,
 * for a bounded while). */
void ad_procs_reap_cgroups(ad_procs_t *s, bool all);
/* Records a waitpid status (0xff00 when the child could not be reaped). */
void ad_proc_record_status(ad_proc_t *p, int status);
/* Reports the exit once the process has exited and its output ended (or
 * the drain timer gave up on the output). */
void ad_proc_finish_maybe(ad_proc_t *p);

/* Calls the shutdown's done when every live process is kept or gone. */
void ad_procs_done_maybe(ad_procs_t *s);

/* spawner.c */
/* Starts the spawner threads (once, by ad_procs_new). */
void ad_spawner_init(ad_procs_t *s);
/* Hands j to a thread; its outcome comes to ad_proc_spawned on the loop. */
void ad_spawner_submit(ad_procs_t *s, ad_spawn_job_t *j);
/* Hands j to a thread and waits for its outcome (in j; the caller frees
 * it): for a holder without a process record (spawn.c's spawn_raw). */
void ad_spawner_run_sync(ad_procs_t *s, ad_spawn_job_t *j);
/* Ends the threads (a job a thread has begun is finished, queued ones
 * fail with AD_ESTATE) and returns every outcome not yet handed to the
 * loop, as a list (next); the async handle is closed with on_closed. */
ad_spawn_job_t *ad_spawner_stop(ad_procs_t *s, uv_close_cb on_closed);

/* spawn.c / held.c */
/* The outcome of p's spawn (j): the process runs, or it failed. */
void ad_proc_spawned(ad_procs_t *s, ad_spawn_job_t *j, bool callbacks);
void ad_spawn_job_free(ad_spawn_job_t *j);
/* A new process record for pid, linked into s, with its timers; the
 * caller opens its streams. */
ad_proc_t *ad_proc_alloc(ad_procs_t *s, const ad_proc_opts_t *o, pid_t pid, const char *cgroup);
void ad_proc_link(ad_procs_t *s, ad_proc_t *p);
/* held.c: p's side of the holder's socket fd (sends ATTACH from at; the
 * frames are read from ad_proc_held_start on). */
void ad_proc_held_open(ad_proc_t *p, int fd, const ad_proc_resume_t *at);
/* held.c: frames to the holder. */
int ad_proc_held_send(ad_proc_t *p, unsigned type, const void *data, size_t len);
/* held.c: the holder program to exec: agentd-hold beside agentd's own
 * binary when it is there (libc only: a small holder), else agentd
 * itself (/proc/self/exe), which needs "hold" as its first argument
 * (*sub). */
void ad_proc_holder_exe(char *exe, size_t n, bool *sub);
/* held.c: adds the start of a holder's command line to a: exe, "hold"
 * when sub (see above), then mode (--reap, --net-register, --net-bridge). */
void ad_proc_holder_argv(ad_argv_t *a, const char *exe, bool sub, const char *mode);
/* netd.c: the shared network proxy of proxy_dir (<data-dir>/proxy) is
 * watched by a thread of the daemon, which starts it when it is not up;
 * never waited for here (the loop calls it: the registration, netreg.c,
 * waits for the proxy, bounded). 0, or AD_EIO with err (another data dir
 * watched already). Any thread. */
int ad_proc_netd_ensure(const char *proxy_dir, char *err, size_t errsz);
/* netd.c: at the sandbox's set-up (ad_procs_sandbox_init), at a thread of
 * its own: whether bwrap knows --as-pid-1, and the proxy back for
 * registrations left in <data_dir>/proxy (agents kept across a restart).
 * Not waited for. */
void ad_proc_net_init(const char *data_dir, const char *bwrap);
/* netd.c: bwrap --as-pid-1 may be used (false until known). Any thread. */
bool ad_proc_net_as_pid1(void);
/* Signals p's process group (held: through its holder). */
int ad_proc_kill_group(ad_proc_t *p, int signum);

/* io.c */
/* Output bytes of rs: raw to on_data, lines to on_line. */
void ad_proc_rstream_input(ad_rstream_t *rs, char *data, size_t n);
/* Delivers what rs holds of an unfinished line (its end came). */
void ad_proc_rstream_flush(ad_rstream_t *rs);
/* Opens fd as rs's pipe; reading starts with ad_proc_rstream_start. */
void ad_proc_rstream_open(ad_proc_t *p, ad_rstream_t *rs, ad_proc_stream_t stream, int fd);
void ad_proc_rstream_start(ad_rstream_t *rs);
/* held.c: starts reading the holder's socket (unless held back). */
void ad_proc_held_start(ad_proc_t *p);
/* The drain timer: output did not end within drain_ms of the exit. */
void ad_proc_on_drain(uv_timer_t *t);

/* env.c: ad_proc_env_build (proc.h). */
/* The value of name in env, or NULL. Borrowed from env. */
const char *ad_proc_env_get(char *const *env, const char *name);

/* ---- the agent CLI's config for an owner's agent (clicfg.c, issue #73) ---- */
typedef struct {
    bool rw;
    char src[PATH_MAX]; /* the user's, under home */
    char dst[PATH_MAX]; /* relative to the agent's home */
} ad_proc_cfg_bind_t;
/* For cli ("claude", "codex", "gemini"; else none): makes its folder in
 * agent_home (Claude's: copies home/.claude.json there too); then what of
 * the user's folder the agent is shown in its own, into out (at most max):
 * read-write what keeps it signed in and its sessions (Claude's project
 * folder of wt, made when missing), read-only its settings, instructions,
 * plugins and the like (those that exist). Returns how many. */
size_t ad_proc_cli_config(const char *cli, const char *home, const char *agent_home, const char *wt,
                          ad_proc_cfg_bind_t *out, size_t max);
/* gemcfg.c: Gemini CLI's chats folder of wt (a real path) in the user's
 * ~/.gemini (user), when the user's registry (projects.json) names one:
 * *out binds it read-write at the same place in the agent's home, and the
 * agent's registry (in mine, its .gemini) is made to name it too. False
 * when the user has none (nothing is written then). */
bool ad_proc_gemini_project(const char *user, const char *mine, const char *wt,
                            ad_proc_cfg_bind_t *out);

#endif
