/* SPDX-License-Identifier: MIT */
/*
 * Which thread runs the loop, for AD_ASSERT_LOOP (core.h). Set once before
 * any other thread starts; read from any thread.
 */
#include "core.h"

#include <pthread.h>
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
