/* SPDX-License-Identifier: MIT */
/*
 * Unix socket addresses for paths of any length. sun_path holds 108
 * bytes, so a data dir of more than about 60 characters used to leave
 * agentd without its socket (and a held agent without a way back to a new
 * daemon). A longer path is reached through an O_PATH descriptor of its
 * directory: /proc/self/fd/N/NAME resolves to the same inode for bind and
 * for connect. Depends on libc only (agentd-hold links it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/core.h"

int ad_unix_addr(const char *path, struct sockaddr_un *a, int *dirfd)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    *dirfd = -1;
    size_t len = strlen(path);
    if (len < sizeof(a->sun_path)) {
        memcpy(a->sun_path, path, len + 1);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path) {
        return AD_ETOOBIG;
    }
    char dir[4096];
    size_t dlen = (size_t)(slash - path);
    if (dlen >= sizeof(dir)) {
        return AD_ETOOBIG;
    }
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return AD_EIO;
    }
    int n = snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", fd, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(a->sun_path)) {
        close(fd);
        return AD_ETOOBIG;
    }
    *dirfd = fd;
    return 0;
}
