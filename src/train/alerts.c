/* SPDX-License-Identifier: MIT */
/*
 * The alert engine (issue #35): every rule in memory (loaded at start, then
 * changed one at a time by the REST layer), a small state per live run and
 * rule (steps past a threshold in a row, the last step's time, fired or
 * not), points looked at as the runner reads them. A rule fires once, then
 * waits until its condition has cleared (a finite value, a step back under
 * the threshold, a new step, the GPUs no longer throttled) before it can
 * fire again on that run.
 *
 * A firing is queued and acted on from a zero timer, never inside the
 * runner's output callback: it is recorded on the run, published as
 * alert_fired, the run stopped, paused or signalled, and its webhook posted
 * on the pool (webhook.c checks where it may go) with up to
 * AD_TRAIN_WEBHOOK_TRIES tries 1 s and 4 s apart; the firing is recorded
 * again with how the webhook went.
 */
#include "llm/llm.h"
#include "train/train.h"
#include "tables/alerts.h"
#include "tables/runs.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_NAN, K_ABOVE, K_BELOW, K_STALE, K_GPU } kind_t;
typedef enum { A_NONE, A_STOP, A_PAUSE, A_SIGNAL } action_t;

typedef struct {
    char id[AD_ID_MAX], org[AD_ID_MAX];
    char ws[AD_ID_MAX], agent[AD_ID_MAX], run[AD_ID_MAX]; /* the scope: one or none */
    char name[208];
    char series[208]; /* "" for any (stale) or none (gpu) */
    kind_t kind;
    double threshold;
    int64_t steps, stale_ms;
    action_t action;
    int signum;
    char signame[16];
    bool desktop, enabled;
    char webhook[AD_TRAIN_WEBHOOK_MAX + 1];
} rule_t;

typedef struct {
    char rule_id[AD_ID_MAX];
    int64_t count;   /* steps past the threshold in a row */
    int64_t last_ms; /* the watched series' last point (stale) */
    int64_t last_step;
    bool fired;
} rstate_t;

typedef struct run_state {
    struct run_state *next;
    char run_id[AD_ID_MAX], agent_id[AD_ID_MAX], org[AD_ID_MAX], ws[AD_ID_MAX];
    int64_t seen_ms;    /* first seen: a stale rule counts from here */
    int64_t touched_ms; /* its last point (a run with no process, imported, is kept a minute) */
    bool live;          /* seen in this tick's list of live runs */
    rstate_t *rs;
    size_t nrs;
} run_state_t;

typedef struct firing {
    struct firing *next;
    struct firing *next_post; /* in the engine's list of webhooks under way */
    json_t *f;                /* the firing object */
    rule_t rule;
    /* the webhook's post, on the pool */
    uv_work_t work;
    uv_timer_t retry;
    ad_train_t *t;
    int tries;
    long status;
    int rc;
    char err[320];
    char *body;
} firing_t;

struct ad_train {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_runner_t *runner;
    ad_train_publish_fn publish;
    void *ud;
    rule_t *rules;
    size_t nrules, caprules;
    run_state_t *runs;
    uv_timer_t tick, kick;
    firing_t *queue, *queue_tail; /* firings to act on */
    firing_t *posts;              /* webhooks under way (their timers open) */
    size_t posting;               /* webhooks in flight */
    bool closing;
    int open_handles;
    bool gpu_throttled;
    char gpu_reasons[256];
    ad_train_tap_fn tap; /* every point also goes here (sweeps) */
    void *tap_ud;
    uint64_t points, firings;
};

/* ---- rules ------------------------------------------------------------------------ */

static void copy(char *dst, size_t n, const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(dst, n, "%s", s != NULL ? s : "");
}

