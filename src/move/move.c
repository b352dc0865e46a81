/* SPDX-License-Identifier: MIT */
/*
 * POST /api/agents/:id/move {node} (issue #76, move.h): checked whole
 * before anything is touched, then the steps, each in the completion of
 * the one before:
 *   1. stop: the runner's ordinary stop (not forced), whose completion
 *      comes once the process has exited and the run's end is stored. A
 *      run on a node ends only after the node pushed its work home
 *      (what it left uncommitted committed first; docs/nodes.md), so the
 *      control plane's worktree has it.
 *   2. carry: going from the control plane to a node, what its worktree
 *      has uncommitted is committed (a node gets a bundle of HEAD).
 *   3. place: state.node set (placement dropped) in the store.
 *   4. note: `moved` in the transcript, agent_moved on its topics.
 *   5. start: the runner's ordinary start, there; the answer is 200
 *      {agent, moved}. A stopped agent is only placed (steps 3, 4).
 * Exactly once holds per run, as for any run (the holder's offsets); the
 * agent's transcript goes on with the new run's lines after the old
 * run's last, since the new run starts only after the old one's end is
 * stored.
 */
#include "move/move_int.h"

#include "auth/auth.h"
#include "http/http.h"
#include "node/node.h"
#include "run/run.h"
#include "tables/agents.h"
#include "tables/workspaces.h"
#include "git/git.h"
#include "wtree/wtree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the moves under way ---------------------------------------------------------------- */

static ad_move_t *find(ad_mover_t *m, const char *agent_id)
{
    for (ad_move_t *v = m->moves; v != NULL; v = v->next) {
        if (strcmp(v->agent_id, agent_id) == 0) {
            return v;
        }
    }
    return NULL;
}

static void unlink_move(ad_move_t *v)
{
    if (v->m == NULL) {
        return;
    }
    for (ad_move_t **p = &v->m->moves; *p != NULL; p = &(*p)->next) {
        if (*p == v) {
            *p = v->next;
            break;
        }
    }
    v->m = NULL;
}

void ad_move_detach_all(ad_mover_t *m)
{
    while (m->moves != NULL) {
        ad_move_t *v = m->moves;
        m->moves = v->next;
        v->m = NULL;
        if (v->wait_end != 0) { /* no step of its is under way: nothing comes back */
            free(v);
        }
    }
}

/* The move ends: answered by the caller, taken off the list, freed. */
static void finish(ad_move_t *v)
{
    unlink_move(v);
    free(v);
}

/* The move failed at a step: answered with what (prefixed with where it
 * got to) and reason. */
static void fail(ad_move_t *v, int rc, const char *reason, const char *prefix, const char *what)
{
    ad_log(AD_LOG_WARN, "move", "move failed agent=%s to=%s err=\"%s%s\"", v->agent_id,
           v->to[0] != '\0' ? v->to_name : "control plane", prefix, what);
    ad_res_error_code(v->req, rc, json_pack("{s:s, s:s}", "reason", reason, "agentId", v->agent_id),
                      "%s%s", prefix, what);
    finish(v);
}

/* A step after the stop failed: the agent goes on where it was (its place
 * is not changed before its work and session have gone), and the answer
 * says so. */
static void fail_after_stop(ad_move_t *v, int rc, const char *reason, const char *prefix,
                            const char *what)
{
    char err[300] = "";
    bool again =
        v->running && v->m != NULL &&
        ad_runner_start(v->m->app->runner, v->agent_id, NULL, NULL, NULL, err, sizeof(err)) == 0;
    ad_log(AD_LOG_WARN, "move", "move failed after the stop agent=%s err=\"%s%s\" restarted=%d",
           v->agent_id, prefix, what, again);
    ad_res_error_code(v->req, rc,
                      json_pack("{s:s, s:s, s:b}", "reason", reason, "agentId", v->agent_id,
                                "restartedWhereItWas", again),
                      "%s%s%s", prefix, what, again ? "; it goes on where it was" : "");
    finish(v);
}

/* ---- the steps ----------------------------------------------------------------------- */

