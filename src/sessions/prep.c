/* SPDX-License-Identifier: MIT */
/*
 * An adoption of a session of this machine (loop thread; a node's is
 * nodes.c's, the list list.c's): its checks in order: the session read, not live, not held
 * already, and the worktree it ran in, found among the org's or its
 * folder registered through src/wtree under the workspaces' rules. Each
 * ends once through its callback; the agent itself is the caller's to make
 * (its fields are the agents route's) with adopt.c's write.
 */
#include "sessions/sessions_int.h"

#include "tables/auth.h"
#include "tables/extsess.h"
#include "tables/workspaces.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

bool ad_sessions_sees(const ad_sessions_t *S, const ad_principal_t *who)
{
    return S != NULL && ad_principal_sees(who, AD_ORG_DEFAULT);
}

/* ---- an adoption ------------------------------------------------------------------- */

typedef sess_adopt_t adopt_t;

static const char *cwd_of(const adopt_t *a)
{
    return jstr(json_object_get(a->read, "session"), "cwd");
}

static void elsewhere(adopt_t *a)
{
    sess_adopt_end(a, AD_ESTATE, "CONFLICT",
                   json_pack("{s:s, s:s}", "field", "worktreeId", "cwd", cwd_of(a)),
                   "the session ran in %s, which is not this worktree's folder: its CLI resumes a "
                   "session only in the folder it ran in",
                   cwd_of(a));
}

/* The org's live worktree at path in a list {worktrees}, or NULL. */
static const char *worktree_at(const json_t *list, const char *path)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(list, "worktrees"), i, w)
    {
        if (jstr(w, "path") != NULL && strcmp(jstr(w, "path"), path) == 0) {
            return jstr(w, "id");
        }
    }
    return NULL;
}

void sess_adopt_end(sess_adopt_t *a, int rc, const char *code, json_t *details, const char *fmt,
                    ...)
{
    char msg[768] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    ad_wtree_out_t o = {.rc = rc, .msg = msg, .details = details, .code = code};
    o.data = rc == 0 ? a->read : NULL;
    a->cb(a->ud, &o);
    json_decref(details);
    json_decref(a->read);
    free(a);
}

void sess_agent_fields(json_t *body, const json_t *s)
{
    json_object_set(body, "executor", json_object_get(s, "tool"));
    if (json_object_get(body, "name") != NULL) {
        return;
    }
    const char *first = jstr(s, "firstMessage");
    char name[64];
    if (first != NULL && first[0] != '\0') {
        size_t n = ad_utf8_valid_prefix(first, strlen(first) < 60 ? strlen(first) : 60);
        snprintf(name, sizeof(name), "%.*s", (int)n, first);
        for (char *p = name; *p; p++) {
            *p = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        }
    } else {
        snprintf(name, sizeof(name), "%s %.8s", jstr(s, "tool"), jstr(s, "sessionId"));
    }
    json_object_set_new(body, "name", json_string(name));
}

static void found(adopt_t *a, const char *wt)
{
    json_object_set_new(a->read, "worktreeId", json_string(wt));
    json_object_set_new(a->read, "orgId", json_string(a->org));
    sess_agent_fields(a->body, json_object_get(a->read, "session"));
    sess_adopt_end(a, 0, NULL, NULL, NULL);
}

static void registered(void *ud, const ad_wtree_out_t *o)
{
    adopt_t *a = ud;
    if (sess_release(a->S)) {
        sess_adopt_end(a, AD_ECLOSED, NULL, NULL, "agentd is closing");
        return;
    }
    if (o->rc != 0) {
        a->cb(a->ud, o); /* the registration's own error */
        json_decref(a->read);
        free(a);
        return;
    }
    const char *wt = worktree_at(o->data, cwd_of(a));
    if (wt == NULL) {
        elsewhere(a);
        return;
    }
    found(a, wt);
}

