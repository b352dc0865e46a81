/* SPDX-License-Identifier: MIT */
/*
 * The training seed's commands on its root socket "/" (ad_live_seed_command,
 * asked by proto.c before the /ws protocol): src/compat parses each into
 * agentd's request (docs/internals/compat.md has the table); here it is run
 * as the REST route of the same action runs it, through the same subsystem
 * (src/run's runner, src/svc's jobs), with that route's scope and org rule
 * (a read token starts nothing; another org's agent is as good as none),
 * and its outcome answered on the socket in the seed's shape (src/compat):
 *   start                  POST /api/agents/:id/start  (admin)
 *   pause, resume, stop    POST /api/agents/:id/...    (write)
 *   discovery              POST /api/jobs kind discovery (admin)
 *   discovery status       GET /api/jobs, the newest discovery job (read)
 * A success answers agent_update or discovery_progress; a refusal answers
 * error {code, message, command, status (the REST status)}. The upgrade
 * itself is refused cross-origin like /ws; the routes that open the socket
 * are src/api/live.c's.
 */
#include "live/live_int.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/auth.h"
#include "tables/usage.h"
#include "svc/svc.h"

#include <stdlib.h>
#include <string.h>

static void root_error(ad_live_chan_t *lv, const char *cmd, int status, const char *code,
                       const char *msg)
{
    ad_live_notice(lv, "error", ad_compat_training_error(cmd, status, code, msg));
}

/* An AD_E* code answered as its REST status would be; msg NULL: the code's. */
static void root_fail(ad_live_chan_t *lv, const char *type, int rc, const char *msg)
{
    const char *code = NULL;
    int status = ad_http_status_of(rc, &code);
    root_error(lv, type, status, code, msg != NULL ? msg : ad_strerror(rc));
}

/* A pending command of lv, or NULL after answering 429. */
static ad_live_pending_t *cmd_new(ad_live_chan_t *lv, const char *type)
{
    ad_live_pending_t *c = ad_live_pending_new(lv, type);
    if (c == NULL) {
        root_error(lv, type, 429, "TOO_MANY_REQUESTS", "too many commands pending on this socket");
    }
    return c;
}

static void cmd_agent_done(int rc, json_t *result, const char *msg, void *ud)
{
    char type[AD_LIVE_TYPE_MAX];
    ad_live_chan_t *lv = ad_live_pending_end(ud, type);
    if (lv != NULL) {
        if (rc != 0) {
            root_fail(lv, type, rc, msg);
        } else {
            json_t *agent = json_object_get(result, "agent");
            agent = agent != NULL ? agent : result;
            ad_live_notice(lv, "agent_update", ad_compat_training_agent_update(agent));
        }
    }
}

static void cmd_job_done(int rc, json_t *job, void *ud)
{
    char type[AD_LIVE_TYPE_MAX];
    ad_live_chan_t *lv = ad_live_pending_end(ud, type);
    if (lv != NULL) {
        if (rc != 0) {
            root_fail(lv, type, rc, NULL);
        } else {
            ad_live_notice(lv, "discovery_progress", json_incref(job));
        }
    }
}

/* Whether the caller sees cmd's agent; else false after answering. */
static bool cmd_agent(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                      const ad_compat_cmd_t *cmd)
{
    char org[AD_ID_MAX];
    int rc = ad_store_row_org(parts->store, AD_STORE_ROW_AGENT, cmd->agent_id, org);
    if (rc == 0 && !ad_principal_sees(ad_live_who(lv), org)) {
        rc = AD_ENOENT; /* another org's agent is as good as none */
    }
    if (rc != 0) {
        root_fail(lv, type, rc, rc == AD_ENOENT ? "agent not found" : NULL);
        return false;
    }
    return true;
}

/* Whether a start may go on: no hyper-parameter config, the usage limit
 * not reached (or forced); else false after answering. */
