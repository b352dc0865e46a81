/* SPDX-License-Identifier: MIT */
/*
 * `codex app-server`'s lines, read with the JSON-RPC codec (rpc.c): answers
 * to agentd's requests (the thread opened, a turn started, a steer
 * refused), the server's requests (command and file-change approvals
 * become AD_REC_APPROVAL, or are accepted at once when the agent's
 * permissions allow them; others are refused), and notifications (items,
 * deltas, the diff, usage and the turn's end: appitems.c). Notifications
 * agentd has no use for are read and dropped, never shown as output.
 */
#include "agent/appserver_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- responses to agentd's requests ----------------------------------------------- */

/* A request agentd's turn depends on was refused: the turn's end, failed. */
static void refused(ad_recs_t *out, const char *what, const char *emsg)
{
    ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
    r->is_error = true;
    r->subtype = ad_xstrdup("error");
    size_t n = (emsg != NULL ? strlen(emsg) : 0) + 64;
    r->text = ad_xmalloc(n);
    snprintf(r->text, n, "codex %s: %s", what, emsg != NULL ? emsg : "no answer");
}

static void on_thread(ad_parser_t *p, const ad_rpc_msg_t *m, ad_recs_t *out)
{
    const char *tid = ad_json_str(json_object_get(m->result, "thread"), "id");
    app_t *a = p->app;
    if ((m->kind == AD_RPC_ERROR || tid == NULL) && a->resume_id[0] != '\0') {
        /* the conversation cannot go on: a new one does, and says so */
        char note[400];
        snprintf(note, sizeof(note), "codex could not resume thread %.128s (%.200s): a new thread",
                 a->resume_id, m->message != NULL ? m->message : "no thread in its answer");
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_SYSTEM;
        r->text = ad_xstrdup(note);
        r->is_complete = true;
        size_t len = 0;
        char *line = ad_app_new_thread(a, &len);
        if (line != NULL) {
            ad_rec_push(out, AD_REC_WRITE)->text = line;
            return;
        }
    }
    if (m->kind == AD_RPC_ERROR || tid == NULL) {
        a->thread_failed = true;
        refused(out, "could not open the thread", m->message);
        return;
    }
    ad_parser_set_session(p, tid, ad_json_str(m->result, "model"));
    a->thread_ready = true;
    ad_rec_t *r = ad_rec_push(out, AD_REC_SESSION);
    r->session_id = ad_xstrdup(tid);
    r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    ad_app_send_queued(p, out);
}

/* A steer answered: refused (the turn ended meanwhile), its message starts
 * the next turn. */
static void on_steer(ad_parser_t *p, unsigned long long seq, bool failed, ad_recs_t *out)
{
    app_t *a = p->app;
    for (size_t i = 0; i < a->nsteers; i++) {
        if (a->steers[i].seq != seq) {
            continue;
        }
        char *text = a->steers[i].text;
        memmove(&a->steers[i], &a->steers[i + 1], (a->nsteers - i - 1) * sizeof(a->steers[0]));
        a->nsteers--;
        if (failed) {
            free(a->turn_id);
            a->turn_id = NULL;
            char *line = NULL;
            size_t len = 0;
            if (ad_codex_app_input(p, text, &line, &len) == 0 && line != NULL) {
                ad_rec_push(out, AD_REC_WRITE)->text = line;
            }
        }
        free(text);
        return;
    }
}

static void on_answer(ad_parser_t *p, const ad_rpc_msg_t *m, ad_recs_t *out)
{
    app_t *a = p->app;
    ad_rpc_call_t call;
    if (!ad_rpc_match(&a->rpc, m, &call)) {
        return; /* not an answer to anything agentd asked */
    }
    bool failed = m->kind == AD_RPC_ERROR;
    if (call.tag == AD_APP_TAG_THREAD) {
        on_thread(p, m, out);
    } else if (call.tag == AD_APP_TAG_TURN) {
        if (failed) {
            a->turn_pending = false;
            refused(out, "refused the turn", m->message);
            return;
        }
        ad_app_set_turn(a, ad_json_str(json_object_get(m->result, "turn"), "id"));
        ad_app_send_queued(p, out);
    } else if (call.tag >= AD_APP_TAG_STEER) {
        on_steer(p, (unsigned long long)(call.tag - AD_APP_TAG_STEER), failed, out);
    } else if (failed && m->message != NULL) {
        ad_rec_notice(out, "error", m->message, m->root);
    }
}

/* ---- the server's requests ---------------------------------------------------------- */