static void rule_from(rule_t *r, const json_t *j)
{
    memset(r, 0, sizeof(*r));
    copy(r->id, sizeof(r->id), j, "id");
    copy(r->org, sizeof(r->org), j, "orgId");
    copy(r->ws, sizeof(r->ws), j, "workspaceId");
    copy(r->agent, sizeof(r->agent), j, "agentId");
    copy(r->run, sizeof(r->run), j, "runId");
    copy(r->name, sizeof(r->name), j, "name");
    copy(r->series, sizeof(r->series), j, "series");
    const char *k = json_string_value(json_object_get(j, "kind"));
    k = k != NULL ? k : "";
    r->kind = strcmp(k, "nan") == 0     ? K_NAN
              : strcmp(k, "above") == 0 ? K_ABOVE
              : strcmp(k, "below") == 0 ? K_BELOW
              : strcmp(k, "stale") == 0 ? K_STALE
                                        : K_GPU;
    r->threshold = json_number_value(json_object_get(j, "threshold"));
    r->steps = json_integer_value(json_object_get(j, "steps"));
    r->steps = r->steps < 1 ? 1 : r->steps;
    r->stale_ms = json_integer_value(json_object_get(j, "staleSeconds")) * 1000;
    const char *a = json_string_value(json_object_get(j, "action"));
    a = a != NULL ? a : "none";
    r->action = strcmp(a, "stop") == 0     ? A_STOP
                : strcmp(a, "pause") == 0  ? A_PAUSE
                : strcmp(a, "signal") == 0 ? A_SIGNAL
                                           : A_NONE;
    copy(r->signame, sizeof(r->signame), j, "signal");
    static const struct {
        const char *name;
        int num;
    } sigs[] = {{"SIGUSR1", SIGUSR1},
                {"SIGUSR2", SIGUSR2},
                {"SIGINT", SIGINT},
                {"SIGTERM", SIGTERM},
                {"SIGHUP", SIGHUP}};
    r->signum = SIGUSR1;
    for (size_t i = 0; i < AD_ARRAY_LEN(sigs); i++) {
        if (strcmp(r->signame, sigs[i].name) == 0) {
            r->signum = sigs[i].num;
        }
    }
    json_t *n = json_object_get(j, "notify");
    r->desktop = json_is_true(json_object_get(n, "desktop"));
    copy(r->webhook, sizeof(r->webhook), n, "webhook");
    r->enabled = !json_is_false(json_object_get(j, "enabled"));
}

static rule_t *rule_find(ad_train_t *t, const char *id)
{
    for (size_t i = 0; i < t->nrules; i++) {
        if (strcmp(t->rules[i].id, id) == 0) {
            return &t->rules[i];
        }
    }
    return NULL;
}

/* Forgets every run's state of rule id (a changed rule starts afresh). */
static void forget_rule(ad_train_t *t, const char *id)
{
    for (run_state_t *s = t->runs; s != NULL; s = s->next) {
        for (size_t i = 0; i < s->nrs; i++) {
            if (strcmp(s->rs[i].rule_id, id) == 0) {
                s->rs[i] = s->rs[--s->nrs];
                break;
            }
        }
    }
}

/* alert_rule_update with payload (taken) to org's topic. */
static void rule_publish(ad_train_t *t, json_t *payload, const char *org)
{
    if (t->publish != NULL) {
        t->publish(t->ud, "alert_rule_update", payload, org, NULL, NULL);
    }
    json_decref(payload);
}

void ad_train_rule_set(ad_train_t *t, const json_t *rule)
{
    const char *id = json_string_value(json_object_get(rule, "id"));
    if (t == NULL) {
        return;
    }
    rule_publish(t, json_pack("{s:O}", "rule", (json_t *)rule),
                 json_string_value(json_object_get(rule, "orgId")));
    if (id == NULL) {
        return;
    }
    rule_t *r = rule_find(t, id);
    if (r == NULL) {
        if (t->nrules == t->caprules) {
            t->caprules = t->caprules ? t->caprules * 2 : 16;
            t->rules = ad_xrealloc(t->rules, t->caprules * sizeof(*t->rules));
        }
        r = &t->rules[t->nrules++];
    }
    rule_from(r, rule);
    forget_rule(t, id);
}

void ad_train_rule_remove(ad_train_t *t, const char *id, const char *org)
{
    if (t == NULL) {
        return;
    }
    rule_publish(t, json_pack("{s:s, s:b}", "id", id, "deleted", true), org);
    rule_t *r = rule_find(t, id);
    if (r != NULL) {
        *r = t->rules[--t->nrules];
        forget_rule(t, id);
    }
}

/* ---- runs -------------------------------------------------------------------------- */

