/* SPDX-License-Identifier: MIT */
/*
 * The SQLite database's pages read through (issue #78). Each table in
 * turn, with its indexes and overflow pages (PRAGMA quick_check(TABLE):
 * every page it reads is checked against its checksum by cksum.c), so a
 * damaged page is put to the table it belongs to.
 *
 * In the daemon the check runs once after the start, and again when a
 * request met a damaged page (at most every CHECK_AGAIN_MS), on a thread
 * of its own at the lowest CPU and I/O priority (nice 19, the idle I/O
 * class: a thread's priority cannot be raised again by an unprivileged
 * process, so not on the shared pool), and rests after each table as long
 * as the table took (at most half the time reading, REST_MAX_MS at most
 * a rest). What it finds is the health's (ad_store_damage) and each
 * refused request's (ad_store_damaged). `agentd db check` runs the same
 * walk at once (ad_store_sqlite_check).
 *
 * Existing databases: ad_store_pages_summed gives a database without the
 * checksums' reserved bytes its 8 a page (VACUUM: every page rewritten)
 * when the daemon opens it.
 */
#include "store/dbcheck.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHECK_AGAIN_MS 5000
#define REST_MAX_MS 1000

/* ---- what is known damaged (any thread, under lock) -------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static ad_store_damage_t known;
static uint64_t seen;      /* damaged reads reported by stmt.c */
static uint64_t seen_done; /* seen when the last check started */

static ad_store_repair_t repairs[AD_STORE_REPAIRS_MAX];
static unsigned nrepairs;

void ad_store_note_repair(const char *what)
{
    pthread_mutex_lock(&lock);
    ad_store_repair_t *r = &repairs[nrepairs++ % AD_STORE_REPAIRS_MAX];
    r->at_ms = ad_wall_ms();
    snprintf(r->what, sizeof(r->what), "%s", what);
    pthread_mutex_unlock(&lock);
}

size_t ad_store_repairs(ad_store_repair_t out[AD_STORE_REPAIRS_MAX])
{
    int64_t now = ad_wall_ms();
    size_t n = 0;
    pthread_mutex_lock(&lock);
    unsigned have = nrepairs < AD_STORE_REPAIRS_MAX ? nrepairs : AD_STORE_REPAIRS_MAX;
    for (unsigned k = 0; k < have; k++) {
        const ad_store_repair_t *r = &repairs[(nrepairs - 1 - k) % AD_STORE_REPAIRS_MAX];
        if (now - r->at_ms <= AD_STORE_REPAIR_SHOWN_MS) {
            out[n++] = *r;
        }
    }
    pthread_mutex_unlock(&lock);
    return n;
}

void ad_store_damage_seen(void)
{
    pthread_mutex_lock(&lock);
    seen++;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

static void reason_of(ad_store_damage_t *d)
{
    if (d->ntables > 0) {
        snprintf(d->reason, sizeof(d->reason),
                 "the database is damaged: table%s %s failed the page check; stop agentd and run "
                 "`agentd db repair` (it keeps every readable row and says what was lost), or "
                 "restore the data dir from a backup",
                 d->ntables > 1 ? "s" : "", d->tables);
    } else if (d->bad_reads > 0) {
        char what[64];
        if (d->last_bad_page > 0) {
            snprintf(what, sizeof(what), "page %u failed its checksum", d->last_bad_page);
        } else {
            snprintf(what, sizeof(what), "SQLite found a page corrupt");
        }
        snprintf(d->reason, sizeof(d->reason),
                 "the database is damaged: %s when read%s; stop agentd and run `agentd db "
                 "check`, then `agentd db repair`",
                 what, d->checking ? " (the check that names its table runs now)" : "");
    } else {
        d->reason[0] = '\0';
    }
}

void ad_store_damage(ad_store_damage_t *out)
{
    uint32_t last = 0;
    uint64_t bad = ad_cksum_bad(&last);
    pthread_mutex_lock(&lock);
    *out = known;
    out->bad_reads = bad;
    out->last_bad_page = last;
    out->damaged = known.ntables > 0 || bad > 0 || seen > 0;
    if (seen > 0 && bad == 0 && known.ntables == 0) { /* SQLITE_CORRUPT without a sum */
        out->bad_reads = seen;
    }
    pthread_mutex_unlock(&lock);
    reason_of(out);
}

bool ad_store_damaged(char *why, size_t n)
{
    ad_store_damage_t d;
    ad_store_damage(&d);
    if (d.damaged && why != NULL && n > 0) {
        snprintf(why, n, "%s", d.reason);
    }
    return d.damaged;
}

/* ---- the walk -------------------------------------------------------------------------- */

static int open_conn(const char *path, sqlite3 **out, char *err, size_t errsz)
{
    sqlite3 *db = NULL;
    int rc =
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, ad_cksum_vfs());
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, "PRAGMA query_only=ON", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errsz, "cannot open %s: %s", path,
                 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return AD_EIO;
    }
    *out = db;
    return 0;
}

