/* SPDX-License-Identifier: MIT */
/*
 * `agentd routine ls|new|run|runs|rm` (issue #75, docs/routines.md): saved
 * agents that run themselves (/api/routines). new makes one from flags
 * (or a JSON file of the body, which the flags add to), with a command
 * after "--" for a command agent; a webhook routine's secret and URL are
 * printed once. A routine goes by its id or its name.
 */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The routine named by id or name into id (an exact id wins): 0, 1 when
 * none is, 2 when several share the name. */
static int find(ad_cli_t *c, const char *what, char *id, size_t idsz)
{
    int rc = 0;
    json_t *j = ad_cli_call(c, "GET", "/api/routines", NULL, &rc);
    if (j == NULL) {
        return rc;
    }
    size_t i, hits = 0;
    json_t *r;
    json_array_foreach(json_object_get(j, "routines"), i, r)
    {
        if (strcmp(ad_cli_str(r, "id", ""), what) == 0) {
            snprintf(id, idsz, "%s", what);
            json_decref(j);
            return 0;
        }
        if (strcmp(ad_cli_str(r, "name", ""), what) == 0 && hits++ == 0) {
            snprintf(id, idsz, "%s", ad_cli_str(r, "id", ""));
        }
    }
    json_decref(j);
    if (hits == 1) {
        return 0;
    }
    char msg[300];
    if (hits == 0) {
        snprintf(msg, sizeof(msg), "no routine named %.200s", what);
        return ad_cli_fail(c, msg);
    }
    snprintf(msg, sizeof(msg), "%zu routines are named %.200s; use an id", hits, what);
    return ad_cli_usage(c, msg);
}

/* The trigger in words: "every 1h", "cron 0 3 * * 1-5 Europe/Paris", "webhook". */
static void trigger_words(json_t *t, char *out, size_t outsz)
{
    if (json_object_get(t, "every") != NULL) {
        snprintf(out, outsz, "every %s", ad_cli_str(t, "every", ""));
    } else if (json_object_get(t, "cron") != NULL) {
        snprintf(out, outsz, "cron %s %s", ad_cli_str(t, "cron", ""), ad_cli_str(t, "tz", "UTC"));
    } else {
        snprintf(out, outsz, "webhook%s", json_object_get(t, "events") != NULL ? " (events)" : "");
    }
}

static void print_routine(json_t *r)
{
    char trig[200];
    trigger_words(json_object_get(r, "trigger"), trig, sizeof(trig));
    printf("%s  %-20s %-8s %-34s next %s\n", ad_cli_str(r, "id", "?"), ad_cli_str(r, "name", ""),
           json_is_true(json_object_get(r, "enabled")) ? "on" : "paused", trig,
           ad_cli_str(r, "nextFireAt", "-"));
}

static void print_run(json_t *x)
{
    printf("%s  %-8s %-10s %s %s%s%s\n", ad_cli_str(x, "id", "?"), ad_cli_str(x, "source", ""),
           ad_cli_str(x, "status", "?"), ad_cli_str(x, "fireAt", ""), ad_cli_str(x, "agentId", ""),
           ad_cli_str(x, "reason", "")[0] ? "  " : "", ad_cli_str(x, "reason", ""));
}

static int rt_ls(ad_cli_t *c, int argc, char **argv)
{
    int rc;
    json_t *j = ad_cli_list(c, argc, argv, "/api/routines", &rc);
    if (j == NULL) {
        return rc;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "routines"), i, r)
    {
        print_routine(r);
    }
    json_decref(j);
    return 0;
}

typedef struct {
    const char *wt, *ws, *base, *every, *cron, *tz, *events, *prompt, *executor, *missed, *file;
    const char *per_day, *conc, *cost_run, *cost_day;
    bool webhook, paused;
} new_opts_t;

