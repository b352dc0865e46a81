/* SPDX-License-Identifier: MIT */
/*
 * Private to the event log's files (evlog.c: records, appends, commits and
 * retention; evlogread.c: reading; evlogopen.c: opening, checking and
 * mending the segments): the segment format's constants, the log's state
 * and the helpers they share. The interface is store_int.h's ad_evlog_*.
 */
#ifndef AD_STORE_EVLOG_INT_H
#define AD_STORE_EVLOG_INT_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "store/store_int.h"

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

static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void seg_path(const ad_evlog_t *log, uint64_t base, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%020llu.log", log->dir, (unsigned long long)base);
}

static inline int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return AD_EIO;
    }
    int rc = fsync(fd) == 0 ? 0 : AD_EIO;
    close(fd);
    return rc;
}

/* A window on a segment file: buf[0..have) holds the bytes at file offset
 * base, and the next record starts at buf[at]. */
typedef struct {
    int fd;
    uint8_t *buf; /* owned, grown to the largest record met */
    size_t cap, have, at;
    uint64_t base;
} win_t;
/* The next whole, checked record in the window (evlogread.c): its length
 * with *r pointing into the window, 0 at the end (end: the file offset not
 * to read past), or -1 for a record that fails its check. */
int64_t ad_evlog_win_next(win_t *w, uint64_t end, ad_evlog_rec_t *r);
/* From a damaged record on, the next offset where a whole, checked record
 * with a seq above above (and at most upto) starts: its length, with *r
 * set, or 0 when there is none before end. */
int64_t ad_evlog_win_resync(win_t *w, uint64_t end, uint64_t above, uint64_t upto,
                            ad_evlog_rec_t *r);

#endif
