/* SPDX-License-Identifier: MIT */
/*
 * Runs and the run-time side of agents: a run row per start, its end
 * (status, exit, usage), what a live run changes on its agent (status, pid,
 * session, context level, state), the messages a run produces, and the
 * start-up reconciliation of runs a previous daemon left running.
 * Written by the runner (src/run) with typed structs; REST reads go
 * through here.
 */
#include "store/table.h"
#include "tables/messages.h"
#include "tables/runs.h"
#include "tables/tables_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* phase: what a running run is doing, from its agent: "working" on a turn,
 * "waiting" for input between turns (a Claude agent), "paused"; null once
 * it has ended. */
#define RUN_COLS                                                                                   \
    "id, agent_id, started_at, ended_at, status, exit_code, signal, duration_ms, input_tokens, "   \
    "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, num_turns, cli_version, "     \
    "config, CASE WHEN status = 'running' THEN (SELECT CASE a.status WHEN 'waiting' THEN "         \
    "'waiting' WHEN 'paused' THEN 'paused' ELSE 'working' END FROM agents a WHERE a.id = "         \
    "runs.agent_id) END AS phase, " AD_RUN_NAME_SQL("runs") " AS name, " AD_RUN_COLOR_SQL(         \
        "runs") " AS color, coalesce(tags, '[]') AS tags, notes, run_group AS \"group\", "         \
                "git_commit AS \"commit\", node_id"
#define RUN_NULLS                                                                                  \
    "ended_at,exit_code,signal,duration_ms,cli_version,config,phase,notes,group,commit,node_id"
#define RUN_JSON "config,tags,commit"

static int run_json(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " RUN_COLS " FROM runs WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, RUN_JSON, RUN_NULLS, out);
}

/* Fills result {run, agent} after a change. */
static int run_and_agent(ad_db_t *db, const char *run_id, const char *agent_id, json_t **result)
{
    json_t *run = NULL, *agent = NULL;
    int rc = run_json(db, run_id, &run);
    if (rc == 0) {
        rc = ad_agent_json_read(db, agent_id, &agent);
    }
    if (rc == 0) {
        *result = json_pack("{s:o, s:o}", "run", run, "agent", agent);
        return 0;
    }
    json_decref(run);
    json_decref(agent);
    return rc;
}

static void bind_int_or_null(ad_db_stmt_t *s, int idx, bool has, int64_t v)
{
    if (has) {
        ad_db_bind_int64(s, idx, v);
    } else {
        ad_db_bind_null(s, idx);
    }
}

static int run_start(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_run_start_t *a = in;
    ad_db_t *db = tx->db;
    bool leased = a->plane_id[0] != '\0';
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO runs (id, agent_id, started_at, status, config, node_id, lease_epoch) "
            "VALUES (?, ?, ?, 'running', ?, ?, ?)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, a->id);
    ad_store_bind_text(s, 2, a->agent_id);
    ad_db_bind_int64(s, 3, a->now);
    ad_store_bind_text(s, 4, a->config);
    ad_store_bind_text(s, 5, a->node_id[0] != '\0' ? a->node_id : NULL);
    ad_db_bind_int64(s, 6, leased ? 1 : 0);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc == AD_ECONSTRAINT ? AD_ENOENT : rc;
    }
    if (leased) {
        /* its lease from its first moment (issue #77): a takeover never
         * meets a running run without one */
        s = ad_store_stmt(db, "INSERT INTO run_leases (run_id, plane_id, expires_at) "
                              "VALUES (?, ?, ?) ON CONFLICT (run_id) DO NOTHING");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, a->id);
        ad_store_bind_text(s, 2, a->plane_id);
        ad_db_bind_int64(s, 3, a->now + a->lease_ms);
        rc = ad_store_step_done(db, s);
        if (rc != 0) {
            return rc;
        }
    }
    s = ad_store_stmt(db, "UPDATE agents SET status = 'running', pid = ?, started_at = ?, "
                          "stopped_at = NULL, updated_at = ?, state = CASE WHEN state IS NULL "
                          "THEN NULL ELSE json_remove(state, '$.statusReason') END, "
                          "status_reason = COALESCE(?, status_reason) WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    bind_int_or_null(s, 1, a->pid > 0, a->pid);
    ad_db_bind_int64(s, 2, a->now);
    ad_db_bind_int64(s, 3, a->now);
    ad_store_bind_reason(s, 4, &a->why, a->now);
    ad_store_bind_text(s, 5, a->agent_id);
    rc = ad_store_step_done(db, s);
    return rc != 0 ? rc : run_and_agent(db, a->id, a->agent_id, result);
}

