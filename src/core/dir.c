/* SPDX-License-Identifier: MIT */
/*
 * The data directory: created with mode 0700, and locked by one daemon at a
 * time through flock(2) on agentd.pid. The lock dies with the process, so a
 * crashed daemon never leaves a stale lock behind.
 */
#include "core.h"

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int ad_dir_create(const char *dir, char *err, size_t errsz)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        snprintf(err, errsz, "invalid data dir path");
        return AD_EINVAL;
    }
    memcpy(path, dir, len + 1);
    while (len > 1 && path[len - 1] == '/') {
        path[--len] = '\0';
    }
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
            return AD_EIO;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
        return AD_EIO;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s is not a directory", path);
        return AD_EINVAL;
    }
    /* Whoever else owns it, or may write in it, could have planted an
     * owner token or a database: agentd would serve them. */
    if (st.st_uid != geteuid()) {
        snprintf(err, errsz,
                 "data dir %s belongs to uid %ld, not to this user (uid %ld): its files (the "
                 "owner token among them) may have been planted; use a data dir of your own",
                 path, (long)st.st_uid, (long)geteuid());
        return AD_EPERM;
    }
    if ((st.st_mode & 022) != 0) {
        snprintf(err, errsz,
                 "data dir %s is writable by other users (mode %04o): its files (the owner "
                 "token among them) may have been planted; use a new data dir, or check it and "
                 "chmod 700 it",
                 path, (unsigned)(st.st_mode & 07777));
        return AD_EPERM;
    }
    return 0;
}

/* chmod path to mode when it has more than mode; counts what it changed. */
static void tighten(const char *path, const struct stat *st, mode_t mode, int *changed)
{
    if ((st->st_mode & 07777 & ~mode) == 0) {
        return;
    }
    if (chmod(path, mode & (st->st_mode & 07777)) == 0) {
        ad_log(AD_LOG_WARN, "core", "tightened permissions path=%s was=%04o now=%04o", path,
               (unsigned)(st->st_mode & 07777), (unsigned)(mode & st->st_mode & 07777));
        (*changed)++;
    } else {
        ad_log(AD_LOG_WARN, "core", "cannot tighten permissions path=%s error=%s", path,
               strerror(errno));
    }
}

static void secure_tree(const char *dir, int depth, int *changed)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char path[4352];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path)) {
            continue;
        }
        struct stat st;
        if (lstat(path, &st) != 0) {
            continue; /* gone meanwhile; symlinks are left alone below */
        }
        if (S_ISDIR(st.st_mode)) {
            tighten(path, &st, 0700, changed);
            if (depth > 0) {
                secure_tree(path, depth - 1, changed);
            }
        } else if (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)) {
            tighten(path, &st, 0600, changed);
        }
    }
    closedir(d);
}

int ad_dir_secure(const char *dir)
{
    int changed = 0;
    struct stat st;
    if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        tighten(dir, &st, 0700, &changed);
        secure_tree(dir, 3, &changed);
    }
    return changed;
}

int ad_pidlock_acquire(ad_pidlock_t *l, const char *dir, char *err, size_t errsz)
{
    l->fd = -1;
    if ((size_t)snprintf(l->path, sizeof(l->path), "%s/agentd.pid", dir) >= sizeof(l->path)) {
        snprintf(err, errsz, "data dir path too long");
        return AD_EINVAL;
    }
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", l->path, strerror(errno));
        return AD_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errsz, "data dir %s is in use by another agentd (pid %s)", dir,
                 pid[0] ? pid : "unknown");
        close(fd);
        return AD_EBUSY;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errsz, "cannot write %s: %s", l->path, strerror(errno));
        close(fd);
        return AD_EIO;
    }
    l->fd = fd;
    return 0;
}

void ad_pidlock_release(ad_pidlock_t *l)
{
    if (l->fd < 0) {
        return;
    }
    /* Truncate rather than unlink: unlinking would let a second daemon lock a
     * new file while a third still waits on the old inode. */
    if (ftruncate(l->fd, 0) != 0) {
        ad_log(AD_LOG_WARN, "core", "cannot truncate pid file path=%s", l->path);
    }
    close(l->fd);
    l->fd = -1;
}
