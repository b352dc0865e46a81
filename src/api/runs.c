/* SPDX-License-Identifier: MIT */
/*
 * Agent runs over REST: POST /api/agents/:id/start {initialPrompt?,
 * configId?, configFlags?, queue?, goal?} (a hyper-parameter config,
 * src/api/hparams.c; #77's queue; a goal, src/run/goal.c), /stop?force=,
 * /pause, /resume (a paused agent, or one suspended on a usage limit),
 * /message {content, goal?}; GET
 * /api/agents/:id/runs?limit=, GET /api/runs/:id and PATCH /api/runs/:id
 * {name?, color?, tags?, notes?, group?} (issue #35). The work is the
 * runner's (src/run/run.h); answers come after its commits.
 */
#include "run/run.h"
#include "api/api_int.h"
#include "tables/runs.h"

#include <string.h>

#define PROMPT_MAX (1024 * 1024)

/* The runner's completion: answers {agent} (or the whole result). */
static void on_agent_done(int rc, json_t *result, const char *msg, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "%s", msg != NULL ? msg : ad_strerror(rc));
        return;
    }
    json_t *agent = json_object_get(result, "agent");
    /* a start that waits for a node (issue #77): 202 {agent, queued, queue} */
    bool queued = json_is_true(json_object_get(result, "queued"));
    ad_res_json(r, queued ? 202 : 200, json_incref(agent != NULL && !queued ? agent : result));
}

static void on_result_done(int rc, json_t *result, const char *msg, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "%s", msg != NULL ? msg : ad_strerror(rc));
        return;
    }
    ad_res_json(r, 200, json_incref(result));
}

static void refuse(ad_req_t *r, int rc, const char *id, const char *err)
{
    if (rc == AD_ENOENT) {
        ad_res_error_code(r, rc, json_pack("{s:s}", "id", id), "%s",
                          err[0] != '\0' ? err : "agent not found");
    } else {
        ad_res_error_code(r, rc, NULL, "%s", err[0] != '\0' ? err : ad_strerror(rc));
    }
}

/* force: true in the body, or ?force=true: past the usage limits. */
static bool forced(ad_req_t *r, json_t *body)
{
    const char *q = ad_req_query(r, "force");
    return json_is_true(json_object_get(body, "force")) || (q != NULL && strcmp(q, "true") == 0);
}

/* body.goal checked into *goal (NULL when absent): -1 after answering 422. */
static int goal_of(ad_req_t *r, json_t *body, json_t **goal)
{
    *goal = NULL;
    json_t *g = json_object_get(body, "goal");
    ad_field_err_t e;
    if (g == NULL || json_is_null(g)) {
        return 0;
    }
    if (ad_run_goal_parse(g, goal, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return -1;
    }
    return 0;
}

static void start(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, org) ||
        ad_api_forwarded(app, r, id, true)) {
        return;
    }
    bool failed = false;
    json_t *body = ad_req_json_optional(r, &failed);
    if (failed) {
        return;
    }
    const char *prompt = NULL;
    ad_run_config_t cfg = {0};
    ad_field_err_t e;
    int bad = 0;
    json_t *goal = NULL;
    if (ad_api_str(r, body, "initialPrompt", false, PROMPT_MAX, &prompt) != 0 ||
        goal_of(r, body, &goal) != 0 ||
        (bad = ad_run_start_config(app->store, body, id, org, &cfg, &e)) != 0 ||
        ad_api_usage_refused(app, r, forced(r, body))) {
        json_decref(goal);
        if (bad != 0) {
            ad_api_invalid_err(r, &e);
        }
        json_decref(cfg.record);
        json_decref(cfg.schema);
        json_decref(body);
        return;
    }
    /* queue: wait for a node with room rather than answer 409 (issue #77);
     * the start runs at the loop's next turn, one a turn (issue #80) */
    ad_runner_paced_t a = {.agent_id = id,
                           .org = org,
                           .prompt = prompt,
                           .cfg = cfg.record != NULL ? &cfg : NULL,
                           .queue = json_is_true(json_object_get(body, "queue")),
                           .who = ad_api_who(r)->name,
                           .goal = goal};
    ad_runner_start_paced(app->runner, &a, on_agent_done, r);
    json_decref(goal);
    json_decref(cfg.record);
    json_decref(cfg.schema);
    json_decref(body);
}

/* 202 with the agent reading "stopping", once the stop's mark is stored. */
static void answer_stopping(json_t *agent, void *ud)
{
    ad_res_json(ud, 202, agent);
}

/* POST /api/agents/:id/stop?force=&wait=: answers at once, 202 with the
 * agent reading "stopping" (GET says so too until the run has ended, so a
 * reload does not lose it; a second stop with force=true escalates).
 * wait=true answers after the exit is committed, 200 with the agent; so
 * does every stop under the seed's /seed/api. */
static void stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL) ||
        ad_api_forwarded(app, r, id, false)) {
        return;
    }
    bool force = false, wait = false;
    if (ad_api_query_bool(r, "force", false, &force) != 0 ||
        ad_api_query_bool(r, "wait", false, &wait) != 0) {
        return;
    }
    /* The Claude Manager seed's client (/seed/api) reads the stopped agent
     * from the stop's answer, as agentd answered before `stopping`. */
    wait = wait || ad_req_dialect(r);
    if (ad_runner_stop(app->runner, id, force, wait ? on_agent_done : NULL, wait ? r : NULL) != 0) {
        /* Suspended on a usage limit, or between a goal's turns: it would
         * run again by itself; now it does not (issue #75). */
        if (ad_runner_halt(app->runner, id, on_agent_done, r) == 0) {
            return;
        }
        /* Not running: a queued start is cancelled (issue #77); else
         * nothing was done, and the answer says so. */
        ad_runner_queue_cancel(app->runner, id, true, on_agent_done, r);
        return;
    }
    if (wait) {
        return;
    }
    /* The stop is kept with the run (a daemon restarted meanwhile carries
     * it on): the 202 goes once that is committed. */
    ad_runner_stop_kept(app->runner, app->store, id, answer_stopping, r);
}

