/* SPDX-License-Identifier: MIT */
/*
 * The live routes' openings (live.h, "openings"): what a channel opened on
 * /ws, /ws/runs/:runId, /ws/mission, /ws/graph, the seed's "/" and
 * /api/events may watch (a run's or a crew's org: another org's is as good
 * as none), and where it starts from (?since=, Last-Event-ID). The routes
 * are src/api/live.c's.
 */
#include "live/live_int.h"
#include "store/store.h"
#include "tables/auth.h"
#include "tables/crews.h"
#include "tables/runs.h"

#include <stdlib.h>
#include <string.h>

#define SSE_TOPICS_MAX 256

/* A seed channel (no subscribe messages) and its ?since=, or NULL when it
 * was refused or closed for a bad since. */
static ad_live_chan_t *seed_open(ad_ws_t *ws, ad_req_t *upgrade, ad_live_t *L, ad_live_kind_t kind,
                                 bool *has_since, uint64_t *since)
{
    ad_live_chan_t *lv = ad_live_ws_open(L, ws, upgrade, kind);
    if (lv == NULL || ad_live_query_since(lv, has_since, since) != 0) {
        return NULL;
    }
    return lv;
}

void ad_live_open_ws(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_live_chan_t *lv = ad_live_ws_open(ud, ws, upgrade, AD_LIVE_WS);
    const char *compat = ad_ws_query(ws, "compat");
    if (lv != NULL && compat != NULL) {
        if (strcmp(compat, "seed") != 0) {
            ad_live_error(lv, "VALIDATION_ERROR", "compat must be seed");
            ad_live_end(lv, 1008, "compat must be seed");
            return;
        }
        ad_live_set_compat_seed(lv);
    }
}

/* ---- seed channels -------------------------------------------------------------------- */

/* The org of the row of kind with id when who sees it: 0, AD_ENOENT
 * (missing, or another org's: as good as none) or the read's error. */
static int seen(ad_live_t *L, const ad_principal_t *who, ad_store_row_t kind, const char *id)
{
    char org[AD_ID_MAX];
    ad_store_t *st = L->parts != NULL ? L->parts->store : NULL;
    int rc = ad_store_row_org(st, kind, id, org);
    return rc == 0 && !ad_principal_sees(who, org) ? AD_ENOENT : rc;
}

void ad_live_open_run(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_live_t *L = ud;
    ad_store_t *store = L->parts != NULL ? L->parts->store : NULL;
    bool has_since;
    uint64_t since;
    ad_live_chan_t *lv = seed_open(ws, upgrade, L, AD_LIVE_RUN, &has_since, &since);
    if (lv == NULL) {
        return;
    }
    char id[AD_ID_MAX + 16];
    const char *run_id = ad_ws_param(ws, "runId");
    snprintf(id, sizeof(id), "%s", run_id ? run_id : "");
    json_t *run = NULL;
    int rc = store != NULL ? ad_store_run_get(store, id, &run) : AD_ECLOSED;
    if (rc == 0 && seen(L, ad_live_who(lv), AD_STORE_ROW_RUN, id) != 0) {
        json_decref(run);
        rc = AD_ENOENT; /* another org's run is as good as none */
    }
    if (rc != 0) {
        bool missing = rc == AD_ENOENT;
        ad_live_error(lv, missing ? "NOT_FOUND" : "UNAVAILABLE",
                      missing ? "no such run" : "the run cannot be read now; try again");
        ad_live_end(lv, missing ? 4404 : 1011, missing ? "no such run" : "store unavailable");
        return;
    }
    const char *st = json_string_value(json_object_get(run, "status"));
    const char *agent = json_string_value(json_object_get(run, "agentId"));
    char status[32];
    snprintf(status, sizeof(status), "%s", st != NULL ? st : "");
    char agent_id[AD_ID_MAX + 16];
    snprintf(agent_id, sizeof(agent_id), "%s", agent != NULL ? agent : "");
    ad_live_set_run(lv, id, agent_id);
    json_decref(run);
    /* A run that is over: its status and the close, unless the client asks
     * for its events since N (then they are replayed and its final event
     * closes the socket as it would have live). */
    if (strcmp(status, "running") != 0 && !has_since) {
        ad_live_notice(lv, "run_status", json_pack("{s:s, s:s}", "runId", id, "status", status));
        ad_live_end(lv, 1000, "run is over");
        return;
    }
    char t1[AD_BUS_TOPIC_MAX + 1], t2[AD_BUS_TOPIC_MAX + 1];
    snprintf(t1, sizeof(t1), "run:%s", id);
    snprintf(t2, sizeof(t2), "agent:%s", agent_id);
    const char *topics[2] = {t1, t2};
    ad_live_subscribe(lv, topics, agent_id[0] ? 2 : 1, has_since, since);
}

