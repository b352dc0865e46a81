/* SPDX-License-Identifier: MIT */
/*
 * `agentd workflow run FILE --worktree WT [--input TEXT] [--wait]`, `ls`,
 * `show ID` and `stop ID`: multi-agent workflows (POST/GET
 * /api/workflows, docs/workbench.md). FILE is the workflow as JSON
 * ({name, steps, budgetUsd?, input?}); --worktree and --input override it.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define WAIT_POLL_MS 300

static void print_workflow(json_t *wf)
{
    printf("%s %s %s\n", ad_cli_str(wf, "id", "?"), ad_cli_str(wf, "status", "?"),
           ad_cli_str(wf, "name", ""));
    json_t *states = json_object_get(json_object_get(wf, "state"), "steps");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(json_object_get(wf, "spec"), "steps"), i, s)
    {
        json_t *x = json_object_get(states, ad_cli_str(s, "id", ""));
        printf("  %-12s %-9s %s\n", ad_cli_str(s, "id", "?"), ad_cli_str(x, "status", "?"),
               ad_cli_str(x, "error", ""));
        const char *out = ad_cli_str(x, "output", "");
        if (out[0] != '\0') {
            printf("    %s\n", out);
        }
    }
}

static int show_path(ad_cli_t *c, const char *id, char *path, size_t pathsz)
{
    char enc[300];
    if (strlen(id) >= 200) {
        return ad_cli_usage(c, "no such workflow id");
    }
    ad_cli_url_encode(id, enc, sizeof(enc));
    snprintf(path, pathsz, "/api/workflows/%s", enc);
    return 0;
}

/* Polls the workflow until it is no longer running; its last state, or
 * NULL (*rc set). */
static json_t *wait_end(ad_cli_t *c, const char *path, int *rc)
{
    for (;;) {
        json_t *wf = ad_cli_call(c, "GET", path, NULL, rc);
        if (wf == NULL || strcmp(ad_cli_str(wf, "status", ""), "running") != 0) {
            return wf;
        }
        json_decref(wf);
        struct timespec ts = {0, WAIT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int wf_run(ad_cli_t *c, int argc, char **argv)
{
    const char *wt = NULL, *input = NULL;
    bool wait = false;
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--worktree", true, &wt, NULL},
                             {"--input", true, &input, NULL},
                             {"--wait", false, NULL, &wait}};
    const char *pos[1];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd workflow run FILE [--worktree WT] [--input TEXT] "
                               "[--wait]");
    }
    json_error_t jerr;
    json_t *body = json_load_file(pos[0], JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s: not a JSON object (%s, line %d)", pos[0], jerr.text,
                 jerr.line);
        json_decref(body);
        return ad_cli_fail(c, msg);
    }
    char id[200];
    if (wt != NULL && (rc = ad_cli_resolve(c, AD_CLI_WORKTREE, wt, id, sizeof(id))) != 0) {
        json_decref(body);
        return rc;
    }
    if (wt != NULL) {
        json_object_set_new(body, "worktreeId", json_string(id));
    }
    if (input != NULL) {
        json_object_set_new(body, "input", json_string(input));
    }
    long status = 0;
    json_t *j = ad_cli_call_any(c, "POST", "/api/workflows", body, &status, &rc);
    json_decref(body);
    if (j == NULL) {
        return rc;
    }
    rc = ad_cli_answered(c, j, status);
    char path[400];
    if (rc == 0 && wait && (rc = show_path(c, ad_cli_str(j, "id", ""), path, sizeof(path))) == 0) {
        json_decref(j);
        j = wait_end(c, path, &rc);
    }
    if (j != NULL && rc == 0) {
        if (c->json) {
            ad_cli_print_json(j);
        } else {
            print_workflow(j);
        }
        const char *st = ad_cli_str(j, "status", "");
        rc = wait && strcmp(st, "succeeded") != 0 ? 1
                                                  : 0; /* --wait: the exit code says how it ended */
    }
    json_decref(j);
    return rc;
}

static int wf_ls(ad_cli_t *c, int argc, char **argv)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    json_t *j = ad_cli_call(c, "GET", "/api/workflows", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    if (c->json) {
        ad_cli_print_json(j);
    } else {
        size_t i;
        json_t *wf;
        json_array_foreach(json_object_get(j, "workflows"), i, wf)
        {
            printf("%s  %-11s %s\n", ad_cli_str(wf, "id", "?"), ad_cli_str(wf, "status", "?"),
                   ad_cli_str(wf, "name", ""));
        }
    }
    json_decref(j);
    return 0;
}

/* show and stop: one workflow by id. */
static int one(ad_cli_t *c, int argc, char **argv, bool stop)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    char path[400];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, stop ? "usage: agentd workflow stop ID"
                                    : "usage: agentd workflow show ID");
    }
    if ((rc = show_path(c, pos[0], path, sizeof(path))) != 0) {
        return rc;
    }
    char stop_path[420];
    snprintf(stop_path, sizeof(stop_path), "%s/stop", path);
    long status = 0;
    json_t *none = json_object();
    json_t *j = ad_cli_call_any(c, stop ? "POST" : "GET", stop ? stop_path : path,
                                stop ? none : NULL, &status, &rc);
    json_decref(none);
    if (j == NULL) {
        return rc;
    }
    rc = ad_cli_answered(c, j, status);
    if (rc == 0 && c->json) {
        ad_cli_print_json(j);
    } else if (rc == 0) {
        print_workflow(j);
    }
    json_decref(j);
    return rc;
}

static int wf_show(ad_cli_t *c, int argc, char **argv)
{
    return one(c, argc, argv, false);
}

static int wf_stop(ad_cli_t *c, int argc, char **argv)
{
    return one(c, argc, argv, true);
}

int ad_cli_workflow(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {
        {"run", wf_run}, {"ls", wf_ls}, {"show", wf_show}, {"stop", wf_stop}};
    return ad_cli_subcommand(c, "workflow", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd workflow run|ls|show|stop ... (agentd workflow --help)",
                             argc, argv);
}