static json_t *moved_json(const ad_move_t *v)
{
    return json_pack("{s:s?, s:s?, s:s?, s:s?, s:b}", "fromNode",
                     v->from[0] != '\0' ? v->from : NULL, "fromName",
                     v->from[0] != '\0' ? v->from_name : NULL, "toNode",
                     v->to[0] != '\0' ? v->to : NULL, "toName",
                     v->to[0] != '\0' ? v->to_name : NULL, "restarted", v->running);
}

static void started(int rc, json_t *result, const char *msg, void *ud)
{
    ad_move_t *v = ud;
    if (rc != 0) {
        fail(v, rc, "start_failed",
             "moved, but it did not start there: ", msg != NULL ? msg : ad_strerror(rc));
        return;
    }
    ad_res_json(
        v->req, 200,
        json_pack("{s:O, s:o}", "agent", json_object_get(result, "agent"), "moved", moved_json(v)));
    finish(v);
}

static void noted_and_start(ad_move_t *v)
{
    char text[400];
    ad_move_note_text(v->from[0] != '\0' ? v->from_name : NULL,
                      v->to[0] != '\0' ? v->to_name : NULL, v->running, text, sizeof(text));
    ad_app_t *app = v->m->app;
    ad_runner_moved_note(app->runner, v->agent_id, text, moved_json(v));
    if (!v->running) {
        json_t *agent = NULL;
        if (ad_store_agent_get(app->store, v->agent_id, &agent) != 0) {
            fail(v, AD_EIO, "store", "", "the moved agent could not be read");
            return;
        }
        ad_runner_agent_live(app->runner, agent);
        ad_res_json(v->req, 200, json_pack("{s:o, s:o}", "agent", agent, "moved", moved_json(v)));
        finish(v);
        return;
    }
    char err[512] = "";
    int rc = ad_runner_start(app->runner, v->agent_id, NULL, started, v, err, sizeof(err));
    if (rc != 0) {
        fail(v, rc, "start_failed",
             "moved, but it did not start there: ", err[0] != '\0' ? err : ad_strerror(rc));
    }
}

static void placed(int rc, json_t *result, void *ud)
{
    ad_move_t *v = ud;
    if (v->m == NULL) {
        json_decref(result);
        ad_res_error(v->req, 503, "UNAVAILABLE", NULL, "agentd is closing");
        free(v);
        return;
    }
    if (rc != 0) {
        json_decref(result);
        fail(v, rc, "store", "the agent's place was not stored: ", ad_strerror(rc));
        return;
    }
    /* agent_update, as a PATCH of its place says it: the dashboard's row
     * shows where it runs */
    json_t *a = json_object_get(result, "agent");
    if (a != NULL) {
        ad_run_agent_publish(v->m->app->bus, a, a,
                             json_string_value(json_object_get(result, "workspaceId")));
    }
    json_decref(result);
    noted_and_start(v);
}

static void place(ad_move_t *v)
{
    ad_app_t *app = v->m->app;
    json_t *args = json_pack("{s:s, s:I, s:n}", "id", v->agent_id, "now", (json_int_t)ad_wall_ms(),
                             "placement");
    json_object_set_new(args, "node", v->to[0] != '\0' ? json_string(v->to_name) : json_null());
    ad_store_write(app->store, ad_store_op_agent_update, args, placed, v);
}

static void session_done(ad_move_t *v, int rc, const char *why)
{
    if (v->m == NULL) {
        ad_res_error(v->req, 503, "UNAVAILABLE", NULL, "agentd is closing");
        free(v);
        return;
    }
    if (rc != 0) {
        fail_after_stop(v, rc, "session_not_carried",
                        "its Claude session did not go: ", why != NULL ? why : ad_strerror(rc));
        return;
    }
    place(v);
}

/* The work is where it goes: the session next (a Claude agent), then the
 * place. */
static void work_carried(ad_move_t *v)
{
    if (v->claude) {
        ad_move_session(v, session_done);
    } else {
        place(v);
    }
}

