/* SPDX-License-Identifier: MIT */
/*
 * Page checksums for the SQLite database (issue #78): a VFS over the
 * default one ("unix") that keeps an 8-byte sum of every page of a main
 * database file in the page's reserved bytes (the last AD_CKSUM_RESERVE
 * bytes of each page, which SQLite leaves alone once a database is made
 * or vacuumed with that many reserved) and checks it on every read.
 *
 * What is checked: a whole page of a main database file, read or
 * written, once page 1's header says the database reserves exactly
 * AD_CKSUM_RESERVE bytes a page (a database from before keeps 0 and is
 * read as before until open.c migrates it). A write computes the sum into
 * a copy of the page (SQLite's buffer is not touched: in WAL mode the
 * same bytes were summed by the WAL's own frame checksum); a read whose
 * sum does not match is SQLITE_IOERR_DATA, and the page's number is
 * counted (ad_cksum_bad). The WAL's frames carry SQLite's own checksum
 * (checked when the WAL is recovered) and get ours when a checkpoint
 * writes them back into the database file. Partial reads (the 100-byte
 * header SQLite reads first) and temporary files pass through.
 *
 * The sum: two 64-bit running sums over the page's 64-bit words (a
 * Fletcher sum, position dependent through the second), seeded with the
 * page's number so that a page written to the wrong place fails too, and
 * mixed into 8 bytes. An all-zero page does not sum to zero.
 *
 * No mmap: the methods are version 2 (no xFetch), so every page is read
 * through xRead and checked.
 *
 * Registered as the process's default VFS. Another program that writes
 * the file (the sqlite3 shell) leaves the pages it changed with their old
 * sums: they fail the check until `agentd db resum` sums every page again
 * (ad_cksum_set_verify(false) and a VACUUM).
 */
#include "store/store_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define VFS_NAME "agentd-cksum"

typedef struct {
    sqlite3_file base;   /* pMethods: &io_methods */
    sqlite3_file *real;  /* the default VFS's file, right after this struct */
    bool main_db;        /* a named main database file: pages are summed */
    uint32_t page_size;  /* from page 1's header; 0 until read or written */
    bool summed;         /* page 1 says the database reserves AD_CKSUM_RESERVE bytes */
    unsigned char *copy; /* a page's room for the summed copy a write writes */
    size_t copy_len;
} ck_file_t;

/* sqlite3_file's size rounded up, so that the real file behind it is aligned */
#define CK_HEAD ((sizeof(ck_file_t) + 15u) & ~(size_t)15u)

static sqlite3_vfs ck_vfs;
static sqlite3_vfs *base_vfs;
static atomic_bool verify = true; /* ad_cksum_set_verify */
static atomic_uint_fast64_t bad_pages;
static atomic_uint_fast64_t last_bad_page;

uint64_t ad_cksum_page_sum(const unsigned char *page, size_t len, uint32_t pgno)
{
    uint64_t a = 0x6a09e667f3bcc908ull ^ pgno, b = 0xbb67ae8584caa73bull;
    size_t words = len / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, page + i * 8, 8);
        a += w;
        b += a;
    }
    for (size_t i = words * 8; i < len; i++) { /* never for SQLite's page sizes */
        a += page[i];
        b += a;
    }
    uint64_t x = a ^ (b << 29 | b >> 35);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x ^ b;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Page 1's header (at least its first 21 bytes): the page size and the
 * reserved bytes a page. Not a database header: nothing learnt. */
static void learn_header(ck_file_t *f, const unsigned char *h, int n)
{
    if (n < 21 || memcmp(h, "SQLite format 3", 16) != 0) {
        return;
    }
    uint32_t ps = (uint32_t)h[16] << 8 | h[17];
    if (ps == 1) {
        ps = 65536;
    }
    if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) {
        return;
    }
    f->page_size = ps;
    f->summed = h[20] == AD_CKSUM_RESERVE;
}

