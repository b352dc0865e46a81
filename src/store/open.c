/* SPDX-License-Identifier: MIT */
/*
 * Opening and closing the store: connections with the daemon's pragmas
 * (WAL, foreign keys, synchronous), the checks that refuse a damaged or
 * foreign file, migrations (migrate.c), then the writer (writer.c). The
 * typed functions of each table family live in their own files.
 */
#include "store/pq.h"
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ad_store_conn_open(const char *path, bool writer, bool full, int busy_ms, ad_db_t **out,
                       char *err, size_t errsz)
{
    sqlite3 *sq = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    /* every page summed and checked (cksum.c) */
    int rc = sqlite3_open_v2(path, &sq, flags, ad_cksum_vfs());
    if (rc != SQLITE_OK) {
        int e = ad_store_rc(NULL, rc);
        snprintf(err, errsz, "cannot open database %s: %s", path,
                 sq != NULL ? sqlite3_errmsg(sq) : sqlite3_errstr(rc));
        sqlite3_close_v2(sq);
        return e != 0 ? e : AD_EIO;
    }
    sqlite3_extended_result_codes(sq, 1);
    sqlite3_busy_timeout(sq, busy_ms);
    ad_db_t *db = ad_db_wrap_sqlite(sq);
    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY;%s",
             full ? "FULL" : "NORMAL", writer ? "" : " PRAGMA query_only=ON;");
    int e = 0;
    if (writer) {
        /* journal_mode reads the header: the first place a non-database or
         * corrupt file shows. Read the mode back: it must be WAL. */
        ad_db_stmt_t *s = NULL;
        rc = ad_db_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc == AD_DB_OK) {
            rc = ad_db_step(s);
        }
        if (rc == AD_DB_ROW) {
            const char *mode = (const char *)ad_db_column_text(s, 0);
            if (mode == NULL || strcmp(mode, "wal") != 0) {
                snprintf(err, errsz, "database %s: cannot use WAL journal (mode %s)", path,
                         mode != NULL ? mode : "?");
                e = AD_EIO;
            }
        } else {
            e = ad_store_rc(db, ad_db_extended_errcode(db));
            if (e == AD_ECORRUPT) {
                snprintf(err, errsz,
                         "database %s is corrupt (%s); refusing to run: restore it "
                         "from a backup, move it away, or `agentd db repair`",
                         path, ad_db_errmsg(db));
            } else {
                snprintf(err, errsz, "database %s: %s", path, ad_db_errmsg(db));
            }
            if (e == 0) {
                e = AD_EIO;
            }
        }
        ad_db_finalize(s);
    }
    if (e == 0) {
        e = ad_store_exec_raw(db, pragmas, err, errsz, path, "setting pragmas");
    }
    if (e != 0) {
        ad_store_conn_close(db);
        return e;
    }
    *out = db;
    return 0;
}

/* Reads the schema: a file that is not a database, or whose first page is
 * damaged, fails here. With whole set (an unclean shutdown, a WAL file left
 * behind, in another boot: below) the whole file is checked too (PRAGMA
 * quick_check, linear in its size), so that a damaged database is refused
 * before anything is written to it. */
static int check_db(ad_db_t *db, const char *path, bool whole, char *err, size_t errsz)
{
    int e = ad_store_exec_raw(db, "SELECT count(*) FROM sqlite_schema", err, errsz, path,
                              "reading the schema");
    if (e != 0 || !whole) {
        return e;
    }
    uint64_t t0 = ad_mono_ns();
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL);
    if (rc == AD_DB_OK) {
        rc = ad_db_step(s);
    }
    if (rc == AD_DB_ROW) {
        const char *res = (const char *)ad_db_column_text(s, 0);
        if (res == NULL || strcmp(res, "ok") != 0) {
            snprintf(err, errsz,
                     "database %s is corrupt (%s); refusing to run: restore it from "
                     "a backup, move it away, or `agentd db repair`",
                     path, res != NULL ? res : "?");
            e = AD_ECORRUPT;
        }
    } else {
        e = ad_store_rc(db, ad_db_extended_errcode(db));
        if (e == 0) {
            e = AD_EINTERNAL;
        }
        snprintf(err, errsz,
                 "database %s is corrupt (%s); refusing to run: restore it from a "
                 "backup, move it away, or `agentd db repair`",
                 path, ad_db_errmsg(db));
        if (e != AD_ECORRUPT && e != AD_EIO && e != AD_ENOMEM) {
            e = AD_ECORRUPT;
        }
    }
    ad_db_finalize(s);
    if (e == 0) {
        ad_log(AD_LOG_INFO, "store", "checked after unclean shutdown path=%s ms=%llu", path,
               (unsigned long long)((ad_mono_ns() - t0) / 1000000));
    }
    return e;
}

