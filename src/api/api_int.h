/* SPDX-License-Identifier: MIT */
/*
 * Private to src/api: input checking that answers 422 naming the field
 * (with src/core/field.c's reasons), the asynchronous write helper (answer
 * after commit), event publishing, a src/wtree outcome answered, and each
 * resource file's route registration.
 *
 * Threads: loop thread only.
 */
#ifndef AD_API_INT_H
#define AD_API_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "auth/auth.h"
#include "auth/route.h"
#include "git/git.h"
#include "health/health.h"
#include "live/live.h"
#include "wtree/wtree.h"
#include "store/store.h"
#include "tables/auth.h"
#include "train/train.h"

/* ---- who is asking ------------------------------------------------------------ */
/* The route helpers (src/auth/route.h, which says what each does) under
 * src/api's names. */
#define ad_api_who ad_route_who
#define ad_api_require ad_route_require
#define ad_api_require_owner ad_route_require_owner
#define ad_api_need_store ad_route_need_store
#define ad_api_visible ad_route_visible
#define ad_api_row_load ad_route_row_load
typedef ad_route_row_get_fn ad_api_row_get_fn;
#define ad_api_invalid ad_route_invalid
#define ad_api_invalid_err ad_route_invalid_err
#define ad_api_str ad_route_str
#define ad_api_enum ad_route_enum
#define ad_api_int ad_route_int
#define ad_api_bool ad_route_bool
#define ad_api_str_array ad_route_str_array
#define ad_api_query_bool ad_route_query_bool
#define ad_api_query_int ad_route_query_int
#define ad_api_fail ad_route_fail
#define ad_api_list ad_route_list
#define ad_api_answer ad_route_answer
#define ad_api_answer_row ad_route_answer_row
#define ad_api_write ad_route_write
typedef ad_route_done_fn ad_api_done_fn;
#define ad_api_jstr ad_jstr
#define ad_api_load_worktree ad_route_worktree
/* agents.c: a sandbox policy of a request (admin's): "none" (the owner's;
 * never a workspace's) or {network: "on"|"off", paths: ["/ro", {"path":
 * "/rw", "write": true}]}; a path that shows the data dir is refused for
 * everyone (src/run/sandbox.c). -1 after answering 403 or 422. */
int ad_api_sandbox_ok(ad_app_t *app, ad_req_t *r, json_t *sb, bool workspace);
/* The audit's words for a change of a sandbox policy: "<what>: old -> new"
 * (each compact JSON, or "default" when unset), set on r. */
void ad_api_sandbox_note(ad_req_t *r, const char *what, json_t *old, json_t *now);

/* Whether r went on to the control plane that owns agent_id's work (issue
 * #77, src/cluster/forward.c): the plane holding its running run, or for a
 * start the plane holding its node's link; r is then answered from there. */
bool ad_api_forwarded(ad_app_t *app, ad_req_t *r, const char *agent_id, bool starting);

/* ad_req_query(r, key) as a subsystem's query reader (ad_store_query_fn). */
const char *ad_api_query_get(void *r, const char *key);
/* ad_api_answer for an answer written as JSON text: b's bytes sent as they are
 * (taken, not copied: b is left empty), or, for a request in a dialect
 * (which rewrites the tree), read back and answered as a tree. The caller
 * still cleans b up. */
void ad_api_answer_text(ad_req_t *r, int rc, ad_buf_t *b, const char *what, const char *id);

/* seed.c: under /seed/api a GET /agents status filter is in the seed's
 * enum: *status becomes NULL (the store filters nothing) and
 * *seed_status the seed's word for ad_compat_manager_filter_agents (which cuts
 * the list); -1 after answering 422. Elsewhere nothing changes. */
int ad_api_seed_status_filter(ad_req_t *r, const char **status, const char **seed_status);

/* The org a new row goes to, from body.orgId: an org token's own (another
 * is refused), the owner's choice (it must exist) or the default org. 0,
 * or -1 after answering 422. */
int ad_api_org_for(ad_app_t *app, ad_req_t *r, json_t *body, char org[AD_ID_MAX]);

