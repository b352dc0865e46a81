/* SPDX-License-Identifier: MIT */
/*
 * nodes (migration 2750, issue #34): the worker nodes that joined, one row
 * per (org, name), each bound to the node token it joined with; and the
 * runs placed on them (runs.node_id). Joins, renewals and revocations are
 * typed writes; reads are on the loop's read connection (a handful of
 * rows, by index). What a node is and may do is src/node's.
 */
#include "store/table.h"
#include "tables/nodes.h"

#include <string.h>

#define NODE_COLS                                                                                  \
    "id, org_id, name, labels, caps, created_at, last_seen_at, COALESCE(revoked_at, 0), "          \
    "token_id, cordoned, draining, max_runs, labels_set, plane_id"

/* A JSON column as a value ({} when empty or not JSON). */
static json_t *obj_col(ad_db_stmt_t *s, int i)
{
    const char *t = (const char *)ad_db_column_text(s, i);
    json_t *v = t != NULL ? json_loads(t, 0, NULL) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        v = json_object();
    }
    return v;
}

static json_t *node_row(ad_db_stmt_t *s)
{
    char c[AD_TIME_MAX], seen[AD_TIME_MAX], rev[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(s, 5), c);
    ad_time_format(ad_db_column_int64(s, 6), seen);
    json_t *row = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s}", "id", (const char *)ad_db_column_text(s, 0),
        "orgId", (const char *)ad_db_column_text(s, 1), "name",
        (const char *)ad_db_column_text(s, 2), "labels", obj_col(s, 3), "caps", obj_col(s, 4),
        "createdAt", c, "lastSeenAt", seen, "tokenId", (const char *)ad_db_column_text(s, 8));
    int64_t revoked = ad_db_column_int64(s, 7);
    if (revoked > 0) { /* only then: its presence is what says revoked */
        ad_time_format(revoked, rev);
        json_object_set_new(row, "revokedAt", json_string(rev));
    }
    /* the operator's (issue #77): labels set here override the node's */
    bool set = ad_db_column_type(s, 12) != AD_DB_NULL;
    json_object_set_new(row, "nodeLabels", json_deep_copy(json_object_get(row, "labels")));
    if (set) {
        json_object_set_new(row, "labels", obj_col(s, 12));
    }
    json_object_set_new(row, "labelsSet", json_boolean(set));
    const char *plane = (const char *)ad_db_column_text(s, 13);
    json_object_set_new(row, "planeId",
                        plane != NULL && plane[0] != '\0' ? json_string(plane) : json_null());
    json_object_set_new(row, "cordoned", json_boolean(ad_db_column_int64(s, 9) != 0));
    json_object_set_new(row, "draining", json_boolean(ad_db_column_int64(s, 10) != 0));
    json_object_set_new(row, "maxRuns",
                        ad_db_column_type(s, 11) == AD_DB_NULL
                            ? json_null()
                            : json_integer(ad_db_column_int64(s, 11)));
    return row;
}

/* The statements of node_by: literals, as the statement cache keys on
 * the text's address. */
#define BY_ID "SELECT " NODE_COLS " FROM nodes WHERE id = ?1"
#define BY_TOKEN "SELECT " NODE_COLS " FROM nodes WHERE token_id = ?1"
#define BY_NAME "SELECT " NODE_COLS " FROM nodes WHERE org_id = ?1 AND name = ?2"

/* The row sql (one of the above) finds (on db), or NULL; *rc the step's
 * error. */
static json_t *node_by(ad_db_t *db, const char *sql, const char *v1, const char *v2, int *rc)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    *rc = 0;
    if (s == NULL) {
        *rc = AD_EINTERNAL;
        return NULL;
    }
    ad_store_bind_text(s, 1, v1);
    if (v2 != NULL) {
        ad_store_bind_text(s, 2, v2);
    }
    int step = ad_db_step(s);
    json_t *row = step == AD_DB_ROW ? node_row(s) : NULL;
    if (step != AD_DB_ROW && step != AD_DB_DONE) {
        *rc = ad_store_rc(db, step);
    }
    ad_db_reset(s);
    return row;
}

