/* SPDX-License-Identifier: MIT */
/*
 * Store side of a run's trace (issue #36, migration 2671): spans kept
 * beside the transcript, agentd's own and those its program sent, at most
 * a bound per run (the spans past it are dropped and counted). Making and
 * receiving them is src/otel's.
 */
#include "store/table.h"
#include "tables/spans.h"

#include <stdlib.h>
#include <string.h>

#define SPAN_COLS                                                                                  \
    "span_id AS spanId, trace_id AS traceId, parent_span_id AS parentSpanId, name, kind, "         \
    "start_us AS startUs, end_us AS endUs, status, status_message AS statusMessage, service, "     \
    "source, attrs"

int ad_store_op_run_spans_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *run = ad_args_str(args, "runId");
    int64_t max = ad_args_int(args, "max", 10000);
    ad_db_stmt_t *c = ad_store_stmt(db, "SELECT count(*) FROM run_spans WHERE run_id = ?1");
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT OR IGNORE INTO run_spans (run_id, span_id, trace_id, parent_span_id, name, "
            "kind, start_us, end_us, status, status_message, service, source, attrs) SELECT ?1, "
            "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 WHERE EXISTS (SELECT 1 FROM runs "
            "WHERE id = ?1)");
    if (c == NULL || s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(c, 1, run);
    int rc = ad_db_step(c);
    int64_t have = rc == AD_DB_ROW ? ad_db_column_int64(c, 0) : 0;
    ad_db_reset(c);
    if (rc != AD_DB_ROW) {
        return ad_store_rc(db, rc);
    }
    int64_t stored = 0, dropped = 0;
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(args, "spans"), i, sp)
    {
        if (have + stored >= max) {
            dropped++;
            continue;
        }
        char *attrs = json_dumps(json_object_get(sp, "attrs"), JSON_COMPACT);
        ad_store_bind_text(s, 1, run);
        ad_store_bind_text(s, 2, ad_args_str(sp, "spanId"));
        ad_store_bind_text(s, 3, ad_args_str(sp, "traceId"));
        ad_store_bind_text(s, 4, ad_args_str(sp, "parentSpanId"));
        ad_store_bind_text(s, 5, ad_args_str(sp, "name"));
        ad_db_bind_int64(s, 6, ad_args_int(sp, "kind", 1));
        ad_db_bind_int64(s, 7, ad_args_int(sp, "startUs", 0));
        ad_db_bind_int64(s, 8, ad_args_int(sp, "endUs", 0));
        ad_db_bind_int64(s, 9, ad_args_int(sp, "status", 0));
        ad_store_bind_text(s, 10, ad_args_str(sp, "statusMessage"));
        ad_store_bind_text(s, 11, ad_args_str(sp, "service"));
        ad_store_bind_text(s, 12, ad_args_str(args, "source"));
        ad_store_bind_text(s, 13, attrs);
        int e = ad_store_step_done(db, s);
        free(attrs);
        if (e != 0) {
            return e;
        }
        stored += ad_db_changes(db);
    }
    *result = json_pack("{s:I, s:I}", "stored", (json_int_t)stored, "dropped", (json_int_t)dropped);
    return 0;
}

typedef struct {
    char run[AD_ID_MAX];
    int limit;
    json_t *out;
    ad_store_result_cb cb;
    void *ud;
} spans_read_t;

static int spans_read(ad_db_t *db, void *ctx)
{
    spans_read_t *q = ctx;
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db,
                              "SELECT " SPAN_COLS " FROM run_spans WHERE run_id = ?1 ORDER BY "
                              "start_us, span_id LIMIT ?2",
                              -1, &s, NULL);
    if (rc != AD_DB_OK) {
        return ad_store_rc(db, rc);
    }
    ad_db_bind_text(s, 1, q->run, -1, AD_DB_STATIC);
    ad_db_bind_int(s, 2, q->limit);
    q->out = json_array();
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(q->out, ad_store_row_json(s, "attrs", "parentSpanId"));
    }
    ad_db_finalize(s);
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static void spans_done(int rc, void *ctx)
{
    spans_read_t *q = ctx;
    q->cb(rc, rc == 0 ? q->out : NULL, q->ud);
    if (rc != 0) {
        json_decref(q->out);
    }
    free(q);
}

void ad_store_run_spans(ad_store_t *st, const char *run_id, int limit, ad_store_result_cb cb,
                        void *ud)
{
    spans_read_t *q = ad_xcalloc(1, sizeof(*q));
    snprintf(q->run, sizeof(q->run), "%s", run_id);
    q->limit = limit > 0 ? limit : 10000;
    q->cb = cb;
    q->ud = ud;
    ad_store_read_async(st, spans_read, spans_done, q);
}
