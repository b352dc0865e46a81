/* SPDX-License-Identifier: MIT */
/*
 * Shared by the test-git-*.c unit tests: a temporary folder per test with a
 * repository made by the git CLI (user.name/email set in its config), shell
 * helpers that fail the test when a command fails, and JSON accessors.
 */
#ifndef AD_TEST_GIT_FIXTURE_H
#define AD_TEST_GIT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "git/git.h"

/* Not every test file uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct {
    char root[256];      /* temporary folder holding everything */
    char repo[PATH_MAX]; /* <root>/repo: main worktree, one commit on main */
} fx_t;

static int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fx_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Runs a shell command that must succeed. */
#define SH(...) assert_int_equal(fx_sh(__VA_ARGS__), 0)

static int fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    snprintf(fx->root, sizeof(fx->root), "/tmp/agentd-git-XXXXXX");
    if (mkdtemp(fx->root) == NULL) {
        return -1;
    }
    snprintf(fx->repo, sizeof(fx->repo), "%s/repo", fx->root);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ad_log_set_level(AD_LOG_ERROR);
    if (fx_sh("cd %s && git init -q -b main repo && cd repo && git config user.name Test && "
              "git config user.email test@example.com && echo one > a.txt && "
              "git add a.txt && git commit -qm init",
              fx->root) != 0) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *fx = *state;
    fx_sh("rm -rf %s", fx->root);
    free(fx);
    return 0;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

static bool jbool(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

/* True when the JSON array holds the string s. */
static bool jhas(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

#endif
