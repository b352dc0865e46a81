/* SPDX-License-Identifier: MIT */
/*
 * The control plane's nodes (docs/nodes.md): each node's link (one
 * WebSocket, opened by src/api/nodes.c for a node token), its hello (the
 * row joined in the store, name and token checked), renewals (the lease
 * and capabilities), reachability (a lease that lapsed: unreachable; past
 * the grace: its runs lost), revocation, and the checks on every message
 * a node sends. The runs on nodes are relay.c's, the run layer's calls for
 * them planeruns.c's. Nothing a node says
 * starts anything here.
 */
#include "node/node_int.h"

#include "cluster/cluster.h"
#include "hold/hold.h"
#include "tables/accounts.h"
#include "tables/nodes.h"
#include "tables/planes.h"
#include "tables/runs.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 250
#define LABELS_MAX 32
#define CAPS_TEXT_MAX 16384
#define HELLO_RUNS_MAX 10000

uint64_t ad_plane_lease_ms(const ad_plane_t *p)
{
    return p->cfg->node_lease_ms > 0 ? p->cfg->node_lease_ms : 6000;
}

/* ---- nodes ------------------------------------------------------------------------------ */

/* caps.dataDir into out when it is a plain absolute path (no "." or ".."
 * name, no control character); left as it was otherwise. */
static void note_data_dir(json_t *caps, char *out, size_t outsz)
{
    const char *d = json_string_value(json_object_get(caps, "dataDir"));
    size_t n = d != NULL ? strlen(d) : 0;
    if (n < 2 || n >= outsz || d[0] != '/' || strstr(d, "/./") != NULL ||
        strstr(d, "/../") != NULL || (n >= 3 && strcmp(d + n - 3, "/..") == 0)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f) {
            return;
        }
    }
    snprintf(out, outsz, "%s", d);
}

ad_node_live_t *ad_plane_node_live(ad_plane_t *p, const char *id)
{
    for (ad_node_live_t *n = p->nodes; n != NULL; n = n->next) {
        if (strcmp(n->id, id) == 0) {
            return n;
        }
    }
    json_t *row = NULL;
    if (ad_store_node_get(p->store, id, &row) != 0) {
        return NULL;
    }
    ad_node_live_t *n = ad_xcalloc(1, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->name, sizeof(n->name), "%s", json_string_value(json_object_get(row, "name")));
    snprintf(n->org, sizeof(n->org), "%s", json_string_value(json_object_get(row, "orgId")));
    snprintf(n->token_id, sizeof(n->token_id), "%s",
             json_string_value(json_object_get(row, "tokenId")));
    /* where its folders are, as it last said: a run taken up before the
     * node is back tells its agent the node's folder, not this plane's */
    note_data_dir(json_object_get(row, "caps"), n->data_dir, sizeof(n->data_dir));
    n->renewed_ms = ad_mono_ms(); /* a lease from now: it may come back */
    json_decref(row);
    n->next = p->nodes;
    p->nodes = n;
    return n;
}

static void publish_node(ad_plane_t *p, const ad_node_live_t *n, const char *state)
{
    char topic[AD_ID_MAX + 8];
    snprintf(topic, sizeof(topic), "org:%s", n->org);
    const char *topics[] = {topic};
    json_t *ev = json_pack("{s:s, s:s, s:s}", "nodeId", n->id, "name", n->name, "state", state);
    ad_bus_publish(p->bus, "node_status", topics, 1, ev);
    json_decref(ev);
}

int ad_plane_send_text(ad_node_live_t *n, json_t *msg)
{
    int rc = AD_ECLOSED;
    /* a message for one of its runs carries the run's lease epoch (issue
     * #77): the node refuses it from a plane that lost the run */
    const char *run = json_string_value(json_object_get(msg, "run"));
    ad_relay_t *r = run != NULL && n->link != NULL ? ad_relay_find(n->link->p, run) : NULL;
    if (r != NULL && strcmp(r->node_id, n->id) == 0 && json_object_get(msg, "lease") == NULL) {
        json_object_set_new(msg, "lease", json_integer(r->lease));
    }
    if (n->link != NULL && !n->link->closed) {
        char *t = json_dumps(msg, JSON_COMPACT);
        rc = t != NULL ? ad_ws_send_text(n->link->ws, t, strlen(t)) : AD_EINVAL;
        free(t);
    }
    json_decref(msg);
    return rc;
}

