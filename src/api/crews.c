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

/* The crew status watcher (app->api->crew_watch): freed in its timer's
 * close callback. */
struct ad_api_crew_watch {
    ad_app_t *app;
    ad_bus_sub_t *sub;
    uv_timer_t timer;
    known_t *known;
    bool scheduled;
};
typedef struct ad_api_crew_watch watch_t;

/* Every crew with its status: [{id, name, status, agentCount, createdAt,
 * updatedAt}], oldest first. New reference. A bounded indexed read. */
json_t *ad_api_crews_snapshot(ad_app_t *app, const char *org)
{
    json_t *out = NULL;
    int rc = app->store != NULL ? ad_store_crew_list(app->store, org, &out) : AD_ECLOSED;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "api", "crews unavailable error=%s", ad_strerror(rc));
        return json_array();
    }
    return out;
}

static known_t *known_find(watch_t *w, const char *id)
{
    for (known_t *k = w->known; k != NULL; k = k->next) {
        if (strcmp(k->id, id) == 0) {
            return k;
        }
    }
    return NULL;
}

static known_t *known_add(watch_t *w, const char *id, const char *status)
{
    size_t n = strlen(id) + 1;
    known_t *k = ad_xcalloc(1, sizeof(*k) + n);
    memcpy(k->id, id, n);
    snprintf(k->status, sizeof(k->status), "%s", status);
    k->next = w->known;
    w->known = k;
    return k;
}

static void publish_signal(ad_app_t *app, const char *crew, const char *status, const char *org)
{
    json_t *p = json_pack("{s:s, s:s}", "crewId", crew, "status", status);
    ad_api_publish(app, "signal", p, "crew", crew, "org", org, NULL);
    json_decref(p);
}

/* Compares every crew's status with what was last published. */
static void recompute(uv_timer_t *t)
{
    watch_t *w = t->data;
    w->scheduled = false;
    json_t *crews = ad_api_crews_snapshot(w->app, "");
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *status = json_string_value(json_object_get(c, "status"));
        known_t *k = known_find(w, id);
        if (k == NULL) {
            known_add(w, id, status);
            if (strcmp(status, "offline") != 0) {
                publish_signal(w->app, id, status, ad_api_jstr(c, "orgId"));
            }
        } else if (strcmp(k->status, status) != 0) {
            snprintf(k->status, sizeof(k->status), "%s", status);
            publish_signal(w->app, id, status, ad_api_jstr(c, "orgId"));
        }
    }
    json_decref(crews);
}

static int on_agent_event(void *ud, const ad_bus_event_t *ev)
{
    watch_t *w = ud;
    const char *type = ad_bus_event_type(ev);
    if (strncmp(type, "agent_", 6) != 0 || strcmp(type, "agent_output") == 0 ||
        strcmp(type, "agent_context") == 0) {
        return 0;
    }
    if (!w->scheduled) {
        w->scheduled = true;
        uv_timer_start(&w->timer, recompute, 0, 0);
    }
    return 0;
}

static const ad_bus_sub_ops_t watch_ops = {on_agent_event, NULL, NULL, NULL, NULL};

/* ---- REST ------------------------------------------------------------------------- */

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *crews = NULL;
    int rc = ad_store_crew_list(app->store, ad_principal_filter(ad_api_who(r)), &crews);
    if (rc != 0) {
        ad_api_fail(r, rc, "crews", NULL);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "crews", crews));
}

static void get(ad_req_t *r, void *ud)
{
    json_t *c = ad_api_crew_load(ud, r);
    if (c != NULL) {
        ad_res_json(r, 200, c);
    }
}

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char id[AD_ID_MAX];
} create_t;

static void created(int rc, void *ctx)
{
    create_t *k = ctx;
    ad_req_t *r = k->req;
    json_t *c = NULL;
    if (rc == 0) {
        rc = ad_store_crew_get(k->app->store, k->id, &c);
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "crew", NULL);
        free(k);
        return;
    }
    const char *status = json_string_value(json_object_get(c, "status"));
    watch_t *w = k->app->api != NULL ? k->app->api->crew_watch : NULL;
    if (w != NULL && known_find(w, k->id) == NULL) {
        known_add(w, k->id, status);
    }
    publish_signal(k->app, k->id, status, ad_api_jstr(c, "orgId"));
    ad_res_json(r, 201, c);
    free(k);
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL;
    char org[AD_ID_MAX];
    if (ad_api_str(r, body, "name", true, 200, &name) != 0 ||
        ad_api_org_for(app, r, body, org) != 0) {
        json_decref(body);
        return;
    }
    if (name[strspn(name, " \t\r\n")] == '\0') {
        ad_api_invalid(r, "name", "must not be empty");
        json_decref(body);
        return;
    }
    ad_store_crew_t c = {.now = ad_wall_ms()};
    snprintf(c.org_id, sizeof(c.org_id), "%s", org);
    ad_id_new("crew", c.id);
    snprintf(c.name, sizeof(c.name), "%s", name);
    json_decref(body);
    create_t *k = ad_xcalloc(1, sizeof(*k));
    k->app = app;
    k->req = r;
    memcpy(k->id, c.id, sizeof(k->id));
    ad_store_crew_create(app->store, &c, created, k);
}

static void on_watch_closed(uv_handle_t *h)
{
    watch_t *w = h->data;
    while (w->known != NULL) {
        known_t *k = w->known;
        w->known = k->next;
        free(k);
    }
    free(w);
}

void ad_api_crews_close(ad_app_t *app)
{
    watch_t *w = app->api->crew_watch;
    if (w == NULL) {
        return;
    }
    app->api->crew_watch = NULL;
    ad_bus_sub_free(w->sub);
    w->sub = NULL;
    uv_close((uv_handle_t *)&w->timer, on_watch_closed);
}

void ad_api_crews_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/crews", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "POST", "/api/crews", AD_ACCESS_WRITE, create, app);
    ad_server_route(app->server, "GET", "/api/crews/:id", AD_ACCESS_READ, get, app);
    if (app->bus != NULL && app->loop != NULL && app->api->crew_watch == NULL) {
        watch_t *w = ad_xcalloc(1, sizeof(*w));
        app->api->crew_watch = w;
        w->app = app;
        uv_timer_init(app->loop, &w->timer);
        w->timer.data = w;
        uv_unref((uv_handle_t *)&w->timer);
        w->sub = ad_bus_sub_new(app->bus, &watch_ops, w, 0);
        const char *topics[1] = {"agent:*"};
        ad_bus_subscribe(w->sub, topics, 1, false, 0);
        /* Known statuses start from the table, so only changes publish. */
        json_t *crews = ad_api_crews_snapshot(app, "");
        size_t i;
        json_t *c;
        json_array_foreach(crews, i, c)
        {
            known_add(w, json_string_value(json_object_get(c, "id")),
                      json_string_value(json_object_get(c, "status")));
        }
        json_decref(crews);
    }
}
