/* SPDX-License-Identifier: MIT */
/*
 * A session kept on a node (loop thread): read through the node's link
 * (nodeext.c), adopted, and its file placed where the adopted agent's runs
 * on that node look for it. An adoption's checks, in order: the fields
 * (a tool: Claude Code, Codex or Gemini CLI, whose file a node carries to
 * where the agent's runs there look), the node of the caller's organisation (404) and
 * connected (409 NODE_AWAY), the worktree asked for (404), the session
 * read from the node (404), not held by an agent already, not live, and
 * the worktree: the one asked for, else the one whose folder on that node
 * the session ran in (a node's worktree is a copy of one of the org's,
 * `<its data dir>/worktrees/<id>`), else 409 naming what is needed. Each
 * ends once through its callback.
 */
#include "sessions/sessions_int.h"

#include "node/node.h"
#include "run/run.h"
#include "tables/auth.h"
#include "tables/extsess.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The node of org named name (a name or an id): its id and name. 0,
 * AD_ENOENT, or AD_ESTATE when it is not connected here or too old to be
 * asked (why and *code say which). */
static int node_of(ad_sessions_t *S, const char *org, const char *name, char id[AD_ID_MAX],
                   char nm[64], char *why, size_t whysz, const char **code)
{
    ad_plane_t *p = sess_plane(S);
    bool connected = false;
    *code = "NODE_AWAY";
    if (p == NULL || ad_plane_find(p, org, name, id, &connected) != 0) {
        snprintf(why, whysz, "node not found");
        return AD_ENOENT;
    }
    json_t *row = ad_plane_node(p, id);
    snprintf(nm, 64, "%s", jstr(row, "name") != NULL ? jstr(row, "name") : id);
    bool asks = json_is_true(json_object_get(json_object_get(row, "caps"), "sessions"));
    json_decref(row);
    if (!connected) {
        ad_plane_not_here(p, id, nm, why, whysz);
        return AD_ESTATE;
    }
    if (!asks) { /* it would ignore the request: refused now, not after its time */
        *code = "NODE_OUTDATED";
        snprintf(why, whysz, "node %s runs an older agentd, which does not read its sessions", nm);
        return AD_ESTATE;
    }
    return 0;
}

/* The error object a callback gets: {message, code?}. */
static json_t *why_of(const char *why, const char *code)
{
    return json_pack("{s:s, s:s?}", "message", why != NULL ? why : "failed", "code", code);
}

/* ---- one session read ------------------------------------------------------------ */

typedef struct {
    ad_sessions_t *S;
    char id[AD_ID_MAX], name[64];
    ad_sessions_cb cb;
    void *ud;
} read_t;

static void node_read(int rc, json_t *answer, const char *why, void *ud)
{
    read_t *q = ud;
    json_t *s =
        rc == 0 ? sess_node_session(json_object_get(answer, "session"), q->id, q->name) : NULL;
    if (sess_release(q->S)) {
        json_decref(s);
        q->cb(AD_ECLOSED, NULL, q->ud);
    } else if (s == NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s", rc == 0 ? "the node's answer was not a session" : why);
        q->cb(rc == AD_ENOENT ? AD_ENOENT : AD_EIO, why_of(msg, NULL), q->ud);
    } else {
        json_t *dropped = json_object_get(answer, "dropped");
        q->cb(0,
              json_pack("{s:o, s:o, s:I}", "session", s, "messages",
                        sess_node_messages(json_object_get(answer, "messages")), "dropped",
                        json_is_integer(dropped) ? json_integer_value(dropped) : (json_int_t)0),
              q->ud);
    }
    free(q);
}

/* The read: 0, or AD_ENOENT (no such node) / AD_EINVAL (cb not called);
 * else cb(0, read) or cb(rc, {message, code?}). */
static int node_read_start(ad_sessions_t *S, const char *org, const char *node, const char *tool,
                           const char *id, ad_sessions_cb cb, void *ud)
{
    read_t *q = ad_xcalloc(1, sizeof(*q));
    char why[300];
    const char *code;
    int rc = node_of(S, org, node, q->id, q->name, why, sizeof(why), &code);
    if (rc == AD_ENOENT || ad_sess_tool_check(tool, NULL) != 0 || ad_sess_id_check(id, NULL) != 0) {
        free(q);
        return rc == AD_ENOENT ? rc : AD_EINVAL;
    }
    if (rc != 0) {
        free(q);
        cb(rc, why_of(why, code), ud);
        return 0;
    }
    q->S = S;
    q->cb = cb;
    q->ud = ud;
    sess_hold(S);
    ad_plane_ext_sessions(sess_plane(S), q->id,
                          json_pack("{s:s, s:s, s:s}", "op", "read", "tool", tool, "sid", id), 0,
                          node_read, q);
    return 0;
}

typedef struct {
    ad_wtree_cb cb;
    void *ud;
} reply_t;

