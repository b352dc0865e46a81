/* SPDX-License-Identifier: MIT */
/*
 * The runner: its life cycle, the start-up reconciliation of runs a dead
 * daemon left behind, and what every part of a run shares (finding a run,
 * publishing its events, changing its agent row). Starting is start.c's,
 * output output.c's, exit exit.c's, stop/pause/input control.c's.
 */
#include "run/features.h"
#include "run/run_int.h"
#include "tables/nodes.h"
#include "tables/planes.h"

#include <stdlib.h>
#include <string.h>

#define LOST_REASON "lost: agentd stopped while the run was active"

/* ---- shared helpers -------------------------------------------------------- */

void ad_run_topics_init(ad_run_topics_t *t, const char *agent_id, const char *run_id,
                        const char *ws, const char *org, const char *crew)
{
    t->n = 0;
    t->early = NULL;
    snprintf(t->t[t->n], sizeof(t->t[0]), "agent:%s", agent_id);
    t->n++;
    if (run_id != NULL && run_id[0] != '\0') {
        snprintf(t->t[t->n], sizeof(t->t[0]), "run:%s", run_id);
        t->n++;
    }
    if (ws != NULL && ws[0] != '\0') {
        snprintf(t->t[t->n], sizeof(t->t[0]), "workspace:%s", ws);
        t->n++;
    }
    if (org != NULL && org[0] != '\0') {
        snprintf(t->t[t->n], sizeof(t->t[0]), "org:%s", org);
        t->n++;
    }
    if (crew != NULL && crew[0] != '\0') {
        snprintf(t->t[t->n], sizeof(t->t[0]), "crew:%s", crew);
        t->n++;
    }
    for (size_t i = 0; i < t->n; i++) {
        t->v[i] = t->t[i];
    }
}

const double ad_run_duration_bounds[AD_RUN_DURATION_BUCKETS] = {1,    10,   60,    300,  900,
                                                                1800, 3600, 14400, 86400};

void ad_runner_stats(const ad_runner_t *r, ad_runner_stats_t *out)
{
    *out = r->stats;
}

void ad_runner_each(const ad_runner_t *r, ad_runner_each_fn fn, void *ud)
{
    for (const ad_run_t *run = r->runs; run != NULL; run = run->next) {
        if (run->proc == NULL || !ad_proc_alive(run->proc) || run->pending != NULL) {
            continue;
        }
        const char *org = "";
        for (size_t i = 0; i < run->topics.n; i++) {
            if (strncmp(run->topics.t[i], "org:", 4) == 0) {
                org = run->topics.t[i] + 4;
            }
        }
        fn(run->agent_id, run->run_id, org, run->proc, ud);
    }
}

void ad_run_topics_copy(ad_run_topics_t *dst, const ad_run_topics_t *src)
{
    memcpy(dst, src, sizeof(*dst));
    for (size_t i = 0; i < dst->n; i++) {
        dst->v[i] = dst->t[i];
    }
    dst->early = NULL;
}

void ad_run_publish(ad_runner_t *r, const ad_run_topics_t *t, const char *type, json_t *payload)
{
    if (t->early != NULL && t->early->bytes < AD_RUN_EARLY_BYTES && payload != NULL) {
        t->early->bytes += 256 + json_string_length(json_object_get(payload, "content"));
        json_array_append_new(t->early->events,
                              json_pack("{s:s, s:o}", "type", type, "payload", payload));
        return;
    }
    ad_bus_publish(r->bus, type, t->v, t->n, payload);
    json_decref(payload);
}

void ad_run_publish_status(ad_runner_t *r, const ad_run_topics_t *t, const char *agent_id,
                           const char *status, const char *reason, json_t *why)
{
    int64_t since;
    bool force;
    static const char *live[] = {"running", "waiting", "idle", "paused"};
    for (size_t i = 0; i < AD_ARRAY_LEN(live); i++) {
        if (strcmp(status, live[i]) == 0 && ad_runner_stopping(r, agent_id, &since, &force)) {
            status = "stopping"; /* a turn that ends while stopping is no new state */
            reason = force ? "force" : NULL;
        }
    }
    json_t *ev = json_pack("{s:s, s:s, s:s?, s:O?}", "agentId", agent_id, "status", status,
                           "reason", reason, "statusReason", why);
    if (strcmp(status, "suspended") == 0) {
        ad_run_suspend_live(r, agent_id, ev); /* resumeAt (suspend.c) */
    }
    ad_run_publish(r, t, "agent_status", ev);
}

