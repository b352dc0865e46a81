/* SPDX-License-Identifier: MIT */
/*
 * Feedback loops (loop.h): what the forge asks that was not sent yet, the
 * message made of it, its sending through the runner's message path, and
 * the end of the agent's turn that answers it.
 */
#include "loop/loop_int.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/accounts.h"
#include "tables/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- what to send ---------------------------------------------------------------------- */

json_t *ad_prloop_pick(ad_prloop_t *L, json_t *row, json_t *out, const char **kind)
{
    const char *wt = jstr(row, "worktreeId");
    size_t i;
    json_t *v;
    if (json_is_true(json_object_get(row, "checks"))) {
        json_array_foreach(json_object_get(json_object_get(out, "checks"), "items"), i, v)
        {
            const char *st = jstr(v, "state"), *id = jstr(v, "forgeId");
            if (st != NULL && id != NULL && strcmp(st, "failure") == 0 &&
                !ad_store_prloop_has_item(L->store, wt, "check", id)) {
                *kind = "check";
                return v;
            }
        }
    }
    if (json_is_true(json_object_get(row, "reviews"))) {
        json_array_foreach(json_object_get(out, "comments"), i, v)
        {
            const char *id = jstr(v, "forgeId");
            if (id != NULL && !ad_store_prloop_has_item(L->store, wt, "review", id)) {
                *kind = "review";
                return v;
            }
        }
    }
    return NULL;
}

char *ad_prloop_message(json_t *pr, json_t *cand, const char *kind)
{
    ad_buf_t b; /* room for what a forge read holds; cut to the bound below */
    ad_buf_init(&b, AD_PRLOOP_MESSAGE_MAX * 4);
    long long n = (long long)json_integer_value(json_object_get(pr, "number"));
    const char *url = jstr(cand, "url");
    int rc;
    if (strcmp(kind, "check") == 0) {
        const char *detail = jstr(cand, "detail"), *log = jstr(cand, "log");
        rc = ad_buf_printf(&b, "The check \"%s\" failed on pull request #%lld%s%s%s.\n",
                           jstr(cand, "name"), n, url ? " (" : "", url ? url : "", url ? ")" : "");
        if (rc == 0 && detail != NULL) {
            rc = ad_buf_printf(&b, "\n%s\n", detail);
        }
        if (rc == 0 && log != NULL) {
            rc = ad_buf_printf(&b, "\nThe failing job's log:\n```\n%s\n```\n", log);
        }
        if (rc == 0) {
            rc = ad_buf_printf(&b, "\nPlease fix what makes it fail, commit, and push the "
                                   "branch.\n");
        }
    } else {
        json_t *line = json_object_get(cand, "line");
        const char *path = jstr(cand, "path");
        char where[600] = "";
        if (path != NULL) {
            snprintf(where, sizeof(where), " on %s%s%lld", path, json_is_integer(line) ? ":" : "",
                     json_is_integer(line) ? (long long)json_integer_value(line) : 0LL);
            if (!json_is_integer(line)) {
                where[strlen(where) - 1] = '\0'; /* no line: drop the 0 */
            }
        }
        rc = ad_buf_printf(&b, "%s commented on pull request #%lld%s%s%s%s:\n\n%s\n",
                           jstr(cand, "author"), n, where, url ? " (" : "", url ? url : "",
                           url ? ")" : "", jstr(cand, "body") ? jstr(cand, "body") : "");
        if (rc == 0) {
            rc = ad_buf_printf(&b, "\nPlease address this comment, commit, and push the "
                                   "branch.\n");
        }
    }
    if (rc != 0 || b.len > AD_PRLOOP_MESSAGE_MAX) { /* cut on a character, saying so */
        b.len = ad_utf8_valid_prefix(
            b.data, b.len < AD_PRLOOP_MESSAGE_MAX - 100 ? b.len : AD_PRLOOP_MESSAGE_MAX - 100);
        rc = ad_buf_printf(&b, "\n[cut: the message was longer than %d bytes]\n",
                           AD_PRLOOP_MESSAGE_MAX);
    }
    if (rc != 0 || ad_buf_append(&b, "", 1) != 0) {
        b.len = 0;
    }
    char *text = ad_xstrdup(b.data != NULL && b.len > 0 ? b.data : "");
    ad_buf_cleanup(&b);
    return text;
}

