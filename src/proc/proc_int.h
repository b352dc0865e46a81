/* SPDX-License-Identifier: MIT */
/*
 * Private to src/proc: the process and supervisor structures, and what
 * its files share (proc.c: the supervisor and close ordering; exit.c:
 * reaping and the exit report; stop.c: signals and stop escalation; io.c:
 * output and input; spawn.c: fork/exec; env.c: the child's environment).
 */
#ifndef AD_PROC_INT_H
#define AD_PROC_INT_H

#include <stdbool.h>
#include <stddef.h>

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
    char rbuf[AD_PROC_RBUF_SIZE];
} ad_rstream_t;

typedef struct {
    uv_write_t req;
    ad_proc_t *p;
    size_t len;
    char data[];
} ad_wreq_t;

/* cgroup.c: the parent of every tree's cgroup, or why there is none. */
typedef struct {
    bool ok;
    bool memory, cpu; /* limits possible */
    char root[4096];
    char why[4400];
} ad_cgroups_t;

void ad_cgroups_init(ad_cgroups_t *cg);
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
    char cgroup[4200]; /* this tree's cgroup, "" without */
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
    pid_t hold_pid;    /* the holder when we forked it, else 0 */
    ad_buf_t hbuf;     /* frames not yet whole */
    uint64_t acked[2]; /* the stored offsets last sent in an ACK */
    bool held_back;    /* not reading the holder: the writer is behind */
    /* from the options */
    ad_proc_polite_t polite;
    uint64_t term_grace_ms, kill_grace_ms, drain_ms;
    size_t max_line, max_stdin;
    ad_proc_line_cb on_line;
    ad_proc_data_cb on_data;
    ad_proc_exit_cb on_exit;
    ad_proc_stall_cb on_stall;
    void *ud;
};

/* sandbox.c: bubblewrap, when it works here. */
typedef struct {
    bool ok;
    char bwrap[4096];
    char why[4800];
    char data_dir[4096]; /* covered in a plain program's sandbox */
} ad_sandbox_t;

/* A NULL-terminated argv of owned strings. */
typedef struct {
    char **v;
    size_t n, cap;
} ad_argv_t;

void ad_argv_free(ad_argv_t *a);
/* The argv that runs file (argv[1..] its arguments) in sb with cwd as its
 * working directory: bwrap's, in *out. AD_EPERM with err when there is
 * no sandbox here. */
int ad_proc_sandbox_argv(const ad_procs_t *s, const ad_proc_sandbox_t *sb, const char *file,
                         const char *const *argv, const char *cwd, ad_argv_t *out, char *err,
                         size_t errsz);

typedef struct cg_dead {
    struct cg_dead *next;
    char path[];
} cg_dead_t;

struct ad_procs {
    uv_loop_t *loop;
    uv_signal_t sigchld;
    ad_cgroups_t cg;
    ad_sandbox_t sbx;
    cg_dead_t *cg_dead; /* cgroups of ended trees, removed once empty */
    uint64_t spawns;    /* names cgroups when the caller gives none */
    ad_proc_t *head;
    size_t live;     /* exit callback not run yet */
    size_t unreaped; /* not waited for yet */
    size_t mem;      /* ad_proc_t not freed yet */
    bool shutting_down, freeing, sig_closed;
    bool keep_held; /* --keep-agents: held processes stay */
    size_t kept;    /* held processes left running by the shutdown */
    void (*done)(void *);
    void *done_ud;
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

/* spawn.c / held.c */
/* A new process record for pid, linked into s, with its timers; the
 * caller opens its streams. */
ad_proc_t *ad_proc_alloc(ad_procs_t *s, const ad_proc_opts_t *o, pid_t pid, const char *cgroup);
void ad_proc_link(ad_procs_t *s, ad_proc_t *p);
/* held.c: p's side of the holder's socket fd (sends ATTACH from at). */
void ad_proc_held_open(ad_proc_t *p, int fd, const ad_proc_resume_t *at);
/* held.c: frames to the holder. */
int ad_proc_held_send(ad_proc_t *p, unsigned type, const void *data, size_t len);
/* held.c: the holder program to exec: agentd-hold beside agentd's own
 * binary when it is there (libc only: a small holder), else agentd
 * itself (/proc/self/exe), which needs "hold" as its first argument
 * (*sub). */
void ad_proc_holder_exe(char *exe, size_t n, bool *sub);
/* Signals p's process group (held: through its holder). */
int ad_proc_kill_group(ad_proc_t *p, int signum);

/* io.c */
/* Output bytes of rs: raw to on_data, lines to on_line. */
void ad_proc_rstream_input(ad_rstream_t *rs, char *data, size_t n);
/* Delivers what rs holds of an unfinished line (its end came). */
void ad_proc_rstream_flush(ad_rstream_t *rs);
/* Opens fd as rs's pipe and starts reading it. */
void ad_proc_rstream_open(ad_proc_t *p, ad_rstream_t *rs, ad_proc_stream_t stream, int fd);
/* The drain timer: output did not end within drain_ms of the exit. */
void ad_proc_on_drain(uv_timer_t *t);

/* env.c: ad_proc_env_build (proc.h). */
/* The value of name in env, or NULL. Borrowed from env. */
const char *ad_proc_env_get(char *const *env, const char *name);

#endif