/* The agent id's bucket in r->index. */
static size_t index_bucket(const char *agent_id)
{
    return ad_hash_str(agent_id) & (AD_RUN_INDEX_BUCKETS - 1);
}

ad_run_t *ad_run_find(const ad_runner_t *r, const char *agent_id)
{
    for (ad_run_t *run = r->index[index_bucket(agent_id)]; run != NULL; run = run->hnext) {
        if (strcmp(run->agent_id, agent_id) == 0) {
            return run;
        }
    }
    return NULL;
}

void ad_run_link(ad_runner_t *r, ad_run_t *run)
{
    run->next = r->runs;
    r->runs = run;
    ad_run_t **b = &r->index[index_bucket(run->agent_id)];
    run->hnext = *b;
    *b = run;
}

void ad_run_unlink(ad_runner_t *r, ad_run_t *run)
{
    for (ad_run_t **pp = &r->runs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == run) {
            *pp = run->next;
            break;
        }
    }
    for (ad_run_t **pp = &r->index[index_bucket(run->agent_id)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == run) {
            *pp = run->hnext;
            break;
        }
    }
    if (run->on_check) {
        for (ad_run_t **pp = &r->check_runs; *pp != NULL; pp = &(*pp)->check_next) {
            if (*pp == run) {
                *pp = run->check_next;
                break;
            }
        }
        run->on_check = false;
    }
    run->next = run->hnext = run->check_next = NULL;
}

void ad_run_call_cb(ad_runner_cb cb, void *ud, int rc, json_t *result, const char *msg)
{
    if (cb != NULL) {
        cb(rc, result, msg, ud);
    }
}

/* ---- changes of the agent row ------------------------------------------------ */

/* One change of an agent row in the stuck queue: a run's (agent_update)
 * or of an agent with no run (ad_run_agent_write). It is made in its turn
 * behind output a full disk holds (batch.c), and again after such a
 * refusal. Its caller is heard through one of two callbacks: a run's
 * (run_cb: a borrowed result and a message) or no run's (store_cb, as
 * ad_store_agent_runtime's: it owns the result). */
typedef struct {
    ad_runner_t *r;
    ad_runner_cb run_cb;         /* NULL once called */
    ad_store_result_cb store_cb; /* NULL once called */
    void *ud;
    bool answer_now; /* its caller hears a wait for space at once */
    bool of_run;     /* a run's: topics, status and reason are the run's */
    bool publish;    /* publishes the agent's status once stored, if no store_cb heard */
    ad_run_topics_t topics;
    const char *status; /* static: a run's status set, or NULL */
    const char *reason; /* static or NULL: agent_status's short reason ("approval") */
    char agent_id[AD_ID_MAX];
    ad_store_agent_runtime_t u; /* the change (its state_patch a reference of ours) */
} change_t;

static void on_change_done(int rc, json_t *result, void *ud);

static void change_free(change_t *c)
{
    json_decref(c->u.state_patch);
    free(c);
}

/* Its caller hears rc with no result, once (the answer to a request while
 * the change waits for space, or the daemon's end). */
static void change_answer_now(change_t *c, int rc)
{
    ad_runner_cb run_cb = c->run_cb;
    ad_store_result_cb store_cb = c->store_cb;
    c->run_cb = NULL;
    c->store_cb = NULL;
    ad_run_call_cb(run_cb, c->ud, rc, NULL, ad_strerror(rc));
    if (store_cb != NULL) {
        store_cb(rc, NULL, c->ud);
    }
}

/* The change to the writer (the store takes a reference of its own).
 * cancelled: the daemon is closing and nothing is written; a run's caller,
 * if it still waits, is not answered (as a run's end's), no run's hears so. */