/* A failed step's words for a person. */
static void problem_of(sqlite3 *db, int rc, char *out, size_t n)
{
    uint32_t page = 0;
    ad_cksum_bad(&page);
    if (rc == SQLITE_IOERR_DATA) {
        snprintf(out, n, "page %u failed its checksum", page);
    } else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
        snprintf(out, n, "damaged: %s", sqlite3_errmsg(db));
    } else {
        snprintf(out, n, "cannot be read: %s", sqlite3_errmsg(db));
    }
}

/* quick_check of one table (its b-tree, its indexes' and their overflow
 * pages): problem "" when whole. 0, or AD_EINTERNAL when interrupted. */
static int check_table(sqlite3 *db, const char *table, char *problem, size_t n)
{
    problem[0] = '\0';
    char *sql = sqlite3_mprintf("PRAGMA quick_check(%Q)", table);
    if (sql == NULL) {
        return AD_ENOMEM;
    }
    sqlite3_stmt *s = NULL;
    uint64_t bad0 = ad_cksum_bad(NULL);
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    sqlite3_free(sql);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
    }
    if (rc == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(s, 0);
        if (res == NULL || strcmp(res, "ok") != 0) {
            /* on one line: SQLite's report is several */
            uint64_t bad = ad_cksum_bad(NULL) - bad0;
            int k = bad > 0 ? snprintf(problem, n,
                                       "%llu page%s failed %s checksum: ", (unsigned long long)bad,
                                       bad > 1 ? "s" : "", bad > 1 ? "their" : "its")
                            : snprintf(problem, n, "damaged: ");
            size_t at = k > 0 && (size_t)k < n ? (size_t)k : 0;
            const char *from = res != NULL ? res : "?";
            if (strncmp(from, "*** in database main ***\n", 25) == 0) {
                from += 25;
            }
            for (; *from != '\0' && at + 1 < n; from++) {
                problem[at++] = *from == '\n' ? ';' : *from;
                if (*from == '\n' && at + 1 < n) {
                    problem[at++] = ' ';
                }
            }
            problem[at] = '\0';
        }
    } else if (rc == SQLITE_INTERRUPT) {
        sqlite3_finalize(s);
        return AD_EINTERNAL;
    } else {
        int x = sqlite3_extended_errcode(db);
        if (x == SQLITE_IOERR_DATA || (x & 0xff) == SQLITE_CORRUPT || (x & 0xff) == SQLITE_NOTADB) {
            problem_of(db, x, problem, n);
        } else { /* not damage: a table dropped meanwhile, a busy file */
            ad_log(AD_LOG_DEBUG, "store", "page check: table %s not checked: %s", table,
                   sqlite3_errmsg(db));
        }
    }
    sqlite3_finalize(s);
    return 0;
}

typedef struct {
    char (*names)[128];
    size_t n;
} tables_t;

/* The tables, from the schema (page 1 and the schema's pages). */
static int list_tables(sqlite3 *db, tables_t *t, char *err, size_t errsz)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                /* a virtual table's pages are its shadow tables' */
                                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name "
                                "NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT IN (SELECT name "
                                "FROM pragma_table_list WHERE type = 'virtual') ORDER BY name",
                                -1, &s, NULL);
    size_t cap = 0;
    t->n = 0;
    t->names = NULL;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
            break;
        }
        if (t->n == cap) {
            cap = cap > 0 ? cap * 2 : 64;
            t->names = ad_xrealloc(t->names, cap * sizeof(*t->names));
        }
        snprintf(t->names[t->n++], sizeof(t->names[0]), "%s", sqlite3_column_text(s, 0));
    }
    if (rc == SQLITE_INTERRUPT) {
        sqlite3_finalize(s);
        free(t->names);
        t->names = NULL;
        return AD_EINTERNAL; /* stopping: not damage */
    }
    if (rc != SQLITE_DONE) {
        char problem[256];
        problem_of(db, rc == SQLITE_OK ? SQLITE_ERROR : sqlite3_extended_errcode(db), problem,
                   sizeof(problem));
        snprintf(err, errsz,
                 "the database's schema cannot be read (%s): restore the data dir from a backup",
                 problem);
        sqlite3_finalize(s);
        free(t->names);
        t->names = NULL;
        return AD_ECORRUPT;
    }
    sqlite3_finalize(s);
    return 0;
}

