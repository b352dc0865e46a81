/* SPDX-License-Identifier: MIT */
/*
 * What the REST routes ask of the runner beside one agent's start and
 * stop: a whole crew started or stopped (issue #19, POST
 * /api/crews/:id/start and /stop: every agent of the crew that is not
 * archived, each started when it is not running, with the same first
 * prompt, or stopped when it is, what happened to each counted), a run's
 * row with what a live run adds, and an agent read once its stop's mark is
 * kept. Loop thread.
 */
#include "run/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The crew's agents that are not archived: a new reference (array). */
static json_t *crew_agents(ad_store_t *st, const json_t *crew, int *rc)
{
    json_t *all = NULL;
    const char *crew_id = json_string_value(json_object_get(crew, "id"));
    *rc = ad_store_agent_list(st, NULL, NULL, false,
                              json_string_value(json_object_get(crew, "orgId")), &all);
    if (*rc != 0) {
        return NULL;
    }
    json_t *mine = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(all, "agents"), i, a)
    {
        const char *in = json_string_value(json_object_get(a, "crewId"));
        if (in != NULL && strcmp(in, crew_id) == 0) {
            json_array_append(mine, a);
        }
    }
    json_decref(all);
    return mine;
}

int ad_runner_crew_all(ad_runner_t *r, ad_store_t *st, const json_t *crew, bool start, bool force,
                       const char *prompt, json_t **out)
{
    int rc = 0;
    json_t *agents = crew_agents(st, crew, &rc);
    if (agents == NULL) {
        return rc;
    }
    json_t *done = json_array(), *skipped = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        char err[256] = "";
        bool running = ad_runner_is_running(r, id);
        if (start && running) {
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "id", id, "reason", "running"));
            continue;
        }
        if (!start && !running) {
            continue;
        }
        rc = start ? ad_runner_start(r, id, prompt, NULL, NULL, err, sizeof(err))
                   : ad_runner_stop(r, id, force, NULL, NULL);
        if (rc == 0) {
            json_array_append_new(done, json_string(id));
        } else {
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "id", id, "reason",
                                                     err[0] ? err : ad_strerror(rc)));
        }
    }
    *out = json_pack("{s:O, s:o, s:o}", "crewId", json_object_get(crew, "id"),
                     start ? "started" : "stopping", done, "skipped", skipped);
    json_decref(agents);
    return 0;
}

int ad_runner_run_view(const ad_runner_t *r, ad_store_t *st, const char *run_id, json_t **out)
{
    int rc = ad_store_run_get(st, run_id, out);
    if (rc != 0) {
        return rc;
    }
    /* A live run: whether it is stalled, and its holder's own log. */
    json_t *live = ad_runner_run_live(r, run_id);
    if (live != NULL) {
        json_object_update(*out, live);
        json_decref(live);
    }
    return 0;
}

/* ---- a stop answered once it is kept ---------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    ad_store_t *st;
    char id[AD_ID_MAX];
    ad_runner_agent_cb cb;
    void *ud;
} marked_t;

static void stop_kept(int rc, void *ud)
{
    marked_t *m = ud;
    json_t *a = NULL;
    AD_UNUSED(rc); /* the stop is under way either way; a failed write was logged */
    if (ad_store_agent_get(m->st, m->id, &a) != 0) {
        a = json_pack("{s:s}", "id", m->id);
    }
    ad_runner_agent_live(m->r, a);
    m->cb(a, m->ud);
    free(m);
}

void ad_runner_stop_kept(ad_runner_t *r, ad_store_t *st, const char *agent_id,
                         ad_runner_agent_cb cb, void *ud)
{
    marked_t *m = ad_xcalloc(1, sizeof(*m));
    *m = (marked_t){.r = r, .st = st, .cb = cb, .ud = ud};
    snprintf(m->id, sizeof(m->id), "%s", agent_id);
    ad_store_flush(st, stop_kept, m);
}