/* A number flag into limits[key]; false (message printed) when it is not one. */
static bool limit(ad_cli_t *c, json_t *limits, const char *key, const char *v, bool integer)
{
    if (v == NULL) {
        return true;
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0') {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s must be a number", key);
        ad_cli_usage(c, msg);
        return false;
    }
    json_object_set_new(limits, key, integer ? json_integer((json_int_t)d) : json_real(d));
    return true;
}

/* The body of `routine new` from o and the command after "--". NULL
 * after printing why (*rc). */
static json_t *new_body(ad_cli_t *c, const new_opts_t *o, const char *name, int argc, char **argv,
                        int *rc)
{
    json_error_t jerr;
    json_t *b =
        o->file != NULL ? json_load_file(o->file, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!json_is_object(b)) {
        json_decref(b);
        *rc = ad_cli_fail(c, "the file is not a JSON object");
        return NULL;
    }
    char id[200];
    json_object_set_new(b, "name", json_string(name));
    if (o->wt != NULL && (*rc = ad_cli_resolve(c, AD_CLI_WORKTREE, o->wt, id, sizeof(id))) == 0) {
        json_object_set_new(b, "worktreeId", json_string(id));
    }
    if (*rc == 0 && o->ws != NULL &&
        (*rc = ad_cli_resolve(c, AD_CLI_WORKSPACE, o->ws, id, sizeof(id))) == 0) {
        json_object_set_new(b, "workspaceId", json_string(id));
        json_object_set_new(b, "baseBranch", json_string(o->base != NULL ? o->base : "main"));
    }
    json_t *agent = json_object_get(b, "agent");
    if (!json_is_object(agent)) {
        agent = json_object();
        json_object_set_new(b, "agent", agent);
    }
    if (c->rest < argc) {
        json_t *cmd = json_array();
        for (int i = c->rest; i < argc; i++) {
            json_array_append_new(cmd, json_string(argv[i]));
        }
        json_object_set_new(agent, "executor", json_string("command"));
        json_object_set_new(agent, "command", cmd);
    }
    if (o->executor != NULL) {
        json_object_set_new(agent, "executor", json_string(o->executor));
    }
    if (o->prompt != NULL) {
        json_object_set_new(b, "prompt", json_string(o->prompt));
    }
    if (o->every != NULL) {
        json_object_set_new(b, "trigger", json_pack("{s:s}", "every", o->every));
    } else if (o->cron != NULL) {
        json_object_set_new(
            b, "trigger",
            json_pack("{s:s, s:s}", "cron", o->cron, "tz", o->tz != NULL ? o->tz : "UTC"));
    } else if (o->webhook || o->events != NULL) {
        json_t *t = json_pack("{s:b}", "webhook", 1);
        if (o->events != NULL) {
            json_t *ev = json_array();
            char buf[1024];
            snprintf(buf, sizeof(buf), "%s", o->events);
            for (char *save = NULL, *e = strtok_r(buf, ",", &save); e != NULL;
                 e = strtok_r(NULL, ",", &save)) {
                json_array_append_new(ev, json_string(e));
            }
            json_object_set_new(t, "events", ev);
        }
        json_object_set_new(b, "trigger", t);
    }
    if (o->missed != NULL) {
        json_object_set_new(b, "missed", json_string(o->missed));
    }
    if (o->paused) {
        json_object_set_new(b, "enabled", json_false());
    }
    json_t *lim = json_object_get(b, "limits");
    if (!json_is_object(lim)) {
        lim = json_object();
        json_object_set_new(b, "limits", lim);
    }
    if (*rc == 0 && !(limit(c, lim, "runsPerDay", o->per_day, true) &&
                      limit(c, lim, "concurrent", o->conc, true) &&
                      limit(c, lim, "costPerRunUsd", o->cost_run, false) &&
                      limit(c, lim, "costPerDayUsd", o->cost_day, false))) {
        *rc = 2;
    }
    if (*rc != 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

/* A new routine, and a webhook's secret, shown once. */
static void show_made(json_t *j)
{
    print_routine(j);
    if (ad_cli_str(j, "secret", NULL) != NULL) {
        printf("webhook: POST %s (the daemon's address)\nsecret:  %s  (shown once: sign "
               "deliveries with it, X-Hub-Signature-256)\n",
               ad_cli_str(j, "hookPath", ""), ad_cli_str(j, "secret", ""));
    }
}

static int rt_new(ad_cli_t *c, int argc, char **argv)
{
    new_opts_t o = {0};
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json},
                             {"--worktree", true, &o.wt, NULL},
                             {"--workspace", true, &o.ws, NULL},
                             {"--base", true, &o.base, NULL},
                             {"--every", true, &o.every, NULL},
                             {"--cron", true, &o.cron, NULL},
                             {"--tz", true, &o.tz, NULL},
                             {"--webhook", false, NULL, &o.webhook},
                             {"--events", true, &o.events, NULL},
                             {"--prompt", true, &o.prompt, NULL},
                             {"--executor", true, &o.executor, NULL},
                             {"--missed", true, &o.missed, NULL},
                             {"--runs-per-day", true, &o.per_day, NULL},
                             {"--concurrent", true, &o.conc, NULL},
                             {"--cost-per-run", true, &o.cost_run, NULL},
                             {"--cost-per-day", true, &o.cost_day, NULL},
                             {"--paused", false, NULL, &o.paused},
                             {"--file", true, &o.file, NULL}};
    const char *pos[1];
    c->allow_rest = true;
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        return ad_cli_usage(c, "usage: agentd routine new NAME --worktree WT --every 1h|--cron "
                               "EXPR|--webhook [-- COMMAND...] (agentd routine --help)");
    }
    json_t *body = new_body(c, &o, pos[0], argc, argv, &rc);
    if (body == NULL) {
        return rc;
    }
    return ad_cli_call_any_show(c, "POST", "/api/routines", body, show_made);
}

