/* SPDX-License-Identifier: MIT */
/*
 * Starting a run: the agent's row becomes a launch (executor, argv,
 * environment), the process is spawned through the supervisor, the first
 * prompt is queued, and the run row is written before any of its
 * messages. Building the launch is src/agent's, spawning src/proc's.
 */
#include "run/features.h"
#include "run/run_int.h"
#include "cluster/cluster.h"
#include "hparam/hparam.h"
#include "tables/gitrows.h"
#include "tables/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a start needs (feature.h: the hooks read it too). */
typedef ad_run_start_t start_t;

static void start_cleanup(start_t *s)
{
    if (s->env != NULL) {
        for (size_t i = s->launch.nenv; s->env[i] != NULL; i++) {
            memset((char *)s->env[i], 0, strlen(s->env[i])); /* an API key may be among them */
            free((char *)s->env[i]);
        }
        free(s->env);
    }
    free(s->perms);
    free(s->cmd);
    free(s->argv);
    free(s->agent_path);
    ad_run_sandbox_cleanup(&s->sbx);
    ad_launch_cleanup(&s->launch);
    free(s->config);
    json_decref(s->remote_config);
    json_decref(s->remote_sandbox);
    ad_row_agent_cleanup(&s->agent);
    json_decref(s->settings);
}

/* Strings of a JSON array (borrowed from it); "" for non-strings. */
static const char **str_array(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    const char **v = ad_xcalloc(*n + 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        v[i] = json_string_value(json_array_get(a, i));
        if (v[i] == NULL) {
            v[i] = "";
        }
    }
    return v;
}

/* The spec's fields that come from the agent's state and the settings. */
static void spec_from_state(start_t *s)
{
    ad_agent_spec_t *spec = &s->spec;
    s->perms = str_array(s->agent.permissions, &spec->npermissions);
    spec->permissions = s->perms;
    spec->session_id = s->agent.session_id;
    const char *gone = json_string_value(json_object_get(s->state, "sessionGone"));
    if (spec->session_id != NULL && gone != NULL && strcmp(spec->session_id, gone) == 0) {
        spec->session_id = NULL; /* the CLI lost it: a fresh session (resume.c) */
    }
    /* A fork's first run: its session id is still the parent's (see
     * ad_store_op_agent_fork); on_session_rec clears the flag once the
     * CLI says the new id. */
    spec->fork_session = json_is_true(json_object_get(s->state, "forkSession"));
    spec->model = json_string_value(json_object_get(s->state, "model"));
    spec->system_prompt = json_string_value(json_object_get(s->state, "systemPrompt"));
    spec->base_url = json_string_value(json_object_get(s->state, "baseUrl"));
    spec->codex_config = json_object_get(s->state, "codexConfig");
    spec->cli_version = json_string_value(json_object_get(s->state, "codexVersion"));
    s->cmd = str_array(json_object_get(s->state, "command"), &spec->ncommand);
    spec->command = s->cmd;
    spec->acp_agent = json_string_value(json_object_get(s->state, "acpAgent"));
    /* Unreadable settings count as all off. */
    spec->allow_root_auto = json_is_true(json_object_get(s->settings, "allow_root_auto"));
    spec->remote = json_is_string(json_object_get(s->state, "node")) ||
                   json_is_object(json_object_get(s->state, "placement"));
}

/* Reads the agent and builds its launch. AD_ENOENT, AD_ESTATE (archived;
 * a follow-up for an agent whose CLI takes input only while it runs)
 * AD_EINVAL (cannot be started as configured) or AD_EPERM (refused by a
 * setting), with err set. */
static int load(ad_runner_t *r, const char *agent_id, const char *prompt, bool followup, start_t *s,
                char *err, size_t errsz)
{
    int rc =
        ad_store_runs_agent_get(r->store, agent_id, &s->agent, s->ws, s->path, sizeof(s->path));
    if (rc != 0) {
        snprintf(err, errsz, "agent %s not found", agent_id);
        return rc;
    }
    if (s->agent.has_deleted_at) {
        snprintf(err, errsz, "agent %s is archived; restore it first", agent_id);
        return AD_ESTATE;
    }
    ad_agent_spec_t *spec = &s->spec;
    spec->executor = s->agent.executor; /* the schema's words: the row read them */
    spec->mode = ad_agent_mode_of(s->agent.mode);
    s->state = s->agent.state;
    if (ad_store_settings_get(r->store, &s->settings) != 0) {
        s->settings = NULL;
    }
    spec_from_state(s);
    spec->prompt = prompt;
    /* an ACP agent that is not running takes a message as a new run that
     * loads its session (when the agent can) */
    if (followup && spec->executor != AD_EXEC_CODEX && spec->executor != AD_EXEC_GEMINI &&
        spec->executor != AD_EXEC_ACP) {
        snprintf(err, errsz, "agent %s is not running or cannot take input", agent_id);
        return AD_ESTATE;
    }
    /* a program found as its user's shell would, in the worktree: ~, a
     * relative path, a bare name on the agent's PATH (not on a node: its own) */
    if (!spec->remote) {
        s->agent_path = ad_proc_agent_path(getenv("PATH"), getenv("HOME"));
        if (spec->executor == AD_EXEC_COMMAND && spec->ncommand > 0 && s->path[0] != '\0' &&
            ad_proc_resolve(s->cmd[0], s->agent_path, s->path, getenv("HOME"), s->prog,
                            sizeof(s->prog)) == 0) {
            s->cmd[0] = s->prog;
        }
    }
    rc = ad_launch_build(spec, r->cfg, s->agent_path != NULL ? s->agent_path : getenv("PATH"),
                         &s->launch, err, errsz);
    if (rc != 0) {
        /* 403 when refused by policy, else 422: cannot start as configured */
        return rc == AD_EPERM ? AD_EPERM : AD_EINVAL;
    }
    if (s->path[0] == '\0') {
        snprintf(err, errsz, "agent %s has no worktree directory", agent_id);
        return AD_EINVAL;
    }
    return 0;
}

