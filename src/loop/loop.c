/* SPDX-License-Identifier: MIT */
/*
 * Feedback loops (loop.h): the one timer, each enabled loop's step (wait
 * for the agent's turn, or read the forge), and what a forge read decides.
 */
#include "loop/loop_int.h"
#include "bus/bus.h"
#include "creds/creds.h"
#include "forge/forge.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/gitrows.h"
#include "tables/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- entries and references ------------------------------------------------------------ */

ad_prloop_ent_t *ad_prloop_ent(ad_prloop_t *L, const char *wt, bool make)
{
    for (size_t i = 0; i < L->n; i++) {
        if (strcmp(L->ents[i].wt, wt) == 0) {
            return &L->ents[i];
        }
    }
    if (!make || L->n >= AD_ARRAY_LEN(L->ents)) {
        return NULL;
    }
    ad_prloop_ent_t *e = &L->ents[L->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->wt, sizeof(e->wt), "%s", wt);
    return e;
}

void ad_prloop_hold(ad_prloop_t *L)
{
    L->refs++;
}

bool ad_prloop_release(ad_prloop_t *L)
{
    if (--L->refs == 0 && L->closing) {
        free(L);
        return true;
    }
    return L->closing;
}

/* ---- state ----------------------------------------------------------------------------- */

void ad_prloop_publish(ad_prloop_t *L, json_t *loop, json_t *item)
{
    json_t *p = json_pack("{s:s?, s:s?, s:O, s:O?}", "worktreeId", jstr(loop, "worktreeId"),
                          "orgId", jstr(loop, "orgId"), "loop", loop, "item", item);
    ad_bus_publish_to(L->bus, "pr_loop_updated", p, "worktree", jstr(loop, "worktreeId"), "agent",
                      jstr(loop, "agentId"), "org", jstr(loop, "orgId"), NULL);
    json_decref(p);
}

typedef struct {
    ad_prloop_t *L;
    char wt[AD_ID_MAX];
    json_t *item;
    ad_prloop_done_fn done;
    void *ud;
} set_t;

static void set_saved(int rc, json_t *result, void *ud)
{
    set_t *s = ud;
    json_t *loop = json_object_get(result, "loop");
    bool closing = ad_prloop_release(s->L);
    if (!closing && rc == 0 && loop != NULL) {
        ad_prloop_publish(s->L, loop, s->item);
    }
    if (s->done != NULL) { /* closing: only to let go of ud */
        s->done(closing ? NULL : s->L, s->wt, closing ? AD_ECLOSED : rc, loop, s->ud);
    }
    json_decref(result);
    json_decref(s->item);
    free(s);
}

void ad_prloop_set(ad_prloop_t *L, json_t *row, const char *status, const char *code,
                   const char *text, int turns, int enabled, json_t *item, ad_prloop_done_fn done,
                   void *ud)
{
    set_t *s = ad_xcalloc(1, sizeof(*s));
    s->L = L;
    snprintf(s->wt, sizeof(s->wt), "%s", jstr(row, "worktreeId"));
    s->item = json_incref(item);
    s->done = done;
    s->ud = ud;
    json_t *args = json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "worktreeId", s->wt, "status", status,
                             "reasonCode", code, "reasonText", code != NULL ? text : NULL, "now",
                             (json_int_t)ad_wall_ms());
    if (turns >= 0) {
        json_object_set_new(args, "turns", json_integer(turns));
    }
    if (enabled >= 0) {
        json_object_set_new(args, "enabled", json_boolean(enabled != 0));
    }
    ad_prloop_hold(L);
    ad_store_write(L->store, ad_store_op_prloop_state, args, set_saved, s);
}

bool ad_prloop_agent_busy(ad_prloop_t *L, const char *agent_id, bool *gone)
{
    json_t *a = NULL;
    *gone = agent_id == NULL || ad_store_agent_get(L->store, agent_id, &a) != 0 ||
            json_is_string(json_object_get(a, "deletedAt"));
    const char *st = jstr(a, "status");
    const char *code = jstr(json_object_get(a, "statusReason"), "code");
    bool busy =
        !*gone && st != NULL &&
        (strcmp(st, "running") == 0 || strcmp(st, "stopping") == 0 || strcmp(st, "paused") == 0 ||
         (strcmp(st, "waiting") == 0 && code != NULL && strcmp(code, "approval_requested") == 0));
    /* a row that says running for a run no longer live is not a turn */
    if (busy && strcmp(st, "paused") != 0 && !ad_runner_is_running(L->runner, agent_id)) {
        busy = false;
    }
    json_decref(a);
    return busy;
}

