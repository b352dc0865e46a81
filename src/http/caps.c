/* SPDX-License-Identifier: MIT */
/*
 * Caps that hold before (and apart from) authentication: open TCP
 * connections without a credential yet, per remote address and in all
 * (past those, on probation: see ad_http_caps_conn_open; a connection that
 * shows a credential leaves them at its first request, so a flood without
 * one shuts no token holder out); open connections, WebSockets and
 * request-body bytes per credential (by the guard's name for it); and giving freed heap back to the
 * system after a burst. The unix socket's own connection budget is conn.c's, the server-wide send
 * bound write.c's (ad_conn_pressure); failed logins are src/auth's (limits.c). Every lookup here is
 * a hash of one key: O(1) per connection, nothing per request.
 */
#include "http/http_int.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAPS_BUCKETS 4096
/* How often the heap is looked at, and how much newly freed memory makes
 * it worth a malloc_trim (which walks the free chunks of every arena). */
#define TRIM_CHECK_MS 1000
#define TRIM_STEP_BYTES ((size_t)16 << 20)
#define BURST_MIN_BYTES ((size_t)1 << 20)
/* The check that gives back what start-up freed (1 s after listening). */
#define START_TRIM_TICKS 1
/* Every this many checks, idle per-credential entries are dropped. */
#define CRED_SWEEP_TICKS 30

typedef struct ad_cap_peer {
    struct ad_cap_peer *next;
    char addr[48];
    size_t conns;    /* all its connections (what keeps the entry) */
    size_t pending;  /* without a credential yet, within the caps */
    size_t prob;     /* on probation: past them */
    size_t buffered; /* request-body bytes its requests hold */
    ad_conn_t *prob_head, *prob_tail;
} cap_peer_t;

/* Per credential, by the name the guard gives it (ad_guard_t.key: a token
 * id, "(owner)"), never by the principal's address, which a token made
 * later could have: open connections, open WebSockets, and a bucket of
 * request-body bytes refilled at cfg->max_body_bytes_per_minute. Kept
 * while any is in use or the bucket is not full again; principals are few
 * (the owner, the tokens), and the sweep drops the idle ones. */
typedef struct ad_cap_cred {
    struct ad_cap_cred *next;
    size_t conns;      /* connections counted under it (ad_conn_t.cap_cred) */
    size_t ws;         /* WebSockets counted under it (ad_conn_t.ws_cred) */
    double bytes;      /* left in the bucket */
    uint64_t refilled; /* loop ms of the last refill; 0: full */
    char key[];
} cap_cred_t;

struct ad_caps {
    cap_peer_t *peers[CAPS_BUCKETS];
    cap_cred_t *creds[CAPS_BUCKETS];
    size_t ncreds;
    unsigned sweep_tick;
    size_t npending, nprob;           /* connections without a credential yet */
    ad_conn_t *prob_head, *prob_tail; /* on probation, oldest first */
    uint64_t evicted, evicted_logged; /* probation connections closed for newer ones */
    uint64_t evict_log_ms;
};

static struct ad_caps *caps_of(ad_server_t *s)
{
    if (s->caps == NULL) {
        s->caps = ad_xcalloc(1, sizeof(*s->caps));
    }
    return s->caps;
}

static size_t str_hash(const char *k)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)k; *c != '\0'; c++) {
        h = (h ^ *c) * 1099511628211u;
    }
    return (size_t)(h % CAPS_BUCKETS);
}

static void conn_cred_close(ad_conn_t *c);

/* ---- connections per address -------------------------------------------------------- */

/* The peer's address into c->peer ("" when it cannot be read). */
static void read_peer(ad_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    c->peer[0] = '\0';
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
    }
}

/* Frees p once nothing is counted under it. */
static void peer_release(ad_server_t *s, cap_peer_t *p)
{
    if (p->conns > 0 || p->buffered > 0) {
        return;
    }
    cap_peer_t **pp = &s->caps->peers[str_hash(p->addr)];
    while (*pp != p) {
        pp = &(*pp)->next;
    }
    *pp = p->next;
    free(p);
}