/* ---- events ------------------------------------------------------------------
 * Handlers publish with src/bus's ad_bus_publish_to(app->bus, type, payload,
 * "prefix", id, ..., NULL): every event about a row of an org carries its
 * "org" pair, so subscribers of other orgs never see it.
 */
/* ---- routes, one per resource file ------------------------------------------- */
/* otlp.c: /v1/traces, /v1/metrics, /v1/logs from runs, GET /api/runs/:id/trace. */
void ad_api_otlp_register(ad_app_t *app);
/* mcp.c: /mcp, the MCP server (src/mcp, app->mcp). */
void ad_api_mcp_register(ad_app_t *app);
void ad_api_nodes_register(ad_app_t *app); /* nodes.c: worker nodes and their link */
void ad_api_workspaces_register(ad_app_t *app);
/* ws_edit.c: PATCH, refresh and setup of a workspace. */
void ad_api_ws_edit_register(ad_app_t *app);
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
void ad_api_agents_register(ad_app_t *app);
/* agents.c: the store's insert args of a new agent from a create body
 * (borrowed) in worktree wt of org: every field checked as POST
 * /api/agents does; def_name, the definition applied to body, is kept in
 * the agent's state. A new reference, or NULL after answering 403/422. */
json_t *ad_api_agent_args(ad_app_t *app, ad_req_t *r, json_t *body, const char *wt, const char *org,
                          const char *def_name);
/* agent_edit.c: PATCH, DELETE, restore, fork and reorder of agents. */
void ad_api_agent_edit_register(ad_app_t *app);
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
/* health.c: /api/health, /api/health/history (the sampler: app->monitor). */
void ad_api_health_register(ad_app_t *app);
/* alerts.c: alert rules and their firings (the engine: app->train). */
void ad_api_alerts_register(ad_app_t *app);
/* imports.c: imports of TensorBoard, MLflow and CSV files into runs. */
void ad_api_imports_register(ad_app_t *app);
/* mlflow.c: the MLflow-compatible tracking routes (/api/2.0/mlflow/...);
 * mlflow_log.c: its logging routes. Answers in MLflow's shape
 * ({error_code, message}): ad_mf_fail (a checked error), ad_mf_body (the JSON body, NaN tokens
 * allowed; NULL after answering), ad_mf_run (the MLflow run the caller sees: its row, new, or NULL
 * after answering), ad_mf_run_id (run_id or run_uuid of body, else of the query). */
void ad_api_mlflow_register(ad_app_t *app);
/* sql.c: POST /api/sql, read-only SQL over the organisation's views. */
void ad_api_sql_register(ad_app_t *app);
/* sweeps.c: sweeps of hyper-parameter configs. */
void ad_api_sweeps_register(ad_app_t *app);
void ad_api_mlflow_log_register(ad_app_t *app);
void ad_mf_fail(ad_req_t *r, const ad_mlflow_err_t *e);
json_t *ad_mf_body(ad_req_t *r);
json_t *ad_mf_run(ad_app_t *app, ad_req_t *r, const char *run_id);
const char *ad_mf_run_id(const json_t *body, ad_req_t *r);
void ad_api_dashboard_register(ad_app_t *app);
void ad_api_credits_register(ad_app_t *app);
void ad_api_export_register(ad_app_t *app);
void ad_api_sessions_register(ad_app_t *app);
void ad_api_external_register(ad_app_t *app); /* external.c, issue #76 */
void ad_api_import_register(ad_app_t *app);
void ad_api_project_sync_register(ad_app_t *app);
/* dashboard.c: the figures of GET /api/dashboard/stats and
 * /api/dashboard/tokens/stats (camelCase), or NULL after answering an
 * error. */
json_t *ad_api_dashboard_stats(ad_app_t *app, ad_req_t *r);
json_t *ad_api_token_stats(ad_app_t *app, ad_req_t *r);
/* credits.c: the agent-time figures of GET /api/dashboard/rentals/stats,
 * or NULL after answering an error. */
