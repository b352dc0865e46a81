/* SPDX-License-Identifier: MIT */
/*
 * Client commands for the rest of what the dashboard does: `agentd fork`
 * (a copy of an agent), `agentd diff` and `agentd commit` (a worktree's
 * review), and `agentd open` (the dashboard in a browser, or its URL).
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* One argument, resolved as kind, with the flags given: 0 with its id in
 * id, else the exit code. */
static int one_target(ad_cli_t *c, int argc, char **argv, ad_cli_flag_t *flags, size_t nflags,
                      ad_cli_kind_t kind, const char *usage_text, const char **pos, int maxpos,
                      int *npos, char *id, size_t idsz)
{
    int rc = ad_cli_parse(c, argc, argv, flags, nflags, pos, maxpos, npos);
    if (rc != 0) {
        return rc;
    }
    if (*npos < 1) {
        return ad_cli_usage(c, usage_text);
    }
    return ad_cli_resolve(c, kind, pos[0], id, idsz);
}

int ad_cli_fork(ad_cli_t *c, int argc, char **argv)
{
    const char *name = NULL, *wt = NULL;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--name", true, &name, NULL},
                             {"--worktree", true, &wt, NULL}};
    const char *pos[1];
    char id[200], wt_id[200], enc[300], path[400];
    int npos, rc = one_target(c, argc, argv, flags, AD_ARRAY_LEN(flags), AD_CLI_AGENT,
                              "usage: agentd fork AGENT [--name N] [--worktree WT]", pos, 1, &npos,
                              id, sizeof(id));
    if (rc != 0) {
        return rc;
    }
    json_t *body = json_object();
    if (name != NULL) {
        json_object_set_new(body, "name", json_string(name));
    }
    if (wt != NULL) {
        if ((rc = ad_cli_resolve(c, AD_CLI_WORKTREE, wt, wt_id, sizeof(wt_id))) != 0) {
            json_decref(body);
            return rc;
        }
        json_object_set_new(body, "worktreeId", json_string(wt_id));
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/fork", enc);
    json_t *j = ad_cli_call(c, "POST", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        printf("%s\n", ad_cli_str(j, "id", "?"));
    }
    json_decref(j);
    return 0;
}

static void print_files(json_t *files)
{
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *st = ad_cli_str(f, "status", "modified");
        if (json_is_true(json_object_get(f, "binary"))) {
            printf("  %-9s %s (binary)\n", st, ad_cli_str(f, "path", "?"));
        } else {
            printf("  %-9s %s  +%lld -%lld\n", st, ad_cli_str(f, "path", "?"),
                   (long long)json_integer_value(json_object_get(f, "insertions")),
                   (long long)json_integer_value(json_object_get(f, "deletions")));
        }
    }
}

/* The review against the base: counts, merged, commits, files. */
static void print_review(json_t *j)
{
    json_t *merged = json_object_get(j, "merged");
    printf("%lld ahead, %lld behind %s", (long long)json_integer_value(json_object_get(j, "ahead")),
           (long long)json_integer_value(json_object_get(j, "behind")),
           ad_cli_str(j, "against", "?"));
    if (json_is_true(json_object_get(merged, "merged"))) {
        json_t *rec = json_object_get(merged, "record");
        if (rec != NULL) {
            printf(" (merged: %s into %s, %s)", ad_cli_str(rec, "strategy", "?"),
                   ad_cli_str(rec, "into", "?"), ad_cli_str(rec, "createdAt", ""));
        } else {
            printf(" (merged: its work is on %s, found by %s)", ad_cli_str(j, "against", "?"),
                   ad_cli_str(merged, "how", "?"));
        }
    }
    printf(", %lld uncommitted\n",
           (long long)json_integer_value(json_object_get(j, "uncommitted")));
    size_t i;
    json_t *cm;
    json_array_foreach(json_object_get(j, "commits"), i, cm)
    {
        printf("  %s %s\n", ad_cli_str(cm, "shortId", "?"), ad_cli_str(cm, "summary", ""));
    }
}

