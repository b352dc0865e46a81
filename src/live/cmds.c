/* SPDX-License-Identifier: MIT */
/*
 * The seed's commands on its root socket "/" (ad_live_seed_command, asked
 * by proto.c before the /ws protocol): each maps to the action of the REST route of
 * the same name, through the same subsystem (src/run's runner, src/svc's
 * jobs), with that route's scope and org rule, and its outcome is answered
 * on the socket. The routes that open the socket are src/api/live.c's.
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

/* ---- the seed's commands on "/" -------------------------------------------------------
 * The seed's WebSocketManager.send(type, payload) sends {type, payload}.
 * On "/" these map to the REST actions, with the same scope and the same
 * org rule as their routes (a read token starts nothing; another org's
 * agent is as good as none):
 *   start_training  {agentId|id, initialPrompt?}  POST /api/agents/:id/start  (admin)
 *   pause_training  {agentId|id}                  POST /api/agents/:id/pause  (write)
 *   resume_training {agentId|id}                  POST /api/agents/:id/resume (write)
 *   stop_training   {agentId|id, force?}          POST /api/agents/:id/stop   (write)
 *   start_discovery {command, name?, environment?, cwd?}, or {environment}
 *                   alone (the discovery_command setting's program)
 *                                                 POST /api/jobs kind discovery (admin)
 *   start_autonomous_discovery {environment}      the seed's own name: the same,
 *                   the setting's program only    (admin)
 *   get_discovery_status {}                       GET /api/jobs: the newest
 *                   discovery job as discovery_progress, or {status: idle} (read)
 * A success answers agent_update {id, status (the seed's idle, training,
 * paused or stopped), agentStatus (agentd's)} or discovery_progress {job};
 * a refusal answers error {code, message, command, status (the REST
 * status)}. The upgrade itself is refused cross-origin like /ws. */
static void root_error(ad_live_chan_t *lv, const char *cmd, int status, const char *code,
                       const char *msg)
{
    ad_live_notice(lv, "error",
                   json_pack("{s:s, s:s, s:s, s:i}", "code", code, "message", msg, "command", cmd,
                             "status", status));
}

/* An AD_E* code answered as its REST status would be; msg NULL: the code's. */
static void root_fail(ad_live_chan_t *lv, const char *type, int rc, const char *msg)
{
    const char *code = NULL;
    int status = ad_http_status_of(rc, &code);
    root_error(lv, type, status, code, msg != NULL ? msg : ad_strerror(rc));
}

