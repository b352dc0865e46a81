/* SPDX-License-Identifier: MIT */
/* Why an agent has its status (issue #33): GET /api/agents/:id/status-history,
 * the agent's recent changes of status with their reasons, newest first.
 * The current one is the agent's statusReason (src/tables/status.c). */
#include "api/api_int.h"
#include "tables/runs.h"

#include <stdlib.h>

static void status_history(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    long limit = 50;
    const char *ls = ad_req_query(r, "limit");
    if (ls != NULL && ls[0] != '\0') {
        char *end = NULL;
        limit = strtol(ls, &end, 10);
        if (*end != '\0' || limit < 1 || limit > 200) {
            ad_res_error(r, 422, "VALIDATION_ERROR",
                         json_pack("{s:s, s:s}", "field", "limit", "reason", "1 to 200"),
                         "limit must be a whole number from 1 to 200");
            return;
        }
    }
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_status_history(app->store, id, (int)limit, &out);
    ad_api_answer(r, rc, out, "agent", id);
}

void ad_api_status_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/agents/:id/status-history", AD_ACCESS_READ,
                    status_history, app);
}