/* ---- a forge read ---------------------------------------------------------------------- */

typedef struct {
    ad_prloop_t *L;
    char wt[AD_ID_MAX];
} poll_t;

static int64_t clamp_backoff(ad_prloop_t *L, int64_t b)
{
    return b < L->poll_ms                 ? L->poll_ms
           : b > AD_PRLOOP_BACKOFF_MAX_MS ? AD_PRLOOP_BACKOFF_MAX_MS
                                          : b;
}

/* The forge could not say: wait longer each time (or as its limit says). */
static void poll_failed(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row, int rc, const char *msg,
                        long retry_after_s)
{
    e->backoff_ms = clamp_backoff(L, e->backoff_ms > 0 ? e->backoff_ms * 2 : L->poll_ms * 2);
    if (retry_after_s > 0 && retry_after_s * 1000 > e->backoff_ms) {
        e->backoff_ms = retry_after_s * 1000 > AD_PRLOOP_BACKOFF_MAX_MS * 4
                            ? AD_PRLOOP_BACKOFF_MAX_MS * 4
                            : retry_after_s * 1000;
    }
    e->next_ms = ad_wall_ms() + e->backoff_ms;
    char text[700];
    snprintf(text, sizeof(text), "%s; trying again in %llds", msg[0] ? msg : ad_strerror(rc),
             (long long)(e->backoff_ms / 1000));
    const char *code = retry_after_s > 0 ? "rate_limited" : "forge_error";
    ad_prloop_set(L, row, "watching", code, text, -1, -1, NULL, NULL, NULL);
}

/* Whether a usage limit stops messages now, as POST /api/agents/:id/message
 * refuses them (429), with its words in text. */
static bool usage_reached(ad_prloop_t *L, char *text, size_t textsz)
{
    json_t *all = NULL, *details = NULL;
    char msg[256];
    if (ad_store_usage_limits(L->store, ad_wall_ms(), &all) != 0) {
        return false; /* a limit that cannot be read stops nobody, as there */
    }
    const char *period = ad_usage_reached(all, false, msg, sizeof(msg), &details);
    if (period != NULL) {
        snprintf(text, textsz, "%s; the loop sends nothing until it is raised", msg);
    }
    json_decref(details);
    json_decref(all);
    return period != NULL;
}

