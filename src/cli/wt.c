/* SPDX-License-Identifier: MIT */
/*
 * Client commands for workspaces and worktrees: `agentd ws ls`,
 * `agentd wt ls|new|rm|merge`, and `agentd merge WT`. A workspace or
 * worktree may be named by its id or its name (resolve.c). A refusal that lists files (a dirty
 * worktree, a merge conflict) prints them, one per line.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A column as wide as its longest value (at least min, at most 200):
 * names are shown whole, never cut. */
static int width(json_t *rows, const char *key, int min)
{
    size_t i;
    json_t *r;
    int w = min;
    json_array_foreach(rows, i, r)
    {
        int n = (int)strlen(ad_cli_str(r, key, ""));
        w = n > w ? (n < 200 ? n : 200) : w;
    }
    return w;
}

static int find_wt(ad_cli_t *c, const char *want, char *out, size_t outsz)
{
    return ad_cli_resolve(c, AD_CLI_WORKTREE, want, out, outsz);
}

/* Prints a refusal's message and the files it lists; returns 1. */
static int refused(ad_cli_t *c, json_t *j, long status)
{
    json_t *err = json_object_get(j, "error");
    json_t *details = json_object_get(err, "details");
    char msg[700], text[600];
    /* The API's "delete with force=true" is --force on the command line,
     * "stop=true" --stop. */
    const char *m = ad_cli_str(err, "message", "failed");
    const char *at = strstr(m, "force=true");
    const char *st = strstr(m, "stop=true");
    if (at != NULL) {
        snprintf(text, sizeof(text), "%.*s--force%s", (int)(at - m), m, at + strlen("force=true"));
    } else if (st != NULL) {
        snprintf(text, sizeof(text), "%.*s--stop (or --yes)%s", (int)(st - m), m,
                 st + strlen("stop=true"));
    } else {
        snprintf(text, sizeof(text), "%s", m);
    }
    snprintf(msg, sizeof(msg), "%s (%s, HTTP %ld)", text, ad_cli_str(err, "code", "ERROR"), status);
    ad_cli_fail(c, msg);
    static const char *lists[] = {"conflicts", "changedFiles"};
    for (size_t k = 0; k < AD_ARRAY_LEN(lists); k++) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(details, lists[k]), i, f)
        {
            fprintf(stderr, "  %s %s\n", k == 0 ? "conflict:" : "changed: ",
                    json_string_value(f) ? json_string_value(f) : "?");
        }
    }
    return 1;
}

static int ws_ls(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    json_t *j = rc == 0 ? ad_cli_call(c, "GET", "/api/workspaces", NULL, &rc) : NULL;
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        json_t *rows = json_object_get(j, "workspaces");
        int nw = width(rows, "name", 4);
        printf("%-30s %-*s %s\n", "ID", nw, "NAME", "PATH");
        size_t i;
        json_t *w;
        json_array_foreach(rows, i, w)
        {
            printf("%-30s %-*s %s\n", ad_cli_str(w, "id", "?"), nw, ad_cli_str(w, "name", ""),
                   ad_cli_str(w, "path", ""));
        }
    }
    json_decref(j);
    return 0;
}

/* ws add PATH [--name N]: the repository at PATH (made absolute here, as
 * the daemon resolves nothing relative to the client's folder). */
static int ws_add(ad_cli_t *c, int argc, char **argv)
{
    const char *name = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--name", true, &name, NULL}};
    const char *pos[1];
    char abs[PATH_MAX];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd ws add PATH [--name N]");
    }
    if (realpath(pos[0], abs) == NULL) {
        char msg[PATH_MAX + 100];
        snprintf(msg, sizeof(msg), "%s: %s", pos[0], strerror(errno));
        return ad_cli_fail(c, msg);
    }
    json_t *body = json_pack("{s:s}", "path", abs);
    if (name != NULL) {
        json_object_set_new(body, "name", json_string(name));
    }
    json_t *j = ad_cli_call(c, "POST", "/api/workspaces", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        size_t n = json_array_size(json_object_get(j, "worktrees"));
        printf("%s %s (%s, %zu worktree%s)\n", ad_cli_str(j, "id", "?"), ad_cli_str(j, "path", abs),
               ad_cli_str(j, "name", ""), n, n == 1 ? "" : "s");
    }
    json_decref(j);
    return 0;
}

