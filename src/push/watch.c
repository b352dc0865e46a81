/* SPDX-License-Identifier: MIT */
/*
 * push: which events are pushed, and the text a lock screen shows for
 * each (docs/push.md). Every org's events come through one bus
 * subscriber; those of another control plane are skipped (that plane
 * pushes them). The org an event is pushed to is its "org:<id>" topic,
 * so a subscription only ever gets its own org's (the owner's: every
 * org's). The text names the agent and the tool, with the tool's short
 * description made safe (ad_push_scrub): never the tool's input.
 */
#include "push/push_int.h"

#include "bus/bus.h"
#include "store/store.h"
#include "tables/agents.h"

#include <stdio.h>
#include <string.h>

#define TITLE_MAX 80
#define BODY_MAX 160
#define RECENT_MS 60000 /* a goal met this recently is pushed from agent_update */

/* Whether key was pushed lately; remembers it. */
static bool seen(ad_push_t *p, const char *key)
{
    for (size_t i = 0; i < AD_PUSH_RECENT; i++) {
        if (strcmp(p->recent[i], key) == 0) {
            return true;
        }
    }
    snprintf(p->recent[p->recent_next], sizeof(p->recent[0]), "%s", key);
    p->recent_next = (p->recent_next + 1) % AD_PUSH_RECENT;
    return false;
}

/* The agent's name as a lock screen shows it. */
static void agent_name(ad_push_t *p, const char *id, char *out, size_t outsz)
{
    json_t *a = NULL;
    const char *name = NULL;
    if (id != NULL && ad_store_agent_get(p->store, id, &a) == 0) {
        name = json_string_value(json_object_get(a, "name"));
    }
    ad_push_scrub(name != NULL ? name : "An agent", 40, out, outsz);
    json_decref(a);
}

/* The message the service worker shows (docs/push.md has its shape). */
static json_t *message(const char *kind, const char *title, const char *body, const char *tag,
                       const char *agent_id)
{
    char t[TITLE_MAX + 8], b[BODY_MAX + 8], url[AD_ID_MAX + 16];
    ad_push_scrub(title, TITLE_MAX, t, sizeof(t));
    ad_push_scrub(body, BODY_MAX, b, sizeof(b));
    snprintf(url, sizeof(url), "/#/agents/%s", agent_id != NULL ? agent_id : "");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "kind", kind, "title", t, "body", b, "tag",
                     tag, "url", agent_id != NULL ? url : "/", "agentId", agent_id);
}

static void approval(ad_push_t *p, const char *org, json_t *pl)
{
    json_t *a = json_object_get(pl, "approval");
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *agent = json_string_value(json_object_get(a, "agentId"));
    const char *tool = json_string_value(json_object_get(a, "toolName"));
    const char *desc = json_string_value(json_object_get(a, "description"));
    if (id == NULL) {
        return;
    }
    char name[64], title[160], tag[AD_ID_MAX + 16];
    agent_name(p, agent, name, sizeof(name));
    char t[48];
    ad_push_scrub(tool != NULL ? tool : "a tool", 40, t, sizeof(t));
    snprintf(title, sizeof(title), "%s asks to use %s", name, t);
    snprintf(tag, sizeof(tag), "approval:%s", id);
    json_t *m =
        message("approval", title,
                desc != NULL && desc[0] != '\0' ? desc : "Allow or deny it from here.", tag, agent);
    json_object_set_new(m, "approvalId", json_string(id));
    json_object_set_new(m, "actions",
                        json_pack("[{s:s, s:s}, {s:s, s:s}]", "action", "allow", "title", "Allow",
                                  "action", "deny", "title", "Deny"));
    ad_push_send(p, org, m, id);
    json_decref(m);
}

/* A decided approval: its notification, on every device, is replaced by
 * one that says so (same tag, no actions), so no stale Allow stays on a
 * lock screen. */
static void decided(ad_push_t *p, const char *org, json_t *pl)
{
    json_t *a = json_object_get(pl, "approval");
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *agent = json_string_value(json_object_get(a, "agentId"));
    const char *tool = json_string_value(json_object_get(a, "toolName"));
    const char *status = json_string_value(json_object_get(a, "status"));
    if (id == NULL || status == NULL) {
        return;
    }
    char name[64], t[48], title[160], tag[AD_ID_MAX + 16];
    agent_name(p, agent, name, sizeof(name));
    ad_push_scrub(tool != NULL ? tool : "a tool", 40, t, sizeof(t));
    snprintf(title, sizeof(title), "%s: %s %s", name, t, status);
    snprintf(tag, sizeof(tag), "approval:%s", id);
    json_t *m = message("approval_decided", title, "Nothing more to do here.", tag, agent);
    json_object_set_new(m, "approvalId", json_string(id));
    ad_push_send(p, org, m, NULL);
    json_decref(m);
}

/* An agent's statusReason that is worth a push: a goal met, or a turn
 * that waits for the user (not one that waits on an approval: that has
 * its own push). */
