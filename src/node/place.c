/* SPDX-License-Identifier: MIT */
/*
 * Placement (docs/nodes.md, "Placement"): which node of an organisation
 * fits what an agent asks for (its labels, a free GPU, free memory, its
 * CLI installed), the least busy of those that can take it now; and, when
 * none can, why not, node by node. ad_node_fits is pure (tested through
 * the API); ad_plane_place reads the nodes with their live state. A node
 * cordoned or draining, or running its maxRuns, takes nothing new (issue
 * #77: ad_node_room); the operator sets those (ad_plane_set).
 */
#include "node/node_int.h"
#include "tables/agents.h"

#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

bool ad_node_linked_elsewhere(const json_t *node, char *why, size_t whysz)
{
    const json_t *pl = json_object_get(node, "plane");
    if (!json_is_false(json_object_get(pl, "here"))) {
        return false;
    }
    const char *url = json_string_value(json_object_get(pl, "url"));
    snprintf(why, whysz, "it is linked to control plane %s%s%s%s, not this one: ask that plane",
             json_string_value(json_object_get(pl, "id")) ?: "?", url != NULL ? " (" : "",
             url != NULL ? url : "", url != NULL ? ")" : "");
    return true;
}

void ad_plane_not_here(ad_plane_t *p, const char *id, const char *name, char *err, size_t errsz)
{
    json_t *n = ad_plane_node(p, id);
    char why[2200]; /* a plane URL (AD_NODE_URL_MAX) and the words */
    if (n != NULL && ad_node_linked_elsewhere(n, why, sizeof(why))) {
        snprintf(err, errsz, "node %s: %s", name, why);
    } else {
        snprintf(err, errsz, "node %s is not connected", name);
    }
    json_decref(n);
}

bool ad_plane_agent_node_elsewhere(ad_plane_t *p, const char *agent_id, ad_store_plane_ref_t *to)
{
    ad_row_agent_t a;
    bool elsewhere = false;
    char id[AD_ID_MAX];
    bool here = false;
    const char *name = NULL;
    if (ad_store_agent_row(p->store, agent_id, &a) == 0) {
        name = json_string_value(json_object_get(a.state, "node"));
    }
    if (name != NULL && name[0] != '\0' &&
        ad_plane_find(p, a.org_id != NULL ? a.org_id : AD_ORG_DEFAULT, name, id, &here) == 0 &&
        !here) {
        json_t *n = ad_plane_node(p, id);
        const json_t *pl = json_object_get(n, "plane");
        const char *url = json_string_value(json_object_get(pl, "url"));
        if (json_is_false(json_object_get(pl, "here")) && url != NULL) {
            snprintf(to->id, sizeof(to->id), "%s", json_string_value(json_object_get(pl, "id")));
            snprintf(to->url, sizeof(to->url), "%s", url);
            elsewhere = true;
        }
        json_decref(n);
    }
    ad_row_agent_cleanup(&a);
    return elsewhere;
}

int ad_node_room(const json_t *node, char *why, size_t whysz)
{
    if (json_is_true(json_object_get(node, "cordoned"))) {
        snprintf(why, whysz, "it is %s",
                 json_is_true(json_object_get(node, "draining")) ? "draining" : "cordoned");
        return AD_ESTATE;
    }
    json_t *max = json_object_get(node, "maxRuns");
    json_int_t runs = json_integer_value(json_object_get(node, "runs"));
    if (json_is_integer(max) && runs >= json_integer_value(max)) {
        snprintf(why, whysz, "it runs %lld of %lld", (long long)runs,
                 (long long)json_integer_value(max));
        return AD_EBUSY;
    }
    return 0;
}

