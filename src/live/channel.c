/* SPDX-License-Identifier: MIT */
/*
 * The live channels: each WebSocket or SSE connection is one bus subscriber
 * that this file turns events into frames for (shared by every socket that
 * gets the same seq), filters for the seed channels, tells of overflow,
 * gaps and truncated replay, and closes when its credential ends. The /ws
 * protocol is proto.c's; the routes and row checks src/api's (live.c).
 */
#include "live/live_int.h"

#include <stdlib.h>
#include <string.h>

/* Room kept in the send queue so the overflow notice itself still fits. */
#define OVERFLOW_RESERVE 512

/* ---- frames of recent seqs -------------------------------------------------------- */

static ad_wsmsg_t *frames_get(const live_msgcache_t *c, uint64_t seq)
{
    size_t i = seq % LIVE_FRAMES_SLOTS;
    return c->msg[i] != NULL && c->seq[i] == seq ? c->msg[i] : NULL;
}

static void frames_drop(live_msgcache_t *c, size_t i)
{
    if (c->msg[i] != NULL) {
        ad_wsmsg_unref(c->msg[i]);
        c->msg[i] = NULL;
        c->bytes -= c->len[i];
    }
}

static void frames_clear(live_msgcache_t *c)
{
    for (size_t i = 0; i < LIVE_FRAMES_SLOTS; i++) {
        frames_drop(c, i);
    }
}

/* Keeps msg (the cache takes the caller's reference) as seq's frame of len
 * bytes, and returns it. */
static ad_wsmsg_t *frames_put(live_msgcache_t *c, uint64_t seq, ad_wsmsg_t *msg, size_t len)
{
    size_t i = seq % LIVE_FRAMES_SLOTS;
    frames_drop(c, i);
    if (c->bytes + len > LIVE_FRAMES_BYTES) {
        frames_clear(c);
    }
    c->msg[i] = msg;
    c->seq[i] = seq;
    c->len[i] = len;
    c->bytes += len;
    return msg;
}

/* An event's frame as the event is: every socket that gets it shares it. */
static ad_wsmsg_t *event_msg(ad_live_t *L, const ad_bus_event_t *ev)
{
    uint64_t seq = ad_bus_event_seq(ev);
    ad_wsmsg_t *m = frames_get(&L->frames, seq);
    if (m == NULL) {
        size_t len;
        const char *data = ad_bus_event_data(ev, &len);
        m = frames_put(&L->frames, seq, ad_wsmsg_new(data, len, false), len);
    }
    return m;
}

/* ---- a run of events in one buffer ------------------------------------------------- */

static void run_clear(live_run_t *r)
{
    ad_wsmsg_unref(r->msg);
    r->msg = NULL;
    r->n = 0;
}

static bool run_is(const live_run_t *r, ad_bus_event_t *const *evs, size_t n, int bits)
{
    if (r->msg == NULL || r->n != n || r->bits != bits) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->seqs[i] != ad_bus_event_seq(evs[i])) {
            return false;
        }
    }
    return true;
}

/* The frames of evs[0..n) as one message, as a reader compressing with bits
 * (0: none) gets them (borrowed: the run keeps it until the next), or NULL
 * past LIVE_RUN_BYTES. Plain frames are written from the events' own text:
 * the frame cache is not asked (its frames would be copied again).
 * Compressed ones are each event's frame compressed (made once per seq and
 * bits, kept with the cached frame). */
