/* SPDX-License-Identifier: MIT */
/*
 * GET /api/requirements[?refresh=true]: what agentd needs from this
 * machine, checked by src/monitor on the thread pool. It runs git and the
 * agent CLIs with --version, so like anything that starts a program it
 * needs an admin token. The answer is kept for a minute (checking takes a
 * second or two); refresh=true checks again.
 */
#include "api/api_int.h"
#include "monitor/monitor.h"

static void checked(json_t *answer, void *ud)
{
    if (answer == NULL) {
        ad_res_error(ud, 503, "UNAVAILABLE", NULL, "the check was cancelled");
    } else {
        ad_res_json(ud, 200, json_incref(answer));
    }
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    bool refresh = false;
    if (ad_api_query_bool(r, "refresh", false, &refresh) != 0) {
        return;
    }
    json_t *kept = NULL;
    if (ad_monitor_requirements(app->monitor, refresh, &kept, checked, r) != 0) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "cannot queue the check");
    } else if (kept != NULL) {
        ad_res_json(r, 200, kept);
    }
}

/* POST /api/requirements/sandbox {command: [program, args…], orgId?,
 * worktreeId?}: the command tried in a sandbox as the org's agents run
 * (src/monitor/sbxcheck.c), in that worktree (its org's; another's is 404). */
static void sandbox_check(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    char org[AD_ID_MAX];
    const char *why = NULL, *wt = NULL;
    if (body != NULL && ad_api_org_for(app, r, body, org) == 0 &&
        ad_api_str(r, body, "worktreeId", false, AD_ID_MAX - 1, &wt) == 0 &&
        (wt == NULL || ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, wt, org))) {
        int rc = ad_monitor_sandbox_check(app->monitor, json_object_get(body, "command"), wt, org,
                                          checked, r, &why);
        if (rc == AD_EINVAL) {
            ad_api_invalid(r, "command", why);
        } else if (rc != 0) {
            ad_res_error(r, 503, "UNAVAILABLE", NULL, "%s", why);
        }
    }
    json_decref(body);
}

void ad_api_requirements_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/requirements", AD_ACCESS_ADMIN, get, app);
    ad_server_route(app->server, "POST", "/api/requirements/sandbox", AD_ACCESS_ADMIN,
                    sandbox_check, app);
}