static void run_start_cleanup(void *in)
{
    free(((ad_store_run_start_t *)in)->config);
}

void ad_store_run_start(ad_store_t *st, const ad_store_run_start_t *a, ad_store_result_cb cb,
                        void *ud)
{
    ad_store_typed_write(st, run_start, a, sizeof(*a), run_start_cleanup, cb, ud);
}

/* The fence of a live run's row (issue #77): a plane writes it only while
 * no other plane holds a live lease on the run. ?8 the plane, ?9 now. */
#define NOT_LEASED_ELSEWHERE                                                                       \
    " AND NOT EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = runs.id AND "                    \
    "l.plane_id <> ?8 AND l.expires_at >= ?9)"

/* The fence's values bound, when a plane is named. */
static void bind_fence(ad_db_stmt_t *s, const char *plane_id)
{
    if (plane_id[0] != '\0') {
        ad_store_bind_text(s, 8, plane_id);
        ad_db_bind_int64(s, 9, ad_wall_ms());
    }
}

static int run_cli_version(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_run_cli_version_t *a = in;
    AD_UNUSED(result);
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, a->plane_id[0] != '\0'
                    ? "UPDATE runs SET cli_version = ?1 WHERE id = ?2" NOT_LEASED_ELSEWHERE
                    : "UPDATE runs SET cli_version = ?1 WHERE id = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, a->version);
    ad_store_bind_text(s, 2, a->id);
    bind_fence(s, a->plane_id);
    return ad_store_step_done(tx->db, s);
}

void ad_store_run_cli_version(ad_store_t *st, const ad_store_run_cli_version_t *v,
                              ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, run_cli_version, v, sizeof(*v), NULL, cb, ud);
}

static int run_usage(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_run_usage_t *a = in;
    AD_UNUSED(result);
#define RUN_USAGE_SQL                                                                              \
    "UPDATE runs SET input_tokens = ?2, output_tokens = ?3, cache_read_tokens = ?4, "              \
    "cache_write_tokens = ?5, cost_usd = ?6, num_turns = ?7 WHERE id = ?1 AND status = 'running'"
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, a->plane_id[0] != '\0' ? RUN_USAGE_SQL NOT_LEASED_ELSEWHERE : RUN_USAGE_SQL);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    bind_fence(s, a->plane_id);
    ad_store_bind_text(s, 1, a->id);
    ad_db_bind_int64(s, 2, a->input_tokens);
    ad_db_bind_int64(s, 3, a->output_tokens);
    ad_db_bind_int64(s, 4, a->cache_read_tokens);
    ad_db_bind_int64(s, 5, a->cache_write_tokens);
    ad_db_bind_double(s, 6, a->cost_usd);
    ad_db_bind_int64(s, 7, a->num_turns);
    return ad_store_step_done(tx->db, s);
}

void ad_store_run_usage(ad_store_t *st, const ad_store_run_usage_t *u, ad_store_result_cb cb,
                        void *ud)
{
    ad_store_typed_write(st, run_usage, u, sizeof(*u), NULL, cb, ud);
}

#define RUN_END_SQL                                                                                \
    "UPDATE runs SET ended_at = ?, status = ?, exit_code = ?, signal = ?, "                        \
    "duration_ms = ?, input_tokens = ?, output_tokens = ?, cache_read_tokens = ?, "                \
    "cache_write_tokens = ?, cost_usd = ?, num_turns = ? WHERE id = ? AND status IN "              \
    "('running', 'lost')"

