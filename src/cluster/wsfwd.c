/* SPDX-License-Identifier: MIT */
/*
 * A WebSocket sent on to the control plane that holds its work (cluster.h,
 * issue #77): an agent's terminal opened on a plane whose run another plane
 * holds. The caller's socket stays on this plane; a second one goes to the
 * owner's same path (src/ws's client) with the caller's credential, and
 * every message goes across, both ways, as it came (binary or text). When
 * either side closes, the other is closed with it, with the same code
 * (one that may not go in a Close frame becomes 1011; an upgrade the owner
 * refused with 401, 403, 404 or 409 becomes 4401, 4403, 4404, 4409).
 *
 * The rules are forward.c's: the caller was checked here (token, scope,
 * org, origin) and is checked again there; only a live plane's http(s) URL
 * with no userinfo is dialled; an upgrade that says it was sent on already
 * is never sent on again (4409); one without a credential is not sent.
 * The credential goes as the owner reads it: a token as Authorization:
 * Bearer (never in the URL), a dashboard session as the cookie the owner's
 * address names. It is watched here as well: revoked, signed out or
 * expired, both sides close with 4401.
 *
 * Backpressure: past FWD_HIGH bytes waiting to be written to the caller,
 * this plane stops reading from the owner (TCP pushes back on it) until
 * they are down to FWD_LOW (looked at every FWD_DRAIN_MS meanwhile), so a
 * burst waits in the owner's queue rather than here. Bounded: a message
 * either way (FWD_MSG_MAX), what the caller sends before the owner answers
 * (FWD_EARLY_MAX), what waits to be written to the owner (FWD_QUEUE_MAX)
 * and to the caller (src/ws's send queue): past any of them both sides
 * close with 1008, as a local terminal lets go of a viewer that cannot
 * keep up (the agent runs on; the owner does the same when its queue to
 * this plane fills while reading is paused).
 *
 * Ownership: each forward is this file's, in a list (loop thread only),
 * from ad_planes_ws_take until the caller's socket closes
 * (ad_planes_ws_closed; freed once its timer has closed). The caller's
 * socket's data is left alone.
 */
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "ws/ws.h"

#include <stdlib.h>
#include <string.h>

#define FWD_MSG_MAX (1u << 20)
#define FWD_EARLY_MAX (64u * 1024)
#define FWD_QUEUE_MAX (1u << 20)
#define FWD_TOKEN_MAX 4200
#define FWD_HIGH (256u * 1024)
#define FWD_LOW (64u * 1024)
#define FWD_DRAIN_MS 20

typedef struct wsfwd {
    struct wsfwd *next, *prev;
    ad_ws_t *ws;    /* the caller's socket */
    ad_wsc_t *up;   /* to the owner; NULL once it is gone */
    bool open;      /* up is open */
    ad_buf_t early; /* messages before up opened: a byte (binary), 4 (length), the bytes */
    ad_auth_watch_t *watch;
    uv_timer_t drain; /* while reading from the owner is paused */
    bool paused;
    char plane[AD_ID_MAX];
} wsfwd_t;

static wsfwd_t *forwards; /* every open forward (loop thread) */

static wsfwd_t *find(const ad_ws_t *ws)
{
    for (wsfwd_t *f = forwards; f != NULL; f = f->next) {
        if (f->ws == ws) {
            return f;
        }
    }
    return NULL;
}

/* The end of both sides: the owner's socket at once, the caller's closed
 * (its close frees f, ad_planes_ws_closed). */
static void end_both(wsfwd_t *f, int code, const char *reason)
{
    ad_wsc_t *up = f->up;
    f->up = NULL; /* its on_close, run by the close, has nothing more to do */
    if (up != NULL) {
        ad_wsc_close(up, 1000, reason);
    }
    ad_ws_close(f->ws, code, reason);
}

static void cred_ended(void *ud)
{
    end_both(ud, 4401, "unauthorized: the token or session has ended");
}

/* ---- the owner's side ------------------------------------------------------------- */

