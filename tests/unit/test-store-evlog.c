/* SPDX-License-Identifier: MIT */
/* Tests for the event log (src/store/evlog.c): records read back as
 * written, segments rolling and retired by bytes and by age (never by seq
 * distance), a torn tail cut at open, a damaged record in the newest
 * segment skipped at open and in a sealed one on read with its neighbours
 * kept, a
 * failed write rolled back (the file capped with RLIMIT_FSIZE), a batch
 * added again storing nothing twice, files that are not ours refused, and
 * the events table of an older database moved into the log at attach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/bus.h"
#include "store/store.h"
#include "store/store_int.h"

typedef struct {
    char dir[256];
    char log[300];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/agentd-evlog-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof(f->log), "%s/events", f->dir);
    ad_log_set_level(AD_LOG_OFF);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static ad_evlog_t *open_log(fixture_t *f, uint64_t seg_bytes)
{
    ad_evlog_t *log = NULL;
    char err[512] = "";
    int rc = ad_evlog_open(f->log, seg_bytes, false, &log, err, sizeof(err));
    if (rc != 0) {
        fail_msg("open failed: %s", err);
    }
    return log;
}

/* Record seq's payload: its number and filler, long for every seventh. */
static size_t payload_of(uint64_t seq, char *out, size_t outsz)
{
    size_t fill = seq % 7 == 0 ? 3000 : (size_t)(seq % 50);
    int n = snprintf(out, outsz, "{\"i\":%llu,\"x\":\"", (unsigned long long)seq);
    for (size_t i = 0; i < fill && (size_t)n + 3 < outsz; i++) {
        out[n++] = (char)('a' + (seq + i) % 26);
    }
    out[n++] = '"';
    out[n++] = '}';
    out[n] = '\0';
    return (size_t)n;
}

/* Adds records from..to (their payloads from payload_of), but seq big_at
 * (0: none) carries a 20,000-byte payload (on_rec_big checks it). Returns
 * the first failure. */
static char big_payload[20000];

static int add_with_big(ad_evlog_t *log, uint64_t from, uint64_t to, uint64_t big_at)
{
    char p[4096];
    memset(big_payload, 'z', sizeof(big_payload));
    int rc = 0;
    for (uint64_t s = from; s <= to && rc == 0; s++) {
        ad_evlog_rec_t r = {.seq = s, .ts_ms = 1000 + (int64_t)s};
        r.type = s % 2 ? "agent_output" : "t";
        r.type_len = strlen(r.type);
        r.topics = "[\"agent:ag_1\",\"workspace:ws_1\"]";
        r.topics_len = strlen(r.topics);
        r.payload = s == big_at ? big_payload : p;
        r.payload_len = s == big_at ? sizeof(big_payload) : payload_of(s, p, sizeof(p));
        rc = ad_evlog_add(log, &r);
    }
    return rc;
}

static void add_range(ad_evlog_t *log, uint64_t from, uint64_t to)
{
    assert_int_equal(add_with_big(log, from, to, 0), 0);
}

typedef struct {
    uint64_t seqs[4096];
    size_t n;
    bool checked;
    size_t stop_after; /* 0: never */
    uint64_t refuse;   /* a seq not taken (the callback returns -1), 0: none */
} got_t;

/* Keeps the seq and checks the record is the one add_range wrote. */
static int on_rec(const ad_evlog_rec_t *r, void *arg)
{
    got_t *g = arg;
    char p[4096];
    size_t plen = payload_of(r->seq, p, sizeof(p));
    assert_int_equal(r->payload_len, plen);
    assert_memory_equal(r->payload, p, plen);
    assert_int_equal(r->payload[plen], '\0');
    assert_string_equal(r->type, r->seq % 2 ? "agent_output" : "t");
    assert_string_equal(r->topics, "[\"agent:ag_1\",\"workspace:ws_1\"]");
    assert_int_equal(r->ts_ms, 1000 + (int64_t)r->seq);
    if (g->refuse != 0 && r->seq == g->refuse) {
        return -1;
    }
    assert_true(g->n < AD_ARRAY_LEN(g->seqs));
    g->seqs[g->n++] = r->seq;
    return g->stop_after != 0 && g->n >= g->stop_after;
}

/* Reads (after, upto] in batches of `batch` as the bus's replay does. */
static void read_all(ad_evlog_t *log, uint64_t after, uint64_t upto, size_t batch, got_t *g)
{
    g->n = 0;
    for (int guard = 0; guard < 10000; guard++) {
        size_t before = g->n;
        assert_int_equal(ad_evlog_read(log, after, upto, batch, on_rec, g), 0);
        if (g->n == before) {
            return;
        }
        after = g->seqs[g->n - 1];
    }
    fail_msg("read did not end");
}

static void expect_run(const got_t *g, uint64_t from, uint64_t to)
{
    if (g->n != to - from + 1) {
        fail_msg("read %zu records, want %llu..%llu", g->n, (unsigned long long)from,
                 (unsigned long long)to);
    }
    for (size_t i = 0; i < g->n; i++) {
        assert_int_equal(g->seqs[i], from + i);
    }
}

/* Segment files (20 digits and ".log"), not the copies kept aside. */
static size_t count_segments(fixture_t *f)
{
    DIR *d = opendir(f->log);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".log") == 0;
    }
    closedir(d);
    return n;
}

