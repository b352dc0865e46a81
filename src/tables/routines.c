/* SPDX-License-Identifier: MIT */
/*
 * Routines and their runs (migration 2920, issue #75): the rows, the fire
 * claimed with one conditional UPDATE (so of several control planes on one
 * database one wins it) and its runs held to the routine's limits in the
 * same transaction.
 */
#include "store/table.h"
#include "tables/routines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

#define RT_SELECT                                                                                  \
    "SELECT id, org_id, name, spec, enabled, "                                                     \
    "CASE WHEN next_fire_at > 0 THEN next_fire_at END AS next_fire_at, created_by, created_at, "   \
    "updated_at, next_fire_at AS next_fire_ms FROM routines "

#define RUN_SELECT                                                                                 \
    "SELECT id, routine_id, org_id, source, fire_at, status, reason, agent_id, worktree_id, "      \
    "plane_id, cost_usd, created_at, updated_at FROM routine_runs "

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The row flattened: the spec's members beside the row's. */
static json_t *rt_row(ad_db_stmt_t *s)
{
    json_t *row = ad_store_row_json(s, "spec", "next_fire_at");
    json_t *spec = json_object_get(row, "spec");
    if (json_is_object(spec)) {
        json_object_update_missing(row, spec);
    }
    json_object_del(row, "spec");
    json_object_set_new(row, "enabled", json_boolean(ad_db_column_int64(s, 4) != 0));
    json_object_del(row, "nextFireMs"); /* the schedulers' only (ad_store_routine_due) */
    return row;
}

static json_t *rt_due_row(ad_db_stmt_t *s)
{
    json_t *row = rt_row(s);
    json_object_set_new(row, "nextFireMs", json_integer(ad_db_column_int64(s, 9)));
    return row;
}

static json_t *run_row(ad_db_stmt_t *s)
{
    return ad_store_row_json(s, NULL, NULL);
}

int ad_store_routine_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, RT_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, rt_row, out);
}

int ad_store_routine_secret(ad_store_t *st, const char *id, char *out, size_t outsz)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT secret FROM routines WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int step = ad_db_step(s);
    const char *t = step == AD_DB_ROW ? (const char *)ad_db_column_text(s, 0) : NULL;
    snprintf(out, outsz, "%s", t != NULL ? t : "");
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}

int ad_store_routine_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, RT_SELECT "WHERE ?1 = '' OR org_id = ?1 "
                                                  "ORDER BY created_at, id LIMIT 500");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    return ad_store_all_rows(db, s, rt_row, out);
}

int ad_store_routine_next(ad_store_t *st, int64_t *next)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT MIN(next_fire_at) FROM routines "
                                        "WHERE next_fire_at > 0 AND enabled = 1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int step = ad_db_step(s);
    *next = step == AD_DB_ROW ? ad_db_column_int64(s, 0) : 0;
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : ad_store_rc(db, step);
}

int ad_store_routine_due(ad_store_t *st, int64_t now, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, RT_SELECT "WHERE next_fire_at > 0 AND next_fire_at <= ?1 AND "
                                    "enabled = 1 ORDER BY next_fire_at LIMIT 64");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, now);
    return ad_store_all_rows(db, s, rt_due_row, out);
}

/* The routine as the writer reads it back (its result). */
static int rt_read_tx(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, RT_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, rt_row, out);
}

/* The routine written, with the secret args gave (the caller answers it
 * once and publishes the row without it). */
static int read_back(ad_db_t *db, json_t *args, json_t **result)
{
    int rc = rt_read_tx(db, ad_args_str(args, "id"), result);
    const char *secret = str(args, "secret");
    if (rc == 0 && secret != NULL && secret[0] != '\0') {
        json_object_set_new(*result, "secret", json_string(secret));
    }
    return rc;
}