/* ---- sending --------------------------------------------------------------------------- */

typedef struct {
    ad_prloop_t *L;
    char wt[AD_ID_MAX], id[AD_ID_MAX], agent[AD_ID_MAX];
    json_t *row;
    char *text;
    int turn;
} send_t;

static void send_free(send_t *s)
{
    json_decref(s->row);
    free(s->text);
    free(s);
}

static void item_set(ad_prloop_t *L, const char *id, const char *outcome, const char *msg_id,
                     const char *run_id)
{
    json_t *args = json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "id", id, "outcome", outcome,
                             "messageId", msg_id, "runId", run_id, "now", (json_int_t)ad_wall_ms());
    ad_store_write(L->store, ad_store_op_prloop_item_set, args, NULL, NULL);
}

/* The audit row of a message the loop sent (as the route's would read). */
static void audit(ad_prloop_t *L, send_t *s, int status)
{
    ad_store_audit_t a;
    memset(&a, 0, sizeof(a));
    a.ts = ad_wall_ms();
    snprintf(a.token_name, sizeof(a.token_name), "pr-loop");
    snprintf(a.org_id, sizeof(a.org_id), "%s", jstr(s->row, "orgId"));
    snprintf(a.method, sizeof(a.method), "POST");
    snprintf(a.route, sizeof(a.route), "/api/agents/:id/message");
    snprintf(a.target_id, sizeof(a.target_id), "%s", s->agent);
    a.status = status;
    snprintf(a.remote, sizeof(a.remote), "agentd");
    snprintf(a.detail, sizeof(a.detail), "feedback loop of %s: item %s, turn %d", s->wt, s->id,
             s->turn);
    ad_store_audit_insert(L->store, &a);
}

/* The send failed: the item says so, and the loop stops with why. */
static void send_failed(send_t *s, const char *why)
{
    ad_prloop_t *L = s->L;
    ad_prloop_ent_t *e = ad_prloop_ent(L, s->wt, false);
    if (e != NULL) {
        e->busy = false;
    }
    item_set(L, s->id, "unsent", NULL, NULL);
    audit(L, s, 409);
    char text[600];
    snprintf(text, sizeof(text), "the agent could not take the message: %s", why);
    ad_prloop_set(L, s->row, "error", "send_failed", text, -1, 0, NULL, NULL, NULL);
}

static void sent(int rc, json_t *result, const char *msg, void *ud)
{
    send_t *s = ud;
    ad_prloop_t *L = s->L;
    if (ad_prloop_release(L)) {
        send_free(s);
        return;
    }
    if (rc != 0) {
        send_failed(s, msg != NULL ? msg : ad_strerror(rc));
        send_free(s);
        return;
    }
    json_t *runs = NULL;
    const char *run_id = NULL;
    if (ad_store_run_list(L->store, s->agent, 1, &runs) == 0) {
        run_id = jstr(json_array_get(json_object_get(runs, "runs"), 0), "id");
    }
    item_set(L, s->id, "sent", jstr(result, "messageId"), run_id);
    audit(L, s, 200);
    json_decref(runs);
    ad_prloop_ent_t *e = ad_prloop_ent(L, s->wt, false);
    if (e != NULL) {
        e->busy = false;
    }
    send_free(s);
}

/* The loop reads answering: the message goes to the agent. */
static void answering(ad_prloop_t *L, const char *wt, int rc, json_t *loop, void *ud)
{
    send_t *s = ud;
    AD_UNUSED(wt);
    AD_UNUSED(loop);
    if (rc == AD_ECLOSED) {
        send_free(s);
        return;
    }
    if (rc != 0) {
        send_failed(s, ad_strerror(rc));
        send_free(s);
        return;
    }
    char err[512] = "";
    ad_prloop_hold(L);
    rc = ad_runner_message(L->runner, s->agent, s->text, sent, s, err, sizeof(err));
    if (rc == AD_ESTATE && !ad_runner_is_running(L->runner, s->agent)) {
        /* no live process: a start with the message as its prompt, as a
         * one-turn CLI's next message is (its session resumed) */
        err[0] = '\0';
        rc = ad_runner_start(L->runner, s->agent, s->text, sent, s, err, sizeof(err));
    }
    if (rc != 0) {
        L->refs--;
        send_failed(s, err[0] != '\0' ? err : ad_strerror(rc));
        send_free(s);
    }
}

