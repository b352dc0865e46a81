/* SPDX-License-Identifier: MIT */
/*
 * Long-lived channels (WebSockets, event streams, the terminal) keep the
 * credential they came in with, and it is checked again: at once after a
 * token is revoked, a session signed out or the owner token rotated, and
 * at the moment it expires (one timer, set to the soonest expiry among the
 * watched credentials). A credential that no longer lets a request in
 * does not keep a channel open either.
 */
#include "auth/auth_int.h"

#include <stdlib.h>

static void on_expiry(uv_timer_t *t);

static void unlink_watch(ad_auth_t *a, ad_auth_watch_t *w)
{
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        a->watches = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    w->next = w->prev = NULL;
}

/* The timer goes off at soonest (wall ms; 0: never). */
static void arm_at(ad_auth_t *a, int64_t soonest)
{
    a->expiry_soonest = soonest;
    if (a->loop == NULL) {
        return;
    }
    if (!a->expiry_open) {
        uv_timer_init(a->loop, &a->expiry_timer);
        a->expiry_timer.data = a;
        a->expiry_open = true;
    }
    if (soonest == 0) {
        uv_timer_stop(&a->expiry_timer);
        return;
    }
    int64_t wait = soonest - ad_wall_ms();
    uv_timer_start(&a->expiry_timer, on_expiry, wait > 0 ? (uint64_t)wait : 0, 0);
    uv_unref((uv_handle_t *)&a->expiry_timer);
}

/* After a change: the soonest expiry among the watches left. */
static void arm(ad_auth_t *a)
{
    int64_t soonest = 0;
    for (ad_auth_watch_t *w = a->watches; w != NULL; w = w->next) {
        if (w->expires_at > 0 && (soonest == 0 || w->expires_at < soonest)) {
            soonest = w->expires_at;
        }
    }
    arm_at(a, soonest);
}

void ad_auth_watch_recheck(ad_auth_t *a)
{
    /* ended() may close channels and unwatch others: start over after each */
    for (bool again = true; again;) {
        again = false;
        for (ad_auth_watch_t *w = a->watches; w != NULL; w = w->next) {
            if (!ad_auth_credential_live(a, &w->cred)) {
                unlink_watch(a, w);
                w->fired = true;
                w->ended(w->ud);
                again = true;
                break;
            }
        }
    }
    arm(a);
}

static void on_expiry(uv_timer_t *t)
{
    ad_auth_watch_recheck(t->data);
}

ad_auth_watch_t *ad_auth_watch(ad_auth_t *a, const ad_auth_cred_t *cred, void (*ended)(void *ud),
                               void *ud)
{
    ad_auth_watch_t *w = ad_xcalloc(1, sizeof(*w));
    w->a = a;
    w->cred = *cred;
    w->ended = ended;
    w->ud = ud;
    w->next = a->watches;
    if (a->watches != NULL) {
        a->watches->prev = w;
    }
    a->watches = w;
    /* a credential's expiry never moves: kept, and the timer moved only
     * when this one comes sooner (a watch costs O(1), however many) */
    w->expires_at = ad_auth_credential_expiry(a, cred);
    if (w->expires_at > 0 && (a->expiry_soonest == 0 || w->expires_at < a->expiry_soonest)) {
        arm_at(a, w->expires_at);
    }
    return w;
}

void ad_auth_unwatch(ad_auth_watch_t *w)
{
    if (w == NULL) {
        return;
    }
    if (!w->fired) {
        unlink_watch(w->a, w);
    }
    free(w);
}

void ad_auth_watch_close(ad_auth_t *a, uv_close_cb closed)
{
    while (a->watches != NULL) {
        ad_auth_watch_t *w = a->watches;
        unlink_watch(a, w);
        w->fired = true; /* its owner frees it when its channel closes */
    }
    if (a->expiry_open) {
        a->expiry_open = false;
        a->closing++;
        uv_close((uv_handle_t *)&a->expiry_timer, closed); /* .data is a */
    }
}
