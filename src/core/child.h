/* SPDX-License-Identifier: MIT */
/*
 * Running a program to its end for what it prints (child.c): a git command
 * of the plug-in, a CLI's --version, the sandbox's probes. One way for all
 * of them, at any thread but the loop's (it blocks until the program ends
 * or its deadline).
 *
 * The program starts with posix_spawn, which shares agentd's memory until
 * the exec (glibc's clone with CLONE_VM | CLONE_VFORK), where fork() copied
 * agentd's page tables only for the exec to drop them: under ASan, whose
 * shadow memory is most of those tables, fork and exec were a sixth of a
 * worker-node e2e file's CPU. It runs in a process group of its own, every
 * signal at its default and none blocked, stdin /dev/null, no descriptor of
 * ours but the pipe it writes to; at the deadline (or when stop says so)
 * the whole group is killed.
 */
#ifndef AD_CORE_CHILD_H
#define AD_CORE_CHILD_H

#include "core.h"

typedef struct {
    const char *dir;     /* where it runs; NULL: where agentd runs */
    char *const *envp;   /* its environment; NULL: agentd's */
    uint64_t timeout_ms; /* from the start to the group's kill */
    bool stderr_only;    /* stdout to /dev/null: only stderr is read */
    bool end_group;      /* the group killed once it ended too: what it left behind */
    bool (*stop)(void);  /* asked each second, may be NULL: true ends it as the deadline */
    ad_buf_t *out;       /* what it wrote, to the buffer's bound (the rest dropped) */
} ad_child_run_t;

typedef struct {
    int status;     /* waitpid's, for WIFEXITED and the rest */
    bool timed_out; /* killed at the deadline or at stop */
    bool truncated; /* it wrote more than out holds */
} ad_child_ran_t;

/* Runs argv (argv[0] a path: no PATH search) as above. 0 with how it ended
 * in *ran; or AD_EIO with why in err when it did not start (no such
 * program or folder: posix_spawn's errno) or its status was lost. */
int ad_child_run(char *const argv[], const ad_child_run_t *o, ad_child_ran_t *ran, char *err,
                 size_t errsz);

#endif
