/* SPDX-License-Identifier: MIT */
/*
 * Goals (issue #75): an agent that runs itself until a check passes.
 *
 * POST /api/agents/:id/start and .../message take goal {check: [argv],
 * prompt, maxTurns, maxCost?, timeoutSec?}. After each turn of the agent
 * (feat_goal.c says when one ended) agentd runs the check in the agent's
 * worktree, with its environment and in its sandbox, as a start would
 * (ad_run_check_prepare), bounded in time (timeoutSec, 60 s by default:
 * then killed, which fails it) and output (its last AD_RUN_GOAL_OUT bytes
 * are kept). Exit 0: the goal is met. Otherwise, while turns and cost are
 * under the limits, agentd sends `prompt` and the check's output as the
 * agent's next message (into the live process, or as a new run of the same
 * session: a one-turn CLI's, a command's, a Claude Code that has exited).
 * Each check is a system message in the transcript; the agent's
 * statusReason says goal_met, goal_failed (a limit reached, the turn
 * failed, the check could not run) or goal_turn (which turn of how many);
 * state.goal keeps the goal and its progress {turn, cost, status}.
 *
 * The runner keeps a table of the agents' goals (one per agent; a new goal
 * replaces the old). Ownership: a goal is the table's; taken out while its
 * check runs, the check's end frees it. Threads: loop thread only.
 */
#include "run/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AD_RUN_GOAL_OUT 4096     /* the check's output kept: its last bytes */
#define AD_RUN_GOAL_TIMEOUT_S 60 /* the check's default time bound */
#define AD_RUN_GOAL_TIMEOUT_MAX_S 3600
#define AD_RUN_GOAL_TURNS_MAX 1000
#define AD_RUN_GOAL_ARGS_MAX 64
#define AD_RUN_GOAL_ARG_MAX 4096
#define AD_RUN_GOAL_PROMPT_MAX (64 * 1024)

typedef struct goal {
    struct goal *next;
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char ws[AD_ID_MAX]; /* its workspace, as its last check found it, or "" */
    json_t *spec;       /* {check, prompt, maxTurns, maxCost?, timeoutSec?} */
    int64_t turn;       /* turns ended under the goal */
    double cost;        /* what they cost (USD) */
    bool out;           /* taken out of the table (replaced, stopped) while its check ran */
    /* the check under way */
    bool checking;
    ad_run_start_t *s; /* what it runs with (owned while it runs) */
    ad_terms_t *terms;
    char term[AD_TERM_ID_MAX];
    uv_timer_t timer; /* its time bound, then the step after its exit */
    bool timer_on, timed_out;
    int code;        /* -1: none (a signal) */
    char sig[16];    /* the signal that ended it, or "" */
    json_t *outcome; /* the terminal's output answer */
} goal_t;

struct ad_run_goals {
    goal_t *head;
};

static goal_t **find(const ad_runner_t *r, const char *agent_id)
{
    if (r->goals == NULL) {
        return NULL;
    }
    goal_t **p = &r->goals->head;
    while (*p != NULL && strcmp((*p)->agent_id, agent_id) != 0) {
        p = &(*p)->next;
    }
    return *p != NULL ? p : NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    goal_t *g = h->data;
    json_decref(g->spec);
    json_decref(g->outcome);
    free(g);
}

/* Frees g (its check's process, if any, is killed). */
static void goal_free(goal_t *g)
{
    ad_terms_free(g->terms);
    g->terms = NULL;
    if (g->s != NULL) {
        ad_run_start_cleanup(g->s);
        free(g->s);
        g->s = NULL;
    }
    if (g->timer_on) {
        uv_close((uv_handle_t *)&g->timer, on_timer_closed);
        return;
    }
    json_decref(g->spec);
    json_decref(g->outcome);
    free(g);
}

