/* SPDX-License-Identifier: MIT */
/*
 * Programs tried in an agent's sandbox (src/proc/boxcheck.c) the way an
 * agent runs them: each agent CLI (`--version`) for GET /api/requirements,
 * whose line says whether it starts there and not only whether agentd's
 * PATH has it, and any command for POST /api/requirements/sandbox
 * (`agentd sandbox check -- COMMAND`): what it resolved to, what the
 * sandbox showed, whether it started and what it printed first. The
 * inputs are copied on the loop, the run is the pool's.
 */
#include "monitor/monitor_int.h"
#include "proc/proc.h"
#include "store/store.h"
#include "tables/auth.h"
#include "tables/workspaces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_TIMEOUT_MS 15000
#define CHECK_ARGS_MAX 64

void ad_monitor_box_inputs(const ad_monitor_t *m, const char *org, ad_monitor_box_t *b)
{
    memset(b, 0, sizeof(*b));
    const ad_config_t *cfg = m->o.cfg;
    b->procs = *m->o.procs;
    b->owners = org == NULL || strcmp(org, AD_ORG_DEFAULT) == 0;
    /* a home of its own per organisation: what one check leaves there is
     * not another's */
    snprintf(b->agent_id, sizeof(b->agent_id), "sandbox-check%s%.64s", b->owners ? "" : "-",
             b->owners ? "" : org);
    snprintf(b->data_dir, sizeof(b->data_dir), "%s", cfg->data_dir);
    snprintf(b->sandbox_paths, sizeof(b->sandbox_paths), "%s", cfg->sandbox_paths);
    const char *home = getenv("HOME");
    snprintf(b->home, sizeof(b->home), "%s", home != NULL ? home : "");
    b->path = ad_proc_agent_path(getenv("PATH"), home);
}

void ad_monitor_box_cleanup(ad_monitor_box_t *b)
{
    free(b->path);
    b->path = NULL;
}

static const char *mode(ad_proc_bind_kind_t k)
{
    return k == AD_PROC_BIND_RW     ? "read-write"
           : k == AD_PROC_BIND_HIDE ? "hidden"
           : k == AD_PROC_BIND_NULL ? "hidden"
                                    : "read-only";
}

json_t *ad_monitor_box_run(const ad_monitor_box_t *b, const char *cli, const char *const *argv)
{
    ad_proc_box_in_t in = {.data_dir = b->data_dir,
                           .agent_id = b->agent_id,
                           .cli = cli,
                           .owners = b->owners,
                           .network = true,
                           .sandbox_paths = b->sandbox_paths,
                           .wt = b->wt[0] == '/' ? b->wt : NULL,
                           .path = b->path,
                           .home = b->home[0] == '/' ? b->home : NULL};
    ad_proc_check_t *c = ad_xcalloc(1, sizeof(*c));
    ad_proc_box_check(b->procs, &in, argv, CHECK_TIMEOUT_MS, c);
    json_t *cmd = json_array(), *shown = json_array();
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
        json_array_append_new(cmd, json_string(argv[i]));
    }
    for (size_t i = 0; i < c->box.sb.nbinds; i++) {
        const ad_proc_bind_t *x = &c->box.sb.binds[i];
        json_array_append_new(
            shown, json_pack("{s:s, s:s?, s:s}", "at", x->dst, "from",
                             x->src != NULL && strcmp(x->src, x->dst) != 0 ? x->src : NULL, "mode",
                             mode(x->kind)));
    }
    bool ok = c->ran && c->code == 0;
    json_t *out = json_pack(
        "{s:b, s:o, s:s?, s:s, s:o, s:b, s:b, s:o, s:s, s:s?}", "sandbox", c->sandboxed, "command",
        cmd, "program", c->program[0] != '\0' ? c->program : NULL, "agentPath",
        b->path != NULL ? b->path : "", "shown", shown, "started", c->ran && c->code != 127, "ok",
        ok, "exitCode", c->ran ? json_integer(c->code) : json_null(), "output", c->output, "error",
        c->error[0] != '\0' ? c->error : NULL);
    ad_proc_box_cleanup(&c->box);
    free(c);
    return out;
}

