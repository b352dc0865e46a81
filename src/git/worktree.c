/* SPDX-License-Identifier: MIT */
/*
 * git: the worktree life cycle. Discovering the main and linked worktrees,
 * creating one on a new or existing branch, and removing one without ever
 * losing work: a dirty or unpushed worktree is refused unless forced, the
 * main worktree never. Status and ahead/behind come from status.c.
 */
#define _GNU_SOURCE /* nftw's FTW_ACTIONRETVAL family, FTW_PHYS */
#include "git/git_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* Opens the main worktree of the repository that repo_path belongs to. */
static int open_main(const char *repo_path, git_repository **out, char *main_path, size_t mpsz,
                     ad_git_err_t *e)
{
    git_repository *repo = NULL;
    int rc = ad_gitx_open_worktree(repo_path, &repo, e);
    if (rc != 0) {
        return rc;
    }
    if (ad_gitx_main_path(repo, main_path, mpsz) != 0) {
        git_repository_free(repo);
        return ad_gitx_fail(e, AD_ESTATE, "bare_repository", "%s belongs to a bare repository",
                            repo_path);
    }
    if (git_repository_is_worktree(repo)) {
        git_repository_free(repo);
        int grc = git_repository_open(&repo, main_path);
        if (grc < 0) {
            return ad_gitx_lib(e, grc, "open main worktree");
        }
    }
    *out = repo;
    return 0;
}

static json_t *oid_json(const git_oid *oid)
{
    char hex[GIT_OID_HEXSZ + 1];
    if (oid == NULL) {
        return json_null();
    }
    git_oid_tostr(hex, sizeof(hex), oid);
    return json_string(hex);
}

static json_t *main_entry(git_repository *repo, const char *main_path)
{
    git_oid oid;
    bool has_head = ad_gitx_head_oid(repo, &oid) == 0;
    bool detached = git_repository_head_detached(repo) == 1;
    return json_pack("{s:s, s:s, s:o, s:o, s:b, s:b, s:b, s:n, s:b, s:b}", "name",
                     base_name(main_path), "path", main_path, "branch",
                     detached ? json_null() : ad_gitx_head_branch_json(repo), "head",
                     oid_json(has_head ? &oid : NULL), "detached", detached, "isMain", true,
                     "locked", false, "lockReason", "prunable", false, "missing", false);
}

/* The lock file's text without its trailing newline. */
static json_t *lock_reason(git_buf *reason)
{
    size_t n = reason->size;
    while (n > 0 && (reason->ptr[n - 1] == '\n' || reason->ptr[n - 1] == '\r')) {
        n--;
    }
    return ad_gitx_json_text(reason->ptr, n);
}

/* Reads <common dir>/worktrees/<name>/HEAD itself: libgit2 1.5 cannot
 * resolve a worktree's HEAD once its folder is gone, and misreports
 * detachment. Sets what it can; leaves the JSON nulls otherwise. */
static void read_wt_head(git_repository *repo, const char *name, json_t **branch, json_t **oid,
                         bool *detached)
{
    char file[PATH_MAX];
    char line[512];
    git_oid id;
    int n = snprintf(file, sizeof(file), "worktrees/%s/HEAD", name);
    if (n < 0 || (size_t)n >= sizeof(file)) {
        return;
    }
    /* below the repository's git folder: a link there leads nowhere else */
    int fd = ad_open_beneath(git_repository_commondir(repo), file, O_RDONLY | O_NONBLOCK);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (f == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    if (!got) {
        return;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "ref: ", 5) == 0) {
        const char *target = line + 5;
        if (strncmp(target, "refs/heads/", 11) == 0) {
            json_decref(*branch);
            *branch = json_string(target + 11);
        }
        if (git_reference_name_to_id(&id, repo, target) == 0) {
            json_decref(*oid);
            *oid = oid_json(&id);
        }
    } else if (git_oid_fromstr(&id, line) == 0) {
        *detached = true;
        json_decref(*oid);
        *oid = oid_json(&id);
    }
}

