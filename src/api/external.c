/* SPDX-License-Identifier: MIT */
/*
 * The CLIs' own sessions on this machine (issue #76, docs/sessions.md):
 *   GET  /api/sessions/external            the list (src/sessions)
 *   GET  /api/sessions/external/:tool/:id  one, with its messages (read-only)
 *   POST /api/sessions/external/adopt {tool, sessionId, worktreeId?, and
 *        an agent's fields}: an agent of it, in the worktree it ran in
 *        (registered through the workspaces' rules when none is), its
 *        transcript imported and its session id kept for --resume.
 * They are the daemon user's files: the owner's organisation alone sees
 * them (another org's list is empty, its reads and adoptions 404).
 */
#include "api/api_int.h"
#include "run/run.h"
#include "sessions/sessions.h"
#include "tables/auth.h"
#include "tables/extsess.h"
#include "tables/workspaces.h"
#include "wtree/wtree.h"

#include <stdlib.h>
#include <string.h>

static bool owner_org(ad_req_t *r)
{
    return ad_principal_sees(ad_api_who(r), AD_ORG_DEFAULT);
}

static void not_found(ad_req_t *r)
{
    ad_res_error(r, 404, "NOT_FOUND", NULL, "session not found");
}

/* A list on its way: the agents holding sessions, then the scan. */
typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    json_t *held; /* {sessionId: agentId}, owned */
} list_t;

/* Each session an agent of the caller's holds (adopted, or made by
 * agentd's own runs) shows it as agentId. */
static void listed(int rc, json_t *out, void *ud)
{
    list_t *l = ud;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(out, "sessions"), i, s)
    {
        json_t *agent = json_object_get(l->held, ad_api_jstr(s, "sessionId"));
        json_object_set(s, "agentId", agent != NULL ? agent : json_null());
    }
    ad_api_answer(l->r, rc, out, "sessions", NULL);
    json_decref(l->held);
    free(l);
}

static void held_read(int rc, json_t *held, void *ud)
{
    list_t *l = ud;
    ad_app_t *app = l->app;
    if (rc != 0 || app->sessions == NULL) {
        json_decref(held);
        ad_api_fail(l->r, rc != 0 ? rc : AD_ECLOSED, "sessions", NULL);
        free(l);
        return;
    }
    l->held = held;
    ad_sessions_list(app->sessions, listed, l);
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!owner_org(r) || app->sessions == NULL) {
        ad_res_json(r, 200, json_pack("{s:[]}", "sessions"));
        return;
    }
    list_t *l = ad_xcalloc(1, sizeof(*l));
    l->app = app;
    l->r = r;
    ad_store_session_agents(app->store, ad_principal_filter(ad_api_who(r)), held_read, l);
}

static void read_done(int rc, json_t *out, void *ud)
{
    if (rc == AD_ENOENT) {
        not_found(ud);
        return;
    }
    ad_api_answer(ud, rc, out, "session", NULL);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_field_err_t e = {0};
    const char *tool = ad_req_param(r, "tool"), *id = ad_req_param(r, "id");
    if (!owner_org(r) || app->sessions == NULL) {
        not_found(r);
    } else if (ad_sessions_tool_check(tool, &e) != 0 || ad_sessions_id_check(id, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else {
        ad_sessions_read(app->sessions, tool, id, read_done, r);
    }
}

/* ---- adopt ------------------------------------------------------------------------- */

typedef struct {
    ad_app_t *app;
    ad_req_t *r;
    json_t *body;    /* the request's, owned */
    json_t *session; /* what the read gave: {session, messages}, owned */
    char org[AD_ID_MAX];
} adopt_t;

static void adopt_free(adopt_t *a)
{
    json_decref(a->body);
    json_decref(a->session);
    free(a);
}

static const char *cwd_of(const adopt_t *a)
{
    return ad_api_jstr(json_object_get(a->session, "session"), "cwd");
}

/* The agent made with its transcript: published and answered 201. */
static void adopted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ENOENT) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s}", "field", "worktreeId"),
                     "the worktree went away while the session was adopted");
        return;
    }
    ad_api_agent_done_201(app, r, rc, result);
}

