/* SPDX-License-Identifier: MIT */
/*
 * Seed 002, the workbench: its stream events on /ws?compat=seed (moved from
 * src/live/seed.c, issue #79). The seed's stream_token carries accumulated
 * (the answer so far) beside text, and its stream_error's error is the
 * message string. agentd's own events keep tokens small (the answer is
 * sent once, in stream_complete) and error an object; a connection opened
 * with ?compat=seed gets the seed's form, errorDetails beside error, and
 * agent_status in Claude Manager's strict enum (its Status {agent_id,
 * status, reason}).
 */
#include "compat/compat.h"

#include <stdlib.h>
#include <string.h>

/* One answer's text so far on a compat=seed connection (stream_token's
 * accumulated), until its stream_complete or stream_error. */
#define ACC_MAX 8            /* answers followed at once per connection */
#define ACC_BYTES (4u << 20) /* the chat engine's answer bound */
struct ad_compat_acc {
    char msg[AD_ID_MAX + 16];
    ad_buf_t text;
    struct ad_compat_acc *next;
};

static ad_compat_acc_t *acc_find(ad_compat_acc_t **head, const char *msg, bool make)
{
    size_t n = 0;
    ad_compat_acc_t **last = &*head;
    for (ad_compat_acc_t *a = *head; a != NULL; a = a->next, n++) {
        if (strcmp(a->msg, msg) == 0) {
            return a;
        }
        last = &a->next;
    }
    if (!make) {
        return NULL;
    }
    if (n >= ACC_MAX) { /* the oldest answer's text is let go */
        ad_compat_acc_t *old = *head;
        *head = old->next;
        ad_buf_cleanup(&old->text);
        free(old);
        last = &*head;
        while (*last != NULL) {
            last = &(*last)->next;
        }
    }
    ad_compat_acc_t *a = ad_xcalloc(1, sizeof(*a));
    snprintf(a->msg, sizeof(a->msg), "%s", msg);
    ad_buf_init(&a->text, ACC_BYTES);
    *last = a;
    return a;
}

static void acc_drop(ad_compat_acc_t **head, const char *msg)
{
    for (ad_compat_acc_t **pp = &*head; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->msg, msg) == 0) {
            ad_compat_acc_t *a = *pp;
            *pp = a->next;
            ad_buf_cleanup(&a->text);
            free(a);
            return;
        }
    }
}

/* agent_status in Claude Manager's enum, or NULL when it has no status. */
static char *status_text(json_t *env, json_t *p)
{
    const char *st = json_string_value(json_object_get(p, "status"));
    if (st == NULL) {
        return NULL;
    }
    json_object_set_new(p, "agentdStatus", json_string(st));
    json_object_set_new(p, "status", json_string(ad_compat_manager_status(st)));
    return json_dumps(env, JSON_COMPACT);
}

char *ad_compat_workbench_text(ad_compat_acc_t **head, const ad_bus_event_t *ev)
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
    if (status) {
        char *out = status_text(env, p);
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
        ad_compat_acc_t *a = acc_find(head, msg, true);
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

void ad_compat_acc_free(ad_compat_acc_t **head)
{
    while (*head != NULL) {
        ad_compat_acc_t *a = *head;
        *head = a->next;
        ad_buf_cleanup(&a->text);
        free(a);
    }
}
