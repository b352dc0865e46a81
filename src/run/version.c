/* SPDX-License-Identifier: MIT */
/*
 * The version of a run's CLI: Codex and Gemini say it only when asked, so
 * `CLI --version` runs beside the run once (claude's comes in its init
 * line, output.c). The version is kept on the run row; one agentd was not
 * tested with (src/agent/version.c) is said in the transcript, and the run
 * goes on. The probe owns itself: it may outlive its run.
 */
#include "run/features.h"

#include <stdlib.h>
#include <string.h>

#define PROBE_TIMEOUT_MS 20000

typedef struct {
    ad_runner_t *r;
    ad_run_topics_t topics;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    ad_executor_t exec;
    char version[64];
    ad_proc_t *proc;
    uv_timer_t timer;
} probe_t;

/* The store's answer (NULL) to ad_run_write's. */
static void on_version(int rc, json_t *result, void *ctx)
{
    json_decref(result);
    ad_run_write_done(rc, ctx);
}

static void version_write(ad_runner_t *r, void *arg, void *ctx)
{
    ad_store_run_cli_version(r->store, arg, on_version, ctx);
}

/* On the run's row, in its turn behind what waits for space. */
static void store_version(ad_runner_t *r, const char *agent_id, const char *run_id,
                          const char *version)
{
    if (version[0] == '\0') {
        return;
    }
    ad_store_run_cli_version_t *v = ad_xcalloc(1, sizeof(*v));
    snprintf(v->id, sizeof(v->id), "%s", run_id);
    snprintf(v->version, sizeof(v->version), "%s", version);
    snprintf(v->plane_id, sizeof(v->plane_id), "%.*s", (int)sizeof(v->plane_id) - 1,
             r->cfg->plane_id);
    ad_run_write(r, agent_id, "a run's CLI version", version_write, v, NULL);
}

/* The version feature's state of a run: its CLI's version, "" until
 * known ("?" when none could be read). */
typedef struct {
    char cli_version[64];
} version_t;

