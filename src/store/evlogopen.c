/* SPDX-License-Identifier: MIT */
/*
 * Opening the event log (evlog.c has the format): the segments found in
 * its folder, the newest scanned and mended (damaged records left out and
 * the damaged file kept aside as <segment>.corrupt-<ms>, a torn tail cut
 * off), and freeing it.
 */
#include "store/dbcheck.h"
#include "store/evlog_int.h"
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* The base of a segment's file name (exactly 20 digits and ".log"). */
static bool seg_name(const char *name, uint64_t *base)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".log") != 0 || v == 0) {
        return false;
    }
    *base = v;
    return true;
}

/* ---- open ------------------------------------------------------------------------ */

static int cmp_seg(const void *a, const void *b)
{
    const seg_t *x = a, *y = b;
    return (x->base > y->base) - (x->base < y->base);
}

/* What a scan of the newest segment found. */
typedef struct {
    bool ours;           /* its header is ours (else nothing below is set) */
    uint64_t valid;      /* where its last whole, checked record ends */
    uint64_t kept;       /* whole, checked records, in seq order */
    uint64_t kept_bytes; /* their bytes */
    size_t nbad;         /* damaged stretches with whole records after them */
    uint64_t bad[8];     /* where the first of them start */
    bool bad_header;     /* its magic was damaged */
} scan_t;

/* Whether the record right after the header of s's file (fd) is whole,
 * checks out and has the seq s is named after. */
static bool first_checks(int fd, const seg_t *s)
{
    win_t w = {.fd = fd, .cap = RBUF_BYTES, .base = SEG_HDR};
    w.buf = ad_xmalloc(w.cap);
    ad_evlog_rec_t r;
    bool ok = ad_evlog_win_next(&w, s->size, &r) > 0 && r.seq == s->base;
    free(w.buf);
    return ok;
}

/* Checks the newest segment record by record, resynchronising past a
 * record that does not check out (or is not above the one before) on the
 * next whole one: sc says what it found, s gets the last record's seq and
 * ts. With out >= 0, every record kept is written there. AD_ESTATE for a
 * header of a later version, AD_EIO when out cannot be written. */
static int scan_seg(const char *path, seg_t *s, scan_t *sc, int out, char *err, size_t errsz)
{
    *sc = (scan_t){.valid = SEG_HDR};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return AD_EIO;
    }
    uint8_t h[SEG_HDR];
    if (pread(fd, h, SEG_HDR, 0) != SEG_HDR) {
        close(fd);
        return 0;
    }
    int off_by = 0;
    for (size_t i = 0; i < sizeof(SEG_MAGIC); i++) {
        off_by += h[i] != (uint8_t)SEG_MAGIC[i];
    }
    /* A magic a byte or two off, a version of ours and a first record
     * that checks out with the seq the name says: our segment with a
     * damaged header. Anything else is not ours. */
    if (off_by > 2 || (off_by > 0 && (get32(h + 8) != SEG_VERSION || !first_checks(fd, s)))) {
        close(fd);
        return 0;
    }
    sc->bad_header = off_by > 0;
    if (get32(h + 8) != SEG_VERSION) {
        snprintf(err, errsz,
                 "%s was written by a later agentd (event log version %u); refusing to run", path,
                 (unsigned)get32(h + 8));
        close(fd);
        return AD_ESTATE;
    }
    sc->ours = true;
    win_t w = {.fd = fd, .cap = RBUF_BYTES, .base = SEG_HDR};
    w.buf = ad_xmalloc(w.cap);
    ad_evlog_rec_t r;
    uint64_t prev = s->base - 1;
    int rc = 0;
    for (;;) {
        int64_t len = ad_evlog_win_next(&w, s->size, &r);
        if (len > 0 && r.seq <= prev) {
            len = AD_ECORRUPT; /* whole, but not the next: damaged all the same */
        }
        if (len < 0) {
            uint64_t bad = w.base + w.at;
            len = ad_evlog_win_resync(&w, s->size, prev, UINT64_MAX, &r);
            if (len <= 0) {
                break; /* a tail: load() says which kind */
            }
            if (sc->nbad < AD_ARRAY_LEN(sc->bad)) {
                sc->bad[sc->nbad] = bad;
            }
            sc->nbad++;
        }
        if (len == 0) {
            break;
        }
        if (out >= 0 && ad_write_all(out, w.buf + w.at, (size_t)len) != (size_t)len) {
            snprintf(err, errsz, "cannot write a copy of %s: %s", path, strerror(errno));
            rc = AD_EIO;
            break;
        }
        prev = s->last = r.seq;
        s->last_ts = r.ts_ms;
        s->last_known = true;
        w.at += (size_t)len;
        sc->valid = w.base + w.at;
        sc->kept++;
        sc->kept_bytes += (uint64_t)len;
    }
    free(w.buf);
    close(fd);
    return rc;
}