static bool start_allowed(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                          const ad_compat_cmd_t *cmd)
{
    if (cmd->prompt_why != NULL) {
        root_error(lv, type, 422, "VALIDATION_ERROR", cmd->prompt_why);
        return false;
    }
    /* A hyper-parameter config is checked against its schema by the
     * REST route; this socket does not take one. */
    ad_row_agent_t agent = {0};
    bool configured = cmd->has_config;
    if (!configured && ad_store_agent_row(parts->store, cmd->agent_id, &agent) == 0) {
        configured = json_is_string(json_object_get(agent.state, "configId"));
    }
    ad_row_agent_cleanup(&agent);
    if (configured) {
        root_error(lv, type, 422, "VALIDATION_ERROR",
                   "a run with a hyper-parameter config starts with POST "
                   "/api/agents/:id/start");
        return false;
    }
    const char *period =
        cmd->force ? NULL : ad_store_usage_reached(parts->store, (int64_t)ad_wall_ms());
    if (period != NULL) {
        char why[128];
        snprintf(why, sizeof(why), "the %s usage limit is reached; send force: true to go past it",
                 period);
        root_error(lv, type, 429, "USAGE_LIMIT", why);
        return false;
    }
    return true;
}

static void cmd_agent_action(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                             const ad_compat_cmd_t *cmd)
{
    bool start = cmd->kind == AD_COMPAT_CMD_START;
    const char *id = cmd->agent_id;
    if (!cmd_agent(parts, lv, type, cmd) || (start && !start_allowed(parts, lv, type, cmd))) {
        return;
    }
    ad_live_pending_t *c = cmd_new(lv, type);
    if (c == NULL) {
        return;
    }
    char err[512] = "";
    int rc;
    if (start) {
        rc = ad_runner_start_cfg(parts->runner, id, cmd->prompt, NULL, cmd_agent_done, c, err,
                                 sizeof(err));
    } else if (cmd->kind == AD_COMPAT_CMD_STOP) {
        rc = ad_runner_stop(parts->runner, id, cmd->force, cmd_agent_done, c);
        if (rc != 0) {
            rc = AD_ESTATE;
            snprintf(err, sizeof(err), "agent %s is not running", id);
        }
    } else {
        bool pause = cmd->kind == AD_COMPAT_CMD_PAUSE;
        rc = pause ? ad_runner_pause(parts->runner, id, cmd_agent_done, c)
                   : ad_runner_resume(parts->runner, id, cmd_agent_done, c);
        if (rc == AD_ENOENT) {
            rc = AD_ESTATE;
            snprintf(err, sizeof(err), "agent %s is not running", id);
        } else if (rc == AD_ESTATE) {
            snprintf(err, sizeof(err), "agent %s is %s", id,
                     pause ? "already paused" : "not paused");
        }
    }
    if (rc != 0) {
        ad_live_pending_end(c, NULL);
        root_fail(lv, type, rc, err[0] != '\0' ? err : NULL);
    }
}

#define JOB_ARGV_MAX 256 /* a discovery's program and its arguments */

/* Starts a discovery job running command (a program and its arguments:
 * the payload's, or the discovery_command setting's for its environment). */
static void cmd_discovery(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                          json_t *payload, ad_compat_cmd_t *cmd)
{
    json_t *made = NULL;
    if (cmd->command == NULL && cmd->environment != NULL) {
        const char *why = NULL;
        made = ad_jobs_discovery_command(parts->store, cmd->environment, &why);
        if (made == NULL) {
            root_error(lv, type, 422, "VALIDATION_ERROR", why);
            return;
        }
    }
    const char *argv[JOB_ARGV_MAX + 1];
    const char *why = NULL;
    if (ad_compat_training_discovery(cmd, payload, made != NULL ? made : cmd->command, argv,
                                     AD_ARRAY_LEN(argv), &why) != 0) {
        root_error(lv, type, 422, "VALIDATION_ERROR", why);
        json_decref(made);
        return;
    }
    char org[AD_ID_MAX];
    snprintf(org, sizeof(org), "%s", ad_principal_org_for(ad_live_who(lv), NULL));
    ad_live_pending_t *c = cmd_new(lv, type);
    if (c == NULL) {
        json_decref(made);
        return;
    }
    ad_job_spec_t spec = {
        .name = cmd->name, .kind = "discovery", .org = org, .cwd = cmd->cwd, .argv = argv};
    char err[256] = "";
    int rc = ad_jobs_start(parts->jobs, &spec, cmd_job_done, c, err, sizeof(err));
    json_decref(made);
    if (rc != 0) {
        ad_live_pending_end(c, NULL);
        bool bad = rc == AD_ENOENT || rc == AD_EPERM || rc == AD_EINVAL;
        const char *code = "VALIDATION_ERROR";
        int status = bad ? 422 : ad_http_status_of(rc, &code);
        root_error(lv, type, status, code, err[0] != '\0' ? err : ad_strerror(rc));
    }
}

