/* SPDX-License-Identifier: MIT */
/*
 * The health history on disk (issue #40, the training seed's "all" range):
 * the rings of history.c written whole to one file in the data dir every
 * few minutes and when the daemon stops, and read back when it starts, so
 * the charts go on across a restart. A crash loses at most the minutes
 * since the last save.
 *
 * The file: a header {magic "ADHHIST2", series count, tier count}, then
 * per tier {step_ms, count} and its closed points oldest first (a
 * coarse bucket still filling is not kept: the finer tiers have its
 * samples). Native byte order and layout: it is this
 * machine's own file, and a header that does not match this build (or a
 * short, time-reversed or oversized tier) makes the whole file ignored, the
 * history starting empty, never half-read. Written through a temporary
 * file and rename, so a crash mid-write leaves the last whole one. At most
 * ~1.4 MiB (8,200 + 8,760 points of 80 bytes).
 */
#include "health/health_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "ADHHIST2"

typedef struct {
    char magic[8];
    uint32_t nseries, ntiers;
} file_head_t;

typedef struct {
    int64_t step_ms;
    uint64_t count;
} tier_head_t;

static bool write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool write_tier(int fd, const ad_health_tier_t *t)
{
    tier_head_t th = {.step_ms = t->step_ms, .count = t->count};
    if (!write_all(fd, &th, sizeof(th))) {
        return false;
    }
    size_t first = t->count > 0 ? t->cap - t->head : 0;
    if (first > t->count) {
        first = t->count;
    }
    return t->count == 0 || (write_all(fd, t->pts + t->head, first * sizeof(*t->pts)) &&
                             write_all(fd, t->pts, (t->count - first) * sizeof(*t->pts)));
}

int ad_health_history_save(const ad_health_history_t *h, const char *path)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return AD_EINVAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return AD_EIO;
    }
    file_head_t fh = {.nseries = AD_HS_N, .ntiers = AD_HEALTH_TIERS};
    memcpy(fh.magic, MAGIC, sizeof(fh.magic));
    bool ok = write_all(fd, &fh, sizeof(fh));
    for (size_t i = 0; ok && i < AD_HEALTH_TIERS; i++) {
        ok = write_tier(fd, &h->tiers[i]);
    }
    ok = ok && fsync(fd) == 0;
    if (close(fd) != 0) {
        ok = false;
    }
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return AD_EIO;
    }
    return 0;
}

static bool read_all(FILE *f, void *buf, size_t len)
{
    return len == 0 || fread(buf, len, 1, f) == 1;
}

/* One tier's points into t (empty, its own step and cap): false when the
 * tier does not fit or its times go backwards. */
static bool read_tier(FILE *f, ad_health_tier_t *t)
{
    tier_head_t th;
    if (!read_all(f, &th, sizeof(th)) || th.step_ms != t->step_ms || th.count > t->cap) {
        return false;
    }
    if (th.count == 0) {
        return true;
    }
    t->pts = ad_xcalloc(t->cap, sizeof(*t->pts));
    if (!read_all(f, t->pts, (size_t)th.count * sizeof(*t->pts))) {
        return false;
    }
    for (size_t k = 1; k < th.count; k++) {
        if (t->pts[k].ts_ms < t->pts[k - 1].ts_ms) {
            return false;
        }
    }
    t->head = 0;
    t->count = (size_t)th.count;
    return true;
}

int ad_health_history_load(ad_health_history_t *h, const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (f == NULL) {
        return errno == ENOENT ? AD_ENOENT : AD_EIO;
    }
    file_head_t fh;
    bool ok = read_all(f, &fh, sizeof(fh)) && memcmp(fh.magic, MAGIC, sizeof(fh.magic)) == 0 &&
              fh.nseries == AD_HS_N && fh.ntiers == AD_HEALTH_TIERS;
    for (size_t i = 0; ok && i < AD_HEALTH_TIERS; i++) {
        ok = read_tier(f, &h->tiers[i]);
    }
    ok = ok && fgetc(f) == EOF;
    fclose(f);
    if (!ok) {
        ad_health_history_cleanup(h);
        ad_health_history_init(h);
        return AD_EINVAL;
    }
    return 0;
}
