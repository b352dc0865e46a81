/* SPDX-License-Identifier: MIT */
/*
 * Accounts across control planes (issue #77, docs/operations.md "Several
 * control planes"). Each plane keeps tokens and sessions in memory
 * (auth.c, sessions.c); when several share one PostgreSQL database, what
 * one changes reaches the others here:
 *
 * - every SYNC_MS a read on the thread pool of the change log
 *   (src/tables/authsync.c: a token made or revoked, a session ended by a
 *   logout, a plane's owner token set) over the last WINDOW_MS, each
 *   change applied once (a ring of the ids applied): a token's row put in
 *   place, a revoked one's sessions and channels ended at once
 *   (ad_auth_tokens_revoked, so a /ws on this plane closes within a
 *   second of a revocation on another); a session forgotten;
 * - the owner: each plane publishes its owner token's hash (at its start,
 *   at a rotation and every OWNER_BEAT_MS); the owner tokens of the planes
 *   heard from within OWNER_LIVE_MS are the owner on this plane too, and
 *   an owner session or channel is bound to the one it came from, so one
 *   rotated (or a plane gone that long) ends them everywhere;
 * - sessions and login codes made through another plane are read from the
 *   database when presented (sessions.c).
 *
 * On SQLite this process is the database's only writer: nothing here runs.
 * Loop thread.
 */
#include "auth/auth_int.h"

#include <stdlib.h>
#include <string.h>

#define SYNC_MS 400
#define WINDOW_MS 10000              /* changes read again: commits land out of id order */
#define OWNER_BEAT_MS 60000          /* this plane's owner row written again */
#define OWNER_LIVE_MS (10 * 60000LL) /* a plane not heard from longer: its owner token no more */
#define APPLIED_MAX 1024

struct ad_auth_sync {
    uv_timer_t timer;
    bool busy;                    /* a read is out: out is the pool's */
    bool closed;                  /* the timer closed: the read's end frees nothing else */
    uint64_t owner_beat_ms;       /* when the owner row was last written (monotonic) */
    int64_t applied[APPLIED_MAX]; /* change ids applied, a ring */
    size_t napplied;
    ad_store_auth_sync_t out;
};

static const char *plane_key(const ad_auth_t *a)
{
    return a->cfg->plane_id[0] != '\0' ? a->cfg->plane_id : "default";
}

const char *ad_auth_owner_bind_for(const ad_auth_t *a, const char *hash)
{
    if (ad_consttime_eq(hash, a->owner_hash, 64)) {
        return a->owner_bind;
    }
    for (size_t i = 0; i < a->nowner_peers; i++) {
        if (ad_consttime_eq(hash, a->owner_peers[i].hash, 64)) {
            return a->owner_peers[i].bind;
        }
    }
    return NULL;
}

bool ad_auth_owner_bind_live(const ad_auth_t *a, const char *bind)
{
    if (strcmp(bind, a->owner_bind) == 0) {
        return true;
    }
    for (size_t i = 0; i < a->nowner_peers; i++) {
        if (strcmp(bind, a->owner_peers[i].bind) == 0) {
            return true;
        }
    }
    return false;
}

static bool applied(struct ad_auth_sync *y, int64_t id)
{
    size_t n = y->napplied < APPLIED_MAX ? y->napplied : APPLIED_MAX;
    for (size_t i = 0; i < n; i++) {
        if (y->applied[i] == id) {
            return true;
        }
    }
    y->applied[y->napplied++ % APPLIED_MAX] = id;
    return false;
}

/* The owner tokens of the live planes read: true when the set changed
 * (then owner sessions bound to one no longer live are forgotten). */
static bool owners_apply(ad_auth_t *a, const ad_store_auth_sync_t *s)
{
    ad_owner_peer_t peers[AD_AUTH_OWNERS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < s->nowners && n < AD_AUTH_OWNERS_MAX; i++) {
        if (strcmp(s->owners[i].plane_id, plane_key(a)) == 0 || strlen(s->owners[i].hash) != 64) {
            continue;
        }
        memcpy(peers[n].hash, s->owners[i].hash, sizeof(peers[n].hash));
        ad_auth_owner_bind_of(peers[n].hash, peers[n].bind);
        n++;
    }
    if (n == a->nowner_peers && memcmp(peers, a->owner_peers, n * sizeof(peers[0])) == 0) {
        return false;
    }
    memcpy(a->owner_peers, peers, n * sizeof(peers[0]));
    a->nowner_peers = n;
    for (ad_sess_t **pp = &a->sessions; *pp != NULL;) {
        ad_sess_t *x = *pp;
        if (x->tok == NULL && !ad_auth_owner_bind_live(a, x->bind)) {
            *pp = x->next;
            free(x);
        } else {
            pp = &x->next;
        }
    }
    return true;
}