static void pause_resume(ad_req_t *r, ad_app_t *app, bool pause)
{
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL) ||
        ad_api_forwarded(app, r, id, false)) {
        return;
    }
    int rc = pause ? ad_runner_pause(app->runner, id, on_agent_done, r)
                   : ad_runner_resume(app->runner, id, on_agent_done, r);
    if (rc == AD_ENOENT) {
        ad_row_agent_t a;
        int grc = ad_store_agent_row(app->store, id, &a);
        ad_row_agent_cleanup(&a);
        if (grc != 0) {
            ad_api_fail(r, AD_ENOENT, "agent", id);
            return;
        }
        ad_res_error_code(r, AD_ESTATE, NULL, "agent %s is not running", id);
    } else if (rc == AD_ESTATE) {
        ad_res_error_code(r, rc, NULL, "agent %s is %s", id,
                          pause ? "already paused" : "not paused");
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "%s failed: %s", pause ? "pause" : "resume",
                          ad_strerror(rc));
    }
}

static void pause_h(ad_req_t *r, void *ud)
{
    pause_resume(r, ud, true);
}

/* POST /api/agents/:id/resume: an agent suspended on a usage limit
 * resumes now (what its timer would do at the reset, so a write token may
 * ask it); a paused one gets SIGCONT. */
static void resume_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL) ||
        ad_api_forwarded(app, r, id, false)) {
        return;
    }
    char err[512] = "";
    int rc = ad_runner_unsuspend(app->runner, id, on_agent_done, r, err, sizeof(err));
    if (rc == AD_ENOENT) {
        pause_resume(r, ud, false);
    } else if (rc != 0) {
        refuse(r, rc, id, err);
    }
}

static void message(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, org) ||
        ad_api_forwarded(app, r, id, false)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *content = NULL;
    json_t *goal = NULL;
    if (ad_api_str(r, body, "content", true, PROMPT_MAX, &content) != 0 ||
        goal_of(r, body, &goal) != 0 || ad_api_usage_refused(app, r, forced(r, body))) {
        json_decref(goal);
        json_decref(body);
        return;
    }
    char err[512] = "";
    int rc = ad_runner_message(app->runner, id, content, on_result_done, r, err, sizeof(err));
    if (rc == 0 && goal != NULL) { /* checked from this turn's end on */
        ad_runner_goal_set(app->runner, id, org, goal);
    }
    json_decref(goal);
    if (rc == AD_ESTATE) {
        ad_row_agent_t a;
        int grc = ad_store_agent_row(app->store, id, &a);
        ad_row_agent_cleanup(&a);
        if (grc != 0) {
            ad_api_fail(r, AD_ENOENT, "agent", id);
        } else {
            ad_res_error_code(r, rc, NULL, "%s", err);
        }
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "%s", err);
    }
    json_decref(body);
}

static void runs_of_agent(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    int64_t limit = 100;
    bool has = false;
    if (ad_api_query_int(r, "limit", 1, 1000, &has, &limit) != 0) {
        return;
    }
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL)) {
        return;
    }
    json_t *out = NULL;
    int rc = ad_store_run_list(app->store, id, (int)limit, &out);
    ad_api_answer(r, rc, out, "runs", id);
}

static void run_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, NULL)) {
        return;
    }
    json_t *run = NULL;
    int rc = ad_runner_run_view(app->runner, app->store, id, &run);
    ad_api_answer(r, rc, run, "run", id);
}

/* ---- a run's identity (issue #35) ---------------------------------------------- */

/* The run is stored (and run_update published by src/run). */
static void patch_done(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "run", ad_req_param(r, "id"));
    } else {
        ad_res_json(r, 200, json_incref(result));
    }
    json_decref(result);
}

/* PATCH /api/runs/:id {name?, color?, tags?, notes?, group?}: write scope
 * (the route) and the run's org (ad_api_visible: another org's run is a
 * 404). Only what the body names changes; null resets a field. */
static void run_patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_STORE_ROW_RUN, id, org)) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *set = json_object();
    ad_field_err_t e;
    int bad = ad_run_patch_check(body, set, &e);
    json_decref(body);
    if (bad != 0) {
        ad_api_invalid_err(r, &e);
        json_decref(set);
        return;
    }
    ad_run_patch_save(app->store, app->bus, id, org, set, patch_done, r);
}

void ad_api_runs_register(ad_app_t *app)
{
    if (app->runner == NULL) {
        return;
    }
    ad_server_route(app->server, "POST", "/api/agents/:id/start", AD_ACCESS_ADMIN, start, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/stop", AD_ACCESS_WRITE, stop, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/pause", AD_ACCESS_WRITE, pause_h, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/resume", AD_ACCESS_WRITE, resume_h, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/message", AD_ACCESS_ADMIN, message, app);
    ad_server_route(app->server, "GET", "/api/agents/:id/runs", AD_ACCESS_READ, runs_of_agent, app);
    ad_server_route(app->server, "GET", "/api/runs/:id", AD_ACCESS_READ, run_get, app);
    ad_server_route(app->server, "PATCH", "/api/runs/:id", AD_ACCESS_WRITE, run_patch, app);
}