static int run_end_row(ad_db_t *db, const ad_store_run_end_t *a)
{
    bool fenced = a->plane_id[0] != '\0';
    ad_db_stmt_t *s = ad_store_stmt(
        db, fenced ? RUN_END_SQL " AND NOT EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = ? "
                                 "AND l.plane_id <> ? AND l.expires_at >= ?)"
                   : RUN_END_SQL);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, a->now);
    ad_store_bind_text(s, 2, ad_row_run_status_name(a->status));
    bind_int_or_null(s, 3, a->has_exit_code, a->exit_code);
    bind_int_or_null(s, 4, a->signal > 0, a->signal);
    ad_db_bind_int64(s, 5, a->duration_ms);
    ad_db_bind_int64(s, 6, a->input_tokens);
    ad_db_bind_int64(s, 7, a->output_tokens);
    ad_db_bind_int64(s, 8, a->cache_read_tokens);
    ad_db_bind_int64(s, 9, a->cache_write_tokens);
    ad_db_bind_double(s, 10, a->cost_usd);
    ad_db_bind_int64(s, 11, a->num_turns);
    ad_store_bind_text(s, 12, a->id);
    if (fenced) {
        ad_store_bind_text(s, 13, a->id);
        ad_store_bind_text(s, 14, a->plane_id);
        ad_db_bind_int64(s, 15, a->now);
    }
    int rc = ad_store_step_done(db, s);
    /* A run that ended is final (issue #77): a second end (a plane that lost
     * the run's lease during a database outage, a node's late word) changes
     * nothing. Only `lost`, a verdict made without the process, gives way
     * to the real end when it comes. Nor does the end of a plane whose run
     * another plane holds now (fenced). */
    return rc == 0 && ad_db_changes(db) == 0 ? AD_ESTATE : rc;
}

static int run_end(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_run_end_t *a = in;
    ad_db_t *db = tx->db;
    const char *agent_status = ad_row_agent_status_name(a->agent_status);
    if (a->status == AD_ROW_RUN_STATUS_RUNNING || ad_row_run_status_name(a->status) == NULL ||
        agent_status == NULL || a->agent_status == AD_ROW_AGENT_STATUS_RUNNING ||
        a->agent_status == AD_ROW_AGENT_STATUS_STOPPING) {
        return AD_EINVAL;
    }
    int rc = run_end_row(db, a);
    if (rc != 0) {
        return rc;
    }
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE agents SET status = ?, pid = NULL, stopped_at = ?, "
                          "updated_at = ?, state = CASE WHEN ? IS NULL THEN state ELSE "
                          "json_set(COALESCE(state, '{}'), '$.statusReason', ?) END, "
                          "status_reason = COALESCE(?, status_reason) WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *reason = a->reason[0] != '\0' ? a->reason : NULL;
    ad_store_bind_text(s, 1, agent_status);
    ad_db_bind_int64(s, 2, a->now);
    ad_db_bind_int64(s, 3, a->now);
    ad_store_bind_text(s, 4, reason);
    ad_store_bind_text(s, 5, reason);
    ad_store_bind_reason(s, 6, &a->why, a->now);
    ad_store_bind_text(s, 7, a->agent_id);
    rc = ad_store_step_done(db, s);
    return rc != 0 ? rc : run_and_agent(db, a->id, a->agent_id, result);
}

void ad_store_run_end(ad_store_t *st, const ad_store_run_end_t *e, ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, run_end, e, sizeof(*e), NULL, cb, ud);
}

/* The agent's state with patch merged in (new reference), read and
 * written inside one transaction so concurrent patches lose no keys. */
static int merged_state(ad_db_t *db, const char *id, json_t *patch, json_t **out)
{
    json_t *agent = NULL;
    int rc = ad_agent_json_read(db, id, &agent);
    if (rc != 0) {
        return rc;
    }
    json_t *cur = json_object_get(agent, "state");
    *out = json_is_object(cur) ? json_deep_copy(cur) : json_object();
    json_object_update(*out, patch);
    json_decref(agent);
    return 0;
}

