/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store (and its unit tests): the engine's own parts. The
 * store handle and its writer, the event log, the page checksums, the
 * embedded migrations (generated from src/store/migrations/NNNN_name.sql
 * by scripts/migrations.mk) with their runner, and PostgreSQL's
 * translation. What the table families use of the engine is
 * store/table.h, which this includes.
 */
#ifndef AD_STORE_INT_H
#define AD_STORE_INT_H

#include <stddef.h>
#include <uv.h>

#include "store/table.h"

/* ---- the store (open.c; the writer's part in writer.c) ----------------------- */
struct ad_store_job; /* a queued job (writer.c) */

struct ad_store {
    uv_loop_t *loop;
    char *path;
    char *url; /* PostgreSQL's (never logged: it may hold a password), or NULL */
    bool durability_full;
    int busy_ms;
    ad_db_t *wdb;          /* writer thread only */
    ad_store_tx_t tx;      /* {wdb}: what jobs are given */
    ad_db_t *rdb;          /* loop thread only */
    uint64_t rdb_tried_ns; /* loop thread: the last time a lost rdb was connected again */
    uv_thread_t thread;
    bool thread_started;
    uv_async_t async;
    /* The writer is woken once per loop iteration, not once per job: jobs
     * submitted while the loop handles a round of I/O go in one group.
     * check runs right after the I/O callbacks, prepare right before the
     * loop blocks (for jobs submitted by timers and other callbacks). */
    uv_check_t wake_check;
    uv_prepare_t wake_prepare;
    bool wake_pending; /* loop thread only */
    int open_handles;  /* loop thread only: handles not yet closed */
    uv_mutex_t lock;
    uv_cond_t cond;
    /* under lock: */
    struct ad_store_job *queue_head, *queue_tail;
    size_t queued;
    size_t queued_bytes; /* the queued jobs' sizes as submitted */
    bool down_group;     /* a group waits for PostgreSQL to come back */
    /* writer thread only: the group's transaction on PostgreSQL (its id and
     * session), and whether its COMMIT's answer was lost with the connection */
    int64_t group_xid;
    int group_pid;
    bool commit_unknown;
    struct ad_store_job *done_head, *done_tail;
    bool stopping;
    ad_store_stats_t stats;
    /* loop thread only: jobs submitted and not yet completed. While there
     * are any, the async handle is referenced so the loop waits for them. */
    size_t outstanding;
    /* The event log once events.c attached it (borrowed: it outlives the
     * store for late reads); ad_store_close() syncs it. */
    struct ad_evlog *evlog;
};

/* writer.c: sets up the writer's handles and starts its thread; stops it
 * (every queued job runs) and delivers the last completions; closes its
 * handles, calling on_closed for each of the three. Loop thread. */
void ad_store_writer_start(ad_store_t *st);
void ad_store_writer_stop(ad_store_t *st);
void ad_store_writer_close(ad_store_t *st, uv_close_cb on_closed);
/* read.c: closes key's idle read connections (the file's path, or the URL);
 * a read queued before closes its own after it. ad_store_close(). */
void ad_store_pool_drop(const char *key);

/* ---- the event log (evlog.c) -------------------------------------------------
 * The bus's events on disk: append-only segment files in one folder, each
 * named by the seq of its first record, retired whole by retention. Adds,
 * commits, syncs and trims come from one thread at a time (the writer once
 * the daemon runs; the loop before it starts); reads and bounds from any
 * thread. Records are checked (CRC32C) on read and at open: a damaged
 * record is skipped on its own (readers resynchronise on the next whole
 * record), opening rewrites the newest segment without its damaged records
 * (keeping the damaged file aside as <segment>.corrupt-<ms>, at most 4 such
 * copies) and cuts a torn tail (an incomplete last record) off it.
 */
typedef struct ad_evlog ad_evlog_t;
typedef struct {
    uint64_t seq;
    int64_t ts_ms;
    const char *type; /* each of the three is NUL-terminated when read back */
    size_t type_len;
    const char *topics;
    size_t topics_len;
    const char *payload;
    size_t payload_len;
} ad_evlog_rec_t;
#define AD_EVLOG_REC_HDR 32
#define AD_EVLOG_TYPE_MAX 4096
#define AD_EVLOG_TOPICS_MAX (1u << 20)
#define AD_EVLOG_PAYLOAD_MAX (32u << 20)
#define AD_EVLOG_REC_MAX                                                                           \
    (AD_EVLOG_REC_HDR + AD_EVLOG_TYPE_MAX + AD_EVLOG_TOPICS_MAX + AD_EVLOG_PAYLOAD_MAX + 3)

