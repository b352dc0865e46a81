/* SPDX-License-Identifier: MIT */
/*
 * Shared by the allocation-failure tests (test-agent-alloc.c,
 * test-store-alloc.c): a body run in a forked child whose n-th allocation
 * fails, and what became of it. Include after cmocka.h.
 */
#ifndef AD_TEST_ALLOC_FIXTURE_H
#define AD_TEST_ALLOC_FIXTURE_H

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs body(ud, n) in a child with stderr silenced (the abort's message is
 * expected). body arms the failure itself. Returns 0 when the child
 * completed (exit 0), 1 when it aborted as designed; fails the test on
 * anything else. */
static int alloc_run_child(void (*body)(void *ud, unsigned long n), void *ud, unsigned long n)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL) {
            _exit(5);
        }
        body(ud, n);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
        fail_msg("allocation %lu: the child ended with status 0x%x, not abort()", n, status);
    }
    return 1;
}

#endif
