/* SPDX-License-Identifier: MIT */
/*
 * git: the trust root of a worktree (issue #73). The repository and a
 * worktree's git folder come from agentd's rows (the workspace it
 * registered, the worktree it made; on a node, the mirror it made), never
 * from a file an agent can write. The worktree's `.git` file and its git
 * folder's `commondir` are agent-writable (the worktree and the common git
 * folder are shown read-write in the sandbox): each is checked to still
 * name what the rows say before agentd mounts, opens or runs anything on
 * the worktree, and a worktree whose files say otherwise is refused.
 * Plain POSIX, in the executable (no libgit2): a start asks it too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "git/git.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
    return AD_EPERM;
}

/* The one line of a small regular file (never through a symlink), its
 * line end cut; false when it is not one. */
static bool read_line(const char *path, char *out, size_t outsz)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size < outsz) {
        n = read(fd, out, outsz - 1);
    }
    close(fd);
    if (n <= 0) {
        return false;
    }
    out[n] = '\0';
    size_t len = strcspn(out, "\r\n");
    if (out[len] != '\0' && out[len + strspn(out + len, "\r\n")] != '\0') {
        return false; /* more than one line */
    }
    out[len] = '\0';
    return len > 0 && memchr(out, '\0', (size_t)n) == out + len;
}

/* path a real folder (not a symlink to one)? */
static bool real_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* p (absolute, or relative to base) resolved into out; false when it
 * does not resolve. */
static bool resolve(const char *base, const char *p, char *out)
{
    char joined[PATH_MAX * 2 + 2];
    if (p[0] == '/') {
        snprintf(joined, sizeof(joined), "%s", p);
    } else {
        snprintf(joined, sizeof(joined), "%s/%s", base, p);
    }
    return strlen(joined) < PATH_MAX && realpath(joined, out) != NULL;
}

/* No entry of the folder dir is a symlink: libgit2 and git would follow
 * one (objects, refs, HEAD, index, packed-refs) out of the repository. */
static int no_links(const char *dir, char *why, size_t whysz)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return refuse(why, whysz, "cannot read %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    size_t seen = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL && seen++ < 4096) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            rc = refuse(why, whysz, "%s/%s is a symbolic link, which agentd never follows", dir,
                        de->d_name);
        }
    }
    closedir(d);
    return rc;
}

/* No symlink anywhere below dir (a folder of refs): a ref that is a link
 * would read another repository's branch. At most 20000 entries, 16 deep;
 * a folder that does not exist is fine. */
static int no_links_below(int dfd, const char *shown, int depth, size_t *seen, char *why,
                          size_t whysz)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return refuse(why, whysz, "cannot read %s", shown);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        struct stat st;
        if (++*seen > 20000 || depth > 16) {
            rc = refuse(why, whysz, "%s holds more refs than agentd checks", shown);
        } else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue; /* gone meanwhile */
        } else if (S_ISLNK(st.st_mode)) {
            rc = refuse(why, whysz, "%s/…/%s is a symbolic link, which agentd never follows", shown,
                        de->d_name);
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = sub < 0 ? 0 : no_links_below(sub, shown, depth + 1, seen, why, whysz);
        }
    }
    closedir(d);
    return rc;
}

/* The refs of a git folder: no link among them, and no borrowed objects
 * (objects/info/alternates names another repository's). */
