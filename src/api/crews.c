/* SPDX-License-Identifier: MIT */
/*
 * Crews: GET/POST /api/crews, and the crew status derived from the crew's
 * agents (busy if one is running, available if one is alive and idle,
 * offline otherwise). A watcher on agent events recomputes the statuses
 * after each change (on the next loop turn, never inside a fan-out) and
 * publishes `signal` {crewId, status} on crew:<id> when one changes.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define CREWS_MAX 1000

/* Crew statuses as last published. */
typedef struct known {
    struct known *next;
    char status[16];
    char id[];
} known_t;

typedef struct {
    ad_app_t *app;
    ad_bus_sub_t *sub;
    uv_timer_t timer;
    known_t *known;
    bool scheduled;
} watch_t;

static watch_t watch;

/* Every crew with its status: [{id, name, status, agentCount, createdAt,
 * updatedAt}], oldest first. New reference. A bounded indexed read. */
json_t *api_crews_snapshot(ad_app_t *app)
{
    json_t *out = json_array();
    if (app->store == NULL) {
        return out;
    }
    sqlite3 *db = ad_store_rdb(app->store);
    sqlite3_stmt *st = ad_store_stmt(
        db, "SELECT c.id, c.name, c.created_at, c.updated_at, "
            "COALESCE(SUM(a.status = 'running'), 0), "
            "COALESCE(SUM(a.status IN ('waiting', 'idle', 'paused')), 0), COUNT(a.id) "
            "FROM crews c LEFT JOIN agents a ON a.crew_id = c.id AND a.deleted_at IS NULL "
            "GROUP BY c.id ORDER BY c.created_at, c.id LIMIT 1000");
    if (st == NULL) {
        return out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        char created[AD_TIME_MAX], updated[AD_TIME_MAX];
        ad_time_format(sqlite3_column_int64(st, 2), created);
        ad_time_format(sqlite3_column_int64(st, 3), updated);
        const char *status = sqlite3_column_int64(st, 4) > 0   ? "busy"
                             : sqlite3_column_int64(st, 5) > 0 ? "available"
                                                               : "offline";
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "id",
                                        (const char *)sqlite3_column_text(st, 0), "name",
                                        (const char *)sqlite3_column_text(st, 1), "status", status,
                                        "agentCount", (json_int_t)sqlite3_column_int64(st, 6),
                                        "createdAt", created, "updatedAt", updated));
    }
    sqlite3_reset(st);
    return out;
}

static known_t *known_find(const char *id)
{
    for (known_t *k = watch.known; k != NULL; k = k->next) {
        if (strcmp(k->id, id) == 0) {
            return k;
        }
    }
    return NULL;
}

static known_t *known_add(const char *id, const char *status)
{
    size_t n = strlen(id) + 1;
    known_t *k = ad_xcalloc(1, sizeof(*k) + n);
    memcpy(k->id, id, n);
    snprintf(k->status, sizeof(k->status), "%s", status);
    k->next = watch.known;
    watch.known = k;
    return k;
}

static void publish_signal(ad_app_t *app, const char *crew, const char *status)
{
    json_t *p = json_pack("{s:s, s:s}", "crewId", crew, "status", status);
    api_publish(app, "signal", p, "crew", crew, NULL);
    json_decref(p);
}

/* Compares every crew's status with what was last published. */
static void recompute(uv_timer_t *t)
{
    watch.scheduled = false;
    json_t *crews = api_crews_snapshot(watch.app);
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *status = json_string_value(json_object_get(c, "status"));
        known_t *k = known_find(id);
        if (k == NULL) {
            known_add(id, status);
            if (strcmp(status, "offline") != 0) {
                publish_signal(watch.app, id, status);
            }
        } else if (strcmp(k->status, status) != 0) {
            snprintf(k->status, sizeof(k->status), "%s", status);
            publish_signal(watch.app, id, status);
        }
    }
    json_decref(crews);
}

