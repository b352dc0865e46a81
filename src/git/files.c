/* SPDX-License-Identifier: MIT */
/*
 * Files written into a worktree and committed (a project of the LLM
 * workbench, issue #18): only the given paths are written, and the commit
 * is HEAD's tree with exactly those blobs changed (git_tree_create_updated),
 * so whatever else is staged or changed in the worktree stays out of it.
 * Paths are walked one folder at a time from the worktree's top with
 * O_NOFOLLOW: a symlink anywhere on the way (or as the file) is refused,
 * so nothing is ever written outside the worktree, and nothing under .git.
 * Synchronous: pool threads only (ad_git_queue, AD_GIT_OP_COMMIT_FILES).
 */
#include "git/git_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILES_MAX 2000
#define FULL_MAX 1024

/* dir/path (dir may be NULL or ""). false when too long or unsafe. */
static bool full_path(const char *dir, const char *path, char out[FULL_MAX])
{
    int n = dir != NULL && dir[0] != '\0' ? snprintf(out, FULL_MAX, "%s/%s", dir, path)
                                          : snprintf(out, FULL_MAX, "%s", path);
    if (n < 0 || n >= FULL_MAX || !ad_gitx_rel_path_safe(out) || strchr(out, '\\') != NULL) {
        return false;
    }
    for (const char *p = out; p != NULL; p = strchr(p, '/'), p = p ? p + 1 : NULL) {
        if (strncasecmp(p, ".git", 4) == 0 && (p[4] == '/' || p[4] == '\0')) {
            return false; /* .git/hooks would be code that git runs */
        }
    }
    return true;
}

/* Opens the folder rel (relative, safe) below root, creating what is
 * missing, never through a symlink. An fd, or -1 with errno. */
static int open_dirs(int root, const char *rel, size_t len)
{
    int fd = dup(root);
    char seg[FULL_MAX];
    size_t i = 0;
    while (fd >= 0 && i < len) {
        size_t j = i;
        while (j < len && rel[j] != '/') {
            j++;
        }
        memcpy(seg, rel + i, j - i);
        seg[j - i] = '\0';
        if (mkdirat(fd, seg, 0755) != 0 && errno != EEXIST) {
            close(fd);
            return -1;
        }
        int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
        i = j + 1;
    }
    return fd;
}

/* Writes one file (temp file, then rename) keeping an existing file's mode;
 * a symlink or folder in its place is refused. 0, or AD_EPERM / AD_EIO. */
static int write_one(int root, const char *rel, const char *data, size_t len, bool *exec)
{
    const char *slash = strrchr(rel, '/');
    const char *name = slash != NULL ? slash + 1 : rel;
    int dfd = open_dirs(root, rel, slash != NULL ? (size_t)(slash - rel) : 0);
    if (dfd < 0) {
        return errno == ELOOP || errno == ENOTDIR ? AD_EPERM : AD_EIO;
    }
    struct stat st;
    mode_t mode = 0644;
    int rc = 0;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISREG(st.st_mode)) {
            close(dfd);
            return AD_EPERM;
        }
        mode = st.st_mode & 0777;
    }
    *exec = (mode & 0100) != 0;
    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".agentd-write-%ld", (long)getpid());
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = AD_EIO;
    } else {
        bool ok = write(fd, data, len) == (ssize_t)len;
        ok = fchmod(fd, mode) == 0 && ok;
        ok = close(fd) == 0 && ok;
        rc = ok && renameat(dfd, tmp, dfd, name) == 0 ? 0 : AD_EIO;
        if (rc != 0) {
            unlinkat(dfd, tmp, 0);
        }
    }
    close(dfd);
    return rc;
}

/* The given paths that have changes in the work tree or the index. */
static int dirty_paths(git_repository *repo, char **paths, size_t n, json_t *changed,
                       ad_git_err_t *e)
{
    git_status_options o;
    git_status_list *list = NULL;
    git_status_options_init(&o, GIT_STATUS_OPTIONS_VERSION);
    o.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH |
              GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
    o.pathspec.strings = paths;
    o.pathspec.count = n;
    int grc = git_status_list_new(&list, repo, &o);
    if (grc < 0) {
        return ad_gitx_lib(e, grc, "read the status");
    }
    for (size_t i = 0; i < git_status_list_entrycount(list); i++) {
        const git_status_entry *s = git_status_byindex(list, i);
        const git_diff_delta *d = s->index_to_workdir ? s->index_to_workdir : s->head_to_index;
        if (s->status != GIT_STATUS_CURRENT && !(s->status & GIT_STATUS_IGNORED) && d != NULL) {
            json_array_append_new(changed, json_string(d->new_file.path));
        }
    }
    git_status_list_free(list);
    return 0;
}