/* The worktree at the session's folder, its folder registered when none is. */
static void place(adopt_t *a)
{
    json_t *list = NULL;
    int rc = ad_store_worktree_list(sess_store(a->S), NULL, a->org, &list);
    const char *at = rc == 0 ? worktree_at(list, cwd_of(a)) : NULL;
    char id[AD_ID_MAX] = "";
    snprintf(id, sizeof(id), "%s", at != NULL ? at : "");
    json_decref(list);
    if (rc != 0) {
        sess_adopt_end(a, rc, NULL, NULL, "cannot read the worktrees");
    } else if (a->want[0] != '\0' && strcmp(a->want, id) != 0) {
        elsewhere(a);
    } else if (id[0] != '\0') {
        found(a, id);
    } else if (a->W == NULL || !ad_wtree_path_allowed(a->W, &a->who, a->org, cwd_of(a))) {
        sess_adopt_end(
            a, AD_ESTATE, "CONFLICT",
            json_pack("{s:s, s:s, s:s}", "field", "worktreeId", "cwd", cwd_of(a), "needed",
                      "workspace_roots"),
            "the session's folder %s is no registered worktree, and you may not register it "
            "(it is under none of the organisation's workspace_roots): register it first, or "
            "ask an admin",
            cwd_of(a));
    } else {
        const char *slash = strrchr(cwd_of(a), '/');
        json_t *ws = json_pack("{s:s, s:s}", "path", cwd_of(a), "name",
                               slash != NULL && slash[1] ? slash + 1 : cwd_of(a));
        sess_hold(a->S);
        ad_wtree_ws_create(a->W, &a->who, a->org, ws, registered, a);
        json_decref(ws);
    }
}

bool sess_adopt_held(sess_adopt_t *a, int rc, json_t *held)
{
    const char *agent =
        rc == 0 ? jstr(held, jstr(json_object_get(a->read, "session"), "sessionId")) : NULL;
    bool ended = true;
    if (sess_release(a->S)) {
        sess_adopt_end(a, AD_ECLOSED, NULL, NULL, "agentd is closing");
    } else if (rc != 0) {
        sess_adopt_end(a, rc, NULL, NULL, "cannot read the agents");
    } else if (agent != NULL) {
        sess_adopt_end(a, AD_EEXIST, "ALREADY_ADOPTED", json_pack("{s:s}", "agentId", agent),
                       "agent %s already holds this session", agent);
    } else {
        ended = false;
    }
    json_decref(held);
    return ended;
}

/* A session an agent holds already is not adopted again. */
static void held_checked(int rc, json_t *held, void *ud)
{
    adopt_t *a = ud;
    if (!sess_adopt_held(a, rc, held)) {
        place(a);
    }
}

static void session_read(int rc, json_t *out, void *ud)
{
    adopt_t *a = ud;
    a->read = out;
    json_t *s = json_object_get(out, "session");
    if (rc != 0 || s == NULL) {
        sess_adopt_end(a, rc != 0 ? rc : AD_ENOENT, NULL, NULL, "session not found");
    } else if (json_is_true(json_object_get(s, "live"))) {
        sess_adopt_end(
            a, AD_ESTATE, "SESSION_LIVE", NULL,
            "the session is still being written outside agentd: it can be watched read-only, "
            "and adopted once it ends");
    } else if (cwd_of(a) == NULL) {
        sess_adopt_end(a, AD_ESTATE, "CONFLICT", NULL, "the session names no folder it ran in");
    } else {
        sess_hold(a->S);
        ad_store_session_agents(sess_store(a->S), a->org, held_checked, a);
    }
}

int ad_sessions_adoption(ad_sessions_t *S, ad_wtree_t *W, const ad_principal_t *who, json_t *body,
                         ad_wtree_cb cb, void *ud, ad_field_err_t *e)
{
    const char *tool = NULL, *id = NULL, *wt = NULL;
    if (json_object_get(body, "node") != NULL) { /* a session kept on a node (nodes.c) */
        return ad_sessions_node_adoption(S, who, body, cb, ud, e);
    }
    if (ad_field_str(body, "tool", true, 16, &tool, e) != 0 ||
        ad_field_str(body, "sessionId", true, 256, &id, e) != 0 ||
        ad_field_str(body, "worktreeId", false, AD_ID_MAX - 1, &wt, e) != 0 ||
        ad_sess_tool_check(tool, e) != 0 || ad_sess_id_check(id, e) != 0) {
        return AD_EINVAL;
    }
    adopt_t *a = ad_xcalloc(1, sizeof(*a));
    a->S = S;
    a->W = W;
    a->body = body;
    a->who = *who;
    snprintf(a->org, sizeof(a->org), "%s", ad_principal_org_for(who, NULL));
    snprintf(a->want, sizeof(a->want), "%s", wt != NULL ? wt : "");
    a->cb = cb;
    a->ud = ud;
    if (wt != NULL && ad_auth_row_org(sess_store(S), who, AD_STORE_ROW_WORKTREE, wt, NULL) != 0) {
        sess_adopt_end(a, AD_ENOENT, NULL, json_pack("{s:s}", "field", "worktreeId"),
                       "worktree not found");
        return 0;
    }
    ad_sessions_read(S, tool, id, session_read, a);
    return 0;
}