bool ad_node_fits(const json_t *node, const json_t *want, const char *cli, int gpus_busy,
                  bool *busy, char *why, size_t whysz)
{
    *busy = false;
    const json_t *labels = json_object_get(node, "labels");
    const json_t *caps = json_object_get(node, "caps");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(want, "labels"), k, v)
    {
        const char *have = json_string_value(json_object_get(labels, k));
        if (have == NULL || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0) {
            snprintf(why, whysz, "label %s is %s, wanted %s", k, have != NULL ? have : "unset",
                     json_string_value(v) != NULL ? json_string_value(v) : "?");
            return false;
        }
    }
    if (cli != NULL && json_object_get(json_object_get(caps, "clis"), cli) == NULL) {
        snprintf(why, whysz, "%s is not installed there", cli);
        return false;
    }
    int ngpu = (int)json_array_size(json_object_get(caps, "gpus"));
    if (json_is_true(json_object_get(want, "gpu")) && ngpu == 0) {
        snprintf(why, whysz, "it has no GPU");
        return false;
    }
    json_int_t want_mb = json_integer_value(json_object_get(want, "memoryMb"));
    json_int_t total = json_integer_value(json_object_get(caps, "memTotal"));
    if (want_mb > 0 && (double)total / MIB < (double)want_mb) {
        snprintf(why, whysz, "it has %.0f MiB of memory in all, wanted %lld MiB free",
                 (double)total / MIB, (long long)want_mb);
        return false;
    }
    /* It could run it: can it now? */
    const char *state = json_string_value(json_object_get(node, "state"));
    *busy = true;
    if (state == NULL || strcmp(state, "connected") != 0) {
        snprintf(why, whysz, "it is %s", state != NULL ? state : "not connected");
        return false;
    }
    if (ad_node_linked_elsewhere(node, why, whysz)) {
        return false;
    }
    if (ad_node_room(node, why, whysz) != 0) {
        return false; /* cordoned, draining, or as many runs as it may have */
    }
    if (json_is_true(json_object_get(want, "gpu")) && gpus_busy >= ngpu) {
        snprintf(why, whysz, "its %d GPU%s taken by other runs", ngpu, ngpu == 1 ? " is" : "s are");
        return false;
    }
    json_int_t avail = json_integer_value(json_object_get(caps, "memAvailable"));
    if (want_mb > 0 && (double)avail / MIB < (double)want_mb) {
        snprintf(why, whysz, "%.0f MiB of memory free, wanted %lld MiB", (double)avail / MIB,
                 (long long)want_mb);
        return false;
    }
    *busy = false;
    return true;
}

/* Runs on node id that asked for a GPU. */
static int gpu_runs(const ad_plane_t *p, const char *id)
{
    int n = 0;
    for (const ad_relay_t *r = p->relays; r != NULL; r = r->next) {
        n += r->gpu && r->pipe_open && strcmp(r->node_id, id) == 0;
    }
    return n;
}

/* Whether node has a mirror of workspace ws (its caps.repos). */
static bool has_repo(const json_t *node, const char *ws)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(node, "caps"), "repos"), i, v)
    {
        if (ws != NULL && json_is_string(v) && strcmp(json_string_value(v), ws) == 0) {
            return true;
        }
    }
    return false;
}

int ad_plane_place(ad_plane_t *p, const char *org, const json_t *want, const char *cli,
                   const char *ws, char id[AD_ID_MAX], json_t **reasons)
{
    *reasons = NULL;
    json_t *nodes = ad_plane_nodes(p, org);
    if (nodes == NULL) {
        return AD_EINTERNAL;
    }
    json_t *why = json_array();
    json_int_t best_runs = -1, best_free = -1;
    bool best_repo = false, any_could = false;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        if (json_object_get(n, "revokedAt") != NULL) {
            continue;
        }
        const char *nid = json_string_value(json_object_get(n, "id"));
        char text[200];
        bool busy = false;
        if (!ad_node_fits(n, want, cli, gpu_runs(p, nid), &busy, text, sizeof(text))) {
            any_could = any_could || busy;
            json_array_append_new(why, json_pack("{s:s, s:s, s:s}", "node",
                                                 json_string_value(json_object_get(n, "name")),
                                                 "id", nid, "why", text));
            continue;
        }
        json_int_t runs = json_integer_value(json_object_get(n, "runs"));
        json_int_t free_mem =
            json_integer_value(json_object_get(json_object_get(n, "caps"), "memAvailable"));
        bool repo = has_repo(n, ws);
        /* the repository there already (no fetch), then the fewest runs, then memory */
        bool better = best_runs < 0 || (repo && !best_repo) ||
                      (repo == best_repo &&
                       (runs < best_runs || (runs == best_runs && free_mem > best_free)));
        if (better) {
            best_runs = runs;
            best_free = free_mem;
            best_repo = repo;
            snprintf(id, AD_ID_MAX, "%s", nid);
        }
    }
    json_decref(nodes);
    if (best_runs >= 0) {
        json_decref(why);
        return 0;
    }
    *reasons = why;
    return any_could ? AD_ESTATE : AD_EINVAL;
}