static run_state_t *run_find(ad_train_t *t, const char *run_id)
{
    for (run_state_t *s = t->runs; s != NULL; s = s->next) {
        if (strcmp(s->run_id, run_id) == 0) {
            return s;
        }
    }
    return NULL;
}

/* The run's state, made on first sight: its workspace read once (two
 * indexed reads) so workspace rules match. */
static run_state_t *run_get(ad_train_t *t, const char *agent_id, const char *run_id,
                            const char *org)
{
    run_state_t *s = run_find(t, run_id);
    if (s != NULL) {
        s->touched_ms = ad_wall_ms();
        return s;
    }
    s = ad_xcalloc(1, sizeof(*s));
    snprintf(s->run_id, sizeof(s->run_id), "%s", run_id);
    snprintf(s->agent_id, sizeof(s->agent_id), "%s", agent_id != NULL ? agent_id : "");
    snprintf(s->org, sizeof(s->org), "%s", org != NULL ? org : "");
    s->seen_ms = ad_wall_ms();
    s->touched_ms = s->seen_ms;
    if (s->agent_id[0] == '\0') { /* a REST batch names only the run */
        json_t *run = NULL;
        if (ad_store_run_get(t->store, run_id, &run) == 0) {
            copy(s->agent_id, sizeof(s->agent_id), run, "agentId");
        }
        json_decref(run);
        agent_id = s->agent_id;
    }
    ad_row_agent_t agent = {0};
    if (agent_id != NULL && agent_id[0] != '\0' &&
        ad_store_agent_row(t->store, agent_id, &agent) == 0 && agent.worktree_id != NULL) {
        ad_store_worktree_workspace(t->store, agent.worktree_id, s->ws);
    }
    ad_row_agent_cleanup(&agent);
    s->next = t->runs;
    t->runs = s;
    return s;
}

static void run_free(run_state_t *s)
{
    free(s->rs);
    free(s);
}

static bool rule_applies(const rule_t *r, const run_state_t *s)
{
    if (!r->enabled || strcmp(r->org, s->org) != 0) {
        return false;
    }
    if (r->run[0] != '\0') {
        return strcmp(r->run, s->run_id) == 0;
    }
    if (r->agent[0] != '\0') {
        return strcmp(r->agent, s->agent_id) == 0;
    }
    if (r->ws[0] != '\0') {
        return strcmp(r->ws, s->ws) == 0;
    }
    return true;
}

static rstate_t *rstate(run_state_t *s, const rule_t *r)
{
    for (size_t i = 0; i < s->nrs; i++) {
        if (strcmp(s->rs[i].rule_id, r->id) == 0) {
            return &s->rs[i];
        }
    }
    s->rs = ad_xrealloc(s->rs, (s->nrs + 1) * sizeof(*s->rs));
    rstate_t *x = &s->rs[s->nrs++];
    memset(x, 0, sizeof(*x));
    snprintf(x->rule_id, sizeof(x->rule_id), "%s", r->id);
    x->last_ms = s->seen_ms;
    x->last_step = -1;
    return x;
}

/* ---- firing -------------------------------------------------------------------------- */

static const char *kind_name(kind_t k)
{
    static const char *const names[] = {"nan", "above", "below", "stale", "gpuThrottle"};
    return names[k];
}

static const char *action_name(action_t a)
{
    static const char *const names[] = {"none", "stop", "pause", "signal"};
    return names[a];
}

static json_t *value_json(double v)
{
    if (isnan(v)) {
        return json_string("NaN");
    }
    if (isinf(v)) {
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    }
    return json_real(v);
}

static void on_kick(uv_timer_t *h);