static void up_open(ad_wsc_t *c, void *ud)
{
    wsfwd_t *f = ud;
    f->open = true;
    size_t at = 0;
    while (f->up == c && at + 5 <= f->early.len) {
        const unsigned char *h = (const unsigned char *)f->early.data + at;
        size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
        AD_DISCARD(ad_wsc_send(c, f->early.data + at + 5, len, h[0] != 0));
        at += 5 + len;
    }
    ad_buf_cleanup(&f->early);
}

/* The caller's queue looked at again while reading is paused. */
static void on_drain(uv_timer_t *t)
{
    wsfwd_t *f = t->data;
    if (f->up == NULL || ad_ws_queued_bytes(f->ws) <= FWD_LOW) {
        uv_timer_stop(&f->drain);
        f->paused = false;
        if (f->up != NULL) {
            ad_wsc_pause(f->up, false);
        }
    }
}

static void up_message(ad_wsc_t *c, const char *data, size_t len, bool binary, void *ud)
{
    wsfwd_t *f = ud;
    ad_wsmsg_t *m = ad_wsmsg_new(data, len, binary);
    int rc = ad_ws_send_msg(f->ws, m);
    ad_wsmsg_unref(m);
    if (rc == AD_ETOOBIG) {
        end_both(f, 1008, "terminal output queue full");
    } else if (rc == 0 && !f->paused && ad_ws_queued_bytes(f->ws) > FWD_HIGH) {
        f->paused = true; /* the owner waits until the caller has read */
        ad_wsc_pause(c, true);
        uv_timer_start(&f->drain, on_drain, FWD_DRAIN_MS, FWD_DRAIN_MS);
    }
}

/* The code the caller is closed with for the owner's end. */
static int caller_code(int code)
{
    switch (code) {
    case 401:
        return 4401;
    case 403:
        return 4403;
    case 404:
        return 4404;
    case 409:
        return 4409;
    default:
        break;
    }
    bool sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                    (code >= 3000 && code <= 4999);
    return sendable ? code : 1011;
}

static void up_close(ad_wsc_t *c, int code, const char *reason, void *ud)
{
    wsfwd_t *f = ud;
    if (f->up != c) {
        return; /* closed from here: the caller's side is being closed */
    }
    f->up = NULL;
    int to = caller_code(code);
    if (to == 1011 || (code >= 400 && code <= 599 && to == code)) {
        ad_log(AD_LOG_WARN, "planes", "a socket sent on to plane %s ended code=%d reason=\"%s\"",
               f->plane, code, reason);
    }
    ad_ws_close(f->ws, to,
                to == 1011    ? "the control plane holding this agent could not be reached"
                : code == 401 ? "unauthorized"
                : code == 403 ? "forbidden"
                : code == 404 ? "agent not running"
                : code == 409 ? "the agent's work moved to another control plane"
                              : reason);
}

static const ad_wsc_handler_t up_handler = {up_open, up_message, up_close};

static void drain_closed(uv_handle_t *h)
{
    free(h->data);
}

/* ---- the caller's side ------------------------------------------------------------- */

/* The upgrade's header lines for the owner, into lines (NULL-ended) and
 * their text into store: false when the caller presents no credential. */
static bool headers_for(ad_planes_t *p, ad_req_t *upgrade, const char *url, char *store,
                        size_t storesz, const char *lines[4])
{
    char token[FWD_TOKEN_MAX], session[256], cookie[300];
    bool ok = ad_auth_presented(upgrade, token, sizeof(token), session, sizeof(session));
    size_t n = 0, at = 0;
    if (ok && token[0] != '\0') {
        at = (size_t)snprintf(store, storesz, "Authorization: Bearer %s", token);
    } else if (ok && ad_planes_session_cookie(url, true, session, cookie, sizeof(cookie)) == 0) {
        at = (size_t)snprintf(store, storesz, "Cookie: %s", cookie);
    } else {
        ok = false;
    }
    if (ok && at + 1 < storesz) {
        lines[n++] = store;
        int more = snprintf(store + at + 1, storesz - at - 1, "%s: %s", "X-Agentd-Forwarded-By",
                            ad_planes_self(p));
        ok = more > 0 && (size_t)more < storesz - at - 1;
        lines[n++] = store + at + 1;
    }
    lines[n] = NULL;
    memset(token, 0, sizeof(token));
    memset(session, 0, sizeof(session));
    memset(cookie, 0, sizeof(cookie));
    return ok && at + 1 < storesz;
}

