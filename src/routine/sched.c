/* SPDX-License-Identifier: MIT */
/*
 * The scheduler: one timer for the earliest next fire of any routine (one
 * indexed read, so idle routines cost nothing). When it rings, each due
 * routine's fires since its next_fire_at are worked out (with the
 * routine's missed policy for those that came while no plane ran) and
 * claimed with the routine's move to its next fire, in one transaction
 * (ad_store_op_routine_fire): of several planes only the one whose UPDATE
 * changed the row starts the runs. Manual and webhook fires take the same
 * write without the claim.
 */
#include "routine/routine_int.h"
#include "tables/routines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRES_MAX 1000 /* due fires worked out one by one; past it, skipped at once */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void on_timer(uv_timer_t *t);

void ad_routines_arm(ad_routines_t *e)
{
    if (e == NULL || e->closed || e->firing > 0) {
        return;
    }
    int64_t next = 0, now = ad_routines_now(e);
    uint64_t delay = AD_ROUTINE_RESCAN_MS;
    if (ad_store_routine_next(e->st, &next) == 0 && next > 0) {
        int64_t d = next - now;
        delay = d <= 0 ? 0 : d < AD_ROUTINE_RESCAN_MS ? (uint64_t)d : AD_ROUTINE_RESCAN_MS;
    }
    uv_timer_start(&e->timer, on_timer, delay, 0);
}

void ad_routines_changed(ad_routines_t *e)
{
    ad_routines_arm(e);
}

void ad_routines_publish_run(ad_routines_t *e, const json_t *run)
{
    ad_bus_publish_to(e->bus, "routine_run", (json_t *)run, "routine", str(run, "routineId"), "org",
                      str(run, "orgId"), NULL);
}

void ad_routines_publish(ad_routines_t *e, const char *id)
{
    json_t *r = NULL;
    if (ad_store_routine_get(e->st, id, &r) == 0) {
        ad_bus_publish_to(e->bus, "routine_update", r, "routine", id, "org", str(r, "orgId"),
                          "routines", "", NULL);
        json_decref(r);
    }
}

/* ---- a fire written ------------------------------------------------------------------ */

typedef struct {
    ad_routines_t *e;
    json_t *routine;
    bool scheduled; /* the timer's: the timer is armed again after it */
    ad_routine_run_cb cb;
    void *ud;
} fire_t;

static void fired(int rc, json_t *result, void *ud)
{
    fire_t *f = ud;
    ad_routines_t *e = f->e;
    e->out--;
    e->firing -= f->scheduled;
    json_t *runs = json_object_get(result, "runs");
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "routine", "cannot write a fire of %s: %s", str(f->routine, "id"),
               ad_strerror(rc));
    } else if (!e->closed && json_is_true(json_object_get(result, "claimed"))) {
        size_t i;
        json_t *run;
        json_array_foreach(runs, i, run)
        {
            ad_routines_publish_run(e, run);
            if (strcmp(str(run, "status"), "starting") == 0) {
                ad_routines_start(e, f->routine, run);
            }
        }
        ad_routines_publish(e, str(f->routine, "id"));
        ad_routines_watch(e);
    }
    if (f->cb != NULL) {
        json_t *first = json_array_get(runs, 0);
        f->cb(rc != 0 ? rc : first != NULL ? 0 : AD_EINTERNAL, json_incref(first), f->ud);
    }
    json_decref(result);
    json_decref(f->routine);
    free(f);
    if (e->firing == 0) {
        ad_routines_arm(e);
    }
    ad_routines_maybe_free(e);
}

static json_t *fire_args(ad_routines_t *e, const json_t *routine, json_t *fires)
{
    return json_pack("{s:s, s:s, s:O, s:s, s:s, s:I, s:o}", "routineId", str(routine, "id"),
                     "orgId", str(routine, "orgId") != NULL ? str(routine, "orgId") : "", "limits",
                     json_object_get(routine, "limits"), "overlap",
                     str(routine, "missed") != NULL ? str(routine, "missed") : "once", "planeId",
                     e->plane, "now", (json_int_t)ad_routines_now(e), "fires", fires);
}

static json_t *one_fire(const char *source, int64_t at, const char *payload, const char *status,
                        const char *reason)
{
    char id[AD_ID_MAX];
    ad_id_new("rtr", id);
    json_t *f = json_pack("{s:s, s:s, s:I}", "id", id, "source", source, "fireAt", (json_int_t)at);
    if (payload != NULL) {
        json_object_set_new(f, "payload", json_string(payload));
    }
    if (status != NULL) {
        json_object_set_new(f, "status", json_string(status));
        json_object_set_new(f, "reason", json_string(reason));
    }
    return f;
}

