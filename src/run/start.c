/* SPDX-License-Identifier: MIT */
/*
 * Starting a run: the agent's row becomes a launch (executor, argv,
 * environment), the process is spawned through the supervisor, the first
 * prompt is queued, and the run row is written before any of its
 * messages. Building the launch is src/agent's, spawning src/proc's.
 */
#include "run/run_int.h"
#include "hparam/hparam.h"
#include "tables/gitrows.h"
#include "tables/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FLAGS_MAX AD_HPARAM_FIELDS_MAX

/* What a start needs, gathered from the agent's row. Owns what it holds. */
typedef struct {
    json_t *agent;
    json_t *settings;
    json_t *state; /* borrowed from agent */
    char ws[AD_ID_MAX];
    char path[4096];
    ad_agent_spec_t spec;
    const char **perms, **cmd, **env;
    ad_launch_t launch;
    ad_proc_limits_t limits; /* state.limits {memoryMb, cpuPercent} */
    char *config;            /* the run's config record as JSON text, or NULL */
    json_t *remote_config;   /* on a node: the config's values, for the node to write */
    json_t *remote_sandbox;  /* on a node: the policy its node builds the sandbox from */
    ad_run_sbx_t sbx;        /* what its sandbox shows */
    const char **argv;       /* the launch's argv, the CLI's real program first */
    char *agent_path;        /* the agent's PATH (ad_proc_agent_path); NULL on a node */
    char prog[4096];         /* a command's program as its user's shell finds it */
} start_t;

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
    json_decref(s->agent);
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
    s->perms = str_array(json_object_get(s->agent, "permissions"), &spec->npermissions);
    spec->permissions = s->perms;
    spec->session_id = json_string_value(json_object_get(s->agent, "sessionId"));
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
    if (json_object_get(s->agent, "deletedAt") != NULL) {
        snprintf(err, errsz, "agent %s is archived; restore it first", agent_id);
        return AD_ESTATE;
    }
    ad_agent_spec_t *spec = &s->spec;
    if (ad_executor_parse(json_string_value(json_object_get(s->agent, "executor")),
                          &spec->executor) != 0 ||
        ad_agent_mode_parse(json_string_value(json_object_get(s->agent, "mode")), &spec->mode) !=
            0) {
        snprintf(err, errsz, "agent %s has an unknown executor or mode", agent_id);
        return AD_EINVAL;
    }
    s->state = json_object_get(s->agent, "state");
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
    const char *org = json_string_value(json_object_get(s->agent, "orgId"));
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
static void build_env(ad_runner_t *r, start_t *s)
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

void ad_runner_set_telemetry(ad_runner_t *r, const char *endpoint, ad_runner_token_fn fn, void *ud)
{
    free(r->otlp_endpoint);
    r->otlp_endpoint = endpoint != NULL ? ad_xstrdup(endpoint) : NULL;
    r->token_fn = fn;
    r->token_ud = ud;
}

/* name=value into the environment, unless the agent's state.env says name. */
static void env_add(start_t *s, size_t *nenv, const char *name, const char *value)
{
    if (json_object_get(json_object_get(s->state, "env"), name) != NULL) {
        return;
    }
    size_t len = strlen(name) + strlen(value) + 2;
    char *e = ad_xmalloc(len);
    snprintf(e, len, "%s=%s", name, value);
    s->env[(*nenv)++] = e;
}

/* The run's W3C trace context (src/otel names the same ids), so a CLI that
 * reads TRACEPARENT puts its spans under the run, and where its
 * telemetry goes: agentd's receiver, with the run's own credential. A
 * Claude run is asked to send traces (its enhanced telemetry, which is
 * what reads TRACEPARENT), metrics and logs, as OTLP/HTTP JSON. */
