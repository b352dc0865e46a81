/* SPDX-License-Identifier: MIT */
/*
 * git: the per-workspace setup of a new worktree. Copies listed files that
 * git does not carry (.env and the like) from the main worktree, then runs
 * the workspace's setup command in the new folder with its output kept.
 * Runs on a pool thread; the command is bounded in time and output.
 */
#define _GNU_SOURCE /* pipe2 */
#include "core/child.h"
#include "git/git_int.h"
#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int mkdirs_below(const char *root, const char *rel)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return AD_ETOOBIG;
    }
    char *last = strrchr(tmp, '/');
    *last = '\0';
    for (char *p = tmp + strlen(root) + 1; p <= last; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }
        char c = *p;
        *p = '\0';
        struct stat st;
        /* A tracked symlink must not lead the copy out of the worktree. */
        if (lstat(tmp, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                return AD_EINVAL;
            }
        } else if (mkdir(tmp, 0755) != 0) {
            return AD_EIO;
        }
        *p = c;
    }
    return 0;
}

/* Copies the open file in (closed here) to dst. */
static int copy_file(int in, const char *dst, mode_t mode)
{
    char buf[65536];
    int rc = 0;
    int out = -1;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        rc = AD_EIO;
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = AD_EIO;
            goto out;
        }
        if (r == 0) {
            break;
        }
        if (ad_write_all(out, buf, (size_t)r) != (size_t)r) {
            rc = AD_EIO;
            goto out;
        }
    }
out:
    if (out >= 0 && close(out) != 0 && rc == 0) {
        rc = AD_EIO;
    }
    close(in);
    return rc;
}

int ad_gitx_run(const char *dir, char *const argv[], char *const envp[], uint64_t timeout_ms,
                ad_buf_t *output, bool *truncated, int *status, bool *timed_out, ad_git_err_t *e)
{
    ad_child_run_t o = {.dir = dir,
                        .envp = envp,
                        .timeout_ms = timeout_ms,
                        .stop = ad_gitx_shutting_down,
                        .out = output};
    ad_child_ran_t ran;
    char why[PATH_MAX + 160];
    if (ad_child_run(argv, &o, &ran, why, sizeof(why)) != 0) {
        return ad_gitx_fail(e, AD_EIO, "io", "%s", why);
    }
    *status = ran.status;
    *timed_out = ran.timed_out;
    *truncated = ran.truncated;
    return 0;
}

/* Copies each of files (checked: relative, no "..") from src_path into
 * wt_path, its folders made; names it in copied, or in missing when it is
 * not a regular file below src_path. 0, or an error in e. */
static int copy_files(const char *src_path, const char *wt_path, json_t *files, json_t *copied,
                      json_t *missing, ad_git_err_t *e)
{
    size_t i;
    json_t *v;
    json_array_foreach(files, i, v)
    {
        const char *rel = json_string_value(v);
        char dst[PATH_MAX];
        struct stat st;
        int n2 = snprintf(dst, sizeof(dst), "%s/%s", wt_path, rel);
        /* Opened below the repository: a symlink (of the file or of a
         * folder on its way) that leads out of it is as good as missing,
         * so a repository cannot have agentd copy ~/.ssh into a worktree. */
        int in = n2 < 0 || (size_t)n2 >= sizeof(dst)
                     ? -1
                     : ad_open_beneath(src_path, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (in >= 0) {
                close(in);
            }
            json_array_append_new(missing, json_string(rel));
            continue;
        }
        if (mkdirs_below(wt_path, rel) != 0) {
            close(in);
            return ad_gitx_fail(e, AD_EIO, "io", "cannot copy %s into %s: %s", rel, wt_path,
                                strerror(errno));
        }
        if (copy_file(in, dst, st.st_mode) != 0) {
            return ad_gitx_fail(e, AD_EIO, "io", "cannot copy %s into %s: %s", rel, wt_path,
                                strerror(errno));
        }
        json_array_append_new(copied, json_string(rel));
    }
    return 0;
}

int ad_git_worktree_setup(const char *src_path, const char *wt_path, json_t *files,
                          const char *command, uint64_t timeout_ms, json_t **out, ad_git_err_t *e)
{
    json_t *copied = json_array();
    json_t *missing = json_array();
    ad_buf_t output;
    ad_buf_init(&output, AD_GIT_SETUP_OUTPUT_MAX);
    size_t i;
    json_t *v;
    int rc = 0;
    *out = NULL;

    if (src_path == NULL || src_path[0] != '/' || wt_path == NULL || wt_path[0] != '/') {
        rc = ad_gitx_fail(e, AD_EINVAL, "invalid_path", "setup needs absolute folders");
        goto out;
    }
    if (files != NULL && !json_is_array(files)) {
        rc = ad_gitx_fail(e, AD_EINVAL, "invalid_setup", "setup files must be a list of paths");
        goto out;
    }
    json_array_foreach(files, i, v)
    {
        if (!json_is_string(v) || !ad_gitx_rel_path_safe(json_string_value(v))) {
            rc = ad_gitx_fail(e, AD_EINVAL, "invalid_setup",
                              "setup file %zu must be a relative path without '..'", i);
            goto out;
        }
    }
    rc = copy_files(src_path, wt_path, files, copied, missing, e);
    if (rc != 0) {
        goto out;
    }
    json_t *exit_code = json_null();
    json_t *signal_no = json_null();
    bool timed_out = false, truncated = false;
    if (command != NULL && command[0] != '\0') {
        int st = 0;
        if (ad_gitx_shutting_down()) {
            rc = ad_gitx_fail(e, AD_ECLOSED, "shutting_down", "agentd is shutting down");
            goto out;
        }
        char *const argv[] = {"/bin/sh", "-c", (char *)command, NULL};
        /* The clean environment agents get: never agentd's own (its token)
         * or a code-loading variable agentd happened to start with. */
        char **envp = NULL;
        char why[160];
        if (ad_proc_env_build(NULL, false, &envp, why, sizeof(why)) != 0) {
            rc = ad_gitx_fail(e, AD_EIO, "io", "setup environment: %s", why);
            goto out;
        }
        rc = ad_gitx_run(wt_path, argv, envp, timeout_ms ? timeout_ms : 300000, &output, &truncated,
                         &st, &timed_out, e);
        ad_proc_env_free(envp);
        if (rc != 0) {
            goto out;
        }
        if (WIFEXITED(st)) {
            exit_code = json_integer(WEXITSTATUS(st));
        } else if (WIFSIGNALED(st)) {
            signal_no = json_integer(WTERMSIG(st));
        }
        ad_log(AD_LOG_INFO, "git", "setup command ran path=%s exit=%d timed_out=%d", wt_path,
               WIFEXITED(st) ? WEXITSTATUS(st) : -1, (int)timed_out);
    }
    *out = json_pack("{s:O, s:O, s:s?, s:o, s:o, s:b, s:o, s:b}", "copied", copied, "missing",
                     missing, "command", command && command[0] ? command : NULL, "exitCode",
                     exit_code, "signal", signal_no, "timedOut", timed_out, "output",
                     ad_gitx_json_text(output.data ? output.data : "", output.len),
                     "outputTruncated", truncated);
out:
    ad_buf_cleanup(&output);
    json_decref(copied);
    json_decref(missing);
    return rc;
}
