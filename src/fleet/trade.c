/* SPDX-License-Identifier: MIT */
/*
 * A node trades a registration token for its own key (issue #77,
 * docs/nodes.md "Registration tokens"). Public routes: the registration
 * token is the credential, as Authorization: Bearer <nrt_….secret>.
 *   POST /api/nodes/register {name}        201 {key, tokenId, nodeId, name,
 *                                          orgId, labels}
 *   GET  /api/nodes/register?name=N        the same as a WebSocket, for the
 *                                          node (it has no other client): one
 *                                          text {t: "registered", …}, then 1000
 * The token is looked up by its id and its secret's hash compared in
 * constant time (src/tables/noderegs.c); one use is taken in the store,
 * then a node key is made (an API token of scope node, named after the
 * node, src/auth) and the node's row (src/tables/nodes.c), with the
 * token's labels as the control plane's. A refusal is 401
 * REGISTRATION_REFUSED {reason: unknown | expired | used | revoked}, or the
 * socket closed 4401 with the same words, and an audit row. Neither the
 * token's text nor the key is ever logged or audited: only ids.
 */
#include "fleet/fleet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTE "/api/nodes/register"

typedef struct {
    ad_fleet_t *f;
    ad_req_t *r; /* the POST, or NULL */
    ad_ws_t *ws; /* the socket, NULL once gone */
    bool is_ws;
    char id[AD_ID_MAX];
    char name[64];
    char org[AD_ID_MAX];
    char remote[48];
    char node_id[AD_ID_MAX];
    json_t *reg; /* the token's row after the use */
    json_t *key; /* the key made: {token, id, …} */
} trade_t;

static void trade_free(trade_t *t)
{
    json_decref(t->reg);
    json_decref(t->key);
    if (t->ws != NULL) {
        ad_ws_set_data(t->ws, NULL);
    }
    free(t);
}

static const char *reason_text(const char *reason)
{
    return strcmp(reason, "expired") == 0   ? "the registration token has expired"
           : strcmp(reason, "used") == 0    ? "the registration token has been used"
           : strcmp(reason, "revoked") == 0 ? "the registration token was revoked"
                                            : "not a registration token this server knows";
}

static void refuse(trade_t *t, const char *reason)
{
    char detail[256];
    snprintf(detail, sizeof(detail), "registration refused (%s) token %s name %s", reason,
             t->id[0] != '\0' ? t->id : "-", t->name);
    ad_fleet_audit(t->f, "anonymous", t->remote, t->org, t->is_ws ? "GET" : "POST", ROUTE, t->id,
                   401, detail);
    ad_log(AD_LOG_WARN, "fleet", "registration refused reason=%s token=%s name=%s remote=%s",
           reason, t->id[0] != '\0' ? t->id : "-", t->name, t->remote);
    if (t->r != NULL) {
        ad_res_header(t->r, "WWW-Authenticate", "Bearer");
        ad_res_error(t->r, 401, "REGISTRATION_REFUSED", json_pack("{s:s}", "reason", reason),
                     "registration refused: %s", reason_text(reason));
    } else if (t->ws != NULL) {
        char why[120];
        snprintf(why, sizeof(why), "registration refused: %s", reason_text(reason));
        ad_ws_close(t->ws, 4401, why);
    }
    trade_free(t);
}

static void fail(trade_t *t, int rc, const char *what)
{
    if (t->r != NULL) {
        ad_fleet_fail(t->r, rc, what, NULL);
    } else if (t->ws != NULL) {
        ad_ws_close(t->ws, 1011, "the control plane could not register the node now");
    }
    trade_free(t);
}

