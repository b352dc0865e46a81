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

/* ---- encoding ------------------------------------------------------------------ */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
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