static void committed(void *ud, const ad_wtree_out_t *out)
{
    ad_move_t *v = ud;
    if (v->m == NULL) {
        ad_res_error(v->req, 503, "UNAVAILABLE", NULL, "agentd is closing");
        free(v);
        return;
    }
    bool nothing = out->rc == AD_ESTATE && out->git != NULL &&
                   strcmp(out->git->err.reason, "nothing_to_commit") == 0;
    if (out->rc != 0 && !nothing) {
        const char *why = out->git != NULL ? out->git->err.msg : out->msg;
        fail_after_stop(v, out->rc, "carry_failed",
                        "its uncommitted work could not be committed to carry it: ",
                        why != NULL ? why : ad_strerror(out->rc));
        return;
    }
    work_carried(v);
}

/* Going out to a node: the worktree's uncommitted work committed first. */
static void carry(ad_move_t *v)
{
    ad_app_t *app = v->m->app;
    json_t *wt = NULL;
    if (v->from[0] != '\0' || v->to[0] == '\0' || v->wt_id[0] == '\0' || app->wtree == NULL ||
        ad_store_worktree_get(app->store, v->wt_id, &wt) != 0) {
        json_decref(wt);
        work_carried(v);
        return;
    }
    char msg[320];
    snprintf(msg, sizeof(msg), "agentd: work of agent %s left uncommitted, carried to node %s",
             v->agent_id, v->to_name);
    json_t *body = json_pack("{s:s, s:b}", "message", msg, "all", 1);
    ad_git_args_t a;
    ad_wtree_req_err_t err;
    if (ad_wtree_req_write(AD_GIT_OP_COMMIT, wt, body, &a, &err) != 0) {
        fail_after_stop(v, AD_EINVAL, "carry_failed",
                        "its work could not be committed: ", err.e.why);
    } else {
        ad_wtree_write(app->wtree, wt, "commit", AD_GIT_OP_COMMIT, &a, committed, v);
    }
    json_decref(body);
    json_decref(wt);
}

static void stopped(int rc, json_t *result, const char *msg, void *ud);

/* Stopped now, at the executor's safe point (a command's stopWith; a
 * Claude Code between turns). */
static void stop_now(ad_move_t *v)
{
    int rc = ad_runner_stop(v->m->app->runner, v->agent_id, false, stopped, v);
    if (rc == AD_ENOENT) { /* it ended meanwhile: placed for its next start */
        v->running = false;
        carry(v);
    } else if (rc != 0) {
        fail(v, rc, "stop_failed", "it did not stop: ", ad_strerror(rc));
    }
}

static void stopped(int rc, json_t *result, const char *msg, void *ud)
{
    ad_move_t *v = ud;
    AD_UNUSED(result);
    if (v->m == NULL) {
        ad_res_error(v->req, 503, "UNAVAILABLE", NULL, "agentd is closing");
        free(v);
        return;
    }
    if (rc != 0) {
        fail(v, rc, "stop_failed", "it did not stop: ", msg != NULL ? msg : ad_strerror(rc));
        return;
    }
    carry(v);
}

/* ---- the checks ------------------------------------------------------------------------ */

/* The node's name (row of ad_plane_node), into out. */
static void node_name(ad_plane_t *p, const char *id, char *out, size_t outsz)
{
    json_t *n = p != NULL && id[0] != '\0' ? ad_plane_node(p, id) : NULL;
    const char *s = json_string_value(json_object_get(n, "name"));
    snprintf(out, outsz, "%s", s != NULL ? s : id);
    json_decref(n);
}

/* Where the agent is: its live run's node, else the node its state names
 * ("" the control plane). */
static void where_now(ad_app_t *app, const ad_row_agent_t *a, const char *org, ad_move_t *v)
{
    v->running = ad_runner_agent_node(app->runner, a->id, v->from);
    const char *name = json_string_value(json_object_get(a->state, "node"));
    if (!v->running && name != NULL && name[0] != '\0' && app->plane != NULL) {
        bool connected = false;
        if (ad_plane_find(app->plane, org, name, v->from, &connected) != 0) {
            v->from[0] = '\0';
        }
    }
    node_name(app->plane, v->from, v->from_name, sizeof(v->from_name));
}