static void add_telemetry(const ad_runner_t *r, start_t *s, const char *run_id)
{
    if (r->otlp_endpoint == NULL && r->cfg->otlp_endpoint[0] == '\0') {
        return;
    }
    size_t nenv = 0;
    while (s->env[nenv] != NULL) {
        nenv++;
    }
    char trace[33], span[17], tp[64];
    ad_trace_ids(run_id, NULL, trace, span);
    snprintf(tp, sizeof(tp), "00-%s-%s-01", trace, span);
    env_add(s, &nenv, "TRACEPARENT", tp);
    if (r->otlp_endpoint == NULL || r->token_fn == NULL) {
        return;
    }
    char token[160], header[200];
    r->token_fn(r->token_ud, run_id, token, sizeof(token));
    snprintf(header, sizeof(header), "x-agentd-run=%s", token);
    env_add(s, &nenv, "OTEL_EXPORTER_OTLP_ENDPOINT", r->otlp_endpoint);
    env_add(s, &nenv, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    env_add(s, &nenv, "OTEL_EXPORTER_OTLP_HEADERS", header);
    if (s->spec.executor == AD_EXEC_CLAUDE) {
        env_add(s, &nenv, "CLAUDE_CODE_ENABLE_TELEMETRY", "1");
        env_add(s, &nenv, "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1");
        env_add(s, &nenv, "OTEL_TRACES_EXPORTER", "otlp");
        env_add(s, &nenv, "OTEL_METRICS_EXPORTER", "otlp");
        env_add(s, &nenv, "OTEL_LOGS_EXPORTER", "otlp");
        env_add(s, &nenv, "OTEL_TRACES_EXPORT_INTERVAL", "1000");
    }
}

/* Whose CLI's config the sandbox shows (an ACP preset is its CLI's), and
 * whether the worktree is read-only in it: codex (and codex-acp) run
 * commands without a sandbox of their own in agentd's, so in plan mode
 * the worktree is shown read-only. */
static ad_executor_t box_kind(const start_t *s, bool *read_only)
{
    ad_executor_t ex = s->spec.executor;
    const char *acp = s->spec.acp_agent != NULL ? s->spec.acp_agent : "";
    *read_only = (ex == AD_EXEC_CODEX || (ex == AD_EXEC_ACP && strcmp(acp, "codex-acp") == 0)) &&
                 s->spec.mode == AD_MODE_PLAN;
    if (ex == AD_EXEC_ACP && acp[0] != '\0') {
        ex = strcmp(acp, "gemini") == 0            ? AD_EXEC_GEMINI
             : strcmp(acp, "claude-code-acp") == 0 ? AD_EXEC_CLAUDE
                                                   : AD_EXEC_CODEX;
    }
    return ex;
}

/* The agent's sandbox (sandbox.c), and the argv that runs in it: a CLI
 * by its real program, whose folder is what the sandbox shows of it. */
static int sandbox(ad_runner_t *r, const char *agent_id, start_t *s, char *err, size_t errsz)
{
    char exe[4096];
    const char *argv0 = s->launch.argv[0];
    const char *path = s->agent_path != NULL ? s->agent_path : getenv("PATH");
    bool found = argv0 != NULL && ad_path_which_in(argv0, path, s->path, exe, sizeof(exe)) == 0;
    bool read_only;
    ad_executor_t ex = box_kind(s, &read_only);
    return ad_run_sandbox(r, s->agent, agent_id, ex, read_only, s->path, found ? exe : NULL,
                          (const char *const *)s->launch.argv, path, &s->sbx, err, errsz);
}

/* The launch's argv (as apply_config left it), the real program first. */
static void sandbox_argv(start_t *s)
{
    free(s->argv);
    s->argv = ad_xcalloc(s->launch.argc + 3, sizeof(char *));
    for (size_t i = 0; i < s->launch.argc; i++) {
        s->argv[i] = s->launch.argv[i];
    }
    if (!s->sbx.box.none && s->sbx.box.exe[0] != '\0') {
        s->argv[0] = s->sbx.box.exe;
    }
    /* Codex sandboxes its commands with bwrap of its own, which cannot
     * mount a /proc inside ours: in agentd's sandbox (the worktree
     * writable, or read-only in plan mode: the same bounds) it runs them
     * directly. */
    /* The same for Zed's codex-acp (Codex's own config flag). */
    const char *acp = s->spec.acp_agent != NULL ? s->spec.acp_agent : "";
    if (!s->sbx.box.none && s->spec.executor == AD_EXEC_ACP && strcmp(acp, "codex-acp") == 0) {
        s->argv[s->launch.argc] = "-c";
        s->argv[s->launch.argc + 1] = "sandbox_mode=\"danger-full-access\"";
    }
    if (!s->sbx.box.none && s->spec.executor == AD_EXEC_CODEX) {
        size_t j = 0;
        for (size_t i = 0; i < s->launch.argc; i++) {
            if (strcmp(s->launch.argv[i], "--sandbox") == 0 && i + 1 < s->launch.argc) {
                s->argv[j++] = "--dangerously-bypass-approvals-and-sandbox";
                i++;
                continue;
            }
            s->argv[j++] = s->argv[i];
        }
        s->argv[j] = NULL;
    }
}

/* ---- a hyper-parameter config handed to the run (issue #16) ------------------------ */

void ad_run_config_remove(const ad_runner_t *r, const char *run_id)
{
    char dir[4200], file[4300];
    if (r->cfg->data_dir[0] == '\0') {
        return;
    }
    snprintf(dir, sizeof(dir), "%s/runs/%s", r->cfg->data_dir, run_id);
    snprintf(file, sizeof(file), "%s/config.json", dir);
    if (unlink(file) == 0 || errno != ENOENT) {
        rmdir(dir);
    }
}

/* <data-dir>/runs/<runId>/config.json, mode 0600 in a 0700 directory,
 * holding the values as one JSON object (removed when the run has ended:
 * ad_run_config_remove). */
static int write_config(const ad_runner_t *r, const char *run_id, json_t *values, char *path,
                        size_t pathsz, char *err, size_t errsz)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/runs", r->cfg->data_dir);
    if (r->cfg->data_dir[0] == '\0' || n < 0 || (size_t)n >= sizeof(dir) - AD_ID_MAX - 16) {
        snprintf(err, errsz, "agentd has no data dir to write the run's config to");
        return AD_EINVAL;
    }
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (snprintf(dir + n, sizeof(dir) - (size_t)n, "/%s", run_id) > 0 && mkdir(dir, 0700) != 0)) {
        snprintf(err, errsz, "cannot make %s: %s", dir, strerror(errno));
        return AD_EIO;
    }
    snprintf(path, pathsz, "%s/config.json", dir);
    char *txt = json_dumps(values, JSON_COMPACT);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = txt != NULL ? strlen(txt) : 0;
    bool ok =
        fd >= 0 && txt != NULL && write(fd, txt, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    int e = errno;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    free(txt);
    if (!ok) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(e));
        return AD_EIO;
    }
    return 0;
}

