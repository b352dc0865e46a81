/* SPDX-License-Identifier: MIT */
/*
 * The run's side of `codex app-server` (issue #33): what the thread is
 * opened with, the first lines on the process's stdin, and stop's first
 * step, turn/interrupt. The protocol's lines are src/agent's (appserver.c);
 * the rest of the run (messages, approvals, the turn's end) goes through
 * the same paths as every executor's.
 *
 * The codexapp feature (feature.h): owns the timer of a stop that waits
 * for an interrupted turn (its state, allocated at the first stop);
 * hooks: input (the thread opened), attach (the thread taken up again),
 * release (the timer goes). run->how.rpc (core: how the run talks) says
 * whether a run is an app-server's.
 *
 * Threads: loop thread only.
 */
#include "run/features.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    void *stop_later; /* the stop after an interrupt (stop_later_t), or NULL */
} codexapp_t;

/* What the app-server is told of the agent when its thread opens: spec's
 * mode, session, fork, model and instructions, the worktree, whether
 * agentd's sandbox confines it, and what its permissions let run unasked. */
static void codex_open(const ad_agent_spec_t *spec, const char *worktree, bool outer_sandbox,
                       ad_codex_open_t *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = spec->mode;
    o->session_id = spec->session_id;
    o->fork = spec->fork_session;
    o->model = spec->model;
    o->instructions = spec->system_prompt;
    o->cwd = worktree;
    o->outer_sandbox = outer_sandbox;
    for (size_t i = 0; i < spec->npermissions; i++) {
        const char *tools = ad_permission_tools(spec->permissions[i]);
        o->allow_commands = o->allow_commands || strcmp(tools, "Bash") == 0;
        o->allow_edits = o->allow_edits || strcmp(tools, "Edit,Write,NotebookEdit") == 0 ||
                         strcmp(tools, "Edit") == 0;
    }
}

/* What codex app-server is told of the agent: its folder as it sees it
 * (on a node, the node's). */
static void codex_open_of(const ad_run_t *run, const ad_run_start_t *s, ad_codex_open_t *o)
{
    codex_open(&s->spec, ad_run_agent_cwd(run), !s->sbx.box.none && s->sbx.box.home != NULL, o);
}

/* The first lines (initialize, the thread) on the run's stdin, and the
 * prompt (may be NULL) queued as the first turn once the thread is open. */
static void codexapp_input(ad_run_t *run, const ad_run_start_t *s, const char *prompt)
{
    if (!run->how.rpc) {
        return;
    }
    ad_codex_open_t open;
    codex_open_of(run, s, &open);
    const ad_codex_open_t *o = &open;
    size_t len = 0;
    char *lines = ad_codex_app_open(run->parser, o, &len);
    if (lines == NULL || ad_proc_write(run->proc, lines, len) != 0) {
        ad_log(AD_LOG_WARN, "runner", "codex app-server not opened agent=%s", run->agent_id);
    }
    free(lines);
    char *line = NULL;
    if (prompt != NULL && prompt[0] != '\0') {
        (void)ad_codex_app_input(run->parser, prompt, &line, &len); /* queued for the thread */
        free(line);
    }
}

/* The stop's later step: looks the run up when it fires (it may be gone). */
typedef struct {
    uv_timer_t t;
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
} stop_later_t;

static void on_stop_later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_stop_later(uv_timer_t *t)
{
    stop_later_t *s = t->data;
    ad_run_t *run = ad_run_find(s->r, s->agent_id);
    codexapp_t *c = run != NULL ? ad_run_ctx_peek(run, AD_RUN_FEAT_CODEXAPP) : NULL;
    if (c != NULL && strcmp(run->run_id, s->run_id) == 0) {
        c->stop_later = NULL;
        if (run->proc != NULL) {
            ad_proc_stop(run->proc, false);
        }
    }
    uv_close((uv_handle_t *)t, on_stop_later_closed);
}

/* The run is released: its stop timer, if any, goes with it. */
static void codexapp_release(ad_run_t *run)
{
    codexapp_t *c = ad_run_ctx_peek(run, AD_RUN_FEAT_CODEXAPP);
    stop_later_t *s = c != NULL ? c->stop_later : NULL;
    if (s != NULL) {
        c->stop_later = NULL;
        uv_timer_stop(&s->t);
        uv_close((uv_handle_t *)&s->t, on_stop_later_closed);
    }
}

bool ad_run_interrupt_first(ad_run_t *run)
{
    size_t len = 0;
    char *line = ad_codex_app_interrupt(run->parser, &len);
    bool sent = line != NULL && ad_proc_write(run->proc, line, len) == 0;
    free(line);
    if (!sent) {
        return false;
    }
    codexapp_t *c = ad_run_ctx(run, AD_RUN_FEAT_CODEXAPP);
    if (c->stop_later != NULL) {
        return true; /* one is under way */
    }
    stop_later_t *s = ad_xcalloc(1, sizeof(*s));
    s->r = run->r;
    memcpy(s->agent_id, run->agent_id, AD_ID_MAX);
    memcpy(s->run_id, run->run_id, AD_ID_MAX);
    uv_timer_init(run->r->loop, &s->t);
    s->t.data = s;
    uint64_t grace = run->r->cfg->stop_grace_ms > 0 ? (uint64_t)run->r->cfg->stop_grace_ms : 1;
    uv_timer_start(&s->t, on_stop_later, grace, 0);
    c->stop_later = s;
    return true;
}

/* A run taken up: its app-server lives on, on the agent's thread. */
static void codexapp_attach(ad_run_t *run, ad_run_start_t *s)
{
    if (run->how.rpc) {
        ad_codex_open_t co;
        codex_open_of(run, s, &co);
        ad_codex_app_attach(run->parser, s->spec.session_id, &co);
    }
}

const ad_run_feature_t ad_run_feat_codexapp = {
    .name = "codexapp",
    .ctx_size = sizeof(codexapp_t),
    .input = codexapp_input,
    .attach = codexapp_attach,
    .release = codexapp_release,
};