/* The entry of linked worktree `name`, or NULL when git cannot read it. */
static json_t *linked_entry(git_repository *repo, const char *name)
{
    git_worktree *wt = NULL;
    git_buf reason = {0};
    json_t *entry = NULL;
    char path[PATH_MAX];
    struct stat st;

    if (git_worktree_lookup(&wt, repo, name) < 0) {
        ad_log(AD_LOG_WARN, "git", "unreadable worktree name=%s error=\"%s\"", name,
               git_error_last() ? git_error_last()->message : "");
        goto out;
    }
    if (ad_gitx_path_trim(git_worktree_path(wt), path, sizeof(path)) != 0) {
        goto out;
    }
    bool missing = lstat(path, &st) != 0;
    int locked = git_worktree_is_locked(&reason, wt);
    git_worktree_prune_options popts;
    git_worktree_prune_options_init(&popts, GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
    bool prunable = git_worktree_is_prunable(wt, &popts) > 0;

    json_t *branch = json_null();
    json_t *oid = json_null();
    bool detached = false;
    read_wt_head(repo, name, &branch, &oid, &detached);
    entry = json_pack("{s:s, s:s, s:o, s:o, s:b, s:b, s:b, s:o, s:b, s:b}", "name", name, "path",
                      path, "branch", branch, "head", oid, "detached", detached, "isMain", false,
                      "locked", locked > 0, "lockReason",
                      locked > 0 && reason.size > 0 ? lock_reason(&reason) : json_null(),
                      "prunable", prunable, "missing", missing);
out:
    git_buf_dispose(&reason);
    git_worktree_free(wt);
    return entry;
}

int ad_git_worktree_list(const char *repo_path, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_strarray names = {0};
    char main_path[PATH_MAX];
    *out = NULL;
    int rc = open_main(repo_path, &repo, main_path, sizeof(main_path), e);
    if (rc != 0) {
        return rc;
    }
    int grc = git_worktree_list(&names, repo);
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "list worktrees");
        goto out;
    }
    if (names.count > 1) {
        qsort(names.strings, names.count, sizeof(char *), cmp_str);
    }
    json_t *arr = json_array();
    json_array_append_new(arr, main_entry(repo, main_path));
    for (size_t i = 0; i < names.count; i++) {
        json_t *entry = linked_entry(repo, names.strings[i]);
        if (entry != NULL) {
            json_array_append_new(arr, entry);
        }
    }
    *out = json_pack("{s:o}", "worktrees", arr);
out:
    git_strarray_dispose(&names);
    git_repository_free(repo);
    return rc;
}

/* mkdir -p for the parent folders of path. */
static int make_parents(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(tmp)) {
        return AD_ETOOBIG;
    }
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            return AD_EIO;
        }
        *p = '/';
    }
    return 0;
}

/* branch.<name>.remote/merge = origin, refs/heads/<name>, written directly:
 * git_branch_set_upstream() leaks PCRE2 match data in libgit2 1.5. */
static void set_upstream_origin(git_repository *repo, const char *name)
{
    git_config *cfg = NULL;
    char key[512], merge[512];
    if (git_repository_config(&cfg, repo) != 0) {
        return;
    }
    snprintf(key, sizeof(key), "branch.%s.remote", name);
    git_config_set_string(cfg, key, "origin");
    snprintf(key, sizeof(key), "branch.%s.merge", name);
    snprintf(merge, sizeof(merge), "refs/heads/%s", name);
    git_config_set_string(cfg, key, merge);
    git_config_free(cfg);
}

int ad_gitx_local_branch(git_repository *repo, const char *name, git_reference **out, bool *created,
                         ad_git_err_t *e)
{
    git_reference *remote = NULL;
    git_commit *commit = NULL;
    char rname[512];
    *created = false;
    int grc = git_branch_lookup(out, repo, name, GIT_BRANCH_LOCAL);
    if (grc == 0) {
        return 0;
    }
    if (grc != GIT_ENOTFOUND) {
        return ad_gitx_lib(e, grc, "look up branch");
    }
    snprintf(rname, sizeof(rname), "origin/%s", name);
    int rc = 0;
    if (git_branch_lookup(&remote, repo, rname, GIT_BRANCH_REMOTE) != 0 ||
        git_reference_target(remote) == NULL) {
        rc = ad_gitx_fail(e, AD_ENOENT, "unknown_branch", "no branch named '%s'", name);
        goto out;
    }
    grc = git_commit_lookup(&commit, repo, git_reference_target(remote));
    if (grc == 0) {
        grc = git_branch_create(out, repo, name, commit, 0);
    }
    if (grc == 0) {
        set_upstream_origin(repo, name);
        *created = true;
    } else {
        rc = ad_gitx_lib(e, grc, "create branch from origin");
    }
out:
    git_commit_free(commit);
    git_reference_free(remote);
    return rc;
}