void ad_routines_fire(ad_routines_t *e, const json_t *routine, const char *source,
                      const char *payload, ad_routine_run_cb cb, void *ud)
{
    if (e == NULL || e->closed) {
        cb(AD_EUNAVAIL, NULL, ud);
        return;
    }
    json_t *fires = json_pack("[o]", one_fire(source, ad_routines_now(e), payload, NULL, NULL));
    fire_t *f = ad_xcalloc(1, sizeof(*f));
    *f = (fire_t){.e = e, .routine = json_incref((json_t *)routine), .cb = cb, .ud = ud};
    e->out++;
    ad_store_write(e->st, ad_store_op_routine_fire, fire_args(e, routine, fires), fired, f);
}

/* ---- the timer ----------------------------------------------------------------------- */

/* The fires of a due routine, from old (its next_fire_at) to now, under
 * its missed policy; *next its next fire after now (0: none). */
static json_t *due_fires(ad_routines_t *e, const json_t *r, int64_t old, int64_t now, int64_t *next)
{
    json_t *trigger = json_object_get(r, "trigger");
    const char *source = strcmp(ad_routine_kind(trigger), "cron") == 0 ? "cron" : "interval";
    const char *missed = str(r, "missed") != NULL ? str(r, "missed") : "once";
    int64_t times[FIRES_MAX];
    size_t n = 0;
    int64_t t = old, more = 0;
    while (t > 0 && t <= now && n < FIRES_MAX) {
        times[n++] = t;
        t = ad_routine_next_fire(trigger, e->tzdir, t);
    }
    if (t > 0 && t <= now) { /* past FIRES_MAX: the rest are counted, not run */
        int64_t p = ad_routine_every_ms(str(trigger, "every"));
        more = p > 0 ? (now - t) / p + 1 : 1;
        t = ad_routine_next_fire(trigger, e->tzdir, p > 0 ? t + (more - 1) * p : now);
    }
    *next = t > 0 ? t : 0;
    json_t *fires = json_array();
    bool on_time = n > 0 && now - times[n - 1] <= AD_ROUTINE_GRACE_MS;
    size_t late = n - (on_time ? 1 : 0) + (size_t)more;
    char why[160];
    if (strcmp(missed, "all") == 0) {
        for (size_t i = 0; i < n; i++) {
            bool run = i + AD_ROUTINE_MISSED_MAX >= n;
            snprintf(why, sizeof(why), "missed: more than %d fires while no control plane ran",
                     AD_ROUTINE_MISSED_MAX);
            json_array_append_new(fires,
                                  one_fire(source, times[i], NULL, run ? NULL : "skipped", why));
        }
    } else if (strcmp(missed, "once") == 0 || !on_time) {
        if (late > 0) {
            snprintf(why, sizeof(why), "missed: %zu fire(s) while no control plane ran%s", late,
                     strcmp(missed, "once") == 0 ? ", run once for them" : "");
            bool skip = strcmp(missed, "skip") == 0;
            json_array_append_new(fires, one_fire(source, times[0], NULL, skip ? "skipped" : NULL,
                                                  skip ? why : NULL));
        }
        if (on_time && (late == 0 || strcmp(missed, "skip") == 0)) {
            json_array_append_new(fires, one_fire(source, times[n - 1], NULL, NULL, NULL));
        }
    } else { /* skip, on time: the missed ones skipped in one row, this one runs */
        if (late > 0) {
            snprintf(why, sizeof(why), "missed: %zu fire(s) while no control plane ran", late);
            json_array_append_new(fires, one_fire(source, times[0], NULL, "skipped", why));
        }
        json_array_append_new(fires, one_fire(source, times[n - 1], NULL, NULL, NULL));
    }
    return fires;
}

static void fire_due(ad_routines_t *e, json_t *r, int64_t now)
{
    int64_t old = json_integer_value(json_object_get(r, "nextFireMs")), next = 0;
    json_t *fires = due_fires(e, r, old, now, &next);
    json_t *args = fire_args(e, r, fires);
    json_object_set_new(args, "claim",
                        json_pack("{s:I, s:I}", "old", (json_int_t)old, "next", (json_int_t)next));
    fire_t *f = ad_xcalloc(1, sizeof(*f));
    *f = (fire_t){.e = e, .routine = json_incref(r), .scheduled = true};
    e->firing++;
    e->out++;
    ad_store_write(e->st, ad_store_op_routine_fire, args, fired, f);
}

static void on_timer(uv_timer_t *t)
{
    ad_routines_t *e = t->data;
    json_t *due = NULL;
    int64_t now = ad_routines_now(e);
    if (e->closed || e->firing > 0) {
        return;
    }
    if (ad_store_routine_due(e->st, now, &due) != 0) {
        uv_timer_start(&e->timer, on_timer, 1000, 0); /* the database away: again soon */
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(due, i, r)
    {
        fire_due(e, r, now);
    }
    json_decref(due);
    if (e->firing == 0) {
        ad_routines_arm(e);
    }
}