/* Opens the log in dir (created 0700), closing segments at about
 * seg_bytes; sync_each makes every commit durable against power loss
 * (fdatasync), else segments are synced as they fill and at
 * ad_evlog_sync(). AD_ESTATE for a log of a later version, AD_ECORRUPT for
 * a file there that is not a segment, with a message in err. Returns owned:
 * free with ad_evlog_free() once no read runs. */
int ad_evlog_open(const char *dir, uint64_t seg_bytes, bool sync_each, ad_evlog_t **out, char *err,
                  size_t errsz);
void ad_evlog_free(ad_evlog_t *log);
/* Adds a record (borrowed: copied or written before it returns); seqs must
 * grow, and one at or below the last added is skipped as stored already, so
 * a batch may be added again after a failure. Nothing is visible to readers
 * before ad_evlog_commit(). AD_ETOOBIG for a record over the limits (the
 * log takes the next ones as if it were not there); AD_EIO or AD_EFULL,
 * after which only a commit (which rolls back) helps. */
int ad_evlog_add(ad_evlog_t *log, const ad_evlog_rec_t *r);
/* Writes out what was added and publishes it to readers: 0, or AD_EIO /
 * AD_EFULL with everything added since the last commit gone (a segment
 * filled meanwhile stays committed). */
int ad_evlog_commit(ad_evlog_t *log);
/* Syncs the newest segment and closes it (a later add opens it again). */
void ad_evlog_sync(ad_evlog_t *log);
/* Retention: deletes the oldest segments while the segments hold more than
 * max_bytes (0: no bound; the newest segment with records stays) or while
 * their last record was written before min_ts_ms (0: no bound), a bounded
 * number a call, logging each (which file, its seqs, its bytes, the bound).
 * Seqs play no part: the numbers a crash skipped take no bytes. *oldest
 * gets the first seq left (0 for none), *bytes what the segments hold now.
 * 0 or AD_EIO (a file that would not go; it is forgotten all the same). */
int ad_evlog_trim(ad_evlog_t *log, uint64_t max_bytes, int64_t min_ts_ms, uint64_t *oldest,
                  uint64_t *bytes);
/* Calls cb with up to limit committed records with after < seq <= upto, in
 * seq order, until cb returns non-zero (negative: the record was not
 * taken, and a read after the one before it starts there at once); the
 * record's strings live for the call. A record that fails its check is skipped (logged, "corrupt
 * record at offset N") and the read goes on at the next whole record: its seq is simply missing.
 * Returns 0. */
typedef int (*ad_evlog_row_cb)(const ad_evlog_rec_t *r, void *arg);
int ad_evlog_read(ad_evlog_t *log, uint64_t after, uint64_t upto, size_t limit, ad_evlog_row_cb cb,
                  void *arg);
/* The first seq kept, the last committed one (0 for none) and the bytes of
 * every segment (bytes may be NULL). */
void ad_evlog_bounds(ad_evlog_t *log, uint64_t *oldest, uint64_t *newest, uint64_t *bytes);
/* The record at data[0..n): its length with *r pointing into data, 0 when
 * data holds less than all of it (*need, if not NULL, is then the length to
 * have, once the header is there), AD_ECORRUPT when it cannot be one. With
 * check_crc, its CRC is checked too. Pure: any thread (and the fuzzer). */
int64_t ad_evlog_parse(const void *data, size_t n, bool check_crc, ad_evlog_rec_t *r, size_t *need);

#ifdef AD_TEST_BUILD
/* testhooks.c: test-build behaviour switched on by AGENTD_TEST_* variables
 * when the store opens. 0 or an error with a message in err. */
int ad_store_test_hooks(ad_store_t *st, char *err, size_t errsz);
#endif

/* ---- page checksums (cksum.c, issue #78) ------------------------------------ */
/* The bytes a page reserves for its sum: a database whose header says so
 * is summed on write and checked on read. */
#define AD_CKSUM_RESERVE 8
/* The checksumming VFS's name for sqlite3_open_v2 (registered on the first
 * call), or NULL when it could not be (then the default VFS). Any thread. */
