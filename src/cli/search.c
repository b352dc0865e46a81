/* SPDX-License-Identifier: MIT */
/*
 * `agentd search QUERY [--agent A] [--worktree W] [--since T] [--limit N]
 * [--json]` (issue #76): GET /api/search, each hit as a line (time, agent,
 * kind, message id) and its snippet below it, the matches in bold on a
 * terminal. The daemon does the search (src/tables/search.c); agents and
 * worktrees go by id or name (resolve.c). A snippet's control bytes are
 * printed as blanks, so stored output cannot drive the terminal.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

/* Whether UTF-16 offset u falls in one of hit's highlight ranges. */
static bool in_range(json_t *ranges, size_t u)
{
    size_t i;
    json_t *r;
    json_array_foreach(ranges, i, r)
    {
        json_int_t s = json_integer_value(json_array_get(r, 0));
        json_int_t e = json_integer_value(json_array_get(r, 1));
        if ((json_int_t)u >= s && (json_int_t)u < e) {
            return true;
        }
    }
    return false;
}

/* The snippet on one line: blanks for control bytes, the ranges in bold
 * when colour is wanted (else as they are). */
static void put_snippet(json_t *hit, bool colour)
{
    const unsigned char *s = (const unsigned char *)ad_cli_str(hit, "snippet", "");
    json_t *ranges = json_object_get(hit, "highlights");
    size_t u = 0;
    bool bold = false;
    fputs("    ", stdout);
    for (; *s != '\0'; s++) {
        if ((*s & 0xc0) != 0x80) { /* a code point starts: is it marked? */
            bool want = colour && in_range(ranges, u);
            if (want != bold) {
                fputs(want ? "\033[1m" : "\033[0m", stdout);
                bold = want;
            }
            u += *s >= 0xf0 ? 2 : 1;
        }
        putchar(*s < 0x20 || *s == 0x7f ? ' ' : *s);
    }
    fputs(bold ? "\033[0m\n" : "\n", stdout);
}

/* The query string's filters: a name resolved to its id, then encoded. */
static int add_filter(ad_cli_t *c, ad_cli_kind_t kind, const char *key, const char *want,
                      char *path, size_t pathsz)
{
    if (want == NULL) {
        return 0;
    }
    char id[256], enc[800];
    int rc = ad_cli_resolve(c, kind, want, id, sizeof(id));
    if (rc != 0) {
        return rc;
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    size_t n = strlen(path);
    snprintf(path + n, pathsz - n, "&%s=%s", key, enc);
    return 0;
}

int ad_cli_search(ad_cli_t *c, int argc, char **argv)
{
    const char *agent = NULL, *worktree = NULL, *since = NULL, *limit = NULL, *offset = NULL;
    ad_cli_flag_t flags[] = {
        {"--json", false, NULL, &c->json},     {"--agent", true, &agent, NULL},
        {"--worktree", true, &worktree, NULL}, {"--since", true, &since, NULL},
        {"--limit", true, &limit, NULL},       {"--offset", true, &offset, NULL}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd search QUERY [--agent A] [--worktree W] [--since "
                               "T] [--limit N] [--offset N] [--json]");
    }
    char path[4096], enc[1600];
    ad_cli_url_encode(pos[0], enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/search?q=%s", enc);
    const char *plain[][2] = {{"since", since}, {"limit", limit}, {"offset", offset}};
    for (size_t i = 0; i < AD_ARRAY_LEN(plain); i++) {
        if (plain[i][1] != NULL) {
            char v[200];
            ad_cli_url_encode(plain[i][1], v, sizeof(v));
            size_t n = strlen(path);
            snprintf(path + n, sizeof(path) - n, "&%s=%s", plain[i][0], v);
        }
    }
    if ((rc = add_filter(c, AD_CLI_AGENT, "agent", agent, path, sizeof(path))) != 0 ||
        (rc = add_filter(c, AD_CLI_WORKTREE, "worktree", worktree, path, sizeof(path))) != 0) {
        return rc;
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
    bool colour = ad_cli_colour_wanted();
    size_t i;
    json_t *hit;
    json_t *results = json_object_get(j, "results");
    json_array_foreach(results, i, hit)
    {
        char when[20];
        snprintf(when, sizeof(when), "%s", ad_cli_str(hit, "createdAt", ""));
        if (strlen(when) > 10) {
            when[10] = ' ';
        }
        printf("%s  %-20s  %-11s  %s\n", when, ad_cli_str(hit, "agentName", "?"),
               ad_cli_str(hit, "kind", "?"), ad_cli_str(hit, "messageId", "?"));
        put_snippet(hit, colour);
    }
    json_t *next = json_object_get(j, "nextOffset");
    if (json_array_size(results) == 0) {
        printf("no messages match\n");
    } else if (json_is_integer(next)) {
        printf("more: --offset %lld\n", (long long)json_integer_value(next));
    }
    json_decref(j);
    return 0;
}