/* The copies of damaged segments kept aside (<segment>.corrupt-<ms>): how
 * many, and the name of one in out. */
static size_t count_aside(fixture_t *f, char *out, size_t outsz)
{
    DIR *d = opendir(f->log);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".log.corrupt-") != NULL) {
            n++;
            if (out != NULL) {
                snprintf(out, outsz, "%s/%s", f->log, e->d_name);
            }
        }
    }
    closedir(d);
    return n;
}

/* The bytes of the segment files together. */
static uint64_t dir_bytes(fixture_t *f)
{
    DIR *d = opendir(f->log);
    assert_non_null(d);
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".log") == 0) {
            assert_int_equal(fstatat(dirfd(d), e->d_name, &sb, 0), 0);
            n += (uint64_t)sb.st_size;
        }
    }
    closedir(d);
    return n;
}

/* What the log says while a test looks: warnings and up into a file, no
 * repeats held back. */
typedef struct {
    char path[300];
    int fd;
} log_capture_t;

static void log_begin(fixture_t *f, log_capture_t *lc)
{
    snprintf(lc->path, sizeof(lc->path), "%s/log.txt", f->dir);
    lc->fd = open(lc->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(lc->fd >= 0);
    ad_log_set_fd(lc->fd);
    ad_log_set_repeat_window(0);
    ad_log_set_level(AD_LOG_INFO);
}

/* Stops capturing; returns what was logged (owned). */
static char *log_end(log_capture_t *lc)
{
    ad_log_set_level(AD_LOG_OFF);
    ad_log_set_fd(2);
    off_t n = lseek(lc->fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(lc->fd, text, (size_t)n, 0), (ssize_t)n);
    close(lc->fd);
    unlink(lc->path);
    return text;
}

/* The path of the segment whose name is base. */
static void seg_file(fixture_t *f, uint64_t base, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%020llu.log", f->log, (unsigned long long)base);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static void records_read_back_as_written(void **state)
{
    fixture_t *f = *state;
    ad_evlog_t *log = open_log(f, 8u << 20);
    uint64_t oldest, newest;
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_int_equal(oldest, 0);
    assert_int_equal(newest, 0);
    add_range(log, 1, 500);
    /* nothing is visible before the commit */
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, 1000, 100, g);
    assert_int_equal(g->n, 0);
    assert_int_equal(ad_evlog_commit(log), 0);
    add_range(log, 501, 1000);
    assert_int_equal(ad_evlog_commit(log), 0);
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_int_equal(oldest, 1);
    assert_int_equal(newest, 1000);
    read_all(log, 0, 1000, 4096, g);
    expect_run(g, 1, 1000);
    /* batches of 7 (each after the first starts from a cursor), a range
     * in the middle, upto cutting a batch short, a callback that stops */
    read_all(log, 0, 1000, 7, g);
    expect_run(g, 1, 1000);
    read_all(log, 300, 420, 1000, g);
    expect_run(g, 301, 420);
    read_all(log, 990, 2000, 1000, g);
    expect_run(g, 991, 1000);
    g->n = 0;
    g->stop_after = 3;
    assert_int_equal(ad_evlog_read(log, 10, 1000, 100, on_rec, g), 0);
    expect_run(g, 11, 13);
    g->stop_after = 0;
    /* a callback that does not take a record (the replay's step is full):
     * the read ends before it, and the next one, after the record before
     * it, starts with it */
    g->n = 0;
    g->refuse = 14;
    assert_int_equal(ad_evlog_read(log, 10, 1000, 100, on_rec, g), 0);
    expect_run(g, 11, 13);
    g->refuse = 0;
    g->n = 0;
    assert_int_equal(ad_evlog_read(log, 13, 1000, 3, on_rec, g), 0);
    expect_run(g, 14, 16);
    /* reopened: the same */
    ad_evlog_free(log);
    log = open_log(f, 8u << 20);
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_int_equal(oldest, 1);
    assert_int_equal(newest, 1000);
    read_all(log, 500, 1000, 64, g);
    expect_run(g, 501, 1000);
    add_range(log, 1001, 1010);
    assert_int_equal(ad_evlog_commit(log), 0);
    read_all(log, 0, 2000, 333, g);
    expect_run(g, 1, 1010);
    assert_int_equal(count_segments(f), 1);
    ad_evlog_free(log);
    free(g);
}

static void segments_roll_and_retire(void **state)
{
    fixture_t *f = *state;
    ad_evlog_t *log = open_log(f, 4096);
    for (uint64_t s = 1; s <= 300; s += 20) {
        add_range(log, s, s + 19);
        assert_int_equal(ad_evlog_commit(log), 0);
    }
    size_t nseg = count_segments(f);
    assert_true(nseg > 10);
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, 300, 5, g);
    expect_run(g, 1, 300);
    uint64_t oldest = 0, newest = 0, held = 0, left = 0;
    ad_evlog_bounds(log, &oldest, &newest, &held);
    assert_int_equal(held, dir_bytes(f));
    /* under the bound: nothing goes */
    uint64_t o2;
    assert_int_equal(ad_evlog_trim(log, held, 0, &o2, &left), 0);
    assert_int_equal(o2, 1);
    assert_int_equal(left, held);
    assert_int_equal(count_segments(f), nseg);
    /* by size: the oldest whole segments go until the rest fits */
    assert_int_equal(ad_evlog_trim(log, held / 2, 0, &oldest, &left), 0);
    assert_true(oldest > 1 && oldest < 300);
    assert_true(left <= held / 2 && left > held / 2 - 4096);
    assert_int_equal(left, dir_bytes(f));
    assert_true(count_segments(f) < nseg);
    ad_evlog_bounds(log, &o2, &newest, NULL);
    assert_int_equal(o2, oldest);
    assert_int_equal(newest, 300);
    read_all(log, 0, 300, 50, g);
    expect_run(g, oldest, 300);
    /* by age: everything written before ts 1000+250 */
    assert_int_equal(ad_evlog_trim(log, 0, 1000 + 250, &o2, &left), 0);
    assert_true(o2 > oldest && o2 <= 251);
    /* a size bound below one segment keeps the newest all the same */
    assert_int_equal(ad_evlog_trim(log, 1, 0, &o2, &left), 0);
    assert_int_equal(count_segments(f), 1);
    assert_true(o2 > 251);
    read_all(log, 0, 300, 50, g);
    expect_run(g, o2, 300);
    /* all of it by age, the newest segment too; the log goes on after it */
    assert_int_equal(ad_evlog_trim(log, 0, 1000 + 301, &o2, &left), 0);
    assert_int_equal(o2, 0);
    assert_int_equal(left, 0);
    assert_int_equal(count_segments(f), 0);
    read_all(log, 0, 300, 50, g);
    assert_int_equal(g->n, 0);
    add_range(log, 301, 310);
    assert_int_equal(ad_evlog_commit(log), 0);
    read_all(log, 0, 400, 50, g);
    expect_run(g, 301, 310);
    ad_evlog_free(log);
    log = open_log(f, 4096);
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_int_equal(oldest, 301);
    assert_int_equal(newest, 310);
    ad_evlog_free(log);
    free(g);
}

