/* SPDX-License-Identifier: MIT */
/*
 * The database's part of GET /api/health that issue #78 added (moved out
 * of src/api): the page check's verdict and the store's own repairs, and
 * the status they (and the database being away) make: degraded at once,
 * with a reason a person acts on.
 */
#include "store/dbcheck.h"
#include "store/store_int.h"

#include <string.h>

void ad_store_health_json(json_t *db, bool sqlite)
{
    if (sqlite) { /* the page check */
        ad_store_damage_t g;
        ad_store_damage(&g);
        json_t *tables = json_array();
        for (const char *t = g.tables; *t != '\0';) { /* "a, b" */
            const char *end = strstr(t, ", ");
            size_t len = end != NULL ? (size_t)(end - t) : strlen(t);
            json_array_append_new(tables, json_stringn(t, len));
            t += len + (end != NULL ? 2 : 0);
        }
        json_t *pages = json_pack(
            "{s:b, s:b, s:b, s:o, s:I, s:o}", "damaged", g.damaged, "checked", g.checked,
            "checking", g.checking, "tables", tables, "badReads", (json_int_t)g.bad_reads,
            "checkedAt", g.checked_at_ms > 0 ? json_integer(g.checked_at_ms) : json_null());
        if (pages != NULL && g.damaged) {
            json_object_set_new(pages, "reason", json_string(g.reason));
        }
        json_object_set_new(db, "pages", pages != NULL ? pages : json_object());
    }
    ad_store_repair_t rep[AD_STORE_REPAIRS_MAX];
    size_t n = ad_store_repairs(rep);
    json_t *repairs = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(
            repairs, json_pack("{s:I, s:s}", "at", (json_int_t)rep[i].at_ms, "what", rep[i].what));
    }
    json_object_set_new(db, "repairs", repairs);
}

void ad_store_health_status(json_t *out, json_t *db)
{
    const char *why = NULL;
    char text[1024];
    if (json_is_false(json_object_get(db, "up"))) {
        snprintf(text, sizeof(text),
                 "the database is unreachable: %s; agentd keeps the writes "
                 "it can and connects again by itself: check the database server",
                 json_string_value(json_object_get(db, "error")));
        why = text;
    } else if (json_is_true(json_object_get(json_object_get(db, "pages"), "damaged"))) {
        why = json_string_value(json_object_get(json_object_get(db, "pages"), "reason"));
    }
    json_t *repairs = json_object_get(db, "repairs");
    if (why == NULL && json_array_size(repairs) == 0) {
        return;
    }
    json_object_set_new(out, "status", json_string("degraded"));
    json_t *reasons = json_object_get(out, "statusReasons");
    if (!json_is_array(reasons)) {
        reasons = json_array();
        json_object_set_new(out, "statusReasons", reasons);
    }
    if (why != NULL) {
        json_array_append_new(reasons, json_string(why));
    }
    size_t i;
    json_t *x;
    json_array_foreach(repairs, i, x)
    {
        json_array_append(reasons, json_object_get(x, "what"));
    }
}

/* The database (issue #39): up or not and why, its round trip, its
 * connections and errors, and the writes waiting for it. */
static json_t *database(ad_store_t *st)
{
    ad_store_db_t d;
    ad_store_db(st, &d);
    ad_store_stats_t s;
    ad_store_stats(st, &s);
    json_t *o =
        json_pack("{s:s, s:b, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}",
                  "backend", d.backend, "up", d.up, "connections", "kept", (json_int_t)d.conns,
                  "idle", (json_int_t)d.pool_idle, "reading", (json_int_t)d.pool_busy, "errors",
                  (json_int_t)d.errors, "reconnects", (json_int_t)d.reconnects, "outages",
                  (json_int_t)d.outages, "writes", "queued", (json_int_t)s.waiting, "queuedBytes",
                  (json_int_t)s.waiting_bytes, "refused", (json_int_t)s.refused, "rerun",
                  (json_int_t)s.reruns, "foundApplied", (json_int_t)s.found_applied);
    if (o == NULL) {
        return json_object();
    }
    if (d.rtt_sec >= 0) {
        json_object_set_new(o, "pingMs", json_real(d.rtt_sec * 1000.0));
    }
    if (!d.up) {
        json_object_set_new(o, "error", json_string(d.reason));
        json_object_set_new(o, "downSinceMs", json_integer(d.down_since_ms));
    }
    ad_store_health_json(o, strcmp(d.backend, "sqlite") == 0); /* issue #78 */
    return o;
}

void ad_store_health_db(ad_store_t *st, json_t *out)
{
    json_t *db = database(st);
    json_object_set_new(out, "database", db);
    ad_store_health_status(out, db);
}