/* ---- connections without a credential: pending, on probation ------------------------- */

static void prob_unlink(struct ad_caps *k, ad_conn_t *c)
{
    cap_peer_t *p = c->cap_peer;
    *(c->prob_prev != NULL ? &c->prob_prev->prob_next : &k->prob_head) = c->prob_next;
    *(c->prob_next != NULL ? &c->prob_next->prob_prev : &k->prob_tail) = c->prob_prev;
    *(c->pprob_prev != NULL ? &c->pprob_prev->pprob_next : &p->prob_head) = c->pprob_next;
    *(c->pprob_next != NULL ? &c->pprob_next->pprob_prev : &p->prob_tail) = c->pprob_prev;
    c->prob_prev = c->prob_next = c->pprob_prev = c->pprob_next = NULL;
    c->probation = false;
    k->nprob--;
    p->prob--;
}

/* c no longer counts as without a credential (it has one, or is gone). */
static void pending_end(ad_conn_t *c)
{
    if (!c->pending) {
        return;
    }
    struct ad_caps *k = c->srv->caps;
    if (c->probation) {
        prob_unlink(k, c);
    } else {
        k->npending--;
        c->cap_peer->pending--;
    }
    c->pending = false;
}

/* The oldest on probation gives way to c: closed (a flood of connections
 * that never show a credential keeps only its newest; one that does
 * leaves probation at its first request). Logged at most once a second. */
static void evict(ad_server_t *s, ad_conn_t *old)
{
    struct ad_caps *k = s->caps;
    prob_unlink(k, old);
    old->pending = false;
    k->evicted++;
    uint64_t now = uv_now(s->loop);
    if (k->evict_log_ms == 0 || now - k->evict_log_ms >= 1000) {
        ad_log(AD_LOG_WARN, "http",
               "connection closed reason=%s peer=%s closed=%llu (connections without a "
               "credential past the cap: the oldest go)",
               old->prob_global ? "max-connections" : "max-connections-per-address", old->peer,
               (unsigned long long)(k->evicted - k->evicted_logged));
        k->evict_log_ms = now > 0 ? now : 1;
        k->evicted_logged = k->evicted;
    }
    ad_conn_abort(old);
}

void ad_http_caps_conn_open(ad_conn_t *c)
{
    ad_server_t *s = c->srv;
    read_peer(c);
    if (c->peer[0] == '\0') {
        return; /* nothing to count it under (it is about to fail anyway) */
    }
    struct ad_caps *k = caps_of(s);
    size_t h = str_hash(c->peer);
    cap_peer_t *p = k->peers[h];
    while (p != NULL && strcmp(p->addr, c->peer) != 0) {
        p = p->next;
    }
    if (p == NULL) {
        p = ad_xcalloc(1, sizeof(*p));
        snprintf(p->addr, sizeof(p->addr), "%s", c->peer);
        p->next = k->peers[h];
        k->peers[h] = p;
    }
    p->conns++;
    c->cap_peer = p;
    c->pending = true;
    uint64_t per = s->cfg->max_connections_per_address, all = s->cfg->max_connections;
    if (p->pending < per && k->npending < all) {
        p->pending++;
        k->npending++;
        return;
    }
    /* on probation, as many as pending at most, the oldest giving way */
    c->prob_global = p->pending < per;
    if (p->prob >= per) {
        evict(s, p->prob_head);
    } else if (k->nprob >= all) {
        evict(s, k->prob_head);
    }
    c->probation = true;
    c->prob_prev = k->prob_tail;
    *(k->prob_tail != NULL ? &k->prob_tail->prob_next : &k->prob_head) = c;
    k->prob_tail = c;
    c->pprob_prev = p->prob_tail;
    *(p->prob_tail != NULL ? &p->prob_tail->pprob_next : &p->prob_head) = c;
    p->prob_tail = c;
    k->nprob++;
    p->prob++;
}