/* What a successful read decides for the loop of row. */
static void decide(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row, json_t *out)
{
    json_t *pr = json_object_get(out, "pr");
    const char *state = jstr(pr, "state");
    e->backoff_ms = 0;
    e->next_ms = ad_wall_ms() + L->poll_ms;
    if (state != NULL && strcmp(state, "open") != 0) {
        bool merged = strcmp(state, "merged") == 0;
        ad_prloop_set(L, row, "closed", merged ? "pr_merged" : "pr_closed",
                      merged ? "the pull request was merged" : "the pull request was closed", -1, 0,
                      NULL, NULL, NULL);
        return;
    }
    const char *kind = NULL;
    json_t *cand = ad_prloop_pick(L, row, out, &kind);
    json_int_t turns = json_integer_value(json_object_get(row, "turns"));
    json_int_t max = json_integer_value(json_object_get(row, "maxTurns"));
    if (cand != NULL) {
        bool gone = false;
        char text[600];
        if (ad_prloop_agent_busy(L, jstr(row, "agentId"), &gone)) {
            e->next_ms = ad_wall_ms() + L->tick_ms; /* someone else's turn: soon again */
        } else if (gone) {
            ad_prloop_set(L, row, "error", "agent_gone", "the loop's agent is gone", -1, 0, NULL,
                          NULL, NULL);
        } else if (usage_reached(L, text, sizeof(text))) {
            e->next_ms = ad_wall_ms() + L->poll_ms; /* as the message route refuses it */
            const char *was = jstr(json_object_get(row, "statusReason"), "code");
            if (was == NULL || strcmp(was, "usage_limit") != 0) {
                ad_prloop_set(L, row, "watching", "usage_limit", text, -1, -1, NULL, NULL, NULL);
            }
        } else if (turns >= max) {
            snprintf(text, sizeof(text),
                     "the agent's turn limit (%lld) is reached; not sent: %s %s", (long long)max,
                     strcmp(kind, "check") == 0 ? "the failed check" : "a comment of",
                     strcmp(kind, "check") == 0 ? jstr(cand, "name") : jstr(cand, "author"));
            ad_prloop_set(L, row, "limit", "turn_limit", text, -1, 0, NULL, NULL, NULL);
        } else {
            ad_prloop_send(L, e, row, pr, cand, kind);
        }
        return;
    }
    const char *checks = jstr(json_object_get(out, "checks"), "state");
    if (json_is_true(json_object_get(row, "checks")) && checks != NULL &&
        strcmp(checks, "success") == 0) {
        ad_prloop_set(L, row, "passed", "checks_passed", "the pull request's checks pass", -1, 0,
                      NULL, NULL, NULL);
        return;
    }
    /* nothing to send: say why once (when the reason changes, not at every read) */
    bool stale = json_is_true(json_object_get(row, "checks")) && checks != NULL &&
                 strcmp(checks, "failure") == 0;
    const char *want = stale ? "waiting_push" : "watching";
    const char *code = jstr(json_object_get(row, "statusReason"), "code");
    if (code == NULL || (strcmp(code, want) != 0 && (stale || strcmp(code, "answered") != 0))) {
        ad_prloop_set(L, row, "watching", want,
                      stale ? "the checks sent to the agent still fail; waiting for a new push"
                            : "watching the pull request's checks and comments",
                      -1, -1, NULL, NULL, NULL);
    }
}

static void polled(int rc, json_t *out, const char *msg, int http_status, long retry_after_s,
                   void *ud)
{
    poll_t *p = ud;
    AD_UNUSED(http_status);
    ad_prloop_t *L = p->L;
    if (!ad_prloop_release(L)) {
        ad_prloop_ent_t *e = ad_prloop_ent(L, p->wt, false);
        json_t *row = NULL; /* as it is now: turned off or changed meanwhile? */
        if (e != NULL) {
            e->busy = false;
        }
        if (e != NULL && ad_store_prloop_get(L->store, p->wt, &row) == 0 &&
            json_is_true(json_object_get(row, "enabled")) &&
            strcmp(jstr(row, "status") ? jstr(row, "status") : "", "watching") == 0) {
            if (rc != 0) {
                poll_failed(L, e, row, rc, msg != NULL ? msg : "", retry_after_s);
            } else {
                decide(L, e, row, out);
            }
        }
        json_decref(row);
    }
    free(p);
}

/* The forge ids the loop sent already (its newest items). */
static json_t *known_ids(ad_prloop_t *L, const char *wt)
{
    json_t *items = NULL, *ids = json_array();
    size_t i;
    json_t *it;
    if (ad_store_prloop_items(L->store, wt, &items) == 0) {
        json_array_foreach(items, i, it)
        {
            json_array_append(ids, json_object_get(it, "forgeId"));
        }
    }
    json_decref(items);
    return ids;
}

static void poll_forge(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row)
{
    json_t *pr = NULL;
    const char *wt = jstr(row, "worktreeId");
    if (ad_store_worktree_pr(L->store, wt, &pr) != 0) {
        ad_prloop_set(L, row, "error", "no_pr", "no pull request is recorded for this worktree", -1,
                      0, NULL, NULL, NULL);
        return;
    }
    const char *forge = jstr(pr, "forge");
    const char *tok = ad_creds_key(L->creds, jstr(row, "orgId"), forge);
    char err[256];
    if (tok == NULL) {
        e->next_ms = ad_wall_ms() + clamp_backoff(L, L->poll_ms * 2);
        snprintf(err, sizeof(err), "no %s token is stored; add one with PUT /api/credentials/%s",
                 forge, forge);
        ad_prloop_set(L, row, "watching", "no_token", err, -1, -1, NULL, NULL, NULL);
        json_decref(pr);
        return;
    }
    poll_t *p = ad_xcalloc(1, sizeof(*p));
    p->L = L;
    snprintf(p->wt, sizeof(p->wt), "%s", wt);
    json_t *known = known_ids(L, wt);
    ad_forge_feedback_req_t r = {.token = tok,
                                 .number = (long)json_integer_value(json_object_get(pr, "number")),
                                 .since = jstr(row, "createdAt"),
                                 .known = known};
    ad_forge_target_of(pr, &r.target);
    e->busy = true;
    ad_prloop_hold(L);
    if (ad_forge_feedback(L->loop, &r, polled, p, err, sizeof(err)) != 0) {
        L->refs--;
        e->busy = false;
        poll_failed(L, e, row, AD_EIO, err, 0);
        free(p);
    }
    json_decref(known);
    json_decref(pr);
}

