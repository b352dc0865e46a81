/* SPDX-License-Identifier: MIT */
/*
 * The Claude Manager seed's REST dialect (issue #40): its client's only
 * setting is its base URL, so everything under /seed/api/... is the same
 * route as /api/... (same guard, scopes and bodies) with the answer put in
 * the seed's words (src/compat/manager.c); GET /agents?status= takes the
 * seed's enum, filtering by the status the seed's client is shown
 * (finished: idle, stopped or finished);
 *   - an answer without a body (204) is 200 with `null`, as the seed's
 *     request() reads JSON from every answer (src/http, ad_server_set_dialect).
 * agentd's own /api/... answers are unchanged.
 */
#include "api/api_int.h"
#include "compat/compat.h"

static void seed_dialect(const ad_req_t *r, int status, json_t *body, void *ud)
{
    AD_UNUSED(ud);
    if (status < 300) {
        ad_compat_manager_answer(ad_req_route(r), body);
    }
}

int ad_api_seed_status_filter(ad_req_t *r, const char **status, const char **seed_status)
{
    *seed_status = NULL;
    if (*status == NULL || !ad_req_dialect(r)) {
        return 0;
    }
    if (!ad_field_choice(AD_COMPAT_MANAGER_STATUSES, *status)) {
        return ad_api_invalid(r, "status", "must be one of " AD_COMPAT_MANAGER_STATUSES);
    }
    *seed_status = *status;
    *status = NULL;
    return 0;
}

void ad_api_seed_register(ad_app_t *app)
{
    ad_server_set_dialect(app->server, "/seed", seed_dialect, app);
}