/* HEAD's tree, or an empty one when HEAD is unborn. *parent: HEAD's commit
 * or NULL. */
static int base_tree(git_repository *repo, git_commit **parent, git_tree **tree, ad_git_err_t *e)
{
    git_oid head, empty;
    int grc;
    if (ad_gitx_head_oid(repo, &head) == 0) {
        grc = git_commit_lookup(parent, repo, &head);
        grc = grc == 0 ? git_commit_tree(tree, *parent) : grc;
    } else {
        git_treebuilder *tb = NULL;
        grc = git_treebuilder_new(&tb, repo, NULL);
        grc = grc == 0 ? git_treebuilder_write(&empty, tb) : grc;
        git_treebuilder_free(tb);
        grc = grc == 0 ? git_tree_lookup(tree, repo, &empty) : grc;
    }
    return grc < 0 ? ad_gitx_lib(e, grc, "read HEAD") : 0;
}

typedef struct {
    git_repository *repo;
    json_t *files;
    char **paths; /* full paths, one per file */
    size_t n;
    git_tree_update *updates;
} job_t;

/* Writes the files and makes their blobs. */
static int write_all(job_t *j, const char *wt_path, ad_git_err_t *e)
{
    int root = open(wt_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        return ad_gitx_fail(e, AD_ENOENT, "not_found", "the worktree folder is gone");
    }
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        json_t *f = json_array_get(j->files, i);
        json_t *c = json_object_get(f, "content");
        bool exec = false;
        rc = write_one(root, j->paths[i], json_string_value(c), json_string_length(c), &exec);
        if (rc == AD_EPERM) {
            rc = ad_gitx_fail(e, AD_EINVAL, "unsafe_path",
                              "%s: a symlink or a folder is in the way", j->paths[i]);
        } else if (rc != 0) {
            rc = ad_gitx_fail(e, AD_EIO, "", "cannot write %s", j->paths[i]);
        } else {
            int grc = git_blob_create_from_buffer(&j->updates[i].id, j->repo, json_string_value(c),
                                                  json_string_length(c));
            if (grc < 0) {
                rc = ad_gitx_lib(e, grc, "store the file");
            }
            j->updates[i].action = GIT_TREE_UPDATE_UPSERT;
            j->updates[i].filemode = exec ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
            j->updates[i].path = j->paths[i];
        }
    }
    close(root);
    return rc;
}

/* git as Debian builds it compares timestamps to the second: an entry
 * whose file changed in the second the index was last written looks clean
 * once the index is rewritten in a later second, unless its size is zeroed
 * so git compares contents (what git does to such entries when it writes
 * an index itself; libgit2 judges them to the nanosecond and leaves them).
 * Seen as a user's change hidden from `git status` after a project commit. */
static void smudge_racy(git_index *idx)
{
    struct stat sb;
    const char *path = git_index_path(idx);
    if (path == NULL || stat(path, &sb) != 0) {
        return; /* no index yet: nothing it wrote can be racy */
    }
    size_t n = git_index_entrycount(idx);
    for (size_t i = 0; i < n; i++) {
        const git_index_entry *e = git_index_get_byindex(idx, i);
        if (e == NULL || e->file_size == 0 || (int64_t)e->mtime.seconds < (int64_t)sb.st_mtime) {
            continue;
        }
        git_index_entry copy = *e;
        copy.file_size = 0;
        git_index_add(idx, &copy); /* same path and stage: replaces e in place */
    }
}

/* The commit of HEAD's tree with the updates; the index follows for those
 * paths, so the worktree shows them clean. */