/* Issue #41: every restart after a crash skips a block of 2^20 seqs (the
 * durable ceiling). Retention by seq distance counted them as events and
 * deleted the history before the crash with the log far below its bound.
 * Ten such restarts, each with its segments: a bound the records fit in
 * deletes nothing, and one half their size deletes by bytes only, every
 * deletion logged with its file, seqs, bytes and bound. */
static void retention_counts_bytes_not_seqs(void **state)
{
    fixture_t *f = *state;
    uint64_t block = UINT64_C(1) << 20, base = 1;
    ad_evlog_t *log = open_log(f, 8192);
    for (int life = 0; life < 10; life++) {
        add_range(log, base, base + 99);
        assert_int_equal(ad_evlog_commit(log), 0);
        ad_evlog_free(log); /* as a kill -9 leaves it: the next life starts above the block */
        log = open_log(f, 8192);
        base += 100 + block;
    }
    uint64_t oldest, newest, held, left;
    ad_evlog_bounds(log, &oldest, &newest, &held);
    assert_int_equal(oldest, 1);
    assert_int_equal(newest, base - block - 1);
    assert_true(held < (1u << 20)); /* 1,000 records, ~10 million seqs */
    log_capture_t lc;
    log_begin(f, &lc);
    assert_int_equal(ad_evlog_trim(log, held + 1, 0, &oldest, &left), 0);
    assert_int_equal(oldest, 1);
    assert_int_equal(left, held);
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, UINT64_MAX, 333, g);
    assert_int_equal(g->n, 1000);
    for (size_t i = 0; i < g->n; i++) {
        assert_int_equal(g->seqs[i], 1 + (i / 100) * (100 + block) + i % 100);
    }
    /* half the bytes: the oldest files go, each one logged */
    assert_int_equal(ad_evlog_trim(log, held / 2, 0, &oldest, &left), 0);
    assert_true(left <= held / 2);
    assert_true(oldest > 1);
    char *text = log_end(&lc);
    assert_non_null(strstr(text, "msg=\"event log: retention removed a segment\" path="));
    /* sealed before this open: known to end below the next segment only */
    assert_non_null(strstr(text, "/00000000000000000001.log first_seq=1 last_seq_at_most="));
    assert_non_null(strstr(text, "bound=size log_bytes="));
    char want[64];
    snprintf(want, sizeof(want), "max_bytes=%llu", (unsigned long long)(held / 2));
    assert_non_null(strstr(text, want));
    assert_null(strstr(text, "bound=age"));
    free(text);
    read_all(log, 0, UINT64_MAX, 333, g);
    assert_true(g->n > 400 && g->n < 1000);
    assert_int_equal(g->seqs[0], oldest);
    assert_int_equal(g->seqs[g->n - 1], newest);
    ad_evlog_free(log);
    free(g);
}

/* Removes the log's folder: the next open starts empty. */
static void fresh_log(fixture_t *f)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->log);
    assert_int_equal(system(cmd), 0);
}

/* Writes 1..n in one segment, closes, damages the file with fn, reopens. */
static ad_evlog_t *damaged(fixture_t *f, uint64_t n, void (*fn)(const char *path))
{
    ad_evlog_t *log = open_log(f, 8u << 20);
    add_range(log, 1, n);
    assert_int_equal(ad_evlog_commit(log), 0);
    ad_evlog_free(log);
    char path[400];
    seg_file(f, 1, path, sizeof(path));
    fn(path);
    return open_log(f, 8u << 20);
}