int ad_plane_send_frame(ad_node_live_t *n, const char *run, uint32_t epoch, uint32_t lease,
                        const unsigned char *frame, size_t flen)
{
    if (n->link == NULL || n->link->closed) {
        return AD_ECLOSED;
    }
    unsigned char hdr[AD_LINK_HDR_LEASE + AD_LINK_RUN_MAX];
    size_t hl = ad_link_header_lease(hdr, run, epoch, lease);
    if (hl == 0) {
        return AD_EINVAL;
    }
    unsigned char *d = ad_xmalloc(hl + flen);
    memcpy(d, hdr, hl);
    memcpy(d + hl, frame, flen);
    ad_wsmsg_t *m = ad_wsmsg_new(d, hl + flen, true);
    free(d);
    int rc = ad_ws_send_msg(n->link->ws, m);
    ad_wsmsg_unref(m);
    if (rc == AD_ETOOBIG) {
        /* A node that does not read is cut off; it comes back and resyncs. */
        ad_ws_close(n->link->ws, 1013, "link send queue full");
    }
    return rc;
}

void ad_plane_link_refuse(ad_plane_link_t *l, int code, const char *target, const char *fmt, ...)
{
    ad_store_audit_t row;
    memset(&row, 0, sizeof(row));
    row.ts = ad_wall_ms();
    snprintf(row.token_name, sizeof(row.token_name), "%s",
             l->node != NULL ? l->node->name : "node");
    snprintf(row.org_id, sizeof(row.org_id), "%s", l->org_id);
    snprintf(row.method, sizeof(row.method), "WS");
    snprintf(row.route, sizeof(row.route), "/api/nodes/link");
    snprintf(row.target_id, sizeof(row.target_id), "%s", target != NULL ? target : "");
    row.status = code;
    snprintf(row.remote, sizeof(row.remote), "node");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row.detail, sizeof(row.detail), fmt, ap);
    va_end(ap);
    ad_log(AD_LOG_WARN, "node", "link refused node=%s code=%d why=\"%s\"",
           l->node != NULL ? l->node->name : "?", code, row.detail);
    ad_store_audit_insert(l->p->store, &row);
    if (!l->closed) {
        ad_ws_close(l->ws, code, code == 4403 ? "forbidden" : "protocol error");
    }
}

/* ---- reachability ---------------------------------------------------------------------- */

static void set_reachable(ad_plane_t *p, ad_node_live_t *n, bool reachable)
{
    if (n->unreachable == !reachable) {
        return;
    }
    n->unreachable = !reachable;
    int64_t since = n->unreachable_since;
    if (!reachable) {
        n->unreachable_since = since = ad_wall_ms();
        ad_log(AD_LOG_WARN, "node", "node unreachable node=%s", n->name);
    } else {
        ad_log(AD_LOG_INFO, "node", "node reachable again node=%s away_ms=%lld", n->name,
               (long long)(ad_wall_ms() - since));
    }
    publish_node(p, n, reachable ? "connected" : "unreachable");
    for (ad_relay_t *r = p->relays; r != NULL; r = r->next) {
        if (strcmp(r->node_id, n->id) == 0 && r->pipe_open && p->hooks.reachable != NULL) {
            r->unreachable = !reachable;
            p->hooks.reachable(p->hooks.ud, r->run_id, reachable, since, n->name);
        }
    }
}

/* Lost: every live run of n, with why. */
static void lose_runs(ad_plane_t *p, ad_node_live_t *n, const char *why)
{
    for (ad_relay_t *r = p->relays; r != NULL; r = r->next) {
        if (strcmp(r->node_id, n->id) == 0) {
            ad_relay_lose(r, why);
        }
    }
}

/* The advertised URLs of the control planes heard from within a lease
 * (src/cluster/planes.c's rows, this one's included): a new array of at
 * most AD_NODE_JOIN_MAX distinct ones, in the order of the planes' ids,
 * or none when there is only one (a plane alone has nowhere to send its
 * nodes, and its default URL may well be one they would refuse). The node
 * judges them (planeurl.c); this only bounds what goes. */