int ad_plane_node_room(ad_plane_t *p, const char *id, char *why, size_t whysz)
{
    json_t *n = ad_plane_node(p, id);
    int rc = n != NULL ? ad_node_room(n, why, whysz) : AD_ENOENT;
    json_decref(n);
    return rc;
}

/* ---- the operator's settings (issue #77) ------------------------------------------------ */

typedef struct {
    ad_plane_t *p;
    ad_store_result_cb cb;
    void *ud;
    ad_store_node_set_t what; /* its flags, for the node's events (labels NULL) */
} set_t;

/* Stored: node_updated {node} on its organisation's topic (the Nodes
 * page), then the caller's answer. */
static void on_set(int rc, json_t *row, void *ud)
{
    set_t *c = ud;
    if (rc == 0) {
        ad_plane_event_set(c->p, row, &c->what);
        json_t *live = ad_plane_node(c->p, json_string_value(json_object_get(row, "id")));
        char topic[AD_ID_MAX + 8];
        snprintf(topic, sizeof(topic), "org:%s", json_string_value(json_object_get(row, "orgId")));
        const char *topics[] = {topic};
        if (live != NULL) {
            json_t *ev = json_pack("{s:O}", "node", live);
            ad_bus_publish(c->p->bus, "node_updated", topics, 1, ev);
            json_decref(ev);
            json_decref(row);
            row = live;
        }
        c->cb(rc, row, c->ud);
    } else {
        c->cb(rc, NULL, c->ud);
    }
    free(c);
}

void ad_plane_set(ad_plane_t *p, const char *id, const ad_store_node_set_t *set,
                  ad_store_result_cb cb, void *ud)
{
    set_t *c = ad_xcalloc(1, sizeof(*c));
    c->p = p;
    c->cb = cb;
    c->ud = ud;
    c->what = *set;
    c->what.labels = NULL;
    ad_store_node_set(p->store, id, set, on_set, c);
}

/* A label's name: 1 to 63 letters, digits, . _ - (as a node's own). */
static bool label_name_ok(const char *s)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 63;
    for (size_t i = 0; ok && i < n; i++) {
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || strchr("-_.", s[i]) != NULL;
    }
    return ok;
}

int ad_node_set_check(const json_t *body, ad_store_node_set_t *set, ad_field_err_t *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        if (strcmp(k, "cordoned") != 0 && strcmp(k, "maxRuns") != 0 && strcmp(k, "labels") != 0) {
            return ad_field_fail(e, k, "is not a node setting (cordoned, maxRuns, labels)");
        }
    }
    json_t *max = json_object_get(body, "maxRuns");
    set->max_runs = -1;
    if (ad_field_bool(body, "cordoned", &set->cordoned, &set->has_cordoned, e) != 0 ||
        (max != NULL && !json_is_null(max) &&
         ad_field_int(body, "maxRuns", false, 0, 100000, &set->max_runs, NULL, e) != 0)) {
        return AD_EINVAL;
    }
    set->has_max_runs = max != NULL;
    set->has_draining = set->has_cordoned && !set->cordoned; /* uncordoned: not draining */
    json_t *labels = json_object_get(body, "labels");
    set->has_labels = labels != NULL;
    if (labels == NULL || json_is_null(labels)) {
        return 0; /* null: the node's own again */
    }
    if (!json_is_object(labels) || json_object_size(labels) > 32) {
        return ad_field_fail(e, "labels", "must be an object of at most 32 strings, or null");
    }
    json_object_foreach(labels, k, v)
    {
        if (!label_name_ok(k) || !json_is_string(v) || json_string_length(v) > 128) {
            return ad_field_fail(e, "labels",
                                 "label %.64s: names are letters, digits, . _ -, values strings "
                                 "up to 128 bytes",
                                 k);
        }
    }
    set->labels = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    return 0;
}
