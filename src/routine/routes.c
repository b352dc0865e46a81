/* SPDX-License-Identifier: MIT */
/*
 * The routes of routines (issue #75, docs/routines.md), registered by the
 * engine's routes hook (src/engine): /api/routines. POST (admin: its runs
 * start processes) checks the body (spec.c) and the agent in it as POST
 * /api/agents would, as the caller (src/api's check, handed to the
 * engine: ad_routines_set_agent_check), in the worktree's (or
 * workspace's) org; a webhook routine's secret is answered once, here and
 * on PATCH {rotateSecret: true}. GET lists and reads the caller's org's
 * (another org's is a 404), PATCH changes, DELETE removes (with its runs),
 * .../runs lists its runs newest first, .../run fires it now. POST
 * /api/hooks/:id is public: a delivery signed with the routine's secret
 * (X-Hub-Signature-256, as GitHub signs; or X-Gitlab-Token) fires it,
 * anything else is 401 and starts nothing (hook.c decides). Events:
 * routine_update {routine}, routine_deleted {id, orgId} and routine_run
 * {run} on routine:<id> and the org's topic. HTTP only: the rows are
 * src/tables/routines.c's, the runs the engine's.
 */
#include "auth/route.h"
#include "engine/engine.h"
#include "routine/routine_int.h"
#include "tables/auth.h"
#include "tables/routines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_LIMIT_MAX 500

/* ---- the checks every route here shares (the rest are src/auth/route.h's) ---------- */

/* Who made a routine, for its row: the name and the token's id. */
static void made_by(const ad_principal_t *p, char *out, size_t outsz)
{
    if (p->token_id[0] != '\0') {
        snprintf(out, outsz, "%s %s", p->name, p->token_id);
    } else {
        snprintf(out, outsz, "%s", p->name);
    }
}

static void publish(ad_app_t *app, json_t *routine)
{
    ad_bus_publish_to(app->bus, "routine_update", routine, "routine", ad_jstr(routine, "id"), "org",
                      ad_jstr(routine, "orgId"), "routines", "", NULL);
    ad_routines_changed(app->routines);
}

/* The org the routine's worktree (or workspace) is in, as the caller sees
 * it: 0, or -1 after answering 404 on that field. */
static int where_org(ad_app_t *app, ad_req_t *r, const json_t *spec, char org[AD_ID_MAX])
{
    const char *wt = ad_jstr(spec, "worktreeId");
    const char *ws = ad_jstr(spec, "workspaceId");
    int rc = ad_auth_row_org(app->store, ad_route_who(r),
                             wt != NULL ? AD_STORE_ROW_WORKTREE : AD_STORE_ROW_WORKSPACE,
                             wt != NULL ? wt : ws, org);
    if (rc != 0) {
        ad_res_error_code(r, rc,
                          json_pack("{s:s}", "field", wt != NULL ? "worktreeId" : "workspaceId"),
                          "%s not found", wt != NULL ? "worktree" : "workspace");
        return -1;
    }
    return 0;
}

/* The spec's agent checked as POST /api/agents checks one, as the caller
 * (src/api's check, set on the engine): false after it answered 403 or
 * 422. */
static bool agent_ok(ad_app_t *app, ad_req_t *r, const json_t *spec, const char *org)
{
    ad_routines_t *e = app->routines;
    if (e == NULL || e->agent_check == NULL) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "routines are not ready");
        return false;
    }
    const char *wt = ad_jstr(spec, "worktreeId");
    return e->agent_check(app, r, json_object_get(spec, "agent"), wt != NULL ? wt : "", org);
}

/* The routine as answered to the one who may see its secret: with it and
 * the hook's path. */
static json_t *with_secret(json_t *routine, const char *secret)
{
    json_t *out = json_deep_copy(routine);
    if (secret != NULL && secret[0] != '\0') {
        char path[128];
        snprintf(path, sizeof(path), "/api/hooks/%s", ad_jstr(routine, "id"));
        json_object_set_new(out, "secret", json_string(secret));
        json_object_set_new(out, "hookPath", json_string(path));
    }
    return out;
}

/* ---- POST /api/routines ------------------------------------------------------------ */

/* The write's answer: the routine (with its secret, once, to the caller;
 * published without it). */
