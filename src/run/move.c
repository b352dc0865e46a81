/* SPDX-License-Identifier: MIT */
/*
 * What a live move of an agent (issue #76, src/move) asks of the runner:
 * where the agent's run is now, and a `moved` note in its transcript with
 * an agent_moved event on its topics. The move itself (stop at a safe
 * point, the work carried, the start there) is src/move's, through the
 * runner's ordinary stop and start.
 *
 * Threads: loop thread only.
 */
#include "run/stuck.h"
#include "tables/agents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ad_runner_agent_node(const ad_runner_t *r, const char *agent_id, char node_id[AD_ID_MAX])
{
    const ad_run_t *run = ad_run_find(r, agent_id);
    node_id[0] = '\0';
    if (run == NULL || run->proc == NULL) {
        return false;
    }
    snprintf(node_id, AD_ID_MAX, "%s", run->node_id);
    return true;
}

void ad_runner_moved_note(ad_runner_t *r, const char *agent_id, const char *text, json_t *moved)
{
    ad_row_agent_t a = {0};
    if (strlen(agent_id) >= AD_ID_MAX || ad_store_agent_row(r->store, agent_id, &a) != 0) {
        ad_row_agent_cleanup(&a);
        json_decref(moved);
        return;
    }
    char ws[AD_ID_MAX] = "";
    if (a.worktree_id != NULL) {
        ad_store_worktree_workspace(r->store, a.worktree_id, ws);
    }
    ad_run_topics_t t;
    ad_run_topics_init(&t, agent_id, NULL, ws[0] != '\0' ? ws : NULL,
                       a.org_id != NULL ? a.org_id : AD_ORG_DEFAULT, a.crew_id);
    ad_run_note_system(r, &t, agent_id, NULL, text);
    json_object_set_new(moved, "agentId", json_string(agent_id));
    ad_run_publish(r, &t, "agent_moved", moved);
    ad_row_agent_cleanup(&a);
}