/* Whether the executor can go on elsewhere: a command starts again in its
 * carried worktree; a Claude Code resumes its session from its session
 * file, carried (session.c), unless the file is somewhere agentd does not
 * arrange (CLAUDE_CONFIG_DIR in its environment). */
static bool executor_ok(ad_req_t *r, const ad_row_agent_t *a, ad_move_t *v)
{
    json_t *env = json_object_get(a->state, "env");
    const char *why = NULL;
    if (a->executor == AD_ROW_EXECUTOR_COMMAND) {
        return true;
    }
    if (a->executor == AD_ROW_EXECUTOR_CLAUDE &&
        json_object_get(env, "CLAUDE_CONFIG_DIR") == NULL) {
        v->claude = true;
        return true;
    }
    why = a->executor == AD_ROW_EXECUTOR_CLAUDE
              ? "its environment names CLAUDE_CONFIG_DIR, so agentd does not know where its "
                "session file is"
              : "only command and Claude Code agents move";
    ad_res_error(r, 422, "EXECUTOR_CANNOT_RESUME",
                 json_pack("{s:s, s:s}", "reason", "executor_cannot_resume", "executor",
                           ad_row_executor_name(a->executor)),
                 "a %s agent cannot resume its session on another machine: %s",
                 ad_row_executor_name(a->executor), why);
    return false;
}

/* The target: "" for the control plane, else a node of org that is
 * linked, takes new runs and could run the agent. false after answering. */
static bool target_ok(ad_app_t *app, ad_req_t *r, const ad_row_agent_t *a, const char *org,
                      ad_move_t *v)
{
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return false;
    }
    json_t *node = json_object_get(body, "node");
    bool ok = false;
    const char *k;
    json_t *x;
    json_object_foreach(body, k, x)
    {
        if (strcmp(k, "node") != 0) {
            ad_res_error(r, 422, "INVALID",
                         json_pack("{s:s, s:s}", "field", k, "reason", "unknown_field"),
                         "%s: not a field of a move (only node)", k);
            goto out;
        }
    }
    if (node == NULL || !(json_is_null(node) || json_is_string(node)) ||
        (json_is_string(node) && !ad_run_node_name_ok(json_string_value(node)))) {
        ad_res_error(r, 422, "INVALID", json_pack("{s:s}", "field", "node"),
                     "node: a node's name or id, or null for the control plane");
        goto out;
    }
    if (json_is_string(node)) {
        const char *name = json_string_value(node);
        bool connected = false;
        if (app->plane == NULL || ad_plane_find(app->plane, org, name, v->to, &connected) != 0) {
            ad_res_error(r, 422, "INVALID",
                         json_pack("{s:s, s:s}", "field", "node", "reason", "no_such_node"),
                         "no node named %s in the agent's organisation", name);
            goto out;
        }
        node_name(app->plane, v->to, v->to_name, sizeof(v->to_name));
        char why[256] = "";
        bool busy = false;
        json_t *row = ad_plane_node(app->plane, v->to);
        const char *cli =
            a->executor == AD_ROW_EXECUTOR_COMMAND ? NULL : ad_row_executor_name(a->executor);
        if (!connected) {
            ad_res_error(r, 409, "CONFLICT",
                         json_pack("{s:s, s:s}", "node", v->to_name, "reason", "node_away"),
                         "node %s is not connected", v->to_name);
        } else if (ad_node_room(row, why, sizeof(why)) != 0) {
            ad_res_error(r, 409, "CONFLICT",
                         json_pack("{s:s, s:s}", "node", v->to_name, "reason", "node_closed"),
                         "node %s takes no new run now: %s", v->to_name, why);
        } else if (!ad_node_fits(row, NULL, cli, 0, &busy, why, sizeof(why))) {
            ad_res_error(r, busy ? 409 : 422, busy ? "CONFLICT" : "INVALID",
                         json_pack("{s:s, s:s}", "node", v->to_name, "reason", "node_unfit"),
                         "node %s cannot run the agent: %s", v->to_name, why);
        } else {
            ok = true;
        }
        json_decref(row);
    } else {
        ok = true;
    }
