/* SPDX-License-Identifier: MIT */
/*
 * Workflows (migration 2530): the row, made in one transaction with its
 * crew and one agent per step; its state written whole as the engine
 * (src/flow) moves it; reads on the loop thread.
 */
#include "store/table.h"
#include "tables/agents.h"
#include "tables/workflows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WF_SELECT                                                                                  \
    "SELECT id, org_id, crew_id, name, spec, state, status, created_at, updated_at "               \
    "FROM workflows "

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_t *col_json(ad_db_stmt_t *s, int i)
{
    const char *t = (const char *)ad_db_column_text(s, i);
    json_t *v = t != NULL ? json_loads(t, 0, NULL) : NULL;
    return v != NULL ? v : json_object();
}

static json_t *wf_row(ad_db_stmt_t *s)
{
    char created[AD_TIME_MAX], updated[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(s, 7), created);
    ad_time_format(ad_db_column_int64(s, 8), updated);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s}", "id",
                     (const char *)ad_db_column_text(s, 0), "orgId",
                     (const char *)ad_db_column_text(s, 1), "crewId",
                     (const char *)ad_db_column_text(s, 2), "name",
                     (const char *)ad_db_column_text(s, 3), "spec", col_json(s, 4), "state",
                     col_json(s, 5), "status", (const char *)ad_db_column_text(s, 6), "createdAt",
                     created, "updatedAt", updated);
}

/* Rows of a prepared read into an array (at most limit). */
static int rows(ad_db_t *db, ad_db_stmt_t *s, json_t **out)
{
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, wf_row(s));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}

int ad_store_workflow_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, WF_SELECT "WHERE id = ?1");
    json_t *a = NULL;
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int rc = rows(db, s, &a);
    if (rc == 0 && json_array_size(a) == 0) {
        rc = AD_ENOENT;
    }
    if (rc == 0) {
        *out = json_incref(json_array_get(a, 0));
    }
    json_decref(a);
    return rc;
}

int ad_store_workflow_list(ad_store_t *st, const char *org, bool running_only, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, running_only ? WF_SELECT "WHERE status = 'running' ORDER BY created_at "
                                                   "LIMIT 100"
                                       : WF_SELECT "WHERE ?1 = '' OR org_id = ?1 ORDER BY "
                                                   "created_at DESC, id LIMIT 200");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    if (!running_only) {
        ad_store_bind_text(s, 1, org != NULL ? org : "");
    }
    return rows(db, s, out);
}

int ad_store_agent_cost(ad_store_t *st, const char *agent_id, double *usd)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE agent_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    int step = ad_db_step(s);
    *usd = step == AD_DB_ROW ? ad_db_column_double(s, 0) : 0;
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : ad_store_rc(db, step);
}

static int exec_text(ad_db_t *db, const char *sql, const char *const *v, size_t n, int64_t now)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    for (size_t i = 0; i < n; i++) {
        ad_store_bind_text(s, (int)i + 1, v[i]);
    }
    ad_db_bind_int64(s, (int)n + 1, now);
    return ad_store_step_done(db, s);
}

int ad_store_op_workflow_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *id = str(args, "id"), *crew = str(args, "crewId");
    const char *org = str(args, "orgId"), *name = str(args, "name");
    int64_t now = json_integer_value(json_object_get(args, "now"));
    const char *cv[] = {crew, name, org != NULL ? org : ""};
    int rc = exec_text(tx->db,
                       "INSERT INTO crews(id, name, org_id, created_at, updated_at) "
                       "VALUES(?1, ?2, ?3, ?4, ?4)",
                       cv, 3, now);
    json_t *agents = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(args, "agents"), i, a)
    {
        json_t *res = NULL;
        rc = rc == 0 ? ad_store_op_agent_insert(tx, a, &res) : rc;
        if (res != NULL) {
            json_array_append(agents, json_object_get(res, "agent"));
        }
        json_decref(res);
    }
    char *spec = json_dumps(json_object_get(args, "spec"), JSON_COMPACT);
    char *state = json_dumps(json_object_get(args, "state"), JSON_COMPACT);
    const char *wv[] = {id, org != NULL ? org : "", crew, name, spec, state};
    rc = rc == 0 ? exec_text(tx->db,
                             "INSERT INTO workflows(id, org_id, crew_id, name, spec, state, "
                             "status, created_at, updated_at) "
                             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?7)",
                             wv, 6, now)
                 : rc;
    free(spec);
    free(state);
    if (rc == 0) {
        *result = json_pack("{s:s, s:o}", "id", id, "agents", agents);
    } else {
        json_decref(agents);
    }
    return rc;
}

typedef struct {
    char id[AD_ID_MAX];
    char status[16];
    char *state; /* owned by the job */
    int64_t now;
} wf_save_t;

static int wf_save(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const wf_save_t *w = in;
    const char *v[] = {w->id, w->status, w->state};
    int rc = exec_text(tx->db,
                       "UPDATE workflows SET status = ?2, state = ?3, updated_at = ?4 "
                       "WHERE id = ?1",
                       v, 3, w->now);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        rc = AD_ENOENT;
    }
    *result = NULL;
    return rc;
}

static void wf_save_cleanup(void *in)
{
    free(((wf_save_t *)in)->state);
}

void ad_store_workflow_save(ad_store_t *st, const char *id, const char *status, const json_t *state,
                            ad_store_result_cb cb, void *ud)
{
    wf_save_t w = {.now = ad_wall_ms(), .state = json_dumps(state, JSON_COMPACT)};
    snprintf(w.id, sizeof(w.id), "%s", id);
    snprintf(w.status, sizeof(w.status), "%s", status);
    ad_store_typed_write(st, wf_save, &w, sizeof(w), wf_save_cleanup, cb, ud);
}