/* A config's flags on a command's argv, and its record for the run row. */
static int config_flags(start_t *s, const ad_run_config_t *cfg, json_t *values)
{
    if (cfg->flags) {
        ad_launch_t *l = &s->launch;
        l->argv = ad_xrealloc(l->argv, (l->argc + CONFIG_FLAGS_MAX + 1) * sizeof(char *));
        l->argc += ad_hparam_flags(cfg->schema, values, l->argv + l->argc, CONFIG_FLAGS_MAX);
        l->argv[l->argc] = NULL;
    }
    s->config = json_dumps(cfg->record, JSON_COMPACT);
    return 0;
}

/* The config's file and AGENTD_CONFIG, its flags on a command's argv, and
 * the record to store on the run. On a node (remote) the node writes the
 * file: its values go in the spawn. */
static int apply_config(const ad_runner_t *r, start_t *s, const char *run_id,
                        const ad_run_config_t *cfg, bool remote, char *err, size_t errsz)
{
    if (cfg->flags && s->spec.executor != AD_EXEC_COMMAND) {
        snprintf(err, errsz, "configFlags works with command agents only");
        return AD_EINVAL;
    }
    json_t *values = json_object_get(cfg->record, "values");
    if (remote) { /* the node writes the file where its agent runs (spawn_msg) */
        s->remote_config = json_incref(values);
        return config_flags(s, cfg, values);
    }
    char path[4200];
    int rc = write_config(r, run_id, values, path, sizeof(path), err, errsz);
    if (rc != 0) {
        return rc;
    }
    size_t nenv = 0;
    while (s->env[nenv] != NULL) {
        nenv++;
    }
    size_t len = strlen(path) + sizeof("AGENTD_CONFIG=");
    char *e = ad_xmalloc(len);
    snprintf(e, len, "AGENTD_CONFIG=%s", path);
    s->env[nenv] = e;
    ad_run_sandbox_show(&s->sbx, path);
    return config_flags(s, cfg, values);
}

static ad_run_t *run_new(ad_runner_t *r, const char *agent_id, const start_t *s)
{
    ad_run_t *run = ad_xcalloc(1, sizeof(*run));
    run->r = r;
    run->flush.data = run;
    snprintf(run->agent_id, sizeof(run->agent_id), "%s", agent_id);
    ad_id_new("run", run->run_id);
    const char *crew = json_string_value(json_object_get(s->agent, "crewId"));
    snprintf(run->crew_id, sizeof(run->crew_id), "%s", crew != NULL ? crew : "");
    const char *org = json_string_value(json_object_get(s->agent, "orgId"));
    snprintf(run->org_id, sizeof(run->org_id), "%s", org != NULL ? org : "");
    ad_run_topics_init(&run->topics, agent_id, run->run_id, s->ws,
                       json_string_value(json_object_get(s->agent, "orgId")), run->crew_id);
    run->exec = s->spec.executor;
    run->stdin_json = s->spec.executor == AD_EXEC_CLAUDE;
    run->fork_pending = s->spec.fork_session;
    run->one_shot = s->launch.one_shot;
    run->rpc = s->launch.rpc;
    run->parser = ad_parser_new(s->spec.executor);
    run->cwd = ad_xstrdup(s->path);
    ad_parser_set_model(run->parser, s->spec.model);
    ad_parser_set_prices(run->parser, json_object_get(s->settings, "model_prices"));
    ad_recs_init(&run->recs);
    size_t line_max = (size_t)r->cfg->max_line_bytes;
    ad_buf_init(&run->out[0], AD_RUN_OUT_FLUSH_BYTES + AD_PARSER_OUTPUT_MAX + 64);
    ad_buf_init(&run->out[1], AD_RUN_OUT_FLUSH_BYTES + line_max + 64);
    ad_buf_init(&run->live[0], AD_RUN_LIVE_BYTES + AD_PARSER_OUTPUT_MAX + 64);
    ad_buf_init(&run->live[1], AD_RUN_LIVE_BYTES + line_max + 64);
    ad_buf_init(&run->replay, AD_RUN_REPLAY_BYTES);
    run->pty = json_is_true(json_object_get(s->state, "terminal"));
    return run;
}

/* How the supervisor runs it: argv, cwd, env, terminal, the polite stop
 * step (state.stopWith, else the executor's), graces and callbacks. */
