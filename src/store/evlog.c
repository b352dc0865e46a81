/* SPDX-License-Identifier: MIT */
/*
 * The event log: the bus's durable events as append-only segment files,
 * <dir>/<seq of the first record, 20 digits>.log. The writer thread appends
 * and retires whole segments; replay reads them on pool threads. Every
 * record carries a CRC32C and its lengths, so a damaged record is skipped
 * on its own: a reader resynchronises on the next offset where a whole
 * record checks out, and opening rewrites the newest segment without its
 * damaged records (the damaged file kept aside as <segment>.corrupt-<ms>)
 * and cuts a torn tail (an incomplete last record) off it. Retention goes
 * by the bytes the segments hold and the age of their records, never by
 * seq distance: the seqs a crash skips are gaps, not events. What the
 * records mean, and when they are written, is src/store/events.c's
 * business.
 *
 * A segment file is a 16-byte header ("agentdEV", u32 version, u32 zero)
 * and then records, little-endian:
 *   u32 crc        CRC32C of the rest of the record
 *   u32 type_len, u32 topics_len, u32 payload_len
 *   u64 seq, i64 ts_ms
 *   type NUL topics NUL payload NUL
 */
#include "store/dbcheck.h"
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

#define SEG_HDR 16
#define SEG_VERSION 1
#define REC_HDR AD_EVLOG_REC_HDR
static const char SEG_MAGIC[8] = {'a', 'g', 'e', 'n', 't', 'd', 'E', 'V'};

/* Appends are gathered in a buffer this big, one write(2) each time it
 * fills; a record larger than it goes out on its own. */
#define WBUF_BYTES (64 * 1024)
/* Reads come in pieces of this much (more for a larger record). */
#define RBUF_BYTES (256 * 1024)
/* Positions of recent reads, so a replay's next batch starts where the
 * last one stopped instead of at the segment's start. */
#define CURSORS 8
/* Segments retired per trim, at most, and bytes: the writer is not held
 * for long (a trim of small segments after a burst catches up at once). */
#define TRIM_MAX 1024
#define TRIM_BYTES (256u << 20)
/* Copies of damaged segments kept beside the log (<segment>.corrupt-<ms>),
 * at most: the oldest goes when another is made. */
#define CORRUPT_KEEP 4

typedef struct {
    uint64_t base;   /* the seq of its first record: its name */
    uint64_t last;   /* the seq of its last record (found at open, sealed: next base - 1) */
    int64_t last_ts; /* ts of its last record (found at open, sealed: the file's mtime) */
    uint64_t size;   /* committed bytes: readers read no further */
    bool last_known; /* last is its last record's seq, not just the bound below the next */
} seg_t;

typedef struct {
    uint64_t base; /* segment */
    uint64_t lo;   /* every record before off has seq <= lo */
    uint64_t off;
} cursor_t;

struct ad_evlog {
    char *dir; /* owned */
    uint64_t seg_bytes;
    bool sync_each;

    pthread_mutex_t mu; /* segs, nsegs, newest; held briefly */
    seg_t *segs;        /* oldest first; the last may be pending (size 0) */
    size_t nsegs, cap;
    uint64_t newest; /* the last committed seq, 0 for none */

    /* The writer's side (one thread at a time, the store's writer once
     * the daemon runs): the newest segment open for appending. */
    int fd;         /* -1 when closed (the next add opens or creates) */
    bool roll;      /* the newest segment takes no more appends */
    uint64_t wsize; /* its bytes written: committed and pending */
    uint64_t added; /* the last seq added: later adds skip below it */
    uint64_t wlast; /* seq and ts of the last record added */
    int64_t wlast_ts;
    int werr; /* a failed write since the last commit */
    uint8_t *wbuf;
    size_t wlen;

    pthread_mutex_t rmu; /* readers one at a time; trims take it too */
    cursor_t cur[CURSORS];
    unsigned cur_next;
    uint64_t warned_base, warned_off; /* the damage a reader last logged (under rmu) */
};

