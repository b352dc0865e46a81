/* SPDX-License-Identifier: MIT */
/*
 * The REST layer's shared parts: route registration for every resource,
 * the org a new row goes to, an answer written as JSON text (the helpers
 * every route shares are src/auth/route.h's; a git request's outcome
 * answered: gitsteps.c). Resource handlers live in one file each (workspaces.c,
 * agents.c, ...); the engines they call are made and closed by
 * src/engines.c and read from the app.
 */
#include "api/api_int.h"
#include "api/workbench.h"
#include "cluster/cluster.h"
#include "node/node.h"

#include <stdlib.h>
#include <string.h>

void ad_api_register(ad_app_t *app)
{
    ad_api_workspaces_register(app);
    ad_api_worktrees_register(app);
    ad_api_review_register(app);
    ad_api_pr_register(app);
    ad_api_agents_register(app);
    ad_api_messages_register(app);
    ad_api_settings_register(app);
    ad_api_health_register(app);
    ad_api_alerts_register(app);
    ad_api_imports_register(app);
    ad_api_mlflow_register(app);
    ad_api_sweeps_register(app);
    ad_api_sql_register(app);
    ad_api_dashboard_register(app);
    ad_api_credits_register(app);
    ad_api_export_register(app);
    ad_api_sessions_register(app);
    ad_api_import_register(app);
    ad_api_project_sync_register(app);
    ad_api_crew_ops_register(app);
    ad_api_workflows_register(app);
    ad_api_routines_register(app);
    ad_api_metrics_register(app);
    ad_api_requirements_register(app);
    ad_api_jobs_register(app);
    ad_api_services_register(app);
    ad_api_usage_register(app);
    ad_api_runs_register(app);
    ad_api_status_register(app);
    ad_api_approvals_register(app);
    ad_api_scalars_register(app);
    ad_api_hparams_register(app);
    ad_api_runtable_register(app);
    ad_api_layouts_register(app);
    ad_api_dists_register(app);
    ad_api_terminal_register(app);
    ad_api_nodes_register(app);
    ad_api_crews_register(app);
    ad_api_auth_register(app);
    ad_api_live_register(app);
    ad_api_seed_register(app);
    ad_api_creds_register(app);
    ad_api_chats_register(app);
    ad_api_mcp_register(app);
    ad_api_otlp_register(app);
    ad_api_external_register(app);
}

bool ad_api_forwarded(ad_app_t *app, ad_req_t *r, const char *agent_id, bool starting)
{
    ad_store_plane_ref_t to;
    /* alone (no other plane live at the last heartbeat): nothing to look up */
    if (app->planes == NULL || ad_planes_alone(app->planes) ||
        !(ad_planes_agent_owner(app->planes, agent_id, &to) ||
          (starting && app->plane != NULL &&
           ad_plane_agent_node_elsewhere(app->plane, agent_id, &to)))) {
        return false;
    }
    ad_planes_forward(app->planes, r, &to);
    return true;
}

int ad_api_org_for(ad_app_t *app, ad_req_t *r, json_t *body, char org[AD_ID_MAX])
{
    ad_field_err_t e = {0};
    int rc = ad_auth_org_for(app->store, ad_api_who(r), body, org, &e);
    if (rc == AD_EINVAL && e.field[0] != '\0') {
        return ad_api_invalid_err(r, &e);
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "organisation", json_string_value(json_object_get(body, "orgId")));
        return -1;
    }
    return 0;
}

const char *ad_api_query_get(void *r, const char *key)
{
    return ad_req_query(r, key);
}

void ad_api_answer_text(ad_req_t *r, int rc, ad_buf_t *b, const char *what, const char *id)
{
    if (rc != 0) {
        ad_api_fail(r, rc, what, id);
    } else if (!ad_req_dialect(r)) {
        ad_res_send_buf(r, 200, "application/json", b);
    } else {
        json_t *tree = json_loadb(b->data, b->len, 0, NULL);
        if (tree == NULL) {
            ad_api_fail(r, AD_EINTERNAL, what, id);
        } else {
            ad_res_json(r, 200, tree);
        }
    }
}
