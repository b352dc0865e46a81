/* SPDX-License-Identifier: MIT */
/*
 * Starts asked through the API, one a loop turn (issue #80). A start's
 * work on the loop is about 0.7 ms of CPU with the sandbox on (the agent's
 * row and workspace read, its box built, its argv, pipes and pty made);
 * 100 starts sent at once arrive in one or two polls, and were run back
 * to back in those turns: 70 ms of CPU in a row, which a 2-core machine
 * busy with the sandboxes being started stretched to 300-400 ms while
 * every other client (a /ws ping, a message to a running agent) waited.
 * Here each start waits in a FIFO and an idle handle runs one per turn
 * (the poll between two starts does not block), so whatever came in
 * meanwhile is answered after one start's work, not a hundred.
 *
 * A paced start answers only through cb, with the codes ad_runner_start_q
 * returns at once (the route's answers are the same statuses). One asked
 * after the runner began to close is answered 409.
 *
 * The loop's turns are timed here too, for /metrics (what this is for):
 * a prepare handle, just before each poll, takes the turn since the last
 * one less the time libuv spent blocked in the poll (UV_METRICS_IDLE_TIME):
 * what the loop worked, or waited for a CPU, while anything that came in
 * waited for it. agentd_loop_stall_seconds is their histogram,
 * agentd_loop_stall_max_seconds the longest (bench/starts.js reads both).
 *
 * Owns: the FIFO, its idle handle and the turns' prepare handle
 * (ad_runner_t's pace_* and turn*). Loop thread.
 */
#include "run/run_int.h"

#include <stdlib.h>
#include <string.h>

struct ad_run_paced {
    struct ad_run_paced *next;
    char agent_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char *prompt, *who;
    bool queue, has_cfg;
    ad_run_config_t cfg; /* its record and schema: references of ours */
    json_t *goal;        /* set once it started, or NULL */
    ad_runner_cb cb;
    void *ud;
};

static void paced_free(ad_run_paced_t *p)
{
    free(p->prompt);
    free(p->who);
    json_decref(p->cfg.record);
    json_decref(p->cfg.schema);
    json_decref(p->goal);
    free(p);
}

static ad_run_paced_t *pop(ad_runner_t *r)
{
    ad_run_paced_t *p = r->pace_head;
    if (p != NULL) {
        r->pace_head = p->next;
        if (r->pace_head == NULL) {
            r->pace_tail = &r->pace_head;
        }
    }
    return p;
}

static void run_one(ad_runner_t *r, ad_run_paced_t *p)
{
    char err[512] = "";
    ad_run_queue_ask_t q = {p->queue, p->who};
    int rc = ad_runner_start_q(r, p->agent_id, p->prompt, p->has_cfg ? &p->cfg : NULL, &q, p->cb,
                               p->ud, err, sizeof(err));
    if (rc != 0) {
        ad_run_call_cb(p->cb, p->ud, rc, NULL, err[0] != '\0' ? err : ad_strerror(rc));
    } else if (p->goal != NULL) { /* checked from its first turn's end on */
        ad_runner_goal_set(r, p->agent_id, p->org, p->goal);
    }
    paced_free(p);
}

static void on_idle(uv_idle_t *h)
{
    ad_runner_t *r = h->data;
    ad_run_paced_t *p = pop(r);
    if (r->pace_head == NULL) {
        uv_idle_stop(&r->pace);
    }
    if (p != NULL) {
        run_one(r, p);
    }
}

void ad_runner_start_paced(ad_runner_t *r, const ad_runner_paced_t *a, ad_runner_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_run_paced_t *p = ad_xcalloc(1, sizeof(*p));
    snprintf(p->agent_id, sizeof(p->agent_id), "%s", a->agent_id);
    snprintf(p->org, sizeof(p->org), "%s", a->org != NULL ? a->org : "");
    p->prompt = a->prompt != NULL ? ad_xstrdup(a->prompt) : NULL;
    p->who = a->who != NULL ? ad_xstrdup(a->who) : NULL;
    p->queue = a->queue;
    if (a->cfg != NULL) {
        p->has_cfg = true;
        p->cfg = *a->cfg;
        json_incref(p->cfg.record);
        json_incref(p->cfg.schema);
    }
    p->goal = json_incref((json_t *)a->goal);
    p->cb = cb;
    p->ud = ud;
    if (r->closing) { /* no turn to come */
        ad_run_call_cb(cb, ud, AD_ESTATE, NULL, "agentd is shutting down");
        paced_free(p);
        return;
    }
    *r->pace_tail = p;
    r->pace_tail = &p->next;
    if (!uv_is_active((uv_handle_t *)&r->pace)) {
        uv_idle_start(&r->pace, on_idle);
    }
}

/* ---- the loop's turns, timed --------------------------------------------------- */

const double ad_run_turn_bounds[AD_RUN_TURN_BUCKETS] = {0.001, 0.002, 0.005, 0.01, 0.02,
                                                        0.05,  0.1,   0.25,  0.5,  1};

static void on_prepare(uv_prepare_t *h)
{
    ad_runner_t *r = h->data;
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(r->loop);
    if (r->turn_at != 0) {
        uint64_t wall = now - r->turn_at, blocked = idle - r->turn_idle;
        double sec = (double)(wall > blocked ? wall - blocked : 0) / 1e9;
        size_t b = 0;
        while (b < AD_RUN_TURN_BUCKETS && sec > ad_run_turn_bounds[b]) {
            b++;
        }
        r->stats.turn_counts[b]++;
        r->stats.turn_sum_sec += sec;
        if (sec > r->stats.turn_max_sec) {
            r->stats.turn_max_sec = sec;
        }
    }
    r->turn_at = now;
    r->turn_idle = idle;
}

void ad_run_pace_init(ad_runner_t *r)
{
    r->pace_head = NULL;
    r->pace_tail = &r->pace_head;
    uv_idle_init(r->loop, &r->pace);
    r->pace.data = r;
    /* the poll's blocked time, from now on (libuv 1.39+) */
    uv_loop_configure(r->loop, UV_METRICS_IDLE_TIME);
    uv_prepare_init(r->loop, &r->turn);
    r->turn.data = r;
    uv_prepare_start(&r->turn, on_prepare);
    uv_unref((uv_handle_t *)&r->turn); /* keeps no loop alive */
}

void ad_run_pace_close(ad_runner_t *r, uv_close_cb on_closed)
{
    /* The server has closed its connections by now (main.c closes the
     * runner after it), so no caller is told: as the stops' waiters, what
     * still waits is dropped (an idle turn drains the FIFO long before). */
    for (ad_run_paced_t *p = pop(r); p != NULL; p = pop(r)) {
        paced_free(p);
    }
    uv_close((uv_handle_t *)&r->pace, on_closed);
    uv_close((uv_handle_t *)&r->turn, on_closed);
}