/* Whether the bytes of path from `at` to size are a torn tail: an
 * incomplete last record (less than a header, or a header whose record
 * runs past the end of the file) or zeros (space a power loss left
 * unwritten). Anything else is damage, kept aside before it goes. */
static bool torn_tail(const char *path, uint64_t at, uint64_t size)
{
    if (size - at < REC_HDR) {
        return true;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    uint8_t buf[4096];
    ssize_t got = pread(fd, buf, REC_HDR, (off_t)at);
    bool torn = false;
    if (got == REC_HDR) {
        ad_evlog_rec_t r;
        size_t need = 0;
        int64_t len = ad_evlog_parse(buf, REC_HDR, false, &r, &need);
        torn = len == 0 && at + need > size;
    }
    bool zeros = !torn;
    for (uint64_t off = at; zeros && off < size;) {
        got = pread(fd, buf, sizeof(buf), (off_t)off);
        if (got <= 0) {
            zeros = false;
            break;
        }
        for (ssize_t i = 0; i < got && zeros; i++) {
            zeros = buf[i] == 0;
        }
        off += (uint64_t)got;
    }
    close(fd);
    return torn || zeros;
}

/* The time suffix of a kept-aside copy's name (<20 digits>.log.corrupt-<ms>),
 * -1 for any other name. */
static int64_t aside_name(const char *name)
{
    uint64_t base;
    char seg[32];
    if (strlen(name) < 24 + 9 || strncmp(name + 24, ".corrupt-", 9) != 0) {
        return -1;
    }
    memcpy(seg, name, 24);
    seg[24] = '\0';
    if (!seg_name(seg, &base)) {
        return -1;
    }
    int64_t v = 0;
    const char *p = name + 24 + 9;
    if (*p == '\0') {
        return -1;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* Removes the oldest kept-aside copies until at most keep are left. */
static void prune_aside(const char *dir, size_t keep)
{
    for (int round = 0; round < 64; round++) {
        DIR *d = opendir(dir);
        if (d == NULL) {
            return;
        }
        size_t n = 0;
        int64_t oldest = INT64_MAX;
        char name[256] = "";
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int64_t t = aside_name(e->d_name);
            if (t < 0) {
                continue;
            }
            n++;
            if (t < oldest && strlen(e->d_name) < sizeof(name)) {
                oldest = t;
                snprintf(name, sizeof(name), "%s", e->d_name);
            }
        }
        if (n <= keep || name[0] == '\0') {
            closedir(d);
            return;
        }
        if (unlinkat(dirfd(d), name, 0) == 0) {
            ad_log(AD_LOG_INFO, "store",
                   "event log: removed the oldest copy of a damaged segment path=%s/%s kept=%d",
                   dir, name, CORRUPT_KEEP);
        }
        closedir(d);
    }
}

/* Keeps the damaged file at path as it is, beside it under
 * <path>.corrupt-<ms> (a second name for the same file: no bytes copied),
 * so whoever looks later has what the disk held. */
static void keep_aside(const ad_evlog_t *log, const char *path)
{
    prune_aside(log->dir, CORRUPT_KEEP - 1);
    int64_t now = ad_wall_ms();
    char aside[4300];
    for (int i = 0; i < 16; i++) {
        snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, (long long)(now + i));
        if (link(path, aside) == 0) {
            ad_log(AD_LOG_WARN, "store", "event log: the damaged segment is kept as path=%s",
                   aside);
            return;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    ad_log(AD_LOG_WARN, "store",
           "event log: cannot keep a copy of the damaged segment path=%s err=%s", path,
           strerror(errno));
}

/* Writes the newest segment again with only the records the scan kept
 * (through <path>.tmp and a rename, so a crash leaves the one or the
 * other), after keeping the damaged file aside. A segment with no record
 * left goes. */
static int rewrite_seg(ad_evlog_t *log, seg_t *s, const char *path, const scan_t *sc, char *err,
                       size_t errsz)
{
    keep_aside(log, path);
    if (sc->kept == 0) {
        unlink(path);
        (void)sync_dir(log->dir);
        return 0;
    }
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create %s: %s", tmp, strerror(errno));
        return AD_EIO;
    }
    uint8_t h[SEG_HDR] = {0};
    memcpy(h, SEG_MAGIC, sizeof(SEG_MAGIC));
    put32(h + 8, SEG_VERSION);
    int rc = ad_write_all(fd, h, SEG_HDR) == SEG_HDR ? 0 : AD_EIO;
    if (rc != 0) {
        snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
    }
    scan_t again;
    rc = rc != 0 ? rc : scan_seg(path, s, &again, fd, err, errsz);
    if (rc == 0 && fdatasync(fd) != 0) {
        snprintf(err, errsz, "cannot sync %s: %s", tmp, strerror(errno));
        rc = AD_EIO;
    }
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, errsz, "cannot rename %s: %s", tmp, strerror(errno));
        rc = AD_EIO;
    }
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    (void)sync_dir(log->dir);
    s->size = SEG_HDR + again.kept_bytes;
    return 0;
}