bool ad_http_caps_probation_refused(ad_req_t *r)
{
    ad_conn_t *c = r->conn;
    if (c == NULL || !c->probation) {
        return false;
    }
    r->keep_alive = false;
    if (c->prob_global) {
        ad_log(AD_LOG_WARN, "http", "connection refused reason=max-connections peer=%s", c->peer);
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "too many connections");
    } else {
        ad_log(AD_LOG_WARN, "http", "connection refused reason=max-connections-per-address peer=%s",
               c->peer);
        ad_res_header(r, "Retry-After", "1");
        ad_res_error(r, 429, "RATE_LIMITED", NULL, "too many connections from this address");
    }
    return true;
}

void ad_http_caps_conn_close(ad_conn_t *c)
{
    conn_cred_close(c);
    cap_peer_t *p = c->cap_peer;
    if (p == NULL) {
        return;
    }
    pending_end(c);
    c->cap_peer = NULL;
    p->conns--;
    peer_release(c->srv, p);
}

bool ad_http_caps_body_add(ad_conn_t *c, ad_req_t *r, size_t n)
{
    cap_peer_t *p = c->cap_peer;
    if (p == NULL) {
        return true; /* the unix socket, or an address that could not be read */
    }
    if (p->buffered + n > c->srv->cfg->max_buffered_bytes_per_address) {
        return false;
    }
    p->buffered += n;
    r->cap_peer = p;
    r->cap_bytes += n;
    return true;
}

void ad_http_caps_body_release(ad_req_t *r)
{
    cap_peer_t *p = r->cap_peer;
    if (p == NULL) {
        return;
    }
    p->buffered -= r->cap_bytes;
    r->cap_peer = NULL;
    r->cap_bytes = 0;
    peer_release(r->srv, p);
}

/* ---- per credential: connections, WebSockets, request bodies ---------------------------- */

#define BUCKET_FULL_MS 60000 /* an emptied bucket is full again within a minute */

/* The name r's credential is counted under, or NULL (no guard, no credential). */
static const char *cred_key(const ad_server_t *s, const void *auth)
{
    if (auth == NULL || s->guard == NULL || s->guard->key == NULL) {
        return NULL;
    }
    return s->guard->key(s->guard_ud, auth);
}

static cap_cred_t **cred_find(ad_server_t *s, const char *key)
{
    cap_cred_t **pp = &caps_of(s)->creds[str_hash(key)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0) {
        pp = &(*pp)->next;
    }
    return pp;
}

static cap_cred_t *cred_get(ad_server_t *s, const char *key)
{
    cap_cred_t **pp = cred_find(s, key);
    if (*pp == NULL) {
        size_t len = strlen(key);
        *pp = ad_xcalloc(1, sizeof(**pp) + len + 1);
        memcpy((*pp)->key, key, len + 1);
        s->caps->ncreds++;
    }
    return *pp;
}

static bool cred_idle(const ad_server_t *s, const cap_cred_t *w)
{
    return w->conns == 0 && w->ws == 0 &&
           (w->refilled == 0 || uv_now(s->loop) - w->refilled >= BUCKET_FULL_MS);
}

/* Frees w once nothing is counted under it and its bucket is full again. */
static void cred_release(ad_server_t *s, cap_cred_t *w)
{
    if (!cred_idle(s, w)) {
        return;
    }
    cap_cred_t **pp = &s->caps->creds[str_hash(w->key)];
    while (*pp != w) {
        pp = &(*pp)->next;
    }
    *pp = w->next;
    free(w);
    s->caps->ncreds--;
}

/* Drops the entries of credentials gone quiet (a revoked token's bucket). */
static void cred_sweep(ad_server_t *s)
{
    struct ad_caps *k = s->caps;
    for (size_t i = 0; i < CAPS_BUCKETS && k->ncreds > 0; i++) {
        cap_cred_t **pp = &k->creds[i];
        while (*pp != NULL) {
            cap_cred_t *w = *pp;
            if (cred_idle(s, w)) {
                *pp = w->next;
                free(w);
                k->ncreds--;
            } else {
                pp = &w->next;
            }
        }
    }
}