static void item_added(int rc, json_t *result, void *ud)
{
    send_t *s = ud;
    ad_prloop_t *L = s->L;
    bool added = rc == 0 && json_is_true(json_object_get(result, "added"));
    json_t *item = json_incref(json_object_get(result, "item"));
    json_decref(result);
    if (ad_prloop_release(L)) {
        json_decref(item);
        send_free(s);
        return;
    }
    if (!added) { /* sent before (or not stored): never twice */
        ad_prloop_ent_t *e = ad_prloop_ent(L, s->wt, false);
        if (e != NULL) {
            e->busy = false;
            e->next_ms = 0;
        }
        json_decref(item);
        send_free(s);
        return;
    }
    char text[600];
    snprintf(text, sizeof(text), "sent %s to the agent (turn %d of %lld)",
             strcmp(jstr(item, "kind"), "check") == 0 ? "a failed check" : "a comment", s->turn,
             (long long)json_integer_value(json_object_get(s->row, "maxTurns")));
    ad_prloop_set(L, s->row, "answering",
                  strcmp(jstr(item, "kind"), "check") == 0 ? "check_failed" : "review_comment",
                  text, s->turn, -1, item, answering, s);
    json_decref(item);
}

void ad_prloop_send(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row, json_t *pr, json_t *cand,
                    const char *kind)
{
    send_t *s = ad_xcalloc(1, sizeof(*s));
    s->L = L;
    snprintf(s->wt, sizeof(s->wt), "%s", jstr(row, "worktreeId"));
    snprintf(s->agent, sizeof(s->agent), "%s", jstr(row, "agentId"));
    ad_id_new("fbk", s->id);
    s->row = json_incref(row);
    s->text = ad_prloop_message(pr, cand, kind);
    s->turn = (int)json_integer_value(json_object_get(row, "turns")) + 1;
    const char *name = strcmp(kind, "check") == 0 ? jstr(cand, "name") : jstr(cand, "author");
    json_t *args =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:i, s:s, s:I}", "id", s->id, "worktreeId",
                  s->wt, "kind", kind, "forgeId", jstr(cand, "forgeId"), "name",
                  name != NULL ? name : "?", "url", jstr(cand, "url"), "message", s->text, "turn",
                  s->turn, "outcome", "sending", "now", (json_int_t)ad_wall_ms());
    e->busy = true;
    ad_prloop_hold(L);
    ad_store_write(L->store, ad_store_op_prloop_item_add, args, item_added, s);
}

/* ---- the turn's end -------------------------------------------------------------------- */

static void ended_saved(ad_prloop_t *L, const char *wt, int rc, json_t *loop, void *ud)
{
    AD_UNUSED(loop);
    AD_UNUSED(ud);
    if (rc == AD_ECLOSED) {
        return;
    }
    ad_prloop_ent_t *e = ad_prloop_ent(L, wt, false);
    if (e != NULL) {
        e->busy = false;
        e->next_ms = 0; /* read the forge at once */
    }
}

void ad_prloop_turn_ended(ad_prloop_t *L, ad_prloop_ent_t *e, json_t *row)
{
    json_t *items = NULL, *a = NULL;
    const char *wt = jstr(row, "worktreeId");
    const char *outcome = "answered";
    if (ad_store_agent_get(L->store, jstr(row, "agentId"), &a) == 0 &&
        strcmp(jstr(a, "status") ? jstr(a, "status") : "", "error") == 0) {
        outcome = "agent_error";
    }
    json_decref(a);
    json_t *last = NULL;
    if (ad_store_prloop_items(L->store, wt, &items) == 0) {
        last = json_array_get(items, 0);
    }
    const char *was = jstr(last, "outcome");
    if (last != NULL && was != NULL && (strcmp(was, "sent") == 0 || strcmp(was, "sending") == 0)) {
        item_set(L, jstr(last, "id"), strcmp(was, "sent") == 0 ? outcome : "unsent", NULL, NULL);
    }
    char text[300];
    snprintf(text, sizeof(text), "the agent's turn %lld ended; watching the pull request again",
             (long long)json_integer_value(json_object_get(row, "turns")));
    e->busy = true;
    ad_prloop_set(L, row, "watching", "answered", text, -1, -1, NULL, ended_saved, NULL);
    json_decref(items);
}
