/* SPDX-License-Identifier: MIT */
/*
 * Fencing on the control plane's side (issue #77, docs/nodes.md "The
 * failure model"). Every run has one owner at a time: the plane whose lease
 * holds it, with the lease's epoch (runs.lease_epoch, migration 3060: 1 from
 * the run's start, one more at every takeover). A relay sends its run's
 * epoch with every message to the node, and the node refuses one lower
 * than it has seen. This plane finds out it lost a run three ways: its
 * heartbeat finds another plane's live lease on it (ad_plane_run_lease_lost),
 * the node's hello says it saw a higher epoch, or the node answers `fenced`
 * to a message. Each time the run is let go here without being ended (it
 * goes on under its owner), but in the last two only while that owner's
 * lease is live (owned_elsewhere, below): the run layer is told first (hooks.dropped, so
 * nothing of an end is written or published), the relay goes without a word
 * to the node, and the node is sent to the owner when nothing else of this
 * plane runs on it. Loop thread.
 */
#include "node/node_int.h"
#include "tables/planes.h"

#include <string.h>

uint32_t ad_plane_lease_stored(ad_plane_t *p, const char *run_id)
{
    int64_t epoch = 0;
    if (ad_store_run_epoch(p->store, run_id, &epoch) != 0 || epoch < 1) {
        return 1;
    }
    return epoch > UINT32_MAX ? UINT32_MAX : (uint32_t)epoch;
}

/* r's run is another plane's: let go here, as said above. */
static void let_go(ad_relay_t *r, const char *how, json_int_t seen)
{
    ad_plane_t *p = r->p;
    char node_id[AD_ID_MAX], run_id[AD_ID_MAX];
    snprintf(node_id, sizeof(node_id), "%s", r->node_id);
    snprintf(run_id, sizeof(run_id), "%s", r->run_id);
    ad_log(AD_LOG_WARN, "node",
           "run owned by another control plane now, let go here run=%s node=%s how=%s "
           "lease=%u seen=%lld",
           run_id, node_id, how, r->lease, (long long)seen);
    ad_plane_event(p, node_id, NULL, "run_lease_lost",
                   json_pack("{s:s, s:s, s:I, s:I}", "runId", run_id, "how", how, "lease",
                             (json_int_t)r->lease, "seen", seen));
    if (p->hooks.dropped != NULL) {
        p->hooks.dropped(p->hooks.ud, run_id);
    }
    ad_relay_free(r); /* the socket pair closes: held.c lets the run go */
    json_t *runs = json_pack("[s]", run_id);
    ad_plane_move_after_loss(p, node_id, runs);
    json_decref(runs);
}

/* The node has seen epoch seen of r's run, above r's: whether this plane
 * took the run back since (its own lease, under an epoch at least that),
 * r then carrying the stored epoch on. Else the run is another plane's. */
static bool taken_back(ad_relay_t *r, json_int_t seen)
{
    ad_plane_t *p = r->p;
    char owner[AD_ID_MAX];
    int64_t expires = 0;
    uint32_t stored = ad_plane_lease_stored(p, r->run_id);
    if ((json_int_t)stored < seen ||
        ad_store_run_lease(p->store, r->run_id, owner, &expires) != 0 ||
        strcmp(owner, p->cfg->plane_id) != 0) {
        return false;
    }
    ad_log(AD_LOG_INFO, "node", "run taken back by this plane, new lease epoch run=%s lease=%u",
           r->run_id, stored);
    r->lease = stored;
    r->lease_wait = 0;
    return true;
}

/* Whether r's run is under another plane's live lease, as the store says
 * now. Only then is it let go. A lapsed lease (its plane dead or frozen,
 * nobody's since) is the next sweep's to give: this plane's takes it and
 * attaches r under the new epoch (ad_plane_run_lease_refresh), or another
 * plane's does and this plane's heartbeat finds the lease lost. Nor does a
 * store that cannot say end anything here. A node's hello reached a plane
 * back from a freeze before its own sweep had taken the run back: letting
 * go then dropped a run the sweep gave this plane a moment later. */
static bool owned_elsewhere(ad_relay_t *r, json_int_t seen)
{
    ad_plane_t *p = r->p;
    char owner[AD_ID_MAX];
    int64_t expires = 0;
    if (ad_store_run_lease(p->store, r->run_id, owner, &expires) == 0 &&
        strcmp(owner, p->cfg->plane_id) != 0 && expires >= ad_wall_ms()) {
        return true;
    }
    ad_log(AD_LOG_INFO, "node",
           "run's lease not live elsewhere, left to the next sweep run=%s node=%s lease=%u "
           "seen=%lld",
           r->run_id, r->node_id, r->lease, (long long)seen);
    r->lease_wait = seen > UINT32_MAX ? UINT32_MAX : (uint32_t)seen;
    return false;
}

bool ad_plane_lease_behind(ad_relay_t *r, json_t *leases)
{
    json_t *v = json_object_get(leases, r->run_id);
    json_int_t seen = json_is_integer(v) ? json_integer_value(v) : 0;
    if (seen <= (json_int_t)r->lease || taken_back(r, seen)) {
        return false; /* (attached by the caller, under r's epoch) */
    }
    if (seen > (json_int_t)r->lease_wait && owned_elsewhere(r, seen)) {
        let_go(r, "hello", seen);
    }
    return true; /* not attached under an epoch the node refuses */
}

void ad_plane_fenced(ad_relay_t *r, json_int_t lease)
{
    if (lease <= (json_int_t)r->lease || lease <= (json_int_t)r->lease_wait) {
        return; /* not newer than ours (a confused node), or waiting for the sweep */
    }
    if (taken_back(r, lease)) {
        ad_relay_link_up(r); /* attached again under the stored epoch */
        return;
    }
    if (owned_elsewhere(r, lease)) {
        let_go(r, "fenced", lease);
    }
}

void ad_plane_run_lease_lost(ad_plane_t *p, const char *run_id)
{
    ad_relay_t *r = p != NULL && run_id != NULL ? ad_relay_find(p, run_id) : NULL;
    if (r != NULL) {
        let_go(r, "heartbeat", (json_int_t)ad_plane_lease_stored(p, run_id));
    }
}

bool ad_plane_run_lease_newer(ad_plane_t *p, const char *run_id)
{
    ad_relay_t *r = p != NULL && run_id != NULL ? ad_relay_find(p, run_id) : NULL;
    return r != NULL && ad_plane_lease_stored(p, run_id) > r->lease;
}

void ad_plane_run_lease_refresh(ad_plane_t *p, const char *run_id, uint64_t out_off,
                                uint64_t err_off)
{
    ad_relay_t *r = p != NULL && run_id != NULL ? ad_relay_find(p, run_id) : NULL;
    if (r == NULL) {
        return;
    }
    uint32_t now = ad_plane_lease_stored(p, run_id);
    if (now <= r->lease) {
        return;
    }
    ad_log(AD_LOG_INFO, "node",
           "run taken over again, new lease epoch run=%s lease=%u out=%llu err=%llu", run_id, now,
           (unsigned long long)out_off, (unsigned long long)err_off);
    r->lease = now;
    r->lease_wait = 0;
    /* The other plane stored up to there: the node sends from it, as to a
     * plane that takes a run over fresh (start.c's ad_run_attach_remote). */
    if (r->have_pos) {
        r->pos[0] = out_off > r->pos[0] ? out_off : r->pos[0];
        r->pos[1] = err_off > r->pos[1] ? err_off : r->pos[1];
    }
    ad_relay_link_up(r); /* attached again under it */
}
