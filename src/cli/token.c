/* SPDX-License-Identifier: MIT */
/*
 * agentd token create|ls|revoke|rotate-owner and agentd login: API tokens
 * and a dashboard sign-in URL, over the daemon's unix socket.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ----------------------------------------------------------------- */

/* "3600", "90m", "12h", "30d" -> seconds; 0 on anything else. */
static long long parse_duration(const char *s)
{
    char *end = NULL;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0) {
        return 0;
    }
    long long unit = 1;
    if (*end == 'm') {
        unit = 60;
    } else if (*end == 'h') {
        unit = 3600;
    } else if (*end == 'd') {
        unit = 86400;
    } else if (*end != '\0' && *end != 's') {
        return 0;
    }
    if (*end != '\0' && end[1] != '\0') {
        return 0;
    }
    return n > INT64_MAX / 86400 ? 0 : n * unit;
}

/* agentd token create NAME [--scope S] [--org ID] [--expires-in D] [--rate N]:
 * the token is printed once, on its own line, and never again. */
static int token_create(ad_cli_t *c, int argc, char **argv)
{
    const char *scope = "read", *org = NULL, *expires = NULL, *rate = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--scope", true, &scope, NULL},
                             {"--org", true, &org, NULL},
                             {"--expires-in", true, &expires, NULL},
                             {"--rate", true, &rate, NULL}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(
            c, "usage: agentd token create NAME [--scope read|write|admin|node] [--org ID] "
               "[--expires-in 30d] [--rate N]");
    }
    json_t *body = json_pack("{s:s, s:s}", "name", pos[0], "scope", scope);
    if (org != NULL) {
        json_object_set_new(body, "orgId", json_string(org));
    }
    if (expires != NULL) {
        long long secs = parse_duration(expires);
        if (secs == 0) {
            json_decref(body);
            return ad_cli_usage(c, "--expires-in takes a duration such as 3600, 90m, 12h or 30d");
        }
        json_object_set_new(body, "expiresInSeconds", json_integer(secs));
    }
    if (rate != NULL) {
        char *end = NULL;
        long long n = strtoll(rate, &end, 10);
        if (end == rate || *end != '\0' || n < 0) {
            json_decref(body);
            return ad_cli_usage(c, "--rate takes a number of requests per minute (0: the default)");
        }
        json_object_set_new(body, "ratePerMinute", json_integer(n));
    }
    json_t *j = ad_cli_call(c, "POST", "/api/tokens", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        fprintf(stderr, "created %s (%s, %s scope, org %s); the token is shown only now:\n",
                ad_cli_str(j, "id", "?"), ad_cli_str(j, "name", ""), ad_cli_str(j, "scope", ""),
                ad_cli_str(j, "orgId", ""));
        printf("%s\n", ad_cli_str(j, "token", ""));
    }
    json_decref(j);
    return 0;
}

static int token_ls(ad_cli_t *c, int argc, char **argv)
{
    int rc = 0;
    json_t *j = ad_cli_list(c, argc, argv, "/api/tokens", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-30s %-20s %-6s %-24s %-20s %s\n", "ID", "NAME", "SCOPE", "ORG", "EXPIRES", "STATE");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(j, "tokens"), i, t)
    {
        const char *state = json_is_string(json_object_get(t, "revokedAt")) ? "revoked" : "active";
        printf("%-30s %-20s %-6s %-24s %-20s %s\n", ad_cli_str(t, "id", "?"),
               ad_cli_str(t, "name", ""), ad_cli_str(t, "scope", ""), ad_cli_str(t, "orgId", ""),
               ad_cli_str(t, "expiresAt", "never"), state);
    }
    json_decref(j);
    return 0;
}

static int token_revoke(ad_cli_t *c, int argc, char **argv)
{
    const char *pos[1];
    int rc = ad_cli_one_id(c, argc, argv, "usage: agentd token revoke ID", pos);
    if (rc != 0) {
        return rc;
    }
    char path[256], enc[200];
    ad_cli_url_encode(pos[0], enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/tokens/%s", enc);
    json_t *j = ad_cli_call(c, "DELETE", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    json_decref(j);
    if (!c->json) {
        printf("revoked %s\n", pos[0]);
    } else {
        printf("{\"id\": \"%s\", \"revoked\": true}\n", enc);
    }
    return 0;
}

/* agentd token rotate-owner: a new owner token, printed once; every
 * session and channel of the old one ends. */
static int token_rotate_owner(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    json_t *j = ad_cli_call(c, "POST", "/api/auth/owner-token/rotate", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        fprintf(stderr, "the owner token is new: its old sessions and connections have ended; "
                        "the token is shown only now:\n");
        printf("%s\n", ad_cli_str(j, "token", ""));
    }
    json_decref(j);
    return 0;
}

json_t *ad_cli_list(ad_cli_t *c, int argc, char **argv, const char *path, int *rc)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos;
    *rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    json_t *j = *rc == 0 ? ad_cli_call(c, "GET", path, NULL, rc) : NULL;
    if (j != NULL && c->json) {
        ad_cli_print_json(j);
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* agentd login: a sign-in URL for the dashboard, carrying a one-time code
 * (asked for over the unix socket, which is the owner's). */
int ad_cli_login(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    json_t *j = ad_cli_call(c, "POST", "/api/auth/login-code", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        fprintf(stderr, "open this in your browser (it works once, within %lld min):\n",
                (long long)json_integer_value(json_object_get(j, "expiresIn")) / 60);
        printf("%s\n", ad_cli_str(j, "url", ""));
    }
    json_decref(j);
    return 0;
}

int ad_cli_token(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"create", token_create},
                                        {"ls", token_ls},
                                        {"revoke", token_revoke},
                                        {"rotate-owner", token_rotate_owner}};
    return ad_cli_subcommand(c, "token", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd token create|ls|revoke|rotate-owner ...", argc, argv);
}