static void append_bytes(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void tail_garbage(const char *path)
{
    append_bytes(path, "\x41\x42\x00\x00\x10\x00\x00\x00garbage that is no record", 33);
}

static void tail_zeros(const char *path)
{
    static const char z[5000];
    append_bytes(path, z, sizeof(z));
}

static void tail_cut(const char *path)
{
    assert_int_equal(truncate(path, file_size(path) - 5), 0);
}

static void torn_tail_is_cut_at_open(void **state)
{
    fixture_t *f = *state;
    void (*hurts[])(const char *) = {tail_garbage, tail_zeros, tail_cut};
    uint64_t want[] = {200, 200, 199}; /* the cut one loses its last record */
    size_t aside[] = {1, 0, 0};        /* garbage is no torn record: kept aside */
    got_t *g = calloc(1, sizeof(*g));
    char path[400];
    seg_file(f, 1, path, sizeof(path));
    for (size_t i = 0; i < AD_ARRAY_LEN(hurts); i++) {
        fresh_log(f);
        ad_evlog_t *log = damaged(f, 200, hurts[i]);
        uint64_t oldest, newest;
        ad_evlog_bounds(log, &oldest, &newest, NULL);
        assert_int_equal(newest, want[i]);
        assert_int_equal(count_aside(f, NULL, 0), aside[i]);
        read_all(log, 0, 1000, 64, g);
        expect_run(g, 1, want[i]);
        /* appends carry on right after the last whole record */
        add_range(log, want[i] + 1, want[i] + 20);
        assert_int_equal(ad_evlog_commit(log), 0);
        ad_evlog_free(log);
        log = open_log(f, 8u << 20);
        read_all(log, 0, 1000, 64, g);
        expect_run(g, 1, want[i] + 20);
        ad_evlog_free(log);
    }
    free(g);
}

/* The offsets at which the records of the segment at path start (up to
 * max); *size gets the file's size. */
static size_t record_offsets(const char *path, uint64_t *offs, size_t max, uint64_t *size)
{
    *size = (uint64_t)file_size(path);
    uint8_t *buf = malloc(*size);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, *size, 0), (ssize_t)*size);
    close(fd);
    size_t n = 0;
    ad_evlog_rec_t r;
    for (uint64_t at = 16; at < *size && n < max;) {
        int64_t len = ad_evlog_parse(buf + at, *size - at, true, &r, NULL);
        assert_true(len > 0);
        offs[n++] = at;
        at += (uint64_t)len;
    }
    free(buf);
    return n;
}

static void flip_at(const char *path, uint64_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)at), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)at), 1);
    close(fd);
}

/* Every seq of 1..n but `missing`, in order. */
static void expect_all_but(const got_t *g, uint64_t n, uint64_t missing)
{
    if (g->n != n - 1) {
        fail_msg("read %zu records, want %llu (all of 1..%llu but %llu)", g->n,
                 (unsigned long long)(n - 1), (unsigned long long)n, (unsigned long long)missing);
    }
    for (size_t i = 0; i < g->n; i++) {
        assert_int_equal(g->seqs[i], i + 1 < missing ? i + 1 : i + 2);
    }
}

/* Issue #41: a flipped byte in the newest segment cut every record after it
 * at open ("torn tail"), and one in its first record removed the segment.
 * Now only the damaged record goes, wherever it is, the warning names its
 * offset, the damaged file is kept aside as it was, and the segment is
 * whole again (appends go on, the next open finds nothing to say). */
static void flipped_byte_in_newest_keeps_the_rest(void **state)
{
    fixture_t *f = *state;
    char path[400];
    seg_file(f, 1, path, sizeof(path));
    static const struct {
        size_t rec;     /* which record (0-based: seq rec + 1) */
        uint64_t delta; /* which of its bytes */
    } spots[] = {
        {0, 0},    /* the first record's CRC */
        {0, 4},    /* its type length */
        {0, 16},   /* its seq */
        {0, 40},   /* its type */
        {1, 14},   /* the second's payload length, high byte */
        {100, 12}, /* one in the middle: its payload length */
        {100, 60}, /* its payload */
        {198, 33}, /* the one before the last */
        {199, 40}, /* the last record */
    };
    got_t *g = calloc(1, sizeof(*g));
    uint64_t offs[256];
    for (size_t i = 0; i < AD_ARRAY_LEN(spots); i++) {
        fresh_log(f);
        ad_evlog_t *log = open_log(f, 8u << 20);
        add_range(log, 1, 200);
        assert_int_equal(ad_evlog_commit(log), 0);
        ad_evlog_free(log);
        uint64_t size;
        assert_int_equal(record_offsets(path, offs, 256, &size), 200);
        size_t k = spots[i].rec;
        uint64_t rec_len = (k + 1 < 200 ? offs[k + 1] : size) - offs[k];
        flip_at(path, offs[k] + spots[i].delta);
        log_capture_t lc;
        log_begin(f, &lc);
        log = open_log(f, 8u << 20);
        char *text = log_end(&lc);
        char want[80];
        snprintf(want, sizeof(want), "corrupt record at offset %llu", (unsigned long long)offs[k]);
        if (strstr(text, want) == NULL) {
            fail_msg("spot %zu: no \"%s\" in:\n%s", i, want, text);
        }
        assert_null(strstr(text, "torn tail"));
        free(text);
        uint64_t oldest, newest;
        ad_evlog_bounds(log, &oldest, &newest, NULL);
        assert_int_equal(oldest, 1);
        assert_int_equal(newest, k == 199 ? 199 : 200);
        read_all(log, 0, 1000, 64, g);
        expect_all_but(g, 200, k + 1);
        /* the damaged file as it was, beside the segment made whole */
        char aside[400];
        assert_int_equal(count_aside(f, aside, sizeof(aside)), 1);
        assert_int_equal(file_size(aside), (off_t)size);
        assert_int_equal(file_size(path), (off_t)(size - rec_len));
        add_range(log, 201, 210);
        assert_int_equal(ad_evlog_commit(log), 0);
        ad_evlog_free(log);
        log_begin(f, &lc);
        log = open_log(f, 8u << 20);
        text = log_end(&lc);
        assert_null(strstr(text, "event log"));
        free(text);
        read_all(log, 0, 1000, 64, g);
        expect_all_but(g, 210, k + 1);
        ad_evlog_free(log);
    }
    free(g);
}