int ad_run_check_prepare(ad_runner_t *r, const char *agent_id, ad_run_start_t *s, char *err,
                         size_t errsz)
{
    /* a prompt, as a CLI that runs one turn needs one to build its launch
     * (never spawned: only its environment and sandbox are used) */
    int rc = load(r, agent_id, "check", false, s, err, errsz);
    if (rc == 0 && s->spec.remote) {
        snprintf(err, errsz, "a goal's check does not run for an agent on a node");
        rc = AD_EINVAL;
    }
    rc = rc != 0 ? rc : ad_run_start_sandbox(r, agent_id, s, err, errsz);
    /* the check runs beside the agent's CLI: a registration of its own at
     * the network proxy, not the agent's (proc.h) */
    if (rc == 0 && !ad_proc_net_own(s->sbx.box.net_sock, sizeof(s->sbx.box.net_sock))) {
        snprintf(err, errsz, "the check's network proxy folder name is too long");
        rc = AD_EINVAL;
    }
    if (rc == 0) {
        ad_run_start_env(r, s);
    }
    return rc;
}

void ad_run_start_cleanup(ad_run_start_t *s)
{
    start_cleanup(s);
}

/* Whether entry "NAME=…" is in env[0..n). */
static bool env_has(const char **env, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') {
            return true;
        }
    }
    return false;
}

/* The org's stored key for the executor's provider, when the environment
 * names none (ad_runner_set_key_source). */
static void add_key(ad_runner_t *r, start_t *s, size_t *nenv)
{
    /* an ACP preset is its CLI's: claude-code-acp Claude's key, codex-acp Codex's */
    const char *acp =
        s->spec.executor == AD_EXEC_ACP && s->spec.acp_agent != NULL ? s->spec.acp_agent : "";
    bool anthropic = s->spec.executor == AD_EXEC_CLAUDE || strcmp(acp, "claude-code-acp") == 0;
    bool openai = s->spec.executor == AD_EXEC_CODEX || strcmp(acp, "codex-acp") == 0;
    const char *var = anthropic ? "ANTHROPIC_API_KEY" : openai ? "OPENAI_API_KEY" : NULL;
    if (r->key_fn == NULL || var == NULL || env_has(s->env, *nenv, var)) {
        return;
    }
    const char *org = s->agent.org_id;
    const char *key = r->key_fn(r->key_ud, org != NULL ? org : AD_ORG_DEFAULT,
                                anthropic ? "anthropic" : "openai");
    if (key == NULL || key[0] == '\0') {
        return;
    }
    size_t len = strlen(var) + strlen(key) + 2;
    char *e = ad_xmalloc(len);
    snprintf(e, len, "%s=%s", var, key);
    s->env[(*nenv)++] = e;
}

/* The environment: the executor's, then state.env, then a stored API key
 * (NULL-terminated). */
void ad_run_start_env(ad_runner_t *r, start_t *s)
{
    json_t *senv = json_object_get(s->state, "env");
    size_t nenv = 0;
    /* room for HOME and TMPDIR, the API key, the telemetry (add_telemetry: 10) and
     * AGENTD_CONFIG, and the NULL */
    s->env = ad_xcalloc(s->launch.nenv + AD_RUN_STATE_ENV_MAX + 17, sizeof(char *));
    for (size_t i = 0; i < s->launch.nenv; i++) {
        s->env[nenv++] = s->launch.env[i];
    }
    if (s->agent_path != NULL) { /* the user's toolchains, as a login shell has them */
        size_t len = strlen(s->agent_path) + sizeof("PATH=");
        char *e = ad_xmalloc(len);
        snprintf(e, len, "PATH=%s", s->agent_path);
        s->env[nenv++] = e;
    }
    if (s->sbx.box.home != NULL) { /* agentd's own are not there (state.env may say others) */
        s->env[nenv++] = ad_xstrdup("HOME="
                                    "/home/agent");
        s->env[nenv++] = ad_xstrdup("TMPDIR=/tmp");
    }
    const char *k;
    json_t *v;
    json_object_foreach(senv, k, v)
    {
        if (nenv >= s->launch.nenv + AD_RUN_STATE_ENV_MAX || !json_is_string(v)) {
            continue;
        }
        size_t len = strlen(k) + json_string_length(v) + 2;
        char *e = ad_xmalloc(len);
        snprintf(e, len, "%s=%s", k, json_string_value(v));
        s->env[nenv++] = e;
    }
    add_key(r, s, &nenv);
}

