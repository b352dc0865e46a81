/* SPDX-License-Identifier: MIT */
/*
 * Every session in one list (loop thread): the agents that hold sessions
 * (tables/extsess.h), this machine's scan when the caller sees it, and each
 * connected node of the caller's organisation asked for its own (nodeext.c
 * over the link, at most NODES_MAX nodes, each answer checked by
 * nodecheck.c), merged newest first. A node that is not connected here, or
 * that fails or does not answer within AD_SESSIONS_NODE_LIST_MS (a list
 * is a page load), lists nothing and says why in `nodes`; a late answer
 * finds no request waiting and is dropped by src/node. Ends once through
 * its callback.
 */
#include "sessions/sessions_int.h"

#include "node/node.h"
#include "tables/extsess.h"

#include <stdlib.h>
#include <string.h>

#define NODES_MAX 64
#define MERGED_MAX 2000

typedef struct {
    ad_sessions_t *S;
    char org[AD_ID_MAX];
    bool local;
    char node[AD_ID_MAX]; /* only this node's ("" every node's, and this machine's) */
    json_t *held;         /* {sessionId: agentId} */
    json_t *sessions, *nodes;
    int pending;
    ad_wtree_cb cb;
    void *ud;
} list_t;

typedef struct {
    list_t *l;
    json_t *entry; /* its row of l->nodes (borrowed) */
    char id[AD_ID_MAX], name[64];
} ask_t;

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int newest_first(const void *a, const void *b)
{
    const char *x = jstr(*(json_t *const *)a, "lastActivity");
    const char *y = jstr(*(json_t *const *)b, "lastActivity");
    return strcmp(y != NULL ? y : "", x != NULL ? x : "");
}

/* The merged list, newest first (RFC 3339 times in UTC sort as text). */
static json_t *sorted(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = ad_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = json_incref(json_array_get(arr, i));
    }
    qsort(v, n, sizeof(*v), newest_first);
    json_t *out = json_array();
    for (size_t i = 0; i < n && i < MERGED_MAX; i++) {
        json_array_append(out, v[i]);
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(v[i]);
    }
    free(v);
    return out;
}

static void step_done(list_t *l)
{
    if (--l->pending > 0) {
        return;
    }
    bool closed = sess_release(l->S);
    json_t *out = json_pack("{s:o, s:O}", "sessions", sorted(l->sessions), "nodes", l->nodes);
    ad_wtree_out_t o = {.rc = closed ? AD_ECLOSED : 0, .msg = "agentd is closing", .data = out};
    l->cb(l->ud, &o);
    json_decref(out);
    json_decref(l->held);
    json_decref(l->sessions);
    json_decref(l->nodes);
    free(l);
}

static void add(list_t *l, json_t *s)
{
    json_t *agent = json_object_get(l->held, jstr(s, "sessionId"));
    json_object_set(s, "agentId", agent != NULL ? agent : json_null());
    json_array_append_new(l->sessions, s);
}

static void node_answered(int rc, json_t *answer, const char *why, void *ud)
{
    ask_t *q = ud;
    list_t *l = q->l;
    size_t i, taken = 0;
    json_t *s;
    json_t *seen = json_object(); /* "<tool>/<id>": a session once, its newest file */
    json_array_foreach(rc == 0 ? json_object_get(answer, "sessions") : NULL, i, s)
    {
        json_t *ok = i < AD_SESS_LIST_MAX ? sess_node_session(s, q->id, q->name) : NULL;
        char key[AD_SESS_ID_MAX + 24];
        if (ok != NULL) {
            snprintf(key, sizeof(key), "%s/%s", jstr(ok, "tool"), jstr(ok, "sessionId"));
        }
        if (ok != NULL && json_object_get(seen, key) == NULL) {
            json_object_set_new(seen, key, json_true());
            add(l, ok);
            taken++;
        } else {
            json_decref(ok);
        }
    }
    json_decref(seen);
    json_object_set_new(q->entry, "listed", json_boolean(rc == 0));
    if (rc == 0) {
        json_object_set_new(q->entry, "sessions", json_integer((json_int_t)taken));
        json_object_set_new(q->entry, "truncated",
                            json_boolean(json_is_true(json_object_get(answer, "truncated"))));
    } else {
        json_object_set_new(q->entry, "error", json_string(why != NULL ? why : "failed"));
    }
    free(q);
    step_done(l);
}