int ad_cli_ws(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"ls", ws_ls}, {"add", ws_add}};
    return ad_cli_subcommand(c, "ws", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd ws ls|add ... (agentd ws --help)", argc, argv);
}

static int wt_ls(ad_cli_t *c, int argc, char **argv)
{
    const char *ws = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}, {"--workspace", true, &ws, NULL}};
    const char *pos[1];
    char path[400], id[200], enc[300];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 0, &npos);
    snprintf(path, sizeof(path), "/api/worktrees");
    if (rc == 0 && ws != NULL) {
        rc = ad_cli_resolve(c, AD_CLI_WORKSPACE, ws, id, sizeof(id));
        ad_cli_url_encode(id, enc, sizeof(enc));
        snprintf(path, sizeof(path), "/api/worktrees?workspaceId=%s", enc);
    }
    json_t *j = rc == 0 ? ad_cli_call(c, "GET", path, NULL, &rc) : NULL;
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        json_t *rows = json_object_get(j, "worktrees");
        int nw = width(rows, "name", 4), bw = width(rows, "branch", 6),
            basew = width(rows, "baseBranch", 4);
        printf("%-30s %-*s %-*s %-*s %s\n", "ID", nw, "NAME", bw, "BRANCH", basew, "BASE", "PATH");
        size_t i;
        json_t *w;
        json_array_foreach(rows, i, w)
        {
            printf("%-30s %-*s %-*s %-*s %s\n", ad_cli_str(w, "id", "?"), nw,
                   ad_cli_str(w, "name", ""), bw, ad_cli_str(w, "branch", ""), basew,
                   ad_cli_str(w, "baseBranch", "-"), ad_cli_str(w, "path", ""));
        }
    }
    json_decref(j);
    return 0;
}

static int wt_new(ad_cli_t *c, int argc, char **argv)
{
    const char *ws = NULL, *branch = NULL, *base = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--workspace", true, &ws, NULL},
                             {"--branch", true, &branch, NULL},
                             {"--base", true, &base, NULL}};
    const char *pos[1];
    char id[200];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || ws == NULL) {
        return ad_cli_usage(c,
                            "usage: agentd wt new --workspace WS NAME [--branch B] [--base REF]");
    }
    rc = ad_cli_resolve(c, AD_CLI_WORKSPACE, ws, id, sizeof(id));
    if (rc != 0) {
        return rc;
    }
    json_t *body =
        json_pack("{s:s, s:s, s:b}", "workspaceId", id, "name", pos[0], "createBranch", true);
    if (branch != NULL) {
        json_object_set_new(body, "branch", json_string(branch));
    }
    if (base != NULL) {
        json_object_set_new(body, "base", json_string(base));
    }
    json_t *j = ad_cli_call(c, "POST", "/api/worktrees", body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        printf("%s %s (branch %s from %s)\n", ad_cli_str(j, "id", "?"), ad_cli_str(j, "path", ""),
               ad_cli_str(j, "branch", "?"), ad_cli_str(j, "baseBranch", "HEAD"));
    }
    json_decref(j);
    return 0;
}

/* A refusal because agents of the worktree run: on a terminal, asks
 * whether to stop them (saying which); true when the answer is yes. */