/* Whether the newest segment's file can go when nothing in it checks
 * out: it must look like a torn start (short, or a header of zeros or
 * ours), never somebody else's file. */
static bool torn_start(const char *path, uint64_t size)
{
    if (size <= SEG_HDR) {
        return true;
    }
    uint8_t h[SEG_HDR] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t got = pread(fd, h, sizeof(h), 0);
    close(fd);
    static const uint8_t zero[SEG_HDR];
    return got == SEG_HDR &&
           (memcmp(h, SEG_MAGIC, sizeof(SEG_MAGIC)) == 0 || memcmp(h, zero, SEG_HDR) == 0);
}

/* Cuts path back to size bytes. */
static int cut_seg(const char *path, uint64_t size, char *err, size_t errsz)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || fdatasync(fd) != 0) {
        snprintf(err, errsz, "cannot cut %s back to %llu bytes: %s", path, (unsigned long long)size,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return AD_EIO;
    }
    close(fd);
    return 0;
}

/* Makes the newest segment whole: damaged records out (the file kept
 * aside), a torn tail cut. *gone when no record was left in it (the file
 * went). */
static int mend_newest(ad_evlog_t *log, seg_t *s, const char *path, bool *gone, char *err,
                       size_t errsz)
{
    *gone = false;
    scan_t sc;
    int rc = scan_seg(path, s, &sc, -1, err, errsz);
    if (rc != 0) {
        return rc;
    }
    if (!sc.ours || (sc.kept == 0 && sc.valid >= s->size)) {
        if (!torn_start(path, s->size)) {
            snprintf(err, errsz,
                     "%s is not an agentd event log segment; move it out of %s to start", path,
                     log->dir);
            return AD_ECORRUPT;
        }
        ad_log(AD_LOG_WARN, "store", "event log: removed a segment with no whole record path=%s",
               path);
        unlink(path);
        *gone = true;
        return 0;
    }
    bool torn = sc.valid < s->size && torn_tail(path, sc.valid, s->size);
    if (sc.nbad > 0) {
        /* one line for the segment: the logger holds back repeats */
        char offs[200] = "";
        size_t n = 0;
        for (size_t i = 0; i < sc.nbad && i < AD_ARRAY_LEN(sc.bad); i++) {
            int w = snprintf(offs + n, sizeof(offs) - n, "%s%llu", i ? "," : "",
                             (unsigned long long)sc.bad[i]);
            n += w > 0 && (size_t)w < sizeof(offs) - n ? (size_t)w : 0;
        }
        ad_log(AD_LOG_WARN, "store",
               "event log: corrupt record at offset %llu skipped, the records around it kept "
               "path=%s damaged=%zu offsets=%s%s",
               (unsigned long long)sc.bad[0], path, sc.nbad, offs,
               sc.nbad > AD_ARRAY_LEN(sc.bad) ? ",..." : "");
    }
    if (sc.valid < s->size && !torn) {
        ad_log(AD_LOG_WARN, "store",
               "event log: corrupt record at offset %llu, no whole record after it (%llu bytes) "
               "path=%s",
               (unsigned long long)sc.valid, (unsigned long long)(s->size - sc.valid), path);
    }
    if (sc.bad_header) {
        ad_log(AD_LOG_WARN, "store",
               "event log: corrupt segment header at offset 0, its records kept path=%s", path);
    }
    if (sc.nbad > 0 || sc.bad_header || (sc.valid < s->size && !torn)) {
        if (torn) {
            ad_log(AD_LOG_WARN, "store",
                   "event log: a torn tail (an unclean stop) after the damage path=%s bytes=%llu",
                   path, (unsigned long long)(s->size - sc.valid));
        }
        rc = rewrite_seg(log, s, path, &sc, err, errsz);
        if (rc == 0) {
            char what[512];
            snprintf(what, sizeof(what),
                     "the event log was repaired at the start: %zu damaged record%s of %.200s left "
                     "out (their events are lost, %llu kept; the damaged file is kept beside "
                     "it as .corrupt-<ms>); check the disk (dmesg, smartctl)",
                     sc.nbad > 0 ? sc.nbad : 1, sc.nbad == 1 ? "" : "s", path,
                     (unsigned long long)sc.kept);
            ad_store_note_repair(what);
            ad_log(AD_LOG_WARN, "store",
                   "event log: the newest segment was written again without its damaged records "
                   "path=%s records_kept=%llu",
                   path, (unsigned long long)sc.kept);
        }
        *gone = sc.kept == 0;
        return rc;
    }
    if (sc.kept == 0) {
        ad_log(AD_LOG_WARN, "store", "event log: removed a segment with no whole record path=%s",
               path);
        unlink(path);
        *gone = true;
        return 0;
    }
    if (torn) {
        ad_log(AD_LOG_WARN, "store",
               "event log: cut a torn tail (an unclean stop) path=%s bytes=%llu", path,
               (unsigned long long)(s->size - sc.valid));
        rc = cut_seg(path, sc.valid, err, errsz);
        if (rc != 0) {
            return rc;
        }
        s->size = sc.valid;
    }
    return 0;
}

