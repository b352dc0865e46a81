/* SPDX-License-Identifier: MIT */
/*
 * Which thread runs the loop, for AD_ASSERT_LOOP (core.h). Set once before
 * any other thread starts; read from any thread.
 */
#include "core.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

static pthread_t loop_thread;
static atomic_bool loop_thread_known;

void ad_loop_thread_set(void)
{
    loop_thread = pthread_self();
    atomic_store(&loop_thread_known, true);
}

bool ad_loop_thread_is(void)
{
    return !atomic_load(&loop_thread_known) || pthread_equal(loop_thread, pthread_self()) != 0;
}

bool ad_thread_detached(void *(*fn)(void *), void *arg, size_t stack, bool quiet)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (stack > 0) {
        pthread_attr_setstacksize(&at, stack);
    }
    sigset_t all, old;
    sigfillset(&all);
    if (quiet) {
        pthread_sigmask(SIG_SETMASK, &all, &old);
    }
    pthread_t t;
    bool ok = pthread_create(&t, &at, fn, arg) == 0;
    if (quiet) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_attr_destroy(&at);
    return ok;
}