static int agent_runtime(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_agent_runtime_t *a = in;
    ad_db_t *db = tx->db;
    json_t *state = NULL;
    if (json_is_object(a->state_patch)) {
        int rc = merged_state(db, a->id, a->state_patch, &state);
        if (rc != 0) {
            return rc;
        }
    }
#define AGENT_RUNTIME_SQL                                                                          \
    "UPDATE agents SET status = COALESCE(?, status), session_id = COALESCE(?, session_id), "       \
    "context_level = COALESCE(?, context_level), state = COALESCE(?, state), "                     \
    "updated_at = ?, status_reason = COALESCE(?, status_reason) WHERE id = ?"
    bool fenced = a->run_id[0] != '\0' && a->plane_id[0] != '\0';
    ad_db_stmt_t *s = ad_store_stmt(
        db, fenced ? AGENT_RUNTIME_SQL " AND NOT EXISTS (SELECT 1 FROM run_leases l WHERE "
                                       "l.run_id = ? AND l.plane_id <> ? AND l.expires_at >= ?)"
                   : AGENT_RUNTIME_SQL);
    if (s == NULL) {
        json_decref(state);
        return AD_EINTERNAL;
    }
    if (fenced) {
        ad_store_bind_text(s, 8, a->run_id);
        ad_store_bind_text(s, 9, a->plane_id);
        ad_db_bind_int64(s, 10, ad_wall_ms());
    }
    ad_store_bind_text(s, 1, a->set_status ? ad_row_agent_status_name(a->status) : NULL);
    ad_store_bind_text(s, 2, a->session_id[0] != '\0' ? a->session_id : NULL);
    bind_int_or_null(s, 3, a->context_level >= 0, a->context_level);
    ad_store_bind_json(s, 4, state);
    ad_db_bind_int64(s, 5, a->now);
    ad_store_bind_reason(s, 6, &a->why, a->now);
    ad_store_bind_text(s, 7, a->id);
    json_decref(state);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    json_t *agent = NULL;
    if (ad_db_changes(db) == 0) {
        /* an unknown agent, or (fenced) the run is another plane's now */
        rc = fenced ? ad_agent_json_read(db, a->id, &agent) : AD_ENOENT;
        json_decref(agent);
        return rc == 0 ? AD_ESTATE : rc;
    }
    rc = ad_agent_json_read(db, a->id, &agent);
    if (rc == 0) {
        *result = json_pack("{s:o}", "agent", agent);
    }
    return rc;
}

static void agent_runtime_cleanup(void *in)
{
    json_decref(((ad_store_agent_runtime_t *)in)->state_patch);
}

void ad_store_agent_runtime(ad_store_t *st, const ad_store_agent_runtime_t *u,
                            ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, agent_runtime, u, sizeof(*u), agent_runtime_cleanup, cb, ud);
}

typedef struct {
    const ad_store_message_t *msgs;
    size_t n;
    ad_store_done_cb done;
    void *ctx;
} msgs_job_t;

/* The offsets run_hold had for a run before this batch wrote to it. */
typedef struct {
    const char *run_id;
    int64_t out, err;
} held_base_t;

#define HELD_BASES 8

/* Whether m is held output stored already: its spool offset at or below
 * what run_hold had for its run before this batch. A plane that lost a run
 * while the database was away writes the run's tail when it comes back,
 * after the plane that took the run over stored it from the spool (issue
 * #77): each offset is stored once, whichever plane comes first. Runs past
 * HELD_BASES in one batch are not checked (batches are a run's). */
static bool held_stored(ad_db_t *db, held_base_t *base, size_t *nbase, const ad_store_message_t *m)
{
    if (m->run_id == NULL || (m->hold_out <= 0 && m->hold_err <= 0)) {
        return false;
    }
    held_base_t *b = NULL;
    for (size_t i = 0; i < *nbase && b == NULL; i++) {
        b = strcmp(base[i].run_id, m->run_id) == 0 ? &base[i] : NULL;
    }
    if (b == NULL && *nbase < HELD_BASES) {
        b = &base[(*nbase)++];
        *b = (held_base_t){.run_id = m->run_id};
        ad_db_stmt_t *s =
            ad_store_stmt(db, "SELECT hold_out, hold_err FROM run_hold WHERE run_id = ?");
        if (s != NULL) {
            ad_store_bind_text(s, 1, m->run_id);
            if (ad_db_step(s) == AD_DB_ROW) {
                b->out = ad_db_column_int64(s, 0);
                b->err = ad_db_column_int64(s, 1);
            }
            ad_db_reset(s);
        }
    }
    return b != NULL && (m->hold_out > 0 ? m->hold_out <= b->out : m->hold_err <= b->err);
}

