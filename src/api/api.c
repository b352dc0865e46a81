/* SPDX-License-Identifier: MIT */
/*
 * The REST layer's shared parts: route registration for every resource,
 * input checks that name the bad field, the write helper that answers only
 * after the store has committed (a git request's outcome answered:
 * gitsteps.c). Resource handlers live in one file each (workspaces.c,
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
    ad_api_prloop_register(app);
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
    ad_api_search_register(app);
    ad_api_external_register(app);
}

/* ---- who is asking ------------------------------------------------------------ */

/* Sees nothing (its org matches no row) and may do nothing. */
static const ad_principal_t nobody = {.name = "anonymous", .org_id = "-", .scope = AD_SCOPE_NONE};

const ad_principal_t *ad_api_who(const ad_req_t *r)
{
    const ad_principal_t *p = ad_auth_principal(r);
    return p != NULL ? p : &nobody;
}

bool ad_api_require(ad_req_t *r, ad_scope_t scope, const char *what)
{
    const ad_principal_t *p = ad_api_who(r);
    if (ad_principal_can(p, scope)) {
        return true;
    }
    ad_res_error(r, 403, "FORBIDDEN", json_pack("{s:s}", "scope", ad_scope_name(p->scope)),
                 "%s needs a token with %s scope", what, ad_scope_name(scope));
    return false;
}

bool ad_api_require_owner(ad_req_t *r, const char *what)
{
    if (ad_api_who(r)->owner) {
        return true;
    }
    ad_res_error(r, 403, "FORBIDDEN", NULL, "only the owner %s", what);
    return false;
}

bool ad_api_visible(ad_app_t *app, ad_req_t *r, ad_store_row_t kind, const char *id,
                    char org_out[AD_ID_MAX])
{
    int rc = ad_auth_row_org(app->store, ad_api_who(r), kind, id, org_out);
    if (rc != 0) {
        ad_api_fail(r, rc, ad_store_row_kind_name(kind), id);
        return false;
    }
    return true;
}

bool ad_api_forwarded(ad_app_t *app, ad_req_t *r, const char *agent_id, bool starting)
{
    ad_store_plane_ref_t to;
    if (app->planes == NULL || !(ad_planes_agent_owner(app->planes, agent_id, &to) ||
                                 (starting && app->plane != NULL &&
                                  ad_plane_agent_node_elsewhere(app->plane, agent_id, &to)))) {
        return false;
    }
    if (ad_planes_was_forwarded(r)) { /* sent here, yet not ours: never a second run */
        ad_res_error(r, 409, "OWNED_ELSEWHERE", json_pack("{s:s}", "plane", to.id),
                     "control plane %s holds this agent's work", to.id);
        return true;
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

/* ---- input -------------------------------------------------------------- */

int ad_api_invalid(ad_req_t *r, const char *field, const char *reason)
{
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", field, "reason", reason), "%s %s", field, reason);
    return -1;
}

int ad_api_invalid_err(ad_req_t *r, const ad_field_err_t *e)
{
    return ad_api_invalid(r, e->field, e->why);
}

const char *ad_api_query_get(void *r, const char *key)
{
    return ad_req_query(r, key);
}

int ad_api_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
               const char **out)
{
    ad_field_err_t e;
    return ad_field_str(body, key, required, maxlen, out, &e) != 0 ? ad_api_invalid_err(r, &e) : 0;
}

int ad_api_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
                const char **out)
{
    ad_field_err_t e;
    return ad_field_enum(body, key, required, choices, out, &e) != 0 ? ad_api_invalid_err(r, &e)
                                                                     : 0;
}

int ad_api_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min, int64_t max,
               int64_t *out, bool *present)
{
    ad_field_err_t e;
    return ad_field_int(body, key, required, min, max, out, present, &e) != 0
               ? ad_api_invalid_err(r, &e)
               : 0;
}

int ad_api_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present)
{
    ad_field_err_t e;
    return ad_field_bool(body, key, out, present, &e) != 0 ? ad_api_invalid_err(r, &e) : 0;
}

int ad_api_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                     size_t maxlen, json_t **out)
{
    ad_field_err_t e;
    return ad_field_str_array(body, key, required, max, maxlen, out, &e) != 0
               ? ad_api_invalid_err(r, &e)
               : 0;
}

int ad_api_query_bool(ad_req_t *r, const char *key, bool def, bool *out)
{
    ad_field_err_t e;
    return ad_field_query_bool(ad_req_query(r, key), key, def, out, &e) != 0
               ? ad_api_invalid_err(r, &e)
               : 0;
}

/* ---- writes ------------------------------------------------------------------ */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    ad_api_done_fn done;
} write_ctx_t;

static void on_written(int rc, json_t *result, void *ud)
{
    write_ctx_t *w = ud;
    w->done(w->app, w->req, rc, result);
    json_decref(result);
    free(w);
}

void ad_api_write(ad_app_t *app, ad_req_t *r, ad_store_op_fn op, json_t *args, ad_api_done_fn done)
{
    write_ctx_t *w = ad_xmalloc(sizeof(*w));
    w->app = app;
    w->req = r;
    w->done = done;
    ad_store_write(app->store, op, args, on_written, w);
}

void ad_api_fail(ad_req_t *r, int rc, const char *what, const char *id)
{
    char msg[256];
    ad_err_about(rc, what, msg, sizeof(msg));
    ad_res_error_code(r, rc, rc == AD_ENOENT && id != NULL ? json_pack("{s:s}", "id", id) : NULL,
                      "%s", msg);
}

void ad_api_list(ad_req_t *r, int rc, json_t *rows, const char *key, const char *what)
{
    if (rc != 0) {
        json_decref(rows);
        ad_api_fail(r, rc, what, NULL);
    } else {
        ad_res_json(r, 200, json_pack("{s:o}", key, rows));
    }
}

void ad_api_answer(ad_req_t *r, int rc, json_t *out, const char *what, const char *id)
{
    if (rc != 0) {
        json_decref(out);
        ad_api_fail(r, rc, what, id);
    } else {
        ad_res_json(r, 200, out);
    }
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

void ad_api_answer_row(ad_req_t *r, json_t *row)
{
    if (row != NULL) {
        ad_res_json(r, 200, row);
    }
}

const char *ad_api_jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

bool ad_api_need_store(ad_app_t *app, ad_req_t *req)
{
    if (app->store == NULL) {
        ad_res_error(req, 503, "UNAVAILABLE", NULL, "the store is not open");
        return false;
    }
    return true;
}

json_t *ad_api_row_load(ad_app_t *app, ad_req_t *r, ad_api_row_get_fn get, const char *what)
{
    const char *id = ad_req_param(r, "id");
    json_t *row = NULL;
    if (!ad_api_need_store(app, r)) {
        return NULL;
    }
    int rc = id != NULL && strlen(id) < AD_ID_MAX ? get(app->store, id, &row) : AD_ENOENT;
    if (rc == 0 && !ad_principal_sees(ad_api_who(r), ad_api_jstr(row, "orgId"))) {
        rc = AD_ENOENT;
    }
    if (rc != 0) {
        json_decref(row);
        ad_api_fail(r, rc, what, id);
        return NULL;
    }
    return row;
}
