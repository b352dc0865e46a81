/* SPDX-License-Identifier: MIT */
/*
 * Agents suspended on a rate or usage limit (issue #75): the runner's
 * table of them, a timer each, and the resume.
 *
 * A run whose CLI hit a limit (feat_limit.c) ends with its agent
 * `suspended` instead of `error`: the agent's state.suspended {resumeAt,
 * since, reason, runId} is stored before the run's end, and the agent is
 * here with a timer. At resumeAt the agent resumes itself: a new run of
 * the same session (the CLI's --resume, a Codex thread, a Gemini session)
 * with the message "continue". POST /api/agents/:id/resume resumes it at
 * once (ad_runner_unsuspend). A start or message of the user's meanwhile
 * takes it out (the open hook of feat_limit.c).
 *
 * The jitter: resumeAt is the reset plus a random spread of up to 10 % of
 * the wait, at most 60 s, so a fleet that hit one limit together does not
 * resume in one second (and hit it again). A daemon restarted while agents
 * are suspended reads them back (status `suspended`, state.suspended's
 * resumeAt) and arms their timers again; one whose time passed while the
 * daemon was down resumes within AD_RUN_LATE_SPREAD_MS, spread the same way.
 *
 * Ownership: an entry is the table's while linked; taken out, its timer is
 * closed and the close callback frees it (it never touches the runner
 * then). Threads: loop thread only.
 */
#include "run/features.h"
#include "tables/accounts.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define BUCKETS 256
#define AD_RUN_LATE_SPREAD_MS 5000
#define AD_RUN_JITTER_MAX_MS 60000
#define AD_RUN_RESUME_PROMPT "continue"

typedef struct susp {
    struct susp *next;
    ad_runner_t *r; /* NULL once taken out */
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    int64_t resume_at; /* ms since the epoch */
    uv_timer_t timer;
} susp_t;

struct ad_run_suspends {
    susp_t *b[BUCKETS];
};

static size_t bucket(const char *id)
{
    return ad_hash_str(id) % BUCKETS;
}

static susp_t **slot_of(ad_runner_t *r, const char *agent_id)
{
    if (r->suspends == NULL) {
        return NULL;
    }
    susp_t **p = &r->suspends->b[bucket(agent_id)];
    while (*p != NULL && strcmp((*p)->agent_id, agent_id) != 0) {
        p = &(*p)->next;
    }
    return p;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Out of the table; its timer closed (the entry goes with it). */
static void unlink_one(susp_t **p)
{
    susp_t *s = *p;
    *p = s->next;
    s->r = NULL;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

int64_t ad_run_suspended_until(const ad_runner_t *r, const char *agent_id)
{
    susp_t **p = slot_of((ad_runner_t *)r, agent_id);
    return p != NULL && *p != NULL ? (*p)->resume_at : 0;
}

void ad_run_suspend_drop(ad_runner_t *r, const char *agent_id)
{
    susp_t **p = slot_of(r, agent_id);
    if (p == NULL || *p == NULL) {
        return;
    }
    unlink_one(p);
    ad_store_agent_runtime_t u = {.context_level = -1}; /* state.suspended goes too */
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    u.now = ad_wall_ms();
    u.state_patch = json_pack("{s:n}", "suspended");
    ad_run_agent_write(r, &u, false, NULL, NULL);
}

/* A uniform random number in [0, n]. */
static uint64_t random_upto(uint64_t n)
{
    uint64_t x = 0;
    if (n == 0 || getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x)) {
        return 0;
    }
    return x % (n + 1);
}

int64_t ad_run_resume_time(int64_t reset_ms, int64_t now_ms)
{
    int64_t wait = reset_ms > now_ms ? reset_ms - now_ms : 0;
    int64_t spread = wait / 10 < AD_RUN_JITTER_MAX_MS ? wait / 10 : AD_RUN_JITTER_MAX_MS;
    return now_ms + wait + (int64_t)random_upto((uint64_t)spread);
}

/* ---- the resume ---------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    bool by_user;
    ad_runner_cb cb;
    void *ud;
} resume_t;

void ad_run_audit(ad_runner_t *r, const char *org, const char *agent_id, const char *method,
                  const char *route, int status, const char *detail)
{
    ad_store_audit_t a;
    memset(&a, 0, sizeof(a));
    a.ts = ad_wall_ms();
    snprintf(a.token_name, sizeof(a.token_name), "agentd");
    snprintf(a.org_id, sizeof(a.org_id), "%s", org != NULL ? org : "");
    snprintf(a.method, sizeof(a.method), "%s", method);
    snprintf(a.route, sizeof(a.route), "%s", route);
    snprintf(a.target_id, sizeof(a.target_id), "%s", agent_id);
    a.status = status;
    snprintf(a.remote, sizeof(a.remote), "local");
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    ad_store_audit_insert(r->store, &a);
}

/* agentd's own resume, audited (the user's /resume is its request's). */
static void audit(ad_runner_t *r, const char *org, const char *agent_id, int status,
                  const char *detail)
{
    ad_run_audit(r, org, agent_id, "RESUME", "/api/agents/:id/resume", status, detail);
}

static void on_resumed(int rc, json_t *result, const char *msg, void *ud)
{
    resume_t *c = ud;
    ad_log(rc == 0 ? AD_LOG_INFO : AD_LOG_WARN, "runner", "agent resumed agent=%s by=%s rc=%d%s%s",
           c->agent_id, c->by_user ? "user" : "timer", rc, msg != NULL ? " why=" : "",
           msg != NULL ? msg : "");
    if (!c->by_user) {
        audit(c->r, c->org, c->agent_id, rc == 0 ? 200 : 409,
              rc == 0 ? "resumed at its usage limit's reset" : "resume at the reset failed");
    }
    ad_run_call_cb(c->cb, c->ud, rc, result, msg);
    free(c);
}

/* A new run of the agent's session with "continue"; the agent leaves the
 * table first (its start's open hook would take it out anyway). */
static int resume(ad_runner_t *r, susp_t **p, bool by_user, ad_runner_cb cb, void *ud, char *err,
                  size_t errsz)
{
    resume_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", (*p)->agent_id);
    snprintf(c->org, sizeof(c->org), "%s", (*p)->org);
    c->by_user = by_user;
    c->cb = cb;
    c->ud = ud;
    unlink_one(p);
    /* state.suspended goes; the run's start writes status and reason */
    ad_store_agent_runtime_t u = {.context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", c->agent_id);
    u.now = ad_wall_ms();
    u.state_patch = json_pack("{s:n}", "suspended");
    ad_run_agent_write(r, &u, false, NULL, NULL);
    int rc = ad_runner_start(r, c->agent_id, AD_RUN_RESUME_PROMPT, on_resumed, c, err, errsz);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "resume not started agent=%s error=%s", c->agent_id, err);
        if (!by_user) {
            audit(r, c->org, c->agent_id, 409, "resume at the reset refused");
        }
        /* no longer suspended (nothing would resume it): error, saying why */
        ad_store_agent_runtime_t f = {
            .context_level = -1, .set_status = true, .status = AD_ROW_AGENT_STATUS_ERROR};
        snprintf(f.id, sizeof(f.id), "%s", c->agent_id);
        f.now = ad_wall_ms();
        ad_status_reason_set(&f.why, "resume_refused", NULL,
                             "the resume after a usage limit "
                             "did not start: %.200s",
                             err);
        ad_run_agent_write(r, &f, false, NULL, NULL);
        free(c);
    }
    return rc;
}

