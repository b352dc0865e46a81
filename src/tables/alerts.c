/* SPDX-License-Identifier: MIT */
/*
 * Alert rules and their firings (migration 2710, issue #35): rules kept as
 * the JSON src/train checked (read whole at start, one at a time after),
 * firings recorded on their run (written again when the webhook's outcome
 * is known). Reads on the loop thread (indexed, bounded); writes through
 * the writer.
 */
#include "store/table.h"
#include "tables/alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *text_json(ad_db_stmt_t *s, int i)
{
    const char *t = (const char *)ad_db_column_text(s, i);
    json_t *v = t != NULL ? json_loads(t, 0, NULL) : NULL;
    return v != NULL ? v : json_object();
}

/* A rule row: its spec with id, orgId, createdAt and updatedAt set. */
static json_t *rule_row(ad_db_stmt_t *s)
{
    json_t *r = text_json(s, 2);
    char created[AD_TIME_MAX], updated[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(s, 3), created);
    ad_time_format(ad_db_column_int64(s, 4), updated);
    json_object_set_new(r, "id", json_string((const char *)ad_db_column_text(s, 0)));
    json_object_set_new(r, "orgId", json_string((const char *)ad_db_column_text(s, 1)));
    json_object_set_new(r, "createdAt", json_string(created));
    json_object_set_new(r, "updatedAt", json_string(updated));
    return r;
}

#define RULE_SELECT "SELECT id, org_id, spec, created_at, updated_at FROM alert_rules "

int ad_store_alert_rule_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, RULE_SELECT "WHERE ?1 = '' OR org_id = ?1 ORDER BY created_at, id LIMIT 10000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    return ad_store_all_rows(db, s, rule_row, out);
}

int ad_store_alert_rule_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, RULE_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, rule_row, out);
}

int ad_store_op_alert_rule_put(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *id = ad_args_str(args, "id"), *org = ad_args_str(args, "orgId");
    int64_t now = ad_args_int(args, "now", 0);
    json_t *spec = json_object_get(args, "spec");
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO alert_rules (id, org_id, spec, created_at, updated_at) VALUES (?1, "
                "?2, ?3, ?4, ?4) ON CONFLICT(id) DO UPDATE SET spec = excluded.spec, updated_at "
                "= excluded.updated_at");
    if (s == NULL || id == NULL || org == NULL || !json_is_object(spec)) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, org);
    ad_store_bind_json(s, 3, spec);
    ad_db_bind_int64(s, 4, now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(tx->db, RULE_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(tx->db, s, rule_row, result);
}

int ad_store_op_alert_rule_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, RULE_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    int rc = ad_store_one_row(tx->db, s, rule_row, result);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(tx->db, "DELETE FROM alert_rules WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    return ad_store_step_done(tx->db, s);
}

/* ---- firings ------------------------------------------------------------------------ */

typedef struct {
    char id[AD_ID_MAX], org[AD_ID_MAX], rule[AD_ID_MAX], run[AD_ID_MAX];
    int64_t at;
    char *data; /* owned by the job */
} firing_t;

static void firing_cleanup(void *in)
{
    free(((firing_t *)in)->data);
}

/* A run deleted meanwhile takes no firing (its row would be refused). */
static int firing_put(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const firing_t *f = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO alert_firings (id, org_id, rule_id, run_id, data, at) SELECT ?1, ?2, "
                "?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?4) ON CONFLICT (id) "
                "DO UPDATE SET org_id = excluded.org_id, rule_id = excluded.rule_id, run_id = "
                "excluded.run_id, data = excluded.data, at = excluded.at");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, f->id);
    ad_store_bind_text(s, 2, f->org);
    ad_store_bind_text(s, 3, f->rule);
    ad_store_bind_text(s, 4, f->run);
    ad_store_bind_text(s, 5, f->data);
    ad_db_bind_int64(s, 6, f->at);
    return ad_store_step_done(tx->db, s);
}

void ad_store_alert_firing_put(ad_store_t *st, const json_t *firing, int64_t at,
                               ad_store_result_cb cb, void *ud)
{
    firing_t f = {.at = at, .data = json_dumps(firing, JSON_COMPACT)};
    snprintf(f.id, sizeof(f.id), "%s", json_string_value(json_object_get(firing, "id")));
    snprintf(f.org, sizeof(f.org), "%s", json_string_value(json_object_get(firing, "orgId")));
    snprintf(f.rule, sizeof(f.rule), "%s", json_string_value(json_object_get(firing, "ruleId")));
    snprintf(f.run, sizeof(f.run), "%s", json_string_value(json_object_get(firing, "runId")));
    ad_store_typed_write(st, firing_put, &f, sizeof(f), firing_cleanup, cb, ud);
}

static json_t *firing_row(ad_db_stmt_t *s)
{
    return text_json(s, 0);
}

int ad_store_alert_firings(ad_store_t *st, const char *run_id, const char *rule_id, const char *org,
                           int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        run_id != NULL
            ? ad_store_stmt(db, "SELECT data FROM alert_firings WHERE run_id = ?1 AND (?2 = '' "
                                "OR org_id = ?2) ORDER BY at DESC, id DESC LIMIT ?3")
            : ad_store_stmt(db, "SELECT data FROM alert_firings WHERE rule_id = ?1 AND (?2 = '' "
                                "OR org_id = ?2) ORDER BY at DESC, id DESC LIMIT ?3");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id != NULL ? run_id : rule_id);
    ad_store_bind_text(s, 2, org != NULL ? org : "");
    ad_db_bind_int(s, 3, limit);
    return ad_store_all_rows(db, s, firing_row, out);
}
