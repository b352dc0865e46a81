/* SPDX-License-Identifier: MIT */
/*
 * Opening a file of a repository for a client without leaving the
 * repository: a tracked symlink (.claude/agents -> /etc, config.env ->
 * ~/.ssh/id_rsa) must not make agentd read or copy what is outside.
 * openat2(2) with RESOLVE_BENEATH does it in the kernel; kernels before
 * 5.6 get a walk that opens each component with O_NOFOLLOW.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Each component opened without following a link (the fallback). */
static int walk_nofollow(int rootfd, const char *rel, int flags)
{
    int dir = rootfd;
    const char *p = rel;
    for (;;) {
        while (*p == '/') {
            p++;
        }
        size_t len = strcspn(p, "/");
        char comp[256];
        if (len == 0 || len >= sizeof(comp)) {
            errno = len == 0 ? ENOENT : ENAMETOOLONG;
            break;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (strcmp(comp, "..") == 0) {
            errno = EXDEV;
            break;
        }
        const char *rest = p + len;
        while (*rest == '/') {
            rest++;
        }
        int fd = *rest == '\0' ? openat(dir, comp, flags | O_NOFOLLOW | O_CLOEXEC, 0)
                               : openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir != rootfd) {
            int saved = errno;
            close(dir);
            errno = saved;
        }
        if (fd < 0 || *rest == '\0') {
            return fd;
        }
        dir = fd;
        p = rest;
    }
    if (dir != rootfd) {
        int saved = errno;
        close(dir);
        errno = saved;
    }
    return -1;
}

int ad_openat_beneath(int rootfd, const char *rel, int flags)
{
    if (rel == NULL || rel[0] == '\0' || rel[0] == '/') {
        errno = EXDEV;
        return -1;
    }
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
        return (int)fd; /* EPERM: a seccomp filter that does not know openat2 */
    }
#endif
    return walk_nofollow(rootfd, rel, flags);
}

int ad_open_beneath(const char *root, const char *rel, int flags)
{
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return -1;
    }
    int fd = ad_openat_beneath(rootfd, rel, flags);
    int saved = errno;
    close(rootfd);
    errno = saved;
    return fd;
}