/* A flipped byte in the newest segment's magic: the records after it check
 * out and the first has the seq the file is named after, so it is ours with
 * a damaged header (kept aside, written again); a version that is not ours
 * still stops the open, as a file that is not a segment does. */
static void damaged_header_of_newest(void **state)
{
    fixture_t *f = *state;
    char path[400];
    seg_file(f, 1, path, sizeof(path));
    ad_evlog_t *log = open_log(f, 8u << 20);
    add_range(log, 1, 200);
    assert_int_equal(ad_evlog_commit(log), 0);
    ad_evlog_free(log);
    off_t size = file_size(path);
    flip_at(path, 3);
    log_capture_t lc;
    log_begin(f, &lc);
    log = open_log(f, 8u << 20);
    char *text = log_end(&lc);
    assert_non_null(strstr(text, "corrupt segment header at offset 0"));
    free(text);
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, 1000, 64, g);
    expect_run(g, 1, 200);
    assert_int_equal(count_aside(f, NULL, 0), 1);
    assert_int_equal(file_size(path), size);
    ad_evlog_free(log);
    log = open_log(f, 8u << 20);
    read_all(log, 0, 1000, 64, g);
    expect_run(g, 1, 200);
    ad_evlog_free(log);
    /* the version: refused, nothing changed */
    flip_at(path, 9);
    char err[512];
    assert_int_equal(ad_evlog_open(f->log, 8u << 20, false, &log, err, sizeof(err)), AD_ESTATE);
    assert_int_equal(file_size(path), size);
    free(g);
}

/* The resync takes nothing for a record that is not the next whole one: a
 * whole, checked record out of order (an old one's bytes over a later one)
 * is skipped like damage, and so is what is left of the one it covered. At
 * most CORRUPT_KEEP (4) damaged files are kept aside. */
static void resync_is_not_fooled(void **state)
{
    fixture_t *f = *state;
    char path[400];
    seg_file(f, 1, path, sizeof(path));
    ad_evlog_t *log = open_log(f, 8u << 20);
    add_range(log, 1, 200);
    assert_int_equal(ad_evlog_commit(log), 0);
    ad_evlog_free(log);
    uint64_t offs[256], size;
    assert_int_equal(record_offsets(path, offs, 256, &size), 200);
    /* seq 5's bytes over seq 149's (longer; both of the same type) */
    uint64_t len5 = offs[5] - offs[4];
    assert_true(len5 < offs[149] - offs[148]);
    uint8_t rec[4096];
    int fd = open(path, O_RDWR);
    assert_int_equal(pread(fd, rec, len5, (off_t)offs[4]), (ssize_t)len5);
    assert_int_equal(pwrite(fd, rec, len5, (off_t)offs[148]), (ssize_t)len5);
    close(fd);
    log = open_log(f, 8u << 20);
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, 1000, 64, g);
    expect_all_but(g, 200, 149);
    ad_evlog_free(log);
    /* six more damaged opens: four copies stay */
    for (int i = 0; i < 6; i++) {
        assert_true(record_offsets(path, offs, 256, &size) > 100);
        flip_at(path, offs[10 + i] + 40);
        log = open_log(f, 8u << 20);
        ad_evlog_free(log);
    }
    assert_int_equal(count_aside(f, NULL, 0), 4);
    log = open_log(f, 8u << 20);
    read_all(log, 0, 1000, 64, g);
    assert_int_equal(g->n, 199 - 6);
    ad_evlog_free(log);
    free(g);
}

/* A sealed segment is not checked at open: a reader meets its damage, skips
 * the one record and reads on, wherever in the segment it is. */
