/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store (and its unit tests): the database side that store.h
 * hides (over db.h's statement layer: SQLite or PostgreSQL). The transaction jobs run in, the
 * statement cache and error mapping, the read connections, row-to-JSON helpers, and the embedded
 * migrations (generated from src/store/migrations/NNNN_name.sql by
 * scripts/migrations.mk) with their runner.
 */
#ifndef AD_STORE_INT_H
#define AD_STORE_INT_H

#include "store/db.h"
#include <stddef.h>
#include <uv.h>

#include "store/store.h"
#include "tsdb/tsdb.h"

/* What a job's ad_store_tx_t is: the writer's connection, inside the
 * group's transaction. */
struct ad_store_tx {
    ad_db_t *db;
};

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

/* Typed writes (writer.c): in[0..insz) is copied into the job; fn runs on
 * the writer with the copy (and may run twice, see ad_store_job_fn), then
 * cleanup(copy) (may be NULL) and cb(rc, result, ud) on the loop. */
typedef int (*ad_store_typed_fn)(ad_store_tx_t *tx, const void *in, json_t **result);
void ad_store_typed_write(ad_store_t *st, ad_store_typed_fn fn, const void *in, size_t insz,
                          void (*cleanup)(void *in), ad_store_result_cb cb, void *ud);

/* seriesroll.c (migration 2740): puts chunk row seq's rollup into its
 * rollup row (row seq / AD_ROLL_BLOCK, read, changed and written back;
 * nothing for an empty rollup), writer thread; the segments of a rollup
 * row's blob (pointing into it) in seq order, how many, or -1 for a blob
 * that is not one; and the job chain that builds the rows of series stored
 * before 2740, started by ad_store_open once the writer runs (loop thread;
 * nothing queued when no series waits). */
#define AD_ROLL_BLOCK 6
typedef struct {
    int64_t seq;
    const uint8_t *data;
    size_t len;
} ad_roll_seg_t;
int ad_store_roll_put(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                      const tsdb_rolls_t *r);
int ad_store_roll_segs(const void *blob, size_t len, int64_t blk, ad_roll_seg_t *out);
void ad_store_rolls_start(ad_store_t *st);
/* The chunk tier (migration 2840): row seq / AD_SUM_BLOCK of metric_sums
 * holds each chunk's total (tsdb_totals_encode, the place in the row
 * seq % AD_SUM_BLOCK), put by ad_store_roll_put with the chunk's rollup.
 * ad_store_rolls_start also starts the job that builds the rows of series
 * rolled before 2840 (summed = 0). */
#define AD_SUM_BLOCK 32

/* settings.c: whether value (as a settings row stores it, of type string,
 * number, boolean or json) is one agentd's rules take for key; a key
 * agentd does not know passes (nothing takes it). Any thread. */
bool ad_store_setting_ok(const char *key, const char *type, const char *value);

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

/* ---- statements and errors (stmt.c) -------------------------------------------
 * One cache of prepared statements per connection, keyed by the address of
 * the SQL text: pass string literals only (never text built at run time).
 * The statement comes back reset with its bindings cleared; reset it
 * (ad_db_reset) when done so a read does not hold its snapshot. NULL on a
 * prepare error (logged). Use it on the thread that owns db.
 */
ad_db_stmt_t *ad_store_stmt(ad_db_t *db, const char *sql);
/* A SQLite connection as the layer's (owned: closed by ad_store_conn_close,
 * which finalizes its cached statements and closes it, either backend). */
ad_db_t *ad_db_wrap_sqlite(sqlite3 *sq);
/* Frees a wrapper (its cached statements too) and hands the SQLite
 * connection back, open. */
sqlite3 *ad_db_unwrap(ad_db_t *db);
void ad_store_conn_close(ad_db_t *db);
/* Translates a SQLite result code (extended codes understood) into an AD_E*
 * code, logging the library's message for unexpected ones:
 * NOTFOUND-like AD_DB_DONE is not an error (returns 0);
 * UNIQUE/PRIMARY KEY -> AD_EEXIST, CHECK/FOREIGN KEY/NOT NULL ->
 * AD_ECONSTRAINT, FULL -> AD_EFULL, BUSY/LOCKED -> AD_EBUSY, CORRUPT/NOTADB
 * -> AD_ECORRUPT, IOERR -> AD_EIO, NOMEM -> AD_ENOMEM, PostgreSQL's
 * AD_DB_UNAVAIL -> AD_EUNAVAIL, else AD_EINTERNAL. */
int ad_store_rc(ad_db_t *db, int rc);
/* Runs a one-statement write through the cache: binds nothing. */
int ad_store_exec(ad_db_t *db, const char *sql);

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

/* ---- connections (open.c, read.c) -------------------------------------------- */
/* Opens one connection with the daemon's pragmas (writer: creates the file,
 * WAL; else query_only), registered with a statement cache. */
int ad_store_conn_open(const char *path, bool writer, bool full, int busy_ms, ad_db_t **out,
                       char *err, size_t errsz);
/* Runs sql (no parameters, may be several statements) with sqlite3_exec,
 * with a message naming path and what in err on failure. */
int ad_store_exec_raw(ad_db_t *db, const char *sql, char *err, size_t errsz, const char *path,
                      const char *what);
/* A connection of the store's backend: the SQLite file (as
 * ad_store_conn_open) or a PostgreSQL connection to st->url. */
int ad_store_conn_open_st(const ad_store_t *st, bool writer, ad_db_t **out, char *err,
                          size_t errsz);
/* The read connection, for bounded indexed reads on the loop thread. */
ad_db_t *ad_store_rdb(ad_store_t *st);
/* PostgreSQL's idle pool: connections waiting and out on a read. Any thread. */
void ad_store_pool_counts(size_t *idle, size_t *busy);
/* Heavier reads on the libuv thread pool, on a read connection of their own.
 * fn runs on a pool thread; done runs on the loop with fn's return code. */
typedef int (*ad_store_read_fn)(ad_db_t *db, void *ctx);
void ad_store_read_async(ad_store_t *st, ad_store_read_fn fn, ad_store_done_cb done, void *ctx);

/* ---- rows as JSON (stmt.c) -------------------------------------------------------
 * Turns the current row of stmt into a JSON object with camelCase keys:
 * snake_case columns become camelCase, columns ending in "_at" (integer
 * milliseconds) become RFC 3339 strings, "is_*" become booleans, columns
 * named in json_cols (comma-separated) are parsed JSON, and NULL columns are
 * left out unless named in null_cols (then they are JSON null). */
json_t *ad_store_row_json(ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols);
/* One column's value given as JSON text instead of the row's (col, json;
 * json NULL: none), and members appended at the end of the object (tail,
 * ",\"k\":v..." or NULL), for a caller that changes a row as it goes out. */
typedef struct {
    int col;
    const char *json;
    const char *tail;
} ad_store_row_over_t;
/* What ad_store_row_text writes for each column of a statement, worked out
 * once for all its rows: the key (camelCase, quoted, with its comma and
 * colon) and how the value is written. */
#define AD_ROW_PLAN_COLS 64
typedef struct {
    char key[72];
    size_t keylen;
    bool is_at, is_bool, is_json, keep_null;
} ad_store_row_col_t;
typedef struct {
    int n;
    ad_store_row_col_t col[AD_ROW_PLAN_COLS];
} ad_store_row_plan_t;
/* The plan of stmt's columns for json_cols and null_cols (as
 * ad_store_row_json takes them; a statement of more than AD_ROW_PLAN_COLS
 * columns is cut there). */
void ad_store_row_plan(ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols,
                       ad_store_row_plan_t *plan);
/* The current row of stmt as JSON text appended to out, byte for byte what
 * json_dumps(ad_store_row_json(stmt, json_cols, null_cols), JSON_COMPACT)
 * writes for the plan's json_cols and null_cols (with over's changes as
 * json_object_set would make them; over may be NULL), without a json_t for
 * any value. 0 or AD_ETOOBIG (out is then cut anywhere). Any thread that
 * owns stmt. */
int ad_store_row_text(ad_db_stmt_t *stmt, const ad_store_row_plan_t *plan,
                      const ad_store_row_over_t *over, ad_buf_t *out);
/* For the forms that keep a tree: after a text writer's rc, *out is b's JSON
 * text read back (AD_EINTERNAL if it does not read). b is cleaned up here. */
int ad_store_text_tree(int rc, ad_buf_t *b, json_t **out);
/* Reads on the thread owning db: the workspace (with setup columns) and,
 * when worktrees is not NULL, its worktree rows. */
int ad_store_git_workspace_read(ad_db_t *db, const char *id, json_t **ws, json_t **worktrees);

typedef struct {
    int version;      /* the number the file name starts with */
    const char *name; /* file name, e.g. "0001_init.sql" */
    const char *sql;
} ad_migration_t;

/* Generated: every migration file, by ascending version. */
extern const ad_migration_t ad_migrations[];
extern const size_t ad_migrations_count;
/* Generated (tools/schema.c): what every migration of ad_migrations makes,
 * as one SQL text for a fresh database (its tables, indexes and triggers,
 * then the rows the migrations insert), and how many migrations that is. */
extern const char ad_schema_sql[];
extern const size_t ad_schema_migrations;

/* Applies every migration of list (ascending versions) not yet recorded in
 * schema_migrations, all in one transaction (every one, or none); a fresh
 * SQLite database given the whole of ad_migrations runs ad_schema_sql
 * instead, and records them all. Refuses
 * with AD_ECORRUPT
 * for a checksum mismatch and AD_ESTATE for a recorded version the list does
 * not know, with a message naming the file in err. */
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

/* Binds text (NULL binds NULL) / a JSON value as text (NULL or json null
 * binds NULL). */
int ad_store_bind_text(ad_db_stmt_t *s, int idx, const char *v);
int ad_store_bind_json(ad_db_stmt_t *s, int idx, json_t *v);
/* r as the JSON text of agents.status_reason {code, text, at, ref}, or NULL
 * when r is NULL or has no code (status.c). */
int ad_store_bind_reason(ad_db_stmt_t *s, int idx, const ad_store_status_reason_t *r, int64_t at);
/* Steps a statement that returns no rows and resets it: 0 or the mapped
 * error. Any thread that owns db. */
int ad_store_step_done(ad_db_t *db, ad_db_stmt_t *s);
/* The workspace id of a worktree into out: 0, AD_ENOENT or a mapped error.
 * Any thread that owns db. */
int ad_store_workspace_of(ad_db_t *db, const char *worktree_id, char out[AD_ID_MAX]);

/* Helpers for ops reading args. */
const char *ad_args_str(json_t *args, const char *key);
int64_t ad_args_int(json_t *args, const char *key, int64_t def);

/* Reads one row of stmt (already bound) as JSON: 0, AD_ENOENT, or an error.
 * Resets stmt. */
int ad_store_one_json(ad_db_t *db, ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols,
                      json_t **out);
/* A row as JSON in a table's own shape (a new reference). */
typedef json_t *(*ad_store_row_fn)(ad_db_stmt_t *s);
/* One row of s (already bound) through row: 0, AD_ENOENT or an error.
 * Resets s. */
int ad_store_one_row(ad_db_t *db, ad_db_stmt_t *s, ad_store_row_fn row, json_t **out);
/* Every row of s (already bound) through row, as a new array in *out (set
 * only on success). Resets s. */
int ad_store_all_rows(ad_db_t *db, ad_db_stmt_t *s, ad_store_row_fn row, json_t **out);

/* Records a held run's spool offsets (hold_out, hold_err of a message just
 * stored; 0 for none) in run_hold, keeping the largest of each (migration
 * 2850), inside the caller's transaction: where ad_store_run_hold_offsets
 * reads them. A NULL run_id or two zeros write nothing. Writer thread. */
int ad_store_run_hold_note(ad_db_t *db, const char *run_id, int64_t out, int64_t err);

#define AD_AGENT_COLS                                                                              \
    "id, worktree_id, name, status, context_level, mode, permissions, display_order, pid, "        \
    "session_id, created_at, updated_at, started_at, stopped_at, deleted_at, parent_agent_id, "    \
    "executor, crew_id, state, worktree_vanished_at, org_id, status_reason, " AD_AGENT_COST_COLS
/* What an agent's runs cost so far (costUsd, totalTokens = input + output):
 * its row of agent_totals, which the run triggers keep (migration 2830), so
 * every agent row the store hands out (lists, reads, the rows events carry)
 * has its total for one key lookup, however many runs it has. */
#define AD_AGENT_COST_COLS                                                                         \
    "COALESCE((SELECT t.cost_usd FROM agent_totals t WHERE t.agent_id = agents.id), 0.0) AS "      \
    "cost_usd, COALESCE((SELECT t.total_tokens FROM agent_totals t WHERE t.agent_id = "            \
    "agents.id), 0) AS total_tokens"
#define AD_AGENT_JSON "permissions,state,status_reason"
#define AD_AGENT_NULLS "crew_id,state,status_reason"

/* A run's display name and colour (issue #35, migration 2350) as SQL over
 * the runs row aliased R: the name set by PATCH, else "<agent name> · <config
 * name> #<the run's number among its agent's runs>" (run_no, kept by the
 * runs_number trigger, migration 2830); the colour set, else one of ten
 * palette colours picked from the start time and id (its last two characters,
 * counted from length(): PostgreSQL's substr has no negative start, and
 * takes an INT, which the statement layer leaves as it is). */
#define AD_RUN_NAME_SQL(R)                                                                         \
    "coalesce(" R ".name, (SELECT an.name FROM agents an WHERE an.id = " R ".agent_id) || "        \
    "coalesce(' \u00b7 ' || json_extract(" R ".config, '$.name'), '') || ' #' || " R ".run_no)"
#define AD_RUN_COLOR_SQL(R)                                                                        \
    "coalesce(" R ".color, substr('#4e79a7#f28e2b#e15759#76b7b2#59a14f#edc948#b07aa1#ff9da7"       \
    "#9c755f#17becf', CAST(1 + 7 * ((" R ".started_at + unicode(substr(" R ".id, length(" R        \
    ".id), 1)) + unicode(substr(" R ".id, length(" R ".id) - 1, 1))) % 10) AS INT), 7))"

/* The heartbeat's statement that lets go of the plane's leases of ended
 * runs (?1 the plane; planes.c). Its plan must look each lease's run up,
 * never list the runs: tests/unit/test-store-runs.c checks it. */
extern const char ad_sql_leases_ended[];
/* The runs list's cursor condition (?: started_at, started_at, id; stats.c):
 * its plan must be one index range, never a sort of every earlier run
 * (tests/unit/test-store-runs.c). */
extern const char ad_sql_runs_before[];
/* The agents list's page after a cursor (?2-?4 the filters, ?5 the cursor's
 * agent, ?6 the limit; agents.c): its plan must start at the cursor in
 * agents_by_created, never walk the index from the first agent
 * (tests/unit/test-store-runs.c). */
extern const char ad_sql_agents_after[];

/* Pending approvals of runs no longer running to expired (start-up, after
 * the runs no holder kept are lost; a run taken up again still waits on
 * its own). Writer thread. (approvals.c) */
int ad_store_approvals_expire_all(ad_db_t *db, int64_t now);

/* ---- distributions (dists.c, distover.c) ------------------------------------------ */
/* Writes args.dists (checked by ad_store_dist_check) in the caller's
 * transaction; *stored how many. */
int ad_store_dists_put(ad_db_t *db, json_t *args, size_t *stored);
/* The over-time read (distover.c). */
int ad_store_dists_over_time(ad_db_t *db, ad_store_dist_q_t *q);
/* How many steps [from, to] holds (span[0]), its first and last step, and
 * its histograms' outer edges: 0 or AD_ENOENT. */
int ad_store_dists_span(ad_db_t *db, const ad_store_dist_q_t *q, int64_t from, int64_t to,
                        int64_t span[3], double *lo, double *hi);
/* A statement over the rows of [from, to] (step, t, total, data),
 * ascending; the caller steps and resets it. */
ad_db_stmt_t *ad_store_dists_rows(ad_db_t *db, const ad_store_dist_q_t *q, int64_t from,
                                  int64_t to);

/* ---- which way a metric improves (metricdir.c) ------------------------------------ */
/* The metric_directions setting ({name: "min" | "max"}), or NULL. */
json_t *ad_store_metric_dirs(ad_db_t *db);
/* Whether name is best at its lowest: dirs (may be NULL) first, else its
 * name's words (tsdb_lower_is_better). */
bool ad_store_metric_lower(json_t *dirs, const char *name);
/* Sets direction ("min" | "max") and best (minValue or maxValue) on each
 * series of a list. */
void ad_store_series_best(ad_db_t *db, json_t *series);

#endif