/* ---- encoding ------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool rec_fits(const ad_evlog_rec_t *r)
{
    return r->type_len <= AD_EVLOG_TYPE_MAX && r->topics_len <= AD_EVLOG_TOPICS_MAX &&
           r->payload_len <= AD_EVLOG_PAYLOAD_MAX;
}

static size_t rec_len(const ad_evlog_rec_t *r)
{
    return REC_HDR + r->type_len + r->topics_len + r->payload_len + 3;
}

/* Writes r's header (CRC included) into h. */
static void rec_head(const ad_evlog_rec_t *r, uint8_t h[REC_HDR])
{
    static const char nul = 0;
    put32(h + 4, (uint32_t)r->type_len);
    put32(h + 8, (uint32_t)r->topics_len);
    put32(h + 12, (uint32_t)r->payload_len);
    put64(h + 16, r->seq);
    put64(h + 24, (uint64_t)r->ts_ms);
    uint32_t c = ad_crc32c(0, h + 4, REC_HDR - 4);
    c = ad_crc32c(c, r->type, r->type_len);
    c = ad_crc32c(c, &nul, 1);
    c = ad_crc32c(c, r->topics, r->topics_len);
    c = ad_crc32c(c, &nul, 1);
    c = ad_crc32c(c, r->payload, r->payload_len);
    c = ad_crc32c(c, &nul, 1);
    put32(h, c);
}

int64_t ad_evlog_parse(const void *data, size_t n, bool check_crc, ad_evlog_rec_t *r, size_t *need)
{
    const uint8_t *p = data;
    if (need != NULL) {
        *need = REC_HDR;
    }
    if (n < REC_HDR) {
        return 0;
    }
    uint32_t tl = get32(p + 4), ol = get32(p + 8), pl = get32(p + 12);
    if (tl > AD_EVLOG_TYPE_MAX || ol > AD_EVLOG_TOPICS_MAX || pl > AD_EVLOG_PAYLOAD_MAX) {
        return AD_ECORRUPT;
    }
    size_t len = REC_HDR + (size_t)tl + ol + pl + 3;
    if (need != NULL) {
        *need = len;
    }
    if (n < len) {
        return 0;
    }
    const char *s = (const char *)p + REC_HDR;
    if (s[tl] != '\0' || s[tl + 1 + ol] != '\0' || s[tl + 1 + ol + 1 + pl] != '\0') {
        return AD_ECORRUPT;
    }
    if (check_crc && ad_crc32c(0, p + 4, len - 4) != get32(p)) {
        return AD_ECORRUPT;
    }
    r->seq = get64(p + 16);
    r->ts_ms = (int64_t)get64(p + 24);
    r->type = s;
    r->type_len = tl;
    r->topics = s + tl + 1;
    r->topics_len = ol;
    r->payload = s + tl + 1 + ol + 1;
    r->payload_len = pl;
    return (int64_t)len;
}

/* ---- files ----------------------------------------------------------------------- */

static int sys_err(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG ? AD_EFULL : AD_EIO;
}

static void seg_path(const ad_evlog_t *log, uint64_t base, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%020llu.log", log->dir, (unsigned long long)base);
}

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

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return AD_EIO;
    }
    int rc = fsync(fd) == 0 ? 0 : AD_EIO;
    close(fd);
    return rc;
}

/* ---- the writer ---------------------------------------------------------------- */

static seg_t *newest_seg(ad_evlog_t *log)
{
    return log->nsegs > 0 ? &log->segs[log->nsegs - 1] : NULL;
}

static int flush_wbuf(ad_evlog_t *log)
{
    if (log->wlen == 0) {
        return 0;
    }
    size_t done = ad_write_all(log->fd, log->wbuf, log->wlen);
    int rc = done == log->wlen ? 0 : sys_err(errno);
    log->wlen = 0;
    return rc;
}

/* Makes what was added visible to readers (loop and pool threads read it
 * under mu). */
static void publish(ad_evlog_t *log)
{
    pthread_mutex_lock(&log->mu);
    seg_t *s = newest_seg(log);
    if (s != NULL && log->fd >= 0 && log->wsize > s->size) {
        s->size = log->wsize;
        s->last = log->wlast;
        s->last_ts = log->wlast_ts;
        s->last_known = true;
    }
    if (log->added > log->newest) {
        log->newest = log->added;
    }
    pthread_mutex_unlock(&log->mu);
}

/* Closes the newest segment for appends: the next add opens it again, or
 * a new one after a roll. */
static void close_fd(ad_evlog_t *log)
{
    if (log->fd >= 0) {
        close(log->fd);
        log->fd = -1;
    }
}

/* Forgets what was added since the last commit: cuts the file back to its
 * committed size (a segment with nothing committed goes). */
