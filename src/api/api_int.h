/* SPDX-License-Identifier: MIT */
/*
 * Private to src/api: input checking that answers 422 naming the field,
 * the asynchronous write helper (answer after commit), event publishing,
 * and each resource file's route registration.
 *
 * Threads: loop thread only.
 */
#ifndef AD_API_INT_H
#define AD_API_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "auth/auth.h"
#include "git/git.h"
#include "store/store.h"

/* ---- the REST layer's state between requests ---------------------------------
 * What the resource files keep across requests, reached through app->api
 * (made by ad_api_register, freed at the end of ad_api_close; NULL after):
 * no file of src/api keeps mutable state at file scope. A callback that may
 * come after the close (a pool job, a handle's close) checks app->api.
 */
typedef struct ad_api_crew_watch ad_api_crew_watch_t; /* crews.c */
typedef struct ad_api_burst ad_api_burst_t;           /* testroutes.c */
struct ad_api {
    struct ad_live *live;            /* live.c: the live channels (src/live) */
    ad_api_crew_watch_t *crew_watch; /* crews.c: the crew status watcher */
    json_t *requirements;            /* requirements.c: the last check, cached */
    int64_t requirements_ms;         /* when it was made (wall clock) */
    uint64_t health_event_ms;        /* health.c: the last system_health event (monotonic ms) */
    ad_api_burst_t *bursts;          /* testroutes.c: bursts of events in progress */
    struct ad_psync *psync;          /* project_sync.c: projects kept in sync with folders */
    struct ad_flow *flow;            /* workflows.c: the workflow engine (src/flow) */
};

/* ---- who is asking ------------------------------------------------------------ */
/* The principal of r (src/auth). Never NULL: a request that reached a
 * non-public route has one; elsewhere a principal that sees nothing and may
 * do nothing stands in. */
const ad_principal_t *ad_api_who(const ad_req_t *r);
/* Answers 403 and returns false unless r's principal has scope. */
bool ad_api_require(ad_req_t *r, ad_scope_t scope, const char *what);
/* agents.c: a sandbox policy of a request (admin's): "none" (the owner's;
 * never a workspace's) or {network: "on"|"off", paths: ["/ro", {"path":
 * "/rw", "write": true}]}; a path that shows the data dir is refused for
 * everyone (src/run/sandbox.c). -1 after answering 403 or 422. */
int ad_api_sandbox_ok(ad_app_t *app, ad_req_t *r, json_t *sb, bool workspace);
/* The audit's words for a change of a sandbox policy: "<what>: old -> new"
 * (each compact JSON, or "default" when unset), set on r. */
void ad_api_sandbox_note(ad_req_t *r, const char *what, json_t *old, json_t *now);
/* Answers 403 "only the owner <what>" and returns false unless r's
 * principal is the daemon's owner (daemon-wide things: settings, orgs). */
bool ad_api_require_owner(ad_req_t *r, const char *what);

/* Kinds of rows that belong to an organisation. */
typedef enum {
    AD_API_WORKSPACE,
    AD_API_WORKTREE,
    AD_API_AGENT,
    AD_API_CREW,
    AD_API_RUN,
    AD_API_JOB,
    AD_API_SERVICE,
} ad_api_kind_t;
/* Whether the row of kind with id exists and r's principal may see it;
 * when not, answers 404 (or the read's error) itself: a row of another org
 * is answered exactly like a missing one. org_out (may be NULL) gets the
 * row's org. */
bool ad_api_visible(ad_app_t *app, ad_req_t *r, ad_api_kind_t kind, const char *id,
                    char org_out[AD_ID_MAX]);
/* The same without answering: 0, AD_ENOENT (missing or not visible) or
 * the read's error. */
int ad_api_row_org(ad_app_t *app, const ad_principal_t *who, ad_api_kind_t kind, const char *id,
                   char org_out[AD_ID_MAX]);

/* ---- input --------------------------------------------------------------
 * Each returns 0 (the value is in *out, or the field is absent and *out is
 * left alone), or -1 after answering 422 VALIDATION_ERROR with details
 * {field, reason}. The handler then just returns.
 */
int ad_api_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
               const char **out);
/* choices: comma-separated allowed values. */
int ad_api_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
                const char **out);