int ad_store_op_routine_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "INSERT INTO routines(id, org_id, name, spec, secret, "
                                            "next_fire_at, created_by, created_at, updated_at) "
                                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, str(args, "orgId") != NULL ? str(args, "orgId") : "");
    ad_store_bind_text(s, 3, ad_args_str(args, "name"));
    ad_store_bind_json(s, 4, json_object_get(args, "spec"));
    ad_store_bind_text(s, 5, str(args, "secret") != NULL ? str(args, "secret") : "");
    ad_db_bind_int64(s, 6, ad_args_int(args, "nextFireAt", 0));
    ad_store_bind_text(s, 7, str(args, "createdBy") != NULL ? str(args, "createdBy") : "");
    ad_db_bind_int64(s, 8, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(tx->db, s);
    return rc != 0 ? rc : read_back(tx->db, args, result);
}

int ad_store_op_routine_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE routines SET name = COALESCE(?2, name), spec = COALESCE(?3, spec), "
                "enabled = COALESCE(?4, enabled), secret = COALESCE(?5, secret), "
                "next_fire_at = COALESCE(?6, next_fire_at), updated_at = ?7 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    json_t *en = json_object_get(args, "enabled");
    json_t *next = json_object_get(args, "nextFireAt");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, str(args, "name"));
    ad_store_bind_json(s, 3, json_object_get(args, "spec"));
    if (json_is_boolean(en)) {
        ad_db_bind_int64(s, 4, json_is_true(en) ? 1 : 0);
    }
    ad_store_bind_text(s, 5, str(args, "secret"));
    if (json_is_integer(next)) {
        ad_db_bind_int64(s, 6, json_integer_value(next));
    }
    ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        rc = AD_ENOENT;
    }
    return rc != 0 ? rc : read_back(tx->db, args, result);
}

int ad_store_op_routine_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *id = ad_args_str(args, "id");
    ad_db_stmt_t *r = ad_store_stmt(tx->db, "DELETE FROM routine_runs WHERE routine_id = ?1");
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "DELETE FROM routines WHERE id = ?1");
    if (r == NULL || s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(r, 1, id);
    int rc = ad_store_step_done(tx->db, r);
    if (rc == 0) {
        ad_store_bind_text(s, 1, id);
        rc = ad_store_step_done(tx->db, s);
    }
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        rc = AD_ENOENT;
    }
    *result = rc == 0 ? json_pack("{s:s, s:s}", "id", id, "orgId",
                                  str(args, "orgId") != NULL ? str(args, "orgId") : "")
                      : NULL;
    return rc;
}

/* ---- a fire ----------------------------------------------------------------------- */

/* The claim: next_fire_at from old to next, only if it still reads old. */
static int claim(ad_db_t *db, const char *id, const json_t *c, int64_t now, bool *won)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE routines SET next_fire_at = ?3, updated_at = ?4 "
                                        "WHERE id = ?1 AND next_fire_at = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_db_bind_int64(s, 2, json_integer_value(json_object_get(c, "old")));
    ad_db_bind_int64(s, 3, json_integer_value(json_object_get(c, "next")));
    ad_db_bind_int64(s, 4, now);
    int rc = ad_store_step_done(db, s);
    *won = rc == 0 && ad_db_changes(db) == 1;
    return rc;
}

typedef struct {
    int64_t day_runs, open, queued;
    double day_cost;
} counts_t;