static int node_join(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_node_join_t *j = in;
    int rc;
    json_t *mine = node_by(tx->db, BY_TOKEN, j->token_id, NULL, &rc);
    if (rc != 0) {
        return rc;
    }
    const char *id = j->id;
    if (mine != NULL) {
        const char *name = json_string_value(json_object_get(mine, "name"));
        if (strcmp(name, j->name) != 0 || json_object_get(mine, "revokedAt") != NULL) {
            *result = mine; /* the token is another node's key, or revoked */
            return json_object_get(mine, "revokedAt") != NULL ? AD_EPERM : AD_EEXIST;
        }
        id = json_string_value(json_object_get(mine, "id"));
    } else {
        json_t *named = node_by(tx->db, BY_NAME, j->org_id, j->name, &rc);
        if (rc != 0) {
            return rc;
        }
        if (named != NULL && json_object_get(named, "revokedAt") == NULL) {
            *result = named; /* the name is another token's */
            return AD_EEXIST;
        }
        if (named != NULL) { /* a revoked node's name, taken by a new token */
            mine = named;
            id = json_string_value(json_object_get(named, "id"));
        }
    }
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO nodes (id, org_id, name, token_id, labels, caps, created_at, "
                "last_seen_at, plane_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) "
                "ON CONFLICT (id) DO UPDATE SET token_id = ?4, labels = ?5, caps = ?6, "
                "last_seen_at = ?7, plane_id = ?8, revoked_at = NULL");
    if (s == NULL) {
        json_decref(mine);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, j->org_id);
    ad_store_bind_text(s, 3, j->name);
    ad_store_bind_text(s, 4, j->token_id);
    ad_store_bind_text(s, 5, j->labels);
    ad_store_bind_text(s, 6, j->caps);
    ad_db_bind_int64(s, 7, j->now);
    ad_store_bind_text(s, 8, j->plane_id[0] != '\0' ? j->plane_id : NULL);
    rc = ad_store_step_done(tx->db, s);
    char nid[AD_ID_MAX];
    snprintf(nid, sizeof(nid), "%s", id);
    json_decref(mine);
    if (rc != 0) {
        return rc;
    }
    *result = node_by(tx->db, BY_ID, nid, NULL, &rc);
    return rc;
}

static void join_cleanup(void *in)
{
    ad_store_node_join_t *j = in;
    free(j->labels);
    free(j->caps);
}

void ad_store_node_join(ad_store_t *st, const ad_store_node_join_t *j, ad_store_result_cb cb,
                        void *ud)
{
    ad_store_node_join_t copy = *j;
    copy.labels = ad_xstrdup(j->labels != NULL ? j->labels : "{}");
    copy.caps = ad_xstrdup(j->caps != NULL ? j->caps : "{}");
    ad_store_typed_write(st, node_join, &copy, sizeof(copy), join_cleanup, cb, ud);
}

typedef struct {
    char id[AD_ID_MAX], plane_id[AD_ID_MAX];
    char *caps;
    int64_t now;
} seen_t;

static int node_seen(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const seen_t *x = in;
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "UPDATE nodes SET caps = COALESCE(?2, caps), last_seen_at = ?3, "
                              "plane_id = COALESCE(?4, plane_id) WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->id);
    ad_store_bind_text(s, 2, x->caps);
    ad_db_bind_int64(s, 3, x->now);
    ad_store_bind_text(s, 4, x->plane_id[0] != '\0' ? x->plane_id : NULL);
    return ad_store_step_done(tx->db, s);
}

static void seen_cleanup(void *in)
{
    free(((seen_t *)in)->caps);
}

void ad_store_node_seen(ad_store_t *st, const char *id, const char *plane_id, const char *caps,
                        int64_t now)
{
    seen_t x = {.now = now, .caps = caps != NULL ? ad_xstrdup(caps) : NULL};
    snprintf(x.id, sizeof(x.id), "%s", id);
    snprintf(x.plane_id, sizeof(x.plane_id), "%s", plane_id != NULL ? plane_id : "");
    ad_store_typed_write(st, node_seen, &x, sizeof(x), seen_cleanup, NULL, NULL);
}