static void fire(ad_train_t *t, const rule_t *r, const run_state_t *s, bool has_step, int64_t step,
                 bool has_value, double v, const char *message)
{
    char id[AD_ID_MAX], at[AD_TIME_MAX];
    ad_id_new("alf", id);
    int64_t now = ad_wall_ms();
    ad_time_format(now, at);
    json_t *f =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", id, "orgId",
                  s->org, "ruleId", r->id, "ruleName", r->name, "runId", s->run_id, "agentId",
                  s->agent_id, "kind", kind_name(r->kind), "action", action_name(r->action),
                  "message", message, "at", at, "desktop", r->desktop);
    if (r->series[0] != '\0') {
        json_object_set_new(f, "series", json_string(r->series));
    }
    if (has_step) {
        json_object_set_new(f, "step", json_integer(step));
    }
    if (has_value) {
        json_object_set_new(f, "value", value_json(v));
    }
    if (r->kind == K_ABOVE || r->kind == K_BELOW) {
        json_object_set_new(f, "threshold", json_real(r->threshold));
        json_object_set_new(f, "steps", json_integer(r->steps));
    }
    if (r->action == A_SIGNAL) {
        json_object_set_new(f, "signal", json_string(r->signame[0] ? r->signame : "SIGUSR1"));
    }
    if (r->webhook[0] != '\0') {
        json_object_set_new(f, "webhook", json_pack("{s:s}", "status", "pending"));
    }
    firing_t *q = ad_xcalloc(1, sizeof(*q));
    q->f = f;
    q->rule = *r;
    q->t = t;
    if (t->queue_tail != NULL) {
        t->queue_tail->next = q;
    } else {
        t->queue = q;
    }
    t->queue_tail = q;
    t->firings++;
    uv_timer_start(&t->kick, on_kick, 0, 0);
    ad_log(AD_LOG_INFO, "train", "alert fired rule=%s run=%s kind=%s action=%s", r->id, s->run_id,
           kind_name(r->kind), action_name(r->action));
}

/* ---- evaluation ------------------------------------------------------------------------ */

static void eval_point(ad_train_t *t, run_state_t *s, const char *name, bool has_step, int64_t step,
                       double v)
{
    t->points++;
    int64_t now = 0;
    for (size_t i = 0; i < t->nrules; i++) {
        const rule_t *r = &t->rules[i];
        if (r->kind == K_GPU || !rule_applies(r, s)) {
            continue;
        }
        if (r->kind == K_STALE) {
            if (r->series[0] == '\0' || strcmp(r->series, name) == 0) {
                rstate_t *x = rstate(s, r);
                x->last_ms = now != 0 ? now : (now = ad_wall_ms());
                x->fired = false; /* a new step: it may fire again */
            }
            continue;
        }
        if (strcmp(r->series, name) != 0) {
            continue;
        }
        rstate_t *x = rstate(s, r);
        char msg[512];
        if (r->kind == K_NAN) {
            if (isfinite(v)) {
                x->fired = false;
            } else if (!x->fired) {
                x->fired = true;
                snprintf(msg, sizeof(msg), "%s is %s%s%lld", name,
                         isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"),
                         has_step ? " at step " : "", has_step ? (long long)step : 0LL);
                if (!has_step) {
                    msg[strlen(msg) - 1] = '\0'; /* no "0" without a step */
                }
                fire(t, r, s, has_step, step, true, v, msg);
            }
            continue;
        }
        bool past = isfinite(v) && (r->kind == K_ABOVE ? v > r->threshold : v < r->threshold);
        /* the same step again (a metrics line and an agent_update) counts once */
        if (has_step && step == x->last_step) {
            if (!past) {
                x->count = 0;
            }
            continue;
        }
        x->last_step = has_step ? step : -1;
        if (!past) {
            x->count = 0;
            x->fired = false;
            continue;
        }
        x->count++;
        if (x->count >= r->steps && !x->fired) {
            x->fired = true;
            snprintf(msg, sizeof(msg), "%s %s %g for %lld step%s (%g%s%lld)", name,
                     r->kind == K_ABOVE ? "above" : "below", r->threshold, (long long)r->steps,
                     r->steps == 1 ? "" : "s", v, has_step ? " at step " : "",
                     has_step ? (long long)step : 0LL);
            fire(t, r, s, has_step, step, true, v, msg);
        }
    }
}

void ad_train_set_tap(ad_train_t *t, ad_train_tap_fn fn, void *ud)
{
    t->tap = fn;
    t->tap_ud = ud;
}

