/* SPDX-License-Identifier: MIT */
/*
 * What GET /api/health answers (moved from src/api/health.c): what the
 * daemon is, how it keeps its agents in check (a cgroup per run, or the
 * subreaper and process groups and why), the runs that cannot go on
 * (degraded, with the reasons), and the last sample: the machine's figures
 * (daemon-wide) and each agent's, measured here or by its worker node (the
 * organisation's own).
 */
#include "monitor/monitor_int.h"
#include "compat/compat.h"
#include "cluster/cluster.h"
#include "node/node.h"
#include "proc/proc.h"
#include "run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *containment(const ad_procs_t *procs)
{
    bool memory = false, cpu = false;
    ad_procs_limits(procs, &memory, &cpu);
    bool cg = ad_procs_cgroups(procs);
    return json_pack("{s:s, s:s, s:b, s:b}", "mode", cg ? "cgroup" : "process-group", "detail",
                     ad_procs_containment(procs), "memoryLimits", memory, "cpuLimits", cpu);
}

/* Agent processes an older agentd left running without a holder (issue
 * #15): org's. */
static json_t *orphans(const ad_runner_t *runner, const char *org)
{
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(runner != NULL ? ad_runner_orphans(runner) : NULL, i, o)
    {
        const char *oo = json_string_value(json_object_get(o, "orgId"));
        if (org == NULL || org[0] == '\0' || (oo != NULL && strcmp(oo, org) == 0)) {
            json_array_append(out, o);
        }
    }
    return out;
}

typedef struct {
    const ad_plane_t *plane;
    ad_health_agent_t *out;
    size_t n, max;
} measured_t;

static void add_measured(const char *agent_id, const char *run_id, const char *org,
                         const ad_proc_t *proc, void *ud)
{
    measured_t *m = ud;
    if (!ad_proc_remote(proc) || m->n == m->max) {
        return;
    }
    ad_health_agent_t *a = &m->out[m->n];
    memset(a, 0, sizeof(*a));
    if (ad_plane_run_measured(m->plane, run_id, a)) {
        snprintf(a->agent_id, sizeof(a->agent_id), "%s", agent_id);
        snprintf(a->run_id, sizeof(a->run_id), "%s", run_id);
        snprintf(a->org, sizeof(a->org), "%s", org);
        m->n++;
    }
}

size_t ad_monitor_remote(const ad_monitor_t *m, ad_health_agent_t *out, size_t max)
{
    if (m == NULL || *m->o.plane == NULL || *m->o.runner == NULL) {
        return 0;
    }
    measured_t c = {*m->o.plane, out, 0, max};
    ad_runner_each(*m->o.runner, add_measured, &c);
    return c.n;
}

/* Runs on worker nodes, as their nodes measured them (issue #34), beside
 * the ones measured here: org's ("" every org's). */
static void remote_agents(const ad_monitor_t *m, json_t *agents, const char *org)
{
    if (!json_is_array(agents)) {
        return;
    }
    ad_health_agent_t *remote = ad_xcalloc(AD_HEALTH_MAX_AGENTS, sizeof(*remote));
    size_t n = ad_monitor_remote(m, remote, AD_HEALTH_MAX_AGENTS);
    for (size_t i = 0; i < n; i++) {
        if (org[0] == '\0' || strcmp(remote[i].org, org) == 0) {
            json_array_append_new(agents, ad_health_agent_json(&remote[i]));
        }
    }
    free(remote);
}

/* The stalled runs (a full disk, issue #41) and the runs lost lately (a
 * holder killed, issue #78) make the daemon degraded, and say why. */
static void stalled(json_t *out, json_t *runs, json_t *lost)
{
    json_t *why = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x)
    {
        char text[160];
        snprintf(text, sizeof(text), "run %s stalled: %s",
                 json_string_value(json_object_get(x, "runId")),
                 json_string_value(json_object_get(x, "reason")));
        json_array_append_new(why, json_string(text));
    }
    json_array_foreach(lost, i, x)
    {
        char text[512];
        snprintf(text, sizeof(text),
                 "run %s of agent %s %s: its transcript says what that means; end its "
                 "leftover processes and start the agent again",
                 json_string_value(json_object_get(x, "runId")),
                 json_string_value(json_object_get(x, "agentId")),
                 json_string_value(json_object_get(x, "reason")));
        json_array_append_new(why, json_string(text));
    }
    if (json_array_size(why) > 0) {
        json_object_set_new(out, "status", json_string("degraded"));
        json_object_set_new(out, "statusReasons", why);
    } else {
        json_decref(why);
    }
    json_object_set_new(out, "runs", json_pack("{s:o, s:o}", "stalled", runs, "lost", lost));
}

json_t *ad_monitor_status(const ad_monitor_t *m, const char *org)
{
    uint64_t now = ad_wall_ms();
    const ad_runner_t *runner = *m->o.runner;
    const ad_cluster_t *cl = *m->o.cluster;
    json_t *out = json_pack("{s:s, s:s, s:I}", "status", "ok", "version", AD_VERSION, "uptimeSec",
                            (json_int_t)((now - m->o.started_ms) / 1000));
    json_object_set_new(
        out, "processes",
        json_pack("{s:I, s:o, s:o, s:o}", "live", (json_int_t)ad_procs_count(*m->o.procs),
                  "containment", containment(*m->o.procs), "orphans", orphans(runner, org),
                  "holders", runner != NULL ? ad_runner_holders(runner, org) : json_array()));
    json_object_set_new(out, "cluster",
                        cl == NULL
                            ? json_pack("{s:b}", "redis", false)
                            : json_pack("{s:b, s:b, s:s, s:I}", "redis", true, "connected",
                                        ad_cluster_connected(cl), "node", ad_cluster_node(cl),
                                        "refused", (json_int_t)ad_cluster_refused(cl)));
    /* this control plane and the live ones of its database (issue #39) */
    json_object_set_new(out, "plane", ad_planes_health(*m->o.planes));
    stalled(out, runner != NULL ? ad_runner_stalled(runner, org) : json_array(),
            runner != NULL ? ad_runner_lost(runner, org) : json_array());
    const ad_health_sample_t *s = m->health != NULL ? ad_health_current(m->health) : NULL;
    json_object_set_new(
        out, "intervalMs",
        json_integer(m->health != NULL ? (json_int_t)ad_health_interval_ms(m->health) : 0));
    if (s != NULL) {
        json_t *h = ad_health_sample_json(s, ad_health_thresholds(m->health), org);
        json_object_set_new(h, "summary", ad_compat_health_event(s));
        json_object_update(out, h);
        json_decref(h);
        remote_agents(m, json_object_get(out, "agents"), org);
    } else {
        json_object_set_new(out, "sampledAt", json_null());
    }
    return out;
}