static int commit_updates(job_t *j, const char *message, json_t **out, ad_git_err_t *e)
{
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_index *idx = NULL;
    git_oid tree_id, id;
    int rc = base_tree(j->repo, &parent, &base, e);
    int grc = 0;
    if (rc == 0) {
        grc = git_tree_create_updated(&tree_id, j->repo, base, j->n, j->updates);
        grc = grc == 0 ? git_tree_lookup(&tree, j->repo, &tree_id) : grc;
        rc = grc < 0 ? ad_gitx_lib(e, grc, "build the tree") : 0;
    }
    if (rc == 0 && git_oid_equal(git_tree_id(base), &tree_id) && parent != NULL) {
        rc = ad_gitx_fail(e, AD_ESTATE, "nothing_to_commit",
                          "the worktree already has these files as they are");
    }
    if (rc == 0) {
        const git_commit *parents[1] = {parent};
        grc = ad_gitx_signature(j->repo, &sig);
        grc = grc == 0 ? git_commit_create(&id, j->repo, "HEAD", sig, sig, NULL, message, tree,
                                           parent != NULL ? 1 : 0, parents)
                       : grc;
        rc = grc < 0 ? ad_gitx_lib(e, grc, "commit") : 0;
    }
    if (rc == 0 && git_repository_index(&idx, j->repo) == 0) {
        smudge_racy(idx);
        for (size_t i = 0; i < j->n; i++) {
            git_index_add_bypath(idx, j->paths[i]);
        }
        git_index_write(idx);
    }
    if (rc == 0) {
        char hex[GIT_OID_HEXSZ + 1], shortid[12];
        git_oid_tostr(hex, sizeof(hex), &id);
        git_oid_tostr(shortid, 8, &id);
        json_t *paths = json_array();
        for (size_t i = 0; i < j->n; i++) {
            json_array_append_new(paths, json_string(j->paths[i]));
        }
        *out = json_pack("{s:s, s:s, s:o, s:o}", "commit", hex, "shortId", shortid, "branch",
                         ad_gitx_head_branch_json(j->repo), "files", paths);
    }
    git_index_free(idx);
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    return rc;
}

/* Checks the paths into j->paths; AD_EINVAL names the first bad one. */
static int check_paths(job_t *j, const char *dir, ad_git_err_t *e)
{
    for (size_t i = 0; i < j->n; i++) {
        json_t *f = json_array_get(j->files, i);
        const char *p = json_string_value(json_object_get(f, "path"));
        char full[FULL_MAX];
        if (p == NULL || !json_is_string(json_object_get(f, "content")) ||
            !full_path(dir, p, full)) {
            return ad_gitx_fail(e, AD_EINVAL, "unsafe_path", "%s: not a path agentd writes",
                                p != NULL ? p : "(none)");
        }
        j->paths[i] = strdup(full);
        if (j->paths[i] == NULL) {
            return ad_gitx_fail(e, AD_ENOMEM, "", "out of memory");
        }
    }
    return 0;
}

int ad_git_commit_files(const char *wt_path, const char *dir, json_t *files, const char *message,
                        json_t **out, ad_git_err_t *e)
{
    job_t j = {.files = files, .n = json_array_size(files)};
    *out = NULL;
    if (message == NULL || message[0] == '\0') {
        return ad_gitx_fail(e, AD_EINVAL, "invalid_message", "a commit message is required");
    }
    if (j.n == 0 || j.n > FILES_MAX) {
        return ad_gitx_fail(e, AD_EINVAL, "no_files", "1 to %d files are committed", FILES_MAX);
    }
    j.paths = ad_xcalloc(j.n, sizeof(*j.paths));
    j.updates = ad_xcalloc(j.n, sizeof(*j.updates));
    int rc = check_paths(&j, dir, e);
    rc = rc != 0 ? rc : ad_gitx_open_worktree(wt_path, &j.repo, e);
    if (rc == 0) {
        json_t *changed = json_array();
        rc = dirty_paths(j.repo, j.paths, j.n, changed, e);
        if (rc == 0 && json_array_size(changed) > 0) {
            rc = ad_gitx_fail(e, AD_ESTATE, "dirty",
                              "the worktree has uncommitted changes in these paths");
            e->details = json_pack("{s:O}", "changedFiles", changed);
        }
        json_decref(changed);
    }
    rc = rc != 0 ? rc : write_all(&j, wt_path, e);
    rc = rc != 0 ? rc : commit_updates(&j, message, out, e);
    for (size_t i = 0; i < j.n; i++) {
        free(j.paths[i]);
    }
    free(j.paths);
    free(j.updates);
    git_repository_free(j.repo);
    return rc;
}