static const char *seed_status(const char *st)
{
    if (st == NULL) {
        return "idle";
    }
    if (strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0) {
        return "training";
    }
    if (strcmp(st, "paused") == 0 || strcmp(st, "idle") == 0) {
        return st;
    }
    return "stopped"; /* stopped, finished, error */
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
            const char *st = json_string_value(json_object_get(agent, "status"));
            ad_live_notice(lv, "agent_update",
                           json_pack("{s:O, s:s, s:s?}", "id", json_object_get(agent, "id"),
                                     "status", seed_status(st), "agentStatus", st));
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

/* The agent a command names, visible to the caller: its id, or NULL after
 * answering. */
static const char *cmd_agent(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                             json_t *payload, char org[AD_ID_MAX])
{
    const char *id = json_string_value(json_object_get(payload, "agentId"));
    if (id == NULL) {
        id = json_string_value(json_object_get(payload, "id"));
    }
    if (id == NULL || id[0] == '\0' || strlen(id) >= AD_ID_MAX) {
        root_error(lv, type, 422, "VALIDATION_ERROR", "payload.agentId is required");
        return NULL;
    }
    int rc = ad_store_row_org(parts->store, AD_STORE_ROW_AGENT, id, org);
    if (rc == 0 && !ad_principal_sees(ad_live_who(lv), org)) {
        rc = AD_ENOENT; /* another org's agent is as good as none */
    }
    if (rc != 0) {
        root_fail(lv, type, rc, rc == AD_ENOENT ? "agent not found" : NULL);
        return NULL;
    }
    return id;
}

static void cmd_agent_action(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                             json_t *payload)
{
    bool start = strcmp(type, "start_training") == 0;
    char org[AD_ID_MAX];
    const char *id = cmd_agent(parts, lv, type, payload, org);
    if (id == NULL) {
        return;
    }
    const char *prompt = NULL;
    if (start) {
        json_t *p = json_object_get(payload, "initialPrompt");
        if (p != NULL && !json_is_string(p)) {
            root_error(lv, type, 422, "VALIDATION_ERROR", "payload.initialPrompt must be a string");
            return;
        }
        prompt = json_string_value(p);
        /* A hyper-parameter config is checked against its schema by the
         * REST route; this socket does not take one. */
        json_t *agent = NULL;
        bool configured = json_object_get(payload, "configId") != NULL;
        if (!configured && ad_store_agent_get(parts->store, id, &agent) == 0) {
            configured =
                json_is_string(json_object_get(json_object_get(agent, "state"), "configId"));
        }
        json_decref(agent);
        if (configured) {
            root_error(lv, type, 422, "VALIDATION_ERROR",
                       "a run with a hyper-parameter config starts with POST "
                       "/api/agents/:id/start");
            return;
        }
        const char *period = json_is_true(json_object_get(payload, "force"))
                                 ? NULL
                                 : ad_store_usage_reached(parts->store, (int64_t)ad_wall_ms());
        if (period != NULL) {
            char why[128];
            snprintf(why, sizeof(why),
                     "the %s usage limit is reached; send force: true to go past it", period);
            root_error(lv, type, 429, "USAGE_LIMIT", why);
            return;
        }
    }
    ad_live_pending_t *c = cmd_new(lv, type);
    if (c == NULL) {
        return;
    }
    char err[512] = "";
    int rc;
    if (start) {
        rc = ad_runner_start_cfg(parts->runner, id, prompt, NULL, cmd_agent_done, c, err,
                                 sizeof(err));
    } else if (strcmp(type, "stop_training") == 0) {
        rc = ad_runner_stop(parts->runner, id, json_is_true(json_object_get(payload, "force")),
                            cmd_agent_done, c);
        if (rc != 0) {
            rc = AD_ESTATE;
            snprintf(err, sizeof(err), "agent %s is not running", id);
        }
    } else {
        bool pause = strcmp(type, "pause_training") == 0;
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

#define JOB_ARGV_MAX 256

/* Starts a discovery job running command (a program and its arguments). */
static void discovery_start(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                            json_t *payload, json_t *command)
{
    size_t n = json_array_size(command);
    if (n == 0 || n > JOB_ARGV_MAX) {
        root_error(lv, type, 422, "VALIDATION_ERROR",
                   "payload.command must be a program and its arguments (1 to 256 strings)");
        return;
    }
    const char *argv[JOB_ARGV_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        argv[i] = json_string_value(json_array_get(command, i));
        if (argv[i] == NULL || strlen(argv[i]) > 8192) {
            root_error(lv, type, 422, "VALIDATION_ERROR", "payload.command holds strings only");
            return;
        }
    }
    argv[n] = NULL;
    const char *name = json_string_value(json_object_get(payload, "name"));
    if (name == NULL) {
        name = json_string_value(json_object_get(payload, "environment"));
    }
    const char *cwd = json_string_value(json_object_get(payload, "cwd"));
    if (name == NULL || name[0] == '\0' || strlen(name) > 127 ||
        (cwd != NULL && (cwd[0] != '/' || strlen(cwd) > 1023))) {
        root_error(lv, type, 422, "VALIDATION_ERROR",
                   "payload.name (or environment) is required; cwd must be an absolute path");
        return;
    }
    char org[AD_ID_MAX];
    snprintf(org, sizeof(org), "%s", ad_principal_org_for(ad_live_who(lv), NULL));
    ad_live_pending_t *c = cmd_new(lv, type);
    if (c == NULL) {
        return;
    }
    ad_job_spec_t spec = {.name = name, .kind = "discovery", .org = org, .cwd = cwd, .argv = argv};
    char err[256] = "";
    int rc = ad_jobs_start(parts->jobs, &spec, cmd_job_done, c, err, sizeof(err));
    if (rc != 0) {
        ad_live_pending_end(c, NULL);
        bool bad = rc == AD_ENOENT || rc == AD_EPERM || rc == AD_EINVAL;
        const char *code = "VALIDATION_ERROR";
        int status = bad ? 422 : ad_http_status_of(rc, &code);
        root_error(lv, type, status, code, err[0] != '\0' ? err : ad_strerror(rc));
    }
}

static void cmd_discovery(const ad_live_parts_t *parts, ad_live_chan_t *lv, const char *type,
                          json_t *payload)
{
    json_t *command = json_object_get(payload, "command");
    const char *env = json_string_value(json_object_get(payload, "environment"));
    if (command != NULL || env == NULL) {
        discovery_start(parts, lv, type, payload, command);
        return;
    }
    /* the seed's start_autonomous_discovery(environment): the program is
     * the discovery_command setting's */
    const char *why = NULL;
    json_t *made = ad_jobs_discovery_command(parts->store, env, &why);
    if (made == NULL) {
        root_error(lv, type, 422, "VALIDATION_ERROR", why);
        return;
    }
    discovery_start(parts, lv, type, payload, made);
    json_decref(made);
}

/* The seed's get_discovery_status(): discovery_progress with the caller's
 * org's newest discovery job (of its last 200 jobs), or {status: idle}. */
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
                   found != NULL ? json_incref(found) : json_pack("{s:s}", "status", "idle"));
    json_decref(list);
}

bool ad_live_seed_command(ad_live_chan_t *lv, const char *type, json_t *payload,
                          const ad_live_parts_t *parts)
{
    /* kind 0: an agent's action; 1: a discovery; 2: the seed's own
     * start_autonomous_discovery(environment), {environment} alone; 3: its
     * get_discovery_status() */
    static const struct {
        const char *type;
        ad_scope_t scope;
        int kind;
    } cmds[] = {{"start_training", AD_SCOPE_ADMIN, 0},
                {"pause_training", AD_SCOPE_WRITE, 0},
                {"resume_training", AD_SCOPE_WRITE, 0},
                {"stop_training", AD_SCOPE_WRITE, 0},
                {"start_discovery", AD_SCOPE_ADMIN, 1},
                {"start_autonomous_discovery", AD_SCOPE_ADMIN, 2},
                {"get_discovery_status", AD_SCOPE_READ, 3}};
    size_t i = 0;
    while (i < AD_ARRAY_LEN(cmds) && strcmp(cmds[i].type, type) != 0) {
        i++;
    }
    if (i == AD_ARRAY_LEN(cmds)) {
        return false;
    }
    if (!ad_live_authorized(lv)) {
        return true; /* closed with 4401 */
    }
    if (!ad_principal_can(ad_live_who(lv), cmds[i].scope)) {
        char why[96];
        snprintf(why, sizeof(why), "%s needs a token of scope %s", type,
                 ad_scope_name(cmds[i].scope));
        root_error(lv, type, 403, "FORBIDDEN", why);
        return true;
    }
    int kind = cmds[i].kind;
    if ((kind > 0 ? parts->jobs == NULL : parts->runner == NULL) || parts->store == NULL) {
        root_error(lv, type, 503, "UNAVAILABLE", "not available on this daemon");
    } else if (kind == 3) {
        cmd_discovery_status(parts, lv, type);
    } else if (payload == NULL) {
        root_error(lv, type, 422, "VALIDATION_ERROR", "payload must be an object");
    } else if (kind == 2 && (json_object_get(payload, "command") != NULL ||
                             !json_is_string(json_object_get(payload, "environment")))) {
        root_error(lv, type, 422, "VALIDATION_ERROR",
                   "start_autonomous_discovery takes {environment} only: the program is the "
                   "discovery_command setting's");
    } else if (kind > 0) {
        cmd_discovery(parts, lv, type, payload);
    } else {
        cmd_agent_action(parts, lv, type, payload);
    }
    return true;
}