/* The node's row is there: the answer, the event, the audit. */
static void answer(trade_t *t, json_t *row)
{
    json_t *labels = json_object_get(t->reg, "labels");
    json_t *a = json_pack("{s:O, s:O, s:s, s:s, s:s, s:O}", "key", json_object_get(t->key, "token"),
                          "tokenId", json_object_get(t->key, "id"), "nodeId", t->node_id, "name",
                          t->name, "orgId", t->org, "labels",
                          json_is_object(labels) ? labels : json_object_get(row, "labels"));
    char detail[256];
    snprintf(detail, sizeof(detail), "registered node %s (%s) with token %s: key %s", t->name,
             t->node_id, t->id, json_string_value(json_object_get(t->key, "id")));
    ad_plane_event(t->f->app->plane, t->node_id, t->org, "key_traded",
                   json_pack("{s:s, s:O}", "registrationToken", t->id, "tokenId",
                             json_object_get(t->key, "id")));
    ad_log(AD_LOG_INFO, "fleet", "node registered node=%s id=%s token=%s", t->name, t->node_id,
           t->id);
    if (t->r != NULL) {
        ad_req_set_note(t->r, detail);
        ad_res_json(t->r, 201, a);
    } else if (t->ws == NULL) { /* the node left: nobody has the key, so it goes */
        ad_auth_token_drop(t->f->app->auth, json_string_value(json_object_get(t->key, "id")));
        json_decref(a);
    } else {
        ad_fleet_audit(t->f, "anonymous", t->remote, t->org, "GET", ROUTE, t->node_id, 201, detail);
        json_object_set_new(a, "t", json_string("registered"));
        char *text = json_dumps(a, JSON_COMPACT);
        if (t->ws != NULL && text != NULL) {
            ad_ws_send_last(t->ws, text, strlen(text));
            ad_ws_close(t->ws, 1000, "registered");
        }
        if (text != NULL) {
            memset(text, 0, strlen(text));
        }
        free(text);
        json_object_del(a, "key");
        json_decref(a);
    }
    trade_free(t);
}

static void labels_set(int rc, json_t *row, void *ud)
{
    trade_t *t = ud;
    AD_UNUSED(rc);
    answer(t, row);
    json_decref(row);
}

static void joined(int rc, json_t *row, void *ud)
{
    trade_t *t = ud;
    if (rc != 0) {
        /* the name is another node's (AD_EEXIST) or could not be stored:
         * the key made for it goes */
        ad_auth_token_drop(t->f->app->auth, json_string_value(json_object_get(t->key, "id")));
        json_decref(row);
        if (rc == AD_EEXIST && t->r != NULL) {
            ad_res_error(t->r, 409, "NODE_NAME_TAKEN", json_pack("{s:s}", "name", t->name),
                         "node name %s is another node's", t->name);
            trade_free(t);
        } else if (rc == AD_EEXIST && t->ws != NULL) {
            ad_ws_close(t->ws, 4409, "node name taken by another node");
            trade_free(t);
        } else {
            fail(t, rc, "node");
        }
        return;
    }
    snprintf(t->node_id, sizeof(t->node_id), "%s", json_string_value(json_object_get(row, "id")));
    json_t *labels = json_object_get(t->reg, "labels");
    if (json_is_object(labels) && json_object_size(labels) > 0) {
        ad_store_node_set_t set = {.has_labels = true};
        set.labels = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
        ad_plane_set(t->f->app->plane, t->node_id, &set, labels_set, t);
        free(set.labels);
    } else {
        answer(t, row);
    }
    json_decref(row);
}

static void key_made(int rc, json_t *key, void *ud)
{
    trade_t *t = ud;
    if (rc != 0 || key == NULL) { /* (key is borrowed) */
        fail(t, rc != 0 ? rc : AD_EINTERNAL, "node key");
        return;
    }
    t->key = json_incref(key);
    ad_store_node_join_t j = {.now = ad_wall_ms()};
    ad_id_new("nd", j.id);
    snprintf(j.org_id, sizeof(j.org_id), "%s", t->org);
    snprintf(j.name, sizeof(j.name), "%s", t->name);
    snprintf(j.token_id, sizeof(j.token_id), "%s", json_string_value(json_object_get(key, "id")));
    ad_store_node_join(t->f->app->store, &j, joined, t);
}

static void used(int rc, json_t *row, void *ud)
{
    trade_t *t = ud;
    const char *org = json_string_value(json_object_get(row, "orgId"));
    snprintf(t->org, sizeof(t->org), "%s", org != NULL ? org : "");
    if (rc == AD_EPERM) {
        const char *reason = json_string_value(json_object_get(row, "refused"));
        char keep[16];
        snprintf(keep, sizeof(keep), "%s", reason != NULL ? reason : "unknown");
        json_decref(row);
        refuse(t, keep);
        return;
    }
    if (rc != 0) {
        json_decref(row);
        fail(t, rc, "registration token");
        return;
    }
    t->reg = row;
    if (t->is_ws && t->ws == NULL) {
        ad_log(AD_LOG_WARN, "fleet", "a node left during its registration token=%s", t->id);
    }
    char err[256];
    if (ad_auth_token_create(t->f->app->auth, t->name, t->org, AD_SCOPE_NODE, 0, 0, key_made, t,
                             err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "fleet", "no node key could be made: %s", err);
        fail(t, AD_EINVAL, "node key");
    }
}