static ad_wsmsg_t *run_msg(ad_live_t *L, ad_bus_event_t *const *evs, size_t n, int bits)
{
    live_run_t *r = bits == 0 ? &L->run : &L->zrun;
    if (run_is(r, evs, n, bits)) {
        return r->msg;
    }
    run_clear(r);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        (void)ad_bus_event_data(evs[i], &len);
        if (len > LIVE_RUN_BYTES) {
            return NULL;
        }
        /* a compressed frame may be the plain one (compressing did not pay) */
        total +=
            bits == 0 ? ad_ws_text_frame_len(len) : ad_wsmsg_frame_len(event_msg(L, evs[i]), bits);
        if (total > LIVE_RUN_BYTES) {
            return NULL;
        }
    }
    if (n > r->cap) {
        r->cap = n;
        r->seqs = ad_xrealloc(r->seqs, n * sizeof(*r->seqs));
    }
    r->msg = ad_wsmsg_frames_new(total, bits);
    r->bits = bits;
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (bits == 0) {
            size_t len;
            const char *data = ad_bus_event_data(evs[i], &len);
            rc = ad_wsmsg_frames_add_text(r->msg, data, len);
        } else {
            rc = ad_wsmsg_frames_add(r->msg, event_msg(L, evs[i]));
        }
        if (rc != 0) {
            run_clear(r); /* cannot happen: total counted each frame */
            return NULL;
        }
        r->seqs[i] = ad_bus_event_seq(evs[i]);
    }
    r->n = n;
    return r->msg;
}

/* An event's frame rewritten by rewrite (true: env was changed), kept in
 * cache by seq; the event as it is when there is nothing to rewrite. */
static ad_wsmsg_t *rewritten_msg(ad_live_t *L, live_msgcache_t *cache, const ad_bus_event_t *ev,
                                 bool (*rewrite)(json_t *env))
{
    uint64_t seq = ad_bus_event_seq(ev);
    ad_wsmsg_t *m = frames_get(cache, seq);
    if (m != NULL) {
        return m;
    }
    size_t len;
    const char *data = ad_bus_event_data(ev, &len);
    json_t *env = json_loadb(data, len, 0, NULL);
    char *text = rewrite(env) ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (text == NULL) {
        return event_msg(L, ev); /* nothing to rewrite */
    }
    size_t tlen = strlen(text);
    m = frames_put(cache, seq, ad_wsmsg_new(text, tlen, false), tlen);
    free(text);
    return m;
}

/* The crews seed's dialect of a frame (src/compat). */
static ad_wsmsg_t *seed_msg(ad_live_t *L, const ad_bus_event_t *ev)
{
    return rewritten_msg(L, &L->seed_frames, ev, ad_compat_crews_envelope);
}

/* The root socket's health payload in the training seed's fields (src/compat). */
static bool rewrite_health(json_t *env)
{
    json_t *payload = json_object_get(env, "payload");
    if (!json_is_object(payload)) {
        return false;
    }
    ad_compat_training_health(payload);
    return true;
}

static ad_wsmsg_t *root_msg(ad_live_t *L, const ad_bus_event_t *ev)
{
    if (strcmp(ad_bus_event_type(ev), "system_health") != 0) {
        return event_msg(L, ev);
    }
    return rewritten_msg(L, &L->root_frames, ev, rewrite_health);
}

static void link_channel(ad_live_chan_t *ch)
{
    ad_live_t *L = ch->L;
    ch->next = L->channels;
    if (L->channels != NULL) {
        L->channels->prev = ch;
    }
    L->channels = ch;
}

static void unlink_channel(ad_live_chan_t *ch)
{
    ad_live_t *L = ch->L;
    if (L == NULL) {
        return; /* the list went with the set */
    }
    if (ch->prev != NULL) {
        ch->prev->next = ch->next;
    } else {
        L->channels = ch->next;
    }
    if (ch->next != NULL) {
        ch->next->prev = ch->prev;
    }
}

void ad_live_notice_ex(ad_live_chan_t *ch, const char *type, json_t *payload, bool last)
{
    json_t *m = json_pack("{s:s, s:o}", "type", type, "payload", payload ? payload : json_object());
    if (ch->kind == AD_LIVE_MISSION || ch->kind == AD_LIVE_GRAPH || ch->kind == AD_LIVE_RUN) {
        ad_compat_crews_envelope(m);
    }
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (s == NULL) {
        return;
    }
    if (ch->ws != NULL) {
        if (last) {
            ad_ws_send_last(ch->ws, s, strlen(s));
        } else {
            ad_ws_send_text(ch->ws, s, strlen(s));
        }
    } else if (ch->sse != NULL) {
        ad_sse_send(ch->sse, NULL, NULL, s, strlen(s));
    }
    free(s);
}

void ad_live_notice(ad_live_chan_t *ch, const char *type, json_t *payload)
{
    ad_live_notice_ex(ch, type, payload, false);
}

