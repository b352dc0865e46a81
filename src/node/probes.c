/* SPDX-License-Identifier: MIT */
/*
 * A service's probe asked of the node it runs on (docs/nodes.md, *Services
 * on nodes*): a tcp, unix or http probe connects from where the service
 * is, never from the control plane. The plane sends {t: probe, id, run,
 * probe} for a run on that node and waits for {t: probe_done, id, ok,
 * latencyMs, error}; only the node asked may answer (another's answer is
 * dropped and logged), and a node that goes away or does not answer in
 * the probe's time (and a margin for the link) is a failed probe. The
 * node's side is worker.c's (it runs src/health's probe). Loop thread.
 */
#include "node/node_int.h"

#include <stdlib.h>
#include <string.h>

#define PROBE_MARGIN_MS 5000
#define PROBE_DEFAULT_MS 2000

static void probe_fail(ad_probe_rpc_t *q, const char *why)
{
    q->cb(false, (double)(ad_mono_ms() - q->started_ms), why, q->ud);
    free(q);
}

int ad_plane_probe(ad_plane_t *p, const char *run_id, json_t *probe, ad_probe_cb cb, void *ud)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    ad_node_live_t *n = r != NULL ? ad_plane_node_live(p, r->node_id) : NULL;
    ad_probe_rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->cb = cb;
    q->ud = ud;
    q->started_ms = ad_mono_ms();
    if (n == NULL || n->link == NULL || n->unreachable) {
        probe_fail(q, "its node is not connected now");
        return 0;
    }
    json_t *to = json_object_get(probe, "timeoutMs");
    ad_node_ask_add(p, &p->probes, &q->ask, n->id,
                    PROBE_MARGIN_MS + (json_is_integer(to) ? (uint64_t)json_integer_value(to)
                                                           : PROBE_DEFAULT_MS));
    ad_plane_send_text(n, json_pack("{s:s, s:I, s:s, s:O}", "t", "probe", "id",
                                    (json_int_t)q->ask.id, "run", run_id, "probe", probe));
    return 0;
}

void ad_plane_probe_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg)
{
    ad_probe_rpc_t *q =
        (ad_probe_rpc_t *)ad_node_ask_take(&p->probes, json_object_get(msg, "id"), n->id);
    if (q == NULL) {
        ad_log(AD_LOG_WARN, "node", "probe answer ignored node=%s id=%lld (not one asked of it)",
               n->name, (long long)json_integer_value(json_object_get(msg, "id")));
        return;
    }
    json_t *ms = json_object_get(msg, "latencyMs");
    char why[160];
    snprintf(why, sizeof(why), "%s",
             json_string_value(json_object_get(msg, "error")) ?: "failed on the node");
    bool ok = json_is_true(json_object_get(msg, "ok"));
    double lat = json_is_number(ms) && json_number_value(ms) >= 0 ? json_number_value(ms) : 0;
    q->cb(ok, lat, ok ? NULL : why, q->ud);
    free(q);
}

void ad_plane_probe_expire(ad_plane_t *p, bool all)
{
    bool gone;
    ad_probe_rpc_t *q;
    while ((q = (ad_probe_rpc_t *)ad_node_ask_expired(p, &p->probes, all, &gone)) != NULL) {
        probe_fail(q, gone ? "its node went away before it answered"
                           : "its node did not answer in time");
    }
}

/* ---- the node's side ------------------------------------------------------------------ */

typedef struct {
    worker_t *w;
    json_int_t id;
} wprobe_t;

static void on_probed(bool ok, double ms, const char *error, void *ud)
{
    wprobe_t *x = ud;
    ad_worker_send(x->w, json_pack("{s:s, s:I, s:b, s:f, s:s?}", "t", "probe_done", "id", x->id,
                                   "ok", ok, "latencyMs", ms, "error", error));
    free(x);
}

void ad_worker_probe(worker_t *w, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *run = json_string_value(json_object_get(msg, "run"));
    json_t *probe = json_object_get(msg, "probe");
    const char *type = json_string_value(json_object_get(probe, "type"));
    if (!json_is_integer(id)) {
        return;
    }
    wprobe_t *x = ad_xcalloc(1, sizeof(*x));
    x->w = w;
    x->id = json_integer_value(id);
    /* only for a run of its own, and never a command: the plane runs those
     * as runs, in the service's sandbox */
    if (run == NULL || ad_worker_run_find(w, run) == NULL || type == NULL ||
        strcmp(type, "command") == 0) {
        on_probed(false, 0, "not a probe of a service on this node", x);
        return;
    }
    ad_probe_run(w->loop, NULL, probe, false, on_probed, x);
}
