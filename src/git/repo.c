/* SPDX-License-Identifier: MIT */
/*
 * git: libgit2 set-up, error translation, branch name validation, and
 * opening a work tree (ad_git_open). Worktree life cycle is in worktree.c,
 * status and branches in status.c, diffs in diff.c.
 */
#include "git/git_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void do_init(void)
{
    /* the bounded allocator first: libgit2 keeps one set before its set-up */
    init_rc = ad_gitx_alloc_setup() != 0 || git_libgit2_init() < 0 ? AD_EINTERNAL : 0;
}

int ad_git_global_init(void)
{
    pthread_once(&init_once, do_init);
    return init_rc;
}

int ad_gitx_lib(ad_git_err_t *e, int gitrc, const char *what)
{
    const git_error *ge = git_error_last();
    const char *text = ge && ge->message ? ge->message : "unknown libgit2 error";
    int code;
    switch (gitrc) {
    case GIT_ENOTFOUND:
        code = AD_ENOENT;
        break;
    case GIT_EEXISTS:
        code = AD_EEXIST;
        break;
    case GIT_ELOCKED:
        code = AD_EBUSY;
        break;
    case GIT_EINVALIDSPEC:
    case GIT_EAMBIGUOUS:
        code = AD_EINVAL;
        break;
    case GIT_ECONFLICT:
    case GIT_EUNCOMMITTED:
    case GIT_EUNMERGED:
    case GIT_EBAREREPO:
    case GIT_EUNBORNBRANCH:
        code = AD_ESTATE;
        break;
    case GIT_EOWNER:
        code = AD_EPERM;
        break;
    default:
        code = (ge && ge->klass == GIT_ERROR_OS) ? AD_EIO : AD_EINTERNAL;
        break;
    }
    ad_log(AD_LOG_WARN, "git", "%s failed rc=%d error=\"%s\"", what, gitrc, text);
    return ad_gitx_fail(e, code, "", "%s: %s", what, text);
}

/* ---- validation ----------------------------------------------------------- */

bool ad_gitx_branch_name_valid(const char *name, char *why, size_t whysz)
{
    if (ad_git_global_init() != 0) {
        snprintf(why, whysz, "libgit2 failed to initialise");
        return false;
    }
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 200) {
        snprintf(why, whysz, "a branch name must be 1 to 200 characters");
        return false;
    }
    /* libgit2 lets DEL and a lone "@" through; git itself does not. */
    bool odd = strcmp(name, "@") == 0;
    for (size_t i = 0; i < n; i++) {
        odd = odd || (unsigned char)name[i] < 0x20 || name[i] == 0x7f;
    }
    int valid = 0;
    if (odd || git_branch_name_is_valid(&valid, name) < 0 || !valid) {
        snprintf(why, whysz, "'%s' is not a valid git branch name", name);
        return false;
    }
    return true;
}

/* ---- opening ---------------------------------------------------------------- */

int ad_gitx_main_path(git_repository *repo, char *out, size_t outsz)
{
    int rc;
    git_repository *main = NULL;
    const char *wd = NULL;
    if (!git_repository_is_worktree(repo)) {
        wd = git_repository_workdir(repo);
        if (wd == NULL) {
            return AD_ESTATE;
        }
        return ad_gitx_path_trim(wd, out, outsz);
    }
    if (git_repository_open(&main, git_repository_commondir(repo)) < 0) {
        return AD_EINTERNAL;
    }
    wd = git_repository_workdir(main);
    rc = wd == NULL ? AD_ESTATE : ad_gitx_path_trim(wd, out, outsz);
    git_repository_free(main);
    return rc;
}

int ad_gitx_head_oid(git_repository *repo, git_oid *oid)
{
    git_reference *head = NULL;
    git_reference *resolved = NULL;
    int rc = AD_ENOENT;
    if (git_repository_head(&head, repo) < 0) {
        goto out;
    }
    if (git_reference_resolve(&resolved, head) < 0 || git_reference_target(resolved) == NULL) {
        goto out;
    }
    git_oid_cpy(oid, git_reference_target(resolved));
    rc = 0;
out:
    git_reference_free(resolved);
    git_reference_free(head);
    return rc;
}

/* Says why `real` is no work tree top, naming the enclosing one if any. */
static int not_a_repository(const char *real, ad_git_err_t *e)
{
    git_buf found = {0};
    git_repository *repo = NULL;
    int rc;
    if (git_repository_discover(&found, real, 0, NULL) == 0 &&
        git_repository_open(&repo, found.ptr) == 0 && git_repository_workdir(repo) != NULL) {
        char top[PATH_MAX];
        ad_gitx_path_trim(git_repository_workdir(repo), top, sizeof(top));
        rc = ad_gitx_fail(e, AD_EINVAL, "not_a_repository",
                          "%s is inside the git work tree %s, not its top folder; give %s", real,
                          top, top);
    } else {
        rc = ad_gitx_fail(e, AD_EINVAL, "not_a_repository", "%s is not a git repository", real);
    }
    git_repository_free(repo);
    git_buf_dispose(&found);
    return rc;
}