static void proc_opts(const ad_runner_t *r, ad_run_t *run, start_t *s, ad_proc_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    ad_executor_t ex = s->spec.executor;
    sandbox_argv(s);
    o->argv = (const char *const *)s->argv;
    o->sandbox = s->sbx.box.none || s->sbx.box.home == NULL ? NULL : &s->sbx.box.sb;
    run->sandboxed = o->sandbox != NULL;
    o->cwd = s->path;
    o->env = (const char *const *)s->env;
    o->pty = run->pty;
    /* Codex and Gemini end at once on SIGINT (their stdin is closed
     * already); Claude Code ends its turn on it (then stdin closes). */
    /* An ACP agent was sent session/cancel (control.c) and ends when its
     * input does. */
    o->polite = ex == AD_EXEC_COMMAND  ? AD_PROC_POLITE_SIGINT
                : ex == AD_EXEC_CLAUDE ? AD_PROC_POLITE_SIGINT_CLOSE
                : ex == AD_EXEC_ACP    ? AD_PROC_POLITE_CLOSE_STDIN
                : run->rpc             ? AD_PROC_POLITE_CLOSE_STDIN /* after turn/interrupt */
                                       : AD_PROC_POLITE_SIGINT;
    const char *stop_with = json_string_value(json_object_get(s->state, "stopWith"));
    if (stop_with != NULL) {
        o->polite = strcmp(stop_with, "stdin") == 0  ? AD_PROC_POLITE_CLOSE_STDIN
                    : strcmp(stop_with, "none") == 0 ? AD_PROC_POLITE_NONE
                                                     : AD_PROC_POLITE_SIGINT;
    }
    o->term_grace_ms = r->cfg->stop_grace_ms > 0 ? r->cfg->stop_grace_ms : 1;
    o->kill_grace_ms = o->term_grace_ms;
    o->max_line_bytes = (size_t)r->cfg->max_line_bytes;
    o->on_line = ad_run_on_line;
    o->on_data = o->pty ? ad_run_on_data : NULL;
    o->on_exit = ad_run_on_exit;
    o->on_stall = ad_run_on_stall;
    o->ud = run;
    o->cgroup_name = run->run_id;
    if (run->hold_dir == NULL) {
        run->hold_dir = ad_run_hold_path(r, run->run_id); /* hold.c; NULL: not held */
    }
    o->hold_dir = run->hold_dir;
    o->hold_wait_sec = (uint32_t)r->cfg->hold_wait_sec;
    json_t *lim = json_object_get(s->state, "limits");
    json_int_t mb = json_integer_value(json_object_get(lim, "memoryMb"));
    json_int_t cpu = json_integer_value(json_object_get(lim, "cpuPercent"));
    s->limits.memory_bytes = mb > 0 ? (uint64_t)mb << 20 : 0;
    s->limits.cpu_percent = cpu > 0 ? (unsigned)cpu : 0;
    o->limits = &s->limits; /* lives as long as the start */
}

/* What codex app-server is told of the agent (codexapp.c): its folder as
 * it sees it (on a node, the node's). */
static void codex_open(const ad_run_t *run, const start_t *s, ad_codex_open_t *o)
{
    ad_run_codex_open(&s->spec, run->agent_cwd != NULL ? run->agent_cwd : s->path,
                      !s->sbx.box.none && s->sbx.box.home != NULL, o);
}

/* A run on a node: the folder its agent works in there, when the node has
 * said where its folders are (else the agent is told this plane's path,
 * as before nodes said it). */
static void node_cwd(ad_runner_t *r, ad_run_t *run, const start_t *s)
{
    const char *wt = json_string_value(json_object_get(s->agent, "worktreeId"));
    char path[4200];
    if (r->plane != NULL && run->node_id[0] != '\0' && run->agent_cwd == NULL &&
        ad_plane_agent_cwd(r->plane, run->node_id, s->ws[0] != '\0' ? wt : NULL, run->agent_id,
                           path, sizeof(path))) {
        run->agent_cwd = ad_xstrdup(path);
    }
}

