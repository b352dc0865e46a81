/* SPDX-License-Identifier: MIT */
/*
 * Credits and agent time (migration 2430): the owner's grants to an
 * organisation, its balance (granted, less the cost of ended runs and of
 * its agents' one-line summaries, less
 * what running ones have cost so far), and agent time per organisation,
 * agent and node from the daily aggregates the run triggers keep.
 *
 * Threads: reads on the loop thread (the read connection: a few rows per
 * day and per running run, never a scan of runs); the grant on the writer.
 */
#include "store/table.h"
#include "tables/credits.h"
#include "tables/stats.h"

#include <math.h>

#include <stdio.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

typedef struct {
    char id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char note[256];
    char by[64];
    double amount;
    int64_t now;
} grant_row_t;

static json_t *grant_json(const char *id, const char *org, double amount, const char *note,
                          const char *by, int64_t at)
{
    char ts[AD_TIME_MAX];
    ad_time_format(at, ts);
    return json_pack("{s:s, s:s, s:f, s:s, s:s, s:s}", "id", id, "orgId", org, "amount", amount,
                     "note", note, "grantedBy", by, "createdAt", ts);
}

static int grant_insert(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const grant_row_t *g = in;
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "INSERT INTO credit_grants (id, org_id, amount, note, "
                              "granted_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, g->id);
    ad_store_bind_text(s, 2, g->org);
    ad_db_bind_double(s, 3, g->amount);
    ad_store_bind_text(s, 4, g->note);
    ad_store_bind_text(s, 5, g->by);
    ad_db_bind_int64(s, 6, g->now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0) {
        *result = grant_json(g->id, g->org, g->amount, g->note, g->by, g->now);
    }
    return rc == AD_ECONSTRAINT ? AD_ENOENT : rc; /* the org's foreign key */
}

void ad_store_credit_grant(ad_store_t *st, const ad_store_grant_t *g, ad_store_result_cb cb,
                           void *ud)
{
    grant_row_t row = {.amount = g->amount, .now = g->created_at};
    snprintf(row.id, sizeof(row.id), "%s", g->id);
    snprintf(row.org, sizeof(row.org), "%s", g->org_id);
    snprintf(row.note, sizeof(row.note), "%s", g->note != NULL ? g->note : "");
    snprintf(row.by, sizeof(row.by), "%s", g->granted_by != NULL ? g->granted_by : "");
    ad_store_typed_write(st, grant_insert, &row, sizeof(row), NULL, cb, ud);
}

/* One number from a one-row query with org as ?1. */
static int scalar(ad_db_t *db, const char *sql, const char *org, int64_t now, double *out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    if (ad_db_bind_parameter_count(s) >= 2) {
        ad_db_bind_int64(s, 2, now);
    }
    int step = ad_db_step(s);
    *out = step == AD_DB_ROW ? ad_db_column_double(s, 0) : 0;
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : ad_store_rc(db, step);
}

int ad_store_credit_totals(ad_store_t *st, const char *org, ad_store_credits_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    memset(out, 0, sizeof(*out));
    int rc = scalar(db, "SELECT COALESCE(SUM(amount), 0) FROM credit_grants WHERE org_id = ?1", org,
                    0, &out->earned);
    if (rc == 0) {
        rc = scalar(db, "SELECT COALESCE(SUM(cost_usd), 0) FROM run_stats WHERE org_id = ?1", org,
                    0, &out->spent);
    }
    if (rc == 0) { /* agents' one-line summaries (summaries.c, migration 3010) */
        double lines = 0;
        rc = scalar(db,
                    "SELECT COALESCE(SUM(cost_usd), 0) FROM agent_summaries WHERE "
                    "summary_org = ?1",
                    org, 0, &lines);
        out->spent += lines;
    }
    if (rc == 0) {
        rc = scalar(db,
                    "SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE org_id = ?1 AND "
                    "status = 'running'",
                    org, 0, &out->pending);
    }
    if (rc == 0) {
        double n = 0;
        rc = scalar(db, "SELECT COUNT(*) FROM credit_grants WHERE org_id = ?1", org, 0, &n);
        out->grants = (int64_t)n;
    }
    out->balance = out->earned - out->spent - out->pending;
    return rc;
}

int ad_store_credit_grant_list(ad_store_t *st, const char *org, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, org_id, amount, note, granted_by, created_at "
                                        "FROM credit_grants WHERE org_id = ?1 "
                                        "ORDER BY created_at DESC, id DESC LIMIT ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_db_bind_int(s, 2, limit);
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(
            a,
            grant_json((const char *)ad_db_column_text(s, 0), (const char *)ad_db_column_text(s, 1),
                       ad_db_column_double(s, 2), (const char *)ad_db_column_text(s, 3),
                       (const char *)ad_db_column_text(s, 4), ad_db_column_int64(s, 5)));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}