/* ---- the timer ------------------------------------------------------------------------- */

static void step(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row)
{
    const char *status = jstr(row, "status");
    if (status != NULL && strcmp(status, "answering") == 0) {
        bool gone = false;
        if (!ad_prloop_agent_busy(L, jstr(row, "agentId"), &gone)) {
            ad_prloop_turn_ended(L, e, row);
        }
        return;
    }
    if (ad_wall_ms() >= e->next_ms) {
        poll_forge(L, e, row);
    }
}

static void tick(uv_timer_t *t)
{
    ad_prloop_t *L = t->data;
    json_t *list = NULL;
    if (ad_store_prloop_active(L->store, &list) != 0) {
        return;
    }
    for (size_t i = 0; i < L->n; i++) {
        L->ents[i].seen = false;
    }
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row)
    {
        ad_prloop_ent_t *e = ad_prloop_ent(L, jstr(row, "worktreeId"), true);
        if (e == NULL) {
            break;
        }
        e->seen = true;
        if (!e->busy) {
            step(L, e, row);
        }
    }
    json_decref(list);
    /* loops no longer enabled go, unless a callback is still to come */
    size_t k = 0;
    for (size_t j = 0; j < L->n; j++) {
        if (L->ents[j].seen || L->ents[j].busy) {
            L->ents[k++] = L->ents[j];
        }
    }
    L->n = k;
}

/* AGENTD_TEST_PR_LOOP_MS (test builds only): the tick and the forge's
 * interval in tests. */
static int64_t test_interval(void)
{
#ifdef AD_TEST_BUILD
    const char *v = getenv("AGENTD_TEST_PR_LOOP_MS");
    long ms = v != NULL ? strtol(v, NULL, 10) : 0;
    return ms >= 20 && ms <= 60000 ? ms : 0;
#else
    return 0;
#endif
}

ad_prloop_t *ad_prloop_new(uv_loop_t *loop, struct ad_store *store, struct ad_bus *bus,
                           struct ad_runner *runner, struct ad_creds *creds)
{
    ad_prloop_t *L = ad_xcalloc(1, sizeof(*L));
    L->loop = loop;
    L->store = store;
    L->bus = bus;
    L->runner = runner;
    L->creds = creds;
    int64_t t = test_interval();
    L->poll_ms = t > 0 ? t : AD_PRLOOP_POLL_MS;
    L->tick_ms = t > 0 ? t : AD_PRLOOP_TICK_MS;
    uv_timer_init(loop, &L->timer);
    L->timer.data = L;
    L->refs = 1; /* the timer's, let go when its handle has closed */
    uv_timer_start(&L->timer, tick, (uint64_t)L->tick_ms, (uint64_t)L->tick_ms);
    return L;
}

static void timer_closed(uv_handle_t *h)
{
    (void)ad_prloop_release(h->data);
}

/* From here on a callback does nothing but let go of what it holds: no
 * store write or message follows a stop (the store closes, the runner
 * goes). */
void ad_prloop_stop(ad_prloop_t *L)
{
    if (L != NULL) {
        L->closing = true;
        uv_timer_stop(&L->timer);
    }
}

void ad_prloop_close(ad_prloop_t *L)
{
    if (L == NULL) {
        return;
    }
    ad_prloop_stop(L);
    uv_close((uv_handle_t *)&L->timer, timer_closed);
}