/* A whole, aligned page of a summed main database: its number, else 0. */
static uint32_t page_of(const ck_file_t *f, int amt, sqlite3_int64 off)
{
    if (!f->main_db || !f->summed || f->page_size == 0 || (uint32_t)amt != f->page_size ||
        off % f->page_size != 0) {
        return 0;
    }
    return (uint32_t)(off / f->page_size) + 1;
}

static int ck_close(sqlite3_file *file)
{
    ck_file_t *f = (ck_file_t *)file;
    int rc = f->real->pMethods != NULL ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free(f->copy);
    f->copy = NULL;
    return rc;
}

static int ck_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
    ck_file_t *f = (ck_file_t *)file;
    int rc = f->real->pMethods->xRead(f->real, buf, amt, off);
    if (rc != SQLITE_OK || !f->main_db) {
        return rc;
    }
    if (off == 0) {
        learn_header(f, buf, amt);
    }
    uint32_t pgno = page_of(f, amt, off);
    if (pgno == 0) {
        return rc;
    }
    const unsigned char *p = buf;
    size_t body = f->page_size - AD_CKSUM_RESERVE;
    if (atomic_load(&verify) && ad_cksum_page_sum(p, body, pgno) != get_le64(p + body)) {
        atomic_fetch_add(&bad_pages, 1);
        atomic_store(&last_bad_page, pgno);
        return SQLITE_IOERR_DATA;
    }
    return SQLITE_OK;
}

static int ck_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
    ck_file_t *f = (ck_file_t *)file;
    if (f->main_db && off == 0) {
        learn_header(f, buf, amt);
    }
    uint32_t pgno = page_of(f, amt, off);
    if (pgno == 0) {
        return f->real->pMethods->xWrite(f->real, buf, amt, off);
    }
    if (f->copy_len < (size_t)amt) {
        unsigned char *c = realloc(f->copy, (size_t)amt);
        if (c == NULL) {
            return SQLITE_IOERR_NOMEM;
        }
        f->copy = c;
        f->copy_len = (size_t)amt;
    }
    size_t body = f->page_size - AD_CKSUM_RESERVE;
    memcpy(f->copy, buf, body);
    put_le64(f->copy + body, ad_cksum_page_sum(f->copy, body, pgno));
    return f->real->pMethods->xWrite(f->real, f->copy, amt, off);
}

/* ---- the rest passes through ------------------------------------------------------- */

#define REAL(file) (((ck_file_t *)(file))->real)

static int ck_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    return REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int ck_sync(sqlite3_file *file, int flags)
{
    return REAL(file)->pMethods->xSync(REAL(file), flags);
}
static int ck_size(sqlite3_file *file, sqlite3_int64 *size)
{
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int ck_lock(sqlite3_file *file, int lock)
{
    return REAL(file)->pMethods->xLock(REAL(file), lock);
}
static int ck_unlock(sqlite3_file *file, int lock)
{
    return REAL(file)->pMethods->xUnlock(REAL(file), lock);
}
static int ck_reserved(sqlite3_file *file, int *out)
{
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}
static int ck_fcntl(sqlite3_file *file, int op, void *arg)
{
    ck_file_t *f = (ck_file_t *)file;
    int rc = f->real->pMethods->xFileControl(f->real, op, arg);
    if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK && arg != NULL) {
        char **name = arg;
        char *n = sqlite3_mprintf(VFS_NAME "/%z", *name);
        if (n != NULL) {
            *name = n;
        }
    }
    return rc;
}
static int ck_sector(sqlite3_file *file)
{
    return REAL(file)->pMethods->xSectorSize(REAL(file));
}
static int ck_devchar(sqlite3_file *file)
{
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int ck_shm_map(sqlite3_file *file, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(file)->pMethods->xShmMap(REAL(file), pg, pgsz, extend, pp);
}
static int ck_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}
static void ck_shm_barrier(sqlite3_file *file)
{
    REAL(file)->pMethods->xShmBarrier(REAL(file));
}
static int ck_shm_unmap(sqlite3_file *file, int del)
{
    return REAL(file)->pMethods->xShmUnmap(REAL(file), del);
}

