/* SPDX-License-Identifier: MIT */
/*
 * git: libgit2's memory, bounded per job. An agent writes in its
 * repository's git folder, and libgit2 allocates what a file's size or an
 * object's header says and reads it whole: a sparse `index` of 16 GB (one
 * `truncate`) made a diff allocate and fill 16 GB of agentd's own memory,
 * and a small loose object can claim gigabytes. So libgit2 allocates
 * through the functions below (GIT_OPT_SET_ALLOCATOR, set before its
 * set-up). Inside a job (exec() in backend.c, on a pool thread) they count
 * what the job holds and refuse an allocation that would take it past the
 * bound; libgit2 then fails with "out of memory" and the job answers 409,
 * reason "git_memory". The count is per thread: each job opens its own
 * repository and frees what it allocated before it ends (memory freed here
 * that another thread allocated only lowers the count, clamped at 0).
 * Outside a job nothing is counted.
 *
 * The bound: an eighth of the machine's memory, at least 256 MiB (a status
 * of a 100,000-file tree holds tens of MiB; a diff holds the two blobs).
 * The four pool threads together then hold at most half of it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "git/git_int.h"

#include <git2/sys/alloc.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_MIN (256u << 20)

static size_t mem_max;
static _Thread_local bool counting;
static _Thread_local bool refused;
static _Thread_local size_t live;

/* Whether n more bytes fit the job's bound; notes a refusal. */
static bool fits(size_t n)
{
    if (!counting) {
        return true;
    }
    if (n > mem_max || live > mem_max - n) {
        refused = true;
        return false;
    }
    return true;
}

static void held(void *p, size_t before)
{
    if (!counting) {
        return;
    }
    size_t now = p != NULL ? malloc_usable_size(p) : 0;
    live = live >= before ? live - before : 0;
    live += now;
}

static void *a_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    if (!fits(n)) {
        return NULL;
    }
    void *p = malloc(n);
    held(p, 0);
    return p;
}

static void *a_realloc(void *ptr, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    size_t before = ptr != NULL && counting ? malloc_usable_size(ptr) : 0;
    if (n > before && !fits(n - before)) {
        return NULL;
    }
    void *p = realloc(ptr, n);
    if (p != NULL || n == 0) {
        held(p, before);
    }
    return p;
}

/* calloc itself: zeroed pages fresh from the kernel are not touched */
static void *a_calloc(size_t nelem, size_t elsize, const char *file, int line)
{
    (void)file, (void)line;
    size_t n;
    if (__builtin_mul_overflow(nelem, elsize, &n) || !fits(n)) {
        return NULL;
    }
    void *p = calloc(nelem, elsize);
    held(p, 0);
    return p;
}

static void *a_mallocarray(size_t nelem, size_t elsize, const char *file, int line)
{
    size_t n;
    return __builtin_mul_overflow(nelem, elsize, &n) ? NULL : a_malloc(n, file, line);
}

static void *a_reallocarray(void *ptr, size_t nelem, size_t elsize, const char *file, int line)
{
    size_t n;
    return __builtin_mul_overflow(nelem, elsize, &n) ? NULL : a_realloc(ptr, n, file, line);
}

/* exactly n bytes of str, then a NUL */
static char *a_substrdup(const char *str, size_t n, const char *file, int line)
{
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *p = a_malloc(n + 1, file, line);
    if (p != NULL) {
        memcpy(p, str, n);
        p[n] = '\0';
    }
    return p;
}

static char *a_strndup(const char *str, size_t n, const char *file, int line)
{
    return a_substrdup(str, strnlen(str, n), file, line);
}

static char *a_strdup(const char *str, const char *file, int line)
{
    return a_substrdup(str, strlen(str), file, line);
}

static void a_free(void *ptr)
{
    if (ptr != NULL) {
        held(NULL, counting ? malloc_usable_size(ptr) : 0);
    }
    free(ptr);
}

int ad_gitx_alloc_setup(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
    mem_max = total / 8 > MEM_MIN ? total / 8 : MEM_MIN;
#ifdef AD_TEST_BUILD
    /* AGENTD_TEST_GIT_MEM_MAX=BYTES: a bound a test can reach */
    const char *t = getenv("AGENTD_TEST_GIT_MEM_MAX");
    unsigned long long v = t != NULL ? strtoull(t, NULL, 10) : 0;
    if (v > 0) {
        mem_max = (size_t)v;
    }
#endif
    static git_allocator a = {.gmalloc = a_malloc,
                              .gcalloc = a_calloc,
                              .gstrdup = a_strdup,
                              .gstrndup = a_strndup,
                              .gsubstrdup = a_substrdup,
                              .grealloc = a_realloc,
                              .greallocarray = a_reallocarray,
                              .gmallocarray = a_mallocarray,
                              .gfree = a_free};
    return git_libgit2_opts(GIT_OPT_SET_ALLOCATOR, &a) < 0 ? AD_EINTERNAL : 0;
}

void ad_gitx_mem_begin(void)
{
    counting = true;
    refused = false;
    live = 0;
}

bool ad_gitx_mem_end(size_t *bound)
{
    counting = false;
    *bound = mem_max;
    return refused;
}