static void rollback(ad_evlog_t *log)
{
    log->wlen = 0;
    log->werr = 0;
    log->added = log->newest;
    seg_t *s = newest_seg(log);
    if (s == NULL || log->fd < 0) {
        return;
    }
    if (s->size <= SEG_HDR) {
        char path[4200];
        seg_path(log, s->base, path, sizeof(path));
        close_fd(log);
        unlink(path);
        pthread_mutex_lock(&log->mu);
        log->nsegs--;
        pthread_mutex_unlock(&log->mu);
        return;
    }
    log->wsize = s->size;
    log->wlast = s->last;
    log->wlast_ts = s->last_ts;
    if (ftruncate(log->fd, (off_t)s->size) != 0) {
        /* Bytes past the committed size stay: append nowhere near them. */
        ad_log(AD_LOG_ERROR, "store", "event log: cannot cut back a failed write base=%llu err=%s",
               (unsigned long long)s->base, strerror(errno));
        close_fd(log);
        log->roll = true;
    }
}

/* Opens the newest segment for appending, or starts a new one whose first
 * record will be seq. */
static int open_for_append(ad_evlog_t *log, uint64_t seq)
{
    seg_t *s = newest_seg(log);
    char path[4200];
    if (s != NULL && !log->roll) {
        seg_path(log, s->base, path, sizeof(path));
        log->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (log->fd < 0) {
            ad_log(AD_LOG_ERROR, "store", "event log: cannot open path=%s err=%s", path,
                   strerror(errno));
            return sys_err(errno);
        }
        log->wsize = s->size;
        log->wlast = s->last;
        log->wlast_ts = s->last_ts;
        return 0;
    }
    seg_path(log, seq, path, sizeof(path));
    log->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (log->fd < 0) {
        ad_log(AD_LOG_ERROR, "store", "event log: cannot create path=%s err=%s", path,
               strerror(errno));
        return sys_err(errno);
    }
    /* The name must survive a crash as the records do. */
    if (sync_dir(log->dir) != 0) {
        ad_log(AD_LOG_WARN, "store", "event log: cannot sync dir=%s err=%s", log->dir,
               strerror(errno));
    }
    pthread_mutex_lock(&log->mu);
    if (log->nsegs == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 16;
        log->segs = ad_xrealloc(log->segs, log->cap * sizeof(*log->segs));
    }
    log->segs[log->nsegs++] = (seg_t){.base = seq};
    pthread_mutex_unlock(&log->mu);
    log->roll = false;
    log->wsize = 0;
    return 0;
}

/* Commits the newest segment as it is and syncs it: it is full. */
static int seal(ad_evlog_t *log)
{
    int rc = flush_wbuf(log);
    if (rc == 0 && fdatasync(log->fd) != 0) {
        rc = sys_err(errno);
    }
    if (rc != 0) {
        return rc;
    }
    publish(log);
    close_fd(log);
    log->roll = true;
    return 0;
}

int ad_evlog_add(ad_evlog_t *log, const ad_evlog_rec_t *r)
{
    if (log->werr != 0) {
        return log->werr;
    }
    if (r->seq <= log->added) {
        return 0; /* stored already: a batch written again after a failure */
    }
    if (!rec_fits(r)) {
        return AD_ETOOBIG;
    }
    size_t len = rec_len(r);
    int rc = 0;
    if (log->fd >= 0 && log->wsize > SEG_HDR && log->wsize + len > log->seg_bytes) {
        rc = seal(log);
    }
    if (rc == 0 && log->fd < 0) {
        const seg_t *s = newest_seg(log);
        if (s != NULL && s->size > SEG_HDR && s->size + len > log->seg_bytes) {
            log->roll = true; /* found full at open, or after a sync */
        }
        rc = open_for_append(log, r->seq);
    }
    if (rc == 0 && log->wbuf == NULL) {
        log->wbuf = ad_xmalloc(WBUF_BYTES);
    }
    if (rc == 0 && log->wsize == 0) {
        uint8_t h[SEG_HDR] = {0};
        memcpy(h, SEG_MAGIC, sizeof(SEG_MAGIC));
        put32(h + 8, SEG_VERSION);
        memcpy(log->wbuf + log->wlen, h, SEG_HDR); /* wlen is 0 here */
        log->wlen += SEG_HDR;
        log->wsize = SEG_HDR;
    }
    if (rc == 0 && log->wlen + len > WBUF_BYTES) {
        rc = flush_wbuf(log);
    }
    if (rc != 0) {
        return log->werr = rc;
    }
    if (len <= WBUF_BYTES) {
        uint8_t *p = log->wbuf + log->wlen;
        rec_head(r, p);
        char *s = (char *)p + REC_HDR;
        memcpy(s, r->type, r->type_len);
        s[r->type_len] = '\0';
        s += r->type_len + 1;
        memcpy(s, r->topics, r->topics_len);
        s[r->topics_len] = '\0';
        s += r->topics_len + 1;
        memcpy(s, r->payload, r->payload_len);
        s[r->payload_len] = '\0';
        log->wlen += len;
    } else {
        uint8_t h[REC_HDR];
        rec_head(r, h);
        char nul = 0;
        struct iovec v[7] = {{h, REC_HDR}, {(void *)r->type, r->type_len},
                             {&nul, 1},    {(void *)r->topics, r->topics_len},
                             {&nul, 1},    {(void *)r->payload, r->payload_len},
                             {&nul, 1}};
        ssize_t w = writev(log->fd, v, 7);
        if (w != (ssize_t)len) {
            /* a short write of one large record: the rollback cuts it */
            return log->werr = sys_err(w < 0 ? errno : ENOSPC);
        }
    }
    log->wsize += len;
    log->added = r->seq;
    log->wlast = r->seq;
    log->wlast_ts = r->ts_ms;
    return 0;
}

