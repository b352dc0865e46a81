/* SPDX-License-Identifier: MIT */
/* Why an agent has its status (issue #33, migration 2470): the reason a
 * write hands the store, and the agent's status history. */
#include "store/table.h"
#include "tables/runs.h"
#include "tables/tables_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ad_status_reason_set(ad_store_status_reason_t *r, const char *code, const char *ref,
                          const char *fmt, ...)
{
    snprintf(r->code, sizeof(r->code), "%s", code);
    snprintf(r->ref, sizeof(r->ref), "%s", ref != NULL ? ref : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof(r->text), fmt, ap);
    va_end(ap);
}

int ad_store_bind_reason(ad_db_stmt_t *s, int idx, const ad_store_status_reason_t *r, int64_t at)
{
    if (r == NULL || r->code[0] == '\0') {
        return ad_db_bind_null(s, idx);
    }
    json_t *j = json_pack("{s:s, s:s, s:I, s:s?}", "code", r->code, "text", r->text, "at",
                          (json_int_t)at, "ref", r->ref[0] != '\0' ? r->ref : NULL);
    int rc = ad_store_bind_json(s, idx, j);
    json_decref(j);
    return rc;
}

int ad_store_status_history(ad_store_t *st, const char *agent_id, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT 1 FROM agents WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    int step = ad_db_step(s);
    ad_db_reset(s);
    if (step != AD_DB_ROW) {
        return step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
    }
    s = ad_store_stmt(db, "SELECT status, code, text, ref, at FROM agent_status_history "
                          "WHERE agent_id = ? ORDER BY id DESC LIMIT ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    ad_db_bind_int(s, 2, limit > 0 && limit <= 200 ? limit : 50);
    json_t *entries = json_array();
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(entries, ad_store_row_json(s, "", "code,text,ref"));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(entries);
        return ad_store_rc(db, step);
    }
    *out = json_pack("{s:s, s:o}", "agentId", agent_id, "entries", entries);
    return 0;
}
