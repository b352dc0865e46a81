/* SPDX-License-Identifier: MIT */
/*
 * Seed 000, the training dashboard (MetaBonk): its system_health payload
 * (moved from src/health/json.c), its figures on the root socket "/" and
 * its commands there (moved from src/live/seed.c and cmds.c, issue #79).
 * The commands are parsed here into agentd's requests; src/live/cmds.c
 * runs them through the runner and the jobs with their REST routes' scope
 * and org rule, and answers with the payloads made here.
 */
#include "compat/compat.h"

#include <string.h>

#define GB (1024.0 * 1024.0 * 1024.0)

static json_t *opt_real(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

/* ---- system_health ------------------------------------------------------------------ */

/* The gpu block: the first device, or {available:false, reason}. */
static json_t *event_gpu(const ad_health_sample_t *s)
{
    if (!s->gpu_available || s->ngpu == 0) {
        return json_pack("{s:b, s:s}", "available", 0, "reason", s->gpu_reason);
    }
    const ad_health_gpu_t *g = &s->gpus[0];
    return json_pack("{s:b, s:s, s:o, s:o, s:o, s:o, s:o}", "available", 1, "name", g->name,
                     "utilization", opt_real(g->has_util, g->util_pct), "temperature",
                     opt_real(g->has_temp, g->temp_c), "vramUsed",
                     opt_real(g->has_mem, (double)g->mem_used / GB), "vramTotal",
                     opt_real(g->has_mem, (double)g->mem_total / GB), "powerDraw",
                     opt_real(g->has_power, g->power_w));
}

/* The syntheticEye block: the first service that reports fps. */
static json_t *event_eye(const ad_health_sample_t *s)
{
    for (size_t i = 0; i < s->nservices; i++) {
        const ad_health_service_t *v = &s->services[i];
        if (!v->has_fps) {
            continue;
        }
        return json_pack("{s:f, s:o, s:o, s:s}", "fps", v->fps, "latency",
                         opt_real(v->has_latency, v->latency_ms), "pcieBandwidth",
                         opt_real(v->has_pcie, v->pcie_gbps), "status",
                         !v->health_known ? "unknown"
                         : v->healthy     ? "healthy"
                                          : "unhealthy");
    }
    return json_null();
}

json_t *ad_compat_health_event(const ad_health_sample_t *s)
{
    json_t *cpu = json_pack("{s:o, s:o, s:o, s:o}", "utilization", opt_real(s->has_cpu, s->cpu_pct),
                            "temperature", opt_real(s->has_cpu_temp, s->cpu_temp_c), "ramUsed",
                            opt_real(s->has_mem, (double)(s->mem_total - s->mem_available) / GB),
                            "ramTotal", opt_real(s->has_mem, (double)s->mem_total / GB));
    json_t *codes = json_array();
    for (size_t i = 0; i < s->nreasons; i++) {
        json_array_append_new(codes, json_string(s->reasons[i].message));
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:i, s:o}", "ts", (json_int_t)s->ts_ms, "gpu",
                     event_gpu(s), "cpu", cpu, "syntheticEye", event_eye(s), "overallScore",
                     s->score, "reasons", codes);
}

/* ---- System Health on "/" -------------------------------------------------------------
 * The seed's panel calls toFixed() on every figure of gpu, cpu and
 * syntheticEye. agentd's own payload has null for what it cannot measure
 * (no NVIDIA GPU, no sensor, no service reporting fps); on the seed's
 * socket each such figure is 0 with <key>Available: false beside it, and
 * each block says available. /ws and /api/health keep the nulls. */
static void seed_figures(json_t *p, const char *block, const char *const *keys, size_t n)
{
    json_t *b = json_object_get(p, block);
    if (!json_is_object(b)) {
        b = json_pack("{s:b}", "available", 0);
        json_object_set_new(p, block, b);
    } else if (!json_is_boolean(json_object_get(b, "available"))) {
        json_object_set_new(b, "available", json_true());
    }
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "%sAvailable", keys[i]);
        bool has = json_is_number(json_object_get(b, keys[i]));
        if (!has) {
            json_object_set_new(b, keys[i], json_real(0));
        }
        json_object_set_new(b, flag, json_boolean(has));
    }
}

void ad_compat_training_health(json_t *payload)
{
    static const char *const gpu[] = {"utilization", "temperature", "vramUsed", "vramTotal",
                                      "powerDraw"};
    static const char *const cpu[] = {"utilization", "temperature", "ramUsed", "ramTotal"};
    static const char *const eye[] = {"fps", "latency", "pcieBandwidth"};
    seed_figures(payload, "gpu", gpu, AD_ARRAY_LEN(gpu));
    seed_figures(payload, "cpu", cpu, AD_ARRAY_LEN(cpu));
    seed_figures(payload, "syntheticEye", eye, AD_ARRAY_LEN(eye));
    json_t *e = json_object_get(payload, "syntheticEye");
    if (!json_is_string(json_object_get(e, "status"))) {
        json_object_set_new(e, "status", json_string("unknown"));
    }
    if (!json_is_number(json_object_get(payload, "overallScore"))) {
        json_object_set_new(payload, "overallScore", json_integer(0));
    }
}

