/* SPDX-License-Identifier: MIT */
/*
 * /api/agents: list with filters, get, create with defaults, update,
 * archive or delete, restore, fork and reorder. Every change is answered
 * after its commit and published as agent_update to the agent's, its
 * worktree's and its workspace's topics. start/stop/message are the agent
 * subsystem's (they check ad_store_agent_check_startable()).
 */
#include "agent/agent.h"
#include "run/run.h"
#include "api/workbench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MODES "auto,plan,regular"
#define EXECUTORS "claude,codex,gemini,command,acp"
#define ACP_AGENTS "gemini,claude-code-acp,codex-acp"
#define STATUSES "running,waiting,error,finished,idle,paused,stopped"

static void publish_agent(ad_app_t *app, json_t *payload, json_t *agent, const char *ws)
{
    ad_api_publish(app, "agent_update", payload, "agent", ad_api_jstr(agent, "id"), "worktree",
                   ad_api_jstr(agent, "worktreeId"), "workspace", ws, "org",
                   ad_api_jstr(agent, "orgId"), NULL);
}

/* For writes whose result is {agent, workspaceId}: publish, answer. */
static void answer_agent(ad_app_t *app, ad_req_t *r, int rc, json_t *result, int status)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "agent", ad_req_param(r, "id"));
        return;
    }
    json_t *a = json_object_get(result, "agent");
    publish_agent(app, a, a, json_string_value(json_object_get(result, "workspaceId")));
    ad_res_json(r, status, json_incref(a));
}

static void done_200(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    answer_agent(app, r, rc, result, 200);
}

static void done_201(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    answer_agent(app, r, rc, result, 201);
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ENOENT) {
        ad_res_error_code(r, rc, json_pack("{s:s}", "field", "worktreeId"), "worktree not found");
        return;
    }
    answer_agent(app, r, rc, result, 201);
}

/* Auto mode for Claude Code as root is refused before the agent exists
 * (else it is created and then fails at every start): 422 unless the
 * owner set allow_root_auto. executor NULL is the default, claude. True
 * after answering. */
static bool root_auto_refused(ad_app_t *app, ad_req_t *r, const char *mode, const char *executor)
{
    if (mode == NULL || strcmp(mode, "auto") != 0 || geteuid() != 0 ||
        (executor != NULL && strcmp(executor, "claude") != 0)) {
        return false;
    }
    json_t *s = NULL;
    bool allowed = ad_store_settings_get(app->store, &s) == 0 &&
                   json_is_true(json_object_get(s, "allow_root_auto"));
    json_decref(s);
    if (allowed) {
        return false;
    }
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", "mode", "reason", "root_auto"),
                 "auto mode as root is off: agentd runs as root, and Claude Code may then skip "
                 "permissions only inside a sandbox. Run agentd as a normal user, or set "
                 "allow_root_auto (PATCH /api/settings) if this machine is a sandbox");
    return true;
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *wt = ad_req_query(r, "worktreeId");
    const char *status = ad_req_query(r, "status");
    bool include = false;
    if (ad_api_query_bool(r, "includeDeleted", false, &include) != 0) {
        return;
    }
    if (wt != NULL && wt[0] == '\0') {
        wt = NULL;
    }
    if (status != NULL && status[0] == '\0') {
        status = NULL;
    }
    if (status != NULL && !ad_api_choice(STATUSES, status)) {
        ad_api_invalid(r, "status", "must be one of " STATUSES);
        return;
    }
    if (wt != NULL && !ad_api_visible(app, r, AD_API_WORKTREE, wt, NULL)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_agent_list(app->store, wt, status, include,
                                 ad_principal_filter(ad_api_who(r)), &out);
    if (rc != 0) {
        ad_api_fail(r, rc, "worktree", wt);
        return;
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "agents"), i, a)
    {
        ad_api_agent_live(app, a); /* a stop under way reads "stopping" */
    }
    ad_res_json(r, 200, out);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    json_t *a = NULL;
    int rc = ad_store_agent_get(app->store, id, &a);
    if (rc == 0 && !ad_principal_sees(ad_api_who(r), ad_api_jstr(a, "orgId"))) {
        json_decref(a);
        rc = AD_ENOENT; /* another org's agent is as good as none */
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "agent", id);
        return;
    }
    ad_api_agent_live(app, a);
    json_t *eff = ad_run_sandbox_of(app->store, a);
    if (eff != NULL) {
        json_object_set_new(a, "sandboxEffective", eff);
    }
    ad_res_json(r, 200, a);
}

