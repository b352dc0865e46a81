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
#include "store/store.h"

/* ---- input --------------------------------------------------------------
 * Each returns 0 (the value is in *out, or the field is absent and *out is
 * left alone), or -1 after answering 422 VALIDATION_ERROR with details
 * {field, reason}. The handler then just returns.
 */
int api_str(ad_req_t *r, json_t *body, const char *key, bool required, size_t maxlen,
            const char **out);
/* choices: comma-separated allowed values. */
int api_enum(ad_req_t *r, json_t *body, const char *key, bool required, const char *choices,
             const char **out);
int api_int(ad_req_t *r, json_t *body, const char *key, bool required, int64_t min, int64_t max,
            int64_t *out, bool *present);
int api_bool(ad_req_t *r, json_t *body, const char *key, bool *out, bool *present);
/* An array of at most max strings of at most maxlen bytes each. */
int api_str_array(ad_req_t *r, json_t *body, const char *key, bool required, size_t max,
                  size_t maxlen, json_t **out);
/* Answers 422 for field with reason. Returns -1. */
int api_invalid(ad_req_t *r, const char *field, const char *reason);
/* The JSON body, or NULL (empty object) when the body is empty; answers 400
 * itself and sets *failed on malformed JSON. New reference. */
json_t *api_body_optional(ad_req_t *r, bool *failed);
/* Whether s is one of the comma-separated choices. */
bool api_choice(const char *choices, const char *s);
/* Query flag: absent -> def; true/1 and false/0; else 422 (returns -1). */
int api_query_bool(ad_req_t *r, const char *key, bool def, bool *out);

/* ---- writes ----------------------------------------------------------------
 * Queues op(args) on the store's writer and calls done on the loop after
 * the commit, with the request still open. args is stolen. If the client
 * has gone, done still runs (to publish events); answering is then a no-op.
 */
typedef void (*api_done_fn)(ad_app_t *app, ad_req_t *r, int rc, json_t *result);
void api_write(ad_app_t *app, ad_req_t *r, ad_store_op_fn op, json_t *args, api_done_fn done);
/* Answers an AD_E* code as an API error with a message about what. */
void api_fail(ad_req_t *r, int rc, const char *what, const char *id);

/* ---- events ------------------------------------------------------------------
 * Publishes type with payload (borrowed) to the topics given as
 * "prefix", id pairs terminated by NULL: api_publish(app, "agent_update",
 * p, "agent", id, "worktree", wt, NULL). A NULL or empty id skips the pair;
 * "system" and "usage" may be given with id "".
 */
void api_publish(ad_app_t *app, const char *type, json_t *payload, ...);
/* The same with the payload already serialized (compact JSON text). */
void api_publish_text(ad_app_t *app, const char *type, const char *payload, size_t len, ...);

/* ---- routes, one per resource file ------------------------------------------- */
void api_workspaces_register(ad_app_t *app);
void api_worktrees_register(ad_app_t *app);
void api_agents_register(ad_app_t *app);
void api_messages_register(ad_app_t *app);
void api_settings_register(ad_app_t *app);
void api_usage_register(ad_app_t *app);
void api_runs_register(ad_app_t *app);     /* runs.c: start/stop/message/... */
void api_terminal_register(ad_app_t *app); /* terminal.c: /ws/agents/:id/terminal */
/* live.c: /ws, /ws/runs/:runId, /ws/mission, /ws/graph, /api/events. */
void api_live_register(ad_app_t *app);
/* The largest send queue (bytes) among the open live channels. */
size_t api_live_max_queued(void);
#ifdef AD_TEST_BUILD
/* testroutes.c: /test/publish, /test/runs, /test/agent-status, /test/store-stats. */
void api_test_routes_register(ad_app_t *app);
#endif
/* crews.c: /api/crews, and the crew status watcher. */
void api_crews_register(ad_app_t *app);
/* Every crew with its derived status (array, new reference). */
json_t *api_crews_snapshot(ad_app_t *app);
/* git.c: GET|PUT /api/workspaces/:id/setup, POST /api/worktrees/:id/checkout,
 * GET /api/worktrees/:id/branches|status|diff|setup. */
void api_git_register(ad_app_t *app);
/* git.c handlers routed by workspaces.c and worktrees.c (ud: ad_app_t). */
void api_git_workspace_create(ad_req_t *req, void *ud);
void api_git_workspace_refresh(ad_req_t *req, void *ud);
void api_git_worktree_create(ad_req_t *req, void *ud);
void api_git_worktree_delete(ad_req_t *req, void *ud);

#endif