int ad_store_sqlite_check(const char *path, ad_store_check_cb fn, void *ud, int *damaged, char *err,
                          size_t errsz)
{
    *damaged = 0;
    sqlite3 *db = NULL;
    int e = open_conn(path, &db, err, errsz);
    tables_t t = {0};
    if (e == 0) {
        e = list_tables(db, &t, err, errsz);
    }
    for (size_t i = 0; e == 0 && i < t.n; i++) {
        char problem[512];
        e = check_table(db, t.names[i], problem, sizeof(problem));
        if (e == 0) {
            *damaged += problem[0] != '\0';
            if (fn != NULL) {
                fn(t.names[i], problem[0] != '\0' ? problem : NULL, ud);
            }
        }
    }
    free(t.names);
    sqlite3_close_v2(db);
    return e;
}

/* ---- in the daemon: the thread ------------------------------------------------------- */

static struct {
    pthread_t thread;
    bool started;
    bool stopping; /* under lock */
    sqlite3 *db;   /* under lock while the check runs: interrupted to stop */
    char *path;
} bg;

static void lower_priority(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (setpriority(PRIO_PROCESS, (id_t)tid, 19) != 0) {
        ad_log(AD_LOG_DEBUG, "store", "page check: cannot lower its CPU priority");
    }
#ifdef SYS_ioprio_set
    /* IOPRIO_WHO_PROCESS (a thread's id), the idle class (3) */
    if (syscall(SYS_ioprio_set, 1, (int)tid, 3 << 13) != 0) {
        ad_log(AD_LOG_DEBUG, "store", "page check: cannot lower its I/O priority");
    }
#endif
}

/* Rests ms, or less when stopping. Under lock; false when stopping. */
static bool rest(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + ms * 1000000ull;
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec = (long)(ns % 1000000000ull);
    while (!bg.stopping && pthread_cond_timedwait(&wake, &lock, &ts) == 0) {
        /* a wake for damage seen: the rest goes on */
    }
    return !bg.stopping;
}

/* One check, table by table. Under lock on entry and return. */
static void check_once(void)
{
    known.checking = true;
    seen_done = seen;
    pthread_mutex_unlock(&lock);
    uint64_t t0 = ad_mono_ns();
    sqlite3 *db = NULL;
    char err[512] = "";
    tables_t t = {0};
    int e = open_conn(bg.path, &db, err, sizeof(err));
    pthread_mutex_lock(&lock);
    bg.db = bg.stopping ? NULL : db;
    bool stopped = bg.stopping; /* before bg.db was there to interrupt */
    pthread_mutex_unlock(&lock);
    if (e == 0 && !stopped) {
        e = list_tables(db, &t, err, sizeof(err));
    }
    char names[sizeof(known.tables)] = "";
    int nbad = 0;
    for (size_t i = 0; e == 0 && i < t.n && !stopped; i++) {
        uint64_t s0 = ad_mono_ns();
        char problem[512];
        if (check_table(db, t.names[i], problem, sizeof(problem)) != 0) {
            stopped = true;
            break;
        }
        if (problem[0] != '\0') {
            size_t len = strlen(names);
            snprintf(names + len, sizeof(names) - len, "%s%s", nbad > 0 ? ", " : "", t.names[i]);
            nbad++;
            ad_log(AD_LOG_ERROR, "store", "page check: table %s is damaged: %s", t.names[i],
                   problem);
        }
        uint64_t took = (ad_mono_ns() - s0) / 1000000;
        pthread_mutex_lock(&lock);
        stopped = !rest(took < 1 ? 1 : took > REST_MAX_MS ? REST_MAX_MS : took);
        pthread_mutex_unlock(&lock);
    }
    if (e == AD_ECORRUPT) { /* the schema itself */
        snprintf(names, sizeof(names), "sqlite_schema");
        nbad = 1;
        ad_log(AD_LOG_ERROR, "store", "page check: %s", err);
    } else if (e != 0) { /* stopping, or it could not run (no verdict) */
        if (e != AD_EINTERNAL) {
            ad_log(AD_LOG_WARN, "store", "page check: not run: %s", err);
        }
        stopped = true;
    }
    free(t.names);
    pthread_mutex_lock(&lock);
    bg.db = NULL;
    pthread_mutex_unlock(&lock);
    sqlite3_close_v2(db);
    pthread_mutex_lock(&lock);
    known.checking = false;
    if (!stopped) {
        known.checked = true;
        known.checked_at_ms = ad_wall_ms();
        known.ntables = nbad;
        snprintf(known.tables, sizeof(known.tables), "%s", names);
        ad_log(nbad > 0 ? AD_LOG_ERROR : AD_LOG_INFO, "store",
               "page check done tables=%zu damaged=%d ms=%llu", t.n, nbad,
               (unsigned long long)((ad_mono_ns() - t0) / 1000000));
    }
}