static void ws_forward(ad_planes_t *p, ad_ws_t *ws, ad_req_t *upgrade,
                       const ad_store_plane_ref_t *to, ad_auth_t *auth)
{
    char reason[160], err[256] = "", store[FWD_TOKEN_MAX + 400];
    const char *lines[4];
    char *url = NULL;
    snprintf(reason, sizeof(reason), "control plane %s holds this agent: ask that plane", to->id);
    if (ad_planes_was_forwarded(upgrade) || !ad_planes_url_ok(to->url) ||
        (url = ad_planes_ws_url(upgrade, to->url)) == NULL ||
        !headers_for(p, upgrade, url, store, sizeof(store), lines)) {
        free(url);
        memset(store, 0, sizeof(store));
        ad_ws_close(ws, 4409, reason);
        return;
    }
    wsfwd_t *f = ad_xcalloc(1, sizeof(*f));
    f->ws = ws;
    uv_timer_init(ad_planes_loop(p), &f->drain);
    f->drain.data = f;
    snprintf(f->plane, sizeof(f->plane), "%s", to->id);
    ad_buf_init(&f->early, FWD_EARLY_MAX);
    int rc = ad_wsc_open_headers(ad_planes_loop(p), url, lines, FWD_MSG_MAX, &up_handler, f, &f->up,
                                 err, sizeof(err));
    memset(store, 0, sizeof(store));
    free(url);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "planes", "a socket could not be sent on to plane %s: %s", to->id, err);
        ad_buf_cleanup(&f->early);
        uv_close((uv_handle_t *)&f->drain, drain_closed);
        ad_ws_close(ws, 1011, "the control plane holding this agent could not be reached");
        return;
    }
    f->next = forwards;
    if (forwards != NULL) {
        forwards->prev = f;
    }
    forwards = f;
    if (auth != NULL) {
        ad_auth_cred_t cred;
        ad_auth_credential(upgrade, &cred);
        f->watch = ad_auth_watch(auth, &cred, cred_ended, f);
    }
    ad_log(AD_LOG_INFO, "planes", "socket sent on to the owning plane plane=%s %s", to->id,
           ad_req_path(upgrade));
}

bool ad_planes_ws_take(ad_planes_t *p, ad_ws_t *ws, ad_req_t *upgrade, const char *agent_id,
                       ad_auth_t *auth)
{
    ad_store_plane_ref_t to;
    if (p == NULL || !ad_planes_agent_owner(p, agent_id, &to)) {
        return false;
    }
    ws_forward(p, ws, upgrade, &to, auth);
    return true;
}

bool ad_planes_ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary)
{
    wsfwd_t *f = find(ws);
    if (f == NULL) {
        return false;
    }
    if (f->up == NULL) {
        return true; /* closing */
    }
    if (!f->open) {
        unsigned char h[5] = {binary ? 1 : 0, (unsigned char)(len >> 24),
                              (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                              (unsigned char)len};
        if (len > FWD_EARLY_MAX || ad_buf_append(&f->early, h, sizeof(h)) != 0 ||
            ad_buf_append(&f->early, data, len) != 0) {
            end_both(f, 1008, "input queue full");
        }
        return true;
    }
    if (ad_wsc_queued(f->up) > FWD_QUEUE_MAX) {
        end_both(f, 1008, "input queue full");
    } else if (ad_wsc_send(f->up, data, len, binary) != 0 && f->up != NULL) {
        end_both(f, 1011, "the control plane holding this agent could not be reached");
    }
    return true;
}

bool ad_planes_ws_closed(ad_ws_t *ws)
{
    wsfwd_t *f = find(ws);
    if (f == NULL) {
        return false;
    }
    if (f->prev != NULL) {
        f->prev->next = f->next;
    } else {
        forwards = f->next;
    }
    if (f->next != NULL) {
        f->next->prev = f->prev;
    }
    ad_wsc_t *up = f->up;
    f->up = NULL;
    if (up != NULL) {
        ad_wsc_close(up, 1000, "the viewer left");
    }
    ad_auth_unwatch(f->watch);
    ad_buf_cleanup(&f->early);
    uv_close((uv_handle_t *)&f->drain, drain_closed);
    return true;
}