/* The branch `name` created at base (or HEAD). */
static int create_branch(git_repository *repo, const char *name, const char *base,
                         git_reference **out, ad_git_err_t *e)
{
    git_reference *existing = NULL;
    git_object *obj = NULL;
    git_commit *commit = NULL;
    int rc = 0;
    if (git_branch_lookup(&existing, repo, name, GIT_BRANCH_LOCAL) == 0) {
        rc = ad_gitx_fail(e, AD_EEXIST, "branch_exists", "branch '%s' already exists", name);
        goto out;
    }
    const char *spec = base != NULL && base[0] != '\0' ? base : "HEAD";
    if (git_revparse_single(&obj, repo, spec) != 0 ||
        git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) != 0) {
        if (base == NULL || base[0] == '\0') {
            rc = ad_gitx_fail(e, AD_ESTATE, "unborn_head",
                              "the repository has no commits yet; commit once before branching");
        } else {
            rc = ad_gitx_fail(e, AD_EINVAL, "unknown_base", "base '%s' names no commit", base);
        }
        goto out;
    }
    int grc = git_branch_create(out, repo, name, commit, 0);
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "create branch");
    }
out:
    git_commit_free(commit);
    git_object_free(obj);
    git_reference_free(existing);
    return rc;
}

int ad_git_worktree_add(const ad_git_add_opts_t *o, json_t **out, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    git_reference *branch = NULL;
    git_worktree *wt = NULL;
    char main_path[PATH_MAX];
    char why[200];
    struct stat st;
    bool branch_created = false;
    int rc;
    *out = NULL;

    if (!ad_git_worktree_name_valid(o->name, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_name", "%s", why);
    }
    if (!ad_git_branch_name_valid(o->branch, why, sizeof(why))) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_branch", "%s", why);
    }
    if (o->path == NULL || o->path[0] != '/' || strlen(o->path) >= PATH_MAX - 64) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path", "the worktree path must be absolute");
    }
    if (lstat(o->path, &st) == 0) {
        return ad_gitx_fail(e, AD_EEXIST, "path_exists", "%s already exists", o->path);
    }
    rc = open_main(o->repo_path, &repo, main_path, sizeof(main_path), e);
    if (rc != 0) {
        return rc;
    }
    if (git_worktree_lookup(&wt, repo, o->name) == 0) {
        rc = ad_gitx_fail(e, AD_EEXIST, "worktree_exists",
                          "the repository already has a worktree named '%s'", o->name);
        goto out;
    }
    if (o->create_branch) {
        rc = create_branch(repo, o->branch, o->base, &branch, e);
        branch_created = rc == 0;
    } else {
        rc = ad_gitx_local_branch(repo, o->branch, &branch, &branch_created, e);
        if (rc == 0 && git_branch_is_checked_out(branch) == 1) {
            rc = ad_gitx_fail(e, AD_ESTATE, "branch_checked_out",
                              "branch '%s' is already checked out in another worktree", o->branch);
        }
    }
    if (rc != 0) {
        goto out;
    }
    if (make_parents(o->path) != 0) {
        rc = ad_gitx_fail(e, AD_EIO, "io", "cannot create the folders above %s: %s", o->path,
                          strerror(errno));
        goto out;
    }
    git_worktree_add_options aopts;
    git_worktree_add_options_init(&aopts, GIT_WORKTREE_ADD_OPTIONS_VERSION);
    aopts.ref = branch;
    aopts.checkout_options.checkout_strategy = GIT_CHECKOUT_FORCE;
    int grc = git_worktree_add(&wt, repo, o->name, o->path, &aopts);
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "add worktree");
        goto out;
    }
    json_t *entry = linked_entry(repo, o->name);
    if (entry == NULL) {
        rc = ad_gitx_fail(e, AD_EINTERNAL, "", "the new worktree %s cannot be read back", o->name);
        goto out;
    }
    json_object_set_new(entry, "branchCreated", json_boolean(branch_created));
    *out = entry;
    ad_log(AD_LOG_INFO, "git", "worktree added repo=%s name=%s branch=%s", main_path, o->name,
           o->branch);
out:
    if (rc != 0 && branch_created && branch != NULL) {
        git_branch_delete(branch);
    }
    git_worktree_free(wt);
    git_reference_free(branch);
    git_repository_free(repo);
    return rc;
}

/* ---- removal ------------------------------------------------------------------ */

static _Thread_local int rm_errno;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    AD_UNUSED(st);
    AD_UNUSED(ftw);
    int r = (flag == FTW_DP) ? rmdir(p) : unlink(p);
    if (r != 0 && errno != ENOENT) {
        rm_errno = errno;
        return 1; /* stop the walk */
    }
    return 0;
}

/* Deletes the tree at path without following symlinks or leaving its file
 * system. */
static int remove_tree(const char *path)
{
    rm_errno = 0;
    int r = nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (r != 0 && rm_errno == 0) {
        rm_errno = errno;
    }
    return r == 0 ? 0 : AD_EIO;
}