/* A read's end in the words of src/wtree's answers: the node's refusal
 * with its code; a node that failed is worth asking again (503). */
static void read_replied(int rc, json_t *out, void *ud)
{
    reply_t *q = ud;
    const char *code = jstr(out, "code"), *msg = jstr(out, "message");
    ad_wtree_out_t o = {.rc = rc == AD_EIO ? AD_EAGAIN : rc,
                        .msg = msg != NULL       ? msg
                               : rc == AD_ENOENT ? "session not found"
                                                 : "",
                        .code = code != NULL   ? code
                                : rc == AD_EIO ? "NODE_FAILED"
                                               : NULL,
                        .data = rc == 0 ? out : NULL};
    q->cb(q->ud, &o);
    json_decref(out);
    free(q);
}

void ad_sessions_get(ad_sessions_t *S, const char *org, const char *node, const char *tool,
                     const char *id, ad_wtree_cb cb, void *ud)
{
    reply_t *q = ad_xcalloc(1, sizeof(*q));
    *q = (reply_t){cb, ud};
    if (S != NULL && node == NULL) { /* this machine's */
        ad_sessions_read(S, tool, id, read_replied, q);
        return;
    }
    int rc = S != NULL ? node_read_start(S, org, node, tool, id, read_replied, q) : AD_ENOENT;
    if (rc != 0) {
        read_replied(rc, why_of(rc == AD_ENOENT ? "node not found" : "not a session id", NULL), q);
    }
}

/* ---- an adoption ------------------------------------------------------------------ */

typedef sess_adopt_t adopt_t;

/* The org's worktree whose copy on the node is the folder the session ran
 * in, into wt; false when there is none. The copy's folder is the one the
 * node makes (<its data dir>/worktrees/<id>, as ad_plane_agent_cwd says;
 * the agent id it takes is only for a run without a worktree, unused here). */
static bool worktree_there(adopt_t *a, const char *cwd, char wt[AD_ID_MAX])
{
    const char *slash = cwd != NULL ? strrchr(cwd, '/') : NULL;
    char there[4200];
    if (slash == NULL || strlen(slash + 1) >= AD_ID_MAX ||
        !ad_plane_agent_cwd(sess_plane(a->S), a->node, slash + 1, "ag_x", there, sizeof(there)) ||
        strcmp(there, cwd) != 0) {
        return false;
    }
    snprintf(wt, AD_ID_MAX, "%s", slash + 1);
    return ad_auth_row_org(sess_store(a->S), &a->who, AD_STORE_ROW_WORKTREE, wt, NULL) == 0;
}

static void placed_on(adopt_t *a)
{
    json_t *s = json_object_get(a->read, "session");
    char wt[AD_ID_MAX];
    if (a->want[0] != '\0') {
        snprintf(wt, sizeof(wt), "%s", a->want);
    } else if (!worktree_there(a, jstr(s, "cwd"), wt)) {
        sess_adopt_end(
            a, AD_ESTATE, "WORKTREE_NEEDED",
            json_pack("{s:s, s:s?, s:s, s:s}", "field", "worktreeId", "cwd", jstr(s, "cwd"), "node",
                      a->node_name, "needed", "worktreeId"),
            "the session ran in %s on node %s, which is none of agentd's worktrees there: name "
            "the worktree (worktreeId) of its repository; the agent works in that worktree's "
            "copy on the node and resumes the session there",
            jstr(s, "cwd") != NULL ? jstr(s, "cwd") : "a folder it does not name", a->node_name);
        return;
    }
    json_object_set_new(a->read, "worktreeId", json_string(wt));
    json_object_set_new(a->read, "orgId", json_string(a->org));
    json_object_set_new(a->read, "node",
                        json_pack("{s:s, s:s}", "id", a->node, "name", a->node_name));
    sess_agent_fields(a->body, s);
    json_object_set_new(a->body, "node",
                        json_string(a->node_name)); /* state.node: a pinned agent */
    sess_adopt_end(a, 0, NULL, NULL, NULL);
}

static void held_checked(int rc, json_t *held, void *ud)
{
    adopt_t *a = ud;
    if (sess_adopt_held(a, rc, held)) {
        return;
    }
    if (json_is_true(json_object_get(json_object_get(a->read, "session"), "live"))) {
        sess_adopt_end(a, AD_ESTATE, "SESSION_LIVE", NULL,
                       "the session is still being written on node %s: adopt it once it ends",
                       a->node_name);
    } else {
        placed_on(a);
    }
}

