/* SPDX-License-Identifier: MIT */
/*
 * GET /api/health: what the daemon is and how it keeps its agents in
 * check: version, uptime, live processes and how process trees are
 * contained (a cgroup per run, or the subreaper and process groups and
 * why). Daemon-wide and read-only; nothing here belongs to an org.
 */
#include "api/api_int.h"
#include "cluster/cluster.h"
#include "proc/proc.h"

static json_t *containment(const ad_procs_t *procs)
{
    bool memory = false, cpu = false;
    ad_procs_limits(procs, &memory, &cpu);
    bool cg = ad_procs_cgroups(procs);
    return json_pack("{s:s, s:s, s:b, s:b}",
                     "mode", cg ? "cgroup" : "process-group",
                     "detail", ad_procs_containment(procs),
                     "memoryLimits", memory,
                     "cpuLimits", cpu);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    uint64_t now = ad_wall_ms();
    json_t *out = json_pack("{s:s, s:s, s:I}",
                            "status", "ok",
                            "version", AD_VERSION,
                            "uptimeSec", (json_int_t)((now - app->started_ms) / 1000));
    json_object_set_new(out, "processes",
                        json_pack("{s:I, s:o}",
                                  "live", (json_int_t)ad_procs_count(app->procs),
                                  "containment", containment(app->procs)));
    json_object_set_new(out, "cluster",
                        app->cluster == NULL
                            ? json_pack("{s:b}", "redis", false)
                            : json_pack("{s:b, s:b, s:s}", "redis", true, "connected",
                                        ad_cluster_connected(app->cluster), "node",
                                        ad_cluster_node(app->cluster)));
    ad_res_json(r, 200, out);
}

void ad_api_health_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/health", AD_ACCESS_READ, get, app);
}
