/* SPDX-License-Identifier: MIT */
/*
 * Crews' statuses (flow.h, "crews"): derived from the crew's agents by the
 * store (busy if one is running, available if one is alive and idle,
 * offline otherwise); a watcher on agent events recomputes them after each
 * change (on the next loop turn, never inside a fan-out) and publishes
 * signal {crewId, status} on crew:<id> and its org when one changes.
 */
#include "flow/flow.h"
#include "tables/crews.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *ad_flow_crews_snapshot(ad_store_t *st, const char *org)
{
    json_t *out = NULL;
    int rc = st != NULL ? ad_store_crew_list(st, org, &out) : AD_ECLOSED;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "flow", "crews unavailable error=%s", ad_strerror(rc));
        return json_array();
    }
    return out;
}

/* Crew statuses as last published. */
typedef struct known {
    struct known *next;
    char status[16];
    char id[];
} known_t;

/* The crew status watcher: freed in its timer's close callback. */
struct ad_flow_crews {
    ad_bus_t *bus;
    ad_store_t *store;
    ad_bus_sub_t *sub;
    uv_timer_t timer;
    known_t *known;
    bool scheduled;
};
typedef struct ad_flow_crews watch_t;

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

static void publish_signal(ad_bus_t *bus, const char *crew, const char *status, const char *org)
{
    char t1[AD_BUS_TOPIC_MAX + 1], t2[AD_BUS_TOPIC_MAX + 1];
    snprintf(t1, sizeof(t1), "crew:%s", crew);
    const char *topics[2] = {t1, t2};
    size_t n = 1;
    if (org != NULL) {
        snprintf(t2, sizeof(t2), "org:%s", org);
        n = 2;
    }
    json_t *p = json_pack("{s:s, s:s}", "crewId", crew, "status", status);
    ad_bus_publish(bus, "signal", topics, n, p);
    json_decref(p);
}

/* Compares every crew's status with what was last published. */
static void recompute(uv_timer_t *t)
{
    watch_t *w = t->data;
    w->scheduled = false;
    json_t *crews = ad_flow_crews_snapshot(w->store, "");
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
                publish_signal(w->bus, id, status, json_string_value(json_object_get(c, "orgId")));
            }
        } else if (strcmp(k->status, status) != 0) {
            snprintf(k->status, sizeof(k->status), "%s", status);
            publish_signal(w->bus, id, status, json_string_value(json_object_get(c, "orgId")));
        }
    }
    json_decref(crews);
}

static int on_agent_event(void *ud, const ad_bus_event_t *ev)
{
    watch_t *w = ud;
    const char *type = ad_bus_event_type(ev);
    if (strncmp(type, "agent_", 6) != 0 || strcmp(type, "agent_output") == 0 ||
        strcmp(type, "agent_context") == 0 || ad_bus_event_remote(ev)) {
        return 0; /* another plane's agent: that plane publishes its crew's status */
    }
    if (!w->scheduled) {
        w->scheduled = true;
        uv_timer_start(&w->timer, recompute, 0, 0);
    }
    return 0;
}

static const ad_bus_sub_ops_t watch_ops = {.deliver = on_agent_event};

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

ad_flow_crews_t *ad_flow_crews_new(uv_loop_t *loop, ad_bus_t *bus, ad_store_t *st)
{
    AD_ASSERT_LOOP();
    watch_t *w = ad_xcalloc(1, sizeof(*w));
    w->bus = bus;
    w->store = st;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    uv_unref((uv_handle_t *)&w->timer);
    w->sub = ad_bus_sub_new(bus, &watch_ops, w, 0);
    const char *topics[1] = {"agent:*"};
    ad_bus_subscribe(w->sub, topics, 1, false, 0);
    /* Known statuses start from the table, so only changes publish. */
    json_t *crews = ad_flow_crews_snapshot(st, "");
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        known_add(w, json_string_value(json_object_get(c, "id")),
                  json_string_value(json_object_get(c, "status")));
    }
    json_decref(crews);
    return w;
}

void ad_flow_crews_close(ad_flow_crews_t *w)
{
    if (w == NULL) {
        return;
    }
    ad_bus_sub_free(w->sub);
    w->sub = NULL;
    uv_close((uv_handle_t *)&w->timer, on_watch_closed);
}

void ad_flow_crews_created(ad_flow_crews_t *w, ad_bus_t *bus, json_t *crew)
{
    const char *id = json_string_value(json_object_get(crew, "id"));
    const char *status = json_string_value(json_object_get(crew, "status"));
    if (w != NULL && known_find(w, id) == NULL) {
        known_add(w, id, status);
    }
    publish_signal(bus, id, status, json_string_value(json_object_get(crew, "orgId")));
}

/* ---- a crew made or renamed (the REST routes') ---------------------------------------------- */

int ad_flow_crew_name(const json_t *body, const char **name, ad_field_err_t *e)
{
    if (ad_field_str(body, "name", true, 200, name, e) != 0) {
        return AD_EINVAL;
    }
    return (*name)[strspn(*name, " \t\r\n")] == '\0' ? ad_field_fail(e, "name", "must not be empty")
                                                     : 0;
}

typedef struct {
    ad_flow_crews_t *w;
    ad_bus_t *bus;
    ad_store_t *st;
    bool created;
    char id[AD_ID_MAX];
    ad_flow_crew_cb cb;
    void *ud;
} saved_t;

static void crew_saved(int rc, void *ctx)
{
    saved_t *k = ctx;
    json_t *c = NULL;
    if (rc == 0) {
        rc = ad_store_crew_get(k->st, k->id, &c);
    }
    if (rc == 0 && k->created) {
        ad_flow_crews_created(k->w, k->bus, c);
    } else if (rc == 0) {
        ad_bus_publish_to(k->bus, "crew_update", c, "crew",
                          json_string_value(json_object_get(c, "id")), "org",
                          json_string_value(json_object_get(c, "orgId")), NULL);
    }
    k->cb(rc, c, k->ud);
    free(k);
}

void ad_flow_crew_save(ad_flow_crews_t *w, ad_bus_t *bus, ad_store_t *st, const char *id,
                       const char *org, const char *name, ad_flow_crew_cb cb, void *ud)
{
    saved_t *k = ad_xcalloc(1, sizeof(*k));
    *k = (saved_t){.w = w, .bus = bus, .st = st, .created = id == NULL, .cb = cb, .ud = ud};
    ad_store_crew_t c = {.now = (int64_t)ad_wall_ms()};
    if (id == NULL) {
        ad_id_new("crew", c.id);
        snprintf(c.org_id, sizeof(c.org_id), "%s", org);
    } else {
        snprintf(c.id, sizeof(c.id), "%s", id);
    }
    snprintf(c.name, sizeof(c.name), "%s", name);
    memcpy(k->id, c.id, sizeof(k->id));
    if (k->created) {
        ad_store_crew_create(st, &c, crew_saved, k);
    } else {
        ad_store_crew_rename(st, &c, crew_saved, k);
    }
}