/* The process is up: its input, and the first prompt as a message. */
static void first_input(ad_run_t *run, const start_t *s, const char *prompt)
{
    run->accepts_input = s->launch.interactive || s->spec.executor == AD_EXEC_COMMAND;
    if (s->launch.stdin_data != NULL && s->launch.stdin_len > 0) {
        ad_proc_write(run->proc, s->launch.stdin_data, s->launch.stdin_len);
    }
    if (run->rpc) {
        ad_codex_open_t o;
        codex_open(run, s, &o);
        ad_run_rpc_open(run, &o, prompt);
    }
    if (s->spec.executor == AD_EXEC_ACP) {
        ad_run_acp_begin(run, &s->spec, prompt);
    }
    if (!run->accepts_input) {
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
    snprintf(row.id, sizeof(row.id), "%s", run->run_id);
    snprintf(row.agent_id, sizeof(row.agent_id), "%s", run->agent_id);
    ad_status_reason_set(&row.why, "run_started", run->run_id, "run %s started (pid %ld)",
                         run->run_id, (long)row.pid);
    ad_store_run_start(run->r->store, &row, on_start_done, c);
    ad_run_flush_batch(run, NULL, NULL);
}

/* ---- on a worker node (issue #34, src/node) ----------------------------------------- */

/* The CLI an executor needs on a node (NULL: a command's own program). */
static const char *exec_cli(const start_t *s)
{
    switch (s->spec.executor) {
    case AD_EXEC_CLAUDE:
        return "claude";
    case AD_EXEC_CODEX:
        return "codex";
    case AD_EXEC_GEMINI:
        return "gemini";
    default:
        return NULL;
    }
}

/* Why no node fits, node by node, into err ("n1: why; n2: why"). */
static void no_fit(json_t *reasons, const char *lead, char *err, size_t errsz)
{
    size_t off = (size_t)snprintf(err, errsz, "%s", lead);
    size_t i;
    json_t *x;
    json_array_foreach(reasons, i, x)
    {
        int n = snprintf(err + off, off < errsz ? errsz - off : 0, "%s%s: %s", i ? "; " : ": ",
                         json_string_value(json_object_get(x, "node")),
                         json_string_value(json_object_get(x, "why")));
        off += n > 0 ? (size_t)n : 0;
    }
    if (json_array_size(reasons) == 0 && off < errsz) {
        snprintf(err + off, errsz - off, ": no node has joined this organisation");
    }
}

/* Where the agent runs: its state.node names a node of its org (by name
 * or id), or its state.placement asks for one that fits ({labels, gpu,
 * memoryMb}, and its CLI installed); node_id gets it, or "" for here.
 * AD_EINVAL (no such node, or none that could run it) or AD_ESTATE (the
 * node is not connected, or none can take it now), with err. *gpu: the
 * run takes a GPU. */
static int placement(ad_runner_t *r, const start_t *s, char node_id[AD_ID_MAX], bool *gpu,
                     char *err, size_t errsz)
{
    node_id[0] = '\0';
    const char *name = json_string_value(json_object_get(s->state, "node"));
    json_t *want = json_object_get(s->state, "placement");
    *gpu = json_is_true(json_object_get(want, "gpu"));
    if ((name == NULL || name[0] == '\0') && !json_is_object(want)) {
        return 0;
    }
    const char *org = json_string_value(json_object_get(s->agent, "orgId"));
    org = org != NULL ? org : AD_ORG_DEFAULT;
    if (r->plane == NULL) {
        snprintf(err, errsz, "this agentd has no worker nodes");
        return AD_EINVAL;
    }
    if (name == NULL || name[0] == '\0') {
        json_t *reasons = NULL;
        int rc = ad_plane_place(r->plane, org, want, exec_cli(s), s->ws, node_id, &reasons);
        if (rc != 0) {
            no_fit(reasons, rc == AD_ESTATE ? "no node can take it now" : "no node fits", err,
                   errsz);
        }
        json_decref(reasons);
        return rc == AD_ESTATE ? AD_ESTATE : rc != 0 ? AD_EINVAL : 0;
    }
    bool connected = false;
    if (ad_plane_find(r->plane, org, name, node_id, &connected) != 0) {
        snprintf(err, errsz, "no node named %s in the agent's organisation", name);
        return AD_EINVAL;
    }
    if (!connected) {
        snprintf(err, errsz, "node %s is not connected", name);
        return AD_ESTATE;
    }
    return 0;
}

/* The sandbox of a run on node_id: the policy the control plane computes
 * (the agent's over its workspace's), which the node builds for its own
 * worktree and data dir (src/node/worker.c). Its paths are this
 * machine's, so they do not go; the network, the CLI (its config, for the
 * owner's agents) and plan mode's read-only worktree do. s->sbx reads as a
 * sandbox with a home (HOME, TMPDIR, codex's own sandbox off) unless the
 * run is unconfined there. AD_EPERM when the node has no sandbox and the
 * agent is not the owner's organisation's. */
static int remote_sandbox(ad_runner_t *r, start_t *s, const char *node_id, char *err, size_t errsz)
{
    json_t *own = json_object_get(s->state, "sandbox");
    if (own != NULL && !json_is_object(own) &&
        !(json_is_string(own) && strcmp(json_string_value(own), "none") == 0)) {
        snprintf(err, errsz, "state.sandbox must be \"none\" or {network, paths}");
        return AD_EINVAL;
    }
    json_t *pol = ad_run_sandbox_of(r->store, s->agent);
    if (pol == NULL) {
        snprintf(err, errsz, "cannot read the sandbox policy of the agent's workspace");
        return AD_EIO;
    }
    const char *org = json_string_value(json_object_get(s->agent, "orgId"));
    bool owners = org == NULL || strcmp(org, AD_ORG_DEFAULT) == 0;
    bool none = json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0;
    json_t *node = ad_plane_node(r->plane, node_id);
    json_t *caps = json_object_get(node, "caps");
    bool has = json_is_true(json_object_get(caps, "sandbox"));
    int rc = 0;
    if (!none && !has && !owners) {
        const char *why = json_string_value(json_object_get(caps, "sandboxWhy"));
        snprintf(err, errsz,
                 "agents of an organisation other than the owner's run only in a sandbox, and "
                 "node %s has none (%s)",
                 json_string_value(json_object_get(node, "name")), why != NULL ? why : "unknown");
        rc = AD_EPERM;
    }
    json_t *net = json_object_get(pol, "network");
    json_t *allow = json_object_get(net, "allow");
    bool read_only;
    ad_executor_t ex = box_kind(s, &read_only);
    s->remote_sandbox = json_pack(
        "{s:b, s:b, s:b, s:s?, s:b, s:b, s:O?}", "none", none, "owners", owners, "network",
        !(json_is_string(net) && strcmp(json_string_value(net), "off") == 0) && allow == NULL,
        "cli", ad_run_sandbox_cli(ex), "readOnly", read_only, "program", ex != AD_EXEC_COMMAND,
        "allow", allow);
    s->sbx.box.none = none || !has;
    s->sbx.box.home = s->sbx.box.none ? NULL : "/home/agent";
    json_decref(node);
    json_decref(pol);
    return rc;
}

/* The spawn a node is asked for: the launch's argv and environment, the
 * terminal, how long its holder waits for a control plane. Its own
 * working directory is the node's (docs/nodes.md). */
static json_t *spawn_msg(const ad_runner_t *r, const ad_run_t *run, const ad_proc_opts_t *o,
                         bool gpu, json_t *config, const start_t *s)
{
    json_t *argv = json_array(), *env = json_array();
    for (size_t i = 0; o->argv[i] != NULL; i++) {
        json_array_append_new(argv, json_string(o->argv[i]));
    }
    for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++) {
        json_array_append_new(env, json_string(o->env[i]));
    }
    json_t *m = json_pack("{s:s, s:o, s:o, s:b, s:i, s:i, s:I, s:b, s:O?, s:O?}", "agent",
                          run->agent_id, "argv", argv, "env", env, "pty", o->pty, "rows", 24,
                          "cols", 80, "holdWaitSec", (json_int_t)r->cfg->hold_wait_sec, "gpu", gpu,
                          "config", config, "sandbox", s->remote_sandbox);
    const char *wt_id = json_string_value(json_object_get(s->agent, "worktreeId"));
    const char *ws_id = s->ws;
    if (wt_id != NULL && wt_id[0] != '\0' && ws_id != NULL && ws_id[0] != '\0') {
        /* the node works in a worktree of its own mirror (docs/nodes.md) */
        json_object_set_new(m, "worktree",
                            json_pack("{s:s, s:s}", "id", wt_id, "workspace", ws_id));
    }
    return m;
}

