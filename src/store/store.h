/* SPDX-License-Identifier: MIT */
/*
 * store: the engine under agentd's tables. The database (SQLite,
 * <data_dir>/agentd.db, or PostgreSQL), opening and migrating it, the
 * writer thread (group commit), jobs and the transactions they run in,
 * and what the daemon reports of it. The table families live in
 * src/tables, one header each (tables/agents.h, tables/runs.h, ...): they
 * are built on this engine (what they share of it is store/table.h), and
 * the engine knows none of them. No SQLite type or code appears here, so
 * nothing that includes only this header runs SQL, and the PostgreSQL
 * backend implements the same header. Errors come back as AD_E* codes.
 *
 * Threads: ad_store_open/close, ad_store_submit, ad_store_write, the read
 * functions and the completions all run on the loop thread. Job functions
 * (ad_store_job_fn, ad_store_op_fn) run on the writer thread, inside the
 * transaction (ad_store_tx_t) they are given, and may only call the store
 * functions that take that transaction and touch their own context.
 */
#ifndef AD_STORE_H
#define AD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/core.h"

struct ad_bus; /* src/bus: what the table families publish */

typedef struct ad_store ad_store_t;
/* The write transaction a job runs in (writer thread only). */
typedef struct ad_store_tx ad_store_tx_t;

/* ---- life cycle ------------------------------------------------------------ */

typedef struct {
    const char *path;     /* database file; borrowed for the call */
    bool durability_full; /* synchronous=FULL instead of NORMAL */
    int busy_timeout_ms;  /* 0: 5000 */
    /* postgres://...: the tables live in that PostgreSQL database instead
     * (issue #39), migrated under its advisory lock; path still names the
     * SQLite file the SQL console and the rest of the data dir sit beside.
     * NULL or "": SQLite. Borrowed for the call. */
    const char *database_url;
    /* The machine's boot, for tests: NULL reads the kernel's boot id. A
     * database left unclean is read through (PRAGMA quick_check) only when
     * it was last opened in another boot (<path>-boot; open.c). */
    const char *boot_id;
} ad_store_opts_t;

/* Opens (creating if needed) the database, checks it, applies every embedded
 * migration not yet recorded and starts the writer thread. Refuses with
 * AD_ECORRUPT (corrupt file, or a recorded migration whose checksum differs
 * from the binary's), AD_ESTATE (the database has a migration this binary
 * does not know: it is newer), AD_EFULL or AD_EIO, with a one-line message
 * in err naming the file. On success *out is owned: release with
 * ad_store_close(). Loop thread. */
int ad_store_open(uv_loop_t *loop, const ad_store_opts_t *opts, ad_store_t **out, char *err,
                  size_t errsz);
/* ad_store_open with <cfg->data_dir>/agentd.db and cfg's durability. */
int ad_store_open_cfg(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t **out, char *err,
                      size_t errsz);
/* Runs every queued job, joins the writer, delivers the last completions
 * (synchronously, on this thread), closes the connections and closes the
 * store's uv_async handle; the memory is released in its close callback, so
 * run the loop once more (uv_run) before uv_loop_close(). Loop thread. */
void ad_store_close(ad_store_t *st);
/* The database file's path (owned by the store). */
const char *ad_store_path(const ad_store_t *st);
/* "sqlite" or "postgres": where the tables live. */
const char *ad_store_backend(const ad_store_t *st);

/* ---- PostgreSQL (pg.c, issue #39: migrate and copy; no serving yet) ---------
 * Synchronous, for the `agentd db` commands (no loop, no writer thread).
 * url: postgres:// or postgresql:// (libpq's URI form). Errors: AD_EINVAL a
 * URL that is not one, AD_ECLOSED the server cannot be reached, AD_EPERM it
 * refused the credentials, AD_ENOENT no such database (or source file),
 * AD_EBUSY a daemon holds the source, AD_EEXIST the target holds data,
 * AD_ESTATE the schemas do not match, AD_ECORRUPT counts differ after a
 * copy; a one-line message in err (never the URL's password). */