static void on_request(ad_parser_t *p, const ad_rpc_msg_t *m, ad_recs_t *out)
{
    app_t *a = p->app;
    json_t *params = m->params;
    char *rid = json_dumps(m->id, JSON_ENCODE_ANY | JSON_COMPACT);
    bool command = strcmp(m->method, "item/commandExecution/requestApproval") == 0;
    bool edit = strcmp(m->method, "item/fileChange/requestApproval") == 0;
    size_t len = 0;
    if (rid == NULL) {
        return;
    }
    if ((command && a->allow_commands) || (edit && a->allow_edits)) {
        ad_rec_push(out, AD_REC_WRITE)->text = ad_codex_app_answer(p, rid, "accept", &len);
    } else if ((command || edit) && strlen(rid) >= AD_APP_REQUEST_ID_MAX) {
        /* an id the runner cannot keep could never be answered: declined */
        ad_rec_push(out, AD_REC_WRITE)->text = ad_codex_app_answer(p, rid, "decline", &len);
    } else if (command || edit) {
        const char *item = ad_json_str(params, "itemId");
        ad_rec_t *r = ad_rec_push(out, AD_REC_APPROVAL);
        r->subtype = ad_xstrdup(rid);
        r->tool_name = ad_xstrdup(command ? "Bash" : "Edit");
        r->tool_id = item != NULL ? ad_xstrdup(item) : NULL;
        r->text = ad_json_strdup(params, "reason");
        json_t *input = json_object();
        if (command) {
            json_object_set(input, "command", json_object_get(params, "command"));
            json_object_set(input, "cwd", json_object_get(params, "cwd"));
        } else {
            for (size_t i = 0; item != NULL && i < p->ntools; i++) {
                if (strcmp(p->tools[i].id, item) == 0 && p->tools[i].input != NULL) {
                    json_object_update(input, p->tools[i].input);
                }
            }
        }
        r->json = input;
    } else { /* user input, elicitations, dynamic tools: agentd serves none */
        ad_rec_push(out, AD_REC_WRITE)->text =
            ad_rpc_error(&a->rpc, m->id, AD_RPC_METHOD_NOT_FOUND,
                         "agentd does not serve this request", NULL, &len);
    }
    free(rid);
}

/* ---- notifications -------------------------------------------------------------------- */

static void on_notice(ad_parser_t *p, const char *method, json_t *params, uint64_t now,
                      ad_recs_t *out)
{
    app_t *a = p->app;
    if (strcmp(method, "turn/started") == 0) {
        ad_app_set_turn(a, ad_json_str(json_object_get(params, "turn"), "id"));
    } else if (strcmp(method, "item/started") == 0 || strcmp(method, "item/completed") == 0) {
        ad_app_on_item(p, params, strcmp(method, "item/completed") == 0, now, out);
    } else if (strcmp(method, "item/agentMessage/delta") == 0) {
        json_t *d = json_object_get(params, "delta");
        if (json_is_string(d) && json_string_length(d) > 0) {
            ad_rec_push(out, AD_REC_DELTA)->text =
                ad_xstrndup(json_string_value(d), json_string_length(d));
            ad_parser_text_add(p, json_string_value(d), json_string_length(d));
        }
    } else if (strcmp(method, "turn/diff/updated") == 0) {
        json_t *d = json_object_get(params, "diff");
        free(a->diff);
        a->diff = json_is_string(d) && json_string_length(d) > 0
                      ? ad_xstrndup(json_string_value(d), json_string_length(d) < AD_APP_DIFF_MAX
                                                              ? json_string_length(d)
                                                              : AD_APP_DIFF_MAX)
                      : NULL;
    } else if (strcmp(method, "thread/tokenUsage/updated") == 0) {
        ad_app_on_usage(p, params, out);
    } else if (strcmp(method, "turn/completed") == 0) {
        ad_app_on_turn_completed(p, params, now, out);
    } else if (strcmp(method, "serverRequest/resolved") == 0) {
        /* resolved without agentd's answer (the turn was interrupted):
         * an approval still open is withdrawn */
        char *rid = json_dumps(json_object_get(params, "requestId"), JSON_ENCODE_ANY);
        if (rid != NULL) {
            ad_rec_t *r = ad_rec_push(out, AD_REC_APPROVAL);
            r->subtype = rid;
            r->is_error = true;
        }
    } else if (strcmp(method, "error") == 0) {
        const char *m = ad_json_str(json_object_get(params, "error"), "message");
        bool retry = json_is_true(json_object_get(params, "willRetry"));
        ad_rec_notice(out, retry ? "api_retry" : "error", m != NULL ? m : "error", params);
        if (!retry && m != NULL) {
            free(p->last_error);
            p->last_error = ad_xstrdup(m);
        }
    }
    /* thread/status, rate limits, MCP start-up, …: nothing for agentd */
}

bool ad_codex_app_feed(ad_parser_t *p, const char *line, size_t len, uint64_t now, ad_recs_t *out)
{
    ad_rpc_msg_t m;
    bool ok = true;
    switch (ad_rpc_parse(&p->app->rpc, line, len, &m)) {
    case AD_RPC_REQUEST:
        on_request(p, &m, out);
        break;
    case AD_RPC_NOTIFICATION:
        on_notice(p, m.method, m.params, now, out);
        break;
    case AD_RPC_RESPONSE:
    case AD_RPC_ERROR:
        on_answer(p, &m, out);
        break;
    case AD_RPC_INVALID:
        ok = false; /* shown as the agent's output */
        break;
    }
    ad_rpc_msg_clear(&m);
    return ok;
}