int ad_cli_diff(ad_cli_t *c, int argc, char **argv)
{
    const char *against = NULL;
    bool working = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--against", true, &against, NULL},
                             {"--working", false, NULL, &working}};
    const char *pos[2];
    char id[200], enc[300], aenc[600], fenc[3000], path[4000];
    int npos, rc = one_target(c, argc, argv, flags, AD_ARRAY_LEN(flags), AD_CLI_WORKTREE,
                              "usage: agentd diff WT [FILE] [--against REF] [--working]", pos, 2,
                              &npos, id, sizeof(id));
    if (rc != 0) {
        return rc;
    }
    if (working && against != NULL) {
        return ad_cli_usage(c, "--working and --against exclude each other");
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    ad_cli_url_encode(against != NULL ? against : "base", aenc, sizeof(aenc));
    fenc[0] = '\0';
    if (npos == 2) {
        char f[2900];
        ad_cli_url_encode(pos[1], f, sizeof(f));
        snprintf(fenc, sizeof(fenc), "%spath=%s", working ? "?" : "&", f);
    }
    if (working) {
        snprintf(path, sizeof(path), "/api/worktrees/%s/diff%s", enc, fenc);
    } else {
        snprintf(path, sizeof(path), "/api/worktrees/%s/diff?against=%s%s", enc, aenc, fenc);
    }
    json_t *j = ad_cli_call(c, "GET", path, NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else if (npos == 2) {
        const char *patch = ad_cli_str(j, "patch", "");
        fputs(patch, stdout);
        if (json_is_true(json_object_get(j, "binary"))) {
            printf("%s: binary file\n", pos[1]);
        }
    } else {
        if (!working) {
            print_review(j);
        }
        json_t *files = json_object_get(j, "files");
        printf("%zu file%s changed, +%lld -%lld\n", json_array_size(files),
               json_array_size(files) == 1 ? "" : "s",
               (long long)json_integer_value(json_object_get(j, "insertions")),
               (long long)json_integer_value(json_object_get(j, "deletions")));
        print_files(files);
    }
    json_decref(j);
    return 0;
}

int ad_cli_commit(ad_cli_t *c, int argc, char **argv)
{
    const char *message = NULL;
    bool all = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--message", true, &message, NULL},
                             {"-m", true, &message, NULL},
                             {"--all", false, NULL, &all}};
    const char *pos[1];
    char id[200], enc[300], path[400];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1 || message == NULL || message[0] == '\0') {
        return ad_cli_usage(c, "usage: agentd commit WT -m MESSAGE [--all] (a message is needed)");
    }
    if ((rc = ad_cli_resolve(c, AD_CLI_WORKTREE, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    json_t *body = json_pack("{s:s, s:b}", "message", message, "all", all);
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/worktrees/%s/commit", enc);
    json_t *j = ad_cli_call(c, "POST", path, body, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        size_t n = json_array_size(json_object_get(j, "files"));
        printf("%s on %s: %zu file%s\n", ad_cli_str(j, "shortId", "?"),
               ad_cli_str(j, "branch", "?"), n, n == 1 ? "" : "s");
    }
    json_decref(j);
    return 0;
}

/* Hands url to the desktop's opener; false when there is none to use. */
static bool launch(const char *url)
{
    const char *opener = getenv("AGENTD_OPENER"); /* e.g. "firefox"; tests use it */
    if (opener == NULL || opener[0] == '\0') {
#ifdef __APPLE__
        opener = "open";
#else
        const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
        if ((x == NULL || x[0] == '\0') && (w == NULL || w[0] == '\0')) {
            return false; /* no display: print the URL */
        }
        opener = "xdg-open";
#endif
    }
    pid_t pid;
    char *args[] = {(char *)opener, (char *)url, NULL};
    if (posix_spawnp(&pid, opener, NULL, NULL, args, environ) != 0) {
        return false;
    }
    int st = 0;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The dashboard as an app window: the first Chromium-family browser on
 * PATH (AGENTD_APP_BROWSER names another) with --app=url, left running;
 * false when there is none (the default browser is tried then). */
static bool launch_app(const char *url)
{
    static const char *const browsers[] = {"chromium",      "chromium-browser",
                                           "google-chrome", "google-chrome-stable",
                                           "brave-browser", "microsoft-edge"};
    const char *pick = getenv("AGENTD_APP_BROWSER");
    char exe[4096], flag[900];
    bool found = pick != NULL && pick[0] != '\0' &&
                 ad_path_which_in(pick, getenv("PATH"), NULL, exe, sizeof(exe)) == 0;
    for (size_t i = 0; !found && i < AD_ARRAY_LEN(browsers); i++) {
        found = ad_path_which_in(browsers[i], getenv("PATH"), NULL, exe, sizeof(exe)) == 0;
    }
    if (!found) {
        return false;
    }
    snprintf(flag, sizeof(flag), "--app=%s", url);
    pid_t pid;
    char *args[] = {exe, flag, NULL};
    return posix_spawn(&pid, exe, NULL, NULL, args, environ) == 0; /* the window stays */
}

/* open and app: the dashboard's URL (signed in), or AGENT's page. */
static int open_url(ad_cli_t *c, int argc, char **argv, bool app)
{
    bool print = false;
    ad_cli_flag_t flags[] = {{"--print", false, NULL, &print}};
    const char *pos[1];
    char id[200], url[800];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos == 1 && (rc = ad_cli_resolve(c, AD_CLI_AGENT, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    json_t *j = ad_cli_call(c, "GET", "/api/dashboard/url", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (npos == 1) {
        char enc[300];
        ad_cli_url_encode(id, enc, sizeof(enc));
        snprintf(url, sizeof(url), "%s#/agents/%s", ad_cli_str(j, "url", ""), enc);
    } else {
        snprintf(url, sizeof(url), "%s", ad_cli_str(j, "url", ""));
    }
    json_decref(j);
    bool web = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
    /* only a web URL goes to a browser */
    if (print || !web || !((app && launch_app(url)) || launch(url))) {
        printf("%s\n", url);
    }
    return 0;
}

int ad_cli_open(ad_cli_t *c, int argc, char **argv)
{
    return open_url(c, argc, argv, false);
}

int ad_cli_app(ad_cli_t *c, int argc, char **argv)
{
    return open_url(c, argc, argv, true);
}