static json_t *live_urls(ad_plane_t *p)
{
    json_t *rows = NULL, *urls = json_array();
    if (ad_store_planes_list(p->store, ad_wall_ms() - AD_PLANES_LEASE_MS, &rows) != 0) {
        return urls;
    }
    size_t i, j;
    json_t *row, *u;
    json_array_foreach(rows, i, row)
    {
        const char *url = json_string_value(json_object_get(row, "url"));
        bool dup = url == NULL || url[0] == '\0' || strlen(url) > AD_NODE_URL_MAX ||
                   json_array_size(urls) == AD_NODE_JOIN_MAX;
        json_array_foreach(urls, j, u)
        {
            dup = dup || strcmp(json_string_value(u), url) == 0;
        }
        if (!dup) {
            json_array_append_new(urls, json_string(url));
        }
    }
    json_decref(rows);
    if (json_array_size(urls) < 2) {
        json_array_clear(urls);
    }
    return urls;
}

/* The live planes read again: a set that changed goes to every linked
 * node (`planes`). */
static void planes_refresh(ad_plane_t *p, uint64_t now)
{
    p->plane_urls_ms = now;
    json_t *urls = live_urls(p);
    if (p->plane_urls != NULL && json_equal(urls, p->plane_urls)) {
        json_decref(urls);
        return;
    }
    json_decref(p->plane_urls);
    p->plane_urls = urls;
    for (ad_node_live_t *n = p->nodes; n != NULL; n = n->next) {
        ad_plane_send_text(n, json_pack("{s:s, s:O}", "t", "planes", "planes", urls));
    }
}

/* Every AD_PLANES_BEAT_MS while a node is linked. */
static void planes_tick(ad_plane_t *p, uint64_t now)
{
    bool linked = false;
    for (ad_node_live_t *n = p->nodes; n != NULL && !linked; n = n->next) {
        linked = n->link != NULL;
    }
    if (linked && now - p->plane_urls_ms >= AD_PLANES_BEAT_MS) {
        planes_refresh(p, now);
    }
}

static void on_tick(uv_timer_t *t)
{
    ad_plane_t *p = t->data;
    uint64_t now = ad_mono_ms();
    ad_plane_git_rpc_expire(p, false);
    ad_plane_probe_expire(p, false);
    ad_plane_fs_expire(p, false);
    ad_plane_sess_expire(p, false);
    ad_plane_ext_expire(p, false);
    ad_plane_term_expire(p, false);
    planes_tick(p, now);
    for (ad_node_live_t *n = p->nodes; n != NULL; n = n->next) {
        if (!n->unreachable && now - n->renewed_ms > ad_plane_lease_ms(p)) {
            set_reachable(p, n, false);
        }
        if (n->unreachable &&
            ad_wall_ms() - n->unreachable_since > (int64_t)p->cfg->node_grace_ms) {
            char why[160], at[AD_TIME_MAX];
            ad_time_format(n->unreachable_since, at);
            snprintf(why, sizeof(why), "node %s unreachable since %s", n->name, at);
            lose_runs(p, n, why);
        }
    }
}

/* ---- the link -------------------------------------------------------------------------- */