typedef struct {
    int known;   /* migrations this binary has */
    int applied; /* applied by this call */
} ad_store_pg_migrated_t;
/* Applies the migrations not yet recorded in the database's
 * schema_migrations, in one transaction under an advisory lock (two
 * callers at once apply them once). */
int ad_store_pg_migrate(const char *url, ad_store_pg_migrated_t *res, char *err, size_t errsz);
/* Called per table after a copy: rows read from SQLite, rows in PostgreSQL. */
typedef void (*ad_store_pg_count_fn)(const char *table, int64_t from, int64_t to, void *ud);
/* Copies every row of every table of the SQLite database at sqlite_path (a
 * file, or a data dir holding agentd.db) into url's database, migrated
 * first, in one transaction: refused when a daemon holds the source's data
 * dir or the target holds anything but the migrations' own rows; committed
 * only when every table's count matches (each reported to fn). */
int ad_store_pg_copy(const char *sqlite_path, const char *url, ad_store_pg_count_fn fn, void *ud,
                     char *err, size_t errsz);

/* ---- writes: the writer thread ----------------------------------------------
 * Jobs queued from the loop are run in groups: the writer takes everything
 * queued (up to AD_STORE_GROUP_MAX jobs), runs it in one transaction (a
 * failing job is rolled back alone, see ad_store_job_fn), commits, then
 * posts the completions to the loop. A completion therefore means the
 * write is committed (durable across a crash of the daemon; with
 * --durability full, across power loss too).
 */
#define AD_STORE_GROUP_MAX 1024

/* Runs on the writer thread inside the group's transaction. Returns 0 or an
 * AD_E* code; on error the job's changes are rolled back, and only its
 * own. tx is borrowed for the call.
 * Groups first run without savepoints (they cost as much as a small
 * insert); if any job fails, the transaction is rolled back and the group
 * runs again with each job in its own SAVEPOINT. So a job may run twice:
 * it must leave nothing but database changes behind, or reset what it
 * sets in ctx each time it starts. */
typedef int (*ad_store_job_fn)(ad_store_tx_t *tx, void *ctx);
/* Runs on the loop thread after the COMMIT holding the job, or after its
 * failure: rc is the job's code, or the commit's if the commit failed. */
typedef void (*ad_store_done_cb)(int rc, void *ctx);

/* Queues fn. done (may be NULL) is always called exactly once, later, on the
 * loop thread; ctx is borrowed by both until then. The writer is woken at
 * the end of the current loop iteration (uv_check/uv_prepare), so the jobs
 * of one round of I/O share a transaction. Loop thread; not after
 * ad_store_close(). The queue has no bound of its own: callers bound what
 * they submit (HTTP by its connection limit, the bus by its batching). */
void ad_store_submit(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx);
/* The same for a job that holds about bytes of data (messages): while
 * PostgreSQL is away (issue #39) the jobs waiting for it are bounded to
 * AD_STORE_DOWN_JOBS jobs and AD_STORE_DOWN_BYTES bytes; a job past either
 * is not queued but completed with AD_EUNAVAIL (on a later loop turn). */
#define AD_STORE_DOWN_JOBS 4096
#define AD_STORE_DOWN_BYTES (64u << 20)
void ad_store_submit_sized(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx,
                           size_t bytes);
/* The same for a job that touches no database row (it writes files of its
 * own, as the event log does): a group made only of such jobs runs
 * without a transaction, each job once, and a failing one fails alone. */
void ad_store_submit_norow(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx);
/* Calls done(rc, ctx) once every write queued before this call has
 * committed (rc 0) or failed. Loop thread. */
void ad_store_flush(ad_store_t *st, ad_store_done_cb done, void *ctx);

/* A JSON-in/JSON-out write, used by the REST layer: op runs on the writer
 * thread with args and may set *result (owned, handed to cb). */
