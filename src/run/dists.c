/* SPDX-License-Identifier: MIT */
/*
 * A command agent's distribution lines (issue #16):
 *   {"type":"histogram","name":"reward","step":1200,"edges":[..],"counts":[..]}
 *   {"type":"histogram","name":"reward","step":1200,"values":[..],"bins":30}
 *   {"type":"counts","name":"action","step":1200,"counts":{"jump":12,"left":3}}
 * checked by the store's rules (bounded: 256 buckets or categories,
 * 100,000 raw values), kept with the run's metric points (one writer job
 * per loop iteration, output.c) and published as distribution_update
 * {agentId, runId, kind, name, step?, total} on the run's topics and
 * metrics:<run>. A line past a bound or malformed is not
 * stored: the live output gets a system line saying why.
 *
 * Ownership: obj is borrowed; what is kept and published is new.
 */
#include "run/features.h"
#include "run/run_int.h"
#include "tables/dists.h"

#include <stdio.h>
#include <string.h>

static void refused(ad_run_t *run, const char *type, json_t *obj, const ad_dist_err_t *err)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    char note[320];
    snprintf(note, sizeof(note), "[agentd: %s %.64s not stored: %s (%d)]", type,
             name != NULL ? name : "(no name)", err->reason, err->status);
    ad_run_publish(run->r, &run->topics, "agent_output",
                   json_pack("{s:s, s:s, s:s, s:o, s:b}", "agentId", run->agent_id, "runId",
                             run->run_id, "stream", "system", "content",
                             ad_json_text(note, strlen(note)), "isComplete", 1));
}

void ad_run_on_dist(ad_run_t *run, const char *type, json_t *obj)
{
    ad_dist_err_t err = {0};
    json_t *d = ad_store_dist_check(obj, strcmp(type, "counts") == 0, &err);
    if (d == NULL) {
        refused(run, type, obj, &err);
        return;
    }
    ad_run_keep_dist(run, d);
    /* a light event (which one, not its buckets): clients read what they
     * show, and the 7-day event log does not keep every histogram twice */
    json_t *ev = json_pack("{s:s, s:s, s:O, s:O, s:O}", "agentId", run->agent_id, "runId",
                           run->run_id, "kind", json_object_get(d, "kind"), "name",
                           json_object_get(d, "name"), "total", json_object_get(d, "total"));
    if (json_object_get(d, "step") != NULL) {
        json_object_set(ev, "step", json_object_get(d, "step"));
    }
    json_decref(d);
    ad_run_topics_t t;
    ad_run_topics_copy(&t, &run->topics);
    snprintf(t.t[t.n], sizeof(t.t[0]), "metrics:%s", run->run_id);
    t.v[t.n] = t.t[t.n];
    t.n++;
    ad_run_publish(run->r, &t, "distribution_update", ev);
}
