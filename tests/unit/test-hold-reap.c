/* SPDX-License-Identifier: MIT */
/*
 * The reaper (`agentd-hold --reap`, src/hold/reap.c): it exits as its
 * command did (a code, a signal), kills what the command left running
 * when it ends, and kills the whole tree when its own parent (agentd)
 * dies, also a process the command started in the background. Each case
 * runs the reaper in a child of this test (the same code agentd-hold
 * runs); every wait is bounded.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "hold/hold.h"

#define WAIT_MS 20000

static char dir[] = "/tmp/agentd-reaptest-XXXXXX";

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forks a reaper of `sh -c script`; its pid. */
static pid_t reaper(const char *script)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {"/bin/sh", "sh", "-c", (char *)script, NULL};
        _exit(ad_hold_reap(4, argv));
    }
    assert_true(pid > 0);
    return pid;
}

static int wait_status(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

/* The pid a script wrote to dir/name, once it is there. */
static pid_t pid_in(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    for (int64_t end = ms_now() + WAIT_MS; ms_now() < end; usleep(2000)) {
        FILE *f = fopen(path, "r");
        long v = 0;
        int n = f != NULL ? fscanf(f, "%ld", &v) : 0;
        if (f != NULL) {
            fclose(f);
        }
        if (n == 1 && v > 1) {
            return (pid_t)v;
        }
    }
    fail_msg("%s never written", path);
    return -1;
}

/* Whether pid is gone within the bound (a zombie counts as alive: the
 * reaper must have reaped it too). */
static bool gone(pid_t pid)
{
    for (int64_t end = ms_now() + WAIT_MS; ms_now() < end; usleep(2000)) {
        if (kill(pid, 0) != 0 && errno == ESRCH) {
            return true;
        }
    }
    return false;
}

static void exits_as_its_command_did(void **state)
{
    AD_UNUSED(state);
    int st = wait_status(reaper("exit 3"));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3);
    st = wait_status(reaper("kill -USR1 $$; sleep 5"));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGUSR1);
    char *bad[] = {"/nonexistent/agentd-reap", "x", NULL};
    pid_t pid = fork();
    if (pid == 0) {
        _exit(ad_hold_reap(2, bad));
    }
    st = wait_status(pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 127);
}

static void what_the_command_left_running_goes_with_it(void **state)
{
    AD_UNUSED(state);
    char script[256];
    snprintf(script, sizeof(script), "sleep 300 & echo $! > %s/bg; exit 0", dir);
    int st = wait_status(reaper(script));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(gone(pid_in("bg")));
}

static void its_parents_death_takes_the_tree(void **state)
{
    AD_UNUSED(state);
    char script[256];
    snprintf(script, sizeof(script), "sleep 300 & echo $! > %s/bg2; echo $$ > %s/sh2; wait", dir,
             dir);
    /* the stand-in for agentd: the reaper's parent, which dies */
    pid_t parent = fork();
    if (parent == 0) {
        reaper(script);
        pause();
        _exit(0);
    }
    assert_true(parent > 0);
    pid_t bg = pid_in("bg2"), sh = pid_in("sh2");
    assert_int_equal(kill(sh, 0), 0);
    kill(parent, SIGKILL);
    wait_status(parent);
    assert_true(gone(sh));
    assert_true(gone(bg));
}

static int setup(void **state)
{
    AD_UNUSED(state);
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    AD_UNUSED(state);
    const char *names[] = {"bg", "bg2", "sh2"};
    for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exits_as_its_command_did),
        cmocka_unit_test(what_the_command_left_running_goes_with_it),
        cmocka_unit_test(its_parents_death_takes_the_tree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
