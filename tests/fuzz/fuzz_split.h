/* SPDX-License-Identifier: MIT */
/*
 * Shared by the harnesses that feed a parser in two reads: the input's first
 * byte chooses where the rest is split, so partial reads are exercised.
 */
#ifndef AD_FUZZ_SPLIT_H
#define AD_FUZZ_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *s; /* the input after its first byte */
    size_t n;      /* its length */
    size_t split;  /* where the first read ends (0..n) */
} fz_split_t;

/* False for an empty input (nothing to feed). */
static inline bool fz_split(const uint8_t *data, size_t size, fz_split_t *out)
{
    if (size == 0) {
        return false;
    }
    out->s = (const char *)data + 1;
    out->n = size - 1;
    out->split = data[0] % size;
    if (out->split > out->n) {
        out->split = out->n;
    }
    return true;
}

#endif
