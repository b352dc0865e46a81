/* SPDX-License-Identifier: MIT */
/*
 * Feedback loops (loop.h): what a PUT may say, turning a loop on and off,
 * and its view (the loop with the items it sent).
 */
#include "loop/loop_int.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/gitrows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

int ad_prloop_check(json_t *body, ad_prloop_spec_t *out, ad_field_err_t *e)
{
    bool present = false;
    memset(out, 0, sizeof(*out));
    out->max_turns = AD_PRLOOP_TURNS_DEFAULT;
    out->checks = out->reviews = true;
    if (!json_is_object(body)) {
        return ad_field_fail(e, "body", "must be an object");
    }
    if (ad_field_str(body, "agentId", true, AD_ID_MAX - 1, &out->agent_id, e) != 0 ||
        ad_field_int(body, "maxTurns", false, 1, AD_PRLOOP_TURNS_MAX, &out->max_turns, &present,
                     e) != 0 ||
        ad_field_bool(body, "checks", &out->checks, &present, e) != 0 ||
        ad_field_bool(body, "reviews", &out->reviews, &present, e) != 0) {
        return AD_EINVAL;
    }
    if (!ad_id_valid(out->agent_id, "ag")) {
        return ad_field_fail(e, "agentId", "is not an agent's id");
    }
    if (!out->checks && !out->reviews) {
        return ad_field_fail(e, "checks", "checks and reviews cannot both be false");
    }
    return 0;
}

int ad_prloop_view(ad_prloop_t *L, const char *worktree_id, json_t **out)
{
    json_t *loop = NULL, *items = NULL;
    int rc = ad_store_prloop_get(L->store, worktree_id, &loop);
    if (rc == 0 && (rc = ad_store_prloop_items(L->store, worktree_id, &items)) == 0) {
        json_object_set_new(loop, "items", items);
        *out = loop;
        return 0;
    }
    json_decref(loop);
    return rc;
}

typedef struct {
    ad_prloop_t *L;
    char wt[AD_ID_MAX];
    ad_prloop_cb cb;
    void *ud;
} req_t;

/* The loop is stored: it is read at the next tick, and cb gets its view. */
static void answer(ad_prloop_t *L, req_t *q, int rc)
{
    json_t *view = NULL;
    if (rc == 0 && (rc = ad_prloop_view(L, q->wt, &view)) == 0) {
        ad_prloop_ent_t *e = ad_prloop_ent(L, q->wt, true);
        if (e != NULL) {
            e->next_ms = 0;
            e->backoff_ms = 0;
        }
    }
    q->cb(rc, view, rc == 0 ? NULL : ad_strerror(rc), q->ud);
    json_decref(view);
    free(q);
}

static void put_saved(int rc, json_t *result, void *ud)
{
    req_t *q = ud;
    ad_prloop_t *L = q->L;
    bool closing = ad_prloop_release(L);
    if (!closing && rc == 0) {
        ad_prloop_publish(L, json_object_get(result, "loop"), NULL);
    }
    json_decref(result);
    if (closing) {
        q->cb(AD_ECLOSED, NULL, "shutting down", q->ud);
        free(q);
        return;
    }
    answer(L, q, rc);
}

/* The agent of id: of this worktree (and so of its org), not archived. */
static json_t *loop_agent(ad_prloop_t *L, json_t *wt, const char *id)
{
    json_t *a = NULL;
    const char *its = NULL;
    if (ad_store_agent_get(L->store, id, &a) != 0 || (its = jstr(a, "worktreeId")) == NULL ||
        strcmp(its, jstr(wt, "id")) != 0 || json_is_string(json_object_get(a, "deletedAt"))) {
        json_decref(a);
        return NULL;
    }
    return a;
}

int ad_prloop_enable(ad_prloop_t *L, json_t *wt, json_t *body, ad_prloop_cb cb, void *ud,
                     ad_field_err_t *e)
{
    ad_prloop_spec_t spec;
    json_t *pr = NULL, *agent = NULL;
    if (ad_prloop_check(body, &spec, e) != 0) {
        return AD_EINVAL;
    }
    if (ad_store_worktree_pr(L->store, jstr(wt, "id"), &pr) != 0) {
        return AD_ESTATE;
    }
    json_decref(pr);
    if ((agent = loop_agent(L, wt, spec.agent_id)) == NULL) {
        return ad_field_fail(e, "agentId", "is no agent of this worktree");
    }
    req_t *q = ad_xcalloc(1, sizeof(*q));
    q->L = L;
    snprintf(q->wt, sizeof(q->wt), "%s", jstr(wt, "id"));
    q->cb = cb;
    q->ud = ud;
    json_t *args = json_pack("{s:s, s:s?, s:s?, s:I, s:b, s:b, s:s, s:I}", "worktreeId", q->wt,
                             "orgId", jstr(wt, "orgId"), "agentId", jstr(agent, "id"), "maxTurns",
                             (json_int_t)spec.max_turns, "checks", spec.checks, "reviews",
                             spec.reviews, "status", "watching", "now", (json_int_t)ad_wall_ms());
    json_decref(agent);
    ad_prloop_hold(L);
    ad_store_write(L->store, ad_store_op_prloop_put, args, put_saved, q);
    return 0;
}

static void off_saved(ad_prloop_t *L, const char *wt, int rc, json_t *loop, void *ud)
{
    req_t *q = ud;
    AD_UNUSED(wt);
    AD_UNUSED(loop);
    if (rc == AD_ECLOSED) {
        q->cb(rc, NULL, "shutting down", q->ud);
        free(q);
        return;
    }
    answer(L, q, rc);
}

void ad_prloop_disable(ad_prloop_t *L, json_t *wt, ad_prloop_cb cb, void *ud)
{
    json_t *loop = NULL;
    int rc = ad_store_prloop_get(L->store, jstr(wt, "id"), &loop);
    if (rc != 0) {
        cb(rc, NULL, rc == AD_ENOENT ? "no feedback loop for this worktree" : ad_strerror(rc), ud);
        return;
    }
    req_t *q = ad_xcalloc(1, sizeof(*q));
    q->L = L;
    snprintf(q->wt, sizeof(q->wt), "%s", jstr(wt, "id"));
    q->cb = cb;
    q->ud = ud;
    ad_prloop_set(L, loop, "off", "stopped", "turned off by a user", -1, 0, NULL, off_saved, q);
    json_decref(loop);
}
