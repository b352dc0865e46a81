/* SPDX-License-Identifier: MIT */
/*
 * push: its REST routes (issue #76, docs/push.md), registered by the
 * engine's routes hook (plugin.c), so src/api stays within its size
 * budget and these handlers sit beside what they call: the VAPID public key a
 * browser subscribes with, the caller's own subscriptions (made, listed,
 * deleted: per device, per user), and the action a notification's Allow
 * or Deny calls. That one needs no session: its action token (made by
 * src/push, carried only inside the encrypted push) decides the one
 * approval it names, while it is pending, until it expires, and only as
 * far as the subscription's user still may (the token that user signed in
 * with still live, with its scope; its org the approval's). An approval
 * whose run another control plane holds is sent on to that plane once the
 * token checked out here (issue #77): the notification posts to the plane
 * its page came from, whichever holds the run.
 */
#include "auth/route.h"
#include "cluster/cluster.h"
#include "engine/engine.h"
#include "http/http.h"
#include "push/push_int.h"
#include "run/run.h"
#include "tables/approvals.h"
#include "tables/push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The user a subscription belongs to: the owner, or the API token the
 * caller signed in with (a dashboard session is its token's). */
static bool user_of(ad_app_t *app, ad_req_t *r, char user[AD_ID_MAX], const char **org)
{
    const ad_principal_t *who = ad_route_who(r);
    ad_store_token_t t;
    if (who->owner) {
        snprintf(user, AD_ID_MAX, "owner");
        *org = "";
        return true;
    }
    if (who->token_id[0] == '\0' || ad_store_token_get(app->store, who->token_id, &t) != 0) {
        ad_res_error(r, 403, "FORBIDDEN", NULL,
                     "push subscriptions are made by a dashboard session or an API token");
        return false;
    }
    snprintf(user, AD_ID_MAX, "%s", who->token_id);
    *org = who->org_id;
    return true;
}

static bool running(ad_app_t *app, ad_req_t *r)
{
    if (app->push == NULL) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "Web Push is not running");
        return false;
    }
    return true;
}

static void public_key(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char err[300];
    const ad_push_key_t *k = running(app, r) ? ad_push_key(app->push, err, sizeof(err)) : NULL;
    if (app->push != NULL && k == NULL && ad_push_key_pending(app->push)) {
        ad_push_key_later(app->push, r, public_key, app); /* the first key, being stored */
        return;
    }
    if (app->push != NULL && k == NULL) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "no VAPID key: %s", err);
        return;
    }
    if (k != NULL) {
        ad_res_json(r, 200, json_pack("{s:s}", "publicKey", k->pub_b64));
    }
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char user[AD_ID_MAX];
    const char *org;
    json_t *rows = NULL;
    if (!user_of(app, r, user, &org)) {
        return;
    }
    int rc = ad_store_push_list(app->store, org, user, &rows);
    if (rc != 0) {
        ad_route_fail(r, rc, "push subscriptions", NULL);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "subscriptions", rows));
}

static void stored(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    if (rc == AD_ETOOBIG) {
        ad_res_error(r, 409, "LIMIT", json_pack("{s:i}", "max", AD_PUSH_SUBS_PER_USER),
                     "at most %d push subscriptions per user: delete one first",
                     AD_PUSH_SUBS_PER_USER);
    } else if (rc != 0) {
        ad_route_fail(r, rc, "push subscription", NULL);
    } else {
        ad_res_json(r, 201, json_incref(result));
    }
}

