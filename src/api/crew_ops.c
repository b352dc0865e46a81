/* SPDX-License-Identifier: MIT */
/*
 * What a user does to a whole crew (issue #19): rename it, start every
 * agent of it that is not running, stop every one that is. Agents join and
 * leave a crew by PATCH /api/agents/:id {crewId} (null leaves).
 *
 * Threads: loop thread only.
 */
#include "api/api_int.h"
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

json_t *ad_api_crew_load(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_crew_get, "crew");
}

/* ---- rename --------------------------------------------------------------------------- */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char id[AD_ID_MAX];
} rename_t;

static void renamed(int rc, void *ctx)
{
    rename_t *k = ctx;
    json_t *c = NULL;
    if (rc == 0) {
        rc = ad_store_crew_get(k->app->store, k->id, &c);
    }
    if (rc != 0) {
        ad_api_fail(k->req, rc, "crew", k->id);
    } else {
        ad_api_publish(k->app, "crew_update", c, "crew", k->id, "org", ad_api_jstr(c, "orgId"),
                       NULL);
        ad_res_json(k->req, 200, c);
    }
    free(k);
}

static void crew_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *c = ad_api_crew_load(app, r);
    if (c == NULL) {
        return;
    }
    json_decref(c);
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL;
    if (ad_api_str(r, body, "name", true, 200, &name) != 0) {
        json_decref(body);
        return;
    }
    if (strspn(name, " \t\r\n") == strlen(name)) {
        ad_api_invalid(r, "name", "must not be empty");
        json_decref(body);
        return;
    }
    rename_t *k = ad_xcalloc(1, sizeof(*k));
    k->app = app;
    k->req = r;
    snprintf(k->id, sizeof(k->id), "%s", ad_req_param(r, "id"));
    ad_store_crew_t row = {.now = (int64_t)ad_wall_ms()};
    snprintf(row.id, sizeof(row.id), "%s", k->id);
    snprintf(row.name, sizeof(row.name), "%s", name);
    json_decref(body);
    ad_store_crew_rename(app->store, &row, renamed, k);
}

/* ---- start all, stop all ------------------------------------------------------------ */

/* The crew's agents that are not archived: a new reference (array). */
static json_t *crew_agents(ad_app_t *app, json_t *crew, int *rc)
{
    json_t *all = NULL;
    *rc = ad_store_agent_list(app->store, NULL, NULL, false, ad_api_jstr(crew, "orgId"), &all);
    if (*rc != 0) {
        return NULL;
    }
    json_t *mine = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(all, "agents"), i, a)
    {
        const char *crew_id = ad_api_jstr(a, "crewId");
        if (crew_id != NULL && strcmp(crew_id, ad_api_jstr(crew, "id")) == 0) {
            json_array_append(mine, a);
        }
    }
    json_decref(all);
    return mine;
}

static void crew_all(ad_req_t *r, ad_app_t *app, bool start, bool force, const char *prompt)
{
    json_t *crew = ad_api_crew_load(app, r);
    if (crew == NULL) {
        return;
    }
    int rc = 0;
    json_t *agents = crew_agents(app, crew, &rc);
    if (agents == NULL) {
        json_decref(crew);
        ad_api_fail(r, rc, "agents", NULL);
        return;
    }
    json_t *done = json_array(), *skipped = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        const char *id = ad_api_jstr(a, "id");
        char err[256] = "";
        bool running = ad_runner_is_running(app->runner, id);
        if (start && running) {
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "id", id, "reason", "running"));
            continue;
        }
        if (!start && !running) {
            continue;
        }
        rc = start ? ad_runner_start(app->runner, id, prompt, NULL, NULL, err, sizeof(err))
                   : ad_runner_stop(app->runner, id, force, NULL, NULL);
        if (rc == 0) {
            json_array_append_new(done, json_string(id));
        } else {
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "id", id, "reason",
                                                     err[0] ? err : ad_strerror(rc)));
        }
    }
    ad_res_json(r, 200,
                json_pack("{s:s, s:o, s:o}", "crewId", ad_api_jstr(crew, "id"),
                          start ? "started" : "stopping", done, "skipped", skipped));
    json_decref(agents);
    json_decref(crew);
}

static void crew_start(ad_req_t *r, void *ud)
{
    bool failed = false;
    json_t *body = ad_api_body_optional(r, &failed);
    const char *prompt = NULL;
    if (!failed && ad_api_str(r, body, "initialPrompt", false, 1 << 20, &prompt) == 0) {
        crew_all(r, ud, true, false, prompt);
    }
    json_decref(body);
}

static void crew_stop(ad_req_t *r, void *ud)
{
    bool force = false;
    if (ad_api_query_bool(r, "force", false, &force) == 0) {
        crew_all(r, ud, false, force, NULL);
    }
}

void ad_api_crew_ops_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "PATCH", "/api/crews/:id", AD_ACCESS_WRITE, crew_patch, app);
    ad_server_route(s, "POST", "/api/crews/:id/start", AD_ACCESS_ADMIN, crew_start, app);
    ad_server_route(s, "POST", "/api/crews/:id/stop", AD_ACCESS_WRITE, crew_stop, app);
}
