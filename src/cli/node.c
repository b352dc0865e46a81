/* SPDX-License-Identifier: MIT */
/*
 * agentd node ls: the worker nodes the control plane knows (issue #34,
 * docs/nodes.md), from GET /api/nodes. `agentd node --join …` is not a
 * client command: main.c runs the node's role (src/node) for it.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

static int node_ls(ad_cli_t *c, int argc, char **argv)
{
    int rc = 0;
    json_t *j = ad_cli_list(c, argc, argv, "/api/nodes", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-30s %-20s %-12s %-5s %-24s %s\n", "ID", "NAME", "STATE", "RUNS", "LAST SEEN",
           "LABELS");
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(j, "nodes"), i, n)
    {
        char labels[256] = "";
        size_t off = 0;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(n, "labels"), k, v)
        {
            int w = snprintf(labels + off, sizeof(labels) - off, "%s%s=%s", off ? "," : "", k,
                             json_string_value(v) ? json_string_value(v) : "");
            off = w > 0 && (size_t)w < sizeof(labels) - off ? off + (size_t)w : off;
        }
        printf("%-30s %-20s %-12s %-5lld %-24s %s\n", ad_cli_str(n, "id", "?"),
               ad_cli_str(n, "name", ""), ad_cli_str(n, "state", ""),
               (long long)json_integer_value(json_object_get(n, "runs")),
               ad_cli_str(n, "lastSeenAt", ""), labels);
    }
    json_decref(j);
    return 0;
}

int ad_cli_node(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"ls", node_ls}};
    return ad_cli_subcommand(c, "node", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd node ls [--json] | agentd node --join URL ...", argc,
                             argv);
}