static int refs_own(const char *gitdir, char *why, size_t whysz)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/refs", gitdir);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    size_t seen = 0;
    int rc = fd < 0 ? 0 : no_links_below(fd, p, 0, &seen, why, whysz);
    struct stat st;
    static const char *const borrowed[] = {"objects/info/alternates",
                                           "objects/info/http-alternates"};
    for (size_t i = 0; rc == 0 && i < sizeof(borrowed) / sizeof(borrowed[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", gitdir, borrowed[i]);
        if (lstat(p, &st) == 0) {
            rc = refuse(why, whysz,
                        "%s exists: the repository borrows objects from another one, which "
                        "agentd does not follow (`git repack -a -d`, then remove it)",
                        p);
        }
    }
    return rc;
}

int ad_git_trust_check(const char *repo, bool bare, const char *wt, ad_git_trust_t *out, char *why,
                       size_t whysz)
{
    memset(out, 0, sizeof(*out));
    char p[PATH_MAX + 32], line[PATH_MAX + 16], real[PATH_MAX];
    if (repo == NULL || repo[0] != '/' || wt == NULL || wt[0] != '/' || strlen(repo) >= PATH_MAX ||
        strlen(wt) >= PATH_MAX) {
        return refuse(why, whysz, "the worktree's repository is not known");
    }
    /* the common folder: the workspace's <top>/.git, or a node's bare
     * mirror itself, a real folder that is itself no linked git folder */
    snprintf(p, sizeof(p), bare ? "%s" : "%s/.git", repo);
    if (!real_dir(p) || realpath(p, out->common) == NULL) {
        return refuse(why, whysz, "%s is no longer a git folder", p);
    }
    snprintf(p, sizeof(p), "%s/commondir", out->common);
    struct stat st;
    if (lstat(p, &st) == 0 || errno != ENOENT) {
        return refuse(why, whysz,
                      "%s has a commondir file, which would send git to another repository", p);
    }
    int rc = no_links(out->common, why, whysz);
    rc = rc != 0 ? rc : refs_own(out->common, why, whysz);
    if (rc != 0) {
        return rc;
    }
    char wtreal[PATH_MAX], reporeal[PATH_MAX];
    if (realpath(wt, wtreal) == NULL) {
        snprintf(why, whysz, "the worktree %s is gone", wt);
        return AD_ENOENT; /* nothing there to follow: the caller says it is missing */
    }
    snprintf(p, sizeof(p), "%s/.git", wtreal);
    if (!bare && realpath(repo, reporeal) != NULL && strcmp(reporeal, wtreal) == 0) {
        /* the main worktree: its .git is the common folder */
        snprintf(out->gitdir, sizeof(out->gitdir), "%s", out->common);
        snprintf(out->work_tree, sizeof(out->work_tree), "%s", wtreal);
        return 0;
    }
    /* a linked worktree: .git a file that says gitdir: <common>/worktrees/<x> */
    if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || !read_line(p, line, sizeof(line)) ||
        strncmp(line, "gitdir: ", 8) != 0) {
        return refuse(why, whysz,
                      "%s is not the file agentd wrote (a line \"gitdir: <the repository's "
                      "worktree folder>\")",
                      p);
    }
    char wtdir[PATH_MAX + 16];
    snprintf(wtdir, sizeof(wtdir), "%s/worktrees", out->common);
    if (!resolve(wtreal, line + 8, real) || strncmp(real, wtdir, strlen(wtdir)) != 0 ||
        real[strlen(wtdir)] != '/' || strchr(real + strlen(wtdir) + 1, '/') != NULL ||
        !real_dir(wtdir)) {
        return refuse(why, whysz, "%s names %s, which is not a worktree folder of %s", p, line + 8,
                      out->common);
    }
    if (!real_dir(real)) {
        return refuse(why, whysz, "%s is not a folder", real);
    }
    /* its commondir leads back to the common folder, and nowhere else */
    char common2[PATH_MAX];
    snprintf(p, sizeof(p), "%s/commondir", real);
    if (!read_line(p, line, sizeof(line)) || !resolve(real, line, common2) ||
        strcmp(common2, out->common) != 0) {
        return refuse(why, whysz,
                      "%s does not name %s, the repository agentd registered (it was changed)", p,
                      out->common);
    }
    rc = no_links(real, why, whysz);
    rc = rc != 0 ? rc : refs_own(real, why, whysz);
    if (rc != 0) {
        return rc;
    }
    snprintf(out->gitdir, sizeof(out->gitdir), "%s", real);
    snprintf(out->work_tree, sizeof(out->work_tree), "%s", wtreal);
    return 0;
}
