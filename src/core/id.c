/* SPDX-License-Identifier: MIT */
/*
 * Time-ordered ids: prefix, '_', then 48 bits of milliseconds and 80 random
 * bits in lowercase Crockford base32 (26 characters), so ids sort by
 * creation time. Within one millisecond the random part is incremented
 * instead of redrawn, which keeps ids made by this process in order.
 */
#include "core.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static unsigned char last_rand[10];

/* Returns the millisecond to encode: now, or the last one used if the clock
 * has not moved past it. */
static int64_t next_random(int64_t ms, unsigned char r[10])
{
    pthread_mutex_lock(&lock);
    if (ms <= last_ms) {
        /* Same (or earlier, if the clock stepped back) millisecond: count up
         * from the last value so order holds. */
        for (int i = 9; i >= 0; i--) {
            if (++last_rand[i] != 0) {
                break;
            }
        }
    } else {
        if (getrandom(last_rand, sizeof(last_rand), 0) != (ssize_t)sizeof(last_rand)) {
            /* No entropy source: fall back on time-derived bytes; ids stay
             * unique through the counter above. */
            for (int i = 0; i < 10; i++) {
                last_rand[i] = (unsigned char)(ms >> (i % 6 * 8));
            }
        }
        last_rand[0] &= 0x7f; /* leave room to count up without wrapping */
        last_ms = ms;
    }
    memcpy(r, last_rand, 10);
    int64_t used = last_ms;
    pthread_mutex_unlock(&lock);
    return used;
}

int ad_id_new(const char *prefix, char out[AD_ID_MAX])
{
    size_t plen = strlen(prefix);
    if (plen == 0 || plen > 16) {
        return AD_EINVAL;
    }
    int64_t now = ad_wall_ms();
    unsigned char r[10];
    int64_t ms = next_random(now, r);

    /* 128 bits: 48 of time, 80 of randomness, written 5 bits at a time from
     * the top (the first character carries only 3 bits). */
    unsigned char bytes[16];
    for (int i = 0; i < 6; i++) {
        bytes[i] = (unsigned char)((uint64_t)ms >> (40 - 8 * i));
    }
    memcpy(bytes + 6, r, 10);

    memcpy(out, prefix, plen);
    out[plen] = '_';
    char *p = out + plen + 1;
    for (int i = 0; i < 26; i++) {
        int bit = 128 - 5 * (26 - i); /* start bit of this character, may be < 0 */
        unsigned v = 0;
        for (int b = 0; b < 5; b++) {
            int pos = bit + b;
            v <<= 1;
            if (pos >= 0) {
                v |= (bytes[pos / 8] >> (7 - pos % 8)) & 1u;
            }
        }
        p[i] = alphabet[v];
    }
    p[26] = '\0';
    return 0;
}

bool ad_id_valid(const char *s, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0 || s[plen] != '_') {
        return false;
    }
    const char *p = s + plen + 1;
    for (int i = 0; i < 26; i++) {
        if (p[i] == '\0' || strchr(alphabet, p[i]) == NULL) {
            return false;
        }
    }
    return p[26] == '\0';
}
