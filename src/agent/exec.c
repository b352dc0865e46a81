/* SPDX-License-Identifier: MIT */
/*
 * Executors: from an agent's executor, mode, permissions, session, model and
 * prompt to the argv, extra environment and first stdin bytes of one run,
 * plus the PATH lookup that lets a missing CLI be refused before a run
 * starts. Flags follow reference agent-protocols.md A.1, B and C. Spawning
 * is src/proc's job.
 */
#include "agent/agent_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ad_executor_parse(const char *name, ad_executor_t *out)
{
    return ad_row_executor_parse(name, out);
}

const char *ad_executor_name(ad_executor_t e)
{
    const char *n = ad_row_executor_name(e);
    return n != NULL ? n : "unknown";
}

ad_agent_mode_t ad_agent_mode_of(ad_row_agent_mode_t m)
{
    switch (m) {
    case AD_ROW_AGENT_MODE_AUTO:
        return AD_MODE_AUTO;
    case AD_ROW_AGENT_MODE_PLAN:
        return AD_MODE_PLAN;
    default:
        return AD_MODE_REGULAR;
    }
}

int ad_agent_mode_parse(const char *name, ad_agent_mode_t *out)
{
    ad_row_agent_mode_t m;
    if (name == NULL || name[0] == '\0') {
        *out = AD_MODE_REGULAR;
        return 0;
    }
    if (ad_row_agent_mode_parse(name, &m) != 0) {
        return AD_EINVAL;
    }
    *out = ad_agent_mode_of(m);
    return 0;
}

const char *ad_agent_mode_name(ad_agent_mode_t m)
{
    switch (m) {
    case AD_MODE_REGULAR:
        return ad_row_agent_mode_name(AD_ROW_AGENT_MODE_REGULAR);
    case AD_MODE_PLAN:
        return ad_row_agent_mode_name(AD_ROW_AGENT_MODE_PLAN);
    case AD_MODE_AUTO:
        return ad_row_agent_mode_name(AD_ROW_AGENT_MODE_AUTO);
    }
    return "unknown";
}

const char *ad_executor_bin(const ad_config_t *cfg, ad_executor_t e)
{
    switch (e) {
    case AD_EXEC_CLAUDE:
        return cfg->claude_bin;
    case AD_EXEC_CODEX:
        return cfg->codex_bin;
    case AD_EXEC_GEMINI:
        return cfg->gemini_bin;
    case AD_EXEC_COMMAND:
    case AD_EXEC_ACP:
        return NULL;
    }
    return NULL;
}

int ad_executable_resolve(const char *name, const char *path_env, char *out, size_t outsz)
{
    if (name == NULL || name[0] == '\0') {
        return AD_EINVAL;
    }
    /* Relative names are taken from agentd's cwd, not from the worktree the
     * child will start in, so the answer is an absolute path. */
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return AD_EIO;
    }
    int rc = ad_path_which_in(name, path_env, cwd, out, outsz);
    return rc == AD_EPERM ? AD_ENOENT : rc;
}

/* ---- argv and env builders ------------------------------------------------ */

void ad_strv_push(ad_strv_t *s, const char *str)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap == 0 ? 16 : s->cap * 2;
        s->v = ad_xrealloc(s->v, s->cap * sizeof(char *));
    }
    s->v[s->n++] = ad_xstrdup(str);
    s->v[s->n] = NULL;
}

void ad_strv_push2(ad_strv_t *s, const char *prefix, const char *value)
{
    size_t a = strlen(prefix), b = strlen(value);
    char *v = ad_xmalloc(a + b + 1);
    memcpy(v, prefix, a);
    memcpy(v + a, value, b + 1);
    ad_strv_push(s, v);
    free(v);
}