ad_plane_link_t *ad_plane_link_open(ad_plane_t *p, ad_ws_t *ws, const char *token_id,
                                    const char *org_id)
{
    ad_plane_link_t *l = ad_xcalloc(1, sizeof(*l));
    l->p = p;
    l->ws = ws;
    snprintf(l->token_id, sizeof(l->token_id), "%s", token_id);
    snprintf(l->org_id, sizeof(l->org_id), "%s", org_id);
    return l;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* Labels: at most LABELS_MAX, names as node names, values printable and
 * short. */
static bool labels_ok(json_t *labels)
{
    if (!json_is_object(labels) || json_object_size(labels) > LABELS_MAX) {
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (!name_ok(k) || !json_is_string(v) || json_string_length(v) > 128) {
            return false;
        }
        for (const char *c = json_string_value(v); *c; c++) {
            if ((unsigned char)*c < 0x20) {
                return false;
            }
        }
    }
    return true;
}

/* Whether run_id is under another control plane's lease, live or lapsed
 * (issue #39): a node that came over from a plane that died lists runs
 * this plane takes over once their lease lapses (src/cluster/planes.c);
 * ending them meanwhile would lose them. */
static bool leased_elsewhere(ad_plane_t *p, const char *run_id)
{
    char owner[AD_ID_MAX];
    int64_t exp = 0;
    if (p->cfg->plane_id[0] == '\0') {
        return false;
    }
    int rc = ad_store_run_lease(p->store, run_id, owner, &exp);
    if (rc == 0) {
        return strcmp(owner, p->cfg->plane_id) != 0;
    }
    /* no lease yet: a plane that stopped before its next heartbeat leased
     * a run it had just started (issue #77); running, it is the takeover's.
     * A store that cannot say (this plane cut off from it) ends nothing. */
    json_t *row = NULL;
    int got = rc == AD_ENOENT ? ad_store_run_get(p->store, run_id, &row) : rc;
    bool running = got != 0 && got != AD_ENOENT;
    running = running ||
              (got == 0 &&
               strcmp(json_string_value(json_object_get(row, "status")) ?: "", "running") == 0);
    json_decref(row);
    return running;
}

/* The runs a node says it holds: the ones with a relay here get an ATTACH,
 * relays of this node it does not list are lost (it has no holder for
 * them), and runs it lists that nothing here waits for are ended. */
static void sync_runs(ad_plane_link_t *l, json_t *runs, json_t *leases)
{
    ad_plane_t *p = l->p;
    ad_node_live_t *n = l->node;
    for (ad_relay_t *r = p->relays, *next; r != NULL; r = next) {
        next = r->next;
        if (strcmp(r->node_id, n->id) != 0 || !r->pipe_open) {
            continue;
        }
        bool listed = false;
        size_t i;
        json_t *v;
        json_array_foreach(runs, i, v)
        {
            listed = listed || (json_is_string(v) && strcmp(json_string_value(v), r->run_id) == 0);
        }
        if (listed && ad_plane_lease_behind(r, leases)) {
            continue; /* the node has seen a newer epoch: let go, or the sweep's to give */
        }
        if (!listed && r->spawn != NULL) {
            /* its spawn went out on a link that closed before the node read
             * it (the node would list it from the moment it did): again,
             * before the ATTACH that link_up sends */
            ad_log(AD_LOG_INFO, "node", "spawn sent again run=%s node=%s", r->run_id, n->name);
            ad_plane_send_text(n, json_incref(r->spawn));
            ad_relay_link_up(r);
        } else if (listed || !r->first_sent) {
            if (listed) { /* its "spawned" may have gone with the old link */
                json_decref(r->spawn);
                r->spawn = NULL;
            }
            ad_relay_link_up(r); /* (not sent yet: the spawn is on its way) */
        } else {
            ad_relay_lose(r, "the node has no holder for it (its data dir lost it)");
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(runs, i, v)
    {
        const char *id = json_string_value(v);
        ad_relay_t *r = id != NULL ? ad_relay_find(p, id) : NULL;
        int64_t lease = 0;
        if (id != NULL && (r == NULL || strcmp(r->node_id, n->id) != 0) &&
            !leased_elsewhere(p, id)) {
            /* under the run's last lease epoch, which outlives the lease:
             * a node that has seen a newer one keeps the run (a job's or a
             * service's held process has no run row, nor an epoch) */
            json_t *end = json_pack("{s:s, s:s}", "t", "end", "run", id);
            if (ad_store_run_epoch(p->store, id, &lease) == 0) {
                json_object_set_new(end, "lease", json_integer(lease));
            }
            ad_plane_send_text(n, end);
        }
    }
}

static void on_joined(int rc, json_t *row, void *ud)
{
    ad_plane_link_t *l = ud;
    ad_plane_t *p = l->p;
    l->joining = false;
    json_t *runs = l->hello_runs, *leases = l->hello_leases;
    l->hello_runs = NULL;
    l->hello_leases = NULL;
    if (l->closed) { /* the socket went while the row was written */
        json_decref(leases);
        json_decref(runs);
        json_decref(row);
        free(l);
        return;
    }
    const char *name = json_string_value(json_object_get(row, "name"));
    if (rc == AD_EEXIST || rc == AD_EPERM) {
        const char *why = rc == AD_EPERM ? "node revoked" : "node name or token taken";
        ad_plane_link_refuse(l, rc == AD_EPERM ? 4403 : 4409, NULL, "%s (node %s)", why,
                             name != NULL ? name : "?");
    } else if (rc != 0) {
        ad_ws_close(l->ws, 1011, "could not record the node");
    } else {
        const char *id = json_string_value(json_object_get(row, "id"));
        ad_node_live_t *n = ad_plane_node_live(p, id);
        uint64_t now = ad_mono_ms();
        if (n != NULL && (p->plane_urls == NULL || now - p->plane_urls_ms >= AD_PLANES_BEAT_MS)) {
            planes_refresh(p, now); /* what its welcome says is fresh */
        }
        if (n != NULL && n->link != NULL && n->link != l) {
            ad_ws_close(n->link->ws, AD_NODE_CLOSE_REPLACED,
                        "replaced by a new connection of the node");
            n->link->node = NULL;
            n->link = NULL;
        }
        if (n != NULL) {
            snprintf(n->name, sizeof(n->name), "%s", name);
            snprintf(n->token_id, sizeof(n->token_id), "%s", l->token_id);
            snprintf(n->data_dir, sizeof(n->data_dir), "%s", l->data_dir);
            n->link = l;
            n->renewed_ms = ad_mono_ms();
            l->node = n;
            ad_log(AD_LOG_INFO, "node", "node joined node=%s id=%s", n->name, n->id);
            ad_plane_event(p, n->id, n->org, "linked", NULL);
            /* the live planes' addresses: the node may dial them when this
             * plane goes (issue #39; the node's rules, planeurl.c) */
            ad_plane_send_text(n, json_pack("{s:s, s:s, s:I, s:I, s:O}", "t", "welcome", "nodeId",
                                            n->id, "leaseMs", (json_int_t)ad_plane_lease_ms(p),
                                            "renewMs", (json_int_t)(ad_plane_lease_ms(p) / 3),
                                            "planes", p->plane_urls));
            bool was = n->unreachable;
            set_reachable(p, n, true);
            if (!was) {
                publish_node(p, n, "connected");
            }
            sync_runs(l, runs, leases);
            ad_plane_move_if_elsewhere(l, runs);
        }
    }
    json_decref(leases);
    json_decref(runs);
    json_decref(row);
}

static void on_hello(ad_plane_link_t *l, json_t *msg)
{
    const char *name = json_string_value(json_object_get(msg, "name"));
    json_t *labels = json_object_get(msg, "labels");
    json_t *caps = json_object_get(msg, "caps");
    json_t *runs = json_object_get(msg, "runs");
    json_t *leases = json_object_get(msg, "leases");
    char *caps_text = json_is_object(caps) ? json_dumps(caps, JSON_COMPACT) : NULL;
    bool ok = name != NULL && name_ok(name) && (labels == NULL || labels_ok(labels)) &&
              (runs == NULL || (json_is_array(runs) && json_array_size(runs) <= HELLO_RUNS_MAX)) &&
              (leases == NULL ||
               (json_is_object(leases) && json_object_size(leases) <= HELLO_RUNS_MAX)) &&
              (caps == NULL || (caps_text != NULL && strlen(caps_text) <= CAPS_TEXT_MAX));
    if (!ok || l->joining || l->node != NULL) {
        free(caps_text);
        ad_plane_link_refuse(l, 4400, NULL, "a malformed or second hello");
        return;
    }
    char *labels_text = labels != NULL ? json_dumps(labels, JSON_COMPACT) : NULL;
    ad_store_node_join_t j = {.labels = labels_text, .caps = caps_text, .now = ad_wall_ms()};
    ad_id_new("nd", j.id);
    snprintf(j.org_id, sizeof(j.org_id), "%s", l->org_id);
    snprintf(j.name, sizeof(j.name), "%s", name);
    snprintf(j.token_id, sizeof(j.token_id), "%s", l->token_id);
    snprintf(j.plane_id, sizeof(j.plane_id), "%.40s", l->p->cfg->plane_id);
    l->joining = true;
    l->hello_runs = runs != NULL ? json_incref(runs) : json_array();
    l->hello_leases = leases != NULL ? json_incref(leases) : json_object();
    note_data_dir(caps, l->data_dir, sizeof(l->data_dir));
    ad_store_node_join(l->p->store, &j, on_joined, l);
    free(labels_text);
    free(caps_text);
}

static void on_renew(ad_plane_link_t *l, json_t *msg)
{
    ad_node_live_t *n = l->node;
    json_t *caps = json_object_get(msg, "caps");
    char *caps_text = json_is_object(caps) ? json_dumps(caps, JSON_COMPACT) : NULL;
    if (caps_text != NULL && strlen(caps_text) > CAPS_TEXT_MAX) {
        free(caps_text);
        ad_plane_link_refuse(l, 4400, NULL, "capabilities past %d bytes", CAPS_TEXT_MAX);
        return;
    }
    n->renewed_ms = ad_mono_ms();
    note_data_dir(caps, n->data_dir, sizeof(n->data_dir));
    set_reachable(l->p, n, true);
    ad_store_node_seen(l->p->store, n->id, l->p->cfg->plane_id, caps_text, ad_wall_ms());
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(msg, "runs"), i, f)
    {
        /* its own runs' figures, kept for /api/health; another's are ignored */
        ad_relay_t *r = ad_relay_find(l->p, json_string_value(json_object_get(f, "run")) ?: "");
        if (r != NULL && strcmp(r->node_id, n->id) == 0 && json_is_object(f) &&
            json_object_size(f) <= 8) {
            json_int_t pid = json_integer_value(json_object_get(f, "pid"));
            if (r->pid <= 0 && pid > 0 && pid <= (1 << 22)) {
                r->pid = (long)
                    pid; /* a run taken up after a restart: "spawned" went to the last plane */
            }
            json_decref(r->figures);
            r->figures = json_pack(
                "{s:O, s:O, s:O, s:O}", "cpuPercent", json_object_get(f, "cpuPercent"), "rssBytes",
                json_object_get(f, "rssBytes"), "gpuMemoryBytes",
                json_object_get(f, "gpuMemoryBytes"), "processes", json_object_get(f, "processes"));
        }
    }
    free(caps_text);
    ad_plane_send_text(
        n, json_pack("{s:s, s:I}", "t", "lease", "ms", (json_int_t)ad_plane_lease_ms(l->p)));
}

/* A node's word about one of its runs: only its own. */
static ad_relay_t *own_run(ad_plane_link_t *l, const char *run)
{
    ad_relay_t *r = run != NULL ? ad_relay_find(l->p, run) : NULL;
    if (r != NULL && strcmp(r->node_id, l->node->id) == 0) {
        return r;
    }
    bool mine = false;
    for (size_t i = 0; run != NULL && i < AD_ARRAY_LEN(l->p->done); i++) {
        mine = mine || (strcmp(l->p->done[i].id, run) == 0 &&
                        strcmp(l->p->done[i].node_id, l->node->id) == 0);
    }
    json_t *row = NULL;
    mine =
        mine || (run != NULL && ad_store_run_get(l->p->store, run, &row) == 0 &&
                 strcmp(json_string_value(json_object_get(row, "nodeId")) ?: "", l->node->id) == 0);
    json_decref(row);
    if (!mine) { /* another node's run, or none at all: cut off */
        ad_plane_link_refuse(l, 4403, run, "node %s spoke for run %s, not one of its runs",
                             l->node->name, run != NULL ? run : "(none)");
    }
    return NULL; /* one of its runs that has ended here: late, dropped */
}

static void on_text(ad_plane_link_t *l, const char *data, size_t len)
{
    json_t *msg = json_loadb(data, len, 0, NULL);
    const char *t = json_string_value(json_object_get(msg, "t"));
    if (t == NULL) {
        json_decref(msg);
        ad_plane_link_refuse(l, 4400, NULL, "a text message that is not a control message");
        return;
    }
    if (strcmp(t, "hello") == 0) {
        on_hello(l, msg);
    } else if (l->node == NULL) {
        if (!l->joining) {
            ad_plane_link_refuse(l, 4400, NULL, "%s before hello", t);
        }
    } else if (strcmp(t, "renew") == 0) {
        on_renew(l, msg);
    } else if (strcmp(t, "git_get") == 0 || strcmp(t, "git_put") == 0) {
        ad_relay_t *r = own_run(l, json_string_value(json_object_get(msg, "run")));
        if (r != NULL && t[4] == 'g') {
            ad_plane_git_get(l->p, l->node, r, msg);
        } else if (r != NULL) {
            ad_plane_git_put(l->p, l->node, r, msg);
        }
    } else if (strcmp(t, "git_setup") == 0) {
        ad_relay_t *r = own_run(l, json_string_value(json_object_get(msg, "run")));
        if (r != NULL) {
            ad_plane_git_setup(l->p, r, msg);
        }
    } else if (strcmp(t, "git_rpc_done") == 0) {
        ad_plane_git_rpc_done(l->p, l->node, msg);
    } else if (strcmp(t, "probe_done") == 0) {
        ad_plane_probe_done(l->p, l->node, msg);
    } else if (strcmp(t, "fs_done") == 0) {
        ad_plane_fs_done(l->p, l->node, msg);
    } else if (strcmp(t, "session_done") == 0) {
        ad_plane_sess_done(l->p, l->node, msg);
    } else if (strcmp(t, "ext_sessions_done") == 0) {
        ad_plane_ext_done(l->p, l->node, msg);
    } else if (strcmp(t, "term_done") == 0) {
        ad_plane_term_done(l->p, l->node, msg);
    } else if (strcmp(t, "reattach") == 0) {
        ad_relay_t *r = own_run(l, json_string_value(json_object_get(msg, "run")));
        if (r != NULL) {
            ad_relay_reattach(r);
        }
    } else if (strcmp(t, "spawn_failed") == 0 || strcmp(t, "lost") == 0) {
        const char *run = json_string_value(json_object_get(msg, "run"));
        const char *err = json_string_value(json_object_get(msg, "error"));
        ad_relay_t *r = own_run(l, run);
        if (r != NULL) {
            json_decref(r->spawn); /* answered: never sent again */
            r->spawn = NULL;
        }
        if (r != NULL && t[0] == 's') {
            ad_relay_spawn_failed(r, err != NULL ? err : "unknown error");
        } else if (r != NULL) {
            ad_relay_lose(r, "the node has no holder for it");
        }
    } else if (strcmp(t, "fenced") == 0) {
        /* the node refused a message of ours: another plane owns the run */
        ad_relay_t *r = own_run(l, json_string_value(json_object_get(msg, "run")));
        if (r != NULL) {
            ad_plane_fenced(r, json_integer_value(json_object_get(msg, "lease")));
        }
    } else if (strcmp(t, "spawned") == 0) {
        ad_relay_t *r = own_run(l, json_string_value(json_object_get(msg, "run")));
        json_int_t pid = json_integer_value(json_object_get(msg, "pid"));
        if (r != NULL) {
            json_decref(r->spawn); /* the node holds it: a hello lists it from now */
            r->spawn = NULL;
        }
        if (r != NULL && pid > 0 && pid <= (1 << 22)) {
            r->pid = (long)pid; /* shown, never acted on */
        }
    } /* unknown types: nothing to do (newer nodes may say more) */
    json_decref(msg);
}

void ad_plane_link_message(ad_plane_link_t *l, const char *data, size_t len, bool binary)
{
    if (l->closed) {
        return;
    }
    if (!binary) {
        on_text(l, data, len);
        return;
    }
    char run[AD_LINK_RUN_MAX + 1];
    uint32_t epoch;
    const unsigned char *f;
    size_t flen;
    if (l->node == NULL ||
        ad_link_parse((const unsigned char *)data, len, run, &epoch, &f, &flen) != 0 ||
        !ad_link_frame_up_ok(f[4], flen - AD_HOLD_HDR)) {
        ad_plane_link_refuse(l, 4400, NULL, "a malformed frame, or one before hello");
        return;
    }
    ad_relay_t *r = own_run(l, run);
    if (r != NULL) {
        ad_relay_from_node(r, epoch, f, flen);
    }
}

void ad_plane_link_closed(ad_plane_link_t *l, int code)
{
    l->closed = true;
    ad_node_live_t *n = l->node;
    if (n != NULL && n->link == l) {
        n->link = NULL;
        ad_log(AD_LOG_INFO, "node", "node link closed node=%s", n->name);
        ad_plane_event(l->p, n->id, n->org, "unlinked",
                       json_pack("{s:s, s:i}", "reason", ad_plane_close_why(code), "code", code));
        for (ad_relay_t *r = l->p->relays; r != NULL; r = r->next) {
            if (strcmp(r->node_id, n->id) == 0) {
                ad_relay_link_down(r);
            }
        }
    }
    if (!l->joining) {
        json_decref(l->hello_runs);
        json_decref(l->hello_leases);
        free(l);
    } /* else on_joined frees it */
}

/* ---- the API's calls ---------------------------------------------------------------------- */

typedef struct {
    ad_plane_t *p;
    ad_store_result_cb cb;
    void *ud;
    void (*revoke_token)(void *, const char *);
    void *rt_ud;
} revoke_ctx_t;

static void on_revoked(int rc, json_t *row, void *ud)
{
    revoke_ctx_t *c = ud;
    if (rc == 0) {
        const char *id = json_string_value(json_object_get(row, "id"));
        const char *tok = json_string_value(json_object_get(row, "tokenId"));
        ad_node_live_t *n = ad_plane_node_live(c->p, id);
        if (tok != NULL && c->revoke_token != NULL) {
            c->revoke_token(c->rt_ud, tok);
        }
        if (n != NULL) {
            char why[128];
            snprintf(why, sizeof(why), "node %s revoked", n->name);
            lose_runs(c->p, n, why);
            if (n->link != NULL) {
                ad_ws_close(n->link->ws, 4403, "node revoked");
            }
            publish_node(c->p, n, "revoked");
            ad_plane_event(c->p, n->id, n->org, "revoked", NULL);
            ad_log(AD_LOG_INFO, "node", "node revoked node=%s", n->name);
        }
        row = ad_plane_node_row(c->p, row);
    }
    c->cb(rc, row, c->ud);
    free(c);
}

void ad_plane_revoke(ad_plane_t *p, const char *id, void (*revoke_token)(void *, const char *),
                     void *ud, ad_store_result_cb cb, void *ud2)
{
    revoke_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->p = p;
    c->cb = cb;
    c->ud = ud2;
    c->revoke_token = revoke_token;
    c->rt_ud = ud;
    ad_store_node_revoke(p->store, id, ad_wall_ms(), on_revoked, c);
}

void ad_plane_stats(const ad_plane_t *p, uint64_t *resent_bytes, uint64_t *stale_frames)
{
    *resent_bytes = p != NULL ? p->resent_bytes : 0;
    *stale_frames = p != NULL ? p->stale_frames : 0;
}

int ad_plane_prom(const ad_plane_t *p, ad_buf_t *b)
{
    double connected = 0, unreachable = 0, runs = 0;
    for (const ad_node_live_t *n = p != NULL ? p->nodes : NULL; n != NULL; n = n->next) {
        connected += n->link != NULL;
        unreachable += n->unreachable;
    }
    for (const ad_relay_t *r = p != NULL ? p->relays : NULL; r != NULL; r = r->next) {
        runs += r->pipe_open;
    }
    uint64_t resent = 0, stale = 0;
    ad_plane_stats(p, &resent, &stale);
    int rc =
        ad_prom_gauge(b, "agentd_nodes_connected", "Worker nodes with their link up", connected);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_nodes_unreachable", "Worker nodes past their lease",
                            unreachable);
    rc = rc ? rc : ad_prom_gauge(b, "agentd_node_runs", "Runs on worker nodes", runs);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_node_resent_bytes_total",
                              "Output bytes a node sent again that the control plane had",
                              (double)resent);
    return rc ? rc
              : ad_prom_counter(b, "agentd_node_stale_frames_total",
                                "Frames of an earlier attach dropped (sent before a reattach)",
                                (double)stale);
}