/* A crew an agent joins must exist in the agent's org. */
static int crew_ok(ad_app_t *app, ad_req_t *r, const char *crew, const char *org)
{
    char crew_org[AD_ID_MAX];
    int rc = ad_api_row_org(app, ad_api_who(r), AD_API_CREW, crew, crew_org);
    if (rc == AD_ENOENT || (rc == 0 && strcmp(crew_org, org) != 0)) {
        return ad_api_invalid(r, "crewId", "is not a crew of this agent's organisation");
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "crew", crew);
        return -1;
    }
    return 0;
}

/* Validates name, mode, permissions, crewId (shared by create and
 * update) into args; org is the agent's. -1 when it has answered 422. */
static int common_fields(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args, const char *org)
{
    const char *name = NULL, *mode = NULL;
    json_t *perms = NULL;
    if (ad_api_str(r, body, "name", false, 200, &name) != 0 ||
        ad_api_enum(r, body, "mode", false, MODES, &mode) != 0 ||
        ad_api_str_array(r, body, "permissions", false, 64, 128, &perms) != 0) {
        return -1;
    }
    if (name != NULL) {
        if (name[0] == '\0') {
            return ad_api_invalid(r, "name", "must not be empty");
        }
        json_object_set_new(args, "name", json_string(name));
    }
    if (mode != NULL) {
        json_object_set_new(args, "mode", json_string(mode));
    }
    if (perms != NULL) {
        size_t i;
        json_t *v;
        json_array_foreach(perms, i, v)
        {
            char why[200];
            const char *e = json_string_value(v);
            if (ad_permission_check(e, why, sizeof(why)) != 0) {
                ad_res_error(r, 422, "VALIDATION_ERROR",
                             json_pack("{s:s, s:s, s:s, s:I}", "field", "permissions", "entry", e,
                                       "reason", why, "index", (json_int_t)i),
                             "permissions: %s: %s", e, why);
                return -1;
            }
        }
        json_object_set(args, "permissions", perms);
    }
    json_t *crew = json_object_get(body, "crewId");
    if (crew != NULL) {
        if (!json_is_null(crew) && (!json_is_string(crew) || json_string_length(crew) == 0 ||
                                    json_string_length(crew) > 128)) {
            return ad_api_invalid(r, "crewId", "must be a string or null");
        }
        if (json_is_string(crew) && crew_ok(app, r, json_string_value(crew), org) != 0) {
            return -1;
        }
        json_object_set(args, "crewId", crew);
    }
    return 0;
}

/* An agent's environment is admin business; a variable that changes how
 * programs load or what they run (ad_api_env_unsafe) also needs
 * allowUnsafeEnv: true, so it is never set by accident. */
static int env_ok(ad_req_t *r, json_t *body, json_t *env)
{
    const char *k;
    json_t *v;
    if (!json_is_object(env) || json_object_size(env) > 256) {
        return ad_api_invalid(r, "env", "must be an object of at most 256 strings");
    }
    if (!ad_api_require(r, AD_SCOPE_ADMIN, "setting an agent's environment")) {
        return -1;
    }
    bool allow = json_is_true(json_object_get(body, "allowUnsafeEnv"));
    json_object_foreach(env, k, v)
    {
        if (!json_is_string(v) || k[0] == '\0' || strchr(k, '=') != NULL) {
            return ad_api_invalid(r, "env", "must map variable names to strings");
        }
        if (!allow && ad_api_env_unsafe(k)) {
            char why[200];
            snprintf(why, sizeof(why),
                     "sets %s, which changes how programs load or what they run; send "
                     "allowUnsafeEnv: true to allow it",
                     k);
            return ad_api_invalid(r, "env", why);
        }
    }
    return 0;
}