static void change_call(void *ud, bool cancelled)
{
    change_t *c = ud;
    if (cancelled) {
        if (!c->of_run) {
            change_answer_now(c, AD_ECLOSED);
        }
        change_free(c);
        return;
    }
    ad_store_agent_runtime_t u = c->u;
    json_incref(u.state_patch);
    ad_store_agent_runtime(c->r->store, &u, on_change_done, c);
}

/* The stored status on the run's topics, or (no run) on the agent's as
 * the stored row names them. */
static void change_publish(change_t *c, json_t *result)
{
    json_t *agent = json_object_get(result, "agent");
    json_t *why = json_object_get(agent, "statusReason");
    if (c->of_run) {
        ad_run_publish_status(c->r, &c->topics, c->agent_id, c->status, c->reason, why);
    } else if (agent != NULL) {
        ad_run_topics_t t;
        ad_run_topics_init(&t, c->agent_id, NULL, NULL,
                           json_string_value(json_object_get(agent, "orgId")), NULL);
        const char *st = json_string_value(json_object_get(agent, "status"));
        ad_run_publish_status(c->r, &t, c->agent_id, st != NULL ? st : "idle", NULL, why);
    }
}

static void on_change_done(int rc, json_t *result, void *ud)
{
    change_t *c = ud;
    /* a full disk: the change waits for room in the stuck queue, after the
     * output before it; a caller that answers a request hears at once */
    if (ad_run_store_again(c->r, rc, change_call, c, c->agent_id)) {
        json_decref(result);
        if (c->answer_now) {
            change_answer_now(c, rc);
        }
        return;
    }
    if (c->store_cb != NULL) {
        c->store_cb(rc, result, c->ud); /* the result is the callback's */
        change_free(c);
        return;
    }
    if (rc == AD_ESTATE) {
        ad_log(AD_LOG_WARN, "runner",
               "agent change refused: another control plane holds the run agent=%s", c->agent_id);
    } else if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "agent change failed agent=%s error=%s", c->agent_id,
               ad_strerror(rc));
    } else if (c->publish) {
        change_publish(c, result);
    }
    ad_run_call_cb(c->run_cb, c->ud, rc, result, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(result);
    change_free(c);
}

/* Into the queue: u's state_patch moves to c. */
static void change_queue(change_t *c, ad_store_agent_runtime_t *u)
{
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", u->id);
    c->u = *u;
    u->state_patch = NULL;
    if (!ad_run_store_call(c->r, change_call, c, c->agent_id) && c->answer_now) {
        /* waiting behind a full disk: its caller (a pause, a halt) hears
         * now, as after a refusal (on_change_done) */
        change_answer_now(c, c->r->stuck_rc);
    }
}

/* A change asked for while a held run's line is handled: written once
 * the line's rows are (they are handed over together at its end). */
struct ad_run_held_update {
    ad_store_agent_runtime_t u;
    ad_runner_cb cb;
    void *ud;
};
#define HELD_UPDATES_MAX 8

static void agent_update(ad_run_t *run, ad_store_agent_runtime_t *u, ad_runner_cb cb, void *ud)
{
    /* Writes keep the order of the output: what the agent said before this
     * change is stored before it (a client that sees `waiting` finds the
     * answer). The rows of a held run's line wait for its end. */
    if (run->held.in_line && run->held.nupdates < HELD_UPDATES_MAX) {
        if (run->held.updates == NULL) {
            run->held.updates = ad_xcalloc(HELD_UPDATES_MAX, sizeof(*run->held.updates));
        }
        run->held.updates[run->held.nupdates++] =
            (struct ad_run_held_update){.u = *u, .cb = cb, .ud = ud};
        u->state_patch = NULL; /* taken with the copy */
        return;
    }
    ad_run_flush_all(run);
    change_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    c->run_cb = cb;
    c->ud = ud;
    c->answer_now = true;
    c->of_run = true;
    ad_run_topics_copy(&c->topics, &run->topics);
    c->status = u->set_status ? ad_row_agent_status_name(u->status) : NULL;
    c->publish = c->status != NULL;
    c->reason = strcmp(u->why.code, "approval_requested") == 0 ? "approval"
                : strcmp(u->why.code, "protocol_error") == 0   ? "protocol_error"
                                                               : NULL;
    snprintf(u->id, sizeof(u->id), "%s", run->agent_id);
    /* fenced: a plane that lost the run's lease writes nothing of it (#77) */
    snprintf(u->run_id, sizeof(u->run_id), "%s", run->run_id);
    snprintf(u->plane_id, sizeof(u->plane_id), "%.*s", (int)sizeof(u->plane_id) - 1,
             run->r->cfg->plane_id);
    u->now = ad_wall_ms();
    change_queue(c, u);
}

