/* SPDX-License-Identifier: MIT */
/*
 * agentd move AGENT (--node NAME | --plane) (issue #76, docs/nodes.md
 * "Moving a live agent"): POST /api/agents/:id/move, then where it runs
 * now. A refusal is the daemon's message (its reason in --json).
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

int ad_cli_move(ad_cli_t *c, int argc, char **argv)
{
    const char *node = NULL;
    bool plane = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--node", true, &node, NULL},
                             {"--plane", false, NULL, &plane}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || (node == NULL) == !plane) {
        return ad_cli_usage(c, "usage: agentd move ID|NAME (--node NAME | --plane)");
    }
    char resolved[200], enc[200], path[300];
    rc = ad_cli_resolve(c, AD_CLI_AGENT, pos[0], resolved, sizeof(resolved));
    if (rc != 0) {
        return rc;
    }
    ad_cli_url_encode(resolved, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/move", enc);
    json_t *body = json_pack("{s:o}", "node", node != NULL ? json_string(node) : json_null());
    json_t *j = ad_cli_call(c, "POST", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        json_t *m = json_object_get(j, "moved");
        const char *to = ad_cli_str(m, "toName", NULL);
        printf("%s moved to %s%s\n", resolved, to != NULL ? "node " : "the control plane",
               to != NULL ? to : "");
        if (!json_is_true(json_object_get(m, "restarted"))) {
            printf("it was not running: it runs there from its next start\n");
        }
    }
    json_decref(j);
    return 0;
}
