/* SPDX-License-Identifier: MIT */
/*
 * The queue of starts waiting for a worker node with room (issue #77,
 * docs/nodes.md "Draining, cordoning, capacity and queues"). A start
 * asked with queue that no node can take now is stored
 * (tables/nodes.h's node_queue) instead of refused, and the agent reads
 * statusReason "queued" with why. A tick each second walks the stored
 * queue, oldest first (FIFO per organisation: an item is looked at, and
 * started, before any later one), and starts each item a node can take
 * now: it takes the item in the store first (a compare-and-set, so of
 * the control planes on one database one starts it), starts it, and
 * removes it; an item still without room is given back. Items are
 * started one at a time, so a node's room taken by one is seen by the
 * next. An item that can no longer start (its agent archived, no node
 * fits it at all) leaves the queue with a start_refused note.
 *
 * Owns: the tick's timer and the list it walks (ad_runner_t's queue_*).
 * Loop thread.
 */
#include "run/features.h"
#include "tables/nodes.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_TICK_MS 1000
#define QUEUE_WALK_MAX 64
#define QUEUE_CLAIM_MS 30000 /* a claim whose plane died lapses after this */

/* ---- queuing and cancelling ---------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    ad_runner_cb cb;
    void *ud;
    ad_run_topics_t topics;
    char agent_id[AD_ID_MAX];
    json_t *item; /* the stored item (queued), for the answer */
    bool cancel, stop;
} note_t;

/* The agent's statusReason is stored: published, and the caller answered. */
static void on_reason(int rc, json_t *result, void *ud)
{
    note_t *c = ud;
    json_t *agent = json_object_get(result, "agent");
    if (rc == 0) {
        ad_run_publish_status(c->r, &c->topics, c->agent_id,
                              json_string_value(json_object_get(agent, "status")), NULL,
                              json_object_get(agent, "statusReason"));
        json_t *answer =
            c->cancel ? json_pack("{s:O}", "agent", agent)
                      : json_pack("{s:O, s:b, s:O}", "agent", agent, "queued", 1, "queue", c->item);
        ad_run_call_cb(c->cb, c->ud, 0, answer, NULL);
        json_decref(answer);
    } else {
        ad_run_call_cb(c->cb, c->ud, rc, NULL, "the agent's status was not stored");
    }
    json_decref(result);
    json_decref(c->item);
    free(c);
}

/* Sets the agent's statusReason (code, text) and answers c's caller. */
static void set_reason(note_t *c, const char *code, const char *text)
{
    ad_store_agent_runtime_t u = {.context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", c->agent_id);
    u.now = ad_wall_ms();
    ad_status_reason_set(&u.why, code, NULL, "%s", text);
    u.state_patch = json_pack("{s:s}", "statusReason", u.why.text);
    ad_run_agent_write(c->r, &u, true, on_reason, c);
}

static void on_added(int rc, json_t *item, void *ud)
{
    note_t *c = ud;
    if (rc != 0) {
        ad_run_call_cb(c->cb, c->ud, rc, NULL,
                       rc == AD_EEXIST ? "the agent's start is queued already"
                                       : "the queued start was not stored");
        json_decref(item);
        free(c);
        return;
    }
    c->item = item;
    char text[600];
    snprintf(text, sizeof(text), "queued: %s", json_string_value(json_object_get(item, "reasons")));
    ad_log(AD_LOG_INFO, "runner", "start queued agent=%s why=\"%s\"", c->agent_id, text);
    set_reason(c, "queued", text);
}

int ad_run_queue_add(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                     const char *ws, const char *prompt, const char *node_id, const char *why,
                     const char *who, ad_runner_cb cb, void *ud)
{
    const char *org = agent->org_id;
    ad_store_queue_item_t it = {
        .prompt = (char *)prompt, .reasons = (char *)why, .now = ad_wall_ms()};
    snprintf(it.agent_id, sizeof(it.agent_id), "%s", agent_id);
    snprintf(it.org_id, sizeof(it.org_id), "%s", org != NULL ? org : AD_ORG_DEFAULT);
    snprintf(it.node_id, sizeof(it.node_id), "%s", node_id != NULL ? node_id : "");
    snprintf(it.queued_by, sizeof(it.queued_by), "%s", who != NULL ? who : "");
    note_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
    ad_run_topics_init(&c->topics, agent_id, NULL, ws, it.org_id, NULL);
    ad_store_queue_add(r->store, &it, on_added, c);
    return 0;
}

static void on_cancelled(int rc, json_t *item, void *ud)
{
    note_t *c = ud;
    if (rc != 0) {
        char msg[120];
        snprintf(msg, sizeof(msg),
                 c->stop ? "agent %s is not running" : "agent %s has no queued start", c->agent_id);
        ad_run_call_cb(c->cb, c->ud, rc == AD_ENOENT && c->stop ? AD_ESTATE : rc, NULL, msg);
        json_decref(item);
        free(c);
        return;
    }
    ad_run_topics_init(&c->topics, c->agent_id, NULL, NULL,
                       json_string_value(json_object_get(item, "orgId")), NULL);
    json_decref(item);
    ad_log(AD_LOG_INFO, "runner", "queued start cancelled agent=%s", c->agent_id);
    set_reason(c, "queue_cancelled", "queued start cancelled");
}

void ad_runner_queue_cancel(ad_runner_t *r, const char *agent_id, bool stop, ad_runner_cb cb,
                            void *ud)
{
    note_t *c = ad_xcalloc(1, sizeof(*c));
    c->stop = stop;
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    c->cancel = true;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
    ad_store_queue_del(r->store, agent_id, on_cancelled, c);
}

/* ---- the tick ------------------------------------------------------------------------- */

static void walk(ad_runner_t *r);

/* An item that can no longer start leaves the queue, saying why. */
static void drop(ad_runner_t *r, const char *agent_id, const char *why)
{
    ad_log(AD_LOG_WARN, "runner", "queued start dropped agent=%s why=\"%s\"", agent_id, why);
    ad_store_queue_del(r->store, agent_id, NULL, NULL);
    ad_row_agent_t agent = {0};
    if (ad_store_agent_row(r->store, agent_id, &agent) == 0) {
        ad_run_start_refused(r, &agent, agent_id, NULL, why);
    }
    ad_row_agent_cleanup(&agent);
}

static void on_queued_started(int rc, json_t *result, const char *msg, void *ud)
{
    AD_UNUSED(result);
    AD_UNUSED(ud);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "queued start failed error=\"%s\"",
               msg != NULL ? msg : ad_strerror(rc));
    }
}

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
} claim_t;

