/* SPDX-License-Identifier: MIT */
/*
 * A node that came to the wrong control plane (issue #77): restarted after
 * a failover, it dials its --join plane, but the runs it holds are under
 * the lease of the plane that took them over. Left there its output would
 * stop with nothing said on either side and, past the grace, the owner
 * would end them lost. So when every run the hello lists that this plane
 * does not run is under one other live plane's lease, and none is this
 * plane's, the node is told to move (`moved` {url}: that plane's address
 * from the planes table) and dials it; the node judges the URL by its own
 * rules (planeurl.c). Loop thread.
 */
#include "node/node_int.h"
#include "cluster/cluster.h"
#include "tables/planes.h"

#include <string.h>

/* The URL of plane id among the live planes, into out: true when found. */
static bool plane_url(ad_plane_t *p, const char *id, char *out, size_t outsz)
{
    json_t *rows = NULL;
    if (ad_store_planes_list(p->store, ad_wall_ms() - AD_PLANES_LEASE_MS, &rows) != 0) {
        return false;
    }
    bool found = false;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *url = json_string_value(json_object_get(row, "url"));
        if (!found && url != NULL && url[0] != '\0' && strlen(url) < outsz &&
            strcmp(json_string_value(json_object_get(row, "id")) ?: "", id) == 0) {
            snprintf(out, outsz, "%s", url);
            found = true;
        }
    }
    json_decref(rows);
    return found;
}

/* n (linked here) told to dial the plane whose live lease holds every run
 * of runs, when one plane does and none is this plane's. */
static void move_node(ad_plane_t *p, ad_node_live_t *n, const json_t *runs)
{
    if (p->cfg->plane_id[0] == '\0' || json_array_size(runs) == 0 || n == NULL || n->link == NULL) {
        return;
    }
    char owner[AD_ID_MAX] = "";
    int64_t now = ad_wall_ms();
    size_t i;
    json_t *v;
    json_array_foreach(runs, i, v)
    {
        const char *id = json_string_value(v);
        char who[AD_ID_MAX];
        int64_t exp = 0;
        if (id == NULL || ad_relay_find(p, id) != NULL) {
            return; /* one of its runs is this plane's: it stays */
        }
        if (ad_store_run_lease(p->store, id, who, &exp) != 0 || exp <= now ||
            strcmp(who, p->cfg->plane_id) == 0) {
            continue; /* no live lease elsewhere: this plane's to judge (sync_runs) */
        }
        if (owner[0] != '\0' && strcmp(owner, who) != 0) {
            ad_log(AD_LOG_WARN, "node",
                   "node holds runs of two other planes, staying node=%s planes=%s,%s", n->name,
                   owner, who);
            return;
        }
        snprintf(owner, sizeof(owner), "%s", who);
    }
    char url[AD_NODE_URL_MAX + 1];
    if (owner[0] == '\0') {
        return;
    }
    if (!plane_url(p, owner, url, sizeof(url))) {
        ad_log(AD_LOG_WARN, "node",
               "node holds runs of plane %s, whose address is not known "
               "node=%s",
               owner, n->name);
        return;
    }
    ad_log(AD_LOG_INFO, "node", "node sent to the plane that owns its runs node=%s plane=%s url=%s",
           n->name, owner, url);
    ad_plane_send_text(n, json_pack("{s:s, s:s, s:s}", "t", "moved", "plane", owner, "url", url));
    ad_plane_event(p, n->id, n->org, "moved", json_pack("{s:s, s:s}", "to", owner, "url", url));
}

void ad_plane_move_if_elsewhere(ad_plane_link_t *l, const json_t *runs)
{
    move_node(l->p, l->node, runs);
}

void ad_plane_move_after_loss(ad_plane_t *p, const char *node_id, const json_t *runs)
{
    for (ad_relay_t *r = p->relays; r != NULL; r = r->next) {
        if (strcmp(r->node_id, node_id) == 0) {
            return; /* another run of this plane is on it: it stays */
        }
    }
    ad_node_live_t *n = ad_plane_node_live(p, node_id);
    move_node(p, n, runs);
}