static void session_read(int rc, json_t *out, void *ud)
{
    adopt_t *a = ud;
    a->read = out;
    json_t *s = json_object_get(out, "session");
    if (rc != 0 || s == NULL) {
        sess_adopt_end(a, rc == AD_ENOENT || rc == 0 ? AD_ENOENT : AD_EAGAIN,
                       rc == AD_ENOENT || rc == 0 ? NULL : "NODE_FAILED",
                       json_pack("{s:s}", "node", a->node_name),
                       rc == AD_ENOENT || rc == 0 ? "session not found on node %s%s%s"
                                                  : "node %s could not read the session%s%s",
                       a->node_name, jstr(out, "message") != NULL ? ": " : "",
                       jstr(out, "message") != NULL ? jstr(out, "message") : "");
    } else { /* held first, then live: an adopted session's copy there is written by it */
        sess_hold(a->S);
        ad_store_session_agents(sess_store(a->S), a->org, held_checked, a);
    }
}

int ad_sessions_node_adoption(ad_sessions_t *S, const ad_principal_t *who, json_t *body,
                              ad_wtree_cb cb, void *ud, ad_field_err_t *e)
{
    const char *tool = NULL, *id = NULL, *wt = NULL, *node = NULL;
    if (ad_field_str(body, "tool", true, 16, &tool, e) != 0 ||
        ad_field_str(body, "sessionId", true, 256, &id, e) != 0 ||
        ad_field_str(body, "node", true, 63, &node, e) != 0 ||
        ad_field_str(body, "worktreeId", false, AD_ID_MAX - 1, &wt, e) != 0 ||
        ad_sess_tool_check(tool, e) != 0 || ad_sess_id_check(id, e) != 0) {
        return AD_EINVAL;
    }
    adopt_t *a = ad_xcalloc(1, sizeof(*a));
    a->S = S;
    a->body = body;
    a->who = *who;
    a->cb = cb;
    a->ud = ud;
    snprintf(a->org, sizeof(a->org), "%s", ad_principal_org_for(who, NULL));
    snprintf(a->want, sizeof(a->want), "%s", wt != NULL ? wt : "");
    char why[300];
    const char *code;
    int rc = node_of(S, a->org, node, a->node, a->node_name, why, sizeof(why), &code);
    if (rc == AD_ENOENT) {
        sess_adopt_end(a, AD_ENOENT, NULL, json_pack("{s:s}", "field", "node"), "node not found");
    } else if (rc != 0) {
        sess_adopt_end(a, AD_ESTATE, code, json_pack("{s:s}", "node", a->node_name), "%s", why);
    } else if (wt != NULL &&
               ad_auth_row_org(sess_store(S), who, AD_STORE_ROW_WORKTREE, wt, NULL) != 0) {
        sess_adopt_end(a, AD_ENOENT, NULL, json_pack("{s:s}", "field", "worktreeId"),
                       "worktree not found");
    } else if (node_read_start(S, a->org, a->node, tool, id, session_read, a) != 0) {
        sess_adopt_end(a, AD_ENOENT, NULL, json_pack("{s:s}", "field", "node"), "node not found");
    }
    return 0;
}

/* ---- the file placed ---------------------------------------------------------------- */

typedef struct {
    ad_sessions_t *S;
    json_t *args; /* the caller's, borrowed: the answer's data */
    ad_wtree_cb cb;
    void *ud;
} place_t;

static void placed(int rc, json_t *answer, const char *why, void *ud)
{
    place_t *q = ud;
    AD_UNUSED(answer);
    bool closed = sess_release(q->S);
    char msg[400];
    snprintf(msg, sizeof(msg), "the session could not be placed on the node: %s",
             why != NULL ? why : ad_strerror(rc));
    ad_wtree_out_t o = {.rc = closed    ? AD_ECLOSED
                              : rc == 0 ? 0
                                        : AD_EAGAIN,
                        .msg = msg,
                        .code = rc == 0 ? NULL : "NODE_FAILED",
                        .data = q->args};
    q->cb(q->ud, &o);
    free(q);
}

void ad_sessions_node_place(ad_sessions_t *S, const json_t *data, json_t *args, ad_wtree_cb cb,
                            void *ud)
{
    json_t *agent = json_object_get(args, "agent");
    ad_row_agent_t row = {.org_id = (char *)jstr(data, "orgId"),
                          .worktree_id = (char *)jstr(data, "worktreeId"),
                          .state = json_object_get(agent, "state")};
    json_t *pol = ad_run_sandbox_of(sess_store(S), &row); /* where its runs look, as a run's */
    bool none = json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0;
    json_decref(pol);
    place_t *q = ad_xcalloc(1, sizeof(*q));
    *q = (place_t){S, args, cb, ud};
    sess_hold(S);
    ad_plane_ext_sessions(sess_plane(S), jstr(json_object_get(data, "node"), "id"),
                          json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:b, s:b}", "op", "place",
                                    "tool", jstr(json_object_get(data, "session"), "tool"), "sid",
                                    jstr(json_object_get(data, "session"), "sessionId"), "agent",
                                    jstr(agent, "id"), "worktree", row.worktree_id, "owners",
                                    row.org_id != NULL && strcmp(row.org_id, AD_ORG_DEFAULT) == 0,
                                    "none", none),
                          0, placed, q);
}
