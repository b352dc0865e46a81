/* SPDX-License-Identifier: MIT */
/*
 * The event log's reads (evlog.c has the format): records of committed
 * segments in seq order, a window on a file at a time, resynchronising on
 * the next whole record after a damaged one; recent positions kept as
 * cursors so a replay's next batch starts where the last stopped.
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

/* ---- reading a segment file ------------------------------------------------------ */

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
int64_t ad_evlog_win_next(win_t *w, uint64_t end, ad_evlog_rec_t *r)
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
int64_t ad_evlog_win_resync(win_t *w, uint64_t end, uint64_t above, uint64_t upto,
                            ad_evlog_rec_t *r)
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
        int64_t len = ad_evlog_win_next(w, s->size, &r);
        if (len < 0) {
            uint64_t bad = w->base + w->at;
            len = ad_evlog_win_resync(w, s->size, lo != 0 ? lo : s->base - 1, s->last, &r);
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