/* Why node row (its state) is not asked for its sessions, or NULL. */
static const char *why_not(const json_t *row, const char *state, size_t asked)
{
    if (asked >= NODES_MAX) {
        return "more nodes than one list asks";
    }
    if (strcmp(state, "connected") != 0) {
        return "the node is not connected";
    }
    if (!json_is_true(json_object_get(json_object_get(row, "plane"), "here"))) {
        return "the node is linked to another control plane: ask that one";
    }
    if (!json_is_true(json_object_get(json_object_get(row, "caps"), "sessions"))) {
        return "the node's agentd is older: it does not list its sessions";
    }
    return NULL;
}

/* Each node of the org (or the one asked for) asked, or said why not. */
static void ask_nodes(list_t *l)
{
    ad_plane_t *p = sess_plane(l->S);
    json_t *rows = p != NULL ? ad_plane_nodes(p, l->org) : NULL;
    size_t i, asked = 0;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *id = jstr(row, "id"), *name = jstr(row, "name"), *state = jstr(row, "state");
        if (id == NULL || name == NULL || state == NULL || strcmp(state, "revoked") == 0 ||
            (l->node[0] != '\0' && strcmp(l->node, id) != 0)) {
            continue;
        }
        json_t *entry =
            json_pack("{s:s, s:s, s:s, s:b}", "id", id, "name", name, "state", state, "listed", 0);
        json_array_append_new(l->nodes, entry);
        const char *why = why_not(row, state, asked);
        if (why != NULL) {
            json_object_set_new(entry, "error", json_string(why));
            continue;
        }
        ask_t *q = ad_xcalloc(1, sizeof(*q));
        q->l = l;
        q->entry = entry;
        snprintf(q->id, sizeof(q->id), "%s", id);
        snprintf(q->name, sizeof(q->name), "%s", name);
        l->pending++;
        asked++;
        ad_plane_ext_sessions(p, id, json_pack("{s:s}", "op", "list"), AD_SESSIONS_NODE_LIST_MS,
                              node_answered, q);
    }
    json_decref(rows);
}

static void local_listed(int rc, json_t *out, void *ud)
{
    list_t *l = ud;
    size_t i;
    json_t *s;
    json_array_foreach(rc == 0 ? json_object_get(out, "sessions") : NULL, i, s)
    {
        json_object_set(s, "node", json_null());
        add(l, json_incref(s));
    }
    json_decref(out);
    if (sess_closed(l->S)) {
        step_done(l);
        return;
    }
    ask_nodes(l);
    step_done(l);
}

static void held_read(int rc, json_t *held, void *ud)
{
    list_t *l = ud;
    l->held = rc == 0 ? held : json_object();
    if (rc != 0) {
        json_decref(held);
    }
    if (l->local && !sess_closed(l->S)) {
        sess_list_scan(l->S, local_listed, l);
    } else {
        local_listed(AD_ENOENT, NULL, l);
    }
}

void ad_sessions_list(ad_sessions_t *S, const char *org, bool local, const char *node,
                      ad_wtree_cb cb, void *ud)
{
    char node_id[AD_ID_MAX] = "";
    bool connected;
    if (S == NULL || (node != NULL && node[0] != '\0' &&
                      (sess_plane(S) == NULL ||
                       ad_plane_find(sess_plane(S), org, node, node_id, &connected) != 0))) {
        json_t *none = json_pack("{s:[], s:[]}", "sessions", "nodes");
        json_t *field = json_pack("{s:s}", "field", "node");
        ad_wtree_out_t o = {.rc = S == NULL ? 0 : AD_ENOENT,
                            .msg = "node not found",
                            .details = field,
                            .data = none};
        cb(ud, &o);
        json_decref(none);
        json_decref(field);
        return;
    }
    list_t *l = ad_xcalloc(1, sizeof(*l));
    l->S = S;
    snprintf(l->org, sizeof(l->org), "%s", org);
    snprintf(l->node, sizeof(l->node), "%s", node_id);
    l->local = local && node_id[0] == '\0';
    l->sessions = json_array();
    l->nodes = json_array();
    l->pending = 1; /* the local step and what it starts */
    l->cb = cb;
    l->ud = ud;
    sess_hold(S);
    ad_store_session_agents(sess_store(S), org, held_read, l);
}