/* Finds the segments (removing a rewrite a crash interrupted), and makes
 * the newest whole. */
static int load(ad_evlog_t *log, char *err, size_t errsz)
{
    DIR *d = opendir(log->dir);
    if (d == NULL) {
        snprintf(err, errsz, "cannot open %s: %s", log->dir, strerror(errno));
        return AD_EIO;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t base;
        struct stat sb;
        char seg[32];
        size_t nlen = strlen(e->d_name);
        if (nlen == 28 && strcmp(e->d_name + 24, ".tmp") == 0) {
            memcpy(seg, e->d_name, 24);
            seg[24] = '\0';
            if (seg_name(seg, &base)) {
                unlinkat(dirfd(d), e->d_name, 0); /* a rewrite that did not finish */
            }
            continue;
        }
        if (!seg_name(e->d_name, &base) || fstatat(dirfd(d), e->d_name, &sb, 0) != 0 ||
            !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (log->nsegs == log->cap) {
            log->cap = log->cap ? log->cap * 2 : 16;
            log->segs = ad_xrealloc(log->segs, log->cap * sizeof(*log->segs));
        }
        int64_t mtime = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        log->segs[log->nsegs++] =
            (seg_t){.base = base, .last_ts = mtime, .size = (uint64_t)sb.st_size};
    }
    closedir(d);
    if (log->nsegs > 1) {
        qsort(log->segs, log->nsegs, sizeof(*log->segs), cmp_seg);
    }
    for (size_t i = 0; i + 1 < log->nsegs; i++) {
        log->segs[i].last = log->segs[i + 1].base - 1;
    }
    while (log->nsegs > 0) {
        seg_t *s = &log->segs[log->nsegs - 1];
        char path[4200];
        seg_path(log, s->base, path, sizeof(path));
        bool gone = false;
        int rc = mend_newest(log, s, path, &gone, err, errsz);
        if (rc != 0) {
            return rc;
        }
        if (gone) {
            log->nsegs--;
            continue;
        }
        log->newest = s->last;
        break;
    }
    log->added = log->newest;
    return 0;
}

int ad_evlog_open(const char *dir, uint64_t seg_bytes, bool sync_each, ad_evlog_t **out, char *err,
                  size_t errsz)
{
    *out = NULL;
    if (strlen(dir) >= 4096 - 32) {
        snprintf(err, errsz, "event log path too long");
        return AD_EINVAL;
    }
    int rc = ad_dir_create(dir, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_evlog_t *log = ad_xcalloc(1, sizeof(*log));
    log->dir = ad_xstrdup(dir);
    log->seg_bytes = seg_bytes;
    log->sync_each = sync_each;
    log->fd = -1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_mutex_init(&log->rmu, NULL);
    rc = load(log, err, errsz);
    if (rc != 0) {
        ad_evlog_free(log);
        return rc;
    }
    *out = log;
    return 0;
}

void ad_evlog_free(ad_evlog_t *log)
{
    if (log == NULL) {
        return;
    }
    ad_evlog_sync(log);
    pthread_mutex_destroy(&log->mu);
    pthread_mutex_destroy(&log->rmu);
    free(log->segs);
    free(log->wbuf);
    free(log->dir);
    free(log);
}
