/* SPDX-License-Identifier: MIT */
/*
 * Finding a program the way execvp would: a name looked up in PATH, a
 * path with a slash taken as it is (relative to a given directory).
 * Used before anything is spawned, so a missing program is refused
 * with a clear message instead of failing in the child.
 */
#include "core.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0 when path names an executable regular file, else AD_ENOENT/AD_EPERM. */
static int check_exec(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISDIR(st.st_mode)) {
        return AD_ENOENT;
    }
    return access(path, X_OK) == 0 ? 0 : AD_EPERM;
}

int ad_path_which_in(const char *argv0, const char *path, const char *cwd, char *out, size_t outsz)
{
    char buf[4096];
    if (argv0 == NULL || argv0[0] == '\0') {
        return AD_ENOENT;
    }
    if (strchr(argv0, '/') != NULL) {
        if (argv0[0] != '/' && cwd != NULL) {
            if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, argv0) >= sizeof(buf)) {
                return AD_ETOOBIG;
            }
        } else if ((size_t)snprintf(buf, sizeof(buf), "%s", argv0) >= sizeof(buf)) {
            return AD_ETOOBIG;
        }
        int rc = check_exec(buf);
        if (rc == 0 && (size_t)snprintf(out, outsz, "%s", buf) >= outsz) {
            return AD_ETOOBIG;
        }
        return rc;
    }
    if (path == NULL) {
        path = getenv("PATH");
    }
    if (path == NULL) {
        path = AD_DEFAULT_PATH;
    }
    int best = AD_ENOENT;
    const char *p = path;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t dl = colon != NULL ? (size_t)(colon - p) : strlen(p);
        /* An empty entry means the current directory, as for execvp. */
        int w;
        if (dl > 0) {
            w = snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p, argv0);
        } else if (cwd != NULL) {
            w = snprintf(buf, sizeof(buf), "%s/%s", cwd, argv0);
        } else {
            w = snprintf(buf, sizeof(buf), "./%s", argv0);
        }
        if (w > 0 && (size_t)w < sizeof(buf) && buf[0] == '/') {
            int rc = check_exec(buf);
            if (rc == 0) {
                if ((size_t)snprintf(out, outsz, "%s", buf) >= outsz) {
                    return AD_ETOOBIG;
                }
                return 0;
            }
            if (rc == AD_EPERM) {
                best = AD_EPERM;
            }
        }
        if (colon == NULL) {
            break;
        }
        p = colon + 1;
    }
    return best;
}

int ad_path_which(const char *argv0, const char *path, char *out, size_t outsz)
{
    return ad_path_which_in(argv0, path, NULL, out, outsz);
}

int ad_exe_dir(char *out, size_t outsz)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return AD_ENOENT;
    }
    self[n] = '\0';
    char *del = strstr(self, " (deleted)"); /* replaced on disk: its folder still counts */
    if (del != NULL && del[10] == '\0') {
        *del = '\0';
    }
    char *slash = strrchr(self, '/');
    if (slash == NULL) {
        return AD_ENOENT;
    }
    *slash = '\0';
    if (strlen(self) >= outsz) {
        return AD_ETOOBIG;
    }
    memcpy(out, self, strlen(self) + 1);
    return 0;
}

void *ad_plugin_open(const char *file, const char *env_var, char *err, size_t errsz)
{
    const char *env = getenv(env_var);
    void *lib = NULL;
    if (env != NULL && env[0] != '\0') {
        lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    } else {
        char dir[PATH_MAX], path[PATH_MAX + 64];
        if (ad_exe_dir(dir, sizeof(dir)) != 0) {
            snprintf(err, errsz, "cannot find the agentd executable");
            return NULL;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (access(path, R_OK) != 0) {
            snprintf(err, errsz, "%s is not beside the agentd executable", file);
            return NULL;
        }
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (lib == NULL) {
        const char *why = dlerror();
        snprintf(err, errsz, "%s", why != NULL ? why : "dlopen failed");
    }
    return lib;
}