/* A default name: the session's first message, cut. */
static void default_name(adopt_t *a)
{
    if (json_object_get(a->body, "name") != NULL) {
        return;
    }
    json_t *s = json_object_get(a->session, "session");
    const char *first = ad_api_jstr(s, "firstMessage");
    char name[64];
    if (first != NULL && first[0] != '\0') {
        size_t n = ad_utf8_valid_prefix(first, strlen(first) < 60 ? strlen(first) : 60);
        snprintf(name, sizeof(name), "%.*s", (int)n, first);
        for (char *p = name; *p; p++) {
            *p = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        }
    } else {
        snprintf(name, sizeof(name), "%s %.8s", ad_api_jstr(s, "tool"),
                 ad_api_jstr(s, "sessionId"));
    }
    json_object_set_new(a->body, "name", json_string(name));
}

/* The agent in worktree wt: its args checked as a create's, then the write. */
static void adopt_into(adopt_t *a, const char *wt)
{
    json_t *s = json_object_get(a->session, "session");
    json_object_set_new(a->body, "executor", json_string(ad_api_jstr(s, "tool")));
    default_name(a);
    json_t *args = ad_api_agent_args(a->app, a->r, a->body, wt, a->org, NULL);
    if (args != NULL) {
        json_object_set_new(args, "sessionId", json_string(ad_api_jstr(s, "sessionId")));
        json_t *w = json_pack("{s:o, s:O}", "agent", args, "messages",
                              json_object_get(a->session, "messages"));
        ad_api_write(a->app, a->r, ad_sessions_op_adopt, w, adopted);
    }
    adopt_free(a);
}

/* The org's live worktree at path, or NULL. *list owned by the caller. */
static const char *worktree_at(json_t *worktrees, const char *path)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(worktrees, "worktrees"), i, w)
    {
        const char *p = ad_api_jstr(w, "path");
        if (p != NULL && strcmp(p, path) == 0) {
            return ad_api_jstr(w, "id");
        }
    }
    return NULL;
}

static void elsewhere(ad_req_t *r, const char *cwd)
{
    ad_res_error(r, 409, "CONFLICT", json_pack("{s:s, s:s}", "field", "worktreeId", "cwd", cwd),
                 "the session ran in %s, which is not this worktree's folder: its CLI resumes a "
                 "session only in the folder it ran in",
                 cwd);
}

static void registered(void *ud, const ad_wtree_out_t *o)
{
    adopt_t *a = ud;
    if (o->rc != 0) {
        ad_api_wtree_reply(a->r, o, 201, NULL, true);
        adopt_free(a);
        return;
    }
    const char *wt = worktree_at(o->data, cwd_of(a));
    if (wt == NULL) {
        elsewhere(a->r, cwd_of(a));
        adopt_free(a);
        return;
    }
    char id[AD_ID_MAX];
    snprintf(id, sizeof(id), "%s", wt);
    adopt_into(a, id);
}

/* No worktree is at the session's folder: registered as a workspace when
 * the caller may register it there (the workspaces route's rule). */
static void register_folder(adopt_t *a)
{
    const char *cwd = cwd_of(a);
    if (a->app->wtree == NULL ||
        !ad_wtree_path_allowed(a->app->wtree, ad_api_who(a->r), a->org, cwd)) {
        ad_res_error(a->r, 409, "CONFLICT",
                     json_pack("{s:s, s:s, s:s}", "field", "worktreeId", "cwd", cwd, "needed",
                               "workspace_roots"),
                     "the session's folder %s is no registered worktree, and you may not register "
                     "it (it is under none of the organisation's workspace_roots): register it "
                     "first, or ask an admin",
                     cwd);
        adopt_free(a);
        return;
    }
    const char *slash = strrchr(cwd, '/');
    json_t *ws =
        json_pack("{s:s, s:s}", "path", cwd, "name", slash != NULL && slash[1] ? slash + 1 : cwd);
    ad_wtree_ws_create(a->app->wtree, ad_api_who(a->r), a->org, ws, registered, a);
    json_decref(ws);
}