int ad_api_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min, int64_t max,
               int64_t *out, bool *present);
int ad_api_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present);
/* An array of at most max strings of at most maxlen bytes each. */
int ad_api_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                     size_t maxlen, json_t **out);
/* Answers 422 for field with reason. Returns -1. */
int ad_api_invalid(ad_req_t *r, const char *field, const char *reason);
/* The JSON body, or NULL (empty object) when the body is empty; answers 400
 * itself and sets *failed on malformed JSON. New reference. */
json_t *ad_api_body_optional(ad_req_t *r, bool *failed);
/* Whether s is one of the comma-separated choices. */
bool ad_api_choice(const char *choices, const char *s);
/* Query flag: absent -> def; true/1 and false/0; else 422 (returns -1). */
int ad_api_query_bool(ad_req_t *r, const char *key, bool def, bool *out);

/* ---- writes ----------------------------------------------------------------
 * Queues op(args) on the store's writer and calls done on the loop after
 * the commit, with the request still open. args is stolen. If the client
 * has gone, done still runs (to publish events); answering is then a no-op.
 */
typedef void (*ad_api_done_fn)(ad_app_t *app, ad_req_t *r, int rc, json_t *result);
void ad_api_write(ad_app_t *app, ad_req_t *r, ad_store_op_fn op, json_t *args, ad_api_done_fn done);
/* Answers an AD_E* code as an API error with a message about what. */
void ad_api_fail(ad_req_t *r, int rc, const char *what, const char *id);

/* The org a new row goes to, from body.orgId: an org token's own (another
 * is refused), the owner's choice (it must exist) or the default org. 0,
 * or -1 after answering 422. */
int ad_api_org_for(ad_app_t *app, ad_req_t *r, json_t *body, char org[AD_ID_MAX]);

/* ---- events ------------------------------------------------------------------
 * Publishes type with payload (borrowed) to the topics given as
 * "prefix", id pairs terminated by NULL: ad_api_publish(app, "agent_update",
 * p, "agent", id, "worktree", wt, "org", org, NULL). A NULL or empty id skips
 * the pair; "system" and "usage" may be given with id "". Every event about
 * a row of an org carries its "org:<id>" topic: subscribers of other orgs
 * never see it (src/bus); events without one are for everybody.
 */
void ad_api_publish(ad_app_t *app, const char *type, json_t *payload, ...);
/* The same with the payload already serialized (compact JSON text). */
void ad_api_publish_text(ad_app_t *app, const char *type, const char *payload, size_t len, ...);

/* ---- routes, one per resource file ------------------------------------------- */
void ad_api_workspaces_register(ad_app_t *app);
/* ws_edit.c: PATCH, refresh and setup of a workspace. */
void ad_api_ws_edit_register(ad_app_t *app);
/* workspaces.c: ws (returned, the same reference) with its worktrees. */
json_t *ad_api_ws_with_worktrees(ad_app_t *app, json_t *ws);
void ad_api_worktrees_register(ad_app_t *app);
/* wt_create.c: POST /api/worktrees; GET and POST /api/worktrees/:id/setup. */
void ad_api_wt_create_register(ad_app_t *app);
void ad_api_wt_setup_register(ad_app_t *app);
/* wt_git.c: DELETE /api/worktrees/:id, checkout, branches, status, diff. */
void ad_api_wt_git_register(ad_app_t *app);
/* review.c: commits, commit, merge, rebase, push of a worktree. */
void ad_api_review_register(ad_app_t *app);
/* pr.c: /api/worktrees/:id/pr */
void ad_api_pr_register(ad_app_t *app);
/* GET /api/worktrees/:id/diff?against=: the review against a base. */
void ad_api_wt_review(ad_req_t *req, ad_app_t *app);
/* The worktree commits agentd recorded merging (review.c): a new JSON
 * array of hex ids, empty when none or unreadable. Loop thread. */
json_t *ad_api_merged_heads(ad_app_t *app, const char *wt_id);
/* An agent row as it is live (runs.c): while its stop is under way, status
 * "stopping" and stopping {since, force}. Loop thread. */
void ad_api_agent_live(ad_app_t *app, json_t *agent);
void ad_api_agents_register(ad_app_t *app);
/* agents.c: the store's insert args of a new agent from a create body
 * (borrowed) in worktree wt of org: every field checked as POST
 * /api/agents does; def_name, the definition applied to body, is kept in
 * the agent's state. A new reference, or NULL after answering 403/422. */