void ad_strv_free(ad_strv_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* A value placed after a flag must not look like a flag itself. */
static int check_value(const char *what, const char *v, char *err, size_t errsz)
{
    if (!empty(v) && v[0] == '-') {
        snprintf(err, errsz, "%s must not start with '-'", what);
        return AD_EINVAL;
    }
    return 0;
}

/* A base URL is http(s)://… of printable ASCII: it ends up in an
 * environment variable or a TOML string. */
static int check_base_url(const char *u, char *err, size_t errsz)
{
    if (empty(u)) {
        return 0;
    }
    bool ok = strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
    for (const char *c = u; ok && *c != '\0'; c++) {
        ok = *c > ' ' && *c < 0x7f;
    }
    if (!ok || strlen(u) > 2048) {
        snprintf(err, errsz, "base URL must be an http:// or https:// URL without spaces");
        return AD_EINVAL;
    }
    return 0;
}

/* "A,B,C" from the permission list; AD_EINVAL for an empty or comma entry. */
static int join_permissions(const ad_agent_spec_t *spec, ad_buf_t *out, char *err, size_t errsz)
{
    for (size_t i = 0; i < spec->npermissions; i++) {
        const char *t = spec->permissions[i];
        if (empty(t) || t[0] == '-') {
            snprintf(err, errsz, "permission %zu is empty or starts with '-'", i);
            return AD_EINVAL;
        }
        if ((i > 0 && ad_buf_putc(out, ',') != 0) ||
            ad_buf_puts(out, ad_permission_tools(t)) != 0) {
            snprintf(err, errsz, "permissions are too long");
            return AD_ETOOBIG;
        }
    }
    return 0;
}

static int build_claude(const ad_agent_spec_t *spec, bool as_root, ad_strv_t *argv, ad_strv_t *env,
                        ad_launch_t *out, char *err, size_t errsz)
{
    static const char *const base[] = {
        "-p",        "--output-format",           "stream-json", "--input-format", "stream-json",
        "--verbose", "--include-partial-messages"};
    for (size_t i = 0; i < AD_ARRAY_LEN(base); i++) {
        ad_strv_push(argv, base[i]);
    }
    if (spec->mode == AD_MODE_REGULAR) {
        /* Permission prompts come to agentd on stdout and the user's
         * answer goes back on stdin (docs/internals/run.md, approvals). */
        ad_strv_push(argv, "--permission-prompt-tool");
        ad_strv_push(argv, "stdio");
    } else if (spec->mode == AD_MODE_PLAN) {
        ad_strv_push(argv, "--permission-mode");
        ad_strv_push(argv, "plan");
    } else if (spec->mode == AD_MODE_AUTO) {
        /* The CLI refuses this flag as root unless told it is sandboxed;
         * saying so is the owner's decision (setting allow_root_auto). */
        if (as_root && !spec->allow_root_auto) {
            snprintf(err, errsz,
                     "auto mode as root is off: agentd runs as root, and Claude Code may "
                     "then skip permissions only inside a sandbox. Run agentd as a normal "
                     "user, or set allow_root_auto (PATCH /api/settings) if this machine is "
                     "a sandbox");
            return AD_EPERM;
        }
        ad_strv_push(argv, "--dangerously-skip-permissions");
        if (as_root) {
            ad_strv_push(env, "IS_SANDBOX=1");
        }
    }
    if (spec->npermissions > 0) {
        ad_buf_t tools;
        ad_buf_init(&tools, 64 * 1024);
        int rc = join_permissions(spec, &tools, err, errsz);
        if (rc == 0) {
            ad_strv_push(argv, "--allowedTools");
            ad_strv_push(argv, tools.data);
        }
        ad_buf_cleanup(&tools);
        if (rc != 0) {
            return rc;
        }
    }
    if (!empty(spec->model)) {
        ad_strv_push(argv, "--model");
        ad_strv_push(argv, spec->model);
    }
    if (!empty(spec->system_prompt)) {
        /* one argument, so text that starts with '-' is never read as an option */
        ad_strv_push2(argv, "--append-system-prompt=", spec->system_prompt);
    }
    if (!empty(spec->session_id)) {
        ad_strv_push(argv, "--resume");
        ad_strv_push(argv, spec->session_id);
        if (spec->fork_session) {
            ad_strv_push(argv, "--fork-session");
        }
    }
    if (!empty(spec->base_url)) {
        ad_strv_push2(env, "ANTHROPIC_BASE_URL=", spec->base_url);
    }
    if (!empty(spec->prompt)) {
        out->stdin_data = ad_claude_user_line(spec->prompt, &out->stdin_len);
        if (out->stdin_data == NULL) {
            snprintf(err, errsz, "prompt is not valid UTF-8");
            return AD_EINVAL;
        }
    }
    out->interactive = true;
    return 0;
}

/* The program the executor runs (the command's first word, or the CLI
 * configured for claude/codex/gemini), its path found on PATH. */
static int resolve_program(const ad_agent_spec_t *spec, const ad_config_t *cfg,
                           const char *path_env, char *path, size_t pathsz, char *err, size_t errsz)
{
    const char *prog;
    if (spec->executor == AD_EXEC_COMMAND) {
        if (spec->ncommand == 0 || spec->command == NULL || empty(spec->command[0])) {
            snprintf(err, errsz, "a command agent needs a command to run");
            return AD_EINVAL;
        }
        prog = spec->command[0];
    } else if (spec->executor == AD_EXEC_ACP) {
        prog = ad_acp_program(spec, cfg, err, errsz);
        if (prog == NULL) {
            return AD_EINVAL;
        }
    } else if ((unsigned)spec->executor <= AD_EXEC_GEMINI) {
        prog = ad_executor_bin(cfg, spec->executor);
    } else {
        snprintf(err, errsz, "unknown executor %d", (int)spec->executor);
        return AD_EINVAL;
    }
    if (spec->remote && prog != NULL && prog[0] != '\0' && strlen(prog) < pathsz) {
        snprintf(path, pathsz, "%s", prog); /* the node's PATH finds it */
        return 0;
    }
    int rc = ad_executable_resolve(prog, path_env, path, pathsz);
    if (rc == 0) {
        return 0;
    }
    if (spec->executor == AD_EXEC_COMMAND || spec->executor == AD_EXEC_ACP) {
        snprintf(err, errsz, "executable not found: %s", prog != NULL ? prog : "");
    } else {
        snprintf(err, errsz,
                 "executable for %s agents not found: %s (install it or set "
                 "AGENTD_%s_BIN / --%s-bin)",
                 ad_executor_name(spec->executor), prog != NULL ? prog : "",
                 spec->executor == AD_EXEC_CLAUDE  ? "CLAUDE"
                 : spec->executor == AD_EXEC_CODEX ? "CODEX"
                                                   : "GEMINI",
                 ad_executor_name(spec->executor));
    }
    return rc == AD_ETOOBIG ? AD_EINVAL : AD_ENOENT;
}

static int launch_build(const ad_agent_spec_t *spec, const ad_config_t *cfg, const char *path_env,
                        bool as_root, ad_launch_t *out, char *err, size_t errsz)
{
    ad_strv_t argv = {0}, env = {0};
    memset(out, 0, sizeof(*out));
    if (err != NULL && errsz > 0) {
        err[0] = '\0';
    }
    char path[4096];
    int rc = check_value("session id", spec->session_id, err, errsz);
    rc = rc != 0 ? rc : check_value("model", spec->model, err, errsz);
    rc = rc != 0 ? rc : check_base_url(spec->base_url, err, errsz);
    rc = rc != 0 ? rc : resolve_program(spec, cfg, path_env, path, sizeof(path), err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_strv_push(&argv, path);
    switch (spec->executor) {
    case AD_EXEC_CLAUDE:
        rc = build_claude(spec, as_root, &argv, &env, out, err, errsz);
        break;
    case AD_EXEC_CODEX:
        rc = ad_codex_build(spec, &argv, &env, out, err, errsz);
        break;
    case AD_EXEC_GEMINI:
        rc = ad_gemini_build(spec, &argv, &env, out, err, errsz);
        break;
    case AD_EXEC_COMMAND:
        for (size_t i = 1; i < spec->ncommand; i++) {
            ad_strv_push(&argv, spec->command[i] != NULL ? spec->command[i] : "");
        }
        break;
    case AD_EXEC_ACP:
        rc = ad_acp_build(spec, &argv, &env, out, err, errsz);
        break;
    }
    if (rc != 0) {
        ad_strv_free(&argv);
        ad_strv_free(&env);
        free(out->stdin_data);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    if (env.v == NULL) {
        env.v = ad_xcalloc(1, sizeof(char *));
    }
    out->stop_signal = spec->executor == AD_EXEC_COMMAND ? SIGTERM : SIGINT;
    out->one_shot =
        (spec->executor == AD_EXEC_CODEX && !out->rpc) || spec->executor == AD_EXEC_GEMINI;
    out->probe_version = spec->executor == AD_EXEC_CODEX || spec->executor == AD_EXEC_GEMINI;
    out->argv = argv.v;
    out->argc = argv.n;
    out->env = env.v;
    out->nenv = env.n;
    return 0;
}

int ad_launch_build(const ad_agent_spec_t *spec, const ad_config_t *cfg, const char *path_env,
                    ad_launch_t *out, char *err, size_t errsz)
{
    return launch_build(spec, cfg, path_env, geteuid() == 0, out, err, errsz);
}

void ad_launch_cleanup(ad_launch_t *l)
{
    for (size_t i = 0; l->argv != NULL && i < l->argc; i++) {
        free(l->argv[i]);
    }
    for (size_t i = 0; l->env != NULL && i < l->nenv; i++) {
        free(l->env[i]);
    }
    free(l->argv);
    free(l->env);
    free(l->stdin_data);
    memset(l, 0, sizeof(*l));
}

char *ad_claude_user_line(const char *text, size_t *len)
{
    *len = 0;
    json_t *s = json_string(text);
    if (s == NULL) {
        return NULL; /* not UTF-8 */
    }
    json_t *line = json_pack("{s:s, s:{s:s, s:o}, s:n, s:s}", "type", "user", "message", "role",
                             "user", "content", s, "parent_tool_use_id", "session_id", "default");
    if (line == NULL) {
        return NULL;
    }
    char *res = ad_json_line(line, JSON_COMPACT | JSON_PRESERVE_ORDER, len);
    json_decref(line);
    return res;
}
