/* SPDX-License-Identifier: MIT */
/*
 * git: what the daemon itself links of this subsystem. libgit2 and what it
 * pulls in (an SSH, a TLS and a Kerberos library: ~1.4 MiB of resident
 * pages) live in agentd-git.so, the rest of src/git, which is loaded on the
 * first git use: a branch name checked, or a job queued (async.c). Here:
 * the error type, the checks that need no libgit2, the loader, and the
 * shutdown flag the setup commands watch. An agentd that never touches git
 * never maps libgit2 (issue #20's S2).
 *
 * Unit tests link the library's objects instead (libagentd-git.a): the
 * weak ad_git_backend() is then defined and nothing is loaded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "git/git_int.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REF_MAX 200

#pragma weak ad_git_backend

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const ad_git_backend_t *backend;
static char load_error[300];
static atomic_bool shutting_down;

static void load(void)
{
    if (ad_git_backend != NULL) { /* linked in */
        backend = ad_git_backend();
        return;
    }
    /* $AGENTD_GIT_LIB, else beside the running executable (as
     * agentd-hold is found) */
    void *lib = ad_plugin_open("agentd-git.so", "AGENTD_GIT_LIB", load_error, sizeof(load_error));
    if (lib == NULL) {
        ad_log(AD_LOG_ERROR, "git", "git support not available error=\"%s\"", load_error);
        return;
    }
    const ad_git_backend_t *(*get)(void) =
        (const ad_git_backend_t *(*)(void))dlsym(lib, "ad_git_backend");
    backend = get != NULL ? get() : NULL;
    if (backend == NULL) {
        snprintf(load_error, sizeof(load_error), "agentd-git.so has no ad_git_backend");
        ad_log(AD_LOG_ERROR, "git", "git support not available error=\"%s\"", load_error);
    }
}

const ad_git_backend_t *ad_gitx_backend(ad_git_err_t *e)
{
    pthread_once(&load_once, load);
    if (backend == NULL && e != NULL) {
        ad_gitx_fail(e, AD_EINTERNAL, "git_unavailable", "git support is not available: %s",
                     load_error);
    }
    return backend;
}

/* The library loaded and libgit2 set up, on the loop thread, by the first
 * git use: libgit2's set-up starts libssh2, which starts OpenSSL, and
 * OpenSSL started on a pool thread keeps that thread's state until the
 * thread ends, which the pool's threads never do before exit (a leak at
 * every exit). The main thread's is freed by OpenSSL's own cleanup. */
static const ad_git_backend_t *ready(ad_git_err_t *e)
{
    const ad_git_backend_t *be = ad_gitx_backend(e);
    if (be != NULL && be->init() != 0) {
        ad_gitx_fail(e, AD_EINTERNAL, "git_unavailable", "libgit2 failed to initialise");
        return NULL;
    }
    return be;
}

int ad_gitx_ready(ad_git_err_t *e)
{
    return ready(e) != NULL ? 0 : AD_EINTERNAL;
}

void ad_git_shutdown(void)
{
    atomic_store(&shutting_down, true);
}

bool ad_gitx_shutting_down(void)
{
    return atomic_load(&shutting_down);
}

/* ---- errors --------------------------------------------------------------- */

void ad_git_err_init(ad_git_err_t *e)
{
    e->msg[0] = '\0';
    e->reason[0] = '\0';
    e->details = NULL;
}

void ad_git_err_cleanup(ad_git_err_t *e)
{
    json_decref(e->details);
    e->details = NULL;
}

void ad_gitx_drop(ad_git_err_t *e, json_t **data)
{
    ad_git_err_cleanup(e);
    json_decref(*data);
    *data = NULL;
}

int ad_gitx_fail(ad_git_err_t *e, int code, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
    return code;
}

/* ---- validation ----------------------------------------------------------- */

bool ad_git_worktree_name_valid(const char *name, char *why, size_t whysz)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 100) {
        snprintf(why, whysz, "a worktree name must be 1 to 100 characters");
        return false;
    }
    if (name[0] == '.' || name[0] == '-') {
        snprintf(why, whysz, "a worktree name must not start with '.' or '-'");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            snprintf(why, whysz,
                     "a worktree name may hold only letters, digits, '.', '_' and '-' "
                     "(no '/' or spaces)");
            return false;
        }
    }
    if (strstr(name, "..") != NULL || (n >= 5 && strcmp(name + n - 5, ".lock") == 0)) {
        snprintf(why, whysz, "a worktree name must not contain '..' or end in '.lock'");
        return false;
    }
    return true;
}

bool ad_git_branch_name_valid(const char *name, char *why, size_t whysz)
{
    ad_git_err_t e;
    ad_git_err_init(&e);
    const ad_git_backend_t *be = ready(&e);
    if (be == NULL) {
        snprintf(why, whysz, "%s", e.msg);
        return false;
    }
    return be->branch_name_valid(name, why, whysz);
}

bool ad_git_ref_valid(const char *ref, char *why, size_t whysz)
{
    if (ref == NULL || ref[0] == '\0') {
        snprintf(why, whysz, "a ref is required");
        return false;
    }
    if (strlen(ref) > REF_MAX) {
        snprintf(why, whysz, "a ref is at most %d bytes", REF_MAX);
        return false;
    }
    if (ref[0] == '-') {
        snprintf(why, whysz, "a ref must not start with '-'");
        return false;
    }
    /* Branch rules allow "origin/main" and hex ids, and refuse "..", "~",
     * "^", ":", "@{", spaces, control characters and "HEAD". */
    return ad_git_branch_name_valid(ref, why, whysz);
}

int ad_gitx_path_trim(const char *path, char *out, size_t outsz)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    if (n >= outsz) {
        return AD_ETOOBIG;
    }
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

bool ad_gitx_rel_path_safe(const char *rel)
{
    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strlen(rel) > 4000) {
        return false;
    }
    const char *p = rel;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            return false;
        }
        if (slash == NULL) {
            break;
        }
        p = slash + 1;
        if (*p == '\0') {
            return false;
        }
    }
    return true;
}

int ad_git_worktree_default_path(const char *repo_path, const char *base_dir, const char *name,
                                 char *out, size_t outsz)
{
    char why[160];
    char repo[PATH_MAX];
    if (repo_path == NULL || repo_path[0] != '/' ||
        !ad_git_worktree_name_valid(name, why, sizeof(why))) {
        return AD_EINVAL;
    }
    if (ad_gitx_path_trim(repo_path, repo, sizeof(repo)) != 0) {
        return AD_ETOOBIG;
    }
    const char *slash = strrchr(repo, '/');
    const char *folder = slash + 1;
    if (*folder == '\0') {
        return AD_EINVAL; /* the root folder is no repository's home */
    }
    int n;
    if (base_dir != NULL && base_dir[0] != '\0') {
        if (base_dir[0] != '/') {
            return AD_EINVAL;
        }
        char base[PATH_MAX];
        if (ad_gitx_path_trim(base_dir, base, sizeof(base)) != 0) {
            return AD_ETOOBIG;
        }
        n = snprintf(out, outsz, "%s/%s/%s", strcmp(base, "/") == 0 ? "" : base, folder, name);
    } else {
        int plen = (int)(slash - repo);
        n = snprintf(out, outsz, "%.*s/%s.worktrees/%s", plen, repo, folder, name);
    }
    return (n < 0 || (size_t)n >= outsz) ? AD_ETOOBIG : 0;
}
