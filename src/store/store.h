/* SPDX-License-Identifier: MIT */
/*
 * store: agentd's state, in the SQLite database <data_dir>/agentd.db.
 * Opening and migrating, the writer thread (group commit), and the typed
 * functions of each table family (one file each). This header is the whole
 * interface: no SQLite type or code appears here, so nothing outside
 * src/store can run SQL, and a second backend (PostgreSQL, for several
 * nodes) can implement the same header. Errors come back as AD_E* codes.
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

struct ad_bus; /* src/bus: events a stored batch publishes */

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

/* ---- workspaces and worktrees (workspaces.c) -------------------------------------
 * Reads run on the read connection (loop thread); writes are ops for
 * ad_store_write. Objects are camelCase (workspace: id, name, path,
 * createdAt, updatedAt; worktree: id, workspaceId, name, branch, path,
 * sortMode, displayOrder, isMain, createdAt, updatedAt, baseBranch: the branch
 * it was made from, absent for the main worktree; migration 1300).
 */
int ad_store_workspace_get(ad_store_t *st, const char *id, json_t **out);
/* {workspaces:[…]} by creation order; org "" or NULL: every org. */
int ad_store_workspace_list(ad_store_t *st, const char *org, json_t **out);
/* The same workspaces with only {id, path, orgId}: no counts (read every
 * second by the definitions watch). */
int ad_store_workspace_paths(ad_store_t *st, const char *org, json_t **out);
/* args {id, name, path, now, worktreeId, branch}: inserts the workspace
 * and its main worktree (is_main 1, same path). result {workspace,
 * worktree}. AD_EEXIST when the path is taken. */
int ad_store_op_workspace_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now}: touches updated_at. result {workspace}. */
int ad_store_op_workspace_touch(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: deletes the workspace, its worktrees and their agents.
 * result {workspace, worktreeIds:[…], agentIds:[…]}. */
int ad_store_op_workspace_delete(ad_store_tx_t *tx, json_t *args, json_t **result);

int ad_store_worktree_get(ad_store_t *st, const char *id, json_t **out);
/* {worktrees:[…]}: the main worktree first, then displayOrder, creation;
 * without workspace_id, those of org ("" or NULL: every org).
 * workspace_id may be NULL (all). */
int ad_store_worktree_list(ad_store_t *st, const char *workspace_id, const char *org, json_t **out);
/* ws (returned, the same reference) with its worktrees as the list above
 * gives them (left without when they cannot be read). */
json_t *ad_store_workspace_with_worktrees(ad_store_t *st, json_t *ws);
/* args {id, workspaceId, name, branch, path, now, isMain?, baseBranch?}: a
 * linked worktree without baseBranch takes the main worktree's branch.
 * result {worktree}. */
int ad_store_op_worktree_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, branch?, sortMode?, displayOrder?, baseBranch?}: result
 * {worktree}. */
int ad_store_op_worktree_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now}: marks the worktree removed and archives its agents (their
 * rows stay). AD_ESTATE for the main worktree, or (result {liveAgentIds})
 * while one of its agents runs. result {worktree, agentIds}. */
int ad_store_op_worktree_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {ids:[…], now}: displayOrder = index. AD_ENOENT (result {id}) when
 * one is unknown; nothing changes then. result {worktrees:[…]}. */
int ad_store_op_worktree_reorder(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- agents (agents.c) ----------------------------------------------------------
 * The agent object: id, worktreeId, name, status, contextLevel, mode,
 * permissions, displayOrder, pid?, sessionId?, createdAt, updatedAt,
 * startedAt?, stoppedAt?, deletedAt?, parentAgentId?, executor, crewId,
 * state. Results of agent ops also carry workspaceId for event topics.
 */
int ad_store_agent_get(ad_store_t *st, const char *id, json_t **out);
/* Filters may be NULL (org "": every org). The list follows the worktree's sortMode when
 * worktree_id is given (free: displayOrder; status; name). {agents:[…]} */
int ad_store_agent_list(ad_store_t *st, const char *worktree_id, const char *status,
                        bool include_deleted, const char *org, json_t **out);
/* The agents list as JSON text, for GET /api/agents on a grown data dir
 * (10,000 agents: no json_t a value). The filters are ad_store_agent_list's;
 * limit > 0 pages the list of every agent (worktree_id NULL) in creation
 * order after cursor (an agent id, NULL: from the start), at most
 * AD_AGENT_LIST_MAX a call either way. */
#define AD_AGENT_LIST_MAX 10000
typedef struct {
    const char *worktree_id, *status, *org, *cursor; /* each may be NULL */
    bool include_deleted;
    int64_t limit; /* 0: every agent (up to AD_AGENT_LIST_MAX) */
} ad_store_agent_query_t;
/* What the caller changes in a row as it goes out: leave it out (skip), a
 * status in its place (status, "" none), members added at its end (tail,
 * ",\"k\":v", "" none). */
typedef struct {
    bool skip;
    char status[24];
    char tail[160];
} ad_store_agent_out_t;
/* Called for each row read with its id and stored status (borrowed for the
 * call); *o starts empty. */
typedef void (*ad_store_agent_out_fn)(void *ud, const char *id, const char *status,
                                      ad_store_agent_out_t *o);
/* Appends {"agents":[…]} to out, each row byte for byte what
 * ad_store_agent_list's would dump to, fn (may be NULL) changing rows on
 * the way; "nextCursor" (the last row's id) follows when a paged list read
 * a full page. 0, AD_ENOENT (no such worktree), AD_ETOOBIG (out's cap) or
 * an error. Loop thread (the store's read connection). */
int ad_store_agent_list_text(ad_store_t *st, const ad_store_agent_query_t *q,
                             ad_store_agent_out_fn fn, void *ud, ad_buf_t *out);
/* GET /api/agents' query read through get (ad_store_query_fn) into q:
 * worktreeId=, includeDeleted=, limit= (1 to AD_AGENT_LIST_MAX: pages the
 * list of every agent, as cursor= does: neither goes with worktreeId) and
 * the status given (the caller's: a dialect may have taken it; else one of
 * the stored statuses); "" is absent. Strings stay get's. 0, or AD_EINVAL
 * with e. */
int ad_store_agent_list_parse(ad_store_agent_query_t *q, const char *status,
                              const char *(*get)(void *ud, const char *key), void *ud,
                              ad_field_err_t *e);
/* How many agents (archived ones not counted) of org ("": every org) have
 * each status, read on the thread pool: cb gets {status: count} (owned) on
 * the loop thread. For /metrics. */
void ad_store_agent_status_counts(ad_store_t *st, const char *org, ad_store_result_cb cb, void *ud);
/* Those counts (NULL: none read) as the agentd_agents family into b
 * (prom.c): 0 or AD_ETOOBIG. */
int ad_store_agents_prom(ad_buf_t *b, const json_t *counts);
/* Whether the agent may be started: 0, AD_ENOENT, or AD_ESTATE when it is
 * archived (deleted) or already running. Loop thread. */
int ad_store_agent_check_startable(ad_store_t *st, const char *id);
/* The workspace of a worktree (for topics). 0 or AD_ENOENT. */
int ad_store_worktree_workspace(ad_store_t *st, const char *worktree_id, char out[AD_ID_MAX]);
/* The sandbox policy of the workspace a worktree belongs to, in one read (what
 * GET /api/agents/:id shows as sandboxEffective): *out is {"sandbox": policy
 * or null}, owned; AD_ENOENT when the worktree or its workspace is gone. */
int ad_store_worktree_sandbox(ad_store_t *st, const char *worktree_id, json_t **out);

/* args {id, worktreeId, name, mode, permissions, executor, crewId?, now,
 * status?, parentAgentId?, sessionId?, state?}: displayOrder = last + 1 in the
 * worktree. AD_ENOENT when the worktree is unknown. result {agent, workspaceId}. */
int ad_store_op_agent_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, mode?, permissions?, displayOrder?, crewId? (null
 * clears), env?, command?, sandbox? (state.sandbox; null clears)} result
 * {agent, workspaceId}. */
int ad_store_op_agent_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, archive}: archive sets deletedAt; otherwise the row and its
 * messages go (AD_ESTATE while running). result {agent, workspaceId}. */
int ad_store_op_agent_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now}: clears deletedAt; AD_ESTATE when its worktree or workspace
 * was removed (it stays archived). result {agent, workspaceId}. */
int ad_store_op_agent_restore(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id (source), newId, name?, now}: copies worktree, mode,
 * permissions, executor, crew, sessionId; parentAgentId = source; status
 * finished. result {agent, workspaceId}. */
