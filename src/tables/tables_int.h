/* SPDX-License-Identifier: MIT */
/*
 * Private to src/tables (and its unit tests): what one table family
 * offers another, over the statement layer (store/table.h): shared
 * column lists and SQL, writes inside the caller's transaction, the
 * metric rollups' blocks. Never included above src/tables.
 */
#ifndef AD_TABLES_INT_H
#define AD_TABLES_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "rows.h"
#include "store/table.h"
#include "tsdb/tsdb.h"
#include "tables/dists.h"
#include "tables/runs.h"
#include "tables/auth.h"

/* seriesroll.c (migration 2740): puts chunk row seq's rollup into its
 * rollup row (row seq / AD_ROLL_BLOCK, read, changed and written back;
 * nothing for an empty rollup), writer thread; the segments of a rollup
 * row's blob (pointing into it) in seq order, how many, or -1 for a blob
 * that is not one; and the job chain that builds the rows of series stored
 * before 2740, started by the daemon once the store is open (main.c; loop
 * thread; nothing queued when no series waits). */
#define AD_ROLL_BLOCK 6
typedef struct {
    int64_t seq;
    const uint8_t *data;
    size_t len;
} ad_roll_seg_t;
int ad_store_roll_put(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                      const tsdb_rolls_t *r);
int ad_store_roll_segs(const void *blob, size_t len, int64_t blk, ad_roll_seg_t *out);
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

/* Reads on the thread owning db: the workspace (with setup columns) and,
 * when worktrees is not NULL, its worktree rows. */
int ad_store_git_workspace_read(ad_db_t *db, const char *id, json_t **ws, json_t **worktrees);

/* r as the JSON text of agents.status_reason {code, text, at, ref}, or NULL
 * when r is NULL or has no code (status.c). */
int ad_store_bind_reason(ad_db_stmt_t *s, int idx, const ad_store_status_reason_t *r, int64_t at);

/* An org's pairs read on the pool (agents.c): sql (static), with ?1 the
 * org ("" or NULL: every org) and ?2 limit (bound when > 0), gives rows of
 * (key text, value); cb gets {key: value} (an integer when ints, else a
 * string), or NULL and the read's error. */
void ad_store_org_pairs(ad_store_t *st, const char *sql, const char *org, int64_t limit, bool ints,
                        ad_store_result_cb cb, void *ud);

/* One API token's row by id on db's thread (tokenread.c): 0, AD_ENOENT or
 * a read error. */
int ad_store_token_read(ad_db_t *db, const char *id, ad_store_token_t *t);
/* Notes a change of accounts for the other control planes (authsync.c,
 * kind one of AD_AUTH_CHANGE_*), in the caller's transaction; rows older
 * than an hour go. */
int ad_store_auth_change_note(ad_db_t *db, const char *kind, const char *key, int64_t at);

/* The workspace id of a worktree into out: 0, AD_ENOENT or a mapped error.
 * Any thread that owns db. */
int ad_store_workspace_of(ad_db_t *db, const char *worktree_id, char out[AD_ID_MAX]);

/* Records a held run's spool offsets (hold_out, hold_err of a message just
 * stored; 0 for none) in run_hold, keeping the largest of each (migration
 * 2850), inside the caller's transaction: where ad_store_run_hold_offsets
 * reads them. A NULL run_id or two zeros write nothing. Writer thread. */
/* The one integer sql (a string literal: statements are kept by its
 * address) selects for run run_id (?1) into *out: 0, AD_ENOENT or a store
 * error. Reader's connection. */
int ad_store_run_int64(ad_store_t *st, const char *sql, const char *run_id, int64_t *out);
int ad_store_run_hold_note(ad_db_t *db, const char *run_id, int64_t out, int64_t err);

/* The agent row's columns (schema/rows.def, row agent), in the order
 * ad_agent_from_stmt() (agentrow.c) reads them: a column added here is a
 * line there, and the _Static_assert beside it counts them against the
 * schema's fields (AD_ROW_AGENT_FIELDS). */
#define AD_AGENT_COLS                                                                              \
    "id, worktree_id, name, status, context_level, mode, permissions, display_order, pid, "        \
    "session_id, created_at, updated_at, started_at, stopped_at, deleted_at, parent_agent_id, "    \
    "executor, crew_id, state, worktree_vanished_at, org_id, status_reason, " AD_AGENT_COST_COLS   \
    ", " AD_AGENT_SUMMARY_COLS
/* What an agent's runs cost so far (costUsd, totalTokens = input + output):
 * its row of agent_totals, which the run triggers keep (migration 2830), so
 * every agent row the store hands out (lists, reads, the rows events carry)
 * has its total for one key lookup, however many runs it has. */
#define AD_AGENT_COST_COLS                                                                         \
    "COALESCE((SELECT t.cost_usd FROM agent_totals t WHERE t.agent_id = agents.id), 0.0) AS "      \
    "cost_usd, COALESCE((SELECT t.total_tokens FROM agent_totals t WHERE t.agent_id = "            \
    "agents.id), 0) AS total_tokens"
/* Its one-line summary {text, at, turn} (issue #76, migration 3010), from
 * its row of agent_summaries (NULL when it has none). */
#define AD_AGENT_SUMMARY_COLS                                                                      \
    "(SELECT m.summary FROM agent_summaries m WHERE m.agent_id = agents.id) AS summary"
#define AD_AGENT_JSON "permissions,state,status_reason,summary"
#define AD_AGENT_NULLS "crew_id,state,status_reason"
/* agentrow.c: the current row of a statement of AD_AGENT_COLS (the list
 * text's AG_TEXT_COLS are the same columns) into *out (zeroed first; the
 * caller cleans it up with ad_row_agent_cleanup). 0, or AD_EINTERNAL for a
 * word the schema does not know (the columns' CHECKs keep them out). */
int ad_agent_from_stmt(ad_db_stmt_t *s, ad_row_agent_t *out);
/* The agent id as a row (0, AD_ENOENT or an error) or as its JSON, made by
 * ad_row_agent_encode (a new reference). Any thread that owns db. */
int ad_agent_row_read(ad_db_t *db, const char *id, ad_row_agent_t *out);
int ad_agent_json_read(ad_db_t *db, const char *id, json_t **out);

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
/* A page of a run's transcript (?1 its agent, ?2 the limit, ?3-?4 the
 * cursor, ?5 the run's end and tail, ?6 the run; messages.c): its plan
 * walks messages_by_agent in order from the cursor and never sorts the
 * run's messages, on PostgreSQL too (tests/unit/test-store-runs.c). */
extern const char ad_sql_run_messages[];

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

/* A run's display name and colour (issue #35; AD_RUN_NAME_SQL,
 * AD_RUN_COLOR_SQL) into name and color ("" for a run that is gone): 0 or
 * an error. Any thread that owns db. (seriesread.c) */
int ad_store_run_ident(ad_db_t *db, const char *run_id, char *name, size_t namesz, char *color,
                       size_t colorsz);

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