/* A one-turn CLI's version on a node: the one the node found on its PATH
 * (its `--version`, read once as the node started; caps.clis), not probed
 * per run as locally (docs/nodes.md). */
static void remote_version(ad_runner_t *r, ad_run_t *run, const start_t *s)
{
    const char *cli = exec_cli(s);
    json_t *node = cli != NULL ? ad_plane_node(r->plane, run->node_id) : NULL;
    const char *line = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(node, "caps"), "clis"), cli), "version"));
    char version[64] = "";
    if (line != NULL) {
        (void)ad_cli_version_parse(line, version, sizeof(version));
    }
    json_decref(node);
    if (cli != NULL) {
        ad_run_version_set(run, version);
    }
}

/* An ACP run on a node: what its terminals run with there, sent with each
 * terminal/create (acp_term.c): the spawn's agent, env and sandbox policy. */
static void node_term_keep(ad_run_t *run, const start_t *s)
{
    json_t *env = json_array();
    for (size_t i = 0; s->env != NULL && s->env[i] != NULL; i++) {
        json_array_append_new(env, json_string(s->env[i]));
    }
    json_decref(run->node_term);
    run->node_term = json_pack("{s:s, s:o, s:O?}", "agent", run->agent_id, "env", env, "sandbox",
                               s->remote_sandbox);
}

/* The workspace's setup files and its setup command, once approved, go
 * with a node's new worktree of it, as locally: the node runs the command
 * in its sandbox and says how it went (docs/nodes.md). */
static void worktree_setup(ad_runner_t *r, const char *run_id, const char *ws_id)
{
    json_t *ws = NULL;
    if (ad_store_git_workspace_get(r->store, ws_id, &ws) == 0) {
        bool approved = json_is_true(json_object_get(ws, "isSetupCommandApproved"));
        ad_plane_run_setup(r->plane, run_id, json_string_value(json_object_get(ws, "path")),
                           json_object_get(ws, "setupFiles"),
                           approved ? json_string_value(json_object_get(ws, "setupCommand"))
                                    : NULL);
    }
    json_decref(ws);
}

/* The run's process on node_id: the plane's relay, an ordinary held
 * process on its socket pair (src/proc, ad_proc_attach_fd). */
