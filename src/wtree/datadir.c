/* SPDX-License-Identifier: MIT */
/*
 * No repository and no file read for a client may lead into a data dir
 * (wtree_int.h, issue #73): agentd's own (its owner token, credentials,
 * event log), or any folder that looks like one (another agentd's). A
 * work tree is compared after realpath with agentd's data dir (it may not
 * hold it), then walked, bounded, for a folder holding agentd.db or
 * owner-token; a file asked for must not resolve into the data dir outside
 * its work tree.
 */
#include "wtree/wtree_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How far a new workspace's work tree is looked through for a data dir:
 * deep enough for ~/.local/share/agentd and a project's .agentd/data,
 * bounded for a home folder or node_modules. */
#define WALK_DEPTH 5
#define WALK_DIRS 20000

/* Whether a is b or below it (both realpaths). */
static bool within(const char *a, const char *b)
{
    size_t n = strlen(b);
    while (n > 1 && b[n - 1] == '/') {
        n--;
    }
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/' || n == 1);
}

static bool data_real(const ad_wtree_t *W, char out[PATH_MAX])
{
    return W->cfg != NULL && W->cfg->data_dir[0] != '\0' && realpath(W->cfg->data_dir, out) != NULL;
}

static bool looks_like_data_dir(int dfd)
{
    return faccessat(dfd, "agentd.db", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
           faccessat(dfd, "owner-token", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Walks the folder dfd (taken: closed here) to depth, not through links
 * nor into .git; true when a folder in it looks like a data dir. *budget
 * counts the folders opened. */
static bool holds_data_dir(int dfd, int depth, unsigned *budget)
{
    if (looks_like_data_dir(dfd)) {
        close(dfd);
        return true;
    }
    DIR *d = depth > 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        close(dfd);
        return false;
    }
    bool found = false;
    struct dirent *e;
    while (!found && *budget > 0 && (e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
            continue;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, ".git") == 0) {
            continue;
        }
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            (*budget)--;
            found = holds_data_dir(sub, depth - 1, budget);
        }
    }
    closedir(d);
    return found;
}

const char *ad_wtree_data_dir_repo(const ad_wtree_t *W, const char *path)
{
    char real[PATH_MAX], data[PATH_MAX];
    if (path == NULL || realpath(path, real) == NULL) {
        return NULL; /* git's own error follows */
    }
    if (data_real(W, data) && within(data, real)) {
        return "the repository's work tree holds agentd's data dir";
    }
    int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    unsigned budget = WALK_DIRS;
    if (fd >= 0 && holds_data_dir(fd, WALK_DEPTH, &budget)) {
        return "the repository's work tree holds a folder that looks like a data dir (agentd.db "
               "or owner-token)";
    }
    return NULL;
}

bool ad_wtree_reads_data_dir(const ad_wtree_t *W, const char *path, const char *file)
{
    char data[PATH_MAX], real[PATH_MAX], full[PATH_MAX], rf[PATH_MAX];
    if (path == NULL || !data_real(W, data) || realpath(path, real) == NULL) {
        return false; /* git's own error follows */
    }
    if (within(data, real)) {
        return true;
    }
    if (file == NULL || file[0] == '\0') {
        return false;
    }
    /* a file of a work tree kept in the data dir is that tree's; any other
     * path there is agentd's own */
    int n = snprintf(full, sizeof(full), "%s/%s", path, file);
    return n > 0 && (size_t)n < sizeof(full) && realpath(full, rf) != NULL && within(rf, data) &&
           !within(rf, real);
}