static void show_runs(json_t *j)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "runs"), i, x)
    {
        print_run(x);
    }
}

static void show_removed(json_t *j)
{
    printf("removed %s\n", ad_cli_str(j, "id", "?"));
}

/* run, runs and rm: one routine by id or name. */
static int one(ad_cli_t *c, int argc, char **argv, const char *verb)
{
    ad_cli_flag_t flags[] = {{"--json", false, NULL, &c->json}};
    const char *pos[1];
    char id[200], path[300];
    int npos, rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), pos, 1, &npos);
    if (rc != 0) {
        return rc;
    }
    if (npos != 1) {
        char msg[100];
        snprintf(msg, sizeof(msg), "usage: agentd routine %s ROUTINE", verb);
        return ad_cli_usage(c, msg);
    }
    if ((rc = find(c, pos[0], id, sizeof(id))) != 0) {
        return rc;
    }
    bool run = strcmp(verb, "run") == 0, runs = strcmp(verb, "runs") == 0;
    snprintf(path, sizeof(path), "/api/routines/%s%s", id, run ? "/run" : runs ? "/runs" : "");
    return ad_cli_call_any_show(c,
                                run    ? "POST"
                                : runs ? "GET"
                                       : "DELETE",
                                path, run ? json_object() : NULL,
                                run    ? print_run
                                : runs ? show_runs
                                       : show_removed);
}

static int rt_run(ad_cli_t *c, int argc, char **argv)
{
    return one(c, argc, argv, "run");
}

static int rt_runs(ad_cli_t *c, int argc, char **argv)
{
    return one(c, argc, argv, "runs");
}

static int rt_rm(ad_cli_t *c, int argc, char **argv)
{
    return one(c, argc, argv, "rm");
}

int ad_cli_routine(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {
        {"ls", rt_ls}, {"new", rt_new}, {"run", rt_run}, {"runs", rt_runs}, {"rm", rt_rm}};
    return ad_cli_subcommand(c, "routine", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd routine ls|new|run|runs|rm ... (agentd routine --help)",
                             argc, argv);
}