typedef int (*ad_store_op_fn)(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Called on the loop thread once. result is owned by the callee (may be NULL
 * on error, or set by the op even on error). */
typedef void (*ad_store_result_cb)(int rc, json_t *result, void *ud);
/* Queues op(args). Takes ownership of args (released after the op). */
void ad_store_write(ad_store_t *st, ad_store_op_fn op, json_t *args, ad_store_result_cb cb,
                    void *ud);

/* Counters since open, for /metrics and benchmarks. Loop thread. A
 * group's commit latency is BEGIN to the end of COMMIT, counted in the
 * bucket of the first bound (seconds) it does not pass, or the last. */
#define AD_STORE_COMMIT_BUCKETS 11
extern const double ad_store_commit_bounds[AD_STORE_COMMIT_BUCKETS];
typedef struct {
    uint64_t jobs;    /* jobs run */
    uint64_t groups;  /* transactions committed */
    uint64_t failed;  /* jobs that returned an error */
    uint64_t retries; /* BEGIN/COMMIT retried on BUSY */
    uint64_t commit_counts[AD_STORE_COMMIT_BUCKETS + 1];
    double commit_sum_sec;
    uint64_t queued;          /* jobs submitted and not yet completed (loop side) */
    uint64_t event_log_bytes; /* the event log's segment files, 0 before it is attached */
    uint64_t reruns;          /* groups run again after PostgreSQL came back */
    uint64_t found_applied;   /* groups whose COMMIT's answer was lost, found applied */
    uint64_t refused;         /* jobs refused while PostgreSQL was away, the queue full */
    uint64_t waiting;         /* jobs queued for the writer thread (not yet taken) */
    uint64_t waiting_bytes;   /* their sizes, as submitted */
} ad_store_stats_t;
void ad_store_stats(ad_store_t *st, ad_store_stats_t *out);

/* The database as the store sees it, for health and /metrics (issue #39).
 * On SQLite: up, no reason, no pool, no round trip. Loop thread. */
typedef struct {
    const char *backend; /* "sqlite" or "postgres" */
    bool up;
    char reason[256];      /* why it is down (the last connection error, no password) */
    int64_t down_since_ms; /* wall clock, 0 when up */
    uint64_t errors;       /* statements that failed for the connection */
    uint64_t reconnects;   /* connections made again */
    uint64_t outages;      /* times it went down */
    double rtt_sec;        /* the writer's last ping, -1 before one (or SQLite) */
    size_t pool_idle;      /* read connections waiting */
    size_t pool_busy;      /* read connections out on a read */
    size_t conns;          /* the writer's and the loop's, always open */
} ad_store_db_t;
void ad_store_db(ad_store_t *st, ad_store_db_t *out);
/* Whether the database is unreachable now, with why into reason. Any
 * thread. */
bool ad_store_db_down(const ad_store_t *st, char *reason, size_t n);
/* The stats as Prometheus families into b (prom.c; store NULL: none). 0
 * or AD_ETOOBIG. Loop thread. */
int ad_store_prom(ad_store_t *store, ad_buf_t *b);

/* A request's query parameter by name, or NULL (the caller's reader). */
typedef const char *(*ad_store_query_fn)(void *ud, const char *key);

/* ---- read-only SQL over the organisation's views (sql.c, issue #35) -----------------
 * One SELECT over the views runs, series, agents, alert_firings and sweeps
 * of org ("": every org, the owner's), on the thread pool, on a read-only
 * connection with an authorizer (see sql.c). cb(0, {columns, rows,
 * rowCount, truncated} (owned), NULL) or cb(AD_EINVAL | AD_ETIMEDOUT, NULL,
 * why) on the loop. 0, or AD_EINVAL for an org id that is not one. */
typedef struct {
    int64_t max_rows, max_ms;
    size_t max_bytes;
} ad_store_sql_opts_t;
typedef void (*ad_store_sql_cb)(int rc, json_t *out, const char *error, void *ud);
int ad_store_sql(ad_store_t *st, const char *org, const char *query, const ad_store_sql_opts_t *o,
                 ad_store_sql_cb cb, void *ud);

#endif