void ad_run_held_updates_flush(ad_run_t *run)
{
    size_t n = run->held.nupdates;
    run->held.nupdates = 0;
    for (size_t i = 0; i < n; i++) {
        struct ad_run_held_update *h = &run->held.updates[i];
        agent_update(run, &h->u, h->cb, h->ud);
    }
}

void ad_run_agent_update(ad_run_t *run, ad_store_agent_runtime_t *u, ad_runner_cb cb, void *ud)
{
    u->set_status = false;
    memset(&u->why, 0, sizeof(u->why));
    agent_update(run, u, cb, ud);
}

void ad_run_set_status(ad_run_t *run, ad_store_agent_runtime_t *u, ad_row_agent_status_t status,
                       const ad_store_status_reason_t *why, ad_runner_cb cb, void *ud)
{
    ad_store_agent_runtime_t none = {.context_level = -1};
    if (u == NULL) {
        u = &none;
    }
    if (why != NULL) {
        u->why = *why;
    } else {
        ad_status_reason_set(&u->why, "unexplained", run->run_id,
                             "status set with no reason given");
    }
    u->set_status = true;
    u->status = status;
    agent_update(run, u, cb, ud);
}

/* ---- changes of an agent with no run ---------------------------------------------- */

void ad_run_agent_write(ad_runner_t *r, ad_store_agent_runtime_t *u, bool answer_now,
                        ad_store_result_cb cb, void *ud)
{
    change_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->store_cb = cb;
    c->ud = ud;
    c->answer_now = answer_now;
    c->publish = u->set_status || u->why.code[0] != '\0';
    change_queue(c, u);
}

void ad_run_free(ad_run_t *run)
{
    ad_run_pending_free(run);
    ad_run_feat_free(run);
    free(run->turn.last_text);
    ad_buf_cleanup(&run->live.buf[0]);
    ad_buf_cleanup(&run->live.buf[1]);
    ad_buf_cleanup(&run->msgs.out[0]);
    ad_buf_cleanup(&run->msgs.out[1]);
    ad_run_batch_cleanup(&run->msgs.batch);
    ad_recs_cleanup(&run->recs);
    ad_parser_free(run->parser);
    free(run->cwd);
    for (size_t i = 0; i < run->held.nupdates; i++) { /* never written: the daemon closes */
        json_decref(run->held.updates[i].u.state_patch);
        ad_run_call_cb(run->held.updates[i].cb, run->held.updates[i].ud, AD_ESTATE, NULL,
                       "the daemon is closing");
    }
    free(run->held.updates);
    free(run->held.dir);
    free(run);
}

/* ---- reconcile ---------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    ad_runner_cb cb;
    void *ud;
} rec_ctx_t;

static void on_reconciled(int rc, json_t *result, void *ud)
{
    rec_ctx_t *c = ud;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "runner", "reconciling runs failed error=%s", ad_strerror(rc));
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(result, "agents"), i, a)
        {
            const char *id = json_string_value(json_object_get(a, "id"));
            if (id == NULL) {
                continue;
            }
            ad_run_topics_t t;
            ad_run_topics_init(&t, id, NULL, NULL, json_string_value(json_object_get(a, "orgId")),
                               NULL);
            ad_run_publish_status(c->r, &t, id, "error", LOST_REASON,
                                  json_object_get(a, "statusReason"));
        }
        size_t n = json_array_size(json_object_get(result, "runs"));
        if (n > 0) {
            ad_log(AD_LOG_WARN, "runner", "marked runs lost count=%zu", n);
        }
        ad_run_find_orphans(c->r, json_object_get(result, "runs")); /* hold.c */
        ad_run_suspends_rearm(c->r); /* agents suspended on a usage limit (suspend.c) */
    }
    ad_run_call_cb(c->cb, c->ud, rc, result, rc != 0 ? ad_strerror(rc) : NULL);
    json_decref(result);
    free(c);
}

