/* SPDX-License-Identifier: MIT */
/*
 * Codex on `codex app-server` (issue #33): one long-lived process per run,
 * JSON-RPC over its stdin and stdout (lines; the server omits "jsonrpc").
 * This file holds what agentd says: initialize, thread/start (resume, fork),
 * turn/start, turn/steer while a turn runs, turn/interrupt, and answers to
 * the server's approval requests; appitems.c reads what codex says. Every
 * method and field used here is pinned against the schema the lockfile's
 * CLI dumps (tests/e2e/codex-app-schema.test.js,
 * tests/fixtures/codex-app-protocol.json).
 *
 * Lines are made and read by the JSON-RPC codec (rpc.c, without the
 * "jsonrpc" member the server omits); each request agentd sends carries a
 * tag saying what it was for (AD_APP_TAG_*), and the server's own request
 * ids are echoed as they came.
 */
#include "agent/appserver_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- launch ------------------------------------------------------------------ */

int ad_codex_app_build(const ad_agent_spec_t *spec, ad_strv_t *argv, ad_launch_t *out, char *err,
                       size_t errsz)
{
    if (ad_codex_common_args(spec, argv, err, errsz) != 0) {
        return AD_EINVAL;
    }
    ad_strv_push(argv, "app-server");
    out->rpc = true;
    out->interactive = true;
    return 0;
}

/* ---- state ------------------------------------------------------------------- */

static app_t *app_of(ad_parser_t *p)
{
    if (p->app == NULL) {
        p->app = ad_xcalloc(1, sizeof(*p->app));
        ad_rpc_init(&p->app->rpc, AD_RPC_NO_VERSION); /* codex omits "jsonrpc" */
        /* an item with a command's whole output is one line: as long as the
         * supervisor lets a line be (max_line_bytes), not the codec's default */
        p->app->rpc.line_max = AD_APP_LINE_MAX;
    }
    return p->app;
}

void ad_codex_app_free(app_t *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->nqueue; i++) {
        free(a->queue[i]);
    }
    for (size_t i = 0; i < a->nsteers; i++) {
        free(a->steers[i].text);
    }
    free(a->turn_id);
    free(a->diff);
    json_decref(a->start_params);
    free(a);
}

bool ad_codex_app_on(const ad_parser_t *p)
{
    return p->app != NULL;
}

bool ad_codex_app_busy(const ad_parser_t *p)
{
    return p->app != NULL && (p->app->turn_pending || p->app->turn_id != NULL);
}

/* ---- lines ------------------------------------------------------------------- */

char *ad_app_new_thread(app_t *a, size_t *len)
{
    a->resume_id[0] = '\0';
    json_t *params = a->start_params;
    a->start_params = NULL;
    return ad_app_request(a, "thread/start", params != NULL ? params : json_object(),
                          AD_APP_TAG_THREAD, len);
}

char *ad_app_request(app_t *a, const char *method, json_t *params, int64_t tag, size_t *len)
{
    char *line = NULL;
    *len = 0;
    if (ad_rpc_request(&a->rpc, method, params, tag, &line, len) < 0) {
        return NULL;
    }
    return line;
}

/* The thread's settings: approvals asked for in the regular mode only; the
 * sandbox per mode, or none of codex's own inside agentd's. */
static json_t *thread_params(const app_t *a, const ad_codex_open_t *o)
{
    const char *sandbox = o->mode == AD_MODE_PLAN   ? "read-only"
                          : o->mode == AD_MODE_AUTO ? "danger-full-access"
                                                    : "workspace-write";
    if (o->outer_sandbox) {
        sandbox = "danger-full-access";
    }
    json_t *params =
        json_pack("{s:s, s:s}", "approvalPolicy",
                  o->mode == AD_MODE_REGULAR ? "untrusted" : "never", "sandbox", sandbox);
    if (o->cwd != NULL && o->cwd[0] != '\0') {
        json_object_set_new(params, "cwd", json_string(o->cwd));
    }
    if (o->model != NULL && o->model[0] != '\0') {
        json_object_set_new(params, "model", json_string(o->model));
    }
    if (o->instructions != NULL && o->instructions[0] != '\0') {
        json_object_set_new(params, "developerInstructions", json_string(o->instructions));
    }
    if (a->resume_id[0] != '\0') {
        json_object_set_new(params, "threadId", json_string(a->resume_id));
    }
    return params;
}

static void remember_open(app_t *a, const ad_codex_open_t *o)
{
    a->allow_commands = o->allow_commands || o->mode != AD_MODE_REGULAR;
    a->allow_edits = o->allow_edits || o->mode != AD_MODE_REGULAR;
}

