/* SPDX-License-Identifier: MIT */
/*
 * Child exit statuses in one place. agentd is a child subreaper: the
 * supervisor (src/proc) reaps every exited child with waitpid(-1), its own
 * and the orphans of agent trees, so a thread that waits for a child of
 * its own (a worktree setup command, src/git) may find it already reaped.
 * The supervisor leaves such a status here and that thread takes it. Any
 * thread; a bounded table (the oldest entry makes room).
 */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

#define CHILD_SLOTS 256

static struct {
    pid_t pid;
    int status;
} slots[CHILD_SLOTS];
static size_t next_slot;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void ad_child_lock(void)
{
    pthread_mutex_lock(&mu);
}

void ad_child_unlock(void)
{
    pthread_mutex_unlock(&mu);
}

void ad_child_status_put_locked(pid_t pid, int status)
{
    slots[next_slot].pid = pid;
    slots[next_slot].status = status;
    next_slot = (next_slot + 1) % CHILD_SLOTS;
}

static bool take_locked(pid_t pid, int *status)
{
    for (size_t i = 0; i < CHILD_SLOTS; i++) {
        if (slots[i].pid == pid) {
            *status = slots[i].status;
            slots[i].pid = 0;
            return true;
        }
    }
    return false;
}

bool ad_child_status_take(pid_t pid, int *status)
{
    ad_child_lock();
    bool found = take_locked(pid, status);
    ad_child_unlock();
    return found;
}

int ad_child_wait(pid_t pid, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, 0);
        if (r == pid) {
            return 0;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        /* ECHILD: the supervisor reaped it; it left the status under the
         * lock it held while reaping, so it is there once we get the lock. */
        ad_child_lock();
        bool found = take_locked(pid, status);
        ad_child_unlock();
        return found ? 0 : AD_ENOENT;
    }
}
