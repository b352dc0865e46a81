/* SPDX-License-Identifier: MIT */
/*
 * `agentd sandbox check [-- COMMAND...]`: the daemon tries COMMAND in an
 * agent's sandbox the way an agent runs it (POST /api/requirements/sandbox:
 * resolved on the agent's PATH, its toolchain shown, the agent's env), and
 * this prints what it resolved to, what the sandbox showed, whether it
 * started and what it printed; without a command, each agent CLI's line of
 * GET /api/requirements (does it start in the sandbox). --worktree NAME|ID
 * (or --agent NAME|ID: that agent's worktree) checks in that worktree
 * instead of an empty scratch one, as its agents run: a relative program
 * is found in it, as its organisation's agents see the machine. Exit 0
 * when it ran and exited 0 (every CLI found starts), 1 otherwise.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static void print_indented(const char *text)
{
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        printf("  %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/* The worktree id --worktree or --agent names, into id ("" for neither):
 * 0, or the exit code after saying why. */
static int worktree_of(ad_cli_t *c, const char *wt, const char *agent, char *id, size_t idsz)
{
    id[0] = '\0';
    if (wt != NULL && agent != NULL) {
        fprintf(stderr, "%s: give --worktree or --agent, not both\n", c->prog);
        return 2;
    }
    if (wt != NULL) {
        return ad_cli_resolve(c, AD_CLI_WORKTREE, wt, id, idsz);
    }
    if (agent == NULL) {
        return 0;
    }
    char aid[128], url[200];
    int rc = ad_cli_resolve(c, AD_CLI_AGENT, agent, aid, sizeof(aid));
    if (rc != 0) {
        return rc;
    }
    snprintf(url, sizeof(url), "/api/agents/%s", aid);
    json_t *a = ad_cli_call(c, "GET", url, NULL, &rc);
    if (a == NULL) {
        return rc;
    }
    snprintf(id, idsz, "%s", str(a, "worktreeId"));
    json_decref(a);
    if (id[0] == '\0') {
        fprintf(stderr, "%s: agent %s has no worktree to check in\n", c->prog, agent);
        return 1;
    }
    return 0;
}

static int command(ad_cli_t *c, int argc, char **argv, const char *wt_id)
{
    json_t *cmd = json_array();
    for (int i = c->rest; i < argc; i++) {
        json_array_append_new(cmd, json_string(argv[i]));
    }
    json_t *body = json_pack("{s:o}", "command", cmd);
    if (wt_id[0] != '\0') {
        json_object_set_new(body, "worktreeId", json_string(wt_id));
    }
    int rc = 0;
    json_t *j = ad_cli_call(c, "POST", "/api/requirements/sandbox", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    bool ok = json_is_true(json_object_get(j, "ok"));
    if (c->json) {
        ad_cli_print_json(j);
        json_decref(j);
        return ok ? 0 : 1;
    }
    printf("program:  %s\n", str(j, "program")[0] != '\0' ? str(j, "program") : "(not found)");
    printf("PATH:     %s\n", str(j, "agentPath"));
    printf("shown (besides the system, /usr /etc /bin /lib, read-only):\n");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(j, "shown"), i, b)
    {
        const char *from = str(b, "from");
        printf("  %-10s %s%s%s\n", str(b, "mode"), str(b, "at"), from[0] != '\0' ? "  <- " : "",
               from);
    }
    json_t *code = json_object_get(j, "exitCode");
    if (json_is_integer(code)) {
        printf("started:  %s, exit %lld\n",
               json_is_true(json_object_get(j, "started")) ? "yes" : "no",
               (long long)json_integer_value(code));
    } else {
        printf("started:  no\n");
    }
    if (str(j, "error")[0] != '\0') {
        printf("error:    %s\n", str(j, "error"));
    }
    if (str(j, "output")[0] != '\0') {
        printf("output:\n");
        print_indented(str(j, "output"));
    }
    printf("%s\n", ok ? "ok: it runs in the sandbox as an agent would run it"
                      : "not ok: an agent running it would fail the same way (a path it needs "
                        "can be shown with --sandbox-paths or the agent's sandbox paths)");
    json_decref(j);
    return ok ? 0 : 1;
}

static int check(ad_cli_t *c, int argc, char **argv)
{
    const char *wt = NULL, *agent = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--worktree", true, &wt, NULL},
                             {"--agent", true, &agent, NULL}};
    c->allow_rest = true;
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    if ((wt != NULL || agent != NULL) && c->rest >= argc) {
        fprintf(stderr,
                "%s: --worktree and --agent check a COMMAND: agentd sandbox check "
                "--worktree NAME -- COMMAND\n",
                c->prog);
        return 2;
    }
    if (c->rest < argc) {
        char id[128];
        rc = worktree_of(c, wt, agent, id, sizeof(id));
        return rc != 0 ? rc : command(c, argc, argv, id);
    }
    json_t *j = ad_cli_call(c, "GET", "/api/requirements?refresh=true", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    bool ok = true;
    size_t i;
    json_t *it, *lines = json_array();
    json_array_foreach(json_object_get(j, "items"), i, it)
    {
        const char *id = str(it, "id");
        size_t n = strlen(id);
        if (strcmp(id, "sandbox") != 0 && (n < 8 || strcmp(id + n - 8, "-sandbox") != 0)) {
            continue;
        }
        json_array_append(lines, it);
        ok = ok && strcmp(str(it, "status"), "ok") == 0;
    }
    if (c->json) {
        ad_cli_print_json(lines);
    } else {
        json_array_foreach(lines, i, it)
        {
            bool good = strcmp(str(it, "status"), "ok") == 0;
            printf("%s %s: %s\n", good ? "ok  " : "FAIL", str(it, "name"), str(it, "value"));
            if (!good && str(it, "fix")[0] != '\0') {
                printf("     %s\n", str(it, "fix"));
            }
        }
    }
    json_decref(lines);
    json_decref(j);
    return ok ? 0 : 1;
}

int ad_cli_sandbox(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"check", check}};
    return ad_cli_subcommand(
        c, "sandbox", subs, AD_ARRAY_LEN(subs), NULL,
        "usage: agentd sandbox check [--worktree WT | --agent AGENT] [-- COMMAND...] "
        "(agentd sandbox --help)",
        argc, argv);
}
