/* SPDX-License-Identifier: MIT */
/*
 * The seed dashboards' dialect of a live frame (channel.c sends it): the
 * snake_case envelope of /ws/runs/:id, /ws/mission and /ws/graph, the System Health
 * figures of the root socket, the workbench seed's stream events on
 * /ws?compat=seed with each answer's text so far, and the Claude Manager
 * seed's agent status enum. Pure JSON shaping: no request, no connection.
 */
#include "live/live.h"

#include <stdlib.h>
#include <string.h>

/* One answer's text so far on a compat=seed connection (stream_token's
 * accumulated), until its stream_complete or stream_error. */
#define SEED_ACC_MAX 8            /* answers followed at once per connection */
#define SEED_ACC_BYTES (4u << 20) /* the chat engine's answer bound */
struct ad_live_seed_acc {
    char msg[AD_ID_MAX + 16];
    ad_buf_t text;
    struct ad_live_seed_acc *next;
};

/* ---- the seed's dialect on /ws/runs/:id, /ws/mission and /ws/graph -------------------
 * The seed's dashboard reads snake_case (crew_id, run_id, agent_id,
 * exit_code, duration in seconds) at the top of each message; /ws keeps
 * agentd's camelCase envelope. Same envelope here, with the payload's keys
 * in snake_case both in payload and at the top. */

static json_t *seed_payload(json_t *payload)
{
    return ad_json_seed_payload(payload);
}

/* env {type, payload, ...} in the seed's dialect, in place. False when it
 * has no payload object to translate. */
bool ad_live_seed_envelope(json_t *env)
{
    json_t *payload = json_object_get(env, "payload");
    if (!json_is_object(payload)) {
        return false;
    }
    json_t *p = seed_payload(payload);
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

/* ---- the seed's System Health on "/" ------------------------------------------------
 * The seed's panel calls toFixed() on every figure of gpu, cpu and
 * syntheticEye. agentd's own payload has null for what it cannot measure
 * (no NVIDIA GPU, no sensor, no service reporting fps); on the seed's
 * socket each such figure is 0 with <key>Available: false beside it, and
 * each block says available. /ws and /api/health keep the nulls. */
static void seed_figures(json_t *p, const char *block, const char *const *keys, size_t n)
{
    json_t *b = json_object_get(p, block);
    if (!json_is_object(b)) {
        b = json_pack("{s:b}", "available", 0);
        json_object_set_new(p, block, b);
    } else if (!json_is_boolean(json_object_get(b, "available"))) {
        json_object_set_new(b, "available", json_true());
    }
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "%sAvailable", keys[i]);
        bool has = json_is_number(json_object_get(b, keys[i]));
        if (!has) {
            json_object_set_new(b, keys[i], json_real(0));
        }
        json_object_set_new(b, flag, json_boolean(has));
    }
}

void ad_live_seed_health(json_t *payload)
{
    static const char *const gpu[] = {"utilization", "temperature", "vramUsed", "vramTotal",
                                      "powerDraw"};
    static const char *const cpu[] = {"utilization", "temperature", "ramUsed", "ramTotal"};
    static const char *const eye[] = {"fps", "latency", "pcieBandwidth"};
    seed_figures(payload, "gpu", gpu, AD_ARRAY_LEN(gpu));
    seed_figures(payload, "cpu", cpu, AD_ARRAY_LEN(cpu));
    seed_figures(payload, "syntheticEye", eye, AD_ARRAY_LEN(eye));
    json_t *e = json_object_get(payload, "syntheticEye");
    if (!json_is_string(json_object_get(e, "status"))) {
        json_object_set_new(e, "status", json_string("unknown"));
    }
    if (!json_is_number(json_object_get(payload, "overallScore"))) {
        json_object_set_new(payload, "overallScore", json_integer(0));
    }
}

/* The seed's AgentStatus: running, waiting, error, finished. */
const char *ad_live_seed_status(const char *st)
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

/* ---- the workbench seed's stream events on /ws?compat=seed ----------------------------
 * The seed's stream_token carries accumulated (the answer so far) beside
 * text, and its stream_error's error is the message string. agentd's own
 * events keep tokens small (the answer is sent once, in stream_complete)
 * and error an object; a connection opened with ?compat=seed gets the
 * seed's form, errorDetails beside error. NULL: send the event as it is. */
