/* SPDX-License-Identifier: MIT */
/*
 * The engine's state: the last scan of the session files, made on the
 * thread pool one at a time (a list asked for while one runs gets its
 * result), and the poll that starts with the first request: every
 * POLL_MS a scan, and each session that is new or changed (size, time,
 * live) since the last one is published as external_session {session}
 * on "sessions" and "org:org_default" (at most PUBLISH_MAX a scan). A
 * session read (ad_sessions_read) is a job of its own.
 */
#include "sessions/sessions_int.h"

#include "tables/auth.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 2000
#define PUBLISH_MAX 50

typedef struct waiter {
    struct waiter *next;
    ad_sessions_cb cb;
    void *ud;
} waiter_t;

struct ad_sessions {
    uv_loop_t *loop;
    ad_bus_t *bus;
    ad_store_t *store;
    struct ad_plane *plane; /* borrowed: nodes are asked through it */
    char *home;
    uv_timer_t poll;
    bool polling, closed, scanning, scanned;
    int refs;              /* the state, the timer's handle and each job in flight */
    ad_sess_info_t *cache; /* the last scan's, newest first */
    size_t n;
    waiter_t *waiters; /* lists waiting for the scan under way */
    uv_work_t work;
    ad_sess_info_t *next; /* the scan under way's result */
    size_t n_next;
};

ad_sessions_t *ad_sessions_new(uv_loop_t *loop, ad_bus_t *bus, ad_store_t *store, const char *home)
{
    ad_sessions_t *S = ad_xcalloc(1, sizeof(*S));
    S->loop = loop;
    S->bus = bus;
    S->store = store;
    S->home = ad_xstrdup(home != NULL ? home : "");
    S->refs = 1;
    return S;
}

ad_store_t *sess_store(const ad_sessions_t *S)
{
    return S->store;
}

bool sess_closed(const ad_sessions_t *S)
{
    return S->closed;
}

struct ad_plane *sess_plane(const ad_sessions_t *S)
{
    return S->plane;
}

void ad_sessions_set_plane(ad_sessions_t *S, struct ad_plane *p)
{
    S->plane = p;
}

static void unref(ad_sessions_t *S)
{
    if (--S->refs == 0) {
        ad_sess_infos_free(S->cache, S->n);
        free(S->home);
        free(S);
    }
}

void sess_hold(ad_sessions_t *S)
{
    S->refs++;
}

bool sess_release(ad_sessions_t *S)
{
    bool closed = S->closed;
    unref(S);
    return closed;
}

static void timer_closed(uv_handle_t *h)
{
    unref(h->data);
}

void ad_sessions_close(ad_sessions_t *S)
{
    if (S == NULL) {
        return;
    }
    S->closed = true;
    if (S->polling) {
        uv_close((uv_handle_t *)&S->poll, timer_closed);
    }
    unref(S);
}

/* ---- scans ------------------------------------------------------------------------- */

static void scan_work(uv_work_t *w)
{
    ad_sessions_t *S = w->data;
    ad_sess_scan(S->home, S->cache, S->n, &S->next, &S->n_next);
}

static json_t *list_json(const ad_sess_info_t *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, ad_sess_info_json(&v[i]));
    }
    return json_pack("{s:o}", "sessions", arr);
}

static bool changed(const ad_sess_info_t *s, const ad_sess_info_t *old, size_t n_old)
{
    for (size_t i = 0; i < n_old; i++) {
        if (old[i].tool == s->tool && strcmp(old[i].rel, s->rel) == 0) {
            return old[i].size != s->size || old[i].mtime_ms != s->mtime_ms ||
                   old[i].live != s->live;
        }
    }
    return true;
}

static void publish_changes(ad_sessions_t *S)
{
    int sent = 0;
    for (size_t i = 0; i < S->n_next && sent < PUBLISH_MAX; i++) {
        if (changed(&S->next[i], S->cache, S->n)) {
            json_t *p = json_pack("{s:o}", "session", ad_sess_info_json(&S->next[i]));
            ad_bus_publish_to(S->bus, "external_session", p, "sessions", "", "org", AD_ORG_DEFAULT,
                              NULL);
            json_decref(p);
            sent++;
        }
    }
}