/* ---- the commands on "/" ----------------------------------------------------------------
 * The seed's WebSocketManager.send(type, payload) sends {type, payload}:
 *   start_training  {agentId|id, initialPrompt?, force?}  start the agent
 *   pause_training  {agentId|id}                  pause it
 *   resume_training {agentId|id}                  resume it
 *   stop_training   {agentId|id, force?}          stop it
 *   start_discovery {command, name?, environment?, cwd?}, or {environment}
 *                   alone (the discovery_command setting's program): a job
 *   start_autonomous_discovery {environment}      the seed's own name: the same,
 *                   the setting's program only
 *   get_discovery_status {}                       the newest discovery job */
static const struct {
    const char *type;
    ad_compat_cmd_kind_t kind;
} cmds[] = {{"start_training", AD_COMPAT_CMD_START},
            {"pause_training", AD_COMPAT_CMD_PAUSE},
            {"resume_training", AD_COMPAT_CMD_RESUME},
            {"stop_training", AD_COMPAT_CMD_STOP},
            {"start_discovery", AD_COMPAT_CMD_DISCOVERY},
            {"start_autonomous_discovery", AD_COMPAT_CMD_DISCOVERY},
            {"get_discovery_status", AD_COMPAT_CMD_DISCOVERY_STATUS}};

bool ad_compat_training_command(const char *type, ad_compat_cmd_kind_t *kind)
{
    for (size_t i = 0; i < AD_ARRAY_LEN(cmds); i++) {
        if (strcmp(cmds[i].type, type) == 0) {
            *kind = cmds[i].kind;
            return true;
        }
    }
    return false;
}

int ad_compat_training_parse(const char *type, json_t *payload, ad_compat_cmd_t *cmd,
                             const char **why)
{
    memset(cmd, 0, sizeof(*cmd));
    if (!ad_compat_training_command(type, &cmd->kind)) {
        *why = "unknown command";
        return AD_EINVAL;
    }
    if (payload == NULL) {
        *why = "payload must be an object";
        return AD_EINVAL;
    }
    cmd->force = json_is_true(json_object_get(payload, "force"));
    if (cmd->kind == AD_COMPAT_CMD_DISCOVERY) {
        cmd->command = json_object_get(payload, "command");
        cmd->environment = json_string_value(json_object_get(payload, "environment"));
        if (strcmp(type, "start_autonomous_discovery") == 0 &&
            (cmd->command != NULL || cmd->environment == NULL)) {
            *why = "start_autonomous_discovery takes {environment} only: the program is the "
                   "discovery_command setting's";
            return AD_EINVAL;
        }
        if (cmd->command != NULL) {
            cmd->environment = NULL; /* the payload's program, environment only its name */
        }
        return 0;
    }
    const char *id = json_string_value(json_object_get(payload, "agentId"));
    if (id == NULL) {
        id = json_string_value(json_object_get(payload, "id"));
    }
    if (id == NULL || id[0] == '\0' || strlen(id) >= AD_ID_MAX) {
        *why = "payload.agentId is required";
        return AD_EINVAL;
    }
    cmd->agent_id = id;
    if (cmd->kind == AD_COMPAT_CMD_START) {
        json_t *p = json_object_get(payload, "initialPrompt");
        if (p != NULL && !json_is_string(p)) {
            cmd->prompt_why = "payload.initialPrompt must be a string";
        }
        cmd->prompt = json_string_value(p);
        cmd->has_config = json_object_get(payload, "configId") != NULL;
    }
    return 0;
}

int ad_compat_training_discovery(ad_compat_cmd_t *cmd, json_t *payload, json_t *command,
                                 const char **argv, size_t max, const char **why)
{
    size_t n = json_array_size(command);
    if (n == 0 || n + 1 > max) {
        *why = "payload.command must be a program and its arguments (1 to 256 strings)";
        return AD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        argv[i] = json_string_value(json_array_get(command, i));
        if (argv[i] == NULL || strlen(argv[i]) > 8192) {
            *why = "payload.command holds strings only";
            return AD_EINVAL;
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
        *why = "payload.name (or environment) is required; cwd must be an absolute path";
        return AD_EINVAL;
    }
    cmd->name = name;
    cmd->cwd = cwd;
    return 0;
}

/* The seed's status of an agent: idle, training, paused or stopped. */
static const char *training_status(const char *st)
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

json_t *ad_compat_training_agent_update(json_t *agent)
{
    const char *st = json_string_value(json_object_get(agent, "status"));
    return json_pack("{s:O, s:s, s:s?}", "id", json_object_get(agent, "id"), "status",
                     training_status(st), "agentStatus", st);
}

json_t *ad_compat_training_error(const char *type, int status, const char *code, const char *msg)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "code", code, "message", msg, "command", type,
                     "status", status);
}

json_t *ad_compat_training_idle(void)
{
    return json_pack("{s:s}", "status", "idle");
}
