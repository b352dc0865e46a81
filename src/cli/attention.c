/* SPDX-License-Identifier: MIT */
/*
 * What a waiting agent's status means to the user, for `agentd ls`
 * (issue #32): it needs you (a tool call held for approval, a question) or
 * it has only finished its turn and waits for a next message. The stored
 * status says "waiting" for both; the agent's pending approvals tell them
 * apart, as does the reason its state keeps.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

/* Whether agent id has an approval pending (false when that cannot be
 * asked: the table then says turn done rather than fail). */
static bool has_pending(ad_cli_t *c, const char *id)
{
    char enc[200], path[400];
    long status = 0;
    int rc = 0;
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/approvals?pending=true", enc);
    json_t *j = ad_cli_call_any(c, "GET", path, NULL, &status, &rc);
    bool pending = status == 200 && json_array_size(json_object_get(j, "approvals")) > 0;
    json_decref(j);
    return pending;
}

const char *ad_cli_status_word(ad_cli_t *c, json_t *agent, int *asks_left)
{
    if (json_is_string(json_object_get(agent, "deletedAt"))) {
        return "archived"; /* whatever its last status was */
    }
    const char *st = ad_cli_str(agent, "status", "");
    if (strcmp(st, "waiting") != 0) {
        return st;
    }
    const char *why = ad_cli_str(json_object_get(agent, "state"), "statusReason", "");
    if (strcmp(why, "approval") == 0 || strcmp(why, "question") == 0) {
        return "needs you";
    }
    if (*asks_left <= 0) {
        return "waiting"; /* past the bound of requests one table makes */
    }
    (*asks_left)--;
    return has_pending(c, ad_cli_str(agent, "id", "")) ? "needs you" : "turn done";
}
