/* SPDX-License-Identifier: MIT */
/*
 * The REST layer's shared parts: route registration for every resource,
 * input checks that name the bad field, the write helper that answers only
 * after the store has committed (events: publish.c; the steps of git
 * requests: gitsteps.c). Resource handlers
 * live in one file each (workspaces.c, agents.c, ...).
 */
#include "api/api_int.h"
#include "api/workbench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ad_api_register(ad_app_t *app)
{
    app->api = ad_xcalloc(1, sizeof(*app->api));
    ad_api_workspaces_register(app);
    ad_api_worktrees_register(app);
    ad_api_review_register(app);
    ad_api_pr_register(app);
    ad_api_agents_register(app);
    ad_api_messages_register(app);
    ad_api_settings_register(app);
    ad_api_health_register(app);
    ad_api_dashboard_register(app);
    ad_api_credits_register(app);
    ad_api_export_register(app);
    ad_api_sessions_register(app);
    ad_api_import_register(app);
    ad_api_project_sync_register(app);
    ad_api_crew_ops_register(app);
    ad_api_workflows_register(app);
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
    ad_api_dists_register(app);
    ad_api_terminal_register(app);
    ad_api_crews_register(app);
    ad_api_auth_register(app);
    ad_api_live_register(app);
    ad_api_seed_register(app);
    ad_api_creds_register(app);
    ad_api_chats_register(app);
#ifdef AD_TEST_BUILD
    ad_api_test_routes_register(app);
#endif
}

void ad_api_close(ad_app_t *app)
{
    ad_api_live_close(app);
    ad_api_chats_close(app);
    ad_api_creds_close(app);
    ad_api_crews_close(app);
    ad_api_health_close(app);
    ad_api_requirements_close(app);
    ad_api_jobs_close(app);
    ad_api_services_close(app);
    ad_api_project_sync_close(app);
    ad_api_workflows_close(app);
#ifdef AD_TEST_BUILD
    ad_api_test_routes_close(app);
#endif
    free(app->api);
    app->api = NULL;
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

static const char *kind_name(ad_api_kind_t kind)
{
    static const char *const names[] = {"workspace", "worktree", "agent",  "crew",
                                        "run",       "job",      "service"};
    return names[kind];
}

static int row_get(ad_app_t *app, ad_api_kind_t kind, const char *id, json_t **row)
{
    switch (kind) {
    case AD_API_WORKSPACE:
        return ad_store_workspace_get(app->store, id, row);
    case AD_API_WORKTREE:
        return ad_store_worktree_get(app->store, id, row);
    case AD_API_AGENT:
        return ad_store_agent_get(app->store, id, row);
    case AD_API_CREW:
        return ad_store_crew_get(app->store, id, row);
    case AD_API_RUN: {
        json_t *run = NULL;
        int rc = ad_store_run_get(app->store, id, &run);
        if (rc == 0) {
            rc = ad_store_agent_get(app->store, ad_api_jstr(run, "agentId"), row);
            rc = rc == AD_ENOENT ? AD_ENOENT : rc;
        }
        json_decref(run);
        return rc;
    }
    case AD_API_JOB:
        return ad_store_job_get(app->store, id, row);
    case AD_API_SERVICE:
        return ad_store_service_get(app->store, id, row);
    }
    return AD_EINVAL;
}

int ad_api_row_org(ad_app_t *app, const ad_principal_t *who, ad_api_kind_t kind, const char *id,
                   char org_out[AD_ID_MAX])
{
    if (id == NULL || id[0] == '\0' || strlen(id) >= AD_ID_MAX || app->store == NULL) {
        return AD_ENOENT;
    }
    json_t *row = NULL;
    int rc = row_get(app, kind, id, &row);
    if (rc == 0) {
        const char *org = ad_api_jstr(row, "orgId");
        if (!ad_principal_sees(who, org != NULL ? org : AD_ORG_DEFAULT)) {
            rc = AD_ENOENT;
        } else if (org_out != NULL) {
            snprintf(org_out, AD_ID_MAX, "%s", org != NULL ? org : AD_ORG_DEFAULT);
        }
    }
    json_decref(row);
    return rc;
}

bool ad_api_visible(ad_app_t *app, ad_req_t *r, ad_api_kind_t kind, const char *id,
                    char org_out[AD_ID_MAX])
{
    int rc = ad_api_row_org(app, ad_api_who(r), kind, id, org_out);
    if (rc != 0) {
        ad_api_fail(r, rc, kind_name(kind), id);
        return false;
    }
    return true;
}

int ad_api_org_for(ad_app_t *app, ad_req_t *r, json_t *body, char org[AD_ID_MAX])
{
    const char *want = NULL;
    if (ad_api_str(r, body, "orgId", false, AD_ID_MAX - 1, &want) != 0) {
        return -1;
    }
    const ad_principal_t *who = ad_api_who(r);
    if (!who->owner) {
        if (want != NULL && strcmp(want, who->org_id) != 0) {
            return ad_api_invalid(r, "orgId", "must be your own organisation");
        }
        snprintf(org, AD_ID_MAX, "%s", who->org_id);
        return 0;
    }
    int rc = ad_store_org_find(app->store, want != NULL ? want : AD_ORG_DEFAULT, org);
    if (rc == AD_ENOENT) {
        return ad_api_invalid(r, "orgId", "is not an organisation");
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "organisation", want);
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

bool ad_api_choice(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0) {
            return true;
        }
        if (e == NULL) {
            return false;
        }
        p = e + 1;
    }
}

