/* SPDX-License-Identifier: MIT */
/*
 * The ThreadSanitizer build's view of libuv's closes (make BUILD=tsan only).
 *
 * libuv closes a descriptor with syscall(SYS_close, fd) rather than
 * close(3), which is a cancellation point; ThreadSanitizer intercepts
 * close(3) and not syscall(2), so it never learns that the descriptor was
 * closed. When another thread then opens a file and gets the same number,
 * the sanitizer takes the two for one descriptor used by two threads with
 * nothing ordering them, and reports a data race (make check saw one: a
 * spawn's pipe on the loop, closed by libuv, then the store's integrity
 * check opening its database on its own thread). Nothing of ours races.
 *
 * So this build defines syscall(2) itself: a close is told to the
 * sanitizer before and after it (its system call hooks, which libuv calls
 * itself only when it is built with the sanitizer), and every call goes on
 * to libc's. The executable's definition is the one libuv's calls reach.
 * Every executable of the build links this file (EXE_OBJ in the Makefile);
 * the other builds do not. tests/unit/test-core-misc.c checks it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The sanitizer's hooks (sanitizer/linux_syscall_hooks.h, which GCC does
 * not install). */
void __sanitizer_syscall_pre_impl_close(long fd);
void __sanitizer_syscall_post_impl_close(long res, long fd);

typedef long (*syscall_fn)(long, ...);

static _Atomic(syscall_fn) next_syscall;

long syscall(long n, ...)
{
    /* six arguments at most, as the kernel takes; those the caller did not
     * pass are read and passed on unused, as libc's own syscall does */
    long a[6];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < 6; i++) {
        a[i] = va_arg(ap, long);
    }
    va_end(ap);
    syscall_fn f = atomic_load_explicit(&next_syscall, memory_order_acquire);
    if (f == NULL) {
        f = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
        atomic_store_explicit(&next_syscall, f, memory_order_release);
    }
    if (n == SYS_close) {
        __sanitizer_syscall_pre_impl_close(a[0]);
    }
    long rc = f(n, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (n == SYS_close) {
        __sanitizer_syscall_post_impl_close(rc, a[0]);
    }
    return rc;
}