void ad_run_version_set(ad_run_t *run, const char *version)
{
    version_t *v = ad_run_ctx(run, AD_RUN_FEAT_VERSION);
    if (v->cli_version[0] != '\0') {
        return;
    }
    snprintf(v->cli_version, sizeof(v->cli_version), "%s", version[0] != '\0' ? version : "?");
    store_version(run->r, run->agent_id, run->run_id, version);
    if (run->how.exec == AD_EXEC_CODEX && version[0] != '\0') {
        /* the next start picks app-server or exec --json by it */
        ad_store_agent_runtime_t u = {.context_level = -1};
        u.state_patch = json_pack("{s:s}", "codexVersion", version);
        ad_run_agent_update(run, &u, NULL, NULL);
    }
    if (ad_cli_version_known(run->how.exec, version, NULL, 0)) {
        ad_log(AD_LOG_INFO, "runner", "cli version agent=%s run=%s executor=%s version=%s",
               run->agent_id, run->run_id, ad_executor_name(run->how.exec), version);
        return;
    }
    char text[512];
    ad_cli_version_warning(run->how.exec, version, text, sizeof(text));
    ad_log(AD_LOG_WARN, "runner", "untested cli version agent=%s run=%s executor=%s version=%s",
           run->agent_id, run->run_id, ad_executor_name(run->how.exec),
           version[0] != '\0' ? version : "?");
    ad_rec_t note;
    memset(&note, 0, sizeof(note));
    note.is_complete = true; /* a note, not plain output that may be shed */
    json_t *ev = ad_run_queue_message(run, "system", text, strlen(text), &note, NULL);
    ad_run_publish(run->r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
}

static void on_probe_closed(uv_handle_t *h)
{
    free(h->data);
}

static void probe_done(probe_t *p)
{
    uv_timer_stop(&p->timer);
    ad_run_t *run = ad_run_find(p->r, p->agent_id);
    if (run != NULL && strcmp(run->run_id, p->run_id) == 0) {
        ad_run_version_set(run, p->version);
    } else {
        /* The run ended first (a CLI that fails at once): the row and the
         * transcript still get what the version was. */
        store_version(p->r, p->agent_id, p->run_id, p->version);
        if (!ad_cli_version_known(p->exec, p->version, NULL, 0)) {
            char text[512];
            ad_cli_version_warning(p->exec, p->version, text, sizeof(text));
            ad_run_note_system(p->r, &p->topics, p->agent_id, p->run_id, text);
        }
    }
    uv_close((uv_handle_t *)&p->timer, on_probe_closed);
}

static void on_probe_line(ad_proc_t *proc, ad_proc_stream_t stream, const char *line, size_t len,
                          bool truncated, void *ud)
{
    AD_UNUSED(proc);
    AD_UNUSED(len);
    AD_UNUSED(truncated);
    probe_t *p = ud;
    /* stdout has the version; stderr may have warnings with numbers in. */
    if (stream == AD_PROC_STDOUT && p->version[0] == '\0') {
        (void)ad_cli_version_parse(line, p->version, sizeof(p->version));
    }
}

static void on_probe_exit(ad_proc_t *proc, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(proc);
    probe_t *p = ud;
    p->proc = NULL;
    if (ex->exit_code != 0) {
        ad_log(AD_LOG_WARN, "runner", "cli --version failed agent=%s code=%d signal=%d",
               p->agent_id, ex->exit_code, ex->term_signal);
    }
    probe_done(p);
}

static void on_probe_timeout(uv_timer_t *t)
{
    probe_t *p = t->data;
    if (p->proc != NULL) {
        ad_proc_stop(p->proc, true);
    }
}

void ad_run_probe_version(ad_run_t *run, const char *argv0, const char *cwd, const char *const *env,
                          const ad_proc_sandbox_t *sandbox)
{
    probe_t *p = ad_xcalloc(1, sizeof(*p));
    p->r = run->r;
    ad_run_topics_copy(&p->topics, &run->topics);
    memcpy(p->agent_id, run->agent_id, AD_ID_MAX);
    memcpy(p->run_id, run->run_id, AD_ID_MAX);
    p->exec = run->how.exec;
    uv_timer_init(run->r->loop, &p->timer);
    p->timer.data = p;
    const char *argv[] = {argv0, "--version", NULL};
    ad_proc_opts_t o = {.argv = argv,
                        .cwd = cwd,
                        .env = env,
                        .polite = AD_PROC_POLITE_NONE,
                        .term_grace_ms = 1000,
                        .kill_grace_ms = 1000,
                        .max_line_bytes = 4096,
                        .on_line = on_probe_line,
                        .on_exit = on_probe_exit,
                        .ud = p,
                        .sandbox = sandbox};
    char err[256];
    if (ad_proc_spawn(run->r->procs, &o, &p->proc, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "runner", "cli --version not run agent=%s error=%s", run->agent_id,
               err);
        probe_done(p);
        return;
    }
    ad_proc_close_stdin(p->proc);
    uv_timer_start(&p->timer, on_probe_timeout, PROBE_TIMEOUT_MS, 0);
}

/* The process is up: a one-turn CLI's version read beside it, in the
 * agent's sandbox too (its env is the agent's). A node's CLI is not here:
 * the node feature tells its version. */
static void version_started(ad_run_t *run, ad_run_start_t *s)
{
    if (!s->launch.probe_version || run->node_id[0] != '\0') {
        return;
    }
    ad_proc_sandbox_t probe = s->sbx.box.sb; /* without the agent's network proxy */
    probe.net_allow = NULL;
    ad_run_probe_version(run, s->argv[0], s->path, (const char *const *)s->env,
                         s->sbx.box.none || s->sbx.box.home == NULL ? NULL : &probe);
}

/* The CLI says its version in its init line (Claude Code): not asked. */
static bool version_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type == AD_REC_SESSION && rec->version != NULL) {
        ad_run_version_set(run, rec->version);
    }
    return false; /* the session is the core's too */
}

const ad_run_feature_t ad_run_feat_version = {
    .name = "version",
    .ctx_size = sizeof(version_t),
    .started = version_started,
    .record = version_record,
};
