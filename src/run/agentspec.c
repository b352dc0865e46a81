/* SPDX-License-Identifier: MIT */
/*
 * How the runner starts an agent, from the body of its create or update
 * (run.h, "an agent's run spec"): command, terminal, env, stopWith, model,
 * limits, sandbox, baseUrl, codexConfig, systemPrompt, acpAgent, node,
 * placement and a state object, each checked (the values only, with spec.c's checks) into the
 * agent's state; and which of them only an admin may set. Also what a
 * run's own fields (name, colour, tags, notes, group) may be, and the
 * hyper-parameter config a run starts with. Who the
 * caller is, and the 403 and 422 answers, are src/api's (agent_fields.c,
 * runs.c).
 */
#include "agent/agent.h"
#include "hparam/hparam.h"
#include "rows.h"
#include "run/run.h"
#include "tables/hparams.h"
#include "tables/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACP_AGENTS "gemini,claude-code-acp,codex-acp"

static bool is(const char *executor, const char *name)
{
    return executor != NULL && strcmp(executor, name) == 0;
}

const char *ad_run_spec_admin_need(const json_t *body, const char *executor)
{
    /* where it runs decides who sees its environment and keys */
    if (json_object_get(body, "node") != NULL || json_object_get(body, "placement") != NULL) {
        return "choosing the node an agent runs on";
    }
    if (json_object_get(body, "env") != NULL) {
        return "setting an agent's environment";
    }
    if (json_object_get(body, "sandbox") != NULL ||
        json_object_get(json_object_get(body, "state"), "sandbox") != NULL) {
        return "setting an agent's sandbox";
    }
    if (is(executor, "command") || json_object_get(body, "command") != NULL ||
        json_object_get(body, "state") != NULL) {
        return "an agent that runs a command";
    }
    if (json_object_get(body, "baseUrl") != NULL || json_object_get(body, "codexConfig") != NULL) {
        return "choosing where an agent's CLI sends its requests";
    }
    return NULL;
}

/* env: at most 256 strings; an unsafe name only with allowUnsafeEnv. */
static int env_check(const json_t *body, const json_t *env, ad_field_err_t *e)
{
    char why[300];
    if (!json_is_object(env) || json_object_size(env) > 256) {
        return ad_field_fail(e, "env", "must be an object of at most 256 strings");
    }
    if (ad_run_env_check(env, json_is_true(json_object_get(body, "allowUnsafeEnv")), why,
                         sizeof(why)) != 0) {
        return ad_field_fail(e, "env", "%s", why);
    }
    return 0;
}

/* A command starts with a program's name. */
static int command_check(const json_t *cmd, ad_field_err_t *e)
{
    if (cmd != NULL && json_array_size(cmd) > 0 &&
        json_string_length(json_array_get(cmd, 0)) == 0) {
        return ad_field_fail(e, "command", "must start with a program name");
    }
    return 0;
}

/* node (a node's name or id) or placement (what a node must have), not
 * both (issue #34). */
static int place_check(const json_t *body, ad_field_err_t *e)
{
    const char *node = NULL;
    char why[200];
    json_t *place = json_object_get(body, "placement");
    if (ad_field_str(body, "node", false, 63, &node, e) != 0) {
        return AD_EINVAL;
    }
    if (node != NULL && !ad_run_node_name_ok(node)) {
        return ad_field_fail(e, "node", "must be a node's name or id: letters, digits, . _ -");
    }
    if (place != NULL && ad_run_placement_check(place, why, sizeof(why)) != 0) {
        return ad_field_fail(e, "placement", "%s", why);
    }
    if (place != NULL && node != NULL) {
        return ad_field_fail(e, "placement", "name a node or ask for one that fits, not both");
    }
    return 0;
}