static ad_run_t *run_new(ad_runner_t *r, const char *agent_id, const start_t *s)
{
    ad_run_t *run = ad_xcalloc(1, sizeof(*run));
    run->r = r;
    run->msgs.flush.data = run;
    snprintf(run->agent_id, sizeof(run->agent_id), "%s", agent_id);
    ad_id_new("run", run->run_id);
    const char *crew = s->agent.crew_id;
    snprintf(run->crew_id, sizeof(run->crew_id), "%s", crew != NULL ? crew : "");
    const char *org = s->agent.org_id;
    snprintf(run->org_id, sizeof(run->org_id), "%s", org != NULL ? org : "");
    ad_run_topics_init(&run->topics, agent_id, run->run_id, s->ws, s->agent.org_id, run->crew_id);
    run->how.exec = s->spec.executor;
    run->how.stdin_json = s->spec.executor == AD_EXEC_CLAUDE;
    run->how.one_shot = s->launch.one_shot;
    run->how.rpc = s->launch.rpc;
    run->parser = ad_parser_new(s->spec.executor);
    run->cwd = ad_xstrdup(s->path);
    ad_parser_set_model(run->parser, s->spec.model);
    ad_parser_set_prices(run->parser, json_object_get(s->settings, "model_prices"));
    ad_recs_init(&run->recs);
    size_t line_max = (size_t)r->cfg->max_line_bytes;
    ad_buf_init(&run->msgs.out[0], AD_RUN_OUT_FLUSH_BYTES + AD_PARSER_OUTPUT_MAX + 64);
    ad_buf_init(&run->msgs.out[1], AD_RUN_OUT_FLUSH_BYTES + line_max + 64);
    ad_buf_init(&run->live.buf[0], AD_RUN_LIVE_BYTES + AD_PARSER_OUTPUT_MAX + 64);
    ad_buf_init(&run->live.buf[1], AD_RUN_LIVE_BYTES + line_max + 64);
    run->how.pty = json_is_true(json_object_get(s->state, "terminal"));
    ad_run_feat_open(run, s);
    return run;
}

/* How the supervisor runs it: argv, cwd, env, terminal, the polite stop
 * step (state.stopWith, else the executor's), graces and callbacks. */
static void proc_opts(const ad_runner_t *r, ad_run_t *run, start_t *s, ad_proc_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    ad_executor_t ex = s->spec.executor;
    ad_run_sandbox_argv(s);
    o->argv = (const char *const *)s->argv;
    o->sandbox = s->sbx.box.none || s->sbx.box.home == NULL ? NULL : &s->sbx.box.sb;
    run->how.sandboxed = o->sandbox != NULL;
    o->cwd = s->path;
    o->env = (const char *const *)s->env;
    o->pty = run->how.pty;
    /* Codex and Gemini end at once on SIGINT (their stdin is closed
     * already); Claude Code ends its turn on it (then stdin closes). */
    /* An ACP agent was sent session/cancel (control.c) and ends when its
     * input does. */
    o->polite = ex == AD_EXEC_COMMAND  ? AD_PROC_POLITE_SIGINT
                : ex == AD_EXEC_CLAUDE ? AD_PROC_POLITE_SIGINT_CLOSE
                : ex == AD_EXEC_ACP    ? AD_PROC_POLITE_CLOSE_STDIN
                : run->how.rpc         ? AD_PROC_POLITE_CLOSE_STDIN /* after turn/interrupt */
                                       : AD_PROC_POLITE_SIGINT;
    const char *stop_with = json_string_value(json_object_get(s->state, "stopWith"));
    if (stop_with != NULL) {
        o->polite = strcmp(stop_with, "stdin") == 0  ? AD_PROC_POLITE_CLOSE_STDIN
                    : strcmp(stop_with, "none") == 0 ? AD_PROC_POLITE_NONE
                                                     : AD_PROC_POLITE_SIGINT;
    }
    o->term_grace_ms = r->cfg->stop_grace_ms > 0 ? r->cfg->stop_grace_ms : 1;
    o->kill_grace_ms = o->term_grace_ms;
    o->nice = (int)r->cfg->agent_nice;
    o->max_line_bytes = (size_t)r->cfg->max_line_bytes;
    o->on_line = ad_run_on_line;
    o->on_data = o->pty ? ad_run_on_data : NULL;
    o->on_exit = ad_run_on_exit;
    o->on_stall = ad_run_on_stall;
    o->ud = run;
    o->cgroup_name = run->run_id;
    if (run->held.dir == NULL) {
        run->held.dir = ad_run_hold_path(r, run->run_id); /* hold.c; NULL: not held */
    }
    o->hold_dir = run->held.dir;
    o->hold_wait_sec = (uint32_t)r->cfg->hold_wait_sec;
    json_t *lim = json_object_get(s->state, "limits");
    json_int_t mb = json_integer_value(json_object_get(lim, "memoryMb"));
    json_int_t cpu = json_integer_value(json_object_get(lim, "cpuPercent"));
    s->limits.memory_bytes = mb > 0 ? (uint64_t)mb << 20 : 0;
    s->limits.cpu_percent = cpu > 0 ? (unsigned)cpu : 0;
    o->limits = &s->limits; /* lives as long as the start */
}

