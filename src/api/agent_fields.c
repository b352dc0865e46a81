/* SPDX-License-Identifier: MIT */
/*
 * The fields of an agent's create and update, checked and put into the
 * store's arguments: name, mode, permissions, crew, and how it runs
 * (command, terminal, env, stopWith, model, limits, sandbox, baseUrl,
 * codexConfig, systemPrompt), with the scope each needs. What a value may
 * be is src/run's (agentspec.c, spec.c) and src/agent's (perms.c), and so
 * are a sandbox policy's owner rules (ad_run_sandbox_allowed); the scope
 * each field needs, and the 403/422 answers, are here.
 */
#include "run/run.h"
#include "api/api_int.h"

#include <string.h>

/* A crew an agent joins must exist in the agent's org. */
static int crew_ok(ad_app_t *app, ad_req_t *r, const char *crew, const char *org)
{
    char crew_org[AD_ID_MAX];
    int rc = ad_auth_row_org(app->store, ad_api_who(r), AD_STORE_ROW_CREW, crew, crew_org);
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
 * update; src/run's ad_run_spec_common) into args; org is the agent's. -1
 * when it has answered 422. */
int ad_api_agent_common_fields(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args,
                               const char *org)
{
    ad_field_err_t e;
    size_t bad = SIZE_MAX;
    if (ad_run_spec_common(body, args, &bad, &e) != 0) {
        if (bad == SIZE_MAX) {
            return ad_api_invalid_err(r, &e);
        }
        const char *entry =
            json_string_value(json_array_get(json_object_get(body, "permissions"), bad));
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s, s:s, s:I}", "field", "permissions", "entry", entry,
                               "reason", e.why, "index", (json_int_t)bad),
                     "permissions: %s: %s", entry, e.why);
        return -1;
    }
    const char *crew = ad_api_jstr(body, "crewId");
    return crew != NULL ? crew_ok(app, r, crew, org) : 0;
}

void ad_api_sandbox_note(ad_req_t *r, const char *what, json_t *old, json_t *now)
{
    char note[AD_REQ_NOTE_MAX + 1];
    ad_run_sandbox_note(what, old, now, note, sizeof(note));
    ad_req_set_note(r, note);
}

int ad_api_sandbox_ok(ad_app_t *app, ad_req_t *r, json_t *sb, bool workspace)
{
    if (!ad_api_require(r, AD_SCOPE_ADMIN,
                        workspace ? "setting a workspace's sandbox"
                                  : "setting an agent's sandbox")) {
        return -1;
    }
    const ad_principal_t *who = ad_api_who(r);
    char why[300];
    int rc =
        ad_run_sandbox_allowed(app->cfg, sb, workspace, who->owner, who->org_id, why, sizeof(why));
    if (rc == AD_EINVAL) {
        return ad_api_invalid(r, "sandbox", why);
    }
    if (rc != 0) {
        ad_res_error(r, 403, "FORBIDDEN", NULL, "%s", why);
        return -1;
    }
    if (json_is_string(sb)) {
        ad_log(AD_LOG_WARN, "api", "agent made to run without a sandbox by=%s", who->name);
    }
    return 0;
}

/* How the runner starts the agent (src/run's ad_run_spec_state), into
 * args "state": the admin's fields refused to others first (403), and a
 * sandbox's owner rules, then the values (422). */
int ad_api_agent_run_fields(ad_app_t *app, ad_req_t *r, json_t *body, const char *executor,
                            json_t *args)
{
    const char *need = ad_run_spec_admin_need(body, executor);
    if (need != NULL && !ad_api_require(r, AD_SCOPE_ADMIN, need)) {
        return -1;
    }
    json_t *sandbox = json_object_get(body, "sandbox");
    json_t *st_sandbox = json_object_get(json_object_get(body, "state"), "sandbox");
    if ((sandbox != NULL && ad_api_sandbox_ok(app, r, sandbox, false) != 0) ||
        (st_sandbox != NULL && ad_api_sandbox_ok(app, r, st_sandbox, false) != 0)) {
        return -1;
    }
    ad_field_err_t e;
    json_t *state = NULL;
    if (ad_run_spec_state(app->cfg, body, executor, &state, &e) != 0) {
        return ad_api_invalid_err(r, &e);
    }
    if (sandbox != NULL || st_sandbox != NULL) {
        ad_api_sandbox_note(r, "agent sandbox", NULL, sandbox != NULL ? sandbox : st_sandbox);
    }
    if (state != NULL) {
        json_object_set_new(args, "state", state);
    }
    return 0;
}

/* What an agent may run is admin business (write starts no program):
 * its permissions and mode decide which tools run unasked at the next
 * start, its env and command what runs at all. A write token may rename,
 * reorder or move an agent, nothing more. false after answering 403. */
bool ad_api_agent_patch_scope_ok(ad_req_t *r, json_t *body)
{
    static const char *const guarded[] = {"permissions", "mode",    "env",  "command",  "state",
                                          "executor",    "sandbox", "node", "placement"};
    for (size_t i = 0; i < AD_ARRAY_LEN(guarded); i++) {
        if (json_object_get(body, guarded[i]) != NULL) {
            char what[80];
            snprintf(what, sizeof(what), "changing an agent's %s", guarded[i]);
            return ad_api_require(r, AD_SCOPE_ADMIN, what);
        }
    }
    return true;
}

/* env and command of a PATCH, checked like at create (src/run), into args
 * "env" and "command" (the store sets them in the agent's state); its
 * sandbox as at create, or null for the workspace's (and agentd's). -1
 * after answering. */
int ad_api_agent_patch_state(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args)
{
    ad_field_err_t e;
    if (ad_run_spec_patch(body, args, &e) != 0) {
        return ad_api_invalid_err(r, &e);
    }
    json_t *sb = json_object_get(body, "sandbox");
    if (sb != NULL && !json_is_null(sb) && ad_api_sandbox_ok(app, r, sb, false) != 0) {
        return -1;
    }
    if (sb != NULL) {
        ad_row_agent_t cur;
        if (ad_store_agent_row(app->store, ad_req_param(r, "id"), &cur) == 0) {
            ad_api_sandbox_note(r, "agent sandbox", json_object_get(cur.state, "sandbox"), sb);
        }
        ad_row_agent_cleanup(&cur);
        json_object_set(args, "sandbox", sb);
    }
    return 0;
}