void ad_live_error(ad_live_chan_t *ch, const char *code, const char *message)
{
    ad_live_notice(ch, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
}

void ad_live_end(ad_live_chan_t *ch, int code, const char *reason)
{
    ch->done = true;
    if (ch->ws != NULL) {
        ad_ws_close(ch->ws, code, reason);
    } else if (ch->sse != NULL) {
        ad_sse_close(ch->sse);
    }
}

/* ---- bus subscriber callbacks ---------------------------------------------------- */

/* The bytes queued to lv's reader and not yet taken by its socket. */
static size_t live_queued_bytes(const ad_live_chan_t *lv)
{
    return lv->ws != NULL ? ad_ws_queued_bytes(lv->ws) : ad_sse_queued_bytes(lv->sse);
}

/* Whether a WebSocket frame of a len-byte message still fits under lv's
 * send-queue bound, with the room kept for the overflow notice. */
static bool ws_fits(const ad_live_chan_t *lv, size_t len)
{
    return ad_ws_queued_bytes(lv->ws) + len + 16 + OVERFLOW_RESERVE <= lv->bound;
}

static int live_deliver(void *ud, const ad_bus_event_t *ev)
{
    ad_live_chan_t *lv = ud;
    bool final;
    if (lv->done || !ad_live_pass(lv, ev, &final)) {
        return 0;
    }
    size_t len;
    const char *data = ad_bus_event_data(ev, &len);
    size_t bound = lv->bound;
    if ((lv->ws != NULL ? ad_ws_pressure(lv->ws) : ad_sse_pressure(lv->sse)) == 2) {
        lv->cut_memory = true; /* among those holding most of the server's send memory */
        return AD_ETOOBIG;
    }
    int rc;
    char *compat = lv->compat_seed ? ad_compat_workbench_text(&lv->acc, ev) : NULL;
    if (compat != NULL) {
        size_t clen = strlen(compat);
        rc = !ws_fits(lv, clen) ? AD_ETOOBIG : ad_ws_send_text(lv->ws, compat, clen);
        free(compat);
        return rc == AD_ETOOBIG ? rc : 0;
    }
    if (lv->ws != NULL) {
        if (!ws_fits(lv, len)) {
            return AD_ETOOBIG;
        }
        bool seed =
            lv->kind == AD_LIVE_MISSION || lv->kind == AD_LIVE_GRAPH || lv->kind == AD_LIVE_RUN;
        ad_live_t *L = lv->L;
        if (L == NULL) {
            return 0;
        }
        ad_wsmsg_t *msg = seed                       ? seed_msg(L, ev)
                          : lv->kind == AD_LIVE_ROOT ? root_msg(L, ev)
                                                     : event_msg(L, ev);
        rc = ad_ws_send_msg(lv->ws, msg);
    } else {
        if (ad_sse_queued_bytes(lv->sse) + len + 64 + OVERFLOW_RESERVE > bound) {
            return AD_ETOOBIG;
        }
        char id[24];
        snprintf(id, sizeof(id), "%llu", (unsigned long long)ad_bus_event_seq(ev));
        rc = ad_sse_send(lv->sse, id, NULL, data, len);
    }
    if (rc == AD_ETOOBIG) {
        return rc;
    }
    if (final && lv->ws != NULL) {
        lv->done = true;
        ad_ws_close(lv->ws, 1000, "run ended");
    }
    return 0;
}

/* A run of a turn's events: a /ws reader in agentd's own envelope that is
 * not behind gets them as one buffer shared with the other readers of the
 * same run (compressed for one that compresses); any other, or one the run
 * would take past its bound, one by one as before (which finds where it
 * overflows). */
static int live_deliver_run(void *ud, ad_bus_event_t *const *evs, size_t n, size_t *taken)
{
    ad_live_chan_t *lv = ud;
    *taken = 0;
    if (lv->kind == AD_LIVE_WS && lv->ws != NULL && lv->L != NULL && !lv->done &&
        !lv->compat_seed && ad_ws_pressure(lv->ws) == 0) {
        ad_wsmsg_t *run = run_msg(lv->L, evs, n, ad_ws_deflate_bits(lv->ws));
        size_t len = 0;
        if (run != NULL) {
            (void)ad_wsmsg_data(run, &len);
        }
        if (run != NULL && ws_fits(lv, len)) {
            int rc = ad_ws_send_msg(lv->ws, run);
            if (rc == 0 || rc == AD_ECLOSED) {
                *taken = n; /* closing: what one by one would have dropped too */
                return 0;
            }
        }
    }
    for (; *taken < n; (*taken)++) {
        int rc = live_deliver(ud, evs[*taken]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void live_overflow(void *ud, uint64_t last_seq)
{
    ad_live_chan_t *lv = ud;
    if (lv->done) {
        return;
    }
    lv->done = true;
    const char *why = lv->cut_replay   ? "replay stalled"
                      : lv->cut_memory ? "server send memory bound"
                                       : "send queue bound";
    /* what it held says which reader it was when several are cut */
    ad_log(AD_LOG_WARN, "live", "slow consumer dropped last_seq=%llu reason=\"%s\" queued=%zu",
           (unsigned long long)last_seq, why, live_queued_bytes(lv));
    json_t *p = json_pack("{s:I, s:s}", "lastSeq", (json_int_t)last_seq, "reason", why);
    if (lv->cut_replay) {
        /* come back from lastSeq: the budget is free again by then */
        json_object_set_new(p, "retryAfterMs", json_integer(1000));
    }
    ad_live_notice_ex(lv, "overflow", p, true);
    if (lv->ws != NULL) {
        ad_ws_close(lv->ws, 1013,
                    lv->cut_replay   ? "overflow: replay stalled"
                    : lv->cut_memory ? "overflow: server send memory bound"
                                     : "overflow");
    } else {
        ad_sse_close(lv->sse);
    }
}

/* Its replay's step was not written out while other replays waited for
 * the budget it held (src/bus): told to come back, and closed. */
static void live_stalled(void *ud, uint64_t last_seq)
{
    ad_live_chan_t *lv = ud;
    lv->cut_replay = true;
    live_overflow(ud, last_seq);
}

static void live_truncated(void *ud, uint64_t oldest)
{
    ad_live_chan_t *lv = ud;
    ad_live_notice(lv, "replay_truncated", json_pack("{s:I}", "oldestSeq", (json_int_t)oldest));
}

/* History lacks from..to (a crash or a failed events write): the client
 * may have missed some of them and should reload what it shows. */
static void live_gap(void *ud, uint64_t from, uint64_t to)
{
    ad_live_chan_t *lv = ud;
    ad_live_notice(lv, "gap",
                   json_pack("{s:I, s:I}", "from", (json_int_t)from, "to", (json_int_t)to));
}

static size_t live_queued(void *ud)
{
    ad_live_chan_t *lv = ud;
    if ((lv->ws != NULL ? ad_ws_pressure(lv->ws) : ad_sse_pressure(lv->sse)) != 0) {
        /* the server's send memory is half used and this reader holds more
         * than its share: a replay waits, as for a full queue of its own */
        return lv->bound;
    }
    return live_queued_bytes(lv);
}

static const ad_bus_sub_ops_t live_ops = {live_deliver, live_overflow, live_truncated,
                                          live_queued,  live_gap,      live_deliver_run,
                                          live_stalled};

/* The channel's credential was revoked, signed out, rotated or expired
 * (src/auth watches it): closed at once. */
static void cred_ended(void *ud)
{
    ad_live_chan_t *ch = ud;
    if (!ch->done) {
        ad_live_end(ch, 4401, "unauthorized: the token or session has ended");
    }
}

/* A channel of r's caller: it sees only the events of the caller's org
 * (every org for the owner), live and in replay alike. */
static ad_live_chan_t *chan_new(ad_live_t *L, ad_live_kind_t kind, const ad_req_t *r)
{
    /* sees nothing (its org matches no row), as ad_api_who's stand-in */
    static const ad_principal_t nobody = {
        .name = "anonymous", .org_id = "-", .scope = AD_SCOPE_NONE};
    const ad_principal_t *who = ad_auth_principal(r);
    ad_live_chan_t *ch = ad_xcalloc(1, sizeof(*ch));
    ch->L = L;
    ch->bus = L->bus;
    ch->auth = L->auth;
    ch->bound = L->bound;
    ch->kind = kind;
    ch->who = who != NULL ? *who : nobody;
    ad_auth_credential(r, &ch->cred);
    if (L->auth != NULL) {
        ch->watch = ad_auth_watch(L->auth, &ch->cred, cred_ended, ch);
    }
    ch->sub = ad_bus_sub_new(L->bus, &live_ops, ch, L->bound);
    ad_bus_sub_batch(ch->sub); /* its connection is visited once a turn */
    ad_bus_sub_set_org(ch->sub, ad_principal_filter(&ch->who));
    link_channel(ch);
    return ch;
}

ad_live_chan_t *ad_live_ws_open(ad_live_t *L, ad_ws_t *ws, ad_req_t *upgrade, ad_live_kind_t kind)
{
    const char *reason = NULL;
    int code = ad_auth_ws_refusal(upgrade, &reason);
    if (code != 0) {
        ad_ws_close(ws, code, reason);
        return NULL;
    }
    ad_live_chan_t *ch = chan_new(L, kind, upgrade);
    ch->ws = ws;
    ad_ws_set_data(ws, ch);
    return ch;
}

static void on_sse_close(ad_sse_t *sse, void *ud)
{
    AD_UNUSED(sse);
    ad_live_chan_free(ud);
}

ad_live_chan_t *ad_live_sse_open(ad_live_t *L, ad_req_t *r)
{
    ad_live_chan_t *ch = chan_new(L, AD_LIVE_SSE, r);
    ch->sse = ad_sse_start(r, on_sse_close, ch);
    if (ch->sse == NULL) {
        ad_live_chan_free(ch);
        return NULL;
    }
    return ch;
}

void ad_live_chan_free(ad_live_chan_t *ch)
{
    ad_compat_acc_free(&ch->acc);
    ad_live_pending_drop(ch);
    ad_auth_unwatch(ch->watch);
    unlink_channel(ch);
    ad_bus_sub_free(ch->sub);
    free(ch->types);
    free(ch);
}

const ad_principal_t *ad_live_who(const ad_live_chan_t *ch)
{
    return &ch->who;
}

bool ad_live_authorized(ad_live_chan_t *ch)
{
    if (ch->auth == NULL || ad_auth_credential_live(ch->auth, &ch->cred)) {
        return true;
    }
    ad_live_end(ch, 4401, "unauthorized: the token or session has ended");
    return false;
}

void ad_live_set_run(ad_live_chan_t *ch, const char *run_id, const char *agent_id)
{
    snprintf(ch->id, sizeof(ch->id), "%s", run_id != NULL ? run_id : "");
    snprintf(ch->agent_id, sizeof(ch->agent_id), "%s", agent_id != NULL ? agent_id : "");
}

void ad_live_set_compat_seed(ad_live_chan_t *ch)
{
    ch->compat_seed = true;
}

int ad_live_subscribe(ad_live_chan_t *ch, const char *const *topics, size_t n, bool has_since,
                      uint64_t since)
{
    return ad_bus_subscribe(ch->sub, topics, n, has_since, since);
}

/* ---- the set of channels ------------------------------------------------------------- */

/* Channels whose token was revoked or expired, or whose session ended, are
 * closed (4401 for a WebSocket): a credential that no longer lets a
 * request in does not keep a stream of events either. */
static void recheck_credentials(void *ud)
{
    ad_live_t *L = ud;
    for (ad_live_chan_t *ch = L->channels; ch != NULL; ch = ch->next) {
        if (!ch->done && !ad_auth_credential_live(L->auth, &ch->cred)) {
            ad_live_end(ch, 4401, "unauthorized: the token or session has ended");
        }
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    ad_live_t *L = t->data;
    if (L->auth != NULL) {
        recheck_credentials(L); /* expiry has no event of its own */
    }
    for (ad_live_chan_t *ch = L->channels; ch != NULL; ch = ch->next) {
        if (ch->kind == AD_LIVE_MISSION && !ch->done) {
            char ts[AD_TIME_MAX];
            ad_time_format(ad_wall_ms(), ts);
            ad_live_notice(
                ch, "heartbeat",
                json_pack("{s:s, s:I}", "ts", ts, "seq", (json_int_t)ad_bus_seq(L->bus)));
        }
    }
}

/* The other planes' events from..to may never have come (the bus's
 * remote gap): every client of agentd's own protocol (/ws, a run's
 * socket, SSE) is told as for a gap in history, with why, and reloads
 * what it shows from the store; the seed's channels have no such word. */
static void remote_gap(void *ud, uint64_t from, uint64_t to, const char *why)
{
    ad_live_t *L = ud;
    size_t told = 0;
    for (ad_live_chan_t *ch = L->channels; ch != NULL; ch = ch->next) {
        if (!ch->done &&
            (ch->kind == AD_LIVE_WS || ch->kind == AD_LIVE_RUN || ch->kind == AD_LIVE_SSE)) {
            ad_live_notice(ch, "gap",
                           json_pack("{s:I, s:I, s:s}", "from", (json_int_t)from, "to",
                                     (json_int_t)to, "reason", why));
            told++;
        }
    }
    ad_log(AD_LOG_WARN, "live",
           "events from other planes may be missing from=%llu to=%llu "
           "why=%s clients=%zu",
           (unsigned long long)from, (unsigned long long)to, why, told);
}

ad_live_t *ad_live_new(uv_loop_t *loop, ad_bus_t *bus, ad_auth_t *auth, size_t send_bound,
                       uint64_t heartbeat_ms, const ad_live_parts_t *parts)
{
    ad_live_t *L = ad_xcalloc(1, sizeof(*L));
    L->bus = bus;
    L->auth = auth;
    L->bound = send_bound;
    L->parts = parts;
    if (auth != NULL) {
        ad_auth_on_change(auth, recheck_credentials, L);
    }
    ad_bus_on_remote_gap(bus, remote_gap, L);
    uv_timer_init(loop, &L->heartbeat);
    L->heartbeat.data = L;
    uv_timer_start(&L->heartbeat, on_heartbeat, heartbeat_ms, heartbeat_ms);
    uv_unref((uv_handle_t *)&L->heartbeat);
    return L;
}

static void live_closed(uv_handle_t *h)
{
    free(h->data); /* the ad_live_t that holds h */
}

void ad_live_close(ad_live_t *L)
{
    if (L == NULL) {
        return;
    }
    if (L->auth != NULL) {
        ad_auth_on_change(L->auth, NULL, NULL);
    }
    ad_bus_on_remote_gap(L->bus, NULL, NULL);
#ifdef AD_TEST_BUILD
    ad_live_test_close(L);
#endif
    /* Channels still open (none once the server has closed) leave the list
     * now; their own close then finds no list (unlink_channel). */
    for (ad_live_chan_t *ch = L->channels, *next; ch != NULL; ch = next) {
        next = ch->next;
        ch->prev = ch->next = NULL;
        ch->L = NULL;
    }
    frames_clear(&L->frames);
    frames_clear(&L->seed_frames);
    frames_clear(&L->root_frames);
    run_clear(&L->run);
    run_clear(&L->zrun);
    free(L->run.seqs);
    free(L->zrun.seqs);
    L->run.seqs = L->zrun.seqs = NULL;
    uv_close((uv_handle_t *)&L->heartbeat, live_closed);
}

size_t ad_live_max_queued(ad_live_t *L)
{
    size_t max = 0;
    for (ad_live_chan_t *ch = L != NULL ? L->channels : NULL; ch != NULL; ch = ch->next) {
        size_t q = ch->done ? 0 : live_queued(ch);
        if (q > max) {
            max = q;
        }
    }
    return max;
}

uint64_t ad_live_heartbeat_ms(void)
{
    uint64_t every = 45000;
#ifdef AD_TEST_BUILD
    /* Test builds: a shorter mission heartbeat so tests need not wait 45 s. */
    const char *env = getenv("AGENTD_TEST_MISSION_HEARTBEAT_MS");
    if (env != NULL && env[0] >= '1' && env[0] <= '9') {
        every = strtoull(env, NULL, 10);
    }
#endif
    return every;
}