void ad_api_sandbox_note(ad_req_t *r, const char *what, json_t *old, json_t *now)
{
    char *o = old != NULL && !json_is_null(old)
                  ? json_dumps(old, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                  : NULL;
    char *n = now != NULL && !json_is_null(now)
                  ? json_dumps(now, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                  : NULL;
    char note[AD_REQ_NOTE_MAX + 1];
    snprintf(note, sizeof(note), "%s: %s -> %s", what, o != NULL ? o : "default",
             n != NULL ? n : "default");
    ad_req_set_note(r, note);
    free(o);
    free(n);
}

/* network {allow: ["host", "host:port", "[v6]:port"]}: at most 32 names of
 * at most 255 characters, nothing a proxy request line could be bent with. */
static int allow_ok(ad_req_t *r, json_t *net)
{
    json_t *allow = json_object_get(net, "allow");
    if (json_object_size(net) != 1 || !json_is_array(allow) || json_array_size(allow) == 0 ||
        json_array_size(allow) > 32) {
        return ad_api_invalid(r, "sandbox", "network {allow} takes a list of 1 to 32 hosts");
    }
    size_t i;
    json_t *v;
    json_array_foreach(allow, i, v)
    {
        const char *h = json_string_value(v);
        size_t n = h != NULL ? strlen(h) : 0;
        bool ok = n > 0 && n <= 255 && h[0] != ':';
        for (size_t j = 0; ok && j < n; j++) {
            char c = h[j];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
        }
        if (!ok) {
            return ad_api_invalid(r, "sandbox",
                                  "each network allow entry is host, host:port or [v6]:port");
        }
    }
    return 0;
}

int ad_api_sandbox_ok(ad_app_t *app, ad_req_t *r, json_t *sb, bool workspace)
{
    if (!ad_api_require(r, AD_SCOPE_ADMIN,
                        workspace ? "setting a workspace's sandbox"
                                  : "setting an agent's sandbox")) {
        return -1;
    }
    if (workspace && !json_is_object(sb)) {
        return ad_api_invalid(r, "sandbox",
                              "a workspace's sandbox is {network, paths} (or null for agentd's "
                              "default); \"none\" is set per agent, by the owner");
    }
    if (json_is_string(sb)) {
        if (strcmp(json_string_value(sb), "none") != 0) {
            return ad_api_invalid(r, "sandbox", "must be \"none\" or {network, paths}");
        }
        if (!ad_api_require_owner(r, "may run an agent without a sandbox (sandbox: \"none\")")) {
            return -1;
        }
        ad_log(AD_LOG_WARN, "api", "agent made to run without a sandbox by=%s",
               ad_api_who(r) != NULL ? ad_api_who(r)->name : "?");
        return 0;
    }
    if (!json_is_object(sb)) {
        return ad_api_invalid(r, "sandbox", "must be \"none\" or {network, paths}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(sb, k, v)
    {
        if (strcmp(k, "network") == 0) {
            const char *n = json_string_value(v);
            if (json_is_object(v)) {
                if (allow_ok(r, v) != 0) {
                    return -1;
                }
            } else if (n == NULL || (strcmp(n, "on") != 0 && strcmp(n, "off") != 0)) {
                return ad_api_invalid(r, "sandbox",
                                      "network must be \"on\", \"off\" or {allow: [host[:port]]}");
            }
        } else if (strcmp(k, "paths") == 0) {
            if (!json_is_array(v) || json_array_size(v) > 16) {
                return ad_api_invalid(r, "sandbox", "paths must be a list of at most 16");
            }
            size_t i;
            json_t *p;
            json_array_foreach(v, i, p)
            {
                const char *path = json_is_string(p)
                                       ? json_string_value(p)
                                       : json_string_value(json_object_get(p, "path"));
                json_t *w = json_object_get(p, "write");
                char why[300];
                if (path == NULL || (w != NULL && !json_is_boolean(w))) {
                    return ad_api_invalid(
                        r, "sandbox", "each path must be a string or {path, write: true|false}");
                }
                if (!ad_run_sandbox_path_ok(app->cfg, path, why, sizeof(why))) {
                    return ad_api_invalid(r, "sandbox", why);
                }
            }
        } else {
            return ad_api_invalid(r, "sandbox", "takes network and paths only");
        }
    }
    /* Paths show this machine's files: another organisation's admin (the
     * attacker of issue #31) would name ~/.ssh or the owner's checkouts. */
    const ad_principal_t *who = ad_api_who(r);
    if (json_array_size(json_object_get(sb, "paths")) > 0 && !who->owner &&
        strcmp(who->org_id, AD_ORG_DEFAULT) != 0) {
        ad_res_error(r, 403, "FORBIDDEN", NULL,
                     "only the owner's organisation may show an agent paths beyond its "
                     "worktree (sandbox.paths): they are this machine's files");
        return -1;
    }
    return 0;
}

/* limits {memoryMb 16..1048576, cpuPercent 1..100000 (of one core)}: the
 * run's cgroup enforces them (src/proc). -1 after answering 422. */
static int limits_ok(ad_req_t *r, json_t *lim)
{
    if (!json_is_object(lim)) {
        return ad_api_invalid(r, "limits", "must be an object {memoryMb, cpuPercent}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(lim, k, v)
    {
        bool mem = strcmp(k, "memoryMb") == 0, cpu = strcmp(k, "cpuPercent") == 0;
        json_int_t x = json_integer_value(v);
        if ((!mem && !cpu) || !json_is_integer(v) || (mem && (x < 16 || x > 1048576)) ||
            (cpu && (x < 1 || x > 100000))) {
            return ad_api_invalid(r, "limits",
                                  "memoryMb must be 16 to 1048576 and cpuPercent 1 to 100000");
        }
    }
    return 0;
}

/* systemPrompt: text a claude agent's CLI adds to its system prompt (an
 * agent definition's body, GET /api/definitions/:name). */
static int system_prompt_field(ad_req_t *r, json_t *body, const char *executor, json_t *state)
{
    const char *sp = NULL;
    if (ad_api_str(r, body, "systemPrompt", false, 32768, &sp) != 0) {
        return -1;
    }
    if (sp == NULL) {
        return 0;
    }
    if (executor != NULL && strcmp(executor, "claude") != 0) {
        return ad_api_invalid(r, "systemPrompt", "is for claude agents");
    }
    json_object_set_new(state, "systemPrompt", json_string(sp));
    return 0;
}

/* Where the CLI sends the conversation (baseUrl) and codex's own settings
 * (codexConfig) decide where an API key goes: admin only, like env. Set
 * into state; -1 when it has answered. */
static int provider_fields(ad_req_t *r, json_t *body, json_t *state)
{
    const char *base = NULL;
    if (ad_api_str(r, body, "baseUrl", false, 2048, &base) != 0) {
        return -1;
    }
    json_t *cfg = json_object_get(body, "codexConfig");
    if (base == NULL && cfg == NULL) {
        return 0;
    }
    if (!ad_api_require(r, AD_SCOPE_ADMIN, "choosing where an agent's CLI sends its requests")) {
        return -1;
    }
    if (base != NULL) {
        bool ok = strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0;
        for (const char *c = base; ok && *c != '\0'; c++) {
            ok = *c > ' ' && *c < 0x7f;
        }
        if (!ok) {
            return ad_api_invalid(r, "baseUrl", "must be an http:// or https:// URL");
        }
        json_object_set_new(state, "baseUrl", json_string(base));
    }
    if (cfg != NULL) {
        char why[300];
        if (ad_codex_config_check(cfg, why, sizeof(why)) != 0) {
            return ad_api_invalid(r, "codexConfig", why);
        }
        json_object_set(state, "codexConfig", cfg);
    }
    return 0;
}

/* How the runner starts the agent (src/run/run.h), kept in its state:
 * command (argv, required for the command executor), terminal (pty), env
 * ({NAME: value}), stopWith (sigint, stdin or none), model, limits,
 * baseUrl, codexConfig, and any other keys of a `state` object. -1 when it
 * has answered 422. */
static int run_fields(ad_app_t *app, ad_req_t *r, json_t *body, const char *executor, json_t *args)
{
    json_t *cmd = NULL;
    bool terminal = false, has_terminal = false;
    const char *stop_with = NULL, *model = NULL, *acp = NULL;
    if (ad_api_str_array(r, body, "command", false, 256, 65536, &cmd) != 0 ||
        ad_api_enum(r, body, "acpAgent", false, ACP_AGENTS, &acp) != 0 ||
        ad_api_bool(r, body, "terminal", &terminal, &has_terminal) != 0 ||
        ad_api_enum(r, body, "stopWith", false, "sigint,stdin,none", &stop_with) != 0 ||
        ad_api_str(r, body, "model", false, 200, &model) != 0) {
        return -1;
    }
    json_t *st = json_object_get(body, "state");
    if (st != NULL && !json_is_object(st)) {
        return ad_api_invalid(r, "state", "must be an object");
    }
    json_t *env = json_object_get(body, "env");
    if (env != NULL && env_ok(r, body, env) != 0) {
        return -1;
    }
    json_t *limits = json_object_get(body, "limits");
    json_t *st_limits = json_object_get(st, "limits");
    if ((limits != NULL && limits_ok(r, limits) != 0) ||
        (st_limits != NULL && limits_ok(r, st_limits) != 0)) {
        return -1;
    }
    json_t *sandbox = json_object_get(body, "sandbox");
    json_t *st_sandbox = json_object_get(st, "sandbox");
    if ((sandbox != NULL && ad_api_sandbox_ok(app, r, sandbox, false) != 0) ||
        (st_sandbox != NULL && ad_api_sandbox_ok(app, r, st_sandbox, false) != 0)) {
        return -1;
    }
    if (sandbox != NULL || st_sandbox != NULL) {
        ad_api_sandbox_note(r, "agent sandbox", NULL, sandbox != NULL ? sandbox : st_sandbox);
    }
    bool is_command = executor != NULL && strcmp(executor, "command") == 0;
    if ((is_command || cmd != NULL || st != NULL) &&
        !ad_api_require(r, AD_SCOPE_ADMIN, "an agent that runs a command")) {
        return -1;
    }
    if (is_command && (cmd == NULL || json_array_size(cmd) == 0)) {
        return ad_api_invalid(r, "command", "is required for command agents");
    }
    bool is_acp = executor != NULL && strcmp(executor, "acp") == 0;
    if (acp != NULL && !is_acp) {
        return ad_api_invalid(r, "acpAgent", "is for acp agents");
    }
    if (is_acp && acp == NULL && (cmd == NULL || json_array_size(cmd) == 0)) {
        return ad_api_invalid(r, "acpAgent",
                              "an acp agent needs acpAgent (" ACP_AGENTS ") or a command");
    }
    if (cmd != NULL && json_array_size(cmd) > 0 &&
        json_string_length(json_array_get(cmd, 0)) == 0) {
        return ad_api_invalid(r, "command", "must start with a program name");
    }
    if (st == NULL && cmd == NULL && acp == NULL && !has_terminal && env == NULL &&
        stop_with == NULL && model == NULL && limits == NULL &&
        json_object_get(body, "baseUrl") == NULL && json_object_get(body, "codexConfig") == NULL &&
        sandbox == NULL && json_object_get(body, "systemPrompt") == NULL) {
        return 0;
    }
    json_t *state = st != NULL ? json_deep_copy(st) : json_object();
    if (provider_fields(r, body, state) != 0 ||
        system_prompt_field(r, body, executor, state) != 0) {
        json_decref(state);
        return -1;
    }
    if (cmd != NULL) {
        json_object_set(state, "command", cmd);
    }
    if (acp != NULL) {
        json_object_set_new(state, "acpAgent", json_string(acp));
    }
    if (has_terminal) {
        json_object_set_new(state, "terminal", json_boolean(terminal));
    }
    if (env != NULL) {
        json_object_set(state, "env", env);
    }
    if (stop_with != NULL) {
        json_object_set_new(state, "stopWith", json_string(stop_with));
    }
    if (model != NULL) {
        json_object_set_new(state, "model", json_string(model));
    }
    if (limits != NULL) {
        json_object_set(state, "limits", limits);
    }
    if (sandbox != NULL) {
        json_object_set(state, "sandbox", sandbox);
    }
    json_object_set_new(args, "state", state);
    return 0;
}

static void create_body(ad_app_t *app, ad_req_t *r, json_t *body, const char *def_name);

/* A definition's front matter and body for a Claude Code agent: the body is
 * the prompt the CLI appends (systemPrompt), model (not "inherit") and
 * tools (those that are valid permission rules) fill what the request left
 * out. body is the request's (owned here). */
static void def_apply(json_t *body, json_t *def)
{
    const char *sp = ad_api_jstr(def, "systemPrompt"), *model = ad_api_jstr(def, "model");
    if (json_object_get(body, "systemPrompt") == NULL && sp != NULL && sp[0] != '\0') {
        json_object_set_new(body, "systemPrompt", json_string(sp));
    }
    if (json_object_get(body, "model") == NULL && model != NULL && strcmp(model, "inherit") != 0) {
        json_object_set_new(body, "model", json_string(model));
    }
    json_t *tools = json_object_get(def, "tools");
    if (json_object_get(body, "permissions") == NULL && json_array_size(tools) > 0) {
        json_t *perms = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t)
        {
            char why[200];
            if (json_array_size(perms) < 64 &&
                ad_permission_check(json_string_value(t), why, sizeof(why)) == 0) {
                json_array_append(perms, t);
            }
        }
        json_object_set_new(body, "permissions", perms);
    }
}

static void def_found(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    json_t *body = ud;
    const char *name = ad_api_jstr(body, "definition");
    if (def == NULL || json_object_get(def, "error") != NULL) {
        ad_api_invalid(r, "definition",
                       def == NULL ? "no such definition" : "the definition has an error");
        json_decref(body);
        return;
    }
    def_apply(body, def);
    create_body(app, r, body, name);
}

/* A new agent that may run tools unasked at its first start (permissions
 * beyond "read", or auto mode) is an admin's, as changing them is (see
 * patch_scope_ok): a write token could otherwise leave one for the admin
 * to start. false after answering 403. */
static bool create_scope_ok(ad_req_t *r, json_t *body)
{
    const char *mode = json_string_value(json_object_get(body, "mode"));
    bool more = mode != NULL && strcmp(mode, "auto") == 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(body, "permissions"), i, v)
    {
        more |= !json_is_string(v) || strcmp(json_string_value(v), "read") != 0;
    }
    return !more ||
           ad_api_require(r, AD_SCOPE_ADMIN,
                          "an agent that may run tools unasked (permissions beyond read, or auto "
                          "mode)");
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    if (!create_scope_ok(r, body)) {
        json_decref(body);
        return;
    }
    const char *def = NULL, *executor = NULL;
    if (ad_api_str(r, body, "definition", false, 200, &def) != 0 ||
        ad_api_enum(r, body, "executor", false, EXECUTORS, &executor) != 0) {
        json_decref(body);
        return;
    }
    if (def == NULL) {
        create_body(app, r, body, NULL);
        return;
    }
    if (executor != NULL && strcmp(executor, "claude") != 0) {
        ad_api_invalid(r, "definition", "is for claude agents");
        json_decref(body);
        return;
    }
    if (ad_api_def_find(app, r, def, def_found, body) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot read the definitions");
        json_decref(body);
    }
}

/* The create itself; body is owned. def_name: the definition it came from,
 * kept in the agent's state. */
static void create_body(ad_app_t *app, ad_req_t *r, json_t *body, const char *def_name)
{
    json_t *args = json_object();
    const char *wt = NULL, *executor = NULL;
    char org[AD_ID_MAX];
    if (ad_api_str(r, body, "worktreeId", true, AD_ID_MAX, &wt) != 0) {
        goto out;
    }
    int vrc = ad_api_row_org(app, ad_api_who(r), AD_API_WORKTREE, wt, org);
    if (vrc != 0) {
        ad_res_error_code(r, vrc, json_pack("{s:s}", "field", "worktreeId"), "worktree not found");
        goto out;
    }
    if (common_fields(app, r, body, args, org) != 0 ||
        ad_api_enum(r, body, "executor", false, EXECUTORS, &executor) != 0) {
        goto out;
    }
    if (json_object_get(args, "name") == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char name[32];
        snprintf(name, sizeof(name), "Agent %02d:%02d", tm.tm_hour % 100, tm.tm_min % 100);
        json_object_set_new(args, "name", json_string(name));
    }
    if (json_object_get(args, "mode") == NULL) {
        /* The default_mode setting, itself "regular" by default. */
        json_t *s = NULL;
        const char *m = "regular";
        if (ad_store_settings_get(app->store, &s) == 0) {
            const char *v = json_string_value(json_object_get(s, "default_mode"));
            if (v != NULL && ad_api_choice(MODES, v)) {
                m = v;
            }
        }
        json_object_set_new(args, "mode", json_string(m));
        json_decref(s);
    }
    if (json_object_get(args, "permissions") == NULL) {
        json_object_set_new(args, "permissions", json_pack("[s]", "read"));
    }
    if (run_fields(app, r, body, executor, args) != 0 ||
        root_auto_refused(app, r, ad_api_jstr(args, "mode"), executor)) {
        goto out;
    }
    if (def_name != NULL) {
        json_t *st = json_object_get(args, "state");
        if (st == NULL) {
            st = json_object();
            json_object_set_new(args, "state", st);
        }
        json_object_set_new(st, "definition", json_string(def_name));
    }
    if (json_is_null(json_object_get(args, "crewId"))) {
        json_object_del(args, "crewId");
    }
    char id[AD_ID_MAX];
    ad_id_new("ag", id);
    json_object_set_new(args, "id", json_string(id));
    json_object_set_new(args, "worktreeId", json_string(wt));
    json_object_set_new(args, "executor", json_string(executor != NULL ? executor : "claude"));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    ad_api_write(app, r, ad_store_op_agent_insert, args, created);
    args = NULL;
out:
    json_decref(args);
    json_decref(body);
}

/* What an agent may run is admin business (write starts no program):
 * its permissions and mode decide which tools run unasked at the next
 * start, its env and command what runs at all. A write token may rename,
 * reorder or move an agent, nothing more. false after answering 403. */
static bool patch_scope_ok(ad_req_t *r, json_t *body)
{
    static const char *const guarded[] = {"permissions", "mode",     "env",    "command",
                                          "state",       "executor", "sandbox"};
    for (size_t i = 0; i < AD_ARRAY_LEN(guarded); i++) {
        if (json_object_get(body, guarded[i]) != NULL) {
            char what[80];
            snprintf(what, sizeof(what), "changing an agent's %s", guarded[i]);
            return ad_api_require(r, AD_SCOPE_ADMIN, what);
        }
    }
    return true;
}

/* env and command of a PATCH, checked like at create, into args "env" and
 * "command" (the store sets them in the agent's state). -1 after
 * answering. */
static int patch_state(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args)
{
    json_t *cmd = NULL;
    if (ad_api_str_array(r, body, "command", false, 256, 65536, &cmd) != 0) {
        return -1;
    }
    if (json_object_get(body, "state") != NULL || json_object_get(body, "executor") != NULL) {
        return ad_api_invalid(r, "state", "cannot be changed; make a new agent");
    }
    if (cmd != NULL &&
        (json_array_size(cmd) == 0 || json_string_length(json_array_get(cmd, 0)) == 0)) {
        return ad_api_invalid(r, "command", "must start with a program name");
    }
    json_t *env = json_object_get(body, "env");
    if (env != NULL && env_ok(r, body, env) != 0) {
        return -1;
    }
    /* sandbox: as at create, or null for the workspace's (and agentd's) */
    json_t *sb = json_object_get(body, "sandbox");
    if (sb != NULL && !json_is_null(sb) && ad_api_sandbox_ok(app, r, sb, false) != 0) {
        return -1;
    }
    if (sb != NULL) {
        json_t *cur = NULL;
        if (ad_store_agent_get(app->store, ad_req_param(r, "id"), &cur) == 0) {
            ad_api_sandbox_note(r, "agent sandbox",
                                json_object_get(json_object_get(cur, "state"), "sandbox"), sb);
        }
        json_decref(cur);
        json_object_set(args, "sandbox", sb);
    }
    if (cmd != NULL) {
        json_object_set(args, "command", cmd);
    }
    if (env != NULL) {
        json_object_set(args, "env", env);
    }
    return 0;
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *args = json_object();
    int64_t order = 0;
    bool has_order = false;
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_API_AGENT, ad_req_param(r, "id"), org) ||
        !patch_scope_ok(r, body) || common_fields(app, r, body, args, org) != 0 ||
        patch_state(app, r, body, args) != 0 ||
        ad_api_int(r, body, "displayOrder", false, -1000000000, 1000000000, &order, &has_order) !=
            0) {
        goto out;
    }
    json_t *cur = NULL;
    bool refused =
        ad_api_jstr(args, "mode") != NULL &&
        ad_store_agent_get(app->store, ad_req_param(r, "id"), &cur) == 0 &&
        root_auto_refused(app, r, ad_api_jstr(args, "mode"), ad_api_jstr(cur, "executor"));
    json_decref(cur);
    if (refused) {
        goto out;
    }
    if (has_order) {
        json_object_set_new(args, "displayOrder", json_integer(order));
    }
    json_object_set_new(args, "id", json_string(ad_req_param(r, "id")));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    ad_api_write(app, r, ad_store_op_agent_update, args, done_200);
    args = NULL;
out:
    json_decref(args);
    json_decref(body);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ESTATE) {
        ad_res_error_code(r, rc, NULL, "the agent is running; stop it before deleting it");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "agent", ad_req_param(r, "id"));
        return;
    }
    json_t *a = json_object_get(result, "agent");
    const char *ws = json_string_value(json_object_get(result, "workspaceId"));
    json_t *p = json_pack("{s:O, s:b}", "id", json_object_get(a, "id"), "deleted", 1);
    publish_agent(app, p, a, ws);
    json_decref(p);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    bool archive = true;
    if (ad_api_query_bool(r, "archive", true, &archive) != 0 ||
        !ad_api_visible(app, r, AD_API_AGENT, ad_req_param(r, "id"), NULL)) {
        return;
    }
    if (archive && app->runner != NULL) {
        /* An archived agent does not keep running out of sight: its run is
         * stopped gracefully (the run records it). */
        ad_runner_stop(app->runner, ad_req_param(r, "id"), false, NULL, NULL);
    }
    json_t *args = json_pack("{s:s, s:b, s:I}", "id", ad_req_param(r, "id"), "archive", archive,
                             "now", (json_int_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_agent_delete, args, archive ? done_200 : deleted);
}

static void restore(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_visible(app, r, AD_API_AGENT, ad_req_param(r, "id"), NULL)) {
        return;
    }
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_agent_restore, args, done_200);
}