int ad_store_op_agent_fork(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {worktreeId, ids, now}: every id must be a live agent of that
 * worktree (AD_EINVAL, result {id}); AD_ENOENT for an unknown worktree.
 * result {agents:[…], workspaceId}. */
int ad_store_op_agent_reorder(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- messages (messages.c) ---------------------------------------------------------
 * The message object: id, agentId, runId?, role, content, tokenCount,
 * toolName?, toolInput?, toolOutput?, isComplete, createdAt.
 */
/* A run's messages oldest first (its log, issue #35): {messages, hasMore,
 * nextCursor} with after = a cursor of an earlier page or NULL. AD_ENOENT
 * (no such run), AD_EINVAL (a bad cursor). Loop thread. */
int ad_store_run_messages(ad_store_t *st, const char *run_id, int limit, const char *after,
                          json_t **out);
/* One page, newest first. before is NULL or a cursor from a previous page
 * (or a message id). {messages, hasMore, nextCursor (null at the end)}.
 * AD_EINVAL for a malformed cursor. */
int ad_store_message_page(ad_store_t *st, const char *agent_id, int limit, const char *before,
                          json_t **out);
/* The same two pages as JSON text appended to out, written row by row (what
 * the API sends; the forms above read it back). A page ends before limit
 * when its text passes 16 MiB, with hasMore and a cursor as usual. out's
 * max should be AD_STORE_PAGE_TEXT_MAX: one more row after 16 MiB, each
 * byte escaped at most six-fold. Loop thread. */
#define AD_STORE_PAGE_TEXT_MAX (256u << 20)
int ad_store_message_page_text(ad_store_t *st, const char *agent_id, int limit, const char *before,
                               ad_buf_t *out);
int ad_store_run_messages_text(ad_store_t *st, const char *run_id, int limit, const char *after,
                               ad_buf_t *out);
/* args {id, agentId, role, content, now, runId?, tokenCount?, toolName?,
 * toolInput?, toolOutput?, isComplete?, isError?}: AD_ENOENT for an unknown agent.
 * result {message, worktreeId, workspaceId}. */
int ad_store_op_message_insert(ad_store_tx_t *tx, json_t *args, json_t **result);

/* The typed form of the same write, for the hot REST path: no JSON on the
 * way in or out. The strings are borrowed (they must outlive the job); id,
 * agent_id and role are required, the others may be NULL (content: ""). */
typedef struct {
    const char *id, *agent_id, *run_id, *role, *content;
    const char *tool_name, *tool_input, *tool_output;
    int64_t token_count;
    bool is_complete;
    bool is_error; /* a failed or denied tool call, an API error */
    /* ad_store_messages_insert only: this row is written over the
     * agent's row with the same id (a tool call's result over the call),
     * keeping its time; without it a taken id fails the batch. */
    bool replace;
    int64_t now;
    /* Held output (issue #15): the spool offsets just past what this row
     * covers, stored with it; 0: none. */
    int64_t hold_out, hold_err;
    /* Set by ad_store_message_insert on success. */
    char worktree_id[AD_ID_MAX], workspace_id[AD_ID_MAX];
} ad_store_message_t;
/* The largest content of a message a client records (POST
 * /api/agents/:id/messages). */
#define AD_STORE_MESSAGE_MAX (16u << 20)
/* A recorded message's body {content, role? (user|assistant|system|tool;
 * user), toolName?, runId?, tokenCount?, isComplete?, toolInput?,
 * toolOutput? (a string, or any JSON kept as its text: texts[0] and [1],
 * owned by the caller)} into m (strings borrowed from body); id,
 * agent_id and now are the caller's. 0, or AD_EINVAL with e. */
int ad_store_message_from(const json_t *body, ad_store_message_t *m, char *texts[2],
                          ad_field_err_t *e);
/* Writer thread (inside a job): inserts m and sets its worktree_id and
 * workspace_id. AD_ENOENT for an unknown agent; the constraint codes of
 * ad_store_rc otherwise. May run twice (see ad_store_job_fn). */
int ad_store_message_insert(ad_store_tx_t *tx, ad_store_message_t *m);
/* The message object of m exactly as a read of its row gives it (the
 * object above). Any thread; new reference. */
json_t *ad_store_message_json(const ad_store_message_t *m);
/* Appends the same object as JSON text, byte for byte what
 * json_dumps(ad_store_message_json(m), JSON_COMPACT) gives, without
 * building it. 0, or the ad_buf error once out's cap is reached. Any thread. */
int ad_store_message_text(const ad_store_message_t *m, ad_buf_t *out);
/* A client's message for agent agent_id of org (msgrecord.c, loop
 * thread): body (borrowed; kept while the write is under way) checked as
 * ad_store_message_from does, given a new "msg_" id and the time, and
 * inserted by one writer job. After the commit it is published on bus as
 * message_created {message} (the agent's, worktree's, workspace's and
 * org's topics) and cb(0, its JSON text, len, ud) runs on the loop (the
 * text valid for the call); else cb(rc, NULL, 0, ud) (AD_ENOENT for an
 * unknown agent, AD_EINTERNAL when it does not serialize). 0, or AD_EINVAL
 * with e (nothing queued, no cb), or AD_ENOENT when agent_id is longer than
 * any id. */
typedef void (*ad_store_message_cb)(int rc, const char *json, size_t len, void *ud);
int ad_store_message_record(ad_store_t *st, struct ad_bus *bus, json_t *body, const char *agent_id,
                            const char *org, ad_store_message_cb cb, void *ud, ad_field_err_t *e);
/* limit= of a message page: absent or empty 50, else 1 to 200 in digits
 * only; 0, or AD_EINVAL with e. Any thread. */
int ad_store_message_limit(const char *s, int *limit, ad_field_err_t *e);

/* ---- settings (settings.c) ------------------------------------------------------------
 * Typed settings with defaults (theme=system,
 * notifications=true, default_mode=regular, confirm_delete=true,
 * max_context_warning=80, and the usage limits).
 */
/* {key: value, …} with typed values. */
int ad_store_settings_get(ad_store_t *st, json_t **out);
/* Checks a patch {key: value, …}: unknown keys are ignored; a wrong type or
 * out-of-range value is AD_EINVAL with *bad_key set (static string). */
int ad_store_settings_validate(json_t *patch, const char **bad_key, const char **why);
/* workspace_roots {orgId: [absolute folders]}: where a write token of the
 * org may register workspaces. Its shape (at most 1000 orgs of at most 64
 * absolute folders): 0, or AD_EINVAL with why (static). */
int ad_store_settings_roots_ok(const json_t *roots, const char **why);
/* Cuts settings' workspace_roots down to org's (NULL: none) unless all
 * (the owner's read). */
void ad_store_settings_roots_only(json_t *settings, bool all, const char *org);
/* settings_update with every setting after a change (all, borrowed) on
 * "system": a copy without any workspace roots (every reader gets it). */
void ad_store_settings_publish(struct ad_bus *bus, const json_t *all);
/* The model_prices setting ({} when none is set) into *out (new). 0 or a
 * read error. */
int ad_store_settings_prices(ad_store_t *st, json_t **out);
/* args {patch, now}: validated again, all or nothing. result {settings}. */
int ad_store_op_settings_update(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- usage (usage.c) ----------------------------------------------------------------- */
typedef struct {
    const char *model; /* borrowed; NULL or "" = "unknown" */
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_read_tokens;
    int64_t cache_write_tokens;
    double cost_usd;
    bool error;
    int64_t at_ms; /* when the request happened; 0 = now */
} ad_usage_rec_t;

/* Job body: adds one request's usage to its daily, weekly (ISO week, keyed
 * by its Monday) and monthly rows, all three or none. Writer thread. */
int ad_store_usage_apply(ad_store_tx_t *tx, const ad_usage_rec_t *rec);
/* Queues one usage record (copied) and calls done after its commit. */
void ad_store_usage_record(ad_store_t *st, const ad_usage_rec_t *rec, ad_store_done_cb done,
                           void *ctx);
/* The same for a usage a client reported (POST /api/usage): after the
 * commit, today's row is read and published as usage_update (topic
 * "usage"), then cb(0, that row (cb's; NULL when it cannot be read), ud),
 * or cb(rc, NULL, ud). Loop thread. */
void ad_store_usage_post(ad_store_t *st, struct ad_bus *bus, const ad_usage_rec_t *rec,
                         ad_store_result_cb cb, void *ud);
/* Rows of one period (daily, weekly or monthly) with from <= date <= to
 * (YYYY-MM-DD, either may be NULL), oldest first, at most 1000 rows. */
int ad_store_usage_rows(ad_store_t *st, const char *period, const char *from, const char *to,
                        json_t **out);
/* The period key of a time: daily "YYYY-MM-DD", weekly the Monday of its
 * ISO week, monthly "YYYY-MM-01" (UTC). out holds 11 bytes. */
int ad_usage_period_key(int64_t ms, const char *period, char out[16]);
/* The row of one period key, zeros when there is none. */
int ad_store_usage_row(ad_store_t *st, const char *period, const char *date, json_t **out);
/* ---- usage figures (usagesum.c), loop thread ---- */
/* Whether s is a date YYYY-MM-DD naming a real day. Any thread. */
bool ad_usage_date_ok(const char *s);
/* ---- what /api/usage's requests may hold (usagespec.c), any thread ----
 * Each 0, or AD_EINVAL with the field and why in e. */
/* period (NULL or "": daily) one of daily|weekly|monthly; with from (not
 * NULL: to too), "" as NULL, each a date, from not after to. */
int ad_usage_range_check(const char **period, const char **from, const char **to,
                         ad_field_err_t *e);
/* ?days= (NULL or "": *days left alone) a whole number from 1 to 366. */
int ad_usage_days_check(const char *s, int *days, ad_field_err_t *e);
/* POST /api/usage {model?, inputTokens, outputTokens, cacheReadTokens?,
 * cacheWriteTokens?, costUsd?, error?} into rec (model borrowed). */
int ad_usage_rec_check(const json_t *body, ad_usage_rec_t *rec, ad_field_err_t *e);
/* The first period (daily, then monthly) whose limit limits
 * (ad_store_usage_limits') says is reached, with the refusal's words in
 * msg and *details (new: {period} and, with figures, usage), or NULL. */
const char *ad_usage_reached(const json_t *limits, bool figures, char *msg, size_t msgsz,
                             json_t **details);
/* The totals of usage rows: the sums of their token and request counts
 * and of costUsd (a new object). Any thread. */
json_t *ad_store_usage_totals(json_t *rows);
/* The last days (1-366) to now: {days, from, to, totals, history: one row
 * a day, oldest first, zeros for days without use}. 0 or a read error. */
int ad_store_usage_history(ad_store_t *st, int days, int64_t now, json_t **out);
/* Today's daily row at now (zeros when there is none); and one period's
 * rows from..to (as ad_store_usage_rows) as {period, from?, to?, totals,
 * rows}. 0 or a read error. */
int ad_store_usage_today(ad_store_t *st, int64_t now, json_t **out);
int ad_store_usage_period(ad_store_t *st, const char *period, const char *from, const char *to,
                          json_t **out);
/* {daily, monthly}: each {period, date, tokenLimit, tokensUsed,
 * tokensRemaining, costLimitUsd, costUsedUsd, costRemainingUsd, exceeded}
 * from the settings' limits (0: none, remaining null). 0 or a read error. */
int ad_store_usage_limits(ad_store_t *st, int64_t now, json_t **out);
/* "daily" or "monthly" when that usage limit is reached at now, else NULL
 * (also when the limits cannot be read: an unreadable limit stops nobody). */
const char *ad_store_usage_reached(ad_store_t *st, int64_t now);
/* The agents' usage in the period (daily, weekly, monthly) holding now, of
 * org ("" = every org): {period, from (its key), totals {runs, inputTokens,
 * outputTokens, totalTokens, costUsd} (of the agents listed), agents: at
 * most 500, costliest first (then most tokens, then by name), each {agentId,
 * name, worktreeId, executor, deletedAt?, runs, inputTokens, outputTokens,
 * cacheReadTokens, cacheWriteTokens, totalTokens, costUsd}}. An agent's
 * figures are those of its runs alive in the period (ended in it or later,
 * or still running); a run counts whole in each period it touches. Read
 * from the per-period sums the run triggers keep (agent_usage), so a month
 * costs a row per agent that ran in it, not a row per run (usagetop.c). */
int ad_store_usage_agents(ad_store_t *st, const char *period, int64_t now, const char *org,
                          json_t **out);
/* The same answer as JSON text appended to out (what the API sends); out's
 * max should be AD_STORE_USAGE_TEXT_MAX. Loop thread. */
#define AD_STORE_USAGE_TEXT_MAX (4u << 20)
int ad_store_usage_agents_text(ad_store_t *st, const char *period, int64_t now, const char *org,
                               ad_buf_t *out);

/* ---- jobs (jobs.c) ----------------------------------------------------------------
 * The job object: id, orgId, name, kind, command (argv), cwd, status
 * (running, succeeded, failed, stopped, lost), progress (0-1), stage,
 * message, result (JSON), output (the last plain lines), exitCode, signal,
 * createdAt, endedAt; unknown fields are null. Reads run on the loop's
 * read connection (by key, or one bounded page).
 */
typedef enum {
    AD_JOB_RUNNING = 0,
    AD_JOB_SUCCEEDED,
    AD_JOB_FAILED,
    AD_JOB_STOPPED,
    AD_JOB_LOST,
} ad_job_status_t;
/* "running", …; NULL out of range. Any thread. */
const char *ad_job_status_name(ad_job_status_t s);
int ad_store_job_get(ad_store_t *st, const char *id, json_t **out);
/* {jobs:[…]} of org ("": every org), newest first, at most limit (1-1000). */
int ad_store_job_list(ad_store_t *st, const char *org, int limit, json_t **out);
typedef struct {
    char id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char name[128];
    char kind[32];
    char cwd[1024]; /* "": agentd's */
    char *command;  /* argv as JSON text; owned, taken by the write */
    int64_t now;
    char node_id[AD_ID_MAX]; /* the worker node it runs on, "" here */
} ad_store_job_t;
/* A job begins: its row, status running. cb gets the job. */
void ad_store_job_insert(ad_store_t *st, const ad_store_job_t *j, ad_store_result_cb cb, void *ud);
typedef struct {
    char id[AD_ID_MAX];
    ad_job_status_t status;
    bool has_progress;
    double progress;
    char stage[128];
    char message[1024];
    char *result; /* JSON text or NULL; owned, taken by the write */
    char *output; /* text or NULL; owned, taken by the write */
    bool has_exit_code;
    int exit_code;
    int signal;
    int64_t now;
} ad_store_job_end_t;
/* A job ended: its status and last figures. cb gets the job. */
void ad_store_job_end(ad_store_t *st, const ad_store_job_end_t *e, ad_store_result_cb cb, void *ud);
/* Rows a previous daemon left running become lost. cb gets {jobs: n}. */
void ad_store_jobs_reconcile(ad_store_t *st, int64_t now, ad_store_result_cb cb, void *ud);

/* ---- services (services.c) --------------------------------------------------------
 * The service object: id, orgId, name, command (argv), cwd, config, schema,
 * restart (always, on-failure, never), probe (or null), enabled,
 * createdAt, updatedAt, nodeId (its worker node, or null), nodeRun (its
 * run on that node now, or null). Reads on the loop's read connection.
 */
int ad_store_service_get(ad_store_t *st, const char *id, json_t **out);
/* {services:[…]} of org ("": every org), oldest first, at most 1000. */
int ad_store_service_list(ad_store_t *st, const char *org, json_t **out);
/* args {id, orgId, name, command, cwd, config, schema, restart, probe,
 * enabled, now, nodeId?}, checked by the caller. result: the service. */
int ad_store_op_service_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, config?, restart?, probe? (null clears), enabled?,
 * nodeId? ("" clears)}. AD_ENOENT for an unknown id. result: the service. */
int ad_store_op_service_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}. AD_ENOENT for an unknown id. result {id, orgId, deleted}. */
int ad_store_op_service_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The service's run on its node now (run NULL or "": none); queued, no
 * answer. */
void ad_store_service_run(ad_store_t *st, const char *id, const char *run);

/* ---- workflows (workflows.c) ----------------------------------------------------------
 * The workflow object: id, orgId, crewId, name, spec {input, budgetUsd?,
 * steps:[{id, needs, prompt, ...}]}, state {steps: {id: {agentId, status,
 * output?, costUsd?, error?}}}, status (running, succeeded, failed,
 * stopped, over_budget), createdAt, updatedAt.
 */
/* One workflow: 0, AD_ENOENT or an error. Loop thread. */
int ad_store_workflow_get(ad_store_t *st, const char *id, json_t **out);
/* The workflows of org ("": every org), newest first (at most 200), or with
 * running_only those running in every org (at most 100): an array. */
int ad_store_workflow_list(ad_store_t *st, const char *org, bool running_only, json_t **out);
/* args {id, orgId, crewId, name, spec, state, now, agents: [agent insert
 * args]}: the crew, its agents and the workflow (status running) in one
 * transaction. result {id, agents: [agent]}. */
int ad_store_op_workflow_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Writes the workflow's status and state (copied). cb gets AD_ENOENT for
 * an unknown one. Loop thread. */
void ad_store_workflow_save(ad_store_t *st, const char *id, const char *status, const json_t *state,
                            ad_store_result_cb cb, void *ud);
/* What the agent's runs cost in all (USD). Loop thread. */
int ad_store_agent_cost(ad_store_t *st, const char *agent_id, double *usd);

/* ---- crews (crews.c) -----------------------------------------------------------------
 * The crew object: id, name, status (busy: an agent is running; available:
 * one is alive and not running; offline), agentCount, createdAt, updatedAt.
 */
/* The crews of org ("" or NULL: every org), oldest first (at most 1000):
 * an array. Loop thread. */
int ad_store_crew_list(ad_store_t *st, const char *org, json_t **out);
/* One crew: 0, AD_ENOENT or an error. Loop thread. */
int ad_store_crew_get(ad_store_t *st, const char *id, json_t **out);
typedef struct {
    char id[AD_ID_MAX];
    char name[256];
    char org_id[AD_ID_MAX]; /* "": the default org */
    int64_t now;
} ad_store_crew_t;
/* Inserts the crew (copied) and calls done after the commit. Loop thread. */
void ad_store_crew_create(ad_store_t *st, const ad_store_crew_t *c, ad_store_done_cb done,
                          void *ctx);
/* Renames crew c->id to c->name at c->now: done gets AD_ENOENT for an
 * unknown crew. Loop thread. */
void ad_store_crew_rename(ad_store_t *st, const ad_store_crew_t *c, ad_store_done_cb done,
                          void *ctx);

/* ---- credits and agent time (credits.c) --------------------------------------------
 * Credits are US dollars of model cost: the owner grants them to an org,
 * runs spend them. Reads on the loop thread (bounded: a few rows a day).
 */
typedef struct {
    const char *id, *org_id, *note, *granted_by;
    double amount;
    int64_t created_at;
} ad_store_grant_t;
/* cb gets {id, orgId, amount, note, grantedBy, createdAt}; AD_ENOENT for
 * an org that does not exist. */
void ad_store_credit_grant(ad_store_t *st, const ad_store_grant_t *g, ad_store_result_cb cb,
                           void *ud);
typedef struct {
    double earned;  /* granted, all time */
    double spent;   /* cost of the org's ended runs, all time */
    double pending; /* cost so far of its running runs */
    double balance; /* earned - spent - pending */
    int64_t grants;
} ad_store_credits_t;
int ad_store_credit_totals(ad_store_t *st, const char *org, ad_store_credits_t *out);
/* org's credits {orgId, unit, balance, earned, spent, pending, grants},
 * or NULL when they cannot be read. New reference. */
json_t *ad_store_credits_json(ad_store_t *st, const char *org);
/* A grant's body {amount (non-zero, at most 1e9 either way), note?}: 0,
 * or AD_EINVAL with e. */
int ad_store_grant_check(const json_t *body, double *amount, const char **note, ad_field_err_t *e);
/* The org's grants, newest first, at most limit. */
int ad_store_credit_grant_list(ad_store_t *st, const char *org, int limit, json_t **out);
/* Agent time of org ("": every org) since from_day (days since the epoch)
 * plus the running runs' time until now (wall ms), counted on the node
 * each run ran on (runs.node_id; NULL, the control plane's, is counted as
 * the node 'control-plane'):
 * {agentSeconds, agentHours, runs, activeRuns, activeSeconds,
 * nodes:[{node, agentSeconds, runs, activeRuns}], orgs:[{orgId,
 * agentSeconds, runs, activeRuns, nodes:[...]}], agents:[{agentId, name,
 * node, runs, agentSeconds}] (the 50 longest, ended runs)}; runs count
 * ended runs, agentSeconds the running ones' time so far too. */
int ad_store_agent_time(ad_store_t *st, const char *org, int64_t from_day, int64_t now,
                        json_t **out);
/* What the credit routes answer (credits.c): org's credits with
 * grantList (its 100 newest grants) into *out (new; AD_EINTERNAL when they
 * cannot be read); a grant of amount to org by `by` with a new "cred_" id,
 * now (as ad_store_credit_grant); the agent time of a range (24h, 7d, 30d
 * (NULL or ""), 90d or all) with range beside it (AD_EINVAL for another
 * range only). */
int ad_store_credits_view(ad_store_t *st, const char *org, json_t **out);
void ad_store_credit_grant_new(ad_store_t *st, const char *org, double amount, const char *note,
                               const char *by, ad_store_result_cb cb, void *ud);
int ad_store_agent_time_range(ad_store_t *st, const char *org, const char *range, int64_t now,
                              json_t **out);
/* ad_store_token_stats of org with credit_org's credits (balance, earned,
 * spent, pending, unit) beside them. 0 or a read error. */
int ad_store_token_figures(ad_store_t *st, const char *org, const char *credit_org, int64_t now,
                           json_t **out);

/* agent_sessions (sessions.c): {sessions: [{id, agentId, sessionData,
 * contextSnapshot, createdAt, updatedAt}]} of the agent, newest first, at
 * most limit. One row per ended run (migration 2431's trigger). */
int ad_store_agent_sessions(ad_store_t *st, const char *agent_id, int limit, json_t **out);

/* import.c: copies a Claude Manager database (path, opened read-only)
 * into agentd's tables, its workspaces in org, in one transaction. cb gets
 * {source, orgId, tables: {<table>: {source, imported, present, skipped}},
 * total: {…}}; AD_EINVAL when path is not such a database. */
void ad_store_import_seed(ad_store_t *st, const char *path, const char *org, int64_t now,
                          ad_store_result_cb cb, void *ud);
/* Whether path may be imported: absolute, and a regular file this daemon
 * can stat; 0, or AD_EINVAL with e naming path. */
int ad_store_import_path_check(const char *path, ad_field_err_t *e);

/* ---- accounts (auth.c) -------------------------------------------------------------
 * Organisations, API tokens and dashboard sessions (both kept as SHA-256
 * hashes only) and the audit log. Loop thread.
 */
#define AD_ORG_DEFAULT "org_default"
/* [{id, name, createdAt}]. */
int ad_store_org_list(ad_store_t *st, json_t **out);
/* The id of the org with this id or name: 0 or AD_ENOENT. */
int ad_store_org_find(ad_store_t *st, const char *id_or_name, char id_out[AD_ID_MAX]);
/* Kinds of rows that belong to an organisation. */
typedef enum {
    AD_STORE_ROW_WORKSPACE,
    AD_STORE_ROW_WORKTREE,
    AD_STORE_ROW_AGENT,
    AD_STORE_ROW_CREW,
    AD_STORE_ROW_RUN, /* a run's org is its agent's */
    AD_STORE_ROW_JOB,
    AD_STORE_ROW_SERVICE,
} ad_store_row_t;
/* The org of the row of kind with id into org_out (the default org when
 * the row names none): 0, AD_ENOENT, or the read's error. */
int ad_store_row_org(ad_store_t *st, ad_store_row_t kind, const char *id, char org_out[AD_ID_MAX]);
/* The word for a row of kind in messages ("workspace", "run", ...). */
const char *ad_store_row_kind_name(ad_store_row_t kind);
/* cb gets {id, name, createdAt}; AD_EEXIST when the name is taken. */
void ad_store_org_create(ad_store_t *st, const char *id, const char *name, int64_t now,
                         ad_store_result_cb cb, void *ud);

typedef struct {
    char id[AD_ID_MAX];
    char name[64];
    char org_id[AD_ID_MAX];
    char scope[8];           /* read, write, admin */
    char secret_hash[65];    /* hex SHA-256 of the secret part */
    int64_t rate_per_minute; /* 0: the default */
    int64_t created_at;
    int64_t expires_at; /* 0: never */
    int64_t revoked_at; /* 0: live */
} ad_store_token_t;
/* Every token, revoked ones too (*out owned: free()). */
int ad_store_tokens_load(ad_store_t *st, ad_store_token_t **out, size_t *n);
/* One token's row by id (tokenread.c): 0, AD_ENOENT, or a read error. */
int ad_store_token_get(ad_store_t *st, const char *id, ad_store_token_t *out);
/* AD_ENOENT when the org does not exist. */
void ad_store_token_insert(ad_store_t *st, const ad_store_token_t *t, ad_store_result_cb cb,
                           void *ud);
/* Revokes a live token and ends its sessions; AD_ENOENT when there is none. */
void ad_store_token_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                           void *ud);