/* The value checks that need no state object built: 0 or AD_EINVAL. */
static int values_check(const ad_config_t *cfg, const json_t *body, const char *executor,
                        const json_t *cmd, const char **acp, ad_field_err_t *e)
{
    char why[300];
    json_t *st = json_object_get(body, "state");
    json_t *env = json_object_get(body, "env");
    const json_t *lims[2] = {json_object_get(body, "limits"), json_object_get(st, "limits")};
    const json_t *sbs[2] = {json_object_get(body, "sandbox"), json_object_get(st, "sandbox")};
    if (st != NULL && !json_is_object(st)) {
        return ad_field_fail(e, "state", "must be an object");
    }
    if (env != NULL && env_check(body, env, e) != 0) {
        return AD_EINVAL;
    }
    for (int i = 0; i < 2; i++) {
        if (lims[i] != NULL && ad_run_limits_check(lims[i], why, sizeof(why)) != 0) {
            return ad_field_fail(e, "limits", "%s", why);
        }
        if (sbs[i] != NULL &&
            !(json_is_string(sbs[i]) && strcmp(json_string_value(sbs[i]), "none") == 0)) {
            if (json_is_string(sbs[i])) {
                return ad_field_fail(e, "sandbox", "must be \"none\" or {network, paths}");
            }
            if (ad_run_sandbox_check(cfg, sbs[i], why, sizeof(why)) != 0) {
                return ad_field_fail(e, "sandbox", "%s", why);
            }
        }
    }
    if (is(executor, "command") && (cmd == NULL || json_array_size(cmd) == 0)) {
        return ad_field_fail(e, "command", "is required for command agents");
    }
    if (command_check(cmd, e) != 0 ||
        ad_field_enum(body, "acpAgent", false, ACP_AGENTS, acp, e) != 0) {
        return AD_EINVAL;
    }
    if (*acp != NULL && !is(executor, "acp")) {
        return ad_field_fail(e, "acpAgent", "is for acp agents");
    }
    if (is(executor, "acp") && *acp == NULL && (cmd == NULL || json_array_size(cmd) == 0)) {
        return ad_field_fail(e, "acpAgent",
                             "an acp agent needs acpAgent (" ACP_AGENTS ") or a command");
    }
    return place_check(body, e);
}

/* baseUrl, codexConfig and systemPrompt into state. */
static int provider_fields(const json_t *body, const char *executor, json_t *state,
                           ad_field_err_t *e)
{
    const char *base = NULL, *sp = NULL;
    char why[300];
    json_t *cfg = json_object_get(body, "codexConfig");
    if (ad_field_str(body, "baseUrl", false, 2048, &base, e) != 0) {
        return AD_EINVAL;
    }
    if (base != NULL) {
        if (!ad_run_base_url_ok(base)) {
            return ad_field_fail(e, "baseUrl", "must be an http:// or https:// URL");
        }
        json_object_set_new(state, "baseUrl", json_string(base));
    }
    if (cfg != NULL) {
        if (ad_codex_config_check(cfg, why, sizeof(why)) != 0) {
            return ad_field_fail(e, "codexConfig", "%s", why);
        }
        json_object_set(state, "codexConfig", cfg);
    }
    /* systemPrompt: text a claude agent's CLI adds to its system prompt (an
     * agent definition's body). */
    if (ad_field_str(body, "systemPrompt", false, 32768, &sp, e) != 0) {
        return AD_EINVAL;
    }
    if (sp != NULL && executor != NULL && strcmp(executor, "claude") != 0) {
        return ad_field_fail(e, "systemPrompt", "is for claude agents");
    }
    if (sp != NULL) {
        json_object_set_new(state, "systemPrompt", json_string(sp));
    }
    return 0;
}

int ad_run_spec_state(const ad_config_t *cfg, const json_t *body, const char *executor,
                      json_t **state, ad_field_err_t *e)
{
    json_t *cmd = NULL;
    bool terminal = false, has_terminal = false;
    const char *stop_with = NULL, *model = NULL, *acp = NULL;
    *state = NULL;
    if (ad_field_str_array(body, "command", false, 256, 65536, &cmd, e) != 0 ||
        ad_field_bool(body, "terminal", &terminal, &has_terminal, e) != 0 ||
        ad_field_enum(body, "stopWith", false, "sigint,stdin,none", &stop_with, e) != 0 ||
        ad_field_str(body, "model", false, 200, &model, e) != 0 ||
        values_check(cfg, body, executor, cmd, &acp, e) != 0) {
        return AD_EINVAL;
    }
    json_t *st = json_object_get(body, "state");
    static const char *const named[] = {"env",     "limits",       "baseUrl", "codexConfig",
                                        "sandbox", "systemPrompt", "node",    "placement"};
    bool any = st != NULL || cmd != NULL || acp != NULL || has_terminal || stop_with != NULL ||
               model != NULL;
    for (size_t i = 0; i < AD_ARRAY_LEN(named) && !any; i++) {
        any = json_object_get(body, named[i]) != NULL;
    }
    if (!any) {
        return 0;
    }
    json_t *s = st != NULL ? json_deep_copy(st) : json_object();
    if (provider_fields(body, executor, s, e) != 0) {
        json_decref(s);
        return AD_EINVAL;
    }
    if (cmd != NULL) {
        json_object_set(s, "command", cmd);
    }
    if (acp != NULL) {
        json_object_set_new(s, "acpAgent", json_string(acp));
    }
    if (has_terminal) {
        json_object_set_new(s, "terminal", json_boolean(terminal));
    }
    static const char *const copied[] = {"env", "limits", "sandbox", "node", "placement"};
    for (size_t i = 0; i < AD_ARRAY_LEN(copied); i++) {
        json_t *v = json_object_get(body, copied[i]);
        if (v != NULL) {
            json_object_set(s, copied[i], v);
        }
    }
    if (stop_with != NULL) {
        json_object_set_new(s, "stopWith", json_string(stop_with));
    }
    if (model != NULL) {
        json_object_set_new(s, "model", json_string(model));
    }
    *state = s;
    return 0;
}

