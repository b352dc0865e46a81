/* SPDX-License-Identifier: MIT */
/*
 * Which events a live channel passes on: all that its subscription matched
 * on /ws and SSE; on the seed's channels a run's own events (and whether
 * one ends it), signals, a crew's tool events, or the root socket's four
 * types. Reads events only.
 */
#include "live/live_int.h"

#include <string.h>

static bool type_is(const ad_bus_event_t *ev, const char *t)
{
    return strcmp(ad_bus_event_type(ev), t) == 0;
}

static bool has_topic(const ad_bus_event_t *ev, const char *prefix, const char *id)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < ad_bus_event_ntopics(ev); i++) {
        const char *t = ad_bus_event_topic(ev, i);
        if (strncmp(t, prefix, pl) == 0 && strcmp(t + pl, id) == 0) {
            return true;
        }
    }
    return false;
}

/* The payload's string field, copied into out ("" when absent). */
static void payload_str(const ad_bus_event_t *ev, const char *key, char *out, size_t outsz)
{
    size_t len;
    const char *p = ad_bus_event_payload_text(ev, &len);
    json_t *j = json_loadb(p, len, 0, NULL);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, outsz, "%s", v ? v : "");
    json_decref(j);
}

/* Whether t is in list (",a,b,"). */
static bool type_listed(const char *list, const char *t)
{
    size_t n = strlen(t);
    for (const char *p = strstr(list, t); p != NULL; p = strstr(p + 1, t)) {
        if (p[-1] == ',' && p[n] == ',') {
            return true;
        }
    }
    return false;
}

static bool is_final_type(const ad_bus_event_t *ev)
{
    static const char *const finals[] = {"agent_exit", "run_end", "run_ended", "run_finished",
                                         "run_complete"};
    for (size_t i = 0; i < AD_ARRAY_LEN(finals); i++) {
        if (type_is(ev, finals[i])) {
            return true;
        }
    }
    return false;
}

/* Whether ev carries a run:<id> topic of any run. */
static bool has_run_topic(const ad_bus_event_t *ev)
{
    for (size_t i = 0; i < ad_bus_event_ntopics(ev); i++) {
        if (strncmp(ad_bus_event_topic(ev, i), "run:", 4) == 0) {
            return true;
        }
    }
    return false;
}

/* For a run channel: whether ev belongs to the run, and whether it ends it. */
static bool run_filter(const ad_live_chan_t *lv, const ad_bus_event_t *ev, bool *final)
{
    char run_id[AD_ID_MAX + 16];
    bool on_run = has_topic(ev, "run:", lv->id);
    if (!on_run) {
        payload_str(ev, "runId", run_id, sizeof(run_id));
        on_run = strcmp(run_id, lv->id) == 0;
        /* An agent_exit of no run (no runId, no run: topic) ends the agent's
         * current run. One of another run never does: replayed with since,
         * the agent's earlier run's exit would close this run's socket. */
        if (!on_run && run_id[0] == '\0' && !has_run_topic(ev) && type_is(ev, "agent_exit")) {
            on_run = lv->agent_id[0] != '\0' && has_topic(ev, "agent:", lv->agent_id);
        }
    }
    *final = on_run && is_final_type(ev);
    return on_run;
}

/* Whether ch passes ev on, and whether ev ends ch (a run channel). */
bool ad_live_pass(const ad_live_chan_t *lv, const ad_bus_event_t *ev, bool *final)
{
    *final = false;
    switch (lv->kind) {
    case AD_LIVE_RUN:
        return run_filter(lv, ev, final);
    case AD_LIVE_MISSION:
        return type_is(ev, "signal");
    case AD_LIVE_GRAPH:
        return type_is(ev, "tool_start") || type_is(ev, "tool_progress") || type_is(ev, "tool_end");
    case AD_LIVE_ROOT:
        return type_is(ev, "agent_update") || type_is(ev, "metrics_update") ||
               type_is(ev, "system_health") || type_is(ev, "discovery_progress");
    case AD_LIVE_SSE:
        return lv->types == NULL || type_listed(lv->types, ad_bus_event_type(ev));
    default:
        return true;
    }
}
