/* SPDX-License-Identifier: MIT */
/*
 * `agentd sessions [ls]`: the CLIs' own sessions on this machine (issue
 * #76: Claude Code's and Codex's session files in the daemon user's HOME),
 * newest first; `agentd sessions adopt TOOL ID`: an agent of one, in the
 * worktree it ran in, with its transcript, resumed at its next start. The
 * daemon does the work (src/api/external.c, docs/sessions.md).
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
    int rc;
    json_t *j = ad_cli_list(c, argc, argv, "/api/sessions/external", &rc);
    if (j == NULL) {
        return rc;
    }
    printf("%-6s %-36s %-4s %-24s %-14s %s\n", "TOOL", "SESSION", "LIVE", "LAST ACTIVITY", "BRANCH",
           "FOLDER / FIRST MESSAGE");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "sessions"), i, s)
    {
        printf("%-6s %-36s %-4s %-24s %-14s %s\n", ad_cli_str(s, "tool", "?"),
               ad_cli_str(s, "sessionId", "?"),
               json_is_true(json_object_get(s, "live")) ? "yes" : "",
               ad_cli_str(s, "lastActivity", ""), ad_cli_str(s, "gitBranch", ""),
               ad_cli_str(s, "cwd", ""));
        printf("%-6s %-36s %-4s %-24s %-14s ", "", "", "", "", "");
        one_line(ad_cli_str(s, "firstMessage", ""), 72);
        putchar('\n');
    }
    json_decref(j);
    return 0;
}

static int sessions_adopt(ad_cli_t *c, int argc, char **argv)
{
    const char *worktree = NULL, *name = NULL, *mode = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--worktree", true, &worktree, NULL},
                             {"--name", true, &name, NULL},
                             {"--mode", true, &mode, NULL}};
    const char *pos[2];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 2, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 2) {
        return ad_cli_usage(c, "usage: agentd sessions adopt claude|codex SESSION-ID [--worktree "
                               "WT] [--name N] [--mode M] [--json]");
    }
    char wt[200];
    if (worktree != NULL &&
        (rc = ad_cli_resolve(c, AD_CLI_WORKTREE, worktree, wt, sizeof(wt))) != 0) {
        return rc;
    }
    json_t *body = json_pack("{s:s, s:s}", "tool", pos[0], "sessionId", pos[1]);
    ad_cli_set_str(body, "worktreeId", worktree != NULL ? wt : NULL);
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
