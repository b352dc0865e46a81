/* SPDX-License-Identifier: MIT */
/*
 * What agentd needs from this machine (GET /api/requirements; moved from
 * src/api/requirements.c): the inputs the loop knows (the agent CLIs of
 * the config, cgroups and the sandbox from the supervisor, disk and GPU
 * from the last sample) copied for the pool, where src/health runs the
 * checks (git and the CLIs with --version). The answer is kept for a
 * minute (checking takes a second or two).
 */
#include "monitor/monitor_int.h"
#include "proc/proc.h"

#include <stdio.h>
#include <stdlib.h>

#define REQ_CACHE_MS 60000

typedef struct {
    uv_work_t work;
    ad_monitor_t *m;
    ad_monitor_req_cb cb;
    void *ud;
    ad_health_tool_t tools[4];
    ad_health_req_in_t in;
    char cgroup_detail[512];
    char sandbox_detail[1024];
    ad_monitor_box_t box; /* each CLI tried in an agent's sandbox, when there is one */
    json_t *out;
} check_t;

static void work(uv_work_t *w)
{
    check_t *c = w->data;
    c->out = ad_health_requirements(&c->in);
    if (c->out != NULL && c->in.sandbox_ok) {
        ad_monitor_box_items(&c->box, c->tools + 1, 3, json_object_get(c->out, "items"));
    }
}

static void after(uv_work_t *w, int status)
{
    check_t *c = w->data;
    ad_monitor_t *m = c->m;
    if (status != 0 || c->out == NULL) {
        json_decref(c->out);
        c->cb(NULL, c->ud);
    } else {
        if (!m->closed) { /* kept as the last check */
            json_decref(m->requirements);
            m->requirements = json_incref(c->out);
            m->requirements_ms = ad_wall_ms();
        }
        c->cb(c->out, c->ud); /* borrowed: ours is dropped below */
        json_decref(c->out);
    }
    ad_monitor_box_cleanup(&c->box);
    free(c);
    if (--m->reads == 0 && m->closed) {
        free(m);
    }
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
static void inputs(check_t *c, const ad_monitor_t *m)
{
    const ad_procs_t *procs = *m->o.procs;
    tools(c, m->o.cfg);
    c->in.cgroup_ok = ad_procs_cgroups(procs);
    snprintf(c->cgroup_detail, sizeof(c->cgroup_detail), "%s", ad_procs_containment(procs));
    c->in.cgroup_detail = c->cgroup_detail;
    const char *why = NULL;
    c->in.sandbox_ok = ad_procs_sandbox(procs, &why);
    snprintf(c->sandbox_detail, sizeof(c->sandbox_detail), "%s", why);
    c->in.sandbox_detail = c->sandbox_detail;
    if (c->in.sandbox_ok) {
        ad_monitor_box_inputs(m, NULL, &c->box);
    }
    const ad_health_sample_t *s = m->health != NULL ? ad_health_current(m->health) : NULL;
    if (s == NULL) {
        snprintf(c->in.gpu_reason, sizeof(c->in.gpu_reason), "no health sample yet%s",
                 m->health != NULL && ad_health_interval_ms(m->health) == 0
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

int ad_monitor_requirements(ad_monitor_t *m, bool refresh, json_t **kept, ad_monitor_req_cb cb,
                            void *ud)
{
    *kept = NULL;
    if (!refresh && m->requirements != NULL && ad_wall_ms() - m->requirements_ms < REQ_CACHE_MS) {
        *kept = json_incref(m->requirements);
        return 0;
    }
    check_t *c = ad_xcalloc(1, sizeof(*c));
    *c = (check_t){.m = m, .cb = cb, .ud = ud};
    inputs(c, m);
    c->work.data = c;
    if (uv_queue_work(m->o.loop, &c->work, work, after) != 0) {
        ad_monitor_box_cleanup(&c->box);
        free(c);
        return AD_EIO;
    }
    m->reads++;
    return 0;
}