static void status(ad_push_t *p, const char *org, const char *agent, const char *st, json_t *why,
                   const char *reason)
{
    const char *code = json_string_value(json_object_get(why, "code"));
    const char *at = json_string_value(json_object_get(why, "at"));
    char key[128], name[64], title[160], tag[AD_ID_MAX + 16];
    bool goal = code != NULL && strcmp(code, "goal_met") == 0;
    bool waits = st != NULL && strcmp(st, "waiting") == 0 &&
                 (reason == NULL || strcmp(reason, "approval") != 0) &&
                 (code == NULL || strcmp(code, "approval_requested") != 0);
    int64_t at_ms = 0;
    if (agent == NULL || (!goal && !waits)) {
        return;
    }
    /* an agent_update carries the agent's reason as it stands: a goal met
     * long ago (an edit since) is not news */
    if (goal && st == NULL &&
        (at == NULL || ad_time_parse(at, &at_ms) != 0 || ad_wall_ms() - at_ms > RECENT_MS)) {
        return;
    }
    snprintf(key, sizeof(key), "%s:%s:%s", goal ? "goal" : "wait", agent, at != NULL ? at : "");
    if (at != NULL && seen(p, key)) {
        return;
    }
    agent_name(p, agent, name, sizeof(name));
    if (goal) {
        const char *text = json_string_value(json_object_get(why, "text"));
        snprintf(title, sizeof(title), "%s met its goal", name);
        snprintf(tag, sizeof(tag), "goal:%s", agent);
        json_t *m = message("goal_met", title, text != NULL ? text : "", tag, agent);
        ad_push_send(p, org, m, NULL);
        json_decref(m);
        return;
    }
    snprintf(title, sizeof(title), "%s needs you", name);
    snprintf(tag, sizeof(tag), "waiting:%s", agent);
    json_t *m = message("waiting", title,
                        code != NULL && strcmp(code, "turn_failed") == 0
                            ? "Its turn failed; it waits for your next message."
                            : "Its turn is done; it waits for your next message.",
                        tag, agent);
    ad_push_send(p, org, m, NULL);
    json_decref(m);
}

static void run_failed(ad_push_t *p, const char *org, json_t *pl)
{
    json_t *run = json_object_get(pl, "run");
    const char *st = json_string_value(json_object_get(run, "status"));
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *agent = json_string_value(json_object_get(run, "agentId"));
    if (st == NULL || strcmp(st, "failed") != 0 || id == NULL) {
        return;
    }
    char name[64], title[160], body[120], tag[AD_ID_MAX + 16];
    agent_name(p, agent, name, sizeof(name));
    snprintf(title, sizeof(title), "%s: its run failed", name);
    json_t *code = json_object_get(run, "exitCode");
    if (json_is_integer(code)) {
        snprintf(body, sizeof(body), "The run ended with exit code %lld.",
                 (long long)json_integer_value(code));
    } else {
        snprintf(body, sizeof(body), "The run ended with an error.");
    }
    snprintf(tag, sizeof(tag), "run:%s", id);
    json_t *m = message("run_failed", title, body, tag, agent);
    ad_push_send(p, org, m, NULL);
    json_decref(m);
}

static int on_event(void *ud, const ad_bus_event_t *ev)
{
    ad_push_t *p = ud;
    const char *type = ad_bus_event_type(ev);
    bool ap = strcmp(type, "approval_requested") == 0;
    bool dec = strcmp(type, "approval_decided") == 0;
    bool st = strcmp(type, "agent_status") == 0;
    bool up = strcmp(type, "agent_update") == 0;
    bool end = strcmp(type, "run_ended") == 0;
    char org[AD_ID_MAX];
    if ((!ap && !dec && !st && !up && !end) || p->stopped || ad_bus_event_remote(ev) ||
        !ad_bus_event_org(ev, org)) {
        return 0;
    }
    size_t len = 0;
    const char *text = ad_bus_event_payload_text(ev, &len);
    json_t *pl = json_loadb(text, len, 0, NULL);
    if (ap) {
        approval(p, org, pl);
    } else if (dec) {
        decided(p, org, pl);
    } else if (st) {
        status(p, org, json_string_value(json_object_get(pl, "agentId")),
               json_string_value(json_object_get(pl, "status")),
               json_object_get(pl, "statusReason"),
               json_string_value(json_object_get(pl, "reason")));
    } else if (up) { /* only its goal: its status is agent_status's */
        status(p, org, json_string_value(json_object_get(pl, "id")), NULL,
               json_object_get(pl, "statusReason"), NULL);
    } else {
        run_failed(p, org, pl);
    }
    json_decref(pl);
    return 0;
}

static const ad_bus_sub_ops_t ops = {.deliver = on_event};

void ad_push_watch(ad_push_t *p)
{
    p->sub = ad_bus_sub_new(p->bus, &ops, p, 0);
    const char *topics[1] = {"org:*"};
    ad_bus_subscribe(p->sub, topics, 1, false, 0);
}