static const sqlite3_io_methods io_methods = {
    .iVersion = 2, /* no xFetch: no page bypasses ck_read */
    .xClose = ck_close,
    .xRead = ck_read,
    .xWrite = ck_write,
    .xTruncate = ck_truncate,
    .xSync = ck_sync,
    .xFileSize = ck_size,
    .xLock = ck_lock,
    .xUnlock = ck_unlock,
    .xCheckReservedLock = ck_reserved,
    .xFileControl = ck_fcntl,
    .xSectorSize = ck_sector,
    .xDeviceCharacteristics = ck_devchar,
    .xShmMap = ck_shm_map,
    .xShmLock = ck_shm_lock,
    .xShmBarrier = ck_shm_barrier,
    .xShmUnmap = ck_shm_unmap,
};

static int ck_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags,
                   int *out_flags)
{
    (void)vfs;
    ck_file_t *f = (ck_file_t *)file;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)((unsigned char *)file + CK_HEAD);
    f->main_db = name != NULL && (flags & SQLITE_OPEN_MAIN_DB) != 0;
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    /* SQLite calls xClose after a failed open only when pMethods is set:
     * set it when the real file has methods to close */
    f->base.pMethods = f->real->pMethods != NULL ? &io_methods : NULL;
    return rc;
}

/* The VFS's other calls are the default one's. */
static int ck_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return base_vfs->xDelete(base_vfs, name, sync);
}
static int ck_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int ck_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *ck_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base_vfs->xDlOpen(base_vfs, name);
}
static void ck_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    base_vfs->xDlError(base_vfs, n, out);
}
static void (*ck_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base_vfs->xDlSym(base_vfs, h, sym);
}
static void ck_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    base_vfs->xDlClose(base_vfs, h);
}
static int ck_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xRandomness(base_vfs, n, out);
}
static int ck_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return base_vfs->xSleep(base_vfs, us);
}
static int ck_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base_vfs->xCurrentTime(base_vfs, out);
}
static int ck_lasterr(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xGetLastError != NULL ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}
static int ck_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static uv_once_t once = UV_ONCE_INIT;
static int registered = SQLITE_ERROR;

static void do_register(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    if (base_vfs == NULL || base_vfs->iVersion < 2 || base_vfs->xCurrentTimeInt64 == NULL) {
        return;
    }
    ck_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)(CK_HEAD + (size_t)base_vfs->szOsFile),
        .mxPathname = base_vfs->mxPathname,
        .zName = VFS_NAME,
        .xOpen = ck_open,
        .xDelete = ck_delete,
        .xAccess = ck_access,
        .xFullPathname = ck_fullpath,
        .xDlOpen = ck_dlopen,
        .xDlError = ck_dlerror,
        .xDlSym = ck_dlsym,
        .xDlClose = ck_dlclose,
        .xRandomness = ck_random,
        .xSleep = ck_sleep,
        .xCurrentTime = ck_time,
        .xGetLastError = ck_lasterr,
        .xCurrentTimeInt64 = ck_time64,
    };
    /* the process's default too: every connection agentd opens sums what
     * it writes (a test's or a tool's own sqlite3_open included) */
    registered = sqlite3_vfs_register(&ck_vfs, 1);
}

const char *ad_cksum_vfs(void)
{
    uv_once(&once, do_register);
    return registered == SQLITE_OK ? VFS_NAME : NULL;
}

void ad_cksum_set_verify(bool on)
{
    atomic_store(&verify, on);
}

uint64_t ad_cksum_bad(uint32_t *last_page)
{
    if (last_page != NULL) {
        *last_page = (uint32_t)atomic_load(&last_bad_page);
    }
    return (uint64_t)atomic_load(&bad_pages);
}
