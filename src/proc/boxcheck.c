/* SPDX-License-Identifier: MIT */
/*
 * A program tried in an agent's sandbox the way an agent runs it (GET
 * /api/requirements for each agent CLI, POST /api/requirements/sandbox for
 * `agentd sandbox check -- COMMAND`): resolved on the agent's PATH, its
 * toolchain shown (toolbox.c), started under bwrap with the agent's
 * environment (HOME=/home/agent, the agent's PATH) in the worktree given,
 * or else an empty scratch one (read-only either way: a check leaves
 * nothing behind; a relative program is found in it),
 * its first output kept, ended after a bound. Blocking: call it on the
 * thread pool.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/child.h"
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv (bwrap's) with env, stdout and stderr to out; its status, or
 * -1 when it could not be run (why in err). */
static int run_bounded(char *const argv[], char *const env[], int timeout_ms, char *out,
                       size_t outsz, bool *timed_out, char *err, size_t errsz)
{
    ad_buf_t b;
    ad_buf_init(&b, outsz - 1);
    ad_child_run_t o = {.envp = env, .timeout_ms = (uint64_t)timeout_ms, .out = &b};
    ad_child_ran_t ran;
    int rc = ad_child_run(argv, &o, &ran, err, errsz);
    snprintf(out, outsz, "%s", b.len > 0 ? b.data : "");
    ad_buf_cleanup(&b);
    if (rc != 0) {
        return -1;
    }
    *timed_out = ran.timed_out;
    int st = ran.status;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The scratch worktree removed, when the check made one. */
static void scratch_done(const ad_proc_box_in_t *in, const char *scratch)
{
    if (in->wt == NULL) {
        rmdir(scratch);
    }
}

void ad_proc_box_check(const ad_procs_t *s, const ad_proc_box_in_t *in0, const char *const *argv,
                       int timeout_ms, ad_proc_check_t *out)
{
    memset(out, 0, sizeof(*out));
    out->code = -1;
    const char *why = NULL;
    if (!ad_procs_sandbox(s, &why)) {
        snprintf(out->error, sizeof(out->error), "no agent sandbox here: %s", why);
        return;
    }
    out->sandboxed = true;
    char scratch[] = "/tmp/agentd-sandbox-check-XXXXXX";
    struct stat st;
    if (in0->wt != NULL && (stat(in0->wt, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(out->error, sizeof(out->error), "the worktree's folder %s is not here: %s",
                 in0->wt, stat(in0->wt, &st) != 0 ? strerror(errno) : "not a folder");
        return;
    }
    if (in0->wt == NULL && mkdtemp(scratch) == NULL) {
        snprintf(out->error, sizeof(out->error), "cannot make a scratch worktree: %s",
                 strerror(errno));
        return;
    }
    const char *wt = in0->wt != NULL ? in0->wt : scratch;
    ad_proc_box_in_t in = *in0;
    in.wt = wt;
    in.read_only = true; /* a check leaves nothing behind in it */
    int rc = argv != NULL && argv[0] != NULL ? ad_proc_resolve(argv[0], in.path, wt, in.home,
                                                               out->program, sizeof(out->program))
                                             : AD_ENOENT;
    if (rc != 0) {
        const char *a0 = argv != NULL && argv[0] != NULL ? argv[0] : "";
        bool named = a0[0] == '~' || strchr(a0, '/') != NULL;
        snprintf(out->error, sizeof(out->error), "%s: %s%s%s", a0,
                 rc == AD_EPERM ? "not executable" : "not found",
                 named ? " (a relative path is taken against the worktree)"
                       : " on the agent's PATH ",
                 named             ? ""
                 : in.path != NULL ? in.path
                                   : "");
        scratch_done(in0, scratch);
        return;
    }
    in.program = out->program;
    in.exe = in.cli != NULL ? out->program : NULL;
    in.argv = in.cli != NULL ? NULL : argv;
    rc = ad_proc_box(s, &in, &out->box, out->error, sizeof(out->error));
    if (rc != 0) {
        scratch_done(in0, scratch);
        return;
    }
    size_t n = 0;
    while (argv[n] != NULL) {
        n++;
    }
    const char **run = ad_xcalloc(n + 1, sizeof(char *));
    run[0] = out->box.exe[0] != '\0' ? out->box.exe : out->program;
    for (size_t i = 1; i < n; i++) {
        run[i] = argv[i];
    }
    ad_argv_t a;
    char path_env[8192];
    snprintf(path_env, sizeof(path_env), "PATH=%s", in.path != NULL ? in.path : AD_DEFAULT_PATH);
    char *env[] = {path_env, "HOME=/home/agent", "TMPDIR=/tmp", "LANG=C.UTF-8", NULL};
    rc = ad_proc_sandbox_argv(s, &out->box.sb, run[0], run, wt, &a, out->error, sizeof(out->error));
    free(run);
    if (rc == 0) {
        bool timed_out = false;
        out->code = run_bounded(a.v, env, timeout_ms, out->output, sizeof(out->output), &timed_out,
                                out->error, sizeof(out->error));
        out->ran = out->code >= 0;
        if (timed_out) {
            snprintf(out->error, sizeof(out->error), "it did not end within %d ms", timeout_ms);
        }
        ad_argv_free(&a);
    }
    scratch_done(in0, scratch);
}