/* The process is up: its input, and the first prompt as a message. */
static void first_input(ad_run_t *run, const start_t *s, const char *prompt)
{
    run->how.accepts_input = s->launch.interactive || s->spec.executor == AD_EXEC_COMMAND;
    if (s->launch.stdin_data != NULL && s->launch.stdin_len > 0) {
        ad_proc_write(run->proc, s->launch.stdin_data, s->launch.stdin_len);
    }
    ad_run_feat_input(run, s, prompt); /* the protocol's first lines (feature.h) */
    if (!run->how.accepts_input) {
        ad_proc_close_stdin(run->proc);
    }
    if (prompt == NULL || prompt[0] == '\0') {
        return;
    }
    json_t *ev =
        ad_run_queue_message(run, "user", prompt, strlen(prompt), NULL, run->prompt_msg_id);
    ad_run_publish(run->r, &run->topics, "message_created", json_pack("{s:o}", "message", ev));
    if (s->spec.executor == AD_EXEC_COMMAND) {
        ad_proc_write(run->proc, prompt, strlen(prompt));
        ad_proc_write(run->proc, "\n", 1);
    }
}

typedef struct {
    ad_runner_t *r;
    ad_runner_cb cb;
    void *ud;
    ad_run_topics_t topics;
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    char *cwd;             /* the worktree (owned): its HEAD is the run's commit */
    ad_run_early_t *early; /* owned: the run's topics.early, told after run_started */
} start_ctx_t;

/* What the run published while its start was recorded, out now in order;
 * its later events go out at once. */
static void tell_early(start_ctx_t *c)
{
    if (c->early == NULL) {
        return;
    }
    ad_run_t *run = ad_run_find_by_run(c->r, c->run_id);
    if (run != NULL && run->topics.early == c->early) {
        run->topics.early = NULL;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(c->early->events, i, ev)
    {
        ad_run_publish(c->r, &c->topics, json_string_value(json_object_get(ev, "type")),
                       json_incref(json_object_get(ev, "payload")));
    }
    json_decref(c->early->events);
    free(c->early);
    c->early = NULL;
}

static void on_start_done(int rc, json_t *result, void *ud)
{
    start_ctx_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "runner", "recording run start failed agent=%s error=%s", c->agent_id,
               ad_strerror(rc));
        ad_run_t *run = ad_run_find(c->r, c->agent_id);
        if (run != NULL && run->proc != NULL) {
            ad_proc_stop(run->proc, true);
        }
        tell_early(c);
        ad_run_call_cb(c->cb, c->ud, rc, NULL, "the run could not be recorded");
    } else {
        ad_run_publish_status(c->r, &c->topics, c->agent_id, "running", NULL,
                              json_object_get(json_object_get(result, "agent"), "statusReason"));
        ad_run_note_commit(c->r, c->run_id, c->cwd); /* the run row is in */
        json_t *run = json_object_get(result, "run");
        if (run != NULL) { /* dashboards count runs live (issue #19) */
            ad_run_publish(c->r, &c->topics, "run_started", json_pack("{s:O}", "run", run));
        }
        tell_early(c);
        /* the start's answer is the agent with the run it started */
        json_t *agent = json_deep_copy(json_object_get(result, "agent"));
        if (json_is_object(agent) && run != NULL) {
            json_object_set(agent, "runId", json_object_get(run, "id"));
        }
        json_t *reply = json_pack("{s:o}", "agent", agent != NULL ? agent : json_null());
        ad_run_call_cb(c->cb, c->ud, 0, reply, NULL);
        json_decref(reply);
    }
    json_decref(result);
    free(c->cwd);
    free(c);
}

/* The run row, written before any message of the run so the messages'
 * foreign key holds (the writer keeps submission order). Its start is
 * started_ms, when agentd began starting it: before anything the process
 * does (its own spans and timestamps), however long the spawn took. */
