/* SPDX-License-Identifier: MIT */
/*
 * Seed 001, Claude Manager: its words. Its client's only setting is its
 * base URL, so /seed/api/... is agentd's /api/... (src/api/seed.c: same
 * route, guard, scopes and bodies) with each answer put in the seed's words
 * here (moved from src/live/seedrest.c and seed.c, issue #79):
 *   - an agent's status in the seed's strict enum (running, waiting, error,
 *     finished), agentd's own in agentdStatus beside it;
 *   - GET /worktrees/:id/status: modified, staged and untracked are the
 *     path lists, their counts in modifiedCount, stagedCount, untrackedCount;
 *   - workspaces with worktree_count and agent_count;
 *   - a list of agents cut to the status the seed's client is shown;
 * and its subscriptions on /ws (subscribe:agent, ...) as agentd's topics.
 */
#include "compat/compat.h"

#include <stdio.h>
#include <string.h>

const char *ad_compat_manager_status(const char *st)
{
    if (strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0 || strcmp(st, "error") == 0) {
        return st;
    }
    if (strcmp(st, "paused") == 0) {
        return "waiting"; /* alive, not working */
    }
    if (strcmp(st, "stopping") == 0 || strcmp(st, "starting") == 0) {
        return "running"; /* its process lives until the stop is done */
    }
    return "finished"; /* finished, idle, stopped: no process (the seed's default) */
}

/* An agent (it has a worktreeId: a message, a run or a status change under
 * /api/agents/... has a status of its own words, left alone). */
static void seed_agent(json_t *a)
{
    const char *st = json_string_value(json_object_get(a, "status"));
    if (st == NULL || !json_is_string(json_object_get(a, "worktreeId")) ||
        json_object_get(a, "agentdStatus") != NULL) {
        return;
    }
    json_object_set_new(a, "agentdStatus", json_string(st));
    json_object_set_new(a, "status", json_string(ad_compat_manager_status(st)));
}

static void seed_git_status(json_t *body)
{
    static const char *const keys[] = {"modified", "staged", "untracked"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        char files[32], count[32];
        snprintf(files, sizeof(files), "%sFiles", keys[i]);
        snprintf(count, sizeof(count), "%sCount", keys[i]);
        json_t *list = json_object_get(body, files);
        if (!json_is_array(list)) {
            continue;
        }
        json_object_set(body, count, json_object_get(body, keys[i]));
        json_object_set(body, keys[i], list);
    }
}

static void seed_workspace(json_t *w)
{
    json_t *wt = json_object_get(w, "worktreeCount");
    json_t *ag = json_object_get(w, "agentCount");
    if (wt != NULL) {
        json_object_set(w, "worktree_count", wt);
    }
    if (ag != NULL) {
        json_object_set(w, "agent_count", ag);
    }
}

/* Applies f to body's list under key, or to body itself. */
static void each(json_t *body, const char *key, void (*f)(json_t *))
{
    json_t *list = json_object_get(body, key);
    if (json_is_array(list)) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            f(v);
        }
    } else {
        f(body);
    }
}

void ad_compat_manager_answer(const char *route, json_t *body)
{
    if (route == NULL || !json_is_object(body)) {
        return;
    }
    if (strcmp(route, "/api/worktrees/:id/status") == 0) {
        seed_git_status(body);
    } else if (strncmp(route, "/api/agents", 11) == 0) {
        json_t *agent = json_object_get(body, "agent");
        each(json_is_object(agent) ? agent : body, "agents", seed_agent);
    } else if (strncmp(route, "/api/workspaces", 15) == 0) {
        json_t *ws = json_object_get(body, "workspace");
        each(json_is_object(ws) ? ws : body, "workspaces", seed_workspace);
    }
}

bool ad_compat_manager_shown(const char *st, const char *seed_status)
{
    return seed_status == NULL ||
           (st != NULL && strcmp(ad_compat_manager_status(st), seed_status) == 0);
}

void ad_compat_manager_filter_agents(json_t *agents, const char *seed_status)
{
    for (size_t i = json_array_size(agents); seed_status != NULL && i-- > 0;) {
        const char *st = json_string_value(json_object_get(json_array_get(agents, i), "status"));
        if (!ad_compat_manager_shown(st, seed_status)) {
            json_array_remove(agents, i);
        }
    }
}

bool ad_compat_manager_subscription(const char *type, json_t *payload, char *topic,
                                    size_t topicsz, bool *unsubscribe, const char **why)
{
    bool agent = strcmp(type, "subscribe:agent") == 0 || strcmp(type, "unsubscribe:agent") == 0;
    if (!agent && strcmp(type, "subscribe:workspace") != 0) {
        return false;
    }
    *unsubscribe = type[0] == 'u';
    *why = NULL;
    const char *id = json_string_value(json_object_get(payload, agent ? "agentId" : "workspaceId"));
    if (id == NULL || id[0] == '\0') {
        *why = agent ? "payload.agentId is required" : "payload.workspaceId is required";
        topic[0] = '\0';
        return true;
    }
    snprintf(topic, topicsz, "%s:%s", agent ? "agent" : "workspace", id);
    return true;
}