json_t *ad_api_rentals_json(ad_app_t *app, ad_req_t *r);
void ad_api_crew_ops_register(ad_app_t *app);
void ad_api_workflows_register(ad_app_t *app); /* workflows.c */
void ad_api_routines_register(ad_app_t *app);  /* routines.c: routines and /api/hooks/:id */
/* The crew of r's :id, as ad_api_row_load. (crew_ops.c) */
json_t *ad_api_crew_load(ad_app_t *app, ad_req_t *r);
/* requirements.c: GET /api/requirements (admin: it runs --version). */
void ad_api_requirements_register(ad_app_t *app);
/* jobs.c: /api/jobs (programs that report progress, src/svc); the jobs
 * object lives in app->jobs. */
void ad_api_jobs_register(ad_app_t *app);
/* services.c: /api/services (long-running helpers, src/svc); the services
 * object lives in app->services. */
void ad_api_services_register(ad_app_t *app);
void ad_api_svc_templates_register(ad_app_t *app); /* svc_templates.c */
/* metrics.c: GET /metrics (Prometheus text). */
void ad_api_metrics_register(ad_app_t *app);
void ad_api_usage_register(ad_app_t *app);
/* usage.c: true after answering 429 USAGE_LIMIT (with the period's figures)
 * when a daily or monthly token or cost limit is reached and force is not
 * set; starting an agent and sending a message check it. */
bool ad_api_usage_refused(ad_app_t *app, ad_req_t *r, bool force);
void ad_api_approvals_register(ad_app_t *app); /* approvals.c */
void ad_api_scalars_register(ad_app_t *app);   /* scalars.c: training-metric series */
void ad_api_dists_register(ad_app_t *app);     /* dists.c: histograms and counts of runs */
void ad_api_runs_register(ad_app_t *app);      /* runs.c: start/stop/message/... */
void ad_api_status_register(ad_app_t *app);    /* status.c: an agent's status history */
/* hparams.c: /api/config-schemas and /api/configs (issue #16). */
void ad_api_hparams_register(ad_app_t *app);
/* runtable.c: GET /api/training/runs, the runs table. */
void ad_api_runtable_register(ad_app_t *app);
void ad_api_layouts_register(ad_app_t *app);
void ad_api_terminal_register(ad_app_t *app); /* terminal.c: /ws/agents/:id/terminal */
/* live.c: /ws, /ws/runs/:runId, /ws/mission, /ws/graph, "/", /api/events. */
void ad_api_live_register(ad_app_t *app);
/* seed.c: the Claude Manager seed's REST dialect under /seed/api/... */
void ad_api_seed_register(ad_app_t *app);
/* crews.c: /api/crews (the crew status watcher: app->crew_watch). */
void ad_api_crews_register(ad_app_t *app);
/* auth.c: /login, /api/auth/..., /api/tokens, /api/orgs, /api/audit. */
void ad_api_auth_register(ad_app_t *app);
/* ---- git work (gitsteps.c), shared by workspaces.c and worktrees.c -------------
 * A git request runs in src/wtree (app->wtree): the handler reads the
 * request, checks who may ask, hands the rows and arguments over and
 * answers the outcome with ad_api_wtree_reply.
 */
/* Answers o: ok with its data, else its error: git's as
 * ad_wtree_git_error gives it (ref_field: a ref that names nothing is a
 * 422 on that field), 503 while agentd closes, else the code's status with the
 * message and details. */
void ad_api_wtree_reply(ad_req_t *r, const ad_wtree_out_t *o, int ok, const char *ref_field,
                        bool ws_create);
/* ad_wtree_cb's (ud the request) answering 200 and 201. */
void ad_api_wtree_200(void *ud, const ad_wtree_out_t *o);
void ad_api_wtree_201(void *ud, const ad_wtree_out_t *o);
/* Checks setupFiles / setupCommand in body (src/wtree; a command needs
 * admin); answers 403 or 422 itself. */
bool ad_api_setup_valid(ad_req_t *req, json_t *body);
/* A 422 for a git request's body src/wtree refused: e->why is the whole
 * message, e->field the field (none when ""). Returns -1. */
int ad_api_git_invalid(ad_req_t *req, const ad_field_err_t *e);

#endif
