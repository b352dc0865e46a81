/* SPDX-License-Identifier: MIT */
/*
 * tables: agents (agents.c, sessions.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_AGENTS_H
#define AD_TABLES_AGENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rows.h"
#include "store/store.h"

/* ---- agents (agents.c, agentrow.c) -----------------------------------------------
 * The agent is schema/rows.def's row agent, ad_row_agent_t (build/<mode>/gen/
 * rows.h); its JSON, wherever the store hands one out (reads, lists, the
 * results of the ops below, which also carry workspaceId for event topics),
 * is ad_row_agent_encode's of it. docs/internals/rows.md: adding a field.
 */
/* The agent id into *out (zeroed first; the caller frees it with
 * ad_row_agent_cleanup, whatever the answer): 0 or AD_ENOENT. Loop thread
 * (the store's read connection). */
int ad_store_agent_row(ad_store_t *st, const char *id, ad_row_agent_t *out);
/* The same and, in the same statement, its workspace's sandbox policy
 * (*ws_sandbox: a new reference, or NULL when it has no worktree, its
 * workspace is removed or sets none): the agent's page reads it often, and
 * on PostgreSQL a statement is a round trip. */
int ad_store_agent_row_sandbox(ad_store_t *st, const char *id, ad_row_agent_t *out,
                               json_t **ws_sandbox);
/* The same as its JSON (ad_row_agent_encode), for the callers that answer or
 * patch JSON. */
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

/* A new agent, inside a write (writer thread): displayOrder = last + 1 in the
 * worktree. AD_ENOENT when the worktree is unknown. result {agent,
 * workspaceId}. Everything is borrowed for the call. */
typedef struct {
    const char *id, *worktree_id, *name;
    ad_row_executor_t executor;
    ad_row_agent_mode_t mode;
    bool has_status; /* false: idle */
    ad_row_agent_status_t status;
    json_t *permissions;         /* an array of strings */
    const char *session_id;      /* NULL: none */
    const char *parent_agent_id; /* NULL: none */
    const char *crew_id;         /* NULL: none */
    json_t *state;               /* NULL: none */
    int64_t now;
} ad_store_agent_new_t;
int ad_store_agent_insert(ad_store_tx_t *tx, const ad_store_agent_new_t *a, json_t **result);
/* The same as a queued op (ad_store_write), its fields as JSON args {id,
 * worktreeId, name, mode, permissions, executor, crewId?, now, status?,
 * parentAgentId?, sessionId?, state?}: the form the API's and the
 * importers' writes queue. A word not the schema's is AD_ECONSTRAINT (as
 * the columns' CHECKs answered). */
int ad_store_op_agent_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A change of an agent, inside a write (writer thread); what is left unset
 * stays as it is. AD_ENOENT for an unknown id. result {agent, workspaceId}.
 * Everything is borrowed for the call. */
typedef struct {
    const char *id;
    int64_t now;
    const char *name; /* NULL: unchanged */
    bool has_mode;
    ad_row_agent_mode_t mode;
    json_t *permissions; /* NULL: unchanged */
    bool has_display_order;
    int64_t display_order;
    bool set_crew; /* the crew is crew_id (NULL: none) */
    const char *crew_id;
    json_t *env, *command; /* state.env, state.command (admin's); NULL: unchanged */
    bool set_sandbox;      /* state.sandbox is sandbox (NULL: removed, the workspace's) */
    json_t *sandbox;
    /* where it runs (issue #77): state.node and state.placement set to
     * these, removed by JSON null, left alone by NULL */
    json_t *node, *placement;
} ad_store_agent_change_t;
int ad_store_agent_update(ad_store_tx_t *tx, const ad_store_agent_change_t *c, json_t **result);
/* The same as a queued op, args {id, now, name?, mode?, permissions?,
 * displayOrder?, crewId? (null clears), env?, command?, sandbox? (null
 * clears)}: the form the API's PATCH queues. */
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

/* agent_sessions (sessions.c): {sessions: [{id, agentId, sessionData,
 * contextSnapshot, createdAt, updatedAt}]} of the agent, newest first, at
 * most limit. One row per ended run (migration 2431's trigger). */
int ad_store_agent_sessions(ad_store_t *st, const char *agent_id, int limit, json_t **out);

#endif