/* ---- the operator's settings (issue #77) ---------------------------------------- */

typedef struct {
    ad_store_node_set_t set;
    char id[AD_ID_MAX];
} set_job_t;

static int node_set(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const set_job_t *x = in;
    const ad_store_node_set_t *v = &x->set;
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "UPDATE nodes SET "
                              "cordoned = CASE WHEN ?2 <> 0 THEN ?3 ELSE cordoned END, "
                              "draining = CASE WHEN ?4 <> 0 THEN ?5 ELSE draining END, "
                              "max_runs = CASE WHEN ?6 <> 0 THEN ?7 ELSE max_runs END, "
                              "labels_set = CASE WHEN ?8 <> 0 THEN ?9 ELSE labels_set END "
                              "WHERE id = ?1 AND revoked_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->id);
    ad_db_bind_int(s, 2, v->has_cordoned);
    ad_db_bind_int(s, 3, v->cordoned);
    ad_db_bind_int(s, 4, v->has_draining);
    ad_db_bind_int(s, 5, v->draining);
    ad_db_bind_int(s, 6, v->has_max_runs);
    if (v->max_runs >= 0) {
        ad_db_bind_int64(s, 7, v->max_runs);
    } else {
        ad_db_bind_null(s, 7);
    }
    ad_db_bind_int(s, 8, v->has_labels);
    ad_store_bind_text(s, 9, v->labels); /* NULL: the node's own again */
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        return AD_ENOENT;
    }
    if (rc == 0) {
        *result = node_by(tx->db, BY_ID, x->id, NULL, &rc);
    }
    return rc;
}

static void set_cleanup(void *in)
{
    free(((set_job_t *)in)->set.labels);
}

void ad_store_node_set(ad_store_t *st, const char *id, const ad_store_node_set_t *set,
                       ad_store_result_cb cb, void *ud)
{
    set_job_t x = {.set = *set};
    x.set.labels = set->labels != NULL ? ad_xstrdup(set->labels) : NULL;
    snprintf(x.id, sizeof(x.id), "%s", id);
    ad_store_typed_write(st, node_set, &x, sizeof(x), set_cleanup, cb, ud);
}

int ad_store_node_running(ad_store_t *st, const char *id, int64_t *n)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT COUNT(*) FROM runs WHERE node_id = ?1 AND "
                                        "node_id IS NOT NULL AND status = 'running'");
    *n = 0;
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        *n = ad_db_column_int64(s, 0);
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : ad_store_rc(db, step);
}

static int node_revoke(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const seen_t *x = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE nodes SET revoked_at = ?2 WHERE id = ?1 AND "
                                            "revoked_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->id);
    ad_db_bind_int64(s, 2, x->now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        return AD_ENOENT;
    }
    if (rc == 0) {
        *result = node_by(tx->db, BY_ID, x->id, NULL, &rc);
    }
    return rc;
}

void ad_store_node_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                          void *ud)
{
    seen_t x = {.now = now};
    snprintf(x.id, sizeof(x.id), "%s", id);
    ad_store_typed_write(st, node_revoke, &x, sizeof(x), NULL, cb, ud);
}

int ad_store_node_get(ad_store_t *st, const char *id, json_t **out)
{
    int rc;
    *out = node_by(ad_store_rdb(st), BY_ID, id, NULL, &rc);
    return rc != 0 ? rc : *out == NULL ? AD_ENOENT : 0;
}

int ad_store_nodes_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " NODE_COLS " FROM nodes WHERE ?1 = '' OR "
                                        "org_id = ?1 ORDER BY name, id LIMIT 1000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, node_row(s));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}

int ad_store_runs_on_nodes(ad_store_t *st, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT r.id, r.agent_id, r.node_id, r.started_at FROM runs r "
                          "WHERE r.node_id IS NOT NULL AND r.status = 'running' LIMIT 100000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "id",
                                           (const char *)ad_db_column_text(s, 0), "agentId",
                                           (const char *)ad_db_column_text(s, 1), "nodeId",
                                           (const char *)ad_db_column_text(s, 2), "startedAt",
                                           (json_int_t)ad_db_column_int64(s, 3)));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}