int ad_evlog_commit(ad_evlog_t *log)
{
    int rc = log->werr;
    seg_t *s = newest_seg(log);
    bool pending = log->fd >= 0 && s != NULL && log->wsize > s->size;
    if (rc == 0 && pending) {
        rc = flush_wbuf(log);
    }
    if (rc == 0 && pending && log->sync_each && fdatasync(log->fd) != 0) {
        rc = sys_err(errno);
    }
    if (rc != 0) {
        rollback(log);
        return rc;
    }
    publish(log);
    return 0;
}

void ad_evlog_sync(ad_evlog_t *log)
{
    if (log->fd >= 0 && fdatasync(log->fd) != 0) {
        ad_log(AD_LOG_WARN, "store", "event log: sync failed err=%s", strerror(errno));
    }
    close_fd(log);
}

/* ---- retention ----------------------------------------------------------------- */

/* A segment retention retires, and why. */
typedef struct {
    seg_t s;
    bool size, age; /* the bound(s) it went for */
    uint64_t held;  /* the log's bytes before it went */
} gone_t;

/* The oldest segments that go (into gone, when not NULL): while the log
 * holds more than max_bytes (the newest segment with records stays), or
 * their last record is older than min_ts_ms. Under mu. */
static size_t trim_pick(const ad_evlog_t *log, uint64_t max_bytes, int64_t min_ts_ms, gone_t *gone)
{
    uint64_t held = 0;
    size_t newest = 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        held += log->segs[i].size;
        if (log->segs[i].size > SEG_HDR) {
            newest = i;
        }
    }
    size_t k = 0;
    uint64_t freed = 0;
    while (k < log->nsegs && k < TRIM_MAX && freed < TRIM_BYTES) {
        const seg_t *s = &log->segs[k];
        bool size = max_bytes > 0 && held > max_bytes && k < newest;
        bool age = min_ts_ms > 0 && s->last_ts < min_ts_ms;
        if (s->size <= SEG_HDR || (!size && !age)) {
            break;
        }
        if (gone != NULL) {
            gone[k] = (gone_t){.s = *s, .size = size, .age = age, .held = held};
        }
        held -= s->size;
        freed += s->size;
        k++;
    }
    return k;
}

/* The first seq kept and the bytes held. Under mu. */
static void trim_left(const ad_evlog_t *log, uint64_t *oldest, uint64_t *bytes)
{
    *oldest = 0;
    *bytes = 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        if (log->segs[i].size > SEG_HDR && *oldest == 0) {
            *oldest = log->segs[i].base;
        }
        *bytes += log->segs[i].size;
    }
}