static bool ask_stop(json_t *j, const char *wt)
{
    json_t *details = json_object_get(json_object_get(j, "error"), "details");
    if (strcmp(ad_cli_str(details, "reason", ""), "agents_running") != 0 || !isatty(STDIN_FILENO)) {
        return false;
    }
    fprintf(stderr, "These agents of %s run:\n", wt);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(details, "agents"), i, a)
    {
        fprintf(stderr, "  %s %s (%s)\n", ad_cli_str(a, "id", "?"), ad_cli_str(a, "name", "?"),
                ad_cli_str(a, "status", "?"));
    }
    fprintf(stderr, "Stop them, archive the worktree's agents and remove its folder? [y/N] ");
    char line[16];
    return fgets(line, sizeof(line), stdin) != NULL && (line[0] == 'y' || line[0] == 'Y');
}

static int wt_rm(ad_cli_t *c, int argc, char **argv)
{
    bool force = false, stop = false, yes = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--force", false, NULL, &force},
                             {"--stop", false, NULL, &stop},
                             {"--yes", false, NULL, &yes}};
    const char *pos[1];
    char id[200], enc[300], path[400];
    long status = 0;
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd wt rm [--force] [--stop] [--yes] WT");
    }
    if ((rc = find_wt(c, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    json_t *j = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        snprintf(path, sizeof(path), "/api/worktrees/%s?force=%s&stop=%s", enc,
                 force ? "true" : "false", stop || yes ? "true" : "false");
        json_decref(j);
        if ((j = ad_cli_call_any(c, "DELETE", path, NULL, &status, &rc)) == NULL) {
            return rc;
        }
        if ((status >= 200 && status < 300) || stop || yes || !ask_stop(j, pos[0])) {
            break;
        }
        stop = true; /* asked, and the answer was yes */
    }
    rc = status >= 200 && status < 300 ? 0 : refused(c, j, status);
    if (rc == 0 && c->json) {
        ad_cli_print_json(j);
    } else if (rc == 0) {
        size_t n = json_array_size(json_object_get(j, "agentIds"));
        printf("%s removed: its folder is deleted (its branch stays); %zu agent%s archived, "
               "with %s transcripts, runs and metrics\n",
               id, n, n == 1 ? "" : "s", n == 1 ? "its" : "their");
    }
    json_decref(j);
    return rc;
}

int ad_cli_merge(ad_cli_t *c, int argc, char **argv)
{
    const char *into = NULL, *strategy = NULL, *message = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--into", true, &into, NULL},
                             {"--strategy", true, &strategy, NULL},
                             {"--message", true, &message, NULL}};
    const char *pos[1];
    char id[200], enc[300], path[400];
    long status = 0;
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd merge WT [--into BRANCH] [--strategy S]");
    }
    if ((rc = find_wt(c, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    json_t *body = json_object();
    const char *keys[] = {"into", "strategy", "message"};
    const char *vals[] = {into, strategy, message};
    for (size_t k = 0; k < AD_ARRAY_LEN(keys); k++) {
        if (vals[k] != NULL) {
            json_object_set_new(body, keys[k], json_string(vals[k]));
        }
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/worktrees/%s/merge", enc);
    json_t *j = ad_cli_call_any(c, "POST", path, body, &status, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    rc = status >= 200 && status < 300 ? 0 : refused(c, j, status);
    if (rc == 0 && c->json) {
        ad_cli_print_json(j);
    } else if (rc == 0 && json_is_true(json_object_get(j, "upToDate"))) {
        printf("%s is already in %s\n", ad_cli_str(j, "branch", "?"), ad_cli_str(j, "into", "?"));
    } else if (rc == 0) {
        printf("merged %s into %s (%s): %.12s\n", ad_cli_str(j, "branch", "?"),
               ad_cli_str(j, "into", "?"), ad_cli_str(j, "strategy", "?"),
               ad_cli_str(j, "commit", "?"));
    }
    json_decref(j);
    return rc;
}

int ad_cli_wt(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {
        {"ls", wt_ls}, {"new", wt_new}, {"rm", wt_rm}, {"merge", ad_cli_merge}};
    return ad_cli_subcommand(c, "wt", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd wt ls|new|rm|merge ... (agentd wt --help)", argc, argv);
}