static bool same_path(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    if (strcmp(a, b) == 0) {
        return true;
    }
    return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

/* Finds the linked worktree whose folder is path. */
static int find_linked(git_repository *repo, const char *path, git_worktree **out, ad_git_err_t *e)
{
    git_strarray names = {0};
    char wpath[PATH_MAX];
    *out = NULL;
    int grc = git_worktree_list(&names, repo);
    if (grc < 0) {
        return ad_gitx_lib(e, grc, "list worktrees");
    }
    for (size_t i = 0; i < names.count && *out == NULL; i++) {
        git_worktree *wt = NULL;
        if (git_worktree_lookup(&wt, repo, names.strings[i]) != 0) {
            continue;
        }
        if (ad_gitx_path_trim(git_worktree_path(wt), wpath, sizeof(wpath)) == 0 &&
            same_path(wpath, path)) {
            *out = wt;
        } else {
            git_worktree_free(wt);
        }
    }
    git_strarray_dispose(&names);
    return 0;
}

/* Whether the commits HEAD has past ref are merged all the same: agentd
 * recorded merging HEAD (heads), or its tree is on base (or on ref) since
 * the fork point: a squash or rebase landed there. */
static bool merged_anyway(git_repository *repo, const char *base, const char *ref, json_t *heads)
{
    git_oid head, other, at;
    git_commit *c = NULL;
    ad_git_err_t scratch; /* a ref that names nothing is only skipped */
    if (ad_gitx_head_oid(repo, &head) != 0) {
        return false;
    }
    const char *refs[] = {base, ref};
    for (size_t i = 0; i < AD_ARRAY_LEN(refs); i++) {
        if (refs[i] == NULL || refs[i][0] == '\0' ||
            ad_gitx_resolve_commit(repo, refs[i], &c, &scratch) != 0) {
            continue;
        }
        git_oid_cpy(&other, git_commit_id(c));
        git_commit_free(c);
        c = NULL;
        if (ad_gitx_merged_into(repo, &head, &other, heads, &at) != NULL) {
            return true;
        }
    }
    return heads != NULL && ad_gitx_merged_into(repo, &head, &head, heads, &at) != NULL;
}

/* Refuses when the worktree holds work that removing it would lose:
 * changed files, or commits not on its upstream (or the main worktree's
 * branch) unless merged_anyway(). */
static int check_no_work(git_worktree *wt, const char *base, json_t *heads, ad_git_err_t *e)
{
    git_repository *repo = NULL;
    json_t *files = json_array();
    size_t total = 0, ahead = 0, behind = 0;
    const char *kind = "none";
    char ref[256] = "";
    int grc = git_repository_open_from_worktree(&repo, wt);
    int rc;
    if (grc < 0) {
        rc = ad_gitx_lib(e, grc, "open worktree");
        goto out;
    }
    rc = ad_gitx_changed_files(repo, true, files, 200, &total, e);
    if (rc == 0) {
        rc = ad_gitx_ahead_behind(repo, &ahead, &behind, &kind, ref, sizeof(ref), e);
    }
    if (rc != 0) {
        goto out;
    }
    if (total == 0 && ahead > 0 && merged_anyway(repo, base, ref, heads)) {
        ahead = 0; /* merged: its commits are in the base, by record or by tree */
    }
    if (total > 0 || ahead > 0) {
        const char *wpath = git_worktree_path(wt);
        if (total > 0) {
            rc = ad_gitx_fail(e, AD_ESTATE, "dirty",
                              "worktree %s has %zu changed file%s; commit them or delete with "
                              "force=true",
                              wpath, total, total == 1 ? "" : "s");
        } else {
            rc = ad_gitx_fail(e, AD_ESTATE, "unpushed",
                              "worktree %s has %zu commit%s not on %s; push or merge them, or "
                              "delete with force=true",
                              wpath, ahead, ahead == 1 ? "" : "s", ref);
        }
        json_decref(e->details);
        e->details =
            json_pack("{s:O, s:I, s:I, s:s*, s:b}", "changedFiles", files, "changedFileCount",
                      (json_int_t)total, "unpushedCommits", (json_int_t)ahead, "compareRef",
                      ref[0] ? ref : NULL, "truncated", total > json_array_size(files));
    }
out:
    json_decref(files);
    git_repository_free(repo);
    return rc;
}

/* Deletes a linked worktree's folder, after checking it has no work (unless
 * force) and really is a linked worktree (a .git file, not a repository). */
static int remove_folder(git_worktree *wt, const char *path, const ad_git_remove_opts_t *o,
                         ad_git_err_t *e)
{
    struct stat st;
    char gitlink[PATH_MAX + 8];
    if (!o->force) {
        int rc = check_no_work(wt, o->base, o->merged, e);
        if (rc != 0) {
            return rc;
        }
    }
    snprintf(gitlink, sizeof(gitlink), "%s/.git", path);
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
        (lstat(gitlink, &st) == 0 && !S_ISREG(st.st_mode))) {
        return ad_gitx_fail(e, AD_ESTATE, "not_a_worktree",
                            "%s does not look like a linked worktree; refusing to delete it", path);
    }
    if (remove_tree(path) != 0) {
        return ad_gitx_fail(e, AD_EIO, "io", "cannot delete %s: %s", path, strerror(rm_errno));
    }
    return 0;
}