static void on_timer(uv_timer_t *t)
{
    susp_t *s = t->data;
    ad_runner_t *r = s->r;
    if (r == NULL) {
        return;
    }
    susp_t **p = slot_of(r, s->agent_id);
    char err[512] = "";
    if (p != NULL && *p == s) {
        (void)resume(r, p, false, NULL, NULL, err, sizeof(err));
    }
}

int ad_runner_unsuspend(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud, char *err,
                        size_t errsz)
{
    AD_ASSERT_LOOP();
    err[0] = '\0';
    susp_t **p = slot_of(r, agent_id);
    if (p == NULL || *p == NULL) {
        snprintf(err, errsz, "agent %s is not suspended", agent_id);
        return AD_ENOENT;
    }
    return resume(r, p, true, cb, ud, err, errsz);
}

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX];
    ad_runner_cb cb;
    void *ud;
} halt_t;

static void on_halted(int rc, json_t *result, void *ud)
{
    halt_t *c = ud;
    json_t *agent = json_object_get(result, "agent");
    if (rc == 0 && agent != NULL) {
        ad_run_topics_t t;
        ad_run_topics_init(&t, c->agent_id, NULL, NULL,
                           json_string_value(json_object_get(agent, "orgId")), NULL);
        ad_run_publish_status(c->r, &t, c->agent_id, "stopped", NULL,
                              json_object_get(agent, "statusReason"));
    }
    ad_run_call_cb(c->cb, c->ud, rc, result, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(result);
    free(c);
}

int ad_runner_halt(ad_runner_t *r, const char *agent_id, ad_runner_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    susp_t **p = slot_of(r, agent_id);
    bool suspended = p != NULL && *p != NULL;
    bool goal = ad_run_goal_active(r, agent_id);
    if ((!suspended && !goal) || ad_run_find(r, agent_id) != NULL) {
        return AD_ENOENT;
    }
    if (suspended) {
        unlink_one(p);
    }
    if (goal) {
        ad_run_goal_stopped(r, agent_id); /* its check, if one runs, is let go */
    }
    ad_store_agent_runtime_t u = {
        .context_level = -1, .set_status = true, .status = AD_ROW_AGENT_STATUS_STOPPED};
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    u.now = ad_wall_ms();
    ad_status_reason_set(&u.why, "stopped", NULL, "stopped by the user%s",
                         suspended ? " while suspended on a usage limit"
                                   : " between a goal's turns");
    u.state_patch = json_pack("{s:n}", "suspended");
    halt_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", agent_id);
    c->cb = cb;
    c->ud = ud;
    ad_run_agent_write(r, &u, true, on_halted, c);
    return 0;
}

/* ---- the table ------------------------------------------------------------------- */

static void arm(ad_runner_t *r, const char *agent_id, const char *org, int64_t resume_at)
{
    if (r->suspends == NULL) {
        r->suspends = ad_xcalloc(1, sizeof(*r->suspends));
    }
    susp_t **p = slot_of(r, agent_id);
    if (*p != NULL) {
        unlink_one(p);
        p = slot_of(r, agent_id);
    }
    susp_t *s = ad_xcalloc(1, sizeof(*s));
    s->r = r;
    snprintf(s->agent_id, sizeof(s->agent_id), "%s", agent_id);
    snprintf(s->org, sizeof(s->org), "%s", org != NULL ? org : "");
    s->resume_at = resume_at;
    uv_timer_init(r->loop, &s->timer);
    s->timer.data = s;
    int64_t now = ad_wall_ms();
    uv_timer_start(&s->timer, on_timer, resume_at > now ? (uint64_t)(resume_at - now) : 0, 0);
    *p = s;
}

void ad_run_suspend_arm(ad_runner_t *r, const char *agent_id, const char *org, int64_t resume_at,
                        const char *run_id, const char *why)
{
    arm(r, agent_id, org, resume_at);
    char at[AD_TIME_MAX], since[AD_TIME_MAX];
    ad_time_format(resume_at, at);
    ad_time_format(ad_wall_ms(), since);
    ad_store_agent_runtime_t u = {.context_level = -1};
    snprintf(u.id, sizeof(u.id), "%s", agent_id);
    u.now = ad_wall_ms();
    u.state_patch = json_pack("{s:{s:s, s:s, s:s, s:s}}", "suspended", "resumeAt", at, "since",
                              since, "reason", why, "runId", run_id);
    ad_run_agent_write(r, &u, false, NULL, NULL);
    ad_log(AD_LOG_INFO, "runner", "agent suspended agent=%s until=%s why=\"%s\"", agent_id, at,
           why);
}

void ad_run_suspends_rearm(ad_runner_t *r)
{
    json_t *out = NULL;
    if (ad_store_agent_list(r->store, NULL, "suspended", false, "", &out) != 0) {
        return;
    }
    int64_t now = ad_wall_ms();
    size_t i, n = 0;
    json_t *a;
    json_array_foreach(json_object_get(out, "agents"), i, a)
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        json_t *s = json_object_get(json_object_get(a, "state"), "suspended");
        int64_t at = 0;
        if (id == NULL || strlen(id) >= AD_ID_MAX) {
            continue;
        }
        if (ad_time_parse(json_string_value(json_object_get(s, "resumeAt")), &at) != 0 ||
            at <= now) { /* its time passed while agentd was down: soon, spread */
            at = now + (int64_t)random_upto(AD_RUN_LATE_SPREAD_MS);
        }
        arm(r, id, json_string_value(json_object_get(a, "orgId")), at);
        n++;
    }
    json_decref(out);
    if (n > 0) {
        ad_log(AD_LOG_INFO, "runner", "suspended agents re-armed count=%zu", n);
    }
}

void ad_run_suspends_free(ad_runner_t *r)
{
    if (r->suspends == NULL) {
        return;
    }
    for (size_t i = 0; i < BUCKETS; i++) {
        while (r->suspends->b[i] != NULL) {
            unlink_one(&r->suspends->b[i]);
        }
    }
    free(r->suspends);
    r->suspends = NULL;
}

void ad_run_suspend_live(const ad_runner_t *r, const char *agent_id, json_t *agent)
{
    int64_t at = ad_run_suspended_until(r, agent_id);
    if (at == 0) {
        return;
    }
    char ts[AD_TIME_MAX];
    ad_time_format(at, ts);
    json_object_set_new(agent, "resumeAt", json_string(ts));
}

void ad_run_suspend_tail(const ad_runner_t *r, const char *agent_id, ad_store_agent_out_t *o)
{
    int64_t at = ad_run_suspended_until(r, agent_id);
    if (at == 0) {
        return;
    }
    char ts[AD_TIME_MAX];
    ad_time_format(at, ts);
    size_t len = strlen(o->tail);
    snprintf(o->tail + len, sizeof(o->tail) - len, ",\"resumeAt\":\"%s\"", ts);
}