/* ---- agent time ------------------------------------------------------------------------ */

/* The ended runs' time by agent (the 50 longest), into agents; totals. */
static int ended_by_agent(ad_db_t *db, const char *org, int64_t from_day, json_t *agents,
                          int64_t *ms, int64_t *runs)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT t.agent_id, COALESCE(a.name, ''), t.node, SUM(t.runs), SUM(t.ms) "
                          "FROM agent_time t LEFT JOIN agents a ON a.id = t.agent_id "
                          "WHERE (?1 = '' OR t.org_id = ?1) AND t.day >= ?2 "
                          "GROUP BY t.agent_id, t.node, a.name ORDER BY 5 DESC, 1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_db_bind_int64(s, 2, from_day);
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        int64_t n = ad_db_column_int64(s, 3), t = ad_db_column_int64(s, 4);
        *runs += n;
        *ms += t;
        if (json_array_size(agents) < 50) {
            json_array_append_new(agents,
                                  json_pack("{s:s, s:s, s:s, s:I, s:f}", "agentId",
                                            (const char *)ad_db_column_text(s, 0), "name",
                                            (const char *)ad_db_column_text(s, 1), "node",
                                            (const char *)ad_db_column_text(s, 2), "runs",
                                            (json_int_t)n, "agentSeconds", (double)t / 1000.0));
        }
    }
    ad_db_reset(s);
    return step == AD_DB_DONE ? 0 : ad_store_rc(db, step);
}

/* Adds one (org, node) row's figures to the entry of key in map (made
 * {key: name, agentSeconds, runs, activeRuns} on first use); the entry. */
static json_t *add_to(json_t *map, const char *name, const char *key, double sec, int64_t runs,
                      int64_t active)
{
    json_t *e = json_object_get(map, key);
    if (e == NULL) {
        e = json_pack("{s:s, s:f, s:I, s:I}", name, key, "agentSeconds", 0.0, "runs", (json_int_t)0,
                      "activeRuns", (json_int_t)0);
        json_object_set_new(map, key, e);
    }
    json_object_set_new(e, "agentSeconds",
                        json_real(json_real_value(json_object_get(e, "agentSeconds")) + sec));
    json_object_set_new(e, "runs",
                        json_integer(json_integer_value(json_object_get(e, "runs")) + runs));
    json_object_set_new(
        e, "activeRuns",
        json_integer(json_integer_value(json_object_get(e, "activeRuns")) + active));
    return e;
}

/* The map's entries in key order, as an array (new reference). */
static json_t *values(json_t *map)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        json_array_append(a, v);
    }
    return a;
}

/* Time by organisation and node: ended runs from the daily aggregate, the
 * running ones' time so far; into nodes ({node: ...}) and orgs ({orgId:
 * {..., nodes: {node: ...}}}), with the running totals. */
static int by_org_node(ad_db_t *db, const char *org, int64_t from_day, int64_t now, json_t *nodes,
                       json_t *orgs, double *running, double *running_ms)
{
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT org_id, node, SUM(runs), SUM(ms), SUM(active), SUM(active_ms) FROM ("
            "SELECT org_id, node, runs, ms, 0 AS active, 0 AS active_ms FROM agent_time "
            "WHERE (?1 = '' OR org_id = ?1) AND day >= ?2 UNION ALL "
            "SELECT org_id, COALESCE(node_id, 'control-plane'), 0, MAX(?3 - started_at, 0), 1, "
            "MAX(?3 - started_at, 0) FROM runs WHERE (?1 = '' OR org_id = ?1) AND status = "
            "'running') u "
            "GROUP BY org_id, node ORDER BY org_id, node");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_db_bind_int64(s, 2, from_day);
    ad_db_bind_int64(s, 3, now);
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        const char *o = (const char *)ad_db_column_text(s, 0);
        const char *node = (const char *)ad_db_column_text(s, 1);
        int64_t runs = ad_db_column_int64(s, 2), active = ad_db_column_int64(s, 4);
        double sec = (double)ad_db_column_int64(s, 3) / 1000.0;
        *running += (double)active;
        *running_ms += (double)ad_db_column_int64(s, 5);
        add_to(nodes, "node", node, sec, runs, active);
        json_t *oe = add_to(orgs, "orgId", o, sec, runs, active);
        json_t *on = json_object_get(oe, "nodes");
        if (on == NULL) {
            on = json_object();
            json_object_set_new(oe, "nodes", on);
        }
        add_to(on, "node", node, sec, runs, active);
    }
    ad_db_reset(s);
    return step == AD_DB_DONE ? 0 : ad_store_rc(db, step);
}

