/* SPDX-License-Identifier: MIT */
/*
 * Arena: a list of chunks handed out by bumping a pointer. Per-request memory
 * comes from here and is released in one call, so the hot path does not
 * malloc per header or per JSON value. Allocations larger than a chunk get a
 * chunk of their own.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

struct ad_arena_chunk {
    ad_arena_chunk_t *next;
    size_t size; /* usable bytes after the header */
    size_t off;
    _Alignas(16) unsigned char mem[];
};

void ad_arena_init(ad_arena_t *a, size_t chunk_size, size_t max)
{
    a->head = NULL;
    a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
    a->max = max;
    a->used = 0;
}

void ad_arena_cleanup(ad_arena_t *a)
{
    ad_arena_chunk_t *c = a->head;
    while (c != NULL) {
        ad_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

void ad_arena_reset(ad_arena_t *a)
{
    if (a->head == NULL) {
        return;
    }
    /* Keep the oldest standard-sized chunk: the common case of one small
     * request then needs no malloc at all. */
    ad_arena_chunk_t *keep = NULL;
    ad_arena_chunk_t *c = a->head;
    while (c != NULL) {
        ad_arena_chunk_t *next = c->next;
        if (keep == NULL && c->size == a->chunk_size) {
            keep = c;
        } else {
            free(c);
        }
        c = next;
    }
    a->head = keep;
    a->used = 0;
    if (keep != NULL) {
        keep->next = NULL;
        keep->off = 0;
        a->used = sizeof(*keep) + keep->size;
    }
}

void *ad_arena_alloc(ad_arena_t *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) {
        return NULL;
    }
    ad_arena_chunk_t *c = a->head;
    if (c == NULL || c->size - c->off < need) {
        size_t size = need > a->chunk_size ? need : a->chunk_size;
        size_t total = sizeof(*c) + size;
        if (a->used + total > a->max || total < size) {
            return NULL;
        }
        c = ad_xmalloc(total);
        c->size = size;
        c->off = 0;
        /* A big one-off chunk goes behind the current one so the current
         * chunk's free space stays usable for small allocations. */
        if (size > a->chunk_size && a->head != NULL) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        a->used += total;
    }
    void *p = c->mem + c->off;
    c->off += need;
    return p;
}

char *ad_arena_strndup(ad_arena_t *a, const char *s, size_t n)
{
    char *p = ad_arena_alloc(a, n + 1);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
