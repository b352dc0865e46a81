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
    char *home;
    uv_timer_t poll;
    bool polling, closed, scanning, scanned;
    int refs;           /* the state, the timer's handle and each job in flight */
    sess_info_t *cache; /* the last scan's, newest first */
    size_t n;
    waiter_t *waiters; /* lists waiting for the scan under way */
    uv_work_t work;
    sess_info_t *next; /* the scan under way's result */
    size_t n_next;
};

static const char *const names[SESS_TOOLS] = {"claude", "codex", "gemini"};

const char *sess_tool_name(sess_tool_t t)
{
    return names[t];
}

int sess_tool_parse(const char *s, sess_tool_t *out)
{
    for (int t = 0; t < SESS_TOOLS; t++) {
        if (s != NULL && strcmp(s, names[t]) == 0) {
            *out = (sess_tool_t)t;
            return 0;
        }
    }
    return AD_EINVAL;
}

int ad_sessions_tool_check(const char *tool, ad_field_err_t *e)
{
    sess_tool_t t;
    if (sess_tool_parse(tool, &t) != 0) {
        return e != NULL ? ad_field_fail(e, "tool", "must be one of claude, codex, gemini")
                         : AD_EINVAL;
    }
    return 0;
}

int ad_sessions_id_check(const char *id, ad_field_err_t *e)
{
    size_t n = id != NULL ? strlen(id) : 0;
    bool ok = n > 0 && n < AD_SESS_ID_MAX && id[0] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!ok) {
        return e != NULL ? ad_field_fail(e, "sessionId",
                                         "must be a session id: letters, digits and '-', at "
                                         "most %d characters",
                                         AD_SESS_ID_MAX - 1)
                         : AD_EINVAL;
    }
    return 0;
}

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

static void unref(ad_sessions_t *S)
{
    if (--S->refs == 0) {
        sess_infos_free(S->cache, S->n);
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
    sess_scan(S->home, S->cache, S->n, &S->next, &S->n_next);
}

static json_t *list_json(const sess_info_t *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, sess_info_json(&v[i]));
    }
    return json_pack("{s:o}", "sessions", arr);
}

static bool changed(const sess_info_t *s, const sess_info_t *old, size_t n_old)
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
            json_t *p = json_pack("{s:o}", "session", sess_info_json(&S->next[i]));
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
    sess_infos_free(S->cache, S->n);
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
    sess_tool_t tool;
    char id[AD_SESS_ID_MAX];
    ad_sessions_cb cb;
    void *ud;
    int rc;
    json_t *out;
} read_job_t;

static void read_work(uv_work_t *w)
{
    read_job_t *j = w->data;
    sess_info_t s = {0};
    j->rc = sess_find(j->S->home, j->tool, j->id, &s);
    int fd = j->rc == 0 ? sess_file_open(j->S->home, j->tool, s.rel) : -1;
    if (fd < 0) {
        j->rc = AD_ENOENT;
        sess_info_clear(&s);
        return;
    }
    sess_msgs_t *m = sess_msgs_new(j->tool);
    int64_t from = s.size > (int64_t)AD_SESS_READ_MAX ? s.size - (int64_t)AD_SESS_READ_MAX : 0;
    sess_lines(fd, from, s.size, sess_msgs_line, m);
    close(fd);
    j->out = json_pack("{s:o, s:o}", "session", sess_info_json(&s), "messages", sess_msgs_take(m));
    sess_info_clear(&s);
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
    if (sess_tool_parse(tool, &j->tool) != 0 || ad_sessions_id_check(id, NULL) != 0) {
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