static void scan_done(uv_work_t *w, int status)
{
    ad_sessions_t *S = w->data;
    AD_UNUSED(status);
    S->scanning = false;
    if (!S->closed && S->scanned && S->bus != NULL) {
        publish_changes(S);
    }
    ad_sess_infos_free(S->cache, S->n);
    S->cache = S->next;
    S->n = S->n_next;
    S->next = NULL;
    S->n_next = 0;
    S->scanned = true;
    waiter_t *list = S->waiters;
    S->waiters = NULL;
    while (list != NULL) {
        waiter_t *wt = list;
        list = wt->next;
        if (S->closed) {
            wt->cb(AD_ECLOSED, NULL, wt->ud);
        } else {
            wt->cb(0, list_json(S->cache, S->n), wt->ud);
        }
        free(wt);
    }
    unref(S);
}

static void scan_start(ad_sessions_t *S)
{
    if (S->scanning || S->closed) {
        return;
    }
    S->scanning = true;
    S->refs++;
    S->work.data = S;
    if (uv_queue_work(S->loop, &S->work, scan_work, scan_done) != 0) {
        S->scanning = false;
        S->refs--;
    }
}

static void poll_tick(uv_timer_t *t)
{
    scan_start(t->data);
}

/* The poll, from the first request on. */
static void interest(ad_sessions_t *S)
{
    if (!S->polling && !S->closed) {
        uv_timer_init(S->loop, &S->poll);
        S->poll.data = S;
        S->refs++;
        S->polling = true;
        uv_timer_start(&S->poll, poll_tick, POLL_MS, POLL_MS);
        uv_unref((uv_handle_t *)&S->poll);
    }
}

void sess_list_scan(ad_sessions_t *S, ad_sessions_cb cb, void *ud)
{
    interest(S);
    waiter_t *w = ad_xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->ud = ud;
    w->next = S->waiters;
    S->waiters = w;
    scan_start(S);
    if (!S->scanning) { /* the pool refused it */
        S->waiters = w->next;
        free(w);
        cb(AD_EINTERNAL, NULL, ud);
    }
}

/* ---- one session read -------------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    ad_sessions_t *S;
    ad_sess_tool_t tool;
    char id[AD_SESS_ID_MAX];
    ad_sessions_cb cb;
    void *ud;
    int rc;
    json_t *out;
} read_job_t;

static void read_work(uv_work_t *w)
{
    read_job_t *j = w->data;
    j->rc = ad_sess_read(j->S->home, ad_sess_tool_name(j->tool), j->id, &j->out);
}

static void read_done(uv_work_t *w, int status)
{
    read_job_t *j = w->data;
    AD_UNUSED(status);
    if (j->S->closed) {
        json_decref(j->out);
        j->cb(AD_ECLOSED, NULL, j->ud);
    } else {
        j->cb(j->rc, j->out, j->ud);
    }
    unref(j->S);
    free(j);
}

void ad_sessions_read(ad_sessions_t *S, const char *tool, const char *id, ad_sessions_cb cb,
                      void *ud)
{
    read_job_t *j = ad_xcalloc(1, sizeof(*j));
    if (ad_sess_tool_parse(tool, &j->tool) != 0 || ad_sess_id_check(id, NULL) != 0) {
        free(j);
        cb(AD_EINVAL, NULL, ud);
        return;
    }
    interest(S);
    j->S = S;
    memcpy(j->id, id, strlen(id) + 1);
    j->cb = cb;
    j->ud = ud;
    j->work.data = j;
    S->refs++;
    if (uv_queue_work(S->loop, &j->work, read_work, read_done) != 0) {
        S->refs--;
        free(j);
        cb(AD_EINTERNAL, NULL, ud);
    }
}