static const ad_store_token_t *token_of(const ad_store_auth_sync_t *s, const char *id)
{
    for (size_t i = 0; i < s->ntokens; i++) {
        if (strcmp(s->tokens[i].id, id) == 0) {
            return &s->tokens[i];
        }
    }
    return NULL;
}

static void apply(ad_auth_t *a, struct ad_auth_sync *y)
{
    const ad_store_auth_sync_t *s = &y->out;
    bool changed = owners_apply(a, s);
    json_t *revoked = json_array();
    for (size_t i = 0; i < s->nchanges; i++) {
        const ad_store_auth_change_t *c = &s->changes[i];
        if (applied(y, c->id)) {
            continue;
        }
        if (strcmp(c->kind, AD_AUTH_CHANGE_TOKEN) == 0) {
            const ad_store_token_t *row = token_of(s, c->key);
            bool added = false;
            if (row != NULL && ad_auth_tok_put(a, row, &added)) {
                json_array_append_new(revoked, json_string(row->id));
            }
            changed = changed || added;
        } else if (strcmp(c->kind, AD_AUTH_CHANGE_SESSION_END) == 0) {
            changed = ad_auth_sess_forget(a, c->key) || changed;
        }
    }
    if (json_array_size(revoked) > 0) {
        ad_log(AD_LOG_INFO, "auth", "tokens revoked through another plane count=%zu",
               json_array_size(revoked));
        ad_auth_tokens_revoked(a, revoked); /* their channels end here too */
    } else if (changed) {
        ad_auth_changed(a);
    }
    json_decref(revoked);
}

static void on_read(int rc, void *ctx)
{
    ad_auth_t *a = ctx;
    struct ad_auth_sync *y = a->sync;
    y->busy = false;
    if (rc == 0 && !y->closed && !a->store_gone) {
        apply(a, y);
    }
    if (y->closed) {
        ad_auth_release(a); /* the hold planes_close took for this read */
    }
}

static void on_tick(uv_timer_t *t)
{
    ad_auth_t *a = t->data;
    struct ad_auth_sync *y = a->sync;
    if (y->busy || a->store_gone) {
        return;
    }
    int64_t now = ad_wall_ms();
    if (ad_mono_ms() - y->owner_beat_ms >= OWNER_BEAT_MS) {
        ad_auth_planes_owner_changed(a);
    }
    y->busy = true;
    ad_store_auth_sync(a->store, now - WINDOW_MS, now - OWNER_LIVE_MS, &y->out, on_read, a);
}

void ad_auth_planes_owner_changed(ad_auth_t *a)
{
    if (a->sync != NULL && !a->store_gone) {
        a->sync->owner_beat_ms = ad_mono_ms();
        ad_store_auth_owner_put(a->store, plane_key(a), a->owner_hash, ad_wall_ms());
    }
}

void ad_auth_planes_open(ad_auth_t *a)
{
    if (strcmp(ad_store_backend(a->store), "postgres") != 0) {
        return;
    }
    struct ad_auth_sync *y = ad_xcalloc(1, sizeof(*y));
    a->sync = y;
    uv_timer_init(a->loop, &y->timer);
    y->timer.data = a;
    ad_auth_planes_owner_changed(a);
    uv_timer_start(&y->timer, on_tick, 0, SYNC_MS);
    uv_unref((uv_handle_t *)&y->timer);
}

static void on_timer_closed(uv_handle_t *h)
{
    ad_auth_release(h->data); /* a->sync goes with a (auth.c's auth_free) */
}

void ad_auth_planes_close(ad_auth_t *a)
{
    struct ad_auth_sync *y = a->sync;
    if (y == NULL) {
        return;
    }
    y->closed = true;
    a->closing += 1 + (y->busy ? 1 : 0); /* the timer, and the read that is out */
    uv_close((uv_handle_t *)&y->timer, on_timer_closed);
}