static void damaged_sealed_segment_is_skipped(void **state)
{
    fixture_t *f = *state;
    static const int which[] = {0, -1, -2}; /* first record, middle, last */
    got_t *g = calloc(1, sizeof(*g));
    for (size_t i = 0; i < AD_ARRAY_LEN(which); i++) {
        fresh_log(f);
        ad_evlog_t *log = open_log(f, 16384);
        add_range(log, 1, 300);
        assert_int_equal(ad_evlog_commit(log), 0);
        ad_evlog_free(log);
        assert_true(count_segments(f) >= 3);
        char path[400];
        seg_file(f, 1, path, sizeof(path)); /* the oldest: sealed */
        uint64_t offs[256], size;
        size_t n = record_offsets(path, offs, 256, &size);
        assert_true(n > 10);
        size_t k = which[i] == 0 ? 0 : which[i] == -1 ? n / 2 : n - 1;
        flip_at(path, offs[k] + 36);
        log = open_log(f, 16384);
        log_capture_t lc;
        log_begin(f, &lc);
        read_all(log, 0, 1000, 1000, g);
        char *text = log_end(&lc);
        expect_all_but(g, 300, k + 1);
        char want[80];
        snprintf(want, sizeof(want), "corrupt record at offset %llu", (unsigned long long)offs[k]);
        assert_non_null(strstr(text, want));
        free(text);
        /* in batches (cursors and all) the same */
        read_all(log, 0, 1000, 7, g);
        expect_all_but(g, 300, k + 1);
        ad_evlog_free(log);
    }
    free(g);
}

/* Flips at random places (a fixed seed) in every segment of a log, a few
 * at a time: after a reopen exactly the records no flip touched are read,
 * in order, whichever segment they are in. */
static void random_flips_cost_only_the_records_they_hit(void **state)
{
    fixture_t *f = *state;
    uint64_t rnd = 0x9e3779b97f4a7c15u;
    got_t *g = calloc(1, sizeof(*g));
    for (int round = 0; round < 40; round++) {
        fresh_log(f);
        ad_evlog_t *log = open_log(f, 16384);
        add_range(log, 1, 300);
        assert_int_equal(ad_evlog_commit(log), 0);
        ad_evlog_free(log);
        bool hit[301] = {false};
        /* every record's place, before any flip */
        static uint64_t offs[64][256], sizes[64], bases[64];
        static size_t nrec[64];
        size_t nb = 0;
        DIR *d = opendir(f->log);
        struct dirent *e;
        while ((e = readdir(d)) != NULL && nb < 64) {
            if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".log") == 0) {
                bases[nb++] = strtoull(e->d_name, NULL, 10);
            }
        }
        closedir(d);
        assert_true(nb >= 3);
        for (size_t i = 0; i < nb; i++) {
            char path[400];
            seg_file(f, bases[i], path, sizeof(path));
            nrec[i] = record_offsets(path, offs[i], 256, &sizes[i]);
        }
        int flips = 1 + round % 4;
        for (int i = 0; i < flips; i++) {
            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            /* a segment, a record in it, a byte of that record */
            size_t sgi = (size_t)(rnd % nb);
            size_t k = (size_t)((rnd >> 8) % nrec[sgi]);
            uint64_t len = (k + 1 < nrec[sgi] ? offs[sgi][k + 1] : sizes[sgi]) - offs[sgi][k];
            char path[400];
            seg_file(f, bases[sgi], path, sizeof(path));
            flip_at(path, offs[sgi][k] + (rnd >> 24) % len);
            hit[bases[sgi] + k] = true; /* a segment holds consecutive seqs from its base */
        }
        log = open_log(f, 16384);
        read_all(log, 0, 1000, 50, g);
        size_t j = 0;
        for (uint64_t s = 1; s <= 300; s++) {
            if (hit[s]) {
                continue;
            }
            if (j >= g->n || g->seqs[j] != s) {
                fail_msg("round %d: seq %llu missing (read %zu)", round, (unsigned long long)s,
                         g->n);
            }
            j++;
        }
        assert_int_equal(j, g->n);
        ad_evlog_free(log);
    }
    free(g);
}

static void failed_write_rolls_back(void **state)
{
    fixture_t *f = *state;
    signal(SIGXFSZ, SIG_IGN);
    ad_evlog_t *log = open_log(f, 8u << 20);
    add_range(log, 1, 50);
    assert_int_equal(ad_evlog_commit(log), 0);
    char path[400];
    seg_file(f, 1, path, sizeof(path));
    off_t committed = file_size(path);
    struct rlimit old, cap;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    cap = old;
    cap.rlim_cur = (rlim_t)committed + 70000; /* past one buffer, short of the batch */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);
    int rc = add_with_big(log, 51, 400, 0);
    int crc = ad_evlog_commit(log);
    assert_int_equal(rc != 0 ? rc : crc, AD_EFULL);
    assert_int_equal(file_size(path), committed);
    uint64_t oldest, newest;
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_int_equal(newest, 50);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    /* the bus writes the batch again, and now it fits */
    add_range(log, 40, 400);
    assert_int_equal(ad_evlog_commit(log), 0);
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, 1000, 100, g);
    expect_run(g, 1, 400);
    ad_evlog_free(log);
    log = open_log(f, 8u << 20);
    read_all(log, 0, 1000, 100, g);
    expect_run(g, 1, 400);
    ad_evlog_free(log);
    free(g);
}

static int on_rec_big(const ad_evlog_rec_t *r, void *arg)
{
    got_t *g = arg;
    if (r->seq == 120) {
        assert_int_equal(r->payload_len, sizeof(big_payload));
        assert_memory_equal(r->payload, big_payload, sizeof(big_payload));
        g->seqs[g->n++] = r->seq;
        return 0;
    }
    return on_rec(r, arg);
}