int ad_store_agent_time(ad_store_t *st, const char *org, int64_t from_day, int64_t now,
                        json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    json_t *agents = json_array(), *nodes = json_object(), *orgs = json_object();
    int64_t ms = 0, runs = 0;
    double running = 0, running_ms = 0;
    int rc = ended_by_agent(db, org, from_day, agents, &ms, &runs);
    if (rc == 0) {
        rc = by_org_node(db, org, from_day, now, nodes, orgs, &running, &running_ms);
    }
    if (rc != 0) {
        json_decref(agents);
        json_decref(nodes);
        json_decref(orgs);
        return rc;
    }
    /* each org's nodes as a list */
    const char *k;
    json_t *v;
    json_object_foreach(orgs, k, v)
    {
        json_object_set_new(v, "nodes", values(json_object_get(v, "nodes")));
    }
    double total_s = (double)(ms + (int64_t)running_ms) / 1000.0;
    *out = json_pack("{s:f, s:f, s:I, s:I, s:f, s:o, s:o, s:o}", "agentSeconds", total_s,
                     "agentHours", total_s / 3600.0, "runs", (json_int_t)runs, "activeRuns",
                     (json_int_t)running, "activeSeconds", running_ms / 1000.0, "nodes",
                     values(nodes), "orgs", values(orgs), "agents", agents);
    json_decref(nodes);
    json_decref(orgs);
    return 0;
}

json_t *ad_store_credits_json(ad_store_t *st, const char *org)
{
    ad_store_credits_t c;
    if (ad_store_credit_totals(st, org, &c) != 0) {
        return NULL;
    }
    return json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:I}", "orgId", org, "unit", "usd", "balance",
                     c.balance, "earned", c.earned, "spent", c.spent, "pending", c.pending,
                     "grants", (json_int_t)c.grants);
}

int ad_store_grant_check(const json_t *body, double *amount, const char **note, ad_field_err_t *e)
{
    json_t *a = json_object_get(body, "amount");
    double v = json_is_number(a) ? json_number_value(a) : NAN;
    if (!isfinite(v) || v == 0 || fabs(v) > 1e9) {
        return ad_field_fail(e, "amount",
                             "must be a non-zero number of credits (US dollars), at most 1e9");
    }
    *amount = v;
    return ad_field_str(body, "note", false, 200, note, e);
}

int ad_store_credits_view(ad_store_t *st, const char *org, json_t **out)
{
    json_t *grants = NULL;
    *out = ad_store_credits_json(st, org);
    if (*out == NULL || ad_store_credit_grant_list(st, org, 100, &grants) != 0) {
        json_decref(*out);
        *out = NULL;
        return AD_EINTERNAL;
    }
    json_object_set_new(*out, "grantList", grants);
    return 0;
}

void ad_store_credit_grant_new(ad_store_t *st, const char *org, double amount, const char *note,
                               const char *by, ad_store_result_cb cb, void *ud)
{
    char gid[AD_ID_MAX];
    ad_id_new("cred", gid);
    ad_store_grant_t g = {.id = gid,
                          .org_id = org,
                          .note = note,
                          .granted_by = by,
                          .amount = amount,
                          .created_at = (int64_t)ad_wall_ms()};
    ad_store_credit_grant(st, &g, cb, ud);
}

int ad_store_agent_time_range(ad_store_t *st, const char *org, const char *range, int64_t now,
                              json_t **out)
{
    int64_t from = 0;
    range = range != NULL && range[0] != '\0' ? range : "30d";
    if (ad_store_range_from(range, now, &from) != 0) {
        return AD_EINVAL;
    }
    int rc = ad_store_agent_time(st, org, from, now, out);
    if (rc == 0) {
        json_object_set_new(*out, "range", json_string(range));
    }
    return rc == AD_EINVAL ? AD_EINTERNAL : rc;
}

int ad_store_token_figures(ad_store_t *st, const char *org, const char *credit_org, int64_t now,
                           json_t **out)
{
    int rc = ad_store_token_stats(st, org, now, out);
    if (rc != 0) {
        return rc;
    }
    json_t *credits = ad_store_credits_json(st, credit_org);
    if (credits != NULL) {
        json_object_update(*out, credits); /* balance, earned, spent, pending, unit */
        json_decref(credits);
    }
    return 0;
}