const char *ad_cksum_vfs(void);
/* A page's sum: its first len bytes and its number. */
uint64_t ad_cksum_page_sum(const unsigned char *page, size_t len, uint32_t pgno);
/* Pages that failed their check since the process started, and the last
 * one's number in *last_page (may be NULL). Any thread. */
uint64_t ad_cksum_bad(uint32_t *last_page);
/* Whether reads check the sums (default on; off only for agentd db resum,
 * which writes every page again). Any thread. */
void ad_cksum_set_verify(bool on);
/* dbcheck.c: gives a database without the reserved bytes its sums (VACUUM
 * on open; a database from before); starts and stops the background page
 * check (SQLite only). Loop thread. */
int ad_store_pages_summed(ad_db_t *db, const char *path, char *err, size_t errsz);
void ad_store_check_start(ad_store_t *st);
void ad_store_check_stop(ad_store_t *st);

typedef struct {
    int version;      /* the number the file name starts with */
    const char *name; /* file name, e.g. "0001_init.sql" */
    const char *sql;  /* its text; NULL in the embedded list: ad_store_migration_sql */
    const char *sum;  /* its checksum (SHA-256, hex); NULL: made from sql */
} ad_migration_t;

/* Generated: every migration file, by ascending version, with its
 * checksum (their texts and the schema they make: embedded.c). */
extern const ad_migration_t ad_migrations[];
extern const size_t ad_migrations_count;

/* embedded.c. m's text: its own, or the embedded one of its version (all
 * inflated at the first call, kept for the process); its checksum, its own
 * or made from that text; the schema's text (the caller frees it). NULL or
 * AD_ENOMEM with err when there is no text (no zlib, no memory, no such
 * version). Any thread. */
const char *ad_store_migration_sql(const ad_migration_t *m, char *err, size_t errsz);
int ad_store_migration_sum(const ad_migration_t *m, char out[65], char *err, size_t errsz);
char *ad_store_schema_sql(char *err, size_t errsz);

/* Applies every migration of list (ascending versions) not yet recorded in
 * schema_migrations, all in one transaction (every one, or none); a fresh
 * SQLite database given the whole of ad_migrations runs the schema they
 * make instead, and records them all. Refuses with AD_ECORRUPT for a
 * checksum mismatch and AD_ESTATE for a recorded version the list does not
 * know, with a message naming the file in err. */
int ad_store_migrate(ad_db_t *db, const ad_migration_t *list, size_t n, const char *path, char *err,
                     size_t errsz);
/* Hex SHA-256 of the migration text. out holds 65 bytes. */
void ad_store_checksum(const char *sql, char out[65]);

/* ---- PostgreSQL (pgsql.c: the migrations' text; pg.c: libpq) ---------------- */
/* Functions SQLite has that the migrations call, made in PostgreSQL before
 * they run. */
extern const char ad_store_pg_prelude[];
/* Appends to out the PostgreSQL statements of migration name (its SQLite
 * text sql), each ending ";\n". err gets a message on failure (a trigger
 * with no PostgreSQL version in pgtrig.c, say). */
int ad_store_pg_translate(const char *name, const char *sql, ad_buf_t *out, char *err,
                          size_t errsz);
/* A statement of the store (SQLite's dialect, ?NNN or ? parameters) as
 * PostgreSQL runs it (db_pg.c prepares it): $N parameters, then the same
 * word rewrites as the migrations, one place per difference. *nparams gets
 * the highest parameter number. */
int ad_store_pg_statement(const char *sql, size_t n, ad_buf_t *out, int *nparams);
/* A migration's trigger as PostgreSQL runs it (pgtrig.c): the function
 * agentd_<name>() with body, fired FOR EACH ROW on event when when. */
typedef struct {
    const char *migration; /* "0800_run_stats.sql" */
    const char *name;
    const char *table;
    const char *event; /* "AFTER INSERT ON runs" */
    const char *when;  /* "WHEN (...)" or "" */
    const char *body;  /* PL/pgSQL statements */
} ad_store_pg_trigger_t;
/* The trigger name of migration (NULL: of any migration), or NULL. */
const ad_store_pg_trigger_t *ad_store_pg_trigger(const char *migration, const char *name);
/* Appends t's CREATE FUNCTION and CREATE TRIGGER. */
int ad_store_pg_trigger_sql(const ad_store_pg_trigger_t *t, ad_buf_t *out);

#endif