static void subscribe(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char user[AD_ID_MAX], id[AD_ID_MAX], err[300];
    const char *org, *endpoint, *p256dh, *auth;
    ad_field_err_t e;
    if (!running(app, r) || !user_of(app, r, user, &org)) {
        return;
    }
    if (ad_push_key(app->push, err, sizeof(err)) == NULL) {
        if (ad_push_key_pending(app->push)) {
            ad_push_key_later(app->push, r, subscribe, app);
        } else {
            ad_res_error(r, 503, "UNAVAILABLE", NULL, "no VAPID key: %s", err);
        }
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    if (ad_push_sub_check(body, app->cfg->push_insecure_loopback, &endpoint, &p256dh, &auth, &e) !=
        0) {
        ad_route_invalid_err(r, &e);
        json_decref(body);
        return;
    }
    ad_id_new("psub", id);
    json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "orgId", org,
                             "userId", user, "endpoint", endpoint, "p256dh", p256dh, "auth", auth,
                             "now", (json_int_t)ad_wall_ms());
    json_decref(body);
    ad_route_write(app, r, ad_store_op_push_put, args, stored);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    AD_UNUSED(result);
    if (rc != 0) {
        ad_route_fail(r, rc, "push subscription", NULL);
        return;
    }
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void unsubscribe(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char user[AD_ID_MAX];
    const char *org, *endpoint;
    ad_field_err_t e;
    if (!user_of(app, r, user, &org)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    if (ad_field_str(body, "endpoint", true, 1024, &endpoint, &e) != 0) {
        ad_route_invalid_err(r, &e);
        json_decref(body);
        return;
    }
    json_t *args = json_pack("{s:s, s:s, s:s}", "orgId", org, "userId", user, "endpoint", endpoint);
    json_decref(body);
    ad_route_write(app, r, ad_store_op_push_delete, args, deleted);
}

/* ---- the notification's action ---------------------------------------------------- */

static void refuse(ad_req_t *r, const char *why)
{
    ad_res_error(r, 403, "FORBIDDEN", NULL, "%s", why);
}

/* Whether the subscription's user may still decide approval a with
 * decision: false after answering. */
static bool user_may(ad_app_t *app, ad_req_t *r, json_t *sub, json_t *a, const char *decision)
{
    const char *user = json_string_value(json_object_get(sub, "userId"));
    const char *sorg = json_string_value(json_object_get(sub, "orgId"));
    const char *aorg = json_string_value(json_object_get(a, "orgId"));
    bool admin = true;
    if (sorg == NULL || aorg == NULL || (sorg[0] != '\0' && strcmp(sorg, aorg) != 0)) {
        refuse(r, "the action token is not valid");
        return false;
    }
    if (user == NULL || strcmp(user, "owner") != 0) {
        ad_store_token_t t;
        int64_t now = (int64_t)ad_wall_ms();
        if (user == NULL || ad_store_token_get(app->store, user, &t) != 0 || t.revoked_at != 0 ||
            (t.expires_at != 0 && t.expires_at <= now)) {
            refuse(r, "the subscription's user can no longer sign in");
            return false;
        }
        if (strcmp(t.scope, "write") != 0 && strcmp(t.scope, "admin") != 0) {
            refuse(r, "the subscription's user may not decide approvals (read scope)");
            return false;
        }
        admin = strcmp(t.scope, "admin") == 0;
    }
    if (!ad_run_approval_may(app->store, a, decision, admin)) {
        refuse(r, "admin is needed to allow a call the agent's permissions do not allow");
        return false;
    }
    return true;
}

static void decided(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_route_fail(r, rc, "approval", NULL);
        return;
    }
    ad_run_approval_publish(app->bus, result);
    ad_res_json(r, 200, json_pack("{s:O}", "approval", result));
}

static void act_on(ad_app_t *app, ad_req_t *r, const char *token, const char *decision)
{
    char err[300], ap_id[AD_ID_MAX], sub_id[AD_ID_MAX];
    const ad_push_key_t *k = ad_push_key(app->push, err, sizeof(err));
    json_t *sub = NULL, *a = NULL;
    if (k == NULL || ad_push_action_check(k, token, (int64_t)ad_wall_ms(), ap_id, sub_id) != 0 ||
        ad_store_push_get(app->store, sub_id, &sub) != 0) {
        refuse(r, "the action token is not valid (expired, or its subscription was deleted)");
        return;
    }
    if (ad_store_approval_get(app->store, ap_id, &a) != 0) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "approval %s not found", ap_id);
    } else if (user_may(app, r, sub, a, decision)) {
        const char *status = json_string_value(json_object_get(a, "status"));
        ad_store_plane_ref_t to;
        if (app->planes != NULL &&
            ad_planes_agent_owner(app->planes, json_string_value(json_object_get(a, "agentId")),
                                  &to)) {
            /* its run is another plane's: decided there, where the token
             * is checked again (every plane signs with one key, issue #77) */
            ad_planes_forward_bearing(app->planes, r, &to);
        } else if (ad_runner_approval_decide(app->runner, a, decision) != 0) {
            ad_res_error(r, 409, "CONFLICT",
                         json_pack("{s:s, s:s?}", "id", ap_id, "status", status),
                         "approval %s is %s: its run no longer waits for a decision", ap_id,
                         status != NULL ? status : "not awaited");
        } else {
            char by[80];
            snprintf(by, sizeof(by), "push:%s", json_string_value(json_object_get(sub, "userId")));
            ad_route_write(app, r, ad_store_op_approval_decide,
                           ad_run_approval_args(a, decision, by, (int64_t)ad_wall_ms()), decided);
        }
    }
    json_decref(a);
    json_decref(sub);
}

static void action(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *token = NULL, *decision = NULL;
    ad_field_err_t e;
    if (!running(app, r)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    if (ad_field_str(body, "token", true, AD_PUSH_TOKEN_MAX, &token, &e) != 0 ||
        ad_field_enum(body, "action", true, "allow,deny", &decision, &e) != 0) {
        ad_route_invalid_err(r, &e);
    } else {
        act_on(app, r, token, decision);
    }
    json_decref(body);
}

void ad_push_routes(ad_app_t *app)
{
    if (app->push == NULL || app->runner == NULL) {
        return;
    }
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/push/vapid-public-key", AD_ACCESS_READ, public_key, app);
    ad_server_route(s, "GET", "/api/push/subscriptions", AD_ACCESS_READ, list, app);
    ad_server_route(s, "POST", "/api/push/subscriptions", AD_ACCESS_READ, subscribe, app);
    ad_server_route(s, "DELETE", "/api/push/subscriptions", AD_ACCESS_READ, unsubscribe, app);
    ad_server_route(s, "POST", "/api/push/actions", AD_ACCESS_PUBLIC, action, app);
}