/* ---- the boot the database was last opened in ----------------------------------------
 * A process that dies (kill -9, a crash, the OOM killer) cannot damage a WAL
 * database: SQLite's commit is atomic against that, and the next open rolls
 * the WAL forward. What can is the machine going down under it (power, a
 * kernel crash, the disk). So the whole-file check after an unclean stop
 * runs only when the machine booted since the database was last opened:
 * that check reads every page (19 s for 1.5 GB here), and a restart after a
 * crash of agentd alone should take up its agents at once (bench F1, F2).
 * <path>-boot holds the kernel's boot id of the last open; a missing or
 * unreadable one (an older agentd's data dir) counts as a reboot. */

#define BOOT_ID_MAX 64

/* The first line of path (at most BOOT_ID_MAX - 1 bytes) in out, or "". */
static void read_line(const char *path, char out[BOOT_ID_MAX])
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return;
    }
    ssize_t n = read(fd, out, BOOT_ID_MAX - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
}

/* Keeps boot as <path>-boot (a failure is logged: the next unclean start
 * then checks the whole file, which is safe). */
static void write_boot(const char *path, const char *boot)
{
    char mark[4200];
    snprintf(mark, sizeof(mark), "%s-boot", path);
    int fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(boot);
    bool ok = fd >= 0 && write(fd, boot, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    int e = errno;
    if (fd >= 0 && close(fd) != 0) {
        ok = false;
    }
    if (!ok) {
        ad_log(AD_LOG_WARN, "store", "cannot keep the boot id path=%s err=\"%s\"", mark,
               strerror(e));
    }
}

/* ---- life cycle --------------------------------------------------------------------- */

int ad_store_conn_open_st(const ad_store_t *st, bool writer, ad_db_t **out, char *err, size_t errsz)
{
    if (st->url != NULL) {
        return ad_db_pg_open(st->url, out, err, errsz);
    }
    return ad_store_conn_open(st->path, writer, st->durability_full, st->busy_ms, out, err, errsz);
}

static void store_free(ad_store_t *st)
{
    free(st->url);
    free(st->path);
    free(st);
}

/* PostgreSQL (issue #39): the writer's connection migrates under the
 * advisory lock (two control planes starting at once apply the
 * migrations once), then a second connection is the loop's reader. What
 * SQLite's open checks (the file's header, WAL, quick_check after an
 * unclean stop) is the server's business there. */
static int open_pg(ad_store_t *st, ad_store_t **out, char *err, size_t errsz)
{
    st->busy_ms = 5000;
    int e = ad_db_pg_open(st->url, &st->wdb, err, errsz);
    if (e == 0) {
        ad_store_pg_migrated_t m;
        e = ad_store_pg_migrate_conn(ad_db_pg_conn(st->wdb), &m, err, errsz);
        if (e == 0 && m.applied > 0) {
            ad_log(AD_LOG_INFO, "store", "PostgreSQL migrated applied=%d known=%d", m.applied,
                   m.known);
        }
    }
    if (e == 0) {
        e = ad_db_pg_open(st->url, &st->rdb, err, errsz);
    }
    if (e != 0) {
        ad_store_conn_close(st->rdb);
        ad_store_conn_close(st->wdb);
        store_free(st);
        return e;
    }
    st->tx.db = st->wdb;
    ad_store_writer_start(st);
    ad_log(AD_LOG_INFO, "store", "opened backend=postgres");
    *out = st;
    return 0;
}

int ad_store_open(uv_loop_t *loop, const ad_store_opts_t *opts, ad_store_t **out, char *err,
                  size_t errsz)
{
    /* Memory statistics cost a global mutex per allocation; nothing reads
     * them. Only possible before SQLite initializes: later calls are
     * refused, harmlessly. */
    static bool configured;
    if (!configured) {
        configured = true;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    }
    ad_store_t *st = ad_xcalloc(1, sizeof(*st));
    st->loop = loop;
    st->path = ad_xstrdup(opts->path);
    if (opts->database_url != NULL && opts->database_url[0] != '\0') {
        st->url = ad_xstrdup(opts->database_url);
        return open_pg(st, out, err, errsz);
    }
    st->durability_full = opts->durability_full;
    st->busy_ms = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    /* A WAL left behind means the last run did not close the database. */
    char wal[4200];
    struct stat sb;
    snprintf(wal, sizeof(wal), "%s-wal", st->path);
    bool unclean = stat(wal, &sb) == 0 && sb.st_size > 0;
    char boot[BOOT_ID_MAX], last[BOOT_ID_MAX], mark[4200];
    if (opts->boot_id != NULL) {
        snprintf(boot, sizeof(boot), "%s", opts->boot_id);
    } else {
        read_line("/proc/sys/kernel/random/boot_id", boot);
    }
    snprintf(mark, sizeof(mark), "%s-boot", st->path);
    read_line(mark, last);
    bool rebooted = boot[0] == '\0' || strcmp(boot, last) != 0;
    int e =
        ad_store_conn_open(st->path, true, st->durability_full, st->busy_ms, &st->wdb, err, errsz);
    if (e == 0) {
        e = check_db(st->wdb, st->path, unclean && rebooted, err, errsz);
    }
    if (e == 0 && unclean && !rebooted) {
        ad_log(AD_LOG_INFO, "store",
               "unclean stop in this boot: the file is not read through (a process's end cannot "
               "damage it) path=%s",
               st->path);
    }
    if (e == 0 && boot[0] != '\0' && strcmp(boot, last) != 0) {
        write_boot(st->path, boot);
    }
    if (e == 0) {
        e = ad_store_pages_summed(st->wdb, st->path, err, errsz);
    }
    if (e == 0) {
        e = ad_store_migrate(st->wdb, ad_migrations, ad_migrations_count, st->path, err, errsz);
    }
    if (e == 0) {
        /* The pages the migrations wrote (every table of a new data dir:
         * 0.6 MiB) are not what the daemon reads next: the writer's cache
         * gives them back and fills with what it is asked for. */
        sqlite3_db_release_memory(ad_db_sqlite(st->wdb));
    }
    if (e == 0) {
        e = ad_store_conn_open(st->path, false, st->durability_full, st->busy_ms, &st->rdb, err,
                               errsz);
    }
#ifdef AD_TEST_BUILD
    if (e == 0) {
        e = ad_store_test_hooks(st, err, errsz);
    }
#endif
    if (e != 0) {
        ad_store_conn_close(st->rdb);
        ad_store_conn_close(st->wdb);
        free(st->path);
        free(st);
        return e;
    }
    st->tx.db = st->wdb;
    ad_store_writer_start(st);
    ad_store_check_start(st); /* the pages read through, at low priority */
    ad_log(AD_LOG_INFO, "store", "opened path=%s synchronous=%s", st->path,
           st->durability_full ? "full" : "normal");
    *out = st;
    return 0;
}

int ad_store_open_cfg(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t **out, char *err,
                      size_t errsz)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof(path), "%s/agentd.db", cfg->data_dir) >= sizeof(path)) {
        snprintf(err, errsz, "data dir path too long");
        return AD_EINVAL;
    }
    ad_store_opts_t o = {
        .path = path, .durability_full = cfg->durability_full, .database_url = cfg->database_url};
    return ad_store_open(loop, &o, out, err, errsz);
}