/* ---- user accounts (accounts.c, migration 2905) ----------------------------------
 * A username, an argon2id hash (src/auth's), a home org (whose admins
 * manage it), and per org a role (read, write, admin: a token scope)
 * backed by an API token of its own. Reads: loop thread, indexed. */
#define AD_STORE_ACCOUNT_ROLES 16
typedef struct {
    char org_id[AD_ID_MAX];
    char role[8];
    char token_id[AD_ID_MAX];
} ad_store_account_role_t;
typedef struct {
    char id[AD_ID_MAX];
    char username[40];
    char org_id[AD_ID_MAX];
    char pw_hash[160]; /* argon2id's encoded form */
    int64_t created_at;
    int64_t disabled_at; /* 0: enabled */
    size_t nroles;
    ad_store_account_role_t roles[AD_STORE_ACCOUNT_ROLES];
} ad_store_account_t;
/* The account with this username or id and its roles: 0, AD_ENOENT. */
int ad_store_account_get(ad_store_t *st, const char *id_or_username, ad_store_account_t *out);
/* {id, username, orgId, createdAt, disabledAt?, disabled, roles [{orgId,
 * role}]} (never the hash), roles cut to org's (NULL: all). New ref. */
json_t *ad_store_account_json(const ad_store_account_t *a, const char *org);
/* Those of home org (NULL or "": every account), by username, at most 1000. */
int ad_store_account_list(ad_store_t *st, const char *org, json_t **out);
typedef enum {
    AD_ACCOUNT_OP_CREATE,   /* row */
    AD_ACCOUNT_OP_PASSWORD, /* row.id, row.pw_hash */
    AD_ACCOUNT_OP_DISABLE,  /* row.id: its role tokens revoked */
    AD_ACCOUNT_OP_DELETE,   /* row.id: the same, and the row goes */
    AD_ACCOUNT_OP_ROLE,     /* row.id, org_id, role ("": removed), token_id */
} ad_store_account_kind_t;
typedef struct {
    ad_store_account_kind_t kind;
    ad_store_account_t row;
    char org_id[AD_ID_MAX];
    char role[8];
    char token_id[AD_ID_MAX];
    int64_t now;
} ad_store_account_op_t;
/* cb gets {revoked: [token ids]} (their sessions deleted in the same
 * transaction); AD_EEXIST for a username taken, AD_ENOENT for no such
 * (or, for a role, a disabled) account. */