static void saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result, int status)
{
    if (rc != 0) {
        ad_route_fail(r, rc, "routine", ad_req_param(r, "id"));
        return;
    }
    json_t *row = json_deep_copy(result);
    json_object_del(row, "secret");
    publish(app, row);
    ad_res_json(r, status, with_secret(row, ad_jstr(result, "secret")));
    json_decref(row);
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    saved(app, r, rc, result, 201);
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    saved(app, r, rc, result, 200);
}

static void rt_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *spec = NULL;
    ad_field_err_t e;
    char org[AD_ID_MAX], id[AD_ID_MAX], secret[AD_SECRET_MAX] = "";
    bool enabled = true;
    if ((body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_routine_spec(body, NULL, &spec, &e) != 0) {
        ad_route_invalid_err(r, &e);
    } else if (ad_route_bool(r, body, "enabled", &enabled, NULL) == 0 &&
               where_org(app, r, spec, org) == 0 && agent_ok(app, r, spec, org)) {
        json_t *trigger = json_object_get(spec, "trigger");
        const ad_principal_t *p = ad_route_who(r);
        char by[160];
        made_by(p, by, sizeof(by));
        if (strcmp(ad_routine_kind(trigger), "webhook") == 0 && ad_secret_new(secret) != 0) {
            ad_res_error(r, 500, "INTERNAL", NULL, "cannot make the webhook's secret");
            goto out;
        }
        ad_id_new("rt", id);
        int64_t now = ad_wall_ms();
        json_t *args =
            json_pack("{s:s, s:s, s:s, s:O, s:s, s:I, s:s, s:I}", "id", id, "orgId", org, "name",
                      ad_jstr(body, "name"), "spec", spec, "secret", secret, "nextFireAt",
                      (json_int_t)(enabled ? ad_routine_next_fire(trigger, NULL, now) : 0),
                      "createdBy", by, "now", (json_int_t)now);
        if (!enabled) {
            json_object_set_new(args, "enabled", json_false());
        }
        char note[200];
        snprintf(note, sizeof(note), "routine %s (%s) made", id, ad_routine_kind(trigger));
        ad_req_set_note(r, note);
        ad_route_write(app, r, ad_store_op_routine_insert, args, created);
    }
out:
    json_decref(spec);
    json_decref(body);
}

/* ---- GET, PATCH, DELETE ------------------------------------------------------------------ */

static void rt_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *all = NULL;
    int rc = ad_store_routine_list(app->store, ad_principal_filter(ad_route_who(r)), &all);
    ad_route_list(r, rc, all, "routines", "routines");
}

static void rt_get(ad_req_t *r, void *ud)
{
    ad_route_answer_row(r, ad_route_row_load(ud, r, ad_store_routine_get, "routine"));
}

/* PATCH's args into args from the merged spec, or -1 after answering. */
static int patch_args(ad_app_t *app, ad_req_t *r, json_t *cur, json_t *body, json_t *args)
{
    ad_field_err_t e;
    json_t *m = NULL, *spec = NULL;
    char org[AD_ID_MAX], secret[AD_SECRET_MAX] = "";
    bool enabled = json_is_true(json_object_get(cur, "enabled")), rotate = false;
    int rc = -1;
    if (ad_route_bool(r, body, "enabled", &enabled, NULL) != 0 ||
        ad_route_bool(r, body, "rotateSecret", &rotate, NULL) != 0) {
        goto out;
    }
    if (ad_routine_patch_merge(cur, body, &m, &e) != 0 ||
        ad_routine_spec(m, NULL, &spec, &e) != 0) {
        ad_route_invalid_err(r, &e);
        goto out;
    }
    if (where_org(app, r, spec, org) != 0 || !agent_ok(app, r, spec, org)) {
        goto out;
    }
    if (strcmp(org, ad_jstr(cur, "orgId")) != 0) {
        ad_route_invalid(r, "worktreeId", "is in another organisation than the routine");
        goto out;
    }
    json_t *trigger = json_object_get(spec, "trigger");
    bool webhook = strcmp(ad_routine_kind(trigger), "webhook") == 0;
    bool was_webhook = strcmp(ad_routine_kind(json_object_get(cur, "trigger")), "webhook") == 0;
    if (webhook && (rotate || !was_webhook) && ad_secret_new(secret) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot make the webhook's secret");
        goto out;
    }
    if (rotate && !webhook) {
        ad_route_invalid(r, "rotateSecret", "only a webhook routine has a secret");
        goto out;
    }
    json_object_set_new(args, "name", json_string(ad_jstr(m, "name")));
    json_object_set(args, "spec", spec);
    json_object_set_new(args, "enabled", json_boolean(enabled));
    json_object_set_new(args, "secret", json_string(webhook ? secret : ""));
    if (webhook && secret[0] == '\0') {
        json_object_del(args, "secret"); /* kept */
    }
    /* the schedule moves only when the trigger changes or it is switched on
     * or off: a renamed interval routine keeps its phase */
    bool same = json_equal(trigger, json_object_get(cur, "trigger")) &&
                enabled == json_is_true(json_object_get(cur, "enabled"));
    if (!same) {
        json_object_set_new(
            args, "nextFireAt",
            json_integer(enabled ? ad_routine_next_fire(trigger, NULL, ad_wall_ms()) : 0));
    }
    rc = 0;
out:
    json_decref(m);
    json_decref(spec);
    return rc;
}