/* Says which segment went, what it held and the bound that made it go. */
static void log_gone(const ad_evlog_t *log, const gone_t *g, uint64_t max_bytes, int64_t min_ts_ms)
{
    char path[4200];
    seg_path(log, g->s.base, path, sizeof(path));
    char last_ts[AD_TIME_MAX], cutoff[AD_TIME_MAX];
    ad_time_format(g->s.last_ts, last_ts);
    ad_time_format(min_ts_ms, cutoff);
    char why[200];
    int n = snprintf(why, sizeof(why), "bound=%s",
                     g->size && g->age ? "size+age"
                     : g->size         ? "size"
                                       : "age");
    if (g->size && n > 0 && (size_t)n < sizeof(why)) {
        n += snprintf(why + n, sizeof(why) - (size_t)n, " log_bytes=%llu max_bytes=%llu",
                      (unsigned long long)g->held, (unsigned long long)max_bytes);
    }
    if (g->age && n > 0 && (size_t)n < sizeof(why)) {
        snprintf(why + n, sizeof(why) - (size_t)n, " last_record=%s older_than=%s", last_ts,
                 cutoff);
    }
    /* A sealed segment found at start is known only to end below the next
     * one: its range says "at most" (the seqs a crash skipped are no
     * events, whatever the range). */
    ad_log(AD_LOG_INFO, "store",
           "event log: retention removed a segment path=%s first_seq=%llu %s=%llu bytes=%llu %s",
           path, (unsigned long long)g->s.base, g->s.last_known ? "last_seq" : "last_seq_at_most",
           (unsigned long long)g->s.last, (unsigned long long)g->s.size, why);
}

int ad_evlog_trim(ad_evlog_t *log, uint64_t max_bytes, int64_t min_ts_ms, uint64_t *oldest,
                  uint64_t *bytes)
{
    /* Most calls find nothing to do: they need not wait for a read. */
    pthread_mutex_lock(&log->mu);
    bool any = trim_pick(log, max_bytes, min_ts_ms, NULL) > 0;
    if (!any) {
        trim_left(log, oldest, bytes);
    }
    pthread_mutex_unlock(&log->mu);
    if (!any) {
        return 0;
    }
    gone_t *gone = ad_xmalloc(TRIM_MAX * sizeof(*gone));
    pthread_mutex_lock(&log->rmu);
    pthread_mutex_lock(&log->mu);
    size_t k = trim_pick(log, max_bytes, min_ts_ms, gone);
    bool all = k == log->nsegs;
    if (k > 0) {
        memmove(log->segs, log->segs + k, (log->nsegs - k) * sizeof(*log->segs));
        log->nsegs -= k;
    }
    trim_left(log, oldest, bytes);
    pthread_mutex_unlock(&log->mu);
    if (all && k > 0) {
        close_fd(log); /* the newest went too (by age): the next add starts anew */
        log->roll = false;
    }
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        char path[4200];
        seg_path(log, gone[i].s.base, path, sizeof(path));
        if (unlink(path) != 0 && errno != ENOENT) {
            ad_log(AD_LOG_WARN, "store", "event log: cannot remove path=%s err=%s", path,
                   strerror(errno));
            rc = AD_EIO;
            continue;
        }
        log_gone(log, &gone[i], max_bytes, min_ts_ms);
    }
    pthread_mutex_unlock(&log->rmu);
    free(gone);
    return rc;
}

/* ---- reading a segment file ------------------------------------------------------ */

/* A window on a segment file: buf[0..have) holds the bytes at file offset
 * base, and the next record starts at buf[at]. */
typedef struct {
    int fd;
    uint8_t *buf; /* owned, grown to the largest record met */
    size_t cap, have, at;
    uint64_t base;
} win_t;

/* Makes the window hold need bytes from its next record on, reading no
 * further than end: 0, or -1 when the file ends first or a read fails. */
static int win_fill(win_t *w, size_t need, uint64_t end)
{
    memmove(w->buf, w->buf + w->at, w->have - w->at);
    w->have -= w->at;
    w->base += w->at;
    w->at = 0;
    if (need > AD_EVLOG_REC_MAX || w->base + need > end) {
        return -1;
    }
    if (need > w->cap) {
        w->cap = need;
        w->buf = ad_xrealloc(w->buf, w->cap);
    }
    while (w->have < need) {
        size_t want = w->cap - w->have;
        if (want > end - w->base - w->have) {
            want = (size_t)(end - w->base - w->have);
        }
        ssize_t got = pread(w->fd, w->buf + w->have, want, (off_t)(w->base + w->have));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return -1;
        }
        w->have += (size_t)got;
    }
    return 0;
}

/* The window's next whole, checked record into *r: its length, 0 at end,
 * or AD_ECORRUPT for one that does not check out or is cut short before
 * end. The CRC is checked before the seq is believed, skipped or not: a
 * damaged seq would end a read early or hide records. */