void ad_store_account_write(ad_store_t *st, const ad_store_account_op_t *op, ad_store_result_cb cb,
                            void *ud);

typedef struct {
    char id_hash[65];         /* hex SHA-256 of the cookie value */
    char token_id[AD_ID_MAX]; /* "": the owner's session */
    int64_t created_at;
    int64_t expires_at;
} ad_store_session_t;
/* Sessions not expired at now (*out owned: free()). */
int ad_store_sessions_load(ad_store_t *st, int64_t now, ad_store_session_t **out, size_t *n);
void ad_store_session_insert(ad_store_t *st, const ad_store_session_t *x, ad_store_result_cb cb,
                             void *ud);
void ad_store_session_delete(ad_store_t *st, const char *id_hash, ad_store_result_cb cb, void *ud);

typedef struct {
    int64_t ts;
    char token_name[64];
    char org_id[AD_ID_MAX]; /* "": the owner */
    char method[12];
    char route[128];
    char target_id[AD_ID_MAX + 16];
    int status;
    char remote[48];
    char detail[1024]; /* what changed, in words (ad_req_set_note); "" none */
} ad_store_audit_t;
/* Queues one audit row (copied); nothing is called back. */
void ad_store_audit_insert(ad_store_t *st, const ad_store_audit_t *a);
/* {entries:[{id, ts, tokenName, orgId, method, route, targetId?, status,
 * remote, detail?}], nextCursor} newest first; org "" or NULL: every org. */
int ad_store_audit_list(ad_store_t *st, const char *org, int limit, int64_t before_id,
                        json_t **out);
/* Deletes rows older than before_ts. */
void ad_store_audit_trim(ad_store_t *st, int64_t before_ts);

/* ---- runs (runs.c; written by the runner, src/run) ------------------------------
 * The run object: id, agentId, startedAt, endedAt, status (running,
 * succeeded, failed, stopped, lost, degraded: it ended well but some of
 * its output was lost, issue #41), exitCode, signal, durationMs,
 * inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd,
 * numTurns (null where not known yet), name, color, tags, notes, group
 * (issue #35: name and color have defaults; see AD_RUN_NAME_SQL).
 */
/* Statuses are enums in the typed writes, so a misspelt one does not
 * compile. */
typedef enum {
    AD_RUN_RUNNING = 0,
    AD_RUN_SUCCEEDED,
    AD_RUN_FAILED,
    AD_RUN_STOPPED,
    AD_RUN_LOST,
    AD_RUN_DEGRADED,
} ad_run_status_t;
/* What a run makes of its agent. AD_AGENT_STATUS_KEEP (0) leaves the stored
 * status as it is. */
typedef enum {
    AD_AGENT_STATUS_KEEP = 0,
    AD_AGENT_STATUS_RUNNING,
    AD_AGENT_STATUS_WAITING,
    AD_AGENT_STATUS_ERROR,
    AD_AGENT_STATUS_FINISHED,
    AD_AGENT_STATUS_IDLE,
    AD_AGENT_STATUS_PAUSED,
    AD_AGENT_STATUS_STOPPED, /* the user stopped its run */
} ad_agent_status_t;
/* The column and wire names ("succeeded", "waiting", …): static strings;
 * NULL for AD_AGENT_STATUS_KEEP or a value out of range. Any thread. */
const char *ad_run_status_name(ad_run_status_t s);
const char *ad_agent_status_name(ad_agent_status_t s);
/* Why an agent has its status (issue #33): stored as agents.status_reason
 * {code, text, at, ref} with every change of status, and kept in the
 * agent's status history (migration 2470). code is a short word
 * ("run_started", "turn_ended", "approval_requested", "exited", "lost", …),
 * text what a person reads, ref the id of what caused it (a message,
 * approval or run id; "" for none). code "" means no reason: the store then
 * records "unexplained" for a status that changed. */
typedef struct {
    char code[32];
    char text[256];
    char ref[128];
} ad_store_status_reason_t;
/* Fills r from code, ref (NULL: none) and a printf text. Any thread. */
void ad_status_reason_set(ad_store_status_reason_t *r, const char *code, const char *ref,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* {agentId, entries:[{status, code, text, ref, at}]} newest first, at most
 * limit (1-200). AD_ENOENT for an unknown agent. Loop thread. */
int ad_store_status_history(ad_store_t *st, const char *agent_id, int limit, json_t **out);
int ad_store_run_get(ad_store_t *st, const char *id, json_t **out);
/* A run's identity (issue #35): args {id, set: {name?, color?, tags?,
 * notes?, group?}}, each a string (tags a JSON array) or null for the
 * default; checked by the caller, taken by the call (as ad_store_write's
 * args). cb gets the run (a reference it owns), or
 * AD_ENOENT. Loop thread. */
void ad_store_run_patch(ad_store_t *st, json_t *args, ad_store_result_cb cb, void *ud);
/* {runs:[…]} of one agent, newest first, at most limit (1-1000; else 100). */
int ad_store_run_list(ad_store_t *st, const char *agent_id, int limit, json_t **out);
/* The agent (any, archived too), its worktree's workspace id and path
 * ("" when the worktree is gone). 0 or AD_ENOENT. Loop thread. */
int ad_store_runs_agent_get(ad_store_t *st, const char *id, json_t **agent,
                            char workspace_id[AD_ID_MAX], char *path, size_t pathsz);
/* A run begins: a 'running' run row; the agent becomes running with pid and
 * startedAt, its state.statusReason cleared. AD_ENOENT for an unknown
 * agent. cb gets {run, agent}. Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    int64_t now;
    int64_t pid;                  /* 0: not known */
    char *config;                 /* the run's config as JSON text, or NULL; malloc'd, taken
                                     over by the call (freed after the write) */
    ad_store_status_reason_t why; /* the agent's new statusReason */
    char node_id[AD_ID_MAX];      /* the worker node it runs on (issue #34); "": here */
} ad_store_run_start_t;
void ad_store_run_start(ad_store_t *st, const ad_store_run_start_t *s, ad_store_result_cb cb,
                        void *ud);

/* The version of the CLI a run uses (runs.cli_version, `cliVersion` on the
 * wire); an unknown run id changes nothing. cb gets NULL. Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    char version[64];
} ad_store_run_cli_version_t;
void ad_store_run_cli_version(ad_store_t *st, const ad_store_run_cli_version_t *v,
                              ad_store_result_cb cb, void *ud);

/* A live run's usage so far (after each turn): tokens, cost and turns of the
 * row while it is running (an ended or unknown run changes nothing; the end
 * writes the totals again). cb gets NULL. Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
    int64_t num_turns;
} ad_store_run_usage_t;
void ad_store_run_usage(ad_store_t *st, const ad_store_run_usage_t *u, ad_store_result_cb cb,
                        void *ud);

/* A run ends: its status, exit, duration and usage; the agent gets
 * agent_status, no pid, stoppedAt, and state.statusReason = reason when one
 * is given. cb gets {run, agent}; AD_EINVAL for status AD_RUN_RUNNING or
 * agent_status AD_AGENT_STATUS_KEEP (nothing is written). Loop thread. */
typedef struct {
    char id[AD_ID_MAX];
    char agent_id[AD_ID_MAX];
    ad_run_status_t status;         /* how it ended: not AD_RUN_RUNNING */
    ad_agent_status_t agent_status; /* what the agent becomes: not KEEP */
    char reason[256];               /* "": none (state.statusReason, the old string) */
    ad_store_status_reason_t why;   /* the agent's new statusReason */
    int64_t now;
    int64_t duration_ms;
    bool has_exit_code;
    int exit_code;
    int signal; /* 0: none */
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double cost_usd;
    int64_t num_turns;
} ad_store_run_end_t;
void ad_store_run_end(ad_store_t *st, const ad_store_run_end_t *e, ad_store_result_cb cb, void *ud);

/* What a live run changes on its agent; empty fields stay as they are.
 * state_patch (an object, or NULL) is merged key by key into state; the
 * reference is taken. AD_ENOENT for an unknown agent. cb gets {agent}. */
typedef struct {
    char id[AD_ID_MAX];
    int64_t now;
    ad_agent_status_t status;     /* AD_AGENT_STATUS_KEEP: unchanged */
    ad_store_status_reason_t why; /* code "": statusReason unchanged */
    char session_id[256];         /* "": unchanged */
    int context_level;            /* < 0: unchanged */
    json_t *state_patch;
} ad_store_agent_runtime_t;
void ad_store_agent_runtime(ad_store_t *st, const ad_store_agent_runtime_t *u,
                            ad_store_result_cb cb, void *ud);

/* Inserts msgs[0..n) (plain inserts: each agent and run must exist), all
 * or none, and calls done after the commit. msgs and every string they
 * point to are borrowed until done. Loop thread. */
void ad_store_messages_insert(ad_store_t *st, const ad_store_message_t *msgs, size_t n,
                              ad_store_done_cb done, void *ctx);

/* Every run still 'running' (left by a daemon that died) becomes 'lost'
 * with endedAt/durationMs; its agent becomes 'error' with no pid and
 * state.statusReason = reason. cb gets {runs:[{id, agentId, startedAt}],
 * agents:[…]}. Loop thread. */
void ad_store_runs_reconcile(ad_store_t *st, int64_t now, const char *reason, ad_store_result_cb cb,
                             void *ud);
/* The same, leaving alone the runs named in keep (NULL-terminated, may be
 * NULL; copied): those a new daemon has taken up again from their holders.
 * Each lost run in the result also has the agent's last `pid` (or null),
 * so what an older daemon left running without a holder can be found. */
void ad_store_runs_reconcile_keep(ad_store_t *st, int64_t now, const char *reason,
                                  const char *const *keep, ad_store_result_cb cb, void *ud);
/* Where a held run's output is to be read again: the largest stored
 * hold_out and hold_err of its messages (0 when none), read from the run's
 * row of run_hold (migration 2850), which the message writes keep in the
 * same commit. Loop thread. */