int ad_run_spec_patch(const json_t *body, json_t *args, ad_field_err_t *e)
{
    json_t *cmd = NULL;
    if (ad_field_str_array(body, "command", false, 256, 65536, &cmd, e) != 0) {
        return AD_EINVAL;
    }
    if (json_object_get(body, "state") != NULL || json_object_get(body, "executor") != NULL) {
        return ad_field_fail(e, "state", "cannot be changed; make a new agent");
    }
    if (cmd != NULL && json_array_size(cmd) == 0) {
        return ad_field_fail(e, "command", "must start with a program name");
    }
    json_t *env = json_object_get(body, "env");
    if (command_check(cmd, e) != 0 || (env != NULL && env_check(body, env, e) != 0)) {
        return AD_EINVAL;
    }
    if (cmd != NULL) {
        json_object_set(args, "command", cmd);
    }
    if (env != NULL) {
        json_object_set(args, "env", env);
    }
    return ad_run_spec_place(body, args, e);
}

int ad_run_spec_place(const json_t *body, json_t *args, ad_field_err_t *e)
{
    json_t *node = json_object_get(body, "node");
    json_t *place = json_object_get(body, "placement");
    /* null is "here"; the values checked as at create */
    json_t *check = json_object();
    if (node != NULL && !json_is_null(node)) {
        json_object_set(check, "node", node);
    }
    if (place != NULL && !json_is_null(place)) {
        json_object_set(check, "placement", place);
    }
    int rc = place_check(check, e);
    json_decref(check);
    if (rc != 0) {
        return rc;
    }
    /* one of them at most: naming a node drops a placement, and back */
    if (node != NULL) {
        json_object_set(args, "node", node);
        if (!json_is_null(node) && place == NULL) {
            json_object_set_new(args, "placement", json_null());
        }
    }
    if (place != NULL) {
        json_object_set(args, "placement", place);
        if (!json_is_null(place) && node == NULL) {
            json_object_set_new(args, "node", json_null());
        }
    }
    return 0;
}

/* ---- a run's own fields ------------------------------------------------------------------ */

#define RUN_NAME_MAX 200
#define RUN_NOTES_MAX 16384
#define RUN_TAGS_MAX 32
#define RUN_TAG_MAX 64

/* A string field of the patch: absent, null (back to the default) or 1 to
 * max bytes (0 allowed when empty_ok), into set. */
static int patch_str(const json_t *body, const char *key, size_t max, bool empty_ok, json_t *set,
                     ad_field_err_t *e)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL) {
        return 0;
    }
    if (json_is_null(v)) {
        json_object_set_new(set, key, json_null());
        return 0;
    }
    size_t len = json_string_length(v);
    if (!json_is_string(v) || len > max || (len == 0 && !empty_ok) ||
        memchr(json_string_value(v), 0, len) != NULL) {
        return ad_field_fail(e, key, "a string of %s to %zu bytes, or null", empty_ok ? "0" : "1",
                             max);
    }
    json_object_set(set, key, v);
    return 0;
}