static int64_t win_next(win_t *w, uint64_t end, ad_evlog_rec_t *r)
{
    for (;;) {
        if (w->base + w->at >= end) {
            return 0;
        }
        size_t need = 0;
        int64_t len = ad_evlog_parse(w->buf + w->at, w->have - w->at, true, r, &need);
        if (len != 0) {
            return len;
        }
        if (win_fill(w, need, end) != 0) {
            return AD_ECORRUPT;
        }
    }
}

/* From a record that does not check out at the window's position: moves
 * the window on to the next offset before end where a whole record starts
 * whose lengths are in bounds, whose three strings end where they say,
 * whose CRC matches and whose seq is in (above, upto]; returns its length
 * with *r set, or 0 when no such record is left (the window then stands
 * at end or where a read failed). Garbage is never taken for a record:
 * a frame that runs past end is not one. */
static int64_t win_resync(win_t *w, uint64_t end, uint64_t above, uint64_t upto, ad_evlog_rec_t *r)
{
    for (;;) {
        w->at++;
        if (w->at > w->have) { /* past what the window holds: start it there */
            w->base += w->at;
            w->have = w->at = 0;
        }
        if (w->base + w->at + REC_HDR + 3 > end) {
            return 0;
        }
        size_t need = 0;
        int64_t len;
        while ((len = ad_evlog_parse(w->buf + w->at, w->have - w->at, true, r, &need)) == 0) {
            if (w->base + w->at + need > end) {
                break; /* runs past the end: not a record here */
            }
            if (win_fill(w, need, end) != 0) {
                return 0; /* a read failed */
            }
        }
        if (len > 0 && r->seq > above && r->seq <= upto) {
            return len;
        }
    }
}

/* ---- reads --------------------------------------------------------------------- */