/* Refuses a locked worktree unless force. */
static int check_unlocked(git_worktree *wt, const char *path, bool force, ad_git_err_t *e)
{
    git_buf reason = {0};
    int rc = 0;
    if (git_worktree_is_locked(&reason, wt) > 0 && !force) {
        rc = ad_gitx_fail(e, AD_ESTATE, "locked",
                          "worktree %s is locked%s%s; delete with force=true", path,
                          reason.size ? ": " : "", reason.size ? reason.ptr : "");
    }
    git_buf_dispose(&reason);
    return rc;
}

/* dry: only the refusals (main, unknown, locked, work left), nothing removed. */
static int remove_impl(const ad_git_remove_opts_t *o, bool dry, json_t **out, ad_git_err_t *e)
{
    const char *repo_path = o->repo_path, *wt_path = o->wt_path;
    bool force = o->force;
    git_repository *repo = NULL;
    git_worktree *wt = NULL;
    char main_path[PATH_MAX];
    char path[PATH_MAX];
    struct stat st;
    *out = NULL;
    if (wt_path == NULL || wt_path[0] != '/' ||
        ad_gitx_path_trim(wt_path, path, sizeof(path)) != 0) {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_path", "the worktree path must be absolute");
    }
    int rc = open_main(repo_path, &repo, main_path, sizeof(main_path), e);
    if (rc != 0) {
        return rc;
    }
    if (same_path(path, main_path)) {
        rc = ad_gitx_fail(e, AD_EPERM, "main_worktree",
                          "%s is the repository's main worktree; it is never deleted", path);
        goto out;
    }
    rc = find_linked(repo, path, &wt, e);
    bool present = lstat(path, &st) == 0;
    if (rc == 0 && wt == NULL) {
        if (present) {
            rc = ad_gitx_fail(e, AD_ESTATE, "not_a_worktree",
                              "%s is not a worktree of %s; refusing to delete it", path, main_path);
        } else {
            *out = json_pack("{s:b, s:b}", "removed", false, "pruned", false); /* already gone */
        }
        goto out;
    }
    rc = rc != 0 ? rc : check_unlocked(wt, path, force, e);
    if (dry) {
        rc = rc != 0 || !present || force ? rc : check_no_work(wt, o->base, o->merged, e);
        *out = rc == 0 ? json_pack("{s:b}", "removable", true) : NULL;
        goto out;
    }
    rc = rc != 0 || !present ? rc : remove_folder(wt, path, o, e);
    if (rc == 0) {
        git_worktree_prune_options popts;
        git_worktree_prune_options_init(&popts, GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
        popts.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED;
        int grc = git_worktree_prune(wt, &popts);
        rc = grc < 0 ? ad_gitx_lib(e, grc, "prune worktree") : 0;
    }
    if (rc == 0) {
        ad_log(AD_LOG_INFO, "git", "worktree removed repo=%s path=%s force=%d", main_path, path,
               (int)force);
        *out = json_pack("{s:b, s:b}", "removed", present, "pruned", true);
    }
out:
    git_worktree_free(wt);
    git_repository_free(repo);
    return rc;
}

int ad_git_worktree_remove(const char *repo_path, const char *wt_path, bool force, json_t **out,
                           ad_git_err_t *e)
{
    ad_git_remove_opts_t o = {.repo_path = repo_path, .wt_path = wt_path, .force = force};
    return remove_impl(&o, false, out, e);
}

int ad_git_worktree_remove_opts(const ad_git_remove_opts_t *o, bool dry, json_t **out,
                                ad_git_err_t *e)
{
    return remove_impl(o, dry, out, e);
}

int ad_git_worktree_remove_check(const char *repo_path, const char *wt_path, json_t **out,
                                 ad_git_err_t *e)
{
    ad_git_remove_opts_t o = {.repo_path = repo_path, .wt_path = wt_path};
    return remove_impl(&o, true, out, e);
}