static bool hex_color(const char *s)
{
    if (s == NULL || strlen(s) != 7 || s[0] != '#') {
        return false;
    }
    for (int i = 1; i < 7; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

int ad_run_patch_check(const json_t *body, json_t *set, ad_field_err_t *e)
{
    const char *k;
    json_t *v;
    if (!json_is_object(body)) {
        return ad_field_fail(e, "body", "an object");
    }
    json_object_foreach((json_t *)body, k, v)
    {
        if (!ad_field_choice("name,color,tags,notes,group", k)) {
            return ad_field_fail(e, k, "not a field of a run (name, color, tags, notes, group)");
        }
    }
    if (patch_str(body, "name", RUN_NAME_MAX, false, set, e) != 0 ||
        patch_str(body, "notes", RUN_NOTES_MAX, true, set, e) != 0 ||
        patch_str(body, "group", RUN_NAME_MAX, false, set, e) != 0) {
        return AD_EINVAL;
    }
    json_t *c = json_object_get(body, "color");
    if (c != NULL && !json_is_null(c) && !hex_color(json_string_value(c))) {
        return ad_field_fail(e, "color", "a colour as #rrggbb, or null");
    }
    if (c != NULL) {
        json_object_set(set, "color", c);
    }
    json_t *tags = json_object_get(body, "tags"), *t = NULL;
    if (json_is_null(tags)) {
        json_object_set_new(set, "tags", json_null());
    } else if (ad_field_str_array(body, "tags", false, RUN_TAGS_MAX, RUN_TAG_MAX, &t, e) != 0) {
        return AD_EINVAL;
    } else if (t != NULL) {
        json_object_set(set, "tags", t);
    }
    return 0;
}

/* ---- a run's hyper-parameter config ------------------------------------------------------- */

int ad_run_config_load(ad_store_t *st, const char *config_id, const char *org, json_t **record,
                       json_t **schema, ad_field_err_t *e)
{
    json_t *c = NULL, *s = NULL;
    if (ad_store_config_get(st, config_id, &c) != 0 ||
        strcmp(json_string_value(json_object_get(c, "orgId")), org) != 0) {
        json_decref(c);
        return ad_field_fail(e, "configId", "is not a config of the agent's organisation");
    }
    const char *sid = json_string_value(json_object_get(c, "schemaId"));
    json_t *b = ad_hparam_builtin(sid);
    if (b != NULL) {
        s = json_incref(b);
    } else if (sid != NULL && strlen(sid) < AD_ID_MAX &&
               ad_store_cfg_schema_get(st, sid, &s) == 0 &&
               strcmp(json_string_value(json_object_get(s, "orgId")), org) != 0) {
        json_decref(s);
        s = NULL;
    }
    ad_hparam_err_t he;
    json_t *v = s != NULL ? ad_hparam_values(s, json_object_get(c, "values"), NULL, &he) : NULL;
    if (v == NULL) {
        json_decref(c);
        if (s == NULL) {
            return ad_field_fail(e, "configId", "the config's schema is gone");
        }
        json_decref(s);
        return ad_field_fail(e, he.field, "%s", he.reason);
    }
    *record = json_pack("{s:O, s:O, s:O, s:o}", "id", json_object_get(c, "id"), "name",
                        json_object_get(c, "name"), "schemaId", json_object_get(c, "schemaId"),
                        "values", v);
    *schema = s;
    json_decref(c);
    return 0;
}

int ad_run_start_config(ad_store_t *st, const json_t *body, const char *agent_id, const char *org,
                        ad_run_config_t *cfg, ad_field_err_t *e)
{
    const char *cid = NULL;
    bool flags = false, has_flags = false, queue = false;
    if (ad_field_str(body, "configId", false, AD_ID_MAX - 1, &cid, e) != 0 ||
        ad_field_bool(body, "configFlags", &flags, &has_flags, e) != 0 ||
        ad_field_bool(body, "queue", &queue, NULL, e) != 0) { /* issue #77 */
        return AD_EINVAL;
    }
    ad_row_agent_t agent = {0};
    if (cid == NULL && ad_store_agent_row(st, agent_id, &agent) == 0) {
        json_t *state = agent.state;
        cid = json_string_value(json_object_get(state, "configId"));
        if (!has_flags) {
            flags = json_is_true(json_object_get(state, "configFlags"));
        }
    }
    int rc = 0;
    if (cid == NULL) {
        rc = flags ? ad_field_fail(e, "configFlags", "needs a configId") : 0;
    } else {
        cfg->flags = flags;
        rc = ad_run_config_load(st, cid, org, &cfg->record, &cfg->schema, e);
    }
    ad_row_agent_cleanup(&agent);
    return rc;
}

int ad_run_spec_common(const json_t *body, json_t *args, size_t *bad_perm, ad_field_err_t *e)
{
    const char *name = NULL, *mode = NULL;
    json_t *perms = NULL;
    *bad_perm = SIZE_MAX;
    if (ad_field_str(body, "name", false, 200, &name, e) != 0 ||
        ad_field_enum(body, "mode", false, AD_ROW_AGENT_MODE_CHOICES, &mode, e) != 0 ||
        ad_field_str_array(body, "permissions", false, 64, 128, &perms, e) != 0) {
        return AD_EINVAL;
    }
    if (name != NULL) {
        if (name[0] == '\0') {
            return ad_field_fail(e, "name", "must not be empty");
        }
        json_object_set_new(args, "name", json_string(name));
    }
    if (mode != NULL) {
        json_object_set_new(args, "mode", json_string(mode));
    }
    size_t i;
    json_t *v;
    json_array_foreach(perms, i, v)
    {
        char why[200];
        if (ad_permission_check(json_string_value(v), why, sizeof(why)) != 0) {
            *bad_perm = i;
            return ad_field_fail(e, "permissions", "%s", why);
        }
    }
    if (perms != NULL) {
        json_object_set(args, "permissions", perms);
    }
    json_t *crew = json_object_get(body, "crewId");
    if (crew != NULL) {
        if (!json_is_null(crew) && (!json_is_string(crew) || json_string_length(crew) == 0 ||
                                    json_string_length(crew) > 128)) {
            return ad_field_fail(e, "crewId", "must be a string or null");
        }
        json_object_set(args, "crewId", crew);
    }
    return 0;
}

bool ad_run_spec_unasked(const json_t *body)
{
    const char *mode = json_string_value(json_object_get(body, "mode"));
    bool more = mode != NULL && strcmp(mode, "auto") == 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(body, "permissions"), i, v)
    {
        more |= !json_is_string(v) || strcmp(json_string_value(v), "read") != 0;
    }
    return more;
}

void ad_run_agent_finish(json_t *args, const char *wt, const char *executor, const char *def_name,
                         int64_t now)
{
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
    json_object_set_new(args, "now", json_integer(now));
}

/* The string at key of o, or NULL. Borrowed. */
static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void ad_run_agent_publish(ad_bus_t *bus, json_t *payload, const json_t *agent, const char *ws)
{
    ad_bus_publish_to(bus, "agent_update", payload, "agent", jstr(agent, "id"), "worktree",
                      jstr(agent, "worktreeId"), "workspace", ws, "org", jstr(agent, "orgId"),
                      NULL);
}

void ad_run_agents_order_publish(ad_bus_t *bus, const json_t *result)
{
    const char *ws = jstr(result, "workspaceId");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(result, "agents"), i, a)
    {
        json_t *p = json_pack("{s:O, s:O}", "id", json_object_get(a, "id"), "displayOrder",
                              json_object_get(a, "displayOrder"));
        ad_run_agent_publish(bus, p, a, ws);
        json_decref(p);
    }
}

typedef struct {
    ad_bus_t *bus;
    char id[AD_ID_MAX];
    char org[AD_ID_MAX];
    ad_store_result_cb cb;
    void *ud;
} patch_save_t;

static void patch_saved(int rc, json_t *run, void *ud)
{
    patch_save_t *p = ud;
    if (rc == 0) {
        ad_bus_publish_to(p->bus, "run_update", run, "run", p->id, "org", p->org, NULL);
    }
    p->cb(rc, run, p->ud);
    free(p);
}

void ad_run_patch_save(ad_store_t *st, ad_bus_t *bus, const char *id, const char *org, json_t *set,
                       ad_store_result_cb cb, void *ud)
{
    patch_save_t *p = ad_xcalloc(1, sizeof(*p));
    p->bus = bus;
    snprintf(p->id, sizeof(p->id), "%s", id);
    snprintf(p->org, sizeof(p->org), "%s", org);
    p->cb = cb;
    p->ud = ud;
    /* the args go to the store (ad_store_write takes them) */
    ad_store_run_patch(st, json_pack("{s:s, s:o}", "id", id, "set", set), patch_saved, p);
}
