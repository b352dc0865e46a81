/* SPDX-License-Identifier: MIT */
/*
 * `agentd import claude-manager.db`: brings a Claude Manager install's
 * database into the running daemon (POST /api/import over the unix socket,
 * which is the owner's) and prints what became of every row, per table.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

int ad_cli_import(ad_cli_t *c, int argc, char **argv)
{
    const char *org = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--org", true, &org, NULL}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd import PATH/claude-manager.db [--org ORG] [--json]");
    }
    char abs[PATH_MAX];
    if (realpath(pos[0], abs) == NULL) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof(msg), "%s: no such file", pos[0]);
        return ad_cli_fail(c, msg);
    }
    json_t *body = json_pack("{s:s}", "path", abs);
    if (org != NULL) {
        json_object_set_new(body, "orgId", json_string(org));
    }
    json_t *j = ad_cli_call(c, "POST", "/api/import", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
        json_decref(j);
        return 0;
    }
    printf("%-16s %8s %8s %8s %8s\n", "TABLE", "SOURCE", "IMPORTED", "PRESENT", "SKIPPED");
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(j, "tables"), name, t)
    {
        printf("%-16s %8lld %8lld %8lld %8lld\n", name,
               (long long)json_integer_value(json_object_get(t, "source")),
               (long long)json_integer_value(json_object_get(t, "imported")),
               (long long)json_integer_value(json_object_get(t, "present")),
               (long long)json_integer_value(json_object_get(t, "skipped")));
    }
    json_t *total = json_object_get(j, "total");
    long long skipped = (long long)json_integer_value(json_object_get(total, "skipped"));
    if (skipped > 0) {
        fprintf(stderr,
                "%lld rows were skipped: a parent that was not imported, an id agentd does not "
                "take, or a value its schema refuses (see --json)\n",
                skipped);
    }
    json_decref(j);
    return 0;
}