json_t *ad_api_agent_args(ad_app_t *app, ad_req_t *r, json_t *body, const char *wt, const char *org,
                          const char *def_name);
/* agent_edit.c: PATCH, DELETE, restore, fork and reorder of agents. */
void ad_api_agent_edit_register(ad_app_t *app);
/* agents.c: agent_update of agent (payload borrowed) to its topics; ws is
 * its workspace. */
void ad_api_agent_publish(ad_app_t *app, json_t *payload, json_t *agent, const char *ws);
/* ad_api_done_fn for writes whose result is {agent, workspaceId}:
 * publish, then answer 200 or 201 with the agent. */
void ad_api_agent_done_200(ad_app_t *app, ad_req_t *r, int rc, json_t *result);
void ad_api_agent_done_201(ad_app_t *app, ad_req_t *r, int rc, json_t *result);
/* agents.c: true after answering 422 when mode auto for Claude Code as
 * root is refused (executor NULL is claude). */
bool ad_api_agent_root_auto(ad_app_t *app, ad_req_t *r, const char *mode, const char *executor);
/* agent_fields.c: each -1 after answering 403 or 422, else 0 / true.
 * name, mode, permissions, crewId (org: the agent's) into args. */
int ad_api_agent_common_fields(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args,
                               const char *org);
/* How the runner starts the agent, into args "state". */
int ad_api_agent_run_fields(ad_app_t *app, ad_req_t *r, json_t *body, const char *executor,
                            json_t *args);
/* Whether a PATCH body may be applied with r's scope (403 answered). */
bool ad_api_agent_patch_scope_ok(ad_req_t *r, json_t *body);
/* A PATCH's command, env and sandbox into args. */
int ad_api_agent_patch_state(ad_app_t *app, ad_req_t *r, json_t *body, json_t *args);
void ad_api_messages_register(ad_app_t *app);
void ad_api_settings_register(ad_app_t *app);
/* health.c: /api/health, /api/health/history; starts the sampler. */
void ad_api_health_register(ad_app_t *app);
void ad_api_dashboard_register(ad_app_t *app);
void ad_api_credits_register(ad_app_t *app);
void ad_api_export_register(ad_app_t *app);
void ad_api_sessions_register(ad_app_t *app);
void ad_api_import_register(ad_app_t *app);
void ad_api_project_sync_register(ad_app_t *app);
void ad_api_project_sync_close(ad_app_t *app);
/* project_sync.c: writes project id's files into its sync folder, if it
 * has one (after every change of them, on the pool). */
void ad_api_project_sync_push(ad_app_t *app, const char *id);
/* projects.c: a project_update event {id, change, project} for project id,
 * as its routes publish one (and its sync folder pushed). */
void ad_api_project_changed(ad_app_t *app, const char *id, const char *change);
/* dashboard.c: the figures of GET /api/dashboard/stats and
 * /api/dashboard/tokens/stats (camelCase), or NULL after answering an
 * error; a copy of v with every object key in snake_case (the seed's). */
json_t *ad_api_dashboard_stats(ad_app_t *app, ad_req_t *r);
json_t *ad_api_token_stats(ad_app_t *app, ad_req_t *r);
json_t *ad_api_snake(json_t *v);
/* credits.c: org's credits {orgId, unit, balance, earned, spent, pending,
 * grants}, or NULL when they cannot be read; the agent-time figures of
 * GET /api/dashboard/rentals/stats, or NULL after answering an error. */
json_t *ad_api_credits_json(ad_app_t *app, const char *org);
json_t *ad_api_rentals_json(ad_app_t *app, ad_req_t *r);
void ad_api_crew_ops_register(ad_app_t *app);
void ad_api_workflows_register(ad_app_t *app); /* workflows.c */
void ad_api_workflows_close(ad_app_t *app);
/* The row of r's :id read by get, visible to the caller (new reference; the
 * row carries orgId), or NULL after answering: 404 naming what (another
 * org's row is as good as none), or the store's error. */