/* The worktree at the session's folder, registered when none is. */
static void place(adopt_t *a)
{
    const char *wt = ad_api_jstr(a->body, "worktreeId");
    json_t *list = NULL;
    int rc = ad_store_worktree_list(a->app->store, NULL, a->org, &list);
    const char *found = rc == 0 ? worktree_at(list, cwd_of(a)) : NULL;
    char id[AD_ID_MAX] = "";
    snprintf(id, sizeof(id), "%s", found != NULL ? found : "");
    json_decref(list);
    if (rc != 0) {
        ad_api_fail(a->r, rc, "worktrees", NULL);
    } else if (wt != NULL && strcmp(wt, id) != 0) {
        elsewhere(a->r, cwd_of(a));
    } else if (id[0] != '\0') {
        adopt_into(a, id);
        return;
    } else {
        register_folder(a);
        return;
    }
    adopt_free(a);
}

/* A session an agent holds already is not adopted again. */
static void held_checked(int rc, json_t *held, void *ud)
{
    adopt_t *a = ud;
    const char *sid = ad_api_jstr(json_object_get(a->session, "session"), "sessionId");
    const char *agent = rc == 0 ? ad_api_jstr(held, sid) : NULL;
    if (rc != 0) {
        ad_api_fail(a->r, rc, "agents", NULL);
    } else if (agent != NULL) {
        ad_res_error(a->r, 409, "ALREADY_ADOPTED", json_pack("{s:s}", "agentId", agent),
                     "agent %s already holds this session", agent);
    } else {
        json_decref(held);
        place(a);
        return;
    }
    json_decref(held);
    adopt_free(a);
}

static void session_read(int rc, json_t *out, void *ud)
{
    adopt_t *a = ud;
    a->session = out;
    json_t *s = json_object_get(out, "session");
    if (rc != 0 || s == NULL) {
        rc == AD_ENOENT ? not_found(a->r) : ad_api_fail(a->r, rc, "session", NULL);
    } else if (json_is_true(json_object_get(s, "live"))) {
        ad_res_error(a->r, 409, "SESSION_LIVE", NULL,
                     "the session is still being written outside agentd: it can be watched "
                     "read-only, and adopted once it ends");
    } else if (cwd_of(a) == NULL) {
        ad_res_error(a->r, 409, "CONFLICT", NULL, "the session names no folder it ran in");
    } else {
        ad_store_session_agents(a->app->store, a->org, held_checked, a);
        return;
    }
    adopt_free(a);
}

static void adopt(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_field_err_t e = {0};
    const char *tool = NULL, *id = NULL, *wt = NULL;
    if (ad_api_str(r, body, "tool", true, 16, &tool) != 0 ||
        ad_api_str(r, body, "sessionId", true, 256, &id) != 0 ||
        ad_api_str(r, body, "worktreeId", false, AD_ID_MAX, &wt) != 0) {
        json_decref(body);
        return;
    }
    if (ad_sessions_tool_check(tool, &e) != 0 || ad_sessions_id_check(id, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (!owner_org(r) || app->sessions == NULL) {
        not_found(r);
    } else if (ad_run_spec_unasked(body) &&
               !ad_api_require(r, AD_SCOPE_ADMIN,
                               "an agent that may run tools unasked (permissions beyond read, "
                               "or auto mode)")) {
        /* answered */
    } else if (wt != NULL && !ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, wt, NULL)) {
        /* answered 404 */
    } else {
        adopt_t *a = ad_xcalloc(1, sizeof(*a));
        a->app = app;
        a->r = r;
        a->body = body;
        snprintf(a->org, sizeof(a->org), "%s", ad_principal_org_for(ad_api_who(r), NULL));
        ad_sessions_read(app->sessions, tool, id, session_read, a);
        return;
    }
    json_decref(body);
}

void ad_api_external_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/sessions/external", AD_ACCESS_READ, list, app);
    ad_server_route(s, "GET", "/api/sessions/external/:tool/:id", AD_ACCESS_READ, get, app);
    ad_server_route(s, "POST", "/api/sessions/external/adopt", AD_ACCESS_WRITE, adopt, app);
}