/* kept (NULL-terminated, owned) with a copy of id added at its end, n its
 * length before, counted up. */
static char **kept_add(char **kept, size_t *n, const char *id)
{
    kept = ad_xrealloc(kept, (*n + 2) * sizeof(char *));
    kept[(*n)++] = ad_xstrdup(id);
    kept[*n] = NULL;
    return kept;
}

/* Runs a previous daemon left on worker nodes: each taken up through a
 * relay that waits for its node (its lease counts from now); appended to
 * kept (NULL-terminated, grown here). */
static char **keep_remote(ad_runner_t *r, char **kept)
{
    json_t *runs = NULL;
    if (r->plane == NULL || ad_store_runs_on_nodes(r->store, &runs) != 0) {
        return kept;
    }
    size_t n = 0;
    while (kept[n] != NULL) {
        n++;
    }
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x)
    {
        const char *id = json_string_value(json_object_get(x, "id"));
        char err[256];
        if (ad_store_run_leased_elsewhere(r->store, r->cfg->plane_id, id, ad_wall_ms())) {
            continue; /* another control plane runs it (issue #39) */
        }
        if (ad_run_attach_remote(r, json_string_value(json_object_get(x, "agentId")), id,
                                 json_integer_value(json_object_get(x, "startedAt")),
                                 json_string_value(json_object_get(x, "nodeId")), err,
                                 sizeof(err)) != 0) {
            ad_log(AD_LOG_WARN, "runner", "could not take up a run on a node run=%s why=\"%s\"", id,
                   err);
            continue;
        }
        kept = kept_add(kept, &n, id);
    }
    json_decref(runs);
    return kept;
}

ad_run_t *ad_run_find_by_run(const ad_runner_t *r, const char *run_id)
{
    for (ad_run_t *run = r->runs; run != NULL; run = run->next) {
        if (strcmp(run->run_id, run_id) == 0) {
            return run;
        }
    }
    return NULL;
}

bool ad_runner_has_run(const ad_runner_t *r, const char *run_id)
{
    return r != NULL && ad_run_find_by_run(r, run_id) != NULL;
}

/* kept and the runs other control planes hold live leases of (issue #39):
 * theirs to run, never this plane's to reconcile as lost. */
static char **keep_elsewhere(ad_runner_t *r, char **kept)
{
    json_t *ids = NULL;
    if (r->cfg->plane_id[0] == '\0' ||
        ad_store_runs_leased_elsewhere(r->store, r->cfg->plane_id, ad_wall_ms(), &ids) != 0) {
        return kept;
    }
    size_t n = 0;
    while (kept[n] != NULL) {
        n++;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        kept = kept_add(kept, &n, json_string_value(v));
    }
    json_decref(ids);
    return kept;
}

int ad_runner_take_up(ad_runner_t *r, const char *run_id, char *err, size_t errsz)
{
    ad_run_t *here = ad_run_find_by_run(r, run_id);
    if (here != NULL) {
        ad_run_node_take_back(r, here); /* runs here already: its epoch went up */
        return 0;
    }
    json_t *runs = NULL;
    if (r->plane == NULL || ad_store_runs_on_nodes(r->store, &runs) != 0) {
        snprintf(err, errsz, "the runs on nodes could not be read");
        return AD_EIO;
    }
    int rc = AD_ENOENT;
    bool on_node = false;
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "id")), run_id) != 0) {
            continue;
        }
        on_node = true;
        const char *agent_id = json_string_value(json_object_get(x, "agentId"));
        rc = ad_run_attach_remote(r, agent_id, run_id,
                                  json_integer_value(json_object_get(x, "startedAt")),
                                  json_string_value(json_object_get(x, "nodeId")), err, errsz);
        ad_run_t *run = rc == 0 ? ad_run_find(r, agent_id) : NULL;
        if (run != NULL) {
            ad_store_status_reason_t why;
            ad_status_reason_set(&why, "taken_over", run_id, "control plane %s took run %s over",
                                 r->cfg->plane_id, run_id);
            ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_RUNNING, &why, NULL, NULL);
        }
        break;
    }
    json_decref(runs);
    /* not on a node: a run another plane on this machine ran under a
     * holder (--takeover-dirs, hold.c) */
    return on_node ? rc : ad_run_take_held(r, run_id, err, errsz);
}

