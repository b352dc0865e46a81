/* SPDX-License-Identifier: MIT */
/*
 * A service's probe: every probe.intervalMs while its process runs, where
 * it runs (here through src/health's probes; on its worker node a command
 * probe as one more run there, a connect by the node itself); its health
 * and latency kept, published when its health changes. Loop thread.
 */
#include "svc/svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_DEFAULT_MS 5000

static void on_probed(bool ok, double ms, const char *error, void *ud)
{
    service_t *s = ud;
    s->probing = false;
    if (s->removed) {
        ad_svc_free_maybe(s); /* it waited for this probe */
        return;
    }
    const char *was = s->health;
    s->health = ok ? "healthy" : "unhealthy";
    s->latency_ms = ms;
    s->checked_at = ad_wall_ms();
    snprintf(s->probe_error, sizeof(s->probe_error), "%s", error != NULL ? error : "");
    if (was != s->health) {
        ad_svc_publish(s);
    }
}

/* ---- a command probe on the service's node ---- */

typedef struct {
    ad_services_t *ss;
    char run_id[AD_ID_MAX];
    ad_proc_t *proc;
    uv_timer_t timer;
    uint64_t t0;
    bool reported;
    ad_probe_cb cb;
    void *ud;
} rprobe_t;

static void rprobe_closed(uv_handle_t *h)
{
    free(h->data);
}

static void rprobe_report(rprobe_t *rp, bool ok, const char *error)
{
    if (!rp->reported) {
        rp->reported = true;
        rp->cb(ok, (double)(uv_now(rp->ss->loop) - rp->t0), error, rp->ud);
    }
}

static void rprobe_exit(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(p);
    rprobe_t *rp = ud;
    char why[160];
    snprintf(why, sizeof(why), "%s",
             ex->start_error != NULL ? ex->start_error : "the probe command failed on the node");
    if (ex->exit_code > 0) {
        snprintf(why, sizeof(why), "the probe command exited %d on the node", ex->exit_code);
    }
    rp->proc = NULL;
    ad_plane_run_done(rp->ss->plane, rp->run_id);
    rprobe_report(rp, ex->exit_code == 0, ex->exit_code == 0 ? NULL : why);
    uv_close((uv_handle_t *)&rp->timer, rprobe_closed);
}

static void rprobe_timeout(uv_timer_t *t)
{
    rprobe_t *rp = t->data;
    rprobe_report(rp, false, "timed out");
    if (rp->proc != NULL) {
        ad_proc_stop(rp->proc, true); /* its exit frees it */
    }
}

/* probe.command on the node of s, as one more run there (in the service's
 * work folder, its sandbox): exit 0 is healthy. Reports through cb once. */
static void probe_on_node(service_t *s, json_t *probe, ad_probe_cb cb, void *ud)
{
    rprobe_t *rp = ad_xcalloc(1, sizeof(*rp));
    rp->ss = s->ss;
    rp->cb = cb;
    rp->ud = ud;
    rp->t0 = uv_now(s->ss->loop);
    uv_timer_init(s->ss->loop, &rp->timer);
    rp->timer.data = rp;
    ad_proc_opts_t o = {.polite = AD_PROC_POLITE_NONE, .on_exit = rprobe_exit, .ud = rp};
    char err[256] = "";
    if (ad_svc_spawn_on_node(s->ss, s->org, s->id, s->node_id, json_object_get(probe, "command"),
                             NULL, &o, rp->run_id, &rp->proc, err, sizeof(err)) != 0) {
        rprobe_report(rp, false, err);
        uv_close((uv_handle_t *)&rp->timer, rprobe_closed);
        return;
    }
    json_t *to = json_object_get(probe, "timeoutMs");
    uv_timer_start(&rp->timer, rprobe_timeout,
                   json_is_integer(to) ? (uint64_t)json_integer_value(to) : 10000, 0);
}

/* The probe, where the service runs: on its node, a command as one more
 * run there, a connect by the node itself. */
void ad_svc_probe_run(service_t *s, json_t *probe, ad_probe_cb cb, void *ud)
{
    const char *type = json_string_value(json_object_get(probe, "type"));
    if (s->node_id[0] != '\0' && type != NULL && strcmp(type, "command") == 0) {
        probe_on_node(s, probe, cb, ud);
    } else if (s->node_id[0] != '\0') {
        ad_plane_probe(s->ss->plane, s->run_id, probe, cb, ud);
    } else {
        ad_probe_run(s->ss->loop, s->ss->procs, probe, strcmp(s->org, AD_ORG_DEFAULT) != 0, cb, ud);
    }
}

static void on_probe_tick(uv_timer_t *t)
{
    service_t *s = t->data;
    json_t *probe = json_object_get(s->row, "probe");
    if (s->probing || s->proc == NULL || !json_is_object(probe) || s->unreachable) {
        return;
    }
    s->probing = true;
    ad_svc_probe_run(s, probe, on_probed, s);
}

void ad_svc_probe_start(service_t *s)
{
    json_t *probe = json_object_get(s->row, "probe");
    if (!json_is_object(probe)) {
        return;
    }
    json_t *iv = json_object_get(probe, "intervalMs");
    uint64_t every = json_is_integer(iv) ? (uint64_t)json_integer_value(iv) : PROBE_DEFAULT_MS;
    uv_timer_start(&s->probe, on_probe_tick, every, every);
}