static int messages_insert(ad_store_tx_t *tx, void *ctx)
{
    msgs_job_t *j = ctx;
    ad_db_t *db = tx->db;
    held_base_t base[HELD_BASES];
    size_t nbase = 0;
    for (size_t i = 0; i < j->n; i++) {
        const ad_store_message_t *m = &j->msgs[i];
        if (held_stored(db, base, &nbase, m)) {
            continue; /* stored by the plane that took the run over */
        }
        /* A message written again (a tool call's result, same id as the
         * call) replaces the agent's row but keeps when it was made. The
         * row's columns are named (messages.): PostgreSQL finds them
         * ambiguous beside excluded's. */
        ad_db_stmt_t *s = ad_store_stmt(
            db, m->replace
                    ? "INSERT INTO messages (id, agent_id, run_id, role, content, token_count, "
                      "tool_name, tool_input, tool_output, is_complete, created_at, is_error, "
                      "hold_out, hold_err) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                      "ON CONFLICT(id) DO UPDATE SET content = excluded.content, "
                      "token_count = excluded.token_count, "
                      "tool_name = coalesce(excluded.tool_name, messages.tool_name), "
                      "tool_input = coalesce(excluded.tool_input, messages.tool_input), "
                      "tool_output = excluded.tool_output, is_complete = excluded.is_complete, "
                      "is_error = excluded.is_error, "
                      "hold_out = coalesce(excluded.hold_out, messages.hold_out), "
                      "hold_err = coalesce(excluded.hold_err, messages.hold_err) "
                      "WHERE messages.agent_id = excluded.agent_id"
                    : "INSERT INTO messages (id, agent_id, run_id, role, content, token_count, "
                      "tool_name, tool_input, tool_output, is_complete, created_at, is_error, "
                      "hold_out, hold_err) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, m->id);
        ad_store_bind_text(s, 2, m->agent_id);
        ad_store_bind_text(s, 3, m->run_id);
        ad_store_bind_text(s, 4, m->role);
        ad_store_bind_text(s, 5, m->content != NULL ? m->content : "");
        ad_db_bind_int64(s, 6, m->token_count);
        ad_store_bind_text(s, 7, m->tool_name);
        ad_store_bind_text(s, 8, m->tool_input);
        ad_store_bind_text(s, 9, m->tool_output);
        ad_db_bind_int(s, 10, m->is_complete ? 1 : 0);
        ad_db_bind_int64(s, 11, m->now);
        ad_db_bind_int(s, 12, m->is_error ? 1 : 0);
        /* the spool offsets of held output, in the same commit (issue #15) */
        if (m->hold_out > 0) {
            ad_db_bind_int64(s, 13, m->hold_out);
        } else {
            ad_db_bind_null(s, 13);
        }
        if (m->hold_err > 0) {
            ad_db_bind_int64(s, 14, m->hold_err);
        } else {
            ad_db_bind_null(s, 14);
        }
        int rc = ad_store_step_done(db, s);
        /* an upsert whose row is another agent's changes nothing: nor then
         * do the run's offsets */
        if (rc == 0 && (m->hold_out > 0 || m->hold_err > 0) && ad_db_changes(db) > 0) {
            rc = ad_store_run_hold_note(db, m->run_id, m->hold_out, m->hold_err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void messages_inserted(int rc, void *ctx)
{
    msgs_job_t *j = ctx;
    if (j->done != NULL) {
        j->done(rc, j->ctx);
    }
    free(j);
}

void ad_store_messages_insert(ad_store_t *st, const ad_store_message_t *msgs, size_t n,
                              ad_store_done_cb done, void *ctx)
{
    msgs_job_t *j = ad_xmalloc(sizeof(*j));
    j->msgs = msgs;
    j->n = n;
    j->done = done;
    j->ctx = ctx;
    size_t bytes = 0; /* what the queue's bound counts while PostgreSQL is away */
    for (size_t i = 0; i < n; i++) {
        bytes += 128 + (msgs[i].content != NULL ? strlen(msgs[i].content) : 0) +
                 (msgs[i].tool_input != NULL ? strlen(msgs[i].tool_input) : 0) +
                 (msgs[i].tool_output != NULL ? strlen(msgs[i].tool_output) : 0);
    }
    ad_store_submit_sized(st, messages_insert, messages_inserted, j, bytes);
}

typedef struct {
    int64_t now;
    char reason[256];
    char *keep; /* "\n<id>\n<id>\n…": runs left running; owned, may be NULL */
} reconcile_t;

/* A run found still 'running'. */
typedef struct {
    char id[AD_ID_MAX], agent_id[AD_ID_MAX];
    int64_t started_at;
    int64_t pid; /* the agent's last pid, 0: none */
} lost_run_t;

/* The runs still marked running: *out (owned, free()) and *n. Read before
 * any is changed, so the SELECT does not see its own updates. */
static int running_runs(ad_db_t *db, lost_run_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT r.id, r.agent_id, r.started_at, a.pid FROM runs r LEFT JOIN "
                          "agents a ON a.id = r.agent_id WHERE r.status = 'running' AND "
                          "r.source IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    size_t cap = 0;
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        if (*n == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            *out = ad_xrealloc(*out, cap * sizeof(**out));
        }
        lost_run_t *r = &(*out)[(*n)++];
        snprintf(r->id, sizeof(r->id), "%s", (const char *)ad_db_column_text(s, 0));
        snprintf(r->agent_id, sizeof(r->agent_id), "%s", (const char *)ad_db_column_text(s, 1));
        r->started_at = ad_db_column_int64(s, 2);
        r->pid = ad_db_column_int64(s, 3);
    }
    int rc = step == AD_DB_DONE ? 0 : ad_store_rc(db, step);
    ad_db_reset(s);
    return rc;
}

/* Ends one lost run and flags its agent. */
static int lose_run(ad_db_t *db, const reconcile_t *a, const lost_run_t *r)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE runs SET status = 'lost', ended_at = ?, "
                                        "duration_ms = ? WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, a->now);
    ad_db_bind_int64(s, 2, a->now > r->started_at ? a->now - r->started_at : 0);
    ad_store_bind_text(s, 3, r->id);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(db, "UPDATE agents SET status = 'error', pid = NULL, stopped_at = ?, "
                          "updated_at = ?, state = json_set(COALESCE(state, '{}'), "
                          "'$.statusReason', ?), status_reason = ? WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_status_reason_t why;
    ad_status_reason_set(&why, "lost", r->id, "run %s lost: %s", r->id, a->reason);
    ad_db_bind_int64(s, 1, a->now);
    ad_db_bind_int64(s, 2, a->now);
    ad_store_bind_text(s, 3, a->reason);
    ad_store_bind_reason(s, 4, &why, a->now);
    ad_store_bind_text(s, 5, r->agent_id);
    return ad_store_step_done(db, s);
}

/* Agents shown running without a run (a crash between writes) go to error. */
static int orphans_to_error(ad_db_t *db, int64_t now)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE agents SET status = 'error', pid = NULL, "
                          "updated_at = ?1, status_reason = json_object('code', "
                          "'lost', 'text', 'agentd restarted and found no run of "
                          "this agent', 'at', ?1, 'ref', NULL) WHERE status IN ('running', "
                          "'waiting', "
                          "'paused') AND id NOT IN (SELECT agent_id FROM runs "
                          "WHERE status = 'running')");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, now);
    return ad_store_step_done(db, s);
}

static int runs_reconcile(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const reconcile_t *a = in;
    ad_db_t *db = tx->db;
    lost_run_t *lost = NULL;
    size_t n = 0;
    json_t *runs = json_array();
    json_t *agents = json_array();
    int rc = running_runs(db, &lost, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[AD_ID_MAX + 2];
        snprintf(key, sizeof(key), "\n%s\n", lost[i].id);
        if (a->keep != NULL && strstr(a->keep, key) != NULL) {
            continue; /* taken up again from its holder */
        }
        rc = lose_run(db, a, &lost[i]);
        json_t *agent = NULL;
        if (rc == 0 && ad_agent_json_read(db, lost[i].agent_id, &agent) == 0) {
            json_array_append_new(agents, agent);
        }
        json_t *run = json_pack("{s:s, s:s, s:I}", "id", lost[i].id, "agentId", lost[i].agent_id,
                                "startedAt", (json_int_t)lost[i].started_at);
        json_object_set_new(run, "pid",
                            lost[i].pid > 0 ? json_integer((json_int_t)lost[i].pid) : json_null());
        json_array_append_new(runs, run);
    }
    free(lost);
    rc = rc != 0 ? rc : orphans_to_error(db, a->now);
    rc = rc != 0 ? rc : ad_store_approvals_expire_all(db, a->now);
    if (rc == 0) {
        *result = json_pack("{s:o, s:o}", "runs", runs, "agents", agents);
    } else {
        json_decref(runs);
        json_decref(agents);
    }
    return rc;
}

void ad_store_runs_reconcile(ad_store_t *st, int64_t now, const char *reason, ad_store_result_cb cb,
                             void *ud)
{
    ad_store_runs_reconcile_keep(st, now, reason, NULL, cb, ud);
}

static void reconcile_cleanup(void *in)
{
    reconcile_t *a = in;
    free(a->keep);
}

void ad_store_runs_reconcile_keep(ad_store_t *st, int64_t now, const char *reason,
                                  const char *const *keep, ad_store_result_cb cb, void *ud)
{
    reconcile_t a = {.now = now};
    snprintf(a.reason, sizeof(a.reason), "%s", reason);
    if (keep != NULL && keep[0] != NULL) {
        ad_buf_t b;
        ad_buf_init(&b, 64u << 20);
        int rc = ad_buf_putc(&b, '\n');
        for (size_t i = 0; rc == 0 && keep[i] != NULL; i++) {
            rc = ad_buf_puts(&b, keep[i]);
            rc = rc != 0 ? rc : ad_buf_putc(&b, '\n');
        }
        if (rc != 0) {
            /* A cut list would end runs that are still held: reconcile none. */
            ad_buf_cleanup(&b);
            cb(rc, NULL, ud);
            return;
        }
        a.keep = ad_buf_detach(&b, NULL);
        ad_buf_cleanup(&b);
    }
    ad_store_typed_write(st, runs_reconcile, &a, sizeof(a), reconcile_cleanup, cb, ud);
}

int ad_store_run_hold_note(ad_db_t *db, const char *run_id, int64_t out, int64_t err)
{
    if (run_id == NULL || (out <= 0 && err <= 0)) {
        return 0;
    }
    ad_db_stmt_t *s = ad_store_stmt(
        db,
        "INSERT INTO run_hold (run_id, hold_out, hold_err) VALUES (?, ?, ?) "
        "ON CONFLICT(run_id) DO UPDATE SET hold_out = max(run_hold.hold_out, excluded.hold_out), "
        "hold_err = max(run_hold.hold_err, excluded.hold_err)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    ad_db_bind_int64(s, 2, out > 0 ? out : 0);
    ad_db_bind_int64(s, 3, err > 0 ? err : 0);
    return ad_store_step_done(db, s);
}

int ad_store_run_hold_offsets(ad_store_t *st, const char *run_id, int64_t *out, int64_t *err)
{
    *out = *err = 0;
    ad_db_t *db = ad_store_rdb(st);
    /* one row a run (migration 2850), not MAX over every message of it */
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT hold_out, hold_err FROM run_hold WHERE run_id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        *out = ad_db_column_int64(s, 0);
        *err = ad_db_column_int64(s, 1);
    }
    ad_db_reset(s);
    return step == AD_DB_ROW || step == AD_DB_DONE ? 0 : ad_store_rc(db, step);
}

/* args {id, set: {name?, color?, tags?, notes?, group?}} (checked by the
 * caller; a null resets the field to its default). AD_ENOENT for an
 * unknown run; result: the run. */
static int run_patch(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    /* one statement text per field: ad_store_stmt caches by the text's address */
    static const struct {
        const char *key, *sql;
    } fields[] = {
        {"name", "UPDATE runs SET name = ? WHERE id = ?"},
        {"color", "UPDATE runs SET color = ? WHERE id = ?"},
        {"tags", "UPDATE runs SET tags = ? WHERE id = ?"},
        {"notes", "UPDATE runs SET notes = ? WHERE id = ?"},
        {"group", "UPDATE runs SET run_group = ? WHERE id = ?"},
    };
    const char *id = ad_args_str(args, "id");
    json_t *set = json_object_get(args, "set");
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "SELECT 1 FROM runs WHERE id = ?");
    ad_store_bind_text(s, 1, id);
    int rc = ad_db_step(s);
    ad_db_reset(s);
    if (rc != AD_DB_ROW) {
        return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(tx->db, rc);
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(set, fields[i].key);
        if (v == NULL) {
            continue;
        }
        s = ad_store_stmt(tx->db, fields[i].sql);
        if (json_is_null(v)) {
            ad_db_bind_null(s, 1);
        } else if (json_is_string(v)) {
            ad_store_bind_text(s, 1, json_string_value(v));
        } else {
            char *text = json_dumps(v, JSON_COMPACT);
            ad_store_bind_text(s, 1, text != NULL ? text : "[]");
            free(text);
        }
        ad_store_bind_text(s, 2, id);
        int e = ad_store_step_done(tx->db, s);
        if (e != 0) {
            return e;
        }
    }
    return run_json(tx->db, id, result);
}