static void *check_main(void *arg)
{
    (void)arg;
    lower_priority();
    pthread_mutex_lock(&lock);
    while (!bg.stopping) {
        check_once();
        /* again when a read met damage the last check did not see */
        while (!bg.stopping && seen == seen_done) {
            pthread_cond_wait(&wake, &lock);
        }
        if (!bg.stopping) {
            rest(CHECK_AGAIN_MS);
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void ad_store_check_start(ad_store_t *st)
{
    if (st->url != NULL || bg.started) {
        return;
    }
    pthread_mutex_lock(&lock);
    memset(&known, 0, sizeof(known));
    seen = seen_done = 0;
    bg.stopping = false;
    pthread_mutex_unlock(&lock);
    bg.path = ad_xstrdup(st->path);
    bg.started = pthread_create(&bg.thread, NULL, check_main, NULL) == 0;
    if (!bg.started) {
        ad_log(AD_LOG_WARN, "store", "page check: cannot start its thread");
        free(bg.path);
        bg.path = NULL;
    }
}

void ad_store_check_stop(ad_store_t *st)
{
    (void)st;
    if (!bg.started) {
        return;
    }
    pthread_mutex_lock(&lock);
    bg.stopping = true;
    if (bg.db != NULL) {
        sqlite3_interrupt(bg.db);
    }
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(bg.thread, NULL);
    bg.started = false;
    free(bg.path);
    bg.path = NULL;
}

/* ---- existing databases: the reserved bytes ------------------------------------------- */

int ad_store_pages_summed(ad_db_t *adb, const char *path, char *err, size_t errsz)
{
    sqlite3 *db = ad_db_sqlite(adb);
    int have = -1;
    if (ad_cksum_vfs() == NULL ||
        sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &have) != SQLITE_OK ||
        have == AD_CKSUM_RESERVE) {
        return 0;
    }
    /* A database from before (or a new one): every page rewritten with room
     * for its sum. VACUUM needs as much free disk as the database. */
    uint64_t t0 = ad_mono_ns();
    int want = AD_CKSUM_RESERVE;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &want);
    int e = ad_store_exec_raw(adb, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)", err, errsz, path,
                              "giving each page its checksum (VACUUM)");
    if (e != 0) {
        return e;
    }
    sqlite3_int64 pages = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        pages = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    ad_log(AD_LOG_INFO, "store", "pages now carry checksums path=%s pages=%lld ms=%llu", path,
           (long long)pages, (unsigned long long)((ad_mono_ns() - t0) / 1000000));
    return 0;
}

int ad_store_sqlite_resum(const char *data_dir, char *err, size_t errsz)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof(path), "%s/agentd.db", data_dir) >= sizeof(path)) {
        snprintf(err, errsz, "data dir path too long");
        return AD_EINVAL;
    }
    if (access(path, F_OK) != 0) {
        snprintf(err, errsz, "no database at %s", path);
        return AD_ENOENT;
    }
    ad_pidlock_t pl = {.fd = -1};
    char lerr[512];
    int e = ad_pidlock_acquire(&pl, data_dir, lerr, sizeof(lerr));
    if (e != 0) {
        snprintf(err, errsz, "%s%s", lerr,
                 e == AD_EBUSY ? ": stop agentd first, then run `agentd db resum` again" : "");
        return e;
    }
    ad_cksum_set_verify(false);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, ad_cksum_vfs());
    int want = AD_CKSUM_RESERVE;
    if (rc == SQLITE_OK) {
        sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &want);
        rc = sqlite3_exec(db, "VACUUM; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errsz, "cannot sum the pages of %s again: %s", path,
                 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        e = AD_EIO;
    }
    sqlite3_close(db);
    ad_cksum_set_verify(true);
    ad_pidlock_release(&pl);
    return e;
}
