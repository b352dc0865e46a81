/* SPDX-License-Identifier: MIT */
/*
 * GET /api/requirements[?refresh=true]: what agentd needs from this
 * machine (src/health/requirements.c), checked on the thread pool. It runs
 * git and the agent CLIs with --version, so like anything that starts a
 * program it needs an admin token. The answer is kept for a minute
 * (checking takes a second or two); refresh=true checks again.
 */
#include "api/api_int.h"
#include "health/health.h"
#include "proc/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ_CACHE_MS 60000

typedef struct {
    uv_work_t work;
    ad_app_t *app;
    ad_req_t *req;
    ad_health_tool_t tools[4];
    ad_health_req_in_t in;
    char cgroup_detail[512];
    char sandbox_detail[1024];
    json_t *out;
} check_t;

static void work(uv_work_t *w)
{
    check_t *c = w->data;
    c->out = ad_health_requirements(&c->in);
}

/* Keeps out (borrowed) as the last check, unless the REST layer has
 * closed while the check ran. */
static void keep_check(ad_app_t *app, json_t *out)
{
    if (app->api != NULL) {
        json_decref(app->api->requirements);
        app->api->requirements = json_incref(out);
        app->api->requirements_ms = ad_wall_ms();
    }
}

static void after(uv_work_t *w, int status)
{
    check_t *c = w->data;
    if (status != 0 || c->out == NULL) {
        ad_res_error(c->req, 503, "UNAVAILABLE", NULL, "the check was cancelled");
    } else {
        keep_check(c->app, c->out);
        ad_res_json(c->req, 200, c->out);
    }
    free(c);
}

static void tools(check_t *c, const ad_config_t *cfg)
{
    c->tools[0] = (ad_health_tool_t){
        "git", "git", "git", "install git (Debian: apt-get install git); worktrees need it"};
    c->tools[1] = (ad_health_tool_t){"claude", "Claude Code CLI", cfg->claude_bin,
                                     "npm install -g @anthropic-ai/claude-code, or set "
                                     "--claude-bin; needed for claude agents"};
    c->tools[2] = (ad_health_tool_t){"codex", "Codex CLI", cfg->codex_bin,
                                     "npm install -g @openai/codex, or set --codex-bin; needed "
                                     "for codex agents"};
    c->tools[3] = (ad_health_tool_t){"gemini", "Gemini CLI", cfg->gemini_bin,
                                     "npm install -g @google/gemini-cli, or set --gemini-bin; "
                                     "needed for gemini agents"};
    c->in.tools = c->tools;
    c->in.ntools = 4;
}

/* What the loop knows, copied for the pool. */
static void inputs(check_t *c, ad_app_t *app)
{
    tools(c, app->cfg);
    c->in.cgroup_ok = ad_procs_cgroups(app->procs);
    snprintf(c->cgroup_detail, sizeof(c->cgroup_detail), "%s", ad_procs_containment(app->procs));
    c->in.cgroup_detail = c->cgroup_detail;
    const char *why = NULL;
    c->in.sandbox_ok = ad_procs_sandbox(app->procs, &why);
    snprintf(c->sandbox_detail, sizeof(c->sandbox_detail), "%s", why);
    c->in.sandbox_detail = c->sandbox_detail;
    const ad_health_sample_t *s = app->health != NULL ? ad_health_current(app->health) : NULL;
    if (s == NULL) {
        snprintf(c->in.gpu_reason, sizeof(c->in.gpu_reason), "no health sample yet%s",
                 app->health != NULL && ad_health_interval_ms(app->health) == 0
                     ? " (--health-interval-ms=0)"
                     : "");
        return;
    }
    c->in.has_disk = s->has_disk;
    c->in.disk_total = s->disk_total;
    c->in.disk_free = s->disk_free;
    c->in.gpu_available = s->gpu_available && s->ngpu > 0;
    snprintf(c->in.gpu_reason, sizeof(c->in.gpu_reason), "%s", s->gpu_reason);
    snprintf(c->in.gpu_name, sizeof(c->in.gpu_name), "%s", s->ngpu > 0 ? s->gpus[0].name : "");
    snprintf(c->in.gpu_driver, sizeof(c->in.gpu_driver), "%s", s->gpu_driver);
    snprintf(c->in.gpu_cuda, sizeof(c->in.gpu_cuda), "%s", s->gpu_cuda);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    bool refresh = false;
    if (ad_api_query_bool(r, "refresh", false, &refresh) != 0) {
        return;
    }
    json_t *cached = app->api->requirements;
    if (!refresh && cached != NULL && ad_wall_ms() - app->api->requirements_ms < REQ_CACHE_MS) {
        ad_res_json(r, 200, json_incref(cached));
        return;
    }
    check_t *c = ad_xcalloc(1, sizeof(*c));
    c->app = app;
    c->req = r;
    inputs(c, app);
    c->work.data = c;
    if (uv_queue_work(app->loop, &c->work, work, after) != 0) {
        free(c);
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "cannot queue the check");
    }
}

void ad_api_requirements_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/requirements", AD_ACCESS_ADMIN, get, app);
}

void ad_api_requirements_close(ad_app_t *app)
{
    json_decref(app->api->requirements);
    app->api->requirements = NULL;
}
