/* SPDX-License-Identifier: MIT */
/*
 * compat: the one compatibility edge for the seeds' dialects (issue #79).
 * agentd was started from four seed documents (docs/internals/compat.md);
 * their clients speak their own shapes, commands and words. Every
 * translation between those and agentd's own shapes is here, one file per
 * seed: agentd's data in, the seed's shape out (a frame, an answer, a
 * Redis message), or the seed's command in, agentd's request out.
 *
 *   crews.c      seed 003, the crew/run dashboard: snake_case payloads and
 *                envelopes (/ws/runs/:id, /ws/mission, /ws/graph), its REST
 *                figures in snake_case, its messages on Redis both ways
 *   manager.c    seed 001, Claude Manager: its agent status enum, its words
 *                for the answers under /seed/api/...
 *   workbench.c  seed 002, the workbench: its stream events on
 *                /ws?compat=seed (each answer's text so far)
 *   training.c   seed 000, the training dashboard: the system_health
 *                payload, its figures on "/", the commands on "/" parsed
 *                into agentd's requests and their answers
 *
 * Who may use it (make layers checks it, scripts/layers.sh): the edges,
 * which choose the dialect a client speaks: src/api (HTTP), src/live (the
 * WebSocket and SSE channels), src/cluster (Redis) and src/monitor (the
 * system_health event and /api/health). compat itself uses only core, bus
 * and health. Layers below the edges never include this header.
 *
 * Pure shaping: no request, no connection, no I/O. Any thread unless said.
 */
#ifndef AD_COMPAT_H
#define AD_COMPAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "bus/bus.h"
#include "core/core.h"
#include "health/health.h"

/* ---- seed 003, the crews dashboard (crews.c) ------------------------------------- */
/* An event payload in the seed's shape: every key in snake_case, plus
 * `duration` in seconds from durationMs and `tool` from name. A new object
 * (the caller's); the values are shared with payload. */
json_t *ad_compat_crews_payload(json_t *payload);
/* env {type, payload, ...} in the seed's snake_case, in place: the payload
 * translated, its keys also at the top (never over the envelope's own seq,
 * ts, topic, topics or a key already there). False when env has no payload
 * object to translate. */
bool ad_compat_crews_envelope(json_t *env);
/* A deep copy of v with every object key in snake_case (the seed's REST
 * figures, /dashboard/...). New reference. */
json_t *ad_compat_snake(json_t *v);
/* A message the seed's side published on Redis ({type, payload} or flat
 * {type, crew_id, tool_id, ...}) as agentd's payload: keys in camelCase,
 * the seed's duration in seconds as durationMs. New reference, or NULL
 * when it holds nothing. */
json_t *ad_compat_crews_from_redis(json_t *m);
/* What agentd publishes on Redis for the seed's side: {origin, type, org?,
 * payload {crew_id, ..., duration (s), tool}} with the payload's keys also
 * at the top. payload (agentd's, an object) is borrowed. Malloc'd text, or
 * NULL. */
char *ad_compat_crews_to_redis(const char *origin, const char *type, const char *org,
                               json_t *payload);

/* ---- seed 001, Claude Manager (manager.c) ---------------------------------------- */
/* The seed's status words, as its GET /agents?status= takes them. */
#define AD_COMPAT_MANAGER_STATUSES "running,waiting,error,finished"
/* An agent status in the seed's strict enum (running, waiting, error,
 * finished): paused is waiting; starting and stopping running; idle,
 * stopped and finished finished. Static. */
const char *ad_compat_manager_status(const char *st);
/* An answer (body, of route, a 2xx's object) of /api/... put in the seed's
 * words for /seed/api/..., in place: agents' statuses in its enum
 * (agentdStatus beside), a worktree's git status lists and counts,
 * workspaces' worktree_count and agent_count. */
void ad_compat_manager_answer(const char *route, json_t *body);
/* Whether an agent of agentd's status st is shown under the seed's status
 * filter seed_status (NULL: every agent is). */
bool ad_compat_manager_shown(const char *st, const char *seed_status);
/* Removes from agents those the seed's client would not show under
 * seed_status (one of its enum; NULL: none removed). */
void ad_compat_manager_filter_agents(json_t *agents, const char *seed_status);
/* The seed's subscriptions on /ws: subscribe:agent {agentId},
 * unsubscribe:agent {agentId}, subscribe:workspace {workspaceId}. Whether
 * type is one; then topic holds agentd's topic (agent:<id> or
 * workspace:<id>, cut to topicsz: the caller checks it) and *unsubscribe
 * says which, or *why (static; else NULL) says the id is missing. */
bool ad_compat_manager_subscription(const char *type, json_t *payload, char *topic,
                                    size_t topicsz, bool *unsubscribe, const char **why);

