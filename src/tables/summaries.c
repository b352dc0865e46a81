/* SPDX-License-Identifier: MIT */
/*
 * Agents' one-line summaries (migration 3010, issue #76): the line src/chat
 * had the workbench's model write after an agent's turn, stored with what
 * it cost. The line, its length and the turn are checked by src/chat
 * before anything is written here.
 */
#include "store/table.h"
#include "tables/summaries.h"
#include "tables/usage.h"

#include <stdio.h>
#include <string.h>

static const char SQL_TURN[] = "SELECT turn FROM agent_summaries WHERE agent_id = ?1";
/* The org is the agent's own: no caller can file a line under another. */
static const char SQL_SET[] =
    "INSERT INTO agent_summaries (agent_id, summary_org, summary, turn, model, made_at, requests, "
    "input_tokens, output_tokens, cost_usd) SELECT id, org_id, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8 "
    "FROM agents WHERE id = ?1 ON CONFLICT (agent_id) DO UPDATE SET summary = excluded.summary, "
    "turn = excluded.turn, model = excluded.model, made_at = excluded.made_at, "
    "requests = agent_summaries.requests + 1, "
    "input_tokens = agent_summaries.input_tokens + excluded.input_tokens, "
    "output_tokens = agent_summaries.output_tokens + excluded.output_tokens, "
    "cost_usd = agent_summaries.cost_usd + excluded.cost_usd";
/* literal lengths: PostgreSQL then has no parameter type to guess */
static const char SQL_INPUT[] =
    "SELECT id, role, substr(content, 1, 2000) AS content, tool_name, substr(tool_input, 1, "
    "500) AS tool_input, substr(tool_output, 1, 500) AS tool_output FROM messages WHERE "
    "agent_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_ORG[] = "SELECT summary_org FROM agent_summaries WHERE agent_id = ?1";

int ad_store_agent_summary_turn(ad_store_t *st, const char *agent,
                                char turn[AD_SUMMARY_TURN_MAX + 1])
{
    ad_db_t *db = ad_store_rdb(st);
    turn[0] = '\0';
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_TURN);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        const unsigned char *t = ad_db_column_text(s, 0);
        snprintf(turn, AD_SUMMARY_TURN_MAX + 1, "%s", t != NULL ? (const char *)t : "");
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

int ad_store_agent_summary_input(ad_store_t *st, const char *agent, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_INPUT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    ad_db_bind_int(s, 2, limit > 0 && limit <= 100 ? limit : 100);
    json_t *rows = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(rows, ad_store_row_json(s, NULL, NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(rows);
        return ad_store_rc(db, rc);
    }
    *out = rows;
    return 0;
}

int ad_store_agent_summary_org(ad_store_t *st, const char *agent, char org[AD_ID_MAX])
{
    ad_db_t *db = ad_store_rdb(st);
    org[0] = '\0';
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT org_id FROM agents WHERE id = ?1 AND deleted_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    int rc = ad_db_step(s);
    const unsigned char *t = rc == AD_DB_ROW ? ad_db_column_text(s, 0) : NULL;
    snprintf(org, AD_ID_MAX, "%s", t != NULL ? (const char *)t : "");
    ad_db_reset(s);
    return rc == AD_DB_ROW ? 0 : rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
}

static int org_of(ad_db_t *db, const char *agent, char org[AD_ID_MAX])
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_ORG);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    int rc = ad_db_step(s);
    const unsigned char *t = rc == AD_DB_ROW ? ad_db_column_text(s, 0) : NULL;
    snprintf(org, AD_ID_MAX, "%s", t != NULL ? (const char *)t : "");
    ad_db_reset(s);
    return rc == AD_DB_ROW ? 0 : rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
}

int ad_store_op_agent_summary_set(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *agent = ad_args_str(args, "agentId");
    int64_t now = ad_args_int(args, "now", 0);
    ad_usage_rec_t u = ad_usage_rec_of_args(args, now);
    char ts[AD_TIME_MAX];
    ad_time_format(now, ts);
    json_t *summary = json_pack("{s:s, s:s, s:s}", "text", ad_args_str(args, "text"), "at", ts,
                                "turn", ad_args_str(args, "turn"));
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SET);
    if (s == NULL) {
        json_decref(summary);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent);
    ad_store_bind_json(s, 2, summary);
    ad_store_bind_text(s, 3, ad_args_str(args, "turn"));
    ad_store_bind_text(s, 4, u.model);
    ad_db_bind_int64(s, 5, now);
    ad_db_bind_int64(s, 6, u.input_tokens + u.cache_read_tokens + u.cache_write_tokens);
    ad_db_bind_int64(s, 7, u.output_tokens);
    ad_db_bind_double(s, 8, u.cost_usd);
    int rc = ad_store_step_done(db, s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT; /* the agent is gone */
    }
    if (rc == 0 && (u.input_tokens > 0 || u.output_tokens > 0)) {
        rc = ad_store_usage_apply(tx, &u);
    }
    char org[AD_ID_MAX];
    if (rc == 0 && (rc = org_of(db, agent, org)) == 0) {
        *result = json_pack("{s:s, s:s, s:O}", "agentId", agent, "orgId", org, "summary", summary);
    }
    json_decref(summary);
    return rc;
}
