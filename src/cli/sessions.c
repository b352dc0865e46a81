/* SPDX-License-Identifier: MIT */
/*
 * `agentd sessions [ls] [--node N]`: the CLIs' own sessions on this machine
 * and on the organisation's nodes (issue #76: Claude Code's, Codex's and
 * Gemini CLI's session files in the daemon user's HOME and each node
 * user's), newest first, with the node each is on; `agentd sessions adopt
 * TOOL ID [--node N]`: an agent of one, in the worktree it ran in (or the
 * one named), with its transcript, resumed at its next start (on its node,
 * for a node's). The daemon does the work (src/api/external.c,
 * docs/sessions.md).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

/* At most n bytes of s on one line, newlines as spaces. */
static void one_line(const char *s, int n)
{
    for (int i = 0; s != NULL && s[i] != '\0' && i < n; i++) {
        putchar(s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i]);
    }
}

static int sessions_ls(ad_cli_t *c, int argc, char **argv)
{
    const char *node = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--node", true, &node, NULL}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    char path[200] = "/api/sessions/external";
    if (node != NULL) {
        char enc[160];
        if (strlen(node) > 63) {
            return ad_cli_usage(c, "agentd sessions ls: --node is a node's name or id");
        }
        ad_cli_url_encode(node, enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/sessions/external?node=%s", enc);
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
    printf("%-6s %-36s %-12s %-4s %-24s %-14s %s\n", "TOOL", "SESSION", "NODE", "LIVE",
           "LAST ACTIVITY", "BRANCH", "FOLDER / FIRST MESSAGE");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "sessions"), i, s)
    {
        printf("%-6s %-36s %-12s %-4s %-24s %-14s %s\n", ad_cli_str(s, "tool", "?"),
               ad_cli_str(s, "sessionId", "?"), ad_cli_str(json_object_get(s, "node"), "name", "-"),
               json_is_true(json_object_get(s, "live")) ? "yes" : "",
               ad_cli_str(s, "lastActivity", ""), ad_cli_str(s, "gitBranch", ""),
               ad_cli_str(s, "cwd", ""));
        printf("%-6s %-36s %-12s %-4s %-24s %-14s ", "", "", "", "", "", "");
        one_line(ad_cli_str(s, "firstMessage", ""), 72);
        putchar('\n');
    }
    json_array_foreach(json_object_get(j, "nodes"), i, s)
    {
        if (!json_is_true(json_object_get(s, "listed"))) {
            fprintf(stderr, "node %s: not listed: %s\n", ad_cli_str(s, "name", "?"),
                    ad_cli_str(s, "error", "?"));
        }
    }
    json_decref(j);
    return 0;
}

static int sessions_adopt(ad_cli_t *c, int argc, char **argv)
{
    const char *worktree = NULL, *name = NULL, *mode = NULL, *node = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--worktree", true, &worktree, NULL},
                             {"--node", true, &node, NULL},
                             {"--name", true, &name, NULL},
                             {"--mode", true, &mode, NULL}};
    const char *pos[2];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 2, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 2) {
        return ad_cli_usage(c, "usage: agentd sessions adopt claude|codex|gemini SESSION-ID "
                               "[--node N] [--worktree WT] [--name N] [--mode M] [--json]");
    }
    char wt[200];
    if (worktree != NULL &&
        (rc = ad_cli_resolve(c, AD_CLI_WORKTREE, worktree, wt, sizeof(wt))) != 0) {
        return rc;
    }
    json_t *body = json_pack("{s:s, s:s}", "tool", pos[0], "sessionId", pos[1]);
    ad_cli_set_str(body, "worktreeId", worktree != NULL ? wt : NULL);
    ad_cli_set_str(body, "node", node);
    ad_cli_set_str(body, "name", name);
    ad_cli_set_str(body, "mode", mode);
    return ad_cli_call_show(c, "POST", "/api/sessions/external/adopt", body, ad_cli_show_id);
}

int ad_cli_sessions(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"ls", sessions_ls}, {"adopt", sessions_adopt}};
    return ad_cli_subcommand(c, "sessions", subs, AD_ARRAY_LEN(subs), sessions_ls, NULL, argc,
                             argv);
}