/* Resolves path to an absolute, symlink-free folder. */
static int resolve_folder(const char *path, char *real, ad_git_err_t *e)
{
    struct stat st;
    if (path == NULL || path[0] == '\0') {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path", "a path is required");
    }
    if (path[0] != '/') {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path", "path must be absolute: %s", path);
    }
    if (strlen(path) >= PATH_MAX) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path", "path too long");
    }
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return ad_gitx_fail(e, AD_ENOENT, "not_found", "no such folder: %s", path);
        }
        return ad_gitx_fail(e, AD_EIO, "unreadable", "cannot read %s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return ad_gitx_fail(e, AD_EINVAL, "not_a_repository", "%s is not a folder", path);
    }
    if (realpath(path, real) == NULL) {
        return ad_gitx_fail(e, AD_EIO, "unreadable", "cannot resolve %s: %s", path,
                            strerror(errno));
    }
    return 0;
}

int ad_gitx_open_worktree(const char *path, git_repository **out, ad_git_err_t *e)
{
    char real[PATH_MAX];
    char top[PATH_MAX];
    git_repository *repo = NULL;
    int rc = ad_git_global_init();
    *out = NULL;
    if (rc != 0) {
        return ad_gitx_fail(e, rc, "", "libgit2 failed to initialise");
    }
    rc = resolve_folder(path, real, e);
    if (rc != 0) {
        return rc;
    }
    int grc = git_repository_open_ext(&repo, real, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (grc == GIT_ENOTFOUND) {
        return not_a_repository(real, e);
    }
    if (grc == GIT_EOWNER) {
        return ad_gitx_fail(e, AD_EINVAL, "not_owned",
                            "%s belongs to another user; git refuses to open it (see git's "
                            "safe.directory)",
                            real);
    }
    if (grc < 0) {
        return ad_gitx_lib(e, grc, "open repository");
    }
    if (git_repository_is_bare(repo)) {
        rc = ad_gitx_fail(e, AD_ESTATE, "bare_repository",
                          "%s is a bare repository (it has no work tree to run agents in)", real);
        goto out;
    }
    /* A .git folder opens too; its work tree is elsewhere. */
    char wd[PATH_MAX];
    if (ad_gitx_path_trim(git_repository_workdir(repo), top, sizeof(top)) != 0 ||
        realpath(top, wd) == NULL || strcmp(wd, real) != 0) {
        rc = not_a_repository(real, e);
        goto out;
    }
    *out = repo;
    repo = NULL;
out:
    git_repository_free(repo);
    return rc;
}

json_t *ad_gitx_head_branch_json(git_repository *repo)
{
    git_reference *head = NULL;
    json_t *v = json_null();
    if (git_reference_lookup(&head, repo, "HEAD") < 0) {
        return v;
    }
    if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
        const char *t = git_reference_symbolic_target(head);
        if (t != NULL && strncmp(t, "refs/heads/", 11) == 0) {
            json_decref(v);
            v = json_string(t + 11);
        }
    }
    git_reference_free(head);
    return v;
}

int ad_git_open(const char *path, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_repository *main = NULL;
    char main_path[PATH_MAX];
    char gitdir[PATH_MAX];
    *out = NULL;
    int rc = ad_gitx_open_worktree(path, &repo, e);
    if (rc != 0) {
        return rc;
    }
    bool linked = git_repository_is_worktree(repo);
    if (ad_gitx_main_path(repo, main_path, sizeof(main_path)) != 0) {
        rc = ad_gitx_fail(e, AD_ESTATE, "bare_repository",
                          "the worktree %s belongs to a bare repository", path);
        goto out;
    }
    int grc = git_repository_open(&main, main_path);
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "open main worktree");
        goto out;
    }
    ad_gitx_path_trim(git_repository_commondir(repo), gitdir, sizeof(gitdir));
    const char *slash = strrchr(main_path, '/');
    *out = json_pack("{s:s, s:s, s:s, s:o, s:b}", "path", main_path, "name",
                     slash && slash[1] ? slash + 1 : main_path, "gitDir", gitdir, "branch",
                     ad_gitx_head_branch_json(main), "givenWorktree", linked);
    if (*out == NULL) {
        rc = ad_gitx_fail(e, AD_EINVAL, "invalid_path", "%s resolves to a path that is not UTF-8",
                          path);
    }
out:
    git_repository_free(main);
    git_repository_free(repo);
    return rc;
}

json_t *ad_gitx_json_text(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (v != NULL) {
        return v;
    }
    ad_buf_t b;
    ad_buf_init(&b, 3 * n + 1);
    /* Sized for the worst case (every byte a 3-byte U+FFFD): cannot fail. */
    AD_DISCARD(ad_utf8_repair(&b, s, n));
    v = json_stringn(b.data != NULL ? b.data : "", b.len);
    ad_buf_cleanup(&b);
    return v != NULL ? v : json_string("");
}