static void on_point(const char *agent_id, const char *run_id, const char *org, const char *name,
                     bool has_step, int64_t step, double value, void *ud)
{
    ad_train_t *t = ud;
    if (t->tap != NULL) {
        t->tap(t->tap_ud, agent_id, run_id, name, has_step, step, value);
    }
    if (t->nrules == 0) {
        return;
    }
    eval_point(t, run_get(t, agent_id, run_id, org), name, has_step, step, value);
}

void ad_train_points(ad_train_t *t, const char *agent_id, const char *run_id, const char *org,
                     const json_t *points)
{
    if (t == NULL || t->nrules == 0) {
        return;
    }
    run_state_t *s = run_get(t, agent_id, run_id, org);
    size_t i;
    json_t *p;
    json_array_foreach((json_t *)points, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *st = json_object_get(p, "step");
        double v;
        if (name != NULL && ad_json_number_ext(json_object_get(p, "value"), &v)) {
            eval_point(t, s, name, json_is_integer(st), json_integer_value(st), v);
        }
    }
}

/* The live runs, each marked (and made when new). */
static void mark_live(const char *agent_id, const char *run_id, const char *org,
                      const ad_proc_t *proc, void *ud)
{
    AD_UNUSED(proc);
    ad_train_t *t = ud;
    run_get(t, agent_id, run_id, org)->live = true;
}

/* Once a second: stale series and GPU throttling of the live runs; the
 * state of runs that ended goes. */
static void on_tick(uv_timer_t *h)
{
    ad_train_t *t = h->data;
    for (run_state_t *s = t->runs; s != NULL; s = s->next) {
        s->live = false;
    }
    if (t->nrules > 0) {
        ad_runner_each(t->runner, mark_live, t);
    }
    int64_t now = ad_wall_ms();
    for (run_state_t **pp = &t->runs; *pp != NULL;) {
        run_state_t *s = *pp;
        if (!s->live && now - s->touched_ms > 60000) {
            *pp = s->next;
            run_free(s);
            continue;
        }
        pp = &s->next;
        for (size_t i = 0; s->live && i < t->nrules; i++) {
            const rule_t *r = &t->rules[i];
            if ((r->kind != K_STALE && r->kind != K_GPU) || !rule_applies(r, s)) {
                continue;
            }
            rstate_t *x = rstate(s, r);
            char msg[512];
            if (r->kind == K_GPU) {
                if (!t->gpu_throttled) {
                    x->fired = false;
                } else if (!x->fired) {
                    x->fired = true;
                    snprintf(msg, sizeof(msg), "GPU throttled: %s", t->gpu_reasons);
                    fire(t, r, s, false, 0, false, 0, msg);
                }
            } else if (!x->fired && now - x->last_ms >= r->stale_ms) {
                x->fired = true;
                snprintf(msg, sizeof(msg), "no new step%s%s for %lld s", r->series[0] ? " of " : "",
                         r->series, (long long)(r->stale_ms / 1000));
                fire(t, r, s, false, 0, false, 0, msg);
            }
        }
    }
}

void ad_train_gpu(ad_train_t *t, bool throttled, const char *reasons)
{
    if (t == NULL) {
        return;
    }
    t->gpu_throttled = throttled;
    snprintf(t->gpu_reasons, sizeof(t->gpu_reasons), "%s", reasons != NULL ? reasons : "");
}

/* ---- acting ------------------------------------------------------------------------------ */

static void on_action_done(int rc, json_t *result, const char *msg, void *ud)
{
    AD_UNUSED(result);
    char *run = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "train", "alert action failed run=%s err=%s", run,
               msg != NULL ? msg : ad_strerror(rc));
    }
    free(run);
}

/* What the rule does to the run; the firing says how it went. */
static void act(ad_train_t *t, firing_t *q)
{
    const char *agent = json_string_value(json_object_get(q->f, "agentId"));
    int rc = 0;
    switch (q->rule.action) {
    case A_NONE:
        return;
    case A_STOP:
        rc = ad_runner_stop(t->runner, agent, false, on_action_done,
                            ad_xstrdup(json_string_value(json_object_get(q->f, "runId"))));
        break;
    case A_PAUSE:
        rc = ad_runner_pause(t->runner, agent, on_action_done,
                             ad_xstrdup(json_string_value(json_object_get(q->f, "runId"))));
        break;
    case A_SIGNAL:
        rc = ad_runner_signal(t->runner, agent, q->rule.signum);
        break;
    }
    json_object_set_new(q->f, "actionResult",
                        json_string(rc == 0           ? "done"
                                    : rc == AD_ENOENT ? "not running"
                                    : rc == AD_ESTATE ? "already so"
                                                      : ad_strerror(rc)));
}

