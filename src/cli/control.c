/* SPDX-License-Identifier: MIT */
/*
 * Commands on one agent: start, send, stop, its approvals (list, approve,
 * deny) and rm. Each makes one or a few REST calls over the daemon's unix
 * socket and prints a one-line summary (or the JSON with --json).
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool looks_like_id(const char *s)
{
    return s != NULL && strlen(s) < 64 && strchr(s, '/') == NULL && strchr(s, '?') == NULL;
}

/* start, send, stop: one POST on an agent, then a one-line summary. */
static int agent_post(ad_cli_t *c, const char *id, const char *action, const char *query,
                      json_t *body, const char *done_word)
{
    char path[512], enc[200], resolved[200];
    int rc = ad_cli_resolve(c, AD_CLI_AGENT, id, resolved, sizeof(resolved));
    if (rc != 0) {
        return rc;
    }
    id = resolved;
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/%s%s", enc, action, query);
    json_t *j = ad_cli_call(c, "POST", path, body, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else if (json_is_true(json_object_get(j, "queued"))) { /* issue #77 */
        json_t *why = json_object_get(json_object_get(j, "agent"), "statusReason");
        printf("%s %s\n", id, ad_cli_str(why, "text", "queued"));
    } else {
        json_t *a = json_object_get(j, "agent") ? json_object_get(j, "agent") : j;
        const char *status = ad_cli_str(a, "status", NULL);
        if (status != NULL && strcmp(status, done_word) != 0) {
            printf("%s %s (status %s)\n", id, done_word, status);
        } else {
            printf("%s %s\n", id, done_word);
        }
    }
    json_decref(j);
    return 0;
}

/* A goal's flags (issue #75): --goal CMD (a shell line, the check),
 * --goal-prompt, --max-turns, --max-cost. */
typedef struct {
    const char *check, *prompt, *turns, *cost;
} goal_flags_t;

#define GOAL_PROMPT_DEFAULT "The goal's check still fails (its output is below): keep going."

/* The goal into body when --goal was given; the numbers are the daemon's
 * to check (422 names the field). */
static void goal_into(json_t *body, const goal_flags_t *g)
{
    if (g->check == NULL) {
        return;
    }
    char *end = NULL;
    json_t *goal = json_pack("{s:[s,s,s], s:s}", "check", "sh", "-c", g->check, "prompt",
                             g->prompt != NULL ? g->prompt : GOAL_PROMPT_DEFAULT);
    long long turns = g->turns != NULL ? strtoll(g->turns, &end, 10) : 10;
    json_object_set_new(goal, "maxTurns",
                        g->turns == NULL || (end != g->turns && *end == '\0')
                            ? json_integer(turns)
                            : json_string(g->turns));
    if (g->cost != NULL) {
        double usd = strtod(g->cost, &end);
        json_object_set_new(goal, "maxCost",
                            end != g->cost && *end == '\0' ? json_real(usd) : json_string(g->cost));
    }
    json_object_set_new(body, "goal", goal);
}

int ad_cli_start(ad_cli_t *c, int argc, char **argv)
{
    const char *config = NULL;
    bool config_flags = false, queue = false;
    goal_flags_t g = {0};
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--config", true, &config, NULL},
                             {"--config-flags", false, NULL, &config_flags},
                             {"--queue", false, NULL, &queue},
                             {"--goal", true, &g.check, NULL},
                             {"--goal-prompt", true, &g.prompt, NULL},
                             {"--max-turns", true, &g.turns, NULL},
                             {"--max-cost", true, &g.cost, NULL}};
    const char *pos[2];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 2, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos < 1) {
        return ad_cli_usage(c, "usage: agentd start ID|NAME [PROMPT]");
    }
    json_t *body = json_object();
    goal_into(body, &g);
    if (npos == 2) {
        json_object_set_new(body, "initialPrompt", json_string(pos[1]));
    }
    if (config != NULL) { /* a hyper-parameter config (issue #16) */
        json_object_set_new(body, "configId", json_string(config));
        json_object_set_new(body, "configFlags", json_boolean(config_flags));
    }
    if (queue) { /* wait for a worker node with room (issue #77) */
        json_object_set_new(body, "queue", json_true());
    }
    rc = agent_post(c, pos[0], "start", "", body, "started");
    json_decref(body);
    return rc;
}

int ad_cli_send(ad_cli_t *c, int argc, char **argv)
{
    goal_flags_t g = {0};
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--goal", true, &g.check, NULL},
                             {"--goal-prompt", true, &g.prompt, NULL},
                             {"--max-turns", true, &g.turns, NULL},
                             {"--max-cost", true, &g.cost, NULL}};
    const char *pos[2];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 2, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 2) {
        return ad_cli_usage(c, "usage: agentd send ID|NAME MESSAGE");
    }
    json_t *body = json_pack("{s:s}", "content", pos[1]);
    goal_into(body, &g);
    rc = agent_post(c, pos[0], "message", "", body, "sent");
    json_decref(body);
    return rc;
}

int ad_cli_stop(ad_cli_t *c, int argc, char **argv)
{
    bool force = false, no_wait = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--force", false, NULL, &force},
                             {"--no-wait", false, NULL, &no_wait}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd stop [--force] [--no-wait] ID|NAME");
    }
    /* The daemon answers "stopping" at once; by default we wait for the end. */
    const char *q =
        force ? (no_wait ? "?force=true" : "?force=true&wait=true") : (no_wait ? "" : "?wait=true");
    return agent_post(c, pos[0], "stop", q, NULL, no_wait ? "stopping" : "stopped");
}

/* agentd resume AGENT: an agent suspended on a usage limit resumes now
 * (issue #75), a paused one goes on. */