/* get_discovery_status: discovery_progress with the caller's org's newest
 * discovery job (of its last 200 jobs), or the seed's idle. */
static void cmd_discovery_status(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type)
{
    json_t *list = NULL;
    ad_field_err_t e;
    int rc = ad_jobs_list(parts->jobs, parts->store, ad_principal_filter(ad_live_who(lv)), "200",
                          &list, &e);
    if (rc != 0) {
        root_fail(lv, type, rc, NULL);
        return;
    }
    size_t i;
    json_t *job, *found = NULL;
    json_array_foreach(json_object_get(list, "jobs"), i, job)
    {
        const char *kind = json_string_value(json_object_get(job, "kind"));
        if (found == NULL && kind != NULL && strcmp(kind, "discovery") == 0) {
            found = job;
        }
    }
    ad_live_notice(lv, "discovery_progress",
                   found != NULL ? json_incref(found) : ad_compat_training_idle());
    json_decref(list);
}

/* The scope of the REST route that does what kind does. */
static ad_scope_t cmd_scope(ad_compat_cmd_kind_t kind)
{
    switch (kind) {
    case AD_COMPAT_CMD_START:
    case AD_COMPAT_CMD_DISCOVERY:
        return AD_SCOPE_ADMIN;
    case AD_COMPAT_CMD_DISCOVERY_STATUS:
        return AD_SCOPE_READ;
    default:
        return AD_SCOPE_WRITE;
    }
}

bool ad_live_seed_command(ad_live_chan_t *lv, const char *type, json_t *payload,
                          const ad_live_parts_t *parts)
{
    ad_compat_cmd_kind_t kind;
    if (!ad_compat_training_command(type, &kind)) {
        return false;
    }
    if (!ad_live_authorized(lv)) {
        return true; /* closed with 4401 */
    }
    ad_scope_t scope = cmd_scope(kind);
    if (!ad_principal_can(ad_live_who(lv), scope)) {
        char why[96];
        snprintf(why, sizeof(why), "%s needs a token of scope %s", type, ad_scope_name(scope));
        root_error(lv, type, 403, "FORBIDDEN", why);
        return true;
    }
    bool jobs = kind == AD_COMPAT_CMD_DISCOVERY || kind == AD_COMPAT_CMD_DISCOVERY_STATUS;
    ad_compat_cmd_t cmd;
    const char *why = NULL;
    if ((jobs ? parts->jobs == NULL : parts->runner == NULL) || parts->store == NULL) {
        root_error(lv, type, 503, "UNAVAILABLE", "not available on this daemon");
    } else if (kind == AD_COMPAT_CMD_DISCOVERY_STATUS) {
        cmd_discovery_status(parts, lv, type);
    } else if (ad_compat_training_parse(type, payload, &cmd, &why) != 0) {
        root_error(lv, type, 422, "VALIDATION_ERROR", why);
    } else if (kind == AD_COMPAT_CMD_DISCOVERY) {
        cmd_discovery(parts, lv, type, payload, &cmd);
    } else {
        cmd_agent_action(parts, lv, type, &cmd);
    }
    return true;
}