/* The item is ours (or another plane's, or gone): start it, then go on. */
static void on_claimed(int rc, json_t *item, void *ud)
{
    claim_t *c = ud;
    ad_runner_t *r = c->r;
    if (rc == 0 && !r->closing) {
        char err[512] = "";
        const char *prompt = json_string_value(json_object_get(item, "prompt"));
        int src = ad_runner_start_q(r, c->agent_id, prompt, NULL, NULL, on_queued_started, NULL,
                                    err, sizeof(err));
        if (src == AD_ESTATE && ad_run_find(r, c->agent_id) == NULL) {
            ad_store_queue_release(r->store, c->agent_id, r->cfg->plane_id, err); /* not yet */
        } else {
            ad_store_queue_del(r->store, c->agent_id, NULL, NULL); /* started, or failed */
            ad_log(AD_LOG_INFO, "runner", "queued start %s agent=%s%s%s",
                   src == 0 ? "started" : "failed", c->agent_id, err[0] ? " error=" : "", err);
        }
    }
    json_decref(item);
    free(c);
    if (!r->closing) {
        walk(r);
    }
}

/* Looks at the list's items from queue_next on; claims the first one a
 * node can take now (and goes on from its claim's answer), or ends the
 * walk. */
static void walk(ad_runner_t *r)
{
    int64_t now = ad_wall_ms();
    while (r->queue_items != NULL && r->queue_next < json_array_size(r->queue_items)) {
        json_t *it = json_array_get(r->queue_items, r->queue_next++);
        const char *agent_id = json_string_value(json_object_get(it, "agentId"));
        const char *by = json_string_value(json_object_get(it, "claimedBy"));
        if (agent_id == NULL || (by != NULL && strcmp(by, r->cfg->plane_id) != 0 &&
                                 json_integer_value(json_object_get(it, "claimedUntil")) >= now)) {
            continue; /* another plane is starting it */
        }
        if (ad_run_find(r, agent_id) != NULL) {
            ad_store_queue_del(r->store, agent_id, NULL, NULL); /* started another way */
            continue;
        }
        char err[512] = "";
        int rc = ad_run_place_now(r, agent_id, err, sizeof(err));
        if (rc == AD_EAGAIN) {
            continue;
        }
        if (rc != 0) {
            drop(r, agent_id, err);
            continue;
        }
        claim_t *c = ad_xcalloc(1, sizeof(*c));
        c->r = r;
        snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
        ad_store_queue_claim(r->store, agent_id, r->cfg->plane_id, now, now + QUEUE_CLAIM_MS,
                             on_claimed, c);
        return;
    }
    json_decref(r->queue_items);
    r->queue_items = NULL;
}

static void on_tick(uv_timer_t *t)
{
    ad_runner_t *r = t->data;
    if (r->closing || r->plane == NULL || r->queue_items != NULL) {
        return; /* no nodes, or the last walk is still under way */
    }
    json_t *items = NULL;
    if (ad_store_queue_list(r->store, "", QUEUE_WALK_MAX, &items) != 0) {
        return;
    }
    if (json_array_size(items) == 0) {
        json_decref(items);
        return;
    }
    r->queue_items = items;
    r->queue_next = 0;
    walk(r);
}

void ad_run_queue_init(ad_runner_t *r)
{
    uv_timer_init(r->loop, &r->queue_tick);
    r->queue_tick.data = r;
    uv_timer_start(&r->queue_tick, on_tick, QUEUE_TICK_MS, QUEUE_TICK_MS);
    uv_unref((uv_handle_t *)&r->queue_tick);
}

void ad_run_queue_close(ad_runner_t *r, uv_close_cb done)
{
    json_decref(r->queue_items);
    r->queue_items = NULL;
    uv_timer_stop(&r->queue_tick);
    uv_close((uv_handle_t *)&r->queue_tick, done);
}

int ad_runner_queue_list(ad_runner_t *r, const char *org, json_t **out)
{
    int rc = ad_store_queue_list(r->store, org, 1000, out);
    size_t i;
    json_t *it;
    json_array_foreach(rc == 0 ? *out : NULL, i, it)
    {
        json_object_del(it, "claimedUntil");
        json_object_del(it, "prompt"); /* the agent's to show, not the queue's */
    }
    return rc;
}