int ad_cli_resume(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd resume ID|NAME");
    }
    return agent_post(c, pos[0], "resume", "", NULL, "running");
}

/* A command that takes --json and one id: 0 with the id in pos[0], else
 * the exit code after saying how to call it (usage_text). */
int ad_cli_one_id(ad_cli_t *c, int argc, char **argv, const char *usage_text, const char **pos)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, usage_text);
    }
    return 0;
}

/* approvals AGENT: the agent's pending approvals, one a line. */
int ad_cli_approvals(ad_cli_t *c, int argc, char **argv)
{
    const char *pos[1];
    int rc = ad_cli_one_id(c, argc, argv, "usage: agentd approvals AGENT", pos);
    char path[512], enc[200], id[200];
    if (rc != 0 || (rc = ad_cli_resolve(c, AD_CLI_AGENT, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/approvals?pending=true", enc);
    json_t *j = ad_cli_call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(j, "approvals"), i, a)
        {
            char *input = json_dumps(json_object_get(a, "input"), JSON_COMPACT);
            printf("%s  %s  %.200s\n", ad_cli_str(a, "id", "?"), ad_cli_str(a, "toolName", "?"),
                   input != NULL ? input : "");
            free(input);
        }
    }
    json_decref(j);
    return 0;
}

/* approve ID [--deny] [--always]: decides a pending approval. */
int ad_cli_approve(ad_cli_t *c, int argc, char **argv)
{
    bool deny = false, always = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--deny", false, NULL, &deny},
                             {"--always", false, NULL, &always}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || !looks_like_id(pos[0]) || (deny && always)) {
        return ad_cli_usage(c, "usage: agentd approve APPROVAL_ID [--deny | --always]");
    }
    char path[512], enc[200];
    ad_cli_url_encode(pos[0], enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/approvals/%s", enc);
    json_t *body = json_pack("{s:s}", "decision",
                             deny     ? "deny"
                             : always ? "allow_always"
                                      : "allow");
    json_t *j = ad_cli_call(c, "POST", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        printf("%s %s: %s\n", pos[0], ad_cli_str(j, "toolName", "?"), ad_cli_str(j, "status", "?"));
    }
    json_decref(j);
    return 0;
}

/* rm --hard on a terminal: says what goes for good and asks; true for yes. */
static bool ask_hard(const char *id, const char *given)
{
    if (!isatty(STDIN_FILENO)) {
        return true; /* a script said --hard */
    }
    fprintf(stderr,
            "Delete agent %s (%s) for good, with its transcript, runs and metrics? "
            "(agentd rm without --hard archives it and keeps them) [y/N] ",
            given, id);
    char line[16];
    return fgets(line, sizeof(line), stdin) != NULL && (line[0] == 'y' || line[0] == 'Y');
}

/* Whether the agent row a has a live process: a status of one, or a pid. */
static bool agent_runs(json_t *a)
{
    static const char *live[] = {"running", "waiting", "paused", "stopping"};
    const char *st = ad_cli_str(a, "status", "");
    for (size_t i = 0; i < AD_ARRAY_LEN(live); i++) {
        if (strcmp(st, live[i]) == 0) {
            return true;
        }
    }
    return json_integer_value(json_object_get(a, "pid")) > 0;
}

/* rm (archive) of an agent that runs stops it: on a terminal, says what
 * runs and asks; elsewhere refuses (exit 2) unless --yes said so. 0 to go
 * on, else the exit code after saying why. */
static int ask_archive(ad_cli_t *c, const char *id, const char *given)
{
    char path[400], enc[200];
    int rc = 0;
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s", enc);
    json_t *a = ad_cli_call(c, "GET", path, NULL, &rc);
    if (a == NULL) {
        return rc;
    }
    json_t *what = json_object_get(a, "agent") != NULL ? json_object_get(a, "agent") : a;
    char runs[200] = "";
    if (agent_runs(what)) {
        long long pid = (long long)json_integer_value(json_object_get(what, "pid"));
        snprintf(runs, sizeof(runs), "%s", ad_cli_str(what, "status", "?"));
        if (pid > 0) {
            snprintf(runs + strlen(runs), sizeof(runs) - strlen(runs), ", pid %lld", pid);
        }
    }
    json_decref(a);
    if (runs[0] == '\0') {
        return 0;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "%s: agent %s (%s) runs (%s): archiving it stops it; nothing done (--yes "
                "archives it anyway)\n",
                c->prog, given, id, runs);
        return 2;
    }
    fprintf(stderr,
            "Agent %s (%s) runs (%s). Stop it and archive it (its transcript, runs and "
            "metrics stay)? [y/N] ",
            given, id, runs);
    char line[16];
    if (fgets(line, sizeof(line), stdin) != NULL && (line[0] == 'y' || line[0] == 'Y')) {
        return 0;
    }
    return ad_cli_fail(c, "not archived");
}

int ad_cli_rm(ad_cli_t *c, int argc, char **argv)
{
    bool hard = false, yes = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--hard", false, NULL, &hard},
                             {"--yes", false, NULL, &yes}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd rm [--hard] [--yes] ID|NAME");
    }
    char path[512], enc[200], id[200];
    if ((rc = ad_cli_resolve(c, AD_CLI_AGENT, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    if (hard && !yes && !ask_hard(id, pos[0])) {
        return ad_cli_fail(c, "not deleted");
    }
    if (!hard && !yes && (rc = ask_archive(c, id, pos[0])) != 0) {
        return rc;
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s?archive=%s", enc, hard ? "false" : "true");
    json_t *j = ad_cli_call(c, "DELETE", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        printf("%s %s\n", id, hard ? "deleted" : "archived");
    }
    json_decref(j);
    return 0;
}
