/* SPDX-License-Identifier: MIT */
/*
 * The fields of an agent's create and update, checked and put into the
 * store's arguments: name, mode, permissions, crew, and how it runs
 * (command, terminal, env, stopWith, model, limits, sandbox, baseUrl,
 * codexConfig, systemPrompt), with the scope each needs. What a value may
 * be is src/run's and src/agent's (spec.c, perms.c); who may set it, and
 * the 403/422 answers, are here.
 */
#include "agent/agent.h"
#include "run/run.h"
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define MODES "auto,plan,regular"
#define ACP_AGENTS "gemini,claude-code-acp,codex-acp"

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
int ad_api_agent_common_fields(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args,
                               const char *org)
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
 * programs load or what they run (ad_run_env_unsafe) also needs
 * allowUnsafeEnv: true, so it is never set by accident. */
static int env_ok(ad_req_t *r, json_t *body, json_t *env)
{
    if (!json_is_object(env) || json_object_size(env) > 256) {
        return ad_api_invalid(r, "env", "must be an object of at most 256 strings");
    }
    if (!ad_api_require(r, AD_SCOPE_ADMIN, "setting an agent's environment")) {
        return -1;
    }
    char why[300];
    bool allow = json_is_true(json_object_get(body, "allowUnsafeEnv"));
    if (ad_run_env_check(env, allow, why, sizeof(why)) != 0) {
        return ad_api_invalid(r, "env", why);
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
    char why[300];
    if (ad_run_sandbox_check(app->cfg, sb, why, sizeof(why)) != 0) {
        return ad_api_invalid(r, "sandbox", why);
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

/* limits: checked by src/run (ad_run_limits_check). -1 after answering 422. */
static int limits_ok(ad_req_t *r, json_t *lim)
{
    char why[128];
    return ad_run_limits_check(lim, why, sizeof(why)) == 0 ? 0 : ad_api_invalid(r, "limits", why);
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
        if (!ad_run_base_url_ok(base)) {
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
/* acpAgent: a preset of the acp executor, which needs it or a command.
 * 0 with *acp set (NULL: none), or -1 after answering 422. */
static int acp_field(ad_req_t *r, json_t *body, const char *executor, const json_t *cmd,
                     const char **acp)
{
    if (ad_api_enum(r, body, "acpAgent", false, ACP_AGENTS, acp) != 0) {
        return -1;
    }
    bool is_acp = executor != NULL && strcmp(executor, "acp") == 0;
    if (*acp != NULL && !is_acp) {
        return ad_api_invalid(r, "acpAgent", "is for acp agents");
    }
    if (is_acp && *acp == NULL && (cmd == NULL || json_array_size(cmd) == 0)) {
        return ad_api_invalid(r, "acpAgent",
                              "an acp agent needs acpAgent (" ACP_AGENTS ") or a command");
    }
    return 0;
}

int ad_api_agent_run_fields(ad_app_t *app, ad_req_t *r, json_t *body, const char *executor,
                            json_t *args)
{
    json_t *cmd = NULL;
    bool terminal = false, has_terminal = false;
    const char *stop_with = NULL, *model = NULL;
    if (ad_api_str_array(r, body, "command", false, 256, 65536, &cmd) != 0 ||
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
    if (cmd != NULL && json_array_size(cmd) > 0 &&
        json_string_length(json_array_get(cmd, 0)) == 0) {
        return ad_api_invalid(r, "command", "must start with a program name");
    }
    const char *acp = NULL;
    if (acp_field(r, body, executor, cmd, &acp) != 0) {
        return -1;
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

/* What an agent may run is admin business (write starts no program):
 * its permissions and mode decide which tools run unasked at the next
 * start, its env and command what runs at all. A write token may rename,
 * reorder or move an agent, nothing more. false after answering 403. */
bool ad_api_agent_patch_scope_ok(ad_req_t *r, json_t *body)
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
int ad_api_agent_patch_state(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args)
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