static int spawn_remote(ad_runner_t *r, ad_run_t *run, const ad_proc_opts_t *o, const char *node_id,
                        bool gpu, json_t *config, const start_t *s, char *err, size_t errsz)
{
    int fd = -1;
    const char *wt = json_string_value(json_object_get(s->agent, "worktreeId"));
    int rc = ad_plane_run_open(r->plane, node_id, run->run_id, spawn_msg(r, run, o, gpu, config, s),
                               &fd, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_proc_resume_t at = {.pty = o->pty};
    rc = ad_proc_attach_fd(r->procs, o, &at, fd, &run->proc);
    if (rc != 0) {
        ad_plane_run_done(r->plane, run->run_id);
        snprintf(err, errsz, "shutting down");
        return rc;
    }
    snprintf(run->node_id, sizeof(run->node_id), "%s", node_id);
    node_cwd(r, run, s);
    ad_plane_run_worktree(r->plane, run->run_id, wt, s->ws, s->path);
    worktree_setup(r, run->run_id, s->ws);
    return 0;
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
    uv_timer_init(r->loop, &run->flush);
    run->flush.data = run;
    run->flush_init = true;
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
    if (run->stop_since != 0) { /* asked while it started: the process stops now (src/proc) */
        ad_store_run_stop_mark(r->store, run->run_id, run->stop_since, run->stop_force);
    }
    if (s->launch.probe_version && run->node_id[0] == '\0') { /* (a node's CLI: not here) */
        /* in the agent's sandbox too: its env is the agent's */
        ad_proc_sandbox_t probe = s->sbx.box.sb; /* without the agent's network proxy */
        probe.net_allow = NULL;
        ad_run_probe_version(run, s->argv[0], s->path, (const char *const *)s->env,
                             s->sbx.box.none || s->sbx.box.home == NULL ? NULL : &probe);
    }
    if (s->launch.probe_version && run->node_id[0] != '\0') {
        remote_version(r, run, s);
    }
    if (s->spec.executor == AD_EXEC_ACP && run->node_id[0] == '\0') {
        /* its terminals run as it does */
        ad_run_term_env_keep(run, &s->sbx, s->env, &s->limits);
    } else if (s->spec.executor == AD_EXEC_ACP) {
        node_term_keep(run, s); /* as it does, on its node */
    }
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
    for (ad_run_waiter_t *w = run->stop_waiters, *next; w != NULL; w = next) {
        next = w->next;
        ad_run_call_cb(w->cb, w->ud, AD_ESTATE, NULL, msg);
        free(w);
    }
    run->stop_waiters = NULL;
    const char *was = json_string_value(json_object_get(pd->s.agent, "status"));
    if (run->stop_since != 0 && was != NULL) { /* it read "stopping": it is what it was */
        run->stop_since = 0;
        ad_run_publish_status(r, &run->topics, run->agent_id, was, NULL,
                              json_object_get(pd->s.agent, "statusReason"));
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
                     char *err, size_t errsz)
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
    rc = rc != 0 ? rc : placement(r, s, node_id, &gpu, err, errsz);
    if (rc == 0) {
        rc = node_id[0] != '\0' ? remote_sandbox(r, s, node_id, err, errsz) /* the node builds it */
                                : sandbox(r, agent_id, s, err, errsz);
        if (rc != 0) { /* no run: the agent's transcript and statusReason say why */
            ad_run_start_refused(r, s->agent, agent_id, s->ws, err);
        }
    }
    if (rc != 0) {
        pending_release(pd);
        return rc;
    }
    build_env(r, s);
    ad_run_t *run = run_new(r, agent_id, s);
    add_telemetry(r, s, run->run_id);
    if (cfg != NULL &&
        (rc = apply_config(r, s, run->run_id, cfg, node_id[0] != '\0', err, errsz)) != 0) {
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
        free(run->hold_dir); /* its holder is on the node */
        run->hold_dir = NULL;
        rc = spawn_remote(r, run, &o, node_id, gpu, s->remote_config, s, err, errsz);
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
    if (s->spec.executor == AD_EXEC_CLAUDE && s->spec.session_id != NULL) {
        run->resume_prompt = ad_xstrdup(prompt != NULL ? prompt : "");
    }
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
    return start_run(r, agent_id, prompt, false, NULL, cb, ud, NULL, err, errsz);
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
    return start_run(r, agent_id, prompt, false, cfg, cb, ud, NULL, err, errsz);
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
    int rc =
        start_run(r, agent_id, content, true, NULL, on_followup_started, f, f->msg_id, err, errsz);
    if (rc != 0) {
        free(f);
    }
    return rc;
}

/* ---- taking a held run up again (issue #15; the rest is hold.c's) ------------------- */

/* An ACP run's terminals run in its sandbox, which a restarted daemon
 * builds again as the start did (none can run when it cannot be built). */
static void term_env_again(ad_runner_t *r, ad_run_t *run, const char *agent_id, start_t *s)
{
    char err[512];
    ad_run_sandbox_cleanup(&s->sbx);
    if (sandbox(r, agent_id, s, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "runner", "no terminals for a run taken up agent=%s why=\"%s\"",
               agent_id, err);
        return;
    }
    build_env(r, s);
    ad_run_term_env_keep(run, &s->sbx, s->env, &s->limits);
}

static void attach_finish(ad_runner_t *r, ad_run_t *run, const start_t *s, int64_t started_at);

/* An ACP run on a node taken up: what its terminals run with, built again
 * as the start built it (none can run when it cannot be). */
static void node_term_again(ad_runner_t *r, ad_run_t *run, start_t *s)
{
    char err[512];
    json_decref(s->remote_sandbox);
    s->remote_sandbox = NULL;
    if (remote_sandbox(r, s, run->node_id, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "runner", "no terminals for a run taken up agent=%s why=\"%s\"",
               run->agent_id, err);
        return;
    }
    build_env(r, s);
    node_term_keep(run, s);
}

int ad_run_attach(ad_runner_t *r, const char *agent_id, const char *run_id, int64_t started_at,
                  const char *dir, const ad_proc_resume_t *at, ad_agent_status_t *status, char *err,
                  size_t errsz)
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
    run->pty = at->pty;
    run->hold_dir = ad_xstrdup(dir);
    ad_proc_opts_t o;
    proc_opts(r, run, &s, &o);
    o.on_data = run->pty ? ad_run_on_data : NULL;
    rc = ad_proc_attach(r->procs, &o, at, &run->proc, err, errsz);
    if (rc != 0) {
        ad_run_free(run);
        start_cleanup(&s);
        return rc;
    }
    if (s.spec.executor == AD_EXEC_ACP) {
        term_env_again(r, run, agent_id, &s);
    }
    /* the row load() read: the caller keeps this status without a second read */
    const char *st = json_string_value(json_object_get(s.agent, "status"));
    *status = AD_AGENT_STATUS_RUNNING;
    for (ad_agent_status_t i = AD_AGENT_STATUS_RUNNING; i <= AD_AGENT_STATUS_STOPPED; i++) {
        if (st != NULL && strcmp(st, ad_agent_status_name(i)) == 0) {
            *status = i;
        }
    }
    attach_finish(r, run, &s, started_at);
    ad_log(AD_LOG_INFO, "runner", "run taken up agent=%s run=%s pid=%ld replay=%d", agent_id,
           run_id, (long)at->agent, at->replay);
    start_cleanup(&s);
    return 0;
}

/* What a run taken up (here or on a node) needs besides its process: its
 * timer and age, input, the protocol state of codex and ACP agents, its
 * pending approvals; then it is one of the runner's. */
static void attach_finish(ad_runner_t *r, ad_run_t *run, const start_t *s, int64_t started_at)
{
    uv_timer_init(r->loop, &run->flush);
    run->flush.data = run;
    run->flush_init = true;
    int64_t age_ms = ad_wall_ms() - started_at;
    uint64_t now = ad_mono_ns();
    uint64_t age_ns = age_ms > 0 ? (uint64_t)age_ms * 1000000u : 0;
    run->started_ns = age_ns < now ? now - age_ns : now;
    run->accepts_input = s->launch.interactive || s->spec.executor == AD_EXEC_COMMAND;
    node_cwd(r, run, s); /* (a node not back yet: this plane's path) */
    if (run->rpc) {      /* its app-server lives on, on the agent's thread */
        ad_codex_open_t co;
        codex_open(run, s, &co);
        ad_codex_app_attach(run->parser, s->spec.session_id, &co);
    }
    ad_run_approvals_restore(run);
    if (s->spec.executor == AD_EXEC_ACP) {
        /* a turn is under way unless it ended: waiting on an approval is
         * waiting inside the turn (its prompt's answer comes after it) */
        const char *st = json_string_value(json_object_get(s->agent, "status"));
        ad_run_acp_resume(run, &s->spec,
                          st == NULL || strcmp(st, "waiting") != 0 || run->napprovals > 0);
    }
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
    free(run->hold_dir);
    run->hold_dir = NULL;
    int64_t out = 0, errs = 0;
    ad_store_run_hold_offsets(r->store, run_id, &out, &errs);
    ad_proc_resume_t at = {.pty = run->pty, .out_off = (uint64_t)out, .err_off = (uint64_t)errs};
    o.on_data = run->pty ? ad_run_on_data : NULL;
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
    ad_plane_run_worktree(r->plane, run_id,
                          json_string_value(json_object_get(s.agent, "worktreeId")), s.ws, s.path);
    if (s.spec.executor == AD_EXEC_ACP) {
        node_term_again(r, run, &s);
    }
    attach_finish(r, run, &s, started_at);
    ad_log(AD_LOG_INFO, "runner",
           "run on a node taken up, waiting for its node agent=%s run=%s "
           "node=%s out=%lld err=%lld",
           agent_id, run_id, node_id, (long long)out, (long long)errs);
    start_cleanup(&s);
    return 0;
}