bool ad_http_caps_conn_cred(ad_conn_t *c, const void *auth)
{
    ad_server_t *s = c->srv;
    const char *key = cred_key(s, auth);
    if (key == NULL || c->is_pipe) {
        return true;
    }
    cap_cred_t *old = c->cap_cred;
    if (old != NULL && strcmp(old->key, key) == 0) {
        return true; /* counted at its first request */
    }
    cap_cred_t *w = cred_get(s, key);
    uint64_t cap = s->cfg->max_connections_per_token;
    if (cap != 0 && w->conns >= cap) {
        cred_release(s, w);
        return false;
    }
    w->conns++;
    c->cap_cred = w;
    if (c->cap_peer != NULL) {
        pending_end(c); /* counted under its credential from now on */
    }
    if (old != NULL) { /* a keep-alive connection that changed credentials */
        old->conns--;
        cred_release(s, old);
    }
    return true;
}

static void conn_cred_close(ad_conn_t *c)
{
    cap_cred_t *w = c->cap_cred;
    if (w == NULL) {
        return;
    }
    c->cap_cred = NULL;
    w->conns--;
    cred_release(c->srv, w);
}

bool ad_http_caps_ws_full(ad_server_t *s, const void *auth)
{
    uint64_t cap = s->cfg->max_websockets_per_token;
    const char *key = cap != 0 ? cred_key(s, auth) : NULL;
    if (key == NULL) {
        return false;
    }
    cap_cred_t *w = *cred_find(s, key);
    return w != NULL && w->ws >= cap;
}

void ad_http_caps_ws_open(ad_conn_t *c, const void *auth)
{
    const char *key = cred_key(c->srv, auth);
    if (key == NULL || c->ws_cred != NULL) {
        return;
    }
    cap_cred_t *w = cred_get(c->srv, key);
    w->ws++;
    c->ws_cred = w;
}

void ad_http_caps_ws_close(ad_conn_t *c)
{
    cap_cred_t *w = c->ws_cred;
    if (w == NULL) {
        return;
    }
    c->ws_cred = NULL;
    w->ws--;
    cred_release(c->srv, w);
}

bool ad_http_caps_body_take(ad_server_t *s, const void *auth, size_t n, int64_t *retry_after_s)
{
    double rate = (double)s->cfg->max_body_bytes_per_minute;
    const char *key = rate > 0 && n > 0 ? cred_key(s, auth) : NULL;
    if (key == NULL) {
        return true;
    }
    cap_cred_t *w = cred_get(s, key);
    uint64_t now = uv_now(s->loop);
    if (w->refilled == 0) {
        w->bytes = rate; /* a minute's worth may come at once */
    } else {
        w->bytes += (double)(now - w->refilled) * rate / 60000.0;
        if (w->bytes > rate) {
            w->bytes = rate;
        }
    }
    w->refilled = now > 0 ? now : 1;
    if ((double)n <= w->bytes) {
        w->bytes -= (double)n;
        return true;
    }
    *retry_after_s = (int64_t)(((double)n - w->bytes) * 60.0 / rate) + 1;
    return false;
}

/* ---- giving memory back -------------------------------------------------------------- */