static bool name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    bool ok = n > 0 && n <= 63;
    for (size_t i = 0; ok && i < n; i++) {
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || strchr("-_.", s[i]) != NULL;
    }
    return ok;
}

/* Starts t's trade of the Authorization header's token for name. */
static void trade_start(trade_t *t, const char *auth_header, const char *name)
{
    snprintf(t->name, sizeof(t->name), "%s", name_ok(name) ? name : "");
    const char *tok =
        auth_header != NULL && strncasecmp(auth_header, "bearer ", 7) == 0 ? auth_header + 7 : NULL;
    const char *dot = tok != NULL ? strchr(tok, '.') : NULL;
    size_t idlen = dot != NULL ? (size_t)(dot - tok) : 0;
    if (idlen > 0 && idlen < sizeof(t->id)) {
        memcpy(t->id, tok, idlen);
        t->id[idlen] = '\0';
    }
    if (dot == NULL || !ad_id_valid(t->id, AD_FLEET_REG_PREFIX) ||
        strlen(dot + 1) != AD_SECRET_MAX - 1) {
        t->id[0] = '\0';
        refuse(t, "unknown");
        return;
    }
    if (t->name[0] == '\0') {
        if (t->r != NULL) {
            ad_res_error(t->r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", "name", "reason",
                                   "must be 1 to 63 letters, digits, . _ -"),
                         "name must be 1 to 63 letters, digits, . _ -");
        } else {
            ad_ws_close(t->ws, 4400, "a node name is 1 to 63 letters, digits, . _ -");
        }
        trade_free(t);
        return;
    }
    char hash[65], why[16];
    ad_sha256_hex(dot + 1, strlen(dot + 1), hash);
    /* judged on the read connection first: a token that will be refused
     * costs no write (the use itself is judged again in its write) */
    int rc = ad_store_nodereg_check(t->f->app->store, t->id, hash, ad_wall_ms(), why);
    if (rc == AD_EPERM) {
        refuse(t, why);
    } else if (rc != 0) {
        fail(t, rc, "registration token");
    } else {
        ad_store_nodereg_use(t->f->app->store, t->id, hash, ad_wall_ms(), used, t);
    }
}

static void register_post(ad_req_t *r, void *ud)
{
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    trade_t *t = ad_xcalloc(1, sizeof(*t));
    t->f = ud;
    t->r = r;
    ad_req_peer(r, t->remote, sizeof(t->remote));
    trade_start(t, ad_req_header(r, "authorization"),
                json_string_value(json_object_get(body, "name")));
    json_decref(body);
}

static void ws_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    trade_t *t = ad_xcalloc(1, sizeof(*t));
    t->f = ud;
    t->ws = ws;
    t->is_ws = true;
    ad_ws_set_data(ws, t);
    ad_req_peer(upgrade, t->remote, sizeof(t->remote));
    trade_start(t, ad_req_header(upgrade, "authorization"), ad_req_query(upgrade, "name"));
}

static void ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(data);
    AD_UNUSED(len);
    AD_UNUSED(binary);
    AD_UNUSED(ud);
    ad_ws_close(ws, 4400, "nothing is said on this socket");
}

static void ws_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    trade_t *t = ad_ws_data(ws);
    if (t != NULL) {
        t->ws = NULL; /* the trade goes on and answers nobody */
    }
}

static const ad_ws_handler_t ws_handler = {ws_open, ws_message, ws_close};

void ad_fleet_trade_routes(ad_fleet_t *f)
{
    ad_server_route_ws(f->app->server, "/api/nodes/register", AD_ACCESS_PUBLIC, NULL, &ws_handler,
                       f);
    ad_server_route(f->app->server, "POST", "/api/nodes/register", AD_ACCESS_PUBLIC, register_post,
                    f);
}