out:
    json_decref(body);
    return ok;
}

/* Whether node id's link is up now. */
static bool node_linked(ad_app_t *app, const char *id)
{
    json_t *n = app->plane != NULL ? ad_plane_node(app->plane, id) : NULL;
    bool up = json_is_true(json_object_get(n, "connected"));
    json_decref(n);
    return up;
}

/* Whether a start of agent id waits in its org's node queue. */
static bool queued(ad_app_t *app, const char *org, const char *id)
{
    json_t *q = NULL;
    bool found = false;
    if (ad_runner_queue_list(app->runner, org, &q) == 0) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(q, "queue") != NULL ? json_object_get(q, "queue") : q, i,
                           item)
        {
            const char *a = json_string_value(json_object_get(item, "agentId"));
            found = found || (a != NULL && strcmp(a, id) == 0);
        }
    }
    json_decref(q);
    return found;
}

/* The agent itself: not stopping, not waiting on an approval, not moving. */
static bool agent_ok(ad_mover_t *m, ad_req_t *r, const ad_row_agent_t *a, const ad_move_t *v)
{
    const char *code = a->status_reason != NULL ? a->status_reason->code : NULL;
    ad_move_state_t st = {.moving = find(m, a->id) != NULL,
                          .archived = a->has_deleted_at,
                          .stopping = ad_runner_stopping(m->app->runner, a->id, NULL, NULL),
                          .queued = !v->running &&
                                    queued(m->app, a->org_id != NULL ? a->org_id : "", a->id),
                          .running = v->running,
                          .approval = code != NULL && strcmp(code, "approval_requested") == 0,
                          .from = v->from,
                          .to = v->to,
                          .from_linked = v->from[0] == '\0' || node_linked(m->app, v->from)};
    const char *why = NULL;
    const char *reason = ad_move_refusal(&st, &why);
    if (reason == NULL) {
        return true;
    }
    ad_res_error(r, 409, "CONFLICT", json_pack("{s:s, s:s}", "reason", reason, "agentId", a->id),
                 "%s", why);
    return false;
}

/* Running, checked: stopped now, or once its turn has ended (the tick). */
static void go_on(ad_move_t *v)
{
    if (v->mid_turn) {
        v->wait_end = (int64_t)ad_mono_ms() + AD_MOVE_TURN_WAIT_MS;
    } else {
        stop_now(v);
    }
}

static void home_checked(const ad_git_result_t *res, void *ud)
{
    ad_move_t *v = ud;
    if (v->m == NULL) {
        ad_res_error(v->req, 503, "UNAVAILABLE", NULL, "agentd is closing");
        free(v);
        return;
    }
    if (res->rc == 0 && !json_is_true(json_object_get(res->data, "isClean"))) {
        fail(v, AD_ESTATE, "worktree_changed", "",
             "the control plane's copy of the agent's worktree has changes of its own, so its "
             "work on the node would wait for review instead of landing on it: commit or "
             "discard them first");
        return;
    }
    if (res->rc != 0) {
        ad_log(AD_LOG_WARN, "move", "the worktree here was not read agent=%s err=\"%s\"",
               v->agent_id, res->err.msg);
    }
    go_on(v);
}

/* Leaving a node: its work comes home at the run's end and lands on the
 * control plane's copy of the worktree only when that copy has nothing of
 * its own (docs/nodes.md); so that copy is read first (here, never the
 * node's, as a route's status would be while the run is there). */
static void check_home(ad_move_t *v)
{
    ad_app_t *app = v->m->app;
    json_t *wt = NULL, *ws = NULL;
    if (v->wt_id[0] == '\0' || ad_store_worktree_get(app->store, v->wt_id, &wt) != 0 ||
        ad_store_workspace_get(app->store, json_string_value(json_object_get(wt, "workspaceId")),
                               &ws) != 0) {
        json_decref(wt);
        json_decref(ws);
        go_on(v);
        return;
    }
    ad_git_args_t a = {.path = json_string_value(json_object_get(wt, "path")),
                       .trust_repo = json_string_value(json_object_get(ws, "path"))};
    if (a.path == NULL || a.trust_repo == NULL ||
        ad_git_queue(app->loop, AD_GIT_OP_STATUS, &a, home_checked, v) != 0) {
        go_on(v);
    }
    json_decref(wt);
    json_decref(ws);
}