static void fork_agent(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_visible(app, r, AD_API_AGENT, ad_req_param(r, "id"), NULL)) {
        return;
    }
    bool failed = false;
    json_t *body = ad_api_body_optional(r, &failed);
    if (failed) {
        return;
    }
    const char *name = NULL;
    if (ad_api_str(r, body, "name", false, 200, &name) != 0) {
        goto out;
    }
    if (name != NULL && name[0] == '\0') {
        ad_api_invalid(r, "name", "must not be empty");
        goto out;
    }
    /* worktreeId: place the fork in another worktree of the same org (for
     * example one branched from the parent's branch) */
    const char *wt = NULL;
    char porg[AD_ID_MAX], worg[AD_ID_MAX];
    if (ad_api_str(r, body, "worktreeId", false, AD_ID_MAX, &wt) != 0 ||
        !ad_api_visible(app, r, AD_API_AGENT, ad_req_param(r, "id"), porg) ||
        (wt != NULL && !ad_api_visible(app, r, AD_API_WORKTREE, wt, worg))) {
        goto out;
    }
    if (wt != NULL && strcmp(porg, worg) != 0) {
        ad_api_invalid(r, "worktreeId", "must be a worktree of the agent's organisation");
        goto out;
    }
    char id[AD_ID_MAX];
    ad_id_new("ag", id);
    json_t *args = json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "id", ad_req_param(r, "id"), "newId",
                             id, "name", name, "worktreeId", wt, "now", (json_int_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_agent_fork, args, done_201);
