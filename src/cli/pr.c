/* SPDX-License-Identifier: MIT */
/*
 * `agentd pr create WT --title T [--body B] [--draft]` and `agentd pr
 * status WT`: a worktree's pull request (POST/GET /api/worktrees/:id/pr);
 * `agentd pr loop WT [--agent A [--max-turns N] [--no-checks]
 * [--no-reviews] | --off]`: its feedback loop (/pr/loop, issue #75).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The worktree's /pr path; 0 or the exit code after a message. */
static int pr_path(ad_cli_t *c, const char *want, char *out, size_t outsz)
{
    char id[200], enc[300];
    int rc = ad_cli_resolve(c, AD_CLI_WORKTREE, want, id, sizeof(id));
    if (rc != 0) {
        return rc;
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(out, outsz, "/api/worktrees/%s/pr", enc);
    return 0;
}

static void show_opened(json_t *j)
{
    printf("%s #%lld %s (%s into %s)\n",
           json_is_true(json_object_get(j, "existing")) ? "already open:" : "opened",
           (long long)json_integer_value(json_object_get(j, "number")), ad_cli_str(j, "url", "?"),
           ad_cli_str(j, "head", "?"), ad_cli_str(j, "base", "?"));
}

static int pr_create(ad_cli_t *c, int argc, char **argv)
{
    const char *title = NULL, *text = NULL;
    bool draft = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--title", true, &title, NULL},
                             {"--body", true, &text, NULL},
                             {"--draft", false, NULL, &draft}};
    const char *pos[1];
    char path[400];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || title == NULL) {
        return ad_cli_usage(c, "usage: agentd pr create WT --title TITLE [--body TEXT] [--draft]");
    }
    if ((rc = pr_path(c, pos[0], path, sizeof(path))) != 0) {
        return rc;
    }
    json_t *body = json_pack("{s:s, s:b}", "title", title, "draft", draft);
    ad_cli_set_str(body, "body", text);
    return ad_cli_call_any_show(c, "POST", path, body, show_opened);
}

/* The pull request and its checks. */
static void show_status(json_t *j)
{
    json_t *checks = json_object_get(j, "checks");
    printf("#%lld %s%s %s\n  %s\n", (long long)json_integer_value(json_object_get(j, "number")),
           ad_cli_str(j, "state", "?"), json_is_true(json_object_get(j, "draft")) ? " (draft)" : "",
           ad_cli_str(j, "url", "?"), ad_cli_str(j, "title", ""));
    printf("checks: %s\n", ad_cli_str(checks, "state", "unknown"));
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(checks, "items"), i, it)
    {
        printf("  %-8s %s\n", ad_cli_str(it, "state", "?"), ad_cli_str(it, "name", "?"));
    }
    if (json_object_get(j, "refreshError") != NULL) {
        printf("(last known state: %s)\n", ad_cli_str(j, "refreshError", ""));
    }
}

static int pr_status(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    char path[400];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd pr status WT");
    }
    if ((rc = pr_path(c, pos[0], path, sizeof(path))) != 0) {
        return rc;
    }
    return ad_cli_call_any_show(c, "GET", path, NULL, show_status);
}

/* The loop in a few lines: where it stands, and what it sent. */
static void loop_print(json_t *j)
{
    json_t *why = json_object_get(j, "statusReason");
    printf("loop: %s, turn %lld of %lld, agent %s%s%s\n", ad_cli_str(j, "status", "?"),
           (long long)json_integer_value(json_object_get(j, "turns")),
           (long long)json_integer_value(json_object_get(j, "maxTurns")),
           ad_cli_str(j, "agentId", "?"), why != NULL ? ": " : "", ad_cli_str(why, "text", ""));
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(j, "items"), i, it)
    {
        printf("  turn %-3lld %-6s %-24s %-12s %s\n",
               (long long)json_integer_value(json_object_get(it, "turn")),
               ad_cli_str(it, "kind", "?"), ad_cli_str(it, "name", "?"),
               ad_cli_str(it, "outcome", "?"), ad_cli_str(it, "runId", ""));
    }
}

static int pr_loop(ad_cli_t *c, int argc, char **argv)
{
    const char *agent = NULL, *turns = NULL;
    bool off = false, no_checks = false, no_reviews = false;
    ad_cli_flag_t flags[] = {
        {"--json", false, NULL, &c->json},          {"--agent", true, &agent, NULL},
        {"--max-turns", true, &turns, NULL},        {"--no-checks", false, NULL, &no_checks},
        {"--no-reviews", false, NULL, &no_reviews}, {"--off", false, NULL, &off}};
    const char *pos[1];
    char path[400], id[200];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || (off && agent != NULL)) {
        return ad_cli_usage(c, "usage: agentd pr loop WT [--agent A [--max-turns N] "
                               "[--no-checks] [--no-reviews] | --off]");
    }
    if ((rc = pr_path(c, pos[0], path, sizeof(path))) != 0 ||
        (agent != NULL && (rc = ad_cli_resolve(c, AD_CLI_AGENT, agent, id, sizeof(id))) != 0)) {
        return rc;
    }
    strncat(path, "/loop", sizeof(path) - strlen(path) - 1);
    json_t *body = NULL;
    if (agent != NULL) {
        body = json_pack("{s:s, s:b, s:b}", "agentId", id, "checks", !no_checks, "reviews",
                         !no_reviews);
        if (turns != NULL) {
            json_object_set_new(body, "maxTurns", json_integer(strtoll(turns, NULL, 10)));
        }
    }
    return ad_cli_call_any_show(c,
                                off             ? "DELETE"
                                : agent != NULL ? "PUT"
                                                : "GET",
                                path, body, loop_print);
}

int ad_cli_pr(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {
        {"create", pr_create}, {"status", pr_status}, {"loop", pr_loop}};
    return ad_cli_subcommand(c, "pr", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd pr create|status|loop WT ... (agentd pr --help)", argc,
                             argv);
}