/* ---- seed 002, the workbench (workbench.c) --------------------------------------- */
/* The text of each answer so far on one /ws?compat=seed connection; the
 * connection owns the list (*head) and frees it with ad_compat_acc_free.
 * Loop thread (the connection's). */
typedef struct ad_compat_acc ad_compat_acc_t;
/* ev in the seed's stream form (a new string, the caller frees it), or
 * NULL: send ev as it is. Updates *head's accumulated text. A status event
 * is Claude Manager's (its strict enum, agentdStatus beside). */
char *ad_compat_workbench_text(ad_compat_acc_t **head, const ad_bus_event_t *ev);
void ad_compat_acc_free(ad_compat_acc_t **head);

/* ---- seed 000, the training dashboard (training.c) ------------------------------- */
/* The system_health payload: gpu {utilization, temperature, vramUsed,
 * vramTotal, powerDraw} (GB and W, as the seed's client shows them;
 * {available:false, reason} without a GPU), cpu {utilization, temperature,
 * ramUsed, ramTotal}, syntheticEye {fps, latency, pcieBandwidth, status}
 * (the first running service that reports fps; null without one),
 * overallScore, reasons. What is unknown is null. No agent data: the
 * event goes to every organisation. New ref. */
json_t *ad_compat_health_event(const ad_health_sample_t *s);
/* A system_health payload with every figure the seed's panel reads (0 and
 * <key>Available: false where agentd has null), in place: the form of the
 * seed's socket on "/". */
void ad_compat_training_health(json_t *payload);

/* The seed's commands on "/" ({type, payload}, its WebSocketManager.send),
 * each one of agentd's actions (docs/internals/compat.md has the table). */
typedef enum {
    AD_COMPAT_CMD_START,            /* start_training: POST /api/agents/:id/start */
    AD_COMPAT_CMD_PAUSE,            /* pause_training */
    AD_COMPAT_CMD_RESUME,           /* resume_training */
    AD_COMPAT_CMD_STOP,             /* stop_training */
    AD_COMPAT_CMD_DISCOVERY,        /* start_discovery, start_autonomous_discovery: a job */
    AD_COMPAT_CMD_DISCOVERY_STATUS, /* get_discovery_status: the newest discovery job */
} ad_compat_cmd_kind_t;

/* One command parsed into agentd's request. Strings and command are
 * borrowed from the payload it was parsed from (its life). */
typedef struct {
    ad_compat_cmd_kind_t kind;
    /* start, pause, resume, stop */
    const char *agent_id;
    const char *prompt;     /* start: initialPrompt, or NULL */
    const char *prompt_why; /* start: why initialPrompt is refused (a 422 answered
                             * once the agent is found), or NULL */
    bool has_config;        /* start: configId given (the socket takes none) */
    bool force;             /* start: past the usage limit; stop: kill */
    /* discovery: command (a JSON array), or NULL with environment set: the
     * discovery_command setting's program for environment */
    json_t *command;
    const char *environment;
    /* discovery, set by ad_compat_training_discovery: the job's name and cwd */
    const char *name;
    const char *cwd;
} ad_compat_cmd_t;

/* Whether type is one of the seed's commands on "/"; *kind then set (the
 * scope it needs is its REST route's, the caller's to check). */
bool ad_compat_training_command(const char *type, ad_compat_cmd_kind_t *kind);
/* payload (NULL when the message had none or not an object) of a command
 * of type (not get_discovery_status) parsed into cmd. 0, or AD_EINVAL
 * with a static why (answered as a 422 VALIDATION_ERROR). */
int ad_compat_training_parse(const char *type, json_t *payload, ad_compat_cmd_t *cmd,
                             const char **why);
/* A discovery's program and its arguments, command (the payload's or the
 * setting's), into argv (at most max entries, then NULL), and the job's
 * name and cwd from the payload into cmd. 0, or AD_EINVAL with a static
 * why (a 422). */
int ad_compat_training_discovery(ad_compat_cmd_t *cmd, json_t *payload, json_t *command,
                                 const char **argv, size_t max, const char **why);
/* The answer to an agent's action: agent_update's payload {id, status (the
 * seed's idle, training, paused or stopped), agentStatus (agentd's)} from
 * agentd's agent (an object with id and status). New ref. */
json_t *ad_compat_training_agent_update(json_t *agent);
/* A refused command's error payload {code, message, command, status (the
 * REST status)}. New ref. */
json_t *ad_compat_training_error(const char *type, int status, const char *code,
                                 const char *msg);
/* get_discovery_status's answer when there is no discovery job. New ref. */
json_t *ad_compat_training_idle(void);

#endif