void ad_live_open_mission(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_live_t *L = ud;
    bool has_since;
    uint64_t since;
    ad_live_chan_t *lv = seed_open(ws, upgrade, L, AD_LIVE_MISSION, &has_since, &since);
    if (lv == NULL) {
        return;
    }
    /* The current state of every crew, so a fresh dashboard needs no
     * separate request. */
    json_t *crews = NULL;
    if (L->parts == NULL || L->parts->store == NULL ||
        ad_store_crew_list(L->parts->store, ad_principal_filter(ad_live_who(lv)), &crews) != 0) {
        crews = json_array();
    }
    size_t i;
    json_t *c;
    json_array_foreach(crews, i, c)
    {
        json_t *sig = json_pack("{s:O, s:O}", "crewId", json_object_get(c, "id"), "status",
                                json_object_get(c, "status"));
        ad_live_notice(lv, "signal", sig);
    }
    json_decref(crews);
    /* after the current state: what changed since N, then live */
    const char *topics[1] = {"crew:*"};
    ad_live_subscribe(lv, topics, 1, has_since, since);
}

void ad_live_open_graph(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_live_t *L = ud;
    bool has_since;
    uint64_t since;
    ad_live_chan_t *lv = seed_open(ws, upgrade, L, AD_LIVE_GRAPH, &has_since, &since);
    if (lv == NULL) {
        return;
    }
    const char *crew = ad_ws_query(ws, "crew_id");
    if (crew == NULL) {
        crew = ad_ws_query(ws, "crewId");
    }
    char topic[AD_BUS_TOPIC_MAX + 1];
    snprintf(topic, sizeof(topic), "crew:%s", crew ? crew : "");
    if (crew == NULL || crew[0] == '\0' || !ad_bus_topic_valid(topic) || strchr(crew, '*')) {
        ad_live_error(lv, "VALIDATION_ERROR", "crew_id is required");
        ad_live_end(lv, 1008, "crew_id is required");
        return;
    }
    /* Another org's crew is as good as none; the owner may also watch a
     * crew id no row has yet (programs may publish into it). */
    int rc = seen(L, ad_live_who(lv), AD_STORE_ROW_CREW, crew);
    if (rc != 0 && !(rc == AD_ENOENT && ad_live_who(lv)->owner)) {
        ad_live_error(lv, "NOT_FOUND", "no such crew");
        ad_live_end(lv, 4404, "no such crew");
        return;
    }
    const char *topics[1] = {topic};
    ad_live_subscribe(lv, topics, 1, has_since, since);
}

/* The seed's WebSocketManager connects to ws://host:8765 (the root path),
 * sends nothing and reads {type, payload} of four types: every event of
 * those types the caller's org may see, from ?since= when given (as on
 * /ws). A plain GET on "/" is still the dashboard page. */
void ad_live_open_root(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    ad_live_t *L = ud;
    bool has_since;
    uint64_t since;
    ad_live_chan_t *lv = seed_open(ws, upgrade, L, AD_LIVE_ROOT, &has_since, &since);
    if (lv == NULL) {
        return;
    }
    const char *topics[1] = {"*"};
    ad_live_subscribe(lv, topics, 1, has_since, since);
}

/* ---- Server-Sent Events ------------------------------------------------------------------ */

void ad_live_open_sse(ad_req_t *r, void *ud)
{
    ad_live_t *L = ud;
    const char *q = ad_req_query(r, "topics");
    char *list = ad_xstrdup(q != NULL && q[0] != '\0' ? q : "*");
    const char *topics[SSE_TOPICS_MAX];
    size_t n = 0;
    for (char *p = list; p != NULL && n < SSE_TOPICS_MAX;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        if (p[0] != '\0') {
            topics[n++] = p;
        }
        p = comma ? comma + 1 : NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(topics[i])) {
            ad_res_error(r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", "topics", "reason", "malformed topic"),
                         "topics: malformed topic '%s'", topics[i]);
            goto out;
        }
    }
    const char *types = ad_req_query(r, "types");
    if (types != NULL && ad_live_set_types(NULL, types) != 0) {
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", "types", "reason", "malformed type list"),
                     "types: comma-separated event types ([a-z0-9_], at most 32)");
        goto out;
    }
    bool has_since = false;
    uint64_t since = 0;
    const char *s = ad_req_header(r, "Last-Event-ID");
    if (s == NULL || s[0] == '\0') {
        s = ad_req_query(r, "since");
    }
    if (s != NULL && s[0] != '\0') {
        char *end;
        unsigned long long x = strtoull(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end != '\0') {
            ad_res_error(r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", "since", "reason", "not a number"),
                         "since must be a non-negative integer");
            goto out;
        }
        has_since = true;
        since = x;
    }
    ad_live_chan_t *lv = ad_live_sse_open(L, r);
    if (lv != NULL) {
        if (types != NULL) {
            ad_live_set_types(lv, types); /* checked above: cannot fail */
        }
        ad_live_subscribe(lv, topics, n, has_since, since);
    }
out:
    free(list);
}

const ad_ws_handler_t ad_live_ws_handler = {ad_live_open_ws, ad_live_ws_message, ad_live_ws_close};
const ad_ws_handler_t ad_live_run_handler = {ad_live_open_run, ad_live_ws_message,
                                             ad_live_ws_close};
const ad_ws_handler_t ad_live_mission_handler = {ad_live_open_mission, ad_live_ws_message,
                                                 ad_live_ws_close};
const ad_ws_handler_t ad_live_graph_handler = {ad_live_open_graph, ad_live_ws_message,
                                               ad_live_ws_close};
const ad_ws_handler_t ad_live_root_handler = {ad_live_open_root, ad_live_ws_message,
                                              ad_live_ws_close};