static int count_runs(ad_db_t *db, const char *routine, int64_t now, counts_t *c)
{
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT COALESCE(SUM(CASE WHEN status <> 'skipped' AND created_at >= ?2 THEN 1 "
            "ELSE 0 END), 0), COALESCE(SUM(CASE WHEN created_at >= ?2 THEN cost_usd ELSE 0 END), "
            "0), COALESCE(SUM(CASE WHEN status IN ('queued', 'starting', 'running') THEN 1 "
            "ELSE 0 END), 0), COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0) "
            "FROM routine_runs WHERE routine_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, routine);
    ad_db_bind_int64(s, 2, now - DAY_MS);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        *c = (counts_t){.day_runs = ad_db_column_int64(s, 0),
                        .day_cost = ad_db_column_double(s, 1),
                        .open = ad_db_column_int64(s, 2),
                        .queued = ad_db_column_int64(s, 3)};
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : ad_store_rc(db, step);
}

/* What becomes of one fire under the limits: its status, and why. */
static const char *judge(const json_t *limits, const char *overlap, const counts_t *c, char *why,
                         size_t whysz)
{
    int64_t per_day = json_integer_value(json_object_get(limits, "runsPerDay"));
    int64_t conc = json_integer_value(json_object_get(limits, "concurrent"));
    double cost_day = json_number_value(json_object_get(limits, "costPerDayUsd"));
    if (per_day > 0 && c->day_runs >= per_day) {
        snprintf(why, whysz, "the limit of %lld runs a day is reached", (long long)per_day);
        return "skipped";
    }
    if (cost_day > 0 && c->day_cost >= cost_day) {
        snprintf(why, whysz, "the limit of %.2f USD a day is reached (%.2f spent)", cost_day,
                 c->day_cost);
        return "skipped";
    }
    if (conc > 0 && c->open >= conc) {
        if ((strcmp(overlap, "all") == 0 && c->queued < AD_ROUTINE_QUEUED_MAX) ||
            (strcmp(overlap, "once") == 0 && c->queued == 0)) {
            snprintf(why, whysz, "queued: %lld run(s) still running", (long long)(c->open));
            return "queued";
        }
        snprintf(why, whysz, "overlap: %lld run(s) still running", (long long)(c->open));
        return "skipped";
    }
    why[0] = '\0';
    return "starting";
}

static int run_insert(ad_db_t *db, const json_t *args, const json_t *f, const char *status,
                      const char *why, json_t *runs)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "INSERT INTO routine_runs(id, routine_id, org_id, source, fire_at, "
                          "status, reason, plane_id, payload, created_at, updated_at) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = str(f, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, str(args, "routineId"));
    ad_store_bind_text(s, 3, str(args, "orgId") != NULL ? str(args, "orgId") : "");
    ad_store_bind_text(s, 4, str(f, "source"));
    ad_db_bind_int64(s, 5, json_integer_value(json_object_get(f, "fireAt")));
    ad_store_bind_text(s, 6, status);
    ad_store_bind_text(s, 7, why);
    ad_store_bind_text(s, 8, str(args, "planeId") != NULL ? str(args, "planeId") : "");
    ad_store_bind_text(s, 9, str(f, "payload"));
    ad_db_bind_int64(s, 10, json_integer_value(json_object_get(args, "now")));
    int rc = ad_store_step_done(db, s);
    ad_db_stmt_t *r = rc == 0 ? ad_store_stmt(db, RUN_SELECT "WHERE id = ?1") : NULL;
    json_t *row = NULL;
    if (r != NULL) {
        ad_store_bind_text(r, 1, id);
        rc = ad_store_one_row(db, r, run_row, &row);
        json_array_append_new(runs, row);
    }
    return rc;
}

/* A routine's history is its newest AD_ROUTINE_RUNS_KEPT runs: older ones
 * that have ended go (with their payloads). */
static int trim_runs(ad_db_t *db, const char *routine)
{
    ad_db_stmt_t *s = ad_store_stmt(
        db, "DELETE FROM routine_runs WHERE routine_id = ?1 AND status NOT IN ('queued', "
            "'starting', 'running') AND created_at < (SELECT created_at FROM routine_runs WHERE "
            "routine_id = ?1 ORDER BY created_at DESC LIMIT 1 OFFSET ?2)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, routine);
    ad_db_bind_int64(s, 2, AD_ROUTINE_RUNS_KEPT);
    return ad_store_step_done(db, s);
}

int ad_store_op_routine_fire(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *routine = str(args, "routineId");
    int64_t now = json_integer_value(json_object_get(args, "now"));
    json_t *c = json_object_get(args, "claim");
    bool won = true;
    int rc = c != NULL ? claim(tx->db, routine, c, now, &won) : 0;
    if (rc != 0 || !won) {
        *result = rc == 0 ? json_pack("{s:b, s:[]}", "claimed", 0, "runs") : NULL;
        return rc;
    }
    const char *overlap = str(args, "overlap") != NULL ? str(args, "overlap") : "skip";
    json_t *runs = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(args, "fires"), i, f)
    {
        char why[160];
        const char *status = str(f, "status");
        counts_t n = {0};
        if (status == NULL && (rc = count_runs(tx->db, routine, now, &n)) == 0) {
            status = judge(json_object_get(args, "limits"), overlap, &n, why, sizeof(why));
        } else {
            snprintf(why, sizeof(why), "%s", str(f, "reason") != NULL ? str(f, "reason") : "");
        }
        rc = rc == 0 ? run_insert(tx->db, args, f, status, why, runs) : rc;
        if (rc != 0) {
            break;
        }
    }
    rc = rc == 0 ? trim_runs(tx->db, routine) : rc;
    if (rc != 0) {
        json_decref(runs);
        return rc;
    }
    *result = json_pack("{s:b, s:o}", "claimed", 1, "runs", runs);
    return 0;
}

int ad_store_op_routine_run_set(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *id = ad_args_str(args, "id");
    json_t *from = json_object_get(args, "from");
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE routine_runs SET status = ?2, reason = COALESCE(?3, reason), "
                "agent_id = COALESCE(?4, agent_id), worktree_id = COALESCE(?5, worktree_id), "
                "cost_usd = COALESCE(?6, cost_usd), plane_id = COALESCE(?7, plane_id), "
                "payload = CASE WHEN ?2 IN ('queued', 'starting') THEN payload END, "
                "updated_at = ?8 WHERE id = ?1 AND status IN (?9, ?10, ?11)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "status"));
    ad_store_bind_text(s, 3, str(args, "reason"));
    ad_store_bind_text(s, 4, str(args, "agentId"));
    ad_store_bind_text(s, 5, str(args, "worktreeId"));
    if (json_is_number(json_object_get(args, "costUsd"))) {
        ad_db_bind_double(s, 6, json_number_value(json_object_get(args, "costUsd")));
    }
    ad_store_bind_text(s, 7, str(args, "planeId"));
    ad_db_bind_int64(s, 8, ad_args_int(args, "now", 0));
    for (int k = 0; k < 3; k++) {
        const char *v = json_string_value(json_array_get(from, (size_t)k));
        ad_store_bind_text(s, 9 + k, v != NULL ? v : "");
    }
    int rc = ad_store_step_done(tx->db, s);
    bool changed = rc == 0 && ad_db_changes(tx->db) == 1;
    json_t *row = NULL;
    ad_db_stmt_t *r = rc == 0 ? ad_store_stmt(tx->db, RUN_SELECT "WHERE id = ?1") : NULL;
    if (r != NULL) {
        ad_store_bind_text(r, 1, id);
        rc = ad_store_one_row(tx->db, r, run_row, &row);
    }
    *result = rc == 0 ? json_pack("{s:b, s:o}", "changed", changed, "run", row) : NULL;
    return rc;
}

/* ---- reads of runs ---------------------------------------------------------------- */

int ad_store_routine_runs(ad_store_t *st, const char *routine_id, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, RUN_SELECT "WHERE routine_id = ?1 ORDER BY created_at DESC, id DESC "
                                     "LIMIT ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, routine_id);
    ad_db_bind_int64(s, 2, limit);
    return ad_store_all_rows(db, s, run_row, out);
}

int ad_store_routine_runs_open(ad_store_t *st, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, RUN_SELECT "WHERE status IN ('queued', 'starting', 'running') "
                                     "ORDER BY created_at, id LIMIT 200");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    return ad_store_all_rows(db, s, run_row, out);
}

int ad_store_routine_run_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, RUN_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, run_row, out);
}

int ad_store_routine_run_payload(ad_store_t *st, const char *id, char **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT payload FROM routine_runs WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int step = ad_db_step(s);
    const char *t = step == AD_DB_ROW ? (const char *)ad_db_column_text(s, 0) : NULL;
    *out = t != NULL ? ad_xstrdup(t) : NULL;
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}