/* The index of the first segment whose base is above seq. Under mu. */
static size_t first_above(const ad_evlog_t *log, uint64_t seq)
{
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (log->segs[mid].base <= seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The segment holding seq (the first when seq is older than all), or with
 * `after` the first one above seq, copied to out: false when there is none
 * with committed records. */
static bool seg_find(ad_evlog_t *log, uint64_t seq, bool after, seg_t *out)
{
    pthread_mutex_lock(&log->mu);
    size_t i = first_above(log, seq);
    if (!after && i > 0) {
        i--;
    }
    bool ok = i < log->nsegs && log->segs[i].size > SEG_HDR;
    if (ok) {
        *out = log->segs[i];
    }
    pthread_mutex_unlock(&log->mu);
    return ok;
}

/* Where a read of records after `after` in segment base may start. */
static uint64_t cursor_find(const ad_evlog_t *log, uint64_t base, uint64_t after)
{
    uint64_t off = SEG_HDR, best = 0;
    for (int i = 0; i < CURSORS; i++) {
        const cursor_t *c = &log->cur[i];
        if (c->base == base && c->off > SEG_HDR && c->lo <= after && c->lo >= best) {
            best = c->lo;
            off = c->off;
        }
    }
    return off;
}

static void cursor_keep(ad_evlog_t *log, uint64_t base, uint64_t lo, uint64_t off)
{
    for (int i = 0; i < CURSORS; i++) {
        if (log->cur[i].base == base && log->cur[i].lo == lo) {
            log->cur[i].off = off;
            return;
        }
    }
    log->cur[log->cur_next] = (cursor_t){base, lo, off};
    log->cur_next = (log->cur_next + 1) % CURSORS;
}

typedef struct {
    win_t w; /* its buffer serves every segment of the read */
    uint64_t after, upto;
    size_t limit, n; /* rows handed out so far */
    ad_evlog_row_cb cb;
    void *arg;
    bool done; /* limit, upto or the callback said stop */
} rd_t;

/* Logs damage a read met, once for the same spot in a row (replays come
 * back to it). Under rmu. */
static void warn_corrupt(ad_evlog_t *log, const seg_t *s, const char *path, uint64_t bad,
                         uint64_t next)
{
    if (log->warned_base == s->base && log->warned_off == bad) {
        return;
    }
    log->warned_base = s->base;
    log->warned_off = bad;
    char what[384];
    snprintf(what, sizeof(what),
             "the event log's record at offset %llu of %.200s is damaged: a replay skipped it (its "
             "events are missing from the replay); check the disk (dmesg, smartctl)",
             (unsigned long long)bad, path);
    ad_store_note_repair(what);
    if (next != 0) {
        ad_log(AD_LOG_WARN, "store",
               "event log: corrupt record at offset %llu skipped, reading on at offset %llu "
               "path=%s",
               (unsigned long long)bad, (unsigned long long)next, path);
    } else {
        ad_log(AD_LOG_WARN, "store",
               "event log: corrupt record at offset %llu, no whole record after it path=%s",
               (unsigned long long)bad, path);
    }
}

/* Reads segment s from off: rows after rd->after up to rd->upto go to the
 * callback. A record that does not check out is skipped (logged): the read
 * goes on at the next whole record, and the skipped seqs show as missing. */
static void read_seg(ad_evlog_t *log, const seg_t *s, uint64_t off, rd_t *rd)
{
    char path[4200];
    seg_path(log, s->base, path, sizeof(path));
    win_t *w = &rd->w;
    w->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0) {
        if (errno != ENOENT) {
            ad_log(AD_LOG_ERROR, "store", "event log: cannot read path=%s err=%s", path,
                   strerror(errno));
        }
        return; /* retired meanwhile: its rows are missing */
    }
    w->base = off;
    w->have = w->at = 0;
    uint64_t lo = 0;
    ad_evlog_rec_t r;
    while (!rd->done) {
        int64_t len = win_next(w, s->size, &r);
        if (len < 0) {
            uint64_t bad = w->base + w->at;
            len = win_resync(w, s->size, lo != 0 ? lo : s->base - 1, s->last, &r);
            warn_corrupt(log, s, path, bad, len > 0 ? w->base + w->at : 0);
        }
        if (len <= 0) {
            break;
        }
        if (r.seq > rd->upto) {
            rd->done = true;
            break;
        }
        if (r.seq > rd->after) {
            int rc = rd->cb(&r, rd->arg);
            if (rc < 0) { /* not taken: the next read starts at this record */
                rd->done = true;
                break;
            }
            if (rc != 0) {
                rd->done = true;
            }
            rd->n++;
            if (rd->n >= rd->limit) {
                rd->done = true;
            }
        }
        lo = r.seq;
        w->at += (size_t)len;
    }
    close(w->fd);
    if (lo != 0) {
        cursor_keep(log, s->base, lo, w->base + w->at);
    }
}

int ad_evlog_read(ad_evlog_t *log, uint64_t after, uint64_t upto, size_t limit, ad_evlog_row_cb cb,
                  void *arg)
{
    if (limit == 0 || upto <= after) {
        return 0;
    }
    pthread_mutex_lock(&log->rmu);
    rd_t rd = {.w = {.cap = RBUF_BYTES},
               .after = after,
               .upto = upto,
               .limit = limit,
               .cb = cb,
               .arg = arg};
    rd.w.buf = ad_xmalloc(rd.w.cap);
    seg_t s;
    bool have = seg_find(log, after + 1, false, &s);
    uint64_t off = have ? cursor_find(log, s.base, after) : 0;
    while (have && !rd.done) {
        read_seg(log, &s, off, &rd);
        have = !rd.done && seg_find(log, s.base, true, &s);
        off = SEG_HDR;
    }
    free(rd.w.buf);
    pthread_mutex_unlock(&log->rmu);
    return 0;
}

void ad_evlog_bounds(ad_evlog_t *log, uint64_t *oldest, uint64_t *newest, uint64_t *bytes)
{
    pthread_mutex_lock(&log->mu);
    uint64_t b = 0;
    *oldest = 0;
    for (size_t i = 0; i < log->nsegs; i++) {
        if (log->segs[i].size > SEG_HDR && *oldest == 0) {
            *oldest = log->segs[i].base;
        }
        b += log->segs[i].size;
    }
    *newest = log->newest;
    if (bytes != NULL) {
        *bytes = b;
    }
    pthread_mutex_unlock(&log->mu);
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
    bool ok = win_next(&w, s->size, &r) > 0 && r.seq == s->base;
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
        int64_t len = win_next(&w, s->size, &r);
        if (len > 0 && r.seq <= prev) {
            len = AD_ECORRUPT; /* whole, but not the next: damaged all the same */
        }
        if (len < 0) {
            uint64_t bad = w.base + w.at;
            len = win_resync(&w, s->size, prev, UINT64_MAX, &r);
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