static void record_start(ad_run_t *run, int64_t started_ms, char *config, ad_runner_cb cb, void *ud)
{
    start_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    c->cb = cb;
    c->ud = ud;
    ad_run_topics_copy(&c->topics, &run->topics);
    c->early = run->topics.early; /* taken: a run freed first leaves it here */
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", run->agent_id);
    snprintf(c->run_id, sizeof(c->run_id), "%s", run->run_id);
    c->cwd = run->cwd != NULL ? ad_xstrdup(run->cwd) : NULL;
    ad_store_run_start_t row = {.now = started_ms, .pid = ad_proc_pid(run->proc), .config = config};
    snprintf(row.node_id, sizeof(row.node_id), "%s", run->node_id);
    snprintf(row.plane_id, sizeof(row.plane_id), "%.*s", (int)sizeof(row.plane_id) - 1,
             run->r->cfg->plane_id);
    row.lease_ms = AD_PLANES_LEASE_MS;
    snprintf(row.id, sizeof(row.id), "%s", run->run_id);
    snprintf(row.agent_id, sizeof(row.agent_id), "%s", run->agent_id);
    ad_status_reason_set(&row.why, "run_started", run->run_id, "run %s started (pid %ld)",
                         run->run_id, (long)row.pid);
    ad_store_run_start(run->r->store, &row, on_start_done, c);
    ad_run_flush_batch(run, NULL, NULL);
}

/* A message sent while the process starts. */
typedef struct pending_msg {
    struct pending_msg *next;
    char *content;
    ad_runner_cb cb;
    void *ud;
} pending_msg_t;

struct ad_run_pending {
    start_t s;
    char *prompt;        /* the first prompt (owned), or NULL */
    char *prompt_id_out; /* where its message id goes (a follow-up's), or NULL */
    ad_runner_cb cb;
    void *ud;
    uint64_t t0;   /* when the start was asked (ad_mono_ns) */
    int64_t wall0; /* the same, wall clock (ms): the run's start */
    pending_msg_t *msgs, **msgs_tail;
};

static void pending_release(ad_run_pending_t *pd)
{
    for (pending_msg_t *m = pd->msgs, *next; m != NULL; m = next) {
        next = m->next;
        free(m->content);
        free(m);
    }
    start_cleanup(&pd->s);
    free(pd->prompt);
    free(pd);
}

void ad_run_pending_free(ad_run_t *run)
{
    if (run->pending != NULL) {
        pending_release(run->pending);
        run->pending = NULL;
    }
}

int ad_run_pending_message(ad_run_t *run, const char *content, ad_runner_cb cb, void *ud)
{
    ad_run_pending_t *pd = run->pending;
    if (pd == NULL) {
        return AD_ESTATE;
    }
    pending_msg_t *m = ad_xcalloc(1, sizeof(*m));
    m->content = ad_xstrdup(content);
    m->cb = cb;
    m->ud = ud;
    *pd->msgs_tail = m;
    pd->msgs_tail = &m->next;
    return 0;
}

/* The process runs: its input, the run row, and what waited for it. */
static void started(ad_run_t *run, ad_run_pending_t *pd)
{
    ad_runner_t *r = run->r;
    start_t *s = &pd->s;
    uv_timer_init(r->loop, &run->msgs.flush);
    run->msgs.flush.data = run;
    run->msgs.flush_init = true;
    run->started_ns = ad_mono_ns();
    /* Its events wait for run_started (the run row's commit); the prompt
     * waits in the batch until the run row is queued. */
    run->topics.early = ad_xcalloc(1, sizeof(*run->topics.early));
    run->topics.early->events = json_array();
    first_input(run, s, pd->prompt);
    if (pd->prompt_id_out != NULL) {
        memcpy(pd->prompt_id_out, run->prompt_msg_id, AD_ID_MAX);
    }
    ad_log(AD_LOG_INFO, "runner", "run started agent=%s run=%s pid=%ld executor=%s spawn_ms=%.1f",
           run->agent_id, run->run_id, (long)ad_proc_pid(run->proc),
           ad_executor_name(s->spec.executor), (double)(ad_mono_ns() - pd->t0) / 1e6);
    record_start(run, pd->wall0, s->config, pd->cb, pd->ud);
    s->config = NULL;           /* the store's now */
    if (run->stop.since != 0) { /* asked while it started: the process stops now (src/proc) */
        ad_store_run_stop_mark(r->store, run->run_id, run->stop.since, run->stop.force);
    }
    ad_run_feat_started(run, s);
    /* messages sent meanwhile, in order, after the first prompt */
    for (pending_msg_t *m = pd->msgs; m != NULL; m = m->next) {
        char err[256] = "";
        int rc = ad_runner_message(r, run->agent_id, m->content, m->cb, m->ud, err, sizeof(err));
        if (rc != 0) {
            ad_run_call_cb(m->cb, m->ud, rc, NULL, err[0] != '\0' ? err : ad_strerror(rc));
        }
    }
}

/* The process could not be started: the run is forgotten (no row was
 * written), and whoever waits is told why. */