static void firing_free(firing_t *q)
{
    json_decref(q->f);
    free(q->body);
    free(q);
}

static void record(ad_train_t *t, firing_t *q)
{
    if (t->store != NULL) {
        ad_store_alert_firing_put(t->store, q->f, ad_wall_ms(), NULL, NULL);
    }
}

static void post_start(firing_t *q);

static void post_work(uv_work_t *w)
{
    firing_t *q = w->data;
    char pin[512] = "", why[256] = "";
    q->status = 0;
    q->err[0] = '\0';
    if (ad_train_webhook_check(q->rule.webhook, q->t->cfg->alert_webhook_allow, true, pin,
                               sizeof(pin), why, sizeof(why)) != 0) {
        q->rc = AD_EPERM;
        snprintf(q->err, sizeof(q->err), "refused: the URL %s", why);
        return;
    }
    static const char *const headers[] = {"Content-Type: application/json",
                                          "User-Agent: agentd-alerts", NULL};
    ad_fetch_t f = {.method = "POST",
                    .url = q->rule.webhook,
                    .headers = headers,
                    .body = q->body,
                    .timeout_ms = 10000,
                    .resolve = pin[0] != '\0' ? pin : NULL};
    ad_buf_t out;
    ad_buf_init(&out, 4096);
    q->rc = ad_llm_fetch(&f, &q->status, &out, q->err, sizeof(q->err));
    ad_buf_cleanup(&out);
    if (q->rc == 0 && (q->status < 200 || q->status > 299)) {
        q->rc = AD_EIO;
        snprintf(q->err, sizeof(q->err), "answered %ld", q->status);
    }
}

static void on_retry_closed(uv_handle_t *h)
{
    firing_t *q = h->data;
    ad_train_t *t = q->t;
    for (firing_t **pp = &t->posts; *pp != NULL; pp = &(*pp)->next_post) {
        if (*pp == q) {
            *pp = q->next_post;
            break;
        }
    }
    firing_free(q);
    t->posting--;
    if (--t->open_handles == 0 && t->closing) {
        free(t);
    }
}

/* The webhook's last word on the firing: recorded, and the firing's
 * memory goes with its timer. */
static void post_end(firing_t *q)
{
    ad_train_t *t = q->t;
    json_t *w = json_pack("{s:s, s:i, s:I}", "status", q->rc == 0 ? "delivered" : "failed", "tries",
                          q->tries, "httpStatus", (json_int_t)q->status);
    if (q->rc != 0) {
        json_object_set_new(w, "error", json_string(q->err));
    }
    json_object_set_new(q->f, "webhook", w);
    if (q->rc != 0) {
        ad_log(AD_LOG_WARN, "train", "alert webhook failed rule=%s tries=%d err=%s", q->rule.id,
               q->tries, q->err);
    }
    if (!t->closing) {
        record(t, q);
    }
    uv_close((uv_handle_t *)&q->retry, on_retry_closed);
}

static void on_retry(uv_timer_t *h)
{
    post_start(h->data);
}

static void post_after(uv_work_t *w, int status)
{
    firing_t *q = w->data;
    ad_train_t *t = q->t;
    if (status == UV_ECANCELED) {
        q->rc = AD_ECLOSED;
        snprintf(q->err, sizeof(q->err), "agentd stopped");
    }
    /* a refusal by the address check is not tried again */
    if (q->rc == 0 || q->rc == AD_EPERM || q->tries >= AD_TRAIN_WEBHOOK_TRIES || t->closing) {
        post_end(q);
        return;
    }
    uv_timer_start(&q->retry, on_retry, q->tries == 1 ? 1000 : 4000, 0);
}

static void post_start(firing_t *q)
{
    q->tries++;
    q->work.data = q;
    if (uv_queue_work(q->t->loop, &q->work, post_work, post_after) != 0) {
        q->rc = AD_EIO;
        snprintf(q->err, sizeof(q->err), "could not queue the post");
        post_end(q);
    }
}