int ad_store_run_hold_offsets(ad_store_t *st, const char *run_id, int64_t *out, int64_t *err);
/* The stop asked of a running run (runstop.c, migration 2480): mark queues
 * the write (the first since is kept, force only rises); asked reads it
 * back (*since 0: none), for a run taken up from its holder. Loop thread. */
void ad_store_run_stop_mark(ad_store_t *st, const char *run_id, int64_t since, bool force);
int ad_store_run_stop_asked(ad_store_t *st, const char *run_id, int64_t *since, bool *force);
/* ---- MCP tasks (mcptasks.c, migration 2670) -----------------------------------------
 * A task row: {taskId (its run's id), orgId, agentId, createdAt, updatedAt (ms),
 * status (working, completed, failed, cancelled), statusMessage, result (the
 * tool result it ended with, or null)}. */
/* args {id, orgId, agentId, now}: result args. */
int ad_store_op_mcp_task_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, status, statusMessage?, result?, now}: ends a working task
 * (one that ended already keeps its end). result {changed}. */
int ad_store_op_mcp_task_end(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The row of id, or AD_ENOENT. Loop thread. */
int ad_store_mcp_task_get(ad_store_t *st, const char *id, json_t **out);
/* Rows of org ("" every org), newest first, after the task after_id (NULL:
 * from the newest), of status (NULL: any), at most limit (1-1000): an
 * array. Loop thread. */
int ad_store_mcp_task_list(ad_store_t *st, const char *org, const char *after_id,
                           const char *status, int limit, json_t **out);
/* ---- a run's trace (spans.c, migration 2671) ------------------------------------------
 * A span: {spanId, traceId, parentSpanId (or null), name, kind, startUs, endUs
 * (Unix microseconds), status (0 unset, 1 ok, 2 error), statusMessage?,
 * service?, source ("agentd" or "run"), attrs (an object)}. */
/* args {runId, source, max, spans: [span]}: the spans not yet kept, while
 * the run has fewer than max (the rest dropped); a run that is not there
 * keeps nothing. result {stored, dropped}. */
int ad_store_op_run_spans_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The run's spans by start, at most limit (0: 10000), read on the pool;
 * cb gets them (an array, owned by cb) on the loop. */
void ad_store_run_spans(ad_store_t *st, const char *run_id, int limit, ad_store_result_cb cb,
                        void *ud);
/* ---- worker nodes (nodes.c, migration 2750, issue #34) ------------------------------
 * A node: {id, orgId, name, labels, caps, createdAt, lastSeenAt, revokedAt?,
 * tokenId}. */
typedef struct {
    char id[AD_ID_MAX]; /* for a new row */
    char org_id[AD_ID_MAX];
    char name[64];
    char token_id[AD_ID_MAX];
    char *labels, *caps; /* JSON text, borrowed (copied by the call) */
    int64_t now;
} ad_store_node_join_t;
/* A node joins (or comes back): its row by its token, made or updated
 * (labels, caps, last seen). cb gets the row; AD_EEXIST with the row in
 * the way when the token is another name's key or the name another
 * token's, AD_EPERM (with the row) when the token's node was revoked.
 * A revoked node's name is taken over by a new token. Loop thread. */
void ad_store_node_join(ad_store_t *st, const ad_store_node_join_t *j, ad_store_result_cb cb,
                        void *ud);
/* A renewal: caps (JSON text, borrowed; NULL: unchanged) and the time
 * last seen. Queued; nothing is answered. Loop thread. */
void ad_store_node_seen(ad_store_t *st, const char *id, const char *caps, int64_t now);
/* Marks the node revoked; cb gets its row, or AD_ENOENT (unknown, or
 * revoked already). Loop thread. */
void ad_store_node_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                          void *ud);
/* One node (AD_ENOENT), or every node of org ("" or NULL: all) by name;
 * new references. Loop thread. */
int ad_store_node_get(ad_store_t *st, const char *id, json_t **out);
int ad_store_nodes_list(ad_store_t *st, const char *org, json_t **out);
/* Runs still running on nodes: [{id, agentId, nodeId, startedAt}] (new
 * reference). Loop thread, at start-up. */
int ad_store_runs_on_nodes(ad_store_t *st, json_t **out);

/* ---- control planes and run leases (planes.c, migration 2870, issue #39) -------------
 * Several control planes on one database. Times are wall ms. */
typedef struct {
    const char *id, *url;       /* the plane's id and advertised URL (borrowed) */
    int64_t started_ms, now_ms; /* its start, and now */
    int64_t lease_ms;           /* how long a renewed lease lasts */
    const char *const *runs;    /* the runs it runs now (borrowed; copied) */
    size_t nruns;
} ad_store_plane_beat_t;
/* The heartbeat: the plane's row, the lease of each of its runs renewed
 * (or taken, when it has none or a lapsed one; another live plane's is left
 * alone), the leases of its runs that ended let go. Loop thread. */
void ad_store_plane_beat(ad_store_t *st, const ad_store_plane_beat_t *in, ad_store_result_cb cb,
                         void *ud);
/* Takes the leases of the running runs on nodes whose lease lapsed (or that
 * have none and started more than lease_ms ago), and of the running runs
 * here among held[0..nheld) (borrowed; copied) under the same rule: cb gets
 * the ids this plane won ([run_id...], at most 256 of each a call). One
 * conditional upsert a run, so of two planes trying, one wins. Loop
 * thread. */
void ad_store_plane_take(ad_store_t *st, const char *plane_id, int64_t now_ms, int64_t lease_ms,
                         const char *const *held, size_t nheld, ad_store_result_cb cb, void *ud);
/* The planes heard from since live_since_ms: [{id, url, startedAt,
 * heartbeatAt, runs (leases held)}] (new reference). Loop thread. */
int ad_store_planes_list(ad_store_t *st, int64_t live_since_ms, json_t **out);
/* Whose lease run_id is under and until when: 0, or AD_ENOENT (none). */
int ad_store_run_lease(ad_store_t *st, const char *run_id, char plane_id[AD_ID_MAX],
                       int64_t *expires_ms);
/* Whether run_id is under a live lease of a plane other than plane_id. */
bool ad_store_run_leased_elsewhere(ad_store_t *st, const char *plane_id, const char *run_id,
                                   int64_t now_ms);
/* The runs under live leases of other planes: [run_id...] (new reference). */
int ad_store_runs_leased_elsewhere(ad_store_t *st, const char *plane_id, int64_t now_ms,
                                   json_t **out);

/* ---- runs across agents and their statistics (stats.c, migration 0800) ----------------
 * Run objects here also carry agentName, crewId and orgId. */
typedef struct {
    const char *org;        /* "" or NULL: every org */
    const char *status;     /* NULL: any */
    const char *crew_id;    /* NULL: any */
    const char *agent_id;   /* NULL: any */
    int64_t since;          /* started at or after (ms); 0: any */
    int64_t before_started; /* the cursor's run: its start and id; 0: first page */
    const char *before_id;
    int limit; /* 1-500; else 50 */
} ad_store_runs_query_t;
/* A request's query parameter by name, or NULL (the caller's reader). */
typedef const char *(*ad_store_query_fn)(void *ud, const char *key);
/* GET /api/runs's status=, crewId=, agentId=, limit= (1-500, 50) and
 * since= (ms or RFC 3339) read through get into q (strings stay get's;
 * the cursor is the caller's). 0, or AD_EINVAL with e. */
int ad_store_runs_parse(ad_store_runs_query_t *q, ad_store_query_fn get, void *ud,
                        ad_field_err_t *e);
/* {runs:[…] newest first, nextCursor (a run id, or null)}. Loop thread. */
int ad_store_runs_query(ad_store_t *st, const ad_store_runs_query_t *q, json_t **out);
/* The same page as JSON text appended to out, written row by row (what the
 * API sends). out's max should be AD_STORE_RUNS_TEXT_MAX (500 runs of
 * bounded fields, with tags and notes at their caps). Loop thread. */
#define AD_STORE_RUNS_TEXT_MAX (64u << 20)
int ad_store_runs_query_text(ad_store_t *st, const ad_store_runs_query_t *q, ad_buf_t *out);
/* The start of run_id (a cursor): 0 or AD_ENOENT. Loop thread. */
int ad_store_run_started_at(ad_store_t *st, const char *run_id, int64_t *started_at);
/* Figures of the runs ended on from_day (days since 1970-01-01 UTC) or
 * later, in org ("" every org): {totalRuns, succeeded, failed, stopped,
 * lost, liveRuns, successRate (of succeeded and failed; null without either),
 * inputTokens, outputTokens, totalTokens, costUsd (the ended runs' and the
 * usage so far of those still running, as the agents show it), latency
 * {run, tool: {p50Ms, p95Ms, count}}}. Reads daily aggregates and the
 * running runs. Loop thread. */
int ad_store_run_stats(ad_store_t *st, const char *org, int64_t from_day, json_t **out);
/* ---- dashboard figures (dashstats.c), loop thread ---- */
/* The first day (days since 1970-01-01 UTC) a range covers at now: 24h,
 * 7d, 30d, 90d or all (day 0). 0 or AD_EINVAL. Any thread. */
int ad_store_range_from(const char *range, int64_t now, int64_t *from_day);
/* ad_store_run_stats of range with range, activeCrews (crews of org with
 * an agent alive) and recentRuns (the 5 newest). 0, AD_EINVAL (range) or
 * a read error. */
int ad_store_dashboard_stats(ad_store_t *st, const char *org, const char *range, int64_t now,
                             json_t **out);
/* This month's spend of org against the monthly limits (settings),
 * projected to the month's end at the rate so far: {period, spentTokens,
 * budgetTokens, projectedTokens, remainingTokens, spentUsd, projectedUsd,
 * budgetUsd, elapsedFraction, remainingUsd} (a budget not set is null). */
int ad_store_token_stats(ad_store_t *st, const char *org, int64_t now, json_t **out);
/* A dashboard report as a download (dashexport.c), any thread. The check:
 * name one of stats, tokens, rentals; *format csv (also when NULL or "")
 * or pdf; 0 or AD_EINVAL with e. The render: out (the report's figures)
 * as a table, metric/value rows or, for rentals, one row per agent and a
 * total, written as CSV or PDF into b (cells from arena), and the
 * Content-Disposition naming the file (agentd-<name>-<day>.<format>) into
 * file; 0 or the writer's error. */
#define AD_REPORT_MAX (4u << 20)
int ad_store_report_check(const char *name, const char **format, ad_field_err_t *e);
int ad_store_report_render(const char *name, const char *format, const json_t *out,
                           ad_arena_t *arena, int64_t now, ad_buf_t *b, char *file, size_t filesz);
/* Counts a finished tool call's duration in org's tool latency histogram
 * (fire and forget). Loop thread. */
void ad_store_tool_timed(ad_store_t *st, const char *org, int64_t now_ms, int64_t duration_ms);

/* ---- git worktrees (gitrows.c, migration 0200) -----------------------------------
 * Workspace objects here also carry setupFiles (array of relative paths) and
 * setupCommand; worktree objects carry vanishedAt (only when the folder
 * vanished outside agentd while agents used it) and setup (the outcome of
 * the workspace's setup in it, or absent).
 */
/* args as ad_store_op_workspace_insert plus setupFiles?, setupCommand? and
 * linked:[{id, name, branch, path}] (the linked worktrees git reported).
 * result {workspace, worktrees:[…]}. */