static void start_failed(ad_run_t *run, ad_run_pending_t *pd, int rc, const char *why)
{
    ad_runner_t *r = run->r;
    ad_log(AD_LOG_WARN, "runner", "run not started agent=%s run=%s error=\"%s\"", run->agent_id,
           run->run_id, why);
    ad_run_unlink(r, run);
    run->proc = NULL;
    if (pd->s.config != NULL) {
        ad_run_config_remove(r, run->run_id);
    }
    char msg[600];
    snprintf(msg, sizeof(msg), "agent %s could not start: %s", run->agent_id, why);
    for (pending_msg_t *m = pd->msgs; m != NULL; m = m->next) {
        ad_run_call_cb(m->cb, m->ud, AD_ESTATE, NULL, msg);
    }
    for (ad_run_waiter_t *w = run->stop.waiters, *next; w != NULL; w = next) {
        next = w->next;
        ad_run_call_cb(w->cb, w->ud, AD_ESTATE, NULL, msg);
        free(w);
    }
    run->stop.waiters = NULL;
    const char *was = ad_row_agent_status_name(pd->s.agent.status);
    if (run->stop.since != 0 && was != NULL) { /* it read "stopping": it is what it was */
        run->stop.since = 0;
        const ad_row_status_reason_t *was_why = pd->s.agent.status_reason;
        json_t *wj = was_why != NULL ? ad_row_status_reason_encode(was_why) : NULL;
        ad_run_publish_status(r, &run->topics, run->agent_id, was, NULL, wj);
        json_decref(wj);
    }
    /* 422 as a refusal at once would be (the agent cannot start as
     * configured: its program did not exec), 409 while agentd closes */
    ad_run_call_cb(pd->cb, pd->ud, rc == AD_ESTATE ? AD_ESTATE : AD_EINVAL, NULL, why);
    ad_run_free(run);
}

/* The supervisor's outcome of the run's spawn. */
static void on_proc_start(ad_proc_t *p, int rc, const char *err, void *ud)
{
    AD_UNUSED(p);
    ad_run_t *run = ud;
    ad_run_pending_t *pd = run->pending;
    run->pending = NULL;
    if (rc != 0) {
        start_failed(run, pd, rc, err != NULL ? err : ad_strerror(rc));
    } else {
        started(run, pd);
    }
    pending_release(pd);
}

/* The run is made and its process spawned: the start is answered (cb)
 * once the process runs and the run row is committed, or when it fails.
 * The loop goes on meanwhile: the spawn is a spawner thread's (src/proc). */
static int start_run(ad_runner_t *r, const char *agent_id, const char *prompt, bool followup,
                     const ad_run_config_t *cfg, ad_runner_cb cb, void *ud, char *prompt_id_out,
                     char *err, size_t errsz, const ad_run_queue_ask_t *q)
{
    if (ad_run_find(r, agent_id) != NULL) {
        snprintf(err, errsz, "agent %s is already running", agent_id);
        return AD_ESTATE;
    }
    ad_run_pending_t *pd = ad_xcalloc(1, sizeof(*pd));
    pd->t0 = ad_mono_ns();
    pd->wall0 = ad_wall_ms();
    pd->msgs_tail = &pd->msgs;
    start_t *s = &pd->s;
    int rc = load(r, agent_id, prompt, followup, s, err, errsz);
    char node_id[AD_ID_MAX] = "";
    bool gpu = false;
    rc = rc != 0 ? rc : ad_run_node_place(r, s, node_id, &gpu, err, errsz);
    json_t *want = json_object_get(s->state, "placement");
    /* not now, or (asking for any node that fits) none fits yet: a node
     * that fits may join */
    bool waits = rc == AD_ESTATE || (rc == AD_EINVAL && json_is_object(want) && r->plane != NULL);
    if (waits && q != NULL && (q->queue || json_is_true(json_object_get(want, "queue")))) {
        /* no node can take it now: it waits in the queue (queue.c) */
        rc = ad_run_queue_add(r, &s->agent, agent_id, s->ws, prompt, node_id, err, q->who, cb, ud);
        pending_release(pd);
        return rc;
    }
    if (rc == 0) {
        rc = node_id[0] != '\0' ? ad_run_node_sandbox(r, s, node_id, err, errsz) /* its node's */
                                : ad_run_start_sandbox(r, agent_id, s, err, errsz);
        if (rc != 0) { /* no run: the agent's transcript and statusReason say why */
            ad_run_start_refused(r, &s->agent, agent_id, s->ws, err);
        }
    }
    if (rc != 0) {
        pending_release(pd);
        return rc;
    }
    ad_run_start_env(r, s);
    ad_run_t *run = run_new(r, agent_id, s);
    ad_run_feat_launch(run, s); /* the features' environment (feature.h) */
    if (cfg != NULL &&
        (rc = ad_run_config_apply(r, s, run->run_id, cfg, node_id[0] != '\0', err, errsz)) != 0) {
        ad_run_free(run);
        pending_release(pd);
        return rc;
    }
    ad_proc_opts_t o;
    proc_opts(r, run, s, &o);
    if (node_id[0] != '\0') {
        /* A node's start does not block the loop (the spawn is a message on
         * its link, the process a relay's socket pair): it runs at once
         * here, and a failure on the node ends it as an exit does. */
        free(run->held.dir); /* its holder is on the node */
        run->held.dir = NULL;
        rc = ad_run_node_spawn(r, run, &o, node_id, gpu, s, err, errsz);
    } else {
        o.on_start = on_proc_start;
        rc = ad_proc_spawn(r->procs, &o, &run->proc, err, errsz);
    }
    if (rc != 0) {
        if (s->config != NULL) {
            ad_run_config_remove(r, run->run_id);
        }
        ad_run_free(run);
        pending_release(pd);
        /* 422 either way: the agent cannot start as configured (no such
         * program, or limits this machine cannot enforce); 409 for a node
         * that went away meanwhile. */
        return rc == AD_ESTATE ? AD_ESTATE : AD_EINVAL;
    }
    pd->prompt = prompt != NULL ? ad_xstrdup(prompt) : NULL;
    s->spec.prompt = pd->prompt; /* the caller's goes: the hooks read this one */
    pd->prompt_id_out = prompt_id_out;
    pd->cb = cb;
    pd->ud = ud;
    run->pending = pd;
    ad_run_link(r, run); /* a second start is refused from now on */
    if (node_id[0] != '\0') {
        run->pending = NULL;
        started(run, pd);
        pending_release(pd);
    }
    return 0;
}

