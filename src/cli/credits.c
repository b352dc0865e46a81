/* SPDX-License-Identifier: MIT */
/*
 * `agentd credits`: an organisation's credit balance and grants, and
 * `agentd credits grant ORG AMOUNT` (the owner's; the CLI speaks over the
 * unix socket, which is the owner's). The daemon does the work
 * (src/api/credits.c).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int credits_grant(ad_cli_t *c, int argc, char **argv)
{
    const char *note = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--note", true, &note, NULL}};
    const char *pos[2];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 2, &npos);
    if (rc != 0) {
        return rc;
    }
    char *end = NULL;
    double amount = npos == 2 ? strtod(pos[1], &end) : 0;
    if (npos != 2 || end == pos[1] || *end != '\0' || !isfinite(amount) || amount == 0) {
        return ad_cli_usage(c, "usage: agentd credits grant ORG AMOUNT [--note TEXT] (AMOUNT: "
                               "credits, one per US dollar; negative takes some back)");
    }
    char path[256], enc[200];
    ad_cli_url_encode(pos[0], enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/orgs/%s/credits", enc);
    json_t *body = json_pack("{s:f}", "amount", amount);
    if (note != NULL) {
        json_object_set_new(body, "note", json_string(note));
    }
    json_t *j = ad_cli_call(c, "POST", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        printf("granted %.2f credits to %s (%s)\n", json_number_value(json_object_get(j, "amount")),
               ad_cli_str(j, "orgId", "?"), ad_cli_str(j, "id", "?"));
    }
    json_decref(j);
    return 0;
}

static int credits_show(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    char path[256] = "/api/credits", enc[200];
    if (npos == 1) {
        ad_cli_url_encode(pos[0], enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/credits?orgId=%s", enc);
    }
    json_t *j = ad_cli_call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
        json_decref(j);
        return 0;
    }
    static const char *const keys[] = {"balance", "earned", "spent", "pending"};
    printf("%s\n", ad_cli_str(j, "orgId", "?"));
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        printf("  %-8s %12.2f\n", keys[i], json_number_value(json_object_get(j, keys[i])));
    }
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(j, "grantList"), i, g)
    {
        printf("  %-24s %12.2f  %s  %s\n", ad_cli_str(g, "createdAt", ""),
               json_number_value(json_object_get(g, "amount")), ad_cli_str(g, "grantedBy", ""),
               ad_cli_str(g, "note", ""));
    }
    json_decref(j);
    return 0;
}

int ad_cli_credits(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"grant", credits_grant}, {"show", credits_show}};
    return ad_cli_subcommand(c, "credits", subs, AD_ARRAY_LEN(subs), credits_show, NULL, argc,
                             argv);
}