int ad_store_op_workspace_git_create(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {workspaceId, now, worktrees: git's list (ad_git_worktree_list)}:
 * rows follow git. A new worktree gets a row; a changed branch is updated;
 * a row whose folder is gone is deleted, or when it has agents kept with
 * vanishedAt set and its agents flagged (worktreeVanishedAt); a vanished one
 * that is back is unflagged. The main row is never removed.
 * result {workspace, worktrees, changes:{added, updated, vanished, restored
 * (ids), removed (rows), flaggedAgents, unflaggedAgents (ids)}}. */
int ad_store_op_workspace_git_sync(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args as ad_store_op_worktree_insert plus setup? (JSON). result
 * {worktree} with vanishedAt and setup. */
int ad_store_op_worktree_git_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, sandbox (an object, or null: agentd's default)}: the
 * workspace's sandbox policy (checked by src/api). result {workspace,
 * old (the policy before, or null)}. AD_ENOENT for an unknown one. */
int ad_store_op_workspace_sandbox_set(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, setupFiles?, setupCommand?}: result {workspace}. */
int ad_store_op_workspace_setup_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A worktree's setup outcome, written after the setup ran with no request
 * behind it. setup (the outcome object: state, exitCode, output…) is
 * taken. */
typedef struct {
    char id[AD_ID_MAX];
    int64_t now;
    json_t *setup;
} ad_store_worktree_setup_t;
/* Records the outcome. cb gets {worktree} with vanishedAt and setup;
 * AD_ENOENT when the worktree is gone. Loop thread. */
void ad_store_worktree_setup_save(ad_store_t *st, const ad_store_worktree_setup_t *in,
                                  ad_store_result_cb cb, void *ud);
/* Approves the workspace's setup command to run in new worktrees, if it is
 * still command (AD_ESTATE when it changed meanwhile). Loop thread. */
void ad_store_setup_command_approve(ad_store_t *st, const char *ws_id, const char *command,
                                    ad_store_result_cb cb, void *ud);
/* ---- recorded merges (merges.c, migration 2320) ----------------------------------
 * A merge object: id, worktreeId, branch, into, strategy, head (the
 * worktree commit merged), commit (the base branch afterwards), previous
 * (the base branch before, or null), createdAt. */
/* args {id, worktreeId, branch, into, strategy, head, commit, previous?,
 * now}: records a merge agentd made. result {merge: args}. */
int ad_store_op_worktree_merge_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* {merges:[…]}: a worktree's recorded merges, newest first, at most 100.
 * Loop thread. */
int ad_store_worktree_merges(ad_store_t *st, const char *worktree_id, json_t **out);

/* ---- a worktree's pull request (prs.c, migration 2410) ------------------------------
 * A PR object: worktreeId, forge, apiBase, owner, repo, number, url, title,
 * head, base, state (open|closed|merged), draft, createdAt, updatedAt. */
/* args {worktreeId, forge, apiBase, owner, repo, number, url, title, head,
 * base, state, draft, now}: records (or replaces) the worktree's PR. */
int ad_store_op_worktree_pr_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The worktree's PR, or AD_ENOENT. */
int ad_store_worktree_pr(ad_store_t *st, const char *worktree_id, json_t **out);
/* Loop thread: the workspace with setup columns and "worktrees". */
int ad_store_git_workspace_get(ad_store_t *st, const char *id, json_t **out);
/* Loop thread: the worktree row with vanishedAt and setup. */
int ad_store_git_worktree_get(ad_store_t *st, const char *id, json_t **out);

#ifdef AD_TEST_BUILD
/* Test builds (src/store/testhooks.c), for the test routes: a run row with
 * a given status, and an agent's status set directly. done gets AD_ENOENT
 * for an unknown agent. Loop thread. */
typedef struct {
    int64_t duration_ms; /* < 0: none (a running run) */
    int64_t input_tokens, output_tokens;
    double cost_usd;
    char node[64]; /* runs.node_id; "": the control plane's (NULL) */
} ad_store_test_run_t;
/* x (may be NULL) gives a finished run its figures. */
void ad_store_test_run_insert(ad_store_t *st, const char *id, const char *agent_id,
                              const char *status, const ad_store_test_run_t *x,
                              ad_store_done_cb done, void *ctx);
void ad_store_test_agent_status(ad_store_t *st, const char *agent_id, const char *status,
                                ad_store_done_cb done, void *ctx);
#endif

/* ---- the LLM workbench (llm.c) -----------------------------------------------------
 * The chat object: id, orgId, title, provider (anthropic/openai), model, system, definition,
 * projectId, temperature, maxTokens, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens,
 * costUsd, createdAt, updatedAt. The chat message: id, chatId, role (user/assistant), content,
 * status (complete, streaming, stopped, error, interrupted), error?, model?, stopReason?, token
 * counts, costUsd?, attempts?, createdAt, updatedAt. The credential (metadata only, never the key):
 * orgId, provider, last4, email, baseUrl, status (unchecked/valid/invalid), statusReason,
 * validatedAt, createdAt, updatedAt. Reads on the loop's read connection; writes are ops for
 * ad_store_write.
 */
int ad_store_chat_get(ad_store_t *st, const char *id, json_t **out);
/* The chats of org ("" or NULL: every org), last changed first. Array. */
int ad_store_chat_list(ad_store_t *st, const char *org, int limit, json_t **out);
/* The last limit messages of a chat, oldest first. Array. */
int ad_store_chat_messages(ad_store_t *st, const char *chat_id, int limit, json_t **out);
/* A page of a chat's messages on the pool: the limit messages before the
 * message `before` (NULL: the newest), oldest first, as {messages,
 * hasMore}. AD_ENOENT when before is no message of that chat. */
void ad_store_chat_messages_page(ad_store_t *st, const char *chat_id, const char *before, int limit,
                                 ad_store_result_cb cb, void *ud);
/* args {id, orgId, model, provider?, title?, system?, definition?,
 * projectId?, temperature?, maxTokens?, now}. result {chat}. */
int ad_store_op_chat_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: the chat and its messages. result {id, deleted}. */
int ad_store_op_chat_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {chatId, userId, assistantId, content, model, now}: the user's
 * message and a streaming assistant placeholder. result {user, assistant}. */
int ad_store_op_chat_turn_begin(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {chatId, messageId, content, status, error?, model, stopReason?,
 * inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd,
 * attempts, now}: the answer, the chat's totals and the usage tables, all
 * or nothing. AD_ENOENT when the answer is no longer streaming. result
 * {message}. */
int ad_store_op_chat_turn_end(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {now}: answers a previous daemon left streaming become interrupted. */
int ad_store_op_chats_reconcile(ad_store_tx_t *tx, json_t *args, json_t **result);
int ad_store_cred_get(ad_store_t *st, const char *org, const char *provider, json_t **out);
/* The credentials of org ("" or NULL: every org). Array. */
int ad_store_cred_list(ad_store_t *st, const char *org, json_t **out);
/* args {orgId, provider, last4, email?, baseUrl?, setBaseUrl, now}: status
 * goes back to unchecked; baseUrl changes only with setBaseUrl. result
 * {credential}. */
int ad_store_op_cred_upsert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {orgId, provider}. result {provider, deleted}. */
int ad_store_op_cred_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {orgId, provider, status, reason?, now}. result {credential}. */
int ad_store_op_cred_status(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Projects (projects.c). The project: id, orgId, userId?, name,
 * description?, chatId?, createdAt, updatedAt, and the usage of the chats
 * whose projectId it is (inputTokens, outputTokens, costUsd); loaded whole it also has
 * messages [{position, role, content, createdAt}] and files [{path,
 * content, size, updatedAt}]. */
int ad_store_project_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("" or NULL: every org) and, when given, user_id; with fileCount.
 * Array, last changed first, at most 500. */
int ad_store_project_list(ad_store_t *st, const char *org, const char *user_id, json_t **out);
/* The whole project, read on the thread pool: cb(rc, project (owned), ud). */
void ad_store_project_load(ad_store_t *st, const char *id, ad_store_result_cb cb, void *ud);
/* args {id, orgId, name, userId?, description?, chatId?, now}. result {project}. */
int ad_store_op_project_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, description?, messages? [{role, content}], files?
 * [{path, content}]}: the given parts replace the stored ones, all in this
 * one transaction. result {project (with messageCount, fileCount)}. */
int ad_store_op_project_save(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, changes [{path, content} | {path, delete: true}]}: all or
 * none (AD_ENOENT when a file to delete is not there). result {id, files
 * [{path, size, updatedAt}]}. */
int ad_store_op_project_files(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A project's sync folder (projects_sync.c, migration 2432): set (path) or
 * cleared (NULL), cb gets {id, syncPath?}, AD_ENOENT for no such project;
 * synced: the time its last sync ended; list: [{id, path, syncedAt}] of
 * the synced projects (id NULL: all, at most 100). */
void ad_store_project_sync_set(ad_store_t *st, const char *id, const char *path,
                               ad_store_result_cb cb, void *ud);
void ad_store_project_synced(ad_store_t *st, const char *id, int64_t at, ad_store_result_cb cb,
                             void *ud);
int ad_store_project_sync_list(ad_store_t *st, const char *id, json_t **out);
/* args {id}: the project, its messages and files. result {id, deleted}. */
int ad_store_op_project_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* ---- hyper-parameter configs (hparams.c, migration 1900) -------------------------
 * A schema: id, orgId, name, createdAt, builtIn: false and its definition's
 * keys (description, fields, presets; see src/hparam/hparam.h). A config:
 * id, orgId, name, schemaId, values {field: value}, createdAt, updatedAt.
 * Loop thread for the reads. */
int ad_store_cfg_schema_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("" or NULL: every org), by name; at most 1000. Array. */
int ad_store_cfg_schema_list(ad_store_t *st, const char *org, json_t **out);
/* args {id, orgId, name, definition, now}. result {schema}. */
int ad_store_op_cfg_schema_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}. AD_ESTATE (result {id, configs}) while configs use it. result
 * {id, deleted}. */
int ad_store_op_cfg_schema_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The config schema id as a caller who sees filter's rows ("" or NULL:
 * every org's) may use it for a config of org (NULL: any org): a built-in,
 * or a stored one of that org. New reference, or NULL. */
json_t *ad_store_cfg_schema_for(ad_store_t *st, const char *id, const char *filter,
                                const char *org);
int ad_store_config_get(ad_store_t *st, const char *id, json_t **out);
/* A config or config schema row (borrowed) created, updated or deleted
 * (change): config_update {id, change, config} when type is
 * "config_update", else type {id, change, schema}, to the row's org. */
void ad_store_cfg_publish(struct ad_bus *bus, const char *type, json_t *row, const char *change);
/* Of org ("" or NULL: every org) and schema_id (NULL: any), last changed
 * first, at most 1000. Array. */
int ad_store_config_list(ad_store_t *st, const char *org, const char *schema_id, json_t **out);
/* args {id, orgId, name, schemaId, values, now}. result {config}. */
int ad_store_op_config_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, values?}. result {config}. */
int ad_store_op_config_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}. result {id, deleted}. */
int ad_store_op_config_delete(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- the runs table (runtable.c, issue #16) ----------------------------------------
 * Runs of an org (and an agent or a workspace) with the config they were
 * started with and a summary of chosen metrics from metric_series. A key
 * is what a column, a sort or a filter names: a run column, a config field
 * or a statistic of one of the chosen metrics. Names are checked by the
 * caller (config fields are identifiers); values are bound, never pasted. */
#define AD_STORE_RT_METRICS_MAX 8
#define AD_STORE_RT_FILTERS_MAX 8
typedef enum {
    AD_RT_KEY_STARTED = 0, /* startedAt */
    AD_RT_KEY_DURATION,    /* duration (ms; a running run's so far) */
    AD_RT_KEY_STATUS,
    AD_RT_KEY_AGENT, /* the agent's name */
    AD_RT_KEY_CONFIG,
    AD_RT_KEY_METRIC,
} ad_store_rt_kind_t;
typedef enum { AD_RT_FINAL = 0, AD_RT_BEST, AD_RT_MIN, AD_RT_MAX } ad_store_rt_stat_t;
typedef struct {
    ad_store_rt_kind_t kind;
    char field[72];          /* AD_RT_KEY_CONFIG: the field's name */
    int metric;              /* AD_RT_KEY_METRIC: index into metrics */
    ad_store_rt_stat_t stat; /* AD_RT_KEY_METRIC */
} ad_store_rt_key_t;
typedef enum { AD_RT_EQ = 0, AD_RT_NE, AD_RT_LT, AD_RT_LE, AD_RT_GT, AD_RT_GE } ad_store_rt_op_t;
typedef struct {
    ad_store_rt_key_t key;
    ad_store_rt_op_t op;
    bool is_text; /* compare with text, else with num */
    double num;
    char text[200];
} ad_store_rt_filter_t;
typedef struct {
    const char *org;          /* "" every org */
    const char *agent_id;     /* NULL: any */
    const char *workspace_id; /* NULL: any */
    const char *tag;          /* NULL: any; else runs with this tag */
    const char *group;        /* NULL: any; else runs of this group */
    int has_metrics;          /* 0 any; 1 runs with points or distributions; -1 without */
    unsigned statuses;        /* bit (1 << ad_run_status_t); 0: any */
    size_t nmetrics;
    struct {
        char name[128];
        bool lower_is_better; /* best is the min, else the max */
        bool goal_given;      /* named with :min or :max; else the setting or the name says */
    } metrics[AD_STORE_RT_METRICS_MAX];
    size_t nfilters;
    ad_store_rt_filter_t filters[AD_STORE_RT_FILTERS_MAX];
    ad_store_rt_key_t sort;
    bool ascending;
    int64_t now; /* ms: the duration of running runs */
    int limit;   /* 1-500 */
    int offset;
} ad_store_rt_query_t;
/* {runs: [{id, agentId, agentName, status, startedAt, endedAt, durationMs,
 * config {id, name, schemaId, values} | null, name, color, tags, notes,
 * group, lastMetricAt (the newest point's time, or null: no series),
 * metrics {name: {final, best, min, max, count, lastStep} | null}}],
 * total}. Loop thread. */
int ad_store_run_table(ad_store_t *st, ad_store_rt_query_t *q, json_t **out);
/* The query's words (rtquery.c), each added to q: metrics "reward,loss:min"
 * (at most 8; ":min" when lower is better), statuses "succeeded,failed",
 * filters "KEY OP VALUE,..." (at most 8; OP = != < <= > >=) and the sort
 * KEY (startedAt, duration, status, agent, a config field, or
 * <metric>.final|best|min|max, which adds the metric). NULL or "" adds
 * nothing. 0, or AD_EINVAL. Any thread. */
int ad_store_rt_parse_metrics(ad_store_rt_query_t *q, const char *list);
int ad_store_rt_parse_statuses(ad_store_rt_query_t *q, const char *list);
int ad_store_rt_parse_filters(ad_store_rt_query_t *q, const char *list);
int ad_store_rt_parse_sort(ad_store_rt_query_t *q, const char *key);
/* The whole query string of GET /api/training/runs read through get:
 * metrics=, status=, sort=, order=, limit= (1-500, 100), offset=,
 * filter=, tag=, group=, hasMetrics= (the strings stay get's). 0, or
 * AD_EINVAL with the first bad parameter in e. */
int ad_store_rt_parse_query(ad_store_rt_query_t *q, ad_store_query_fn get, void *ud,
                            ad_field_err_t *e);
/* What the answer says of q beside the runs: metrics [{name, goal}], limit,
 * offset (into out). */
void ad_store_rt_answer(const ad_store_rt_query_t *q, json_t *out);

/* args {runId, commit}: the commit the run started from (runs.git_commit,
 * migration 2731; runs.c). */
int ad_store_op_run_commit(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- saved panel layouts (layouts.c, migration 2730, issue #35) ---------------
 * One per organisation and scope ("" every workspace's runs, else a
 * workspace id); the layout is checked by src/hparam before it is written. */
/* {scope, layout, updatedAt}: 0, AD_ENOENT (none saved). Loop thread. */
int ad_store_layout_get(ad_store_t *st, const char *org, const char *scope, json_t **out);
/* args {orgId, scope, layout?, now}: stores layout (replacing the scope's),
 * or without layout forgets it; result: the row as ad_store_layout_get's
 * ({scope, layout: null} once forgotten) with orgId. */
int ad_store_op_layout_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A layout_put's result published as layout_update to its org: orgId is
 * taken out of result (it rides there only to name the topic). */
void ad_store_layout_publish(struct ad_bus *bus, json_t *result);

/* ---- approvals (approvals.c) -------------------------------------------------
 * Permission prompts of runs (see the file's comment for the object). */
/* One approval: 0, AD_ENOENT. Loop thread. */
int ad_store_approval_get(ad_store_t *st, const char *id, json_t **out);
/* The agent's newest 200 approvals (pending_only: those still waiting) as
 * an array, newest first. Loop thread. */
int ad_store_approval_list(ad_store_t *st, const char *agent_id, bool pending_only, json_t **out);
/* The pending approvals of run_id with the CLI's request ids, [{id,
 * requestId}] oldest first (at most 64): what a run taken up after a
 * restart still waits on. For the runner only: request ids never go out.
 * Loop thread. */
int ad_store_approval_pending_of_run(ad_store_t *st, const char *run_id, json_t **out);
/* args {id, agentId, runId, orgId, requestId, toolName, toolUseId?, input,
 * description?, now}; result: the approval. */
int ad_store_op_approval_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, decision: allow|deny|allow_always, status: allowed|denied, by,
 * now}: decides a pending approval (allow_always also adds its tool to the
 * agent's permissions); result: the approval. AD_ENOENT, or AD_ESTATE when
 * it is no longer pending. */
int ad_store_op_approval_decide(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {runId, requestId? (absent: all of the run's), status, now}: ends
 * pending approvals without a decision (cancelled, expired). */
int ad_store_op_approval_close(ad_store_tx_t *tx, json_t *args, json_t **result);
/* ---- training-metric series (series.c, migration 1500, issue #16) -----------------
 * Not the daemon's own /metrics (api/metrics.c) nor the health sampler's
 * rings: points that runs report, kept until the run is deleted.
 * Appends: batch {runId, orgId, now (ms, for points without ts), points:
 * [{name, value, step?, ts?}]} checked by the caller (names non-empty,
 * values finite); one writer job whatever its size; cb gets {points,
 * series}. Takes the batch (as ad_store_write its args). */
void ad_store_series_append(ad_store_t *st, json_t *batch, ad_store_result_cb cb, void *ud);
/* [{name, count, firstStep, lastStep, firstTimeMs, lastTimeMs,
 * firstValue, lastValue, minValue, maxValue}] of a run. Loop thread. */
int ad_store_series_list(ad_store_t *st, const char *run_id, json_t **out);

#define AD_SERIES_RUNS_MAX 16
#define AD_SERIES_NAME_MAX 200
/* A bucketed read of one series over one or several runs, on the thread
 * pool; done(rc, q) on the loop, with q->out = {name, x, from, to,
 * bucketCount, runs: [{runId, name, color (the run's display name and
 * colour), points, tierPoints, buckets: {x, min, max, mean, last, count}}], group: {x, mean (of
 * the runs' means), min, max, runs (how many had points)}} (the caller's) or rc AD_ENOENT when no
 * run has the series. tierPoints: 1 when every bucket was computed from raw points or whole chunks,
 * TSDB_ROLL_POINTS when a wide read took the rollup tier (a bucket's count and mean may then hold
 * up to that many points of its neighbour; its min and max points are where they were). q is the
 * caller's and must live until done. */
typedef struct {
    char runs[AD_SERIES_RUNS_MAX][AD_ID_MAX];
    size_t nruns;
    char name[AD_SERIES_NAME_MAX + 1];
    bool by_time, has_from, has_to;
    int64_t from, to;
    size_t buckets;
    json_t *out;
    void *ud;
} ad_store_series_q_t;
void ad_store_series_query(ad_store_t *st, ad_store_series_q_t *q, ad_store_done_cb done);
/* What a request may ask (seriesin.c), any thread: why point {name (1-200
 * bytes), value (finite), step?, ts? (whole numbers)} of a batch is refused,
 * or NULL; and q's window for a preset range (5m, 15m, 1h, 6h, 24h, 7d of
 * wall time ending at now_ms): 0 or AD_EINVAL. */
const char *ad_store_series_point_why(const json_t *p);
int ad_store_series_range(ad_store_series_q_t *q, const char *range, int64_t now_ms);
/* A read's query (seriesin.c), any thread, 0 or AD_EINVAL with e naming
 * the field: the series name (1 to 200 bytes) into q; x (step or time),
 * buckets (1 to 20000, AD_SERIES_BUCKETS_DEFAULT), from, to and range (a
 * preset above, or all) read through get into q; runs=a,b,c (1 to
 * AD_SERIES_RUNS_MAX ids) into runs and *n. The caller checks who may see
 * each run. */
#define AD_SERIES_BUCKETS_DEFAULT 1000
int ad_store_series_name(ad_store_series_q_t *q, const char *name, ad_field_err_t *e);
int ad_store_series_parse(ad_store_series_q_t *q, ad_store_query_fn get, void *ud, int64_t now_ms,
                          ad_field_err_t *e);
int ad_store_series_runs(const char *s, char runs[][AD_ID_MAX], size_t *n, ad_field_err_t *e);
/* A one-run read's out made flat: that run's fields beside the series'
 * own (its name and colour as runName and runColor), no runs nor group. */
void ad_store_series_flat(json_t *out);

/* Every raw point of the runs (names: array of series names, or NULL for
 * all) as CSV (run_id,name,step,time_ms,value,run_name,run_color, after a
 * header line) or JSON lines ({runId, name, step, ts, value, runName,
 * runColor}), a piece at a time: each call reads on the thread pool from
 * where the last one stopped and appends whole chunks' points to body
 * until it holds AD_SERIES_EXPORT_PIECE bytes (or AD_SERIES_EXPORT_ROWS
 * rows were looked at), then done(rc, x) on the loop; x->end once every
 * point is out. The caller empties body between calls (its max must hold a
 * piece plus one chunk's points: AD_SERIES_EXPORT_BODY_MAX). Chunks topped
 * up after the export passed them are not revisited. Zero-initialise x. */
#define AD_SERIES_EXPORT_PIECE (256 * 1024)
#define AD_SERIES_EXPORT_ROWS 256
#define AD_SERIES_EXPORT_BODY_MAX (16 * 1024 * 1024)
typedef struct {
    char runs[AD_SERIES_RUNS_MAX][AD_ID_MAX];
    size_t nruns;
    json_t *names;
    bool csv;
    ad_buf_t body;
    int64_t points;
    void *ud;
    /* the cursor: after chunk (after_name, after_seq) of runs[run] */
    size_t run;
    bool started, in_run, end;
    char after_name[AD_SERIES_NAME_MAX + 1];
    int64_t after_seq;
    /* runs[run]'s display name and colour, read when its first piece is */
    size_t ident_run; /* run + 1 they are of; 0: none yet */
    char run_name[1024];
    char run_color[16];
} ad_store_series_export_t;
void ad_store_series_export(ad_store_t *st, ad_store_series_export_t *x, ad_store_done_cb done);
/* An export's query (seriesin.c), any thread: format (csv, the default,
 * or jsonl) and names=a,b (the series, else all) into x, its body set up;
 * 0 or AD_EINVAL with e naming the field. */
int ad_store_series_export_parse(ad_store_series_export_t *x, ad_store_query_fn get, void *ud,
                                 ad_field_err_t *e);

/* ---- the health history on disk (health.c, migration 2700, issue #35) -----------
 * Chunks of records the health sampler took, packed by src/health (opaque
 * here): the host's (run_id NULL or "") and each run's (its row goes with
 * the run). A put is one writer job for every chunk given; it then deletes
 * the rows that ended before min_t (0: none) and, past max_bytes of blobs
 * (0: no bound), the oldest rows. The data is copied. Loop thread. */
#define AD_STORE_HCHUNK_SPAN_MS 600000 /* a chunk's t1 - t0 at most (reads rely on it) */
typedef struct {
    const char *run_id; /* NULL or "": the host's */
    int64_t t0, t1;     /* first and last record's time (ms) */
    size_t n;           /* records */
    const void *data;
    size_t len;
} ad_store_hchunk_t;
void ad_store_health_put(ad_store_t *st, const ad_store_hchunk_t *chunks, size_t n, int64_t min_t,
                         uint64_t max_bytes);
/* The oldest record's time and the newest chunk's end: 0 or AD_ENOENT
 * (nothing kept). A bounded read on the loop thread. */
int ad_store_health_span(ad_store_t *st, int64_t *oldest, int64_t *newest);
/* The chunks that reach into [from, to] (the host's when host, then
 * run_id's when not ""), in time order, each through row on the pool
 * thread (the bytes live for the call); then done(rc, q) on the loop. q
 * is the caller's and lives until done. */
typedef void (*ad_store_hrow_fn)(bool run, const void *data, size_t len, size_t n, void *ud);
typedef struct {
    int64_t from, to;
    bool host;
    char run_id[AD_ID_MAX];
    ad_store_hrow_fn row;
    void *ud;
} ad_store_hquery_t;
void ad_store_health_read(ad_store_t *st, ad_store_hquery_t *q, ad_store_done_cb done);

/* ---- alert rules and firings (alerts.c, migration 2710, issue #35) -------------
 * A rule is the JSON src/train checked ({name, kind, ...}); the row adds
 * id, orgId, createdAt, updatedAt. A firing is the JSON the engine made
 * ({id, orgId, ruleId, runId, ...}), written again with its webhook's
 * outcome. Reads: loop thread. */
/* Rules of org ("": every org), oldest first. */
int ad_store_alert_rule_list(ad_store_t *st, const char *org, json_t **out);
int ad_store_alert_rule_get(ad_store_t *st, const char *id, json_t **out);
/* args {id, orgId, spec, now}: inserts or replaces the spec. result: the rule. */
int ad_store_op_alert_rule_put(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: result the rule deleted; AD_ENOENT when there is none. */
int ad_store_op_alert_rule_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Records (or records again, by id) a firing (copied); none for a run
 * deleted meanwhile. cb may be NULL. */
void ad_store_alert_firing_put(ad_store_t *st, const json_t *firing, int64_t at,
                               ad_store_result_cb cb, void *ud);
/* The newest firings (at most limit) of run_id, or else of rule_id; org ""
 * or NULL: any. */
int ad_store_alert_firings(ad_store_t *st, const char *run_id, const char *rule_id, const char *org,
                           int limit, json_t **out);

/* ---- runs agentd did not start, and imports (imports.c, migration 2720) ---------
 * args {id, agentId, source ('tfevents'|'mlruns'|'csv'|'mlflow'), name?,
 * config?, tags?, now, agent? (an agent to make first: the args of
 * ad_store_op_agent_insert), import? ({id, orgId, kind, path, runId,
 * follow, agentId, state}: its row, status running)}: a running run with no
 * process (the agent's status untouched; start-up leaves it running);
 * without id, only the import (attached to its runId). AD_ENOENT for an
 * unknown agent. result {runId, importId?, agentId?}. */
int ad_store_op_external_run(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, status? (running|succeeded|failed|stopped), endedAt?, name?,
 * config?, configPatch? (merged into config, RFC 7396), tags?}: only a run
 * with a source; AD_ENOENT otherwise. */
int ad_store_op_external_run_update(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The MLflow experiment (an agent whose state has mlflowExperiment) of
 * org named name: {id, name, createdAt, updatedAt}, or AD_ENOENT. Loop. */
int ad_store_mlflow_experiment(ad_store_t *st, const char *org, const char *name, json_t **out);
/* org's MLflow experiments [{id, name, createdAt, updatedAt}] (at most
 * 10000) by creation. Loop. */
int ad_store_mlflow_experiments(ad_store_t *st, const char *org, json_t **out);
/* The main worktree of org's oldest workspace (not removed): 0 or
 * AD_ENOENT. Loop. */
int ad_store_org_first_worktree(ad_store_t *st, const char *org, char out[AD_ID_MAX]);
/* ad_store_op_agent_insert and ad_store_op_external_run for the MLflow
 * surface: args.home {id, name, path, orgId, worktreeId, branch, now} (or
 * none) is the org's experiments workspace (ad_store_op_workspace_git_create's
 * args), made when the org has no worktree yet; the new agent (args, or
 * args.agent) goes to the org's first worktree then. */
int ad_store_op_mlflow_exp_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
int ad_store_op_mlflow_run_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* The run's source ("" for a run agentd started): 0 or AD_ENOENT. Loop. */
int ad_store_run_source(ad_store_t *st, const char *run_id, char *out, size_t outsz);
/* An import {id, orgId, kind, path, runId, follow, status, error, state,
 * points, createdAt, updatedAt}. Loop thread. */
int ad_store_import_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("": all), newest first; or every running one (start-up). */
int ad_store_import_list(ad_store_t *st, const char *org, bool running_only, json_t **out);
/* args {id, status, error?, state, points (added), now}: result the import. */
int ad_store_op_import_save(ad_store_tx_t *tx, json_t *args, json_t **result);

/* ---- sweeps (sweeps.c, migration 2725, issue #35) ---------------------------------
 * {id, orgId, name, spec, state, status (running|done|stopped|failed),
 * createdAt, updatedAt}. Loop thread. */
int ad_store_sweep_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("": all), newest first; or every running one (start-up). */
int ad_store_sweep_list(ad_store_t *st, const char *org, bool running_only, json_t **out);
/* args {id, orgId, name, spec, state, status, now}: inserts, or writes the
 * state and status of, the sweep. result: the sweep. */
int ad_store_op_sweep_put(ad_store_tx_t *tx, json_t *args, json_t **result);

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

/* ---- a metric batch (seriesbatch.c; pure, any thread) ---- */
typedef struct {
    int status;      /* 413 past a bound, else 422 */
    json_t *details; /* {field, index?, item?, reason} or {field, max} (owned by the caller) */
    char msg[300];
} ad_store_batch_err_t;
/* A metric batch body {points?, histograms?, counts?} (points may be left
 * out when there are histograms or counts; at most 100000 points and 1000
 * distributions, each checked) into the batch ad_store_series_append
 * writes {runId, orgId, now, points, dists?} (new), or NULL with e set. */
json_t *ad_store_series_batch(const json_t *body, const char *run, const char *org, int64_t now,
                              ad_store_batch_err_t *e);
/* Appends batch (taken) as ad_store_series_append does, and once it is
 * stored publishes its events to its run's, its metrics' and its org's
 * topics: metrics_update {runId, points (at most 2000) | count} when it
 * has points and distribution_update {runId, items: [{kind, name, step?}]
 * (at most 100), count} when it has dists; then cb as the append's.
 * Loop thread. */
void ad_store_series_post(ad_store_t *st, struct ad_bus *bus, json_t *batch, ad_store_result_cb cb,
                          void *ud);

/* ---- distributions (dists.c, distover.c, migration 1950, issue #16) -------------
 * A `histogram` (edges and counts, or raw values binned into equal
 * buckets) or a `counts` (category -> count) per run, name and step. They
 * ride in the metric batch: ad_store_series_append's batch may carry
 * dists: [checked objects] beside its points (one writer job, one
 * transaction); its result then counts them in `distributions`. */
#define AD_DIST_VALUES_MAX 100000 /* raw values in one histogram */
#define AD_DIST_BINS_DEFAULT 30   /* buckets raw values are binned into */
#define AD_DIST_CATEGORIES_MAX 256
#define AD_DIST_CATEGORY_MAX 128 /* bytes of a category name */
#define AD_DIST_COUNT_MAX 1e15   /* a count (integers stay exact) */
#define AD_DIST_VALUE_MAX 1e300  /* an edge or raw value, either sign */

typedef struct {
    int status; /* 413 past a bound, else 422 */
    char field[32];
    char reason[160];
} ad_dist_err_t;

/* Checks a histogram ({name, step?, ts?, edges, counts} or {name, step?,
 * ts?, values, bins?}) or, with counts_kind, a counts object ({name,
 * step?, ts?, counts: {category: n}}) and returns the stored form {kind,
 * name, step?, ts?, edges | lo + hi (binned raw values: equal edges),
 * counts, total} (new), or NULL with err set.
 * Pure: any thread. */
json_t *ad_store_dist_check(json_t *in, bool counts_kind, ad_dist_err_t *err);
/* A checked histogram's edges (new): its own, or the equal edges of a
 * binned one ({lo, hi, counts}); NULL for counts. */
json_t *ad_store_dist_edges(json_t *d);

typedef enum { AD_DIST_LIST, AD_DIST_LATEST, AD_DIST_RANGE, AD_DIST_TIME } ad_dist_view_t;

#define AD_DIST_RANGE_MAX 2000  /* items a range read answers at most */
#define AD_DIST_BUCKETS_MAX 500 /* step buckets of an over-time read */

/* A read on the thread pool; done(rc, q) on the loop with q->out (the
 * caller's), or AD_ENOENT when the distribution has no step there.
 *   LIST   {runId, distributions: [{name, kind, steps, firstStep, lastStep,
 *          lastTimeMs}]}
 *   LATEST {name, kind, step, ts, total, edges?, counts, firstStep,
 *          lastStep}: the newest step, or the newest at or before q->step
 *   RANGE  {name, kind, items: [{step, ts, total, edges?, counts}], more,
 *          nextFrom?}: steps [from, to] ascending, at most limit
 *   TIME   {name, kind, from, to, bucketCount, x, steps, total, counts,
 *          edges (histogram) | categories (counts)}: [from, to] cut into
 *          buckets, each the sum of its steps (histograms on bins common
 *          edges; counts per category, most counted first).
 * q must live until done. */
typedef struct {
    char run_id[AD_ID_MAX];
    char name[AD_SERIES_NAME_MAX + 1];
    bool counts; /* the kind: counts, else histogram */
    ad_dist_view_t view;
    bool has_step, has_from, has_to;
    int64_t step, from, to;
    size_t limit, buckets, bins;
    json_t *out;
    void *ud;
} ad_store_dist_q_t;
void ad_store_dist_query(ad_store_t *st, ad_store_dist_q_t *q, ad_store_done_cb done);
/* A read's request into q (distq.c), any thread: name (1 to 200 bytes),
 * then view (latest, the default, range or time), step, from, to (from not
 * after to), limit (1 to AD_DIST_RANGE_MAX, 200), buckets (1 to
 * AD_DIST_BUCKETS_MAX, 50) and bins (1 to 256, AD_DIST_BINS_DEFAULT) read
 * through get. 0, or AD_EINVAL with e naming the field. */
int ad_store_dist_parse(ad_store_dist_q_t *q, const char *name, ad_store_query_fn get, void *ud,
                        ad_field_err_t *e);

#endif