int ad_api_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
               const char **out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL) {
        return required ? ad_api_invalid(r, key, "is required") : 0;
    }
    if (!json_is_string(v)) {
        return ad_api_invalid(r, key, "must be a string");
    }
    size_t len = json_string_length(v);
    if (len > maxlen) {
        return ad_api_invalid(r, key, "is too long");
    }
    *out = json_string_value(v);
    return 0;
}

int ad_api_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
                const char **out)
{
    const char *s = NULL;
    if (ad_api_str(r, body, key, required, 64, &s) != 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    if (!ad_api_choice(choices, s)) {
        char why[160];
        snprintf(why, sizeof(why), "must be one of %s", choices);
        return ad_api_invalid(r, key, why);
    }
    *out = s;
    return 0;
}

int ad_api_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min, int64_t max,
               int64_t *out, bool *present)
{
    json_t *v = json_object_get(body, key);
    if (present != NULL) {
        *present = false;
    }
    if (v == NULL) {
        return required ? ad_api_invalid(r, key, "is required") : 0;
    }
    if (!json_is_integer(v)) {
        return ad_api_invalid(r, key, "must be an integer");
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        return ad_api_invalid(r, key, "is out of range");
    }
    *out = (int64_t)x;
    if (present != NULL) {
        *present = true;
    }
    return 0;
}

int ad_api_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present)
{
    json_t *v = json_object_get(body, key);
    if (present != NULL) {
        *present = v != NULL;
    }
    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        return ad_api_invalid(r, key, "must be a boolean");
    }
    *out = json_is_true(v);
    return 0;
}

int ad_api_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                     size_t maxlen, json_t **out)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL) {
        return required ? ad_api_invalid(r, key, "is required") : 0;
    }
    if (!json_is_array(v)) {
        return ad_api_invalid(r, key, "must be an array of strings");
    }
    if (json_array_size(v) > max) {
        return ad_api_invalid(r, key, "has too many items");
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x)) {
            return ad_api_invalid(r, key, "must be an array of strings");
        }
        if (json_string_length(x) == 0 || json_string_length(x) > maxlen) {
            return ad_api_invalid(r, key, "has an empty or too long item");
        }
    }
    *out = v;
    return 0;
}

json_t *ad_api_body_optional(ad_req_t *r, bool *failed)
{
    size_t len = 0;
    const char *b = ad_req_body(r, &len);
    *failed = false;
    bool blank = true;
    for (size_t i = 0; i < len; i++) {
        if (b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t') {
            blank = false;
            break;
        }
    }
    if (blank) {
        return json_object();
    }
    json_t *j = ad_req_json(r);
    if (j == NULL) {
        *failed = true;
    }
    return j;
}

int ad_api_query_bool(ad_req_t *r, const char *key, bool def, bool *out)
{
    const char *v = ad_req_query(r, key);
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return 0;
    }
    return ad_api_invalid(r, key, "must be true or false");
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
    switch (rc) {
    case AD_ENOENT:
        ad_res_error_code(r, rc, id != NULL ? json_pack("{s:s}", "id", id) : NULL, "%s not found",
                          what);
        break;
    case AD_EEXIST:
        ad_res_error_code(r, rc, NULL, "%s already exists", what);
        break;
    case AD_ECONSTRAINT:
        ad_res_error_code(r, rc, NULL, "%s violates a constraint", what);
        break;
    case AD_EFULL:
        ad_res_error_code(r, rc, NULL, "the disk is full: %s was not saved", what);
        break;
    case AD_EBUSY:
        ad_res_error_code(r, rc, NULL, "the database is busy; try again");
        break;
    default:
        ad_res_error_code(r, rc, NULL, "%s: %s", what, ad_strerror(rc));
        break;
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