/* Out of the table; freed now, or by its check's end. */
static void take_out(goal_t **p)
{
    goal_t *g = *p;
    *p = g->next;
    g->next = NULL;
    g->out = true;
    if (!g->checking) {
        goal_free(g);
    } else if (g->terms != NULL) { /* its check is killed; its end frees it */
        ad_terms_call(g->terms, "kill", g->term, "kill");
    }
}

bool ad_run_goal_active(const ad_runner_t *r, const char *agent_id)
{
    return find(r, agent_id) != NULL;
}

/* ---- the goal as stored, the transcript, the status ----------------------------- */

/* state.goal: the spec and the progress, status active|met|failed|stopped. */
static json_t *stored(const goal_t *g, const char *status)
{
    json_t *o = json_deep_copy(g->spec);
    json_object_set_new(o, "turn", json_integer(g->turn));
    json_object_set_new(o, "cost", json_real(g->cost));
    json_object_set_new(o, "status", json_string(status));
    return o;
}

/* The agent's statusReason (code goal_*), and state.goal as it is now;
 * its status is published once stored (ad_run_agent_write). */
static void say_status(goal_t *g, const char *status, const char *code, const char *text)
{
    ad_store_agent_runtime_t u = {.context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", g->agent_id);
    u.now = ad_wall_ms();
    ad_status_reason_set(&u.why, code, NULL, "%s", text);
    u.state_patch = json_pack("{s:o, s:s}", "goal", stored(g, status), "statusReason", text);
    ad_run_agent_write(g->r, &u, false, NULL, NULL);
}

/* A system message of no run in the agent's transcript, on its agent's,
 * workspace's (once a check has known it) and organisation's topics. It is
 * written in its turn behind what waits for space, as the goal's status
 * after it is (ad_run_note_system). */
static void note(goal_t *g, const char *text)
{
    ad_run_topics_t t;
    ad_run_topics_init(&t, g->agent_id, NULL, g->ws, g->org, NULL);
    ad_run_note_system(g->r, &t, g->agent_id, NULL, text);
}

/* The check as one line, for people: its argv joined by spaces. */
static void check_line(const goal_t *g, char *out, size_t outsz)
{
    size_t n = 0, i;
    json_t *a;
    out[0] = '\0';
    json_array_foreach(json_object_get(g->spec, "check"), i, a)
    {
        int k = snprintf(out + n, outsz - n, "%s%s", i > 0 ? " " : "", json_string_value(a));
        if (k < 0 || (size_t)k >= outsz - n) {
            break;
        }
        n += (size_t)k;
    }
}

static int64_t max_turns(const goal_t *g)
{
    return (int64_t)json_integer_value(json_object_get(g->spec, "maxTurns"));
}

/* The goal ends (met, failed, stopped): said, stored, out of the table. */
static void finish(goal_t *g, const char *status, const char *code, const char *text)
{
    ad_log(AD_LOG_INFO, "runner", "goal ended agent=%s status=%s turn=%lld", g->agent_id, status,
           (long long)g->turn);
    say_status(g, status, code, text);
    goal_t **p = find(g->r, g->agent_id);
    if (p != NULL && *p == g) {
        take_out(p);
    }
}

/* ---- the next turn -------------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    char text[256];
} sent_t;

static void on_sent(int rc, json_t *result, const char *msg, void *ud)
{
    AD_UNUSED(result);
    sent_t *c = ud;
    goal_t **p = find(c->r, c->agent_id);
    if (p != NULL) {
        if (rc == 0) {
            say_status(*p, "active", "goal_turn", c->text);
        } else {
            char why[400];
            snprintf(why, sizeof(why), "goal failed: the next turn could not start: %s",
                     msg != NULL ? msg : ad_strerror(rc));
            finish(*p, "failed", "goal_failed", why);
        }
    }
    free(c);
}

/* prompt and the check's output as the agent's next message: into its live
 * process, or a new run of its session. */
static void next_turn(goal_t *g, const char *output)
{
    const char *prompt = json_string_value(json_object_get(g->spec, "prompt"));
    char line[1024];
    check_line(g, line, sizeof(line));
    size_t len = strlen(prompt) + strlen(line) + strlen(output) + 128;
    char *text = ad_xmalloc(len);
    snprintf(text, len, "%s\n\nThe check `%s` exited %d:\n%s", prompt, line, g->code, output);
    sent_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = g->r;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", g->agent_id);
    snprintf(c->text, sizeof(c->text),
             "goal turn %lld of %lld: the check failed (exit %d), the prompt was sent again",
             (long long)g->turn + 1, (long long)max_turns(g), g->code);
    char err[512] = "";
    int rc = ad_runner_message(g->r, g->agent_id, text, on_sent, c, err, sizeof(err));
    if (rc == AD_ESTATE && !ad_runner_is_running(g->r, g->agent_id)) {
        /* a command, or a CLI whose process has ended: a new run */
        err[0] = '\0';
        rc = ad_runner_start(g->r, g->agent_id, text, on_sent, c, err, sizeof(err));
    }
    free(text);
    char detail[300];
    snprintf(detail, sizeof(detail), "goal turn %lld of %lld: %.200s", (long long)g->turn + 1,
             (long long)max_turns(g), rc == 0 ? "the prompt sent" : err);
    ad_run_audit(g->r, g->org, g->agent_id, "GOAL", "/api/agents/:id/message", rc == 0 ? 200 : 409,
                 detail);
    if (rc != 0) {
        free(c);
        char why[700];
        snprintf(why, sizeof(why), "goal failed: the next turn could not start: %s", err);
        finish(g, "failed", "goal_failed", why);
    }
}

/* ---- the check ---------------------------------------------------------------------- */

static void check_failed(goal_t *g, const char *why)
{
    char text[700];
    snprintf(text, sizeof(text), "goal failed: the check could not run: %s", why);
    note(g, text);
    finish(g, "failed", "goal_failed", text);
}

/* The check has exited (code, sig; output its last bytes): the decision. */
static void decide(goal_t *g, const char *output, bool truncated)
{
    char line[1024], text[AD_RUN_GOAL_OUT + 1400];
    check_line(g, line, sizeof(line));
    bool met = g->code == 0 && !g->timed_out;
    char how[96];
    if (g->timed_out) {
        snprintf(how, sizeof(how), "was killed after %llds",
                 (long long)json_integer_value(json_object_get(g->spec, "timeoutSec")));
    } else if (g->sig[0] != '\0') {
        snprintf(how, sizeof(how), "was killed by %s", g->sig);
    } else {
        snprintf(how, sizeof(how), "exited %d", g->code);
    }
    snprintf(text, sizeof(text), "goal check after turn %lld of %lld: `%.900s` %s: %s%s%s%s",
             (long long)g->turn, (long long)max_turns(g), line, how, met ? "met" : "not met",
             output[0] != '\0' ? "\n" : "", truncated ? "…" : "", output);
    note(g, text);
    double max_cost = json_number_value(json_object_get(g->spec, "maxCost"));
    char why[1400];
    if (met) {
        snprintf(why, sizeof(why), "goal met after turn %lld of %lld: `%.900s` exited 0",
                 (long long)g->turn, (long long)max_turns(g), line);
        finish(g, "met", "goal_met", why);
    } else if (g->turn >= max_turns(g)) {
        snprintf(why, sizeof(why), "goal failed: `%.900s` %s after %lld of %lld turns", line, how,
                 (long long)g->turn, (long long)max_turns(g));
        finish(g, "failed", "goal_failed", why);
    } else if (max_cost > 0 && g->cost >= max_cost) {
        snprintf(why, sizeof(why),
                 "goal failed: `%.900s` %s after turn %lld, and the goal's turns cost $%.4f of "
                 "its maxCost $%.4f",
                 line, how, (long long)g->turn, g->cost, max_cost);
        finish(g, "failed", "goal_failed", why);
    } else {
        if (g->timed_out) {
            output = "(the check was killed: it ran past its time bound)";
        }
        next_turn(g, output);
    }
}

/* Its exit is known: the output read, the check let go, the decision.
 * Runs from the timer, never inside the terminal set's own callback. */
static void after_exit(uv_timer_t *t)
{
    goal_t *g = t->data;
    /* the answer comes at once (the terminal has exited), into g->outcome */
    ad_terms_call(g->terms, "output", g->term, "output");
    const char *o = json_string_value(json_object_get(g->outcome, "output"));
    char *output = ad_xstrdup(o != NULL ? o : "");
    bool truncated = json_is_true(json_object_get(g->outcome, "truncated"));
    json_decref(g->outcome);
    g->outcome = NULL;
    ad_terms_free(g->terms);
    g->terms = NULL;
    ad_run_start_cleanup(g->s);
    free(g->s);
    g->s = NULL;
    g->checking = false;
    if (g->out) { /* replaced or stopped meanwhile */
        free(output);
        goal_free(g);
        return;
    }
    decide(g, output != NULL ? output : "", truncated);
    free(output);
}

static void on_deadline(uv_timer_t *t)
{
    goal_t *g = t->data;
    g->timed_out = true;
    ad_terms_call(g->terms, "kill", g->term, "kill");
}

/* The terminal set's answers: the wait (the exit), the output. */
static void on_answer(void *ud, const char *req, json_t *result, const char *error)
{
    goal_t *g = ud;
    if (strcmp(req, "output") == 0 && result != NULL) {
        json_decref(g->outcome);
        g->outcome = json_incref(result);
    } else if (strcmp(req, "wait") == 0) {
        json_t *code = json_object_get(result, "exitCode");
        const char *sig = json_string_value(json_object_get(result, "signal"));
        g->code = json_is_integer(code) && error == NULL ? (int)json_integer_value(code) : -1;
        snprintf(g->sig, sizeof(g->sig), "%s", sig != NULL ? sig : "");
        uv_timer_stop(&g->timer);
        uv_timer_start(&g->timer, after_exit, 0, 0);
    }
    json_decref(result);
}

static void check(goal_t *g)
{
    g->checking = true;
    g->timed_out = false;
    g->s = ad_xcalloc(1, sizeof(*g->s));
    char err[512] = "";
    int rc = ad_run_check_prepare(g->r, g->agent_id, g->s, err, sizeof(err));
    if (g->s->ws[0] != '\0') {
        snprintf(g->ws, sizeof(g->ws), "%s", g->s->ws);
    }
    if (rc != 0) {
        ad_run_start_cleanup(g->s);
        free(g->s);
        g->s = NULL;
        g->checking = false;
        check_failed(g, err);
        return;
    }
    /* its argv as given (env finds the program on the agent's PATH) */
    json_t *args = json_pack("[s]", "--");
    json_array_extend(args, json_object_get(g->spec, "check"));
    json_t *params = json_pack("{s:s, s:o, s:i}", "command", "/usr/bin/env", "args", args,
                               "outputByteLimit", AD_RUN_GOAL_OUT);
    ad_run_start_t *s = g->s;
    ad_terms_how_t how = {.cwd = s->path,
                          .env = (const char *const *)s->env,
                          .limits = NULL,
                          .sandbox =
                              s->sbx.box.none || s->sbx.box.home == NULL ? NULL : &s->sbx.box.sb,
                          .who = g->agent_id};
    g->terms = ad_terms_new(g->r->procs, on_answer, g);
    rc = ad_terms_create(g->terms, params, &how, g->term, err, sizeof(err));
    json_decref(params);
    if (rc != 0) {
        ad_terms_free(g->terms);
        g->terms = NULL;
        ad_run_start_cleanup(g->s);
        free(g->s);
        g->s = NULL;
        g->checking = false;
        check_failed(g, err);
        return;
    }
    if (!g->timer_on) {
        uv_timer_init(g->r->loop, &g->timer);
        g->timer.data = g;
        g->timer_on = true;
    }
    int64_t sec = (int64_t)json_integer_value(json_object_get(g->spec, "timeoutSec"));
    uv_timer_start(&g->timer, on_deadline, (uint64_t)sec * 1000, 0);
    ad_terms_call(g->terms, "wait_for_exit", g->term, "wait");
}

void ad_run_goal_turn_ended(ad_runner_t *r, const char *agent_id, double cost, const char *failed)
{
    goal_t **p = find(r, agent_id);
    if (p == NULL || (*p)->checking) {
        return;
    }
    goal_t *g = *p;
    g->turn++;
    g->cost += cost > 0 && isfinite(cost) ? cost : 0;
    if (failed != NULL) {
        char why[400];
        snprintf(why, sizeof(why), "goal failed: turn %lld failed: %.300s", (long long)g->turn,
                 failed);
        finish(g, "failed", "goal_failed", why);
        return;
    }
    check(g);
}

void ad_run_goal_stopped(ad_runner_t *r, const char *agent_id)
{
    goal_t **p = find(r, agent_id);
    if (p != NULL) {
        finish(*p, "stopped", "goal_stopped", "goal stopped: the agent was stopped");
    }
}

/* ---- setting a goal ---------------------------------------------------------------------- */

int ad_run_goal_parse(const json_t *in, json_t **out, ad_field_err_t *e)
{
    *out = NULL;
    if (!json_is_object(in)) {
        return ad_field_fail(e, "goal", "must be an object {check, prompt, maxTurns, maxCost?}");
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        if (strcmp(k, "check") != 0 && strcmp(k, "prompt") != 0 && strcmp(k, "maxTurns") != 0 &&
            strcmp(k, "maxCost") != 0 && strcmp(k, "timeoutSec") != 0) {
            return ad_field_fail(e, "goal", "unknown member %.60s", k);
        }
    }
    json_t *check = json_object_get(in, "check");
    size_t n = json_array_size(check);
    if (!json_is_array(check) || n == 0 || n > AD_RUN_GOAL_ARGS_MAX) {
        return ad_field_fail(e, "goal.check", "must be an argv: 1 to %d strings",
                             AD_RUN_GOAL_ARGS_MAX);
    }
    size_t i;
    json_array_foreach(check, i, v)
    {
        const char *s = json_string_value(v);
        if (s == NULL || strlen(s) > AD_RUN_GOAL_ARG_MAX || (i == 0 && s[0] == '\0') ||
            strlen(s) != json_string_length(v) || !ad_utf8_valid(s, strlen(s))) {
            return ad_field_fail(e, "goal.check", "must be an argv: strings of at most %d bytes",
                                 AD_RUN_GOAL_ARG_MAX);
        }
    }
    json_t *prompt = json_object_get(in, "prompt");
    const char *ps = json_string_value(prompt);
    if (ps == NULL || ps[0] == '\0' || json_string_length(prompt) > AD_RUN_GOAL_PROMPT_MAX ||
        !ad_utf8_valid(ps, json_string_length(prompt))) {
        return ad_field_fail(e, "goal.prompt", "must be a non-empty string of at most %d bytes",
                             AD_RUN_GOAL_PROMPT_MAX);
    }
    json_t *turns = json_object_get(in, "maxTurns");
    if (!json_is_integer(turns) || json_integer_value(turns) < 1 ||
        json_integer_value(turns) > AD_RUN_GOAL_TURNS_MAX) {
        return ad_field_fail(e, "goal.maxTurns", "must be an integer from 1 to %d",
                             AD_RUN_GOAL_TURNS_MAX);
    }
    json_t *cost = json_object_get(in, "maxCost");
    if (cost != NULL && !json_is_null(cost) &&
        (!json_is_number(cost) || !(json_number_value(cost) > 0) ||
         json_number_value(cost) > 1e6)) {
        return ad_field_fail(e, "goal.maxCost", "must be a number of dollars above 0");
    }
    json_t *tmo = json_object_get(in, "timeoutSec");
    if (tmo != NULL && !json_is_null(tmo) &&
        (!json_is_integer(tmo) || json_integer_value(tmo) < 1 ||
         json_integer_value(tmo) > AD_RUN_GOAL_TIMEOUT_MAX_S)) {
        return ad_field_fail(e, "goal.timeoutSec", "must be an integer from 1 to %d",
                             AD_RUN_GOAL_TIMEOUT_MAX_S);
    }
    *out = json_pack(
        "{s:O, s:O, s:O, s:I}", "check", check, "prompt", prompt, "maxTurns", turns, "timeoutSec",
        (json_int_t)(json_is_integer(tmo) ? json_integer_value(tmo) : AD_RUN_GOAL_TIMEOUT_S));
    if (json_is_number(cost)) {
        json_object_set_new(*out, "maxCost", json_real(json_number_value(cost)));
    }
    return 0;
}

static goal_t *put(ad_runner_t *r, const char *agent_id, const char *org, json_t *spec)
{
    if (r->goals == NULL) {
        r->goals = ad_xcalloc(1, sizeof(*r->goals));
    }
    goal_t **p = find(r, agent_id);
    if (p != NULL) {
        take_out(p);
    }
    goal_t *g = ad_xcalloc(1, sizeof(*g));
    g->r = r;
    snprintf(g->agent_id, sizeof(g->agent_id), "%s", agent_id);
    snprintf(g->org, sizeof(g->org), "%s", org != NULL ? org : "");
    g->spec = spec;
    g->next = r->goals->head;
    r->goals->head = g;
    return g;
}

void ad_runner_goal_set(ad_runner_t *r, const char *agent_id, const char *org, const json_t *spec)
{
    AD_ASSERT_LOOP();
    goal_t *g = put(r, agent_id, org, json_deep_copy(spec));
    ad_store_agent_runtime_t u = {.context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    u.now = ad_wall_ms();
    u.state_patch = json_pack("{s:o}", "goal", stored(g, "active"));
    ad_run_agent_write(r, &u, false, NULL, NULL);
}

void ad_runner_goal_clear(ad_runner_t *r, const char *agent_id)
{
    goal_t **p = find(r, agent_id);
    if (p != NULL) {
        take_out(p);
    }
    ad_store_agent_runtime_t u = {.context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    u.now = ad_wall_ms();
    u.state_patch = json_pack("{s:n}", "goal");
    ad_run_agent_write(r, &u, false, NULL, NULL);
}

void ad_run_goal_restore(ad_runner_t *r, const char *agent_id, const char *org, const json_t *g)
{
    const char *st = json_string_value(json_object_get(g, "status"));
    json_t *spec = NULL;
    ad_field_err_t e;
    if (st == NULL || strcmp(st, "active") != 0 || find(r, agent_id) != NULL) {
        return;
    }
    json_t *in = json_deep_copy(g);
    json_object_del(in, "turn");
    json_object_del(in, "cost");
    json_object_del(in, "status");
    if (ad_run_goal_parse(in, &spec, &e) == 0) {
        goal_t *n = put(r, agent_id, org, spec);
        n->turn = (int64_t)json_integer_value(json_object_get(g, "turn"));
        n->cost = json_number_value(json_object_get(g, "cost"));
    }
    json_decref(in);
}

void ad_run_goals_free(ad_runner_t *r)
{
    if (r->goals == NULL) {
        return;
    }
    while (r->goals->head != NULL) {
        goal_t *g = r->goals->head;
        r->goals->head = g->next;
        g->out = true;
        g->checking = false;
        goal_free(g);
    }
    free(r->goals);
    r->goals = NULL;
}
