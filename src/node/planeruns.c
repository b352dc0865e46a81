/* SPDX-License-Identifier: MIT */
/*
 * The control plane's calls from the run layer for runs on nodes
 * (docs/nodes.md): a run opened on a node (its relay made, the spawn
 * sent), done, given its worktree and its setup, and what its node last
 * said of it (figures, pid, where it runs). Loop thread.
 */
#include "node/node_int.h"

#include <stdlib.h>
#include <string.h>

int ad_plane_run_open(ad_plane_t *p, const char *node_id, const char *run_id, json_t *spawn,
                      int *fd, char *err, size_t errsz)
{
    ad_node_live_t *n = ad_plane_node_live(p, node_id);
    if (n == NULL) {
        json_decref(spawn);
        snprintf(err, errsz, "no node %s", node_id);
        return AD_ENOENT;
    }
    if (spawn != NULL && (n->link == NULL || n->unreachable)) {
        json_decref(spawn);
        snprintf(err, errsz, "node %s is not connected", n->name);
        return AD_ESTATE;
    }
    ad_relay_t *r = ad_relay_new(p, node_id, run_id, fd, err, errsz);
    if (r == NULL) {
        json_decref(spawn);
        return AD_EIO;
    }
    /* a new run's lease epoch is 1 (its row says so once written); a run
     * taken up has the one the store holds now (issue #77) */
    r->lease = spawn != NULL ? 1 : ad_plane_lease_stored(p, run_id);
    if (spawn != NULL) {
        r->gpu = json_is_true(json_object_get(spawn, "gpu"));
        json_object_set_new(spawn, "t", json_string("spawn"));
        json_object_set_new(spawn, "run", json_string(run_id));
        json_object_set_new(spawn, "lease", json_integer(r->lease));
        r->spawn = json_incref(spawn);
        ad_plane_send_text(n, spawn);
        ad_plane_event(p, n->id, n->org, "run_placed", json_pack("{s:s}", "runId", run_id));
        r->first_sent = true; /* its holder exists once the spawn is done: no scrollback */
    }
    return 0;
}

void ad_plane_run_done(ad_plane_t *p, const char *run_id)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    if (r == NULL) {
        return;
    }
    size_t slot = p->ndone++ % AD_ARRAY_LEN(p->done);
    snprintf(p->done[slot].id, sizeof(p->done[slot].id), "%s", run_id);
    snprintf(p->done[slot].node_id, sizeof(p->done[slot].node_id), "%s", r->node_id);
    ad_node_live_t *n = ad_plane_node_live(p, r->node_id);
    ad_plane_event(p, r->node_id, NULL, "run_ended", json_pack("{s:s}", "runId", run_id));
    if (n != NULL) { /* else the node hears "end" when it says hello */
        ad_plane_send_text(n, json_pack("{s:s, s:s, s:I}", "t", "done", "run", run_id, "lease",
                                        (json_int_t)r->lease));
    }
    ad_relay_free(r);
}

void ad_plane_run_worktree(ad_plane_t *p, const char *run_id, const char *wt_id, const char *ws_id,
                           const char *path)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    if (r == NULL || wt_id == NULL || ws_id == NULL || path == NULL || path[0] != '/') {
        return;
    }
    snprintf(r->wt_id, sizeof(r->wt_id), "%s", wt_id);
    snprintf(r->ws_id, sizeof(r->ws_id), "%s", ws_id);
    free(r->wt_path);
    r->wt_path = ad_xstrdup(path);
}

void ad_plane_run_setup(ad_plane_t *p, const char *run_id, const char *src, json_t *files,
                        const char *command)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    if (r != NULL && command != NULL && command[0] != '\0') {
        free(r->setup_cmd);
        r->setup_cmd = ad_xstrdup(command);
    }
    if (r == NULL || src == NULL || src[0] != '/' || json_array_size(files) == 0) {
        return;
    }
    free(r->setup_src);
    r->setup_src = ad_xstrdup(src);
    json_decref(r->setup_files);
    r->setup_files = json_deep_copy(files);
}

bool ad_plane_run_measured(const ad_plane_t *p, const char *run_id, ad_health_agent_t *a)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    if (r == NULL || r->figures == NULL) {
        return false;
    }
    json_t *cpu = json_object_get(r->figures, "cpuPercent");
    json_int_t rss = json_integer_value(json_object_get(r->figures, "rssBytes"));
    json_int_t gpu = json_integer_value(json_object_get(r->figures, "gpuMemoryBytes"));
    json_int_t procs = json_integer_value(json_object_get(r->figures, "processes"));
    a->has_cpu = json_is_number(cpu) && json_number_value(cpu) >= 0;
    a->cpu_pct = a->has_cpu ? json_number_value(cpu) : 0;
    a->rss_bytes = rss > 0 ? (uint64_t)rss : 0;
    a->gpu_mem_bytes = gpu > 0 ? (uint64_t)gpu : 0;
    a->nprocs = procs > 0 && procs < 1000000 ? (unsigned)procs : 0;
    a->node[0] = '\0';
    ad_plane_run_node(p, run_id, a->node, sizeof(a->node), NULL);
    return true;
}

long ad_plane_run_pid(const ad_plane_t *p, const char *run_id)
{
    const ad_relay_t *r = p != NULL ? ad_relay_find(p, run_id) : NULL;
    return r != NULL ? r->pid : 0;
}

bool ad_plane_run_node(const ad_plane_t *p, const char *run_id, char *name, size_t namesz,
                       bool *unreachable)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    if (r == NULL) {
        return false;
    }
    for (ad_node_live_t *n = p->nodes; n != NULL && name != NULL; n = n->next) {
        if (strcmp(n->id, r->node_id) == 0) {
            snprintf(name, namesz, "%s", n->name);
        }
    }
    if (unreachable != NULL) {
        *unreachable = r->unreachable;
    }
    return true;
}