void ad_monitor_box_items(const ad_monitor_box_t *b, const ad_health_tool_t *tools, size_t n,
                          json_t *items)
{
    for (size_t i = 0; i < n; i++) {
        const ad_health_tool_t *t = &tools[i];
        if (strcmp(t->id, "git") == 0 || t->bin == NULL || t->bin[0] == '\0') {
            continue;
        }
        char found[4096];
        if (ad_proc_resolve(t->bin, b->path, NULL, b->home, found, sizeof(found)) != 0) {
            continue; /* its own line says it is missing */
        }
        const char *argv[] = {t->bin, "--version", NULL};
        json_t *r = ad_monitor_box_run(b, t->id, argv);
        bool ok = json_is_true(json_object_get(r, "ok"));
        const char *said = json_string_value(json_object_get(r, "output"));
        const char *err = json_string_value(json_object_get(r, "error"));
        char id[64], name[160], value[600];
        snprintf(id, sizeof(id), "%s-sandbox", t->id);
        snprintf(name, sizeof(name), "%s in the agent sandbox", t->name);
        snprintf(value, sizeof(value), "%.*s", 500,
                 ok             ? (said != NULL ? said : "")
                 : err != NULL  ? err
                 : said != NULL ? said
                                : "");
        value[strcspn(value, "\n")] = '\0';
        if (!ok && value[0] == '\0') {
            snprintf(value, sizeof(value), "it exited with %lld",
                     (long long)json_integer_value(json_object_get(r, "exitCode")));
        }
        json_array_append_new(items,
                              json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "id", id, "name", name,
                                        "status", ok ? "ok" : "warning", "value", value, "fix",
                                        ok ? NULL
                                           : "its agents cannot start: show what it needs with "
                                             "--sandbox-paths, or run `agentd sandbox check -- CLI "
                                             "--version` to see what the sandbox shows",
                                        "required", false));
        json_decref(r);
    }
}

/* ---- POST /api/requirements/sandbox ------------------------------------------------- */

typedef struct {
    uv_work_t work;
    ad_monitor_t *m;
    ad_monitor_req_cb cb;
    void *ud;
    ad_monitor_box_t box;
    char *argv[CHECK_ARGS_MAX + 1];
    json_t *out;
} one_t;

static void one_work(uv_work_t *w)
{
    one_t *o = w->data;
    o->out = ad_monitor_box_run(&o->box, NULL, (const char *const *)o->argv);
}

static void one_after(uv_work_t *w, int status)
{
    one_t *o = w->data;
    ad_monitor_t *m = o->m;
    o->cb(status == 0 ? o->out : NULL, o->ud);
    json_decref(o->out);
    for (size_t i = 0; o->argv[i] != NULL; i++) {
        free(o->argv[i]);
    }
    ad_monitor_box_cleanup(&o->box);
    free(o);
    if (--m->reads == 0 && m->closed) {
        free(m);
    }
}

int ad_monitor_sandbox_check(ad_monitor_t *m, const json_t *command, const char *wt_id,
                             const char *org, ad_monitor_req_cb cb, void *ud, const char **why)
{
    size_t n = json_array_size(command);
    if (n == 0 || n > CHECK_ARGS_MAX) {
        *why = "command: 1 to 64 strings, the program first";
        return AD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(command, i));
        if (s == NULL || (i == 0 && s[0] == '\0') || strlen(s) > 4000) {
            *why = "command: 1 to 64 strings, the program first";
            return AD_EINVAL;
        }
    }
    /* a worktree's folder from agentd's row (never from a file in it) */
    json_t *row = NULL;
    if (wt_id != NULL &&
        (*m->o.store == NULL || ad_store_worktree_get(*m->o.store, wt_id, &row) != 0)) {
        *why = "cannot read the worktree";
        return AD_EIO;
    }
    const char *wt = json_string_value(json_object_get(row, "path"));
    one_t *o = ad_xcalloc(1, sizeof(*o));
    *o = (one_t){.m = m, .cb = cb, .ud = ud};
    for (size_t i = 0; i < n; i++) {
        o->argv[i] = ad_xstrdup(json_string_value(json_array_get(command, i)));
    }
    ad_monitor_box_inputs(m, org, &o->box);
    snprintf(o->box.wt, sizeof(o->box.wt), "%s", wt != NULL ? wt : "");
    json_decref(row);
    o->work.data = o;
    if (uv_queue_work(m->o.loop, &o->work, one_work, one_after) != 0) {
        for (size_t i = 0; i < n; i++) {
            free(o->argv[i]);
        }
        ad_monitor_box_cleanup(&o->box);
        free(o);
        *why = "cannot queue the check";
        return AD_EIO;
    }
    m->reads++;
    return 0;
}