/* A batch that fills a segment and fails in the next: the full segments'
 * records stay committed, the new segment goes, and the batch written
 * again stores exactly the rest. */
static void failure_after_a_roll_keeps_the_full_segments(void **state)
{
    fixture_t *f = *state;
    signal(SIGXFSZ, SIG_IGN);
    ad_evlog_t *log = open_log(f, 8192);
    struct rlimit old, cap;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    cap = old;
    cap.rlim_cur = 12288; /* a segment fills to ~8 KiB; seq 120 does not fit */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);
    int rc = add_with_big(log, 1, 200, 120);
    int crc = ad_evlog_commit(log);
    assert_int_equal(rc != 0 ? rc : crc, AD_EFULL);
    uint64_t oldest, newest;
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_true(newest > 1 && newest < 120);
    size_t nseg = count_segments(f);
    got_t *g = calloc(1, sizeof(*g));
    read_all(log, 0, 1000, 100, g);
    expect_run(g, 1, newest);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    /* the bus writes the whole batch again, and now it fits */
    assert_int_equal(add_with_big(log, 1, 200, 120), 0);
    assert_int_equal(ad_evlog_commit(log), 0);
    assert_true(count_segments(f) > nseg);
    ad_evlog_free(log);
    log = open_log(f, 8192);
    g->n = 0;
    uint64_t after = 0;
    for (int i = 0; i < 100; i++) {
        size_t before = g->n;
        assert_int_equal(ad_evlog_read(log, after, 1000, 50, on_rec_big, g), 0);
        if (g->n == before) {
            break;
        }
        after = g->seqs[g->n - 1];
    }
    expect_run(g, 1, 200);
    ad_evlog_free(log);
    free(g);
}

static void odd_records_and_limits(void **state)
{
    fixture_t *f = *state;
    ad_evlog_t *log = open_log(f, 8u << 20);
    /* a type over the limit is refused and the log goes on */
    char *big = calloc(1, AD_EVLOG_TYPE_MAX + 2);
    memset(big, 'x', AD_EVLOG_TYPE_MAX + 1);
    ad_evlog_rec_t r = {.seq = 1,
                        .type = big,
                        .type_len = AD_EVLOG_TYPE_MAX + 1,
                        .topics = "[]",
                        .topics_len = 2,
                        .payload = "{}",
                        .payload_len = 2};
    assert_int_equal(ad_evlog_add(log, &r), AD_ETOOBIG);
    /* a record larger than the write buffer, and an empty payload */
    size_t n = 300000;
    char *pl = malloc(n);
    memset(pl, 'y', n);
    r = (ad_evlog_rec_t){.seq = 2,
                         .type = "big",
                         .type_len = 3,
                         .topics = "[]",
                         .topics_len = 2,
                         .payload = pl,
                         .payload_len = n};
    assert_int_equal(ad_evlog_add(log, &r), 0);
    r = (ad_evlog_rec_t){.seq = 3,
                         .type = "e",
                         .type_len = 1,
                         .topics = "[]",
                         .topics_len = 2,
                         .payload = "",
                         .payload_len = 0};
    assert_int_equal(ad_evlog_add(log, &r), 0);
    /* a seq not above the last is stored already */
    r.seq = 2;
    assert_int_equal(ad_evlog_add(log, &r), 0);
    assert_int_equal(ad_evlog_commit(log), 0);
    ad_evlog_free(log);
    log = open_log(f, 8u << 20);
    uint64_t oldest, newest;
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    assert_int_equal(oldest, 2);
    assert_int_equal(newest, 3);
    ad_evlog_free(log);
    /* the parser: short input wants more, silly lengths are refused */
    uint8_t rec[64] = {0};
    ad_evlog_rec_t out;
    size_t need = 0;
    assert_int_equal(ad_evlog_parse(rec, 10, true, &out, &need), 0);
    assert_int_equal(need, AD_EVLOG_REC_HDR);
    rec[4] = 1; /* type_len 1: wants 32 + 1 + 3 bytes */
    assert_int_equal(ad_evlog_parse(rec, 33, true, &out, &need), 0);
    assert_int_equal(need, AD_EVLOG_REC_HDR + 4);
    rec[AD_EVLOG_REC_HDR + 1] = 'x'; /* where the type's NUL belongs */
    assert_int_equal(ad_evlog_parse(rec, 36, false, &out, NULL), AD_ECORRUPT);
    rec[AD_EVLOG_REC_HDR + 1] = 0;
    assert_int_equal(ad_evlog_parse(rec, 36, false, &out, NULL), 36);
    assert_int_equal(ad_evlog_parse(rec, 36, true, &out, NULL), AD_ECORRUPT); /* its CRC */
    rec[15] = 0x7f; /* payload_len far over the limit */
    assert_int_equal(ad_evlog_parse(rec, 64, false, &out, NULL), AD_ECORRUPT);
    free(big);
    free(pl);
}