out:
    json_decref(body);
}

static void reordered(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_EINVAL) {
        const char *id = json_string_value(json_object_get(result, "id"));
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s, s:s?}", "field", "ids", "reason",
                               "every id must be an agent of the worktree", "id", id),
                     "ids: %s is not an agent of this worktree", id != NULL ? id : "?");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "worktree", NULL);
        return;
    }
    const char *ws = json_string_value(json_object_get(result, "workspaceId"));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(result, "agents"), i, a)
    {
        json_t *p = json_pack("{s:O, s:O}", "id", json_object_get(a, "id"), "displayOrder",
                              json_object_get(a, "displayOrder"));
        publish_agent(app, p, a, ws);
        json_decref(p);
    }
    ad_res_json(r, 200, json_pack("{s:O}", "agents", json_object_get(result, "agents")));
}

static void reorder(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *wt = NULL;
    json_t *ids = NULL;
    if (ad_api_str(r, body, "worktreeId", true, AD_ID_MAX, &wt) == 0 &&
        ad_api_str_array(r, body, "ids", true, 10000, AD_ID_MAX, &ids) == 0 &&
        ad_api_visible(app, r, AD_API_WORKTREE, wt, NULL)) {
        ad_api_write(app, r, ad_store_op_agent_reorder,
                     json_pack("{s:s, s:O, s:I}", "worktreeId", wt, "ids", ids, "now",
                               (json_int_t)ad_wall_ms()),
                     reordered);
    }
    json_decref(body);
}

void ad_api_agents_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/agents", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "POST", "/api/agents", AD_ACCESS_WRITE, create, app);
    ad_server_route(app->server, "POST", "/api/agents/reorder", AD_ACCESS_WRITE, reorder, app);
    ad_server_route(app->server, "GET", "/api/agents/:id", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "PATCH", "/api/agents/:id", AD_ACCESS_WRITE, patch, app);
    ad_server_route(app->server, "DELETE", "/api/agents/:id", AD_ACCESS_WRITE, del, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/restore", AD_ACCESS_WRITE, restore, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/fork", AD_ACCESS_WRITE, fork_agent, app);
}