typedef int (*ad_api_row_get_fn)(struct ad_store *st, const char *id, json_t **out);
json_t *ad_api_row_load(ad_app_t *app, ad_req_t *r, ad_api_row_get_fn get, const char *what);
/* The crew of r's :id, as ad_api_row_load. (crew_ops.c) */
json_t *ad_api_crew_load(ad_app_t *app, ad_req_t *r);
void ad_api_health_close(ad_app_t *app);
/* requirements.c: GET /api/requirements (admin: it runs --version). */
void ad_api_requirements_register(ad_app_t *app);
void ad_api_requirements_close(ad_app_t *app);
/* jobs.c: /api/jobs (programs that report progress, src/svc); the jobs
 * object lives in app->jobs. */
void ad_api_jobs_register(ad_app_t *app);
void ad_api_jobs_close(ad_app_t *app);
/* services.c: /api/services (long-running helpers, src/svc); the services
 * object lives in app->services. */
void ad_api_services_register(ad_app_t *app);
void ad_api_svc_templates_register(ad_app_t *app); /* svc_templates.c */
void ad_api_services_close(ad_app_t *app);
/* metrics.c: GET /metrics (Prometheus text). */
void ad_api_metrics_register(ad_app_t *app);
/* New thresholds from the settings object (borrowed). */
void ad_api_health_apply_settings(ad_app_t *app, json_t *settings);
void ad_api_usage_register(ad_app_t *app);
/* usage.c: true after answering 429 USAGE_LIMIT (with the period's figures)
 * when a daily or monthly token or cost limit is reached and force is not
 * set; starting an agent and sending a message check it. */
bool ad_api_usage_refused(ad_app_t *app, ad_req_t *r, bool force);
/* The same check without a request (the seed's command socket, live.c):
 * "daily" or "monthly" when that limit is reached, else NULL. */
const char *ad_api_usage_reached(ad_app_t *app);
void ad_api_approvals_register(ad_app_t *app); /* approvals.c */
void ad_api_scalars_register(ad_app_t *app);   /* scalars.c: training-metric series */
void ad_api_dists_register(ad_app_t *app);     /* dists.c: histograms and counts of runs */
/* ?key= as a whole number in [min, max] into *out (*has set): 0 when
 * absent or good, else -1 after a 422 naming it (scalars.c). */
int ad_api_query_int(ad_req_t *r, const char *key, int64_t min, int64_t max, bool *has,
                     int64_t *out);
/* The histograms: [...] and counts: [...] of a metric batch, each checked
 * (ad_store_dist_check) into *dists (new; empty when there are none): 0,
 * or -1 after a 413/422 naming the item (dists.c). */
int ad_api_dists_check(ad_req_t *r, json_t *body, json_t **dists);
/* After a batch with dists was stored: one distribution_update event
 * {runId, items: [{kind, name, step?}]} to the run's org (dists.c). */
void ad_api_dists_published(ad_app_t *app, json_t *batch);
void ad_api_runs_register(ad_app_t *app);   /* runs.c: start/stop/message/... */
void ad_api_status_register(ad_app_t *app); /* status.c: an agent's status history */
/* hparams.c: /api/config-schemas and /api/configs (issue #16). */
void ad_api_hparams_register(ad_app_t *app);
/* The config config_id of org for a run: record {id, name, schemaId,
 * values (checked again against its schema)} and its schema (new
 * references). 0, or -1 after answering 422 naming configId or the value. */
int ad_api_run_config(ad_app_t *app, ad_req_t *r, const char *config_id, const char *org,
                      json_t **record, json_t **schema);
/* runtable.c: GET /api/training/runs, the runs table. */
void ad_api_runtable_register(ad_app_t *app);
void ad_api_terminal_register(ad_app_t *app); /* terminal.c: /ws/agents/:id/terminal */
/* live.c: /ws, /ws/runs/:runId, /ws/mission, /ws/graph, "/", /api/events. */
void ad_api_live_register(ad_app_t *app);
/* live_cmds.c: the seed's commands on "/" (an ad_live_cmd_fn, ud the app). */
struct ad_live_chan;
bool ad_api_live_command(struct ad_live_chan *ch, const char *type, json_t *payload, void *ud);
/* seed.c: the Claude Manager seed's REST dialect under /seed/api/... */
void ad_api_seed_register(ad_app_t *app);
/* Close what live.c and crews.c keep open across requests (the live
 * channels' heartbeat, the crew status watcher). */