static int on_agent_event(void *ud, const ad_bus_event_t *ev)
{
    const char *type = ad_bus_event_type(ev);
    if (strncmp(type, "agent_", 6) != 0 || strcmp(type, "agent_output") == 0 ||
        strcmp(type, "agent_context") == 0) {
        return 0;
    }
    if (!watch.scheduled) {
        watch.scheduled = true;
        uv_timer_start(&watch.timer, recompute, 0, 0);
    }
    return 0;
}

static const ad_bus_sub_ops_t watch_ops = {on_agent_event, NULL, NULL, NULL};

/* ---- REST ------------------------------------------------------------------------- */

static void list(ad_req_t *r, void *ud)
{
    ad_res_json(r, 200, json_pack("{s:o}", "crews", api_crews_snapshot(ud)));
}

static json_t *crew_by_id(ad_app_t *app, const char *id)
{
    json_t *crews = api_crews_snapshot(app);
    size_t i;
    json_t *c;
    json_t *found = NULL;
    json_array_foreach(crews, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0) {
            found = json_incref(c);
            break;
        }
    }
    json_decref(crews);
    return found;
}

static void get(ad_req_t *r, void *ud)
{
    json_t *c = crew_by_id(ud, ad_req_param(r, "id"));
    if (c == NULL) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "crew %s not found", ad_req_param(r, "id"));
        return;
    }
    ad_res_json(r, 200, c);
}

static int crew_insert(sqlite3 *db, json_t *args, json_t **result)
{
    sqlite3_stmt *st = ad_store_stmt(
        db, "INSERT INTO crews(id, name, created_at, updated_at) VALUES(?1, ?2, ?3, ?3)");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_text(st, 1, json_string_value(json_object_get(args, "id")), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_string_value(json_object_get(args, "name")), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(args, "now")));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : ad_store_rc(db, rc);
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        api_fail(r, rc, "crew", NULL);
        return;
    }
    const char *id = ad_req_data(r);
    json_t *c = crew_by_id(app, id);
    if (c == NULL) {
        ad_res_error_code(r, AD_EINTERNAL, NULL, "crew vanished after insert");
        return;
    }
    if (known_find(id) == NULL) {
        known_add(id, json_string_value(json_object_get(c, "status")));
    }
    publish_signal(app, id, json_string_value(json_object_get(c, "status")));
    ad_res_json(r, 201, c);
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL;
    if (api_str(r, body, "name", true, 200, &name) != 0) {
        json_decref(body);
        return;
    }
    char id[AD_ID_MAX];
    ad_id_new("crew", id);
    ad_req_set_data(r, ad_arena_strndup(ad_req_arena(r), id, strlen(id)));
    json_t *args =
        json_pack("{s:s, s:s, s:I}", "id", id, "name", name, "now", (json_int_t)ad_wall_ms());
    json_decref(body);
    api_write(app, r, crew_insert, args, created);
}

void api_crews_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/crews", list, app);
    ad_server_route(app->server, "POST", "/api/crews", create, app);
    ad_server_route(app->server, "GET", "/api/crews/:id", get, app);
    if (app->bus != NULL && app->loop != NULL && watch.sub == NULL) {
        watch.app = app;
        uv_timer_init(app->loop, &watch.timer);
        uv_unref((uv_handle_t *)&watch.timer);
        watch.sub = ad_bus_sub_new(app->bus, &watch_ops, &watch, 0);
        const char *topics[1] = {"agent:*"};
        ad_bus_subscribe(watch.sub, topics, 1, false, 0);
        /* Known statuses start from the table, so only changes publish. */
        json_t *crews = api_crews_snapshot(app);
        size_t i;
        json_t *c;
        json_array_foreach(crews, i, c)
        {
            known_add(json_string_value(json_object_get(c, "id")),
                      json_string_value(json_object_get(c, "status")));
        }
        json_decref(crews);
    }
}
