/* SPDX-License-Identifier: MIT */
/*
 * A child's environment and executable: the allow-list of variables agents
 * inherit from agentd (never AGENTD_*, which holds the API token), the
 * configured extras (AGENTD_* dropped there too, but for AGENTD_CONFIG: the
 * path of a run's hyper-parameter config, which the runner sets itself), and a PATH lookup done
 * before fork so that a missing executable is a clear error at start, not a dead run.
 */
#include "proc/proc.h"
#include "proc/proc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define MAX_ENV 4096

static const char *const inherited[] = {"PATH",  "HOME",   "LANG", "USER", "LOGNAME",
                                        "SHELL", "TMPDIR", "TZ",   "LC_*"};

static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq == NULL ? 0 : (size_t)(eq - entry);
}

static bool is_inherited(const char *entry, size_t nlen, bool pty)
{
    if (pty && nlen == 4 && memcmp(entry, "TERM", 4) == 0) {
        return true;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(inherited); i++) {
        const char *n = inherited[i];
        size_t l = strlen(n);
        if (n[l - 1] == '*') {
            if (nlen >= l - 1 && memcmp(entry, n, l - 1) == 0) {
                return true;
            }
        } else if (nlen == l && memcmp(entry, n, l) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_agentd(const char *entry, size_t nlen)
{
    return nlen >= 7 && memcmp(entry, "AGENTD_", 7) == 0;
}

/* The AGENTD_ names an agent's own environment may still set: its
 * hyper-parameter config, and what a routine's run is told (issue #75,
 * docs/routines.md): data for the agent, nothing agentd reads. */
static bool given_through(const char *entry, size_t nlen)
{
    static const char *const names[] = {"AGENTD_CONFIG", "AGENTD_TRIGGER_PAYLOAD",
                                        "AGENTD_ROUTINE_ID", "AGENTD_ROUTINE_RUN_ID"};
    for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
        if (strlen(names[i]) == nlen && memcmp(entry, names[i], nlen) == 0) {
            return true;
        }
    }
    return false;
}

/* Index of the entry named like `entry` in env[0..n), or n. */
static size_t find(char **env, size_t n, const char *entry, size_t nlen)
{
    for (size_t i = 0; i < n; i++) {
        if (name_len(env[i]) == nlen && memcmp(env[i], entry, nlen) == 0) {
            return i;
        }
    }
    return n;
}

int ad_proc_env_build(const char *const *extra, bool pty, char ***out, char *err, size_t errsz)
{
    size_t next = 0;
    while (extra != NULL && extra[next] != NULL) {
        next++;
    }
    if (next > MAX_ENV) {
        snprintf(err, errsz, "too many environment variables (at most %d)", MAX_ENV);
        return AD_EINVAL;
    }
    size_t cap = AD_ARRAY_LEN(inherited) + 64 + next + 3;
    char **env = ad_xcalloc(cap, sizeof(char *));
    size_t n = 0;
    for (char **e = environ; e != NULL && *e != NULL && n + next + 3 < cap; e++) {
        size_t nl = name_len(*e);
        if (nl > 0 && is_inherited(*e, nl, pty) && !is_agentd(*e, nl)) {
            env[n++] = ad_xstrdup(*e);
        }
    }
    for (size_t i = 0; i < next; i++) {
        const char *e = extra[i];
        size_t nl = name_len(e);
        if (nl == 0) {
            snprintf(err, errsz, "environment entry is not NAME=value: '%.40s'", e);
            ad_proc_env_free(env);
            return AD_EINVAL;
        }
        if (is_agentd(e, nl) && !given_through(e, nl)) {
            ad_log(AD_LOG_WARN, "proc", "not passing agentd variable to child name=%.*s", (int)nl,
                   e);
            continue;
        }
        size_t at = find(env, n, e, nl);
        if (at < n) {
            free(env[at]);
            env[at] = ad_xstrdup(e);
        } else {
            env[n++] = ad_xstrdup(e);
        }
    }
    if (find(env, n, "PATH=", 4) == n) {
        env[n++] = ad_xstrdup("PATH=" AD_DEFAULT_PATH);
    }
    if (pty && find(env, n, "TERM=", 4) == n) {
        env[n++] = ad_xstrdup("TERM=xterm-256color");
    }
    env[n] = NULL;
    *out = env;
    return 0;
}

void ad_proc_env_free(char **env)
{
    if (env == NULL) {
        return;
    }
    for (char **e = env; *e != NULL; e++) {
        free(*e);
    }
    free(env);
}

const char *ad_proc_env_get(char *const *env, const char *name)
{
    size_t l = strlen(name);
    for (char *const *e = env; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, l) == 0 && (*e)[l] == '=') {
            return *e + l + 1;
        }
    }
    return NULL;
}