static void post(ad_train_t *t, firing_t *q)
{
    char why[256];
    if (!ad_llm_fetch_ready(why, sizeof(why))) {
        q->rc = AD_EIO;
        snprintf(q->err, sizeof(q->err), "%s", why);
    }
    json_t *body = json_pack("{s:s, s:O}", "type", "alert_fired", "firing", q->f);
    q->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    uv_timer_init(t->loop, &q->retry);
    q->retry.data = q;
    q->next_post = t->posts;
    t->posts = q;
    t->open_handles++;
    t->posting++;
    if (q->rc != 0) {
        post_end(q);
        return;
    }
    post_start(q);
}

static void on_kick(uv_timer_t *h)
{
    ad_train_t *t = h->data;
    while (t->queue != NULL) {
        firing_t *q = t->queue;
        t->queue = q->next;
        if (t->queue == NULL) {
            t->queue_tail = NULL;
        }
        q->next = NULL;
        act(t, q);
        record(t, q);
        if (t->publish != NULL) {
            t->publish(t->ud, "alert_fired", q->f,
                       json_string_value(json_object_get(q->f, "orgId")),
                       json_string_value(json_object_get(q->f, "agentId")),
                       json_string_value(json_object_get(q->f, "runId")));
        }
        if (q->rule.webhook[0] != '\0' && t->posting < 64) {
            post(t, q);
        } else {
            firing_free(q);
        }
    }
}

/* ---- life ----------------------------------------------------------------------------------- */

ad_train_t *ad_train_new(const ad_train_opts_t *o)
{
    ad_train_t *t = ad_xcalloc(1, sizeof(*t));
    t->loop = o->loop;
    t->cfg = o->cfg;
    t->store = o->store;
    t->runner = o->runner;
    t->publish = o->publish;
    t->ud = o->ud;
    json_t *rules = NULL;
    if (t->store != NULL && ad_store_alert_rule_list(t->store, "", &rules) == 0) {
        size_t i;
        json_t *r;
        json_array_foreach(rules, i, r)
        {
            ad_train_rule_set(t, r);
        }
    }
    json_decref(rules);
    uv_timer_init(t->loop, &t->tick);
    uv_timer_init(t->loop, &t->kick);
    t->tick.data = t;
    t->kick.data = t;
    t->open_handles = 2;
    uv_timer_start(&t->tick, on_tick, 1000, 1000);
    uv_unref((uv_handle_t *)&t->tick);
    if (t->runner != NULL) {
        ad_runner_set_point_hook(t->runner, on_point, t);
    }
    return t;
}

static void on_closed(uv_handle_t *h)
{
    ad_train_t *t = h->data;
    if (--t->open_handles == 0) {
        free(t);
    }
}

void ad_train_close(ad_train_t *t)
{
    if (t == NULL) {
        return;
    }
    t->closing = true;
    if (t->runner != NULL) {
        ad_runner_set_point_hook(t->runner, NULL, NULL);
    }
    while (t->queue != NULL) {
        firing_t *q = t->queue;
        t->queue = q->next;
        firing_free(q);
    }
    /* a webhook waiting to try again ends now; one being posted ends when
     * its post comes back */
    for (firing_t *q = t->posts; q != NULL; q = q->next_post) {
        if (uv_is_active((uv_handle_t *)&q->retry)) {
            uv_timer_stop(&q->retry);
            q->rc = AD_ECLOSED;
            snprintf(q->err, sizeof(q->err), "agentd stopped");
            post_end(q);
        }
    }
    while (t->runs != NULL) {
        run_state_t *s = t->runs;
        t->runs = s->next;
        run_free(s);
    }
    free(t->rules);
    t->rules = NULL;
    t->nrules = 0;
    uv_close((uv_handle_t *)&t->tick, on_closed);
    uv_close((uv_handle_t *)&t->kick, on_closed);
}

void ad_train_stats(const ad_train_t *t, uint64_t *points, uint64_t *firings)
{
    *points = t != NULL ? t->points : 0;
    *firings = t != NULL ? t->firings : 0;
}
