/* SPDX-License-Identifier: MIT */
/*
 * Private to src/routine: the engine's state, shared by sched.c (the
 * timer and the claims), start.c (a run started through the REST routes)
 * and watch.c (open runs followed). Loop thread only.
 */
#ifndef AD_ROUTINE_INT_H
#define AD_ROUTINE_INT_H

#include "auth/auth.h"
#include "bus/bus.h"
#include "http/http.h"
#include "routine/routine.h"
#include "store/store.h"

#include <uv.h>

/* The longest the timer waits before reading the next fire again: a
 * routine another plane made without Redis between them is seen by then. */
#define AD_ROUTINE_RESCAN_MS 30000
/* A fire this late or less is on time; one later was missed. */
#define AD_ROUTINE_GRACE_MS 60000
/* How often open runs are looked at, while there are any. */
#define AD_ROUTINE_WATCH_MS 500
/* A run left starting this long (its plane went away) is failed. */
#define AD_ROUTINE_STARTING_MS 120000

struct ad_routines {
    uv_loop_t *loop;
    uv_timer_t timer; /* the earliest next fire */
    uv_timer_t watch; /* open runs, while there are any */
    ad_store_t *st;
    ad_bus_t *bus;
    ad_server_t *server;
    ad_bus_sub_t *sub; /* routine_update from other planes */
    const char *tzdir; /* NULL: AD_TZ_DIR */
    char plane[64];
    char data_dir[4096];
    unsigned firing;  /* fire writes out: the timer waits for them */
    unsigned out;     /* writes and calls out; freed at 0 once closed */
    unsigned handles; /* timers not yet closed */
    bool closed, watching;
    ad_routine_agent_check_fn agent_check; /* src/api's, for the routes */
    int64_t shift_ms; /* test builds: AGENTD_TEST_ROUTINE_SHIFT_MS, the clock moved on */
};

/* The engine's wall clock (ms): the real one, moved on by shift_ms in a
 * test build (a restart "hours later" without waiting hours). */
static inline int64_t ad_routines_now(const ad_routines_t *e)
{
    return ad_wall_ms() + e->shift_ms;
}

/* routes.c: the routes, on app->server (the engine's routes hook). */
void ad_routines_routes(struct ad_app *app);
/* Whether the engine may be freed now (closed, nothing out), and frees it. */
void ad_routines_maybe_free(ad_routines_t *e);
/* Reads the earliest next fire and sets the timer for it. */
void ad_routines_arm(ad_routines_t *e);
/* Runs the routine (a row) in its run (a row with status starting): a
 * worktree when it wants a fresh one, its agent, the start; the run row
 * follows. Both borrowed. */
void ad_routines_start(ad_routines_t *e, const json_t *routine, const json_t *run);
/* The run's payload file (in its worktree's git folder) removed: the run
 * (a row) has ended. */
void ad_routines_payload_drop(ad_routines_t *e, const json_t *run);
/* Follows the open runs from now on (the watch timer runs while any is). */
void ad_routines_watch(ad_routines_t *e);
/* Writes a run's change (args of ad_store_op_routine_run_set, taken) and
 * publishes the run when it changed; cb (may be NULL) gets whether it did
 * (false, with no run, once the engine is stopping: nothing is written). */
typedef void (*ad_routines_set_cb)(ad_routines_t *e, bool changed, json_t *run, void *ud);
void ad_routines_run_set(ad_routines_t *e, json_t *args, ad_routines_set_cb cb, void *ud);
/* routine_run with the run (borrowed) on routine:<id> and org:<org>. */
void ad_routines_publish_run(ad_routines_t *e, const json_t *run);
/* routine_update with the routine as stored now, on routine:<id>,
 * org:<org> and routines (every plane's scheduler listens). */
void ad_routines_publish(ad_routines_t *e, const char *id);
/* The routine's principal: its org, admin, named routine:<id>. */
void ad_routines_who(const json_t *routine, ad_principal_t *who);
/* A REST call as who (borrowed until cb): method, target, body (taken,
 * may be NULL); cb(status, answer (new, cb's; {} when not JSON), ud);
 * 503 at once once the engine is stopping. */
typedef void (*ad_routines_call_cb)(ad_routines_t *e, int status, json_t *answer, void *ud);
void ad_routines_call(ad_routines_t *e, const ad_principal_t *who, const char *method,
                      const char *target, json_t *body, ad_routines_call_cb cb, void *ud);

#endif
