/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the event log's reading side (src/store/evlog.c):
 * the input is the newest segment's file as a crash or a bad disk may leave
 * it (behind a good header when the first byte is odd, so the fuzzer
 * reaches the records). Opening must refuse it or leave whole, checked
 * records only (damaged ones skipped, the file rewritten, a torn tail cut);
 * what is read back must be in seq order with its strings where the
 * lengths say; an append after it must read back after a reopen, with
 * nothing left to mend. The record parser runs on the raw bytes too. Seed
 * corpus: tests/fuzz/corpus/evlog/. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

static char dir[64];
static char seg[128];

typedef struct {
    uint64_t last;
    size_t n;
} seen_t;

static int on_rec(const ad_evlog_rec_t *r, void *arg)
{
    seen_t *s = arg;
    if (r->seq <= s->last || r->type[r->type_len] != '\0' || r->topics[r->topics_len] != '\0' ||
        r->payload[r->payload_len] != '\0') {
        abort(); /* out of order, or strings not where the lengths say */
    }
    s->last = r->seq;
    s->n++;
    return 0;
}

static seen_t read_back(ad_evlog_t *log)
{
    seen_t s = {0, 0};
    for (int i = 0; i < 64; i++) {
        size_t before = s.n;
        ad_evlog_read(log, s.last, UINT64_MAX, 256, on_rec, &s);
        if (s.n == before) {
            break;
        }
    }
    return s;
}

/* The copies of a damaged segment opening kept aside
 * (<segment>.corrupt-<ms>): how many. */
static size_t count_aside(void)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        n += strstr(e->d_name, ".corrupt-") != NULL;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* Removes the folder's files whose names hold part (NULL: every file). */
static void remove_files(const char *part)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        bool dots = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
        if (!dots && (part == NULL || strstr(e->d_name, part) != NULL)) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

/* Removes those set aside. */
static void remove_aside(void)
{
    remove_files(".corrupt-");
}

/* The folder and what is in it, when the run ends (each input empties it;
 * the folder itself was left in /tmp after every run). */
static void remove_dir(void)
{
    remove_files(NULL);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dir[0] == '\0') {
        ad_log_set_level(AD_LOG_OFF);
        snprintf(dir, sizeof(dir), "/tmp/agentd-fuzz-evlog-%ld", (long)getpid());
        mkdir(dir, 0700);
        atexit(remove_dir);
        snprintf(seg, sizeof(seg), "%s/%020d.log", dir, 1);
    }
    /* the parser alone, over the raw bytes */
    ad_evlog_rec_t r;
    for (size_t at = 0; at < size;) {
        int64_t len = ad_evlog_parse(data + at, size - at, true, &r, NULL);
        if (len <= 0) {
            break;
        }
        at += (size_t)len;
    }
    FILE *fp = fopen(seg, "wb");
    if (fp == NULL) {
        abort();
    }
    if (size > 0 && (data[0] & 1)) {
        fwrite("agentdEV\x01\x00\x00\x00\x00\x00\x00\x00", 1, 16, fp);
        data++;
        size--;
    }
    fwrite(data, 1, size, fp);
    fclose(fp);

    ad_evlog_t *log = NULL;
    char err[512];
    if (ad_evlog_open(dir, 1u << 20, false, &log, err, sizeof(err)) != 0) {
        unlink(seg);
        remove_aside();
        return 0;
    }
    uint64_t oldest, newest, bytes;
    ad_evlog_bounds(log, &oldest, &newest, &bytes);
    struct stat sb;
    if (newest > 0 && (stat(seg, &sb) != 0 || (uint64_t)sb.st_size != bytes)) {
        abort(); /* what was kept is exactly the whole records */
    }
    seen_t s = read_back(log);
    if (s.last != newest || (newest == 0 && s.n != 0)) {
        abort();
    }
    ad_evlog_rec_t add = {.seq = newest + 1,
                          .ts_ms = 1,
                          .type = "t",
                          .type_len = 1,
                          .topics = "[]",
                          .topics_len = 2,
                          .payload = "{}",
                          .payload_len = 2};
    if (newest < UINT64_MAX - 1 && ad_evlog_add(log, &add) == 0 && ad_evlog_commit(log) == 0) {
        ad_evlog_free(log);
        size_t aside = count_aside();
        if (ad_evlog_open(dir, 1u << 20, false, &log, err, sizeof(err)) != 0) {
            abort(); /* our own append must open again */
        }
        if (count_aside() != aside) {
            abort(); /* and find nothing damaged: the first open mended it all */
        }
        seen_t t = read_back(log);
        if (t.last != newest + 1 || t.n != s.n + 1) {
            abort();
        }
    }
    ad_evlog_free(log);
    /* the next input starts from an empty folder */
    char path[256];
    snprintf(path, sizeof(path), "%s/%020llu.log", dir, (unsigned long long)(newest + 1));
    unlink(path);
    unlink(seg);
    remove_aside();
    return 0;
}