void ad_api_live_close(ad_app_t *app);
void ad_api_crews_close(ad_app_t *app);
/* The largest send queue (bytes) among the open live channels. */
size_t ad_api_live_max_queued(ad_app_t *app);
#ifdef AD_TEST_BUILD
/* testroutes.c: /test/publish, /test/runs, /test/agent-status, /test/store-stats. */
void ad_api_test_routes_register(ad_app_t *app);
/* Ends the bursts still in progress (shutdown). */
void ad_api_test_routes_close(ad_app_t *app);
#endif
/* crews.c: /api/crews, and the crew status watcher. */
void ad_api_crews_register(ad_app_t *app);
/* auth.c: /login, /api/auth/..., /api/tokens, /api/orgs, /api/audit. */
void ad_api_auth_register(ad_app_t *app);
/* The crews of org ("": every org) with their status (array, new ref). */
json_t *ad_api_crews_snapshot(ad_app_t *app, const char *org);
/* ---- git work (gitsteps.c), shared by workspaces.c and worktrees.c -------------
 * A git request runs in steps: rows read on the loop, the git work on the
 * thread pool (ad_git_queue), the outcome written through the store, then
 * events and the answer. The context carries the request across steps.
 */
#define AD_API_SETUP_FILES_MAX 64
#define AD_API_SETUP_COMMAND_MAX 4096
#define AD_API_SETUP_TIMEOUT_MS 600000

typedef struct {
    ad_app_t *app;
    ad_req_t *req; /* NULL once answered */
    json_t *body;  /* the request's JSON (owned) */
    json_t *ws;    /* workspace row (owned) */
    json_t *wt;    /* worktree row (owned) */
    json_t *git;   /* a git result kept between steps (owned) */
    json_t *setup; /* the workspace's setup {setupFiles, setupCommand} (owned) */
    char id[AD_ID_MAX];
    bool force;      /* DELETE ?force=true */
    size_t stopping; /* agents whose stop has not completed yet */
    int stop_rc;     /* the first failed stop, or 0 */
    bool retried;    /* a worktree add tried again with a new branch */
} ad_api_gctx_t;

ad_api_gctx_t *ad_api_gctx_new(ad_app_t *app, ad_req_t *req);
void ad_api_gctx_free(ad_api_gctx_t *c);
/* The string at key of o, or NULL. Borrowed. */
const char *ad_api_jstr(json_t *o, const char *key);
/* Answers a git failure. ws_create: every "this is no work tree" reason is
 * a validation error (422) of the request. */
void ad_api_git_reply_error(ad_req_t *req, const ad_git_result_t *res, bool ws_create);
/* worktree_created/updated: the row, plus the kind of change (may be NULL). */
void ad_api_publish_wt(ad_app_t *app, const char *type, const char *change, json_t *wt);
void ad_api_publish_wt_deleted(ad_app_t *app, const char *id, const char *ws_id, const char *org,
                               json_t *agents);
void ad_api_publish_agent_flag(ad_app_t *app, const char *agent_id, const char *ws_id,
                               const char *org, bool vanished);
/* False (and 503 answered) when the store is not open. */
bool ad_api_need_store(ad_app_t *app, ad_req_t *req);
/* After a pool job: false (and the answer given, the context freed) when
 * the daemon closed the store meanwhile. */
bool ad_api_gctx_still_open(ad_api_gctx_t *c);
/* The start of a git completion whose next step writes: false when the
 * request is finished here (agentd is closing, or git failed: answered and
 * the context freed). */
bool ad_api_git_step_ok(ad_api_gctx_t *c, const ad_git_result_t *res, bool ws_create);
/* Queues git work for c; on failure answers 500 and frees c. */
int ad_api_git_queue(ad_api_gctx_t *c, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb cb);
/* The worktree row of :id, or NULL after answering 404 (or the error). */
json_t *ad_api_load_worktree(ad_app_t *app, ad_req_t *req);
/* {setupFiles, setupCommand} of a workspace row. New reference. */
json_t *ad_api_setup_view(json_t *ws);
/* Checks setupFiles / setupCommand in body; answers 422 itself. */
bool ad_api_setup_valid(ad_req_t *req, json_t *body);

#endif