int ad_runner_start(ad_runner_t *r, const char *agent_id, const char *prompt, ad_runner_cb cb,
                    void *ud, char *err, size_t errsz)
{
    AD_ASSERT_LOOP();
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    err[0] = '\0';
    return start_run(r, agent_id, prompt, false, NULL, cb, ud, NULL, err, errsz, NULL);
}

int ad_runner_start_cfg(ad_runner_t *r, const char *agent_id, const char *prompt,
                        const ad_run_config_t *cfg, ad_runner_cb cb, void *ud, char *err,
                        size_t errsz)
{
    AD_ASSERT_LOOP();
    char dummy[8];
    if (err == NULL) {
        err = dummy;
        errsz = sizeof(dummy);
    }
    err[0] = '\0';
    return start_run(r, agent_id, prompt, false, cfg, cb, ud, NULL, err, errsz, NULL);
}

int ad_runner_start_q(ad_runner_t *r, const char *agent_id, const char *prompt,
                      const ad_run_config_t *cfg, const ad_run_queue_ask_t *q, ad_runner_cb cb,
                      void *ud, char *err, size_t errsz)
{
    AD_ASSERT_LOOP();
    err[0] = '\0';
    return start_run(r, agent_id, prompt, false, cfg, cb, ud, NULL, err, errsz, q);
}

int ad_run_place_now(ad_runner_t *r, const char *agent_id, char *err, size_t errsz)
{
    start_t s;
    memset(&s, 0, sizeof(s));
    int rc = load(r, agent_id, "-", false, &s, err, errsz);
    if (rc != 0) {
        start_cleanup(&s);
        return AD_EINVAL; /* gone, archived, or no longer startable */
    }
    char node_id[AD_ID_MAX];
    bool gpu = false;
    rc = ad_run_node_place(r, &s, node_id, &gpu, err, errsz);
    bool any = json_is_object(json_object_get(s.state, "placement")) && r->plane != NULL;
    start_cleanup(&s);
    return rc == AD_ESTATE || (rc == AD_EINVAL && any) ? AD_EAGAIN : rc;
}

/* A follow-up message to a one-shot CLI: answered as a message is. */
typedef struct {
    ad_runner_cb cb;
    void *ud;
    char msg_id[AD_ID_MAX];
} followup_t;

static void on_followup_started(int rc, json_t *result, const char *msg, void *ud)
{
    followup_t *f = ud;
    json_t *reply = NULL;
    if (rc == 0) {
        json_t *agent = json_object_get(result, "agent");
        reply = json_pack("{s:s, s:s, s:b, s:O?}", "messageId", f->msg_id, "status", "sent",
                          "running", true, "agent", agent);
    }
    ad_run_call_cb(f->cb, f->ud, rc, reply, msg);
    json_decref(reply);
    free(f);
}

int ad_run_start_followup(ad_runner_t *r, const char *agent_id, const char *content,
                          ad_runner_cb cb, void *ud, char *err, size_t errsz)
{
    followup_t *f = ad_xcalloc(1, sizeof(*f));
    f->cb = cb;
    f->ud = ud;
    int rc = start_run(r, agent_id, content, true, NULL, on_followup_started, f, f->msg_id, err,
                       errsz, NULL);
    if (rc != 0) {
        free(f);
    }
    return rc;
}

/* ---- taking a held run up again (issue #15; the rest is hold.c's) ------------------- */

static void attach_finish(ad_runner_t *r, ad_run_t *run, start_t *s, int64_t started_at);