/* Resident bytes of this process (/proc/self/statm), 0 when unreadable. */
static size_t resident_bytes(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    const char *p = strchr(buf, ' '); /* size, then resident, in pages */
    if (p == NULL) {
        return 0;
    }
    return (size_t)strtoull(p + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* Resident memory the allocator holds free: what is resident beyond the
 * bytes in use and what was resident beside the heap at start. */
static size_t held_free(const ad_server_t *s)
{
    struct mallinfo2 mi = mallinfo2();
    size_t used = mi.uordblks + mi.hblkhd + s->trim_base;
    size_t rss = resident_bytes();
    return rss > used ? rss - used : 0;
}

/* A burst (a thousand replays, a fan-out to readers that stopped) leaves
 * its buffers freed but resident: glibc gives back only the top of the
 * main heap past M_TRIM_THRESHOLD, nothing of the other arenas (the
 * workers' event reads) nor of free pages in the middle of a fragmented
 * heap. Once a second this reads how much resident memory is free in the
 * allocator, and malloc_trim() returns every free page of every arena
 *  - when that has grown by TRIM_STEP_BYTES over what the last trim left,
 *  - or when a burst of queued sends is over: a second whose highest
 *    queued total is under an eighth of the highest since the last trim
 *    (at least BURST_MIN_BYTES), with a step's worth held free.
 * A steady load (every second alike) whose free memory stays below the
 * step is never trimmed (see HEAP_KEEP_BYTES in main.c for what trimming
 * every turn cost the fan-out). */
static void on_trim_check(uv_timer_t *t)
{
    ad_server_t *s = t->data;
    if (s->caps != NULL && s->caps->ncreds > 0 && ++s->caps->sweep_tick % CRED_SWEEP_TICKS == 0) {
        cred_sweep(s);
    }
    ad_http_wqs_trim(s); /* before held_free: what it frees counts as free */
    if (s->trim_ticks < START_TRIM_TICKS && ++s->trim_ticks == START_TRIM_TICKS) {
        /* What start-up freed goes back once: a fresh data dir's
         * migrations and the first reads left about 0.9 MiB free in the
         * heap, kept by HEAP_KEEP_BYTES (main.c): a tenth of an idle
         * daemon's RSS (S2). */
        malloc_trim(0);
        s->trim_free = held_free(s);
    }
    size_t window = s->pinned_hw;
    s->pinned_hw = s->pinned;
    if (window > s->burst_hw) {
        s->burst_hw = window;
    }
    bool burst_over = s->burst_hw >= BURST_MIN_BYTES && window <= s->burst_hw / 8;
    size_t held = held_free(s);
    if (held < s->trim_free) {
        s->trim_free = held; /* reused since: growth counts from here */
    }
    if (held - s->trim_free < TRIM_STEP_BYTES && !(burst_over && held >= TRIM_STEP_BYTES)) {
        return;
    }
    s->burst_hw = 0;
    malloc_trim(0);
    s->trim_free = held_free(s);
    ad_log(AD_LOG_DEBUG, "http", "heap trimmed held_free=%zu after=%zu", held, s->trim_free);
}

void ad_http_caps_start(ad_server_t *s)
{
    if (s->trim_open) {
        return;
    }
    uv_timer_init(s->loop, &s->trim);
    s->trim.data = s;
    s->trim_open = true;
    struct mallinfo2 mi = mallinfo2();
    size_t rss = resident_bytes();
    size_t used = mi.uordblks + mi.hblkhd;
    s->trim_base = rss > used ? rss - used : 0; /* code, libraries, stacks */
    s->trim_free = 0;
    uv_timer_start(&s->trim, on_trim_check, TRIM_CHECK_MS, TRIM_CHECK_MS);
    uv_unref((uv_handle_t *)&s->trim);
}

static void trim_closed(uv_handle_t *h)
{
    ad_server_t *s = h->data;
    s->open_handles--;
    ad_http_check_done(s);
}

void ad_http_caps_stop(ad_server_t *s)
{
    if (!s->trim_open) {
        return;
    }
    s->trim_open = false;
    s->open_handles++;
    uv_close((uv_handle_t *)&s->trim, trim_closed);
}

void ad_http_caps_free(ad_server_t *s)
{
    struct ad_caps *k = s->caps;
    if (k == NULL) {
        return;
    }
    for (size_t i = 0; i < CAPS_BUCKETS; i++) {
        while (k->peers[i] != NULL) {
            cap_peer_t *p = k->peers[i];
            k->peers[i] = p->next;
            free(p);
        }
        while (k->creds[i] != NULL) {
            cap_cred_t *w = k->creds[i];
            k->creds[i] = w->next;
            free(w);
        }
    }
    free(k);
    s->caps = NULL;
}