static ad_live_seed_acc_t *acc_find(ad_live_seed_acc_t **head, const char *msg, bool make)
{
    size_t n = 0;
    ad_live_seed_acc_t **last = &*head;
    for (ad_live_seed_acc_t *a = *head; a != NULL; a = a->next, n++) {
        if (strcmp(a->msg, msg) == 0) {
            return a;
        }
        last = &a->next;
    }
    if (!make) {
        return NULL;
    }
    if (n >= SEED_ACC_MAX) { /* the oldest answer's text is let go */
        ad_live_seed_acc_t *old = *head;
        *head = old->next;
        ad_buf_cleanup(&old->text);
        free(old);
        last = &*head;
        while (*last != NULL) {
            last = &(*last)->next;
        }
    }
    ad_live_seed_acc_t *a = ad_xcalloc(1, sizeof(*a));
    snprintf(a->msg, sizeof(a->msg), "%s", msg);
    ad_buf_init(&a->text, SEED_ACC_BYTES);
    *last = a;
    return a;
}

static void acc_drop(ad_live_seed_acc_t **head, const char *msg)
{
    for (ad_live_seed_acc_t **pp = &*head; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->msg, msg) == 0) {
            ad_live_seed_acc_t *a = *pp;
            *pp = a->next;
            ad_buf_cleanup(&a->text);
            free(a);
            return;
        }
    }
}

char *ad_live_seed_compat_text(ad_live_seed_acc_t **head, const ad_bus_event_t *ev)
{
    const char *type = ad_bus_event_type(ev);
    bool token = strcmp(type, "stream_token") == 0;
    bool error = strcmp(type, "stream_error") == 0;
    bool status = strcmp(type, "agent_status") == 0;
    if (!token && !error && !status && strcmp(type, "stream_complete") != 0) {
        return NULL;
    }
    size_t len;
    const char *data = ad_bus_event_data(ev, &len);
    json_t *env = json_loadb(data, len, 0, NULL);
    json_t *p = json_object_get(env, "payload");
    if (status) { /* Claude Manager's Status {agent_id, status, reason}: its strict enum */
        const char *st = json_string_value(json_object_get(p, "status"));
        char *out = NULL;
        if (st != NULL) {
            json_object_set_new(p, "agentdStatus", json_string(st));
            json_object_set_new(p, "status", json_string(ad_live_seed_status(st)));
            out = json_dumps(env, JSON_COMPACT);
        }
        json_decref(env);
        return out;
    }
    const char *msg = json_string_value(json_object_get(p, "messageId"));
    char *out = NULL;
    if (msg == NULL) {
        json_decref(env);
        return NULL;
    }
    if (token) {
        const char *text = json_string_value(json_object_get(p, "text"));
        ad_live_seed_acc_t *a = acc_find(head, msg, true);
        if (text != NULL && ad_buf_append(&a->text, text, strlen(text)) != 0) {
            /* past the answer's bound: the chat engine cuts the answer there too */
            ad_log(AD_LOG_DEBUG, "live", "accumulated text full msg=%s", msg);
        }
        json_object_set_new(p, "accumulated",
                            json_stringn(a->text.data != NULL ? a->text.data : "", a->text.len));
    } else {
        acc_drop(head, msg);
        json_t *e = json_object_get(p, "error");
        if (error && json_is_object(e)) {
            json_t *m = json_object_get(e, "message");
            json_object_set(p, "errorDetails", e);
            json_object_set_new(
                p, "error",
                json_string(json_is_string(m) ? json_string_value(m) : "the answer failed"));
        }
    }
    if (token || error) {
        out = json_dumps(env, JSON_COMPACT);
    }
    json_decref(env);
    return out;
}

void ad_live_seed_acc_free(ad_live_seed_acc_t **head)
{
    while (*head != NULL) {
        ad_live_seed_acc_t *a = *head;
        *head = a->next;
        ad_buf_cleanup(&a->text);
        free(a);
    }
}