int ad_run_attach(ad_runner_t *r, const char *agent_id, const char *run_id, int64_t started_at,
                  const char *dir, const ad_proc_resume_t *at, ad_row_agent_status_t *status,
                  char *err, size_t errsz)
{
    start_t s;
    memset(&s, 0, sizeof(s));
    /* The launch is built only for what the run needs to know of it (a
     * one-turn CLI needs a prompt to build one); nothing is spawned. */
    int rc = load(r, agent_id, "-", false, &s, err, errsz);
    if (rc != 0) {
        start_cleanup(&s);
        return rc;
    }
    ad_run_t *run = run_new(r, agent_id, &s);
    snprintf(run->run_id, sizeof(run->run_id), "%s", run_id);
    ad_run_topics_init(&run->topics, agent_id, run->run_id, s.ws, run->org_id, run->crew_id);
    run->how.pty = at->pty;
    run->held.dir = ad_xstrdup(dir);
    ad_proc_opts_t o;
    proc_opts(r, run, &s, &o);
    o.on_data = run->how.pty ? ad_run_on_data : NULL;
    rc = ad_proc_attach(r->procs, &o, at, &run->proc, err, errsz);
    if (rc != 0) {
        ad_run_free(run);
        start_cleanup(&s);
        return rc;
    }
    /* the row load() read: the caller keeps this status without a second read */
    *status = s.agent.status != AD_ROW_AGENT_STATUS_STOPPING ? s.agent.status
                                                             : AD_ROW_AGENT_STATUS_RUNNING;
    attach_finish(r, run, &s, started_at);
    ad_log(AD_LOG_INFO, "runner", "run taken up agent=%s run=%s pid=%ld replay=%d", agent_id,
           run_id, (long)at->agent, at->replay);
    start_cleanup(&s);
    return 0;
}

/* What a run taken up (here or on a node) needs besides its process: its
 * timer and age, input, the protocol state of codex and ACP agents, its
 * pending approvals; then it is one of the runner's. */
static void attach_finish(ad_runner_t *r, ad_run_t *run, start_t *s, int64_t started_at)
{
    uv_timer_init(r->loop, &run->msgs.flush);
    run->msgs.flush.data = run;
    run->msgs.flush_init = true;
    int64_t age_ms = ad_wall_ms() - started_at;
    uint64_t now = ad_mono_ns();
    uint64_t age_ns = age_ms > 0 ? (uint64_t)age_ms * 1000000u : 0;
    run->started_ns = age_ns < now ? now - age_ns : now;
    run->how.accepts_input = s->launch.interactive || s->spec.executor == AD_EXEC_COMMAND;
    /* taken over from another plane: what it streamed is not streamed again */
    run->live.streamed[0] = ad_run_seen_at(r->seen, run->run_id, 0);
    run->live.streamed[1] = ad_run_seen_at(r->seen, run->run_id, 1);
    ad_run_feat_attach(run, s);
    ad_run_link(r, run);
}

int ad_run_attach_remote(ad_runner_t *r, const char *agent_id, const char *run_id,
                         int64_t started_at, const char *node_id, char *err, size_t errsz)
{
    start_t s;
    memset(&s, 0, sizeof(s));
    int rc = agent_id != NULL && node_id != NULL && r->plane != NULL
                 ? load(r, agent_id, "-", false, &s, err, errsz)
                 : AD_EINVAL;
    if (rc != 0) {
        start_cleanup(&s);
        return rc;
    }
    s.sbx.box.none = true;
    ad_run_t *run = run_new(r, agent_id, &s);
    snprintf(run->run_id, sizeof(run->run_id), "%s", run_id);
    snprintf(run->node_id, sizeof(run->node_id), "%s", node_id);
    ad_run_topics_init(&run->topics, agent_id, run->run_id, s.ws, run->org_id, run->crew_id);
    ad_proc_opts_t o;
    proc_opts(r, run, &s, &o);
    free(run->held.dir);
    run->held.dir = NULL;
    int64_t out = 0, errs = 0;
    ad_store_run_hold_offsets(r->store, run_id, &out, &errs);
    ad_proc_resume_t at = {
        .pty = run->how.pty, .out_off = (uint64_t)out, .err_off = (uint64_t)errs};
    o.on_data = run->how.pty ? ad_run_on_data : NULL;
    int fd = -1;
    rc = ad_plane_run_open(r->plane, node_id, run_id, NULL, &fd, err, errsz);
    if (rc == 0) {
        rc = ad_proc_attach_fd(r->procs, &o, &at, fd, &run->proc);
    }
    if (rc != 0) {
        ad_run_free(run);
        start_cleanup(&s);
        return rc;
    }
    ad_plane_run_worktree(r->plane, run_id, s.agent.worktree_id, s.ws, s.path);
    attach_finish(r, run, &s, started_at);
    ad_log(AD_LOG_INFO, "runner",
           "run on a node taken up, waiting for its node agent=%s run=%s "
           "node=%s out=%lld err=%lld",
           agent_id, run_id, node_id, (long long)out, (long long)errs);
    start_cleanup(&s);
    return 0;
}
