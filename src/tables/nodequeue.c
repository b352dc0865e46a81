/* SPDX-License-Identifier: MIT */
/*
 * The queue of starts waiting for a worker node with room (migration
 * 2990, issue #77, docs/nodes.md "Draining, cordoning, capacity and
 * queues"): one item per agent, FIFO per organisation. A plane takes an
 * item with one conditional UPDATE before it starts it (the claim), as a
 * run's lease is taken, so on one database one plane starts it. What a
 * queued start is and when it goes is src/run's (queue.c).
 */
#include "store/table.h"
#include "tables/nodes.h"

#include <string.h>

#define QUEUE_COLS                                                                                 \
    "q.agent_id, q.org_id, q.node_id, q.prompt, q.reasons, q.queued_at, q.queued_by, "             \
    "q.claimed_by, q.claimed_until, a.name"
#define QUEUE_FROM " FROM node_queue q LEFT JOIN agents a ON a.id = q.agent_id"

static json_t *item_row(ad_db_stmt_t *s)
{
    char at[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(s, 5), at);
    return json_pack(
        "{s:s, s:s?, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s?, s:I}", "agentId",
        (const char *)ad_db_column_text(s, 0), "agentName", (const char *)ad_db_column_text(s, 9),
        "orgId", (const char *)ad_db_column_text(s, 1), "nodeId",
        (const char *)ad_db_column_text(s, 2), "prompt", (const char *)ad_db_column_text(s, 3),
        "reasons", (const char *)ad_db_column_text(s, 4), "queuedAt", at, "queuedBy",
        (const char *)ad_db_column_text(s, 6), "claimedBy", (const char *)ad_db_column_text(s, 7),
        "claimedUntil", (json_int_t)ad_db_column_int64(s, 8));
}

#define ITEM_BY_AGENT "SELECT " QUEUE_COLS QUEUE_FROM " WHERE q.agent_id = ?1"

static int item_get(ad_db_t *db, const char *agent_id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, ITEM_BY_AGENT);
    *out = NULL;
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        *out = item_row(s);
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}

static int queue_add(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_queue_item_t *it = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO node_queue (agent_id, org_id, node_id, prompt, reasons, queued_at, "
                "queued_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, it->agent_id);
    ad_store_bind_text(s, 2, it->org_id);
    ad_store_bind_text(s, 3, it->node_id[0] != '\0' ? it->node_id : NULL);
    ad_store_bind_text(s, 4, it->prompt);
    ad_store_bind_text(s, 5, it->reasons != NULL ? it->reasons : "");
    ad_db_bind_int64(s, 6, it->now);
    ad_store_bind_text(s, 7, it->queued_by);
    int rc = ad_store_step_done(tx->db, s);
    return rc != 0 ? rc : item_get(tx->db, it->agent_id, result);
}

static void add_cleanup(void *in)
{
    ad_store_queue_item_t *it = in;
    free(it->prompt);
    free(it->reasons);
}

void ad_store_queue_add(ad_store_t *st, const ad_store_queue_item_t *it, ad_store_result_cb cb,
                        void *ud)
{
    ad_store_queue_item_t copy = *it;
    copy.prompt = it->prompt != NULL ? ad_xstrdup(it->prompt) : NULL;
    copy.reasons = ad_xstrdup(it->reasons != NULL ? it->reasons : "");
    ad_store_typed_write(st, queue_add, &copy, sizeof(copy), add_cleanup, cb, ud);
}

typedef struct {
    char agent_id[AD_ID_MAX];
    char plane[AD_ID_MAX];
    char *reasons;
    int64_t now, until;
} q_job_t;

static void q_cleanup(void *in)
{
    free(((q_job_t *)in)->reasons);
}

static int queue_del(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const q_job_t *x = in;
    int rc = item_get(tx->db, x->agent_id, result);
    if (rc != 0) {
        return rc;
    }
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "DELETE FROM node_queue WHERE agent_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->agent_id);
    return ad_store_step_done(tx->db, s);
}

void ad_store_queue_del(ad_store_t *st, const char *agent_id, ad_store_result_cb cb, void *ud)
{
    q_job_t x = {0};
    snprintf(x.agent_id, sizeof(x.agent_id), "%s", agent_id);
    ad_store_typed_write(st, queue_del, &x, sizeof(x), NULL, cb, ud);
}

static int queue_claim(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const q_job_t *x = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE node_queue SET claimed_by = ?2, claimed_until = ?4 WHERE agent_id = ?1 "
                "AND (claimed_by IS NULL OR claimed_by = ?2 OR claimed_until < ?3)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->agent_id);
    ad_store_bind_text(s, 2, x->plane);
    ad_db_bind_int64(s, 3, x->now);
    ad_db_bind_int64(s, 4, x->until);
    int rc = ad_store_step_done(tx->db, s);
    if (rc != 0) {
        return rc;
    }
    bool won = ad_db_changes(tx->db) == 1;
    rc = item_get(tx->db, x->agent_id, result);
    return rc != 0 ? rc : won ? 0 : AD_EBUSY;
}

void ad_store_queue_claim(ad_store_t *st, const char *agent_id, const char *plane, int64_t now,
                          int64_t until, ad_store_result_cb cb, void *ud)
{
    q_job_t x = {.now = now, .until = until};
    snprintf(x.agent_id, sizeof(x.agent_id), "%s", agent_id);
    snprintf(x.plane, sizeof(x.plane), "%s", plane);
    ad_store_typed_write(st, queue_claim, &x, sizeof(x), NULL, cb, ud);
}

static int queue_release(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const q_job_t *x = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE node_queue SET claimed_by = NULL, claimed_until = 0, "
                "reasons = COALESCE(?3, reasons) WHERE agent_id = ?1 AND claimed_by = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->agent_id);
    ad_store_bind_text(s, 2, x->plane);
    ad_store_bind_text(s, 3, x->reasons);
    return ad_store_step_done(tx->db, s);
}

void ad_store_queue_release(ad_store_t *st, const char *agent_id, const char *plane,
                            const char *reasons)
{
    q_job_t x = {.reasons = reasons != NULL ? ad_xstrdup(reasons) : NULL};
    snprintf(x.agent_id, sizeof(x.agent_id), "%s", agent_id);
    snprintf(x.plane, sizeof(x.plane), "%s", plane);
    ad_store_typed_write(st, queue_release, &x, sizeof(x), q_cleanup, NULL, NULL);
}

int ad_store_queue_list(ad_store_t *st, const char *org, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    bool all = org == NULL || org[0] == '\0';
    ad_db_stmt_t *s =
        all ? ad_store_stmt(db, "SELECT " QUEUE_COLS QUEUE_FROM
                                " ORDER BY q.queued_at, q.agent_id LIMIT ?1")
            : ad_store_stmt(db, "SELECT " QUEUE_COLS QUEUE_FROM " WHERE q.org_id = ?2 "
                                "ORDER BY q.queued_at, q.agent_id LIMIT ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int(s, 1, limit);
    if (!all) {
        ad_store_bind_text(s, 2, org);
    }
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, item_row(s));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}

int ad_store_queue_get(ad_store_t *st, const char *agent_id, json_t **out)
{
    return item_get(ad_store_rdb(st), agent_id, out);
}

int ad_store_queue_for_node(ad_store_t *st, const char *node_id, int64_t *n)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT COUNT(*) FROM node_queue WHERE node_id = ?1");
    *n = 0;
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, node_id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        *n = ad_db_column_int64(s, 0);
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : ad_store_rc(db, step);
}
