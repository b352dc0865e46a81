/* SPDX-License-Identifier: MIT */
/*
 * agentd node token create|ls|revoke (issue #77, docs/nodes.md
 * "Registration tokens"): short-lived registration tokens a node trades
 * for its own key (POST/GET/DELETE /api/nodes/registration-tokens). create
 * prints the token alone on stdout (it is shown this once), what it is
 * good for on stderr.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 600, 90s, 10m, 12h, 7d: seconds, or 0 when it is none of those. */
static long long seconds_of(const char *s)
{
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0 || n > 1000000000LL || (end[0] != '\0' && end[1] != '\0')) {
        return 0;
    }
    switch (*end) {
    case '\0':
    case 's':
        return n;
    case 'm':
        return n * 60;
    case 'h':
        return n * 3600;
    case 'd':
        return n * 86400;
    default:
        return 0;
    }
}

/* k=v[,k=v...] into body's labels: 0, or -1 when malformed. */
static int put_labels(json_t *body, const char *text)
{
    json_t *o = json_object();
    char *copy = strdup(text), *save = NULL;
    int rc = 0;
    for (char *kv = strtok_r(copy, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            rc = -1;
            break;
        }
        *eq = '\0';
        json_object_set_new(o, kv, json_string(eq + 1));
    }
    free(copy);
    if (rc == 0) {
        json_object_set_new(body, "labels", o);
    } else {
        json_decref(o);
    }
    return rc;
}

static int token_create(ad_cli_t *c, int argc, char **argv)
{
    const char *ttl = NULL, *uses = NULL, *labels = NULL, *org = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--ttl", true, &ttl, NULL},
                             {"--max-uses", true, &uses, NULL}, {"--label", true, &labels, NULL},
                             {"--labels", true, &labels, NULL}, {"--org", true, &org, NULL}};
    static const char usage[] = "usage: agentd node token create [--ttl 10m] [--max-uses N] "
                                "[--label k=v[,k=v...]] [--org ID] [--json]";
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    json_t *body = json_object();
    long long secs = ttl != NULL ? seconds_of(ttl) : 600;
    char *end = NULL;
    long long n = uses != NULL ? strtoll(uses, &end, 10) : 1;
    if (secs == 0 || (uses != NULL && (end == uses || *end != '\0' || n < 1)) ||
        (labels != NULL && put_labels(body, labels) != 0)) {
        json_decref(body);
        return ad_cli_usage(c, usage);
    }
    json_object_set_new(body, "ttlSeconds", json_integer(secs));
    json_object_set_new(body, "maxUses", json_integer(n));
    if (org != NULL) {
        json_object_set_new(body, "orgId", json_string(org));
    }
    json_t *j = ad_cli_call(c, "POST", "/api/nodes/registration-tokens", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        json_t *row = json_object_get(j, "registrationToken");
        printf("%s\n", ad_cli_str(j, "token", ""));
        fprintf(stderr,
                "registration token %s: %lld use(s), expires %s (shown once: agentd node --join "
                "URL --registration-token-file FILE)\n",
                ad_cli_str(row, "id", "?"),
                (long long)json_integer_value(json_object_get(row, "maxUses")),
                ad_cli_str(row, "expiresAt", "?"));
    }
    json_decref(j);
    return 0;
}

static int token_ls(ad_cli_t *c, int argc, char **argv)
{
    int rc = 0;
    json_t *j = ad_cli_list(c, argc, argv, "/api/nodes/registration-tokens", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-30s %-8s %-6s %-24s %s\n", "ID", "STATE", "USES", "EXPIRES", "CREATED BY");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(j, "registrationTokens"), i, t)
    {
        char uses[32];
        snprintf(uses, sizeof(uses), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(t, "uses")),
                 (long long)json_integer_value(json_object_get(t, "maxUses")));
        printf("%-30s %-8s %-6s %-24s %s\n", ad_cli_str(t, "id", "?"), ad_cli_str(t, "state", ""),
               uses, ad_cli_str(t, "expiresAt", ""), ad_cli_str(t, "createdBy", ""));
    }
    json_decref(j);
    return 0;
}

static int token_revoke(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || strlen(pos[0]) > 64) {
        return ad_cli_usage(c, "usage: agentd node token revoke ID");
    }
    char path[128];
    snprintf(path, sizeof(path), "/api/nodes/registration-tokens/%s", pos[0]);
    json_t *j = ad_cli_call(c, "DELETE", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        printf("revoked %s\n", pos[0]);
    }
    json_decref(j);
    return 0;
}

int ad_cli_node_token(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {
        {"create", token_create}, {"ls", token_ls}, {"revoke", token_revoke}};
    return ad_cli_subcommand(c, "node token", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd node token create [--ttl 10m] [--max-uses N] "
                             "[--label k=v] | ls | revoke ID",
                             argc, argv);
}