static void files_not_ours_are_refused(void **state)
{
    fixture_t *f = *state;
    char err[512];
    ad_evlog_t *log = NULL;
    assert_int_equal(mkdir(f->log, 0700), 0);
    char path[400];
    seg_file(f, 7, path, sizeof(path));
    /* somebody else's file with a segment's name */
    FILE *fp = fopen(path, "w");
    fputs("this is not an event log segment, and it is long enough to tell\n", fp);
    fclose(fp);
    assert_int_equal(ad_evlog_open(f->log, 4096, false, &log, err, sizeof(err)), AD_ECORRUPT);
    assert_non_null(strstr(err, "not an agentd event log segment"));
    /* a later version's segment */
    fp = fopen(path, "w");
    fwrite("agentdEV\x02\x00\x00\x00\x00\x00\x00\x00", 1, 16, fp);
    fclose(fp);
    assert_int_equal(ad_evlog_open(f->log, 4096, false, &log, err, sizeof(err)), AD_ESTATE);
    assert_non_null(strstr(err, "later agentd"));
    /* a segment torn right after it was made: removed */
    assert_int_equal(truncate(path, 3), 0);
    assert_int_equal(ad_evlog_open(f->log, 4096, false, &log, err, sizeof(err)), 0);
    assert_int_equal(count_segments(f), 0);
    /* other names are left alone */
    snprintf(path, sizeof(path), "%s/notes.txt", f->log);
    fp = fopen(path, "w");
    fclose(fp);
    ad_evlog_free(log);
    log = open_log(f, 4096);
    ad_evlog_free(log);
    assert_int_equal(access(path, F_OK), 0);
}

/* ---- attach: the events table of an older database ----------------------------- */

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("raw exec failed: %s", msg);
    }
    sqlite3_close(db);
}

static int table_exists(const char *path, const char *name)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?",
                       -1, &s, NULL);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static int on_any(const ad_evlog_rec_t *r, void *arg)
{
    got_t *g = arg;
    char want[64];
    snprintf(want, sizeof(want), "{\"n\":%llu}", (unsigned long long)r->seq);
    assert_string_equal(r->payload, want);
    assert_string_equal(r->type, "old");
    assert_string_equal(r->topics, "[\"system\"]");
    g->seqs[g->n++] = r->seq;
    return 0;
}

static void older_events_table_moves_into_the_log(void **state)
{
    fixture_t *f = *state;
    char db[400];
    snprintf(db, sizeof(db), "%s/agentd.db", f->dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512] = "";
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = db};
    assert_int_equal(ad_store_open(&loop, &o, &st, err, sizeof(err)), 0);
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* What migration 2200 left of an older database's events: 1..3000,
     * of which a start that crashed midway had moved 1..1000 already. */
    raw_exec(db, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000) "
                 "INSERT INTO events_before_log(seq, ts, type, topics, payload) "
                 "SELECT n, 5000 + n, 'old', '[\"system\"]', '{\"n\":' || n || '}' FROM c");
    ad_evlog_t *log = open_log(f, 1u << 20);
    char p[64];
    for (uint64_t s = 1; s <= 1000; s++) {
        ad_evlog_rec_t r = {.seq = s,
                            .ts_ms = 5000 + (int64_t)s,
                            .type = "old",
                            .type_len = 3,
                            .topics = "[\"system\"]",
                            .topics_len = 10,
                            .payload = p};
        r.payload_len = (size_t)snprintf(p, sizeof(p), "{\"n\":%llu}", (unsigned long long)s);
        assert_int_equal(ad_evlog_add(log, &r), 0);
    }
    assert_int_equal(ad_evlog_commit(log), 0);
    ad_evlog_free(log);

    assert_int_equal(ad_store_open(&loop, &o, &st, err, sizeof(err)), 0);
    ad_bus_t *bus = ad_bus_new(&loop, NULL);
    if (ad_store_events_attach(st, bus, 256u << 20, NULL, err, sizeof(err)) != 0) {
        fail_msg("attach: %s", err);
    }
    /* the bus goes on after the moved events */
    assert_true(ad_bus_persisted_seq(bus) >= 3000);
    ad_bus_stop(bus);
    ad_store_close(st);
    uv_run(&loop, UV_RUN_DEFAULT);
    ad_bus_free(bus);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(table_exists(db, "events_before_log"), 0);

    log = open_log(f, 1u << 20);
    got_t *g = calloc(1, sizeof(*g) + 0);
    uint64_t after = 0;
    size_t total = 0;
    for (int i = 0; i < 10; i++) {
        g->n = 0;
        assert_int_equal(ad_evlog_read(log, after, 10000, 1000, on_any, g), 0);
        for (size_t k = 0; k < g->n; k++) {
            assert_int_equal(g->seqs[k], after + 1 + k);
        }
        total += g->n;
        if (g->n == 0) {
            break;
        }
        after = g->seqs[g->n - 1];
    }
    assert_int_equal(total, 3000);
    ad_evlog_free(log);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(records_read_back_as_written, setup, teardown),
        cmocka_unit_test_setup_teardown(segments_roll_and_retire, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_counts_bytes_not_seqs, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_cut_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(flipped_byte_in_newest_keeps_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(resync_is_not_fooled, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_header_of_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_sealed_segment_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(random_flips_cost_only_the_records_they_hit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_write_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(failure_after_a_roll_keeps_the_full_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(odd_records_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(files_not_ours_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(older_events_table_moves_into_the_log, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