static void rt_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *cur = ad_route_row_load(app, r, ad_store_routine_get, "routine");
    json_t *body = cur != NULL ? ad_req_json(r) : NULL;
    if (body != NULL) {
        json_t *args =
            json_pack("{s:s, s:I}", "id", ad_jstr(cur, "id"), "now", (json_int_t)ad_wall_ms());
        if (patch_args(app, r, cur, body, args) == 0) {
            char note[200];
            snprintf(note, sizeof(note), "routine %s changed%s", ad_jstr(cur, "id"),
                     json_is_true(json_object_get(body, "rotateSecret")) ? ", secret rotated" : "");
            ad_req_set_note(r, note);
            ad_route_write(app, r, ad_store_op_routine_update, args, updated);
        } else {
            json_decref(args);
        }
    }
    json_decref(body);
    json_decref(cur);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_route_fail(r, rc, "routine", ad_req_param(r, "id"));
        return;
    }
    ad_bus_publish_to(app->bus, "routine_deleted", result, "routine", ad_jstr(result, "id"), "org",
                      ad_jstr(result, "orgId"), "routines", "", NULL);
    ad_routines_changed(app->routines);
    ad_res_json(r, 200, json_incref(result));
}

static void rt_delete(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *cur = ad_route_row_load(app, r, ad_store_routine_get, "routine");
    if (cur != NULL) {
        char note[200];
        snprintf(note, sizeof(note), "routine %s removed", ad_jstr(cur, "id"));
        ad_req_set_note(r, note);
        ad_route_write(
            app, r, ad_store_op_routine_delete,
            json_pack("{s:s, s:s}", "id", ad_jstr(cur, "id"), "orgId", ad_jstr(cur, "orgId")),
            deleted);
    }
    json_decref(cur);
}

/* ---- runs ----------------------------------------------------------------------------------- */

static void rt_runs(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    int64_t limit = 100;
    bool has = false;
    if (ad_route_query_int(r, "limit", 1, RUNS_LIMIT_MAX, &has, &limit) != 0) {
        return;
    }
    json_t *cur = ad_route_row_load(app, r, ad_store_routine_get, "routine");
    if (cur != NULL) {
        json_t *runs = NULL;
        int rc = ad_store_routine_runs(app->store, ad_jstr(cur, "id"), (int)limit, &runs);
        ad_route_list(r, rc, runs, "runs", "routine runs");
        json_decref(cur);
    }
}

static void fired(int rc, json_t *run, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_route_fail(r, rc, "routine", NULL);
    } else {
        ad_res_json(r, 202, run);
    }
}