static void on_closed(uv_handle_t *h)
{
    ad_store_t *st = h->data;
    if (--st->open_handles > 0) {
        return;
    }
    uv_mutex_destroy(&st->lock);
    uv_cond_destroy(&st->cond);
    store_free(st);
}

void ad_store_close(ad_store_t *st)
{
    if (st == NULL) {
        return;
    }
    ad_store_check_stop(st);
    ad_store_writer_stop(st);
    if (st->evlog != NULL) {
        ad_evlog_sync(st->evlog); /* the writer has stopped: its side is ours */
    }
    ad_store_pool_drop(st->url != NULL ? st->url : st->path);
    ad_store_conn_close(st->rdb);
    /* A clean close checkpoints and removes the WAL. */
    ad_store_conn_close(st->wdb);
    st->rdb = st->wdb = NULL;
    ad_log(AD_LOG_INFO, "store", "closed jobs=%llu groups=%llu", (unsigned long long)st->stats.jobs,
           (unsigned long long)st->stats.groups);
    ad_store_writer_close(st, on_closed);
}

const char *ad_store_path(const ad_store_t *st)
{
    return st->path;
}

const char *ad_store_backend(const ad_store_t *st)
{
    return st->url != NULL ? "postgres" : "sqlite";
}

const double ad_store_commit_bounds[AD_STORE_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2};

void ad_store_stats(ad_store_t *st, ad_store_stats_t *out)
{
    uv_mutex_lock(&st->lock);
    *out = st->stats;
    uv_mutex_unlock(&st->lock);
    out->queued = st->outstanding;
    uv_mutex_lock(&st->lock);
    out->waiting = st->queued;
    out->waiting_bytes = st->queued_bytes;
    uv_mutex_unlock(&st->lock);
    out->event_log_bytes = 0;
    if (st->evlog != NULL) {
        uint64_t oldest, newest;
        ad_evlog_bounds(st->evlog, &oldest, &newest, &out->event_log_bytes);
    }
}

void ad_store_db(ad_store_t *st, ad_store_db_t *out)
{
    memset(out, 0, sizeof(*out));
    out->backend = ad_store_backend(st);
    out->up = true;
    out->rtt_sec = -1;
    ad_store_pool_counts(&out->pool_idle, &out->pool_busy);
    if (st->url == NULL) {
        out->conns = 2;
        return;
    }
    ad_db_pg_state_t s;
    ad_db_pg_state(&s);
    out->up = !s.down;
    snprintf(out->reason, sizeof(out->reason), "%s", s.down ? s.reason : "");
    out->down_since_ms = s.down_since_ms;
    out->errors = s.errors;
    out->reconnects = s.reconnects;
    out->outages = s.outages;
    out->rtt_sec = s.rtt_sec;
    out->conns = 2;
}

bool ad_store_db_down(const ad_store_t *st, char *reason, size_t n)
{
    if (st == NULL || st->url == NULL) {
        return false;
    }
    ad_db_pg_state_t s;
    ad_db_pg_state(&s);
    if (s.down && reason != NULL && n > 0) {
        snprintf(reason, n, "%s", s.reason);
    }
    return s.down;
}
