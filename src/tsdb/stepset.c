/* SPDX-License-Identifier: MIT */
/* Steps and the chunk row that holds each (see tsdb.h): open addressing
 * with linear probing, grown at half full, never past max entries. */
#include "tsdb/tsdb.h"
#include "core/core.h"

#include <stdlib.h>

#define EMPTY INT64_MIN /* no step is this: tsdb_stepset_put refuses it */

static size_t slot_of(int64_t step, size_t cap)
{
    uint64_t x = (uint64_t)step; /* splitmix64's finaliser: neighbouring steps spread */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (size_t)x & (cap - 1);
}

void tsdb_stepset_init(tsdb_stepset_t *s, size_t max)
{
    *s = (tsdb_stepset_t){.max = max};
}

void tsdb_stepset_free(tsdb_stepset_t *s)
{
    free(s->step);
    free(s->seq);
    tsdb_stepset_init(s, s->max);
}

/* The slot of step, or the empty slot where it would go. cap > 0. */
static size_t find(const tsdb_stepset_t *s, int64_t step)
{
    size_t i = slot_of(step, s->cap);
    while (s->step[i] != EMPTY && s->step[i] != step) {
        i = (i + 1) & (s->cap - 1);
    }
    return i;
}

static void grow(tsdb_stepset_t *s)
{
    tsdb_stepset_t g = {.cap = s->cap ? s->cap * 2 : 64, .max = s->max};
    g.step = ad_xmalloc(g.cap * sizeof(*g.step));
    g.seq = ad_xmalloc(g.cap * sizeof(*g.seq));
    for (size_t i = 0; i < g.cap; i++) {
        g.step[i] = EMPTY;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->step[i] != EMPTY) {
            size_t k = find(&g, s->step[i]);
            g.step[k] = s->step[i];
            g.seq[k] = s->seq[i];
            g.n++;
        }
    }
    free(s->step);
    free(s->seq);
    *s = g;
}

bool tsdb_stepset_put(tsdb_stepset_t *s, int64_t step, int64_t seq)
{
    if (step == EMPTY) {
        return false;
    }
    if (s->cap > 0) {
        size_t i = find(s, step);
        if (s->step[i] == step) {
            s->seq[i] = seq > s->seq[i] ? seq : s->seq[i];
            return true;
        }
    }
    if (s->n >= s->max) {
        return false;
    }
    if ((s->n + 1) * 2 > s->cap) {
        grow(s);
    }
    size_t i = find(s, step);
    s->step[i] = step;
    s->seq[i] = seq;
    s->n++;
    return true;
}

int64_t tsdb_stepset_get(const tsdb_stepset_t *s, int64_t step)
{
    if (s->cap == 0 || step == EMPTY) {
        return -1;
    }
    for (size_t i = slot_of(step, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->step[i] == step) {
            return s->seq[i];
        }
        if (s->step[i] == EMPTY) {
            return -1;
        }
    }
}