/* POST /api/routines/:id/run {payload?}: a fire now, under the limits. */
static void rt_run(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    bool failed = false;
    json_t *body = ad_req_json_optional(r, &failed);
    json_t *cur = failed ? NULL : ad_route_row_load(app, r, ad_store_routine_get, "routine");
    if (cur != NULL) {
        json_t *p = json_object_get(body, "payload");
        char *payload = p != NULL ? json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (payload != NULL && strlen(payload) > AD_ROUTINE_PAYLOAD_MAX) {
            ad_route_invalid(r, "payload", "is too long");
        } else if (app->routines == NULL) {
            ad_res_error(r, 503, "UNAVAILABLE", NULL, "routines do not run here");
        } else {
            char note[200];
            snprintf(note, sizeof(note), "routine %s fired by hand", ad_jstr(cur, "id"));
            ad_req_set_note(r, note);
            ad_routines_fire(app->routines, cur, "manual", payload, fired, r);
        }
        free(payload);
    }
    json_decref(cur);
    json_decref(body);
}

/* ---- POST /api/hooks/:id ------------------------------------------------------------------- */

/* Public: the signature is the credential (src/routine/hook.c decides). */
static void hook(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    char secret[AD_ROUTINE_SECRET_MAX] = "", why[200];
    size_t len = 0;
    const char *body = ad_req_body(r, &len);
    json_t *cur = NULL;
    if (id != NULL && strlen(id) < AD_ID_MAX && ad_store_routine_get(app->store, id, &cur) == 0) {
        ad_store_routine_secret(app->store, id, secret, sizeof(secret));
    }
    ad_routine_hook_in_t in = {.routine = cur,
                               .secret = secret,
                               .body = body,
                               .len = len,
                               .sig256 = ad_req_header(r, "X-Hub-Signature-256"),
                               .gitlab_token = ad_req_header(r, "X-Gitlab-Token"),
                               .delivery = ad_req_header(r, "X-GitHub-Delivery")};
    static const char *const ev[] = {"X-GitHub-Event", "X-Gitea-Event", "X-Gitlab-Event"};
    for (size_t i = 0; i < AD_ARRAY_LEN(ev) && in.event == NULL; i++) {
        in.event = ad_req_header(r, ev[i]);
    }
    ad_routine_hook_t what = ad_routine_hook_check(&in, why, sizeof(why));
    if (what != AD_HOOK_UNSIGNED) {
        ad_req_set_note(r, why);
    }
    switch (what) {
    case AD_HOOK_UNSIGNED:
        ad_res_error(r, 401, "UNAUTHORIZED", NULL, "%s", why);
        break;
    case AD_HOOK_BAD_BODY:
        ad_route_invalid(r, "body", "must be UTF-8 text of at most 1 MiB");
        break;
    case AD_HOOK_PAUSED:
        ad_res_error(r, 409, "CONFLICT", NULL, "the routine is paused");
        break;
    case AD_HOOK_PING:
        ad_res_json(r, 200, json_pack("{s:b}", "pong", 1));
        break;
    case AD_HOOK_IGNORED:
        ad_res_json(r, 202, json_pack("{s:b, s:s}", "ignored", 1, "reason", why));
        break;
    case AD_HOOK_FIRE:
        if (app->routines == NULL) {
            ad_res_error(r, 503, "UNAVAILABLE", NULL, "routines do not run here");
        } else {
            char *text = ad_xmalloc(len + 1);
            memcpy(text, body != NULL ? body : "", len);
            text[len] = '\0';
            ad_routines_fire(app->routines, cur, in.event != NULL ? "event" : "webhook", text,
                             fired, r);
            free(text);
        }
        break;
    }
    json_decref(cur);
}

void ad_routines_routes(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/routines", AD_ACCESS_READ, rt_list, app);
    ad_server_route(s, "POST", "/api/routines", AD_ACCESS_ADMIN, rt_create, app);
    ad_server_route(s, "GET", "/api/routines/:id", AD_ACCESS_READ, rt_get, app);
    ad_server_route(s, "PATCH", "/api/routines/:id", AD_ACCESS_ADMIN, rt_patch, app);
    ad_server_route(s, "DELETE", "/api/routines/:id", AD_ACCESS_ADMIN, rt_delete, app);
    ad_server_route(s, "GET", "/api/routines/:id/runs", AD_ACCESS_READ, rt_runs, app);
    ad_server_route(s, "POST", "/api/routines/:id/run", AD_ACCESS_ADMIN, rt_run, app);
    ad_server_route(s, "POST", "/api/hooks/:id", AD_ACCESS_PUBLIC, hook, app);
}