void ad_move_route(ad_req_t *r, void *ud)
{
    ad_mover_t *m = ud;
    ad_app_t *app = m->app;
    const char *id = ad_req_param(r, "id");
    char org[AD_ID_MAX];
    const ad_principal_t *who = ad_auth_principal(r);
    if (who == NULL || ad_auth_row_org(app->store, who, AD_STORE_ROW_AGENT, id, org) != 0) {
        ad_res_error_code(r, AD_ENOENT, json_pack("{s:s}", "id", id != NULL ? id : ""),
                          "agent not found");
        return;
    }
    ad_row_agent_t a = {0};
    if (ad_store_agent_row(app->store, id, &a) != 0) {
        ad_row_agent_cleanup(&a);
        ad_res_error_code(r, AD_ENOENT, json_pack("{s:s}", "id", id), "agent not found");
        return;
    }
    ad_move_t *v = ad_xcalloc(1, sizeof(*v));
    snprintf(v->agent_id, sizeof(v->agent_id), "%s", id);
    snprintf(v->wt_id, sizeof(v->wt_id), "%s", a.worktree_id != NULL ? a.worktree_id : "");
    where_now(app, &a, org, v);
    if (!executor_ok(r, &a, v) || !target_ok(app, r, &a, org, v) || !agent_ok(m, r, &a, v)) {
        ad_row_agent_cleanup(&a);
        free(v);
        return;
    }
    v->mid_turn = v->claude && v->running && a.status == AD_ROW_AGENT_STATUS_RUNNING;
    ad_row_agent_cleanup(&a);
    snprintf(v->org, sizeof(v->org), "%s", org);
    v->m = m;
    v->req = r;
    v->next = m->moves;
    m->moves = v;
    ad_log(AD_LOG_INFO, "move", "moving agent=%s from=%s to=%s running=%d", id,
           v->from[0] != '\0' ? v->from_name : "control plane",
           v->to[0] != '\0' ? v->to_name : "control plane", v->running);
    if (!v->running) {
        carry(v);
    } else if (v->from[0] != '\0') {
        check_home(v);
    } else {
        go_on(v);
    }
}

/* A Claude agent's turn is over when it waits for a message (not on an
 * approval: that turn goes on once answered). */
static bool turn_over(ad_mover_t *m, ad_move_t *v, bool *gone)
{
    *gone = !ad_runner_is_running(m->app->runner, v->agent_id);
    ad_row_agent_t a = {0};
    bool over = false;
    if (!*gone && ad_store_agent_row(m->app->store, v->agent_id, &a) == 0) {
        const char *code = a.status_reason != NULL ? a.status_reason->code : NULL;
        over = a.status != AD_ROW_AGENT_STATUS_RUNNING &&
               !(code != NULL && strcmp(code, "approval_requested") == 0);
    }
    ad_row_agent_cleanup(&a);
    return over;
}

void ad_move_tick(uv_timer_t *t)
{
    ad_mover_t *m = t->data;
    int64_t now = (int64_t)ad_mono_ms();
    for (ad_move_t *v = m->moves, *next; v != NULL; v = next) {
        next = v->next;
        if (v->wait_end == 0) {
            continue;
        }
        bool gone = false;
        if (turn_over(m, v, &gone)) {
            v->wait_end = 0;
            stop_now(v);
        } else if (gone) { /* it ended meanwhile: placed for its next start */
            v->wait_end = 0;
            v->running = false;
            carry(v);
        } else if (now >= v->wait_end) {
            fail(v, AD_ESTATE, "turn_running", "",
                 "the agent's turn did not end in 10 minutes: move it between turns");
        }
    }
}