/* ---- life cycle ---------------------------------------------------------------------------- */

ad_plane_t *ad_plane_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus)
{
    ad_plane_t *p = ad_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
    p->store = store;
    p->bus = bus;
    uv_timer_init(loop, &p->tick);
    p->tick.data = p;
    uv_timer_start(&p->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&p->tick);
    return p;
}

void ad_plane_set_hooks(ad_plane_t *p, const ad_plane_hooks_t *h)
{
    p->hooks = *h;
}

static void on_tick_closed(uv_handle_t *h)
{
    ad_plane_t *p = h->data;
    for (ad_node_live_t *n = p->nodes, *next; n != NULL; n = next) {
        next = n->next;
        free(n);
    }
    free(p);
}

void ad_plane_free(ad_plane_t *p)
{
    if (p == NULL) {
        return;
    }
    while (p->relays != NULL) {
        ad_relay_free(p->relays);
    }
    ad_plane_git_rpc_expire(p, true);
    ad_plane_probe_expire(p, true);
    ad_plane_fs_expire(p, true);
    ad_plane_sess_expire(p, true);
    ad_plane_ext_expire(p, true);
    ad_plane_term_expire(p, true);
    for (ad_node_live_t *n = p->nodes; n != NULL; n = n->next) {
        if (n->link != NULL) {
            n->link->node = NULL;
        }
    }
    json_decref(p->plane_urls);
    p->plane_urls = NULL;
    uv_close((uv_handle_t *)&p->tick, on_tick_closed);
}

bool ad_plane_agent_cwd(ad_plane_t *p, const char *node_id, const char *wt_id, const char *agent_id,
                        char *out, size_t outsz)
{
    ad_node_live_t *n = ad_plane_node_live(p, node_id);
    if (n == NULL || n->data_dir[0] == '\0' || agent_id == NULL) {
        return false;
    }
    /* as the node makes them (worker.c on_spawn, nodegit.c) */
    int k = wt_id != NULL && wt_id[0] != '\0'
                ? snprintf(out, outsz, "%s/worktrees/%s", n->data_dir, wt_id)
                : snprintf(out, outsz, "%s/work/%s", n->data_dir, agent_id);
    return k > 0 && (size_t)k < outsz;
}
