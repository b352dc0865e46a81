/* SPDX-License-Identifier: MIT */
/*
 * Seed 003, the crew/run dashboard: its snake_case. Its dashboard reads
 * snake_case (crew_id, run_id, agent_id, exit_code, duration in seconds)
 * at the top of each message of /ws/runs/:id, /ws/mission and /ws/graph;
 * its REST figures (/dashboard/stats, ...) in snake_case; its Python side
 * publishes and reads crew tool events on Redis in the same words. agentd's
 * own envelope and payloads are camelCase; the translation both ways is
 * here (moved from src/core/json.c, src/live/seed.c and
 * src/cluster/redis.c, issue #79).
 */
#include "compat/compat.h"

#include <stdlib.h>
#include <string.h>

/* A camelCase key in snake_case ("exitCode" -> "exit_code"), cut to fit
 * out. */
static void snake_key(const char *key, char *out, size_t outsz)
{
    size_t n = 0;
    for (; *key != '\0' && n + 2 < outsz; key++) {
        if (*key >= 'A' && *key <= 'Z') {
            out[n++] = '_';
            out[n++] = (char)(*key - 'A' + 'a');
        } else {
            out[n++] = *key;
        }
    }
    if (outsz > 0) {
        out[n] = '\0';
    }
}

/* key in camelCase (tool_id: toolId); keys without '_' are kept. */
static void camel_key(const char *key, char *out, size_t outsz)
{
    size_t o = 0;
    bool up = false;
    for (const char *k = key; *k != '\0' && o + 1 < outsz; k++) {
        if (*k == '_' && o > 0) {
            up = true;
            continue;
        }
        out[o++] = up && *k >= 'a' && *k <= 'z' ? (char)(*k - 'a' + 'A') : *k;
        up = false;
    }
    out[o] = '\0';
}

json_t *ad_compat_crews_payload(json_t *payload)
{
    json_t *p = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(payload, k, v)
    {
        char sk[128];
        snake_key(k, sk, sizeof(sk));
        json_object_set(p, sk, v);
    }
    json_t *ms = json_object_get(payload, "durationMs");
    if (json_is_integer(ms)) {
        json_object_set_new(p, "duration", json_real((double)json_integer_value(ms) / 1000.0));
    }
    json_t *name = json_object_get(payload, "name");
    if (json_is_string(name) && json_object_get(p, "tool") == NULL) {
        json_object_set(p, "tool", name);
    }
    return p;
}

bool ad_compat_crews_envelope(json_t *env)
{
    json_t *payload = json_object_get(env, "payload");
    if (!json_is_object(payload)) {
        return false;
    }
    json_t *p = ad_compat_crews_payload(payload);
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v)
    {
        /* the envelope's own keys are never shadowed (a pong's seq) */
        bool reserved = strcmp(k, "seq") == 0 || strcmp(k, "ts") == 0 || strcmp(k, "topic") == 0 ||
                        strcmp(k, "topics") == 0;
        if (!reserved && json_object_get(env, k) == NULL) {
            json_object_set(env, k, v);
        }
    }
    json_object_set_new(env, "payload", p);
    return true;
}

json_t *ad_compat_snake(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_array_append_new(a, ad_compat_snake(x));
        }
        return a;
    }
    if (!json_is_object(v)) {
        return json_incref(v);
    }
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        char sk[128];
        snake_key(k, sk, sizeof(sk));
        json_object_set_new(o, sk, ad_compat_snake(x));
    }
    return o;
}

/* ---- Redis ---------------------------------------------------------------------------
 * In: the message's payload object, or the message itself when it is flat
 * (the seed publishes {type, crew_id, tool_id, ...} with no payload; the
 * envelope's own origin, org, at and n are not payload); the seed's
 * duration in seconds becomes durationMs. Out: agentd's payload in the
 * seed's words, its keys also at the top, as /ws/graph sends them. */
json_t *ad_compat_crews_from_redis(json_t *m)
{
    json_t *src = json_object_get(m, "payload");
    bool flat = src == NULL;
    if (flat) {
        src = m;
    } else if (!json_is_object(src)) {
        return NULL;
    }
    json_t *p = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v)
    {
        if (flat && (strcmp(k, "type") == 0 || strcmp(k, "origin") == 0 || strcmp(k, "org") == 0 ||
                     strcmp(k, "at") == 0 || strcmp(k, "n") == 0)) {
            continue;
        }
        char ck[128];
        camel_key(k, ck, sizeof(ck));
        if (json_object_get(p, ck) == NULL || strcmp(ck, k) == 0) {
            json_object_set(p, ck, v);
        }
    }
    json_t *secs = json_object_get(p, "duration");
    if (json_object_get(p, "durationMs") == NULL && json_is_number(secs) &&
        json_number_value(secs) >= 0 && json_number_value(secs) < 1e9) {
        json_object_set_new(p, "durationMs",
                            json_integer((json_int_t)(json_number_value(secs) * 1000.0 + 0.5)));
    }
    if (json_object_size(p) == 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

char *ad_compat_crews_to_redis(const char *origin, const char *type, const char *org,
                               json_t *payload)
{
    json_t *p = ad_compat_crews_payload(payload);
    const char *k;
    json_t *v;
    json_t *m = json_pack("{s:s, s:s, s:s?}", "origin", origin, "type", type, "org", org);
    json_object_foreach(p, k, v)
    {
        if (json_object_get(m, k) == NULL && strcmp(k, "payload") != 0) {
            json_object_set(m, k, v);
        }
    }
    json_object_set_new(m, "payload", p);
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return text;
}