char *ad_codex_app_open(ad_parser_t *p, const ad_codex_open_t *o, size_t *len)
{
    app_t *a = app_of(p);
    remember_open(a, o);
    bool resume = o->session_id != NULL && o->session_id[0] != '\0' &&
                  strlen(o->session_id) < sizeof(a->resume_id);
    snprintf(a->resume_id, sizeof(a->resume_id), "%s", resume ? o->session_id : "");
    const char *method = !resume ? "thread/start" : o->fork ? "thread/fork" : "thread/resume";
    size_t n1 = 0, n2 = 0, n3 = 0;
    char *l1 = ad_app_request(a, "initialize",
                              json_pack("{s:{s:s, s:s, s:s}}", "clientInfo", "name", "agentd",
                                        "title", "agentd", "version", AD_VERSION),
                              AD_APP_TAG_INIT, &n1);
    char *l2 = ad_rpc_notification(&a->rpc, "initialized", NULL, &n2);
    json_t *params = thread_params(a, o);
    json_decref(a->start_params);
    a->start_params = json_deep_copy(params);
    json_object_del(a->start_params, "threadId");
    char *l3 = ad_app_request(a, method, params, AD_APP_TAG_THREAD, &n3);
    char *all = NULL;
    if (l1 != NULL && l2 != NULL && l3 != NULL) {
        all = ad_xmalloc(n1 + n2 + n3 + 1);
        memcpy(all, l1, n1);
        memcpy(all + n1, l2, n2);
        memcpy(all + n1 + n2, l3, n3 + 1);
        *len = n1 + n2 + n3;
    } else {
        *len = 0;
    }
    free(l1);
    free(l2);
    free(l3);
    return all;
}

void ad_codex_app_attach(ad_parser_t *p, const char *thread_id, const ad_codex_open_t *o)
{
    app_t *a = app_of(p);
    remember_open(a, o);
    a->thread_ready = thread_id != NULL && thread_id[0] != '\0';
    ad_parser_set_session(p, thread_id, NULL);
}

/* turn/start of text on the open thread. */
char *ad_app_turn_start(ad_parser_t *p, const char *text, size_t *len)
{
    app_t *a = p->app;
    char *line = ad_app_request(a, "turn/start",
                                json_pack("{s:s, s:[{s:s, s:s}]}", "threadId", p->session_id,
                                          "input", "type", "text", "text", text),
                                AD_APP_TAG_TURN, len);
    a->turn_pending = line != NULL;
    return line;
}

/* turn/steer of text into the running turn; the text is kept until the
 * answer, so a turn that ended meanwhile gets it as a new turn. */
static char *turn_steer(ad_parser_t *p, const char *text, size_t *len)
{
    app_t *a = p->app;
    a->seq++;
    if (a->nsteers == AD_APP_STEERS_MAX) {
        free(a->steers[0].text);
        memmove(&a->steers[0], &a->steers[1], (AD_APP_STEERS_MAX - 1) * sizeof(a->steers[0]));
        a->nsteers--;
    }
    a->steers[a->nsteers].seq = a->seq;
    a->steers[a->nsteers].text = ad_xstrdup(text);
    a->nsteers++;
    return ad_app_request(a, "turn/steer",
                          json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "threadId", p->session_id,
                                    "expectedTurnId", a->turn_id, "input", "type", "text", "text",
                                    text),
                          AD_APP_TAG_STEER + (int64_t)a->seq, len);
}

int ad_codex_app_input(ad_parser_t *p, const char *text, char **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    if (!ad_utf8_valid(text, strlen(text))) {
        return AD_EINVAL;
    }
    app_t *a = app_of(p);
    if (a->thread_failed) {
        return AD_ESTATE; /* no thread to send it to: the run has failed */
    }
    if (!a->thread_ready || p->session_id == NULL || (a->turn_pending && a->turn_id == NULL)) {
        if (a->nqueue == AD_APP_QUEUE_MAX) {
            return AD_ETOOBIG;
        }
        a->queue[a->nqueue++] = ad_xstrdup(text); /* sent once the thread (or turn) is there */
        return 0;
    }
    *line = a->turn_id != NULL ? turn_steer(p, text, len) : ad_app_turn_start(p, text, len);
    return *line != NULL ? 0 : AD_EINTERNAL;
}

char *ad_codex_app_interrupt(ad_parser_t *p, size_t *len)
{
    *len = 0;
    app_t *a = p->app;
    if (a == NULL || a->turn_id == NULL || p->session_id == NULL) {
        return NULL;
    }
    return ad_app_request(a, "turn/interrupt",
                          json_pack("{s:s, s:s}", "threadId", p->session_id, "turnId", a->turn_id),
                          AD_APP_TAG_INTERRUPT, len);
}

char *ad_codex_app_answer(ad_parser_t *p, const char *request_id, const char *decision, size_t *len)
{
    *len = 0;
    json_t *id = json_loads(request_id, JSON_DECODE_ANY, NULL);
    char *line = NULL;
    if (json_is_integer(id) || json_is_string(id)) {
        line = ad_rpc_response(&app_of(p)->rpc, id, json_pack("{s:s}", "decision", decision), len);
    }
    json_decref(id);
    return line;
}