void ad_store_run_patch(ad_store_t *st, json_t *args, ad_store_result_cb cb, void *ud)
{
    ad_store_write(st, run_patch, args, cb, ud);
}

int ad_store_run_get(ad_store_t *st, const char *id, json_t **out)
{
    return run_json(ad_store_rdb(st), id, out);
}

int ad_store_run_list(ad_store_t *st, const char *agent_id, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT " RUN_COLS " FROM runs WHERE agent_id = ? ORDER BY started_at DESC, id DESC "
            "LIMIT ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    ad_db_bind_int(s, 2, limit > 0 && limit <= 1000 ? limit : 100);
    json_t *runs = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(runs, ad_store_row_json(s, RUN_JSON, RUN_NULLS));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(runs);
        return ad_store_rc(db, step);
    }
    *out = json_pack("{s:o}", "runs", runs);
    return 0;
}

int ad_store_runs_agent_get(ad_store_t *st, const char *id, ad_row_agent_t *agent,
                            char workspace_id[AD_ID_MAX], char *path, size_t pathsz)
{
    ad_db_t *db = ad_store_rdb(st);
    int rc = ad_agent_row_read(db, id, agent);
    if (rc != 0) {
        return rc;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT workspace_id, path FROM worktrees WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent->worktree_id);
    workspace_id[0] = '\0';
    if (pathsz > 0) {
        path[0] = '\0';
    }
    if (ad_db_step(s) == AD_DB_ROW) {
        snprintf(workspace_id, AD_ID_MAX, "%s", (const char *)ad_db_column_text(s, 0));
        snprintf(path, pathsz, "%s", (const char *)ad_db_column_text(s, 1));
    }
    ad_db_reset(s);
    return 0;
}

int ad_store_op_run_commit(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    (void)result;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE runs SET git_commit = ?2 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "runId"));
    if (ad_store_bind_json(s, 2, json_object_get(args, "commit")) != AD_DB_OK) {
        ad_db_reset(s);
        return AD_ENOMEM;
    }
    return ad_store_step_done(tx->db, s);
}