void ad_runner_reconcile(ad_runner_t *r, ad_runner_cb cb, void *ud)
{
    rec_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->cb = cb;
    c->ud = ud;
    /* Runs whose holders still hold them go on (hold.c), here or on their
     * nodes; the rest are lost. */
    char **kept = keep_elsewhere(r, keep_remote(r, ad_run_reattach_all(r)));
    ad_store_runs_reconcile_keep(r->store, ad_wall_ms(), LOST_REASON, (const char *const *)kept,
                                 on_reconciled, c);
    for (size_t i = 0; kept[i] != NULL; i++) {
        free(kept[i]);
    }
    free(kept);
}

/* ---- life cycle ------------------------------------------------------------------ */

ad_runner_t *ad_runner_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store,
                           ad_bus_t *bus, ad_procs_t *procs)
{
    ad_runner_t *r = ad_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->cfg = cfg;
    r->store = store;
    r->bus = bus;
    r->procs = procs;
    r->orphans = json_array();
    uv_check_init(loop, &r->check);
    r->check.data = r;
    uv_timer_init(loop, &r->retry);
    r->retry.data = r;
    r->retry_ms = AD_RUN_RETRY_MIN_MS;
    r->open_handles = 5;
    ad_run_queue_init(r);
    ad_run_pace_init(r);
    if (bus != NULL && cfg->redis_url[0] != '\0') {
        r->seen = ad_run_seen_start(bus); /* only planes on Redis see others' output */
    }
    return r;
}

static void on_runner_closed(uv_handle_t *h)
{
    ad_runner_t *r = h->data;
    if (--r->open_handles > 0) {
        return;
    }
    json_decref(r->orphans);
    free(r->otlp_endpoint);
    free(r);
}

void ad_runner_set_key_source(ad_runner_t *r, ad_runner_key_fn fn, void *ud)
{
    r->key_fn = fn;
    r->key_ud = ud;
}

void ad_runner_free(ad_runner_t *r)
{
    if (r == NULL) {
        return;
    }
    /* Runs still here had their processes killed by ad_procs_free() without
     * an exit callback: nothing more can be recorded for them (the next
     * start reconciles them as lost). */
    while (r->runs != NULL) {
        ad_run_t *run = r->runs;
        for (ad_run_waiter_t *w = run->stop.waiters, *next; w != NULL; w = next) {
            next = w->next;
            free(w);
        }
        run->stop.waiters = NULL;
        ad_run_release(run);
    }
    ad_run_stuck_free(r);
    ad_run_seen_free(r->seen);
    r->seen = NULL;
    ad_run_commits_detach(r);
    ad_run_suspends_free(r);                /* suspend.c, goal.c */
    ad_run_pace_close(r, on_runner_closed); /* before the goals: a start sets one */
    ad_run_goals_free(r);
    uv_close((uv_handle_t *)&r->check, on_runner_closed);
    uv_close((uv_handle_t *)&r->retry, on_runner_closed);
    ad_run_queue_close(r, on_runner_closed);
}

bool ad_runner_is_running(const ad_runner_t *r, const char *agent_id)
{
    const ad_run_t *run = ad_run_find(r, agent_id);
    return run != NULL && run->proc != NULL;
}

void ad_runner_set_crew(ad_runner_t *r, const char *agent_id, const char *crew)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL) {
        return;
    }
    snprintf(run->crew_id, sizeof(run->crew_id), "%s", crew != NULL ? crew : "");
    ad_run_topics_t *t = &run->topics;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) { /* every topic but the old crew's */
        if (strncmp(t->t[i], "crew:", 5) != 0) {
            memmove(t->t[n++], t->t[i], sizeof(t->t[0]));
        }
    }
    if (run->crew_id[0] != '\0' && n < sizeof(t->t) / sizeof(t->t[0])) {
        snprintf(t->t[n++], sizeof(t->t[0]), "crew:%s", run->crew_id);
    }
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        t->v[i] = t->t[i];
    }
}
